/* Tests for engine/proto: the text and RESP request parsers (table-driven,
 * every split point of a RESP frame) and the reply encoders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/proto/proto.h"

static proto_arg argv_store[PROTO_ARGS_CAP];

static void init(proto_parser *p, size_t max_line, int max_args, size_t max_bulk) {
    proto_limits lim = {max_line, max_args, max_bulk};
    proto_parser_init(p, &lim, argv_store);
}

/* Joins the args as "a|b|c" for comparison. */
static const char *joined(const proto_parser *p) {
    static char out[8192];
    size_t w = 0;
    for (int i = 0; i < p->argc; i++) {
        if (i) out[w++] = '|';
        memcpy(out + w, p->argv[i].p, p->argv[i].len);
        w += p->argv[i].len;
    }
    out[w] = 0;
    return out;
}

typedef struct text_case {
    const char *in;
    int rc;           /* PROTO_DONE / PROTO_MORE / PROTO_ERR */
    const char *args; /* joined, for DONE */
    int err, fatal;   /* for ERR */
} text_case;

static void test_text_table(void **state) {
    (void)state;
    static const text_case cases[] = {
        {"PING\n", PROTO_DONE, "PING", 0, 0},
        {"PING\r\n", PROTO_DONE, "PING", 0, 0},
        {"complete ne LIMIT 5\r\n", PROTO_DONE, "complete|ne|LIMIT|5", 0, 0},
        {"  a   b\t c  \r\n", PROTO_DONE, "a|b|c", 0, 0},
        {"COMPLETE \"new yo\"\r\n", PROTO_DONE, "COMPLETE|new yo", 0, 0},
        {"X \"a\\\"b\\\\c\"\n", PROTO_DONE, "X|a\"b\\c", 0, 0},
        {"X \"t\\tn\\nr\\r\"\n", PROTO_DONE, "X|t\tn\nr\r", 0, 0},
        {"X \"\\x41\\x6a\"\n", PROTO_DONE, "X|Aj", 0, 0},
        {"X \"\"\n", PROTO_DONE, "X|", 0, 0},
        {"X don't\n", PROTO_DONE, "X|don't", 0, 0},
        {"X a\"b\n", PROTO_DONE, "X|a\"b", 0, 0},
        {"\r\n", PROTO_DONE, "", 0, 0},
        {"   \n", PROTO_DONE, "", 0, 0},
        {"PING", PROTO_MORE, NULL, 0, 0},
        {"PING\r", PROTO_MORE, NULL, 0, 0},
        {"X \"abc\n", PROTO_ERR, NULL, ERR_SYNTAX, 0},
        {"X \"abc\\\"\n", PROTO_ERR, NULL, ERR_SYNTAX, 0},
        {"X \"\\x4\"\n", PROTO_ERR, NULL, ERR_SYNTAX, 0},
        {"X \"\\xZZ\"\n", PROTO_ERR, NULL, ERR_SYNTAX, 0},
        {"X \"\\x\n", PROTO_ERR, NULL, ERR_SYNTAX, 0},
        {"X \"\\q\"\n", PROTO_ERR, NULL, ERR_SYNTAX, 0},
        {"X \"a\"b\n", PROTO_ERR, NULL, ERR_SYNTAX, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proto_parser p;
        init(&p, 64, 8, 64);
        char buf[256];
        size_t n = strlen(cases[i].in);
        memcpy(buf, cases[i].in, n);
        int rc = proto_parse(&p, buf, n);
        if (rc != cases[i].rc) fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].in, rc, cases[i].rc);
        if (rc == PROTO_DONE) {
            assert_string_equal(joined(&p), cases[i].args);
            assert_int_equal(p.consumed, n);
            assert_int_equal(p.kind, PROTO_TEXT);
        } else if (rc == PROTO_ERR) {
            assert_int_equal(p.err, cases[i].err);
            assert_int_equal(p.fatal, cases[i].fatal);
            assert_int_equal(p.consumed, n);
        }
    }
}

static void test_text_pipeline_and_limits(void **state) {
    (void)state;
    proto_parser p;
    init(&p, 16, 4, 64);
    char buf[256];
    strcpy(buf, "A 1\r\nB \"2 3\"\nC\r\n");
    size_t len = strlen(buf), pos = 0;
    const char *want[] = {"A|1", "B|2 3", "C"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(proto_parse(&p, buf + pos, len - pos), PROTO_DONE);
        assert_string_equal(joined(&p), want[i]);
        pos += p.consumed;
    }
    assert_int_equal(pos, len);
    assert_int_equal(proto_parse(&p, buf + pos, 0), PROTO_MORE);

    /* a line over max-line whose newline arrived: error, connection usable */
    strcpy(buf, "COMPLETE aaaaaaaaaaaaaaaaaaaa\nPING\n");
    len = strlen(buf);
    assert_int_equal(proto_parse(&p, buf, len), PROTO_ERR);
    assert_int_equal(p.err, ERR_TOOLONG);
    assert_int_equal(p.fatal, 0);
    assert_int_equal(p.consumed, 30);
    assert_int_equal(proto_parse(&p, buf + 30, len - 30), PROTO_DONE);
    assert_string_equal(joined(&p), "PING");

    /* exactly max-line bytes plus \r\n is fine, also when the \n is late */
    init(&p, 16, 4, 64);
    strcpy(buf, "PING 01234567890\r\n");
    assert_int_equal(proto_parse(&p, buf, 16), PROTO_MORE);
    assert_int_equal(proto_parse(&p, buf, 17), PROTO_MORE);
    assert_int_equal(proto_parse(&p, buf, 18), PROTO_DONE);
    assert_string_equal(joined(&p), "PING|01234567890");

    /* no newline within max-line: fatal */
    init(&p, 16, 4, 64);
    memset(buf, 'a', 40);
    assert_int_equal(proto_parse(&p, buf, 10), PROTO_MORE);
    assert_int_equal(proto_parse(&p, buf, 40), PROTO_ERR);
    assert_int_equal(p.err, ERR_TOOLONG);
    assert_int_equal(p.fatal, 1);

    /* too many words */
    init(&p, 64, 3, 64);
    strcpy(buf, "a b c d\n");
    assert_int_equal(proto_parse(&p, buf, strlen(buf)), PROTO_ERR);
    assert_int_equal(p.err, ERR_LIMIT);
    assert_int_equal(p.fatal, 0);
}

/* A RESP frame fed in two parts at every split point parses the same. */
static void test_resp_every_split(void **state) {
    (void)state;
    const char *frame = "*3\r\n$8\r\nCOMPLETE\r\n$6\r\nnew yo\r\n$0\r\n\r\n";
    size_t n = strlen(frame);
    for (size_t cut = 0; cut <= n; cut++) {
        proto_parser p;
        init(&p, 64, 8, 64);
        char *buf = malloc(n + 1);
        memcpy(buf, frame, cut);
        int rc = proto_parse(&p, buf, cut);
        if (cut < n) assert_int_equal(rc, PROTO_MORE);
        /* the caller may move its buffer between calls */
        char *moved = malloc(n + 1);
        memcpy(moved, buf, cut);
        memcpy(moved + cut, frame + cut, n - cut);
        free(buf);
        /* byte by byte from the cut on */
        for (size_t k = cut; k < n; k++) assert_int_equal(proto_parse(&p, moved, k), PROTO_MORE);
        assert_int_equal(proto_parse(&p, moved, n), PROTO_DONE);
        assert_int_equal(p.kind, PROTO_RESP);
        assert_int_equal(p.consumed, n);
        assert_int_equal(p.argc, 3);
        assert_string_equal(joined(&p), "COMPLETE|new yo|");
        free(moved);
    }
}

typedef struct resp_case {
    const char *in;
    int rc, err, fatal;
} resp_case;

static void test_resp_errors(void **state) {
    (void)state;
    static const resp_case cases[] = {
        {"*2147483647\r\n", PROTO_ERR, ERR_LIMIT, 1},
        {"*99999999999999999999999\r\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*-1\r\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*x\r\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*\r\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*1\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*1\r\n:5\r\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*1\r\n+OK\r\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*1\r\n$-1\r\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*1\r\n$99999999999999999999\r\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*1\r\n$65\r\n", PROTO_ERR, ERR_LIMIT, 1},
        {"*1\r\n$4\r\nPINGxx", PROTO_ERR, ERR_SYNTAX, 1},
        {"*1\r\n$4\r\nPING\n\n", PROTO_ERR, ERR_SYNTAX, 1},
        {"*1\r\n$4\r\nPING", PROTO_MORE, 0, 0},
        {"*1\r\n$4\r\nPING\r", PROTO_MORE, 0, 0},
        {"*00000000000000000000000000001\r\n", PROTO_ERR, ERR_SYNTAX, 1}, /* header line too long */
        {"*0\r\n", PROTO_DONE, 0, 0},
        {"*1\r\n$4\r\nPING\r\n", PROTO_DONE, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proto_parser p;
        init(&p, 64, 8, 64);
        char buf[256];
        size_t n = strlen(cases[i].in);
        memcpy(buf, cases[i].in, n);
        int rc = proto_parse(&p, buf, n);
        if (rc != cases[i].rc) fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
        if (rc == PROTO_ERR) {
            if (p.err != cases[i].err) fail_msg("case %zu: err %d, want %d", i, p.err, cases[i].err);
            assert_int_equal(p.fatal, cases[i].fatal);
            assert_int_equal(p.kind, PROTO_RESP);
        }
    }
    /* the parser is reusable after an error */
    proto_parser p;
    init(&p, 64, 8, 64);
    char buf[64];
    strcpy(buf, "*1\r\n:1\r\n");
    assert_int_equal(proto_parse(&p, buf, strlen(buf)), PROTO_ERR);
    strcpy(buf, "*1\r\n$4\r\nPING\r\n");
    assert_int_equal(proto_parse(&p, buf, strlen(buf)), PROTO_DONE);
    assert_string_equal(joined(&p), "PING");
}

static void test_resp_binary_and_pipeline(void **state) {
    (void)state;
    proto_parser p;
    init(&p, 64, 8, 64);
    char buf[64];
    static const char two[] = "*2\r\n$1\r\nX\r\n$3\r\na\r\n\r\n*1\r\n$1\r\nY\r\n";
    const size_t tl = sizeof two - 1;
    memcpy(buf, two, tl);
    assert_int_equal(proto_parse(&p, buf, tl), PROTO_DONE);
    assert_int_equal(p.argv[1].len, 3);
    assert_memory_equal(p.argv[1].p, "a\r\n", 3);
    size_t c = p.consumed;
    assert_int_equal(proto_parse(&p, buf + c, tl - c), PROTO_DONE);
    assert_string_equal(joined(&p), "Y");
    /* more elements than max-args */
    init(&p, 64, 2, 64);
    strcpy(buf, "*3\r\n");
    assert_int_equal(proto_parse(&p, buf, 4), PROTO_ERR);
    assert_int_equal(p.err, ERR_LIMIT);
}

static void test_replies(void **state) {
    (void)state;
    qbuf b;
    qbuf_init(&b);
#define EXPECT(s) \
    do { \
        assert_int_equal(b.len, strlen(s)); \
        assert_memory_equal(b.data, s, b.len); \
        qbuf_reset(&b); \
    } while (0)
    proto_reply_ok(&b, PROTO_TEXT);
    EXPECT("OK\r\n");
    proto_reply_ok(&b, PROTO_RESP);
    EXPECT("+OK\r\n");
    proto_reply_int(&b, PROTO_TEXT, -42);
    EXPECT("OK -42\r\n");
    proto_reply_int(&b, PROTO_RESP, 0);
    EXPECT(":0\r\n");
    proto_reply_bulk(&b, PROTO_RESP, "ab", 2);
    EXPECT("$2\r\nab\r\n");
    proto_reply_bulk(&b, PROTO_RESP, "a\r\nb", 4); /* RESP is length-framed: bytes as they are */
    EXPECT("$4\r\na\r\nb\r\n");
    proto_reply_bulk(&b, PROTO_TEXT, "a\r\nOK 5\x7f", 8); /* text: one line, whatever PING echoes */
    EXPECT("OK a??OK 5?\r\n");
    proto_reply_list_head(&b, PROTO_RESP, 12);
    EXPECT("*12\r\n");
    proto_reply_list_head(&b, PROTO_TEXT, 3);
    EXPECT("OK 3\r\n");
    proto_reply_suggestion(&b, PROTO_TEXT, "new york", 8, 100, 0, PROTO_NO_EDITS);
    EXPECT("new york\t100\r\n");
    proto_reply_suggestion(&b, PROTO_RESP, "ny", 2, 2.5, 1, PROTO_NO_EDITS);
    EXPECT("$2\r\nny\r\n$3\r\n2.5\r\n");
    proto_reply_suggestion(&b, PROTO_RESP, "ny", 2, 2.5, 0, PROTO_NO_EDITS);
    EXPECT("$2\r\nny\r\n");
    proto_reply_suggestion(&b, PROTO_TEXT, "ny", 2, 5, 1, 2); /* WITHEDITS */
    EXPECT("ny\t5\t2\r\n");
    proto_reply_suggestion(&b, PROTO_RESP, "ny", 2, 5, 1, 0);
    EXPECT("$2\r\nny\r\n$1\r\n5\r\n:0\r\n");
    proto_reply_suggestion(&b, PROTO_RESP, "ny", 2, 5, 0, 1);
    EXPECT("$2\r\nny\r\n:1\r\n");
    proto_reply_suggestion(&b, PROTO_TEXT, "ny", 2, 5, 1, -2); /* a class the work limit cut */
    EXPECT("ny\t5\t-2\r\n");
    proto_reply_suggestion(&b, PROTO_RESP, "ny", 2, 5, 0, -1);
    EXPECT("$2\r\nny\r\n:-1\r\n");
    proto_reply_error(&b, PROTO_TEXT, ERR_UTF8, "invalid UTF-8");
    EXPECT("ERR UTF8 invalid UTF-8\r\n");
    proto_reply_error(&b, PROTO_RESP, ERR_LIMIT, "max-clients reached");
    EXPECT("-ERR LIMIT max-clients reached\r\n");
    proto_reply_error_arg(&b, PROTO_TEXT, ERR_UNKNOWN, "unknown command", "a\r\nb", 4);
    EXPECT("ERR UNKNOWN unknown command 'a??b'\r\n");
    qbuf_free(&b);
    char num[32];
    struct { double v; const char *s; } sc[] = {
        {0, "0"}, {-0.0, "0"}, {1, "1"}, {-7, "-7"}, {1e15, "1000000000000000"}, {0.1, "0.1"},
        {2.5, "2.5"}, {1e300, "1e+300"}, {-1.5, "-1.5"}, {1.0 / 3, "0.3333333333333333"},
    };
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        size_t n = proto_fmt_score(num, sc[i].v);
        assert_int_equal(n, strlen(sc[i].s));
        assert_string_equal(num, sc[i].s);
        assert_true(strtod(num, NULL) == sc[i].v);
    }
    for (int i = 0; i < ERR__COUNT; i++) assert_string_not_equal(proto_err_name(i), "INTERNAL");
}

/* COMPLETE ... WITHMATCH's element: round trips, the widest form fits
 * PROTO_MATCH_MAX, garbage is refused, and it joins a suggestion's line. */
static void test_match(void **state) {
    (void)state;
    char buf[PROTO_MATCH_MAX];
    uint32_t ws[16], we[16], s2[16], e2[16], end;
    for (int i = 0; i < 16; i++) ws[i] = UINT32_MAX - 1, we[i] = UINT32_MAX;
    size_t n = proto_match_fmt(buf, UINT32_MAX, 16, ws, we);
    assert_true(n < PROTO_MATCH_MAX);
    assert_int_equal(proto_match_parse(buf, n, &end, s2, e2, 16), 16);
    assert_true(end == UINT32_MAX && s2[15] == UINT32_MAX - 1 && e2[15] == UINT32_MAX);
    assert_int_equal(proto_match_parse(buf, n, &end, s2, e2, 15), -1); /* more words than room */
    n = proto_match_fmt(buf, 5, -1, NULL, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(proto_match_parse(buf, n, &end, s2, e2, 16), 0);
    assert_int_equal(end, 5);
    uint32_t a[] = {0, 9}, b[] = {3, 14};
    n = proto_match_fmt(buf, 0, 2, a, b);
    assert_string_equal(buf, "0 0-3 9-14");
    assert_int_equal(proto_match_parse(buf, n, &end, s2, e2, 16), 2);
    assert_true(end == 0 && s2[1] == 9 && e2[1] == 14);
    const char *bad[] = {"", "x", "5 ", "5 3", "5 3-", "5 3-2", "5  1-2", "-1", "4294967296", "5 1-2x", "5\t1-2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(proto_match_parse(bad[i], strlen(bad[i]), &end, s2, e2, 16), -1);
    qbuf o;
    qbuf_init(&o);
    proto_reply_suggestion(&o, PROTO_TEXT, "New York", 8, 7, 1, 0);
    proto_reply_match(&o, PROTO_TEXT, "5", 1);
    assert_int_equal(o.len, strlen("New York\t7\t0\t5\r\n"));
    assert_memory_equal(o.data, "New York\t7\t0\t5\r\n", o.len);
    qbuf_reset(&o);
    proto_reply_suggestion(&o, PROTO_RESP, "ny", 2, 7, 0, PROTO_NO_EDITS);
    proto_reply_match(&o, PROTO_RESP, "0 0-2", 5);
    assert_int_equal(o.len, strlen("$2\r\nny\r\n$5\r\n0 0-2\r\n"));
    assert_memory_equal(o.data, "$2\r\nny\r\n$5\r\n0 0-2\r\n", o.len);
    qbuf_free(&o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_table),       cmocka_unit_test(test_text_pipeline_and_limits),
        cmocka_unit_test(test_resp_every_split), cmocka_unit_test(test_resp_errors),
        cmocka_unit_test(test_resp_binary_and_pipeline), cmocka_unit_test(test_replies),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
