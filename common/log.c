#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_INFO;

void log_set_level(int level) { log_level = level; }
int log_get_level(void) { return log_level; }

int log_level_parse(const char *name) {
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++) {
        const char *a = names[i], *b = name;
        while (*a && (*b | 0x20) == *a) a++, b++;
        if (!*a && !*b) return i;
    }
    return -1;
}

void log_msg(int level, const char *fmt, ...) {
    static const char *tag[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < log_level || level >= LOG_OFF) return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03d [%s] ", (int)(tv.tv_usec / 1000), tag[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    n += m;
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
