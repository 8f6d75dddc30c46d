/* task.c: a task's container secrets [{name, valueFrom}] resolved into the containers' environment of the
 * monitor's spec (written 0600, read by the monitor only), as the ECS agent does before the containers
 * start. The values go nowhere else: not the task record, not DescribeTasks, not the logs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "secrets.h"
#include "secrets_req.h"

#define PREFIX "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "

static void env_set(json_t *env, const char *name, const char *value)
{
        json_t *e;
        size_t i;
        json_array_foreach(env, i, e)
                if (strcmp(jstr(e, "name") ?: "", name) == 0) {
                        json_object_set_new(e, "value", json_string(value));
                        return;
                }
        json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

/* The value of one valueFrom; on failure ECS's reason. */
static int resolve(struct sched *s, const char *value_from, char **ret, char *reason, size_t size)
{
        struct secret_ref ref;
        struct err err = { 0 };
        _cleanup_free_ char *raw = NULL;
        int r;
        if ((r = secret_ref_parse(value_from, &ref, &err)) < 0) {
                snprintf(reason, size, PREFIX "%s", err.msg);
                return r;
        }
        if (!ref.sm) {
                if ((r = ssm_value_get(s, ref.id, ret, &err)) < 0) {
                        if (r == -ENOENT)
                                snprintf(reason, size,
                                         PREFIX "unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid parameters: %s",
                                         ref.id);
                        else
                                snprintf(reason, size, PREFIX "unable to retrieve secrets from ssm: %s", err.msg);
                }
                return r;
        }
        if ((r = sm_value_get(s, ref.id, ref.stage, ref.version_id, &raw, &err)) < 0) {
                snprintf(reason, size,
                         PREFIX "unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret %s from secrets manager: %s: %s",
                         ref.id, err.code[0] ? err.code : "InternalServiceError", err.msg);
                return r;
        }
        if (!ref.json_key[0]) {
                *ret = TAKE_PTR(raw);
                return 0;
        }
        if ((r = secret_json_key(raw, ref.json_key, ret, &err)) < 0)
                snprintf(reason, size, PREFIX "unable to retrieve secret from asm: %s", err.msg);
        return r;
}

int secrets_task_env(struct sched *s, json_t *containers, char *reason, size_t size)
{
        json_t *c, *sec;
        size_t i, k;
        int r;
        json_array_foreach(containers, i, c) {
                json_t *env = json_object_get(c, "environment");
                if (!json_array_size(json_object_get(c, "secrets")))
                        continue;
                /* a copy of its own: the array may be shared with the task record (the image's merged
                 * configuration), where the values must not go */
                env = json_is_array(env) ? json_deep_copy(env) : json_array();
                if (!env) {
                        snprintf(reason, size, PREFIX "out of memory");
                        return -ENOMEM;
                }
                json_object_set_new(c, "environment", env);
                json_array_foreach(json_object_get(c, "secrets"), k, sec) {
                        _cleanup_free_ char *v = NULL;
                        if ((r = resolve(s, jstr(sec, "valueFrom") ?: "", &v, reason, size)) < 0)
                                return r;
                        env_set(env, jstr(sec, "name") ?: "", v);
                }
        }
        return 0;
}

int secrets_registry_auth(struct sched *s, const char *secret_id, char **ret_user, char **ret_pass, char *reason, size_t size)
{
        _cleanup_free_ char *raw = NULL;
        _cleanup_json_ json_t *doc = NULL;
        struct err err = { 0 };
        const char *user, *pass;
        int r;
        if ((r = sm_value_get(s, secret_id, NULL, NULL, &raw, &err)) < 0) {
                snprintf(reason, size, PREFIX "asm fetching secret from the service for %s: %s: %s", secret_id,
                         err.code[0] ? err.code : "InternalServiceError", err.msg);
                return r;
        }
        doc = json_loads(raw, 0, NULL);
        if (!json_is_object(doc)) {
                snprintf(reason, size, PREFIX "asm fetching authorization data: unable to unmarshal secret value, invalid schema");
                return -EINVAL;
        }
        user = jstr(doc, "username");
        pass = jstr(doc, "password");
        if (!user || !*user) {
                snprintf(reason, size, PREFIX "asm fetching username: AuthorizationData is malformed, empty field");
                return -EINVAL;
        }
        if (!pass || !*pass) {
                snprintf(reason, size, PREFIX "asm fetching password: AuthorizationData is malformed, empty field");
                return -EINVAL;
        }
        if (!(*ret_user = strdup(user)) || !(*ret_pass = strdup(pass))) {
                free(*ret_user);
                *ret_user = NULL;
                snprintf(reason, size, PREFIX "out of memory");
                return -ENOMEM;
        }
        return 0;
}
