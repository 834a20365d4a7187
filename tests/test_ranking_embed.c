/* Tests for ranking/embed: n-gram hashing, composition (unit length, unseen
 * text gets a vector), int8 quantization round trip, training pulls session
 * pairs together and is deterministic for a seed, and the EMB file: round
 * trip, and refusal of truncated / corrupted / wrong-version / foreign /
 * missing files (one test each, every one on a freshly saved file). */
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

#include "common/alloc.h"
#include "ranking/embed.h"
#include "tests/helpers.h"

#define S(x) x, sizeof(x) - 1

static void test_ngrams(void **state) {
    (void)state;
    uint32_t ids[RANK_EMB_MAX_NGRAMS];
    /* "ab cd": 1 whole + 2 words + 5 + 2 - 2 = 5+... trigrams of ^ab cd$ = 7 - 2 = 5 */
    size_t n = rank_emb_ngrams(1000, S("ab cd"), ids, RANK_EMB_MAX_NGRAMS);
    assert_int_equal(n, 1 + 2 + 5);
    for (size_t i = 0; i < n; i++) assert_true(ids[i] < 1000);
    uint32_t ids2[RANK_EMB_MAX_NGRAMS];
    assert_int_equal(rank_emb_ngrams(1000, S("ab cd"), ids2, RANK_EMB_MAX_NGRAMS), n);
    assert_memory_equal(ids, ids2, n * sizeof *ids);
    assert_int_equal(rank_emb_ngrams(1000, S("ab cd"), ids, 3), 3); /* cap respected */
    assert_int_equal(rank_emb_ngrams(1000, "", 0, ids, 8), 0);
}

/* Synthetic sessions: "cheap flights" is always followed by "airline tickets",
 * "pizza recipe" by "dough recipe"; topics never mix. */
static rank_emb *train_toy(uint64_t seed) {
    static const char *topics[4][2] = {{"cheap flights", "airline tickets"}, {"pizza recipe", "dough recipe"},
                                       {"used cars", "car dealer"}, {"weather boston", "boston forecast"}};
    enum { NS = 400 };
    const char *q[NS * 2];
    uint32_t ql[NS * 2];
    size_t st[NS + 1];
    for (size_t s = 0; s < NS; s++) {
        st[s] = 2 * s;
        q[2 * s] = topics[s % 4][0];
        q[2 * s + 1] = topics[s % 4][1];
        ql[2 * s] = (uint32_t)strlen(q[2 * s]);
        ql[2 * s + 1] = (uint32_t)strlen(q[2 * s + 1]);
    }
    st[NS] = 2 * NS;
    rank_emb_opts o;
    rank_emb_opts_default(&o);
    o.buckets = 4096;
    o.dims = 16;
    o.epochs = 10;
    o.seed = seed;
    rank_emb *e = NULL;
    assert_int_equal(rank_emb_train(&o, q, ql, 2 * NS, st, NS, NULL, NULL, &e), 0);
    const char *uq[2] = {"cheap flights", "pizza recipe"};
    uint32_t ul[2] = {13, 12};
    assert_int_equal(rank_emb_set_queries(e, uq, ul, 2), 0);
    return e;
}

static float cosq(const rank_emb *e, const char *a, const char *b) {
    float va[RANK_EMB_MAX_DIMS], vb[RANK_EMB_MAX_DIMS];
    assert_int_equal(rank_emb_vector(e, a, strlen(a), va), 1);
    assert_int_equal(rank_emb_vector(e, b, strlen(b), vb), 1);
    return rank_dot(va, vb, e->dims);
}

static void test_train_pulls_pairs_together(void **state) {
    (void)state;
    rank_emb *e = train_toy(7);
    float same = cosq(e, "cheap flights", "airline tickets");
    float other = cosq(e, "cheap flights", "dough recipe");
    assert_true(same > other + 0.3f);
    assert_true(cosq(e, "pizza recipe", "dough recipe") > cosq(e, "pizza recipe", "car dealer") + 0.3f);
    /* unit length; unseen text composed from known n-grams still gets one */
    float v[RANK_EMB_MAX_DIMS];
    assert_int_equal(rank_emb_vector(e, S("cheap airline"), v), 1);
    assert_true(fabsf(rank_dot(v, v, e->dims) - 1.0f) < 1e-4f);
    assert_true(cosq(e, "cheap flights", "cheap flights") > 0.999f);
    /* deterministic for a seed, different for another */
    rank_emb *e2 = train_toy(7), *e3 = train_toy(8);
    assert_memory_equal(e->q, e2->q, (size_t)e->buckets * e->dims);
    assert_memory_equal(e->scale, e2->scale, e->buckets * sizeof(float));
    assert_true(memcmp(e->q, e3->q, (size_t)e->buckets * e->dims) != 0);
    rank_emb_free(e);
    rank_emb_free(e2);
    rank_emb_free(e3);
}

static void test_quantize_round_trip(void **state) {
    (void)state;
    float v[16], back[16];
    unsigned char row[4 + 16];
    for (int i = 0; i < 16; i++) v[i] = sinf((float)i + 0.5f);
    rank_emb_quantize(16, v, row);
    rank_emb_dequantize(16, row, back);
    for (int i = 0; i < 16; i++) assert_true(fabsf(v[i] - back[i]) <= 1.0f / 127.0f);
    float z[16] = {0};
    rank_emb_quantize(16, z, row);
    rank_emb_dequantize(16, row, back);
    for (int i = 0; i < 16; i++) assert_true(back[i] == 0);
    /* composing rows = composing the table */
    rank_emb *e = train_toy(3);
    uint32_t ids[RANK_EMB_MAX_NGRAMS];
    size_t n = rank_emb_ngrams(e->buckets, S("used cars"), ids, RANK_EMB_MAX_NGRAMS);
    unsigned char rows[RANK_EMB_MAX_NGRAMS][4 + RANK_EMB_MAX_DIMS];
    const unsigned char *rp[RANK_EMB_MAX_NGRAMS];
    for (size_t i = 0; i < n; i++) {
        rank_emb_row(e, ids[i], rows[i]);
        rp[i] = rows[i];
    }
    float a[RANK_EMB_MAX_DIMS], b[RANK_EMB_MAX_DIMS];
    assert_int_equal(rank_emb_compose_rows(e->dims, rp, n, a), 1);
    assert_int_equal(rank_emb_vector(e, S("used cars"), b), 1);
    for (uint32_t i = 0; i < e->dims; i++) assert_true(fabsf(a[i] - b[i]) < 1e-6f);
    rank_emb_free(e);
}

/* --- the EMB file: each test gets the toy embeddings saved to a fresh file */

typedef struct emb_file {
    rank_emb *e;
    char path[512];
} emb_file;

static int save_toy(void **state) {
    static emb_file f;
    char err[256];
    f.e = train_toy(5);
    snprintf(f.path, sizeof f.path, "%s", tmp_path("emb"));
    if (rank_emb_save(f.e, f.path, err, sizeof err) != 0) {
        fprintf(stderr, "rank_emb_save: %s\n", err);
        return -1;
    }
    *state = &f;
    return 0;
}

static int remove_toy(void **state) {
    emb_file *f = *state;
    unlink(f->path);
    rank_emb_free(f->e);
    return 0;
}

static void test_file_round_trip(void **state) {
    emb_file *f = *state;
    const rank_emb *e = f->e;
    rank_emb *l = NULL;
    char err[256];
    assert_int_equal(rank_emb_load(f->path, &l, err, sizeof err), 0);
    assert_int_equal(l->dims, e->dims);
    assert_int_equal(l->buckets, e->buckets);
    assert_int_equal(l->nqueries, 2);
    size_t len;
    const char *q = rank_emb_query_at(l, 1, &len);
    assert_int_equal(len, 12);
    assert_memory_equal(q, "pizza recipe", 12);
    assert_memory_equal(l->q, e->q, (size_t)e->buckets * e->dims);
    rank_emb_free(l);
}

static void test_file_truncated(void **state) {
    emb_file *f = *state;
    rank_emb *l = NULL;
    char err[256];
    assert_int_equal(truncate(f->path, file_size(f->path) - 5), 0);
    assert_int_equal(rank_emb_load(f->path, &l, err, sizeof err), RANK_EMB_EFORMAT);
    assert_non_null(strstr(err, "checksum"));
    assert_int_equal(truncate(f->path, 40), 0);
    assert_int_equal(rank_emb_load(f->path, &l, err, sizeof err), RANK_EMB_EFORMAT);
    assert_non_null(strstr(err, "truncated"));
    assert_null(l);
}

static void test_file_flipped_byte(void **state) {
    emb_file *f = *state;
    rank_emb *l = NULL;
    char err[256];
    xor_byte(f->path, 1000, 0x40); /* in the table */
    assert_int_equal(rank_emb_load(f->path, &l, err, sizeof err), RANK_EMB_EFORMAT);
    assert_non_null(strstr(err, "checksum"));
    assert_null(l);
}

static void test_file_wrong_version(void **state) {
    emb_file *f = *state;
    rank_emb *l = NULL;
    char err[256];
    set_byte(f->path, 8, 9);
    assert_int_equal(rank_emb_load(f->path, &l, err, sizeof err), RANK_EMB_EFORMAT);
    assert_non_null(strstr(err, "version"));
    assert_null(l);
}

static void test_file_wrong_magic(void **state) {
    emb_file *f = *state;
    rank_emb *l = NULL;
    char err[256];
    const char *junk = "this is not an embedding file at all, sorry........";
    write_file(f->path, junk, strlen(junk));
    assert_int_equal(rank_emb_load(f->path, &l, err, sizeof err), RANK_EMB_EFORMAT);
    assert_non_null(strstr(err, "magic"));
    assert_null(l);
}

static void test_file_missing(void **state) {
    (void)state;
    rank_emb *l = NULL;
    char err[256];
    assert_int_equal(rank_emb_load(tmp_path("missing"), &l, err, sizeof err), RANK_EMB_EIO);
    assert_null(l);
}

static void test_bad_options_and_oom(void **state) {
    (void)state;
    const char *q[2] = {"a b", "c d"};
    uint32_t ql[2] = {3, 3};
    size_t st[2] = {0, 2};
    rank_emb_opts o;
    rank_emb_opts_default(&o);
    rank_emb *e = NULL;
    o.dims = RANK_EMB_MAX_DIMS + 1;
    assert_int_equal(rank_emb_train(&o, q, ql, 2, st, 1, NULL, NULL, &e), RANK_EMB_EINVAL);
    rank_emb_opts_default(&o);
    o.buckets = 0;
    assert_int_equal(rank_emb_train(&o, q, ql, 2, st, 1, NULL, NULL, &e), RANK_EMB_EINVAL);
    rank_emb_opts_default(&o);
    o.buckets = 1024;
    for (unsigned long k = 1; k < 12; k++) {
        qalloc_fail_after(k, 0);
        int rc = rank_emb_train(&o, q, ql, 2, st, 1, NULL, NULL, &e);
        qalloc_fail_after(0, 0);
        if (rc == 0) {
            rank_emb_free(e);
            e = NULL;
        } else {
            assert_int_equal(rc, RANK_EMB_ENOMEM);
        }
    }
    /* the cache: same pointer for the same text, NULL for text with no vector */
    assert_int_equal(rank_emb_train(&o, q, ql, 2, st, 1, NULL, NULL, &e), 0);
    rank_vcache *c = rank_vcache_new(e);
    const float *v1 = rank_vcache_get(c, S("a b"), NULL);
    assert_non_null(v1);
    for (int i = 0; i < 3000; i++) { /* growth keeps old pointers valid */
        char buf[32];
        int n = snprintf(buf, sizeof buf, "zz%d", i);
        rank_vcache_get(c, buf, (size_t)n, NULL);
    }
    assert_ptr_equal(rank_vcache_get(c, S("a b"), NULL), v1);
    assert_null(rank_vcache_get(c, S("qqqqqqqqq"), NULL)); /* no trained n-gram */
    rank_vcache_free(c);
    rank_emb_free(e);
}

int main(void) {
#define FILE_TEST(f) cmocka_unit_test_setup_teardown(f, save_toy, remove_toy)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ngrams),
        cmocka_unit_test(test_train_pulls_pairs_together),
        cmocka_unit_test(test_quantize_round_trip),
        FILE_TEST(test_file_round_trip),
        FILE_TEST(test_file_truncated),
        FILE_TEST(test_file_flipped_byte),
        FILE_TEST(test_file_wrong_version),
        FILE_TEST(test_file_wrong_magic),
        cmocka_unit_test(test_file_missing),
        cmocka_unit_test(test_bad_options_and_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
