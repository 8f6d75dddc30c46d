/* sd_req.c: Cloud Map requests decoded and checked without the store: paging, filters, namespace
 * and service creation, DnsConfig, instance ids and attributes, DiscoverInstances (pure). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "../front/req.h"
#include "sd.h"
#include "sd_req.h"

#define ATTRS_CUSTOM_MAX 30
#define DEFAULT_SOA_TTL 15

/* front/req.c's decoders answer ECS's InvalidParameterException; Cloud Map calls that InvalidInput
 * (a wrong JSON type stays a SerializationException, as in every JSON 1.1 service). */
int sd_input(int r, struct err *err)
{
        if (r < 0 && strcmp(err->code, "InvalidParameterException") == 0)
                snprintf(err->code, sizeof err->code, "%s", SD_E_INPUT);
        return r;
}

#define in sd_input

static int bad(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct err *err, const char *fmt, ...)
{
        char msg[ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return err_set(err, EINVAL, SD_E_INPUT, "%s", msg);
}

static int str(json_t *o, const char *path, const char *key, bool required, size_t max, const char **ret, struct err *err)
{
        const char *v = NULL;
        int r = in(req_str(o, path, key, required, &v, err), err);
        if (r <= 0)
                return r;
        if (strlen(v) > max)
                return bad(err, "%s%s%s must be at most %zu characters long", path ? path : "", path ? "." : "", key, max);
        if (required && !*v)
                return bad(err, "%s%s%s must not be empty", path ? path : "", path ? "." : "", key);
        *ret = v;
        return 1;
}

static bool printable(const char *s)
{
        for (; *s; s++)
                if (*s < '!' || *s > '~')
                        return false;
        return true;
}

/* ---- paging ---- */

int sd_page_decode(json_t *req, long long dflt, long long limit, struct sd_page *ret, struct err *err)
{
        struct sd_page pg = { .max = dflt };
        const char *tok = NULL;
        char *end;
        int r;
        if ((r = in(req_int(req, NULL, "MaxResults", false, 1, limit, &pg.max, err), err)) < 0 ||
            (r = str(req, NULL, "NextToken", false, 4096, &tok, err)) < 0)
                return r;
        if (tok && *tok) {
                unsigned long long off;
                errno = 0;
                if (strncmp(tok, "ebx1.", 5) != 0 || !tok[5] || tok[5] == '-')
                        return bad(err, "Invalid NextToken '%.100s'", tok);
                off = strtoull(tok + 5, &end, 10);
                if (errno || *end || off > 1000000)
                        return bad(err, "Invalid NextToken '%.100s'", tok);
                pg.offset = (size_t) off;
        }
        *ret = pg;
        return 0;
}

void sd_page_take(const struct sd_page *pg, json_t *all, json_t **ret, json_t **ret_token)
{
        json_t *out = json_array();
        size_t n = json_array_size(all), end = pg->offset + (size_t) pg->max;
        for (size_t i = pg->offset; i < n && i < end; i++)
                json_array_append(out, json_array_get(all, i));
        *ret_token = NULL;
        if (end < n) {
                char tok[32];
                snprintf(tok, sizeof tok, "ebx1.%zu", end);
                *ret_token = json_string(tok);
        }
        *ret = out;
}

/* ---- filters ---- */

static bool one_of(const char *v, const char *const *set)
{
        for (; *set; set++)
                if (strcmp(v, *set) == 0)
                        return true;
        return false;
}

int sd_filters_decode(json_t *req, const char *const *names, const char *const *conds, struct sd_filters *ret,
                      struct err *err)
{
        struct sd_filters fs = { 0 };
        json_t *arr = NULL, *f;
        size_t i;
        int r;
        if ((r = in(req_array(req, NULL, "Filters", false, &arr, err), err)) < 0)
                return r;
        json_array_foreach(arr, i, f) {
                struct sd_filter x = { .cond = conds[0] };
                char path[32];
                json_t *v;
                size_t k;
                snprintf(path, sizeof path, "Filters[%zu]", i);
                if (!json_is_object(f))
                        return err_set(err, EINVAL, "SerializationException", "Invalid type for parameter %s: expected a structure", path);
                if (fs.n == SD_FILTERS_MAX)
                        return bad(err, "At most %d filters are allowed", SD_FILTERS_MAX);
                if ((r = str(f, path, "Name", true, 64, &x.name, err)) < 0 ||
                    (r = in(req_array(f, path, "Values", true, &x.values, err), err)) < 0 ||
                    (r = str(f, path, "Condition", false, 32, &x.cond, err)) < 0)
                        return r;
                if (!one_of(x.name, names))
                        return bad(err, "%s.Name '%s' is not a valid filter name", path, x.name);
                if (!one_of(x.cond, conds))
                        return bad(err, "%s.Condition '%s' is not supported for filter %s", path, x.cond, x.name);
                if (json_array_size(x.values) == 0)
                        return bad(err, "%s.Values must not be empty", path);
                json_array_foreach(x.values, k, v)
                        if (!json_is_string(v) || !*json_string_value(v) || strlen(json_string_value(v)) > 255)
                                return bad(err, "%s.Values[%zu] must be a string of 1 to 255 characters", path, k);
                if ((strcmp(x.cond, "EQ") == 0 || strcmp(x.cond, "BEGINS_WITH") == 0) && json_array_size(x.values) != 1)
                        return bad(err, "%s: condition %s takes exactly one value", path, x.cond);
                if (strcmp(x.cond, "BETWEEN") == 0 && json_array_size(x.values) != 2)
                        return bad(err, "%s: condition BETWEEN takes exactly two values", path);
                fs.f[fs.n++] = x;
        }
        *ret = fs;
        return 0;
}

bool sd_filter_match(const struct sd_filter *f, const char *value)
{
        json_t *v;
        size_t i;
        if (!value)
                return false;
        if (strcmp(f->cond, "BEGINS_WITH") == 0) {
                const char *p = json_string_value(json_array_get(f->values, 0));
                return strncmp(value, p, strlen(p)) == 0;
        }
        if (strcmp(f->cond, "BETWEEN") == 0) {
                double x = strtod(value, NULL), lo = strtod(json_string_value(json_array_get(f->values, 0)), NULL),
                       hi = strtod(json_string_value(json_array_get(f->values, 1)), NULL);
                return x >= lo && x <= hi;
        }
        json_array_foreach(f->values, i, v)
                if (strcmp(json_string_value(v), value) == 0)
                        return true;
        return false;
}

const struct sd_filter *sd_filters_find(const struct sd_filters *fs, const char *name)
{
        for (size_t i = 0; i < fs->n; i++)
                if (strcmp(fs->f[i].name, name) == 0)
                        return &fs->f[i];
        return NULL;
}

/* ---- namespaces ---- */

static int tags_check(json_t *req, json_t **ret, struct err *err)
{
        json_t *tags = NULL, *t;
        size_t i;
        int r;
        if ((r = in(req_array(req, NULL, "Tags", false, &tags, err), err)) < 0)
                return r;
        if (json_array_size(tags) > 200)
                return err_set(err, EINVAL, SD_E_TAGS, "At most 200 tags are allowed");
        json_array_foreach(tags, i, t) {
                const char *k = NULL, *v = NULL;
                char path[32];
                snprintf(path, sizeof path, "Tags[%zu]", i);
                if (!json_is_object(t))
                        return bad(err, "%s must be a structure {Key, Value}", path);
                if ((r = str(t, path, "Key", true, 128, &k, err)) < 0 || (r = in(req_str(t, path, "Value", true, &v, err), err)) < 0)
                        return r;
                if (strlen(v) > 256)
                        return bad(err, "%s.Value must be at most 256 characters long", path);
        }
        *ret = tags;
        return 0;
}

int sd_ns_create_decode(json_t *req, bool private_dns, struct sd_ns_create_in *ret, struct err *err)
{
        struct sd_ns_create_in o = { .soa_ttl = DEFAULT_SOA_TTL };
        json_t *props = NULL, *dnsp = NULL, *soa = NULL;
        int r;
        if ((r = str(req, NULL, "Name", true, private_dns ? 253 : 1024, &o.name, err)) < 0 ||
            (r = str(req, NULL, "CreatorRequestId", false, 64, &o.creator, err)) < 0 ||
            (r = str(req, NULL, "Description", false, 1024, &o.description, err)) < 0 || (r = tags_check(req, &o.tags, err)) < 0)
                return r;
        if (!printable(o.name))
                return bad(err, "Name '%s' is invalid: printable ASCII characters without spaces only", o.name);
        if (private_dns) {
                if ((r = str(req, NULL, "Vpc", true, 64, &o.vpc, err)) < 0 ||
                    (r = in(req_object(req, NULL, "Properties", false, &props, err), err)) < 0 ||
                    (props && (r = in(req_object(props, "Properties", "DnsProperties", true, &dnsp, err), err)) < 0) ||
                    (dnsp && (r = in(req_object(dnsp, "Properties.DnsProperties", "SOA", true, &soa, err), err)) < 0) ||
                    (soa && (r = in(req_int(soa, "Properties.DnsProperties.SOA", "TTL", true, 0, 2147483647, &o.soa_ttl, err), err)) < 0))
                        return r;
                /* a DNS name: dot-separated labels of 1 to 63 characters, a trailing dot allowed */
                if (o.name[0] == '.' || strstr(o.name, ".."))
                        return bad(err, "Name '%s' is not a valid DNS name", o.name);
                for (const char *p = o.name, *dot; *p; p = *dot ? dot + 1 : dot) {
                        dot = strchrnul(p, '.');
                        if (dot - p > 63)
                                return bad(err, "Name '%s' is not a valid DNS name: a label is longer than 63 characters", o.name);
                }
        }
        *ret = o;
        return 0;
}

/* ---- services ---- */

static bool label_ok(const char *p, size_t n)
{
        if (n == 0 || n > 63)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = p[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && c != '_' && !(c == '-' && i > 0 && i < n - 1))
                        return false;
        }
        return true;
}

bool sd_service_name_valid(const char *name)
{
        size_t len = strlen(name);
        if (strcmp(name, ".") == 0)
                return true;
        if (len == 0 || len > 127)
                return false;
        for (const char *p = name;;) {
                const char *dot = strchrnul(p, '.');
                if (!label_ok(p, (size_t) (dot - p)))
                        return false;
                if (!*dot)
                        return true;
                p = dot + 1;
        }
}

bool sd_instance_id_valid(const char *id)
{
        size_t n = strlen(id);
        if (n == 0 || n > 64)
                return false;
        for (; *id; id++) {
                char c = *id;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("_/:.@-", c)))
                        return false;
        }
        return true;
}

int sd_dns_config_decode(json_t *dc, bool change, struct sd_records *ret, struct err *err)
{
        struct sd_records o = { .routing = "MULTIVALUE" };
        const char *path = change ? "Service.DnsConfig" : "DnsConfig";
        json_t *recs = NULL, *d;
        const char *ns = NULL;
        size_t i;
        int r;
        if (!change && ((r = str(dc, path, "RoutingPolicy", false, 16, &o.routing, err)) < 0 ||
                        (r = str(dc, path, "NamespaceId", false, 64, &ns, err)) < 0))
                return r;
        if ((r = in(req_array(dc, path, "DnsRecords", true, &recs, err), err)) < 0)
                return r;
        if (strcmp(o.routing, "MULTIVALUE") != 0 && strcmp(o.routing, "WEIGHTED") != 0)
                return bad(err, "%s.RoutingPolicy '%s' is invalid: MULTIVALUE or WEIGHTED", path, o.routing);
        if (json_array_size(recs) == 0)
                return bad(err, "%s.DnsRecords must have at least one record", path);
        json_array_foreach(recs, i, d) {
                const char *type = NULL;
                long long ttl = 0;
                char p[64];
                bool *seen;
                long long *t;
                snprintf(p, sizeof p, "%s.DnsRecords[%zu]", path, i);
                if (!json_is_object(d))
                        return bad(err, "%s must be a structure {Type, TTL}", p);
                if ((r = str(d, p, "Type", true, 8, &type, err)) < 0 ||
                    (r = in(req_int(d, p, "TTL", true, 0, 2147483647, &ttl, err), err)) < 0)
                        return r;
                if (strcmp(type, "A") == 0)
                        seen = &o.a, t = &o.ttl_a;
                else if (strcmp(type, "AAAA") == 0)
                        seen = &o.aaaa, t = &o.ttl_aaaa;
                else if (strcmp(type, "SRV") == 0)
                        seen = &o.srv, t = &o.ttl_srv;
                else if (strcmp(type, "CNAME") == 0)
                        seen = &o.cname, t = &o.ttl_cname;
                else
                        return bad(err, "%s.Type '%s' is invalid: A, AAAA, SRV or CNAME", p, type);
                if (*seen)
                        return bad(err, "%s: DnsRecords can only contain one record of type %s", p, type);
                *seen = true;
                *t = ttl;
        }
        if (o.cname && (o.a || o.aaaa || o.srv))
                return bad(err, "%s.DnsRecords: a CNAME record cannot be combined with other record types", path);
        if (o.cname && strcmp(o.routing, "WEIGHTED") != 0 && !change)
                return bad(err, "%s: CNAME records require the WEIGHTED routing policy", path);
        *ret = o;
        return 0;
}

void sd_records_of(json_t *dns_config, struct sd_records *ret)
{
        struct err e = { 0 };
        struct sd_records o = { .routing = "MULTIVALUE" };
        if (dns_config && sd_dns_config_decode(dns_config, false, &o, &e) < 0)
                memset(&o, 0, sizeof o);
        if (!o.routing)
                o.routing = "MULTIVALUE";
        *ret = o;
}

int sd_svc_create_decode(json_t *req, struct sd_svc_create_in *ret, struct err *err)
{
        struct sd_svc_create_in o = { 0 };
        json_t *hc = NULL;
        long long thr = 1;
        int r;
        if ((r = str(req, NULL, "Name", true, 127, &o.name, err)) < 0 ||
            (r = str(req, NULL, "NamespaceId", false, 64, &o.namespace_id, err)) < 0 ||
            (r = str(req, NULL, "CreatorRequestId", false, 64, &o.creator, err)) < 0 ||
            (r = str(req, NULL, "Description", false, 1024, &o.description, err)) < 0 ||
            (r = str(req, NULL, "Type", false, 8, &o.type, err)) < 0 ||
            (r = in(req_object(req, NULL, "DnsConfig", false, &o.dns_config, err), err)) < 0 ||
            (r = in(req_object(req, NULL, "HealthCheckConfig", false, &hc, err), err)) < 0 ||
            (r = in(req_object(req, NULL, "HealthCheckCustomConfig", false, &o.health_custom, err), err)) < 0 ||
            (o.health_custom &&
             (r = in(req_int(o.health_custom, "HealthCheckCustomConfig", "FailureThreshold", false, 1, 10, &thr, err), err)) < 0) ||
            (r = tags_check(req, &o.tags, err)) < 0)
                return r;
        if (!sd_service_name_valid(o.name))
                return bad(err, "Name '%s' is invalid: DNS labels of letters, digits, underscores and hyphens, up to 127 characters", o.name);
        if (o.type && strcmp(o.type, "HTTP") != 0)
                return bad(err, "Type '%s' is invalid: only HTTP may be given", o.type);
        if (hc)
                return bad(err, "HealthCheckConfig (Route 53 health checks) is only supported in public DNS namespaces, which ecsbox does not have; use HealthCheckCustomConfig");
        if (o.dns_config) {
                const char *dns_ns = jstr(o.dns_config, "NamespaceId");
                if ((r = sd_dns_config_decode(o.dns_config, false, &o.rec, err)) < 0)
                        return r;
                if (o.type)
                        return bad(err, "Type HTTP cannot be combined with DnsConfig");
                if (!o.namespace_id)
                        o.namespace_id = dns_ns;
                if (o.rec.cname && o.health_custom)
                        return bad(err, "A custom health check cannot be used with CNAME records");
        }
        if (!o.namespace_id)
                return bad(err, "Missing required parameter: NamespaceId");
        *ret = o;
        return 0;
}

/* ---- instances ---- */

int sd_register_decode(json_t *req, struct sd_register_in *ret, struct err *err)
{
        struct sd_register_in o = { 0 };
        const char *k;
        json_t *v;
        int r;
        if ((r = str(req, NULL, "ServiceId", true, 64, &o.service_id, err)) < 0 ||
            (r = str(req, NULL, "InstanceId", true, 64, &o.instance_id, err)) < 0 ||
            (r = str(req, NULL, "CreatorRequestId", false, 64, &o.creator, err)) < 0 ||
            (r = in(req_object(req, NULL, "Attributes", true, &o.attrs, err), err)) < 0)
                return r;
        if (!sd_instance_id_valid(o.instance_id))
                return bad(err, "InstanceId '%s' is invalid: 1 to 64 of [0-9a-zA-Z_/:.@-]", o.instance_id);
        json_object_foreach(o.attrs, k, v) {
                if (!json_is_string(v))
                        return err_set(err, EINVAL, "SerializationException", "Invalid type for parameter Attributes.%s: expected a string", k);
                if (!*k || strlen(k) > 255 || !printable(k))
                        return bad(err, "Attribute key '%.64s' is invalid: 1 to 255 printable characters", k);
                if (strlen(json_string_value(v)) > 1024)
                        return bad(err, "Attribute %s: the value is longer than 1024 characters", k);
        }
        *ret = o;
        return 0;
}

static bool aws_key(const char *k)
{
        return strcmp(k, "AWS_INSTANCE_IPV4") == 0 || strcmp(k, "AWS_INSTANCE_IPV6") == 0 || strcmp(k, "AWS_INSTANCE_PORT") == 0 ||
               strcmp(k, "AWS_INSTANCE_CNAME") == 0 || strcmp(k, "AWS_INIT_HEALTH_STATUS") == 0 ||
               strcmp(k, "AWS_ALIAS_DNS_NAME") == 0 || strcmp(k, "AWS_EC2_INSTANCE_ID") == 0;
}

int sd_attributes_check(json_t *attrs, const struct sd_records *rec, bool custom_health, struct err *err)
{
        const char *v4 = jstr(attrs, "AWS_INSTANCE_IPV4"), *v6 = jstr(attrs, "AWS_INSTANCE_IPV6"),
                   *port = jstr(attrs, "AWS_INSTANCE_PORT"), *cname = jstr(attrs, "AWS_INSTANCE_CNAME"),
                   *init = jstr(attrs, "AWS_INIT_HEALTH_STATUS"), *k;
        unsigned char buf[16];
        size_t custom = 0;
        json_t *v;
        json_object_foreach(attrs, k, v)
                if (!aws_key(k))
                        custom++;
        if (custom > ATTRS_CUSTOM_MAX)
                return bad(err, "Too many custom attributes: %zu, at most %d are allowed", custom, ATTRS_CUSTOM_MAX);
        if (v4 && inet_pton(AF_INET, v4, buf) != 1)
                return bad(err, "AWS_INSTANCE_IPV4 '%s' is not a valid IPv4 address", v4);
        if (v6 && inet_pton(AF_INET6, v6, buf) != 1)
                return bad(err, "AWS_INSTANCE_IPV6 '%s' is not a valid IPv6 address", v6);
        if (port) {
                char *end;
                long p = strtol(port, &end, 10);
                if (!*port || *end || p < 0 || p > 65535)
                        return bad(err, "AWS_INSTANCE_PORT '%s' is not a valid port (0 to 65535)", port);
        }
        if (rec->a && !v4)
                return bad(err, "Instance must have AWS_INSTANCE_IPV4 attribute: the service has an A record");
        if (rec->aaaa && !v6)
                return bad(err, "Instance must have AWS_INSTANCE_IPV6 attribute: the service has an AAAA record");
        if (rec->srv && !port)
                return bad(err, "Instance must have AWS_INSTANCE_PORT attribute: the service has an SRV record");
        if (rec->srv && !v4 && !v6)
                return bad(err, "Instance must have AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6 attribute: the service has an SRV record");
        if (rec->cname && !cname)
                return bad(err, "Instance must have AWS_INSTANCE_CNAME attribute: the service has a CNAME record");
        if (init && !custom_health)
                return bad(err, "AWS_INIT_HEALTH_STATUS can only be set for a service with a custom health check");
        if (init && strcmp(init, "HEALTHY") != 0 && strcmp(init, "UNHEALTHY") != 0)
                return bad(err, "AWS_INIT_HEALTH_STATUS '%s' is invalid: HEALTHY or UNHEALTHY", init);
        return 0;
}

static int attrs_member(json_t *req, const char *key, json_t **ret, struct err *err)
{
        const char *k;
        json_t *o = NULL, *v;
        int r;
        if ((r = in(req_object(req, NULL, key, false, &o, err), err)) < 0)
                return r;
        json_object_foreach(o, k, v)
                if (!json_is_string(v))
                        return err_set(err, EINVAL, "SerializationException", "Invalid type for parameter %s.%s: expected a string", key, k);
        *ret = o;
        return 0;
}

int sd_discover_decode(json_t *req, struct sd_discover_in *ret, struct err *err)
{
        static const char *const health[] = { "HEALTHY", "UNHEALTHY", "ALL", "HEALTHY_OR_ELSE_ALL", NULL };
        struct sd_discover_in o = { .health = "HEALTHY", .max = 100 };
        int r;
        if ((r = str(req, NULL, "NamespaceName", true, 1024, &o.ns_name, err)) < 0 ||
            (r = str(req, NULL, "ServiceName", true, 127, &o.svc_name, err)) < 0 ||
            (r = in(req_int(req, NULL, "MaxResults", false, 1, 1000, &o.max, err), err)) < 0 ||
            (r = str(req, NULL, "HealthStatus", false, 32, &o.health, err)) < 0 || (r = attrs_member(req, "QueryParameters", &o.query, err)) < 0 ||
            (r = attrs_member(req, "OptionalParameters", &o.optional, err)) < 0)
                return r;
        if (!one_of(o.health, health))
                return bad(err, "HealthStatus '%s' is invalid: HEALTHY, UNHEALTHY, ALL or HEALTHY_OR_ELSE_ALL", o.health);
        *ret = o;
        return 0;
}

bool sd_attrs_match(json_t *attrs, json_t *params)
{
        const char *k;
        json_t *v;
        json_object_foreach(params, k, v) {
                const char *have = jstr(attrs, k);
                if (!have || strcmp(have, json_string_value(v)) != 0)
                        return false;
        }
        return true;
}
