/* Tests for the ranker's in-process n-gram table (engine/rank/ranker.c, "Vectors
 * for text without a query row"), against the shared test redis
 * (QAC_TEST_REDIS_PORT; skipped without it). An EMB is built in memory, its
 * bucket rows and meta written to Redis as `qac load` writes them
 * (data/load.c), NS:current pointed at it; once the ranker reports the table
 * READY, text that has no query row gets exactly the vector rank_emb_vector
 * gives offline for the same EMB (through eng_rank_debug_vector, the path
 * scoring takes for session queries). A second version with another table
 * replaces it (vectors then match the new EMB, not the old one); a table over
 * ngram-bytes is not loaded (TOOBIG: no vector, counted as a fallback). Every
 * test closes the ranker and asserts uv_loop_close == 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "engine/rank/ranker.h"
#include "ranking/embed.h"

#define S(x) x, sizeof(x) - 1
#define DIMS 16

/* An in-memory EMB: pseudo-random rows, every third bucket empty. */
typedef struct memb {
    rank_emb e;
    float scale[4096];
    int8_t q[4096 * DIMS];
} memb;

static void mk_emb(memb *m, uint32_t buckets, uint64_t seed) {
    assert_true(buckets <= 4096);
    memset(m, 0, sizeof *m);
    m->e.dims = DIMS;
    m->e.buckets = buckets;
    m->e.scale = m->scale;
    m->e.q = m->q;
    uint64_t x = seed;
    for (uint32_t b = 0; b < buckets; b++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (b % 3 == 2) continue;
        m->scale[b] = (float)(x % 1000 + 1) / 1e4f;
        for (uint32_t i = 0; i < DIMS; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            m->q[b * DIMS + i] = (int8_t)((int)(x % 255) - 127);
        }
    }
}

static redisContext *rconn(void) {
    const char *p = getenv("QAC_TEST_REDIS_PORT");
    redisContext *c = redisConnect("127.0.0.1", atoi(p));
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

static void cmd_ok(redisContext *c, redisReply *r) {
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    (void)c;
}

/* Writes version v of m under ns (bucket rows + meta), then NS:current = v. */
static void publish(redisContext *c, const char *ns, unsigned v, const memb *m) {
    char key[128], sd[16], sb[16];
    unsigned char row[4 + DIMS];
    for (uint32_t b = 0; b < m->e.buckets; b++) {
        if (m->scale[b] == 0) continue;
        int kl = snprintf(key, sizeof key, "%s:v%u:b:%u", ns, v, b);
        rank_emb_row(&m->e, b, row);
        cmd_ok(c, redisCommand(c, "SET %b %b", key, (size_t)kl, row, sizeof row));
    }
    snprintf(sd, sizeof sd, "%u", m->e.dims);
    snprintf(sb, sizeof sb, "%u", m->e.buckets);
    cmd_ok(c, redisCommand(c, "HSET %s:v%u:meta dims %s buckets %s", ns, v, sd, sb));
    char sv[16];
    snprintf(sv, sizeof sv, "%u", v);
    cmd_ok(c, redisCommand(c, "SET %s:current %s", ns, sv));
}

static void cleanup(redisContext *c, const char *ns) {
    redisReply *r = redisCommand(c, "KEYS %s:*", ns);
    assert_non_null(r);
    for (size_t i = 0; i < r->elements; i++)
        cmd_ok(c, redisCommand(c, "DEL %b", r->element[i]->str, (size_t)r->element[i]->len));
    freeReplyObject(r);
}

static eng_rank *mk_ranker(uv_loop_t *loop, trie *t, const char *ns, uint64_t ngram_bytes) {
    char addr[64], err[256];
    snprintf(addr, sizeof addr, "127.0.0.1:%s", getenv("QAC_TEST_REDIS_PORT"));
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    o.redis = addr;
    o.ns = ns;
    o.deadline_ms = 50;
    o.ngram_bytes = ngram_bytes;
    eng_rank *R = eng_rank_new(loop, t, &o, err, sizeof err);
    assert_non_null(R);
    return R;
}

/* Runs the loop until the ranker uses version v with the table in state. */
static void wait_for(uv_loop_t *loop, eng_rank *R, uint64_t v, int state) {
    eng_rank_stat st;
    uint64_t end = qtime_ns() + 5000000000ull;
    do {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
        eng_rank_stats(R, &st);
    } while ((st.emb_version != v || st.ngram_state != state) && qtime_ns() < end);
    assert_int_equal(st.emb_version, v);
    assert_int_equal(st.ngram_state, state);
}

static void finish(uv_loop_t *loop, eng_rank *R, trie *t) {
    eng_rank_close(R);
    for (int i = 0; i < 100 && uv_run(loop, UV_RUN_NOWAIT); i++) usleep(1000);
    assert_int_equal(uv_loop_close(loop), 0);
    trie_free(t);
}

static const char *texts[] = {"never seen in training", "new york", "zz", "caf\xc3\xa9 au lait", "a b c d e"};

/* The server's vector of every text equals rank_emb_vector's for m. */
static void expect_same(eng_rank *R, const memb *m) {
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
        float want[RANK_EMB_MAX_DIMS], got[RANK_EMB_MAX_DIMS];
        int w = rank_emb_vector(&m->e, texts[k], strlen(texts[k]), want);
        int g = eng_rank_debug_vector(R, texts[k], strlen(texts[k]), got);
        assert_int_equal(g, w);
        assert_int_equal(w, 1); /* the texts hit non-empty rows */
        for (int i = 0; i < DIMS; i++) assert_float_equal(got[i], want[i], 1e-6);
    }
}

static void test_compose_and_switch(void **state) {
    (void)state;
    if (!getenv("QAC_TEST_REDIS_PORT")) skip();
    static memb m1, m2;
    mk_emb(&m1, 1000, 88172645463325252ull);
    mk_emb(&m2, 700, 1234567ull);
    char ns[32];
    snprintf(ns, sizeof ns, "ngt%d", (int)getpid());
    redisContext *c = rconn();
    cleanup(c, ns);
    publish(c, ns, 1, &m1);
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = trie_new();
    assert_non_null(t);
    eng_rank *R = mk_ranker(&loop, t, ns, ENG_RANK_DEFAULT_NGRAM_BYTES);
    wait_for(&loop, R, 1, ENG_RANK_NG_READY);
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    uint64_t rows1 = 0;
    for (uint32_t b = 0; b < m1.e.buckets; b++) rows1 += m1.scale[b] != 0;
    assert_int_equal(st.ngram_rows, rows1);
    assert_int_equal(st.ngram_bytes, 1000 * (4 + DIMS));
    assert_int_equal(st.ngram_loads, 1);
    assert_int_equal(st.ngram_bad_rows, 0);
    expect_same(R, &m1);
    eng_rank_stats(R, &st);
    assert_int_equal(st.ngram_composed, sizeof texts / sizeof *texts);
    expect_same(R, &m1); /* now from the cache */
    eng_rank_stats(R, &st);
    assert_int_equal(st.ngram_composed, sizeof texts / sizeof *texts);

    /* a new version replaces the table (and the cached vectors) */
    publish(c, ns, 2, &m2);
    wait_for(&loop, R, 2, ENG_RANK_NG_READY);
    eng_rank_stats(R, &st);
    assert_int_equal(st.ngram_bytes, 700 * (4 + DIMS));
    assert_int_equal(st.ngram_loads, 2);
    expect_same(R, &m2);
    float a[RANK_EMB_MAX_DIMS], b[RANK_EMB_MAX_DIMS];
    rank_emb_vector(&m1.e, S("zz"), a);
    assert_int_equal(eng_rank_debug_vector(R, S("zz"), b), 1);
    assert_true(memcmp(a, b, DIMS * sizeof(float)) != 0);

    /* a bad row is refused (counted) and taken as empty at the next version */
    unsigned char bad[4 + DIMS + 1] = {0};
    cmd_ok(c, redisCommand(c, "SET %s:v3:b:0 %b", ns, bad, sizeof bad));
    memb *m3 = &m2;
    m3->scale[0] = 0; /* what the server will see for bucket 0 */
    for (uint32_t bk = 1; bk < m3->e.buckets; bk++) {
        if (m3->scale[bk] == 0) continue;
        char key[128];
        unsigned char row[4 + DIMS];
        int kl = snprintf(key, sizeof key, "%s:v3:b:%u", ns, bk);
        rank_emb_row(&m3->e, bk, row);
        cmd_ok(c, redisCommand(c, "SET %b %b", key, (size_t)kl, row, sizeof row));
    }
    cmd_ok(c, redisCommand(c, "HSET %s:v3:meta dims 16 buckets 700", ns));
    cmd_ok(c, redisCommand(c, "SET %s:current 3", ns));
    wait_for(&loop, R, 3, ENG_RANK_NG_READY);
    eng_rank_stats(R, &st);
    assert_int_equal(st.ngram_bad_rows, 1);
    expect_same(R, m3);
    finish(&loop, R, t);
    cleanup(c, ns);
    redisFree(c);
}

static void test_too_big(void **state) {
    (void)state;
    if (!getenv("QAC_TEST_REDIS_PORT")) skip();
    static memb m;
    mk_emb(&m, 1000, 42);
    char ns[32];
    snprintf(ns, sizeof ns, "ngb%d", (int)getpid());
    redisContext *c = rconn();
    cleanup(c, ns);
    publish(c, ns, 1, &m);
    uv_loop_t loop;
    uv_loop_init(&loop);
    trie *t = trie_new();
    assert_non_null(t);
    /* one byte short of the table */
    eng_rank *R = mk_ranker(&loop, t, ns, 1000 * (4 + DIMS) - 1);
    wait_for(&loop, R, 1, ENG_RANK_NG_TOOBIG);
    float v[RANK_EMB_MAX_DIMS];
    assert_int_equal(eng_rank_debug_vector(R, S("never seen in training"), v), 0);
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    assert_int_equal(st.ngram_fallbacks, 1);
    assert_int_equal(st.ngram_composed, 0);
    assert_int_equal(st.ngram_bytes, 0);
    finish(&loop, R, t);
    /* exactly the table's size: loaded */
    uv_loop_init(&loop);
    t = trie_new();
    R = mk_ranker(&loop, t, ns, 1000 * (4 + DIMS));
    wait_for(&loop, R, 1, ENG_RANK_NG_READY);
    assert_int_equal(eng_rank_debug_vector(R, S("never seen in training"), v), 1);
    finish(&loop, R, t);
    cleanup(c, ns);
    redisFree(c);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compose_and_switch),
        cmocka_unit_test(test_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
