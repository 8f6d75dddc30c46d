/* records.c: the VPC DNS operations: the DNS attributes of a VPC, its private zones and their records
 * (what Cloud Map's DNS namespaces push), kept in the store. */
#include <errno.h>
#include <string.h>

#include "../record.h"
#include "../vpc.h"
#include "dns.h"
#include "dns_int.h"
#include "dns_req.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"

int op_modify_vpc_attribute(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct dns_modify_attr_req q;
        _cleanup_json_ json_t *vpc = NULL;
        char key[KEY_MAX];
        int r;
        if ((r = dns_modify_attr_req_decode(req, &q, err)) < 0 || (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0)
                return r;
        if (q.attr == DNS_ATTR_HOSTNAMES && q.value && !dns_vpc_support(vpc))
                return err_set(err, EINVAL, "InvalidParameterValue",
                               "enableDnsHostnames of vpc '%s' cannot be turned on while enableDnsSupport is off", q.vpc_id);
        if (q.attr == DNS_ATTR_SUPPORT && !q.value && dns_vpc_hostnames(vpc))
                return err_set(err, EINVAL, "InvalidParameterValue",
                               "enableDnsSupport of vpc '%s' cannot be turned off while enableDnsHostnames is on", q.vpc_id);
        json_object_set_new(vpc, q.attr == DNS_ATTR_SUPPORT ? "ebxEnableDnsSupport" :
                                 q.attr == DNS_ATTR_HOSTNAMES ? "ebxEnableDnsHostnames" : "ebxEnableNauMetrics",
                            json_boolean(q.value));
        key_fmt(key, "vpc", q.vpc_id);
        if ((r = store_put(d->store, key, vpc, err)) < 0)
                return r;
        if ((r = dns_vpc_sync(d, vpc, err)) < 0)
                return err_wrap(err, "ModifyVpcAttribute %s", q.vpc_id);
        log_info("op=ModifyVpcAttribute vpc=%s %s=%s", q.vpc_id, dns_attr_name(q.attr), q.value ? "true" : "false");
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

int op_describe_vpc_attribute(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct dns_describe_attr_req q;
        _cleanup_json_ json_t *vpc = NULL;
        bool v;
        int r;
        if ((r = dns_describe_attr_req_decode(req, &q, err)) < 0 || (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0)
                return r;
        v = q.attr == DNS_ATTR_SUPPORT ? dns_vpc_support(vpc) :
            q.attr == DNS_ATTR_HOSTNAMES ? dns_vpc_hostnames(vpc) : json_is_true(json_object_get(vpc, "ebxEnableNauMetrics"));
        *ret = json_pack("{s:s, s:{s:b}}", "VpcId", q.vpc_id, dns_attr_member(q.attr), "Value", v);
        return 0;
}

struct zone_list {
        json_t *names;
};

static int zone_list_cb(const char *key, json_t *val, void *ud)
{
        struct zone_list *z = ud;
        json_array_append(z->names, json_object_get(val, "Name"));
        return 0;
}

int dns_zone_names(struct netd *d, const char *vpc_id, json_t **ret, struct err *err)
{
        char prefix[DNS_KEY_MAX];
        struct zone_list z = { json_array() };
        int r;
        if (!z.names)
                return err_set(err, ENOMEM, NULL, "out of memory");
        dns_key_zone(prefix, vpc_id, NULL);
        if ((r = store_list(d->store, prefix, zone_list_cb, &z, err)) < 0) {
                json_decref(z.names);
                return r;
        }
        *ret = z.names;
        return 0;
}

static json_t *zones_of(struct netd *d, const char *vpc_id, struct err *err)
{
        json_t *z = NULL;
        return dns_zone_names(d, vpc_id, &z, err) < 0 ? NULL : z;
}

/* The zone is not the VPC's own domain or a reverse zone, which the resolver answers itself. */
static int zone_allowed(struct netd *d, const char *name, struct err *err)
{
        char domain[96];
        dns_domain(d, domain, sizeof domain);
        if (dns_name_in(name, domain) || dns_name_in(domain, name))
                return err_set(err, EINVAL, "InvalidParameterValue", "Zone '%s' overlaps the VPC's own domain '%s'", name, domain);
        if (dns_name_in(name, "in-addr.arpa") || dns_name_in(name, "ip6.arpa") || dns_name_in("in-addr.arpa", name))
                return err_set(err, EINVAL, "InvalidParameterValue", "Zone '%s' is a reverse zone, which the VPC resolver answers itself",
                               name);
        return 0;
}

int op_put_dns_zone(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct dns_zone_req q;
        _cleanup_json_ json_t *vpc = NULL, *rec = NULL;
        char key[DNS_KEY_MAX];
        int r;
        if ((r = dns_zone_req_decode(req, &q, err)) < 0 || (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0 ||
            (r = zone_allowed(d, q.name, err)) < 0)
                return r;
        dns_key_zone(key, q.vpc_id, q.name);
        if (!(rec = json_pack("{s:s, s:s}", "VpcId", q.vpc_id, "Name", q.name)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = store_put(d->store, key, rec, err)) < 0 || (r = dns_vpc_sync(d, vpc, err)) < 0)
                return r;
        log_info("op=PutDnsZone vpc=%s zone=%s", q.vpc_id, q.name);
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

struct rr_del {
        struct netd *d;
        const char *zone;               /* NULL: every record */
        json_t *keys;                   /* collected first: no writes while SQLite walks the rows */
        int n;
};

static int rr_del_cb(const char *key, json_t *val, void *ud)
{
        struct rr_del *x = ud;
        const char *n = rec_str(val, "Name");
        if (x->zone && (!n || !dns_name_in(n, x->zone)))
                return 0;
        x->n++;
        return json_array_append_new(x->keys, json_string(key)) < 0 ? -ENOMEM : 0;
}

/* Delete the records under prefix that x selects. */
static int rr_delete(struct rr_del *x, const char *prefix, struct err *err)
{
        json_t *k;
        size_t i;
        int r;
        if (!(x->keys = json_array()))
                return err_set(err, ENOMEM, NULL, "out of memory");
        r = store_list(x->d->store, prefix, rr_del_cb, x, err);
        json_array_foreach(x->keys, i, k)
                if (r >= 0)
                        r = store_del(x->d->store, json_string_value(k), err);
        json_decref(x->keys);
        x->keys = NULL;
        return r;
}

int op_delete_dns_zone(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct dns_zone_req q;
        _cleanup_json_ json_t *vpc = NULL;
        char key[DNS_KEY_MAX], prefix[DNS_KEY_MAX];
        struct rr_del x = { d, NULL, NULL, 0 };
        int r;
        if ((r = dns_zone_req_decode(req, &q, err)) < 0 || (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0)
                return r;
        dns_key_zone(key, q.vpc_id, q.name);
        if ((r = store_exists(d->store, key)) < 0)
                return err_set(err, -r, NULL, "DeleteDnsZone %s: %s", q.name, strerror(-r));
        if (r == 0) {
                /* idempotent, as the other side (Cloud Map) repeats it after a crash */
                *ret = json_pack("{s:b}", "Return", 1);
                return 0;
        }
        /* the records of the zone go too, unless a nested zone of the VPC still holds them */
        x.zone = q.name;
        dns_key_rr(prefix, q.vpc_id, NULL, NULL);
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        if ((r = store_del(d->store, key, err)) < 0 || (r = rr_delete(&x, prefix, err)) < 0 ||
            (r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        if ((r = dns_vpc_sync(d, vpc, err)) < 0)
                return r;
        log_info("op=DeleteDnsZone vpc=%s zone=%s records=%d", q.vpc_id, q.name, x.n);
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

/* The zone of the VPC that name lies in: 0, or InvalidParameterValue. */
static int name_in_zone(struct netd *d, const char *vpc_id, const char *name, struct err *err)
{
        _cleanup_json_ json_t *zones = zones_of(d, vpc_id, err);
        json_t *z;
        size_t i;
        if (!zones)
                return -EIO;
        json_array_foreach(zones, i, z)
                if (dns_name_in(name, json_string_value(z)))
                        return 0;
        return err_set(err, ENOENT, "InvalidParameterValue", "Name '%s' lies in no private zone of vpc '%s'", name, vpc_id);
}

int op_put_dns_records(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct dns_records_req q;
        _cleanup_json_ json_t *vpc = NULL, *rec = NULL;
        char key[DNS_KEY_MAX];
        int r;
        if ((r = dns_records_req_decode(req, true, &q, err)) < 0 || (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0 ||
            (r = name_in_zone(d, q.vpc_id, q.name, err)) < 0)
                return r;
        dns_key_rr(key, q.vpc_id, q.type, q.name);
        if (json_array_size(q.records) == 0)
                r = store_del(d->store, key, err);
        else {
                if (!(rec = json_pack("{s:s, s:s, s:s, s:I, s:O}", "VpcId", q.vpc_id, "Name", q.name, "Type", q.type, "Ttl",
                                      (json_int_t) q.ttl, "Records", q.records)))
                        return err_set(err, ENOMEM, NULL, "out of memory");
                r = store_put(d->store, key, rec, err);
        }
        if (r < 0)
                return r;
        log_debug("op=PutDnsRecords vpc=%s name=%s type=%s records=%zu", q.vpc_id, q.name, q.type, json_array_size(q.records));
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

int op_delete_dns_records(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct dns_records_req q;
        _cleanup_json_ json_t *vpc = NULL;
        char key[DNS_KEY_MAX];
        int r;
        if ((r = dns_records_req_decode(req, false, &q, err)) < 0 || (r = vpc_load(d, q.vpc_id, &vpc, err)) < 0)
                return r;
        dns_key_rr(key, q.vpc_id, q.type, q.name);
        if ((r = store_del(d->store, key, err)) < 0)
                return r;
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}

static int list_cb(const char *key, json_t *val, void *ud)
{
        json_t *out = ud;
        return json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:O}", "Name", json_object_get(val, "Name"), "Type",
                                                    json_object_get(val, "Type"), "Ttl", json_object_get(val, "Ttl"), "Records",
                                                    json_object_get(val, "Records"))) < 0 ? -ENOMEM : 0;
}

int op_list_dns_records(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        const char *vpc_id = NULL;
        _cleanup_json_ json_t *vpc = NULL, *out = json_array(), *zones = NULL;
        char prefix[DNS_KEY_MAX];
        int r;
        if ((r = dns_list_req_decode(req, &vpc_id, err)) < 0 || (r = vpc_load(d, vpc_id, &vpc, err)) < 0)
                return r;
        if (!out || !(zones = zones_of(d, vpc_id, err)))
                return -ENOMEM;
        dns_key_rr(prefix, vpc_id, NULL, NULL);
        if ((r = store_list(d->store, prefix, list_cb, out, err)) < 0)
                return r;
        *ret = json_pack("{s:O, s:O}", "Zones", zones, "Records", out);
        return 0;
}

int dns_vpc_records_delete(struct netd *d, const char *vpc_id, struct err *err)
{
        char prefix[DNS_KEY_MAX];
        struct rr_del x = { d, NULL, NULL, 0 };
        int r;
        dns_key_rr(prefix, vpc_id, NULL, NULL);
        if ((r = rr_delete(&x, prefix, err)) < 0)
                return r;
        dns_key_zone(prefix, vpc_id, NULL);
        return rr_delete(&x, prefix, err);
}

static bool vpc_exists(struct netd *d, const char *key, json_t *value, void *ud)
{
        _cleanup_json_ json_t *vpc = NULL;
        return record_load(d, "vpc", rec_str(value, "VpcId"), &vpc) == 0;
}

int dns_records_sweep(struct netd *d, struct err *err)
{
        int r;
        if ((r = records_sweep(d, "dnszone/", vpc_exists, NULL, "VPC (DNS zone)", err)) < 0)
                return r;
        return records_sweep(d, "dnsrr/", vpc_exists, NULL, "VPC (DNS records)", err);
}
