/* netd_request_ops.h: every request decoder of netd (netd/req.h, netd/<area>_req.h) behind one call, with
 * the invariants of what it accepts and refuses; shared by fuzz_netd_request.c and tests/unit/netd_req_test.c
 * (which checks that the fuzzer's seeds are accepted). Operation k is chosen by the byte 'A' + k (mod
 * NETD_REQ_OPS). */
#pragma once

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cidr.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "../../netd/eni_req.h"
#include "../../netd/flowlog_collect.h"
#include "../../netd/flowlog_req.h"
#include "../../netd/req.h"
#include "../../netd/sg_req.h"
#include "../../netd/sg_rules.h"
#include "../../netd/subnet_req.h"
#include "../../netd/tasknet_req.h"
#include "../../netd/vpc_req.h"

#define NETD_REQ_OPS 26

/* The Action each operation number decodes. */
static const char *const netd_req_op_names[NETD_REQ_OPS] = {
        "CreateVpc", "DescribeVpcs", "DeleteVpc", "CreateSubnet", "DescribeSubnets", "DeleteSubnet",
        "CreateNetworkInterface", "DescribeNetworkInterfaces", "DeleteNetworkInterface", "AttachNetworkInterface",
        "DetachNetworkInterface", "CreateTaskNetwork", "DeleteTaskNetwork", "DescribeTaskNetworks",
        "DescribeSecurityGroups", "CreateSecurityGroup", "DeleteSecurityGroup", "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
        "ModifyNetworkInterfaceAttribute", "CreateFlowLogs", "DescribeFlowLogs", "DeleteFlowLogs", "GetFlowLogs",
};

static unsigned netd_req_op_of(unsigned char byte)
{
        return (unsigned char) (byte - 'A') % NETD_REQ_OPS;
}

/* An accepted request broke a promise of its decoder's header. */
static void req_broken(unsigned op, const char *what)
{
        fprintf(stderr, "%s: accepted request breaks its invariant: %s\n", netd_req_op_names[op], what);
        abort();
}

#define REQ_CHECK(op, cond) \
        do { \
                if (!(cond)) \
                        req_broken(op, #cond); \
        } while (0)

static bool req_ids_ok(json_t *ids, const char *prefix, bool nonempty)
{
        json_t *v;
        size_t i;
        if (!ids)
                return !nonempty;
        if (!json_is_array(ids) || (nonempty && json_array_size(ids) == 0))
                return false;
        json_array_foreach(ids, i, v)
                if (!json_is_string(v) || !id_valid(prefix, json_string_value(v)))
                        return false;
        return true;
}

static bool req_filters_ok(json_t *filters)
{
        json_t *f, *v;
        size_t i, j;
        if (!filters)
                return true;
        if (!json_is_array(filters))
                return false;
        json_array_foreach(filters, i, f) {
                if (!json_is_string(json_object_get(f, "Name")) || !json_is_array(json_object_get(f, "Values")))
                        return false;
                json_array_foreach(json_object_get(f, "Values"), j, v)
                        if (!json_is_string(v))
                                return false;
        }
        return true;
}

static bool req_name_ok(const char *name)
{
        return name && req_netns_name(name, "name", NULL) == 0;
}

static bool req_str_max(const char *s, size_t min, size_t max)
{
        return s && strlen(s) >= min && strlen(s) <= max;
}

/* cidr_s is the canonical text of c. */
static bool req_cidr_canonical(const char *cidr_s, const struct cidr4 *c)
{
        char buf[CIDR_STR_MAX];
        cidr4_format(c, buf);
        return cidr_s && strcmp(cidr_s, buf) == 0;
}

static void check_describe(unsigned op, const struct req_describe *q, const char *prefix)
{
        REQ_CHECK(op, req_ids_ok(q->ids, prefix, false));
        REQ_CHECK(op, req_filters_ok(q->filters));
}

static void check_eni_create(unsigned op, const struct eni_create_req *q)
{
        REQ_CHECK(op, q->subnet_id && id_valid("subnet", q->subnet_id));
        REQ_CHECK(op, q->type && (!strcmp(q->type, "veth") || !strcmp(q->type, "macvlan")));
        REQ_CHECK(op, !q->desc || strlen(q->desc) <= 255);
        if (q->ip_s) {
                char buf[IP4_STR_MAX];
                ip4_format(q->ip, buf);
                REQ_CHECK(op, strcmp(buf, q->ip_s) == 0);
        }
        REQ_CHECK(op, req_ids_ok(q->groups, "sg", false) && json_array_size(q->groups) <= 5);
}

static void check_find(unsigned op, const struct eni_find_req *q)
{
        REQ_CHECK(op, q->eni_id || q->netns || q->attachment_id);
        REQ_CHECK(op, !q->eni_id || id_valid("eni", q->eni_id));
}

static void check_tasknet_create(unsigned op, const struct tasknet_create_req *q)
{
        REQ_CHECK(op, req_name_ok(q->netns));
        REQ_CHECK(op, !q->metadata || json_is_object(q->metadata));
        switch (q->mode) {
        case TASKNET_AWSVPC:
                check_eni_create(op, &q->eni);
                break;
        case TASKNET_BRIDGE:
                REQ_CHECK(op, req_name_ok(q->instance_netns));
                REQ_CHECK(op, q->npm <= PORTMAP_MAX);
                for (size_t i = 0; i < q->npm; i++) {
                        REQ_CHECK(op, q->pm[i].container_port >= 1);
                        REQ_CHECK(op, q->pm[i].proto == PORTMAP_PROTO_TCP || q->pm[i].proto == PORTMAP_PROTO_UDP);
                        for (size_t j = 0; j < i; j++)
                                REQ_CHECK(op, q->pm[i].host_port == 0 || q->pm[j].proto != q->pm[i].proto ||
                                                      q->pm[j].host_port != q->pm[i].host_port);
                }
                break;
        case TASKNET_NONE:
                break;
        default:
                req_broken(op, "mode");
        }
}

static void check_ref(unsigned op, const struct sg_ref *q, bool id_only)
{
        REQ_CHECK(op, !q->group_id != !q->group_name);
        REQ_CHECK(op, !q->group_id || id_valid("sg", q->group_id));
        REQ_CHECK(op, !id_only || q->group_id);
}

/* The flat rules of sg_rules.h: normalised protocol, ports in range, one peer (a canonical CIDR or a
 * group id), no two alike. */
static void check_rules(unsigned op, json_t *rules, bool egress)
{
        json_t *rule;
        size_t i;
        REQ_CHECK(op, json_is_array(rules) && json_array_size(rules) > 0);
        json_array_foreach(rules, i, rule) {
                const char *proto = jstr(rule, "IpProtocol"), *cidr = jstr(rule, "CidrIp"), *gid = jstr(rule, "GroupId");
                json_t *jf = json_object_get(rule, "FromPort"), *jt = json_object_get(rule, "ToPort");
                long long from = json_integer_value(jf), to = json_integer_value(jt);
                struct cidr4 c;
                char key[160], other[160];
                REQ_CHECK(op, json_is_boolean(json_object_get(rule, "Egress")) && json_is_true(json_object_get(rule, "Egress")) == egress);
                REQ_CHECK(op, proto && json_is_integer(jf) && json_is_integer(jt));
                if (!strcmp(proto, "tcp") || !strcmp(proto, "udp"))
                        REQ_CHECK(op, from >= 0 && from <= to && to <= 65535);
                else if (!strcmp(proto, "icmp"))
                        REQ_CHECK(op, from >= -1 && from <= 255 && to >= -1 && to <= 255 && (from != -1 || to == -1));
                else {
                        char *end;
                        long n = strtol(proto, &end, 10);
                        REQ_CHECK(op, from == -1 && to == -1);
                        REQ_CHECK(op, !strcmp(proto, "-1") || (*proto && !*end && n >= 0 && n <= 255 && n != 1 && n != 6 && n != 17));
                }
                REQ_CHECK(op, !cidr != !gid);
                REQ_CHECK(op, !cidr || (cidr4_parse(cidr, &c) == 0 && req_cidr_canonical(cidr, &c)));
                REQ_CHECK(op, !gid || id_valid("sg", gid));
                REQ_CHECK(op, !jstr(rule, "Description") || strlen(jstr(rule, "Description")) <= 255);
                sg_rule_key(rule, key, sizeof key);
                for (size_t j = 0; j < i; j++) {
                        sg_rule_key(json_array_get(rules, j), other, sizeof other);
                        REQ_CHECK(op, strcmp(key, other) != 0);
                }
        }
}

static void check_flowlog_create(unsigned op, const struct flowlog_create_req *q)
{
        json_t *v;
        size_t i;
        REQ_CHECK(op, q->type && (!strcmp(q->type, "NetworkInterface") || !strcmp(q->type, "Subnet") || !strcmp(q->type, "VPC")));
        REQ_CHECK(op, req_ids_ok(q->ids, !strcmp(q->type, "NetworkInterface") ? "eni" : !strcmp(q->type, "Subnet") ? "subnet" : "vpc", true));
        REQ_CHECK(op, json_array_size(q->ids) <= 1000);
        json_array_foreach(q->ids, i, v)
                for (size_t j = 0; j < i; j++)
                        REQ_CHECK(op, strcmp(json_string_value(json_array_get(q->ids, j)), json_string_value(v)) != 0);
        REQ_CHECK(op, fl_traffic_parse(q->traffic) >= 0);
        REQ_CHECK(op, q->dtype && !strcmp(q->dtype, "file"));
        REQ_CHECK(op, q->dest && q->dest[0] == '/' && strlen(q->dest) <= PATH_MAX - 64);
        REQ_CHECK(op, q->interval >= 1 && q->interval <= 600);
        REQ_CHECK(op, q->fmt.n >= 1 && q->fmt.n <= FL_FORMAT_MAX);
        for (size_t k = 0; k < q->fmt.n; k++)
                REQ_CHECK(op, q->fmt.f[k] < FL_NFIELDS);
        REQ_CHECK(op, json_is_array(q->tags));
}

/* Decode req as operation op with the decoder the operation calls; on success check what the decoder
 * promises, on refusal that err has a code and a message. The decoder's result. */
static int netd_req_decode_checked(unsigned op, json_t *req, struct err *err)
{
        int r;
        switch (op) {
        case 0: {
                struct vpc_create_req q;
                if ((r = vpc_create_req_decode(req, &q, err)) == 0) {
                        REQ_CHECK(op, q.cidr.len >= 16 && q.cidr.len <= 28);
                        REQ_CHECK(op, req_cidr_canonical(q.cidr_s, &q.cidr));
                }
                break;
        }
        case 1: {
                struct req_describe q;
                if ((r = vpc_describe_req_decode(req, &q, err)) == 0)
                        check_describe(op, &q, "vpc");
                break;
        }
        case 2: {
                struct vpc_delete_req q;
                if ((r = vpc_delete_req_decode(req, &q, err)) == 0)
                        REQ_CHECK(op, q.vpc_id && id_valid("vpc", q.vpc_id));
                break;
        }
        case 3: {
                struct subnet_create_req q;
                struct cidr4 c;
                if ((r = subnet_create_req_decode(req, "us-east-1", &q, err)) == 0) {
                        REQ_CHECK(op, q.vpc_id && id_valid("vpc", q.vpc_id));
                        REQ_CHECK(op, cidr4_parse(q.cidr_s, &c) == 0 && c.addr == q.cidr.addr && c.len == q.cidr.len);
                        REQ_CHECK(op, !q.az || subnet_req_az_valid(q.az));
                }
                break;
        }
        case 4: {
                struct req_describe q;
                if ((r = subnet_describe_req_decode(req, &q, err)) == 0)
                        check_describe(op, &q, "subnet");
                break;
        }
        case 5: {
                struct subnet_delete_req q;
                if ((r = subnet_delete_req_decode(req, &q, err)) == 0)
                        REQ_CHECK(op, q.subnet_id && id_valid("subnet", q.subnet_id));
                break;
        }
        case 6: {
                struct eni_create_req q;
                if ((r = eni_create_req_decode(req, &q, err)) == 0)
                        check_eni_create(op, &q);
                break;
        }
        case 7: {
                struct req_describe q;
                if ((r = eni_describe_req_decode(req, &q, err)) == 0)
                        check_describe(op, &q, "eni");
                break;
        }
        case 8: {
                struct eni_delete_req q;
                if ((r = eni_delete_req_decode(req, &q, err)) == 0)
                        REQ_CHECK(op, q.eni_id && id_valid("eni", q.eni_id));
                break;
        }
        case 9: {
                struct eni_attach_req q;
                if ((r = eni_attach_req_decode(req, &q, err)) == 0) {
                        REQ_CHECK(op, q.eni_id && id_valid("eni", q.eni_id));
                        REQ_CHECK(op, req_name_ok(q.netns));
                }
                break;
        }
        case 10: {
                struct eni_detach_req q;
                if ((r = eni_detach_req_decode(req, &q, err)) == 0)
                        check_find(op, &q.find);
                break;
        }
        case 11: {
                struct tasknet_create_req q;
                if ((r = tasknet_create_req_decode(req, &q, err)) == 0)
                        check_tasknet_create(op, &q);
                break;
        }
        case 12: {
                struct eni_find_req q;
                if ((r = tasknet_delete_req_decode(req, &q, err)) == 0) {
                        check_find(op, &q);
                        REQ_CHECK(op, !q.attachment_id);
                }
                break;
        }
        case 13: {
                struct tasknet_describe_req q;
                json_t *v;
                size_t i;
                if ((r = tasknet_describe_req_decode(req, &q, err)) == 0) {
                        REQ_CHECK(op, !q.names || json_is_array(q.names));
                        json_array_foreach(q.names, i, v)
                                REQ_CHECK(op, json_is_string(v));
                }
                break;
        }
        case 14: {
                struct sg_describe_req q;
                if ((r = sg_describe_req_decode(req, &q, err)) == 0) {
                        REQ_CHECK(op, req_ids_ok(q.ids, "sg", false) && req_filters_ok(q.filters));
                        REQ_CHECK(op, !q.names || json_is_array(q.names));
                }
                break;
        }
        case 15: {
                struct sg_create_req q = { 0 };
                if ((r = sg_create_req_decode(req, &q, err)) == 0) {
                        REQ_CHECK(op, req_str_max(q.name, 1, 255) && strcmp(q.name, "default") != 0 && strncmp(q.name, "sg-", 3) != 0);
                        REQ_CHECK(op, req_str_max(q.desc, 1, 255));
                        REQ_CHECK(op, !q.vpc_id || id_valid("vpc", q.vpc_id));
                        REQ_CHECK(op, json_is_array(q.tags));
                }
                sg_create_req_done(&q);
                break;
        }
        case 16: {
                struct sg_ref q;
                if ((r = sg_delete_req_decode(req, &q, err)) == 0)
                        check_ref(op, &q, false);
                break;
        }
        case 17:
        case 18:
        case 19:
        case 20: {
                bool egress = op == 18 || op == 20, revoke = op >= 19;
                struct sg_rules_req q = { 0 };
                r = revoke ? sg_revoke_req_decode(req, egress, &q, err) : sg_authorize_req_decode(req, egress, &q, err);
                if (r == 0) {
                        check_ref(op, &q.ref, egress);
                        REQ_CHECK(op, q.egress == egress);
                        REQ_CHECK(op, !q.rule_ids != !q.rules);
                        REQ_CHECK(op, revoke || q.rules);
                        REQ_CHECK(op, !q.rule_ids || json_is_array(q.rule_ids));
                        if (q.rules)
                                check_rules(op, q.rules, egress);
                }
                sg_rules_req_done(&q);
                break;
        }
        case 21: {
                struct sg_modify_eni_req q;
                if ((r = sg_modify_eni_req_decode(req, &q, err)) == 0) {
                        REQ_CHECK(op, q.eni_id && id_valid("eni", q.eni_id));
                        REQ_CHECK(op, q.attr != SG_ENI_GROUPS ||
                                              (req_ids_ok(q.groups, "sg", true) && json_array_size(q.groups) <= 5));
                        REQ_CHECK(op, q.attr != SG_ENI_DESCRIPTION || req_str_max(q.desc, 0, 255));
                }
                break;
        }
        case 22: {
                struct flowlog_create_req q = { 0 };
                if ((r = flowlog_create_req_decode(req, &q, err)) == 0)
                        check_flowlog_create(op, &q);
                flowlog_create_req_done(&q);
                break;
        }
        case 23: {
                struct req_describe q;
                if ((r = flowlog_describe_req_decode(req, &q, err)) == 0)
                        check_describe(op, &q, "fl");
                break;
        }
        case 24: {
                struct flowlog_delete_req q;
                if ((r = flowlog_delete_req_decode(req, &q, err)) == 0)
                        REQ_CHECK(op, req_ids_ok(q.ids, "fl", true));
                break;
        }
        default: {
                struct flowlog_get_req q;
                if ((r = flowlog_get_req_decode(req, &q, err)) == 0) {
                        REQ_CHECK(op, q.eni_id && id_valid("eni", q.eni_id));
                        REQ_CHECK(op, !q.flow_log_id || id_valid("fl", q.flow_log_id));
                }
                break;
        }
        }
        if (r > 0)
                req_broken(op, "a decoder returns 0 or < 0");
        if (r < 0 && (!err->code[0] || !err->msg[0] || r != -err->errnum)) {
                fprintf(stderr, "%s: refusal without a code or message: r=%d code='%s' msg='%s'\n", netd_req_op_names[op], r,
                        err->code, err->msg);
                abort();
        }
        return r;
}
