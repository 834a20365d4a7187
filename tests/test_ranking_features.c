/* Tests for ranking/features: each signal shows up when (and only when) its
 * condition holds, values are finite and in range, crosses differ by prefix
 * bucket, session vector decay, rank_feat_merge, and rank_lcands_from's
 * trie ranks. Feature presence is checked by comparing vectors that differ
 * in one input, so the test does not depend on hash values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "ranking/features.h"
#include "ranking/learned.h"

#define S(x) x, sizeof(x) - 1

static rank_lcand lc(const char *q, double g, uint32_t u, int64_t last, uint32_t trank, const float *vec) {
    return (rank_lcand){(rank_cand){q, (uint32_t)strlen(q), u, g, last, 0, 0, 0, 0, 0, 0}, trank, vec};
}

static size_t feats(rank_fctx *x, rank_lcand *c, size_t n, size_t i, rank_feat *out) {
    rank_fctx_prepare(x, c, n);
    size_t k = rank_features(x, &c[i], out);
    assert_true(k <= RANK_FEAT_MAX);
    for (size_t j = 0; j < k; j++) assert_true(isfinite(out[j].v) && fabsf(out[j].v) <= 3.0f);
    return k;
}

/* number of indexes in a not in b */
static size_t diff(const rank_feat *a, size_t na, const rank_feat *b, size_t nb) {
    size_t d = 0;
    for (size_t i = 0; i < na; i++) {
        int found = 0;
        for (size_t j = 0; j < nb && !found; j++) found = a[i].i == b[j].i;
        d += !found;
    }
    return d;
}

static void test_user_and_session_signals(void **state) {
    (void)state;
    float va[4] = {1, 0, 0, 0}, vb[4] = {0.6f, 0.8f, 0, 0};
    rank_lcand c[2] = {lc("new york hotels", 100, 0, 0, 1, va), lc("new york times", 50, 0, 0, 2, vb)};
    rank_fctx x;
    memset(&x, 0, sizeof x);
    x.p = "new y";
    x.plen = 5;
    x.now = 100000;
    x.dims = 4;
    rank_feat f0[RANK_FEAT_MAX], f1[RANK_FEAT_MAX];
    size_t n0 = feats(&x, c, 2, 0, f0);
    /* user history adds features (count, recency) */
    c[0].c.u = 3;
    c[0].c.last = 100000 - 86400;
    size_t n1 = feats(&x, c, 2, 0, f1);
    assert_true(n1 > n0);
    assert_true(diff(f1, n1, f0, n0) >= 4);
    c[0].c.u = 0;
    /* a session adds cosine, trigram, word-overlap and extends features */
    rank_hsess sess[1] = {{"new york", 8, 99000}};
    x.last = "new york";
    x.lastlen = 8;
    x.last_vec = vb;
    x.sess = sess;
    x.nsess = 1;
    size_t n2 = feats(&x, c, 2, 0, f1);
    assert_true(diff(f1, n2, f0, n0) >= 8);
    /* the cosine value is there: 0.6 */
    int saw = 0;
    for (size_t j = 0; j < n2; j++) saw |= fabsf(f1[j].v - 0.6f) < 1e-6f;
    assert_true(saw);
    /* same prefix bucket -> same crosses; another bucket -> different */
    x.last = NULL;
    x.nsess = 0;
    x.last_vec = NULL;
    x.p = "new yo"; /* 6 code points: bucket 6-8, was 5 */
    x.plen = 6;
    size_t n3 = feats(&x, c, 2, 0, f1);
    assert_true(diff(f1, n3, f0, n0) > 0);
    x.p = "new y";
    x.plen = 5;
    size_t n4 = feats(&x, c, 2, 0, f1);
    assert_int_equal(diff(f1, n4, f0, n0), 0);
}

static int has_feat(const rank_feat *f, size_t n, rank_feat x) {
    for (size_t i = 0; i < n; i++)
        if (f[i].i == x.i && f[i].v == x.v) return 1;
    return 0;
}

/* Match features fire only for typo / infix candidates, so a model trained
 * before them scores every exact candidate as before; edits and words
 * matched change the vector. */
static void test_match_features(void **state) {
    (void)state;
    rank_fctx x = {.p = "new", .plen = 3, .now = 1000};
    rank_lcand c[4] = {lc("new york", 10, 0, 0, 1, NULL), lc("new york", 10, 0, 0, 1, NULL),
                       lc("new york", 10, 0, 0, 1, NULL), lc("new york", 10, 0, 0, 1, NULL)};
    c[1].c.cls = RANK_CLS_EDIT0 + 1, c[1].c.edits = 1;
    c[2].c.cls = RANK_CLS_EDIT0 + 2, c[2].c.edits = 2;
    c[3].c.cls = RANK_CLS_INFIX, c[3].c.words = 1;
    rank_feat f[4][RANK_FEAT_MAX];
    size_t k[4];
    for (size_t i = 0; i < 4; i++) k[i] = feats(&x, c, 4, i, f[i]);
    for (size_t i = 1; i < 4; i++) { /* the exact one's features, and more */
        assert_true(k[i] > k[0]);
        for (size_t j = 0; j < k[0]; j++) assert_true(has_feat(f[i], k[i], f[0][j]));
    }
    size_t same12 = 0, same13 = 0;
    for (size_t j = 0; j < k[1]; j++) same12 += has_feat(f[2], k[2], f[1][j]), same13 += has_feat(f[3], k[3], f[1][j]);
    assert_true(same12 < k[1]); /* edits differ */
    assert_true(same13 < k[1]); /* typo vs infix */
    /* matches leave the completion's features alone (popularity share, max) */
    for (size_t i = 1; i < 4; i++) c[i].c.g = 1000;
    rank_feat g[RANK_FEAT_MAX];
    assert_int_equal(feats(&x, c, 4, 0, g), k[0]);
    assert_memory_equal(g, f[0], k[0] * sizeof *g);
}

static void test_session_vec_and_merge(void **state) {
    (void)state;
    float a[2] = {1, 0}, b[2] = {0, 1}, out[2];
    const float *v[3] = {a, b, NULL};
    int64_t t[3] = {1000, 1000 - 6000, 0};
    assert_int_equal(rank_session_vec(2, v, t, 3, 1000, RANK_SESS_TAU, out), 1);
    assert_true(out[0] > 0.99f && out[1] > 0 && out[1] < 0.01f); /* old one decayed */
    const float *none[1] = {NULL};
    assert_int_equal(rank_session_vec(2, none, t, 1, 1000, RANK_SESS_TAU, out), 0);
    assert_true(out[0] == 0 && out[1] == 0);
    rank_feat f[5] = {{7, 1}, {3, 2}, {7, -1}, {3, 1}, {9, 0.5f}};
    size_t n = rank_feat_merge(f, 5);
    assert_int_equal(n, 2); /* 7 cancels */
    assert_int_equal(f[0].i, 3);
    assert_true(f[0].v == 3);
    assert_int_equal(f[1].i, 9);
}

static void test_lcands_from_gather(void **state) {
    (void)state;
    trie *t = trie_new();
    assert_int_equal(trie_set(t, S("apple"), NULL, 0, 10, NULL), 0);
    assert_int_equal(trie_set(t, S("apricot"), NULL, 0, 5, NULL), 0);
    assert_int_equal(trie_set(t, S("avocado"), NULL, 0, 1, NULL), 0);
    rank_history *h = rank_history_new(NULL);
    assert_int_equal(rank_history_accept(h, S("u"), S("apex"), 10), 0);
    assert_int_equal(rank_history_accept(h, S("u"), S("avocado"), 10), 0);
    const rank_huser *u = rank_history_user(h, S("u"));
    rank_cands cs;
    rank_cands_init(&cs);
    int n = rank_gather(&cs, t, u, S("ap"), 50, RANK_MAX_HIST_CANDS);
    assert_int_equal(n, 3);
    rank_lcand c[3];
    assert_int_equal(rank_lcands_from(c, sizeof c / sizeof c[0], &cs), 3);
    assert_int_equal(c[0].trank, 1);
    assert_int_equal(c[1].trank, 2);
    assert_int_equal(c[2].trank, 0); /* "apex": history only */
    assert_true(c[2].c.u == 1 && c[2].c.g == 0);
    /* a history query in the trie but outside the top 1 keeps its g */
    n = rank_gather(&cs, t, u, S("a"), 1, RANK_MAX_HIST_CANDS);
    assert_int_equal(n, 3);
    assert_int_equal(rank_lcands_from(c, sizeof c / sizeof c[0], &cs), 3);
    assert_int_equal(c[0].trank, 1);
    assert_int_equal(c[1].trank + c[2].trank, 0);
    rank_cands_free(&cs);
    rank_history_free(h);
    trie_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_and_session_signals),
        cmocka_unit_test(test_match_features),
        cmocka_unit_test(test_session_vec_and_merge),
        cmocka_unit_test(test_lcands_from_gather),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
