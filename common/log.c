#include "common/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"

static int log_level = LOG_INFO;
static int log_fd = STDERR_FILENO;

void log_set_level(int level) { log_level = level; }
int log_get_level(void) { return log_level; }
void log_set_fd(int fd) { log_fd = fd; }

int log_level_parse(const char *name) {
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        const char *a = names[i], *b = name;
        while (*a && (*b | 0x20) == *a) a++, b++;
        if (!*a && !*b) return i;
    }
    return -1;
}

/* The line under construction: filled against cap, which leaves room for the
 * " truncated=1" marker and the newline. */
#define LOG_CUT_MARK " truncated=1"
struct lbuf {
    char b[LOG_LINE_MAX];
    size_t n, cap;
    int cut;
};

static void put(struct lbuf *l, const char *s, size_t len) {
    if (len > l->cap - l->n) {
        len = l->cap - l->n;
        l->cut = 1;
    }
    memcpy(l->b + l->n, s, len);
    l->n += len;
}

static int needs_quotes(const unsigned char *s, size_t len, int *utf8) {
    int q = len == 0, high = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f) q = 1;
        if (c >= 0x80) high = 1;
    }
    *utf8 = !high || qutf8_valid((const char *)s, len);
    return q || !*utf8;
}

/* Writes a value, quoted and escaped when it must be (see log.h). A value cut
 * by the line's capacity still ends with its closing quote when there is room. */
static void put_value(struct lbuf *l, const char *v, size_t len) {
    int utf8;
    const unsigned char *s = (const unsigned char *)v;
    if (!needs_quotes(s, len, &utf8)) {
        put(l, v, len);
        return;
    }
    put(l, "\"", 1);
    for (size_t i = 0; i < len && !l->cut; i++) {
        unsigned char c = s[i];
        char esc[5];
        size_t n = 0;
        if (c == '"' || c == '\\') esc[n++] = '\\', esc[n++] = (char)c;
        else if (c == '\n') esc[n++] = '\\', esc[n++] = 'n';
        else if (c == '\r') esc[n++] = '\\', esc[n++] = 'r';
        else if (c == '\t') esc[n++] = '\\', esc[n++] = 't';
        else if (c < ' ' || c == 0x7f || (c >= 0x80 && !utf8)) n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
        else esc[n++] = (char)c;
        if (n > l->cap - l->n - 1) { /* keep one byte for the closing quote */
            l->cut = 1;
            break;
        }
        put(l, esc, n);
    }
    if (!l->cut) put(l, "\"", 1);
    else if (l->n < l->cap) l->b[l->n++] = '"';
}

/* One conversion of the caller's format, rebuilt without '*' (their values
 * are read here) and formatted with the argument of its type. Returns the
 * format position after it. The caller's whole format was checked by the
 * compiler at the LOG_ call (format attribute); the spec is a piece of it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static const char *put_conv(struct lbuf *l, const char *f, va_list *ap) {
    char spec[48], tmp[128];
    size_t k = 0;
    spec[k++] = '%';
    f++;
    while (*f && strchr("-+ #0", *f) && k < 8) spec[k++] = *f++;
    int prec = -1;
    if (*f == '*') {
        k += (size_t)snprintf(spec + k, 12, "%d", va_arg(*ap, int));
        f++;
    } else {
        while (isdigit((unsigned char)*f) && k < 16) spec[k++] = *f++;
    }
    if (*f == '.') {
        f++;
        if (*f == '*') {
            prec = va_arg(*ap, int);
            f++;
        } else {
            prec = 0;
            while (isdigit((unsigned char)*f)) prec = prec * 10 + (*f++ - '0');
        }
        if (prec >= 0) k += (size_t)snprintf(spec + k, 14, ".%d", prec);
    }
    char len[3] = {0};
    size_t ln = 0;
    while (*f && strchr("hlzjtL", *f) && ln < 2) len[ln] = *f, spec[k++] = *f++, ln++;
    char conv = *f ? *f++ : 0;
    spec[k++] = conv;
    spec[k] = 0;
    int n = -1;
    switch (conv) {
    case 's': {
        const char *v = va_arg(*ap, const char *);
        if (!v) v = "(null)";
        put_value(l, v, prec >= 0 ? strnlen(v, (size_t)prec) : strlen(v));
        return f;
    }
    case 'c':
        n = snprintf(tmp, sizeof tmp, spec, va_arg(*ap, int));
        break;
    case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': {
        int sgn = conv == 'd' || conv == 'i';
        if (!strcmp(len, "ll")) n = sgn ? snprintf(tmp, sizeof tmp, spec, va_arg(*ap, long long))
                                        : snprintf(tmp, sizeof tmp, spec, va_arg(*ap, unsigned long long));
        else if (!strcmp(len, "l")) n = sgn ? snprintf(tmp, sizeof tmp, spec, va_arg(*ap, long))
                                            : snprintf(tmp, sizeof tmp, spec, va_arg(*ap, unsigned long));
        else if (!strcmp(len, "z")) n = sgn ? snprintf(tmp, sizeof tmp, spec, va_arg(*ap, ssize_t))
                                            : snprintf(tmp, sizeof tmp, spec, va_arg(*ap, size_t));
        else if (!strcmp(len, "j")) n = sgn ? snprintf(tmp, sizeof tmp, spec, va_arg(*ap, intmax_t))
                                            : snprintf(tmp, sizeof tmp, spec, va_arg(*ap, uintmax_t));
        else if (!strcmp(len, "t")) n = snprintf(tmp, sizeof tmp, spec, va_arg(*ap, ptrdiff_t));
        else n = sgn ? snprintf(tmp, sizeof tmp, spec, va_arg(*ap, int))
                     : snprintf(tmp, sizeof tmp, spec, va_arg(*ap, unsigned));
        break;
    }
    case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
        n = !strcmp(len, "L") ? snprintf(tmp, sizeof tmp, spec, va_arg(*ap, long double))
                              : snprintf(tmp, sizeof tmp, spec, va_arg(*ap, double));
        break;
    case 'p':
        n = snprintf(tmp, sizeof tmp, spec, va_arg(*ap, void *));
        break;
    default: /* %n or an unknown conversion: written as it stands, no argument read */
        put(l, spec, k);
        return f;
    }
    if (n > 0) put(l, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
    return f;
}
#pragma GCC diagnostic pop

void log_event(int level, const char *event, const char *fmt, ...) {
    static const char *name[] = {"debug", "info", "warn", "error"};
    if (level < log_level || level >= LOG_OFF || level < 0) return;
    struct lbuf l;
    l.n = 0;
    l.cut = 0;
    l.cap = sizeof l.b - sizeof LOG_CUT_MARK; /* the mark without its NUL, and the newline */
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    char head[64];
    size_t h = strftime(head, sizeof head, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    h += (size_t)snprintf(head + h, sizeof head - h, ".%03dZ level=%s event=", (int)(tv.tv_usec / 1000), name[level]);
    put(&l, head, h);
    put_value(&l, event, strlen(event));
    if (*fmt) put(&l, " ", 1);
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f && !l.cut;) {
        if (*f != '%') {
            const char *pct = strchr(f, '%');
            size_t n = pct ? (size_t)(pct - f) : strlen(f);
            put(&l, f, n);
            f += n;
        } else if (f[1] == '%') {
            put(&l, "%", 1);
            f += 2;
        } else {
            f = put_conv(&l, f, &ap);
        }
    }
    va_end(ap);
    if (l.cut) {
        memcpy(l.b + l.n, LOG_CUT_MARK, sizeof LOG_CUT_MARK - 1);
        l.n += sizeof LOG_CUT_MARK - 1;
    }
    l.b[l.n++] = '\n';
    ssize_t w = write(log_fd, l.b, l.n);
    (void)w;
}
