/* logstore.h: CloudWatch Logs storage: groups, streams and events in one SQLite file
 * (STATE_DIR/logs.db), bounded by a byte cap (oldest events dropped first) and by each group's
 * retention. Answers in the Logs API's JSON shapes (epoch milliseconds). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct logstore;

#define LOG_EVENT_OVERHEAD 26           /* bytes AWS counts per event on top of its message */

struct log_event_in {
        long long ts;                   /* epoch ms */
        const char *msg;
        size_t len;
};

/* path NULL: in memory (tests). max_bytes: the cap on Σ(message + 26) over all events. */
int logstore_open(const char *path, long long max_bytes, struct logstore **ret, struct err *err);
struct logstore *logstore_close(struct logstore *ls);
long long logstore_bytes(struct logstore *ls);

/* Errors carry the Logs API code (ResourceNotFoundException, ResourceAlreadyExistsException, ...). */
int logstore_group_create(struct logstore *ls, const char *name, long long now_ms, json_t *tags, struct err *err);
int logstore_group_delete(struct logstore *ls, const char *name, struct err *err);
/* -ENOENT with ResourceNotFoundException when absent; *ret_retention 0 = never expire. */
int logstore_group_get(struct logstore *ls, const char *name, long long *ret_id, int *ret_retention, struct err *err);
/* Up to limit groups after name `after` (NULL: from the start), by name, with prefix or a
 * case-insensitive substring; each {logGroupName, creationTime, retentionInDays?, storedBytes, ...}
 * (ARNs are the caller's). *ret_more when there are more. */
int logstore_group_list(struct logstore *ls, const char *prefix, const char *pattern, const char *after, int limit,
                        json_t **ret, bool *ret_more, struct err *err);
int logstore_group_set_retention(struct logstore *ls, const char *name, int days, struct err *err);
/* Merges add (object) into the tags and drops the keys in remove (array); *ret the tags after. */
int logstore_group_tags(struct logstore *ls, const char *name, json_t *add, json_t *remove, json_t **ret, struct err *err);

int logstore_stream_create(struct logstore *ls, const char *group, const char *name, long long now_ms, struct err *err);
int logstore_stream_delete(struct logstore *ls, const char *group, const char *name, struct err *err);
/* Streams of a group from offset, by name or by last event time, at most limit. */
int logstore_stream_list(struct logstore *ls, const char *group, const char *prefix, bool by_time, bool descending,
                         long long offset, int limit, json_t **ret, bool *ret_more, struct err *err);

/* Appends events (in time order) to group/stream, ingested at now_ms. */
int logstore_put(struct logstore *ls, const char *group, const char *stream, const struct log_event_in *ev, size_t n,
                 long long now_ms, struct err *err);

/* A position between events: (ts, id); forward reads what is after, backward what is before. */
struct log_pos {
        long long ts, id;
};

struct log_get_in {
        const char *group, *stream;
        long long start, end;           /* [start, end) epoch ms */
        bool have_pos, forward;
        struct log_pos pos;
        int limit;
};
/* GetLogEvents: events[{timestamp, message, ingestionTime}] in time order; *ret_first and *ret_last: the
 * positions of the first and last event returned (unchanged when none). */
int logstore_get(struct logstore *ls, const struct log_get_in *in, json_t **ret, struct log_pos *ret_first,
                 struct log_pos *ret_last, struct err *err);

struct log_filter;
struct log_filter_in {
        const char *group;
        json_t *names;                  /* logStreamNames (array) or NULL */
        const char *prefix;             /* logStreamNamePrefix or NULL */
        long long start, end;
        bool have_pos;
        struct log_pos pos;
        int limit;
        const struct log_filter *filter;
};
/* FilterLogEvents: events[{logStreamName, timestamp, message, ingestionTime, eventId}]; *ret_more
 * with *ret_pos where the next call goes on. */
int logstore_filter(struct logstore *ls, const struct log_filter_in *in, json_t **ret, bool *ret_more,
                    struct log_pos *ret_pos, struct err *err);

/* Drops events past their group's retention, then the oldest until under the cap. */
int logstore_prune(struct logstore *ls, long long now_ms, struct err *err);

/* awslogs tails (driver.c): one file of a container, where its lines go and how far it was read. */
struct log_tail {
        const char *task, *container, *path, *group;
        const char *stream;             /* "" until known (no prefix: the container's runtime id) */
        const char *key;                /* the task's record in the state store */
        long long offset;
};
int logstore_tail_add(struct logstore *ls, const struct log_tail *t, struct err *err);
typedef int (*logstore_tail_cb)(const struct log_tail *t, void *userdata);
int logstore_tail_list(struct logstore *ls, logstore_tail_cb cb, void *userdata, struct err *err);
/* Records how far the file was read and, when stream is not NULL, the stream's name. */
int logstore_tail_set(struct logstore *ls, const char *task, const char *container, long long offset, const char *stream,
                      struct err *err);
int logstore_tail_del(struct logstore *ls, const char *task, const char *container, struct err *err);
