/* gen.h -- generated completions: candidates for prefixes whose completion
 * was never seen as a query (Mitra & Craswell, CIKM 2015, "Query
 * auto-completion for rare prefixes"; Lucene's FreeTextSuggester does the
 * same with n-grams).
 *
 * What: a suffix index (rank_gen) holds the most frequent word-boundary
 * suffixes of the trie's keys: for a key "cheap flights to paris" the
 * suffixes "flights to paris", "to paris" and "paris", each counted with the
 * key's score (its popularity), summed over every key that ends with it.
 * A prefix "hotels in par" then becomes candidates by keeping its first
 * words and completing the rest with a frequent suffix that begins with the
 * remaining typed text: keeping 2 words, "hotels in " + a suffix starting
 * with "par" ("paris", "paris france"); keeping 1, "hotels " + a suffix
 * starting with "in par" ("in paris"). Such a text may exist as a query or
 * not; the ranker gets its suffix frequency, the number of words kept, and
 * whether the trie knows it (rank_cand.gen, .sf; features.h).
 *
 * Layout: the index is itself a trie (trie/trie.h) of the kept suffixes with
 * their frequency as score, so "the most frequent suffixes that start with
 * x" is trie_topk: exact, bounded, allocation-free.
 *
 * Build (rank_gen_build, at server start, at RELOAD, and in `qac train` /
 * `qac eval` from the index they load): one walk over the trie's keys
 * (trie_foreach) counts every suffix in a table of at most
 * RANK_GEN_COUNT_FACTOR * max_suffixes entries (it starts small and
 * doubles, so a bound far above what the keys hold costs nothing); when it
 * fills, the entries of the lower half by count are dropped (a lossy count: a suffix dropped
 * and seen again starts from 0). The max_suffixes best (count desc, text
 * asc) then make the suffix trie. Exact when the trie has at most
 * RANK_GEN_COUNT_FACTOR * max_suffixes distinct suffixes (tests/
 * test_ranking_gen.c checks it against a brute force); otherwise the
 * frequent suffixes -- the ones kept -- lose at most what they had when
 * they were last dropped (rank_gen_info.pruned says whether it happened).
 * Not maintained under live ADD/INCR/DEL: the index is what the trie held
 * when it was built (the server rebuilds it at RELOAD; its key copy, made
 * in slices, notes the changes between them: see rank_gen_keys below). Whether a generated
 * text is a known key is looked up live (rank_gen_complete reads the trie).
 *
 * Known words: the same walk counts every word of every key with a space
 * (the keys it takes suffixes from; a one-word key is neither counted nor
 * copied), in a second table of at most max_words entries (--gen-words,
 * RANK_GEN_DEFAULT_WORDS) pruned like the suffixes' when it fills: the
 * words kept are all of them while they fit (rank_gen_info.words_pruned 0),
 * else the most frequent by the keys' scores, and a word dropped counts as
 * unknown. After the build the table shrinks to its entries and stays as
 * a hash set (rank_gen_knows): about 46 bytes a word (3.3 MB for the 71,297
 * words of the AOL dev index), on top of the suffix trie. max_words 0 keeps
 * none and every word counts as known.
 *
 * Why: on a mistyped prefix ("lrics on") the kept words are the typo, and
 * "lrics " + a frequent suffix ("online") is a class-0 candidate that ranks
 * above every typo match ("lyrics on demand", 1 edit) because no score
 * crosses a class (baseline.h). A kept word no key has is the evident case:
 * such a candidate is still made but marked (rank_gen_cand.unknown) and the
 * request ranks it after every class (rank_cand.after). Dropping it
 * instead costs correctly typed rare prefixes, which keep new words ("a
 * name no one searched" + "obituary") and are what generation is for.
 * Measured (README, issue 16): `qac replay --typos 0.2` FUZZY AUTO MRR of
 * the typo'd requests 0.341 -> 0.704 (0.780 without generation); `qac eval`
 * unchanged without matches, rand -0.0004 with --fuzzy 2 --infix; dropping
 * gave the same 0.704 but lost rand 0.5685 -> 0.5617 (unseen 0.2047 ->
 * 0.1917). A typo in the last, partial word, or one that makes another
 * known word, is not evident and still ranks as before.
 *
 * Per request (rank_gen_complete): for kept = m-1 .. 1 complete words of a
 * prefix with m words (the last one may be partial or empty), one
 * trie_topk on the suffix index for the rest of the prefix, until `max`
 * candidates are made; texts longer than TRIE_MAX_KEY and duplicates are
 * skipped; a candidate whose kept words include one the index does not
 * know is marked unknown. A prefix without a complete word makes none.
 * Work: at most RANK_GEN_MAX_KEPT topk calls of at most `max` hits, and
 * one hash lookup per complete word of the prefix.
 *
 * Training: `qac train --gen-candidates N` shows the model generated
 * candidates too, but it leaks: the index is built from the training
 * index, which counts every training query, so a training target always
 * contributes its own suffixes and is generated far more often than a
 * query nobody typed before the split can be. Measured on the AOL dev log
 * (README): the model learns to trust generated candidates and ranks the
 * user's history lower (seen group and len1..len5 below the model trained
 * without them). The model that serves is therefore trained without
 * generation (train's default 0) and ranks generated candidates with its
 * base, the heuristic (g = 0 unless the text is a key): they fill the list
 * where known completions run out or score low, which is where they help.
 *
 * Errors: rank_gen_build returns 0 or a negative TRIE_E* code. Ownership:
 * rank_gen owns its trie; rank_gen_complete writes into caller memory.
 */
#ifndef QAC_RANK_GEN_H
#define QAC_RANK_GEN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ranking/baseline.h"
#include "trie/trie.h"

#define RANK_GEN_DEFAULT_SUFFIXES 100000 /* suffixes kept in the index (--gen-suffixes) */
#define RANK_GEN_MAX_SUFFIXES 10000000   /* the largest --gen-suffixes */
#define RANK_GEN_COUNT_FACTOR 4          /* counting table = this * max_suffixes entries */
#define RANK_GEN_DEFAULT_WORDS 1000000   /* known words kept (--gen-words; 0 = every word known) */
#define RANK_GEN_MAX_WORDS 100000000     /* the largest --gen-words */
#define RANK_GEN_DEFAULT_CANDS 5         /* generated candidates per request (serve, eval; 0 = off) */
#define RANK_GEN_TRAIN_DEFAULT_CANDS 0   /* ... in qac train (see "Training" above) */
/* RANK_MAX_GEN_CANDS (baseline.h): the largest --gen-candidates */
#define RANK_GEN_COPY_BLOCK (1u << 22) /* bytes per block of a key copy (rank_gen_keys) */
#define RANK_GEN_DEFAULT_COPY_SLICE 1024 /* key ids copied per loop turn (--gen-copy-slice) */
#define RANK_GEN_MAX_COPY_SLICE (1u << 24) /* the largest --gen-copy-slice */
/* bytes of changes one key copy may note (--gen-copy-note-bytes; whole
 * RANK_GEN_COPY_BLOCK blocks): past it the copy stops, no build */
#define RANK_GEN_DEFAULT_COPY_NOTE_BYTES (64ull << 20)
#define RANK_GEN_MIN_COPY_NOTE_BYTES ((uint64_t)RANK_GEN_COPY_BLOCK)
#define RANK_GEN_MAX_COPY_NOTE_BYTES (1ull << 40)
#define RANK_GEN_CANCELLED 1             /* rank_gen_build_keys: *cancel was set */
#define RANK_GEN_CANCEL_EVERY 4096       /* keys counted between two looks at *cancel */
#define RANK_GEN_MAX_KEPT 8 /* prefix words kept, at most (deeper prefixes keep their last 8 words' worth) */

typedef struct rank_gen rank_gen;

typedef struct rank_gen_info {
    uint64_t keys;       /* trie keys walked */
    uint64_t occurrences; /* suffix occurrences counted */
    uint64_t distinct;   /* distinct suffixes seen (exact unless pruned) */
    uint64_t kept;       /* suffixes in the index */
    uint64_t pruned;     /* times the counting table dropped its lower half (0: exact) */
    uint64_t bytes;      /* the index's memory (its trie's bytes_alloc + word_bytes) */
    double secs;
    uint64_t words;          /* known words kept (0 with max_words 0: every word counts as known) */
    uint64_t words_distinct; /* distinct words seen (exact unless words_pruned) */
    uint64_t words_pruned;   /* times the word table dropped its lower half (0: exact) */
    uint64_t word_bytes;     /* the word set's memory */
} rank_gen_info;

/* A generated candidate (caller memory). */
typedef struct rank_gen_cand {
    char text[TRIE_MAX_KEY];
    uint32_t len;
    uint32_t kept; /* prefix words kept, >= 1 */
    double sf;     /* the suffix's frequency */
    uint8_t unknown; /* a kept word is not a known word (the request ranks it last: rank_cand.after) */
} rank_gen_cand;

/* Builds the index of t's keys: max_suffixes 1 .. RANK_GEN_MAX_SUFFIXES,
 * max_words 0 .. RANK_GEN_MAX_WORDS (else TRIE_EINVAL). info may be NULL. */
int rank_gen_build(const trie *t, uint64_t max_suffixes, uint64_t max_words, rank_gen **out, rank_gen_info *info);
/* Entries a counting table starts with before it doubles (4096; a build's
 * figures never depend on it). Only tests change it, to make their small
 * corpora grow the tables. */
extern size_t rank__gen_counter_start;

void rank_gen_free(rank_gen *g);

/* Building off the trie's thread (engine/rank/ranker_gen.c): a private
 * copy of what a build reads -- every key with a space, and its score --
 * taken on the thread that owns the trie in slices, then built on any
 * thread. rank_gen_keys_begin starts an empty copy; each
 * rank_gen_keys_step copies the next `slice` key ids (ids, live or free:
 * the work of a step is bounded by slice, whatever the trie's size) and
 * returns 0 (more to copy), 1 (done: the copy stands for the trie as it is
 * now) or TRIE_ENOMEM. Between steps the trie may change, provided every
 * change is told with rank_gen_keys_note (the key, and its score after the
 * change or deleted = 1); notes after the last step are ignored.
 * rank_gen_build_keys of a finished copy makes exactly the index
 * rank_gen_build makes of the trie as it was when the last step ended (the
 * same keys, in key order, through the same counting code; see "the key
 * copy" in gen.c for why). rank_gen_keys_copy is the copy in one step.
 * cancel (may be NULL) is polled every RANK_GEN_CANCEL_EVERY keys: set, the
 * build stops and returns RANK_GEN_CANCELLED. The copy is read-only while a
 * build reads it; free it after. */
typedef struct rank_gen_keys rank_gen_keys;
int rank_gen_keys_begin(rank_gen_keys **out);                               /* 0 or TRIE_ENOMEM */
int rank_gen_keys_step(rank_gen_keys *k, const trie *t, uint64_t slice);   /* 0, 1 (done) or TRIE_ENOMEM */
/* 0, TRIE_ENOMEM, or TRIE_EFULL: the note needs a block past the copy's note
 * bound (rank_gen_keys_limit_notes; none by default) and was not kept */
int rank_gen_keys_note(rank_gen_keys *k, const char *key, size_t len, int deleted, double score);
void rank_gen_keys_limit_notes(rank_gen_keys *k, uint64_t bytes);
uint64_t rank_gen_keys_note_bytes(const rank_gen_keys *k); /* the notes' memory */
int rank_gen_keys_copy(const trie *t, rank_gen_keys **out); /* 0 or TRIE_ENOMEM */
void rank_gen_keys_free(rank_gen_keys *k);
int rank_gen_keys_done(const rank_gen_keys *k);
uint64_t rank_gen_keys_count(const rank_gen_keys *k);   /* keys copied (the ones with a space) */
uint64_t rank_gen_keys_changes(const rank_gen_keys *k); /* changes noted (to keys with a space) */
uint64_t rank_gen_keys_bytes(const rank_gen_keys *k);   /* the copy's memory */
int rank_gen_build_keys(const rank_gen_keys *k, uint64_t max_suffixes, uint64_t max_words, const atomic_int *cancel,
                        rank_gen **out, rank_gen_info *info);
/* Whether w is a known word (gen.h, "Known words"); 1 for any w when the
 * index was built with max_words 0. */
int rank_gen_knows(const rank_gen *g, const char *w, size_t len);
const trie *rank_gen_trie(const rank_gen *g); /* the suffixes and their frequencies */

/* Up to max (<= RANK_MAX_GEN_CANDS) generated candidates of prefix p into
 * out[], most words kept first, then by suffix frequency, each marked
 * unknown when a kept word is not a known word; scratch holds max hits.
 * Returns how many. */
size_t rank_gen_complete(const rank_gen *g, const char *p, size_t plen, unsigned max, trie_hit *scratch,
                         rank_gen_cand *out);

#endif
