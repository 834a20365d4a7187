/* fuzzy_ref.h -- what the typo tests compare against (test_trie_fuzzy.c,
 * test_trie_fuzzy_row.c): a seeded generator, the alphabets the corpora
 * draw from (ASCII, accented Latin, Cyrillic, CJK, emoji), the split of a
 * text into code points, and the full, unbanded OSA matrix with the edit
 * class it gives a key. Header-only, like trie_model.h: include after
 * cmocka.h, in one test program each (the tables are per program). */
#ifndef QAC_TESTS_FUZZY_REF_H
#define QAC_TESTS_FUZZY_REF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/rng.h"

/* ------------------------------------------------------------- alphabets */

/* Characters a corpus draws from: a few per script so that near misses and
 * shared prefixes are common. */
static const char *const ALPHA[] = {
    "a", "b", "c", "d", "e", "n", "o", "r", "s", "t", " ",           /* ASCII */
    "\xc3\xa9", "\xc3\xa8", "\xc3\xbc", "\xc3\xb1", "\xc3\xa7",        /* é è ü ñ ç */
    "\xd0\xb0", "\xd0\xb1", "\xd0\xb2", "\xd0\xba", "\xd1\x8f",        /* а б в к я */
    "\xe4\xb8\xad", "\xe6\x96\x87", "\xe5\xad\x97", "\xe5\x9b\xbd",     /* 中 文 字 国 */
    "\xf0\x9f\x98\x80", "\xf0\x9f\x8d\x95", "\xf0\x9f\x9a\x80",       /* emoji */
};
#define NALPHA (sizeof ALPHA / sizeof ALPHA[0])
/* script ranges in ALPHA: [lo, hi) */
static const unsigned SCRIPT[][2] = {{0, 11}, {0, 16}, {16, 21}, {21, 25}, {0, 28}};
#define NSCRIPT (sizeof SCRIPT / sizeof SCRIPT[0])

static inline size_t put_char(char *b, size_t n, unsigned c) {
    size_t l = strlen(ALPHA[c]);
    memcpy(b + n, ALPHA[c], l);
    return n + l;
}

/* ------------------------------------------------------ characters, OSA */

static inline unsigned clen(uint8_t b) {
    if (b < 0xC0) return 1;
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 3;
    if (b < 0xF8) return 4;
    return 1;
}

/* Splits s into characters: values v[i], byte offsets off[i] (off[n] = the
 * end of the last whole character). Returns n. */
static inline size_t split(const char *s, size_t len, uint32_t *v, size_t *off) {
    size_t n = 0, i = 0;
    while (i < len) {
        unsigned l = clen((uint8_t)s[i]);
        if (i + l > len) break;
        uint32_t x = 0;
        for (unsigned b = 0; b < l; b++) x |= (uint32_t)(uint8_t)s[i + b] << (8 * b);
        off[n] = i;
        v[n++] = x;
        i += l;
    }
    off[n] = i;
    return n;
}

#define RMAX 600
static int dm[RMAX + 1][RMAX + 1];

static inline int min2(int a, int b) { return a < b ? a : b; }

/* Full OSA matrix of a[0..m) against b[0..n); fills dm. */
static inline void osa(const uint32_t *a, size_t m, const uint32_t *b, size_t n) {
    for (size_t i = 0; i <= m; i++) dm[i][0] = (int)i;
    for (size_t j = 0; j <= n; j++) dm[0][j] = (int)j;
    for (size_t i = 1; i <= m; i++)
        for (size_t j = 1; j <= n; j++) {
            int v = min2(dm[i - 1][j] + 1, dm[i][j - 1] + 1);
            v = min2(v, dm[i - 1][j - 1] + (a[i - 1] != b[j - 1]));
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                v = min2(v, dm[i - 2][j - 2] + 1);
            dm[i][j] = v;
        }
}

/* Reference class of key for typed p: the least OSA distance of p to a
 * boundary prefix of key (first rule: first characters equal and p[1..]
 * against key[1..]), -1 when none; *ml the shortest such prefix's bytes. */
static inline int ref_class(const char *p, size_t pl, const char *key, size_t kl, int first, size_t *ml) {
    static uint32_t a[RMAX], b[RMAX];
    static size_t ao[RMAX + 1], bo[RMAX + 1];
    size_t m = split(p, pl, a, ao), n = split(key, kl, b, bo);
    if (m == 0) {
        *ml = 0;
        return 0;
    }
    size_t s = 0;
    if (first) {
        if (n == 0 || a[0] != b[0]) return -1;
        s = 1;
    }
    osa(a + s, m - s, b + s, n - s);
    int best = -1;
    for (size_t j = 0; j + s <= n; j++)
        if (best < 0 || dm[m - s][j] < best) {
            best = dm[m - s][j];
            *ml = bo[j + s];
        }
    return best;
}

#endif
