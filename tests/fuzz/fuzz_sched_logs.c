/* fuzz_sched_logs.c: libFuzzer target for the CloudWatch Logs decoders and the filter pattern
 * language: the first byte picks the decoder (PutLogEvents with its batch rules and
 * rejectedLogEventsInfo, GetLogEvents, FilterLogEvents, DescribeLogStreams, DescribeLogGroups,
 * tokens), the rest is the JSON body; the same text is also parsed as a filter pattern and matched
 * against itself and a few fixed messages. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scheduler/logs/filter.h"
#include "../../scheduler/logs/logs_req.h"

static void decode(uint8_t which, json_t *req)
{
        struct err e = { 0 };
        switch (which % 6) {
        case 0: {
                struct logs_put_in in;
                if (logs_put_decode(req, &in, &e) == 0) {
                        size_t from, to;
                        json_t *info = NULL;
                        if (in.n < 1 || in.n > LOGS_EVENTS_MAX)
                                abort();
                        logs_put_classify(&in, 1700000000000LL, which & 8 ? 1 : 0, &from, &to, &info);
                        if (from > to || to > in.n)
                                abort();
                        json_decref(info);
                        logs_put_done(&in);
                }
                break;
        }
        case 1: {
                struct logs_get_in in;
                if (logs_get_decode(req, &in, &e) == 0 && (in.q.limit < 1 || in.q.limit > LOGS_EVENTS_MAX))
                        abort();
                break;
        }
        case 2: {
                struct logs_filter_in in;
                struct log_filter *f = NULL;
                if (logs_filter_decode(req, &in, &e) == 0 && log_filter_parse(in.pattern, &f, &e) == 0)
                        (void) log_filter_match(f, "{\"a\":1}", 7);
                log_filter_free(f);
                break;
        }
        case 3: {
                struct logs_streams_in in;
                if (logs_streams_decode(req, &in, &e) == 0 && (in.limit < 1 || in.limit > LOGS_PAGE_MAX || (in.by_time && in.prefix)))
                        abort();
                break;
        }
        case 4: {
                struct logs_groups_in in;
                (void) logs_groups_decode(req, &in, &e);
                break;
        }
        default: {
                const char *tok = json_string_value(json_object_get(req, "nextToken"));
                struct log_pos p;
                long long off;
                char kind;
                (void) logs_token_pos_parse(tok, &kind, &p, &e);
                (void) logs_token_offset_parse(tok, &off, &e);
                break;
        }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const msgs[] = {
                "ERROR disk full", "{\"level\":\"error\",\"code\":500,\"user\":{\"id\":7,\"tags\":[\"a\"]}}",
                "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326", "",
        };
        struct log_filter *f = NULL;
        struct err e = { 0 };
        json_error_t jerr;
        json_t *req;
        char *text;
        if (size < 1)
                return 0;
        req = json_loadb((const char *) data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
        if (req && json_is_object(req))
                decode(data[0], req);
        json_decref(req);

        text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        if (log_filter_parse(text, &f, &e) == 0) {
                for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
                        (void) log_filter_match(f, msgs[i], strlen(msgs[i]));
                (void) log_filter_match(f, (const char *) data + 1, size - 1);
        }
        log_filter_free(f);
        free(text);
        return 0;
}
