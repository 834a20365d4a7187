/* rng.h -- the seeded generator of the randomized tests that share it
 * (trie_model.h, fuzzy_ref.h, test_trie_words.c): splitmix64, one stream
 * per test program; rng_seed(s) makes a run reproducible. Header-only. */
#ifndef QAC_TESTS_RNG_H
#define QAC_TESTS_RNG_H

#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static inline void rng_seed(uint64_t s) { rng_state = s * 0x9e3779b97f4a7c15ull + 1; }
static inline uint64_t rng(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline uint32_t rnd(uint32_t n) { return (uint32_t)(rng() % n); }

#endif
