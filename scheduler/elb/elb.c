/* elb.c: the ELBv2 operations' table and what the files of scheduler/elb/ share (ids, ARNs, record
 * lookups, paging, netd calls). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../netd_client.h"
#include "../sched.h"
#include "elb.h"
#include "elb_int.h"

typedef int (*elb_op_fn)(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);

static const struct {
        const char *name;
        elb_op_fn fn;
} OPS[] = {
        { "CreateLoadBalancer", elb_op_create_load_balancer },
        { "DescribeLoadBalancers", elb_op_describe_load_balancers },
        { "DeleteLoadBalancer", elb_op_delete_load_balancer },
        { "CreateTargetGroup", elb_op_create_target_group },
        { "DescribeTargetGroups", elb_op_describe_target_groups },
        { "ModifyTargetGroup", elb_op_modify_target_group },
        { "DeleteTargetGroup", elb_op_delete_target_group },
        { "DescribeTargetGroupAttributes", elb_op_describe_target_group_attributes },
        { "ModifyTargetGroupAttributes", elb_op_modify_target_group_attributes },
        { "RegisterTargets", elb_op_register_targets },
        { "DeregisterTargets", elb_op_deregister_targets },
        { "DescribeTargetHealth", elb_op_describe_target_health },
        { "CreateListener", elb_op_create_listener },
        { "DescribeListeners", elb_op_describe_listeners },
        { "ModifyListener", elb_op_modify_listener },
        { "DeleteListener", elb_op_delete_listener },
        { "CreateRule", elb_op_create_rule },
        { "DescribeRules", elb_op_describe_rules },
        { "ModifyRule", elb_op_modify_rule },
        { "DeleteRule", elb_op_delete_rule },
        { "SetRulePriorities", elb_op_set_rule_priorities },
        { "AddTags", elb_op_add_tags },
        { "RemoveTags", elb_op_remove_tags },
        { "DescribeTags", elb_op_describe_tags },
};

int elb_handle(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err)
{
        for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++) {
                if (strcmp(OPS[i].name, op) != 0)
                        continue;
                int r = store_begin(c->s->store, err);
                if (r < 0)
                        return r;
                if ((r = OPS[i].fn(c, req, ret, err)) < 0) {
                        store_rollback(c->s->store);
                        return r;
                }
                if ((r = store_commit(c->s->store, err)) < 0) {
                        *ret = (json_decref(*ret), NULL);
                        return r;
                }
                return 0;
        }
        return err_set(err, ENOTSUP, "InvalidAction", "The action %.100s is not valid for this web service.", op);
}

int elb_id_new(char id[ELB_ID_MAX])
{
        unsigned char b[ELB_ID_LEN / 2];
        int r = random_bytes(b, sizeof b);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof b; i++)
                snprintf(id + 2 * i, 3, "%02x", b[i]);
        return 0;
}

static const char *const PREFIX[] = { ELB_LB_PREFIX, ELB_TG_PREFIX, ELB_LN_PREFIX, ELB_RULE_PREFIX };

void elb_key(enum elb_kind kind, const char *id, char key[ELB_KEY_MAX])
{
        snprintf(key, ELB_KEY_MAX, "%s%s", PREFIX[kind], id);
}

void elb_arn(struct api_ctx *c, char *buf, size_t size, const char *resource)
{
        snprintf(buf, size, "arn:aws:elasticloadbalancing:%s:%s:%s", c->region[0] ? c->region : c->s->region, c->s->account, resource);
}

const char *elb_arn_member(enum elb_kind kind)
{
        static const char *const m[] = { "LoadBalancerArn", "TargetGroupArn", "ListenerArn", "RuleArn" };
        return m[kind];
}

int elb_get(struct sched *s, enum elb_kind kind, const char *arn, json_t **ret, char *ret_key, struct err *err)
{
        static const char *const nf[] = { ELB_E_LB_NF, ELB_E_TG_NF, ELB_E_LN_NF, ELB_E_RULE_NF };
        static const char *const what[] = { "Load balancer", "Target group", "Listener", "Rule" };
        char id[ELB_ID_MAX], key[ELB_KEY_MAX];
        json_t *rec = NULL;
        int r;
        if ((r = elb_arn_id(kind, arn, id, err)) < 0)
                return r;
        elb_key(kind, id, key);
        r = store_get(s->store, key, &rec, err);
        if (r == -ENOENT || (r == 0 && strcmp(jstr(rec, elb_arn_member(kind)) ?: "", arn) != 0)) {
                json_decref(rec);
                return err_set(err, ENOENT, nf[kind], "%s '%.300s' not found", what[kind], arn);
        }
        if (r < 0)
                return r;
        if (ret_key)
                memcpy(ret_key, key, ELB_KEY_MAX);
        *ret = rec;
        return 0;
}

static int list_cb(const char *key, json_t *val, void *userdata)
{
        return json_array_append(userdata, val) < 0 ? -ENOMEM : 0;
}

int elb_list(struct sched *s, enum elb_kind kind, json_t **ret, struct err *err)
{
        json_t *all = json_array();
        int r;
        if (!all)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = store_list(s->store, PREFIX[kind], list_cb, all, err)) < 0) {
                json_decref(all);
                return r;
        }
        *ret = all;
        return 0;
}

json_t *elb_public(json_t *rec)
{
        json_t *o = json_deep_copy(rec);
        json_object_del(o, "ebx");
        return o;
}

int elb_page(json_t *req, json_t *all, json_t *ret, const char *member, struct err *err)
{
        size_t off, size, i;
        json_t *page = json_array();
        int r;
        if (!page)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if ((r = elb_page_decode(req, &off, &size, err)) < 0) {
                json_decref(page);
                return r;
        }
        for (i = off; i < json_array_size(all) && i < off + size; i++)
                json_array_append(page, json_array_get(all, i));
        json_object_set_new(ret, member, page);
        if (i < json_array_size(all)) {
                char m[32];
                snprintf(m, sizeof m, "m%zu", i);
                json_object_set_new(ret, "NextMarker", json_string(m));
        }
        return 0;
}

json_t *elb_tags(json_t *rec)
{
        json_t *ebx = json_object_get(rec, "ebx"), *t;
        if (!ebx) {
                ebx = json_object();
                json_object_set_new(rec, "ebx", ebx);
        }
        t = json_object_get(ebx, "tags");
        if (!json_is_array(t)) {
                t = json_array();
                json_object_set_new(ebx, "tags", t);
        }
        return t;
}

int elb_netd(struct sched *s, json_t *req, json_t **ret, struct err *err)
{
        const char *action = jstr(req, "Action") ?: "";
        json_t *ans = NULL;
        int r = s->netd_call(s, req, &ans, err);
        if (r >= 0) {
                if (ret)
                        *ret = ans;
                else
                        json_decref(ans);
                return 1;
        }
        if (!strcmp(netd_code(err), "InvalidAction")) {
                log_warning("netd has no %s (no load-balancer data plane): %s", action, err->msg);
                err_clear(err);
                return 0;
        }
        return elb_netd_fail(err);
}

int elb_netd_fail(struct err *err)
{
        const char *code = netd_code(err);
        char c[ERR_CODE_MAX];
        if (!*code) {
                snprintf(err->code, sizeof err->code, "%s", "ServiceUnavailable");
                err_wrap(err, "the network service (ecsbox-netd)");
                return -EAGAIN;
        }
        snprintf(c, sizeof c, "%s", code);
        if (!strncmp(c, "InvalidSubnet", 13) || !strcmp(c, "InsufficientFreeAddressesInSubnet"))
                snprintf(err->code, sizeof err->code, "%s", ELB_E_SUBNET);
        else if (!strncmp(c, "InvalidGroup", 12))
                snprintf(err->code, sizeof err->code, "%s", ELB_E_SG);
        else if (!strcmp(c, "InvalidTarget") || !strcmp(c, "DuplicateListener"))
                snprintf(err->code, sizeof err->code, "%s", !strcmp(c, "InvalidTarget") ? ELB_E_TARGET : ELB_E_DUP_LN);
        else
                snprintf(err->code, sizeof err->code, "%s", ELB_E_CONFIG);
        return err_wrap(err, "netd (%s)", c);
}
