/* fuzz_model.c -- libFuzzer harness for the MODEL file loader
 * (rank_ftrl_load, ranking/ftrl.h).
 *
 * Input: a MODEL file, version 2 (80-byte header) or 1 (72 bytes; the
 * version field, bytes 8..12, says which). Fix-ups before loading, so that
 * mutations reach the coordinate parser instead of stopping at the cheap
 * checks: when the body after the header is a whole number of 12-byte
 * coordinate records plus the 8-byte checksum, the count field (bytes
 * 72..80, version 1: 64..72) is set to that number (other lengths leave it
 * alone, which keeps the "truncated" and "trailing bytes" paths reachable);
 * and a file of at least header + 8 bytes gets its trailing FNV-1a 64
 * checksum recomputed with the loader's own rank_emb_hash (public in
 * ranking/embed.h).
 *
 * The file is written to a memfd and loaded by its /proc/self/fd path.
 * Checks: failure returns a negative RANK_FTRL_E* code, leaves *out
 * untouched and says why in err; success gives a model whose options are
 * valid, whose z, n, w are finite everywhere (n >= 0), whose margin is
 * finite, and that survives rank_ftrl_save + rank_ftrl_load with the same
 * options, updates, and z/n/w for every coordinate (tables up to 2^20; the
 * walk over larger ones is skipped to keep executions fast). Seeds
 * (tests/fuzz/corpus/model) are `qac train --bits 10` output on
 * data/demo/excite97.tsv (pairwise) and its first 60 lines (logistic).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/endian.h"
#include "ranking/embed.h"
#include "ranking/ftrl.h"
#include "tests/fuzz/fuzz_util.h"

#define MDL_HEADER 80
#define MDL_HEADER_V1 72
#define MDL_REC 12
#define WALK_MAX_BITS 20

static char dir[64];
static void cleanup(void) {
    char p[128];
    snprintf(p, sizeof p, "%s/m", dir);
    unlink(p);
    rmdir(dir);
}

static int same_f32(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        fuzz_mkdtemp(dir, sizeof dir, "qacfuzz");
        atexit(cleanup);
    }
    uint8_t *f = (uint8_t *)fuzz_dup(data, size);
    size_t hlen = size >= 12 && le_get32(f + 8) == 1 ? MDL_HEADER_V1 : MDL_HEADER;
    if (size >= hlen + 8) {
        if ((size - hlen - 8) % MDL_REC == 0) {
            le_put64(f + hlen - 8, (size - hlen - 8) / MDL_REC);
        }
        le_put64(f + size - 8, rank_emb_hash(f, size - 8, RANK_EMB_FNV_INIT));
    }
    char path[64], err[512];
    int fd = fuzz_memfd(f, size, path);
    free(f);
    rank_ftrl *m = (rank_ftrl *)1;
    err[0] = 0;
    int rc = rank_ftrl_load(path, &m, err, sizeof err);
    close(fd);
    if (rc != RANK_FTRL_OK) {
        fuzz_assert(rc < 0 && m == (rank_ftrl *)1 && err[0]);
        fuzz_assert(rank_ftrl_strerror(rc) != NULL);
        return 0;
    }
    fuzz_assert(m != NULL && m != (rank_ftrl *)1);
    const rank_ftrl_opts *o = &m->o;
    fuzz_assert(o->bits >= RANK_FTRL_MIN_BITS && o->bits <= RANK_FTRL_MAX_BITS);
    fuzz_assert(m->mask == ((uint32_t)1 << o->bits) - 1);
    fuzz_assert(o->loss == RANK_LOSS_LOGISTIC || o->loss == RANK_LOSS_PAIRWISE);
    fuzz_assert(isfinite(o->alpha) && o->alpha > 0 && isfinite(o->beta) && o->beta > 0);
    fuzz_assert(isfinite(o->l1) && o->l1 >= 0 && isfinite(o->l2) && o->l2 >= 0);
    fuzz_assert(o->base == RANK_FTRL_BASE_NONE || o->base == RANK_FTRL_BASE_HEURISTIC);
    if (o->bits > WALK_MAX_BITS) {
        rank_ftrl_free(m);
        return 0;
    }
    for (uint32_t i = 0; i <= m->mask; i++) {
        if (!isfinite(m->z[i]) || !isfinite(m->n[i]) || !(m->n[i] >= 0) || !isfinite(m->w[i]))
            fuzz_fail("coordinate %u: z %g n %g w %g", i, (double)m->z[i], (double)m->n[i], (double)m->w[i]);
    }
    /* scoring with every stored weight touched once */
    rank_feat x[4] = {{0, 1.0f}, {1, -0.5f}, {m->mask, 2.0f}, {12345, 1.0f}};
    fuzz_assert(isfinite(rank_ftrl_margin(m, x, 4)));

    char sp[128];
    snprintf(sp, sizeof sp, "%s/m", dir);
    if (rank_ftrl_save(m, sp, err, sizeof err) != RANK_FTRL_OK) fuzz_fail("rank_ftrl_save of a loaded model failed: %s", err);
    rank_ftrl *u = NULL;
    if (rank_ftrl_load(sp, &u, err, sizeof err) != RANK_FTRL_OK) fuzz_fail("reloading a saved model failed: %s", err);
    fuzz_assert(u->o.bits == o->bits && u->o.loss == o->loss && u->o.base == o->base && u->updates == m->updates);
    fuzz_assert(u->o.alpha == o->alpha && u->o.beta == o->beta &&
                u->o.l1 == o->l1 && u->o.l2 == o->l2);
    for (uint32_t i = 0; i <= m->mask; i++) {
        if (!same_f32(u->z[i], m->z[i]) || !same_f32(u->n[i], m->n[i]) || !same_f32(u->w[i], m->w[i]))
            fuzz_fail("coordinate %u changed in save + load: z %g -> %g, n %g -> %g, w %g -> %g", i,
                      (double)m->z[i], (double)u->z[i], (double)m->n[i], (double)u->n[i], (double)m->w[i],
                      (double)u->w[i]);
    }
    rank_ftrl_free(u);
    rank_ftrl_free(m);
    return 0;
}
