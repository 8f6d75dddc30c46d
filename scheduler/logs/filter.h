/* filter.h: CloudWatch Logs filter patterns (FilterLogEvents' filterPattern): terms, "phrases",
 * ?OR terms, -exclusions, JSON { $.sel op value && ... } and space-delimited [a, b=v, ...]. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"

#define LOG_FILTER_MAX 1024     /* the longest pattern AWS accepts */

struct log_filter;

/* Parses pattern (NULL or blank: every event matches). Errors: InvalidParameterException. */
int log_filter_parse(const char *pattern, struct log_filter **ret, struct err *err);
/* Does the message (len bytes, need not end with NUL) match? */
bool log_filter_match(const struct log_filter *f, const char *msg, size_t len);
struct log_filter *log_filter_free(struct log_filter *f);
