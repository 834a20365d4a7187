/* Tests for engine/rank/rclient.c + engine/rank/redis_uv.c against real redis-servers:
 * the shared test redis ($QAC_TEST_REDIS_PORT; those tests skip when unset)
 * and private ones started here on free ports (skipped when redis-server is
 * not installed) for the tests that kill, stop or restart Redis.
 *
 * Every test checks that each accepted command's callback ran exactly once,
 * closes the client, runs the loop dry and asserts uv_loop_close == 0 (a
 * leaked handle fails the test, libuv-style). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "engine/rank/rclient.h"
#include "tests/helpers.h"

/* --- loop helpers -------------------------------------------------------- */

typedef struct tctx {
    int calls, ok, down, closed, bad;
    int order_next, order_bad; /* callbacks must come in command order */
    long long last_int;
    char last_str[64];
    rcl *close_in_cb;
} tctx;

typedef struct treq {
    tctx *t;
    int seq;
    int runs;
} treq;

static void cb(rcl *c, redisReply *r, int status, void *pd) {
    treq *q = pd;
    tctx *t = q->t;
    q->runs++;
    t->calls++;
    if (q->seq != t->order_next++) t->order_bad++;
    if (status == 0) {
        assert_non_null(r);
        t->ok++;
        if (r->type == REDIS_REPLY_INTEGER) t->last_int = r->integer;
        if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
            snprintf(t->last_str, sizeof t->last_str, "%.*s", (int)r->len, r->str);
    } else {
        assert_null(r);
        if (status == RCL_EDOWN) t->down++;
        else if (status == RCL_ECLOSED) t->closed++;
        else t->bad++;
    }
    if (t->close_in_cb) {
        rcl *x = t->close_in_cb;
        t->close_in_cb = NULL;
        rcl_close(x, NULL, NULL);
    }
}

static int run_until(uv_loop_t *loop, int (*cond)(void *), void *ud, int ms) {
    uint64_t end = qtime_ns() + (uint64_t)ms * 1000000u;
    while (!cond(ud)) {
        if (qtime_ns() > end) return 0;
        uv_run(loop, UV_RUN_ONCE);
    }
    return 1;
}

static int is_up(void *ud) { return rcl_is_up(ud); }
static int is_down(void *ud) { return rcl_get_state(ud) != RCL_UP; }
static int want_calls;
static int calls_at_least(void *ud) { return ((tctx *)ud)->calls >= want_calls; }

static void finish(uv_loop_t *loop, rcl *c) {
    if (c) rcl_close(c, NULL, NULL);
    for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT); i++) usleep(1000);
    assert_int_equal(uv_loop_close(loop), 0);
}

static int cmd(rcl *c, treq *q, const char *a0, const char *a1, const char *a2) {
    const char *argv[3] = {a0, a1, a2};
    size_t len[3] = {strlen(a0), a1 ? strlen(a1) : 0, a2 ? strlen(a2) : 0};
    int argc = a2 ? 3 : a1 ? 2 : 1;
    return rcl_command_argv(c, argc, argv, len, cb, q);
}

static rcl *connect_to(uv_loop_t *loop, int port, uint32_t io_timeout_ms) {
    rcl_opts o;
    rcl_opts_default(&o);
    o.host = "localhost"; /* resolved once, connects by address */
    o.port = port;
    o.backoff_min_ms = 10;
    o.backoff_max_ms = 100;
    if (io_timeout_ms) o.io_timeout_ms = io_timeout_ms;
    rcl *c = NULL;
    char err[128];
    assert_int_equal(rcl_new(loop, &o, &c, err, sizeof err), 0);
    return c;
}

static int shared_port(void) {
    const char *p = getenv("QAC_TEST_REDIS_PORT");
    return p ? atoi(p) : 0;
}

/* --- tests --------------------------------------------------------------- */

static void test_parse_addr(void **state) {
    (void)state;
    char h[64];
    int port = 0;
    assert_int_equal(rcl_parse_addr("127.0.0.1:6379", h, sizeof h, &port), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(port, 6379);
    assert_int_equal(rcl_parse_addr("[::1]:7000", h, sizeof h, &port), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(port, 7000);
    assert_int_equal(rcl_parse_addr("localhost:1", h, sizeof h, &port), 0);
    assert_int_equal(rcl_parse_addr("localhost", h, sizeof h, &port), RCL_EINVAL);
    assert_int_equal(rcl_parse_addr(":6379", h, sizeof h, &port), RCL_EINVAL);
    assert_int_equal(rcl_parse_addr("h:0", h, sizeof h, &port), RCL_EINVAL);
    assert_int_equal(rcl_parse_addr("h:65536", h, sizeof h, &port), RCL_EINVAL);
    assert_int_equal(rcl_parse_addr("h:12x", h, sizeof h, &port), RCL_EINVAL);
    assert_int_equal(rcl_parse_addr("[]:1", h, sizeof h, &port), RCL_EINVAL);
    assert_int_equal(rcl_parse_addr("abcdefgh:1", h, 4, &port), RCL_EINVAL);
    /* --redis: HOST:PORT or sentinel://H:P[,H:P...]/MASTER */
    char buf[RCL_TARGET_BUF];
    rcl_opts o;
    rcl_opts_default(&o);
    assert_int_equal(rcl_parse_target("redis.local:6380", &o, buf, sizeof buf), 0);
    assert_string_equal(o.host, "redis.local");
    assert_int_equal(o.port, 6380);
    assert_null(o.sentinels);
    assert_int_equal(rcl_parse_target("sentinel://10.0.0.1:26379,[::1]:26380/qac-main", &o, buf, sizeof buf), 0);
    assert_string_equal(o.sentinels, "10.0.0.1:26379,[::1]:26380");
    assert_string_equal(o.master_name, "qac-main");
    assert_null(o.host);
    const char *bad[] = {"sentinel://", "sentinel:///m", "sentinel://h:1/", "sentinel://h:1", "sentinel://h/m",
                         "sentinel://h:1,,h:2/m", "sentinel://h:1,/m", "nohost", "h:0",
                         "sentinel://h:1,h:2,h:3,h:4,h:5,h:6,h:7,h:8,h:9/m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (rcl_parse_target(bad[i], &o, buf, sizeof buf) != RCL_EINVAL) fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(rcl_parse_target("sentinel://h:1,h:2,h:3,h:4,h:5,h:6,h:7,h:8/m", &o, buf, sizeof buf), 0);
    char big[RCL_MAX_TARGET + 8];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big + sizeof big - 4, ":12", 3);
    assert_int_equal(rcl_parse_target(big, &o, buf, sizeof buf), RCL_EINVAL);
}

static void test_bad_options(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    rcl_opts o;
    rcl_opts_default(&o);
    rcl *c = NULL;
    char err[128];
    assert_int_equal(rcl_new(&loop, &o, &c, err, sizeof err), RCL_EINVAL); /* no host */
    o.host = "127.0.0.1";
    o.backoff_max_ms = 1;
    o.backoff_min_ms = 2;
    assert_int_equal(rcl_new(&loop, &o, &c, err, sizeof err), RCL_EINVAL);
    rcl_opts_default(&o);
    o.host = "no-such-host.invalid";
    assert_int_equal(rcl_new(&loop, &o, &c, err, sizeof err), RCL_ERESOLVE);
    assert_non_null(strstr(err, "no-such-host.invalid"));
    assert_null(c);
    finish(&loop, NULL);
}

/* Nothing listens: the failure is reported (counted, state never UP), every
 * accepted command's callback runs with RCL_EDOWN, retries keep going. */
static void test_refused(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    int port = free_port();
    rcl *c = connect_to(&loop, port, 0);
    tctx t = {0};
    treq q[4] = {{&t, 0, 0}, {&t, 1, 0}, {&t, 2, 0}, {&t, 3, 0}};
    int accepted = 0;
    for (int i = 0; i < 4; i++) {
        int rc = cmd(c, &q[i], "PING", NULL, NULL);
        if (rc == 0) accepted++;
        else {
            assert_int_equal(rc, RCL_EDOWN);
            t.order_next++; /* refused: its callback never runs */
        }
    }
    /* run 300 ms: several refused attempts */
    uint64_t end = qtime_ns() + 300000000u;
    while (qtime_ns() < end) uv_run(&loop, UV_RUN_ONCE);
    rcl_stat st;
    rcl_stats(c, &st);
    assert_true(st.connect_failures >= 2);
    assert_int_equal(st.connects, 0);
    assert_int_not_equal(rcl_get_state(c), RCL_UP);
    assert_int_equal(t.calls, accepted);
    assert_int_equal(t.down, accepted);
    for (int i = 0; i < 4; i++) assert_true(q[i].runs <= 1);
    assert_int_equal(st.pending, 0);
    finish(&loop, c);
}

static void test_basic_pipeline(void **state) {
    (void)state;
    int port = shared_port();
    if (!port) skip();
    uv_loop_t loop;
    uv_loop_init(&loop);
    rcl *c = connect_to(&loop, port, 0);
    assert_true(run_until(&loop, is_up, c, 2000));
    tctx t = {0};
    enum { N = 500 };
    static treq q[N];
    q[0] = (treq){&t, 0, 0};
    assert_int_equal(cmd(c, &q[0], "DEL", "rcl:test:n", NULL), 0);
    for (int i = 1; i < N; i++) {
        q[i] = (treq){&t, i, 0};
        assert_int_equal(cmd(c, &q[i], "INCR", "rcl:test:n", NULL), 0);
    }
    want_calls = N;
    assert_true(run_until(&loop, calls_at_least, &t, 2000));
    assert_int_equal(t.ok, N);
    assert_int_equal(t.order_bad, 0);
    assert_int_equal(t.last_int, N - 1);
    for (int i = 0; i < N; i++) assert_int_equal(q[i].runs, 1);
    /* binary-safe arguments */
    const char *argv[3] = {"SET", "rcl:test:bin", "a\0b\r\n"};
    size_t len[3] = {3, 12, 5};
    treq b = {&t, N, 0}, g = {&t, N + 1, 0};
    assert_int_equal(rcl_command_argv(c, 3, argv, len, cb, &b), 0);
    argv[0] = "STRLEN";
    len[0] = 6;
    assert_int_equal(rcl_command_argv(c, 2, argv, len, cb, &g), 0);
    want_calls = N + 2;
    assert_true(run_until(&loop, calls_at_least, &t, 2000));
    assert_int_equal(t.last_int, 5);
    rcl_stat st;
    rcl_stats(c, &st);
    assert_int_equal(st.commands, N + 2);
    assert_int_equal(st.replies, N + 2);
    assert_int_equal(st.pending, 0);
    finish(&loop, c);
}

/* Closing with commands in flight: each callback runs once with ECLOSED;
 * closing from inside a callback is allowed. */
static void test_close_pending(void **state) {
    (void)state;
    int port = shared_port();
    if (!port) skip();
    uv_loop_t loop;
    uv_loop_init(&loop);
    rcl *c = connect_to(&loop, port, 0);
    assert_true(run_until(&loop, is_up, c, 2000));
    tctx t = {0};
    treq q[20];
    for (int i = 0; i < 20; i++) {
        q[i] = (treq){&t, i, 0};
        assert_int_equal(cmd(c, &q[i], "PING", NULL, NULL), 0);
    }
    rcl_close(c, NULL, NULL);
    assert_int_equal(t.calls, 20);
    assert_int_equal(t.closed, 20);
    for (int i = 0; i < 20; i++) assert_int_equal(q[i].runs, 1);
    finish(&loop, NULL);

    /* from inside the first reply's callback */
    uv_loop_init(&loop);
    c = connect_to(&loop, port, 0);
    assert_true(run_until(&loop, is_up, c, 2000));
    tctx t2 = {0};
    t2.close_in_cb = c;
    for (int i = 0; i < 20; i++) {
        q[i] = (treq){&t2, i, 0};
        assert_int_equal(cmd(c, &q[i], "PING", NULL, NULL), 0);
    }
    want_calls = 20;
    assert_true(run_until(&loop, calls_at_least, &t2, 2000));
    assert_true(t2.ok >= 1);
    assert_int_equal(t2.ok + t2.closed, 20);
    assert_int_equal(t2.order_bad, 0);
    for (int i = 0; i < 20; i++) assert_int_equal(q[i].runs, 1);
    finish(&loop, NULL);
}

/* Redis killed with commands in flight (DEBUG SLEEP holds them): every
 * pending callback gets RCL_EDOWN; after a restart on the same port the
 * client reconnects by itself and commands work again. */
static void test_kill_and_restart(void **state) {
    (void)state;
    if (!have_redis_server()) skip();
    int port = free_port();
    pid_t pid = redis_start(port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    rcl *c = connect_to(&loop, port, 0);
    assert_true(run_until(&loop, is_up, c, 5000));
    tctx t = {0};
    treq q[50];
    q[0] = (treq){&t, 0, 0};
    assert_int_equal(cmd(c, &q[0], "DEBUG", "SLEEP", "2"), 0);
    for (int i = 1; i < 50; i++) {
        q[i] = (treq){&t, i, 0};
        assert_int_equal(cmd(c, &q[i], "INCR", "k", NULL), 0);
    }
    for (int i = 0; i < 5; i++) uv_run(&loop, UV_RUN_NOWAIT); /* let them leave */
    usleep(100000);
    redis_kill(pid);
    want_calls = 50;
    assert_true(run_until(&loop, calls_at_least, &t, 3000));
    assert_int_equal(t.down, 50);
    assert_int_equal(t.order_bad, 0);
    for (int i = 0; i < 50; i++) assert_int_equal(q[i].runs, 1);
    assert_true(run_until(&loop, is_down, c, 1000));
    /* restart on the same port: the client comes back */
    pid = redis_start(port);
    assert_true(run_until(&loop, is_up, c, 5000));
    treq s = {&t, 50, 0};
    want_calls = 51;
    assert_int_equal(cmd(c, &s, "PING", NULL, NULL), 0);
    assert_true(run_until(&loop, calls_at_least, &t, 2000));
    assert_string_equal(t.last_str, "PONG");
    rcl_stat st;
    rcl_stats(c, &st);
    assert_true(st.connects >= 2);
    assert_true(st.disconnects >= 1);
    assert_int_equal(st.pending, 0);
    finish(&loop, c);
    redis_kill(pid);
}

/* A wedged Redis (SIGSTOP): the io timeout drops the connection, pending
 * callbacks get RCL_EDOWN; after SIGCONT it reconnects. */
static void test_io_timeout(void **state) {
    (void)state;
    if (!have_redis_server()) skip();
    int port = free_port();
    pid_t pid = redis_start(port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    rcl *c = connect_to(&loop, port, 100);
    assert_true(run_until(&loop, is_up, c, 5000));
    kill(pid, SIGSTOP);
    tctx t = {0};
    treq q[3];
    for (int i = 0; i < 3; i++) {
        q[i] = (treq){&t, i, 0};
        assert_int_equal(cmd(c, &q[i], "PING", NULL, NULL), 0);
    }
    want_calls = 3;
    assert_true(run_until(&loop, calls_at_least, &t, 3000));
    assert_int_equal(t.down, 3);
    rcl_stat st;
    rcl_stats(c, &st);
    assert_int_equal(st.io_timeouts, 1);
    kill(pid, SIGCONT);
    assert_true(run_until(&loop, is_up, c, 5000));
    treq s = {&t, 3, 0};
    assert_int_equal(cmd(c, &s, "PING", NULL, NULL), 0);
    want_calls = 4;
    assert_true(run_until(&loop, calls_at_least, &t, 2000));
    assert_string_equal(t.last_str, "PONG");
    finish(&loop, c);
    redis_kill(pid);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addr),     cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_refused),        cmocka_unit_test(test_basic_pipeline),
        cmocka_unit_test(test_close_pending),  cmocka_unit_test(test_kill_and_restart),
        cmocka_unit_test(test_io_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
