/* Tests for data/build.c: the key sort (build_sort_keys) against a memcmp
 * reference on keys with NUL and 0xff bytes, long shared prefixes (runs deep
 * enough to take the recursive radix path) and every length around the 8-byte
 * digit boundaries; its allocation failure; and build_trie's display choice
 * (most frequent spelling, ties -> first seen, whether or not the winner is
 * the key's own spelling), scores and --min-count through a real file. */
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
#include "data/build.h"
#include "data/build_shards.h"
#include "tests/helpers.h"

typedef struct kref {
    const char *base;
    const uint64_t *packed;
} kref;

static int ref_cmp(const kref *r, uint32_t i, uint32_t j) {
    uint64_t mask = ((uint64_t)1 << BUILD_OFF_BITS) - 1;
    const char *a = r->base + (r->packed[i] & mask), *b = r->base + (r->packed[j] & mask);
    size_t al = (size_t)(r->packed[i] >> BUILD_OFF_BITS), bl = (size_t)(r->packed[j] >> BUILD_OFF_BITS);
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* order must be a permutation of 0..n-1 listing the keys in memcmp order. */
static void check_sorted(const kref *r, const uint32_t *order, size_t n) {
    unsigned char *seen = calloc(n ? n : 1, 1);
    assert_non_null(seen);
    for (size_t i = 0; i < n; i++) {
        assert_true(order[i] < n);
        assert_false(seen[order[i]]);
        seen[order[i]] = 1;
        if (i > 0) assert_true(ref_cmp(r, order[i - 1], order[i]) <= 0);
    }
    free(seen);
}

static void test_sort_small(void **state) {
    (void)state;
    /* Expected order by hand: "", "a", "a\0", "ab", "abcdefgh", "abcdefgh\0",
     * "abcdefghi", "abcdefghij", "b", "\xff". */
    static const char base[] = "babcdefghija\0\xff" "abcdefgh\0";
    /* offsets into base: b=0, abcdefghij=1 (len 10), a=11, a\0=11 len 2,
     * \xff=13, abcdefgh\0 = 14 len 9 */
    uint64_t p[10];
    size_t off[10] = {0, 1, 1, 1, 11, 11, 13, 14, 14, 0};
    size_t len[10] = {1, 10, 9, 8, 1, 2, 1, 9, 8, 0};
    for (int i = 0; i < 10; i++) p[i] = (uint64_t)off[i] | (uint64_t)len[i] << BUILD_OFF_BITS;
    /* p[8] duplicates p[3] ("abcdefgh"): equal keys, either order */
    uint32_t order[10];
    assert_int_equal(build_sort_keys(base, p, sizeof p[0], 10, order), 0);
    kref r = {base, p};
    check_sorted(&r, order, 10);
    assert_int_equal(order[0], 9);                            /* "" */
    assert_int_equal(order[1], 4);                            /* "a" */
    assert_int_equal(order[2], 5);                            /* "a\0" */
    assert_true(order[3] == 3 || order[3] == 8);              /* "abcdefgh" x2 */
    assert_true(order[4] == 3 || order[4] == 8);
    assert_int_equal(order[5], 7);                            /* "abcdefgh\0" */
    assert_int_equal(order[6], 2);                            /* "abcdefghi" */
    assert_int_equal(order[7], 1);                            /* "abcdefghij" */
    assert_int_equal(order[8], 0);                            /* "b" */
    assert_int_equal(order[9], 6);                            /* "\xff" */
}

/* Random keys over a tiny alphabet with shared 0-, 8- and 20-byte prefixes:
 * runs of equal 8-byte digits far over BUILD_SORT_RADIX_MIN, at two depths.
 * The packed values sit in 24-byte records (stride) as in build.c. */
static void test_sort_random(void **state) {
    (void)state;
    enum { N = 60000, STRIDE = 3 };
    static const char alpha[] = {'\0', 'a', 'b', '\xff'};
    char *base = malloc((size_t)N * 40);
    uint64_t *recs = malloc((size_t)N * STRIDE * sizeof *recs), *packed = malloc((size_t)N * sizeof *packed);
    uint32_t *order = malloc((size_t)N * sizeof *order);
    assert_non_null(base);
    assert_non_null(recs);
    assert_non_null(packed);
    assert_non_null(order);
    srand(12345);
    size_t at = 0;
    for (size_t i = 0; i < N; i++) {
        size_t pre = (i % 3 == 0) ? 0 : (i % 3 == 1) ? 8 : 20;
        size_t len = pre + (size_t)(rand() % 12);
        for (size_t b = 0; b < len; b++) base[at + b] = b < pre ? 'p' : alpha[rand() % 4];
        packed[i] = (uint64_t)at | (uint64_t)len << BUILD_OFF_BITS;
        recs[i * STRIDE] = packed[i];
        recs[i * STRIDE + 1] = recs[i * STRIDE + 2] = 0xdeadbeef; /* ignored */
        at += len;
    }
    assert_int_equal(build_sort_keys(base, recs, STRIDE * sizeof *recs, N, order), 0);
    kref r = {base, packed};
    check_sorted(&r, order, N);
    free(base);
    free(recs);
    free(packed);
    free(order);
}

static void test_sort_enomem(void **state) {
    (void)state;
    static const char base[] = "ba";
    uint64_t p[2] = {0 | (uint64_t)1 << BUILD_OFF_BITS, 1 | (uint64_t)1 << BUILD_OFF_BITS};
    uint32_t order[2] = {7, 7};
    assert_int_equal(build_sort_keys(base, p, sizeof p[0], 0, order), 0); /* nothing to do */
    for (unsigned long k = 1; k <= 3; k++) {
        qalloc_fail_after(k, 0);
        assert_int_equal(build_sort_keys(base, p, sizeof p[0], 2, order), -1);
        qalloc_fail_after(0, 0);
    }
    assert_int_equal(build_sort_keys(base, p, sizeof p[0], 2, order), 0);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 0);
}

static void expect(const trie *t, const char *key, const char *display, double score) {
    trie_hit h;
    assert_int_equal(trie_get(t, key, strlen(key), &h), 1);
    assert_int_equal(h.displen, strlen(display));
    assert_memory_equal(trie_hit_display(&h), display, h.displen);
    assert_true(h.score == score);
}

/* Spellings of one key: the key's own spelling (counted inside the key
 * entry) against other spellings (a separate table), in every order. */
static void test_build_display(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("build.tsv"));
    static const char data[] = "New York\t2\n" /* other first, tie with own -> other */
                               "new york\t2\n"
                               "abc\t3\n" /* own first, tie -> own */
                               "ABC\t3\n"
                               "xyz\t1\n" /* own first, other strictly larger */
                               "XYZ\t5\n"
                               "Xyz\t5\n" /* ties with XYZ, later */
                               "solo\t4\n"
                               "  Two   Words \t1\n" /* only other spellings, first seen wins ties */
                               "TWO WORDS\t1\n"
                               "tiny\t0.5\n"; /* dropped by min_count */
    write_file(path, data, sizeof data - 1);
    build_opts o;
    build_opts_init(&o);
    o.quiet = 1;
    o.min_count = 1;
    char *files[1] = {path};
    trie *t = NULL;
    build_report rep;
    char err[256];
    assert_int_equal(build_trie(&o, files, 1, &t, &rep, err, sizeof err), 0);
    unlink(path);
    assert_int_equal(rep.keys, 5);
    assert_int_equal(rep.dropped, 1);
    expect(t, "new york", "New York", 4);
    expect(t, "abc", "abc", 6);
    expect(t, "xyz", "XYZ", 11);
    expect(t, "solo", "solo", 4);
    expect(t, "two words", "Two Words", 2);
    trie_hit h;
    assert_int_equal(trie_get(t, "tiny", 4, &h), 0);
    trie_free(t);
}

/* --shards: random keys (ASCII and a few multi-byte first characters) split
 * into N shards; every key is in exactly its owner's shard with its score and
 * display, the map read back equals the one returned, and the key counts
 * balance (no shard over its share by more than the largest first character's
 * keys). Too many shards for the distinct first characters is an error. */

typedef struct shard_check {
    const shardmap *m;
    trie **shards;
    uint64_t seen;
} shard_check;

static int check_key(void *ud, const trie_hit *h) {
    shard_check *c = ud;
    uint32_t cp;
    assert_int_equal(shardmap_first_cp(trie_hit_key(h), h->keylen, &cp), 0);
    int own = shardmap_owner(c->m, cp);
    for (unsigned s = 0; s < c->m->nshards; s++) {
        trie_hit g;
        int found = trie_get(c->shards[s], trie_hit_key(h), h->keylen, &g);
        assert_int_equal(found, (int)s == own);
        if (found) {
            assert_true(g.score == h->score);
            assert_int_equal(g.displen, h->displen);
            assert_memory_equal(trie_hit_display(&g), trie_hit_display(h), h->displen);
        }
    }
    c->seen++;
    return 0;
}

static void test_build_shards(void **state) {
    (void)state;
    static const char *firsts[] = {"a", "b", "c", "e", "m", "n", "s", "z", "0", "7", "\xc3\xa9", "\xe6\x9d\xb1", "\xd0\xb6"};
    srand(5);
    trie *t = trie_new();
    assert_non_null(t);
    char key[64];
    for (int i = 0; i < 5000; i++) {
        const char *f = firsts[rand() % (int)(sizeof firsts / sizeof firsts[0])];
        int n = snprintf(key, sizeof key, "%s%c%c%d", f, 'a' + rand() % 26, 'a' + rand() % 26, rand() % 100);
        char disp[80];
        int dn = snprintf(disp, sizeof disp, "D %s", key);
        assert_int_equal(trie_set(t, key, (size_t)n, rand() % 2 ? disp : NULL, (size_t)dn, rand() % 1000, NULL), 0);
    }
    char dir[512], out[600], path[700], err[512];
    assert_int_equal(make_tmpdir(dir, sizeof dir, "shards"), 0);
    snprintf(out, sizeof out, "%s/idx", dir);
    static shardmap m, back;
    for (unsigned ns = 1; ns <= 5; ns++) {
        assert_int_equal(build_write_shards(t, out, ns, &m, err, sizeof err), 0);
        snprintf(path, sizeof path, "%s.shards", out);
        assert_int_equal(shardmap_load(path, &back, err, sizeof err), 0);
        assert_int_equal(back.nshards, ns);
        assert_memory_equal(back.ranges, m.ranges, m.nranges * sizeof m.ranges[0]);
        trie *sh[SHARDMAP_MAX_SHARDS];
        uint64_t total = 0;
        for (unsigned s = 0; s < ns; s++) {
            snprintf(path, sizeof path, "%s/%s", dir, back.index[s]);
            assert_int_equal(trie_load(path, &sh[s], err, sizeof err), 0);
            assert_int_equal(trie_count(sh[s]), back.keys[s]);
            assert_true(back.keys[s] > 0);
            total += back.keys[s];
        }
        assert_int_equal(total, trie_count(t));
        shard_check c = {&back, sh, 0};
        assert_int_equal(trie_foreach(t, check_key, &c), 0);
        assert_int_equal(c.seen, trie_count(t));
        for (unsigned s = 0; s < ns; s++) trie_free(sh[s]);
    }
    assert_int_equal(build_write_shards(t, out, 14, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "only 13 distinct first characters"));
    trie_free(t);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Every allocation of a small build failing in turn: an error, no leak. */
static void test_build_enomem(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("build-nm.tsv"));
    static const char data[] = "alpha\t1\nAlpha\t2\nbeta\t3\ngamma\t1\n";
    write_file(path, data, sizeof data - 1);
    build_opts o;
    build_opts_init(&o);
    o.quiet = 1;
    char *files[1] = {path};
    int failed = 0;
    for (unsigned long k = 1; k < 200; k++) {
        trie *t = NULL;
        char err[256];
        qalloc_fail_after(k, 1);
        int rc = build_trie(&o, files, 1, &t, NULL, err, sizeof err);
        unsigned long nf = qalloc_failures();
        qalloc_fail_after(0, 0);
        if (rc == 0) {
            assert_non_null(t);
            trie_free(t);
            if (nf == 0) break; /* every allocation site has been walked */
        } else {
            assert_null(t);
            failed++;
        }
    }
    assert_true(failed > 0);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_small),   cmocka_unit_test(test_sort_random),
        cmocka_unit_test(test_sort_enomem),  cmocka_unit_test(test_build_display),
        cmocka_unit_test(test_build_enomem), cmocka_unit_test(test_build_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
