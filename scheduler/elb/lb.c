/* lb.c: CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer. A load balancer is a record
 * (elb/lb/<id>) and netd's LoadBalancerNetwork (one ENI per subnet); it is `provisioning` until netd
 * answered CreateLoadBalancerNetwork (asked again at each Describe while it has not), then `active`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../netd_client.h"
#include "../sched.h"
#include "elb_int.h"

bool elb_lb_network(json_t *lb)
{
        return !strcmp(jstr(lb, "Type") ?: "", "network");
}

/* The subnets of the request (Subnets or SubnetMappings), checked with netd: one VPC, one per zone.
 * *ret a new array of {SubnetId, ZoneName}, *ret_vpc the VPC (borrowed from the first subnet's copy). */
static int subnets_resolve(struct sched *s, json_t *req, json_t **ret, char vpc[ID_MAX], struct err *err)
{
        json_t *given = json_object_get(req, "Subnets"), *maps = json_object_get(req, "SubnetMappings"), *v;
        _cleanup_json_ json_t *ids = json_array(), *out = json_array();
        size_t i;
        int r;
        if (!ids || !out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (given && maps)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "You can specify subnets or subnet mappings, not both");
        if (given)
                json_array_extend(ids, given);
        json_array_foreach(maps, i, v) {
                if (jstr(v, "AllocationId") || jstr(v, "PrivateIPv4Address") || jstr(v, "IPv6Address"))
                        return err_set(err, EINVAL, ELB_E_CONFIG,
                                       "SubnetMappings[%zu]: AllocationId, PrivateIPv4Address and IPv6Address are not supported by ecsbox (netd picks the address)",
                                       i + 1);
                if (!jstr(v, "SubnetId"))
                        return err_set(err, EINVAL, ELB_E_VALIDATION, "SubnetMappings[%zu]: SubnetId is required", i + 1);
                json_array_append_new(ids, json_string(jstr(v, "SubnetId")));
        }
        if (json_array_size(ids) == 0)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "At least one subnet must be specified");
        vpc[0] = 0;
        json_array_foreach(ids, i, v) {
                _cleanup_json_ json_t *sn = NULL;
                const char *id = json_string_value(v) ?: "";
                struct err e = { 0 };
                if ((r = netd_subnet(s, id, &sn, &e)) < 0) {
                        if (!strcmp(netd_code(&e), "InvalidSubnetID.NotFound") || !strcmp(netd_code(&e), "InvalidSubnetID.Malformed"))
                                return err_set(err, ENOENT, ELB_E_SUBNET_NF, "The subnet ID '%.64s' is not found", id);
                        *err = e;
                        return elb_netd_fail(err);
                }
                if (vpc[0] && strcmp(vpc, jstr(sn, "VpcId") ?: ""))
                        return err_set(err, EINVAL, ELB_E_SUBNET, "Subnets '%.64s' and '%.64s' are in different VPCs",
                                       jstr(json_array_get(out, 0), "SubnetId"), id);
                snprintf(vpc, ID_MAX, "%s", jstr(sn, "VpcId") ?: "");
                json_t *o;
                size_t j;
                json_array_foreach(out, j, o) {
                        if (!strcmp(jstr(o, "SubnetId"), id))
                                return err_set(err, EINVAL, ELB_E_VALIDATION, "Subnet '%.64s' is given twice", id);
                        if (!strcmp(jstr(o, "ZoneName"), jstr(sn, "AvailabilityZone") ?: ""))
                                return err_set(err, EINVAL, ELB_E_CONFIG,
                                               "A load balancer cannot be attached to multiple subnets in the same Availability Zone ('%.64s' and '%.64s' in %s)",
                                               jstr(o, "SubnetId"), id, jstr(o, "ZoneName"));
                }
                json_array_append_new(out, json_pack("{s:s, s:s}", "SubnetId", id, "ZoneName", jstr(sn, "AvailabilityZone") ?: ""));
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* The security groups: given ones must exist in the VPC; an application load balancer without any gets
 * the VPC's default group. *ret a new array of ids. */
static int groups_resolve(struct sched *s, json_t *req, const char *vpc, bool network, json_t **ret, struct err *err)
{
        json_t *given = json_object_get(req, "SecurityGroups"), *g;
        _cleanup_json_ json_t *q = NULL, *ans = NULL, *out = json_array();
        size_t i;
        int r;
        if (!out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (json_array_size(given))
                q = json_pack("{s:s, s:O}", "Action", "DescribeSecurityGroups", "GroupIds", given);
        else if (!network)
                q = json_pack("{s:s, s:[{s:s, s:[s]}, {s:s, s:[s]}]}", "Action", "DescribeSecurityGroups", "Filters", "Name", "vpc-id", "Values",
                              vpc, "Name", "group-name", "Values", "default");
        else {
                *ret = TAKE_PTR(out);
                return 0;
        }
        if ((r = s->netd_call(s, q, &ans, err)) < 0) {
                if (!strncmp(netd_code(err), "InvalidGroup", 12))
                        return err_set(err, ENOENT, ELB_E_SG, "%s", err->msg);
                return elb_netd_fail(err);
        }
        json_array_foreach(json_object_get(ans, "SecurityGroups"), i, g) {
                if (strcmp(jstr(g, "VpcId") ?: "", vpc))
                        return err_set(err, EINVAL, ELB_E_SG, "Security group '%.64s' is not in the load balancer's VPC '%s'", jstr(g, "GroupId"), vpc);
                json_array_append_new(out, json_string(jstr(g, "GroupId") ?: ""));
        }
        if (json_array_size(given) && json_array_size(out) != json_array_size(given))
                return err_set(err, ENOENT, ELB_E_SG, "One or more security groups are not found");
        *ret = TAKE_PTR(out);
        return 0;
}

/* The DNSName answered by the VPC's resolver: a private zone of that one name with its A records (netd's
 * PutDnsZone / PutDnsRecords). Best effort: a failure is logged, the load balancer stays active. */
static void lb_dns_put(struct sched *s, json_t *lb)
{
        _cleanup_json_ json_t *zone = NULL, *rr = NULL, *ips = json_array();
        json_t *az, *a;
        struct err err = { 0 };
        size_t i, j;
        if (!ips)
                return;
        json_array_foreach(json_object_get(lb, "AvailabilityZones"), i, az)
                json_array_foreach(json_object_get(az, "LoadBalancerAddresses"), j, a)
                        if (jstr(a, "PrivateIPv4Address"))
                                json_array_append_new(ips, json_string(jstr(a, "PrivateIPv4Address")));
        zone = json_pack("{s:s, s:s, s:s}", "Action", "PutDnsZone", "VpcId", jstr(lb, "VpcId"), "Name", jstr(lb, "DNSName"));
        rr = json_pack("{s:s, s:s, s:s, s:s, s:i, s:O}", "Action", "PutDnsRecords", "VpcId", jstr(lb, "VpcId"), "Name", jstr(lb, "DNSName"),
                       "Type", "A", "Ttl", 60, "Records", ips);
        if (!zone || !rr || elb_netd(s, zone, NULL, &err) < 0 || elb_netd(s, rr, NULL, &err) < 0)
                log_warning("load balancer %s: its DNS name %s is not in the VPC resolver: %s", jstr(lb, "LoadBalancerName"), jstr(lb, "DNSName"),
                            err.msg);
}

static void lb_dns_delete(struct sched *s, json_t *lb)
{
        _cleanup_json_ json_t *q = json_pack("{s:s, s:s, s:s}", "Action", "DeleteDnsZone", "VpcId", jstr(lb, "VpcId"), "Name", jstr(lb, "DNSName"));
        struct err err = { 0 };
        if (q && elb_netd(s, q, NULL, &err) < 0)
                log_warning("load balancer %s: DeleteDnsZone %s: %s", jstr(lb, "LoadBalancerName"), jstr(lb, "DNSName"), err.msg);
}

/* netd's CreateLoadBalancerNetwork; on an answer the record turns active with its addresses. A netd
 * without the operation or unreachable leaves it provisioning; netd's refusal makes it failed. */
static int lb_provision(struct sched *s, json_t *lb, struct err *err)
{
        json_t *ebx = json_object_get(lb, "ebx"), *az, *a;
        _cleanup_json_ json_t *q = NULL, *ans = NULL;
        json_t *sgs = json_object_get(lb, "SecurityGroups");
        size_t i, j;
        int r;
        if (!sgs)
                sgs = json_object_get(ebx, "groups");
        q = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O}", "Action", "CreateLoadBalancerNetwork", "LoadBalancerId", jstr(ebx, "id"),
                      "Name", jstr(lb, "LoadBalancerName"), "Type", jstr(lb, "Type"), "Scheme", jstr(lb, "Scheme"), "VpcId", jstr(lb, "VpcId"),
                      "SubnetIds", json_object_get(ebx, "subnets"), "SecurityGroups", sgs);
        if (!q)
                return err_set(err, ENOMEM, NULL, "out of memory");
        r = elb_netd(s, q, &ans, err);
        if (r == 0 || r == -EAGAIN) {
                if (r < 0)
                        log_warning("load balancer %s stays provisioning: %s", jstr(lb, "LoadBalancerName"), err->msg);
                err_clear(err);
                return 0;
        }
        if (r < 0) {
                json_object_set_new(lb, "State", json_pack("{s:s, s:s}", "Code", "failed", "Reason", err->msg));
                err_clear(err);
                return 0;
        }
        json_t *addrs = json_object_get(json_object_get(ans, "LoadBalancerNetwork"), "Addresses");
        json_array_foreach(json_object_get(lb, "AvailabilityZones"), i, az) {
                json_t *list = json_array();
                json_array_foreach(addrs, j, a)
                        if (!strcmp(jstr(a, "SubnetId") ?: "", jstr(az, "SubnetId") ?: ""))
                                json_array_append_new(list, json_pack("{s:s}", "PrivateIPv4Address", jstr(a, "PrivateIpv4Address") ?: ""));
                json_object_set_new(az, "LoadBalancerAddresses", list);
        }
        json_object_set_new(ebx, "addresses", json_incref(addrs));
        json_object_set_new(lb, "State", json_pack("{s:s}", "Code", "active"));
        lb_dns_put(s, lb);
        return 0;
}

/* A record still provisioning: ask netd again, store what changed. */
static int lb_refresh(struct sched *s, json_t *lb, struct err *err)
{
        char key[ELB_KEY_MAX];
        int r;
        if (strcmp(jstr(json_object_get(lb, "State"), "Code") ?: "", "provisioning"))
                return 0;
        if ((r = lb_provision(s, lb, err)) < 0)
                return r;
        if (strcmp(jstr(json_object_get(lb, "State"), "Code") ?: "", "provisioning") == 0)
                return 0;
        elb_key(ELB_LB, jstr(json_object_get(lb, "ebx"), "id"), key);
        return store_put(s->store, key, lb, err);
}

static bool same_strings(json_t *a, json_t *b)
{
        json_t *v;
        size_t i, j;
        if (json_array_size(a) != json_array_size(b))
                return false;
        json_array_foreach(a, i, v) {
                bool found = false;
                for (j = 0; j < json_array_size(b) && !found; j++)
                        found = json_equal(v, json_array_get(b, j));
                if (!found)
                        return false;
        }
        return true;
}

static json_t *lb_find_name(json_t *all, const char *name)
{
        json_t *lb;
        size_t i;
        json_array_foreach(all, i, lb)
                if (!strcmp(jstr(lb, "LoadBalancerName") ?: "", name))
                        return lb;
        return NULL;
}

int elb_op_create_load_balancer(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        const char *name = jstr(req, "Name"), *type = jstr(req, "Type") ?: "application", *scheme = jstr(req, "Scheme") ?: "internet-facing";
        const char *ipt = jstr(req, "IpAddressType") ?: "ipv4";
        _cleanup_json_ json_t *all = NULL, *subnets = NULL, *groups = NULL, *lb = NULL, *subnet_ids = json_array(), *tags = NULL;
        char vpc[ID_MAX], id[ELB_ID_MAX], res[200], arn[ELB_ARN_MAX], dns[256], key[ELB_KEY_MAX];
        bool network;
        json_t *v, *old;
        size_t i;
        int r;

        if (!name)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Name is required");
        if ((r = elb_name_check("Load balancer", name, true, err)) < 0)
                return r;
        if (strcmp(type, "application") && strcmp(type, "network")) {
                if (!strcmp(type, "gateway"))
                        return err_set(err, EINVAL, ELB_E_CONFIG, "Gateway load balancers are not supported by ecsbox");
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Type '%.32s' must be one of application, network, gateway", type);
        }
        network = !strcmp(type, "network");
        if (strcmp(scheme, "internal") && strcmp(scheme, "internet-facing"))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Scheme '%.32s' must be internal or internet-facing", scheme);
        if (strcmp(ipt, "ipv4"))
                return err_set(err, EINVAL, ELB_E_CONFIG, "IpAddressType '%.32s' is not supported by ecsbox (only ipv4)", ipt);
        if (json_object_get(req, "CustomerOwnedIpv4Pool"))
                return err_set(err, EINVAL, ELB_E_CONFIG, "CustomerOwnedIpv4Pool is not supported by ecsbox");
        tags = json_incref(json_object_get(req, "Tags"));
        if (tags && (r = elb_tags_check(tags, err)) < 0)
                return r;
        if ((r = subnets_resolve(s, req, &subnets, vpc, err)) < 0 || (r = groups_resolve(s, req, vpc, network, &groups, err)) < 0)
                return r;
        if ((r = elb_list(s, ELB_LB, &all, err)) < 0)
                return r;
        json_array_foreach(subnets, i, v)
                json_array_append_new(subnet_ids, json_string(jstr(v, "SubnetId")));

        if ((old = lb_find_name(all, name))) {
                if (strcmp(jstr(old, "Type"), type) || strcmp(jstr(old, "Scheme"), scheme) ||
                    !same_strings(json_object_get(json_object_get(old, "ebx"), "subnets"), subnet_ids) ||
                    !same_strings(json_object_get(old, "SecurityGroups"), groups))
                        return err_set(err, EEXIST, ELB_E_DUP_LB, "A load balancer with the name '%s' already exists", name);
                *ret = json_pack("{s:[o]}", "LoadBalancers", elb_public(old));
                return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
        }
        if ((r = elb_id_new(id)) < 0)
                return err_set(err, -r, NULL, "random id: %s", strerror(-r));
        snprintf(res, sizeof res, "loadbalancer/%s/%s/%s", network ? "net" : "app", name, id);
        elb_arn(c, arn, sizeof arn, res);
        const char *region = c->region[0] ? c->region : s->region;
        if (network)
                snprintf(dns, sizeof dns, "%s-%s.elb.%s.amazonaws.com", name, id, region);
        else
                snprintf(dns, sizeof dns, "%s%s-%llu.%s.elb.amazonaws.com", strcmp(scheme, "internal") ? "" : "internal-", name,
                         strtoull(id + 6, NULL, 16) % 10000000000ULL, region);
        json_t *azs = json_array();
        json_array_foreach(subnets, i, v)
                json_array_append_new(azs, json_pack("{s:s, s:s, s:[]}", "ZoneName", jstr(v, "ZoneName"), "SubnetId", jstr(v, "SubnetId"),
                                                     "LoadBalancerAddresses"));
        lb = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:{s:s}, s:s, s:o, s:O, s:s, s:{s:s, s:O, s:o}}", "LoadBalancerArn", arn, "DNSName", dns,
                       "CanonicalHostedZoneId", network ? "Z26RNL4JYFTOTI" : "Z35SXDOTRQ7X7K", "CreatedTime", jtime(now_epoch()),
                       "LoadBalancerName", name, "Scheme", scheme, "VpcId", vpc, "State", "Code", "provisioning", "Type", type,
                       "AvailabilityZones", azs, "SecurityGroups", groups, "IpAddressType", ipt, "ebx", "id", id, "subnets", subnet_ids, "tags",
                       tags ? json_incref(tags) : json_array());
        if (lb)
                json_object_set(json_object_get(lb, "ebx"), "groups", groups);
        if (!lb)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (network && json_array_size(groups) == 0)
                json_object_del(lb, "SecurityGroups");
        if ((r = lb_provision(s, lb, err)) < 0)
                return r;
        elb_key(ELB_LB, id, key);
        if ((r = store_put(s->store, key, lb, err)) < 0)
                return r;
        log_info("load balancer %s (%s, %s) created: %s", name, type, jstr(json_object_get(lb, "State"), "Code"), arn);
        *ret = json_pack("{s:[o]}", "LoadBalancers", elb_public(lb));
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

int elb_op_describe_load_balancers(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        json_t *arns = json_object_get(req, "LoadBalancerArns"), *names = json_object_get(req, "Names"), *v, *lb;
        _cleanup_json_ json_t *all = NULL, *sel = json_array(), *out = json_object();
        size_t i, j;
        int r;
        if (!sel || !out)
                return err_set(err, ENOMEM, NULL, "out of memory");
        if (json_array_size(arns) && json_array_size(names))
                return err_set(err, EINVAL, ELB_E_VALIDATION, "Load balancer ARNs and names cannot be specified at the same time");
        if (json_array_size(arns) > 20 || json_array_size(names) > 20)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "At most 20 load balancer ARNs or names can be given");
        if ((r = elb_list(c->s, ELB_LB, &all, err)) < 0)
                return r;
        if (json_array_size(arns) || json_array_size(names)) {
                json_t *want = json_array_size(arns) ? arns : names;
                const char *member = json_array_size(arns) ? "LoadBalancerArn" : "LoadBalancerName";
                json_array_foreach(want, i, v) {
                        json_t *found = NULL;
                        json_array_foreach(all, j, lb)
                                if (!strcmp(jstr(lb, member) ?: "", json_string_value(v) ?: ""))
                                        found = lb;
                        if (!found) {
                                char id[ELB_ID_MAX];
                                if (want == arns && (r = elb_arn_id(ELB_LB, json_string_value(v), id, err)) < 0)
                                        return r;
                                return err_set(err, ENOENT, ELB_E_LB_NF, "One or more load balancers not found ('%.300s')", json_string_value(v) ?: "");
                        }
                        json_array_append(sel, found);
                }
        } else
                json_array_extend(sel, all);
        json_array_foreach(sel, i, lb) {
                _cleanup_json_ json_t *copy = json_deep_copy(lb);
                if ((r = lb_refresh(c->s, copy, err)) < 0)
                        return r;
                json_array_set_new(sel, i, elb_public(copy));
        }
        if ((r = elb_page(req, sel, out, "LoadBalancers", err)) < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

int elb_op_delete_load_balancer(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        const char *arn = jstr(req, "LoadBalancerArn");
        _cleanup_json_ json_t *lb = NULL, *lns = NULL, *q = NULL;
        char key[ELB_KEY_MAX];
        json_t *ln;
        size_t i;
        int r;
        if (!arn)
                return err_set(err, EINVAL, ELB_E_VALIDATION, "LoadBalancerArn is required");
        r = elb_get(c->s, ELB_LB, arn, &lb, key, err);
        if (r == -ENOENT) {
                /* as ELB: deleting a load balancer that is not there succeeds */
                err_clear(err);
                *ret = json_object();
                return 0;
        }
        if (r < 0)
                return r;
        if ((r = elb_list(c->s, ELB_LISTENER, &lns, err)) < 0)
                return r;
        json_array_foreach(lns, i, ln)
                if (!strcmp(jstr(ln, "LoadBalancerArn") ?: "", arn) && (r = elb_listener_remove(c->s, ln, err)) < 0)
                        return r;
        if (!strcmp(jstr(json_object_get(lb, "State"), "Code") ?: "", "active"))
                lb_dns_delete(c->s, lb);
        q = json_pack("{s:s, s:s}", "Action", "DeleteLoadBalancerNetwork", "LoadBalancerId", jstr(json_object_get(lb, "ebx"), "id"));
        if ((r = elb_netd(c->s, q, NULL, err)) < 0)
                return r;
        if ((r = store_del(c->s->store, key, err)) < 0)
                return r;
        log_info("load balancer %s deleted", arn);
        *ret = json_object();
        return 0;
}
