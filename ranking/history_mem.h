/* history_mem.h -- rank_history: per-user query history and per-session recent
 * queries, kept in process.
 *
 * What: for each user (an opaque byte string: an AnonID, a cookie), every
 * query they accepted with how many times and when last (the "u" and "d"
 * signals of the personal and heuristic scorers, ../shared/EVALUATION.md),
 * and the queries of their current session, newest first (a session is a
 * user's run of accepts with gaps under session_gap seconds).
 *
 * Who uses it: `qac eval` (unbounded, to reproduce the protocol exactly) and
 * the server when it runs without Redis (bounded: it is then a cache of what
 * Redis would hold, see DESIGN-NOTES "State that replicas share").
 *
 * Layout: users live in an open-addressing hash table (linear probing,
 * backward-shift deletion) and on an LRU list ordered by their last accept.
 * Each user owns a dense array of entries (query bytes, count, last time),
 * indexed by its own open-addressing table, and a ring of its session's last
 * session_len queries (own copies, so evicting an entry never dangles).
 *
 * Bounds (0 = unlimited), all in rank_history_opts:
 *   max_users    when a new user would exceed it, the least recently active
 *                user is forgotten whole;
 *   max_queries  per user: when a new query would exceed it, the user's entry
 *                with the oldest last time is forgotten;
 *   session_len  how many recent queries a session keeps (>= 1).
 * Evictions are counted in rank_history_stats.
 *
 * Time is in whole seconds (any epoch; the caller's). Accepts may arrive out
 * of order: count always grows, last time is the max seen, and an accept
 * older than the user's last one joins the current session.
 *
 * Errors: 0 or a negative RANK_HIST_E* code. A failed call changes nothing.
 * Ownership: the history owns everything. Pointers returned by lookups
 * (rank_huser, rank_hentry, rank_hsess strings) are valid until the next
 * rank_history_accept or rank_history_free. Lookups do not change the LRU
 * order, so concurrent readers are safe while no one writes.
 */
#ifndef QAC_RANK_HISTORY_MEM_H
#define QAC_RANK_HISTORY_MEM_H

#include <stddef.h>
#include <stdint.h>

#define RANK_HIST_OK 0
#define RANK_HIST_ENOMEM (-1)  /* allocation failed; nothing changed */
#define RANK_HIST_EINVAL (-2)  /* empty user or query */
#define RANK_HIST_ETOOLONG (-3) /* user over RANK_HIST_MAX_USER or query over RANK_HIST_MAX_QUERY bytes */

#define RANK_HIST_MAX_USER 256   /* bytes of a user id */
#define RANK_HIST_MAX_QUERY 512  /* bytes of a query (as TRIE_MAX_KEY) */

#define RANK_HIST_DEFAULT_MAX_USERS 100000
#define RANK_HIST_DEFAULT_MAX_QUERIES 1000
#define RANK_HIST_DEFAULT_SESSION_LEN 10
#define RANK_HIST_DEFAULT_SESSION_GAP 1800 /* seconds: EVALUATION.md's 30 minutes */

typedef struct rank_history_opts {
    uint32_t max_users;   /* 0 = unlimited */
    uint32_t max_queries; /* per user; 0 = unlimited */
    uint32_t session_len; /* >= 1 */
    int64_t session_gap;  /* seconds, > 0: a gap >= this starts a new session */
} rank_history_opts;

typedef struct rank_history rank_history;
typedef struct rank_huser rank_huser;

/* One query of a user's history. q is not NUL-terminated. */
typedef struct rank_hentry {
    const char *q;
    uint32_t len;
    uint32_t count; /* accepts of q by this user (saturates at UINT32_MAX) */
    int64_t last;   /* time of the latest accept of q */
} rank_hentry;

/* One query of a session, as accepted (repeats included). */
typedef struct rank_hsess {
    const char *q;
    uint32_t len;
    int64_t t;
} rank_hsess;

typedef struct rank_history_stat {
    uint64_t users, entries;        /* live */
    uint64_t bytes;                 /* bytes allocated by the history */
    uint64_t accepts;               /* successful rank_history_accept calls */
    uint64_t evicted_users, evicted_entries;
} rank_history_stat;

const char *rank_history_strerror(int err);

/* Fills o with the defaults above. */
void rank_history_opts_default(rank_history_opts *o);

/* A new, empty history; opts NULL means the defaults. NULL on allocation
 * failure or invalid options (session_len 0, session_gap <= 0). */
rank_history *rank_history_new(const rank_history_opts *opts);
void rank_history_free(rank_history *h);

/* Records that `user` accepted query q at time t: count + 1, last = max(last,
 * t), the query joins the user's session (a new session when t is at least
 * session_gap after the user's previous accept). May evict (see Bounds). */
int rank_history_accept(rank_history *h, const char *user, size_t ulen, const char *q, size_t qlen,
                        int64_t t);

/* The user's record, or NULL when unknown (never seen, or evicted). */
const rank_huser *rank_history_user(const rank_history *h, const char *user, size_t ulen);

/* Entries of a user: i in [0, rank_huser_size(u)), in no particular order. */
uint32_t rank_huser_size(const rank_huser *u);
const rank_hentry *rank_huser_entry(const rank_huser *u, uint32_t i);

/* The user's entry for exactly q, or NULL. */
const rank_hentry *rank_huser_get(const rank_huser *u, const char *q, size_t qlen);

/* The user's entries whose query starts with p[0..plen) (bytewise; plen 0
 * matches all). Writes up to cap pointers to out and returns how many match
 * in total (so a return > cap means out was too small). */
size_t rank_huser_prefix(const rank_huser *u, const char *p, size_t plen, const rank_hentry **out,
                         size_t cap);

/* Time of the user's latest accept. */
int64_t rank_huser_last_time(const rank_huser *u);

/* The user's current session as seen at time `now`: up to cap of its most
 * recent queries, newest first. Returns how many were written; 0 when the
 * session has ended (now - last accept >= session_gap) or is empty. Queries
 * accepted after `now` are not reported (replaying the past is consistent). */
size_t rank_huser_session(const rank_history *h, const rank_huser *u, int64_t now, rank_hsess *out,
                          size_t cap);

void rank_history_stats(const rank_history *h, rank_history_stat *s);

#endif
