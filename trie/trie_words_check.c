/* trie_words_check.c -- trie_words_check: the word index against its trie,
 * every invariant the search relies on (trie_words.c has the design):
 *   - every live key indexed at one rank, its bound at or above its score,
 *     its signature its words' (tw_sig), and its rank in the list of each
 *     of its distinct words, under every level of that list's bound tree
 *     and under the word's own bound;
 *   - every live rank names a live key at that rank; the tw_exact keys in
 *     rank order by score, then key (the search's tie rule);
 *   - every list: its room within what the ranks can fill, its packed
 *     blocks where the layout puts them (block and group starts, widths),
 *     its ranks ascending and its live count right; the index's key,
 *     posting, word and byte counts equal to what the lists hold.
 * O(postings); for the tests and fuzz harnesses, never on a request.
 */
#include <stdio.h>
#include <string.h>

#include "trie/trie_words_internal.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return -1;                                                                                 \
    } while (0)

/* The tw_exact keys, in rank order, by score descending, then key order
 * (what the search's tie rule relies on). */
static int check_exact_order(const trie_words *w, const trie *t, char *err, size_t errlen) {
    char prev[TRIE_MAX_KEY], key[TRIE_MAX_KEY];
    uint32_t pl = 0, have = 0;
    double ps = 0;
    for (uint32_t r = 0; r < w->next_rank; r++) {
        uint32_t id = w->rr[r].id;
        if (id == NONE || !tw_exact(w, id, t->refs[id].score)) continue;
        double s = t->refs[id].score;
        uint32_t kl = kdecode(t, id, key);
        if (have && (s > ps || (s == ps && keycmp(prev, pl, key, kl) >= 0)))
            FAIL("rank %u: key id %u at its bound's score %g out of (score, key) order", r, id, s);
        memcpy(prev, key, kl);
        pl = kl, ps = s, have = 1;
    }
    return 0;
}

int trie_words_check(const trie_words *w, const trie *t, char *err, size_t errlen) {
    uint64_t keys = 0, post = 0;
    for (uint32_t id = 0; id < t->nids; id++) {
        if (!id_live(t, id)) continue;
        keys++;
        uint32_t rk = tw_rank(w, id);
        if (rk == NONE) FAIL("key id %u not indexed", id);
        if (bval(w->kb[id]) < t->refs[id].score) FAIL("key id %u: bound under its score", id);
        char key[TRIE_MAX_KEY];
        uint32_t kl = kdecode(t, id, key);
        if (w->rr[rk].sig != tw_sig(key, kl)) FAIL("key id %u: signature %08x, its words give %08x", id, w->rr[rk].sig, tw_sig(key, kl));
        uint16_t o[TW_MAXKW], l[TW_MAXKW];
        int n = trie_words__distinct(key, o, l, trie_words__split(key, kl, o, l));
        for (int i = 0; i < n; i++) {
            uint32_t wid = trie_words__lookup(w->wt, key + o[i], l[i]);
            if (wid == NONE) FAIL("key id %u: word '%.*s' not in the dictionary", id, l[i], key + o[i]);
            const tw_word *x = &w->w[wid];
            uint32_t pos = trie_words__find_pos(w, x, rk);
            if (pos == NONE) FAIL("key id %u: not in the list of '%.*s'", id, l[i], key + o[i]);
            /* a list grows its entries only when they are full (tw_post_append), so
             * its room stays within what its ranks can fill (trie_words_load's bound) */
            if (x->cap > (uint64_t)w->next_rank * 2 + 64)
                FAIL("list of '%.*s': room for %u entries, only %u ranks", l[i], key + o[i], x->cap, w->next_rank);
            uint32_t off[TW_MAXLV], sz[TW_MAXLV], tot;
            int nl = tw_levels(x->cap, off, sz, &tot);
            for (int lv = 0; lv < nl; lv++)
                if (tw_mx(x)[off[lv] + (pos >> (TW_FB * (lv + 1)))] < w->kb[id])
                    FAIL("key id %u: tree bound of '%.*s' level %d too low", id, l[i], key + o[i], lv);
            if (x->top < w->kb[id] || w->wt->refs[wid].score != bval_fin(x->top))
                FAIL("key id %u: word bound of '%.*s' too low", id, l[i], key + o[i]);
        }
        post += (uint64_t)n;
    }
    for (uint32_t r = 0; r < w->next_rank; r++) /* a live rank's key: its rank is r (one rank a key) */
        if (w->rr[r].id != NONE && (w->rr[r].id >= t->nids || !id_live(t, w->rr[r].id) || tw_rank(w, w->rr[r].id) != r))
            FAIL("rank %u names key id %u, which is not live at that rank", r, w->rr[r].id);
    if (check_exact_order(w, t, err, errlen)) return -1;
    if (keys != w->keys) FAIL("index holds %llu keys, trie %llu", (unsigned long long)w->keys, (unsigned long long)keys);
    if (post != w->postings) FAIL("index holds %llu postings, keys have %llu", (unsigned long long)w->postings, (unsigned long long)post);
    uint64_t live = 0, words = 0, lbytes = 0;
    for (uint32_t i = 0; i < w->wcap; i++) {
        const tw_word *x = &w->w[i];
        if (!x->p) continue;
        words++;
        lbytes += tw_list_bytes(x->cap, x->gcap);
        uint32_t nlive = 0, prev = 0, rk[TW_F], gend = 0;
        if (x->n > x->cap || x->gn > x->gcap) FAIL("word %u: %u entries, %u gap bytes: over the room", i, x->n, x->gn);
        if (x->goff != tw_head_bytes(x->cap)) FAIL("word %u: gap bytes at %u, the layout says %llu", i, x->goff,
                                                   (unsigned long long)tw_head_bytes(x->cap));
        for (uint32_t b = 0; b < tw_nblk(x->n); b++) {
            uint32_t cnt = x->n - (b << TW_FB) < TW_F ? x->n - (b << TW_FB) : TW_F, W = tw_bw(x)[b];
            if ((b & (TW_F - 1)) == 0 && tw_goff(x)[b >> TW_FB] != gend)
                FAIL("word %u: block group %u starts at %u, its blocks at %u", i, b >> TW_FB, tw_goff(x)[b >> TW_FB], gend);
            if (W > 32 || tw_boff(x, b) != gend) FAIL("word %u: block %u: width %u, start %u", i, b, W, gend);
            gend += tw_pk_bytes(cnt - 1, W);
            uint32_t nr = tw_block(x, b, rk);
            for (uint32_t j = 0; j < nr; j++) {
                uint32_t r = rk[j];
                if (r >= w->next_rank || ((b || j) && r <= prev)) FAIL("word %u: list out of rank order", i);
                prev = r;
                uint32_t id = w->rr[r].id;
                if (id == NONE) continue;
                if (id >= t->nids || !id_live(t, id) || tw_rank(w, id) != r) FAIL("word %u lists dead id %u", i, id);
                nlive++;
            }
        }
        if (gend != x->gn) FAIL("word %u: blocks of %u gap bytes, count says %u", i, gend, x->gn);
        if (x->n && prev != x->last) FAIL("word %u: last rank %u, the list ends with %u", i, x->last, prev);
        if (nlive != x->live || nlive == 0) FAIL("word %u: %u live entries, count says %u", i, nlive, x->live);
        live += nlive;
    }
    if (live != w->postings) FAIL("lists hold %llu live entries, count says %llu", (unsigned long long)live, (unsigned long long)w->postings);
    if (words != w->nwords || lbytes != w->list_bytes)
        FAIL("%llu lists of %llu bytes, counts say %llu of %llu", (unsigned long long)words, (unsigned long long)lbytes,
             (unsigned long long)w->nwords, (unsigned long long)w->list_bytes);
    if (words != trie_count(w->wt)) FAIL("%llu lists, %llu dictionary words", (unsigned long long)words, (unsigned long long)trie_count(w->wt));
    return 0;
}
