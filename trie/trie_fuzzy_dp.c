/* trie_fuzzy_dp.c -- the typed prefix split into characters, and the edit
 * class of one key (trie_fuzzy_dist, the brute-force reference the tests
 * compare the walk against; trie__fz_dist_pat, the same for a prepared
 * pattern, which trie_words_fuzzy.c also calls, with the full distance),
 * and AUTO's edits for a text (trie_fuzzy_auto_edits).
 * The DP itself (banded OSA rows, fz_row) is in trie_fuzzy_internal.h;
 * what it computes and why: trie_fuzzy.c. */
#include "trie/trie_fuzzy_internal.h"

#include <pthread.h>

#include "common/util.h"

/* THE ROW AUTOMATON (trie_fuzzy_internal.h): states are (row, T) pairs,
 * kept as the bytes R[0..W) and T[0..W), W = 2B+1. */
typedef struct fz_ast {
    uint8_t r[FZ_W], t[FZ_W];
} fz_ast;

/* The banded step on the padded pattern: input bit u is "c[j-B-2+u] equals
 * the key character" for the new row j (fz_astep). */
static void fz_ast_step(unsigned B, const fz_ast *s, unsigned in, fz_ast *o) {
    const unsigned W = 2 * B + 1, inf = B + 1;
    unsigned v[FZ_W];
    for (unsigned t = 0; t < W; t++) {
        unsigned x = s->r[t] + !(in >> (t + 1) & 1);           /* (i-1, j-1): substitution or match */
        unsigned y = (t + 1 < W ? s->r[t + 1] : inf) + 1u;     /* (i, j-1) + 1 */
        if (y < x) x = y;
        if ((in >> t & 1) && s->t[t] < x) x = s->t[t];       /* transposition: c[i-2] == K[j-1] */
        if (t > 0 && v[t - 1] + 1 < x) x = v[t - 1] + 1;     /* (i-1, j) + 1 */
        v[t] = x;
    }
    for (unsigned t = 0; t < W; t++) {
        o->r[t] = (uint8_t)(v[t] < inf ? v[t] : inf);
        unsigned tt = s->r[t] + 1u; /* for row j+1: (i-2, j-1) + 1 where c[i-1] == K[j-1] */
        o->t[t] = (uint8_t)((in >> (t + 2) & 1) && tt < inf ? tt : inf);
    }
}

static fz_auto fz_autos[TRIE_FUZZY_MAX_EDITS]; /* [B - 1] */
static int fz_auto_ok[TRIE_FUZZY_MAX_EDITS];
static pthread_once_t fz_auto_once = PTHREAD_ONCE_INIT;

static void fz_auto_build(void) {
    static fz_ast st[FZ_ASTATES];
    for (unsigned B = 1; B <= TRIE_FUZZY_MAX_EDITS; B++) {
        fz_auto *a = &fz_autos[B - 1];
        const unsigned W = 2 * B + 1, inf = B + 1;
        a->nb = 2 * B + 3;
        memset(&st[0], 0, sizeof st[0]);
        for (unsigned t = 0; t < W; t++) { /* row 0: cell (i, 0) = i; T: none */
            int i = (int)t - (int)B;
            st[0].r[t] = (uint8_t)(i < 0 ? inf : (unsigned)i);
            st[0].t[t] = (uint8_t)inf;
        }
        unsigned n = 1, ok = 1;
        for (unsigned h = 0; h < n && ok; h++) {
            uint64_t row = 0x0101010101010101ull * inf;
            unsigned mn = inf;
            for (unsigned t = 0; t < W; t++) {
                row = (row & ~(0xFFull << (8 * t))) | (uint64_t)st[h].r[t] << (8 * t);
                if (st[h].r[t] < mn) mn = st[h].r[t];
            }
            a->row[h] = row;
            a->mn[h] = (uint8_t)mn;
            for (unsigned in = 0; in < 1u << a->nb; in++) {
                fz_ast o;
                fz_ast_step(B, &st[h], in, &o);
                unsigned x = 0;
                while (x < n && memcmp(&st[x], &o, sizeof o)) x++;
                if (x == n) {
                    if (n == FZ_ASTATES) {
                        ok = 0; /* cannot happen (124 at B = 2): the walk keeps fz_row */
                        break;
                    }
                    st[n++] = o;
                }
                a->tr[h << a->nb | in] = (uint8_t)x;
            }
        }
        a->n = n;
        fz_auto_ok[B - 1] = ok;
    }
}

const fz_auto *trie__fz_auto(unsigned B) {
    if (B == 0 || B > TRIE_FUZZY_MAX_EDITS) return NULL;
    pthread_once(&fz_auto_once, fz_auto_build);
    return fz_auto_ok[B - 1] ? &fz_autos[B - 1] : NULL;
}


/* Splits p into characters (trie_fuzzy_internal.h). */
int trie__fz_pat_init(fz_pat *z, const char *p, size_t plen, unsigned maxd, unsigned flags) {
    z->B = maxd;
    z->inf = (uint8_t)(maxd + 1);
    z->m = 0;
    z->elen = 0;
    z->onebyte = 1;
    memset(z->inpat, 0, sizeof z->inpat);
    memset(z->c8, 0xC0, sizeof z->c8); /* no one-byte character */
    z->wmask = fz_lanes(0, 2 * (int)maxd);
    z->au = trie__fz_auto(maxd);
    z->fastj = 0;
    size_t i = 0;
    int first = !(flags & TRIE_FUZZY_FIRST_ANY);
    while (i < plen) {
        unsigned l = fz_clen((uint8_t)p[i]);
        if (i + l > plen) break; /* incomplete last character: cut */
        uint32_t v = 0;
        for (unsigned b = 0; b < l; b++) v |= (uint32_t)(uint8_t)p[i + b] << (8 * b);
        if (first) {
            z->elen = l;
            first = 0;
        } else {
            if (z->m == FZ_MAXP) return -1;
            z->off[z->m] = (uint16_t)i;
            z->c[z->m++] = v;
            if (l > 1) z->onebyte = 0;
            else z->inpat[v >> 6] |= 1ull << (v & 63);
            z->c8[FZ_CPAD + z->m - 1] = (uint8_t)v;
        }
        i += l;
    }
    z->plen = i;
    z->off[z->m] = (uint16_t)i;
    /* fz_byte's short path: rows j + 1 <= m - B, with the automaton */
    z->fastj = z->au && z->onebyte && (int)z->m > (int)maxd ? (int)z->m - (int)maxd : 0;
    return 0;
}

unsigned trie__fz_dist_pat(const fz_pat *z, const char *p, const char *key, size_t klen, int whole,
                           size_t *matchlen) {
    const unsigned maxd = z->B;
    size_t pos = 0;
    for (; pos < z->elen; pos++) /* P's first character, exact */
        if (pos >= klen || key[pos] != p[pos]) return maxd + 1;
    /* the walk's rows are indexed by j, which a long key overruns: keep
     * three rolling rows here instead (same step function) */
    uint8_t rows[3][FZ_RB];
    fz_row0(z, rows[0]);
    uint8_t best = z->m <= z->B ? (uint8_t)z->m : z->inf, d = best; /* D(0) */
    size_t bestlen = pos;
    unsigned j = 0;
    uint32_t kp = 0;
    while (pos < klen && (whole || best > 0)) {
        unsigned l = fz_clen((uint8_t)key[pos]);
        if (pos + l > klen) break; /* the key ends inside a character */
        uint32_t kc = 0;
        for (unsigned b = 0; b < l; b++) kc |= (uint32_t)(uint8_t)key[pos + b] << (8 * b);
        pos += l;
        j++;
        uint8_t *r = rows[j % 3];
        uint8_t mn = fz_row(z, r, rows[(j + 2) % 3], rows[(j + 1) % 3], kc, kp, j);
        kp = kc;
        d = fz_dm(z, r, j);
        if (whole) {
            if (mn > maxd) return maxd + 1; /* every later row's too */
            continue;
        }
        if (d < best) {
            best = d;
            bestlen = pos;
        }
        if (mn >= best) break; /* nothing longer gets below best */
    }
    if (whole) best = d, bestlen = pos;
    if (best > maxd) return maxd + 1;
    if (matchlen) *matchlen = bestlen;
    return best;
}

unsigned trie_fuzzy_dist(const char *p, size_t plen, const char *key, size_t klen, unsigned maxd,
                         unsigned flags, size_t *matchlen) {
    if (maxd > TRIE_FUZZY_MAX_EDITS) maxd = TRIE_FUZZY_MAX_EDITS;
    static const char empty[1] = "";
    if (!p) p = empty, plen = 0;
    if (!key) key = empty, klen = 0;
    fz_pat z;
    if (trie__fz_pat_init(&z, p, plen, maxd, flags)) return maxd + 1;
    if (z.plen == 0) {
        if (matchlen) *matchlen = 0;
        return 0;
    }
    return trie__fz_dist_pat(&z, p, key, klen, 0, matchlen);
}

unsigned trie_fuzzy_auto_edits(const char *s, size_t len, uint64_t one, uint64_t two) {
    size_t cp = qutf8_count(s, len);
    return cp >= two ? 2 : cp >= one ? 1 : 0;
}
