/* Tests for text/shardmap.c: a good map parses and looks up as written; every
 * validation rule rejects its bad map with a message naming the line;
 * garbage (random bytes, every truncation and random byte flips of a good
 * map) never crashes and never yields an invalid map; write -> parse round
 * trips; shardmap_balance covers 0..10ffff contiguously, keeps every shard
 * non-empty and balances within one code point's keys; owner agrees with a
 * linear scan; first_cp decodes UTF-8 and refuses bad sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/norm.h"
#include "text/shardmap.h"

static const char good[] = "# a comment\n"
                           "qac-shardmap 1\n"
                           "keys match\n"
                           "shards 2\n"
                           "\n"
                           "shard 0 idx.0 10\n"
                           "shard 1 idx.1 12\r\n"
                           "range 0 6c 0\n"
                           "range 6d 10ffff 1\n";

static shardmap m; /* large: static */

static void test_good(void **st) {
    char err[512];
    assert_int_equal(shardmap_parse(good, strlen(good), &m, err, sizeof err), 0);
    assert_int_equal(m.nshards, 2);
    assert_int_equal(m.key_form, NORM_FORM_MATCH);
    assert_string_equal(m.index[1], "idx.1");
    assert_int_equal(m.keys[1], 12);
    assert_int_equal(shardmap_owner(&m, 'a'), 0);
    assert_int_equal(shardmap_owner(&m, 'l'), 0);
    assert_int_equal(shardmap_owner(&m, 'm'), 1);
    assert_int_equal(shardmap_owner(&m, 0x10ffff), 1);
    assert_int_equal(shardmap_owner(&m, 0x110000), -1);
}

static void expect_bad(const char *text, const char *want) {
    char err[512];
    if (shardmap_parse(text, strlen(text), &m, err, sizeof err) == 0) {
        print_error("accepted:\n%s\n", text);
        fail();
    }
    if (!strstr(err, want)) {
        print_error("error [%s] lacks [%s] for:\n%s\n", err, want, text);
        fail();
    }
}

#define HEAD "qac-shardmap 1\nkeys match\nshards 2\nshard 0 a 1\nshard 1 b 1\n"
static void test_rules(void **st) {
    expect_bad("", "empty");
    expect_bad("hello 1\n", "line 1: not a qac shard map");
    expect_bad("qac-shardmap 2\n", "version '2'");
    expect_bad("qac-shardmap 1\nshards 2\n", "line 2: 'shards' out of place");
    expect_bad("qac-shardmap 1\nkeys frob\n", "unknown key form");
    expect_bad("qac-shardmap 1\nkeys match\nshards 65\n", "bad shard count");
    expect_bad("qac-shardmap 1\nkeys match\nshards 0\n", "bad shard count");
    expect_bad("qac-shardmap 1\nkeys match\nshards 2\nshard 0 a 1\nrange 0 10ffff 0\n", "shard 1 has no");
    expect_bad(HEAD "shard 1 c 1\n", "line 6: shard 1 listed twice");
    expect_bad(HEAD "range 0 6c 0\n", "end at 6c");
    expect_bad(HEAD "range 1 10ffff 0\n", "does not continue");
    expect_bad(HEAD "range 0 6c 0\nrange 6c 10ffff 1\n", "does not continue");
    expect_bad(HEAD "range 0 6c 0\nrange 6e 10ffff 1\n", "does not continue");
    expect_bad(HEAD "range 0 10ffff 0\n", "shard 1 owns no range");
    expect_bad(HEAD "range 0 110000 0\n", "bad code point");
    expect_bad(HEAD "range 0 6C 0\n", "bad code point");
    expect_bad(HEAD "range 0 10ffff 2\n", "bad shard number");
    expect_bad(HEAD "range 0 10ffff 0 extra\n", "unknown record");
    expect_bad(HEAD "frob\n", "line 6: unknown record");
    expect_bad("qac-shardmap 1\nkeys match\nshards 1\nshard 0 a/b 1\n", "no '/'");
    expect_bad("qac-shardmap 1\nkeys match\nshards 1\nshard 0 a 1x\n", "bad key count");
    expect_bad("qac-shardmap 1\nkeys match\nshards 1\nshard 0 a 99999999999999999999999\n", "bad key count");
    char big[700];
    memset(big, '#', sizeof big - 1);
    big[sizeof big - 1] = 0;
    expect_bad(big, "line 1: over 512 bytes");
    const char nul[] = "qac-shardmap 1\nkeys\0match\n";
    char err[256];
    assert_int_equal(shardmap_parse(nul, sizeof nul - 1, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));
}

/* Whatever garbage is fed, a map that parses is a valid one. */
static void check_garbage(const char *buf, size_t n) {
    char err[512];
    if (shardmap_parse(buf, n, &m, err, sizeof err) == 0) {
        assert_int_equal(shardmap_validate(&m, err, sizeof err), 0);
        for (uint32_t cp = 0; cp < 0x200; cp++) assert_true(shardmap_owner(&m, cp) >= 0);
    }
}

static void test_garbage(void **st) {
    srand(7);
    char buf[600];
    size_t n = strlen(good);
    for (size_t cut = 0; cut <= n; cut++) check_garbage(good, cut);
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, good, n);
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++) buf[rand() % n] = (char)(rand() % 256);
        check_garbage(buf, n);
    }
    for (int it = 0; it < 2000; it++) {
        size_t len = (size_t)(rand() % (int)sizeof buf);
        for (size_t k = 0; k < len; k++) buf[k] = (char)(rand() % 256);
        check_garbage(buf, len);
    }
    char err[256];
    assert_int_equal(shardmap_load("/nonexistent/map", &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/map"));
}

static shardmap m2;
static void test_balance_roundtrip(void **st) {
    srand(11);
    char err[512];
    for (int it = 0; it < 500; it++) {
        uint32_t cps[300];
        uint64_t counts[300], total = 0;
        size_t n = 1 + (size_t)(rand() % 300);
        uint32_t cp = (uint32_t)(rand() % 50);
        for (size_t i = 0; i < n; i++) {
            cps[i] = cp;
            cp += 1 + (uint32_t)(rand() % (i % 7 == 0 ? 3000 : 5));
            counts[i] = 1 + (uint64_t)(rand() % (rand() % 10 ? 20 : 5000));
            total += counts[i];
        }
        unsigned ns = 1 + (unsigned)(rand() % 12);
        memset(&m, 0, sizeof m);
        if (ns > n) {
            assert_int_equal(shardmap_balance(cps, counts, n, ns, &m, err, sizeof err), -1);
            assert_non_null(strstr(err, "distinct first characters"));
            continue;
        }
        assert_int_equal(shardmap_balance(cps, counts, n, ns, &m, err, sizeof err), 0);
        m.key_form = NORM_FORM_EVAL;
        for (unsigned s = 0; s < ns; s++) snprintf(m.index[s], sizeof m.index[s], "x.%u", s);
        assert_int_equal(shardmap_validate(&m, err, sizeof err), 0);
        /* keys per shard as the ranges say, each shard non-empty; no shard over its share by more than
         * the largest single code point's count */
        uint64_t got[SHARDMAP_MAX_SHARDS] = {0}, maxc = 0;
        for (size_t i = 0; i < n; i++) {
            int o = shardmap_owner(&m, cps[i]);
            int lin = -1;
            for (size_t r = 0; r < m.nranges; r++)
                if (m.ranges[r].lo <= cps[i] && cps[i] <= m.ranges[r].hi) lin = (int)m.ranges[r].shard;
            assert_int_equal(o, lin);
            got[o] += counts[i];
            if (counts[i] > maxc) maxc = counts[i];
        }
        for (unsigned s = 0; s < ns; s++) {
            assert_true(got[s] > 0);
            assert_int_equal(got[s], m.keys[s]);
            if (s < ns - 1) assert_true(got[s] <= total / ns + maxc);
        }
        /* write -> parse */
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_int_equal(shardmap_write(f, &m), 0);
        fclose(f);
        assert_int_equal(shardmap_parse(text, len, &m2, err, sizeof err), 0);
        free(text);
        assert_int_equal(m2.nshards, m.nshards);
        assert_int_equal(m2.key_form, NORM_FORM_EVAL);
        assert_int_equal(m2.nranges, m.nranges);
        assert_memory_equal(m2.ranges, m.ranges, m.nranges * sizeof m.ranges[0]);
        assert_memory_equal(m2.keys, m.keys, ns * sizeof m.keys[0]);
    }
}

static void test_first_cp(void **st) {
    uint32_t cp;
    assert_int_equal(shardmap_first_cp("abc", 3, &cp), 0);
    assert_int_equal(cp, 'a');
    assert_int_equal(shardmap_first_cp("\xc3\xa9t\xc3\xa9", 5, &cp), 0);
    assert_int_equal(cp, 0xe9);
    assert_int_equal(shardmap_first_cp("\xe6\x9d\xb1", 3, &cp), 0);
    assert_int_equal(cp, 0x6771);
    assert_int_equal(shardmap_first_cp("\xf0\x9f\x98\x80", 4, &cp), 0);
    assert_int_equal(cp, 0x1f600);
    assert_int_equal(shardmap_first_cp("", 0, &cp), -1);
    assert_int_equal(shardmap_first_cp("\xc3", 1, &cp), -1);       /* truncated */
    assert_int_equal(shardmap_first_cp("\xc0\xaf", 2, &cp), -1);   /* overlong */
    assert_int_equal(shardmap_first_cp("\xed\xa0\x80", 3, &cp), -1); /* surrogate */
    assert_int_equal(shardmap_first_cp("\xf4\x90\x80\x80", 4, &cp), -1); /* over 10ffff */
    assert_int_equal(shardmap_first_cp("\x80", 1, &cp), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_balance_roundtrip),
        cmocka_unit_test(test_first_cp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
