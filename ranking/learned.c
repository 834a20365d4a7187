/* learned.c -- scoring and the online update of the learned ranker
 * (contract in learned.h). No allocation: features live on the stack
 * (RANK_FEAT_MAX per candidate, twice that for a pair). The per-request
 * parts (the last query's trigrams and words, the walk over the prefix's
 * trigrams) are computed once by rank_fctx_prepare, a candidate's logs and
 * word counts once for its features and its base.
 */
#include "ranking/learned.h"

#include <math.h>
#include <string.h>

#define RANK_LEARN_PRE_CHUNK 64 /* candidates whose rank_fpre is computed together (on the stack) */

size_t rank_lcands_from(rank_lcand *out, size_t cap, const rank_cands *cs) {
    /* rank_gather puts the trie's hits first, in rank order, each pointing at
     * the hit's copy of the key; history-only candidates follow and point into the
     * history, so they never equal a hit's key pointer. */
    int in_trie = 1;
    size_t n = cs->n < cap ? cs->n : cap;
    for (size_t i = 0; i < n; i++) {
        if (in_trie && !(i < TRIE_MAX_K && cs->c[i].q == trie_hit_key(&cs->hits[i]))) in_trie = 0;
        out[i] = (rank_lcand){.c = cs->c[i], .trank = in_trie ? (uint32_t)i + 1 : 0, .vec = NULL};
    }
    return n;
}

double rank_learned_base(const rank_ftrl *m, const rank_fctx *x, const rank_lcand *c) {
    if (m->o.base != RANK_FTRL_BASE_HEURISTIC) return 0;
    rank_cand_terms t;
    rank_cand_terms_of(&c->c, x->now, &t);
    return rank_heur_score(&x->heur, &c->c, &t);
}

void rank_learned_score(const rank_ftrl *m, rank_fctx *x, rank_lcand *c, size_t n) {
    rank_fctx_prepare(x, c, n);
    rank_feat f[RANK_FEAT_MAX];
    rank_fpre pre[RANK_LEARN_PRE_CHUNK]; /* terms once for the features and the base; cosines in a batch */
    int heur = m->o.base == RANK_FTRL_BASE_HEURISTIC;
    for (size_t from = 0; from < n; from += RANK_LEARN_PRE_CHUNK) {
        size_t to = n - from < RANK_LEARN_PRE_CHUNK ? n : from + RANK_LEARN_PRE_CHUNK;
        rank_fpre_batch(x, c + from, to - from, pre);
        for (size_t i = from; i < to; i++) {
            const rank_fpre *p = &pre[i - from];
            size_t k = rank_features_pre(x, &c[i], p, f);
            c[i].c.score = (heur ? rank_heur_score_words(&x->heur, &c[i].c, &p->t, &p->w) : 0) + rank_ftrl_margin(m, f, k);
        }
    }
}

static double sigmoid(double z) {
    if (z > 35) return 1;
    if (z < -35) return 0;
    return 1.0 / (1.0 + exp(-z));
}

int rank_learn_accept(rank_ftrl *m, rank_fctx *x, const rank_lcand *c, size_t n, size_t pos) {
    if (pos >= n) return RANK_LEARN_EINVAL;
    rank_fctx_prepare(x, c, n);
    rank_feat fp[RANK_FEAT_MAX], f[2 * RANK_FEAT_MAX];
    /* the hardest negatives: highest margins, kept sorted descending */
    size_t negi[RANK_LEARN_MAX_NEG];
    double negs[RANK_LEARN_MAX_NEG];
    size_t nn = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == pos) continue;
        size_t k = rank_features(x, &c[i], f);
        double s = rank_learned_base(m, x, &c[i]) + rank_ftrl_margin(m, f, k);
        if (nn == RANK_LEARN_MAX_NEG && s <= negs[nn - 1]) continue;
        size_t j = nn < RANK_LEARN_MAX_NEG ? nn++ : nn - 1;
        while (j > 0 && negs[j - 1] < s) {
            negs[j] = negs[j - 1];
            negi[j] = negi[j - 1];
            j--;
        }
        negs[j] = s;
        negi[j] = i;
    }
    size_t np = rank_ftrl_mask(m, fp, rank_features(x, &c[pos], fp));
    double bp = rank_learned_base(m, x, &c[pos]);
    int steps = 0;
    if (m->o.loss == RANK_LOSS_LOGISTIC) {
        rank_ftrl_update(m, fp, np, sigmoid(bp + rank_ftrl_margin(m, fp, np)) - 1.0);
        steps++;
        for (size_t j = 0; j < nn; j++) {
            size_t k = rank_ftrl_mask(m, f, rank_features(x, &c[negi[j]], f));
            rank_ftrl_update(m, f, k, sigmoid(rank_learned_base(m, x, &c[negi[j]]) + rank_ftrl_margin(m, f, k)));
            steps++;
        }
        return steps;
    }
    for (size_t j = 0; j < nn; j++) {
        size_t k = rank_features(x, &c[negi[j]], f);
        for (size_t a = 0; a < k; a++) f[a].v = -f[a].v;
        memcpy(f + k, fp, np * sizeof *fp);
        k = rank_ftrl_mask(m, f, k + np);
        double z = bp - rank_learned_base(m, x, &c[negi[j]]) + rank_ftrl_margin(m, f, k); /* s_pos - s_neg */
        rank_ftrl_update(m, f, k, sigmoid(z) - 1.0);
        steps++;
    }
    return steps;
}
