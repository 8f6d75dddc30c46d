/* runtask_req.c: the decoders of what starts tasks: RunTask's request, and the parts it shares
 * with StartTask and services (overrides, networkConfiguration, placement). They check shapes,
 * types and ranges with ECS's codes and messages; what needs the task definition, the cluster
 * or netd is tasks_start()'s. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "../front/req.h"
#include "cluster.h"
#include "cql.h"
#include "runtask.h"
#include "tags.h"

#define AWSVPC_PATH "networkConfiguration.awsvpcConfiguration"

int task_network_decode(json_t *obj, struct task_network *ret, struct err *err)
{
        struct task_network n = { 0 };
        int r;
        if ((r = req_object(obj, NULL, "networkConfiguration", false, &n.config, err)) < 0 ||
            (r = req_object(n.config, "networkConfiguration", "awsvpcConfiguration", false, &n.awsvpc, err)) < 0)
                return r;
        if (n.awsvpc) {
                if ((r = req_str_list(n.awsvpc, AWSVPC_PATH, "subnets", true, 16, &n.subnets, err)) < 0 ||
                    (r = req_str_list(n.awsvpc, AWSVPC_PATH, "securityGroups", false, 5, &n.security_groups, err)) < 0 ||
                    (r = req_str(n.awsvpc, AWSVPC_PATH, "assignPublicIp", false, &n.assign_public_ip, err)) < 0)
                        return r;
                if (json_array_size(n.subnets) == 0)
                        return err_set(err, EINVAL, E_PARAM, "subnets can not be empty.");
                if (n.assign_public_ip && strcmp(n.assign_public_ip, "ENABLED") != 0 &&
                    strcmp(n.assign_public_ip, "DISABLED") != 0)
                        return err_set(err, EINVAL, E_PARAM, "assignPublicIp must be ENABLED or DISABLED (got '%s').",
                                       n.assign_public_ip);
        }
        *ret = n;
        return 0;
}

void task_placement_done(struct task_placement *p)
{
        for (size_t i = 0; i < p->nmember_of; i++)
                p->member_of[i] = cql_free(p->member_of[i]);
        p->nmember_of = 0;
}

static int constraint_decode(json_t *e, size_t i, struct task_placement *p, struct err *err)
{
        char path[48];
        const char *type = NULL, *expr = NULL;
        int r;
        snprintf(path, sizeof path, "placementConstraints[%zu]", i);
        if (!json_is_object(e))
                return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", path);
        if ((r = req_str(e, path, "type", true, &type, err)) < 0 || (r = req_str(e, path, "expression", false, &expr, err)) < 0)
                return r;
        if (strcmp(type, "distinctInstance") == 0) {
                if (expr && *expr)
                        return err_set(err, EINVAL, E_PARAM, "The distinctInstance constraint takes no expression.");
                p->distinct = true;
        } else if (strcmp(type, "memberOf") == 0) {
                if (!expr || !*expr)
                        return err_set(err, EINVAL, E_PARAM, "The memberOf constraint needs an expression.");
                if (p->nmember_of >= ELEMENTSOF(p->member_of))
                        return err_set(err, EINVAL, E_PARAM, "Too many memberOf constraints.");
                if ((r = cql_parse(expr, &p->member_of[p->nmember_of], err)) < 0)
                        return err_wrap(err, "Invalid %s expression '%s'", path, expr);
                p->nmember_of++;
        } else
                return err_set(err, EINVAL, E_PARAM,
                               "Unknown placement constraint type '%s': expected distinctInstance or memberOf.", type);
        return 0;
}

static int strategy_decode(json_t *e, size_t i, struct task_placement *p, struct err *err)
{
        char path[48];
        const char *type = NULL, *field = NULL;
        int r;
        snprintf(path, sizeof path, "placementStrategy[%zu]", i);
        if (!json_is_object(e))
                return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", path);
        if ((r = req_str(e, path, "type", true, &type, err)) < 0 || (r = req_str(e, path, "field", false, &field, err)) < 0 ||
            (r = place_strategy_parse(type, field, &p->strategies[p->nstrategies], err)) < 0)
                return r;
        p->nstrategies++;
        return 0;
}

int task_placement_decode(json_t *constraints, json_t *strategies, bool no_strategies, struct task_placement *ret,
                          struct err *err)
{
        struct task_placement p = { 0 };
        json_t *e;
        size_t i;
        int r = 0;
        if (json_array_size(constraints) > TASK_PLACE_CONSTRAINTS_MAX)
                return err_set(err, EINVAL, E_PARAM, "At most 10 placement constraints are allowed (got %zu).",
                               json_array_size(constraints));
        if (json_array_size(strategies) > TASK_PLACE_STRATEGIES_MAX)
                return err_set(err, EINVAL, E_PARAM, "At most 5 placement strategies are allowed (got %zu).",
                               json_array_size(strategies));
        if (no_strategies && json_array_size(strategies) > 0)
                return err_set(err, EINVAL, E_PARAM, "Placement strategies are not supported with the DAEMON scheduling strategy.");
        json_array_foreach(constraints, i, e)
                if ((r = constraint_decode(e, i, &p, err)) < 0)
                        goto fail;
        json_array_foreach(strategies, i, e)
                if ((r = strategy_decode(e, i, &p, err)) < 0)
                        goto fail;
        *ret = p;
        return 0;
fail:
        task_placement_done(&p);
        return r;
}

static int env_override_check(json_t *env, const char *path, struct err *err)
{
        json_t *e;
        size_t k;
        int r;
        json_array_foreach(env, k, e) {
                char ep[100];
                const char *n = NULL, *val = NULL;
                snprintf(ep, sizeof ep, "%s.environment[%zu]", path, k);
                if (!json_is_object(e))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", ep);
                if ((r = req_str(e, ep, "name", true, &n, err)) < 0 || (r = req_str(e, ep, "value", false, &val, err)) < 0)
                        return r;
        }
        return 0;
}

static int container_override_check(json_t *co, size_t i, struct err *err)
{
        char path[64];
        const char *name = NULL;
        json_t *cmd = NULL, *env = NULL;
        long long v;
        int r;
        snprintf(path, sizeof path, "overrides.containerOverrides[%zu]", i);
        if (!json_is_object(co))
                return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", path);
        if ((r = req_str(co, path, "name", true, &name, err)) < 0 || (r = req_str_list(co, path, "command", false, 0, &cmd, err)) < 0 ||
            (r = req_array(co, path, "environment", false, &env, err)) < 0 || (r = env_override_check(env, path, err)) < 0 ||
            (r = req_int(co, path, "cpu", false, 0, 10240 * 1024, &v, err)) < 0 ||
            (r = req_int(co, path, "memory", false, 6, 1LL << 30, &v, err)) < 0 ||
            (r = req_int(co, path, "memoryReservation", false, 6, 1LL << 30, &v, err)) < 0)
                return r;
        return 0;
}

int task_overrides_check(json_t *ov, struct err *err)
{
        json_t *cos = NULL, *co;
        const char *s = NULL;
        size_t i;
        int r;
        if (!ov)
                return 0;
        if ((r = req_array(ov, "overrides", "containerOverrides", false, &cos, err)) < 0)
                return r;
        json_array_foreach(cos, i, co)
                if ((r = container_override_check(co, i, err)) < 0)
                        return r;
        if ((r = req_str(ov, "overrides", "cpu", false, &s, err)) < 0 || (r = req_str(ov, "overrides", "memory", false, &s, err)) < 0)
                return r;
        return 0;
}

/* The members RunTask and StartTask share (StartTask's key check leaves out count, launchType,
 * placement and clientToken, which then keep their defaults). */
static int run_members_decode(json_t *req, struct task_start *t, struct err *err)
{
        long long count = 1;
        int r;
        t->cluster = cluster_param(req);
        t->launch = "EC2";
        if ((r = req_str(req, NULL, "taskDefinition", true, &t->taskdef, err)) < 0 ||
            (r = req_int(req, NULL, "count", false, 1, 10, &count, err)) < 0 ||
            (r = req_str(req, NULL, "launchType", false, &t->launch, err)) < 0 ||
            (r = req_str(req, NULL, "startedBy", false, &t->started_by, err)) < 0 ||
            (r = req_str(req, NULL, "group", false, &t->group, err)) < 0 || (r = req_tags(req, "tags", &t->tags, err)) < 0 ||
            (r = req_str(req, NULL, "clientToken", false, &t->client_token, err)) < 0 ||
            (r = req_str(req, NULL, "propagateTags", false, &t->propagate, err)) < 0 ||
            (r = req_bool(req, NULL, "enableECSManagedTags", false, &t->managed_tags, err)) < 0 ||
            (r = req_bool(req, NULL, "enableExecuteCommand", false, &t->exec, err)) < 0 ||
            (r = tags_propagate_check(t->propagate, false, err)) < 0)
                return r;
        t->count = (int) count;
        if (json_array_size(json_object_get(req, "capacityProviderStrategy")) > 0)
                return err_set(err, EINVAL, E_PARAM, "ecsbox has no capacity providers: use launchType EC2 or FARGATE.");
        if (strcmp(t->launch, "EC2") != 0 && strcmp(t->launch, "FARGATE") != 0) {
                if (strcmp(t->launch, "EXTERNAL") == 0)
                        return err_set(err, EINVAL, E_PARAM, "launchType EXTERNAL is not supported by ecsbox: use EC2 or FARGATE.");
                return err_set(err, EINVAL, E_PARAM, "Invalid launchType '%s': expected EC2, FARGATE or EXTERNAL.", t->launch);
        }
        if (t->started_by && strlen(t->started_by) > 36)
                return err_set(err, EINVAL, E_PARAM, "startedBy can be at most 36 characters long.");
        if (t->client_token && (strlen(t->client_token) < 1 || strlen(t->client_token) > 64))
                return err_set(err, EINVAL, E_PARAM, "clientToken must be 1 to 64 characters long.");
        return 0;
}

int run_task_decode(json_t *req, struct task_start *ret, struct err *err)
{
        json_t *pcs = NULL, *pss = NULL;
        int r;
        if ((r = run_members_decode(req, ret, err)) < 0 ||
            (r = req_object(req, NULL, "overrides", false, &ret->overrides, err)) < 0 ||
            (r = task_overrides_check(ret->overrides, err)) < 0 ||
            (r = req_array(req, NULL, "placementConstraints", false, &pcs, err)) < 0 ||
            (r = req_array(req, NULL, "placementStrategy", false, &pss, err)) < 0 ||
            (r = task_placement_decode(pcs, pss, false, &ret->place, err)) < 0 ||
            (r = task_network_decode(req, &ret->net, err)) < 0)
                return r;
        if (ret->client_token)
                req_hash(req, ret->hash);
        return 0;
}

void task_start_done(struct task_start *t)
{
        task_placement_done(&t->place);
}
