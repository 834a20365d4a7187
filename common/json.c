/* json.c -- JSON writers for the server's replies and the tools' reports,
 * and a strict flat-object parser for request bodies (see json.h for the
 * contract).
 *
 * Writers: json_str escapes with a 256-entry class table so the common case
 * (printable ASCII and UTF-8 continuation bytes) copies runs with one
 * memcpy. json_double prints integers (|v| <= 2^53) through qbuf_putu64,
 * values in [1e-6, 1e15) with an exact integer-arithmetic round-trip check
 * (no printf, no strtod), and the rest with the shortest %.15g/%.16g/%.17g
 * that reads back exactly. Values that need all 17 digits would still cost
 * a printf, so the completion reply writes scores with json_double15 (at
 * most 15 significant digits, never printf in the fast range): about 10x
 * faster on a ranker's "ugly" doubles. json_fixed is printf's %.*f (reports
 * only, never on the completion path).
 *
 * Parser: one pass over the input after a whole-input qutf8_valid check, so
 * string contents need no per-byte UTF-8 work. The store is reserved up front
 * (decoded text is never longer than its source, plus one NUL per key and
 * value), so it never moves while field pointers into it are handed out.
 */
#include "common/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 0: copy as is; 1: needs escaping. */
static const unsigned char json_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

int json_str(qbuf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    /* Worst case 6 bytes per input byte plus quotes: reserve once. */
    if (len > (SIZE_MAX - 2) / 6 || qbuf_reserve(b, len * 6 + 2) < 0) return -1;
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && !json_esc[(unsigned char)s[j]]) j++;
        if (j > i) {
            memcpy(o, s + i, j - i);
            o += j - i;
            i = j;
            if (i == len) break;
        }
        unsigned char c = (unsigned char)s[i++];
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u', *o++ = '0', *o++ = '0';
            *o++ = hex[c >> 4], *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

/* Exact powers of ten (every one up to 1e22 is representable). */
static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Writes d * 10^-s in plain decimal notation (d > 0), trailing zeros of
 * the fraction dropped. Returns the length. */
static size_t put_decimal(char *out, int neg, uint64_t d, int s) {
    while (s > 0 && d % 10 == 0) d /= 10, s--;
    char dig[24];
    int nd = 0;
    do dig[nd++] = (char)('0' + d % 10), d /= 10; while (d);
    /* dig holds the digits reversed */
    char *o = out;
    if (neg) *o++ = '-';
    if (nd > s) {
        for (int i = nd - 1; i >= s; i--) *o++ = dig[i];
    } else {
        *o++ = '0';
    }
    if (s > 0) {
        *o++ = '.';
        for (int i = s - 1; i >= nd; i--) *o++ = '0';
        for (int i = (nd < s ? nd : s) - 1; i >= 0; i--) *o++ = dig[i];
    }
    return (size_t)(o - out);
}

/* Fast path for 1e-6 <= |v| < 1e15. Finds digits d and scale s with
 * d / 10^s == v, trying 15 then 16 significant digits. The check is exact:
 * d < 2^53 and 10^s are both exact doubles, so the IEEE division is the
 * correctly rounded quotient, which is what strtod returns for "d e-s".
 * When neither reads back: with exact, returns 0 (caller uses printf's
 * 17 digits); without, writes the 15-digit rounding. Returns the length
 * written to out, or 0 when the fast path does not apply. */
static size_t fmt_double_fast(char *out, double v, int exact) {
    double a = fabs(v);
    if (!(a >= 1e-6 && a < 1e15)) return 0;
    int e = 0; /* about floor(log10(a)); off by one only costs a digit */
    if (a >= 1) {
        while (e < 15 && a >= pow10_tab[e + 1]) e++;
    } else {
        e = -1;
        while (e > -7 && a * pow10_tab[-e] < 1.0) e--;
    }
    uint64_t d15 = 0;
    int s15 = 0;
    for (int p = 15; p <= 16; p++) {
        int s = p - 1 - e;
        if (s < 0 || s > 22) return 0;
        double x = a * pow10_tab[s];
        if (x >= 9007199254740992.0) break;
        uint64_t d = (uint64_t)(x + 0.5);
        if (p == 15) d15 = d, s15 = s;
        if (d && (double)d / pow10_tab[s] == a) return put_decimal(out, v < 0, d, s);
    }
    if (exact || !d15) return 0;
    return put_decimal(out, v < 0, d15, s15);
}

static int put_double(qbuf *b, double v, int exact) {
    if (!isfinite(v)) return qbuf_append(b, "null", 4);
    if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
        if (v < 0 && qbuf_putc(b, '-') < 0) return -1;
        return qbuf_putu64(b, (uint64_t)fabs(v));
    }
    char tmp[40];
    size_t n = fmt_double_fast(tmp, v, exact);
    if (n) return qbuf_append(b, tmp, n);
    /* 17-digit values and magnitudes outside the fast range. */
    for (int prec = 15; prec <= 17; prec++) {
        int k = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec == 17 || strtod(tmp, NULL) == v) return qbuf_append(b, tmp, (size_t)k);
    }
    return -1; /* not reached: prec 17 always returns */
}

int json_double(qbuf *b, double v) { return put_double(b, v, 1); }
int json_double15(qbuf *b, double v) { return put_double(b, v, 0); }

int json_fixed(qbuf *b, double v, int decimals) {
    if (!isfinite(v)) return qbuf_append(b, "null", 4);
    if (decimals < 0) decimals = 0;
    if (decimals > JSON_FIXED_MAX_DECIMALS) decimals = JSON_FIXED_MAX_DECIMALS;
    return qbuf_printf(b, "%.*f", decimals, v);
}

int json_write_suggestions(qbuf *b, const char *prefix, size_t plen, const json_suggestion *s, size_t n,
                           int truncated, uint64_t took_us) {
    if (qbuf_append(b, "{\"prefix\":", 10) < 0 || json_str(b, prefix, plen) < 0 ||
        qbuf_append(b, ",\"suggestions\":[", 16) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((i && qbuf_putc(b, ',') < 0) || qbuf_append(b, "{\"text\":", 8) < 0 ||
            json_str(b, s[i].text, s[i].textlen) < 0 || qbuf_append(b, ",\"score\":", 9) < 0 ||
            json_double15(b, s[i].score) < 0 || qbuf_append(b, ",\"match\":[", 10) < 0 ||
            qbuf_putu64(b, s[i].match_start) < 0 || qbuf_putc(b, ',') < 0 ||
            qbuf_putu64(b, s[i].match_end) < 0 || qbuf_putc(b, ']') < 0 ||
            (s[i].has_edits && (qbuf_append(b, ",\"edits\":", 9) < 0 || qbuf_putu64(b, s[i].edits) < 0)))
            return -1;
        if (s[i].has_words) {
            if (qbuf_append(b, ",\"words\":[", 10) < 0) return -1;
            for (unsigned j = 0; j < s[i].nwords; j++)
                if ((j && qbuf_putc(b, ',') < 0) || qbuf_putc(b, '[') < 0 || qbuf_putu64(b, s[i].word_start[j]) < 0 ||
                    qbuf_putc(b, ',') < 0 || qbuf_putu64(b, s[i].word_end[j]) < 0 || qbuf_putc(b, ']') < 0)
                    return -1;
            if (qbuf_putc(b, ']') < 0) return -1;
        }
        if (s[i].generated && qbuf_append(b, ",\"generated\":true", 17) < 0) return -1;
        if (qbuf_putc(b, '}') < 0) return -1;
    }
    if (qbuf_putc(b, ']') < 0 || (truncated && qbuf_append(b, ",\"truncated\":true", 17) < 0) ||
        qbuf_append(b, ",\"took_us\":", 11) < 0 || qbuf_putu64(b, took_us) < 0 || qbuf_putc(b, '}') < 0)
        return -1;
    return 0;
}

int json_write_opensearch(qbuf *b, const char *prefix, size_t plen, const json_suggestion *s, size_t n) {
    if (qbuf_putc(b, '[') < 0 || json_str(b, prefix, plen) < 0 || qbuf_append(b, ",[", 2) < 0) return -1;
    for (size_t i = 0; i < n; i++)
        if ((i && qbuf_putc(b, ',') < 0) || json_str(b, s[i].text, s[i].textlen) < 0) return -1;
    return qbuf_append(b, "],[],[]]", 8);
}

/* --- flat object parser -------------------------------------------------- */

typedef struct jp {
    const char *s;
    size_t len, pos;
    char *out; /* write cursor in the store */
    const char *err;
} jp;

static void jp_ws(jp *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int jp_fail(jp *p, const char *msg) {
    p->err = msg;
    return -1;
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | cp >> 18);
        *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* At the opening quote. Decodes into p->out, NUL-terminates. */
static int jp_string(jp *p, const char **val, size_t *vlen) {
    p->pos++; /* '"' */
    char *start = p->out, *o = p->out;
    for (;;) {
        if (p->pos >= p->len) return jp_fail(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) return jp_fail(p, "control character in string (escape it)");
        if (c != '\\') {
            *o++ = (char)c;
            p->pos++;
            continue;
        }
        if (p->pos + 1 >= p->len) return jp_fail(p, "unterminated string");
        char e = p->s[p->pos + 1];
        p->pos += 2;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (p->pos + 4 > p->len || hex4(p->s + p->pos, &cp) < 0)
                return jp_fail(p, "bad \\u escape (needs 4 hex digits)");
            p->pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return jp_fail(p, "lone low surrogate in \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->pos + 6 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    hex4(p->s + p->pos + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return jp_fail(p, "high surrogate not followed by a low surrogate");
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o = put_utf8(o, cp);
            break;
        }
        default:
            p->pos--; /* point at the bad escape letter */
            return jp_fail(p, "bad escape in string");
        }
    }
    *val = start;
    *vlen = (size_t)(o - start);
    *o++ = 0;
    p->out = o;
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int jp_number(jp *p) {
    const char *s = p->s;
    size_t i = p->pos, n = p->len;
    if (i < n && s[i] == '-') i++;
    if (i >= n || !is_digit(s[i])) return jp_fail(p, "bad number");
    if (s[i] == '0') {
        i++;
        if (i < n && is_digit(s[i])) return jp_fail(p, "bad number (leading zero)");
    } else {
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i])) return jp_fail(p, "bad number (digit expected after '.')");
        while (i < n && is_digit(s[i])) i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= n || !is_digit(s[i])) return jp_fail(p, "bad number (digit expected in exponent)");
        while (i < n && is_digit(s[i])) i++;
    }
    p->pos = i;
    return 0;
}

static int jp_literal(jp *p, const char *word) {
    size_t wl = strlen(word);
    if (p->len - p->pos < wl || memcmp(p->s + p->pos, word, wl)) return jp_fail(p, "unexpected character");
    p->pos += wl;
    return 0;
}

static int jp_value(jp *p, json_field *f) {
    if (p->pos >= p->len) return jp_fail(p, "value expected");
    char c = p->s[p->pos];
    size_t start = p->pos;
    if (c == '"') {
        f->type = JSON_STRING;
        return jp_string(p, &f->val, &f->val_len);
    }
    if (c == '{' || c == '[') return jp_fail(p, "nested objects and arrays are not supported");
    if (c == '-' || is_digit(c)) {
        f->type = JSON_NUMBER;
        if (jp_number(p) < 0) return -1;
    } else if (c == 't') {
        f->type = JSON_TRUE;
        if (jp_literal(p, "true") < 0) return -1;
    } else if (c == 'f') {
        f->type = JSON_FALSE;
        if (jp_literal(p, "false") < 0) return -1;
    } else if (c == 'n') {
        f->type = JSON_NULL;
        if (jp_literal(p, "null") < 0) return -1;
    } else {
        return jp_fail(p, "unexpected character (value expected)");
    }
    size_t n = p->pos - start;
    memcpy(p->out, p->s + start, n);
    f->val = p->out;
    f->val_len = n;
    p->out[n] = 0;
    p->out += n + 1;
    return 0;
}

static int jp_object(jp *p, json_field *fields, size_t max_fields) {
    size_t nf = 0;
    jp_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '{') return jp_fail(p, "a JSON object ('{') expected");
    p->pos++;
    jp_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            jp_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') return jp_fail(p, "a string key expected");
            if (nf == max_fields) return jp_fail(p, "too many fields");
            json_field *f = &fields[nf];
            if (jp_string(p, &f->key, &f->key_len) < 0) return -1;
            jp_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') return jp_fail(p, "':' expected after key");
            p->pos++;
            jp_ws(p);
            if (jp_value(p, f) < 0) return -1;
            for (size_t k = 0; k < nf; k++)
                if (fields[k].key_len == f->key_len && !memcmp(fields[k].key, f->key, f->key_len))
                    return jp_fail(p, "duplicate key");
            nf++;
            jp_ws(p);
            if (p->pos >= p->len) return jp_fail(p, "unterminated object");
            if (p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->s[p->pos] == '}') {
                p->pos++;
                break;
            }
            return jp_fail(p, "',' or '}' expected");
        }
    }
    jp_ws(p);
    if (p->pos != p->len) return jp_fail(p, "trailing characters after the object");
    return (int)nf;
}

int json_parse_flat(const char *src, size_t len, qbuf *store, json_field *fields, size_t max_fields,
                    const char **err, size_t *err_off) {
    jp p = {.s = src, .len = len, .pos = 0, .err = NULL};
    qbuf_reset(store);
    if (!qutf8_valid(src, len)) {
        p.err = "invalid UTF-8";
        goto fail;
    }
    if (max_fields > (size_t)INT32_MAX) max_fields = INT32_MAX;
    /* Decoded text never outgrows its source; +2 NULs per field. */
    size_t need = len + 2 * max_fields + 1;
    if (need < len || qbuf_reserve(store, need) < 0) return -2;
    p.out = store->data;
    int n = jp_object(&p, fields, max_fields);
    if (n >= 0) {
        store->len = (size_t)(p.out - store->data);
        return n;
    }
fail:
    if (err) *err = p.err;
    if (err_off) *err_off = p.pos;
    return -1;
}
