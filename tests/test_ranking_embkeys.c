/* Tests for ranking/embkeys.c: the exact Redis keys of the embeddings layout
 * (what `qac load` writes and the server reads must be the same bytes), that
 * RANK_EK_MAX holds every key of the longest valid namespace and the largest
 * version, and that a key that does not fit is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ranking/embkeys.h"

static void test_keys(void **state) {
    (void)state;
    char k[RANK_EK_MAX];
    assert_int_equal(rank_ek_version(k, sizeof k, "qac"), 11);
    assert_string_equal(k, "qac:version");
    assert_int_equal(rank_ek_current(k, sizeof k, "qac"), 11);
    assert_string_equal(k, "qac:current");
    assert_int_equal(rank_ek_all_versions(k, sizeof k, "qac"), 8);
    assert_string_equal(k, "qac:v*:*");
    assert_int_equal(rank_ek_vprefix(k, sizeof k, "qac", 7), 7);
    assert_string_equal(k, "qac:v7:");
    assert_int_equal(rank_ek_meta(k, sizeof k, "qac", 7), 11);
    assert_string_equal(k, "qac:v7:meta");
    assert_int_equal(rank_ek_qprefix(k, sizeof k, "qac", 12), 10);
    assert_string_equal(k, "qac:v12:q:");
    assert_int_equal(rank_ek_bucket(k, sizeof k, "qac", 12, 4095), 14);
    assert_string_equal(k, "qac:v12:b:4095");
}

static void test_bounds(void **state) {
    (void)state;
    char ns[RANK_RH_MAX_NS + 1], k[RANK_EK_MAX];
    memset(ns, 'n', RANK_RH_MAX_NS);
    ns[RANK_RH_MAX_NS] = 0;
    assert_true(rank_ek_meta(k, sizeof k, ns, UINT64_MAX) > 0);
    assert_true(rank_ek_bucket(k, sizeof k, ns, UINT64_MAX, UINT32_MAX) > 0);
    assert_true(rank_ek_qprefix(k, sizeof k, ns, UINT64_MAX) > 0);
    assert_true(rank_ek_version(k, sizeof k, ns) > 0 && rank_ek_current(k, sizeof k, ns) > 0);
    char small[11];
    assert_int_equal(rank_ek_meta(small, 8, "qac", 7), -1);
    assert_int_equal(rank_ek_current(small, sizeof small, "qac"), -1); /* 11 bytes: no room for the NUL */
    assert_int_equal(rank_ek_version(small, sizeof small, "q"), 9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
