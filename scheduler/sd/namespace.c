/* namespace.c: Cloud Map namespaces (sd/ns/<id>): CreatePrivateDnsNamespace (a zone in its VPC's
 * resolver, which netd serves), CreateHttpNamespace, GetNamespace, ListNamespaces, DeleteNamespace. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../front/req.h"
#include "../netd_client.h"
#include "../sched.h"
#include "sd.h"
#include "sd_req.h"

static void ns_key(char buf[SD_KEY_MAX], const char *id)
{
        snprintf(buf, SD_KEY_MAX, SD_NS_PREFIX "%.64s", id);
}

int sd_namespace_get(struct sched *s, const char *id, json_t **ret, struct err *err)
{
        char key[SD_KEY_MAX];
        int r;
        if (!id || strlen(id) > 64 || strchr(id, '/'))
                r = -ENOENT;
        else {
                ns_key(key, id);
                r = store_get(s->store, key, ret, err);
        }
        if (r == -ENOENT)
                return err_set(err, ENOENT, SD_E_NS_NF, "Namespace not found: %s", id ? id : "");
        return r;
}

struct count_walk {
        const char *ns;
        long n;
};

static int count_one(const char *key, json_t *v, void *userdata)
{
        struct count_walk *w = userdata;
        if (strcmp(jstr(v, "NamespaceId") ?: "", w->ns) == 0)
                w->n++;
        return 0;
}

static long services_in(struct sched *s, const char *ns_id)
{
        struct count_walk w = { ns_id, 0 };
        struct err e = { 0 };
        if (store_list(s->store, SD_SVC_PREFIX, count_one, &w, &e) < 0)
                return 0;
        return w.n;
}

/* The public Namespace shape (a new object). */
static json_t *ns_shape(struct sched *s, json_t *rec, bool summary)
{
        json_t *out = json_deep_copy(rec);
        json_object_del(out, "ebx");
        json_object_set_new(out, "ServiceCount", json_integer(services_in(s, jstr(rec, "Id") ?: "")));
        if (summary)
                json_object_del(out, "CreatorRequestId");
        return out;
}

struct find_walk {
        const char *name;
        json_t *found;
};

static int find_name(const char *key, json_t *v, void *userdata)
{
        struct find_walk *w = userdata;
        if (w->found)
                return 0;
        if (strcmp(jstr(v, "Name") ?: "", w->name) == 0) {
                w->found = json_incref(v);
                return 1;
        }
        return 0;
}

static int find_http_name(const char *key, json_t *v, void *userdata)
{
        struct find_walk *w = userdata;
        if (w->found)
                return 0;
        const char *http = jstr(json_object_get(json_object_get(v, "Properties"), "HttpProperties"), "HttpName");
        if (strcmp(http ?: jstr(v, "Name") ?: "", w->name) == 0) {
                w->found = json_incref(v);
                return 1;
        }
        return 0;
}

int sd_namespace_find(struct sched *s, const char *name, json_t **ret, struct err *err)
{
        struct find_walk w = { name, NULL };
        int r;
        if ((r = store_list(s->store, SD_NS_PREFIX, find_http_name, &w, err)) < 0)
                return r;
        if (!w.found)
                return -ENOENT;
        *ret = w.found;
        return 0;
}

/* The VPC must exist in netd. */
static int vpc_check(struct sched *s, const char *vpc, struct err *err)
{
        _cleanup_json_ json_t *req = json_pack("{s:s, s:[s]}", "Action", "DescribeVpcs", "VpcIds", vpc), *ans = NULL;
        int r = s->netd_call(s, req, &ans, err);
        if (r < 0 && strcmp(netd_code(err), "InvalidVpcID.NotFound") == 0)
                return err_set(err, ENOENT, SD_E_INPUT, "VPC %s does not exist", vpc);
        if (r < 0)
                return err_wrap(err, "check VPC %s with netd", vpc);
        if (json_array_size(json_object_get(ans, "Vpcs")) == 0)
                return err_set(err, ENOENT, SD_E_INPUT, "VPC %s does not exist", vpc);
        return 0;
}

static int create_namespace(struct api_ctx *c, json_t *req, bool private_dns, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        _cleanup_json_ json_t *rec = NULL, *props = NULL;
        struct sd_ns_create_in in;
        struct find_walk w = { 0 };
        char id[SD_ID_MAX], zone[SD_ID_MAX], arn[256], key[SD_KEY_MAX], op[SD_OP_ID_MAX];
        int r;
        if ((r = sd_ns_create_decode(req, private_dns, &in, err)) < 0)
                return r;
        w.name = in.name;
        if ((r = store_list(s->store, SD_NS_PREFIX, find_name, &w, err)) < 0)
                return r;
        if (w.found) {
                _cleanup_json_ json_t *old = w.found;
                const char *creator = jstr(old, "CreatorRequestId");
                /* a repeat of the same request (botocore's CreatorRequestId) gets the first answer */
                if (in.creator && creator && strcmp(in.creator, creator) == 0 && jstr(json_object_get(old, "ebx"), "op")) {
                        *ret = json_pack("{s:s}", "OperationId", jstr(json_object_get(old, "ebx"), "op"));
                        return 0;
                }
                return err_set(err, EEXIST, SD_E_NS_EXISTS, "Namespace with name %s already exists (%s).", in.name, jstr(old, "Id"));
        }
        if (private_dns && ((r = vpc_check(s, in.vpc, err)) < 0 || (r = sd_dns_zone_check(s, in.vpc, in.name, err)) < 0))
                return r;
        if ((r = sd_id_new("ns", id)) < 0 || (r = sd_id_new("Z", zone)) < 0)
                return err_set(err, -r, NULL, "namespace id: %s", strerror(-r));
        for (char *p = zone; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                        *p = (char) (*p - 'a' + 'A');
        memmove(zone + 1, zone + 2, strlen(zone + 2) + 1);   /* Z<16>, no dash */
        snprintf(arn, sizeof arn, "arn:aws:servicediscovery:%s:%s:namespace/%s", c->region, s->account, id);
        if (private_dns)
                props = json_pack("{s:{s:s, s:{s:I}}, s:{s:s}}", "DnsProperties", "HostedZoneId", zone, "SOA", "TTL",
                                  (json_int_t) in.soa_ttl, "HttpProperties", "HttpName", in.name);
        else
                props = json_pack("{s:{}, s:{s:s}}", "DnsProperties", "HttpProperties", "HttpName", in.name);
        rec = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o, s:{s:s, s:O}}", "Id", id, "Arn", arn, "Name", in.name, "Type",
                        private_dns ? "DNS_PRIVATE" : "HTTP", "Properties", props, "CreateDate", jtime(now_epoch()), "ebx", "region",
                        c->region, "tags", in.tags ? in.tags : json_array());
        if (!rec)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (in.tags == NULL)
                json_decref(json_object_get(json_object_get(rec, "ebx"), "tags"));
        json_set(rec, "Description", in.description ? json_string(in.description) : NULL);
        json_set(rec, "CreatorRequestId", in.creator ? json_string(in.creator) : NULL);
        if (private_dns)
                json_object_set_new(json_object_get(rec, "ebx"), "vpc", json_string(in.vpc));
        if ((r = sd_operation_record(s, "CREATE_NAMESPACE", json_pack("{s:s}", "NAMESPACE", id), op, err)) < 0)
                return r;
        json_object_set_new(json_object_get(rec, "ebx"), "op", json_string(op));
        ns_key(key, id);
        if ((r = store_put(s->store, key, rec, err)) < 0)
                return r;
        log_info("op=%s namespace=%s name=%s%s%s", c->op, id, in.name, private_dns ? " vpc=" : "", private_dns ? in.vpc : "");
        if (private_dns) {
                sd_dns_zone_changed(s, id);
                sd_dns_flush(s);
        }
        *ret = json_pack("{s:s}", "OperationId", op);
        return 0;
}

int sd_op_create_private_dns_namespace(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return create_namespace(c, req, true, ret, err);
}

int sd_op_create_http_namespace(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return create_namespace(c, req, false, ret, err);
}

static int id_member(json_t *req, const char *key, const char **ret, struct err *err)
{
        int r = req_str(req, NULL, key, true, ret, err);
        if (r < 0 && strcmp(err->code, "InvalidParameterException") == 0)
                snprintf(err->code, sizeof err->code, "%s", SD_E_INPUT);
        return r;
}

int sd_op_get_namespace(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *rec = NULL;
        const char *id = NULL;
        int r;
        if ((r = id_member(req, "Id", &id, err)) < 0 || (r = sd_namespace_get(c->s, id, &rec, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Namespace", ns_shape(c->s, rec, false));
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
        for (size_t i = 0; i < w->fs->n; i++) {
                const struct sd_filter *f = &w->fs->f[i];
                const char *val = strcmp(f->name, "TYPE") == 0   ? jstr(v, "Type")
                                  : strcmp(f->name, "NAME") == 0 ? jstr(v, "Name")
                                                                 : jstr(json_object_get(json_object_get(v, "Properties"), "HttpProperties"), "HttpName");
                if (!sd_filter_match(f, val))
                        return 0;
        }
        json_array_append_new(w->out, ns_shape(w->s, v, true));
        return 0;
}

int sd_op_list_namespaces(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        static const char *const names[] = { "TYPE", "NAME", "HTTP_NAME", NULL };
        static const char *const conds[] = { "EQ", "IN", "BEGINS_WITH", NULL };
        _cleanup_json_ json_t *all = json_array(), *page = NULL, *token = NULL;
        struct sd_filters fs;
        struct sd_page pg;
        struct list_walk w = { c->s, &fs, all };
        int r;
        if ((r = sd_filters_decode(req, names, conds, &fs, err)) < 0 || (r = sd_page_decode(req, 100, 100, &pg, err)) < 0)
                return r;
        for (size_t i = 0; i < fs.n; i++)
                if (strcmp(fs.f[i].name, "TYPE") == 0 && strcmp(fs.f[i].cond, "BEGINS_WITH") == 0)
                        return err_set(err, EINVAL, SD_E_INPUT, "Filters: condition BEGINS_WITH is not supported for TYPE");
        if ((r = store_list(c->s->store, SD_NS_PREFIX, list_one, &w, err)) < 0)
                return r;
        sd_page_take(&pg, all, &page, &token);
        *ret = json_pack("{s:O}", "Namespaces", page);
        json_set(*ret, "NextToken", TAKE_PTR(token));
        return 0;
}

int sd_op_delete_namespace(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        _cleanup_json_ json_t *rec = NULL;
        const char *id = NULL, *vpc;
        char key[SD_KEY_MAX], op[SD_OP_ID_MAX];
        int r;
        if ((r = id_member(req, "Id", &id, err)) < 0 || (r = sd_namespace_get(s, id, &rec, err)) < 0)
                return r;
        if (services_in(s, id) > 0)
                return err_set(err, EBUSY, SD_E_IN_USE, "Namespace %s has associated services: delete them first", id);
        if ((r = sd_operation_record(s, "DELETE_NAMESPACE", json_pack("{s:s}", "NAMESPACE", id), op, err)) < 0)
                return r;
        ns_key(key, id);
        if ((r = store_del(s->store, key, err)) < 0)
                return r;
        log_info("op=DeleteNamespace namespace=%s name=%s", id, jstr(rec, "Name"));
        if ((vpc = jstr(json_object_get(rec, "ebx"), "vpc"))) {
                sd_dns_zone_deleted(s, vpc, jstr(rec, "Name"));
                sd_dns_flush(s);
        }
        *ret = json_pack("{s:s}", "OperationId", op);
        return 0;
}
