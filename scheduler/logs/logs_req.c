/* logs_req.c: the Logs API's request decoders, name rules, tokens and PutLogEvents' batch rules,
 * with AWS's limits and messages (botocore's logs/2014-03-28 model, docs/logs.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "logs_req.h"

/* The json helpers' codes are EC2's; every parameter fault of Logs is InvalidParameterException. */
static int param(int r, struct err *err)
{
        if (r < 0 && err)
                snprintf(err->code, sizeof err->code, "%s", LOGS_E_PARAM);
        return r;
}

static int get_str(json_t *req, const char *key, bool required, const char **ret, struct err *err)
{
        return param(json_get_string(req, key, required, ret, err), err);
}

static int get_int(json_t *req, const char *key, long long min, long long max, long long *ret, struct err *err)
{
        return param(json_get_int(req, key, false, min, max, ret, err), err);
}

static int get_bool(json_t *req, const char *key, bool *ret, struct err *err)
{
        return param(json_get_bool(req, key, false, ret, err), err);
}

int logs_group_name_check(const char *name, struct err *err)
{
        size_t n = strlen(name);
        if (n < 1 || n > LOGS_NAME_MAX)
                return err_set(err, EINVAL, LOGS_E_PARAM,
                               "1 validation error detected: Value '%.64s' at 'logGroupName' failed to satisfy constraint: "
                               "Member must have length between 1 and 512", name);
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(".-_/#", c)))
                        return err_set(err, EINVAL, LOGS_E_PARAM,
                                       "1 validation error detected: Value '%.200s' at 'logGroupName' failed to satisfy constraint: "
                                       "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name);
        }
        return 0;
}

int logs_stream_name_check(const char *name, struct err *err)
{
        size_t n = strlen(name);
        if (n < 1 || n > LOGS_NAME_MAX)
                return err_set(err, EINVAL, LOGS_E_PARAM,
                               "1 validation error detected: Value '%.64s' at 'logStreamName' failed to satisfy constraint: "
                               "Member must have length between 1 and 512", name);
        if (strpbrk(name, ":*"))
                return err_set(err, EINVAL, LOGS_E_PARAM,
                               "1 validation error detected: Value '%.200s' at 'logStreamName' failed to satisfy constraint: "
                               "Member must satisfy regular expression pattern: [^:*]*", name);
        return 0;
}

bool logs_retention_valid(long long days)
{
        static const int ok[] = { 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 };
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
                if (days == ok[i])
                        return true;
        return false;
}

int logs_group_arg(json_t *req, bool identifier_ok, char buf[LOGS_NAME_MAX + 1], struct err *err)
{
        const char *name = NULL, *ident = NULL;
        int r;
        if ((r = get_str(req, "logGroupName", false, &name, err)) < 0 ||
            (identifier_ok && (r = get_str(req, "logGroupIdentifier", false, &ident, err)) < 0))
                return r;
        if (name && ident)
                return err_set(err, EINVAL, LOGS_E_PARAM, "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
        if (!name && !ident)
                return err_set(err, EINVAL, LOGS_E_PARAM, "Should provide either name or ARN of the log group.");
        if (ident && strncmp(ident, "arn:", 4) == 0) {
                /* arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*] */
                const char *p = strstr(ident, ":log-group:");
                size_t n;
                if (!p || strncmp(ident, "arn:aws:logs:", 13) != 0)
                        return err_set(err, EINVAL, LOGS_E_PARAM, "Invalid log group ARN '%.200s'", ident);
                p += strlen(":log-group:");
                n = strlen(p);
                if (n >= 2 && strcmp(p + n - 2, ":*") == 0)
                        n -= 2;
                if (n == 0 || n > LOGS_NAME_MAX)
                        return err_set(err, EINVAL, LOGS_E_PARAM, "Invalid log group ARN '%.200s'", ident);
                memcpy(buf, p, n);
                buf[n] = '\0';
        } else {
                const char *v = name ? name : ident;
                if (strlen(v) > LOGS_NAME_MAX)
                        return logs_group_name_check(v, err);
                snprintf(buf, LOGS_NAME_MAX + 1, "%s", v);
        }
        return logs_group_name_check(buf, err);
}

void logs_token_pos(char kind, const struct log_pos *p, char *buf, size_t size)
{
        snprintf(buf, size, "%c/%lld/%lld", kind, p->ts, p->id);
}

int logs_token_pos_parse(const char *tok, char *ret_kind, struct log_pos *ret, struct err *err)
{
        long long ts, id;
        int n = 0;
        if (!tok || !strchr("fbp", tok[0]) || tok[1] != '/' || sscanf(tok + 2, "%lld/%lld%n", &ts, &id, &n) != 2 ||
            tok[2 + n] != '\0')
                return err_set(err, EINVAL, LOGS_E_PARAM, "The specified nextToken is invalid.");
        *ret_kind = tok[0];
        ret->ts = ts;
        ret->id = id;
        return 0;
}

int logs_token_offset_parse(const char *tok, long long *ret, struct err *err)
{
        char *end;
        long long v;
        if (!tok || strncmp(tok, "o/", 2) != 0 || !tok[2])
                return err_set(err, EINVAL, LOGS_E_PARAM, "The specified nextToken is invalid.");
        errno = 0;
        v = strtoll(tok + 2, &end, 10);
        if (*end || errno || v < 0)
                return err_set(err, EINVAL, LOGS_E_PARAM, "The specified nextToken is invalid.");
        *ret = v;
        return 0;
}

static int get_limit(json_t *req, long long max, long long dflt, int *ret, struct err *err)
{
        long long v = dflt;
        int r = get_int(req, "limit", 1, max, &v, err);
        if (r < 0)
                return r;
        *ret = (int) v;
        return 0;
}

int logs_groups_decode(json_t *req, struct logs_groups_in *ret, struct err *err)
{
        struct logs_groups_in in = { .limit = LOGS_PAGE_MAX };
        const char *tok = NULL;
        int r;
        if ((r = get_str(req, "logGroupNamePrefix", false, &in.prefix, err)) < 0 ||
            (r = get_str(req, "logGroupNamePattern", false, &in.pattern, err)) < 0 || (r = get_str(req, "nextToken", false, &tok, err)) < 0 ||
            (r = get_limit(req, LOGS_PAGE_MAX, LOGS_PAGE_MAX, &in.limit, err)) < 0)
                return r;
        if (in.prefix && in.pattern)
                return err_set(err, EINVAL, LOGS_E_PARAM, "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
        if (tok) {
                /* the name the last page ended with */
                if (strncmp(tok, "n/", 2) != 0)
                        return err_set(err, EINVAL, LOGS_E_PARAM, "The specified nextToken is invalid.");
                in.after = tok + 2;
        }
        *ret = in;
        return 0;
}

int logs_streams_decode(json_t *req, struct logs_streams_in *ret, struct err *err)
{
        const char *order = NULL, *tok = NULL;
        int r;
        memset(ret, 0, sizeof *ret);
        ret->limit = LOGS_PAGE_MAX;
        if ((r = logs_group_arg(req, true, ret->group, err)) < 0 ||
            (r = get_str(req, "logStreamNamePrefix", false, &ret->prefix, err)) < 0 ||
            (r = get_str(req, "orderBy", false, &order, err)) < 0 || (r = get_bool(req, "descending", &ret->descending, err)) < 0 ||
            (r = get_str(req, "nextToken", false, &tok, err)) < 0 || (r = get_limit(req, LOGS_PAGE_MAX, LOGS_PAGE_MAX, &ret->limit, err)) < 0)
                return r;
        if (order && strcmp(order, "LastEventTime") == 0)
                ret->by_time = true;
        else if (order && strcmp(order, "LogStreamName") != 0)
                return err_set(err, EINVAL, LOGS_E_PARAM,
                               "1 validation error detected: Value '%.64s' at 'orderBy' failed to satisfy constraint: "
                               "Member must satisfy enum value set: [LogStreamName, LastEventTime]", order);
        if (ret->by_time && ret->prefix)
                return err_set(err, EINVAL, LOGS_E_PARAM, "Cannot order by LastEventTime with a logStreamNamePrefix.");
        if (tok && (r = logs_token_offset_parse(tok, &ret->offset, err)) < 0)
                return r;
        return 0;
}

void logs_put_done(struct logs_put_in *in)
{
        free(in->ev);
        in->ev = NULL;
        in->n = 0;
}

int logs_put_decode(json_t *req, struct logs_put_in *ret, struct err *err)
{
        json_t *events = NULL, *e;
        long long bytes = 0;
        size_t i;
        int r;
        memset(ret, 0, sizeof *ret);
        if ((r = logs_group_arg(req, false, ret->group, err)) < 0 ||
            (r = get_str(req, "logStreamName", true, &ret->stream, err)) < 0 ||
            (r = param(json_get_array(req, "logEvents", true, &events, err), err)) < 0 ||
            (r = logs_stream_name_check(ret->stream, err)) < 0)
                return r;
        if (json_array_size(events) < 1 || json_array_size(events) > LOGS_EVENTS_MAX)
                return err_set(err, EINVAL, LOGS_E_PARAM,
                               "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: "
                               "Member must have length less than or equal to %d and greater than or equal to 1", LOGS_EVENTS_MAX);
        ret->ev = calloc(json_array_size(events), sizeof *ret->ev);
        if (!ret->ev)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_array_foreach(events, i, e) {
                json_t *ts = json_object_get(e, "timestamp"), *msg = json_object_get(e, "message");
                if (!json_is_object(e) || !json_is_integer(ts) || !json_is_string(msg) || json_integer_value(ts) < 0) {
                        logs_put_done(ret);
                        return err_set(err, EINVAL, LOGS_E_PARAM,
                                       "logEvents[%zu]: each event needs a timestamp (epoch milliseconds >= 0) and a message string", i);
                }
                ret->ev[i] = (struct log_event_in) { json_integer_value(ts), json_string_value(msg), json_string_length(msg) };
                if (ret->ev[i].len < 1 || ret->ev[i].len > LOGS_EVENT_BYTES) {
                        logs_put_done(ret);
                        return err_set(err, EINVAL, LOGS_E_PARAM,
                                       "1 validation error detected: Value at 'logEvents.%zu.member.message' failed to satisfy constraint: "
                                       "Member must have length between 1 and %d", i + 1, LOGS_EVENT_BYTES);
                }
                bytes += (long long) ret->ev[i].len + LOG_EVENT_OVERHEAD;
                ret->n = i + 1;
                if (i > 0 && ret->ev[i].ts < ret->ev[i - 1].ts) {
                        logs_put_done(ret);
                        return err_set(err, EINVAL, LOGS_E_PARAM, "Log events in a single PutLogEvents request must be in chronological order.");
                }
        }
        if (bytes > LOGS_BATCH_BYTES) {
                logs_put_done(ret);
                return err_set(err, EINVAL, LOGS_E_PARAM, "Upload too large: %lld bytes exceeds limit of %d", bytes, LOGS_BATCH_BYTES);
        }
        if (ret->ev[ret->n - 1].ts - ret->ev[0].ts > LOGS_SPAN_MS) {
                logs_put_done(ret);
                return err_set(err, EINVAL, LOGS_E_PARAM,
                               "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");
        }
        return 0;
}

void logs_put_classify(const struct logs_put_in *in, long long now_ms, int retention_days, size_t *ret_from, size_t *ret_to,
                       json_t **ret_info)
{
        size_t old = 0, expired = 0, newer = in->n;
        json_t *info = NULL;
        /* the events are in time order: too old and expired ones are a head, too new ones a tail */
        for (size_t i = 0; i < in->n; i++) {
                if (in->ev[i].ts < now_ms - LOGS_TOO_OLD_MS)
                        old = i + 1;
                if (retention_days > 0 && in->ev[i].ts < now_ms - retention_days * 86400000LL)
                        expired = i + 1;
                if (in->ev[i].ts > now_ms + LOGS_TOO_NEW_MS && newer == in->n)
                        newer = i;
        }
        if (old || expired || newer < in->n) {
                info = json_object();
                if (old)
                        json_object_set_new(info, "tooOldLogEventEndIndex", json_integer((json_int_t) old));
                if (expired)
                        json_object_set_new(info, "expiredLogEventEndIndex", json_integer((json_int_t) expired));
                if (newer < in->n)
                        json_object_set_new(info, "tooNewLogEventStartIndex", json_integer((json_int_t) newer));
        }
        *ret_from = old > expired ? old : expired;
        *ret_to = newer < *ret_from ? *ret_from : newer;
        *ret_info = info;
}

static int get_times(json_t *req, long long *start, long long *end, struct err *err)
{
        int r;
        *start = 0;
        *end = LLONG_MAX;
        if ((r = get_int(req, "startTime", 0, LLONG_MAX, start, err)) < 0 || (r = get_int(req, "endTime", 0, LLONG_MAX, end, err)) < 0)
                return r;
        return 0;
}

int logs_get_decode(json_t *req, struct logs_get_in *ret, struct err *err)
{
        bool head = false;
        char kind;
        int r;
        memset(ret, 0, sizeof *ret);
        if ((r = logs_group_arg(req, true, ret->group, err)) < 0 ||
            (r = get_str(req, "logStreamName", true, &ret->q.stream, err)) < 0 ||
            (r = get_times(req, &ret->q.start, &ret->q.end, err)) < 0 || (r = get_str(req, "nextToken", false, &ret->token, err)) < 0 ||
            (r = get_bool(req, "startFromHead", &head, err)) < 0 ||
            (r = get_limit(req, LOGS_EVENTS_MAX, LOGS_EVENTS_MAX, &ret->q.limit, err)) < 0)
                return r;
        ret->q.group = ret->group;
        ret->q.forward = head;
        if (ret->token) {
                if ((r = logs_token_pos_parse(ret->token, &kind, &ret->q.pos, err)) < 0)
                        return r;
                if (kind == 'p')
                        return err_set(err, EINVAL, LOGS_E_PARAM, "The specified nextToken is invalid.");
                ret->q.have_pos = true;
                ret->q.forward = kind == 'f';
        }
        return 0;
}

int logs_filter_decode(json_t *req, struct logs_filter_in *ret, struct err *err)
{
        const char *tok = NULL;
        json_t *names = NULL, *v;
        size_t i;
        char kind;
        int r;
        memset(ret, 0, sizeof *ret);
        if ((r = logs_group_arg(req, true, ret->group, err)) < 0 ||
            (r = param(json_get_array(req, "logStreamNames", false, &names, err), err)) < 0 ||
            (r = get_str(req, "logStreamNamePrefix", false, &ret->q.prefix, err)) < 0 ||
            (r = get_times(req, &ret->q.start, &ret->q.end, err)) < 0 || (r = get_str(req, "filterPattern", false, &ret->pattern, err)) < 0 ||
            (r = get_str(req, "nextToken", false, &tok, err)) < 0 ||
            (r = get_limit(req, LOGS_EVENTS_MAX, LOGS_EVENTS_MAX, &ret->q.limit, err)) < 0)
                return r;
        if (names && ret->q.prefix)
                return err_set(err, EINVAL, LOGS_E_PARAM, "logStreamNames and logStreamNamePrefix are mutually exclusive");
        if (names && (json_array_size(names) < 1 || json_array_size(names) > 100))
                return err_set(err, EINVAL, LOGS_E_PARAM,
                               "1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: "
                               "Member must have length less than or equal to 100 and greater than or equal to 1");
        json_array_foreach(names, i, v)
                if (!json_is_string(v))
                        return err_set(err, EINVAL, LOGS_E_PARAM, "logStreamNames[%zu] must be a string", i);
        ret->q.group = ret->group;
        ret->q.names = names;
        if (tok) {
                if ((r = logs_token_pos_parse(tok, &kind, &ret->q.pos, err)) < 0)
                        return r;
                if (kind != 'p')
                        return err_set(err, EINVAL, LOGS_E_PARAM, "The specified nextToken is invalid.");
                ret->q.have_pos = true;
        }
        return 0;
}
