/* trie.c -- the compressed prefix trie (see trie.h for the design essay:
 * node layout, invariants, snapshot format).
 *
 * Implementation notes, in the order the code goes:
 *   - pools: key arena (bytes), id table (score + arena ref per id), node
 *     table, child-block pool; each grows by qrealloc and keeps exact-size
 *     free lists. Every mutating
 *     operation first RESERVES the worst case it can need in every pool; after
 *     that, allocation from the pools cannot fail, so an operation either fails
 *     before it touches anything (TRIE_ENOMEM/TRIE_EFULL) or completes.
 *   - edges are not stored: a node's edge is bytes [parent depth, depth) of its
 *     subtree's best key, which by construction lies below it.
 *   - after any change, the path from the changed node to the root is fixed
 *     bottom-up: the changed child is moved to its sorted place among its
 *     siblings and the parent's best is recomputed (exact maxima, also after
 *     deletes and decreases).
 *   - lookups descend PATRICIA-style (first bytes and depths only) and verify
 *     the key once at the end; children order by (score, first byte).
 *   - the short-prefix cache (top-10 of every 0..2-byte prefix) is updated
 *     after each change by cache_note(); load and the bulk builder refill it.
 */
#include "trie/trie.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

#define NONE UINT32_MAX
#define LEAF 0x80000000u
#define MAX_IDS 0x7fffffffu   /* ids and node indices must leave the LEAF bit free */
#define MAX_NODES 0x7fffffffu
#define MAX_FANOUT 256
#define KIDS_UNITS(n) ((uint32_t)(n) + ((uint32_t)(n) + 3) / 4)
#define MAX_PATH (TRIE_MAX_KEY + 2)
#define ARENA_MIN 4 /* a free arena chunk holds its 4-byte next link */
#define ARENA_CLASSES (2 * TRIE_MAX_KEY + 1)
#define NODE_FREE_MARK 0xffffu
#define CACHE_SLOTS (1u + 256u + 65536u) /* prefixes of 0, 1 and 2 bytes */
_Static_assert(TRIE_CACHE_DEPTH == 2, "cache_slot() indexes prefixes of 0..2 bytes");
_Static_assert(TRIE_CACHE_K >= 1 && TRIE_CACHE_K <= TRIE_MAX_K, "cache list size");

typedef struct tnode {
    uint32_t best;  /* id of the best key in the subtree (NONE: empty root) */
    uint32_t kids;  /* child block offset in kids[] (units of uint32) */
    uint32_t term;  /* id of the key ending exactly here, or NONE */
    uint16_t depth; /* bytes from the root to the end of this node's edge */
    uint16_t nkids; /* children (0..256); NODE_FREE_MARK on the free list */
} tnode;

/* One record per key id: the score shares the key's cache line with its
 * arena reference, so a frontier push (score) and a hit (both) cost one miss. */
typedef struct kref {
    double score;
    uint32_t off;  /* arena offset of [key][display]; next free id when free */
    uint16_t klen; /* 0: id is free */
    uint16_t dlen; /* 0: display is the key itself */
} kref;
_Static_assert(sizeof(kref) == 16, "kref packs into 16 bytes");

/* Top-TRIE_CACHE_K list of one short prefix, best first. n < TRIE_CACHE_K
 * means the list holds EVERY key with that prefix. */
typedef struct centry {
    uint32_t n;
    uint32_t id[TRIE_CACHE_K];
} centry;

struct trie {
    centry *cache; /* CACHE_SLOTS entries, indexed by cache_slot() */
    uint32_t tag;  /* opaque, saved in the snapshot header */
    tnode *nodes;
    uint32_t nnodes, ncap, nfree, nlive; /* nnodes: slots handed out (live + free) */
    uint32_t *kids;
    uint64_t kused, kcap, klive; /* units */
    uint32_t kfree[MAX_FANOUT + 1];
    char *arena;
    uint64_t aused, acap, alive; /* bytes */
    uint32_t afree[ARENA_CLASSES];
    kref *refs; /* by key id: score and arena reference */
    uint32_t nids, idcap, idfree;
    uint64_t count;
};

/* ------------------------------------------------------------------ helpers */

enum { CN_UP, CN_DOWN, CN_GONE }; /* what happened to a key, for cache_note */
static void cache_note(trie *t, const char *key, size_t klen, uint32_t id, int how);

static inline const char *kstr(const trie *t, uint32_t id) { return t->arena + t->refs[id].off; }
static inline uint32_t ref_best(const trie *t, uint32_t r) {
    return (r & LEAF) ? (r & ~LEAF) : t->nodes[r].best;
}
static inline uint32_t *kid_refs(const trie *t, const tnode *n) { return t->kids + n->kids; }
static inline uint8_t *kid_bytes(const trie *t, const tnode *n) {
    return (uint8_t *)(t->kids + n->kids + n->nkids);
}

static inline int kid_find(const trie *t, const tnode *n, uint8_t c) {
    if (n->nkids == 0) return -1;
    const uint8_t *b = kid_bytes(t, n);
    const uint8_t *p = memchr(b, c, n->nkids);
    return p ? (int)(p - b) : -1;
}

static int keycmp_ids(const trie *t, uint32_t a, uint32_t b) {
    kref ra = t->refs[a], rb = t->refs[b];
    size_t m = ra.klen < rb.klen ? ra.klen : rb.klen;
    int c = memcmp(t->arena + ra.off, t->arena + rb.off, m);
    if (c) return c;
    return (ra.klen > rb.klen) - (ra.klen < rb.klen);
}

/* 1 when key a ranks before key b: higher score, then smaller key. */
static inline int better(const trie *t, uint32_t a, uint32_t b) {
    double sa = t->refs[a].score, sb = t->refs[b].score;
    if (sa != sb) return sa > sb;
    return keycmp_ids(t, a, b) < 0;
}

/* 1 when child (best key ia, first byte ba) ranks before sibling (ib, bb).
 * Siblings share their path up to the parent's depth and differ at the first
 * byte, so on equal scores the key order IS the first-byte order: ordering
 * children never reads key text. */
static inline int kid_before(const trie *t, uint32_t ia, uint8_t ba, uint32_t ib, uint8_t bb) {
    double sa = t->refs[ia].score, sb = t->refs[ib].score;
    if (sa != sb) return sa > sb;
    return ba < bb;
}

static size_t lcp(const char *a, const char *b, size_t n) {
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y) return i + (size_t)(__builtin_ctzll(x ^ y) >> 3); /* little-endian */
        i += 8;
    }
    while (i < n && a[i] == b[i]) i++;
    return i;
}

const char *trie_strerror(int err) {
    switch (err) {
    case TRIE_OK: return "ok";
    case TRIE_ENOMEM: return "out of memory";
    case TRIE_ETOOLONG: return "key or display form too long (over TRIE_MAX_KEY bytes)";
    case TRIE_EINVAL: return "invalid argument (empty key, non-finite score or k out of range)";
    case TRIE_ENOTFOUND: return "no such key";
    case TRIE_EIO: return "snapshot I/O error";
    case TRIE_EFORMAT: return "not a valid qac snapshot";
    case TRIE_EFULL: return "trie full (32-bit limits reached)";
    default: return "unknown trie error";
    }
}

/* -------------------------------------------------------------------- pools */

static uint64_t grow_cap(uint64_t cap, uint64_t need, uint64_t min, uint64_t max) {
    uint64_t nc = cap + cap / 2 + min;
    if (nc < need) nc = need;
    if (nc > max) nc = max;
    return nc;
}

static int ids_reserve(trie *t) {
    if (t->idfree != NONE || t->nids < t->idcap) return TRIE_OK;
    if (t->nids >= MAX_IDS) return TRIE_EFULL;
    uint64_t nc = grow_cap(t->idcap, t->nids + 1ull, 64, MAX_IDS);
    kref *r = qrealloc(t->refs, nc * sizeof *r);
    if (!r) return TRIE_ENOMEM;
    t->refs = r;
    t->idcap = (uint32_t)nc;
    return TRIE_OK;
}

static uint32_t id_alloc(trie *t) {
    uint32_t id;
    if (t->idfree != NONE) {
        id = t->idfree;
        t->idfree = t->refs[id].off;
    } else {
        id = t->nids++;
    }
    return id;
}

static void id_free(trie *t, uint32_t id) {
    t->refs[id].klen = 0;
    t->refs[id].dlen = 0;
    t->refs[id].off = t->idfree;
    t->refs[id].score = 0;
    t->idfree = id;
}

static inline uint32_t chunk_size(size_t n) { return n < ARENA_MIN ? ARENA_MIN : (uint32_t)n; }

static int arena_reserve(trie *t, size_t n) {
    uint32_t sz = chunk_size(n);
    if (t->afree[sz] != NONE || t->aused + sz <= t->acap) return TRIE_OK;
    if (t->aused + sz > UINT32_MAX) return TRIE_EFULL;
    uint64_t nc = grow_cap(t->acap, t->aused + sz, 4096, UINT32_MAX);
    char *a = qrealloc(t->arena, nc);
    if (!a) return TRIE_ENOMEM;
    t->arena = a;
    t->acap = nc;
    return TRIE_OK;
}

static uint32_t arena_alloc(trie *t, size_t n) {
    uint32_t sz = chunk_size(n), off;
    if (t->afree[sz] != NONE) {
        off = t->afree[sz];
        memcpy(&t->afree[sz], t->arena + off, 4);
    } else {
        off = (uint32_t)t->aused;
        t->aused += sz;
    }
    t->alive += sz;
    return off;
}

static void arena_release(trie *t, uint32_t off, size_t n) {
    uint32_t sz = chunk_size(n);
    memcpy(t->arena + off, &t->afree[sz], 4);
    t->afree[sz] = off;
    t->alive -= sz;
}

static int nodes_reserve(trie *t, uint32_t n) {
    uint32_t avail = t->ncap - t->nnodes;
    for (uint32_t f = t->nfree; f != NONE && avail < n; f = t->nodes[f].kids) avail++;
    if (avail >= n) return TRIE_OK;
    uint64_t need = (uint64_t)t->nnodes + n;
    if (need > MAX_NODES) return TRIE_EFULL;
    uint64_t nc = grow_cap(t->ncap, need, 64, MAX_NODES);
    tnode *p = qrealloc(t->nodes, nc * sizeof *p);
    if (!p) return TRIE_ENOMEM;
    t->nodes = p;
    t->ncap = (uint32_t)nc;
    return TRIE_OK;
}

static uint32_t node_alloc(trie *t) {
    uint32_t n;
    if (t->nfree != NONE) {
        n = t->nfree;
        t->nfree = t->nodes[n].kids;
    } else {
        n = t->nnodes++;
    }
    t->nlive++;
    tnode *x = &t->nodes[n];
    x->best = x->term = NONE;
    x->kids = 0;
    x->depth = 0;
    x->nkids = 0;
    return n;
}

static void node_release(trie *t, uint32_t n) {
    t->nodes[n].kids = t->nfree;
    t->nodes[n].nkids = NODE_FREE_MARK;
    t->nodes[n].best = t->nodes[n].term = NONE;
    t->nfree = n;
    t->nlive--;
}

static int kids_reserve(trie *t, uint32_t units) {
    if (t->kused + units <= t->kcap) return TRIE_OK;
    if (t->kused + units > UINT32_MAX) return TRIE_EFULL;
    uint64_t nc = grow_cap(t->kcap, t->kused + units, 1024, UINT32_MAX);
    uint32_t *p = qrealloc(t->kids, nc * sizeof *p);
    if (!p) return TRIE_ENOMEM;
    t->kids = p;
    t->kcap = nc;
    return TRIE_OK;
}

static uint32_t kids_alloc(trie *t, uint32_t n) {
    uint32_t off;
    if (t->kfree[n] != NONE) {
        off = t->kfree[n];
        t->kfree[n] = t->kids[off];
    } else {
        off = (uint32_t)t->kused;
        t->kused += KIDS_UNITS(n);
    }
    t->klive += KIDS_UNITS(n);
    return off;
}

static void kids_release(trie *t, uint32_t off, uint32_t n) {
    if (n == 0) return;
    t->kids[off] = t->kfree[n];
    t->kfree[n] = off;
    t->klive -= KIDS_UNITS(n);
}

/* ------------------------------------------------------------ construction */

static trie *trie_alloc_empty(void) {
    trie *t = qcalloc(1, sizeof *t);
    if (!t) return NULL;
    t->cache = qcalloc(CACHE_SLOTS, sizeof *t->cache); /* all empty: right for no keys */
    if (!t->cache) {
        qfree(t);
        return NULL;
    }
    t->nfree = t->idfree = NONE;
    for (size_t i = 0; i <= MAX_FANOUT; i++) t->kfree[i] = NONE;
    for (size_t i = 0; i < ARENA_CLASSES; i++) t->afree[i] = NONE;
    return t;
}

trie *trie_new(void) {
    trie *t = trie_alloc_empty();
    if (!t) return NULL;
    if (nodes_reserve(t, 1) != TRIE_OK) {
        trie_free(t);
        return NULL;
    }
    node_alloc(t); /* the root, node 0 */
    return t;
}

void trie_free(trie *t) {
    if (!t) return;
    qfree(t->nodes);
    qfree(t->kids);
    qfree(t->arena);
    qfree(t->refs);
    qfree(t->cache);
    qfree(t);
}

uint32_t trie_tag(const trie *t) { return t->tag; }
void trie_set_tag(trie *t, uint32_t tag) { t->tag = tag; }

uint64_t trie_count(const trie *t) { return t->count; }
uint32_t trie_id_bound(const trie *t) { return t->nids; }

void trie_memory(const trie *t, trie_mem *m) {
    m->keys = t->count;
    m->nodes = t->nlive;
    m->bytes_used = (uint64_t)t->nlive * sizeof(tnode) + t->klive * 4 + t->alive +
                    t->count * sizeof(kref);
    m->bytes_alloc = sizeof *t + (uint64_t)CACHE_SLOTS * sizeof(centry) + (uint64_t)t->ncap * sizeof(tnode) + t->kcap * 4 + t->acap +
                     (uint64_t)t->idcap * sizeof(kref);
}

/* --------------------------------------------------------- path fixing */

typedef struct pstep {
    uint32_t node;
    uint32_t slot; /* position of the next path element in node's children, or NONE */
} pstep;

/* Child `slot` of node n got a different best (or score): move it to its
 * sorted place. */
static void reposition(trie *t, uint32_t n, uint32_t slot) {
    tnode *nd = &t->nodes[n];
    uint32_t *r = kid_refs(t, nd);
    uint8_t *b = kid_bytes(t, nd);
    uint32_t x = r[slot], xid = ref_best(t, x), i = slot;
    uint8_t xb = b[slot];
    while (i > 0 && kid_before(t, xid, xb, ref_best(t, r[i - 1]), b[i - 1])) {
        r[i] = r[i - 1];
        b[i] = b[i - 1];
        i--;
    }
    if (i == slot)
        while (i + 1 < nd->nkids && kid_before(t, ref_best(t, r[i + 1]), b[i + 1], xid, xb)) {
            r[i] = r[i + 1];
            b[i] = b[i + 1];
            i++;
        }
    r[i] = x;
    b[i] = xb;
}

static void recompute_best(trie *t, uint32_t n) {
    tnode *nd = &t->nodes[n];
    uint32_t b = nd->term;
    if (nd->nkids) {
        uint32_t c = ref_best(t, kid_refs(t, nd)[0]);
        /* term is a proper prefix of every key below: it wins ties */
        if (b == NONE || t->refs[c].score > t->refs[b].score) b = c;
    }
    nd->best = b;
}

/* Fix path[top..0]: reposition each recorded slot, recompute each best. */
static void fix_path(trie *t, const pstep *path, int top) {
    for (int j = top; j >= 0; j--) {
        if (path[j].slot != NONE) reposition(t, path[j].node, path[j].slot);
        recompute_best(t, path[j].node);
    }
}

/* Walk to key. Returns its id or NONE. On success path[0..*np) holds the
 * internal nodes from the root; when *is_leaf, path[*np-1].slot is the leaf's
 * slot, else the key is path[*np-1].node's term and that slot is NONE. */
static uint32_t find(const trie *t, const char *key, size_t klen, pstep *path, int *np,
                     int *is_leaf) {
    uint32_t n = 0;
    size_t pos = 0;
    int k = 0;
    for (;;) {
        const tnode *nd = &t->nodes[n];
        path[k].node = n;
        path[k].slot = NONE;
        k++;
        if (pos == klen) { /* verify the skipped bytes once, against the key here */
            if (nd->term == NONE || memcmp(kstr(t, nd->term), key, klen)) return NONE;
            *np = k;
            *is_leaf = 0;
            return nd->term;
        }
        int s = kid_find(t, nd, (uint8_t)key[pos]);
        if (s < 0) return NONE;
        path[k - 1].slot = (uint32_t)s;
        uint32_t r = kid_refs(t, nd)[s];
        if (r & LEAF) {
            uint32_t id = r & ~LEAF;
            if (t->refs[id].klen != klen || memcmp(kstr(t, id), key, klen)) return NONE;
            *np = k;
            *is_leaf = 1;
            return id;
        }
        const tnode *c = &t->nodes[r];
        if (c->depth > klen) return NONE; /* the key would end inside an edge */
        pos = c->depth;
        n = r;
    }
}

static int check_args(const char *key, size_t klen, const char *disp, size_t dlen) {
    if (!key || klen == 0) return TRIE_EINVAL;
    if (klen > TRIE_MAX_KEY) return TRIE_ETOOLONG;
    if (disp) {
        if (dlen == 0) return TRIE_EINVAL;
        if (dlen > TRIE_MAX_KEY) return TRIE_ETOOLONG;
    }
    return TRIE_OK;
}

/* Stored display length for a display given with key (0: same as key). */
static size_t canon_dlen(const char *key, size_t klen, const char *disp, size_t dlen) {
    if (!disp || (dlen == klen && memcmp(disp, key, klen) == 0)) return 0;
    return dlen;
}

/* --------------------------------------------------------------- insertion */

/* Block for node n with its children plus `ref` at its sorted place. */
static void add_kid(trie *t, uint32_t n, uint32_t ref) {
    tnode *nd = &t->nodes[n];
    uint32_t on = nd->nkids, ooff = nd->kids;
    uint32_t noff = kids_alloc(t, on + 1);
    uint32_t bid = ref_best(t, ref);
    uint8_t byte = (uint8_t)kstr(t, bid)[nd->depth];
    uint32_t *or_ = t->kids + ooff, *nr = t->kids + noff;
    uint8_t *ob = (uint8_t *)(or_ + on), *nb = (uint8_t *)(nr + on + 1);
    uint32_t i = 0;
    while (i < on && kid_before(t, ref_best(t, or_[i]), ob[i], bid, byte)) i++;
    memcpy(nr, or_, i * 4);
    memcpy(nb, ob, i);
    nr[i] = ref;
    nb[i] = byte;
    memcpy(nr + i + 1, or_ + i, (on - i) * 4);
    memcpy(nb + i + 1, ob + i, on - i);
    kids_release(t, ooff, on);
    nd->kids = noff;
    nd->nkids = (uint16_t)(on + 1);
}

/* New node at depth d with term `term` and children a (and b when not NONE). */
static uint32_t make_node(trie *t, uint16_t d, uint32_t term, uint32_t a, uint32_t b) {
    uint32_t m = node_alloc(t);
    uint32_t nk = b == NONE ? 1 : 2;
    uint32_t off = kids_alloc(t, nk);
    uint8_t ba = (uint8_t)kstr(t, ref_best(t, a))[d], bb = 0;
    if (nk == 2) {
        bb = (uint8_t)kstr(t, ref_best(t, b))[d];
        if (kid_before(t, ref_best(t, b), bb, ref_best(t, a), ba)) {
            uint32_t x = a;
            a = b;
            b = x;
            uint8_t y = ba;
            ba = bb;
            bb = y;
        }
    }
    uint32_t *r = t->kids + off;
    uint8_t *by = (uint8_t *)(r + nk);
    r[0] = a;
    by[0] = ba;
    if (nk == 2) {
        r[1] = b;
        by[1] = bb;
    }
    tnode *x = &t->nodes[m];
    x->depth = d;
    x->term = term;
    x->kids = off;
    x->nkids = (uint16_t)nk;
    recompute_best(t, m);
    return m;
}

static int insert_new(trie *t, const char *key, size_t klen, const char *disp, size_t dlen,
                      double score, uint32_t *id_out) {
    int rc;
    if ((rc = ids_reserve(t)) || (rc = arena_reserve(t, klen + dlen)) ||
        (rc = nodes_reserve(t, 1)) || (rc = kids_reserve(t, KIDS_UNITS(MAX_FANOUT))))
        return rc;
    uint32_t id = id_alloc(t);
    uint32_t off = arena_alloc(t, klen + dlen);
    memcpy(t->arena + off, key, klen);
    if (dlen) memcpy(t->arena + off + klen, disp, dlen);
    t->refs[id] = (kref){.off = off, .klen = (uint16_t)klen, .dlen = (uint16_t)dlen};
    t->refs[id].score = score;
    t->count++;

    pstep path[MAX_PATH];
    uint32_t n = 0;
    size_t pos = 0;
    int k = 0;
    for (;;) {
        tnode *nd = &t->nodes[n];
        path[k].node = n;
        path[k].slot = NONE;
        k++;
        int s = kid_find(t, nd, (uint8_t)key[pos]); /* pos < klen here */
        if (s < 0) {
            add_kid(t, n, LEAF | id);
            break;
        }
        path[k - 1].slot = (uint32_t)s;
        uint32_t *slotp = &kid_refs(t, nd)[s];
        uint32_t r = *slotp;
        if (r & LEAF) {
            uint32_t o = r & ~LEAF;
            size_t olen = t->refs[o].klen, m = klen < olen ? klen : olen;
            size_t c = pos + 1 + lcp(key + pos + 1, kstr(t, o) + pos + 1, m - pos - 1);
            uint32_t x;
            if (c == klen) x = make_node(t, (uint16_t)c, id, LEAF | o, NONE);
            else if (c == olen) x = make_node(t, (uint16_t)c, o, LEAF | id, NONE);
            else x = make_node(t, (uint16_t)c, NONE, LEAF | id, LEAF | o);
            *slotp = x;
            break;
        }
        tnode *cn = &t->nodes[r];
        size_t d = cn->depth, m = d < klen ? d : klen;
        size_t c = pos + 1 + lcp(key + pos + 1, kstr(t, cn->best) + pos + 1, m - pos - 1);
        if (c < d) { /* split the edge at c */
            uint32_t x = c == klen ? make_node(t, (uint16_t)c, id, r, NONE)
                                   : make_node(t, (uint16_t)c, NONE, r, LEAF | id);
            *slotp = x;
            break;
        }
        if (d == klen) { /* the key ends exactly at node r */
            cn->term = id;
            path[k].node = r;
            path[k].slot = NONE;
            k++;
            break;
        }
        n = r;
        pos = d;
    }
    fix_path(t, path, k - 1);
    if (id_out) *id_out = id;
    return TRIE_OK;
}

/* Replace the display of an existing key; all-or-nothing. */
static int set_display(trie *t, uint32_t id, const char *disp, size_t dlen) {
    kref *r = &t->refs[id];
    if (r->dlen == dlen && (dlen == 0 || memcmp(kstr(t, id) + r->klen, disp, dlen) == 0))
        return TRIE_OK;
    int rc = arena_reserve(t, r->klen + dlen);
    if (rc) return rc;
    r = &t->refs[id];
    uint32_t off = arena_alloc(t, r->klen + dlen);
    memcpy(t->arena + off, t->arena + r->off, r->klen);
    if (dlen) memcpy(t->arena + off + r->klen, disp, dlen);
    arena_release(t, r->off, (size_t)r->klen + r->dlen);
    r->off = off;
    r->dlen = (uint16_t)dlen;
    return TRIE_OK;
}

static int upsert(trie *t, const char *key, size_t klen, const char *disp, size_t dlen,
                  double v, int add, uint32_t *id_out, double *score_out) {
    if (!t) return TRIE_EINVAL;
    int rc = check_args(key, klen, disp, dlen);
    if (rc) return rc;
    if (!isfinite(v)) return TRIE_EINVAL;
    size_t cd = canon_dlen(key, klen, disp, dlen);
    pstep path[MAX_PATH];
    int np, leaf;
    uint32_t id = find(t, key, klen, path, &np, &leaf);
    if (id == NONE) {
        rc = insert_new(t, key, klen, disp, cd, v, &id);
        if (rc) return rc;
        cache_note(t, key, klen, id, CN_UP);
        if (id_out) *id_out = id;
        if (score_out) *score_out = v;
        return TRIE_OK;
    }
    double ns = add ? t->refs[id].score + v : v;
    if (!isfinite(ns)) return TRIE_EINVAL;
    if (disp && (rc = set_display(t, id, disp, cd))) return rc;
    if (ns != t->refs[id].score || signbit(ns) != signbit(t->refs[id].score)) {
        int how = ns > t->refs[id].score ? CN_UP : ns < t->refs[id].score ? CN_DOWN : -1;
        t->refs[id].score = ns;
        fix_path(t, path, np - 1);
        if (how >= 0) cache_note(t, key, klen, id, how);
    }
    if (id_out) *id_out = id;
    if (score_out) *score_out = ns;
    return TRIE_OK;
}

int trie_set(trie *t, const char *key, size_t keylen, const char *display, size_t displen,
             double score, uint32_t *id_out) {
    return upsert(t, key, keylen, display, displen, score, 0, id_out, NULL);
}

int trie_incr(trie *t, const char *key, size_t keylen, const char *display, size_t displen,
              double delta, double *score_out) {
    return upsert(t, key, keylen, display, displen, delta, 1, NULL, score_out);
}

/* ----------------------------------------------------------------- delete */

/* Replace internal node p (child slot path[j].slot of path[j].node) by ref. */
static void replace_in_parent(trie *t, const pstep *path, int j, uint32_t ref) {
    tnode *g = &t->nodes[path[j].node];
    kid_refs(t, g)[path[j].slot] = ref;
}

int trie_del(trie *t, const char *key, size_t keylen) {
    if (!t || !key || keylen == 0) return TRIE_EINVAL;
    if (keylen > TRIE_MAX_KEY) return TRIE_ETOOLONG;
    pstep path[MAX_PATH];
    int np, leaf;
    uint32_t id = find(t, key, keylen, path, &np, &leaf);
    if (id == NONE) return TRIE_ENOTFOUND;
    uint32_t pn = path[np - 1].node;
    tnode *p = &t->nodes[pn];
    int top;
    if (leaf) {
        uint32_t s = path[np - 1].slot, n = p->nkids;
        if (pn == 0 || n - 1 >= 2 || (n - 1 == 1 && p->term != NONE)) {
            /* p keeps a (smaller) child block; the only allocating case */
            int rc = n - 1 ? kids_reserve(t, KIDS_UNITS(n - 1)) : TRIE_OK;
            if (rc) return rc;
            p = &t->nodes[pn];
            uint32_t ooff = p->kids, noff = 0;
            if (n - 1) {
                noff = kids_alloc(t, n - 1);
                uint32_t *or_ = t->kids + ooff, *nr = t->kids + noff;
                uint8_t *ob = (uint8_t *)(or_ + n), *nb = (uint8_t *)(nr + n - 1);
                memcpy(nr, or_, s * 4);
                memcpy(nr + s, or_ + s + 1, (n - 1 - s) * 4);
                memcpy(nb, ob, s);
                memcpy(nb + s, ob + s + 1, n - 1 - s);
            }
            kids_release(t, ooff, n);
            p->kids = noff;
            p->nkids = (uint16_t)(n - 1);
            path[np - 1].slot = NONE;
            top = np - 1;
        } else {
            /* p (not the root) collapses: into its other child, or into a leaf */
            uint32_t ref = n == 2 ? kid_refs(t, p)[1 - s] : (LEAF | p->term);
            kids_release(t, p->kids, n);
            node_release(t, pn);
            replace_in_parent(t, path, np - 2, ref);
            top = np - 2;
        }
    } else {
        p->term = NONE;
        if (p->nkids >= 2) {
            top = np - 1;
        } else { /* one child left: merge p into it (edges are implicit) */
            uint32_t ref = kid_refs(t, p)[0];
            kids_release(t, p->kids, 1);
            node_release(t, pn);
            replace_in_parent(t, path, np - 2, ref);
            top = np - 2;
        }
    }
    kref r = t->refs[id];
    arena_release(t, r.off, (size_t)r.klen + r.dlen);
    id_free(t, id);
    t->count--;
    fix_path(t, path, top);
    cache_note(t, key, keylen, id, CN_GONE);
    return TRIE_OK;
}

/* ----------------------------------------------------------------- lookups */

static void fill_hit(const trie *t, uint32_t id, trie_hit *h) {
    kref r = t->refs[id];
    h->key = t->arena + r.off;
    h->keylen = r.klen;
    if (r.dlen) {
        h->display = h->key + r.klen;
        h->displen = r.dlen;
    } else {
        h->display = h->key;
        h->displen = r.klen;
    }
    h->id = id;
    h->score = t->refs[id].score;
}

int trie_get(const trie *t, const char *key, size_t keylen, trie_hit *hit) {
    if (!t || !key || keylen == 0 || keylen > TRIE_MAX_KEY) return 0;
    pstep path[MAX_PATH];
    int np, leaf;
    uint32_t id = find(t, key, keylen, path, &np, &leaf);
    if (id == NONE) return 0;
    if (hit) fill_hit(t, id, hit);
    return 1;
}

int trie_get_id(const trie *t, uint32_t id, trie_hit *hit) {
    if (!t || id >= t->nids || t->refs[id].klen == 0) return 0;
    if (hit) fill_hit(t, id, hit);
    return 1;
}

/* ------------------------------------------------------------------- top-k */

/* A frontier entry: one key (par == NONE), or child `slot` of node `par`
 * standing for itself and all its later siblings. `id` is the best key of
 * what the entry stands for, `s` its score. */
typedef struct fent {
    double s;
    uint32_t id, par, slot;
} fent;

typedef struct frontier {
    const trie *t;
    fent e[TRIE_MAX_K + 1]; /* sorted worst .. best; e[n-1] is popped next */
    unsigned n;
} frontier;

static inline int fent_before(const trie *t, const fent *a, const fent *b) {
    if (a->s != b->s) return a->s > b->s;
    return keycmp_ids(t, a->id, b->id) < 0;
}

/* Push keeping at most cap entries: every pop yields at least one key, so
 * entries ranked beyond the keys still wanted can never be reached. Every
 * push is followed by at least one emitted key (the descent that pushed it
 * ends in one), so callers pass cap = k - emitted - 1. */
static void fr_push(frontier *f, uint32_t id, uint32_t par, uint32_t slot, unsigned cap) {
    const trie *t = f->t;
    fent x = {t->refs[id].score, id, par, slot};
    if (cap == 0) return;
    if (f->n >= cap) {
        if (!fent_before(t, &x, &f->e[0])) return;
        memmove(&f->e[0], &f->e[1], (f->n - 1) * sizeof(fent));
        f->n--;
    }
    unsigned lo = 0, hi = f->n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (fent_before(t, &x, &f->e[mid])) lo = mid + 1;
        else hi = mid;
    }
    memmove(&f->e[lo + 1], &f->e[lo], (f->n - lo) * sizeof(fent));
    f->e[lo] = x;
    f->n++;
}

/* The uncached best-first walk (arguments already checked). */
static int topk_walk(const trie *t, const char *prefix, size_t plen, unsigned k, trie_hit *out) {
    /* locate the subtree of the prefix (it may end inside an edge) */
    uint32_t n = 0;
    size_t pos = 0;
    while (pos < plen) {
        const tnode *nd = &t->nodes[n];
        int s = kid_find(t, nd, (uint8_t)prefix[pos]);
        if (s < 0) return 0;
        uint32_t r = kid_refs(t, nd)[s];
        if (r & LEAF) {
            uint32_t id = r & ~LEAF;
            if (t->refs[id].klen < plen || memcmp(kstr(t, id), prefix, plen)) return 0;
            fill_hit(t, id, &out[0]);
            return 1;
        }
        __builtin_prefetch(&t->kids[t->nodes[r].kids]);
        pos = t->nodes[r].depth;
        n = r;
    }
    if (t->nodes[n].best == NONE) return 0; /* empty trie */
    /* PATRICIA: only first bytes were followed; the best key below n spells
     * n's whole path, so one comparison verifies every skipped byte */
    if (plen && memcmp(kstr(t, t->nodes[n].best), prefix, plen)) return 0;

    frontier f;
    f.t = t;
    f.n = 0;
    unsigned got = 0;
    uint32_t descend = n;
    for (;;) {
        /* descend from node `descend` along its best path, leaving the
         * alternatives on the frontier, and emit its best key */
        while (descend != NONE) {
            const tnode *nd = &t->nodes[descend];
            uint32_t b = nd->best;
            if (nd->term == b) {
                if (nd->nkids) fr_push(&f, ref_best(t, kid_refs(t, nd)[0]), descend, 0, k - got - 1);
                fill_hit(t, b, &out[got++]);
                break;
            }
            uint32_t r = kid_refs(t, nd)[0];
            /* start the next level's miss now: the pushes below wait on
             * their own misses and branch on them */
            if (r & LEAF) __builtin_prefetch(&t->refs[r & ~LEAF]);
            else __builtin_prefetch(&t->nodes[r]);
            if (nd->term != NONE) fr_push(&f, nd->term, NONE, 0, k - got - 1);
            if (nd->nkids > 1) fr_push(&f, ref_best(t, kid_refs(t, nd)[1]), descend, 1, k - got - 1);
            if (r & LEAF) {
                fill_hit(t, r & ~LEAF, &out[got++]);
                break;
            }
            descend = r;
        }
        descend = NONE;
        if (got >= k || f.n == 0) break;
        fent e = f.e[--f.n];
        if (e.par == NONE) {
            fill_hit(t, e.id, &out[got++]);
            continue;
        }
        const tnode *pn = &t->nodes[e.par];
        const uint32_t *pr = kid_refs(t, pn);
        if (e.slot + 1 < pn->nkids)
            fr_push(&f, ref_best(t, pr[e.slot + 1]), e.par, e.slot + 1, k - got - 1);
        uint32_t r = pr[e.slot];
        if (r & LEAF) fill_hit(t, r & ~LEAF, &out[got++]);
        else descend = r;
    }
    return (int)got;
}

/* ------------------------------------------------------- short-prefix cache */

/* The heavy queries are the short prefixes: one- and two-byte prefixes match
 * most of the trie, and their walks touch the most scattered lines. Every
 * prefix of 0..2 bytes has a slot with its exact top-TRIE_CACHE_K ids, kept
 * exact on every change: a key that rises (or is new) is merged into the
 * lists of its (at most 3) prefixes in place; a listed key that falls or goes
 * from a full list makes that list be recomputed by a walk (the next key
 * down is unknown), else it is moved or dropped in place. Readers never
 * write, so concurrent readers stay safe. */
static inline uint32_t cache_slot(const char *p, size_t plen) {
    if (plen == 0) return 0;
    if (plen == 1) return 1u + (uint8_t)p[0];
    return 257u + (uint32_t)(uint8_t)p[0] * 256u + (uint8_t)p[1];
}

static void cache_fill(trie *t, const char *p, size_t plen) {
    trie_hit h[TRIE_CACHE_K];
    centry *e = &t->cache[cache_slot(p, plen)];
    int n = topk_walk(t, p, plen, TRIE_CACHE_K, h);
    e->n = (uint32_t)n;
    for (int i = 0; i < n; i++) e->id[i] = h[i].id;
}

/* Recomputes every slot (after a bulk build or load). */
static void cache_rebuild(trie *t) {
    char p[2] = {0, 0};
    memset(t->cache, 0, CACHE_SLOTS * sizeof *t->cache);
    cache_fill(t, p, 0);
    for (unsigned a = 0; a < 256; a++) {
        p[0] = (char)a;
        cache_fill(t, p, 1);
        if (t->cache[cache_slot(p, 1)].n == 0) continue; /* 2-byte slots stay empty */
        for (unsigned b = 0; b < 256; b++) {
            p[1] = (char)b;
            cache_fill(t, p, 2);
        }
    }
}

static void cache_note(trie *t, const char *key, size_t klen, uint32_t id, int how) {
    for (size_t pl = 0; pl <= TRIE_CACHE_DEPTH && pl <= klen; pl++) {
        centry *e = &t->cache[cache_slot(key, pl)];
        uint32_t at = NONE;
        for (uint32_t i = 0; i < e->n; i++)
            if (e->id[i] == id) {
                at = i;
                break;
            }
        if (how != CN_UP) {
            if (at == NONE) continue; /* it was not listed and only fell */
            if (e->n == TRIE_CACHE_K) { /* the next key down is unknown */
                cache_fill(t, key, pl);
                continue;
            }
        }
        if (at != NONE) { /* take it out, then put it back where it belongs */
            memmove(&e->id[at], &e->id[at + 1], (e->n - at - 1) * sizeof e->id[0]);
            e->n--;
        }
        if (how == CN_GONE) continue;
        uint32_t i = 0;
        while (i < e->n && better(t, e->id[i], id)) i++;
        if (i == TRIE_CACHE_K) continue; /* ranks below a full list */
        uint32_t keep = e->n < TRIE_CACHE_K ? e->n : TRIE_CACHE_K - 1;
        memmove(&e->id[i + 1], &e->id[i], (keep - i) * sizeof e->id[0]);
        e->id[i] = id;
        e->n = keep + 1;
    }
}

int trie_topk(const trie *t, const char *prefix, size_t plen, unsigned k, trie_hit *out) {
    if (!t || k == 0 || k > TRIE_MAX_K || (plen && !prefix)) return TRIE_EINVAL;
    if (plen <= TRIE_CACHE_DEPTH && k <= TRIE_CACHE_K) {
        const centry *e = &t->cache[cache_slot(prefix, plen)];
        uint32_t n = e->n < k ? e->n : k;
        for (uint32_t i = 0; i < n; i++) fill_hit(t, e->id[i], &out[i]);
        return (int)n;
    }
    return topk_walk(t, prefix, plen, k, out);
}

/* ------------------------------------------------------------ ordered walk */

typedef struct wframe {
    uint32_t node;
    uint16_t i, n;
    uint8_t order[MAX_FANOUT]; /* child slots by first byte */
} wframe;

/* Calls fn(ud, id) for every key in key order; stops on non-zero. */
static int walk_sorted(const trie *t, int (*fn)(void *ud, uint32_t id), void *ud) {
    wframe st[MAX_PATH]; /* ~136 KB of stack: one frame per node on a path */
    int sp = 0, rc;
    uint32_t n = 0;
    for (;;) {
        if (n != NONE) { /* enter node n */
            const tnode *nd = &t->nodes[n];
            if (nd->term != NONE && (rc = fn(ud, nd->term))) return rc;
            wframe *w = &st[sp++];
            w->node = n;
            w->i = 0;
            w->n = nd->nkids;
            const uint8_t *b = kid_bytes(t, nd);
            for (uint16_t j = 0; j < w->n; j++) { /* insertion sort by byte */
                uint16_t x = j;
                while (x > 0 && b[w->order[x - 1]] > b[j]) {
                    w->order[x] = w->order[x - 1];
                    x--;
                }
                w->order[x] = (uint8_t)j;
            }
            n = NONE;
        }
        if (sp == 0) return 0;
        wframe *w = &st[sp - 1];
        if (w->i == w->n) {
            sp--;
            continue;
        }
        uint32_t r = kid_refs(t, &t->nodes[w->node])[w->order[w->i++]];
        if (r & LEAF) {
            if ((rc = fn(ud, r & ~LEAF))) return rc;
        } else {
            n = r;
        }
    }
}

struct foreach_ctx {
    const trie *t;
    int (*fn)(void *ud, const trie_hit *hit);
    void *ud;
};

static int foreach_cb(void *ud, uint32_t id) {
    struct foreach_ctx *c = ud;
    trie_hit h;
    fill_hit(c->t, id, &h);
    return c->fn(c->ud, &h);
}

int trie_foreach(const trie *t, int (*fn)(void *ud, const trie_hit *hit), void *ud) {
    struct foreach_ctx c = {t, fn, ud};
    return walk_sorted(t, foreach_cb, &c);
}

/* ------------------------------------------------------------------ check */

struct chk {
    const trie *t;
    uint8_t *seen_ids, *seen_nodes;
    uint64_t nodes, keys, kunits, abytes;
    char path[TRIE_MAX_KEY + 1];
    char *err;
    size_t errlen;
};

#define CHK_FAIL(c, ...)                                                                         \
    do {                                                                                         \
        if ((c)->err && (c)->errlen) snprintf((c)->err, (c)->errlen, __VA_ARGS__);              \
        return -1;                                                                               \
    } while (0)

static int chk_id(struct chk *c, uint32_t id) {
    const trie *t = c->t;
    if (id >= t->nids) CHK_FAIL(c, "key id %u out of range (bound %u)", id, t->nids);
    kref r = t->refs[id];
    if (r.klen == 0) CHK_FAIL(c, "key id %u is reachable but free", id);
    if (c->seen_ids[id]) CHK_FAIL(c, "key id %u reachable twice", id);
    c->seen_ids[id] = 1;
    if (r.klen > TRIE_MAX_KEY || r.dlen > TRIE_MAX_KEY) CHK_FAIL(c, "key id %u: bad lengths", id);
    if ((uint64_t)r.off + chunk_size((size_t)r.klen + r.dlen) > t->aused)
        CHK_FAIL(c, "key id %u: arena block out of bounds", id);
    if (!isfinite(t->refs[id].score)) CHK_FAIL(c, "key id %u: non-finite score", id);
    if (r.dlen == r.klen && memcmp(kstr(t, id), kstr(t, id) + r.klen, r.klen) == 0)
        CHK_FAIL(c, "key id %u: display stored although equal to key", id);
    c->keys++;
    c->abytes += chunk_size((size_t)r.klen + r.dlen);
    return 0;
}

static int chk_node(struct chk *c, uint32_t n, uint32_t pdepth, uint32_t *best_out) {
    const trie *t = c->t;
    if (n >= t->nnodes) CHK_FAIL(c, "node %u out of range", n);
    if (c->seen_nodes[n]) CHK_FAIL(c, "node %u reachable twice", n);
    c->seen_nodes[n] = 1;
    const tnode *nd = &t->nodes[n];
    if (nd->nkids == NODE_FREE_MARK) CHK_FAIL(c, "node %u is reachable but free", n);
    if (nd->nkids > MAX_FANOUT) CHK_FAIL(c, "node %u: %u children", n, nd->nkids);
    c->nodes++;
    uint32_t d = nd->depth;
    if (n == 0) {
        if (d != 0 || nd->term != NONE) CHK_FAIL(c, "root has depth %u / a key", d);
    } else {
        if (d <= pdepth || d > TRIE_MAX_KEY) CHK_FAIL(c, "node %u: depth %u under %u", n, d, pdepth);
        if (!(nd->nkids >= 2 || (nd->nkids == 1 && nd->term != NONE)))
            CHK_FAIL(c, "node %u not compressed (%u children, %s key)", n, nd->nkids,
                     nd->term == NONE ? "no" : "a");
        uint32_t b = nd->best;
        if (b >= t->nids || t->refs[b].klen < d) CHK_FAIL(c, "node %u: bad best %u", n, b);
        memcpy(c->path + pdepth, kstr(t, b) + pdepth, d - pdepth);
    }
    if (nd->nkids) {
        if ((uint64_t)nd->kids + KIDS_UNITS(nd->nkids) > t->kused)
            CHK_FAIL(c, "node %u: child block out of bounds", n);
        c->kunits += KIDS_UNITS(nd->nkids);
    }
    uint32_t best = NONE;
    if (nd->term != NONE) {
        if (chk_id(c, nd->term)) return -1;
        if (t->refs[nd->term].klen != d || memcmp(kstr(t, nd->term), c->path, d))
            CHK_FAIL(c, "node %u: key %u does not spell the path", n, nd->term);
        best = nd->term;
    }
    uint8_t used[MAX_FANOUT] = {0};
    uint32_t prev = NONE;
    for (uint32_t i = 0; i < nd->nkids; i++) {
        uint32_t r = kid_refs(t, nd)[i], cb;
        uint8_t byte = kid_bytes(t, nd)[i];
        if (used[byte]) CHK_FAIL(c, "node %u: two children start with byte %u", n, byte);
        used[byte] = 1;
        if (r & LEAF) {
            cb = r & ~LEAF;
            if (chk_id(c, cb)) return -1;
            if (t->refs[cb].klen <= d || memcmp(kstr(t, cb), c->path, d))
                CHK_FAIL(c, "node %u: leaf key %u does not extend the path", n, cb);
        } else if (chk_node(c, r, d, &cb)) {
            return -1;
        }
        if ((uint8_t)kstr(t, cb)[d] != byte) CHK_FAIL(c, "node %u: child %u byte mismatch", n, i);
        if (prev != NONE && !better(t, prev, cb))
            CHK_FAIL(c, "node %u: children %u and %u out of order", n, i - 1, i);
        if (best == NONE || better(t, cb, best)) best = cb;
        prev = cb;
    }
    if (n != 0 && nd->nkids == 0 && nd->term == NONE) CHK_FAIL(c, "node %u is empty", n);
    if (best != nd->best) CHK_FAIL(c, "node %u: stored best %u, actual %u", n, nd->best, best);
    *best_out = best;
    return 0;
}

int trie_check(const trie *t, char *err, size_t errlen) {
    struct chk c = {.t = t, .err = err, .errlen = errlen};
    if (err && errlen) err[0] = 0;
    if (!t) CHK_FAIL(&c, "null trie");
    if (t->nnodes == 0) CHK_FAIL(&c, "no root");
    c.seen_ids = qcalloc(t->nids + 1, 1);
    c.seen_nodes = qcalloc(t->nnodes, 1);
    int rc = -1;
    uint32_t best;
    if (!c.seen_ids || !c.seen_nodes) {
        if (err && errlen) snprintf(err, errlen, "out of memory while checking");
        goto out;
    }
    if (chk_node(&c, 0, 0, &best)) goto out;
#define CHK_GOTO(...)                                                                            \
    do {                                                                                         \
        if (err && errlen) snprintf(err, errlen, __VA_ARGS__);                                  \
        goto out;                                                                                \
    } while (0)
    /* every short-prefix list equals a fresh walk */
    for (uint32_t a = 0; a < 257; a++) {
        char p[2] = {(char)(a ? a - 1 : 0), 0};
        size_t pl = a ? 1 : 0;
        trie_hit h[TRIE_CACHE_K];
        for (uint32_t b = 0; b < (a ? 257u : 1u); b++) {
            if (b) {
                p[1] = (char)(b - 1);
                pl = 2;
            }
            const centry *e = &t->cache[cache_slot(p, pl)];
            int n = topk_walk(t, p, pl, TRIE_CACHE_K, h);
            if (e->n != (uint32_t)n)
                CHK_GOTO("cache for prefix of %zu bytes (%02x %02x): %u keys, walk finds %d", pl,
                         (uint8_t)p[0], (uint8_t)p[1], e->n, n);
            for (int i = 0; i < n; i++)
                if (e->id[i] != h[i].id)
                    CHK_GOTO("cache for prefix of %zu bytes (%02x %02x): entry %d is id %u, walk "
                             "finds %u", pl, (uint8_t)p[0], (uint8_t)p[1], i, e->id[i], h[i].id);
            if (pl == 1 && n == 0) { /* no key below: its 2-byte slots must be empty */
                for (uint32_t x = 0; x < 256; x++)
                    if (t->cache[cache_slot((char[2]){p[0], (char)x}, 2)].n)
                        CHK_GOTO("cache for absent prefix %02x %02x not empty", (uint8_t)p[0], x);
                break;
            }
        }
    }
    if (c.keys != t->count)
        CHK_GOTO("%llu keys reachable, count says %llu", (unsigned long long)c.keys,
                 (unsigned long long)t->count);
    if (c.nodes != t->nlive) CHK_GOTO("%llu nodes reachable, %u live", (unsigned long long)c.nodes, t->nlive);
    if (c.kunits != t->klive) CHK_GOTO("child pool accounting off");
    if (c.abytes != t->alive) CHK_GOTO("arena accounting off");
    uint64_t nfree = 0;
    for (uint32_t f = t->idfree; f != NONE; f = t->refs[f].off) {
        if (f >= t->nids || t->refs[f].klen != 0 || ++nfree > t->nids) CHK_GOTO("id free list broken");
    }
    if (nfree + t->count != t->nids) CHK_GOTO("ids: %llu free + %llu live != bound %u",
                                              (unsigned long long)nfree, (unsigned long long)t->count, t->nids);
    nfree = 0;
    for (uint32_t f = t->nfree; f != NONE; f = t->nodes[f].kids) {
        if (f >= t->nnodes || t->nodes[f].nkids != NODE_FREE_MARK || ++nfree > t->nnodes)
            CHK_GOTO("node free list broken");
    }
    if (nfree + t->nlive != t->nnodes) CHK_GOTO("nodes: free + live != allocated");
    for (uint32_t s = 0; s <= MAX_FANOUT; s++) {
        uint64_t steps = 0;
        for (uint32_t f = t->kfree[s]; f != NONE; f = t->kids[f])
            if (s == 0 || f + (uint64_t)KIDS_UNITS(s) > t->kused || ++steps > t->kused)
                CHK_GOTO("child free list %u broken", s);
    }
    for (uint32_t s = 0; s < ARENA_CLASSES; s++) {
        uint64_t steps = 0;
        for (uint32_t f = t->afree[s]; f != NONE;) {
            if (s < ARENA_MIN || f + (uint64_t)s > t->aused || ++steps > t->aused)
                CHK_GOTO("arena free list %u broken", s);
            memcpy(&f, t->arena + f, 4);
        }
    }
#undef CHK_GOTO
    rc = 0;
out:
    qfree(c.seen_ids);
    qfree(c.seen_nodes);
    return rc;
}

/* --------------------------------------------------------------- snapshot */

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "trie.c assumes a little-endian host (snapshot format, lcp)"
#endif

#define SNAP_MAGIC "QACTRIE" /* 8 bytes with the NUL */
#define SNAP_VERSION 2u     /* written; versions 1 and 2 are read */
#define SNAP_VERSION_MIN 1u
#define SNAP_HDR 64u
#define SNAP_REC 18u                 /* fixed part of a record */
#define SNAP_BUF (1u << 20)          /* load read buffer */
#define SNAP_WBUF (1u << 16)         /* save write buffer */

/* qsum64: a streaming 64-bit checksum in the style of xxHash64 (one lane of
 * its round function, its avalanche). Not cryptographic: it catches
 * corruption, not forgery, which is why load still validates every field. */
#define P1 11400714785074694791ull
#define P2 14029467366897019727ull
#define P3 1609587929392839161ull
#define P4 9650029242287828579ull
typedef struct qsum {
    uint64_t h, len;
    uint8_t tail[8];
    unsigned nt;
} qsum;
static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline uint64_t qround(uint64_t h, uint64_t w) {
    w *= P2;
    w = rotl64(w, 31) * P1;
    h ^= w;
    return rotl64(h, 27) * P1 + P4;
}
static void qsum_init(qsum *q) {
    q->h = 0x51414354524945ull; /* "QACTRIE" */
    q->len = 0;
    q->nt = 0;
}
static void qsum_update(qsum *q, const void *data, size_t n) {
    const uint8_t *p = data;
    q->len += n;
    if (q->nt) {
        while (q->nt < 8 && n) {
            q->tail[q->nt++] = *p++;
            n--;
        }
        if (q->nt < 8) return;
        q->h = qround(q->h, ld64(q->tail));
        q->nt = 0;
    }
    while (n >= 8) {
        q->h = qround(q->h, ld64(p));
        p += 8;
        n -= 8;
    }
    memcpy(q->tail, p, n);
    q->nt = (unsigned)n;
}
static uint64_t qsum_final(const qsum *q) {
    uint8_t t[8] = {0};
    memcpy(t, q->tail, q->nt);
    uint64_t h = qround(q->h, ld64(t) ^ ((uint64_t)q->nt << 56)) ^ q->len;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}
static uint64_t qsum_buf(const void *p, size_t n) {
    qsum q;
    qsum_init(&q);
    qsum_update(&q, p, n);
    return qsum_final(&q);
}

static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

typedef struct swriter {
    const trie *t;
    int fd, failed;
    uint64_t off; /* file offset of buf[0] */
    uint32_t prev, max_id;
    qsum sum;
    size_t n;
    uint8_t buf[SNAP_WBUF];
} swriter;

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off) {
    const char *c = p;
    while (n) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int sw_flush(swriter *w) {
    if (w->n == 0) return 0;
    qsum_update(&w->sum, w->buf, w->n);
    if (pwrite_all(w->fd, w->buf, w->n, w->off)) return -1;
    w->off += w->n;
    w->n = 0;
    return 0;
}

static int save_cb(void *ud, uint32_t id) {
    swriter *w = ud;
    const trie *t = w->t;
    kref r = t->refs[id];
    size_t l = 0;
    if (w->prev != NONE) {
        kref p = t->refs[w->prev];
        l = lcp(kstr(t, w->prev), kstr(t, id), p.klen < r.klen ? p.klen : r.klen);
    }
    size_t need = SNAP_REC + (r.klen - l) + r.dlen;
    if (w->n + need > sizeof w->buf && sw_flush(w)) return -1;
    uint8_t *p = w->buf + w->n;
    double sc = t->refs[id].score;
    uint64_t bits;
    memcpy(&bits, &sc, 8);
    put16(p, (uint16_t)l);
    put16(p + 2, (uint16_t)(r.klen - l));
    put16(p + 4, r.dlen);
    put32(p + 6, id);
    put64(p + 10, bits);
    memcpy(p + SNAP_REC, kstr(t, id) + l, r.klen - l + r.dlen);
    w->n += need;
    w->prev = id;
    if (w->max_id == NONE || id > w->max_id) w->max_id = id;
    return 0;
}

int trie_save(const trie *t, const char *path) {
    char tmp[PATH_MAX];
    if (!t || !path) {
        errno = EINVAL;
        return TRIE_EIO;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return TRIE_EIO;
    }
    swriter *w = qmalloc(sizeof *w);
    if (!w) return TRIE_ENOMEM;
    w->t = t;
    w->failed = 0;
    w->off = SNAP_HDR;
    w->prev = w->max_id = NONE;
    w->n = 0;
    qsum_init(&w->sum);
    int saved_errno = 0;
    w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        saved_errno = errno;
        qfree(w);
        errno = saved_errno;
        return TRIE_EIO;
    }
    int ok = walk_sorted(t, save_cb, w) == 0 && sw_flush(w) == 0;
    if (ok) {
        uint8_t h[SNAP_HDR] = {0};
        memcpy(h, SNAP_MAGIC, 8);
        put32(h + 8, SNAP_VERSION);
        put32(h + 12, SNAP_HDR);
        put64(h + 16, t->count);
        put32(h + 24, w->max_id == NONE ? 0 : w->max_id + 1);
        put32(h + 28, t->nlive);
        put64(h + 32, w->off);
        put32(h + 40, (uint32_t)t->alive); /* < 4 GiB: arena offsets are 32-bit */
        put32(h + 44, t->tag);
        put64(h + 48, qsum_final(&w->sum));
        put64(h + 56, qsum_buf(h, 56));
        ok = pwrite_all(w->fd, h, sizeof h, 0) == 0 && fsync(w->fd) == 0;
    }
    if (!ok) saved_errno = errno;
    if (close(w->fd) != 0 && ok) {
        ok = 0;
        saved_errno = errno;
    }
    qfree(w);
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        saved_errno = errno;
    }
    if (!ok) {
        unlink(tmp);
        errno = saved_errno;
        return TRIE_EIO;
    }
    /* make the rename durable */
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return TRIE_EIO;
    int frc = fsync(dfd);
    saved_errno = errno;
    close(dfd);
    if (frc != 0) {
        errno = saved_errno;
        return TRIE_EIO;
    }
    return TRIE_OK;
}

/* --- load --- */

typedef struct sreader {
    int fd;
    uint8_t *buf;
    size_t lo, hi;
    uint64_t pos; /* file offset of buf[lo] */
} sreader;

/* Make n bytes available at buf[lo]: 0, -1 at end of file, -2 on I/O error. */
static int rd_ensure(sreader *r, size_t n) {
    if (r->hi - r->lo >= n) return 0;
    memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
    r->hi -= r->lo;
    r->lo = 0;
    while (r->hi < n) {
        ssize_t got = read(r->fd, r->buf + r->hi, SNAP_BUF - r->hi);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -2;
        }
        if (got == 0) return -1;
        r->hi += (size_t)got;
    }
    return 0;
}

typedef struct bframe {
    uint32_t depth, term, kstart;
} bframe;

typedef struct builder {
    trie *t;
    bframe *st;
    int sp;
    uint32_t *tmp, tn;
} builder;

/* Sorts a fresh child block by rank and fills its first bytes. */
static void b_fill_block(trie *t, uint32_t off, uint32_t nk, uint32_t depth) {
    uint32_t *r = t->kids + off;
    uint8_t *b = (uint8_t *)(r + nk);
    for (uint32_t i = 0; i < nk; i++) {
        uint32_t x = r[i], xi = ref_best(t, x), j = i;
        uint8_t xb = (uint8_t)kstr(t, xi)[depth];
        while (j > 0 && kid_before(t, xi, xb, ref_best(t, r[j - 1]), b[j - 1])) {
            r[j] = r[j - 1];
            b[j] = b[j - 1];
            j--;
        }
        r[j] = x;
        b[j] = xb;
    }
}

/* Closes open frame x whose children are tmp[x->kstart, tn): its ref. */
static int b_finalize(builder *b, const bframe *x, uint32_t *ref_out) {
    trie *t = b->t;
    uint32_t nk = b->tn - x->kstart;
    if (nk == 0) {
        *ref_out = LEAF | x->term;
        return TRIE_OK;
    }
    int rc;
    if ((rc = nodes_reserve(t, 1)) || (rc = kids_reserve(t, KIDS_UNITS(nk)))) return rc;
    uint32_t m = node_alloc(t), off = kids_alloc(t, nk);
    memcpy(t->kids + off, b->tmp + x->kstart, nk * 4);
    b_fill_block(t, off, nk, x->depth);
    tnode *nd = &t->nodes[m];
    nd->depth = (uint16_t)x->depth;
    nd->term = x->term;
    nd->kids = off;
    nd->nkids = (uint16_t)nk;
    recompute_best(t, m);
    b->tn = x->kstart;
    *ref_out = m;
    return TRIE_OK;
}

/* Pops open frames deeper than L (the next key shares L bytes with the last). */
static int b_close_to(builder *b, uint32_t L) {
    uint32_t c = NONE;
    int rc;
    while (b->st[b->sp - 1].depth > L) {
        bframe x = b->st[--b->sp];
        if (c != NONE) b->tmp[b->tn++] = c;
        if ((rc = b_finalize(b, &x, &c))) return rc;
        if (b->st[b->sp - 1].depth < L) b->st[b->sp++] = (bframe){L, NONE, b->tn};
    }
    if (c != NONE) b->tmp[b->tn++] = c;
    return TRIE_OK;
}

/* Closes every open frame and gives the root its children. */
static int b_close_root(builder *b) {
    trie *t = b->t;
    int rc = b_close_to(b, 0);
    if (rc) return rc;
    if (b->tn) {
        if ((rc = kids_reserve(t, KIDS_UNITS(b->tn)))) return rc;
        uint32_t off = kids_alloc(t, b->tn);
        memcpy(t->kids + off, b->tmp, b->tn * 4);
        b_fill_block(t, off, b->tn, 0);
        t->nodes[0].kids = off;
        t->nodes[0].nkids = (uint16_t)b->tn;
        b->tn = 0;
    }
    recompute_best(t, 0);
    return TRIE_OK;
}

static void shrink_to_fit(trie *t) {
    void *p;
    if (t->nnodes && t->nnodes < t->ncap && (p = qrealloc(t->nodes, t->nnodes * sizeof(tnode)))) {
        t->nodes = p;
        t->ncap = t->nnodes;
    }
    if (t->kused && t->kused < t->kcap && (p = qrealloc(t->kids, t->kused * 4))) {
        t->kids = p;
        t->kcap = t->kused;
    }
    if (t->aused && t->aused < t->acap && (p = qrealloc(t->arena, t->aused))) {
        t->arena = p;
        t->acap = t->aused;
    }
}

#define LOAD_FAIL(code, ...)                                                                     \
    do {                                                                                         \
        if (err && errlen) snprintf(err, errlen, __VA_ARGS__);                                  \
        rc = (code);                                                                             \
        goto out;                                                                                \
    } while (0)

int trie_load(const char *path, trie **out, char *err, size_t errlen) {
    int rc = TRIE_OK, fd = -1;
    trie *t = NULL;
    sreader rd = {0};
    builder b = {0};
    if (out) *out = NULL;
    if (err && errlen) err[0] = 0;
    if (!path || !out) LOAD_FAIL(TRIE_EINVAL, "trie_load: null argument");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) LOAD_FAIL(TRIE_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) LOAD_FAIL(TRIE_EIO, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) LOAD_FAIL(TRIE_EIO, "%s is not a regular file", path);
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0) LOAD_FAIL(TRIE_EFORMAT, "empty file: not a qac snapshot");

    /* header */
    uint8_t h[SNAP_HDR];
    size_t hn = 0;
    while (hn < SNAP_HDR) {
        ssize_t g = read(fd, h + hn, SNAP_HDR - hn);
        if (g < 0 && errno == EINTR) continue;
        if (g < 0) LOAD_FAIL(TRIE_EIO, "read error on %s: %s", path, strerror(errno));
        if (g == 0) break;
        hn += (size_t)g;
    }
    if (memcmp(h, SNAP_MAGIC, hn < 8 ? hn : 8) != 0)
        LOAD_FAIL(TRIE_EFORMAT, "bad magic: not a qac snapshot");
    if (hn < SNAP_HDR)
        LOAD_FAIL(TRIE_EFORMAT, "truncated at byte %zu of the %u-byte header", hn, SNAP_HDR);
    uint32_t version = get32(h + 8);
    if (version < SNAP_VERSION_MIN || version > SNAP_VERSION)
        LOAD_FAIL(TRIE_EFORMAT, "unsupported snapshot version %u (this build reads %u to %u)",
                  version, SNAP_VERSION_MIN, SNAP_VERSION);
    if (get64(h + 56) != qsum_buf(h, 56)) LOAD_FAIL(TRIE_EFORMAT, "header checksum mismatch");
    /* version 1 had a 64-bit key byte count at 40, whose high half (bytes
     * 44..48) was always 0 (< 4 GiB): read as version 2, its tag is 0 */
    uint64_t count = get64(h + 16), fsize = get64(h + 32), abytes = get32(h + 40);
    uint32_t tag = get32(h + 44);
    uint32_t idb = get32(h + 24), hnodes = get32(h + 28);
    if (get32(h + 12) != SNAP_HDR) LOAD_FAIL(TRIE_EFORMAT, "bad header size %u", get32(h + 12));
    if (size < fsize)
        LOAD_FAIL(TRIE_EFORMAT, "truncated at byte %llu of %llu", (unsigned long long)size,
                  (unsigned long long)fsize);
    if (size > fsize)
        LOAD_FAIL(TRIE_EFORMAT, "%llu trailing bytes after byte %llu",
                  (unsigned long long)(size - fsize), (unsigned long long)fsize);
    uint64_t payload = fsize - SNAP_HDR;
    if (count > payload / (SNAP_REC + 1) || count > MAX_IDS)
        LOAD_FAIL(TRIE_EFORMAT, "key count %llu does not fit in %llu payload bytes",
                  (unsigned long long)count, (unsigned long long)payload);
    if (idb < count || idb > MAX_IDS) LOAD_FAIL(TRIE_EFORMAT, "bad id bound %u for %llu keys", idb,
                                                (unsigned long long)count);
    if (hnodes < 1 || hnodes > count + 1) LOAD_FAIL(TRIE_EFORMAT, "bad node count %u", hnodes);
    if (abytes > UINT32_MAX || abytes > count * (2ull * TRIE_MAX_KEY))
        LOAD_FAIL(TRIE_EFORMAT, "bad key byte count %llu", (unsigned long long)abytes);

    /* pass 1: payload checksum, so a corrupted file says so plainly */
    rd.fd = fd;
    rd.buf = qmalloc(SNAP_BUF);
    if (!rd.buf) LOAD_FAIL(TRIE_ENOMEM, "out of memory");
    {
        qsum q;
        qsum_init(&q);
        for (;;) {
            ssize_t g = read(fd, rd.buf, SNAP_BUF);
            if (g < 0 && errno == EINTR) continue;
            if (g < 0) LOAD_FAIL(TRIE_EIO, "read error on %s: %s", path, strerror(errno));
            if (g == 0) break;
            qsum_update(&q, rd.buf, (size_t)g);
        }
        if (q.len != payload) LOAD_FAIL(TRIE_EFORMAT, "file changed while loading");
        if (qsum_final(&q) != get64(h + 48)) LOAD_FAIL(TRIE_EFORMAT, "checksum mismatch");
    }
    if (lseek(fd, SNAP_HDR, SEEK_SET) != (off_t)SNAP_HDR)
        LOAD_FAIL(TRIE_EIO, "seek error on %s: %s", path, strerror(errno));
    rd.pos = SNAP_HDR;

    /* pass 2: parse and build bottom-up from the sorted keys */
    t = trie_alloc_empty();
    if (!t) LOAD_FAIL(TRIE_ENOMEM, "out of memory");
    t->refs = qmalloc((idb ? idb : 1) * sizeof(kref));
    if (!t->refs) LOAD_FAIL(TRIE_ENOMEM, "out of memory for %u ids", idb);
    t->idcap = t->nids = idb;
    for (uint32_t i = 0; i < idb; i++) t->refs[i] = (kref){0};
    uint64_t kest = (uint64_t)hnodes + count + (hnodes + count) / 4 + hnodes;
    if (nodes_reserve(t, hnodes) || arena_reserve(t, 1) || kids_reserve(t, (uint32_t)(kest > UINT32_MAX ? UINT32_MAX : kest)))
        LOAD_FAIL(TRIE_ENOMEM, "out of memory");
    if (abytes > t->acap) {
        char *a = qrealloc(t->arena, abytes);
        if (!a) LOAD_FAIL(TRIE_ENOMEM, "out of memory for %llu key bytes", (unsigned long long)abytes);
        t->arena = a;
        t->acap = abytes;
    }
    node_alloc(t); /* root */
    b.t = t;
    b.st = qmalloc(MAX_PATH * sizeof *b.st);
    b.tmp = qmalloc((size_t)MAX_PATH * MAX_FANOUT * sizeof *b.tmp);
    if (!b.st || !b.tmp) LOAD_FAIL(TRIE_ENOMEM, "out of memory");
    b.st[0] = (bframe){0, NONE, 0};
    b.sp = 1;
    uint32_t prev = NONE;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t at = rd.pos;
        int e = rd_ensure(&rd, SNAP_REC);
        if (e == -2) LOAD_FAIL(TRIE_EIO, "read error on %s: %s", path, strerror(errno));
        if (e) LOAD_FAIL(TRIE_EFORMAT, "truncated in record %llu at byte %llu", (unsigned long long)i,
                         (unsigned long long)at);
        const uint8_t *p = rd.buf + rd.lo;
        uint32_t L = get16(p), sfx = get16(p + 2), dlen = get16(p + 4), id = get32(p + 6);
        uint64_t bits = get64(p + 10);
        double sc;
        memcpy(&sc, &bits, 8);
        uint32_t plen = prev == NONE ? 0 : t->refs[prev].klen, klen = L + sfx;
#define REC_FAIL(...)                                                                            \
    do {                                                                                         \
        char why_[160];                                                                          \
        snprintf(why_, sizeof why_, __VA_ARGS__);                                                \
        LOAD_FAIL(TRIE_EFORMAT, "bad record %llu at byte %llu: %s", (unsigned long long)i,      \
                  (unsigned long long)at, why_);                                                 \
    } while (0)
        if (L > plen) REC_FAIL("shared prefix %u longer than the previous key (%u)", L, plen);
        if (sfx == 0) REC_FAIL("empty suffix (keys not strictly increasing)");
        if (klen > TRIE_MAX_KEY) REC_FAIL("key length %u over %d", klen, TRIE_MAX_KEY);
        if (dlen > TRIE_MAX_KEY) REC_FAIL("display length %u over %d", dlen, TRIE_MAX_KEY);
        if (id >= idb) REC_FAIL("id %u not below the id bound %u", id, idb);
        if (t->refs[id].klen) REC_FAIL("id %u used twice", id);
        if (!isfinite(sc)) REC_FAIL("non-finite score");
        rd.lo += SNAP_REC;
        rd.pos += SNAP_REC;
        e = rd_ensure(&rd, sfx + dlen);
        if (e == -2) LOAD_FAIL(TRIE_EIO, "read error on %s: %s", path, strerror(errno));
        if (e) LOAD_FAIL(TRIE_EFORMAT, "truncated in record %llu at byte %llu", (unsigned long long)i,
                         (unsigned long long)at);
        p = rd.buf + rd.lo;
        if (L < plen) {
            uint8_t pb = (uint8_t)kstr(t, prev)[L];
            if (p[0] == pb) REC_FAIL("shared prefix length %u is not exact", L);
            if (p[0] < pb) REC_FAIL("keys out of order");
        }
        /* a display equal to the key is stored as none (save never writes one) */
        size_t cd = dlen;
        if (dlen == klen && (L == 0 || memcmp(p + sfx, kstr(t, prev), L) == 0) &&
            memcmp(p + sfx + L, p, sfx) == 0)
            cd = 0;
        if ((rc = arena_reserve(t, klen + cd))) LOAD_FAIL(rc, "%s", trie_strerror(rc));
        uint32_t off = arena_alloc(t, klen + cd);
        if (L) memcpy(t->arena + off, kstr(t, prev), L);
        memcpy(t->arena + off + L, p, sfx);
        if (cd) memcpy(t->arena + off + klen, p + sfx, cd);
        rd.lo += sfx + dlen;
        rd.pos += sfx + dlen;
        t->refs[id] = (kref){.off = off, .klen = (uint16_t)klen, .dlen = (uint16_t)cd};
        t->refs[id].score = sc;
        t->count++;
        if ((rc = b_close_to(&b, L))) LOAD_FAIL(rc, "%s", trie_strerror(rc));
        b.st[b.sp++] = (bframe){klen, id, b.tn};
        prev = id;
#undef REC_FAIL
    }
    if (rd.pos != fsize || rd.hi != rd.lo)
        LOAD_FAIL(TRIE_EFORMAT, "%llu unexpected bytes after the last record at byte %llu",
                  (unsigned long long)(fsize - rd.pos), (unsigned long long)rd.pos);
    if ((rc = b_close_root(&b))) LOAD_FAIL(rc, "%s", trie_strerror(rc));
    if (t->nlive != hnodes || t->alive != abytes)
        LOAD_FAIL(TRIE_EFORMAT, "header counts (%u nodes, %llu key bytes) disagree with the payload",
                  hnodes, (unsigned long long)abytes);
    for (uint32_t i = idb; i-- > 0;)
        if (t->refs[i].klen == 0) id_free(t, i);
    shrink_to_fit(t);
    cache_rebuild(t);
    t->tag = tag;
    *out = t;
    t = NULL;
out:
    if (fd >= 0) close(fd);
    qfree(rd.buf);
    qfree(b.st);
    qfree(b.tmp);
    trie_free(t);
    return rc;
}

/* ------------------------------------------------------------ bulk builder */

struct trie_builder {
    builder b;      /* the same bottom-up stack builder as trie_load */
    uint32_t prev;  /* id of the last key added, NONE before the first */
    int failed;     /* a failed add leaves the stack inconsistent: refuse more */
};

trie_builder *trie_builder_new(void) {
    trie_builder *tb = qcalloc(1, sizeof *tb);
    if (!tb) return NULL;
    tb->prev = NONE;
    tb->b.t = trie_new();
    tb->b.st = qmalloc(MAX_PATH * sizeof *tb->b.st);
    tb->b.tmp = qmalloc((size_t)MAX_PATH * MAX_FANOUT * sizeof *tb->b.tmp);
    if (!tb->b.t || !tb->b.st || !tb->b.tmp) {
        trie_builder_free(tb);
        return NULL;
    }
    tb->b.st[0] = (bframe){0, NONE, 0};
    tb->b.sp = 1;
    return tb;
}

void trie_builder_free(trie_builder *tb) {
    if (!tb) return;
    trie_free(tb->b.t);
    qfree(tb->b.st);
    qfree(tb->b.tmp);
    qfree(tb);
}

int trie_builder_add(trie_builder *tb, const char *key, size_t keylen, const char *display,
                     size_t displen, double score, uint32_t *id_out) {
    if (!tb) return TRIE_EINVAL;
    if (tb->failed) return tb->failed;
    int rc = check_args(key, keylen, display, displen);
    if (rc) return rc;
    if (!isfinite(score)) return TRIE_EINVAL;
    trie *t = tb->b.t;
    size_t L = 0;
    if (tb->prev != NONE) { /* strictly increasing: key > prev, bytewise */
        size_t pl = t->refs[tb->prev].klen, m = pl < keylen ? pl : keylen;
        L = lcp(kstr(t, tb->prev), key, m);
        if (L == m ? keylen <= pl : (uint8_t)key[L] < (uint8_t)kstr(t, tb->prev)[L])
            return TRIE_EINVAL;
    }
    size_t cd = canon_dlen(key, keylen, display, displen);
    if ((rc = ids_reserve(t)) || (rc = arena_reserve(t, keylen + cd))) return rc;
    /* from here a failure (in closing frames) poisons the builder */
    if ((rc = b_close_to(&tb->b, (uint32_t)L))) return tb->failed = rc;
    uint32_t id = id_alloc(t), off = arena_alloc(t, keylen + cd);
    memcpy(t->arena + off, key, keylen);
    if (cd) memcpy(t->arena + off + keylen, display, cd);
    t->refs[id] = (kref){.off = off, .klen = (uint16_t)keylen, .dlen = (uint16_t)cd};
    t->refs[id].score = score;
    t->count++;
    tb->b.st[tb->b.sp++] = (bframe){(uint32_t)keylen, id, tb->b.tn};
    tb->prev = id;
    if (id_out) *id_out = id;
    return TRIE_OK;
}

int trie_builder_finish(trie_builder *tb, trie **out) {
    if (!out) {
        trie_builder_free(tb);
        return TRIE_EINVAL;
    }
    *out = NULL;
    if (!tb) return TRIE_EINVAL;
    int rc = tb->failed ? tb->failed : b_close_root(&tb->b);
    if (rc == TRIE_OK) {
        trie *t = tb->b.t;
        shrink_to_fit(t);
        if (t->nids && t->nids < t->idcap) { /* ids were grown by x1.5: trim */
            kref *r = qrealloc(t->refs, t->nids * sizeof *r);
            if (r) {
                t->refs = r;
                t->idcap = t->nids;
            }
        }
        cache_rebuild(t);
        *out = t;
        tb->b.t = NULL;
    }
    trie_builder_free(tb);
    return rc;
}
