/* ecs.c (elb/): ECS services' loadBalancers: the check, and the tasks as targets in each service pass (awsvpc
 * tasks as ip targets, bridge and host tasks as instance targets with their host port). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../ecs/deployment.h"
#include "../ecs/instance.h"
#include "../ecs/service.h"
#include "../sched.h"
#include "ecs.h"
#include "elb_int.h"

#define E_PARAM "InvalidParameterException"

int elb_ecs_check(struct sched *s, json_t *lbs, json_t *td, struct err *err)
{
        const char *mode = jstr(td, "networkMode") ?: "bridge";
        json_t *lb;
        size_t i;
        json_array_foreach(lbs, i, lb) {
                _cleanup_json_ json_t *tg = NULL;
                const char *arn = jstr(lb, "targetGroupArn"), *cname = jstr(lb, "containerName");
                long long port = jint(lb, "containerPort", 0);
                struct err e = { 0 };
                json_t *c, *pm;
                bool mapped = false;
                size_t j;
                if (elb_get(s, ELB_TG, arn, &tg, NULL, &e) < 0)
                        return err_set(err, EINVAL, E_PARAM, "The target group %s does not exist: %s", arn, e.msg);
                if (!strcmp(mode, "awsvpc") != !strcmp(jstr(tg, "TargetType") ?: "", "ip") || !strcmp(mode, "none"))
                        return err_set(err, EINVAL, E_PARAM,
                                       "The target group %s with target type %s is incompatible with the awsvpc network mode specified in the task definition."
                                       " (awsvpc tasks need ip target groups, bridge and host tasks instance ones; this task definition is %s)",
                                       arn, jstr(tg, "TargetType"), mode);
                c = jfind(json_object_get(td, "containerDefinitions"), "name", cname);
                if (!c)
                        return err_set(err, EINVAL, E_PARAM, "The container %s does not exist in the task definition.", cname);
                json_array_foreach(json_object_get(c, "portMappings"), j, pm)
                        mapped |= jint(pm, "containerPort", -1) == port;
                if (!mapped)
                        return err_set(err, EINVAL, E_PARAM, "The container %s did not have a container port %lld defined.", cname, port);
        }
        return 0;
}

/* as sd/ecs.c: an essential container of the task has a health check */
static bool has_health_check(json_t *t)
{
        json_t *d;
        size_t i;
        json_array_foreach(json_object_get(json_object_get(t, "ebx"), "containers"), i, d)
                if (json_object_get(d, "healthCheck") && !json_is_false(json_object_get(d, "essential")))
                        return true;
        return false;
}

static bool wanted(json_t *t)
{
        if (!task_live(t) || strcmp(jstr(t, "lastStatus") ?: "", "RUNNING") != 0)
                return false;
        return !has_health_check(t) || strcmp(jstr(t, "healthStatus") ?: "", "HEALTHY") == 0;
}

/* The instance target of a bridge or host task: its container instance's EC2 id and the host port of
 * the container's binding (host mode: the container port). 0 when not known (yet). */
static int instance_target(struct sched *s, json_t *t, json_t *lb, char id[64], long long *port)
{
        _cleanup_json_ json_t *inst = NULL;
        json_t *ebx = json_object_get(t, "ebx"), *c, *b;
        long long cport = jint(lb, "containerPort", 0);
        char key[512];
        size_t i, k;
        if (!jstr(ebx, "instanceId"))
                return 0;
        instance_key(key, sizeof key, jstr(ebx, "cluster") ?: "default", jstr(ebx, "instanceId"));
        if (store_get(s->store, key, &inst, NULL) < 0 || !jstr(inst, "ec2InstanceId"))
                return 0;
        *port = strcmp(jstr(ebx, "mode") ?: "", "host") == 0 ? cport : -1;
        json_array_foreach(json_object_get(t, "containers"), i, c)
                if (strcmp(jstr(c, "name") ?: "", jstr(lb, "containerName") ?: "") == 0)
                        json_array_foreach(json_object_get(c, "networkBindings"), k, b)
                                if (jint(b, "containerPort", -2) == cport && jint(b, "hostPort", 0) > 0)
                                        *port = jint(b, "hostPort", 0);
        if (*port <= 0)
                return 0;
        snprintf(id, 64, "%s", jstr(inst, "ec2InstanceId"));
        return 1;
}

/* {"ID:PORT": {Id, Port}} of the service's wanted tasks for one load balancer entry: awsvpc tasks as ip
 * targets (the ENI address, the container port), bridge and host tasks as instance targets. */
static json_t *wanted_targets(struct sched *s, json_t *lb, json_t *tasks)
{
        json_t *out = json_object(), *t;
        size_t i;
        json_array_foreach(tasks, i, t) {
                json_t *ebx = json_object_get(t, "ebx");
                const char *mode = jstr(ebx, "mode") ?: "bridge";
                long long port = jint(lb, "containerPort", 0);
                char id[64], k[96];
                if (!wanted(t))
                        continue;
                if (!strcmp(mode, "awsvpc")) {
                        if (!jstr(ebx, "privateIp") || !*jstr(ebx, "privateIp"))
                                continue;
                        snprintf(id, sizeof id, "%s", jstr(ebx, "privateIp"));
                } else if (instance_target(s, t, lb, id, &port) <= 0)
                        continue;
                snprintf(k, sizeof k, "%s:%lld", id, port);
                json_object_set_new(out, k, json_pack("{s:s, s:I}", "Id", id, "Port", (json_int_t) port));
        }
        return out;
}

static json_t *values_of(json_t *o)
{
        json_t *a = json_array(), *v;
        const char *k;
        json_object_foreach(o, k, v)
                json_array_append(a, v);
        return a;
}

void elb_ecs_sync(struct sched *s, const char *key, json_t *rec, json_t *tasks)
{
        json_t *ebx = json_object_get(rec, "ebx"), *had = json_object_get(ebx, "elbTargets"), *lb, *v;
        _cleanup_json_ json_t *now = json_object();
        const char *arn;
        size_t i;
        if (!json_array_size(json_object_get(rec, "loadBalancers")) && !json_object_size(had))
                return;
        /* what each group should hold */
        json_array_foreach(json_object_get(rec, "loadBalancers"), i, lb) {
                const char *tga = jstr(lb, "targetGroupArn");
                json_t *w = wanted_targets(s, lb, tasks), *cur = json_object_get(now, tga ? tga : "");
                if (!tga) {
                        json_decref(w);
                        continue;
                }
                if (cur)
                        json_object_update(cur, w), json_decref(w);
                else
                        json_object_set_new(now, tga, w);
        }
        json_object_foreach(had, arn, v) {
                if (!json_object_get(now, arn))
                        json_object_set_new(now, arn, json_object());
        }
        json_object_foreach(now, arn, v) {
                _cleanup_json_ json_t *add = json_array(), *del = json_array(), *all = NULL;
                json_t *before = json_object_get(had, arn), *t;
                struct err err = { 0 };
                const char *k;
                json_object_foreach(v, k, t)
                        if (!json_object_get(before, k))
                                json_array_append(add, t);
                json_object_foreach(before, k, t)
                        if (!json_object_get(v, k))
                                json_array_append(del, t);
                if (!json_array_size(add) && !json_array_size(del))
                        continue;
                int r = elb_targets_apply(s, arn, add, del, &err);
                if (r == -ENOENT) {
                        /* the group was deleted: nothing to register in or to take out of it */
                        log_debug("service=%s target_group=%s msg=\"target group not found\"", key, arn);
                        json_object_set_new(now, arn, json_object());
                        continue;
                }
                if (r < 0) {
                        log_warning("service=%s target_group=%s msg=\"cannot update the targets, will retry\" err=\"%s\"", key, arn, err.msg);
                        /* keep what was registered: the next pass tries again */
                        if (before)
                                json_object_set(now, arn, before);
                        else
                                json_object_set_new(now, arn, json_object());
                        continue;
                }
                all = values_of(v);
                for (int reg = 1; reg >= 0; reg--) {
                        char msg[800];
                        size_t n = json_array_size(reg ? add : del);
                        if (!n)
                                continue;
                        snprintf(msg, sizeof msg, "(service %s) %s %zu targets in (target-group %s)", jstr(rec, "serviceName") ?: "?",
                                 reg ? "registered" : "deregistered", n, arn);
                        service_event_add(rec, msg);
                }
                log_info("service=%s target_group=%s registered=%zu deregistered=%zu targets=%zu", key, arn, json_array_size(add),
                         json_array_size(del), json_array_size(all));
        }
        /* drop the groups that are empty and no longer named */
        void *tmp;
        json_object_foreach_safe(now, tmp, arn, v)
                if (json_object_size(v) == 0 && !jfind(json_object_get(rec, "loadBalancers"), "targetGroupArn", arn))
                        json_object_del(now, arn);
        if (!json_equal(now, had ? had : json_null()))
                json_object_set(ebx, "elbTargets", now);
}
