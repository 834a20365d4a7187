/* qlog.c -- streaming query-log reader (see qlog.h for formats and reasons).
 *
 * Layout: one fixed buffer of QLOG_BUF bytes (4 * QLOG_MAX_LINE) over a file
 * descriptor; [pos, end) is unread data. A line is returned in place (the
 * newline is replaced by nothing: records carry lengths). When no newline is
 * found within QLOG_MAX_LINE bytes the line is skipped by reading on until
 * the next newline, so memory stays bounded by QLOG_BUF whatever the input.
 *
 * AOL grouping: a hash table (open addressing, linear probing, power-of-two
 * size, at most half full) maps each AnonID to its last event (norm_eval
 * form of the query and the time). A row equal to its user's last event is
 * merged; otherwise it becomes the user's last event and is returned.
 */
#include "data/qlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/util.h"
#include "text/norm.h"

#define QLOG_BUF (4 * QLOG_MAX_LINE)
#define QLOG_EVAL_CAP (QLOG_MAX_QUERY * NORM_MAX_GROWTH)
#define AOL_HEADER "AnonID\tQuery\tQueryTime"

typedef struct user_ent {
    char *user; /* NULL = empty slot; owns user bytes then query bytes */
    uint32_t userlen, qlen, cap;
    int64_t time;
} user_ent;

struct qlog {
    int fd, eof, strict, own_fd;
    qlog_format fmt;
    char *path;
    char *buf;
    size_t pos, end;
    int64_t size;
    qlog_stats st;
    char err[512];
    char evalbuf[QLOG_EVAL_CAP];
    user_ent *users;
    size_t ucap, ucount;
};

static const char *const reason_names[QLOG_NREASONS] = {
    "line_too_long", "invalid_utf8", "missing_field", "bad_time", "bad_count", "control_char", "empty", "too_long",
};

const char *qlog_reason_name(qlog_reason r) { return (unsigned)r < QLOG_NREASONS ? reason_names[r] : "unknown"; }

const char *qlog_format_name(qlog_format f) {
    switch (f) {
    case QLOG_AOL: return "aol";
    case QLOG_COUNTS: return "counts";
    case QLOG_LINES: return "lines";
    default: return "auto";
    }
}

int qlog_format_parse(const char *name, qlog_format *out) {
    if (!strcmp(name, "aol")) *out = QLOG_AOL;
    else if (!strcmp(name, "counts")) *out = QLOG_COUNTS;
    else if (!strcmp(name, "lines")) *out = QLOG_LINES;
    else return -1;
    return 0;
}

uint64_t qlog_bad_total(const qlog_stats *s) {
    uint64_t n = 0;
    for (int i = 0; i < QLOG_NREASONS; i++) n += s->bad[i];
    return n;
}

void qlog_stats_add(qlog_stats *a, const qlog_stats *b) {
    a->lines += b->lines;
    a->records += b->records;
    a->merged += b->merged;
    a->bytes += b->bytes;
    for (int i = 0; i < QLOG_NREASONS; i++) a->bad[i] += b->bad[i];
}

void qlog_print_stats(FILE *f, const char *label, const qlog_stats *s) {
    fprintf(f, "%s: %llu lines, %llu records, %llu merged, %llu bad", label, (unsigned long long)s->lines,
            (unsigned long long)s->records, (unsigned long long)s->merged, (unsigned long long)qlog_bad_total(s));
    const char *sep = " (";
    for (int i = 0; i < QLOG_NREASONS; i++)
        if (s->bad[i]) {
            fprintf(f, "%s%s %llu", sep, reason_names[i], (unsigned long long)s->bad[i]);
            sep = ", ";
        }
    fprintf(f, "%s\n", *sep == ',' ? ")" : "");
}

const char *qlog_error(const qlog *r) { return r->err; }
const qlog_stats *qlog_get_stats(const qlog *r) { return &r->st; }
qlog_format qlog_get_format(const qlog *r) { return r->fmt; }
int64_t qlog_file_size(const qlog *r) { return r->size; }

/* Reads until the buffer is full or EOF. 0 or QLOG_EIO. */
static int fill(qlog *r) {
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->end - r->pos);
        r->end -= r->pos;
        r->pos = 0;
    }
    while (!r->eof && r->end < QLOG_BUF) {
        ssize_t n = read(r->fd, r->buf + r->end, QLOG_BUF - r->end);
        if (n < 0) {
            if (errno == EINTR) continue;
            snprintf(r->err, sizeof r->err, "%s: read failed: %s", r->path, strerror(errno));
            return QLOG_EIO;
        }
        if (n == 0) r->eof = 1;
        r->end += (size_t)n;
    }
    return 0;
}

/* Next line into [*line, *line + *len) without the newline. Returns 1, 0 at
 * EOF, or QLOG_EIO. *too_long is set for a line over QLOG_MAX_LINE (then the
 * line's bytes are not returned). */
static int read_line(qlog *r, char **line, size_t *len, int *too_long) {
    *too_long = 0;
    for (;;) {
        size_t have = r->end - r->pos;
        char *start = r->buf + r->pos;
        char *nl = memchr(start, '\n', have);
        if (nl) {
            *line = start;
            *len = (size_t)(nl - start);
            r->pos += *len + 1;
            r->st.bytes += *len + 1;
            if (*len > QLOG_MAX_LINE) *too_long = 1;
            return 1;
        }
        if (have > QLOG_MAX_LINE) { /* skip to the next newline */
            *too_long = 1;
            for (;;) {
                r->st.bytes += r->end - r->pos;
                r->pos = r->end = 0;
                if (r->eof) return 1;
                if (fill(r) < 0) return QLOG_EIO;
                nl = memchr(r->buf, '\n', r->end);
                if (nl) {
                    r->pos = (size_t)(nl - r->buf) + 1;
                    r->st.bytes += r->pos;
                    return 1;
                }
            }
        }
        if (r->eof) {
            if (have == 0) return 0;
            *line = start;
            *len = have;
            r->pos = r->end;
            r->st.bytes += have;
            return 1;
        }
        if (fill(r) < 0) return QLOG_EIO;
    }
}

static int is_number(const char *s, size_t len) {
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') i++;
    if (i == 0) return 0;
    if (i < len && s[i] == '.') {
        size_t j = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++;
        if (i == j) return 0;
    }
    return i == len;
}

static qlog_format detect(const char *buf, size_t n, int complete) {
    if (n >= sizeof AOL_HEADER - 1 && !memcmp(buf, AOL_HEADER, sizeof AOL_HEADER - 1)) return QLOG_AOL;
    size_t pos = 0, sampled = 0;
    while (pos < n && sampled < QLOG_DETECT_LINES) {
        const char *s = buf + pos;
        const char *nl = memchr(s, '\n', n - pos);
        size_t len;
        if (nl) len = (size_t)(nl - s);
        else if (complete) len = n - pos;
        else break; /* a partial last line is not sampled */
        pos += len + 1;
        if (len > 0 && s[len - 1] == '\r') len--;
        if (len == 0) continue;
        sampled++;
        const char *tab = memrchr(s, '\t', len);
        if (!tab || !is_number(tab + 1, len - (size_t)(tab + 1 - s))) return QLOG_LINES;
    }
    return sampled ? QLOG_COUNTS : QLOG_LINES;
}

qlog *qlog_open(const char *path, qlog_format fmt, int flags, char *err, size_t errlen) {
    qlog *r = qcalloc(1, sizeof *r);
    if (!r || !(r->buf = qmalloc(QLOG_BUF)) || !(r->path = strdup(path))) {
        if (r) qfree(r->buf);
        qfree(r);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    r->strict = flags & QLOG_STRICT;
    r->size = -1;
    if (!strcmp(path, "-")) {
        r->fd = 0;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            goto fail;
        }
        r->own_fd = 1;
        struct stat sb;
        if (fstat(r->fd, &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) {
                snprintf(err, errlen, "%s: is a directory", path);
                goto fail;
            }
            if (S_ISREG(sb.st_mode)) r->size = sb.st_size;
        }
    }
    if (fill(r) < 0) {
        snprintf(err, errlen, "%s", r->err);
        goto fail;
    }
    r->fmt = fmt != QLOG_AUTO ? fmt : detect(r->buf, r->end, r->eof);
    return r;
fail:
    qlog_close(r);
    return NULL;
}

void qlog_close(qlog *r) {
    if (!r) return;
    if (r->own_fd) close(r->fd);
    for (size_t i = 0; i < r->ucap; i++) qfree(r->users[i].user);
    qfree(r->users);
    qfree(r->buf);
    free(r->path);
    qfree(r);
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* The slot for user (empty slot if absent). Grows the table first. NULL on
 * allocation failure. */
static user_ent *user_slot(qlog *r, const char *u, size_t ulen) {
    if (2 * (r->ucount + 1) > r->ucap) {
        size_t ncap = r->ucap ? r->ucap * 2 : 1024;
        user_ent *nu = qcalloc(ncap, sizeof *nu);
        if (!nu) return NULL;
        for (size_t i = 0; i < r->ucap; i++) {
            user_ent *e = &r->users[i];
            if (!e->user) continue;
            size_t j = hash_bytes(e->user, e->userlen) & (ncap - 1);
            while (nu[j].user) j = (j + 1) & (ncap - 1);
            nu[j] = *e;
        }
        qfree(r->users);
        r->users = nu;
        r->ucap = ncap;
    }
    size_t j = hash_bytes(u, ulen) & (r->ucap - 1);
    while (r->users[j].user &&
           !(r->users[j].userlen == ulen && !memcmp(r->users[j].user, u, ulen)))
        j = (j + 1) & (r->ucap - 1);
    return &r->users[j];
}

/* 1 when the event is new (and recorded as the user's last), 0 when it
 * repeats the user's last event, QLOG_ENOMEM. */
static int aol_new_event(qlog *r, const char *u, size_t ulen, const char *q, size_t qlen, int64_t t) {
    user_ent *e = user_slot(r, u, ulen);
    if (!e) return QLOG_ENOMEM;
    if (e->user && e->time == t && e->qlen == qlen && !memcmp(e->user + e->userlen, q, qlen)) return 0;
    size_t need = ulen + qlen;
    if (!e->user || need > e->cap) {
        size_t cap = need < 64 ? 64 : need;
        char *nb = qmalloc(cap);
        if (!nb) return QLOG_ENOMEM;
        memcpy(nb, u, ulen);
        if (!e->user) r->ucount++;
        qfree(e->user);
        e->user = nb;
        e->cap = (uint32_t)cap;
        e->userlen = (uint32_t)ulen;
    }
    memcpy(e->user + ulen, q, qlen);
    e->qlen = (uint32_t)qlen;
    e->time = t;
    return 1;
}

static int is_space(char c) { return c == ' ' || (c >= 0x09 && c <= 0x0d); }

/* Checks shared by every format. Returns -1 when fine, else the reason. */
static int check_query(const char *q, size_t len) {
    if (norm_has_control(q, len)) return QLOG_CONTROL_CHAR;
    size_t a = 0, b = len;
    while (a < b && is_space(q[a])) a++;
    while (b > a && is_space(q[b - 1])) b--;
    if (a == b || (b - a == 1 && q[a] == '-')) return QLOG_EMPTY;
    if (len > QLOG_MAX_QUERY) return QLOG_TOO_LONG;
    return -1;
}

/* Classifies one line. Returns -1 and fills rec for a good line, else a
 * reason. */
static int parse_line(qlog *r, char *s, size_t len, qlog_rec *rec) {
    if (len == 0) return QLOG_EMPTY;
    if (!qutf8_valid(s, len)) return QLOG_INVALID_UTF8;
    rec->user = "";
    rec->userlen = 0;
    rec->time = QLOG_NO_TIME;
    rec->count = 1;
    int why;
    if (r->fmt == QLOG_AOL) {
        const char *f[6];
        size_t fl[6], nf = 0, a = 0;
        for (size_t i = 0; i <= len; i++) {
            if (i == len || s[i] == '\t') {
                if (nf == 6) return QLOG_MISSING_FIELD;
                f[nf] = s + a;
                fl[nf++] = i - a;
                a = i + 1;
            }
        }
        if (nf < 3 || nf > 5 || fl[0] == 0) return QLOG_MISSING_FIELD;
        if (qparse_time(f[2], fl[2], &rec->time) < 0) return QLOG_BAD_TIME;
        if (norm_has_control(f[0], fl[0])) return QLOG_CONTROL_CHAR;
        rec->user = f[0];
        rec->userlen = fl[0];
        rec->query = f[1];
        rec->querylen = fl[1];
    } else if (r->fmt == QLOG_COUNTS) {
        const char *tab = memrchr(s, '\t', len);
        if (!tab) return QLOG_MISSING_FIELD;
        const char *c = tab + 1;
        size_t clen = len - (size_t)(c - s);
        uint64_t u;
        if (qparse_u64(c, clen, &u) == 0) {
            rec->count = (double)u;
        } else if (qparse_double(c, clen, &rec->count) < 0 || !(rec->count >= 0)) {
            return QLOG_BAD_COUNT;
        }
        rec->query = s;
        rec->querylen = (size_t)(tab - s);
    } else {
        rec->query = s;
        rec->querylen = len;
    }
    if ((why = check_query(rec->query, rec->querylen)) >= 0) return why;
    return -1;
}

int qlog_next(qlog *r, qlog_rec *rec) {
    for (;;) {
        char *line;
        size_t len;
        int too_long;
        int rc = read_line(r, &line, &len, &too_long);
        if (rc <= 0) return rc;
        uint64_t lineno = ++r->st.lines;
        int why;
        if (too_long) {
            why = QLOG_LINE_TOO_LONG;
        } else {
            if (len > 0 && line[len - 1] == '\r') len--;
            if (r->fmt == QLOG_AOL && len >= sizeof AOL_HEADER - 1 &&
                !memcmp(line, AOL_HEADER, sizeof AOL_HEADER - 1))
                continue; /* the header (also of concatenated files) */
            why = parse_line(r, line, len, rec);
        }
        if (why >= 0) {
            r->st.bad[why]++;
            if (r->strict) {
                snprintf(r->err, sizeof r->err, "%s:%llu: %s", r->path, (unsigned long long)lineno,
                         reason_names[why]);
                return QLOG_EBAD;
            }
            continue;
        }
        rec->line = lineno;
        if (r->fmt == QLOG_AOL) {
            int n = norm_eval(rec->query, rec->querylen, r->evalbuf, sizeof r->evalbuf);
            if (n < 0) { /* checked above: only allocation can fail here */
                snprintf(r->err, sizeof r->err, "%s:%llu: %s", r->path, (unsigned long long)lineno,
                         norm_strerror(n));
                return QLOG_ENOMEM;
            }
            int fresh = aol_new_event(r, rec->user, rec->userlen, r->evalbuf, (size_t)n, rec->time);
            if (fresh < 0) {
                snprintf(r->err, sizeof r->err, "%s: out of memory", r->path);
                return QLOG_ENOMEM;
            }
            if (!fresh) {
                r->st.merged++;
                continue;
            }
        }
        r->st.records++;
        return 1;
    }
}
