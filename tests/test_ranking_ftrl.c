/* Tests for ranking/ftrl and ranking/learned: FTRL weights against the
 * closed form of McMahan et al., learning a separable toy problem with both
 * losses, L1 sparsity, the MODEL file (round trip, truncation, corruption,
 * wrong feature set, version 1 files), rank_learn_accept moving the accepted
 * candidate up (the server's online path), and the heuristic base: a model
 * without weights scores exactly as the heuristic, and accepts can still
 * overrule it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/endian.h"
#include "ranking/embed.h"
#include "ranking/ftrl.h"
#include "ranking/learned.h"
#include "tests/helpers.h"

static rank_ftrl *model(int loss, double l1) {
    rank_ftrl_opts o;
    rank_ftrl_opts_default(&o);
    o.bits = 12;
    o.loss = loss;
    o.l1 = l1;
    o.alpha = 0.1;
    o.base = RANK_FTRL_BASE_NONE;
    rank_ftrl *m = rank_ftrl_new(&o);
    assert_non_null(m);
    return m;
}

static void test_closed_form(void **state) {
    (void)state;
    rank_ftrl *m = model(RANK_LOSS_LOGISTIC, 0.1);
    rank_feat x[1] = {{5, 1.0f}};
    rank_ftrl_update(m, x, 1, -0.5); /* g = -0.5: z = -0.5 (w was 0), n = 0.25 */
    assert_true(fabsf(m->z[5] + 0.5f) < 1e-6f);
    assert_true(fabsf(m->n[5] - 0.25f) < 1e-6f);
    double want = -(-0.5 + 0.1) / ((1.0 + 0.5) / 0.1 + 1.0); /* 0.4 / 16 */
    assert_true(fabs(m->w[5] - want) < 1e-6);
    assert_true(fabs(rank_ftrl_margin(m, x, 1) - want) < 1e-6);
    /* |z| <= l1 gives an exact zero */
    rank_feat y[1] = {{9, 1.0f}};
    rank_ftrl_update(m, y, 1, 0.05);
    assert_true(m->w[9] == 0);
    assert_int_equal(rank_ftrl_nonzero(m), 1);
    /* options are checked */
    rank_ftrl_opts o;
    rank_ftrl_opts_default(&o);
    o.alpha = 0;
    assert_null(rank_ftrl_new(&o));
    rank_ftrl_opts_default(&o);
    assert_int_equal(o.base, RANK_FTRL_BASE_HEURISTIC);
    o.bits = RANK_FTRL_MAX_BITS + 1;
    assert_null(rank_ftrl_new(&o));
    rank_ftrl_opts_default(&o);
    o.base = 2;
    assert_null(rank_ftrl_new(&o));
    rank_ftrl_free(m);
}

/* Candidates: the positive always has feature 1, negatives feature 2; both
 * share noise features. After training the positive must win. */
static void learn_toy(int loss) {
    rank_ftrl *m = model(loss, 0.01);
    uint64_t s = 42;
    for (int it = 0; it < 300; it++) {
        rank_feat pos[3] = {{1, 1}, {100 + (uint32_t)(s % 7), 1}, {0, 1}};
        rank_feat neg[3] = {{2, 1}, {100 + (uint32_t)((s >> 8) % 7), 1}, {0, 1}};
        s = s * 6364136223846793005ULL + 1;
        if (loss == RANK_LOSS_LOGISTIC) {
            size_t n = rank_ftrl_mask(m, pos, 3);
            rank_ftrl_update(m, pos, n, 1.0 / (1.0 + exp(-rank_ftrl_margin(m, pos, n))) - 1.0);
            n = rank_ftrl_mask(m, neg, 3);
            rank_ftrl_update(m, neg, n, 1.0 / (1.0 + exp(-rank_ftrl_margin(m, neg, n))));
        } else {
            rank_feat d[6];
            memcpy(d, pos, sizeof pos);
            for (int k = 0; k < 3; k++) d[3 + k] = (rank_feat){neg[k].i, -neg[k].v};
            size_t n = rank_ftrl_mask(m, d, 6);
            assert_true(n <= 4); /* the shared bias cancels, the noise may */
            rank_ftrl_update(m, d, n, 1.0 / (1.0 + exp(-rank_ftrl_margin(m, d, n))) - 1.0);
        }
    }
    assert_true(m->w[1] > m->w[2] + 0.5f);
    rank_ftrl_free(m);
}

static void test_learns_both_losses(void **state) {
    (void)state;
    learn_toy(RANK_LOSS_LOGISTIC);
    learn_toy(RANK_LOSS_PAIRWISE);
}

static void test_file(void **state) {
    (void)state;
    rank_ftrl *m = model(RANK_LOSS_PAIRWISE, 0.01), *l = NULL;
    for (uint32_t i = 0; i < 50; i++) {
        rank_feat x[2] = {{i * 7, 1}, {i * 7 + 1, -0.5f}};
        rank_ftrl_update(m, x, 2, (i % 2) ? 0.3 : -0.7);
    }
    char err[256];
    const char *p = tmp_path("ftrl.model");
    assert_int_equal(rank_ftrl_save(m, p, err, sizeof err), 0);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), 0);
    assert_int_equal(l->o.bits, 12);
    assert_int_equal(l->o.loss, RANK_LOSS_PAIRWISE);
    assert_int_equal(l->updates, 50);
    assert_int_equal(l->o.base, RANK_FTRL_BASE_NONE);
    assert_memory_equal(l->w, m->w, ((size_t)1 << 12) * sizeof(float));
    rank_ftrl_free(l);
    l = NULL;
    /* the base survives the round trip */
    m->o.base = RANK_FTRL_BASE_HEURISTIC;
    assert_int_equal(rank_ftrl_save(m, p, err, sizeof err), 0);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), 0);
    assert_int_equal(l->o.base, RANK_FTRL_BASE_HEURISTIC);
    rank_ftrl_free(l);
    l = NULL;
    /* a version 1 file (no base, updates at 56, count at 64, records from 72) loads with base none */
    long sz = file_size(p);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    unsigned char *b = malloc((size_t)sz);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    le_put32(b + 8, 1);
    memmove(b + 56, b + 64, (size_t)sz - 64); /* drop base and reserved */
    size_t v1len = (size_t)sz - 8;
    le_put64(b + v1len - 8, rank_emb_hash(b, v1len - 8, RANK_EMB_FNV_INIT));
    write_file(p, b, v1len);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), 0);
    assert_int_equal(l->o.base, RANK_FTRL_BASE_NONE);
    assert_int_equal(l->updates, 50);
    assert_memory_equal(l->w, m->w, ((size_t)1 << 12) * sizeof(float));
    rank_ftrl_free(l);
    l = NULL;
    free(b);
    /* a later version, a bad base, a non-zero reserved word */
    assert_int_equal(rank_ftrl_save(m, p, err, sizeof err), 0);
    set_byte(p, 8, RANK_FTRL_VERSION + 1);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), RANK_FTRL_EFORMAT);
    assert_non_null(strstr(err, "MODEL version"));
    assert_int_equal(rank_ftrl_save(m, p, err, sizeof err), 0);
    set_byte(p, 56, 7);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), RANK_FTRL_EFORMAT);
    assert_non_null(strstr(err, "base 7"));
    assert_int_equal(rank_ftrl_save(m, p, err, sizeof err), 0);
    set_byte(p, 60, 1);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), RANK_FTRL_EFORMAT);
    assert_non_null(strstr(err, "reserved"));
    assert_null(l);
    /* truncated */
    assert_int_equal(rank_ftrl_save(m, p, err, sizeof err), 0);
    assert_int_equal(truncate(p, file_size(p) - 3), 0);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), RANK_FTRL_EFORMAT);
    assert_non_null(strstr(err, "truncated"));
    /* flipped byte */
    assert_int_equal(rank_ftrl_save(m, p, err, sizeof err), 0);
    set_byte(p, 80, 0x7f);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), RANK_FTRL_EFORMAT);
    assert_non_null(strstr(err, "checksum"));
    /* another feature set */
    assert_int_equal(rank_ftrl_save(m, p, err, sizeof err), 0);
    set_byte(p, 12, RANK_FEAT_VERSION + 1);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), RANK_FTRL_EFORMAT);
    assert_non_null(strstr(err, "feature set"));
    write_file(p, "garbage", 7);
    assert_int_equal(rank_ftrl_load(p, &l, err, sizeof err), RANK_FTRL_EFORMAT);
    assert_null(l);
    unlink(p);
    rank_ftrl_free(m);
}

#define C(s, g_, u_) {(rank_cand){s, (uint32_t)strlen(s), u_, g_, 0, 0, 0, 0, 0, 0, 0, 0}, 0, NULL}

static void test_accept_moves_candidate_up(void **state) {
    (void)state;
    rank_ftrl *m = model(RANK_LOSS_PAIRWISE, 0.0);
    rank_lcand c[4] = {C("banana", 90, 0), C("band", 50, 0), C("bank of america", 20, 0), C("bar", 5, 1)};
    for (int i = 0; i < 4; i++) c[i].trank = (uint32_t)i + 1;
    c[3].c.last = 1000 - 3600;
    rank_fctx x;
    memset(&x, 0, sizeof x);
    x.p = "ba";
    x.plen = 2;
    x.now = 1000;
    x.dims = 0;
    /* the user keeps taking "bar" (own history, low g) */
    int moved = 0;
    for (int it = 0; it < 50 && !moved; it++) {
        assert_true(rank_learn_accept(m, &x, c, 4, 3) > 0);
        rank_learned_score(m, &x, c, 4);
        moved = c[3].c.score > c[0].c.score && c[3].c.score > c[1].c.score;
    }
    assert_true(moved);
    assert_int_equal(rank_learn_accept(m, &x, c, 4, 4), RANK_LEARN_EINVAL);
    rank_ftrl_free(m);
}

/* Base heuristic: without weights the scores are the heuristic's, bit for
 * bit; a user who keeps taking what the heuristic ranks second teaches the
 * model to overrule it. */
static void test_heuristic_base(void **state) {
    (void)state;
    rank_ftrl *m = model(RANK_LOSS_PAIRWISE, 0.0);
    m->o.base = RANK_FTRL_BASE_HEURISTIC;
    rank_lcand c[4] = {C("banana split", 90, 0), C("band", 50, 0), C("bank of america", 20, 0), C("bar", 5, 2)};
    for (int i = 0; i < 4; i++) c[i].trank = (uint32_t)i + 1;
    c[3].c.last = 1000 - 3600;
    rank_hsess sess[1] = {{"banana", 6, 900}};
    rank_fctx x;
    memset(&x, 0, sizeof x);
    x.p = "ba";
    x.plen = 2;
    x.now = 1000;
    x.sess = sess;
    x.nsess = 1;
    x.last = "banana";
    x.lastlen = 6;
    rank_cand h[4];
    for (int i = 0; i < 4; i++) h[i] = c[i].c;
    rank_ctx hc = {1000, "banana", 6};
    rank_score_heuristic(h, 4, &hc);
    rank_learned_score(m, &x, c, 4);
    for (int i = 0; i < 4; i++) assert_true(c[i].c.score == h[i].score);
    assert_true(h[3].score > h[0].score && h[0].score > h[1].score); /* bar, banana split, band */
    /* base none on the same model: all zero */
    m->o.base = RANK_FTRL_BASE_NONE;
    rank_learned_score(m, &x, c, 4);
    for (int i = 0; i < 4; i++) assert_true(c[i].c.score == 0);
    m->o.base = RANK_FTRL_BASE_HEURISTIC;
    int moved = 0, it;
    for (it = 0; it < 200 && !moved; it++) {
        assert_true(rank_learn_accept(m, &x, c, 4, 1) > 0);
        rank_learned_score(m, &x, c, 4);
        moved = c[1].c.score > c[3].c.score && c[1].c.score > c[0].c.score;
    }
    assert_true(moved);
    assert_true(it > 1); /* it had to learn: the heuristic alone ranks band third */
    rank_ftrl_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_form),
        cmocka_unit_test(test_learns_both_losses),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_accept_moves_candidate_up),
        cmocka_unit_test(test_heuristic_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
