/* trie_words_internal.h -- private layout of the word index, shared only by
 * its files and white-box tests. The design is described in trie_words.c.
 *
 * What lives where:
 *   trie_words.c       the design essay; layout, live changes
 *   trie_words_post.c  posting lists: blocks, bound trees, growth, compaction
 *   trie_words_query.c top-k (trie_words_topk): parsing, matching, the
 *                      dictionary cursor, the best-first search, the check
 *                      of a rank on its key's text
 *   trie_words_check.c trie_words_check: the index against its trie
 *   trie_words_isect.c the one-pass intersection of posting lists and the
 *                      merged prefix lists (used by the top-k search)
 *   trie_words_fuzzy.c the last typed word with edits: the dictionary walk
 *                      and the edit class of a key (trie_words_fuzzy_topk,
 *                      whose search is in trie_words_query.c)
 *   trie_words_build.c the index built from a trie's keys (trie_words_build)
 *   trie_words_snap.c  the index saved beside a snapshot (save, load, checks)
 *   trie_words_open.c  the saved index found beside a snapshot (public
 *                      API only: it does not include this header)
 *
 * Naming (as in trie_internal.h): functions shared between these files are
 * non-static with the prefix trie_words__ (the older tw_post_* of
 * trie_words_post.c keep theirs); small hot helpers are
 * static inline here.
 */
#ifndef QAC_TRIE_WORDS_INTERNAL_H
#define QAC_TRIE_WORDS_INTERNAL_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "trie/trie_internal.h"
#include "trie/trie_words.h"

#define TW_FB 4 /* fanout 16 */
#define TW_F (1u << TW_FB)
#define TW_MAXLV 8
#define TW_MAXKW (TRIE_MAX_KEY / 2 + 1) /* words in a key */

/* A word's posting list: ranks ascending, in blocks of TW_F (the tree's
 * leaf blocks). Block b's first rank is bbase[b]; its other ranks are gaps
 * less one (a gap is >= 1), bw[b] bits each (the widest of the block's,
 * 0..32), packed little-endian from byte tw_boff(x, b) of the gap bytes:
 * tw_pk_bytes bytes. Every block but the last is full, so its bytes follow
 * from its width alone: only each group of TW_F blocks keeps its start
 * (goff), and a block's start is its group's plus the sizes of the blocks
 * before it in the group (4 bytes a block cost 13 MB at 10M keys). One
 * allocation: bbase[nblk], goff[ngrp] (uint32), bw[nblk] (uint8, padded to
 * even), the bound tree (uint16 codes), the gap bytes (gcap), where nblk =
 * tw_nblk(cap), ngrp = tw_ngrp(cap). */
typedef struct tw_word {
    uint8_t *p;
    uint32_t n, cap, live; /* entries (tombstones included), room, live ones */
    uint32_t gn, gcap;     /* gap bytes used, room */
    uint32_t goff;         /* where the gap bytes start in p (set by tw_post_layout) */
    uint32_t last;         /* the last entry's rank (n > 0) */
    uint16_t top;          /* root bound code (the dictionary score is bval(top)) */
} tw_word;

/* The most gap bytes of a block (15 gaps of 32 bits): an append needs at
 * most this much room (tw_post_need). */
#define TW_BLK_MAX (((TW_F - 1) * 32 + 7) / 8)

typedef uint32_t tw_sig_t; /* a rank's signature (tw_sig, below) */

/* What a rank holds: its key's signature and its key id, side by side, so
 * the candidate check reads both in one cache miss (trie_words.c, "Candidate
 * check"); 8 bytes, as the two arrays of 4 they replace. */
typedef struct tw_rrec {
    tw_sig_t sig; /* the key's word heads, two bits each (tw_sig) */
    uint32_t id;  /* key id, NONE once deleted (a tombstone) */
} tw_rrec;

struct trie_words {
    trie *wt;          /* dictionary: word -> wid, score = bval(bound) */
    tw_word *w;        /* by wid */
    uint32_t wcap;
    uint16_t *rhint;   /* by key id: its rank >> rshift (tw_rank finds the rank among
                        * the 2^rshift from rhint << rshift); meaningful when kb != 0 */
    uint16_t *kb;      /* by key id: bound code, 0 when the id has no rank */
    uint32_t rshift;   /* TW_RH_MIN while ranks < 2^24; more past it (tw_rshift_for) */
    uint32_t idcap;
    tw_rrec *rr;       /* by rank: the key's signature and id (NONE once deleted) */
    uint32_t ridcap;
    uint32_t next_rank;
    uint64_t keys, postings;
    /* kept by every list allocation and free, so trie_words_memory (STATS)
     * costs nothing: words with a list, and the bytes of their lists and
     * trees (tw_list_bytes); trie_words_check recounts both */
    uint64_t nwords, list_bytes;
    uint32_t max_scan; /* work units a request may spend (trie_words_set_max_scan) */
};

/* ------------------------------------------------------------ bound codes */

static inline uint16_t bcode(double x) {
    float f = (float)x;
    if ((double)f < x) f = nextafterf(f, INFINITY);
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t k = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return (uint16_t)(((uint64_t)k + 0xffffu) >> 16); /* in [0x80, 0xff80]: never 0 */
}
static inline double bval(uint16_t c) {
    uint32_t k = (uint32_t)c << 16;
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}

/* The bound code of a key added or raised live: strictly above its score
 * (so the key is never tw_exact), with headroom, so that an INCR-heavy key
 * pays the raise once per ~6 % of growth, not per INCR. */
static inline uint16_t tw_headroom(double s) { return bcode(s + fabs(s) / 16 + 1); }

/* A key whose score equals its bound exactly (bval(kb) == score) holds the
 * score it had at the last build, at the rank the build gave it: build
 * hands out ranks by bound code, then KEY order, and every later add or
 * raise sets a bound strictly above the score (tw_headroom; a score equal
 * to its bound is not covered), while a drop leaves the bound above it.
 * So two tw_exact keys of equal score rank in key order: a tie the search
 * decides by rank, no decode (trie_words.c, "Ties"). */
static inline int tw_exact(const trie_words *w, uint32_t id, double score) { return bval(w->kb[id]) == score; }

/* id -> rank: not an array of 4-byte ranks (40 MB at 10M keys) but a
 * 2-byte hint, the rank's window of 2^rshift ranks (256 while ranks <
 * 2^24: one sequential read of <= 2 KB of rank records). Only live changes and the
 * checks look ranks up (a search knows the ranks it examines). */
#ifndef TW_RH_MIN /* (both overridable to test the re-hinting: -DTW_RH_MIN=0 -DTW_RH_MAX=7) */
#define TW_RH_MIN 8
#endif
#ifndef TW_RH_MAX
#define TW_RH_MAX 0xffffu /* the largest hint */
#endif
/* The window shift for ranks < n (n >= 1): hints fit 16 bits. */
static inline uint32_t tw_rshift_for(uint64_t n) {
    uint32_t s = TW_RH_MIN;
    while (((n - 1) >> s) > TW_RH_MAX) s++;
    return s;
}
/* The rank of key id, NONE when it has none (no bound: kb 0). */
static inline uint32_t tw_rank(const trie_words *w, uint32_t id) {
    if (id >= w->idcap || !w->kb[id]) return NONE;
    uint64_t r = (uint64_t)w->rhint[id] << w->rshift, e = r + ((uint64_t)1 << w->rshift);
    if (e > w->next_rank) e = w->next_rank;
    for (; r < e; r++)
        if (w->rr[r].id == id) return (uint32_t)r;
    return NONE;
}

/* A key's signature (rr[rank].sig, 4 bytes) ORs two bits for each of its
 * words: in the low half, one of 16 chosen by its first two bytes (the
 * first and 0 for a one-byte word); in the high half, one of 16 chosen by
 * its first three bytes (the missing ones 0 for a shorter word). A key
 * that holds a typed complete word has both of that word's bits; one
 * that holds a word starting with a typed prefix of 2 bytes or more has
 * the low bit of the prefix's first two bytes, and of 3 bytes or more the
 * high bit of its first three (they are the word's), so a rank whose
 * signature lacks a typed word's bit is rejected before its key is read
 * (trie_words__check_ranks). The high half (version 5 of the words file,
 * a byte then) and halves of 16 bits instead of 8 (version 6) cut the
 * candidates that reach their key: trie_words.c. */
static inline tw_sig_t tw_sig_lo(uint32_t b0, uint32_t b1) {
    return (tw_sig_t)1u << (((b0 | b1 << 8) * 0x9e3779b1u) >> 28);
}
static inline tw_sig_t tw_sig_hi(uint32_t b0, uint32_t b1, uint32_t b2) {
    return (tw_sig_t)0x10000u << (((b0 | b1 << 8 | b2 << 16) * 0x85ebca6bu) >> 28);
}
/* The bits of a whole word (a key's, or a typed complete word; wl >= 1). */
static inline tw_sig_t tw_sig_word(const char *word, size_t wl) {
    const uint8_t *u = (const uint8_t *)word;
    uint32_t b1 = wl > 1 ? u[1] : 0, b2 = wl > 2 ? u[2] : 0;
    return tw_sig_lo(u[0], b1) | tw_sig_hi(u[0], b1, b2);
}
/* The bits every word starting with typed prefix p (pl >= 1) has: none for
 * one byte, the low one for two, both for three or more. */
static inline tw_sig_t tw_sig_pfx(const char *p, size_t pl) {
    const uint8_t *u = (const uint8_t *)p;
    if (pl < 2) return 0;
    return tw_sig_lo(u[0], u[1]) | (pl > 2 ? tw_sig_hi(u[0], u[1], u[2]) : 0);
}
/* The signature of key (its words' bits). */
static inline tw_sig_t tw_sig(const char *key, size_t klen) {
    tw_sig_t s = 0;
    for (size_t i = 0; i < klen;) {
        if (key[i] == ' ') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < klen && key[j] != ' ') j++;
        s |= tw_sig_word(key + i, j - i);
        i = j;
    }
    return s;
}

/* A bound as the dictionary trie's score: the trie takes finite scores only,
 * so a bound of +inf (a key score near DBL_MAX) is kept there as DBL_MAX,
 * which still bounds every finite score. */
static inline double bval_fin(uint16_t c) {
    double v = bval(c);
    return v > DBL_MAX ? DBL_MAX : v;
}

/* ------------------------------------------------------------ packed gaps */

/* Bits of v (0 for 0). */
static inline uint32_t tw_wbits(uint32_t v) { return v ? 32 - (uint32_t)__builtin_clz(v) : 0; }
/* Gap bytes of a block of g gaps (g < TW_F) at width W. */
static inline uint32_t tw_pk_bytes(uint32_t g, uint32_t W) { return (g * W + 7) / 8; }

/* A reader of a block's gaps, one at a time: gap i is the W bits at bit
 * i W, read with one unaligned 8-byte load (W <= 32 bits from a bit offset
 * < 8 fit), so a list keeps TW_PK_PAD bytes after its gap bytes, never
 * written, for the load of its last gap (a block of width 0 holds no
 * bytes: its loads start at its end). */
#define TW_PK_PAD 8
typedef struct tw_pk {
    const uint8_t *p;
    uint64_t mask;
    uint32_t pos, w; /* the next gap's bit, the width */
} tw_pk;
/* Starts a reader at a block's gap bytes g, of width W. */
static inline void tw_pk_start(tw_pk *k, const uint8_t *g, uint32_t W) {
    k->p = g;
    k->pos = 0;
    k->w = W;
    k->mask = ((uint64_t)1 << W) - 1;
}
/* The next gap (>= 1). */
static inline uint32_t tw_pk_next(tw_pk *k) {
    uint64_t v;
    memcpy(&v, k->p + (k->pos >> 3), 8); /* (little-endian, as the snapshot) */
    v = (v >> (k->pos & 7)) & k->mask;
    k->pos += k->w;
    return (uint32_t)v + 1;
}
/* Writes value v (< 2^W) as gap slot i of packed bits p at width W. */
static inline void tw_pk_set(uint8_t *p, uint32_t i, uint32_t W, uint32_t v) {
    for (uint32_t s = 0, bit = i * W; s < W;) {
        uint32_t at = (bit + s) >> 3, o = (bit + s) & 7, take = 8 - o < W - s ? 8 - o : W - s;
        uint32_t m = ((1u << take) - 1) << o;
        p[at] = (uint8_t)((p[at] & ~m) | (((v >> s) << o) & m));
        s += take;
    }
}

/* ------------------------------------------------------------- tree layout */

/* Stored levels for a list of capacity cap: level l has ceil(cap/16^(l+1))
 * entries, kept while that is > 1 (the root is tw_word.top). */
static inline int tw_levels(uint32_t cap, uint32_t off[TW_MAXLV], uint32_t sz[TW_MAXLV], uint32_t *total) {
    int nl = 0;
    uint32_t o = 0;
    for (uint32_t sh = TW_FB; sh < 64 && ((uint64_t)1 << sh) < cap; sh += TW_FB) {
        sz[nl] = (uint32_t)(((uint64_t)cap + ((uint64_t)1 << sh) - 1) >> sh);
        off[nl++] = o;
        o += sz[nl - 1];
    }
    *total = o;
    return nl;
}

static inline uint32_t tw_nblk(uint32_t cap) { return (cap + TW_F - 1) >> TW_FB; }
static inline uint32_t tw_ngrp(uint32_t cap) { return (tw_nblk(cap) + TW_F - 1) >> TW_FB; }

/* Bytes of a word's list of capacity cap before its gap bytes: block heads
 * (first ranks, group starts, widths) and the tree of bounds. */
static inline uint64_t tw_head_bytes(uint32_t cap) {
    uint32_t off[TW_MAXLV], sz[TW_MAXLV], tot;
    tw_levels(cap, off, sz, &tot);
    uint64_t nb = tw_nblk(cap);
    return nb * 4 + (uint64_t)tw_ngrp(cap) * 4 + ((nb + 1) & ~(uint64_t)1) + (uint64_t)tot * 2;
}
/* Bytes of a word's list of capacity cap with gcap gap bytes: its heads and
 * tree, the gaps and their pad (0 for no list). */
static inline uint64_t tw_list_bytes(uint32_t cap, uint32_t gcap) {
    return cap ? tw_head_bytes(cap) + gcap + TW_PK_PAD : 0;
}
static inline uint32_t *tw_bbase(const tw_word *x) { return (uint32_t *)(void *)x->p; }
static inline uint32_t *tw_goff(const tw_word *x) { return tw_bbase(x) + tw_nblk(x->cap); }
static inline uint8_t *tw_bw(const tw_word *x) { return (uint8_t *)(tw_goff(x) + tw_ngrp(x->cap)); }
static inline uint16_t *tw_mx(const tw_word *x) {
    return (uint16_t *)(void *)(tw_bw(x) + ((tw_nblk(x->cap) + 1) & ~1u));
}
static inline uint8_t *tw_gaps(const tw_word *x) { return x->p + x->goff; }
/* Where block b's gaps start in the gap bytes: its group's start and the
 * sizes of the (full) blocks before it in the group. */
static inline uint32_t tw_boff(const tw_word *x, uint32_t b) {
    const uint8_t *bw = tw_bw(x);
    uint32_t o = tw_goff(x)[b >> TW_FB];
    for (uint32_t i = b & ~(TW_F - 1); i < b; i++) o += tw_pk_bytes(TW_F - 1, bw[i]);
    return o;
}
/* Sets x->goff for x->cap (after cap changed). */
static inline void tw_post_layout(tw_word *x) { x->goff = (uint32_t)tw_head_bytes(x->cap); }

/* The ranks of block b of x into out (room for TW_F); returns how many. */
static inline uint32_t tw_block(const tw_word *x, uint32_t b, uint32_t *out) {
    uint32_t n = x->n - (b << TW_FB), r = tw_bbase(x)[b];
    if (n > TW_F) n = TW_F;
    tw_pk k;
    tw_pk_start(&k, tw_gaps(x) + tw_boff(x, b), tw_bw(x)[b]);
    out[0] = r;
    for (uint32_t i = 1; i < n; i++) out[i] = r += tw_pk_next(&k);
    return n;
}


/* ------------------------------------------- the search's state (top-k) */
/* Shared by trie_words_query.c (the best-first search, the matching of a
 * rank) and trie_words_isect.c (the one-pass intersection, which checks the
 * ranks it finds there and, stopped by the work limit, leaves a heap entry). */

typedef struct tw_req tw_req;   /* the parsed request (trie_words_query.c) */
typedef struct tw_sent tw_sent; /* a dictionary cursor entry (trie_words_query.c) */

enum { K_STREAM, K_WORD, K_NODE };

/* A bound entry of the search heap; value v bounds every key below it. */
typedef struct tw_ent {
    double v;
    uint32_t a, b; /* WORD: a = wid; NODE: a = wid, b = index */
    uint32_t r0;   /* a rank <= every rank below (0 for STREAM): equal v, smaller first */
    uint8_t kind, lv;
} tw_ent;

/* One verified match among the best m found so far. */
typedef struct tw_res {
    double s;
    uint32_t id;
    uint32_t erank; /* its rank when tw_exact, else NONE (ties decided by rank) */
    uint16_t kl;
    trie_words_range rg[TRIE_WORDS_MAX_TYPED];
    char key[TRIE_MAX_KEY];
} tw_res;

typedef struct tw_search {
    const trie_words *w;
    const trie *t;
    const tw_req *q;
    tw_ent *h;
    uint32_t hn, hcap;
    tw_sent *s;
    uint32_t sn, scap;
    tw_res *res;   /* m slots */
    uint32_t *ord; /* slot indices, best first */
    uint32_t nres, m;
    uint32_t scanned, decoded; /* work units, keys decoded (trie_words.h LIMITS) */
    uint32_t lim;              /* the units it may spend: w->max_scan */
    uint32_t qw[TRIE_WORDS_MAX_TYPED]; /* word ids of the complete typed words, typed order */
    int nc;                            /* how many (the last typed word is a prefix unless trailing) */
    tw_sig_t sigm;                     /* the typed words' signature bits (tw_sig_word, tw_sig_pfx): a key has them all */
    int stream, oom;
    int saw0; /* a key of class 0 (the text its prefix) was examined (and passed over) */
    /* trie_words_fuzzy_topk: keys of edit class fzc (1..fzd) only, judged by
     * trie_words__fz_class (fz 0: the exact search) */
    uint8_t fz, fzc, fzd;
    const struct tw_fzq *fzq;
    tw_sig_t fzsig; /* the class's words' bits (OR of tw_sig_word, each half all ones when unknown): a key of
                     * the class has one of each half (0: no such test) */
    uint8_t pcur, handoff, skewed, blocks, sigf; /* (tw_work) */
    /* the leaf block looked ahead at (trie_words_query.c, expand): the
     * heap's next entry when a leaf block too, its ranks decoded and their
     * records' and scores' misses started under the current block's check
     * (la_n 0: none); nleaf: leaf blocks expanded so far (from the
     * trie_words__lookahead-th on) */
    uint32_t la_wid, la_idx, la_n, nleaf;
    uint32_t la_rk[TW_F];
    uint32_t ahead; /* leaf blocks expanded from the look-ahead (tw_work) */
} tw_search;

/* The worst kept match when the set is full (prunes), else NULL. */
static inline const tw_res *res_worst(const tw_search *S) {
    return S->nres == S->m ? &S->res[S->ord[S->nres - 1]] : NULL;
}

/* 1 when nothing below a bound v whose ranks are all >= r0 can enter the
 * best m: v under the worst kept, or (trie_words.c, "Ties") v equal to it,
 * the worst tw_exact and every rank below after its rank -- a key there
 * with that very score is tw_exact too, so its key is after the worst's. */
static inline int res_beats(const tw_res *wr, double v, uint32_t r0) {
    return wr && (v < wr->s || (v == wr->s && wr->erank != NONE && r0 > wr->erank));
}

/* trie_words_query.c: the search */
/* Pushes bound entry e on the search heap (a work unit; S->oom when it
 * cannot grow). */
void trie_words__hpush(tw_search *S, tw_ent e);
/* Checks up to TW_F ranks: those whose score may enter the best m, on
 * their keys' text in the main trie. */
void trie_words__check_ranks(tw_search *S, const uint32_t *rk, uint32_t nr);

/* trie_words_isect.c: the one-pass intersection and the merged prefix lists */
/* The most prefix words whose lists the intersection reads as one, a
 * cursor each (TW_PCUR_WORDS, trie_words_query.c, is the default limit). */
#define TW_PCUR_MAX 256
/* The share of the work limit after which the one pass of one complete
 * word and the prefix's cursors leaves the rest of the word's list to the
 * best-first search (trie_words_isect.c, isect_handoff). */
#define TW_ISECT_HANDOFF 0.75
/* Intersects the distinct complete typed words' lists (S->nc >= 1) and the
 * prefix's ranks -- the sorted ranks u[0..un) when u is not NULL, else,
 * when npw > 0 (<= TW_PCUR_MAX), the lists of the prefix's words
 * pw[0..npw), every word the prefix has -- in one pass, checking the ranks
 * in all of them; at the work limit leaves one heap entry bounding the
 * rest. */
void trie_words__isect(tw_search *S, const uint32_t *u, uint32_t un, const uint32_t *pw, uint32_t npw);
/* A complete word's list longer than this many times the driving one's is
 * not sought in the one pass (the key's text checks it): TW_ISECT_SKEW
 * unless a test sets it. */
extern unsigned trie_words__isect_skew;
/* Two complete words' lists, the longer at most this many times the
 * shorter, no prefix list sought, are intersected a block pair at a time
 * while fewer than k matches are kept (trie_words_isect.c, isect_blocks):
 * TW_ISECT_BLOCK unless a test sets it (0: never). */
extern unsigned trie_words__isect_block;
/* The shortest complete list's ranks are tested on their signatures
 * before the longer lists are sought when the next is over this many times
 * its length, no prefix list sought, while fewer than k matches are kept
 * (trie_words_isect.c, isect_sigf): TW_ISECT_SIGF unless a test sets it
 * (0: never). */
extern unsigned trie_words__isect_sigf;
/* The ranks of the lists of words pw[0..npw), sorted and distinct, into u
 * (room for their entries; tmp as much scratch); their number. */
uint32_t trie_words__union(const trie_words *w, const uint32_t *pw, uint32_t npw, uint32_t *u, uint32_t *tmp);

/* trie_words_query.c */
/* The most words a prefix may have for the intersection to read their
 * lists as one (a cursor each) when a complete word is typed too:
 * TW_PCUR_WORDS (<= TW_PCUR_MAX) unless a test sets it (0: never, so the
 * search takes the paths it took before; trie_words_query.c). */
extern unsigned trie_words__pcur_words;
/* ... and at most this many times the rarest complete word's entries in
 * those lists: TW_PCUR_RATIO unless a test sets it. */
extern unsigned trie_words__pcur_ratio;
/* trie_words_fuzzy_topk reads an edit class's words' lists as one (a
 * cursor each) in the one-pass intersection when they are at most this
 * many (TW_FZCUR_WORDS, <= TW_PCUR_MAX; 0: never) ... */
extern unsigned trie_words__fzcur_words;
/* ... and their entries at most this many times the rarest complete
 * word's (TW_FZCUR_RATIO) -- unless a test sets them. */
extern unsigned trie_words__fzcur_ratio;
/* Typed words from which the class 1 search runs before class 0, so that
 * a search that met every match (fewer than k, nothing cut) and no key of
 * class 0 answers without trie_topk: TW_C0_LATE_WORDS unless a test sets
 * it (0: never, class 0 first as before; trie_words_query.c). */
extern unsigned trie_words__c0_late;
/* the best-first search looks one leaf block ahead from its this-many-th
 * leaf block on (TW_LOOKAHEAD; 0: never, for tests; trie_words_query.c,
 * expand). */
extern unsigned trie_words__lookahead;
typedef struct tw_work {
    uint32_t units;   /* as limited by the index's max_scan */
    uint32_t decoded; /* keys decoded: only candidates that enter the best k */
    uint8_t pcur;     /* the prefix's lists were read as one (a cursor each) */
    uint8_t handoff;  /* ... and that pass handed the rest to the best-first search */
    uint8_t skewed;   /* the one pass left a complete word's list to the key check */
    uint8_t blocks;   /* the one pass compared two lists a block pair at a time */
    uint8_t sigf;     /* the one pass tested the driver's ranks on their signatures first */
    uint8_t pfskip;   /* class 0 was known empty from the prefix filter (no trie_topk) */
    uint8_t late0;    /* class 1 searched first (trie_words__c0_late): 1 it met no key of class 0 and answers
                       * alone (no trie_topk), 2 class 0 was not empty: its best k - n0 follow class 0 */
    uint32_t ahead;   /* leaf blocks the best-first search had looked ahead at (decoded, misses started) */
} tw_work;
/* trie_words_topk that also reports the work it did (tests). */
int trie_words__topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned k,
                     trie_words_hit *out, int *truncated, tw_work *work);
/* trie_words_fuzzy_topk that also reports the work it did (tests; pcur:
 * a class's words' lists were read as one, a cursor each; handoff: that
 * pass handed the rest to the best-first search). */
int trie_words__fuzzy_topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned maxd,
                           unsigned flags, unsigned k, trie_words_hit *out, int *truncated, tw_work *work);

/* trie_words_fuzzy.c: the last typed word with edits (trie_words_fuzzy_topk) */
/* A dictionary entry the last word may stand for: ref a node of the
 * dictionary trie (its whole subtree) or LEAF | a word id; cls its edit
 * class (1..maxd). */
typedef struct tw_fzent {
    uint32_t ref;
    uint8_t cls;
} tw_fzent;
/* A request's typed words, ready for the walk and trie_words__fz_class
 * (defined in trie_words_fuzzy.c: the last word is trie_fuzzy's pattern). */
typedef struct tw_fzq tw_fzq;
/* Every dictionary entry of class 1..maxd for the last typed word (z's),
 * as trie_words_fuzzy.c says, into *out (qmalloc'd, the caller frees) and
 * *nout. A work unit a byte fed and a child looked at, added to *work;
 * past limit it stops: returns 1 (nothing listed). 0, or TRIE_ENOMEM. */
int trie_words__fz_words(const trie *wt, const tw_fzq *z, uint32_t *work, uint32_t limit, tw_fzent **out,
                         uint32_t *nout);
/* Prepares *out (qmalloc'd, the caller frees) for the typed words w[0..nw)
 * (the last one with up to maxd edits; trailing: it is complete): 0; -1
 * when nothing can match (the last word has no character); TRIE_ENOMEM. */
int trie_words__fz_prep(tw_fzq **out, const char *const *w, const uint16_t *wl, int nw, int trailing,
                        unsigned maxd, unsigned flags);
/* The edit class of key for z's words: 0 for an exact INFIX match, 1..maxd,
 * or maxd + 1 when it does not match; rg (when not NULL) the ranges of
 * every typed word (trie_words_fuzzy.c). */
unsigned trie_words__fz_class(const tw_fzq *z, const char *key, size_t klen, trie_words_range *rg);

/* trie_words.c */
/* Id of key in t, or NONE (find() without the path; reads trie internals). */
uint32_t trie_words__lookup(const trie *t, const char *key, size_t klen);
/* Position of the live entry with rank r in x, or NONE. */
uint32_t trie_words__find_pos(const trie_words *w, const tw_word *x, uint32_t r);
/* Room for n rank records (w->rr), on 2 MB pages when they fill at least
 * trie_words__rr_huge_min bytes (trie_huge.c: trie__huge_alloc), else an
 * ordinary block; NULL without memory. Either is an ordinary heap block
 * (qrealloc, qfree: a growth may leave the huge pages, which is only
 * slower). */
tw_rrec *trie_words__rr_alloc(size_t n);
/* Room for key id `id` in rhint and kb (zeroed), and for word id `wid` in w
 * (zeroed entries): x1.5 growth; TRIE_ENOMEM (trie_words.c; the build and
 * live adds use them). */
int trie_words__ids_reserve(trie_words *w, uint32_t id);
int trie_words__words_reserve(trie_words *w, uint32_t wid);
/* HUGE_MIN_BYTES (trie_internal.h) unless a test sets it (0: any size). */
extern size_t trie_words__rr_huge_min;
/* A build's word ids are recorded in chunks of 2^this entries (trie_words.c,
 * tw_seq): TW_SEQ_SHIFT unless a test sets it (1 or more; small: many
 * chunks, keys across their ends). */
#define TW_SEQ_SHIFT 20
extern uint32_t trie_words__seq_shift;

/* trie_words_post.c: posting lists (the layout above) */
/* Recomputes every bound of x from kb (after growth or compaction). */
void tw_tree_rebuild(const trie_words *w, tw_word *x);
/* Raises the bounds above position pos to at least c (not the root). */
void tw_raise(tw_word *x, uint32_t pos, uint16_t c);
/* Appends rank rk (> every rank of x), growing x (tombstones dropped when
 * they are over half of it): TRIE_OK or TRIE_ENOMEM. */
int tw_post_append(trie_words *w, tw_word *x, uint32_t rk);
/* Drops x's tombstones (a fresh list of the same capacity); 0, or -1 when
 * there is no memory for it (x is left as it was: still correct). */
int tw_post_compact(trie_words *w, tw_word *x);

/* x->gn once rank rk (> every rank of x) is appended (tw_post_put): the
 * room that needs (the last block's gaps, widened when rk's gap is wider
 * than the others; a new block's first rank takes none). */
static inline uint32_t tw_post_need(const tw_word *x, uint32_t rk) {
    uint32_t j = x->n & (TW_F - 1);
    if (j == 0) return x->gn;
    uint32_t W = tw_bw(x)[x->n >> TW_FB], wv = tw_wbits(rk - x->last - 1);
    return x->gn - tw_pk_bytes(j - 1, W) + tw_pk_bytes(j, wv > W ? wv : W);
}
/* Appends rank rk (> every rank of x) where x has room for it (an entry,
 * and gap bytes up to tw_post_need). A gap wider than its block's others
 * packs the block again at its width. */
static inline void tw_post_put(tw_word *x, uint32_t rk) {
    uint32_t b = x->n >> TW_FB, j = x->n & (TW_F - 1);
    uint8_t *bw = tw_bw(x);
    if (j == 0) { /* the block before is full: its gaps end at gn */
        tw_bbase(x)[b] = rk;
        bw[b] = 0;
        if ((b & (TW_F - 1)) == 0) tw_goff(x)[b >> TW_FB] = x->gn;
    } else {
        uint32_t W = bw[b], v = rk - x->last - 1, wv = tw_wbits(v), at = x->gn - tw_pk_bytes(j - 1, W);
        uint8_t *g = tw_gaps(x) + at;
        if (wv > W) { /* widen: the block's gaps packed again at wv bits */
            uint32_t gv[TW_F];
            tw_pk k;
            tw_pk_start(&k, g, W);
            for (uint32_t i = 0; i + 1 < j; i++) gv[i] = tw_pk_next(&k) - 1;
            bw[b] = (uint8_t)(W = wv);
            for (uint32_t i = 0; i + 1 < j; i++) tw_pk_set(g, i, W, gv[i]);
        }
        tw_pk_set(g, j - 1, W, v);
        x->gn = at + tw_pk_bytes(j, W);
    }
    x->last = rk;
    x->n++;
}
/* Gap bytes of a list of ranks being laid out, counted as they come
 * (build, growth, compaction): the blocks closed so far, and the one open. */
typedef struct tw_pk_count {
    uint64_t bytes;
    uint32_t k, last, w; /* ranks counted, the last, the open block's width */
} tw_pk_count;
/* Counts rank r, the k-th (from 0) of its list, after rank `last`: widens
 * the open block's width *w, or closes the block before it; returns the
 * gap bytes closed (0 or a full block's). The build's count pass keeps
 * these in its tw_word fields, tw_pk_add in a tw_pk_count. */
static inline uint32_t tw_pk_step(uint32_t k, uint32_t r, uint32_t last, uint32_t *w) {
    uint32_t closed = 0;
    if ((k & (TW_F - 1)) == 0) {
        if (k) closed = tw_pk_bytes(TW_F - 1, *w);
        *w = 0;
    } else {
        uint32_t wv = tw_wbits(r - last - 1);
        if (wv > *w) *w = wv;
    }
    return closed;
}
static inline void tw_pk_add(tw_pk_count *c, uint32_t r) {
    c->bytes += tw_pk_step(c->k, r, c->last, &c->w);
    c->last = r;
    c->k++;
}
/* The gap bytes of the ranks counted. */
static inline uint64_t tw_pk_total(const tw_pk_count *c) {
    return c->k ? c->bytes + tw_pk_bytes((c->k - 1) & (TW_F - 1), c->w) : 0;
}
/* Splits key into words: offsets o, lengths l; returns how many. */
int trie_words__split(const char *key, size_t klen, uint16_t *o, uint16_t *l);
/* Keeps the first occurrence of each distinct word; returns how many. */
int trie_words__distinct(const char *key, uint16_t *o, uint16_t *l, int n);

#endif
