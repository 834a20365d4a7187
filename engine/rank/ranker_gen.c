/* ranker_gen.c -- the suffix index of generated completions, built off the
 * event loop (ranking/gen.h; issue 16).
 *
 * Why: building the index walks every key and counts every word-boundary
 * suffix: 3.3 s for the AOL dev log, 4.1 s at 1M keys, tens of seconds at
 * 10M. Built on the loop, every request waited that long at start and at
 * each RELOAD.
 *
 * How, in two phases:
 *   1. the copy, on the loop, in slices: a uv_idle handle copies the next
 *      --gen-copy-slice key ids (RANK_GEN_DEFAULT_COPY_SLICE) per loop turn
 *      into a private copy (rank_gen_keys_step: each key with a space and
 *      its score), so between two slices the loop serves requests, runs
 *      timers and applies ADD/INCR/DEL. A slice is bounded by ids, not by
 *      keys found, so its work (a trie_get_id each: a key decode, no tree
 *      walk) is bounded whatever the index's size: the loop's longest stall
 *      from the copy is one slice (measured in README, "Generated
 *      completions").
 *   2. the build, on libuv's thread pool (uv_queue_work): a NEW rank_gen
 *      from that copy alone; the after-work callback, on the loop again,
 *      swaps it in (rank_req_set_gen) and frees the old index.
 * Until then requests use the old index (RELOAD) or none (start:
 * generation is off as with --gen-candidates 0; rank_gen_unready counts
 * the ranked requests served so).
 *
 * Live changes while the copy runs: the engine calls eng_rank_changed after
 * every change to the trie (engine/cmd.c, change_done: ADD, INCR, DEL,
 * ACCEPT, the changelog's changes); while the copy runs it is noted in the
 * copy (rank_gen_keys_note: the key and its score after the change, or
 * deleted). The build then reads the copy merged: every noted key replaced
 * by its last noted state, the rest in key order, which is exactly the trie
 * as it was when the last slice was copied (gen.c, "the key copy", argues
 * it; tests/test_ranking_gen.c and tests/test_engine_ranker.c check it with
 * random changes between many tiny slices). Why notes, not re-copying the
 * slices a change lands in: a note is O(key) per change, whatever the slice,
 * and the copy always ends (one pass over the ids), while re-copied slices
 * could be dirtied again forever under a steady write load. Why not patch
 * the built index instead: it is lossy past the counting table (a pruned
 * suffix cannot be un-counted) and summing in another order changes the
 * doubles; the merged copy keeps the build a pure function of the final keys.
 * Why not read the trie from the worker: the trie has no lock, no versioned
 * nodes and no copy-on-write; any read during a loop write is a data race.
 * Changes after the last slice belong to the next RELOAD, as before.
 * The notes are bounded (--gen-copy-note-bytes, RANK_GEN_DEFAULT_COPY_NOTE_BYTES):
 * the copy itself is bounded by the trie, but notes grow with the writes,
 * and a burst of writes during a long copy (seconds at 10M keys) must not
 * take the memory. Past the bound the copy is dropped, not finished without
 * the change (that index would be wrong): no build, the old index stays
 * (none at start), STATS rank_gen_note_overflows counts it, the log says
 * what to do, and the next RELOAD tries again. Not retried at once: under
 * the same write load it would fail the same way, each time after a copy.
 *
 * The job shares nothing else with the loop: the worker owns the copy
 * (freed on the worker as soon as counted), its result and its info; it
 * reads R never (only the options copied into the job). The worker's only
 * shared state is job->cancel (atomic).
 *
 * At most one job runs. A RELOAD while one runs asks for one more build
 * (gen_again): it starts, from a fresh copy, when the running one ends;
 * further RELOADs meanwhile join that one (rank_gen_requeued counts them).
 * Memory: the old index serves while the new one is built; at the swap the
 * old is freed, so two indexes and one copy live together at most.
 *
 * Shutdown (eng_rank_close): a copy that runs stops (its idle handle is
 * closed; the close callback frees the job); a build that runs sees the
 * job's cancel flag, polled every RANK_GEN_CANCEL_EVERY keys while it counts
 * (the final sort and trie build of at most --gen-suffixes entries are not
 * interrupted), so it returns within milliseconds; a job not yet started is
 * cancelled by uv_cancel. The job counts in R->open_handles from its start,
 * and R is freed only after the job is.
 *
 * The thread pool is libuv's (4 threads unless UV_THREADPOOL_SIZE); the
 * durable store's fsync (server_durable.c) shares it, and this job holds
 * one thread at most.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/rank/ranker_internal.h"

enum { GEN_COPYING, GEN_COPIED, GEN_BUILDING }; /* the job's phase */

struct eng_rank_genjob {
    uv_work_t w;
    uv_idle_t idle; /* one slice of the copy per loop turn */
    eng_rank *R;
    rank_gen_keys *keys; /* the worker's from GEN_BUILDING on, freed by it */
    uint64_t max_suffixes, max_words, slice;
    atomic_int cancel;
    int phase;
    int copy_rc; /* the copy's: 0 or a TRIE_E* code (no build then); TRIE_EFULL: notes past the bound */
    int rc;
    rank_gen *out;
    rank_gen_info info;
    uint64_t copy_ns, slice_max_ns, slice_max_cpu_ns, slices, changes;
};

static uint64_t thread_cpu_ns(void) { /* a slice's own work, without the time the loop's thread waits for a core */
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void gen_work(uv_work_t *w) {
    eng_rank_genjob *j = w->data;
    j->rc = rank_gen_build_keys(j->keys, j->max_suffixes, j->max_words, &j->cancel, &j->out, &j->info);
    rank_gen_keys_free(j->keys);
    j->keys = NULL;
}

static void gen_swap(eng_rank *R, eng_rank_genjob *j) {
    uint64_t t0 = qtime_ns();
    rank_gen_free(R->gen); /* the swap: the old index goes as the new one comes */
    R->gen = j->out;
    j->out = NULL;
    rank_req_set_gen(&R->req, R->gen, R->o.gen_candidates);
    R->st.gen_suffixes = j->info.kept;
    R->st.gen_words = j->info.words;
    R->st.gen_bytes = j->info.bytes;
    R->st.gen_builds++;
    R->st.gen_build_ms = (uint64_t)(j->info.secs * 1000 + 0.5);
    LOG_I("gen.built",
          "keys=%llu occurrences=%llu distinct=%llu suffixes=%llu pruned=%llu words=%llu words_distinct=%llu "
          "words_pruned=%llu bytes=%llu copy_ms=%.1f slices=%llu slice_max_ms=%.2f slice_max_cpu_ms=%.2f "
          "changes=%llu build_ms=%llu swap_ms=%.2f",
          (unsigned long long)j->info.keys, (unsigned long long)j->info.occurrences,
          (unsigned long long)j->info.distinct, (unsigned long long)j->info.kept, (unsigned long long)j->info.pruned,
          (unsigned long long)j->info.words, (unsigned long long)j->info.words_distinct,
          (unsigned long long)j->info.words_pruned, (unsigned long long)j->info.bytes, (double)j->copy_ns / 1e6,
          (unsigned long long)j->slices,
          (double)j->slice_max_ns / 1e6, (double)j->slice_max_cpu_ns / 1e6, (unsigned long long)j->changes, (unsigned long long)R->st.gen_build_ms,
          (double)(qtime_ns() - t0) / 1e6);
}

/* The job's end, on the loop: swap in what it built, or say why not. */
static void gen_end(eng_rank_genjob *j, int cancelled) {
    eng_rank *R = j->R;
    R->genjob = NULL;
    R->st.gen_building = 0;
    if (cancelled || R->closing || j->rc == RANK_GEN_CANCELLED) {
        LOG_I("gen.cancelled", "why=shutdown");
    } else if (j->copy_rc == TRIE_EFULL) {
        R->st.gen_failures++;
        R->st.gen_note_overflows++;
        LOG_E("gen.build_failed",
              "error=\"the changes made while the keys were copied passed gen-copy-note-bytes (%llu)\" index=%s "
              "msg=\"the copy is dropped; the next RELOAD builds again (raise gen-copy-note-bytes, or RELOAD when "
              "fewer writes come)\"",
              (unsigned long long)R->o.gen_copy_note_bytes, R->gen ? "old" : "none");
    } else if (j->copy_rc || j->rc) {
        R->st.gen_failures++;
        LOG_E("gen.build_failed", "error=\"%s\" index=%s", trie_strerror(j->copy_rc ? j->copy_rc : j->rc),
              R->gen ? "old" : "none");
    } else {
        gen_swap(R, j);
    }
    rank_gen_free(j->out);
    rank_gen_keys_free(j->keys); /* cancelled before the build ran */
    qfree(j);
    if (--R->open_handles == 0 && R->closing) {
        eng_rank__free_all(R);
        return;
    }
    if (R->gen_again && !R->closing) {
        R->gen_again = 0;
        char err[160];
        if (eng_rank__gen_start(R, err, sizeof err)) LOG_E("gen.build_failed", "error=\"%s\"", err);
    }
}

static void gen_after(uv_work_t *w, int status) { gen_end(w->data, status == UV_ECANCELED); }

/* The copy ended (done, failed or cancelled) and its idle handle closed:
 * hand the copy to the worker. */
static void gen_copied(uv_handle_t *h) {
    eng_rank_genjob *j = h->data;
    eng_rank *R = j->R;
    if (R->closing || atomic_load(&j->cancel) || j->copy_rc) {
        gen_end(j, !j->copy_rc);
        return;
    }
    R->st.gen_copy_ms = (j->copy_ns + 500000) / 1000000;
    R->st.gen_copy_slices = j->slices;
    R->st.gen_copy_bytes = rank_gen_keys_bytes(j->keys);
    j->changes = rank_gen_keys_changes(j->keys);
    j->phase = GEN_BUILDING;
    if (uv_queue_work(R->loop, &j->w, gen_work, gen_after)) {
        LOG_E("gen.build_failed", "error=\"cannot queue the build on the thread pool\"");
        j->copy_rc = TRIE_ENOMEM;
        gen_end(j, 0);
    }
}

static void gen_copy_end(eng_rank_genjob *j, int rc) {
    if (j->phase != GEN_COPYING) return;
    j->phase = GEN_COPIED;
    j->R->st.gen_copying = 0;
    if (rc < 0 && !j->copy_rc) j->copy_rc = rc;
    uv_idle_stop(&j->idle);
    uv_close((uv_handle_t *)&j->idle, gen_copied);
}

/* One loop turn's slice of the copy. */
static void gen_slice(uv_idle_t *h) {
    eng_rank_genjob *j = h->data;
    uint64_t t0 = qtime_ns(), c0 = thread_cpu_ns();
    int rc = rank_gen_keys_step(j->keys, j->R->t, j->slice);
    uint64_t dt = qtime_ns() - t0, dc = thread_cpu_ns() - c0;
    if (dc > j->slice_max_cpu_ns) j->slice_max_cpu_ns = dc;
    j->copy_ns += dt;
    j->slices++;
    if (dt > j->slice_max_ns) j->slice_max_ns = dt;
    if (rc || j->copy_rc) gen_copy_end(j, rc);
}

int eng_rank__gen_start(eng_rank *R, char *err, size_t errlen) {
    if (!R->o.gen_copy_slice || R->o.gen_copy_slice > RANK_GEN_MAX_COPY_SLICE) {
        snprintf(err, errlen, "gen-copy-slice wants 1..%u", RANK_GEN_MAX_COPY_SLICE);
        return -1;
    }
    if (R->o.gen_copy_note_bytes < RANK_GEN_MIN_COPY_NOTE_BYTES || R->o.gen_copy_note_bytes > RANK_GEN_MAX_COPY_NOTE_BYTES) {
        snprintf(err, errlen, "gen-copy-note-bytes wants %llu..%llu", (unsigned long long)RANK_GEN_MIN_COPY_NOTE_BYTES,
                 (unsigned long long)RANK_GEN_MAX_COPY_NOTE_BYTES);
        return -1;
    }
    if (!R->o.gen_candidates || R->closing) return 0;
    if (R->genjob) { /* one more after this one, at most */
        if (R->gen_again) R->st.gen_requeued++;
        R->gen_again = 1;
        return 0;
    }
    eng_rank_genjob *j = qcalloc(1, sizeof *j);
    if (!j || rank_gen_keys_begin(&j->keys)) {
        qfree(j);
        snprintf(err, errlen, "cannot copy the keys for the suffix index of generated completions: %s",
                 trie_strerror(TRIE_ENOMEM));
        return -1;
    }
    rank_gen_keys_limit_notes(j->keys, R->o.gen_copy_note_bytes);
    j->R = R;
    j->max_suffixes = R->o.gen_suffixes;
    j->max_words = R->o.gen_words;
    j->slice = R->o.gen_copy_slice;
    atomic_init(&j->cancel, 0);
    j->w.data = j;
    j->idle.data = j;
    uv_idle_init(R->loop, &j->idle);
    uv_idle_start(&j->idle, gen_slice);
    j->phase = GEN_COPYING;
    R->st.gen_copying = 1;
    R->genjob = j;
    R->st.gen_building = 1;
    R->open_handles++;
    return 0;
}

void eng_rank_changed(eng_rank *R, const char *key, size_t klen, int deleted, double score) {
    eng_rank_genjob *j = R ? R->genjob : NULL;
    if (!j || j->phase != GEN_COPYING) return;
    int rc = rank_gen_keys_note(j->keys, key, klen, deleted, score);
    if (rc && !j->copy_rc) j->copy_rc = rc; /* the next slice ends the copy: no build, the old index stays */
}

void eng_rank__gen_close(eng_rank *R) {
    R->gen_again = 0;
    eng_rank_genjob *j = R->genjob;
    if (!j) return;
    atomic_store(&j->cancel, 1);
    if (j->phase == GEN_COPYING) gen_copy_end(j, 0); /* its close callback ends the job */
    else if (j->phase == GEN_BUILDING)
        uv_cancel((uv_req_t *)&j->w); /* not started yet: its after-work runs with UV_ECANCELED */
}

const rank_gen *eng_rank_gen(const eng_rank *R) { return R->gen; }
