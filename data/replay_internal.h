/* replay_internal.h -- private to `qac replay` (data/replay.c, the run, and
 * data/replay_report.c, the summary / JSON / HTML writers): the run state
 * that both read, and the limits. Not for other modules; the public part is
 * replay.h.
 *
 * Ownership: an rp_run owns its connections, slots and events (run_free in
 * replay.c); the report writers only read it.
 */
#ifndef QAC_DATA_REPLAY_INTERNAL_H
#define QAC_DATA_REPLAY_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "common/hist.h"
#include "common/util.h"
#include "data/evalproto.h"
#include "data/replay.h"

#define REPLAY_DEFAULT_PORT 7700 /* qac serve's default */
#define REPLAY_MAX_CONN 1024
#define REPLAY_DEFAULT_PIPELINE 16
#define REPLAY_MAX_PIPELINE 4096
#define REPLAY_MAX_INFLIGHT (1u << 22)
#define REPLAY_CONNECT_MS 3000
#define REPLAY_DEFAULT_TIMEOUT_MS 5000
#define REPLAY_MAX_USER 100 /* bytes; the session id adds "/<n>" within the server's 128 */
#define REPLAY_DEFAULT_K 10
#define REPLAY_MAX_K 100
#define REPLAY_READ_CHUNK 65536
#define REPLAY_LAT_BINS 40 /* log2 buckets of microseconds, for the HTML chart */
#define REPLAY_MAX_REPLY_LINE 8192 /* bytes; the server's lines are at most ~560 */

typedef struct req {
    uint64_t t_due, t_sent; /* ns; t_due = t_sent in closed loop */
    uint32_t slot;
    uint16_t plen; /* COMPLETE: code points typed */
    uint8_t kind, measured;
} req;

typedef struct slot {
    uint32_t ev, uidx, conn, next_free;
    int measured, all_issued, accept_sent;
    size_t next; /* next typed prefix */
    uint32_t pending;
    size_t last_len, first_len;
    unsigned first_rank;
    rp_plan plan;
} slot;

typedef struct conn {
    int fd;
    qbuf in, out;
    size_t in_off, out_off;
    req *q;
    size_t qcap, qhead, qlen;
    uint32_t *evs; /* closed loop: this connection's events, in log order */
    size_t nev, evcap, evhead;
    uint32_t *act; /* closed loop: active slots */
    uint32_t nact;
} conn;

typedef struct errcount {
    char code[16];
    uint64_t n;
} errcount;

typedef struct rp_run {
    /* options */
    const char *host, *port, *json, *html;
    uint32_t nconn, pipeline, k;
    double rate, speed, duration;
    uint64_t limit, timeout_ms;
    int all, accept, quiet, progress;
    int64_t measure_from; /* INT64_MIN: measure all */
    /* events */
    ep_events E;
    uint32_t *uidx, *sess; /* per event */
    uint32_t *order;       /* events to play, in log order */
    size_t norder;
    uint64_t skip_long_query, skip_long_user;
    int64_t time0;
    /* state */
    conn *c;
    slot *s;
    uint32_t nslot, scap, free_slot;
    size_t cursor;       /* open loop: next event in order[] */
    uint32_t cur;        /* open loop: slot being issued, UINT32_MAX none */
    uint64_t reqno;      /* open loop: requests issued */
    uint64_t inflight;
    uint64_t t0, t_first, t_last;
    int stopping;
    const char *fatal; /* why the run ended early */
    char fatal_buf[256];
    char scratch[RP_SCRATCH];
    qbuf line;
    /* measures */
    hist lat;
    uint64_t lat_bins[REPLAY_LAT_BINS];
    uint64_t requests, measured_requests, completes, accepts;
    uint64_t events_started, events_measured, events_done, events_unmeasured;
    uint64_t timeouts, disconnects, protocol_errors;
    errcount errs[16];
    uint64_t errs_other;
    ep_quality q;
    rp_keys keys;
} rp_run;

/* Report writers (replay_report.c). The summary goes to f (stdout unless
 * --quiet); the JSON and HTML writers create path and return 0, or -1 after
 * a one-line message on stderr ("qac replay: cannot write PATH: reason", or
 * "qac replay: out of memory" from the JSON writer, which builds the document
 * with common/json.h before writing it). */
void rp_report_summary(const rp_run *r, FILE *f);
int rp_report_json(const rp_run *r, const char *path);
int rp_report_html(const rp_run *r, const char *path);

#endif
