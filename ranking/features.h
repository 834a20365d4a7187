/* features.h -- feature extraction for the learned ranker.
 *
 * What: turns one candidate of one request into a short sparse vector of
 * (hashed index, value) pairs for the linear model of ftrl.h. Everything it
 * reads is already in memory (the candidate list, the user's counts, the
 * session, embedding vectors): pure functions, no I/O, no allocation, so a
 * libuv server can call them on its loop thread.
 *
 * Signals (each dense signal is emitted twice: alone and crossed with the
 * prefix-length bucket, a hashed cross; categorical ones are one-hot bins):
 *   popularity   ln(1+g), bin of log2(1+g), trie rank bin, share of the
 *                candidates' total g (the index has no per-prefix total, so
 *                the sum over the candidate list stands in), ln of g over the
 *                top candidate's g. The index holds one count per query:
 *                no recency-weighted popularity (an index built with
 *                --half-life would give it through g unchanged).
 *   lengths      candidate code points bin, remainder bytes bin, word count
 *                bin; prefix ends at a word boundary; prefix ends where a
 *                word of the candidate ends.
 *   user         ln(1+u), u bin, exp(-d/7) and a bin of d (days since the
 *                user last issued the candidate, fractional), history-only
 *                candidate (g == 0, not generated).
 *   generated    (rank_cand.gen, ranking/gen.h) a flag, the words kept from
 *                the prefix (bin 1..4+), ln(1+suffix frequency), the text
 *                is a key of the trie; none of them for other candidates,
 *                so a model trained without generated candidates scores
 *                every other candidate as before.
 *   match        (rank_cand.cls, baseline.h "Match class") for a typo or
 *                infix candidate only: its match type (infix, typo), the
 *                edits (1, 2), the typed words matched (bin 1..4+) and the
 *                key's words beyond them (bin 0..3+); none of them for an
 *                exact candidate, so a model trained before them scores
 *                every such candidate as before (the version did not change:
 *                no index changed meaning). The ranker orders within a class
 *                only, so these order typo matches among themselves.
 *   session      cosine(last query, candidate) and its bin, cosine(time-
 *                decayed mean of the session's vectors, candidate) and bin,
 *                byte-trigram Jaccard with the last query, word overlap share
 *                with the last query, candidate repeats / extends the last
 *                query, repeats / extends an earlier session query, ln(1+u)
 *                when the session is active.
 * "last" = the session's newest query (the caller decides what a session
 * is: EVALUATION.md's 30 minutes).
 *
 * Index space: 32-bit hashes of (feature number, bin, cross bucket); the
 * model masks them to its table size. RANK_FEAT_VERSION changes whenever
 * the meaning of an index changes (a model file records it); new feature
 * numbers that fire only for new kinds of candidates (generated, match)
 * change no index's meaning and keep the version.
 *
 * Ownership: rank_fctx points at caller memory (prefix, session, vectors)
 * that must stay valid during the calls.
 */
#ifndef QAC_RANK_FEATURES_H
#define QAC_RANK_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "ranking/baseline.h"
#include "ranking/history_mem.h"

#define RANK_FEAT_VERSION 1
#define RANK_FEAT_MAX 64        /* features of one candidate (upper bound) */
#define RANK_FEAT_MAX_TRI 128   /* trigrams of the last query considered */
#define RANK_FEAT_TRI_SLOTS_LOG2 8 /* the last query's trigram set: open addressing, at most half full */
#define RANK_FEAT_TRI_SLOTS (1u << RANK_FEAT_TRI_SLOTS_LOG2)
#define RANK_SESS_TAU 600.0     /* seconds: decay of the session mean vector */

typedef struct rank_feat {
    uint32_t i; /* hashed index */
    float v;
} rank_feat;

/* A candidate for the learned ranker: the baseline's candidate plus its trie
 * rank (1-based position in the trie's top N; 0 = came from the user's
 * history only) and its unit embedding (dims floats, or NULL: unknown). */
typedef struct rank_lcand {
    rank_cand c;
    uint32_t trank;
    const float *vec;
} rank_lcand;

/* A candidate's walk over the trigrams of ^q$ (features.c tri_overlap):
 * where it is, the distinct trigrams met so far and a filter of them, how
 * many are in the last query's set. Every candidate that starts with the
 * prefix p has the same trigrams at positions 0 .. plen - 2 (they read only
 * ^ and p's bytes), so the walk over them is done once per request. */
typedef struct rank_ftri {
    uint64_t seen[4];
    uint32_t kept[RANK_FEAT_MAX_TRI];
    uint32_t n, common, k;
    uint32_t i; /* next position */
} rank_ftri;

/* Context of one request. Fill the fields, then rank_fctx_prepare. */
typedef struct rank_fctx {
    const char *p; /* normalized prefix (bytes) */
    uint32_t plen;
    int64_t now; /* seconds, same clock as rank_cand.last */
    uint32_t dims;
    const char *last; /* session's newest query, or NULL (no active session) */
    uint32_t lastlen;
    const float *last_vec; /* its unit vector, or NULL */
    const float *sess_vec; /* rank_session_vec of the session, or NULL */
    const rank_hsess *sess; /* session queries, newest first (last included), may be NULL */
    size_t nsess;
    /* filled by rank_fctx_prepare */
    uint32_t pcp, pbucket;
    double gsum, gmax;
    uint32_t trislot[RANK_FEAT_TRI_SLOTS]; /* the last query's trigram keys | 1 << 24; 0 = empty slot */
    uint32_t ntri;
    rank_ftri ptri; /* the candidates' trigram walk over the prefix's first plen - 1 positions, once */
    int ptri_ok;    /* 1: ptri is set (a last query, plen >= 2) */
    rank_heur heur; /* the heuristic's per-request part (the learned ranker's base) */
} rank_fctx;

/* Computes the per-request parts: prefix length bucket, the g total and max
 * of the candidates of class 0 (baseline.h "Match class": adding typo or
 * infix matches changes no completion's features), the last query's
 * trigram set and distinct words (x->heur: rank_heur_prepare with x's now
 * and last), the trigram walk over the prefix (x->ptri). Every call below
 * on x wants it prepared. */
void rank_fctx_prepare(rank_fctx *x, const rank_lcand *c, size_t n);

/* The features of candidate c into out[RANK_FEAT_MAX]; returns how many. */
size_t rank_features(const rank_fctx *x, const rank_lcand *c, rank_feat *out);

/* What rank_features computes of a candidate before its features, which a
 * caller scoring many candidates computes for all at once (the learned
 * ranker: its base uses the same terms). */
typedef struct rank_fpre {
    rank_cand_terms t; /* rank_cand_terms_of(&c->c, x->now) */
    rank_cand_words w; /* rank_heur_words(&x->heur, c->c.q, c->c.len): word count, overlap, the base's share */
    float cosl, coss;  /* rank_dot(c->vec, x->last_vec / x->sess_vec, x->dims) when x->last and both vectors */
} rank_fpre;

/* out[i] for c[0..n). The cosines go candidate by candidate in each
 * dimension (every sum still in rank_dot's order, so the same bits):
 * n independent sums instead of one chain of dims dependent additions. */
void rank_fpre_batch(const rank_fctx *x, const rank_lcand *c, size_t n, rank_fpre *out);
/* rank_features with c's rank_fpre given. */
size_t rank_features_pre(const rank_fctx *x, const rank_lcand *c, const rank_fpre *pre, rank_feat *out);

/* Time-decayed mean of session vectors: sum of exp(-(now - t[i]) / tau) *
 * vecs[i] (NULL entries skipped), scaled to unit length, into out[dims].
 * Returns 1, or 0 when no vector contributed (out zeroed). */
int rank_session_vec(uint32_t dims, const float *const *vecs, const int64_t *t, size_t n, int64_t now,
                     double tau, float *out);

/* Sorts f[0..n) by index and sums duplicates; returns the new length. */
size_t rank_feat_merge(rank_feat *f, size_t n);

#endif
