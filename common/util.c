#include "common/util.h"
#include "common/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

uint64_t qtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double qtime_wall(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int qparse_u64(const char *s, size_t len, uint64_t *out) {
    if (len == 0 || len > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9) return -1;
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int qparse_i64(const char *s, size_t len, int64_t *out) {
    int neg = 0;
    if (len && (s[0] == '-' || s[0] == '+')) neg = s[0] == '-', s++, len--;
    uint64_t u;
    if (qparse_u64(s, len, &u) < 0) return -1;
    if (neg ? u > (uint64_t)INT64_MAX + 1 : u > (uint64_t)INT64_MAX) return -1;
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    return 0;
}

int qparse_double(const char *s, size_t len, double *out) {
    char tmp[64];
    if (len == 0 || len >= sizeof tmp) return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) return -1;
    }
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + len || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9) return -1;
        v = v * 10 + (int)d;
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), Howard Hinnant's algorithm. */
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int qparse_time(const char *s, size_t len, int64_t *out) {
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (len != 10 && len != 19) return -1;
    if (s[4] != '-' || s[7] != '-') return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d)) return -1;
    if (len == 19) {
        if (s[10] != ' ' || s[13] != ':' || s[16] != ':') return -1;
        if (digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se)) return -1;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) return -1;
    if (h > 23 || mi > 59 || se > 60) return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

int qutf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str, *e = s + len;
    while (s < e) {
        unsigned c = *s;
        if (c < 0x80) { s++; continue; }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) n = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = c & 0x07;
        else return 0;
        if ((size_t)(e - s) <= n) return 0;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
        if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
        s += n + 1;
    }
    return 1;
}

size_t qutf8_count(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

void qbuf_init(qbuf *b) { b->data = NULL, b->len = b->cap = 0; }

void qbuf_free(qbuf *b) {
    qfree(b->data);
    qbuf_init(b);
}

int qbuf_reserve(qbuf *b, size_t extra) {
    if (b->cap - b->len >= extra) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    char *p = qrealloc(b->data, cap);
    if (!p) return -1;
    b->data = p, b->cap = cap;
    return 0;
}

int qbuf_append(qbuf *b, const void *p, size_t n) {
    if (qbuf_reserve(b, n) < 0) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int qbuf_puts(qbuf *b, const char *s) { return qbuf_append(b, s, strlen(s)); }

int qbuf_printf(qbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || qbuf_reserve(b, (size_t)n + 1) < 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int qbuf_putu64(qbuf *b, uint64_t v) {
    char tmp[20];
    int i = 20;
    do tmp[--i] = (char)('0' + v % 10), v /= 10; while (v);
    return qbuf_append(b, tmp + i, (size_t)(20 - i));
}

void qbuf_consume(qbuf *b, size_t n) {
    if (n >= b->len) { b->len = 0; return; }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

int qfile_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    char tmp[4096], dir[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp) {
        if (err) snprintf(err, errlen, "path too long: %s", path);
        errno = ENAMETOOLONG;
        return -1;
    }
    const char *step = "create";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) goto fail;
    step = "write";
    for (size_t w = 0; w < len;) {
        ssize_t k = write(fd, (const char *)data + w, len - w);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO;
            goto fail;
        }
        w += (size_t)k;
    }
    step = "fsync";
    if (fsync(fd) < 0) goto fail;
    step = "close";
    int cr = close(fd);
    fd = -1;
    if (cr < 0) goto fail;
    step = "rename";
    if (rename(tmp, path) < 0) goto fail;
    /* The rename is durable only once the directory is on disk. */
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        int rc = fsync(dfd);
        int e = errno;
        close(dfd);
        if (rc < 0 && e != EINVAL) { /* some file systems cannot fsync a directory */
            errno = e;
            if (err) snprintf(err, errlen, "cannot fsync the directory of %s: %s", path, strerror(e));
            return -1;
        }
    }
    return 0;
fail:;
    int e = errno;
    if (err) snprintf(err, errlen, "cannot %s %s: %s", step, step[0] == 'r' ? path : tmp, strerror(e));
    if (fd >= 0) close(fd);
    unlink(tmp);
    errno = e;
    return -1;
}

int qsecret_eq(const char *want, const char *pw, size_t len) {
    const unsigned char *w = (const unsigned char *)want;
    size_t wl = strlen(want);
    volatile unsigned char diff = (unsigned char)(len != wl);
    for (size_t i = 0; i < len; i++) diff |= (unsigned char)((unsigned char)pw[i] ^ w[i < wl ? i : 0]);
    return diff == 0;
}
