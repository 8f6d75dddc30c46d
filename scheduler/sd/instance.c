/* instance.c: Cloud Map instances (sd/inst/<srv-id>/<instance-id>): RegisterInstance (an existing id is
 * updated), DeregisterInstance, GetInstance, ListInstances, DiscoverInstances,
 * UpdateInstanceCustomHealthStatus, GetInstancesHealthStatus. Every change marks the service's DNS
 * records for a push to netd (dns.c). Custom health changes apply at once (AWS: about 30 s later). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "../sched.h"
#include "sd.h"
#include "sd_req.h"

static void inst_key(char buf[SD_KEY_MAX], const char *svc_id, const char *inst_id)
{
        snprintf(buf, SD_KEY_MAX, SD_INST_PREFIX "%.64s/%.64s", svc_id, inst_id);
}

static int collect(const char *key, json_t *v, void *userdata)
{
        json_array_append(userdata, v);
        return 0;
}

int sd_instances_list(struct sched *s, const char *service_id, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *out = json_array();
        char prefix[SD_KEY_MAX];
        int r;
        snprintf(prefix, sizeof prefix, SD_INST_PREFIX "%.64s/", service_id);
        if ((r = store_list(s->store, prefix, collect, out, err)) < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

const char *sd_instance_health(json_t *svc, json_t *inst)
{
        if (!json_object_get(svc, "HealthCheckCustomConfig"))
                return "UNKNOWN";
        return strcmp(jstr(json_object_get(inst, "ebx"), "health") ?: "HEALTHY", "UNHEALTHY") == 0 ? "UNHEALTHY" : "HEALTHY";
}

int sd_instance_put(struct sched *s, json_t *svc, const char *instance_id, json_t *attrs, const char *creator,
                    const char *ecs_owner, char *ret_op_id, struct err *err)
{
        _cleanup_json_ json_t *old = NULL, *rec = NULL;
        struct sd_records recs;
        const char *svc_id = jstr(svc, "Id"), *health;
        bool custom = json_object_get(svc, "HealthCheckCustomConfig") != NULL;
        char key[SD_KEY_MAX], op[SD_OP_ID_MAX];
        int r;
        sd_records_of(json_object_get(svc, "DnsConfig"), &recs);
        if ((r = sd_attributes_check(attrs, &recs, custom, err)) < 0)
                return r;
        inst_key(key, svc_id, instance_id);
        r = store_get(s->store, key, &old, err);
        if (r < 0 && r != -ENOENT)
                return r;
        /* a re-registration keeps the health unless it names an initial one */
        health = jstr(attrs, "AWS_INIT_HEALTH_STATUS") ?: (old ? jstr(json_object_get(old, "ebx"), "health") : NULL) ?: "HEALTHY";
        rec = json_pack("{s:s, s:O, s:{s:s}}", "Id", instance_id, "Attributes", attrs, "ebx", "health", health);
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_set(rec, "CreatorRequestId", creator ? json_string(creator) : NULL);
        if (ecs_owner)
                json_object_set_new(json_object_get(rec, "ebx"), "ecs", json_string(ecs_owner));
        if ((r = sd_operation_record(s, "REGISTER_INSTANCE", json_pack("{s:s, s:s}", "SERVICE", svc_id, "INSTANCE", instance_id), op,
                                     err)) < 0 ||
            (r = store_put(s->store, key, rec, err)) < 0)
                return r;
        log_info("msg=\"instance registered\" service=%s instance=%s ipv4=%s port=%s%s%s", svc_id, instance_id,
                 jstr(attrs, "AWS_INSTANCE_IPV4") ?: "-", jstr(attrs, "AWS_INSTANCE_PORT") ?: "-", ecs_owner ? " ecs=" : "",
                 ecs_owner ?: "");
        sd_dns_service_changed(s, svc_id);
        if (ret_op_id)
                memcpy(ret_op_id, op, SD_OP_ID_MAX);
        return 0;
}

int sd_instance_delete(struct sched *s, json_t *svc, const char *instance_id, char *ret_op_id, struct err *err)
{
        const char *svc_id = jstr(svc, "Id");
        char key[SD_KEY_MAX], op[SD_OP_ID_MAX];
        int r;
        inst_key(key, svc_id, instance_id);
        if ((r = store_exists(s->store, key)) < 0)
                return err_set(err, -r, NULL, "instance %s: %s", instance_id, strerror(-r));
        if (r == 0)
                return err_set(err, ENOENT, SD_E_INST_NF, "Instance not found: %s (service %s)", instance_id, svc_id);
        if ((r = sd_operation_record(s, "DEREGISTER_INSTANCE", json_pack("{s:s, s:s}", "SERVICE", svc_id, "INSTANCE", instance_id), op,
                                     err)) < 0 ||
            (r = store_del(s->store, key, err)) < 0)
                return r;
        log_info("msg=\"instance deregistered\" service=%s instance=%s", svc_id, instance_id);
        sd_dns_service_changed(s, svc_id);
        if (ret_op_id)
                memcpy(ret_op_id, op, SD_OP_ID_MAX);
        return 0;
}

static int member(json_t *req, const char *key, bool required, const char **ret, struct err *err)
{
        int r = req_str(req, NULL, key, required, ret, err);
        if (r < 0 && strcmp(err->code, "InvalidParameterException") == 0)
                snprintf(err->code, sizeof err->code, "%s", SD_E_INPUT);
        return r;
}

int sd_op_register_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *svc = NULL, *old = NULL;
        struct sd_register_in in;
        char op[SD_OP_ID_MAX], key[SD_KEY_MAX];
        int r;
        if ((r = sd_register_decode(req, &in, err)) < 0 || (r = sd_service_get(c->s, in.service_id, &svc, err)) < 0)
                return r;
        /* an instance ECS manages stays ECS's */
        inst_key(key, in.service_id, in.instance_id);
        if (store_get(c->s->store, key, &old, err) == 0 && jstr(json_object_get(old, "ebx"), "ecs"))
                return err_set(err, EBUSY, SD_E_IN_USE, "Instance %s is managed by ECS service %s", in.instance_id,
                               jstr(json_object_get(old, "ebx"), "ecs"));
        err_clear(err);
        if ((r = sd_instance_put(c->s, svc, in.instance_id, in.attrs, in.creator, NULL, op, err)) < 0)
                return r;
        sd_dns_flush(c->s);
        *ret = json_pack("{s:s}", "OperationId", op);
        return 0;
}

int sd_op_deregister_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *svc = NULL;
        const char *sid = NULL, *iid = NULL;
        char op[SD_OP_ID_MAX];
        int r;
        if ((r = member(req, "ServiceId", true, &sid, err)) < 0 || (r = member(req, "InstanceId", true, &iid, err)) < 0 ||
            (r = sd_service_get(c->s, sid, &svc, err)) < 0)
                return r;
        if (!sd_instance_id_valid(iid))
                return err_set(err, ENOENT, SD_E_INST_NF, "Instance not found: %.64s (service %s)", iid, sid);
        if ((r = sd_instance_delete(c->s, svc, iid, op, err)) < 0)
                return r;
        sd_dns_flush(c->s);
        *ret = json_pack("{s:s}", "OperationId", op);
        return 0;
}

static int instance_load(struct api_ctx *c, json_t *req, json_t **ret_svc, json_t **ret_inst, struct err *err)
{
        _cleanup_json_ json_t *svc = NULL, *inst = NULL;
        const char *sid = NULL, *iid = NULL;
        char key[SD_KEY_MAX];
        int r;
        if ((r = member(req, "ServiceId", true, &sid, err)) < 0 || (r = member(req, "InstanceId", true, &iid, err)) < 0 ||
            (r = sd_service_get(c->s, sid, &svc, err)) < 0)
                return r;
        inst_key(key, sid, iid);
        r = sd_instance_id_valid(iid) ? store_get(c->s->store, key, &inst, err) : -ENOENT;
        if (r == -ENOENT)
                return err_set(err, ENOENT, SD_E_INST_NF, "Instance not found: %.64s (service %s)", iid, sid);
        if (r < 0)
                return r;
        *ret_svc = TAKE_PTR(svc);
        *ret_inst = TAKE_PTR(inst);
        return 0;
}

/* The public Instance shape (a new object). */
static json_t *inst_shape(json_t *rec, bool summary)
{
        json_t *out = json_pack("{s:s, s:O}", "Id", jstr(rec, "Id"), "Attributes", json_object_get(rec, "Attributes"));
        if (!summary && jstr(rec, "CreatorRequestId"))
                json_object_set_new(out, "CreatorRequestId", json_string(jstr(rec, "CreatorRequestId")));
        return out;
}

int sd_op_get_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *svc = NULL, *inst = NULL;
        int r;
        if ((r = instance_load(c, req, &svc, &inst, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Instance", inst_shape(inst, false));
        return 0;
}

int sd_op_list_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *svc = NULL, *all = NULL, *shapes = json_array(), *page = NULL, *token = NULL;
        const char *sid = NULL;
        struct sd_page pg;
        json_t *i;
        size_t k;
        int r;
        if ((r = member(req, "ServiceId", true, &sid, err)) < 0 || (r = sd_page_decode(req, 100, 100, &pg, err)) < 0 ||
            (r = sd_service_get(c->s, sid, &svc, err)) < 0 || (r = sd_instances_list(c->s, sid, &all, err)) < 0)
                return r;
        json_array_foreach(all, k, i)
                json_array_append_new(shapes, inst_shape(i, true));
        sd_page_take(&pg, shapes, &page, &token);
        *ret = json_pack("{s:O}", "Instances", page);
        json_set(*ret, "NextToken", TAKE_PTR(token));
        return 0;
}

/* A revision that changes whenever the service's instances do: a hash of their records. */
static long long revision(json_t *instances)
{
        _cleanup_free_ char *text = json_dumps(instances, JSON_COMPACT | JSON_SORT_KEYS);
        unsigned long long h = 1469598103934665603ULL;
        for (const char *p = text ? text : ""; *p; p++)
                h = (h ^ (unsigned char) *p) * 1099511628211ULL;
        return (long long) (h >> 12);
}

int sd_op_discover_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *ns = NULL, *svc = NULL, *all = NULL, *picked = json_array(), *out = json_array();
        struct sd_discover_in in;
        json_t *i;
        size_t k, healthy = 0, optional_hits = 0;
        int r;
        if ((r = sd_discover_decode(req, &in, err)) < 0)
                return r;
        r = sd_namespace_find(c->s, in.ns_name, &ns, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, SD_E_NS_NF, "Namespace not found: %s", in.ns_name);
        if (r < 0)
                return r;
        r = sd_service_find(c->s, jstr(ns, "Id"), in.svc_name, &svc, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, SD_E_SVC_NF, "Service not found: %s in namespace %s", in.svc_name, in.ns_name);
        if (r < 0 || (r = sd_instances_list(c->s, jstr(svc, "Id"), &all, err)) < 0)
                return r;
        json_array_foreach(all, k, i)
                if (strcmp(sd_instance_health(svc, i), "UNHEALTHY") != 0)
                        healthy++;
        json_array_foreach(all, k, i) {
                const char *h = sd_instance_health(svc, i);
                bool ok = strcmp(h, "UNHEALTHY") != 0;
                if (strcmp(in.health, "HEALTHY") == 0 && !ok)
                        continue;
                if (strcmp(in.health, "UNHEALTHY") == 0 && ok)
                        continue;
                if (strcmp(in.health, "HEALTHY_OR_ELSE_ALL") == 0 && healthy > 0 && !ok)
                        continue;
                if (in.query && !sd_attrs_match(json_object_get(i, "Attributes"), in.query))
                        continue;
                json_array_append(picked, i);
                if (in.optional && sd_attrs_match(json_object_get(i, "Attributes"), in.optional))
                        optional_hits++;
        }
        /* OptionalParameters narrow the answer only when some instance matches them */
        json_array_foreach(picked, k, i) {
                if (optional_hits > 0 && !sd_attrs_match(json_object_get(i, "Attributes"), in.optional))
                        continue;
                if ((long long) json_array_size(out) >= in.max)
                        break;
                json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:O}", "InstanceId", jstr(i, "Id"), "NamespaceName",
                                                     in.ns_name, "ServiceName", jstr(svc, "Name"), "HealthStatus",
                                                     sd_instance_health(svc, i), "Attributes", json_object_get(i, "Attributes")));
        }
        *ret = json_pack("{s:O, s:I}", "Instances", out, "InstancesRevision", (json_int_t) revision(all));
        return 0;
}

int sd_op_update_instance_health(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *svc = NULL, *inst = NULL;
        const char *status = NULL, *sid;
        char key[SD_KEY_MAX];
        int r;
        if ((r = member(req, "Status", true, &status, err)) < 0 || (r = instance_load(c, req, &svc, &inst, err)) < 0)
                return r;
        if (strcmp(status, "HEALTHY") != 0 && strcmp(status, "UNHEALTHY") != 0)
                return err_set(err, EINVAL, SD_E_INPUT, "Status '%s' is invalid: HEALTHY or UNHEALTHY", status);
        sid = jstr(svc, "Id");
        if (!json_object_get(svc, "HealthCheckCustomConfig"))
                return err_set(err, ENOENT, SD_E_HEALTH_NF, "Service %s has no custom health check (HealthCheckCustomConfig)", sid);
        json_object_set_new(json_object_get(inst, "ebx"), "health", json_string(status));
        inst_key(key, sid, jstr(inst, "Id"));
        if ((r = store_put(c->s->store, key, inst, err)) < 0)
                return r;
        log_info("op=UpdateInstanceCustomHealthStatus service=%s instance=%s status=%s", sid, jstr(inst, "Id"), status);
        sd_dns_service_changed(c->s, sid);
        sd_dns_flush(c->s);
        *ret = json_object();
        return 0;
}

int sd_op_get_instances_health(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *svc = NULL, *all = NULL, *ids = json_array(), *page = NULL, *token = NULL, *status = json_object();
        json_t *want = NULL, *i;
        const char *sid = NULL;
        struct sd_page pg;
        size_t k;
        int r;
        if ((r = member(req, "ServiceId", true, &sid, err)) < 0 || (r = sd_page_decode(req, 100, 100, &pg, err)) < 0 ||
            (r = sd_input(req_str_list(req, NULL, "Instances", false, 0, &want, err), err)) < 0)
                return r;
        if ((r = sd_service_get(c->s, sid, &svc, err)) < 0 || (r = sd_instances_list(c->s, sid, &all, err)) < 0)
                return r;
        if (want) {
                json_array_foreach(want, k, i) {
                        json_t *found = jfind(all, "Id", json_string_value(i));
                        if (!found)
                                return err_set(err, ENOENT, SD_E_INST_NF, "Instance not found: %s (service %s)", json_string_value(i), sid);
                        json_array_append(ids, i);
                }
        } else
                json_array_foreach(all, k, i)
                        json_array_append_new(ids, json_string(jstr(i, "Id")));
        sd_page_take(&pg, ids, &page, &token);
        json_array_foreach(page, k, i)
                json_object_set_new(status, json_string_value(i),
                                    json_string(sd_instance_health(svc, jfind(all, "Id", json_string_value(i)))));
        *ret = json_pack("{s:O}", "Status", status);
        json_set(*ret, "NextToken", TAKE_PTR(token));
        return 0;
}
