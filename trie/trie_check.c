/* trie_check.c -- trie_check: verifies every invariant listed in trie.h
 * (sorted children, exact subtree maxima, compression, depths, the id map,
 * the free lists and pool accounting) and compares every short- and heavy-prefix cache
 * slot with a fresh walk. The node pool (OWN BLOCKS, trie_internal.h): the
 * live chunks (a record and its block) and the free ones never overlap and
 * together tile the pool's used units exactly. For tests and fuzz harnesses: O(size
 * of the trie) plus 257 * 257 + (heavy prefixes) top-10 walks; allocates
 * two byte maps (ids, pool units).
 */
#include "trie/trie_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

/* ------------------------------------------------------------------ check */

struct chk {
    const trie *t;
    uint8_t *seen_ids, *seen_units; /* a byte per pool unit: in a chunk seen */
    uint64_t nodes, keys, kunits, abytes, kbytes;
    char path[TRIE_MAX_KEY + 1];
    char tmp[TRIE_MAX_KEY]; /* one decoded key, used at once (not across recursion) */
    char *err;
    size_t errlen;
};

#define CHK_FAIL(c, ...)                                                                         \
    do {                                                                                         \
        if ((c)->err && (c)->errlen) snprintf((c)->err, (c)->errlen, __VA_ARGS__);              \
        return -1;                                                                               \
    } while (0)

/* Decodes key id (bounds-checked: for ids not yet through chk_id) into
 * buf[TRIE_MAX_KEY]; its length, or 0 when the chunk is not sound. */
static uint32_t chk_decode(const trie *t, uint32_t id, char *buf) {
    if (id >= t->nids || !id_live(t, id)) return 0;
    uint32_t off = t->refs[id].off;
    if ((uint64_t)off + ARENA_MIN > t->aused) return 0;
    kview r = kv_at(t, off);
    if ((uint64_t)off + kchunk_bytes(r.ck, r.cd) > t->aused) return 0;
    size_t n = tc_decode(&t->tc, r.code, r.ck, buf, TRIE_MAX_KEY);
    return n == TC_BAD ? 0 : (uint32_t)n;
}

static int chk_id(struct chk *c, uint32_t id) {
    const trie *t = c->t;
    if (id >= t->nids) CHK_FAIL(c, "key id %u out of range (bound %u)", id, t->nids);
    uint32_t off = t->refs[id].off;
    if (off == NONE) CHK_FAIL(c, "key id %u is reachable but free", id);
    if (c->seen_ids[id]) CHK_FAIL(c, "key id %u reachable twice", id);
    c->seen_ids[id] = 1;
    /* a chunk holds >= ARENA_MIN (= KHDR_MAX) bytes: the header is readable */
    if ((uint64_t)off + ARENA_MIN > t->aused) CHK_FAIL(c, "key id %u: arena block out of bounds", id);
    kview r = kv_at(t, off);
    if (r.ck == 0 || r.ck > KCODE_MAX || r.cd > KCODE_MAX ||
        (uint64_t)(r.code - (const uint8_t *)(t->arena + off)) != khdr_size(r.ck, r.cd) ||
        ((uint8_t)t->arena[off] & 1) != (r.cd != 0))
        CHK_FAIL(c, "key id %u: bad lengths", id);
    size_t cb = kchunk_bytes(r.ck, r.cd);
    if ((uint64_t)off + chunk_size(cb) > t->aused)
        CHK_FAIL(c, "key id %u: arena block out of bounds", id);
    if (!isfinite(t->refs[id].score)) CHK_FAIL(c, "key id %u: non-finite score", id);
    char kb[TRIE_MAX_KEY], db[TRIE_MAX_KEY];
    size_t kl = tc_decode(&t->tc, r.code, r.ck, kb, sizeof kb);
    if (kl == TC_BAD || kl == 0) CHK_FAIL(c, "key id %u: key does not decode", id);
    if (r.cd) {
        size_t dl = tc_decode(&t->tc, r.code + r.ck, r.cd, db, sizeof db);
        if (dl == TC_BAD || dl == 0) CHK_FAIL(c, "key id %u: display does not decode", id);
        if (dl == kl && memcmp(kb, db, kl) == 0)
            CHK_FAIL(c, "key id %u: display stored although equal to key", id);
    }
    c->keys++;
    c->abytes += chunk_size(cb);
    c->kbytes += (uint64_t)r.ck + r.cd;
    return 0;
}

/* Marks the pool units [r, r + units) of one chunk (live or free) as seen:
 * 0, or -1 when one is out of bounds or already in another chunk. */
static int chk_units(struct chk *c, uint32_t r, uint64_t units) {
    if ((uint64_t)r + units > c->t->kused) return -1;
    for (uint64_t i = r; i < r + units; i++)
        if (c->seen_units[i]++) return -1;
    return 0;
}

static int chk_node(struct chk *c, uint32_t n, uint32_t pdepth, uint32_t *best_out) {
    const trie *t = c->t;
    if ((uint64_t)n + NODE_UNITS > t->kused) CHK_FAIL(c, "node %u out of range", n);
    if (c->seen_units[n]) CHK_FAIL(c, "node %u reachable twice, or inside another chunk", n);
    const tnode *nd = NODE(t, n);
    if (nd->nkids == NODE_FREE_MARK) CHK_FAIL(c, "node %u is reachable but free", n);
    if (nd->nkids > MAX_FANOUT) CHK_FAIL(c, "node %u: %u children", n, nd->nkids);
    uint64_t units = n == ROOT ? ROOT_UNITS : CHUNK_UNITS(nd->nkids);
    if (chk_units(c, n, units)) CHK_FAIL(c, "node %u: chunk out of bounds or overlapping another", n);
    c->kunits += units;
    c->nodes++;
    uint32_t d = nd->depth;
    if (n == 0) {
        if (d != 0 || nd->term != NONE) CHK_FAIL(c, "root has depth %u / a key", d);
        if (nd->e2 != 0) CHK_FAIL(c, "root has a second edge byte %u", nd->e2);
    } else {
        if (d <= pdepth || d > TRIE_MAX_KEY) CHK_FAIL(c, "node %u: depth %u under %u", n, d, pdepth);
        if (!(nd->nkids >= 2 || (nd->nkids == 1 && nd->term != NONE)))
            CHK_FAIL(c, "node %u not compressed (%u children, %s key)", n, nd->nkids,
                     nd->term == NONE ? "no" : "a");
        uint32_t b = nd->best;
        if (chk_decode(t, b, c->tmp) < d) CHK_FAIL(c, "node %u: bad best %u", n, b);
        memcpy(c->path + pdepth, c->tmp + pdepth, d - pdepth);
        /* the second edge byte (struct tnode): 0 on a one-byte edge */
        unsigned e2 = d >= pdepth + 2 ? (uint8_t)c->path[pdepth + 1] : 0;
        if (nd->e2 != e2) CHK_FAIL(c, "node %u: second edge byte %u, the edge's is %u", n, nd->e2, e2);
    }
    uint32_t best = NONE;
    if (nd->term != NONE) {
        if (chk_id(c, nd->term)) return -1;
        if (chk_decode(t, nd->term, c->tmp) != d || memcmp(c->tmp, c->path, d))
            CHK_FAIL(c, "node %u: key %u does not spell the path", n, nd->term);
        best = nd->term;
    }
    uint8_t used[MAX_FANOUT] = {0};
    uint32_t prev = NONE;
    for (uint32_t i = 0; i < nd->nkids; i++) {
        uint32_t r = kid_refs(t, nd)[i], cb;
        uint8_t byte = kid_bytes(t, nd)[i];
        char *ck = c->tmp;
        if (used[byte]) CHK_FAIL(c, "node %u: two children start with byte %u", n, byte);
        used[byte] = 1;
        if (r & LEAF) {
            cb = r & ~LEAF;
            if (chk_id(c, cb)) return -1;
            if (chk_decode(t, cb, ck) <= d || memcmp(ck, c->path, d))
                CHK_FAIL(c, "node %u: leaf key %u does not extend the path", n, cb);
        } else if (chk_node(c, r, d, &cb)) {
            return -1;
        } else if (chk_decode(t, cb, ck) <= d) {
            CHK_FAIL(c, "node %u: child %u best key too short", n, i);
        }
        if ((uint8_t)ck[d] != byte) CHK_FAIL(c, "node %u: child %u byte mismatch", n, i);
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
    if (!t->kids || t->kused < ROOT_UNITS || t->kcap < t->kused || t->kcap > MAX_UNITS)
        CHK_FAIL(&c, "no root, or pool bounds wrong (%llu used of %llu units)",
                 (unsigned long long)t->kused, (unsigned long long)t->kcap);
    c.seen_ids = qcalloc(t->nids + 1, 1);
    c.seen_units = qcalloc(t->kused, 1);
    int rc = -1;
    uint32_t best;
    if (!c.seen_ids || !c.seen_units) {
        if (err && errlen) snprintf(err, errlen, "out of memory while checking");
        goto out;
    }
    if (chk_node(&c, ROOT, 0, &best)) goto out;
#define CHK_GOTO(...)                                                                            \
    do {                                                                                         \
        if (err && errlen) snprintf(err, errlen, __VA_ARGS__);                                  \
        goto out;                                                                                \
    } while (0)
    /* every short-prefix list equals a fresh walk */
    for (uint32_t a = 0; a < 257; a++) {
        char p[2] = {(char)(a ? a - 1 : 0), 0};
        size_t pl = a ? 1 : 0;
        uint32_t h[TRIE_CACHE_K];
        for (uint32_t b = 0; b < (a ? 257u : 1u); b++) {
            if (b) {
                p[1] = (char)(b - 1);
                pl = 2;
            }
            const centry *e = &t->cache[cache_slot(p, pl)];
            int n = trie__topk_walk(t, p, pl, TRIE_CACHE_K, h);
            if (e->n != (uint32_t)n)
                CHK_GOTO("cache for prefix of %zu bytes (%02x %02x): %u keys, walk finds %d", pl,
                         (uint8_t)p[0], (uint8_t)p[1], e->n, n);
            for (int i = 0; i < n; i++)
                if (e->id[i] != h[i])
                    CHK_GOTO("cache for prefix of %zu bytes (%02x %02x): entry %d is id %u, walk "
                             "finds %u", pl, (uint8_t)p[0], (uint8_t)p[1], i, e->id[i], h[i]);
            if (pl == 1 && n == 0) { /* no key below: its 2-byte slots must be empty */
                for (uint32_t x = 0; x < 256; x++)
                    if (t->cache[cache_slot((char[2]){p[0], (char)x}, 2)].n)
                        CHK_GOTO("cache for absent prefix %02x %02x not empty", (uint8_t)p[0], x);
                break;
            }
        }
    }
    /* every heavy-prefix list equals a fresh walk and is found by its prefix */
    if ((t->nheavy == 0) != (t->htab == NULL) || (t->nheavy == 0) != (t->hmaxlen == 0) ||
        t->hmaxlen > HEAVY_MAX_PLEN)
        CHK_GOTO("heavy cache header inconsistent");
    for (uint32_t i = 0; i < t->nheavy; i++) {
        const hentry *he = &t->heavy[i];
        uint32_t h[TRIE_CACHE_K];
        if (he->plen <= TRIE_CACHE_DEPTH || he->plen > t->hmaxlen)
            CHK_GOTO("heavy prefix %u has length %u", i, he->plen);
        if (heavy_find(t, he->p, he->plen) != &he->c)
            CHK_GOTO("heavy prefix %u (%u bytes) not found in its table", i, he->plen);
        int n = trie__topk_walk(t, he->p, he->plen, TRIE_CACHE_K, h);
        if (he->c.n != (uint32_t)n)
            CHK_GOTO("heavy prefix %u (%u bytes): %u keys, walk finds %d", i, he->plen, he->c.n, n);
        for (int j = 0; j < n; j++)
            if (he->c.id[j] != h[j])
                CHK_GOTO("heavy prefix %u (%u bytes): entry %d is id %u, walk finds %u", i,
                         he->plen, j, he->c.id[j], h[j]);
    }
    if (c.keys != t->count)
        CHK_GOTO("%llu keys reachable, count says %llu", (unsigned long long)c.keys,
                 (unsigned long long)t->count);
    if (c.nodes != t->nlive) CHK_GOTO("%llu nodes reachable, %u live", (unsigned long long)c.nodes, t->nlive);
    if (c.kunits != t->klive) CHK_GOTO("node pool accounting off: %llu units in live chunks, %llu counted",
                                       (unsigned long long)c.kunits, (unsigned long long)t->klive);
    if (c.abytes != t->alive || c.kbytes != t->kbytes) CHK_GOTO("arena accounting off");
    uint64_t nfree = 0;
    for (uint32_t f = t->idfree; f != NONE; f = kfree_next(t, f)) {
        if (f >= t->nids || id_live(t, f) || ++nfree > t->nids) CHK_GOTO("id free list broken");
    }
    if (nfree + t->count != t->nids) CHK_GOTO("ids: %llu free + %llu live != bound %u",
                                              (unsigned long long)nfree, (unsigned long long)t->count, t->nids);
    /* free chunks: each on the list of its class, overlapping nothing;
     * with the live ones they tile the used units */
    uint64_t funits = 0;
    for (uint32_t s = 0; s <= MAX_FANOUT; s++) {
        for (uint32_t f = t->kfree[s]; f != NONE; f = NODE(t, f)->term) {
            if ((uint64_t)f + NODE_UNITS > t->kused || NODE(t, f)->nkids != NODE_FREE_MARK ||
                NODE(t, f)->best != s || chk_units(&c, f, CHUNK_UNITS(s)))
                CHK_GOTO("node free list %u broken at unit %u", s, f);
            funits += CHUNK_UNITS(s);
        }
    }
    if (funits + t->klive != t->kused)
        CHK_GOTO("node pool: %llu free + %llu live units != %llu used", (unsigned long long)funits,
                 (unsigned long long)t->klive, (unsigned long long)t->kused);
    for (uint32_t s = 0; s < ARENA_CLASSES; s++) {
        uint64_t steps = 0;
        for (uint32_t f = t->afree[s]; f != NONE;) {
            if (s < ARENA_MIN || f + (uint64_t)s > t->aused || ++steps > t->aused)
                CHK_GOTO("arena free list %u broken", s);
            memcpy(&f, t->arena + f, 4);
        }
    }
    if (trie__pf_check(t, err, errlen)) goto out;
#undef CHK_GOTO
    rc = 0;
out:
    qfree(c.seen_ids);
    qfree(c.seen_units);
    return rc;
}

