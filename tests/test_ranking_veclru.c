/* Tests for ranking/cache: hits, misses and negative entries, LRU order of
 * eviction, the byte bound (checked after every operation of a long random
 * run against a trivially correct model: an array in recency order with the
 * same byte accounting), replace, reset, limits, allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "ranking/veclru.h"

#define D 8
#define S(x) x, sizeof(x) - 1

static void vec_of(float *v, int seed) {
    for (int i = 0; i < D; i++) v[i] = (float)(seed * 10 + i);
}

static void test_get_put(void **state) {
    (void)state;
    rank_veclru *c = rank_veclru_new(1 << 20, D);
    assert_non_null(c);
    float v[D], out[D];
    vec_of(v, 1);
    assert_int_equal(rank_veclru_get(c, S("new york"), out), -1);
    assert_int_equal(rank_veclru_put(c, S("new york"), v), 0);
    assert_int_equal(rank_veclru_put(c, S("newark"), NULL), 0); /* known: no vector */
    memset(out, 0, sizeof out);
    assert_int_equal(rank_veclru_get(c, S("new york"), out), 1);
    assert_memory_equal(out, v, sizeof v);
    assert_int_equal(rank_veclru_get(c, S("newark"), out), 0);
    assert_int_equal(rank_veclru_get(c, S("new yor"), NULL), -1);
    assert_int_equal(rank_veclru_get(c, S("new york"), NULL), 1);
    /* replace: negative -> vector */
    vec_of(v, 2);
    assert_int_equal(rank_veclru_put(c, S("newark"), v), 0);
    assert_int_equal(rank_veclru_get(c, S("newark"), out), 1);
    assert_memory_equal(out, v, sizeof v);
    rank_veclru_stat st;
    rank_veclru_stats(c, &st);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.negatives, 0);
    assert_int_equal(st.hits, 4);
    assert_int_equal(st.misses, 2);
    assert_int_equal(st.inserts, 3);
    assert_int_equal(st.dims, D);
    assert_true(st.bytes <= st.max_bytes);
    /* reset: a new version (other dims) */
    assert_int_equal(rank_veclru_reset(c, 0), RANK_VECLRU_EINVAL);
    assert_int_equal(rank_veclru_reset(c, 4), 0);
    assert_int_equal(rank_veclru_dims(c), 4);
    assert_int_equal(rank_veclru_get(c, S("newark"), out), -1);
    rank_veclru_stats(c, &st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.resets, 1);
    rank_veclru_free(c);
}

static void test_limits(void **state) {
    (void)state;
    assert_null(rank_veclru_new(RANK_VECLRU_MIN_BYTES - 1, D));
    assert_null(rank_veclru_new(1 << 20, 0));
    assert_null(rank_veclru_new(1 << 20, RANK_VECLRU_MAX_DIMS + 1));
    rank_veclru *c = rank_veclru_new(RANK_VECLRU_MIN_BYTES, RANK_VECLRU_MAX_DIMS);
    assert_non_null(c);
    static char big[RANK_VECLRU_MAX_KEY + 1];
    memset(big, 'a', sizeof big);
    static float v[RANK_VECLRU_MAX_DIMS];
    assert_int_equal(rank_veclru_put(c, big, sizeof big, NULL), RANK_VECLRU_ETOOBIG);
    assert_int_equal(rank_veclru_put(c, big, 0, NULL), RANK_VECLRU_EINVAL);
    assert_int_equal(rank_veclru_get(c, big, sizeof big, NULL), -1);
    /* 4 KiB budget: a 256-float vector (1 KiB) + 512-byte key fits; several evict */
    for (int i = 0; i < 10; i++) {
        big[0] = (char)('a' + i);
        assert_int_equal(rank_veclru_put(c, big, RANK_VECLRU_MAX_KEY, v), 0);
        rank_veclru_stat st;
        rank_veclru_stats(c, &st);
        assert_true(st.bytes <= st.max_bytes);
        assert_true(st.entries >= 1);
    }
    rank_veclru_stat st;
    rank_veclru_stats(c, &st);
    assert_true(st.evictions >= 7);
    rank_veclru_free(c);
}

/* Eviction takes the least recently USED (a get refreshes). */
static void test_lru_order(void **state) {
    (void)state;
    rank_veclru *c = rank_veclru_new(RANK_VECLRU_MIN_BYTES, D);
    assert_non_null(c);
    float v[D];
    vec_of(v, 3);
    char k[16];
    int n = 0;
    rank_veclru_stat st;
    for (;; n++) { /* fill until the first eviction */
        snprintf(k, sizeof k, "q%03d", n);
        assert_int_equal(rank_veclru_put(c, k, strlen(k), v), 0);
        rank_veclru_stats(c, &st);
        if (st.evictions) break;
    }
    /* q000 went first; touch q001, then insert one more: q002 goes, q001 stays */
    assert_int_equal(rank_veclru_get(c, S("q000"), NULL), -1);
    assert_int_equal(rank_veclru_get(c, S("q001"), NULL), 1);
    assert_int_equal(rank_veclru_put(c, S("zzzz"), v), 0);
    assert_int_equal(rank_veclru_get(c, S("q002"), NULL), -1);
    assert_int_equal(rank_veclru_get(c, S("q001"), NULL), 1);
    assert_int_equal(rank_veclru_get(c, S("zzzz"), NULL), 1);
    rank_veclru_free(c);
}

/* Differential: model = keys in recency order (index 0 = most recent). */
typedef struct mentry {
    char k[24];
    size_t len;
    int hasvec, seed;
} mentry;

static void test_model(void **state) {
    (void)state;
    enum { NKEYS = 300, OPS = 200000 };
    const size_t max = 16384;
    rank_veclru *c = rank_veclru_new(max, D);
    assert_non_null(c);
    static mentry m[NKEYS + 1];
    size_t mn = 0;
    uint64_t x = 88172645463325252ULL;
    rank_veclru_stat st;
    rank_veclru_stats(c, &st);
    const size_t table = st.bytes; /* this budget never lets the table grow */
    const size_t hdr = 40;         /* sizeof(ce) on LP64 */
    for (int op = 0; op < OPS; op++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int key = (int)(x % NKEYS);
        char k[24];
        int kl = snprintf(k, sizeof k, "key %d%s", key, key % 3 ? "" : " long suffix");
        size_t mi = 0;
        while (mi < mn && !(m[mi].len == (size_t)kl && !memcmp(m[mi].k, k, (size_t)kl))) mi++;
        float out[D], v[D];
        if ((x >> 20) % 3) { /* get */
            int r = rank_veclru_get(c, k, (size_t)kl, out);
            if (mi == mn) assert_int_equal(r, -1);
            else {
                assert_int_equal(r, m[mi].hasvec);
                if (r == 1) {
                    vec_of(v, m[mi].seed);
                    assert_memory_equal(out, v, sizeof v);
                }
                mentry t = m[mi];
                memmove(m + 1, m, mi * sizeof *m);
                m[0] = t;
            }
        } else { /* put */
            int hasvec = (x >> 30) % 4 != 0, seed = (int)(x >> 40) % 1000;
            vec_of(v, seed);
            assert_int_equal(rank_veclru_put(c, k, (size_t)kl, hasvec ? v : NULL), 0);
            if (mi < mn) {
                memmove(m + mi, m + mi + 1, (mn - mi - 1) * sizeof *m);
                mn--;
            }
            memmove(m + 1, m, mn * sizeof *m);
            mn++;
            memcpy(m[0].k, k, (size_t)kl);
            m[0].len = (size_t)kl;
            m[0].hasvec = hasvec;
            m[0].seed = seed;
            size_t bytes = table;
            for (size_t i = 0; i < mn; i++) bytes += hdr + m[i].len + (m[i].hasvec ? D * sizeof(float) : 0);
            while (bytes > max) { /* evict the model's tail */
                mn--;
                bytes -= hdr + m[mn].len + (m[mn].hasvec ? D * sizeof(float) : 0);
            }
            rank_veclru_stats(c, &st);
            assert_int_equal(st.entries, mn);
            assert_int_equal(st.bytes, bytes);
            assert_true(st.bytes <= st.max_bytes);
        }
    }
    rank_veclru_stats(c, &st);
    assert_true(st.evictions > 1000);
    rank_veclru_free(c);
}

static void test_alloc_failure(void **state) {
    (void)state;
    rank_veclru *c = rank_veclru_new(1 << 20, D);
    assert_non_null(c);
    float v[D];
    vec_of(v, 5);
    assert_int_equal(rank_veclru_put(c, S("a"), v), 0);
    qalloc_fail_after(1, 1);
    assert_int_equal(rank_veclru_put(c, S("b"), v), RANK_VECLRU_ENOMEM);
    assert_int_equal(rank_veclru_put(c, S("a"), NULL), RANK_VECLRU_ENOMEM);
    qalloc_fail_after(0, 0);
    assert_int_equal(rank_veclru_get(c, S("b"), NULL), -1);
    assert_int_equal(rank_veclru_get(c, S("a"), NULL), 1); /* unchanged */
    /* growth of the table under failure keeps the cache usable */
    char k[16];
    qalloc_fail_after(1500, 0);
    int failed = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        if (rank_veclru_put(c, k, strlen(k), v)) failed++;
    }
    qalloc_fail_after(0, 0);
    assert_true(failed <= 1);
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "k%d", i);
        int r = rank_veclru_get(c, k, strlen(k), NULL);
        assert_true(r == 1 || r == -1);
    }
    rank_veclru_free(c);
    qalloc_fail_after(1, 1);
    assert_null(rank_veclru_new(1 << 20, D));
    qalloc_fail_after(0, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put),  cmocka_unit_test(test_limits),        cmocka_unit_test(test_lru_order),
        cmocka_unit_test(test_model),    cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
