/* service.c: Cloud Map services (sd/svc/<id>): CreateService, GetService, ListServices, UpdateService
 * (description and record TTLs), DeleteService (refused while instances are registered). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "../sched.h"
#include "sd.h"
#include "sd_req.h"

static void svc_key(char buf[SD_KEY_MAX], const char *id)
{
        snprintf(buf, SD_KEY_MAX, SD_SVC_PREFIX "%.64s", id);
}

int sd_service_get(struct sched *s, const char *id, json_t **ret, struct err *err)
{
        char key[SD_KEY_MAX];
        int r;
        if (!id || strlen(id) > 64 || strchr(id, '/'))
                r = -ENOENT;
        else {
                svc_key(key, id);
                r = store_get(s->store, key, ret, err);
        }
        if (r == -ENOENT)
                return err_set(err, ENOENT, SD_E_SVC_NF, "Service not found: %s", id ? id : "");
        return r;
}

static long instances_in(struct sched *s, const char *svc_id)
{
        char prefix[SD_KEY_MAX];
        struct err e = { 0 };
        long n;
        snprintf(prefix, sizeof prefix, SD_INST_PREFIX "%.64s/", svc_id);
        n = store_count(s->store, prefix, &e);
        return n < 0 ? 0 : n;
}

/* The public Service shape (a new object); summary: ServiceSummary (no NamespaceId, CreatorRequestId). */
static json_t *svc_shape(struct sched *s, json_t *rec, bool summary)
{
        json_t *out = json_deep_copy(rec);
        json_object_del(out, "ebx");
        json_object_set_new(out, "InstanceCount", json_integer(instances_in(s, jstr(rec, "Id") ?: "")));
        if (summary) {
                json_object_del(out, "CreatorRequestId");
                json_object_del(out, "NamespaceId");
        }
        return out;
}

struct find_walk {
        const char *ns, *name;
        json_t *found;
};

static int find_one(const char *key, json_t *v, void *userdata)
{
        struct find_walk *w = userdata;
        if (w->found)
                return 0;
        if (strcmp(jstr(v, "NamespaceId") ?: "", w->ns) == 0 && strcasecmp(jstr(v, "Name") ?: "", w->name) == 0) {
                w->found = json_incref(v);
                return 1;
        }
        return 0;
}

int sd_service_find(struct sched *s, const char *ns_id, const char *name, json_t **ret, struct err *err)
{
        struct find_walk w = { ns_id, name, NULL };
        int r;
        if ((r = store_list(s->store, SD_SVC_PREFIX, find_one, &w, err)) < 0)
                return r;
        if (!w.found)
                return -ENOENT;
        *ret = w.found;
        return 0;
}

int sd_op_create_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        _cleanup_json_ json_t *ns = NULL, *old = NULL, *rec = NULL, *dc = NULL;
        struct sd_svc_create_in in;
        char id[SD_ID_MAX], arn[256], key[SD_KEY_MAX];
        int r;
        if ((r = sd_svc_create_decode(req, &in, err)) < 0 || (r = sd_namespace_get(s, in.namespace_id, &ns, err)) < 0)
                return r;
        if (in.dns_config && strcmp(jstr(ns, "Type") ?: "", "HTTP") == 0)
                return err_set(err, EINVAL, SD_E_INPUT, "DnsConfig is not allowed for a service in HTTP namespace %s", in.namespace_id);
        r = sd_service_find(s, in.namespace_id, in.name, &old, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0) {
                const char *creator = jstr(old, "CreatorRequestId");
                if (in.creator && creator && strcmp(in.creator, creator) == 0) {
                        *ret = json_pack("{s:o}", "Service", svc_shape(s, old, false));
                        return 0;
                }
                return err_set(err, EEXIST, SD_E_SVC_EXISTS, "Service with name %s already exists in namespace %s (%s).", in.name,
                               in.namespace_id, jstr(old, "Id"));
        }
        if ((r = sd_id_new("srv", id)) < 0)
                return err_set(err, -r, NULL, "service id: %s", strerror(-r));
        snprintf(arn, sizeof arn, "arn:aws:servicediscovery:%s:%s:service/%s", c->region, s->account, id);
        rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:O}}", "Id", id, "Arn", arn, "Name", in.name, "NamespaceId",
                        in.namespace_id, "Type", in.dns_config ? "DNS_HTTP" : "HTTP", "CreateDate", jtime(now_epoch()), "ebx", "region",
                        c->region, "tags", in.tags ? in.tags : json_array());
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!in.tags)
                json_decref(json_object_get(json_object_get(rec, "ebx"), "tags"));
        if (in.dns_config) {
                dc = json_deep_copy(in.dns_config);
                json_object_set_new(dc, "NamespaceId", json_string(in.namespace_id));
                json_object_set_new(dc, "RoutingPolicy", json_string(in.rec.routing));
                json_object_set(rec, "DnsConfig", dc);
        }
        if (in.health_custom)
                json_object_set_new(rec, "HealthCheckCustomConfig",
                                    json_pack("{s:I}", "FailureThreshold", (json_int_t) jint(in.health_custom, "FailureThreshold", 1)));
        json_set(rec, "Description", in.description ? json_string(in.description) : NULL);
        json_set(rec, "CreatorRequestId", in.creator ? json_string(in.creator) : NULL);
        svc_key(key, id);
        if ((r = store_put(s->store, key, rec, err)) < 0)
                return r;
        log_info("op=CreateService service=%s name=%s namespace=%s", id, in.name, in.namespace_id);
        *ret = json_pack("{s:o}", "Service", svc_shape(s, rec, false));
        return 0;
}

static int id_member(json_t *req, const char *key, const char **ret, struct err *err)
{
        int r = req_str(req, NULL, key, true, ret, err);
        if (r < 0 && strcmp(err->code, "InvalidParameterException") == 0)
                snprintf(err->code, sizeof err->code, "%s", SD_E_INPUT);
        return r;
}

int sd_op_get_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *id = NULL;
        int r;
        if ((r = id_member(req, "Id", &id, err)) < 0 || (r = sd_service_get(c->s, id, &rec, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Service", svc_shape(c->s, rec, false));
        return 0;
}

struct list_walk {
        struct sched *s;
        const struct sd_filters *fs;
        json_t *out;
};

static int list_one(const char *key, json_t *v, void *userdata)
{
        struct list_walk *w = userdata;
        for (size_t i = 0; i < w->fs->n; i++)
                if (!sd_filter_match(&w->fs->f[i], jstr(v, "NamespaceId")))
                        return 0;
        json_array_append_new(w->out, svc_shape(w->s, v, true));
        return 0;
}

int sd_op_list_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        static const char *const names[] = { "NAMESPACE_ID", NULL };
        static const char *const conds[] = { "EQ", "IN", NULL };
        _cleanup_json_ json_t *all = json_array(), *page = NULL, *token = NULL;
        struct sd_filters fs;
        struct sd_page pg;
        struct list_walk w = { c->s, &fs, all };
        int r;
        if ((r = sd_filters_decode(req, names, conds, &fs, err)) < 0 || (r = sd_page_decode(req, 100, 100, &pg, err)) < 0 ||
            (r = store_list(c->s->store, SD_SVC_PREFIX, list_one, &w, err)) < 0)
                return r;
        sd_page_take(&pg, all, &page, &token);
        *ret = json_pack("{s:O}", "Services", page);
        json_set(*ret, "NextToken", TAKE_PTR(token));
        return 0;
}

/* UpdateService: Description, and the TTLs of the existing record types (a change of types is refused). */
int sd_op_update_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        _cleanup_json_ json_t *rec = NULL;
        json_t *chg = NULL, *dc = NULL, *hc = NULL;
        struct sd_records now, want;
        const char *id = NULL, *desc = NULL;
        char key[SD_KEY_MAX], op[SD_OP_ID_MAX];
        int r;
        if ((r = id_member(req, "Id", &id, err)) < 0)
                return r;
        if ((r = req_object(req, NULL, "Service", true, &chg, err)) < 0 || (r = req_str(chg, "Service", "Description", false, &desc, err)) < 0 ||
            (r = req_object(chg, "Service", "DnsConfig", false, &dc, err)) < 0 ||
            (r = req_object(chg, "Service", "HealthCheckConfig", false, &hc, err)) < 0) {
                if (strcmp(err->code, "InvalidParameterException") == 0)
                        snprintf(err->code, sizeof err->code, "%s", SD_E_INPUT);
                return r;
        }
        if ((r = sd_service_get(s, id, &rec, err)) < 0)
                return r;
        if (hc)
                return err_set(err, EINVAL, SD_E_INPUT, "HealthCheckConfig is only supported in public DNS namespaces");
        if (dc) {
                if (!json_object_get(rec, "DnsConfig"))
                        return err_set(err, EINVAL, SD_E_INPUT, "Service %s has no DnsConfig to change", id);
                if ((r = sd_dns_config_decode(dc, true, &want, err)) < 0)
                        return r;
                sd_records_of(json_object_get(rec, "DnsConfig"), &now);
                if (now.a != want.a || now.aaaa != want.aaaa || now.srv != want.srv || now.cname != want.cname)
                        return err_set(err, EINVAL, SD_E_INPUT, "Service.DnsConfig.DnsRecords must keep the record types of service %s; only TTLs can change", id);
                json_object_set(json_object_get(rec, "DnsConfig"), "DnsRecords", json_object_get(dc, "DnsRecords"));
        }
        if (desc)
                json_object_set_new(rec, "Description", json_string(desc));
        if ((r = sd_operation_record(s, "UPDATE_SERVICE", json_pack("{s:s}", "SERVICE", id), op, err)) < 0)
                return r;
        svc_key(key, id);
        if ((r = store_put(s->store, key, rec, err)) < 0)
                return r;
        log_info("op=UpdateService service=%s", id);
        sd_dns_service_changed(s, id);
        sd_dns_flush(s);
        *ret = json_pack("{s:s}", "OperationId", op);
        return 0;
}

int sd_op_delete_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        _cleanup_json_ json_t *rec = NULL;
        const char *id = NULL;
        char key[SD_KEY_MAX];
        int r;
        if ((r = id_member(req, "Id", &id, err)) < 0 || (r = sd_service_get(s, id, &rec, err)) < 0)
                return r;
        if (instances_in(s, id) > 0)
                return err_set(err, EBUSY, SD_E_IN_USE, "Service %s has associated registered instances: deregister them first", id);
        svc_key(key, id);
        if ((r = store_del(s->store, key, err)) < 0)
                return r;
        log_info("op=DeleteService service=%s name=%s", id, jstr(rec, "Name"));
        sd_dns_service_changed(s, id);
        sd_dns_flush(s);
        *ret = json_object();
        return 0;
}
