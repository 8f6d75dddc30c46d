/* elb_req.c: the pure checks of ELBv2 requests (names, ARNs, paging, health checks, target group
 * attributes, actions, conditions, tags). No store, no netd. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "elb_req.h"

#define PAGE_MAX 400
#define TAGS_MAX 50

int elb_name_check(const char *what, const char *name, bool lb, struct err *err)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > 32)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "%s name '%.64s' must be 1 to 32 characters long", what, name ? name : "");
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) name[i]) && name[i] != '-')
                        return err_set(err, EINVAL, ELB_E_VALIDATION,
                                       "%s name '%.64s' can only contain characters that are alphanumeric characters or hyphens(-)", what,
                                       name);
        if (name[0] == '-' || name[n - 1] == '-')
                return err_set(err, EINVAL, ELB_E_VALIDATION, "%s name '%.64s' cannot begin or end with a hyphen", what, name);
        if (lb && strncmp(name, "internal-", 9) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Load balancer name '%.64s' cannot begin with 'internal-'", name);
        return 0;
}

static const char *kind_word(enum elb_kind kind)
{
        switch (kind) {
        case ELB_LB:
                return "load balancer";
        case ELB_TG:
                return "target group";
        case ELB_LISTENER:
                return "listener";
        default:
                return "rule";
        }
}

/* arn:aws:elasticloadbalancing:REGION:ACCOUNT:RESOURCE, RESOURCE by kind:
 * loadbalancer/(app|net)/NAME/ID, targetgroup/NAME/ID, listener/(app|net)/NAME/LBID/ID,
 * listener-rule/(app|net)/NAME/LBID/LID/ID. */
int elb_arn_id(enum elb_kind kind, const char *arn, char id[ELB_ID_MAX], struct err *err)
{
        static const char *const type[] = { "loadbalancer/", "targetgroup/", "listener/", "listener-rule/" };
        static const int parts[] = { 4, 3, 5, 6 };
        const char *p = arn, *res, *last;
        int colons = 0, slashes = 0;
        if (!arn || strncmp(arn, "arn:", 4) != 0 || strlen(arn) > 600)
                goto bad;
        for (res = arn; *res && colons < 5; res++)
                if (*res == ':')
                        colons++;
        if (colons < 5 || strncmp(arn, "arn:aws:elasticloadbalancing:", 29) != 0)
                goto bad;
        if (strncmp(res, type[kind], strlen(type[kind])) != 0)
                goto bad;
        for (p = res; *p; p++)
                if (*p == '/')
                        slashes++;
        if (slashes + 1 != parts[kind])
                goto bad;
        if (kind != ELB_TG) {
                const char *t = res + strlen(type[kind]);
                if (strncmp(t, "app/", 4) != 0 && strncmp(t, "net/", 4) != 0)
                        goto bad;
        }
        last = strrchr(res, '/') + 1;
        if (strlen(last) != ELB_ID_LEN)
                goto bad;
        for (p = last; *p; p++)
                if (!isxdigit((unsigned char) *p) || isupper((unsigned char) *p))
                        goto bad;
        memcpy(id, last, ELB_ID_LEN + 1);
        return 0;
bad:
        return err_set(err, EINVAL, ELB_E_VALIDATION, "'%.300s' is not a valid %s ARN", arn ? arn : "", kind_word(kind));
}

int elb_page_decode(json_t *req, size_t *ret_offset, size_t *ret_size, struct err *err)
{
        json_t *ps = json_object_get(req, "PageSize");
        const char *marker = jstr(req, "Marker");
        size_t offset = 0, size = PAGE_MAX;
        if (ps) {
                long long n = json_integer_value(ps);
                if (!json_is_integer(ps) || n < 1 || n > PAGE_MAX)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "1 validation error detected: Value '%lld' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and %d",
                                       n, PAGE_MAX);
                size = (size_t) n;
        }
        if (marker && *marker) {
                char *end = NULL;
                unsigned long long o;
                errno = 0;
                o = strtoull(marker + (marker[0] == 'm' ? 1 : 0), &end, 10);
                if (marker[0] != 'm' || errno || end == marker + 1 || *end || o > 1000000)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "The marker '%.100s' is not valid", marker);
                offset = (size_t) o;
        }
        *ret_offset = offset;
        *ret_size = size;
        return 0;
}

bool elb_proto_network(const char *protocol)
{
        return protocol && (!strcmp(protocol, "TCP") || !strcmp(protocol, "UDP") || !strcmp(protocol, "TCP_UDP") || !strcmp(protocol, "TLS"));
}

static bool proto_http(const char *p)
{
        return p && (!strcmp(p, "HTTP") || !strcmp(p, "HTTPS"));
}

static int int_member(json_t *req, const char *key, long long min, long long max, json_t *tg, struct err *err)
{
        json_t *v = json_object_get(req, key);
        if (!v)
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "%s must be between %lld and %lld", key, min, max);
        json_object_set(tg, key, v);
        return 0;
}

/* HTTP codes of a Matcher: "200", "200,202", "200-299", each 200-499 (ALB) / 200-599 (NLB). */
static int matcher_check(const char *codes, struct err *err)
{
        const char *p = codes;
        if (!codes || !*codes || strlen(codes) > 64)
                goto bad;
        while (*p) {
                char *end;
                long a = strtol(p, &end, 10), b = a;
                if (end == p || a < 200 || a > 599)
                        goto bad;
                p = end;
                if (*p == '-') {
                        b = strtol(p + 1, &end, 10);
                        if (end == p + 1 || b < a || b > 599)
                                goto bad;
                        p = end;
                }
                if (*p == ',')
                        p++;
                else if (*p)
                        goto bad;
        }
        return 0;
bad:
        return err_set(err, EINVAL, ELB_E_VALIDATION, "Health check matcher HTTP code '%.64s' must be a value between 200 and 499 (a list like '200,202' or a range like '200-299')",
                       codes ? codes : "");
}

int elb_tg_health_apply(json_t *tg, json_t *req, bool create, struct err *err)
{
        const char *proto = jstr(tg, "Protocol");
        bool network = elb_proto_network(proto);
        const char *hp = jstr(req, "HealthCheckProtocol"), *port = jstr(req, "HealthCheckPort"), *path = jstr(req, "HealthCheckPath");
        json_t *matcher = json_object_get(req, "Matcher");
        int r;
        if (create) {
                const char *dproto = network ? "TCP" : (proto && !strcmp(proto, "HTTPS") ? "HTTPS" : "HTTP");
                json_object_set_new(tg, "HealthCheckProtocol", json_string(dproto));
                json_object_set_new(tg, "HealthCheckPort", json_string("traffic-port"));
                json_object_set_new(tg, "HealthCheckEnabled", json_true());
                json_object_set_new(tg, "HealthCheckIntervalSeconds", json_integer(30));
                json_object_set_new(tg, "HealthCheckTimeoutSeconds", json_integer(network ? 10 : 5));
                json_object_set_new(tg, "HealthyThresholdCount", json_integer(5));
                json_object_set_new(tg, "UnhealthyThresholdCount", json_integer(2));
        }
        if (hp) {
                if (strcmp(hp, "TCP") && strcmp(hp, "HTTP") && strcmp(hp, "HTTPS"))
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Health check protocol '%.32s' must be one of HTTP, HTTPS, TCP", hp);
                if (!network && !strcmp(hp, "TCP"))
                        return err_set(err, EINVAL, ELB_E_CONFIG, "Health check protocol TCP is not supported for target groups with the %s protocol",
                                       proto ? proto : "");
                if (network && !strcmp(hp, "HTTPS"))
                        return err_set(err, EINVAL, ELB_E_CONFIG, "Health check protocol HTTPS is not supported by ecsbox's network load balancers");
                json_object_set_new(tg, "HealthCheckProtocol", json_string(hp));
                if (create && network && strcmp(hp, "TCP"))
                        json_object_set_new(tg, "HealthCheckTimeoutSeconds", json_integer(6));
        }
        if (port) {
                char *end = NULL;
                long n = strtol(port, &end, 10);
                if (strcmp(port, "traffic-port") && (end == port || *end || n < 1 || n > 65535))
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Health check port '%.32s' must be 'traffic-port' or a port between 1 and 65535",
                                       port);
                json_object_set_new(tg, "HealthCheckPort", json_string(port));
        }
        if (json_object_get(req, "HealthCheckEnabled")) {
                if (!json_is_true(json_object_get(req, "HealthCheckEnabled")))
                        return err_set(err, EINVAL, ELB_E_CONFIG, "Health checks cannot be disabled for target groups with target type instance or ip");
        }
        if ((r = int_member(req, "HealthCheckIntervalSeconds", 5, 300, tg, err)) < 0 ||
            (r = int_member(req, "HealthCheckTimeoutSeconds", 2, 120, tg, err)) < 0 ||
            (r = int_member(req, "HealthyThresholdCount", 2, 10, tg, err)) < 0 ||
            (r = int_member(req, "UnhealthyThresholdCount", 2, 10, tg, err)) < 0)
                return r;
        if (jint(tg, "HealthCheckTimeoutSeconds", 0) >= jint(tg, "HealthCheckIntervalSeconds", 0))
                return err_set(err, EINVAL, ELB_E_CONFIG, "Health check timeout (%lld) must be smaller than the interval (%lld)",
                               jint(tg, "HealthCheckTimeoutSeconds", 0), jint(tg, "HealthCheckIntervalSeconds", 0));
        bool http = proto_http(jstr(tg, "HealthCheckProtocol"));
        if (path) {
                if (!http)
                        return err_set(err, EINVAL, ELB_E_CONFIG, "A health check path is only allowed with HTTP or HTTPS health checks");
                if (path[0] != '/' || strlen(path) > 1024)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Health check path '%.64s' must start with '/' and be at most 1024 characters", path);
                json_object_set_new(tg, "HealthCheckPath", json_string(path));
        }
        if (matcher) {
                const char *codes = jstr(matcher, "HttpCode");
                if (!http)
                        return err_set(err, EINVAL, ELB_E_CONFIG, "A health check matcher is only allowed with HTTP or HTTPS health checks");
                if (jstr(matcher, "GrpcCode"))
                        return err_set(err, EINVAL, ELB_E_CONFIG, "GrpcCode matchers are not supported by ecsbox");
                if ((r = matcher_check(codes, err)) < 0)
                        return r;
                json_object_set_new(tg, "Matcher", json_pack("{s:s}", "HttpCode", codes));
        }
        if (http) {
                if (!jstr(tg, "HealthCheckPath"))
                        json_object_set_new(tg, "HealthCheckPath", json_string("/"));
                if (!json_object_get(tg, "Matcher"))
                        json_object_set_new(tg, "Matcher", json_pack("{s:s}", "HttpCode", network ? "200-399" : "200"));
        } else {
                json_object_del(tg, "HealthCheckPath");
                json_object_del(tg, "Matcher");
        }
        return 0;
}

/* ---- target group attributes ---- */

enum attr_kind { A_BOOL, A_INT, A_ENUM, A_STR, A_COUNT, A_PCT };
struct attr_def {
        const char *key;
        enum attr_kind kind;
        long min, max;
        const char *values;             /* A_ENUM: "a|b|c" */
        int lb;                         /* 0 both, 1 application only, 2 network only */
};

static const struct attr_def ATTRS[] = {
        { "deregistration_delay.timeout_seconds", A_INT, 0, 3600, NULL, 0 },
        { "stickiness.enabled", A_BOOL, 0, 0, NULL, 0 },
        { "stickiness.type", A_ENUM, 0, 0, "lb_cookie|app_cookie|source_ip|source_ip_dest_ip|source_ip_dest_ip_proto", 0 },
        { "load_balancing.cross_zone.enabled", A_ENUM, 0, 0, "true|false|use_load_balancer_configuration", 0 },
        { "target_group_health.dns_failover.minimum_healthy_targets.count", A_COUNT, 1, 0, NULL, 0 },
        { "target_group_health.dns_failover.minimum_healthy_targets.percentage", A_PCT, 1, 100, NULL, 0 },
        { "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", A_INT, 1, 1000000, NULL, 0 },
        { "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", A_PCT, 1, 100, NULL, 0 },
        { "load_balancing.algorithm.type", A_ENUM, 0, 0, "round_robin|least_outstanding_requests|weighted_random", 1 },
        { "load_balancing.algorithm.anomaly_mitigation", A_ENUM, 0, 0, "on|off", 1 },
        { "slow_start.duration_seconds", A_INT, 0, 900, NULL, 1 },
        { "stickiness.lb_cookie.duration_seconds", A_INT, 1, 604800, NULL, 1 },
        { "stickiness.app_cookie.duration_seconds", A_INT, 1, 604800, NULL, 1 },
        { "stickiness.app_cookie.cookie_name", A_STR, 0, 0, NULL, 1 },
        { "preserve_client_ip.enabled", A_BOOL, 0, 0, NULL, 2 },
        { "proxy_protocol_v2.enabled", A_BOOL, 0, 0, NULL, 2 },
        { "deregistration_delay.connection_termination.enabled", A_BOOL, 0, 0, NULL, 2 },
        { "target_health_state.unhealthy.connection_termination.enabled", A_BOOL, 0, 0, NULL, 2 },
        { "target_health_state.unhealthy.draining_interval_seconds", A_INT, 0, 360000, NULL, 2 },
};

json_t *elb_tg_attributes_default(json_t *tg)
{
        const char *proto = jstr(tg, "Protocol");
        bool network = elb_proto_network(proto);
        bool udp = proto && (!strcmp(proto, "UDP") || !strcmp(proto, "TCP_UDP"));
        bool ip = !strcmp(jstr(tg, "TargetType") ?: "", "ip");
        json_t *a = json_object();
        if (!a)
                return NULL;
        json_object_set_new(a, "deregistration_delay.timeout_seconds", json_string("300"));
        json_object_set_new(a, "stickiness.enabled", json_string("false"));
        json_object_set_new(a, "stickiness.type", json_string(network ? "source_ip" : "lb_cookie"));
        json_object_set_new(a, "load_balancing.cross_zone.enabled", json_string("use_load_balancer_configuration"));
        json_object_set_new(a, "target_group_health.dns_failover.minimum_healthy_targets.count", json_string("1"));
        json_object_set_new(a, "target_group_health.dns_failover.minimum_healthy_targets.percentage", json_string("off"));
        json_object_set_new(a, "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", json_string("1"));
        json_object_set_new(a, "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", json_string("off"));
        if (network) {
                json_object_set_new(a, "preserve_client_ip.enabled", json_string(ip && !udp ? "false" : "true"));
                json_object_set_new(a, "proxy_protocol_v2.enabled", json_string("false"));
                json_object_set_new(a, "deregistration_delay.connection_termination.enabled", json_string(udp ? "true" : "false"));
                json_object_set_new(a, "target_health_state.unhealthy.connection_termination.enabled", json_string("true"));
                json_object_set_new(a, "target_health_state.unhealthy.draining_interval_seconds", json_string("0"));
        } else {
                json_object_set_new(a, "load_balancing.algorithm.type", json_string("round_robin"));
                json_object_set_new(a, "load_balancing.algorithm.anomaly_mitigation", json_string("off"));
                json_object_set_new(a, "slow_start.duration_seconds", json_string("0"));
                json_object_set_new(a, "stickiness.lb_cookie.duration_seconds", json_string("86400"));
                json_object_set_new(a, "stickiness.app_cookie.duration_seconds", json_string("86400"));
                json_object_set_new(a, "stickiness.app_cookie.cookie_name", json_string(""));
        }
        return a;
}

static bool enum_has(const char *values, const char *v)
{
        size_t n = strlen(v);
        for (const char *p = values; p && *p;) {
                const char *bar = strchr(p, '|');
                size_t len = bar ? (size_t) (bar - p) : strlen(p);
                if (len == n && strncmp(p, v, n) == 0)
                        return true;
                p = bar ? bar + 1 : NULL;
        }
        return false;
}

static int attr_value_check(const struct attr_def *d, const char *v, struct err *err)
{
        char *end = NULL;
        long n;
        switch (d->kind) {
        case A_BOOL:
                if (strcmp(v, "true") && strcmp(v, "false"))
                        break;
                return 0;
        case A_ENUM:
                if (!enum_has(d->values, v))
                        break;
                return 0;
        case A_STR:
                if (strlen(v) > 256)
                        break;
                return 0;
        case A_PCT:
                if (!strcmp(v, "off"))
                        return 0;
                /* fall through */
        case A_COUNT:
                if (d->kind == A_COUNT && !strcmp(v, "off"))
                        return 0;
                /* fall through */
        case A_INT:
                errno = 0;
                n = strtol(v, &end, 10);
                if (errno || end == v || *end || n < d->min || (d->max && n > d->max))
                        break;
                return 0;
        }
        return err_set(err, EINVAL, ELB_E_VALIDATION, "The value '%.100s' of target group attribute '%s' is not valid", v, d->key);
}

int elb_tg_attributes_apply(json_t *tg, json_t *attrs, json_t *given, struct err *err)
{
        bool network = elb_proto_network(jstr(tg, "Protocol"));
        json_t *a;
        size_t i;
        int r;
        if (!json_is_array(given) || json_array_size(given) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Attributes must contain at least one attribute");
        json_array_foreach(given, i, a) {
                const char *k = jstr(a, "Key"), *v = jstr(a, "Value");
                const struct attr_def *d = NULL;
                if (!k || !v)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Attributes[%zu]: Key and Value are required", i + 1);
                for (size_t j = 0; j < sizeof ATTRS / sizeof ATTRS[0]; j++)
                        if (!strcmp(ATTRS[j].key, k))
                                d = &ATTRS[j];
                if (!d || (d->lb == 1 && network) || (d->lb == 2 && !network))
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Target group attribute key '%.100s' is not recognized for a target group with the %s protocol",
                                       k, jstr(tg, "Protocol") ?: "");
                if ((r = attr_value_check(d, v, err)) < 0)
                        return r;
                if (!strcmp(k, "stickiness.type")) {
                        bool net_type = !strcmp(v, "source_ip") || !strncmp(v, "source_ip_", 10);
                        if (net_type != network)
                                return err_set(err, EINVAL, ELB_E_VALIDATION, "Stickiness type '%s' is not supported for target groups with the %s protocol", v,
                                               jstr(tg, "Protocol") ?: "");
                }
                json_object_set_new(attrs, k, json_string(v));
        }
        return 0;
}

/* ---- actions ---- */

static int forward_check(json_t *a, size_t idx, bool network, json_t *tgs, struct err *err)
{
        const char *arn = jstr(a, "TargetGroupArn");
        json_t *fc = json_object_get(a, "ForwardConfig"), *list = json_object_get(fc, "TargetGroups"), *t;
        char id[ELB_ID_MAX];
        size_t i;
        int r;
        if (!arn && !json_array_size(list))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: a forward action needs a TargetGroupArn or ForwardConfig.TargetGroups", idx);
        if (arn && json_array_size(list) &&
            (json_array_size(list) != 1 || strcmp(jstr(json_array_get(list, 0), "TargetGroupArn") ?: "", arn)))
                return err_set(err, EINVAL, ELB_E_VALIDATION,
                               "Actions[%zu]: you cannot specify both a TargetGroupArn and a ForwardConfig with other target groups", idx);
        if (!json_array_size(list)) {
                if ((r = elb_arn_id(ELB_TG, arn, id, err)) < 0)
                        return r;
                json_t *nfc = json_pack("{s:[{s:s, s:i}], s:{s:b}}", "TargetGroups", "TargetGroupArn", arn, "Weight", 1,
                                        "TargetGroupStickinessConfig", "Enabled", 0);
                if (!nfc)
                        return err_set(err, ENOMEM, NULL, "out of memory");
                json_object_set_new(a, "ForwardConfig", nfc);
                json_array_append_new(tgs, json_string(arn));
                return 0;
        }
        if (network && json_array_size(list) != 1)
                return err_set(err, EINVAL, ELB_E_CONFIG, "Actions[%zu]: a network load balancer's listener forwards to exactly one target group", idx);
        if (json_array_size(list) > 5)
                return err_set(err, EINVAL, ELB_E_CONFIG, "Actions[%zu]: a forward action takes at most 5 target groups", idx);
        json_array_foreach(list, i, t) {
                const char *tarn = jstr(t, "TargetGroupArn");
                json_t *w = json_object_get(t, "Weight");
                if ((r = elb_arn_id(ELB_TG, tarn, id, err)) < 0)
                        return r;
                if (w && (json_integer_value(w) < 0 || json_integer_value(w) > 999))
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: target group weights are between 0 and 999", idx);
                if (!w)
                        json_object_set_new(t, "Weight", json_integer(1));
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(jstr(json_array_get(list, j), "TargetGroupArn") ?: "", tarn))
                                return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: target group '%.300s' is given twice", idx, tarn);
                json_array_append_new(tgs, json_string(tarn));
        }
        json_t *st = json_object_get(fc, "TargetGroupStickinessConfig");
        if (!st)
                json_object_set_new(fc, "TargetGroupStickinessConfig", json_pack("{s:b}", "Enabled", 0));
        else if (json_object_get(st, "DurationSeconds") &&
                 (jint(st, "DurationSeconds", 0) < 1 || jint(st, "DurationSeconds", 0) > 604800))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: stickiness DurationSeconds is between 1 and 604800", idx);
        if (json_array_size(list) == 1)
                json_object_set_new(a, "TargetGroupArn", json_string(jstr(json_array_get(list, 0), "TargetGroupArn")));
        return 0;
}

static int redirect_check(json_t *a, size_t idx, struct err *err)
{
        json_t *rc = json_object_get(a, "RedirectConfig");
        const char *code = jstr(rc, "StatusCode"), *proto = jstr(rc, "Protocol");
        if (!rc || !code || (strcmp(code, "HTTP_301") && strcmp(code, "HTTP_302")))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: a redirect action needs RedirectConfig.StatusCode HTTP_301 or HTTP_302", idx);
        if (proto && strcmp(proto, "HTTP") && strcmp(proto, "HTTPS") && strcmp(proto, "#{protocol}"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: redirect Protocol must be HTTP, HTTPS or #{protocol}", idx);
        static const char *const parts[][2] = { { "Protocol", "#{protocol}" }, { "Port", "#{port}" }, { "Host", "#{host}" },
                                                { "Path", "/#{path}" }, { "Query", "#{query}" } };
        for (size_t i = 0; i < 5; i++)
                if (!jstr(rc, parts[i][0]))
                        json_object_set_new(rc, parts[i][0], json_string(parts[i][1]));
        if (jstr(rc, "Path")[0] != '/')
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: redirect Path must start with '/'", idx);
        return 0;
}

static int fixed_check(json_t *a, size_t idx, struct err *err)
{
        static const char *const types[] = { "text/plain", "text/css", "text/html", "application/javascript", "application/json" };
        json_t *fc = json_object_get(a, "FixedResponseConfig");
        const char *code = jstr(fc, "StatusCode"), *ct = jstr(fc, "ContentType"), *body = jstr(fc, "MessageBody");
        if (!fc || !code || strlen(code) != 3 || (code[0] != '2' && code[0] != '4' && code[0] != '5') || !isdigit((unsigned char) code[1]) ||
            !isdigit((unsigned char) code[2]))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: a fixed-response action needs FixedResponseConfig.StatusCode 2XX, 4XX or 5XX", idx);
        if (ct) {
                bool ok = false;
                for (size_t i = 0; i < 5; i++)
                        ok |= !strcmp(types[i], ct);
                if (!ok)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: fixed-response ContentType '%.64s' is not one of text/plain, text/css, text/html, application/javascript, application/json",
                                       idx, ct);
        }
        if (body && strlen(body) > 1024)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: fixed-response MessageBody is at most 1024 characters", idx);
        return 0;
}

int elb_actions_check(json_t *actions, bool network, json_t **ret_tgs, struct err *err)
{
        _cleanup_json_ json_t *tgs = json_array();
        json_t *a;
        size_t i, n = json_array_size(actions);
        long long last_order = 0;
        int r;
        if (!tgs)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!json_is_array(actions) || n == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "At least one action must be specified");
        if (network && n != 1)
                return err_set(err, EINVAL, ELB_E_CONFIG, "A network load balancer's listener takes exactly one forward action");
        json_array_foreach(actions, i, a) {
                const char *type = jstr(a, "Type");
                json_t *order = json_object_get(a, "Order");
                if (!type)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: Type is required", i + 1);
                if (order && (json_integer_value(order) < 1 || json_integer_value(order) > 50000))
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: Order is between 1 and 50000", i + 1);
                if (!order && n > 1)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: Order is required when several actions are given", i + 1);
                if (order && json_integer_value(order) <= last_order)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: the actions' Order values must be unique and increasing", i + 1);
                last_order = order ? json_integer_value(order) : 1;
                if (!order)
                        json_object_set_new(a, "Order", json_integer(1));
                if (!strcmp(type, "forward"))
                        r = forward_check(a, i + 1, network, tgs, err);
                else if (network)
                        r = err_set(err, EINVAL, ELB_E_CONFIG, "Action type '%.40s' is not supported by network load balancers' listeners", type);
                else if (!strcmp(type, "redirect"))
                        r = redirect_check(a, i + 1, err);
                else if (!strcmp(type, "fixed-response"))
                        r = fixed_check(a, i + 1, err);
                else if (!strcmp(type, "authenticate-oidc") || !strcmp(type, "authenticate-cognito"))
                        r = err_set(err, EINVAL, ELB_E_CONFIG, "Action type '%s' is not supported by ecsbox", type);
                else
                        r = err_set(err, EINVAL, ELB_E_VALIDATION, "Actions[%zu]: Type '%.40s' must be one of forward, redirect, fixed-response", i + 1,
                                    type);
                if (r < 0)
                        return r;
                bool terminal = strcmp(type, "forward") == 0 || strcmp(type, "redirect") == 0 || strcmp(type, "fixed-response") == 0;
                if (terminal && i + 1 < n)
                        return err_set(err, EINVAL, ELB_E_CONFIG, "Actions[%zu]: a %s action must be the last one", i + 1, type);
        }
        *ret_tgs = TAKE_PTR(tgs);
        return 0;
}

/* ---- conditions ---- */

static int values_check(json_t *values, size_t idx, const char *field, size_t max_len, struct err *err)
{
        json_t *v;
        size_t i;
        if (!json_is_array(values) || json_array_size(values) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: a %s condition needs at least one value", idx, field);
        json_array_foreach(values, i, v) {
                const char *s = json_string_value(v);
                if (!s || !*s || strlen(s) > max_len)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: %s values are 1 to %zu characters", idx, field, max_len);
        }
        return 0;
}

static int cond_check(json_t *c, size_t idx, struct err *err)
{
        const char *field = jstr(c, "Field");
        json_t *values = json_object_get(c, "Values"), *cfg, *v;
        size_t i;
        int r;
        if (!field)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: Field is required", idx);
        if (!strcmp(field, "path-pattern") || !strcmp(field, "host-header")) {
                const char *cname = field[0] == 'p' ? "PathPatternConfig" : "HostHeaderConfig";
                cfg = json_object_get(c, cname);
                if (values && cfg)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: give Values or %s, not both", idx, cname);
                if (!cfg) {
                        json_object_set_new(c, cname, json_pack("{s:O}", "Values", values ? values : json_null()));
                        cfg = json_object_get(c, cname);
                }
                if ((r = values_check(json_object_get(cfg, "Values"), idx, field, 128, err)) < 0)
                        return r;
                json_object_set(c, "Values", json_object_get(cfg, "Values"));
                return 0;
        }
        if (values)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: Values is only for host-header and path-pattern conditions", idx);
        if (!strcmp(field, "http-header")) {
                cfg = json_object_get(c, "HttpHeaderConfig");
                const char *name = jstr(cfg, "HttpHeaderName");
                if (!name || !*name || strlen(name) > 40)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: an http-header condition needs HttpHeaderConfig.HttpHeaderName (1 to 40 characters)",
                                       idx);
                return values_check(json_object_get(cfg, "Values"), idx, field, 128, err);
        }
        if (!strcmp(field, "http-request-method")) {
                cfg = json_object_get(c, "HttpRequestMethodConfig");
                if ((r = values_check(json_object_get(cfg, "Values"), idx, field, 40, err)) < 0)
                        return r;
                json_array_foreach(json_object_get(cfg, "Values"), i, v)
                        for (const char *p = json_string_value(v); *p; p++)
                                if (!isupper((unsigned char) *p) && *p != '_' && *p != '-')
                                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: request methods are upper case (A-Z, '-', '_')", idx);
                return 0;
        }
        if (!strcmp(field, "query-string")) {
                json_t *kvs = json_object_get(json_object_get(c, "QueryStringConfig"), "Values");
                if (!json_is_array(kvs) || json_array_size(kvs) == 0)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: a query-string condition needs QueryStringConfig.Values", idx);
                json_array_foreach(kvs, i, v) {
                        const char *val = jstr(v, "Value"), *key = jstr(v, "Key");
                        if (!val || !*val || strlen(val) > 128 || (key && strlen(key) > 128))
                                return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: query-string values need a Value of 1 to 128 characters", idx);
                }
                return 0;
        }
        if (!strcmp(field, "source-ip")) {
                cfg = json_object_get(c, "SourceIpConfig");
                if ((r = values_check(json_object_get(cfg, "Values"), idx, field, 64, err)) < 0)
                        return r;
                json_array_foreach(json_object_get(cfg, "Values"), i, v) {
                        char buf[64];
                        const char *s = json_string_value(v), *slash = strchr(s, '/');
                        unsigned char addr[16];
                        snprintf(buf, sizeof buf, "%.*s", slash ? (int) (slash - s) : (int) strlen(s), s);
                        if (!slash || (inet_pton(AF_INET, buf, addr) != 1 && inet_pton(AF_INET6, buf, addr) != 1))
                                return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions[%zu]: '%.64s' is not a CIDR block", idx, s);
                }
                return 0;
        }
        return err_set(err, EINVAL, ELB_E_VALIDATION,
                       "Conditions[%zu]: Field '%.40s' must be one of host-header, path-pattern, http-header, http-request-method, query-string, source-ip",
                       idx, field);
}

int elb_conditions_check(json_t *conditions, struct err *err)
{
        json_t *c;
        size_t i;
        int r;
        if (!json_is_array(conditions))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Conditions must be a list");
        if (json_array_size(conditions) > 5)
                return err_set(err, EINVAL, ELB_E_CONFIG, "A rule takes at most 5 conditions");
        json_array_foreach(conditions, i, c)
                if ((r = cond_check(c, i + 1, err)) < 0)
                        return r;
        return 0;
}

int elb_tags_check(json_t *tags, struct err *err)
{
        json_t *t;
        size_t i;
        if (!json_is_array(tags))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Tags must be a list");
        if (json_array_size(tags) > TAGS_MAX)
                return err_set(err, EINVAL, ELB_E_TAGS, "A resource takes at most %d tags", TAGS_MAX);
        json_array_foreach(tags, i, t) {
                const char *k = jstr(t, "Key"), *v = jstr(t, "Value");
                if (!k || !*k || strlen(k) > 128)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Tags[%zu]: Key must be 1 to 128 characters", i + 1);
                if (v && strlen(v) > 256)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Tags[%zu]: Value must be at most 256 characters", i + 1);
                if (strncmp(k, "aws:", 4) == 0)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Tags[%zu]: keys starting with 'aws:' are reserved", i + 1);
                for (size_t j = 0; j < i; j++)
                        if (!strcmp(jstr(json_array_get(tags, j), "Key") ?: "", k))
                                return err_set(err, EINVAL, ELB_E_DUP_TAG, "Tag key '%.128s' is given twice", k);
        }
        return 0;
}
