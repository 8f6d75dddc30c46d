/* log.c: key=value log lines on stderr, journald priority prefixes when JOURNAL_STREAM is set. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecsbox/log.h"
#include "ecsbox/timeutil.h"

static int max_level = LOG_INFO;
static const char *ident = "ecsbox";

void log_set_max_level(int level) { max_level = level; }
int log_get_max_level(void) { return max_level; }
void log_set_ident(const char *s) { ident = s; }

int log_parse_level(const char *name)
{
        static const struct { const char *n; int l; } lv[] = {
                { "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
                { "info", LOG_INFO }, { "debug", LOG_DEBUG } };
        for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++)
                if (strcmp(lv[i].n, name) == 0)
                        return lv[i].l;
        return -EINVAL;
}

static const char *level_name(int level)
{
        switch (level) {
        case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR: return "error";
        case LOG_WARNING: return "warning";
        case LOG_NOTICE: return "notice";
        case LOG_INFO: return "info";
        default: return "debug";
        }
}

int log_internal(int level, int errnum, const char *fmt, ...)
{
        int saved = errno;
        if (errnum < 0)
                errnum = -errnum;
        if (level <= max_level) {
                char buf[2048];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(buf, sizeof buf, fmt, ap);
                va_end(ap);
                if (getenv("JOURNAL_STREAM"))
                        fprintf(stderr, "<%d>", level);
                else {
                        char when[ISO8601_MAX];
                        iso8601_ms(-1, when);
                        fprintf(stderr, "%s ", when);
                }
                if (errnum)
                        fprintf(stderr, "%s: level=%s %s err=\"%s\"\n", ident, level_name(level), buf,
                                strerror(errnum));
                else
                        fprintf(stderr, "%s: level=%s %s\n", ident, level_name(level), buf);
        }
        errno = saved;
        return errnum ? -errnum : 0;
}
