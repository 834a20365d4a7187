/* trie_words_query.c -- top-k of the word index (trie_words_topk) and its
 * consistency check. The design (bounds, the best-first search and why it is
 * exact) is in trie_words.c; the semantics in trie_words.h.
 *
 * What lives here, in order:
 *   - parsing the typed text (limits first: length, then words);
 *   - the greedy matching that decides a key and gives the ranges;
 *   - a best-first cursor over the DICTIONARY trie's subtree of a prefix
 *     (like trie__topk_walk, but unbounded and one word per call: the
 *     frontier is a growable heap), which streams candidate words by bound;
 *   - the search: a heap of bound entries (STREAM / WORD / NODE) popped
 *     best first; ids of an expanded leaf block are examined on the spot
 *     (score first; decoded and matched only if they could enter) into a
 *     sorted set of the best m matches so far, whose worst prunes the heap;
 *   - trie_words_check.
 * Cost and limits: per request at most TRIE_WORDS_MAX_SCAN work units
 * (ids examined, words streamed, heap pushes) and TRIE_WORDS_MAX_DECODE
 * decodes, checked before each pop (one pop adds at most a leaf block or
 * a dictionary path); scratch is allocated per request (heaps grow x2, m result slots
 * of ~600 B) and freed before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "trie/trie_words_internal.h"

/* ------------------------------------------------------------- the request */

typedef struct tw_req {
    const char *w[TRIE_WORDS_MAX_TYPED];
    uint16_t wl[TRIE_WORDS_MAX_TYPED];
    int nw, trailing;
    char canon[TRIE_WORDS_MAX_TEXT + 1];
    size_t clen;
} tw_req;

static int tw_parse(const char *text, size_t len, tw_req *q) {
    if (len > TRIE_WORDS_MAX_TEXT) return TRIE_WORDS_ETOOLONG;
    q->nw = 0;
    q->clen = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && text[i] == ' ') i++;
        if (i == len) break;
        const char *e = memchr(text + i, ' ', len - i);
        size_t j = e ? (size_t)(e - text) : len;
        if (q->nw == TRIE_WORDS_MAX_TYPED) return TRIE_WORDS_ETOOMANY;
        q->w[q->nw] = text + i;
        q->wl[q->nw++] = (uint16_t)(j - i);
        if (q->clen) q->canon[q->clen++] = ' ';
        memcpy(q->canon + q->clen, text + i, j - i);
        q->clen += j - i;
        i = j;
    }
    q->trailing = q->nw > 0 && text[len - 1] == ' ';
    if (q->trailing) q->canon[q->clen++] = ' ';
    return TRIE_OK;
}

/* The greedy matching (trie_words.h): 1 and the ranges when key matches. */
static int tw_match(const tw_req *q, const char *key, size_t klen, trie_words_range *rg) {
    uint16_t o[TW_MAXKW], l[TW_MAXKW];
    uint8_t used[TW_MAXKW];
    int nk = trie_words__split(key, klen, o, l);
    memset(used, 0, (size_t)nk);
    int nc = q->trailing ? q->nw : q->nw - 1;
    for (int i = 0; i < nc; i++) {
        int j = 0;
        while (j < nk && (used[j] || l[j] != q->wl[i] || memcmp(key + o[j], q->w[i], l[j]))) j++;
        if (j == nk) return 0;
        used[j] = 1;
        rg[i] = (trie_words_range){o[j], q->wl[i]};
    }
    if (!q->trailing) {
        int i = q->nw - 1, j = 0;
        while (j < nk && (used[j] || l[j] < q->wl[i] || memcmp(key + o[j], q->w[i], q->wl[i]))) j++;
        if (j == nk) return 0;
        rg[i] = (trie_words_range){o[j], q->wl[i]};
    }
    return 1;
}

/* ----------------------------------------------------------------- search */

enum { K_STREAM, K_WORD, K_NODE };
#define TW_PFX_MAX 32 /* prefix words checked by list membership */

/* A bound entry of the search heap; value v bounds every key below it. */
typedef struct tw_ent {
    double v;
    uint32_t a, b; /* WORD: a = wid; NODE: a = wid, b = index */
    uint8_t kind, lv;
} tw_ent;

/* Dictionary cursor entry: par NONE: the single word id; slot NONE: the
 * whole subtree of node par; else child slot of par and its later siblings. */
typedef struct tw_sent {
    double s;
    uint32_t id, par, slot;
} tw_sent;

/* One verified match among the best m found so far. */
typedef struct tw_res {
    double s;
    uint32_t id;
    uint16_t kl;
    trie_words_range rg[TRIE_WORDS_MAX_TYPED];
    char key[TRIE_MAX_KEY];
} tw_res;

typedef struct tw_search {
    const trie_words *w;
    const trie *t;
    const tw_req *q;
    tw_ent *h;
    uint32_t hn, hcap;
    tw_sent *s;
    uint32_t sn, scap;
    tw_res *res;   /* m slots */
    uint32_t *ord; /* slot indices, best first */
    uint32_t nres, m;
    uint32_t scanned, decoded; /* work units, keys decoded (trie_words.h LIMITS) */
    uint32_t cw[TRIE_WORDS_MAX_TYPED], ncw; /* other complete words: must list the rank */
    uint32_t pw[TW_PFX_MAX], npw;           /* the prefix's words (one must list it), if few */
    int stream, oom;
} tw_search;

static void hpush(tw_search *S, tw_ent e) {
    if (S->hn == S->hcap) {
        uint32_t nc = S->hcap ? S->hcap * 2 : 256;
        tw_ent *p = qrealloc(S->h, nc * sizeof *p);
        if (!p) {
            S->oom = 1;
            return;
        }
        S->h = p;
        S->hcap = nc;
    }
    uint32_t i = S->hn++;
    S->scanned++;
    while (i > 0 && e.v > S->h[(i - 1) / 2].v) {
        S->h[i] = S->h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    S->h[i] = e;
}

static tw_ent hpop(tw_search *S) {
    tw_ent top = S->h[0], x = S->h[--S->hn];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = l;
        if (l >= S->hn) break;
        if (r < S->hn && S->h[r].v > S->h[l].v) m = r;
        if (S->h[m].v <= x.v) break;
        S->h[i] = S->h[m];
        i = m;
    }
    if (S->hn) S->h[i] = x;
    return top;
}

/* The worst kept match when the set is full (prunes), else NULL. */
static inline const tw_res *res_worst(const tw_search *S) {
    return S->nres == S->m ? &S->res[S->ord[S->nres - 1]] : NULL;
}

/* --- dictionary cursor (max-heap on s) */

static void spush(tw_search *S, double s, uint32_t id, uint32_t par, uint32_t slot) {
    if (S->sn == S->scap) {
        uint32_t nc = S->scap ? S->scap * 2 : 64;
        tw_sent *p = qrealloc(S->s, nc * sizeof *p);
        if (!p) {
            S->oom = 1;
            return;
        }
        S->s = p;
        S->scap = nc;
    }
    uint32_t i = S->sn++;
    S->scanned++;
    S->s[i] = (tw_sent){s, id, par, slot};
    while (i > 0 && S->s[i].s > S->s[(i - 1) / 2].s) {
        tw_sent x = S->s[i];
        S->s[i] = S->s[(i - 1) / 2];
        S->s[(i - 1) / 2] = x;
        i = (i - 1) / 2;
    }
}

static tw_sent spop(tw_search *S) {
    tw_sent top = S->s[0];
    S->s[0] = S->s[--S->sn];
    uint32_t i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < S->sn && S->s[l].s > S->s[m].s) m = l;
        if (r < S->sn && S->s[r].s > S->s[m].s) m = r;
        if (m == i) break;
        tw_sent x = S->s[i];
        S->s[i] = S->s[m];
        S->s[m] = x;
        i = m;
    }
    return top;
}

static inline double wscore(const trie *wt, uint32_t id) { return wt->refs[id].score; }

/* Locates the dictionary subtree of prefix p; 0 when no word has it. */
static int stream_init(tw_search *S, const char *p, size_t pl) {
    const trie *wt = S->w->wt;
    uint32_t n = 0;
    size_t pos = 0;
    while (pos < pl) {
        const tnode *nd = &wt->nodes[n];
        int s = kid_find(wt, nd, (uint8_t)p[pos]);
        if (s < 0) return 0;
        uint32_t r = kid_refs(wt, nd)[s];
        if (r & LEAF) {
            uint32_t id = r & ~LEAF;
            if (!kprefix_is(wt, id, p, pl)) return 0;
            spush(S, wscore(wt, id), id, NONE, 0);
            return 1;
        }
        pos = wt->nodes[r].depth;
        n = r;
    }
    uint32_t b = wt->nodes[n].best;
    if (b == NONE || !kprefix_is(wt, b, p, pl)) return 0;
    spush(S, wscore(wt, b), NONE, n, NONE);
    return 1;
}

/* Descends from node n along best keys, leaving alternatives; its best word. */
static uint32_t stream_descend(tw_search *S, uint32_t n) {
    const trie *wt = S->w->wt;
    for (;;) {
        const tnode *nd = &wt->nodes[n];
        uint32_t b = nd->best;
        if (nd->term == b) {
            if (nd->nkids) spush(S, wscore(wt, ref_best(wt, kid_refs(wt, nd)[0])), NONE, n, 0);
            return b;
        }
        if (nd->term != NONE) spush(S, wscore(wt, nd->term), nd->term, NONE, 0);
        if (nd->nkids > 1) spush(S, wscore(wt, ref_best(wt, kid_refs(wt, nd)[1])), NONE, n, 1);
        uint32_t r = kid_refs(wt, nd)[0];
        if (r & LEAF) return r & ~LEAF;
        n = r;
    }
}

/* The next word (best bound first) of the stream; the stream is not empty. */
static uint32_t stream_next(tw_search *S) {
    const trie *wt = S->w->wt;
    tw_sent e = spop(S);
    if (e.par == NONE) return e.id;
    if (e.slot == NONE) return stream_descend(S, e.par);
    const tnode *nd = &wt->nodes[e.par];
    const uint32_t *r = kid_refs(wt, nd);
    if (e.slot + 1 < nd->nkids) spush(S, wscore(wt, ref_best(wt, r[e.slot + 1])), NONE, e.par, e.slot + 1);
    if (r[e.slot] & LEAF) return r[e.slot] & ~LEAF;
    return stream_descend(S, r[e.slot]);
}

/* 1 when list x holds rank r (binary search over ranks). */
static int tw_has(const tw_word *x, uint32_t r) {
    uint32_t lo = 0, hi = x->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (x->p[mid] < r) lo = mid + 1;
        else hi = mid;
    }
    return lo < x->n && x->p[lo] == r;
}

/* The filter before a decode: rank r is in the list of every other
 * complete typed word and (when the prefix has few words) of one of the
 * prefix's words. Necessary for a match, not sufficient (repeats). */
static int tw_filter(tw_search *S, uint32_t r) {
    const tw_word *ws = S->w->w;
    for (uint32_t i = 0; i < S->ncw; i++) {
        S->scanned++;
        if (!tw_has(&ws[S->cw[i]], r)) return 0;
    }
    if (!S->npw) return 1;
    for (uint32_t i = 0; i < S->npw; i++) {
        S->scanned++;
        if (tw_has(&ws[S->pw[i]], r)) return 1;
    }
    return 0;
}

/* Examines key id (score sc) from a list: verifies it and keeps it when it
 * ranks among the best m matches so far. */
static void examine(tw_search *S, uint32_t id, double sc) {
    const tw_res *wr = res_worst(S);
    if (wr && sc < wr->s) return;
    if (S->stream) /* a key with two words of the prefix comes from two lists */
        for (uint32_t i = 0; i < S->nres; i++)
            if (S->res[S->ord[i]].id == id) return;
    char key[TRIE_MAX_KEY];
    uint32_t kl = kdecode(S->t, id, key);
    S->decoded++;
    if (wr && sc == wr->s && keycmp(key, kl, wr->key, wr->kl) > 0) return;
    const tw_req *q = S->q;
    if (kl >= q->clen && memcmp(key, q->canon, q->clen) == 0) return; /* class 0 */
    trie_words_range rg[TRIE_WORDS_MAX_TYPED];
    if (!tw_match(q, key, kl, rg)) return;
    /* insert: the slot of the worst when full, else a fresh one */
    uint32_t slot = wr ? S->ord[--S->nres] : S->nres, i = S->nres;
    tw_res *r = &S->res[slot];
    r->s = sc;
    r->id = id;
    r->kl = (uint16_t)kl;
    memcpy(r->key, key, kl);
    memcpy(r->rg, rg, (size_t)q->nw * sizeof *rg);
    while (i > 0) {
        const tw_res *p = &S->res[S->ord[i - 1]];
        if (p->s > sc || (p->s == sc && keycmp(p->key, p->kl, key, kl) < 0)) break;
        S->ord[i] = S->ord[i - 1];
        i--;
    }
    S->ord[i] = slot;
    S->nres++;
}

/* Expands word wid's tree entry (lv, idx) (lv -1: the root): bound children
 * that may still hold a better key go on the heap; ids are examined. */
static void expand(tw_search *S, uint32_t wid, int lv, uint32_t idx) {
    const tw_word *x = &S->w->w[wid];
    uint32_t off[TW_MAXLV], sz[TW_MAXLV], tot;
    int nl = tw_levels(x->cap, off, sz, &tot);
    int cl = lv < 0 ? nl - 1 : lv - 1;
    uint32_t c0 = lv < 0 ? 0 : idx << TW_FB, c1 = lv < 0 ? UINT32_MAX : c0 + TW_F;
    if (cl < 0) { /* ids: their scores and keys are cache misses, so start
                   * all of the block's at once (prefetch), then examine */
        if (c1 > x->n) c1 = x->n;
        const trie *t = S->t;
        uint32_t ids[TW_F], rks[TW_F], n = 0;
        for (uint32_t i = c0; i < c1; i++) {
            uint32_t id = S->w->rid[x->p[i]];
            if (id == NONE) continue;
            rks[n] = x->p[i];
            ids[n++] = id;
            __builtin_prefetch(&t->refs[id]);
        }
        S->scanned += c1 - c0;
        const tw_res *wr = res_worst(S);
        uint32_t m = 0;
        for (uint32_t j = 0; j < n; j++) /* score first, then the other lists */
            if ((!wr || t->refs[ids[j]].score >= wr->s) && tw_filter(S, rks[j])) {
                ids[m++] = ids[j];
                __builtin_prefetch(t->arena + t->refs[ids[j]].off);
            }
        for (uint32_t j = 0; j < m; j++) examine(S, ids[j], t->refs[ids[j]].score);
        return;
    }
    if (c1 > sz[cl]) c1 = sz[cl];
    const uint16_t *mx = tw_mx(x) + off[cl];
    const tw_res *wr = res_worst(S);
    for (uint32_t i = c0; i < c1; i++) {
        if (!mx[i]) continue;
        double v = bval(mx[i]);
        if (!wr || v >= wr->s) hpush(S, (tw_ent){v, wid, i, K_NODE, (uint8_t)cl});
    }
}

/* Class 1: up to m hits into out, best first. Best-first over bounds; the
 * search ends when no bound left on the heap reaches the worst kept match
 * (a bound EQUAL to it may hide a tie with a smaller key: it is expanded). */
static int search(tw_search *S, unsigned m, trie_words_hit *out, int *truncated) {
    const trie_words *w = S->w;
    const tw_req *q = S->q;
    int nc = q->trailing ? q->nw : q->nw - 1;
    S->m = m;
    if (nc == 0) { /* one word, a prefix: every dictionary word with it */
        if (!stream_init(S, q->w[0], q->wl[0])) return 0;
        S->stream = 1;
        hpush(S, (tw_ent){S->s[0].s, 0, 0, K_STREAM, 0});
    } else { /* the rarest complete word drives */
        uint32_t best = NONE, bn = UINT32_MAX, wids[TRIE_WORDS_MAX_TYPED];
        for (int i = 0; i < nc; i++) {
            uint32_t wid = trie_words__lookup(w->wt, q->w[i], q->wl[i]);
            if (wid == NONE) return 0;
            wids[i] = wid;
            if (w->w[wid].live < bn) bn = w->w[wid].live, best = wid;
        }
        for (int i = 0; i < nc; i++) { /* the others, each once */
            int dup = wids[i] == best;
            for (uint32_t j = 0; j < S->ncw && !dup; j++) dup = S->cw[j] == wids[i];
            if (!dup) S->cw[S->ncw++] = wids[i];
        }
        if (!q->trailing) { /* the prefix's words, when there are few */
            if (!stream_init(S, q->w[nc], q->wl[nc])) return 0;
            while (S->sn && S->npw < TW_PFX_MAX && !S->oom) S->pw[S->npw++] = stream_next(S);
            if (S->sn) S->npw = 0; /* too many: decoding checks the prefix */
            S->sn = 0;
        }
        hpush(S, (tw_ent){bval(w->w[best].top), best, 0, K_WORD, 0});
    }
    while (S->hn && !S->oom) {
        const tw_res *wr = res_worst(S);
        if (wr && S->h[0].v < wr->s) break; /* nothing left can enter */
        if (S->scanned >= TRIE_WORDS_MAX_SCAN || S->decoded >= TRIE_WORDS_MAX_DECODE) {
            *truncated = 1;
            break;
        }
        tw_ent e = hpop(S);
        if (e.kind == K_STREAM) {
            uint32_t wid = stream_next(S);
            S->scanned++;
            double v = bval(w->w[wid].top);
            if (!wr || v >= wr->s) hpush(S, (tw_ent){v, wid, 0, K_WORD, 0});
            if (S->sn) hpush(S, (tw_ent){S->s[0].s, 0, 0, K_STREAM, 0});
        } else {
            expand(S, e.a, e.kind == K_WORD ? -1 : e.lv, e.b);
        }
    }
    uint32_t n = S->nres;
    if (*truncated) /* keep only what nothing unexamined can beat */
        while (n > 0 && S->hn && S->res[S->ord[n - 1]].s <= S->h[0].v) n--;
    for (uint32_t i = 0; i < n; i++) {
        const tw_res *r = &S->res[S->ord[i]];
        fill_hit(S->t, r->id, &out[i].hit);
        out[i].cls = 1;
        out[i].nranges = (uint8_t)q->nw;
        memcpy(out[i].range, r->rg, (size_t)q->nw * sizeof *r->rg);
    }
    return (int)n;
}

int trie_words_topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned k,
                    trie_words_hit *out, int *truncated) {
    return trie_words__topk(w, t, text, len, k, out, truncated, NULL);
}

int trie_words__topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned k,
                     trie_words_hit *out, int *truncated, tw_work *work) {
    if (work) *work = (tw_work){0, 0};
    int trunc_dummy;
    if (!truncated) truncated = &trunc_dummy;
    *truncated = 0;
    if (!w || !t || !out || (len && !text) || k == 0 || k > TRIE_MAX_K) return TRIE_EINVAL;
    tw_req q;
    int rc = tw_parse(text, len, &q);
    if (rc) return rc;
    if (q.nw == 0) return 0;
    /* class 0: ordinary completions of the canonical text */
    trie_hit *h0 = qmalloc(k * sizeof *h0);
    if (!h0) return TRIE_ENOMEM;
    int n0 = trie_topk(t, q.canon, q.clen, k, h0);
    if (n0 < 0) {
        qfree(h0);
        return n0;
    }
    for (int i = 0; i < n0; i++) {
        out[i].hit = h0[i];
        out[i].cls = 0;
        out[i].nranges = (uint8_t)q.nw;
        tw_match(&q, h0[i].text, h0[i].keylen, out[i].range); /* always matches */
    }
    qfree(h0);
    if ((unsigned)n0 == k) return n0;
    tw_search S = {0};
    S.w = w;
    S.t = t;
    S.q = &q;
    unsigned m = k - (unsigned)n0;
    S.res = qmalloc(m * sizeof *S.res);
    S.ord = qmalloc(m * sizeof *S.ord);
    int n1 = S.res && S.ord ? search(&S, m, out + n0, truncated) : 0;
    if (work) *work = (tw_work){S.scanned, S.decoded};
    int oom = S.oom || !S.res || !S.ord;
    qfree(S.h);
    qfree(S.s);
    qfree(S.res);
    qfree(S.ord);
    if (oom) return TRIE_ENOMEM;
    return n0 + n1;
}

const char *trie_words_strerror(int err) {
    switch (err) {
    case TRIE_WORDS_ETOOMANY: return "too many words (over TRIE_WORDS_MAX_TYPED)";
    case TRIE_WORDS_ETOOLONG: return "text too long (over TRIE_WORDS_MAX_TEXT bytes)";
    default: return trie_strerror(err);
    }
}

/* ------------------------------------------------------------------ check */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return -1;                                                                                 \
    } while (0)

int trie_words_check(const trie_words *w, const trie *t, char *err, size_t errlen) {
    uint64_t keys = 0, post = 0;
    for (uint32_t id = 0; id < t->nids; id++) {
        if (!id_live(t, id)) continue;
        keys++;
        if (id >= w->idcap || w->rank[id] == NONE) FAIL("key id %u not indexed", id);
        if (bval(w->kb[id]) < t->refs[id].score) FAIL("key id %u: bound under its score", id);
        char key[TRIE_MAX_KEY];
        uint32_t kl = kdecode(t, id, key);
        uint16_t o[TW_MAXKW], l[TW_MAXKW];
        int n = trie_words__distinct(key, o, l, trie_words__split(key, kl, o, l));
        for (int i = 0; i < n; i++) {
            uint32_t wid = trie_words__lookup(w->wt, key + o[i], l[i]);
            if (wid == NONE) FAIL("key id %u: word '%.*s' not in the dictionary", id, l[i], key + o[i]);
            const tw_word *x = &w->w[wid];
            uint32_t pos = trie_words__find_pos(w, x, w->rank[id]);
            if (pos == NONE || w->rid[x->p[pos]] != id) FAIL("key id %u: not in the list of '%.*s'", id, l[i], key + o[i]);
            uint32_t off[TW_MAXLV], sz[TW_MAXLV], tot;
            int nl = tw_levels(x->cap, off, sz, &tot);
            for (int lv = 0; lv < nl; lv++)
                if (tw_mx(x)[off[lv] + (pos >> (TW_FB * (lv + 1)))] < w->kb[id])
                    FAIL("key id %u: tree bound of '%.*s' level %d too low", id, l[i], key + o[i], lv);
            if (x->top < w->kb[id] || wscore(w->wt, wid) != bval(x->top))
                FAIL("key id %u: word bound of '%.*s' too low", id, l[i], key + o[i]);
        }
        post += (uint64_t)n;
    }
    if (keys != w->keys) FAIL("index holds %llu keys, trie %llu", (unsigned long long)w->keys, (unsigned long long)keys);
    if (post != w->postings) FAIL("index holds %llu postings, keys have %llu", (unsigned long long)w->postings, (unsigned long long)post);
    uint64_t live = 0, words = 0;
    for (uint32_t i = 0; i < w->wcap; i++) {
        const tw_word *x = &w->w[i];
        if (!x->p) continue;
        words++;
        uint32_t nlive = 0;
        for (uint32_t j = 0; j < x->n; j++) {
            if (x->p[j] >= w->next_rank || (j && x->p[j] <= x->p[j - 1])) FAIL("word %u: list out of rank order", i);
            uint32_t id = w->rid[x->p[j]];
            if (id == NONE) continue;
            if (id >= t->nids || !id_live(t, id) || w->rank[id] != x->p[j]) FAIL("word %u lists dead id %u", i, id);
            nlive++;
        }
        if (nlive != x->live || nlive == 0) FAIL("word %u: %u live entries, count says %u", i, nlive, x->live);
        live += nlive;
    }
    if (live != w->postings) FAIL("lists hold %llu live entries, count says %llu", (unsigned long long)live, (unsigned long long)w->postings);
    if (words != trie_count(w->wt)) FAIL("%llu lists, %llu dictionary words", (unsigned long long)words, (unsigned long long)trie_count(w->wt));
    return 0;
}
