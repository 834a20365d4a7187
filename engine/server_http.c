/* server_http.c -- the HTTP routes of `qac serve`.
 *
 * http_conn (engine/proto/http.h) parses the bytes a connection read; for each
 * complete request srv__http_on_request picks the route, checks method and
 * access (http_auth: 401), and writes head + JSON body into c->dst, which
 * srv__reply_dst chose (c->out, or the scratch buffer when replies are queued
 * before it). srv__reply_done then sends or queues it like any text reply.
 *
 * Routes: /v1/complete (ranked: may answer later through a SLOT_WAIT_RANK
 * slot, then s->http->deferred is set and no srv__reply_done runs), /v1/suggest
 * (the same answer in the OpenSearch Suggestions format), /v1/accept,
 * /v1/stats, /metrics, /healthz. Every answer counts its command and status
 * class in the stats. Bodies are built in s->http->body (one per server: the
 * loop runs one request at a time), released when it grew past SRV_BUF_KEEP.
 * s->http (srv_http) is this file's own: server.c only creates and frees it.
 */
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/json.h"
#include "common/log.h"
#include "engine/cmd.h"
#include "engine/infix.h"
#include "engine/proto/http.h"
#include "engine/proto/proto.h"
#include "engine/rank/ranker.h"
#include "engine/server_internal.h"
#include "text/norm.h"

struct srv_http {
    qbuf body;    /* the response body being built */
    qbuf text;    /* display forms of a ranked answer (trie hits are copies: keep them here) */
    int deferred; /* the current request's reply is a queued SLOT_WAIT_RANK */
};

srv_http *srv__http_new(void) {
    srv_http *h = qcalloc(1, sizeof *h);
    if (!h) return NULL;
    qbuf_init(&h->body);
    qbuf_init(&h->text);
    return h;
}

void srv__http_free(srv_http *h) {
    if (!h) return;
    qbuf_free(&h->body);
    qbuf_free(&h->text);
    qfree(h);
}

void srv__http_count(srv *s, int cmd, int status) {
    s->e.stats.cmds[cmd]++;
    s->e.stats.http_status[status / 100 >= 2 && status / 100 <= 5 ? status / 100 : 5]++;
}

static int http_error(srv_conn *c, const http_request *req, int cmd, int status, const char *code,
                      const char *msg, const char *extra) {
    srv *s = c->s;
    http_resp_opts o = {.keep_alive = req->keep_alive && !s->stopping,
                        .cors_origin = s->cfg->cors_origin,
                        .extra_headers = extra,
                        .head_only = req->method == HTTP_REQ_HEAD};
    srv__http_count(s, cmd, status);
    if (!o.keep_alive) c->close_after_flush = 1;
    return http_write_json_error(c->dst, status, code, msg, &o);
}

static int http_ok(srv_conn *c, const http_request *req, int cmd, const char *ctype) {
    srv *s = c->s;
    http_resp_opts o = {.keep_alive = req->keep_alive && !s->stopping, .cors_origin = s->cfg->cors_origin};
    srv__http_count(s, cmd, 200);
    if (!o.keep_alive) c->close_after_flush = 1;
    if (http_write_head(c->dst, 200, ctype, s->http->body.len, &o) < 0) return -1;
    if (req->method == HTTP_REQ_HEAD) return 0;
    return qbuf_append(c->dst, s->http->body.data, s->http->body.len);
}

static int eng_status(int rc) {
    switch (ENG_CODE(rc)) {
    case ERR_NOTFOUND: return 404;
    case ERR_NOMEM: return 503;
    case ERR_IO: return 500;
    case ERR_RATE: return 429;
    default: return 400;
    }
}

static const char *lower_code(int rc, char *buf, size_t cap) {
    const char *n = proto_err_name(ENG_CODE(rc));
    size_t i = 0;
    for (; n[i] && i + 1 < cap; i++) buf[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
    buf[i] = 0;
    return buf;
}

static void get_ctx(const http_request *req, eng_ctx *ctx) {
    memset(ctx, 0, sizeof *ctx);
    ctx->rank = -1;
    ctx->fuzzy = -1; /* not given: the fuzzy setting decides */
    http_param(req, "user", &ctx->user, &ctx->user_len);
    http_param(req, "session", &ctx->session, &ctx->session_len);
}

/* /v1/complete (os 0) and /v1/suggest (os 1: the OpenSearch Suggestions
 * format for browsers) share everything but the body they write. */
static int route_complete(srv_conn *c, const http_request *req, int os) {
    srv *s = c->s;
    int cmd = os ? CMD_HTTP_SUGGEST : CMD_HTTP_COMPLETE;
    uint64_t t0 = srv__req_t0(s);
    const char *q, *kv;
    size_t qlen, klen;
    if (!http_param(req, "q", &q, &qlen))
        return http_error(c, req, cmd, 400, "missing_q", "parameter q is required", NULL);
    uint64_t k = SRV_DEFAULT_K;
    if (http_param(req, "k", &kv, &klen) && (qparse_u64(kv, klen, &k) < 0 || k < 1 || k > s->cfg->max_k))
        return http_error(c, req, cmd, 400, "bad_k", "k must be an integer 1..max-k", NULL);
    eng_ctx ctx;
    get_ctx(req, &ctx);
    const char *fv;
    size_t flen;
    if (http_param(req, "fuzzy", &fv, &flen) && (ctx.fuzzy = config_fuzzy_parse(fv, flen)) < 0)
        return http_error(c, req, cmd, 400, "bad_fuzzy", "fuzzy must be 0, 1, 2 or auto", NULL);
    if (http_param(req, "infix", &fv, &flen)) {
        if (flen != 1 || (fv[0] != '0' && fv[0] != '1'))
            return http_error(c, req, cmd, 400, "bad_infix", "infix must be 0 or 1", NULL);
        ctx.infix = fv[0] == '1';
    }
    http_param(req, "dict", &ctx.dict, &ctx.dict_len); /* a named dictionary (engine/dict.h): no ranker there */
    const char *msg = NULL;
    int n;
    if (!ctx.dict && eng_wants_rank(&s->e, &ctx)) {
        n = eng_complete_prepare(&s->e, q, qlen, (unsigned)k, &ctx, &msg);
        s->e.fuzzy_used = 0;
        if (n == 0 && !eng_rank_takes(&s->e, &ctx, (unsigned)k)) {
            n = eng_complete_search(&s->e, (unsigned)k, &ctx, &msg); /* INFIX without its index: the error */
        } else if (n == 0) {
            int keep = req->keep_alive && !s->stopping, head = req->method == HTTP_REQ_HEAD;
            if (!keep) c->close_after_flush = 1;
            int match = (eng_fuzzy_edits(&s->e, &ctx) ? SRV_HTTP_FUZZY : 0) | (ctx.infix ? SRV_HTTP_INFIX : 0);
            srv_slot *sl;
            int r = srv__rank_start(s, c, -1, 0, (unsigned)k, &ctx, &sl);
            if (r < 0) return -1;
            if (r == 1) {
                uint64_t took = qtime_ns() - t0;
                int rc = srv__http_write_ranked(s, c->dst, q, qlen, s->e.norm, s->e.normlen, &s->rres, took, keep,
                                                head, os, match);
                hist_add(&s->e.stats.lat_ns, took);
                return rc;
            }
            sl->http_keep = keep;
            sl->http_head = head;
            sl->http_os = os;
            sl->http_match = match;
            sl->aux_qlen = qlen;
            s->http->deferred = 1; /* the slot is queued: no srv__reply_done */
            if (qbuf_append(&sl->aux, q, qlen) < 0 || qbuf_append(&sl->aux, s->e.norm, s->e.normlen) < 0) return -1;
            return 0;
        }
        else if (n == 1) n = 0; /* longer than any key */
    } else {
        n = eng_complete(&s->e, q, qlen, (unsigned)k, &ctx, &msg);
    }
    if (n < 0) {
        char code[16];
        s->e.stats.errs[ENG_CODE(n)]++;
        return http_error(c, req, cmd, eng_status(n), lower_code(n, code, sizeof code), msg, NULL);
    }
    json_suggestion sug[TRIE_MAX_K];
    uint32_t ws[TRIE_MAX_K][TRIE_WORDS_MAX_TYPED], we[TRIE_MAX_K][TRIE_WORDS_MAX_TYPED];
    for (int i = 0; i < n; i++) {
        const trie_hit *h = eng_hit(&s->e, i);
        uint32_t m;
        int nw = eng_hit_highlight(&s->e, i, &m, ws[i], we[i], TRIE_WORDS_MAX_TYPED);
        sug[i] = (json_suggestion){trie_hit_display(h), h->displen, h->score, 0, m, s->e.fuzzy_used,
                                   eng_hit_edits(&s->e, i), 0, 0, NULL, NULL, 0};
        if (nw >= 0) { /* INFIX: every matched word's range ("words") */
            sug[i].has_edits = eng_fuzzy_edits(&s->e, &ctx) > 0;
            sug[i].has_words = 1;
            sug[i].nwords = (unsigned)nw;
            sug[i].word_start = ws[i];
            sug[i].word_end = we[i];
        }
    }
    qbuf_reset(&s->http->body);
    uint64_t took = qtime_ns() - t0; /* one read: the body's took_us and the histogram */
    if ((os ? json_write_opensearch(&s->http->body, q, qlen, sug, (size_t)n)
            : json_write_suggestions(&s->http->body, q, qlen, sug, (size_t)n, s->e.fuzzy_used && s->e.fuzzy_cut,
                                     took / 1000)) < 0)
        return -1;
    int rc = http_ok(c, req, cmd, os ? HTTP_SUGGEST_CONTENT_TYPE : HTTP_JSON_CONTENT_TYPE);
    hist_add(&s->e.stats.lat_ns, took);
    return rc;
}

/* A ranked /v1/complete (or, os, /v1/suggest) answer: head + body into out. */
int srv__http_write_ranked(srv *s, qbuf *out, const char *q, size_t qlen, const char *np, size_t nplen,
                           const eng_rank_result *res, uint64_t took_ns, int keep, int head, int os, int match) {
    json_suggestion sug[ENG_RANK_MAX_RESULT];
    uint32_t ws[ENG_RANK_MAX_RESULT][TRIE_WORDS_MAX_TYPED], we[ENG_RANK_MAX_RESULT][TRIE_WORDS_MAX_TYPED];
    size_t doff[ENG_RANK_MAX_RESULT]; /* display i at s->http->text + doff[i]; SIZE_MAX: the query itself */
    trie_hit h; /* its text is a copy that the next trie_get overwrites: keep each display */
    qbuf_reset(&s->http->text);
    for (size_t i = 0; i < res->n; i++) {
        const rank_cand *rc = &res->c[i];
        doff[i] = SIZE_MAX;
        sug[i] = (json_suggestion){rc->q, rc->len, 0, 0, 0, (match & SRV_HTTP_FUZZY) || rc->edits,
                                   rc->edits, 0, 0, NULL, NULL, rc->gen != 0};
        if (trie_get(s->e.t, rc->q, rc->len, &h)) {
            doff[i] = s->http->text.len;
            if (qbuf_append(&s->http->text, trie_hit_display(&h), h.displen) < 0) return -1;
            sug[i].textlen = h.displen;
            sug[i].score = h.score;
        }
    }
    for (size_t i = 0; i < res->n; i++) { /* the buffer no longer moves */
        if (doff[i] != SIZE_MAX) sug[i].text = s->http->text.data + doff[i];
        const rank_cand *rc = &res->c[i];
        /* the match found again from the key, as WITHMATCH (eng_reply_ranked) */
        int nw = eng_cand_highlight(&s->e, rc->q, rc->len, rc->edits, rank_cand_other_words(rc), sug[i].text,
                                    sug[i].textlen, np, nplen, match & SRV_HTTP_INFIX, &sug[i].match_end, ws[i], we[i],
                                    TRIE_WORDS_MAX_TYPED);
        if (nw >= 0) {
            sug[i].has_words = 1;
            sug[i].nwords = (unsigned)nw;
            sug[i].word_start = ws[i];
            sug[i].word_end = we[i];
        }
    }
    qbuf_reset(&s->http->body);
    if ((os ? json_write_opensearch(&s->http->body, q, qlen, sug, res->n)
            : json_write_suggestions(&s->http->body, q, qlen, sug, res->n, res->fuzzy_cut != 0, took_ns / 1000)) < 0)
        return -1;
    http_resp_opts o = {.keep_alive = keep, .cors_origin = s->cfg->cors_origin};
    srv__http_count(s, os ? CMD_HTTP_SUGGEST : CMD_HTTP_COMPLETE, 200);
    if (http_write_head(out, 200, os ? HTTP_SUGGEST_CONTENT_TYPE : HTTP_JSON_CONTENT_TYPE, s->http->body.len, &o) < 0)
        return -1;
    if (head) return 0;
    return qbuf_append(out, s->http->body.data, s->http->body.len);
}

static int route_accept(srv_conn *c, const http_request *req) {
    srv *s = c->s;
    uint64_t t0 = srv__req_t0(s);
    const char *q, *rv;
    size_t qlen, rlen;
    if (!http_param(req, "q", &q, &qlen))
        return http_error(c, req, CMD_HTTP_ACCEPT, 400, "missing_q", "parameter q is required", NULL);
    eng_ctx ctx;
    get_ctx(req, &ctx);
    http_param(req, "prefix", &ctx.prefix, &ctx.prefix_len);
    if (http_param(req, "rank", &rv, &rlen) && (qparse_i64(rv, rlen, &ctx.rank) < 0 || ctx.rank < 0))
        return http_error(c, req, CMD_HTTP_ACCEPT, 400, "bad_rank", "rank must be an integer 0..100", NULL);
    double score;
    const char *msg = NULL;
    s->e.client = &c->client;
    int rc = eng_accept(&s->e, q, qlen, &ctx, &score, &msg);
    s->e.client = &s->e.self;
    if (rc < 0) {
        char code[16];
        s->e.stats.errs[ENG_CODE(rc)]++;
        return http_error(c, req, CMD_HTTP_ACCEPT, eng_status(rc), lower_code(rc, code, sizeof code), msg,
                          ENG_CODE(rc) == ERR_RATE ? "Retry-After: 1\r\n" : NULL);
    }
    qbuf *b = &s->http->body;
    qbuf_reset(b);
    if (qbuf_puts(b, "{\"query\":") < 0 || json_str(b, q, qlen) < 0 || qbuf_puts(b, ",\"score\":") < 0 ||
        json_double(b, score) < 0 || qbuf_putc(b, '}') < 0)
        return -1;
    rc = http_ok(c, req, CMD_HTTP_ACCEPT, HTTP_JSON_CONTENT_TYPE);
    hist_add(&s->e.stats.lat_ns, qtime_ns() - t0);
    return rc;
}

static int route_stats(srv_conn *c, const http_request *req, int prom) {
    srv *s = c->s;
    stats_snapshot(&s->e.stats, s->e.t, &s->e.snap);
    qbuf *b = &s->http->body;
    qbuf_reset(b);
    if ((prom ? stats_render_prom(&s->e.snap, b) : stats_render_json(&s->e.snap, b)) < 0) return -1;
    return http_ok(c, req, prom ? CMD_HTTP_METRICS : CMD_HTTP_STATS,
                   prom ? "text/plain; version=0.0.4; charset=utf-8" : HTTP_JSON_CONTENT_TYPE);
}

static int route_health(srv_conn *c, const http_request *req) {
    srv *s = c->s;
    qbuf *b = &s->http->body;
    qbuf_reset(b);
    if (qbuf_puts(b, "{\"status\":\"ok\",\"keys\":") < 0 || qbuf_putu64(b, trie_count(s->e.t)) < 0 ||
        qbuf_putc(b, '}') < 0)
        return -1;
    return http_ok(c, req, CMD_HTTP_HEALTH, HTTP_JSON_CONTENT_TYPE);
}

typedef struct route {
    const char *path;
    int cmd;
    int post_ok;
} route;

/* Access control on HTTP: the routes that change or reveal state need the
 * password as `Authorization: Bearer <password>` or `X-Qac-Token: <password>`
 * when requirepass is set. Returns 1 when the request may go on, 0 when the
 * 401 was written (rc in *rc). A wrong token counts toward auth-max-failures
 * of the connection, which is then closed. */
static int http_auth(srv_conn *c, const http_request *req, int cmd, int *rc) {
    srv *s = c->s;
    if (!eng_auth_required(&s->e)) return 1;
    const char *v = NULL;
    size_t n = 0;
    int given = http_auth_token(req, &v, &n);
    if (given && eng_auth_check(&s->e, v, n)) return 1;
    int bad = given;
    if (bad) {
        s->e.stats.errs[ERR_WRONGPASS]++;
        c->client.auth_fails++;
    } else {
        s->e.stats.errs[ERR_NOAUTH]++;
        s->e.stats.auth_refused++;
    }
    int close_now = bad && c->client.auth_fails >= s->cfg->auth_max_failures;
    http_resp_opts o = {.keep_alive = req->keep_alive && !s->stopping && !close_now,
                        .cors_origin = s->cfg->cors_origin,
                        .head_only = req->method == HTTP_REQ_HEAD};
    srv__http_count(s, cmd, 401);
    if (!o.keep_alive) c->close_after_flush = 1;
    *rc = http_write_unauthorized(c->dst, bad, close_now, &o);
    return 0;
}

static const route routes[] = {
    {"/v1/complete", CMD_HTTP_COMPLETE, 0}, {"/v1/suggest", CMD_HTTP_SUGGEST, 0}, {"/v1/accept", CMD_HTTP_ACCEPT, 1},
    {"/v1/stats", CMD_HTTP_STATS, 0},       {"/metrics", CMD_HTTP_METRICS, 0},
    {"/healthz", CMD_HTTP_HEALTH, 0},
};

int srv__http_on_request(const http_request *req, void *ud) {
    srv_conn *c = ud;
    srv *s = c->s;
    if (c->closing) return 1;
    c->dst = srv__reply_dst(c);
    size_t mark = c->dst->len;
    s->e.wait_lsn = 0;
    const route *r = NULL;
    for (size_t i = 0; i < ARRAY_LEN(routes); i++)
        if (req->path && !strcmp(req->path, routes[i].path)) r = &routes[i];
    int rc;
    http_resp_opts mo = {.keep_alive = req->keep_alive && !s->stopping, .cors_origin = s->cfg->cors_origin};
    if (req->error_status) {
        rc = http_error(c, req, r ? r->cmd : CMD_HTTP_OTHER, req->error_status,
                        req->error_code ? req->error_code : "bad_request",
                        req->error_message ? req->error_message : "bad request", NULL);
    } else if (!r) {
        rc = http_error(c, req, CMD_HTTP_OTHER, 404, "not_found", "no such endpoint", NULL);
    } else if ((rc = http_write_method_reply(c->dst, req, r->post_ok, &mo)) != 0) {
        if (rc > 0) srv__http_count(s, r->cmd, rc), rc = 0; /* 204 preflight or 405 written */
        if (!mo.keep_alive) c->close_after_flush = 1;
    } else if ((r->cmd == CMD_HTTP_ACCEPT || r->cmd == CMD_HTTP_STATS || r->cmd == CMD_HTTP_METRICS) &&
               !http_auth(c, req, r->cmd, &rc)) {
        /* 401 written */
    } else {
        switch (r->cmd) {
        case CMD_HTTP_COMPLETE: rc = route_complete(c, req, 0); break;
        case CMD_HTTP_SUGGEST: rc = route_complete(c, req, 1); break;
        case CMD_HTTP_ACCEPT: rc = route_accept(c, req); break;
        case CMD_HTTP_STATS: rc = route_stats(c, req, 0); break;
        case CMD_HTTP_METRICS: rc = route_stats(c, req, 1); break;
        default: rc = route_health(c, req); break;
        }
    }
    if (rc >= 0 && !s->http->deferred) rc = srv__reply_done(c, c->dst, mark, s->e.wait_lsn, -1);
    s->http->deferred = 0;
    c->dst = NULL;
    if (rc < 0) {
        LOG_W("client.closed", "reason=out_of_memory msg=\"answering an HTTP request\"");
        srv__conn_close(c);
        return 1;
    }
    if (s->http->body.cap > SRV_BUF_KEEP) qbuf_free(&s->http->body);
    if (s->http->text.cap > SRV_BUF_KEEP) qbuf_free(&s->http->text);
    return c->close_after_flush ? 1 : 0;
}
