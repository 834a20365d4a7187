/* Unit tests of the connection commands Redis clients send (engine/cmd_conn.c,
 * HELLO included), in process through eng_exec: HELLO 2/3 and its
 * reply in text, RESP2 and RESP3, HELLO's AUTH and SETNAME (nothing changes
 * when an option fails), NOPROTO; CLIENT ID/GETNAME/SETNAME/SETINFO/INFO with
 * Redis's name rule and ENG_CLIENT_NAME_MAX; ECHO; SELECT; INFO's Server
 * section; the null and map encoders. */
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

typedef struct fx {
    trie *t;
    srv_config cfg;
    eng e;
    eng_client cl;
    qbuf out;
    int flags;
} fx;

static fx *fx_new(const char *pw) {
    fx *f = calloc(1, sizeof *f);
    f->t = trie_new();
    trie_set(f->t, S("netflix"), S("Netflix"), 90, NULL);
    config_defaults(&f->cfg);
    char err[200];
    if (pw) assert_int_equal(config_set(&f->cfg, "requirepass", pw, err, sizeof err), 0);
    eng_init(&f->e, f->t, &f->cfg);
    f->cl.id = 42;
    strcpy(f->cl.addr, "10.0.0.7");
    f->e.client = &f->cl;
    qbuf_init(&f->out);
    return f;
}

static int setup(void **state) {
    *state = fx_new(NULL);
    return 0;
}

static int setup_pw(void **state) {
    *state = fx_new("s3cret");
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    f->e.client = &f->e.self;
    qbuf_free(&f->out);
    config_free(&f->cfg);
    trie_free(f->t);
    free(f);
    return 0;
}

/* Runs one request given as words; returns the reply (NUL-terminated). */
static const char *run(fx *f, int kind, const char *line) {
    char buf[512];
    strcpy(buf, line);
    proto_arg argv[16];
    int argc = 0;
    for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) argv[argc++] = (proto_arg){.p = w, .len = strlen(w)};
    qbuf_reset(&f->out);
    assert_true(eng_exec(&f->e, kind, argc, argv, &f->out, &f->flags) >= 0);
    assert_int_equal(qbuf_putc(&f->out, 0), 0);
    return f->out.data;
}

#define R2 PROTO_RESP
#define TX PROTO_TEXT

static const char hello2[] = "*14\r\n$6\r\nserver\r\n$3\r\nqac\r\n$7\r\nversion\r\n$" "%zu" "\r\n%s\r\n"
                             "$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:42\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
                             "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";

static void test_hello(void **state) {
    fx *f = *state;
    char want[512];
    snprintf(want, sizeof want, hello2, strlen(QAC_VERSION), QAC_VERSION);
    assert_string_equal(run(f, R2, "HELLO"), want);
    assert_string_equal(run(f, R2, "HELLO 2"), want);
    assert_int_equal(f->cl.resp3, 0);
    /* RESP3: a map; the same pairs */
    const char *r = run(f, R2, "HELLO 3");
    assert_int_equal(f->cl.resp3, 1);
    assert_memory_equal(r, "%7\r\n$6\r\nserver\r\n$3\r\nqac\r\n", 25);
    assert_non_null(strstr(r, "$5\r\nproto\r\n:3\r\n"));
    /* HELLO without a version keeps the protocol; HELLO 2 goes back */
    assert_non_null(strstr(run(f, R2, "HELLO"), "proto\r\n:3\r\n"));
    assert_string_equal(run(f, R2, "HELLO 2"), want);
    /* text: key and value lines */
    r = run(f, TX, "HELLO 3");
    assert_memory_equal(r, "OK 14\r\nserver\r\nqac\r\nversion\r\n", 29);
    assert_non_null(strstr(r, "proto\r\n3\r\nid\r\n42\r\n"));
    assert_non_null(strstr(r, "modules\r\n[]\r\n"));
    /* bad versions and options change nothing */
    f->cl.resp3 = 0;
    assert_string_equal(run(f, R2, "HELLO 4"), "-NOPROTO unsupported protocol version\r\n");
    assert_string_equal(run(f, TX, "HELLO 1"), "ERR NOPROTO unsupported protocol version\r\n");
    assert_string_equal(run(f, R2, "HELLO x"), "-ERR ARGS Protocol version is not an integer or out of range\r\n");
    assert_memory_equal(run(f, R2, "HELLO 3 SETNAME"), "-ERR ARGS syntax error in HELLO", 31);
    assert_memory_equal(run(f, R2, "HELLO 3 BOGUS x"), "-ERR ARGS syntax error in HELLO", 31);
    assert_memory_equal(run(f, R2, "HELLO 3 AUTH default"), "-ERR ARGS syntax error in HELLO", 31);
    assert_int_equal(f->cl.resp3, 0);
    /* SETNAME: set with the switch, refused names change neither */
    assert_non_null(strstr(run(f, R2, "HELLO 3 SETNAME app-1"), "proto\r\n:3\r\n"));
    assert_string_equal(f->cl.name, "app-1");
    f->cl.resp3 = 0;
    char bad[128] = "HELLO 3 SETNAME ";
    memset(bad + strlen(bad), 'n', ENG_CLIENT_NAME_MAX + 1);
    assert_memory_equal(run(f, R2, bad), "-ERR TOOLONG", 12);
    assert_string_equal(f->cl.name, "app-1");
    assert_int_equal(f->cl.resp3, 0);
    /* AUTH without requirepass: accepted, as Redis's default user has no password */
    assert_non_null(strstr(run(f, R2, "HELLO 3 AUTH default anything"), "proto\r\n:3\r\n"));
}

static void test_hello_auth(void **state) {
    fx *f = *state;
    /* requirepass: HELLO needs AUTH first or inside it */
    assert_memory_equal(run(f, R2, "HELLO 3"), "-NOAUTH HELLO must be called with the client already authenticated", 66);
    assert_int_equal(f->cl.resp3, 0);
    assert_memory_equal(run(f, R2, "HELLO 3 AUTH default wrong"), "-WRONGPASS", 10);
    assert_memory_equal(run(f, R2, "HELLO 3 AUTH someone s3cret"), "-WRONGPASS", 10);
    assert_int_equal(f->cl.resp3 | f->cl.authed, 0);
    assert_non_null(strstr(run(f, R2, "HELLO 3 AUTH default s3cret SETNAME web"), "proto\r\n:3\r\n"));
    assert_int_equal(f->cl.authed, 1);
    assert_string_equal(f->cl.name, "web");
    assert_non_null(strstr(run(f, R2, "HELLO 2"), "proto\r\n:2\r\n")); /* now authenticated */
    /* the connection commands are public, as in Redis */
    f->cl.authed = 0;
    assert_string_equal(run(f, R2, "ECHO hi"), "$2\r\nhi\r\n");
    assert_string_equal(run(f, R2, "CLIENT ID"), ":42\r\n");
    assert_string_equal(run(f, R2, "SELECT 0"), "+OK\r\n");
    assert_memory_equal(run(f, R2, "INFO"), "-NOAUTH", 7); /* INFO is STATS */
}

static void test_client(void **state) {
    fx *f = *state;
    assert_string_equal(run(f, R2, "CLIENT ID"), ":42\r\n");
    assert_string_equal(run(f, TX, "client id"), "OK 42\r\n");
    assert_string_equal(run(f, R2, "CLIENT GETNAME"), "$-1\r\n");
    f->cl.resp3 = 1;
    assert_string_equal(run(f, R2, "CLIENT GETNAME"), "_\r\n");
    assert_string_equal(run(f, TX, "CLIENT GETNAME"), "OK\r\n");
    assert_string_equal(run(f, R2, "CLIENT SETNAME my-app"), "+OK\r\n");
    assert_string_equal(run(f, R2, "CLIENT GETNAME"), "$6\r\nmy-app\r\n");
    assert_string_equal(run(f, R2, "CLIENT SETINFO LIB-NAME redis-py"), "+OK\r\n");
    assert_string_equal(run(f, R2, "CLIENT SETINFO lib-ver 4.3.4"), "+OK\r\n");
    assert_string_equal(run(f, R2, "CLIENT INFO"),
                        "$71\r\nid=42 addr=10.0.0.7 name=my-app resp=3 lib-name=redis-py lib-ver=4.3.4\n\r\n");
    assert_string_equal(run(f, TX, "CLIENT INFO"),
                        "OK id=42 addr=10.0.0.7 name=my-app resp=3 lib-name=redis-py lib-ver=4.3.4\r\n");
    /* Redis's rule: printable ASCII, no spaces; at most ENG_CLIENT_NAME_MAX bytes */
    proto_arg argv[3] = {{S("CLIENT"), 0}, {S("SETNAME"), 0}, {S("a b"), 0}};
    qbuf_reset(&f->out);
    assert_true(eng_exec(&f->e, R2, 3, argv, &f->out, &f->flags) >= 0);
    assert_memory_equal(f->out.data, "-ERR ARGS client names and library fields cannot contain spaces", 63);
    argv[2] = (proto_arg){S("caf\xc3\xa9"), 0};
    qbuf_reset(&f->out);
    assert_true(eng_exec(&f->e, R2, 3, argv, &f->out, &f->flags) >= 0);
    assert_memory_equal(f->out.data, "-ERR ARGS", 9);
    char name[ENG_CLIENT_NAME_MAX + 2];
    memset(name, 'x', sizeof name);
    argv[2] = (proto_arg){name, ENG_CLIENT_NAME_MAX, 0};
    qbuf_reset(&f->out);
    assert_true(eng_exec(&f->e, R2, 3, argv, &f->out, &f->flags) >= 0);
    assert_string_equal(f->cl.name + ENG_CLIENT_NAME_MAX - 1, "x");
    argv[2].len++;
    qbuf_reset(&f->out);
    assert_true(eng_exec(&f->e, R2, 3, argv, &f->out, &f->flags) >= 0);
    assert_memory_equal(f->out.data, "-ERR TOOLONG client names and library fields are at most 64 bytes", 65);
    assert_int_equal(strlen(f->cl.name), ENG_CLIENT_NAME_MAX);
    /* an empty name clears it (Redis) */
    argv[2] = (proto_arg){"", 0, 0};
    qbuf_reset(&f->out);
    assert_true(eng_exec(&f->e, R2, 3, argv, &f->out, &f->flags) >= 0);
    assert_string_equal(run(f, R2, "CLIENT GETNAME"), "_\r\n");
    /* what CLIENT does not take */
    const char *bad[] = {"CLIENT LIST", "CLIENT KILL x", "CLIENT SETINFO LIB-OS linux", "CLIENT ID 1", "CLIENT SETNAME"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_memory_equal(run(f, R2, bad[i]), "-ERR ARGS CLIENT takes ID, INFO, GETNAME", 40);
    assert_memory_equal(run(f, R2, "CLIENT"), "-ERR ARGS wrong number of arguments", 35);
}

static void test_echo_select_info(void **state) {
    fx *f = *state;
    assert_string_equal(run(f, R2, "ECHO hello"), "$5\r\nhello\r\n");
    assert_string_equal(run(f, TX, "ECHO hello"), "OK hello\r\n");
    assert_memory_equal(run(f, R2, "ECHO"), "-ERR ARGS wrong number", 22);
    assert_string_equal(run(f, R2, "SELECT 0"), "+OK\r\n");
    assert_string_equal(run(f, R2, "SELECT 1"), "-ERR ARGS DB index is out of range: qac has one database, 0\r\n");
    assert_string_equal(run(f, R2, "SELECT x"), "-ERR ARGS invalid DB index\r\n");
    /* INFO (RESP) starts with the Server section clients read; STATS does not */
    const char *r = run(f, R2, "INFO");
    assert_non_null(strstr(r, "\r\n# Server\r\nredis_version:7.2.0\r\nqac_version:" QAC_VERSION "\r\n"));
    assert_non_null(strstr(r, "\r\n\r\n# qac\r\nuptime_s:"));
    assert_null(strstr(run(f, R2, "STATS"), "redis_version"));
    assert_non_null(strstr(run(f, R2, "STATS"), "\r\ncmd_client:0\r\ncmd_hello:0\r\n"));
}

static void test_encoders(void **state) {
    (void)state;
    qbuf b;
    qbuf_init(&b);
    proto_reply_null(&b, PROTO_RESP, 0);
    proto_reply_null(&b, PROTO_RESP, 1);
    proto_reply_null(&b, PROTO_TEXT, 1);
    proto_reply_map_head(&b, PROTO_RESP, 0, 3);
    proto_reply_map_head(&b, PROTO_RESP, 1, 3);
    proto_reply_map_head(&b, PROTO_TEXT, 1, 3);
    qbuf_putc(&b, 0);
    assert_string_equal(b.data, "$-1\r\n_\r\nOK\r\n*6\r\n%3\r\nOK 6\r\n");
    qbuf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_auth, setup_pw, teardown),
        cmocka_unit_test_setup_teardown(test_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_select_info, setup, teardown),
        cmocka_unit_test(test_encoders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
