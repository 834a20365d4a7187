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

#include "ranking/embed.h"
#include "ranking/features.h"
#include "ranking/learned.h"

#define S(x) x, sizeof(x) - 1

static rank_lcand lc(const char *q, double g, uint32_t u, int64_t last, uint32_t trank, const float *vec) {
    return (rank_lcand){(rank_cand){q, (uint32_t)strlen(q), u, g, last, 0, 0, 0, 0, 0, 0, 0}, trank, vec};
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
    c[1].c.cls = rank_cls_edit(1, 0), c[1].c.edits = 1;
    c[2].c.cls = rank_cls_edit(2, 0), c[2].c.edits = 2;
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

/* --- differential: the features against brute force ---------------------- */

/* features.c's index of a feature alone (no cross): its numbers below are
 * features.c's enum; a renumbering shows here as a missing feature. */
static uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}
enum { RF_CLEN = 7, RF_WORDS = 9, RF_COSL = 17, RF_COSS = 19, RF_LOGG = 2, RF_GBIN = 3, RF_LOGU = 12, RF_RECENT = 14, RF_DBIN = 15, RF_TRI = 21, RF_WOV = 22 };
static uint32_t fidx(uint32_t fno, uint32_t bin) { return mix32(fno << 16 | (bin & 0xfff) << 4); }

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* words of 1-4 letters of "abc" (120 possible) and single spaces, or
 * (long) runs of letters and spaces, up to cap - 1 bytes */
static uint32_t rnd_text(char *out, uint32_t cap) {
    uint32_t n = 0, want = rnd(8) == 0 ? cap - 1 : rnd(40);
    while (n < want) {
        if (rnd(4) == 0) { /* any run: repeated trigrams, double spaces */
            out[n++] = "abc  "[rnd(5)];
            continue;
        }
        for (uint32_t k = 0, wl = 1 + rnd(4); k < wl && n < want; k++) out[n++] = "abc"[rnd(3)];
        if (n < want) out[n++] = ' ';
    }
    return n;
}

static uint32_t ref_tri(const char *s, size_t len, uint32_t *out) { /* first RANK_FEAT_MAX_TRI distinct */
    uint32_t n = 0;
    for (size_t i = 0; i < len && n < RANK_FEAT_MAX_TRI; i++) {
        uint32_t k = 0;
        for (size_t j = 0; j < 3; j++) {
            size_t b = i + j;
            k |= (uint32_t)(b == 0 ? '^' : b <= len ? (unsigned char)s[b - 1] : '$') << (8 * j);
        }
        int dup = 0;
        for (uint32_t j = 0; j < n && !dup; j++) dup = out[j] == k;
        if (!dup) out[n++] = k;
    }
    return n;
}

static size_t ref_words(const char *s, size_t len, const char **w, size_t *wl) { /* all, with repeats */
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ') i++;
        size_t st = i;
        while (i < len && s[i] != ' ') i++;
        if (i > st) w[n] = s + st, wl[n++] = i - st;
    }
    return n;
}

static int ref_in(const char *w, size_t wl, const char **v, const size_t *vl, size_t n) {
    for (size_t j = 0; j < n; j++)
        if (vl[j] == wl && !memcmp(v[j], w, wl)) return 1;
    return 0;
}

/* the heuristic as baseline.h writes it (distinct words, the first 64 of last) */
static double ref_heur(const rank_cand *c, int64_t now, const char *last, size_t lastlen) {
    double s = log1p(c->g) + 4.0 * log1p((double)c->u);
    if (c->u > 0) s += 3.0 * exp(-((double)(now - c->last) / 86400.0) / 7.0);
    if (!last) return s;
    const char *xw[600], *lw[600], *dw[600], *dl[600];
    size_t xl[600], ll[600], dxl[600], dll[600];
    size_t nx = ref_words(c->q, c->len, xw, xl), nl = ref_words(last, lastlen, lw, ll), ndx = 0, ndl = 0;
    for (size_t i = 0; i < nx; i++)
        if (!ref_in(xw[i], xl[i], dw, dxl, ndx) && ndx < 64) dw[ndx] = xw[i], dxl[ndx++] = xl[i];
    for (size_t i = 0; i < nl; i++)
        if (!ref_in(lw[i], ll[i], dl, dll, ndl) && ndl < 64) dl[ndl] = lw[i], dll[ndl++] = ll[i];
    size_t common = 0;
    for (size_t i = 0; i < ndx; i++) common += (size_t)ref_in(dw[i], dxl[i], dl, dll, ndl);
    if (ndx) s += 2.0 * (double)common / (double)ndx;
    if (c->len > lastlen && !memcmp(c->q, last, lastlen)) s += 1.5;
    return s;
}

static uint32_t ref_bin_log2(double v, uint32_t max) {
    uint32_t b = 0;
    while (v >= 1 && b < max) v /= 2, b++;
    return b;
}

/* Random candidates and last queries (repeated trigrams and words, texts
 * over RANK_FEAT_MAX_TRI trigrams, last queries over 64 distinct words,
 * prefixes of 0-7 bytes most candidates start with):
 * the code point and word count bins,
 * the trigram Jaccard, the word overlap, the popularity and recency values
 * and bins equal brute force, the heuristic (alone and as the learned base)
 * equals its formula, and rank_learned_score equals base + margin of
 * rank_features. */
static void test_features_match_brute_force(void **state) {
    (void)state;
    static char texts[16][600], last[600];
    static float vecs[18][RANK_EMB_MAX_DIMS];
    rank_ftrl_opts o;
    rank_ftrl_opts_default(&o);
    o.bits = 10;
    rank_ftrl *m = rank_ftrl_new(&o);
    assert_non_null(m);
    for (size_t i = 0; i <= m->mask; i++) m->w[i] = (float)rnd(2001) / 10000.0f - 0.1f;
    for (int round = 0; round < 400; round++) {
        rank_lcand c[16];
        int64_t now = 1000000;
        /* a prefix of 0-7 bytes that most candidates start with (the trigram
         * walk over it is shared), the others being any text */
        static char pfx[8];
        uint32_t pl = rnd(8);
        for (uint32_t j = 0; j < pl; j++) pfx[j] = "abc "[rnd(4)];
        if (pl >= 3 && rnd(2)) memcpy(pfx + pl - 3, "\xc3\xa9", 2); /* an e-acute: 2 bytes, 1 code point */
        for (int i = 0; i < 16; i++) {
            uint32_t with = rnd(4) ? pl : 0, cap = rnd(3) ? 48 : sizeof texts[i];
            memcpy(texts[i], pfx, with);
            uint32_t len = with + rnd_text(texts[i] + with, cap - with);
            uint32_t u = rnd(2) ? rnd(12) : 0;
            double g = rnd(4) ? (double)rnd(1u << rnd(30)) : 0;
            c[i] = lc("", g, u, now - (int64_t)rnd(40 * 86400) + 86400, (uint32_t)i + 1, NULL);
            c[i].c.q = texts[i], c[i].c.len = len;
        }
        uint32_t ll = rnd_text(last, rnd(2) ? 48 : sizeof last);
        rank_hsess sess[1] = {{last, ll, now - 60}};
        uint32_t dims = 1 + rnd(RANK_EMB_MAX_DIMS);
        for (int i = 0; i < 18; i++)
            for (uint32_t d = 0; d < dims; d++) vecs[i][d] = (float)rnd(2001) / 1000.0f - 1.0f;
        for (int i = 0; i < 16; i++) c[i].vec = rnd(4) ? vecs[i] : NULL;
        rank_fctx x = {.p = pfx, .plen = pl, .now = now, .dims = dims, .last = rnd(5) ? last : NULL, .lastlen = ll,
                       .last_vec = rnd(4) ? vecs[16] : NULL, .sess_vec = rnd(4) ? vecs[17] : NULL, .sess = sess,
                       .nsess = 1};
        if (!x.last) x.nsess = 0;
        rank_fctx_prepare(&x, c, 16);
        uint32_t pcp = 0; /* the prefix's code points, bucketed as features.h says: the cross of an index */
        for (uint32_t j = 0; j < pl; j++) pcp += ((unsigned char)pfx[j] & 0xC0) != 0x80;
        uint32_t xb = 1 + (pcp <= 5 ? (pcp ? pcp - 1 : 0) : pcp <= 8 ? 5 : 6);
        uint32_t lt[RANK_FEAT_MAX_TRI], ct[RANK_FEAT_MAX_TRI];
        uint32_t nlt = ref_tri(last, ll, lt);
        for (int i = 0; i < 16; i++) {
            const rank_cand *cc = &c[i].c;
            rank_feat f[RANK_FEAT_MAX];
            size_t k = rank_features(&x, &c[i], f);
            assert_true(has_feat(f, k, (rank_feat){fidx(RF_LOGG, 0), (float)(log1p(cc->g) / 10.0)}) || cc->g == 0);
            assert_true(has_feat(f, k, (rank_feat){fidx(RF_GBIN, ref_bin_log2(cc->g + 1, 24)), 1}));
            assert_true(has_feat(f, k, (rank_feat){mix32(RF_GBIN << 16 | ref_bin_log2(cc->g + 1, 24) << 4 | xb), 1}));
            {
                const char *w[600];
                size_t wl[600], nw = ref_words(cc->q, cc->len, w, wl);
                assert_true(has_feat(f, k, (rank_feat){fidx(RF_WORDS, nw > 6 ? 6 : (uint32_t)nw), 1}));
                uint32_t cp = 0;
                for (size_t j = 0; j < cc->len; j++) cp += ((unsigned char)cc->q[j] & 0xC0) != 0x80;
                assert_true(has_feat(f, k, (rank_feat){fidx(RF_CLEN, cp / 3 > 15 ? 15 : cp / 3), 1}));
            }
            if (cc->u) {
                double d = (double)(now - cc->last) / 86400.0;
                if (d < 0) d = 0;
                assert_true(has_feat(f, k, (rank_feat){fidx(RF_LOGU, 0), (float)log1p((double)cc->u) / 3.0f}));
                assert_true(has_feat(f, k, (rank_feat){fidx(RF_RECENT, 0), (float)exp(-d / 7.0)}));
                assert_true(has_feat(f, k, (rank_feat){fidx(RF_DBIN, ref_bin_log2(d * 24.0 + 1, 12)), 1}));
            }
            if (x.last && c[i].vec && x.last_vec)
                assert_true(has_feat(f, k, (rank_feat){fidx(RF_COSL, 0), rank_dot(c[i].vec, x.last_vec, dims)}));
            if (x.last && c[i].vec && x.sess_vec)
                assert_true(has_feat(f, k, (rank_feat){fidx(RF_COSS, 0), rank_dot(c[i].vec, x.sess_vec, dims)}));
            if (x.last) {
                uint32_t nct = ref_tri(cc->q, cc->len, ct), common = 0;
                for (uint32_t a = 0; a < nct; a++)
                    for (uint32_t b = 0; b < nlt; b++) common += ct[a] == lt[b];
                uint32_t uni = nct + nlt - common;
                float jac = uni ? (float)common / (float)uni : 0;
                const char *xw[600], *lw[600];
                size_t xl[600], lwl[600];
                size_t nx = ref_words(cc->q, cc->len, xw, xl), nl = ref_words(last, ll, lw, lwl), cw = 0;
                for (size_t a = 0; a < nx; a++) cw += (size_t)ref_in(xw[a], xl[a], lw, lwl, nl);
                float wov = nx ? (float)cw / (float)nx : 0;
                for (size_t j = 0; j < k; j++) { /* present with its value, or absent when 0 */
                    if (f[j].i == fidx(RF_TRI, 0)) assert_true(f[j].v == jac), jac = 0;
                    if (f[j].i == fidx(RF_WOV, 0)) assert_true(f[j].v == wov), wov = 0;
                }
                assert_true(jac == 0 && wov == 0);
            }
            double h = ref_heur(cc, now, x.last, ll);
            rank_cand t = *cc;
            rank_ctx hc = {now, x.last, ll};
            rank_score_heuristic(&t, 1, &hc);
            assert_true(t.score == h);
            assert_true(rank_learned_base(m, &x, &c[i]) == h);
            c[i].c.score = h + rank_ftrl_margin(m, f, k);
        }
        rank_lcand s[16];
        memcpy(s, c, sizeof s);
        rank_learned_score(m, &x, s, 16);
        for (int i = 0; i < 16; i++) assert_true(s[i].c.score == c[i].c.score);
    }
    rank_ftrl_free(m);
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
        cmocka_unit_test(test_features_match_brute_force),
        cmocka_unit_test(test_session_vec_and_merge),
        cmocka_unit_test(test_lcands_from_gather),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
