/* trie_words_isect.c -- the word index's one-pass intersection of posting
 * lists and its merged prefix lists: the part of the class 1 search
 * (trie_words_topk) that reads lists in rank order instead of by bound.
 * Why and when it is used, and why it is exact: trie_words.c's essay (the
 * paragraph on the one-pass intersection, after "Top-k"); which queries
 * take it: search() in trie_words_query.c; the semantics: trie_words.h.
 *
 * What lives here, in order:
 *   - a forward cursor over a posting list (tw_cur: block heads galloped,
 *     gaps decoded lazily, never moving back) and the list's bound tree
 *     (tw_tree), with which cur_seek_live passes beaten blocks and tree
 *     entries whole;
 *   - trie_words__isect: leapfrog over the distinct complete words' lists
 *     and the prefix's merged ranks, the shortest driving; the ranks in
 *     every list go to trie_words__check_ranks (trie_words_query.c) 16 at
 *     a time; stopped by the work limit, isect_rest leaves one heap entry
 *     bounding what it did not reach;
 *   - trie_words__union: the prefix's words' lists merged into one sorted
 *     array of distinct ranks (LSD radix sort).
 * The search's state (tw_search) and the helpers both files use
 * (res_worst, res_beats, trie_words__hpush) are in trie_words_internal.h.
 * Cost: one work unit a step of the driver (TRIE_WORDS_MAX_SCAN), no
 * allocation here (the merged array is the caller's).
 */
#include <stdint.h>
#include <string.h>

#include "trie/trie_words_internal.h"

/* A forward cursor over a posting list, decoding lazily: its current rank,
 * and the gaps still to read in the current block. */
typedef struct tw_cur {
    const tw_word *x;
    const uint8_t *g;            /* the next gap */
    uint32_t blk, left, r, nb;   /* block, gaps left in it, current rank, blocks */
} tw_cur;

static inline void cur_block(tw_cur *c, uint32_t b) {
    uint32_t n = c->x->n - (b << TW_FB);
    c->blk = b;
    c->r = tw_bbase(c->x)[b];
    c->g = tw_gaps(c->x) + tw_boff(c->x)[b];
    c->left = (n > TW_F ? TW_F : n) - 1;
}

/* Steps c to its block's first rank >= r; 0 when the block has none. */
static inline int cur_step(tw_cur *c, uint32_t r) {
    while (c->r < r && c->left) c->r += tw_get1(&c->g), c->left--;
    return c->r >= r;
}

/* Moves c to the first rank >= r (never back); 0 when the list has none.
 * The block heads ahead are galloped (O(log distance)); only the gaps up
 * to the rank found are read. */
static inline int cur_seek(tw_cur *c, uint32_t r) {
    const uint32_t *bb = tw_bbase(c->x);
    uint32_t nb = c->nb, lo = c->blk, hi, step = 1;
    if ((lo + 1 >= nb || bb[lo + 1] > r) && cur_step(c, r)) return 1; /* in this block */
    if (lo + 1 >= nb) return 0;
    for (;;) { /* gallop: the last block whose head is <= r (bb[lo] <= r) */
        hi = lo + step;
        if (hi >= nb) {
            hi = nb;
            break;
        }
        if (bb[hi] > r) break;
        lo = hi;
        step <<= 1;
    }
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (bb[mid] <= r) lo = mid;
        else hi = mid;
    }
    if (lo > c->blk) {
        cur_block(c, lo);
        if (cur_step(c, r)) return 1;
    }
    if (lo + 1 >= nb) return 0; /* every rank of block lo is < r: the next block's head is > r */
    cur_block(c, lo + 1);
    return 1;
}

/* A list's bound tree, level by level (tw_levels: level lv entry i bounds
 * blocks [i 16^lv, (i + 1) 16^lv)); nl 0 for a list of one block. */
typedef struct tw_tree {
    const uint16_t *mx[TW_MAXLV];
    int nl;
} tw_tree;

static void tree_of(const tw_word *x, tw_tree *tr) {
    uint32_t off[TW_MAXLV], sz[TW_MAXLV], tot;
    tr->nl = tw_levels(x->cap, off, sz, &tot);
    for (int lv = 0; lv < tr->nl; lv++) tr->mx[lv] = tw_mx(x) + off[lv];
}

/* 1 when nothing under a tree entry of bound code c whose ranks are all
 * >= r0 can enter the best m (code 0: an empty entry). */
static inline int ent_beaten(const tw_search *S, uint16_t c, uint32_t r0) {
    return !c || res_beats(res_worst(S), bval(c), r0);
}

/* Moves c to the first rank >= r that may still enter the best m: a block
 * whose bound is beaten (ent_beaten) is passed whole, to the next block's
 * head, and so is a beaten tree entry above the next blocks (16^lv blocks
 * at once, the highest level first), so the end of a list whose bounds
 * are all beaten costs O(16 levels), not a step a block. 0 when the list
 * has no such rank. tr NULL: no bounds read. */
static inline int cur_seek_live(const tw_search *S, tw_cur *c, const tw_tree *tr, uint32_t r) {
    if (!cur_seek(c, r)) return 0;
    if (!tr || !tr->nl) return 1;
    const uint32_t *bb = tw_bbase(c->x);
    uint32_t b = c->blk;
    if (!ent_beaten(S, tr->mx[0][b], bb[b])) return 1;
    for (b++; b < c->nb;) {
        int lv = tr->nl - 1;
        for (; lv > 0; lv--) { /* the highest entry starting at block b, when beaten */
            uint32_t sh = TW_FB * (uint32_t)lv;
            if ((b & ((1u << sh) - 1)) == 0 && ent_beaten(S, tr->mx[lv][b >> sh], bb[b])) break;
        }
        if (lv > 0) b += 1u << (TW_FB * (uint32_t)lv);
        else if (ent_beaten(S, tr->mx[0][b], bb[b])) b++;
        else break;
    }
    if (b >= c->nb) return 0;
    cur_block(c, b);
    return 1;
}

/* The first index i >= at with u[i] >= r (galloping), n when none. */
static inline uint32_t arr_seek(const uint32_t *u, uint32_t n, uint32_t at, uint32_t r) {
    uint32_t lo = at, step = 1, hi;
    if (lo >= n || u[lo] >= r) return lo;
    for (;;) { /* u[lo] < r */
        hi = lo + step;
        if (hi >= n) {
            hi = n;
            break;
        }
        if (u[hi] >= r) break;
        lo = hi;
        step <<= 1;
    }
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (u[mid] < r) lo = mid;
        else hi = mid;
    }
    return hi;
}

/* trie_words__isect stopped by the work limit at rank r: a heap entry
 * bounding every rank >= r not yet checked -- the largest bound of the
 * blocks of the shortest complete list cur[0] (every match is in it; its
 * tree tr) from its current one, which holds every rank of it >= r -- so
 * that search() (trie_words_query.c) ends as for a heap stopped by the
 * limit: untruncated when that bound is beaten, else truncated, the kept
 * matches cut to those it cannot beat. */
static void isect_rest(tw_search *S, const tw_cur *cur, const tw_tree *tr, uint32_t r) {
    uint16_t c = cur[0].x->top;
    if (tr->nl) {
        c = 0;
        for (uint32_t b = cur[0].blk; b < cur[0].nb; b++)
            if (tr->mx[0][b] > c) c = tr->mx[0][b];
    }
    if (c) trie_words__hpush(S, (tw_ent){bval(c), 0, 0, r, K_NODE, 0});
}

/* The distinct complete words' lists (and, when u is not NULL, the sorted
 * distinct ranks u[0..un) of the prefix's words' lists: trie_words__union) are
 * intersected in one pass in rank order, no heap (leapfrog: the others are
 * galloped to the driver's rank -- over their block heads, their gaps read
 * only up to the rank found -- and the driver on to the first rank a list
 * has past it), and only the ranks in all of them are
 * checked (trie_words__check_ranks). A block of a list whose bound is beaten
 * (cur_seek_live) is passed whole. Exact: every rank is either in a
 * beaten block, absent from a list every match is in, or checked. One work
 * unit a step (each moves the driver forward); at TRIE_WORDS_MAX_SCAN the
 * pass stops and leaves what it did not reach to search() as one heap
 * entry (isect_rest). */
void trie_words__isect(tw_search *S, const uint32_t *u, uint32_t un) {
    const trie_words *w = S->w;
    tw_cur cur[TRIE_WORDS_MAX_TYPED];
    uint32_t no = 0; /* the distinct complete words' lists */
    for (int i = 0; i < S->nc; i++) {
        int dup = 0;
        for (int j = 0; j < i && !dup; j++) dup = S->qw[j] == S->qw[i];
        if (dup) continue;
        const tw_word *x = &w->w[S->qw[i]]; /* live: n >= 1 */
        uint32_t k = no++;
        while (k > 0 && cur[k - 1].x->n > x->n) cur[k] = cur[k - 1], k--; /* shortest first */
        cur[k].x = x;
        cur[k].nb = tw_nblk(x->n);
        cur_block(&cur[k], 0);
    }
    tw_tree tr; /* bounds read on the shortest complete list only: another
                 * list's are a cache miss a seek */
    tree_of(cur[0].x, &tr);
    /* the shortest list drives: the prefix's ranks u when shorter than
     * every complete word's list, else the shortest of those; then u
     * (an array in cache: the cheapest to seek), then the others, shortest
     * first. On a rank missing from a list the driver seeks on to that
     * list's next rank, so the longer lists only seek to ranks the driver
     * has (a cache miss each, in a long list). */
    int udrive = u && (no == 0 || un < cur[0].x->n);
    uint32_t buf[TW_F], nb = 0, r = 0, ui = 0;
    for (;;) {
        if (S->scanned >= TRIE_WORDS_MAX_SCAN) { /* the work limit: what is left, as one bound */
            if (nb) trie_words__check_ranks(S, buf, nb);
            isect_rest(S, cur, &tr, r);
            return;
        }
        S->scanned++;
        if (udrive) {
            if ((ui = arr_seek(u, un, ui, r)) == un) break;
            r = u[ui];
        } else {
            if (!cur_seek_live(S, &cur[0], &tr, r)) break; /* exhausted: no more ranks */
            r = cur[0].r;
        }
        uint32_t nr = r;
        if (u && !udrive) {
            if ((ui = arr_seek(u, un, ui, r)) == un) break;
            nr = u[ui];
        }
        for (uint32_t k = udrive ? 0 : 1; k < no && nr == r; k++) {
            /* (u driving: the shortest complete list's bounds skip for it) */
            if (!(k == 0 ? cur_seek_live(S, &cur[0], &tr, r) : cur_seek(&cur[k], r))) goto done;
            nr = cur[k].r;
        }
        if (nr != r) { /* a list holds nothing in [r, nr) */
            r = nr;
            continue;
        }
        buf[nb++] = r++; /* in every list */
        if (nb == TW_F) {
            trie_words__check_ranks(S, buf, nb);
            nb = 0;
        }
    }
done:
    if (nb) trie_words__check_ranks(S, buf, nb);
}

/* The ranks of the lists of words pw[0..npw) (whose entries total at most
 * TW_UNION_MAX: trie_words_query.c), sorted and distinct, into u; their
 * number. Tombstones stay (trie_words__check_ranks drops them). LSD radix
 * sort, 11-bit digits, as many passes as the largest rank handed out
 * needs. */
uint32_t trie_words__union(const trie_words *w, const uint32_t *pw, uint32_t npw, uint32_t *u, uint32_t *tmp) {
    uint32_t n = 0, rk[TW_F];
    for (uint32_t i = 0; i < npw; i++) {
        const tw_word *x = &w->w[pw[i]];
        for (uint32_t b = 0, nbk = tw_nblk(x->n); b < nbk; b++) {
            uint32_t nr = tw_block(x, b, rk);
            memcpy(u + n, rk, nr * sizeof *rk);
            n += nr;
        }
    }
    uint32_t cnt[1u << 11];
    for (uint32_t sh = 0; sh < 32 && (w->next_rank >> sh); sh += 11) {
        memset(cnt, 0, sizeof cnt);
        for (uint32_t i = 0; i < n; i++) cnt[(u[i] >> sh) & 2047]++;
        for (uint32_t d = 0, sum = 0; d < 2048; d++) {
            uint32_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++) tmp[cnt[(u[i] >> sh) & 2047]++] = u[i];
        memcpy(u, tmp, n * sizeof *u);
    }
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!m || u[m - 1] != u[i]) u[m++] = u[i];
    return m;
}
