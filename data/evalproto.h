/* evalproto.h -- the parts of ../shared/EVALUATION.md that `qac eval`
 * (offline, in-process) and `qac replay` (online, against a server) share,
 * so that one number means the same thing in both:
 *
 *   - event loading: logs read with the qlog reader (AOL rows grouped into
 *     events), queries in norm_eval form, kept in one string arena;
 *   - event order: (time, AnonID, file order), AnonIDs compared as numbers
 *     when both are decimal, else bytewise;
 *   - the scored prefix set of a query: len1..len5 (shorter than the query)
 *     and rand = 2 + (MD5(query) mod (n - 2)) code points;
 *   - the quality accumulators: RR sums per tag, SR@1/3/10 on rand;
 *   - user folds for the user-disjoint split (`qac train --fold F/K` learns
 *     from the users outside fold F, `qac eval --fold F/K` scores the users
 *     in it; data/folds.sh runs all K): a user's fold is MD5(AnonID) mod K.
 *
 * Layout: an ep_events owns an arena (qbuf) and an array of ep_event whose
 * user and query are offsets into it (the arena may move while loading).
 * Errors: functions return 0 or -1 after one line on stderr (prefixed with
 * the caller's command name). Ownership: ep_events_free releases everything.
 */
#ifndef QAC_EVALPROTO_H
#define QAC_EVALPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define EP_TOPK 10          /* MRR@10 */
#define EP_MIN_CP 3         /* scored queries have at least this many code points */
#define EP_NTAGS 6          /* len1..len5, rand */
#define EP_TAG_RAND (EP_NTAGS - 1)
#define EP_SESSION_GAP 1800 /* seconds of inactivity that end a session */
#define EP_DEFAULT_SPLIT "2006-05-18"

extern const char *const ep_tag_names[EP_NTAGS];

typedef struct ep_event {
    size_t user, query; /* offsets in the arena */
    uint32_t userlen, querylen;
    int64_t time;  /* epoch seconds, or QLOG_NO_TIME for query lists */
    uint64_t seq;  /* file order across all logs */
    uint64_t uid;  /* numeric AnonID, when user_num */
    int user_num;
} ep_event;

typedef struct ep_events {
    qbuf arena;
    ep_event *ev;
    size_t n, cap;
    uint64_t seq;
    uint64_t unnormalizable; /* queries norm_eval refused (all files) */
} ep_events;

#define EP_AOL_ONLY 1 /* ep_events_read flag: refuse logs that are not AOL format */

void ep_events_init(ep_events *e);
void ep_events_free(ep_events *e);
/* Appends the events of one log (its bad lines are reported on stderr by
 * reason, as `qac build` does). With EP_AOL_ONLY, other formats are an error;
 * otherwise query lists give one event per line with an empty user and time
 * QLOG_NO_TIME. `cmd` prefixes messages ("qac eval"). */
int ep_events_read(ep_events *e, const char *path, int flags, const char *cmd);
/* Sorts the events into protocol order. */
void ep_events_sort(ep_events *e);
static inline const char *ep_user(const ep_events *e, const ep_event *v) { return e->arena.data + v->user; }
static inline const char *ep_query(const ep_events *e, const ep_event *v) { return e->arena.data + v->query; }

/* Byte offset after the first k code points of valid UTF-8 s. */
size_t ep_cp_offset(const char *s, size_t len, size_t k);

/* The scored prefixes of a query q of ncp >= EP_MIN_CP code points: lens[i]
 * (in code points) and tags[i] (0..4 = len1..len5, EP_TAG_RAND), in that
 * order; returns how many (at most EP_NTAGS). Returns 0 when ncp < EP_MIN_CP. */
int ep_prefixes(const char *q, size_t qlen, size_t ncp, size_t lens[EP_NTAGS], int tags[EP_NTAGS]);

/* User folds: EP_MAX_FOLDS at most; ep_fold_parse reads "F/K" (0 <= F < K,
 * 2 <= K <= EP_MAX_FOLDS) and returns 0, or -1 when it is not that. */
#define EP_MAX_FOLDS 100
int ep_fold_parse(const char *s, unsigned *f, unsigned *k);
/* The fold of a user, MD5(AnonID bytes) mod k. */
unsigned ep_user_fold(const char *user, size_t len, unsigned k);

/* Quality accumulators of one system. */
typedef struct ep_quality {
    double rr[EP_NTAGS];  /* sum of 1/rank */
    uint64_t n[EP_NTAGS]; /* prefixes scored */
    uint64_t sr[3];       /* rand prefixes with the target in the top 1, 3, 10 */
} ep_quality;

/* Records one scored prefix: rank = 1-based position of the target in the
 * top EP_TOPK, 0 when absent. Returns 1/rank (0 when absent). */
double ep_record(ep_quality *q, int tag, unsigned rank);
double ep_mrr(const ep_quality *q, int tag);  /* 0 when nothing scored */
double ep_sr(const ep_quality *q, int which); /* which: 0 = SR@1, 1 = SR@3, 2 = SR@10 */
void ep_quality_merge(ep_quality *dst, const ep_quality *src);

/* --- report JSON ------------------------------------------------------------
 * `qac eval --json` and `qac replay --json` build their documents in a qbuf
 * with common/json.h (strings by json_str, figures by json_fixed, counts by
 * qbuf_putu64), members written `"key": value`, and write them to the file at
 * once with ep_write_file. The writers return 0, or -1 on allocation failure. */
#define EP_JSON_DECIMALS 10 /* MRR, SR and other shares */

/* Appends sep, key as a JSON string, and ": ". */
int ep_json_key(qbuf *b, const char *sep, const char *key);
/* n members "keys[i]": v[i], separated by sep (no braces). */
int ep_json_counts(qbuf *b, const char *sep, const char *const *keys, const uint64_t *v, size_t n);
/* The same for figures, with `decimals` decimals (json_fixed). */
int ep_json_figures(qbuf *b, const char *sep, const char *const *keys, const double *v, size_t n, int decimals);
/* q as objects: MRR@10 per tag {"len1": .., .., "rand": ..}; SR on rand
 * {"1": .., "3": .., "10": ..}; EP_JSON_DECIMALS decimals. */
int ep_json_mrr(qbuf *b, const ep_quality *q);
int ep_json_sr(qbuf *b, const ep_quality *q);
/* Creates (or truncates) path and writes [data, data+len) to it. Returns 0,
 * or -1 after "CMD: cannot write PATH: REASON" on stderr. */
int ep_write_file(const char *cmd, const char *path, const char *data, size_t len);

#endif
