/* Integration tests for `qac serve` (engine/server.c, cmd.c): start the real
 * binary ($QAC_BIN; skipped when unset) on free ports and talk to it over raw
 * sockets: every command in text and RESP, 10,000 pipelined requests in one
 * write, a client that never reads, over-long lines, invalid UTF-8, half a
 * RESP frame, 1,000 connections, max-clients, idle timeout, SIGTERM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "trie/trie.h"
#include "tests/helpers.h"

static qac_fixture main_srv; /* `qac serve` for the whole group, most tests talk to it */

typedef struct server {
    pid_t pid;
    int port;
} server;

static int dial(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        assert_true(w > 0);
        c += w, n -= (size_t)w;
    }
}

/* Reads until `want` bytes arrived, EOF, or timeout; returns bytes read. */
static size_t recv_n(int fd, char *buf, size_t want, int timeout_ms) {
    size_t got = 0;
    uint64_t end = qtime_us() + (uint64_t)timeout_ms * 1000;
    while (got < want) {
        int left = (int)((int64_t)(end - qtime_us()) / 1000);
        if (left <= 0) break;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, left) <= 0) break;
        ssize_t r = recv(fd, buf + got, want - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

/* 1 if the peer closed (EOF or reset) within timeout_ms, draining data. */
static int wait_eof(int fd, int timeout_ms) {
    char tmp[65536];
    uint64_t end = qtime_us() + (uint64_t)timeout_ms * 1000;
    for (;;) {
        int left = (int)((int64_t)(end - qtime_us()) / 1000);
        if (left <= 0) return 0;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, left) <= 0) return 0;
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r <= 0) return 1;
    }
}

/* Sends req and checks the reply is exactly `want`. */
static void expect(int fd, const char *req, const char *want) {
    send_all(fd, req, strlen(req));
    size_t n = strlen(want);
    char *buf = malloc(n + 1);
    size_t got = recv_n(fd, buf, n, 3000);
    buf[got] = 0;
    if (got != n || memcmp(buf, want, n)) fail_msg("request %s\nwant: %s\ngot:  %s", req, want, buf);
    free(buf);
}

/* Reads one line (up to \r\n) into buf. */
static size_t recv_line(int fd, char *buf, size_t cap) {
    size_t n = 0;
    while (n + 1 < cap) {
        if (recv_n(fd, buf + n, 1, 3000) != 1) break;
        if (buf[n++] == '\n') break;
    }
    buf[n] = 0;
    return n;
}

static server start_server(const char *extra[]) {
    server s = {0, free_port()};
    s.pid = qac_serve_start(main_srv.bin, main_srv.index, s.port, extra);
    if (s.pid < 0) fail_msg("server did not start on port %d", s.port);
    return s;
}

/* SIGTERM; the server must exit 0 within 5 s. */
static void stop_server(server *s) {
    if (!s->pid) return;
    int rc = stop_process(s->pid, 5000);
    s->pid = 0;
    if (rc == -2) fail_msg("server did not exit within 5 s of SIGTERM");
    assert_int_equal(rc, 0);
}

static double stat_of(int port, const char *name) {
    int fd = dial(port);
    assert_true(fd >= 0);
    send_all(fd, "STATS\r\n", 7);
    char line[512];
    recv_line(fd, line, sizeof line);
    assert_memory_equal(line, "OK ", 3);
    int n = atoi(line + 3);
    double v = -1;
    size_t nl = strlen(name);
    for (int i = 0; i < n; i++) {
        recv_line(fd, line, sizeof line);
        if (!strncmp(line, name, nl) && line[nl] == ' ') v = atof(line + nl + 1);
    }
    close(fd);
    return v;
}

#define NEED_BIN() \
    do { \
        if (!main_srv.bin) skip(); \
    } while (0)

/* --- tests ------------------------------------------------------------------ */

static void test_commands_text(void **state) {
    (void)state;
    NEED_BIN();
    int fd = dial(main_srv.port);
    expect(fd, "PING\r\n", "OK PONG\r\n");
    expect(fd, "ping hello\n", "OK hello\r\n");
    expect(fd, "COMPLETE \"new \" LIMIT 2\r\n", "OK 2\r\nNew York\t100\r\nnew york times\t80\r\n");
    expect(fd, "complete NEW\r\n", "OK 3\r\nNew York\t100\r\nnew york times\t80\r\nnewark\t20\r\n");
    expect(fd, "GET \"new  york\"\r\n", "OK 100\r\n");
    expect(fd, "ADD \"  Newport Beach \" 95\r\n", "OK\r\n");
    expect(fd, "COMPLETE newp\r\n", "OK 1\r\nNewport Beach\t95\r\n");
    expect(fd, "INCR \"newport beach\" 2.5\r\n", "OK 97.5\r\n");
    expect(fd, "INCR \"newport beach\"\r\n", "OK 98.5\r\n");
    expect(fd, "DEL \"newport beach\"\r\n", "OK 1\r\n");
    expect(fd, "DEL \"newport beach\"\r\n", "OK 0\r\n");
    expect(fd, "GET \"newport beach\"\r\n", "ERR NOTFOUND no such query\r\n");
    expect(fd, "ACCEPT zebra USER u1 SESSION s1 PREFIX ze RANK 0\r\n", "OK 1\r\n");
    expect(fd, "ACCEPT Zebra\r\n", "OK 2\r\n");
    expect(fd, "COMPLETE zeb\r\n", "OK 1\r\nzebra\t2\r\n");
    expect(fd, "ACCEPT zebra RANK -1\r\n", "ERR ARGS RANK needs an integer 0..100\r\n");
    expect(fd, "ACCEPT zebra USER\r\n", "ERR ARGS option without a value\r\n");
    expect(fd, "COMPLETE ne LIMIT 0\r\n", "ERR LIMIT LIMIT out of range (1..max-k)\r\n");
    expect(fd, "COMPLETE ne LIMIT 101\r\n", "ERR LIMIT LIMIT out of range (1..max-k)\r\n");
    expect(fd, "COMPLETE ne LIMIT x\r\n", "ERR ARGS LIMIT needs an integer\r\n");
    expect(fd, "COMPLETE\r\n", "ERR ARGS wrong number of arguments; see HELP\r\n");
    expect(fd, "ADD x notanumber\r\n", "ERR ARGS score must be a finite number\r\n");
    expect(fd, "ADD \"a\\x01b\" 1\r\n", "ERR SYNTAX control character in text\r\n");
    expect(fd, "FROB x\r\n", "ERR UNKNOWN unknown command 'FROB'\r\n");
    expect(fd, "HELP get\r\n", "OK 2\r\nGET <query>\r\nthe score of query, or ERR NOTFOUND\r\n");
    expect(fd, "COMPLETE \"x\r\n", "ERR SYNTAX unterminated quoted string\r\n");
    expect(fd, "COMPLETE \"\\xZZ\"\r\n", "ERR SYNTAX bad \\x escape: need two hex digits\r\n");
    expect(fd, "\r\nPING\r\n", "OK PONG\r\n"); /* empty lines are ignored */
    expect(fd, "COMPLETE zzzzz\r\n", "OK 0\r\n");
    char line[256];
    send_all(fd, "HELP\r\n", 6);
    recv_line(fd, line, sizeof line);
    /* 30: with HELLO, CLIENT, ECHO, SELECT, FT.SUGADD/SUGGET/SUGDEL/SUGLEN, EXISTS, TYPE, KEYS, DBSIZE,
     * FLUSHALL, FLUSHDB */
    assert_string_equal(line, "OK 30\r\n");
    for (int i = 0; i < 30; i++) assert_true(recv_line(fd, line, sizeof line) > 2);
    expect(fd, "SAVE\r\n", "OK\r\n");
    expect(fd, "QUIT\r\n", "OK\r\n");
    assert_true(wait_eof(fd, 2000));
    close(fd);
    assert_true(stat_of(main_srv.port, "cmd_complete") >= 8);
    assert_true(stat_of(main_srv.port, "err_NOTFOUND") >= 1);
    assert_true(stat_of(main_srv.port, "accept_with_user") >= 1);
    assert_true(stat_of(main_srv.port, "keys") >= 7);
}

static void test_commands_resp(void **state) {
    (void)state;
    NEED_BIN();
    int fd = dial(main_srv.port);
    expect(fd, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n");
    expect(fd, "*3\r\n$8\r\nCOMPLETE\r\n$3\r\nnew\r\n$10\r\nWITHSCORES\r\n",
           "*6\r\n$8\r\nNew York\r\n$3\r\n100\r\n$14\r\nnew york times\r\n$2\r\n80\r\n"
           "$6\r\nnewark\r\n$2\r\n20\r\n");
    expect(fd, "*4\r\n$8\r\nCOMPLETE\r\n$3\r\nnew\r\n$5\r\nLIMIT\r\n$1\r\n1\r\n", "*1\r\n$8\r\nNew York\r\n");
    expect(fd, "*2\r\n$3\r\nGET\r\n$7\r\nnetflix\r\n", "$2\r\n90\r\n");
    expect(fd, "*2\r\n$3\r\nGET\r\n$4\r\nnope\r\n", "-ERR NOTFOUND no such query\r\n");
    expect(fd, "*3\r\n$3\r\nADD\r\n$4\r\nr\xc3\xa9s\r\n$1\r\n7\r\n", "+OK\r\n");
    expect(fd, "*2\r\n$3\r\nDEL\r\n$3\r\nres\r\n", ":1\r\n"); /* accents fold: "rés" is key "res" */
    expect(fd, "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n", "*0\r\n");
    expect(fd, "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$10\r\nappendonly\r\n", "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
    expect(fd, "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$5\r\nmax-k\r\n", "*2\r\n$5\r\nmax-k\r\n$3\r\n100\r\n");
    expect(fd, "*2\r\n$8\r\nCOMPLETE\r\n$1\r\n\xff\r\n", "-ERR UTF8 invalid UTF-8\r\n");
    /* text and RESP can alternate on one connection */
    expect(fd, "PING\r\n*1\r\n$4\r\nPING\r\n", "OK PONG\r\n+PONG\r\n");
    /* a framing error is fatal: error, then close */
    expect(fd, "*1\r\n:12\r\n", "-ERR SYNTAX expected '$' (RESP arrays must hold bulk strings)\r\n");
    assert_true(wait_eof(fd, 2000));
    close(fd);
    fd = dial(main_srv.port);
    expect(fd, "*2147483647\r\n", "-ERR LIMIT too many arguments (max-args)\r\n");
    assert_true(wait_eof(fd, 2000));
    close(fd);
}

static void test_pipeline_10000(void **state) {
    (void)state;
    NEED_BIN();
    qbuf req, want;
    qbuf_init(&req);
    qbuf_init(&want);
    for (int i = 0; i < 10000; i++) {
        if (i % 2) {
            qbuf_printf(&req, "COMPLETE key%05d LIMIT 1\r\n", i);
            qbuf_printf(&want, "OK 1\r\nkey%05d\t%d\r\n", i, i);
        } else {
            qbuf_printf(&req, "GET key%05d\r\n", i);
            qbuf_printf(&want, "OK %d\r\n", i);
        }
    }
    int fd = dial(main_srv.port);
    send_all(fd, req.data, req.len);
    char *got = malloc(want.len + 1);
    size_t n = recv_n(fd, got, want.len, 10000);
    assert_int_equal(n, want.len);
    assert_memory_equal(got, want.data, want.len);
    expect(fd, "PING\r\n", "OK PONG\r\n");
    free(got);
    close(fd);
    qbuf_free(&req);
    qbuf_free(&want);
}

/* A client that sends but never reads is closed past output-hard-limit
 * (256k here) while others are served. */
static void test_slow_reader(void **state) {
    (void)state;
    NEED_BIN();
    int before = (int)stat_of(main_srv.port, "closed_output_limit");
    int slow = dial(main_srv.port);
    int rcv = 4096;
    setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    fcntl(slow, F_SETFL, O_NONBLOCK);
    const char *r = "COMPLETE key LIMIT 100\r\n";
    size_t rl = strlen(r);
    char chunk[24 * 400];
    for (int i = 0; i < 400; i++) memcpy(chunk + i * rl, r, rl);
    size_t sent = 0;
    uint64_t end = qtime_us() + 5000000;
    int closed = 0;
    while (qtime_us() < end && sent < (64u << 20)) {
        ssize_t w = send(slow, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            usleep(1000);
            if (stat_of(main_srv.port, "closed_output_limit") > before) break;
            continue;
        }
        if (w < 0) {
            closed = 1; /* EPIPE / ECONNRESET: already closed */
            break;
        }
        sent += (size_t)w;
    }
    /* the others are still served */
    int fd = dial(main_srv.port);
    expect(fd, "PING\r\n", "OK PONG\r\n");
    close(fd);
    assert_true(closed || stat_of(main_srv.port, "closed_output_limit") > before);
    assert_int_equal((int)stat_of(main_srv.port, "closed_output_limit"), before + 1);
    close(slow);
}

static void test_overlong_and_utf8(void **state) {
    (void)state;
    NEED_BIN();
    char big[6000];
    /* a long line whose newline arrives in the same write: error, connection usable */
    memcpy(big, "COMPLETE ", 9);
    memset(big + 9, 'a', 4200);
    memcpy(big + 4209, "\r\nPING\r\n", 8);
    int fd = dial(main_srv.port);
    send_all(fd, big, 4217);
    char line[256];
    recv_line(fd, line, sizeof line);
    assert_string_equal(line, "ERR TOOLONG request line too long\r\n");
    recv_line(fd, line, sizeof line);
    assert_string_equal(line, "OK PONG\r\n");
    /* invalid UTF-8 */
    expect(fd, "COMPLETE \"\\xc3\\x28\"\r\n", "ERR UTF8 invalid UTF-8\r\n");
    expect(fd, "ADD \xed\xa0\x80 1\r\n", "ERR UTF8 invalid UTF-8\r\n");
    expect(fd, "ACCEPT ok USER \xff\r\n", "ERR UTF8 invalid UTF-8 in id\r\n");
    expect(fd, "PING\r\n", "OK PONG\r\n");
    close(fd);
    /* no newline within max-line: error, then the connection is closed */
    fd = dial(main_srv.port);
    memset(big, 'b', sizeof big);
    send_all(fd, big, sizeof big);
    recv_line(fd, line, sizeof line);
    assert_string_equal(line, "ERR TOOLONG request line too long (no newline within max-line)\r\n");
    assert_true(wait_eof(fd, 2000));
    close(fd);
}

static void test_half_resp_frame(void **state) {
    (void)state;
    NEED_BIN();
    for (int i = 0; i < 20; i++) {
        int fd = dial(main_srv.port);
        const char *half = "*3\r\n$8\r\nCOMPLETE\r\n$2\r\nne";
        send_all(fd, half, strlen(half) - (size_t)(i % 5));
        close(fd);
    }
    int fd = dial(main_srv.port);
    expect(fd, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n");
    close(fd);
}

static void test_1000_connections(void **state) {
    (void)state;
    NEED_BIN();
    enum { N = 1000 };
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = dial(main_srv.port);
        assert_true(fds[i] >= 0);
    }
    for (int i = 0; i < N; i++) send_all(fds[i], "COMPLETE new LIMIT 1\r\n", 22);
    for (int i = 0; i < N; i++) {
        char buf[64];
        const char *want = "OK 1\r\nNew York\t100\r\n";
        size_t n = recv_n(fds[i], buf, strlen(want), 5000);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(buf, want, n);
    }
    assert_true(stat_of(main_srv.port, "connections_current") >= N);
    for (int i = 0; i < N; i++) close(fds[i]);
}

static void test_max_clients(void **state) {
    (void)state;
    NEED_BIN();
    const char *extra[] = {"--max-clients", "2", NULL};
    server s = start_server(extra);
    usleep(100000); /* the readiness probe's connection is gone */
    int a = dial(s.port), b = dial(s.port);
    expect(a, "PING\r\n", "OK PONG\r\n");
    expect(b, "PING\r\n", "OK PONG\r\n");
    int c = dial(s.port);
    char line[128];
    recv_line(c, line, sizeof line);
    assert_string_equal(line, "-ERR LIMIT max-clients reached\r\n");
    assert_true(wait_eof(c, 2000));
    close(c);
    close(a);
    usleep(100000);
    c = dial(s.port);
    expect(c, "PING\r\n", "OK PONG\r\n");
    close(b);
    close(c);
    stop_server(&s);
}

static void test_idle_timeout_and_sigterm(void **state) {
    (void)state;
    NEED_BIN();
    const char *extra[] = {"--idle-timeout", "1", NULL};
    server s = start_server(extra);
    int a = dial(s.port);
    expect(a, "PING\r\n", "OK PONG\r\n");
    uint64_t t0 = qtime_us();
    assert_true(wait_eof(a, 4000));
    uint64_t waited = qtime_us() - t0;
    assert_true(waited >= 900000);
    close(a);
    /* SIGTERM with a client connected: it gets its reply, then EOF; exit 0 */
    int b = dial(s.port);
    expect(b, "PING\r\n", "OK PONG\r\n");
    stop_server(&s);
    assert_true(wait_eof(b, 2000));
    close(b);
}

static void test_usage_errors(void **state) {
    (void)state;
    NEED_BIN();
    const char *cases[][6] = {
        {"serve", NULL},
        {"serve", "-i", main_srv.index, "--no-such-thing", "1", NULL},
        {"serve", "-i", main_srv.index, "--max-k", "500", NULL},
        {"serve", "-i", main_srv.index, "--config", "/nonexistent/qac.conf", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[8] = {main_srv.bin};
        for (int j = 0; cases[i][j]; j++) args[j + 1] = cases[i][j];
        pid_t p = spawn(args, 1);
        assert_true(p > 0);
        int st;
        waitpid(p, &st, 0);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 2);
    }
}

/* --- setup -------------------------------------------------------------------- */

static int group_setup(void **state) {
    (void)state;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    static const test_key keys[] = {
        {"new york", "New York", 100}, {"new york times", NULL, 80}, {"netflix", NULL, 90},
        {"newark", NULL, 20},          {"cafe paris", "Café Paris", 5},
    };
    const char *extra[] = {"--output-soft-limit", "64k", "--output-hard-limit", "256k", NULL};
    return qac_fixture_start(&main_srv, "srvtest", keys, sizeof keys / sizeof keys[0], 10000, extra);
}

static int group_teardown(void **state) {
    (void)state;
    return qac_fixture_stop(&main_srv);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_text),     cmocka_unit_test(test_commands_resp),
        cmocka_unit_test(test_pipeline_10000),    cmocka_unit_test(test_slow_reader),
        cmocka_unit_test(test_overlong_and_utf8), cmocka_unit_test(test_half_resp_frame),
        cmocka_unit_test(test_1000_connections),  cmocka_unit_test(test_max_clients),
        cmocka_unit_test(test_idle_timeout_and_sigterm), cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
