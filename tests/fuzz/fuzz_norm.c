/* fuzz_norm.c -- libFuzzer harness for text normalization (text/norm.h).
 *
 * Input: arbitrary bytes, used whole as the text; the first byte also splits
 * it into a display and a prefix for norm_match_len. Checks, for every form
 * (key, prefix, eval, display, and both forms of *_as):
 *   - a result >= 0 is valid UTF-8 with no leading space, no double space and
 *     no trailing space (norm_prefix: at most one);
 *   - invalid UTF-8 input gives NORM_EUTF8 (except norm_prefix, which first
 *     drops an incomplete final character);
 *   - idempotence: norm_key(norm_key(x)) == norm_key(x), and the same for
 *     norm_eval and norm_display;
 *   - norm_prefix(x) is norm_key(x), plus one space exactly when x (valid)
 *     ends in white space and the key is not empty;
 *   - norm_match_len(x, norm_prefix(x)) is in 0..len(x) (x matches itself),
 *     and norm_match_len(display, np) is -1 or in 0..displen.
 * Inputs are capped at 2 KB: norm_match_len is quadratic by design.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "text/norm.h"
#include "tests/fuzz/fuzz_util.h"

#define MAXIN 2048

static void check_form(const char *what, const char *s, int n, int prefix) {
    if (n < 0) return;
    fuzz_assert(qutf8_valid(s, (size_t)n));
    if (n == 0) return;
    if (s[0] == ' ') fuzz_fail("%s: leading space", what);
    for (int i = 1; i < n; i++)
        if (s[i] == ' ' && s[i - 1] == ' ') fuzz_fail("%s: two spaces in a row", what);
    if (!prefix && s[n - 1] == ' ') fuzz_fail("%s: trailing space", what);
}

static int ends_in_space(const char *s, size_t n) {
    /* the last character is Unicode White_Space (same list as norm.c) */
    static const char *const ws[] = {" ", "\t", "\n", "\v", "\f", "\r", "\xc2\x85", "\xc2\xa0",
                                     "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xaf",
                                     "\xe2\x81\x9f", "\xe3\x80\x80"};
    for (size_t i = 0; i < sizeof ws / sizeof *ws; i++) {
        size_t k = strlen(ws[i]);
        if (n >= k && !memcmp(s + n - k, ws[i], k)) return 1;
    }
    if (n >= 3 && (unsigned char)s[n - 3] == 0xe2 && (unsigned char)s[n - 2] == 0x80 &&
        (unsigned char)s[n - 1] >= 0x80 && (unsigned char)s[n - 1] <= 0x8a)
        return 1; /* U+2000..200A */
    return 0;
}

typedef int (*norm_fn)(const char *, size_t, char *, size_t);

static void idempotent(const char *what, norm_fn fn, const char *out, int n, char *tmp, size_t cap) {
    if (n < 0) return;
    int m = fn(out, (size_t)n, tmp, cap);
    if (m != n || memcmp(out, tmp, (size_t)n))
        fuzz_fail("%s not idempotent: f(x) = \"%.*s\" (%d bytes), f(f(x)) = \"%.*s\" (%d)", what, n, out, n,
                  m < 0 ? 0 : m, tmp, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > MAXIN) return 0;
    const char *in = (const char *)data;
    size_t cap = size * NORM_MAX_GROWTH + 1;
    char *key = malloc(cap), *pre = malloc(cap), *ev = malloc(cap), *disp = malloc(cap);
    size_t cap2 = cap * NORM_MAX_GROWTH + 1;
    char *tmp = malloc(cap2);
    if (!key || !pre || !ev || !disp || !tmp) abort();
    int valid = qutf8_valid(in, size);

    int nk = norm_key(in, size, key, cap);
    int np = norm_prefix(in, size, pre, cap);
    int ne = norm_eval(in, size, ev, cap);
    int nd = norm_display(in, size, disp, cap);
    fuzz_assert(nk != NORM_ETOOLONG && ne != NORM_ETOOLONG && nd != NORM_ETOOLONG && np != NORM_ETOOLONG);
    if (!valid) fuzz_assert(nk == NORM_EUTF8 && ne == NORM_EUTF8 && nd == NORM_EUTF8);
    if (valid && norm_has_control(in, size)) fuzz_assert(nk == NORM_ECONTROL && ne == NORM_ECONTROL);
    check_form("norm_key", key, nk, 0);
    check_form("norm_prefix", pre, np, 1);
    check_form("norm_eval", ev, ne, 0);
    check_form("norm_display", disp, nd, 0);
    idempotent("norm_key", norm_key, key, nk, tmp, cap2);
    idempotent("norm_eval", norm_eval, ev, ne, tmp, cap2);
    idempotent("norm_display", norm_display, disp, nd, tmp, cap2);

    int a = norm_key_as(NORM_FORM_EVAL, in, size, tmp, cap2);
    fuzz_assert(a == ne && (a < 0 || !memcmp(tmp, ev, (size_t)a)));
    a = norm_key_as(NORM_FORM_MATCH, in, size, tmp, cap2);
    fuzz_assert(a == nk && (a < 0 || !memcmp(tmp, key, (size_t)a)));
    a = norm_prefix_as(NORM_FORM_EVAL, in, size, tmp, cap2);
    check_form("norm_prefix_as(eval)", tmp, a, 1);

    if (valid && nk >= 0) {
        /* prefix form = key form, plus one space exactly when the text ends
         * in white space (not when NFKC turns the last character into a
         * space plus a stripped accent: U+0384 GREEK TONOS -> " " U+0301) */
        int sp = nk > 0 && ends_in_space(in, size);
        int extra = np == nk + 1 && pre[nk] == ' ';
        if (np != nk + sp || (sp && !extra) || memcmp(pre, key, (size_t)nk))
            fuzz_fail("norm_prefix \"%.*s\" (%d) is not norm_key \"%.*s\" (%d)%s", np < 0 ? 0 : np, pre, np,
                      nk, key, nk, sp ? " plus a space" : "");
    }
    if (valid && np > 0) {
        int m = norm_match_len(in, size, pre, (size_t)np);
        if (m < 0 || (size_t)m > size)
            fuzz_fail("norm_match_len(x, norm_prefix(x)) = %d for a %zu-byte x: x does not match itself", m,
                      size);
    }
    if (size >= 1) {
        size_t split = data[0] % size;
        int m = norm_match_len(in, split, in + split, size - split);
        fuzz_assert(m >= -1 && (m < 0 || (size_t)m <= split));
    }
    free(key), free(pre), free(ev), free(disp), free(tmp);
    return 0;
}
