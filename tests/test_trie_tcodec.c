/* Tests for trie/tcodec.c: the identity table, training (compresses its
 * corpus, deterministic, alloc failure), exact greedy longest match against
 * a brute-force reference encoder on random tables (shared 3-byte
 * prefixes, hash collisions, zero bytes, symbols longer than the tail),
 * random round trips, decode caps, malformed coded strings, and
 * serialize/parse including every kind of malformed table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "trie/tcodec.h"
#include "tests/tcodec_ref.h"

static uint32_t rng_s = 12345;
static uint32_t rnd(void) {
    rng_s ^= rng_s << 13;
    rng_s ^= rng_s >> 17;
    rng_s ^= rng_s << 5;
    return rng_s;
}

static tc_table *new_table(void) {
    tc_table *t = malloc(sizeof *t);
    assert_non_null(t);
    return t;
}

/* A table from a list of symbols, through tc_parse. */
static void table_of(tc_table *t, const char *const *syms, const uint8_t *lens, unsigned n) {
    uint8_t buf[TC_SERIAL_MAX];
    size_t o = 0;
    buf[o++] = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) buf[o++] = lens[i];
    for (unsigned i = 0; i < n; i++) memcpy(buf + o, syms[i], lens[i]), o += lens[i];
    size_t used = 0;
    char err[128];
    assert_int_equal(tc_parse(t, buf, o, &used, err, sizeof err), TC_OK);
    assert_int_equal(used, o);
}

/* Round trip of s through t, decoding into exact-size heap buffers (ASan
 * sees any write past cap) with cap = len, len - 1 and a few tiny caps. */
static size_t check_roundtrip(const tc_table *t, const char *s, size_t n) {
    uint8_t *code = malloc(TC_ENC_MAX(n) + 1);
    assert_non_null(code);
    size_t m = tc_encode(t, s, n, code);
    assert_true(m <= TC_ENC_MAX(n));
    assert_int_equal(tc_decoded_len(t, code, m), n);
    char *out = malloc(n + 1);
    assert_non_null(out);
    assert_int_equal(tc_decode(t, code, m, out, n), n);
    assert_memory_equal(out, s, n);
    /* a prefix only: exact-size buffers of want + TC_SYM_MAX - 1 bytes */
    const size_t wants[] = {0, 1, n / 2, n, n + 5};
    for (size_t w = 0; w < sizeof wants / sizeof wants[0]; w++) {
        char *pre = malloc(wants[w] + TC_SYM_MAX - 1 + 1);
        assert_non_null(pre);
        size_t got = tc_decode_prefix(t, code, m, pre, wants[w]);
        assert_true(got != TC_BAD && got <= n && got >= (wants[w] < n ? wants[w] : n));
        assert_memory_equal(pre, s, got);
        free(pre);
    }
    if (n > 0) assert_int_equal(tc_decode(t, code, m, out, n - 1), TC_BAD);
    for (size_t cap = 0; cap < n && cap < 12; cap++) {
        char *small = malloc(cap ? cap : 1);
        assert_non_null(small);
        assert_int_equal(tc_decode(t, code, m, small, cap), TC_BAD);
        free(small);
    }
    /* a roomy buffer takes the fast path to the end */
    char *big = malloc(n + 64);
    assert_non_null(big);
    assert_int_equal(tc_decode(t, code, m, big, n + 64), n);
    assert_memory_equal(big, s, n);
    free(big);
    free(out);
    free(code);
    return m;
}


static void test_identity(void **state) {
    (void)state;
    tc_table *t = new_table();
    tc_identity(t);
    assert_true(tc_is_identity(t));
    assert_int_equal(tc_nsym(t), 255);
    const char *u = "h\xc3\xa9llo w\xc3\xb6rld \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80 long enough to pass 8";
    size_t n = strlen(u);
    uint8_t code[256];
    assert_int_equal(tc_encode(t, u, n, code), n); /* UTF-8 coded 1:1 */
    assert_memory_equal(code, u, n);
    check_roundtrip(t, u, n);
    const char ff[] = "\xff";
    assert_int_equal(tc_encode(t, ff, 1, code), 2);
    assert_int_equal(code[0], TC_ESC);
    assert_int_equal(code[1], 0xff);
    char zero[5] = {0, 'a', 0, (char)0xfe, (char)0xff};
    assert_int_equal(check_roundtrip(t, zero, 5), 6);
    assert_int_equal(tc_encode(t, "", 0, code), 0);
    char out[1];
    assert_int_equal(tc_decode(t, code, 0, out, 0), 0);
    /* serialized identity parses back to an identity table */
    uint8_t ser[TC_SERIAL_MAX];
    size_t sn = tc_serialize(t, ser), used;
    assert_int_equal(sn, tc_serial_size(t));
    assert_int_equal(sn, 1 + 255 + 255);
    tc_table *u2 = new_table();
    assert_int_equal(tc_parse(u2, ser, sn, &used, NULL, 0), TC_OK);
    assert_true(tc_is_identity(u2));
    /* one symbol different: not the identity */
    ser[1 + 255 + 'a'] = 'b';
    assert_int_equal(tc_parse(u2, ser, sn, &used, NULL, 0), TC_OK);
    assert_false(tc_is_identity(u2));
    free(u2);
    free(t);
}

static const char *const corpus[] = {
    "new york times",     "new york weather",    "the new york post",   "weather in new york",
    "cheap flights to new york", "new jersey weather", "york university", "the weather channel",
    "weather forecast",   "new york city hotels", "hotels in new york", "times square new york",
    "new york yankees",   "new york giants",     "the times of india",  "york pa weather",
};

static void train_corpus(tc_table *t, int copies) {
    size_t n = sizeof corpus / sizeof *corpus;
    const char **s = malloc(n * copies * sizeof *s);
    uint32_t *len = malloc(n * copies * sizeof *len);
    assert_non_null(s);
    assert_non_null(len);
    for (int k = 0; k < copies; k++)
        for (size_t i = 0; i < n; i++) s[k * n + i] = corpus[i], len[k * n + i] = (uint32_t)strlen(corpus[i]);
    assert_int_equal(tc_train(t, s, len, n * copies), TC_OK);
    free(s);
    free(len);
}

static void test_train_compresses(void **state) {
    (void)state;
    tc_table *t = new_table();
    train_corpus(t, 50);
    assert_false(tc_is_identity(t));
    size_t raw = 0, coded = 0;
    for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) {
        raw += strlen(corpus[i]);
        coded += check_roundtrip(t, corpus[i], strlen(corpus[i]));
    }
    double ratio = (double)raw / (double)coded;
    assert_true(ratio > 1.3);
    /* it learned multi-byte symbols; every symbol is 1..8 bytes */
    unsigned longest = 0;
    for (unsigned c = 0; c < tc_nsym(t); c++) {
        char sym[TC_SYM_MAX];
        unsigned l = tc_symbol(t, c, sym);
        assert_true(l >= 1 && l <= TC_SYM_MAX);
        if (l > longest) longest = l;
    }
    assert_true(longest >= 4);
    char sym[TC_SYM_MAX];
    assert_int_equal(tc_symbol(t, tc_nsym(t), sym), 0);
    assert_int_equal(tc_symbol(t, TC_ESC, sym), 0);
    free(t);
}

static void test_train_deterministic(void **state) {
    (void)state;
    tc_table *a = new_table(), *b = new_table();
    train_corpus(a, 30);
    train_corpus(b, 30);
    uint8_t sa[TC_SERIAL_MAX], sb[TC_SERIAL_MAX];
    size_t na = tc_serialize(a, sa), nb = tc_serialize(b, sb);
    assert_int_equal(na, nb);
    assert_memory_equal(sa, sb, na);
    free(a);
    free(b);
}

static void test_train_empty(void **state) {
    (void)state;
    tc_table *t = new_table();
    train_corpus(t, 1);
    assert_int_equal(tc_train(t, NULL, NULL, 0), TC_OK);
    assert_true(tc_is_identity(t));
    train_corpus(t, 1);
    const char *s[3] = {"", NULL, "x"};
    uint32_t len[3] = {0, 0, 0};
    assert_int_equal(tc_train(t, s, len, 3), TC_OK);
    assert_true(tc_is_identity(t));
    free(t);
}

/* More than TC_TRAIN_SAMPLE_BYTES: training codes a subset, still works,
 * still deterministic. Random bytes included (escapes, 0x00, 0xFF). */
static void test_train_large_and_binary(void **state) {
    (void)state;
    size_t n = 100000, per = 48;
    char *buf = malloc(n * per);
    const char **s = malloc(n * sizeof *s);
    uint32_t *len = malloc(n * sizeof *len);
    assert_non_null(buf);
    assert_non_null(s);
    assert_non_null(len);
    static const char *const words[] = {"apple ", "banana ", "cherry ", "date ", "elder ", "fig "};
    for (size_t i = 0; i < n; i++) {
        char *p = buf + i * per;
        size_t l = 0;
        while (l < per - 8) {
            if (rnd() % 4 == 0) {
                p[l++] = (char)(rnd() & 0xff);
            } else {
                const char *w = words[rnd() % 6];
                size_t wl = strlen(w);
                if (l + wl > per) break;
                memcpy(p + l, w, wl), l += wl;
            }
        }
        s[i] = p, len[i] = (uint32_t)l;
    }
    tc_table *a = new_table(), *b = new_table();
    assert_int_equal(tc_train(a, s, len, n), TC_OK);
    assert_int_equal(tc_train(b, s, len, n), TC_OK);
    uint8_t sa[TC_SERIAL_MAX], sb[TC_SERIAL_MAX];
    size_t na = tc_serialize(a, sa);
    assert_int_equal(tc_serialize(b, sb), na);
    assert_memory_equal(sa, sb, na);
    size_t raw = 0, coded = 0;
    for (size_t i = 0; i < 2000; i++) raw += len[i], coded += check_roundtrip(a, s[i], len[i]);
    assert_true((double)raw / (double)coded > 1.3);
    free(a);
    free(b);
    free(buf);
    free(s);
    free(len);
}

static void test_train_enomem(void **state) {
    (void)state;
    tc_table *t = new_table(), *before = new_table();
    train_corpus(t, 2);
    memcpy(before, t, sizeof *t);
    int ok = 0;
    for (unsigned long k = 1; k < 100 && !ok; k++) {
        tc_table *w = new_table();
        memcpy(w, before, sizeof *w);
        qalloc_fail_after(k, 0);
        const char *s[2] = {"hello world", "hello there world"};
        uint32_t len[2] = {11, 17};
        int rc = tc_train(w, s, len, 2);
        unsigned long failed = qalloc_failures();
        qalloc_fail_after(0, 0);
        if (rc == TC_ENOMEM) {
            assert_int_equal(failed, 1);
            assert_memory_equal(w, before, sizeof *w); /* unchanged */
        } else {
            assert_int_equal(rc, TC_OK);
            assert_int_equal(failed, 0);
            ok = 1;
        }
        free(w);
    }
    assert_true(ok);
    free(t);
    free(before);
}

/* Exact greedy longest match on hostile tables: many symbols sharing 3-byte
 * prefixes, zero bytes inside and at the end of symbols, duplicates, short
 * inputs where a symbol is longer than what remains. */
static void test_longest_match_reference(void **state) {
    (void)state;
    tc_table *t = new_table();
    static const char *const fixed[] = {"abcdefgh", "abcd", "abc", "ab", "a", "abcx", "ab\0\0", "ab"};
    static const uint8_t fl[] = {8, 4, 3, 2, 1, 4, 4, 2};
    table_of(t, fixed, fl, 8);
    uint8_t code[64];
    assert_int_equal(tc_encode(t, "abcdefgh", 8, code), 1);
    assert_int_equal(code[0], 0);
    assert_int_equal(tc_encode(t, "abcdefg", 7, code), 7); /* abcd, then e f g escaped */
    assert_int_equal(code[0], 1);
    assert_int_equal(tc_encode(t, "ab", 2, code), 1);
    assert_int_equal(code[0], 3); /* the first of two equal symbols */
    assert_int_equal(tc_encode(t, "ab\0", 3, code), 3); /* "ab\0\0" does not fit */
    assert_int_equal(code[0], 3);
    assert_int_equal(tc_encode(t, "ab\0\0", 4, code), 1);
    assert_int_equal(code[0], 6);

    uint8_t alpha[] = {'a', 'b', 'c', 0, 0xff, 'd'};
    for (int round = 0; round < 300; round++) {
        char syms[TC_MAX_SYMS][TC_SYM_MAX];
        const char *sp[TC_MAX_SYMS];
        uint8_t lens[TC_MAX_SYMS];
        unsigned ns = round == 0 ? 0 : rnd() % (TC_MAX_SYMS + 1);
        for (unsigned i = 0; i < ns; i++) {
            lens[i] = (uint8_t)(1 + rnd() % TC_SYM_MAX);
            for (unsigned j = 0; j < lens[i]; j++)
                syms[i][j] = (char)(round % 2 ? alpha[rnd() % sizeof alpha] : (uint8_t)rnd());
            sp[i] = syms[i];
        }
        table_of(t, sp, lens, ns);
        for (int k = 0; k < 20; k++) {
            uint8_t in[40], a[80], b[80];
            size_t n = rnd() % sizeof in;
            for (size_t i = 0; i < n; i++) in[i] = round % 2 ? alpha[rnd() % sizeof alpha] : (uint8_t)rnd();
            size_t ma = tc_encode(t, (const char *)in, n, a), mb = ref_encode(t, in, n, b);
            assert_int_equal(ma, mb);
            assert_memory_equal(a, b, ma);
            check_roundtrip(t, (const char *)in, n);
        }
    }
    free(t);
}

static void test_random_roundtrip(void **state) {
    (void)state;
    tc_table *tr = new_table(), *id = new_table();
    train_corpus(tr, 20);
    tc_identity(id);
    char buf[512];
    for (int i = 0; i < 3000; i++) {
        size_t n = rnd() % 513;
        int kind = i % 3;
        for (size_t j = 0; j < n; j++) {
            uint32_t r = rnd();
            buf[j] = kind == 0 ? (char)r : kind == 1 ? "new york \0\xff"[r % 11] : (char)(r % 2 ? 0 : 0xff);
        }
        check_roundtrip(tr, buf, n);
        check_roundtrip(id, buf, n);
    }
    /* the escape bound is tight: a table with no symbols doubles every byte */
    tc_table *none = new_table();
    table_of(none, NULL, NULL, 0);
    assert_int_equal(tc_nsym(none), 0);
    for (size_t n = 0; n < 40; n++) {
        uint8_t *code = malloc(TC_ENC_MAX(n) + 1);
        assert_non_null(code);
        for (size_t j = 0; j < n; j++) buf[j] = (char)rnd();
        assert_int_equal(tc_encode(none, buf, n, code), 2 * n);
        free(code);
        check_roundtrip(none, buf, n);
    }
    free(none);
    free(tr);
    free(id);
}

static void test_decode_malformed(void **state) {
    (void)state;
    tc_table *t = new_table();
    static const char *const syms[] = {"ab", "c", "longsymb"};
    static const uint8_t lens[] = {2, 1, 8};
    table_of(t, syms, lens, 3);
    char out[64];
    const uint8_t esc_end[] = {0, TC_ESC};
    assert_int_equal(tc_decode(t, esc_end, 2, out, sizeof out), TC_BAD);
    assert_int_equal(tc_decode(t, esc_end, 2, out, 4), TC_BAD); /* careful path too */
    assert_int_equal(tc_decoded_len(t, esc_end, 2), TC_BAD);
    assert_int_equal(tc_decode_prefix(t, esc_end, 2, out, 10), TC_BAD);
    assert_int_equal(tc_decode_prefix(t, esc_end, 2, out, 2), 2); /* stops before the bad end */
    assert_int_equal(tc_decode(t, esc_end, 1, out, sizeof out), 2);
    for (unsigned c = 3; c < TC_ESC; c++) {
        const uint8_t bad[] = {0, (uint8_t)c, 1};
        assert_int_equal(tc_decode(t, bad, 3, out, sizeof out), TC_BAD);
        assert_int_equal(tc_decode(t, bad, 3, out, 3), TC_BAD);
        assert_int_equal(tc_decoded_len(t, bad, 3), TC_BAD);
        assert_int_equal(tc_decode_prefix(t, bad, 3, out, 5), TC_BAD);
    }
    const uint8_t ok[] = {2, TC_ESC, 0xff, 1, 0};
    assert_int_equal(tc_decoded_len(t, ok, 5), 12);
    assert_int_equal(tc_decode(t, ok, 5, out, 12), 12);
    assert_memory_equal(out, "longsymb\xff" "cab", 12);
    /* output over cap in the middle of a long symbol, exact-size buffers */
    for (size_t cap = 0; cap < 12; cap++) {
        char *small = malloc(cap ? cap : 1);
        assert_non_null(small);
        assert_int_equal(tc_decode(t, ok, 5, small, cap), TC_BAD);
        free(small);
    }
    free(t);
}

static void test_serialize_parse(void **state) {
    (void)state;
    tc_table *t = new_table(), *u = new_table();
    train_corpus(t, 20);
    uint8_t ser[TC_SERIAL_MAX + 10];
    size_t n = tc_serialize(t, ser);
    assert_int_equal(n, tc_serial_size(t));
    assert_true(n <= TC_SERIAL_MAX);
    memset(ser + n, 0x55, 10); /* trailing bytes are not read */
    size_t used = 0;
    char err[128] = "";
    assert_int_equal(tc_parse(u, ser, n + 10, &used, err, sizeof err), TC_OK);
    assert_int_equal(used, n);
    assert_int_equal(tc_nsym(u), tc_nsym(t));
    uint8_t s2[TC_SERIAL_MAX];
    assert_int_equal(tc_serialize(u, s2), n);
    assert_memory_equal(s2, ser, n);
    for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) {
        uint8_t a[128], b[128];
        size_t l = strlen(corpus[i]);
        size_t ma = tc_encode(t, corpus[i], l, a), mb = tc_encode(u, corpus[i], l, b);
        assert_int_equal(ma, mb);
        assert_memory_equal(a, b, ma);
    }
    /* a memcpy of the table codes the same */
    tc_table *c = new_table();
    memcpy(c, t, sizeof *t);
    uint8_t a[128], b[128];
    assert_int_equal(tc_encode(c, corpus[0], strlen(corpus[0]), a), tc_encode(t, corpus[0], strlen(corpus[0]), b));
    free(c);
    free(t);
    free(u);
}

static void expect_refused(const uint8_t *in, size_t n, const char *reason) {
    tc_table *t = new_table(), *before = new_table();
    train_corpus(t, 2);
    memcpy(before, t, sizeof *t);
    char err[128] = "";
    size_t used = 777;
    assert_int_equal(tc_parse(t, in, n, &used, err, sizeof err), TC_EFORMAT);
    if (!strstr(err, reason)) {
        print_error("reason [%s] does not contain [%s]\n", err, reason);
        fail();
    }
    assert_null(strchr(err, '\n'));
    assert_int_equal(used, 777);
    assert_memory_equal(t, before, sizeof *t);
    assert_int_equal(tc_parse(t, in, n, NULL, NULL, 0), TC_EFORMAT); /* no err buffer: fine */
    char tiny[4];
    assert_int_equal(tc_parse(t, in, n, NULL, tiny, sizeof tiny), TC_EFORMAT);
    assert_int_equal(strlen(tiny), 3);
    free(t);
    free(before);
}

static void test_parse_malformed(void **state) {
    (void)state;
    expect_refused(NULL, 0, "truncated");
    const uint8_t few_lens[] = {5, 1, 2, 3};
    expect_refused(few_lens, sizeof few_lens, "truncated: 4 of at least 6");
    const uint8_t zero_len[] = {3, 1, 0, 1, 'a', 'b'};
    expect_refused(zero_len, sizeof zero_len, "symbol 1 has length 0");
    const uint8_t long_len[] = {2, 1, 9, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'};
    expect_refused(long_len, sizeof long_len, "symbol 1 has length 9");
    const uint8_t short_bytes[] = {2, 3, 2, 'a', 'b', 'c', 'd'};
    expect_refused(short_bytes, sizeof short_bytes, "truncated: 7 of 8 bytes");
    uint8_t full[TC_SERIAL_MAX];
    full[0] = 255;
    for (int i = 0; i < 255; i++) full[1 + i] = 8;
    for (size_t i = 256; i < TC_SERIAL_MAX; i++) full[i] = (uint8_t)i;
    expect_refused(full, TC_SERIAL_MAX - 1, "truncated");
    tc_table *t = new_table();
    size_t used;
    assert_int_equal(tc_parse(t, full, TC_SERIAL_MAX, &used, NULL, 0), TC_OK); /* the largest table */
    assert_int_equal(used, TC_SERIAL_MAX);
    assert_int_equal(tc_serial_size(t), TC_SERIAL_MAX);
    char buf[100];
    for (int i = 0; i < 100; i++) buf[i] = (char)(i * 7);
    check_roundtrip(t, buf, 100);
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_train_compresses),
        cmocka_unit_test(test_train_deterministic),
        cmocka_unit_test(test_train_empty),
        cmocka_unit_test(test_train_large_and_binary),
        cmocka_unit_test(test_train_enomem),
        cmocka_unit_test(test_longest_match_reference),
        cmocka_unit_test(test_random_roundtrip),
        cmocka_unit_test(test_decode_malformed),
        cmocka_unit_test(test_serialize_parse),
        cmocka_unit_test(test_parse_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
