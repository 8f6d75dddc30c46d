/* lb_req.c: the requests of the load-balancer data plane ops. Pure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cidr.h"
#include "ecsbox/json.h"
#include "lb_req.h"
#include "req.h"

static const char *const proto_names[] = { "TCP", "UDP", "TCP_UDP", "HTTP" };

int lb_proto_parse(const char *s)
{
        for (int i = 0; s && i < (int) (sizeof proto_names / sizeof *proto_names); i++)
                if (strcmp(s, proto_names[i]) == 0)
                        return i;
        return -1;
}

const char *lb_proto_name(int p)
{
        return p >= 0 && p <= LB_HTTP ? proto_names[p] : "?";
}

bool lb_id_valid(const char *s)
{
        if (!s || strlen(s) != LB_ID_LEN)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static int get_lb_id(json_t *req, const char *member, bool required, const char **ret, struct err *err)
{
        const char *s = NULL;
        int r = json_get_string(req, member, required, &s, err);
        if (r <= 0)
                return r;
        if (!lb_id_valid(s))
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter %s is invalid: expected 16 lowercase hex digits", s,
                               member);
        *ret = s;
        return 1;
}

/* An id list member: strings, each an id of prefix, no duplicates, 1..max of them when required. */
static int id_list(json_t *req, const char *member, bool required, const char *prefix, const char *code, size_t max, json_t **ret,
                   struct err *err)
{
        json_t *a = NULL, *v;
        size_t i;
        int r;
        if ((r = req_ids(req, member, prefix, code, &a, err)) < 0)
                return r;
        if (!a && required)
                return err_set(err, EINVAL, JERR_MISSING, "The request must contain the parameter %s", member);
        if (a && required && json_array_size(a) == 0)
                return err_set(err, EINVAL, JERR_INVALID, "%s must name at least one id", member);
        if (a && json_array_size(a) > max)
                return err_set(err, EINVAL, JERR_INVALID, "%s names %zu ids: at most %zu", member, json_array_size(a), max);
        json_array_foreach(a, i, v)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(json_string_value(v), json_string_value(json_array_get(a, j))) == 0)
                                return err_set(err, EINVAL, JERR_INVALID, "%s names '%s' twice", member, json_string_value(v));
        *ret = a;
        return 0;
}

int lb_net_req_decode(json_t *req, struct lb_net_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "LoadBalancerId", "Name", "Type", "Scheme", "VpcId", "SubnetIds",
                                            "SecurityGroups", NULL };
        struct lb_net_req q = { 0 };
        const char *type = NULL, *scheme = NULL;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = get_lb_id(req, "LoadBalancerId", true, &q.lb_id, err)) < 0 ||
            (r = json_get_string(req, "Name", true, &q.name, err)) < 0 || (r = json_get_string(req, "Type", false, &type, err)) < 0 ||
            (r = json_get_string(req, "Scheme", false, &scheme, err)) < 0 ||
            (r = req_id(req, "VpcId", true, "vpc", "InvalidVpcID.Malformed", false, &q.vpc_id, err)) < 0 ||
            (r = id_list(req, "SubnetIds", true, "subnet", "InvalidSubnetID.Malformed", LB_SUBNETS_MAX, &q.subnets, err)) < 0 ||
            (r = id_list(req, "SecurityGroups", false, "sg", "InvalidGroupId.Malformed", 5, &q.groups, err)) < 0)
                return r;
        /* ELB names: 1..32 of [A-Za-z0-9-], not starting or ending with '-' */
        if (q.name[0] == '\0' || strlen(q.name) > 32 || q.name[0] == '-' || q.name[strlen(q.name) - 1] == '-' ||
            strspn(q.name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(q.name))
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter Name is invalid: 1 to 32 letters, digits or "
                               "hyphens, not starting or ending with a hyphen", q.name);
        if (type && strcmp(type, "network") != 0 && strcmp(type, "application") != 0)
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter Type is invalid: expected network or application", type);
        if (scheme && strcmp(scheme, "internal") != 0 && strcmp(scheme, "internet-facing") != 0)
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter Scheme is invalid: expected internal or internet-facing",
                               scheme);
        q.application = type && strcmp(type, "application") == 0;
        q.internal = scheme && strcmp(scheme, "internal") == 0;
        *ret = q;
        return 0;
}

int lb_id_req_decode(json_t *req, const char *member, const char **ret_id, struct err *err)
{
        const char *keys[] = { "Action", member, NULL };
        const char *id = NULL;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = get_lb_id(req, member, true, &id, err)) < 0)
                return r;
        *ret_id = id;
        return 0;
}

/* "traffic-port" -> 0, or a port number in a string (as ELBv2 sends it) or a number. */
static int hc_port(json_t *hc, uint16_t *ret, struct err *err)
{
        json_t *v = json_object_get(hc, "Port");
        const char *s;
        char *end;
        long p;
        if (!v || json_is_null(v)) {
                *ret = 0;
                return 0;
        }
        if (json_is_integer(v))
                p = (long) json_integer_value(v);
        else if (json_is_string(v)) {
                s = json_string_value(v);
                if (strcmp(s, "traffic-port") == 0) {
                        *ret = 0;
                        return 0;
                }
                errno = 0;
                p = strtol(s, &end, 10);
                if (errno || end == s || *end)
                        p = -1;
        } else
                p = -1;
        if (p < 1 || p > 65535)
                return err_set(err, EINVAL, JERR_INVALID, "HealthCheck.Port must be traffic-port or 1 to 65535");
        *ret = (uint16_t) p;
        return 0;
}

/* "200", "200,202", "200-399": codes 100..599. */
static bool matcher_valid(const char *m)
{
        const char *p = m;
        if (!*p)
                return false;
        while (*p) {
                char *end;
                long lo = strtol(p, &end, 10), hi = lo;
                if (end == p || lo < 100 || lo > 599)
                        return false;
                p = end;
                if (*p == '-') {
                        hi = strtol(p + 1, &end, 10);
                        if (end == p + 1 || hi < lo || hi > 599)
                                return false;
                        p = end;
                }
                if (*p == ',')
                        p++;
                else if (*p)
                        return false;
        }
        return p[-1] != ',';
}

static int hc_decode(json_t *hc, bool http_traffic, struct lb_health_check *ret, struct err *err)
{
        static const char *const keys[] = { "Protocol", "Port", "Path", "IntervalSeconds", "TimeoutSeconds", "HealthyThresholdCount",
                                            "UnhealthyThresholdCount", "Matcher", "Enabled", NULL };
        struct lb_health_check h = { .http = http_traffic, .path = "/", .matcher = "200-399", .interval = 30,
                                     .timeout = http_traffic ? 6 : 10, .healthy = 5, .unhealthy = 2 };
        const char *proto = NULL;
        long long v;
        int r;
        if (hc) {
                if (!json_is_object(hc))
                        return err_set(err, EINVAL, JERR_INVALID, "HealthCheck must be an object");
                if ((r = hc_port(hc, &h.port, err)) < 0)
                        return r;
                if ((r = json_check_keys(hc, keys, err)) < 0 || (r = json_get_string(hc, "Protocol", false, &proto, err)) < 0 ||
                    (r = json_get_string(hc, "Path", false, &h.path, err)) < 0 ||
                    (r = json_get_string(hc, "Matcher", false, &h.matcher, err)) < 0)
                        return err_wrap(err, "HealthCheck");
                if (proto && strcmp(proto, "TCP") != 0 && strcmp(proto, "HTTP") != 0)
                        return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter HealthCheck.Protocol is invalid: expected TCP or HTTP",
                                       proto);
                if (proto)
                        h.http = strcmp(proto, "HTTP") == 0;
                /* netd takes intervals down to 1 s (tests); ecsboxd keeps ELBv2's own 5..300 */
                if ((r = json_get_int(hc, "IntervalSeconds", false, 1, 300, &v, err)) < 0)
                        return err_wrap(err, "HealthCheck");
                if (r > 0)
                        h.interval = (int) v;
                if ((r = json_get_int(hc, "TimeoutSeconds", false, 1, 120, &v, err)) < 0)
                        return err_wrap(err, "HealthCheck");
                if (r > 0)
                        h.timeout = (int) v;
                if ((r = json_get_int(hc, "HealthyThresholdCount", false, 1, 10, &v, err)) < 0)
                        return err_wrap(err, "HealthCheck");
                if (r > 0)
                        h.healthy = (int) v;
                if ((r = json_get_int(hc, "UnhealthyThresholdCount", false, 1, 10, &v, err)) < 0)
                        return err_wrap(err, "HealthCheck");
                if (r > 0)
                        h.unhealthy = (int) v;
        }
        if (h.timeout > h.interval)
                return err_set(err, EINVAL, JERR_INVALID, "HealthCheck.TimeoutSeconds (%d) must not exceed IntervalSeconds (%d)", h.timeout,
                               h.interval);
        if (h.path[0] != '/' || strlen(h.path) > 1024)
                return err_set(err, EINVAL, JERR_INVALID, "HealthCheck.Path must start with '/' (at most 1024 characters)");
        if (!matcher_valid(h.matcher))
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter HealthCheck.Matcher is invalid: expected codes or "
                               "ranges such as 200,202 or 200-399", h.matcher);
        *ret = h;
        return 0;
}

int lb_tg_req_decode(json_t *req, struct lb_tg_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "TargetGroupId", "VpcId", "Protocol", "Port", "PreserveClientIp",
                                            "DeregistrationDelaySeconds", "HealthCheck", NULL };
        struct lb_tg_req q = { .dereg_delay = 300 };
        const char *proto = NULL;
        json_t *hc = NULL;
        long long v = 0;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = get_lb_id(req, "TargetGroupId", true, &q.tg_id, err)) < 0 ||
            (r = req_id(req, "VpcId", true, "vpc", "InvalidVpcID.Malformed", false, &q.vpc_id, err)) < 0 ||
            (r = json_get_string(req, "Protocol", true, &proto, err)) < 0 || (r = json_get_int(req, "Port", true, 1, 65535, &v, err)) < 0 ||
            (r = json_get_bool(req, "PreserveClientIp", false, &q.preserve_client_ip, err)) < 0)
                return r;
        q.port = (uint16_t) v;
        if ((q.proto = lb_proto_parse(proto)) < 0)
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter Protocol is invalid: expected TCP, UDP, TCP_UDP or HTTP",
                               proto);
        if ((r = json_get_int(req, "DeregistrationDelaySeconds", false, 0, 3600, &v, err)) < 0)
                return r;
        if (r > 0)
                q.dereg_delay = (int) v;
        hc = json_object_get(req, "HealthCheck");
        if ((r = hc_decode(json_is_null(hc) ? NULL : hc, q.proto == LB_HTTP, &q.hc, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int lb_targets_req_decode(json_t *req, struct lb_targets_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "TargetGroupId", "Targets", NULL };
        static const char *const tkeys[] = { "Id", "Port", "AvailabilityZone", NULL };
        json_t *a = NULL, *t;
        size_t i;
        int r;
        ret->n = 0;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = get_lb_id(req, "TargetGroupId", true, &ret->tg_id, err)) < 0 ||
            (r = json_get_array(req, "Targets", true, &a, err)) < 0)
                return r;
        if (json_array_size(a) == 0 || json_array_size(a) > LB_TARGETS_MAX)
                return err_set(err, EINVAL, JERR_INVALID, "Targets must list 1 to %d targets (got %zu)", LB_TARGETS_MAX, json_array_size(a));
        json_array_foreach(a, i, t) {
                struct lb_target *x = &ret->v[ret->n];
                const char *id = NULL;
                long long port = 0;
                if (!json_is_object(t))
                        return err_set(err, EINVAL, JERR_INVALID, "Targets.%zu must be an object", i + 1);
                if ((r = json_check_keys(t, tkeys, err)) < 0 || (r = json_get_string(t, "Id", true, &id, err)) < 0 ||
                    (r = json_get_int(t, "Port", false, 1, 65535, &port, err)) < 0)
                        return err_wrap(err, "Targets.%zu", i + 1);
                /* ip targets only: ecsboxd turns instance targets into the instance's address */
                if (ip4_parse(id, &x->ip) < 0)
                        return err_set(err, EINVAL, JERR_INVALID, "Targets.%zu.Id '%s' is not an IPv4 address (netd takes ip targets)", i + 1,
                                       id);
                x->port = (uint16_t) port;
                for (size_t j = 0; j < ret->n; j++)
                        if (ret->v[j].ip == x->ip && ret->v[j].port == x->port)
                                return err_set(err, EINVAL, JERR_INVALID, "Targets names %s:%lld twice", id, port);
                ret->n++;
        }
        return 0;
}

int lb_listener_req_decode(json_t *req, struct lb_listener_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "LoadBalancerId", "ListenerId", "Protocol", "Port", "TargetGroupId", NULL };
        struct lb_listener_req q = { 0 };
        const char *proto = NULL;
        long long v = 0;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = get_lb_id(req, "LoadBalancerId", true, &q.lb_id, err)) < 0 ||
            (r = get_lb_id(req, "ListenerId", true, &q.listener_id, err)) < 0 ||
            (r = get_lb_id(req, "TargetGroupId", true, &q.tg_id, err)) < 0 || (r = json_get_string(req, "Protocol", true, &proto, err)) < 0 ||
            (r = json_get_int(req, "Port", true, 1, 65535, &v, err)) < 0)
                return r;
        q.port = (uint16_t) v;
        q.proto = lb_proto_parse(proto);
        if (q.proto != LB_TCP && q.proto != LB_UDP && q.proto != LB_TCP_UDP)
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter Protocol is invalid: a network load balancer's "
                               "listener is TCP, UDP or TCP_UDP here", proto);
        *ret = q;
        return 0;
}
