/* trie_fuzzy_internal.h -- what the typo search's files share (trie_fuzzy.c:
 * the walk and the top-k; trie_fuzzy_dp.c: the typed prefix and the edit
 * distance of one key; trie_fuzzy_list.c: the ranked entry lists), and
 * trie_words_fuzzy.c (the last typed word with edits: the same pattern,
 * rows and distance, so that INFIX FUZZY's edits are FUZZY's). The DP
 * step functions are static inline here: the walk calls them for every
 * byte, so they must be compiled into it. Design: trie_fuzzy.c. */
#ifndef QAC_TRIE_FUZZY_INTERNAL_H
#define QAC_TRIE_FUZZY_INTERNAL_H

#include <string.h>

#include "trie/trie_fuzzy.h"
#include "trie/trie_internal.h"

#define FZ_W (2 * TRIE_FUZZY_MAX_EDITS + 1) /* row cells */
#define FZ_RB 8 /* row bytes stored: the cells, then inf (one uint64, see fz_row) */
#define FZ_CPAD 4 /* c8[] bytes before c8 index 0 (fz_row reads from index j - B - 2) */
#define FZ_MAXP (TRIE_MAX_KEY + TRIE_FUZZY_MAX_EDITS) /* typed characters kept */

/* Bytes of the character whose first byte is b (see trie_fuzzy.h). */
static inline unsigned fz_clen(uint8_t b) {
    if (b < 0xC0) return 1; /* ASCII, or a stray continuation byte */
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 3;
    if (b < 0xF8) return 4;
    return 1;
}

/* The typed prefix as characters: c[0..m) after the exact first character
 * (elen bytes; 0 under FIRST_ANY). */
typedef struct fz_pat {
    uint32_t c[FZ_MAXP];
    uint16_t off[FZ_MAXP + 1]; /* byte offset in p of c[i]; off[m]: the end */
    unsigned m, B, elen;
    uint8_t inf;
    uint8_t onebyte; /* every c[i] is a one-byte character (fz_probe) */
    uint64_t inpat[4]; /* the one-byte characters of c[0..m), as a set */
    uint8_t c8[FZ_CPAD + FZ_MAXP + 16]; /* when onebyte: c[i] at c8[FZ_CPAD + i], 0xC0 around */
    uint64_t wmask; /* 0xFF in the row's bytes 0..2B */
    const struct fz_auto *au; /* the row automaton for B (fz_astep); NULL when B is 0 */
    int fastj; /* fz_byte's short path for rows j < fastj: m - B with au and onebyte, else 0 */
    size_t plen; /* bytes, cut back to a character boundary */
} fz_pat;

/* Splits p into characters. Returns 0, or -1 when it has more than FZ_MAXP
 * (then nothing matches). trie_fuzzy_dp.c */
/* Live nodes from which the walk prefetches a node's later surviving
 * children (SIBLING PREFETCH, trie_fuzzy.c; FZ_HINT_MIN_NODES). Only tests
 * change it (0: on every trie, so that small test tries run the guesses). */
extern uint32_t trie__fz_hint_min_nodes;
/* The budget (maxd) from which it does (FZ_HINT_MIN_EDITS); tests set 1. */
extern uint32_t trie__fz_hint_min_edits;
/* 1 (the default): the prefetch pass reuses a probe's look-ups for a later
 * child in the same DP state (PROBE MEMO, trie_fuzzy.c); 0: every probe
 * runs. Only tests change it, to compare the two. */
extern uint32_t trie__fz_memo;
/* Probes the memo answered, summed over calls while trie__fz_memo_count
 * is 1 (tests: so that a test knows the memo ran). */
extern uint32_t trie__fz_memo_count;
extern uint64_t trie__fz_memo_hits;
/* Filter words from which the walk runs the PROBE PREFETCH pass
 * (trie_fuzzy.c, FZ_PASS_MIN_FILTER_WORDS). Only tests change it. */
extern uint32_t trie__fz_pass_min_words;
/* 1 (the default): fz_plan_check reads the hashes fz_plan_prefetch kept
 * (PLAN HASHES, trie_fuzzy_probe.h); 0: it hashes every look-up again.
 * Only tests change it, to compare the two. */
extern uint32_t trie__fz_plan_hashes;

int trie__fz_pat_init(fz_pat *z, const char *p, size_t plen, unsigned maxd, unsigned flags);
/* trie_fuzzy_dist for a pattern z made by trie__fz_pat_init from p (its
 * bytes: the exact first character is read there) with z->plen > 0, maxd
 * z->B: the least OSA distance of P to a character-boundary prefix of key,
 * *matchlen (when not NULL and the class is <= maxd) the bytes of the
 * shortest such prefix; with whole, the distance of P to all of key
 * instead (a key ending inside a character: to its complete characters),
 * *matchlen the bytes those take. maxd + 1 when over maxd.
 * trie_fuzzy_dp.c */
unsigned trie__fz_dist_pat(const fz_pat *z, const char *p, const char *key, size_t klen, int whole,
                           size_t *matchlen);


/* Row 0 (no key character consumed): cell (i, 0) = i. */
static inline void fz_row0(const fz_pat *z, uint8_t *r) {
    for (unsigned t = 0; t < FZ_RB; t++) {
        int i = (int)t - (int)z->B;
        r[t] = (i < 0 || i > (int)z->m || t > 2 * z->B) ? z->inf : (uint8_t)(i < z->inf ? i : z->inf);
    }
}

/* The row step is BIT-PARALLEL: a row's cells t = 0..2B are the low bytes
 * of one SSE2 register (the bytes above them hold inf), and a step computes
 * all of them at once instead of a cell at a time -- the walk spends a third
 * of FUZZY 2's time in steps. Cells stay below 0x40 (inf <= 3, plus at most
 * 1 + 7 from the terms and the scan; 0x40 stands for "no such term"), so
 * byte adds never wrap. SSE2 is part of x86-64; elsewhere (or built with
 * -DQAC_FZ_SCALAR) the same row is stepped a cell at a time. */

/* 0xFF in bytes a..b (clamped to 0..7), 0 elsewhere. */
static inline uint64_t fz_lanes(int a, int b) {
    if (a < 0) a = 0;
    if (b > 7) b = 7;
    if (a > b) return 0;
    return (~0ull >> (8 * (7 - b))) & (~0ull << (8 * a));
}

_Static_assert(TRIE_FUZZY_MAX_EDITS <= 2, "fz_row's scan covers insertion runs of up to 3 cells");

#if defined(__SSE2__) && !defined(QAC_FZ_SCALAR)
#include <emmintrin.h>
#endif

/* For a one-byte pattern: bit u (u < nb <= 8) set when c[q0 + u] == b
 * (c8 holds 0xC0 around c[0, m), which no one-byte character is; q0 >=
 * -FZ_CPAD). The automaton's input (fz_astep, fz_byte) and the PROBE
 * MEMO's key (trie_fuzzy.c) are this mask. */
static inline unsigned fz_eqbits1(const fz_pat *z, uint8_t b, int q0, unsigned nb) {
#if defined(__SSE2__) && !defined(QAC_FZ_SCALAR)
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
               _mm_loadl_epi64((const __m128i *)(const void *)(z->c8 + FZ_CPAD + q0)), _mm_set1_epi8((char)b))) &
           ((1u << nb) - 1);
#else
    unsigned in = 0;
    for (unsigned u = 0; u < nb; u++) in |= (unsigned)(z->c8[FZ_CPAD + q0 + (int)u] == b) << u;
    return in;
#endif
}

#if defined(__SSE2__) && !defined(QAC_FZ_SCALAR)
/* Bytes u = 0..7 are 0xFF when c[j - B - 2 + u] == kc (0 outside c[0..m):
 * the bytes around c8 hold 0xC0, which no one-byte character is). */
static inline __m128i fz_eq(const fz_pat *z, uint32_t kc, unsigned j) {
    int q0 = (int)j - (int)z->B - 2;
    if (z->onebyte) {
        if (kc > 0xFF) return _mm_setzero_si128();
        return _mm_cmpeq_epi8(_mm_loadl_epi64((const __m128i *)(const void *)(z->c8 + FZ_CPAD + q0)),
                              _mm_set1_epi8((char)kc));
    }
    uint64_t e = 0;
    for (int u = 0; u < 8; u++) {
        int q = q0 + u;
        if (q >= 0 && q < (int)z->m && z->c[q] == kc) e |= 0xFFull << (8 * u);
    }
    return _mm_cvtsi64_si128((long long)e);
}

/* Row j (j >= 1) from row j-1 (prev) and row j-2 (pp, only read when j >= 2)
 * for key character kc = K[j-1] and kp = K[j-2]. Cell (i, j) sits at t = i -
 * j + B; the cells it reads sit at: (i, j-1) prev[t+1], (i-1, j-1) prev[t],
 * (i-1, j) r[t-1], (i-2, j-2) pp[t]. The first three terms and the
 * transposition are byte-wise; r[t-1] + 1 is a prefix-min scan in three
 * shifts. Returns the row minimum. */
static inline uint8_t fz_row(const fz_pat *z, uint8_t *r, const uint8_t *prev, const uint8_t *pp,
                             uint32_t kc, uint32_t kp, unsigned j) {
    const int B = (int)z->B;
    const __m128i INF = _mm_set1_epi8((char)z->inf), ONE = _mm_set1_epi8(1), BIG = _mm_set1_epi8(0x40);
    __m128i pv = _mm_loadl_epi64((const __m128i *)(const void *)prev);
    __m128i e = fz_eq(z, kc, j); /* byte t+1: c[i-1] == kc; t: c[i-2] == kc */
    __m128i diag = _mm_add_epi8(pv, _mm_andnot_si128(_mm_srli_si128(e, 1), ONE)); /* prev[t] + (c[i-1] != kc) */
    __m128i v = _mm_min_epu8(diag, _mm_add_epi8(_mm_srli_si128(pv, 1), ONE)); /* prev[t+1] + 1 */
    if (j >= 2) {
        /* c[i-1] == kp and c[i-2] == kc (so i >= 2) */
        __m128i tm = _mm_and_si128(_mm_srli_si128(fz_eq(z, kp, j), 1), e);
        __m128i tr = _mm_add_epi8(_mm_loadl_epi64((const __m128i *)(const void *)pp), ONE);
        v = _mm_min_epu8(v, _mm_or_si128(_mm_and_si128(tr, tm), _mm_andnot_si128(tm, BIG)));
    }
    /* No masking before the scan: a cell with i < 0 reads only cells with
     * i < 0 of the rows before (stored as inf) and characters outside
     * c[0..m) (never equal), so it is >= inf; cell i = 0 (j <= B) is
     * then prev's cell (0, j-1) + 1 = j, as the DP wants; a cell with
     * i > m is garbage, but the scan only carries values to larger i, so
     * no cell 0 <= i <= m reads it. The final mask makes both inf. */
    uint64_t ok64 = z->wmask;
    if ((int)j <= B || (int)j > (int)z->m - B)
        ok64 &= fz_lanes(B - (int)j, (int)z->m + B - (int)j);
    __m128i ok = _mm_cvtsi64_si128((long long)ok64);
    /* the scan: cell t = min over d of v[t-d] + d; d > maxd gives >= inf,
     * so d <= 3 (shifts 1 and 2) is all of it for maxd <= 2 */
    v = _mm_min_epu8(v, _mm_add_epi8(_mm_or_si128(_mm_slli_si128(v, 1), _mm_cvtsi32_si128(0x40)), ONE));
    v = _mm_min_epu8(v, _mm_add_epi8(_mm_or_si128(_mm_slli_si128(v, 2), _mm_cvtsi32_si128(0x4040)),
                                     _mm_set1_epi8(2)));
    v = _mm_min_epu8(_mm_or_si128(_mm_and_si128(v, ok), _mm_andnot_si128(ok, INF)), INF);
    _mm_storel_epi64((__m128i *)(void *)r, v);
    /* the minimum: bytes 8..15 are inf (ok is 0 there) */
    v = _mm_min_epu8(v, _mm_srli_si128(v, 4));
    v = _mm_min_epu8(v, _mm_srli_si128(v, 2));
    v = _mm_min_epu8(v, _mm_srli_si128(v, 1));
    return (uint8_t)_mm_cvtsi128_si32(v);
}

#else /* scalar */

/* The same row as above, a cell at a time. */
static inline uint8_t fz_row(const fz_pat *z, uint8_t *r, const uint8_t *prev, const uint8_t *pp,
                             uint32_t kc, uint32_t kp, unsigned j) {
    const unsigned W = 2 * z->B;
    const uint8_t inf = z->inf;
    uint8_t mn = inf;
    for (unsigned t = 0; t <= W; t++) {
        int i = (int)j - (int)z->B + (int)t;
        uint8_t v;
        if (i < 0 || i > (int)z->m) {
            v = inf;
        } else if (i == 0) {
            v = j < inf ? (uint8_t)j : inf;
        } else {
            v = (uint8_t)(prev[t] + (z->c[i - 1] != kc));
            if (t < W && prev[t + 1] + 1 < v) v = (uint8_t)(prev[t + 1] + 1);
            if (t > 0 && r[t - 1] + 1 < v) v = (uint8_t)(r[t - 1] + 1);
            if (i >= 2 && j >= 2 && z->c[i - 1] == kp && z->c[i - 2] == kc && pp[t] + 1 < v)
                v = (uint8_t)(pp[t] + 1);
            if (v > inf) v = inf;
        }
        r[t] = v;
        if (v < mn) mn = v;
    }
    return mn;
}
#endif

/* D(j): the cell of all of P in row j, or inf outside the band. */
static inline uint8_t fz_dm(const fz_pat *z, const uint8_t *r, unsigned j) {
    int t = (int)z->m - (int)j + (int)z->B;
    return (t < 0 || t > 2 * (int)z->B) ? z->inf : r[t];
}

/* THE ROW AUTOMATON. The walk's step (fz_astep) does not compute the row:
 * it looks it up. Run on a pattern padded with characters that equal
 * nothing (c[q] for q < 0 or q >= m), the banded OSA step is a function of
 * the band alone and of which pattern characters the key character
 * equals, so (Schulz and Mihov's universal automata, here for OSA) the
 * states are the pairs (row j: its 2B+1 cells capped at inf; T: the
 * transposition term row j+1 may use, cell (i-2, j-1) + 1 where c[i-1] is
 * K[j-1], else inf) reachable from row 0, and an input is the 2B+3 bits
 * "c[q] == K[j]" for q = j-B-1 .. j+B+1 of the next row j+1 (its cells'
 * substitution, transposition and next T). Reachable: 12 states at maxd 1,
 * 124 at maxd 2; the table is states << (2B+3) one-byte ids (16 KB at maxd
 * 2; 35 KB of static memory for both), made once per process
 * (trie__fz_auto) by running the same min-plus
 * step on every state and input. Padding changes no cell with 0 <= i <= m
 * (a cell reads only cells with smaller or equal i), and cells with i < 0
 * come out inf (cell i = 0 comes out j); the cells with i > m, garbage
 * here, are set to inf in the stored row (j > m - B only), as fz_row
 * stores them. So rows[] hold exactly fz_row's bytes, and every reader of
 * rows (cuts, fz_spent, fz_det, probes, plans) is unchanged; the state
 * ids ride beside them in fz_walk.sid. test_row_cells checks both steps
 * cell by cell against a full OSA matrix, and that every state is met. */
#define FZ_ASTATES 128 /* states kept (124 needed); more: the walk keeps fz_row (trie__fz_auto) */
typedef struct fz_auto {
    unsigned n, nb;              /* states; input bits (2B + 3) */
    uint8_t tr[FZ_ASTATES << 7]; /* next state: [state << nb | input] */
    uint64_t row[FZ_ASTATES];    /* its cells (bytes 0..2B; inf above) */
    uint8_t mn[FZ_ASTATES];      /* their minimum */
} fz_auto;
#define FZ_ASTART 0 /* row 0 */

/* The automaton for budget B (1..TRIE_FUZZY_MAX_EDITS), made on the first
 * call (thread-safe); NULL for B 0. trie_fuzzy_dp.c */
const fz_auto *trie__fz_auto(unsigned B);

/* Row j from row j-1's state sid[j-1] for key character kc: stores the
 * row in r and the state in sid[j]; returns the row minimum (of the
 * cells 0 <= i <= m). The same bytes as fz_row. */
static inline uint8_t fz_astep(const fz_pat *z, uint8_t *r, uint8_t *sid, uint32_t kc, unsigned j) {
    const fz_auto *a = z->au;
    const int B = (int)z->B, q0 = (int)j - B - 2;
    unsigned in = 0;
    if (z->onebyte) {
        if (kc <= 0xFF) in = fz_eqbits1(z, (uint8_t)kc, q0, a->nb);
    } else {
        for (unsigned u = 0; u < a->nb; u++) {
            int q = q0 + (int)u;
            if (q >= 0 && q < (int)z->m && z->c[q] == kc) in |= 1u << u;
        }
    }
    uint8_t n = a->tr[(unsigned)sid[j - 1] << a->nb | in];
    sid[j] = n;
    uint64_t row = a->row[n];
    uint8_t mn = a->mn[n];
    if ((int)j > (int)z->m - B) { /* cells with i > m are inf */
        uint64_t keep = fz_lanes(0, (int)z->m + B - (int)j);
        row = (row & keep) | (0x0101010101010101ull * z->inf & ~keep);
        mn = z->inf;
        for (int t = 0; t <= 2 * B; t++) {
            uint8_t c = (uint8_t)(row >> (8 * t));
            if (c < mn) mn = c;
        }
    }
    memcpy(r, &row, 8);
    return mn;
}

/* ------------------------------------------------------------ path state */

/* The walk's state at one byte position of a path. rows[0..j] and ch[0..j)
 * of the fz_walk hold the DP of the characters before it. */
typedef struct fz_st {
    uint16_t j;       /* DP characters consumed */
    uint16_t bestlen; /* bytes where best was first reached */
    uint8_t best;     /* min D over the boundaries passed; inf: none */
    uint8_t pre;      /* 1: still inside the exact first character */
    uint8_t need, have; /* pending character: its length, bytes seen (0: at a boundary) */
    uint8_t mn;       /* the last row's minimum (0 before the first) */
    uint32_t pc;      /* pending character bytes */
} fz_st;

enum { FZ_GO, FZ_DEAD, FZ_CUT };

typedef struct fz_walk {
    const fz_pat *z;
    const char *p; /* the typed bytes (the exact first character) */
    unsigned beff; /* the budget: paths over it die, cuts over it too (<= B) */
    uint64_t work; /* work units spent so far (see WORK LIMIT above) */
    uint8_t pref;  /* 1: fz_probe only prefetches the filter words it would read */
    struct fz_prec *rec; /* in a prefetch pass: where fz_probe's look-ups are recorded (trie_fuzzy.c) */
    struct fz_mrec *mrec; /* and, when not NULL, their strings (PROBE MEMO, trie_fuzzy.c) */
    uint64_t rbase;      /* w->work when the recorded probe started */
    uint8_t path[TRIE_MAX_KEY]; /* the path's bytes (fz_byte writes them) */
    uint8_t rows[TRIE_MAX_KEY + 1][FZ_RB];
    uint8_t sid[TRIE_MAX_KEY + 1]; /* rows[j]'s automaton state (fz_astep) */
    uint32_t ch[TRIE_MAX_KEY];
} fz_walk;

/* The state at the DP's start (after the exact first character, or at the
 * root), at byte position pos. */
static inline void fz_start(fz_walk *w, fz_st *s, size_t pos) {
    const fz_pat *z = w->z;
    fz_row0(z, w->rows[0]);
    w->sid[0] = FZ_ASTART;
    s->j = 0;
    s->pre = 0;
    s->have = 0;
    s->mn = 0;
    s->best = z->m <= z->B ? (uint8_t)z->m : z->inf;
    s->bestlen = (uint16_t)pos;
}

/* Feeds the byte b at position pos (0-based) of the path: the general
 * step, which fz_byte (below) runs when its short path does not apply. */
static inline int fz_byte_any(fz_walk *w, fz_st *s, uint8_t b, size_t pos) {
    const fz_pat *z = w->z;
    w->work++;
    if (pos < TRIE_MAX_KEY) w->path[pos] = b;
    if (s->pre) {
        if (b != (uint8_t)w->p[pos]) return FZ_DEAD;
        if (pos + 1 == z->elen) fz_start(w, s, pos + 1);
        return FZ_GO;
    }
    if (s->have == 0) {
        s->need = (uint8_t)fz_clen(b);
        s->pc = b;
        s->have = 1;
    } else {
        s->pc |= (uint32_t)b << (8 * s->have);
        s->have++;
    }
    if (s->have < s->need) return FZ_GO;
    s->have = 0;
    unsigned j = s->j;
    if (j >= TRIE_MAX_KEY) return FZ_DEAD; /* no such key; keeps the arrays in bounds */
    w->ch[j] = s->pc;
    uint8_t mn = z->au ? fz_astep(z, w->rows[j + 1], w->sid, s->pc, j + 1)
                       : fz_row(z, w->rows[j + 1], w->rows[j], j ? w->rows[j - 1] : w->rows[j], s->pc,
                                j ? w->ch[j - 1] : 0, j + 1);
    s->j = (uint16_t)(j + 1);
    s->mn = mn;
    uint8_t d = fz_dm(z, w->rows[j + 1], j + 1);
    if (d < s->best) {
        s->best = d;
        s->bestlen = (uint16_t)(pos + 1);
    }
    if (mn >= s->best) return s->best <= w->beff ? FZ_CUT : FZ_DEAD;
    return mn > w->beff ? FZ_DEAD : FZ_GO; /* here best > mn > beff */
}

/* Feeds the byte b at position pos (0-based) of the path. The walk feeds
 * bytes more than anything else (a quarter of FUZZY 2's time on a cached
 * index), and nearly all are the same case: a one-byte character at a
 * boundary, a one-byte pattern, a row whose cells all have i <= m (j + 1 <=
 * m - B). That case takes a short path, tested first: fz_astep's look-up,
 * and D(j + 1), which is cell 2B of the row at j + 1 = m - B and inf
 * before it. The same bytes, state and unit as fz_byte_any; every other
 * case runs that. One copy, not inlined into its callers: inlined into the
 * walk, AOL dev was ~0.93 of the median (2 runs) but 10M no better (8
 * pairs: the median of their ratios 1.01-1.05 by kind). */
static __attribute__((noinline, unused)) int fz_byte(fz_walk *w, fz_st *s, uint8_t b, size_t pos) {
#if defined(__SSE2__) && !defined(QAC_FZ_SCALAR)
    const fz_pat *z = w->z;
    const unsigned j = s->j;
    if (z->fastj > (int)j && !s->pre && !s->have && (b < 0xC0 || b >= 0xF8) && pos < TRIE_MAX_KEY) {
        const fz_auto *a = z->au; /* fastj > 0 only with it and a one-byte pattern */
        w->work++;
        w->path[pos] = b;
        w->ch[j] = b;
        s->need = 1;
        s->pc = b;
        unsigned in = fz_eqbits1(z, b, (int)j - (int)z->B - 1, a->nb);
        uint8_t n = a->tr[(unsigned)w->sid[j] << a->nb | in];
        w->sid[j + 1] = n;
        uint64_t row = a->row[n];
        memcpy(w->rows[j + 1], &row, 8);
        uint8_t mn = a->mn[n];
        s->j = (uint16_t)(j + 1);
        s->mn = mn;
        if ((int)j + 1 == z->fastj) { /* t = m - (j + 1) + B = 2B */
            uint8_t d = (uint8_t)(row >> (16 * z->B));
            if (d < s->best) {
                s->best = d;
                s->bestlen = (uint16_t)(pos + 1);
            }
        }
        if (mn >= s->best) return s->best <= w->beff ? FZ_CUT : FZ_DEAD;
        return mn > w->beff ? FZ_DEAD : FZ_GO;
    }
#endif
    return fz_byte_any(w, s, b, pos);
}

/* With the row minimum at c: 1 when row j-1 is also all >= c, so that no
 * transposition (which reads row j-1) can come back to c either. */
static inline int fz_spent(const fz_walk *w, const fz_st *s, unsigned c) {
    if (s->j == 0 || s->have || s->pre || s->mn < c) return 0;
    const uint8_t *pr = w->rows[s->j - 1];
    for (unsigned u = 0; u <= 2 * w->z->B; u++)
        if (pr[u] < c) return 0;
    return 1;
}
/* ------------------------------------------------- ranked entry lists */

/* An entry of a class list / walk frontier: one key (FZ_KEY), the whole
 * subtree of node `a` (FZ_NODE), or child `slot` of node `a` and its later
 * siblings (FZ_RUN). `id` is the best key of what it stands for, `s` its
 * score, `ml` the matchlen of every key it yields; `txt` (>= 0) is where its
 * key sits in the list's text buffer once decoded to break a tie. */
enum { FZ_KEY, FZ_NODE, FZ_RUN };
typedef struct fz_ent {
    double s;
    uint32_t id, a, slot;
    int32_t txt;
    uint16_t tlen, ml;
    uint8_t kind;
} fz_ent;

#define FZ_TEXT 8192 /* decoded tie keys per list (past it: decode per comparison) */

typedef struct fz_list {
    const trie *t;
    fz_ent e[TRIE_MAX_K + 1]; /* sorted worst .. best; e[n-1] is popped next */
    unsigned n, tused;
    char text[FZ_TEXT];
} fz_list;

/* Adds child ref r (a leaf key or a node's subtree) with matchlen ml,
 * keeping at most cap entries. trie_fuzzy_list.c */
void trie__fz_push_ref(fz_list *f, uint32_t r, uint16_t ml, unsigned cap);
/* Fills hit o with key id of class cls, matchlen ml. */
void trie__fz_emit(const trie *t, uint32_t id, unsigned cls, uint16_t ml, trie_fuzzy_hit *o);
/* trie_topk's best-first walk from the frontier f, emitting class cls keys
 * into out[*got..k). */
void trie__fz_walk_class(fz_list *f, unsigned cls, unsigned k, trie_fuzzy_hit *out, unsigned *got);

#endif
