/* http.c -- HTTP/1.1 request parsing on http-parser 2.9, and reply heads.
 *
 * Layout of one connection (struct http_conn):
 *
 *   raw (qbuf)  [ request target | name value name value ... | body ]
 *                 url_len          hdr[i].{name,val}_{off,len}  body_off
 *   dec (qbuf)  [ path\0 | name\0value\0 ... ]   decoded at message end
 *   jstore      decoded JSON body fields (json_parse_flat's store)
 *
 * Everything a request points to lives in these buffers, which are reset
 * after the callback and freed when they grew past HTTP_KEEP_BYTES, so an
 * idle keep-alive connection holds little memory.
 * Offsets, not pointers, are kept while bytes arrive (the buffers move as
 * they grow); pointers are made only when the request is complete.
 *
 * Limits: the head (request line, headers, blank line, as counted by
 * http-parser's nread) is capped with http_parser_set_max_header_size, set
 * before every http_parser_execute call because it is process-global in 2.9
 * (one thread, so setting it per call is exact). An overflow while the URL
 * is still arriving is reported as 414, otherwise 431. The URL is counted in
 * on_url (414) and the body in on_headers_complete (Content-Length) and
 * on_body (chunked) -> 413.
 *
 * What http-parser 2.9.4 already rejects (tested in test_engine_http.c):
 * two Content-Length headers, Content-Length with Transfer-Encoding, a final
 * coding other than chunked, NUL in the URL or a header. What it accepts and
 * we reject here: "Transfer-Encoding: gzip, chunked" (anything but one
 * "chunked"), repeated Transfer-Encoding headers, header names that are not
 * tokens ("X Y: 1", which it lets through in non-strict mode), obs-fold
 * continuation lines (detected as a value fragment that follows a line
 * feed; a fold right after an EMPTY value reaches us as a plain value, i.e.
 * the fold replaced by blanks, as RFC 9112 5.2 allows, and http-parser reads
 * it the same way), HTTP versions other than 1.x, CONNECT. Data after a
 * Connection: close request (it happily parses on) is ignored.
 */
#include "engine/proto/http.h"

#include <http_parser.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/json.h"

/* Buffers larger than this are freed between requests. */
#define HTTP_KEEP_BYTES (16 * 1024)

typedef struct hdr_rec {
    size_t name_off, name_len, val_off, val_len;
} hdr_rec;

typedef struct param_rec {
    size_t name_off, name_len, val_off, val_len;
} param_rec;

struct http_conn {
    http_parser p;
    http_limits lim;
    qbuf raw, dec, jstore;

    /* per message */
    size_t url_len;
    int url_done;    /* a header, or the end of the head, was seen */
    int head_done;   /* on_headers_complete ran: later fields are trailers */
    int in_message;  /* between on_message_begin and on_message_complete */
    int last_was_value;
    hdr_rec hdr[HTTP_MAX_HEADERS];
    size_t nhdr;
    size_t body_off, body_len;

    /* per connection */
    int status; /* stream error, sticky */
    const char *err_code, *err_msg;
    int closed;  /* a non-keep-alive request was delivered: ignore the rest */
    int stopped; /* the callback asked to stop */
    char prev_byte; /* last byte of the previous feed (obs-fold detection) */

    /* during one feed */
    const char *feed_data;
    http_request_cb cb;
    void *ud;

    /* the request being delivered */
    param_rec prm[HTTP_MAX_PARAMS];
    size_t nprm;
    http_kv headers[HTTP_MAX_HEADERS];
    http_kv params[HTTP_MAX_PARAMS];
    json_field jf[HTTP_MAX_PARAMS];
};

/* --- limits -------------------------------------------------------------- */

void http_limits_default(http_limits *lim) {
    lim->max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
    lim->max_url_bytes = HTTP_DEFAULT_MAX_URL_BYTES;
    lim->max_body_bytes = HTTP_DEFAULT_MAX_BODY_BYTES;
}

const char *http_limits_check(const http_limits *lim) {
    if (lim->max_header_bytes < 64 || lim->max_header_bytes > HTTP_MAX_HEADER_BYTES_CAP)
        return "HTTP header size limit must be between 64 bytes and 80 KiB";
    if (lim->max_url_bytes < 16 || lim->max_url_bytes > HTTP_MAX_URL_BYTES_CAP)
        return "HTTP URL size limit must be between 16 bytes and 60 KiB";
    if (lim->max_body_bytes < 1 || lim->max_body_bytes > HTTP_MAX_BODY_BYTES_CAP)
        return "HTTP body size limit must be between 1 byte and 16 MiB";
    return NULL;
}

/* --- helpers ------------------------------------------------------------- */

static int fail(http_conn *c, int status, const char *code, const char *msg) {
    if (!c->status) c->status = status, c->err_code = code, c->err_msg = msg;
    return -1;
}

static void shrink(qbuf *b) {
    if (b->cap > HTTP_KEEP_BYTES) qbuf_free(b);
    else qbuf_reset(b);
}

/* tchar per RFC 9110 5.6.2 */
static int is_tchar(unsigned char ch) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) return 1;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int eq_nocase(const char *a, size_t alen, const char *b) {
    size_t bl = strlen(b);
    return alen == bl && strncasecmp(a, b, bl) == 0;
}

/* --- http-parser callbacks ----------------------------------------------- */

static int on_message_begin(http_parser *p) {
    http_conn *c = p->data;
    qbuf_reset(&c->raw);
    c->url_len = 0;
    c->url_done = c->head_done = 0;
    c->in_message = 1;
    c->last_was_value = 0;
    c->nhdr = 0;
    c->body_off = c->body_len = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
    http_conn *c = p->data;
    if (c->url_len + len > c->lim.max_url_bytes) return fail(c, 414, "url_too_long", "request URL too long");
    if (qbuf_append(&c->raw, at, len) < 0) return fail(c, 503, "out_of_memory", "out of memory");
    c->url_len += len;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    http_conn *c = p->data;
    c->url_done = 1;
    if (c->head_done) return 0; /* trailers are not kept */
    if (c->nhdr == 0 || c->last_was_value) {
        if (c->nhdr == HTTP_MAX_HEADERS) return fail(c, 431, "too_many_headers", "too many header lines");
        hdr_rec *h = &c->hdr[c->nhdr++];
        h->name_off = c->raw.len, h->name_len = 0;
        h->val_off = c->raw.len, h->val_len = 0;
        c->last_was_value = 0;
    }
    if (qbuf_append(&c->raw, at, len) < 0) return fail(c, 503, "out_of_memory", "out of memory");
    hdr_rec *h = &c->hdr[c->nhdr - 1];
    h->name_len += len;
    h->val_off = c->raw.len;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    http_conn *c = p->data;
    if (c->head_done) return 0;
    /* A value fragment right after a line break is an obs-fold continuation
     * line (RFC 9112 5.2: reject). Values split across reads continue after a
     * value byte, and first fragments follow ':' or blanks. */
    char before = at > c->feed_data ? at[-1] : c->prev_byte;
    if (before == '\n') return fail(c, 400, "bad_header", "folded header lines are not allowed");
    c->last_was_value = 1;
    if (c->nhdr == 0) return fail(c, 400, "bad_header", "header value without a name");
    if (qbuf_append(&c->raw, at, len) < 0) return fail(c, 503, "out_of_memory", "out of memory");
    c->hdr[c->nhdr - 1].val_len += len;
    return 0;
}

static int on_headers_complete(http_parser *p) {
    http_conn *c = p->data;
    c->url_done = 1;
    c->head_done = 1;
    if (p->http_major != 1) return fail(c, 505, "http_version", "only HTTP/1.0 and HTTP/1.1 are supported");
    if (p->method == HTTP_CONNECT) return fail(c, 501, "not_implemented", "CONNECT is not supported");
    int ncl = 0, nte = 0;
    for (size_t i = 0; i < c->nhdr; i++) {
        hdr_rec *h = &c->hdr[i];
        const char *name = c->raw.data + h->name_off;
        if (h->name_len == 0) return fail(c, 400, "bad_header", "empty header name");
        for (size_t k = 0; k < h->name_len; k++)
            if (!is_tchar((unsigned char)name[k]))
                return fail(c, 400, "bad_header", "invalid character in a header name");
        /* trim blanks around the value */
        const char *v = c->raw.data + h->val_off;
        while (h->val_len && (v[0] == ' ' || v[0] == '\t')) v++, h->val_off++, h->val_len--;
        while (h->val_len && (v[h->val_len - 1] == ' ' || v[h->val_len - 1] == '\t')) h->val_len--;
        for (size_t k = 0; k < h->val_len; k++)
            if (v[k] == 0 || v[k] == '\r' || v[k] == '\n')
                return fail(c, 400, "bad_header", "invalid character in a header value");
        if (eq_nocase(name, h->name_len, "content-length")) ncl++;
        if (eq_nocase(name, h->name_len, "transfer-encoding")) {
            nte++;
            if (!eq_nocase(v, h->val_len, "chunked"))
                return fail(c, 400, "smuggling", "Transfer-Encoding other than chunked is not supported");
        }
    }
    if (ncl > 1) return fail(c, 400, "smuggling", "more than one Content-Length header");
    if (nte > 1) return fail(c, 400, "smuggling", "more than one Transfer-Encoding header");
    if (ncl && nte) return fail(c, 400, "smuggling", "both Content-Length and Transfer-Encoding");
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->lim.max_body_bytes)
        return fail(c, 413, "body_too_large", "request body too large");
    c->body_off = c->raw.len;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    http_conn *c = p->data;
    if (c->body_len + len > c->lim.max_body_bytes) return fail(c, 413, "body_too_large", "request body too large");
    if (qbuf_append(&c->raw, at, len) < 0) return fail(c, 503, "out_of_memory", "out of memory");
    c->body_len += len;
    return 0;
}

/* --- decoding ------------------------------------------------------------ */

static int unhex(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

typedef struct req_err {
    const char *code, *msg;
} req_err;

static void set_err(req_err *e, const char *code, const char *msg) {
    if (!e->code) e->code = code, e->msg = msg;
}

/* Percent-decodes [s, s+len) onto the end of c->dec, NUL-terminated; sets
 * *off and *outlen. Bad escapes, NUL and invalid UTF-8 set *e (the bytes are
 * still appended, so the request stays inspectable). -1 only on OOM. */
static int pct_decode(qbuf *d, const char *s, size_t len, int plus, size_t *off, size_t *outlen, req_err *e) {
    if (qbuf_reserve(d, len + 1) < 0) return -1;
    *off = d->len;
    char *o = d->data + d->len;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '%') {
            int h1 = i + 1 < len ? unhex(s[i + 1]) : -1;
            int h2 = i + 2 < len ? unhex(s[i + 2]) : -1;
            if (h1 < 0 || h2 < 0) {
                set_err(e, "bad_escape", "bad percent-escape (expected %XX with two hex digits)");
                *o++ = '%';
                continue;
            }
            ch = (char)(h1 << 4 | h2);
            i += 2;
            if (ch == 0) set_err(e, "nul_byte", "NUL byte (%00) not allowed");
        } else if (plus && ch == '+') {
            ch = ' ';
        } else if (ch == 0) {
            set_err(e, "nul_byte", "NUL byte not allowed");
        }
        *o++ = ch;
    }
    *outlen = (size_t)(o - (d->data + *off));
    if (!qutf8_valid(d->data + *off, *outlen)) set_err(e, "invalid_utf8", "not valid UTF-8 after percent-decoding");
    *o = 0;
    d->len = *off + *outlen + 1;
    return 0;
}

/* Splits an application/x-www-form-urlencoded string into parameters. */
static int parse_pairs(http_conn *c, const char *s, size_t len, req_err *e) {
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && s[j] != '&') j++;
        if (j > i) {
            if (c->nprm == HTTP_MAX_PARAMS) {
                set_err(e, "too_many_params", "too many parameters");
                return 0;
            }
            size_t eq = i;
            while (eq < j && s[eq] != '=') eq++;
            param_rec *r = &c->prm[c->nprm++];
            if (pct_decode(&c->dec, s + i, eq - i, 1, &r->name_off, &r->name_len, e) < 0) return -1;
            size_t vs = eq < j ? eq + 1 : j;
            if (pct_decode(&c->dec, s + vs, j - vs, 1, &r->val_off, &r->val_len, e) < 0) return -1;
        }
        i = j + 1;
    }
    return 0;
}

/* Media type of a Content-Type value, compared without parameters. */
static int media_is(const char *ct, size_t len, const char *type) {
    size_t n = 0;
    while (n < len && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t') n++;
    return eq_nocase(ct, n, type);
}

static int parse_json_body(http_conn *c, const char *body, size_t len, req_err *e) {
    const char *jerr = NULL;
    size_t room = HTTP_MAX_PARAMS - c->nprm;
    int n = json_parse_flat(body, len, &c->jstore, c->jf, room, &jerr, NULL);
    if (n == -2) return -1;
    if (n < 0) {
        if (jerr && !strcmp(jerr, "too many fields")) set_err(e, "too_many_params", "too many parameters");
        else set_err(e, "bad_body", jerr ? jerr : "malformed JSON body");
        return 0;
    }
    for (int i = 0; i < n; i++) {
        json_field *f = &c->jf[i];
        if (f->type == JSON_NULL) continue; /* null = absent */
        if (memchr(f->key, 0, f->key_len) || memchr(f->val, 0, f->val_len)) {
            set_err(e, "nul_byte", "NUL character not allowed in JSON body fields");
            return 0;
        }
        /* Copy into dec so every parameter lives in one buffer. */
        param_rec *r = &c->prm[c->nprm++];
        r->name_off = c->dec.len, r->name_len = f->key_len;
        if (qbuf_append(&c->dec, f->key, f->key_len + 1) < 0) return -1;
        r->val_off = c->dec.len, r->val_len = f->val_len;
        if (qbuf_append(&c->dec, f->val, f->val_len + 1) < 0) return -1;
    }
    return 0;
}

static const char *method_str(unsigned m) { return http_method_str((enum http_method)m); }

static int deliver(http_conn *c) {
    http_parser *p = &c->p;
    http_request r;
    memset(&r, 0, sizeof r);
    req_err e = {NULL, NULL};

    switch (p->method) {
    case HTTP_GET: r.method = HTTP_REQ_GET; break;
    case HTTP_POST: r.method = HTTP_REQ_POST; break;
    case HTTP_HEAD: r.method = HTTP_REQ_HEAD; break;
    case HTTP_OPTIONS: r.method = HTTP_REQ_OPTIONS; break;
    default: r.method = HTTP_REQ_OTHER; break;
    }
    r.method_name = method_str(p->method);
    r.http_major = p->http_major, r.http_minor = p->http_minor;
    r.keep_alive = http_should_keep_alive(p) && !p->upgrade;

    qbuf_reset(&c->dec);
    c->nprm = 0;

    /* Request target: origin-form "/path?query", or absolute-form / "*"
     * through http_parser_parse_url. */
    const char *url = c->raw.data;
    size_t ulen = c->url_len;
    const char *path = url, *query = NULL;
    size_t path_len = 0, query_len = 0;
    if (ulen && url[0] == '/') {
        size_t i = 0;
        while (i < ulen && url[i] != '?' && url[i] != '#') i++;
        path_len = i;
        if (i < ulen && url[i] == '?') {
            size_t q = i + 1, k = q;
            while (k < ulen && url[k] != '#') k++;
            query = url + q, query_len = k - q;
        }
    } else if (ulen == 1 && url[0] == '*') {
        path_len = 1;
    } else {
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (http_parser_parse_url(url, ulen, 0, &u) != 0) {
            set_err(&e, "bad_target", "cannot parse the request target");
        } else {
            if (u.field_set & (1 << UF_PATH))
                path = url + u.field_data[UF_PATH].off, path_len = u.field_data[UF_PATH].len;
            else
                path = "/", path_len = 1;
            if (u.field_set & (1 << UF_QUERY))
                query = url + u.field_data[UF_QUERY].off, query_len = u.field_data[UF_QUERY].len;
        }
    }
    size_t path_off;
    if (pct_decode(&c->dec, path, path_len, 0, &path_off, &r.path_len, &e) < 0) goto oom;
    if (query && parse_pairs(c, query, query_len, &e) < 0) goto oom;

    /* Headers and body. */
    for (size_t i = 0; i < c->nhdr; i++) {
        hdr_rec *h = &c->hdr[i];
        c->headers[i] = (http_kv){c->raw.data + h->name_off, h->name_len, c->raw.data + h->val_off, h->val_len};
    }
    r.headers = c->headers, r.nheaders = c->nhdr;
    http_header(&r, "Content-Type", &r.content_type, &r.content_type_len);
    if (c->body_len) r.body = c->raw.data + c->body_off, r.body_len = c->body_len;
    if (r.body_len && r.content_type && !e.code) {
        if (media_is(r.content_type, r.content_type_len, "application/x-www-form-urlencoded")) {
            if (parse_pairs(c, r.body, r.body_len, &e) < 0) goto oom;
        } else if (media_is(r.content_type, r.content_type_len, "application/json")) {
            if (parse_json_body(c, r.body, r.body_len, &e) < 0) goto oom;
        }
    }

    /* Offsets -> pointers, now that dec no longer moves. */
    r.path = c->dec.data + path_off;
    r.target = url, r.target_len = ulen;
    for (size_t i = 0; i < c->nprm; i++) {
        param_rec *pr = &c->prm[i];
        c->params[i] = (http_kv){c->dec.data + pr->name_off, pr->name_len, c->dec.data + pr->val_off, pr->val_len};
    }
    r.params = c->params, r.nparams = c->nprm;
    if (e.code) r.error_status = 400, r.error_code = e.code, r.error_message = e.msg;

    if (!r.keep_alive) c->closed = 1;
    if (c->cb(&r, c->ud) != 0) c->stopped = 1;
    return 0;
oom:
    return fail(c, 503, "out_of_memory", "out of memory");
}

static int on_message_complete(http_parser *p) {
    http_conn *c = p->data;
    c->in_message = 0;
    if (deliver(c) < 0) return -1;
    /* Give back what a large request made the buffers grow to. */
    shrink(&c->raw), shrink(&c->dec), shrink(&c->jstore);
    /* Stop parsing: either the callback said so or the connection ends. */
    return c->stopped || c->closed ? -1 : 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* --- connection ---------------------------------------------------------- */

http_conn *http_conn_new(const http_limits *lim) {
    http_limits def;
    if (!lim) http_limits_default(&def), lim = &def;
    if (http_limits_check(lim)) return NULL;
    http_conn *c = qcalloc(1, sizeof *c);
    if (!c) return NULL;
    c->lim = *lim;
    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    qbuf_init(&c->raw), qbuf_init(&c->dec), qbuf_init(&c->jstore);
    return c;
}

void http_conn_free(http_conn *c) {
    if (!c) return;
    qbuf_free(&c->raw), qbuf_free(&c->dec), qbuf_free(&c->jstore);
    qfree(c);
}

int http_conn_feed(http_conn *c, const char *data, size_t len, http_request_cb cb, void *ud) {
    if (c->status) return c->status;
    if (c->stopped) return HTTP_FEED_STOPPED;
    if (c->closed || len == 0) return 0;
    c->feed_data = data, c->cb = cb, c->ud = ud;
    http_parser_set_max_header_size((uint32_t)c->lim.max_header_bytes);
    size_t n = http_parser_execute(&c->p, &settings, data, len);
    c->prev_byte = data[len - 1];
    c->feed_data = NULL;
    if (c->status) return c->status;
    if (c->stopped) return HTTP_FEED_STOPPED;
    if (c->closed) return 0;
    enum http_errno err = HTTP_PARSER_ERRNO(&c->p);
    if (err == HPE_OK && n == len) return 0;
    switch (err) {
    case HPE_HEADER_OVERFLOW:
        if (!c->url_done) fail(c, 414, "url_too_long", "request URL too long");
        else fail(c, 431, "header_too_large", "request header too large");
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        fail(c, 400, "smuggling", "Content-Length repeated or combined with Transfer-Encoding");
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        fail(c, 400, "smuggling", "Transfer-Encoding other than chunked is not supported");
        break;
    case HPE_OK: /* stopped early without an error: an upgrade we do not speak */
        fail(c, 501, "not_implemented", "protocol upgrade is not supported");
        break;
    default:
        fail(c, 400, "bad_request", http_errno_description(err));
        break;
    }
    return c->status;
}

const char *http_conn_error_code(const http_conn *c) { return c->status ? c->err_code : NULL; }
const char *http_conn_error(const http_conn *c) { return c->status ? c->err_msg : NULL; }

int http_conn_idle(const http_conn *c) { return !c->in_message; }

/* --- lookups ------------------------------------------------------------- */

int http_param(const http_request *r, const char *name, const char **val, size_t *len) {
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->nparams; i++) {
        const http_kv *kv = &r->params[i];
        if (kv->name_len == nl && !memcmp(kv->name, name, nl)) {
            *val = kv->value, *len = kv->value_len;
            return 1;
        }
    }
    return 0;
}

int http_header(const http_request *r, const char *name, const char **val, size_t *len) {
    for (size_t i = 0; i < r->nheaders; i++) {
        const http_kv *kv = &r->headers[i];
        if (eq_nocase(kv->name, kv->name_len, name)) {
            *val = kv->value, *len = kv->value_len;
            return 1;
        }
    }
    return 0;
}

/* --- responses ----------------------------------------------------------- */

const char *http_reason(int status) {
    switch (status) {
#define XX(num, name, string) \
    case num: return #string;
        HTTP_STATUS_MAP(XX)
#undef XX
    default: return "Unknown";
    }
}

int http_write_head(qbuf *b, int status, const char *content_type, size_t content_length,
                    const http_resp_opts *opts) {
    static const http_resp_opts defaults = {.keep_alive = 1};
    if (!opts) opts = &defaults;
    if (status < 100 || status > 999) return -1;
    if (content_type && strpbrk(content_type, "\r\n")) return -1;
    if (opts->cors_origin && strpbrk(opts->cors_origin, "\r\n")) return -1;
    size_t start = b->len;
    int rc = 0;
    rc |= qbuf_append(b, "HTTP/1.1 ", 9);
    rc |= qbuf_putu64(b, (uint64_t)status);
    rc |= qbuf_putc(b, ' ');
    rc |= qbuf_puts(b, http_reason(status));
    rc |= qbuf_append(b, "\r\n", 2);
    if (content_type) {
        rc |= qbuf_append(b, "Content-Type: ", 14);
        rc |= qbuf_puts(b, content_type);
        rc |= qbuf_append(b, "\r\n", 2);
    }
    rc |= qbuf_append(b, "Content-Length: ", 16);
    rc |= qbuf_putu64(b, content_length);
    rc |= qbuf_append(b, "\r\n", 2);
    if (opts->keep_alive) rc |= qbuf_append(b, "Connection: keep-alive\r\n", 24);
    else rc |= qbuf_append(b, "Connection: close\r\n", 19);
    if (opts->cors_origin) {
        rc |= qbuf_append(b, "Access-Control-Allow-Origin: ", 29);
        rc |= qbuf_puts(b, opts->cors_origin);
        rc |= qbuf_append(b, "\r\n", 2);
        if (opts->preflight)
            rc |= qbuf_puts(b, "Access-Control-Allow-Methods: " HTTP_CORS_ALLOW_METHODS "\r\n"
                               "Access-Control-Allow-Headers: " HTTP_CORS_ALLOW_HEADERS "\r\n"
                               "Access-Control-Max-Age: " HTTP_CORS_MAX_AGE "\r\n");
    }
    if (opts->extra_headers) rc |= qbuf_puts(b, opts->extra_headers);
    rc |= qbuf_append(b, "\r\n", 2);
    if (rc) {
        b->len = start <= b->len ? start : b->len;
        return -1;
    }
    return 0;
}

int http_write_json_error(qbuf *b, int status, const char *code, const char *message,
                          const http_resp_opts *opts) {
    qbuf body;
    qbuf_init(&body);
    int rc = 0;
    rc |= qbuf_append(&body, "{\"error\":{\"code\":", 17);
    rc |= json_str(&body, code, strlen(code));
    rc |= qbuf_append(&body, ",\"message\":", 11);
    rc |= json_str(&body, message, strlen(message));
    rc |= qbuf_append(&body, "}}", 2);
    if (!rc) rc = http_write_head(b, status, HTTP_JSON_CONTENT_TYPE, body.len, opts);
    if (!rc && !(opts && opts->head_only)) rc = qbuf_append(b, body.data, body.len);
    qbuf_free(&body);
    return rc ? -1 : 0;
}

int http_auth_token(const http_request *r, const char **val, size_t *len) {
    const char *v = NULL;
    size_t n = 0;
    if (http_header(r, "authorization", &v, &n)) {
        if (n > 7 && !strncasecmp(v, "Bearer ", 7)) {
            v += 7, n -= 7;
            while (n && *v == ' ') v++, n--;
        } else {
            n = 0; /* another scheme (Basic ...): not our token */
        }
    } else if (!http_header(r, "x-qac-token", &v, &n)) {
        return 0;
    }
    *val = v;
    *len = n;
    return 1;
}

int http_write_unauthorized(qbuf *b, int wrong, int closing, const http_resp_opts *opts) {
    http_resp_opts o = *opts;
    o.extra_headers = wrong ? "WWW-Authenticate: Bearer realm=\"qac\", error=\"invalid_token\"\r\n"
                            : "WWW-Authenticate: Bearer realm=\"qac\"\r\n";
    return http_write_json_error(
        b, 401, wrong ? "invalid_token" : "unauthorized",
        wrong ? (closing ? "wrong token; too many failures, closing the connection" : "wrong token")
              : "this endpoint needs Authorization: Bearer <requirepass> (or X-Qac-Token)",
        &o);
}

int http_write_method_reply(qbuf *b, const http_request *r, int post_ok, const http_resp_opts *opts) {
    http_resp_opts o = *opts;
    if (r->method == HTTP_REQ_OPTIONS) {
        o.preflight = 1;
        return http_write_head(b, 204, NULL, 0, &o) < 0 ? -1 : 204;
    }
    if (r->method == HTTP_REQ_GET || r->method == HTTP_REQ_HEAD || (r->method == HTTP_REQ_POST && post_ok)) return 0;
    o.extra_headers = post_ok ? "Allow: GET, HEAD, POST, OPTIONS\r\n" : "Allow: GET, HEAD, OPTIONS\r\n";
    o.head_only = 0;
    return http_write_json_error(b, 405, "method_not_allowed", "method not allowed", &o) < 0 ? -1 : 405;
}
