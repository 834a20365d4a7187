/* tcodec_ref.h -- the test oracle for tc_encode, shared by
 * tests/test_trie_tcodec.c and tests/fuzz/fuzz_tcodec.c: brute-force greedy
 * longest match over every symbol (longest symbol, lowest code on ties),
 * escaping a byte no symbol starts with. O(n * nsym); for tests only. */
#ifndef QAC_TESTS_TCODEC_REF_H
#define QAC_TESTS_TCODEC_REF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trie/tcodec.h"

static inline size_t ref_encode(const tc_table *t, const uint8_t *in, size_t n, uint8_t *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned best = TC_ESC, bl = 0;
        for (unsigned c = 0; c < tc_nsym(t); c++) {
            char sym[TC_SYM_MAX];
            unsigned l = tc_symbol(t, c, sym);
            if (l > bl && l <= n - i && !memcmp(sym, in + i, l)) best = c, bl = l;
        }
        out[o++] = (uint8_t)best;
        if (best == TC_ESC) out[o++] = in[i++];
        else i += bl;
    }
    return o;
}

#endif
