/* ranker_gen.c -- the suffix index of generated completions, built off the
 * event loop (ranking/gen.h; issue 16).
 *
 * Why: building the index walks every key and counts every word-boundary
 * suffix: 3.3 s for the AOL dev log, 4.1 s at 1M keys, tens of seconds at
 * 10M. Built on the loop, every request waited that long at start and at
 * each RELOAD.
 *
 * How: on the loop, rank_gen_keys_copy walks the trie once into a flat,
 * private copy (each key's text from its first space on, and its score:
 * all a build reads); a job on libuv's thread pool (uv_queue_work) builds
 * a NEW rank_gen from that copy alone, and the after-work callback, on the
 * loop again, swaps it in (rank_req_set_gen) and frees the old index.
 * Until then requests use the old index (RELOAD) or none (start:
 * generation is off as with --gen-candidates 0; rank_gen_unready counts
 * the ranked requests served so).
 *
 * Why the copy, not the live trie: the loop changes the trie (ADD, INCR,
 * DEL, the changelog) while the job runs, and the trie has no lock nor
 * versioned nodes; reading it from another thread would be a data race.
 * The copy is made in one loop turn, but it is a plain walk with a memcpy
 * per key -- no hashing, no counting, no sorting -- and measured far below
 * the build (README, "Generated completions": rank_gen_copy_ms against
 * rank_gen_build_ms in STATS). The job shares nothing else with the loop:
 * it owns the copy (freed on the worker as soon as counted), its result
 * and its info; it reads R never (only the options copied into the job).
 * The worker's only shared state is job->cancel (atomic). The index made
 * is exactly rank_gen_build of the trie as it was when copied (the same
 * keys in the same order through the same counting code;
 * tests/test_engine_ranker.c checks it).
 *
 * At most one job runs. A RELOAD while one runs asks for one more build
 * (gen_again): it starts, from a fresh copy, when the running one ends;
 * further RELOADs meanwhile join that one (rank_gen_requeued counts them).
 * Memory: the old index serves while the new one is built; at the swap the
 * old is freed, so two indexes and one copy live together at most.
 *
 * Shutdown (eng_rank_close) sets the job's cancel flag; the worker polls it
 * every RANK_GEN_CANCEL_EVERY keys while it counts (the final sort and
 * trie build of at most --gen-suffixes entries are not interrupted), so it
 * returns within milliseconds; the job counts in R->open_handles, and R is freed only
 * after its after-work callback has freed the job, the copy and any index
 * it made. A job not yet started is cancelled by uv_cancel.
 *
 * The thread pool is libuv's (4 threads unless UV_THREADPOOL_SIZE); the
 * durable store's fsync (server_durable.c) shares it, and this job holds
 * one thread at most.
 */
#include <stdio.h>
#include <stdlib.h>

#include "engine/rank/ranker_internal.h"

struct eng_rank_genjob {
    uv_work_t w;
    eng_rank *R;
    rank_gen_keys *keys; /* the worker's, freed by it */
    uint64_t max_suffixes;
    atomic_int cancel;
    int rc;
    rank_gen *out;
    rank_gen_info info;
    uint64_t copy_ns;
};

static void gen_work(uv_work_t *w) {
    eng_rank_genjob *j = w->data;
    j->rc = rank_gen_build_keys(j->keys, j->max_suffixes, &j->cancel, &j->out, &j->info);
    rank_gen_keys_free(j->keys);
    j->keys = NULL;
}

static void gen_after(uv_work_t *w, int status) {
    eng_rank_genjob *j = w->data;
    eng_rank *R = j->R;
    R->genjob = NULL;
    R->st.gen_building = 0;
    if (status == UV_ECANCELED || R->closing || j->rc == RANK_GEN_CANCELLED) {
        LOG_I("gen.cancelled", "why=shutdown");
    } else if (j->rc) {
        R->st.gen_failures++;
        LOG_E("gen.build_failed", "error=\"%s\" index=%s", trie_strerror(j->rc), R->gen ? "old" : "none");
    } else {
        rank_gen_free(R->gen); /* the swap: the old index goes as the new one comes */
        R->gen = j->out;
        j->out = NULL;
        rank_req_set_gen(&R->req, R->gen, R->o.gen_candidates);
        R->st.gen_suffixes = j->info.kept;
        R->st.gen_bytes = j->info.bytes;
        R->st.gen_builds++;
        R->st.gen_build_ms = (uint64_t)(j->info.secs * 1000 + 0.5);
        LOG_I("gen.built",
              "keys=%llu occurrences=%llu distinct=%llu suffixes=%llu pruned=%llu bytes=%llu copy_ms=%.1f "
              "build_ms=%llu",
              (unsigned long long)j->info.keys, (unsigned long long)j->info.occurrences,
              (unsigned long long)j->info.distinct, (unsigned long long)j->info.kept,
              (unsigned long long)j->info.pruned, (unsigned long long)j->info.bytes, (double)j->copy_ns / 1e6,
              (unsigned long long)R->st.gen_build_ms);
    }
    rank_gen_free(j->out);
    rank_gen_keys_free(j->keys); /* cancelled before it ran */
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

int eng_rank__gen_start(eng_rank *R, char *err, size_t errlen) {
    if (!R->o.gen_candidates || R->closing) return 0;
    if (R->genjob) { /* one more after this one, at most */
        if (R->gen_again) R->st.gen_requeued++;
        R->gen_again = 1;
        return 0;
    }
    eng_rank_genjob *j = qcalloc(1, sizeof *j);
    uint64_t t0 = qtime_ns();
    int rc = j ? rank_gen_keys_copy(R->t, &j->keys) : TRIE_ENOMEM;
    if (rc) {
        qfree(j);
        snprintf(err, errlen, "cannot copy the keys for the suffix index of generated completions: %s",
                 trie_strerror(rc));
        return -1;
    }
    j->copy_ns = qtime_ns() - t0;
    j->R = R;
    j->max_suffixes = R->o.gen_suffixes;
    atomic_init(&j->cancel, 0);
    j->w.data = j;
    R->st.gen_copy_ms = (j->copy_ns + 500000) / 1000000;
    R->st.gen_copy_bytes = rank_gen_keys_bytes(j->keys);
    if (uv_queue_work(R->loop, &j->w, gen_work, gen_after)) {
        rank_gen_keys_free(j->keys);
        qfree(j);
        snprintf(err, errlen, "cannot start the build of the suffix index of generated completions");
        return -1;
    }
    R->genjob = j;
    R->st.gen_building = 1;
    R->open_handles++;
    return 0;
}

void eng_rank__gen_close(eng_rank *R) {
    R->gen_again = 0;
    if (!R->genjob) return;
    atomic_store(&R->genjob->cancel, 1);
    uv_cancel((uv_req_t *)&R->genjob->w); /* not started yet: its after-work runs with UV_ECANCELED */
}

const rank_gen *eng_rank_gen(const eng_rank *R) { return R->gen; }
