/* Tests for text/norm.c: table tests of the key, prefix, eval and display
 * forms (ASCII, accents, NFKC forms, CJK, emoji, white space kinds,
 * controls, invalid UTF-8, truncated characters), agreement of the ASCII fast
 * path with the Unicode path on random input, and norm_match_len. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/norm.h"

typedef int (*norm_fn)(const char *, size_t, char *, size_t);

typedef struct ncase {
    const char *in;
    const char *out; /* NULL when an error is expected */
    int err;
} ncase;

static void run_table(norm_fn fn, const char *name, const ncase *c, size_t n) {
    char buf[4096];
    for (size_t i = 0; i < n; i++) {
        int r = fn(c[i].in, strlen(c[i].in), buf, sizeof buf);
        if (c[i].out) {
            if (r < 0 || (size_t)r != strlen(c[i].out) || memcmp(buf, c[i].out, (size_t)r)) {
                print_error("%s case %zu: in [%s] want [%s] got %d [%.*s]\n", name, i, c[i].in, c[i].out, r,
                            r > 0 ? r : 0, buf);
                fail();
            }
        } else if (r != c[i].err) {
            print_error("%s case %zu: in [%s] want error %d got %d\n", name, i, c[i].in, c[i].err, r);
            fail();
        }
    }
}

static const ncase key_cases[] = {
    {"hello", "hello", 0},
    {"Hello World", "hello world", 0},
    {"  New   York  ", "new york", 0},
    {"Café  Paris", "cafe paris", 0},
    {"cafe paris", "cafe paris", 0},
    {"Cafe\xcc\x81", "cafe", 0},             /* decomposed accent */
    {"ÅNGSTRÖM", "angstrom", 0},
    {"\xe2\x84\xab", "a", 0},                /* U+212B ANGSTROM SIGN */
    {"Straße", "strasse", 0},                /* full case folding */
    {"\xef\xac\x81le", "file", 0},           /* U+FB01 ligature fi */
    {"ＡＢＣ１２", "abc12", 0},              /* full-width */
    {"İstanbul", "istanbul", 0},             /* Turkish dotted I */
    {"ΣΑΣ ς", "σασ σ", 0},
    {"①", "1", 0},
    {"東京", "東京", 0},                     /* CJK unchanged */
    {"한국어", "한국어", 0},                 /* Hangul recomposed */
    {"ガ", "ガ", 0},                         /* voiced mark kept */
    {"ｶﾞ", "ガ", 0},                         /* half-width + voiced mark -> NFKC */
    {"कि", "कि", 0},                         /* Devanagari vowel sign kept */
    {"😀 👍🏽", "😀 👍🏽", 0},                 /* emoji and skin tone */
    {"a\tb\nc\rd\x0b" "e\x0c" "f", "a b c d e f", 0},
    {"a\xc2\xa0" "b", "a b", 0},              /* NBSP */
    {"a\xe3\x80\x80" "b", "a b", 0},          /* ideographic space */
    {"a\xe2\x80\x83\xe2\x80\xa8" "b", "a b", 0}, /* em space, line separator */
    {"a\xc2\x85" "b", "a b", 0},              /* NEL is white space */
    {"\xef\xbb\xbfhel\xc2\xadlo\xe2\x80\x8b", "hello", 0}, /* BOM, soft hyphen, ZWSP */
    {"", "", 0},
    {"   ", "", 0},
    {"\xe2\x80\x83", "", 0},
    {"a\x01" "b", NULL, NORM_ECONTROL},
    {"a\x7f", NULL, NORM_ECONTROL},
    {"a\x1f", NULL, NORM_ECONTROL},
    {"\xc3\xa9\x01", NULL, NORM_ECONTROL},
    {"a\xc2\x80" "b", NULL, NORM_ECONTROL},   /* C1 */
    {"a\xc2\x9f", NULL, NORM_ECONTROL},
    {"caf\xe9", NULL, NORM_EUTF8},            /* Latin-1 */
    {"\xc3", NULL, NORM_EUTF8},               /* truncated: an error for keys */
    {"\xc0\xaf", NULL, NORM_EUTF8},           /* overlong */
    {"\xed\xa0\x80", NULL, NORM_EUTF8},       /* surrogate */
    {"\xff", NULL, NORM_EUTF8},
};

static void test_key_table(void **state) {
    (void)state;
    run_table(norm_key, "key", key_cases, sizeof key_cases / sizeof *key_cases);
}

static const ncase prefix_cases[] = {
    {"new ", "new ", 0},
    {"New   ", "new ", 0},
    {"new\t", "new ", 0},
    {"new\xc2\xa0", "new ", 0},
    {"  ", "", 0},
    {"new", "new", 0},
    {" New  Yo", "new yo", 0},
    {"caf\xc3", "caf", 0},                    /* incomplete 2-byte char dropped */
    {"caf\xc3\xa9", "cafe", 0},
    {"\xe6\x9d", "", 0},                      /* incomplete 3-byte char */
    {"a\xe6\x9d\xb1\xe4", "a\xe6\x9d\xb1", 0},
    {"x\xf0\x9f\x98", "x", 0},                /* incomplete 4-byte char */
    {"Caf\xc3\xa9 ", "cafe ", 0},
    {"caf\xe9", "caf", 0},                    /* Latin-1 "é" at the end looks like a cut */
    {"caf\xe9s", NULL, NORM_EUTF8},           /* ...but not inside */
    {"\xc3\xc3", NULL, NORM_EUTF8},           /* a bad byte before the tail */
    {"ab\x02", NULL, NORM_ECONTROL},
    /* a trailing space only when the input ends in white space: NFKC turns
     * U+0384 GREEK TONOS into space + acute, the accent goes, no space stays */
    {"x\xce\x84", "x", 0},
    {"x\xce\x84 ", "x ", 0},
    {"x\xce\x84y", "x y", 0},
    {"x \xcc\x81", "x", 0},                  /* space, then a stripped accent */
    {"x\xe3\x80\x80", "x ", 0},               /* U+3000 ideographic space */
};

static void test_prefix_table(void **state) {
    (void)state;
    run_table(norm_prefix, "prefix", prefix_cases, sizeof prefix_cases / sizeof *prefix_cases);
}

static const ncase eval_cases[] = {
    {"Café  Paris", "café paris", 0},         /* accents kept */
    {"  New\tYork ", "new york", 0},
    {"Straße", "strasse", 0},
    {"ＡＢＣ", "ａｂｃ", 0},                 /* no NFKC */
    {"\xef\xac\x81", "fi", 0},                /* casefold expands the ligature (as Python's casefold) */
    {"İ", "i\xcc\x87", 0},
    {"a\xc2\xa0" "b", "a b", 0},
    {"new ", "new", 0},
    {"a\x01", NULL, NORM_ECONTROL},
    {"\xe9", NULL, NORM_EUTF8},
};

static void test_eval_table(void **state) {
    (void)state;
    run_table(norm_eval, "eval", eval_cases, sizeof eval_cases / sizeof *eval_cases);
}

static const ncase display_cases[] = {
    {"  New   York ", "New York", 0},
    {"Café\xc2\xa0Paris", "Café Paris", 0},
    {"ＡＢＣ", "ＡＢＣ", 0},
    {"a\x01", NULL, NORM_ECONTROL},
};

static void test_display_table(void **state) {
    (void)state;
    run_table(norm_display, "display", display_cases, sizeof display_cases / sizeof *display_cases);
}

static void test_too_long(void **state) {
    (void)state;
    char out[8];
    assert_int_equal(norm_key("abcdefgh", 8, out, 8), 8);
    assert_int_equal(norm_key("abcdefghi", 9, out, 8), NORM_ETOOLONG);
    assert_int_equal(norm_key("Straße12", strlen("Straße12"), out, 8), NORM_ETOOLONG); /* grows to 9 */
    assert_int_equal(norm_prefix("abcdefgh ", 9, out, 8), NORM_ETOOLONG); /* the kept space */
    /* A long non-ASCII input goes past the stack buffer (malloc path). */
    size_t n = 3000;
    char *in = malloc(n * 2), *o = malloc(n * 2 * NORM_MAX_GROWTH);
    assert_non_null(in);
    assert_non_null(o);
    for (size_t i = 0; i < n; i++) memcpy(in + 2 * i, "\xc3\x89", 2); /* É */
    int r = norm_key(in, n * 2, o, n * 2 * NORM_MAX_GROWTH);
    assert_int_equal(r, (int)n);
    for (size_t i = 0; i < n; i++) assert_int_equal(o[i], 'e');
    free(in);
    free(o);
}

/* The worst growth stays within NORM_MAX_GROWTH. */
static void test_growth_bound(void **state) {
    (void)state;
    const char *worst[] = {"\xef\xb7\xba", "\xe3\x8d\xbf", "ß", "\xef\xac\x83", "\xc5\x89"};
    for (size_t i = 0; i < sizeof worst / sizeof *worst; i++) {
        size_t len = strlen(worst[i]);
        char out[256];
        int r = norm_key(worst[i], len, out, len * NORM_MAX_GROWTH);
        assert_true(r >= 0);
        assert_true((size_t)r <= len * NORM_MAX_GROWTH);
    }
}

/* ASCII inputs with one extra non-ASCII no-op character force the Unicode
 * path; both paths must agree on random ASCII (letters, digits, punctuation,
 * every kind of ASCII white space, and controls). */
static void test_fast_path_agrees(void **state) {
    (void)state;
    static const char alphabet[] = "aAbBzZ09 -_.,'\t\n\r\x0b\x0c\x01\x7f!?&#";
    srand(12345);
    char in[80], slow_in[96], fast[512], slow[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)(rand() % 40);
        for (size_t i = 0; i < len; i++) {
            int ctrl_ok = rand() % 50 == 0;
            char c;
            do c = alphabet[rand() % (int)(sizeof alphabet - 1)];
            while (!ctrl_ok && (c == 0x01 || c == 0x7f));
            in[i] = c;
        }
        /* U+200B (dropped by the key form) at the start makes it non-ASCII
         * without changing the key. */
        memcpy(slow_in, "\xe2\x80\x8b", 3);
        memcpy(slow_in + 3, in, len);
        int a = norm_key(in, len, fast, sizeof fast);
        int b = norm_key(slow_in, len + 3, slow, sizeof slow);
        assert_int_equal(a, b);
        if (a > 0) assert_memory_equal(fast, slow, (size_t)a);
        a = norm_prefix(in, len, fast, sizeof fast);
        b = norm_prefix(slow_in, len + 3, slow, sizeof slow);
        assert_int_equal(a, b);
        if (a > 0) assert_memory_equal(fast, slow, (size_t)a);
    }
}

static void test_has_control(void **state) {
    (void)state;
    assert_int_equal(norm_has_control("a b\tc\r", 6), 0);
    assert_int_equal(norm_has_control("a\x01", 2), 1);
    assert_int_equal(norm_has_control("a\x7f", 2), 1);
    assert_int_equal(norm_has_control("\xc2\x80", 2), 1);
    assert_int_equal(norm_has_control("\xc2\x85", 2), 0);
    assert_int_equal(norm_has_control("\xc3\xa9", 2), 0);
}

static int ml(const char *display, const char *prefix) {
    char np[512];
    int n = norm_prefix(prefix, strlen(prefix), np, sizeof np);
    assert_true(n >= 0);
    return norm_match_len(display, strlen(display), np, (size_t)n);
}

static void test_match_len(void **state) {
    (void)state;
    assert_int_equal(ml("New York", "new"), 3);
    assert_int_equal(ml("New York", "new "), 4);
    assert_int_equal(ml("New York", "new y"), 5);
    assert_int_equal(ml("New  York", "new y"), 6);
    assert_int_equal(ml("New York", ""), 0);
    assert_int_equal(ml("New York", "newark"), -1);
    assert_int_equal(ml("Newark", "new "), -1);
    assert_int_equal(ml("Café Paris", "cafe"), 5);     /* the 2-byte é included */
    assert_int_equal(ml("Cafe\xcc\x81 Paris", "cafe"), 6); /* the combining accent included */
    assert_int_equal(ml("Straße", "strass"), 6);        /* ß covers "ss" */
    assert_int_equal(ml("Straße", "stras"), 6);
    assert_int_equal(ml("東京タワー", "東京"), 6);
    assert_int_equal(ml("abc", "abcd"), -1);
    assert_int_equal(norm_match_len("caf\xe9", 4, "caf", 3), 3);  /* invalid tail ignored */
    assert_int_equal(norm_match_len("caf\xe9", 4, "cafe", 4), -1);
    /* canonical reordering: the nukta (U+093C, class 7) moves before the
     * virama (9) and U+0951 (230), so the text changes before its last code
     * point; x must still match its own prefix form (fuzz regress
     * match-len-mark-reorder) */
    const char *ka = "\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa5\x91\xe0\xa4\xbc";
    assert_int_equal(ml(ka, ka), 12);
    assert_int_equal(ml(ka, "\xe0\xa4\x95"), 12); /* KA alone: its marks are included */
    /* the prefix KA + nukta matches once the nukta arrives and moves up */
    assert_int_equal(ml("a\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa5\x91\xe0\xa4\xbc" "b", "a\xe0\xa4\x95\xe0\xa4\xbc"), 13);
    /* Hangul: the next jamo composes with the last syllable */
    assert_int_equal(ml("\xea\xb0\x81", "\xea\xb0\x81"), 3); /* GAG */
    assert_int_equal(ml("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", "\xea\xb0\x81"), 9); /* G + A + G jamo */
    assert_int_equal(ml("x\xce\x84y", "x "), 4);
}

/* Key forms: MATCH folds accents and NFKC forms, EVAL only case and space;
 * the prefix variants keep one trailing space and drop a cut-off character. */
static void test_forms(void **state) {
    (void)state;
    char out[256];
    int n;
    assert_int_equal(norm_form_parse("match"), NORM_FORM_MATCH);
    assert_int_equal(norm_form_parse("eval"), NORM_FORM_EVAL);
    assert_int_equal(norm_form_parse("Eval"), -1);
    assert_string_equal(norm_form_name(NORM_FORM_EVAL), "eval");
    assert_string_equal(norm_form_name(7), "unknown");
    n = norm_key_as(NORM_FORM_MATCH, "  Caf\xc3\xa9  Paris ", 15, out, sizeof out);
    assert_int_equal(n, 10);
    assert_memory_equal(out, "cafe paris", 10);
    n = norm_key_as(NORM_FORM_EVAL, "  Caf\xc3\xa9  Paris ", 15, out, sizeof out);
    assert_int_equal(n, 11);
    assert_memory_equal(out, "caf\xc3\xa9 paris", 11);
    n = norm_prefix_as(NORM_FORM_EVAL, "Caf\xc3\xa9  ", 7, out, sizeof out);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "caf\xc3\xa9 ", 6);
    n = norm_prefix_as(NORM_FORM_EVAL, "Caf\xc3", 4, out, sizeof out); /* cut inside "é" */
    assert_int_equal(n, 3);
    assert_memory_equal(out, "caf", 3);
    n = norm_prefix_as(NORM_FORM_MATCH, "Caf\xc3\xa9 ", 6, out, sizeof out);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "cafe ", 5);
    assert_int_equal(norm_key_as(NORM_FORM_EVAL, "\xff", 1, out, sizeof out), NORM_EUTF8);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_table),     cmocka_unit_test(test_prefix_table),
        cmocka_unit_test(test_eval_table),    cmocka_unit_test(test_display_table),
        cmocka_unit_test(test_too_long),      cmocka_unit_test(test_growth_bound),
        cmocka_unit_test(test_fast_path_agrees), cmocka_unit_test(test_has_control),
        cmocka_unit_test(test_match_len),     cmocka_unit_test(test_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
