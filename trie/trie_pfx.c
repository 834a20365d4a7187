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
 * none does, the child is skipped unseen. The filter is small (4 bits a
 * key; 0.5 MB at 1M keys, 8 MB at 10M) and its probes do not depend on one
 * another, so it stays in the cache and its misses overlap.
 *
 * LAYOUT
 * ------
 * t->pf: 2^b bits (t->pfmask + 1 words of 64), b chosen at the last rebuild
 * so that there are at least PF_BITS_PER_KEY bits a key (>= PF_MIN_BITS,
 * <= PF_MAX_BITS). A string s of n bytes (1 <= n <= PF_MAXLEN) sets two bits
 * of one 64-bit word, both from one 64-bit hash of (s, n); the word lies in
 * the 64-byte line (PF_LINE_WORDS words) picked by the hash of its parent
 * s[0, n - 1) (pf_word). One probe reads one word, and the probes of one
 * step of the typo walk -- "does path + x start a key" for the few typed x
 * of the DP band, and the one-byte suffixes of a node's plan -- share one
 * line: at 10M keys the filter is out of the cache and its misses were the
 * largest cost of the walk (perf: ~27 % of the typo benchmark's time on the
 * one load in fz_probe) before lines were shared. A line shared by a parent
 * of many children fills more than the average (a few more false positives
 * there); a false positive costs only the walk a child it would have looked
 * at anyway.
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
 * bytes: 0.23-0.25 s at 1M keys (measured at load 12 on 2 cores), so some
 * 2.5 s at 10M; a walk over the nodes of depth < 8 would be cheaper.
 */
#include "trie/trie_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"

static inline void pf_set(uint64_t *pf, uint64_t mask, const char *s, size_t n) {
    uint64_t h = pf_hash(s, n);
    pf[pf_word(s, n, h, mask)] |= pf_bits(h);
}

/* Bytes of the character whose first byte is b, as the typo walk counts
 * them (trie_fuzzy_internal.h fz_clen). */
static inline size_t pf_clen(uint8_t b) {
    if (b < 0xC0) return 1;
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 3;
    if (b < 0xF8) return 4;
    return 1;
}

/* The WILDCARD strings of key[0, klen) (klen: what is known of the key,
 * <= PF_SRCLEN bytes; kfull: its length when known, else more): for each
 * character boundary q in [1, PF_MAXLEN) after the first character, the key
 * with its character at q replaced by the byte PF_WILD, cut to q + 1 ..
 * PF_MAXLEN bytes. Those made only of key bytes before `from` were set by
 * the previous key in key order, which shares them. */
static void pf_set_wild(uint64_t *pf, uint64_t mask, const char *key, size_t klen, size_t kfull, size_t from) {
    char w[PF_MAXLEN];
    size_t q = pf_clen((uint8_t)key[0]);
    while (q < PF_MAXLEN && q < klen) {
        size_t l = pf_clen((uint8_t)key[q]);
        memcpy(w, key, q);
        w[q] = (char)PF_WILD;
        if (q + l > kfull) l = kfull - q; /* the key ends inside it: nothing after */
        size_t rest = klen >= q + l ? klen - q - l : 0;
        for (size_t n = q + 1; n <= PF_MAXLEN && n <= q + 1 + rest; n++) {
            if (n > q + 1) w[n - 1] = key[q + l + (n - q - 2)];
            if (n - 1 + l > from) pf_set(pf, mask, w, n); /* made of key bytes [0, n - 1 + l) */
        }
        q += pf_clen((uint8_t)key[q]);
    }
}

void trie__pf_add(trie *t, const char *key, size_t klen) {
    if (!t->pf) return;
    for (size_t n = 1; n <= klen && n <= PF_MAXLEN; n++) pf_set(t->pf, t->pfmask, key, n);
    if (klen) pf_set_wild(t->pf, t->pfmask, key, klen < PF_SRCLEN ? klen : PF_SRCLEN, klen, 0);
}

void trie__pf_free(trie *t) {
    qfree(t->pf);
    t->pf = NULL;
    t->pfmask = 0;
}

struct pf_build {
    trie *t;
    char prev[PF_SRCLEN];
    size_t plen;
};

/* Keys in key order: a prefix no longer than the common part with the
 * previous key was set by it. */
static int pf_build_one(void *ud, uint32_t id) {
    struct pf_build *b = ud;
    trie *t = b->t;
    char buf[PF_SRCLEN + TC_SYM_MAX];
    kview v = kv(t, id);
    size_t n = tc_decode_prefix(&t->tc, v.code, v.ck, buf, PF_SRCLEN + 1);
    if (n == TC_BAD) n = 0; /* cannot happen: the arena holds valid codes */
    size_t full = n; /* > PF_SRCLEN: the key goes on */
    if (n > PF_SRCLEN) n = PF_SRCLEN;
    size_t c = lcp(buf, b->prev, n < b->plen ? n : b->plen);
    for (size_t l = c + 1; l <= n && l <= PF_MAXLEN; l++) pf_set(t->pf, t->pfmask, buf, l);
    if (n) pf_set_wild(t->pf, t->pfmask, buf, n, full, c);
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
        pf = qcalloc(words, 8);
        if (!pf) return; /* no filter: every probe says maybe */
    }
    t->pf = pf;
    t->pfmask = words - 1;
    struct pf_build b = {.t = t, .plen = 0};
    trie__walk_sorted(t, pf_build_one, &b);
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
    char buf[PF_SRCLEN + TC_SYM_MAX];
    kview v = kv(c->t, id);
    size_t full = tc_decode_prefix(&c->t->tc, v.code, v.ck, buf, PF_SRCLEN + 1);
    if (full == TC_BAD) return 0; /* trie_check reports bad codes itself */
    size_t n = full < PF_MAXLEN ? full : PF_MAXLEN;
    for (size_t l = 1; l <= n; l++)
        if (!trie__pf_has(c->t, buf, l)) {
            if (c->err && c->errlen)
                snprintf(c->err, c->errlen, "prefix filter misses the first %zu bytes of key id %u", l, id);
            return -1;
        }
    /* the wildcard strings, made here the plain way: the key with one
     * character (after the first) replaced by PF_WILD, each prefix */
    size_t kl = full < PF_SRCLEN ? full : PF_SRCLEN;
    for (size_t q = pf_clen((uint8_t)buf[0]); q < PF_MAXLEN && q < kl; q += pf_clen((uint8_t)buf[q])) {
        char w[PF_SRCLEN];
        size_t l = pf_clen((uint8_t)buf[q]), wl = q + 1;
        memcpy(w, buf, q);
        w[q] = (char)PF_WILD;
        if (q + l <= full)
            for (size_t x = q + l; x < kl; x++) w[wl++] = buf[x];
        for (size_t m = q + 1; m <= wl && m <= PF_MAXLEN; m++)
            if (!trie__pf_has(c->t, w, m)) {
                if (c->err && c->errlen)
                    snprintf(c->err, c->errlen, "prefix filter misses wildcard string %zu/%zu of key id %u", q,
                             m, id);
                return -1;
            }
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
