/* targets.c: RegisterTargets, DeregisterTargets, DescribeTargetHealth, and what netd hears of a target
 * group a network load balancer's listener forwards to (PutTargetGroup, RegisterTargets with the
 * addresses: an ip target as given, an instance target as its container instance's ENI address). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../sched.h"
#include "elb_int.h"

#define TARGETS_MAX 1000

struct inst_find {
        const char *ec2_id;
        char ip[64];
};

static int inst_cb(const char *key, json_t *val, void *userdata)
{
        struct inst_find *f = userdata;
        if (strcmp(jstr(val, "ec2InstanceId") ?: "", f->ec2_id) || !strcmp(jstr(val, "status") ?: "", "INACTIVE"))
                return 0;
        snprintf(f->ip, sizeof f->ip, "%s", jstr(json_object_get(val, "ebx"), "privateIp") ?: "");
        return 1;
}

/* The address of a target: an ip target's Id, an instance target's container instance address ("" unknown). */
static void target_addr(struct sched *s, json_t *tg, const char *id, char buf[64])
{
        struct inst_find f = { .ec2_id = id };
        struct err e = { 0 };
        if (strcmp(jstr(tg, "TargetType") ?: "", "instance")) {
                snprintf(buf, 64, "%s", id);
                return;
        }
        (void) store_list(s->store, "instance/", inst_cb, &f, &e);
        snprintf(buf, 64, "%s", f.ip);
}

/* [{Id, Port}] for netd from targets (the group's records). */
static json_t *netd_targets(struct sched *s, json_t *tg, json_t *targets)
{
        json_t *out = json_array(), *t;
        size_t i;
        json_array_foreach(targets, i, t) {
                char ip[64];
                target_addr(s, tg, jstr(t, "Id") ?: "", ip);
                if (!*ip) {
                        log_warning("target group %s: instance %s has no address; not sent to netd", jstr(tg, "TargetGroupName"), jstr(t, "Id"));
                        continue;
                }
                json_array_append_new(out, json_pack("{s:s, s:I}", "Id", ip, "Port", jint(t, "Port", 0)));
        }
        return out;
}

#define NETD_TARGETS_MAX 256            /* netd's Register/DeregisterTargets take at most this many */

/* netd's RegisterTargets / DeregisterTargets of targets (the group's records, resolved to addresses),
 * in requests of at most NETD_TARGETS_MAX. */
static int netd_targets_send(struct sched *s, json_t *tg, const char *action, json_t *targets, struct err *err)
{
        _cleanup_json_ json_t *all = netd_targets(s, tg, targets);
        size_t n = json_array_size(all);
        int r;
        if (!all)
                return err_set(err, ENOMEM, NULL, "out of memory");
        for (size_t off = 0; off < n; off += NETD_TARGETS_MAX) {
                _cleanup_json_ json_t *part = json_array(), *q = NULL;
                for (size_t i = off; i < n && i < off + NETD_TARGETS_MAX; i++)
                        json_array_append(part, json_array_get(all, i));
                q = json_pack("{s:s, s:s, s:O}", "Action", action, "TargetGroupId", jstr(json_object_get(tg, "ebx"), "id"), "Targets", part);
                if (!q)
                        return err_set(err, ENOMEM, NULL, "out of memory");
                if ((r = elb_netd(s, q, NULL, err)) <= 0)
                        return r;
        }
        return 0;
}

int elb_tg_push(struct sched *s, json_t *tg, struct err *err)
{
        json_t *ebx = json_object_get(tg, "ebx"), *attrs = json_object_get(ebx, "attributes");
        const char *id = jstr(ebx, "id");
        _cleanup_json_ json_t *put = NULL;
        int r;
        put = json_pack("{s:s, s:s, s:s, s:s, s:O, s:b, s:I, s:{s:s, s:s, s:s, s:O, s:O, s:O, s:O, s:s}}", "Action", "PutTargetGroup",
                        "TargetGroupId", id, "VpcId", jstr(tg, "VpcId"), "Protocol", jstr(tg, "Protocol"), "Port", json_object_get(tg, "Port"),
                        "PreserveClientIp", !strcmp(jstr(attrs, "preserve_client_ip.enabled") ?: "", "true"), "DeregistrationDelaySeconds",
                        (json_int_t) atoll(jstr(attrs, "deregistration_delay.timeout_seconds") ?: "300"), "HealthCheck", "Protocol",
                        jstr(tg, "HealthCheckProtocol"), "Port", jstr(tg, "HealthCheckPort"), "Path", jstr(tg, "HealthCheckPath") ?: "/",
                        "IntervalSeconds", json_object_get(tg, "HealthCheckIntervalSeconds"), "TimeoutSeconds",
                        json_object_get(tg, "HealthCheckTimeoutSeconds"), "HealthyThresholdCount", json_object_get(tg, "HealthyThresholdCount"),
                        "UnhealthyThresholdCount", json_object_get(tg, "UnhealthyThresholdCount"), "Matcher",
                        jstr(json_object_get(tg, "Matcher"), "HttpCode") ?: "200-399");
        if (!put)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = elb_netd(s, put, NULL, err)) <= 0)
                return r;
        return netd_targets_send(s, tg, "RegisterTargets", json_object_get(ebx, "targets"), err);
}

int elb_tg_unpush(struct sched *s, json_t *tg, struct err *err)
{
        _cleanup_json_ json_t *q = json_pack("{s:s, s:s}", "Action", "DeleteTargetGroup", "TargetGroupId", jstr(json_object_get(tg, "ebx"), "id"));
        int r;
        if (!q)
                return err_set(err, ENOMEM, NULL, "out of memory");
        r = elb_netd(s, q, NULL, err);
        if (r < 0 && !strcmp(err->code, ELB_E_CONFIG)) {
                /* netd never heard of it (no network listener used it): nothing to remove */
                log_debug("target group %s: %s", jstr(tg, "TargetGroupName"), err->msg);
                err_clear(err);
                return 0;
        }
        return r < 0 ? r : 0;
}

/* The targets of a request, checked (Id an IPv4 address for ip groups, a container instance's EC2 id
 * for instance groups) with Port defaulting to the group's: a new array of {Id, Port[, AvailabilityZone]}. */
static int targets_decode(struct sched *s, json_t *tg, json_t *given, bool reg, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *out = json_array();
        bool ip = !strcmp(jstr(tg, "TargetType") ?: "", "ip");
        json_t *t;
        size_t i;
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!json_is_array(given) || json_array_size(given) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Targets must contain at least one target");
        json_array_foreach(given, i, t) {
                const char *id = jstr(t, "Id");
                json_t *port = json_object_get(t, "Port");
                long long p = port ? json_integer_value(port) : jint(tg, "Port", 0);
                if (!id || !*id)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Targets[%zu]: Id is required", i + 1);
                if (p < 1 || p > 65535)
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "Targets[%zu]: Port must be between 1 and 65535", i + 1);
                if (reg && ip) {
                        struct in_addr a;
                        if (inet_pton(AF_INET, id, &a) != 1)
                                return err_set(err, EINVAL, ELB_E_TARGET, "The IP address '%.64s' is not a valid IPv4 address", id);
                } else if (reg) {
                        char addr[64];
                        target_addr(s, tg, id, addr);
                        if (!*addr)
                                return err_set(err, EINVAL, ELB_E_TARGET, "The following targets are not valid instances: '%.64s'", id);
                }
                json_t *o = json_pack("{s:s, s:I}", "Id", id, "Port", (json_int_t) p);
                if (jstr(t, "AvailabilityZone"))
                        json_object_set_new(o, "AvailabilityZone", json_string(jstr(t, "AvailabilityZone")));
                json_array_append_new(out, o);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static ssize_t target_find(json_t *list, json_t *t)
{
        json_t *v;
        size_t i;
        json_array_foreach(list, i, v)
                if (!strcmp(jstr(v, "Id") ?: "", jstr(t, "Id") ?: "") && jint(v, "Port", 0) == jint(t, "Port", 0))
                        return (ssize_t) i;
        return -1;
}

/* Whether a network listener forwards to the group (netd has it). */
static int tg_pushed(struct sched *s, json_t *tg, struct err *err)
{
        _cleanup_json_ json_t *lns = NULL;
        int r = elb_tg_listeners(s, jstr(tg, "TargetGroupArn"), true, &lns, err);
        return r < 0 ? r : json_array_size(lns) > 0;
}

static int targets_change(struct api_ctx *c, json_t *req, bool reg, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL, *given = NULL, *changed = json_array();
        char key[ELB_KEY_MAX];
        json_t *list, *t;
        size_t i;
        ssize_t at;
        int r, pushed;
        if (!changed)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!jstr(req, "TargetGroupArn"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "TargetGroupArn is required");
        if ((r = elb_get(c->s, ELB_TG, jstr(req, "TargetGroupArn"), &tg, key, err)) < 0 ||
            (r = targets_decode(c->s, tg, json_object_get(req, "Targets"), reg, &given, err)) < 0)
                return r;
        list = json_object_get(json_object_get(tg, "ebx"), "targets");
        json_array_foreach(given, i, t) {
                at = target_find(list, t);
                if (reg && at < 0)
                        json_array_append(list, t);
                else if (!reg && at >= 0)
                        json_array_remove(list, (size_t) at);
                /* netd hears of every target registered (idempotent) and of those actually removed */
                if (reg || at >= 0)
                        json_array_append(changed, t);
        }
        if (json_array_size(list) > TARGETS_MAX)
                return err_set(err, EINVAL, "TooManyTargets", "A target group takes at most %d targets", TARGETS_MAX);
        if ((r = store_put(c->s->store, key, tg, err)) < 0)
                return r;
        if ((pushed = tg_pushed(c->s, tg, err)) < 0)
                return pushed;
        if (pushed && (r = netd_targets_send(c->s, tg, reg ? "RegisterTargets" : "DeregisterTargets", changed, err)) < 0)
                return r;
        *ret = json_object();
        return 0;
}

int elb_targets_apply(struct sched *s, const char *tg_arn, json_t *add, json_t *del, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL, *removed = json_array();
        char key[ELB_KEY_MAX];
        json_t *list, *t;
        size_t i;
        ssize_t at;
        int r, pushed;
        if (!removed)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = elb_get(s, ELB_TG, tg_arn, &tg, key, err)) < 0)
                return r;
        list = json_object_get(json_object_get(tg, "ebx"), "targets");
        json_array_foreach(add, i, t)
                if (target_find(list, t) < 0)
                        json_array_append(list, t);
        json_array_foreach(del, i, t)
                if ((at = target_find(list, t)) >= 0) {
                        json_array_remove(list, (size_t) at);
                        json_array_append(removed, t);
                }
        if ((r = store_put(s->store, key, tg, err)) < 0)
                return r;
        if ((pushed = tg_pushed(s, tg, err)) <= 0)
                return pushed;
        if ((r = netd_targets_send(s, tg, "RegisterTargets", add, err)) < 0)
                return r;
        /* netd refuses to deregister what it does not have: only what was there */
        return netd_targets_send(s, tg, "DeregisterTargets", removed, err);
}

int elb_op_register_targets(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return targets_change(c, req, true, ret, err);
}

int elb_op_deregister_targets(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        return targets_change(c, req, false, ret, err);
}

static json_t *health(const char *state, const char *reason, const char *desc)
{
        json_t *h = json_pack("{s:s}", "State", state);
        if (reason)
                json_object_set_new(h, "Reason", json_string(reason));
        if (desc)
                json_object_set_new(h, "Description", json_string(desc));
        return h;
}

int elb_op_describe_target_health(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL, *want = NULL, *ans = NULL, *out = json_array(), *q = NULL;
        json_t *list, *t;
        size_t i;
        int r, pushed;
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!jstr(req, "TargetGroupArn"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "TargetGroupArn is required");
        if ((r = elb_get(c->s, ELB_TG, jstr(req, "TargetGroupArn"), &tg, NULL, err)) < 0)
                return r;
        list = json_object_get(json_object_get(tg, "ebx"), "targets");
        if (json_array_size(json_object_get(req, "Targets")) && (r = targets_decode(c->s, tg, json_object_get(req, "Targets"), false, &want, err)) < 0)
                return r;
        if ((pushed = tg_pushed(c->s, tg, err)) < 0)
                return pushed;
        if (pushed) {
                q = json_pack("{s:s, s:s}", "Action", "DescribeTargetHealth", "TargetGroupId", jstr(json_object_get(tg, "ebx"), "id"));
                if ((r = elb_netd(c->s, q, &ans, err)) < 0)
                        return r;
        }
        const char *hcport = jstr(tg, "HealthCheckPort") ?: "traffic-port";
        json_array_foreach(want ? want : list, i, t) {
                char port[16], addr[64];
                json_t *th = NULL, *d;
                size_t j;
                if (strcmp(hcport, "traffic-port"))
                        snprintf(port, sizeof port, "%s", hcport);
                else
                        snprintf(port, sizeof port, "%lld", jint(t, "Port", 0));
                if (target_find(list, t) < 0)
                        th = health("unused", "Target.NotRegistered", "Target is not registered to the target group");
                else if (!pushed)
                        th = health("unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer");
                else if (!ans)
                        th = health("initial", "Elb.RegistrationInProgress", "Target registration is in progress");
                else {
                        target_addr(c->s, tg, jstr(t, "Id") ?: "", addr);
                        json_array_foreach(json_object_get(ans, "TargetHealthDescriptions"), j, d) {
                                json_t *dt = json_object_get(d, "Target");
                                if (!strcmp(jstr(dt, "Id") ?: "", addr) && jint(dt, "Port", 0) == jint(t, "Port", 0)) {
                                        json_t *h = json_object_get(d, "TargetHealth");
                                        th = health(jstr(h, "State") ?: "initial", jstr(h, "Reason"), jstr(h, "Description"));
                                        if (jstr(d, "HealthCheckPort"))
                                                snprintf(port, sizeof port, "%s", jstr(d, "HealthCheckPort"));
                                }
                        }
                        if (!th)
                                th = health("initial", "Elb.RegistrationInProgress", "Target registration is in progress");
                }
                json_array_append_new(out, json_pack("{s:O, s:s, s:o}", "Target", t, "HealthCheckPort", port, "TargetHealth", th));
        }
        *ret = json_pack("{s:O}", "TargetHealthDescriptions", out);
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}
