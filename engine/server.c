/* server.c -- the libuv event loop of `qac serve`.
 *
 * One loop, one thread. Handles:
 *   listen_text  text + RESP clients (port)         -> srv_conn, is_http = 0
 *   listen_http  HTTP/1.1 clients (http-port, opt.) -> srv_conn, is_http = 1
 *   sweep        timer: closes connections idle past idle-timeout
 *   sigint/term  start a clean shutdown
 *   grace        timer: force-closes what has not drained SRV_SHUTDOWN_GRACE_MS
 *                after the shutdown began
 *
 * A connection (srv_conn; the uv_tcp_t is its first member):
 *
 *   kernel --read--> rbuf [request|request|partial...] --proto_parse/eng_exec-->
 *   out  [replies not yet handed to the kernel]  --uv_try_write-->  kernel
 *        `-- what try_write could not take moves (by swapping buffers, no copy)
 *            to wbuf, owned by the one in-flight uv_write.
 *
 *   Requests are parsed in place in rbuf (text quoting is undone in place) and
 *   run synchronously, each reply appended to `out` in request order (see
 *   cmd.h for the request state machine and how it will keep order once a
 *   stage waits). After each read batch the whole of `out` goes out with one
 *   uv_try_write: pipelined requests get one write per batch.
 *   HTTP connections feed the bytes to http_conn (engine/http.h), which keeps
 *   its own bounded arena; routes write head + body into `out` the same way.
 *
 * Limits and what enforces them (each a setting in config.h):
 *   max-line / max-args / max-bulk  proto_parse errors; rbuf never grows past
 *                                   the largest legal request (rmax)
 *   max-clients                     one over: "-ERR LIMIT ..." (HTTP: 503), close
 *   output-soft-limit               pending output >= soft: stop reading the
 *                                   socket (requests already in rbuf still
 *                                   run); resume once drained below it (BIND 9)
 *   output-hard-limit               pending output > hard: close at once
 *   idle-timeout                    no bytes read for that long: close
 *   http-max-*                      http_conn limits (413, 414, 431)
 * So per connection memory is bounded by rmax + hard limit + one reply
 * (with the defaults one read of tiny requests cannot reach the hard limit:
 * 16 KiB of COMPLETE x LIMIT 100 is ~4 MB of replies).
 *
 * Access control (requirepass; docs/PROTOCOL.md): each connection carries
 * `authed` and its count of wrong passwords; they are copied into the eng
 * around eng_exec (cmd.c refuses NOAUTH commands and runs AUTH). HTTP routes
 * that change or reveal state check the Bearer / X-Qac-Token header first
 * (http_auth: 401). Closing at auth-max-failures goes through ENG_CLOSE /
 * close_after_flush like QUIT.
 *
 * Lifetimes: a srv_conn is freed only in its uv_close callback, when its
 * reference count (1 for the handle; a future async request adds one) drops
 * to zero. conn_close() is idempotent; everything that may run after it
 * checks c->closing. A write callback after uv_close gets UV_ECANCELED and
 * only drops its buffer.
 */
#include "engine/server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/log.h"
#include "engine/cmd.h"
#include "engine/http.h"
#include "engine/journal.h"
#include "engine/json.h"
#include "engine/proto.h"
#include "engine/ranker.h"
#include "engine/snapshot.h"
#include "trie/norm.h"

#include <sys/wait.h>
#include <unistd.h>

#define SRV_RBUF_INITIAL (16 * 1024)
#define SRV_BUF_KEEP (64 * 1024) /* idle buffers above this are released */
#define SRV_HTTP_SCRATCH (64 * 1024)
#define SRV_CRON_MS 100          /* everysec fsync, journal retries, automatic saves, child reaping */
#define SRV_FSYNC_EVERY_MS 1000  /* --fsync everysec */
#define SRV_JOURNAL_RETRY_MS 1000 /* a failed journal write / fsync is retried this often */

typedef struct srv srv;
typedef struct srv_conn srv_conn;

/* One reply that cannot leave yet, in its connection's queue. Ready slots
 * behind a waiting one wait too: the queue is flushed from the head only.
 * A waiting slot holds a reference on its connection. */
typedef enum { SLOT_READY = 0, SLOT_WAIT_JOURNAL, SLOT_WAIT_SAVE, SLOT_WAIT_RANK } slot_wait;
typedef struct srv_slot {
    struct srv_slot *next;  /* connection queue */
    struct srv_slot *wnext; /* the server's list of slots waiting on the same thing */
    srv_conn *c;
    slot_wait wait;
    int kind;               /* PROTO_TEXT / PROTO_RESP, for replies filled later; -1: HTTP */
    uint64_t lsn;           /* SLOT_WAIT_JOURNAL: ready once the journal is durable up to it */
    qbuf buf;
    /* SLOT_WAIT_RANK: a COMPLETE the ranker answers later (on_ranked) */
    eng_rank_pending *rank; /* for eng_rank_cancel when the connection closes first */
    int ws, http_keep, http_head;
    uint64_t t0;            /* when the request was parsed (latency) */
    qbuf aux;               /* HTTP: the raw q, then the normalized prefix */
    size_t aux_qlen;
} srv_slot;

struct srv_conn {
    uv_tcp_t tcp; /* first: the handle's memory is the connection's */
    srv *s;
    struct srv_conn *prev, *next;
    int refs;
    unsigned closing : 1, paused : 1, close_after_flush : 1, is_http : 1, writing : 1, counted : 1,
        reading : 1, authed : 1;
    uint64_t auth_fails;     /* wrong AUTHs / tokens so far (closed at auth-max-failures) */
    char *rbuf;
    size_t rlen, rcap;
    proto_parser pp;
    proto_arg *argv;
    http_conn *http;
    qbuf out, wbuf;
    size_t woff;
    uv_write_t wreq;
    uint64_t last_ms;
    srv_slot *qhead, *qtail; /* replies waiting their turn (see srv_slot) */
    size_t qbytes;
    qbuf *dst;               /* HTTP: where the current request's reply goes */
};

struct srv {
    uv_loop_t loop;
    const srv_config *cfg;
    eng e;
    uv_tcp_t listen_text, listen_http;
    int have_text, have_http;
    uv_signal_t sigint, sigterm;
    uv_timer_t sweep, grace;
    int have_sweep, have_grace;
    srv_conn *conns;
    uint64_t nconns; /* all open connection objects, counted or not */
    int stopping;
    proto_limits lim;
    size_t rmax;
    http_limits hlim;
    char http_scratch[SRV_HTTP_SCRATCH];
    qbuf hbody; /* HTTP response body being built */
    qbuf scratch; /* a reply encoded behind a waiting slot, before it gets its own slot */
    /* ranking (engine/ranker.h) */
    eng_rank *rank;
    int rank_closed;
    srv_conn *cur;         /* the connection whose request eng_exec is running */
    int http_deferred;     /* the current HTTP request's reply is a queued SLOT_WAIT_RANK */
    srv_slot *spare;       /* a slot kept for the next ranked COMPLETE (no malloc when it answers at once) */
    uint64_t rank_waiting; /* slots in SLOT_WAIT_RANK */
    eng_rank_result rres;  /* a synchronous ranker answer */
    /* durability */
    jrn *j;
    uv_check_t jcheck; /* after each iteration's I/O: write the batch, start the group fsync */
    uv_timer_t cron;
    uv_signal_t sigchld;
    int have_jcheck, have_cron, have_sigchld;
    uv_work_t syncw;
    int syncing, sync_fd, sync_old, sync_err;
    uint64_t sync_lsn;
    int old_fd;              /* rotated-out journal fd awaiting its last fdatasync */
    uint64_t last_sync_ms, last_retry_ms;
    srv_slot *jw_head, *jw_tail; /* waiting on the journal, in LSN order */
    srv_slot *save_waiters;
    pid_t child;
    uint64_t save_start_us, save_gen, changes_at_fork;
};

static void conn_close(srv_conn *c);
static void conn_flush(srv_conn *c);
static void conn_process(srv_conn *c);
static void close_durability_handles(srv *s);

static size_t pending(const srv_conn *c) { return c->out.len + (c->wbuf.len - c->woff) + c->qbytes; }

/* --- close and free ------------------------------------------------------ */

static void slot_free(srv_slot *sl) {
    qbuf_free(&sl->buf);
    qbuf_free(&sl->aux);
    qfree(sl);
}

static void conn_release(srv_conn *c) {
    if (--c->refs > 0) return;
    while (c->qhead) { /* only ready slots remain: waiting ones hold a reference */
        srv_slot *sl = c->qhead;
        c->qhead = sl->next;
        slot_free(sl);
    }
    qbuf_free(&c->out);
    qbuf_free(&c->wbuf);
    qfree(c->rbuf);
    qfree(c->argv);
    http_conn_free(c->http);
    qfree(c);
}

static void on_conn_closed(uv_handle_t *h) {
    srv_conn *c = h->data;
    srv *s = c->s;
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nconns--;
    if (c->counted) {
        s->e.stats.conn_current--;
        if (c->is_http) s->e.stats.http_conn_current--;
    }
    if (s->stopping && !s->conns && s->have_grace) {
        s->have_grace = 0;
        uv_close((uv_handle_t *)&s->grace, NULL);
    }
    if (s->stopping && !s->conns) close_durability_handles(s);
    conn_release(c);
}

static void conn_release(srv_conn *c);

/* The requests of c still waiting on the ranker will never be answered:
 * eng_rank_cancel guarantees their callbacks do not run, so no callback can
 * reach c once this returns; their slots drop the references they held (the
 * handle's own reference keeps c until on_conn_closed). */
static void cancel_rank_slots(srv_conn *c) {
    for (srv_slot *sl = c->qhead; sl; sl = sl->next)
        if (sl->wait == SLOT_WAIT_RANK) {
            eng_rank_cancel(sl->rank);
            sl->rank = NULL;
            sl->wait = SLOT_READY;
            c->s->rank_waiting--;
            conn_release(c);
        }
}

static void conn_close(srv_conn *c) {
    if (c->closing) return;
    c->closing = 1;
    cancel_rank_slots(c);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* --- reading and writing -------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    srv_conn *c = h->data;
    srv *s = c->s;
    if (c->is_http) {
        *buf = uv_buf_init(s->http_scratch, sizeof s->http_scratch);
        return;
    }
    if (c->rcap - c->rlen < 1024 && c->rcap < s->rmax) {
        size_t cap = c->rcap ? c->rcap * 2 : SRV_RBUF_INITIAL;
        if (cap > s->rmax) cap = s->rmax;
        char *p = qrealloc(c->rbuf, cap);
        if (p) c->rbuf = p, c->rcap = cap;
    }
    /* len 0 (buffer full at rmax, or no memory) makes libuv report UV_ENOBUFS */
    *buf = uv_buf_init(c->rbuf ? c->rbuf + c->rlen : NULL, (unsigned)(c->rcap - c->rlen));
}

static void read_stop(srv_conn *c) {
    if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void read_start(srv_conn *c) {
    if (c->reading || c->closing || c->close_after_flush || c->paused || c->s->stopping) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
    else conn_close(c);
}

static void on_write(uv_write_t *req, int status) {
    srv_conn *c = req->data;
    c->writing = 0;
    if (status < 0) {
        if (status != UV_ECANCELED) LOG_D("write failed: %s", uv_strerror(status));
        c->wbuf.len = c->woff = 0;
        conn_close(c);
        return;
    }
    c->s->e.stats.bytes_out += c->wbuf.len - c->woff;
    c->wbuf.len = c->woff = 0;
    if (c->wbuf.cap > SRV_BUF_KEEP) qbuf_free(&c->wbuf);
    if (c->closing) return;
    conn_flush(c);
    if (c->paused && !c->writing && pending(c) < c->s->cfg->output_soft) {
        c->paused = 0;
        if (!c->is_http) conn_process(c); /* requests already buffered */
        conn_flush(c);
        read_start(c);
    }
}

static void conn_flush(srv_conn *c) {
    if (c->closing) return;
    if (!c->writing && c->out.len) {
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == UV_EAGAIN || n == UV_ENOSYS) n = 0;
        if (n < 0) {
            LOG_D("write failed: %s", uv_strerror(n));
            conn_close(c);
            return;
        }
        c->s->e.stats.bytes_out += (uint64_t)n;
        if ((size_t)n == c->out.len) {
            c->out.len = 0;
            if (c->out.cap > SRV_BUF_KEEP) qbuf_free(&c->out);
        } else {
            qbuf t = c->wbuf; /* wbuf is empty: swap, no copy */
            c->wbuf = c->out;
            c->out = t;
            c->out.len = 0;
            c->woff = (size_t)n;
            b = uv_buf_init(c->wbuf.data + n, (unsigned)(c->wbuf.len - (size_t)n));
            c->wreq.data = c;
            if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
                conn_close(c);
                return;
            }
            c->writing = 1;
        }
    }
    if (!c->writing && !c->out.len && !c->qhead && c->close_after_flush) conn_close(c);
}

/* --- the reply queue ---------------------------------------------------------
 * Fast path: nothing queued and the reply can leave now -> it is encoded
 * straight into c->out. Otherwise it gets a slot at the tail of the queue:
 * its bytes (if any yet) move into the slot, and it is flushed when it and
 * every slot before it are ready. */

/* Where the next reply of c is encoded. */
static qbuf *reply_dst(srv_conn *c) {
    if (!c->qhead) return &c->out;
    qbuf_reset(&c->s->scratch);
    return &c->s->scratch;
}

/* Moves every ready slot at the head into c->out, then flushes. */
static void queue_advance(srv_conn *c) {
    while (c->qhead && c->qhead->wait == SLOT_READY) {
        srv_slot *sl = c->qhead;
        if (!c->closing && sl->buf.len && qbuf_append(&c->out, sl->buf.data, sl->buf.len) < 0) {
            LOG_W("out of memory queueing a reply; closing the client");
            conn_close(c);
        }
        c->qbytes -= sl->buf.len;
        c->qhead = sl->next;
        if (!c->qhead) c->qtail = NULL;
        slot_free(sl);
    }
    if (c->closing) return;
    conn_flush(c);
}

/* A waiting slot became ready (its bytes are in sl->buf). */
static void slot_complete(srv_slot *sl) {
    srv_conn *c = sl->c;
    sl->wait = SLOT_READY;
    queue_advance(c);
    if (!c->closing && c->paused && !c->writing && pending(c) < c->s->cfg->output_soft) {
        c->paused = 0;
        if (!c->is_http) conn_process(c);
        conn_flush(c);
        read_start(c);
    }
    conn_release(c);
}

/* After a reply was encoded into dst from mark on: queue it if it must wait
 * (journal LSN not durable yet, or a deferred SAVE) or if replies are queued
 * before it. Returns -1 on allocation failure. */
static int reply_done(srv_conn *c, qbuf *dst, size_t mark, uint64_t lsn, int defer_kind) {
    srv *s = c->s;
    slot_wait w = SLOT_READY;
    if (defer_kind >= 0) w = SLOT_WAIT_SAVE;
    else if (lsn && s->j && lsn > jrn_durable_lsn(s->j)) w = SLOT_WAIT_JOURNAL;
    if (w == SLOT_READY && dst == &c->out) return 0;
    srv_slot *sl = qcalloc(1, sizeof *sl);
    if (!sl) return -1;
    qbuf_init(&sl->buf);
    if (dst->len > mark && qbuf_append(&sl->buf, dst->data + mark, dst->len - mark) < 0) {
        qfree(sl);
        return -1;
    }
    dst->len = mark;
    sl->c = c;
    sl->wait = w;
    sl->kind = defer_kind;
    sl->lsn = lsn;
    c->qbytes += sl->buf.len;
    if (c->qtail) c->qtail->next = sl;
    else c->qhead = sl;
    c->qtail = sl;
    if (w == SLOT_WAIT_JOURNAL) {
        c->refs++;
        if (s->jw_tail) s->jw_tail->wnext = sl;
        else s->jw_head = sl;
        s->jw_tail = sl;
    } else if (w == SLOT_WAIT_SAVE) {
        c->refs++;
        sl->wnext = s->save_waiters;
        s->save_waiters = sl;
    }
    return 0;
}

/* --- ranked COMPLETE -------------------------------------------------------
 * eng_rank_complete either answers now (into s->rres: the reply is encoded
 * in place like any other) or later through on_ranked. The slot is the
 * callback's ud, so it is taken before the call; s->spare keeps it for the
 * next request when the answer came at once. A deferred slot is linked at
 * the tail of the queue (its reply is empty until on_ranked fills it), holds
 * a reference on the connection, and is cancelled by conn_close. */

static int http_write_ranked(srv *s, qbuf *out, const char *q, size_t qlen, const char *np, size_t nplen,
                             const eng_rank_result *res, uint64_t took_ns, int keep, int head);

static srv_slot *slot_take(srv *s) {
    srv_slot *sl = s->spare;
    if (sl) {
        s->spare = NULL;
        return sl;
    }
    sl = qcalloc(1, sizeof *sl);
    if (sl) {
        qbuf_init(&sl->buf);
        qbuf_init(&sl->aux);
    }
    return sl;
}

/* Start of a request's in-loop latency: the start of the read batch it came
 * in (one clock read per batch, not per request), else now. */
static uint64_t req_t0(const srv *s) { return s->e.stats.batch_t0_ns ? s->e.stats.batch_t0_ns : now_ns(); }

static void on_ranked(void *ud, const eng_rank_result *res) {
    srv_slot *sl = ud;
    srv_conn *c = sl->c;
    srv *s = c->s;
    sl->rank = NULL;
    s->rank_waiting--;
    uint64_t took = now_ns() - sl->t0;
    int rc = sl->kind < 0 ? http_write_ranked(s, &sl->buf, sl->aux.data, sl->aux_qlen, sl->aux.data + sl->aux_qlen,
                                              sl->aux.len - sl->aux_qlen, res, took, sl->http_keep, sl->http_head)
                          : eng_reply_ranked(&s->e, sl->kind, sl->ws, res, &sl->buf);
    if (rc < 0) sl->buf.len = 0;
    else hist_add(&s->e.stats.lat_ns, took);
    c->qbytes += sl->buf.len;
    slot_complete(sl); /* c outlives this: the handle's reference is only dropped in on_conn_closed */
    if (rc < 0) {
        LOG_W("out of memory encoding a ranked reply; closing the client");
        conn_close(c);
    }
}

/* Runs the ranker for c's current request (prefix in s->e.norm). Returns 1
 * when the answer is in s->rres now, 0 when it comes later into *out (a
 * linked SLOT_WAIT_RANK slot), -1 out of memory. kind -1 = HTTP. */
static int rank_start(srv *s, srv_conn *c, int kind, int ws, unsigned k, const eng_ctx *ctx, srv_slot **out) {
    uint64_t t0 = req_t0(s);
    srv_slot *sl = slot_take(s);
    if (!sl) return -1;
    eng_rank_pending *h;
    if (eng_rank_complete(s->rank, s->e.norm, s->e.normlen, ctx->user, ctx->user ? ctx->user_len : 0, ctx->session,
                          ctx->session ? ctx->session_len : 0, k, &s->rres, on_ranked, sl, &h) == 1) {
        s->spare = sl;
        return 1;
    }
    sl->next = sl->wnext = NULL;
    sl->c = c;
    sl->wait = SLOT_WAIT_RANK;
    sl->kind = kind;
    sl->ws = ws;
    sl->lsn = 0;
    sl->rank = h;
    sl->t0 = t0;
    sl->buf.len = sl->aux.len = 0;
    if (c->qtail) c->qtail->next = sl;
    else c->qhead = sl;
    c->qtail = sl;
    c->refs++;
    s->rank_waiting++;
    *out = sl;
    return 0;
}

/* eng->rank_fn for the text/RESP protocol. */
static int rank_fn(void *ud, int kind, int ws, unsigned k, const eng_ctx *ctx, qbuf *out, int *deferred) {
    srv *s = ud;
    srv_slot *sl;
    int r = rank_start(s, s->cur, kind, ws, k, ctx, &sl);
    if (r < 0) return -1;
    if (r == 0) {
        *deferred = 1;
        return 0;
    }
    return eng_reply_ranked(&s->e, kind, ws, &s->rres, out);
}

/* Over the hard limit: close. At or over the soft limit: stop reading. */
static int check_output(srv_conn *c) {
    size_t p = pending(c);
    if (p > c->s->cfg->output_hard) {
        c->s->e.stats.closed_output_limit++;
        LOG_W("closing a client: %zu bytes of replies unread (output-hard-limit %llu)", p,
              (unsigned long long)c->s->cfg->output_hard);
        conn_close(c);
        return -1;
    }
    if (p >= c->s->cfg->output_soft && !c->paused) {
        c->paused = 1;
        read_stop(c);
    }
    return 0;
}

/* Runs every complete request in rbuf, in order. */
static void conn_process(srv_conn *c) {
    srv *s = c->s;
    size_t pos = 0;
    while (!c->closing && !c->close_after_flush) {
        int r = proto_parse(&c->pp, c->rbuf + pos, c->rlen - pos);
        if (r == PROTO_MORE) break;
        pos += c->pp.consumed;
        if (r == PROTO_ERR) {
            qbuf *dst = reply_dst(c);
            size_t mark = dst->len;
            if (eng_reply_proto_error(&s->e, c->pp.kind, c->pp.err, c->pp.errmsg, dst) < 0 ||
                reply_done(c, dst, mark, 0, -1) < 0) {
                conn_close(c);
                return;
            }
            if (c->pp.fatal) {
                s->e.stats.closed_protocol++;
                c->close_after_flush = 1;
                read_stop(c);
            }
        } else if (c->pp.argc > 0) {
            int flags;
            qbuf *dst = reply_dst(c);
            size_t mark = dst->len;
            s->cur = c;
            s->e.authed = c->authed;
            s->e.auth_fails = c->auth_fails;
            int rc = eng_exec(&s->e, c->pp.kind, c->pp.argc, c->pp.argv, dst, &flags);
            c->authed = s->e.authed ? 1u : 0u;
            c->auth_fails = s->e.auth_fails;
            s->cur = NULL;
            if (rc < 0 || (!(flags & ENG_DEFER_RANK) &&
                           reply_done(c, dst, mark, s->e.wait_lsn, (flags & ENG_DEFER) ? c->pp.kind : -1) < 0)) {
                LOG_W("out of memory encoding a reply; closing the client");
                conn_close(c);
                return;
            }
            if (flags & ENG_CLOSE) {
                c->close_after_flush = 1;
                read_stop(c);
            }
        }
        if (check_output(c) < 0) return;
    }
    if (pos) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
    if (c->rlen == 0 && c->rcap > SRV_BUF_KEEP) {
        qfree(c->rbuf);
        c->rbuf = NULL;
        c->rcap = 0;
    }
}

static int http_on_request(const http_request *req, void *ud);

static void on_read_batch(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Every request parsed from these bytes measures its latency from here. */
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    srv *s = ((srv_conn *)st->data)->s;
    if (nread > 0) s->e.stats.batch_t0_ns = now_ns();
    on_read_batch(st, nread, buf);
    s->e.stats.batch_t0_ns = 0;
}

static void on_read_batch(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    srv_conn *c = st->data;
    srv *s = c->s;
    if (nread == 0 || c->closing) return;
    if (nread < 0) {
        if (nread != UV_EOF) LOG_D("read: %s", uv_strerror((int)nread));
        /* EOF: requests already read were answered into `out`; send them, then close. */
        read_stop(c);
        c->close_after_flush = 1;
        if (nread != UV_EOF) conn_close(c);
        else conn_flush(c);
        return;
    }
    s->e.stats.bytes_in += (uint64_t)nread;
    c->last_ms = uv_now(&s->loop);
    if (c->is_http) {
        int st_code = http_conn_feed(c->http, buf->base, (size_t)nread, http_on_request, c);
        if (st_code > 0) {
            http_resp_opts o = {.keep_alive = 0, .cors_origin = s->cfg->cors_origin};
            s->e.stats.http_status[st_code / 100 <= 5 ? st_code / 100 : 5]++;
            const char *code = http_conn_error_code(c->http), *msg = http_conn_error(c->http);
            qbuf *dst = reply_dst(c);
            size_t mark = dst->len;
            if (http_write_json_error(dst, st_code, code ? code : "bad_request", msg ? msg : "bad request", &o) < 0 ||
                reply_done(c, dst, mark, 0, -1) < 0)
                dst->len = mark;
            c->close_after_flush = 1;
            read_stop(c);
        } else if (st_code == HTTP_FEED_STOPPED && !c->closing) {
            c->close_after_flush = 1;
            read_stop(c);
        }
        if (!c->closing) check_output(c);
    } else {
        c->rlen += (size_t)nread;
        conn_process(c);
    }
    conn_flush(c);
}

/* --- HTTP routes ------------------------------------------------------------ */

static void http_count(srv *s, int cmd, int status) {
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
    http_count(s, cmd, status);
    if (!o.keep_alive) c->close_after_flush = 1;
    return http_write_json_error(c->dst, status, code, msg, &o);
}

static int http_ok(srv_conn *c, const http_request *req, int cmd, const char *ctype) {
    srv *s = c->s;
    http_resp_opts o = {.keep_alive = req->keep_alive && !s->stopping, .cors_origin = s->cfg->cors_origin};
    http_count(s, cmd, 200);
    if (!o.keep_alive) c->close_after_flush = 1;
    if (http_write_head(c->dst, 200, ctype, s->hbody.len, &o) < 0) return -1;
    if (req->method == HTTP_REQ_HEAD) return 0;
    return qbuf_append(c->dst, s->hbody.data, s->hbody.len);
}

static int eng_status(int rc) {
    switch (ENG_CODE(rc)) {
    case ERR_NOTFOUND: return 404;
    case ERR_NOMEM: return 503;
    case ERR_IO: return 500;
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
    http_param(req, "user", &ctx->user, &ctx->user_len);
    http_param(req, "session", &ctx->session, &ctx->session_len);
}

static int route_complete(srv_conn *c, const http_request *req) {
    srv *s = c->s;
    uint64_t t0 = req_t0(s);
    const char *q, *kv;
    size_t qlen, klen;
    if (!http_param(req, "q", &q, &qlen))
        return http_error(c, req, CMD_HTTP_COMPLETE, 400, "missing_q", "parameter q is required", NULL);
    uint64_t k = SRV_DEFAULT_K;
    if (http_param(req, "k", &kv, &klen) && (parse_u64(kv, klen, &k) < 0 || k < 1 || k > s->cfg->max_k))
        return http_error(c, req, CMD_HTTP_COMPLETE, 400, "bad_k", "k must be an integer 1..max-k", NULL);
    eng_ctx ctx;
    get_ctx(req, &ctx);
    const char *msg = NULL;
    int n;
    if (eng_wants_rank(&s->e, &ctx)) {
        n = eng_complete_prepare(&s->e, q, qlen, (unsigned)k, &ctx, &msg);
        if (n == 0) {
            int keep = req->keep_alive && !s->stopping, head = req->method == HTTP_REQ_HEAD;
            if (!keep) c->close_after_flush = 1;
            srv_slot *sl;
            int r = rank_start(s, c, -1, 0, (unsigned)k, &ctx, &sl);
            if (r < 0) return -1;
            if (r == 1) {
                uint64_t took = now_ns() - t0;
                int rc = http_write_ranked(s, c->dst, q, qlen, s->e.norm, s->e.normlen, &s->rres, took, keep, head);
                hist_add(&s->e.stats.lat_ns, took);
                return rc;
            }
            sl->http_keep = keep;
            sl->http_head = head;
            sl->aux_qlen = qlen;
            s->http_deferred = 1; /* the slot is queued: no reply_done */
            if (qbuf_append(&sl->aux, q, qlen) < 0 || qbuf_append(&sl->aux, s->e.norm, s->e.normlen) < 0) return -1;
            return 0;
        }
        if (n == 1) n = 0; /* longer than any key */
    } else {
        n = eng_complete(&s->e, q, qlen, (unsigned)k, &ctx, &msg);
    }
    if (n < 0) {
        char code[16];
        s->e.stats.errs[ENG_CODE(n)]++;
        return http_error(c, req, CMD_HTTP_COMPLETE, eng_status(n), lower_code(n, code, sizeof code), msg, NULL);
    }
    json_suggestion sug[TRIE_MAX_K];
    for (int i = 0; i < n; i++) {
        const trie_hit *h = &s->e.hits[i];
        int m = norm_match_len(h->display, h->displen, s->e.norm, s->e.normlen);
        sug[i] = (json_suggestion){h->display, h->displen, h->score, 0, m > 0 ? (uint32_t)m : 0};
    }
    qbuf_reset(&s->hbody);
    uint64_t took = now_ns() - t0; /* one read: the body's took_us and the histogram */
    if (json_write_suggestions(&s->hbody, q, qlen, sug, (size_t)n, took / 1000) < 0) return -1;
    int rc = http_ok(c, req, CMD_HTTP_COMPLETE, HTTP_JSON_CONTENT_TYPE);
    hist_add(&s->e.stats.lat_ns, took);
    return rc;
}

/* A ranked /v1/complete answer: head + JSON body into out. */
static int http_write_ranked(srv *s, qbuf *out, const char *q, size_t qlen, const char *np, size_t nplen,
                             const eng_rank_result *res, uint64_t took_ns, int keep, int head) {
    json_suggestion sug[ENG_RANK_MAX_RESULT];
    for (size_t i = 0; i < res->n; i++) {
        const rank_cand *rc = &res->c[i];
        trie_hit h;
        const char *d = rc->q;
        size_t dl = rc->len;
        double sc = 0;
        if (trie_get(s->e.t, rc->q, rc->len, &h)) d = h.display, dl = h.displen, sc = h.score;
        int m = norm_match_len(d, dl, np, nplen);
        sug[i] = (json_suggestion){d, dl, sc, 0, m > 0 ? (uint32_t)m : 0};
    }
    qbuf_reset(&s->hbody);
    if (json_write_suggestions(&s->hbody, q, qlen, sug, res->n, took_ns / 1000) < 0) return -1;
    http_resp_opts o = {.keep_alive = keep, .cors_origin = s->cfg->cors_origin};
    http_count(s, CMD_HTTP_COMPLETE, 200);
    if (http_write_head(out, 200, HTTP_JSON_CONTENT_TYPE, s->hbody.len, &o) < 0) return -1;
    if (head) return 0;
    return qbuf_append(out, s->hbody.data, s->hbody.len);
}

static int route_accept(srv_conn *c, const http_request *req) {
    srv *s = c->s;
    uint64_t t0 = req_t0(s);
    const char *q, *rv;
    size_t qlen, rlen;
    if (!http_param(req, "q", &q, &qlen))
        return http_error(c, req, CMD_HTTP_ACCEPT, 400, "missing_q", "parameter q is required", NULL);
    eng_ctx ctx;
    get_ctx(req, &ctx);
    http_param(req, "prefix", &ctx.prefix, &ctx.prefix_len);
    if (http_param(req, "rank", &rv, &rlen) && (parse_i64(rv, rlen, &ctx.rank) < 0 || ctx.rank < 0))
        return http_error(c, req, CMD_HTTP_ACCEPT, 400, "bad_rank", "rank must be an integer 0..100", NULL);
    double score;
    const char *msg = NULL;
    int rc = eng_accept(&s->e, q, qlen, &ctx, &score, &msg);
    if (rc < 0) {
        char code[16];
        s->e.stats.errs[ENG_CODE(rc)]++;
        return http_error(c, req, CMD_HTTP_ACCEPT, eng_status(rc), lower_code(rc, code, sizeof code), msg, NULL);
    }
    qbuf_reset(&s->hbody);
    if (qbuf_puts(&s->hbody, "{\"query\":") < 0 || json_str(&s->hbody, q, qlen) < 0 ||
        qbuf_puts(&s->hbody, ",\"score\":") < 0 || json_double(&s->hbody, score) < 0 || qbuf_putc(&s->hbody, '}') < 0)
        return -1;
    rc = http_ok(c, req, CMD_HTTP_ACCEPT, HTTP_JSON_CONTENT_TYPE);
    hist_add(&s->e.stats.lat_ns, now_ns() - t0);
    return rc;
}

static int route_stats(srv_conn *c, const http_request *req, int prom) {
    srv *s = c->s;
    stats_snapshot(&s->e.stats, s->e.t, &s->e.snap);
    qbuf_reset(&s->hbody);
    if ((prom ? stats_render_prom(&s->e.snap, &s->hbody) : stats_render_json(&s->e.snap, &s->hbody)) < 0) return -1;
    return http_ok(c, req, prom ? CMD_HTTP_METRICS : CMD_HTTP_STATS,
                   prom ? "text/plain; version=0.0.4; charset=utf-8" : HTTP_JSON_CONTENT_TYPE);
}

static int route_health(srv_conn *c, const http_request *req) {
    srv *s = c->s;
    qbuf_reset(&s->hbody);
    if (qbuf_puts(&s->hbody, "{\"status\":\"ok\",\"keys\":") < 0 || qbuf_putu64(&s->hbody, trie_count(s->e.t)) < 0 ||
        qbuf_putc(&s->hbody, '}') < 0)
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
    int given = 0;
    if (http_header(req, "authorization", &v, &n)) {
        given = 1;
        if (n > 7 && !strncasecmp(v, "Bearer ", 7)) {
            v += 7, n -= 7;
            while (n && *v == ' ') v++, n--;
        } else {
            n = 0; /* another scheme (Basic ...): not our token */
        }
    } else if (http_header(req, "x-qac-token", &v, &n)) {
        given = 1;
    }
    if (given && eng_auth_check(&s->e, v, n)) return 1;
    int bad = given;
    if (bad) {
        s->e.stats.errs[ERR_WRONGPASS]++;
        c->auth_fails++;
    } else {
        s->e.stats.errs[ERR_NOAUTH]++;
        s->e.stats.auth_refused++;
    }
    int close_now = bad && c->auth_fails >= s->cfg->auth_max_failures;
    http_resp_opts o = {.keep_alive = req->keep_alive && !s->stopping && !close_now,
                        .cors_origin = s->cfg->cors_origin,
                        .extra_headers = bad ? "WWW-Authenticate: Bearer realm=\"qac\", error=\"invalid_token\"\r\n"
                                             : "WWW-Authenticate: Bearer realm=\"qac\"\r\n",
                        .head_only = req->method == HTTP_REQ_HEAD};
    http_count(s, cmd, 401);
    if (!o.keep_alive) c->close_after_flush = 1;
    *rc = http_write_json_error(c->dst, 401, bad ? "invalid_token" : "unauthorized",
                                bad ? (close_now ? "wrong token; too many failures, closing the connection"
                                                 : "wrong token")
                                    : "this endpoint needs Authorization: Bearer <requirepass> (or X-Qac-Token)",
                                &o);
    return 0;
}

static const route routes[] = {
    {"/v1/complete", CMD_HTTP_COMPLETE, 0}, {"/v1/accept", CMD_HTTP_ACCEPT, 1},
    {"/v1/stats", CMD_HTTP_STATS, 0},       {"/metrics", CMD_HTTP_METRICS, 0},
    {"/healthz", CMD_HTTP_HEALTH, 0},
};

static int http_on_request(const http_request *req, void *ud) {
    srv_conn *c = ud;
    srv *s = c->s;
    if (c->closing) return 1;
    c->dst = reply_dst(c);
    size_t mark = c->dst->len;
    s->e.wait_lsn = 0;
    const route *r = NULL;
    for (size_t i = 0; i < ARRAY_LEN(routes); i++)
        if (req->path && !strcmp(req->path, routes[i].path)) r = &routes[i];
    int rc;
    if (req->error_status) {
        rc = http_error(c, req, r ? r->cmd : CMD_HTTP_OTHER, req->error_status,
                        req->error_code ? req->error_code : "bad_request",
                        req->error_message ? req->error_message : "bad request", NULL);
    } else if (!r) {
        rc = http_error(c, req, CMD_HTTP_OTHER, 404, "not_found", "no such endpoint", NULL);
    } else if (req->method == HTTP_REQ_OPTIONS) {
        http_resp_opts o = {.keep_alive = req->keep_alive && !s->stopping,
                            .cors_origin = s->cfg->cors_origin,
                            .preflight = 1};
        http_count(s, r->cmd, 204);
        if (!o.keep_alive) c->close_after_flush = 1;
        rc = http_write_head(c->dst, 204, NULL, 0, &o);
    } else if (!(req->method == HTTP_REQ_GET || req->method == HTTP_REQ_HEAD ||
                 (req->method == HTTP_REQ_POST && r->post_ok))) {
        rc = http_error(c, req, r->cmd, 405, "method_not_allowed", "method not allowed",
                        r->post_ok ? "Allow: GET, HEAD, POST, OPTIONS\r\n" : "Allow: GET, HEAD, OPTIONS\r\n");
    } else if ((r->cmd == CMD_HTTP_ACCEPT || r->cmd == CMD_HTTP_STATS || r->cmd == CMD_HTTP_METRICS) &&
               !http_auth(c, req, r->cmd, &rc)) {
        /* 401 written */
    } else {
        switch (r->cmd) {
        case CMD_HTTP_COMPLETE: rc = route_complete(c, req); break;
        case CMD_HTTP_ACCEPT: rc = route_accept(c, req); break;
        case CMD_HTTP_STATS: rc = route_stats(c, req, 0); break;
        case CMD_HTTP_METRICS: rc = route_stats(c, req, 1); break;
        default: rc = route_health(c, req); break;
        }
    }
    if (rc >= 0 && !s->http_deferred) rc = reply_done(c, c->dst, mark, s->e.wait_lsn, -1);
    s->http_deferred = 0;
    c->dst = NULL;
    if (rc < 0) {
        LOG_W("out of memory answering an HTTP request; closing the client");
        conn_close(c);
        return 1;
    }
    if (s->hbody.cap > SRV_BUF_KEEP) qbuf_free(&s->hbody);
    return c->close_after_flush ? 1 : 0;
}

/* --- durability: journal group commit, fsync thread, background saves ------------
 *
 * Changes append records to the journal batch while requests run (cmd.c);
 * their replies wait in slots (SLOT_WAIT_JOURNAL). on_jcheck runs once per
 * loop iteration after all reads: one write() of the whole batch, then
 *   no / everysec: the records are written -> their replies are released;
 *   always: one fdatasync on a libuv worker thread for everything written so
 *           far (group commit); changes arriving meanwhile form the next
 *           group, synced as soon as this one completes. Replies leave after.
 * everysec: cron starts an fdatasync on the worker once a second.
 * At most one sync job runs; it also syncs and then closes the fd of the
 * generation a snapshot rotated out (old_fd). */

static void release_journal_waiters(srv *s) {
    uint64_t durable = jrn_durable_lsn(s->j);
    while (s->jw_head && s->jw_head->lsn <= durable) {
        srv_slot *sl = s->jw_head;
        s->jw_head = sl->wnext;
        if (!s->jw_head) s->jw_tail = NULL;
        slot_complete(sl);
    }
}

static void sync_work(uv_work_t *w) {
    srv *s = w->data;
    int e = 0;
    if (s->sync_old >= 0 && fdatasync(s->sync_old) < 0) e = errno;
    if (fdatasync(s->sync_fd) < 0) e = errno;
    s->sync_err = e;
}

static void start_sync(srv *s);

static void sync_after(uv_work_t *w, int status) {
    srv *s = w->data;
    s->syncing = 0;
    s->last_sync_ms = uv_now(&s->loop);
    int e = status < 0 ? EIO : s->sync_err;
    if (!e && s->sync_old >= 0) {
        close(s->sync_old);
        if (s->old_fd == s->sync_old) s->old_fd = -1;
    }
    jrn_synced(s->j, s->sync_lsn, e);
    release_journal_waiters(s);
    if (!e && jrn_policy(s->j) == JRN_FSYNC_ALWAYS &&
        (jrn_written_lsn(s->j) > jrn_synced_lsn(s->j) || s->old_fd >= 0))
        start_sync(s); /* the next group: what was written while this one synced */
}

static void start_sync(srv *s) {
    if (s->syncing) return;
    s->syncw.data = s;
    s->sync_fd = jrn_fd(s->j);
    s->sync_old = s->old_fd;
    s->sync_lsn = jrn_written_lsn(s->j);
    if (uv_queue_work(&s->loop, &s->syncw, sync_work, sync_after) == 0) s->syncing = 1;
    else LOG_E("cannot queue a journal fsync");
}

static void on_jcheck(uv_check_t *h) {
    srv *s = h->data;
    if (jrn_pending(s->j) && !(jrn_error(s->j) && !strcmp(jrn_error_op(s->j), "write"))) jrn_write(s->j);
    release_journal_waiters(s);
    if (jrn_policy(s->j) == JRN_FSYNC_ALWAYS && !jrn_error(s->j) &&
        (jrn_written_lsn(s->j) > jrn_synced_lsn(s->j) || s->old_fd >= 0))
        start_sync(s);
}

/* Fills and releases every slot waiting on the save. */
static void finish_save_waiters(srv *s, int ok, const char *why) {
    while (s->save_waiters) {
        srv_slot *sl = s->save_waiters;
        s->save_waiters = sl->wnext;
        int rc = ok ? proto_reply_ok(&sl->buf, sl->kind) : proto_reply_error(&sl->buf, sl->kind, ERR_IO, why);
        if (!ok) s->e.stats.errs[ERR_IO]++;
        if (rc < 0) sl->buf.len = 0;
        sl->c->qbytes += sl->buf.len;
        slot_complete(sl);
    }
}

static void save_ended(srv *s, int ok, const char *why) {
    uint64_t ms = (now_us() - s->save_start_us) / 1000;
    eng_stats *st = &s->e.stats;
    st->save_in_progress = 0;
    st->last_save_ms = ms;
    st->last_save_ok = ok;
    s->child = 0;
    const char *path = s->cfg->save ? s->cfg->save : s->cfg->index;
    if (ok) {
        st->saves_ok++;
        st->last_save_time = wall_time();
        int removed = s->j ? jrn_remove_before(s->cfg->journal, s->save_gen) : 0;
        LOG_I("background save to %s done in %llu ms (%d old journal files removed)", path,
              (unsigned long long)ms, removed);
    } else {
        st->saves_failed++;
        st->changes_since_save += s->changes_at_fork;
        if (st->changes_since_save) st->dirty_since_ms = now_ns() / 1000000;
        LOG_E("background save to %s failed after %llu ms: %s (the journals since the last save are kept)", path,
              (unsigned long long)ms, why);
    }
    finish_save_waiters(s, ok, why);
}

static void reap_child(srv *s) {
    if (!s->child) return;
    int ok;
    char why[160];
    if (snapshot_reap(s->child, &ok, why, sizeof why) != 0) save_ended(s, ok, why);
}

/* SAVE and automatic saves: rotate the journal, fork the writer child. */
static int save_start(void *ud, const char **msg) {
    srv *s = ud;
    static char errbuf[300];
    if (s->child) {
        *msg = "a background save is already running; retry when it ends (STATS save_in_progress)";
        return ENG_ERR(ERR_LIMIT);
    }
    if (s->stopping) {
        *msg = "shutting down";
        return ENG_ERR(ERR_IO);
    }
    if (s->j && s->old_fd >= 0) {
        *msg = "the previous journal is still being synced; retry in a moment";
        return ENG_ERR(ERR_LIMIT);
    }
    if (s->j) {
        int old = -1;
        if (jrn_rotate(s->j, &old, errbuf, sizeof errbuf) < 0) {
            LOG_E("save: cannot start a new journal generation: %s", errbuf);
            *msg = errbuf;
            return ENG_ERR(ERR_IO);
        }
        if (jrn_policy(s->j) == JRN_FSYNC_NO) close(old);
        else s->old_fd = old; /* synced and closed by the next sync job */
        s->save_gen = jrn_gen(s->j);
        release_journal_waiters(s); /* rotation wrote the batch */
    }
    if (s->rank && eng_rank_save(s->rank, errbuf, sizeof errbuf) < 0) {
        LOG_E("save: model: %s", errbuf);
        *msg = errbuf;
        return ENG_ERR(ERR_IO);
    }
    const char *path = s->cfg->save ? s->cfg->save : s->cfg->index;
    uint64_t fork_us;
    pid_t pid;
    if (snapshot_fork(s->e.t, path, &pid, &fork_us, errbuf, sizeof errbuf) < 0) {
        LOG_E("save: %s", errbuf);
        *msg = errbuf;
        return ENG_ERR(ERR_IO);
    }
    s->child = pid;
    s->save_start_us = now_us();
    s->e.stats.save_in_progress = 1;
    s->e.stats.last_fork_us = fork_us;
    s->changes_at_fork = s->e.stats.changes_since_save;
    s->e.stats.changes_since_save = 0;
    LOG_I("background save to %s started (child %d, fork took %llu us)", path, (int)pid,
          (unsigned long long)fork_us);
    return 0;
}

static void on_sigchld(uv_signal_t *h, int signum) { reap_child(h->data); }

static void on_cron(uv_timer_t *t) {
    srv *s = t->data;
    uint64_t now = uv_now(&s->loop);
    reap_child(s);
    if (s->j) {
        if (jrn_error(s->j) && now - s->last_retry_ms >= SRV_JOURNAL_RETRY_MS) {
            s->last_retry_ms = now;
            if (!strcmp(jrn_error_op(s->j), "write")) {
                if (jrn_write(s->j) == 0) release_journal_waiters(s);
            } else if (jrn_policy(s->j) != JRN_FSYNC_NO) {
                start_sync(s);
            }
        }
        if (jrn_policy(s->j) == JRN_FSYNC_EVERYSEC && !s->syncing && now - s->last_sync_ms >= SRV_FSYNC_EVERY_MS &&
            (jrn_written_lsn(s->j) > jrn_synced_lsn(s->j) || s->old_fd >= 0))
            start_sync(s);
    }
    const eng_stats *st = &s->e.stats;
    if (!s->child && !s->stopping && st->changes_since_save &&
        ((s->cfg->save_changes && st->changes_since_save >= s->cfg->save_changes) ||
         (s->cfg->save_seconds && now_ns() / 1000000 - st->dirty_since_ms >= s->cfg->save_seconds * 1000))) {
        const char *msg;
        if (save_start(s, &msg) < 0) LOG_W("automatic save not started: %s", msg);
    }
}

/* After the last connection closed: the ranker saves what it learned and
 * closes its Redis client and timers (callbacks still pending run now, into
 * no connection: every waiting slot was cancelled with its connection). */
static void close_rank(srv *s) {
    if (!s->rank || s->rank_closed) return;
    s->rank_closed = 1;
    s->e.rank = NULL;
    s->e.stats.rank = NULL;
    eng_rank_close(s->rank);
}

static void close_durability_handles(srv *s) {
    close_rank(s);
    if (s->have_jcheck) uv_close((uv_handle_t *)&s->jcheck, NULL);
    if (s->have_cron) uv_close((uv_handle_t *)&s->cron, NULL);
    if (s->have_sigchld) uv_close((uv_handle_t *)&s->sigchld, NULL);
    s->have_jcheck = s->have_cron = s->have_sigchld = 0;
}

/* --- accepting -------------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status) {
    srv *s = server->data;
    int is_http = server == (uv_stream_t *)&s->listen_http;
    if (status < 0) {
        LOG_W("accept: %s", uv_strerror(status));
        return;
    }
    srv_conn *c = qcalloc(1, sizeof *c);
    if (!c) {
        LOG_E("out of memory accepting a connection");
        return;
    }
    c->s = s;
    c->refs = 1;
    c->is_http = (unsigned)is_http;
    uv_tcp_init(&s->loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->last_ms = uv_now(&s->loop);
    if (s->stopping) {
        conn_close(c);
        return;
    }
    if (s->e.stats.conn_current >= s->cfg->max_clients) {
        s->e.stats.conn_rejected++;
        LOG_W("refusing a connection: max-clients (%llu) reached", (unsigned long long)s->cfg->max_clients);
        if (is_http) {
            http_resp_opts o = {.keep_alive = 0, .cors_origin = s->cfg->cors_origin};
            http_write_json_error(&c->out, 503, "too_many_connections", "max-clients reached", &o);
            http_count(s, CMD_HTTP_OTHER, 503);
        } else {
            proto_reply_error(&c->out, PROTO_RESP, ERR_LIMIT, "max-clients reached");
            s->e.stats.errs[ERR_LIMIT]++;
        }
        c->close_after_flush = 1;
        conn_flush(c);
        return;
    }
    c->counted = 1;
    s->e.stats.conn_current++;
    s->e.stats.conn_total++;
    if (is_http) {
        s->e.stats.http_conn_current++;
        s->e.stats.http_conn_total++;
        c->http = http_conn_new(&s->hlim);
    } else {
        c->argv = qcalloc((size_t)s->lim.max_args, sizeof *c->argv);
        if (c->argv) proto_parser_init(&c->pp, &s->lim, c->argv);
    }
    if (is_http ? !c->http : !c->argv) {
        LOG_E("out of memory setting up a connection");
        conn_close(c);
        return;
    }
    read_start(c);
}

/* --- timers, signals, shutdown -------------------------------------------------- */

static void on_sweep(uv_timer_t *t) {
    srv *s = t->data;
    uint64_t now = uv_now(&s->loop), lim = s->cfg->idle_timeout * 1000;
    for (srv_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (!c->closing && c->counted && now - c->last_ms >= lim) {
            s->e.stats.closed_idle++;
            LOG_D("closing a client idle for %llu ms", (unsigned long long)(now - c->last_ms));
            conn_close(c);
        }
    }
}

static void on_grace(uv_timer_t *t) {
    srv *s = t->data;
    int n = 0;
    for (srv_conn *c = s->conns; c; c = c->next)
        if (!c->closing) n++, conn_close(c);
    if (n) LOG_W("shutdown: closed %d clients whose replies had not drained", n);
    s->have_grace = 0;
    uv_close((uv_handle_t *)&s->grace, NULL);
}

static void begin_shutdown(srv *s, int signum) {
    if (s->stopping) return;
    s->stopping = 1;
    LOG_I("signal %d: shutting down (no new connections; answering what was received)", signum);
    if (s->have_text) uv_close((uv_handle_t *)&s->listen_text, NULL);
    if (s->have_http) uv_close((uv_handle_t *)&s->listen_http, NULL);
    s->have_text = s->have_http = 0;
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    if (s->have_sweep) uv_close((uv_handle_t *)&s->sweep, NULL);
    s->have_sweep = 0;
    if (s->child) {
        kill(s->child, SIGKILL);
        waitpid(s->child, NULL, 0);
        save_ended(s, 0, "shutting down: the background save was stopped");
    }
    if (!s->conns) close_durability_handles(s);
    for (srv_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        read_stop(c);
        c->close_after_flush = 1;
        conn_flush(c);
    }
    if (s->conns) {
        uv_timer_init(&s->loop, &s->grace);
        s->grace.data = s;
        s->have_grace = 1;
        uv_timer_start(&s->grace, on_grace, SRV_SHUTDOWN_GRACE_MS, 0);
    }
}

static void on_signal(uv_signal_t *h, int signum) { begin_shutdown(h->data, signum); }

static int listen_on(srv *s, uv_tcp_t *h, int port, const char *what) {
    struct sockaddr_storage ss;
    int rc;
    if (strchr(s->cfg->bind, ':')) rc = uv_ip6_addr(s->cfg->bind, port, (struct sockaddr_in6 *)&ss);
    else rc = uv_ip4_addr(s->cfg->bind, port, (struct sockaddr_in *)&ss);
    if (rc < 0) {
        LOG_E("bad bind address '%s': %s", s->cfg->bind, uv_strerror(rc));
        return -1;
    }
    uv_tcp_init(&s->loop, h);
    h->data = s;
    if ((rc = uv_tcp_bind(h, (const struct sockaddr *)&ss, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)h, 511, on_connection)) < 0) {
        LOG_E("cannot listen on %s:%d (%s): %s", s->cfg->bind, port, what, uv_strerror(rc));
        uv_close((uv_handle_t *)h, NULL);
        return -1;
    }
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_tcp_getsockname(h, (struct sockaddr *)&got, &len);
    int real = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                               : ((struct sockaddr_in *)&got)->sin_port);
    LOG_I("listening on %s:%d (%s)", s->cfg->bind, real, what);
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg) {
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

int srv_run(const srv_config *cfg, trie *t, jrn *j) {
    srv *s = qcalloc(1, sizeof *s);
    if (!s) {
        LOG_E("out of memory");
        return 1;
    }
    s->cfg = cfg;
    eng_init(&s->e, t, cfg);
    qbuf_init(&s->hbody);
    qbuf_init(&s->scratch);
    s->j = j;
    s->old_fd = -1;
    s->e.j = j;
    s->e.stats.journal = j;
    s->e.save_fn = save_start;
    s->e.save_ud = s;
    s->lim.max_line = cfg->max_line;
    s->lim.max_args = (int)cfg->max_args;
    s->lim.max_bulk = cfg->max_bulk;
    size_t resp_max = 32 + (size_t)cfg->max_args * (cfg->max_bulk + 32);
    s->rmax = cfg->max_line + 3 > resp_max ? cfg->max_line + 3 : resp_max;
    s->hlim.max_header_bytes = cfg->http_max_header;
    s->hlim.max_url_bytes = cfg->http_max_url;
    s->hlim.max_body_bytes = cfg->http_max_body;
    int rc = 1;
    if (uv_loop_init(&s->loop) < 0) {
        qfree(s);
        return 1;
    }
    const char *herr = http_limits_check(&s->hlim);
    if (herr) {
        LOG_E("%s", herr);
        goto out;
    }
    eng_rank_opts ro;
    eng_rank_opts_default(&ro);
    ro.redis = cfg->redis;
    ro.ns = cfg->ns;
    ro.model = cfg->model;
    ro.model_save = cfg->model_save;
    ro.embeddings = cfg->embeddings;
    ro.deadline_ms = (uint32_t)cfg->redis_deadline_ms;
    ro.cache_bytes = cfg->cache_bytes;
    ro.candidates = (uint32_t)cfg->candidates;
    ro.ngram_bytes = cfg->ngram_bytes;
    char rerr[600];
    s->rank = eng_rank_new(&s->loop, t, &ro, rerr, sizeof rerr);
    if (!s->rank) {
        LOG_E("ranker: %s", rerr);
        goto out;
    }
    if (!cfg->redis)
        LOG_I("running without Redis: user and session history live in this process (lost at exit, not shared "
              "with replicas); --redis HOST:PORT to share them");
    s->e.rank = s->rank;
    s->e.rank_fn = rank_fn;
    s->e.rank_ud = s;
    s->e.stats.rank = s->rank;
    if (listen_on(s, &s->listen_text, cfg->port, "text/RESP") < 0) goto out;
    s->have_text = 1;
    if (cfg->http_port) {
        if (listen_on(s, &s->listen_http, cfg->http_port, "HTTP") < 0) goto out;
        s->have_http = 1;
    }
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    if (cfg->idle_timeout) {
        uint64_t every = cfg->idle_timeout * 1000 / 4;
        if (every > 1000) every = 1000;
        uv_timer_init(&s->loop, &s->sweep);
        s->sweep.data = s;
        uv_timer_start(&s->sweep, on_sweep, every, every);
        s->have_sweep = 1;
    }
    uv_timer_init(&s->loop, &s->cron);
    s->cron.data = s;
    uv_timer_start(&s->cron, on_cron, SRV_CRON_MS, SRV_CRON_MS);
    s->have_cron = 1;
    uv_signal_init(&s->loop, &s->sigchld);
    s->sigchld.data = s;
    uv_signal_start(&s->sigchld, on_sigchld, SIGCHLD);
    s->have_sigchld = 1;
    if (j) {
        uv_check_init(&s->loop, &s->jcheck);
        s->jcheck.data = s;
        uv_check_start(&s->jcheck, on_jcheck);
        s->have_jcheck = 1;
        s->last_sync_ms = uv_now(&s->loop);
    }
    LOG_I("serving %llu keys", (unsigned long long)trie_count(t));
    uv_run(&s->loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    close_rank(s); /* when it could not start (listen failed); after a shutdown it is closed already */
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_walk(&s->loop, close_walk, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s->loop) != 0) LOG_W("event loop closed with handles still open");
    if (j) { /* whatever is still in the batch: written and synced before exit */
        if (jrn_write(j) < 0) LOG_E("journal: final write failed: %s", strerror(jrn_error(j)));
        else if (jrn_policy(j) != JRN_FSYNC_NO && fdatasync(jrn_fd(j)) < 0)
            LOG_E("journal: final fdatasync failed: %s", strerror(errno));
        if (s->old_fd >= 0) {
            if (jrn_policy(j) != JRN_FSYNC_NO) fdatasync(s->old_fd);
            close(s->old_fd);
        }
    }
    if (s->child) {
        kill(s->child, SIGKILL);
        waitpid(s->child, NULL, 0);
    }
    if (rc == 0) LOG_I("shut down cleanly");
    qbuf_free(&s->hbody);
    qbuf_free(&s->scratch);
    if (s->spare) slot_free(s->spare);
    qfree(s);
    return rc;
}
