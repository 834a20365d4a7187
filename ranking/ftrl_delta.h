/* ftrl_delta.h -- rank_fdelta: the FTRL steps of one learned ACCEPT as data,
 * so that a fleet of servers can apply them in one order (issue 18).
 *
 * WHY STEPS AND NOT THE ACCEPT
 * ----------------------------
 * An ACCEPT's features depend on what the learning replica holds at that
 * moment (the user's history, the trie's candidates, vectors, its clock), so
 * replaying the ACCEPT elsewhere would learn something else. Its steps do
 * not: a step is "coordinate i gets gradient g_i" and rank_ftrl_step applies
 * it the same way everywhere, so replicas that start from the same weights
 * and apply the same steps in the same order hold bit-identical weights.
 * The gradients are computed on the origin's weights of the moment, which
 * may lack steps still in flight (delayed-gradient SGD: the delay is the
 * change log's lag). Every step of an ACCEPT is computed on the same
 * weights (the origin does not apply them until they come back in order),
 * where the local path applies step j before computing step j+1.
 *
 * While m->record points at a rank_fdelta, rank_ftrl_update appends its step
 * here (rank_fdelta_add) instead of changing the weights.
 *
 * ENCODING (integers little-endian, doubles IEEE-754)
 *   0    1   version RANK_FDELTA_VERSION (1)
 *   1    1   steps S (1..RANK_FDELTA_MAX_STEPS)
 *   then S times: u16 coordinates C (0..RANK_FDELTA_MAX_STEP_COORDS),
 *                 C times (u32 index, f64 gradient)
 *   the length is exactly that (no trailing bytes).
 * rank_fdelta_apply checks everything before changing anything: index <
 * 2^bits of the model, gradient finite with |g| <= RANK_FDELTA_MAX_GRAD,
 * indexes of one step distinct; a bad delta changes nothing (-1, why).
 */
#ifndef QAC_RANK_FTRL_DELTA_H
#define QAC_RANK_FTRL_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "ranking/features.h"
#include "ranking/ftrl.h"
#include "ranking/learned.h"

#define RANK_FDELTA_VERSION 1
#define RANK_FDELTA_MAX_STEPS (RANK_LEARN_MAX_NEG + 1)      /* logistic: the positive + its negatives */
#define RANK_FDELTA_MAX_STEP_COORDS (2 * RANK_FEAT_MAX)     /* pairwise: x_pos - x_neg */
#define RANK_FDELTA_MAX_COORDS (RANK_FDELTA_MAX_STEPS * RANK_FDELTA_MAX_STEP_COORDS)
#define RANK_FDELTA_MAX_BYTES (2 + RANK_FDELTA_MAX_STEPS * 2 + RANK_FDELTA_MAX_COORDS * 12)
#define RANK_FDELTA_MAX_GRAD 1e6 /* |gradient| of one coordinate; larger is garbage */

typedef struct rank_fdelta {
    uint32_t nsteps, ncoords, overflow;
    uint16_t step_n[RANK_FDELTA_MAX_STEPS];
    uint32_t idx[RANK_FDELTA_MAX_COORDS];
    double g[RANK_FDELTA_MAX_COORDS];
} rank_fdelta;

void rank_fdelta_reset(rank_fdelta *d);
/* Records one rank_ftrl_update(x, n, g) step (indexes masked, zero
 * gradients left out). Past a limit d->overflow is set (never happens with
 * rank_learn_accept: the limits are its own). */
void rank_fdelta_add(rank_fdelta *d, uint32_t mask, const rank_feat *x, size_t n, double g);
/* Encodes d into buf (cap >= RANK_FDELTA_MAX_BYTES); returns the length, or
 * 0 when d is empty or overflowed. */
size_t rank_fdelta_encode(const rank_fdelta *d, unsigned char *buf, size_t cap);
/* Checks an encoded delta against m, then applies its steps in order.
 * Returns the steps applied, or -1 with a static reason in *why (nothing
 * applied). */
int rank_fdelta_apply(rank_ftrl *m, const void *buf, size_t len, const char **why);

#endif
