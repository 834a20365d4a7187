/* guard.h -- what one client's ACCEPTs may change for everybody else.
 *
 * An ACCEPT raises its query's popularity (the trie score every user's
 * suggestions are ordered by) and is a training example for the online
 * model. Left open, one client replaying the same ACCEPT 20,000 times would
 * put its query first for everyone: the spam problem of every suggestion
 * service. The guard decides, per ACCEPT, before anything changes:
 *
 *   rate     each actor and each connection has a token bucket (rate per
 *            second, burst); an ACCEPT without a token is refused whole
 *            (ERR RATE / HTTP 429: nothing counted, stored or learned, and no
 *            token spent).
 *   credit   popularity counts distinct actors per query per window: the
 *            first ACCEPT of (actor, query) in a window adds 1, repeats add
 *            nothing (the reply carries the unchanged score).
 *   learn    the online model learns from an ACCEPT only when it is that
 *            (actor, query)'s first in the window, at least learn_users
 *            distinct actors accepted the query in the window (one actor
 *            alone never moves the shared model, however weak the model),
 *            and the actor has learned fewer than learn_max times in the
 *            current window, so one actor's stream cannot dominate the
 *            weights.
 * A real trend still rises: 50 distinct users accepting a new query add 50
 * to its popularity and give the model 50 - (learn_users - 1) examples.
 *
 * The actor is the USER of the ACCEPT, or, without USER, the connection's
 * peer address (a proxy's address stands for all its anonymous clients:
 * pages behind nginx send a user id, as web/app.js does). Ids are arbitrary
 * bytes; many fake USER ids on one connection are bounded by the
 * connection's bucket.
 *
 * Layout, all fixed at creation (memory bounded whatever clients send):
 *   pairs    two generations of an open-addressing set of 64-bit
 *            fingerprints of (actor, query) (XXH3). The current generation
 *            takes new pairs; a pair in either generation is a repeat. The
 *            generations rotate when the window has passed since the current
 *            one started, or early when it holds `pairs` entries (counted:
 *            a busier server forgets repeats sooner, never refuses). A
 *            repeat does not renew its pair, so a pair is remembered for one
 *            to two windows after its credit: a user who accepts the same
 *            query every day counts again every window or two.
 *   users    per generation, a blocked count-min sketch (16-bit saturating
 *            counters, as many as pair slots; a query's two counters share
 *            one 64-byte block) of credits per query: distinct actors per
 *            query, over-counted only by collisions; read as current +
 *            previous generation.
 * Every table is a 2 MiB-aligned mapping with MADV_HUGEPAGE: the probes
 * are random, and on 4 KiB pages nearly each one also missed the TLB.
 *   actors   an open-addressing table of `actors` slots (fingerprint,
 *            bucket, learn count of the current window), probed
 *            GUARD_PROBE slots; when all are taken by others, the one seen
 *            least recently is reused (counted). A fingerprint collision
 *            makes two actors share a bucket: stricter, never looser.
 * Time is the caller's, in milliseconds (monotonic is fine), so tests can
 * step it.
 *
 * Errors: guard_new returns NULL (and a reason in err) on bad options or no
 * memory. Ownership: the guard owns its tables; guard_bucket is plain data
 * the caller keeps (one per connection).
 */
#ifndef QAC_GUARD_H
#define QAC_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define GUARD_DEFAULT_WINDOW_S 86400   /* accept-window */
#define GUARD_DEFAULT_USER_RATE 2      /* accept-user-rate: ACCEPTs per second per actor, sustained */
#define GUARD_DEFAULT_USER_BURST 20    /* accept-user-burst */
#define GUARD_DEFAULT_CONN_RATE 500    /* accept-conn-rate: per connection (all its actors) */
#define GUARD_DEFAULT_CONN_BURST 2000  /* accept-conn-burst */
#define GUARD_DEFAULT_LEARN_MAX 50     /* accept-learn-max: model updates per actor per window */
#define GUARD_DEFAULT_LEARN_USERS 3    /* accept-learn-users: distinct actors a query needs before it teaches */
#define GUARD_DEFAULT_PAIRS 262144     /* accept-pairs: (actor, query) pairs per generation; 40 bytes each */
#define GUARD_DEFAULT_ACTORS 65536     /* accept-actors: actors tracked at once */
#define GUARD_MAX_PAIRS (1u << 28)
#define GUARD_MAX_ACTORS (1u << 26)
#define GUARD_PROBE 8

typedef struct guard_opts {
    uint64_t window_s;               /* >= 1 */
    uint64_t user_rate, user_burst;  /* rate 0 = no per-actor limit; burst >= 1 */
    uint64_t conn_rate, conn_burst;  /* rate 0 = no per-connection limit */
    uint64_t learn_max;              /* 0 = the model never learns online */
    uint64_t learn_users;            /* >= 1 */
    uint64_t pairs, actors;          /* 1 .. GUARD_MAX_* */
} guard_opts;

/* A token bucket (one per connection, kept by the caller; zero it first). */
typedef struct guard_bucket {
    double tokens;
    int64_t last_ms;
    int init;
} guard_bucket;

typedef struct guard_stat {
    uint64_t credited;      /* ACCEPTs that raised popularity */
    uint64_t repeats;       /* ACCEPTs of a pair already credited in the window */
    uint64_t limited_actor; /* refused: the actor's bucket was empty */
    uint64_t limited_conn;  /* refused: the connection's bucket was empty */
    uint64_t learn_capped;  /* first ACCEPTs of a pair the model did not learn from (learn_max) */
    uint64_t learn_waiting; /* ... because the query had fewer than learn_users actors yet */
    uint64_t rotations, early_rotations; /* pair generations started; of those, because one was full */
    uint64_t actor_evictions;
    uint64_t bytes;         /* memory held by the tables */
} guard_stat;

/* What an ACCEPT may do. */
typedef enum {
    GUARD_OK = 0,
    GUARD_LIMIT_ACTOR, /* refused: actor over accept-user-rate */
    GUARD_LIMIT_CONN,  /* refused: connection over accept-conn-rate */
} guard_rc;

typedef struct guard_verdict {
    int credit; /* add 1 to the query's popularity */
    int learn;  /* the model may learn from it */
} guard_verdict;

typedef struct guard guard;

void guard_opts_default(guard_opts *o);
guard *guard_new(const guard_opts *o, char *err, size_t errlen);
void guard_free(guard *g);

/* Decides one ACCEPT of q by actor at now_ms; conn may be NULL (no
 * per-connection limit). On GUARD_OK fills v; otherwise nothing changed
 * except the buckets' refill. */
guard_rc guard_accept(guard *g, guard_bucket *conn, const char *actor, size_t alen, const char *q, size_t qlen,
                      int64_t now_ms, guard_verdict *v);

void guard_stats(const guard *g, guard_stat *s);
const guard_opts *guard_options(const guard *g);

#endif
