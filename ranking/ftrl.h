/* ftrl.h -- rank_ftrl: a linear model over hashed features learned with
 * FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the
 * Trenches", KDD 2013, Algorithm 1).
 *
 * Per coordinate i the model keeps z_i and n_i; the weight is
 *   w_i = 0                                             if |z_i| <= l1
 *       = -(z_i - sgn(z_i) l1) / ((beta + sqrt(n_i)) / alpha + l2)   otherwise
 * An update with gradient g_i = dL/dmargin * x_i does
 *   s = (sqrt(n_i + g_i^2) - sqrt(n_i)) / alpha;  z_i += g_i - s w_i;
 *   n_i += g_i^2;  and recomputes w_i.
 * w is kept materialized (float) so scoring is one load per feature: the
 * hot path (rank_ftrl_margin) has no sqrt.
 *
 * Losses (what the caller does with the margin, see learned.c):
 *   RANK_LOSS_LOGISTIC  each candidate is an example, label 1 for the
 *                       accepted one, 0 for the others;
 *   RANK_LOSS_PAIRWISE  each (accepted, other) pair is an example on
 *                       x_pos - x_neg with label 1 (RankNet-style logistic).
 * Base (what the weights are learned on top of; ranking/learned.h):
 *   RANK_FTRL_BASE_NONE       margin = w . x
 *   RANK_FTRL_BASE_HEURISTIC  margin = heuristic score (baseline.h) + w . x:
 *                             a model with no weights ranks exactly as the
 *                             heuristic, so little data cannot make it worse
 *                             than the heuristic by much (the default of qac
 *                             train since MODEL version 2).
 * Table size: 2^bits coordinates (RANK_FTRL_MIN_BITS .. RANK_FTRL_MAX_BITS);
 * feature indexes are masked.
 *
 * MODEL file (integers little-endian, floats IEEE-754):
 *   off  size  field
 *   0    8     magic "QACMDL\0\1"
 *   8    4     u32 version = RANK_FTRL_VERSION (1)
 *   12   4     u32 feature-set version (RANK_FEAT_VERSION of features.h)
 *   16   4     u32 bits
 *   20   4     u32 loss (0 logistic, 1 pairwise)
 *   24   32    f64 alpha, beta, l1, l2 (finite; alpha, beta > 0; l1, l2 >= 0)
 *   56   4     u32 base (0 none, 1 heuristic)
 *   60   4     u32 reserved, 0
 *   64   8     u64 updates (examples learned so far)
 *   72   8     u64 count of stored coordinates C (<= 2^bits)
 *   80   12*C  per coordinate with n_i > 0: u32 index (< 2^bits, strictly
 *              increasing), f32 z, f32 n (finite, n >= 0)
 *   end-8 8    u64 FNV-1a 64 of every byte before it
 * Version 1 (still read; base none) had no base and reserved words: updates
 * at 56, the count at 64, coordinates from 72.
 * Saved atomically (tmp file + fsync + rename): a reader sees the old file
 * or the new one. The loader checks every field and says what is wrong.
 *
 * Errors: 0 or a negative RANK_FTRL_E* code (loaders also fill err).
 * Ownership: the caller owns a rank_ftrl (rank_ftrl_free). Reads
 * (rank_ftrl_margin) may run concurrently with each other, not with updates.
 */
#ifndef QAC_RANK_FTRL_H
#define QAC_RANK_FTRL_H

#include <stddef.h>
#include <stdint.h>

#include "ranking/features.h"

#define RANK_FTRL_OK 0
#define RANK_FTRL_ENOMEM (-1)
#define RANK_FTRL_EINVAL (-2)
#define RANK_FTRL_EIO (-3)
#define RANK_FTRL_EFORMAT (-4)

#define RANK_FTRL_VERSION 2    /* written; version 1 is still read */
#define RANK_FTRL_VERSION_MIN 1
#define RANK_FTRL_MIN_BITS 10
#define RANK_FTRL_MAX_BITS 26
#define RANK_FTRL_DEFAULT_BITS 18

#define RANK_LOSS_LOGISTIC 0
#define RANK_LOSS_PAIRWISE 1

#define RANK_FTRL_BASE_NONE 0
#define RANK_FTRL_BASE_HEURISTIC 1

typedef struct rank_ftrl_opts {
    uint32_t bits;
    int loss;
    double alpha, beta, l1, l2;
    uint32_t base; /* RANK_FTRL_BASE_* */
} rank_ftrl_opts;

struct rank_fdelta;

typedef struct rank_ftrl {
    rank_ftrl_opts o;
    uint32_t mask;
    float *z, *n, *w;
    uint64_t updates;
    /* rank_ftrl_checksum_cached: the checksum of the weights at sum_updates
     * updates (valid when sum_ok); the weights change only through
     * rank_ftrl_update / rank_ftrl_step, which count updates */
    uint64_t sum, sum_updates;
    int sum_ok;
    /* NULL, or: rank_ftrl_update records its step there (ranking/ftrl_delta.h)
     * and leaves the weights alone (the fleet applies steps in stream order) */
    struct rank_fdelta *record;
} rank_ftrl;

const char *rank_ftrl_strerror(int err);
/* bits 18, pairwise, alpha 0.02, beta 1, l1 0.5, l2 1, base heuristic.
 * alpha (the per-coordinate learning rate, also of the server's online
 * steps: the model file carries it) was 0.1 with base none. On top of the
 * heuristic the AOL dev split hardly tells the rates apart (rand MRR@10: 0.1
 * 0.5207, 0.02 0.5220, 0.005 0.5224); 0.005 is too slow online (in
 * tests/it_accept_guard.sh a trend of 50 users no longer reaches the top 3
 * and a flooded query counted once rises instead), so 0.02. The small demo
 * log needs 0.005 (deploy/run.sh says why; README "Ranking"). */
void rank_ftrl_opts_default(rank_ftrl_opts *o);
/* NULL on allocation failure or invalid options. */
rank_ftrl *rank_ftrl_new(const rank_ftrl_opts *o);
void rank_ftrl_free(rank_ftrl *m);

static inline double rank_ftrl_margin(const rank_ftrl *m, const rank_feat *x, size_t n) {
    double s = 0;
    for (size_t k = 0; k < n; k++) s += (double)m->w[x[k].i & m->mask] * x[k].v;
    return s;
}

/* One FTRL step: g = dLoss/dmargin of the example x (indexes must be
 * distinct after masking: use rank_feat_merge on masked indexes, see
 * rank_ftrl_mask). */
void rank_ftrl_update(rank_ftrl *m, const rank_feat *x, size_t n, double g);

/* One step given per coordinate: g[k] is the gradient of coordinate idx[k]
 * (< 2^bits, distinct). rank_ftrl_update(x, g) is rank_ftrl_step with
 * idx[k] = x[k].i & mask, g[k] = g * x[k].v (zeros skipped), bit for bit. */
void rank_ftrl_step(rank_ftrl *m, const uint32_t *idx, const double *g, size_t n);

/* A 64-bit hash of the options, updates, z and n (w follows from them): two
 * models with the same checksum rank alike. Not cryptographic, not stable
 * across byte orders. Reads the whole table (~0.5 ms of CPU at 18 bits). */
uint64_t rank_ftrl_checksum(const rank_ftrl *m);
/* The same, computed again only when the model was updated since the last
 * call: STATS (which reports it) costs nothing between updates. */
uint64_t rank_ftrl_checksum_cached(rank_ftrl *m);

/* Masks x's indexes in place and merges duplicates; returns the new n. */
size_t rank_ftrl_mask(const rank_ftrl *m, rank_feat *x, size_t n);

/* Coordinates with a non-zero weight. */
size_t rank_ftrl_nonzero(const rank_ftrl *m);

int rank_ftrl_save(const rank_ftrl *m, const char *path, char *err, size_t errlen);
int rank_ftrl_load(const char *path, rank_ftrl **out, char *err, size_t errlen);

#endif
