/* request.c -- one ranked request's context (see request.h). */
#include "ranking/request.h"

#include <string.h>

#include "common/alloc.h"
#include "ranking/learned.h"

int rank_req_init(rank_req *r, rank_vec_fn vec, void *vec_ud) {
    memset(r, 0, sizeof *r);
    r->vec = vec;
    r->vec_ud = vec_ud;
    rank_cands_init(&r->cs);
    r->vecs = qmalloc((size_t)RANK_MAX_CANDS * RANK_EMB_MAX_DIMS * sizeof(float));
    r->svecs = qmalloc((size_t)RANK_REQ_MAX_SESS * RANK_EMB_MAX_DIMS * sizeof(float));
    r->gbuf = qmalloc(RANK_MAX_GEN_CANDS * sizeof *r->gbuf);
    r->ghits = qmalloc(RANK_MAX_GEN_CANDS * sizeof *r->ghits);
    r->fhits = qmalloc(RANK_MAX_MATCH_CANDS * sizeof *r->fhits);
    r->whits = qmalloc(RANK_MAX_MATCH_CANDS * sizeof *r->whits);
    r->wfhits = qmalloc(RANK_MAX_MATCH_CANDS * sizeof *r->wfhits);
    if (!r->vecs || !r->svecs || !r->gbuf || !r->ghits || !r->fhits || !r->whits || !r->wfhits) {
        rank_req_free(r);
        return -1;
    }
    return 0;
}

void rank_req_free(rank_req *r) {
    rank_cands_free(&r->cs);
    qfree(r->vecs);
    qfree(r->svecs);
    qfree(r->gbuf);
    qfree(r->ghits);
    qfree(r->fhits);
    qfree(r->whits);
    qfree(r->wfhits);
    r->fhits = NULL;
    r->whits = r->wfhits = NULL;
    r->vecs = r->svecs = NULL;
    r->gbuf = NULL;
    r->ghits = NULL;
}

void rank_req_set_gen(rank_req *r, const rank_gen *gen, unsigned max) {
    r->gen = gen;
    r->gen_max = max > RANK_MAX_GEN_CANDS ? RANK_MAX_GEN_CANDS : max;
}

void rank_req_set_match(rank_req *r, const rank_match *m) {
    memset(&r->m, 0, sizeof r->m);
    if (!m) return;
    r->m = *m;
    if (r->m.k > RANK_MAX_MATCH_CANDS) r->m.k = RANK_MAX_MATCH_CANDS;
    if (r->m.edits > TRIE_FUZZY_MAX_EDITS) r->m.edits = TRIE_FUZZY_MAX_EDITS;
}

/* 1 when q is among cs->c[0..n). */
static int gathered(const rank_cands *cs, size_t n, const char *q, size_t len) {
    for (size_t j = 0; j < n; j++)
        if (cs->c[j].len == len && !memcmp(cs->c[j].q, q, len)) return 1;
    return 0;
}

/* The user's count and last time of c (history entries are matched bytewise,
 * as rank_gather matches them). */
static void user_counts(rank_cand *c, const rank_huser *hu, const rank_rh *rh) {
    const rank_hentry *e = rh ? rank_rh_get(rh, c->q, c->len) : hu ? rank_huser_get(hu, c->q, c->len) : NULL;
    if (e) c->u = e->count, c->last = e->last;
}

/* Appends hit h as candidate c (its class, edits, words; text, g and the
 * user's counts filled here) unless its text is among cs->c[0..known), for
 * which cs has room. 1 when added. */
static int add_match(rank_cands *cs, size_t known, const trie_hit *h, rank_cand c, const rank_huser *hu,
                     const rank_rh *rh) {
    c.q = trie_hit_key(h);
    c.len = h->keylen;
    c.g = h->score;
    if (gathered(cs, known, c.q, c.len)) return 0;
    user_counts(&c, hu, rh);
    cs->c[cs->n++] = c;
    return 1;
}

/* Appends the infix matches of p (class 1 hits: the class-0 ones are
 * completions of p, the trie's part) not already gathered. Returns how many,
 * or RANK_BASE_ENOMEM. A text the index refuses (over TRIE_WORDS_MAX_TYPED
 * words, too long) has none. */
static int gather_infix(rank_req *r, const trie *t, const rank_huser *hu, const rank_rh *rh, const char *p,
                        size_t plen) {
    rank_cands *cs = &r->cs;
    if (plen > TRIE_WORDS_MAX_TEXT) return 0;
    int tr = 0;
    int n = trie_words_topk(r->m.words, t, p, plen, r->m.k, r->whits, &tr);
    if (n >= 0) r->infix_cut = tr != 0;
    if (n <= 0) return 0;
    if (rank_cands_reserve(cs, cs->n + (size_t)n)) return RANK_BASE_ENOMEM;
    size_t known = cs->n;
    int added = 0;
    for (int i = 0; i < n; i++) {
        const trie_words_hit *w = &r->whits[i];
        if (w->cls != 0)
            added += add_match(cs, known, &w->hit, (rank_cand){.cls = RANK_CLS_INFIX, .words = w->nranges}, hu, rh);
    }
    return added;
}

/* Appends the infix matches of p with 1..m.word_edits edits on the last
 * typed word not already gathered (trie_words_fuzzy_topk: never an exact
 * match); a typo match of the text gathered with more edits takes this
 * class (fewer edits first). Returns how many, or RANK_BASE_ENOMEM. */
static int gather_word_typos(rank_req *r, const trie *t, const rank_huser *hu, const rank_rh *rh, const char *p,
                             size_t plen, unsigned edits) {
    rank_cands *cs = &r->cs;
    if (plen > TRIE_WORDS_MAX_TEXT) return 0;
    int tr = 0;
    r->word_edits = (uint8_t)edits;
    int n = trie_words_fuzzy_topk(r->m.words, t, p, plen, edits, r->m.fuzzy_flags, r->m.k, r->wfhits, &tr);
    if (n >= 0 && tr) r->infix_cut = 1;
    if (n <= 0) return 0;
    if (rank_cands_reserve(cs, cs->n + (size_t)n)) return RANK_BASE_ENOMEM;
    size_t known = cs->n;
    int added = 0;
    for (int i = 0; i < n; i++) {
        const trie_words_hit *w = &r->wfhits[i];
        rank_cand c = {.cls = rank_cls_edit(w->edits, 1), .edits = w->edits, .words = w->nranges};
        for (size_t j = 0; j < known; j++) { /* a typo match of the text with more edits: this class */
            rank_cand *o = &cs->c[j];
            if (o->len == w->hit.keylen && !memcmp(o->q, trie_hit_key(&w->hit), o->len) && o->edits > w->edits &&
                !o->words) {
                o->cls = c.cls;
                o->edits = c.edits;
                o->words = c.words;
            }
        }
        added += add_match(cs, known, &w->hit, c, hu, rh);
    }
    return added;
}

/* Appends the typo matches of p with 1..m.edits edits not already gathered
 * (the 0-edit hits are the trie's top completions: left to it). Returns how many, or
 * RANK_BASE_ENOMEM. */
static int gather_typos(rank_req *r, const trie *t, const rank_huser *hu, const rank_rh *rh, const char *p,
                        size_t plen) {
    rank_cands *cs = &r->cs;
    trie_fuzzy_info fi;
    int n = trie_fuzzy_topk_bounded(t, p, plen, r->m.edits, r->m.fuzzy_flags, r->m.k, r->m.fuzzy_max_work, r->fhits,
                                    &fi);
    if (n >= 0) r->fuzzy_cut = fi.cut;
    if (n <= 0) return 0;
    if (rank_cands_reserve(cs, cs->n + (size_t)n)) return RANK_BASE_ENOMEM;
    size_t known = cs->n;
    int added = 0;
    for (int i = 0; i < n; i++) {
        const trie_fuzzy_hit *f = &r->fhits[i];
        rank_cand c = {.cls = rank_cls_edit(f->edits, 0), .edits = f->edits};
        if (f->edits) added += add_match(cs, known, &f->hit, c, hu, rh);
    }
    return added;
}

int rank__word_skip = 1;

/* The edits the last word's search can still use (request.h,
 * rank__word_skip): its matches of d edits are of class rank_cls_edit(d,
 * 1), after every candidate of a smaller class (the typo'd text's d-edit
 * completions included); those ranked after every class do not count. */
static unsigned word_edits_needed(const rank_req *r) {
    unsigned wd = r->m.word_edits;
    if (!rank__word_skip || r->fuzzy_cut) return wd;
    size_t before1 = 0, before2 = 0;
    for (size_t j = 0; j < r->cs.n; j++) {
        const rank_cand *c = &r->cs.c[j];
        if (c->after) continue;
        before1 += c->cls < rank_cls_edit(1, 1);
        before2 += c->cls < rank_cls_edit(2, 1);
    }
    if (before1 >= r->m.k) return 0;
    if (before2 >= r->m.k && wd > 1) return 1;
    return wd;
}

/* The typo and infix parts of a gather (request.h step 2). */
static int gather_matches(rank_req *r, const trie *t, const rank_huser *hu, const rank_rh *rh, const char *p,
                          size_t plen) {
    rank_cands *cs = &r->cs;
    if (r->m.words && cs->n - r->nafter < r->m.k) { /* the ones ranked after every class do not count */
        int a = gather_infix(r, t, hu, rh, p, plen);
        if (a < 0) return a;
        r->ninfix = (uint32_t)a;
    }
    /* both kinds of typo match or neither: their classes interleave (one
     * edit: the typo'd text's completions, then the last word edited
     * elsewhere; then two edits the same way), so neither may crowd the
     * other out of the gather */
    int edits = cs->n - r->nafter < r->m.k;
    if (r->m.edits && edits) {
        int a = gather_typos(r, t, hu, rh, p, plen);
        if (a < 0) return a;
        r->ntypo = (uint32_t)a;
    }
    unsigned wd = r->m.words && r->m.word_edits && edits ? word_edits_needed(r) : 0;
    if (wd) {
        int a = gather_word_typos(r, t, hu, rh, p, plen, wd);
        if (a < 0) return a;
        r->ntypo += (uint32_t)a;
    }
    return (int)cs->n;
}

/* Appends the generated candidates of p to r->cs (gen.h), skipping texts
 * already gathered. Returns r->cs.n or RANK_BASE_ENOMEM. */
static int gather_generated(rank_req *r, const trie *t, const char *p, size_t plen) {
    rank_cands *cs = &r->cs;
    size_t ng = rank_gen_complete(r->gen, p, plen, r->gen_max, r->ghits, r->gbuf);
    if (!ng) return (int)cs->n;
    if (rank_cands_reserve(cs, cs->n + ng)) return RANK_BASE_ENOMEM;
    size_t known = cs->n;
    for (size_t i = 0; i < ng; i++) {
        const rank_gen_cand *gc = &r->gbuf[i];
        if (gathered(cs, known, gc->text, gc->len)) continue;
        double g = 0;
        if (!trie_score(t, gc->text, gc->len, &g)) g = 0;
        cs->c[cs->n++] = (rank_cand){gc->text, gc->len, 0, g, 0, 0, 1 + gc->kept, gc->sf, 0, 0, 0, gc->unknown};
        r->nafter += gc->unknown;
    }
    return (int)cs->n;
}

void rank_req_session(rank_req *r, uint32_t dims, const rank_hsess *sess, size_t nsess, int64_t now) {
    if (dims > RANK_EMB_MAX_DIMS) dims = 0;
    if (nsess > RANK_REQ_MAX_SESS) nsess = RANK_REQ_MAX_SESS; /* newest first: keep those */
    if (nsess) memcpy(r->sess, sess, nsess * sizeof *sess);
    memset(&r->x, 0, sizeof r->x);
    r->x.now = now;
    r->x.dims = dims;
    r->x.sess = nsess ? r->sess : NULL;
    r->x.nsess = nsess;
    if (nsess) {
        r->x.last = r->sess[0].q;
        r->x.lastlen = r->sess[0].len;
    }
    r->sess_done = 0;
}

int rank_req_gather(rank_req *r, const trie *t, const rank_huser *hu, const rank_rh *rh, const char *p,
                    size_t plen, unsigned topn) {
    r->x.p = p;
    r->x.plen = (uint32_t)plen;
    r->ninfix = r->ntypo = r->nafter = 0;
    r->fuzzy_cut = r->infix_cut = r->word_edits = 0;
    int n = rh ? rank_rh_gather(&r->cs, t, rh, p, plen, topn, RANK_MAX_HIST_CANDS)
               : rank_gather(&r->cs, t, hu, p, plen, topn, RANK_MAX_HIST_CANDS);
    if (n >= 0 && r->gen && r->gen_max) n = gather_generated(r, t, p, plen);
    if (n < 0 || !r->m.k || (!r->m.edits && !r->m.words)) return n;
    return gather_matches(r, t, hu, rh, p, plen);
}

/* The vector of q into out, or NULL (unknown); *err set on failure. */
static const float *vec_into(rank_req *r, const char *q, size_t len, float *out, int *err) {
    if (!r->vec || !r->x.dims) return NULL;
    int ok = r->vec(r->vec_ud, q, len, out);
    if (ok < 0) *err = 1;
    return ok > 0 ? out : NULL;
}

static int session_vectors(rank_req *r) {
    rank_fctx *x = &r->x;
    r->sess_done = 1;
    if (!x->nsess || !r->vec || !x->dims) return 0;
    const float *vp[RANK_REQ_MAX_SESS];
    int64_t ts[RANK_REQ_MAX_SESS];
    int err = 0;
    for (size_t i = 0; i < x->nsess; i++) {
        vp[i] = vec_into(r, r->sess[i].q, r->sess[i].len, r->svecs + i * x->dims, &err);
        ts[i] = r->sess[i].t;
    }
    if (err) return -1;
    if (vp[0]) {
        memcpy(r->lastv, vp[0], x->dims * sizeof(float));
        x->last_vec = r->lastv;
    }
    if (rank_session_vec(x->dims, vp, ts, x->nsess, x->now, RANK_SESS_TAU, r->sessv)) x->sess_vec = r->sessv;
    return 0;
}

int rank_req_prepare(rank_req *r) {
    if (!r->sess_done && session_vectors(r)) return -1;
    size_t n = rank_lcands_from(r->lc, RANK_MAX_CANDS, &r->cs);
    int err = 0;
    for (size_t i = 0; i < n; i++)
        r->lc[i].vec = vec_into(r, r->lc[i].c.q, r->lc[i].c.len, r->vecs + i * r->x.dims, &err);
    return err ? -1 : (int)n;
}

long rank_req_find(const rank_req *r, size_t n, const char *q, size_t qlen) {
    for (size_t i = 0; i < n; i++)
        if (r->lc[i].c.len == qlen && !memcmp(r->lc[i].c.q, q, qlen)) return (long)i;
    return -1;
}
