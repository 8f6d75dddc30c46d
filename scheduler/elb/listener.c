/* listener.c: CreateListener, DescribeListeners, ModifyListener, DeleteListener. A listener is a record
 * (elb/ln/<id>) with its default rule (elb/rule/<id>, Priority "default"); a network load balancer's
 * listener is also netd's (PutListener, after PutTargetGroup and RegisterTargets of its group). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../sched.h"
#include "elb_int.h"

int elb_action_tgs_check(struct sched *s, json_t *lb, json_t *tgs, const char *proto, json_t **ret_recs, struct err *err)
{
        bool network = elb_lb_network(lb);
        _cleanup_json_ json_t *recs = json_array();
        json_t *v;
        size_t i;
        int r;
        if (!recs)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_array_foreach(tgs, i, v) {
                _cleanup_json_ json_t *tg = NULL, *lns = NULL, *rules = NULL;
                const char *arn = json_string_value(v), *tp;
                json_t *o;
                size_t j;
                if ((r = elb_get(s, ELB_TG, arn, &tg, NULL, err)) < 0)
                        return r;
                tp = jstr(tg, "Protocol") ?: "";
                if (strcmp(jstr(tg, "VpcId") ?: "", jstr(lb, "VpcId") ?: ""))
                        return err_set(err, EINVAL, ELB_E_CONFIG, "Target group '%.300s' is in VPC '%s', the load balancer in '%s'", arn, jstr(tg, "VpcId"),
                                       jstr(lb, "VpcId"));
                if (network && strcmp(tp, proto))
                        return err_set(err, EINVAL, ELB_E_CONFIG, "Listener protocol '%s' is not compatible with target group protocol '%s' (%.300s)", proto,
                                       tp, arn);
                if (!network && elb_proto_network(tp))
                        return err_set(err, EINVAL, ELB_E_CONFIG, "Target group '%.300s' with protocol %s cannot be used by an application load balancer",
                                       arn, tp);
                /* a target group serves one load balancer */
                if ((r = elb_list(s, ELB_LISTENER, &lns, err)) < 0 || (r = elb_list(s, ELB_RULE, &rules, err)) < 0)
                        return r;
                json_array_foreach(lns, j, o) {
                        json_t *ebx = json_object_get(o, "ebx"), *t;
                        size_t k;
                        if (!strcmp(jstr(o, "LoadBalancerArn") ?: "", jstr(lb, "LoadBalancerArn") ?: ""))
                                continue;
                        json_array_foreach(json_object_get(ebx, "tgs"), k, t)
                                if (!strcmp(json_string_value(t) ?: "", arn))
                                        return err_set(err, EINVAL, ELB_E_TG_ASSOC,
                                                       "The target group '%.300s' is already associated with another load balancer (%.300s)", arn,
                                                       jstr(o, "LoadBalancerArn"));
                }
                json_array_append(recs, tg);
        }
        if (ret_recs)
                *ret_recs = TAKE_PTR(recs);
        return 0;
}

static int proto_check(bool network, const char *proto, struct err *err)
{
        if (network) {
                if (!strcmp(proto, "TCP") || !strcmp(proto, "UDP") || !strcmp(proto, "TCP_UDP"))
                        return 0;
                if (!strcmp(proto, "TLS"))
                        return err_set(err, EINVAL, ELB_E_PROTO, "Listener protocol TLS (certificates) is not supported by ecsbox's network load balancers (TCP, UDP, TCP_UDP are)");
                return err_set(err, EINVAL, ELB_E_PROTO, "Listener protocol '%.16s' is not supported by network load balancers", proto);
        }
        if (!strcmp(proto, "HTTP"))
                return 0;
        if (!strcmp(proto, "HTTPS"))
                return err_set(err, EINVAL, ELB_E_PROTO, "HTTPS listeners (certificates) are not supported by ecsbox (HTTP is)");
        return err_set(err, EINVAL, ELB_E_PROTO, "Listener protocol '%.16s' is not supported by application load balancers", proto);
}

/* netd: the group (settings and targets), then the listener. */
static int listener_push(struct sched *s, json_t *lb, json_t *ln, json_t *tg, struct err *err)
{
        _cleanup_json_ json_t *q = NULL;
        int r;
        if ((r = elb_tg_push(s, tg, err)) < 0)
                return r;
        q = json_pack("{s:s, s:s, s:s, s:s, s:O, s:s}", "Action", "PutListener", "LoadBalancerId", jstr(json_object_get(lb, "ebx"), "id"),
                      "ListenerId", jstr(json_object_get(ln, "ebx"), "id"), "Protocol", jstr(ln, "Protocol"), "Port", json_object_get(ln, "Port"),
                      "TargetGroupId", jstr(json_object_get(tg, "ebx"), "id"));
        if (!q)
                return err_set(err, ENOMEM, NULL, "out of memory");
        r = elb_netd(s, q, NULL, err);
        return r < 0 ? r : 0;
}

/* The groups of old_tgs that no network listener uses any more leave netd. */
static int tgs_release(struct sched *s, json_t *old_tgs, struct err *err)
{
        json_t *v;
        size_t i;
        int r;
        json_array_foreach(old_tgs, i, v) {
                _cleanup_json_ json_t *tg = NULL, *lns = NULL;
                if (elb_get(s, ELB_TG, json_string_value(v), &tg, NULL, err) < 0) {
                        err_clear(err);
                        continue;
                }
                if ((r = elb_tg_listeners(s, json_string_value(v), true, &lns, err)) < 0)
                        return r;
                if (json_array_size(lns) == 0 && (r = elb_tg_unpush(s, tg, err)) < 0)
                        return r;
        }
        return 0;
}

static int default_rule_put(struct api_ctx *c, json_t *lb, json_t *ln, struct err *err)
{
        json_t *lebx = json_object_get(ln, "ebx");
        char key[ELB_KEY_MAX], res[300], arn[ELB_ARN_MAX];
        const char *rid = jstr(lebx, "default_rule");
        _cleanup_json_ json_t *rule = NULL;
        elb_key(ELB_RULE, rid, key);
        snprintf(res, sizeof res, "listener-rule/%s/%s/%s/%s/%s", elb_lb_network(lb) ? "net" : "app", jstr(lb, "LoadBalancerName"),
                 jstr(json_object_get(lb, "ebx"), "id"), jstr(lebx, "id"), rid);
        elb_arn(c, arn, sizeof arn, res);
        rule = json_pack("{s:s, s:s, s:[], s:O, s:b, s:{s:s, s:s, s:s, s:O, s:[]}}", "RuleArn", arn, "Priority", "default", "Conditions", "Actions",
                         json_object_get(ln, "DefaultActions"), "IsDefault", 1, "ebx", "id", rid, "listener", jstr(ln, "ListenerArn"), "lb",
                         jstr(ln, "LoadBalancerArn"), "tgs", json_object_get(lebx, "tgs"), "tags");
        if (!rule)
                return err_set(err, ENOMEM, NULL, "out of memory");
        _cleanup_json_ json_t *old = NULL;
        if (store_get(c->s->store, key, &old, err) == 0 && json_object_get(json_object_get(old, "ebx"), "tags"))
                json_object_set(json_object_get(rule, "ebx"), "tags", json_object_get(json_object_get(old, "ebx"), "tags"));
        err_clear(err);
        return store_put(c->s->store, key, rule, err);
}

int elb_op_create_listener(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        const char *lb_arn = jstr(req, "LoadBalancerArn"), *proto = jstr(req, "Protocol");
        json_t *port = json_object_get(req, "Port"), *tags = json_object_get(req, "Tags"), *o;
        _cleanup_json_ json_t *lb = NULL, *actions = NULL, *tgs = NULL, *recs = NULL, *lns = NULL, *ln = NULL;
        char id[ELB_ID_MAX], rid[ELB_ID_MAX], res[300], arn[ELB_ARN_MAX], key[ELB_KEY_MAX];
        bool network;
        size_t i;
        int r;
        if (!lb_arn)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "LoadBalancerArn is required");
        if ((r = elb_get(s, ELB_LB, lb_arn, &lb, NULL, err)) < 0)
                return r;
        network = elb_lb_network(lb);
        if (!proto)
                proto = network ? "TCP" : "HTTP";
        if ((r = proto_check(network, proto, err)) < 0)
                return r;
        if (!port || json_integer_value(port) < 1 || json_integer_value(port) > 65535)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Port must be between 1 and 65535");
        if (json_array_size(json_object_get(req, "Certificates")) || jstr(req, "SslPolicy"))
                return err_set(err, EINVAL, ELB_E_CONFIG, "Certificates and SslPolicy are not supported by ecsbox");
        if (tags && (r = elb_tags_check(tags, err)) < 0)
                return r;
        actions = json_deep_copy(json_object_get(req, "DefaultActions"));
        if ((r = elb_actions_check(actions, network, &tgs, err)) < 0 || (r = elb_action_tgs_check(s, lb, tgs, proto, &recs, err)) < 0)
                return r;
        if ((r = elb_list(s, ELB_LISTENER, &lns, err)) < 0)
                return r;
        json_array_foreach(lns, i, o) {
                if (strcmp(jstr(o, "LoadBalancerArn") ?: "", lb_arn) || jint(o, "Port", 0) != json_integer_value(port))
                        continue;
                if (strcmp(jstr(o, "Protocol") ?: "", proto) || !json_equal(json_object_get(o, "DefaultActions"), actions))
                        return err_set(err, EEXIST, ELB_E_DUP_LN, "A listener already exists on port %lld of load balancer '%.300s'",
                                       (long long) json_integer_value(port), lb_arn);
                *ret = json_pack("{s:[o]}", "Listeners", elb_public(o));
                return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
        }
        if ((r = elb_id_new(id)) < 0 || (r = elb_id_new(rid)) < 0)
                return err_set(err, -r, NULL, "random id: %s", strerror(-r));
        snprintf(res, sizeof res, "listener/%s/%s/%s/%s", network ? "net" : "app", jstr(lb, "LoadBalancerName"), jstr(json_object_get(lb, "ebx"), "id"),
                 id);
        elb_arn(c, arn, sizeof arn, res);
        ln = json_pack("{s:s, s:s, s:O, s:s, s:O, s:{s:s, s:s, s:b, s:O, s:o}}", "ListenerArn", arn, "LoadBalancerArn", lb_arn, "Port", port,
                       "Protocol", proto, "DefaultActions", actions, "ebx", "id", id, "default_rule", rid, "network", network, "tgs", tgs, "tags",
                       tags ? json_incref(tags) : json_array());
        if (!ln)
                return err_set(err, ENOMEM, NULL, "out of memory");
        elb_key(ELB_LISTENER, id, key);
        if ((r = store_put(s->store, key, ln, err)) < 0 || (r = default_rule_put(c, lb, ln, err)) < 0)
                return r;
        if (network && (r = listener_push(s, lb, ln, json_array_get(recs, 0), err)) < 0)
                return r;
        log_info("listener %s %lld on %s created", proto, (long long) json_integer_value(port), lb_arn);
        *ret = json_pack("{s:[o]}", "Listeners", elb_public(ln));
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

int elb_op_describe_listeners(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        const char *lb_arn = jstr(req, "LoadBalancerArn");
        json_t *arns = json_object_get(req, "ListenerArns"), *v, *ln;
        _cleanup_json_ json_t *all = NULL, *sel = json_array(), *out = json_object(), *lb = NULL;
        size_t i, j;
        int r;
        if (!sel || !out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (!lb_arn == !json_array_size(arns))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "You must specify either listener ARNs or a load balancer ARN");
        if (lb_arn && (r = elb_get(c->s, ELB_LB, lb_arn, &lb, NULL, err)) < 0)
                return r;
        if ((r = elb_list(c->s, ELB_LISTENER, &all, err)) < 0)
                return r;
        if (lb_arn) {
                json_array_foreach(all, i, ln)
                        if (!strcmp(jstr(ln, "LoadBalancerArn") ?: "", lb_arn))
                                json_array_append_new(sel, elb_public(ln));
        } else {
                json_array_foreach(arns, i, v) {
                        json_t *found = NULL;
                        char id[ELB_ID_MAX];
                        if ((r = elb_arn_id(ELB_LISTENER, json_string_value(v), id, err)) < 0)
                                return r;
                        json_array_foreach(all, j, ln)
                                if (!strcmp(jstr(ln, "ListenerArn") ?: "", json_string_value(v)))
                                        found = ln;
                        if (!found)
                                return err_set(err, ENOENT, ELB_E_LN_NF, "One or more listeners not found ('%.300s')", json_string_value(v));
                        json_array_append_new(sel, elb_public(found));
                }
        }
        if ((r = elb_page(req, sel, out, "Listeners", err)) < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

int elb_op_modify_listener(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        _cleanup_json_ json_t *ln = NULL, *lb = NULL, *tgs = NULL, *recs = NULL, *lns = NULL, *old_tgs = NULL, *actions = NULL;
        const char *proto;
        json_t *port, *o, *ebx;
        char key[ELB_KEY_MAX];
        bool network;
        size_t i;
        int r;
        if (!jstr(req, "ListenerArn"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "ListenerArn is required");
        if ((r = elb_get(s, ELB_LISTENER, jstr(req, "ListenerArn"), &ln, key, err)) < 0 ||
            (r = elb_get(s, ELB_LB, jstr(ln, "LoadBalancerArn"), &lb, NULL, err)) < 0)
                return r;
        network = elb_lb_network(lb);
        ebx = json_object_get(ln, "ebx");
        proto = jstr(req, "Protocol") ?: jstr(ln, "Protocol");
        port = json_object_get(req, "Port") ?: json_object_get(ln, "Port");
        if ((r = proto_check(network, proto, err)) < 0)
                return r;
        if (json_integer_value(port) < 1 || json_integer_value(port) > 65535)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Port must be between 1 and 65535");
        if (json_array_size(json_object_get(req, "Certificates")) || jstr(req, "SslPolicy"))
                return err_set(err, EINVAL, ELB_E_CONFIG, "Certificates and SslPolicy are not supported by ecsbox");
        actions = json_deep_copy(json_object_get(req, "DefaultActions") ?: json_object_get(ln, "DefaultActions"));
        if ((r = elb_actions_check(actions, network, &tgs, err)) < 0 || (r = elb_action_tgs_check(s, lb, tgs, proto, &recs, err)) < 0)
                return r;
        if ((r = elb_list(s, ELB_LISTENER, &lns, err)) < 0)
                return r;
        json_array_foreach(lns, i, o)
                if (!strcmp(jstr(o, "LoadBalancerArn") ?: "", jstr(ln, "LoadBalancerArn")) && strcmp(jstr(o, "ListenerArn"), jstr(ln, "ListenerArn")) &&
                    jint(o, "Port", 0) == json_integer_value(port))
                        return err_set(err, EEXIST, ELB_E_DUP_LN, "A listener already exists on port %lld of load balancer '%.300s'",
                                       (long long) json_integer_value(port), jstr(ln, "LoadBalancerArn"));
        old_tgs = json_incref(json_object_get(ebx, "tgs"));
        json_object_set_new(ln, "Protocol", json_string(proto));
        json_object_set(ln, "Port", port);
        json_object_set(ln, "DefaultActions", actions);
        json_object_set(ebx, "tgs", tgs);
        if ((r = store_put(s->store, key, ln, err)) < 0 || (r = default_rule_put(c, lb, ln, err)) < 0)
                return r;
        if (network && (r = listener_push(s, lb, ln, json_array_get(recs, 0), err)) < 0)
                return r;
        if ((r = tgs_release(s, old_tgs, err)) < 0)
                return r;
        *ret = json_pack("{s:[o]}", "Listeners", elb_public(ln));
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

int elb_listener_remove(struct sched *s, json_t *ln, struct err *err)
{
        _cleanup_json_ json_t *rules = NULL, *q = NULL, *tgs = json_array();
        json_t *ebx = json_object_get(ln, "ebx"), *rule, *v;
        char key[ELB_KEY_MAX];
        size_t i, j;
        int r;
        if (!tgs)
                return err_set(err, ENOMEM, NULL, "out of memory");
        json_array_extend(tgs, json_object_get(ebx, "tgs"));
        if ((r = elb_list(s, ELB_RULE, &rules, err)) < 0)
                return r;
        json_array_foreach(rules, i, rule) {
                json_t *rebx = json_object_get(rule, "ebx");
                if (strcmp(jstr(rebx, "listener") ?: "", jstr(ln, "ListenerArn") ?: ""))
                        continue;
                json_array_foreach(json_object_get(rebx, "tgs"), j, v)
                        json_array_append(tgs, v);
                elb_key(ELB_RULE, jstr(rebx, "id"), key);
                if ((r = store_del(s->store, key, err)) < 0)
                        return r;
        }
        elb_key(ELB_LISTENER, jstr(ebx, "id"), key);
        if ((r = store_del(s->store, key, err)) < 0)
                return r;
        if (json_is_true(json_object_get(ebx, "network"))) {
                q = json_pack("{s:s, s:s}", "Action", "DeleteListener", "ListenerId", jstr(ebx, "id"));
                if ((r = elb_netd(s, q, NULL, err)) < 0)
                        return r;
        }
        return tgs_release(s, tgs, err);
}

int elb_op_delete_listener(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *ln = NULL;
        int r;
        if (!jstr(req, "ListenerArn"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "ListenerArn is required");
        if ((r = elb_get(c->s, ELB_LISTENER, jstr(req, "ListenerArn"), &ln, NULL, err)) < 0 || (r = elb_listener_remove(c->s, ln, err)) < 0)
                return r;
        log_info("listener %s deleted", jstr(req, "ListenerArn"));
        *ret = json_object();
        return 0;
}
