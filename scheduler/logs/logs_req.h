/* logs_req.h: the pure decoders of the Logs API (requests to structs, names, tokens, PutLogEvents'
 * batch rules). No state: unit-tested and fuzzed (tests/unit/sched_logs_test.c,
 * tests/fuzz/fuzz_sched_logs.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "logstore.h"

#define LOGS_E_PARAM "InvalidParameterException"
#define LOGS_E_NF "ResourceNotFoundException"
#define LOGS_E_EXISTS "ResourceAlreadyExistsException"
#define LOGS_E_LIMIT "LimitExceededException"

#define LOGS_NAME_MAX 512
#define LOGS_PAGE_MAX 50                /* DescribeLogGroups/DescribeLogStreams limit */
#define LOGS_EVENTS_MAX 10000           /* events per PutLogEvents, and GetLogEvents/FilterLogEvents limit */
#define LOGS_BATCH_BYTES 1048576        /* Σ(message + 26) per PutLogEvents */
#define LOGS_EVENT_BYTES 1048550        /* one message (1 MB less the 26 bytes) */
#define LOGS_SPAN_MS (24LL * 3600 * 1000)
#define LOGS_TOO_NEW_MS (2LL * 3600 * 1000)
#define LOGS_TOO_OLD_MS (14LL * 24 * 3600 * 1000)

/* logGroupName: 1-512 of [.-_/#A-Za-z0-9]; logStreamName: 1-512, no ':' or '*'. */
int logs_group_name_check(const char *name, struct err *err);
int logs_stream_name_check(const char *name, struct err *err);
bool logs_retention_valid(long long days);

/* logGroupName, or logGroupIdentifier (a name or an ARN arn:aws:logs:R:A:log-group:NAME[:*]) when
 * allowed; the name goes to buf. */
int logs_group_arg(json_t *req, bool identifier_ok, char buf[LOGS_NAME_MAX + 1], struct err *err);

/* Opaque tokens: "f/TS/ID", "b/TS/ID" (GetLogEvents), "p/TS/ID" (FilterLogEvents), "o/N" (offsets). */
void logs_token_pos(char kind, const struct log_pos *p, char *buf, size_t size);
int logs_token_pos_parse(const char *tok, char *ret_kind, struct log_pos *ret, struct err *err);
int logs_token_offset_parse(const char *tok, long long *ret, struct err *err);

struct logs_groups_in {
        const char *prefix, *pattern, *after;
        int limit;
};
int logs_groups_decode(json_t *req, struct logs_groups_in *ret, struct err *err);

struct logs_streams_in {
        char group[LOGS_NAME_MAX + 1];
        const char *prefix;
        bool by_time, descending;
        long long offset;
        int limit;
};
int logs_streams_decode(json_t *req, struct logs_streams_in *ret, struct err *err);

struct logs_put_in {
        char group[LOGS_NAME_MAX + 1];
        const char *stream;
        struct log_event_in *ev;        /* owned; messages borrowed from the request */
        size_t n;
};
/* Types, counts, sizes, time order and span (the rules that fail the whole call). */
int logs_put_decode(json_t *req, struct logs_put_in *ret, struct err *err);
void logs_put_done(struct logs_put_in *in);
/* Which events are kept: [*ret_from, *ret_to); *ret_info gets rejectedLogEventsInfo or NULL when
 * every event is kept. retention_days 0 = never expire. */
void logs_put_classify(const struct logs_put_in *in, long long now_ms, int retention_days, size_t *ret_from, size_t *ret_to,
                       json_t **ret_info);

struct logs_get_in {
        char group[LOGS_NAME_MAX + 1];
        struct log_get_in q;
        const char *token;              /* as sent: returned unchanged at the end of the stream */
};
int logs_get_decode(json_t *req, struct logs_get_in *ret, struct err *err);

struct logs_filter_in {
        char group[LOGS_NAME_MAX + 1];
        struct log_filter_in q;
        const char *pattern;
};
int logs_filter_decode(json_t *req, struct logs_filter_in *ret, struct err *err);
