/* words_ref.h -- what the word index's differential tests compare against
 * (test_trie_words.c, test_trie_words_paths.c), and how they run.
 *
 * The ground truth is the trie's own key set (trie_foreach: the trie is
 * tested by test_trie_core) scanned linearly: a key matches when a
 * backtracking search finds an assignment of typed words to distinct key
 * words (equal; the last a prefix unless the text ends with a space);
 * class 0 when the canonical text is a prefix of the key; order (class,
 * score desc, key); ranges by the greedy rule of trie_words.h (recomputed
 * here); with edits on the last word, the least edit count over the key's
 * other words (tests/fuzzy_ref.h's full OSA matrix); with the whole text's
 * typo completions too (trie_words_topk_edits), every other key in its
 * best place by (edits, kind, score, key). Corpora (run_differential) mix
 * repeated words ("new new york"), one-word keys, keys of 30+ words,
 * accented Latin, Cyrillic and CJK words and words that are prefixes of
 * others; scores tie a lot. Live adds, increments, decreases and deletes
 * are interleaved in batches; after each batch trie_words_check runs and
 * queries (words of a live key, shuffled, last one cut; random words;
 * trailing spaces; plain prefixes) are compared for k in 1..100, on the
 * live index and on one rebuilt from the trie. Fixed seeds.
 * Header-only, like fuzzy_ref.h: include after cmocka.h, in one test
 * program each (the counters are per program). */
#ifndef QAC_TESTS_WORDS_REF_H
#define QAC_TESTS_WORDS_REF_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "trie/trie.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_words.h"
#include "trie/trie_words_internal.h"
#include "tests/rng.h"
#include "tests/fuzzy_ref.h"

static const char *POOL[] = {
    "new", "york", "ne", "newark", "news", "yankees", "times", "a", "an", "and", "the", "of",
    "café", "cafés", "élan", "été", "москва", "мост", "мо", "東京", "東", "京都", "ab", "abc",
    "abcd", "b", "ba", "bab", "x", "xy", "nyc", "new-york", "yo", "you", "y",
};
#define NPOOL (sizeof POOL / sizeof POOL[0])

/* Words "v0".."v<g_wide - 1>" are three words in four when g_wide > 0:
 * a vocabulary of tens of thousands of dictionary words, many with short
 * lists (gaps of 1, 2 and 3 bytes), from the build and from live adds. */
static uint32_t g_wide;
static uint64_t g_words; /* the most dictionary words an index of run_differential held */

/* A random key of nw words (<= TRIE_MAX_KEY bytes) into buf; its length. */
static inline size_t make_key(char *buf, int nw) {
    size_t n = 0;
    for (int i = 0; i < nw; i++) {
        const char *w;
        char gen[16];
        if (g_wide && rnd(4) != 0) {
            snprintf(gen, sizeof gen, "v%u", rnd(g_wide));
            w = gen;
        } else if (rnd(4) == 0) { /* a generated word over a tiny alphabet: prefix collisions */
            int l = 1 + (int)rnd(4);
            for (int j = 0; j < l; j++) gen[j] = (char)('p' + rnd(3));
            gen[l] = 0;
            w = gen;
        } else {
            w = POOL[rnd(NPOOL) % (rnd(2) ? NPOOL : 8)];
        }
        size_t wl = strlen(w);
        if (n + (n ? 1 : 0) + wl > TRIE_MAX_KEY) break;
        if (n) buf[n++] = ' ';
        memcpy(buf + n, w, wl);
        n += wl;
    }
    return n;
}

static inline int rand_nwords(void) {
    uint32_t r = rnd(100);
    if (r < 20) return 1;
    if (r < 90) return 2 + (int)rnd(4);
    if (r < 96) return 6 + (int)rnd(6);
    return 30 + (int)rnd(12);
}

/* ------------------------------------------------------------- brute force */

typedef struct bkey {
    char key[TRIE_MAX_KEY];
    size_t klen;
    double score;
    uint32_t id;
    int cls;
    trie_words_range rg[TRIE_WORDS_MAX_TYPED];
} bkey;

typedef struct bset {
    bkey *v;
    size_t n, cap;
} bset;

static inline int collect(void *ud, const trie_hit *h) {
    bset *b = ud;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
    }
    bkey *k = &b->v[b->n++];
    memcpy(k->key, h->text, h->keylen);
    k->klen = h->keylen;
    k->score = h->score;
    k->id = h->id;
    return 0;
}

typedef struct query {
    const char *w[64];
    size_t wl[64];
    int nw, trailing;
} query;

static inline void parse(const char *t, size_t len, query *q) {
    q->nw = 0;
    size_t i = 0;
    while (i < len && q->nw < 64) {
        while (i < len && t[i] == ' ') i++;
        if (i == len) break;
        size_t j = i;
        while (j < len && t[j] != ' ') j++;
        q->w[q->nw] = t + i;
        q->wl[q->nw++] = j - i;
        i = j;
    }
    q->trailing = q->nw && t[len - 1] == ' ';
}

typedef struct kwords {
    size_t o[TRIE_MAX_KEY], l[TRIE_MAX_KEY];
    int n;
} kwords;

static inline void kwords_of(const char *k, size_t kl, kwords *kw) {
    kw->n = 0;
    size_t i = 0;
    while (i < kl) {
        size_t j = i;
        while (j < kl && k[j] != ' ') j++;
        kw->o[kw->n] = i;
        kw->l[kw->n++] = j - i;
        i = j + 1;
    }
}

static inline int word_ok(const query *q, int i, const char *k, const kwords *kw, int j) {
    int prefix = i == q->nw - 1 && !q->trailing;
    if (prefix) return kw->l[j] >= q->wl[i] && memcmp(k + kw->o[j], q->w[i], q->wl[i]) == 0;
    return kw->l[j] == q->wl[i] && memcmp(k + kw->o[j], q->w[i], q->wl[i]) == 0;
}

/* Backtracking: can typed words i.. take distinct unused key words? */
static inline int assign(const query *q, int i, const char *k, const kwords *kw, char *used) {
    if (i == q->nw) return 1;
    for (int j = 0; j < kw->n; j++) {
        if (used[j] || !word_ok(q, i, k, kw, j)) continue;
        used[j] = 1;
        int ok = assign(q, i + 1, k, kw, used);
        used[j] = 0;
        if (ok) return 1;
    }
    return 0;
}

static inline int bkey_order(const void *a, const void *b) {
    const bkey *x = *(const bkey *const *)a, *y = *(const bkey *const *)b;
    if (x->cls != y->cls) return x->cls - y->cls;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    size_t m = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, m);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* The expected answer into res; returns its full length (before k). */
static inline size_t brute(bset *b, const char *text, size_t len, bkey **res) {
    query q;
    parse(text, len, &q);
    char canon[2 * TRIE_MAX_KEY];
    size_t cl = 0;
    for (int i = 0; i < q.nw; i++) {
        if (i) canon[cl++] = ' ';
        memcpy(canon + cl, q.w[i], q.wl[i]);
        cl += q.wl[i];
    }
    if (q.trailing) canon[cl++] = ' ';
    size_t n = 0;
    for (size_t x = 0; x < b->n; x++) {
        bkey *k = &b->v[x];
        kwords kw;
        char used[TRIE_MAX_KEY] = {0};
        kwords_of(k->key, k->klen, &kw);
        if (!assign(&q, 0, k->key, &kw, used)) continue;
        k->cls = !(k->klen >= cl && memcmp(k->key, canon, cl) == 0);
        /* greedy ranges: complete words first, in typed order, then the prefix */
        for (int i = 0; i < q.nw; i++) {
            for (int j = 0; j < kw.n; j++) {
                if (used[j] || !word_ok(&q, i, k->key, &kw, j)) continue;
                used[j] = 1;
                k->rg[i] = (trie_words_range){(uint16_t)kw.o[j], (uint16_t)q.wl[i]};
                break;
            }
        }
        res[n++] = k;
    }
    qsort(res, n, sizeof *res, bkey_order);
    return n;
}

/* -------------------------------------------------------------- comparing */

static int nfail;
static unsigned long n_cmp, n_c1, n_multi, n_trail, n_full; /* coverage counters */
static unsigned long n_pcur, n_handoff; /* queries whose prefix's lists were read as one; handed on */
static unsigned long n_skewed; /* queries whose one pass left a complete word's list to the key check */
static unsigned long n_blocks; /* queries whose one pass compared two lists a block pair at a time */
static unsigned long n_sigf;   /* queries whose one pass tested the driver's ranks on their signatures first */
static unsigned long n_pfskip; /* queries whose class 0 the prefix filter knew empty (no trie_topk) */
static unsigned long n_late0, n_late2; /* class 1 searched first: answered alone; class 0 found after it */
static unsigned long n_ahead; /* queries whose best-first search expanded a leaf block it had looked ahead at */

static inline void compare(const trie_words *w, const trie *t, bset *b, const char *text, size_t len,
                    unsigned k, bkey **res, trie_words_hit *out) {
    size_t ne = brute(b, text, len, res);
    int trunc = -1;
    tw_work wk;
    int n = trie_words__topk(w, t, text, len, k, out, &trunc, &wk);
    n_pcur += wk.pcur;
    n_handoff += wk.handoff;
    n_skewed += wk.skewed;
    n_blocks += wk.blocks;
    n_sigf += wk.sigf;
    n_pfskip += wk.pfskip;
    n_late0 += wk.late0 == 1;
    n_late2 += wk.late0 == 2;
    n_ahead += wk.ahead > 0;
    size_t want = ne < k ? ne : k;
    n_cmp++;
    for (size_t i = 0; i < want; i++)
        if (res[i]->cls) {
            n_c1++;
            break;
        }
    if (want == k) n_full++;
    {
        query pq;
        parse(text, len, &pq);
        n_multi += pq.nw > 1 && want;
        n_trail += pq.trailing && want;
    }
    int bad = n < 0 || (size_t)n != want || trunc != 0;
    for (size_t i = 0; !bad && i < want; i++) {
        const trie_words_hit *h = &out[i];
        const bkey *e = res[i];
        bad = h->hit.id != e->id || h->hit.keylen != e->klen || memcmp(h->hit.text, e->key, e->klen) ||
              h->hit.score != e->score || h->cls != e->cls;
        query q;
        parse(text, len, &q);
        if (!bad && h->nranges != q.nw) bad = 1;
        for (int j = 0; !bad && j < q.nw; j++)
            bad = h->range[j].off != e->rg[j].off || h->range[j].len != e->rg[j].len;
    }
    if (bad && nfail++ < 5) {
        fprintf(stderr, "MISMATCH text '%.*s' k=%u: got %d (trunc %d), want %zu\n", (int)len, text, k, n,
                trunc, want);
        for (size_t i = 0; i < want || (n > 0 && i < (size_t)n); i++) {
            if (i < want)
                fprintf(stderr, "  want %zu: c%d %.0f '%.*s' r0=%u\n", i, res[i]->cls, res[i]->score,
                        (int)res[i]->klen, res[i]->key, res[i]->rg[0].off);
            if (n > 0 && i < (size_t)n)
                fprintf(stderr, "  got  %zu: c%d %.0f '%.*s' r0=%u\n", i, out[i].cls, out[i].hit.score,
                        (int)out[i].hit.keylen, out[i].hit.text, out[i].range[0].off);
        }
    }
    assert_false(bad);
}

/* ------------------------------------------ the last word with edits */
/* trie_words_fuzzy_topk against brute force: a key's class is the least,
 * over the assignments of the complete typed words to distinct equal key
 * words (backtracking) and of the last word L to another one W, of the
 * reference distance of L and W (fuzzy_ref.h: ref_class, the least OSA
 * against W's prefixes, or with a trailing space the full OSA matrix's
 * corner, the first character exact unless FIRST_ANY); class 0 (an exact
 * match) is not in the answer; ranges: the first W with the least class,
 * then the complete words greedily. */

static int g_fz; /* run_differential also compares the last word with edits */
static unsigned long n_fz_cmp, n_fz_hits, n_fz_c2, n_fz_multi, n_fz_trail, n_fz_trunc, n_fz_any;
static unsigned long n_fz_cur; /* queries with a class's lists read as one (a cursor each) */

/* Reference distance of L and W (-1: the first characters differ); *ml the
 * bytes of W that L stands for. */
static inline int fz_ref(const char *L, size_t ll, const char *W, size_t wl, int whole, int first, size_t *ml) {
    if (!whole) return ref_class(L, ll, W, wl, first, ml);
    static uint32_t a[RMAX], b[RMAX];
    static size_t ao[RMAX + 1], bo[RMAX + 1];
    size_t m = split(L, ll, a, ao), n = split(W, wl, b, bo), s = 0;
    if (m == 0) return -1;
    if (first) {
        if (n == 0 || a[0] != b[0]) return -1;
        s = 1;
    }
    osa(a + s, m - s, b + s, n - s);
    *ml = wl;
    return dm[m - s][n - s];
}

/* Can typed words i..n-1 (complete ones) take distinct unused equal key words? */
static inline int assign_exact(const query *q, int i, int n, const char *k, const kwords *kw, char *used) {
    if (i == n) return 1;
    for (int j = 0; j < kw->n; j++) {
        if (used[j] || kw->l[j] != q->wl[i] || memcmp(k + kw->o[j], q->w[i], q->wl[i])) continue;
        used[j] = 1;
        int ok = assign_exact(q, i + 1, n, k, kw, used);
        used[j] = 0;
        if (ok) return 1;
    }
    return 0;
}

static inline size_t brute_fz(bset *b, const char *text, size_t len, unsigned maxd, int first, bkey **res) {
    query q;
    parse(text, len, &q);
    size_t n = 0;
    if (!q.nw) return 0;
    int nc = q.nw - 1;
    for (size_t x = 0; x < b->n; x++) {
        bkey *k = &b->v[x];
        kwords kw;
        char used[TRIE_MAX_KEY] = {0};
        kwords_of(k->key, k->klen, &kw);
        int best = -1, bj = -1;
        size_t bml = 0;
        for (int j = 0; j < kw.n; j++) {
            size_t ml = 0;
            int e = fz_ref(q.w[nc], q.wl[nc], k->key + kw.o[j], kw.l[j], q.trailing, first, &ml);
            if (e < 0 || e > (int)maxd || (best >= 0 && e >= best)) continue;
            used[j] = 1;
            int ok = assign_exact(&q, 0, nc, k->key, &kw, used);
            used[j] = 0;
            if (ok) best = e, bj = j, bml = ml;
        }
        if (best <= 0) continue; /* no match, or an exact one */
        k->cls = best;
        used[bj] = 1;
        for (int i = 0; i < nc; i++)
            for (int j = 0; j < kw.n; j++) {
                if (used[j] || kw.l[j] != q.wl[i] || memcmp(k->key + kw.o[j], q.w[i], q.wl[i])) continue;
                used[j] = 1;
                k->rg[i] = (trie_words_range){(uint16_t)kw.o[j], (uint16_t)q.wl[i]};
                break;
            }
        k->rg[nc] = (trie_words_range){(uint16_t)kw.o[bj], (uint16_t)bml};
        res[n++] = k;
    }
    qsort(res, n, sizeof *res, bkey_order);
    return n;
}

static inline void compare_fz(const trie_words *w, const trie *t, bset *b, const char *text, size_t len, unsigned maxd,
                       unsigned flags, unsigned k, bkey **res, trie_words_hit *out) {
    size_t ne = brute_fz(b, text, len, maxd, !(flags & TRIE_FUZZY_FIRST_ANY), res);
    int trunc = -1;
    tw_work wk;
    int n = trie_words__fuzzy_topk(w, t, text, len, maxd, flags, k, out, &trunc, &wk);
    n_fz_cur += wk.pcur;
    size_t want = ne < k ? ne : k;
    query q;
    parse(text, len, &q);
    n_fz_cmp++;
    n_fz_hits += want > 0;
    n_fz_multi += want > 0 && q.nw > 1;
    n_fz_trail += want > 0 && q.trailing;
    n_fz_any += want > 0 && (flags & TRIE_FUZZY_FIRST_ANY);
    for (size_t i = 0; i < want; i++)
        if (res[i]->cls == 2) {
            n_fz_c2++;
            break;
        }
    n_fz_trunc += trunc == 1;
    /* truncated: a correct prefix of the answer */
    int bad = n < 0 || (trunc == 1 ? (size_t)n > want : (size_t)n != want) || trunc < 0;
    for (int i = 0; !bad && i < n; i++) {
        const trie_words_hit *h = &out[i];
        const bkey *e = res[i];
        bad = h->hit.id != e->id || h->hit.keylen != e->klen || memcmp(h->hit.text, e->key, e->klen) ||
              h->hit.score != e->score || h->cls != 1 || h->edits != e->cls || h->nranges != q.nw;
        for (int j = 0; !bad && j < q.nw; j++)
            bad = h->range[j].off != e->rg[j].off || h->range[j].len != e->rg[j].len;
        /* what the ranker's highlighting finds again */
        trie_words_range rg[TRIE_WORDS_MAX_TYPED];
        unsigned ed = 9;
        if (!bad) bad = trie_words_match_fuzzy(text, len, e->key, e->klen, maxd, flags, rg, &ed) != q.nw ||
                        ed != (unsigned)e->cls || memcmp(rg, e->rg, (size_t)q.nw * sizeof *rg);
    }
    if (bad && nfail++ < 5) {
        fprintf(stderr, "FUZZY MISMATCH text '%.*s' maxd=%u flags=%u k=%u: got %d (trunc %d), want %zu\n", (int)len,
                text, maxd, flags, k, n, trunc, want);
        for (size_t i = 0; i < want || (n > 0 && i < (size_t)n); i++) {
            if (i < want)
                fprintf(stderr, "  want %zu: e%d %.0f '%.*s' L@%u+%u\n", i, res[i]->cls, res[i]->score,
                        (int)res[i]->klen, res[i]->key, res[i]->rg[q.nw - 1].off, res[i]->rg[q.nw - 1].len);
            if (n > 0 && i < (size_t)n)
                fprintf(stderr, "  got  %zu: e%d %.0f '%.*s' L@%u+%u\n", i, out[i].edits, out[i].hit.score,
                        (int)out[i].hit.keylen, out[i].hit.text, out[i].range[q.nw - 1].off,
                        out[i].range[q.nw - 1].len);
        }
    }
    assert_false(bad);
}

/* 0..2 random edits (substitute, insert, delete, swap adjacent) on the
 * last word of q[0..n): characters of the word or of ALPHA's scripts.
 * Returns the new length. */
static inline size_t edit_last(char *q, size_t n) {
    size_t end = n;
    while (end && q[end - 1] == ' ') end--;
    size_t st = end;
    while (st && q[st - 1] != ' ') st--;
    if (st == end) return n;
    uint32_t c[RMAX];
    size_t off[RMAX + 1];
    size_t m = split(q + st, end - st, c, off);
    char tail[8];
    size_t tl = n - end;
    memcpy(tail, q + end, tl < sizeof tail ? tl : sizeof tail);
    unsigned ne = rnd(3);
    for (unsigned e = 0; e < ne && m < RMAX - 2; e++) {
        uint32_t nc; /* a character: one of the word's, or from ALPHA (not its space) */
        if (m && rnd(2)) {
            nc = c[rnd((uint32_t)m)];
        } else {
            unsigned a;
            do a = rnd((uint32_t)NALPHA); while (ALPHA[a][0] == ' ');
            size_t o1[2];
            split(ALPHA[a], strlen(ALPHA[a]), &nc, o1);
        }
        unsigned op = rnd(4), at = m ? rnd((uint32_t)m) : 0;
        if (op == 0 && m) c[at] = nc;
        else if (op == 1) {
            memmove(c + at + 1, c + at, (m - at) * sizeof *c);
            c[at] = nc;
            m++;
        } else if (op == 2 && m > 1) {
            memmove(c + at, c + at + 1, (m - at - 1) * sizeof *c);
            m--;
        } else if (op == 3 && m > 1 && at + 1 < m) {
            uint32_t x = c[at];
            c[at] = c[at + 1];
            c[at + 1] = x;
        }
    }
    size_t o = st;
    for (size_t i = 0; i < m; i++)
        for (unsigned bb = 0; bb < 4 && (bb == 0 || (c[i] >> (8 * bb)) & 0xff); bb++) q[o++] = (char)(c[i] >> (8 * bb));
    memcpy(q + o, tail, tl);
    return o + tl;
}

/* Characters of the last typed word. */
static inline size_t last_chars(const char *q, size_t n) {
    query pq;
    parse(q, n, &pq);
    if (!pq.nw) return 0;
    uint32_t c[RMAX];
    size_t off[RMAX + 1];
    return split(pq.w[pq.nw - 1], pq.wl[pq.nw - 1], c, off);
}

/* COMPLETE ... INFIX with edits (trie_words_topk_edits) against brute
 * force: the exact matches (brute), then, when fewer than k, every other
 * key in its best place -- a typo completion of the whole text (the
 * reference prefix class, 1..maxd; kind 0) or a match with edits on the
 * last word (brute_fz, 1..wmaxd; kind 1) -- by (edits, kind, score desc,
 * key). */
typedef struct ecand {
    const bkey *k;
    int edits, kind;
    size_t ml;
} ecand;

static inline int ecand_order(const void *a, const void *b) {
    const ecand *x = a, *y = b;
    if (x->edits != y->edits) return x->edits - y->edits;
    if (x->kind != y->kind) return x->kind - y->kind;
    const bkey *p = x->k, *q = y->k;
    if (p->score != q->score) return p->score > q->score ? -1 : 1;
    size_t m = p->klen < q->klen ? p->klen : q->klen;
    int c = memcmp(p->key, q->key, m);
    return c ? c : (p->klen > q->klen) - (p->klen < q->klen);
}

/* The reference typo class of key for the whole text, -1 above maxd: the
 * DP over the key's first m + maxd characters only (no longer prefix can
 * be within maxd of m characters). */
static inline int typo_class(const char *text, size_t len, const bkey *k, unsigned maxd, int first, size_t *ml) {
    static uint32_t c[RMAX];
    static size_t o[RMAX + 1];
    size_t m = split(text, len, c, o), n = split(k->key, k->klen, c, o);
    size_t cut = n < m + maxd ? n : m + maxd;
    int e = ref_class(text, len, k->key, o[cut], first, ml);
    return e >= 0 && e <= (int)maxd ? e : -1;
}

static unsigned long n_ed_cmp, n_ed_typo, n_ed_word, n_ed_both, n_ed_empty;

static inline void compare_edits(const trie_words *w, const trie *t, bset *b, const char *text, size_t len, unsigned maxd,
                          unsigned wmaxd, unsigned flags, unsigned k, bkey **res) {
    static ecand want[TRIE_MAX_K], cand[1 << 14];
    static trie_words_hit out[TRIE_MAX_K], ws[TRIE_MAX_K];
    static trie_fuzzy_hit fs[TRIE_MAX_K];
    static uint16_t ml[TRIE_MAX_K];
    static int8_t best[1 << 14];
    if (b->n > (1u << 14)) return;
    query pq;
    parse(text, len, &pq);
    size_t ne = pq.nw ? brute(b, text, len, res) : 0, nw = 0, nc = 0; /* no word: no INFIX answer */
    for (size_t i = 0; i < ne && nw < k; i++)
        want[nw++] = (ecand){res[i], 0, res[i]->cls, res[i]->cls == 0 ? len : 0};
    if (nw < k && (maxd || wmaxd) && pq.nw) {
        int first = !(flags & TRIE_FUZZY_FIRST_ANY);
        memset(best, -1, b->n);
        for (size_t i = 0; i < ne; i++) best[res[i] - b->v] = 0; /* exact: listed already */
        size_t nf = brute_fz(b, text, len, wmaxd, first, res);
        for (size_t x = 0; x < b->n; x++) {
            size_t l = 0;
            int e = maxd && best[x] != 0 ? typo_class(text, len, &b->v[x], maxd, first, &l) : -1;
            if (e > 0) cand[nc++] = (ecand){&b->v[x], e, 0, l}, n_ed_typo++;
        }
        for (size_t i = 0; i < nf; i++) { /* a key in both lists: its best place */
            size_t x = (size_t)(res[i] - b->v), j = 0;
            if (best[x] == 0) continue;
            n_ed_word++;
            while (j < nc && cand[j].k != res[i]) j++;
            if (j == nc) cand[nc++] = (ecand){res[i], res[i]->cls, 1, 0};
            else if (n_ed_both++, res[i]->cls < cand[j].edits) cand[j] = (ecand){res[i], res[i]->cls, 1, 0};
        }
        qsort(cand, nc, sizeof *cand, ecand_order);
        for (size_t i = 0; i < nc && nw < k; i++) want[nw++] = cand[i];
    }
    trie_words_edits ed = {maxd, wmaxd, flags, 0};
    trie_words_edits_info info;
    int n = trie_words_topk_edits(w, t, text, len, &ed, k, out, ml, fs, ws, &info);
    n_ed_cmp++;
    int bad = n != (int)nw || info.truncated || info.word_truncated || info.fuzzy_cut ||
              info.searched != (ne < k && (maxd || wmaxd));
    n_ed_empty += !pq.nw;
    for (int i = 0; !bad && i < n; i++) {
        const ecand *e = &want[i];
        int cls = e->edits == 0 ? e->kind : e->kind == 0 ? 2 : 1;
        bad = out[i].hit.id != e->k->id || out[i].hit.score != e->k->score || out[i].cls != cls ||
              out[i].edits != e->edits || ml[i] != e->ml || (cls == 2 && out[i].nranges != 0);
    }
    if (bad && nfail++ < 5) {
        fprintf(stderr, "EDITS MISMATCH text '%.*s' maxd=%u wmaxd=%u flags=%u k=%u: got %d, want %zu\n", (int)len, text,
                maxd, wmaxd, flags, k, n, nw);
        for (size_t i = 0; i < nw || (n > 0 && i < (size_t)n); i++) {
            if (i < nw)
                fprintf(stderr, "  want %zu: e%d kind %d %.0f '%.*s' ml %zu\n", i, want[i].edits, want[i].kind,
                        want[i].k->score, (int)want[i].k->klen, want[i].k->key, want[i].ml);
            if (n > 0 && i < (size_t)n)
                fprintf(stderr, "  got  %zu: e%d cls %d %.0f '%.*s' ml %u\n", i, out[i].edits, out[i].cls,
                        out[i].hit.score, (int)out[i].hit.keylen, out[i].hit.text, ml[i]);
        }
    }
    assert_false(bad);
}

/* The fuzzy compares of one query: FUZZY 1, 2 or AUTO (the engine's
 * thresholds on the last word: 1 edit from 4 characters, 2 from 8), the
 * first character exact or not. */
static inline void compare_fz_all(const trie_words *w, const trie *t, bset *b, const char *q0, size_t ql0, bkey **res,
                           trie_words_hit *out) {
    char q[4 * TRIE_MAX_KEY + 64];
    memcpy(q, q0, ql0);
    size_t ql = edit_last(q, ql0);
    if (ql > TRIE_WORDS_MAX_TEXT) return;
    unsigned mode = rnd(3), maxd = mode < 2 ? mode + 1 : 0;
    if (mode == 2) {
        size_t cp = last_chars(q, ql);
        maxd = cp >= 8 ? 2 : cp >= 4 ? 1 : 0;
    }
    unsigned flags = rnd(3) == 0 ? TRIE_FUZZY_FIRST_ANY : 0;
    unsigned k = rnd(3) ? 1 + rnd(12) : 1 + rnd(100);
    compare_fz(w, t, b, q, ql, maxd, flags, k, res, out);
    if (b->n <= 3000 && rnd(2)) { /* the whole answer: FUZZY 0..2 or AUTO by the text's characters */
        unsigned d = rnd(4);
        if (d == 3) {
            uint32_t c[RMAX];
            size_t o[RMAX + 1], cp = split(q, ql, c, o);
            d = cp >= 8 ? 2 : cp >= 4 ? 1 : 0;
        }
        compare_edits(w, t, b, q, ql, d, rnd(4) ? maxd : 0, flags, k, res);
    }
}

/* A query built from a live key: some of its words, shuffled, the last cut
 * (or complete with a trailing space). */
static inline size_t make_query(const bset *b, char *q) {
    uint32_t mode = rnd(10);
    size_t n = 0;
    if (mode == 0 || b->n == 0) { /* random pool words */
        int nw = 1 + (int)rnd(3);
        for (int i = 0; i < nw; i++) {
            const char *w = POOL[rnd(NPOOL)];
            if (n) q[n++] = ' ';
            size_t wl = strlen(w), cut = i == nw - 1 && rnd(2) ? 1 + rnd((uint32_t)wl) : wl;
            memcpy(q + n, w, cut);
            n += cut;
        }
        if (rnd(4) == 0) q[n++] = ' ';
        return n;
    }
    const bkey *k = &b->v[rnd((uint32_t)b->n)];
    if (mode == 1) { /* a plain prefix */
        n = 1 + rnd((uint32_t)k->klen);
        memcpy(q, k->key, n);
        return n;
    }
    kwords kw;
    kwords_of(k->key, k->klen, &kw);
    int pick[8], np = 1 + (int)rnd(kw.n < 4 ? (uint32_t)kw.n : 4);
    for (int i = 0; i < np; i++) pick[i] = (int)rnd((uint32_t)kw.n); /* repeats: "new new" */
    if (mode == 2 && np > 1) pick[np - 1] = pick[0];
    int trailing = rnd(5) == 0;
    for (int i = 0; i < np; i++) {
        if (n) q[n++] = ' ';
        size_t wl = kw.l[pick[i]];
        if (i == np - 1 && !trailing) wl = 1 + rnd((uint32_t)wl);
        memcpy(q + n, k->key + kw.o[pick[i]], wl);
        n += wl;
    }
    if (trailing) q[n++] = ' ';
    return n;
}

static inline void check_idx(const trie_words *w, const trie *t) {
    char err[256];
    int rc = trie_words_check(w, t, err, sizeof err);
    if (rc) fprintf(stderr, "check: %s\n", err);
    assert_int_equal(rc, 0);
}

/* Saves t and w (trie_save, trie_words_save), loads both back in their
 * place: the live changes after it apply to the loaded index. */
static inline void save_load(trie **t, trie_words **w) {
    const char *tmp = getenv("QAC_TMP");
    char path[512], wpath[600], err[256];
    snprintf(path, sizeof path, "%s/tw_roundtrip.%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    snprintf(wpath, sizeof wpath, "%s.words", path);
    uint64_t id, cnt;
    assert_int_equal(trie_save(*t, path), 0);
    assert_int_equal(trie_snapshot_id(path, &id, &cnt), 0);
    assert_int_equal(cnt, trie_count(*t));
    assert_int_equal(trie_words_save(*w, wpath, id, cnt), 0);
    trie *t2 = NULL;
    trie_words *w2 = NULL;
    assert_int_equal(trie_load(path, &t2, err, sizeof err), 0);
    int rc = trie_words_load(wpath, t2, id, &w2, err, sizeof err);
    if (rc) fprintf(stderr, "load: %s\n", err);
    assert_int_equal(rc, 0);
    check_idx(w2, t2);
    trie_words_free(*w);
    trie_free(*t);
    *t = t2;
    *w = w2;
    unlink(path);
    unlink(wpath);
}

static inline void run_differential(uint64_t seed, int use_builder, int nkeys, int batches) {
    rng_seed(seed);
    trie *t = NULL;
    char key[TRIE_MAX_KEY];
    if (use_builder) { /* coded keys, as after qac build / load */
        trie *u = trie_new();
        for (int i = 0; i < nkeys; i++) {
            size_t kl = make_key(key, rand_nwords());
            assert_int_equal(trie_set(u, key, kl, NULL, 0, (double)rnd(20), NULL), 0);
        }
        trie_builder *bd = trie_builder_new();
        bset all = {0};
        trie_foreach(u, collect, &all); /* key order */
        for (size_t i = 0; i < all.n; i++)
            assert_int_equal(trie_builder_add(bd, all.v[i].key, all.v[i].klen, NULL, 0, all.v[i].score, NULL), 0);
        assert_int_equal(trie_builder_finish(bd, &t), 0);
        trie_free(u);
        free(all.v);
    } else {
        t = trie_new();
        for (int i = 0; i < nkeys; i++) {
            size_t kl = make_key(key, rand_nwords());
            assert_int_equal(trie_set(t, key, kl, NULL, 0, (double)rnd(20), NULL), 0);
        }
    }
    trie_words *w = NULL;
    assert_int_equal(trie_words_build(t, &w), 0);
    check_idx(w, t);
    bset b = {0};
    bkey **res = malloc(sizeof *res * (size_t)(4 * nkeys + 1000));
    trie_words_hit *out = malloc(sizeof *out * TRIE_MAX_K);
    for (int batch = 0; batch < batches; batch++) {
        int nops = 1 + (int)rnd(60);
        for (int op = 0; op < nops; op++) {
            uint32_t r = rnd(10);
            b.n = 0;
            if (r < 4 || trie_count(t) == 0) { /* add (or set an existing key) */
                size_t kl = make_key(key, rand_nwords());
                uint64_t before = trie_count(t);
                uint32_t id;
                double s = (double)rnd(25) - (rnd(10) == 0 ? 30 : 0);
                assert_int_equal(trie_set(t, key, kl, NULL, 0, s, &id), 0);
                if (trie_count(t) > before) assert_int_equal(trie_words_add(w, id, key, kl, s), 0);
                else assert_int_equal(trie_words_score(w, t, id, key, kl, s), 0);
            } else {
                trie_foreach(t, collect, &b);
                bkey *k = &b.v[rnd((uint32_t)b.n)];
                if (r < 7) { /* increment, up or down */
                    double nsc, d = (double)rnd(9) - 3 + (rnd(8) == 0 ? 100 : 0);
                    assert_int_equal(trie_incr(t, k->key, k->klen, NULL, 0, d, &nsc), 0);
                    assert_int_equal(trie_words_score(w, t, rnd(2) ? k->id : TRIE_WORDS_ANY_ID, k->key,
                                                      k->klen, nsc), 0);
                } else { /* delete */
                    trie_hit h;
                    assert_true(trie_get(t, k->key, k->klen, &h));
                    assert_int_equal(trie_del(t, k->key, k->klen), 0);
                    assert_int_equal(trie_words_del(w, h.id, k->key, k->klen), 0);
                }
            }
        }
        check_idx(w, t);
        b.n = 0;
        trie_foreach(t, collect, &b);
        if (batch % 8 == 3) save_load(&t, &w); /* go on with the loaded ones */
        trie_words *fresh = NULL;
        if (batch % 8 == 7) {
            assert_int_equal(trie_words_build(t, &fresh), 0);
            check_idx(fresh, t);
        }
        for (int i = 0; i < 40; i++) {
            char q[4 * TRIE_MAX_KEY];
            size_t ql = make_query(&b, q);
            if (ql > TRIE_WORDS_MAX_TEXT) continue;
            query pq;
            parse(q, ql, &pq);
            if (pq.nw > TRIE_WORDS_MAX_TYPED) continue;
            unsigned k = rnd(3) ? 1 + rnd(12) : 1 + rnd(100);
            compare(w, t, &b, q, ql, k, res, out);
            if (fresh) compare(fresh, t, &b, q, ql, k, res, out);
            if (g_fz) {
                compare_fz_all(w, t, &b, q, ql, res, out);
                if (fresh) compare_fz_all(fresh, t, &b, q, ql, res, out);
            }
        }
        trie_words_free(fresh);
    }
    free(b.v);
    free(res);
    free(out);
    if (trie_count(w->wt) > g_words) g_words = trie_count(w->wt);
    trie_words_free(w);
    trie_free(t);
    printf("seed %llu: %lu queries, %lu with class-1 hits, %lu multi-word with hits, %lu trailing "
           "with hits, %lu filled k, %lu with class 0 known empty from the prefix filter\n",
           (unsigned long long)seed, n_cmp, n_c1, n_multi, n_trail, n_full, n_pfskip);
    /* the filtered path (class 0 skipped) is compared too, in every run */
    assert_true(n_pfskip > n_cmp / 10 && n_pfskip < n_cmp);
    n_cmp = n_c1 = n_multi = n_trail = n_full = n_pfskip = 0;
}

#endif
