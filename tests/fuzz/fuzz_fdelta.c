/* fuzz_fdelta.c -- libFuzzer harness for the fleet's model updates
 * (ranking/ftrl_delta.h: rank_fdelta_apply, rank_fdelta_encode,
 * rank_fdelta_add).
 *
 * Input layout: byte 0 is a flag byte, the rest is split at every "#QFD#"
 * into at most FD_MAX_DELTAS encoded deltas, applied in order to one model.
 *   flag bit 0  loss: pairwise (else logistic)
 *   flag bit 1  a model of 11 bits (else 10: RANK_FTRL_MIN_BITS)
 *   flag bit 2  l1 0 (else 0.5: weights sparse)
 * Oracle: a decoder written from the ENCODING comment of ftrl_delta.h
 * (version 1, 1..RANK_FDELTA_MAX_STEPS steps, at most
 * RANK_FDELTA_MAX_STEP_COORDS coordinates a step, index <= mask, gradient
 * finite and |g| <= RANK_FDELTA_MAX_GRAD, no index twice in a step, no
 * trailing bytes) and a twin model. Checks for each delta:
 *   - rank_fdelta_apply refuses exactly what the decoder refuses, with a
 *     reason, and then leaves the model bit for bit as it was;
 *   - it accepts with the step count, and the model is then bit for bit the
 *     twin after rank_ftrl_step of the decoded steps (same checksum too);
 *   - every z, n, w stays finite, n >= 0 (w follows from z and n);
 *   - round trip: the decoded steps in a rank_fdelta re-encode
 *     (rank_fdelta_encode) to the input bytes exactly, and that encoding
 *     applies again to a third model as the steps did;
 *   - rank_fdelta_add of each step as features (x_k = (index, g_k), g = 1)
 *     records the same coordinates, zero gradients left out.
 * Seeds: QAC_FUZZ_MKSEED=DIR build/fuzz/fuzz_fdelta writes them (deltas
 * recorded through rank_fdelta_add and rank_fdelta_encode) into DIR.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "ranking/ftrl.h"
#include "ranking/ftrl_delta.h"
#include "tests/fuzz/fuzz_util.h"

#define FD_MAX_DELTAS 16
#define FD_SEP "#QFD#"
#define FD_SEP_LEN 5

int LLVMFuzzerInitialize(int *argc, char ***argv);

static rank_fdelta dec, rec;
static unsigned char *enc;

static rank_ftrl *model(int flags) {
    rank_ftrl_opts o;
    rank_ftrl_opts_default(&o);
    o.bits = flags & 2 ? 11 : RANK_FTRL_MIN_BITS;
    o.loss = flags & 1 ? RANK_LOSS_PAIRWISE : RANK_LOSS_LOGISTIC;
    o.l1 = flags & 4 ? 0 : 0.5;
    rank_ftrl *m = rank_ftrl_new(&o);
    if (!m) fuzz_fail("rank_ftrl_new failed");
    return m;
}

static int same(const rank_ftrl *a, const rank_ftrl *b) {
    size_t n = ((size_t)a->mask + 1) * sizeof(float);
    return a->updates == b->updates && !memcmp(a->z, b->z, n) && !memcmp(a->n, b->n, n) && !memcmp(a->w, b->w, n);
}

static void all_finite(const rank_ftrl *m) {
    for (uint32_t i = 0; i <= m->mask; i++)
        if (!isfinite(m->z[i]) || !isfinite(m->n[i]) || !isfinite(m->w[i]) || m->n[i] < 0)
            fuzz_fail("coordinate %u: z %g n %g w %g", i, m->z[i], m->n[i], m->w[i]);
}

/* The reference decoder into dec: 0, or -1 when the format says no. */
static int decode(const uint8_t *b, size_t len, uint32_t mask) {
    rank_fdelta_reset(&dec);
    if (len < 2 || b[0] != RANK_FDELTA_VERSION || b[1] < 1 || b[1] > RANK_FDELTA_MAX_STEPS) return -1;
    size_t off = 2;
    for (uint32_t s = 0; s < b[1]; s++) {
        if (len - off < 2) return -1;
        uint32_t c = le_get16(b + off);
        off += 2;
        if (c > RANK_FDELTA_MAX_STEP_COORDS || (uint64_t)c * 12 > len - off) return -1;
        uint32_t first = dec.ncoords;
        for (uint32_t k = 0; k < c; k++, off += 12) {
            uint32_t i = le_get32(b + off);
            double g = le_get_f64(b + off + 4);
            if (i > mask || !isfinite(g) || fabs(g) > RANK_FDELTA_MAX_GRAD) return -1;
            for (uint32_t j = first; j < dec.ncoords; j++)
                if (dec.idx[j] == i) return -1;
            dec.idx[dec.ncoords] = i;
            dec.g[dec.ncoords++] = g;
        }
        dec.step_n[dec.nsteps++] = (uint16_t)c;
    }
    return off == len ? 0 : -1;
}

static void one_delta(rank_ftrl *a, rank_ftrl *twin, int flags, const uint8_t *p, size_t n) {
    uint8_t *buf = (uint8_t *)fuzz_dup(p, n);
    int want = decode(buf, n, a->mask);
    const char *why = NULL;
    int rc = rank_fdelta_apply(a, buf, n, &why);
    if (want < 0) {
        if (rc != -1 || !why) fuzz_fail("a delta the format refuses was applied (%d)", rc);
        if (!same(a, twin)) fuzz_fail("a refused delta changed the model (%s)", why);
        free(buf);
        return;
    }
    if (rc != (int)dec.nsteps) fuzz_fail("apply returned %d (%s), the delta has %u steps", rc, why ? why : "",
                                         dec.nsteps);
    for (uint32_t s = 0, at = 0; s < dec.nsteps; at += dec.step_n[s++])
        rank_ftrl_step(twin, dec.idx + at, dec.g + at, dec.step_n[s]);
    if (!same(a, twin) || rank_ftrl_checksum(a) != rank_ftrl_checksum(twin))
        fuzz_fail("applied delta differs from its steps");
    all_finite(a);

    /* round trip: the decoded steps encode to the input */
    size_t el = rank_fdelta_encode(&dec, enc, RANK_FDELTA_MAX_BYTES);
    if (el != n || memcmp(enc, buf, n)) fuzz_fail("re-encoded delta: %zu bytes, input %zu, or other bytes", el, n);
    rank_ftrl *c = model(flags);
    if (rank_fdelta_apply(c, enc, el, &why) != (int)dec.nsteps) fuzz_fail("re-encoded delta refused: %s", why);
    rank_ftrl *d = model(flags);
    for (uint32_t s = 0, at = 0; s < dec.nsteps; at += dec.step_n[s++])
        rank_ftrl_step(d, dec.idx + at, dec.g + at, dec.step_n[s]);
    if (!same(c, d)) fuzz_fail("re-encoded delta applies differently");
    rank_ftrl_free(c);
    rank_ftrl_free(d);

    /* recording: each step as features with g = 1 (floats: only the
     * gradients a float holds exactly are compared) */
    rank_fdelta_reset(&rec);
    for (uint32_t s = 0, at = 0; s < dec.nsteps; at += dec.step_n[s++]) {
        rank_feat x[RANK_FDELTA_MAX_STEP_COORDS];
        for (uint32_t k = 0; k < dec.step_n[s]; k++) x[k] = (rank_feat){dec.idx[at + k], (float)dec.g[at + k]};
        rank_fdelta_add(&rec, a->mask, x, dec.step_n[s], 1.0);
    }
    fuzz_assert(!rec.overflow && rec.nsteps == dec.nsteps);
    for (uint32_t s = 0, at = 0, rt = 0; s < dec.nsteps; at += dec.step_n[s], rt += rec.step_n[s], s++) {
        uint32_t k2 = 0;
        for (uint32_t k = 0; k < dec.step_n[s]; k++) {
            double g = (float)dec.g[at + k];
            if (g == 0) continue;
            if (k2 >= rec.step_n[s] || rec.idx[rt + k2] != dec.idx[at + k] || rec.g[rt + k2] != g)
                fuzz_fail("step %u: recorded coordinate %u differs", s, k2);
            k2++;
        }
        fuzz_assert(k2 == rec.step_n[s]);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int flags = data[0];
    rank_ftrl *a = model(flags), *twin = model(flags);
    const uint8_t *p = data + 1, *end = data + size;
    for (int i = 0; i < FD_MAX_DELTAS; i++) {
        const uint8_t *s = memmem(p, (size_t)(end - p), FD_SEP, FD_SEP_LEN);
        size_t n = s ? (size_t)(s - p) : (size_t)(end - p);
        one_delta(a, twin, flags, p, n);
        if (!s) break;
        p = s + FD_SEP_LEN;
    }
    rank_ftrl_free(a);
    rank_ftrl_free(twin);
    return 0;
}

/* --- seeds ---------------------------------------------------------------- */

static uint64_t seed_rs = 88172645463325252ull;
static uint32_t seed_rnd(uint32_t n) {
    seed_rs ^= seed_rs << 13, seed_rs ^= seed_rs >> 7, seed_rs ^= seed_rs << 17;
    return (uint32_t)(seed_rs % n);
}

/* A delta of nsteps steps as rank_learn_accept records them. */
static size_t seed_delta(unsigned nsteps, unsigned ncoords, unsigned char *out) {
    rank_fdelta_reset(&rec);
    for (unsigned s = 0; s < nsteps; s++) {
        rank_feat x[RANK_FDELTA_MAX_STEP_COORDS];
        size_t n = 0;
        for (unsigned k = 0; k < ncoords; k++) {
            uint32_t i = seed_rnd(1u << 20);
            int dup = 0;
            for (size_t j = 0; j < n; j++) dup |= (x[j].i & 1023) == (i & 1023);
            if (!dup) x[n++] = (rank_feat){i, (float)((int)seed_rnd(2001) - 1000) / 100};
        }
        rank_fdelta_add(&rec, 1023, x, n, s ? -0.25 : 0.75);
    }
    return rank_fdelta_encode(&rec, out, RANK_FDELTA_MAX_BYTES);
}

static void seed_file(const char *dir, const char *name, int flags, int ndeltas, unsigned nsteps, unsigned ncoords) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) fuzz_fail("cannot write %s", path);
    fputc(flags, f);
    for (int d = 0; d < ndeltas; d++) {
        if (d) fputs(FD_SEP, f);
        size_t n = seed_delta(nsteps, ncoords, enc);
        if (!n) fuzz_fail("seed delta not encoded");
        fwrite(enc, 1, n, f);
    }
    if (fclose(f)) fuzz_fail("cannot write %s", path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (!(enc = malloc(RANK_FDELTA_MAX_BYTES))) abort();
    const char *dir = getenv("QAC_FUZZ_MKSEED");
    if (!dir) return 0;
    seed_file(dir, "one-step", 0, 1, 1, 3);
    seed_file(dir, "logistic-negatives", 0, 1, 5, 6);
    seed_file(dir, "pairwise-three", 1, 3, 1, 12);
    seed_file(dir, "l1-zero-many", 6, 4, 2, 4);
    exit(0);
}
