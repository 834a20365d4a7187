/* embed.c -- hashed n-gram query embeddings: composition, SGNS training over
 * session pairs, int8 storage, the EMB file, and a vector cache (contract
 * and file format in embed.h).
 *
 * Training keeps a float table; each query's bucket ids are computed once
 * (ids[] with offsets) so an epoch touches only vectors. Deterministic: one
 * xorshift64* stream drives init, pair order (none: sessions are walked in
 * order) and negative sampling.
 */
#include "ranking/embed.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/endian.h"
#include "common/util.h"

static const unsigned char EMB_MAGIC[8] = {'Q', 'A', 'C', 'E', 'M', 'B', 0, 1};
#define EMB_HEADER 32

const char *rank_emb_strerror(int err) {
    switch (err) {
    case RANK_EMB_OK: return "ok";
    case RANK_EMB_ENOMEM: return "out of memory";
    case RANK_EMB_EINVAL: return "invalid argument";
    case RANK_EMB_EIO: return "I/O error";
    case RANK_EMB_EFORMAT: return "not a valid EMB file";
    default: return "unknown error";
    }
}

uint64_t rank_emb_hash(const void *p, size_t n, uint64_t h) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint32_t bucket_of(uint64_t h, uint32_t buckets) {
    h ^= h >> 29; /* FNV's low bits are weak for short inputs */
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (uint32_t)(h % buckets);
}

size_t rank_emb_ngrams(uint32_t buckets, const char *q, size_t len, uint32_t *out, size_t cap) {
    size_t n = 0;
    if (!len || !cap) return 0;
    out[n++] = bucket_of(rank_emb_hash(q, len, rank_emb_hash("q", 1, RANK_EMB_FNV_INIT)), buckets);
    size_t i = 0;
    while (i < len && n < cap) { /* words */
        while (i < len && q[i] == ' ') i++;
        size_t st = i;
        while (i < len && q[i] != ' ') i++;
        if (i == st) break;
        out[n++] = bucket_of(rank_emb_hash(q + st, i - st, rank_emb_hash("w", 1, RANK_EMB_FNV_INIT)), buckets);
    }
    /* trigrams of ^q$ : positions -1 .. len-2 */
    for (long s = -1; s + 3 <= (long)len + 1 && n < cap; s++) {
        unsigned char t[3];
        for (int k = 0; k < 3; k++) {
            long p = s + k;
            t[k] = p < 0 ? '^' : p >= (long)len ? '$' : (unsigned char)q[p];
        }
        out[n++] = bucket_of(rank_emb_hash(t, 3, rank_emb_hash("t", 1, RANK_EMB_FNV_INIT)), buckets);
    }
    return n;
}

/* Scales v to unit length; a zero (or non-finite) vector becomes all zeros and
 * 0 is returned. The norm is computed in double: in float, tiny scales
 * underflow the squares (the result was up to 2% off unit length). */
static int unit(float *v, uint32_t d) {
    double s = 0;
    for (uint32_t i = 0; i < d; i++) s += (double)v[i] * (double)v[i];
    if (!(s > 0) || !isfinite(s)) {
        memset(v, 0, d * sizeof *v);
        return 0;
    }
    double r = 1.0 / sqrt(s);
    for (uint32_t i = 0; i < d; i++) v[i] = (float)(v[i] * r);
    return 1;
}

int rank_emb_compose(const rank_emb *e, const uint32_t *ids, size_t n, float *out) {
    uint32_t d = e->dims;
    memset(out, 0, d * sizeof *out);
    /* the rows are random lines of a table far bigger than the caches: ask
     * for all of them first, so their misses overlap (the sum below waited
     * on each in turn: most of a composed vector's time in the server) */
    for (size_t k = 0; k < n; k++) {
        __builtin_prefetch(&e->scale[ids[k]]);
        __builtin_prefetch(e->q + (size_t)ids[k] * d);
    }
    for (size_t k = 0; k < n; k++) {
        float s = e->scale[ids[k]];
        if (s == 0) continue;
        const int8_t *r = e->q + (size_t)ids[k] * d;
        for (uint32_t i = 0; i < d; i++) out[i] += s * (float)r[i];
    }
    return unit(out, d);
}

int rank_emb_vector(const rank_emb *e, const char *q, size_t len, float *out) {
    uint32_t ids[RANK_EMB_MAX_NGRAMS];
    size_t n = rank_emb_ngrams(e->buckets, q, len, ids, RANK_EMB_MAX_NGRAMS);
    return rank_emb_compose(e, ids, n, out);
}

int rank_emb_compose_rows(uint32_t dims, const unsigned char *const *rows, size_t n, float *out) {
    memset(out, 0, dims * sizeof *out);
    for (size_t k = 0; k < n; k++) __builtin_prefetch(rows[k]); /* as rank_emb_compose */
    for (size_t k = 0; k < n; k++) {
        float s = le_get_f32(rows[k]);
        const int8_t *r = (const int8_t *)(const void *)(rows[k] + 4);
        for (uint32_t i = 0; i < dims; i++) out[i] += s * (float)r[i];
    }
    return unit(out, dims);
}

void rank_emb_row(const rank_emb *e, uint32_t b, unsigned char *out) {
    le_put_f32(out, e->scale[b]);
    memcpy(out + 4, e->q + (size_t)b * e->dims, e->dims);
}

static void quantize(uint32_t d, const float *v, float *scale, int8_t *q) {
    float m = 0;
    for (uint32_t i = 0; i < d; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    if (!(m > 0) || !isfinite(m)) {
        *scale = 0;
        memset(q, 0, d);
        return;
    }
    *scale = m / 127.0f;
    if (*scale > RANK_EMB_MAX_SCALE) *scale = RANK_EMB_MAX_SCALE; /* saturate: a file the loader accepts */
    for (uint32_t i = 0; i < d; i++) {
        long r = lrintf(v[i] / *scale);
        q[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
    }
}

void rank_emb_quantize(uint32_t dims, const float *v, unsigned char *out) {
    float s;
    quantize(dims, v, &s, (int8_t *)(void *)(out + 4));
    le_put_f32(out, s);
}

void rank_emb_dequantize(uint32_t dims, const unsigned char *row, float *out) {
    float s = le_get_f32(row);
    if (!(s >= 0 && s <= RANK_EMB_MAX_SCALE)) s = 0; /* a row not written by qac load: no vector */
    const int8_t *r = (const int8_t *)(const void *)(row + 4);
    for (uint32_t i = 0; i < dims; i++) out[i] = s * (float)r[i];
}

const char *rank_emb_query_at(const rank_emb *e, uint32_t i, size_t *len) {
    if (i >= e->nqueries) return NULL;
    *len = (size_t)(e->qoff[i + 1] - e->qoff[i]);
    return e->qtext + e->qoff[i];
}

void rank_emb_free(rank_emb *e) {
    if (!e) return;
    qfree(e->scale);
    qfree(e->q);
    qfree(e->qoff);
    qfree(e->qtext);
    qfree(e);
}

static rank_emb *emb_alloc(uint32_t dims, uint32_t buckets) {
    rank_emb *e = qcalloc(1, sizeof *e);
    if (!e) return NULL;
    e->dims = dims;
    e->buckets = buckets;
    e->scale = qcalloc(buckets, sizeof *e->scale);
    e->q = qcalloc((size_t)buckets * dims, 1);
    e->qoff = qcalloc(1, sizeof *e->qoff);
    if (!e->scale || !e->q || !e->qoff) {
        rank_emb_free(e);
        return NULL;
    }
    return e;
}

int rank_emb_set_queries(rank_emb *e, const char *const *q, const uint32_t *qlen, size_t n) {
    size_t bytes = 0, m = 0;
    for (size_t i = 0; i < n; i++)
        if (qlen[i] && qlen[i] <= RANK_EMB_MAX_QUERY) bytes += qlen[i], m++;
    if (m > UINT32_MAX) return RANK_EMB_EINVAL;
    uint64_t *off = qmalloc((m + 1) * sizeof *off);
    char *text = qmalloc(bytes ? bytes : 1);
    if (!off || !text) {
        qfree(off);
        qfree(text);
        return RANK_EMB_ENOMEM;
    }
    size_t k = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        if (!qlen[i] || qlen[i] > RANK_EMB_MAX_QUERY) continue;
        off[k++] = at;
        memcpy(text + at, q[i], qlen[i]);
        at += qlen[i];
    }
    off[k] = at;
    qfree(e->qoff);
    qfree(e->qtext);
    e->qoff = off;
    e->qtext = text;
    e->nqueries = (uint32_t)m;
    return 0;
}

/* --- file ------------------------------------------------------------------ */

int rank_emb_save(const rank_emb *e, const char *path, char *err, size_t errlen) {
    size_t rowb = 4 + (size_t)e->dims, qbytes = (size_t)e->qoff[e->nqueries] + 2 * (size_t)e->nqueries;
    size_t total = EMB_HEADER + (size_t)e->buckets * rowb + qbytes + 8;
    unsigned char *buf = qmalloc(total);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return RANK_EMB_ENOMEM;
    }
    memcpy(buf, EMB_MAGIC, 8);
    le_put32(buf + 8, RANK_EMB_VERSION);
    le_put32(buf + 12, e->dims);
    le_put32(buf + 16, e->buckets);
    le_put32(buf + 20, e->nqueries);
    le_put64(buf + 24, e->seed);
    unsigned char *p = buf + EMB_HEADER;
    for (uint32_t b = 0; b < e->buckets; b++, p += rowb) rank_emb_row(e, b, p);
    for (uint32_t i = 0; i < e->nqueries; i++) {
        size_t len;
        const char *q = rank_emb_query_at(e, i, &len);
        le_put16(p, (uint16_t)len);
        memcpy(p + 2, q, len);
        p += 2 + len;
    }
    le_put64(p, rank_emb_hash(buf, total - 8, RANK_EMB_FNV_INIT));

    int rc = qfile_write_atomic(path, buf, total, err, errlen) < 0 ? RANK_EMB_EIO : 0;
    qfree(buf);
    return rc;
}

static int read_all(const char *path, unsigned char **out, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return RANK_EMB_EIO;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = qmalloc(cap);
    while (b) {
        if (n == cap) {
            unsigned char *nb = qrealloc(b, cap * 2);
            if (!nb) {
                qfree(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t k = fread(b + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!b) {
        snprintf(err, errlen, "out of memory reading %s", path);
        return RANK_EMB_ENOMEM;
    }
    if (bad) {
        qfree(b);
        snprintf(err, errlen, "cannot read %s", path);
        return RANK_EMB_EIO;
    }
    *out = b;
    *len = n;
    return 0;
}

int rank_emb_load(const char *path, rank_emb **out, char *err, size_t errlen) {
    unsigned char *b;
    size_t n;
    int rc = read_all(path, &b, &n, err, errlen);
    if (rc) return rc;
    rc = RANK_EMB_EFORMAT;
    rank_emb *e = NULL;
    if (n < EMB_HEADER + 8 || memcmp(b, EMB_MAGIC, 8)) {
        snprintf(err, errlen, "%s: not an EMB file (bad magic or too short)", path);
        goto fail;
    }
    uint32_t ver = le_get32(b + 8), dims = le_get32(b + 12), buckets = le_get32(b + 16), nq = le_get32(b + 20);
    if (ver != RANK_EMB_VERSION) {
        snprintf(err, errlen, "%s: EMB version %u, this qac reads %u", path, ver, RANK_EMB_VERSION);
        goto fail;
    }
    if (dims < RANK_EMB_MIN_DIMS || dims > RANK_EMB_MAX_DIMS || buckets == 0 || buckets > RANK_EMB_MAX_BUCKETS) {
        snprintf(err, errlen, "%s: bad dims %u or bucket count %u", path, dims, buckets);
        goto fail;
    }
    size_t rowb = 4 + (size_t)dims, tab = (size_t)buckets * rowb;
    if (n < EMB_HEADER + tab + 8) {
        snprintf(err, errlen, "%s: truncated (%zu bytes, the table alone needs %zu)", path, n, EMB_HEADER + tab + 8);
        goto fail;
    }
    if (le_get64(b + n - 8) != rank_emb_hash(b, n - 8, RANK_EMB_FNV_INIT)) {
        snprintf(err, errlen, "%s: checksum mismatch (corrupt or truncated file)", path);
        goto fail;
    }
    e = emb_alloc(dims, buckets);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        rc = RANK_EMB_ENOMEM;
        goto fail;
    }
    e->seed = le_get64(b + 24);
    const unsigned char *p = b + EMB_HEADER;
    for (uint32_t k = 0; k < buckets; k++, p += rowb) {
        float s = le_get_f32(p);
        if (!(s >= 0 && s <= RANK_EMB_MAX_SCALE)) {
            snprintf(err, errlen, "%s: bucket %u has a bad scale %g (0 .. %g allowed)", path, k, (double)s,
                     (double)RANK_EMB_MAX_SCALE);
            goto fail;
        }
        e->scale[k] = s;
        memcpy(e->q + (size_t)k * dims, p + 4, dims);
    }
    /* query list */
    const unsigned char *end = b + n - 8, *qs = p;
    size_t bytes = 0;
    for (uint32_t i = 0; i < nq; i++) {
        if (end - p < 2) {
            snprintf(err, errlen, "%s: query list truncated at %u of %u", path, i, nq);
            goto fail;
        }
        size_t len = le_get16(p);
        if (len == 0 || len > RANK_EMB_MAX_QUERY || (size_t)(end - p - 2) < len) {
            snprintf(err, errlen, "%s: query %u has a bad length %zu", path, i, len);
            goto fail;
        }
        bytes += len;
        p += 2 + len;
    }
    if (p != end) {
        snprintf(err, errlen, "%s: %zu stray bytes after the query list", path, (size_t)(end - p));
        goto fail;
    }
    qfree(e->qoff);
    e->qoff = qmalloc(((size_t)nq + 1) * sizeof *e->qoff);
    e->qtext = qmalloc(bytes ? bytes : 1);
    if (!e->qoff || !e->qtext) {
        snprintf(err, errlen, "out of memory");
        rc = RANK_EMB_ENOMEM;
        goto fail;
    }
    size_t at = 0;
    p = qs;
    for (uint32_t i = 0; i < nq; i++) {
        size_t len = le_get16(p);
        e->qoff[i] = at;
        memcpy(e->qtext + at, p + 2, len);
        at += len;
        p += 2 + len;
    }
    e->qoff[nq] = at;
    e->nqueries = nq;
    qfree(b);
    *out = e;
    return 0;
fail:
    rank_emb_free(e);
    qfree(b);
    return rc;
}

/* --- training -------------------------------------------------------------- */

void rank_emb_opts_default(rank_emb_opts *o) {
    o->dims = RANK_EMB_DEFAULT_DIMS;
    o->buckets = RANK_EMB_DEFAULT_BUCKETS;
    o->epochs = RANK_EMB_DEFAULT_EPOCHS;
    o->window = RANK_EMB_DEFAULT_WINDOW;
    o->neg = RANK_EMB_DEFAULT_NEG;
    o->seed = 1;
    o->lr = RANK_EMB_DEFAULT_LR;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

typedef struct trainer {
    uint32_t d;
    float *w;        /* buckets * d */
    uint32_t *ids;   /* all queries' n-gram ids */
    size_t *ioff;    /* nq + 1 */
} trainer;

/* mean of query i's n-gram vectors */
static void tmean(const trainer *t, size_t i, float *out) {
    uint32_t d = t->d;
    memset(out, 0, d * sizeof *out);
    size_t a = t->ioff[i], b = t->ioff[i + 1];
    for (size_t k = a; k < b; k++) {
        const float *r = t->w + (size_t)t->ids[k] * d;
        for (uint32_t j = 0; j < d; j++) out[j] += r[j];
    }
    if (b > a) {
        float inv = 1.0f / (float)(b - a);
        for (uint32_t j = 0; j < d; j++) out[j] *= inv;
    }
}

static void tpush(trainer *t, size_t i, const float *g) {
    uint32_t d = t->d;
    size_t a = t->ioff[i], b = t->ioff[i + 1];
    if (b == a) return;
    float inv = 1.0f / (float)(b - a);
    for (size_t k = a; k < b; k++) {
        float *r = t->w + (size_t)t->ids[k] * d;
        for (uint32_t j = 0; j < d; j++) r[j] += g[j] * inv;
    }
}

static float sigm(float x) {
    if (x > 30) return 1;
    if (x < -30) return 0;
    return 1.0f / (1.0f + expf(-x));
}

int rank_emb_train(const rank_emb_opts *o, const char *const *q, const uint32_t *qlen, size_t nq,
                   const size_t *sess_start, size_t nsess, rank_emb_progress progress, void *ud,
                   rank_emb **out) {
    if (o->dims < RANK_EMB_MIN_DIMS || o->dims > RANK_EMB_MAX_DIMS || o->buckets == 0 ||
        o->buckets > RANK_EMB_MAX_BUCKETS || o->epochs == 0 || o->window == 0 || !(o->lr > 0) || nq == 0)
        return RANK_EMB_EINVAL;
    uint32_t d = o->dims;
    trainer t = {d, NULL, NULL, NULL};
    int rc = RANK_EMB_ENOMEM;
    rank_emb *e = NULL;
    float *va = qmalloc(d * sizeof *va), *vb = qmalloc(d * sizeof *vb), *ga = qmalloc(d * sizeof *ga),
          *gb = qmalloc(d * sizeof *gb);
    t.w = qmalloc((size_t)o->buckets * d * sizeof *t.w);
    t.ioff = qmalloc((nq + 1) * sizeof *t.ioff);
    size_t idcap = 0, nids = 0;
    if (!va || !vb || !ga || !gb || !t.w || !t.ioff) goto out;
    uint64_t rng = o->seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
    if (!rng) rng = 1;
    for (size_t k = 0; k < (size_t)o->buckets * d; k++) t.w[k] = (float)((rng_unit(&rng) - 0.5) / d);
    for (size_t i = 0; i < nq; i++) {
        if (nids + RANK_EMB_MAX_NGRAMS > idcap) {
            size_t nc = idcap ? idcap * 2 : 1 << 20;
            uint32_t *ni = qrealloc(t.ids, nc * sizeof *ni);
            if (!ni) goto out;
            t.ids = ni;
            idcap = nc;
        }
        t.ioff[i] = nids;
        nids += rank_emb_ngrams(o->buckets, q[i], qlen[i], t.ids + nids, RANK_EMB_MAX_NGRAMS);
    }
    t.ioff[nq] = nids;

    /* count pairs for the learning-rate schedule and progress */
    uint64_t npairs = 0;
    for (size_t s = 0; s < nsess; s++)
        for (size_t i = sess_start[s]; i < sess_start[s + 1]; i++)
            for (size_t j = i + 1; j < sess_start[s + 1] && j <= i + o->window; j++) npairs++;
    uint64_t total = npairs * o->epochs, done = 0, next_report = 0;
    double loss = 0;
    uint64_t nloss = 0;
    for (uint32_t ep = 0; ep < o->epochs; ep++) {
        for (size_t s = 0; s < nsess; s++) {
            for (size_t i = sess_start[s]; i < sess_start[s + 1]; i++) {
                for (size_t j = i + 1; j < sess_start[s + 1] && j <= i + o->window; j++) {
                    done++;
                    if (qlen[i] == qlen[j] && !memcmp(q[i], q[j], qlen[i])) continue;
                    float lr = (float)(o->lr * (1.0 - (double)done / (double)(total + 1)));
                    if (lr < (float)o->lr * 1e-4f) lr = (float)o->lr * 1e-4f;
                    /* positive: a = i, b = j; then negatives b = random events */
                    tmean(&t, i, va);
                    memset(ga, 0, d * sizeof *ga);
                    for (uint32_t k = 0; k <= o->neg; k++) {
                        size_t b = j;
                        float label = 1;
                        if (k > 0) {
                            b = (size_t)(rng_next(&rng) % nq);
                            if (qlen[b] == qlen[i] && !memcmp(q[b], q[i], qlen[i])) continue;
                            label = 0;
                        }
                        tmean(&t, b, vb);
                        float sc = sigm(rank_dot(va, vb, d));
                        loss -= label ? log(sc + 1e-7) : log(1 - sc + 1e-7);
                        nloss++;
                        float g = (label - sc) * lr;
                        for (uint32_t m = 0; m < d; m++) {
                            ga[m] += g * vb[m];
                            gb[m] = g * va[m];
                        }
                        tpush(&t, b, gb);
                    }
                    tpush(&t, i, ga);
                    if (progress && done >= next_report) {
                        progress(ud, ep + 1, (double)done / (double)(total ? total : 1), nloss ? loss / (double)nloss : 0);
                        next_report = done + total / 100 + 1;
                    }
                }
            }
        }
    }
    if (progress) progress(ud, o->epochs, 1.0, nloss ? loss / (double)nloss : 0);
    e = emb_alloc(d, o->buckets);
    if (!e) goto out;
    e->seed = o->seed;
    /* buckets no query touched keep their random init: zero them, so an
     * unseen n-gram adds nothing rather than noise */
    unsigned char *used = qcalloc(o->buckets, 1);
    if (!used) goto out;
    for (size_t k = 0; k < nids; k++) used[t.ids[k]] = 1;
    for (uint32_t b = 0; b < o->buckets; b++) {
        if (used[b]) quantize(d, t.w + (size_t)b * d, &e->scale[b], e->q + (size_t)b * d);
    }
    qfree(used);
    *out = e;
    e = NULL;
    rc = 0;
out:
    rank_emb_free(e);
    qfree(va);
    qfree(vb);
    qfree(ga);
    qfree(gb);
    qfree(t.w);
    qfree(t.ids);
    qfree(t.ioff);
    return rc;
}

/* --- vector cache ---------------------------------------------------------- */

typedef struct vc_slot {
    uint64_t h;
    const char *key; /* NULL = empty */
    uint32_t len;
    const float *vec; /* NULL = no vector */
} vc_slot;

#define VC_CHUNK (1u << 20) /* bytes per arena chunk */

struct rank_vcache {
    const rank_emb *e;
    vc_slot *slot;
    size_t cap, n;
    char **chunks;
    size_t nchunks, chunk_used;
    float *tmp;
};

rank_vcache *rank_vcache_new(const rank_emb *e) {
    rank_vcache *c = qcalloc(1, sizeof *c);
    if (!c) return NULL;
    c->e = e;
    c->cap = 1024;
    c->slot = qcalloc(c->cap, sizeof *c->slot);
    c->tmp = qmalloc(e->dims * sizeof *c->tmp);
    c->chunk_used = VC_CHUNK;
    if (!c->slot || !c->tmp) {
        rank_vcache_free(c);
        return NULL;
    }
    return c;
}

void rank_vcache_free(rank_vcache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nchunks; i++) qfree(c->chunks[i]);
    qfree(c->chunks);
    qfree(c->slot);
    qfree(c->tmp);
    qfree(c);
}

size_t rank_vcache_size(const rank_vcache *c) { return c->n; }

static void *vc_alloc(rank_vcache *c, size_t n) {
    n = (n + 7) & ~(size_t)7;
    if (n > VC_CHUNK) return NULL;
    if (c->chunk_used + n > VC_CHUNK) {
        char **nc = qrealloc(c->chunks, (c->nchunks + 1) * sizeof *nc);
        if (!nc) return NULL;
        c->chunks = nc;
        char *ch = qmalloc(VC_CHUNK);
        if (!ch) return NULL;
        c->chunks[c->nchunks++] = ch;
        c->chunk_used = 0;
    }
    void *p = c->chunks[c->nchunks - 1] + c->chunk_used;
    c->chunk_used += n;
    return p;
}

static int vc_grow(rank_vcache *c) {
    size_t nc = c->cap * 2;
    vc_slot *ns = qcalloc(nc, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slot[i].key) continue;
        size_t j = c->slot[i].h & (nc - 1);
        while (ns[j].key) j = (j + 1) & (nc - 1);
        ns[j] = c->slot[i];
    }
    qfree(c->slot);
    c->slot = ns;
    c->cap = nc;
    return 0;
}

const float *rank_vcache_get(rank_vcache *c, const char *q, size_t len, int *oom) {
    uint64_t h = rank_emb_hash(q, len, RANK_EMB_FNV_INIT);
    size_t j = h & (c->cap - 1);
    while (c->slot[j].key) {
        vc_slot *s = &c->slot[j];
        if (s->h == h && s->len == len && !memcmp(s->key, q, len)) return s->vec;
        j = (j + 1) & (c->cap - 1);
    }
    if ((c->n + 1) * 4 > c->cap * 3) {
        if (vc_grow(c)) goto oom;
        return rank_vcache_get(c, q, len, oom);
    }
    uint32_t d = c->e->dims;
    int has = rank_emb_vector(c->e, q, len, c->tmp);
    char *key = vc_alloc(c, len ? len : 1);
    float *vec = has ? vc_alloc(c, d * sizeof *vec) : NULL;
    if (!key || (has && !vec)) goto oom;
    memcpy(key, q, len);
    if (has) memcpy(vec, c->tmp, d * sizeof *vec);
    c->slot[j] = (vc_slot){h, key, (uint32_t)len, vec};
    c->n++;
    return vec;
oom:
    if (oom) *oom = 1;
    return NULL;
}
