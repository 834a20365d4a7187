/* trie_words_fuzzy.c -- the last typed word with edits (COMPLETE ... INFIX
 * FUZZY: trie_words_fuzzy_topk, trie_words.h has the rule): which
 * dictionary words the last word may stand for, and the edit class of one
 * key. The search that reads those words' posting lists is the best-first
 * search of trie_words_query.c (trie_words_fuzzy_topk is there).
 *
 * THE DICTIONARY WALK (trie_words__fz_words)
 * ------------------------------------------
 * A key of class e holds a word W, not taken by the complete typed words,
 * within e edits of the last typed word L: with L a prefix (no trailing
 * space), OSA(L, some character-boundary prefix of W) = e, the first
 * character exact unless TRIE_FUZZY_FIRST_ANY (trie_fuzzy.h: the distance
 * FUZZY uses, trie_fuzzy_dist); with L complete (a trailing space), the
 * full OSA distance of L and W, under the same first-character rule. So
 * every key of class e is in the posting list of a dictionary word of
 * class e, and the search for class e reads exactly those lists.
 *
 * ONE DISTANCE: L is trie_fuzzy's pattern (fz_pat, trie__fz_pat_init:
 * the exact first character, then the characters the rows run over), the
 * walk's rows are trie_fuzzy's banded rows (fz_row0, fz_dm, and the row
 * automaton's step fz_astep, fz_row without one: trie_fuzzy_internal.h,
 * which this file includes, both being trie/ internals; the automaton
 * against fz_row, 3 pairs at 1M: the last-word search's median 0.91) and
 * a key word's class is trie__fz_dist_pat's, the function behind
 * trie_fuzzy_dist (trie_fuzzy_dp.c): what INFIX FUZZY counts as an edit
 * is what FUZZY counts, by construction. The band (cells within maxd
 * of the diagonal; trie_fuzzy.c) is exact here too: every value is capped
 * at maxd + 1, and a cell outside the band is at least maxd + 1.
 *
 * The walk is a depth-first search over the dictionary trie (path bytes
 * are those of each node's best word, which spells its path) carrying the
 * OSA rows of L against the path's characters, cells capped at maxd + 1,
 * as trie_fuzzy.c's walk does (without its probes and plans: a
 * dictionary is small next to the keys). With L a prefix, it keeps best
 * = the least D(j) = row j's cell of all of L (fz_dm) over the
 * boundaries passed; once the row's
 * minimum is >= best (row minima never decrease: trie_fuzzy.c), every word
 * below has class best and the whole subtree is one entry (a CUT, read by
 * the search as the one-word prefix query reads a prefix's subtree: best
 * bound first); a word that ends on the way has class best. With L
 * complete, nothing is cut: a subtree dies when its row's minimum passes
 * maxd, and a word's class is its last row's D (fz_dm). Class-0 words and
 * cuts (W starts with L, or equals it) are not listed: their keys are the
 * exact INFIX matches. Nothing caps how many words or subtrees are listed;
 * the walk costs a work unit a byte fed and a child looked at, under the
 * caller's limit (the index's max_scan, with the search's own units).
 * Tried and not kept (branch infixfz4; 10M, bench_words' 7,170 last-word
 * searches): per walk 167 nodes and 94 leaves entered, 1,025 children
 * looked at, 109 words decoded, ~28 µs (rdtsc), mostly misses (perf: the
 * node, its child block, a leaf's record and text). Stepping a longer
 * edge's second byte from its node (e2, struct tnode: decodes of nodes'
 * edges 15 -> 1 a walk) and judging a frame's children first, prefetching
 * the survivors' records and then their blocks or texts before walking
 * them: the walk 0.89 of its cycles (3 pairs: 0.76, 0.96, 0.89), the
 * last-word search's median 0.95 and p99 0.98, the request's median and
 * CPU 1.00 -- ~90 lines for nothing a request shows. Judging a node's
 * children whose byte equals no typed character by one step (785 of the
 * 1,025 are such): the walk 1.01 (one table look-up a child is cheap).
 *
 * THE CLASS OF A KEY (trie_words__fz_class)
 * -----------------------------------------
 * Every typed word but the last equals a distinct key word; the last takes
 * another one, W at position j, with the fewest edits: j is allowed when,
 * without it, the key still holds each complete typed word as many times
 * as it was typed (equality makes the assignment a count). The class is
 * the least edit count over the allowed positions (0 when the key is an
 * exact INFIX match), the position reported the first with it; the
 * complete words' ranges are then the greedy ones of trie_words.h with j
 * left out, and the last word's range is W's start and the bytes of W it
 * stands for (trie__fz_dist_pat's matchlen; all of W with a trailing
 * space).
 */
#include "common/alloc.h"
#include "trie/trie_fuzzy_internal.h" /* trie_fuzzy's pattern, rows and distance (both trie/ internals) */
#include "trie/trie_words_internal.h"

/* A request's typed words, ready for trie_words__fz_class and the walk:
 * the last one as trie_fuzzy's pattern (its characters after the exact
 * first one, all of them under TRIE_FUZZY_FIRST_ANY; the edits allowed,
 * z.B), the distinct complete ones (a typed word of each, rep) and how
 * many times each was typed. */
struct tw_fzq {
    fz_pat z;
    const char *L; /* the last typed word's bytes (z.elen of them: the exact first character) */
    int whole;     /* the last word is complete (a trailing space) */
    const char *const *w;
    const uint16_t *wl;
    int nw, nd;
    int rep[TRIE_WORDS_MAX_TYPED], need[TRIE_WORDS_MAX_TYPED];
};

/* ------------------------------------------------------- the dictionary walk */

typedef struct twf_st {
    uint16_t j;      /* characters of the path past the first one (rows[j] is the path's row) */
    uint8_t fpos;    /* bytes of the exact first character matched so far */
    uint8_t started; /* the first character is passed: rows run */
    uint8_t best;    /* least D over the boundaries passed (L a prefix) */
    uint8_t need, have;
    uint32_t pc; /* the pending character's bytes */
} twf_st;

typedef struct twf_walk {
    const trie *wt;
    const tw_fzq *q;
    const fz_pat *z;
    uint8_t (*rows)[FZ_RB]; /* maxj + 1 banded rows (trie_fuzzy's) */
    uint8_t *sid;           /* rows[j]'s automaton state (fz_astep), when z->au */
    uint32_t *kch;          /* the path's characters, by j (1-based) */
    uint32_t maxj;
    char path[TRIE_MAX_KEY]; /* the path's bytes (each ref's best word, decoded over it) */
    tw_fzent *e;
    uint32_t n, cap;
    uint32_t *work, limit;
    int over, oom;
} twf_walk;

enum { TWF_GO, TWF_CUT, TWF_DEAD };

static void twf_start(twf_walk *W, twf_st *s) {
    const fz_pat *z = W->z;
    s->started = 1;
    s->j = 0;
    fz_row0(z, W->rows[0]);
    W->sid[0] = FZ_ASTART;
    s->best = W->q->whole ? z->inf : z->m <= z->B ? (uint8_t)z->m : z->inf;
}

/* Feeds the path's next byte b. */
static int twf_byte(twf_walk *W, twf_st *s, uint8_t b) {
    const fz_pat *z = W->z;
    if (!s->started) {
        if (b != (uint8_t)W->q->L[s->fpos]) return TWF_DEAD;
        if (++s->fpos == z->elen) {
            twf_start(W, s);
            if (!W->q->whole && s->best == 0) return TWF_DEAD; /* every word below starts with L: class 0 */
        }
        return TWF_GO;
    }
    if (s->need == 0) {
        s->need = (uint8_t)fz_clen(b);
        s->have = 0;
        s->pc = 0;
    }
    s->pc |= (uint32_t)b << (8 * s->have++);
    if (s->have < s->need) return TWF_GO;
    s->need = 0;
    unsigned j = ++s->j;
    if (j > W->maxj) return TWF_DEAD; /* cannot happen: row m + B + 1 is all inf (no cell in the band) */
    W->kch[j] = s->pc;
    uint8_t mn = z->au ? fz_astep(z, W->rows[j], W->sid, s->pc, j)
                       : fz_row(z, W->rows[j], W->rows[j - 1], W->rows[j > 1 ? j - 2 : 0], s->pc,
                                j > 1 ? W->kch[j - 1] : 0, j);
    if (W->q->whole) return mn > z->B ? TWF_DEAD : TWF_GO;
    uint8_t d = fz_dm(z, W->rows[j], j);
    if (d < s->best) s->best = d;
    if (mn >= s->best) return s->best <= z->B ? TWF_CUT : TWF_DEAD;
    return TWF_GO;
}

static void twf_add(twf_walk *W, uint32_t ref, unsigned cls) {
    if (cls == 0 || cls > W->z->B) return;
    if (W->n == W->cap) {
        uint32_t nc = W->cap ? W->cap * 2 : 64;
        tw_fzent *x = qrealloc(W->e, nc * sizeof *x);
        if (!x) {
            W->oom = 1;
            return;
        }
        W->e = x;
        W->cap = nc;
    }
    W->e[W->n++] = (tw_fzent){ref, (uint8_t)cls};
}

/* A word ends here (with the path's state s). */
static void twf_end(twf_walk *W, const twf_st *s, uint32_t id) {
    if (!s->started) return; /* shorter than L's first character */
    if (W->q->whole) {
        if (s->need) return; /* ends inside a character (not from normalized text) */
        twf_add(W, LEAF | id, fz_dm(W->z, W->rows[s->j], s->j)); /* D(m) of its last row */
    } else {
        twf_add(W, LEAF | id, s->best);
    }
}

/* The subtree of ref (a node, or LEAF | word id), the path's first `from`
 * bytes fed (state s). */
static void twf_ref(twf_walk *W, uint32_t ref, twf_st s, uint32_t from) {
    const trie *wt = W->wt;
    if (*W->work > W->limit) W->over = 1;
    if (W->over || W->oom) return;
    uint32_t id = ref_best(wt, ref);
    const char *key = W->path;
    uint32_t to = ref & LEAF ? 0 : NODE(wt, ref)->depth, kl = to;
    if (from < to || (ref & LEAF)) /* the best word spells the path (bytes before from: the same) */
        kl = kdecode(wt, id, W->path);
    if (ref & LEAF) to = kl;
    for (uint32_t pos = from; pos < to; pos++) {
        if (++*W->work > W->limit) {
            W->over = 1;
            return;
        }
        int a = twf_byte(W, &s, (uint8_t)key[pos]);
        if (a == TWF_DEAD) return;
        if (a == TWF_CUT) {
            twf_add(W, ref, s.best);
            return;
        }
    }
    if (ref & LEAF) {
        twf_end(W, &s, id);
        return;
    }
    const tnode *nd = NODE(wt, ref);
    if (nd->term != NONE) twf_end(W, &s, nd->term);
    const uint8_t *kb = kid_bytes(wt, nd);
    for (uint32_t k = 0; k < nd->nkids; k++) {
        /* a child's first byte first: most die there, their words never decoded */
        ++*W->work;
        twf_st c = s;
        uint32_t r = kid_refs(wt, nd)[k];
        int a = twf_byte(W, &c, kb[k]);
        if (a == TWF_CUT) twf_add(W, r, c.best);
        else if (a == TWF_GO) twf_ref(W, r, c, to + 1);
    }
}

int trie_words__fz_words(const trie *wt, const tw_fzq *q, uint32_t *work, uint32_t limit, tw_fzent **out,
                         uint32_t *nout) {
    *out = NULL;
    *nout = 0;
    if (NODE(wt, 0)->best == NONE) return 0;
    const fz_pat *z = &q->z;
    twf_walk W = {0};
    W.wt = wt;
    W.q = q;
    W.z = z;
    W.maxj = z->m + z->B + 2;
    W.rows = qmalloc((size_t)(W.maxj + 1) * sizeof *W.rows);
    W.kch = qmalloc((size_t)(W.maxj + 1) * sizeof *W.kch);
    W.sid = qmalloc(W.maxj + 1);
    W.work = work;
    W.limit = limit;
    int rc = 0;
    if (!W.rows || !W.kch || !W.sid) {
        rc = TRIE_ENOMEM;
    } else {
        twf_st s = {0};
        int dead = 0;
        if (z->elen == 0) {
            twf_start(&W, &s);
            dead = !q->whole && s.best == 0;
        }
        const tnode *root = NODE(wt, 0);
        if (!dead && root->term != NONE) twf_end(&W, &s, root->term);
        for (uint32_t k = 0; !dead && k < root->nkids; k++) {
            ++*W.work;
            twf_st c = s;
            uint32_t r = kid_refs(wt, root)[k];
            int a = twf_byte(&W, &c, kid_bytes(wt, root)[k]); /* the first character exact: only its child */
            if (a == TWF_CUT) twf_add(&W, r, c.best);
            else if (a == TWF_GO) twf_ref(&W, r, c, 1);
        }
        if (W.oom) rc = TRIE_ENOMEM;
        else if (W.over) rc = 1;
    }
    qfree(W.rows);
    qfree(W.kch);
    qfree(W.sid);
    if (rc != 0) {
        qfree(W.e);
        return rc;
    }
    *out = W.e;
    *nout = W.n;
    return 0;
}

/* ------------------------------------------------------- the class of a key */

int trie_words__fz_prep(tw_fzq **out, const char *const *w, const uint16_t *wl, int nw, int trailing,
                        unsigned maxd, unsigned flags) {
    *out = NULL;
    if (nw < 1 || wl[nw - 1] > TRIE_MAX_KEY) return -1;
    tw_fzq *z = qmalloc(sizeof *z);
    if (!z) return TRIE_ENOMEM;
    if (trie__fz_pat_init(&z->z, w[nw - 1], wl[nw - 1], maxd, flags) || z->z.plen == 0) { /* no character */
        qfree(z);
        return -1;
    }
    z->L = w[nw - 1];
    z->whole = trailing;
    z->w = w;
    z->wl = wl;
    z->nw = nw;
    z->nd = 0;
    for (int i = 0; i + 1 < nw; i++) { /* the distinct complete words, and how many times each was typed */
        int x = 0;
        while (x < z->nd && (wl[z->rep[x]] != wl[i] || memcmp(w[z->rep[x]], w[i], wl[i]))) x++;
        if (x == z->nd) z->rep[z->nd] = i, z->need[z->nd++] = 0;
        z->need[x]++;
    }
    *out = z;
    return 0;
}

unsigned trie_words__fz_class(const tw_fzq *z, const char *key, size_t klen, trie_words_range *rg) {
    uint16_t o[TW_MAXKW], l[TW_MAXKW];
    int8_t eqc[TW_MAXKW];
    int nk = trie_words__split(key, klen, o, l);
    const char *const *w = z->w;
    const uint16_t *wl = z->wl;
    int nc = z->nw - 1, nd = z->nd, cnt[TRIE_WORDS_MAX_TYPED] = {0};
    unsigned maxd = z->z.B;
    for (int j = 0; j < nk; j++) {
        eqc[j] = -1;
        for (int x = 0; x < nd; x++)
            if (l[j] == wl[z->rep[x]] && !memcmp(key + o[j], w[z->rep[x]], l[j])) {
                eqc[j] = (int8_t)x;
                cnt[x]++;
                break;
            }
    }
    for (int x = 0; x < nd; x++)
        if (cnt[x] < z->need[x]) return maxd + 1;
    unsigned best = maxd + 1;
    int bj = -1;
    size_t bml = 0;
    for (int j = 0; j < nk && best > 0; j++) {
        if (eqc[j] >= 0 && cnt[eqc[j]] == z->need[eqc[j]]) continue; /* the complete words need it */
        size_t ml = l[j]; /* with a trailing space, all of W */
        unsigned e = trie__fz_dist_pat(&z->z, z->L, key + o[j], l[j], z->whole, z->whole ? NULL : &ml);
        if (e < best) best = e, bj = j, bml = ml;
    }
    if (bj < 0) return maxd + 1;
    if (rg) {
        uint8_t used[TW_MAXKW] = {0};
        used[bj] = 1;
        for (int i = 0; i < nc; i++) {
            int j = 0;
            while (used[j] || l[j] != wl[i] || memcmp(key + o[j], w[i], l[j])) j++; /* (there is one: counted) */
            used[j] = 1;
            rg[i] = (trie_words_range){o[j], wl[i]};
        }
        rg[nc] = (trie_words_range){o[bj], (uint16_t)bml};
    }
    return best;
}
