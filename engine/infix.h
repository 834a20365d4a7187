/* infix.h -- COMPLETE ... INFIX: "words anywhere" completions (issue 15), the
 * engine's side of the word index (trie/trie_words.h).
 *
 * The eng owns at most one trie_words over its trie (e->words), built once
 * the trie is final at start (after the snapshot load and the journal
 * replay: eng_words_build) when the infix-index setting is yes, and kept
 * exact by every change the commands make (ADD, INCR, DEL, ACCEPT: the
 * eng_words_* hooks below, called by cmd.c right after the trie changed).
 * RELOAD and SIGHUP do not touch the trie, so they leave a live index
 * alone; one that was dropped (below) they rebuild (eng_words_reload).
 * Every snapshot written (the save child, SAVE) gets the index beside it,
 * SNAPSHOT.words (eng_words_save; format and checks in
 * trie/trie_words_snap.c), tied to that image; a start loads it
 * (eng_words_load) before the journal replay, which then applies to it as
 * to the trie (eng_words_replay), and srv_run adopts it (eng_words_start).
 * A missing, bad, or mismatched file (another snapshot, an older one
 * without it) is logged and the index is built instead, after the replay;
 * load and build times are logged; README gives the 10M figures.
 *
 * If the index cannot follow a change (out of memory, or TRIE_EFULL after
 * 2^30 forward word ids between builds), it is dropped, never left
 * inexact: STATS infix_index goes to 0, infix_index_errors counts it, the
 * log says why, and INFIX requests get ERR ARGS "INFIX needs the word
 * index ..." until RELOAD (or SIGHUP) rebuilds it, or the next start. The
 * rebuild runs on the loop: ~2.5 s at 1M keys, about a minute at 10M.
 *
 * A request: eng_complete_search with ctx->infix set comes here. Without
 * edits the answer is trie_words_topk's (ordinary completions first, then
 * the other word matches; each by score). With edits allowed (FUZZY or the
 * fuzzy setting), trie_words_topk_edits's (which `qac complete --infix
 * --fuzzy` answers with too): the exact word matches come first and, when
 * there are fewer than k, the matches with edits follow by (edits, kind,
 * score, key), each key once in its best place: the typo-tolerant prefix
 * completions of the whole text (as without INFIX: eng_fuzzy_edits,
 * fuzzy-max-work) before, with as many edits, the keys where the LAST
 * typed word stands for another word with edits (trie_words_fuzzy_topk: eng_fuzzy_word_edits, AUTO by that word's
 * characters; its ranges: the part of the key word it stands for, no
 * prefix "match"). When the scan limit cut the word search, nothing is
 * listed after its last hit (the answer stays a correct prefix). With the ranker (USER/SESSION
 * or a model) this function is not called: the ranker gathers the same
 * matches through the index it is pointed at (eng_rank_set_words) and
 * orders within each class (ranking/request.h, eng_rank_takes); it
 * refuses nothing but a dropped index (eng_rank_takes 0: answered here).
 */
#ifndef QAC_ENGINE_INFIX_H
#define QAC_ENGINE_INFIX_H

#include <stddef.h>
#include <stdint.h>

#include "engine/store/journal.h"
#include "trie/trie_words.h"

struct eng;
struct eng_ctx;

/* Builds e->words over e->t when cfg infix-index is yes (logs the time and
 * size). Returns 0, or -1 (logged; the server runs without the index). */
int eng_words_build(struct eng *e);
void eng_words_free(struct eng *e);

/* At start, right after trie_load(index) gave t: the word index saved with
 * that snapshot when enabled (infix-index yes) and it is there, sound and
 * tied to that very image; else NULL (logged: infix.not_saved, or
 * infix.load_failed with the reason), and the index is built later. */
trie_words *eng_words_load(const char *index, int enabled, const trie *t);
/* jrn_recover_keys' key_fn (ud: trie_words **, *ud may be NULL): applies
 * the record to t and to the loaded index as the live hooks below do; if the
 * index cannot follow, it is freed and *ud set to NULL (logged: built after
 * the replay). Returns the trie's code. */
int eng_words_replay(void *ud, trie *t, const jrn_rec *r);
/* srv_run, once the trie is final: takes the loaded index (STATS
 * infix_index_loaded 1), or builds one when loaded is NULL
 * (eng_words_build). */
int eng_words_start(struct eng *e, trie_words *loaded);
/* After the trie snapshot was written to `snapshot` from this same image
 * (the save child, or SAVE without one): writes e->words beside it
 * (trie_words_save, tied to the snapshot's trie_snapshot_id), or removes a
 * stale file when there is no index. 0, or -1 with errno. */
int eng_words_save(const struct eng *e, const char *snapshot);
/* 1 when infix-index is yes and the index was dropped after an error or its
 * build failed (an eng that never built one is not missing it). */
int eng_words_missing(const struct eng *e);
/* RELOAD / SIGHUP (why: who asked, for the log): rebuilds a dropped index.
 * 1 rebuilt, 0 nothing to do, -1 the build failed (logged). */
int eng_words_reload(struct eng *e, const char *why);

/* After trie_set / trie_incr of e->norm succeeded; count_before is
 * trie_count(e->t) before the change (a grown count: the key was created). */
void eng_words_after_set(struct eng *e, uint64_t count_before);
/* Before trie_del of e->norm: the key's id (UINT32_MAX when absent or no
 * index); after the delete succeeded, eng_words_after_del with it. */
uint32_t eng_words_before_del(struct eng *e);
void eng_words_after_del(struct eng *e, uint32_t id);

/* Sets the index's work limit per request to the infix-max-scan setting
 * (both the unranked search and the ranker's read e->words). */
void eng_words_limit(struct eng *e);
/* The INFIX search for e->norm (eng_complete_search). Returns n or ENG_ERR. */
int eng_complete_infix(struct eng *e, unsigned k, const struct eng_ctx *ctx, const char **msg);

/* HTTP highlighting of infix hit i: the display byte range of each matched
 * word (in typed order) into s/e_; returns how many (0 for a hit of the
 * typo fill, which matched no words). */
int eng_infix_ranges(const struct eng *e, int i, uint32_t *s, uint32_t *e_, int cap);

/* Highlighting of hit i of the last eng_complete, as the HTTP answer shows
 * it (server_http.c) and COMPLETE WITHMATCH sends it: *match_end, the end of
 * the display bytes the typed prefix matched (with edits: the display part
 * that normalizes to the key bytes the typo search matched; 0: none), and
 * for an INFIX request each matched word's range (eng_infix_ranges: returns
 * their count), else -1. */
int eng_hit_highlight(const struct eng *e, int i, uint32_t *match_end, uint32_t *s, uint32_t *e_, int cap);
/* The same for a candidate the ranker returned, which keeps only its key:
 * key[0..klen) shown as disp[0..dl), matched with edits (0: typed right) or,
 * other_words, an infix match not starting with the typed text (no
 * "match"); np[0..nplen) the normalized prefix; infix: the request had
 * INFIX, so the matched words' ranges are found again (trie_words_match:
 * the index's own rule) into s/e_ and counted, else -1. */
int eng_cand_highlight(const struct eng *e, const char *key, size_t klen, unsigned edits, int other_words,
                       const char *disp, size_t dl, const char *np, size_t nplen, int infix, uint32_t *match_end,
                       uint32_t *s, uint32_t *e_, int cap);
/* HTTP/WITHMATCH word ranges rg[0..nr) of key, shown as disp: display
 * byte ranges into s/e_; returns how many. */
int eng_word_ranges(const char *key, const char *disp, size_t displen, const trie_words_range *rg, int nr,
                    uint32_t *s, uint32_t *e_, int cap);

#endif
