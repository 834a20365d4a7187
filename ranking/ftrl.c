/* ftrl.c -- FTRL-Proximal over a hashed table, and the MODEL file (formulas
 * and format in ftrl.h). z and n are floats: 2^18 coordinates cost 3 MB.
 */
#include "ranking/ftrl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "common/util.h"
#include "ranking/embed.h" /* rank_emb_hash: FNV-1a 64 */
#include "ranking/ftrl_delta.h"

static const unsigned char MDL_MAGIC[8] = {'Q', 'A', 'C', 'M', 'D', 'L', 0, 1};
#define MDL_HEADER 80    /* version 2 */
#define MDL_HEADER_V1 72

const char *rank_ftrl_strerror(int err) {
    switch (err) {
    case RANK_FTRL_OK: return "ok";
    case RANK_FTRL_ENOMEM: return "out of memory";
    case RANK_FTRL_EINVAL: return "invalid argument";
    case RANK_FTRL_EIO: return "I/O error";
    case RANK_FTRL_EFORMAT: return "not a valid MODEL file";
    default: return "unknown error";
    }
}

void rank_ftrl_opts_default(rank_ftrl_opts *o) {
    o->bits = RANK_FTRL_DEFAULT_BITS;
    o->loss = RANK_LOSS_PAIRWISE;
    o->alpha = 0.02;
    o->beta = 1.0;
    o->l1 = 0.5;
    o->l2 = 1.0;
    o->base = RANK_FTRL_BASE_HEURISTIC;
}

static int opts_ok(const rank_ftrl_opts *o) {
    return o->bits >= RANK_FTRL_MIN_BITS && o->bits <= RANK_FTRL_MAX_BITS &&
           (o->loss == RANK_LOSS_LOGISTIC || o->loss == RANK_LOSS_PAIRWISE) && isfinite(o->alpha) &&
           o->alpha > 0 && isfinite(o->beta) && o->beta > 0 && isfinite(o->l1) && o->l1 >= 0 &&
           isfinite(o->l2) && o->l2 >= 0 && (o->base == RANK_FTRL_BASE_NONE || o->base == RANK_FTRL_BASE_HEURISTIC);
}

rank_ftrl *rank_ftrl_new(const rank_ftrl_opts *o) {
    if (!opts_ok(o)) return NULL;
    rank_ftrl *m = qcalloc(1, sizeof *m);
    if (!m) return NULL;
    m->o = *o;
    size_t n = (size_t)1 << o->bits;
    m->mask = (uint32_t)(n - 1);
    m->z = qcalloc(n, sizeof *m->z);
    m->n = qcalloc(n, sizeof *m->n);
    m->w = qcalloc(n, sizeof *m->w);
    if (!m->z || !m->n || !m->w) {
        rank_ftrl_free(m);
        return NULL;
    }
    return m;
}

void rank_ftrl_free(rank_ftrl *m) {
    if (!m) return;
    qfree(m->z);
    qfree(m->n);
    qfree(m->w);
    qfree(m);
}

static float weight(const rank_ftrl *m, float z, float n) {
    double l1 = m->o.l1;
    if (fabs(z) <= l1) return 0;
    double sg = z < 0 ? -1.0 : 1.0;
    return (float)(-(z - sg * l1) / ((m->o.beta + sqrt(n)) / m->o.alpha + m->o.l2));
}

/* bits, loss, alpha, beta, l1, l2, base, reserved 0, updates: the MODEL
 * header's bytes 16..72 (ftrl.h), also what the checksum hashes first. */
#define PARAMS_LEN 56
static void put_params(unsigned char *p, const rank_ftrl *m) {
    le_put32(p, m->o.bits);
    le_put32(p + 4, (uint32_t)m->o.loss);
    le_put_f64(p + 8, m->o.alpha);
    le_put_f64(p + 16, m->o.beta);
    le_put_f64(p + 24, m->o.l1);
    le_put_f64(p + 32, m->o.l2);
    le_put32(p + 40, m->o.base);
    le_put32(p + 44, 0);
    le_put64(p + 48, m->updates);
}

static void coord_step(rank_ftrl *m, uint32_t i, double gi) {
    double ni = m->n[i];
    double s = (sqrt(ni + gi * gi) - sqrt(ni)) / m->o.alpha;
    m->z[i] += (float)(gi - s * m->w[i]);
    m->n[i] = (float)(ni + gi * gi);
    m->w[i] = weight(m, m->z[i], m->n[i]);
}

void rank_ftrl_update(rank_ftrl *m, const rank_feat *x, size_t n, double g) {
    if (m->record) {
        rank_fdelta_add(m->record, m->mask, x, n, g);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        double gi = g * x[k].v;
        if (gi != 0) coord_step(m, x[k].i & m->mask, gi);
    }
    m->updates++;
}

void rank_ftrl_step(rank_ftrl *m, const uint32_t *idx, const double *g, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (g[k] != 0) coord_step(m, idx[k] & m->mask, g[k]);
    m->updates++;
}

/* Four independent multiply-rotate lanes over 64-bit words: ~0.1 ms for the
 * 2 MB of z and n at 18 bits (byte-wise FNV-1a took 12 ms: too long for a
 * STATS on the loop). */
static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v * 0x9E3779B97F4A7C15ull;
    h = (h << 31 | h >> 33) * 0xC2B2AE3D27D4EB4Full;
    return h;
}

static void hash_floats(uint64_t lane[4], const float *f, size_t n) {
    for (size_t i = 0; i + 8 <= n; i += 8) { /* n is a power of two >= 2^10 */
        uint64_t w[4];
        memcpy(w, f + i, sizeof w);
        for (int k = 0; k < 4; k++) lane[k] = mix(lane[k], w[k]);
    }
}

uint64_t rank_ftrl_checksum(const rank_ftrl *m) {
    unsigned char h[PARAMS_LEN];
    put_params(h, m);
    uint64_t s = rank_emb_hash(h, sizeof h, RANK_EMB_FNV_INIT);
    uint64_t lane[4] = {s, s + 1, s + 2, s + 3};
    size_t n = (size_t)m->mask + 1; /* floats in host order: a checksum compares replicas of one build */
    hash_floats(lane, m->z, n);
    hash_floats(lane, m->n, n);
    for (int k = 0; k < 4; k++) s = mix(s, lane[k]);
    return s ^ s >> 29;
}

uint64_t rank_ftrl_checksum_cached(rank_ftrl *m) {
    if (!m->sum_ok || m->sum_updates != m->updates) {
        m->sum = rank_ftrl_checksum(m);
        m->sum_updates = m->updates;
        m->sum_ok = 1;
    }
    return m->sum;
}

size_t rank_ftrl_mask(const rank_ftrl *m, rank_feat *x, size_t n) {
    for (size_t k = 0; k < n; k++) x[k].i &= m->mask;
    return rank_feat_merge(x, n);
}

size_t rank_ftrl_nonzero(const rank_ftrl *m) {
    size_t c = 0;
    for (size_t i = 0; i <= m->mask; i++) c += m->w[i] != 0;
    return c;
}

/* --- file ------------------------------------------------------------------ */

int rank_ftrl_save(const rank_ftrl *m, const char *path, char *err, size_t errlen) {
    size_t cnt = 0;
    for (size_t i = 0; i <= m->mask; i++) cnt += m->n[i] > 0;
    size_t total = MDL_HEADER + 12 * cnt + 8;
    unsigned char *b = qmalloc(total);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return RANK_FTRL_ENOMEM;
    }
    memcpy(b, MDL_MAGIC, 8);
    le_put32(b + 8, RANK_FTRL_VERSION);
    le_put32(b + 12, RANK_FEAT_VERSION);
    put_params(b + 16, m);
    le_put64(b + 72, cnt);
    unsigned char *p = b + MDL_HEADER;
    for (size_t i = 0; i <= m->mask; i++) {
        if (!(m->n[i] > 0)) continue;
        le_put32(p, (uint32_t)i);
        le_put_f32(p + 4, m->z[i]);
        le_put_f32(p + 8, m->n[i]);
        p += 12;
    }
    le_put64(p, rank_emb_hash(b, total - 8, RANK_EMB_FNV_INIT));
    int rc = qfile_write_atomic(path, b, total, err, errlen) < 0 ? RANK_FTRL_EIO : 0;
    qfree(b);
    return rc;
}

int rank_ftrl_load(const char *path, rank_ftrl **out, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return RANK_FTRL_EIO;
    }
    unsigned char h[MDL_HEADER];
    rank_ftrl *m = NULL;
    unsigned char *body = NULL;
    int rc = RANK_FTRL_EFORMAT;
    if (fread(h, 1, MDL_HEADER_V1, f) != MDL_HEADER_V1 || memcmp(h, MDL_MAGIC, 8)) {
        snprintf(err, errlen, "%s: not a MODEL file (bad magic or too short)", path);
        goto out;
    }
    uint32_t ver = le_get32(h + 8);
    if (ver < RANK_FTRL_VERSION_MIN || ver > RANK_FTRL_VERSION) {
        snprintf(err, errlen, "%s: MODEL version %u, this qac reads %u..%u", path, ver, RANK_FTRL_VERSION_MIN,
                 RANK_FTRL_VERSION);
        goto out;
    }
    size_t hlen = ver == 1 ? MDL_HEADER_V1 : MDL_HEADER;
    if (hlen > MDL_HEADER_V1 && fread(h + MDL_HEADER_V1, 1, hlen - MDL_HEADER_V1, f) != hlen - MDL_HEADER_V1) {
        snprintf(err, errlen, "%s: not a MODEL file (too short)", path);
        goto out;
    }
    /* version 1: no base (none), updates at 56, count at 64 */
    size_t oupd = ver == 1 ? 56 : 64, ocnt = oupd + 8;
    uint32_t base = ver == 1 ? RANK_FTRL_BASE_NONE : le_get32(h + 56);
    if (ver > 1 && le_get32(h + 60) != 0) {
        snprintf(err, errlen, "%s: reserved header word is %u, not 0", path, le_get32(h + 60));
        goto out;
    }
    if (le_get32(h + 12) != RANK_FEAT_VERSION) {
        snprintf(err, errlen, "%s: trained on feature set %u, this qac computes set %u: retrain with 'qac train'",
                 path, le_get32(h + 12), RANK_FEAT_VERSION);
        goto out;
    }
    rank_ftrl_opts o = {le_get32(h + 16), (int)le_get32(h + 20), le_get_f64(h + 24),
                        le_get_f64(h + 32), le_get_f64(h + 40), le_get_f64(h + 48), base};
    if (!opts_ok(&o)) {
        snprintf(err, errlen, "%s: bad parameters (bits %u, loss %d, base %u, alpha/beta/l1/l2)", path, o.bits,
                 o.loss, o.base);
        goto out;
    }
    uint64_t cnt = le_get64(h + ocnt);
    if (cnt > ((uint64_t)1 << o.bits)) {
        snprintf(err, errlen, "%s: %llu coordinates for a table of 2^%u", path, (unsigned long long)cnt, o.bits);
        goto out;
    }
    size_t blen = (size_t)cnt * 12 + 8;
    body = qmalloc(blen);
    if (!body) {
        snprintf(err, errlen, "out of memory");
        rc = RANK_FTRL_ENOMEM;
        goto out;
    }
    size_t got = fread(body, 1, blen, f);
    unsigned char extra;
    if (got != blen || fread(&extra, 1, 1, f) != 0) {
        snprintf(err, errlen, "%s: %s (expected %zu bytes after the header)", path,
                 got != blen ? "truncated" : "trailing bytes", blen);
        goto out;
    }
    uint64_t sum = rank_emb_hash(h, hlen, RANK_EMB_FNV_INIT);
    sum = rank_emb_hash(body, blen - 8, sum);
    if (sum != le_get64(body + blen - 8)) {
        snprintf(err, errlen, "%s: checksum mismatch (corrupt or truncated file)", path);
        goto out;
    }
    m = rank_ftrl_new(&o);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        rc = RANK_FTRL_ENOMEM;
        goto out;
    }
    m->updates = le_get64(h + oupd);
    int64_t prev = -1;
    for (uint64_t k = 0; k < cnt; k++) {
        const unsigned char *p = body + 12 * k;
        uint32_t i = le_get32(p);
        float z = le_get_f32(p + 4), n = le_get_f32(p + 8);
        /* n > 0: save writes only coordinates with n > 0, so one with n == 0 would not survive a
         * save/load round trip; a weight must be finite for every margin to be. */
        float w = isfinite(z) && isfinite(n) ? weight(m, z, n) : 0;
        if ((int64_t)i <= prev || i > m->mask || !isfinite(z) || !isfinite(n) || !(n > 0) || !isfinite(w)) {
            snprintf(err, errlen, "%s: bad coordinate record %llu (index %u, z %g, n %g)", path,
                     (unsigned long long)k, i, (double)z, (double)n);
            rank_ftrl_free(m);
            m = NULL;
            goto out;
        }
        prev = i;
        m->z[i] = z;
        m->n[i] = n;
        m->w[i] = w;
    }
    rc = 0;
out:
    fclose(f);
    qfree(body);
    if (!rc) *out = m;
    return rc;
}
