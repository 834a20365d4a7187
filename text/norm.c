/* text/norm.c -- text normalization (module text/; see text/norm.h for the forms).
 *
 * Two paths produce the same result:
 *   - ASCII fast path: when every input byte is < 0x80 one pass lower-cases,
 *     rejects controls and collapses white space straight into `out`; no
 *     allocation, no utf8proc. This is the common case for every keystroke.
 *   - Unicode path: utf8proc_decompose() into a code-point buffer (on the
 *     stack up to NORM_STACK_CP code points, else one malloc), then one
 *     filter pass (controls, white space, ignorables, accents), then
 *     utf8proc_normalize_utf32(COMPOSE) for the key form, then UTF-8 encoding.
 *
 * Key form = NFKC + full case folding + accent stripping. utf8proc's own
 * UTF8PROC_STRIPMARK removes every combining mark (Mn, Mc, Me), which also
 * destroys meaning outside Latin script: Devanagari vowel signs ("कि" ->
 * "क") and the Japanese voiced mark ("ガ" -> "カ") are marks. So we strip
 * only the marks that are accents: the combining diacritical blocks
 * (U+0300..036F, 1AB0..1AFF, 1DC0..1DFF, 20D0..20FF, FE20..FE2F) and the
 * optional Hebrew points and Arabic harakat; other marks stay and are
 * recomposed.
 *
 * White space is Unicode White_Space (TAB, LF, VT, FF, CR, space, NEL, NBSP,
 * U+1680, U+2000..200A, U+2028/2029, U+202F, U+205F, U+3000). Controls
 * (other C0, DEL, C1 except NEL) are rejected with NORM_ECONTROL. Invisible
 * format characters that only split a word (soft hyphen, zero-width space,
 * word joiner, BOM) are dropped in key form; ZWJ/ZWNJ are kept (emoji
 * sequences, Indic shaping).
 *
 * Invariant: every form is valid UTF-8, has no leading space, no run of two
 * spaces, and no trailing space (except the one kept by norm_prefix).
 */
#include "text/norm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/util.h"

#define NORM_STACK_CP 1024 /* code points decomposed without malloc */

enum { MODE_KEY, MODE_EVAL, MODE_DISPLAY };

const char *norm_strerror(int err) {
    switch (err) {
    case NORM_EUTF8: return "invalid UTF-8";
    case NORM_ETOOLONG: return "normalized text too long";
    case NORM_ECONTROL: return "control character";
    case NORM_ENOMEM: return "out of memory";
    default: return err >= 0 ? "ok" : "unknown normalization error";
    }
}

static int is_ws(int32_t c) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0d)) return 1;
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
           c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

static int is_ctrl(int32_t c) {
    return (c < 0x20 && !is_ws(c)) || c == 0x7f || (c >= 0x80 && c <= 0x9f && c != 0x85);
}

static int is_ignorable(int32_t c) { return c == 0xad || c == 0x200b || c == 0x2060 || c == 0xfeff; }

static int is_accent(int32_t c) {
    return (c >= 0x300 && c <= 0x36f) || (c >= 0x1ab0 && c <= 0x1aff) || (c >= 0x1dc0 && c <= 0x1dff) ||
           (c >= 0x20d0 && c <= 0x20ff) || (c >= 0xfe20 && c <= 0xfe2f) ||
           (c >= 0x591 && c <= 0x5c7 && c != 0x5be && c != 0x5c0 && c != 0x5c3 && c != 0x5c6) ||
           (c >= 0x64b && c <= 0x65f) || c == 0x670;
}

int norm_has_control(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c < 0x20 ? !(c == ' ' || (c >= 0x09 && c <= 0x0d)) : c == 0x7f) return 1;
        /* C1 controls are U+0080..U+009F = C2 80..C2 9F; NEL (C2 85) is space. */
        if (c == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f && p[i + 1] != 0x85) return 1;
    }
    return 0;
}

/* ASCII fast path. in[] is all < 0x80. */
static int norm_ascii(const unsigned char *in, size_t len, char *out, size_t cap, int lower, int keep_trailing) {
    size_t o = 0;
    int pend = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (c == ' ' || (c >= 0x09 && c <= 0x0d)) {
            pend = o > 0;
            continue;
        }
        if (c < 0x20 || c == 0x7f) return NORM_ECONTROL;
        if (pend) {
            if (o >= cap) return NORM_ETOOLONG;
            out[o++] = ' ';
            pend = 0;
        }
        if (o >= cap) return NORM_ETOOLONG;
        out[o++] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    if (pend && keep_trailing) {
        if (o >= cap) return NORM_ETOOLONG;
        out[o++] = ' ';
    }
    return (int)o;
}

/* 1 when the valid UTF-8 s[0..len) ends in a White_Space character. */
static int ends_in_ws(const char *s, size_t len) {
    size_t j = len;
    while (j > 0 && ((unsigned char)s[j - 1] & 0xc0) == 0x80) j--;
    if (j == 0) return 0;
    j--;
    utf8proc_int32_t c;
    if (utf8proc_iterate((const utf8proc_uint8_t *)s + j, (utf8proc_ssize_t)(len - j), &c) <= 0) return 0;
    return is_ws(c);
}

static int norm_unicode(const char *in, size_t len, char *out, size_t cap, int mode, int keep_trailing) {
    if (!qutf8_valid(in, len)) return NORM_EUTF8;
    int opts = UTF8PROC_STABLE;
    if (mode == MODE_KEY) opts |= UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_DECOMPOSE;
    if (mode == MODE_EVAL) opts |= UTF8PROC_CASEFOLD;
    utf8proc_int32_t stack[NORM_STACK_CP], *buf = stack;
    utf8proc_ssize_t n = utf8proc_decompose((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)len, buf,
                                            NORM_STACK_CP, (utf8proc_option_t)opts);
    if (n > NORM_STACK_CP) {
        buf = malloc((size_t)n * sizeof *buf);
        if (!buf) return NORM_ENOMEM;
        utf8proc_ssize_t m = utf8proc_decompose((const utf8proc_uint8_t *)in, (utf8proc_ssize_t)len, buf, n,
                                                (utf8proc_option_t)opts);
        if (m != n) n = m < 0 ? m : UTF8PROC_ERROR_OVERFLOW;
    }
    int rc;
    if (n < 0) {
        rc = n == UTF8PROC_ERROR_NOMEM ? NORM_ENOMEM : n == UTF8PROC_ERROR_OVERFLOW ? NORM_ETOOLONG : NORM_EUTF8;
        goto done;
    }
    /* Filter in place: controls, white space runs, ignorables, accents. */
    utf8proc_ssize_t w = 0;
    int pend = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        int32_t c = buf[i];
        if (is_ws(c)) {
            pend = w > 0;
            continue;
        }
        if (is_ctrl(c)) {
            rc = NORM_ECONTROL;
            goto done;
        }
        if (mode == MODE_KEY && (is_ignorable(c) || is_accent(c))) continue;
        if (pend) {
            buf[w++] = ' ';
            pend = 0;
        }
        buf[w++] = c;
    }
    if (mode == MODE_KEY) {
        w = utf8proc_normalize_utf32(buf, w, (utf8proc_option_t)(UTF8PROC_COMPOSE | UTF8PROC_STABLE));
        if (w < 0) {
            rc = NORM_ENOMEM;
            goto done;
        }
    }
    size_t o = 0;
    for (utf8proc_ssize_t i = 0; i < w; i++) {
        utf8proc_uint8_t tmp[4];
        utf8proc_ssize_t k = utf8proc_encode_char(buf[i], tmp);
        if (o + (size_t)k > cap) {
            rc = NORM_ETOOLONG;
            goto done;
        }
        memcpy(out + o, tmp, (size_t)k);
        o += (size_t)k;
    }
    /* The trailing space is kept only when the INPUT ends in white space:
     * NFKC can turn a last character into a space plus a stripped accent
     * (U+0384 GREEK TONOS -> " " U+0301), which is not the user typing a
     * space. */
    if (pend && keep_trailing && ends_in_ws(in, len)) {
        if (o >= cap) {
            rc = NORM_ETOOLONG;
            goto done;
        }
        out[o++] = ' ';
    }
    rc = o > INT32_MAX ? NORM_ETOOLONG : (int)o;
done:
    if (buf != stack) free(buf);
    return rc;
}

static int is_ascii(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++)
        if (p[i] >= 0x80) return 0;
    return 1;
}

static int norm_any(const char *in, size_t len, char *out, size_t cap, int mode, int keep_trailing) {
    if (len > INT32_MAX / NORM_MAX_GROWTH) return NORM_ETOOLONG;
    if (is_ascii(in, len))
        return norm_ascii((const unsigned char *)in, len, out, cap, mode != MODE_DISPLAY, keep_trailing);
    return norm_unicode(in, len, out, cap, mode, keep_trailing);
}

int norm_key(const char *in, size_t len, char *out, size_t cap) {
    return norm_any(in, len, out, cap, MODE_KEY, 0);
}

int norm_eval(const char *in, size_t len, char *out, size_t cap) {
    return norm_any(in, len, out, cap, MODE_EVAL, 0);
}

int norm_display(const char *in, size_t len, char *out, size_t cap) {
    return norm_any(in, len, out, cap, MODE_DISPLAY, 0);
}

/* Length of s without an incomplete final multi-byte character. */
static size_t drop_incomplete_tail(const char *s, size_t len) {
    if (len == 0) return 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = len - 1;
    unsigned k = 0;
    while (i > 0 && k < 3 && (p[i] & 0xc0) == 0x80) i--, k++;
    unsigned char lead = p[i];
    size_t need = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xc2 && lead <= 0xdf ? 2 : 1;
    if (need > 1 && len - i < need) return i;
    return len;
}

int norm_prefix(const char *in, size_t len, char *out, size_t cap) {
    return norm_any(in, drop_incomplete_tail(in, len), out, cap, MODE_KEY, 1);
}

const char *norm_form_name(int form) {
    return form == NORM_FORM_MATCH ? "match" : form == NORM_FORM_EVAL ? "eval" : "unknown";
}

int norm_form_parse(const char *name) {
    if (!strcmp(name, "match")) return NORM_FORM_MATCH;
    if (!strcmp(name, "eval")) return NORM_FORM_EVAL;
    return -1;
}

int norm_key_as(int form, const char *in, size_t len, char *out, size_t cap) {
    return form == NORM_FORM_EVAL ? norm_eval(in, len, out, cap) : norm_key(in, len, out, cap);
}

int norm_prefix_as(int form, const char *in, size_t len, char *out, size_t cap) {
    if (form == NORM_FORM_EVAL) return norm_any(in, drop_incomplete_tail(in, len), out, cap, MODE_EVAL, 1);
    return norm_prefix(in, len, out, cap);
}

static int is_mark(int32_t c) {
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
}

/* Byte offset of the last code point of combining class 0 in the valid
 * UTF-8 s[0..n), or 0 when there is none. */
static size_t last_starter(const char *s, size_t n) {
    size_t i = n;
    while (i > 0) {
        size_t j = i - 1;
        while (j > 0 && ((unsigned char)s[j] & 0xc0) == 0x80) j--;
        utf8proc_int32_t c;
        if (utf8proc_iterate((const utf8proc_uint8_t *)s + j, (utf8proc_ssize_t)(i - j), &c) <= 0) return 0;
        if (utf8proc_get_property(c)->combining_class == 0) return j;
        i = j;
    }
    return 0;
}

int norm_match_len(const char *display, size_t displen, const char *np, size_t nplen) {
    if (nplen == 0) return 0;
    if (displen > INT32_MAX / NORM_MAX_GROWTH) return -1;
    char stackbuf[2048];
    size_t cap = displen * NORM_MAX_GROWTH + 1;
    char *buf = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!buf) return -1;
    const utf8proc_uint8_t *d = (const utf8proc_uint8_t *)display;
    int result = -1;
    size_t pos = 0;
    while (pos < displen) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(d + pos, (utf8proc_ssize_t)(displen - pos), &c);
        if (k <= 0) break;
        pos += (size_t)k;
        int n = norm_prefix(display, pos, buf, cap);
        if (n < 0) break;
        if ((size_t)n >= nplen && !memcmp(buf, np, nplen)) {
            /* Extend over marks that belong to the last matched character. */
            while (pos < displen) {
                k = utf8proc_iterate(d + pos, (utf8proc_ssize_t)(displen - pos), &c);
                if (k <= 0 || !is_mark(c)) break;
                pos += (size_t)k;
            }
            result = (int)pos;
            break;
        }
        /* Early exit: once the normalized text diverges from np before its
         * last starter (a code point of combining class 0), it never matches
         * again. Later input can only change the text from the last starter
         * on: compose with it (e + U+0301, Hangul LV + T), reorder the marks
         * after it canonically (U+094D U+0951 + U+093C puts the nukta first),
         * or drop a trailing space. A starter blocks all of these for what
         * lies before it. */
        size_t stable = last_starter(buf, (size_t)n);
        size_t cmp = stable < nplen ? stable : nplen;
        if (memcmp(buf, np, cmp) != 0) break;
    }
    if (buf != stackbuf) free(buf);
    return result;
}
