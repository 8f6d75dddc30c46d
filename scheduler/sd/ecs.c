/* ecs.c: ECS serviceRegistries: each task of the service is a Cloud Map instance (InstanceId = task
 * id) while it is RUNNING as desired and, with a health check, HEALTHY. awsvpc: the task's address,
 * port = the registry's port or containerPort; bridge/host: the instance's address and the host port
 * bound to containerName:containerPort (SRV). The pass is stateless: each service pass compares the
 * tasks with the instances and fixes the difference, so a restart carries on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../ecs/deployment.h"
#include "../ecs/ecs.h"
#include "../ecs/instance.h"
#include "../sched.h"
#include "ecs.h"
#include "sd.h"
#include "sd_req.h"

/* srv-… of a Cloud Map service ARN (arn:aws:servicediscovery:R:A:service/srv-…), or NULL. */
static const char *registry_service_id(const char *arn)
{
        const char *p;
        if (!arn || strncmp(arn, "arn:aws:servicediscovery:", 25) != 0 || !(p = strstr(arn, ":service/")))
                return NULL;
        p += strlen(":service/");
        return strncmp(p, "srv-", 4) == 0 && strlen(p) < SD_ID_MAX ? p : NULL;
}

static json_t *td_container(json_t *td, const char *name)
{
        return jfind(json_object_get(td, "containerDefinitions"), "name", name);
}

int sd_ecs_registries_check(struct sched *s, json_t *registries, json_t *td, struct err *err)
{
        _cleanup_json_ json_t *svc = NULL;
        json_t *reg = json_array_get(registries, 0), *c, *pm;
        const char *arn, *id, *mode = jstr(td, "networkMode") ?: "bridge", *cname;
        long long port = jint(reg, "port", -1), cport = jint(reg, "containerPort", -1);
        struct sd_records rec;
        struct err e = { 0 };
        bool mapped = false;
        size_t i;
        if (!reg)
                return 0;
        arn = jstr(reg, "registryArn");
        if (!(id = registry_service_id(arn)))
                return err_set(err, EINVAL, E_PARAM, "Invalid service registry ARN '%s': expected arn:aws:servicediscovery:REGION:ACCOUNT:service/srv-ID.",
                               arn ? arn : "");
        if (sd_service_get(s, id, &svc, &e) < 0)
                return err_set(err, EINVAL, E_PARAM, "The service registry %s does not exist (Cloud Map service %s: %s).", arn, id, e.msg);
        if (strcmp(mode, "none") == 0)
                return err_set(err, EINVAL, E_PARAM, "Service discovery is not supported for tasks using the none network mode.");
        sd_records_of(json_object_get(svc, "DnsConfig"), &rec);
        cname = jstr(reg, "containerName");
        if ((cname != NULL) != (cport >= 0))
                return err_set(err, EINVAL, E_PARAM, "When specifying 'containerName' or 'containerPort' in serviceRegistries, you must specify both.");
        if (strcmp(mode, "awsvpc") != 0 && port >= 0)
                return err_set(err, EINVAL, E_PARAM, "serviceRegistries 'port' is only supported with the awsvpc network mode; use containerName and containerPort.");
        if (cname) {
                if (!(c = td_container(td, cname)))
                        return err_set(err, EINVAL, E_PARAM, "The container '%s' in serviceRegistries is not in task definition %s.", cname,
                                       jstr(td, "taskDefinitionArn") ?: "");
                json_array_foreach(json_object_get(c, "portMappings"), i, pm)
                        if (jint(pm, "containerPort", -1) == cport)
                                mapped = true;
                if (!mapped)
                        return err_set(err, EINVAL, E_PARAM, "The container '%s' does not have a port mapping for containerPort %lld (serviceRegistries).",
                                       cname, cport);
        }
        if (strcmp(mode, "awsvpc") != 0) {
                if (!rec.srv)
                        return err_set(err, EINVAL, E_PARAM, "Service discovery for tasks using the %s network mode needs SRV records: Cloud Map service %s has none.",
                                       mode, id);
                if (!cname)
                        return err_set(err, EINVAL, E_PARAM, "serviceRegistries for the %s network mode need containerName and containerPort (SRV records).", mode);
        } else if (rec.srv && port < 0 && !cname)
                return err_set(err, EINVAL, E_PARAM, "Cloud Map service %s has SRV records: serviceRegistries need a port, or containerName and containerPort.", id);
        if (port >= 0 && cname)
                return err_set(err, EINVAL, E_PARAM, "serviceRegistries take either a port or containerName and containerPort, not both.");
        return 0;
}

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

/* The family of arn:aws:ecs:R:A:task-definition/FAMILY:REV. */
static void family_of(const char *tdarn, char *buf, size_t size)
{
        const char *p = tdarn ? strstr(tdarn, ":task-definition/") : NULL, *colon;
        if (!p) {
                snprintf(buf, size, "%s", tdarn ? tdarn : "");
                return;
        }
        p += strlen(":task-definition/");
        colon = strrchr(p, ':');
        snprintf(buf, size, "%.*s", (int) (colon ? (size_t) (colon - p) : strlen(p)), p);
}

/* The address of the container instance a host-mode task runs on (its record's), or NULL. */
static const char *instance_ip(struct sched *s, json_t *t, json_t **keep)
{
        json_t *ebx = json_object_get(t, "ebx");
        char key[512];
        if (!jstr(ebx, "instanceId"))
                return NULL;
        instance_key(key, sizeof key, jstr(ebx, "cluster") ?: "default", jstr(ebx, "instanceId"));
        if (store_get(s->store, key, keep, NULL) < 0)
                return NULL;
        return jstr(json_object_get(*keep, "ebx"), "privateIp");
}

/* The instance attributes of task t, or NULL while what the records need is not known yet. */
static json_t *task_attributes(struct sched *s, json_t *t, json_t *reg, json_t *svc, json_t *rec)
{
        _cleanup_json_ json_t *inst = NULL;
        json_t *ebx = json_object_get(t, "ebx"), *sebx = json_object_get(rec, "ebx"), *attrs, *c, *b;
        const char *mode = jstr(ebx, "mode") ?: "bridge", *cname = jstr(reg, "containerName"), *ip;
        long long port = -1, cport = jint(reg, "containerPort", -1);
        struct sd_records recs;
        char family[256], buf[16];
        size_t i, k;
        sd_records_of(json_object_get(svc, "DnsConfig"), &recs);
        if (strcmp(mode, "awsvpc") == 0) {
                ip = jstr(ebx, "privateIp");
                port = jint(reg, "port", cport);
        } else {
                /* bridge: the instance's address netd answered; host: the instance's own */
                ip = jstr(ebx, "hostIp") && *jstr(ebx, "hostIp") ? jstr(ebx, "hostIp")
                     : strcmp(mode, "host") == 0                 ? instance_ip(s, t, &inst)
                                                                 : jstr(ebx, "privateIp");
                json_array_foreach(json_object_get(t, "containers"), i, c)
                        if (cname && strcmp(jstr(c, "name") ?: "", cname) == 0)
                                json_array_foreach(json_object_get(c, "networkBindings"), k, b)
                                        if (jint(b, "containerPort", -2) == cport)
                                                port = jint(b, "hostPort", -1);
        }
        if (!ip || !*ip || (recs.srv && port < 0))
                return NULL;
        family_of(jstr(t, "taskDefinitionArn"), family, sizeof family);
        attrs = json_pack("{s:s, s:s, s:s, s:s, s:s}", "AWS_INSTANCE_IPV4", ip, "REGION", jstr(sebx, "region") ?: "", "ECS_CLUSTER_NAME",
                          jstr(sebx, "cluster") ?: "", "ECS_SERVICE_NAME", jstr(sebx, "name") ?: "", "ECS_TASK_DEFINITION_FAMILY", family);
        if (port >= 0) {
                snprintf(buf, sizeof buf, "%lld", port);
                json_object_set_new(attrs, "AWS_INSTANCE_PORT", json_string(buf));
        }
        if (jstr(t, "availabilityZone"))
                json_object_set_new(attrs, "AVAILABILITY_ZONE", json_string(jstr(t, "availabilityZone")));
        if (jstr(ebx, "ec2InstanceId") && *jstr(ebx, "ec2InstanceId"))
                json_object_set_new(attrs, "EC2_INSTANCE_ID", json_string(jstr(ebx, "ec2InstanceId")));
        return attrs;
}

/* Deregisters the instances of Cloud Map service svc_id that ECS service key made, except those in keep. */
static bool drop_others(struct sched *s, json_t *svc, const char *key, json_t *keep)
{
        _cleanup_json_ json_t *all = NULL;
        struct err err = { 0 };
        json_t *i;
        size_t k;
        bool changed = false;
        if (sd_instances_list(s, jstr(svc, "Id"), &all, &err) < 0) {
                log_warning("service=%s msg=\"cannot list Cloud Map instances, ignoring\" err=\"%s\"", key, err.msg);
                return false;
        }
        json_array_foreach(all, k, i) {
                if (strcmp(jstr(json_object_get(i, "ebx"), "ecs") ?: "", key) != 0 || (keep && json_object_get(keep, jstr(i, "Id") ?: "")))
                        continue;
                if (sd_instance_delete(s, svc, jstr(i, "Id"), NULL, &err) < 0)
                        log_warning("service=%s instance=%s msg=\"cannot deregister from Cloud Map, ignoring\" err=\"%s\"", key, jstr(i, "Id"),
                                    err.msg);
                else
                        changed = true;
        }
        return changed;
}

void sd_ecs_sync(struct sched *s, const char *key, json_t *rec, json_t *tasks)
{
        _cleanup_json_ json_t *svc = NULL, *prev = NULL, *keep = json_object();
        json_t *ebx = json_object_get(rec, "ebx"), *reg = json_array_get(json_object_get(rec, "serviceRegistries"), 0), *t;
        const char *id = reg ? registry_service_id(jstr(reg, "registryArn")) : NULL, *was = jstr(ebx, "sdService");
        struct err err = { 0 };
        bool changed = false;
        size_t i;
        if (!id && !was)
                return;
        /* the registry changed or went: the old Cloud Map service loses this service's tasks */
        if (was && (!id || strcmp(was, id) != 0)) {
                if (sd_service_get(s, was, &prev, &err) == 0)
                        changed |= drop_others(s, prev, key, NULL);
                err_clear(&err);
                json_object_del(ebx, "sdService");
        }
        if (!id)
                goto out;
        if (sd_service_get(s, id, &svc, &err) < 0) {
                log_debug("service=%s msg=\"Cloud Map service of serviceRegistries not found\" registry=%s", key, id);
                goto out;
        }
        json_object_set_new(ebx, "sdService", json_string(id));
        json_array_foreach(tasks, i, t) {
                _cleanup_json_ json_t *attrs = NULL, *cur = NULL;
                const char *tid = jstr(json_object_get(t, "ebx"), "id");
                char ikey[SD_KEY_MAX];
                if (!tid || !wanted(t) || !(attrs = task_attributes(s, t, reg, svc, rec)))
                        continue;
                json_object_set_new(keep, tid, json_true());
                snprintf(ikey, sizeof ikey, SD_INST_PREFIX "%s/%s", id, tid);
                if (store_get(s->store, ikey, &cur, &err) == 0 && json_equal(json_object_get(cur, "Attributes"), attrs) &&
                    strcmp(jstr(json_object_get(cur, "ebx"), "ecs") ?: "", key) == 0)
                        continue;
                err_clear(&err);
                if (sd_instance_put(s, svc, tid, attrs, NULL, key, NULL, &err) < 0)
                        log_warning("service=%s task=%s msg=\"cannot register in Cloud Map, ignoring\" err=\"%s\"", key, tid, err.msg);
                else
                        changed = true;
        }
        changed |= drop_others(s, svc, key, keep);
out:
        if (changed)
                sd_dns_flush(s);
}
