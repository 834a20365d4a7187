/* proto.h -- the qac wire protocol: request parsing and reply encoding.
 *
 * Pure code: no sockets, no trie. The server hands proto_parse() the bytes a
 * connection has buffered; proto_parse() says "need more", "here is one
 * request" or "this request is bad", and how many bytes it used. Replies are
 * appended to a qbuf by the proto_reply_* encoders. docs/PROTOCOL.md is the
 * user-facing specification; this header is the implementer's view.
 *
 * Two framings, chosen per request by its first byte:
 *
 *   text (telnet-style):   COMPLETE "new yo" LIMIT 5\r\n
 *       one line ending in \n (a \r before it is dropped); words separated by
 *       spaces/tabs; a word may be double-quoted with \" \\ \t \n \r \xHH
 *       escapes (as Redis inline commands). Quoted words are unescaped in
 *       place: the decoded bytes overwrite the raw ones (decoding only ever
 *       shortens), so arguments point into the caller's buffer and nothing is
 *       allocated. A single quote is an ordinary byte ("don't" is one word).
 *       An empty (or all-blank) line is a request with argc == 0: ignore it.
 *
 *   RESP (first byte '*'):  *2\r\n$8\r\nCOMPLETE\r\n$2\r\nne\r\n
 *       an array of bulk strings, as every Redis client sends. Arguments point
 *       at the bulk payloads in the caller's buffer (not NUL-terminated).
 *
 * Resumable parsing: a request split across reads is not re-scanned from the
 * start on every read. The parser remembers how far it got (text: bytes
 * searched for the newline; RESP: elements complete) as offsets from the
 * start of the request, so the caller may move or grow its buffer between
 * calls as long as the pending request stays at the start of `buf` and the
 * bytes already given are unchanged. Work per request is linear in its size.
 *
 * Errors: proto_parse returns PROTO_ERR with p->err (an ERR_* code), a
 * constant message, p->consumed (the bytes to drop) and p->fatal. A fatal
 * error means the stream cannot be resynchronized (RESP framing broken, a
 * text line over the limit with no newline in sight): reply, then close.
 * A non-fatal error (bad escape, an over-long line whose newline did arrive)
 * drops just that request; the connection stays usable.
 *
 * Limits (each also a setting of `qac serve`, see engine/config.h):
 *   PROTO_MAX_LINE  text line length, excluding the \r\n       (max-line)
 *   PROTO_MAX_ARGS  arguments in one RESP array                 (max-args)
 *   PROTO_MAX_BULK  length of one RESP bulk string              (max-bulk)
 */
#ifndef QAC_PROTO_H
#define QAC_PROTO_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define PROTO_MAX_LINE 4096
#define PROTO_MAX_ARGS 32
#define PROTO_MAX_BULK 4096
#define PROTO_ARGS_CAP 1024  /* ceiling for the max-args setting */
#define PROTO_HEADER_MAX 24  /* "*<n>\r\n" / "$<n>\r\n" lines longer than this are garbage */

/* Stable error codes, shared by the whole engine (their names are the wire
 * codes: "ERR UTF8 ..."). Keep in sync with proto_err_name(). */
enum {
    ERR_SYNTAX = 0, /* malformed request: quoting, escapes, RESP framing, control chars */
    ERR_UNKNOWN,    /* unknown command */
    ERR_ARGS,       /* wrong number of arguments, unknown option, bad number */
    ERR_TOOLONG,    /* line or value over its length limit */
    ERR_UTF8,       /* invalid UTF-8 */
    ERR_NOTFOUND,   /* no such query */
    ERR_LIMIT,      /* a configured limit: max-k, max-args, max-bulk, max-clients */
    ERR_IO,         /* SAVE failed */
    ERR_NOMEM,      /* allocation failed; nothing changed */
    ERR_NOAUTH,     /* requirepass is set and this connection has not sent AUTH */
    ERR_WRONGPASS,  /* AUTH with a wrong password */
    ERR_RATE,       /* a client over its ACCEPT rate (engine/guard.h); retry later */
    ERR_NOPROTO,    /* HELLO with a protocol version other than 2 or 3 */
    ERR__COUNT
};
const char *proto_err_name(int code);
/* NOAUTH, WRONGPASS and NOPROTO are Redis's own error prefixes: in RESP they
 * are sent as "-NOAUTH ..." / "-WRONGPASS ..." / "-NOPROTO ..." (what Redis
 * clients match on), in the text protocol as "ERR NOAUTH ..." like every
 * other code. */

enum { PROTO_TEXT = 0, PROTO_RESP = 1 };

#define PROTO_MORE 0  /* need more bytes */
#define PROTO_DONE 1  /* one request parsed */
#define PROTO_ERR (-1)

typedef struct proto_arg {
    const char *p; /* into the caller's buffer; valid until it changes */
    size_t len;
    size_t off; /* internal: offset of p from the request start */
} proto_arg;

typedef struct proto_limits {
    size_t max_line;
    int max_args; /* 1..PROTO_ARGS_CAP */
    size_t max_bulk;
} proto_limits;

typedef struct proto_parser {
    proto_limits lim;
    proto_arg *argv; /* caller-owned array of lim.max_args entries */
    /* results (valid after PROTO_DONE / PROTO_ERR) */
    int kind;        /* PROTO_TEXT or PROTO_RESP */
    int argc;
    size_t consumed; /* bytes of buf this request used */
    int err;         /* ERR_* when PROTO_ERR */
    int fatal;       /* close the connection after replying */
    const char *errmsg;
    /* resume state */
    size_t scanned; /* text: bytes searched for '\n'; RESP: offset of the next element */
    long nexpect;   /* RESP: element count of the array, -1 = header not read yet */
} proto_parser;

/* argv must hold lim->max_args entries; it is owned by the caller. */
void proto_parser_init(proto_parser *p, const proto_limits *lim, proto_arg *argv);

/* Parses one request at the start of buf[0..len). Text requests are
 * unescaped in place (buf is modified only once the whole line is there).
 * Returns PROTO_MORE (nothing consumed; call again with more bytes),
 * PROTO_DONE (p->argc, p->argv, p->consumed) or PROTO_ERR (see above). After
 * PROTO_DONE/PROTO_ERR the caller drops p->consumed bytes and calls again. */
int proto_parse(proto_parser *p, char *buf, size_t len);

/* --- reply encoding ---------------------------------------------------------
 * All append to `out` and return 0, or -1 when allocation fails (the buffer
 * may then hold part of the reply; the caller closes the connection).
 *
 *               text                 RESP
 *   ok          OK                   +OK
 *   status s    OK s                 +s
 *   int n       OK n                 :n
 *   bulk s      OK s                 $len s          (s must not hold \r\n in text)
 *   list_head n OK n                 *n
 *   item s      s                    $len s          (one list element)
 *   error       ERR CODE msg         -ERR CODE msg   (msg: control bytes become '?')
 */
int proto_reply_ok(qbuf *out, int kind);
int proto_reply_status(qbuf *out, int kind, const char *s);
int proto_reply_int(qbuf *out, int kind, int64_t v);
int proto_reply_bulk(qbuf *out, int kind, const char *s, size_t len);
int proto_reply_list_head(qbuf *out, int kind, uint64_t n);
int proto_reply_item(qbuf *out, int kind, const char *s, size_t len);
int proto_reply_error(qbuf *out, int kind, int code, const char *msg);
/* RESP3 (a connection that said HELLO 3) differs from RESP2 only in what
 * qac sends with these two; every other reply is the same bytes:
 *               text        RESP2       RESP3
 *   null        OK          $-1         _
 *   map_head n  OK 2n       *2n         %n       (then n key, value pairs)  */
int proto_reply_null(qbuf *out, int kind, int resp3);
int proto_reply_map_head(qbuf *out, int kind, int resp3, uint64_t n);
/* An error whose message quotes client text: "<msg> '<arg>'" with arg cut to
 * 64 bytes and control bytes replaced. */
int proto_reply_error_arg(qbuf *out, int kind, int code, const char *msg, const char *arg,
                          size_t arglen);
/* A COMPLETE element. text: "display\tscore" ("display\tscore\tedits" when
 * edits is not PROTO_NO_EDITS: WITHEDITS; a negative count is a hit of the
 * edit class a work limit cut); RESP: $display, then $score when
 * withscores, then :edits unless PROTO_NO_EDITS. */
#define PROTO_NO_EDITS INT_MIN
int proto_reply_suggestion(qbuf *out, int kind, const char *disp, size_t displen, double score,
                           int withscores, int edits);

/* COMPLETE ... WITHMATCH (what a merger needs to highlight as one server's
 * HTTP answer does, docs/PROTOCOL.md): the highlight of one suggestion as
 * text, "E" -- the end of the display bytes the typed text matched (0: none)
 * -- and, for an INFIX request, " S-E" per matched word in typed order:
 * "5", "0 0-3 9-14" (a typo match of INFIX: "0" or "E" alone). At most
 * PROTO_MATCH_MAX bytes. proto_match_fmt writes it into buf (cap >=
 * PROTO_MATCH_MAX) and returns its length; nw < 0: no word list.
 * proto_match_parse reads one back (at most cap words; -1 on anything else
 * than that grammar); returns the word count. proto_reply_match appends it
 * after a proto_reply_suggestion: RESP one more bulk element, text one more
 * tab-separated field of that suggestion's line. */
#define PROTO_MATCH_MAX 400 /* 1 + 16 words (TRIE_WORDS_MAX_TYPED) of " S-E", each number < 2^32 */
size_t proto_match_fmt(char *buf, uint32_t end, int nw, const uint32_t *ws, const uint32_t *we);
int proto_match_parse(const char *s, size_t len, uint32_t *end, uint32_t *ws, uint32_t *we, int cap);
int proto_reply_match(qbuf *out, int kind, const char *s, size_t len);

/* Shortest decimal text of a score into buf (>= 32 bytes); returns its
 * length. Integral values below 2^53 are printed without printf (the common
 * case: popularity counts); others with %.17g trimmed to round-trip. */
size_t proto_fmt_score(char *buf, double v);

#endif
