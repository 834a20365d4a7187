/* upstream_req.c -- one merger request: parse, route, ask the shards, merge,
 * answer (engine/upstream.h for the whole; upstream_internal.h for types).
 *
 * A request owns copies of its arguments (store) and builds the command each
 * shard gets: COMPLETE prefix [LIMIT k] [FUZZY f] [INFIX] [USER u]
 * [SESSION s] WITHSCORES WITHEDITS [WITHMATCH] -- scores and edit counts
 * always, since the merge needs them; WITHMATCH (each suggestion's highlight
 * as the shard computes it, proto_match_fmt) for HTTP, whose answer carries
 * `match` and `words`, or when the client asked for it; the client's
 * WITHSCORES / WITHEDITS only shape the answer. Changes (ADD, INCR, DEL, ACCEPT) are sent as given to the shard
 * owning the query and its reply is passed back.
 *
 * Routing: the typed prefix is normalized as the shards do (norm_prefix in
 * the map's key form); its first code point names the one shard that can
 * hold an answer, unless INFIX (words anywhere), or typos with
 * fuzzy-first-any (the first character may be edited), or no map, or an
 * empty normalized prefix: then every shard. A request asking one shard is
 * answered in that shard's order (which may be the ranker's); one asking
 * several is merged (ups_merge: popularity order, the ranker's order does
 * not survive a merge).
 *
 * Access and HTTP, as one server (docs/PROTOCOL.md "Shards and the merger"):
 * with requirepass, AUTH is answered here and the commands one server guards
 * (changes, STATS) answer NOAUTH until it succeeded on the connection; HTTP
 * routes check the method (405 / the OPTIONS preflight) and then the token
 * (/v1/accept, /v1/stats, /metrics) with engine/proto/http.c's writers. A
 * shard's NOAUTH (the merger has no password for it, or the shard refused
 * it: upstream_pool.h) fails the request naming the shard and the reason.
 *
 * Lifetime: hiredis calls each reply callback once (with NULL on a failed
 * connection, which moves the request to the shard's next replica while
 * attempts remain). The request is answered when every asked shard has
 * answered, when one cannot (no replica left, or an error reply), or at its
 * deadline; it is released when answered, its timer closed and no callback
 * is outstanding.
 *
 * Reuse: a released request goes to the merger's free list (s->req_free, at
 * most req-cache of them) with its buffers -- the arguments' store, each
 * shard's reply copies, the merge's items and keys, the answer and an HTTP
 * body -- and req_new takes it from there: req_reset clears every field but
 * those buffers (a buffer over UPS_REQ_KEEP_BYTES is freed when released),
 * so a request after a failed or timed-out one starts clean, and a steady
 * stream of requests allocates nothing here (STATS merger_req_allocs stops
 * growing; merger_alloc_calls counts the loop thread's qmalloc calls).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/json.h"
#include "common/log.h"
#include "engine/config.h"
#include "engine/stats.h"
#include "engine/upstream_internal.h"
#include "trie/trie_fuzzy.h"
#include "text/norm.h"
#include "trie/trie_words.h"

static int argis(const char *p, size_t n, const char *w) { return n == strlen(w) && !strncasecmp(p, w, n); }

/* Clears a request taken from the free list, keeping its buffers. */
static void req_reset(ureq *q) {
    char *store = q->store, *data[SHARDMAP_MAX_SHARDS];
    size_t storecap = q->storecap, datacap[SHARDMAP_MAX_SHARDS];
    for (int i = 0; i < SHARDMAP_MAX_SHARDS; i++) data[i] = q->slot[i].data, datacap[i] = q->slot[i].datacap;
    ups_merge m = q->m;
    qbuf out = q->out, body = q->body;
    memset(q, 0, sizeof *q);
    q->store = store, q->storecap = storecap;
    for (int i = 0; i < SHARDMAP_MAX_SHARDS; i++) q->slot[i].data = data[i], q->slot[i].datacap = datacap[i];
    q->m.items = m.items, q->m.cap = m.cap, q->m.keys = m.keys, q->m.kcap = m.kcap;
    q->out = out, q->body = body;
    qbuf_reset(&q->out);
    qbuf_reset(&q->body);
}

static ureq *req_new(uconn *c, int kind) {
    usrv *s = c->s;
    ureq *q = s->req_free;
    if (q) {
        s->req_free = q->next;
        s->req_nfree--;
        s->req_reuses++;
        req_reset(q);
    } else {
        if (!(q = qcalloc(1, sizeof *q))) return NULL;
        s->req_allocs++;
        qbuf_init(&q->out);
        qbuf_init(&q->body);
    }
    q->c = c;
    q->s = c->s;
    q->kind = kind;
    q->keep_alive = 1;
    q->timer_closed = 1;
    return q;
}

static void req_free(ureq *q) {
    for (int i = 0; i < SHARDMAP_MAX_SHARDS; i++) qfree(q->slot[i].data);
    ups_merge_free(&q->m);
    qbuf_free(&q->out);
    qbuf_free(&q->body);
    qfree(q->store);
    qfree(q);
}

/* To the free list (its buffers over UPS_REQ_KEEP_BYTES freed), or freed
 * when req-cache requests are kept already. */
static void req_release(ureq *q) {
    usrv *s = q->s;
    if (s->req_nfree >= s->cfg.req_cache) return req_free(q);
    for (int i = 0; i < SHARDMAP_MAX_SHARDS; i++)
        if (q->slot[i].datacap > UPS_REQ_KEEP_BYTES) qfree(q->slot[i].data), q->slot[i].data = NULL, q->slot[i].datacap = 0;
    if (q->storecap > UPS_REQ_KEEP_BYTES) qfree(q->store), q->store = NULL, q->storecap = 0;
    if (q->m.cap * sizeof *q->m.items > UPS_REQ_KEEP_BYTES || q->m.kcap > UPS_REQ_KEEP_BYTES) ups_merge_free(&q->m);
    if (q->out.cap > UPS_REQ_KEEP_BYTES) qbuf_free(&q->out);
    if (q->body.cap > UPS_REQ_KEEP_BYTES) qbuf_free(&q->body);
    q->next = s->req_free;
    s->req_free = q;
    s->req_nfree++;
}

void ureq_cache_free(usrv *s) {
    for (ureq *q = s->req_free, *nx; q; q = nx) nx = q->next, req_free(q);
    s->req_free = NULL;
    s->req_nfree = 0;
}

static void maybe_free(ureq *q) {
    if (q->finished && q->timer_closed && !q->outstanding && !q->c) req_release(q);
}

ureq *ureq_ready(uconn *c, int kind) {
    ureq *q = req_new(c, kind);
    if (q) q->type = UQ_READY;
    return q;
}

/* Makes *p hold need bytes (grown, never shrunk: the request is reused). */
static int grow_buf(char **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    char *np = qrealloc(*p, nc);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

/* Copies n strings into q->store and points q->argv at them. */
static int set_args(ureq *q, int n, const char *const *p, const size_t *len) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += len[i] + 1;
    if (grow_buf(&q->store, &q->storecap, total) < 0) return -1;
    char *w = q->store;
    for (int i = 0; i < n; i++) {
        memcpy(w, p[i], len[i]);
        w[len[i]] = 0;
        q->argv[i] = w;
        q->argvlen[i] = len[i];
        w += len[i] + 1;
    }
    q->argc = n;
    return 0;
}

/* An HTTP answer's options: one server's (cors-origin on every answer). */
static http_resp_opts hopts(const ureq *q) {
    return (http_resp_opts){.keep_alive = q->keep_alive, .cors_origin = q->s->cfg.cors_origin,
                            .head_only = q->head_only};
}

static void error_reply(ureq *q, int code, const char *httpcode, int status, const char *msg) {
    qbuf_reset(&q->out);
    q->failed = 1;
    if (q->kind == UPS_KIND_HTTP) {
        http_resp_opts o = hopts(q);
        http_write_json_error(&q->out, status, httpcode, msg, &o);
    } else {
        proto_reply_error(&q->out, q->kind, code, msg);
    }
}

/* COMPLETE's arguments -> the shard command (argv[0..]), or an error reply (returns -1). */
static int parse_complete(ureq *q, int argc, const proto_arg *a, char *err, size_t errlen) {
    const char *p[UPS_ARGS_MAX];
    size_t l[UPS_ARGS_MAX];
    int n = 0;
    p[n] = "COMPLETE", l[n++] = 8;
    p[n] = a[1].p, l[n++] = a[1].len;
    q->k = 10;
    for (int i = 2; i < argc; i++) {
        const char *w = a[i].p;
        size_t wl = a[i].len;
        int val = argis(w, wl, "LIMIT") || argis(w, wl, "USER") || argis(w, wl, "SESSION") || argis(w, wl, "FUZZY");
        if (argis(w, wl, "WITHSCORES")) q->withscores = 1;
        else if (argis(w, wl, "WITHEDITS")) q->withedits = 1;
        else if (argis(w, wl, "WITHMATCH")) q->withmatch = 1;
        else if (argis(w, wl, "INFIX")) q->infix = 1, p[n] = "INFIX", l[n++] = 5;
        else if (argis(w, wl, "DICT")) return snprintf(err, errlen, "DICT is not served through the merger"), -1;
        else if (!val || i + 1 >= argc)
            return snprintf(err, errlen, "%s '%.*s'", val ? "missing value after" : "unknown option",
                            (int)(wl < 40 ? wl : 40), w), -1;
        else {
            const char *v = a[i + 1].p;
            size_t vl = a[i + 1].len;
            if (argis(w, wl, "LIMIT")) {
                uint64_t k;
                if (qparse_u64(v, vl, &k) < 0 || k < 1 || k > q->s->cfg.max_k)
                    return snprintf(err, errlen, "LIMIT wants 1..%u (max-k)", q->s->cfg.max_k), -1;
                q->k = (unsigned)k;
            }
            if (argis(w, wl, "FUZZY")) q->typos = !(vl == 1 && v[0] == '0');
            if (n + 2 > UPS_ARGS_MAX - 2) return snprintf(err, errlen, "too many options"), -1;
            p[n] = w, l[n++] = wl;
            p[n] = v, l[n++] = vl;
            i++;
        }
    }
    p[n] = "WITHSCORES", l[n++] = 10;
    p[n] = "WITHEDITS", l[n++] = 9;
    if (q->withmatch || q->kind == UPS_KIND_HTTP) p[n] = "WITHMATCH", l[n++] = 9;
    if (set_args(q, n, p, l) < 0) return snprintf(err, errlen, "out of memory"), -1;
    q->prefix = q->argv[1];
    q->plen = q->argvlen[1];
    q->type = UQ_COMPLETE;
    return 0;
}

/* The merger's counters (upstream_stats.c) in one of stats.h's renderings:
 * kind PROTO_TEXT / PROTO_RESP (STATS, INFO), or HTTP (prom: /metrics, else
 * /v1/stats). */
static void stats_reply(ureq *q, int prom) {
    static eng_stats_snap snap; /* ~27 KB; the loop answers one at a time */
    ups_stats(q->s, &snap);
    if (q->kind == PROTO_TEXT) {
        stats_render_text(&snap, &q->out);
        return;
    }
    if (q->kind == PROTO_RESP) {
        stats_render_resp(&snap, NULL, &q->out);
        return;
    }
    qbuf *body = &q->body;
    qbuf_reset(body);
    if ((prom ? stats_render_prom(&snap, body) : stats_render_json(&snap, body)) == 0) {
        http_resp_opts o = hopts(q);
        http_write_head(&q->out, 200, prom ? "text/plain; version=0.0.4; charset=utf-8" : HTTP_JSON_CONTENT_TYPE,
                        body->len, &o);
        if (!q->head_only) qbuf_append(&q->out, body->data, body->len);
    }
}

/* /v1/accept: ACCEPT q [USER u] [SESSION s] [PREFIX p] [RANK r] to the
 * shard owning q, checked as one server checks it (server_http.c). */
static void accept_from_http(ureq *q, const http_request *r) {
    static const char *const names[][2] = {{"user", "USER"}, {"session", "SESSION"}, {"prefix", "PREFIX"},
                                           {"rank", "RANK"}};
    const char *p[UPS_ARGS_MAX], *v;
    size_t l[UPS_ARGS_MAX], vl;
    int n = 0;
    if (!http_param(r, "q", &v, &vl)) return error_reply(q, 0, "missing_q", 400, "parameter q is required");
    p[n] = "ACCEPT", l[n++] = 6;
    p[n] = v, l[n++] = vl;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!http_param(r, names[i][0], &v, &vl)) continue;
        int64_t rank;
        if (i == 3 && (qparse_i64(v, vl, &rank) < 0 || rank < 0))
            return error_reply(q, 0, "bad_rank", 400, "rank must be an integer 0..100");
        p[n] = names[i][1], l[n++] = strlen(names[i][1]);
        p[n] = v, l[n++] = vl;
    }
    if (set_args(q, n, p, l) < 0) return error_reply(q, 0, "nomem", 503, "out of memory");
    q->type = UQ_CHANGE;
    q->http_accept = 1;
    q->prefix = q->argv[1];
    q->plen = q->argvlen[1];
}

/* AUTH [default] <password> on the merger, as one server's (engine/cmd_conn.c). */
static void auth_cmd(ureq *q, int argc, const proto_arg *a) {
    uconn *c = q->c;
    usrv *s = q->s;
    if (!s->cfg.requirepass) {
        proto_reply_error(&q->out, q->kind, ERR_ARGS,
                          "AUTH <password> called without any password configured (requirepass is not set)");
        return;
    }
    int user_ok = argc == 2 || (a[1].len == 7 && !memcmp(a[1].p, "default", 7));
    if (qsecret_eq(s->cfg.requirepass, a[argc - 1].p, a[argc - 1].len) && user_ok) {
        s->auth_ok++;
        c->authed = 1;
        proto_reply_ok(&q->out, q->kind);
        return;
    }
    s->auth_failures++;
    int closing = ++c->auth_fails >= s->cfg.auth_max_failures;
    proto_reply_error(&q->out, q->kind, ERR_WRONGPASS,
                      closing ? "invalid username-password pair or user is disabled; too many failures, closing "
                                "the connection"
                              : "invalid username-password pair or user is disabled.");
    if (closing) c->close_after = 1, q->keep_alive = 0; /* this answer is the last */
}

/* The commands that need AUTH when requirepass is set (one server's list, of those the merger serves). */
static int needs_auth(const char *cmd, size_t cl) {
    return argis(cmd, cl, "ADD") || argis(cmd, cl, "INCR") || argis(cmd, cl, "DEL") || argis(cmd, cl, "ACCEPT") ||
           argis(cmd, cl, "STATS") || argis(cmd, cl, "INFO");
}

ureq *ureq_from_args(uconn *c, int kind, int argc, const proto_arg *a) {
    ureq *q = req_new(c, kind);
    if (!q) return NULL;
    char err[160];
    const char *cmd = a[0].p;
    size_t cl = a[0].len;
    if (argis(cmd, cl, "AUTH") && (argc == 2 || argc == 3)) {
        auth_cmd(q, argc, a);
    } else if (c->s->cfg.requirepass && !c->authed && needs_auth(cmd, cl)) {
        c->s->auth_refused++;
        proto_reply_error(&q->out, kind, ERR_NOAUTH, "Authentication required.");
    } else if (argis(cmd, cl, "COMPLETE") && argc >= 2) {
        if (parse_complete(q, argc, a, err, sizeof err) < 0) error_reply(q, ERR_ARGS, "args", 400, err);
    } else if ((argis(cmd, cl, "ADD") || argis(cmd, cl, "INCR") || argis(cmd, cl, "DEL") || argis(cmd, cl, "ACCEPT")) &&
               argc >= 2 && argc <= UPS_ARGS_MAX) {
        const char *p[UPS_ARGS_MAX];
        size_t l[UPS_ARGS_MAX];
        for (int i = 0; i < argc; i++) p[i] = a[i].p, l[i] = a[i].len;
        if (set_args(q, argc, p, l) < 0) error_reply(q, ERR_NOMEM, "nomem", 503, "out of memory");
        q->type = UQ_CHANGE;
        q->prefix = q->argv[1];
        q->plen = q->argvlen[1];
    } else if ((argis(cmd, cl, "STATS") || argis(cmd, cl, "INFO")) && argc <= 2) {
        stats_reply(q, 0);
    } else if (argis(cmd, cl, "PING") && argc == 1) {
        proto_reply_status(&q->out, kind, "PONG");
    } else if (argis(cmd, cl, "COMMAND") || argis(cmd, cl, "HELLO") || argis(cmd, cl, "CLIENT")) {
        proto_reply_ok(&q->out, kind); /* what redis-cli sends on connecting */
    } else {
        snprintf(err, sizeof err, "UNKNOWN the merger serves COMPLETE, ADD, INCR, DEL, ACCEPT, STATS, AUTH and PING, not '%.*s'",
                 (int)(cl < 32 ? cl : 32), cmd);
        proto_reply_error(&q->out, kind, ERR_UNKNOWN, err + 8);
    }
    return q;
}

/* /v1/accept, /v1/stats, /metrics with requirepass: the token as one
 * server's (server_http.c): 1 to go on, 0 with the 401 written (a wrong
 * token counts toward auth-max-failures, then the connection closes). */
static int http_auth(ureq *q, const http_request *r) {
    usrv *s = q->s;
    if (!s->cfg.requirepass) return 1;
    const char *v = NULL;
    size_t n = 0;
    int given = http_auth_token(r, &v, &n);
    if (given && qsecret_eq(s->cfg.requirepass, v, n)) return s->auth_ok++, 1;
    int closing = 0;
    if (given) s->auth_failures++, closing = ++q->c->auth_fails >= s->cfg.auth_max_failures;
    else s->auth_refused++;
    if (closing) q->keep_alive = 0;
    http_resp_opts o = hopts(q);
    http_write_unauthorized(&q->out, given, closing, &o);
    q->failed = 1;
    return 0;
}

ureq *ureq_from_http(uconn *c, const http_request *r) {
    ureq *q = req_new(c, UPS_KIND_HTTP);
    if (!q) return NULL;
    q->keep_alive = r->keep_alive;
    q->head_only = r->method == HTTP_REQ_HEAD;
    const char *v;
    size_t vl;
    if (r->error_status) {
        error_reply(q, 0, r->error_code, r->error_status, r->error_message);
        return q;
    }
    static const struct { const char *path; int post_ok, needs_auth; } routes[] = {
        {"/v1/complete", 0, 0}, {"/v1/suggest", 0, 0}, {"/v1/accept", 1, 1},
        {"/v1/stats", 0, 1},    {"/metrics", 0, 1},    {"/healthz", 0, 0},
    };
    int rt = -1;
    for (int i = 0; i < (int)ARRAY_LEN(routes); i++)
        if (!strcmp(r->path, routes[i].path)) rt = i;
    if (rt < 0) {
        error_reply(q, 0, "not_found", 404,
                    "the merger serves /v1/complete, /v1/suggest, /v1/accept, /v1/stats, /metrics and /healthz");
        return q;
    }
    http_resp_opts o = hopts(q);
    int st = http_write_method_reply(&q->out, r, routes[rt].post_ok, &o);
    if (st == 405) q->failed = 1;
    if (st < 0) q->failed = 1, q->keep_alive = 0; /* out of memory: nothing to send, the connection ends */
    if (st != 0) return q;                       /* 204 preflight or 405 written */
    if (routes[rt].needs_auth && !http_auth(q, r)) return q;
    if (!strcmp(r->path, "/healthz")) { /* the merger is up; the shards answer for themselves */
        static const char body[] = "{\"status\":\"ok\",\"mode\":\"merger\"}\n";
        http_write_head(&q->out, 200, HTTP_JSON_CONTENT_TYPE, sizeof body - 1, &o);
        if (!q->head_only) qbuf_append(&q->out, body, sizeof body - 1);
        return q;
    }
    if (!strcmp(r->path, "/v1/stats") || !strcmp(r->path, "/metrics")) {
        stats_reply(q, r->path[1] == 'm');
        return q;
    }
    if (!strcmp(r->path, "/v1/accept")) {
        accept_from_http(q, r);
        return q;
    }
    q->opensearch = !strcmp(r->path, "/v1/suggest");
    proto_arg a[UPS_ARGS_MAX];
    int n = 0;
    a[n++] = (proto_arg){"COMPLETE", 8, 0};
    if (!http_param(r, "q", &v, &vl)) {
        error_reply(q, 0, "missing_q", 400, "parameter q is required");
        return q;
    }
    /* the parameters checked as one server checks them (server_http.c route_complete), with its codes */
    uint64_t k;
    if (http_param(r, "k", &v, &vl) && (qparse_u64(v, vl, &k) < 0 || k < 1 || k > q->s->cfg.max_k)) {
        error_reply(q, 0, "bad_k", 400, "k must be an integer 1..max-k");
        return q;
    }
    if (http_param(r, "fuzzy", &v, &vl) && config_fuzzy_parse(v, vl) < 0) {
        error_reply(q, 0, "bad_fuzzy", 400, "fuzzy must be 0, 1, 2 or auto");
        return q;
    }
    if (http_param(r, "infix", &v, &vl) && (vl != 1 || (v[0] != '0' && v[0] != '1'))) {
        error_reply(q, 0, "bad_infix", 400, "infix must be 0 or 1");
        return q;
    }
    http_param(r, "q", &v, &vl);
    a[n++] = (proto_arg){v, vl, 0};
    static const char *const names[][2] = {{"k", "LIMIT"}, {"user", "USER"}, {"session", "SESSION"},
                                            {"fuzzy", "FUZZY"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (http_param(r, names[i][0], &v, &vl) && vl) {
            a[n++] = (proto_arg){names[i][1], strlen(names[i][1]), 0};
            a[n++] = (proto_arg){v, vl, 0};
        }
    if (http_param(r, "infix", &v, &vl) && v[0] == '1') a[n++] = (proto_arg){"INFIX", 5, 0};
    if (http_param(r, "dict", &v, &vl)) a[n++] = (proto_arg){"DICT", 4, 0}, a[n++] = (proto_arg){v, vl, 0};
    char err[160];
    if (parse_complete(q, n, a, err, sizeof err) < 0) error_reply(q, 0, "args", 400, err);
    q->withscores = q->withedits = 1;
    return q;
}

/* ---- answering ------------------------------------------------------------ */

static void write_complete(ureq *q, size_t n) {
    qbuf_reset(&q->out);
    if (q->kind != UPS_KIND_HTTP) {
        /* RESP counts every element (display, score, edits); text counts suggestions */
        size_t per = 1 + (size_t)(q->withscores + q->withedits + q->withmatch);
        proto_reply_list_head(&q->out, q->kind, q->kind == PROTO_RESP ? n * per : n);
        for (size_t i = 0; i < n; i++) {
            const ups_item *it = &q->m.items[i];
            proto_reply_suggestion(&q->out, q->kind, it->disp, it->displen, it->score, q->withscores,
                                   q->withedits ? (it->cut ? -it->edits : it->edits) : PROTO_NO_EDITS);
            if (q->withmatch) proto_reply_match(&q->out, q->kind, it->match, it->matchlen);
        }
        return;
    }
    /* match and words: the shard's (WITHMATCH), so they are one server's */
    json_suggestion js[TRIE_MAX_K];
    static uint32_t ws[TRIE_MAX_K][TRIE_WORDS_MAX_TYPED], we[TRIE_MAX_K][TRIE_WORDS_MAX_TYPED];
    int truncated = 0;
    for (size_t i = 0; i < n; i++) {
        const ups_item *it = &q->m.items[i];
        uint32_t m = 0;
        int nw = proto_match_parse(it->match, it->matchlen, &m, ws[i], we[i], TRIE_WORDS_MAX_TYPED);
        js[i] = (json_suggestion){.text = it->disp, .textlen = it->displen, .score = it->score,
                                  .match_end = nw >= 0 ? m : 0, .has_edits = q->typos,
                                  .edits = (unsigned)it->edits, .has_words = q->infix,
                                  .nwords = nw > 0 ? (unsigned)nw : 0, .word_start = ws[i], .word_end = we[i]};
        truncated |= it->cut;
    }
    qbuf *body = &q->body;
    qbuf_reset(body);
    if (q->opensearch) json_write_opensearch(body, q->prefix, q->plen, js, n);
    else json_write_suggestions(body, q->prefix, q->plen, js, n, truncated, (qtime_ns() - q->t0) / 1000);
    http_resp_opts o = hopts(q);
    http_write_head(&q->out, 200, q->opensearch ? HTTP_SUGGEST_CONTENT_TYPE : HTTP_JSON_CONTENT_TYPE, body->len, &o);
    if (!q->head_only) qbuf_append(&q->out, body->data, body->len);
}

static void on_timer_closed(uv_handle_t *h) {
    ureq *q = h->data;
    q->timer_closed = 1;
    maybe_free(q);
}

static void finish(ureq *q) {
    if (q->finished) return;
    q->finished = 1;
    q->s->inflight--;
    if (!q->failed && q->type == UQ_COMPLETE) {
        size_t n = q->nasked > 1 ? ups_merge_finish(&q->m, q->k) : (q->m.n < q->k ? q->m.n : q->k);
        write_complete(q, n);
        if (q->nasked > 1) q->s->merged++;
    }
    if (q->failed) q->s->errors++;
    if (!q->timer_closed) uv_close((uv_handle_t *)&q->timer, on_timer_closed);
    if (q->c) uconn_done(q->c, q);
    else maybe_free(q);
}

/* The request fails for one shard: ERR IO naming it (HTTP status with code). */
static void fail_shard_as(ureq *q, int shard, const char *why, int status, const char *code) {
    char desc[512], msg[700];
    ups_pool_describe(&q->s->pool, shard, desc, sizeof desc);
    snprintf(msg, sizeof msg, "shard %d (%s): %s", shard, desc, why);
    LOG_W("upstream.failed", "shard=%d replicas=%s error=\"%s\"", shard, desc, why);
    error_reply(q, ERR_IO, code, status, msg);
    finish(q);
}

static void fail_shard(ureq *q, int shard, const char *why) { fail_shard_as(q, shard, why, 504, "upstream"); }

/* A shard's NOAUTH: the merger has no password for it, or the shard refused
 * the one it has (upstream_pool.h). 1 when the request failed so. */
static int shard_noauth(ureq *q, int shard, int replica, const redisReply *r) {
    if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOAUTH", 6)) return 0;
    const ups_replica *rp = &q->s->pool.shards[shard].r[replica];
    char why[256];
    if (rp->auth_refused)
        snprintf(why, sizeof why, "the shard refused the merger's password (%s)", rp->auth_err);
    else
        snprintf(why, sizeof why, "the shard needs a password: give the merger --upstream-pass-file FILE or $%s",
                 UPS_PASS_ENV);
    fail_shard_as(q, shard, why, 502, "upstream_auth");
    return 1;
}

/* The HTTP status of a shard's error code (as server_http.c's eng_status). */
static int code_status(const char *code, size_t n) {
    return argis(code, n, "notfound") ? 404 : argis(code, n, "nomem") ? 503 : argis(code, n, "io") ? 500
           : argis(code, n, "rate") ? 429 : argis(code, n, "noauth") || argis(code, n, "wrongpass") ? 401 : 400;
}

/* /v1/accept: the shard's ACCEPT reply as one server's HTTP answer. */
static void accept_reply(ureq *q, const redisReply *r) {
    qbuf_reset(&q->out);
    http_resp_opts o = hopts(q);
    double score;
    if (r->type == REDIS_REPLY_ERROR) { /* "ERR CODE message" (NOAUTH and the like without ERR) */
        const char *e = r->str;
        if (!strncmp(e, "ERR ", 4)) e += 4;
        size_t cl = strcspn(e, " ");
        char code[16];
        size_t i = 0;
        for (; i < cl && i + 1 < sizeof code; i++) code[i] = (char)(e[i] >= 'A' && e[i] <= 'Z' ? e[i] + 32 : e[i]);
        code[i] = 0;
        int status = code_status(code, i);
        if (status == 429) o.extra_headers = "Retry-After: 1\r\n";
        http_write_json_error(&q->out, status, code, e[cl] ? e + cl + 1 : e, &o);
        q->failed = 1;
        return;
    }
    if (r->type != REDIS_REPLY_STRING || qparse_double(r->str, r->len, &score) < 0) {
        http_write_json_error(&q->out, 502, "upstream", "unexpected ACCEPT reply from the shard", &o);
        q->failed = 1;
        return;
    }
    qbuf *body = &q->body;
    qbuf_reset(body);
    if (qbuf_puts(body, "{\"query\":") == 0 && json_str(body, q->prefix, q->plen) == 0 &&
        qbuf_puts(body, ",\"score\":") == 0 && json_double(body, score) == 0 && qbuf_putc(body, '}') == 0) {
        http_write_head(&q->out, 200, HTTP_JSON_CONTENT_TYPE, body->len, &o);
        if (!q->head_only) qbuf_append(&q->out, body->data, body->len);
    }
}

/* A change's reply, passed back in the client's protocol. */
static void pass_reply(ureq *q, const redisReply *r) {
    if (q->http_accept) return accept_reply(q, r);
    qbuf_reset(&q->out);
    switch (r->type) {
    case REDIS_REPLY_STATUS: /* +OK is the text protocol's bare OK (one server's ADD), not "OK OK" */
        if (!strcmp(r->str, "OK")) proto_reply_ok(&q->out, q->kind);
        else proto_reply_status(&q->out, q->kind, r->str);
        break;
    case REDIS_REPLY_INTEGER: proto_reply_int(&q->out, q->kind, r->integer); break;
    case REDIS_REPLY_STRING: proto_reply_bulk(&q->out, q->kind, r->str, r->len); break;
    case REDIS_REPLY_NIL: proto_reply_null(&q->out, q->kind, 0); break;
    case REDIS_REPLY_ERROR:
        if (q->kind == PROTO_RESP) qbuf_printf(&q->out, "-%s\r\n", r->str);
        else qbuf_printf(&q->out, "%s\n", r->str);
        q->failed = 1;
        break;
    default: proto_reply_error(&q->out, q->kind, ERR_IO, "unexpected reply from the shard");
    }
}

/* A COMPLETE reply (display, score, edits[, match])* -> the merge. */
static int take_items(ureq *q, uslot *sl, const redisReply *r) {
    size_t per = q->withmatch || q->kind == UPS_KIND_HTTP ? 4 : 3; /* as parse_complete asked */
    if (r->type != REDIS_REPLY_ARRAY || r->elements % per) return -1;
    size_t total = 1;
    for (size_t i = 0; i < r->elements; i += per) {
        if (r->element[i]->type != REDIS_REPLY_STRING || r->element[i + 1]->type != REDIS_REPLY_STRING ||
            r->element[i + 2]->type != REDIS_REPLY_INTEGER || (per == 4 && r->element[i + 3]->type != REDIS_REPLY_STRING))
            return -1;
        total += r->element[i]->len + (per == 4 ? r->element[i + 3]->len : 0);
    }
    if (grow_buf(&sl->data, &sl->datacap, total) < 0) return -1;
    char *w = sl->data;
    for (size_t i = 0; i < r->elements; i += per) {
        double score;
        const redisReply *d = r->element[i], *sc = r->element[i + 1];
        if (qparse_double(sc->str, sc->len, &score) < 0) return -1;
        memcpy(w, d->str, d->len);
        if (ups_merge_add(&q->m, w, d->len, score, (int)r->element[i + 2]->integer) < 0) return -1;
        w += d->len;
        if (per == 4) {
            const redisReply *mr = r->element[i + 3];
            ups_item *it = &q->m.items[q->m.n - 1];
            memcpy(w, mr->str, mr->len);
            it->match = w;
            it->matchlen = mr->len;
            w += mr->len;
        }
    }
    return 0;
}

static void on_shard_reply(void *ud, int shard, int replica, const redisReply *r) {
    uslot *sl = ud;
    ureq *q = sl->q;
    q->outstanding--;
    if (q->finished) {
        maybe_free(q);
        return;
    }
    if (!r) { /* the replica failed: the next one */
        int used = ups_pool_send(&q->s->pool, shard, sl->attempt + 1, q->argc, q->argv, q->argvlen, on_shard_reply, sl,
                                 &sl->replica);
        if (used >= 0) {
            sl->attempt = used;
            q->outstanding++;
        } else {
            fail_shard(q, shard, "no replica answered");
        }
        return;
    }
    if (shard_noauth(q, shard, replica, r)) return;
    if (q->type == UQ_CHANGE) {
        pass_reply(q, r);
    } else if (r->type == REDIS_REPLY_ERROR) {
        pass_reply(q, r);
    } else if (take_items(q, sl, r) < 0) {
        fail_shard(q, shard, "unexpected COMPLETE reply");
        return;
    }
    sl->done = 1;
    if (--q->waiting == 0 || q->failed) finish(q);
}

/* The deadline: the request fails, and every replica it still waits on is
 * dropped as hung (the other requests waiting on it move to the next
 * replica). */
static void on_deadline(uv_timer_t *t) {
    ureq *q = t->data;
    usrv *s = q->s;
    char why[96];
    int first = -1;
    for (int i = 0; i < s->pool.nshards; i++)
        if ((q->mask >> i & 1) && !q->slot[i].done && first < 0) first = i;
    if (first < 0) return;
    s->deadline_errors++;
    snprintf(why, sizeof why, "no replica answered within %u ms (deadline-ms)", s->cfg.deadline_ms);
    fail_shard(q, first, why);
    q->outstanding++; /* keeps q while the drops call its callbacks back */
    for (int i = 0; i < s->pool.nshards; i++)
        if ((q->mask >> i & 1) && !q->slot[i].done) {
            s->pool.shards[i].deadline_misses++;
            ups_pool_drop(&s->pool, i, q->slot[i].replica);
        }
    q->outstanding--;
    maybe_free(q);
}

/* Which shards: a mask. */
static uint64_t route(ureq *q, char *err, size_t errlen) {
    usrv *s = q->s;
    uint64_t all = s->pool.nshards == 64 ? UINT64_MAX : ((uint64_t)1 << s->pool.nshards) - 1;
    char nk[TRIE_MAX_KEY + 1];
    int n = q->type == UQ_CHANGE ? norm_key_as(s->key_form, q->prefix, q->plen, nk, sizeof nk)
                                 : norm_prefix_as(s->key_form, q->prefix, q->plen, nk, sizeof nk);
    uint32_t cp;
    int own = -1;
    if (s->map && n > 0 && shardmap_first_cp(nk, (size_t)n, &cp) == 0) own = shardmap_owner(s->map, cp);
    if (q->type == UQ_CHANGE) {
        /* a query that normalizes to nothing (or not at all) is refused by any shard as by one
         * server: shard 0 says why */
        if (own < 0 && n > 0 && s->pool.nshards > 1) {
            snprintf(err, errlen, "ARGS no shard owns this query (no --shard-map)");
            return 0;
        }
        return own < 0 ? 1 : (uint64_t)1 << own;
    }
    if (own < 0 || q->infix || (q->typos && s->cfg.fuzzy_first_any)) return all;
    return (uint64_t)1 << own;
}

void ureq_start(ureq *q) {
    usrv *s = q->s;
    q->t0 = qtime_ns();
    q->started = 1;
    s->requests++;
    if (q->type == UQ_READY || q->failed) {
        q->finished = 1;
        if (q->failed) s->errors++;
        uconn_done(q->c, q);
        return;
    }
    s->inflight++;
    if (s->inflight > s->cfg.max_inflight) {
        s->inflight_errors++;
        char msg[96];
        snprintf(msg, sizeof msg, "max-inflight (%u) requests are waiting on the shards; retry", s->cfg.max_inflight);
        error_reply(q, ERR_LIMIT, "max_inflight", 503, msg);
        finish(q);
        return;
    }
    char err[160];
    if (q->type == UQ_COMPLETE && ups_merge_init_keep(&q->m, s->key_form, q->infix, q->prefix, q->plen) < 0) {
        error_reply(q, ERR_UTF8, "invalid_utf8", 400, "the prefix does not normalize");
        finish(q);
        return;
    }
    q->m.fuzzy_flags = s->cfg.fuzzy_first_any ? TRIE_FUZZY_FIRST_ANY : 0;
    q->mask = route(q, err, sizeof err);
    if (!q->mask) {
        error_reply(q, ERR_ARGS, "args", 400, err + 5);
        finish(q);
        return;
    }
    uv_timer_init(s->loop, &q->timer);
    q->timer.data = q;
    q->timer_closed = 0;
    uv_timer_start(&q->timer, on_deadline, s->cfg.deadline_ms, 0);
    for (int i = 0; i < s->pool.nshards; i++)
        if (q->mask >> i & 1) q->nasked++, q->waiting++;
    for (int i = 0; i < s->pool.nshards && !q->finished; i++) {
        if (!(q->mask >> i & 1)) continue;
        uslot *sl = &q->slot[i];
        sl->q = q;
        int used = ups_pool_send(&s->pool, i, 0, q->argc, q->argv, q->argvlen, on_shard_reply, sl, &sl->replica);
        if (used < 0) {
            fail_shard(q, i, "no replica could be reached");
            return;
        }
        sl->attempt = used;
        q->outstanding++;
    }
}

void ureq_drop(ureq *q) {
    q->c = NULL;
    if (!q->started) q->finished = 1;
    maybe_free(q);
}
