/* Unit tests of the ranker's wiring into the commands (engine/cmd.c) and the
 * settings (engine/config.c), in process, without Redis: COMPLETE without
 * context keeps the plain trie order; with USER it goes through the ranker,
 * whose in-process history (fed by ACCEPT) moves the user's query up for
 * that user only; RELOAD; STATS shows the ranker's counters; the new
 * settings parse, range-check and cross-check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/util.h"
#include "engine/cmd.h"
#include "engine/config.h"
#include "engine/rank/ranker.h"
#include "trie/trie.h"

#define S(x) x, sizeof(x) - 1

typedef struct fx {
    uv_loop_t loop;
    trie *t;
    srv_config cfg;
    eng e;
    eng_rank *R;
    qbuf out;
} fx;

static int setup(void **state) {
    fx *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    f->t = trie_new();
    trie_set(f->t, S("new york"), S("New York"), 100, NULL);
    trie_set(f->t, S("netflix"), S("Netflix"), 90, NULL);
    trie_set(f->t, S("newark"), S("Newark"), 20, NULL);
    config_defaults(&f->cfg);
    eng_init(&f->e, f->t, &f->cfg);
    qbuf_init(&f->out);
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    char err[256];
    f->R = eng_rank_new(&f->loop, f->t, &o, err, sizeof err);
    assert_non_null(f->R);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    if (f->R) eng_rank_close(f->R);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    qbuf_free(&f->out);
    config_free(&f->cfg);
    trie_free(f->t);
    free(f);
    return 0;
}

/* Runs a RESP-style request (space-separated words) and returns the reply. */
static const char *run(fx *f, int argc, const char **words) {
    proto_arg argv[16];
    for (int i = 0; i < argc; i++) argv[i] = (proto_arg){.p = words[i], .len = strlen(words[i])};
    qbuf_reset(&f->out);
    int flags;
    assert_true(eng_exec(&f->e, PROTO_RESP, argc, argv, &f->out, &flags) >= 0);
    assert_false(flags & ENG_DEFER_RANK);
    assert_int_equal(qbuf_putc(&f->out, 0), 0);
    return f->out.data;
}
#define RUN(f, ...) run(f, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), (const char *[]){__VA_ARGS__})

static void test_plain_and_ranked(void **state) {
    fx *f = *state;
    const char *plain = "*3\r\n$8\r\nNew York\r\n$7\r\nNetflix\r\n$6\r\nNewark\r\n";
    /* no ranker: plain trie order */
    assert_string_equal(RUN(f, "COMPLETE", "ne"), plain);
    assert_string_equal(RUN(f, "COMPLETE", "ne", "USER", "u1"), plain);
    f->e.rank = f->R;
    assert_string_equal(RUN(f, "COMPLETE", "ne"), plain); /* no context, no model: not ranked */
    eng_rank_stat st;
    eng_rank_stats(f->R, &st);
    assert_int_equal(st.requests, 0);
    /* u1 accepts Newark three times: the in-process history moves it up for u1 */
    for (int i = 0; i < 3; i++) RUN(f, "ACCEPT", "Newark", "USER", "u1", "PREFIX", "ne", "RANK", "3");
    eng_rank_stats(f->R, &st);
    assert_int_equal(st.history_writes, 3);
    const char *r = RUN(f, "COMPLETE", "ne", "USER", "u1");
    assert_non_null(strstr(r, "Newark"));
    assert_true(strstr(r, "Newark") < strstr(r, "Netflix"));
    eng_rank_stats(f->R, &st);
    assert_int_equal(st.requests, 1);
    /* another user: popularity order (Newark's 23 is still last) */
    assert_string_equal(RUN(f, "COMPLETE", "ne", "USER", "u2"), plain);
    /* WITHSCORES shows popularity, in the ranker's order */
    r = RUN(f, "COMPLETE", "ne", "USER", "u1", "WITHSCORES", "LIMIT", "1");
    assert_string_equal(r, "*2\r\n$6\r\nNewark\r\n$2\r\n23\r\n");
    /* a too-long prefix still answers empty, and bad ids are refused as before */
    char longp[700];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    assert_string_equal(RUN(f, "COMPLETE", longp, "USER", "u1"), "*0\r\n");
    assert_non_null(strstr(RUN(f, "COMPLETE", "ne", "USER", ""), "-ERR"));
}

static void test_reload_and_stats(void **state) {
    fx *f = *state;
    assert_non_null(strstr(RUN(f, "RELOAD"), "-ERR ARGS no ranker"));
    f->e.rank = f->R;
    f->e.stats.rank = f->R;
    assert_string_equal(RUN(f, "RELOAD"), "+OK\r\n"); /* no model file: nothing to read, still OK */
    const char *s = RUN(f, "STATS");
    assert_non_null(strstr(s, "rank_degraded:0"));
    assert_non_null(strstr(s, "rank_redis_enabled:0"));
    assert_non_null(strstr(s, "rank_model_loaded:0"));
    assert_non_null(strstr(s, "cmd_reload:2"));
}

static void test_settings(void **state) {
    (void)state;
    srv_config c;
    char err[256];
    config_defaults(&c);
    assert_int_equal(c.redis_deadline_ms, ENG_RANK_DEFAULT_DEADLINE_MS);
    assert_int_equal(c.candidates, ENG_RANK_DEFAULT_CANDIDATES);
    assert_string_equal(c.ns, "qac");
    assert_int_equal(config_set(&c, "index", "x", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "cache-bytes", "1m", err, sizeof err), 0);
    assert_int_equal(c.cache_bytes, 1 << 20);
    assert_int_equal(config_set(&c, "cache-bytes", "100", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "candidates", "101", err, sizeof err), -1);
    assert_int_equal(config_set(&c, "redis-deadline-ms", "0", err, sizeof err), -1);
    assert_non_null(strstr(err, "redis-deadline-ms"));
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    assert_int_equal(config_set(&c, "redis", "localhost", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "HOST:PORT"));
    assert_int_equal(config_set(&c, "redis", "127.0.0.1:6379", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    assert_int_equal(config_set(&c, "namespace", "a*b", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), -1);
    assert_int_equal(config_set(&c, "namespace", "prod", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "model-save", "/tmp/m", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "--model-save needs --model"));
    assert_int_equal(config_set(&c, "model", "/tmp/m0", err, sizeof err), 0);
    assert_int_equal(config_validate(&c, err, sizeof err), 0);
    char buf[64];
    assert_int_equal(config_get(&c, "namespace", buf, sizeof buf), 0);
    assert_string_equal(buf, "prod");
    config_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_and_ranked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_and_stats, setup, teardown),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
