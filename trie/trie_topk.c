/* trie_topk.c -- the trie's best-first top-k walk (trie_topk, the cache's
 * misses) and the ordered walk (trie_foreach, trie_foreach_prefix, and
 * trie__walk_sorted for the builders of other indexes). Moved out of
 * trie.c as it is; the layout they read and the hot helpers they inline
 * are trie_internal.h's, the design essay trie.h's.
 *
 * Top-k (trie__topk_walk): from the prefix's node, descend along the best
 * path (children order by score, so a node's best key is its own key or in
 * its first child), emit that key, and leave on a frontier what was passed
 * by: each node's own key and its second child, which stands for itself and
 * its later siblings. Then pop the frontier's best entry: a key is emitted;
 * a child pushes its next sibling and is descended as above. The frontier
 * keeps only the entries that can still make the top k (sorted worst ..
 * best; ties by key bytes, decoded once per walk). Prefixes of 0..2 bytes
 * and heavy ones are answered by the caches (trie_cache.c) before this
 * walk is needed.
 */
#include "trie/trie_internal.h"

#include <string.h>

/* ------------------------------------------------------------------- top-k */

/* A frontier entry: one key (par == NONE), or child `slot` of node `par`
 * standing for itself and all its later siblings. `id` is the best key of
 * what the entry stands for, `s` its score; `txt` (>= 0) is where its key,
 * once decoded to break a tie, sits in the frontier's text buffer. */
typedef struct fent {
    double s;
    uint32_t id, par, slot;
    int32_t txt;
    uint32_t tlen;
} fent;

/* Decoded keys of entries that tied on score: equal scores are common in the
 * long tail (many keys counted once), and each entry is then compared
 * log2(k) times; decoding each key once per walk keeps that cheap. Past
 * FR_TEXT bytes keys are decoded per comparison (correct, slower). */
#define FR_TEXT 8192

typedef struct frontier {
    const trie *t;
    fent e[TRIE_MAX_K + 1]; /* sorted worst .. best; e[n-1] is popped next */
    unsigned n;
    unsigned tused;
    char text[FR_TEXT];
} frontier;

/* The key of entry x: cached in f->text, or decoded into tmp. */
static const char *fent_key(frontier *f, fent *x, char *tmp) {
    if (x->txt >= 0) return f->text + x->txt;
    if (f->tused + TRIE_MAX_KEY <= FR_TEXT) {
        x->txt = (int32_t)f->tused;
        x->tlen = kdecode(f->t, x->id, f->text + f->tused);
        f->tused += x->tlen;
        return f->text + x->txt;
    }
    x->tlen = kdecode(f->t, x->id, tmp);
    return tmp;
}

static inline int fent_before(frontier *f, fent *a, fent *b) {
    if (a->s != b->s) return a->s > b->s;
    char ta[TRIE_MAX_KEY], tb[TRIE_MAX_KEY];
    const char *ka = fent_key(f, a, ta), *kb = fent_key(f, b, tb);
    return keycmp(ka, a->tlen, kb, b->tlen) < 0;
}

/* Push keeping at most cap entries: every pop yields at least one key, so
 * entries ranked beyond the keys still wanted can never be reached. Every
 * push is followed by at least one emitted key (the descent that pushed it
 * ends in one), so callers pass cap = k - emitted - 1. */
static void fr_push(frontier *f, uint32_t id, uint32_t par, uint32_t slot, unsigned cap) {
    const trie *t = f->t;
    fent x = {t->refs[id].score, id, par, slot, -1, 0};
    if (cap == 0) return;
    if (f->n >= cap) {
        if (!fent_before(f, &x, &f->e[0])) return;
        memmove(&f->e[0], &f->e[1], (f->n - 1) * sizeof(fent));
        f->n--;
    }
    unsigned lo = 0, hi = f->n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (fent_before(f, &x, &f->e[mid])) lo = mid + 1;
        else hi = mid;
    }
    memmove(&f->e[lo + 1], &f->e[lo], (f->n - lo) * sizeof(fent));
    f->e[lo] = x;
    f->n++;
}

/* The subtree of the keys starting with prefix (it may end inside an
 * edge): 0 none, 1 a single leaf (*at = its id), 2 node *at. */
static inline int locate(const trie *t, const char *prefix, size_t plen, uint32_t *at) {
    uint32_t n = 0;
    size_t pos = 0;
    while (pos < plen) {
        const tnode *nd = NODE(t, n);
        int s = kid_find(t, nd, (uint8_t)prefix[pos]);
        if (s < 0) return 0;
        uint32_t r = kid_refs(t, nd)[s];
        if (r & LEAF) {
            *at = r & ~LEAF;
            return kprefix_is(t, *at, prefix, plen) ? 1 : 0;
        }
        __builtin_prefetch(kid_refs(t, NODE(t, r)));
        pos = NODE(t, r)->depth;
        n = r;
    }
    if (NODE(t, n)->best == NONE) return 0; /* empty trie */
    /* PATRICIA: only first bytes were followed; the best key below n spells
     * n's whole path, so one comparison verifies every skipped byte */
    if (plen && !kprefix_is(t, NODE(t, n)->best, prefix, plen)) return 0;
    *at = n;
    return 2;
}

/* The uncached best-first walk (arguments already checked). */
int trie__topk_walk(const trie *t, const char *prefix, size_t plen, unsigned k, uint32_t *out) {
    uint32_t n;
    int where = locate(t, prefix, plen, &n);
    if (where != 2) {
        if (where == 1) out[0] = n;
        return where;
    }

    frontier f;
    f.t = t;
    f.n = 0;
    f.tused = 0;
    unsigned got = 0;
    uint32_t descend = n;
    for (;;) {
        /* descend from node `descend` along its best path, leaving the
         * alternatives on the frontier, and emit its best key */
        while (descend != NONE) {
            const tnode *nd = NODE(t, descend);
            uint32_t b = nd->best;
            if (nd->term == b) {
                if (nd->nkids) fr_push(&f, ref_best(t, kid_refs(t, nd)[0]), descend, 0, k - got - 1);
                out[got++] = b;
                break;
            }
            uint32_t r = kid_refs(t, nd)[0];
            /* start the next level's miss now: the pushes below wait on
             * their own misses and branch on them */
            if (r & LEAF) __builtin_prefetch(&t->refs[r & ~LEAF]);
            else __builtin_prefetch(NODE(t, r));
            if (nd->term != NONE) fr_push(&f, nd->term, NONE, 0, k - got - 1);
            if (nd->nkids > 1) fr_push(&f, ref_best(t, kid_refs(t, nd)[1]), descend, 1, k - got - 1);
            if (r & LEAF) {
                out[got++] = r & ~LEAF;
                break;
            }
            descend = r;
        }
        descend = NONE;
        if (got >= k || f.n == 0) break;
        fent e = f.e[--f.n];
        if (e.par == NONE) {
            out[got++] = e.id;
            continue;
        }
        const tnode *pn = NODE(t, e.par);
        const uint32_t *pr = kid_refs(t, pn);
        if (e.slot + 1 < pn->nkids)
            fr_push(&f, ref_best(t, pr[e.slot + 1]), e.par, e.slot + 1, k - got - 1);
        uint32_t r = pr[e.slot];
        if (r & LEAF) out[got++] = r & ~LEAF;
        else descend = r;
    }
    return (int)got;
}

int trie_topk(const trie *t, const char *prefix, size_t plen, unsigned k, trie_hit *out) {
    if (!t || k == 0 || k > TRIE_MAX_K || (plen && !prefix)) return TRIE_EINVAL;
    uint32_t ids[TRIE_MAX_K];
    const uint32_t *src = ids;
    int n;
    const centry *e = NULL;
    if (k <= TRIE_CACHE_K)
        e = plen <= TRIE_CACHE_DEPTH ? &t->cache[cache_slot(prefix, plen)] : heavy_find(t, prefix, plen);
    if (e) {
        n = (int)(e->n < k ? e->n : k);
        src = e->id;
    } else {
        n = trie__topk_walk(t, prefix, plen, k, ids);
    }
    for (int i = 0; i < n; i++) {
        if (i + 1 < n) __builtin_prefetch(&t->refs[src[i + 1]]);
        fill_hit(t, src[i], &out[i]);
    }
    return n;
}

/* ------------------------------------------------------------ ordered walk */

typedef struct wframe {
    uint32_t node;
    uint16_t i, n;
    uint8_t order[MAX_FANOUT]; /* child slots by first byte */
} wframe;

/* Calls fn(ud, id) for every key below node `from` in key order; stops on
 * non-zero. */
static int walk_sorted_from(const trie *t, uint32_t from, int (*fn)(void *ud, uint32_t id), void *ud) {
    wframe st[MAX_PATH]; /* ~136 KB of stack: one frame per node on a path */
    int sp = 0, rc;
    uint32_t n = from;
    for (;;) {
        if (n != NONE) { /* enter node n */
            const tnode *nd = NODE(t, n);
            if (nd->term != NONE && (rc = fn(ud, nd->term))) return rc;
            wframe *w = &st[sp++];
            w->node = n;
            w->i = 0;
            w->n = nd->nkids;
            /* no kid_bytes() for a childless node: in a fresh trie the
             * child pool is NULL, and NULL + 0 is undefined (UBSan) */
            const uint8_t *b = w->n ? kid_bytes(t, nd) : NULL;
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
        uint32_t r = kid_refs(t, NODE(t, w->node))[w->order[w->i++]];
        if (r & LEAF) {
            if ((rc = fn(ud, r & ~LEAF))) return rc;
        } else {
            n = r;
        }
    }
}

/* Calls fn(ud, id) for every key in key order; stops on non-zero. */
int trie__walk_sorted(const trie *t, int (*fn)(void *ud, uint32_t id), void *ud) {
    return walk_sorted_from(t, 0, fn, ud);
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
    return trie__walk_sorted(t, foreach_cb, &c);
}

int trie_foreach_prefix(const trie *t, const char *prefix, size_t plen,
                        int (*fn)(void *ud, const trie_hit *hit), void *ud) {
    struct foreach_ctx c = {t, fn, ud};
    uint32_t at;
    int where = locate(t, prefix, plen, &at);
    return where == 2 ? walk_sorted_from(t, at, foreach_cb, &c) : where == 1 ? foreach_cb(&c, at) : 0;
}
