/* fuzz_exec_reply.h -- reply parsing for fuzz_exec.c (included only there;
 * static functions, one translation unit).
 *
 * parse_reply reads one whole reply buffer as the answer to a request that
 * expects `want` (OK, an integer, a bulk score, a COMPLETE list, or any
 * well-formed value) in PROTO_TEXT or PROTO_RESP, and fails the run
 * (fuzz_fail) on anything malformed or left over. An error reply must be
 * "ERR CODE msg" (RESP "-ERR CODE msg", or "-NOAUTH msg" / "-WRONGPASS msg")
 * naming a code of proto.h; the code is returned in reply.code so callers
 * can tell a refusal by the ACCEPT guard (ERR_RATE) from a validation error.
 * Items of a list point into the buffer (valid until the next request).
 * expect_outcome / expect_score compare a parsed reply with a prediction.
 */
#ifndef QAC_FUZZ_EXEC_REPLY_H
#define QAC_FUZZ_EXEC_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/util.h"
#include "engine/proto/proto.h"
#include "trie/trie.h"
#include "tests/fuzz/fuzz_util.h"

enum { RP_OK, RP_INT, RP_BULK, RP_LIST, RP_ANY };

typedef struct item {
    const char *s, *sc; /* display; score text (NULL when not sent) */
    size_t n, scn;
} item;

typedef struct reply {
    const char *raw;   /* the whole reply (for messages) */
    size_t rawn;
    int err;           /* 1: an error reply */
    int code;          /* its ERR_* code (-1 when not an error) */
    const char *msg;   /* the error's text after the code */
    size_t msgn;
    int64_t ival;      /* RP_INT */
    const char *s;     /* RP_BULK */
    size_t n;
    size_t nitems;     /* RP_LIST */
    item it[TRIE_MAX_K];
} reply;

static void fmt_score(double v, char *buf) { buf[proto_fmt_score(buf, v)] = 0; }

static const char *line_end(const char *p, const char *end) {
    for (const char *q = p; q + 1 < end; q++)
        if (q[0] == '\r' && q[1] == '\n') return q;
    return NULL;
}

static int parse_int(const char *s, size_t n, int64_t *v) { return qparse_i64(s, n, v); }

/* The error line p[0..n) (without CRLF): its ERR_* code, text in r->msg. */
static void parse_error_line(const char *p, size_t n, int kind, reply *r) {
    const char *s = p;
    size_t l = n;
    if (kind == PROTO_RESP) {
        if (l < 1 || s[0] != '-') fuzz_fail("RESP error without '-'");
        s++, l--;
        if (l >= 7 && !memcmp(s, "NOAUTH ", 7)) {
            r->code = ERR_NOAUTH, r->msg = s + 7, r->msgn = l - 7;
            return;
        }
        if (l >= 10 && !memcmp(s, "WRONGPASS ", 10)) {
            r->code = ERR_WRONGPASS, r->msg = s + 10, r->msgn = l - 10;
            return;
        }
        if (l >= 8 && !memcmp(s, "NOPROTO ", 8)) {
            r->code = ERR_NOPROTO, r->msg = s + 8, r->msgn = l - 8;
            return;
        }
    }
    if (l < 4 || memcmp(s, "ERR ", 4)) fuzz_fail("error reply without 'ERR ': %.*s", (int)n, p);
    s += 4, l -= 4;
    for (int c = 0; c < ERR__COUNT; c++) {
        const char *name = proto_err_name(c);
        size_t nl = strlen(name);
        if (l > nl && !memcmp(s, name, nl) && s[nl] == ' ') {
            r->code = c, r->msg = s + nl + 1, r->msgn = l - nl - 1;
            return;
        }
    }
    fuzz_fail("error reply names no known code: %.*s", (int)n, p);
}

/* One RESP value at p (any type, arrays nested); returns its end or NULL. */
static const char *resp_value(const char *p, const char *end, int depth) {
    if (p >= end || depth > 4) return NULL;
    const char *le = line_end(p, end);
    if (!le) return NULL;
    int64_t v;
    switch (p[0]) {
    case '+': case '-': return le + 2;
    case '_': return le == p + 1 ? le + 2 : NULL; /* RESP3 null */
    case ':': return parse_int(p + 1, (size_t)(le - p - 1), &v) ? NULL : le + 2;
    case '$':
        if (le == p + 3 && !memcmp(p, "$-1", 3)) return le + 2; /* RESP2 null */
        if (parse_int(p + 1, (size_t)(le - p - 1), &v) || v < 0 || (size_t)(end - le - 2) < (size_t)v + 2) return NULL;
        if (le[2 + v] != '\r' || le[3 + v] != '\n') return NULL;
        return le + 4 + v;
    case '*': case '%': /* array; RESP3 map: v pairs */
        if (parse_int(p + 1, (size_t)(le - p - 1), &v) || v < 0 || v > 1000000) return NULL;
        if (p[0] == '%') v *= 2;
        p = le + 2;
        for (int64_t i = 0; i < v; i++)
            if (!(p = resp_value(p, end, depth + 1))) return NULL;
        return p;
    default: return NULL;
    }
}

/* Parses data[0..len) as the reply to a request expecting `want`; ws:
 * COMPLETE items carry scores (RESP with WITHSCORES; text always). Fails on
 * anything malformed or left over. */
static void parse_reply(const char *data, size_t len, int kind, int want, int ws, reply *r) {
    const char *p = data, *end = data + len;
    memset(r, 0, offsetof(reply, it));
    r->raw = data, r->rawn = len, r->code = -1;
    const char *le = line_end(p, end);
    if (!le) fuzz_fail("reply without CRLF");
    size_t l0 = (size_t)(le - p);
    if ((kind == PROTO_RESP && p[0] == '-') || (kind == PROTO_TEXT && l0 >= 4 && !memcmp(p, "ERR ", 4))) {
        parse_error_line(p, l0, kind, r);
        if (le + 2 != end) fuzz_fail("bytes after an error reply");
        r->err = 1;
        return;
    }
    if (want == RP_ANY) {
        if (kind == PROTO_RESP) {
            if (resp_value(p, end, 0) != end) fuzz_fail("malformed RESP reply");
        } else { /* "OK ..." on one line, or "OK n" and n more lines */
            if (l0 < 2 || memcmp(p, "OK", 2) || end[-2] != '\r' || end[-1] != '\n') fuzz_fail("malformed text reply");
            size_t lines = 0;
            for (const char *q = p; q < end; q = line_end(q, end) + 2) {
                if (!line_end(q, end)) fuzz_fail("text reply line without CRLF");
                lines++;
            }
            int64_t v;
            if (lines > 1 && (l0 < 4 || parse_int(p + 3, l0 - 3, &v) || (uint64_t)v != lines - 1))
                fuzz_fail("text list of %zu lines under head %.*s", lines - 1, (int)l0, p);
        }
        return;
    }
    if (want == RP_OK) {
        if (le + 2 != end || (kind == PROTO_RESP ? l0 != 3 || memcmp(p, "+OK", 3) : l0 != 2 || memcmp(p, "OK", 2)))
            fuzz_fail("expected OK, got %.*s", (int)len, data);
        return;
    }
    if (kind == PROTO_TEXT && (l0 < 3 || memcmp(p, "OK ", 3))) fuzz_fail("text reply without 'OK '");
    if (want == RP_INT) {
        if (le + 2 != end) fuzz_fail("bytes after an int reply");
        const char *s = kind == PROTO_RESP ? p + 1 : p + 3;
        if ((kind == PROTO_RESP && p[0] != ':') || parse_int(s, (size_t)(le - s), &r->ival))
            fuzz_fail("bad int reply %.*s", (int)l0, p);
        return;
    }
    if (want == RP_BULK) {
        if (kind == PROTO_TEXT) {
            if (le + 2 != end) fuzz_fail("bytes after a text bulk");
            r->s = p + 3, r->n = l0 - 3;
            return;
        }
        int64_t v;
        if (p[0] != '$' || parse_int(p + 1, l0 - 1, &v) || v < 0 || (size_t)(end - le - 2) != (size_t)v + 2 ||
            le[2 + v] != '\r' || le[3 + v] != '\n')
            fuzz_fail("bad RESP bulk");
        r->s = le + 2, r->n = (size_t)v;
        return;
    }
    /* RP_LIST: COMPLETE */
    int64_t v;
    const char *s = kind == PROTO_RESP ? p + 1 : p + 3;
    if ((kind == PROTO_RESP && p[0] != '*') || parse_int(s, (size_t)(le - s), &v) || v < 0)
        fuzz_fail("bad list head %.*s", (int)l0, p);
    size_t per = kind == PROTO_RESP && ws ? 2 : 1;
    if ((uint64_t)v % per || (uint64_t)v / per > TRIE_MAX_K) fuzz_fail("list of %lld elements", (long long)v);
    r->nitems = (size_t)v / per;
    p = le + 2;
    for (size_t i = 0; i < r->nitems; i++) {
        item *it = &r->it[i];
        it->sc = NULL, it->scn = 0;
        if (kind == PROTO_TEXT) {
            le = line_end(p, end);
            if (!le) fuzz_fail("text item without CRLF");
            const char *tab = NULL;
            for (const char *q = p; q < le; q++)
                if (*q == '\t') tab = q;
            if (!tab) fuzz_fail("text item without a tab");
            it->s = p, it->n = (size_t)(tab - p), it->sc = tab + 1, it->scn = (size_t)(le - tab - 1);
            p = le + 2;
            continue;
        }
        for (size_t j = 0; j < per; j++) {
            le = line_end(p, end);
            if (!le || p[0] != '$' || parse_int(p + 1, (size_t)(le - p - 1), &v) || v < 0 ||
                (size_t)(end - le - 2) < (size_t)v + 2 || le[2 + v] != '\r' || le[3 + v] != '\n')
                fuzz_fail("bad RESP list element");
            if (j == 0) it->s = le + 2, it->n = (size_t)v;
            else it->sc = le + 2, it->scn = (size_t)v;
            p = le + 4 + v;
        }
    }
    if (p != end) fuzz_fail("bytes after a list reply");
}

/* pred 1: must succeed; 0: must fail. */
static void expect_outcome(int pred, const reply *r, const char *what) {
    if (pred == 1 && r->err) fuzz_fail("%s refused, expected success: %.*s", what, (int)r->rawn, r->raw);
    if (pred == 0 && !r->err) fuzz_fail("%s succeeded, expected an error: %.*s", what, (int)r->rawn, r->raw);
}

/* A bulk reply must be the score v as proto_fmt_score writes it. */
static void expect_score(const reply *r, double v, const char *what) {
    char want[40];
    fmt_score(v, want);
    if (r->n != strlen(want) || memcmp(r->s, want, r->n))
        fuzz_fail("%s replied score %.*s, model has %s", what, (int)r->n, r->s, want);
}

#endif
