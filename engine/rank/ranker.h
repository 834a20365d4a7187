/* ranker.h -- eng_rank: the server's learned ranking service. Owns the Redis
 * client (engine/rank/rclient.h), the vector cache (ranking/veclru.h), the model
 * (ranking/ftrl.h), optional local embeddings (ranking/embed.h) and, without
 * Redis, the in-process history (ranking/history_mem.h).
 *
 * COMPLETE with a USER or SESSION (eng_rank_complete):
 *   1. candidates: the trie's top `candidates` for the prefix;
 *   2. ONE pipelined round trip at most: MGET NS:vV:q:<c> of the candidates
 *      whose vector is not cached, HGETALL of the user, LRANGE of the
 *      session (ranking/history_redis.h); a deadline timer (deadline_ms);
 *   3. whichever comes first -- every reply, or the deadline -- answers:
 *      candidates are gathered again from the trie as it is NOW plus the
 *      user's history if it arrived, vectors from the cache, scored by the
 *      model (or the heuristic without one), top k. Answered at the
 *      deadline = degraded (counted). Late replies still fill the cache and
 *      are otherwise dropped; they never reach the caller.
 *   Vectors the answer lacked that the history revealed (history-only
 *   candidates, session queries) are fetched right after, fire and forget,
 *   for the next keystroke.
 * Without Redis everything is synchronous: in-process history, vectors from
 * --embeddings composed on a cache miss.
 *
 * State of a pending request (eng_rank_pending, pooled, its deadline timer
 * lives with it):  WAITING --(all replies | deadline)--> ANSWERED
 *                  WAITING --eng_rank_cancel--> CANCELLED (callback never runs)
 * `answered` is set exactly once, by the first of the two paths, before the
 * callback: the other path sees it and does nothing. The struct returns to
 * the pool when it is answered or cancelled AND no Redis callback is
 * outstanding (rcl runs each exactly once, so the count reaches 0).
 *
 * ACCEPT (eng_rank_accept): with Redis, the reads of a COMPLETE for PREFIX
 * go out first, then the history writes, on the same connection (so the
 * reads see the history before this accept); when the reads return, the
 * candidates are rebuilt and the model learns (rank_learn_accept) if the
 * accepted query is among them. Without Redis the same happens at once
 * against the in-process history.
 *
 * Version of the embeddings: NS:current is read at start, every
 * version_check_ms, and on eng_rank_reload; on a change dims and buckets are
 * read from NS:vV:meta, the cache is dropped, and the n-gram bucket table
 * NS:vV:b:<bucket> is loaded into the process in the background (bounded by
 * ngram_bytes; design in ranker.c). Once it is loaded every vector is
 * composed in process from the n-grams of its text (rank_emb_ngrams +
 * rank_emb_compose_rows, as the offline tools do), so text never seen in
 * training (session queries, history entries) gets one too.
 *
 * Generated completions (gen_candidates > 0; ranking/gen.h): the suffix
 * index is built from the trie at eng_rank_new and again at every
 * eng_rank_reload, off the loop (ranker_gen.c): the keys are copied on the
 * loop, a worker thread builds, the loop swaps the new index in when it is
 * done; until then the old one serves (none at start: no generated
 * candidates). It does not follow ADD/INCR/DEL in between; whether a
 * generated text is a key is read live. rank_req_gather adds up to
 * gen_candidates of them to every ranked request, flagged rank_cand.gen.
 *
 * Typo and infix matches (eng_rank_match, from the request's FUZZY and
 * INFIX): rank_req_gather adds them after the completions, each of its match
 * class, when fewer than k completions were gathered; rank_top orders by
 * class first (ranking/baseline.h "Match class"): exact, then the infix
 * matches, then 1 edit, then 2 edits; the model orders within each class.
 * The word index is the engine's (eng_rank_set_words: a pointer to its
 * pointer, read when the request is answered, so a request waiting on Redis
 * never holds an index that was dropped meanwhile).
 *
 * Errors: eng_rank_new returns NULL with a reason in err. Ownership: the
 * ranker borrows the trie and the loop; texts in a result point into the
 * trie or the request's history and are valid only during the callback (or,
 * for a synchronous answer, until the next change to the trie).
 */
#ifndef QAC_ENG_RANKER_H
#define QAC_ENG_RANKER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ranking/baseline.h"
#include "ranking/gen.h"
#include "trie/trie.h"
#include "trie/trie_words.h"

#define ENG_RANK_DEFAULT_DEADLINE_MS 2
#define ENG_RANK_MAX_DEADLINE_MS 10000
#define ENG_RANK_DEFAULT_CANDIDATES 50
#define ENG_RANK_MAX_RESULT 100 /* = SRV_MAX_K */
#define ENG_RANK_VERSION_CHECK_MS 1000
#define ENG_RANK_MAX_SESSION 10 /* session queries a ranked request reads (= RANK_REQ_MAX_SESS, ranking/request.h) */
#define ENG_RANK_MAX_POOL 4096  /* pending requests at once; more are answered degraded at once */
/* n-gram bucket table held in process (--ngram-bytes): buckets * (4 + dims)
 * bytes; a bigger table is not loaded (no vectors for unseen text). 0 = off. */
#define ENG_RANK_DEFAULT_NGRAM_BYTES (64ull << 20)
#define ENG_RANK_MAX_NGRAM_BYTES (1ull << 40)
#define ENG_RANK_NGRAM_BATCH 512   /* bucket keys per MGET while loading the table */
#define ENG_RANK_NGRAM_INFLIGHT 2  /* such MGETs outstanding at once */

/* state of the n-gram table (STATS rank_ngram_state) */
#define ENG_RANK_NG_OFF 0     /* no Redis, no version yet, ngram_bytes 0, or meta without buckets */
#define ENG_RANK_NG_LOADING 1 /* being fetched: no composed vectors yet */
#define ENG_RANK_NG_READY 2   /* every vector is composed from it */
#define ENG_RANK_NG_TOOBIG 3  /* buckets * (4 + dims) > ngram_bytes: not loaded */
#define ENG_RANK_NG_FAILED 4  /* a fetch failed (Redis lost, error reply); retried at the next version check */

typedef struct eng_rank_opts {
    const char *redis;      /* HOST:PORT, or NULL: no Redis */
    const char *ns;         /* key namespace ("qac") */
    const char *model;      /* MODEL file, or NULL */
    const char *model_save; /* where learned weights go (NULL: the model file) */
    const char *embeddings; /* EMB file, or NULL */
    uint32_t deadline_ms;
    uint64_t cache_bytes;
    uint32_t candidates;    /* 1 .. TRIE_MAX_K */
    uint64_t ngram_bytes;   /* bound of the in-process n-gram table (0 = never load it) */
    uint32_t gen_candidates; /* generated completions per request (ranking/gen.h; 0 = off) */
    uint64_t gen_suffixes;   /* suffixes in their index, 1 .. RANK_GEN_MAX_SUFFIXES */
    uint64_t gen_words;      /* known words kept, 0 (every word known) .. RANK_GEN_MAX_WORDS */
    uint64_t gen_copy_slice; /* key ids their build copies per loop turn, 1 .. RANK_GEN_MAX_COPY_SLICE */
    uint64_t gen_copy_note_bytes; /* the most bytes of changes noted during one copy (RANK_GEN_*_COPY_NOTE_BYTES) */
} eng_rank_opts;

typedef struct eng_rank_stat {
    int redis_enabled, redis_up;
    uint64_t redis_reconnects, redis_errors;
    uint64_t redis_master_switches; /* --redis sentinel://...: a Sentinel named another master */
    uint64_t requests, degraded, deadline_misses;
    uint64_t cache_hits, cache_misses, cache_bytes, cache_entries;
    uint64_t online_updates, online_skipped, history_writes, history_write_errors;
    uint64_t emb_version; /* NS:current in use (0: none) */
    uint64_t model_updates;
    uint64_t model_checksum; /* rank_ftrl_checksum of the weights now (0 without a model) */
    int has_model;
    /* n-gram table */
    int ngram_state;        /* ENG_RANK_NG_* */
    uint64_t ngram_bytes;   /* allocated for the table (0 unless LOADING or READY) */
    uint64_t ngram_rows;    /* non-empty bucket rows in the table */
    uint64_t ngram_bad_rows; /* rows refused (wrong length, bad scale): taken as empty */
    uint64_t ngram_loads, ngram_failures; /* tables completely loaded; loads abandoned */
    uint64_t ngram_composed;  /* vectors composed from the table (cache misses) */
    uint64_t ngram_fallbacks; /* cache misses with no table to compose from (loading, too big, ...) */
    /* generated completions (ranking/gen.h) */
    uint64_t gen_suffixes, gen_bytes; /* the suffix index (0: off) */
    uint64_t gen_words;               /* its known words (0: off, or gen-words 0) */
    uint64_t gen_builds;              /* times it was built and swapped in (start, RELOAD) */
    int gen_building;                 /* 1 while a build runs off the loop (ranker_gen.c) */
    int gen_copying;                  /* 1 while its key copy runs, a slice per loop turn (part of building) */
    uint64_t gen_copy_slices;         /* the last key copy's slices (loop turns) */
    uint64_t gen_build_ms;            /* the last build's duration, on the worker */
    uint64_t gen_copy_ms;             /* the last key copy's loop time, summed over its slices */
    uint64_t gen_copy_bytes;          /* the last key copy's memory (freed when its build ends) */
    uint64_t gen_unready;             /* ranked requests served before the first index was built */
    uint64_t gen_requeued;            /* RELOADs that joined a build already queued */
    uint64_t gen_failures;            /* builds that failed (the old index stays) */
    uint64_t gen_note_overflows;      /* of them, copies dropped at gen-copy-note-bytes */
} eng_rank_stat;

/* What a ranked COMPLETE's FUZZY / INFIX allow (all zero: exact only). */
typedef struct eng_rank_match {
    unsigned edits;          /* typo matches with up to this many edits (0..TRIE_FUZZY_MAX_EDITS) */
    unsigned fuzzy_flags;    /* TRIE_FUZZY_FIRST_ANY or 0 */
    uint64_t fuzzy_max_work; /* work limit of the typo search (0: none) */
    int infix;               /* 1: infix matches (needs eng_rank_set_words) */
    unsigned word_edits;     /* with infix: edits on the last typed word (eng_fuzzy_word_edits; 0: none) */
} eng_rank_match;

typedef struct eng_rank_result {
    size_t n;
    rank_cand c[ENG_RANK_MAX_RESULT];
    int degraded;
    unsigned fuzzy_cut; /* the edit class fuzzy-max-work cut in the typo search (0: none; rank_req.fuzzy_cut) */
    int infix_cut;      /* 1 when the infix search's scan limit cut it */
} eng_rank_result;

typedef struct eng_rank eng_rank;
typedef struct eng_rank_pending eng_rank_pending;
typedef void (*eng_rank_cb)(void *ud, const eng_rank_result *res);

void eng_rank_opts_default(eng_rank_opts *o);
eng_rank *eng_rank_new(uv_loop_t *loop, trie *t, const eng_rank_opts *o, char *err, size_t errlen);
/* Call after every connection closed (requests still waiting are answered,
 * degraded, through their callback while it closes). Closes the Redis client and the timers (the loop must run after), saves
 * the model when it learned, frees the rest once closed. */
void eng_rank_close(eng_rank *R);

/* The word index infix matches come from: *words (NULL: none), read at
 * every answer; words itself must outlive R. */
void eng_rank_set_words(eng_rank *R, trie_words *const *words);

/* p: normalized prefix. user/session may be NULL/0 (not both, or the answer
 * is the plain trie order). m: its typo / infix matches (NULL: none). Returns 1 when res was filled now (no
 * callback), 0 when the answer comes later through cb (exactly once unless
 * eng_rank_cancel(*h) is called first). */
int eng_rank_complete(eng_rank *R, const char *p, size_t plen, const char *user, size_t ulen, const char *sess,
                      size_t slen, unsigned k, const eng_rank_match *m, eng_rank_result *res, eng_rank_cb cb,
                      void *ud, eng_rank_pending **h);
void eng_rank_cancel(eng_rank_pending *h);

/* q (normalized) accepted by user (may be NULL: nothing to learn or store)
 * after typing prefix (may be NULL): stored in the user's history; the
 * model learns from it when may_learn (the accept guard's verdict,
 * engine/guard.h) and a prefix is given. */
void eng_rank_accept(eng_rank *R, const char *q, size_t qlen, const char *user, size_t ulen, const char *sess,
                     size_t slen, const char *prefix, size_t plen, int may_learn);

/* For tests and debugging: q's vector (dims floats into out, at most
 * RANK_EMB_MAX_DIMS) as scoring would use it now: from the cache, else
 * composed from the n-gram table (or the local EMB without Redis). Returns 1
 * when it has one, else 0. May fill the cache; counts like scoring does. */
int eng_rank_debug_vector(eng_rank *R, const char *q, size_t len, float *out);

/* Reloads the model file and re-reads NS:current. 0 or -1 with err. */
int eng_rank_reload(eng_rank *R, char *err, size_t errlen);
/* Saves the learned weights (to model_save or the model file). */
int eng_rank_save(eng_rank *R, char *err, size_t errlen);
void eng_rank_stats(const eng_rank *R, eng_rank_stat *s);
/* 1 when a model is loaded (every COMPLETE is then ranked), else 0. Cheap. */
int eng_rank_has_model(const eng_rank *R);
const rank_gen *eng_rank_gen(const eng_rank *R); /* the index that serves (NULL: none yet, or off) */
/* Call after every change to the trie R serves: the key (normalized) and
 * its score after the change, or deleted. While the suffix index's build
 * copies the keys in slices, it keeps the change so that the index equals
 * a build over the keys as they are when the copy ends (ranker_gen.c). */
void eng_rank_changed(eng_rank *R, const char *key, size_t klen, int deleted, double score);

/* --- fleet-shared learning (ranker_fleet.c; engine/changelog.h "MODEL
 * UPDATES") -----------------------------------------------------------------
 * eng_rank_fleet_start: from now on a learned ACCEPT does not change the
 * weights: its steps (ranking/ftrl_delta.h) go to publish(ud, version, ...)
 * and come back through eng_rank_fleet_apply in stream order, on every
 * replica alike. Returns the model version (rank_ftrl_checksum of the model
 * as loaded from --model; RELOAD of another file changes it), 0 without a
 * model (nothing published then). */
typedef void (*eng_rank_publish_fn)(void *ud, uint64_t version, const void *upd, size_t len);
uint64_t eng_rank_fleet_start(eng_rank *R, eng_rank_publish_fn publish, void *ud);
uint64_t eng_rank_fleet_version(const eng_rank *R);
/* 1 applied, 0 for another model version (nothing done), -1 bad (why). */
int eng_rank_fleet_apply(eng_rank *R, uint64_t version, const void *upd, size_t len, const char **why);
/* Checkpoint: the weights (MODEL format) in PATH.0 or PATH.1, alternately,
 * then PATH (one line: version, the stream position pos they include, the
 * slot) replaced by rename: a crash leaves the previous pair intact.
 * unchanged: the weights are those of the last save: only the line moves.
 * save: 0 or -1 with err. load: 1 loaded (pos filled, POS_CAP bytes), 0 none
 * or of another version (logged), -1 error (err). */
int eng_rank_fleet_save(eng_rank *R, const char *path, const char *pos, int unchanged, char *err, size_t errlen);
int eng_rank_fleet_load(eng_rank *R, const char *path, char *pos, size_t poscap, char *err, size_t errlen);

/* ranker_fleet.c for ranker.c: the learning of one ACCEPT (R->req, n
 * candidates, pos accepted); fleet or local. Returns the steps. */
int eng_rank__learn(eng_rank *R, size_t n, size_t pos);

#endif
