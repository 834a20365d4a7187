/* trie_pfx.c -- the PREFIX FILTER: a Bloom filter of every key's prefixes
 * of 1..PF_MAXLEN bytes, so the typo walk (trie_fuzzy.c) can tell that a
 * string is the start of no key without touching the trie.
 *
 * WHY
 * ---
 * The typo walk near the root is dominated by children that die one or two
 * characters below themselves: at the node of the typed first character,
 * every child is a possible substitution or insertion, and whether it
 * survives is only known after loading its node, its child block and often
 * its best key (three cache misses each; trie_fuzzy.c COST). But which
 * strings would keep it alive is known from the DP alone: with the budget
 * spent the key must go on with an exact part of the typed prefix, and
 * otherwise with one of the few typed characters of the DP band. The walk
 * asks this filter whether any such string starts a key (fz_probe); when
 * none does, the child is skipped unseen. The filter is small (<= 4 bits a
 * key; 0.5 MB at 1M keys, 4.2 MB at 10M) and its probes do not depend on one
 * another, so it stays in the cache and its misses overlap.
 *
 * LAYOUT
 * ------
 * t->pf: 2^b bits (t->pfmask + 1 words of 64), b chosen at the last rebuild
 * so that there are at least PF_BITS_PER_KEY bits a key (>= PF_MIN_BITS,
 * <= PF_MAX_BITS), then FOLDED (below). A string s of n bytes (1 <= n <=
 * PF_MAXLEN) sets two bits of one 64-bit word, both from one 64-bit hash of (s, n): one memory word
 * per probe; the array is on 2 MB pages after a load or bulk build
 * (trie_huge.c: with 4 KB pages each probe also missed the TLB). With ~0.5 distinct prefixes of <= 8 bytes per key (measured on
 * the synthetic corpora) the false-positive rate is ~1-2 %; a false positive
 * costs only the walk a child it would have looked at anyway.
 *
 * FOLDED: the rebuild's walk counts the distinct prefixes it sets, and
 * trie__pf_fold then halves the filter while it keeps at least
 * PF_BITS_PER_STRING (32) bits a distinct prefix: word i + w/2 of a filter
 * of w words is word i of one of w/2 (the index is the hash's bits 12..
 * under the mask), so OR-ing the upper half onto the lower loses no string
 * (the fold is the filter that size would have been built as). Keys that
 * share their short prefixes get a filter that stays in the caches better:
 * the synthetic 10M corpus has 0.81M distinct prefixes of <= 8 bytes (0.08
 * a key; 2.4 % of 8.4 MB set), folded once to 4.2 MB (fill 4.7 %): the
 * walk's work units +0.3 % (FUZZY 1 +0.8 %); 7 pairs against main, ratio
 * of medians: FUZZY 2 on 8+ characters 0.87 (pairs 0.85-0.95, p99 0.92),
 * FUZZY 1 0.97, FUZZY 2 0.92, AUTO 0.90; RSS -5.4 MB. So at 10M the
 * filter's misses cost more than its false positives: the probes and plan
 * checks wait on its words (perf, main: fz_plan_check ~22 % of the walk's
 * samples, nearly all on the word's load). 2.1 MB (1 bit a key, fill
 * 9.1 %) was no better than 4.2 (3 rounds: 1.00, 0.90, 1.00 of the median
 * against main; 4.2: 0.92, 0.85, 1.00). Real queries have more prefixes than keys (AOL
 * dev: ~1.2 a key, 40 % of its 0.1 MB set), so they keep the size by keys.
 *
 * TRIED AND NOT KEPT (commit e83bf6e on branch fz3, measured at 10M keys,
 * 20,000 typo'd benchmark prefixes, bench_trie --fuzzy-only, load 8-10):
 * (1) each word in the 64-byte line picked by the hash of the string's
 * parent s[0, n - 1), so that the probes of one walk step share a line;
 * (2) on top of it WILDCARD strings (each key's first 8 bytes with one
 * character replaced by 0xFF, every length; 16 bits a key, 33.5 MB), so
 * that the walk could judge a child whose next character is untyped and
 * costs FUZZY 2's last edit by look-ups. Medians, FUZZY 1 / FUZZY 2 / FUZZY
 * 2 on 8+ characters, µs: this layout 25 / 238 / 442 and 34 / 295 / 483 in
 * two runs; (1) 35 / 328 / 492 and 38 / 279 / 451 (within the noise); (2)
 * 53 / 401 / 672 and 44 / 360 / 623 (slower in every run; at 8 bits a key
 * 38 / 295 / 590). Why (2) loses: the parent's line fills more than average
 * (more false positives where the walk asks most), the wildcard look-ups
 * are paid by every live child and rarely kill one (its typed next
 * characters still need a one-byte look-ahead, which nearly always hits),
 * and the 4x larger filter costs more per miss. The load went from 9-12 s
 * to 12.4 s there. The test it came with (test_filter_wide_alphabet) stays.
 * (3) DEEPER PREFIXES (branch fz12, before FOLDED): PF_MAXLEN 10, 12 or 16, the walk's
 * strings in a 128-bit word (unsigned __int128: one more multiply in the
 * hash), so that probes and plans judge children below depth 8 too. Same
 * answers; it does not pay. Distinct prefixes at 10M keys: 0.81M of 1..8
 * bytes, 2.16M of 1..10, 5.10M of 1..12, 17.6M of 1..16 (fill 2.4 % and
 * 6.2 % at 4 bits a key; 12 and 16 at 8 bits a key, 16.8 MB: 7.3 %, 22.9 %).
 * Work units of FUZZY 2 on 8+ characters (sum over 14,970 prefixes of
 * p20k.txt; exact): 73.14M, 10: 73.74M, 12: 74.07M, 16: 80.30M (12 at 4
 * bits a key, fill 14 %: 75.90M, 3 pairs 1.14 of the median); FUZZY 1
 * 8.31M, 8.14M, 8.07M, 9.55M. AOL dev (12, 4 bits a key: a 0.1 MB filter
 * 40 % -> 73 % full): FUZZY 2 on 8+ 31.2M -> 37.6M units.
 * Medians of 3 rounds, all five binaries in turn, load 1.3-2.4, FUZZY 2 on
 * 8+ / FUZZY 1, µs: this layout 168 / 15.6, the 128-bit word alone at 8
 * bytes 168 / 16.1, 10: 168 / 15.9, 12: 184 / 17.9 (16.8 MB), 16: 238 / 23.0
 * (16.8 MB); the load 1.8-3.0 s, 2.1, 2.6-2.9, 4.2-4.6. Why: counted by the
 * depth of the node whose child the walk looks at (FUZZY 2 on 8+, this
 * layout), 66.1M of the 73.1M units are spent at nodes of depth < 8 (12.7M
 * children; 35.5M units in 5.8M probes), only 4.4M at depths 8-11 (2.07M
 * children) and 2.5M deeper. At 12 bytes (8 bits a key) the children
 * seen fall 15.8M -> 13.9M (at 8-11: 2.07M -> 1.0M), but the probes now
 * run below depth 8 too (1-4 look-ups each, a unit apiece, where there
 * were none): the units at nodes of depth < 8 go 66.1M -> 67.1M and those
 * at 8-11 stay 4.4M; at 16 the fuller filter weakens every probe.
 *
 * INVARIANT (no false negatives): when t->pf is not NULL, every prefix of
 * 1..PF_MAXLEN bytes of every live key is in it. Kept by: trie__pf_rebuild
 * (from every key, after a load or a bulk build: trie__cache_rebuild calls
 * it; a trie being loaded or built has none before), trie__pf_add (from
 * insert_new, for every new key; trie_new starts with the smallest). A deleted key's
 * bits stay (more false positives until the next rebuild; never a wrong
 * answer). Without memory for the filter t->pf is NULL and every probe says
 * "maybe": the walk is as without it. trie_check recounts the invariant.
 * Growth: the size is fixed between rebuilds, so a trie grown by live adds
 * far past its size at load fills its filter up and the filter filters less
 * (a save and load resizes it); a new empty trie starts at PF_MIN_BITS.
 * The filter is not in the snapshot (its format is unchanged): it is
 * rebuilt at load by a walk of every key in order that decodes its first 8
 * bytes: 0.23-0.25 s at 1M keys (measured at load 12 on 2 cores); at 10M
 * 0.38-0.49 s setting each string's word at once, 0.30-0.36 s with the
 * sets PF_RING_SETS (32) in flight (ring_set: prefetched when hashed,
 * OR-ed 32 sets later; branch deep19, 3 rounds of 4 rebuilds each, load
 * 2.0). A walk over the nodes of depth < 8 would be cheaper.
 */
#include "trie/trie_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

static inline void pf_set(uint64_t *pf, uint64_t mask, const char *s, size_t n) {
    uint64_t h = pf_hash(s, n);
    pf[(h >> 12) & mask] |= pf_bits(h);
}

void trie__pf_add(trie *t, const char *key, size_t klen) {
    if (!t->pf) return;
    for (size_t n = 1; n <= klen && n <= PF_MAXLEN; n++) pf_set(t->pf, t->pfmask, key, n);
}

void trie__pf_free(trie *t) {
    qfree(t->pf);
    t->pf = NULL;
    t->pfmask = 0;
}

/* The rebuild's sets, PF_RING_SETS in flight: each word is prefetched
 * when its string is hashed and OR-ed PF_RING_SETS sets later, so that
 * the filter's misses overlap (in key order its words are random). */
#define PF_RING_SETS 32u
struct pf_ring {
    uint64_t *pf, mask;
    uint64_t at, n;
    uint64_t idx[PF_RING_SETS], bits[PF_RING_SETS];
};

static inline void ring_set(struct pf_ring *r, uint64_t h) {
    uint64_t i = (h >> 12) & r->mask, slot = r->at % PF_RING_SETS;
    __builtin_prefetch(&r->pf[i], 1);
    if (r->n == PF_RING_SETS) r->pf[r->idx[slot]] |= r->bits[slot]; /* the oldest */
    else r->n++;
    r->idx[slot] = i;
    r->bits[slot] = pf_bits(h);
    r->at++;
}

static void ring_flush(struct pf_ring *r) {
    for (uint64_t j = 0; j < r->n; j++) r->pf[r->idx[j]] |= r->bits[j];
    r->n = 0;
}

struct pf_build {
    trie *t;
    char prev[PF_MAXLEN];
    size_t plen;
    uint64_t nstr;    /* distinct prefixes set so far */
    struct pf_ring r; /* the sets in flight */
};

/* Keys in key order: a prefix no longer than the common part with the
 * previous key was set by it. */
static int pf_build_one(void *ud, uint32_t id) {
    struct pf_build *b = ud;
    trie *t = b->t;
    char buf[PF_MAXLEN + TC_SYM_MAX];
    kview v = kv(t, id);
    size_t n = tc_decode_prefix(&t->tc, v.code, v.ck, buf, PF_MAXLEN);
    if (n == TC_BAD) n = 0; /* cannot happen: the arena holds valid codes */
    if (n > PF_MAXLEN) n = PF_MAXLEN;
    size_t c = lcp(buf, b->prev, n < b->plen ? n : b->plen);
    for (size_t l = c + 1; l <= n; l++) ring_set(&b->r, pf_hash(buf, l));
    b->nstr += n > c ? n - c : 0;
    memcpy(b->prev, buf, n);
    b->plen = n;
    return 0;
}

void trie__pf_rebuild(trie *t) {
    uint64_t bits = PF_MIN_BITS;
    while (bits < PF_MAX_BITS && bits < t->count * PF_BITS_PER_KEY) bits <<= 1;
    uint64_t words = bits / 64;
    uint64_t *pf = t->pf && t->pfmask + 1 == words ? t->pf : NULL;
    if (pf) {
        memset(pf, 0, words * 8);
    } else {
        trie__pf_free(t);
        pf = trie__huge_alloc(words * 8, HUGE_MIN_BYTES, NULL); /* on huge pages at once (trie_huge.c) */
        if (pf) memset(pf, 0, words * 8);
        else pf = qcalloc(words, 8);
        if (!pf) return; /* no filter: every probe says maybe */
    }
    t->pf = pf;
    t->pfmask = words - 1;
    struct pf_build b = {.t = t, .plen = 0, .nstr = 0};
    b.r.pf = pf, b.r.mask = t->pfmask;
    trie__walk_sorted(t, pf_build_one, &b);
    ring_flush(&b.r);
    uint64_t want = PF_MIN_BITS;
    while (want < bits && want < b.nstr * PF_BITS_PER_STRING) want <<= 1;
    trie__pf_fold(t, want / 64);
}

void trie__pf_fold(trie *t, uint64_t words) {
    uint64_t have = t->pf ? t->pfmask + 1 : 0;
    if (words < PF_MIN_BITS / 64 || words >= have) return;
    uint64_t *pf = t->pf;
    for (uint64_t w = have; w > words; w >>= 1) /* word i + w/2 of a filter of w words is word i of one of w/2 */
        for (uint64_t i = 0; i < w / 2; i++) pf[i] |= pf[i + w / 2];
    uint64_t *np = trie__huge_alloc(words * 8, HUGE_MIN_BYTES, NULL);
    if (np) {
        memcpy(np, pf, words * 8);
        qfree(pf);
    } else if (!(np = qrealloc(pf, words * 8))) { /* shrunk in place, or moved */
        np = pf; /* (a shrink that fails: the big block stays, its low words used) */
    }
    t->pf = np;
    t->pfmask = words - 1;
}

int trie__pf_init(trie *t) {
    t->pf = qcalloc(PF_MIN_BITS / 64, 8);
    if (!t->pf) return TRIE_ENOMEM;
    t->pfmask = PF_MIN_BITS / 64 - 1;
    return TRIE_OK;
}

uint64_t trie__pf_bytes(const trie *t) { return t->pf ? (t->pfmask + 1) * 8 : 0; }

struct pf_chk {
    const trie *t;
    char *err;
    size_t errlen;
};

static int pf_check_one(void *ud, uint32_t id) {
    struct pf_chk *c = ud;
    char buf[PF_MAXLEN + TC_SYM_MAX];
    kview v = kv(c->t, id);
    size_t n = tc_decode_prefix(&c->t->tc, v.code, v.ck, buf, PF_MAXLEN);
    if (n == TC_BAD) return 0; /* trie_check reports bad codes itself */
    if (n > PF_MAXLEN) n = PF_MAXLEN;
    for (size_t l = 1; l <= n; l++)
        if (!trie__pf_has(c->t, buf, l)) {
            if (c->err && c->errlen)
                snprintf(c->err, c->errlen, "prefix filter misses the first %zu bytes of key id %u", l, id);
            return -1;
        }
    return 0;
}

int trie__pf_check(const trie *t, char *err, size_t errlen) {
    if (!t->pf) return 0;
    if ((t->pfmask + 1) & t->pfmask) {
        if (err && errlen) snprintf(err, errlen, "prefix filter size is not a power of two");
        return -1;
    }
    struct pf_chk c = {t, err, errlen};
    return trie__walk_sorted(t, pf_check_one, &c) ? -1 : 0;
}
