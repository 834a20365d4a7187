/* ranker_internal.h -- what the files of the server's ranker share (the
 * contract is ranker.h; the design essays are at the top of ranker.c and
 * ranker_tables.c). Only engine/ranker*.c include it. Names that cross
 * files are eng_rank__*; everything else stays static.
 */
#ifndef QAC_ENG_RANKER_INTERNAL_H
#define QAC_ENG_RANKER_INTERNAL_H

#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/util.h"
#include "engine/rank/ranker.h"
#include "engine/rank/rclient.h"
#include "ranking/veclru.h"
#include "ranking/embed.h"
#include "ranking/embkeys.h"
#include "ranking/features.h"
#include "ranking/ftrl.h"
#include "ranking/history_mem.h"
#include "ranking/learned.h"
#include "ranking/request.h"
#include "ranking/history_redis.h"

/* Every scratch buffer of the request path is sized from a named limit and
 * every fill is checked against it: candidates from the gather's caps
 * (ntop <= TRIE_MAX_K, history-only <= RANK_MAX_HIST_CANDS, whatever a
 * user's history holds), session queries from MAX_SESS (both history
 * stores keep at most that many per session; longer lists are cut). */
#define MAX_CANDS RANK_MAX_CANDS
#define MAX_SESS ENG_RANK_MAX_SESSION
#define MAX_MGET (TRIE_MAX_K + MAX_SESS + 64)
_Static_assert(MAX_SESS == RANK_REQ_MAX_SESS, "the ranker reads what a request context holds");

typedef struct mget {
    eng_rank *R;
    struct eng_rank_pending *req; /* NULL: fire-and-forget warm-up */
    uint64_t version;
    qbuf keys;
    size_t n, qoff; /* qoff: bytes of "NS:vV:q:" */
    size_t off[MAX_MGET], len[MAX_MGET];
    const char *argv[MAX_MGET + 1];
    size_t argl[MAX_MGET + 1];
    struct mget *next; /* free list */
} mget;

typedef struct tag {
    struct eng_rank_pending *req;
    int kind; /* 0 mget, 1 user, 2 session, 3 write */
} tag;

struct eng_rank_pending {
    eng_rank *R;
    struct eng_rank_pending *next; /* free list */
    uv_timer_t timer;
    int in_use, answered, cancelled, is_accept;
    int waiting, errs;
    int hist_ok, want_user, want_sess;
    eng_rank_cb cb;
    void *ud;
    char p[TRIE_MAX_KEY], user[RANK_HIST_MAX_USER], sess[RANK_HIST_MAX_USER], q[TRIE_MAX_KEY];
    size_t plen, ulen, slen, qlen;
    unsigned k;
    eng_rank_match m; /* its FUZZY / INFIX */
    int64_t now;
    rank_rh rh;
    tag t_mget, t_user, t_sess;
    eng_rank_result res;
};

typedef struct ngtab {
    int state;          /* ENG_RANK_NG_* */
    uint64_t gen;       /* bumped at every drop: replies of older loads are ignored */
    uint64_t version;   /* version the rows are of */
    uint32_t dims, buckets, rowb;
    unsigned char *rows; /* buckets * rowb, zero = no row */
    uint32_t next, done; /* buckets requested / answered */
    int inflight;
    uint64_t t0;
} ngtab;

typedef struct ngbatch {
    eng_rank *R;
    uint64_t gen;
    uint32_t first, n;
} ngbatch;

typedef struct eng_rank_genjob eng_rank_genjob; /* ranker_gen.c */

struct eng_rank {
    uv_loop_t *loop;
    trie *t;
    trie_words *const *words; /* the engine's word index over t, read at answer time (eng_rank_set_words) */
    eng_rank_opts o;
    char ns[RANK_RH_MAX_NS + 1];
    char *model_path, *save_path;
    rcl *rc;
    rank_veclru *cache;
    rank_ftrl *model;
    rank_emb *emb;
    rank_history *hist;
    rank_rh_opts rho;
    uint64_t version, pending_version;
    uint32_t dims;
    uv_timer_t vtimer;
    int closing, open_handles, learned;
    eng_rank_pending *pool;
    size_t npool;
    mget *mfree;
    /* scratch */
    rank_req req; /* the request context (ranking/request.h): candidates, vectors, features */
    rank_hsess sbuf[MAX_SESS];
    eng_rank_stat st;
    uint64_t rc_connects_seen;
    ngtab ng;
    uint32_t pending_buckets; /* from the meta of pending_version */
    qbuf ngkeys;              /* scratch for one batch's keys */
    rank_gen *gen;            /* suffix index (gen_candidates > 0), or NULL (none built yet) */
    eng_rank_genjob *genjob;  /* the build that runs (ranker_gen.c), or NULL */
    int gen_again;            /* a RELOAD came while it ran: one more build when it ends */
    struct eng_rank_fleet *fleet; /* ranker_fleet.c; NULL: learning changes the weights at once */
};

static inline int ng_ready(const eng_rank *R) {
    return R->ng.state == ENG_RANK_NG_READY && R->ng.version == R->version && R->ng.dims == R->dims;
}

/* ranker_gen.c */
int eng_rank__gen_start(eng_rank *R, char *err, size_t errlen); /* copy the keys, build off the loop */
void eng_rank__gen_close(eng_rank *R);                          /* cancel a build that runs */

/* ranker.c */
void eng_rank__free_all(eng_rank *R);

/* ranker_fleet.c */
int eng_rank__fleet_reloaded(eng_rank *R, rank_ftrl *m); /* 1: m is the running version (freed, weights kept) */
void eng_rank__fleet_free(eng_rank *R);

/* ranker_tables.c */
void eng_rank__check_version(eng_rank *R); /* asks NS:current; a new version loads its meta, then its table */
void eng_rank__on_vtimer(uv_timer_t *t);   /* every ENG_RANK_VERSION_CHECK_MS */
void eng_rank__on_rcl_state(rcl *c, int up, void *ud);

#endif
