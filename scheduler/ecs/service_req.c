/* service_req.c: CreateService and UpdateService decoded: member types and ranges, the values
 * ECS accepts, deploymentConfiguration, placement and networkConfiguration, with ECS's codes and
 * messages, serviceRegistries typed. What needs the cluster, the task definition or the service's record is service.c's. */
#include <errno.h>
#include <string.h>

#include "ecsbox/json.h"
#include "../front/req.h"
#include "arn.h"
#include "cluster.h"
#include "service_req.h"
#include "tags.h"

static const char *const create_keys[] = {
        "cluster", "serviceName", "taskDefinition", "desiredCount", "launchType", "networkConfiguration",
        "placementConstraints", "placementStrategy", "schedulingStrategy", "deploymentConfiguration",
        "deploymentController", "healthCheckGracePeriodSeconds", "tags", "clientToken", "loadBalancers",
        "serviceRegistries", "capacityProviderStrategy", "platformVersion", "role", "enableECSManagedTags",
        "propagateTags", "enableExecuteCommand", "serviceConnectConfiguration", "volumeConfigurations",
        "availabilityZoneRebalancing", NULL,
};
static const char *const update_keys[] = {
        "cluster", "service", "taskDefinition", "desiredCount", "networkConfiguration", "placementConstraints",
        "placementStrategy", "deploymentConfiguration", "forceNewDeployment", "healthCheckGracePeriodSeconds",
        "capacityProviderStrategy", "platformVersion", "enableExecuteCommand", "enableECSManagedTags",
        "loadBalancers", "propagateTags", "serviceRegistries", "serviceConnectConfiguration",
        "volumeConfigurations", "availabilityZoneRebalancing", NULL,
};

/* placementConstraints / placementStrategy checked as RunTask checks them; the tasks get them as given. */
static int placement_check(json_t *req, bool daemon, struct err *err)
{
        struct task_placement p;
        json_t *pcs = NULL, *pss = NULL;
        int r;
        if ((r = req_array(req, NULL, "placementConstraints", false, &pcs, err)) < 0 ||
            (r = req_array(req, NULL, "placementStrategy", false, &pss, err)) < 0 ||
            (r = task_placement_decode(pcs, pss, daemon, &p, err)) < 0)
                return r;
        task_placement_done(&p);
        return 0;
}

/* serviceRegistries: at most one {registryArn*, port, containerName, containerPort}, typed here; the
 * registry itself and the task definition are checked by sd/ecs.c. NULL when absent. */
static int registries_decode(json_t *req, json_t **ret, struct err *err)
{
        json_t *a = NULL, *reg;
        size_t i;
        int r;
        if ((r = req_array(req, NULL, "serviceRegistries", false, &a, err)) <= 0)
                return r;
        if (json_array_size(a) > 1)
                return err_set(err, EINVAL, E_PARAM, "Only one service registry is supported per service: serviceRegistries has %zu.",
                               json_array_size(a));
        json_array_foreach(a, i, reg) {
                const char *arn = NULL, *cname = NULL;
                long long port = 0;
                if (!json_is_object(reg))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter serviceRegistries[%zu]: expected a structure", i);
                if ((r = req_str(reg, "serviceRegistries", "registryArn", true, &arn, err)) < 0 ||
                    (r = req_int(reg, "serviceRegistries", "port", false, 0, 65535, &port, err)) < 0 ||
                    (r = req_str(reg, "serviceRegistries", "containerName", false, &cname, err)) < 0 ||
                    (r = req_int(reg, "serviceRegistries", "containerPort", false, 0, 65535, &port, err)) < 0)
                        return r;
        }
        *ret = a;
        return 0;
}

/* loadBalancers: at most 5 {targetGroupArn*, containerName*, containerPort*} (a classic loadBalancerName
 * is refused), typed here; the target groups and the task definition are checked by elb/ecs.c. */
static int lbs_decode(json_t *req, json_t **ret, struct err *err)
{
        json_t *a = NULL, *lb;
        size_t i;
        int r;
        if ((r = req_array(req, NULL, "loadBalancers", false, &a, err)) <= 0)
                return r;
        if (json_array_size(a) > 5)
                return err_set(err, EINVAL, E_PARAM, "At most 5 load balancers (target groups) are supported per service: loadBalancers has %zu.",
                               json_array_size(a));
        json_array_foreach(a, i, lb) {
                const char *arn = NULL, *cname = NULL, *lbname = NULL;
                long long port = 0;
                if (!json_is_object(lb))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter loadBalancers[%zu]: expected a structure", i);
                if ((r = req_str(lb, "loadBalancers", "loadBalancerName", false, &lbname, err)) < 0)
                        return r;
                if (lbname)
                        return err_set(err, EINVAL, E_PARAM, "Classic load balancers (loadBalancerName) are not supported by ecsbox: use targetGroupArn.");
                if ((r = req_str(lb, "loadBalancers", "targetGroupArn", true, &arn, err)) < 0 ||
                    (r = req_str(lb, "loadBalancers", "containerName", true, &cname, err)) < 0 ||
                    (r = req_int(lb, "loadBalancers", "containerPort", true, 1, 65535, &port, err)) < 0)
                        return r;
        }
        *ret = a;
        return 0;
}

/* The members whose values ECS restricts. */
static int create_values_check(json_t *req, const struct service_create_in *in, struct err *err)
{
        json_t *ctl = NULL;
        int r;
        if ((r = req_object(req, NULL, "deploymentController", false, &ctl, err)) < 0)
                return r;
        if (!name_valid(in->name))
                return err_set(err, EINVAL, E_PARAM,
                               "serviceName '%s' is invalid: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.",
                               in->name);
        if (strcmp(in->strategy, "REPLICA") != 0 && strcmp(in->strategy, "DAEMON") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid schedulingStrategy '%s': expected REPLICA or DAEMON.", in->strategy);
        if (strcmp(in->launch, "EC2") != 0 && strcmp(in->launch, "FARGATE") != 0)
                return err_set(err, EINVAL, E_PARAM, "Invalid launchType '%s': expected EC2 or FARGATE (EXTERNAL is not supported by ecsbox).",
                               in->launch);
        if (strcmp(in->strategy, "DAEMON") == 0 && strcmp(in->launch, "FARGATE") == 0)
                return err_set(err, EINVAL, E_PARAM, "The DAEMON scheduling strategy does not support the FARGATE launch type.");
        if (ctl && strcmp(jstr(ctl, "type") ?: "", "ECS") != 0)
                return err_set(err, EINVAL, E_PARAM, "deploymentController.type '%s' is not supported by ecsbox: use ECS.", jstr(ctl, "type") ?: "");
        if (!in->taskdef)
                return err_set(err, EINVAL, E_PARAM, "Missing required parameter: taskDefinition (ecsbox has no external deployment controller).");
        if (strcmp(in->strategy, "DAEMON") != 0 && !json_object_get(req, "desiredCount"))
                return err_set(err, EINVAL, E_PARAM, "Missing required parameter: desiredCount (required for the REPLICA scheduling strategy).");
        return 0;
}

int service_create_decode(json_t *req, struct service_create_in *ret, struct err *err)
{
        struct service_create_in in = { .launch = "EC2", .strategy = "REPLICA", .propagate = "NONE" };
        int r;
        if ((r = req_check_keys(req, create_keys, err)) < 0)
                return r;
        in.cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "serviceName", true, &in.name, err)) < 0 ||
            (r = req_str(req, NULL, "taskDefinition", false, &in.taskdef, err)) < 0 ||
            (r = req_str(req, NULL, "launchType", false, &in.launch, err)) < 0 ||
            (r = req_str(req, NULL, "schedulingStrategy", false, &in.strategy, err)) < 0 ||
            (r = req_int(req, NULL, "desiredCount", false, 0, 5000, &in.desired, err)) < 0 ||
            (r = req_int(req, NULL, "healthCheckGracePeriodSeconds", false, 0, 2147483647, &in.grace, err)) < 0 ||
            (r = req_tags(req, "tags", &in.tags, err)) < 0 || (r = create_values_check(req, &in, err)) < 0 ||
            (r = req_str(req, NULL, "propagateTags", false, &in.propagate, err)) < 0 ||
            (r = req_bool(req, NULL, "enableECSManagedTags", false, &in.managed_tags, err)) < 0 ||
            (r = req_bool(req, NULL, "enableExecuteCommand", false, &in.exec, err)) < 0 ||
            (r = tags_propagate_check(in.propagate, true, err)) < 0)
                return r;
        in.daemon = strcmp(in.strategy, "DAEMON") == 0;
        in.has_grace = json_object_get(req, "healthCheckGracePeriodSeconds") != NULL;
        if ((r = deploy_config_decode(req, &in.deploy, err)) < 0 || (r = placement_check(req, in.daemon, err)) < 0 ||
            (r = task_network_decode(req, &in.net, err)) < 0 || (r = registries_decode(req, &in.registries, err)) < 0 ||
            (r = lbs_decode(req, &in.lbs, err)) < 0)
                return r;
        in.constraints = json_object_get(req, "placementConstraints");
        in.strategies = json_object_get(req, "placementStrategy");
        in.net.config = json_object_get(req, "networkConfiguration");
        req_hash(req, in.hash);
        *ret = in;
        return 0;
}

int service_update_decode(json_t *req, struct service_update_in *ret, struct err *err)
{
        struct service_update_in in = { .desired = -1, .managed_tags = -1, .exec = -1 };
        bool managed = false;
        int r;
        if ((r = req_check_keys(req, update_keys, err)) < 0)
                return r;
        in.cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "service", true, &in.service, err)) < 0 ||
            (r = req_str(req, NULL, "taskDefinition", false, &in.taskdef, err)) < 0 ||
            (r = req_int(req, NULL, "desiredCount", false, 0, 5000, &in.desired, err)) < 0 ||
            (r = req_int(req, NULL, "healthCheckGracePeriodSeconds", false, 0, 2147483647, &in.grace, err)) < 0 ||
            (r = req_bool(req, NULL, "forceNewDeployment", false, &in.force, err)) < 0 ||
            (r = req_str(req, NULL, "propagateTags", false, &in.propagate, err)) < 0 ||
            (r = tags_propagate_check(in.propagate, true, err)) < 0 ||
            (r = deploy_config_decode(req, &in.deploy, err)) < 0 || (r = placement_check(req, false, err)) < 0 ||
            (r = task_network_decode(req, &in.net, err)) < 0 || (r = registries_decode(req, &in.registries, err)) < 0 ||
            (r = lbs_decode(req, &in.lbs, err)) < 0)
                return r;
        if ((r = req_bool(req, NULL, "enableECSManagedTags", false, &managed, err)) < 0)
                return r;
        if (r > 0)
                in.managed_tags = managed;
        if ((r = req_bool(req, NULL, "enableExecuteCommand", false, &managed, err)) < 0)
                return r;
        if (r > 0)
                in.exec = managed;
        in.has_grace = json_object_get(req, "healthCheckGracePeriodSeconds") != NULL;
        in.constraints = json_object_get(req, "placementConstraints");
        in.strategies = json_object_get(req, "placementStrategy");
        in.has_strategies = json_array_size(in.strategies) > 0;
        in.net.config = json_object_get(req, "networkConfiguration");
        *ret = in;
        return 0;
}
