/* Targeted tests of trie/trie_words.c (infix top-k) and its search paths:
 * hand-made examples and edge cases (huge scores, long irregular keys, bad
 * input), the one-pass intersection and its block pairs, the prefix's
 * cursors, posting blocks, and the work limit on each path (the fuzzy last
 * word's too). The differential tests against brute force, under live
 * changes, are in tests/test_trie_words.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "trie/trie.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_words.h"
#include "trie/trie_words_internal.h"

#include "tests/rng.h"

/* Long lists of comparable length a block pair at a time: key i (score
 * 100000 - i, so rank i) holds "alpha" when i % 2 == 0, "beta" when i % 3
 * == 0, "eps" when i % 2 == 1, "gam" when i % 7 == 0, "zet" when i % 5 ==
 * 1, "tau" when i % 3 == 2, and "zz" when i is 5,000 or 17,777 (the
 * others' lists skewed: left to the key check, no block pairs). The best
 * k are the smallest i holding every typed word; with more than k of them
 * the pass hands on to the leapfrog once k are kept (a bound beaten),
 * with none it reads the lists whole; the same answer with the block
 * pairs off. */
static int blk_has(int i, const char *wd) {
    if (!strcmp(wd, "alpha")) return i % 2 == 0;
    if (!strcmp(wd, "beta")) return i % 3 == 0;
    if (!strcmp(wd, "eps")) return i % 2 == 1;
    if (!strcmp(wd, "gam")) return i % 7 == 0;
    if (!strcmp(wd, "zet")) return i % 5 == 1;
    if (!strcmp(wd, "tau")) return i % 3 == 2;
    return i == 5000 || i == 17777; /* zz */
}
static void test_isect_blocks(void **state) {
    (void)state;
    static const char *WD[] = {"alpha", "beta", "eps", "gam", "zet", "tau", "zz"};
    trie *t = trie_new();
    char k[128];
    const int N = 20000;
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof k, "k%05d", i);
        for (int j = 0; j < 7; j++)
            if (blk_has(i, WD[j])) n += snprintf(k + n, sizeof k - (size_t)n, " %s", WD[j]);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 100000 - i, NULL), 0);
    }
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    static const char *QS[][3] = {{"alpha", "beta", NULL}, {"eps", "alpha", NULL}, {"alpha", "beta", "gam"},
                                  {"tau", "zet", NULL},    {"zet", "eps", "tau"},  {"alpha", "zz", NULL},
                                  {"beta", "eps", "zz"},   {"gam", "zet", "eps"}};
    unsigned bl = trie_words__isect_block;
    for (int mode = 0; mode < 2; mode++) {
        trie_words__isect_block = mode ? 0 : UINT32_MAX;
        for (size_t qi = 0; qi < sizeof QS / sizeof QS[0]; qi++) {
            for (unsigned kk = 1; kk <= TRIE_MAX_K; kk += 49) {
                char q[64];
                int ql = 0, nw = QS[qi][2] ? 3 : 2;
                for (int j = 0; j < nw; j++) ql += snprintf(q + ql, sizeof q - (size_t)ql, "%s ", QS[qi][j]);
                trie_words_hit out[TRIE_MAX_K];
                int tr = -1;
                tw_work wk;
                int n = trie_words__topk(w, t, q, (size_t)ql, kk, out, &tr, &wk);
                assert_int_equal(tr, 0);
                /* (zz's list of two: the others are skewed, left to the key check) */
                assert_int_equal(wk.blocks, mode == 0 && !wk.skewed);
                assert_int_equal(wk.skewed, strcmp(QS[qi][1], "zz") == 0 || (nw > 2 && strcmp(QS[qi][2], "zz") == 0));
                int got = 0;
                for (int i = 0; i < N && got < (int)kk; i++) {
                    int all = 1;
                    for (int j = 0; j < nw; j++) all &= blk_has(i, QS[qi][j]);
                    if (!all) continue;
                    int kn = snprintf(k, sizeof k, "k%05d", i);
                    if (got >= n || out[got].hit.keylen < (size_t)kn || memcmp(out[got].hit.text, k, (size_t)kn))
                        fprintf(stderr, "'%s' k=%u mode %d: hit %d should be %s\n", q, kk, mode, got, k);
                    assert_true(got < n && out[got].hit.keylen >= (size_t)kn && !memcmp(out[got].hit.text, k, (size_t)kn));
                    got++;
                }
                assert_int_equal(n, got);
            }
        }
    }
    trie_words__isect_block = bl;
    trie_words_free(w);
    trie_free(t);
}

/* A prefix of 100 words: read as one list (100 cursors) with one complete
 * word, not with two (half as many cursors: TW_PCUR_WORDS); the same
 * answer either way, the best by score. */
static void test_pcur_many(void **state) {
    (void)state;
    trie *t = trie_new();
    char k[64];
    for (int i = 0; i < 3000; i++) { /* "alpha beta w<i % 100>" and fillers holding one of them */
        int n = snprintf(k, sizeof k, "alpha beta w%03d x%d", i % 100, i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, i, NULL), 0);
        n = snprintf(k, sizeof k, "f%d w%03d", i, i % 100);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 5000 + i, NULL), 0);
        n = snprintf(k, sizeof k, "alpha g%d", i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 9000 + i, NULL), 0);
    }
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    trie_words_hit out[10];
    int tr = -1;
    tw_work wk;
    const char *qs[] = {"alpha w", "beta alpha w"};
    for (int qi = 0; qi < 2; qi++) {
        int n = trie_words__topk(w, t, qs[qi], strlen(qs[qi]), 10, out, &tr, &wk);
        assert_int_equal(n, 10);
        assert_int_equal(tr, 0);
        assert_int_equal(wk.pcur, qi == 0);
        for (int i = 0; i < 10; i++) {
            int kn = snprintf(k, sizeof k, "alpha beta w%03d x%d", (2999 - i) % 100, 2999 - i);
            assert_int_equal(out[i].hit.keylen, kn);
            assert_memory_equal(out[i].hit.text, k, (size_t)kn);
        }
    }
    trie_words_free(w);
    trie_free(t);
}

/* Hand-made cases: the examples, repeats, prefix of two words. */
static void test_examples(void **state) {
    (void)state;
    trie *t = trie_new();
    const char *keys[] = {"new york", "new york times", "new york yankees", "york pa", "new new york",
                          "newark new jersey", "yankees", "café москва 東京"};
    double sc[] = {100, 50, 40, 30, 5, 7, 1, 2};
    for (size_t i = 0; i < 8; i++) assert_int_equal(trie_set(t, keys[i], strlen(keys[i]), NULL, 0, sc[i], NULL), 0);
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    trie_words_hit out[10];
    int n = trie_words_topk(w, t, "york", 4, 10, out, NULL);
    assert_int_equal(n, 5); /* york pa (class 0), then new york, new york times, ... */
    assert_memory_equal(out[0].hit.text, "york pa", 7);
    assert_int_equal(out[0].cls, 0);
    assert_int_equal(out[1].cls, 1);
    assert_memory_equal(out[1].hit.text, "new york", 8);
    assert_int_equal(out[1].range[0].off, 4);
    assert_int_equal(out[1].range[0].len, 4);
    n = trie_words_topk(w, t, "yankees ne", 10, 10, out, NULL);
    assert_int_equal(n, 1);
    assert_memory_equal(out[0].hit.text, "new york yankees", 16);
    assert_int_equal(out[0].range[0].off, 9);
    assert_int_equal(out[0].range[1].off, 0);
    n = trie_words_topk(w, t, "new new", 7, 10, out, NULL); /* two "new" words needed */
    assert_int_equal(n, 2);
    assert_memory_equal(out[0].hit.text, "new new york", 12);
    assert_memory_equal(out[1].hit.text, "newark new jersey", 17); /* "new" + prefix of newark */
    n = trie_words_topk(w, t, "new new ", 8, 10, out, NULL); /* trailing space: both complete */
    assert_int_equal(n, 1);
    n = trie_words_topk(w, t, "東京 ca", strlen("東京 ca"), 10, out, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].range[1].off, 0);
    trie_words_free(w);
    trie_free(t);
}

/* Each hit's text and display as trie_get_id gives them, for class 0, class
 * 1 and the last word with edits (the differential tests' keys have no
 * display form). Keys of 2-5 words of a small pool, half with a display
 * form of their own (some longer than the key); queries of two words, the
 * last cut to a prefix, then with one byte changed. */
static void hit_same(const trie *t, const trie_words_hit *o) {
    trie_hit g;
    assert_int_equal(trie_get_id(t, o->hit.id, &g), 1);
    assert_int_equal(o->hit.keylen, g.keylen);
    assert_memory_equal(o->hit.text, g.text, g.keylen);
    assert_int_equal(o->hit.displen, g.displen);
    assert_int_equal(o->hit.dispoff, g.dispoff);
    assert_memory_equal(trie_hit_display(&o->hit), trie_hit_display(&g), g.displen);
    assert_true(o->hit.score == g.score);
}

static void test_hit_display(void **state) {
    (void)state;
    static const char *pool[] = {"red", "green", "blue", "bluer", "cat", "cats", "dog", "house", "hose", "mouse"};
    rng_seed(4242);
    trie *t = trie_new();
    char key[64], disp[128], q[64];
    for (int i = 0; i < 400; i++) {
        size_t kl = 0;
        int nw = 2 + (int)rnd(4);
        for (int j = 0; j < nw; j++) {
            const char *wd = pool[rnd(10)];
            if (kl) key[kl++] = ' ';
            memcpy(key + kl, wd, strlen(wd));
            kl += strlen(wd);
        }
        size_t dl = 0;
        if (rnd(2)) {
            dl = (size_t)snprintf(disp, sizeof disp, "%.*s (display %d)%s", (int)kl, key, i, rnd(2) ? " and a long tail" : "");
            for (size_t j = 0; j < kl; j++)
                if (disp[j] >= 'a' && disp[j] <= 'z') disp[j] = (char)(disp[j] - 'a' + 'A');
        }
        assert_int_equal(trie_set(t, key, kl, dl ? disp : NULL, dl, (double)(1 + rnd(50)), NULL), 0);
    }
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    trie_words_hit out[10];
    unsigned long nd = 0, nc1 = 0, nfz = 0;
    for (int i = 0; i < 300; i++) {
        int a = (int)rnd(10), b = (int)rnd(10);
        size_t ql = (size_t)snprintf(q, sizeof q, "%s %.*s", pool[a], (int)(1 + rnd(strlen(pool[b]))), pool[b]);
        int n = trie_words_topk(w, t, q, ql, 10, out, NULL);
        assert_true(n >= 0);
        for (int j = 0; j < n; j++) {
            hit_same(t, &out[j]);
            nd += out[j].hit.dispoff != 0;
            nc1 += out[j].cls == 1;
        }
        q[rnd(ql)] = 'x'; /* an edit (or none, on a space) */
        n = trie_words_fuzzy_topk(w, t, q, ql, 1, 0, 10, out, NULL);
        assert_true(n >= 0);
        for (int j = 0; j < n; j++) hit_same(t, &out[j]);
        nfz += (unsigned long)n;
    }
    assert_true(nd > 100 && nc1 > 100 && nfz > 100); /* displays, class 1 and edit hits were compared */
    trie_words_free(w);
    trie_free(t);
}

/* Scores at the edge of double: the bounds round up to +inf (kept as
 * DBL_MAX in the dictionary); adds, rises and queries still work (the
 * stateful fuzzer found INCR to DBL_MAX failing the index). */
static void test_huge_scores(void **state) {
    (void)state;
    trie *t = trie_new();
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    uint32_t id;
    assert_int_equal(trie_set(t, "a b", 3, NULL, 0, 1, &id), 0);
    assert_int_equal(trie_words_add(w, id, "a b", 3, 1), 0);
    assert_int_equal(trie_set(t, "a b", 3, NULL, 0, DBL_MAX, NULL), 0);
    assert_int_equal(trie_words_score(w, t, id, "a b", 3, DBL_MAX), 0);
    assert_int_equal(trie_set(t, "c a", 3, NULL, 0, DBL_MAX, &id), 0);
    assert_int_equal(trie_words_add(w, id, "c a", 3, DBL_MAX), 0);
    assert_int_equal(trie_set(t, "a d", 3, NULL, 0, -DBL_MAX, &id), 0);
    assert_int_equal(trie_words_add(w, id, "a d", 3, -DBL_MAX), 0);
    char err[256];
    assert_int_equal(trie_words_check(w, t, err, sizeof err), 0);
    trie_words_hit out[4];
    assert_int_equal(trie_words_topk(w, t, "a", 1, 4, out, NULL), 3);
    assert_memory_equal(out[0].hit.text, "a b", 3);
    assert_memory_equal(out[1].hit.text, "a d", 3);
    assert_memory_equal(out[2].hit.text, "c a", 3);
    trie_words *w2;
    assert_int_equal(trie_words_build(t, &w2), 0);
    assert_int_equal(trie_words_check(w2, t, err, sizeof err), 0);
    assert_int_equal(trie_words_topk(w2, t, "a ", 2, 4, out, NULL), 3);
    trie_words_free(w2);
    trie_words_free(w);
    trie_free(t);
}

/* Keys whose spacing is not canonical (class decided on bytes) and typed
 * prefixes past the 8-byte word head (decided on the word's bytes). */
static void test_irregular_long(void **state) {
    (void)state;
    trie *t = trie_new();
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    const char *keys[] = {"york  new", " new york", "new  yorkshire", "international york",
                          "internationale york", "internat york"};
    for (int i = 0; i < 6; i++) {
        uint32_t id;
        size_t l = strlen(keys[i]);
        assert_int_equal(trie_set(t, keys[i], l, NULL, 0, 10 - i, &id), 0);
        assert_int_equal(trie_words_add(w, id, keys[i], l, 10 - i), 0);
    }
    char err[256];
    assert_int_equal(trie_words_check(w, t, err, sizeof err), 0);
    trie_words_hit out[10];
    /* class 1 for all three: "new yo" is a byte prefix of none of them */
    int n = trie_words_topk(w, t, "new yo", 6, 10, out, NULL);
    assert_int_equal(n, 3);
    assert_memory_equal(out[0].hit.text, "york  new", 9);
    assert_int_equal(out[0].cls, 1);
    assert_memory_equal(out[1].hit.text, " new york", 9);
    assert_int_equal(out[1].range[0].off, 1);
    assert_int_equal(out[1].range[1].off, 5);
    assert_memory_equal(out[2].hit.text, "new  yorkshire", 14);
    assert_int_equal(out[2].range[1].off, 5);
    /* 9- to 14-byte prefixes: the 8-byte heads agree, the bytes decide */
    n = trie_words_topk(w, t, "york internati", 14, 10, out, NULL);
    assert_int_equal(n, 2);
    assert_memory_equal(out[0].hit.text, "international york", 18);
    assert_memory_equal(out[1].hit.text, "internationale york", 19);
    n = trie_words_topk(w, t, "york internationa", 17, 10, out, NULL);
    assert_int_equal(n, 2);
    n = trie_words_topk(w, t, "york internationale", 19, 10, out, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].cls, 1);
    trie_words_free(w);
    trie_free(t);
}

static void test_bad_input(void **state) {
    (void)state;
    trie *t = trie_new();
    assert_int_equal(trie_set(t, "a b", 3, NULL, 0, 1, NULL), 0);
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    trie_words_hit out[4];
    int tr;
    assert_int_equal(trie_words_topk(w, t, "", 0, 4, out, &tr), 0);
    assert_int_equal(trie_words_topk(w, t, "    ", 4, 4, out, &tr), 0);
    assert_int_equal(trie_words_topk(w, t, "a", 1, 0, out, &tr), TRIE_EINVAL);
    assert_int_equal(trie_words_topk(w, t, "a", 1, TRIE_MAX_K + 1, out, &tr), TRIE_EINVAL);
    size_t big = 64 * 1024;
    char *s = malloc(2 * 10000 + big);
    memset(s, 'a', big);
    assert_int_equal(trie_words_topk(w, t, s, big, 4, out, &tr), TRIE_WORDS_ETOOLONG);
    for (int i = 0; i < 10000; i++) s[2 * i] = 'b', s[2 * i + 1] = ' ';
    assert_int_equal(trie_words_topk(w, t, s, 20000, 4, out, &tr), TRIE_WORDS_ETOOLONG);
    assert_int_equal(trie_words_topk(w, t, s, 2 * (TRIE_WORDS_MAX_TYPED + 1), 4, out, &tr),
                     TRIE_WORDS_ETOOMANY);
    tw_work wk;
    assert_int_equal(trie_words__topk(w, t, s, 2 * TRIE_WORDS_MAX_TYPED, 4, out, &tr, &wk), 0);
    assert_true(wk.units <= TRIE_WORDS_MAX_SCAN && wk.decoded <= wk.units);
    assert_string_equal(trie_words_strerror(TRIE_WORDS_ETOOMANY), "too many words (over TRIE_WORDS_MAX_TYPED)");
    /* index calls with bad arguments */
    assert_int_equal(trie_words_add(w, 0, "a b", 3, 1), TRIE_EINVAL); /* already indexed */
    assert_int_equal(trie_words_del(w, 77, "x", 1), TRIE_ENOTFOUND);
    assert_int_equal(trie_words_score(w, t, TRIE_WORDS_ANY_ID, "zz", 2, 3), TRIE_ENOTFOUND);
    free(s);
    trie_words_free(w);
    trie_free(t);
}

/* Keys "k<i> alpha" and "k<i> <b>" for i < n (ranks alternate: equal
 * scores within a pair, 10 + i % mod, 10 for all when mod is 0) and the
 * key `both` at -5, the only one holding alpha and b's words, and the
 * worst. */
static trie *alternating_trie(int n, int mod, const char *b, const char *both) {
    trie *t = trie_new();
    char k[64];
    for (int i = 0; i < n; i++) {
        double sc = mod ? 10 + i % mod : 10;
        int l = snprintf(k, sizeof k, "k%06d alpha", i);
        assert_int_equal(trie_set(t, k, (size_t)l, NULL, 0, sc, NULL), 0);
        l = snprintf(k, sizeof k, "k%06d %s", i, b);
        assert_int_equal(trie_set(t, k, (size_t)l, NULL, 0, sc, NULL), 0);
    }
    assert_int_equal(trie_set(t, both, strlen(both), NULL, 0, -5, NULL), 0);
    return t;
}

/* Two big words whose ranks alternate (keys "k<i> alpha", "k<i> beta" of
 * equal scores: ranks in key order) and meet only in the worst key: every
 * step of the intersection moves one rank, so the scan limit stops it, the
 * result says so, and what it returns is still a prefix of the answer. */
static void test_scan_limit(void **state) {
    (void)state;
    trie *t = alternating_trie(25000, 7, "beta gamma", "alpha beta");
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    trie_words_hit out[10];
    int tr = 0;
    tw_work wk;
    int n = trie_words__topk(w, t, "beta alpha", 10, 10, out, &tr, &wk);
    assert_true(wk.units <= TRIE_WORDS_MAX_SCAN + 16 && wk.decoded <= wk.units);
    assert_int_equal(tr, 1);
    assert_true(n == 0);
    /* both complete: their lists a block pair at a time (isect_blocks),
     * ~3,100 units, the common key found; a rank at a time (the
     * leapfrog), the limit */
    n = trie_words__topk(w, t, "beta alpha ", 11, 10, out, &tr, &wk);
    assert_int_equal(tr, 0);
    assert_int_equal(n, 1);
    assert_int_equal(wk.blocks, 1);
    assert_true(wk.units < 4000);
    unsigned bl = trie_words__isect_block;
    trie_words__isect_block = 0;
    n = trie_words__topk(w, t, "beta alpha ", 11, 10, out, &tr, &wk);
    trie_words__isect_block = bl;
    assert_int_equal(tr, 1);
    assert_int_equal(n, 0);
    assert_true(wk.units <= TRIE_WORDS_MAX_SCAN + 16);
    /* the index's limit (trie_words_set_max_scan, the server's
     * infix-max-scan): out of range refused, unchanged; raised, the same
     * request is answered whole; at the least, cut sooner */
    assert_int_equal(trie_words_max_scan(w), TRIE_WORDS_MAX_SCAN);
    assert_int_equal(trie_words_set_max_scan(w, TRIE_WORDS_SCAN_MIN - 1), TRIE_EINVAL);
    assert_int_equal(trie_words_set_max_scan(w, TRIE_WORDS_SCAN_MAX + 1), TRIE_EINVAL);
    assert_int_equal(trie_words_max_scan(w), TRIE_WORDS_MAX_SCAN);
    assert_int_equal(trie_words_set_max_scan(w, 200000), TRIE_OK);
    trie_words__isect_block = 0;
    n = trie_words__topk(w, t, "beta alpha ", 11, 10, out, &tr, &wk);
    assert_int_equal(tr, 0);
    assert_int_equal(n, 1);
    assert_true(wk.units > TRIE_WORDS_MAX_SCAN + 16);
    n = trie_words__topk(w, t, "beta alpha", 10, 10, out, &tr, &wk);
    assert_int_equal(tr, 0);
    assert_int_equal(n, 1);
    assert_int_equal(trie_words_set_max_scan(w, TRIE_WORDS_SCAN_MIN), TRIE_OK);
    n = trie_words__topk(w, t, "beta alpha ", 11, 10, out, &tr, &wk);
    trie_words__isect_block = bl;
    assert_int_equal(tr, 1);
    assert_int_equal(n, 0);
    assert_true(wk.units <= TRIE_WORDS_SCAN_MIN + 16);
    assert_int_equal(trie_words_set_max_scan(w, TRIE_WORDS_MAX_SCAN), TRIE_OK);
    /* a raised score brings it to the top: found before the limit */
    assert_int_equal(trie_set(t, "alpha beta", 10, NULL, 0, 1000, NULL), 0);
    assert_int_equal(trie_words_score(w, t, TRIE_WORDS_ANY_ID, "alpha beta", 10, 1000), 0);
    n = trie_words__topk(w, t, "beta al", 7, 1, out, &tr, &wk);
    assert_int_equal(n, 1);
    assert_int_equal(tr, 0);
    /* (one complete word and the prefix's cursors: the pass in rank order
     * handed the rest of beta's list to the best-first search, which finds
     * the raised key by its bound) */
    assert_int_equal(wk.pcur, 1);
    assert_int_equal(wk.handoff, 1);
    assert_true(wk.units <= TRIE_WORDS_MAX_SCAN + 16);
    trie_words_free(w);
    trie_free(t);
}

/* The work limit reached a block pair at a time: two lists of 180,000
 * ranks alternating (~22,500 block pairs) whose only common key is the
 * worst: truncated, the units within the limit (a unit a block pair). */
static void test_scan_limit_blocks(void **state) {
    (void)state;
    trie *t = alternating_trie(180000, 0, "beta", "alpha beta");
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    trie_words_hit out[10];
    int tr = 0;
    tw_work wk;
    int n = trie_words__topk(w, t, "beta alpha ", 11, 10, out, &tr, &wk);
    assert_int_equal(wk.blocks, 1);
    assert_true(wk.units <= TRIE_WORDS_MAX_SCAN + 16);
    assert_int_equal(tr, 1);
    assert_int_equal(n, 0);
    trie_words_free(w);
    trie_free(t);
}

/* The last word with edits under the work limit: a search that must read
 * a long list to prove its few matches stops with *truncated and the best
 * found (none: the only match is the worst key), and finds the match once
 * it is the best; a dictionary walk past the limit (the 5-letter words
 * within 2 edits of the complete word "abcde" when the first letter may
 * change too: every 3-letter path is alive) stops with nothing and
 * *truncated, and the same walk with the first letter exact finishes. */
static void test_fuzzy_scan_limit(void **state) {
    (void)state;
    trie *t = alternating_trie(25000, 7, "beta gamma", "alpha beta");
    char k[64];
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    trie_words_hit out[10];
    int tr = 0;
    assert_int_equal(trie_words_fuzzy_topk(w, t, "beta alpah", 10, 1, 0, 10, out, &tr), 0);
    assert_int_equal(tr, 1);
    assert_int_equal(trie_set(t, "alpha beta", 10, NULL, 0, 1000, NULL), 0);
    assert_int_equal(trie_words_score(w, t, TRIE_WORDS_ANY_ID, "alpha beta", 10, 1000), 0);
    assert_int_equal(trie_words_fuzzy_topk(w, t, "beta alpah", 10, 1, 0, 1, out, &tr), 1);
    assert_int_equal(tr, 0);
    assert_int_equal(out[0].edits, 1);
    assert_int_equal(out[0].range[1].off, 0);
    assert_int_equal(out[0].range[1].len, 4); /* "alph": the shortest prefix one edit away */
    trie_words_free(w);
    trie_free(t);
    t = trie_new();
    rng_seed(77);
    for (int i = 0; i < 40000; i++) {
        for (int j = 0; j < 5; j++) k[j] = (char)('a' + rnd(26));
        assert_int_equal(trie_set(t, k, 5, NULL, 0, (double)rnd(100), NULL), 0);
    }
    assert_int_equal(trie_words_build(t, &w), 0);
    tr = 0;
    assert_int_equal(trie_words_fuzzy_topk(w, t, "abcde ", 6, 2, TRIE_FUZZY_FIRST_ANY, 10, out, &tr), 0);
    assert_int_equal(tr, 1);
    int n = trie_words_fuzzy_topk(w, t, "abcde ", 6, 2, 0, 10, out, &tr);
    assert_true(n > 0);
    assert_int_equal(tr, 0);
    trie_words_free(w);
    trie_free(t);
}

/* The last word with edits, the class's list read as one with the two
 * complete words' (trie_words_fuzzy_topk's cursors): the pass, whose steps
 * would pass the work limit before the only match (the worst key), hands
 * the rest of the shortest complete list to the best-first search while
 * that search can still read it whole, so the match is found, untruncated,
 * as the search without the cursors finds it. */
static void test_fuzzy_cur_handoff(void **state) {
    (void)state;
    trie *t = alternating_trie(12000, 7, "beta gamma", "alpha beta gamma");
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    trie_words_hit out[10];
    for (int cur = 1; cur >= 0; cur--) {
        unsigned fw = trie_words__fzcur_words;
        if (!cur) trie_words__fzcur_words = 0;
        int tr = -1;
        tw_work wk;
        assert_int_equal(trie_words__fuzzy_topk(w, t, "gamma beta alpah", 16, 1, 0, 10, out, &tr, &wk), 1);
        trie_words__fzcur_words = fw;
        assert_int_equal(tr, 0);
        assert_int_equal(wk.pcur, cur);
        assert_int_equal(wk.handoff, cur);
        assert_true(wk.units < TRIE_WORDS_MAX_SCAN);
        assert_int_equal(out[0].hit.keylen, 16);
        assert_memory_equal(out[0].hit.text, "alpha beta gamma", 16);
        assert_int_equal(out[0].edits, 1);
    }
    trie_words_free(w);
    trie_free(t);
}

/* Two complete words whose lists are intersected in one pass (ranks in
 * runs: "alpha a<i>" before "beta b<i>" at equal scores): the only common
 * key, the worst of all, is found and nothing is truncated; the same after
 * live changes (an add that joins the lists, a delete, a raised score). */
static void test_isect(void **state) {
    (void)state;
    trie *t = trie_new();
    char k[64];
    for (int i = 0; i < 6000; i++) {
        int n = snprintf(k, sizeof k, "alpha a%d", i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 10 + i % 7, NULL), 0);
        n = snprintf(k, sizeof k, "beta b%d", i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 10 + i % 5, NULL), 0);
    }
    assert_int_equal(trie_set(t, "alpha beta", 10, NULL, 0, -5, NULL), 0);
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    trie_words_hit out[10];
    int tr = -1;
    tw_work wk;
    int n = trie_words__topk(w, t, "beta alpha ", 11, 10, out, &tr, &wk);
    assert_int_equal(tr, 0);
    assert_int_equal(n, 1);
    assert_memory_equal(out[0].hit.text, "alpha beta", 10);
    assert_true(wk.units <= 6001 + 4);
    assert_int_equal(trie_words_topk(w, t, "beta alpha b", 12, 10, out, &tr), 0); /* the prefix: no third word */
    assert_int_equal(tr, 0);
    trie_hit h;
    uint32_t id;
    assert_int_equal(trie_set(t, "beta x alpha", 12, NULL, 0, 3, &id), 0);
    assert_int_equal(trie_words_add(w, id, "beta x alpha", 12, 3), 0);
    assert_int_equal(trie_get(t, "alpha beta", 10, &h), 1);
    assert_int_equal(trie_set(t, "alpha beta", 10, NULL, 0, 50, NULL), 0);
    assert_int_equal(trie_words_score(w, t, h.id, "alpha beta", 10, 50), 0);
    n = trie_words_topk(w, t, "alpha beta x", 12, 10, out, &tr);
    assert_int_equal(n, 1);
    assert_memory_equal(out[0].hit.text, "beta x alpha", 12);
    n = trie_words_topk(w, t, "beta alpha ", 11, 10, out, &tr);
    assert_int_equal(n, 2);
    assert_memory_equal(out[0].hit.text, "alpha beta", 10); /* 50 */
    assert_memory_equal(out[1].hit.text, "beta x alpha", 12); /* 3 */
    assert_int_equal(trie_del(t, "alpha beta", 10), 0);
    assert_int_equal(trie_words_del(w, h.id, "alpha beta", 10), 0);
    n = trie_words_topk(w, t, "beta alpha ", 11, 10, out, &tr);
    assert_int_equal(n, 1);
    assert_memory_equal(out[0].hit.text, "beta x alpha", 12);
    assert_int_equal(tr, 0);
    trie_words_free(w);
    trie_free(t);
}

/* Work of a request: never past the limits (work units, not time), however
 * pathological the index: lists that never meet, long keys that all hold
 * the complete words but never the prefix (every key would be decoded),
 * lists mostly tombstones, a prefix shared by many dictionary words. */
#define UNITS_MAX (TRIE_WORDS_MAX_SCAN + 16 + TRIE_MAX_KEY + 4)
#define DECODED_MAX UNITS_MAX /* a decode follows an examined posting */
static void check_work(const trie_words *w, const trie *t, const char *q, unsigned k, int want_trunc) {
    trie_words_hit out[TRIE_MAX_K];
    int tr = -1;
    tw_work wk;
    int n = trie_words__topk(w, t, q, strlen(q), k, out, &tr, &wk);
    assert_true(n >= 0);
    if (wk.units > UNITS_MAX || wk.decoded > DECODED_MAX || (want_trunc >= 0 && tr != want_trunc))
        fprintf(stderr, "'%s': %u units, %u decoded, truncated %d\n", q, wk.units, wk.decoded, tr);
    assert_true(wk.units <= UNITS_MAX);
    assert_true(wk.decoded <= DECODED_MAX);
    if (want_trunc >= 0) assert_int_equal(tr, want_trunc);
}

static void test_work_bound(void **state) {
    (void)state;
    trie *t = trie_new();
    char k[TRIE_MAX_KEY];
    for (int i = 0; i < 30000; i++) {
        int n = snprintf(k, sizeof k, "alpha a%d", i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 10 + i % 7, NULL), 0);
        n = snprintf(k, sizeof k, "beta b%d", i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 10 + i % 5, NULL), 0);
        /* long keys holding "gamma" and "delta", never a word starting with "zz" */
        n = snprintf(k, sizeof k, "c%d gamma", i);
        for (int j = 0; j < 40; j++) n += snprintf(k + n, sizeof k - (size_t)n, " g%dx%d", j, i);
        n += snprintf(k + n, sizeof k - (size_t)n, " delta");
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 5 + i % 3, NULL), 0);
        n = snprintf(k, sizeof k, "tomb t%d", i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 100000 - i, NULL), 0);
        /* two lists whose ranks alternate (equal scores: key order) and never meet */
        n = snprintf(k, sizeof k, "p%05d left", i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 7, NULL), 0);
        n = snprintf(k, sizeof k, "p%05d right", i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 7, NULL), 0);
    }
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    /* the best 22,000 "tomb" keys deleted: a list 73% tombstones (not compacted) */
    for (int i = 0; i < 22000; i++) {
        int n = snprintf(k, sizeof k, "tomb t%d", i);
        trie_hit h;
        assert_int_equal(trie_get(t, k, (size_t)n, &h), 1);
        assert_int_equal(trie_del(t, k, (size_t)n), 0);
        assert_int_equal(trie_words_del(w, h.id, k, (size_t)n), 0);
    }
    /* one complete word and a prefix of one word: the lists are intersected
     * (a cursor for the prefix's words: trie_words_isect.c), ranks in runs:
     * a few steps show they never meet, where checking each of beta's ranks
     * (on the forward index, before) ran to the limit */
    check_work(w, t, "beta alpha", 10, 0);
    check_work(w, t, "beta alpha ", 10, 0); /* ranks in runs: a few steps show they never meet */
    /* (a block pair at a time: ~3,750 units show they never meet, where
     * the leapfrog, a rank at a time, ran to the limit) */
    check_work(w, t, "left right ", 10, 0);
    check_work(w, t, "right left ", TRIE_MAX_K, 0);
    check_work(w, t, "left right p", 10, 0); /* (p: too many words to seek: the same pass) */
    check_work(w, t, "alpha beta a", TRIE_MAX_K, 0); /* as "beta alpha " */
    check_work(w, t, "delta gamma b", 10, 1); /* many words start with "b" */
    check_work(w, t, "gamma a", TRIE_MAX_K, 1);
    check_work(w, t, "delta gamma zz", 10, 0); /* no word starts with "zz" */
    check_work(w, t, "gamma beta", TRIE_MAX_K, 0); /* few prefix words: intersected, as above */
    check_work(w, t, "delta g1 zz", TRIE_MAX_K, -1);
    check_work(w, t, "t", TRIE_MAX_K, -1);
    check_work(w, t, "tomb zz", TRIE_MAX_K, -1);
    check_work(w, t, "g", TRIE_MAX_K, -1);
    check_work(w, t, "g1", TRIE_MAX_K, -1);
    check_work(w, t, "b a", TRIE_MAX_K, -1);
    trie_words_free(w);
    trie_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_irregular_long),
        cmocka_unit_test(test_huge_scores),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_scan_limit),
        cmocka_unit_test(test_scan_limit_blocks),
        cmocka_unit_test(test_work_bound),
        cmocka_unit_test(test_isect),
        cmocka_unit_test(test_fuzzy_scan_limit),
        cmocka_unit_test(test_fuzzy_cur_handoff),
        cmocka_unit_test(test_isect_blocks),
        cmocka_unit_test(test_pcur_many),
        cmocka_unit_test(test_hit_display),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
