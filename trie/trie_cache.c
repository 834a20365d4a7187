/* trie_cache.c -- the prefix caches, both lists of exact top-TRIE_CACHE_K
 * ids, best first, kept exact on every change by trie__cache_note and
 * refilled by walks after a bulk build or load (trie__cache_rebuild):
 *   - short-prefix cache: every prefix of 0..TRIE_CACHE_DEPTH bytes
 *     (1 + 256 + 65536 slots, indexed by cache_slot() in trie_internal.h);
 *   - heavy-prefix cache: the prefixes of TRIE_CACHE_DEPTH+1..HEAVY_MAX_PLEN
 *     bytes that matched >= t->hmin keys at the last rebuild, in an open-
 *     addressing hash (heavy_find() in trie_internal.h). The SET of heavy
 *     prefixes is fixed between rebuilds (changes keep each list exact but
 *     add or drop no prefix; a save/load re-chooses it), so a list may hold
 *     fewer than TRIE_CACHE_K ids: then it holds every key with its prefix.
 * trie_topk (trie.c) serves k <= TRIE_CACHE_K on such prefixes from here;
 * trie_check (trie_check.c) compares every list with a fresh walk.
 */
#include "trie/trie_internal.h"

#include <string.h>

#include "common/alloc.h"

/* ------------------------------------------------------- short-prefix cache */

/* The heavy queries are the short prefixes: one- and two-byte prefixes match
 * most of the trie, and their walks touch the most scattered lines. Every
 * prefix of 0..2 bytes has a slot with its exact top-TRIE_CACHE_K ids, kept
 * exact on every change: a key that rises (or is new) is merged into the
 * lists of its (at most 3) prefixes in place; a listed key that falls or goes
 * from a full list makes that list be recomputed by a walk (the next key
 * down is unknown), else it is moved or dropped in place. Readers never
 * write, so concurrent readers stay safe. */

static void entry_fill(trie *t, centry *e, const char *p, size_t plen) {
    e->n = (uint32_t)trie__topk_walk(t, p, plen, TRIE_CACHE_K, e->id);
}

static void cache_fill(trie *t, const char *p, size_t plen) {
    entry_fill(t, &t->cache[cache_slot(p, plen)], p, plen);
}

/* ------------------------------------------------------- heavy-prefix cache */

/* Why: the slow tail of top-k is the 3..6-byte prefixes with huge subtrees
 * (a walk there touches ~40 scattered lines); there are few of them (about
 * one per HEAVY_MIN_KEYS keys times the edge bytes they span), so listing
 * them costs little memory. A query hashes its prefix once (the table is
 * small and hot) before deciding to walk. */

void trie__heavy_free(trie *t) {
    qfree(t->heavy);
    qfree(t->htab);
    t->heavy = NULL;
    t->htab = NULL;
    t->nheavy = t->hmask = t->hmaxlen = 0;
}

typedef struct hbuild {
    hentry *v;
    uint32_t n, cap;
    int failed;
} hbuild;

/* Adds prefixes [lo, hi] of node n's path (they all name n's subtree). */
static void heavy_add(trie *t, hbuild *b, uint32_t n, size_t lo, size_t hi) {
    char key[TRIE_MAX_KEY];
    kdecode(t, NODE(t, n)->best, key); /* spells n's path */
    centry c;
    entry_fill(t, &c, key, lo);
    for (size_t l = lo; l <= hi && !b->failed; l++) {
        if (b->n == HEAVY_MAX_ENTRIES) return;
        if (b->n == b->cap) {
            uint32_t nc = b->cap ? b->cap * 2 : 1024;
            hentry *v = qrealloc(b->v, (size_t)nc * sizeof *v);
            if (!v) {
                b->failed = 1;
                return;
            }
            b->v = v;
            b->cap = nc;
        }
        hentry *e = &b->v[b->n++];
        e->c = c;
        e->plen = (uint8_t)l;
        memcpy(e->p, key, l);
    }
}

/* Keys below node n (whose parent is at depth pdepth), capped: once it is
 * known to be >= hmin and no child can hold a short enough prefix, the
 * count stops. Adds n's prefixes when heavy. Recursion depth <= nodes on one
 * path (<= TRIE_MAX_KEY + 1). */
static uint64_t heavy_visit(trie *t, hbuild *b, uint32_t n, size_t pdepth) {
    const tnode *nd = NODE(t, n);
    uint64_t cnt = nd->term != NONE;
    int kids_matter = nd->depth < HEAVY_MAX_PLEN;
    for (uint32_t i = 0; i < nd->nkids; i++) {
        if (!kids_matter && cnt >= t->hmin) break;
        uint32_t r = kid_refs(t, nd)[i];
        cnt += (r & LEAF) ? 1 : heavy_visit(t, b, r, nd->depth);
        nd = NODE(t, n);
    }
    size_t lo = pdepth + 1 > TRIE_CACHE_DEPTH + 1 ? pdepth + 1 : TRIE_CACHE_DEPTH + 1;
    size_t hi = nd->depth < HEAVY_MAX_PLEN ? nd->depth : HEAVY_MAX_PLEN;
    if (n != 0 && cnt >= t->hmin && lo <= hi) heavy_add(t, b, n, lo, hi);
    return cnt;
}

static void heavy_rebuild(trie *t) {
    trie__heavy_free(t);
    if (NODE(t, 0)->best == NONE) return;
    hbuild b = {0};
    heavy_visit(t, &b, 0, 0);
    if (b.failed || b.n == 0) {
        qfree(b.v);
        return;
    }
    if (b.n < b.cap) { /* exact size */
        hentry *v = qrealloc(b.v, (size_t)b.n * sizeof *v);
        if (v) b.v = v;
    }
    uint32_t slots = 16;
    while (slots < 2u * b.n) slots *= 2;
    uint32_t *tab = qcalloc(slots, sizeof *tab);
    if (!tab) {
        qfree(b.v);
        return;
    }
    uint32_t maxlen = 0;
    for (uint32_t e = 0; e < b.n; e++) {
        uint32_t i = heavy_hash(b.v[e].p, b.v[e].plen) & (slots - 1);
        while (tab[i]) i = (i + 1) & (slots - 1);
        tab[i] = e + 1;
        if (b.v[e].plen > maxlen) maxlen = b.v[e].plen;
    }
    t->heavy = b.v;
    t->nheavy = b.n;
    t->htab = tab;
    t->hmask = slots - 1;
    t->hmaxlen = maxlen;
}

/* Recomputes every slot and re-chooses the heavy prefixes (after a bulk
 * build or load). */
void trie__cache_rebuild(trie *t) {
    trie__pf_rebuild(t); /* the typo walk's prefix filter (trie_pfx.c) */
    heavy_rebuild(t);
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

/* Key `id` (with prefix key[0, pl)) rose, fell or went: fix list e. */
static void note_one(trie *t, centry *e, const char *key, size_t pl, uint32_t id, int how) {
    uint32_t at = NONE;
    for (uint32_t i = 0; i < e->n; i++)
        if (e->id[i] == id) {
            at = i;
            break;
        }
    if (how != CN_UP) {
        if (at == NONE) return; /* it was not listed and only fell */
        if (e->n == TRIE_CACHE_K) { /* the next key down is unknown */
            entry_fill(t, e, key, pl);
            return;
        }
    }
    if (at != NONE) { /* take it out, then put it back where it belongs */
        memmove(&e->id[at], &e->id[at + 1], (e->n - at - 1) * sizeof e->id[0]);
        e->n--;
    }
    if (how == CN_GONE) return;
    uint32_t i = 0;
    while (i < e->n && better(t, e->id[i], id)) i++;
    if (i == TRIE_CACHE_K) return; /* ranks below a full list */
    uint32_t keep = e->n < TRIE_CACHE_K ? e->n : TRIE_CACHE_K - 1;
    memmove(&e->id[i + 1], &e->id[i], (keep - i) * sizeof e->id[0]);
    e->id[i] = id;
    e->n = keep + 1;
}

void trie__cache_note(trie *t, const char *key, size_t klen, uint32_t id, int how) {
    for (size_t pl = 0; pl <= TRIE_CACHE_DEPTH && pl <= klen; pl++)
        note_one(t, &t->cache[cache_slot(key, pl)], key, pl, id, how);
    for (size_t pl = TRIE_CACHE_DEPTH + 1; pl <= t->hmaxlen && pl <= klen; pl++) {
        centry *e = heavy_find(t, key, pl);
        if (e) note_one(t, e, key, pl, id, how);
    }
}
