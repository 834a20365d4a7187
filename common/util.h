/* util.h -- small helpers shared by every module: clocks, strict number
 * parsing, UTF-8 validation, and a growable byte buffer.
 *
 * Names: everything here starts with q (qtime_, qparse_, qutf8_, qfile_,
 * qbuf_), like the allocator's qmalloc, so a call site says the helper is
 * common/'s and not libc's.
 * Conventions: functions return 0 on success and -1 on failure unless they
 * say otherwise. Nothing here logs.
 */
#ifndef QAC_UTIL_H
#define QAC_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in nanoseconds / microseconds. */
uint64_t qtime_ns(void);
static inline uint64_t qtime_us(void) { return qtime_ns() / 1000; }
/* Wall clock, seconds since the epoch, with microseconds. */
double qtime_wall(void);

/* Strict parsers: the whole string [s, s+len) must be the number (no
 * leading/trailing space). Return 0 and set *out, or -1. */
int qparse_u64(const char *s, size_t len, uint64_t *out);
int qparse_i64(const char *s, size_t len, int64_t *out);
int qparse_double(const char *s, size_t len, double *out); /* finite only */

/* "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS" (UTC) to seconds since the epoch.
 * Returns 0 or -1 for anything else (including impossible dates). */
int qparse_time(const char *s, size_t len, int64_t *out);

/* 1 if [s, s+len) is well-formed UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF), else 0. */
int qutf8_valid(const char *s, size_t len);
/* Number of code points in well-formed UTF-8. */
size_t qutf8_count(const char *s, size_t len);

/* Replaces the file at path with [data, data+len) atomically and durably:
 * writes path.tmp.<pid>, fsyncs it, renames it over path, fsyncs the
 * directory. On failure the old file is untouched, the temporary is removed,
 * err (when non-NULL) names the step and the reason, and errno is kept.
 * Returns 0 or -1. */
/* 1 when pw[0..len) equals the NUL-terminated secret want, in a time that
 * depends on the lengths only (every byte of the attempt is looked at; the
 * length difference is folded in, not tested first). */
int qsecret_eq(const char *want, const char *pw, size_t len);
int qfile_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* A growable byte buffer. Owned by whoever holds the struct; qbuf_free
 * releases the storage. On allocation failure the append functions return -1
 * and leave the contents as they were. */
typedef struct qbuf {
    char *data;
    size_t len, cap;
} qbuf;

void qbuf_init(qbuf *b);
void qbuf_free(qbuf *b);
static inline void qbuf_reset(qbuf *b) { b->len = 0; }
int qbuf_reserve(qbuf *b, size_t extra);
int qbuf_append(qbuf *b, const void *p, size_t n);
static inline int qbuf_putc(qbuf *b, char c) { return qbuf_append(b, &c, 1); }
int qbuf_puts(qbuf *b, const char *s);
int qbuf_printf(qbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends an unsigned decimal without printf. */
int qbuf_putu64(qbuf *b, uint64_t v);
/* Drops the first n bytes (memmove). */
void qbuf_consume(qbuf *b, size_t n);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
