/* log.h -- leveled, timestamped logging to stderr.
 *
 * Format: "2026-11-20 22:10:00.123 [INFO] message\n". One write(2) per line
 * so lines from a forked child (snapshot) and the parent never interleave.
 * The level is process-global; the default is LOG_INFO.
 */
#ifndef QAC_LOG_H
#define QAC_LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_OFF = 4 };

void log_set_level(int level);
int log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off". Returns the level or -1. */
int log_level_parse(const char *name);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_D(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define LOG_I(...) log_msg(LOG_INFO, __VA_ARGS__)
#define LOG_W(...) log_msg(LOG_WARN, __VA_ARGS__)
#define LOG_E(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
