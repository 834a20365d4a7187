/* tests/helpers.h -- helpers shared by the cmocka tests (tests/test_*.c).
 *
 * Header only (static inline): the Makefile links each test binary from its
 * own .c file and its module's archives, so there is no helpers.c to link.
 * Include it after <cmocka.h> and the module headers a test uses; the
 * assert_* helpers may only run inside a cmocka test (those that may run in
 * a group setup return an error code instead).
 *
 * Scratch files
 *   tmp_base()                    $QAC_TMP when set and not empty, else /tmp
 *   tmp_path(name)                "$QAC_TMP/qac-test.<pid>.<name>" (four
 *                                 rotating static buffers)
 *   make_tmpdir(dir, cap, name)   mkdtemp "$QAC_TMP/<name>.XXXXXX" into dir;
 *                                 0, or -1
 *   remove_tree(dir)              rm -rf dir; 0, or -1
 *   write_file(path, data, len)   creates/replaces path (asserts)
 *   file_size(path)               bytes, or -1
 *   set_byte / xor_byte(path, off, v)  overwrite / flip one byte in place
 *                                 (asserts): corruption tests
 * Processes and ports
 *   free_port()                   a free 127.0.0.1 TCP port, or -1
 *   spawn(argv, quiet)            fork + execvp (quiet: stdout and stderr to
 *                                 /dev/null); the child's pid, or -1
 *   wait_ping(port, ms, pid)      1 once "PING\r\n" on port is answered with a
 *                                 PONG (qac's text protocol, redis inline);
 *                                 0 after ms or when pid (if > 0) has exited
 *   stop_process(pid, ms)         SIGTERM, then waits up to ms: the exit
 *                                 status (0..255), -1 when a signal ended
 *                                 it, -2 when it had to be SIGKILLed
 *   qac_bin_from_env()            $QAC_BIN when it is executable, else NULL
 *                                 (the tests that need it skip)
 *   qac_serve_start(bin, index, port, extra)  `qac serve -i index --port port
 *                                 --http-port 0 --log-level error extra...`
 *                                 answering PING; its pid, or -1 (nothing
 *                                 left running)
 *   have_redis_server(), redis_start(port), redis_kill(pid)  a private
 *                                 redis-server (no persistence, DEBUG
 *                                 allowed) for tests that stop or kill it
 * Tries (only when trie/trie.h is included before this header: the tests
 * of common/ and text/ do not link the trie)
 *   test_key, trie_of(keys, n)    a trie from a {key, display, score} list
 *                                 (display NULL: none); NULL on failure
 *   save_test_index(path, keys, n, numbered)  trie_of plus `numbered` keys
 *                                 "key00000".. scored by their number, saved
 *                                 to path; 0, or -1
 *   qac_fixture_start(f, name, keys, n, numbered, extra)  for a group
 *                                 setup: with $QAC_BIN (else f->bin NULL,
 *                                 0), a scratch directory f->dir holding
 *                                 f->index (save_test_index) and `qac serve`
 *                                 on it (qac_serve_start: f->port, f->pid);
 *                                 0, or -1 with a message on stderr
 *   qac_fixture_stop(f)           SIGTERM, the server must exit 0 within
 *                                 10 s; removes f->dir; 0, or -1
 *   assert_trie_ok(t)             trie_check passes
 *   assert_trie_scores_same(a, b) a's keys are b's, with the same scores
 * The ranker (only when engine/rank/ranker.h is included before this header)
 *   gen_wait(loop, R)             runs the loop until the generated-completion
 *                                 index build is swapped in (asserts, 10 s)
 *   assert_tries_same(a, b, rnd, max_prefixes)  the same count, keys,
 *                                 displays, scores and ids in order,
 *                                 and the same top-k (random k) for the empty
 *                                 prefix and for a random prefix of each key
 *                                 (at most max_prefixes keys, picked with the
 *                                 caller's rnd(n) when there are more) */
#ifndef QAC_TESTS_HELPERS_H
#define QAC_TESTS_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --- scratch files ------------------------------------------------------- */

static inline const char *tmp_base(void) {
    const char *d = getenv("QAC_TMP");
    return d && *d ? d : "/tmp";
}

static inline const char *tmp_path(const char *name) {
    static char buf[4][512];
    static unsigned i;
    char *p = buf[i++ % 4];
    snprintf(p, sizeof buf[0], "%s/qac-test.%d.%s", tmp_base(), (int)getpid(), name);
    return p;
}

static inline int make_tmpdir(char *dir, size_t cap, const char *name) {
    int n = snprintf(dir, cap, "%s/%s.XXXXXX", tmp_base(), name);
    if (n < 0 || (size_t)n >= cap) return -1;
    return mkdtemp(dir) ? 0 : -1;
}

static inline int remove_tree(const char *dir) {
    char cmd[1100];
    if (!dir[0] || strchr(dir, '\'')) return -1;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static inline void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s", path);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static inline long file_size(const char *path) {
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    return (long)st.st_size;
}

static inline void set_byte(const char *path, long off, int byte) {
    FILE *f = fopen(path, "r+b");
    if (!f) fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    assert_int_equal(fputc(byte, f), byte & 0xff);
    assert_int_equal(fclose(f), 0);
}

static inline void xor_byte(const char *path, long off, int mask) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    int c = fgetc(f);
    fclose(f);
    assert_true(c != EOF);
    set_byte(path, off, (c ^ mask) & 0xff);
}

/* --- processes and ports ------------------------------------------------- */

static inline int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static inline pid_t spawn(const char *const *args, int quiet) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (quiet) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
    }
    char *v[64]; /* execvp wants char *const[]; the strings are never written */
    size_t i = 0;
    for (; args[i] && i < 63; i++) v[i] = (char *)(uintptr_t)args[i];
    v[i] = NULL;
    execvp(v[0], v);
    _exit(127);
}

static inline int process_gone(pid_t pid) {
    char p[64], st = 0;
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return 1;
    int n = fscanf(f, "%*d (%*[^)]) %c", &st);
    fclose(f);
    return n == 1 && (st == 'Z' || st == 'X');
}

static inline int wait_ping(int port, int timeout_ms, pid_t pid) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
            send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
            char buf[64];
            size_t got = 0;
            struct pollfd pf = {fd, POLLIN, 0};
            while (got < sizeof buf - 1 && poll(&pf, 1, 500) > 0) {
                ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
                if (r <= 0) break;
                got += (size_t)r;
                buf[got] = 0;
                if (strstr(buf, "PONG")) {
                    close(fd);
                    return 1;
                }
            }
        }
        if (fd >= 0) close(fd);
        if (pid > 0 && process_gone(pid)) return 0;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms) return 0;
        usleep(25000);
    }
}

static inline int stop_process(pid_t pid, int timeout_ms) {
    int st = 0;
    if (pid <= 0) return -1; /* never kill(-1) or kill(0) */
    kill(pid, SIGTERM);
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -2;
}

static inline const char *qac_bin_from_env(void) {
    const char *b = getenv("QAC_BIN");
    return b && access(b, X_OK) == 0 ? b : NULL;
}

static inline pid_t qac_serve_start(const char *bin, const char *index, int port, const char *const *extra) {
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    const char *args[48] = {bin, "serve", "-i", index, "--port", p, "--http-port", "0", "--log-level", "error"};
    int n = 10;
    for (int i = 0; extra && extra[i] && n < 47; i++) args[n++] = extra[i];
    args[n] = NULL;
    pid_t pid = spawn(args, 0);
    if (pid < 0) return -1;
    if (wait_ping(port, 10000, pid)) return pid;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static inline int have_redis_server(void) { return system("command -v redis-server >/dev/null 2>&1") == 0; }

static inline pid_t redis_start(int port) {
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    const char *args[] = {"redis-server", "--port", p, "--bind", "127.0.0.1", "--dir", tmp_base(), "--save", "",
                          "--appendonly", "no", "--daemonize", "no", "--enable-debug-command", "yes", NULL};
    return spawn(args, 1);
}

static inline void redis_kill(pid_t pid) {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* --- tries (tests that include trie/trie.h first) ------------------------ */
#ifdef QAC_TRIE_H

typedef struct test_key {
    const char *key, *display; /* display NULL: none */
    double score;
} test_key;

static inline trie *trie_of(const test_key *keys, size_t n) {
    trie *t = trie_new();
    for (size_t i = 0; t && i < n; i++) {
        const char *d = keys[i].display;
        if (trie_set(t, keys[i].key, strlen(keys[i].key), d, d ? strlen(d) : 0, keys[i].score, NULL)) {
            trie_free(t);
            return NULL;
        }
    }
    return t;
}

static inline int save_test_index(const char *path, const test_key *keys, size_t n, int numbered) {
    trie *t = trie_of(keys, n);
    if (!t) return -1;
    int rc = 0;
    for (int i = 0; i < numbered && rc == 0; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "key%05d", i);
        rc = trie_set(t, k, (size_t)kl, NULL, 0, i, NULL) ? -1 : 0;
    }
    if (rc == 0) rc = trie_save(t, path) ? -1 : 0;
    trie_free(t);
    return rc;
}

typedef struct qac_fixture {
    const char *bin; /* NULL: $QAC_BIN unset, the tests skip */
    char dir[400], index[512];
    int port;
    pid_t pid;
} qac_fixture;

static inline int qac_fixture_start(qac_fixture *f, const char *name, const test_key *keys, size_t n, int numbered,
                                    const char *const *extra) {
    memset(f, 0, sizeof *f);
    f->bin = qac_bin_from_env();
    if (!f->bin) return 0;
    if (make_tmpdir(f->dir, sizeof f->dir, name) != 0) return -1;
    snprintf(f->index, sizeof f->index, "%s/test.idx", f->dir);
    if (save_test_index(f->index, keys, n, numbered) != 0) return -1;
    f->port = free_port();
    f->pid = qac_serve_start(f->bin, f->index, f->port, extra);
    if (f->pid > 0) return 0;
    f->pid = 0;
    fprintf(stderr, "qac serve did not answer on port %d\n", f->port);
    return -1;
}

static inline int qac_fixture_stop(qac_fixture *f) {
    int rc = 0;
    if (f->pid > 0) {
        int st = stop_process(f->pid, 10000);
        if (st != 0) {
            fprintf(stderr, "qac serve exit status %d\n", st);
            rc = -1;
        }
        f->pid = 0;
    }
    if (f->dir[0] && remove_tree(f->dir) != 0) rc = -1;
    return rc;
}

static inline void assert_trie_ok(const trie *t) {
    char err[256];
    if (trie_check(t, err, sizeof err)) fail_msg("trie_check: %s", err);
}

typedef struct trie_hits {
    trie_hit *h;
    size_t n, cap;
} trie_hits;

static inline int trie_hits_add(void *ud, const trie_hit *h) {
    trie_hits *c = ud;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->h = realloc(c->h, c->cap * sizeof *c->h);
        assert_non_null(c->h);
    }
    c->h[c->n++] = *h;
    return 0;
}

static inline int same_hit(const trie_hit *a, const trie_hit *b) {
    return a->keylen == b->keylen && memcmp(trie_hit_key(a), trie_hit_key(b), a->keylen) == 0 &&
           a->displen == b->displen && memcmp(trie_hit_display(a), trie_hit_display(b), a->displen) == 0 &&
           a->id == b->id && a->score == b->score;
}

static inline void assert_tries_same(const trie *a, const trie *b, uint32_t (*rnd)(uint32_t), size_t max_prefixes) {
    trie_hits ca = {0}, cb = {0};
    trie_foreach(a, trie_hits_add, &ca);
    trie_foreach(b, trie_hits_add, &cb);
    assert_int_equal(ca.n, cb.n);
    assert_int_equal(trie_count(a), trie_count(b));
    for (size_t i = 0; i < ca.n; i++)
        if (!same_hit(&ca.h[i], &cb.h[i])) fail_msg("entry %zu differs", i);
    size_t np = ca.n < max_prefixes ? ca.n : max_prefixes;
    trie_hit ha[TRIE_MAX_K], hb[TRIE_MAX_K];
    for (size_t i = 0; i <= np; i++) { /* the last one: the empty prefix */
        const char *p = "";
        size_t pl = 0;
        if (i < np) {
            size_t j = np == ca.n ? i : rnd((uint32_t)ca.n);
            p = trie_hit_key(&ca.h[j]);
            pl = rnd(ca.h[j].keylen + 1);
        }
        unsigned k = 1 + rnd(TRIE_MAX_K);
        int na = trie_topk(a, p, pl, k, ha), nb = trie_topk(b, p, pl, k, hb);
        assert_int_equal(na, nb);
        for (int x = 0; x < na; x++)
            if (!same_hit(&ha[x], &hb[x])) fail_msg("top-%u of '%.*s': hit %d differs", k, (int)pl, p, x);
    }
    free(ca.h);
    free(cb.h);
}


/* Every key of a is in b with the same score, and b has no other key
 * (displays and ids are not compared: assert_tries_same does). */
typedef struct test_score_walk {
    const trie *other;
    size_t n;
    int diff;
} test_score_walk;

static inline int test_score_same(void *ud, const trie_hit *h) {
    test_score_walk *w = ud;
    double sc;
    w->n++;
    if (!trie_score(w->other, trie_hit_key(h), h->keylen, &sc) || sc != h->score) w->diff = 1;
    return w->diff;
}

static inline void assert_trie_scores_same(const trie *a, const trie *b) {
    test_score_walk w = {b, 0, 0};
    trie_foreach(a, test_score_same, &w);
    assert_int_equal(w.diff, 0);
    assert_int_equal(w.n, trie_count(b));
}
#endif /* QAC_TRIE_H */
#ifdef QAC_ENG_RANKER_H
/* Runs loop until R's suffix index of generated completions is built and
 * swapped in (engine/rank/ranker_gen.c builds it off the loop); 10 s at most. */
static inline void gen_wait(uv_loop_t *loop, eng_rank *R) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    eng_rank_stat st;
    for (eng_rank_stats(R, &st); st.gen_building; eng_rank_stats(R, &st)) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 10) break;
        uv_run(loop, UV_RUN_ONCE);
    }
    assert_int_equal(st.gen_building, 0);
}
#endif /* QAC_ENG_RANKER_H */

#endif
