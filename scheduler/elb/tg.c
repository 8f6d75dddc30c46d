/* tg.c: CreateTargetGroup, DescribeTargetGroups, ModifyTargetGroup, DeleteTargetGroup and the target
 * group attributes. A target group is a record (elb/tg/<id>) with its attributes and targets in "ebx";
 * netd hears of it (PutTargetGroup) once a network load balancer's listener forwards to it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../netd_client.h"
#include "../sched.h"
#include "elb_int.h"

static bool arn_in(json_t *list, const char *arn)
{
        json_t *v;
        size_t i;
        json_array_foreach(list, i, v)
                if (!strcmp(json_string_value(v) ?: "", arn))
                        return true;
        return false;
}

int elb_tg_listeners(struct sched *s, const char *tg_arn, bool network_only, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *lns = NULL, *out = json_array();
        json_t *ln;
        size_t i;
        int r;
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = elb_list(s, ELB_LISTENER, &lns, err)) < 0)
                return r;
        json_array_foreach(lns, i, ln) {
                json_t *ebx = json_object_get(ln, "ebx");
                if (network_only && !json_is_true(json_object_get(ebx, "network")))
                        continue;
                if (arn_in(json_object_get(ebx, "tgs"), tg_arn))
                        json_array_append(out, ln);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* The load balancers whose listeners or rules forward to the group (a new array of ARNs). */
static json_t *tg_lb_arns(struct sched *s, const char *tg_arn)
{
        json_t *out = json_array(), *all = NULL, *rec;
        struct err e = { 0 };
        size_t i;
        for (int kind = ELB_LISTENER; kind <= ELB_RULE && out; kind++) {
                if (elb_list(s, (enum elb_kind) kind, &all, &e) < 0)
                        continue;
                json_array_foreach(all, i, rec) {
                        json_t *ebx = json_object_get(rec, "ebx");
                        const char *lb = kind == ELB_LISTENER ? jstr(rec, "LoadBalancerArn") : jstr(ebx, "lb");
                        if (lb && arn_in(json_object_get(ebx, "tgs"), tg_arn) && !arn_in(out, lb))
                                json_array_append_new(out, json_string(lb));
                }
                all = (json_decref(all), NULL);
        }
        return out;
}

json_t *elb_tg_shape(struct sched *s, json_t *tg)
{
        json_t *o = elb_public(tg);
        if (o)
                json_object_set_new(o, "LoadBalancerArns", tg_lb_arns(s, jstr(tg, "TargetGroupArn") ?: ""));
        return o;
}

static int vpc_check(struct sched *s, const char *vpc, struct err *err)
{
        _cleanup_json_ json_t *q = json_pack("{s:s, s:[s]}", "Action", "DescribeVpcs", "VpcIds", vpc), *ans = NULL;
        int r;
        if (!q)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = s->netd_call(s, q, &ans, err)) < 0) {
                if (!strncmp(netd_code(err), "InvalidVpcID", 12))
                        return err_set(err, ENOENT, ELB_E_VALIDATION, "The VPC ID '%.64s' is not found", vpc);
                return elb_netd_fail(err);
        }
        if (json_array_size(json_object_get(ans, "Vpcs")) == 0)
                return err_set(err, ENOENT, ELB_E_VALIDATION, "The VPC ID '%.64s' is not found", vpc);
        return 0;
}

static const char *const SAME[] = { "Protocol", "Port", "VpcId", "TargetType", "HealthCheckProtocol", "HealthCheckPort", "HealthCheckPath",
                                    "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds", "HealthyThresholdCount",
                                    "UnhealthyThresholdCount", "Matcher", NULL };

int elb_op_create_target_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        const char *name = jstr(req, "Name"), *proto = jstr(req, "Protocol"), *vpc = jstr(req, "VpcId");
        const char *type = jstr(req, "TargetType") ?: "instance", *pv = jstr(req, "ProtocolVersion");
        json_t *port = json_object_get(req, "Port"), *tags = json_object_get(req, "Tags"), *old = NULL, *v;
        _cleanup_json_ json_t *tg = NULL, *all = NULL;
        char id[ELB_ID_MAX], res[160], arn[ELB_ARN_MAX], key[ELB_KEY_MAX];
        size_t i;
        int r;

        if (!name)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Name is required");
        if ((r = elb_name_check("Target group", name, false, err)) < 0)
                return r;
        if (strcmp(type, "instance") && strcmp(type, "ip")) {
                if (!strcmp(type, "lambda") || !strcmp(type, "alb"))
                        return err_set(err, EINVAL, ELB_E_CONFIG, "Target type '%s' is not supported by ecsbox (instance and ip are)", type);
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Target type '%.32s' must be one of instance, ip, lambda, alb", type);
        }
        if (!proto)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "A protocol must be specified for target groups with target type '%s'", type);
        if (strcmp(proto, "TCP") && strcmp(proto, "UDP") && strcmp(proto, "TCP_UDP") && strcmp(proto, "HTTP") && strcmp(proto, "HTTPS")) {
                if (!strcmp(proto, "TLS") || !strcmp(proto, "GENEVE"))
                        return err_set(err, EINVAL, ELB_E_PROTO, "Protocol '%s' is not supported by ecsbox (TCP, UDP, TCP_UDP, HTTP, HTTPS are)", proto);
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Protocol '%.32s' must be one of HTTP, HTTPS, TCP, TLS, UDP, TCP_UDP, GENEVE", proto);
        }
        if (!port)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "A port must be specified for target groups with target type '%s'", type);
        if (json_integer_value(port) < 1 || json_integer_value(port) > 65535)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Port must be between 1 and 65535");
        if (!vpc)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "A VPC ID must be specified for target groups with target type '%s'", type);
        if (pv && (elb_proto_network(proto) || (strcmp(pv, "HTTP1") && strcmp(pv, "HTTP2") && strcmp(pv, "GRPC"))))
                return err_set(err, EINVAL, ELB_E_CONFIG, "ProtocolVersion '%.16s' is only HTTP1, HTTP2 or GRPC with HTTP and HTTPS target groups", pv);
        if (jstr(req, "IpAddressType") && strcmp(jstr(req, "IpAddressType"), "ipv4"))
                return err_set(err, EINVAL, ELB_E_CONFIG, "IpAddressType '%.16s' is not supported by ecsbox (only ipv4)", jstr(req, "IpAddressType"));
        if (tags && (r = elb_tags_check(tags, err)) < 0)
                return r;
        tg = json_pack("{s:s, s:s, s:O, s:s, s:s, s:s}", "TargetGroupName", name, "Protocol", proto, "Port", port, "VpcId", vpc, "TargetType",
                       type, "IpAddressType", "ipv4");
        if (!tg)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!elb_proto_network(proto))
                json_object_set_new(tg, "ProtocolVersion", json_string(pv ? pv : "HTTP1"));
        if ((r = elb_tg_health_apply(tg, req, true, err)) < 0)
                return r;
        if ((r = vpc_check(s, vpc, err)) < 0)
                return r;
        if ((r = elb_list(s, ELB_TG, &all, err)) < 0)
                return r;
        json_array_foreach(all, i, v)
                if (!strcmp(jstr(v, "TargetGroupName") ?: "", name))
                        old = v;
        if (old) {
                for (const char *const *k = SAME; *k; k++)
                        if (!json_equal(json_object_get(old, *k) ?: json_null(), json_object_get(tg, *k) ?: json_null()))
                                return err_set(err, EEXIST, ELB_E_DUP_TG, "A target group with the same name '%s' exists, but with different settings", name);
                *ret = json_pack("{s:[o]}", "TargetGroups", elb_tg_shape(s, old));
                return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
        }
        if ((r = elb_id_new(id)) < 0)
                return err_set(err, -r, NULL, "random id: %s", strerror(-r));
        snprintf(res, sizeof res, "targetgroup/%s/%s", name, id);
        elb_arn(c, arn, sizeof arn, res);
        json_object_set_new(tg, "TargetGroupArn", json_string(arn));
        json_object_set_new(tg, "ebx", json_pack("{s:s, s:o, s:o, s:[]}", "id", id, "tags", tags ? json_incref(tags) : json_array(), "attributes",
                                                 elb_tg_attributes_default(tg), "targets"));
        if (!json_object_get(tg, "ebx"))
                return err_set(err, ENOMEM, NULL, "out of memory");
        elb_key(ELB_TG, id, key);
        if ((r = store_put(s->store, key, tg, err)) < 0)
                return r;
        log_info("target group %s (%s %lld, %s) created: %s", name, proto, json_integer_value(port), type, arn);
        *ret = json_pack("{s:[o]}", "TargetGroups", elb_tg_shape(s, tg));
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

int elb_op_describe_target_groups(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        const char *lb_arn = jstr(req, "LoadBalancerArn");
        json_t *arns = json_object_get(req, "TargetGroupArns"), *names = json_object_get(req, "Names"), *v, *tg;
        _cleanup_json_ json_t *all = NULL, *sel = json_array(), *out = json_object(), *lb = NULL;
        int given = !!lb_arn + !!json_array_size(arns) + !!json_array_size(names);
        size_t i, j;
        int r;
        if (!sel || !out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (given > 1)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Give at most one of LoadBalancerArn, TargetGroupArns and Names");
        if (lb_arn && (r = elb_get(c->s, ELB_LB, lb_arn, &lb, NULL, err)) < 0)
                return r;
        if ((r = elb_list(c->s, ELB_TG, &all, err)) < 0)
                return r;
        if (json_array_size(arns) || json_array_size(names)) {
                json_t *want = json_array_size(arns) ? arns : names;
                const char *member = json_array_size(arns) ? "TargetGroupArn" : "TargetGroupName";
                json_array_foreach(want, i, v) {
                        json_t *found = NULL;
                        json_array_foreach(all, j, tg)
                                if (!strcmp(jstr(tg, member) ?: "", json_string_value(v) ?: ""))
                                        found = tg;
                        if (!found) {
                                char id[ELB_ID_MAX];
                                if (want == arns && (r = elb_arn_id(ELB_TG, json_string_value(v), id, err)) < 0)
                                        return r;
                                return err_set(err, ENOENT, ELB_E_TG_NF, "One or more target groups not found ('%.300s')", json_string_value(v) ?: "");
                        }
                        json_array_append_new(sel, elb_tg_shape(c->s, found));
                }
        } else {
                json_array_foreach(all, i, tg) {
                        json_t *shape = elb_tg_shape(c->s, tg);
                        if (lb_arn && !arn_in(json_object_get(shape, "LoadBalancerArns"), lb_arn)) {
                                json_decref(shape);
                                continue;
                        }
                        json_array_append_new(sel, shape);
                }
        }
        if ((r = elb_page(req, sel, out, "TargetGroups", err)) < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

/* netd again when a network listener uses the group (its settings changed). */
static int tg_repush(struct sched *s, json_t *tg, struct err *err)
{
        _cleanup_json_ json_t *lns = NULL;
        int r;
        if ((r = elb_tg_listeners(s, jstr(tg, "TargetGroupArn"), true, &lns, err)) < 0)
                return r;
        return json_array_size(lns) ? elb_tg_push(s, tg, err) : 0;
}

int elb_op_modify_target_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL;
        char key[ELB_KEY_MAX];
        int r;
        if (!jstr(req, "TargetGroupArn"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "TargetGroupArn is required");
        if ((r = elb_get(c->s, ELB_TG, jstr(req, "TargetGroupArn"), &tg, key, err)) < 0)
                return r;
        if ((r = elb_tg_health_apply(tg, req, false, err)) < 0 || (r = store_put(c->s->store, key, tg, err)) < 0 ||
            (r = tg_repush(c->s, tg, err)) < 0)
                return r;
        *ret = json_pack("{s:[o]}", "TargetGroups", elb_tg_shape(c->s, tg));
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

int elb_op_delete_target_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        const char *arn = jstr(req, "TargetGroupArn");
        _cleanup_json_ json_t *tg = NULL, *lbs = NULL;
        char key[ELB_KEY_MAX];
        int r;
        if (!arn)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "TargetGroupArn is required");
        r = elb_get(c->s, ELB_TG, arn, &tg, key, err);
        if (r == -ENOENT) {
                err_clear(err);
                *ret = json_object();
                return 0;
        }
        if (r < 0)
                return r;
        lbs = tg_lb_arns(c->s, arn);
        if (json_array_size(lbs))
                return err_set(err, EBUSY, ELB_E_IN_USE, "Target group '%.300s' is currently in use by a listener or a rule", arn);
        if ((r = elb_tg_unpush(c->s, tg, err)) < 0 || (r = store_del(c->s->store, key, err)) < 0)
                return r;
        log_info("target group %s deleted", arn);
        *ret = json_object();
        return 0;
}

static json_t *attributes_list(json_t *tg)
{
        json_t *out = json_array(), *v;
        const char *k;
        json_object_foreach(json_object_get(json_object_get(tg, "ebx"), "attributes"), k, v)
                json_array_append_new(out, json_pack("{s:s, s:O}", "Key", k, "Value", v));
        return out;
}

int elb_op_describe_target_group_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL;
        int r;
        if (!jstr(req, "TargetGroupArn"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "TargetGroupArn is required");
        if ((r = elb_get(c->s, ELB_TG, jstr(req, "TargetGroupArn"), &tg, NULL, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Attributes", attributes_list(tg));
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

int elb_op_modify_target_group_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *tg = NULL;
        char key[ELB_KEY_MAX];
        json_t *attrs;
        int r;
        if (!jstr(req, "TargetGroupArn"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "TargetGroupArn is required");
        if ((r = elb_get(c->s, ELB_TG, jstr(req, "TargetGroupArn"), &tg, key, err)) < 0)
                return r;
        attrs = json_object_get(json_object_get(tg, "ebx"), "attributes");
        if (!attrs) {
                attrs = elb_tg_attributes_default(tg);
                json_object_set_new(json_object_get(tg, "ebx"), "attributes", attrs);
        }
        if ((r = elb_tg_attributes_apply(tg, attrs, json_object_get(req, "Attributes"), err)) < 0 ||
            (r = store_put(c->s->store, key, tg, err)) < 0 || (r = tg_repush(c->s, tg, err)) < 0)
                return r;
        *ret = json_pack("{s:o}", "Attributes", attributes_list(tg));
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}
