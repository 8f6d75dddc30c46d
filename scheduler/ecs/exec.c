/* exec.c: ExecuteCommand: a running task that was started with enableExecuteCommand, one of its running
 * containers, and the session ECS answers with. The command runs where the caller is: `ecsbox ecs
 * execute-command` hands it to `ecsbox-monitor --exec` with the task's spec (ecsbox's own member
 * `ecsboxExec` of the answer; the AWS CLI would need the Session Manager plugin, which has nothing to
 * talk to here). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "../front/req.h"
#include "../sched.h"
#include "cluster.h"
#include "ecs.h"
#include "exec.h"
#include "task.h"

int exec_decode(json_t *req, struct exec_in *in, struct err *err)
{
        static const char *const keys[] = { "cluster", "container", "command", "interactive", "task", NULL };
        int r;
        memset(in, 0, sizeof *in);
        if ((r = req_check_keys(req, keys, err)) < 0)
                return r;
        in->cluster = cluster_param(req);
        if ((r = req_str(req, NULL, "task", true, &in->task, err)) < 0 || (r = req_str(req, NULL, "container", false, &in->container, err)) < 0 ||
            (r = req_str(req, NULL, "command", true, &in->command, err)) < 0 ||
            (r = req_bool(req, NULL, "interactive", true, &in->interactive, err)) < 0)
                return r;
        if (!in->interactive)
                return err_set(err, EINVAL, E_PARAM, "Interactive is the only mode supported currently.");
        if (!*in->command || strlen(in->command) > 4096)
                return err_set(err, EINVAL, E_PARAM, "command must be 1 to 4096 characters long.");
        return 0;
}

int op_execute_command(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *cl = NULL, *rec = NULL;
        struct exec_in in;
        char cname[NAME_MAX_ECS + 1], key[TASK_KEY_MAX], sid[HEX32_STR_MAX], tok[HEX32_STR_MAX], sess[80], url[256];
        json_t *ct = NULL, *x;
        size_t i, n = 0;
        int r;
        if ((r = exec_decode(req, &in, err)) < 0 || (r = cluster_get(c, in.cluster, &cl, cname, err)) < 0)
                return r;
        r = task_load(c->s, cname, in.task, &rec, key, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, E_PARAM, "The referenced task was not found.");
        if (r < 0)
                return r;
        if (!json_is_true(json_object_get(rec, "enableExecuteCommand")))
                return err_set(err, EINVAL, E_PARAM,
                               "The execute command failed because execute command was not enabled when the task was run or the execute "
                               "command agent isn't running. Wait and try again or run a new task with execute command enabled and try again.");
        if (strcmp(jstr(rec, "lastStatus") ?: "", "RUNNING") != 0)
                return err_set(err, EINVAL, E_PARAM, "The execute command failed because the task %s is %s, not RUNNING.", in.task,
                               jstr(rec, "lastStatus") ?: "?");
        json_array_foreach(json_object_get(rec, "containers"), i, x) {
                n++;
                if (in.container ? !strcmp(jstr(x, "name") ?: "", in.container) : n == 1)
                        ct = x;
        }
        if (!in.container && n > 1)
                return err_set(err, EINVAL, E_PARAM, "The task has %zu containers: name the one to execute the command in (container).", n);
        if (!ct)
                return err_set(err, EINVAL, E_PARAM, "The container %s was not found in the task %s.", in.container, in.task);
        if (strcmp(jstr(ct, "lastStatus") ?: "", "RUNNING") != 0)
                return err_set(err, EINVAL, E_PARAM, "The execute command failed because the container %s is not running.",
                               jstr(ct, "name") ?: "");
        if ((r = hex32_new(sid)) < 0 || (r = hex32_new(tok)) < 0)
                return err_set(err, -r, NULL, "random: %s", strerror(-r));
        snprintf(sess, sizeof sess, "ecs-execute-command-%s", sid);
        snprintf(url, sizeof url, "wss://ssmmessages.%s.amazonaws.com/v1/data-channel/%s?role=publish_subscribe", c->region, sess);
        *ret = json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:s, s:s}, s:s, s:{s:s, s:s}}", "clusterArn", jstr(rec, "clusterArn") ?: "",
                         "containerArn", jstr(ct, "containerArn") ?: "", "containerName", jstr(ct, "name") ?: "", "interactive", 1,
                         "session", "sessionId", sess, "streamUrl", url, "tokenValue", tok, "taskArn", jstr(rec, "taskArn") ?: "",
                         "ecsboxExec", "spec", jstr(json_object_get(rec, "ebx"), "specPath") ?: "", "monitor", c->s->monitor_bin);
        log_info("op=ExecuteCommand cluster=%s task=%s container=%s session=%s", cname, jstr(json_object_get(rec, "ebx"), "id") ?: "",
                 jstr(ct, "name") ?: "", sess);
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}
