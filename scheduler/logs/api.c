/* api.c: the Logs_20140328 operations on ecsboxd's endpoint (JSON 1.1, signed for "logs"):
 * log groups, streams, PutLogEvents, GetLogEvents, FilterLogEvents, retention and tags. The
 * decoders are logs_req.c's, the storage logstore.c's. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/timeutil.h"
#include "../sched.h"
#include "filter.h"
#include "logs.h"
#include "logs_req.h"
#include "logstore.h"

#define TOKEN_MAX 64

typedef int (*logs_op_fn)(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);

long long logs_now_ms(void)
{
        return (long long) (now_epoch() * 1000.0);
}

static int need_store(struct sched *s, struct err *err)
{
        return s->logs ? 0 : err_set(err, ENODEV, NULL, "ecsboxd has no logs store");
}

static void group_arns(struct api_ctx *c, json_t *g)
{
        char arn[LOGS_NAME_MAX + 128];
        snprintf(arn, sizeof arn, "arn:aws:logs:%s:%s:log-group:%s", c->region, c->s->account, jstr(g, "logGroupName") ?: "");
        json_object_set_new(g, "logGroupArn", json_string(arn));
        strcat(arn, ":*");
        json_object_set_new(g, "arn", json_string(arn));
}

static int op_create_log_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        char group[LOGS_NAME_MAX + 1];
        json_t *tags = NULL, *v;
        const char *k;
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_group_arg(req, false, group, err)) < 0)
                return r;
        if ((r = json_get_object(req, "tags", false, &tags, err)) < 0)
                return err_set(err, EINVAL, LOGS_E_PARAM, "tags must be a map of strings");
        json_object_foreach(tags, k, v)
                if (!json_is_string(v))
                        return err_set(err, EINVAL, LOGS_E_PARAM, "tag '%s' must have a string value", k);
        if ((r = logstore_group_create(c->s->logs, group, logs_now_ms(), tags, err)) < 0)
                return r;
        log_info("msg=\"log group created\" group=%s", group);
        return 0;
}

static int op_delete_log_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        char group[LOGS_NAME_MAX + 1];
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_group_arg(req, false, group, err)) < 0 ||
            (r = logstore_group_delete(c->s->logs, group, err)) < 0)
                return r;
        log_info("msg=\"log group deleted\" group=%s", group);
        return 0;
}

static int op_describe_log_groups(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct logs_groups_in in;
        _cleanup_json_ json_t *groups = NULL;
        json_t *g;
        bool more;
        size_t i;
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_groups_decode(req, &in, err)) < 0 ||
            (r = logstore_group_list(c->s->logs, in.prefix, in.pattern, in.after, in.limit, &groups, &more, err)) < 0)
                return r;
        json_array_foreach(groups, i, g)
                group_arns(c, g);
        *ret = json_pack("{s:O}", "logGroups", groups);
        if (more && json_array_size(groups)) {
                char tok[LOGS_NAME_MAX + 8];
                snprintf(tok, sizeof tok, "n/%s", jstr(json_array_get(groups, json_array_size(groups) - 1), "logGroupName"));
                json_object_set_new(*ret, "nextToken", json_string(tok));
        }
        return 0;
}

static int op_create_log_stream(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        char group[LOGS_NAME_MAX + 1];
        const char *stream = NULL;
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_group_arg(req, false, group, err)) < 0)
                return r;
        if ((r = json_get_string(req, "logStreamName", true, &stream, err)) < 0) {
                snprintf(err->code, sizeof err->code, "%s", LOGS_E_PARAM);
                return r;
        }
        if ((r = logs_stream_name_check(stream, err)) < 0)
                return r;
        return logstore_stream_create(c->s->logs, group, stream, logs_now_ms(), err);
}

static int op_delete_log_stream(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        char group[LOGS_NAME_MAX + 1];
        const char *stream = NULL;
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_group_arg(req, false, group, err)) < 0)
                return r;
        if ((r = json_get_string(req, "logStreamName", true, &stream, err)) < 0) {
                snprintf(err->code, sizeof err->code, "%s", LOGS_E_PARAM);
                return r;
        }
        return logstore_stream_delete(c->s->logs, group, stream, err);
}

static int op_describe_log_streams(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct logs_streams_in in;
        _cleanup_json_ json_t *streams = NULL;
        json_t *st;
        bool more;
        size_t i;
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_streams_decode(req, &in, err)) < 0 ||
            (r = logstore_stream_list(c->s->logs, in.group, in.prefix, in.by_time, in.descending, in.offset, in.limit, &streams, &more,
                                      err)) < 0)
                return r;
        json_array_foreach(streams, i, st) {
                char arn[2 * LOGS_NAME_MAX + 128];
                snprintf(arn, sizeof arn, "arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", c->region, c->s->account, in.group,
                         jstr(st, "logStreamName") ?: "");
                json_object_set_new(st, "arn", json_string(arn));
        }
        *ret = json_pack("{s:O}", "logStreams", streams);
        if (more) {
                char tok[TOKEN_MAX];
                snprintf(tok, sizeof tok, "o/%lld", in.offset + (long long) json_array_size(streams));
                json_object_set_new(*ret, "nextToken", json_string(tok));
        }
        return 0;
}

static int op_put_log_events(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct logs_put_in in;
        json_t *info = NULL;
        size_t from, to;
        long long now = logs_now_ms();
        int retention, r;
        char tok[64];
        static unsigned long long seq;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_put_decode(req, &in, err)) < 0)
                return r;
        if ((r = logstore_group_get(c->s->logs, in.group, NULL, &retention, err)) < 0)
                goto out;
        logs_put_classify(&in, now, retention, &from, &to, &info);
        if ((r = logstore_put(c->s->logs, in.group, in.stream, in.ev + from, to - from, now, err)) < 0) {
                json_decref(info);
                goto out;
        }
        /* tokens are ignored (as AWS does since 2023), but Docker keeps the one it gets */
        snprintf(tok, sizeof tok, "%056llu", ++seq);
        *ret = json_pack("{s:s}", "nextSequenceToken", tok);
        if (info)
                json_object_set_new(*ret, "rejectedLogEventsInfo", info);
out:
        logs_put_done(&in);
        return r;
}

static int op_get_log_events(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct logs_get_in in;
        _cleanup_json_ json_t *events = NULL;
        struct log_pos first, last;
        char f[TOKEN_MAX], b[TOKEN_MAX];
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_get_decode(req, &in, err)) < 0)
                return r;
        first = last = in.q.have_pos ? in.q.pos : (struct log_pos) { -1, 0 };
        if ((r = logstore_get(c->s->logs, &in.q, &events, &first, &last, err)) < 0)
                return r;
        if (json_array_size(events) == 0 && in.token) {
                /* the end: the token that was sent comes back (clients stop when it repeats) */
                logs_token_pos('f', &in.q.pos, f, sizeof f);
                logs_token_pos('b', &in.q.pos, b, sizeof b);
        } else {
                logs_token_pos('f', &last, f, sizeof f);
                logs_token_pos('b', &first, b, sizeof b);
        }
        *ret = json_pack("{s:O, s:s, s:s}", "events", events, "nextForwardToken", f, "nextBackwardToken", b);
        return 0;
}

static int op_filter_log_events(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct logs_filter_in in;
        _cleanup_json_ json_t *events = NULL;
        struct log_filter *f = NULL;
        struct log_pos pos;
        bool more;
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_filter_decode(req, &in, err)) < 0 ||
            (r = log_filter_parse(in.pattern, &f, err)) < 0)
                return r;
        in.q.filter = f;
        r = logstore_filter(c->s->logs, &in.q, &events, &more, &pos, err);
        f = log_filter_free(f);
        if (r < 0)
                return r;
        *ret = json_pack("{s:O, s:[]}", "events", events, "searchedLogStreams");
        if (more) {
                char tok[TOKEN_MAX];
                logs_token_pos('p', &pos, tok, sizeof tok);
                json_object_set_new(*ret, "nextToken", json_string(tok));
        }
        return 0;
}

static int op_put_retention_policy(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        char group[LOGS_NAME_MAX + 1];
        long long days = 0;
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_group_arg(req, false, group, err)) < 0)
                return r;
        if ((r = json_get_int(req, "retentionInDays", true, LLONG_MIN, LLONG_MAX, &days, err)) < 0) {
                snprintf(err->code, sizeof err->code, "%s", LOGS_E_PARAM);
                return r;
        }
        if (!logs_retention_valid(days))
                return err_set(err, EINVAL, LOGS_E_PARAM,
                               "1 validation error detected: Value '%lld' at 'retentionInDays' failed to satisfy constraint: Member must "
                               "satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, "
                               "2557, 2922, 3288, 3653]", days);
        return logstore_group_set_retention(c->s->logs, group, (int) days, err);
}

static int op_delete_retention_policy(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        char group[LOGS_NAME_MAX + 1];
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = logs_group_arg(req, false, group, err)) < 0)
                return r;
        return logstore_group_set_retention(c->s->logs, group, 0, err);
}

/* The group of a resourceArn (TagResource and friends): arn:aws:logs:R:A:log-group:NAME[:*]. */
static int arn_group(json_t *req, char group[LOGS_NAME_MAX + 1], struct err *err)
{
        const char *arn = NULL;
        _cleanup_json_ json_t *q = NULL;
        int r;
        if ((r = json_get_string(req, "resourceArn", true, &arn, err)) < 0) {
                snprintf(err->code, sizeof err->code, "%s", LOGS_E_PARAM);
                return r;
        }
        if (strncmp(arn, "arn:", 4) != 0)
                return err_set(err, EINVAL, LOGS_E_PARAM, "Invalid resourceArn '%.200s'", arn);
        q = json_pack("{s:s}", "logGroupIdentifier", arn);
        return logs_group_arg(q, true, group, err);
}

static int tags_arg(json_t *req, const char *key, bool map, json_t **ret, struct err *err)
{
        json_t *v = json_object_get(req, key), *x;
        const char *k;
        size_t i;
        if (map ? !json_is_object(v) : !json_is_array(v))
                return err_set(err, EINVAL, LOGS_E_PARAM, "%s must be %s", key, map ? "a map of strings" : "a list of tag keys");
        if (map) {
                json_object_foreach(v, k, x)
                        if (!json_is_string(x))
                                return err_set(err, EINVAL, LOGS_E_PARAM, "tag '%s' must have a string value", k);
        } else {
                json_array_foreach(v, i, x)
                        if (!json_is_string(x))
                                return err_set(err, EINVAL, LOGS_E_PARAM, "%s[%zu] must be a string", key, i);
        }
        *ret = v;
        return 0;
}

static int tag_op(struct api_ctx *c, json_t *req, bool by_arn, const char *add_key, const char *del_key, const char *out_key,
                  json_t **ret, struct err *err)
{
        char group[LOGS_NAME_MAX + 1];
        json_t *add = NULL, *del = NULL, *tags = NULL;
        int r;
        if ((r = need_store(c->s, err)) < 0 || (r = by_arn ? arn_group(req, group, err) : logs_group_arg(req, false, group, err)) < 0 ||
            (add_key && (r = tags_arg(req, add_key, true, &add, err)) < 0) ||
            (del_key && (r = tags_arg(req, del_key, false, &del, err)) < 0) ||
            (r = logstore_group_tags(c->s->logs, group, add, del, out_key ? &tags : NULL, err)) < 0)
                return r;
        if (out_key)
                *ret = json_pack("{s:o}", out_key, tags);
        return 0;
}

static int op_tag_log_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return tag_op(c, req, false, "tags", NULL, NULL, ret, err);
}

static int op_untag_log_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return tag_op(c, req, false, NULL, "tags", NULL, ret, err);
}

static int op_list_tags_log_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return tag_op(c, req, false, NULL, NULL, "tags", ret, err);
}

static int op_tag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return tag_op(c, req, true, "tags", NULL, NULL, ret, err);
}

static int op_untag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return tag_op(c, req, true, NULL, "tagKeys", NULL, ret, err);
}

static int op_list_tags_for_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return tag_op(c, req, true, NULL, NULL, "tags", ret, err);
}

static const struct {
        const char *name;
        logs_op_fn fn;
} ops[] = {
        { "CreateLogGroup", op_create_log_group },
        { "DeleteLogGroup", op_delete_log_group },
        { "DescribeLogGroups", op_describe_log_groups },
        { "CreateLogStream", op_create_log_stream },
        { "DeleteLogStream", op_delete_log_stream },
        { "DescribeLogStreams", op_describe_log_streams },
        { "PutLogEvents", op_put_log_events },
        { "GetLogEvents", op_get_log_events },
        { "FilterLogEvents", op_filter_log_events },
        { "PutRetentionPolicy", op_put_retention_policy },
        { "DeleteRetentionPolicy", op_delete_retention_policy },
        { "TagLogGroup", op_tag_log_group },
        { "UntagLogGroup", op_untag_log_group },
        { "ListTagsLogGroup", op_list_tags_log_group },
        { "TagResource", op_tag_resource },
        { "UntagResource", op_untag_resource },
        { "ListTagsForResource", op_list_tags_for_resource },
};

const char *logs_signing_name(const char *target)
{
        return target && strncmp(target, LOGS_TARGET_PREFIX, strlen(LOGS_TARGET_PREFIX)) == 0 ? LOGS_SIGNING_NAME : NULL;
}

int logs_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err)
{
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strcmp(ops[i].name, op) == 0) {
                        c->op = ops[i].name;
                        return ops[i].fn(c, req, ret, err);
                }
        return err_set(err, EOPNOTSUPP, "UnknownOperationException", "Unknown operation '%s': ecsboxd's CloudWatch Logs does not implement it",
                       op);
}

int logs_open(struct sched *s, long long max_bytes, struct err *err)
{
        char path[SCHED_PATH_MAX + 16];
        int r;
        if (!s->state_dir[0])
                return logstore_open(NULL, max_bytes, &s->logs, err);
        snprintf(path, sizeof path, "%s/logs.db", s->state_dir);
        if ((r = logstore_open(path, max_bytes, &s->logs, err)) < 0)
                return r;
        /* what expired or overflowed while ecsboxd was down goes before the first read */
        logs_prune(s);
        return 0;
}

void logs_close(struct sched *s)
{
        s->logs = logstore_close(s->logs);
}

void logs_prune(struct sched *s)
{
        struct err err = { 0 };
        long long before;
        if (!s->logs)
                return;
        before = logstore_bytes(s->logs);
        if (logstore_prune(s->logs, logs_now_ms(), &err) < 0)
                log_error("msg=\"pruning the logs store failed\" err=\"%s\"", err.msg);
        else if (logstore_bytes(s->logs) != before)
                log_info("msg=\"log events pruned\" bytes_before=%lld bytes_after=%lld", before, logstore_bytes(s->logs));
}
