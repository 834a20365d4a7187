/* trie_fuzzy.h -- typo-tolerant top-k completion over the trie (issue 14).
 * The design essay (algorithm, cost, limits) is at the top of trie_fuzzy.c.
 *
 * THE CONTRACT
 * ------------
 * Distance: optimal string alignment (Damerau-Levenshtein with adjacent
 * transpositions, no edit inside a transposed pair), counted in CHARACTERS.
 * A character is a lead byte and the continuation bytes its value announces
 * (0xxxxxxx: 1 byte, 110xxxxx: 2, 1110xxxx: 3, 11110xxx: 4, any other byte:
 * 1), taken as they come: on valid UTF-8 these are exactly the Unicode code
 * points; on invalid bytes the rule is still total and deterministic (a
 * malformed sequence is some character that equals only the same bytes), so
 * nothing crashes and every key keeps one class.
 *
 * A key K matches the typed prefix P at distance d when some prefix of K
 * ending on a character boundary (the empty one included) is within d edits
 * of P. Its EDIT CLASS is the least such d. By default the first character
 * of K must equal the first character of P and no edit may touch it (it is
 * not substituted, deleted, inserted before, or transposed); then the empty
 * key prefix does not count. TRIE_FUZZY_FIRST_ANY lifts that rule. An empty
 * P puts every key in class 0; class 0 is always "K starts with P".
 *
 * matchlen: the byte length of the SHORTEST key prefix that is within the
 * key's class of P (ties go to the shorter prefix: "xyz" for P "a" at one
 * edit under FIRST_ANY has matchlen 0, deleting the 'a'). For class 0 it is
 * P's length. It is what a highlighter marks.
 *
 * Order: edit class ascending, then score descending, then key bytes
 * ascending (trie_topk's order within a class). The result is the exact top
 * k of that order over ALL keys of class <= maxd.
 */
#ifndef QAC_TRIE_FUZZY_H
#define QAC_TRIE_FUZZY_H

#include <stddef.h>
#include <stdint.h>

#include "trie/trie.h"

#define TRIE_FUZZY_MAX_EDITS 2     /* largest maxd accepted */
#define TRIE_FUZZY_FIRST_ANY 0x1u  /* the first character may be edited too */

/* WORK LIMIT. The walks for classes >= 1 count WORK UNITS: one per child of
 * a node looked at, one per byte fed to the edit DP, one per key decoded
 * (a child's edge of 2+ bytes counts one, decoded or not), one per node descended to follow an exact continuation, one per
 * prefix-filter look-up outside a node's plan (trie_fuzzy.c, PROBES). A
 * unit is a few ns warm, ~100 ns when it misses the cache (a node, a key's
 * code); the count does not depend on the machine or its load, so a bound
 * on it is a bound on the request's cost that tests can check. trie_fuzzy_topk_bounded
 * stops a walk once max_work units are spent: the classes that completed
 * are exact; the hits the stopped class c had found are kept (each is truly
 * of class c, in class-c order among themselves, but better class-c keys
 * may exist); no class above c is searched; info->cut says c. A stop
 * happens between two children, so a call spends at most max_work +
 * TRIE_FUZZY_WORK_SLACK units (one child's edge, its decode and its
 * continuations; its probe, <= 61, its node's plan, 12, and fz_det's
 * look-ups, 5). Phase 1 (the exact completions, trie_topk) and the final
 * best-first reads (O(k log k) per class) are not counted: they are bounded
 * by k. TRIE_FUZZY_MAX_WORK is the default a server uses (fuzzy-max-work):
 * see trie_fuzzy.c (WORK LIMIT) for how it was chosen. */
#define TRIE_FUZZY_MAX_WORK 20000
#define TRIE_FUZZY_WORK_SLACK ((2 * TRIE_FUZZY_MAX_EDITS + 2) * (TRIE_MAX_KEY + 2) + 128)

typedef struct trie_fuzzy_hit {
    trie_hit hit;
    uint8_t edits;     /* the key's edit class, 0..maxd */
    uint16_t matchlen; /* bytes of the key's prefix that matched (see above) */
} trie_fuzzy_hit;

/* The best min(k, matches) keys of class <= maxd for the typed prefix, in
 * the order above, into out[0..n); returns n >= 0, or TRIE_EINVAL when k is
 * 0 or over TRIE_MAX_K, maxd is over TRIE_FUZZY_MAX_EDITS, flags has an
 * unknown bit, or prefix is NULL with plen > 0.
 *   - maxd 0 is exactly trie_topk(t, prefix, plen, k) (bytewise, the caches
 *     included), every hit with edits 0 and matchlen plen.
 *   - maxd >= 1: a prefix ending inside a character (see above) is first cut
 *     back to its last whole character (as norm_prefix does); a prefix of
 *     more than TRIE_MAX_KEY + maxd characters matches nothing.
 * Allocates nothing; uses about 135 KB of stack. Never hits an internal
 * limit: its scratch is bounded by TRIE_MAX_KEY and TRIE_MAX_K. No work
 * limit either (tests, tools, benchmarks): a server calls
 * trie_fuzzy_topk_bounded. Cost: see trie_fuzzy.c. Not thread-safe with
 * writers, like trie_topk. */
int trie_fuzzy_topk(const trie *t, const char *prefix, size_t plen, unsigned maxd, unsigned flags,
                    unsigned k, trie_fuzzy_hit *out);

/* What a bounded call did: work units spent (see WORK LIMIT), and 0 when
 * the answer is exact, else the edit class whose walk the limit stopped
 * (its hits are real class-cut matches, not necessarily the best ones;
 * nothing above that class was searched). */
typedef struct trie_fuzzy_info {
    uint64_t work;
    uint8_t cut;
} trie_fuzzy_info;

/* trie_fuzzy_topk with a work limit: max_work units (0: no limit, which is
 * trie_fuzzy_topk), then as WORK LIMIT above says. info may be NULL. Same
 * return values as trie_fuzzy_topk. */
int trie_fuzzy_topk_bounded(const trie *t, const char *prefix, size_t plen, unsigned maxd, unsigned flags,
                            unsigned k, uint64_t max_work, trie_fuzzy_hit *out, trie_fuzzy_info *info);

/* The edit class of one key for typed prefix p (same rules, same character
 * cut-back of p), or maxd + 1 when it is over maxd; *matchlen (when
 * non-NULL and the class is <= maxd) receives the matched byte length. maxd
 * over TRIE_FUZZY_MAX_EDITS is clamped to it. The DP trie_fuzzy_topk runs,
 * on one string (for tests, ranking features, highlighting). */
unsigned trie_fuzzy_dist(const char *p, size_t plen, const char *key, size_t klen, unsigned maxd,
                         unsigned flags, size_t *matchlen);

/* FUZZY AUTO: the edits a typed text of len bytes allows by its code points
 * (qutf8_count): 0 under `one`, 1 from `one`, 2 from `two`. A server's
 * fuzzy-auto-one and fuzzy-auto-two set them; the defaults, which the
 * offline tools use, are below (issue 14's). */
#define TRIE_FUZZY_AUTO_ONE 4
#define TRIE_FUZZY_AUTO_TWO 8
unsigned trie_fuzzy_auto_edits(const char *s, size_t len, uint64_t one, uint64_t two);

#endif
