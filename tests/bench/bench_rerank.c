/* bench_rerank -- the learned rerank of 50 candidates, in-process: what
 * issue 16 budgets at p99 <= 20 us.
 *
 *   bench_rerank [ITERATIONS]
 *
 * One call = rank_learned_score over 50 candidates (features, the model's
 * margin, the heuristic base of the default model) + rank_top of 10: the
 * part of a ranked request after gathering and vector lookups (the server's
 * score() and eval's "learned rerank" time the same calls). The inputs are
 * synthetic and fixed (seeded): a model of the default options with every
 * weight set (a trained table is dense where it matters), candidates of 1-5
 * words from a 200-word vocabulary, a third of them in the user's history,
 * unit vectors of the default 32 dimensions, an active session of 3 queries
 * (so every session feature is computed). Two cases: 50 completions, and
 * 40 completions + 10 typo / infix matches (the match features and the
 * class key). Each is timed call by call with qtime_ns over ITERATIONS
 * (default 200,000) calls after a warm-up; prints p50, p99, mean in us.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hist.h"
#include "common/util.h"
#include "ranking/embed.h"
#include "ranking/ftrl.h"
#include "ranking/learned.h"

#define NCAND 50
#define TOPK 10
#define DIMS RANK_EMB_DEFAULT_DIMS
#define NVOCAB 200

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void unit_vec(float *v) {
    float s = 0;
    for (int k = 0; k < DIMS; k++) v[k] = (float)rnd(2001) / 1000.0f - 1.0f, s += v[k] * v[k];
    s = 1.0f / sqrtf(s > 0 ? s : 1);
    for (int k = 0; k < DIMS; k++) v[k] *= s;
}

static char text[NCAND + 3][96];
static float vecs[NCAND + 3][DIMS];

/* a query of 1-5 vocabulary words starting with "new yo" for the candidates */
static uint32_t make_text(char *out, size_t cap, int is_cand) {
    int n = is_cand ? snprintf(out, cap, "new yo") : 0;
    for (uint32_t w = 0, nw = 1 + rnd(4); w < nw; w++)
        n += snprintf(out + n, cap - (size_t)n, "%s%c%c%c%u", n ? " " : "", 'a' + rnd(26), 'a' + rnd(26),
                      'a' + rnd(26), rnd(NVOCAB));
    return (uint32_t)n;
}

static void run(const char *name, rank_ftrl *m, rank_fctx *x, const rank_lcand *proto, long iters) {
    rank_lcand lc[NCAND];
    rank_cand c[NCAND];
    hist h;
    hist_init(&h);
    for (long i = -iters / 10; i < iters; i++) { /* the first tenth warms up */
        memcpy(lc, proto, sizeof lc);
        uint64_t t0 = qtime_ns();
        rank_learned_score(m, x, lc, NCAND);
        for (int j = 0; j < NCAND; j++) c[j] = lc[j].c;
        size_t k = rank_top(c, NCAND, TOPK);
        uint64_t t1 = qtime_ns();
        if (k != TOPK) abort();
        if (i >= 0) hist_add(&h, t1 - t0);
    }
    printf("rerank_%s_50: p50 %.2f us, p99 %.2f us, mean %.2f us (%ld calls)\n", name,
           (double)hist_quantile(&h, 0.5) / 1e3, (double)hist_quantile(&h, 0.99) / 1e3, hist_mean(&h) / 1e3, iters);
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    if (iters <= 0) {
        fprintf(stderr, "usage: bench_rerank [ITERATIONS]\n");
        return 2;
    }
    rank_ftrl_opts o;
    rank_ftrl_opts_default(&o);
    rank_ftrl *m = rank_ftrl_new(&o);
    if (!m) return 1;
    for (size_t i = 0; i <= m->mask; i++) m->w[i] = (float)rnd(2001) / 10000.0f - 0.1f;
    int64_t now = 1148000000;
    rank_lcand proto[NCAND];
    for (int i = 0; i < NCAND + 3; i++) unit_vec(vecs[i]);
    for (int i = 0; i < NCAND; i++) {
        uint32_t len = make_text(text[i], sizeof text[i], 1);
        uint32_t u = rnd(3) == 0 ? 1 + rnd(5) : 0;
        rank_cand c = {text[i], len, u, (double)(1 + rnd(5000)), now - (int64_t)rnd(30 * 86400), 0, 0, 0, 0, 0, 0, 0};
        proto[i] = (rank_lcand){c, i < 40 ? (uint32_t)i + 1 : 0, vecs[i]};
    }
    rank_hsess sess[3];
    for (int i = 0; i < 3; i++) {
        uint32_t len = make_text(text[NCAND + i], sizeof text[NCAND + i], 0);
        sess[i] = (rank_hsess){text[NCAND + i], len, now - 60 * (i + 1)};
    }
    const float *sv[3] = {vecs[NCAND], vecs[NCAND + 1], vecs[NCAND + 2]};
    int64_t st[3] = {sess[0].t, sess[1].t, sess[2].t};
    float sessv[DIMS];
    rank_session_vec(DIMS, sv, st, 3, now, RANK_SESS_TAU, sessv);
    rank_fctx x = {.p = "new yo", .plen = 6, .now = now, .dims = DIMS, .last = sess[0].q, .lastlen = sess[0].len,
                   .last_vec = vecs[NCAND], .sess_vec = sessv, .sess = sess, .nsess = 3};
    run("completions", m, &x, proto, iters);
    for (int i = 40; i < NCAND; i++) { /* the last 10: typo and infix matches */
        rank_cand *c = &proto[i].c;
        if (i % 2) c->cls = RANK_CLS_INFIX, c->words = 2;
        else c->edits = (uint8_t)(1 + i % 4 / 2), c->cls = rank_cls_edit(c->edits, 0);
    }
    run("with_matches", m, &x, proto, iters);
    rank_ftrl_free(m);
    return 0;
}
