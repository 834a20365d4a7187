/* Tests for common/: strict parsers, time parsing, UTF-8 validation, qbuf,
 * the histogram and the allocation-failure seam. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/hist.h"
#include "common/util.h"

#define S(x) x, sizeof(x) - 1

static void test_parse_numbers(void **state) {
    (void)state;
    uint64_t u;
    int64_t i;
    double d;
    assert_int_equal(qparse_u64(S("18446744073709551615"), &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(qparse_u64(S("18446744073709551616"), &u), -1);
    assert_int_equal(qparse_u64(S(""), &u), -1);
    assert_int_equal(qparse_u64(S(" 1"), &u), -1);
    assert_int_equal(qparse_u64(S("1x"), &u), -1);
    assert_int_equal(qparse_i64(S("-9223372036854775808"), &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(qparse_i64(S("9223372036854775808"), &i), -1);
    assert_int_equal(qparse_double(S("2.5e3"), &d), 0);
    assert_true(d == 2500.0);
    assert_int_equal(qparse_double(S("nan"), &d), -1);
    assert_int_equal(qparse_double(S("1e999"), &d), -1);
    assert_int_equal(qparse_double(S("1.0 "), &d), -1);
}

static void test_parse_time(void **state) {
    (void)state;
    int64_t t;
    assert_int_equal(qparse_time(S("1970-01-01"), &t), 0);
    assert_true(t == 0);
    assert_int_equal(qparse_time(S("2006-05-18 00:00:00"), &t), 0);
    assert_true(t == 1147910400);
    assert_int_equal(qparse_time(S("2006-03-01 00:01:44"), &t), 0);
    assert_true(t == 1141171304);
    assert_int_equal(qparse_time(S("2004-02-29"), &t), 0);
    assert_int_equal(qparse_time(S("2006-02-29"), &t), -1);
    assert_int_equal(qparse_time(S("2006-13-01"), &t), -1);
    assert_int_equal(qparse_time(S("2006-05-18 24:00:00"), &t), -1);
    assert_int_equal(qparse_time(S("2006-05-18T00:00:00"), &t), -1);
    assert_int_equal(qparse_time(S("2006-5-18"), &t), -1);
}

static void test_utf8(void **state) {
    (void)state;
    assert_true(qutf8_valid(S("caf\xc3\xa9 \xe6\x9d\xb1\xf0\x9f\x98\x80")));
    assert_false(qutf8_valid(S("\xc3")));             /* truncated */
    assert_false(qutf8_valid(S("\xc0\xaf")));         /* overlong */
    assert_false(qutf8_valid(S("\xe0\x80\xaf")));     /* overlong */
    assert_false(qutf8_valid(S("\xed\xa0\x80")));     /* surrogate */
    assert_false(qutf8_valid(S("\xf4\x90\x80\x80"))); /* > U+10FFFF */
    assert_false(qutf8_valid(S("\xe9t\xe9")));        /* Latin-1 */
    assert_int_equal(qutf8_count(S("caf\xc3\xa9")), 4);
}

static void test_qbuf(void **state) {
    (void)state;
    qbuf b;
    qbuf_init(&b);
    for (int i = 0; i < 1000; i++) assert_int_equal(qbuf_putu64(&b, (uint64_t)i), 0);
    assert_int_equal(b.len, 10 + 90 * 2 + 900 * 3);
    qbuf_consume(&b, 10);
    assert_memory_equal(b.data, "1011", 4);
    qbuf_reset(&b);
    assert_int_equal(qbuf_printf(&b, "%s=%d", "k", 42), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "k=42", 4);
    qbuf_putu64(&b, UINT64_MAX);
    assert_memory_equal(b.data + 4, "18446744073709551615", 20);
    /* A failed allocation leaves the buffer as it was. */
    size_t len = b.len;
    qalloc_fail_after(1, 0);
    assert_int_equal(qbuf_reserve(&b, 1 << 20), -1);
    assert_int_equal(b.len, len);
    assert_int_equal(qalloc_failures(), 1);
    assert_int_equal(qbuf_reserve(&b, 1 << 20), 0);
    qbuf_free(&b);
}

static void test_hist(void **state) {
    (void)state;
    hist h;
    hist_init(&h);
    assert_true(hist_quantile(&h, 0.5) == 0);
    for (uint64_t v = 1; v <= 100000; v++) hist_add(&h, v);
    uint64_t p50 = hist_quantile(&h, 0.5), p99 = hist_quantile(&h, 0.99);
    assert_true(p50 >= 50000 && p50 <= 50000 * 33 / 32 + 1);
    assert_true(p99 >= 99000 && p99 <= 99000 * 33 / 32 + 1);
    assert_true(hist_quantile(&h, 1.0) == 100000);
    for (uint64_t v = 0; v < 64; v++) {
        hist g;
        hist_init(&g);
        hist_add(&g, v);
        assert_true(hist_quantile(&g, 0.5) == v); /* small values are exact */
    }
    hist g;
    hist_init(&g);
    hist_add(&g, (uint64_t)1 << 50); /* beyond range: clamped to the last bucket, max kept */
    assert_true(hist_quantile(&g, 1.0) == (uint64_t)1 << 50);
}

static void test_file_write_atomic(void **state) {
    (void)state;
    char dir[] = "/tmp/qac-atomic.XXXXXX", path[256], buf[64], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f", dir);
    assert_int_equal(qfile_write_atomic(path, "first", 5, err, sizeof err), 0);
    assert_int_equal(qfile_write_atomic(path, "second!", 7, err, sizeof err), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "second!", 7);
    /* A missing directory: -1, a reason naming the step, errno kept. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/nodir/f", dir);
    assert_int_equal(qfile_write_atomic(bad, "x", 1, err, sizeof err), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "cannot create"));
    /* The target is a directory: the rename fails, the old content stays, no temporary is left. */
    char sub[300];
    snprintf(sub, sizeof sub, "%s/d", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_int_equal(qfile_write_atomic(sub, "x", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot rename"));
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", sub, (int)getpid());
    assert_int_equal(access(tmp, F_OK), -1);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_numbers), cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_utf8),          cmocka_unit_test(test_qbuf),
        cmocka_unit_test(test_hist),          cmocka_unit_test(test_file_write_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
