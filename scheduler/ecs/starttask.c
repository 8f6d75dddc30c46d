/* starttask.c: StartTask: tasks_start() on each container instance the caller names, one task each. */
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
#include "task.h"

#define START_INSTANCES_MAX 10

/* StartTask's input: RunTask's members less count, launchType, placement and clientToken,
 * plus the instances. */
struct start_task_in {
        struct task_start run;
        json_t *instances;                   /* strings: ids or ARNs, 1..10 */
};

static int start_task_decode(json_t *req, struct start_task_in *ret, struct err *err)
{
        static const char *const allowed[] = { "cluster", "containerInstances", "taskDefinition", "overrides", "startedBy", "group",
                                               "networkConfiguration", "tags", "enableECSManagedTags", "propagateTags", "referenceId",
                                               "enableExecuteCommand", NULL };
        const char *k;
        json_t *v;
        int r;
        json_object_foreach(req, k, v) {
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        ok |= strcmp(*a, k) == 0;
                if (!ok)
                        return err_set(err, EINVAL, E_PARAM, "Unknown parameter in input: \"%s\", must be one of: cluster, containerInstances, "
                                                             "taskDefinition, overrides, startedBy, group, networkConfiguration, tags, ...", k);
        }
        if ((r = req_str_list(req, NULL, "containerInstances", true, START_INSTANCES_MAX, &ret->instances, err)) < 0)
                return r;
        if (json_array_size(ret->instances) == 0)
                return err_set(err, EINVAL, E_PARAM, "containerInstances can not be empty.");
        return run_task_decode(req, &ret->run, err);
}

/* The failures that concern this instance (the others refuse for ATTRIBUTE: the target binds). */
static void add_failures(json_t *failures, const struct task_start_result *res, const char *inst_arn)
{
        for (size_t j = 0; j < res->nfailures; j++)
                if (strcmp(res->failures[j].arn, inst_arn) == 0)
                        json_array_append_new(failures, json_pack("{s:s, s:s}", "arn", res->failures[j].arn, "reason",
                                                                  res->failures[j].reason));
        if (json_array_size(res->tasks) == 0 && res->nfailures > 0 && json_array_size(failures) == 0)
                json_array_append_new(failures, json_pack("{s:s, s:s}", "arn", res->failures[0].arn, "reason", res->failures[0].reason));
}

static int start_on(struct api_ctx *c, struct start_task_in *in, json_t *inst, json_t *tasks, json_t *failures, struct err *err)
{
        struct task_start_result res = { 0 };
        json_t *rec;
        size_t j;
        int r;
        in->run.target_ec2_id = jstr(inst, "ec2InstanceId") ?: "none";
        if ((r = tasks_start(c, &in->run, &res, err)) < 0)
                return r;
        json_array_foreach(res.tasks, j, rec)
                json_array_append_new(tasks, task_shape(rec, true));
        add_failures(failures, &res, jstr(inst, "containerInstanceArn") ?: "");
        task_start_result_done(&res);
        return 0;
}

int op_start_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *tasks = json_array(), *failures = json_array();
        struct start_task_in in = { 0 };
        char cname[NAME_MAX_ECS + 1];
        json_t *e;
        size_t i;
        int r;
        if ((r = start_task_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.run.cluster, &cl, cname, err)) < 0)
                goto out;
        in.run.cluster = cname;
        in.run.cluster_rec = cl;
        in.run.count = 1;
        in.run.launch = "EC2";
        /* every instance is checked before any task starts */
        json_array_foreach(in.instances, i, e) {
                _cleanup_json_ json_t *rec = NULL;
                r = instance_get(c->s, cname, json_string_value(e), false, &rec, err);
                if (r == -ENOENT) {
                        r = err_set(err, ENOENT, E_PARAM, "Container instance '%s' was not found in cluster %s.", json_string_value(e), cname);
                        goto out;
                }
                if (r < 0)
                        goto out;
        }
        json_array_foreach(in.instances, i, e) {
                _cleanup_json_ json_t *rec = NULL;
                if ((r = instance_get(c->s, cname, json_string_value(e), false, &rec, err)) < 0 ||
                    (r = start_on(c, &in, rec, tasks, failures, err)) < 0)
                        goto out;
        }
        *ret = json_pack("{s:O, s:O}", "tasks", tasks, "failures", failures);
out:
        task_start_done(&in.run);
        return r;
}
