/* trie_cache.c -- the short-prefix cache: the exact top-TRIE_CACHE_K ids of
 * every prefix of 0..TRIE_CACHE_DEPTH bytes (1 + 256 + 65536 slots, indexed
 * by cache_slot() in trie_internal.h), kept exact on every change by
 * trie__cache_note and refilled by walks after a bulk build or load
 * (trie__cache_rebuild). trie_topk (trie.c) serves k <= TRIE_CACHE_K on
 * such prefixes from here; trie_check (trie_check.c) compares every slot
 * with a fresh walk.
 */
#include "trie/trie_internal.h"

#include <string.h>

/* ------------------------------------------------------- short-prefix cache */

/* The heavy queries are the short prefixes: one- and two-byte prefixes match
 * most of the trie, and their walks touch the most scattered lines. Every
 * prefix of 0..2 bytes has a slot with its exact top-TRIE_CACHE_K ids, kept
 * exact on every change: a key that rises (or is new) is merged into the
 * lists of its (at most 3) prefixes in place; a listed key that falls or goes
 * from a full list makes that list be recomputed by a walk (the next key
 * down is unknown), else it is moved or dropped in place. Readers never
 * write, so concurrent readers stay safe. */

static void cache_fill(trie *t, const char *p, size_t plen) {
    trie_hit h[TRIE_CACHE_K];
    centry *e = &t->cache[cache_slot(p, plen)];
    int n = trie__topk_walk(t, p, plen, TRIE_CACHE_K, h);
    e->n = (uint32_t)n;
    for (int i = 0; i < n; i++) e->id[i] = h[i].id;
}

/* Recomputes every slot (after a bulk build or load). */
void trie__cache_rebuild(trie *t) {
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

void trie__cache_note(trie *t, const char *key, size_t klen, uint32_t id, int how) {
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

