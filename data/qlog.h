/* qlog.h -- streaming reader of query logs (used by build, eval and replay).
 *
 * Formats (one per file; detected from the file's start when not given):
 *   aol     header "AnonID\tQuery\tQueryTime[\tItemRank\tClickURL]", then rows
 *           AnonID, Query, QueryTime (YYYY-MM-DD HH:MM:SS), ItemRank, ClickURL
 *           (the last two may be empty or absent). Rows of one user with the
 *           same evaluation-normalized query (norm_eval) and the same time are
 *           ONE query event: the first row yields the event, later rows are
 *           merged into it (counted in qlog_stats.merged), whether adjacent or
 *           not (a per-user record of the last event is kept).
 *   counts  "query<TAB>count" (split at the last TAB; count a non-negative
 *           decimal number, fractions allowed).
 *   lines   one query per line.
 * Detection: a first line starting with "AnonID\tQuery\tQueryTime" -> aol;
 * else every sampled non-empty line (up to QLOG_DETECT_LINES of the first
 * block) ending in TAB + number -> counts; else lines.
 *
 * Lines end in LF; a CR before it is dropped; a missing final newline is
 * fine. Lines are read through a fixed buffer: a line longer than
 * QLOG_MAX_LINE bytes is skipped without being held in memory.
 *
 * Bad lines are skipped and counted by reason (checked in this order):
 *   line_too_long  line over QLOG_MAX_LINE bytes
 *   invalid_utf8   the line is not well-formed UTF-8 (e.g. Latin-1 text)
 *   missing_field  aol: fewer than 3 fields or more than 5, or an empty
 *                  AnonID; counts: no TAB
 *   bad_time       aol: QueryTime unparsable
 *   bad_count      counts: not a non-negative finite number
 *   control_char   query or user holds a control character (norm_has_control)
 *   empty          query empty after trimming white space, or "-"
 *   too_long       query over QLOG_MAX_QUERY bytes
 * In strict mode (QLOG_STRICT) the first bad line ends reading with
 * QLOG_EBAD and qlog_error() says "FILE:LINE: reason".
 *
 * Errors: qlog_next returns 1 (a record), 0 (end of file), or QLOG_EIO /
 * QLOG_EBAD / QLOG_ENOMEM; qlog_error() then holds a one-line message.
 * Ownership: the reader owns everything; a record's strings point into the
 * reader's buffer and are valid until the next qlog_next() or qlog_close().
 */
#ifndef QAC_QLOG_H
#define QAC_QLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define QLOG_MAX_LINE (64 * 1024) /* bytes per line, newline excluded */
#define QLOG_MAX_QUERY 512        /* bytes per raw query */
#define QLOG_DETECT_LINES 100     /* lines sampled for format detection */
#define QLOG_NO_TIME INT64_MIN    /* qlog_rec.time of counts and lines records */

#define QLOG_EIO (-1)    /* open/read failed (errno in the message) */
#define QLOG_EBAD (-2)   /* strict mode: a bad line */
#define QLOG_ENOMEM (-3) /* allocation failed */

#define QLOG_STRICT 1 /* flag for qlog_open */

typedef enum qlog_format { QLOG_AUTO = 0, QLOG_AOL, QLOG_COUNTS, QLOG_LINES } qlog_format;

typedef enum qlog_reason {
    QLOG_LINE_TOO_LONG = 0,
    QLOG_INVALID_UTF8,
    QLOG_MISSING_FIELD,
    QLOG_BAD_TIME,
    QLOG_BAD_COUNT,
    QLOG_CONTROL_CHAR,
    QLOG_EMPTY,
    QLOG_TOO_LONG,
    QLOG_NREASONS
} qlog_reason;

typedef struct qlog_rec {
    const char *user; /* aol AnonID; "" for counts and lines */
    size_t userlen;
    const char *query; /* raw query bytes (valid UTF-8, no controls), not NUL-terminated */
    size_t querylen;
    int64_t time; /* epoch seconds UTC, or QLOG_NO_TIME */
    double count; /* 1 for events and lines, the count for counts */
    uint64_t line; /* 1-based line number of the (first) row */
} qlog_rec;

typedef struct qlog_stats {
    uint64_t lines;   /* lines read, header included */
    uint64_t records; /* records returned */
    uint64_t merged;  /* aol rows merged into an earlier event */
    uint64_t bad[QLOG_NREASONS];
    uint64_t bytes; /* bytes consumed so far */
} qlog_stats;

typedef struct qlog qlog;

/* Opens path ("-" = standard input). On failure returns NULL and writes a
 * one-line reason naming the path into err. */
qlog *qlog_open(const char *path, qlog_format fmt, int flags, char *err, size_t errlen);
int qlog_next(qlog *r, qlog_rec *rec);
void qlog_close(qlog *r);

const char *qlog_error(const qlog *r);
const qlog_stats *qlog_get_stats(const qlog *r);
qlog_format qlog_get_format(const qlog *r); /* the detected or given format */
int64_t qlog_file_size(const qlog *r);      /* -1 when unknown (a pipe) */

/* "aol", "counts", "lines" <-> qlog_format. parse returns 0 or -1. */
int qlog_format_parse(const char *name, qlog_format *out);
const char *qlog_format_name(qlog_format f);
const char *qlog_reason_name(qlog_reason r);
uint64_t qlog_bad_total(const qlog_stats *s);
/* Adds the counters of b into a. */
void qlog_stats_add(qlog_stats *a, const qlog_stats *b);
/* One line: "LABEL: N lines, N records, N merged, N bad (reason N, ...)". */
void qlog_print_stats(FILE *f, const char *label, const qlog_stats *s);

#endif
