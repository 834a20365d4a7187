/* upstream_internal.h -- the merger's server state, shared by
 * upstream_serve.c (settings, listeners, connections) and upstream_req.c
 * (requests: parse, route, ask, merge, answer). Not a public interface. */
#ifndef QAC_UPSTREAM_INTERNAL_H
#define QAC_UPSTREAM_INTERNAL_H

#include <uv.h>

#include "common/util.h"
#include "engine/proto/http.h"
#include "engine/proto/proto.h"
#include "engine/upstream.h"
#include "engine/upstream_pool.h"
#include "text/shardmap.h"

typedef struct ureq ureq;

#define UPS_PIPELINE 16               /* requests queued on one connection before it stops reading */
#define UPS_ARGS_MAX 24               /* arguments of a command sent to a shard */
#define UPS_DEFAULT_DEADLINE_MS 1000  /* deadline-ms default */
#define UPS_MAX_DEADLINE_MS 60000
#define UPS_DEFAULT_MAX_INFLIGHT 1024 /* max-inflight default: requests waiting on shards */
#define UPS_MAX_INFLIGHT_CAP 1000000
#define UPS_READ_CHUNK 16384
#define UPS_FLUSH_MAX 65536           /* answers sent in one write at most (more: another write) */
#define UPS_KIND_HTTP 2 /* besides PROTO_TEXT, PROTO_RESP */
#define UPS_PASS_ENV "QAC_UPSTREAM_PASS" /* the shards' password (or --upstream-pass-file) */
#define UPS_DEFAULT_REQ_CACHE 256     /* req-cache default: finished requests kept for reuse */
#define UPS_MAX_REQ_CACHE 65536
#define UPS_REQ_KEEP_BYTES 65536      /* a cached request frees any one buffer over this */

typedef struct ups_cfg {
    const char *spec, *map_path, *bind, *log_level;
    const char *cors_origin;   /* NULL: no CORS headers (as one server's cors-origin) */
    const char *requirepass;   /* NULL: none; else AUTH / Bearer token as one server (docs/PROTOCOL.md) */
    const char *upstream_pass; /* NULL: none; else sent with AUTH to every shard connection */
    unsigned port, http_port, deadline_ms, max_upstreams, max_inflight, max_k, auth_max_failures, req_cache;
    int fuzzy_first_any;
} ups_cfg;

typedef struct usrv {
    uv_loop_t *loop;
    ups_cfg cfg;
    ups_pool pool;
    shardmap *map; /* NULL: every COMPLETE asks every shard; changes need one shard */
    int key_form;
    unsigned inflight;
    uint64_t requests, merged, errors, deadline_errors, inflight_errors;
    uint64_t auth_ok, auth_failures, auth_refused; /* as one server's STATS auth_* */
    int requirepass_from_flag; /* --requirepass given: warned at start */
    uint64_t start_ns;
    proto_limits plim;
    /* finished requests kept for reuse with their buffers (at most
     * cfg.req_cache), so that the steady state allocates nothing per request */
    ureq *req_free;
    unsigned req_nfree;
    struct uwrite *w_free; /* written blocks kept for the next writes (at most cfg.req_cache) */
    unsigned w_nfree;
    uint64_t req_allocs, req_reuses; /* requests allocated / taken from req_free */
} usrv;

typedef struct uconn {
    uv_tcp_t h;
    usrv *s;
    int http;
    qbuf in;
    proto_parser pp;
    proto_arg argv[PROTO_MAX_ARGS];
    http_conn *hc;
    ureq *head, *tail; /* queued requests, head in flight or ready */
    int queued;
    int closing, reading, close_after, in_pump;
    qbuf out;               /* flush's batch of answers (kept: no allocation per batch) */
    int authed;             /* AUTH succeeded on this connection (text/RESP) */
    unsigned auth_fails;    /* wrong passwords (AUTH or HTTP token): closed at auth-max-failures */
} uconn;

enum { UQ_READY, UQ_COMPLETE, UQ_CHANGE };

typedef struct uslot {
    ureq *q;
    int attempt;
    int replica; /* the replica asked last */
    int done;
    char *data; /* copies of this shard's displays (the merge points into them) */
    size_t datacap; /* kept across reuses (req_reset) */
} uslot;

struct ureq {
    uconn *c; /* NULL once the connection closed */
    usrv *s;
    int kind, type;
    int keep_alive, head_only;
    int argc;
    const char *argv[UPS_ARGS_MAX];
    size_t argvlen[UPS_ARGS_MAX];
    char *store; /* the arguments' copies; storecap kept across reuses */
    size_t storecap;
    const char *prefix;
    size_t plen;
    unsigned k;
    int withscores, withedits, withmatch, typos, infix;
    int opensearch; /* HTTP /v1/suggest: the OpenSearch array instead of /v1/complete's object */
    int http_accept; /* HTTP /v1/accept: the shard's ACCEPT reply becomes {"query","score"} or an HTTP error */
    uint64_t mask; /* shards asked */
    int nasked, waiting, outstanding, started, finished, timer_closed, failed;
    uslot slot[SHARDMAP_MAX_SHARDS];
    ups_merge m;
    qbuf out;  /* the encoded reply */
    qbuf body; /* an HTTP answer's body while it is written */
    uv_timer_t timer;
    uint64_t t0;
    ureq *next;
};

/* upstream_req.c */
ureq *ureq_from_args(uconn *c, int kind, int argc, const proto_arg *argv);
ureq *ureq_from_http(uconn *c, const http_request *r);
ureq *ureq_ready(uconn *c, int kind); /* an answer already known: fill ->out */
void ureq_start(ureq *q);
void ureq_drop(ureq *q); /* its connection closed */
void ureq_cache_free(usrv *s); /* at exit: the requests kept for reuse */
/* upstream_stats.c: the merger's counters (STATS, /v1/stats, /metrics) */
struct eng_stats_snap;
void ups_stats(const usrv *s, struct eng_stats_snap *snap);
/* upstream_serve.c */
void uconn_enqueue(uconn *c, ureq *q);
void uconn_done(uconn *c, ureq *q); /* q's answer is in q->out: send it, go on with the queue */

#endif
