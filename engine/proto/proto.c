/* proto.c -- text and RESP request parsing, reply encoding (see proto.h).
 *
 * The text parser follows Redis's sdssplitargs() for quoting, with two
 * differences: an unknown escape or a malformed \xHH is an error (Redis takes
 * it literally), and single quotes are ordinary bytes (queries contain
 * apostrophes). The RESP parser follows Redis's processMultibulkBuffer(): a
 * broken frame cannot be resynchronized, so every framing error is fatal.
 */
#include "engine/proto/proto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const err_names[ERR__COUNT] = {
    [ERR_SYNTAX] = "SYNTAX",   [ERR_UNKNOWN] = "UNKNOWN", [ERR_ARGS] = "ARGS",
    [ERR_TOOLONG] = "TOOLONG", [ERR_UTF8] = "UTF8",       [ERR_NOTFOUND] = "NOTFOUND",
    [ERR_LIMIT] = "LIMIT",     [ERR_IO] = "IO",           [ERR_NOMEM] = "NOMEM",
    [ERR_NOAUTH] = "NOAUTH",   [ERR_WRONGPASS] = "WRONGPASS", [ERR_RATE] = "RATE",
    [ERR_NOPROTO] = "NOPROTO",
};

const char *proto_err_name(int code) {
    return code >= 0 && code < ERR__COUNT ? err_names[code] : "INTERNAL";
}

void proto_parser_init(proto_parser *p, const proto_limits *lim, proto_arg *argv) {
    memset(p, 0, sizeof *p);
    p->lim = *lim;
    p->argv = argv;
    p->nexpect = -1;
}

static void reset(proto_parser *p) {
    p->scanned = 0;
    p->nexpect = -1;
}

static int fail(proto_parser *p, int code, const char *msg, size_t consumed, int fatal) {
    p->err = code;
    p->errmsg = msg;
    p->consumed = consumed;
    p->fatal = fatal;
    p->argc = 0;
    reset(p);
    return PROTO_ERR;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Splits line[0..n) (no newline) into words, unescaping quoted ones in place. */
static int split_line(proto_parser *p, char *line, size_t n, size_t consumed) {
    size_t i = 0;
    int argc = 0;
    for (;;) {
        while (i < n && is_blank(line[i])) i++;
        if (i == n) break;
        if (argc == p->lim.max_args) return fail(p, ERR_LIMIT, "too many arguments", consumed, 0);
        proto_arg *a = &p->argv[argc++];
        if (line[i] == '"') {
            size_t w = i, r = i + 1; /* write over the opening quote onwards */
            a->off = w;
            for (;;) {
                if (r == n) return fail(p, ERR_SYNTAX, "unterminated quoted string", consumed, 0);
                char c = line[r];
                if (c == '"') {
                    r++;
                    break;
                }
                if (c == '\\') {
                    if (r + 1 == n) return fail(p, ERR_SYNTAX, "unterminated quoted string", consumed, 0);
                    char e = line[r + 1];
                    r += 2;
                    switch (e) {
                    case '"': c = '"'; break;
                    case '\\': c = '\\'; break;
                    case 'n': c = '\n'; break;
                    case 't': c = '\t'; break;
                    case 'r': c = '\r'; break;
                    case 'x': {
                        int h = r < n ? hexval((unsigned char)line[r]) : -1;
                        int l = r + 1 < n ? hexval((unsigned char)line[r + 1]) : -1;
                        if (h < 0 || l < 0) return fail(p, ERR_SYNTAX, "bad \\x escape: need two hex digits", consumed, 0);
                        c = (char)(h * 16 + l);
                        r += 2;
                        break;
                    }
                    default: return fail(p, ERR_SYNTAX, "unknown escape in quoted string", consumed, 0);
                    }
                } else {
                    r++;
                }
                line[w++] = c;
            }
            if (r < n && !is_blank(line[r]))
                return fail(p, ERR_SYNTAX, "closing quote must be followed by a space", consumed, 0);
            a->len = w - a->off;
            i = r;
        } else {
            a->off = i;
            while (i < n && !is_blank(line[i])) i++;
            a->len = i - a->off;
        }
        a->p = line + a->off;
    }
    p->argc = argc;
    p->consumed = consumed;
    reset(p);
    return PROTO_DONE;
}

static int parse_text(proto_parser *p, char *buf, size_t len) {
    char *nl = p->scanned < len ? memchr(buf + p->scanned, '\n', len - p->scanned) : NULL;
    if (!nl) {
        p->scanned = len;
        /* +1: a full-length line may still be waiting for the \n of its \r\n */
        if (len > p->lim.max_line + 1)
            return fail(p, ERR_TOOLONG, "request line too long (no newline within max-line)", len, 1);
        return PROTO_MORE;
    }
    size_t n = (size_t)(nl - buf);
    size_t consumed = n + 1;
    if (n && buf[n - 1] == '\r') n--;
    if (n > p->lim.max_line) return fail(p, ERR_TOOLONG, "request line too long", consumed, 0);
    return split_line(p, buf, n, consumed);
}

/* Reads "<c><digits>\r\n" at buf[*pos]. Returns 1 with *val, 0 when more
 * bytes are needed, -1 when malformed (errmsg set). */
static int read_header(const char *buf, size_t len, size_t *pos, char c, long long *val,
                       const char **errmsg) {
    size_t i = *pos;
    if (i >= len) return 0;
    if (buf[i] != c) {
        *errmsg = c == '*' ? "expected '*'" : "expected '$' (RESP arrays must hold bulk strings)";
        return -1;
    }
    size_t avail = len - i;
    size_t lim = avail < PROTO_HEADER_MAX ? avail : PROTO_HEADER_MAX;
    const char *nl = memchr(buf + i, '\n', lim);
    if (!nl) {
        if (avail >= PROTO_HEADER_MAX) {
            *errmsg = "RESP length line too long";
            return -1;
        }
        return 0;
    }
    size_t e = (size_t)(nl - buf) - 1; /* where the \r must be */
    if (e <= i || buf[e] != '\r') {
        *errmsg = "RESP length line must end in \\r\\n";
        return -1;
    }
    int64_t v;
    if (qparse_i64(buf + i + 1, e - i - 1, &v) < 0) {
        *errmsg = "bad RESP length";
        return -1;
    }
    *val = v;
    *pos = e + 2;
    return 1;
}

static int parse_resp(proto_parser *p, char *buf, size_t len) {
    const char *msg = NULL;
    size_t pos = p->scanned;
    if (p->nexpect < 0) {
        long long n;
        pos = 0;
        int r = read_header(buf, len, &pos, '*', &n, &msg);
        if (r < 0) return fail(p, ERR_SYNTAX, msg, len, 1);
        if (r == 0) return PROTO_MORE;
        if (n < 0) return fail(p, ERR_SYNTAX, "negative RESP array length", len, 1);
        if (n > p->lim.max_args) return fail(p, ERR_LIMIT, "too many arguments (max-args)", len, 1);
        p->nexpect = (long)n;
        p->argc = 0;
        p->scanned = pos;
    }
    while (p->argc < p->nexpect) {
        long long blen;
        size_t at = pos;
        int r = read_header(buf, len, &at, '$', &blen, &msg);
        if (r < 0) return fail(p, ERR_SYNTAX, msg, len, 1);
        if (r == 0) return PROTO_MORE;
        if (blen < 0) return fail(p, ERR_SYNTAX, "negative bulk length", len, 1);
        if ((unsigned long long)blen > p->lim.max_bulk)
            return fail(p, ERR_LIMIT, "bulk string too long (max-bulk)", len, 1);
        if (len - at < (size_t)blen + 2) return PROTO_MORE;
        if (buf[at + blen] != '\r' || buf[at + blen + 1] != '\n')
            return fail(p, ERR_SYNTAX, "bulk string not followed by \\r\\n", len, 1);
        proto_arg *a = &p->argv[p->argc++];
        a->off = at;
        a->len = (size_t)blen;
        pos = at + (size_t)blen + 2;
        p->scanned = pos;
    }
    for (int i = 0; i < p->argc; i++) p->argv[i].p = buf + p->argv[i].off;
    p->consumed = pos;
    reset(p);
    return PROTO_DONE;
}

int proto_parse(proto_parser *p, char *buf, size_t len) {
    if (len == 0) return PROTO_MORE;
    p->kind = buf[0] == '*' ? PROTO_RESP : PROTO_TEXT; /* errors are answered in this framing */
    if (p->kind == PROTO_RESP) return parse_resp(p, buf, len);
    return parse_text(p, buf, len);
}

/* --- replies -------------------------------------------------------------- */

static int put_line(qbuf *out, const char *prefix, size_t plen, const char *s, size_t n) {
    if (qbuf_reserve(out, plen + n + 2) < 0) return -1;
    memcpy(out->data + out->len, prefix, plen);
    if (n) memcpy(out->data + out->len + plen, s, n);
    memcpy(out->data + out->len + plen + n, "\r\n", 2);
    out->len += plen + n + 2;
    return 0;
}

int proto_reply_ok(qbuf *out, int kind) {
    return kind == PROTO_RESP ? qbuf_append(out, "+OK\r\n", 5) : qbuf_append(out, "OK\r\n", 4);
}

int proto_reply_status(qbuf *out, int kind, const char *s) {
    return kind == PROTO_RESP ? put_line(out, "+", 1, s, strlen(s)) : put_line(out, "OK ", 3, s, strlen(s));
}

/* Decimal of v into buf (>= 21 bytes), right-aligned, returns start. */
static char *fmt_u64(char *end, uint64_t v) {
    char *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

static int put_prefixed_num(qbuf *out, const char *prefix, size_t plen, int64_t v) {
    char tmp[24], *end = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *s = fmt_u64(end, u);
    if (v < 0) *--s = '-';
    return put_line(out, prefix, plen, s, (size_t)(end - s));
}

int proto_reply_int(qbuf *out, int kind, int64_t v) {
    return kind == PROTO_RESP ? put_prefixed_num(out, ":", 1, v) : put_prefixed_num(out, "OK ", 3, v);
}

static int put_bulk(qbuf *out, const char *s, size_t len) {
    char tmp[24], *end = tmp + sizeof tmp;
    char *h = fmt_u64(end, len);
    *--h = '$';
    size_t hl = (size_t)(end - h);
    if (qbuf_reserve(out, hl + 2 + len + 2) < 0) return -1;
    char *w = out->data + out->len;
    memcpy(w, h, hl);
    memcpy(w + hl, "\r\n", 2);
    if (len) memcpy(w + hl + 2, s, len);
    memcpy(w + hl + 2 + len, "\r\n", 2);
    out->len += hl + 2 + len + 2;
    return 0;
}

int proto_reply_bulk(qbuf *out, int kind, const char *s, size_t len) {
    if (kind == PROTO_RESP) return put_bulk(out, s, len);
    size_t at = out->len + 3;
    if (put_line(out, "OK ", 3, s, len) < 0) return -1;
    /* a text reply is one line: control bytes (a quoted "\r\n" echoed by
     * PING) would let the request forge reply lines */
    for (size_t i = at; i < at + len; i++)
        if ((unsigned char)out->data[i] < 0x20 || out->data[i] == 0x7f) out->data[i] = '?';
    return 0;
}

int proto_reply_list_head(qbuf *out, int kind, uint64_t n) {
    return kind == PROTO_RESP ? put_prefixed_num(out, "*", 1, (int64_t)n)
                              : put_prefixed_num(out, "OK ", 3, (int64_t)n);
}

int proto_reply_item(qbuf *out, int kind, const char *s, size_t len) {
    return kind == PROTO_RESP ? put_bulk(out, s, len) : put_line(out, "", 0, s, len);
}

int proto_reply_null(qbuf *out, int kind, int resp3) {
    if (kind != PROTO_RESP) return qbuf_append(out, "OK\r\n", 4);
    return resp3 ? qbuf_append(out, "_\r\n", 3) : qbuf_append(out, "$-1\r\n", 5);
}

int proto_reply_map_head(qbuf *out, int kind, int resp3, uint64_t n) {
    if (kind == PROTO_RESP && resp3) return put_prefixed_num(out, "%", 1, (int64_t)n);
    return proto_reply_list_head(out, kind, 2 * n);
}

static void sanitize(char *dst, const char *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
}

int proto_reply_error_arg(qbuf *out, int kind, int code, const char *msg, const char *arg,
                          size_t arglen) {
    char line[256];
    const char *name = proto_err_name(code);
    int redis_own = kind == PROTO_RESP && (code == ERR_NOAUTH || code == ERR_WRONGPASS || code == ERR_NOPROTO);
    int n = redis_own ? snprintf(line, sizeof line, "-%s ", name)
                      : snprintf(line, sizeof line, "%sERR %s ", kind == PROTO_RESP ? "-" : "", name);
    size_t w = (size_t)n;
    size_t ml = strlen(msg);
    if (ml > 150) ml = 150;
    sanitize(line + w, msg, ml);
    w += ml;
    if (arg) {
        if (arglen > 64) arglen = 64;
        line[w++] = ' ';
        line[w++] = '\'';
        sanitize(line + w, arg, arglen);
        w += arglen;
        line[w++] = '\'';
    }
    return put_line(out, "", 0, line, w);
}

int proto_reply_error(qbuf *out, int kind, int code, const char *msg) {
    return proto_reply_error_arg(out, kind, code, msg, NULL, 0);
}

size_t proto_fmt_score(char *buf, double v) {
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        char tmp[24], *end = tmp + sizeof tmp;
        int64_t i = (int64_t)v; /* -0.0 prints as "0" */
        char *s = fmt_u64(end, i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i);
        if (i < 0) *--s = '-';
        size_t n = (size_t)(end - s);
        memcpy(buf, s, n);
        buf[n] = 0;
        return n;
    }
    /* The shortest of %.15g..%.17g that reads back exactly. */
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(buf, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v) return (size_t)n;
    }
    return 0; /* not reached */
}

int proto_reply_suggestion(qbuf *out, int kind, const char *disp, size_t displen, double score,
                           int withscores, int edits) {
    char num[32];
    if (kind == PROTO_RESP) { /* the score is formatted only when it is sent */
        if (put_bulk(out, disp, displen) < 0) return -1;
        if (withscores && put_bulk(out, num, proto_fmt_score(num, score)) < 0) return -1;
        return edits != PROTO_NO_EDITS ? proto_reply_int(out, kind, edits) : 0;
    }
    size_t nl = proto_fmt_score(num, score);
    char ed[8]; /* "\t" + a sign and at most 2 digits (TRIE_FUZZY_MAX_EDITS) */
    size_t el = edits != PROTO_NO_EDITS
                    ? (size_t)snprintf(ed, sizeof ed, "\t%d", edits > 99 ? 99 : edits < -99 ? -99 : edits)
                    : 0;
    if (qbuf_reserve(out, displen + 1 + nl + el + 2) < 0) return -1;
    char *w = out->data + out->len;
    memcpy(w, disp, displen);
    w[displen] = '\t';
    memcpy(w + displen + 1, num, nl);
    if (el) memcpy(w + displen + 1 + nl, ed, el);
    memcpy(w + displen + 1 + nl + el, "\r\n", 2);
    out->len += displen + 1 + nl + el + 2;
    return 0;
}

size_t proto_match_fmt(char *buf, uint32_t end, int nw, const uint32_t *ws, const uint32_t *we) {
    int n = snprintf(buf, PROTO_MATCH_MAX, "%u", end);
    for (int i = 0; i < nw && i < 16; i++)
        n += snprintf(buf + n, PROTO_MATCH_MAX - (size_t)n, " %u-%u", ws[i], we[i]);
    return (size_t)n;
}

/* A decimal uint32 at *p (advanced); -1 when none or too big. */
static int match_num(const char **p, const char *end, uint32_t *v) {
    uint64_t x = 0;
    const char *s = *p;
    while (*p < end && **p >= '0' && **p <= '9' && x <= UINT32_MAX) x = x * 10 + (uint64_t)(*(*p)++ - '0');
    if (*p == s || x > UINT32_MAX) return -1;
    *v = (uint32_t)x;
    return 0;
}

int proto_match_parse(const char *s, size_t len, uint32_t *end, uint32_t *ws, uint32_t *we, int cap) {
    const char *p = s, *e = s + len;
    int n = 0;
    if (match_num(&p, e, end) < 0) return -1;
    while (p < e) {
        if (*p++ != ' ' || n == cap || match_num(&p, e, &ws[n]) < 0 || p == e || *p++ != '-' ||
            match_num(&p, e, &we[n]) < 0 || we[n] < ws[n])
            return -1;
        n++;
    }
    return n;
}

int proto_reply_match(qbuf *out, int kind, const char *s, size_t len) {
    if (kind == PROTO_RESP) return put_bulk(out, s, len);
    /* the suggestion's line ends in "\r\n": the field goes before it */
    if (out->len < 2 || qbuf_reserve(out, len + 1) < 0) return -1;
    out->len -= 2;
    out->data[out->len++] = '\t';
    memcpy(out->data + out->len, s, len);
    out->len += len;
    memcpy(out->data + out->len, "\r\n", 2);
    out->len += 2;
    return 0;
}
