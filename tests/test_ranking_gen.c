/* Tests for ranking/gen: the suffix index against a brute force on random
 * corpora (exact while the distinct suffixes fit the counting table; the
 * frequent ones survive pruning, never over-counted, when they do not),
 * rank_gen_complete against a brute force over the index (words kept,
 * suffix order, dedup, the max bound, the key length bound, and which
 * candidates keep a word that is not known -- not a word of a key with a
 * space -- over corpora whose prefixes have words no such key has), the known words
 * (exact while they fit gen-words, the most frequent when they do not),
 * the bounded settings' errors, and the request path: generated candidates
 * after the known ones, flagged, deduplicated, g read live from the trie. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranking/gen.h"
#include "ranking/request.h"
#include "trie/trie.h"
#include "tests/helpers.h"

#define S(x) x, sizeof(x) - 1

static uint64_t rng;
static uint32_t rnd(uint32_t n) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33) % n;
}

/* the last NEXTRA words are never in the keys made by rand_key: only in
 * prefixes (rand_pfx) and single-word keys */
static const char *const vocab[] = {"a",     "b",  "new",   "york", "ne", "n",    "hotels",
                                    "in",    "paris", "par", "to", "lrics", "yrok", "qq"};
#define NV (sizeof vocab / sizeof *vocab)
#define NEXTRA 3
static uint32_t vmask = ~0u; /* the vocab words rand_key may use (bit i: vocab[i]) */

/* a random key of 1..5 words into buf (words of vmask, none of the
 * extras); returns its length */
static size_t rand_key(char *buf) {
    size_t n = 0, w = 1 + rnd(5);
    for (size_t i = 0; i < w; i++) {
        uint32_t x;
        do x = rnd(NV - NEXTRA);
        while (!(vmask >> x & 1));
        const char *v = vocab[x];
        if (i) buf[n++] = ' ';
        memcpy(buf + n, v, strlen(v));
        n += strlen(v);
    }
    return n;
}

/* a random prefix: 1..5 words of the whole vocab */
static size_t rand_pfx(char *buf) {
    size_t n = 0, w = 1 + rnd(5);
    for (size_t i = 0; i < w; i++) {
        const char *v = vocab[rnd(NV)];
        if (i) buf[n++] = ' ';
        memcpy(buf + n, v, strlen(v));
        n += strlen(v);
    }
    return n;
}

/* --- brute force ---------------------------------------------------------- */

/* the known words: every word of every key with a space (bit i: vocab[i]) */
static int known_walk(void *ud, const trie_hit *h) {
    const char *k = trie_hit_key(h);
    if (!memchr(k, ' ', h->keylen)) return 0;
    for (size_t i = 0; i < h->keylen;) {
        size_t j = i;
        while (j < h->keylen && k[j] != ' ') j++;
        for (size_t v = 0; v < NV; v++)
            if (strlen(vocab[v]) == j - i && !memcmp(vocab[v], k + i, j - i)) *(uint32_t *)ud |= 1u << v;
        i = j + 1;
    }
    return 0;
}

static uint32_t brute_known(const trie *t) {
    uint32_t m = 0;
    trie_foreach(t, known_walk, &m);
    return m;
}

static int brute_knows(uint32_t known, const char *w, size_t len) {
    for (size_t v = 0; v < NV; v++)
        if (strlen(vocab[v]) == len && !memcmp(vocab[v], w, len)) return known >> v & 1;
    return 0;
}

/* the index's answer for every vocab word */
static uint32_t gen_known(const rank_gen *g) {
    uint32_t m = 0;
    for (size_t v = 0; v < NV; v++) m |= (uint32_t)rank_gen_knows(g, vocab[v], strlen(vocab[v])) << v;
    return m;
}

typedef struct bsuf {
    char s[TRIE_MAX_KEY];
    size_t len;
    double count;
} bsuf;

static bsuf *bs;
static size_t nbs;

static int brute_walk(void *ud, const trie_hit *h) {
    (void)ud;
    const char *k = trie_hit_key(h);
    for (size_t i = 0; i + 1 < h->keylen; i++) {
        if (k[i] != ' ') continue;
        const char *s = k + i + 1;
        size_t len = h->keylen - i - 1, j = 0;
        while (j < nbs && !(bs[j].len == len && !memcmp(bs[j].s, s, len))) j++;
        if (j == nbs) {
            memcpy(bs[nbs].s, s, len);
            bs[nbs].len = len;
            bs[nbs++].count = 0;
        }
        bs[j].count += h->score;
    }
    return 0;
}

static int bcmp_text(const bsuf *a, const bsuf *b) {
    int r = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
    return r ? r : a->len < b->len ? -1 : a->len > b->len;
}

static int by_count(const void *pa, const void *pb) {
    const bsuf *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return bcmp_text(a, b);
}

static void brute(const trie *t) {
    nbs = 0;
    trie_foreach(t, brute_walk, NULL);
    qsort(bs, nbs, sizeof *bs, by_count);
}

/* the index's suffixes */
typedef struct got {
    bsuf *s;
    size_t n;
} got;

static int got_walk(void *ud, const trie_hit *h) {
    got *g = ud;
    memcpy(g->s[g->n].s, trie_hit_key(h), h->keylen);
    g->s[g->n].len = h->keylen;
    g->s[g->n++].count = h->score;
    return 0;
}

static double brute_count(const char *s, size_t len) {
    for (size_t j = 0; j < nbs; j++)
        if (bs[j].len == len && !memcmp(bs[j].s, s, len)) return bs[j].count;
    return -1;
}

/* The index built from a key copy (rank_gen_build_keys, as the server does
 * off its loop) equals the one built from the trie, pruned or not; the copy
 * holds only the keys with a space. */
static int count_spaced(void *ud, const trie_hit *h) {
    *(size_t *)ud += memchr(trie_hit_key(h), ' ', h->keylen) != NULL;
    return 0;
}

static size_t spaced_keys(const trie *t) {
    size_t n = 0;
    trie_foreach(t, count_spaced, &n);
    return n;
}

static void assert_keys_build_same(const rank_gen_keys *k, uint64_t max, const rank_gen *want,
                                   const rank_gen_info *wi) {
    rank_gen *gen;
    rank_gen_info gi;
    assert_int_equal(rank_gen_build_keys(k, max, max, NULL, &gen, &gi), 0);
    assert_int_equal(gi.keys, wi->keys);
    assert_int_equal(gi.words, wi->words);
    assert_int_equal(gi.words_distinct, wi->words_distinct);
    assert_int_equal(gi.words_pruned, wi->words_pruned);
    assert_int_equal(gen_known(gen), gen_known(want));
    assert_int_equal(gi.occurrences, wi->occurrences);
    assert_int_equal(gi.distinct, wi->distinct);
    assert_int_equal(gi.kept, wi->kept);
    assert_int_equal(gi.pruned, wi->pruned);
    assert_trie_scores_same(rank_gen_trie(gen), rank_gen_trie(want));
    rank_gen_free(gen);
}

static void assert_copy_builds_same(const trie *t, uint64_t max, const rank_gen *want, const rank_gen_info *wi) {
    rank_gen_keys *k;
    assert_int_equal(rank_gen_keys_copy(t, &k), 0);
    assert_int_equal(rank_gen_keys_count(k), spaced_keys(t));
    assert_keys_build_same(k, max, want, wi);
    rank_gen_keys_free(k);
}

/* One random live change to t, told to the copy as the server tells it
 * (eng_rank_changed): a new key, a score set or increased, a delete (which
 * frees an id a later add takes: ids then leave key order). Scores are not
 * integers, so a sum in another order would differ in the last bits. */
static void live_change(trie *t, rank_gen_keys *k) {
    char key[TRIE_MAX_KEY];
    size_t len = rand_key(key);
    double sc = 0;
    switch (rnd(4)) {
    case 0: /* delete (absent: nothing happens, nothing to tell) */
        if (trie_del(t, key, len) == 0) assert_int_equal(rank_gen_keys_note(k, key, len, 1, 0), 0);
        return;
    case 1:
        assert_int_equal(trie_set(t, key, len, NULL, 0, (double)rnd(1000) / 7, NULL), 0);
        break;
    default:
        assert_int_equal(trie_incr(t, key, len, NULL, 0, (double)(1 + rnd(50)) / 3, &sc), 0);
    }
    assert_int_equal(trie_score(t, key, len, &sc), 1);
    assert_int_equal(rank_gen_keys_note(k, key, len, 0, sc), 0);
}

/* The sliced copy under live changes (as the server makes it: a slice per
 * loop turn, ADD/INCR/DEL between) builds exactly the index a build over
 * the trie as it was when the last slice ended gives -- counts, pruning and
 * kept suffixes alike -- for tiny slices (many of them) and for one slice;
 * changes after the end are not the copy's. */
static void test_sliced_copy_differential(void **state) {
    (void)state;
    static const uint64_t slices[] = {1, 2, 3, 7, 64, UINT64_MAX};
    char key[TRIE_MAX_KEY];
    for (int round = 0; round < 60; round++) {
        rng = 1000 + (uint64_t)round;
        trie *t = trie_new();
        size_t n = 50 + rnd(round < 30 ? 200 : 2000);
        for (size_t i = 0; i < n; i++) {
            size_t len = rand_key(key);
            assert_int_equal(trie_incr(t, key, len, NULL, 0, (double)(1 + rnd(9)) / 3, NULL), 0);
            if (rnd(5) == 0) trie_del(t, key, len); /* freed ids, reused by later keys */
        }
        uint64_t slice = slices[round % (sizeof slices / sizeof *slices)];
        uint64_t max = round % 3 == 0 ? 3 : round % 3 == 1 ? 40 : 10000; /* pruned, maybe, never */
        rank_gen_keys *k;
        assert_int_equal(rank_gen_keys_begin(&k), 0);
        int rc, steps = 0;
        while ((rc = rank_gen_keys_step(k, t, slice)) == 0) {
            steps++;
            for (uint32_t c = rnd(4); c > 0; c--) live_change(t, k);
        }
        assert_int_equal(rc, 1);
        assert_true(rank_gen_keys_done(k));
        if (slice <= 3) assert_true(steps > 10);
        rank_gen *want;
        rank_gen_info wi;
        assert_int_equal(rank_gen_build(t, max, max, &want, &wi), 0); /* the trie when the copy ended */
        if (round % 2) { /* later changes: told, and ignored */
            uint64_t before = rank_gen_keys_changes(k);
            for (int c = 0; c < 20; c++) live_change(t, k);
            assert_int_equal(rank_gen_keys_changes(k), before);
        }
        assert_keys_build_same(k, max, want, &wi);
        rank_gen_free(want);
        rank_gen_keys_free(k);
        trie_free(t);
    }
}

/* The notes' bound: notes fill whole blocks up to it, the first that needs
 * a block past it fails with TRIE_EFULL and is not kept, nor any after it;
 * no bound (the default) takes them all; a finished copy notes nothing. */
static void test_keys_note_bound(void **state) {
    (void)state;
    static const char key[] = "hotels in paris";
    for (int blocks = 1; blocks <= 3; blocks += 2) {
        rank_gen_keys *k;
        assert_int_equal(rank_gen_keys_begin(&k), 0);
        rank_gen_keys_limit_notes(k, (uint64_t)blocks * RANK_GEN_COPY_BLOCK);
        size_t rec = sizeof(double) + sizeof(uint16_t) + 1 + sizeof key - 1;
        uint64_t kept = 0, most = (uint64_t)(blocks + 2) * (RANK_GEN_COPY_BLOCK / rec); /* a broken bound ends too */
        int rc;
        while ((rc = rank_gen_keys_note(k, key, sizeof key - 1, 0, 1.5)) == 0 && kept < most) kept++;
        assert_int_equal(rc, TRIE_EFULL);
        assert_int_equal(kept, (uint64_t)blocks * (RANK_GEN_COPY_BLOCK / rec));
        assert_int_equal(rank_gen_keys_changes(k), kept);
        assert_int_equal(rank_gen_keys_note_bytes(k), (uint64_t)blocks * RANK_GEN_COPY_BLOCK);
        assert_int_equal(rank_gen_keys_note(k, key, sizeof key - 1, 1, 0), TRIE_EFULL);
        assert_int_equal(rank_gen_keys_changes(k), kept);
        rank_gen_keys_limit_notes(k, 0); /* no bound: the next block comes */
        assert_int_equal(rank_gen_keys_note(k, key, sizeof key - 1, 0, 2), 0);
        assert_int_equal(rank_gen_keys_note_bytes(k), (uint64_t)(blocks + 1) * RANK_GEN_COPY_BLOCK);
        rank_gen_keys_free(k);
    }
}

static void test_index_differential(void **state) {
    (void)state;
    const size_t start = rank__gen_counter_start;
    bs = malloc(20000 * sizeof *bs);
    got g = {malloc(20000 * sizeof *g.s), 0};
    assert_non_null(bs);
    assert_non_null(g.s);
    char key[TRIE_MAX_KEY];
    for (int round = 0; round < 30; round++) {
        rng = 1000 + (uint64_t)round;
        rank__gen_counter_start = round % 2 ? (size_t)(1 + round % 7) : start; /* odd rounds: the tables grow from 1..7 */
        trie *t = trie_new();
        size_t nk = 1 + rnd(400);
        for (size_t i = 0; i < nk; i++) {
            size_t len = rand_key(key);
            assert_int_equal(trie_incr(t, key, len, NULL, 0, 1 + rnd(50), NULL), 0);
        }
        /* live changes before the build: the index is what the trie holds when built */
        for (size_t i = 0; i < nk / 4; i++) {
            size_t len = rand_key(key);
            double sc;
            if (trie_score(t, key, len, &sc) && rnd(2)) assert_int_equal(trie_del(t, key, len), 0);
            else assert_int_equal(trie_incr(t, key, len, NULL, 0, 1 + rnd(9), NULL), 0);
        }
        brute(t);
        uint32_t known = brute_known(t);
        size_t nknown = (size_t)__builtin_popcount(known);
        for (uint64_t max = 1; max <= 2048; max = max * 3 + 1) {
            rank_gen *gen;
            rank_gen_info gi;
            assert_int_equal(rank_gen_build(t, max, max, &gen, &gi), 0); /* max words too */
            assert_copy_builds_same(t, max, gen, &gi);
            if (nknown <= max) { /* the known words fit: exact */
                assert_int_equal(gi.words_pruned, 0);
                assert_int_equal(gi.words, nknown);
                assert_int_equal(gi.words_distinct, nknown);
                assert_int_equal(gen_known(gen), known);
            } else { /* past gen-words: at most max of them, the frequent ones, none made up */
                assert_true(gi.words_pruned > 0);
                assert_true(gi.words <= max && gi.words >= 1);
                assert_int_equal(gen_known(gen) & ~known, 0);
                assert_int_equal((size_t)__builtin_popcount(gen_known(gen)), gi.words);
            }
            g.n = 0;
            trie_foreach(rank_gen_trie(gen), got_walk, &g);
            size_t want = nbs < max ? nbs : max;
            assert_int_equal(gi.kept, want);
            assert_int_equal(g.n, want);
            if (nbs <= max * RANK_GEN_COUNT_FACTOR) { /* fits the counting table: exact */
                assert_int_equal(gi.pruned, 0);
                assert_int_equal(gi.distinct, nbs);
                qsort(g.s, g.n, sizeof *g.s, by_count);
                for (size_t i = 0; i < want; i++) {
                    assert_int_equal(g.s[i].len, bs[i].len);
                    assert_memory_equal(g.s[i].s, bs[i].s, bs[i].len);
                    assert_true(g.s[i].count == bs[i].count);
                }
            } else { /* pruned (a lossy count): kept counts are never over the truth */
                assert_true(gi.pruned > 0);
                for (size_t i = 0; i < g.n; i++) {
                    double c = brute_count(g.s[i].s, g.s[i].len);
                    assert_true(c >= g.s[i].count);
                }
            }
            rank_gen_free(gen);
        }
        trie_free(t);
    }
    rank__gen_counter_start = start;
    free(g.s);
    free(bs);
}

/* brute force of rank_gen_complete over the index's suffixes (all of them
 * in g, count desc, text asc); .unknown when a kept word is not in known
 * (never when all_known) */
static size_t brute_complete(const got *g, uint32_t known, int all_known, const char *p, size_t plen, unsigned max,
                             rank_gen_cand *out) {
    size_t st[64], ns = 0, n = 0;
    for (size_t i = plen; i-- > 0 && ns < RANK_GEN_MAX_KEPT;)
        if (p[i] == ' ') st[ns++] = i + 1;
    for (size_t w = 0; w < ns && n < max; w++) {
        size_t s = st[w], rest = plen - s;
        uint32_t kept = 0;
        int unknown = 0;
        for (size_t i = 0; i < s; i++)
            if (p[i] != ' ' && (i == 0 || p[i - 1] == ' ')) {
                kept++;
                size_t j = i;
                while (p[j] != ' ') j++;
                unknown |= !all_known && !brute_knows(known, p + i, j - i);
            }
        for (size_t j = 0; j < g->n && n < max; j++) {
            const bsuf *x = &g->s[j];
            if (x->len < rest || memcmp(x->s, p + s, rest) || s + x->len > TRIE_MAX_KEY) continue;
            char txt[2 * TRIE_MAX_KEY];
            memcpy(txt, p, s);
            memcpy(txt + s, x->s, x->len);
            int dup = 0;
            for (size_t k = 0; k < n && !dup; k++) dup = out[k].len == s + x->len && !memcmp(out[k].text, txt, out[k].len);
            if (dup) continue;
            memcpy(out[n].text, txt, s + x->len);
            out[n].len = (uint32_t)(s + x->len);
            out[n].kept = kept;
            out[n].unknown = (uint8_t)unknown;
            out[n++].sf = x->count;
        }
    }
    return n;
}

static void test_complete_differential(void **state) {
    (void)state;
    got g = {malloc(20000 * sizeof *g.s), 0};
    rank_gen_cand *want = malloc(RANK_MAX_GEN_CANDS * sizeof *want), *have = malloc(RANK_MAX_GEN_CANDS * sizeof *have);
    trie_hit *scratch = malloc(RANK_MAX_GEN_CANDS * sizeof *scratch);
    assert_true(g.s && want && have && scratch);
    char key[TRIE_MAX_KEY];
    size_t nunknown = 0, nknown = 0;
    for (int round = 0; round < 40; round++) {
        rng = 77 + (uint64_t)round;
        /* multi-word keys of some of the words; the rest, and the extras, only
         * as single-word keys (which make no word known) or in prefixes */
        vmask = round % 2 ? ~0u : 1u << rnd(NV - NEXTRA) | rnd(1u << (NV - NEXTRA));
        trie *t = trie_new();
        size_t nk = 1 + rnd(300);
        for (size_t i = 0; i < nk; i++) {
            size_t len = rand_key(key);
            assert_int_equal(trie_incr(t, key, len, NULL, 0, 1 + rnd(20), NULL), 0);
        }
        for (size_t v = 0; v < NV; v++)
            if (rnd(2)) assert_int_equal(trie_incr(t, vocab[v], strlen(vocab[v]), NULL, 0, 1 + rnd(20), NULL), 0);
        uint32_t known = brute_known(t);
        int all_known = round % 4 == 3; /* gen-words 0: every word counts as known */
        rank_gen *gen;
        assert_int_equal(rank_gen_build(t, 1 + rnd(300), all_known ? 0 : RANK_GEN_DEFAULT_WORDS, &gen, NULL), 0);
        g.n = 0;
        trie_foreach(rank_gen_trie(gen), got_walk, &g);
        qsort(g.s, g.n, sizeof *g.s, by_count);
        for (int q = 0; q < 300; q++) {
            char p[TRIE_MAX_KEY];
            size_t plen = rand_pfx(p);
            if (rnd(3) == 0) p[plen++] = ' '; /* ends at a word boundary */
            else if (plen > 1 && rnd(2)) plen -= 1 + rnd((uint32_t)(plen - 1) < 3 ? (uint32_t)plen - 1 : 3);
            unsigned max = rnd(RANK_MAX_GEN_CANDS + 8);
            unsigned m = max > RANK_MAX_GEN_CANDS ? RANK_MAX_GEN_CANDS : max;
            size_t nw = brute_complete(&g, known, all_known, p, plen, m, want);
            size_t nh = rank_gen_complete(gen, p, plen, max, scratch, have);
            assert_int_equal(nh, nw);
            for (size_t i = 0; i < nh; i++) {
                assert_int_equal(have[i].len, want[i].len);
                assert_memory_equal(have[i].text, want[i].text, want[i].len);
                assert_int_equal(have[i].kept, want[i].kept);
                assert_true(have[i].sf == want[i].sf);
                assert_true(have[i].kept >= 1);
                assert_int_equal(have[i].unknown, want[i].unknown);
                if (!all_known) *(want[i].unknown ? &nunknown : &nknown) += 1; /* both cases seen */
            }
        }
        rank_gen_free(gen);
        trie_free(t);
    }
    vmask = ~0u;
    assert_true(nunknown > 500 && nknown > 500);
    free(g.s);
    free(want);
    free(have);
    free(scratch);
}

static void test_limits(void **state) {
    (void)state;
    trie *t = trie_new();
    assert_int_equal(trie_set(t, S("cheap flights to paris"), NULL, 0, 5, NULL), 0);
    rank_gen *g = (rank_gen *)1;
    assert_int_equal(rank_gen_build(t, 0, 10, &g, NULL), TRIE_EINVAL);
    assert_null(g);
    assert_int_equal(rank_gen_build(t, RANK_GEN_MAX_SUFFIXES + 1, 10, &g, NULL), TRIE_EINVAL);
    assert_null(g);
    g = (rank_gen *)1;
    assert_int_equal(rank_gen_build(t, 2, RANK_GEN_MAX_WORDS + 1, &g, NULL), TRIE_EINVAL);
    assert_null(g);
    /* known words: those of "cheap flights to paris"; "hotels" is not one */
    rank_gen_info gi;
    assert_int_equal(rank_gen_build(t, 2, RANK_GEN_DEFAULT_WORDS, &g, &gi), 0);
    assert_int_equal(gi.words, 4);
    assert_true(gi.word_bytes > 0 && gi.bytes > gi.word_bytes);
    assert_true(rank_gen_knows(g, S("cheap")) && rank_gen_knows(g, S("paris")));
    assert_false(rank_gen_knows(g, S("hotels")) || rank_gen_knows(g, S("pari")) || rank_gen_knows(g, S("")));
    trie_hit scratch[RANK_MAX_GEN_CANDS];
    rank_gen_cand out[RANK_MAX_GEN_CANDS];
    assert_int_equal(rank_gen_complete(g, S("hotels "), 8, scratch, out), 2); /* made, marked */
    assert_true(out[0].unknown && out[1].unknown);
    assert_int_equal(rank_gen_complete(g, S("hotels to p"), 8, scratch, out), 1); /* "to" known, "hotels" not */
    assert_memory_equal(out[0].text, "hotels to paris", 15);
    assert_true(out[0].unknown);
    assert_int_equal(rank_gen_complete(g, S("cheap "), 8, scratch, out), 2);
    assert_memory_equal(out[0].text, "cheap flights to paris", 22);
    assert_true(!out[0].unknown && !out[1].unknown);
    /* kept 2 keeps "hotels"; kept 1 has no suffix "hotels p..." */
    assert_int_equal(rank_gen_complete(g, S("cheap hotels p"), 8, scratch, out), 1);
    assert_memory_equal(out[0].text, "cheap hotels paris", 18);
    assert_true(out[0].unknown);
    assert_int_equal(rank_gen_complete(g, S("cheap to p"), 8, scratch, out), 1); /* kept 2: "cheap to " + "paris" */
    assert_memory_equal(out[0].text, "cheap to paris", 14);
    assert_int_equal(out[0].kept, 2);
    assert_false(out[0].unknown);
    assert_int_equal(rank_gen_complete(g, S("cheap pari"), 8, scratch, out), 1); /* the last word may be partial */
    assert_false(out[0].unknown);
    rank_gen_free(g);
    /* gen-words 1: one word kept of the 4, the count pruned */
    assert_int_equal(rank_gen_build(t, 2, 1, &g, &gi), 0);
    assert_int_equal(gi.words, 1);
    assert_true(gi.words_pruned > 0);
    assert_int_equal(gi.words_distinct, 4);
    rank_gen_free(g);
    /* gen-words 0: every word counts as known (the rule is off) */
    assert_int_equal(rank_gen_build(t, 2, 0, &g, &gi), 0);
    assert_int_equal(gi.words, 0);
    assert_int_equal(gi.word_bytes, 0);
    assert_int_equal(rank_gen_complete(g, S("hotels to p"), 8, scratch, out), 1);
    assert_false(out[0].unknown);
    /* no complete word: nothing; max 0: nothing */
    assert_int_equal(rank_gen_complete(g, S("pa"), 8, scratch, out), 0);
    assert_int_equal(rank_gen_complete(g, S("hotels to"), 0, scratch, out), 0);
    assert_int_equal(rank_gen_complete(NULL, S("hotels to"), 8, scratch, out), 0);
    /* the two kept: "flights to paris" and "paris" (5 each, text order); "to paris" cut */
    size_t n = rank_gen_complete(g, S("hotels "), 8, scratch, out);
    assert_int_equal(n, 2);
    assert_memory_equal(out[0].text, "hotels flights to paris", 23);
    assert_memory_equal(out[1].text, "hotels paris", 12);
    assert_int_equal(rank_gen_complete(g, S("hotels "), 1, scratch, out), 1);
    n = rank_gen_complete(g, S("hotels in p"), 8, scratch, out);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].kept, 2);
    assert_true(out[0].sf == 5);
    /* a text over TRIE_MAX_KEY is skipped */
    char longp[TRIE_MAX_KEY];
    memset(longp, 'x', sizeof longp);
    longp[TRIE_MAX_KEY - 3] = ' ';
    longp[TRIE_MAX_KEY - 2] = 'p';
    assert_int_equal(rank_gen_complete(g, longp, TRIE_MAX_KEY - 1, 8, scratch, out), 0);
    rank_gen_free(g);
    trie_free(t);
}

static void test_request_path(void **state) {
    (void)state;
    trie *t = trie_new();
    assert_int_equal(trie_set(t, S("cheap hotels in paris"), NULL, 0, 7, NULL), 0);
    assert_int_equal(trie_set(t, S("hotels in rome"), NULL, 0, 3, NULL), 0);
    assert_int_equal(trie_set(t, S("flights to rome"), NULL, 0, 2, NULL), 0);
    rank_gen *g;
    assert_int_equal(rank_gen_build(t, 100, RANK_GEN_DEFAULT_WORDS, &g, NULL), 0);
    rank_req r;
    assert_int_equal(rank_req_init(&r, NULL, NULL), 0);
    rank_req_session(&r, 0, NULL, 0, 1000);
    /* off: only the trie */
    assert_int_equal(rank_req_gather(&r, t, NULL, NULL, S("hotels in p"), 50), 0);
    rank_req_set_gen(&r, g, 8);
    /* "hotels in " + "paris" (kept 2), and + "in paris" (kept 1): the same text, once */
    int n = rank_req_gather(&r, t, NULL, NULL, S("hotels in p"), 50);
    assert_int_equal(n, 1);
    assert_memory_equal(r.cs.c[0].q, "hotels in paris", 15);
    assert_int_equal(r.cs.c[0].gen, 1 + 2);
    assert_true(r.cs.c[0].g == 0 && r.cs.c[0].sf == 7 && r.cs.c[0].u == 0);
    /* a generated text equal to a known candidate is left out */
    n = rank_req_gather(&r, t, NULL, NULL, S("hotels in r"), 50);
    assert_int_equal(n, 1);
    assert_int_equal(r.cs.c[0].gen, 0);
    /* the index is not live (built before these), g is */
    assert_int_equal(trie_set(t, S("hotels in paris"), NULL, 0, 4, NULL), 0);
    assert_int_equal(trie_del(t, S("hotels in rome")), 0);
    n = rank_req_gather(&r, t, NULL, NULL, S("hotels in p"), 50);
    assert_int_equal(n, 1);
    assert_int_equal(r.cs.c[0].gen, 0); /* now the trie's */
    n = rank_req_gather(&r, t, NULL, NULL, S("hotels in r"), 50);
    assert_int_equal(n, 1); /* "hotels in rome" generated from "rome" (3 + 2) */
    assert_memory_equal(r.cs.c[0].q, "hotels in rome", 14);
    assert_true(r.cs.c[0].gen && r.cs.c[0].g == 0 && r.cs.c[0].sf == 5);
    n = rank_req_prepare(&r);
    assert_int_equal(n, 1);
    assert_int_equal(r.lc[0].trank, 0);
    assert_true(r.lc[0].c.gen);
    rank_req_set_gen(&r, g, 1000); /* capped */
    assert_int_equal(r.gen_max, RANK_MAX_GEN_CANDS);
    rank_req_free(&r);
    rank_gen_free(g);
    trie_free(t);
}

/* A mistyped word ("hotlse") is no known word: "hotlse in paris" is still
 * generated, but ranks after the typo matches (rank_cand.after) whatever
 * its score; a known one ranks in class 0. */
static void test_request_unknown_after_typos(void **state) {
    (void)state;
    trie *t = trie_new();
    assert_int_equal(trie_set(t, S("hotels in paris"), NULL, 0, 7, NULL), 0);
    assert_int_equal(trie_set(t, S("cheap hotels in rome"), NULL, 0, 3, NULL), 0);
    rank_gen *g;
    assert_int_equal(rank_gen_build(t, 100, RANK_GEN_DEFAULT_WORDS, &g, NULL), 0);
    rank_req r;
    assert_int_equal(rank_req_init(&r, NULL, NULL), 0);
    rank_req_session(&r, 0, NULL, 0, 1000);
    rank_req_set_gen(&r, g, 8);
    rank_match m = {10, 2, 0, 0, NULL, 0};
    rank_req_set_match(&r, &m);
    int n = rank_req_gather(&r, t, NULL, NULL, S("hotlse in p"), 50);
    assert_true(n >= 2);
    int typo = -1, gen = -1;
    for (int i = 0; i < n; i++) {
        if (r.cs.c[i].len == 15 && !memcmp(r.cs.c[i].q, "hotels in paris", 15)) typo = i;
        if (r.cs.c[i].len == 15 && !memcmp(r.cs.c[i].q, "hotlse in paris", 15)) gen = i;
    }
    assert_true(typo >= 0 && gen >= 0);
    assert_true(r.cs.c[typo].cls > RANK_CLS_EXACT && !r.cs.c[typo].after);
    assert_true(r.cs.c[gen].gen && r.cs.c[gen].after && r.cs.c[gen].cls == RANK_CLS_EXACT);
    r.cs.c[gen].score = 1e9; /* no score crosses it */
    r.cs.c[typo].score = -1e9;
    assert_true(rank_cand_before(&r.cs.c[typo], &r.cs.c[gen]));
    assert_false(rank_cand_before(&r.cs.c[gen], &r.cs.c[typo]));
    size_t k = rank_top(r.cs.c, (size_t)n, (size_t)n);
    assert_int_equal(k, (size_t)n);
    assert_true(r.cs.c[n - 1].after); /* last */
    /* the ones ranked last do not count against m.k: with k 1 the typo
     * match is still gathered */
    m.k = 1;
    rank_req_set_match(&r, &m);
    n = rank_req_gather(&r, t, NULL, NULL, S("hotlse in p"), 50);
    assert_true(r.nafter >= 1 && r.ntypo == 1);
    assert_int_equal(n, (int)r.nafter + 1);
    m.k = 10;
    rank_req_set_match(&r, &m);
    /* typed right: the generated text keeps known words and stays in class 0 */
    n = rank_req_gather(&r, t, NULL, NULL, S("cheap hotels in p"), 50);
    assert_int_equal(n, 2); /* and the typo match "cheap hotels in rome" */
    assert_memory_equal(r.cs.c[0].q, "cheap hotels in paris", 21);
    assert_true(r.cs.c[0].gen && !r.cs.c[0].after && r.cs.c[0].cls == RANK_CLS_EXACT);
    assert_true(r.cs.c[1].cls == rank_cls_edit(1, 0) && !r.cs.c[1].after);
    assert_true(rank_cand_before(&r.cs.c[0], &r.cs.c[1]));
    rank_req_free(&r);
    rank_gen_free(g);
    trie_free(t);
}

/* A build whose cancel flag is set stops with RANK_GEN_CANCELLED and makes
 * nothing (no leak: the sanitizer build checks). */
static void test_cancel(void **state) {
    (void)state;
    rng = 77;
    trie *t = trie_new();
    char key[TRIE_MAX_KEY];
    for (int i = 0; i < 300; i++) {
        size_t len = rand_key(key);
        assert_int_equal(trie_incr(t, key, len, NULL, 0, 1, NULL), 0);
    }
    rank_gen_keys *k;
    assert_int_equal(rank_gen_keys_copy(t, &k), 0);
    assert_true(rank_gen_keys_bytes(k) > 0);
    atomic_int cancel;
    atomic_init(&cancel, 1);
    rank_gen *gen = (rank_gen *)1;
    assert_int_equal(rank_gen_build_keys(k, 100, 100, &cancel, &gen, NULL), RANK_GEN_CANCELLED);
    assert_null(gen);
    atomic_store(&cancel, 0);
    assert_int_equal(rank_gen_build_keys(k, 100, 100, &cancel, &gen, NULL), 0);
    assert_non_null(gen);
    rank_gen_free(gen);
    assert_int_equal(rank_gen_build_keys(k, 0, 100, NULL, &gen, NULL), TRIE_EINVAL);
    assert_int_equal(rank_gen_build_keys(k, 100, RANK_GEN_MAX_WORDS + 1, NULL, &gen, NULL), TRIE_EINVAL);
    rank_gen_keys_free(k);
    trie_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_differential),
        cmocka_unit_test(test_complete_differential),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_sliced_copy_differential),
        cmocka_unit_test(test_keys_note_bound),
        cmocka_unit_test(test_request_path),
        cmocka_unit_test(test_request_unknown_after_typos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
