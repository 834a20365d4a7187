/* build.h -- building a trie from query logs (`qac build`) and querying a
 * snapshot offline (`qac complete`).
 *
 * build_trie() reads every file with qlog (data/qlog.h), normalizes each
 * query with norm_key(), and accumulates per key a score and a display form:
 *   - weight of a record: its count (1 per aol event or lines line, the count
 *     of a counts line); with a half-life H days, a timed event weighs
 *     0.5^((newest - t) / (H * 86400)) times its count, newest being the
 *     latest time among the kept events; untimed records always weigh their
 *     count;
 *   - display = the most frequent spelling (norm_display: trimmed, white
 *     space collapsed), by summed raw counts; ties -> the first seen;
 *   - time range: timed events with since <= t < until are kept; untimed
 *     records always are;
 *   - keys whose final score is < min_count are dropped.
 * A record whose query fails normalization (empty key, key over
 * TRIE_MAX_KEY bytes, ...) is a bad line of its file with that reason.
 *
 * Errors: build_trie returns 0, or -1 with a one-line message in err (an
 * unreadable file, a bad line under strict, out of memory).
 */
#ifndef QAC_BUILD_H
#define QAC_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "data/qlog.h"
#include "trie/trie.h"

typedef struct build_opts {
    qlog_format format;    /* QLOG_AUTO: detect per file */
    int64_t since, until;  /* epoch seconds; INT64_MIN / INT64_MAX when unset */
    double half_life_days; /* 0: no decay */
    double min_count;      /* 0: keep all */
    int strict;            /* first bad line is fatal */
    int quiet;             /* no per-file report, no progress */
    int progress;          /* progress line on stderr (the caller checks isatty) */
    int key_form;          /* NORM_FORM_MATCH (default) or NORM_FORM_EVAL; saved as the trie's tag */
} build_opts;

typedef struct build_report {
    int files;
    qlog_stats total;      /* over all files, bad lines of normalization included */
    uint64_t kept;         /* records kept (in time range and normalized) */
    uint64_t out_of_range; /* timed events outside [since, until) */
    uint64_t keys;         /* distinct keys in the trie */
    uint64_t dropped;      /* keys dropped by min_count */
    int64_t newest;        /* latest kept event time, QLOG_NO_TIME if none */
    double seconds;
} build_report;

void build_opts_init(build_opts *o);

/* Builds a new trie from files[0..nfiles). On success *out owns the trie
 * (the caller frees it with trie_free) and rep (when non-NULL) is filled.
 * Per-file summaries go to stderr unless o->quiet. */
int build_trie(const build_opts *o, char *const *files, int nfiles, trie **out, build_report *rep, char *err,
               size_t errlen);

/* Sorting for the bulk build (exposed for its tests). Key i is described by
 * a uint64 at (const char *)packed + i * stride holding its offset in base
 * (low BUILD_OFF_BITS bits) and its length (the bits above). Fills order[0..n)
 * with the permutation that lists the keys in bytewise order, shorter first
 * on a common prefix (memcmp order; equal keys in any order). Radix sort on 8
 * bytes at a time; runs of >= BUILD_SORT_RADIX_MIN keys equal on those go 8
 * bytes deeper, shorter runs are sorted by comparison. Returns 0, or -1 when
 * scratch memory (32 bytes per key) cannot be allocated or n >= 2^32. The
 * caller owns every array; nothing is kept. */
#define BUILD_OFF_BITS 48
#define BUILD_SORT_RADIX_MIN 4096
int build_sort_keys(const char *base, const void *packed, size_t stride, size_t n, uint32_t *order);

/* The word index for INFIX (trie/trie_words.h) of t, saved beside the
 * snapshot t was just written to (snapshot.words, tied to that image by its
 * trie_snapshot_id): what a start, `qac complete --infix` and `qac eval
 * --infix` load instead of building it. An older file there is removed
 * first. 0, or -1 with the reason in err (the snapshot stands; a start
 * would build the index). */
int build_save_words(const trie *t, const char *snapshot, char *err, size_t errlen);

/* Subcommands, registered in engine/main.c. */
int build_main(int argc, char **argv);
int complete_main(int argc, char **argv);

#endif
