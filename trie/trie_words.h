/* trie_words.h -- the word index over a trie's keys: "words anywhere"
 * (infix, conjunctive) top-k, exact under live changes (issue 15).
 *
 * WHAT
 * ----
 * Keys are normalized UTF-8 (lowercase, single ASCII spaces between words).
 * The typed text is split into words on ASCII spaces. A key MATCHES when
 * every typed word but the last EQUALS a word of the key, the last typed
 * word is a PREFIX of a word of the key (EQUALS when the text ends with a
 * space), and each typed word matches a DIFFERENT word of the key (a
 * matching: "new new" needs two "new" words), in any order.
 * Order: class 0 = keys that the canonical text (the typed words joined by
 * single spaces, plus one trailing space when the text ends with a space) is
 * a plain prefix of (ordinary completions), by score desc; then class 1 = the
 * other matches, by score desc; ties by key bytes. Every hit carries, for
 * each typed word i, the byte range in the key of the word it matched:
 * [off, off + len) where len is the typed word's length (for the last,
 * prefix word: the typed part only). The matching reported is the greedy
 * one: the complete typed words in typed order each take the first (by
 * position) unused key word equal to them, then the last (prefix) word takes
 * the first unused key word it is a prefix of. For class 0 that is word i
 * of the key for typed word i.
 *
 * WHY / HOW (the design essay is at the top of trie_words.c): a word
 * dictionary (a second trie, word -> word id, score = an upper bound of the
 * scores of the keys holding it) and per word a posting list of key ids in
 * a static rank order (blocks of 16: a whole rank, then bit-packed gaps)
 * with a 16-ary tree of score upper bounds (2-byte codes) over it; per key
 * four bytes of its words' heads (a signature), then its own text in the
 * trie, to check a candidate; top-k is a
 * best-first search over those bounds, or, for two or more complete words
 * with a short enough rarest list, one pass intersecting their lists; exact
 * either way.
 *
 * LIMITS AND RESULTS
 * ------------------
 *   - at most TRIE_WORDS_MAX_TYPED typed words: more is TRIE_WORDS_ETOOMANY;
 *     a text over TRIE_WORDS_MAX_TEXT bytes is TRIE_WORDS_ETOOLONG (no key
 *     can hold it). Both are answered after looking at <= that many bytes.
 *   - a text with no words (empty, only spaces): 0 hits.
 *   - work per request: at most TRIE_WORDS_MAX_SCAN work units, or what
 *     trie_words_set_max_scan set for the index (the server's
 *     infix-max-scan), the same "units" below (a posting
 *     examined, tombstones included; a dictionary word streamed; an entry
 *     pushed on a search heap; a step of an intersection, a prefix word's
 *     cursor moved), overshot by at most one leaf block (16 postings), one
 *     dictionary path or one step's cursors (128). A key is decoded only when
 *     its signature holds the typed words' bits and its score can still
 *     enter the best k, so decodes are bounded by the same limit. Past it the search stops and *truncated is set to
 *     1: the hits returned are then still exactly the best ones, in order
 *     (a correct prefix of the full answer), just fewer than k.
 *
 * WHAT THE ENGINE CALLS, AND WHEN (the index never sees the trie change by
 * itself; every call below must follow the trie change it describes):
 *   - after loading or bulk-building a trie: trie_words_build (rebuilds the
 *     whole index from the trie), or trie_words_load of the index saved
 *     with that very trie snapshot (trie_words_save), then the same calls
 *     below for every change replayed after the load.
 *   - trie_set / trie_incr that CREATED a key (trie_count grew):
 *     trie_words_add(w, id, key, len, score). trie_set's id_out gives the id.
 *   - trie_set / trie_incr that CHANGED the score of an existing key:
 *     trie_words_score(w, t, id, key, len, new_score) (id may be
 *     TRIE_WORDS_ANY_ID: it is looked up in t). A decrease, or a rise that
 *     stays under the key's recorded bound, is O(1) and touches nothing.
 *   - trie_del: get the id first (trie_get), then after trie_del succeeds
 *     trie_words_del(w, id, key, len).
 *   - a display-only change needs no call.
 * On TRIE_ENOMEM from add/score the index may have recorded the key in some
 * of its words only; the index then answers inexactly until the next
 * trie_words_build. Queries never allocate index memory (they allocate
 * per-request scratch and return TRIE_ENOMEM if that fails); del only to
 * compact a list that is mostly tombstones, and skips that without memory.
 *
 * Not thread-safe for writes; queries do not modify the index.
 */
#ifndef QAC_TRIE_WORDS_H
#define QAC_TRIE_WORDS_H

#include <stddef.h>
#include <stdint.h>

#include "trie/trie.h"
#include "trie/trie_fuzzy.h"

#define TRIE_WORDS_MAX_TYPED 16      /* typed words per request */
#define TRIE_WORDS_MAX_TEXT TRIE_MAX_KEY /* bytes of typed text */
#define TRIE_WORDS_MAX_SCAN 20000u   /* work units per request by default (see LIMITS) */
#define TRIE_WORDS_SCAN_MIN 1000u    /* trie_words_set_max_scan's range */
#define TRIE_WORDS_SCAN_MAX 100000000u
#define TRIE_WORDS_ANY_ID UINT32_MAX /* trie_words_score: look the id up */

#define TRIE_WORDS_ETOOMANY (-20) /* more than TRIE_WORDS_MAX_TYPED typed words */
#define TRIE_WORDS_ETOOLONG (-21) /* text longer than TRIE_WORDS_MAX_TEXT bytes */

typedef struct trie_words trie_words;

typedef struct trie_words_range {
    uint16_t off, len; /* bytes of the key */
} trie_words_range;

typedef struct trie_words_hit {
    trie_hit hit;    /* the key, display, score, id (a copy, as from trie_topk) */
    uint8_t cls;     /* 0: the text is a prefix of the key; 1: other match; 2: a typo completion (trie_words_topk_edits) */
    uint8_t edits;   /* trie_words_fuzzy_topk: the key's edit class (1..maxd); else 0 */
    uint8_t nranges; /* = the number of typed words */
    trie_words_range range[TRIE_WORDS_MAX_TYPED]; /* by typed word */
} trie_words_hit;

typedef struct trie_words_mem {
    uint64_t words;      /* distinct words in the dictionary */
    uint64_t postings;   /* live posting entries (tombstones are not counted) */
    uint64_t bytes;      /* bytes allocated by the index, the word trie included */
} trie_words_mem;

const char *trie_words_strerror(int err); /* TRIE_WORDS_E* and TRIE_E* */

/* An empty index (for an empty trie); NULL on allocation failure. */
trie_words *trie_words_new(void);
void trie_words_free(trie_words *w);

/* A fresh index of every key of t in *out (TRIE_OK), or TRIE_ENOMEM /
 * TRIE_EFULL with *out NULL. */
int trie_words_build(const trie *t, trie_words **out);

/* Key id (now in the trie with this key and score) was created. */
int trie_words_add(trie_words *w, uint32_t id, const char *key, size_t len, double score);
/* Key id (with this key) was deleted from the trie. TRIE_ENOTFOUND when the
 * index does not hold id. */
int trie_words_del(trie_words *w, uint32_t id, const char *key, size_t len);
/* The score of key id changed to new_score (t: the trie, only read to look
 * the id up when id is TRIE_WORDS_ANY_ID). */
int trie_words_score(trie_words *w, const trie *t, uint32_t id, const char *key, size_t len,
                     double new_score);

/* The best min(k, matches) hits for the typed text (k in 1..TRIE_MAX_K),
 * class 0 first. Returns the number of hits >= 0, or TRIE_EINVAL,
 * TRIE_WORDS_ETOOMANY, TRIE_WORDS_ETOOLONG, TRIE_ENOMEM. *truncated (when
 * non-NULL) is 1 when the scan limit cut the search short, else 0. */
int trie_words_topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned k,
                    trie_words_hit *out, int *truncated);

/* The last typed word with edits (COMPLETE ... INFIX FUZZY): the best
 * min(k, matches) keys of edit class 1..maxd (maxd <= TRIE_FUZZY_MAX_EDITS;
 * flags 0 or TRIE_FUZZY_FIRST_ANY), by (class, score desc, key bytes),
 * cls 1 and edits the class. A key's class is the fewest edits it matches
 * with: every typed word but the last equals a distinct word of the key
 * (no edits), and the last typed word L stands for another word W of the
 * key within that many edits: without a trailing space, the prefix edit
 * distance of FUZZY (trie_fuzzy.h: OSA in characters against W's
 * prefixes, the first character exact unless FIRST_ANY); with one (L
 * complete), the full OSA distance of L and W, under the same first-
 * character rule. Class 0 -- an exact match, trie_words_topk's -- is never
 * returned. Ranges: the complete words' as trie_words_topk's greedy rule,
 * with W (the first position with the fewest edits) left out; L's is W's
 * start and the bytes of W it stands for (trie_fuzzy_dist's matchlen; all
 * of W with a trailing space). Work: the dictionary walk and the search
 * share the index's limit (trie_words_set_max_scan); past it *truncated is 1 and the hits are
 * the best ones found, in order (a correct prefix of the answer). Same
 * return values as trie_words_topk (TRIE_EINVAL also for maxd or flags). */
int trie_words_fuzzy_topk(const trie_words *w, const trie *t, const char *text, size_t len, unsigned maxd,
                          unsigned flags, unsigned k, trie_words_hit *out, int *truncated);
/* COMPLETE ... INFIX with edits allowed, the one answer the server and the
 * offline tools give (trie_words_edits.c says why this order):
 * trie_words_topk's exact word matches; then, when they are fewer than k,
 * the typo completions of the whole text with up to ed->maxd edits
 * (trie_fuzzy_topk_bounded, ed->flags, ed->max_work) and the matches with up
 * to ed->word_maxd edits on the last word (trie_words_fuzzy_topk), merged by
 * (edits, the text's completions first, score, key), a key already listed
 * skipped; nothing after the last word's last hit when its scan limit cut
 * it. Hits of the typo completions have cls 2, their edits, no ranges.
 * matchlen[i]: the key bytes the text matched as a prefix (the text's
 * length for class 0, the typo search's matchlen for cls 2, else 0).
 * Scratch: fscratch and wscratch of k hits each. *info: which searches were
 * cut (truncated: the exact word search's scan limit; word_truncated: the
 * last word's; fuzzy_cut: trie_fuzzy_info.cut of the typo search, 0 when
 * exact) and whether edits were looked for at all (searched). Returns the
 * count, or trie_words_topk's / trie_words_fuzzy_topk's error. */
typedef struct trie_words_edits {
    unsigned maxd;      /* typo completions of the whole text: up to this many edits (0: none) */
    unsigned word_maxd; /* edits on the last typed word (0: none) */
    unsigned flags;     /* TRIE_FUZZY_FIRST_ANY or 0 */
    uint64_t max_work;  /* the typo search's work limit (0: none) */
} trie_words_edits;
typedef struct trie_words_edits_info {
    int truncated, word_truncated;
    uint8_t fuzzy_cut, searched;
} trie_words_edits_info;
int trie_words_topk_edits(const trie_words *w, const trie *t, const char *text, size_t len,
                          const trie_words_edits *ed, unsigned k, trie_words_hit *out, uint16_t *matchlen,
                          trie_fuzzy_hit *fscratch, trie_words_hit *wscratch, trie_words_edits_info *info);
/* The last typed word of text[0..len), trailing spaces left out: its start
 * in *start, its length returned (0: no word). What FUZZY AUTO counts for
 * the last word's edits (trie_fuzzy_auto_edits on it). */
size_t trie_words_last_word(const char *text, size_t len, size_t *start);

/* Whether key matches the typed text with at most maxd edits on the last
 * word (trie_words_fuzzy_topk's rule, or an exact match: class 0): the
 * number of typed words, their ranges in rg, the class in *edits (when not
 * NULL); 0 when not; TRIE_WORDS_ETOOMANY / ETOOLONG. */
int trie_words_match_fuzzy(const char *text, size_t len, const char *key, size_t klen, unsigned maxd, unsigned flags,
                           trie_words_range *rg, unsigned *edits);

/* Whether key[0..klen) matches the typed text as trie_words_topk matches
 * (the same greedy rule, no index needed): the number of typed words, with
 * each one's range in the key in rg[TRIE_WORDS_MAX_TYPED]; 0 when it does
 * not match or nothing is typed; TRIE_WORDS_ETOOMANY / TRIE_WORDS_ETOOLONG.
 * What a caller that kept only the key (the ranker) highlights with. */
int trie_words_match(const char *text, size_t len, const char *key, size_t klen, trie_words_range *rg);

/* The work units one request may spend (LIMITS), for every search of w from
 * now on: TRIE_WORDS_SCAN_MIN..TRIE_WORDS_SCAN_MAX (else TRIE_EINVAL, w
 * unchanged); an index starts at TRIE_WORDS_MAX_SCAN (a build, a load). A
 * larger limit cuts fewer answers and lets one request take longer (~50-100
 * ns a unit at 10M keys). */
int trie_words_set_max_scan(trie_words *w, uint32_t units);
uint32_t trie_words_max_scan(const trie_words *w);

/* Words with a list, live postings, and bytes of the whole index; O(1):
 * counters kept by every change (STATS reads it on every call). */
void trie_words_memory(const trie_words *w, trie_words_mem *m);

/* The index saved beside a trie snapshot (trie_words_snap.c has the format
 * and what load checks): path.tmp, fsync, rename over path, fsync of the
 * directory; trie_id and trie_count: trie_snapshot_id of the snapshot of
 * the trie w indexes, as it is now (the same image). TRIE_OK, TRIE_EIO
 * (errno says why; path is untouched), TRIE_ENOMEM. */
int trie_words_save(const trie_words *w, const char *path, uint64_t trie_id, uint64_t nkeys);
/* Loads the index saved at path for trie t, just loaded from the snapshot
 * whose trie_snapshot_id is trie_id. TRIE_OK with *out; else *out NULL and
 * a one-line reason in err: TRIE_EIO (no file), TRIE_EFORMAT (bad,
 * truncated, another version, or saved with another snapshot), TRIE_ENOMEM.
 * Never crashes on a hostile file; the caller builds the index instead. */
int trie_words_load(const char *path, const trie *t, uint64_t trie_id, trie_words **out, char *err, size_t errlen);

/* The index saved beside the snapshot at path snapshot: snapshot.words
 * (trie_words_open.c). trie_words_path puts that name in buf: 0, or -1 when
 * it does not fit. trie_words_load_beside loads it for t, just loaded from
 * that snapshot: trie_words_load's results, TRIE_EIO with the reason when
 * there is no such file. trie_words_open loads it, else builds the index
 * from t (no file; or one refused -- another image, a bad file -- whose
 * reason is then in why, else why is empty); *loaded says which; snapshot
 * NULL always builds. TRIE_OK, or the load's TRIE_ENOMEM, or the build's
 * error. */
int trie_words_path(char *buf, size_t cap, const char *snapshot);
int trie_words_load_beside(const char *snapshot, const trie *t, trie_words **out, char *err, size_t errlen);
int trie_words_open(const char *snapshot, const trie *t, trie_words **out, int *loaded, char *why, size_t whylen);

/* Tests: every live key of t is in the postings of each of its words with
 * its bounds covering its score, nothing else is live, counts agree. 0 when
 * sound, else -1 and a reason. O(everything). */
int trie_words_check(const trie_words *w, const trie *t, char *err, size_t errlen);

#endif
