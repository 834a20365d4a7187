/* history_redis.h -- rank_rh: user and session history as the server keeps it in
 * Redis (so any replica serves any user, and a restart forgets nobody):
 * the key layout, the commands an ACCEPT issues and a COMPLETE reads with,
 * and the parsing of their replies into the candidates / session context
 * the scorers take. No I/O here (ranking/ knows no sockets): commands come
 * out as argv arrays, replies go in element by element (engine/ moves the
 * bytes with engine/rank/rclient.h).
 *
 * Keys (NS = the server's --namespace):
 *   NS:u:<user>     hash, per query q the user accepted:
 *                     "c:" q -> count (HINCRBY), "t:" q -> last time (HSET,
 *                     epoch seconds); EXPIRE user_ttl on every accept
 *   NS:s:<session>  list of "<t> <q>" (t: epoch seconds), newest first:
 *                   LPUSH, LTRIM to session_len, EXPIRE session_ttl on every
 *                   accept (an idle session expires: EVALUATION.md's gap)
 *   NS:su:<user>    the same list for a user who sends no SESSION: the
 *                   user's implicit session
 * ACCEPT (rank_rh_accept_cmds): HINCRBY, HSET, EXPIRE [, LPUSH, LTRIM,
 * EXPIRE] -- fire and forget. COMPLETE (rank_rh_read_cmds): HGETALL NS:u:<user>
 * and LRANGE <session key> 0 session_len-1, pipelined with the MGET of
 * vectors (one round trip).
 *
 * Bound on a user's hash: Redis cannot trim a hash by age without Lua, so
 * the reader trims: when HGETALL shows more than max_queries queries,
 * rank_rh_surplus names the oldest ones and the server sends HDEL for them.
 * A hash thus holds at most max_queries + the accepts between two reads.
 *
 * Parsed form (rank_rh): entries (rank_hentry: q, count, last) and session
 * items (rank_hsess, newest first) pointing into the rank_rh's own arena, so
 * they outlive the reply; rank_rh_gather builds the same candidate list as
 * rank_gather (baseline.h) does from the in-process history.
 *
 * Errors: 0 or a negative RANK_RH_E* code. Ownership: rank_rh owns its
 * arena; pointers it hands out are valid until rank_rh_reset/free.
 * rank_rh_cmds owns the bytes its argv point to.
 */
#ifndef QAC_RANK_HISTORY_REDIS_H
#define QAC_RANK_HISTORY_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "ranking/baseline.h"
#include "ranking/history_mem.h"
#include "trie/trie.h"

#define RANK_RH_ENOMEM (-1)
#define RANK_RH_EINVAL (-2)   /* empty namespace/user/query */
#define RANK_RH_ETOOLONG (-3) /* over RANK_RH_MAX_NS / RANK_HIST_MAX_USER / RANK_HIST_MAX_QUERY */

#define RANK_RH_MAX_NS 64
#define RANK_RH_DEFAULT_USER_TTL (90 * 86400) /* seconds a user's history lives after the last accept */
#define RANK_RH_DEFAULT_SESSION_TTL 1800      /* = EVALUATION.md's session gap */
#define RANK_RH_DEFAULT_SESSION_LEN 10
#define RANK_RH_DEFAULT_MAX_QUERIES 200       /* per user hash (trimmed by readers) */
#define RANK_RH_MAX_CMDS 6
#define RANK_RH_MAX_ARGS 4

typedef struct rank_rh_opts {
    int64_t user_ttl, session_ttl; /* seconds, > 0 */
    uint32_t session_len;          /* >= 1 */
    uint32_t max_queries;          /* >= 1 */
} rank_rh_opts;

void rank_rh_opts_default(rank_rh_opts *o);

/* Commands to send, argv form (binary safe). */
typedef struct rank_rh_cmd {
    int argc;
    const char *argv[RANK_RH_MAX_ARGS];
    size_t len[RANK_RH_MAX_ARGS];
} rank_rh_cmd;

typedef struct rank_rh_cmds {
    size_t n;
    rank_rh_cmd c[RANK_RH_MAX_CMDS];
    char buf[4 * (RANK_RH_MAX_NS + RANK_HIST_MAX_USER + RANK_HIST_MAX_QUERY + 48)];
    size_t used;
} rank_rh_cmds;

/* The writes of one accept of q by user (required) in session (NULL/0: the
 * user's implicit session) at time now. */
int rank_rh_accept_cmds(rank_rh_cmds *out, const rank_rh_opts *o, const char *ns, const char *user, size_t ulen,
                        const char *sess, size_t slen, const char *q, size_t qlen, int64_t now);

/* The reads of a COMPLETE: HGETALL of the user, then LRANGE of the session
 * (explicit, or the user's implicit one). user may be NULL when sess is
 * given (then only the LRANGE). */
int rank_rh_read_cmds(rank_rh_cmds *out, const rank_rh_opts *o, const char *ns, const char *user, size_t ulen,
                      const char *sess, size_t slen);

/* HDEL of the given entries' two fields each (from rank_rh_surplus), at most
 * RANK_RH_MAX_CMDS commands; returns how many entries were covered. */
size_t rank_rh_trim_cmds(rank_rh_cmds *out, const char *ns, const char *user, size_t ulen,
                         const rank_hentry *const *e, size_t n);

/* --- parsed replies --- */
typedef struct rank_rh {
    rank_hentry *e;
    size_t n, cap;
    rank_hsess *s; /* newest first */
    size_t ns, scap;
    char *arena;
    size_t alen, acap;
    uint32_t *idx; /* open addressing over e: index + 1, 0 = empty */
    size_t idxcap;
    uint64_t bad; /* fields / items that did not parse (skipped) */
} rank_rh;

void rank_rh_init(rank_rh *h);
void rank_rh_reset(rank_rh *h); /* empty, keeps memory */
void rank_rh_free(rank_rh *h);

/* One field/value pair of the HGETALL reply, in any order. */
int rank_rh_user_field(rank_rh *h, const char *f, size_t flen, const char *v, size_t vlen);
/* Call after the last pair: builds the lookup index; drops entries without
 * a count. */
int rank_rh_user_done(rank_rh *h);
/* One LRANGE element, in reply order (newest first). Items at or after
 * `now` + 0 are kept; items older than now - gap end the session (ignored). */
int rank_rh_session_item(rank_rh *h, const char *s, size_t len, int64_t now, int64_t gap);

const rank_hentry *rank_rh_get(const rank_rh *h, const char *q, size_t len);

/* Candidates as rank_gather does (max_hist included), with h (may be empty
 * or NULL) as the user. */
int rank_rh_gather(rank_cands *cs, const trie *t, const rank_rh *h, const char *p, size_t plen, unsigned ntop,
                   size_t max_hist);

/* When h holds more than max entries: the oldest (by last time) surplus, up
 * to cap pointers into out; returns how many. */
size_t rank_rh_surplus(const rank_rh *h, size_t max, const rank_hentry **out, size_t cap);

#endif
