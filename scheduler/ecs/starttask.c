/* starttask.c: StartTask: RunTask on the container instances the caller names, one task each. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "../front/req.h"
#include "../sched.h"
#include "arn.h"
#include "cluster.h"
#include "instance.h"
#include "runtask.h"
#include "starttask.h"

int op_start_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        static const char *const allowed[] = { "cluster", "containerInstances", "taskDefinition", "overrides", "startedBy", "group",
                                               "networkConfiguration", "tags", "enableECSManagedTags", "propagateTags", "referenceId",
                                               "enableExecuteCommand", NULL };
        _cleanup_json_ json_t *cl = NULL, *tasks = json_array(), *failures = json_array();
        char cname[NAME_MAX_ECS + 1];
        json_t *refs = NULL, *e;
        const char *k;
        json_t *v;
        size_t i;
        int r;
        json_object_foreach(req, k, v) {
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        ok |= strcmp(*a, k) == 0;
                if (!ok)
                        return err_set(err, EINVAL, E_PARAM, "Unknown parameter in input: \"%s\", must be one of: cluster, containerInstances, "
                                                             "taskDefinition, overrides, startedBy, group, networkConfiguration, tags, ...", k);
        }
        if ((r = cluster_get(c, cluster_param(req), &cl, cname, err)) < 0 ||
            (r = req_str_list(req, NULL, "containerInstances", true, 10, &refs, err)) < 0)
                return r;
        if (json_array_size(refs) == 0)
                return err_set(err, EINVAL, E_PARAM, "containerInstances can not be empty.");
        /* every instance is checked before any task starts */
        json_array_foreach(refs, i, e) {
                _cleanup_json_ json_t *rec = NULL;
                r = instance_get(c->s, cname, json_string_value(e), false, &rec, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, E_PARAM, "Container instance '%s' was not found in cluster %s.", json_string_value(e), cname);
                if (r < 0)
                        return r;
        }
        json_array_foreach(refs, i, e) {
                _cleanup_json_ json_t *rec = NULL, *one = json_deep_copy(req), *ans = NULL;
                char expr[128];
                json_t *t, *f;
                size_t j;
                if ((r = instance_get(c->s, cname, json_string_value(e), false, &rec, err)) < 0)
                        return r;
                json_object_del(one, "containerInstances");
                json_object_set_new(one, "cluster", json_string(cname));
                json_object_set_new(one, "count", json_integer(1));
                json_object_set_new(one, "launchType", json_string("EC2"));
                snprintf(expr, sizeof expr, "ec2InstanceId == %s", jstr(rec, "ec2InstanceId") ?: "none");
                json_object_set_new(one, "placementConstraints", json_pack("[{s:s, s:s}]", "type", "memberOf", "expression", expr));
                if ((r = op_run_task(c, one, &ans, err)) < 0)
                        return r;
                json_array_foreach(json_object_get(ans, "tasks"), j, t)
                        json_array_append(tasks, t);
                json_array_foreach(json_object_get(ans, "failures"), j, f)
                        if (strcmp(jstr(f, "arn") ?: "", jstr(rec, "containerInstanceArn") ?: "") == 0)
                                json_array_append(failures, f);
                if (json_array_size(json_object_get(ans, "tasks")) == 0 && json_array_size(json_object_get(ans, "failures")) > 0 &&
                    json_array_size(failures) == 0)
                        json_array_append(failures, json_array_get(json_object_get(ans, "failures"), 0));
        }
        *ret = json_pack("{s:O, s:O}", "tasks", tasks, "failures", failures);
        return 0;
}
