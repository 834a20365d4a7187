/* stats.h -- server counters, the latency histogram, and their renderings.
 *
 * The server keeps one eng_stats (plain counters: the loop is single-threaded,
 * no atomics). stats_snapshot() turns it plus the trie and jemalloc into an
 * eng_stats_snap: a flat list of named values that every rendering walks, so
 * STATS (text), INFO-style RESP, /v1/stats (JSON) and /metrics (Prometheus)
 * always show the same numbers under the same names.
 *
 * Latency is measured in the loop, per request, from the moment its bytes are
 * parsed to the moment its reply is encoded (ns resolution; reported in us).
 *
 * Memory: jemalloc's stats.allocated and stats.resident after refreshing the
 * `epoch` mallctl. Without jemalloc (the sanitizer build, where QAC_NO_JEMALLOC
 * is defined or the compiler reports AddressSanitizer) both are 0.
 */
#ifndef QAC_STATS_H
#define QAC_STATS_H

#include <stdint.h>

#include "common/hist.h"
#include "common/util.h"
#include "engine/proto/proto.h"
#include "trie/trie.h"

/* Command kinds, for counting. Keep in sync with stats_cmd_name(). */
enum {
    CMD_COMPLETE = 0, CMD_ADD, CMD_INCR, CMD_DEL, CMD_GET, CMD_ACCEPT, CMD_STATS, CMD_PING,
    CMD_HELP, CMD_QUIT, CMD_SAVE, CMD_COMMAND, CMD_CONFIG, CMD_UNKNOWN,
    CMD_HTTP_COMPLETE, CMD_HTTP_ACCEPT, CMD_HTTP_STATS, CMD_HTTP_METRICS, CMD_HTTP_HEALTH,
    CMD_HTTP_OTHER, CMD_RELOAD, CMD_AUTH, CMD_HTTP_SUGGEST, CMD_ECHO, CMD_SELECT, CMD_CLIENT, CMD_HELLO,
    CMD_SUGADD, CMD_SUGGET, CMD_SUGDEL, CMD_SUGLEN, CMD_EXISTS, CMD_TYPE, CMD_FLUSHALL, CMD_KEYS, CMD_DBSIZE,
    CMD__COUNT
};
const char *stats_cmd_name(int cmd);

typedef struct eng_stats {
    uint64_t start_ns;
    uint64_t conn_current, conn_total, conn_rejected;
    uint64_t http_conn_current, http_conn_total;
    uint64_t closed_idle, closed_output_limit, closed_protocol;
    uint64_t cmds[CMD__COUNT];
    uint64_t errs[ERR__COUNT];
    uint64_t http_status[6]; /* by class: [2] = 2xx ... [5] = 5xx */
    uint64_t complete_user, complete_session;                    /* COMPLETE context seen */
    uint64_t complete_fuzzy;                                     /* COMPLETEs that allowed edits */
    uint64_t complete_infix, complete_infix_truncated; /* INFIX COMPLETEs; those cut by infix-max-scan */
    uint64_t infix_index_errors;  /* word index builds / updates that failed (the index is dropped) */
    uint64_t infix_index_loaded;  /* 1: the word index in use was loaded with the snapshot (not built) */
    const struct trie_words *words; /* borrowed; NULL: no word index (infix_index 0) */
    uint64_t complete_fuzzy_truncated;                           /* ... whose search fuzzy-max-work cut */
    uint64_t sug_truncated;                                      /* FT.SUGGETs cut by sug-max-scan */
    uint64_t accept_user, accept_session, accept_prefix, accept_rank; /* ACCEPT context seen */
    uint64_t bytes_in, bytes_out;
    uint64_t auth_required;       /* 1 when requirepass is set */
    uint64_t auth_ok, auth_failures; /* AUTH / HTTP token: right, wrong (text, RESP and HTTP) */
    uint64_t auth_refused;        /* requests refused for lack of authentication (NOAUTH / 401) */
    hist lat_ns; /* per request, in-loop: from the start of its read batch to its reply (PROTOCOL.md STATS) */
    uint64_t batch_t0_ns; /* qtime_ns() when the server began handling the bytes of one read callback;
                           * 0 outside one (eng_exec then reads the clock itself). One clock read per
                           * batch instead of one per request start. */
    /* durability: changes, snapshots (engine/store/bgsave.h), the journal */
    uint64_t changes_total, changes_since_save;
    uint64_t dirty_since_ms;    /* monotonic ms of the first change since the last save */
    uint64_t saves_ok, saves_failed, save_in_progress;
    uint64_t reloads_ok, reloads_failed; /* RELOAD and SIGHUP (eng_reload) */
    double last_save_time;      /* epoch seconds when the last save ended; 0 = none yet */
    uint64_t last_save_ms;      /* its duration */
    int last_save_ok;           /* -1 none yet, 0 failed, 1 ok */
    uint64_t last_fork_us;      /* how long the last fork() stopped the loop */
    const struct jrn *journal;  /* borrowed; NULL without --journal */
    const struct eng_rank *rank; /* borrowed; NULL: no ranker (its counters are left out) */
    const struct guard *guard;   /* borrowed; NULL: no accept guard (its counters are left out) */
    const struct dict_set *dicts; /* borrowed; NULL: no named dictionaries (engine/dict.h) */
    const struct chg *changelog; /* borrowed; NULL without --changelog (engine/changelog.h) */
} eng_stats;

void stats_init(eng_stats *s);

/* One named value. `label` is a Prometheus label pair for families
 * (e.g. cmd="complete"), NULL otherwise. */
typedef struct stats_item {
    char name[48];
    char label[48];
    const char *prom;  /* Prometheus metric family, e.g. "qac_commands_total" */
    const char *ptype; /* "counter" or "gauge" */
    int is_float;
    const char *str; /* a text value (static): text/RESP/JSON show it; Prometheus shows
                        the family with `label` and value 1 */
    uint64_t u;
    double d;
} stats_item;

#define STATS_MAX_ITEMS 192
typedef struct eng_stats_snap {
    int n;
    stats_item items[STATS_MAX_ITEMS];
} eng_stats_snap;

/* Fills *snap from s, the trie (keys, trie bytes) and the allocator. */
void stats_snapshot(const eng_stats *s, const trie *t, eng_stats_snap *snap);
/* Appends one counter or gauge (for the modules that report their own:
 * engine/changelog.c); nothing when the snapshot is full. */
void stats_add_u(eng_stats_snap *snap, const char *name, const char *prom, const char *ptype, const char *label,
                 uint64_t v);
/* Value of a named item (for tests and /healthz); 0 and -1 when absent. */
int stats_find(const eng_stats_snap *snap, const char *name, double *out);

/* Renderings; each appends to out and returns 0 or -1 (allocation failure).
 *   text : "OK <n>\r\n" then "name value\r\n" lines (the STATS reply)
 *   resp : one bulk string of "name:value\r\n" lines (like Redis INFO)
 *   json : {"uptime_s":..,"connections_current":..,...}
 *   prom : Prometheus text exposition format 0.0.4 */
int stats_render_text(const eng_stats_snap *snap, qbuf *out);
/* head: text put before the "# qac" section (INFO's "# Server"), or NULL */
int stats_render_resp(const eng_stats_snap *snap, const char *head, qbuf *out);
int stats_render_json(const eng_stats_snap *snap, qbuf *out);
int stats_render_prom(const eng_stats_snap *snap, qbuf *out);

#endif
