/* sg.c: security groups: records (each VPC's default group, CreateSecurityGroup, rules), the EC2
 * operations on them, and ModifyNetworkInterfaceAttribute. Enforcement lives in sg_enforce.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "describe.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "netd.h"
#include "record.h"
#include "sg.h"
#include "sg_enforce.h"
#include "sg_req.h"
#include "sg_rules.h"
#include "vpc.h"


/* The flat rules of a group record (sg_rules.h); records from before rules existed are derived from
 * their IpPermissions once. Borrowed. */
json_t *sg_rules_of(json_t *sg)
{
        json_t *rules = json_object_get(sg, "ebxRules");
        if (!rules) {
                json_t *in = NULL, *out = NULL;
                rules = json_array();
                if (json_array_size(json_object_get(sg, "IpPermissions")) > 0 &&
                    sg_perms_parse(json_object_get(sg, "IpPermissions"), false, &in, NULL) == 0)
                        json_array_extend(rules, in);
                if (json_array_size(json_object_get(sg, "IpPermissionsEgress")) > 0 &&
                    sg_perms_parse(json_object_get(sg, "IpPermissionsEgress"), true, &out, NULL) == 0)
                        json_array_extend(rules, out);
                json_decref(in);
                json_decref(out);
                json_object_set_new(sg, "ebxRules", rules);
        }
        return rules;
}

static int rule_ids_assign(json_t *rules)
{
        json_t *r;
        size_t i;
        json_array_foreach(rules, i, r) {
                char id[ID_MAX];
                if (rec_str(r, "RuleId"))
                        continue;
                if (id_new("sgr", id) < 0)
                        return -EIO;
                json_object_set_new(r, "RuleId", json_string(id));
        }
        return 0;
}

/* Store a group record, with IpPermissions/IpPermissionsEgress regenerated from its rules. */
static int sg_put(struct netd *d, json_t *sg, struct err *err)
{
        char key[KEY_MAX];
        json_t *rules = sg_rules_of(sg);
        (void) rule_ids_assign(rules);
        json_object_set_new(sg, "IpPermissions", sg_rules_to_perms(rules, false));
        json_object_set_new(sg, "IpPermissionsEgress", sg_rules_to_perms(rules, true));
        key_fmt(key, "sg", rec_str(sg, "GroupId"));
        return store_put(d->store, key, sg, err);
}

static json_t *sg_new(struct netd *d, const char *id, const char *name, const char *desc, const char *vpc_id)
{
        char arn[160];
        snprintf(arn, sizeof arn, "arn:aws:ec2:%s:%s:security-group/%s", d->region, d->account, id);
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:[], s:[], s:[]}", "GroupId", id, "GroupName", name,
                         "Description", desc, "VpcId", vpc_id, "OwnerId", d->account, "SecurityGroupArn", arn,
                         "IpPermissions", "IpPermissionsEgress", "Tags", "ebxRules");
}

int sg_create_default(struct netd *d, const char *vpc_id, json_t **ret_sg, struct err *err)
{
        char id[ID_MAX];
        json_t *sg;
        int r;
        if ((r = id_new("sg", id)) < 0)
                return err_set(err, -r, NULL, "default security group: random id: %s", strerror(-r));
        sg = sg_new(d, id, "default", "default VPC security group", vpc_id);
        if (!sg)
                return err_set(err, ENOMEM, NULL, "out of memory");
        /* As on AWS: ingress from members of itself, all egress. */
        json_array_append_new(sg_rules_of(sg), json_pack("{s:b, s:s, s:i, s:i, s:s, s:s}", "Egress", 0, "IpProtocol", "-1",
                                                         "FromPort", -1, "ToPort", -1, "GroupId", id, "UserId", d->account));
        json_array_append_new(sg_rules_of(sg), json_pack("{s:b, s:s, s:i, s:i, s:s}", "Egress", 1, "IpProtocol", "-1",
                                                         "FromPort", -1, "ToPort", -1, "CidrIp", "0.0.0.0/0"));
        r = sg_put(d, sg, err);
        if (r < 0) {
                json_decref(sg);
                return r;
        }
        *ret_sg = sg;
        return 0;
}

int sg_load(struct netd *d, const char *id, json_t **ret, struct err *err)
{
        char key[KEY_MAX];
        int r;
        if (!id || !id_valid("sg", id))
                return err_set(err, EINVAL, "InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", id ? id : "");
        key_fmt(key, "sg", id);
        r = store_get(d->store, key, ret, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, "InvalidGroup.NotFound", "The security group '%s' does not exist", id);
        return r;
}

static json_t *sg_values(json_t *sg, const char *name)
{
        static const struct { const char *filter, *member; } map[] = {
                { "group-id", "GroupId" }, { "group-name", "GroupName" }, { "vpc-id", "VpcId" },
                { "description", "Description" }, { "owner-id", "OwnerId" },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strcmp(name, map[i].filter) == 0)
                        return json_pack("[O]", json_object_get(sg, map[i].member));
        return json_array();
}

json_t *sg_shape(struct netd *d, json_t *sg)
{
        json_t *o = json_object(), *v;
        const char *k;
        json_object_foreach(sg, k, v)
                if (strncmp(k, "ebx", 3) != 0)
                        json_object_set(o, k, v);
        return o;
}

int op_describe_security_groups(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        struct sg_describe_req q;
        json_t *out = NULL, *v;
        size_t i;
        int r;
        if ((r = sg_describe_req_decode(req, &q, err)) < 0 ||
            (r = describe_objects(d, "sg", "GroupId", q.ids, q.filters, sg_values, sg_shape, "InvalidGroup.NotFound", "security group",
                                  &out, err)) < 0)
                return r;
        if (json_array_size(q.names) > 0) {
                json_t *kept = json_array();
                json_array_foreach(out, i, v) {
                        json_t *n;
                        size_t j;
                        json_array_foreach(q.names, j, n)
                                if (json_is_string(n) && strcmp(json_string_value(n), json_string_value(json_object_get(v, "GroupName"))) == 0)
                                        json_array_append(kept, v);
                }
                json_decref(out);
                out = kept;
        }
        *ret = json_pack("{s:o}", "SecurityGroups", out);
        return 0;
}

static bool groups_have(json_t *groups, const char *id)
{
        json_t *g;
        size_t i;
        json_array_foreach(groups, i, g)
                if (json_is_string(g) && !strcmp(json_string_value(g), id))
                        return true;
        return false;
}

int sg_validate_groups(struct netd *d, json_t *groups, const char *vpc_id, json_t **ret_ids, struct err *err)
{
        _cleanup_json_ json_t *ids = json_array();
        json_t *g;
        size_t i;
        int r;
        json_array_foreach(groups, i, g) {
                _cleanup_json_ json_t *sg = NULL;
                char key[KEY_MAX];
                const char *id = json_string_value(g);
                key_fmt(key, "sg", id);
                r = store_get(d->store, key, &sg, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, "InvalidGroup.NotFound", "The security group '%s' does not exist", id);
                if (r < 0)
                        return r;
                if (strcmp(json_string_value(json_object_get(sg, "VpcId")) ?: "", vpc_id) != 0)
                        return err_set(err, EINVAL, JERR_INVALID, "The security group '%s' belongs to another VPC than the subnet's (%s)", id, vpc_id);
                /* the same group twice counts once */
                if (!groups_have(ids, id))
                        json_array_append_new(ids, json_string(id));
        }
        *ret_ids = TAKE_PTR(ids);
        return 0;
}

static int default_vpc_id(struct netd *d, char buf[ID_MAX], struct err *err)
{
        _cleanup_json_ json_t *vpcs = netd_records(d, "vpc/", err);
        json_t *v;
        size_t i;
        if (!vpcs)
                return -EIO;
        json_array_foreach(vpcs, i, v)
                if (json_is_true(json_object_get(v, "IsDefault"))) {
                        snprintf(buf, ID_MAX, "%s", rec_str(v, "VpcId"));
                        return 0;
                }
        return err_set(err, EINVAL, "VPCIdNotSpecified", "No default VPC for this user; specify VpcId");
}

/* The group of a decoded GroupId, or GroupName (in the default VPC, as EC2 resolves it). */
static int sg_find(struct netd *d, const struct sg_ref *ref, json_t **ret, struct err *err)
{
        char vpc_id[ID_MAX];
        json_t *all, *g;
        size_t i;
        int r;
        if (ref->group_id)
                return sg_load(d, ref->group_id, ret, err);
        if ((r = default_vpc_id(d, vpc_id, err)) < 0)
                return r;
        if (!(all = netd_records(d, "sg/", err)))
                return -EIO;
        json_array_foreach(all, i, g)
                if (!strcmp(rec_str(g, "VpcId"), vpc_id) && !strcmp(rec_str(g, "GroupName"), ref->group_name)) {
                        *ret = json_incref(g);
                        json_decref(all);
                        return 0;
                }
        json_decref(all);
        return err_set(err, ENOENT, "InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", ref->group_name, vpc_id);
}

/* ---- CreateSecurityGroup / DeleteSecurityGroup ---- */
int op_create_security_group(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_(sg_create_req_done) struct sg_create_req q = { 0 };
        _cleanup_json_ json_t *vpc = NULL, *all = NULL, *sg = NULL;
        const char *name, *vpc_id;
        char id[ID_MAX], dvpc[ID_MAX];
        json_t *g;
        size_t i;
        int r;
        if ((r = sg_create_req_decode(req, &q, err)) < 0)
                return r;
        name = q.name;
        vpc_id = q.vpc_id;
        if (!vpc_id) {
                if ((r = default_vpc_id(d, dvpc, err)) < 0)
                        return r;
                vpc_id = dvpc;
        }
        if ((r = vpc_load(d, vpc_id, &vpc, err)) < 0)
                return r;
        if (!(all = netd_records(d, "sg/", err)))
                return -EIO;
        json_array_foreach(all, i, g)
                if (!strcmp(rec_str(g, "VpcId"), vpc_id) && !strcmp(rec_str(g, "GroupName"), name))
                        return err_set(err, EEXIST, "InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, vpc_id);
        if ((r = id_new("sg", id)) < 0)
                return err_set(err, -r, NULL, "random id: %s", strerror(-r));
        sg = sg_new(d, id, name, q.desc, vpc_id);
        json_object_set(sg, "Tags", q.tags);
        /* a new group: no ingress, all egress (as on AWS) */
        json_array_append_new(sg_rules_of(sg), json_pack("{s:b, s:s, s:i, s:i, s:s}", "Egress", 1, "IpProtocol", "-1",
                                                         "FromPort", -1, "ToPort", -1, "CidrIp", "0.0.0.0/0"));
        if ((r = sg_put(d, sg, err)) < 0)
                return r;
        log_info("op=CreateSecurityGroup sg=%s name=\"%s\" vpc=%s", id, name, vpc_id);
        *ret = json_pack("{s:s, s:O, s:O}", "GroupId", id, "SecurityGroupArn", json_object_get(sg, "SecurityGroupArn"),
                         "Tags", json_object_get(sg, "Tags"));
        return 0;
}

int op_delete_security_group(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *sg = NULL, *enis = NULL, *all = NULL;
        struct sg_ref ref;
        const char *id;
        char key[KEY_MAX];
        json_t *x, *rule;
        size_t i, j;
        int r;
        if ((r = sg_delete_req_decode(req, &ref, err)) < 0 || (r = sg_find(d, &ref, &sg, err)) < 0)
                return r;
        id = rec_str(sg, "GroupId");
        if (!strcmp(rec_str(sg, "GroupName"), "default"))
                return err_set(err, EPERM, "CannotDelete", "The security group '%s' is the default group of VPC '%s' and cannot be deleted", id, rec_str(sg, "VpcId"));
        if (!(enis = netd_records(d, "eni/", err)) || !(all = netd_records(d, "sg/", err)))
                return -EIO;
        json_array_foreach(enis, i, x)
                if (groups_have(json_object_get(x, "Groups"), id))
                        return err_set(err, EBUSY, "DependencyViolation", "resource %s has a dependent object: network interface %s uses it", id, rec_str(x, "NetworkInterfaceId"));
        json_array_foreach(all, i, x) {
                if (!strcmp(rec_str(x, "GroupId"), id))
                        continue;
                json_array_foreach(sg_rules_of(x), j, rule)
                        if (rec_str(rule, "GroupId") && !strcmp(rec_str(rule, "GroupId"), id))
                                return err_set(err, EBUSY, "DependencyViolation", "resource %s has a dependent object: security group %s references it in a rule", id, rec_str(x, "GroupId"));
        }
        key_fmt(key, "sg", id);
        if ((r = store_del(d->store, key, err)) < 0)
                return r;
        log_info("op=DeleteSecurityGroup sg=%s", id);
        *ret = json_pack("{s:b, s:s}", "Return", 1, "GroupId", id);
        return 0;
}

/* ---- Authorize / Revoke ---- */
static json_t *rule_shape(struct netd *d, json_t *sg, json_t *rule)
{
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:O, s:O}", "SecurityGroupRuleId", rec_str(rule, "RuleId") ?: "",
                              "GroupId", rec_str(sg, "GroupId"), "GroupOwnerId", d->account, "IsEgress",
                              json_is_true(json_object_get(rule, "Egress")), "IpProtocol", rec_str(rule, "IpProtocol"),
                              "FromPort", json_object_get(rule, "FromPort"), "ToPort", json_object_get(rule, "ToPort"));
        if (rec_str(rule, "CidrIp"))
                json_object_set_new(o, "CidrIpv4", json_string(rec_str(rule, "CidrIp")));
        else
                json_object_set_new(o, "ReferencedGroupInfo", json_pack("{s:s, s:s}", "GroupId", rec_str(rule, "GroupId"), "UserId", d->account));
        if (rec_str(rule, "Description"))
                json_object_set_new(o, "Description", json_string(rec_str(rule, "Description")));
        return o;
}

/* Peer groups must exist in the group's VPC. */
static int peers_check(struct netd *d, json_t *sg, json_t *rules, struct err *err)
{
        json_t *rule;
        size_t i;
        json_array_foreach(rules, i, rule) {
                _cleanup_json_ json_t *peer = NULL;
                int r;
                if (!rec_str(rule, "GroupId"))
                        continue;
                if ((r = sg_load(d, rec_str(rule, "GroupId"), &peer, err)) < 0)
                        return r;
                if (strcmp(rec_str(peer, "VpcId"), rec_str(sg, "VpcId")) != 0)
                        return err_set(err, ENOENT, "InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", rec_str(rule, "GroupId"), rec_str(sg, "VpcId"));
        }
        return 0;
}

static long rule_find(json_t *rules, json_t *rule)
{
        char want[160], have[160];
        json_t *o;
        size_t i;
        sg_rule_key(rule, want, sizeof want);
        json_array_foreach(rules, i, o) {
                sg_rule_key(o, have, sizeof have);
                if (!strcmp(want, have))
                        return (long) i;
        }
        return -1;
}

/* Store the group with its new rules and push them to every namespace whose ENI uses it; on a kernel
 * failure the old record goes back and the namespaces get the old rules again. */
static int sg_commit_rules(struct netd *d, json_t *sg, json_t *new_rules, struct err *err)
{
        _cleanup_json_ json_t *old = json_deep_copy(sg_rules_of(sg)), *ids = json_pack("[s]", rec_str(sg, "GroupId"));
        struct err e2 = { 0 };
        int r;

        json_object_set(sg, "ebxRules", new_rules);
        if ((r = sg_put(d, sg, err)) < 0)
                return r;
        r = sg_groups_changed(d, ids, err);
        if (r >= 0)
                return 0;
        json_object_set(sg, "ebxRules", old);
        if (sg_put(d, sg, &e2) < 0 || sg_groups_changed(d, ids, &e2) < 0)
                log_error("op=SecurityGroupRules sg=%s msg=\"rollback incomplete\" err=\"%s\"", rec_str(sg, "GroupId"), e2.msg);
        return err_wrap(err, "security group %s", rec_str(sg, "GroupId"));
}

static int rules_authorize(struct netd *d, json_t *req, bool egress, json_t **ret, struct err *err)
{
        _cleanup_(sg_rules_req_done) struct sg_rules_req q = { 0 };
        _cleanup_json_ json_t *sg = NULL, *rules = NULL;
        json_t *rule, *out, *add;
        size_t i;
        int r;
        if ((r = sg_authorize_req_decode(req, egress, &q, err)) < 0 || (r = sg_find(d, &q.ref, &sg, err)) < 0 ||
            (r = peers_check(d, sg, q.rules, err)) < 0)
                return r;
        add = q.rules;
        rules = json_deep_copy(sg_rules_of(sg));
        json_array_foreach(add, i, rule) {
                if (rule_find(rules, rule) >= 0) {
                        char key[160];
                        sg_rule_key(rule, key, sizeof key);
                        return err_set(err, EEXIST, "InvalidPermission.Duplicate", "the specified rule \"%s\" already exists in security group %s", key, rec_str(sg, "GroupId"));
                }
        }
        if (rule_ids_assign(add) < 0)
                return err_set(err, EIO, NULL, "random rule id");
        json_array_extend(rules, add);
        if ((r = sg_commit_rules(d, sg, rules, err)) < 0)
                return r;
        out = json_array();
        json_array_foreach(add, i, rule)
                json_array_append_new(out, rule_shape(d, sg, rule));
        log_info("op=AuthorizeSecurityGroup%s sg=%s rules=%zu", egress ? "Egress" : "Ingress", rec_str(sg, "GroupId"), json_array_size(add));
        *ret = json_pack("{s:b, s:o}", "Return", 1, "SecurityGroupRules", out);
        return 0;
}

static int rules_revoke(struct netd *d, json_t *req, bool egress, json_t **ret, struct err *err)
{
        _cleanup_(sg_rules_req_done) struct sg_rules_req q = { 0 };
        _cleanup_json_ json_t *sg = NULL, *rules = NULL, *out = json_array();
        json_t *rule;
        size_t i;
        int r;
        if ((r = sg_revoke_req_decode(req, egress, &q, err)) < 0 || (r = sg_find(d, &q.ref, &sg, err)) < 0)
                return r;
        rules = json_deep_copy(sg_rules_of(sg));
        if (q.rule_ids) {
                json_t *x;
                json_array_foreach(q.rule_ids, i, x) {
                        long at = -1;
                        json_t *o;
                        size_t j;
                        json_array_foreach(rules, j, o)
                                if (json_is_string(x) && rec_str(o, "RuleId") && !strcmp(rec_str(o, "RuleId"), json_string_value(x)) &&
                                    json_is_true(json_object_get(o, "Egress")) == egress)
                                        at = (long) j;
                        if (at < 0)
                                return err_set(err, ENOENT, "InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", json_string_value(x) ?: "");
                        json_array_append_new(out, rule_shape(d, sg, json_array_get(rules, (size_t) at)));
                        json_array_remove(rules, (size_t) at);
                }
        } else {
                json_array_foreach(q.rules, i, rule) {
                        long at = rule_find(rules, rule);
                        if (at < 0) {
                                char key[160];
                                sg_rule_key(rule, key, sizeof key);
                                return err_set(err, ENOENT, "InvalidPermission.NotFound",
                                               "The specified rule \"%s\" does not exist in security group %s", key, rec_str(sg, "GroupId"));
                        }
                        json_array_append_new(out, rule_shape(d, sg, json_array_get(rules, (size_t) at)));
                        json_array_remove(rules, (size_t) at);
                }
        }
        if ((r = sg_commit_rules(d, sg, rules, err)) < 0)
                return r;
        log_info("op=RevokeSecurityGroup%s sg=%s rules=%zu", egress ? "Egress" : "Ingress", rec_str(sg, "GroupId"), json_array_size(out));
        *ret = json_pack("{s:b, s:O}", "Return", 1, "RevokedSecurityGroupRules", out);
        return 0;
}

int op_authorize_security_group_ingress(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        return rules_authorize(d, req, false, ret, err);
}

int op_authorize_security_group_egress(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        return rules_authorize(d, req, true, ret, err);
}

int op_revoke_security_group_ingress(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        return rules_revoke(d, req, false, ret, err);
}

int op_revoke_security_group_egress(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        return rules_revoke(d, req, true, ret, err);
}

/* ---- ModifyNetworkInterfaceAttribute ---- */
static int eni_store(struct netd *d, json_t *eni, struct err *err)
{
        char key[KEY_MAX];
        key_fmt(key, "eni", rec_str(eni, "NetworkInterfaceId"));
        return store_put(d->store, key, eni, err);
}

int op_modify_network_interface_attribute(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *eni = NULL, *ids = NULL, *before = NULL;
        struct sg_modify_eni_req q;
        const char *id;
        char key[KEY_MAX];
        int r;
        if ((r = sg_modify_eni_req_decode(req, &q, err)) < 0)
                return r;
        id = q.eni_id;
        key_fmt(key, "eni", id);
        r = store_get(d->store, key, &eni, err);
        if (r == -ENOENT)
                return err_set(err, ENOENT, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id);
        if (r < 0)
                return r;
        if (q.attr == SG_ENI_SOURCE_DEST_CHECK) {
                *ret = json_pack("{s:b}", "Return", 1);
                return 0;
        }
        if (q.attr == SG_ENI_DESCRIPTION) {
                json_object_set_new(eni, "Description", json_string(q.desc));
                if ((r = eni_store(d, eni, err)) < 0)
                        return r;
                *ret = json_pack("{s:b}", "Return", 1);
                return 0;
        }
        if ((r = sg_validate_groups(d, q.groups, rec_str(eni, "VpcId"), &ids, err)) < 0)
                return r;
        before = json_deep_copy(eni);
        json_object_set(eni, "Groups", ids);
        if ((r = eni_store(d, eni, err)) < 0)
                return r;
        /* this ENI's own table, then every table whose rules name a group it joined or left as a peer:
         * its address added there or removed before the answer */
        r = sg_eni_refresh(d, eni, err);
        if (r >= 0)
                r = sg_member_moved(d, before, eni, err);
        if (r < 0) {
                struct err e2 = { 0 };
                if (eni_store(d, before, &e2) < 0 || sg_eni_refresh(d, before, &e2) < 0 || sg_member_moved(d, eni, before, &e2) < 0)
                        log_error("op=ModifyNetworkInterfaceAttribute eni=%s msg=\"rollback incomplete\" err=\"%s\"", id, e2.msg);
                return err_wrap(err, "ModifyNetworkInterfaceAttribute %s", id);
        }
        log_info("op=ModifyNetworkInterfaceAttribute eni=%s groups=%zu", id, json_array_size(ids));
        *ret = json_pack("{s:b}", "Return", 1);
        return 0;
}
