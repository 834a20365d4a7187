/* Tests for ranking/baseline: the three scorers against hand-computed
 * values, rank_top against a full sort (ties by text), and rank_gather's
 * union of the trie's top N and the user's history (dedup at the N-th
 * boundary, g of history-only candidates, users without history). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranking/baseline.h"
#include "ranking/history_mem.h"
#include "trie/trie.h"

#define S(x) x, sizeof(x) - 1

static rank_cand C(const char *q, double g, uint32_t u, int64_t last) {
    return (rank_cand){q, (uint32_t)strlen(q), u, g, last, 0, 0, 0, 0, 0, 0, 0};
}

static void test_mpc_personal_scores(void **state) {
    (void)state;
    rank_cand c[3] = {C("a", 9, 0, 0), C("b", 0, 3, 5), C("c", 99, 1, 5)};
    rank_score_mpc(c, 3);
    assert_true(c[0].score == 9 && c[1].score == 0 && c[2].score == 99);
    rank_score_personal(c, 3);
    assert_true(fabs(c[0].score - log(10.0)) < 1e-12);
    assert_true(fabs(c[1].score - 3 * log(4.0)) < 1e-12);
    assert_true(fabs(c[2].score - (log(100.0) + 3 * log(2.0))) < 1e-12);
}

static void test_heuristic_scores(void **state) {
    (void)state;
    int64_t now = 100 * 86400;
    rank_cand c[5] = {
        C("new york hotels", 9, 1, now - 7 * 86400), /* issued a week ago */
        C("new york", 9, 0, 0),                      /* = last: no extension bonus */
        C("york new york", 0, 0, 0),                 /* words {york, new}: 2/2 overlap */
        C("newark", 0, 0, 0),                        /* no word in common */
        C("new yorker", 3, 2, now),                  /* extends "new york", d = 0 */
    };
    rank_ctx ctx = {now, "new york", 8};
    rank_score_heuristic(c, 5, &ctx);
    double want0 = log(10.0) + 4 * log(2.0) + 3 * exp(-1.0) + 2.0 * 2 / 3 + 1.5;
    assert_true(fabs(c[0].score - want0) < 1e-12);
    assert_true(fabs(c[1].score - (log(10.0) + 2.0)) < 1e-12);
    assert_true(fabs(c[2].score - 2.0) < 1e-12);
    assert_true(fabs(c[3].score - 0.0) < 1e-12);
    double want4 = log(4.0) + 4 * log(3.0) + 3.0 + 2.0 * 1 / 2 + 1.5; /* {new, yorker}: 1 of 2 */
    assert_true(fabs(c[4].score - want4) < 1e-12);
    /* no session context: only popularity, own count and recency */
    rank_ctx none = {now, NULL, 0};
    rank_score_heuristic(c, 5, &none);
    assert_true(fabs(c[0].score - (log(10.0) + 4 * log(2.0) + 3 * exp(-1.0))) < 1e-12);
    assert_true(fabs(c[2].score) < 1e-12);
}

static int cmp_full(const void *a, const void *b) {
    const rank_cand *x = a, *y = b;
    if (rank_cand_before(x, y)) return -1;
    if (rank_cand_before(y, x)) return 1;
    return 0;
}

static void test_rank_top(void **state) {
    (void)state;
    /* ties by text, bytewise: "ab" < "b" < "ba" */
    rank_cand c[4] = {C("ba", 0, 0, 0), C("b", 0, 0, 0), C("x", 0, 0, 0), C("ab", 0, 0, 0)};
    c[0].score = c[1].score = c[3].score = 1;
    c[2].score = 2;
    assert_int_equal(rank_top(c, 4, 10), 4);
    assert_string_equal(c[0].q, "x");
    assert_string_equal(c[1].q, "ab");
    assert_string_equal(c[2].q, "b");
    assert_string_equal(c[3].q, "ba");
    assert_int_equal(rank_top(c, 4, 0), 0);
    assert_int_equal(rank_top(c, 0, 10), 0);
    /* differential against qsort, many sizes and k */
    static char names[300][8];
    rank_cand a[300], b[300];
    srand(3);
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(rand() % 300), k = (size_t)(rand() % 15);
        for (size_t i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "q%d", rand() % 50);
            a[i] = C(names[i], 0, 0, 0);
            a[i].score = rand() % 7;
        }
        memcpy(b, a, n * sizeof *a);
        qsort(b, n, sizeof *b, cmp_full);
        size_t m = rank_top(a, n, k);
        assert_int_equal(m, k < n ? k : n);
        for (size_t i = 0; i < m; i++) {
            assert_true(a[i].score == b[i].score);
            assert_string_equal(a[i].q, b[i].q);
        }
    }
}

static trie *make_trie(void) {
    trie *t = trie_new();
    assert_non_null(t);
    const char *k[] = {"new york", "newark", "news", "new jersey", "nest"};
    double s[] = {50, 20, 20, 10, 5};
    for (int i = 0; i < 5; i++) assert_int_equal(trie_set(t, k[i], strlen(k[i]), NULL, 0, s[i], NULL), 0);
    return t;
}

static const rank_cand *find(const rank_cands *cs, const char *q) {
    for (size_t i = 0; i < cs->n; i++)
        if (cs->c[i].len == strlen(q) && !memcmp(cs->c[i].q, q, cs->c[i].len)) return &cs->c[i];
    return NULL;
}

/* The match class is compared before the score: a typo or infix candidate
 * never moves above a candidate of a lower class, whatever its score. */
static void test_rank_top_classes(void **state) {
    (void)state;
    rank_cand c[5] = {C("e2", 100, 0, 0), C("x", 1, 0, 0), C("e1", 50, 0, 0), C("in", 70, 0, 0), C("y", 2, 0, 0)};
    c[0].cls = rank_cls_edit(2, 0), c[2].cls = rank_cls_edit(1, 0), c[3].cls = RANK_CLS_INFIX;
    for (int i = 0; i < 5; i++) c[i].score = c[i].g;
    assert_int_equal(rank_top(c, 5, 5), 5);
    const char *want[5] = {"y", "x", "in", "e1", "e2"};
    for (int i = 0; i < 5; i++) assert_memory_equal(c[i].q, want[i], c[i].len);
    assert_true(rank_cand_before(&c[1], &c[2]) && !rank_cand_before(&c[4], &c[3]));
}

static void test_gather(void **state) {
    (void)state;
    trie *t = make_trie();
    rank_history *h = rank_history_new(NULL);
    assert_int_equal(rank_history_accept(h, S("u"), S("news"), 100), 0);       /* in the top 2 (ties by key) */
    assert_int_equal(rank_history_accept(h, S("u"), S("news"), 200), 0);
    assert_int_equal(rank_history_accept(h, S("u"), S("new jersey"), 300), 0); /* in trie, outside top 2 */
    assert_int_equal(rank_history_accept(h, S("u"), S("new mexico"), 400), 0); /* not in trie */
    assert_int_equal(rank_history_accept(h, S("u"), S("apple"), 400), 0);      /* prefix does not match */
    const rank_huser *u = rank_history_user(h, S("u"));
    rank_cands cs;
    rank_cands_init(&cs);
    /* top 2 for "new": new york (50), then newark/news tie at 20 -> newark */
    assert_int_equal(rank_gather(&cs, t, u, S("new"), 2, RANK_MAX_HIST_CANDS), 5);
    const rank_cand *c = find(&cs, "new york");
    assert_true(c && c->g == 50 && c->u == 0);
    c = find(&cs, "newark");
    assert_true(c && c->g == 20 && c->u == 0);
    c = find(&cs, "news");
    assert_true(c && c->g == 20 && c->u == 2 && c->last == 200);
    c = find(&cs, "new jersey");
    assert_true(c && c->g == 10 && c->u == 1 && c->last == 300);
    c = find(&cs, "new mexico");
    assert_true(c && c->g == 0 && c->u == 1);
    assert_null(find(&cs, "apple"));
    /* top 3 now holds news: it must not appear twice */
    assert_int_equal(rank_gather(&cs, t, u, S("new"), 3, RANK_MAX_HIST_CANDS), 5);
    c = find(&cs, "news");
    assert_true(c && c->u == 2);
    int seen = 0;
    for (size_t i = 0; i < cs.n; i++) seen += cs.c[i].len == 4 && !memcmp(cs.c[i].q, "news", 4);
    assert_int_equal(seen, 1);
    /* fewer matches than N: every trie match is in, history adds only new mexico */
    assert_int_equal(rank_gather(&cs, t, u, S("new"), 100, RANK_MAX_HIST_CANDS), 5);
    /* no user: the trie's top N only */
    assert_int_equal(rank_gather(&cs, t, NULL, S("ne"), 100, RANK_MAX_HIST_CANDS), 5);
    assert_int_equal(rank_gather(&cs, t, NULL, S("zzz"), 100, RANK_MAX_HIST_CANDS), 0);
    assert_int_equal(rank_gather(&cs, t, u, S("new"), 0, RANK_MAX_HIST_CANDS), RANK_BASE_EINVAL);
    assert_int_equal(rank_gather(&cs, t, u, S("new"), TRIE_MAX_K + 1, RANK_MAX_HIST_CANDS), RANK_BASE_EINVAL);
    /* personal end to end: news (g 20, u 2) beats new york (g 50, u 0) */
    assert_int_equal(rank_gather(&cs, t, u, S("new"), 100, RANK_MAX_HIST_CANDS), 5);
    rank_score_personal(cs.c, cs.n);
    assert_int_equal(rank_top(cs.c, cs.n, 2), 2);
    assert_memory_equal(cs.c[0].q, "news", 4);
    assert_memory_equal(cs.c[1].q, "new jersey", 10); /* ln 11 + 3 ln 2 > ln 51 */
    rank_cands_free(&cs);
    rank_history_free(h);
    trie_free(t);
}

/* A user whose history holds far more matching queries than a request may
 * score (the crash of a 1,200-query history): the gather keeps exactly
 * max_hist history-only candidates, the best by (u desc, last desc, text
 * asc) as a brute-force sort of all of them says, plus the trie's top. */
static int by_hist(const void *pa, const void *pb) {
    const rank_cand *a = pa, *b = pb;
    if (a->u != b->u) return a->u > b->u ? -1 : 1;
    if (a->last != b->last) return a->last > b->last ? -1 : 1;
    size_t m = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->q, b->q, m);
    return r ? r : (a->len > b->len) - (a->len < b->len);
}

static void test_gather_caps_history(void **state) {
    (void)state;
    trie *t = make_trie();
    rank_history_opts ho;
    rank_history_opts_default(&ho);
    ho.max_queries = 0; /* unlimited: the store may hold more than any buffer */
    rank_history *h = rank_history_new(&ho);
    char q[64];
    srand(12);
    for (int i = 0; i < 1200; i++) {
        snprintf(q, sizeof q, "new hist %05d", i);
        int times = 1 + rand() % 4;
        for (int k = 0; k < times; k++)
            assert_int_equal(rank_history_accept(h, S("u"), q, strlen(q), 1000 + rand() % 50), 0);
    }
    const rank_huser *u = rank_history_user(h, S("u"));
    rank_cands all, cut;
    rank_cands_init(&all);
    rank_cands_init(&cut);
    int na = rank_gather(&all, t, u, S("new"), 3, 100000);
    assert_int_equal(na, 3 + 1200);
    int nc = rank_gather(&cut, t, u, S("new"), 3, RANK_MAX_HIST_CANDS);
    assert_int_equal(nc, 3 + RANK_MAX_HIST_CANDS);
    for (int i = 0; i < 3; i++) { /* the trie part is unchanged */
        assert_int_equal(all.c[i].len, cut.c[i].len);
        assert_memory_equal(all.c[i].q, cut.c[i].q, cut.c[i].len);
        assert_true(all.c[i].g == cut.c[i].g && all.c[i].u == cut.c[i].u);
    }
    qsort(all.c + 3, (size_t)na - 3, sizeof *all.c, by_hist);
    for (int i = 3; i < nc; i++) {
        assert_int_equal(all.c[i].len, cut.c[i].len);
        assert_memory_equal(all.c[i].q, cut.c[i].q, cut.c[i].len);
        assert_int_equal(all.c[i].u, cut.c[i].u);
    }
    /* max_hist 0: the trie's top only */
    assert_int_equal(rank_gather(&cut, t, u, S("new"), 3, 0), 3);
    rank_cands_free(&all);
    rank_cands_free(&cut);
    rank_history_free(h);
    trie_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpc_personal_scores),
        cmocka_unit_test(test_heuristic_scores),
        cmocka_unit_test(test_rank_top),
        cmocka_unit_test(test_rank_top_classes),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_gather_caps_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
