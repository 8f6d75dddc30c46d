/* log.h: key=value logging to stderr (with <N> priority prefixes under journald). */
#pragma once

#include <syslog.h>

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_ident(const char *ident);
/* "error", "warning", "notice", "info" or "debug" -> LOG_*; -EINVAL otherwise. */
int log_parse_level(const char *name);

/* Logs "level=... <fields>" where fmt already holds key=value pairs (values
 * with spaces quoted by the caller via "%s" and log_q()). Returns -errnum when
 * errnum != 0, else 0, so callers can `return log_error_errno(r, ...)`. */
int log_internal(int level, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
