/* rclient.h -- rcl: one asynchronous Redis connection on a libuv loop, with
 * reconnection, for the server's ranking path (embeddings, history).
 *
 * What: wraps a hiredis 0.14 redisAsyncContext attached with ruv_attach
 * (engine/rank/redis_uv.h). The host name is resolved ONCE, in rcl_new (hiredis
 * would call blocking getaddrinfo on every connect); every connect after
 * that is by numeric address. Commands are appended to hiredis's output
 * buffer and leave in one write per loop iteration: everything issued while
 * handling one event is one pipelined round trip.
 *
 * States:
 *
 *    rcl_new --> CONNECTING --onConnect ok--> UP --error/EOF/io timeout--+
 *                  ^   |                                                |
 *                  |   +--refused/connect timeout--> DOWN <-------------+
 *                  +------- backoff timer (exp. + jitter) ----+
 *    rcl_close (any state) --> CLOSED (freed once its timers closed)
 *
 * Backoff: the n-th consecutive failure waits a uniformly random time in
 * [d/2, d], d = min(backoff_max, backoff_min * 2^(n-1)); a successful
 * connect resets n. Connect timeout: a connect still pending after
 * connect_timeout_ms is abandoned (counted as a failure). IO timeout: when
 * the oldest unanswered command has waited io_timeout_ms, the connection is
 * dropped and its pending commands fail (a stopped or wedged Redis; a slow
 * one is the caller's deadline to handle, not this).
 *
 * Callbacks: a command accepted by rcl_command* (return 0) has its callback
 * run EXACTLY ONCE, later (never from inside rcl_command*), with either
 *   status 0 and the reply (any type: check REDIS_REPLY_ERROR yourself), or
 *   status RCL_EDOWN (the connection failed or was lost before the reply)
 *   or RCL_ECLOSED (rcl_close), reply NULL.
 * The reply is owned by hiredis and freed when the callback returns: copy
 * what you keep. A command refused (negative return) never runs its callback
 * (libuv's convention). Callbacks may issue commands and may call rcl_close.
 *
 * Sentinel (o.sentinels): instead of a fixed address, every connect first
 * asks one of the Sentinels (in turn, the next one after a failure) for the
 * address of o.master_name (SENTINEL get-master-addr-by-name), connects there
 * and checks with ROLE that it is a master before the client is UP; a
 * Sentinel that does not answer, does not know the name, or names a node that
 * is not a master counts as a failed connect (backoff, then the next
 * Sentinel). A connection lost, or a READONLY error reply (the master was
 * demoted in a failover), makes the next connect ask again: so the client
 * follows a failover as soon as a Sentinel names the new master. The question
 * and the connect each have the connect timeout.
 *
 * Errors: negative RCL_E* codes; rcl_strerror names them.
 * Ownership: rcl_new copies the options it needs. rcl_close frees the
 * client after its handles closed: the loop must run after it (closed_cb,
 * when given, says when). Single-threaded: all calls on the loop's thread.
 */
#ifndef QAC_RCLIENT_H
#define QAC_RCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#define RCL_ENOMEM (-1)
#define RCL_EINVAL (-2)   /* bad option or argument */
#define RCL_EDOWN (-3)    /* not connected (backoff), or the connection was lost */
#define RCL_ECLOSED (-4)  /* rcl_close was called */
#define RCL_EBUSY (-5)    /* max_pending commands already wait for replies */
#define RCL_ERESOLVE (-6) /* host name did not resolve (rcl_new) */

#define RCL_DEFAULT_CONNECT_TIMEOUT_MS 1000
#define RCL_DEFAULT_IO_TIMEOUT_MS 2000
#define RCL_DEFAULT_BACKOFF_MIN_MS 50
#define RCL_DEFAULT_BACKOFF_MAX_MS 5000
#define RCL_DEFAULT_MAX_PENDING 100000 /* commands awaiting replies */
#define RCL_MAX_HOST 255
#define RCL_MAX_SENTINELS 8
#define RCL_MAX_TARGET 1024 /* an address string: HOST:PORT or sentinel://... */

typedef enum { RCL_CONNECTING = 0, RCL_UP, RCL_DOWN, RCL_CLOSED } rcl_state;

typedef struct rcl rcl;

/* status: 0 (reply set) or RCL_EDOWN / RCL_ECLOSED (reply NULL). */
typedef void (*rcl_cb)(rcl *c, redisReply *reply, int status, void *privdata);

typedef struct rcl_opts {
    const char *host; /* name or address; resolved once (unused with sentinels) */
    int port;
    /* "H:P,H:P,..." (at most RCL_MAX_SENTINELS, each resolved once) and the
     * master's name: follow the master they name; NULL: host:port */
    const char *sentinels, *master_name;
    uint32_t connect_timeout_ms, io_timeout_ms; /* > 0 */
    uint32_t backoff_min_ms, backoff_max_ms;    /* 1 <= min <= max */
    uint32_t max_pending;                       /* >= 1 */
    uint64_t seed;                              /* jitter; 0 = from the clock */
    /* called on every transition to UP (up = 1) or away from it (up = 0); may be NULL */
    void (*on_state)(rcl *c, int up, void *ud);
    void *ud;
} rcl_opts;

typedef struct rcl_stat {
    rcl_state state;
    uint64_t connects;         /* successful connects */
    uint64_t connect_failures; /* refused, timed out, or failed to start */
    uint64_t disconnects;      /* established connections lost (incl. io timeouts) */
    uint64_t io_timeouts;
    uint64_t commands, replies, failed; /* accepted; answered with a reply; answered with an error */
    uint64_t refused;          /* rcl_command* calls refused (down, busy, ...) */
    uint64_t pending;          /* accepted, callback not yet run */
    uint64_t sentinel_asks;    /* questions to a Sentinel answered with an address */
    uint64_t master_switches;  /* a Sentinel named another master than the last one */
} rcl_stat;

const char *rcl_strerror(int err);

/* Defaults above; host NULL, port 6379. */
void rcl_opts_default(rcl_opts *o);

/* Parses "HOST:PORT" (HOST may be [v6]) into host (cap bytes) and *port.
 * Returns 0 or RCL_EINVAL. */
int rcl_parse_addr(const char *s, char *host, size_t cap, int *port);

/* Parses --redis: "HOST:PORT", or "sentinel://H:P[,H:P...]/MASTER" (Sentinel
 * addresses and the master's name). Fills o's host and port, or sentinels and
 * master_name, pointing into buf (RCL_TARGET_BUF bytes). 0 or RCL_EINVAL. */
#define RCL_TARGET_BUF (RCL_MAX_TARGET + RCL_MAX_HOST + 2)
int rcl_parse_target(const char *s, rcl_opts *o, char *buf, size_t cap);

/* Resolves o->host (or every Sentinel) and starts connecting. Returns 0 and *out, or a negative
 * code with a reason in err (nothing started). A refused first connect is
 * not an error here: the client retries in the background. */
int rcl_new(uv_loop_t *loop, const rcl_opts *o, rcl **out, char *err, size_t errlen);

/* Queues one command (argv with lengths, binary safe). See "Callbacks". */
int rcl_command_argv(rcl *c, int argc, const char **argv, const size_t *argvlen, rcl_cb cb, void *privdata);

/* Closes: pending callbacks run with RCL_ECLOSED before it returns (or, when
 * called from inside a callback, right after that callback returns); frees
 * the client once its handles closed, then calls closed_cb (may be NULL).
 * Idempotent on a closing client is NOT allowed: call once. */
void rcl_close(rcl *c, void (*closed_cb)(void *ud), void *ud);

rcl_state rcl_get_state(const rcl *c);
/* o.ud as given to rcl_new (for command callbacks, whose privdata is theirs). */
void *rcl_ud(const rcl *c);
static inline int rcl_is_up(const rcl *c) { return rcl_get_state(c) == RCL_UP; }
void rcl_stats(const rcl *c, rcl_stat *s);
/* "127.0.0.1:6379": the resolved address connected to (with Sentinels: the
 * master last named, "-" before the first answer). */
const char *rcl_addr(const rcl *c);

#endif
