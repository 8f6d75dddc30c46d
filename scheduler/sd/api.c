/* api.c: the Route53AutoNaming_v20170314 (Cloud Map) operations on ecsboxd's endpoint: dispatch by
 * name; the operations are namespace.c's, service.c's, instance.c's, operation.c's and tags.c's. */
#include <errno.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "../ecs/ecs.h"
#include "../sched.h"
#include "api.h"
#include "sd.h"

static const struct {
        const char *name;
        int (*fn)(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
} ops[] = {
        { "CreatePrivateDnsNamespace", sd_op_create_private_dns_namespace },
        { "CreateHttpNamespace", sd_op_create_http_namespace },
        { "GetNamespace", sd_op_get_namespace },
        { "ListNamespaces", sd_op_list_namespaces },
        { "DeleteNamespace", sd_op_delete_namespace },
        { "CreateService", sd_op_create_service },
        { "GetService", sd_op_get_service },
        { "ListServices", sd_op_list_services },
        { "UpdateService", sd_op_update_service },
        { "DeleteService", sd_op_delete_service },
        { "RegisterInstance", sd_op_register_instance },
        { "DeregisterInstance", sd_op_deregister_instance },
        { "GetInstance", sd_op_get_instance },
        { "ListInstances", sd_op_list_instances },
        { "DiscoverInstances", sd_op_discover_instances },
        { "UpdateInstanceCustomHealthStatus", sd_op_update_instance_health },
        { "GetInstancesHealthStatus", sd_op_get_instances_health },
        { "GetOperation", sd_op_get_operation },
        { "ListOperations", sd_op_list_operations },
        { "TagResource", sd_op_tag_resource },
        { "UntagResource", sd_op_untag_resource },
        { "ListTagsForResource", sd_op_list_tags },
};

int sd_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err)
{
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strcmp(ops[i].name, op) == 0) {
                        c->op = ops[i].name;
                        return ops[i].fn(c, req, ret, err);
                }
        return err_set(err, EOPNOTSUPP, E_UNKNOWN_OP, "Unknown operation '%s': " SD_TARGET_PREFIX "%s is not implemented by ecsboxd",
                       op, op);
}
