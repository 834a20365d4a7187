/* request.h -- one ranked request's context, built the same way by `qac
 * train`, `qac eval` and the server.
 *
 * What: from (prefix, the user's history, the session, the clock) it builds
 * what the scorers read: the candidates (rank_gather / rank_rh_gather,
 * capped), the learned ranker's candidates with their unit vectors
 * (rank_lcand) and the feature context (rank_fctx: prefix, clock, session
 * queries, the last query's vector, the session's mean vector). It is the
 * ONLY code that does this: data/train.c and data/eval.c (through their
 * lenv) and engine/rank/ranker.c call it, so training sees exactly what serving
 * scores; tests/test_qac_rankpaths.c feeds the same events through the
 * offline and the serving path and compares scores bit for bit.
 *
 * Steps of one request (a train/eval event is one session and several
 * prefixes: call rank_req_session once, then 2-3 per prefix):
 *   1. rank_req_session(r, dims, sess, nsess, now): the session's queries,
 *      newest first (caller memory: the in-process history's ring or a
 *      rank_rh's list), at most RANK_REQ_MAX_SESS of them (longer lists are
 *      cut, newest kept). No vectors yet.
 *   2. rank_req_gather(r, t, hu, rh, p, plen, topn): the candidates of prefix
 *      p into r->cs -- the trie's top `topn` plus the user's matching history,
 *      from the in-process history (hu) or a Redis history (rh; rh wins when
 *      both are given), history-only ones capped at RANK_MAX_HIST_CANDS.
 *      With a suffix index set (rank_req_set_gen), up to gen_max generated
 *      candidates follow (ranking/gen.h: rank_cand.gen != 0, .sf; g from
 *      the trie when the text is a key, else 0; u 0), those equal to a
 *      candidate already gathered left out; one that keeps a word the index
 *      does not know ranks after every class (rank_cand.after; gen.h "Known
 *      words") and is not counted below.
 *      With typo or infix matches asked for (rank_req_set_match: what the
 *      request's FUZZY / INFIX allow), and only while fewer than m.k
 *      candidates of class 0 were gathered, the ones ranked after every class
 *      not counted (baseline.h "Match class": no later candidate can rank
 *      above the others, so more would never be shown),
 *      the infix matches follow (trie_words_topk's class-1 hits: the typed
 *      words elsewhere in the key; .cls RANK_CLS_INFIX, .words), then, while
 *      still fewer than m.k, both kinds of typo match (their classes
 *      interleave: neither may crowd the other out): the typo matches of the
 *      text (trie_fuzzy_topk_bounded's hits with 1..m.edits edits; .cls
 *      rank_cls_edit(edits, 0), .edits) and those with edits on the last
 *      typed word (trie_words_fuzzy_topk with m.word_edits: .cls
 *      rank_cls_edit(edits, 1), .edits, .words; a text gathered before with
 *      more edits takes this class),
 *      at most m.k of each, texts already gathered left out, each with the
 *      user's count and last time from the same history. Whether a limit
 *      cut either search is kept for the reply (fuzzy_cut: the edit class
 *      m.fuzzy_max_work cut, trie_fuzzy_info.cut; infix_cut: the word
 *      search's scan limit), 0 when it did not run. The index and
 *      the limits are trie-level (the engine's word index is passed as
 *      its trie_words): ranking never sees an engine type.
 *      Enough for the heuristic (rank_score_heuristic on r->cs.c).
 *   3. rank_req_prepare(r): wraps them into r->lc (rank_lcands_from, at most
 *      RANK_MAX_CANDS) with their vectors, and completes r->x: prefix, and
 *      (once per session) the session's vectors. Then rank_learned_score /
 *      rank_learn_accept take (&r->x, r->lc, n).
 *
 * Vectors come from the caller's function (an in-process cache over a
 * Redis or a file store in the server, a rank_vcache offline): it fills
 * out[dims] with a unit vector and returns 1, 0 when the query has none,
 * -1 on an error (allocation) that must fail the request.
 *
 * Memory: r owns RANK_MAX_CANDS + RANK_REQ_MAX_SESS vectors of
 * RANK_EMB_MAX_DIMS floats (~340 KB, allocated once by rank_req_init), so
 * dims may change between requests (a new embeddings version). Candidates
 * point into the trie hits held by r->cs and into the history stores:
 * valid until the next gather or a change to those stores.
 */
#ifndef QAC_RANK_REQUEST_H
#define QAC_RANK_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "ranking/baseline.h"
#include "ranking/embed.h"
#include "ranking/features.h"
#include "ranking/gen.h"
#include "ranking/history_mem.h"
#include "ranking/history_redis.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_words.h"

#define RANK_REQ_MAX_SESS 10 /* session queries a request reads (>= both stores' default session length) */
_Static_assert(RANK_HIST_DEFAULT_SESSION_LEN <= RANK_REQ_MAX_SESS, "in-process session longer than a request reads");
_Static_assert(RANK_RH_DEFAULT_SESSION_LEN <= RANK_REQ_MAX_SESS, "Redis session longer than a request reads");

/* Typo and infix candidates of a request (step 2). All zero: none. */
typedef struct rank_match {
    unsigned k;               /* answers the request shows (1..RANK_MAX_MATCH_CANDS; 0: no matches) */
    unsigned edits;           /* typo matches with up to this many edits (0: none; <= TRIE_FUZZY_MAX_EDITS) */
    unsigned fuzzy_flags;     /* trie_fuzzy_topk_bounded's flags (TRIE_FUZZY_FIRST_ANY) */
    uint64_t fuzzy_max_work;  /* its work limit (0: none) */
    const trie_words *words;  /* infix matches from this index over the same trie (NULL: none) */
    unsigned word_edits;      /* with words: edits on the last typed word (trie_words_fuzzy_topk; 0: none) */
} rank_match;

typedef int (*rank_vec_fn)(void *ud, const char *q, size_t len, float *out);

typedef struct rank_req {
    rank_vec_fn vec; /* may be NULL: no vectors */
    void *vec_ud;
    rank_cands cs;               /* step 2 */
    rank_lcand lc[RANK_MAX_CANDS]; /* step 3 */
    rank_fctx x;                 /* steps 1 and 3 */
    rank_hsess sess[RANK_REQ_MAX_SESS];
    float *vecs;  /* RANK_MAX_CANDS * RANK_EMB_MAX_DIMS */
    float *svecs; /* RANK_REQ_MAX_SESS * RANK_EMB_MAX_DIMS */
    float lastv[RANK_EMB_MAX_DIMS], sessv[RANK_EMB_MAX_DIMS];
    int sess_done; /* the session's vectors are in x */
    const rank_gen *gen; /* suffix index for generated candidates, or NULL */
    unsigned gen_max;    /* generated candidates per request (0: none) */
    rank_gen_cand *gbuf; /* RANK_MAX_GEN_CANDS generated texts (candidates point here) */
    trie_hit *ghits;     /* RANK_MAX_GEN_CANDS hits: rank_gen_complete's scratch */
    rank_match m;        /* typo / infix matches of the next gathers */
    trie_fuzzy_hit *fhits; /* RANK_MAX_MATCH_CANDS typo hits (candidates point here) */
    trie_words_hit *whits; /* RANK_MAX_MATCH_CANDS infix hits (candidates point here) */
    trie_words_hit *wfhits; /* RANK_MAX_MATCH_CANDS infix hits with edits on the last word (the same) */
    uint32_t ninfix, ntypo; /* candidates the last gather took from each (for tests and STATS) */
    uint32_t nafter;        /* of its generated ones, those ranked after every class (rank_cand.after) */
    uint8_t fuzzy_cut;      /* the last gather's typo search: the edit class its work limit cut (0: none) */
    uint8_t infix_cut;      /* ... its infix search: 1 when the scan limit cut it */
    uint8_t word_edits;     /* ... its last word's search ran with this many edits (0: not run); below
                             * m.word_edits when no match of more edits could be shown (rank__word_skip) */
} rank_req;

/* 1 (the default): the last word's search runs only as far as its matches
 * can be among the m.k shown -- not at all when m.k candidates already
 * come before its one-edit class, with one edit when m.k come before its
 * two-edit class (rank_cls_edit: classes order the answer before any
 * score, and a typo or word match moves no other candidate's score:
 * rank_fctx_prepare sums the completions' only); never after a cut typo
 * search. 0: always with m.word_edits (tests compare the two). */
extern int rank__word_skip;

/* Returns 0, or -1 when its buffers cannot be allocated. */
int rank_req_init(rank_req *r, rank_vec_fn vec, void *vec_ud);
void rank_req_free(rank_req *r);

/* Generated candidates from then on: gen (borrowed; NULL: none), at most
 * max (capped at RANK_MAX_GEN_CANDS) per request. */
void rank_req_set_gen(rank_req *r, const rank_gen *gen, unsigned max);

/* Typo and infix candidates from then on (copied; NULL: none). m->k is
 * capped at RANK_MAX_MATCH_CANDS, m->edits at TRIE_FUZZY_MAX_EDITS. */
void rank_req_set_match(rank_req *r, const rank_match *m);

/* Step 1. dims <= RANK_EMB_MAX_DIMS (0: no vectors). */
void rank_req_session(rank_req *r, uint32_t dims, const rank_hsess *sess, size_t nsess, int64_t now);

/* Step 2. Returns the number of candidates (r->cs.n), or a negative
 * RANK_BASE_E* code. */
int rank_req_gather(rank_req *r, const trie *t, const rank_huser *hu, const rank_rh *rh, const char *p,
                    size_t plen, unsigned topn);

/* Step 3. Returns the number of learned candidates in r->lc, or -1 when the
 * vector function failed. */
int rank_req_prepare(rank_req *r);

/* Index of q among r->lc[0..n), or -1. */
long rank_req_find(const rank_req *r, size_t n, const char *q, size_t qlen);

#endif
