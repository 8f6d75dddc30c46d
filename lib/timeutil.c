/* timeutil.c: clocks and ISO-8601 timestamps shared by the binaries. */
#include <stdio.h>
#include <time.h>

#include "ecsbox/timeutil.h"

double now_epoch(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

uint64_t now_mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void fmt(time_t sec, long ms, char buf[ISO8601_MAX])
{
        struct tm tm;
        if (!gmtime_r(&sec, &tm)) {
                snprintf(buf, ISO8601_MAX, "-");
                return;
        }
        if (ms < 0)
                snprintf(buf, ISO8601_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        else
                snprintf(buf, ISO8601_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

void iso8601_ms(double t, char buf[ISO8601_MAX])
{
        if (t < 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                fmt(ts.tv_sec, ts.tv_nsec / 1000000, buf);
                return;
        }
        time_t sec = (time_t) t;
        long ms = (long) ((t - (double) sec) * 1000.0);
        fmt(sec, ms > 999 ? 999 : ms, buf);
}

void iso8601_s(double t, char buf[ISO8601_MAX])
{
        fmt((time_t) t, -1, buf);
}
