/* Tests for ranking/ftrl_delta (the fleet's model updates, issue 18): a
 * recorded step applied elsewhere equals the direct update bit for bit; two
 * models given the same deltas in the same order stay bit-identical (the
 * weights checksum says so) and the fleet path still learns; every kind of
 * garbage is refused whole, leaving the model unchanged; random bytes never
 * break a model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "ranking/ftrl.h"
#include "ranking/ftrl_delta.h"
#include "ranking/learned.h"
#include "tests/helpers.h"

static rank_ftrl *model(int loss) {
    rank_ftrl_opts o;
    rank_ftrl_opts_default(&o);
    o.bits = 12;
    o.loss = loss;
    o.l1 = 0.01;
    o.alpha = 0.1;
    rank_ftrl *m = rank_ftrl_new(&o);
    assert_non_null(m);
    return m;
}

static int same(const rank_ftrl *a, const rank_ftrl *b) {
    size_t n = ((size_t)a->mask + 1) * sizeof(float);
    return a->updates == b->updates && !memcmp(a->z, b->z, n) && !memcmp(a->n, b->n, n) && !memcmp(a->w, b->w, n) &&
           rank_ftrl_checksum(a) == rank_ftrl_checksum(b);
}

static uint64_t rnd(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* One recorded step, encoded and applied, is rank_ftrl_update bit for bit;
 * the recording model itself does not move. */
static void test_step_equals_update(void **state) {
    (void)state;
    rank_ftrl *a = model(RANK_LOSS_LOGISTIC), *b = model(RANK_LOSS_LOGISTIC), *o = model(RANK_LOSS_LOGISTIC);
    rank_fdelta *d = malloc(sizeof *d);
    unsigned char *buf = malloc(RANK_FDELTA_MAX_BYTES);
    assert_non_null(d);
    assert_non_null(buf);
    uint64_t s = 7;
    for (int it = 0; it < 2000; it++) {
        rank_feat x[RANK_FEAT_MAX];
        size_t n = 1 + rnd(&s) % 40;
        for (size_t k = 0; k < n; k++) x[k] = (rank_feat){(uint32_t)rnd(&s), (float)((int)(rnd(&s) % 2001) - 1000) / 100};
        n = rank_ftrl_mask(a, x, n);
        double g = (double)((int)(rnd(&s) % 2001) - 1000) / 1000;
        rank_ftrl_update(a, x, n, g);
        rank_fdelta_reset(d);
        o->record = d;
        uint64_t before = rank_ftrl_checksum(o);
        rank_ftrl_update(o, x, n, g);
        o->record = NULL;
        assert_true(rank_ftrl_checksum(o) == before);
        size_t len = rank_fdelta_encode(d, buf, RANK_FDELTA_MAX_BYTES);
        assert_true(len > 0);
        const char *why = NULL;
        assert_int_equal(rank_fdelta_apply(b, buf, len, &why), 1);
        assert_int_equal(rank_fdelta_apply(o, buf, len, &why), 1);
        /* the cached checksum (what STATS reports) follows every step */
        if (it % 7 == 0) assert_true(rank_ftrl_checksum_cached(b) == rank_ftrl_checksum(b));
    }
    assert_true(same(a, b));
    assert_true(same(a, o));
    assert_true(rank_ftrl_nonzero(a) > 0);
    b->z[5] += 1; /* any coordinate changes the checksum */
    assert_true(rank_ftrl_checksum(a) != rank_ftrl_checksum(b));
    rank_ftrl_free(a);
    rank_ftrl_free(b);
    rank_ftrl_free(o);
    free(d);
    free(buf);
}

#define C(s, g_, u_) {(rank_cand){s, (uint32_t)strlen(s), u_, g_, 0, 0, 0, 0, 0, 0, 0, 0}, 0, NULL}

/* Three "replicas" from one model: accepts learned on any of them (recorded,
 * not applied), their deltas applied to all in one order: bit-identical
 * weights, and the user's choice moves up as with the local path. */
static void fleet(int loss) {
    rank_ftrl *r[3] = {model(loss), model(loss), model(loss)};
    rank_fdelta *d = malloc(sizeof *d);
    unsigned char *buf = malloc(RANK_FDELTA_MAX_BYTES);
    assert_non_null(d);
    assert_non_null(buf);
    rank_lcand c[4] = {C("banana split", 90, 0), C("band", 50, 0), C("bank of america", 20, 0), C("bar", 5, 2)};
    for (int i = 0; i < 4; i++) c[i].trank = (uint32_t)i + 1;
    rank_fctx x;
    memset(&x, 0, sizeof x);
    x.p = "ba";
    x.plen = 2;
    x.now = 1000;
    int moved = 0, it;
    for (it = 0; it < 300 && !moved; it++) {
        rank_ftrl *origin = r[it % 3];
        rank_fdelta_reset(d);
        origin->record = d;
        assert_true(rank_learn_accept(origin, &x, c, 4, 1) > 0);
        origin->record = NULL;
        size_t len = rank_fdelta_encode(d, buf, RANK_FDELTA_MAX_BYTES);
        assert_true(len > 0 && len <= RANK_FDELTA_MAX_BYTES);
        const char *why = NULL;
        for (int k = 0; k < 3; k++) assert_true(rank_fdelta_apply(r[k], buf, len, &why) > 0);
        rank_learned_score(r[2], &x, c, 4);
        moved = c[1].c.score > c[0].c.score && c[1].c.score > c[3].c.score;
    }
    assert_true(moved);
    assert_true(same(r[0], r[1]) && same(r[1], r[2]));
    for (int k = 0; k < 3; k++) rank_ftrl_free(r[k]);
    free(d);
    free(buf);
}

static void test_fleet_agrees_and_learns(void **state) {
    (void)state;
    fleet(RANK_LOSS_PAIRWISE);
    fleet(RANK_LOSS_LOGISTIC);
}

/* A valid delta of two steps, then one mutation at a time: refused, and the
 * model is unchanged (checked before anything is applied). */
static void test_garbage(void **state) {
    (void)state;
    rank_ftrl *m = model(RANK_LOSS_PAIRWISE);
    unsigned char ok[2 + 2 + 24 + 2 + 12], b[sizeof ok + 16];
    ok[0] = RANK_FDELTA_VERSION;
    ok[1] = 2;
    le_put16(ok + 2, 2);
    le_put32(ok + 4, 3);
    le_put_f64(ok + 8, 0.5);
    le_put32(ok + 16, 4);
    le_put_f64(ok + 20, -0.25);
    le_put16(ok + 28, 1);
    le_put32(ok + 30, 3);
    le_put_f64(ok + 34, 0.125);
    const char *why = NULL;
    uint64_t c0 = rank_ftrl_checksum(m);
    struct { int off, len; double f; uint32_t u; int kind; const char *want; } cases[] = {
        {0, 0, 0, 2, 1, "version"},         /* byte: version 2 */
        {1, 0, 0, 0, 1, "step count"},      /* byte: no steps */
        {1, 0, 0, 12, 1, "step count"},     /* byte: too many steps */
        {1, 0, 0, 3, 1, "truncated"},       /* byte: a third step missing */
        {2, 0, 0, 200, 2, "too many"},      /* u16: 200 coordinates */
        {4, 0, 0, 4096, 3, "index"},        /* u32: past 2^12 */
        {8, 0, NAN, 0, 4, "finite"},        /* f64 */
        {8, 0, INFINITY, 0, 4, "finite"},
        {8, 0, 2e6, 0, 4, "too large"},
        {16, 0, 0, 3, 3, "repeated"},       /* u32: index 3 twice in step 1 */
        {0, -1, 0, 0, 5, "truncated"},      /* one byte short */
        {0, 1, 0, 0, 5, "trailing"},        /* one byte more */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(b, ok, sizeof ok);
        size_t len = sizeof ok;
        switch (cases[i].kind) {
        case 1: b[cases[i].off] = (unsigned char)cases[i].u; break;
        case 2: le_put16(b + cases[i].off, (uint16_t)cases[i].u); break;
        case 3: le_put32(b + cases[i].off, cases[i].u); break;
        case 4: le_put_f64(b + cases[i].off, cases[i].f); break;
        case 5: len = (size_t)((int)len + cases[i].len); b[len - 1] = b[len - 1]; break;
        }
        why = NULL;
        assert_int_equal(rank_fdelta_apply(m, b, len, &why), -1);
        assert_non_null(why);
        if (!strstr(why, cases[i].want)) fail_msg("case %zu: '%s' lacks '%s'", i, why, cases[i].want);
        assert_true(rank_ftrl_checksum(m) == c0);
    }
    assert_int_equal(rank_fdelta_apply(m, b, 0, &why), -1);
    assert_int_equal(rank_fdelta_apply(m, ok, sizeof ok, &why), 2);
    assert_true(m->w[3] != 0 || m->z[3] != 0);
    assert_int_equal((int)m->updates, 2);
    /* random bytes: refused or applied, never a non-finite weight */
    uint64_t s = 99;
    unsigned char r[64];
    int applied = 0;
    for (int it = 0; it < 20000; it++) {
        size_t len = rnd(&s) % sizeof r;
        for (size_t k = 0; k < len; k++) r[k] = (unsigned char)rnd(&s);
        if (len > 1 && it % 2) r[0] = RANK_FDELTA_VERSION, r[1] = 1 + (unsigned char)(rnd(&s) % 2);
        if (len > 3 && it % 4 == 1) le_put16(r + 2, (uint16_t)((len - 4) / 12));
        applied += rank_fdelta_apply(m, r, len, &why) > 0;
    }
    for (size_t i = 0; i <= m->mask; i++) assert_true(isfinite(m->w[i]) && isfinite(m->z[i]) && isfinite(m->n[i]));
    (void)applied;
    rank_ftrl_free(m);
}

/* The recorder's limits: more steps than an ACCEPT makes overflow, and an
 * overflowed delta encodes to nothing (never a partial one). */
static void test_limits(void **state) {
    (void)state;
    rank_ftrl *m = model(RANK_LOSS_PAIRWISE);
    rank_fdelta *d = malloc(sizeof *d);
    unsigned char *buf = malloc(RANK_FDELTA_MAX_BYTES);
    assert_non_null(d);
    assert_non_null(buf);
    rank_feat x[1] = {{1, 1}};
    rank_fdelta_reset(d);
    assert_int_equal(rank_fdelta_encode(d, buf, RANK_FDELTA_MAX_BYTES), 0); /* empty */
    for (int i = 0; i < RANK_FDELTA_MAX_STEPS; i++) rank_fdelta_add(d, m->mask, x, 1, 0.5);
    assert_int_equal(d->overflow, 0);
    assert_true(rank_fdelta_encode(d, buf, RANK_FDELTA_MAX_BYTES) > 0);
    assert_int_equal(rank_fdelta_encode(d, buf, RANK_FDELTA_MAX_BYTES - 1), 0); /* short buffer */
    rank_fdelta_add(d, m->mask, x, 1, 0.5);
    assert_int_equal(d->overflow, 1);
    assert_int_equal(rank_fdelta_encode(d, buf, RANK_FDELTA_MAX_BYTES), 0);
    rank_ftrl_free(m);
    free(d);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_equals_update),
        cmocka_unit_test(test_fleet_agrees_and_learns),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
