/* trie_fuzzy_dp.c -- the typed prefix split into characters, and the edit
 * class of one key (trie_fuzzy_dist, the brute-force reference the tests
 * compare the walk against). The DP itself (banded OSA rows, fz_row) is in
 * trie_fuzzy_internal.h; what it computes and why: trie_fuzzy.c. */
#include "trie/trie_fuzzy_internal.h"


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
    return 0;
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
    /* the walk's rows are indexed by j, which a long key overruns: keep
     * three rolling rows here instead (same step function) */
    uint8_t rows[3][FZ_RB];
    uint32_t kp = 0;
    fz_st s = {0};
    s.pre = z.elen > 0;
    if (!s.pre) {
        fz_row0(&z, rows[0]);
        s.best = z.m <= z.B ? (uint8_t)z.m : z.inf;
        s.bestlen = 0;
    }
    size_t pos = 0;
    for (; s.pre && pos < klen; pos++) {
        if (key[pos] != p[pos]) return maxd + 1;
        if (pos + 1 == z.elen) {
            s.pre = 0;
            fz_row0(&z, rows[0]);
            s.best = z.m <= z.B ? (uint8_t)z.m : z.inf;
            s.bestlen = (uint16_t)(pos + 1);
        }
    }
    if (s.pre) return maxd + 1; /* the key is shorter than P's first character */
    unsigned j = 0;
    while (pos < klen && z.m) {
        unsigned l = fz_clen((uint8_t)key[pos]);
        if (pos + l > klen) break; /* the key ends inside a character */
        uint32_t kc = 0;
        for (unsigned b = 0; b < l; b++) kc |= (uint32_t)(uint8_t)key[pos + b] << (8 * b);
        pos += l;
        j++;
        uint8_t *r = rows[j % 3];
        uint8_t mn = fz_row(&z, r, rows[(j + 2) % 3], rows[(j + 1) % 3], kc, kp, j);
        kp = kc;
        uint8_t d = fz_dm(&z, r, j);
        if (d < s.best) {
            s.best = d;
            s.bestlen = (uint16_t)pos;
        }
        if (mn >= s.best) break;
    }
    if (s.best > maxd) return maxd + 1;
    if (matchlen) *matchlen = s.bestlen;
    return s.best;
}
