/* Tests for common/log: the key=value line (ts, level, event, the caller's
 * pairs), quoting and escaping of every %s value, the conversions the call
 * sites use, the level filter, and the line's capacity (LOG_LINE_MAX). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Every test writes to a fresh pipe and reads back what came out. */
static int pfd[2];
static char out[4 * LOG_LINE_MAX];

static int setup(void **state) {
    (void)state;
    assert_int_equal(pipe(pfd), 0);
    log_set_fd(pfd[1]);
    log_set_level(LOG_INFO);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    log_set_fd(2);
    log_set_level(LOG_INFO);
    close(pfd[0]);
    close(pfd[1]);
    return 0;
}

/* Reads what was written so far (the pipe is never filled past its buffer). */
static const char *drain(void) {
    close(pfd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(pfd[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
    out[n] = 0;
    close(pfd[0]);
    assert_int_equal(pipe(pfd), 0);
    log_set_fd(pfd[1]);
    return out;
}

/* The line without its "ts=... " head, checked on the way. */
static const char *body(const char *line) {
    regex_t re;
    assert_int_equal(regcomp(&re, "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ", REG_EXTENDED), 0);
    regmatch_t m;
    int rc = regexec(&re, line, 1, &m, 0);
    regfree(&re);
    if (rc != 0) fail_msg("no ts= head: [%s]", line);
    return line + m.rm_eo;
}

static void test_line_shape(void **state) {
    (void)state;
    LOG_I("server.listening", "bind=%s port=%d protocol=%s", "127.0.0.1", 7700, "text");
    assert_string_equal(body(drain()), "level=info event=server.listening bind=127.0.0.1 port=7700 protocol=text\n");
    LOG_W("a.b", "%s", "");
    assert_string_equal(body(drain()), "level=warn event=a.b \"\"\n");
    LOG_E("journal.fsync_recovered", "msg=\"works again\"");
    assert_string_equal(body(drain()), "level=error event=journal.fsync_recovered msg=\"works again\"\n");
    log_event(LOG_INFO, "only.event", "%s", "x");
    assert_string_equal(body(drain()), "level=info event=only.event x\n");
}

static void test_quoting(void **state) {
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "plain"},
        {"", "\"\""},
        {"two words", "\"two words\""},
        {"a=b", "\"a=b\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"back\\slash", "\"back\\\\slash\""},
        {"line\nbreak", "\"line\\nbreak\""},
        {"tab\tcr\r", "\"tab\\tcr\\r\""},
        {"bell\x07", "\"bell\\x07\""},
        {"del\x7f", "\"del\\x7f\""},
        {"caf\xc3\xa9", "caf\xc3\xa9"},                       /* UTF-8 passes as it is */
        {"caf\xc3\xa9 cr\xc3\xa8me", "\"caf\xc3\xa9 cr\xc3\xa8me\""},
        {"bad\xff", "\"bad\\xff\""},                           /* not UTF-8: every high byte escaped */
        {"mix\xc3\xa9\xff", "\"mix\\xc3\\xa9\\xff\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        LOG_I("q", "v=%s", cases[i].in);
        char want[256];
        snprintf(want, sizeof want, "level=info event=q v=%s\n", cases[i].want);
        assert_string_equal(body(drain()), want);
    }
    /* a value cannot forge a second event: one line, one newline */
    LOG_W("client.closed", "peer=%s", "x\nts=2026-01-01T00:00:00.000Z level=error event=forged");
    const char *s = drain();
    assert_ptr_equal(strchr(s, '\n'), s + strlen(s) - 1);
    assert_non_null(strstr(s, "peer=\"x\\nts=2026-01-01T00:00:00.000Z level=error event=forged\""));
    /* NULL prints as a word, not a crash */
    const char *volatile none = NULL; /* hidden from the compiler's format check */
    LOG_I("q", "v=%s", none);
    assert_string_equal(body(drain()), "level=info event=q v=(null)\n");
}

static void test_conversions(void **state) {
    (void)state;
    LOG_I("c", "a=%llu b=%zu c=%d d=%.1f e=%u f=%lld g=%x h=%%", 18446744073709551615ULL, (size_t)42, -7, 2.25,
          4000000000u, -9000000000LL, 255u);
    assert_string_equal(body(drain()),
                        "level=info event=c a=18446744073709551615 b=42 c=-7 d=2.2 e=4000000000 f=-9000000000 g=ff h=%\n");
    LOG_I("c", "w=%*d p=%.*s q=%.3s r=%c s=%05.1f t=%ld", 4, 7, 2, "abcdef", "wxyz", 'k', 3.14159, -5L);
    assert_string_equal(body(drain()), "level=info event=c w=   7 p=ab q=wxy r=k s=003.1 t=-5\n");
    /* a precision cuts before quoting: the cut part is what is judged */
    LOG_I("c", "v=%.3s", "ab cd");
    assert_string_equal(body(drain()), "level=info event=c v=\"ab \"\n");
}

static void test_levels(void **state) {
    (void)state;
    LOG_D("d", "x=1");
    assert_string_equal(drain(), "");
    log_set_level(LOG_DEBUG);
    LOG_D("d", "x=1");
    assert_string_equal(body(drain()), "level=debug event=d x=1\n");
    log_set_level(LOG_WARN);
    LOG_I("i", "x=1");
    LOG_W("w", "x=1");
    assert_string_equal(body(drain()), "level=warn event=w x=1\n");
    log_set_level(LOG_OFF);
    LOG_E("e", "x=1");
    assert_string_equal(drain(), "");
    assert_int_equal(log_level_parse("WARN"), LOG_WARN);
    assert_int_equal(log_level_parse("off"), LOG_OFF);
    assert_int_equal(log_level_parse("warning"), -1);
    assert_int_equal(log_level_parse(""), -1);
}

/* A line past LOG_LINE_MAX is cut, keeps its closing quote and says so. */
static void test_capacity(void **state) {
    (void)state;
    static char big[3 * LOG_LINE_MAX];
    for (size_t fill = 0; fill < 2; fill++) {
        memset(big, fill ? 'x' : ' ', sizeof big - 1); /* unquoted, then quoted */
        big[sizeof big - 1] = 0;
        LOG_W("big", "v=%s tail=1", big);
        const char *s = drain();
        size_t n = strlen(s);
        assert_true(n <= LOG_LINE_MAX);
        assert_true(n > LOG_LINE_MAX - 40);
        assert_string_equal(s + n - strlen(" truncated=1\n"), " truncated=1\n");
        assert_null(strstr(s, "tail=1"));
        if (fill == 0) assert_int_equal(s[n - strlen(" truncated=1\n") - 1], '"');
    }
    /* every escape is whole: a value of newlines is cut between two escapes */
    memset(big, '\n', sizeof big - 1);
    LOG_W("big", "v=%s", big);
    const char *s = drain();
    size_t n = strlen(s), end = n - strlen(" truncated=1\n");
    assert_int_equal(s[end - 1], '"');
    assert_true(s[end - 2] == 'n' && s[end - 3] == '\\');
    /* a line of exactly the capacity is not marked */
    char fit[LOG_LINE_MAX];
    LOG_W("fit", "v=x");
    size_t head = strlen(drain()) - 2; /* the line without "x\n" */
    size_t room = LOG_LINE_MAX - strlen(" truncated=1") - 1 - head;
    memset(fit, 'y', room);
    fit[room] = 0;
    LOG_W("fit", "v=%s", fit);
    s = drain();
    assert_null(strstr(s, "truncated=1"));
    assert_int_equal(strlen(s), LOG_LINE_MAX - strlen(" truncated=1"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_line_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conversions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capacity, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
