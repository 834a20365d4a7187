/* Tests for common/cli: the option tables of the offline subcommands over
 * getopt_long -- the accepted syntax, the refused abbreviations, and the
 * wording and exit status of every syntax error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/util.h"

enum { O_DIMS = 256, O_QUIET, O_QUOTA };
static const cli_opt opts[] = {
    {'o', "output", CLI_VALUE}, {'i', "index", CLI_VALUE},   {'k', NULL, CLI_VALUE},
    {O_DIMS, "dims", CLI_VALUE}, {O_QUIET, "quiet", CLI_FLAG}, {O_QUOTA, "quota", CLI_VALUE},
};

static int usage_calls;
static void usage(FILE *f) {
    usage_calls += f == stdout;
}

/* Reads what was written to fd 2 since capture() into buf (last newline dropped). */
static int saved_fd = -1;
static char errpath[] = "/tmp/test_cli_XXXXXX";
static void capture(void) {
    fflush(stderr);
    int fd = mkstemp(errpath);
    assert_true(fd >= 0);
    saved_fd = dup(2);
    dup2(fd, 2);
    close(fd);
}
static void release(char *buf, size_t cap) {
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    unlink(errpath);
    strcpy(errpath, "/tmp/test_cli_XXXXXX");
    buf[n] = 0;
    if (n && buf[n - 1] == '\n') buf[n - 1] = 0;
}

/* Parses words (NULL-terminated, after the command name "x") and describes
 * the outcome: "opt=value ... | operand ...", or "exit N" plus the stderr line. */
static const char *run(const char *const *words) {
    static char out[1024];
    char *argv[32], *owned[32]; /* getopt_long permutes argv: keep the copies to free */
    int argc = 0;
    argv[argc++] = strdup("x");
    for (; *words; words++) argv[argc++] = strdup(*words);
    argv[argc] = NULL;
    memcpy(owned, argv, (size_t)argc * sizeof *argv);
    cli c;
    cli_init(&c, "x", usage, opts, ARRAY_LEN(opts), argc, argv);
    qbuf b;
    qbuf_init(&b);
    capture();
    int o;
    while ((o = cli_getopt(&c)) >= 0) {
        if (b.len) qbuf_putc(&b, ' ');
        qbuf_printf(&b, "%s", c.opt);
        if (c.val) qbuf_printf(&b, "=%s", c.val);
    }
    char err[512];
    release(err, sizeof err);
    if (o == CLI_EXIT) {
        snprintf(out, sizeof out, "exit %d%s%s", c.status, *err ? ": " : "", err);
    } else {
        qbuf_puts(&b, " |");
        for (int i = c.ind; i < argc; i++) qbuf_printf(&b, " %s", argv[i]);
        snprintf(out, sizeof out, "%.*s", (int)b.len, b.data);
        assert_string_equal(err, "");
    }
    qbuf_free(&b);
    for (int i = 0; i < argc; i++) free(owned[i]);
    return out;
}
#define RUN(...) run((const char *const[]){__VA_ARGS__, NULL})

static void test_syntax(void **state) {
    (void)state;
    /* both value forms, short and long; the option is named as "--name" or "-x" */
    assert_string_equal(RUN("-o", "X", "--dims", "8", "log"), "-o=X --dims=8 | log");
    assert_string_equal(RUN("--output=X", "--dims=8", "log"), "--output=X --dims=8 | log");
    assert_string_equal(RUN("-oX", "-k5", "log"), "-o=X -k=5 | log");
    assert_string_equal(RUN("--dims=", "--output", "-", "log"), "--dims= --output=- | log");
    assert_string_equal(RUN("--quiet", "log"), "--quiet | log");
    /* options after operands; operands keep their order */
    assert_string_equal(RUN("a", "-o", "X", "b", "--quiet", "c"), "-o=X --quiet | a b c");
    /* "--" ends the options; "-" is an operand */
    assert_string_equal(RUN("-i", "IDX", "--dims", "3", "--", "-log", "--quiet"), "-i=IDX --dims=3 | -log --quiet");
    assert_string_equal(RUN("-", "-o", "X"), "-o=X | -");
    /* a value is taken as is, even when it looks like an option */
    assert_string_equal(RUN("-o", "--quiet", "log"), "-o=--quiet | log");
    assert_string_equal(RUN("log"), " | log");
}

static void test_help(void **state) {
    (void)state;
    usage_calls = 0;
    assert_string_equal(RUN("--help"), "exit 0");
    assert_string_equal(RUN("-o", "X", "-h"), "exit 0");
    assert_string_equal(RUN("log", "--help"), "exit 0"); /* anywhere */
    assert_int_equal(usage_calls, 3);
    assert_string_equal(RUN("--help=1"), "exit 2: qac x: --help takes no value; see 'qac x --help'");
    assert_string_equal(RUN("--he"), "exit 2: qac x: unknown option '--he'; see 'qac x --help'");
    assert_int_equal(usage_calls, 3);
}

static void test_errors(void **state) {
    (void)state;
    assert_string_equal(RUN("--bogus", "log"), "exit 2: qac x: unknown option '--bogus'; see 'qac x --help'");
    assert_string_equal(RUN("--bogus=1", "log"), "exit 2: qac x: unknown option '--bogus=1'; see 'qac x --help'");
    assert_string_equal(RUN("-z", "log"), "exit 2: qac x: unknown option '-z'; see 'qac x --help'");
    /* inside a cluster: the letter, not a neighbouring argument */
    assert_string_equal(RUN("-o", "X", "-zy", "log"), "exit 2: qac x: unknown option '-z'; see 'qac x --help'");
    assert_string_equal(RUN("log", "--dims"), "exit 2: qac x: --dims needs a value; see 'qac x --help'");
    assert_string_equal(RUN("-o"), "exit 2: qac x: -o needs a value; see 'qac x --help'");
    assert_string_equal(RUN("--output"), "exit 2: qac x: --output needs a value; see 'qac x --help'");
    assert_string_equal(RUN("--quiet=1", "log"), "exit 2: qac x: --quiet takes no value; see 'qac x --help'");
    /* a short-only option has no long form */
    assert_string_equal(RUN("--k", "5", "log"), "exit 2: qac x: unknown option '--k'; see 'qac x --help'");
    /* a fresh scan after an error inside a cluster */
    assert_string_equal(RUN("-k", "1", "log"), "-k=1 | log");
}

static void test_no_abbreviations(void **state) {
    (void)state;
    assert_string_equal(RUN("--out", "X", "log"), "exit 2: qac x: unknown option '--out'; see 'qac x --help'");
    assert_string_equal(RUN("--out=X", "log"), "exit 2: qac x: unknown option '--out=X'; see 'qac x --help'");
    assert_string_equal(RUN("--di"), "exit 2: qac x: unknown option '--di'; see 'qac x --help'");
    assert_string_equal(RUN("--quie=1"), "exit 2: qac x: unknown option '--quie=1'; see 'qac x --help'");
    assert_string_equal(RUN("--qu", "log"), "exit 2: qac x: unknown option '--qu'; see 'qac x --help'"); /* ambiguous */
    assert_string_equal(RUN("--quot", "1"), "exit 2: qac x: unknown option '--quot'; see 'qac x --help'");
    assert_string_equal(RUN("--quota", "1", "log"), "--quota=1 | log");
}

static void test_cli_error(void **state) {
    (void)state;
    char name[] = "load", *argv[] = {name, NULL};
    cli c;
    cli_init(&c, "load", usage, opts, ARRAY_LEN(opts), 1, argv);
    capture();
    int rc = cli_error(&c, "--batch wants 1..%d, not '%s'", 100, "0");
    char err[512];
    release(err, sizeof err);
    assert_int_equal(rc, 2);
    assert_string_equal(err, "qac load: --batch wants 1..100, not '0'; see 'qac load --help'");
    assert_int_equal(cli_getopt(&c), CLI_END);
    assert_int_equal(c.ind, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syntax), cmocka_unit_test(test_help), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_abbreviations), cmocka_unit_test(test_cli_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
