/* sched_logs_test.c: CloudWatch Logs' pure parts: the filter pattern parser and matcher, the request
 * decoders (names, limits, tokens, PutLogEvents' batch rules and rejectedLogEventsInfo), and the store
 * in memory (paging, GetLogEvents' positions, the byte cap, retention). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/json.h"
#include "../../scheduler/ecs/taskdef.h"
#include "../../scheduler/logs/filter.h"
#include "../../scheduler/logs/logs_req.h"
#include "../../scheduler/logs/logstore.h"

static json_t *parse(const char *text)
{
        json_error_t jerr;
        json_t *v = json_loads(text, 0, &jerr);
        if (!v)
                fail_msg("bad test JSON %s: %s", text, jerr.text);
        return v;
}

static bool m(const char *pattern, const char *msg)
{
        struct log_filter *f = NULL;
        struct err err = { 0 };
        bool ok;
        if (log_filter_parse(pattern, &f, &err) < 0)
                fail_msg("pattern '%s' refused: %s", pattern, err.msg);
        ok = log_filter_match(f, msg, strlen(msg));
        log_filter_free(f);
        return ok;
}

static void bad_pattern(const char *pattern)
{
        struct log_filter *f = NULL;
        struct err err = { 0 };
        if (log_filter_parse(pattern, &f, &err) >= 0) {
                log_filter_free(f);
                fail_msg("pattern '%s' accepted", pattern);
        }
        assert_string_equal(err.code, "InvalidParameterException");
}

static void test_filter_terms(void **state)
{
        assert_true(m(NULL, "anything"));
        assert_true(m("   ", "anything"));
        assert_true(m("ERROR", "an ERROR here"));
        assert_false(m("ERROR", "an error here"));      /* case-sensitive */
        assert_true(m("disk full", "full: the disk"));  /* every term, any order */
        assert_false(m("disk full", "the disk"));
        assert_true(m("\"disk full\"", "ERROR disk full now"));
        assert_false(m("\"disk full\"", "full disk"));
        assert_true(m("\"say \\\"hi\\\"\"", "they say \"hi\""));
        assert_true(m("?ERROR ?WARN", "WARN x"));
        assert_false(m("?ERROR ?WARN", "INFO x"));
        assert_true(m("disk -WARN", "ERROR disk"));
        assert_false(m("disk -WARN", "WARN disk"));
        assert_true(m("-", "a - b"));                   /* a lone dash is a term */
        bad_pattern("\"open");
}

static void test_filter_json(void **state)
{
        const char *doc = "{\"level\":\"error\",\"code\":500,\"ok\":false,\"n\":null,\"user\":{\"id\":7,\"tags\":[\"a\",\"b\"]}}";
        assert_true(m("{ $.level = \"error\" }", doc));
        assert_true(m("{$.level=error}", doc));
        assert_false(m("{ $.level = \"ERROR\" }", doc));
        assert_true(m("{ $.level = \"err*\" }", doc));
        assert_true(m("{ $.level != \"info\" }", doc));
        assert_true(m("{ $.code >= 500 && $.user.id = 7 }", doc));
        assert_false(m("{ $.code > 500 }", doc));
        assert_true(m("{ $.code < 100 || $.user.tags[1] = \"b\" }", doc));
        assert_true(m("{ $.ok IS FALSE }", doc));
        assert_true(m("{ $.n IS NULL }", doc));
        assert_true(m("{ $.missing NOT EXISTS }", doc));
        assert_false(m("{ $.level NOT EXISTS }", doc));
        assert_false(m("{ $.level = \"error\" }", "not json"));
        /* && binds tighter than || */
        assert_true(m("{ $.code = 1 && $.code = 2 || $.code = 500 }", doc));
        assert_false(m("{ $.code = 500 && $.code = 2 || $.code = 1 }", doc));
        /* parentheses, as in AWS's CloudTrail examples */
        assert_true(m("{ ($.code = 1 || $.code = 500) && $.level = error }", doc));
        assert_false(m("{ $.code = 500 && ($.code = 2 || $.code = 1) }", doc));
        assert_true(m("{ ((($.user.id = 7))) }", doc));
        assert_true(m("{($.level=error)&&($.ok IS FALSE)}", doc));
        bad_pattern("{ ($.a = 1 }");
        bad_pattern("{ $.a = 1) }");
        bad_pattern("{ (((((((((((((((((($.a = 1)))))))))))))))))) }");
        bad_pattern("{ $.a = }");
        bad_pattern("{ level = 1 }");
        bad_pattern("{ $.a = 1");
        bad_pattern("{ $.a < \"x\" }");
        bad_pattern("{ $.a = 1 } extra");
}

static void test_filter_space(void **state)
{
        const char *line = "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326";
        assert_true(m("[ip, id, user, timestamp, request, status_code, size]", line));
        assert_true(m("[ip, id, user, timestamp, request, status_code = 200, size]", line));
        assert_false(m("[ip, id, user, timestamp, request, status_code = 404, size]", line));
        assert_true(m("[ip, id, user = frank, ...]", line));
        assert_true(m("[..., status_code = 2*, size > 1000]", line));
        assert_true(m("[ip = 127.0.0.*, ...]", line));
        assert_true(m("[ip, id, user, timestamp, request = \"GET /apache*\", ...]", line));
        assert_false(m("[ip, id, user]", line));        /* the number of fields must agree */
        assert_false(m("[a, b, ..., c, d, e, f, g, h, i]", "x y"));
        bad_pattern("[a, ..., b, ...]");
        bad_pattern("[a, , b]");
        bad_pattern("[a = ]");
        bad_pattern("[a");
}

static void test_names_and_retention(void **state)
{
        struct err err = { 0 };
        char name[600];
        assert_int_equal(logs_group_name_check("/ecs/web-1_a.b#c", &err), 0);
        assert_int_equal(logs_group_name_check("bad name", &err), -EINVAL);
        assert_string_equal(err.code, "InvalidParameterException");
        assert_int_equal(logs_group_name_check("", &err), -EINVAL);
        memset(name, 'a', 513);
        name[513] = '\0';
        assert_int_equal(logs_group_name_check(name, &err), -EINVAL);
        name[512] = '\0';
        assert_int_equal(logs_group_name_check(name, &err), 0);
        assert_int_equal(logs_stream_name_check("app/web/0123 x", &err), 0);
        assert_int_equal(logs_stream_name_check("a:b", &err), -EINVAL);
        assert_int_equal(logs_stream_name_check("a*", &err), -EINVAL);
        assert_true(logs_retention_valid(1));
        assert_true(logs_retention_valid(3653));
        assert_false(logs_retention_valid(2));
        assert_false(logs_retention_valid(0));
}

static void test_group_arg(void **state)
{
        char g[LOGS_NAME_MAX + 1];
        struct err err = { 0 };
        _cleanup_json_ json_t *a = parse("{\"logGroupIdentifier\": \"arn:aws:logs:us-east-1:000000000000:log-group:/ecs/x:*\"}");
        _cleanup_json_ json_t *b = parse("{\"logGroupIdentifier\": \"plain\"}");
        _cleanup_json_ json_t *both = parse("{\"logGroupName\": \"a\", \"logGroupIdentifier\": \"a\"}");
        _cleanup_json_ json_t *none = parse("{}");
        _cleanup_json_ json_t *num = parse("{\"logGroupName\": 5}");
        assert_int_equal(logs_group_arg(a, true, g, &err), 0);
        assert_string_equal(g, "/ecs/x");
        assert_int_equal(logs_group_arg(b, true, g, &err), 0);
        assert_string_equal(g, "plain");
        assert_int_equal(logs_group_arg(a, false, g, &err), -EINVAL);
        assert_int_equal(logs_group_arg(both, true, g, &err), -EINVAL);
        assert_int_equal(logs_group_arg(none, true, g, &err), -EINVAL);
        assert_int_equal(logs_group_arg(num, true, g, &err), -EINVAL);
        assert_string_equal(err.code, "InvalidParameterException");
}

static void test_tokens(void **state)
{
        struct log_pos p = { 1700000000123, 42 }, q;
        struct err err = { 0 };
        long long off;
        char buf[64], kind;
        logs_token_pos('f', &p, buf, sizeof buf);
        assert_int_equal(logs_token_pos_parse(buf, &kind, &q, &err), 0);
        assert_int_equal(kind, 'f');
        assert_true(q.ts == p.ts && q.id == p.id);
        assert_int_equal(logs_token_pos_parse("f/1/2x", &kind, &q, &err), -EINVAL);
        assert_int_equal(logs_token_pos_parse("x/1/2", &kind, &q, &err), -EINVAL);
        assert_int_equal(logs_token_pos_parse("f/1", &kind, &q, &err), -EINVAL);
        assert_int_equal(logs_token_offset_parse("o/17", &off, &err), 0);
        assert_int_equal(off, 17);
        assert_int_equal(logs_token_offset_parse("o/-1", &off, &err), -EINVAL);
        assert_int_equal(logs_token_offset_parse("o/", &off, &err), -EINVAL);
}

static void put_fails(const char *text, const char *frag)
{
        _cleanup_json_ json_t *req = parse(text);
        struct logs_put_in in;
        struct err err = { 0 };
        if (logs_put_decode(req, &in, &err) >= 0) {
                logs_put_done(&in);
                fail_msg("%s: decoded", text);
        }
        assert_null(in.ev);
        if (strcmp(err.code, "InvalidParameterException") != 0 || !strstr(err.msg, frag))
                fail_msg("%s: got %s '%s', want '%s'", text, err.code, err.msg, frag);
}

static void test_put_decode(void **state)
{
        _cleanup_json_ json_t *req = parse("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":["
                                           "{\"timestamp\":1000,\"message\":\"a\"},{\"timestamp\":1000,\"message\":\"bb\"}]}");
        _cleanup_json_ json_t *big = NULL;
        struct logs_put_in in;
        struct err err = { 0 };
        json_t *evs;
        assert_int_equal(logs_put_decode(req, &in, &err), 0);
        assert_string_equal(in.group, "g");
        assert_int_equal(in.n, 2);
        assert_int_equal(in.ev[1].len, 2);
        logs_put_done(&in);
        put_fails("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[]}", "greater than or equal to 1");
        put_fails("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":2,\"message\":\"a\"},"
                  "{\"timestamp\":1,\"message\":\"b\"}]}", "chronological order");
        put_fails("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":0,\"message\":\"a\"},"
                  "{\"timestamp\":86400001,\"message\":\"b\"}]}", "24 hours");
        put_fails("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":0,\"message\":\"\"}]}", "length");
        put_fails("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":\"x\",\"message\":\"a\"}]}",
                  "timestamp");
        put_fails("{\"logGroupName\":\"g\",\"logStreamName\":\"a:b\",\"logEvents\":[{\"timestamp\":0,\"message\":\"a\"}]}",
                  "logStreamName");
        put_fails("{\"logStreamName\":\"s\",\"logEvents\":[{\"timestamp\":0,\"message\":\"a\"}]}", "name");
        /* 10,001 events; then 1,048,576 bytes + 1 */
        big = parse("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"logEvents\":[]}");
        evs = json_object_get(big, "logEvents");
        for (int i = 0; i < 10001; i++)
                json_array_append_new(evs, json_pack("{s:i, s:s}", "timestamp", 5, "message", "x"));
        assert_int_equal(logs_put_decode(big, &in, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "10000"));
        json_array_clear(evs);
        {
                char *msg = malloc(1048576 - 26 - 27 + 2);
                memset(msg, 'y', 1048576 - 26 - 27 + 1);
                msg[1048576 - 26 - 27 + 1] = '\0';      /* with "z": 1 byte over */
                json_array_append_new(evs, json_pack("{s:i, s:s}", "timestamp", 5, "message", msg));
                json_array_append_new(evs, json_pack("{s:i, s:s}", "timestamp", 5, "message", "z"));
                assert_int_equal(logs_put_decode(big, &in, &err), -EINVAL);
                assert_non_null(strstr(err.msg, "1048577 bytes exceeds limit of 1048576"));
                msg[1048576 - 26 - 27] = '\0';
                json_array_clear(evs);
                json_array_append_new(evs, json_pack("{s:i, s:s}", "timestamp", 5, "message", msg));
                json_array_append_new(evs, json_pack("{s:i, s:s}", "timestamp", 5, "message", "z"));
                assert_int_equal(logs_put_decode(big, &in, &err), 0);
                logs_put_done(&in);
                free(msg);
        }
}

static void test_put_classify(void **state)
{
        const long long now = 100LL * 86400000, day = 86400000;
        struct log_event_in ev[5] = {
                { now - 15 * day, "a", 1 }, { now - 3 * day, "b", 1 }, { now, "c", 1 }, { now + 3600000, "d", 1 }, { now + 3 * 3600000, "e", 1 },
        };
        struct logs_put_in in = { .ev = ev, .n = 5 };
        size_t from, to;
        json_t *info = NULL;
        logs_put_classify(&in, now, 0, &from, &to, &info);
        assert_int_equal(from, 1);
        assert_int_equal(to, 4);
        assert_int_equal(json_integer_value(json_object_get(info, "tooOldLogEventEndIndex")), 1);
        assert_int_equal(json_integer_value(json_object_get(info, "tooNewLogEventStartIndex")), 4);
        assert_null(json_object_get(info, "expiredLogEventEndIndex"));
        json_decref(info);
        logs_put_classify(&in, now, 1, &from, &to, &info);
        assert_int_equal(from, 2);
        assert_int_equal(json_integer_value(json_object_get(info, "expiredLogEventEndIndex")), 2);
        json_decref(info);
        in.ev = ev + 2;
        in.n = 2;
        logs_put_classify(&in, now, 0, &from, &to, &info);
        assert_null(info);
        assert_int_equal(from, 0);
        assert_int_equal(to, 2);
}

static void test_get_and_filter_decode(void **state)
{
        _cleanup_json_ json_t *g = parse("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"nextToken\":\"b/5/6\",\"limit\":3}");
        _cleanup_json_ json_t *g2 = parse("{\"logGroupName\":\"g\",\"logStreamName\":\"s\",\"limit\":10001}");
        _cleanup_json_ json_t *f = parse("{\"logGroupName\":\"g\",\"logStreamNames\":[\"a\"],\"logStreamNamePrefix\":\"a\"}");
        _cleanup_json_ json_t *f2 = parse("{\"logGroupName\":\"g\",\"nextToken\":\"f/1/1\"}");
        _cleanup_json_ json_t *f3 = parse("{\"logGroupName\":\"g\",\"startTime\":5,\"endTime\":9,\"interleaved\":true}");
        _cleanup_json_ json_t *s = parse("{\"logGroupName\":\"g\",\"orderBy\":\"LastEventTime\",\"logStreamNamePrefix\":\"x\"}");
        _cleanup_json_ json_t *s2 = parse("{\"logGroupName\":\"g\",\"orderBy\":\"Size\"}");
        _cleanup_json_ json_t *d = parse("{\"logGroupNamePrefix\":\"a\",\"logGroupNamePattern\":\"b\"}");
        struct logs_get_in gi;
        struct logs_filter_in fi;
        struct logs_streams_in si;
        struct logs_groups_in di;
        struct err err = { 0 };
        assert_int_equal(logs_get_decode(g, &gi, &err), 0);
        assert_true(gi.q.have_pos && !gi.q.forward && gi.q.pos.ts == 5 && gi.q.pos.id == 6 && gi.q.limit == 3);
        assert_int_equal(logs_get_decode(g2, &gi, &err), -ERANGE);
        assert_string_equal(err.code, "InvalidParameterException");
        assert_int_equal(logs_filter_decode(f, &fi, &err), -EINVAL);
        assert_int_equal(logs_filter_decode(f2, &fi, &err), -EINVAL);
        assert_int_equal(logs_filter_decode(f3, &fi, &err), 0);
        assert_true(fi.q.start == 5 && fi.q.end == 9 && fi.q.limit == LOGS_EVENTS_MAX);
        assert_int_equal(logs_streams_decode(s, &si, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "Cannot order by LastEventTime"));
        assert_int_equal(logs_streams_decode(s2, &si, &err), -EINVAL);
        assert_int_equal(logs_groups_decode(d, &di, &err), -EINVAL);
}

static void test_store(void **state)
{
        struct logstore *ls = NULL;
        struct err err = { 0 };
        _cleanup_json_ json_t *groups = NULL, *events = NULL, *page = NULL;
        struct log_event_in ev[10];
        char msgs[10][8];
        struct log_pos first = { 0 }, last = { 0 };
        bool more;
        /* a cap of 5 events of 1+26 bytes */
        assert_int_equal(logstore_open(NULL, 5 * 27, &ls, &err), 0);
        assert_int_equal(logstore_group_create(ls, "b", 1, NULL, &err), 0);
        assert_int_equal(logstore_group_create(ls, "a", 1, NULL, &err), 0);
        assert_int_equal(logstore_group_create(ls, "a", 1, NULL, &err), -EEXIST);
        assert_string_equal(err.code, "ResourceAlreadyExistsException");
        assert_int_equal(logstore_group_list(ls, NULL, NULL, NULL, 1, &groups, &more, &err), 0);
        assert_true(more);
        assert_string_equal(jstr(json_array_get(groups, 0), "logGroupName"), "a");
        assert_int_equal(logstore_stream_create(ls, "a", "s", 1, &err), 0);
        assert_int_equal(logstore_stream_create(ls, "zz", "s", 1, &err), -ENOENT);
        assert_string_equal(err.msg, "The specified log group does not exist.");
        for (int i = 0; i < 10; i++) {
                snprintf(msgs[i], sizeof msgs[i], "%d", i);
                ev[i] = (struct log_event_in) { 1000 + i, msgs[i], 1 };
        }
        assert_int_equal(logstore_put(ls, "a", "s", ev, 4, 2000, &err), 0);
        assert_int_equal(logstore_bytes(ls), 4 * 27);
        {
                struct log_get_in q = { .group = "a", .stream = "s", .start = 0, .end = 1LL << 62, .forward = true, .limit = 2 };
                assert_int_equal(logstore_get(ls, &q, &events, &first, &last, &err), 0);
                assert_int_equal(json_array_size(events), 2);
                assert_string_equal(jstr(json_array_get(events, 0), "message"), "0");
                q.have_pos = true;
                q.pos = last;
                assert_int_equal(logstore_get(ls, &q, &page, &first, &last, &err), 0);
                assert_string_equal(jstr(json_array_get(page, 0), "message"), "2");
                json_decref(page);
                /* backward from the newest, in time order */
                q.have_pos = false;
                q.forward = false;
                q.limit = 3;
                assert_int_equal(logstore_get(ls, &q, &page, &first, &last, &err), 0);
                assert_string_equal(jstr(json_array_get(page, 0), "message"), "1");
                assert_string_equal(jstr(json_array_get(page, 2), "message"), "3");
                assert_true(first.ts == 1001 && last.ts == 1003);
        }
        /* over the cap: the oldest go first, at once */
        assert_int_equal(logstore_put(ls, "a", "s", ev + 4, 3, 2000, &err), 0);
        assert_int_equal(logstore_bytes(ls), 5 * 27);
        assert_int_equal(logstore_prune(ls, 3000, &err), 0);
        assert_int_equal(logstore_bytes(ls), 5 * 27);
        json_decref(events);
        {
                struct log_filter_in fq = { .group = "a", .start = 0, .end = 1LL << 62, .limit = 100 };
                struct log_pos pos;
                assert_int_equal(logstore_filter(ls, &fq, &events, &more, &pos, &err), 0);
                assert_int_equal(json_array_size(events), 5);
                assert_string_equal(jstr(json_array_get(events, 0), "message"), "2");
                assert_false(more);
        }
        /* retention: 1 day, now 2 days after the events */
        assert_int_equal(logstore_group_set_retention(ls, "a", 1, &err), 0);
        assert_int_equal(logstore_prune(ls, 1000 + 2 * 86400000LL, &err), 0);
        assert_int_equal(logstore_bytes(ls), 0);
        assert_int_equal(logstore_group_delete(ls, "a", &err), 0);
        assert_int_equal(logstore_group_delete(ls, "a", &err), -ENOENT);
        logstore_close(ls);
}

static int collect_tail(const struct log_tail *t, void *userdata)
{
        char line[256];
        snprintf(line, sizeof line, "%s %s %s %s [%s] %s %lld", t->task, t->container, t->path, t->group, t->stream, t->key, t->offset);
        json_array_append_new(userdata, json_string(line));
        return 0;
}

static void test_tails(void **state)
{
        struct logstore *ls = NULL;
        struct err err = { 0 };
        _cleanup_json_ json_t *rows = json_array(), *rows2 = json_array();
        assert_int_equal(logstore_open(NULL, 1 << 20, &ls, &err), 0);
        assert_int_equal(logstore_tail_add(ls, &(struct log_tail) { "t1", "b", "/d/b.log", "g", "", "task/k1", 0 }, &err), 0);
        assert_int_equal(logstore_tail_add(ls, &(struct log_tail) { "t1", "a", "/d/a.log", "g", "p/a/t1", "task/k1", 0 }, &err), 0);
        /* a second add (a retried start) keeps the offset */
        assert_int_equal(logstore_tail_set(ls, "t1", "a", 42, NULL, &err), 0);
        assert_int_equal(logstore_tail_add(ls, &(struct log_tail) { "t1", "a", "/d/a.log", "g", "p/a/t1", "task/k1", 0 }, &err), 0);
        assert_int_equal(logstore_tail_set(ls, "t1", "b", 7, "0123abcd", &err), 0);
        assert_int_equal(logstore_tail_list(ls, collect_tail, rows, &err), 0);
        assert_int_equal(json_array_size(rows), 2);
        assert_string_equal(json_string_value(json_array_get(rows, 0)), "t1 a /d/a.log g [p/a/t1] task/k1 42");
        assert_string_equal(json_string_value(json_array_get(rows, 1)), "t1 b /d/b.log g [0123abcd] task/k1 7");
        /* one container's tail ends without the other's */
        assert_int_equal(logstore_tail_del(ls, "t1", "a", &err), 0);
        assert_int_equal(logstore_tail_list(ls, collect_tail, rows2, &err), 0);
        assert_int_equal(json_array_size(rows2), 1);
        logstore_close(ls);
}

/* RegisterTaskDefinition's awslogs checks, with ECS's texts. */
static void td_awslogs(const char *opts, const char *want)
{
        char text[1024];
        _cleanup_json_ json_t *req = NULL, *td = NULL;
        struct err err = { 0 };
        int r;
        snprintf(text, sizeof text,
                 "{\"family\":\"f\",\"containerDefinitions\":[{\"name\":\"c\",\"image\":\"busybox\",\"memory\":32,"
                 "\"logConfiguration\":{\"logDriver\":\"awslogs\",\"options\":%s}}]}", opts);
        req = parse(text);
        r = taskdef_build(req, &td, &err);
        if (!want) {
                if (r < 0)
                        fail_msg("%s: refused: %s", opts, err.msg);
                return;
        }
        if (r >= 0)
                fail_msg("%s: accepted", opts);
        assert_string_equal(err.code, "ClientException");
        if (strcmp(err.msg, want) != 0)
                fail_msg("%s: got '%s', want '%s'", opts, err.msg, want);
}

static void test_taskdef_awslogs(void **state)
{
        td_awslogs("{\"awslogs-group\":\"g\",\"awslogs-region\":\"us-east-1\",\"awslogs-stream-prefix\":\"p\","
                   "\"awslogs-create-group\":\"true\",\"mode\":\"non-blocking\",\"max-buffer-size\":\"25m\"}", NULL);
        td_awslogs("{\"awslogs-region\":\"us-east-1\"}", "Log driver awslogs requires options: awslogs-group");
        td_awslogs("{}", "Log driver awslogs requires options: awslogs-region, awslogs-group");
        td_awslogs("{\"awslogs-group\":\"\",\"awslogs-region\":\"us-east-1\"}",
                   "Log driver awslogs option 'awslogs-group' should not be null or empty.");
        td_awslogs("{\"awslogs-group\":\"g\",\"awslogs-region\":\"us-east-1\",\"awslogs-create-group\":\"false\"}",
                   "Log driver awslogs option 'awslogs-create-group' should only be set to 'true', else omit option.");
        td_awslogs("{\"awslogs-group\":\"g\",\"awslogs-region\":\"us-east-1\",\"log_key\":\"log\"}",
                   "Log driver awslogs disallows options: log_key");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_filter_terms),       cmocka_unit_test(test_filter_json),   cmocka_unit_test(test_filter_space),
                cmocka_unit_test(test_names_and_retention), cmocka_unit_test(test_group_arg),     cmocka_unit_test(test_tokens),
                cmocka_unit_test(test_put_decode),         cmocka_unit_test(test_put_classify),  cmocka_unit_test(test_get_and_filter_decode),
                cmocka_unit_test(test_store),              cmocka_unit_test(test_taskdef_awslogs),
                cmocka_unit_test(test_tails),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
