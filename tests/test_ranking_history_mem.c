/* Tests for ranking/history: counts and last times, prefix matches,
 * sessions and their gap, bounds (entry and user eviction), bad input,
 * allocation failure leaving the history unchanged, and a differential run
 * against a trivially correct model (arrays scanned linearly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "ranking/history_mem.h"

#define S(x) x, sizeof(x) - 1

static const rank_huser *U(const rank_history *h, const char *id) {
    return rank_history_user(h, id, strlen(id));
}
static const rank_hentry *E(const rank_huser *u, const char *q) { return rank_huser_get(u, q, strlen(q)); }

static void test_counts_and_last(void **state) {
    (void)state;
    rank_history *h = rank_history_new(NULL);
    assert_non_null(h);
    assert_null(U(h, "1"));
    assert_int_equal(rank_history_accept(h, S("1"), S("new york"), 100), 0);
    assert_int_equal(rank_history_accept(h, S("1"), S("new york"), 200), 0);
    assert_int_equal(rank_history_accept(h, S("1"), S("newark"), 150), 0);
    assert_int_equal(rank_history_accept(h, S("2"), S("new york"), 50), 0);
    const rank_huser *u = U(h, "1");
    assert_non_null(u);
    assert_int_equal(rank_huser_size(u), 2);
    assert_int_equal(E(u, "new york")->count, 2);
    assert_true(E(u, "new york")->last == 200);
    assert_int_equal(E(u, "newark")->count, 1);
    assert_null(E(u, "new"));
    assert_null(E(u, "new yorkk"));
    assert_true(rank_huser_last_time(u) == 200);
    /* out of order: count grows, last stays the max */
    assert_int_equal(rank_history_accept(h, S("1"), S("new york"), 10), 0);
    assert_int_equal(E(U(h, "1"), "new york")->count, 3);
    assert_true(E(U(h, "1"), "new york")->last == 200);
    assert_int_equal(E(U(h, "2"), "new york")->count, 1);
    rank_history_stat st;
    rank_history_stats(h, &st);
    assert_true(st.users == 2 && st.entries == 3 && st.accepts == 5);
    assert_true(st.bytes > 0);
    rank_history_free(h);
}

static void test_prefix(void **state) {
    (void)state;
    rank_history *h = rank_history_new(NULL);
    const char *qs[] = {"new york", "newark", "news", "ne", "apple", "new"};
    for (size_t i = 0; i < 6; i++) assert_int_equal(rank_history_accept(h, S("u"), qs[i], strlen(qs[i]), 1), 0);
    const rank_huser *u = U(h, "u");
    const rank_hentry *out[8];
    assert_int_equal(rank_huser_prefix(u, S("new"), out, 8), 4);
    assert_int_equal(rank_huser_prefix(u, S("new "), out, 8), 1);
    assert_memory_equal(out[0]->q, "new york", 8);
    assert_int_equal(rank_huser_prefix(u, S("x"), out, 8), 0);
    assert_int_equal(rank_huser_prefix(u, "", 0, out, 8), 6);
    /* cap smaller than the matches: total reported, cap written */
    out[1] = NULL;
    assert_int_equal(rank_huser_prefix(u, S("ne"), out, 1), 5);
    assert_null(out[1]);
    assert_int_equal(rank_huser_prefix(NULL, S("ne"), out, 8), 0);
    rank_history_free(h);
}

static void test_session(void **state) {
    (void)state;
    rank_history_opts o;
    rank_history_opts_default(&o);
    o.session_len = 3;
    rank_history *h = rank_history_new(&o);
    rank_hsess s[8];
    assert_int_equal(rank_history_accept(h, S("u"), S("a"), 1000), 0);
    assert_int_equal(rank_history_accept(h, S("u"), S("b"), 1000 + 1799), 0); /* gap under 1800: same */
    const rank_huser *u = U(h, "u");
    assert_int_equal(rank_huser_session(h, u, 2799, s, 8), 2);
    assert_memory_equal(s[0].q, "b", 1);
    assert_memory_equal(s[1].q, "a", 1);
    assert_true(s[0].t == 2799);
    /* seen from later: the session has ended exactly at the gap */
    assert_int_equal(rank_huser_session(h, u, 2799 + 1799, s, 8), 2);
    assert_int_equal(rank_huser_session(h, u, 2799 + 1800, s, 8), 0);
    /* seen from the past: later accepts are skipped */
    assert_int_equal(rank_huser_session(h, u, 1500, s, 8), 1);
    assert_memory_equal(s[0].q, "a", 1);
    /* a gap of exactly 1800 starts a new session */
    assert_int_equal(rank_history_accept(h, S("u"), S("c"), 2799 + 1800), 0);
    assert_int_equal(rank_huser_session(h, U(h, "u"), 4599, s, 8), 1);
    assert_memory_equal(s[0].q, "c", 1);
    /* the ring keeps the last session_len, repeats included */
    assert_int_equal(rank_history_accept(h, S("u"), S("d"), 4600), 0);
    assert_int_equal(rank_history_accept(h, S("u"), S("c"), 4601), 0);
    assert_int_equal(rank_history_accept(h, S("u"), S("e"), 4602), 0);
    assert_int_equal(rank_huser_session(h, U(h, "u"), 4602, s, 8), 3);
    assert_memory_equal(s[0].q, "e", 1);
    assert_memory_equal(s[1].q, "c", 1);
    assert_memory_equal(s[2].q, "d", 1);
    assert_int_equal(rank_huser_session(h, U(h, "u"), 4602, s, 1), 1);
    assert_int_equal(rank_huser_session(h, NULL, 4602, s, 8), 0);
    rank_history_free(h);
}

static void test_entry_bound(void **state) {
    (void)state;
    rank_history_opts o;
    rank_history_opts_default(&o);
    o.max_queries = 3;
    rank_history *h = rank_history_new(&o);
    assert_int_equal(rank_history_accept(h, S("u"), S("a"), 10), 0);
    assert_int_equal(rank_history_accept(h, S("u"), S("b"), 5), 0);
    assert_int_equal(rank_history_accept(h, S("u"), S("c"), 20), 0);
    assert_int_equal(rank_history_accept(h, S("u"), S("a"), 30), 0); /* repeat: no eviction */
    assert_int_equal(rank_huser_size(U(h, "u")), 3);
    assert_int_equal(rank_history_accept(h, S("u"), S("d"), 40), 0); /* evicts b (last 5) */
    const rank_huser *u = U(h, "u");
    assert_int_equal(rank_huser_size(u), 3);
    assert_null(E(u, "b"));
    assert_int_equal(E(u, "a")->count, 2);
    assert_non_null(E(u, "c"));
    assert_non_null(E(u, "d"));
    assert_int_equal(rank_history_accept(h, S("u"), S("e"), 50), 0); /* evicts c (last 20) */
    u = U(h, "u");
    assert_null(E(u, "c"));
    assert_non_null(E(u, "a"));
    rank_history_stat st;
    rank_history_stats(h, &st);
    assert_true(st.evicted_entries == 2 && st.entries == 3);
    rank_history_free(h);
}

static void test_user_bound(void **state) {
    (void)state;
    rank_history_opts o;
    rank_history_opts_default(&o);
    o.max_users = 2;
    rank_history *h = rank_history_new(&o);
    assert_int_equal(rank_history_accept(h, S("u1"), S("a"), 1), 0);
    assert_int_equal(rank_history_accept(h, S("u2"), S("a"), 2), 0);
    assert_int_equal(rank_history_accept(h, S("u1"), S("b"), 3), 0); /* u1 most recent */
    assert_int_equal(rank_history_accept(h, S("u3"), S("a"), 4), 0); /* evicts u2 */
    assert_null(U(h, "u2"));
    assert_non_null(U(h, "u1"));
    assert_non_null(U(h, "u3"));
    assert_int_equal(rank_huser_size(U(h, "u1")), 2);
    rank_history_stat st;
    rank_history_stats(h, &st);
    assert_true(st.users == 2 && st.evicted_users == 1 && st.entries == 3);
    rank_history_free(h);
}

static void test_bad_input(void **state) {
    (void)state;
    rank_history_opts o;
    rank_history_opts_default(&o);
    o.session_len = 0;
    assert_null(rank_history_new(&o));
    rank_history_opts_default(&o);
    o.session_gap = 0;
    assert_null(rank_history_new(&o));
    rank_history *h = rank_history_new(NULL);
    char big[RANK_HIST_MAX_QUERY + 2];
    memset(big, 'x', sizeof big);
    assert_int_equal(rank_history_accept(h, "", 0, S("a"), 1), RANK_HIST_EINVAL);
    assert_int_equal(rank_history_accept(h, S("u"), "", 0, 1), RANK_HIST_EINVAL);
    assert_int_equal(rank_history_accept(h, S("u"), big, RANK_HIST_MAX_QUERY + 1, 1), RANK_HIST_ETOOLONG);
    assert_int_equal(rank_history_accept(h, big, RANK_HIST_MAX_USER + 1, S("a"), 1), RANK_HIST_ETOOLONG);
    assert_int_equal(rank_history_accept(h, S("u"), big, RANK_HIST_MAX_QUERY, 1), 0);
    assert_null(rank_history_user(h, big, RANK_HIST_MAX_USER + 1));
    assert_string_equal(rank_history_strerror(RANK_HIST_ETOOLONG), "user or query too long");
    /* bytes with NULs and high bytes are just bytes */
    assert_int_equal(rank_history_accept(h, S("u"), "a\0b\xff", 4, 2), 0);
    assert_non_null(rank_huser_get(U(h, "u"), "a\0b\xff", 4));
    assert_null(rank_huser_get(U(h, "u"), "a\0c\xff", 4));
    rank_history_free(h);
}

/* --- model ---------------------------------------------------------------- */

typedef struct m_ent {
    int user;
    char q[16];
    uint32_t count;
    int64_t last;
} m_ent;

static void check_model(const rank_history *h, const m_ent *m, size_t nm, int nusers) {
    size_t total = 0;
    for (int u = 0; u < nusers; u++) {
        char id[16];
        snprintf(id, sizeof id, "u%d", u);
        const rank_huser *hu = U(h, id);
        size_t want = 0;
        for (size_t i = 0; i < nm; i++) {
            if (m[i].user != u) continue;
            want++;
            const rank_hentry *e = E(hu, m[i].q);
            assert_non_null(e);
            assert_int_equal(e->count, m[i].count);
            assert_true(e->last == m[i].last);
        }
        assert_int_equal(rank_huser_size(hu), want);
        total += want;
    }
    rank_history_stat st;
    rank_history_stats(h, &st);
    assert_true(st.entries == total);
}

/* Random accepts (with allocation failures injected in half the rounds):
 * after each, the history equals the model, which only applies the accept
 * when it succeeded. */
static void test_differential_with_failures(void **state) {
    (void)state;
    enum { NU = 40, NQ = 300, ROUNDS = 6000 };
    m_ent *m = calloc(NU * NQ, sizeof *m);
    size_t nm = 0;
    rank_history *h = rank_history_new(NULL);
    srand(7);
    unsigned long failed = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int u = rand() % NU;
        char id[16], q[16];
        snprintf(id, sizeof id, "u%d", u);
        snprintf(q, sizeof q, "q%d", rand() % NQ);
        int64_t t = rand() % 100000;
        if (r % 2) qalloc_fail_after(1 + (unsigned long)(rand() % 6), 1);
        int rc = rank_history_accept(h, id, strlen(id), q, strlen(q), t);
        qalloc_fail_after(0, 0);
        if (rc == RANK_HIST_ENOMEM) {
            failed++;
        } else {
            assert_int_equal(rc, 0);
            size_t i;
            for (i = 0; i < nm; i++)
                if (m[i].user == u && !strcmp(m[i].q, q)) break;
            if (i == nm) {
                m[nm].user = u;
                strcpy(m[nm].q, q);
                m[nm].count = 0;
                m[nm].last = t;
                nm++;
            }
            m[i].count++;
            if (t > m[i].last) m[i].last = t;
        }
        if (r % 500 == 0) check_model(h, m, nm, NU);
    }
    check_model(h, m, nm, NU);
    assert_true(failed > 0);
    /* the byte count covers at least the stored query bytes, and an
     * underflow in the accounting (a double free of the count) would wrap
     * it to a huge value */
    rank_history_stat st;
    rank_history_stats(h, &st);
    assert_true(st.bytes >= st.entries * 2 && st.bytes < (1ull << 32));
    rank_history_free(h);
    free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_last),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_session),
        cmocka_unit_test(test_entry_bound),
        cmocka_unit_test(test_user_bound),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_differential_with_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
