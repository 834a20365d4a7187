/* learned.h -- the learned ranker: features (features.h) -> linear model
 * (ftrl.h) -> scores, and the one online-update path used both by `qac
 * train` (offline replay) and by the server on ACCEPT.
 *
 * Request flow (server, train and eval alike: ranking/request.h builds steps
 * 1-3 for all of them), all in memory, nothing blocks:
 *   1. rank_gather (baseline.h) / rank_rh_gather (history_redis.h): the trie's top
 *      N (RANK_LEARN_TOPN) for the prefix plus the user's matching history,
 *      then the generated completions (gen.h), then the typo and
 *      infix matches a request allows (request.h), trank 0;
 *   2. rank_lcands_from: wraps them with their trie rank, into the caller's
 *      buffer of stated capacity;
 *   3. each lcand.vec (unit vectors, NULL when unknown) and the context
 *      (rank_fctx: prefix, now, session queries, last query's vector,
 *      rank_session_vec of the session);
 *   4. rank_learned_score fills c[i].c.score (the model's base score plus
 *      its margin w . x); rank_top (baseline.h) orders them (match class asc,
 *      score desc, text asc).
 * Base: a model trained with base heuristic (the default; ftrl.h) learns
 * only what the heuristic gets wrong: every score and every loss below adds
 * the heuristic's score of the candidate (x->last as the heuristic's `last`,
 * which is EVALUATION.md's: the session's newest query, under 30 minutes
 * old) to the margin. With no weights it ranks as the heuristic does; on a
 * small log the regularized weights stay small and so does the change.
 * On ACCEPT of candidate `pos` (the one the user took, e.g. PREFIX + RANK):
 *   rank_learn_accept with the same candidates and context. Logistic loss:
 *   the positive with label 1 and the RANK_LEARN_MAX_NEG highest-scored
 *   negatives with label 0. Pairwise loss: one step on x_pos - x_neg per
 *   such negative. Hard negatives only: cheaper, and the top of the list is
 *   what MRR@10 counts.
 *
 * Errors: rank_learn_accept returns the number of model steps (>= 0) or
 * RANK_LEARN_EINVAL. Ownership: nothing is allocated; lcands point into the
 * rank_cands they came from (valid as long as it is).
 * Cost: ~40 features per candidate, one table load each, plus the
 * heuristic's score (the candidate's word set; the last query's is split
 * once per request) per candidate with base heuristic; see
 * tests/bench/bench_rerank.c and tests/bench/ranking.sh for the measured
 * time per 50 candidates.
 */
#ifndef QAC_RANK_LEARNED_H
#define QAC_RANK_LEARNED_H

#include <stddef.h>

#include "ranking/baseline.h"
#include "ranking/features.h"
#include "ranking/ftrl.h"

#define RANK_LEARN_EINVAL (-2)
#define RANK_LEARN_TOPN 50   /* trie candidates per prefix (server default) */
#define RANK_LEARN_MAX_NEG 10 /* negatives per accepted impression */

/* Fills out[0..n) from cs (a rank_gather result), n = min(cs->n, cap): c,
 * trank (1-based position among the trie's hits, 0 for history-only),
 * vec = NULL. Returns n; callers use it, not cs->n (a gather capped with
 * max_hist fits RANK_MAX_CANDS, so n < cs->n means a mis-sized buffer). */
size_t rank_lcands_from(rank_lcand *out, size_t cap, const rank_cands *cs);

/* The model's base score of c (ftrl.h "Base"): the heuristic's score with
 * x's clock and last query (rank_score_heuristic), or 0 for base none.
 * x prepared (rank_fctx_prepare). */
double rank_learned_base(const rank_ftrl *m, const rank_fctx *x, const rank_lcand *c);

/* Scores c[0..n): c[i].c.score = base + margin. Prepares x (rank_fctx_prepare). */
void rank_learned_score(const rank_ftrl *m, rank_fctx *x, rank_lcand *c, size_t n);

/* One impression: candidates c[0..n) shown for x's prefix, c[pos] accepted
 * (the losses use base + margin).
 * Updates m (see above). Prepares x. Returns the number of steps. */
int rank_learn_accept(rank_ftrl *m, rank_fctx *x, const rank_lcand *c, size_t n, size_t pos);

#endif
