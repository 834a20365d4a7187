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
 * The walk is a depth-first search over the dictionary trie (path bytes
 * are those of each node's best word, which spells its path) carrying the
 * OSA rows of L against the path's characters, cells capped at maxd + 1,
 * as trie_fuzzy.c's walk does (without its probes and plans: a dictionary
 * is small next to the keys). With L a prefix, it keeps best = the least
 * D(j) = row j's last cell over the boundaries passed; once the row's
 * minimum is >= best (row minima never decrease: trie_fuzzy.c), every word
 * below has class best and the whole subtree is one entry (a CUT, read by
 * the search as the one-word prefix query reads a prefix's subtree: best
 * bound first); a word that ends on the way has class best. With L
 * complete, nothing is cut: a subtree dies when its row's minimum passes
 * maxd, and a word's class is its last row's last cell. Class-0 words and
 * cuts (W starts with L, or equals it) are not listed: their keys are the
 * exact INFIX matches. Nothing caps how many words or subtrees are listed;
 * the walk costs a work unit a byte fed and a child looked at, under the
 * caller's limit (TRIE_WORDS_MAX_SCAN with the search's own units).
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
 * stands for (trie_fuzzy_dist's matchlen; all of W with a trailing space).
 */
#include "common/alloc.h"
#include "trie/trie_fuzzy.h"
#include "trie/trie_words_internal.h"

/* Bytes of the character whose first byte is b: trie_fuzzy.h's rule. */
static inline unsigned twf_clen(uint8_t b) {
    if (b < 0xC0) return 1;
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 3;
    if (b < 0xF8) return 4;
    return 1;
}

/* s split into characters (values as trie_fuzzy packs them: the bytes,
 * little-endian); an incomplete last character is cut. Returns how many;
 * *used the bytes they take. */
static int twf_chars(const char *s, size_t len, uint32_t *c, size_t *used) {
    int n = 0;
    size_t i = 0;
    while (i < len) {
        unsigned l = twf_clen((uint8_t)s[i]);
        if (i + l > len) break;
        uint32_t v = 0;
        for (unsigned b = 0; b < l; b++) v |= (uint32_t)(uint8_t)s[i + b] << (8 * b);
        c[n++] = v;
        i += l;
    }
    if (used) *used = i;
    return n;
}

/* 0, or -1 when L has no character (nothing matches). */
static int twf_pat_init(twf_pat *p, const char *L, size_t ll, unsigned d, unsigned flags, int whole) {
    uint32_t c[TWF_MAXC];
    size_t used;
    if (ll > TRIE_MAX_KEY) return -1;
    int n = twf_chars(L, ll, c, &used);
    if (n == 0) return -1;
    p->flen = 0;
    int s = 0;
    if (!(flags & TRIE_FUZZY_FIRST_ANY)) {
        p->flen = twf_clen((uint8_t)L[0]);
        memcpy(p->first, L, p->flen);
        s = 1;
    }
    p->m = n - s;
    memcpy(p->c, c + s, (size_t)p->m * sizeof *c);
    p->d = d;
    p->inf = d + 1;
    p->whole = whole;
    return 0;
}

static inline uint8_t twf_min(unsigned a, unsigned b) { return (uint8_t)(a < b ? a : b); }

/* Row j (r) of the capped OSA matrix from rows j-1 (pr) and j-2 (pp), key
 * characters k (the j-th) and kp (the (j-1)-th); returns the row's minimum. */
static uint8_t twf_row(const twf_pat *p, uint8_t *r, const uint8_t *pr, const uint8_t *pp, uint32_t k, uint32_t kp,
                       unsigned j) {
    uint8_t mn = r[0] = twf_min(pr[0] + 1u, p->inf);
    for (int i = 1; i <= p->m; i++) {
        unsigned v = pr[i] + 1u;
        if (r[i - 1] + 1u < v) v = r[i - 1] + 1u;
        if (pr[i - 1] + (unsigned)(p->c[i - 1] != k) < v) v = pr[i - 1] + (unsigned)(p->c[i - 1] != k);
        if (i > 1 && j > 1 && p->c[i - 1] == kp && p->c[i - 2] == k && pp[i - 2] + 1u < v) v = pp[i - 2] + 1u;
        r[i] = twf_min(v, p->inf);
        if (r[i] < mn) mn = r[i];
    }
    return mn;
}

static void twf_row0(const twf_pat *p, uint8_t *r) {
    for (int i = 0; i <= p->m; i++) r[i] = twf_min((unsigned)i, p->inf);
}

/* Full OSA distance of L (the pattern p, whole) and W (the first character
 * exact unless FIRST_ANY), or d + 1 when over d. */
static unsigned twf_full(const twf_pat *p, const char *W, size_t wl) {
    unsigned maxd = p->d;
    uint32_t k[TWF_MAXC];
    size_t s = 0;
    if (p->flen) {
        if (wl < p->flen || memcmp(W, p->first, p->flen)) return maxd + 1;
        s = p->flen;
    }
    int n = twf_chars(W + s, wl - s, k, NULL);
    if (n > p->m + (int)maxd || p->m > n + (int)maxd) return maxd + 1;
    uint8_t rows[3][TWF_MAXC + 1];
    twf_row0(p, rows[0]);
    for (int j = 1; j <= n; j++) {
        uint8_t mn = twf_row(p, rows[j % 3], rows[(j + 2) % 3], rows[(j + 1) % 3], k[j - 1], j > 1 ? k[j - 2] : 0,
                             (unsigned)j);
        if (mn > maxd) return maxd + 1;
    }
    unsigned v = rows[n % 3][p->m];
    return v <= maxd ? v : maxd + 1;
}

/* The class of W for L a prefix (p): the least OSA distance of L to a
 * character-boundary prefix of W, the first character exact unless
 * FIRST_ANY -- trie_fuzzy_dist's, with the pattern made once a request --
 * and in *ml the bytes of the shortest such prefix; d + 1 when over d. */
static unsigned twf_prefix(const twf_pat *p, const char *W, size_t wl, size_t *ml) {
    size_t pos = 0;
    if (p->flen) {
        if (wl < p->flen || memcmp(W, p->first, p->flen)) return p->d + 1;
        pos = p->flen;
    }
    uint8_t rows[3][TWF_MAXC + 1];
    twf_row0(p, rows[0]);
    unsigned best = twf_min((unsigned)p->m, p->inf), j = 0;
    size_t bestlen = pos;
    uint32_t kp = 0;
    while (best > 0 && pos < wl) {
        unsigned l = twf_clen((uint8_t)W[pos]);
        if (pos + l > wl) break; /* W ends inside a character */
        uint32_t kc = 0;
        for (unsigned b = 0; b < l; b++) kc |= (uint32_t)(uint8_t)W[pos + b] << (8 * b);
        pos += l;
        j++;
        uint8_t *r = rows[j % 3];
        uint8_t mn = twf_row(p, r, rows[(j + 2) % 3], rows[(j + 1) % 3], kc, kp, j);
        kp = kc;
        if (r[p->m] < best) best = r[p->m], bestlen = pos;
        if (mn >= best) break; /* nothing longer gets below best */
    }
    if (best > p->d) return p->d + 1;
    *ml = bestlen;
    return best;
}

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
    const twf_pat *p;
    uint8_t *rows; /* (maxj + 1) rows of m + 1 cells */
    uint32_t *kch; /* the path's characters, by j (1-based) */
    uint32_t maxj;
    char path[TRIE_MAX_KEY]; /* the path's bytes (each ref's best word, decoded over it) */
    tw_fzent *e;
    uint32_t n, cap;
    uint32_t *work, limit;
    int over, oom;
} twf_walk;

enum { TWF_GO, TWF_CUT, TWF_DEAD };

static void twf_start(twf_walk *W, twf_st *s) {
    s->started = 1;
    s->j = 0;
    twf_row0(W->p, W->rows);
    s->best = W->p->whole ? (uint8_t)W->p->inf : twf_min((unsigned)W->p->m, W->p->inf);
}

/* Feeds the path's next byte b. */
static int twf_byte(twf_walk *W, twf_st *s, uint8_t b) {
    const twf_pat *p = W->p;
    if (!s->started) {
        if (b != p->first[s->fpos]) return TWF_DEAD;
        if (++s->fpos == p->flen) {
            twf_start(W, s);
            if (!p->whole && s->best == 0) return TWF_DEAD; /* every word below starts with L: class 0 */
        }
        return TWF_GO;
    }
    if (s->need == 0) {
        s->need = (uint8_t)twf_clen(b);
        s->have = 0;
        s->pc = 0;
    }
    s->pc |= (uint32_t)b << (8 * s->have++);
    if (s->have < s->need) return TWF_GO;
    s->need = 0;
    unsigned j = ++s->j;
    if (j > W->maxj) return TWF_DEAD; /* cannot happen: rows past m + maxd + 1 are dead (their minimum >= j - m) */
    uint32_t rl = (uint32_t)p->m + 1;
    W->kch[j] = s->pc;
    uint8_t *r = W->rows + (size_t)j * rl;
    uint8_t mn = twf_row(p, r, r - rl, j > 1 ? r - 2 * rl : r, s->pc, j > 1 ? W->kch[j - 1] : 0, j);
    if (p->whole) return mn > p->d ? TWF_DEAD : TWF_GO;
    if (r[p->m] < s->best) s->best = r[p->m];
    if (mn >= s->best) return s->best <= p->d ? TWF_CUT : TWF_DEAD;
    return TWF_GO;
}

static void twf_add(twf_walk *W, uint32_t ref, unsigned cls) {
    if (cls == 0 || cls > W->p->d) return;
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
    const twf_pat *p = W->p;
    if (p->whole) {
        if (s->need) return; /* ends inside a character (not from normalized text) */
        twf_add(W, LEAF | id, W->rows[(size_t)s->j * ((uint32_t)p->m + 1) + (uint32_t)p->m]);
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
    uint32_t to = ref & LEAF ? 0 : wt->nodes[ref].depth, kl = to;
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
    const tnode *nd = &wt->nodes[ref];
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

int trie_words__fz_words(const trie *wt, const twf_pat *p, uint32_t *work, uint32_t limit, tw_fzent **out,
                         uint32_t *nout) {
    *out = NULL;
    *nout = 0;
    if (wt->nodes[0].best == NONE) return 0;
    unsigned maxd = p->d;
    twf_walk W = {0};
    W.wt = wt;
    W.p = p;
    W.maxj = (uint32_t)p->m + maxd + 2;
    W.rows = qmalloc((size_t)(W.maxj + 1) * ((size_t)p->m + 1));
    W.kch = qmalloc((size_t)(W.maxj + 1) * sizeof *W.kch);
    W.work = work;
    W.limit = limit;
    int rc = 0;
    if (!W.rows || !W.kch) {
        rc = TRIE_ENOMEM;
    } else {
        twf_st s = {0};
        int dead = 0;
        if (p->flen == 0) {
            twf_start(&W, &s);
            dead = !p->whole && s.best == 0;
        }
        const tnode *root = &wt->nodes[0];
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
    if (rc != 0) {
        qfree(W.e);
        return rc;
    }
    *out = W.e;
    *nout = W.n;
    return 0;
}

/* ------------------------------------------------------- the class of a key */

int trie_words__fz_prep(tw_fzq *z, const char *const *w, const uint16_t *wl, int nw, int trailing, unsigned maxd,
                        unsigned flags) {
    z->w = w;
    z->wl = wl;
    z->nw = nw;
    z->nd = 0;
    if (nw < 1 || twf_pat_init(&z->p, w[nw - 1], wl[nw - 1], maxd, flags, trailing)) return -1;
    for (int i = 0; i + 1 < nw; i++) { /* the distinct complete words, and how many times each was typed */
        int x = 0;
        while (x < z->nd && (wl[z->rep[x]] != wl[i] || memcmp(w[z->rep[x]], w[i], wl[i]))) x++;
        if (x == z->nd) z->rep[z->nd] = i, z->need[z->nd++] = 0;
        z->need[x]++;
    }
    return 0;
}

unsigned trie_words__fz_class(const tw_fzq *z, const char *key, size_t klen, trie_words_range *rg) {
    uint16_t o[TW_MAXKW], l[TW_MAXKW];
    int8_t eqc[TW_MAXKW];
    int nk = trie_words__split(key, klen, o, l);
    const char *const *w = z->w;
    const uint16_t *wl = z->wl;
    int nc = z->nw - 1, nd = z->nd, cnt[TRIE_WORDS_MAX_TYPED] = {0};
    unsigned maxd = z->p.d;
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
        size_t ml = l[j];
        unsigned e = z->p.whole ? twf_full(&z->p, key + o[j], l[j]) : twf_prefix(&z->p, key + o[j], l[j], &ml);
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
