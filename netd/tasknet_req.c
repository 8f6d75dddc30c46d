/* tasknet_req.c: the requests of CreateTaskNetwork, DeleteTaskNetwork and DescribeTaskNetworks, decoded and
 * checked. Pure. */
#include <errno.h>
#include <string.h>

#include "ecsbox/json.h"
#include "req.h"
#include "tasknet_req.h"

static int awsvpc_decode(json_t *req, struct tasknet_create_req *q, struct err *err)
{
        static const char *const keys[] = { "Action", "NetworkMode", "SubnetId", "Netns", "PrivateIpAddress", "Groups",
                                            "Description", "InterfaceType", "Metadata", "InstanceId", NULL };
        int r;
        if ((r = json_get_string(req, "Netns", false, &q->netns, err)) < 0 || (r = json_check_keys(req, keys, err)) < 0 ||
            (r = json_get_string(req, "Netns", true, &q->netns, err)) < 0 ||
            (r = json_get_string(req, "InstanceId", false, &q->instance_id, err)) < 0 ||
            (r = json_get_object(req, "Metadata", false, &q->metadata, err)) < 0 || (r = req_netns_name(q->netns, "netns name", err)) < 0)
                return r;
        return eni_create_fields_decode(req, &q->eni, err);
}

int tasknet_create_req_decode(json_t *req, struct tasknet_create_req *ret, struct err *err)
{
        static const char *const bridge_keys[] = { "Action", "NetworkMode", "Netns", "InstanceNetns", "PortMappings", "Metadata", NULL };
        static const char *const none_keys[] = { "Action", "NetworkMode", "Netns", "Metadata", NULL };
        struct tasknet_create_req q = { 0 };
        const char *mode = "awsvpc";
        int r;

        if ((r = json_get_string(req, "NetworkMode", false, &mode, err)) < 0)
                return r;
        if (strcmp(mode, "awsvpc") == 0) {
                q.mode = TASKNET_AWSVPC;
                if ((r = awsvpc_decode(req, &q, err)) < 0)
                        return r;
                *ret = q;
                return 0;
        }
        if (strcmp(mode, "bridge") != 0 && strcmp(mode, "none") != 0)
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value '%s' for NetworkMode: expected awsvpc, bridge or none%s", mode,
                               strcmp(mode, "host") == 0 ? " (host mode shares the instance's namespace: there is nothing for netd to make)" : "");
        q.mode = strcmp(mode, "bridge") == 0 ? TASKNET_BRIDGE : TASKNET_NONE;
        if ((r = json_check_keys(req, q.mode == TASKNET_BRIDGE ? bridge_keys : none_keys, err)) < 0 ||
            (r = json_get_string(req, "Netns", true, &q.netns, err)) < 0 || (r = req_netns_name(q.netns, "Netns", err)) < 0 ||
            (r = json_get_object(req, "Metadata", false, &q.metadata, err)) < 0)
                return r;
        if (q.mode == TASKNET_BRIDGE &&
            ((r = json_get_string(req, "InstanceNetns", true, &q.instance_netns, err)) < 0 ||
             (r = req_netns_name(q.instance_netns, "InstanceNetns", err)) < 0 ||
             (r = portmap_parse(json_object_get(req, "PortMappings"), q.pm, &q.npm, err)) < 0))
                return r;
        *ret = q;
        return 0;
}

int tasknet_delete_req_decode(json_t *req, struct eni_find_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "NetworkInterfaceId", "Netns", NULL };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0)
                return r;
        return eni_find_fields_decode(req, ret, err);
}

int tasknet_describe_req_decode(json_t *req, struct tasknet_describe_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "Netns", "InstanceNetns", NULL };
        struct tasknet_describe_req q = { 0 };
        json_t *v;
        size_t i;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_array(req, "Netns", false, &q.names, err)) < 0 ||
            (r = json_get_string(req, "InstanceNetns", false, &q.instance_netns, err)) < 0)
                return r;
        json_array_foreach(q.names, i, v)
                if (!json_is_string(v))
                        return err_set(err, EINVAL, JERR_INVALID, "Netns.%zu must be a string", i + 1);
        *ret = q;
        return 0;
}
