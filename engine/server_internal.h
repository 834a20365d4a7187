/* server_internal.h -- what the files of the `qac serve` event loop share.
 *
 *   server.c          loop, accepting, connections, reading/writing, the reply
 *                     queue, ranked COMPLETE plumbing, shutdown, srv_run
 *   server_http.c     HTTP routes; their response buffers (srv_http)
 *   server_durable.c  journal group commit, fsync thread, background saves;
 *                     all their state (srv_durable)
 *
 * srv_http and srv_durable are opaque outside their file: server.c holds a
 * pointer to each and calls the functions below.
 *
 * Only these files include it. Names that cross files are srv__* (libuv's
 * convention for internal non-static names); everything else stays static.
 * All of it runs on the loop thread (except sync_work, on a libuv worker).
 */
#ifndef QAC_SERVER_INTERNAL_H
#define QAC_SERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/util.h"
#include "engine/cmd.h"
#include "engine/config.h"
#include "engine/proto/http.h"
#include "engine/store/journal.h"
#include "engine/proto/proto.h"
#include "engine/rank/ranker.h"

#define SRV_RBUF_INITIAL (16 * 1024)
#define SRV_BUF_KEEP (64 * 1024) /* idle buffers above this are released */
#define SRV_HTTP_SCRATCH (64 * 1024)
#define SRV_CRON_MS 100          /* everysec fsync, journal retries, automatic saves, child reaping */
#define SRV_FSYNC_EVERY_MS 1000  /* --fsync everysec */
#define SRV_JOURNAL_RETRY_MS 1000 /* a failed journal write / fsync is retried this often */

typedef struct srv srv;
typedef struct srv_conn srv_conn;
typedef struct srv_http srv_http;       /* server_http.c */
typedef struct srv_durable srv_durable; /* server_durable.c */

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
    int ws, http_keep, http_head, http_os; /* http_os: a /v1/suggest answer */
    int http_match;         /* SRV_HTTP_* of the request: the match fields every suggestion carries */
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
        reading : 1;
    eng_client client;       /* AUTH state, peer address, ACCEPT bucket (e.client during its requests) */
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
    uv_signal_t sigint, sigterm, sighup; /* sighup: what RELOAD does */
    uv_timer_t sweep, grace;
    int have_sweep, have_grace;
    srv_conn *conns;
    uint64_t nconns; /* all open connection objects, counted or not */
    uint64_t next_client_id; /* CLIENT ID of the next connection (from 1) */
    int stopping;
    proto_limits lim;
    size_t rmax;
    http_limits hlim;
    char http_scratch[SRV_HTTP_SCRATCH]; /* what HTTP connections read into */
    srv_http *http; /* the HTTP routes' response buffers (server_http.c) */
    qbuf scratch;   /* a reply encoded behind a waiting slot, before it gets its own slot */
    /* ranking (engine/rank/ranker.h) */
    eng_rank *rank;
    int rank_closed;
    guard *guard;          /* what ACCEPTs may change (engine/guard.h) */
    srv_conn *cur;         /* the connection whose request eng_exec is running */
    srv_slot *spare;       /* a slot kept for the next ranked COMPLETE (no malloc when it answers at once) */
    uint64_t rank_waiting; /* slots in SLOT_WAIT_RANK */
    eng_rank_result rres;  /* a synchronous ranker answer */
    srv_durable *d;        /* journal, fsync worker, save child (server_durable.c) */
};

/* --- server.c ------------------------------------------------------------- */

/* Closes c (idempotent); c is freed in the close callback once its last
 * reference is dropped. Everything that may run after it checks c->closing. */
void srv__conn_close(srv_conn *c);

/* Where the next reply of c is encoded: c->out, or s->scratch when replies
 * are queued before it. Valid until the next call or srv__reply_done. */
qbuf *srv__reply_dst(srv_conn *c);

/* After a reply was encoded into dst from mark on: queue it if it must wait
 * (lsn not durable yet; defer_kind >= 0: a deferred SAVE) or if replies are
 * queued before it; the slot copies the bytes. Returns -1 out of memory. */
int srv__reply_done(srv_conn *c, qbuf *dst, size_t mark, uint64_t lsn, int defer_kind);

/* A waiting slot became ready (its bytes are in sl->buf): flushes what can
 * leave, resumes reading, drops the slot's reference on its connection. */
void srv__slot_complete(srv_slot *sl);

/* Start of a request's in-loop latency (the read batch's start, else now). */
uint64_t srv__req_t0(const srv *s);

/* Runs the ranker for c's current request (prefix in s->e.norm). Returns 1
 * when the answer is in s->rres now, 0 when it comes later into *out (a
 * linked SLOT_WAIT_RANK slot, owned by c's queue), -1 out of memory.
 * kind -1 = HTTP. */
int srv__rank_start(srv *s, srv_conn *c, int kind, int ws, unsigned k, const eng_ctx *ctx, srv_slot **out);

/* --- server_http.c -------------------------------------------------------- */

/* The routes' response buffers (empty until used). NULL out of memory. */
srv_http *srv__http_new(void);
void srv__http_free(srv_http *h); /* NULL: nothing */

/* Counts an HTTP answer: its command and its status class. */
void srv__http_count(srv *s, int cmd, int status);

/* A ranked /v1/complete answer: head + JSON body into out (np/nplen: the
 * normalized prefix, for the highlights; match: SRV_HTTP_FUZZY when the
 * request allowed edits ("edits" on every suggestion, as unranked),
 * SRV_HTTP_INFIX when it had infix=1 ("words")). Returns -1 out of memory. */
#define SRV_HTTP_FUZZY 1
#define SRV_HTTP_INFIX 2
int srv__http_write_ranked(srv *s, qbuf *out, const char *q, size_t qlen, const char *np, size_t nplen,
                           const eng_rank_result *res, uint64_t took_ns, int keep, int head, int os, int match);

/* http_conn_feed callback (ud: the srv_conn): routes one request and writes
 * or queues its reply. Returns 1 to stop feeding (closing), 0 to go on. */
int srv__http_on_request(const http_request *req, void *ud);

/* --- server_changelog.c ---------------------------------------------------- */

/* With --changelog: starts the change log (engine/changelog.h) as s->e.chg.
 * 0 (also without it), or -1 (logged: the server does not start). */
int srv__changelog_open(srv *s);
/* Closes it (idempotent); the loop must run afterwards. */
void srv__changelog_close(srv *s);

/* --- server_durable.c ----------------------------------------------------- */

/* Before the loop runs: the durability state of s with journal j (NULL: no
 * journal), wired into s->e (changes append to j; SAVE forks a background
 * save). NULL out of memory. */
srv_durable *srv__durable_new(srv *s, jrn *j);

/* Starts its handles on s->loop: the cron timer (SRV_CRON_MS: reaps the save
 * child, retries journal errors, the everysec fsync, automatic saves),
 * SIGCHLD (reaps the save child) and, with a journal, the check that writes
 * each iteration's batch and starts the group fsync. */
void srv__durable_start(srv_durable *d);

/* 1 when the reply to a change at lsn (0: none) must wait until the journal
 * is durable up to it. */
int srv__durable_must_wait(const srv_durable *d, uint64_t lsn);

/* Takes a slot that waits (SLOT_WAIT_JOURNAL or SLOT_WAIT_SAVE, holding a
 * reference on its connection): it is filled if need be and passed to
 * srv__slot_complete once the journal is durable up to sl->lsn, or the save
 * ended. */
void srv__durable_wait(srv_durable *d, srv_slot *sl);

/* Shutdown began: a background save still running is killed and its waiters
 * get the error. */
void srv__durable_stop(srv_durable *d);

/* After the last connection closed at shutdown: closes its handles;
 * idempotent. */
void srv__durable_close(srv_durable *d);

/* After the loop closed: writes and syncs what the journal batch still holds,
 * syncs and closes a rotated-out journal, kills a save child still running,
 * frees d (NULL: nothing). */
void srv__durable_free(srv_durable *d);

#endif
