/* The offline and the serving path of the learned ranker see the same thing.
 *
 * `qac train` and `qac eval` build a request's context through lenv
 * (data/train.h), the server through engine/rank/ranker.c; both go through
 * ranking/request.h. This test feeds the same events to both -- the same
 * trie, EMB file, model file, user history and clock -- and compares bit for
 * bit: the ranked answers (order and every score's bytes) and, after the same
 * ACCEPTs with learning on, the model's weights. It links data and engine
 * (module "qac": what bin/qac links).
 *
 * Both comparisons run twice: as configured by default, and with generated
 * completions on (ranking/gen.h: the server's index built by eng_rank_new,
 * the offline one by lenv_gen_build, as eval and train do), which must then
 * appear among the answers. The answers are compared once more with typo
 * and infix matches on (FUZZY 2 and INFIX: the server's eng_rank_match with
 * a word index set by eng_rank_set_words, the offline lenv_set_match with
 * the same index; 2 edits on the last word too), half the prefixes with a letter changed so that typo and
 * word matches must fill the answers: their class and edits compared too.
 *
 * The server stamps history and requests with time(NULL); the offline path
 * is given the second the serving calls ran in, and an attempt that crosses a
 * second boundary is run again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "data/train.h"
#include "engine/rank/ranker.h"
#include "ranking/embed.h"
#include "ranking/ftrl.h"
#include "ranking/history_mem.h"
#include "ranking/learned.h"
#include "tests/helpers.h"

static const char *words[] = {"new", "york", "news", "newark", "times", "weather", "network", "near",
                              "me",  "nets", "pizza", "never", "neon", "next", "nexus", "cafe"};
#define NWORDS (sizeof words / sizeof *words)
#define NKEYS 400

typedef struct fixture {
    trie *t;
    char keys[NKEYS][64];
    uint32_t klen[NKEYS];
    char emb_path[512], model_path[512], served_path[512], offline_path[512];
    rank_emb *emb;
} fixture;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void make_keys(fixture *f) {
    f->t = trie_new();
    assert_non_null(f->t);
    for (size_t i = 0; i < NKEYS; i++) {
        int n = 0;
        do {
            n = 0;
            size_t nw = 1 + rnd(3);
            for (size_t w = 0; w < nw; w++)
                n += snprintf(f->keys[i] + n, sizeof f->keys[i] - (size_t)n, "%s%s", w ? " " : "", words[rnd(NWORDS)]);
        } while (trie_get(f->t, f->keys[i], (size_t)n, NULL) == 1);
        f->klen[i] = (uint32_t)n;
        assert_int_equal(trie_set(f->t, f->keys[i], (size_t)n, NULL, 0, 1 + rnd(50), NULL), TRIE_OK);
    }
}

/* Embeddings trained on random sessions of the keys, saved to a file. */
static void make_emb(fixture *f) {
    enum { NS = 300, L = 3 };
    const char *q[NS * L];
    uint32_t ql[NS * L];
    size_t st[NS + 1];
    for (size_t s = 0; s < NS; s++) {
        st[s] = s * L;
        for (size_t j = 0; j < L; j++) {
            size_t k = rnd(NKEYS);
            q[s * L + j] = f->keys[k];
            ql[s * L + j] = f->klen[k];
        }
    }
    st[NS] = NS * L;
    rank_emb_opts o;
    rank_emb_opts_default(&o);
    o.buckets = 4096;
    o.dims = 16;
    o.epochs = 3;
    o.seed = 7;
    assert_int_equal(rank_emb_train(&o, q, ql, NS * L, st, NS, NULL, NULL, &f->emb), 0);
    const char *uq[NKEYS / 2];
    for (size_t i = 0; i < NKEYS / 2; i++) uq[i] = f->keys[i]; /* half known, half composed */
    assert_int_equal(rank_emb_set_queries(f->emb, uq, f->klen, NKEYS / 2), 0);
    char err[256];
    snprintf(f->emb_path, sizeof f->emb_path, "%s", tmp_path("rankpaths.emb"));
    assert_int_equal(rank_emb_save(f->emb, f->emb_path, err, sizeof err), 0);
}

/* A model with non-zero weights: offline steps over random impressions. */
static void make_model(fixture *f) {
    rank_ftrl_opts fo;
    rank_ftrl_opts_default(&fo);
    rank_ftrl *m = rank_ftrl_new(&fo);
    assert_non_null(m);
    rank_history_opts ho;
    rank_history_opts_default(&ho);
    rank_history *h = rank_history_new(&ho);
    rank_vcache *vc = rank_vcache_new(f->emb);
    assert_non_null(h);
    assert_non_null(vc);
    lenv *env = malloc(sizeof *env);
    assert_non_null(env);
    assert_int_equal(lenv_init(env, f->t, h, vc, f->emb->dims, RANK_LEARN_TOPN), 0);
    int64_t now = 1000000;
    for (int i = 0; i < 600; i++) {
        char u[16];
        int ul = snprintf(u, sizeof u, "m%u", rnd(40));
        size_t k = rnd(NKEYS);
        size_t plen = 1 + rnd(f->klen[k]);
        now += rnd(900);
        assert_int_equal(lenv_event(env, u, (size_t)ul, now), 0);
        int n = lenv_prefix(env, f->keys[k], plen);
        assert_true(n > 0);
        long pos = lenv_find(env, (size_t)n, f->keys[k], f->klen[k]);
        if (pos >= 0) rank_learn_accept(m, &env->req.x, env->lc, (size_t)n, (size_t)pos);
        rank_history_accept(h, u, (size_t)ul, f->keys[k], f->klen[k], now);
    }
    assert_true(rank_ftrl_nonzero(m) > 0);
    char err[256];
    snprintf(f->model_path, sizeof f->model_path, "%s", tmp_path("rankpaths.model"));
    assert_int_equal(rank_ftrl_save(m, f->model_path, err, sizeof err), 0);
    lenv_free(env);
    free(env);
    rank_vcache_free(vc);
    rank_history_free(h);
    rank_ftrl_free(m);
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    make_keys(f);
    make_emb(f);
    make_model(f);
    snprintf(f->served_path, sizeof f->served_path, "%s", tmp_path("rankpaths.served"));
    snprintf(f->offline_path, sizeof f->offline_path, "%s", tmp_path("rankpaths.offline"));
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    unlink(f->emb_path);
    unlink(f->model_path);
    unlink(f->served_path);
    unlink(f->offline_path);
    rank_emb_free(f->emb);
    trie_free(f->t);
    free(f);
    return 0;
}

/* The offline side of a comparison: the model file loaded, an empty
 * in-process history, the EMB's vectors, and lenv over them (as eval). */
static unsigned gen_cands; /* generated completions per request in both paths (0: off) */
static int with_matches;    /* typo (2 edits) and infix matches in both paths */
static trie_words *windex;  /* the word index of the infix matches */

typedef struct offline {
    rank_gen *gen;
    rank_ftrl *m;
    rank_history *h;
    rank_vcache *vc;
    lenv *env;
} offline;

static void offline_open(offline *o, fixture *f) {
    char err[256];
    assert_int_equal(rank_ftrl_load(f->model_path, &o->m, err, sizeof err), 0);
    rank_history_opts ho;
    rank_history_opts_default(&ho);
    o->h = rank_history_new(&ho);
    o->vc = rank_vcache_new(f->emb);
    o->env = malloc(sizeof *o->env);
    assert_non_null(o->h);
    assert_non_null(o->vc);
    assert_non_null(o->env);
    assert_int_equal(lenv_init(o->env, f->t, o->h, o->vc, f->emb->dims, ENG_RANK_DEFAULT_CANDIDATES), 0);
    lenv_gen_opts go;
    lenv_gen_opts_default(&go);
    go.cands = gen_cands;
    int fail = 0;
    o->gen = lenv_gen_build(f->t, &go, "test", &fail);
    assert_int_equal(fail, 0);
    assert_true(!gen_cands == !o->gen);
    lenv_set_gen(o->env, o->gen, gen_cands);
    if (with_matches) {
        rank_match rm = {10, 2, 0, TRIE_FUZZY_MAX_WORK, windex, 2};
        lenv_set_match(o->env, &rm);
    }
}

static void offline_close(offline *o) {
    lenv_free(o->env);
    free(o->env);
    rank_vcache_free(o->vc);
    rank_history_free(o->h);
    rank_ftrl_free(o->m);
    rank_gen_free(o->gen);
}

/* One user's accepts, then ranked answers for many prefixes: the server's
 * and lenv + rank_learned_score + rank_top's are the same bytes. Returns 1,
 * or 0 when the second changed while the server worked (try again). */
static void close_ranker(uv_loop_t *loop, eng_rank *R) {
    eng_rank_close(R);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}

static int compare_answers(fixture *f, uint64_t seed) {
    rng = seed;
    char err[256];
    uv_loop_t loop;
    uv_loop_init(&loop);
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    o.model = f->model_path;
    o.embeddings = f->emb_path;
    o.gen_candidates = gen_cands;
    eng_rank *R = eng_rank_new(&loop, f->t, &o, err, sizeof err);
    assert_non_null(R);
    gen_wait(&loop, R);

    enum { NACC = 6, NPRE = 40 };
    size_t acc[NACC], pk[NPRE], pl[NPRE];
    for (size_t i = 0; i < NACC; i++) acc[i] = rnd(NKEYS);
    static char pre[NPRE][64]; /* the prefixes: a key's, with a letter changed in half of them (with_matches) */
    for (size_t i = 0; i < NPRE; i++) {
        pk[i] = rnd(NKEYS), pl[i] = 1 + rnd(f->klen[pk[i]]);
        memcpy(pre[i], f->keys[pk[i]], pl[i]);
        if (with_matches && rnd(2)) pre[i][rnd((uint32_t)pl[i])] = 'q';
    }
    eng_rank_match em = {2, 0, TRIE_FUZZY_MAX_WORK, 1, 2};
    if (with_matches) eng_rank_set_words(R, &windex);
    static eng_rank_result served[NPRE];
    static char stext[NPRE][10][TRIE_MAX_KEY]; /* a result's text points into the ranker's scratch */
    int64_t t0 = (int64_t)time(NULL);
    for (size_t i = 0; i < NACC; i++)
        eng_rank_accept(R, f->keys[acc[i]], f->klen[acc[i]], "alice", 5, NULL, 0, NULL, 0, 0);
    for (size_t i = 0; i < NPRE; i++) {
        eng_rank_pending *h = NULL;
        assert_int_equal(eng_rank_complete(R, pre[i], pl[i], "alice", 5, NULL, 0, 10, with_matches ? &em : NULL,
                                           &served[i], NULL, NULL, &h),
                         1);
        assert_int_equal(served[i].degraded, 0);
        for (size_t j = 0; j < served[i].n && j < 10; j++) memcpy(stext[i][j], served[i].c[j].q, served[i].c[j].len);
    }
    int64_t t1 = (int64_t)time(NULL);
    close_ranker(&loop, R);
    if (t1 != t0) return 0;

    offline off;
    offline_open(&off, f);
    rank_ftrl *m = off.m;
    rank_history *h = off.h;
    lenv *env = off.env;
    for (size_t i = 0; i < NACC; i++) rank_history_accept(h, "alice", 5, f->keys[acc[i]], f->klen[acc[i]], t0);
    size_t ranked_with_session = 0, generated = 0, typos = 0, infix = 0, word_typos = 0;
    for (size_t i = 0; i < NPRE; i++) {
        assert_int_equal(lenv_event(env, "alice", 5, t0), 0);
        int n = lenv_prefix(env, pre[i], pl[i]);
        assert_true(n >= 0);
        rank_learned_score(m, &env->req.x, env->lc, (size_t)n);
        if (env->req.x.nsess && env->req.x.sess_vec) ranked_with_session++;
        rank_cand c[RANK_MAX_CANDS];
        for (int j = 0; j < n; j++) c[j] = env->lc[j].c;
        size_t top = rank_top(c, (size_t)n, 10);
        assert_int_equal(top, served[i].n);
        for (size_t j = 0; j < top; j++) {
            assert_int_equal(c[j].len, served[i].c[j].len);
            assert_memory_equal(c[j].q, stext[i][j], c[j].len);
            assert_memory_equal(&c[j].score, &served[i].c[j].score, sizeof(double)); /* bit for bit */
            assert_int_equal(c[j].gen, served[i].c[j].gen);
            assert_int_equal(c[j].cls, served[i].c[j].cls);
            assert_int_equal(c[j].edits, served[i].c[j].edits);
            assert_int_equal(c[j].words, served[i].c[j].words);
            if (j) assert_true(c[j - 1].cls <= c[j].cls); /* never across classes */
            generated += c[j].gen != 0;
            typos += c[j].edits != 0;
            infix += c[j].cls == RANK_CLS_INFIX;
            word_typos += c[j].edits && c[j].words; /* edits on the last word, the typed words elsewhere */
        }
    }
    assert_true(!with_matches == !typos); /* typo matches were among the answers */
    assert_true(!with_matches == !infix); /* and word matches */
    assert_true(!with_matches == !word_typos); /* and word matches with edits on the last word */
    assert_true(ranked_with_session > 0); /* the session's vectors were part of it */
    assert_true(!gen_cands == !generated);  /* generated completions were among the answers */
    offline_close(&off);
    return 1;
}

static void test_same_answers(void **state) {
    fixture *f = *state;
    int ok = 0;
    for (int attempt = 0; attempt < 5 && !ok; attempt++) ok = compare_answers(f, 11 + (uint64_t)attempt);
    assert_true(ok);
}

static void test_same_answers_generated(void **state) {
    gen_cands = 8;
    test_same_answers(state);
    gen_cands = 0;
}

static void test_same_answers_matches(void **state) {
    fixture *f = *state;
    assert_int_equal(trie_words_build(f->t, &windex), TRIE_OK);
    with_matches = 1;
    test_same_answers(state);
    with_matches = 0;
    trie_words_free(windex);
    windex = NULL;
}

/* The same ACCEPTs (learning on) through both paths leave the same weights. */
static int compare_learning(fixture *f, uint64_t seed) {
    rng = seed;
    char err[256];
    uv_loop_t loop;
    uv_loop_init(&loop);
    eng_rank_opts o;
    eng_rank_opts_default(&o);
    o.model = f->model_path;
    o.model_save = f->served_path;
    o.embeddings = f->emb_path;
    o.gen_candidates = gen_cands;
    eng_rank *R = eng_rank_new(&loop, f->t, &o, err, sizeof err);
    assert_non_null(R);
    gen_wait(&loop, R);
    enum { NACC = 30 };
    size_t ak[NACC], apl[NACC];
    int au[NACC];
    for (size_t i = 0; i < NACC; i++) ak[i] = rnd(NKEYS), apl[i] = 1 + rnd(f->klen[ak[i]]), au[i] = (int)rnd(3);
    int64_t t0 = (int64_t)time(NULL);
    for (size_t i = 0; i < NACC; i++) {
        char u[8];
        int ul = snprintf(u, sizeof u, "u%d", au[i]);
        eng_rank_accept(R, f->keys[ak[i]], f->klen[ak[i]], u, (size_t)ul, NULL, 0, f->keys[ak[i]], apl[i], 1);
    }
    int64_t t1 = (int64_t)time(NULL);
    eng_rank_stat st;
    eng_rank_stats(R, &st);
    assert_true(st.online_updates > 0);
    assert_int_equal(eng_rank_save(R, err, sizeof err), 0);
    close_ranker(&loop, R);
    if (t1 != t0) return 0;

    offline off;
    offline_open(&off, f);
    rank_ftrl *m = off.m;
    rank_history *h = off.h;
    lenv *env = off.env;
    uint64_t steps = 0;
    for (size_t i = 0; i < NACC; i++) {
        char u[8];
        int ul = snprintf(u, sizeof u, "u%d", au[i]);
        assert_int_equal(lenv_event(env, u, (size_t)ul, t0), 0);
        int n = lenv_prefix(env, f->keys[ak[i]], apl[i]);
        long pos = n > 0 ? lenv_find(env, (size_t)n, f->keys[ak[i]], f->klen[ak[i]]) : -1;
        if (pos >= 0 && rank_learn_accept(m, &env->req.x, env->lc, (size_t)n, (size_t)pos) > 0) steps++;
        rank_history_accept(h, u, (size_t)ul, f->keys[ak[i]], f->klen[ak[i]], t0);
    }
    assert_int_equal(steps, st.online_updates);
    rank_ftrl *served = NULL;
    assert_int_equal(rank_ftrl_load(f->served_path, &served, err, sizeof err), 0);
    assert_int_equal(served->mask, m->mask);
    size_t nw = (size_t)m->mask + 1;
    assert_memory_equal(served->z, m->z, nw * sizeof(float));
    assert_memory_equal(served->n, m->n, nw * sizeof(float));
    assert_memory_equal(served->w, m->w, nw * sizeof(float));
    rank_ftrl_free(served);
    offline_close(&off);
    return 1;
}

static void test_same_learning(void **state) {
    fixture *f = *state;
    int ok = 0;
    for (int attempt = 0; attempt < 5 && !ok; attempt++) ok = compare_learning(f, 101 + (uint64_t)attempt);
    assert_true(ok);
}

static void test_same_learning_generated(void **state) {
    gen_cands = 8;
    test_same_learning(state);
    gen_cands = 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_answers),
        cmocka_unit_test(test_same_learning),
        cmocka_unit_test(test_same_answers_generated),
        cmocka_unit_test(test_same_learning_generated),
        cmocka_unit_test(test_same_answers_matches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
