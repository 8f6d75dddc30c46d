/* timeutil.h: clocks and timestamps shared by the binaries (one copy of each). */
#pragma once

#include <stdint.h>

#define ISO8601_MAX 32

/* Wall clock, seconds since the epoch with nanosecond fraction. */
double now_epoch(void);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t now_mono_ms(void);
/* "2026-12-02T14:19:46.123Z" (UTC, milliseconds) for t seconds since the epoch; t < 0: now. */
void iso8601_ms(double t, char buf[ISO8601_MAX]);
/* "2026-12-02T14:19:46Z" (UTC, whole seconds) for t seconds since the epoch. */
void iso8601_s(double t, char buf[ISO8601_MAX]);
