/* baseline.c -- MPC, personal and heuristic scorers and candidate gathering
 * (contract and formulas in baseline.h).
 *
 * rank_gather dedups without a hash table: the trie returns its top N in
 * (score desc, key asc) order, so a history query that is in the trie is
 * among those N exactly when fewer than N keys matched or it does not sort
 * after the N-th hit. Each history entry thus costs one trie_score.
 *
 * rank_top is a bounded insertion sort: candidate lists are ~100 long and k
 * is 10, so one comparison against the current k-th settles most candidates.
 */
#include "ranking/baseline.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

void rank_cands_init(rank_cands *cs) { memset(cs, 0, sizeof *cs); }

void rank_cands_free(rank_cands *cs) {
    qfree(cs->c);
    qfree(cs->he);
    rank_cands_init(cs);
}

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    size_t m = alen < blen ? alen : blen;
    int r = memcmp(a, b, m);
    if (r) return r;
    return alen < blen ? -1 : alen > blen;
}

int rank_cand_before(const rank_cand *a, const rank_cand *b) {
    if (a->after != b->after) return b->after;
    if (a->cls != b->cls) return a->cls < b->cls; /* the class key: never crossed by a score */
    if (a->score != b->score) return a->score > b->score;
    return bytes_cmp(a->q, a->len, b->q, b->len) < 0;
}

int rank_cands_reserve(rank_cands *cs, size_t need) {
    if (need <= cs->cap) return 0;
    size_t cap = cs->cap ? cs->cap : 128;
    while (cap < need) cap *= 2;
    rank_cand *c = qrealloc(cs->c, cap * sizeof *c);
    if (!c) return -1;
    cs->c = c;
    cs->cap = cap;
    return 0;
}

static int hist_better(const void *pa, const void *pb) {
    const rank_cand *a = pa, *b = pb;
    if (a->u != b->u) return a->u > b->u ? -1 : 1;
    if (a->last != b->last) return a->last > b->last ? -1 : 1;
    return bytes_cmp(a->q, a->len, b->q, b->len);
}

void rank_cands_keep_history(rank_cands *cs, size_t from, size_t max) {
    if (from > cs->n || cs->n - from <= max) return;
    /* rare (a heavy user and a short prefix): a full sort of the history part */
    qsort(cs->c + from, cs->n - from, sizeof *cs->c, hist_better);
    cs->n = from + max;
}

int rank_gather(rank_cands *cs, const trie *t, const rank_huser *u, const char *p, size_t plen,
                unsigned ntop, size_t max_hist) {
    cs->n = 0;
    if (ntop == 0 || ntop > TRIE_MAX_K) return RANK_BASE_EINVAL;
    int nh = trie_topk(t, p, plen, ntop, cs->hits);
    if (nh < 0) return RANK_BASE_EINVAL;
    size_t nm = rank_huser_prefix(u, p, plen, cs->he, cs->hecap);
    if (nm > cs->hecap) {
        const rank_hentry **he = qrealloc(cs->he, nm * sizeof *he);
        if (!he) return RANK_BASE_ENOMEM;
        cs->he = he;
        cs->hecap = nm;
        rank_huser_prefix(u, p, plen, cs->he, cs->hecap);
    }
    if (rank_cands_reserve(cs, (size_t)nh + nm)) return RANK_BASE_ENOMEM;
    for (int i = 0; i < nh; i++) {
        const trie_hit *h = &cs->hits[i];
        const rank_hentry *e = rank_huser_get(u, trie_hit_key(h), h->keylen);
        cs->c[cs->n++] = (rank_cand){trie_hit_key(h), h->keylen, e ? e->count : 0, h->score, e ? e->last : 0, 0, 0, 0, 0, 0, 0, 0};
    }
    const trie_hit *worst = nh > 0 ? &cs->hits[nh - 1] : NULL;
    for (size_t i = 0; i < nm; i++) {
        const rank_hentry *e = cs->he[i];
        double g = 0;
        if (trie_score(t, e->q, e->len, &g)) {
            int in_top = (unsigned)nh < ntop ||
                         g > worst->score ||
                         (g == worst->score && bytes_cmp(e->q, e->len, trie_hit_key(worst), worst->keylen) <= 0);
            if (in_top) continue;
        }
        cs->c[cs->n++] = (rank_cand){e->q, e->len, e->count, g, e->last, 0, 0, 0, 0, 0, 0, 0};
    }
    rank_cands_keep_history(cs, (size_t)nh, max_hist);
    return (int)cs->n;
}

void rank_score_mpc(rank_cand *c, size_t n) {
    for (size_t i = 0; i < n; i++) c[i].score = c[i].g;
}

void rank_score_personal(rank_cand *c, size_t n) {
    for (size_t i = 0; i < n; i++) c[i].score = log1p(c[i].g) + 3.0 * log1p((double)c[i].u);
}

/* Splits s on spaces into distinct words (first RANK_HEUR_MAX_WORDS);
 * returns count. */
static size_t word_set(const char *s, size_t len, rank_word *w) {
    size_t n = 0, i = 0;
    while (i < len && n < RANK_HEUR_MAX_WORDS) {
        while (i < len && s[i] == ' ') i++;
        size_t st = i;
        while (i < len && s[i] != ' ') i++;
        if (i == st) break;
        int dup = 0;
        for (size_t k = 0; k < n && !dup; k++) dup = w[k].n == i - st && !memcmp(w[k].p, s + st, i - st);
        if (!dup) w[n++] = (rank_word){s + st, i - st};
    }
    return n;
}

void rank_heur_prepare(rank_heur *h, const rank_ctx *ctx) {
    h->ctx = *ctx;
    h->nl = ctx->last ? word_set(ctx->last, ctx->lastlen, h->lw) : 0;
    h->whole = h->nl < RANK_HEUR_MAX_WORDS;
}

/* log1p of the counts 0..LOG1P_SMALL-1, filled once (pthread_once) by
 * log1p itself: the same values as calling it, without its cost. */
#define LOG1P_SMALL 1024
static double log1p_small[LOG1P_SMALL];
static pthread_once_t log1p_once = PTHREAD_ONCE_INIT;

static void log1p_init(void) {
    for (int i = 0; i < LOG1P_SMALL; i++) log1p_small[i] = log1p((double)i);
}

static double log1p_count(double v) {
    if (v >= 0 && v < LOG1P_SMALL) {
        int i = (int)v;
        if ((double)i == v) return log1p_small[i];
    }
    return log1p(v);
}

void rank_cand_terms_of(const rank_cand *c, int64_t now, rank_cand_terms *t) {
    pthread_once(&log1p_once, log1p_init);
    t->lg = log1p_count(c->g);
    t->lu = c->u ? log1p_count((double)c->u) : 0;
    t->rec = c->u ? exp(-((double)(now - c->last) / 86400.0) / 7.0) : 0;
}

/* 1 when w[0..wl) is among h->lw */
static int in_lw(const rank_heur *h, const char *w, size_t wl) {
    for (size_t b = 0; b < h->nl; b++)
        if (h->lw[b].n == wl && h->lw[b].p[0] == w[0] && !memcmp(h->lw[b].p, w, wl)) return 1;
    return 0;
}

/* One pass over q: each word is looked up among last's once, and kept as
 * distinct (word_set's rule: the first RANK_HEUR_MAX_WORDS distinct) for
 * the heuristic's share. */
void rank_heur_words(const rank_heur *h, const char *q, size_t len, rank_cand_words *w) {
    rank_word xw[RANK_HEUR_MAX_WORDS];
    uint32_t words = 0, inlast = 0, nx = 0, common = 0;
    int last = h->ctx.last != NULL;
    size_t i = 0;
    while (i < len) {
        while (i < len && q[i] == ' ') i++;
        size_t st = i;
        while (i < len && q[i] != ' ') i++;
        if (i == st) break;
        words++;
        if (!last) continue;
        size_t wl = i - st;
        int in = in_lw(h, q + st, wl);
        inlast += (uint32_t)in;
        if (nx == RANK_HEUR_MAX_WORDS) continue;
        int dup = 0;
        for (size_t k = 0; k < nx && !dup; k++) dup = xw[k].n == wl && !memcmp(xw[k].p, q + st, wl);
        if (!dup) {
            xw[nx++] = (rank_word){q + st, wl};
            common += (uint32_t)in;
        }
    }
    *w = (rank_cand_words){words, inlast, nx, common};
}

double rank_heur_score_words(const rank_heur *h, const rank_cand *x, const rank_cand_terms *t,
                             const rank_cand_words *w) {
    double s = t->lg + 4.0 * t->lu;
    if (x->u > 0) s += 3.0 * t->rec;
    if (h->ctx.last) {
        if (w->nx) s += 2.0 * (double)w->common / (double)w->nx;
        if (x->len > h->ctx.lastlen && !memcmp(x->q, h->ctx.last, h->ctx.lastlen)) s += 1.5;
    }
    return s;
}

double rank_heur_score(const rank_heur *h, const rank_cand *x, const rank_cand_terms *t) {
    rank_cand_words w;
    rank_heur_words(h, x->q, x->len, &w);
    return rank_heur_score_words(h, x, t, &w);
}

void rank_score_heuristic(rank_cand *c, size_t n, const rank_ctx *ctx) {
    rank_heur h;
    rank_heur_prepare(&h, ctx);
    for (size_t i = 0; i < n; i++) {
        rank_cand_terms t;
        rank_cand_terms_of(&c[i], ctx->now, &t);
        c[i].score = rank_heur_score(&h, &c[i], &t);
    }
}

size_t rank_top(rank_cand *c, size_t n, size_t k) {
    if (k > n) k = n;
    if (k == 0) return 0;
    /* c[0..m) is sorted and holds the best m seen so far. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == k && !rank_cand_before(&c[i], &c[m - 1])) continue;
        rank_cand x = c[i];
        size_t j = m < k ? m : k - 1;
        if (m < k) {
            /* c[m] is about to be overwritten by the shift: keep it where x was. */
            c[i] = c[m];
            m++;
        } else {
            c[i] = c[k - 1];
        }
        while (j > 0 && rank_cand_before(&x, &c[j - 1])) {
            c[j] = c[j - 1];
            j--;
        }
        c[j] = x;
    }
    return k;
}
