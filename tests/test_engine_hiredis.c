/* RESP interoperability test with a real Redis client library: start
 * `$QAC_BIN serve` (skipped when QAC_BIN is unset) on a free port with a
 * small index, and talk to it through hiredis' synchronous API (Debian
 * 0.14.1: redisConnectWithTimeout, redisCommand, redisAppendCommand +
 * redisGetReply). Checks reply TYPES as hiredis decodes them, not bytes:
 * PING is a status, COMPLETE an array of bulk strings (display, and score
 * with WITHSCORES), GET / INCR a bulk score, ADD a status, DEL an integer,
 * every error a REDIS_REPLY_ERROR; a binary-safe argument with a space and a
 * double quote; a pipeline of 1,000 COMPLETEs answered in order. The raw
 * byte-level RESP cases are in test_engine_server.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "trie/trie.h"
#include "tests/helpers.h"

#define NKEYS 10000 /* key00000 .. key09999, score = number */

static qac_fixture srv; /* `qac serve` for the whole group */

static redisContext *conn(void) {
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, (struct timeval){5, 0});
    return c;
}

static int group_setup(void **state) {
    (void)state;
    static const test_key keys[] = {
        {"new york", "New York", 100}, {"new york times", NULL, 80}, {"newark", NULL, 20},
    };
    return qac_fixture_start(&srv, "hiredis", keys, sizeof keys / sizeof keys[0], NKEYS, NULL);
}

static int group_teardown(void **state) {
    (void)state;
    return qac_fixture_stop(&srv);
}

#define NEED_BIN() \
    do { \
        if (!srv.bin) skip(); \
    } while (0)

static void expect_str(redisReply *r, int type, const char *want) {
    assert_non_null(r);
    if (r->type != type)
        fail_msg("reply type %d (%.*s), want %d", r->type, r->str ? (int)r->len : 0, r->str ? r->str : "", type);
    assert_int_equal(r->len, strlen(want));
    assert_memory_equal(r->str, want, r->len);
    freeReplyObject(r);
}

static void expect_error(redisReply *r, const char *code) {
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    char pre[64];
    snprintf(pre, sizeof pre, "ERR %s ", code);
    if (strncmp(r->str, pre, strlen(pre))) fail_msg("error '%s', want one starting '%s'", r->str, pre);
    freeReplyObject(r);
}

static void test_ping_and_complete(void **state) {
    (void)state;
    NEED_BIN();
    redisContext *c = conn();
    assert_non_null(c);
    expect_str(redisCommand(c, "PING"), REDIS_REPLY_STATUS, "PONG");

    redisReply *r = redisCommand(c, "COMPLETE %s", "new");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    const char *want[] = {"New York", "new york times", "newark"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r->element[i]->type, REDIS_REPLY_STRING);
        assert_string_equal(r->element[i]->str, want[i]);
    }
    freeReplyObject(r);

    r = redisCommand(c, "COMPLETE %s WITHSCORES", "new");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 6);
    const char *scores[] = {"100", "80", "20"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r->element[2 * i]->type, REDIS_REPLY_STRING);
        assert_string_equal(r->element[2 * i]->str, want[i]);
        assert_int_equal(r->element[2 * i + 1]->type, REDIS_REPLY_STRING);
        assert_string_equal(r->element[2 * i + 1]->str, scores[i]);
    }
    freeReplyObject(r);

    r = redisCommand(c, "COMPLETE %s LIMIT %d", "key0", 2);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "key09999");
    assert_string_equal(r->element[1]->str, "key09998");
    freeReplyObject(r);

    r = redisCommand(c, "COMPLETE %s", "zzzz"); /* no match: an empty array */
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 0);
    freeReplyObject(r);
    redisFree(c);
}

static void test_add_get_incr_del(void **state) {
    (void)state;
    NEED_BIN();
    redisContext *c = conn();
    assert_non_null(c);
    expect_str(redisCommand(c, "ADD %s %s", "Newport Beach", "95"), REDIS_REPLY_STATUS, "OK");
    expect_str(redisCommand(c, "GET %s", "newport beach"), REDIS_REPLY_STRING, "95");
    expect_str(redisCommand(c, "INCR %s %s", "newport beach", "2.5"), REDIS_REPLY_STRING, "97.5");
    expect_str(redisCommand(c, "INCR %s", "newport beach"), REDIS_REPLY_STRING, "98.5");
    redisReply *r = redisCommand(c, "COMPLETE %s WITHSCORES", "newp");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "Newport Beach");
    assert_string_equal(r->element[1]->str, "98.5");
    freeReplyObject(r);
    r = redisCommand(c, "DEL %s", "newport beach");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    r = redisCommand(c, "DEL %s", "newport beach");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);
}

static void test_errors(void **state) {
    (void)state;
    NEED_BIN();
    redisContext *c = conn();
    assert_non_null(c);
    expect_error(redisCommand(c, "GET %s", "newport beach"), "NOTFOUND");
    expect_error(redisCommand(c, "FROB %s", "x"), "UNKNOWN");
    expect_error(redisCommand(c, "COMPLETE"), "ARGS");
    expect_error(redisCommand(c, "COMPLETE %s LIMIT %s", "ne", "0"), "LIMIT");
    expect_error(redisCommand(c, "ADD %s %s", "x", "notanumber"), "ARGS");
    expect_error(redisCommand(c, "COMPLETE %b", "\xff", (size_t)1), "UTF8");
    /* an error does not end the connection */
    expect_str(redisCommand(c, "PING"), REDIS_REPLY_STATUS, "PONG");
    redisFree(c);
}

/* %b passes exact bytes: a space and a double quote need no quoting in RESP
 * (in the text protocol they would). */
static void test_binary_safe_argument(void **state) {
    (void)state;
    NEED_BIN();
    redisContext *c = conn();
    assert_non_null(c);
    const char key[] = "say \"hi\" there";
    size_t n = sizeof key - 1;
    expect_str(redisCommand(c, "ADD %b %s", key, n, "7"), REDIS_REPLY_STATUS, "OK");
    expect_str(redisCommand(c, "GET %b", key, n), REDIS_REPLY_STRING, "7");
    redisReply *r = redisCommand(c, "COMPLETE %b WITHSCORES", "say \"h", (size_t)6);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_int_equal(r->element[0]->len, n);
    assert_memory_equal(r->element[0]->str, key, n);
    assert_string_equal(r->element[1]->str, "7");
    freeReplyObject(r);
    r = redisCommand(c, "DEL %b", key, n);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
}

/* 1,000 COMPLETEs appended, then read: every reply in request order. Prefix
 * key0NNN has exactly the keys key0NNN0..9, best (highest) first. */
static void test_pipeline_1000(void **state) {
    (void)state;
    NEED_BIN();
    redisContext *c = conn();
    assert_non_null(c);
    for (int i = 0; i < 1000; i++) {
        char p[16];
        snprintf(p, sizeof p, "key%04d", i);
        assert_int_equal(redisAppendCommand(c, "COMPLETE %s", p), REDIS_OK);
    }
    for (int i = 0; i < 1000; i++) {
        void *v = NULL;
        if (redisGetReply(c, &v) != REDIS_OK) fail_msg("reply %d: %s", i, c->errstr);
        redisReply *r = v;
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 10);
        for (int j = 0; j < 10; j++) {
            char want[16];
            snprintf(want, sizeof want, "key%04d%d", i, 9 - j);
            assert_int_equal(r->element[j]->type, REDIS_REPLY_STRING);
            assert_string_equal(r->element[j]->str, want);
        }
        freeReplyObject(r);
    }
    redisFree(c);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_and_complete), cmocka_unit_test(test_add_get_incr_del),
        cmocka_unit_test(test_errors),            cmocka_unit_test(test_binary_safe_argument),
        cmocka_unit_test(test_pipeline_1000),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
