/* Unit tests of access control (requirepass) in the commands (engine/cmd.c),
 * the settings (engine/config.c) and the error encoding (engine/proto/proto.c), in
 * process: which commands answer NOAUTH before AUTH, AUTH's forms and
 * errors, the per-connection failure limit, the counters, the secret kept
 * out of CONFIG GET, path arguments refused, the setting's limits, the
 * environment variable and the flag hidden in argv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "engine/cmd.h"
#include "engine/config.h"
#include "trie/trie.h"

#define S(x) x, sizeof(x) - 1
#define PW "s3cret"

typedef struct fx {
    trie *t;
    srv_config cfg;
    eng e;
    qbuf out;
    int flags;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    f->t = trie_new();
    trie_set(f->t, S("netflix"), S("Netflix"), 90, NULL);
    config_defaults(&f->cfg);
    char err[200];
    assert_int_equal(config_set(&f->cfg, "requirepass", PW, err, sizeof err), 0);
    assert_int_equal(config_set(&f->cfg, "auth-max-failures", "3", err, sizeof err), 0);
    eng_init(&f->e, f->t, &f->cfg);
    qbuf_init(&f->out);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    qbuf_free(&f->out);
    config_free(&f->cfg);
    trie_free(f->t);
    free(f);
    return 0;
}

static const char *run(fx *f, int kind, int argc, const char **words) {
    proto_arg argv[16];
    for (int i = 0; i < argc; i++) argv[i] = (proto_arg){.p = words[i], .len = strlen(words[i])};
    qbuf_reset(&f->out);
    assert_true(eng_exec(&f->e, kind, argc, argv, &f->out, &f->flags) >= 0);
    assert_int_equal(qbuf_putc(&f->out, 0), 0);
    return f->out.data;
}
#define N(...) (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), (const char *[]){__VA_ARGS__}
#define RESP(f, ...) run(f, PROTO_RESP, N(__VA_ARGS__))
#define TEXT(f, ...) run(f, PROTO_TEXT, N(__VA_ARGS__))

static void test_noauth_and_public(void **state) {
    fx *f = *state;
    const char *noauth = "-NOAUTH Authentication required.\r\n";
    assert_string_equal(RESP(f, "ADD", "x", "1"), noauth);
    assert_string_equal(RESP(f, "INCR", "netflix"), noauth);
    assert_string_equal(RESP(f, "DEL", "netflix"), noauth);
    assert_string_equal(RESP(f, "ACCEPT", "netflix"), noauth);
    assert_string_equal(RESP(f, "SAVE"), noauth);
    assert_string_equal(RESP(f, "RELOAD"), noauth);
    assert_string_equal(RESP(f, "STATS"), noauth);
    assert_string_equal(RESP(f, "INFO"), noauth);
    assert_string_equal(RESP(f, "CONFIG", "GET", "*"), noauth);
    /* checked before the arguments, as Redis does: no information without AUTH */
    assert_string_equal(RESP(f, "SAVE", "/tmp/x"), noauth);
    assert_string_equal(TEXT(f, "ADD", "x", "1"), "ERR NOAUTH Authentication required.\r\n");
    assert_int_equal(f->e.stats.auth_refused, 11);
    assert_int_equal(f->e.stats.errs[ERR_NOAUTH], 11);
    /* public: nothing changed, reads work */
    assert_string_equal(RESP(f, "GET", "netflix"), "$2\r\n90\r\n");
    assert_string_equal(RESP(f, "COMPLETE", "net"), "*1\r\n$7\r\nNetflix\r\n");
    assert_string_equal(RESP(f, "PING"), "+PONG\r\n");
    assert_string_equal(TEXT(f, "HELP", "AUTH"),
                        "OK 2\r\nAUTH [default] <password>\r\nauthenticate this connection (requirepass): needed "
                        "for changes, SAVE, RELOAD, STATS, CONFIG\r\n");
    assert_int_equal(trie_count(f->t), 1);
    assert_true(eng_auth_required(&f->e));
    assert_int_equal(f->e.stats.auth_required, 1);
}

static void test_auth_forms(void **state) {
    fx *f = *state;
    const char *wrong = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_string_equal(RESP(f, "AUTH", "s3cre"), wrong);  /* a prefix */
    assert_string_equal(RESP(f, "AUTH", "s3cretx"), wrong); /* one byte more */
    assert_false(f->e.client->authed);
    assert_string_equal(RESP(f, "AUTH", "admin", PW), /* right password, unknown user: the third failure */
                        "-WRONGPASS invalid username-password pair or user is disabled; too many failures, closing "
                        "the connection\r\n");
    assert_false(f->e.client->authed);
    assert_true(f->flags & ENG_CLOSE); /* the third failure reaches auth-max-failures 3 */
    assert_int_equal(f->e.client->auth_fails, 3);
    assert_int_equal(f->e.stats.auth_failures, 3);
    assert_int_equal(f->e.stats.auth_ok, 0);
    f->e.client->auth_fails = 0; /* a new connection */
    assert_string_equal(RESP(f, "AUTH", "default", PW), "+OK\r\n");
    assert_true(f->e.client->authed);
    assert_int_equal(f->e.stats.auth_ok, 1);
    assert_string_equal(RESP(f, "INCR", "netflix"), "$2\r\n91\r\n");
    f->e.client->authed = 0;
    assert_string_equal(TEXT(f, "AUTH", PW), "OK\r\n");
    assert_string_equal(TEXT(f, "DEL", "netflix"), "OK 1\r\n");
    /* path arguments are refused even when authenticated; nothing written */
    assert_string_equal(TEXT(f, "SAVE", "/tmp/qac-test-auth-x"), "ERR ARGS wrong number of arguments; see HELP\r\n");
    assert_string_equal(TEXT(f, "RELOAD", "/etc/passwd"), "ERR ARGS wrong number of arguments; see HELP\r\n");
    assert_string_equal(TEXT(f, "CONFIG", "SET", "save"), "ERR ARGS only CONFIG GET <pattern> is supported\r\n");
    /* the secret never leaves: CONFIG GET does not list it */
    assert_string_equal(RESP(f, "CONFIG", "GET", "requirepass"), "*0\r\n");
    assert_string_equal(RESP(f, "CONFIG", "GET", "auth-*"), "*2\r\n$17\r\nauth-max-failures\r\n$1\r\n3\r\n");
    assert_null(strstr(RESP(f, "CONFIG", "GET", "*"), PW));
    assert_string_equal(RESP(f, "AUTH"), "-ERR ARGS wrong number of arguments; see HELP\r\n");
}

static void test_failure_limit_closes(void **state) {
    fx *f = *state;
    assert_string_equal(TEXT(f, "AUTH", "a"), "ERR WRONGPASS invalid username-password pair or user is disabled.\r\n");
    assert_false(f->flags & ENG_CLOSE);
    TEXT(f, "AUTH", "b");
    assert_false(f->flags & ENG_CLOSE);
    assert_string_equal(TEXT(f, "AUTH", "c"), "ERR WRONGPASS invalid username-password pair or user is disabled; too "
                                              "many failures, closing the connection\r\n");
    assert_true(f->flags & ENG_CLOSE);
}

static void test_check_constant_shape(void **state) {
    fx *f = *state;
    assert_int_equal(eng_auth_check(&f->e, S(PW)), 1);
    assert_int_equal(eng_auth_check(&f->e, S("")), 0);
    assert_int_equal(eng_auth_check(&f->e, S("S3cret")), 0);
    assert_int_equal(eng_auth_check(&f->e, "s3cret\0", 7), 0);
    assert_int_equal(eng_auth_check(&f->e, S("x3cret")), 0);
    assert_int_equal(f->e.stats.auth_ok, 1);
    assert_int_equal(f->e.stats.auth_failures, 4);
}

static void test_no_password(void **state) {
    fx *f = calloc(1, sizeof *f);
    f->t = trie_new();
    config_defaults(&f->cfg);
    eng_init(&f->e, f->t, &f->cfg);
    qbuf_init(&f->out);
    assert_false(eng_auth_required(&f->e));
    assert_int_equal(f->e.stats.auth_required, 0);
    assert_string_equal(RESP(f, "AUTH", "x"), "-ERR ARGS AUTH <password> called without any password configured "
                                              "(requirepass is not set)\r\n");
    assert_string_equal(RESP(f, "ADD", "x", "1"), "+OK\r\n");
    assert_int_equal(memcmp(TEXT(f, "STATS"), "OK ", 3), 0);
    assert_int_equal(eng_auth_check(&f->e, S("")), 0);
    assert_int_equal(f->e.stats.auth_failures, 0);
    void *p = f;
    teardown(&p);
}

static void test_settings(void **state) {
    srv_config c;
    config_defaults(&c);
    char err[300];
    assert_null(c.requirepass);
    assert_int_equal(c.auth_max_failures, SRV_AUTH_MAX_FAILURES);
    char big[SRV_REQUIREPASS_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(config_set(&c, "requirepass", big, err, sizeof err), -1);
    assert_string_equal(err, "requirepass: over 512 bytes");
    big[SRV_REQUIREPASS_MAX] = 0;
    assert_int_equal(config_set(&c, "requirepass", big, err, sizeof err), 0);
    assert_int_equal(config_set(&c, "requirepass", "a b", err, sizeof err), -1);
    assert_string_equal(err, "requirepass: spaces and control characters are not allowed");
    assert_int_equal(config_set(&c, "requirepass", "a\x7f", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "auth-max-failures", "0", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "requirepass", "", err, sizeof err), 0); /* empty = off */
    config_free(&c);

    /* env after the file, flag after the env; the flag's value is hidden in argv */
    config_defaults(&c);
    setenv(SRV_REQUIREPASS_ENV, "fromenv", 1);
    char a0[] = "serve", a1[] = "--requirepass", a2[] = "fromflag", a3[] = "--port=0";
    char *argv[] = {a0, a1, a2, a3, NULL};
    int help;
    assert_int_equal(config_parse_args(&c, 4, argv, &help, err, sizeof err), 0);
    assert_string_equal(c.requirepass, "fromflag");
    assert_true(c.requirepass_from_flag);
    assert_string_equal(a2, "xxxxxxxx");
    config_free(&c);
    config_defaults(&c);
    char b1[] = "--requirepass=abc";
    char *argv2[] = {a0, b1, NULL};
    assert_int_equal(config_parse_args(&c, 2, argv2, &help, err, sizeof err), 0);
    assert_string_equal(c.requirepass, "abc");
    assert_string_equal(b1, "--requirepass=xxx");
    config_free(&c);
    config_defaults(&c);
    char *argv3[] = {a0, NULL};
    assert_int_equal(config_parse_args(&c, 1, argv3, &help, err, sizeof err), 0);
    assert_string_equal(c.requirepass, "fromenv");
    assert_false(c.requirepass_from_flag);
    config_free(&c);
    config_defaults(&c);
    setenv(SRV_REQUIREPASS_ENV, "bad pass", 1);
    assert_int_equal(config_parse_args(&c, 1, argv3, &help, err, sizeof err), -1);
    assert_string_equal(err, "$QAC_REQUIREPASS: requirepass: spaces and control characters are not allowed");
    unsetenv(SRV_REQUIREPASS_ENV);
    config_free(&c);
}

int main(void) {
    unsetenv(SRV_REQUIREPASS_ENV);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_noauth_and_public, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_limit_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_constant_shape, setup, teardown),
        cmocka_unit_test(test_no_password),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
