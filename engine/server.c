/* server.c -- the libuv event loop of `qac serve`.
 *
 * One loop, one thread. Handles:
 *   listen_text  text + RESP clients (port)         -> srv_conn, is_http = 0
 *   listen_http  HTTP/1.1 clients (http-port, opt.) -> srv_conn, is_http = 1
 *   sweep        timer: closes connections idle past idle-timeout
 *   sigint/term  start a clean shutdown
 *   sighup       what RELOAD does (eng_reload: model file, embeddings version)
 *   grace        timer: force-closes what has not drained SRV_SHUTDOWN_GRACE_MS
 *                after the shutdown began
 *   jcheck, cron, sigchld   journal group commit, everysec fsync, saves
 *                (owned by server_durable.c: srv__durable_start / _close)
 *
 * Files (they share engine/server_internal.h: srv, srv_conn, srv_slot and the
 * srv__* functions that cross files; everything else is static):
 *   server.c          this loop: accepting, connections, reading/writing, the
 *                     reply queue, ranked COMPLETE plumbing, shutdown, srv_run
 *   server_http.c     HTTP routes (srv__http_on_request) and their response
 *                     buffers (srv_http, s->http)
 *   server_durable.c  journal group commit, fsync thread, background saves:
 *                     all their state is its srv_durable (s->d); this file
 *                     only asks it whether a reply must wait
 *                     (srv__durable_must_wait), hands it the slots that do
 *                     (srv__durable_wait), and stops, closes and frees it
 *   server_changelog.c  --changelog: starts the change log (engine/changelog.h,
 *                     s->e.chg: two Redis connections and a timer of its own)
 *                     after the ranker, closes it with the ranker
 *
 * A connection (srv_conn; the uv_tcp_t is its first member):
 *
 *   kernel --read--> rbuf [request|request|partial...] --proto_parse/eng_exec-->
 *   out  [replies not yet handed to the kernel]  --uv_try_write-->  kernel
 *        `-- what try_write could not take moves (by swapping buffers, no copy)
 *            to wbuf, owned by the one in-flight uv_write.
 *
 *   Requests are parsed in place in rbuf (text quoting is undone in place) and
 *   run in order; a reply that is ready goes to `out`, one that must wait (a
 *   ranked COMPLETE on Redis, a SAVE, a change until the journal is durable)
 *   takes a slot in the connection's reply queue, and later replies queue
 *   behind it, so replies leave in request order (cmd.h: the stages that
 *   wait). After each read batch the whole of `out` goes out with one
 *   uv_try_write: pipelined requests get one write per batch.
 *   HTTP connections feed the bytes to http_conn (engine/proto/http.h), which keeps
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
 * its eng_client (`authed`, its count of wrong passwords, its peer address
 * and ACCEPT bucket: engine/guard.h); e.client points at it for the
 * duration of each of its requests (cmd.c refuses NOAUTH commands and runs AUTH). HTTP routes
 * that change or reveal state check the Bearer / X-Qac-Token header first
 * (http_auth: 401). Closing at auth-max-failures goes through ENG_CLOSE /
 * close_after_flush like QUIT.
 *
 * Lifetimes: a srv_conn is freed only in its uv_close callback, when its
 * reference count (1 for the handle; 1 per slot waiting on the journal, a
 * save or the ranker) drops to zero. srv__conn_close() is idempotent;
 * everything that may run after it checks c->closing. A write callback after
 * uv_close gets UV_ECANCELED and only drops its buffer.
 */
#include "engine/server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <uv.h>

#include "common/alloc.h"
#include "common/log.h"
#include "engine/cmd.h"
#include "engine/proto/http.h"
#include "engine/proto/proto.h"
#include "engine/rank/ranker.h"
#include "engine/infix.h"
#include "engine/server_internal.h"

static void conn_flush(srv_conn *c);
static void conn_process(srv_conn *c);

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

/* Once the ranker answers no connection: it saves what it learned and
 * closes its Redis client and timers (callbacks still pending run now, into
 * no connection: every waiting slot was cancelled with its connection).
 * Idempotent. */
static void close_rank(srv *s) {
    if (!s->rank || s->rank_closed) return;
    s->rank_closed = 1;
    s->e.rank = NULL;
    s->e.stats.rank = NULL;
    eng_rank_close(s->rank);
}

/* After the last connection closed at shutdown: the ranker and the handles
 * of server_durable.c close. */
static void close_after_last_conn(srv *s) {
    srv__changelog_close(s); /* first: it checkpoints the fleet's weights the ranker holds */
    close_rank(s);
    srv__durable_close(s->d);
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
    if (s->stopping && !s->conns) close_after_last_conn(s);
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

void srv__conn_close(srv_conn *c) {
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
    else srv__conn_close(c);
}

static void on_write(uv_write_t *req, int status) {
    srv_conn *c = req->data;
    c->writing = 0;
    if (status < 0) {
        if (status != UV_ECANCELED) LOG_D("client.write_failed", "error=%s", uv_strerror(status));
        c->wbuf.len = c->woff = 0;
        srv__conn_close(c);
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
            LOG_D("client.write_failed", "error=%s", uv_strerror(n));
            srv__conn_close(c);
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
                srv__conn_close(c);
                return;
            }
            c->writing = 1;
        }
    }
    if (!c->writing && !c->out.len && !c->qhead && c->close_after_flush) srv__conn_close(c);
}

/* --- the reply queue ---------------------------------------------------------
 * Fast path: nothing queued and the reply can leave now -> it is encoded
 * straight into c->out. Otherwise it gets a slot at the tail of the queue:
 * its bytes (if any yet) move into the slot, and it is flushed when it and
 * every slot before it are ready. */

/* Where the next reply of c is encoded. */
qbuf *srv__reply_dst(srv_conn *c) {
    if (!c->qhead) return &c->out;
    qbuf_reset(&c->s->scratch);
    return &c->s->scratch;
}

/* Moves every ready slot at the head into c->out, then flushes. */
static void queue_advance(srv_conn *c) {
    while (c->qhead && c->qhead->wait == SLOT_READY) {
        srv_slot *sl = c->qhead;
        if (!c->closing && sl->buf.len && qbuf_append(&c->out, sl->buf.data, sl->buf.len) < 0) {
            LOG_W("client.closed", "reason=out_of_memory msg=\"queueing a reply\"");
            srv__conn_close(c);
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
void srv__slot_complete(srv_slot *sl) {
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
int srv__reply_done(srv_conn *c, qbuf *dst, size_t mark, uint64_t lsn, int defer_kind) {
    srv *s = c->s;
    slot_wait w = SLOT_READY;
    if (defer_kind >= 0) w = SLOT_WAIT_SAVE;
    else if (srv__durable_must_wait(s->d, lsn)) w = SLOT_WAIT_JOURNAL;
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
    if (w != SLOT_READY) {
        c->refs++;
        srv__durable_wait(s->d, sl);
    }
    return 0;
}

/* --- ranked COMPLETE -------------------------------------------------------
 * eng_rank_complete either answers now (into s->rres: the reply is encoded
 * in place like any other) or later through on_ranked. The slot is the
 * callback's ud, so it is taken before the call; s->spare keeps it for the
 * next request when the answer came at once. A deferred slot is linked at
 * the tail of the queue (its reply is empty until on_ranked fills it), holds
 * a reference on the connection, and is cancelled by srv__conn_close. */

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
uint64_t srv__req_t0(const srv *s) { return s->e.stats.batch_t0_ns ? s->e.stats.batch_t0_ns : qtime_ns(); }

static void on_ranked(void *ud, const eng_rank_result *res) {
    srv_slot *sl = ud;
    srv_conn *c = sl->c;
    srv *s = c->s;
    sl->rank = NULL;
    s->rank_waiting--;
    uint64_t took = qtime_ns() - sl->t0;
    int rc = sl->kind < 0
                 ? srv__http_write_ranked(s, &sl->buf, sl->aux.data, sl->aux_qlen, sl->aux.data + sl->aux_qlen,
                                          sl->aux.len - sl->aux_qlen, res, took, sl->http_keep, sl->http_head,
                                          sl->http_os, sl->http_match)
                 : eng_reply_ranked(&s->e, sl->kind, sl->ws, sl->aux.data, sl->aux.len, res, &sl->buf);
    if (rc < 0) sl->buf.len = 0;
    else hist_add(&s->e.stats.lat_ns, took);
    eng_rank_count_cuts(&s->e, res);
    c->qbytes += sl->buf.len;
    srv__slot_complete(sl); /* c outlives this: the handle's reference is only dropped in on_conn_closed */
    if (rc < 0) {
        LOG_W("client.closed", "reason=out_of_memory msg=\"encoding a ranked reply\"");
        srv__conn_close(c);
    }
}

/* Runs the ranker for c's current request (prefix in s->e.norm). Returns 1
 * when the answer is in s->rres now, 0 when it comes later into *out (a
 * linked SLOT_WAIT_RANK slot), -1 out of memory. kind -1 = HTTP. */
int srv__rank_start(srv *s, srv_conn *c, int kind, int ws, unsigned k, const eng_ctx *ctx, srv_slot **out) {
    uint64_t t0 = srv__req_t0(s);
    srv_slot *sl = slot_take(s);
    if (!sl) return -1;
    eng_rank_pending *h;
    eng_rank_match m;
    eng_rank_match_of(&s->e, ctx, &m);
    eng_rank_set_words(s->rank, &s->e.words);
    if (eng_rank_complete(s->rank, s->e.norm, s->e.normlen, ctx->user, ctx->user ? ctx->user_len : 0, ctx->session,
                          ctx->session ? ctx->session_len : 0, k, &m, &s->rres, on_ranked, sl, &h) == 1) {
        s->spare = sl;
        eng_rank_count_cuts(&s->e, &s->rres);
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
    int r = srv__rank_start(s, s->cur, kind, ws, k, ctx, &sl);
    if (r < 0) return -1;
    if (r == 0) {
        *deferred = 1;
        /* WITHMATCH highlights against the prefix: keep it (aux is HTTP's otherwise) */
        return ws & 4 ? qbuf_append(&sl->aux, s->e.norm, s->e.normlen) : 0;
    }
    return eng_reply_ranked(&s->e, kind, ws, s->e.norm, s->e.normlen, &s->rres, out);
}

/* Over the hard limit: close. At or over the soft limit: stop reading. */
static int check_output(srv_conn *c) {
    size_t p = pending(c);
    if (p > c->s->cfg->output_hard) {
        c->s->e.stats.closed_output_limit++;
        LOG_W("client.closed", "reason=output_hard_limit unread_bytes=%zu output_hard_limit=%llu", p,
              (unsigned long long)c->s->cfg->output_hard);
        srv__conn_close(c);
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
            qbuf *dst = srv__reply_dst(c);
            size_t mark = dst->len;
            if (eng_reply_proto_error(&s->e, c->pp.kind, c->pp.err, c->pp.errmsg, dst) < 0 ||
                srv__reply_done(c, dst, mark, 0, -1) < 0) {
                srv__conn_close(c);
                return;
            }
            if (c->pp.fatal) {
                s->e.stats.closed_protocol++;
                c->close_after_flush = 1;
                read_stop(c);
            }
        } else if (c->pp.argc > 0) {
            int flags;
            qbuf *dst = srv__reply_dst(c);
            size_t mark = dst->len;
            s->cur = c;
            s->e.client = &c->client;
            int rc = eng_exec(&s->e, c->pp.kind, c->pp.argc, c->pp.argv, dst, &flags);
            s->e.client = &s->e.self;
            s->cur = NULL;
            if (rc < 0 || (!(flags & ENG_DEFER_RANK) &&
                           srv__reply_done(c, dst, mark, s->e.wait_lsn, (flags & ENG_DEFER) ? c->pp.kind : -1) < 0)) {
                LOG_W("client.closed", "reason=out_of_memory msg=\"encoding a reply\"");
                srv__conn_close(c);
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

static void on_read_batch(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* Every request parsed from these bytes measures its latency from here. */
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    srv *s = ((srv_conn *)st->data)->s;
    if (nread > 0) s->e.stats.batch_t0_ns = qtime_ns();
    on_read_batch(st, nread, buf);
    s->e.stats.batch_t0_ns = 0;
}

static void on_read_batch(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    srv_conn *c = st->data;
    srv *s = c->s;
    if (nread == 0 || c->closing) return;
    if (nread < 0) {
        if (nread != UV_EOF) LOG_D("client.read_failed", "error=%s", uv_strerror((int)nread));
        /* EOF: requests already read were answered into `out`; send them, then close. */
        read_stop(c);
        c->close_after_flush = 1;
        if (nread != UV_EOF) srv__conn_close(c);
        else conn_flush(c);
        return;
    }
    s->e.stats.bytes_in += (uint64_t)nread;
    c->last_ms = uv_now(&s->loop);
    if (c->is_http) {
        int st_code = http_conn_feed(c->http, buf->base, (size_t)nread, srv__http_on_request, c);
        if (st_code > 0) {
            http_resp_opts o = {.keep_alive = 0, .cors_origin = s->cfg->cors_origin};
            s->e.stats.http_status[st_code / 100 <= 5 ? st_code / 100 : 5]++;
            const char *code = http_conn_error_code(c->http), *msg = http_conn_error(c->http);
            qbuf *dst = srv__reply_dst(c);
            size_t mark = dst->len;
            if (http_write_json_error(dst, st_code, code ? code : "bad_request", msg ? msg : "bad request", &o) < 0 ||
                srv__reply_done(c, dst, mark, 0, -1) < 0)
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

/* --- accepting -------------------------------------------------------------- */

/* The peer's address without its port (an anonymous ACCEPT's actor). */
static void peer_addr(srv_conn *c) {
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    c->client.addr[0] = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) < 0) return;
    if (ss.ss_family == AF_INET) uv_ip4_name((const struct sockaddr_in *)&ss, c->client.addr, sizeof c->client.addr);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)&ss, c->client.addr, sizeof c->client.addr);
}

static void on_connection(uv_stream_t *server, int status) {
    srv *s = server->data;
    int is_http = server == (uv_stream_t *)&s->listen_http;
    if (status < 0) {
        LOG_W("server.accept_failed", "error=%s", uv_strerror(status));
        return;
    }
    srv_conn *c = qcalloc(1, sizeof *c);
    if (!c) {
        LOG_E("server.accept_failed", "error=out_of_memory");
        return;
    }
    c->s = s;
    c->refs = 1;
    c->is_http = (unsigned)is_http;
    c->client.id = ++s->next_client_id;
    uv_tcp_init(&s->loop, &c->tcp);
    c->tcp.data = c;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        srv__conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_addr(c);
    c->last_ms = uv_now(&s->loop);
    if (s->stopping) {
        srv__conn_close(c);
        return;
    }
    if (s->e.stats.conn_current >= s->cfg->max_clients) {
        s->e.stats.conn_rejected++;
        LOG_W("server.refused", "reason=max_clients max_clients=%llu", (unsigned long long)s->cfg->max_clients);
        if (is_http) {
            http_resp_opts o = {.keep_alive = 0, .cors_origin = s->cfg->cors_origin};
            http_write_json_error(&c->out, 503, "too_many_connections", "max-clients reached", &o);
            srv__http_count(s, CMD_HTTP_OTHER, 503);
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
        LOG_E("server.accept_failed", "error=out_of_memory msg=\"setting up a connection\"");
        srv__conn_close(c);
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
            LOG_D("client.closed", "reason=idle idle_ms=%llu", (unsigned long long)(now - c->last_ms));
            srv__conn_close(c);
        }
    }
}

static void on_grace(uv_timer_t *t) {
    srv *s = t->data;
    int n = 0;
    for (srv_conn *c = s->conns; c; c = c->next)
        if (!c->closing) n++, srv__conn_close(c);
    if (n) LOG_W("server.shutdown_grace_over", "clients_closed=%d msg=\"their replies had not drained\"", n);
    s->have_grace = 0;
    uv_close((uv_handle_t *)&s->grace, NULL);
}

static void begin_shutdown(srv *s, int signum) {
    if (s->stopping) return;
    s->stopping = 1;
    LOG_I("server.shutting_down", "signal=%d msg=\"no new connections; answering what was received\"", signum);
    if (s->have_text) uv_close((uv_handle_t *)&s->listen_text, NULL);
    if (s->have_http) uv_close((uv_handle_t *)&s->listen_http, NULL);
    s->have_text = s->have_http = 0;
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    sd_notify(0, "STOPPING=1");
    if (s->have_sweep) uv_close((uv_handle_t *)&s->sweep, NULL);
    s->have_sweep = 0;
    srv__durable_stop(s->d);
    if (!s->conns) close_after_last_conn(s);
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

static void on_sighup(uv_signal_t *h, int signum) {
    srv *s = h->data;
    char err[600];
    LOG_I("server.reload", "signal=%d msg=\"as RELOAD\"", signum);
    if (eng_reload(&s->e, "SIGHUP", err, sizeof err) == 0) sd_notify(0, "STATUS=reloaded");
}

static int listen_on(srv *s, uv_tcp_t *h, int port, const char *what) {
    struct sockaddr_storage ss;
    int rc;
    if (strchr(s->cfg->bind, ':')) rc = uv_ip6_addr(s->cfg->bind, port, (struct sockaddr_in6 *)&ss);
    else rc = uv_ip4_addr(s->cfg->bind, port, (struct sockaddr_in *)&ss);
    if (rc < 0) {
        LOG_E("server.listen_failed", "bind=%s error=%s msg=\"bad bind address\"", s->cfg->bind, uv_strerror(rc));
        return -1;
    }
    uv_tcp_init(&s->loop, h);
    h->data = s;
    if ((rc = uv_tcp_bind(h, (const struct sockaddr *)&ss, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)h, 511, on_connection)) < 0) {
        LOG_E("server.listen_failed", "bind=%s port=%d protocol=%s error=%s", s->cfg->bind, port, what, uv_strerror(rc));
        uv_close((uv_handle_t *)h, NULL);
        return -1;
    }
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_tcp_getsockname(h, (struct sockaddr *)&got, &len);
    int real = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                               : ((struct sockaddr_in *)&got)->sin_port);
    LOG_I("server.listening", "bind=%s port=%d protocol=%s", s->cfg->bind, real, what);
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg) {
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

int srv_run(const srv_config *cfg, trie *t, struct dict_set *dicts, jrn *j, trie_words *words) {
    srv *s = qcalloc(1, sizeof *s);
    if (!s) {
        trie_words_free(words);
        LOG_E("server.start_failed", "error=out_of_memory");
        return 1;
    }
    s->cfg = cfg;
    eng_init(&s->e, t, cfg);
    s->e.dicts = dicts;
    s->e.stats.dicts = dicts;
    eng_words_start(&s->e, words); /* the trie is final (loaded, journal replayed); failure: INFIX refused */
    qbuf_init(&s->scratch);
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
    s->d = srv__durable_new(s, j);
    s->http = srv__http_new();
    if (!s->d || !s->http) {
        LOG_E("server.start_failed", "error=out_of_memory");
        goto out;
    }
    const char *herr = http_limits_check(&s->hlim);
    if (herr) {
        LOG_E("server.start_failed", "error=%s", herr);
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
    ro.gen_candidates = (uint32_t)cfg->gen_candidates;
    ro.gen_suffixes = cfg->gen_suffixes;
    ro.gen_words = cfg->gen_words;
    ro.gen_copy_slice = cfg->gen_copy_slice;
    ro.gen_copy_note_bytes = cfg->gen_copy_note_bytes;
    char rerr[600];
    s->rank = eng_rank_new(&s->loop, t, &ro, rerr, sizeof rerr);
    if (!s->rank) {
        LOG_E("server.start_failed", "what=ranker error=%s", rerr);
        goto out;
    }
    if (!cfg->redis)
        LOG_I("ranker.no_redis", "msg=\"running without Redis: user and session history live in this process (lost at "
              "exit, not shared with replicas); --redis HOST:PORT to share them\"");
    s->guard = guard_new(&cfg->accept, rerr, sizeof rerr);
    if (!s->guard) {
        LOG_E("server.start_failed", "what=accept_guard error=%s", rerr);
        goto out;
    }
    s->e.guard = s->guard;
    s->e.stats.guard = s->guard;
    s->e.rank = s->rank;
    s->e.rank_fn = rank_fn;
    s->e.rank_ud = s;
    s->e.stats.rank = s->rank;
    if (srv__changelog_open(s) < 0) goto out;
    if (listen_on(s, &s->listen_text, cfg->port, "text/RESP") < 0) goto out;
    s->have_text = 1;
    if (cfg->http_port) {
        if (listen_on(s, &s->listen_http, cfg->http_port, "HTTP") < 0) goto out;
        s->have_http = 1;
    }
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    uv_signal_init(&s->loop, &s->sighup);
    s->sigint.data = s->sigterm.data = s->sighup.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sighup, on_sighup, SIGHUP);
    uv_unref((uv_handle_t *)&s->sighup); /* does not keep the loop alive: a SIGHUP while draining still reloads */
    if (cfg->idle_timeout) {
        uint64_t every = cfg->idle_timeout * 1000 / 4;
        if (every > 1000) every = 1000;
        uv_timer_init(&s->loop, &s->sweep);
        s->sweep.data = s;
        uv_timer_start(&s->sweep, on_sweep, every, every);
        s->have_sweep = 1;
    }
    srv__durable_start(s->d);
    LOG_I("server.ready", "keys=%llu", (unsigned long long)trie_count(t));
    /* systemd (Type=notify): ready once the index is loaded and the ports listen;
     * a no-op without $NOTIFY_SOCKET */
    sd_notifyf(0, "READY=1\nSTATUS=serving %llu keys", (unsigned long long)trie_count(t));
    uv_run(&s->loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    srv__changelog_close(s);
    close_rank(s); /* when it could not start (listen failed); after a shutdown it is closed already */
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_walk(&s->loop, close_walk, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s->loop) != 0) LOG_W("server.loop_not_closed", "msg=\"event loop closed with handles still open\"");
    srv__durable_free(s->d); /* the journal's last write + fdatasync; a save child still running is killed */
    if (rc == 0) LOG_I("server.stopped", "clean=1");
    guard_free(s->guard);
    eng_words_free(&s->e);
    srv__http_free(s->http);
    qbuf_free(&s->scratch);
    if (s->spare) slot_free(s->spare);
    qfree(s);
    return rc;
}
