/* Allocation-failure tests for trie/trie.c (as rax does): before an
 * operation, arm qalloc_fail_after(i) for i = 1, 2, ... (and the sticky
 * "everything fails" mode). An operation that fails must return TRIE_ENOMEM
 * and leave the trie exactly as before: trie_check passes and contents, ids
 * and top-k equal a reference trie that saw only the successful operations.
 * Covers trie_set (new keys, new displays), trie_incr, trie_del, trie_new,
 * trie_save and trie_load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "trie/trie.h"
#include "tests/helpers.h"

static uint64_t rs = 99;
static uint32_t rnd(uint32_t n) {
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs % n);
}

/* Contents, ids, the id bound and the top-k of 50 random prefixes (a prefix
 * of every key is too slow for the many calls of the failure loops). */
static void assert_same(const trie *a, const trie *b) {
    assert_int_equal(trie_id_bound(a), trie_id_bound(b));
    assert_tries_same(a, b, rnd, 50);
}

enum { OP_SET, OP_INCR, OP_DEL };

static int apply(trie *t, int op, const char *k, size_t kl, const char *d, size_t dl, double v) {
    switch (op) {
    case OP_SET: return trie_set(t, k, kl, d, dl, v, NULL);
    case OP_INCR: return trie_incr(t, k, kl, d, dl, v, NULL);
    default: return trie_del(t, k, kl);
    }
}

static void test_ops_under_failure(void **state) {
    (void)state;
    static const char *const P[] = {"a", "b", "ab", " ", "new ", "\xc3\xa9", "\xe6\x97\xa5", "q"};
    trie *ref = trie_new(), *t = trie_new();
    unsigned long failures = 0;
    for (int step = 0; step < 3000; step++) {
        char k[64], d[16];
        size_t kl = 0;
        int parts = 1 + (int)rnd(5);
        for (int j = 0; j < parts; j++) {
            const char *p = P[rnd(sizeof P / sizeof P[0])];
            memcpy(k + kl, p, strlen(p));
            kl += strlen(p);
        }
        size_t dl = (size_t)snprintf(d, sizeof d, "D%u", rnd(100));
        if (step % 150 == 0) { /* fresh tries: the pools grow (and can fail) often */
            assert_trie_ok(t);
            assert_same(t, ref);
            trie_free(t);
            trie_free(ref);
            t = trie_new();
            ref = trie_new();
        }
        int op = step % 150 < 75 ? (rnd(4) ? OP_SET : OP_INCR) : (int)rnd(3);
        const char *dp = rnd(3) ? NULL : d;
        double v = (double)rnd(7) - 3;
        /* fail the i-th allocation, i = 1.. until the op runs clean; then
         * the sticky mode (every allocation fails) */
        for (unsigned long i = 1;; i++) {
            qalloc_fail_after(i, i == 1 && step % 2);
            int rc = apply(t, op, k, kl, dp, dl, v);
            unsigned long f = qalloc_failures();
            qalloc_fail_after(0, 0);
            if (rc == TRIE_ENOMEM) {
                assert_true(f > 0);
                failures++;
                assert_trie_ok(t);
                if (step % 50 == 0) assert_same(t, ref); /* the full comparison is slow */
                continue;
            }
            assert_int_equal(rc, apply(ref, op, k, kl, dp, dl, v));
            break;
        }
        if (step % 100 == 0) {
            assert_trie_ok(t);
            assert_same(t, ref);
        }
    }
    assert_trie_ok(t);
    assert_same(t, ref);
    print_message("%lu injected allocation failures\n", failures);
    assert_true(failures > 50); /* the injection did reach the trie */
    trie_free(t);
    trie_free(ref);
    qalloc_fail_after(1, 1);
    assert_null(trie_new());
    qalloc_fail_after(0, 0);
}

static void test_load_save_under_failure(void **state) {
    (void)state;
    char dir[512], path[600], err[200];
    assert_int_equal(make_tmpdir(dir, sizeof dir, "trie-alloc"), 0);
    snprintf(path, sizeof path, "%s/a.snap", dir);
    trie *t = trie_new();
    for (int i = 0; i < 3000; i++) {
        char k[32];
        size_t kl = (size_t)snprintf(k, sizeof k, "key %u %u", rnd(50), rnd(1000));
        assert_true(trie_set(t, k, kl, NULL, 0, (double)rnd(10), NULL) == 0);
    }
    /* save: a failure leaves no file behind (nothing existed before) */
    qalloc_fail_after(1, 1);
    assert_int_equal(trie_save(t, path), TRIE_ENOMEM);
    qalloc_fail_after(0, 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(trie_save(t, path), 0);
    int ok = 0;
    unsigned long i;
    for (i = 1; i < 10000 && !ok; i++) {
        trie *u = (trie *)1;
        qalloc_fail_after(i, i % 2);
        int rc = trie_load(path, &u, err, sizeof err);
        qalloc_fail_after(0, 0);
        if (rc == TRIE_ENOMEM) {
            assert_null(u);
            assert_true(strlen(err) > 0);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_trie_ok(u);
        assert_same(t, u);
        trie_free(u);
        ok = 1;
    }
    assert_true(ok);
    assert_true(i > 5); /* several allocation points were failed */
    unlink(path);
    rmdir(dir);
    trie_free(t);
}

/* trie_builder under allocation failure: every failing step reports
 * TRIE_ENOMEM (or NULL from new), never crashes or leaks; the first run with no failure yields exactly
 * the trie that trie_set makes from the same sorted keys. */
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}
static void test_builder_under_failure(void **state) {
    (void)state;
    enum { N = 400 };
    static char buf[N][24];
    const char *keys[N];
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "k%u-%u", rnd(50), i);
        keys[i] = buf[i];
    }
    qsort(keys, N, sizeof keys[0], cmp_str);
    trie *ref = trie_new();
    for (int i = 0; i < N; i++)
        assert_int_equal(trie_set(ref, keys[i], strlen(keys[i]), i % 3 ? NULL : "D", 1, (double)(i % 7), NULL), 0);
    int ok = 0;
    unsigned long i;
    for (i = 1; !ok && i < 100000; i++) {
        qalloc_fail_after(i, 0);
        trie_builder *b = trie_builder_new();
        int rc = b ? TRIE_OK : TRIE_ENOMEM;
        for (int j = 0; j < N && rc == TRIE_OK; j++)
            rc = trie_builder_add(b, keys[j], strlen(keys[j]), j % 3 ? NULL : "D", 1, (double)(j % 7), NULL);
        if (rc != TRIE_OK) {
            assert_int_equal(rc, TRIE_ENOMEM);
            trie_builder_free(b);
            qalloc_fail_after(0, 0);
            continue;
        }
        trie *t = NULL;
        rc = trie_builder_finish(b, &t);
        qalloc_fail_after(0, 0);
        if (rc != TRIE_OK) {
            assert_int_equal(rc, TRIE_ENOMEM);
            assert_null(t);
            continue;
        }
        assert_trie_ok(t);
        assert_same(t, ref);
        ok = qalloc_failures() == 0;
        trie_free(t);
    }
    assert_true(ok);
    assert_true(i > 5);
    trie_free(ref);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_under_failure),
        cmocka_unit_test(test_load_save_under_failure),
        cmocka_unit_test(test_builder_under_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
