/* http.h -- the HTTP/1.1 layer of the server: request parsing and response
 * formatting, with no sockets (the server owns those; this file only turns
 * bytes into requests and replies into bytes).
 *
 * Parsing is http-parser 2.9 (Debian's libhttp-parser) plus the checks it does
 * not make. One http_conn per TCP connection:
 *
 *     read bytes --> http_conn_feed(c, data, len, cb, ud)
 *                      |  for every complete request, in order:
 *                      +--> cb(req, ud)       (req valid during cb only)
 *                      '--> returns 0, or an HTTP status when the stream is
 *                           broken (caller sends that error with
 *                           Connection: close, then closes)
 *
 * A request is accumulated in one per-connection arena (URL, header names and
 * values, body); when it is complete the path and the parameters are
 * percent-decoded into a second arena and the callback sees pointers into
 * both. Memory per connection is bounded by the limits: about
 * max_url_bytes + max_header_bytes + 2 * max_body_bytes, plus fixed tables.
 *
 * Two kinds of errors:
 *  - stream errors (framing is lost or a limit is hit): http_conn_feed returns
 *    the status (400, 413, 414, 431, 501, 503); the connection is dead and
 *    every later feed returns the same status without calling cb.
 *  - request errors (framing is fine, content is not: bad %-escape, %00,
 *    invalid UTF-8 after decoding, malformed form/JSON body, too many
 *    parameters): the request is still delivered, with req->error_status
 *    (400) and a stable error_code/error_message; the server answers that
 *    error and the connection stays usable.
 *
 * Request smuggling: two Content-Length headers (even equal), Content-Length
 * together with Transfer-Encoding, and any Transfer-Encoding other than a
 * single "chunked" are stream errors (400). NUL bytes in the request line or
 * headers are 400.
 *
 * After a request whose keep_alive is 0 has been delivered, the rest of the
 * stream is ignored (the server answers it with Connection: close and
 * closes); later feeds return 0 and call nothing.
 *
 * Responses are written into a qbuf (common/util.h): http_write_head for
 * any reply, http_write_json_error for the JSON error body. Functions that
 * write return 0 or -1 (allocation failure; the qbuf may then hold a partial
 * reply and should be reset).
 */
#ifndef QAC_HTTP_H
#define QAC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Limits, per connection. Defaults and hard caps: */
#define HTTP_DEFAULT_MAX_HEADER_BYTES (8 * 1024)  /* request head -> 431 */
#define HTTP_DEFAULT_MAX_URL_BYTES (4 * 1024)     /* request target -> 414 */
#define HTTP_DEFAULT_MAX_BODY_BYTES (64 * 1024)   /* body (decoded) -> 413 */
/* http-parser's own compile-time head limit: max_header_bytes may not
 * exceed it (http_limits_check says so). */
#define HTTP_MAX_HEADER_BYTES_CAP (80 * 1024)
#define HTTP_MAX_URL_BYTES_CAP (64 * 1024)
#define HTTP_MAX_BODY_BYTES_CAP (16 * 1024 * 1024)
/* Fixed table sizes: more header lines -> 431; more parameters (query plus
 * form/JSON body) -> request error 400 "too_many_params". */
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_PARAMS 64

typedef struct http_limits {
    size_t max_header_bytes; /* request line + header lines + blank line, as sent */
    size_t max_url_bytes;    /* the request target (path and query), as sent */
    size_t max_body_bytes;   /* body bytes after chunked decoding */
} http_limits;

/* Fills *lim with the HTTP_DEFAULT_MAX_* values. */
void http_limits_default(http_limits *lim);
/* NULL if *lim is usable, else a static message saying which limit is out
 * of range (zero or above its cap), for the config error. */
const char *http_limits_check(const http_limits *lim);

typedef enum http_req_method {
    HTTP_REQ_GET = 0,
    HTTP_REQ_POST,
    HTTP_REQ_HEAD,
    HTTP_REQ_OPTIONS,
    HTTP_REQ_OTHER, /* any other method http-parser knows (PUT, DELETE...): see method_name */
} http_req_method;

/* A name/value pair (header or parameter). Not NUL-terminated in general;
 * parameters are NUL-terminated (value[value_len] == 0) for convenience. */
typedef struct http_kv {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} http_kv;

/* A complete request. Every pointer is owned by the http_conn and valid only
 * during the callback: copy what you keep. */
typedef struct http_request {
    http_req_method method;
    const char *method_name; /* "GET", "PUT", ... (static string) */
    int http_major, http_minor;
    int keep_alive; /* http_should_keep_alive(): 0 -> answer with Connection: close */

    const char *path; /* percent-decoded, no query string, NUL-terminated */
    size_t path_len;
    const char *target; /* the raw request target as sent (path?query) */
    size_t target_len;

    /* Headers as sent (names and values not decoded; values trimmed of
     * surrounding blanks); look up with http_header. */
    const http_kv *headers;
    size_t nheaders;
    /* Query parameters, then form or JSON body fields, percent-decoded
     * (`+` -> space in query strings and forms); look up with http_param. */
    const http_kv *params;
    size_t nparams;

    const char *content_type; /* value of Content-Type, NULL when absent */
    size_t content_type_len;
    const char *body; /* after chunked decoding; NULL/0 when empty */
    size_t body_len;

    /* 0, or 400 when the request is well-framed but its content is bad; then
     * error_code (stable, e.g. "bad_escape", "invalid_utf8", "bad_body",
     * "too_many_params") and error_message (human-readable, static) say why,
     * and path/params may be incomplete. */
    int error_status;
    const char *error_code;
    const char *error_message;
} http_request;

/* Called once per complete request, in order. Return 0 to go on; any other
 * value stops parsing: http_conn_feed returns HTTP_FEED_STOPPED at once and
 * the connection must not be fed again (the unparsed rest is dropped). Do
 * not free the http_conn inside the callback. */
typedef int (*http_request_cb)(const http_request *req, void *ud);

#define HTTP_FEED_STOPPED (-1)

typedef struct http_conn http_conn;

/* A parser for one connection, with a copy of *lim (NULL = defaults). Returns
 * NULL on allocation failure or when http_limits_check(lim) fails. Free with
 * http_conn_free (NULL is a no-op). */
http_conn *http_conn_new(const http_limits *lim);
void http_conn_free(http_conn *c);

/* Feeds the next len bytes of the stream. Returns 0 (all consumed; a
 * partial request is kept for the next feed), HTTP_FEED_STOPPED (the callback
 * asked to stop), or an HTTP status for a broken stream: 400 malformed or
 * smuggling pattern, 413 body too large, 414 URL too long, 431 head too
 * large, 501 unsupported (CONNECT), 503 out of memory. After a status,
 * http_conn_error_code/http_conn_error give the code and message for the
 * JSON error body. */
int http_conn_feed(http_conn *c, const char *data, size_t len, http_request_cb cb, void *ud);
/* The stable code (e.g. "header_too_large", "smuggling") and the message
 * of the stream error, static strings, or NULL when there was none. */
const char *http_conn_error_code(const http_conn *c);
const char *http_conn_error(const http_conn *c);
/* 1 if the stream ended cleanly between requests (no partial request is
 * buffered), else 0: lets the server tell a clean EOF from a truncated
 * request. */
int http_conn_idle(const http_conn *c);

/* Looks up a parameter (first match, exact byte comparison of the decoded
 * name). Returns 1 and sets *val and *len (NUL-terminated) when found, else 0
 * (out parameters untouched). */
int http_param(const http_request *r, const char *name, const char **val, size_t *len);
/* Looks up a header by name, case-insensitively (first match). Returns 1 and
 * sets *val and *len (not NUL-terminated) when found, else 0. */
int http_header(const http_request *r, const char *name, const char **val, size_t *len);

/* --- responses ---------------------------------------------------------- */

/* The reason phrase of a status ("OK", "Not Found", ...; "Unknown" for codes
 * not in the table). Static string. */
const char *http_reason(int status);

typedef struct http_resp_opts {
    int keep_alive;          /* 1: Connection: keep-alive, 0: Connection: close */
    const char *cors_origin; /* Access-Control-Allow-Origin value; NULL = no CORS headers */
    int preflight;           /* with cors_origin: add Access-Control-Allow-Methods,
                              * -Allow-Headers and -Max-Age (OPTIONS answers) */
    const char *extra_headers; /* NULL, or complete lines each ending in "\r\n" */
    int head_only;           /* HEAD request: http_write_json_error counts the body
                              * in Content-Length but does not write it */
} http_resp_opts;

/* Values sent in preflight answers. */
#define HTTP_CORS_ALLOW_METHODS "GET, POST, OPTIONS"
#define HTTP_CORS_ALLOW_HEADERS "Content-Type, Authorization, X-Qac-Token"
#define HTTP_CORS_MAX_AGE "86400"

/* Appends the status line and headers up to and including the blank line:
 * "HTTP/1.1 <status> <reason>", Content-Type (omitted when content_type is
 * NULL), Content-Length (always), Connection, CORS headers per opts. For
 * HEAD, write this head with the length of the body a GET would get and
 * send no body. opts NULL = keep-alive, no CORS. Returns 0 or -1. */
int http_write_head(qbuf *b, int status, const char *content_type, size_t content_length,
                    const http_resp_opts *opts);

#define HTTP_JSON_CONTENT_TYPE "application/json; charset=utf-8"
/* /v1/suggest: the OpenSearch Suggestions media type */
#define HTTP_SUGGEST_CONTENT_TYPE "application/x-suggestions+json; charset=utf-8"

/* Appends a complete JSON error reply: head plus the body
 * {"error":{"code":"<code>","message":"<message>"}} (both strings escaped;
 * they must be valid UTF-8). With opts->head_only (HEAD requests) the body
 * is counted in Content-Length but not written. Returns 0 or -1. */
int http_write_json_error(qbuf *b, int status, const char *code, const char *message,
                          const http_resp_opts *opts);

/* --- access and methods (shared by `qac serve` and the merger) ------------ */

/* The token a request carries: `Authorization: Bearer T` or `X-Qac-Token: T`.
 * 1 when either header was given (*val, *len: the token; len 0 for another
 * scheme such as Basic, which is a wrong token), else 0. */
int http_auth_token(const http_request *r, const char **val, size_t *len);
/* The 401 answer of a route that needs requirepass: wrong (a token was given
 * and did not match: `invalid_token`) or none (`unauthorized`), each with its
 * WWW-Authenticate header; closing adds the auth-max-failures note (opts
 * should then say keep_alive 0). Returns 0 or -1. */
int http_write_unauthorized(qbuf *b, int wrong, int closing, const http_resp_opts *opts);
/* A route's method check: 0 when the method may go on (GET, HEAD, and POST
 * when post_ok); else writes the answer and returns its status: 204 for
 * OPTIONS (the CORS preflight, per opts->cors_origin), 405 with Allow for any
 * other method; -1 out of memory. */
int http_write_method_reply(qbuf *b, const http_request *r, int post_ok, const http_resp_opts *opts);

#endif
