/* replay_internal.h -- private to `qac replay`, shared by its files:
 * data/replay.c (the command: options, setup, the order of a run),
 * data/replay_plan.c (what is played: users, sessions, play order),
 * data/replay_run.c (the connections and the poll loop),
 * data/replay_report.c (the summary / JSON / HTML writers) and
 * data/replay_typos.c (--typos: the typo'd prefixes, their scores and their
 * part of the reports): the run state they all read, the limits, and the
 * functions that cross files. Not for other modules; the public part is
 * replay.h. Names that cross files are rp_plan_*, rp_run_*, rp_report_* and
 * rp_typos_*, after the file that defines them; everything else stays
 * static.
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

/* req.kind: RP_COMPLETE, RP_ACCEPT (replay.h), or a typo'd prefix's
 * COMPLETE, plain or with FUZZY AUTO (replay_typos.c). */
enum { RP_TYPO_PLAIN = 2, RP_TYPO_FUZZY = 3 };

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
    /* --typos: the typo'd prefix of the last typed one, and what of it is
     * still to send: 0 nothing, 1 plain, 2 with FUZZY AUTO */
    int typo_next;
    int typo_plain_rank;  /* the plain answer's rank (0 absent), -1 none or ERR */
    unsigned clean_rank;  /* the last keystroke COMPLETE's rank of the target (0 absent or ERR) */
    uint16_t typo_len;
    char typo[RP_MAX_QUERY + 4];
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

/* --typos figures: [0] plain, [1] FUZZY AUTO, [2] (quality only) the same
 * prefixes typed right, from their keystroke COMPLETEs. */
typedef struct rp_typo_stats {
    uint64_t picked;   /* typo'd prefixes (an edit was made) */
    uint64_t no_edit;  /* drawn, but no edit fitted (replay_typos.c) */
    uint64_t kinds[RP_EDIT_KINDS];
    uint64_t n;        /* pairs scored: both answers without ERR */
    uint64_t unscored; /* pairs with an ERR answer */
    double rr[3];      /* sum of 1/rank within the top 10 */
    uint64_t hit[3];   /* target in the top 10 */
    hist lat[2];       /* microseconds, as the main histogram */
} rp_typo_stats;

typedef struct rp_run {
    /* options */
    const char *host, *port, *json, *html;
    uint32_t nconn, pipeline, k;
    double rate, speed, duration;
    uint64_t limit, timeout_ms;
    int all, accept, quiet, progress;
    int64_t measure_from; /* INT64_MIN: measure all */
    double typos;         /* --typos RATE; < 0: not given */
    uint64_t seed;        /* --seed */
    const char *fuzzy;    /* --fuzzy: "0", "1", "2" or "AUTO" on every keystroke COMPLETE; NULL: not given */
    int infix;            /* --infix: INFIX on every COMPLETE */
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
    rp_typo_stats ty;
} rp_run;

/* The plan (replay_plan.c). After ep_events_sort: numbers users (uidx) and
 * sessions (sess) per event, and fills order[] / norder and time0, skipping
 * (and counting) the events over the limits. Returns 0, or -1 after a
 * one-line message on stderr. */
int rp_plan_events(rp_run *r);

/* The run (replay_run.c). rp_run_user_hash: FNV-1a of an AnonID; a user's
 * events go to connection hash % nconn (an event without a user: seq %
 * nconn). rp_run_on_signal: the SIGINT / SIGTERM handler; the loop then ends
 * the run as "interrupted". rp_run_connect: opens the nconn connections to
 * host:port; returns 0, or -1 after a one-line message on stderr (the fds
 * opened so far are left to run_free). rp_run_loop: plays the events (closed
 * loop: each connection's evs[]; open loop: order[]) and returns 0 when all
 * were played or the run stopped as asked (--duration, --limit), else -1
 * with r->fatal saying why; the measures taken so far stay in r either
 * way. */
uint32_t rp_run_user_hash(const char *u, size_t n);
void rp_run_on_signal(int sig);
int rp_run_connect(rp_run *r);
int rp_run_loop(rp_run *r);

/* Report writers (replay_report.c). The summary goes to f (stdout unless
 * --quiet); the JSON and HTML writers create path and return 0, or -1 after
 * a one-line message on stderr ("qac replay: cannot write PATH: reason", or
 * "qac replay: out of memory" from the JSON writer, which builds the document
 * with common/json.h before writing it). */
void rp_report_summary(const rp_run *r, FILE *f);
int rp_report_json(const rp_run *r, const char *path);
int rp_report_html(const rp_run *r, const char *path);

/* --typos (replay_typos.c). rp_typos_plan: after slot s's COMPLETE of the
 * typed prefix q[0..bytes) (cp code points) of its query q[0..qlen), draws
 * whether it is typo'd and, if so, fills s->typo and sets s->typo_next = 1.
 * rp_typos_record: a typo'd request's answer (fuzzy: 0 plain, 1 FUZZY
 * AUTO) and its latency in microseconds; the pair is scored at the second.
 * rp_typos_mrr / _recall: the figures (0 when nothing was scored). The
 * report pieces: a few summary lines, the "typos" member of the JSON
 * object (no separator around it; 0 or -1 OOM), an HTML section. */
void rp_typos_plan(rp_run *r, slot *s, const char *q, size_t qlen, size_t bytes, size_t cp);
void rp_typos_record(rp_run *r, slot *s, int fuzzy, const rp_reply *rep, uint64_t us);
double rp_typos_mrr(const rp_run *r, int side); /* side: 0 plain, 1 FUZZY AUTO, 2 typed right */
double rp_typos_recall(const rp_run *r, int side);
void rp_typos_summary(const rp_run *r, FILE *f);
int rp_typos_json(qbuf *b, const rp_run *r);
void rp_typos_html(const rp_run *r, FILE *f);

#endif
