/* features.c -- the learned ranker's features (list and contract in
 * features.h).
 *
 * Layout of an index before masking: mix32(fno << 16 | bin << 4 | cross),
 * fno = feature number (enum below), bin = category (0 for dense values),
 * cross = 0 alone, 1 + prefix bucket for the cross. Values are scaled to
 * about [-1, 1] so one FTRL learning rate suits all of them.
 */
#include "ranking/features.h"

#include <math.h>
#include <string.h>

#include "common/util.h"
#include "ranking/embed.h"

enum {
    F_BIAS = 1, F_LOGG, F_GBIN, F_TRANK, F_SHARE, F_GREL, F_CLEN, F_REM, F_WORDS, F_WB, F_WEND,
    F_LOGU, F_UBIN, F_RECENT, F_DBIN, F_HONLY, F_COSL, F_COSLBIN, F_COSS, F_COSSBIN, F_TRI, F_WOV,
    F_REPL, F_EXTL, F_REPS, F_EXTS, F_UCTX, F_NOVEC, F_GEN, F_GENKEPT, F_GENSF, F_GENKNOWN,
    F_MATCH, F_EDITS, F_WMATCH, F_WREST
};

static uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

typedef struct emitter {
    rank_feat *out;
    size_t n;
    uint32_t cross; /* 1 + prefix bucket */
} emitter;

static void emit(emitter *e, uint32_t fno, uint32_t bin, float v) {
    if (v == 0 || e->n + 2 > RANK_FEAT_MAX) return;
    uint32_t base = fno << 16 | (bin & 0xfff) << 4;
    e->out[e->n++] = (rank_feat){mix32(base), v};
    e->out[e->n++] = (rank_feat){mix32(base | e->cross), v};
}

/* A trigram's key: its three bytes. Two trigrams are equal exactly when
 * their keys are, which is all the Jaccard below asks of them. */
static uint32_t tri_key(const unsigned char t[3]) { return (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16; }

/* byte i of ^s$ */
static unsigned char tri_byte(const char *s, size_t len, size_t i) {
    return i == 0 ? '^' : i <= len ? (unsigned char)s[i - 1] : '$';
}

/* trigram keys of ^s$ into out (the first cap distinct ones, in position
 * order), sorted, distinct */
static uint32_t trigrams(const char *s, size_t len, uint32_t *out, uint32_t cap) {
    uint32_t n = 0;
    for (size_t i = 0; i < len && n < cap; i++) {
        unsigned char t[3] = {tri_byte(s, len, i), tri_byte(s, len, i + 1), tri_byte(s, len, i + 2)};
        uint32_t h = tri_key(t);
        uint32_t j = n; /* insertion sort, dedup */
        while (j > 0 && out[j - 1] > h) j--;
        if (j > 0 && out[j - 1] == h) continue;
        memmove(out + j + 1, out + j, (n - j) * sizeof *out);
        out[j] = h;
        n++;
    }
    return n;
}

/* 1 when h is in the sorted set x->tri. */
static int tri_has(const rank_fctx *x, uint32_t h) {
    uint32_t lo = 0, hi = x->ntri;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (x->tri[mid] < h) lo = mid + 1;
        else hi = mid;
    }
    return lo < x->ntri && x->tri[lo] == h;
}

#define TRI_SLOTS_LOG2 8
#define TRI_SLOTS (1u << TRI_SLOTS_LOG2) /* open addressing, at most half full */
_Static_assert(TRI_SLOTS >= 2 * RANK_FEAT_MAX_TRI, "the trigram set would fill up");

/* What trigrams() + a merge with x->tri would give, without sorting: *nt =
 * the distinct trigrams of ^s$ (the first RANK_FEAT_MAX_TRI of them, in
 * position order, as trigrams() keeps), *common = how many of those are in
 * x->tri. A candidate's set is a small hash set on the stack, its key rolled
 * byte by byte: sorting each candidate's trigrams was a third of a rerank. */
static void tri_overlap(const rank_fctx *x, const char *s, size_t len, uint32_t *nt, uint32_t *common) {
    uint32_t slot[TRI_SLOTS];
    uint8_t used[TRI_SLOTS];
    memset(used, 0, sizeof used);
    uint32_t n = 0, c = 0;
    uint32_t k = (uint32_t)'^' | (uint32_t)tri_byte(s, len, 1) << 8;
    for (size_t i = 0; i < len && n < RANK_FEAT_MAX_TRI; i++) {
        k |= (uint32_t)tri_byte(s, len, i + 2) << 16;
        uint32_t at = (k * 0x9e3779b1u) >> (32 - TRI_SLOTS_LOG2);
        while (used[at] && slot[at] != k) at = (at + 1) & (TRI_SLOTS - 1);
        if (!used[at]) {
            used[at] = 1;
            slot[at] = k;
            n++;
            c += (uint32_t)tri_has(x, k);
        }
        k >>= 8;
    }
    *nt = n;
    *common = c;
}

static uint32_t pbucket(uint32_t cp) {
    return cp <= 5 ? (cp ? cp - 1 : 0) : cp <= 8 ? 5 : 6; /* 1,2,3,4,5,6-8,9+ */
}

void rank_fctx_prepare(rank_fctx *x, const rank_lcand *c, size_t n) {
    x->pcp = (uint32_t)qutf8_count(x->p, x->plen);
    x->pbucket = pbucket(x->pcp);
    x->gsum = 0;
    x->gmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].c.cls != RANK_CLS_EXACT) continue; /* typo / infix matches leave the completions' scores alone */
        x->gsum += c[i].c.g;
        if (c[i].c.g > x->gmax) x->gmax = c[i].c.g;
    }
    x->ntri = x->last ? trigrams(x->last, x->lastlen, x->tri, RANK_FEAT_MAX_TRI) : 0;
}

static uint32_t bin_log2(double v, uint32_t max) {
    uint32_t b = 0;
    while (v >= 1 && b < max) {
        v /= 2;
        b++;
    }
    return b;
}

static int starts_with(const char *s, size_t n, const char *p, size_t pn) {
    return n >= pn && !memcmp(s, p, pn);
}

/* share of x's distinct words that are in last */
static float word_overlap(const char *xq, size_t xn, const char *l, size_t ln) {
    uint32_t words = 0, common = 0;
    size_t i = 0;
    while (i < xn) {
        while (i < xn && xq[i] == ' ') i++;
        size_t st = i;
        while (i < xn && xq[i] != ' ') i++;
        if (i == st) break;
        words++;
        size_t wl = i - st, j = 0;
        while (j < ln) {
            while (j < ln && l[j] == ' ') j++;
            size_t s2 = j;
            while (j < ln && l[j] != ' ') j++;
            if (j - s2 == wl && !memcmp(l + s2, xq + st, wl)) {
                common++;
                break;
            }
        }
    }
    return words ? (float)common / (float)words : 0;
}

static uint32_t cos_bin(float c) {
    int b = (int)floorf((c + 1.0f) * 5.0f); /* 10 bins over [-1, 1] */
    return (uint32_t)(b < 0 ? 0 : b > 9 ? 9 : b);
}

size_t rank_features(const rank_fctx *x, const rank_lcand *lc, rank_feat *out) {
    const rank_cand *c = &lc->c;
    emitter e = {out, 0, 1 + x->pbucket};
    emit(&e, F_BIAS, 0, 1);
    /* popularity */
    emit(&e, F_LOGG, 0, (float)(log1p(c->g) / 10.0));
    emit(&e, F_GBIN, bin_log2(c->g + 1, 24), 1);
    uint32_t tr = lc->trank;
    uint32_t trb = tr == 0 ? 0 : tr <= 5 ? tr : tr <= 10 ? 6 : tr <= 20 ? 7 : tr <= 50 ? 8 : 9;
    emit(&e, F_TRANK, trb, 1);
    if (x->gsum > 0) emit(&e, F_SHARE, 0, (float)(c->g / x->gsum));
    emit(&e, F_GREL, 0, (float)(log((c->g + 1) / (x->gmax + 1)) / 10.0));
    /* lengths */
    size_t ccp = qutf8_count(c->q, c->len);
    emit(&e, F_CLEN, (uint32_t)(ccp / 3 > 15 ? 15 : ccp / 3), 1);
    size_t rem = c->len > x->plen ? c->len - x->plen : 0;
    uint32_t rb = rem <= 3 ? (uint32_t)rem : rem <= 5 ? 4 : rem <= 8 ? 5 : rem <= 12 ? 6 : rem <= 20 ? 7 : 8;
    emit(&e, F_REM, rb, 1);
    uint32_t words = 0;
    for (size_t i = 0; i < c->len; i++)
        if (c->q[i] != ' ' && (i == 0 || c->q[i - 1] == ' ')) words++;
    emit(&e, F_WORDS, words > 6 ? 6 : words, 1);
    if (x->plen && x->p[x->plen - 1] == ' ') emit(&e, F_WB, 0, 1);
    if (x->plen && (c->len == x->plen || (c->len > x->plen && c->q[x->plen] == ' '))) emit(&e, F_WEND, 0, 1);
    /* user */
    if (c->u > 0) {
        float lu = (float)log1p((double)c->u);
        emit(&e, F_LOGU, 0, lu / 3.0f);
        emit(&e, F_UBIN, c->u >= 10 ? 5 : c->u >= 5 ? 4 : c->u >= 3 ? 3 : c->u, 1);
        double d = (double)(x->now - c->last) / 86400.0;
        if (d < 0) d = 0;
        emit(&e, F_RECENT, 0, (float)exp(-d / 7.0));
        emit(&e, F_DBIN, bin_log2(d * 24.0 + 1, 12), 1); /* hours, log2 bins */
        if (x->last) emit(&e, F_UCTX, 0, lu / 3.0f);
    }
    if (c->gen) { /* generated (gen.h): kept words, suffix frequency, whether the trie knows it */
        uint32_t kept = c->gen - 1;
        emit(&e, F_GEN, 0, 1);
        emit(&e, F_GENKEPT, kept > 4 ? 4 : kept, 1);
        emit(&e, F_GENSF, 0, (float)(log1p(c->sf) / 10.0));
        if (c->g > 0) emit(&e, F_GENKNOWN, 0, 1);
    } else if (c->g == 0) {
        emit(&e, F_HONLY, 0, 1);
    }
    if (c->cls != RANK_CLS_EXACT) { /* typo / infix match (baseline.h "Match class") */
        emit(&e, F_MATCH, c->cls == RANK_CLS_INFIX ? 1 : 2, 1);
        if (c->edits) emit(&e, F_EDITS, c->edits, 1);
        if (c->words) {
            emit(&e, F_WMATCH, c->words > 4 ? 4 : c->words, 1);
            uint32_t rest = words > c->words ? words - c->words : 0; /* the key's other words */
            emit(&e, F_WREST, rest > 3 ? 3 : rest, 1);
        }
    }
    if (!lc->vec) emit(&e, F_NOVEC, 0, 1);
    /* session */
    if (x->last) {
        if (lc->vec && x->last_vec) {
            float cs = rank_dot(lc->vec, x->last_vec, x->dims);
            emit(&e, F_COSL, 0, cs);
            emit(&e, F_COSLBIN, cos_bin(cs), 1);
        }
        if (lc->vec && x->sess_vec) {
            float cs = rank_dot(lc->vec, x->sess_vec, x->dims);
            emit(&e, F_COSS, 0, cs);
            emit(&e, F_COSSBIN, cos_bin(cs), 1);
        }
        if (x->ntri) {
            uint32_t nt = 0, common = 0;
            tri_overlap(x, c->q, c->len, &nt, &common);
            uint32_t uni = nt + x->ntri - common;
            if (uni) emit(&e, F_TRI, 0, (float)common / (float)uni);
        }
        emit(&e, F_WOV, 0, word_overlap(c->q, c->len, x->last, x->lastlen));
        if (c->len == x->lastlen && !memcmp(c->q, x->last, c->len)) emit(&e, F_REPL, 0, 1);
        else if (starts_with(c->q, c->len, x->last, x->lastlen)) emit(&e, F_EXTL, 0, 1);
        int rep = 0, ext = 0;
        for (size_t i = 1; i < x->nsess; i++) { /* [0] is last */
            const rank_hsess *s = &x->sess[i];
            if (s->len == c->len && !memcmp(s->q, c->q, c->len)) rep = 1;
            else if (starts_with(c->q, c->len, s->q, s->len)) ext = 1;
        }
        if (rep) emit(&e, F_REPS, 0, 1);
        if (ext) emit(&e, F_EXTS, 0, 1);
    }
    return e.n;
}

int rank_session_vec(uint32_t dims, const float *const *vecs, const int64_t *t, size_t n, int64_t now,
                     double tau, float *out) {
    memset(out, 0, dims * sizeof *out);
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (!vecs[i]) continue;
        double age = (double)(now - t[i]);
        float w = (float)exp(-(age > 0 ? age : 0) / tau);
        for (uint32_t k = 0; k < dims; k++) out[k] += w * vecs[i][k];
        any = 1;
    }
    if (!any) return 0;
    float s = rank_dot(out, out, dims);
    if (!(s > 0)) {
        memset(out, 0, dims * sizeof *out);
        return 0;
    }
    float r = 1.0f / sqrtf(s);
    for (uint32_t k = 0; k < dims; k++) out[k] *= r;
    return 1;
}

size_t rank_feat_merge(rank_feat *f, size_t n) {
    for (size_t i = 1; i < n; i++) { /* insertion sort: n is small */
        rank_feat x = f[i];
        size_t j = i;
        while (j > 0 && f[j - 1].i > x.i) {
            f[j] = f[j - 1];
            j--;
        }
        f[j] = x;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && f[m - 1].i == f[i].i) f[m - 1].v += f[i].v;
        else f[m++] = f[i];
    }
    size_t k = 0; /* drop zeros (a pair's shared features cancel) */
    for (size_t i = 0; i < m; i++)
        if (f[i].v != 0) f[k++] = f[i];
    return k;
}
