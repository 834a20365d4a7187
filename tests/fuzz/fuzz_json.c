/* fuzz_json.c -- libFuzzer harness for the JSON flat-object parser and the
 * number writers (common/json.h).
 *
 * Input: byte 0 picks max_fields (JSON_MAX_FIELDS, or 1..8); the rest is a
 * request body for json_parse_flat. Checks: the result is -1 (with a message
 * and an offset within the input), -2, or a field count <= max_fields; keys
 * and values are NUL-terminated, strings valid UTF-8, keys distinct (the
 * parser rejects duplicates). Round trip: the fields written back with
 * json_str (numbers and literals as their text) parse again to the same
 * fields. Also: the first 8 bytes as a double go through json_double (must
 * read back exactly with strtod) and json_double15 (within 5e-15 relative).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "tests/fuzz/fuzz_util.h"

static void check_double(const uint8_t *p) {
    double v;
    memcpy(&v, p, 8);
    qbuf b;
    qbuf_init(&b);
    if (json_double(&b, v) < 0 || qbuf_putc(&b, 0) < 0) abort();
    if (!isfinite(v)) {
        fuzz_assert(!strcmp(b.data, "null"));
    } else {
        double r = strtod(b.data, NULL);
        if (r != v) fuzz_fail("json_double(%.17g) wrote \"%s\", reads back %.17g", v, b.data, r);
        qbuf_reset(&b);
        if (json_double15(&b, v) < 0 || qbuf_putc(&b, 0) < 0) abort();
        double r15 = strtod(b.data, NULL);
        if (fabs(r15 - v) > 5e-15 * fabs(v))
            fuzz_fail("json_double15(%.17g) wrote \"%s\", reads back %.17g", v, b.data, r15);
    }
    qbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    if (size >= 9) check_double(data + 1);
    size_t maxf = data[0] & 1 ? 1 + data[0] % 8 : JSON_MAX_FIELDS;
    const char *src = (const char *)data + 1;
    size_t len = size - 1;
    char *copy = fuzz_dup(src, len);
    qbuf store, re, store2;
    qbuf_init(&store), qbuf_init(&re), qbuf_init(&store2);
    json_field f[JSON_MAX_FIELDS], g[JSON_MAX_FIELDS];
    const char *err = NULL;
    size_t err_off = 0;
    int n = json_parse_flat(copy, len, &store, f, maxf, &err, &err_off);
    if (n == -1) {
        fuzz_assert(err != NULL && err_off <= len);
    } else if (n >= 0) {
        fuzz_assert((size_t)n <= maxf);
        int rc = qbuf_putc(&re, '{');
        for (int i = 0; i < n; i++) {
            fuzz_assert(f[i].key[f[i].key_len] == 0 && f[i].val[f[i].val_len] == 0);
            fuzz_assert(qutf8_valid(f[i].key, f[i].key_len));
            if (f[i].type == JSON_STRING) fuzz_assert(qutf8_valid(f[i].val, f[i].val_len));
            for (int j = 0; j < i; j++)
                fuzz_assert(f[j].key_len != f[i].key_len || memcmp(f[j].key, f[i].key, f[i].key_len));
            if (i) rc |= qbuf_putc(&re, ',');
            rc |= json_str(&re, f[i].key, f[i].key_len);
            rc |= qbuf_putc(&re, ':');
            if (f[i].type == JSON_STRING) rc |= json_str(&re, f[i].val, f[i].val_len);
            else rc |= qbuf_append(&re, f[i].val, f[i].val_len);
        }
        rc |= qbuf_putc(&re, '}');
        if (rc) abort();
        const char *err2 = NULL;
        int m = json_parse_flat(re.data, re.len, &store2, g, maxf, &err2, NULL);
        if (m != n) fuzz_fail("re-encoded object parses to %d fields (%s), not %d", m, err2 ? err2 : "", n);
        for (int i = 0; i < n; i++) {
            fuzz_assert(g[i].type == f[i].type);
            fuzz_assert(g[i].key_len == f[i].key_len && !memcmp(g[i].key, f[i].key, f[i].key_len));
            fuzz_assert(g[i].val_len == f[i].val_len && !memcmp(g[i].val, f[i].val, f[i].val_len));
        }
    } else {
        fuzz_assert(n == -2);
    }
    free(copy);
    qbuf_free(&store), qbuf_free(&re), qbuf_free(&store2);
    return 0;
}
