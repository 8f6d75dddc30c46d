/* api.c: the ECS JSON 1.1 edge: target dispatch, body parsing, error answers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "../ecs/account.h"
#include "../ecs/attributes.h"
#include "../ecs/cluster.h"
#include "../ecs/ecs.h"
#include "../ecs/exec.h"
#include "../ecs/instance.h"
#include "../ecs/runtask.h"
#include "../ecs/service.h"
#include "../ecs/starttask.h"
#include "../ecs/tags.h"
#include "../ecs/task.h"
#include "../ecs/task_protect.h"
#include "../ecs/taskdef.h"
#include "../imgsvc/api.h"
#include "../logs/logs.h"
#include "../sd/api.h"
#include "../sched.h"
#include "api.h"

#define TARGET_PREFIX "AmazonEC2ContainerServiceV20141113."

typedef int (*api_op_fn)(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);

static const struct {
        const char *name;
        api_op_fn fn;
} ops[] = {
        { "CreateCluster", op_create_cluster },
        { "DescribeClusters", op_describe_clusters },
        { "ListClusters", op_list_clusters },
        { "DeleteCluster", op_delete_cluster },
        { "RegisterTaskDefinition", op_register_task_definition },
        { "DescribeTaskDefinition", op_describe_task_definition },
        { "ListTaskDefinitions", op_list_task_definitions },
        { "ListTaskDefinitionFamilies", op_list_task_definition_families },
        { "DeregisterTaskDefinition", op_deregister_task_definition },
        { "RegisterContainerInstance", op_register_container_instance },
        { "DescribeContainerInstances", op_describe_container_instances },
        { "ListContainerInstances", op_list_container_instances },
        { "DeregisterContainerInstance", op_deregister_container_instance },
        { "UpdateContainerInstancesState", op_update_container_instances_state },
        { "PutAttributes", op_put_attributes },
        { "DeleteAttributes", op_delete_attributes },
        { "ListAttributes", op_list_attributes },
        { "RunTask", op_run_task },
        { "StartTask", op_start_task },
        { "StopTask", op_stop_task },
        { "ExecuteCommand", op_execute_command },
        { "DescribeTasks", op_describe_tasks },
        { "ListTasks", op_list_tasks },
        { "GetTaskLogs", op_get_task_logs }, /* ecsbox extension for the CLI */
        { "CreateService", op_create_service },
        { "UpdateService", op_update_service },
        { "DeleteService", op_delete_service },
        { "DescribeServices", op_describe_services },
        { "ListServices", op_list_services },
        /* tags, account settings, cluster updates, task definition deletion, task protection */
        { "TagResource", op_tag_resource },
        { "UntagResource", op_untag_resource },
        { "ListTagsForResource", op_list_tags_for_resource },
        { "PutAccountSetting", op_put_account_setting },
        { "PutAccountSettingDefault", op_put_account_setting_default },
        { "DeleteAccountSetting", op_delete_account_setting },
        { "ListAccountSettings", op_list_account_settings },
        { "UpdateCluster", op_update_cluster },
        { "UpdateClusterSettings", op_update_cluster_settings },
        { "DeleteTaskDefinitions", op_delete_task_definitions },
        { "GetTaskProtection", op_get_task_protection },
        { "UpdateTaskProtection", op_update_task_protection },
};

const char *api_signing_name(const char *target)
{
        if (target && strncmp(target, SD_TARGET_PREFIX, strlen(SD_TARGET_PREFIX)) == 0)
                return SD_SIGNING_NAME;
        if (logs_signing_name(target))
                return LOGS_SIGNING_NAME;
        return ECS_SIGNING_NAME;
}

bool api_auth_region(const char *auth, char *buf, size_t size)
{
        /* Credential=AKID/20261125/us-east-1/ecs/aws4_request */
        const char *p = auth ? strstr(auth, "Credential=") : NULL;
        const char *f[5];
        int n = 0;
        if (!p)
                return false;
        p += strlen("Credential=");
        f[n++] = p;
        for (; *p && *p != ',' && *p != ' ' && n < 5; p++)
                if (*p == '/')
                        f[n++] = p + 1;
        if (n < 4)
                return false;
        {
                size_t len = (size_t) (f[3] - f[2]) - 1;
                if (len == 0 || len >= size)
                        return false;
                for (size_t i = 0; i < len; i++) {
                        char ch = f[2][i];
                        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
                                return false;
                }
                memcpy(buf, f[2], len);
                buf[len] = '\0';
        }
        return true;
}

int api_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err)
{
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strcmp(ops[i].name, op) == 0) {
                        c->op = ops[i].name;
                        return ops[i].fn(c, req, ret, err);
                }
        return err_set(err, EOPNOTSUPP, E_UNKNOWN_OP, "Unknown operation '%s': ecsboxd does not implement it", op);
}

static char *dump(json_t *doc)
{
        /* 13 significant digits keep epoch seconds to the millisecond. */
        return json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(13));
}

static void error_answer(struct api_response *ret, int status, const char *type, const char *msg)
{
        _cleanup_json_ json_t *doc = json_pack("{s:s, s:s}", "__type", type, "message", msg);
        ret->status = status;
        ret->body = doc ? dump(doc) : NULL;
        if (!ret->body)
                ret->body = strdup("{\"__type\":\"ServerException\",\"message\":\"out of memory\"}");
}

static int parse_body(const char *body, size_t len, json_t **ret, struct err *err)
{
        json_error_t jerr;
        json_t *doc;
        size_t i;
        for (i = 0; i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'); i++)
                ;
        if (i == len) {
                /* botocore sends "{}" for no parameters; an empty body means the same. */
                *ret = json_object();
                return 0;
        }
        doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
                return err_set(err, EINVAL, E_SERIAL, "The request body is not valid JSON: %s (line %d, column %d)",
                               jerr.text, jerr.line, jerr.column);
        if (!json_is_object(doc)) {
                json_decref(doc);
                return err_set(err, EINVAL, E_SERIAL, "The request body must be a JSON object");
        }
        *ret = doc;
        return 0;
}

void api_error(struct api_response *ret, int status, const char *type, const char *msg)
{
        memset(ret, 0, sizeof *ret);
        if (uuid_new(ret->request_id) < 0)
                snprintf(ret->request_id, sizeof ret->request_id, "00000000-0000-4000-8000-000000000000");
        error_answer(ret, status, type, msg);
}

void api_handle(struct sched *s, const char *target, const char *body, size_t len, const char *region,
                bool too_large, struct api_response *ret)
{
        struct api_ctx c = { .s = s, .op = "?" };
        struct err err = { 0 };
        _cleanup_json_ json_t *req = NULL, *out = NULL;
        const char *op;
        struct timespec t0, t1;
        bool images_target = false, sd_target = false, logs_target = false;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        memset(ret, 0, sizeof *ret);
        if (uuid_new(ret->request_id) < 0)
                snprintf(ret->request_id, sizeof ret->request_id, "00000000-0000-4000-8000-000000000000");
        snprintf(c.region, sizeof c.region, "%s", region ? region : s->region);

        /* The images service (an ecsbox extension) shares the endpoint and its signature rules. */
        if (target && strncmp(target, IMGSVC_TARGET_PREFIX, strlen(IMGSVC_TARGET_PREFIX)) == 0 &&
            target[strlen(IMGSVC_TARGET_PREFIX)])
                images_target = true;
        else if (target && strncmp(target, SD_TARGET_PREFIX, strlen(SD_TARGET_PREFIX)) == 0 && target[strlen(SD_TARGET_PREFIX)])
                sd_target = true;   /* Cloud Map (servicediscovery), same endpoint */
        else if (logs_signing_name(target) && target[strlen(LOGS_TARGET_PREFIX)])
                logs_target = true; /* CloudWatch Logs, same endpoint */
        else if (!target || strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX)) != 0 || !target[strlen(TARGET_PREFIX)]) {
                char msg[300];
                if (target)
                        snprintf(msg, sizeof msg, "Unknown X-Amz-Target '%.200s': expected " TARGET_PREFIX "<Operation>",
                                 target);
                else
                        snprintf(msg, sizeof msg, "Missing X-Amz-Target header: expected " TARGET_PREFIX "<Operation>");
                error_answer(ret, 400, E_UNKNOWN_OP, msg);
                log_debug("request=%s status=400 code=%s", ret->request_id, E_UNKNOWN_OP);
                return;
        }
        op = target + strlen(images_target ? IMGSVC_TARGET_PREFIX : sd_target ? SD_TARGET_PREFIX : logs_target ? LOGS_TARGET_PREFIX : TARGET_PREFIX);
        if (too_large) {
                char msg[200];
                snprintf(msg, sizeof msg, "The request body exceeds the limit of %d bytes; nothing was done",
                         logs_target ? LOGS_BODY_MAX : SCHED_BODY_MAX);
                error_answer(ret, 400, logs_target ? "InvalidParameterException" : E_CLIENT, msg);
                log_warning("request=%s op=%.64s status=400 msg=\"request body over the size limit\"", ret->request_id, op);
                return;
        }
        r = parse_body(body, len, &req, &err);
        if (r >= 0)
                r = images_target ? imgsvc_dispatch(&c, op, req, &out, &err)
                    : sd_target   ? sd_dispatch(&c, op, req, &out, &err)
                    : logs_target ? logs_dispatch(&c, op, req, &out, &err)
                                  : api_dispatch(&c, op, req, &out, &err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r < 0) {
                if (!err.code[0] || strcmp(err.code, E_SERVER) == 0 || strncmp(err.code, "netd:", 5) == 0) {
                        /* No ECS type: an internal fault. Logged once, here. */
                        log_error("request=%s op=%.64s status=500 err=\"%s\"", ret->request_id, op, err.msg);
                        error_answer(ret, 500, E_SERVER, err.msg[0] ? err.msg : "internal error");
                } else {
                        log_debug("request=%s op=%.64s status=400 code=%s msg=\"%s\"", ret->request_id, op, err.code,
                                  err.msg);
                        error_answer(ret, 400, err.code, err.msg);
                }
                return;
        }
        ret->status = 200;
        if (!out)
                out = json_object();
        ret->body = out ? dump(out) : NULL;
        if (!ret->body)
                error_answer(ret, 500, E_SERVER, "out of memory");
        log_debug("request=%s op=%s status=200 ms=%ld", ret->request_id, op,
                  (long) ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
}
