/* Tests for the pure parts of qac replay (data/replay_plan.c, replay_run.c,
 * replay_report.c) and data/evalproto.c: request
 * quoting, the prefixes typed for a query (all / eval, rand lengths checked
 * against python's hashlib), the tags scored per length, reply parsing
 * (complete, split at every byte, errors, garbage, target matching through
 * norm_eval), the keystrokes-saved arithmetic, the MRR/SR accumulators,
 * the report JSON pieces, and --typos: the draw (rate 0 / 1 / a share,
 * seeded) and the edit (one code-point edit at distance 1, never at code
 * point 0, valid UTF-8 out, never a prefix of the query, deterministic). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "data/evalproto.h"
#include "data/replay.h"

static void test_quote(void **state) {
    (void)state;
    qbuf b;
    qbuf_init(&b);
    assert_int_equal(rp_quote(&b, "say \"hi\" \\o/", 12), 0);
    assert_int_equal(b.len, 17);
    assert_memory_equal(b.data, "\"say \\\"hi\\\" \\\\o/\"", 17);
    qbuf_reset(&b);
    assert_int_equal(rp_quote(&b, "", 0), 0);
    assert_memory_equal(b.data, "\"\"", 2);
    qbuf_free(&b);
}

static void test_prefix_set(void **state) {
    (void)state;
    size_t lens[EP_NTAGS];
    int tags[EP_NTAGS];
    /* "apricot": 7 code points, len1..len5, rand = 2 + md5 mod 5 = 6 */
    assert_int_equal(ep_prefixes("apricot", 7, 7, lens, tags), 6);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(lens[i], i + 1);
        assert_int_equal(tags[i], i);
    }
    assert_int_equal(lens[5], 6);
    assert_int_equal(tags[5], EP_TAG_RAND);
    /* "abc": only len1, len2 are shorter; rand = 2 + (M mod 1) = 2 */
    assert_int_equal(ep_prefixes("abc", 3, 3, lens, tags), 3);
    assert_int_equal(lens[2], 2);
    /* too short: nothing scored */
    assert_int_equal(ep_prefixes("ab", 2, 2, lens, tags), 0);
    /* code points, not bytes: "café au lait" (13 bytes, 12 cp), rand = 4 */
    const char *q = "caf\xc3\xa9 au lait";
    assert_int_equal(ep_prefixes(q, 13, 12, lens, tags), 6);
    assert_int_equal(lens[5], 4);
    assert_int_equal(ep_cp_offset(q, 13, 4), 5); /* "café" */
    assert_int_equal(ep_cp_offset(q, 13, 3), 3);
    assert_int_equal(ep_cp_offset(q, 13, 99), 13);
}

static void test_plan(void **state) {
    (void)state;
    rp_plan p;
    rp_plan_init(&p, "new york", 8, 1); /* all: 1..8 */
    assert_int_equal(p.ncp, 8);
    assert_int_equal(p.ntyped, 8);
    assert_int_equal(rp_plan_len(&p, 0), 1);
    assert_int_equal(rp_plan_len(&p, 7), 8);
    /* rand of "new york" = 2 + md5 mod 6 = 4 = len4: one length, two tags */
    assert_int_equal(rp_plan_tags(&p, 4), (1u << 3) | (1u << EP_TAG_RAND));
    assert_int_equal(rp_plan_tags(&p, 1), 1u);
    assert_int_equal(rp_plan_tags(&p, 6), 0u);
    assert_int_equal(rp_plan_tags(&p, 8), 0u);
    rp_plan_init(&p, "new york", 8, 0); /* eval: 1..5, rand coincides */
    assert_int_equal(p.ntyped, 5);
    for (size_t i = 0; i < 5; i++) assert_int_equal(rp_plan_len(&p, i), i + 1);
    rp_plan_init(&p, "apricot", 7, 0); /* eval: 1..5 and 6 */
    assert_int_equal(p.ntyped, 6);
    assert_int_equal(rp_plan_len(&p, 5), 6);
    assert_int_equal(rp_plan_tags(&p, 6), 1u << EP_TAG_RAND);
    rp_plan_init(&p, "ab", 2, 0); /* eval: too short, nothing typed */
    assert_int_equal(p.ntyped, 0);
    rp_plan_init(&p, "ab", 2, 1); /* all: still typed, nothing scored */
    assert_int_equal(p.ntyped, 2);
    assert_int_equal(rp_plan_tags(&p, 1), 0u);
}

static char scratch[RP_SCRATCH];

static void test_parse_complete(void **state) {
    (void)state;
    const char *rep = "OK 3\r\nNew York\t120\r\nnew  york city\t80\r\nNewark\t7\r\nOK 1\r\n";
    size_t full = strlen(rep) - 6;
    rp_reply r;
    const char *why = NULL;
    assert_int_equal(rp_parse_reply(rep, strlen(rep), RP_COMPLETE, "new york city", 13, scratch, &r, &why), (long)full);
    assert_int_equal(r.err, 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.rank, 2); /* case and white space runs fold (norm_eval) */
    assert_int_equal(rp_parse_reply(rep, full, RP_COMPLETE, "new york", 8, scratch, &r, &why), (long)full);
    assert_int_equal(r.rank, 1);
    assert_int_equal(rp_parse_reply(rep, full, RP_COMPLETE, "new", 3, scratch, &r, &why), (long)full);
    assert_int_equal(r.rank, 0);
    assert_int_equal(rp_parse_reply(rep, full, RP_COMPLETE, NULL, 0, scratch, &r, &why), (long)full);
    assert_int_equal(r.rank, 0);
    /* every split point short of the end: need more */
    for (size_t cut = 0; cut < full; cut++)
        assert_int_equal(rp_parse_reply(rep, cut, RP_COMPLETE, "newark", 6, scratch, &r, &why), 0);
    /* empty list, bare \n line ends */
    assert_int_equal(rp_parse_reply("OK 0\n", 5, RP_COMPLETE, "x", 1, scratch, &r, &why), 5);
    assert_int_equal(r.n, 0);
    /* non-ASCII display goes through norm_eval: "CAFÉ" folds to "café" */
    const char *u = "OK 1\r\nCAF\xc3\x89\t3\r\n";
    assert_int_equal(rp_parse_reply(u, strlen(u), RP_COMPLETE, "caf\xc3\xa9", 5, scratch, &r, &why), (long)strlen(u));
    assert_int_equal(r.rank, 1);
}

static void test_parse_errors(void **state) {
    (void)state;
    rp_reply r;
    const char *why = NULL;
    const char *e = "ERR LIMIT k out of range (1..max-k)\r\n";
    assert_int_equal(rp_parse_reply(e, strlen(e), RP_COMPLETE, "x", 1, scratch, &r, &why), (long)strlen(e));
    assert_int_equal(r.err, 1);
    assert_string_equal(r.code, "LIMIT");
    assert_int_equal(rp_parse_reply("OK 12\r\n", 7, RP_ACCEPT, NULL, 0, scratch, &r, &why), 7);
    assert_int_equal(r.err, 0);
    assert_int_equal(rp_parse_reply("OK 12\r", 6, RP_ACCEPT, NULL, 0, scratch, &r, &why), 0);
    /* garbage */
    why = NULL;
    assert_int_equal(rp_parse_reply("+OK\r\n", 5, RP_ACCEPT, NULL, 0, scratch, &r, &why), -1);
    assert_non_null(why);
    assert_int_equal(rp_parse_reply("OK\r\n", 4, RP_COMPLETE, NULL, 0, scratch, &r, &why), -1);
    assert_int_equal(rp_parse_reply("OK x\r\n", 6, RP_COMPLETE, NULL, 0, scratch, &r, &why), -1);
    assert_int_equal(rp_parse_reply("OK 101\r\n", 8, RP_COMPLETE, NULL, 0, scratch, &r, &why), -1);
    assert_int_equal(rp_parse_reply("OKAY\r\n", 6, RP_ACCEPT, NULL, 0, scratch, &r, &why), -1);
    assert_int_equal(rp_parse_reply("OK 1\r\nno tab here\r\n", 19, RP_COMPLETE, "x", 1, scratch, &r, &why), -1);
    /* a line that never ends is an error once past the bound, not a hang */
    size_t big = 9000;
    char *junk = malloc(big);
    memset(junk, 'a', big);
    assert_int_equal(rp_parse_reply(junk, big, RP_ACCEPT, NULL, 0, scratch, &r, &why), -1);
    memcpy(junk, "OK 1\r\n", 6);
    assert_int_equal(rp_parse_reply(junk, big, RP_COMPLETE, "x", 1, scratch, &r, &why), -1);
    free(junk);
}

static void test_keys(void **state) {
    (void)state;
    rp_keys k = {0, 0};
    assert_true(rp_keys_share(&k) == 0.0);
    rp_keys_add(&k, 10, 3); /* picked after 3 of 10: saves 7 */
    rp_keys_add(&k, 5, 0);  /* never shown: saves 0 */
    rp_keys_add(&k, 5, 5);  /* shown only when complete: saves 0 */
    assert_int_equal(k.typed, 20);
    assert_int_equal(k.saved, 7);
    assert_true(rp_keys_share(&k) == 7.0 / 20.0);
}

static void test_quality(void **state) {
    (void)state;
    ep_quality q;
    memset(&q, 0, sizeof q);
    assert_true(ep_record(&q, 0, 2) == 0.5);
    assert_true(ep_record(&q, 0, 0) == 0.0);
    assert_true(ep_record(&q, 0, 11) == 0.0); /* beyond the top 10 */
    assert_true(ep_mrr(&q, 0) == 0.5 / 3);
    ep_record(&q, EP_TAG_RAND, 1);
    ep_record(&q, EP_TAG_RAND, 3);
    ep_record(&q, EP_TAG_RAND, 10);
    ep_record(&q, EP_TAG_RAND, 0);
    assert_true(ep_sr(&q, 0) == 0.25);
    assert_true(ep_sr(&q, 1) == 0.5);
    assert_true(ep_sr(&q, 2) == 0.75);
    ep_quality q2 = q;
    ep_quality_merge(&q2, &q);
    assert_int_equal(q2.n[EP_TAG_RAND], 8);
    assert_true(ep_sr(&q2, 1) == 0.5);
    assert_true(ep_mrr(&q, 3) == 0.0); /* nothing scored */
}

/* The report JSON pieces (common/json.h underneath): the bytes qac eval and
 * qac replay have always written, key escaping, allocation failure, and a
 * file that cannot be written. */
static void test_report_json(void **state) {
    (void)state;
    ep_quality q;
    memset(&q, 0, sizeof q);
    ep_record(&q, 0, 3);
    ep_record(&q, EP_TAG_RAND, 1);
    ep_record(&q, EP_TAG_RAND, 4);
    ep_record(&q, EP_TAG_RAND, 0);
    qbuf b;
    qbuf_init(&b);
    static const char *const keys[] = {"a", "say \"b\""};
    const uint64_t v[] = {0, UINT64_MAX};
    const double f[] = {2.0 / 3, 0};
    assert_int_equal(ep_json_mrr(&b, &q), 0);
    assert_int_equal(ep_json_sr(&b, &q), 0);
    assert_int_equal(ep_json_counts(&b, ",\n", keys, v, 2), 0);
    assert_int_equal(ep_json_figures(&b, ", ", keys, f, 2, 3), 0);
    assert_int_equal(qbuf_putc(&b, 0), 0);
    assert_string_equal(b.data, "{\"len1\": 0.3333333333, \"len2\": 0.0000000000, \"len3\": 0.0000000000, "
                                "\"len4\": 0.0000000000, \"len5\": 0.0000000000, \"rand\": 0.4166666667}"
                                "{\"1\": 0.3333333333, \"3\": 0.3333333333, \"10\": 0.6666666667}"
                                "\"a\": 0,\n\"say \\\"b\\\"\": 18446744073709551615"
                                "\"a\": 0.667, \"say \\\"b\\\"\": 0.000");
    qbuf_free(&b); /* empty again: the next append allocates */
    qalloc_fail_after(1, 1);
    assert_int_equal(ep_json_mrr(&b, &q), -1);
    qalloc_fail_after(0, 0);
    assert_int_equal(ep_write_file("qac test", "/nonexistent-dir/x.json", "{}", 2), -1);
    qbuf_free(&b);
}

/* Code points of valid UTF-8 (the test's own decoder). */
static size_t cps(const char *s, size_t len, uint32_t *out) {
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        int k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        uint32_t v = k == 1 ? c : (uint32_t)(c & (0x7F >> k));
        for (int j = 1; j < k; j++) v = (v << 6) | ((unsigned char)s[i + j] & 0x3F);
        out[n++] = v;
        i += (size_t)k;
    }
    return n;
}

/* Optimal string alignment distance (the server's typo distance). */
static size_t osa(const uint32_t *a, size_t n, const uint32_t *b, size_t m) {
    static size_t d[80][80];
    for (size_t i = 0; i <= n; i++) d[i][0] = i;
    for (size_t j = 0; j <= m; j++) d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

static void test_typo_pick(void **state) {
    (void)state;
    uint64_t hits = 0, n = 100000;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t h = rp_typo_hash(7, i, 5);
        assert_int_equal(rp_typo_pick(h, 0), 0);
        assert_int_equal(rp_typo_pick(h, 1), 1);
        hits += (uint64_t)rp_typo_pick(h, 0.3);
    }
    assert_true(hits > 29000 && hits < 31000); /* 0.3 +- 3.3 sigma-ish */
    assert_int_equal(rp_typo_hash(7, 3, 5), rp_typo_hash(7, 3, 5));
    assert_true(rp_typo_hash(7, 3, 5) != rp_typo_hash(8, 3, 5));
    assert_true(rp_typo_hash(7, 3, 5) != rp_typo_hash(7, 4, 5));
    assert_true(rp_typo_hash(7, 3, 5) != rp_typo_hash(7, 3, 6));
}

static void test_typo_edit(void **state) {
    (void)state;
    static const char *const qs[] = {
        "weather forecast",
        "caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9\x65",                       /* café crème brûlée */
        "\xd0\xbd\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x81\xd1\x82\xd0\xb8 \xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd1\x8b", /* новости москвы */
        "\xe6\x9d\xb1\xe4\xba\xac\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc \xe8\xa6\xb3\xe5\x85\x89", /* 東京タワー 観光 */
        "\xf0\x9f\x8d\x95 pizza \xf0\x9f\x8d\x95 near me",                          /* emoji */
        "a b c d e f",
        "aaaaaa",
        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", /* éééé */
    };
    uint64_t kinds[RP_EDIT_KINDS] = {0};
    char out[RP_MAX_QUERY + 4], again[RP_MAX_QUERY + 4];
    uint32_t a[80], b[80];
    for (size_t qi = 0; qi < ARRAY_LEN(qs); qi++) {
        const char *q = qs[qi];
        size_t qlen = strlen(q), made = 0, tried = 0;
        size_t qn = cps(q, qlen, a);
        for (size_t l = RP_TYPO_MIN_CP; l <= qn; l++) {
            size_t plen = ep_cp_offset(q, qlen, l);
            for (uint64_t i = 0; i < 400; i++) {
                uint64_t h = rp_typo_hash(1, qi * 1000 + i, l);
                int kind = -1, kind2 = -1;
                long n = rp_typo_edit(q, qlen, plen, h, out, sizeof out, &kind);
                tried++;
                /* deterministic */
                assert_int_equal(rp_typo_edit(q, qlen, plen, h, again, sizeof again, &kind2), n);
                if (n < 0) continue;
                made++;
                assert_int_equal(kind, kind2);
                assert_memory_equal(out, again, (size_t)n);
                assert_true(kind >= 0 && kind < RP_EDIT_KINDS);
                kinds[kind]++;
                assert_true(qutf8_valid(out, (size_t)n));
                size_t m = cps(out, (size_t)n, b);
                assert_int_equal(b[0], a[0]);                            /* never at code point 0 */
                assert_int_equal(osa(a, l, b, m), 1);                    /* exactly one edit, in code points */
                if (kind == RP_EDIT_DEL) assert_int_equal(m, l - 1);
                else if (kind == RP_EDIT_INS) assert_int_equal(m, l + 1);
                else assert_int_equal(m, l);
                assert_false((size_t)n <= qlen && !memcmp(out, q, (size_t)n)); /* not a prefix of the query */
                for (long j = 1; j < n; j++) assert_false(out[j] == ' ' && out[j - 1] == ' ');
                assert_true(out[n - 1] != ' ' || q[plen - 1] == ' ' || kind == RP_EDIT_SWAP);
            }
        }
        assert_true(made * 10 >= tried * 9); /* almost every draw finds an edit */
    }
    for (int k = 0; k < RP_EDIT_KINDS; k++) assert_true(kinds[k] > 1000);
    /* the replacement stays in the script: Cyrillic in, no ASCII letter out */
    const char *cy = qs[2];
    for (uint64_t i = 0; i < 200; i++) {
        int kind;
        long n = rp_typo_edit(cy, strlen(cy), 14, rp_typo_hash(2, i, 7), out, sizeof out, &kind);
        assert_true(n > 0);
        for (long j = 0; j < n; j++) assert_false(out[j] >= 'a' && out[j] <= 'z');
    }
    /* too short, or no room */
    int kind;
    assert_int_equal(rp_typo_edit("a", 1, 1, 1, out, sizeof out, &kind), -1);
    assert_int_equal(rp_typo_edit("abcd", 4, 4, 1, out, 7, &kind), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote),       cmocka_unit_test(test_prefix_set),   cmocka_unit_test(test_plan),
        cmocka_unit_test(test_parse_complete), cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_quality),     cmocka_unit_test(test_report_json),  cmocka_unit_test(test_typo_pick),
        cmocka_unit_test(test_typo_edit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
