/* upstream_serve.c -- `qac serve --upstreams SPEC`: the merger's settings,
 * listeners and client connections (engine/upstream.h has the whole).
 *
 * One libuv loop, as `qac serve`: a text/RESP port (--port) and an optional
 * HTTP port (--http-port: /v1/complete, /v1/suggest, /v1/accept, /v1/stats,
 * /metrics, /healthz). A connection's requests are
 * queued in arrival order (at most UPS_PIPELINE; it stops reading while the
 * queue is full). COMPLETEs run side by side (a pipelining client's requests
 * reach a shard in one write); a change runs alone, after what came before
 * it and before what follows, so a connection reads its own changes. Answers
 * leave in arrival order, those ready together in one write (pump and flush:
 * one write per batch, not per reply). Measured with
 * tests/bench/merger_saturation.sh, one connection-at-a-time merger (A) vs
 * this (B), load ~7 on 2 cores: COMPLETE ne 51.5k -> 73.5k requests per
 * merger CPU-second (x1.43), INFIX 35.6k -> 55.6k (x1.56).
 *
 * Settings (each with its limit and error, docs/PROTOCOL.md "Merger"):
 *   --upstreams SPEC        the shards and their replicas (upstream_pool.h)
 *   --shard-map FILE        the map `qac build --shards` wrote (without it every
 *                           COMPLETE asks every shard, and changes need one shard)
 *   --port N, --http-port N, --bind ADDR
 *   --deadline-ms N         a request not answered by every shard it needs in N ms
 *                           fails (1..UPS_MAX_DEADLINE_MS, default 1000)
 *   --max-upstreams N       replicas over all shards (1..UPS_MAX_UPSTREAMS_CAP, 64)
 *   --max-inflight N        requests waiting on shards; one more is refused with
 *                           ERR LIMIT / HTTP 503 (1..UPS_MAX_INFLIGHT_CAP, 1024)
 *   --max-k N               largest LIMIT (1..TRIE_MAX_K, 100)
 *   --fuzzy-first-any yes|no  as the shards run: yes sends typo'd prefixes to all
 *   --upstream-pass-file FILE the shards' requirepass (or $QAC_UPSTREAM_PASS; the
 *                           file wins): sent with AUTH on every shard connection
 *   --requirepass-file FILE the merger's own requirepass (or $QAC_REQUIREPASS, or
 *                           --requirepass P, later wins: as one server, the flag's
 *                           value is overwritten in argv and a warning logged)
 *   --auth-max-failures N   wrong passwords on one connection before it is closed
 *   --cors-origin ORIGIN    Access-Control-Allow-Origin, as one server's cors-origin
 *   --req-cache N           finished requests (shard calls, write blocks) kept for reuse with
 *                           their buffers (0..UPS_MAX_REQ_CACHE, default 256): past
 *                           warm-up a request allocates nothing in the merger
 * Passwords are checked as one server's (config_pass_check) and never logged.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/cli.h"
#include "common/log.h"
#include "engine/config.h"
#include "engine/upstream_internal.h"


static void usage(FILE *f) {
    fprintf(f,
            "usage: qac serve --upstreams SPEC [--shard-map FILE] [OPTIONS]\n"
            "\n"
            "The shard merger: holds no index, answers COMPLETE (text, RESP, HTTP\n"
            "/v1/complete) by asking the shards that can hold the answer and merging\n"
            "their top k exactly; ADD/INCR/DEL/ACCEPT (HTTP /v1/accept) go to the owning\n"
            "shard; STATS, /v1/stats and /metrics show the merger's own counters.\n"
            "\n"
            "  --upstreams SPEC       shards separated by ';', a shard's replicas by ',':\n"
            "                         HOST:PORT,HOST:PORT;HOST:PORT,... (their RESP ports)\n"
            "  --shard-map FILE       INDEX.shards from 'qac build --shards' (shards in SPEC\n"
            "                         are in its order)\n"
            "  --port N               text/RESP port [7700]\n"
            "  --http-port N          HTTP port, 0 = none [0]\n"
            "  --bind ADDR            IPv4 address to listen on [127.0.0.1]\n"
            "  --deadline-ms N        fail a request no replica of a needed shard answered\n"
            "                         within N ms (1..%d) [%d]\n"
            "  --max-upstreams N      replicas over all shards (1..%d) [%d]\n"
            "  --max-inflight N       requests waiting on shards (1..%d) [%d]\n"
            "  --max-k N              largest LIMIT (1..%d) [100]\n"
            "  --fuzzy-first-any yes|no  the shards' setting: yes sends typo'd prefixes to every shard [no]\n"
            "  --upstream-pass-file FILE  the shards' requirepass (FILE's content, a final newline\n"
            "                         dropped; or $%s),\n"
            "                         sent with AUTH on every connection to a shard [none]\n"
            "  --requirepass-file FILE  the merger's own requirepass (or $%s, or --requirepass P,\n"
            "                         visible in ps for an instant): AUTH / Bearer token needed for\n"
            "                         ADD, INCR, DEL, ACCEPT, STATS, /v1/accept, /v1/stats, /metrics [none]\n"
            "  --auth-max-failures N  wrong passwords on one connection before it is closed [%d]\n"
            "  --cors-origin ORIGIN   Access-Control-Allow-Origin on HTTP answers [none]\n"
            "  --req-cache N          finished requests kept for reuse with their buffers (0..%d) [%d]\n"
            "  --log-level LEVEL      debug, info, warn, error, off [info]\n",
            UPS_MAX_DEADLINE_MS, UPS_DEFAULT_DEADLINE_MS, UPS_MAX_UPSTREAMS_CAP, UPS_DEFAULT_MAX_UPSTREAMS,
            UPS_MAX_INFLIGHT_CAP, UPS_DEFAULT_MAX_INFLIGHT, TRIE_MAX_K, UPS_PASS_ENV, SRV_REQUIREPASS_ENV,
            SRV_AUTH_MAX_FAILURES, UPS_MAX_REQ_CACHE, UPS_DEFAULT_REQ_CACHE);
}

static int num(cli *cl, const char *name, const char *v, unsigned lo, unsigned hi, unsigned *out) {
    uint64_t n;
    if (qparse_u64(v, strlen(v), &n) < 0 || n < lo || n > hi) {
        cli_error(cl, "bad --%s '%s' (want %u..%u)", name, v, lo, hi);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

/* A password from the environment, a file's content (a final newline
 * dropped) or a flag, checked as requirepass is, into out (SRV_REQUIREPASS_MAX
 * + 1 bytes); "" stays off. -1 with the message given to cl. */
static int take_pass(cli *cl, const char *what, const char *path, const char *value, char *out) {
    char err[200];
    size_t n = 0;
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f) return cli_error(cl, "%s: cannot read '%s'", what, path), -1;
        n = fread(out, 1, SRV_REQUIREPASS_MAX + 1, f);
        fclose(f);
        if (n > 0 && out[n - 1] == '\n') n--;
        if (n > 0 && out[n - 1] == '\r') n--;
        if (n > SRV_REQUIREPASS_MAX) return cli_error(cl, "%s: over %d bytes", what, SRV_REQUIREPASS_MAX), -1;
        out[n] = 0;
    } else {
        if (strlen(value) > SRV_REQUIREPASS_MAX) return cli_error(cl, "%s: over %d bytes", what, SRV_REQUIREPASS_MAX), -1;
        snprintf(out, SRV_REQUIREPASS_MAX + 1, "%s", value);
    }
    if (config_pass_check(what, out, err, sizeof err) < 0) return cli_error(cl, "%s", err), -1;
    return 0;
}

/* ---- connections ---------------------------------------------------------- */

static void on_closed(uv_handle_t *h) {
    uconn *c = h->data;
    qbuf_free(&c->in);
    qbuf_free(&c->out);
    http_conn_free(c->hc);
    qfree(c);
}

static void conn_close(uconn *c) {
    if (c->closing) return;
    c->closing = 1;
    for (ureq *q = c->head, *nx; q; q = nx) {
        nx = q->next;
        ureq_drop(q);
    }
    c->head = c->tail = NULL;
    uv_close((uv_handle_t *)&c->h, on_closed);
}

/* A write's bytes, kept until libuv is done. Written blocks go to the
 * merger's free list (s->w_free, at most req-cache of them, none over
 * UPS_WRITE_KEEP bytes): answers leave as their requests finish, so several
 * writes of one connection are often in flight at once. */
#define UPS_WRITE_KEEP (2 * UPS_FLUSH_MAX)
#define UPS_WRITE_MIN 4096 /* a new block's least size */
typedef struct uwrite {
    uv_write_t w;
    uconn *c;
    int close_after;
    size_t cap;
    struct uwrite *next; /* in s->w_free */
    char data[];
} uwrite;

static void on_written(uv_write_t *w, int status) {
    uwrite *u = (uwrite *)w;
    uconn *c = u->c;
    usrv *s = c->s;
    if ((status < 0 || u->close_after) && !c->closing) conn_close(c);
    if (s->w_nfree < s->cfg.req_cache && u->cap <= UPS_WRITE_KEEP) {
        u->next = s->w_free;
        s->w_free = u;
        s->w_nfree++;
    } else {
        qfree(u);
    }
}

/* At exit: the kept write blocks. */
static void write_cache_free(usrv *s) {
    for (uwrite *u = s->w_free, *nx; u; u = nx) nx = u->next, qfree(u);
    s->w_free = NULL;
    s->w_nfree = 0;
}

static void send_bytes(uconn *c, const char *p, size_t n, int close_after) {
    if (c->closing) return;
    usrv *s = c->s;
    uwrite *u = s->w_free;
    if (u && u->cap >= n) {
        s->w_free = u->next;
        s->w_nfree--;
    } else {
        size_t cap = n < UPS_WRITE_MIN ? UPS_WRITE_MIN : n;
        if ((u = qmalloc(sizeof *u + cap))) u->cap = cap;
    }
    if (!u) {
        conn_close(c);
        return;
    }
    memcpy(u->data, p, n);
    u->c = c;
    u->close_after = close_after;
    uv_buf_t b = uv_buf_init(u->data, (unsigned)n);
    if (uv_write(&u->w, (uv_stream_t *)&c->h, &b, 1, on_written) < 0) {
        qfree(u);
        conn_close(c);
    }
}

static void pump(uconn *c);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

/* Starts what may run now: COMPLETEs (and answers known at once) run side by
 * side, so a pipelining client's requests reach a shard in one write; a
 * change runs alone, after everything before it and before anything after
 * it, so a connection's reads see its own changes. */
static void start_ready(uconn *c) {
    for (ureq *q = c->head; q && !c->closing; q = q->next) {
        if (q->type == UQ_CHANGE && q != c->head) return;
        if (!q->started) ureq_start(q);
        if (q->type == UQ_CHANGE) return;
    }
}

/* Sends the finished answers at the head of the queue, in order, in one
 * write (a new one past UPS_FLUSH_MAX bytes), and starts what may run next
 * (an answer known at once finishes inside ureq_start: its uconn_done finds
 * in_pump set and this loop takes it). */
static void flush(uconn *c) {
    qbuf *out = &c->out;
    qbuf_reset(out);
    int close_after = 0;
    for (;;) {
        while (c->head && c->head->finished && !close_after) {
            ureq *q = c->head;
            c->head = q->next;
            if (!c->head) c->tail = NULL;
            c->queued--;
            close_after = !q->keep_alive; /* HTTP Connection: close, the last wrong AUTH, a fatal parse error */
            if (qbuf_append(out, q->out.data, q->out.len) < 0) close_after = 1;
            ureq_drop(q);
            if (out->len >= UPS_FLUSH_MAX) {
                send_bytes(c, out->data, out->len, 0);
                out->len = 0;
            }
        }
        if (close_after || c->closing) break;
        start_ready(c);
        if (!(c->head && c->head->finished)) break;
    }
    if (out->len || close_after) send_bytes(c, out->data, out->len, close_after);
    if (out->cap > UPS_WRITE_KEEP) qbuf_free(out);
    if (close_after) c->close_after = 1;
}

void uconn_enqueue(uconn *c, ureq *q) {
    if (c->tail) c->tail->next = q;
    else c->head = q;
    c->tail = q;
    c->queued++;
}

void uconn_done(uconn *c, ureq *q) {
    (void)q; /* finished: it leaves when it reaches the head */
    pump(c);
}

static int on_http(const http_request *r, void *ud) {
    uconn *c = ud;
    ureq *q = ureq_from_http(c, r);
    if (!q) return 1;
    uconn_enqueue(c, q);
    return c->closing || c->close_after;
}

/* Parses what is buffered into requests while the queue has room, sends
 * the answers that are ready and starts what may run, until the input is
 * used up or the queue is full; then reads again or stops reading. The only
 * driver of a connection (re-entered from an answer known at once: the
 * outer call goes on). */
static void pump(uconn *c) {
    if (c->in_pump) return;
    c->in_pump = 1;
    int more = 0;
    for (;;) {
        while (!c->closing && !c->close_after && c->queued < UPS_PIPELINE && c->in.len && !c->http) {
            int r = proto_parse(&c->pp, c->in.data, c->in.len);
            if (r == PROTO_MORE) {
                more = 1;
                break;
            }
            ureq *q;
            if (r == PROTO_ERR) {
                if (!(q = ureq_ready(c, c->pp.kind))) return conn_close(c);
                proto_reply_error(&q->out, c->pp.kind, c->pp.err, c->pp.errmsg);
                if (c->pp.fatal) c->close_after = 1, q->keep_alive = 0;
            } else if (c->pp.argc == 0) {
                qbuf_consume(&c->in, c->pp.consumed);
                continue;
            } else if (!(q = ureq_from_args(c, c->pp.kind, c->pp.argc, c->pp.argv))) {
                return conn_close(c);
            }
            qbuf_consume(&c->in, c->pp.consumed);
            uconn_enqueue(c, q);
        }
        if (!c->closing) flush(c);
        if (more || c->closing || c->close_after || c->http || !c->in.len || c->queued >= UPS_PIPELINE) break;
    }
    c->in_pump = 0;
    if (c->closing) return;
    int want = !c->close_after && c->queued < UPS_PIPELINE;
    if (want && !c->reading) {
        c->reading = 1;
        uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read);
    } else if (!want && c->reading) c->reading = 0, uv_read_stop((uv_stream_t *)&c->h);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
    uconn *c = h->data;
    if (qbuf_reserve(&c->in, UPS_READ_CHUNK) < 0) {
        *b = uv_buf_init(NULL, 0);
        return;
    }
    *b = uv_buf_init(c->in.data + c->in.len, UPS_READ_CHUNK);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
    uconn *c = st->data;
    if (n < 0) return conn_close(c);
    if (n == 0) return;
    if (c->http) {
        int rc = http_conn_feed(c->hc, b->base, (size_t)n, on_http, c);
        if (rc > 0) {
            qbuf e;
            qbuf_init(&e);
            http_resp_opts o = {.keep_alive = 0};
            http_write_json_error(&e, rc, http_conn_error_code(c->hc), http_conn_error(c->hc), &o);
            send_bytes(c, e.data, e.len, 1);
            qbuf_free(&e);
            c->close_after = 1;
        }
        pump(c); /* sends what is ready, starts what may run, stops reading when the queue is full */
        return;
    }
    c->in.len += (size_t)n;
    pump(c);
}

static void accept_conn(uv_stream_t *lis, int status, int http) {
    usrv *s = lis->data;
    if (status < 0) return;
    uconn *c = qcalloc(1, sizeof *c);
    if (!c) return;
    c->s = s;
    c->http = http;
    if (http && !(c->hc = http_conn_new(NULL))) {
        qfree(c);
        return;
    }
    qbuf_init(&c->in);
    qbuf_init(&c->out);
    proto_parser_init(&c->pp, &s->plim, c->argv);
    uv_tcp_init(s->loop, &c->h);
    c->h.data = c;
    if (uv_accept(lis, (uv_stream_t *)&c->h) < 0) {
        uv_close((uv_handle_t *)&c->h, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->h, 1);
    c->reading = 1;
    uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read);
}

static void on_conn_text(uv_stream_t *lis, int status) { accept_conn(lis, status, 0); }
static void on_conn_http(uv_stream_t *lis, int status) { accept_conn(lis, status, 1); }

static int listen_on(usrv *s, uv_tcp_t *h, unsigned port, uv_connection_cb cb, const char *what) {
    struct sockaddr_in sa;
    int rc;
    uv_tcp_init(s->loop, h);
    h->data = s;
    if ((rc = uv_ip4_addr(s->cfg.bind, (int)port, &sa)) < 0 || (rc = uv_tcp_bind(h, (const struct sockaddr *)&sa, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)h, 511, cb)) < 0) {
        LOG_E("server.listen_failed", "bind=%s port=%u protocol=%s error=%s", s->cfg.bind, port, what,
              uv_strerror(rc));
        return -1;
    }
    LOG_I("server.listening", "bind=%s port=%u protocol=%s", s->cfg.bind, port, what);
    return 0;
}

static void on_signal(uv_signal_t *h, int sig) {
    LOG_I("server.stopping", "signal=%d", sig);
    uv_stop(h->loop);
}

/* Parses argv into s->cfg; returns -1 to exit with *status. */
static int parse_args(usrv *s, int argc, char **argv, int *status) {
    static char own_pw[SRV_REQUIREPASS_MAX + 1], ups_pw[SRV_REQUIREPASS_MAX + 1];
    ups_cfg *g = &s->cfg;
    *g = (ups_cfg){.bind = "127.0.0.1", .log_level = "info", .port = 7700, .deadline_ms = UPS_DEFAULT_DEADLINE_MS,
                   .max_upstreams = UPS_DEFAULT_MAX_UPSTREAMS, .max_inflight = UPS_DEFAULT_MAX_INFLIGHT,
                   .max_k = TRIE_MAX_K, .auth_max_failures = SRV_AUTH_MAX_FAILURES, .req_cache = UPS_DEFAULT_REQ_CACHE};
    enum { O_UPS = 256, O_MAP, O_PORT, O_HTTP, O_BIND, O_DEAD, O_MAXUP, O_MAXIN, O_MAXK, O_FFA, O_LOG, O_UPF, O_RPF,
           O_RP, O_AMF, O_CORS, O_RQC };
    static const cli_opt options[] = {
        {O_UPS, "upstreams", CLI_VALUE},      {O_MAP, "shard-map", CLI_VALUE},
        {O_PORT, "port", CLI_VALUE},          {O_HTTP, "http-port", CLI_VALUE},
        {O_BIND, "bind", CLI_VALUE},          {O_DEAD, "deadline-ms", CLI_VALUE},
        {O_MAXUP, "max-upstreams", CLI_VALUE}, {O_MAXIN, "max-inflight", CLI_VALUE},
        {O_MAXK, "max-k", CLI_VALUE},         {O_FFA, "fuzzy-first-any", CLI_VALUE},
        {O_LOG, "log-level", CLI_VALUE},      {O_UPF, "upstream-pass-file", CLI_VALUE},
        {O_RPF, "requirepass-file", CLI_VALUE}, {O_RP, "requirepass", CLI_VALUE},
        {O_AMF, "auth-max-failures", CLI_VALUE}, {O_CORS, "cors-origin", CLI_VALUE},
        {O_RQC, "req-cache", CLI_VALUE},
    };
    cli cl;
    cli_init(&cl, "serve", usage, options, ARRAY_LEN(options), argc, argv);
    const char *env;
    if ((env = getenv(SRV_REQUIREPASS_ENV))) {
        if (take_pass(&cl, "$" SRV_REQUIREPASS_ENV, NULL, env, own_pw) < 0) return *status = 2, -1;
        g->requirepass = own_pw;
    }
    if ((env = getenv(UPS_PASS_ENV))) {
        if (take_pass(&cl, "$" UPS_PASS_ENV, NULL, env, ups_pw) < 0) return *status = 2, -1;
        g->upstream_pass = ups_pw;
    }
    int o;
    while ((o = cli_getopt(&cl)) >= 0) {
        const char *v = cl.val;
        int bad = 0;
        switch (o) {
        case O_UPS: g->spec = v; break;
        case O_MAP: g->map_path = v; break;
        case O_PORT: bad = num(&cl, "port", v, 1, 65535, &g->port); break;
        case O_HTTP: bad = num(&cl, "http-port", v, 0, 65535, &g->http_port); break;
        case O_BIND: g->bind = v; break;
        case O_DEAD: bad = num(&cl, "deadline-ms", v, 1, UPS_MAX_DEADLINE_MS, &g->deadline_ms); break;
        case O_MAXUP: bad = num(&cl, "max-upstreams", v, 1, UPS_MAX_UPSTREAMS_CAP, &g->max_upstreams); break;
        case O_MAXIN: bad = num(&cl, "max-inflight", v, 1, UPS_MAX_INFLIGHT_CAP, &g->max_inflight); break;
        case O_MAXK: bad = num(&cl, "max-k", v, 1, TRIE_MAX_K, &g->max_k); break;
        case O_FFA:
            if (!strcmp(v, "yes")) g->fuzzy_first_any = 1;
            else if (!strcmp(v, "no")) g->fuzzy_first_any = 0;
            else bad = 1, cli_error(&cl, "bad --fuzzy-first-any '%s' (yes, no)", v);
            break;
        case O_LOG:
            if (log_level_parse(v) < 0) bad = 1, cli_error(&cl, "bad --log-level '%s'", v);
            g->log_level = v;
            break;
        case O_UPF: bad = take_pass(&cl, "--upstream-pass-file", v, NULL, ups_pw) < 0, g->upstream_pass = ups_pw; break;
        case O_RPF: bad = take_pass(&cl, "--requirepass-file", v, NULL, own_pw) < 0, g->requirepass = own_pw; break;
        case O_RP:
            bad = take_pass(&cl, "--requirepass", NULL, v, own_pw) < 0, g->requirepass = own_pw;
            s->requirepass_from_flag = 1;
            for (int j = 0; j < argc; j++) /* hide it from ps: v points into one of argv's strings */
                if (v >= argv[j] && v < argv[j] + strlen(argv[j]) + 1) memset(argv[j] + (v - argv[j]), 'x', strlen(v));
            break;
        case O_AMF: bad = num(&cl, "auth-max-failures", v, 1, 1000000, &g->auth_max_failures); break;
        case O_CORS: g->cors_origin = v; break;
        case O_RQC: bad = num(&cl, "req-cache", v, 0, UPS_MAX_REQ_CACHE, &g->req_cache); break;
        }
        if (bad) return *status = 2, -1;
    }
    if (o == CLI_EXIT) return *status = cl.status, -1;
    if (cl.ind < argc) return *status = cli_error(&cl, "unexpected argument '%s'", argv[cl.ind]), -1;
    if (!g->spec) return *status = cli_error(&cl, "missing --upstreams SPEC"), -1;
    if (g->requirepass && !g->requirepass[0]) g->requirepass = NULL; /* "" = off, as one server */
    if (g->upstream_pass && !g->upstream_pass[0]) g->upstream_pass = NULL;
    return 0;
}

int upstream_main(int argc, char **argv) {
    static usrv s; /* the shard map is ~100 KB */
    static shardmap map;
    int status;
    memset(&s, 0, sizeof s);
    if (parse_args(&s, argc, argv, &status) < 0) return status;
    log_set_level(log_level_parse(s.cfg.log_level));
    signal(SIGPIPE, SIG_IGN);
    char err[600];
    uv_loop_t *loop = uv_default_loop();
    s.loop = loop;
    s.start_ns = qtime_ns();
    s.plim = (proto_limits){PROTO_MAX_LINE, PROTO_MAX_ARGS, PROTO_MAX_BULK};
    if (ups_pool_parse(&s.pool, loop, s.cfg.spec, s.cfg.max_upstreams, err, sizeof err) < 0) {
        fprintf(stderr, "qac serve: %s; see 'qac serve --upstreams x --help'\n", err);
        return 2;
    }
    s.pool.auth = s.cfg.upstream_pass;
    s.pool.call_cache = s.cfg.req_cache;
    if (s.requirepass_from_flag)
        LOG_W("auth.requirepass_flag", "msg=\"requirepass given as a flag: other local users may have seen it in ps "
              "before it was hidden; prefer --requirepass-file (mode 600) or $" SRV_REQUIREPASS_ENV "\"");
    if (s.cfg.map_path) {
        if (shardmap_load(s.cfg.map_path, &map, err, sizeof err) < 0) {
            LOG_E("shardmap.load_failed", "error=%s", err);
            return 1;
        }
        if ((int)map.nshards != s.pool.nshards) {
            LOG_E("shardmap.mismatch", "map=%u upstreams=%d msg=\"--upstreams must list one replica group per shard of "
                  "the map, in its order\"", map.nshards, s.pool.nshards);
            return 1;
        }
        s.map = &map;
        s.key_form = map.key_form;
    }
    uv_tcp_t lis, hlis;
    if (listen_on(&s, &lis, s.cfg.port, on_conn_text, "text/RESP") < 0) return 1;
    if (s.cfg.http_port && listen_on(&s, &hlis, s.cfg.http_port, on_conn_http, "HTTP") < 0) return 1;
    uv_signal_t si, st;
    uv_signal_init(loop, &si);
    uv_signal_init(loop, &st);
    uv_signal_start(&si, on_signal, SIGINT);
    uv_signal_start(&st, on_signal, SIGTERM);
    LOG_I("server.ready", "mode=merger shards=%d map=%s deadline_ms=%u requirepass=%s upstream_pass=%s",
          s.pool.nshards, s.cfg.map_path ? s.cfg.map_path : "none", s.cfg.deadline_ms,
          s.cfg.requirepass ? "set" : "none", s.cfg.upstream_pass ? "set" : "none");
    uv_run(loop, UV_RUN_DEFAULT);
    ups_pool_close(&s.pool);
    ureq_cache_free(&s);
    write_cache_free(&s);
    LOG_I("server.stopped", "requests=%llu merged=%llu errors=%llu deadline_errors=%llu failovers=%llu",
          (unsigned long long)s.requests, (unsigned long long)s.merged, (unsigned long long)s.errors,
          (unsigned long long)s.deadline_errors, (unsigned long long)s.pool.failovers);
    return 0;
}
