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
#include <pthread.h>
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

/* mix32 of every (fno, bin < FH_BINS, cross) index, computed once per
 * process (pthread_once): two mix32 per emitted feature were a sixth of a
 * rerank; a table lookup gives the same value. Rows by cross, so a request
 * reads two rows (alone, its prefix bucket). */
#define FH_FNOS 64 /* > the last feature number */
#define FH_BINS 32 /* > every bin but a typo's edits above 31 (computed) */
#define FH_CROSS 8 /* 0 alone, 1 + prefix bucket (pbucket: 0..6) */
_Static_assert(F_WREST < FH_FNOS, "a feature number beyond the hash table");
static uint32_t fhash[FH_CROSS][FH_FNOS * FH_BINS];
static pthread_once_t fhash_once = PTHREAD_ONCE_INIT;

static void fhash_init(void) {
    for (uint32_t cr = 0; cr < FH_CROSS; cr++)
        for (uint32_t f = 0; f < FH_FNOS; f++)
            for (uint32_t b = 0; b < FH_BINS; b++) fhash[cr][f * FH_BINS + b] = mix32(f << 16 | b << 4 | cr);
}

typedef struct emitter {
    rank_feat *out;
    size_t n;
    uint32_t cross; /* 1 + prefix bucket */
    const uint32_t *h0, *hc; /* fhash[0], fhash[cross] */
} emitter;

static inline __attribute__((always_inline)) void emit(emitter *e, uint32_t fno, uint32_t bin, float v) {
    if (v == 0 || e->n + 2 > RANK_FEAT_MAX) return;
    if (bin < FH_BINS) {
        e->out[e->n++] = (rank_feat){e->h0[fno * FH_BINS + bin], v};
        e->out[e->n++] = (rank_feat){e->hc[fno * FH_BINS + bin], v};
        return;
    }
    uint32_t base = fno << 16 | (bin & 0xfff) << 4;
    e->out[e->n++] = (rank_feat){mix32(base), v};
    e->out[e->n++] = (rank_feat){mix32(base | e->cross), v};
}

/* byte i of ^s$ */
static unsigned char tri_byte(const char *s, size_t len, size_t i) {
    return i == 0 ? '^' : i <= len ? (unsigned char)s[i - 1] : '$';
}

/* A trigram's key: its three bytes (b0 | b1 << 8 | b2 << 16), rolled byte
 * by byte along ^s$. Two trigrams are equal exactly when their keys are,
 * which is all the Jaccard below asks of them. */
static uint32_t tri_hash(uint32_t k) { return k * 0x9e3779b1u; }

#define TRI_LIVE (1u << 24) /* a used slot of x->trislot: key | TRI_LIVE, never 0 */
_Static_assert(RANK_FEAT_TRI_SLOTS >= 2 * RANK_FEAT_MAX_TRI, "the trigram set would fill up");

/* 1 when key k (hash h) is in x's set of the last query's trigrams: one
 * probe mostly, the table being at most half full. */
static int tri_in_last(const rank_fctx *x, uint32_t k, uint32_t h) {
    uint32_t at = h >> (32 - RANK_FEAT_TRI_SLOTS_LOG2);
    for (uint32_t v; (v = x->trislot[at]) != 0; at = (at + 1) & (RANK_FEAT_TRI_SLOTS - 1))
        if (v == (k | TRI_LIVE)) return 1;
    return 0;
}

/* x->trislot, x->ntri: the distinct trigrams of ^last$ (the first
 * RANK_FEAT_MAX_TRI of them, in position order). */
static void tri_prepare(rank_fctx *x) {
    memset(x->trislot, 0, sizeof x->trislot);
    x->ntri = 0;
    if (!x->last) return;
    const char *s = x->last;
    size_t len = x->lastlen;
    uint32_t k = (uint32_t)'^' | (uint32_t)tri_byte(s, len, 1) << 8;
    for (size_t i = 0; i < len && x->ntri < RANK_FEAT_MAX_TRI; i++) {
        k |= (uint32_t)tri_byte(s, len, i + 2) << 16;
        uint32_t at = tri_hash(k) >> (32 - RANK_FEAT_TRI_SLOTS_LOG2);
        while (x->trislot[at] && x->trislot[at] != (k | TRI_LIVE)) at = (at + 1) & (RANK_FEAT_TRI_SLOTS - 1);
        if (!x->trislot[at]) {
            x->trislot[at] = k | TRI_LIVE;
            x->ntri++;
        }
        k >>= 8;
    }
}

/* The walk of ^s$'s trigrams from w's position up to position end (or the
 * first RANK_FEAT_MAX_TRI distinct ones): w->n distinct trigrams, w->common
 * of them in the last query's set. A candidate's trigrams are told apart by
 * a 256-bit filter, a key whose bit is set being looked for among the ones
 * kept (texts seldom repeat a trigram): no table to clear per candidate,
 * and one probe of x's set per distinct trigram. Sorting each candidate's
 * trigrams was a third of a rerank, a hash set cleared per candidate a
 * fifth. */
static void tri_walk(const rank_fctx *x, const char *s, size_t len, size_t end, rank_ftri *w) {
    uint32_t n = w->n, c = w->common, k = w->k;
    size_t i = w->i;
    for (; i < end && n < RANK_FEAT_MAX_TRI; i++) {
        k |= (uint32_t)tri_byte(s, len, i + 2) << 16;
        uint32_t h = tri_hash(k), b = h >> 24;
        uint64_t bit = 1ull << (b & 63);
        int dup = 0;
        if (w->seen[b >> 6] & bit)
            for (uint32_t j = 0; j < n && !dup; j++) dup = w->kept[j] == k;
        if (!dup) {
            w->seen[b >> 6] |= bit;
            w->kept[n++] = k;
            c += (uint32_t)tri_in_last(x, k, h);
        }
        k >>= 8;
    }
    w->n = n, w->common = c, w->k = k, w->i = (uint32_t)i;
}

static void tri_start(const char *s, size_t len, rank_ftri *w) {
    memset(w->seen, 0, sizeof w->seen);
    w->n = w->common = w->i = 0;
    w->k = (uint32_t)'^' | (uint32_t)tri_byte(s, len, 1) << 8;
}

/* *nt = the distinct trigrams of ^s$ (the first RANK_FEAT_MAX_TRI of them,
 * in position order, as tri_prepare keeps), *common = how many of those
 * are in the last query's set; the walk starts from x->ptri when s starts
 * with the prefix (has_p). */
static void tri_overlap(const rank_fctx *x, const char *s, size_t len, int has_p, uint32_t *nt, uint32_t *common) {
    rank_ftri w;
    if (x->ptri_ok && has_p) {
        memcpy(w.seen, x->ptri.seen, sizeof w.seen);
        memcpy(w.kept, x->ptri.kept, x->ptri.n * sizeof *w.kept);
        w.n = x->ptri.n, w.common = x->ptri.common, w.k = x->ptri.k, w.i = x->ptri.i;
    } else {
        tri_start(s, len, &w);
    }
    tri_walk(x, s, len, len, &w);
    *nt = w.n;
    *common = w.common;
}

static uint32_t pbucket(uint32_t cp) {
    return cp <= 5 ? (cp ? cp - 1 : 0) : cp <= 8 ? 5 : 6; /* 1,2,3,4,5,6-8,9+ */
}

void rank_fctx_prepare(rank_fctx *x, const rank_lcand *c, size_t n) {
    pthread_once(&fhash_once, fhash_init);
    x->pcp = (uint32_t)qutf8_count(x->p, x->plen);
    x->pbucket = pbucket(x->pcp);
    x->gsum = 0;
    x->gmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].c.cls != RANK_CLS_EXACT) continue; /* typo / infix matches leave the completions' scores alone */
        x->gsum += c[i].c.g;
        if (c[i].c.g > x->gmax) x->gmax = c[i].c.g;
    }
    tri_prepare(x);
    x->ptri_ok = x->ntri && x->plen >= 2;
    if (x->ptri_ok) { /* positions 0 .. plen - 2 read ^ and p[0 .. plen) only */
        tri_start(x->p, x->plen, &x->ptri);
        tri_walk(x, x->p, x->plen, x->plen - 1, &x->ptri);
    }
    rank_ctx hc = {x->now, x->last, x->lastlen};
    rank_heur_prepare(&x->heur, &hc);
}

/* How many halvings bring v under 1, at most max: 1 + floor(log2 v) for v
 * >= 1, read off v's exponent (halving a double >= 1 is exact, so a loop
 * of them gives the same). */
static uint32_t bin_log2(double v, uint32_t max) {
    if (!(v >= 1)) return 0;
    if (!isfinite(v)) return max;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint32_t b = (uint32_t)((bits >> 52) & 0x7ff) - 1023 + 1;
    return b < max ? b : max;
}

static int starts_with(const char *s, size_t n, const char *p, size_t pn) {
    return n >= pn && !memcmp(s, p, pn);
}

/* share of c's words that are in the last query: w's counts when x->heur
 * has all of last's distinct words, else a scan of last per word */
static float word_overlap(const rank_fctx *x, const char *xq, size_t xn, const rank_cand_words *w) {
    if (x->heur.whole) return w->words ? (float)w->inlast / (float)w->words : 0;
    const char *l = x->last;
    size_t ln = x->lastlen;
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

/* The two cosines of 4 candidates at a time: 8 sums side by side in
 * registers, each in rank_dot's order (the same bits as rank_dot). q is a
 * vector of x (last_vec / sess_vec) or a zero vector when x lacks it. */
static void cos4(const float *const v[4], const float *lv, const float *sv, uint32_t dims, float l[4], float s[4]) {
    float l0 = 0, l1 = 0, l2 = 0, l3 = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (uint32_t k = 0; k < dims; k++) {
        float a = lv[k], b = sv[k];
        l0 += v[0][k] * a, l1 += v[1][k] * a, l2 += v[2][k] * a, l3 += v[3][k] * a;
        s0 += v[0][k] * b, s1 += v[1][k] * b, s2 += v[2][k] * b, s3 += v[3][k] * b;
    }
    l[0] = l0, l[1] = l1, l[2] = l2, l[3] = l3;
    s[0] = s0, s[1] = s1, s[2] = s2, s[3] = s3;
}

/* out[i].cosl / coss of the candidates with a vector, 4 at a time (a short
 * group padded with the first vector again). A missing side is summed
 * against zeros and never read (rank_fpre says when it is set). */
static void cos_batch(const rank_fctx *x, const rank_lcand *c, size_t n, rank_fpre *out) {
    static const float zero[RANK_EMB_MAX_DIMS];
    if (x->dims > RANK_EMB_MAX_DIMS) { /* no zero vector that long: one by one */
        for (size_t i = 0; i < n; i++) {
            if (!c[i].vec) continue;
            if (x->last_vec) out[i].cosl = rank_dot(c[i].vec, x->last_vec, x->dims);
            if (x->sess_vec) out[i].coss = rank_dot(c[i].vec, x->sess_vec, x->dims);
        }
        return;
    }
    const float *lv = x->last_vec ? x->last_vec : zero, *sv = x->sess_vec ? x->sess_vec : zero;
    size_t i = 0;
    while (i < n) {
        const float *v[4];
        size_t at[4], m = 0;
        for (; i < n && m < 4; i++)
            if (c[i].vec) v[m] = c[i].vec, at[m++] = i;
        if (!m) break;
        for (size_t j = m; j < 4; j++) v[j] = v[0];
        float l[4], s[4];
        cos4(v, lv, sv, x->dims, l, s);
        for (size_t j = 0; j < m; j++) out[at[j]].cosl = l[j], out[at[j]].coss = s[j];
    }
}

void rank_fpre_batch(const rank_fctx *x, const rank_lcand *c, size_t n, rank_fpre *out) {
    for (size_t i = 0; i < n; i++) {
        rank_cand_terms_of(&c[i].c, x->now, &out[i].t);
        rank_heur_words(&x->heur, c[i].c.q, c[i].c.len, &out[i].w);
        out[i].cosl = out[i].coss = 0;
    }
    if (x->last && (x->last_vec || x->sess_vec)) cos_batch(x, c, n, out);
}

size_t rank_features(const rank_fctx *x, const rank_lcand *lc, rank_feat *out) {
    rank_fpre pre;
    rank_fpre_batch(x, lc, 1, &pre);
    return rank_features_pre(x, lc, &pre, out);
}

size_t rank_features_pre(const rank_fctx *x, const rank_lcand *lc, const rank_fpre *pre, rank_feat *out) {
    const rank_cand *c = &lc->c;
    const rank_cand_terms *t = &pre->t;
    emitter e = {out, 0, 1 + x->pbucket, fhash[0], fhash[1 + x->pbucket]};
    emit(&e, F_BIAS, 0, 1);
    /* popularity */
    emit(&e, F_LOGG, 0, (float)(t->lg / 10.0));
    emit(&e, F_GBIN, bin_log2(c->g + 1, 24), 1);
    uint32_t tr = lc->trank;
    uint32_t trb = tr == 0 ? 0 : tr <= 5 ? tr : tr <= 10 ? 6 : tr <= 20 ? 7 : tr <= 50 ? 8 : 9;
    emit(&e, F_TRANK, trb, 1);
    if (x->gsum > 0) emit(&e, F_SHARE, 0, (float)(c->g / x->gsum));
    emit(&e, F_GREL, 0, (float)(log((c->g + 1) / (x->gmax + 1)) / 10.0));
    /* lengths */
    /* a candidate that starts with the prefix (most do) shares its code points and first trigrams */
    int has_p = c->len >= x->plen && !memcmp(c->q, x->p, x->plen);
    size_t ccp = has_p ? x->pcp + qutf8_count(c->q + x->plen, c->len - x->plen) : qutf8_count(c->q, c->len);
    emit(&e, F_CLEN, (uint32_t)(ccp / 3 > 15 ? 15 : ccp / 3), 1);
    size_t rem = c->len > x->plen ? c->len - x->plen : 0;
    uint32_t rb = rem <= 3 ? (uint32_t)rem : rem <= 5 ? 4 : rem <= 8 ? 5 : rem <= 12 ? 6 : rem <= 20 ? 7 : 8;
    emit(&e, F_REM, rb, 1);
    uint32_t words = pre->w.words;
    emit(&e, F_WORDS, words > 6 ? 6 : words, 1);
    if (x->plen && x->p[x->plen - 1] == ' ') emit(&e, F_WB, 0, 1);
    if (x->plen && (c->len == x->plen || (c->len > x->plen && c->q[x->plen] == ' '))) emit(&e, F_WEND, 0, 1);
    /* user */
    if (c->u > 0) {
        float lu = (float)t->lu;
        emit(&e, F_LOGU, 0, lu / 3.0f);
        emit(&e, F_UBIN, c->u >= 10 ? 5 : c->u >= 5 ? 4 : c->u >= 3 ? 3 : c->u, 1);
        double d = (double)(x->now - c->last) / 86400.0;
        if (d < 0) d = 0;
        emit(&e, F_RECENT, 0, (float)(d > 0 ? t->rec : 1.0)); /* exp(-d / 7) */
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
            float cs = pre->cosl;
            emit(&e, F_COSL, 0, cs);
            emit(&e, F_COSLBIN, cos_bin(cs), 1);
        }
        if (lc->vec && x->sess_vec) {
            float cs = pre->coss;
            emit(&e, F_COSS, 0, cs);
            emit(&e, F_COSSBIN, cos_bin(cs), 1);
        }
        if (x->ntri) {
            uint32_t nt = 0, common = 0;
            tri_overlap(x, c->q, c->len, has_p, &nt, &common);
            uint32_t uni = nt + x->ntri - common;
            if (uni) emit(&e, F_TRI, 0, (float)common / (float)uni);
        }
        emit(&e, F_WOV, 0, word_overlap(x, c->q, c->len, &pre->w));
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
