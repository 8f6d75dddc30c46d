/* flowlog.c: flow logs: the EC2 actions CreateFlowLogs, DescribeFlowLogs, DeleteFlowLogs, GetFlowLogs and their
 * records (fl/ID); flowlog_collect.c collects what they log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "describe.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "flowlog.h"
#include "flowlog_collect.h"
#include "flowlog_req.h"
#include "netd.h"
#include "record.h"
#include "subnet.h"
#include "vpc.h"

static json_t *fl_shape(struct netd *d, json_t *rec)
{
        json_t *o = json_deep_copy(rec);
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(o, tmp, k, v) {
                if (strncmp(k, "ebx", 3) == 0)
                        json_object_del(o, k);
        }
        return o;
}

static json_t *fl_values(json_t *rec, const char *name)
{
        static const struct {
                const char *filter, *member;
        } m[] = { { "flow-log-id", "FlowLogId" },          { "resource-id", "ResourceId" },
                  { "traffic-type", "TrafficType" },      { "log-destination-type", "LogDestinationType" },
                  { "deliver-log-status", "DeliverLogsStatus" }, { "log-group-name", "LogGroupName" } };
        for (size_t i = 0; i < ELEMENTSOF(m); i++)
                if (strcmp(m[i].filter, name) == 0) {
                        json_t *v = json_object_get(rec, m[i].member);
                        return json_pack("[O]", v ? v : json_null());
                }
        return json_array();
}

struct dup_ctx {
        const char *resource, *dest, *traffic;
        const char *found;
        json_t *keep;
};

static int dup_cb(const char *key, json_t *rec, void *ud)
{
        struct dup_ctx *c = ud;
        if (strcmp(rec_str(rec, "ResourceId") ?: "", c->resource) == 0 && strcmp(rec_str(rec, "LogDestination") ?: "", c->dest) == 0 &&
            strcmp(rec_str(rec, "TrafficType") ?: "", c->traffic) == 0) {
                c->keep = json_incref(rec);
                c->found = rec_str(rec, "FlowLogId");
                return -EEXIST;
        }
        return 0;
}

/* A resource of a decoded request (a well-formed id of its type) exists. */
static int resource_check(struct netd *d, const char *type, const char *id, struct err *err)
{
        _cleanup_json_ json_t *o = NULL;
        char key[KEY_MAX];
        int r;
        if (strcmp(type, "NetworkInterface") == 0) {
                key_fmt(key, "eni", id);
                r = store_get(d->store, key, &o, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id);
                return r;
        }
        if (strcmp(type, "Subnet") == 0)
                return subnet_load(d, id, &o, err);
        return vpc_load(d, id, &o, err);
}

/* LogDestination (an absolute path, decoded): a directory netd may write. */
static int dest_check(const char *dest, struct err *err)
{
        struct stat st;
        if (stat(dest, &st) < 0)
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination '%s': %s", dest, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination '%s': %s", dest, strerror(ENOTDIR));
        if (access(dest, W_OK | X_OK) < 0)
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination '%s' is not writable: %s", dest, strerror(errno));
        return 0;
}

/* Every resource exists and has no flow log of this traffic type and destination. */
static int resources_check(struct netd *d, const struct flowlog_create_req *c, struct err *err)
{
        json_t *v;
        size_t i;
        int r;
        json_array_foreach(c->ids, i, v) {
                struct dup_ctx dc = { json_string_value(v), c->dest, c->traffic, NULL, NULL };
                if ((r = resource_check(d, c->type, dc.resource, err)) < 0)
                        return r;
                r = store_list(d->store, "fl/", dup_cb, &dc, err);
                if (r == -EEXIST) {
                        r = err_set(err, EEXIST, "FlowLogAlreadyExists",
                                    "A flow log for resource '%s' with traffic type %s and destination '%s' already exists (%s)",
                                    dc.resource, c->traffic, c->dest, dc.found);
                        json_decref(dc.keep);
                        return r;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One record per resource, appended to recs, their ids to ids_out. */
static int records_new(const struct flowlog_create_req *c, json_t *recs, json_t *ids_out, struct err *err)
{
        char now[32];
        json_t *v;
        size_t i;
        int r;
        iso8601_ms(-1, now);
        json_array_foreach(c->ids, i, v) {
                char id[ID_MAX];
                if ((r = id_new("fl", id)) < 0)
                        return err_set(err, -r, NULL, "random id: %s", strerror(-r));
                json_array_append_new(recs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:s}",
                                                      "FlowLogId", id, "CreationTime", now, "DeliverLogsStatus", "SUCCESS",
                                                      "FlowLogStatus", "ACTIVE", "ResourceId", json_string_value(v),
                                                      "TrafficType", c->traffic, "LogDestinationType", "file",
                                                      "LogDestination", c->dest, "LogFormat",
                                                      c->format && *c->format ? c->format : FL_DEFAULT_FORMAT,
                                                      "MaxAggregationInterval", c->interval, "Tags", c->tags,
                                                      "ebxResourceType", c->type));
                json_array_append_new(ids_out, json_string(id));
        }
        return 0;
}

/* The collector's state of every record, and room for them in d->fl, before anything is stored: a
 * failure here leaves neither records nor flow logs behind. *ret_logs: json_array_size(recs) entries. */
static int logs_prepare(struct netd *d, json_t *recs, struct fl_log **ret_logs, struct err *err)
{
        size_t n = json_array_size(recs), i;
        _cleanup_free_ struct fl_log *logs = calloc(n, sizeof *logs);
        json_t *v;
        int r;
        if (!logs)
                return err_set(err, ENOMEM, NULL, "CreateFlowLogs: %zu flow log(s): %s", n, strerror(ENOMEM));
        json_array_foreach(recs, i, v)
                if (fl_log_from_record(v, &logs[i], err) < 0)
                        return err_wrap(err, "CreateFlowLogs: flow log %s", rec_str(v, "FlowLogId"));
        if ((r = flowlog_reserve(d, n, err)) < 0)
                return err_wrap(err, "CreateFlowLogs");
        *ret_logs = TAKE_PTR(logs);
        return 0;
}

/* Every record in one transaction. */
static int records_store(struct netd *d, json_t *recs, struct err *err)
{
        json_t *v;
        size_t i;
        int r;
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        json_array_foreach(recs, i, v) {
                char key[KEY_MAX];
                key_fmt(key, "fl", rec_str(v, "FlowLogId"));
                if ((r = store_put(d->store, key, v, err)) < 0) {
                        store_rollback(d->store);
                        return r;
                }
        }
        if ((r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        return 0;
}

int op_create_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *ids_out = json_array(), *recs = json_array();
        _cleanup_(flowlog_create_req_done) struct flowlog_create_req c = { 0 };
        _cleanup_free_ struct fl_log *logs = NULL;
        json_t *v;
        size_t i;
        int r;

        if (!d->fl)
                return err_set(err, EAGAIN, NULL, "CreateFlowLogs: the flow log collector is not running yet");
        if ((r = flowlog_create_req_decode(req, &c, err)) < 0 || (r = dest_check(c.dest, err)) < 0 ||
            (r = resources_check(d, &c, err)) < 0 || (r = records_new(&c, recs, ids_out, err)) < 0 ||
            (r = logs_prepare(d, recs, &logs, err)) < 0 ||
            (r = records_store(d, recs, err)) < 0)
                return r;
        flowlog_add(d, logs, json_array_size(recs));
        json_array_foreach(recs, i, v)
                log_info("op=CreateFlowLogs flow_log=%s resource=%s traffic=%s interval=%lld dest=%s", rec_str(v, "FlowLogId"),
                         rec_str(v, "ResourceId"), c.traffic, c.interval, c.dest);
        *ret = json_pack("{s:O, s:[]}", "FlowLogIds", ids_out, "Unsuccessful");
        if (c.token)
                json_object_set_new(*ret, "ClientToken", json_string(c.token));
        return 0;
}

int op_describe_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct req_describe q;
        json_t *out = NULL;
        int r;
        if ((r = flowlog_describe_req_decode(req, &q, err)) < 0 ||
            (r = describe_objects(d, "fl", "FlowLogId", q.ids, q.filters, fl_values, fl_shape, "InvalidFlowLogId.NotFound",
                                  "flow log ID", &out, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "FlowLogs", out);
        return 0;
}

int op_delete_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct flowlog_delete_req q;
        json_t *ids, *v;
        size_t i;
        int r;
        if (!d->fl)
                return err_set(err, EAGAIN, NULL, "DeleteFlowLogs: the flow log collector is not running yet");
        if ((r = flowlog_delete_req_decode(req, &q, err)) < 0)
                return r;
        ids = q.ids;
        json_array_foreach(ids, i, v) {
                char key[KEY_MAX];
                key_fmt(key, "fl", json_string_value(v));
                r = store_exists(d->store, key);
                if (r < 0)
                        return err_set(err, -r, NULL, "flow log lookup: %s", strerror(-r));
                if (r == 0)
                        return err_set(err, ENOENT, "InvalidFlowLogId.NotFound", "Flow log ID '%s' does not exist",
                                       json_string_value(v));
        }
        /* write what the meters hold for these flow logs before they go */
        flowlog_flush(d, ids);
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        json_array_foreach(ids, i, v) {
                char key[KEY_MAX];
                key_fmt(key, "fl", json_string_value(v));
                if ((r = store_del(d->store, key, err)) < 0) {
                        store_rollback(d->store);
                        return r;
                }
        }
        if ((r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        flowlog_forget(d, ids);
        json_array_foreach(ids, i, v)
                log_info("op=DeleteFlowLogs flow_log=%s", json_string_value(v));
        *ret = json_pack("{s:[]}", "Unsuccessful");
        return 0;
}

/* The lines of a file, oldest first; the first line (the header) apart. */
static int file_lines(const char *path, json_t *records, json_t **ret_header)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        bool first = true;
        if (!f)
                return -errno;
        while ((n = getline(&line, &cap, f)) > 0) {
                if (line[n - 1] == '\n')
                        line[--n] = '\0';
                if (first) {
                        if (!*ret_header)
                                *ret_header = json_string(line);
                        first = false;
                } else
                        json_array_append_new(records, json_stringn(line, (size_t) n));
        }
        free(line);
        return 0;
}

struct get_ctx {
        const char *eni, *want;
        json_t *out, *paths;
};

static int get_cb(const char *key, json_t *rec, void *ud)
{
        struct get_ctx *c = ud;
        char path[PATH_MAX + 64], rot[PATH_MAX + 70];
        json_t *records, *header = NULL, *p;
        size_t i;
        bool seen = false;
        if (c->want && strcmp(c->want, rec_str(rec, "FlowLogId")) != 0)
                return 0;
        snprintf(path, sizeof path, "%s/%s.log", rec_str(rec, "LogDestination"), c->eni);
        json_array_foreach(c->paths, i, p)
                seen |= strcmp(json_string_value(p), path) == 0;
        if (seen || access(path, R_OK) < 0)
                return 0;
        json_array_append_new(c->paths, json_string(path));
        records = json_array();
        snprintf(rot, sizeof rot, "%s.1", path);
        (void) file_lines(rot, records, &header);
        (void) file_lines(path, records, &header);
        json_array_append_new(c->out, json_pack("{s:s, s:s, s:s, s:o?, s:o}", "FlowLogId", rec_str(rec, "FlowLogId"),
                                                "NetworkInterfaceId", c->eni, "LogFile", path, "Header", header,
                                                "Records", records));
        return 0;
}

int op_get_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *paths = json_array();
        struct flowlog_get_req q;
        struct get_ctx c = { 0 };
        int r;
        if ((r = flowlog_get_req_decode(req, &q, err)) < 0)
                return r;
        c.eni = q.eni_id;
        c.want = q.flow_log_id;
        if (c.want) {
                char key[KEY_MAX];
                key_fmt(key, "fl", c.want);
                if ((r = store_exists(d->store, key)) == 0)
                        return err_set(err, ENOENT, "InvalidFlowLogId.NotFound", "Flow log ID '%s' does not exist", c.want);
        }
        c.out = json_array();
        c.paths = paths;
        if ((r = store_list(d->store, "fl/", get_cb, &c, err)) < 0) {
                json_decref(c.out);
                return r;
        }
        *ret = json_pack("{s:o}", "FlowLogRecords", c.out);
        return 0;
}
