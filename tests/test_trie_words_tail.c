/* White-box tests of the word index's candidate filter (trie/trie_words.c,
 * "Candidate check"; trie_words_internal.h, tw_sig): the 4-byte signature
 * of a rank covers the bits of every word its key holds and of every
 * prefix of those words (else a match would be dropped: answers are
 * checked against brute force in test_trie_words.c), each half has 16
 * bits that words reach (version 6 of the words file; 8 before), and its
 * high half (the words' first three bytes) drops candidates the low half
 * (the first two) lets through: those keys are never decoded. Fixed seeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trie/trie.h"
#include "trie/trie_words.h"
#include "trie/trie_words_internal.h"

#include "tests/rng.h"

/* Random keys of random words (1-6 bytes over a small alphabet, and
 * bytes >= 0x80): every word's bits, and every prefix's, are in the key's
 * signature; a prefix's bits are in its word's. */
static void test_sig_covers(void **state) {
    (void)state;
    rng_seed(15);
    static const char AL[] = {'a', 'b', 'c', 'o', 'f', (char)0xc3, (char)0xa9, (char)0xd0};
    for (int it = 0; it < 20000; it++) {
        char key[128];
        uint16_t o[64], l[64];
        size_t n = 0;
        int nw = 1 + (int)rnd(6);
        for (int i = 0; i < nw; i++) {
            int wl = 1 + (int)rnd(6);
            if (n) key[n++] = ' ';
            for (int j = 0; j < wl; j++) key[n++] = AL[rnd(sizeof AL)];
        }
        tw_sig_t s = tw_sig(key, n);
        int k = trie_words__split(key, n, o, l);
        assert_int_equal(k, nw);
        for (int i = 0; i < k; i++) {
            tw_sig_t ws = tw_sig_word(key + o[i], l[i]);
            assert_int_equal(s & ws, ws);
            assert_int_equal(__builtin_popcount(ws & 0xffffu), 1);     /* a low bit */
            assert_int_equal(__builtin_popcount(ws & 0xffff0000u), 1); /* and a high one, whatever the length */
            for (uint16_t pl = 1; pl <= l[i]; pl++) {
                tw_sig_t ps = tw_sig_pfx(key + o[i], pl);
                assert_int_equal(ws & ps, ps);
                assert_int_equal(!!(ps & 0xffffu), pl >= 2);
                assert_int_equal(!!(ps & 0xffff0000u), pl >= 3);
            }
        }
    }
}

/* Each half has 16 bits that words reach: the two-byte heads over a-z
 * set every low bit, the three-byte heads every high one (a half of 8
 * bits, version 5, passes twice the candidates a common word's list
 * holds: trie_words.c, "Candidate check"). */
static void test_sig_width(void **state) {
    (void)state;
    tw_sig_t lo = 0, hi = 0;
    for (int a = 'a'; a <= 'z'; a++)
        for (int b = 'a'; b <= 'z'; b++) {
            lo |= tw_sig_pfx((char[]){(char)a, (char)b}, 2);
            for (int c = 'a'; c <= 'z'; c++) hi |= tw_sig_pfx((char[]){(char)a, (char)b, (char)c}, 3) & 0xffff0000u;
        }
    assert_int_equal(lo, 0xffffu);
    assert_int_equal(hi, 0xffff0000u);
}

/* 100 keys "zz vab<i>" and 500 "vaXq" (X a byte whose three-byte bit the
 * fillers lack, while "va" gives the same low bit): "zz vaX" is driven by
 * zz's list (the prefix's lists are too long to be read as one, merged or
 * driving: trie_words.c, "Sources"), and every filler of that list is
 * dropped by its signature, none decoded; the three "zz vaXr" keys are
 * the only ones decoded, and the answers. */
static void test_sig_high_byte(void **state) {
    (void)state;
    tw_sig_t fill = tw_sig_word("zz", 2) | tw_sig_word("vab", 3);
    int X = -1;
    for (int c = 'c'; c <= 'z' && X < 0; c++) {
        char p[3] = {'v', 'a', (char)c};
        if (!(tw_sig_pfx(p, 3) & fill & 0xffff0000u)) X = c;
    }
    assert_true(X >= 0);
    trie *t = trie_new();
    char k[64];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(k, sizeof k, "zz vab%d", i); /* (the words of "zz vab": the same bits) */
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 100 + i, NULL), 0);
    }
    for (int i = 0; i < 500; i++) {
        int n = snprintf(k, sizeof k, "va%cq y%d", X, i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 1000 + i, NULL), 0);
    }
    for (int i = 0; i < 3; i++) {
        int n = snprintf(k, sizeof k, "zz va%cr%d", X, i);
        assert_int_equal(trie_set(t, k, (size_t)n, NULL, 0, 10 + i, NULL), 0);
    }
    assert_int_equal(tw_sig("zz vab17", 8) & 0xffff0000u & tw_sig_pfx((char[]){'v', 'a', (char)X}, 3), 0);
    trie_words *w;
    assert_int_equal(trie_words_build(t, &w), 0);
    char q[16];
    int ql = snprintf(q, sizeof q, "zz va%c", X);
    trie_words_hit out[10];
    int tr = -1;
    tw_work wk;
    int n = trie_words__topk(w, t, q, (size_t)ql, 10, out, &tr, &wk);
    assert_int_equal(n, 3);
    assert_int_equal(tr, 0);
    assert_int_equal(wk.pcur, 0);
    assert_int_equal(wk.decoded, 3); /* the fillers' low bits pass, their high bits do not */
    for (int i = 0; i < 3; i++) {
        int kn = snprintf(k, sizeof k, "zz va%cr%d", X, 2 - i);
        assert_int_equal(out[i].hit.keylen, kn);
        assert_memory_equal(out[i].hit.text, k, (size_t)kn);
    }
    /* "zz va" (two bytes: the low bit only): every filler is a candidate */
    n = trie_words__topk(w, t, "zz va", 5, 10, out, &tr, &wk);
    assert_int_equal(n, 10);
    trie_words_free(w);
    trie_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sig_covers),
        cmocka_unit_test(test_sig_width),
        cmocka_unit_test(test_sig_high_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
