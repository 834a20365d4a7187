/* trie_words_isect.c -- the word index's one-pass intersection of posting
 * lists and its merged prefix lists: the part of the class 1 search
 * (trie_words_topk) that reads lists in rank order instead of by bound.
 * Why and when it is used, and why it is exact: trie_words.c's essay (the
 * paragraph on the one-pass intersection, after "Top-k"); which queries
 * take it: search() in trie_words_query.c; the semantics: trie_words.h.
 *
 * What lives here, in order:
 *   - a forward cursor over a posting list (tw_cur: block heads galloped,
 *     a block decoded whole on the first step past its head, the rank
 *     sought found by counting, never moving back) and the list's bound tree (tw_tree), with which
 *     cur_seek_live passes beaten blocks and tree entries whole;
 *   - isect_rest and isect_handoff: what the pass did not reach, left to
 *     search() as one heap bound, or (one complete word and the prefix's
 *     cursors, at TW_ISECT_HANDOFF of the limit; trie_words_fuzzy_topk's
 *     class cursors, as soon as the best-first search could no longer read
 *     the rest whole in the work left) as that word's tree entries,
 *     searched best first;
 *   - the prefix's words' lists read as one (tw_uni: a cursor each in a
 *     min-heap, their ranks kept beside it), or its merged ranks (tw_pset:
 *     either);
 *   - isect_blocks: two complete lists of comparable length compared a
 *     block pair at a time (SSE2 16 x 16, blk_isect) while no bound is
 *     beaten, before the leapfrog;
 *   - isect_sigf: the shortest complete list's ranks tested on their
 *     signatures, a block at a time, before lists over TW_ISECT_SIGF times
 *     longer are sought (or when every longer one is left to the key
 *     check) while no bound is beaten, before the leapfrog;
 *   - trie_words__isect: leapfrog over the distinct complete words' lists
 *     (none over TW_ISECT_SKEW times the driver's) and the prefix's ranks,
 *     the shortest driving; the ranks in every list go to
 *     trie_words__check_ranks (trie_words_query.c) 16 at a time;
 *   - trie_words__union: the prefix's words' lists merged into one sorted
 *     array of distinct ranks (LSD radix sort).
 * The search's state (tw_search) and the helpers both files use
 * (res_worst, res_beats, trie_words__hpush) are in trie_words_internal.h.
 * Cost: one work unit a step of the driver and one a prefix cursor moved
 * (isect_blocks: one a block pair, one a third list's cursor moved, one
 * a rank in all; isect_sigf: one a block of the driver, one a rank whose
 * signature passes; the index's max_scan), no allocation here (the merged
 * array is the caller's; the cursors, TW_PCUR_MAX of them, ~96 B each with a decoded
 * block, and the heap's ranks, 4 B each, are on the stack).
 */
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && !defined(TW_NO_SSE2) /* (-DTW_NO_SSE2: the fallback, tested) */
#include <emmintrin.h>
#endif

#include "trie/trie_words_internal.h"

#ifndef TW_ISECT_SKEW
#define TW_ISECT_SKEW 64 /* (trie_words__isect) */
#endif
unsigned trie_words__isect_skew = TW_ISECT_SKEW;
#ifndef TW_ISECT_BLOCK
#define TW_ISECT_BLOCK 8 /* (trie_words__isect, isect_blocks) */
#endif
unsigned trie_words__isect_block = TW_ISECT_BLOCK;
#ifndef TW_ISECT_SIGF
#define TW_ISECT_SIGF 8 /* (trie_words__isect, isect_sigf) */
#endif
unsigned trie_words__isect_sigf = TW_ISECT_SIGF;

/* A forward cursor over a posting list: its current rank, and its
 * block's ranks, decoded whole on the first step past the block's head
 * (a seek that gallops on, or a cursor that never moves, reads no gaps). */
typedef struct tw_cur {
    const tw_word *x;
    uint32_t blk, r, nb; /* block, current rank, blocks */
    uint32_t cnt;        /* ranks in the block once decoded into rk, else 0 */
    uint32_t gb, go;     /* the block decoded last (UINT32_MAX: none), its gaps' offset */
    uint32_t rk[TW_F];   /* the block's ranks, UINT32_MAX past cnt */
} tw_cur;

static inline void cur_block(tw_cur *c, uint32_t b) {
    c->blk = b;
    c->r = tw_bbase(c->x)[b];
    c->cnt = 0;
}

/* c at the first rank of list x. */
static inline void cur_init(tw_cur *c, const tw_word *x) {
    c->x = x;
    c->nb = tw_nblk(x->n);
    c->gb = UINT32_MAX;
    cur_block(c, 0);
}

/* Decodes c's block into c->rk, its gaps read in one run, and returns
 * the number of its ranks below r, counted as they are made (counting
 * them back from c->rk right after the stores stalled on the stores). */
static inline uint32_t cur_decode(tw_cur *c, uint32_t r) {
    const tw_word *x = c->x;
    uint32_t n = x->n - (c->blk << TW_FB), v = tw_bbase(x)[c->blk], j = v < r;
    if (n > TW_F) n = TW_F;
    /* where its gaps start: from the block decoded last when it is before
     * this one in its group (a cursor moves a few blocks a seek), else
     * from the group's start (tw_boff) */
    const uint8_t *bw = tw_bw(x);
    uint32_t b = c->blk, o;
    if (c->gb >= (b & ~(TW_F - 1)) && c->gb < b)
        for (o = c->go; c->gb < b; c->gb++) o += tw_pk_bytes(TW_F - 1, bw[c->gb]);
    else o = tw_boff(x, b);
    c->gb = b;
    c->go = o;
    tw_pk k;
    tw_pk_start(&k, tw_gaps(x) + o, bw[b]);
    c->rk[0] = v;
    for (uint32_t i = 1; i < n; i++) {
        c->rk[i] = v += tw_pk_next(&k);
        j += v < r;
    }
    for (uint32_t i = n; i < TW_F; i++) c->rk[i] = UINT32_MAX; /* (a rank is < UINT32_MAX) */
    c->cnt = n;
    return j;
}

/* Steps c to its block's first rank >= r; 0 when the block has none (c
 * then at its last rank). The block's ranks are sorted and c->r < r, so
 * the rank's position is the number of ranks below r: counted over the 16
 * without a branch, where reading the gaps up to it (a compare and branch
 * a gap, the exit mispredicted) was the tail's hottest loop. */
static inline int cur_step(tw_cur *c, uint32_t r) {
    if (c->r >= r) return 1;
    uint32_t j = 0;
    if (!c->cnt) j = cur_decode(c, r);
    else
        for (uint32_t i = 0; i < TW_F; i++) j += c->rk[i] < r;
    if (j >= c->cnt) {
        c->r = c->rk[c->cnt - 1];
        return 0;
    }
    c->r = c->rk[j];
    return 1;
}

/* The last block t >= lo of heads bb[0..nb) with bb[t] <= v, given
 * bb[lo] <= v (galloping, then bisection). */
static inline uint32_t head_seek(const uint32_t *bb, uint32_t nb, uint32_t lo, uint32_t v) {
    uint32_t hi, step = 1;
    for (;;) {
        hi = lo + step;
        if (hi >= nb) {
            hi = nb;
            break;
        }
        if (bb[hi] > v) break;
        lo = hi;
        step <<= 1;
    }
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (bb[mid] <= v) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Moves c to the first rank >= r (never back); 0 when the list has none.
 * The block heads ahead are galloped (O(log distance)); only the block
 * found is decoded (cur_step). */
static inline int cur_seek(tw_cur *c, uint32_t r) {
    const uint32_t *bb = tw_bbase(c->x);
    uint32_t nb = c->nb, lo = c->blk;
    if ((lo + 1 >= nb || bb[lo + 1] > r) && cur_step(c, r)) return 1; /* in this block */
    if (lo + 1 >= nb) return 0;
    lo = head_seek(bb, nb, lo, r); /* the last block whose head is <= r (bb[c->blk] <= r) */
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

/* One past the last rank of c's block: the next block's head, or the
 * list's last rank + 1 (ranks are < UINT32_MAX). */
static inline uint32_t cur_end(const tw_cur *c) {
    return c->blk + 1 < c->nb ? tw_bbase(c->x)[c->blk + 1] : c->x->last + 1;
}

/* Bit i set when a[i] is one of b[0..16): all 16 x 16 pairs compared
 * (each list's ranks distinct; the caller masks a's lanes past its
 * block's ranks, as both pads are UINT32_MAX). SSE2: each 4 of a against
 * the 4 vectors of b and their 3 rotations, 64 compares, no branch. */
static inline uint32_t blk_isect(const uint32_t *a, const uint32_t *b) {
#if defined(__SSE2__) && !defined(TW_NO_SSE2) /* (-DTW_NO_SSE2: the fallback, tested) */
    /* (written out: with arrays and loops gcc 12 kept the four masks in
     * memory) */
    const __m128i *pa = (const __m128i *)(const void *)a, *pb = (const __m128i *)(const void *)b;
    __m128i a0 = _mm_loadu_si128(pa), a1 = _mm_loadu_si128(pa + 1), a2 = _mm_loadu_si128(pa + 2),
            a3 = _mm_loadu_si128(pa + 3), e0 = _mm_setzero_si128(), e1 = e0, e2 = e0, e3 = e0, v;
#define TW_EQ4(x)                                      \
    do {                                               \
        v = (x);                                       \
        e0 = _mm_or_si128(e0, _mm_cmpeq_epi32(a0, v)); \
        e1 = _mm_or_si128(e1, _mm_cmpeq_epi32(a1, v)); \
        e2 = _mm_or_si128(e2, _mm_cmpeq_epi32(a2, v)); \
        e3 = _mm_or_si128(e3, _mm_cmpeq_epi32(a3, v)); \
    } while (0)
#define TW_EQ16(x)                                                 \
    do {                                                           \
        __m128i w = (x);                                           \
        TW_EQ4(w);                                                 \
        TW_EQ4(_mm_shuffle_epi32(w, _MM_SHUFFLE(0, 3, 2, 1)));     \
        TW_EQ4(_mm_shuffle_epi32(w, _MM_SHUFFLE(1, 0, 3, 2)));     \
        TW_EQ4(_mm_shuffle_epi32(w, _MM_SHUFFLE(2, 1, 0, 3)));     \
    } while (0)
    TW_EQ16(_mm_loadu_si128(pb));
    TW_EQ16(_mm_loadu_si128(pb + 1));
    TW_EQ16(_mm_loadu_si128(pb + 2));
    TW_EQ16(_mm_loadu_si128(pb + 3));
#undef TW_EQ16
#undef TW_EQ4
    return (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(e0)) | (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(e1)) << 4 |
           (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(e2)) << 8 | (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(e3)) << 12;
#else
    uint32_t m = 0;
    for (uint32_t i = 0; i < TW_F; i++) {
        uint32_t e = 0;
        for (uint32_t j = 0; j < TW_F; j++) e |= a[i] == b[j];
        m |= e << i;
    }
    return m;
#endif
}

/* The one pass over two complete words' lists of comparable length (the
 * longer at most trie_words__isect_block times the shorter; no prefix
 * list sought), a block pair at a time instead of a rank at a time: a
 * block wholly below the other list's current block is passed on its
 * heads (galloped: no gaps read); else A's block (the shorter list's) is
 * decoded and its ranks below B's block counted (16 compares, no branch):
 * when none of them falls in B's block, B gallops on its heads to A's
 * next rank (or A moves on, all its ranks below B's block), so a denser
 * B's blocks holding no rank of A are never decoded; else B's block is
 * decoded and the two compared 16 x 16 (blk_isect), and the one ending
 * first moves on (selected, not branched on: which one is a coin toss).
 * Every pair of blocks that share a rank is compared once, so each rank
 * in both is found once, ascending; the other complete lists cur[2..no)
 * then seek it (as the leapfrog's). It replaced, for these lists, a seek
 * of each driver rank in B, a count and a mispredicted exit each. Work
 * units: one a pair (compared, or a block passed), one a cursor of
 * cur[2..no) moved and one a rank in every list (a candidate checked, as
 * a leapfrog step): a unit decodes and compares at most ~32 ranks, where
 * a leapfrog step decodes up to two blocks too. (A unit for each rank in
 * both A and B instead sent "united south states ny", whose first two
 * lists share most ranks, to the work limit.)
 * Only while fewer than m matches are kept (no bound beaten: the tail's
 * 3-4 word queries read their lists whole); then, as at the work limit,
 * it hands on to the leapfrog at rank *rp, below which every rank in both
 * lists is found (the later of the two current blocks' heads: every rank
 * of either list below its current head was compared or shown absent),
 * the cursors at or before their first rank >= *rp. Returns 0 when a
 * list is exhausted (nothing more in every list), else 1; the ranks
 * found go to buf (*nbp of them), checked 16 at a time. */
static int isect_blocks(tw_search *S, tw_cur *cur, uint32_t no, uint32_t *rp, uint32_t *buf, uint32_t *nbp,
                        uint32_t lim) {
    tw_cur *A = &cur[0], *B = &cur[1];
    const uint32_t *ba = tw_bbase(A->x), *bb = tw_bbase(B->x);
    uint32_t nb = *nbp;
    int ret = 1;
    S->blocks = 1;
    for (;;) {
        if (S->scanned >= lim || res_worst(S)) break;
        S->scanned++;
        uint32_t ha = ba[A->blk], hb = bb[B->blk], ea = cur_end(A), eb = cur_end(B);
        if (ea <= hb) { /* A's block below B's: on to A's last block with a head <= hb */
            if (A->blk + 1 >= A->nb) {
                ret = 0;
                break;
            }
            cur_block(A, head_seek(ba, A->nb, A->blk + 1, hb));
            continue;
        }
        if (eb <= ha) {
            if (B->blk + 1 >= B->nb) {
                ret = 0;
                break;
            }
            cur_block(B, head_seek(bb, B->nb, B->blk + 1, ha));
            continue;
        }
        if (!A->cnt) cur_decode(A, 0);
        uint32_t j = 0; /* A's ranks below B's block (counted over the 16, no branch) */
        for (uint32_t i = 0; i < TW_F; i++) j += A->rk[i] < hb;
        if (j >= A->cnt || A->rk[j] >= eb) { /* none of A's ranks in B's block */
            tw_cur *c = j >= A->cnt ? A : B;
            if (c->blk + 1 >= c->nb) {
                ret = 0;
                break;
            }
            /* A on, or B to its last block with a head <= A's next rank */
            cur_block(c, j >= A->cnt ? A->blk + 1 : head_seek(bb, B->nb, B->blk + 1, A->rk[j]));
            continue;
        }
        if (!B->cnt) cur_decode(B, 0);
        uint32_t m = blk_isect(A->rk, B->rk) & (uint32_t)(((uint64_t)1 << A->cnt) - 1);
        while (m) {
            uint32_t r = A->rk[__builtin_ctz(m)], k = 2;
            m &= m - 1;
            for (; k < no; k++) { /* a unit a cursor moved (not when it is past r already) */
                if (cur[k].r < r) {
                    S->scanned++;
                    if (!cur_seek(&cur[k], r)) { /* a list exhausted: no rank >= r is in all */
                        *nbp = nb;
                        return 0;
                    }
                }
                if (cur[k].r != r) break;
            }
            if (k < no) continue;
            S->scanned++; /* a unit a rank in every list (checked), as a step */
            buf[nb++] = r;
            if (nb == TW_F) {
                trie_words__check_ranks(S, buf, nb);
                nb = 0;
            }
        }
        /* the block ending first moves on (which one is a coin toss:
         * selected, not branched on); ending together, A does, and B's
         * is passed on its head next */
        tw_cur *c = ea <= eb ? A : B;
        if (c->blk + 1 >= c->nb) {
            ret = 0;
            break;
        }
        cur_block(c, c->blk + 1);
    }
    *nbp = nb;
    uint32_t ha = ba[A->blk], hb = bb[B->blk];
    *rp = ha > hb ? ha : hb;
    return ret;
}

/* The one pass over the shortest complete list A = cur[0] and longer ones
 * cur[1..no) -- the next over trie_words__isect_sigf times A's length, or
 * none left (no 1: every longer one over TW_ISECT_SKEW times, left to the
 * key check) -- with no prefix list sought, while fewer than m matches
 * are kept: A's ranks are tested on their signatures (every typed word's
 * bits, S->sigm: a rank lacking one cannot match) before the other lists
 * are sought, a block of A at a time, the next block decoded ahead and its
 * 16 signatures' misses started under this block's seeks, so only the few
 * ranks that pass seek the longer lists. In the leapfrog each of A's ranks
 * sought a list that much denser in a block of its own (a gallop over its
 * heads and a block of gaps decoded, for one rank), and with no list to
 * seek each went to the check, whose 16 misses waited on their own. Work
 * units: one a block of A, one a rank that passes (it seeks as a leapfrog
 * step does), so fewer than the leapfrog's step a rank when more than one
 * rank in 16 fails (a query it truncated may end complete). Exact: a rank
 * failing the test is in no match (trie_words__check_ranks drops it on the
 * same test); the others are sought in every list, and those in all are
 * checked. Hands on to the leapfrog at rank *rp (every rank of A below it
 * done; A at or before its first rank >= *rp) once m matches are kept or
 * at the work limit; returns 0 when a list is exhausted (nothing more in
 * every list), else 1. 10M, qd's 20,000 queries, 3 pairs (docs/INFIX.md):
 * the 4,055 it takes 0.62-0.73 of their time, p99 299 -> 262 us; the
 * misses are its cost (most of its samples on the prefetch: every fill
 * buffer busy), so from 2-8x apart the leapfrog or block pairs, reading
 * the long list in sequence, are as fast or faster (TW_ISECT_SIGF 8). */
static int isect_sigf(tw_search *S, tw_cur *cur, uint32_t no, uint32_t *rp, uint32_t *buf, uint32_t *nbp,
                      uint32_t lim) {
    tw_cur *A = &cur[0], N;
    const tw_rrec *rr = S->w->rr;
    const tw_sig_t sm = S->sigm;
    uint32_t nb = *nbp, r = *rp;
    int ahead = 0; /* N: A's next block, decoded, its signatures' misses started */
    S->sigf = 1;
    for (;;) {
        if (S->scanned >= lim || res_worst(S)) break;
        S->scanned++; /* a unit a block of A */
        if (ahead) *A = N;
        else if (!A->cnt) {
            cur_decode(A, 0);
            for (uint32_t i = 0; i < A->cnt; i++) __builtin_prefetch(&rr[A->rk[i]]);
        }
        /* the next block's misses start now, under this block's seeks */
        if ((ahead = A->blk + 1 < A->nb)) {
            N = *A;
            cur_block(&N, A->blk + 1);
            cur_decode(&N, 0);
            for (uint32_t i = 0; i < N.cnt; i++) __builtin_prefetch(&rr[N.rk[i]]);
        }
        uint32_t m = 0;
        for (uint32_t i = 0; i < A->cnt; i++) m |= (uint32_t)((rr[A->rk[i]].sig & sm) == sm && A->rk[i] >= r) << i;
        while (m) {
            uint32_t x = A->rk[__builtin_ctz(m)], k = 1;
            m &= m - 1;
            if (S->scanned >= lim) { /* (A's ranks below x done) */
                *nbp = nb;
                *rp = x;
                return 1;
            }
            S->scanned++; /* a unit a rank sought, as a leapfrog step */
            for (; k < no; k++) {
                if (cur[k].r < x && !cur_seek(&cur[k], x)) { /* a list exhausted: no rank >= x is in all */
                    *nbp = nb;
                    return 0;
                }
                if (cur[k].r != x) break;
            }
            if (k < no) continue;
            buf[nb++] = x;
            if (nb == TW_F) {
                trie_words__check_ranks(S, buf, nb);
                nb = 0;
            }
        }
        r = cur_end(A);
        if (!ahead) {
            *nbp = nb;
            return 0;
        }
        A->gb = N.gb, A->go = N.go; /* (if the loop ends here: A decodes its next block from them) */
        cur_block(A, A->blk + 1);
    }
    *nbp = nb;
    *rp = r;
    return 1;
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

/* The one pass of ONE complete word's list and the prefix's cursors
 * stopped at TW_ISECT_HANDOFF of the work limit: the rest of that list,
 * from its current block (which holds every rank of it >= the pass's),
 * goes on the heap as its tree entries (the blocks left in the current
 * block's group, then the groups left in each level above), so search()
 * goes on over it best first (by bound, each rank checked on its key: the
 * search this pass replaced) with the work left. A key raised
 * live since the build (a bound above its rank's neighbours) is then
 * found before the limit, where the pass in rank order would reach it
 * last. The current block may be examined twice: S->stream drops a key
 * kept already. */
static void isect_handoff(tw_search *S, const tw_cur *c0) {
    const tw_word *x = c0->x;
    uint32_t wid = (uint32_t)(x - S->w->w), off[TW_MAXLV], sz[TW_MAXLV], tot;
    int nl = tw_levels(x->cap, off, sz, &tot);
    const tw_res *wr = res_worst(S);
    const uint32_t *bb = tw_bbase(x);
    S->stream = 1;
    S->handoff = 1;
    if (nl == 0) { /* one block, no tree: the word's bound */
        if (!res_beats(wr, bval(x->top), bb[0])) trie_words__hpush(S, (tw_ent){bval(x->top), wid, 0, bb[0], K_NODE, 0});
        return;
    }
    /* level lv's entries from i to the end of their group of TW_F (the top
     * level: to its end), then on from the next group one level up */
    for (uint32_t lv = 0, i = c0->blk; lv < (uint32_t)nl; lv++) {
        uint32_t end = lv + 1 == (uint32_t)nl ? sz[lv] : (i | (TW_F - 1)) + 1;
        if (end > sz[lv]) end = sz[lv];
        for (; i < end; i++) {
            uint32_t blk = i << (TW_FB * lv);
            uint16_t mc = tw_mx(x)[off[lv] + i];
            if (!mc || blk >= c0->nb) continue;
            double v = bval(mc);
            if (!res_beats(wr, v, bb[blk])) trie_words__hpush(S, (tw_ent){v, wid, i, bb[blk], K_NODE, (uint8_t)lv});
        }
        if (end == sz[lv]) break; /* nothing after this level's last entry */
        i = end >> TW_FB;
    }
}

/* The prefix's words' lists as one list of the intersection, not merged:
 * a cursor each, in a min-heap on their current ranks (the union's next
 * rank is the top's). Seeking moves only the cursors behind the rank
 * sought, each galloped as any cursor, so the union is read as far as the
 * pass goes, never whole (trie_words__union reads and sorts every entry). */
typedef struct tw_uni {
    tw_cur c[TW_PCUR_MAX];
    uint32_t hr[TW_PCUR_MAX + 1]; /* the heap's ranks: hr[i] == c[h[i]].r, so the sift
                                   * reads 1 KB, not a 96-B cursor a compare; hr[hn] is
                                   * UINT32_MAX (uni_down) */
    uint8_t h[TW_PCUR_MAX];
    uint32_t hn;
} tw_uni;

/* Sifts heap entry i down. The smaller child is chosen without a branch
 * (the right one only when strictly smaller, as before; hr[hn] is
 * UINT32_MAX, so a missing right child is never chosen): that branch was
 * mispredicted about one level in two (the prefix's cursors' queries
 * ~0.95-0.98 of their time, the same moves). */
static inline void uni_down(tw_uni *U, uint32_t i) {
    uint8_t x = U->h[i];
    uint32_t rx = U->hr[i];
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= U->hn) break;
        uint32_t m = l + (U->hr[l + 1] < U->hr[l]);
        if (U->hr[m] >= rx) break;
        U->h[i] = U->h[m];
        U->hr[i] = U->hr[m];
        i = m;
    }
    U->h[i] = x;
    U->hr[i] = rx;
}

static void uni_init(tw_uni *U, const trie_words *w, const uint32_t *pw, uint32_t npw) {
    U->hn = 0;
    for (uint32_t i = 0; i < npw; i++) { /* a dictionary word's list is not empty */
        cur_init(&U->c[U->hn], &w->w[pw[i]]);
        U->h[U->hn] = (uint8_t)U->hn;
        U->hr[U->hn] = U->c[U->hn].r;
        U->hn++;
    }
    U->hr[U->hn] = UINT32_MAX;
    for (uint32_t i = U->hn / 2; i-- > 0;) uni_down(U, i);
}

/* The union's first rank >= r into *nr (never back); 0 when it has none. A
 * work unit each cursor moved. */
static inline int uni_seek(tw_search *S, tw_uni *U, uint32_t r, uint32_t *nr) {
    while (U->hn && U->hr[0] < r) {
        S->scanned++;
        tw_cur *c = &U->c[U->h[0]];
        if (cur_seek(c, r)) U->hr[0] = c->r;
        else { /* exhausted */
            U->hn--;
            U->h[0] = U->h[U->hn];
            U->hr[0] = U->hr[U->hn];
            U->hr[U->hn] = UINT32_MAX;
        }
        if (U->hn) uni_down(U, 0);
    }
    if (!U->hn) return 0;
    *nr = U->hr[0];
    return 1;
}

/* The prefix's ranks as one list: the merged array u, or the cursors U. */
typedef struct tw_pset {
    const uint32_t *u;
    uint32_t un, ui;
    tw_uni *U;
} tw_pset;

/* The prefix's first rank >= r into *nr (never back); 0 when none. */
static inline int pset_seek(tw_search *S, tw_pset *P, uint32_t r, uint32_t *nr) {
    if (P->U) return uni_seek(S, P->U, r, nr);
    if ((P->ui = arr_seek(P->u, P->un, P->ui, r)) == P->un) return 0;
    *nr = P->u[P->ui];
    return 1;
}

/* The distinct complete words' lists and the prefix's ranks -- the sorted
 * distinct ranks u[0..un) of its words' lists (trie_words__union) when u is
 * not NULL, else, when npw > 0, the lists of its words pw[0..npw) read as
 * one (tw_uni) -- are intersected in one pass in rank order, no heap
 * (leapfrog: the others are galloped to the driver's rank -- over their
 * block heads, only the block found decoded -- and the driver
 * on to the first rank a list has past it), and only the ranks in all of
 * them are checked (trie_words__check_ranks). A block of a list whose bound
 * is beaten (cur_seek_live) is passed whole. Exact: every rank is either in
 * a beaten block, absent from a list every match is in, or checked. One
 * work unit a step (each moves the driver forward) and one a prefix cursor
 * moved; at the limit (S->lim) the pass stops and leaves what it did not
 * reach to search() as one heap entry (isect_rest). */
void trie_words__isect(tw_search *S, const uint32_t *u, uint32_t un, const uint32_t *pw, uint32_t npw) {
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
        cur_init(&cur[k], x);
    }
    tw_tree tr; /* bounds read on the shortest complete list only: another
                 * list's are a cache miss a seek */
    tree_of(cur[0].x, &tr);
    tw_uni U;
    tw_pset P = {u, un, 0, NULL}, *pp = u ? &P : NULL;
    uint64_t pn = un;
    if (!u && npw) {
        if (npw > TW_PCUR_MAX) npw = TW_PCUR_MAX; /* (the caller's limit) */
        uni_init(&U, w, pw, npw);
        P.U = &U;
        pp = &P;
        pn = 0;
        for (uint32_t i = 0; i < npw; i++) pn += w->w[pw[i]].n;
    }
    /* the shortest list drives: the prefix's ranks when shorter than
     * every complete word's list, else the shortest of those; then the
     * prefix's (an array in cache, or cursors that only move forward),
     * then the others, shortest first. On a rank missing from a list the
     * driver seeks on to that list's next rank, so the longer lists only
     * seek to ranks the driver has (a cache miss each, in a long list). */
    int udrive = pp && (no == 0 || pn < cur[0].x->n);
    /* a complete word's list over trie_words__isect_skew times the
     * driver's is left to the candidate check: a seek there gallops over
     * blocks far apart (a cache miss a step, ~log of the ratio steps),
     * where the check of a rank that reached it costs a few misses,
     * started 16 at a time (every typed word is checked there anyway).
     * The shortest complete list stays: its bounds end the pass. */
    uint64_t dn = udrive ? pn : cur[0].x->n;
    uint32_t nall = no;
    while (no > 1 && cur[no - 1].x->n > dn * trie_words__isect_skew) no--;
    S->skewed = no < nall;
    /* one complete word and the prefix's cursors: the pass hands the rest
     * of the word's list to the best-first search before the limit */
    int handoff = P.U && nall == 1;
    uint32_t lim = handoff ? (uint32_t)(S->lim * TW_ISECT_HANDOFF) : S->lim;
    uint32_t buf[TW_F], nb = 0, r = 0;
    /* two complete lists of comparable length, nothing else sought first:
     * a block pair at a time while no bound is beaten (isect_blocks) */
    if (!pp && no >= 2 && trie_words__isect_block &&
        cur[1].x->n <= (uint64_t)cur[0].x->n * trie_words__isect_block &&
        !isect_blocks(S, cur, no, &r, buf, &nb, lim))
        goto done;
    /* the next complete list much longer than the driver, or every longer
     * one left to the key check (nothing else sought first): the driver's
     * ranks tested on their signatures, a block's misses started under the
     * last block's seeks, before the longer lists are sought (isect_sigf)
     * while no bound is beaten */
    if (!pp && !S->fz && trie_words__isect_sigf &&
        (no >= 2 ? cur[1].x->n > (uint64_t)cur[0].x->n * trie_words__isect_sigf : nall >= 2) &&
        !isect_sigf(S, cur, no, &r, buf, &nb, lim))
        goto done;
    /* trie_words_fuzzy_topk: the pass hands the rest of the shortest
     * complete list on as soon as the best-first search could not read
     * all of it in the work left (rest: its entries from the current
     * block, one more unit a tree entry pushed), so a pass that would
     * pass the limit ends as the search it replaced would */
    const uint32_t fzrest = S->fz && !(udrive && S->scanned + 2 * pn + TW_F < S->lim) ? cur[0].x->n : 0;
    for (;;) {
        if (S->scanned >= lim ||
            (fzrest && S->scanned + (uint64_t)(fzrest - (cur[0].blk << TW_FB)) * 9 / 8 + TW_F >= S->lim)) {
            if (nb) trie_words__check_ranks(S, buf, nb);
            if (handoff || fzrest) isect_handoff(S, &cur[0]);
            else isect_rest(S, cur, &tr, r);
            return;
        }
        S->scanned++;
        if (udrive) {
            if (!pset_seek(S, pp, r, &r)) break;
        } else {
            if (!cur_seek_live(S, &cur[0], &tr, r)) break; /* exhausted: no more ranks */
            r = cur[0].r;
        }
        uint32_t nr = r;
        if (pp && !udrive && !pset_seek(S, pp, r, &nr)) break;
        for (uint32_t k = udrive ? 0 : 1; k < no && nr == r; k++) {
            /* (the prefix driving: the shortest complete list's bounds skip for it) */
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
