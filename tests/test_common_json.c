/* Tests for common/json.c: string escaping, doubles, the completion reply
 * body (parsed back where the flat parser applies), and the flat object
 * parser's accept/reject table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/json.h"
#include "common/util.h"

#define S(x) x, sizeof(x) - 1

static qbuf str_buf;
static void str_free(void) { qbuf_free(&str_buf); }
static char *str_of(const char *s, size_t n) {
    qbuf *bp = &str_buf;
#define b (*bp)
    qbuf_reset(&b);
    assert_int_equal(json_str(&b, s, n), 0);
    qbuf_putc(&b, 0);
    return b.data;
#undef b
}

static void test_json_str(void **state) {
    (void)state;
    assert_string_equal(str_of(S("")), "\"\"");
    assert_string_equal(str_of(S("new york")), "\"new york\"");
    assert_string_equal(str_of(S("a\"b\\c")), "\"a\\\"b\\\\c\"");
    assert_string_equal(str_of(S("\n\r\t\b\f")), "\"\\n\\r\\t\\b\\f\"");
    assert_string_equal(str_of(S("\x01\x1f\x7f")), "\"\\u0001\\u001f\x7f\"");
    assert_string_equal(str_of(S("a\0b")), "\"a\\u0000b\"");
    assert_string_equal(str_of(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")),
                        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    assert_string_equal(str_of(S("/")), "\"/\"");
    /* every ASCII byte round-trips through the parser when the input is UTF-8 */
    char all[128];
    for (int i = 0; i < 128; i++) all[i] = (char)i;
    qbuf doc, store;
    qbuf_init(&doc), qbuf_init(&store);
    qbuf_puts(&doc, "{\"k\":");
    assert_int_equal(json_str(&doc, all, sizeof all), 0);
    qbuf_putc(&doc, '}');
    json_field f[4];
    assert_int_equal(json_parse_flat(doc.data, doc.len, &store, f, 4, NULL, NULL), 1);
    assert_int_equal(f[0].val_len, sizeof all);
    assert_memory_equal(f[0].val, all, sizeof all);
    qbuf_free(&doc), qbuf_free(&store);
    str_free();
}

/* v as one number writer writes it: json_double (how == NUM_DOUBLE),
 * json_double15 (NUM_DOUBLE15) or json_fixed with `how` decimals. */
enum { NUM_DOUBLE = -1000, NUM_DOUBLE15 = -1001 };
static char *num(double v, int how) {
    static char out[400];
    qbuf b;
    qbuf_init(&b);
    int rc = how == NUM_DOUBLE ? json_double(&b, v) : how == NUM_DOUBLE15 ? json_double15(&b, v) : json_fixed(&b, v, how);
    assert_int_equal(rc, 0);
    assert_true(b.len < sizeof out);
    memcpy(out, b.data, b.len);
    out[b.len] = 0;
    qbuf_free(&b);
    return out;
}
static char *dbl(double v) { return num(v, NUM_DOUBLE); }

static void test_json_double(void **state) {
    (void)state;
    assert_string_equal(dbl(0), "0");
    assert_string_equal(dbl(-0.0), "0");
    assert_string_equal(dbl(42), "42");
    assert_string_equal(dbl(-7), "-7");
    assert_string_equal(dbl(9007199254740992.0), "9007199254740992");
    assert_string_equal(dbl(0.1), "0.1");
    assert_string_equal(dbl(1.5), "1.5");
    assert_string_equal(dbl(-2.25), "-2.25");
    assert_string_equal(dbl(1e300), "1e+300");
    assert_string_equal(dbl(1e-7), "1e-07");
    assert_string_equal(dbl(NAN), "null");
    assert_string_equal(dbl(INFINITY), "null");
    assert_string_equal(dbl(-INFINITY), "null");
    /* round trip on awkward values */
    double vals[] = {0.1 + 0.2, 1.0 / 3, 2.0 / 3, 123456.789, 5e-324, 1.7976931348623157e308, 1e21, 3.14159};
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        char *s = dbl(vals[i]);
        assert_true(strtod(s, NULL) == vals[i]);
        assert_true(strlen(s) <= 24);
    }
    assert_string_equal(dbl(0.000123), "0.000123");
    assert_string_equal(dbl(1e-6), "0.000001");
    assert_string_equal(dbl(-0.5), "-0.5");
    assert_string_equal(dbl(123456.789), "123456.789");
    assert_string_equal(dbl(999999999999999.5), "999999999999999.5");
    assert_string_equal(dbl(1e15 + 0.5), "1000000000000000.5");
    assert_string_equal(dbl(0.1 + 0.2), "0.30000000000000004");
    assert_string_equal(dbl(1.0 / 3), "0.3333333333333333");
}

/* Significant digits in a %g or plain decimal rendering. */
static int sig_digits(const char *s) {
    int n = 0, started = 0, trailing_zeros = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9') continue;
        if (*s != '0') started = 1;
        if (!started) continue;
        n++;
        trailing_zeros = *s == '0' ? trailing_zeros + 1 : 0;
    }
    return n - trailing_zeros;
}

/* Differential: against the shortest of printf's %.15g/%.16g/%.17g that
 * reads back, on random doubles of many magnitudes: ours reads back exactly
 * and never has more significant digits. */
static void test_json_double_differential(void **state) {
    (void)state;
    srand(3);
    for (int it = 0; it < 200000; it++) {
        double m = (double)rand() / RAND_MAX + (double)rand() / RAND_MAX / 4294967296.0;
        int ex = rand() % 50 - 25;
        double v = m * pow(10, ex) * (rand() & 1 ? -1 : 1);
        if (it % 7 == 0) v = (double)(rand() % 100000) / 100; /* "nice" decimals */
        char ref[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(ref, sizeof ref, "%.*g", prec, v);
            if (strtod(ref, NULL) == v) break;
        }
        char *got = dbl(v);
        if (strtod(got, NULL) != v || sig_digits(got) > sig_digits(ref))
            fail_msg("%.17g: got %s, printf %s", v, got, ref);
    }
}

static char *dbl15(double v) { return num(v, NUM_DOUBLE15); }

static void test_json_double15(void **state) {
    (void)state;
    assert_string_equal(dbl15(1.0 / 3), "0.3333333333333333"); /* 16 digits read back */
    assert_string_equal(dbl15(0.1 + 0.2), "0.3");
    assert_string_equal(dbl15(1523.5), "1523.5");
    assert_string_equal(dbl15(-1000.0 / 3 - 0.37), "-333.7033333333333");
    assert_string_equal(dbl15(12), "12");
    assert_string_equal(dbl15(NAN), "null");
    assert_true(strtod(dbl15(1e-9 / 3), NULL) == 1e-9 / 3); /* outside the fast range: exact */
    srand(5);
    for (int it = 0; it < 200000; it++) {
        double v = ((double)rand() / RAND_MAX) * pow(10, rand() % 20 - 6);
        char *got = dbl15(v);
        double back = strtod(got, NULL);
        if (fabs(back - v) > 5.01e-15 * fabs(v) || (fabs(v) >= 1e-6 && sig_digits(got) > 16))
            fail_msg("%.17g: got %s", v, got);
        /* exact whenever 15 digits suffice */
        char ref[40];
        snprintf(ref, sizeof ref, "%.15g", v);
        if (strtod(ref, NULL) == v && back != v) fail_msg("%.17g: got %s, %%.15g is exact", v, got);
    }
}

/* json_fixed is printf's %.*f for finite values (the reports of qac eval and
 * qac replay keep their bytes), null otherwise. */
static void test_json_fixed(void **state) {
    (void)state;
    assert_string_equal(num(0.764407768, 10), "0.7644077680");
    assert_string_equal(num(1.0 / 3, 10), "0.3333333333");
    assert_string_equal(num(2.0 / 3, 4), "0.6667");
    assert_string_equal(num(2.675, 2), "2.67"); /* the double is just below 2.675: printf's exact rounding */
    assert_string_equal(num(0.8636015, 6), "0.863602");
    assert_string_equal(num(0, 3), "0.000");
    assert_string_equal(num(-0.0, 3), "-0.000");
    assert_string_equal(num(-1.25, 1), "-1.2"); /* round half to even, as printf */
    assert_string_equal(num(2000.9244, 0), "2001");
    assert_string_equal(num(42, 2), "42.00");
    assert_string_equal(num(1.5, -3), "2"); /* clamped to 0 decimals */
    assert_string_equal(num(0.1, 99), "0.10000000000000000555"); /* clamped to 20 */
    assert_string_equal(num(NAN, 10), "null");
    assert_string_equal(num(INFINITY, 3), "null");
    assert_string_equal(num(-INFINITY, 3), "null");
    assert_int_equal(strlen(num(1e300, 10)), 301 + 1 + 10);
    srand(7);
    for (int it = 0; it < 20000; it++) {
        double v = ((double)rand() / RAND_MAX - 0.5) * pow(10, rand() % 24 - 8);
        int d = rand() % 12;
        char ref[400];
        snprintf(ref, sizeof ref, "%.*f", d, v);
        char *got = num(v, d);
        if (strcmp(got, ref)) fail_msg("%.17g, %d decimals: got %s, printf %s", v, d, got, ref);
    }
    qbuf b;
    qbuf_init(&b);
    qalloc_fail_after(1, 1);
    assert_int_equal(json_fixed(&b, 0.5, 10), -1);
    qalloc_fail_after(0, 0);
    assert_int_equal(b.len, 0);
    qbuf_free(&b);
}

static void test_suggestions(void **state) {
    (void)state;
    qbuf b;
    qbuf_init(&b);
    static const uint32_t ws[] = {4, 0}, we[] = {8, 2};
    json_suggestion s[] = {
        {"new york", 8, 1523.5, 0, 3, 0, 0, 0, 0, NULL, NULL, 0},
        {"the \"new\" yorker", 16, 12, 5, 8, 0, 0, 0, 0, NULL, NULL, 0},
        {"caf\xc3\xa9", 5, 0.25, 0, 5, 1, 2, 0, 0, NULL, NULL, 0}, /* a typo match: its edits are written */
        {"new york", 8, 3, 0, 0, 0, 0, 1, 2, ws, we, 0},            /* INFIX "york ne": its words' ranges */
        {"york", 4, 2, 0, 0, 0, 0, 1, 0, ws, we, 0},                /* INFIX, no word ranges (typo fill) */
    };
    assert_int_equal(json_write_suggestions(&b, S("new"), s, 5, 0, 87), 0);
    qbuf_putc(&b, 0);
    assert_string_equal(b.data,
                        "{\"prefix\":\"new\",\"suggestions\":["
                        "{\"text\":\"new york\",\"score\":1523.5,\"match\":[0,3]},"
                        "{\"text\":\"the \\\"new\\\" yorker\",\"score\":12,\"match\":[5,8]},"
                        "{\"text\":\"caf\xc3\xa9\",\"score\":0.25,\"match\":[0,5],\"edits\":2},"
                        "{\"text\":\"new york\",\"score\":3,\"match\":[0,0],\"words\":[[4,8],[0,2]]},"
                        "{\"text\":\"york\",\"score\":2,\"match\":[0,0],\"words\":[]}],\"took_us\":87}");
    qbuf_reset(&b);
    json_suggestion g = {"new york zoo", 12, 0, 0, 3, 0, 0, 0, 0, NULL, NULL, 1}; /* generated by the ranker */
    assert_int_equal(json_write_suggestions(&b, S("new"), &g, 1, 0, 3), 0);
    qbuf_putc(&b, 0);
    assert_string_equal(b.data, "{\"prefix\":\"new\",\"suggestions\":["
                                "{\"text\":\"new york zoo\",\"score\":0,\"match\":[0,3],\"generated\":true}],\"took_us\":3}");
    qbuf_reset(&b);
    assert_int_equal(json_write_suggestions(&b, S("zz\n"), NULL, 0, 0, 0), 0);
    qbuf_putc(&b, 0);
    assert_string_equal(b.data, "{\"prefix\":\"zz\\n\",\"suggestions\":[],\"took_us\":0}");
    qbuf_reset(&b);
    assert_int_equal(json_write_suggestions(&b, S("zz"), NULL, 0, 1, 4), 0); /* a typo search cut */
    qbuf_putc(&b, 0);
    assert_string_equal(b.data, "{\"prefix\":\"zz\",\"suggestions\":[],\"truncated\":true,\"took_us\":4}");
    /* the OpenSearch form: typed text, completions, and two empty optional arrays */
    qbuf_reset(&b);
    assert_int_equal(json_write_opensearch(&b, S("The \"n"), s, 3), 0);
    qbuf_putc(&b, 0);
    assert_string_equal(b.data, "[\"The \\\"n\",[\"new york\",\"the \\\"new\\\" yorker\",\"caf\xc3\xa9\"],[],[]]");
    qbuf_reset(&b);
    assert_int_equal(json_write_opensearch(&b, S(""), NULL, 0), 0);
    qbuf_putc(&b, 0);
    assert_string_equal(b.data, "[\"\",[],[],[]]");
    /* the flat parser rejects the reply (it has an array), but reads the
     * parts that are flat: build one flat object from the same writers */
    qbuf_reset(&b);
    qbuf_puts(&b, "{\"text\":");
    json_str(&b, s[1].text, s[1].textlen);
    qbuf_puts(&b, ",\"score\":");
    json_double(&b, 1.0 / 3);
    qbuf_putc(&b, '}');
    qbuf store;
    qbuf_init(&store);
    json_field f[4];
    assert_int_equal(json_parse_flat(b.data, b.len, &store, f, 4, NULL, NULL), 2);
    assert_string_equal(f[0].val, "the \"new\" yorker");
    assert_int_equal(f[1].type, JSON_NUMBER);
    assert_true(strtod(f[1].val, NULL) == 1.0 / 3);
    qbuf_reset(&b);
    assert_int_equal(json_write_suggestions(&b, S("new"), s, 1, 0, 1), 0);
    const char *err = NULL;
    assert_int_equal(json_parse_flat(b.data, b.len, &store, f, 4, &err, NULL), -1);
    assert_string_equal(err, "nested objects and arrays are not supported");
    qbuf_free(&store);
    qbuf_free(&b);
}

typedef struct accept_case {
    const char *in;
    int n;
    const char *k0, *v0; /* first field, decoded */
    size_t v0len;
    json_type t0;
} accept_case;

static void test_parse_accept(void **state) {
    (void)state;
    static const accept_case cases[] = {
        {"{}", 0, NULL, NULL, 0, JSON_NULL},
        {" \t\r\n{ } \n", 0, NULL, NULL, 0, JSON_NULL},
        {"{\"q\":\"new york\"}", 1, "q", "new york", 8, JSON_STRING},
        {"{\"q\":\"\"}", 1, "q", "", 0, JSON_STRING},
        {"{\"\":\"x\"}", 1, "", "x", 1, JSON_STRING},
        {"{\"rank\":3}", 1, "rank", "3", 1, JSON_NUMBER},
        {"{\"r\":-0.5e+10}", 1, "r", "-0.5e+10", 8, JSON_NUMBER},
        {"{\"r\":0}", 1, "r", "0", 1, JSON_NUMBER},
        {"{\"r\":1E3}", 1, "r", "1E3", 3, JSON_NUMBER},
        {"{\"b\":true}", 1, "b", "true", 4, JSON_TRUE},
        {"{\"b\":false}", 1, "b", "false", 5, JSON_FALSE},
        {"{\"b\":null}", 1, "b", "null", 4, JSON_NULL},
        {"{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", 1, "e", "\"\\/\b\f\n\r\t", 8, JSON_STRING},
        {"{\"u\":\"\\u00e9\\u20AC\"}", 1, "u", "\xc3\xa9\xe2\x82\xac", 5, JSON_STRING},
        {"{\"u\":\"\\ud83d\\ude00\"}", 1, "u", "\xf0\x9f\x98\x80", 4, JSON_STRING},
        {"{\"u\":\"\\u0000\"}", 1, "u", "\0", 1, JSON_STRING},
        {"{\"u\":\"caf\xc3\xa9\"}", 1, "u", "caf\xc3\xa9", 5, JSON_STRING},
        {"{\"k\\u0041\":1}", 1, "kA", "1", 1, JSON_NUMBER},
        {"{\"a\":1,\"b\":\"2\",\"c\":true}", 3, "a", "1", 1, JSON_NUMBER},
        {"{\"a\" : 1 , \"b\" :\"2\"}", 2, "a", "1", 1, JSON_NUMBER},
    };
    qbuf store;
    qbuf_init(&store);
    json_field f[JSON_MAX_FIELDS];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const accept_case *c = &cases[i];
        const char *err = NULL;
        int n = json_parse_flat(c->in, strlen(c->in), &store, f, JSON_MAX_FIELDS, &err, NULL);
        if (n != c->n) fail_msg("case %zu %s: got %d (%s)", i, c->in, n, err ? err : "");
        if (n > 0) {
            assert_string_equal(f[0].key, c->k0);
            assert_int_equal(f[0].val_len, c->v0len);
            assert_memory_equal(f[0].val, c->v0, c->v0len);
            assert_int_equal(f[0].val[f[0].val_len], 0);
            assert_int_equal(f[0].type, c->t0);
        }
    }
    /* the three fields of the multi-field case */
    assert_int_equal(json_parse_flat(S("{\"a\":1,\"b\":\"2\",\"c\":true}"), &store, f, 8, NULL, NULL), 3);
    assert_string_equal(f[1].key, "b");
    assert_string_equal(f[1].val, "2");
    assert_int_equal(f[2].type, JSON_TRUE);
    qbuf_free(&store);
}

typedef struct reject_case {
    const char *in;
    size_t len; /* 0 = strlen */
    const char *err;
} reject_case;

static void test_parse_reject(void **state) {
    (void)state;
    static const reject_case cases[] = {
        {"", 0, "a JSON object ('{') expected"},
        {"   ", 0, "a JSON object ('{') expected"},
        {"[]", 0, "a JSON object ('{') expected"},
        {"\"s\"", 0, "a JSON object ('{') expected"},
        {"{", 0, "a string key expected"},
        {"{\"a\":1", 0, "unterminated object"},
        {"{\"a\":1,}", 0, "a string key expected"},
        {"{,}", 0, "a string key expected"},
        {"{\"a\":1,,\"b\":2}", 0, "a string key expected"},
        {"{\"a\" 1}", 0, "':' expected after key"},
        {"{\"a\":}", 0, "unexpected character (value expected)"},
        {"{\"a\":1 \"b\":2}", 0, "',' or '}' expected"},
        {"{a:1}", 0, "a string key expected"},
        {"{'a':1}", 0, "a string key expected"},
        {"{\"a\":{\"b\":1}}", 0, "nested objects and arrays are not supported"},
        {"{\"a\":[1]}", 0, "nested objects and arrays are not supported"},
        {"{\"a\":1}x", 0, "trailing characters after the object"},
        {"{\"a\":1}{}", 0, "trailing characters after the object"},
        {"{\"a\":01}", 0, "bad number (leading zero)"},
        {"{\"a\":1.}", 0, "bad number (digit expected after '.')"},
        {"{\"a\":.5}", 0, "unexpected character (value expected)"},
        {"{\"a\":1e}", 0, "bad number (digit expected in exponent)"},
        {"{\"a\":-}", 0, "bad number"},
        {"{\"a\":+1}", 0, "unexpected character (value expected)"},
        {"{\"a\":NaN}", 0, "unexpected character (value expected)"},
        {"{\"a\":tru}", 0, "unexpected character"},
        {"{\"a\":nul}", 0, "unexpected character"},
        {"{\"a\":\"x}", 0, "unterminated string"},
        {"{\"a\":\"x\\", 0, "unterminated string"},
        {"{\"a\":\"\\x41\"}", 0, "bad escape in string"},
        {"{\"a\":\"\\'\"}", 0, "bad escape in string"},
        {"{\"a\":\"\\u12\"}", 0, "bad \\u escape (needs 4 hex digits)"},
        {"{\"a\":\"\\u12G4\"}", 0, "bad \\u escape (needs 4 hex digits)"},
        {"{\"a\":\"\\ud83d\"}", 0, "high surrogate not followed by a low surrogate"},
        {"{\"a\":\"\\ud83dx\"}", 0, "high surrogate not followed by a low surrogate"},
        {"{\"a\":\"\\ud83d\\u0041\"}", 0, "high surrogate not followed by a low surrogate"},
        {"{\"a\":\"\\ude00\"}", 0, "lone low surrogate in \\u escape"},
        {"{\"a\":\"tab\there\"}", 0, "control character in string (escape it)"},
        {"{\"a\":\"nl\nhere\"}", 0, "control character in string (escape it)"},
        {"{\"a\":\"\xff\"}", 0, "invalid UTF-8"},
        {"{\"a\":\"\xc3\"}", 0, "invalid UTF-8"},
        {"{\"a\":\"\xed\xa0\x80\"}", 0, "invalid UTF-8"},
        {"{\"a\":\"\xc0\xaf\"}", 0, "invalid UTF-8"},
        {"{\"a\":1}\0", 8, "trailing characters after the object"},
        {"{\"a\":1,\"a\":2}", 0, "duplicate key"},
        {"{\"a\":1,\"\\u0061\":2}", 0, "duplicate key"},
    };
    qbuf store;
    qbuf_init(&store);
    json_field f[JSON_MAX_FIELDS];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const reject_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        const char *err = NULL;
        size_t off = 999999;
        int n = json_parse_flat(c->in, len, &store, f, JSON_MAX_FIELDS, &err, &off);
        if (n != -1 || !err || strcmp(err, c->err) != 0)
            fail_msg("case %zu %s: got %d (%s), want error %s", i, c->in, n, err ? err : "-", c->err);
        assert_true(off <= len);
    }
    /* too many fields: exactly max is fine, one more is not */
    qbuf doc;
    qbuf_init(&doc);
    for (int n = 3; n <= 4; n++) {
        qbuf_reset(&doc);
        qbuf_putc(&doc, '{');
        for (int i = 0; i < n; i++) qbuf_printf(&doc, "%s\"k%d\":%d", i ? "," : "", i, i);
        qbuf_putc(&doc, '}');
        const char *err = NULL;
        int got = json_parse_flat(doc.data, doc.len, &store, f, 3, &err, NULL);
        if (n == 3) assert_int_equal(got, 3);
        else {
            assert_int_equal(got, -1);
            assert_string_equal(err, "too many fields");
        }
    }
    qbuf_free(&doc);
    qbuf_free(&store);
}

static void test_parse_fuzz(void **state) {
    (void)state;
    /* random mutations of a valid document never crash; whatever parses
     * has NUL-terminated fields inside the store */
    static const char base[] = "{\"query\":\"caf\\u00e9 \\ud83d\\ude00\",\"rank\":-1.5e3,\"ok\":true,\"x\":null}";
    char buf[sizeof base];
    qbuf store;
    qbuf_init(&store);
    json_field f[8];
    srand(11);
    int accepted = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, base, sizeof base);
        size_t len = sizeof base - 1;
        int muts = 1 + rand() % 3;
        for (int m = 0; m < muts; m++) buf[rand() % (int)len] = "{}[]\":,\\u0e9 x\xff"[rand() % 16];
        if (rand() % 4 == 0) len = (size_t)rand() % len;
        int n = json_parse_flat(buf, len, &store, f, 8, NULL, NULL);
        assert_true(n >= -1 && n <= 8);
        for (int i = 0; i < n; i++) {
            assert_true(f[i].key >= store.data && f[i].val + f[i].val_len < store.data + store.len);
            assert_int_equal(f[i].val[f[i].val_len], 0);
            assert_true(qutf8_valid(f[i].val, f[i].val_len));
        }
        accepted += n >= 0;
    }
    assert_true(accepted > 0);
    qbuf_free(&store);
}

static void test_alloc_failure(void **state) {
    (void)state;
    qbuf b, store;
    qbuf_init(&b), qbuf_init(&store);
    json_suggestion s[] = {{"new york", 8, 1.5, 0, 3, 0, 0, 0, 0, NULL, NULL, 0}};
    qalloc_fail_after(1, 1);
    assert_int_equal(json_write_suggestions(&b, S("new"), s, 1, 0, 5), -1);
    assert_int_equal(json_parse_flat(S("{\"a\":1}"), &store, NULL, 0, NULL, NULL), -2);
    qalloc_fail_after(0, 0);
    assert_int_equal(json_write_suggestions(&b, S("new"), s, 1, 0, 5), 0);
    qbuf_free(&b), qbuf_free(&store);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str),      cmocka_unit_test(test_json_double),
        cmocka_unit_test(test_json_double_differential), cmocka_unit_test(test_json_double15),
        cmocka_unit_test(test_json_fixed),
        cmocka_unit_test(test_suggestions),   cmocka_unit_test(test_parse_accept),
        cmocka_unit_test(test_parse_reject),  cmocka_unit_test(test_parse_fuzz),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
