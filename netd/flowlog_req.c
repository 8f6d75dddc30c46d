/* flowlog_req.c: the requests of CreateFlowLogs, DescribeFlowLogs, DeleteFlowLogs and GetFlowLogs, decoded and
 * checked. Pure. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "flowlog_collect.h"
#include "flowlog_req.h"

#define CODE_FL_NOTFOUND "InvalidFlowLogId.NotFound"

/* Every resource is a string, named once, an id of the resource type. */
static int resource_ids_check(const char *type, json_t *ids, struct err *err)
{
        static const struct {
                const char *type, *prefix, *code;
        } kinds[] = {
                { "NetworkInterface", "eni", "InvalidNetworkInterfaceID.Malformed" },
                { "Subnet", "subnet", "InvalidSubnetID.Malformed" },
                { "VPC", "vpc", "InvalidVpcID.Malformed" },
        };
        size_t k = 0, i;
        json_t *v;
        int r;
        while (strcmp(kinds[k].type, type) != 0)
                k++;   /* type is one of them */
        json_array_foreach(ids, i, v) {
                const char *id = json_string_value(v);
                if (!id)
                        return err_set(err, EINVAL, JERR_INVALID, "ResourceIds.%zu must be a string", i + 1);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(json_string_value(json_array_get(ids, j)), id) == 0)
                                return err_set(err, EINVAL, "InvalidParameter", "Resource '%s' is listed twice", id);
                if ((r = req_id_check(id, kinds[k].prefix, kinds[k].code, true, err)) < 0)
                        return r;
        }
        return 0;
}

int flowlog_create_req_decode(json_t *req, struct flowlog_create_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "ResourceType", "ResourceIds", "TrafficType", "LogFormat",
                                            "MaxAggregationInterval", "LogDestinationType", "LogDestination",
                                            "TagSpecifications", "ClientToken", "DryRun", "DeliverLogsPermissionArn",
                                            "DeliverCrossAccountRole", "LogGroupName", "DestinationOptions", NULL };
        struct flowlog_create_req q = { .interval = 600 };
        int r;

        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_string(req, "ResourceType", true, &q.type, err)) < 0 ||
            (r = json_get_array(req, "ResourceIds", true, &q.ids, err)) < 0 ||
            (r = json_get_string(req, "TrafficType", false, &q.traffic, err)) < 0 ||
            (r = json_get_string(req, "LogFormat", false, &q.format, err)) < 0 ||
            (r = json_get_string(req, "LogDestinationType", false, &q.dtype, err)) < 0 ||
            (r = json_get_string(req, "LogDestination", false, &q.dest, err)) < 0 ||
            (r = json_get_string(req, "ClientToken", false, &q.token, err)) < 0)
                return r;
        if (json_object_get(req, "MaxAggregationInterval") &&
            (r = json_get_int(req, "MaxAggregationInterval", false, 1, 600, &q.interval, err)) < 0)
                return err_set(err, EINVAL, "InvalidParameter",
                               "MaxAggregationInterval must be 60 or 600 (ecsbox also accepts 1 to 600 seconds)");
        if (strcmp(q.type, "NetworkInterface") != 0 && strcmp(q.type, "Subnet") != 0 && strcmp(q.type, "VPC") != 0)
                return err_set(err, EINVAL, "InvalidParameter",
                               "Invalid ResourceType '%s': expected NetworkInterface, Subnet or VPC", q.type);
        if (json_array_size(q.ids) == 0)
                return err_set(err, EINVAL, "InvalidParameter", "ResourceIds must name at least one resource");
        if (json_array_size(q.ids) > 1000)
                return err_set(err, EINVAL, "InvalidParameter", "At most 1000 ResourceIds per request");
        if (!q.traffic)
                return err_set(err, EINVAL, "InvalidParameter", "TrafficType is required (ACCEPT, REJECT or ALL)");
        if (fl_traffic_parse(q.traffic) < 0)
                return err_set(err, EINVAL, "InvalidParameter", "Invalid TrafficType '%s': expected ACCEPT, REJECT or ALL", q.traffic);
        if (!q.dtype || strcmp(q.dtype, "file") != 0)
                return err_set(err, EINVAL, "InvalidParameter",
                               "Invalid LogDestinationType '%s': ecsbox delivers flow logs to local files only (LogDestinationType 'file')",
                               q.dtype ? q.dtype : "cloud-watch-logs");
        /* LogDestination: an absolute path (that it is a directory netd may write is flowlog.c's) */
        if (!q.dest || q.dest[0] != '/')
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination must be an absolute directory path, got '%s'",
                               q.dest ? q.dest : "");
        if (strlen(q.dest) > PATH_MAX - 64)
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination '%s' is too long", q.dest);
        if ((r = fl_format_parse(q.format, &q.fmt, err)) < 0 || (r = resource_ids_check(q.type, q.ids, err)) < 0)
                return r;
        q.tags = req_tags(req, "vpc-flow-log");
        *ret = q;
        return 0;
}

void flowlog_create_req_done(struct flowlog_create_req *q)
{
        json_decref(q->tags);
        q->tags = NULL;
}

int flowlog_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "FlowLogIds", "Filter", "Filters", "DryRun", "MaxResults", "NextToken", NULL };
        static const char *const fnames[] = { "flow-log-id", "resource-id", "traffic-type", "log-destination-type",
                                              "deliver-log-status", "log-group-name", NULL };
        struct req_describe q = { 0 };
        json_t *filters = json_object_get(req, "Filters");
        int r;
        /* DescribeFlowLogs names its list Filter in the EC2 API; Filters wins when both are given */
        if (!filters)
                filters = json_object_get(req, "Filter");
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = req_ids(req, "FlowLogIds", "fl", CODE_FL_NOTFOUND, &q.ids, err)) < 0 ||
            (r = req_filters(filters, fnames, &q.filters, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int flowlog_delete_req_decode(json_t *req, struct flowlog_delete_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "FlowLogIds", "DryRun", NULL };
        struct flowlog_delete_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = req_ids(req, "FlowLogIds", "fl", CODE_FL_NOTFOUND, &q.ids, err)) < 0)
                return r;
        if (json_array_size(q.ids) == 0)
                return err_set(err, EINVAL, JERR_MISSING, "The request must contain the parameter FlowLogIds");
        *ret = q;
        return 0;
}

int flowlog_get_req_decode(json_t *req, struct flowlog_get_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "NetworkInterfaceId", "FlowLogId", NULL };
        struct flowlog_get_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_string(req, "NetworkInterfaceId", true, &q.eni_id, err)) < 0 ||
            (r = json_get_string(req, "FlowLogId", false, &q.flow_log_id, err)) < 0 ||
            (r = req_id_check(q.eni_id, "eni", "InvalidNetworkInterfaceID.Malformed", true, err)) < 0)
                return r;
        if (q.flow_log_id && !id_valid("fl", q.flow_log_id))
                return err_set(err, EINVAL, CODE_FL_NOTFOUND, "Flow log ID '%s' does not exist", q.flow_log_id);
        *ret = q;
        return 0;
}
