/* Differential tests for trie/trie_words.c (infix top-k) against brute
 * force (tests/words_ref.h has the reference and the corpora): small and
 * larger corpora under live changes, the last word with edits and the
 * whole answer with edits, a vocabulary past 16,384 words, and posting
 * lists grown and compacted. Each search path forced on and off:
 * test_trie_words_paths.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/words_ref.h"

static void test_differential_small(void **state) {
    (void)state;
    run_differential(1, 0, 60, 120);
    run_differential(2, 1, 60, 120);
}

static void test_differential_larger(void **state) {
    (void)state;
    run_differential(3, 0, 1500, 40);
    run_differential(4, 1, 2500, 40);
}

/* The last word with edits (trie_words_fuzzy_topk) against brute force,
 * on the corpora above (repeated words, accented Latin, Cyrillic, CJK,
 * words that are prefixes of others) under live changes, and on a wide
 * vocabulary. */
static void test_differential_fuzzy(void **state) {
    (void)state;
    g_fz = 1;
    n_fz_cmp = n_fz_hits = n_fz_c2 = n_fz_multi = n_fz_trail = n_fz_trunc = n_fz_any = 0;
    run_differential(21, 0, 60, 120);
    run_differential(22, 1, 60, 120);
    run_differential(23, 0, 1500, 40);
    run_differential(24, 1, 2500, 40);
    g_wide = 200000;
    run_differential(25, 1, 6000, 8);
    g_wide = 0;
    g_fz = 0;
    printf("fuzzy: %lu queries, %lu with hits, %lu with 2-edit hits, %lu multi-word, %lu trailing, %lu first-any, "
           "%lu truncated\n", n_fz_cmp, n_fz_hits, n_fz_c2, n_fz_multi, n_fz_trail, n_fz_any, n_fz_trunc);
    assert_true(n_fz_hits > n_fz_cmp / 5 && n_fz_c2 > 100 && n_fz_multi > 100 && n_fz_trail > 50 && n_fz_any > 50);
    printf("with edits (trie_words_topk_edits): %lu queries (%lu with no word), %lu typo completions, %lu last-word "
           "matches, %lu keys in both\n", n_ed_cmp, n_ed_empty, n_ed_typo, n_ed_word, n_ed_both);
    assert_true(n_ed_cmp > 1000 && n_ed_typo > 1000 && n_ed_word > 1000 && n_ed_both > 50);
}

/* A vocabulary past 16,384 words, from the build and from live adds (new
 * words join the dictionary, a word whose last key leaves it), candidates
 * checked on their keys' text. */
static void test_differential_wide(void **state) {
    (void)state;
    g_wide = 200000;
    g_words = 0;
    run_differential(5, 1, 6000, 16);
    run_differential(6, 0, 3000, 24);
    g_wide = 0;
    printf("dictionary words: up to %llu\n", (unsigned long long)g_words);
    assert_true(g_words > 16384);
}

/* Posting lists laid out in blocks of packed gaps: narrow and wide ones
 * (a word in one key of 17,000 among 70,000), lists grown by live
 * adds, compacted by deletes and by an add into a list mostly tombstones. */
static void test_posting_blocks(void **state) {
    (void)state;
    rng_seed(77);
    trie *t = trie_new();
    char key[64];
    for (int i = 0; i < 70000; i++) {
        int kl = snprintf(key, sizeof key, "w%d r%d u%d%s", i % 50, (int)rnd(3000), i, i % 17000 == 0 ? " zz" : "");
        assert_int_equal(trie_set(t, key, (size_t)kl, NULL, 0, (double)i, NULL), 0); /* rank 69999 - i */
    }
    trie_words *w = NULL;
    assert_int_equal(trie_words_build(t, &w), 0);
    check_idx(w, t);
    uint32_t zz = trie_words__lookup(w->wt, "zz", 2);
    assert_true(zz != NONE && w->w[zz].n == 5);
    assert_int_equal(w->w[zz].gn, (4 * 15 + 7) / 8); /* gaps of 17,000 ranks: 15 bits each (less one) */
    for (int round = 0; round < 3; round++) { /* grow "cc", delete 60 % (no del compaction), grow again */
        uint32_t ids[120];
        for (int i = 0; i < 120; i++) {
            int kl = snprintf(key, sizeof key, "cc x%d r%d", round * 1000 + i, (int)rnd(3000));
            uint64_t before = trie_count(t);
            double sc = (double)rnd(100);
            assert_int_equal(trie_set(t, key, (size_t)kl, NULL, 0, sc, &ids[i]), 0);
            assert_true(trie_count(t) > before);
            assert_int_equal(trie_words_add(w, ids[i], key, (size_t)kl, sc), 0);
        }
        check_idx(w, t);
        bset all = {0};
        trie_foreach(t, collect, &all);
        int dels = 0;
        for (size_t i = 0; i < all.n; i++) {
            const bkey *k = &all.v[i];
            if (k->klen < 3 || memcmp(k->key, "cc ", 3) || rnd(10) >= 6) continue;
            assert_int_equal(trie_del(t, k->key, k->klen), 0);
            assert_int_equal(trie_words_del(w, k->id, k->key, k->klen), 0);
            dels++;
        }
        for (size_t i = 0; i < all.n && dels < 8000; i++) { /* some of the big lists' keys too */
            const bkey *k = &all.v[i];
            if (k->klen < 3 || !memcmp(k->key, "cc ", 3) || rnd(20) != 0) continue;
            assert_int_equal(trie_del(t, k->key, k->klen), 0);
            assert_int_equal(trie_words_del(w, k->id, k->key, k->klen), 0);
            dels++;
        }
        free(all.v);
        check_idx(w, t);
    }
    bset b = {0};
    trie_foreach(t, collect, &b);
    bkey **res = malloc(sizeof *res * (b.n + 1));
    trie_words_hit *out = malloc(sizeof *out * TRIE_MAX_K);
    const char *qs[] = {"zz", "zz w1", "w3 zz", "zz ", "r12 w3 ", "w7 r1", "cc", "cc x1", "x2 cc ",
                        "r7 cc", "w49 r29", "r2999 w", "zz w"};
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++)
        for (unsigned k = 1; k <= 40; k += 13) compare(w, t, &b, qs[i], strlen(qs[i]), k, res, out);
    trie_words *fresh = NULL;
    assert_int_equal(trie_words_build(t, &fresh), 0);
    check_idx(fresh, t);
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++) compare(fresh, t, &b, qs[i], strlen(qs[i]), 10, res, out);
    trie_words_free(fresh);
    free(res);
    free(out);
    free(b.v);
    trie_words_free(w);
    trie_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_posting_blocks),
        cmocka_unit_test(test_differential_small),
        cmocka_unit_test(test_differential_fuzzy),
        cmocka_unit_test(test_differential_larger),
        cmocka_unit_test(test_differential_wide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
