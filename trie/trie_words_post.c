/* trie_words_post.c -- the word index's posting lists: blocks of TW_F ranks,
 * the first of each block whole (bbase), the others gaps bit-packed at one
 * width per block (trie_words_internal.h has the layout; the design is in
 * trie_words.c).
 *
 * A list is read a block at a time (tw_block: the tree's leaf blocks are
 * the same blocks, so a bound and its ranks go together); a rank is found
 * by a binary search over the block heads, then one block decoded.
 * Appending writes one gap (the last block packed again when the gap is
 * wider than its others); growth and compaction lay the list out afresh
 * (decoded block by block into the new allocation).
 */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "trie/trie_words_internal.h"

void tw_tree_rebuild(const trie_words *w, tw_word *x) {
    uint32_t off[TW_MAXLV], sz[TW_MAXLV], tot;
    int nl = tw_levels(x->cap, off, sz, &tot);
    uint16_t *mx = tw_mx(x), top = 0;
    memset(mx, 0, tot * sizeof *mx);
    uint32_t rk[TW_F];
    for (uint32_t b = 0; b < tw_nblk(x->n); b++) {
        uint32_t nr = tw_block(x, b, rk);
        for (uint32_t i = 0; i < nr; i++) {
            uint32_t id = w->rr[rk[i]].id;
            if (id == NONE) continue;
            uint16_t c = w->kb[id];
            if (c > top) top = c;
            if (nl && c > mx[off[0] + b]) mx[off[0] + b] = c;
        }
    }
    for (int l = 1; l < nl; l++)
        for (uint32_t i = 0; i < sz[l - 1]; i++) {
            uint16_t c = mx[off[l - 1] + i];
            if (c > mx[off[l] + (i >> TW_FB)]) mx[off[l] + (i >> TW_FB)] = c;
        }
    if (top > x->top) x->top = top;
}

void tw_raise(tw_word *x, uint32_t pos, uint16_t c) {
    uint32_t off[TW_MAXLV], sz[TW_MAXLV], tot;
    int nl = tw_levels(x->cap, off, sz, &tot);
    uint16_t *mx = tw_mx(x);
    for (int l = 0; l < nl; l++) {
        pos >>= TW_FB;
        if (mx[off[l] + pos] >= c) break; /* the ancestors cover it already */
        mx[off[l] + pos] = c;
    }
}

/* Lays x out afresh with room for ncap entries and ngap gap bytes, keeping
 * its ranks (only the live ones when live_only); tree rebuilt. ngap must
 * cover the ranks kept (gap_need). */
static int relayout(trie_words *w, tw_word *x, uint32_t ncap, uint32_t ngap, int live_only) {
    tw_word y = *x;
    y.cap = ncap;
    y.gcap = ngap;
    y.n = y.gn = 0;
    tw_post_layout(&y);
    if (!(y.p = qcalloc(1, (size_t)tw_list_bytes(ncap, ngap)))) return TRIE_ENOMEM;
    uint32_t rk[TW_F];
    for (uint32_t b = 0; b < tw_nblk(x->n); b++) {
        uint32_t nr = tw_block(x, b, rk);
        for (uint32_t i = 0; i < nr; i++)
            if (!live_only || w->rr[rk[i]].id != NONE) tw_post_put(&y, rk[i]);
    }
    if (!x->p) w->nwords++;
    w->list_bytes += tw_list_bytes(ncap, ngap) - (x->p ? tw_list_bytes(x->cap, x->gcap) : 0);
    qfree(x->p);
    *x = y;
    tw_tree_rebuild(w, x);
    return TRIE_OK;
}

/* Gap bytes x's ranks need laid out afresh (only the live ones when
 * live_only). */
static uint64_t gap_need(const trie_words *w, const tw_word *x, int live_only) {
    tw_pk_count c = {0};
    uint32_t rk[TW_F];
    for (uint32_t b = 0; b < tw_nblk(x->n); b++) {
        uint32_t nr = tw_block(x, b, rk);
        for (uint32_t i = 0; i < nr; i++)
            if (!live_only || w->rr[rk[i]].id != NONE) tw_pk_add(&c, rk[i]);
    }
    return tw_pk_total(&c);
}

int tw_post_append(trie_words *w, tw_word *x, uint32_t rk) {
    if (x->n == x->cap || tw_post_need(x, rk) > x->gcap) {
        /* the entries grow only when they are full: running out of gap
         * bytes alone must not grow cap (it did, by half each time, so a
         * short list could reach a cap far past any rank it can hold --
         * memory, and a list trie_words_load rightly refuses) */
        uint32_t nc = x->n < x->cap ? x->cap : x->cap < 4 ? 4 : x->cap + x->cap / 2;
        int live_only = x->live < x->n / 2; /* mostly tombstones: compact instead of growing */
        if (live_only) nc = x->cap;
        uint64_t ng = gap_need(w, x, live_only);
        ng += ng / 2 + 4 * TW_BLK_MAX; /* >= the append's room (tw_post_need) */
        if (ng > UINT32_MAX) return TRIE_EFULL;
        int rc = relayout(w, x, nc, (uint32_t)ng, live_only);
        if (rc) return rc;
    }
    tw_post_put(x, rk);
    return TRIE_OK;
}

int tw_post_compact(trie_words *w, tw_word *x) {
    uint64_t ng = gap_need(w, x, 1);
    if (ng + TW_BLK_MAX > UINT32_MAX) return -1;
    return relayout(w, x, x->cap, (uint32_t)ng + TW_BLK_MAX, 1) ? -1 : 0;
}

uint32_t trie_words__find_pos(const trie_words *w, const tw_word *x, uint32_t r) {
    uint32_t nb = tw_nblk(x->n), lo = 0, hi = nb;
    if (!nb) return NONE;
    const uint32_t *bb = tw_bbase(x);
    while (hi - lo > 1) { /* the last block whose first rank is <= r */
        uint32_t mid = lo + (hi - lo) / 2;
        if (bb[mid] <= r) lo = mid;
        else hi = mid;
    }
    uint32_t rk[TW_F], nr = tw_block(x, lo, rk);
    for (uint32_t i = 0; i < nr; i++)
        if (rk[i] == r) return w->rr[r].id != NONE ? (lo << TW_FB) + i : NONE;
    return NONE;
}
