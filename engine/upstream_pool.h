/* upstream_pool.h -- the merger's shards and their replicas (engine/upstream.h).
 *
 * SPEC, `--upstreams`: shards separated by ';' (or blanks), in shard-map
 * order; a shard's replicas separated by ','; each HOST:PORT (an IPv4
 * address, the RESP port of a `qac serve` holding that shard), e.g.
 *     127.0.0.1:7701,127.0.0.1:7702;127.0.0.1:7711,127.0.0.1:7712
 * Every replica counts toward max-upstreams (UPS_DEFAULT_MAX_UPSTREAMS,
 * at most UPS_MAX_UPSTREAMS_CAP); a shard has at most UPS_MAX_REPLICAS.
 *
 * One async hiredis connection per replica, opened on first use and again
 * after a failure (not before UPS_RETRY_MS has passed, unless every replica
 * of the shard is down). A request to a shard goes to the replica that last
 * answered; when its connection fails (refused, reset, closed) the reply
 * callback gets NULL and the caller asks again with the next attempt number,
 * which picks the next replica: a killed replica costs a reconnect, not a
 * failed request.
 *
 * Shards with requirepass: with a password (p->auth, the merger's
 * --upstream-pass-file or $QAC_UPSTREAM_PASS) every new connection sends
 * AUTH first; hiredis keeps commands in order, so the requests queued behind
 * it run authenticated. A refused AUTH is logged (upstream.auth_failed, once
 * per connection, never the password) and remembered on the replica
 * (auth_refused), so the request that then gets NOAUTH can say why
 * (upstream_req.c) instead of passing a bare NOAUTH on. COMPLETE needs no
 * password on a shard; changes do.
 */
#ifndef QAC_UPSTREAM_POOL_H
#define QAC_UPSTREAM_POOL_H

#include <hiredis/async.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "text/shardmap.h"

#define UPS_MAX_REPLICAS 16          /* replicas of one shard */
#define UPS_DEFAULT_MAX_UPSTREAMS 64 /* max-upstreams default: replicas over all shards */
#define UPS_MAX_UPSTREAMS_CAP 1024   /* max-upstreams ceiling */
#define UPS_RETRY_MS 100             /* a failed replica is not reconnected sooner (unless all are down) */
#define UPS_HOST_MAX 64

typedef struct ups_replica {
    char host[UPS_HOST_MAX];
    int port;
    redisAsyncContext *ac; /* NULL: not connected */
    uint64_t down_until;   /* ms (uv_now): do not reconnect before */
    uint64_t failures;
    uv_loop_t *loop;
    int auth_refused;       /* the shard refused our AUTH on this connection (the reason: auth_err) */
    char auth_err[128];
} ups_replica;

typedef struct ups_shard {
    ups_replica r[UPS_MAX_REPLICAS];
    int n;
    int pref; /* the replica that last answered */
    uint64_t asks, failovers; /* commands sent to it; of those, sent past its preferred replica */
    uint64_t deadline_misses; /* requests that failed at deadline-ms waiting on it (upstream_req.c) */
} ups_shard;

typedef struct ups_pool {
    uv_loop_t *loop;
    ups_shard shards[SHARDMAP_MAX_SHARDS];
    int nshards;
    const char *auth; /* the shards' password, or NULL: sent with AUTH on every connection */
    uint64_t sent, failovers, failures, auth_failures;
    /* calls answered, kept for reuse (at most call_cache; the merger sets its
     * req-cache): a steady stream of sends allocates none */
    struct ups_call *call_free;
    unsigned call_nfree, call_cache;
} ups_pool;

/* Parses SPEC into p (no connection yet). -1 with err for a bad spec or over
 * max_upstreams replicas. */
int ups_pool_parse(ups_pool *p, uv_loop_t *loop, const char *spec, unsigned max_upstreams, char *err,
                   size_t errlen);

/* The reply callback: reply NULL when the replica failed (the caller may ask
 * again with attempt + 1 while ups_pool_attempts allows). */
typedef void (*ups_reply_fn)(void *ud, int shard, int replica, const redisReply *reply);

/* Sends argv to shard's replica for this attempt (0 = the preferred one).
 * Returns the attempt used (>= the one asked: down replicas are skipped) and
 * sets *replica, or -1 when no replica could take it now (cb is not called
 * then). */
int ups_pool_send(ups_pool *p, int shard, int attempt, int argc, const char **argv, const size_t *argvlen,
                  ups_reply_fn cb, void *ud, int *replica);
/* Drops a replica that missed a deadline (hung, not closed): its connection
 * is freed now, so the commands waiting on it are called back with NULL and
 * move to the next replica, and it is reconnected after UPS_RETRY_MS. */
void ups_pool_drop(ups_pool *p, int shard, int replica);
/* Replicas of a shard with a connection now (for STATS). */
int ups_pool_connected(const ups_pool *p, int shard);
/* How many attempts a shard allows (its replica count). */
static inline int ups_pool_attempts(const ups_pool *p, int shard) { return p->shards[shard].n; }
/* "h:p,h:p" of a shard into buf (for error messages). */
void ups_pool_describe(const ups_pool *p, int shard, char *buf, size_t cap);
/* Closes every connection (pending callbacks get NULL) and frees the kept calls. */
void ups_pool_close(ups_pool *p);

#endif
