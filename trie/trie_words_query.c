/* trie_words_query.c -- top-k of the word index (trie_words_topk). The design (bounds, the best-first search and why it is
 * exact) is in trie_words.c; the semantics in trie_words.h.
 *
 * What lives here, in order:
 *   - parsing the typed text (limits first: length, then words);
 *   - the greedy matching that decides a key and gives the ranges;
 *   - a best-first cursor over the DICTIONARY trie's subtree of a prefix
 *     (like trie__topk_walk, but unbounded and one word per call: the
 *     frontier is a growable heap), which streams candidate words by bound;
 *   - the search: a heap of bound entries (STREAM / WORD / NODE) popped
 *     best first; ranks of an expanded leaf block are examined on the spot:
 *     their signatures (4 bytes a rank: the typed words' bits), then their
 *     scores, and only a key whose score can enter the sorted set of the
 *     best m matches so far (whose worst prunes the heap, ties by rank:
 *     res_beats) is decoded and matched on its bytes (trie_words__check_ranks);
 *     from a search's TW_LOOKAHEAD-th leaf block on, the heap's next entry,
 *     when a leaf block, is decoded and its records' and scores' misses
 *     started under the current block's check (expand);
 *   - class 0 (trie_topk) first, or from TW_C0_LATE_WORDS typed words
 *     class 1 first, class 0 then skipped when that search met every key
 *     holding the typed words and none of class 0 (trie_words__topk;
 *     trie_words.c, CLASS 0 LATE);
 *   - when to intersect instead (two or more distinct complete words, or
 *     the prefix's lists read as one: at most TW_PCUR_WORDS words, their
 *     entries at most TW_PCUR_RATIO times the rarest complete word's, a
 *     cursor each; or merged: at most TW_UNION_WORDS words and
 *     TW_UNION_MAX entries, at most TW_UNION_RATIO times the rarest
 *     complete word's); the one-pass intersection itself (trie_words__isect)
 *     and the merge (trie_words__union) are in trie_words_isect.c, which
 *     hands the ranks in every list back to trie_words__check_ranks here;
 *   - trie_words_fuzzy_topk: the same search, an edit class at a time,
 *     over the dictionary words trie_words_fuzzy.c lists for the last word
 *     (their lists read as one in the intersection when few: at most
 *     TW_FZCUR_WORDS words, TW_FZCUR_RATIO times the rarest complete
 *     word's entries), keys judged by their class (examine, S->fz) once
 *     their signature holds the class's words' bits (S->fzsig).
 * The index's consistency check (trie_words_check) is in trie_words_check.c.
 * The search's state (tw_search, its heap entries and kept matches) is in
 * trie_words_internal.h, shared with trie_words_isect.c.
 * Cost and limits: per request at most w->max_scan work units (TRIE_WORDS_MAX_SCAN by default)
 * (postings examined, words streamed, heap pushes, intersection steps),
 * checked before each pop or step (one pop adds at most a leaf block or a
 * dictionary path); a decode follows an examined posting, so decodes are
 * bounded by the same limit. An intersection stopped by the limit leaves
 * one heap entry bounding what it did not see (trie_words_isect.c), so it
 * ends as the best-first search does; with one complete word and the
 * prefix's cursors it hands the rest of that word's list to the
 * best-first search at 3/4 of the limit. Besides: a look-ahead of at most
 * TW_UNION_WORDS prefix words, merging at most TW_UNION_MAX entries, and
 * at most TW_PCUR_WORDS cursors (a work unit each move).
 * Scratch is allocated per request (heaps grow x2, m result slots of
 * ~600 B) and freed before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_words_internal.h"

/* ------------------------------------------------------------- the request */

struct tw_req {
    const char *w[TRIE_WORDS_MAX_TYPED];
    uint16_t wl[TRIE_WORDS_MAX_TYPED];
    int nw, trailing;
    char canon[TRIE_WORDS_MAX_TEXT + 1];
    size_t clen;
};

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

/* The words of key into o, l, as trie_words__split, finding the spaces 8
 * bytes at a time (a candidate's key is split on every check: a byte loop,
 * or memchr a word, cost more); returns how many. */
static inline int tw_split(const char *key, size_t klen, uint16_t *o, uint16_t *l) {
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full, sp = 0x2020202020202020ull;
    int n = 0;
    size_t start = 0;
    for (size_t b = 0; b < klen; b += 8) {
        uint64_t x = 0; /* zero-padded: no space past the key */
        if (klen - b >= 8) {
            memcpy(&x, key + b, 8);
        } else if (klen >= 8) { /* the last bytes: the 8 that end the key, shifted down (no byte stores) */
            memcpy(&x, key + klen - 8, 8);
            x >>= 8 * (8 - (klen - b));
        } else {
            for (size_t i = klen; i-- > b;) x = x << 8 | (uint8_t)key[i];
        }
        uint64_t y = x ^ sp;
        uint64_t m = ~(((y & lo7) + lo7) | y | lo7); /* the high bit of each byte that was a space */
        while (m) {
            size_t at = b + ((size_t)__builtin_ctzll(m) >> 3);
            if (at > start) o[n] = (uint16_t)start, l[n++] = (uint16_t)(at - start);
            start = at + 1;
            m &= m - 1;
        }
    }
    if (klen > start) o[n] = (uint16_t)start, l[n++] = (uint16_t)(klen - start);
    return n;
}

/* The greedy matching (trie_words.h): 1 and the ranges when key matches.
 * A key with no word starting with the last (prefix) word fails first: the
 * common failure of a candidate that holds the complete words. */
static int tw_match(const tw_req *q, const char *key, size_t klen, trie_words_range *rg) {
    uint16_t o[TW_MAXKW], l[TW_MAXKW];
    uint8_t used[TW_MAXKW];
    int nk = tw_split(key, klen, o, l);
    int nc = q->trailing ? q->nw : q->nw - 1;
    if (!q->trailing) {
        const char *p = q->w[q->nw - 1];
        uint16_t pl = q->wl[q->nw - 1];
        int j = 0;
        while (j < nk && (l[j] < pl || key[o[j]] != p[0] || memcmp(key + o[j], p, pl))) j++;
        if (j == nk) return 0;
    }
    memset(used, 0, (size_t)nk);
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

int trie_words_match(const char *text, size_t len, const char *key, size_t klen, trie_words_range *rg) {
    tw_req q;
    int rc = tw_parse(text, len, &q);
    if (rc < 0) return rc;
    if (!q.nw || klen > TRIE_MAX_KEY) return 0;
    return tw_match(&q, key, klen, rg) ? q.nw : 0;
}

int trie_words_match_fuzzy(const char *text, size_t len, const char *key, size_t klen, unsigned maxd, unsigned flags,
                           trie_words_range *rg, unsigned *edits) {
    tw_req q;
    int rc = tw_parse(text, len, &q);
    if (rc < 0) return rc;
    if (!q.nw || klen > TRIE_MAX_KEY) return 0;
    if (maxd > TRIE_FUZZY_MAX_EDITS) maxd = TRIE_FUZZY_MAX_EDITS;
    tw_fzq *z;
    rc = trie_words__fz_prep(&z, q.w, q.wl, q.nw, q.trailing, maxd, flags);
    if (rc == TRIE_ENOMEM) return rc;
    unsigned e = rc ? maxd + 1 : trie_words__fz_class(z, key, klen, rg);
    qfree(z);
    if (e > maxd) return 0;
    if (e == 0) tw_match(&q, key, klen, rg); /* an exact match: the ranges of trie_words_match */
    if (edits) *edits = e;
    return q.nw;
}

/* ----------------------------------------------------------------- search */

#define TW_PFX_DRIVE 64 /* prefix words that may drive a multi-word search */
#define TW_UNION_WORDS 512 /* prefix words whose lists may be merged into one (trie_words__union) */
#define TW_UNION_MAX 8192  /* ... and their entries, at most */
#define TW_UNION_RATIO 4   /* ... at most this many times the rarest complete word's */
#ifndef TW_PCUR_WORDS
#define TW_PCUR_WORDS 128 /* prefix words whose lists the intersection may read as one (<= TW_PCUR_MAX;
                           * half with two or more distinct complete words) */
#endif
#define TW_PCUR_RATIO 4 /* ... when their entries are at most this many times the rarest complete word's */
unsigned trie_words__pcur_words = TW_PCUR_WORDS;
unsigned trie_words__pcur_ratio = TW_PCUR_RATIO;
#ifndef TW_FZCUR_WORDS
#define TW_FZCUR_WORDS 128 /* words of an edit class whose lists trie_words_fuzzy_topk may read as one (<= TW_PCUR_MAX) */
#endif
#ifndef TW_FZCUR_RATIO
#define TW_FZCUR_RATIO 16 /* ... when their entries are at most this many times the rarest complete word's */
#endif
unsigned trie_words__fzcur_words = TW_FZCUR_WORDS;
unsigned trie_words__fzcur_ratio = TW_FZCUR_RATIO;
#ifndef TW_C0_LATE_WORDS
#define TW_C0_LATE_WORDS 3 /* typed words from which class 1 is searched before class 0 (trie_words__topk) */
#endif
unsigned trie_words__c0_late = TW_C0_LATE_WORDS;
#ifndef TW_LOOKAHEAD
#define TW_LOOKAHEAD 3 /* the best-first search looks one leaf block ahead from its this-many-th leaf block on
                        * (expand: a short search would pay for a block it never reads; 0: never, for tests) */
#endif
unsigned trie_words__lookahead = TW_LOOKAHEAD;

/* Dictionary cursor entry: par NONE: the single word id; slot NONE: the
 * whole subtree of node par; else child slot of par and its later siblings. */
struct tw_sent {
    double s;
    uint32_t id, par, slot;
};

/* Heap order: higher bound first; equal bounds, lower rank first (the
 * order in which ties are decided, so the first pruned ends the search). */
static inline int ent_gt(const tw_ent *a, const tw_ent *b) { return a->v > b->v || (a->v == b->v && a->r0 < b->r0); }

void trie_words__hpush(tw_search *S, tw_ent e) {
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
    while (i > 0 && ent_gt(&e, &S->h[(i - 1) / 2])) {
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
        if (r < S->hn && ent_gt(&S->h[r], &S->h[l])) m = r;
        if (!ent_gt(&S->h[m], &x)) break;
        S->h[i] = S->h[m];
        i = m;
    }
    if (S->hn) S->h[i] = x;
    return top;
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
        const tnode *nd = NODE(wt, n);
        int s = kid_find(wt, nd, (uint8_t)p[pos]);
        if (s < 0) return 0;
        uint32_t r = kid_refs(wt, nd)[s];
        if (r & LEAF) {
            uint32_t id = r & ~LEAF;
            if (!kprefix_is(wt, id, p, pl)) return 0;
            spush(S, wscore(wt, id), id, NONE, 0);
            return 1;
        }
        pos = NODE(wt, r)->depth;
        n = r;
    }
    uint32_t b = NODE(wt, n)->best;
    if (b == NONE || !kprefix_is(wt, b, p, pl)) return 0;
    spush(S, wscore(wt, b), NONE, n, NONE);
    return 1;
}

/* Descends from node n along best keys, leaving alternatives; its best word. */
static uint32_t stream_descend(tw_search *S, uint32_t n) {
    const trie *wt = S->w->wt;
    for (;;) {
        const tnode *nd = NODE(wt, n);
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
    const tnode *nd = NODE(wt, e.par);
    const uint32_t *r = kid_refs(wt, nd);
    if (e.slot + 1 < nd->nkids) spush(S, wscore(wt, ref_best(wt, r[e.slot + 1])), NONE, e.par, e.slot + 1);
    if (r[e.slot] & LEAF) return r[e.slot] & ~LEAF;
    return stream_descend(S, r[e.slot]);
}

/* Examines key id (score sc, rank rk), decoded into key[0..kl): keeps it
 * when it matches (the greedy matching of trie_words.h on its bytes), is
 * not an ordinary completion (class 0, left to trie_topk) and ranks among
 * the best m matches so far (ties by key bytes). */
static void keep(tw_search *S, const tw_res *wr, uint32_t id, uint32_t rk, double sc, const char *key, uint32_t kl,
                 const trie_words_range *rg);
static void examine(tw_search *S, uint32_t id, uint32_t rk, double sc, const char *key, uint32_t kl) {
    const tw_res *wr = res_worst(S);
    if (wr && (sc < wr->s || (sc == wr->s && keycmp(key, kl, wr->key, wr->kl) > 0))) return;
    const tw_req *q = S->q;
    trie_words_range rg[TRIE_WORDS_MAX_TYPED];
    if (S->fz) { /* trie_words_fuzzy_topk: the keys of edit class fzc */
        if (trie_words__fz_class(S->fzq, key, kl, rg) != S->fzc) return;
    } else {
        if (kl >= q->clen && memcmp(key, q->canon, q->clen) == 0) { /* class 0 */
            S->saw0 = 1;
            return;
        }
        if (!tw_match(q, key, kl, rg)) return;
    }
    keep(S, wr, id, rk, sc, key, kl, rg);
}

/* Keeps a match among the best m (wr: the worst kept when full). */
static void keep(tw_search *S, const tw_res *wr, uint32_t id, uint32_t rk, double sc, const char *key, uint32_t kl,
                 const trie_words_range *rg) {
    const tw_req *q = S->q;
    /* insert: the slot of the worst when full, else a fresh one */
    uint32_t slot = wr ? S->ord[--S->nres] : S->nres, i = S->nres;
    tw_res *r = &S->res[slot];
    r->s = sc;
    r->id = id;
    r->erank = tw_exact(S->w, id, sc) ? rk : NONE;
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

/* Checks up to TW_F ranks (a leaf block, or ranks in every complete word's
 * list) on their keys' own text in the main trie: rank -> its signature and
 * key id (rr, one record), its score (refs), and only for a key whose score
 * can still enter the best m, its bytes (the arena), decoded and matched.
 * Each stage is a cache miss per rank, so each starts all of them at once
 * (prefetch). */
static inline void check_ranks(tw_search *S, const uint32_t *rk, uint32_t nr, const uint32_t *la, uint32_t nla) {
    const trie *t = S->t;
    const trie_words *w = S->w;
    uint32_t ids[TW_F], rks[TW_F], n = 0, m = 0;
    double sc[TW_F];
    tw_sig_t sm = S->sigm;
    for (uint32_t i = 0; i < nr; i++) __builtin_prefetch(&w->rr[rk[i]]);
    for (uint32_t i = 0; i < nla; i++) __builtin_prefetch(&w->rr[la[i]]); /* (the next block's, behind these) */
    for (uint32_t i = 0; i < nr; i++) { /* signature and key id: one record, one miss */
        tw_rrec e = w->rr[rk[i]];
        if ((e.sig & sm) != sm) continue; /* a typed word's bit missing: no such word */
        if (S->fzsig && (!(e.sig & S->fzsig & 0xffffu) || !(e.sig & S->fzsig & 0xffff0000u))) continue; /* no word of the class */
        if (e.id == NONE) continue; /* a tombstone: the key was deleted */
        rks[n] = rk[i];
        ids[n++] = e.id;
        __builtin_prefetch(&t->refs[e.id]);
    }
    /* the next block's records, started right after these, have come in
     * with them: its score misses start now, for the ranks that pass the
     * signature (its key bytes are not started: measured slower) */
    for (uint32_t i = 0; i < nla; i++) {
        tw_rrec e = w->rr[la[i]];
        if ((e.sig & sm) == sm && e.id != NONE) __builtin_prefetch(&t->refs[e.id]);
    }
    const tw_res *wr = res_worst(S);
    for (uint32_t j = 0; j < n; j++) {
        double s = t->refs[ids[j]].score;
        if (wr && s < wr->s) continue; /* cannot enter: not even decoded */
        sc[m] = s;
        rks[m] = rks[j];
        ids[m++] = ids[j];
        __builtin_prefetch(t->arena + t->refs[ids[j]].off);
        __builtin_prefetch(&w->kb[ids[j]]);
    }
    for (uint32_t j = 0; j < m; j++) {
        wr = res_worst(S);
        if (wr && sc[j] < wr->s) continue;
        if (S->stream) { /* a key with two words of the prefix comes from two lists */
            int seen = 0;
            for (uint32_t i = 0; i < S->nres && !seen; i++) seen = S->res[S->ord[i]].id == ids[j];
            if (seen) continue;
        }
        char key[TRIE_MAX_KEY];
        uint32_t kl = kdecode(t, ids[j], key);
        S->decoded++;
        examine(S, ids[j], rks[j], sc[j], key, kl);
    }
}

void trie_words__check_ranks(tw_search *S, const uint32_t *rk, uint32_t nr) { check_ranks(S, rk, nr, NULL, 0); }

/* Expands word wid's tree entry (lv, idx) (lv -1: the root): bound children
 * that may still hold a better key go on the heap; ids are examined. */
static void expand(tw_search *S, uint32_t wid, int lv, uint32_t idx) {
    const tw_word *x = &S->w->w[wid];
    uint32_t off[TW_MAXLV], sz[TW_MAXLV], tot;
    int nl = tw_levels(x->cap, off, sz, &tot);
    int cl = lv < 0 ? nl - 1 : lv - 1;
    uint32_t c0 = lv < 0 ? 0 : idx << TW_FB, c1 = lv < 0 ? UINT32_MAX : c0 + TW_F;
    if (cl < 0) { /* a leaf block */
        uint32_t rk[TW_F], nr;
        if (S->la_n && S->la_wid == wid && S->la_idx == idx) { /* looked ahead at: decoded already */
            nr = S->la_n;
            memcpy(rk, S->la_rk, sizeof rk);
            S->ahead++;
        } else {
            nr = tw_block(x, idx, rk);
        }
        /* look ahead: the heap's next entry is popped next unless the
         * search ends (this block pushes nothing); when a leaf block too,
         * its ranks are decoded now and their record and score misses
         * started under this block's check (check_ranks), the misses of a
         * best-first search over a common word's list being one leaf
         * block after another -- from the search's trie_words__lookahead-th
         * leaf block on, so that the many searches that end after a block
         * or two do not start misses for a block they never read */
        S->la_n = 0;
        if (trie_words__lookahead && ++S->nleaf >= trie_words__lookahead && S->hn && S->h[0].kind == K_NODE &&
            S->h[0].lv == 0) {
            S->la_wid = S->h[0].a;
            S->la_idx = S->h[0].b;
            S->la_n = tw_block(&S->w->w[S->la_wid], S->la_idx, S->la_rk);
        }
        S->scanned += nr;
        check_ranks(S, rk, nr, S->la_rk, S->la_n);
        return;
    }
    if (c1 > sz[cl]) c1 = sz[cl];
    const uint16_t *mx = tw_mx(x) + off[cl];
    const tw_res *wr = res_worst(S);
    uint32_t nb = tw_nblk(x->n);
    for (uint32_t i = c0; i < c1; i++) {
        uint32_t blk = i << (TW_FB * cl); /* the entry's first block */
        if (!mx[i] || blk >= nb) continue;
        double v = bval(mx[i]);
        uint32_t r0 = tw_bbase(x)[blk];
        if (!res_beats(wr, v, r0)) trie_words__hpush(S, (tw_ent){v, wid, i, r0, K_NODE, (uint8_t)cl});
    }
}

static uint32_t run(tw_search *S, int *truncated);

/* Class 1: up to m hits into out, best first. Best-first over bounds; the
 * search ends when no bound left on the heap reaches the worst kept match
 * (a bound EQUAL to it may hide a tie with a smaller key: it is expanded). */
static int search(tw_search *S, unsigned m, trie_words_hit *out, int *truncated) {
    const trie_words *w = S->w;
    const tw_req *q = S->q;
    int nc = q->trailing ? q->nw : q->nw - 1;
    S->m = m;
    S->nc = nc;
    for (int i = 0; i < nc; i++) {
        if ((S->qw[i] = trie_words__lookup(w->wt, q->w[i], q->wl[i])) == NONE) return 0;
        S->sigm |= tw_sig_word(q->w[i], q->wl[i]);
    }
    if (!q->trailing) S->sigm |= tw_sig_pfx(q->w[nc], q->wl[nc]);
    if (nc == 0) { /* one word, a prefix: every dictionary word with it */
        if (!stream_init(S, q->w[0], q->wl[0])) return 0;
        S->stream = 1;
        trie_words__hpush(S, (tw_ent){S->s[0].s, 0, 0, 0, K_STREAM, 0});
    } else { /* the rarest complete word drives */
        uint32_t best = NONE, bn = UINT32_MAX, *u = NULL, un = 0, pw[TW_UNION_WORDS], npw = 0;
        int pcur = 0;
        for (int i = 0; i < nc; i++) /* (looked up above) */
            if (w->w[S->qw[i]].live < bn) bn = w->w[S->qw[i]].live, best = S->qw[i];
        if (!q->trailing) { /* a prefix no word has: nothing matches */
            if (!stream_init(S, q->w[nc], q->wl[nc])) return 0;
            /* the prefix drives instead when it has few words whose lists
             * together are shorter than the rarest complete word's */
            uint64_t plive = 0, pn = 0;
            /* every word of the prefix, when it has few and their lists
             * are not much longer than the rarest complete word's: those
             * lists are read as one in the one-pass intersection (a cursor
             * each: trie_words_isect.c), so the ranks checked on their
             * keys are those in every list, not all of one */
            unsigned pmax = trie_words__pcur_words < TW_PCUR_MAX ? trie_words__pcur_words : TW_PCUR_MAX;
            int ndist = 0; /* distinct complete words */
            for (int i = 0; i < nc; i++) {
                int dup = 0;
                for (int j = 0; j < i && !dup; j++) dup = S->qw[j] == S->qw[i];
                ndist += !dup;
            }
            if (ndist >= 2) pmax /= 2; /* (their lists filter already: half the cursors) */
            uint64_t pcap = (uint64_t)bn * trie_words__pcur_ratio;
            while (S->sn && npw < pmax && pn <= pcap && !S->oom) {
                pw[npw] = stream_next(S);
                pn += w->w[pw[npw]].n;
                plive += w->w[pw[npw++]].live;
            }
            if (npw && !S->sn && pn <= pcap && !S->oom) pcur = 1;
            for (uint32_t i = 0; i < npw && pcur; i++) /* a complete word among them: its whole list is in the union */
                for (int j = 0; j < nc && pcur; j++) pcur = pw[i] != S->qw[j];
            if (pcur && pn >= bn) /* the union not driving: a filter worth its seeks only with one complete word */
                for (int j = 1; j < nc && pcur; j++) pcur = S->qw[j] == S->qw[0];
            while (!pcur && S->sn && npw < TW_PFX_DRIVE && plive < bn && !S->oom) {
                pw[npw] = stream_next(S);
                pn += w->w[pw[npw]].n;
                plive += w->w[pw[npw++]].live;
            }
            if (pcur) {
                /* (below: trie_words__isect) */
            } else if (!S->sn && plive < bn) {
                S->stream = 1; /* a key with two words of the prefix is in two lists */
                for (uint32_t i = 0; i < npw; i++)
                    trie_words__hpush(S, (tw_ent){bval(w->w[pw[i]].top), pw[i], 0, tw_bbase(&w->w[pw[i]])[0], K_WORD, 0});
                best = NONE;
            } else { /* else the prefix's ranks, as one more list to intersect
                      * with, when its words are few and their lists short */
                uint32_t sc = S->scanned;
                uint64_t umax = (uint64_t)bn * TW_UNION_RATIO;
                if (umax > TW_UNION_MAX) umax = TW_UNION_MAX;
                while (S->sn && npw < TW_UNION_WORDS && pn <= umax && !S->oom) {
                    pw[npw] = stream_next(S);
                    pn += w->w[pw[npw++]].n;
                }
                if (!S->sn && pn <= umax && !S->oom) {
                    u = qmalloc(2 * pn * sizeof *u);
                    if (!u) S->oom = 1;
                    else un = trie_words__union(w, pw, npw, u, u + pn);
                } else {
                    S->scanned = sc; /* a look-ahead of at most TW_UNION_WORDS words */
                }
            }
            S->sn = 0;
        }
        int distinct = 0;
        for (int i = 0; i < nc; i++) {
            int dup = 0;
            for (int j = 0; j < i && !dup; j++) dup = S->qw[j] == S->qw[i];
            distinct += !dup;
        }
        if (best != NONE && !S->oom && (u || pcur || distinct >= 2)) {
            S->pcur = (uint8_t)pcur;
            trie_words__isect(S, u, un, pcur ? pw : NULL, pcur ? npw : 0); /* the lists in one pass, in rank order */
            best = NONE;
        }
        qfree(u);
        if (best != NONE) trie_words__hpush(S, (tw_ent){bval(w->w[best].top), best, 0, tw_bbase(&w->w[best])[0], K_WORD, 0});
    }
    uint32_t n = run(S, truncated);
    for (uint32_t i = 0; i < n; i++) {
        const tw_res *r = &S->res[S->ord[i]];
        fill_hit(S->t, r->id, &out[i].hit);
        out[i].cls = 1;
        out[i].edits = 0;
        out[i].nranges = (uint8_t)q->nw;
        memcpy(out[i].range, r->rg, (size_t)q->nw * sizeof *r->rg);
    }
    return (int)n;
}

/* Pops the search heap best first until nothing left can enter the best m
 * or the work limit (*truncated); the number of matches kept that nothing
 * unexamined can beat (in S->ord order). */
static uint32_t run(tw_search *S, int *truncated) {
    const trie_words *w = S->w;
    while (S->hn && !S->oom) {
        const tw_res *wr = res_worst(S);
        if (res_beats(wr, S->h[0].v, S->h[0].r0)) break; /* nothing left can enter (heap order) */
        if (S->scanned >= S->lim) {
            *truncated = 1;
            break;
        }
        tw_ent e = hpop(S);
        if (e.kind == K_STREAM) {
            uint32_t wid = stream_next(S);
            S->scanned++;
            double v = bval(w->w[wid].top);
            uint32_t r0 = tw_bbase(&w->w[wid])[0];
            if (!res_beats(wr, v, r0)) trie_words__hpush(S, (tw_ent){v, wid, 0, r0, K_WORD, 0});
            if (S->sn) trie_words__hpush(S, (tw_ent){S->s[0].s, 0, 0, 0, K_STREAM, 0});
        } else {
            expand(S, e.a, e.kind == K_WORD ? -1 : e.lv, e.b);
        }
    }
    uint32_t n = S->nres;
    if (*truncated) /* keep only what nothing unexamined can beat */
        while (n > 0 && S->hn && S->res[S->ord[n - 1]].s <= S->h[0].v) n--;
    return n;
}

int trie_words_topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned k,
                    trie_words_hit *out, int *truncated) {
    return trie_words__topk(w, t, text, len, k, out, truncated, NULL);
}

static inline int trie__c0_late_ok(int nw) { return trie_words__c0_late && (unsigned)nw >= trie_words__c0_late; }

/* Class 1: up to m hits into out (search), its work added to *work;
 * *saw0 when it examined a key of class 0; TRIE_ENOMEM. */
static int class1(const trie_words *w, const trie *t, const tw_req *q, unsigned m, trie_words_hit *out,
                   int *truncated, tw_work *work, int *saw0) {
    tw_search S = {0};
    S.w = w;
    S.lim = w->max_scan;
    S.t = t;
    S.q = q;
    S.res = qmalloc(m * sizeof *S.res);
    S.ord = qmalloc(m * sizeof *S.ord);
    int n1 = S.res && S.ord ? search(&S, m, out, truncated) : 0;
    if (work) {
        work->units = S.scanned, work->decoded = S.decoded;
        work->pcur = S.pcur, work->handoff = S.handoff, work->skewed = S.skewed;
        work->blocks = S.blocks, work->sigf = S.sigf, work->ahead = S.ahead;
    }
    *saw0 = S.saw0;
    int oom = S.oom || !S.res || !S.ord;
    qfree(S.h);
    qfree(S.s);
    qfree(S.res);
    qfree(S.ord);
    return oom ? TRIE_ENOMEM : n1;
}

int trie_words__topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned k,
                     trie_words_hit *out, int *truncated, tw_work *work) {
    if (work) *work = (tw_work){0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int trunc_dummy;
    if (!truncated) truncated = &trunc_dummy;
    *truncated = 0;
    if (!w || !t || !out || (len && !text) || k == 0 || k > TRIE_MAX_K) return TRIE_EINVAL;
    tw_req q;
    int rc = tw_parse(text, len, &q);
    if (rc) return rc;
    if (q.nw == 0) return 0;
    /* class 0: ordinary completions of the canonical text -- none when the
     * prefix filter knows no key starting with its first 8 bytes (no false
     * negatives: trie_pfx.c), so that most multi-word queries skip the
     * descent (trie_words.c, CLASS 0) */
    int pfskip = !trie__pf_has(t, q.canon, q.clen < PF_MAXLEN ? q.clen : PF_MAXLEN);
    if (work) work->pfskip = (uint8_t)pfskip;
    /* with trie_words__c0_late typed words or more, class 1 first, for all
     * k: a search that kept fewer than k and was not cut met every key
     * holding the typed words, so every key of class 0 (each holds them);
     * when it met none, class 0 is empty and that search is the answer
     * without trie_topk (trie_words.c, CLASS 0 LATE). Else class 0 is
     * found as below, and class 1's best k - n0 are the first of the best
     * k the search kept. */
    int late = !pfskip && trie__c0_late_ok(q.nw), saw0 = 0;
    int n1 = 0;
    if (late) {
        n1 = class1(w, t, &q, k, out, truncated, work, &saw0);
        if (n1 < 0) return n1;
        if (!*truncated && (unsigned)n1 < k && !saw0) {
            if (work) work->late0 = 1;
            return n1;
        }
    }
    trie_hit *h0 = pfskip ? NULL : qmalloc(k * sizeof *h0);
    if (!pfskip && !h0) return TRIE_ENOMEM;
    int n0 = pfskip ? 0 : trie_topk(t, q.canon, q.clen, k, h0);
    if (n0 < 0) {
        qfree(h0);
        return n0;
    }
    if (late && n0) { /* the best k - n0 of class 1 after class 0 (a cut search's n1 are its best) */
        unsigned keep = (unsigned)n1 < k - (unsigned)n0 ? (unsigned)n1 : k - (unsigned)n0;
        memmove(out + n0, out, keep * sizeof *out);
        if (work) work->late0 = 2;
        *truncated = *truncated && keep < k - (unsigned)n0;
        n1 = (int)keep;
    }
    for (int i = 0; i < n0; i++) {
        out[i].hit = h0[i];
        out[i].cls = 0;
        out[i].edits = 0;
        out[i].nranges = (uint8_t)q.nw;
        tw_match(&q, h0[i].text, h0[i].keylen, out[i].range); /* always matches */
    }
    qfree(h0);
    if (late || (unsigned)n0 == k) return n0 + n1;
    n1 = class1(w, t, &q, k - (unsigned)n0, out + n0, truncated, work, &saw0);
    return n1 < 0 ? n1 : n0 + n1;
}

/* ---------------------------------------------- the last word with edits */

/* The class-c entries of the walk (e[0..ne)) as the dictionary cursor,
 * and their signature bits into S->fzsig: a word's two (tw_sig_word); a
 * subtree's, those its path fixes (tw_sig_pfx: the low bit from two
 * bytes, the high from three), the half it does not fix all ones. */
static void fz_stream(tw_search *S, const tw_fzent *e, uint32_t ne, unsigned c) {
    const trie *wt = S->w->wt;
    char p[TRIE_MAX_KEY];
    S->fzsig = 0;
    for (uint32_t i = 0; i < ne && !S->oom; i++) {
        if (e[i].cls != c) continue;
        uint32_t r = e[i].ref;
        if (r & LEAF) {
            spush(S, wscore(wt, r & ~LEAF), r & ~LEAF, NONE, 0);
            S->fzsig |= tw_sig_word(p, kdecode(wt, r & ~LEAF, p));
        } else {
            spush(S, wscore(wt, NODE(wt, r)->best), NONE, r, NONE);
            uint32_t d = NODE(wt, r)->depth;
            kdecode(wt, NODE(wt, r)->best, p); /* (its first d bytes: the path) */
            S->fzsig |= tw_sig_pfx(p, d) | (d < 2 ? 0xffffu : 0) | (d < 3 ? 0xffff0000u : 0);
        }
    }
}

int trie_words_fuzzy_topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned maxd,
                          unsigned flags, unsigned k, trie_words_hit *out, int *truncated) {
    return trie_words__fuzzy_topk(w, t, text, len, maxd, flags, k, out, truncated, NULL);
}

int trie_words__fuzzy_topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned maxd,
                           unsigned flags, unsigned k, trie_words_hit *out, int *truncated, tw_work *work) {
    if (work) *work = (tw_work){0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int trunc_dummy;
    if (!truncated) truncated = &trunc_dummy;
    *truncated = 0;
    if (!w || !t || !out || (len && !text) || k == 0 || k > TRIE_MAX_K || maxd > TRIE_FUZZY_MAX_EDITS ||
        (flags & ~TRIE_FUZZY_FIRST_ANY))
        return TRIE_EINVAL;
    tw_req q;
    int rc = tw_parse(text, len, &q);
    if (rc) return rc;
    if (q.nw == 0 || maxd == 0) return 0;
    tw_search S = {0};
    S.w = w;
    S.lim = w->max_scan;
    S.t = t;
    S.q = &q;
    S.fz = 1;
    S.fzd = (uint8_t)maxd;
    int nc = q.nw - 1; /* the last typed word takes the edits, complete or not */
    S.nc = nc;
    for (int i = 0; i < nc; i++) {
        if ((S.qw[i] = trie_words__lookup(w->wt, q.w[i], q.wl[i])) == NONE) return 0;
        S.sigm |= tw_sig_word(q.w[i], q.wl[i]);
    }
    tw_fzq *z;
    rc = trie_words__fz_prep(&z, q.w, q.wl, q.nw, q.trailing, maxd, flags);
    if (rc != 0) return rc == TRIE_ENOMEM ? rc : 0;
    S.fzq = z;
    tw_fzent *e = NULL;
    uint32_t ne = 0;
    rc = trie_words__fz_words(w->wt, z, &S.scanned, S.lim, &e, &ne);
    if (rc != 0) {
        qfree(z);
        if (rc < 0) return rc;
        *truncated = 1; /* the walk alone passed the work limit: nothing found, in order */
        return 0;
    }
    uint32_t best = NONE, bn = UINT32_MAX;
    for (int i = 0; i < nc; i++)
        if (w->w[S.qw[i]].live < bn) bn = w->w[S.qw[i]].live, best = S.qw[i];
    unsigned n = 0;
    S.res = qmalloc(k * sizeof *S.res);
    S.ord = qmalloc(k * sizeof *S.ord);
    if (!S.res || !S.ord) S.oom = 1;
    for (unsigned c = 1; c <= maxd && n < k && !S.oom && !*truncated; c++) {
        S.hn = S.sn = S.nres = 0;
        S.m = k - n;
        S.fzc = (uint8_t)c;
        S.stream = 0;
        fz_stream(&S, e, ne, c);
        if (!S.sn || S.oom) continue;
        if (nc == 0) { /* the class's words, best bound first, as a one-word prefix's */
            S.stream = 1;
            trie_words__hpush(&S, (tw_ent){S.s[0].s, 0, 0, 0, K_STREAM, 0});
        } else {
            /* the class's words drive when they are few and their lists
             * together shorter than the rarest complete word's; else that
             * word's list, each key checked on its text */
            uint32_t pw[TW_PCUR_MAX], npw = 0;
            uint64_t plive = 0, pn = 0;
            while (S.sn && npw < TW_PFX_DRIVE && plive < bn && !S.oom) {
                pw[npw] = stream_next(&S);
                pn += w->w[pw[npw]].n;
                plive += w->w[pw[npw++]].live;
            }
            int wdrive = !S.sn && plive < bn;
            /* every word of the class, when they are few and their lists
             * not too long: read as one (a cursor each) in the one-pass
             * intersection with the complete words' lists, so only the
             * ranks in all of them are judged on their key -- not every
             * rank of the rarest complete word's list that can enter, nor
             * every rank of the class's lists */
            unsigned pmax = trie_words__fzcur_words < TW_PCUR_MAX ? trie_words__fzcur_words : TW_PCUR_MAX;
            uint64_t pcap = (uint64_t)bn * trie_words__fzcur_ratio;
            uint32_t sc = S.scanned;
            while (S.sn && npw < pmax && pn <= pcap && !S.oom) {
                pw[npw] = stream_next(&S);
                pn += w->w[pw[npw++]].n;
            }
            /* ... when the pass cannot pass the work limit: its steps and
             * cursor moves are at most 2 pn + 1 with the class's lists
             * driving (pn < cn); else the shortest complete list must fit
             * the best-first search whole in the work left, to which the
             * pass hands what it did not reach as soon as it would not
             * (trie_words_isect.c), so it ends as that search would */
            uint32_t cn = UINT32_MAX;
            for (int i = 0; i < nc; i++)
                if (w->w[S.qw[i]].n < cn) cn = w->w[S.qw[i]].n;
            int cur = npw && npw <= pmax && !S.sn && pn <= pcap && !S.oom &&
                      (S.scanned + (uint64_t)cn * 9 / 8 + TW_F < S.lim ||
                       (pn < cn && S.scanned + 2 * pn + TW_F < S.lim));
            for (uint32_t i = 0; i < npw && cur; i++) /* a complete word among them: its whole list is in the union */
                for (int j = 0; j < nc && cur; j++) cur = pw[i] != S.qw[j];
            S.sn = 0;
            if (cur) {
                S.pcur = 1;
                trie_words__isect(&S, NULL, 0, pw, npw);
            } else if (wdrive) {
                S.stream = 1; /* a key with two of the words is in two lists */
                for (uint32_t i = 0; i < npw; i++)
                    trie_words__hpush(&S, (tw_ent){bval(w->w[pw[i]].top), pw[i], 0, tw_bbase(&w->w[pw[i]])[0], K_WORD, 0});
            } else {
                S.scanned = sc; /* (the look-ahead past TW_PFX_DRIVE words is not charged) */
                trie_words__hpush(&S, (tw_ent){bval(w->w[best].top), best, 0, tw_bbase(&w->w[best])[0], K_WORD, 0});
            }
        }
        uint32_t got = run(&S, truncated);
        for (uint32_t i = 0; i < got && !S.oom; i++, n++) {
            const tw_res *r = &S.res[S.ord[i]];
            fill_hit(t, r->id, &out[n].hit);
            out[n].cls = 1;
            out[n].edits = (uint8_t)c;
            out[n].nranges = (uint8_t)q.nw;
            memcpy(out[n].range, r->rg, (size_t)q.nw * sizeof *r->rg);
        }
    }
    if (work) *work = (tw_work){S.scanned, S.decoded, S.pcur, S.handoff, S.skewed, S.blocks, S.sigf, 0, 0, S.ahead};
    qfree(e);
    qfree(z);
    qfree(S.h);
    qfree(S.s);
    qfree(S.res);
    qfree(S.ord);
    return S.oom ? TRIE_ENOMEM : (int)n;
}

const char *trie_words_strerror(int err) {
    switch (err) {
    case TRIE_WORDS_ETOOMANY: return "too many words (over TRIE_WORDS_MAX_TYPED)";
    case TRIE_WORDS_ETOOLONG: return "text too long (over TRIE_WORDS_MAX_TEXT bytes)";
    default: return trie_strerror(err);
    }
}
