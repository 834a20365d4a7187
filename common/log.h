/* log.h -- leveled event logging to stderr, one key=value line per event.
 *
 * A line is (logfmt, as Heroku, Grafana Loki and `journalctl -o cat | grep`
 * read it):
 *
 *   ts=2026-12-06T06:50:00.123Z level=warn event=journal.torn_tail path=/var/lib/qac/journal.3 at=8192 cut=17
 *
 * - ts is UTC with milliseconds; level is debug|info|warn|error; event is a
 *   fixed dotted name (subsystem.what), so `grep event=journal.` finds every
 *   journal event and a message can be reworded without breaking a grep.
 * - The rest comes from the caller's format, written as key=value pairs:
 *   LOG_W("journal.torn_tail", "path=%s at=%llu cut=%llu", path, at, cut).
 *   Every %s argument is a value and is quoted when it must be: empty, or
 *   holding a space, '=', '"', a backslash, a control byte or bytes that are
 *   not UTF-8. Inside quotes \" \\ \n \r \t and \xHH escape, so a value never
 *   breaks the line (a client's text or a file name cannot forge a second
 *   event). Literal text in the format is copied as written, so a fixed
 *   explanation is written msg="..." in the format itself.
 * - A line is at most LOG_LINE_MAX bytes; a longer one is cut and ends with
 *   " truncated=1". One write(2) per line, so lines from a forked child
 *   (background save) and the parent never interleave.
 * The level is process-global; the default is LOG_INFO.
 */
#ifndef QAC_LOG_H
#define QAC_LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

#define LOG_LINE_MAX 2048

void log_set_level(int level);
int log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off". Returns the level or -1. */
int log_level_parse(const char *name);
/* Sends lines to fd instead of stderr (2); for tests. */
void log_set_fd(int fd);
void log_event(int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define LOG_D(event, ...) log_event(LOG_DEBUG, event, __VA_ARGS__)
#define LOG_I(event, ...) log_event(LOG_INFO, event, __VA_ARGS__)
#define LOG_W(event, ...) log_event(LOG_WARN, event, __VA_ARGS__)
#define LOG_E(event, ...) log_event(LOG_ERROR, event, __VA_ARGS__)

#endif
