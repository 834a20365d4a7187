/* Tests for data/qlog.c: each format from small files written here, format
 * detection, every bad-line reason, CRLF endings, a missing final newline, a
 * 1 MB line, strict mode, and grouping of repeated AOL rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/qlog.h"
#include "tests/helpers.h"

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    return make_tmpdir(tmpdir, sizeof tmpdir, "qlog");
}

static int teardown(void **state) {
    (void)state;
    return remove_tree(tmpdir);
}

/* Writes name in the scratch directory; returns its path. */
static const char *write_tmp(const char *name, const char *data, size_t len) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    write_file(path, data, len);
    return path;
}
#define WRITE(name, lit) write_tmp(name, lit, sizeof(lit) - 1)

typedef struct got {
    char user[64], query[600];
    int64_t time;
    double count;
    uint64_t line;
} got;

/* Reads the whole file; returns the number of records (at most max). */
static int read_all(const char *path, qlog_format fmt, qlog_format *detected, got *out, int max,
                    qlog_stats *st) {
    char err[256];
    qlog *r = qlog_open(path, fmt, 0, err, sizeof err);
    assert_non_null(r);
    if (detected) *detected = qlog_get_format(r);
    qlog_rec rec;
    int n = 0, rc;
    while ((rc = qlog_next(r, &rec)) == 1) {
        if (n < max) {
            snprintf(out[n].user, sizeof out[n].user, "%.*s", (int)rec.userlen, rec.user);
            snprintf(out[n].query, sizeof out[n].query, "%.*s", (int)rec.querylen, rec.query);
            out[n].time = rec.time;
            out[n].count = rec.count;
            out[n].line = rec.line;
        }
        n++;
    }
    assert_int_equal(rc, 0);
    if (st) *st = *qlog_get_stats(r);
    qlog_close(r);
    return n;
}

static void test_aol(void **state) {
    (void)state;
    const char *p = WRITE("a.tsv", "AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n"
                                   "1\tNew York\t2006-03-01 00:00:01\t1\thttp://a\n"
                                   "1\tnew  york\t2006-03-01 00:00:01\t2\thttp://b\n" /* same event */
                                   "2\tweather\t2006-03-01 00:00:02\t\t\n"
                                   "1\tNEW YORK \t2006-03-01 00:00:01\t3\thttp://c\n" /* same, not adjacent */
                                   "1\tnew york\t2006-03-01 00:00:09\t\t\n"           /* new time */
                                   "2\tWeather\t2006-03-01 00:00:02\n"                /* 3 fields: merged */
                                   "3\tcafé\t2006-03-02\n");
    got g[10];
    qlog_stats st;
    qlog_format f;
    int n = read_all(p, QLOG_AUTO, &f, g, 10, &st);
    assert_int_equal(f, QLOG_AOL);
    assert_int_equal(n, 4);
    assert_string_equal(g[0].user, "1");
    assert_string_equal(g[0].query, "New York");
    assert_true(g[0].time == 1141171201);
    assert_true(g[0].line == 2);
    assert_true(g[0].count == 1);
    assert_string_equal(g[1].query, "weather");
    assert_true(g[1].line == 4);
    assert_true(g[2].time == 1141171209);
    assert_string_equal(g[3].query, "café");
    assert_true(g[3].time == 1141257600);
    assert_true(st.merged == 3);
    assert_true(st.records == 4);
    assert_true(st.lines == 8);
    assert_true(qlog_bad_total(&st) == 0);
}

static void test_counts_and_lines(void **state) {
    (void)state;
    got g[10];
    qlog_format f;
    const char *p = WRITE("c.txt", "new york\t12\nweather\t0\nhalf\t2.5\n");
    int n = read_all(p, QLOG_AUTO, &f, g, 10, NULL);
    assert_int_equal(f, QLOG_COUNTS);
    assert_int_equal(n, 3);
    assert_string_equal(g[0].query, "new york");
    assert_true(g[0].count == 12);
    assert_true(g[0].time == QLOG_NO_TIME);
    assert_true(g[1].count == 0);
    assert_true(g[2].count == 2.5);
    assert_string_equal(g[0].user, "");

    p = WRITE("l.txt", "new york\nweather 2\ttab inside\n");
    n = read_all(p, QLOG_AUTO, &f, g, 10, NULL);
    assert_int_equal(f, QLOG_LINES);
    assert_int_equal(n, 2);
    assert_string_equal(g[1].query, "weather 2\ttab inside");
    assert_true(g[1].count == 1);

    /* Forcing a format overrides detection. */
    p = WRITE("l2.txt", "abc\t3\n");
    n = read_all(p, QLOG_LINES, &f, g, 10, NULL);
    assert_int_equal(f, QLOG_LINES);
    assert_string_equal(g[0].query, "abc\t3");
    /* Empty file: lines, no records. */
    p = WRITE("e.txt", "");
    assert_int_equal(read_all(p, QLOG_AUTO, &f, g, 10, NULL), 0);
    assert_int_equal(f, QLOG_LINES);
}

static void test_crlf_and_no_final_newline(void **state) {
    (void)state;
    got g[10];
    qlog_format f;
    const char *p = WRITE("crlf.txt", "one\r\ntwo\r\nthree");
    int n = read_all(p, QLOG_AUTO, &f, g, 10, NULL);
    assert_int_equal(n, 3);
    assert_string_equal(g[0].query, "one");
    assert_string_equal(g[1].query, "two");
    assert_string_equal(g[2].query, "three");
    p = WRITE("crlf.tsv", "q1\t4\r\nq2\t5");
    n = read_all(p, QLOG_AUTO, &f, g, 10, NULL);
    assert_int_equal(f, QLOG_COUNTS);
    assert_int_equal(n, 2);
    assert_true(g[0].count == 4 && g[1].count == 5);
    p = WRITE("crlf.aol", "AnonID\tQuery\tQueryTime\tItemRank\tClickURL\r\n9\tx y\t2006-03-01 00:00:01\t\t\r\n");
    n = read_all(p, QLOG_AUTO, &f, g, 10, NULL);
    assert_int_equal(f, QLOG_AOL);
    assert_int_equal(n, 1);
    assert_string_equal(g[0].query, "x y");
}

static void test_bad_reasons(void **state) {
    (void)state;
    got g[20];
    qlog_stats st;
    char q513[514];
    memset(q513, 'q', 513);
    q513[513] = 0;
    char data[4096];
    snprintf(data, sizeof data,
             "AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n"
             "1\tok\t2006-03-01 00:00:01\t\t\n"
             "1\tcaf\xe9\t2006-03-01 00:00:01\t\t\n"     /* invalid_utf8 */
             "1\tonly two\n"                             /* missing_field */
             "\tno user\t2006-03-01 00:00:01\t\t\n"      /* missing_field */
             "1\ta\tb\t2006-03-01\t\t\n"                 /* missing_field: 6 fields */
             "1\tq\t2006-13-01 00:00:01\t\t\n"           /* bad_time */
             "1\tq\t\t\t\n"                              /* bad_time */
             "1\tbe\x01ll\t2006-03-01 00:00:01\t\t\n"    /* control_char */
             "1\tc1\xc2\x80\t2006-03-01 00:00:01\t\t\n"  /* control_char */
             "1\t-\t2006-03-01 00:00:01\t\t\n"           /* empty */
             "1\t   \t2006-03-01 00:00:01\t\t\n"         /* empty */
             "\n"                                        /* empty */
             "1\t%s\t2006-03-01 00:00:01\t\t\n"          /* too_long */
             "2\tlast\t2006-03-01 00:00:02\t\t\n",
             q513);
    const char *p = write_tmp("bad.tsv", data, strlen(data));
    int n = read_all(p, QLOG_AUTO, NULL, g, 20, &st);
    assert_int_equal(n, 2);
    assert_string_equal(g[0].query, "ok");
    assert_string_equal(g[1].query, "last");
    assert_true(st.bad[QLOG_INVALID_UTF8] == 1);
    assert_true(st.bad[QLOG_MISSING_FIELD] == 3);
    assert_true(st.bad[QLOG_BAD_TIME] == 2);
    assert_true(st.bad[QLOG_CONTROL_CHAR] == 2);
    assert_true(st.bad[QLOG_EMPTY] == 3);
    assert_true(st.bad[QLOG_TOO_LONG] == 1);
    assert_true(st.bad[QLOG_BAD_COUNT] == 0);
    assert_true(st.lines == 15);

    p = WRITE("badc.tsv", "a\t1\nb\t-1\nc\tx\nd\tnan\ne\t1e999\nnotab\n\t5\nf\t2\n");
    n = read_all(p, QLOG_COUNTS, NULL, g, 20, &st);
    assert_int_equal(n, 2);
    assert_true(st.bad[QLOG_BAD_COUNT] == 4);
    assert_true(st.bad[QLOG_MISSING_FIELD] == 1);
    assert_true(st.bad[QLOG_EMPTY] == 1);

    /* Exactly 512 bytes is fine. */
    q513[512] = 0;
    snprintf(data, sizeof data, "%s\n", q513);
    p = write_tmp("q512.txt", data, strlen(data));
    assert_int_equal(read_all(p, QLOG_LINES, NULL, g, 20, &st), 1);
}

static void test_long_lines(void **state) {
    (void)state;
    /* A 1 MB line between two good ones, a line of exactly QLOG_MAX_LINE
     * bytes (good length, too long a query), one of QLOG_MAX_LINE + 1, and a
     * 1 MB final line without newline. */
    size_t big = 1 << 20;
    size_t cap = 3 * big + 3 * QLOG_MAX_LINE;
    char *d = malloc(cap);
    assert_non_null(d);
    size_t o = 0;
    memcpy(d + o, "first\n", 6), o += 6;
    memset(d + o, 'x', big), o += big;
    d[o++] = '\n';
    memcpy(d + o, "second\n", 7), o += 7;
    memset(d + o, 'y', QLOG_MAX_LINE), o += QLOG_MAX_LINE;
    d[o++] = '\n';
    memset(d + o, 'z', QLOG_MAX_LINE + 1), o += QLOG_MAX_LINE + 1;
    d[o++] = '\n';
    memcpy(d + o, "third\n", 6), o += 6;
    memset(d + o, 'w', big), o += big;
    const char *p = write_tmp("long.txt", d, o);
    free(d);
    got g[10];
    qlog_stats st;
    int n = read_all(p, QLOG_AUTO, NULL, g, 10, &st);
    assert_int_equal(n, 3);
    assert_string_equal(g[0].query, "first");
    assert_string_equal(g[1].query, "second");
    assert_true(g[1].line == 3);
    assert_string_equal(g[2].query, "third");
    assert_true(g[2].line == 6);
    assert_true(st.bad[QLOG_LINE_TOO_LONG] == 3);
    assert_true(st.bad[QLOG_TOO_LONG] == 1);
    assert_true(st.lines == 7);
    assert_true(st.bytes == o);
}

static void test_strict(void **state) {
    (void)state;
    const char *p = WRITE("strict.txt", "good\nbad\x01\nnever\n");
    char err[256];
    qlog *r = qlog_open(p, QLOG_LINES, QLOG_STRICT, err, sizeof err);
    assert_non_null(r);
    qlog_rec rec;
    assert_int_equal(qlog_next(r, &rec), 1);
    assert_int_equal(qlog_next(r, &rec), QLOG_EBAD);
    assert_non_null(strstr(qlog_error(r), "strict.txt:2: control_char"));
    qlog_close(r);
}

static void test_open_errors(void **state) {
    (void)state;
    char err[256];
    char path[600];
    snprintf(path, sizeof path, "%s/does-not-exist", tmpdir);
    assert_null(qlog_open(path, QLOG_AUTO, 0, err, sizeof err));
    assert_non_null(strstr(err, "does-not-exist"));
    assert_non_null(strstr(err, "No such file"));
    assert_null(qlog_open(tmpdir, QLOG_AUTO, 0, err, sizeof err));
    assert_non_null(strstr(err, "directory"));
}

static void test_names(void **state) {
    (void)state;
    qlog_format f;
    assert_int_equal(qlog_format_parse("aol", &f), 0);
    assert_int_equal(f, QLOG_AOL);
    assert_int_equal(qlog_format_parse("counts", &f), 0);
    assert_int_equal(f, QLOG_COUNTS);
    assert_int_equal(qlog_format_parse("lines", &f), 0);
    assert_int_equal(qlog_format_parse("csv", &f), -1);
    assert_string_equal(qlog_format_name(QLOG_COUNTS), "counts");
    assert_string_equal(qlog_reason_name(QLOG_LINE_TOO_LONG), "line_too_long");
    assert_string_equal(qlog_reason_name(QLOG_TOO_LONG), "too_long");
    qlog_stats a = {0}, b = {0};
    b.lines = 3;
    b.bad[QLOG_EMPTY] = 2;
    qlog_stats_add(&a, &b);
    qlog_stats_add(&a, &b);
    assert_true(a.lines == 6 && qlog_bad_total(&a) == 4);
    char buf[256];
    FILE *f2 = fmemopen(buf, sizeof buf, "w");
    assert_non_null(f2);
    qlog_print_stats(f2, "x", &a);
    fclose(f2);
    assert_string_equal(buf, "x: 6 lines, 0 records, 0 merged, 4 bad (empty 4)\n");
}

/* Many users interleaved: each user's repeated rows still merge. */
static void test_aol_interleaved_users(void **state) {
    (void)state;
    size_t cap = 1 << 20, o = 0;
    char *d = malloc(cap);
    assert_non_null(d);
    o += (size_t)snprintf(d, cap, "AnonID\tQuery\tQueryTime\tItemRank\tClickURL\n");
    for (int rep = 0; rep < 2; rep++)
        for (int u = 0; u < 3000; u++)
            o += (size_t)snprintf(d + o, cap - o, "%d\tquery %d\t2006-04-01 10:00:00\t1\thttp://x\n", u, u % 7);
    const char *p = write_tmp("many.tsv", d, o);
    free(d);
    qlog_stats st;
    got g[1];
    assert_int_equal(read_all(p, QLOG_AUTO, NULL, g, 1, &st), 3000);
    assert_true(st.merged == 3000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aol),
        cmocka_unit_test(test_counts_and_lines),
        cmocka_unit_test(test_crlf_and_no_final_newline),
        cmocka_unit_test(test_bad_reasons),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_aol_interleaved_users),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
