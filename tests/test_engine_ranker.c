/* Tests for engine/rank/ranker.c: without Redis (synchronous, in-process history:
 * accepts move the user's query up), with the shared test redis (answers
 * come through the callback exactly once, history round-trips through
 * Redis), a wedged private redis (SIGSTOP: answered at the deadline,
 * degraded, the late replies never reach the caller), and a request
 * cancelled while it waits (its callback never runs). Every test closes the
 * ranker and asserts uv_loop_close == 0. */
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
#include "engine/rank/ranker.h"
#include "ranking/ftrl.h"
#include "tests/helpers.h"

#define S(x) x, sizeof(x) - 1

static trie *mk_trie(void) {
    static const test_key keys[] = {{"new york", "New York", 100}, {"newark", "Newark", 50}, {"news", "news", 70}};
    trie *t = trie_of(keys, sizeof keys / sizeof keys[0]);
    assert_non_null(t);
    return t;
}

typedef struct got {
    int calls, degraded;
    char first[64];
} got;

static void on_res(void *ud, const eng_rank_result *res) {
    got *g = ud;
    g->calls++;
    g->degraded = res->degraded;
    if (res->n) snprintf(g->first, sizeof g->first, "%.*s", (int)res->c[0].len, res->c[0].q);
}

static void finish(uv_loop_t *loop, eng_rank *R, trie *t) {
    eng_rank_close(R);
    for (int i = 0; i < 10000 && uv_run(loop, UV_RUN_NOWAIT); i++) usleep(1000); /* a gen build may end first */
    assert_int_equal(uv_loop_close(loop), 0);
    trie_free(t);
}

/* Completes and waits for the answer (sync or async); returns first text. */
static void complete(uv_loop_t *loop, eng_rank *R, const char *user, got *g) {
    eng_rank_result res;
    eng_rank_pending *h;
    memset(g, 0, sizeof *g);
    int r = eng_rank_complete(R, S("new"), user, strlen(user), NULL, 0, 10, NULL, &res, on_res, g, &h);
    if (r == 1) on_res(g, &res);
    else {
        uint64_t end = qtime_ns() + 2000000000ull;
        while (!g->calls && qtime_ns() < end) uv_run(loop, UV_RUN_ONCE);
    }
    assert_int_equal(g->calls, 1);
}

/* Without Redis (in-process history): a user's accepts move the query up for
 * that user only. */
static void test_no_redis(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = mk_trie();
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    char err[256];
    eng_rank *R = eng_rank_new(&loop, t, &o, err, sizeof err);
    assert_non_null(R);
    got g;
    complete(&loop, R, "u1", &g);
    assert_string_equal(g.first, "new york");
    for (int i = 0; i < 3; i++) eng_rank_accept(R, S("newark"), S("u1"), NULL, 0, S("new"), 1);
    complete(&loop, R, "u1", &g);
    assert_string_equal(g.first, "newark");
    assert_int_equal(g.degraded, 0);
    complete(&loop, R, "u2", &g); /* another user is unaffected */
    assert_string_equal(g.first, "new york");
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    assert_int_equal(st.redis_enabled, 0);
    assert_int_equal(st.history_writes, 3);
    finish(&loop, R, t);
}

/* Options eng_rank_new refuses: no candidates, a namespace with ':', a Redis
 * address without a port (the reason names HOST:PORT). */
static void test_bad_options(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    eng_rank_opts o;
    char err[256];
    eng_rank_opts_default(&o);
    o.candidates = 0;
    assert_null(eng_rank_new(&loop, NULL, &o, err, sizeof err));
    eng_rank_opts_default(&o);
    o.ns = "a:b";
    assert_null(eng_rank_new(&loop, NULL, &o, err, sizeof err));
    eng_rank_opts_default(&o);
    o.redis = "nohostport";
    assert_null(eng_rank_new(&loop, NULL, &o, err, sizeof err));
    assert_non_null(strstr(err, "HOST:PORT"));
    eng_rank_opts_default(&o);
    assert_int_equal(o.gen_copy_slice, RANK_GEN_DEFAULT_COPY_SLICE);
    assert_int_equal(o.gen_copy_note_bytes, RANK_GEN_DEFAULT_COPY_NOTE_BYTES);
    static const struct {
        int notes; /* 0: gen_copy_slice, 1: gen_copy_note_bytes */
        uint64_t v;
    } bad[] = {{0, 0},
               {0, RANK_GEN_MAX_COPY_SLICE + 1ull},
               {1, 0},
               {1, RANK_GEN_MIN_COPY_NOTE_BYTES - 1},
               {1, RANK_GEN_MAX_COPY_NOTE_BYTES + 1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        eng_rank_opts_default(&o);
        *(bad[i].notes ? &o.gen_copy_note_bytes : &o.gen_copy_slice) = bad[i].v;
        assert_null(eng_rank_new(&loop, NULL, &o, err, sizeof err));
        assert_non_null(strstr(err, bad[i].notes ? "gen-copy-note-bytes wants 4194304..1099511627776"
                                                 : "gen-copy-slice wants 1.."));
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

static eng_rank *with_redis(uv_loop_t *loop, trie *t, int port, const char *ns) {
    char addr[64], err[256];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    o.redis = addr;
    o.ns = ns;
    o.deadline_ms = 50; /* generous: the test must not depend on timing */
    eng_rank *R = eng_rank_new(loop, t, &o, err, sizeof err);
    assert_non_null(R);
    eng_rank_stat st;
    uint64_t end = qtime_ns() + 3000000000ull;
    do {
        uv_run(loop, UV_RUN_ONCE);
        eng_rank_stats(R, &st);
    } while (!st.redis_up && qtime_ns() < end);
    assert_true(st.redis_up);
    return R;
}

static void test_redis_history(void **state) {
    (void)state;
    const char *p = getenv("QAC_TEST_REDIS_PORT");
    if (!p) skip();
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = mk_trie();
    char ns[32];
    snprintf(ns, sizeof ns, "rkt%d", (int)getpid());
    eng_rank *R = with_redis(&loop, t, atoi(p), ns);
    got g;
    complete(&loop, R, "u1", &g);
    assert_string_equal(g.first, "new york");
    assert_int_equal(g.degraded, 0);
    for (int i = 0; i < 3; i++) eng_rank_accept(R, S("newark"), S("u1"), S("s1"), S("new"), 1);
    for (int i = 0; i < 50; i++) uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
    complete(&loop, R, "u1", &g);
    assert_string_equal(g.first, "newark");
    assert_int_equal(g.degraded, 0);
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    assert_int_equal(st.history_write_errors, 0);
    assert_int_equal(st.degraded, 0);
    finish(&loop, R, t);
}

static void test_deadline_and_cancel(void **state) {
    (void)state;
    if (!have_redis_server()) skip();
    int port = free_port();
    pid_t pid = redis_start(port);
    usleep(200000);
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = mk_trie();
    eng_rank *R = with_redis(&loop, t, port, "qac");
    kill(pid, SIGSTOP);
    got g;
    complete(&loop, R, "u1", &g); /* answered at the deadline */
    assert_int_equal(g.degraded, 1);
    assert_string_equal(g.first, "new york");
    /* cancelled while waiting: never called */
    got c = {0};
    eng_rank_result res;
    eng_rank_pending *h;
    assert_int_equal(eng_rank_complete(R, S("new"), S("u1"), NULL, 0, 10, NULL, &res, on_res, &c, &h), 0);
    eng_rank_cancel(h);
    kill(pid, SIGCONT); /* late replies arrive now */
    for (int i = 0; i < 100; i++) uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
    assert_int_equal(g.calls, 1);
    assert_int_equal(c.calls, 0);
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    assert_int_equal(st.deadline_misses, 1);
    assert_true(st.degraded >= 1);
    finish(&loop, R, t);
    redis_kill(pid);
}

/* Online learning without Redis: accepts of the third candidate by many
 * different users (no personal signal for a new user) move it to the top for
 * a new user; the weights are saved at close and load again. */
static void test_online_update(void **state) {
    (void)state;
    char path[512], err[256];
    snprintf(path, sizeof path, "%s", tmp_path("ranker.model"));
    rank_ftrl_opts fo;
    rank_ftrl_opts_default(&fo);
    rank_ftrl *m = rank_ftrl_new(&fo);
    assert_non_null(m);
    assert_int_equal(rank_ftrl_save(m, path, err, sizeof err), 0);
    rank_ftrl_free(m);
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = mk_trie();
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    o.model = path;
    eng_rank *R = eng_rank_new(&loop, t, &o, err, sizeof err);
    assert_non_null(R);
    got g;
    complete(&loop, R, "fresh", &g);
    assert_string_not_equal(g.first, "newark");
    char u[16];
    for (int i = 0; i < 200; i++) {
        snprintf(u, sizeof u, "user%d", i);
        eng_rank_accept(R, S("newark"), u, strlen(u), NULL, 0, S("new"), 1);
    }
    complete(&loop, R, "fresh2", &g);
    assert_string_equal(g.first, "newark");
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    assert_int_equal(st.online_updates, 200);
    assert_true(st.model_updates > 0);
    finish(&loop, R, t); /* saves */
    assert_int_equal(rank_ftrl_load(path, &m, err, sizeof err), 0);
    assert_true(m->updates > 0);
    rank_ftrl_free(m);
    unlink(path);
}

/* A history heavier than any candidate buffer (the crash: one user's 1,200
 * distinct accepts under one prefix, then a ranked COMPLETE with a model
 * loaded). Answered in full, not degraded, with Redis (hash read back
 * before any trim) and without (in-process history). */
static void heavy_history(uv_loop_t *loop, eng_rank *R, int redis) {
    char q[64];
    for (int i = 0; i < 1200; i++) {
        int n = snprintf(q, sizeof q, "zzq hist %05d", i);
        if (i % 2) eng_rank_accept(R, q, (size_t)n, S("heavy"), S("sheavy"), NULL, 0, 1);
        else eng_rank_accept(R, q, (size_t)n, S("heavy"), NULL, 0, NULL, 0, 1);
        if (redis && i % 100 == 99)
            for (int k = 0; k < 20; k++) uv_run(loop, UV_RUN_NOWAIT);
    }
    if (redis)
        for (int i = 0; i < 200; i++) uv_run(loop, UV_RUN_NOWAIT), usleep(500);
    eng_rank_result res;
    eng_rank_pending *h;
    got g = {0};
    int r = eng_rank_complete(R, S("zzq"), S("heavy"), S("sheavy"), 10, NULL, &res, on_res, &g, &h);
    if (r == 1) on_res(&g, &res);
    else {
        uint64_t end = qtime_ns() + 2000000000ull;
        while (!g.calls && qtime_ns() < end) uv_run(loop, UV_RUN_ONCE);
    }
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.degraded, 0);
    assert_memory_equal(g.first, "zzq hist ", 9);
}

static char *zero_model(char *path, size_t cap) {
    char err[256];
    snprintf(path, cap, "%s", tmp_path("ranker-heavy.model"));
    rank_ftrl_opts fo;
    rank_ftrl_opts_default(&fo);
    rank_ftrl *m = rank_ftrl_new(&fo);
    assert_non_null(m);
    assert_int_equal(rank_ftrl_save(m, path, err, sizeof err), 0);
    rank_ftrl_free(m);
    return path;
}

static void test_heavy_history_no_redis(void **state) {
    (void)state;
    char path[512], err[256];
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = mk_trie();
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    o.model = zero_model(path, sizeof path);
    eng_rank *R = eng_rank_new(&loop, t, &o, err, sizeof err);
    assert_non_null(R);
    heavy_history(&loop, R, 0);
    finish(&loop, R, t);
    unlink(path);
}

static void test_heavy_history_redis(void **state) {
    (void)state;
    const char *p = getenv("QAC_TEST_REDIS_PORT");
    if (!p) skip();
    char path[512], addr[64], err[256], ns[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", p);
    snprintf(ns, sizeof ns, "rkh%d", (int)getpid());
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = mk_trie();
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    o.model = zero_model(path, sizeof path);
    o.redis = addr;
    o.ns = ns;
    o.deadline_ms = 2000; /* a 1,200-field HGETALL; the test is about the answer, not the time */
    eng_rank *R = eng_rank_new(&loop, t, &o, err, sizeof err);
    assert_non_null(R);
    eng_rank_stat st;
    uint64_t end = qtime_ns() + 3000000000ull;
    do {
        uv_run(&loop, UV_RUN_ONCE);
        eng_rank_stats(R, &st);
    } while (!st.redis_up && qtime_ns() < end);
    assert_true(st.redis_up);
    heavy_history(&loop, R, 1);
    eng_rank_stats(R, &st);
    assert_int_equal(st.history_write_errors, 0);
    finish(&loop, R, t);
    unlink(path);
}

/* --- fleet-shared learning (ranker_fleet.c) ---------------------------------- */

typedef struct fq { /* the "stream": published updates in order */
    size_t n;
    uint64_t ver[400];
    size_t len[400];
    unsigned char *buf[400];
} fq;

static void publish(void *ud, uint64_t version, const void *upd, size_t len) {
    fq *q = ud;
    assert_true(q->n < 400);
    q->ver[q->n] = version;
    q->len[q->n] = len;
    q->buf[q->n] = malloc(len);
    assert_non_null(q->buf[q->n]);
    memcpy(q->buf[q->n++], upd, len);
}

static uint64_t checksum(const eng_rank *R) {
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    return st.model_checksum;
}

/* Three rankers from one model file learn from ACCEPTs spread over them:
 * none moves until the updates are applied, all apply them in one order and
 * hold the same weights, and the fleet learns what one ranker would. A
 * checkpoint restores the weights (A/B slots: a torn next save leaves it
 * intact); another version's updates and checkpoint are ignored; garbage is
 * refused; the --model file is never overwritten. */
static void test_fleet(void **state) {
    (void)state;
    char path[512], path2[512], ck[512], err[256], pos[64];
    snprintf(path, sizeof path, "%s", tmp_path("fleet.model"));
    snprintf(path2, sizeof path2, "%s", tmp_path("fleet2.model"));
    snprintf(ck, sizeof ck, "%s", tmp_path("fleet.ckpt"));
    rank_ftrl_opts fo;
    rank_ftrl_opts_default(&fo);
    rank_ftrl *m = rank_ftrl_new(&fo);
    assert_non_null(m);
    assert_int_equal(rank_ftrl_save(m, path, err, sizeof err), 0);
    m->z[7] = 3; /* another version */
    m->n[7] = 1;
    assert_int_equal(rank_ftrl_save(m, path2, err, sizeof err), 0);
    rank_ftrl_free(m);
    long model_size = file_size(path);
    uv_loop_t loop[4];
    trie *t[4];
    eng_rank *R[4];
    fq *q = calloc(1, sizeof *q);
    assert_non_null(q);
    uint64_t v = 0;
    for (int k = 0; k < 4; k++) {
        uv_loop_init(&loop[k]);
        t[k] = mk_trie();
        eng_rank_opts o;
        eng_rank_opts_default(&o);
        o.model = k < 3 ? path : path2;
        R[k] = eng_rank_new(&loop[k], t[k], &o, err, sizeof err);
        assert_non_null(R[k]);
        uint64_t vk = eng_rank_fleet_start(R[k], publish, q);
        assert_true(vk != 0);
        if (k == 0) v = vk;
        if (k < 3) assert_true(vk == v);
        else assert_true(vk != v);
    }
    uint64_t c0 = checksum(R[0]);
    char u[16];
    for (int i = 0; i < 240; i++) {
        snprintf(u, sizeof u, "user%d", i);
        eng_rank_accept(R[i % 3], S("newark"), u, strlen(u), NULL, 0, S("new"), 1);
    }
    assert_true(q->n >= 200);
    for (int k = 0; k < 3; k++) assert_true(checksum(R[k]) == c0); /* nothing applied yet */
    const char *why = NULL;
    for (size_t i = 0; i < q->n; i++) {
        assert_true(q->ver[i] == v);
        for (int k = 0; k < 3; k++) assert_int_equal(eng_rank_fleet_apply(R[k], q->ver[i], q->buf[i], q->len[i], &why), 1);
        assert_int_equal(eng_rank_fleet_apply(R[3], q->ver[i], q->buf[i], q->len[i], &why), 0); /* other version */
    }
    uint64_t c1 = checksum(R[0]);
    assert_true(c1 != c0 && checksum(R[1]) == c1 && checksum(R[2]) == c1);
    got g;
    for (int k = 0; k < 3; k++) {
        complete(&loop[k], R[k], "fresh", &g);
        assert_string_equal(g.first, "newark");
    }
    /* garbage: refused, nothing changes */
    unsigned char bad[3] = {1, 1, 0};
    assert_int_equal(eng_rank_fleet_apply(R[0], v, bad, 2, &why), -1);
    assert_non_null(why);
    assert_true(checksum(R[0]) == c1);
    /* checkpoint: saved, moved on unchanged, loaded by a fresh ranker of the same version */
    assert_int_equal(eng_rank_fleet_save(R[0], ck, "5-0", 0, err, sizeof err), 0);
    assert_int_equal(eng_rank_fleet_save(R[0], ck, "9-1", 1, err, sizeof err), 0); /* weights unchanged */
    char slot[600];
    snprintf(slot, sizeof slot, "%s.1", ck);
    write_file(slot, "torn", 4); /* the next save's slot, torn by a crash */
    assert_int_equal(eng_rank_fleet_load(R[1], ck, pos, sizeof pos, err, sizeof err), 1);
    assert_string_equal(pos, "9-1");
    assert_true(checksum(R[1]) == c1);
    assert_int_equal(eng_rank_fleet_load(R[3], ck, pos, sizeof pos, err, sizeof err), 0); /* another version's */
    write_file(ck, "qac-fleet-model 1 version=zz position=1-0 slot=0\n", 49);
    assert_int_equal(eng_rank_fleet_load(R[1], ck, pos, sizeof pos, err, sizeof err), -1);
    /* BGSAVE's model save does not write the fleet's weights over --model */
    assert_int_equal(eng_rank_save(R[0], err, sizeof err), 0);
    for (int k = 0; k < 4; k++) finish(&loop[k], R[k], t[k]);
    assert_int_equal(file_size(path), model_size);
    assert_int_equal(rank_ftrl_load(path, &m, err, sizeof err), 0);
    assert_int_equal((int)m->updates, 0);
    rank_ftrl_free(m);
    for (size_t i = 0; i < q->n; i++) free(q->buf[i]);
    free(q);
    unlink(path);
    unlink(path2);
    unlink(ck);
    snprintf(slot, sizeof slot, "%s.0", ck);
    unlink(slot);
    snprintf(slot, sizeof slot, "%s.1", ck);
    unlink(slot);
}

/* --- the suffix index built off the loop (ranker_gen.c) --------------------- */

/* Ranked answer for p (no Redis: synchronous); 1 when `want` is among its
 * generated candidates. */
static int generates(eng_rank *R, const char *p, const char *want) {
    eng_rank_result res;
    eng_rank_pending *h;
    assert_int_equal(eng_rank_complete(R, p, strlen(p), S("u1"), NULL, 0, 10, NULL, &res, on_res, NULL, &h), 1);
    for (size_t i = 0; i < res.n; i++)
        if (res.c[i].gen && res.c[i].len == strlen(want) && !memcmp(res.c[i].q, want, res.c[i].len)) return 1;
    return 0;
}

static eng_rank_stat gen_stat(eng_rank *R) {
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    return st;
}


static void assert_same_index(const rank_gen *a, const rank_gen *b) {
    assert_non_null(a);
    assert_non_null(b);
    assert_trie_scores_same(rank_gen_trie(a), rank_gen_trie(b));
}

/* Keys of the it_gen.sh corpus plus n filler keys (so a build takes a while). */
static trie *gen_trie(size_t n) {
    static const test_key keys[] = {{"cheap hotels in paris", NULL, 7}, {"hotels in rome", NULL, 3},
                                    {"flights to rome", NULL, 2}, {"cheap flights to rio", NULL, 1}};
    trie *t = trie_of(keys, sizeof keys / sizeof keys[0]);
    assert_non_null(t);
    char k[64];
    uint64_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int len = snprintf(k, sizeof k, "w%llu x%llu y%llu", (unsigned long long)(x >> 54),
                           (unsigned long long)((x >> 30) & 1023), (unsigned long long)i);
        assert_int_equal(trie_incr(t, k, (size_t)len, NULL, 0, 1 + (double)(x >> 60), NULL), 0);
    }
    return t;
}

/* A live change as the engine makes it: the trie changed, then told. */
static void live_change(trie *t, eng_rank *R, uint64_t *x) {
    char k[64];
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    int len = snprintf(k, sizeof k, "w%llu x%llu", (unsigned long long)(*x >> 60),
                       (unsigned long long)((*x >> 30) & 63)); /* often a key that exists */
    double sc = 0;
    if ((*x >> 20) % 4 == 0) {
        if (trie_del(t, k, (size_t)len) == 0) eng_rank_changed(R, k, (size_t)len, 1, 0);
        return;
    }
    assert_int_equal(trie_incr(t, k, (size_t)len, NULL, 0, (double)((*x >> 8) & 15) / 3 + 1, &sc), 0);
    eng_rank_changed(R, k, (size_t)len, 0, sc);
}

/* Start with a tiny copy slice: the copy takes many loop turns; requests
 * are served meanwhile without generated candidates (gen_unready) while the
 * trie changes between slices; after the swap they have them, from an index
 * equal to a synchronous build of the trie as it was when the copy ended
 * (changes after it, while the worker builds, are the next RELOAD's). */
static void test_gen_off_loop(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = gen_trie(20000);
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    o.gen_copy_slice = 64;
    char err[256];
    eng_rank *R = eng_rank_new(&loop, t, &o, err, sizeof err);
    assert_non_null(R);
    assert_int_equal(gen_stat(R).gen_building, 1); /* the loop has not run: the swap cannot have happened */
    assert_int_equal(gen_stat(R).gen_copying, 1);
    assert_null(eng_rank_gen(R));
    assert_int_equal(generates(R, "hotels in p", "hotels in paris"), 0); /* no index yet */
    assert_int_equal(gen_stat(R).gen_unready, 1);
    uint64_t x = 99;
    int turns = 0;
    while (gen_stat(R).gen_copying) {
        for (int c = 0; c < 3; c++) live_change(t, R, &x);
        uv_run(&loop, UV_RUN_NOWAIT);
        turns++;
    }
    assert_true(turns > 100);
    rank_gen *want;
    assert_int_equal(rank_gen_build(t, o.gen_suffixes, o.gen_words, &want, NULL), 0); /* the trie when the copy ended */
    assert_int_equal(trie_incr(t, S("weather in lisbon"), NULL, 0, 50, NULL), 0); /* while the worker builds */
    eng_rank_changed(R, S("weather in lisbon"), 0, 50);
    gen_wait(&loop, R);
    eng_rank_stat st = gen_stat(R);
    assert_int_equal(st.gen_builds, 1);
    assert_true(st.gen_suffixes > 0);
    assert_true(st.gen_copy_bytes > 0);
    assert_true(st.gen_copy_slices >= 20000 / 64);
    assert_same_index(eng_rank_gen(R), want);
    assert_int_equal(generates(R, "hotels in p", "hotels in paris"), 1);
    assert_int_equal(generates(R, "hotels in l", "hotels in lisbon"), 0); /* added after the copy */
    assert_int_equal(gen_stat(R).gen_unready, 1);
    rank_gen_free(want);
    finish(&loop, R, t);
}

/* More changes during the copy than gen-copy-note-bytes holds: the copy is
 * dropped (no build, no index: it is the start), counted, and the notes
 * stopped at the bound; a RELOAD when the writes stop builds the index of
 * the trie as it is then. The same writes under the default bound build. */
static void test_gen_note_bound(void **state) {
    (void)state;
    for (int bounded = 1; bounded >= 0; bounded--) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        trie *t = gen_trie(20000);
        eng_rank_opts o;
        eng_rank_opts_default(&o);
        o.gen_copy_slice = 64;
        if (bounded) o.gen_copy_note_bytes = RANK_GEN_MIN_COPY_NOTE_BYTES;
        char err[256];
        eng_rank *R = eng_rank_new(&loop, t, &o, err, sizeof err);
        assert_non_null(R);
        uint64_t x = 7, changes = 0;
        while (gen_stat(R).gen_copying) {
            for (int c = 0; c < 1000; c++, changes++) live_change(t, R, &x); /* ~18 bytes a note */
            uv_run(&loop, UV_RUN_NOWAIT);
        }
        assert_true(changes > 100000);
        gen_wait(&loop, R);
        eng_rank_stat st = gen_stat(R);
        if (bounded) { /* the bound itself: test_ranking_gen's test_keys_note_bound */
            assert_int_equal(st.gen_builds, 0);
            assert_int_equal(st.gen_failures, 1);
            assert_int_equal(st.gen_note_overflows, 1);
            assert_null(eng_rank_gen(R));
            assert_int_equal(eng_rank_reload(R, err, sizeof err), 0); /* no writes now */
            gen_wait(&loop, R);
            st = gen_stat(R);
            assert_int_equal(st.gen_note_overflows, 1);
        } else { /* the copy (one block of keys) and notes over the bound above */
            assert_true(st.gen_copy_bytes > RANK_GEN_COPY_BLOCK + RANK_GEN_MIN_COPY_NOTE_BYTES);
            assert_int_equal(st.gen_failures, 0);
            assert_int_equal(st.gen_note_overflows, 0);
        }
        assert_int_equal(st.gen_builds, 1);
        rank_gen *want;
        assert_int_equal(rank_gen_build(t, o.gen_suffixes, o.gen_words, &want, NULL), 0);
        assert_same_index(eng_rank_gen(R), want);
        rank_gen_free(want);
        finish(&loop, R, t);
    }
}

/* RELOAD while a build runs: one more build is queued (a third RELOAD joins
 * it: gen_requeued), the old index serves meanwhile; the queued build
 * copies the trie when it starts, so it sees every change before it. */
static void test_gen_reload_during_build(void **state) {
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = gen_trie(20000);
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    char err[256];
    eng_rank *R = eng_rank_new(&loop, t, &o, err, sizeof err);
    assert_non_null(R);
    gen_wait(&loop, R);
    const rank_gen *old = eng_rank_gen(R);
    assert_int_equal(eng_rank_reload(R, err, sizeof err), 0);
    assert_int_equal(gen_stat(R).gen_building, 1);
    assert_int_equal(trie_incr(t, S("weather in lisbon"), NULL, 0, 50, NULL), 0);
    eng_rank_changed(R, S("weather in lisbon"), 0, 50);
    assert_int_equal(eng_rank_reload(R, err, sizeof err), 0); /* queued */
    assert_int_equal(eng_rank_reload(R, err, sizeof err), 0); /* joins the queued one */
    eng_rank_stat st = gen_stat(R);
    assert_int_equal(st.gen_requeued, 1);
    assert_true(eng_rank_gen(R) == old); /* the old index serves */
    assert_int_equal(generates(R, "hotels in p", "hotels in paris"), 1);
    assert_int_equal(generates(R, "hotels in l", "hotels in lisbon"), 0);
    rank_gen *want;
    uint64_t end = qtime_ns() + 10000000000ull;
    while (gen_stat(R).gen_builds < 3 && qtime_ns() < end) uv_run(&loop, UV_RUN_ONCE);
    gen_wait(&loop, R);
    assert_int_equal(gen_stat(R).gen_builds, 3); /* start + the running + one queued, not four */
    assert_int_equal(rank_gen_build(t, o.gen_suffixes, o.gen_words, &want, NULL), 0);
    assert_same_index(eng_rank_gen(R), want);
    assert_int_equal(generates(R, "hotels in l", "hotels in lisbon"), 1);
    assert_int_equal(gen_stat(R).gen_unready, 0);
    rank_gen_free(want);
    finish(&loop, R, t);
}

/* Shutdown while a build runs (at start, then at a RELOAD with one more
 * queued): the build is cancelled or waited for, the ranker freed after it,
 * the loop closes (the sanitizer build checks leaks and use after free). */
static void test_gen_close_during_build(void **state) {
    (void)state;
    for (int round = 0; round < 4; round++) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        trie *t = gen_trie(round < 2 ? 200000 : 100);
        eng_rank_opts o;
        eng_rank_opts_default(&o);
        char err[256];
        eng_rank *R = eng_rank_new(&loop, t, &o, err, sizeof err);
        assert_non_null(R);
        if (round & 1) {
            gen_wait(&loop, R);
            assert_int_equal(eng_rank_reload(R, err, sizeof err), 0);
            assert_int_equal(eng_rank_reload(R, err, sizeof err), 0);
            assert_int_equal(gen_stat(R).gen_building, 1);
        } else {
            usleep(2000); /* let the worker start */
        }
        eng_rank_close(R);
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns once the job has ended */
        assert_int_equal(uv_loop_close(&loop), 0);
        trie_free(t);
    }
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_redis),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_redis_history),
        cmocka_unit_test(test_deadline_and_cancel),
        cmocka_unit_test(test_online_update),
        cmocka_unit_test(test_heavy_history_no_redis),
        cmocka_unit_test(test_heavy_history_redis),
        cmocka_unit_test(test_fleet),
        cmocka_unit_test(test_gen_off_loop),
        cmocka_unit_test(test_gen_note_bound),
        cmocka_unit_test(test_gen_reload_during_build),
        cmocka_unit_test(test_gen_close_during_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
