/* Tests for engine/guard.c: token buckets (burst, refill, the connection's
 * own), distinct-actor credit across windows, the learning budget, early
 * rotation when the pair set is full, actor eviction, bad options, and a
 * randomized run against a naive reference (exact sets, the same window
 * rules) over thousands of ACCEPTs. Time is stepped by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/guard.h"

#define S(x) x, sizeof(x) - 1

static guard *mk(uint64_t rate, uint64_t burst, uint64_t learn_max, uint64_t pairs, uint64_t actors) {
    guard_opts o;
    guard_opts_default(&o);
    o.window_s = 100;
    o.user_rate = rate;
    o.user_burst = burst;
    o.conn_rate = 0;
    o.learn_max = learn_max;
    o.learn_users = 1;
    o.pairs = pairs;
    o.actors = actors;
    char err[200];
    guard *g = guard_new(&o, err, sizeof err);
    assert_non_null(g);
    return g;
}

static guard_rc acc(guard *g, guard_bucket *b, const char *a, const char *q, int64_t ms, guard_verdict *v) {
    return guard_accept(g, b, a, strlen(a), q, strlen(q), ms, v);
}

static void test_bucket(void **state) {
    (void)state;
    guard *g = mk(2, 5, 100, 1000, 100);
    guard_verdict v;
    char q[16];
    for (int i = 0; i < 5; i++) { /* the burst */
        snprintf(q, sizeof q, "q%d", i);
        assert_int_equal(acc(g, NULL, "u1", q, 1000, &v), GUARD_OK);
    }
    assert_int_equal(acc(g, NULL, "u1", "q9", 1000, &v), GUARD_LIMIT_ACTOR);
    assert_int_equal(acc(g, NULL, "u2", "q9", 1000, &v), GUARD_OK); /* others are not affected */
    assert_int_equal(acc(g, NULL, "u1", "q9", 1499, &v), GUARD_LIMIT_ACTOR); /* 0.998 tokens */
    assert_int_equal(acc(g, NULL, "u1", "q9", 1500, &v), GUARD_OK);          /* 2/s: one after 500 ms */
    assert_int_equal(acc(g, NULL, "u1", "qa", 1500, &v), GUARD_LIMIT_ACTOR);
    assert_int_equal(acc(g, NULL, "u1", "qa", 100000, &v), GUARD_OK); /* refilled, capped at the burst */
    for (int i = 0; i < 4; i++) assert_int_equal(acc(g, NULL, "u1", "qa", 100000, &v), GUARD_OK);
    assert_int_equal(acc(g, NULL, "u1", "qa", 100000, &v), GUARD_LIMIT_ACTOR);
    guard_stat st;
    guard_stats(g, &st);
    assert_int_equal(st.limited_actor, 4);
    guard_free(g);

    /* the connection's bucket covers all its actors */
    guard_opts o;
    guard_opts_default(&o);
    o.user_rate = 0;
    o.conn_rate = 1;
    o.conn_burst = 3;
    char err[200];
    g = guard_new(&o, err, sizeof err);
    guard_bucket b1 = {0}, b2 = {0};
    assert_int_equal(acc(g, &b1, "a", "x", 0, &v), GUARD_OK);
    assert_int_equal(acc(g, &b1, "b", "x", 0, &v), GUARD_OK);
    assert_int_equal(acc(g, &b1, "c", "x", 0, &v), GUARD_OK);
    assert_int_equal(acc(g, &b1, "d", "x", 0, &v), GUARD_LIMIT_CONN);
    assert_int_equal(acc(g, &b2, "d", "x", 0, &v), GUARD_OK); /* another connection */
    assert_int_equal(acc(g, &b1, "d", "x", 1000, &v), GUARD_OK);
    guard_stats(g, &st);
    assert_int_equal(st.limited_conn, 1);
    guard_free(g);

    /* a refusal by one bucket spends no token of the other (found by fuzz_exec) */
    o.user_rate = 1;
    o.user_burst = 6;
    o.conn_rate = 1;
    o.conn_burst = 4;
    g = guard_new(&o, err, sizeof err);
    guard_bucket b3 = {0};
    for (int i = 0; i < 4; i++) assert_int_equal(acc(g, &b3, "u1", "x", 0, &v), GUARD_OK);
    assert_int_equal(acc(g, &b3, "u1", "x", 0, &v), GUARD_LIMIT_CONN);
    assert_int_equal(acc(g, &b3, "u1", "x", 0, &v), GUARD_LIMIT_CONN);
    guard_bucket b4 = {0}; /* another connection: u1 still has its 5th and 6th tokens */
    assert_int_equal(acc(g, &b4, "u1", "x", 0, &v), GUARD_OK);
    assert_int_equal(acc(g, &b4, "u1", "x", 0, &v), GUARD_OK);
    assert_int_equal(acc(g, &b4, "u1", "x", 0, &v), GUARD_LIMIT_ACTOR);
    guard_free(g);
}

static void test_credit_and_windows(void **state) {
    (void)state;
    guard *g = mk(0, 1, 100, 1000, 100); /* window 100 s */
    guard_verdict v;
    assert_int_equal(acc(g, NULL, "u1", "spam", 0, &v), GUARD_OK);
    assert_true(v.credit && v.learn);
    for (int i = 0; i < 1000; i++) { /* a flood of one pair: one credit, one lesson */
        assert_int_equal(acc(g, NULL, "u1", "spam", i, &v), GUARD_OK);
        assert_true(!v.credit && !v.learn);
    }
    assert_int_equal(acc(g, NULL, "u2", "spam", 1000, &v), GUARD_OK); /* another user counts */
    assert_true(v.credit && v.learn);
    assert_int_equal(acc(g, NULL, "u1", "spam", 99999, &v), GUARD_OK); /* same window */
    assert_false(v.credit);
    assert_int_equal(acc(g, NULL, "u1", "spam", 100000, &v), GUARD_OK); /* rotated: still in prev */
    assert_false(v.credit);
    assert_int_equal(acc(g, NULL, "u1", "spam", 200000, &v), GUARD_OK); /* two windows on: forgotten */
    assert_true(v.credit);
    guard_stat st;
    guard_stats(g, &st);
    assert_int_equal(st.credited, 3);
    assert_int_equal(st.repeats, 1002);
    assert_int_equal(st.rotations, 2);
    assert_int_equal(st.early_rotations, 0);
    guard_free(g);
}

static void test_learn_budget(void **state) {
    (void)state;
    guard *g = mk(0, 1, 3, 1000, 100);
    guard_verdict v;
    char q[16];
    for (int i = 0; i < 10; i++) {
        snprintf(q, sizeof q, "q%d", i);
        assert_int_equal(acc(g, NULL, "u1", q, 1000 + i, &v), GUARD_OK);
        assert_true(v.credit);
        assert_int_equal(v.learn, i < 3);
    }
    assert_int_equal(acc(g, NULL, "u2", "q0", 2000, &v), GUARD_OK);
    assert_true(v.learn); /* the budget is per actor */
    assert_int_equal(acc(g, NULL, "u1", "new", 100000, &v), GUARD_OK); /* next window: a new budget */
    assert_true(v.credit && v.learn);
    guard_stat st;
    guard_stats(g, &st);
    assert_int_equal(st.learn_capped, 7);
    guard_free(g);
    g = mk(0, 1, 0, 1000, 100); /* learn-max 0: never */
    assert_int_equal(acc(g, NULL, "u1", "x", 0, &v), GUARD_OK);
    assert_true(v.credit && !v.learn);
    guard_free(g);
}

/* A query teaches only once learn_users distinct actors accepted it: one
 * actor alone (however often) never moves the shared model. */
static void test_learn_users(void **state) {
    (void)state;
    guard_opts o;
    guard_opts_default(&o);
    o.user_rate = 0;
    o.learn_users = 3;
    char err[200], a[16];
    guard *g = guard_new(&o, err, sizeof err);
    assert_non_null(g);
    guard_verdict v;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(acc(g, NULL, "attacker", "spam", i, &v), GUARD_OK);
        assert_false(v.learn);
    }
    int learned = 0;
    for (int i = 0; i < 50; i++) { /* a trend */
        snprintf(a, sizeof a, "user%d", i);
        assert_int_equal(acc(g, NULL, a, "trend", 1000 + i, &v), GUARD_OK);
        assert_true(v.credit);
        assert_int_equal(v.learn, i >= 2);
        learned += v.learn;
    }
    assert_int_equal(learned, 48);
    assert_int_equal(acc(g, NULL, "attacker", "trend", 2000, &v), GUARD_OK); /* now it teaches */
    assert_true(v.learn);
    guard_stat st;
    guard_stats(g, &st);
    assert_int_equal(st.learn_waiting, 3);
    guard_free(g);
    o.learn_users = 0;
    assert_null(guard_new(&o, err, sizeof err));
}

static void test_bounds(void **state) {
    (void)state;
    guard *g = mk(0, 1, 100, 4, 4);
    guard_verdict v;
    char q[16], a[16];
    for (int i = 0; i < 100; i++) { /* more pairs than a generation holds: rotates early, never refuses */
        snprintf(q, sizeof q, "q%d", i);
        assert_int_equal(acc(g, NULL, "u1", q, 0, &v), GUARD_OK);
        assert_true(v.credit);
    }
    guard_stat st;
    guard_stats(g, &st);
    assert_true(st.early_rotations >= 100 / 4 - 1);
    uint64_t bytes = st.bytes;
    for (int i = 0; i < 1000; i++) { /* more actors than slots: evicted, memory unchanged */
        snprintf(a, sizeof a, "a%d", i);
        assert_int_equal(acc(g, NULL, a, "x", i, &v), GUARD_OK);
    }
    guard_stats(g, &st);
    assert_true(st.actor_evictions >= 1000 - 4);
    assert_int_equal(st.bytes, bytes);
    guard_free(g);

    guard_opts o;
    guard_opts_default(&o);
    char err[200];
    o.window_s = 0;
    assert_null(guard_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "accept guard"));
    guard_opts_default(&o);
    o.pairs = GUARD_MAX_PAIRS + 1ull;
    assert_null(guard_new(&o, err, sizeof err));
    guard_opts_default(&o);
    o.actors = 0;
    assert_null(guard_new(&o, err, sizeof err));
}

/* Random ACCEPTs of 6 actors x 8 queries with random time steps against a
 * reference with exact sets and the same rules (rotation when the window
 * has passed since the current generation started; repeats = in either
 * generation, and a repeat does not renew the pair, so a daily user
 * counts again each window or two; learning budget per actor per window
 * number, once the query has LUSERS actors over both generations). Capacities are
 * large, so no early rotation or eviction. */
static void test_against_reference(void **state) {
    (void)state;
    enum { NA = 6, NQ = 8, LMAX = 5, LUSERS = 2 };
    guard_opts o;
    guard_opts_default(&o);
    o.window_s = 100;
    o.user_rate = 0;
    o.learn_max = LMAX;
    o.learn_users = LUSERS;
    o.pairs = 1 << 12;
    o.actors = 1 << 10;
    char err[200];
    guard *g = guard_new(&o, err, sizeof err);
    assert_non_null(g);
    unsigned char cur[NA][NQ] = {{0}}, prev[NA][NQ] = {{0}};
    int64_t start = INT64_MIN, now = 0;
    uint64_t lwin[NA] = {0};
    unsigned ln[NA] = {0};
    srand(7);
    for (int step = 0; step < 20000; step++) {
        now += rand() % 3 == 0 ? rand() % 40000 : rand() % 50;
        int a = rand() % NA, q = rand() % NQ;
        char as[8], qs[8];
        snprintf(as, sizeof as, "a%d", a);
        snprintf(qs, sizeof qs, "q%d", q);
        guard_verdict v;
        assert_int_equal(acc(g, NULL, as, qs, now, &v), GUARD_OK);
        /* reference */
        if (start == INT64_MIN) start = now;
        else if (now - start >= 100000) {
            memcpy(prev, cur, sizeof cur);
            memset(cur, 0, sizeof cur);
            start = now;
        }
        int repeat = prev[a][q] || cur[a][q];
        if (!repeat) cur[a][q] = 1; /* a repeat does not renew: one credit per window or two */
        int learn = 0, users = 0;
        for (int k = 0; k < NA; k++) users += cur[k][q] + prev[k][q];
        if (!repeat && users >= LUSERS) {
            uint64_t w = (uint64_t)now / 100000;
            if (lwin[a] != w) lwin[a] = w, ln[a] = 0;
            if (ln[a] < LMAX) ln[a]++, learn = 1;
        }
        assert_int_equal(v.credit, !repeat);
        assert_int_equal(v.learn, learn);
    }
    guard_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_credit_and_windows),
        cmocka_unit_test(test_learn_budget),
        cmocka_unit_test(test_learn_users),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
