/* trie.c -- the compressed prefix trie, core: pools, construction, changes
 * (set / incr / del), lookups (top-k and the ordered walk: trie_topk.c). The design essay
 * (node layout, invariants, snapshot format) is in trie.h; the private
 * layout and the split into files in trie_internal.h.
 *
 * Implementation notes, in the order the code goes:
 *   - pools: key arena (bytes), id table (score + arena ref per id), node
 *     pool (OWN BLOCKS, trie_internal.h: a node's record and its child
 *     block in one chunk, so a node whose child count changes moves, and
 *     add_kid / trie_del rewrite its parent's slot and the path); each
 *     grows by qrealloc and keeps exact-size free lists. Every mutating
 *     operation first RESERVES the worst case it can need in every pool; after
 *     that, allocation from the pools cannot fail, so an operation either fails
 *     before it touches anything (TRIE_ENOMEM/TRIE_EFULL) or completes.
 *   - edges are not stored: a node's edge is bytes [parent depth, depth) of its
 *     subtree's best key, which by construction lies below it. Only its
 *     second byte is kept, in the node (e2, struct tnode): set by make_node,
 *     reset on the lower node of a split (node_set_e2), and on a delete's
 *     merge of a node into its only child (e2_merged).
 *   - key text is stored coded (t->tc, tcodec.h) and decoded where it is
 *     read: into the caller's hit, or into a stack buffer to compare.
 *   - after any change, the path from the changed node to the root is fixed
 *     bottom-up: the changed child is moved to its sorted place among its
 *     siblings and the parent's best is recomputed (exact maxima, also after
 *     deletes and decreases).
 *   - lookups descend PATRICIA-style (first bytes and depths only) and verify
 *     the key once at the end; children order by (score, first byte).
 *   - the short-prefix cache (trie_cache.c) is updated after each change by
 *     trie__cache_note(); load and the bulk builder refill it.
 */
#include "trie/trie_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

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

int trie__ids_reserve(trie *t) {
    if (t->idfree != NONE || t->nids < t->idcap) return TRIE_OK;
    if (t->nids >= MAX_IDS) return TRIE_EFULL;
    uint64_t nc = grow_cap(t->idcap, t->nids + 1ull, 64, MAX_IDS);
    kref *r = qrealloc(t->refs, nc * sizeof *r);
    if (!r) return TRIE_ENOMEM;
    t->refs = r;
    t->idcap = (uint32_t)nc;
    return TRIE_OK;
}

uint32_t trie__id_alloc(trie *t) {
    uint32_t id;
    if (t->idfree != NONE) {
        id = t->idfree;
        t->idfree = kfree_next(t, id);
    } else {
        id = t->nids++;
    }
    return id;
}

void trie__id_free(trie *t, uint32_t id) {
    uint64_t link = t->idfree; /* kfree_next reads it back */
    memcpy(&t->refs[id], &link, 8);
    t->refs[id].off = NONE;
    t->idfree = id;
}


int trie__arena_reserve(trie *t, size_t n) {
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

uint32_t trie__arena_alloc(trie *t, size_t n) {
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

void trie__key_encode(const trie *t, const char *key, size_t klen, const char *disp, size_t dlen,
                      kcode *kc) {
    kc->ck = (uint32_t)tc_encode(&t->tc, key, klen, kc->k);
    kc->cd = dlen ? (uint32_t)tc_encode(&t->tc, disp, dlen, kc->d) : 0;
}

uint32_t trie__key_store(trie *t, const uint8_t *ck, size_t ckn, const uint8_t *cd, size_t cdn) {
    uint32_t off = trie__arena_alloc(t, kchunk_bytes(ckn, cdn));
    char *p = t->arena + off;
    p += khdr_put(p, ckn, cdn);
    memcpy(p, ck, ckn);
    if (cdn) memcpy(p + ckn, cd, cdn);
    t->kbytes += ckn + cdn;
    return off;
}

/* Frees the arena chunk of the key stored at off. */
static void key_release(trie *t, uint32_t off) {
    kview v = kv_at(t, off);
    arena_release(t, off, kchunk_bytes(v.ck, v.cd));
    t->kbytes -= (uint64_t)v.ck + v.cd;
}

int trie__nodes_reserve(trie *t, uint64_t units) {
    if (t->kused + units <= t->kcap) return TRIE_OK;
    if (t->kused + units > MAX_UNITS) return TRIE_EFULL;
    uint64_t nc = grow_cap(t->kcap, t->kused + units, 1024, MAX_UNITS);
    uint32_t *p = qrealloc(t->kids, nc * sizeof *p);
    if (!p) return TRIE_ENOMEM;
    t->kids = p;
    t->kcap = nc;
    return TRIE_OK;
}

uint32_t trie__node_alloc(trie *t, uint32_t n) {
    uint32_t r;
    if (t->kfree[n] != NONE) {
        r = t->kfree[n];
        t->kfree[n] = NODE(t, r)->term;
    } else {
        r = (uint32_t)t->kused;
        t->kused += CHUNK_UNITS(n);
    }
    t->klive += CHUNK_UNITS(n);
    t->nlive++;
    tnode *x = NODE(t, r);
    x->best = x->term = NONE;
    x->depth = 0;
    x->nkids = n;
    x->e2 = 0;
    return r;
}

/* Frees node r's chunk (its class: its children now). A free chunk's
 * record: nkids NODE_FREE_MARK, best its class, term the next free one. */
static void node_release(trie *t, uint32_t r) {
    tnode *x = NODE(t, r);
    uint32_t n = x->nkids;
    x->term = t->kfree[n];
    x->best = n;
    x->nkids = NODE_FREE_MARK;
    t->kfree[n] = r;
    t->klive -= CHUNK_UNITS(n);
    t->nlive--;
}

void trie__root_init(trie *t) {
    t->kused = ROOT_UNITS;
    t->klive += ROOT_UNITS;
    t->nlive++;
    tnode *x = NODE(t, ROOT);
    x->best = x->term = NONE;
    x->depth = 0;
    x->nkids = 0;
    x->e2 = 0;
}

/* ------------------------------------------------------------ construction */

trie *trie__alloc_empty(void) {
    trie *t = qcalloc(1, sizeof *t);
    if (!t) return NULL;
    t->cache = qcalloc(CACHE_SLOTS, sizeof *t->cache); /* all empty: right for no keys */
    if (!t->cache) {
        qfree(t);
        return NULL;
    }
    t->idfree = NONE;
    t->hmin = HEAVY_MIN_KEYS;
    tc_identity(&t->tc);
    for (size_t i = 0; i <= MAX_FANOUT; i++) t->kfree[i] = NONE;
    for (size_t i = 0; i < ARENA_CLASSES; i++) t->afree[i] = NONE;
    return t;
}

trie *trie_new(void) {
    trie *t = trie__alloc_empty();
    if (!t) return NULL;
    if (trie__nodes_reserve(t, ROOT_UNITS) != TRIE_OK || trie__pf_init(t) != TRIE_OK) {
        trie_free(t);
        return NULL;
    }
    trie__root_init(t);
    return t;
}

void trie_free(trie *t) {
    if (!t) return;
    qfree(t->kids);
    qfree(t->arena);
    qfree(t->refs);
    qfree(t->cache);
    trie__heavy_free(t);
    trie__pf_free(t);
    qfree(t);
}

uint32_t trie_tag(const trie *t) { return t->tag; }
void trie_set_tag(trie *t, uint32_t tag) { t->tag = tag; }

uint64_t trie_count(const trie *t) { return t->count; }
uint32_t trie_id_bound(const trie *t) { return t->nids; }

void trie_memory(const trie *t, trie_mem *m) {
    m->keys = t->count;
    m->nodes = t->nlive;
    m->bytes_used = t->klive * 4 + t->alive + t->count * sizeof(kref); /* klive: records and blocks */
    m->bytes_alloc = sizeof *t + (uint64_t)CACHE_SLOTS * sizeof(centry) + t->kcap * 4 + t->acap +
                     (uint64_t)t->idcap * sizeof(kref) + (uint64_t)t->nheavy * sizeof(hentry) +
                     (t->htab ? (t->hmask + 1ull) * 4 : 0) + trie__pf_bytes(t);
}

/* --------------------------------------------------------- path fixing */

typedef struct pstep {
    uint32_t node;
    uint32_t slot; /* position of the next path element in node's children, or NONE */
} pstep;

/* Child `slot` of node n got a different best (or score): move it to its
 * sorted place. */
static void reposition(trie *t, uint32_t n, uint32_t slot) {
    tnode *nd = NODE(t, n);
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
        const tnode *nd = NODE(t, n);
        path[k].node = n;
        path[k].slot = NONE;
        k++;
        if (pos == klen) { /* verify the skipped bytes once, against the key here */
            char kb[TRIE_MAX_KEY];
            if (nd->term == NONE || kdecode(t, nd->term, kb) != klen || memcmp(kb, key, klen)) return NONE;
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
            char kb[TRIE_MAX_KEY];
            if (kdecode(t, id, kb) != klen || memcmp(kb, key, klen)) return NONE;
            *np = k;
            *is_leaf = 1;
            return id;
        }
        const tnode *c = NODE(t, r);
        if (c->depth > klen) return NONE; /* the key would end inside an edge */
        pos = c->depth;
        n = r;
    }
}



/* --------------------------------------------------------------- insertion */

/* Node n with its children plus `ref` (first edge byte `byte`) at its
 * sorted place. Every node but the root moves to a chunk one child larger
 * (OWN BLOCKS): returns n's ref from now on, which the caller writes into
 * n's parent's slot. The root's chunk holds MAX_FANOUT children: in
 * place, from a copy of its block. */
static uint32_t add_kid(trie *t, uint32_t n, uint32_t ref, uint8_t byte) {
    uint32_t on = NODE(t, n)->nkids, m = n;
    uint32_t tmp[KIDS_UNITS(MAX_FANOUT)];
    const uint32_t *or_ = kid_refs(t, NODE(t, n));
    if (n == ROOT) {
        memcpy(tmp, or_, KIDS_UNITS(on) * 4);
        or_ = tmp;
    } else {
        m = trie__node_alloc(t, on + 1);
        *NODE(t, m) = *NODE(t, n);
    }
    tnode *x = NODE(t, m);
    x->nkids = on + 1;
    uint32_t bid = ref_best(t, ref);
    uint32_t *nr = kid_refs(t, x);
    const uint8_t *ob = (const uint8_t *)(or_ + on);
    uint8_t *nb = (uint8_t *)(nr + on + 1);
    uint32_t i = 0;
    while (i < on && kid_before(t, ref_best(t, or_[i]), ob[i], bid, byte)) i++;
    memcpy(nr, or_, i * 4);
    memcpy(nb, ob, i);
    nr[i] = ref;
    nb[i] = byte;
    memcpy(nr + i + 1, or_ + i, (on - i) * 4);
    memcpy(nb + i + 1, ob + i, on - i);
    if (m != n) node_release(t, n);
    return m;
}

/* New node at depth d under a parent at depth pd, whose path is spelled by
 * key text k (its second edge byte, struct tnode), with term `term` and
 * children a (and b when not NONE) whose edges start with bytes ba (and
 * bb). */
static uint32_t make_node(trie *t, size_t pd, const char *k, uint16_t d, uint32_t term, uint32_t a, uint8_t ba,
                          uint32_t b, uint8_t bb) {
    uint32_t nk = b == NONE ? 1 : 2;
    uint32_t m = trie__node_alloc(t, nk);
    if (nk == 2) {
        if (kid_before(t, ref_best(t, b), bb, ref_best(t, a), ba)) {
            uint32_t x = a;
            a = b;
            b = x;
            uint8_t y = ba;
            ba = bb;
            bb = y;
        }
    }
    tnode *x = NODE(t, m);
    uint32_t *r = kid_refs(t, x);
    uint8_t *by = (uint8_t *)(r + nk);
    r[0] = a;
    by[0] = ba;
    if (nk == 2) {
        r[1] = b;
        by[1] = bb;
    }
    x->depth = d;
    x->term = term;
    node_set_e2(t, m, pd, k);
    recompute_best(t, m);
    return m;
}

static int insert_new(trie *t, const char *key, size_t klen, const char *disp, size_t dlen,
                      double score, uint32_t *id_out) {
    int rc;
    kcode kc;
    trie__key_encode(t, key, klen, disp, dlen, &kc);
    if ((rc = trie__ids_reserve(t)) || (rc = trie__arena_reserve(t, kchunk_bytes(kc.ck, kc.cd))) ||
        (rc = trie__nodes_reserve(t, CHUNK_UNITS(MAX_FANOUT))))
        return rc;
    uint32_t id = trie__id_alloc(t);
    t->refs[id].off = trie__key_store(t, kc.k, kc.ck, kc.d, kc.cd);
    t->refs[id].score = score;
    t->count++;
    trie__pf_add(t, key, klen);

    pstep path[MAX_PATH];
    uint32_t n = 0;
    size_t pos = 0;
    int k = 0;
    for (;;) {
        tnode *nd = NODE(t, n);
        path[k].node = n;
        path[k].slot = NONE;
        k++;
        int s = kid_find(t, nd, (uint8_t)key[pos]); /* pos < klen here */
        if (s < 0) {
            uint32_t m = add_kid(t, n, LEAF | id, (uint8_t)key[pos]);
            if (m != n) { /* n moved (not the root): its parent's slot follows */
                kid_refs(t, NODE(t, path[k - 2].node))[path[k - 2].slot] = m;
                path[k - 1].node = m;
            }
            break;
        }
        path[k - 1].slot = (uint32_t)s;
        uint32_t *slotp = &kid_refs(t, nd)[s];
        uint32_t r = *slotp;
        if (r & LEAF) {
            uint32_t o = r & ~LEAF;
            char ob[TRIE_MAX_KEY];
            size_t olen = kdecode(t, o, ob), m = klen < olen ? klen : olen;
            size_t c = pos + 1 + lcp(key + pos + 1, ob + pos + 1, m - pos - 1);
            uint32_t x;
            if (c == klen) x = make_node(t, pos, key, (uint16_t)c, id, LEAF | o, (uint8_t)ob[c], NONE, 0);
            else if (c == olen) x = make_node(t, pos, key, (uint16_t)c, o, LEAF | id, (uint8_t)key[c], NONE, 0);
            else
                x = make_node(t, pos, key, (uint16_t)c, NONE, LEAF | id, (uint8_t)key[c], LEAF | o,
                              (uint8_t)ob[c]);
            *slotp = x;
            break;
        }
        tnode *cn = NODE(t, r);
        size_t d = cn->depth, m = d < klen ? d : klen;
        char bb[TRIE_MAX_KEY];
        kdecode(t, cn->best, bb); /* spells r's path: at least d bytes */
        size_t c = pos + 1 + lcp(key + pos + 1, bb + pos + 1, m - pos - 1);
        if (c < d) { /* split the edge at c: r's edge now starts there */
            uint32_t x = c == klen ? make_node(t, pos, key, (uint16_t)c, id, r, (uint8_t)bb[c], NONE, 0)
                                   : make_node(t, pos, key, (uint16_t)c, NONE, r, (uint8_t)bb[c], LEAF | id,
                                               (uint8_t)key[c]);
            node_set_e2(t, r, c, bb);
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

/* Replace the display of an existing key (dlen 0: the key itself);
 * all-or-nothing. */
static int set_display(trie *t, uint32_t id, const char *disp, size_t dlen) {
    kview v = kv(t, id);
    char db[TRIE_MAX_KEY];
    size_t cur = v.cd ? tc_decode(&t->tc, v.code + v.ck, v.cd, db, sizeof db) : 0;
    if (cur == dlen && (dlen == 0 || memcmp(db, disp, dlen) == 0)) return TRIE_OK;
    uint8_t cd[KCODE_MAX];
    uint32_t cdn = dlen ? (uint32_t)tc_encode(&t->tc, disp, dlen, cd) : 0, ck = v.ck;
    int rc = trie__arena_reserve(t, kchunk_bytes(ck, cdn));
    if (rc) return rc;
    /* a fresh chunk (reserve may have moved the arena: take the view again;
     * the old chunk is still live, so the new one never overlaps it) */
    uint32_t old = t->refs[id].off;
    uint8_t kc[KCODE_MAX];
    memcpy(kc, kv(t, id).code, ck);
    t->refs[id].off = trie__key_store(t, kc, ck, cd, cdn);
    key_release(t, old);
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
        trie__cache_note(t, key, klen, id, CN_UP);
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
        if (how >= 0) trie__cache_note(t, key, klen, id, how);
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

/* Node p (under a parent at depth gd) is merged into its child `slot`, a
 * node: the child's second edge byte once its edge starts at gd (struct
 * tnode): p's own when p's edge has two bytes or more, else the child's
 * first. */
static uint8_t e2_merged(const trie *t, const tnode *p, uint32_t gd, uint32_t slot) {
    return p->depth >= gd + 2 ? (uint8_t)p->e2 : kid_bytes(t, p)[slot];
}

/* Replace internal node p (child slot path[j].slot of path[j].node) by ref. */
static void replace_in_parent(trie *t, const pstep *path, int j, uint32_t ref) {
    tnode *g = NODE(t, path[j].node);
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
    tnode *p = NODE(t, pn);
    int top;
    if (leaf) {
        uint32_t s = path[np - 1].slot, n = p->nkids;
        if (pn == 0 || n - 1 >= 2 || (n - 1 == 1 && p->term != NONE)) {
            /* p keeps a (smaller) child block; the only allocating case:
             * p moves to a chunk one child smaller (OWN BLOCKS), its
             * parent's slot follows; the root shrinks in place */
            int rc = pn == ROOT ? TRIE_OK : trie__nodes_reserve(t, CHUNK_UNITS(n - 1));
            if (rc) return rc;
            uint32_t m = pn, tmp[KIDS_UNITS(MAX_FANOUT)];
            const uint32_t *or_ = kid_refs(t, NODE(t, pn));
            if (pn == ROOT) {
                memcpy(tmp, or_, KIDS_UNITS(n) * 4);
                or_ = tmp;
            } else {
                m = trie__node_alloc(t, n - 1);
                *NODE(t, m) = *NODE(t, pn);
            }
            tnode *x = NODE(t, m);
            x->nkids = n - 1;
            uint32_t *nr = kid_refs(t, x);
            const uint8_t *ob = (const uint8_t *)(or_ + n);
            uint8_t *nb = (uint8_t *)(nr + n - 1);
            memcpy(nr, or_, s * 4);
            memcpy(nr + s, or_ + s + 1, (n - 1 - s) * 4);
            memcpy(nb, ob, s);
            memcpy(nb + s, ob + s + 1, n - 1 - s);
            if (m != pn) {
                node_release(t, pn); /* its class: n, as it was */
                replace_in_parent(t, path, np - 2, m);
                path[np - 1].node = m;
            }
            path[np - 1].slot = NONE;
            top = np - 1;
        } else {
            /* p (not the root) collapses: into its other child, or into a leaf */
            uint32_t ref = n == 2 ? kid_refs(t, p)[1 - s] : (LEAF | p->term);
            if (!(ref & LEAF)) NODE(t, ref)->e2 = e2_merged(t, p, NODE(t, path[np - 2].node)->depth, 1 - s);
            node_release(t, pn); /* its record and its block */
            replace_in_parent(t, path, np - 2, ref);
            top = np - 2;
        }
    } else {
        p->term = NONE;
        if (p->nkids >= 2) {
            top = np - 1;
        } else { /* one child left: merge p into it (edges are implicit) */
            uint32_t ref = kid_refs(t, p)[0];
            if (!(ref & LEAF)) NODE(t, ref)->e2 = e2_merged(t, p, NODE(t, path[np - 2].node)->depth, 0);
            node_release(t, pn); /* its record and its block */
            replace_in_parent(t, path, np - 2, ref);
            top = np - 2;
        }
    }
    key_release(t, t->refs[id].off);
    trie__id_free(t, id);
    t->count--;
    fix_path(t, path, top);
    trie__cache_note(t, key, keylen, id, CN_GONE);
    return TRIE_OK;
}

/* ----------------------------------------------------------------- lookups */


int trie_get(const trie *t, const char *key, size_t keylen, trie_hit *hit) {
    if (!t || !key || keylen == 0 || keylen > TRIE_MAX_KEY) return 0;
    pstep path[MAX_PATH];
    int np, leaf;
    uint32_t id = find(t, key, keylen, path, &np, &leaf);
    if (id == NONE) return 0;
    if (hit) fill_hit(t, id, hit);
    return 1;
}

int trie_score(const trie *t, const char *key, size_t keylen, double *score) {
    if (!t || !key || keylen == 0 || keylen > TRIE_MAX_KEY) return 0;
    pstep path[MAX_PATH];
    int np, leaf;
    uint32_t id = find(t, key, keylen, path, &np, &leaf);
    if (id == NONE) return 0;
    if (score) *score = t->refs[id].score;
    return 1;
}

int trie_get_id(const trie *t, uint32_t id, trie_hit *hit) {
    if (!t || id >= t->nids || !id_live(t, id)) return 0;
    if (hit) fill_hit(t, id, hit);
    return 1;
}


/* ------------------------------------------------------ symbol table choice */

int trie__retrain(trie *t) {
    if (t->count == 0) return TRIE_OK;
    int rc = TRIE_ENOMEM;
    /* a sample of about TC_TRAIN_SAMPLE_BYTES of text: every stride-th live
     * key (and its display), in id order -- deterministic */
    uint64_t stride = t->kbytes / TC_TRAIN_SAMPLE_BYTES + 1;
    size_t cap = (size_t)(t->count / stride) * 2 + 2, n = 0, used = 0;
    const char **sv = qmalloc(cap * sizeof *sv);
    uint32_t *lv = qmalloc(cap * sizeof *lv);
    char *text = qmalloc(TC_TRAIN_SAMPLE_BYTES + 4 * TRIE_MAX_KEY);
    tc_table *nt = qmalloc(sizeof *nt);
    char *na = NULL;
    uint32_t *noff = NULL;
    if (!sv || !lv || !text || !nt) goto out;
    uint64_t seen = 0;
    for (uint32_t id = 0; id < t->nids && n + 2 <= cap && used <= TC_TRAIN_SAMPLE_BYTES; id++) {
        if (!id_live(t, id) || seen++ % stride) continue;
        kview v = kv(t, id);
        size_t kl = tc_decode(&t->tc, v.code, v.ck, text + used, TRIE_MAX_KEY);
        sv[n] = text + used, lv[n++] = (uint32_t)kl, used += kl;
        if (v.cd) {
            size_t dl = tc_decode(&t->tc, v.code + v.ck, v.cd, text + used, TRIE_MAX_KEY);
            sv[n] = text + used, lv[n++] = (uint32_t)dl, used += dl;
        }
    }
    if (tc_train(nt, sv, lv, n) != TC_OK) goto out;
    /* recode every chunk into a fresh, compact arena; the old one stays
     * intact until nothing can fail any more */
    noff = qmalloc((size_t)t->nids * sizeof *noff);
    uint64_t acap = t->aused / 2 + 4096, aused = 0, kbytes = 0;
    na = qmalloc(acap);
    if (!noff || !na) goto out;
    for (uint32_t id = 0; id < t->nids; id++) {
        if (!id_live(t, id)) continue;
        kview v = kv(t, id);
        char raw[TRIE_MAX_KEY];
        kcode kc;
        size_t kl = tc_decode(&t->tc, v.code, v.ck, raw, sizeof raw);
        kc.ck = (uint32_t)tc_encode(nt, raw, kl, kc.k);
        kc.cd = 0;
        if (v.cd) {
            size_t dl = tc_decode(&t->tc, v.code + v.ck, v.cd, raw, sizeof raw);
            kc.cd = (uint32_t)tc_encode(nt, raw, dl, kc.d);
        }
        size_t sz = chunk_size(kchunk_bytes(kc.ck, kc.cd));
        if (aused + sz > UINT32_MAX) {
            rc = TRIE_EFULL;
            goto out;
        }
        if (aused + sz > acap) {
            uint64_t nc = acap + acap / 2 + sz;
            if (nc > UINT32_MAX) nc = UINT32_MAX;
            char *p = qrealloc(na, nc);
            if (!p) goto out;
            na = p;
            acap = nc;
        }
        char *p = na + aused;
        p += khdr_put(p, kc.ck, kc.cd);
        memcpy(p, kc.k, kc.ck);
        memcpy(p + kc.ck, kc.d, kc.cd);
        noff[id] = (uint32_t)aused;
        aused += sz;
        kbytes += kc.ck + kc.cd;
    }
    /* commit: nothing fails from here */
    for (uint32_t id = 0; id < t->nids; id++)
        if (id_live(t, id)) t->refs[id].off = noff[id];
    if (aused < acap && aused) {
        char *p = qrealloc(na, aused);
        if (p) na = p, acap = aused;
    }
    qfree(t->arena);
    t->arena = na;
    na = NULL;
    t->acap = acap;
    t->aused = t->alive = aused;
    t->kbytes = kbytes;
    for (size_t i = 0; i < ARENA_CLASSES; i++) t->afree[i] = NONE;
    memcpy(&t->tc, nt, sizeof *nt);
    rc = TRIE_OK;
out:
    qfree(sv);
    qfree(lv);
    qfree(text);
    qfree(nt);
    qfree(na);
    qfree(noff);
    return rc;
}
