/* ftrl_delta.c -- an ACCEPT's FTRL steps as bytes and back (ftrl_delta.h).
 * Decoding never trusts its input: the whole buffer is walked and checked
 * once before the first coordinate changes.
 */
#include "ranking/ftrl_delta.h"

#include <math.h>
#include <string.h>

#include "common/endian.h"

void rank_fdelta_reset(rank_fdelta *d) { d->nsteps = d->ncoords = d->overflow = 0; }

void rank_fdelta_add(rank_fdelta *d, uint32_t mask, const rank_feat *x, size_t n, double g) {
    if (d->overflow || d->nsteps == RANK_FDELTA_MAX_STEPS || n > RANK_FDELTA_MAX_STEP_COORDS) {
        d->overflow = 1;
        return;
    }
    uint16_t c = 0;
    for (size_t k = 0; k < n; k++) {
        double gi = g * x[k].v;
        if (gi == 0) continue;
        d->idx[d->ncoords] = x[k].i & mask;
        d->g[d->ncoords++] = gi;
        c++;
    }
    d->step_n[d->nsteps++] = c;
}

size_t rank_fdelta_encode(const rank_fdelta *d, unsigned char *buf, size_t cap) {
    if (d->overflow || !d->nsteps || cap < RANK_FDELTA_MAX_BYTES) return 0;
    unsigned char *p = buf;
    *p++ = RANK_FDELTA_VERSION;
    *p++ = (unsigned char)d->nsteps;
    size_t at = 0;
    for (uint32_t s = 0; s < d->nsteps; s++) {
        le_put16(p, d->step_n[s]);
        p += 2;
        for (uint32_t k = 0; k < d->step_n[s]; k++, at++) {
            le_put32(p, d->idx[at]);
            le_put_f64(p + 4, d->g[at]);
            p += 12;
        }
    }
    return (size_t)(p - buf);
}

/* Walks buf; with m NULL only checks (mask from bits), else applies. */
static int walk(rank_ftrl *m, uint32_t mask, const unsigned char *b, size_t len, const char **why) {
    if (len < 2 || b[0] != RANK_FDELTA_VERSION) return *why = "model update: not version 1", -1;
    uint32_t steps = b[1];
    if (steps < 1 || steps > RANK_FDELTA_MAX_STEPS) return *why = "model update: step count out of range", -1;
    size_t off = 2;
    uint32_t idx[RANK_FDELTA_MAX_STEP_COORDS];
    double g[RANK_FDELTA_MAX_STEP_COORDS];
    for (uint32_t s = 0; s < steps; s++) {
        if (len - off < 2) return *why = "model update: truncated", -1;
        uint32_t c = le_get16(b + off);
        off += 2;
        if (c > RANK_FDELTA_MAX_STEP_COORDS) return *why = "model update: too many coordinates in a step", -1;
        if ((len - off) / 12 < c) return *why = "model update: truncated", -1;
        for (uint32_t k = 0; k < c; k++, off += 12) {
            idx[k] = le_get32(b + off);
            g[k] = le_get_f64(b + off + 4);
            if (idx[k] > mask) return *why = "model update: index past the model's table", -1;
            if (!isfinite(g[k]) || fabs(g[k]) > RANK_FDELTA_MAX_GRAD)
                return *why = "model update: gradient not finite or too large", -1;
            for (uint32_t j = 0; j < k; j++)
                if (idx[j] == idx[k]) return *why = "model update: an index repeated in a step", -1;
        }
        if (m) rank_ftrl_step(m, idx, g, c);
    }
    if (off != len) return *why = "model update: trailing bytes", -1;
    return (int)steps;
}

int rank_fdelta_apply(rank_ftrl *m, const void *buf, size_t len, const char **why) {
    if (walk(NULL, m->mask, buf, len, why) < 0) return -1;
    return walk(m, m->mask, buf, len, why);
}
