/* The word index's search paths each forced on, then off, against brute
 * force (tests/words_ref.h): a class's lists read as one for the last
 * word's edits (trie_words__fzcur_*), the prefix's lists read as one
 * (trie_words__pcur_*), complete lists left to the key check
 * (trie_words__isect_skew), block pairs (trie_words__isect_block), the
 * driver's ranks tested on their signatures first (trie_words__isect_sigf),
 * class 1 searched before class 0 (trie_words__c0_late), the best-first
 * search looking one leaf block ahead (trie_words__lookahead):
 * each must be taken often when forced, never when off, and answer as the
 * brute force does both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/words_ref.h"

/* The last word with edits, a class's words' lists read as one in the
 * one-pass intersection with the complete words' (a cursor each:
 * trie_words_fuzzy_topk) wherever the class has at most TW_PCUR_MAX words,
 * however long their lists, then never (the paths taken before that
 * method): both against brute force. */
static void test_differential_fuzzy_cur(void **state) {
    (void)state;
    unsigned fw = trie_words__fzcur_words, fr = trie_words__fzcur_ratio;
    g_fz = 1;
    trie_words__fzcur_words = TW_PCUR_MAX;
    trie_words__fzcur_ratio = UINT32_MAX;
    n_fz_cur = 0;
    run_differential(31, 0, 1500, 40);
    run_differential(32, 1, 2500, 40);
    printf("fuzzy, a class's lists read as one: %lu queries\n", n_fz_cur);
    assert_true(n_fz_cur > 300);
    trie_words__fzcur_words = 0;
    n_fz_cur = 0;
    run_differential(33, 1, 2500, 40);
    assert_int_equal(n_fz_cur, 0);
    trie_words__fzcur_words = fw;
    trie_words__fzcur_ratio = fr;
    g_fz = 0;
}


/* Class 1 searched before class 0 (trie_words_query.c, trie_words__topk)
 * from one typed word on: a search that met no key of class 0 answers
 * alone, else class 0 is found and class 1's best k - n0 follow it; then
 * never (class 0 first): both against brute force. */
static void test_differential_c0_late(void **state) {
    (void)state;
    unsigned cl = trie_words__c0_late;
    trie_words__c0_late = 1;
    n_late0 = n_late2 = 0;
    run_differential(41, 0, 1500, 40);
    run_differential(42, 1, 2500, 40);
    printf("class 1 first: %lu answered alone, %lu with class 0 after it\n", n_late0, n_late2);
    assert_true(n_late0 > 100 && n_late2 > 300);
    trie_words__c0_late = 0;
    n_late0 = n_late2 = 0;
    run_differential(43, 1, 2500, 40);
    assert_int_equal(n_late0 + n_late2, 0);
    trie_words__c0_late = cl;
}

/* One knob of the query's paths (a trie_words__* setting) forced to `on`
 * over two random corpora, the path taken in more than 300 queries (its
 * counter), then set to `off` and never taken; every answer against brute
 * force (run_differential). Seeds s, s + 1, s + 2. */
static void forced_then_never(const char *what, unsigned *knob, unsigned on, unsigned off, unsigned long *count,
                              uint64_t s) {
    unsigned was = *knob;
    *knob = on;
    *count = 0;
    run_differential(s, 0, 1500, 40);
    run_differential(s + 1, 1, 2500, 40);
    printf("%s: %lu queries\n", what, *count);
    assert_true(*count > 300);
    *knob = off;
    *count = 0;
    run_differential(s + 2, 0, 1500, 40);
    assert_int_equal(*count, 0);
    *knob = was;
}

/* The best-first search looking one leaf block ahead (trie_words_query.c,
 * expand: the heap's next entry decoded and its misses started under the
 * current block's check, its ranks reused when it is expanded) from its
 * first leaf block on, then never: both against brute force. */
static void test_differential_lookahead(void **state) {
    (void)state;
    forced_then_never("leaf blocks looked ahead at", &trie_words__lookahead, 1, 0, &n_ahead, 51);
}

/* The prefix's words' lists read as one in the one-pass intersection (a
 * cursor each: trie_words_isect.c): forced wherever the prefix has at most
 * TW_PCUR_MAX words, however long their lists, then never (the search
 * takes the paths it took before that method): both against brute force. */
static void test_differential_pcur(void **state) {
    (void)state;
    unsigned pw = trie_words__pcur_words, pr = trie_words__pcur_ratio;
    trie_words__pcur_words = TW_PCUR_MAX;
    trie_words__pcur_ratio = UINT32_MAX;
    n_pcur = 0;
    run_differential(7, 0, 1500, 40);
    run_differential(8, 1, 2500, 40);
    printf("prefix's lists read as one: %lu queries\n", n_pcur);
    assert_true(n_pcur > 300);
    trie_words__pcur_words = 0;
    n_pcur = 0;
    run_differential(9, 0, 1500, 40);
    assert_int_equal(n_pcur, 0);
    trie_words__pcur_words = pw;
    trie_words__pcur_ratio = pr;
}


/* The one pass seeking only in the shortest complete list (every longer
 * one left to the key check: trie_words__isect_skew 1), against brute
 * force; then never leaving one. */
static void test_differential_skew(void **state) {
    (void)state;
    forced_then_never("complete lists left to the key check", &trie_words__isect_skew, 1, UINT32_MAX, &n_skewed, 10);
}


/* The one pass comparing two complete words' lists a block pair at a time
 * (trie_words_isect.c, isect_blocks) whatever their lengths, then never:
 * both against brute force. */
static void test_differential_block(void **state) {
    (void)state;
    forced_then_never("lists compared a block pair at a time", &trie_words__isect_block, UINT32_MAX, 0, &n_blocks, 13);
}


/* The one pass testing the shortest complete list's ranks on their
 * signatures before the longer lists are sought (trie_words_isect.c,
 * isect_sigf) whenever the next list is longer (no block pairs), and with
 * every longer list left to the key check (trie_words__isect_skew 1); then
 * never: all against brute force. */
static void test_differential_sigf(void **state) {
    (void)state;
    unsigned sf = trie_words__isect_sigf, bl = trie_words__isect_block, sk = trie_words__isect_skew;
    trie_words__isect_sigf = 1;
    trie_words__isect_block = 0;
    n_sigf = 0;
    run_differential(16, 0, 1500, 40);
    run_differential(17, 1, 2500, 40);
    printf("driver's ranks tested on signatures first: %lu queries\n", n_sigf);
    assert_true(n_sigf > 300);
    trie_words__isect_skew = 1;
    n_sigf = n_skewed = 0;
    run_differential(18, 1, 2500, 40);
    printf("... with every longer list left to the key check: %lu queries (%lu skewed)\n", n_sigf, n_skewed);
    assert_true(n_sigf > 300);
    trie_words__isect_skew = sk;
    trie_words__isect_sigf = 0;
    n_sigf = 0;
    run_differential(19, 0, 1500, 40);
    assert_int_equal(n_sigf, 0);
    trie_words__isect_sigf = sf;
    trie_words__isect_block = bl;
}


int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_differential_fuzzy_cur),
        cmocka_unit_test(test_differential_pcur),
        cmocka_unit_test(test_differential_c0_late),
        cmocka_unit_test(test_differential_lookahead),
        cmocka_unit_test(test_differential_skew),
        cmocka_unit_test(test_differential_block),
        cmocka_unit_test(test_differential_sigf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
