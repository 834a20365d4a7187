/* Tests for ranking/rhistory: the exact commands an ACCEPT and a COMPLETE
 * send (key layout), parsing of HGETALL / LRANGE replies (fields in any
 * order, garbage skipped, session gap), the reader-side trim, and a
 * differential check that rank_rh_gather gives the same candidates as
 * rank_gather over the in-process history holding the same accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranking/history_redis.h"

#define S(x) x, sizeof(x) - 1

static void assert_cmd(const rank_rh_cmd *c, const char *want) {
    char got[2048];
    size_t n = 0;
    for (int i = 0; i < c->argc; i++) {
        if (i) got[n++] = '|';
        memcpy(got + n, c->argv[i], c->len[i]);
        n += c->len[i];
    }
    got[n] = 0;
    assert_string_equal(got, want);
}

static void test_accept_cmds(void **state) {
    (void)state;
    rank_rh_opts o;
    rank_rh_opts_default(&o);
    rank_rh_cmds c;
    assert_int_equal(rank_rh_accept_cmds(&c, &o, "qac", S("u1"), S("s9"), S("new york"), 1000), 0);
    assert_int_equal(c.n, 6);
    assert_cmd(&c.c[0], "HINCRBY|qac:u:u1|c:new york|1");
    assert_cmd(&c.c[1], "HSET|qac:u:u1|t:new york|1000");
    assert_cmd(&c.c[2], "EXPIRE|qac:u:u1|7776000");
    assert_cmd(&c.c[3], "LPUSH|qac:s:s9|1000 new york");
    assert_cmd(&c.c[4], "LTRIM|qac:s:s9|0|9");
    assert_cmd(&c.c[5], "EXPIRE|qac:s:s9|1800");
    /* no session: the user's implicit one */
    assert_int_equal(rank_rh_accept_cmds(&c, &o, "x", S("u1"), NULL, 0, S("a"), 5), 0);
    assert_cmd(&c.c[3], "LPUSH|x:su:u1|5 a");
    /* bad input */
    assert_int_equal(rank_rh_accept_cmds(&c, &o, "qac", NULL, 0, NULL, 0, S("a"), 5), RANK_RH_EINVAL);
    assert_int_equal(rank_rh_accept_cmds(&c, &o, "qac", S("u"), NULL, 0, "", 0, 5), RANK_RH_EINVAL);
    assert_int_equal(rank_rh_accept_cmds(&c, &o, "", S("u"), NULL, 0, S("a"), 5), RANK_RH_EINVAL);
    static char big[RANK_HIST_MAX_QUERY + 1];
    memset(big, 'q', sizeof big);
    assert_int_equal(rank_rh_accept_cmds(&c, &o, "qac", S("u"), NULL, 0, big, sizeof big, 5), RANK_RH_ETOOLONG);
    /* the largest legal request fits the buffer */
    static char ns[RANK_RH_MAX_NS + 1], user[RANK_HIST_MAX_USER];
    memset(ns, 'n', RANK_RH_MAX_NS);
    memset(user, 'u', sizeof user);
    assert_int_equal(rank_rh_accept_cmds(&c, &o, ns, user, sizeof user, user, sizeof user, big,
                                         RANK_HIST_MAX_QUERY, INT64_MAX),
                     0);
    assert_true(c.used <= sizeof c.buf);
}

static void test_read_cmds(void **state) {
    (void)state;
    rank_rh_opts o;
    rank_rh_opts_default(&o);
    o.session_len = 3;
    rank_rh_cmds c;
    assert_int_equal(rank_rh_read_cmds(&c, &o, "qac", S("u1"), S("s9")), 0);
    assert_int_equal(c.n, 2);
    assert_cmd(&c.c[0], "HGETALL|qac:u:u1");
    assert_cmd(&c.c[1], "LRANGE|qac:s:s9|0|2");
    assert_int_equal(rank_rh_read_cmds(&c, &o, "qac", S("u1"), NULL, 0), 0);
    assert_cmd(&c.c[1], "LRANGE|qac:su:u1|0|2");
    assert_int_equal(rank_rh_read_cmds(&c, &o, "qac", NULL, 0, S("s")), 0);
    assert_int_equal(c.n, 1);
    assert_cmd(&c.c[0], "LRANGE|qac:s:s|0|2");
    assert_int_equal(rank_rh_read_cmds(&c, &o, "qac", NULL, 0, NULL, 0), RANK_RH_EINVAL);
}

static void test_parse(void **state) {
    (void)state;
    rank_rh h;
    rank_rh_init(&h);
    for (int round = 0; round < 2; round++) { /* reset reuses memory */
        rank_rh_reset(&h);
        assert_int_equal(rank_rh_user_field(&h, S("t:new york"), S("200")), 0);
        assert_int_equal(rank_rh_user_field(&h, S("c:newark"), S("1")), 0);
        assert_int_equal(rank_rh_user_field(&h, S("c:new york"), S("3")), 0);
        assert_int_equal(rank_rh_user_field(&h, S("t:newark"), S("150")), 0);
        assert_int_equal(rank_rh_user_field(&h, S("t:orphan"), S("150")), 0); /* no count: dropped */
        assert_int_equal(rank_rh_user_field(&h, S("x:junk"), S("1")), 0);
        assert_int_equal(rank_rh_user_field(&h, S("c:bad"), S("12x")), 0);
        assert_int_equal(rank_rh_user_field(&h, S("c:"), S("1")), 0);
        assert_int_equal(rank_rh_user_done(&h), 0);
        assert_int_equal(h.n, 2);
        assert_int_equal(h.bad, 4);
        const rank_hentry *e = rank_rh_get(&h, S("new york"));
        assert_non_null(e);
        assert_int_equal(e->count, 3);
        assert_true(e->last == 200);
        assert_null(rank_rh_get(&h, S("orphan")));
        assert_null(rank_rh_get(&h, S("new")));
        /* session: newest first; gap 1800 */
        int64_t now = 10000;
        assert_int_equal(rank_rh_session_item(&h, S("9900 weather"), now, 1800), 0);
        assert_int_equal(rank_rh_session_item(&h, S("9000 news"), now, 1800), 0);
        assert_int_equal(rank_rh_session_item(&h, S("nonsense"), now, 1800), 0);
        assert_int_equal(rank_rh_session_item(&h, S("5000 old"), now, 1800), 0); /* gap: ended */
        assert_int_equal(h.ns, 2);
        assert_memory_equal(h.s[0].q, "weather", 7);
        assert_true(h.s[1].t == 9000);
    }
    /* a session whose newest item is older than the gap is over */
    rank_rh_reset(&h);
    assert_int_equal(rank_rh_session_item(&h, S("100 x"), 10000, 1800), 0);
    assert_int_equal(h.ns, 0);
    /* many entries: index growth, arena blocks */
    char f[64], v[16];
    for (int i = 0; i < 5000; i++) {
        int fl = snprintf(f, sizeof f, "c:query number %d with some padding text", i);
        int vl = snprintf(v, sizeof v, "%d", i + 1);
        assert_int_equal(rank_rh_user_field(&h, f, (size_t)fl, v, (size_t)vl), 0);
        fl = snprintf(f, sizeof f, "t:query number %d with some padding text", i);
        assert_int_equal(rank_rh_user_field(&h, f, (size_t)fl, v, (size_t)vl), 0);
    }
    assert_int_equal(rank_rh_user_done(&h), 0);
    assert_int_equal(h.n, 5000);
    for (int i = 0; i < 5000; i += 97) {
        int fl = snprintf(f, sizeof f, "query number %d with some padding text", i);
        const rank_hentry *e = rank_rh_get(&h, f, (size_t)fl);
        assert_non_null(e);
        assert_int_equal(e->count, i + 1);
    }
    /* trim: the 4990 oldest beyond max 10, oldest first */
    const rank_hentry *out[8];
    assert_int_equal(rank_rh_surplus(&h, 10, out, 8), 8);
    for (int i = 0; i < 8; i++) assert_true(out[i]->last == i + 1);
    assert_int_equal(rank_rh_surplus(&h, 5000, out, 8), 0);
    rank_rh_cmds c;
    assert_int_equal(rank_rh_trim_cmds(&c, "qac", S("u1"), out, 2), 2);
    assert_cmd(&c.c[0], "HDEL|qac:u:u1|c:query number 0 with some padding text|t:query number 0 with some padding text");
    assert_int_equal(rank_rh_trim_cmds(&c, "qac", S("u1"), out, 8), RANK_RH_MAX_CMDS);
    rank_rh_free(&h);
}

static int cand_cmp(const void *a, const void *b) {
    const rank_cand *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->q, y->q, m);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* Same accepts into rank_history and (as Redis would hold them) rank_rh:
 * identical candidate sets with identical g, u, last, and identical order
 * for the trie part; with the history part capped too. */
static void test_gather_matches_baseline(void **state) {
    (void)state;
    trie *t = trie_new();
    assert_non_null(t);
    const char *keys[] = {"new york", "new jersey", "news", "newark", "nets", "netflix", "net", "nevada", "new"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_int_equal(trie_set(t, keys[i], strlen(keys[i]), keys[i], strlen(keys[i]), (double)(10 + i * 7), NULL), 0);
    rank_history *hist = rank_history_new(NULL);
    rank_rh h;
    rank_rh_init(&h);
    const char *acc[] = {"newark", "new york", "newark", "neverland", "nets", "neverland", "neverland", "zzz"};
    for (size_t i = 0; i < sizeof acc / sizeof *acc; i++)
        assert_int_equal(rank_history_accept(hist, "u", 1, acc[i], strlen(acc[i]), (int64_t)(100 + i)), 0);
    /* what Redis holds after those accepts, fields in hash order */
    const rank_huser *hu = rank_history_user(hist, "u", 1);
    for (uint32_t i = rank_huser_size(hu); i-- > 0;) {
        const rank_hentry *e = rank_huser_entry(hu, i);
        char f[600], v[32];
        int fl = snprintf(f, sizeof f, "t:%.*s", (int)e->len, e->q);
        int vl = snprintf(v, sizeof v, "%lld", (long long)e->last);
        assert_int_equal(rank_rh_user_field(&h, f, (size_t)fl, v, (size_t)vl), 0);
        f[0] = 'c';
        vl = snprintf(v, sizeof v, "%u", e->count);
        assert_int_equal(rank_rh_user_field(&h, f, (size_t)fl, v, (size_t)vl), 0);
    }
    assert_int_equal(rank_rh_user_done(&h), 0);
    rank_cands a, b;
    rank_cands_init(&a);
    rank_cands_init(&b);
    const char *prefixes[] = {"", "n", "ne", "new", "neve", "net", "z", "q"};
    const size_t caps[] = {RANK_MAX_HIST_CANDS, 2, 1, 0}; /* the history part cut alike */
    for (size_t p = 0; p < sizeof prefixes / sizeof *prefixes * 4; p++)
        for (unsigned ntop = 1; ntop <= 10; ntop += 3) {
            const char *px = prefixes[p / 4];
            size_t mh = caps[p % 4];
            int na = rank_gather(&a, t, hu, px, strlen(px), ntop, mh);
            int nb = rank_rh_gather(&b, t, &h, px, strlen(px), ntop, mh);
            assert_int_equal(na, nb);
            int ntrie = trie_topk(t, px, strlen(px), ntop, a.hits);
            for (int i = 0; i < ntrie; i++) assert_int_equal(cand_cmp(&a.c[i], &b.c[i]), 0);
            qsort(a.c, a.n, sizeof *a.c, cand_cmp);
            qsort(b.c, b.n, sizeof *b.c, cand_cmp);
            for (size_t i = 0; i < a.n; i++) {
                assert_int_equal(cand_cmp(&a.c[i], &b.c[i]), 0);
                assert_true(a.c[i].g == b.c[i].g);
                assert_int_equal(a.c[i].u, b.c[i].u);
                if (a.c[i].u) assert_true(a.c[i].last == b.c[i].last);
            }
        }
    assert_int_equal(rank_rh_gather(&b, t, &h, "n", 1, 0, RANK_MAX_HIST_CANDS), RANK_BASE_EINVAL);
    assert_int_equal(rank_rh_gather(&b, t, NULL, "n", 1, 5, RANK_MAX_HIST_CANDS), 5); /* no user */
    rank_cands_free(&a);
    rank_cands_free(&b);
    rank_rh_free(&h);
    rank_history_free(hist);
    trie_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_cmds),
        cmocka_unit_test(test_read_cmds),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_gather_matches_baseline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
