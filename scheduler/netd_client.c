/* netd_client.c: requests to ecsbox-netd (one JSON line each way on its Unix socket)
 * and the default VPC/subnet that awsvpc tasks use when none is named. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/netd_client.h"
#include "ecsbox/store.h"
#include "netd_client.h"
#include "sched.h"

#define NETD_TIMEOUT_MS 60000

/* netd's own error answers become err->code "netd:<Code>" with its message (see netd_code). */
int netd_socket_call(struct sched *s, json_t *req, json_t **ret, struct err *err)
{
        json_t *doc = NULL, *e;
        int r = netd_client_call(s->netd_sock, req, NETD_TIMEOUT_MS, &doc, err);
        if (r < 0)
                return r;
        e = json_object_get(doc, "Error");
        if (e) {
                char code[ERR_CODE_MAX];
                snprintf(code, sizeof code, "netd:%s", jstr(e, "Code") ?: "InternalError");
                r = err_set(err, EIO, code, "%s", jstr(e, "Message") ?: "netd reported an error");
                json_decref(doc);
                return r;
        }
        *ret = doc;
        return 0;
}

const char *netd_code(const struct err *err)
{
        return strncmp(err->code, "netd:", 5) == 0 ? err->code + 5 : "";
}

/* The ids in member `field` of every object of array `member` of doc, as a new JSON array. */
static json_t *ids_of(json_t *doc, const char *member, const char *field)
{
        json_t *out = json_array(), *o;
        size_t i;
        json_array_foreach(json_object_get(doc, member), i, o)
                if (jstr(o, field))
                        json_array_append_new(out, json_string(jstr(o, field)));
        return out;
}

/* The flow logs on the ENI in netns go before it: a flow log that ecsboxd made for a task (tag
 * ecsbox:flow-logs) or that someone put on the task's ENI would outlive the ENI in netd's records
 * otherwise. DeleteFlowLogs writes what the meters still hold first. Called before every release,
 * so a release retried after a crash finishes what the crash cut. */
static int delete_eni_flow_logs(struct sched *s, const char *netns, struct err *err)
{
        _cleanup_json_ json_t *req = json_pack("{s:s, s:[{s:s, s:[s]}]}", "Action", "DescribeNetworkInterfaces", "Filters", "Name",
                                               "attachment.netns", "Values", netns);
        _cleanup_json_ json_t *ans = NULL, *enis = NULL, *fl_req = NULL, *fl_ans = NULL, *fls = NULL, *del = NULL, *del_ans = NULL;
        int r;
        if ((r = s->netd_call(s, req, &ans, err)) < 0)
                return r;
        enis = ids_of(ans, "NetworkInterfaces", "NetworkInterfaceId");
        if (json_array_size(enis) == 0)
                return 0;
        fl_req = json_pack("{s:s, s:[{s:s, s:O}]}", "Action", "DescribeFlowLogs", "Filters", "Name", "resource-id", "Values", enis);
        if ((r = s->netd_call(s, fl_req, &fl_ans, err)) < 0)
                return r;
        fls = ids_of(fl_ans, "FlowLogs", "FlowLogId");
        if (json_array_size(fls) == 0)
                return 0;
        del = json_pack("{s:s, s:O}", "Action", "DeleteFlowLogs", "FlowLogIds", fls);
        if ((r = s->netd_call(s, del, &del_ans, err)) < 0)
                return r;
        log_info("msg=\"flow logs of a released task network deleted\" netns=%s count=%zu", netns, json_array_size(fls));
        return 0;
}

int netd_release(struct sched *s, const char *netns, struct err *err)
{
        _cleanup_json_ json_t *req = json_pack("{s:s, s:s}", "Action", "DeleteTaskNetwork", "Netns", netns), *ans = NULL;
        int r = delete_eni_flow_logs(s, netns, err);
        if (r < 0)
                return r;
        r = s->netd_call(s, req, &ans, err);
        if (r < 0 && strcmp(netd_code(err), "InvalidNetworkInterfaceID.NotFound") == 0) {
                err_clear(err);
                return 0;
        }
        return r;
}

int netd_subnet(struct sched *s, const char *subnet_id, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *req = json_pack("{s:s, s:[s]}", "Action", "DescribeSubnets", "SubnetIds", subnet_id), *ans = NULL;
        json_t *sn;
        int r = s->netd_call(s, req, &ans, err);
        if (r < 0)
                return r;
        sn = json_array_get(json_object_get(ans, "Subnets"), 0);
        if (!sn)
                return err_set(err, ENOENT, "netd:InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", subnet_id);
        *ret = json_incref(sn);
        return 0;
}

static int remember(struct sched *s, const char *vpc, const char *subnet, const char *az, struct err *err)
{
        _cleanup_json_ json_t *rec = json_pack("{s:s, s:s, s:s}", "VpcId", vpc, "SubnetId", subnet, "AvailabilityZone", az);
        int r = store_put(s->store, "meta/default-network", rec, err);
        if (r < 0)
                return r;
        snprintf(s->default_vpc, sizeof s->default_vpc, "%s", vpc);
        snprintf(s->default_subnet, sizeof s->default_subnet, "%s", subnet);
        snprintf(s->default_az, sizeof s->default_az, "%s", az);
        s->net_defaults_ok = true;
        return 0;
}

/* The default subnet of a VPC: default-for-az in zone REGIONa, else the first by zone. */
static int pick_subnet(struct sched *s, const char *vpc, bool default_only, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *req = NULL, *ans = NULL;
        json_t *sn, *best = NULL;
        char az[40];
        size_t i;
        int r;
        req = default_only ? json_pack("{s:s, s:[{s:s, s:[s]}, {s:s, s:[s]}]}", "Action", "DescribeSubnets", "Filters", "Name",
                                       "vpc-id", "Values", vpc, "Name", "default-for-az", "Values", "true")
                           : json_pack("{s:s, s:[{s:s, s:[s]}, {s:s, s:[s]}]}", "Action", "DescribeSubnets", "Filters", "Name",
                                       "vpc-id", "Values", vpc, "Name", "cidr-block", "Values", "172.31.0.0/20");
        if ((r = s->netd_call(s, req, &ans, err)) < 0)
                return r;
        snprintf(az, sizeof az, "%sa", s->region);
        json_array_foreach(json_object_get(ans, "Subnets"), i, sn) {
                const char *z = jstr(sn, "AvailabilityZone") ?: "";
                if (!best || strcmp(z, az) == 0 ||
                    (strcmp(jstr(best, "AvailabilityZone") ?: "", az) != 0 && strcmp(z, jstr(best, "AvailabilityZone") ?: "") < 0))
                        best = sn;
        }
        *ret = best ? json_incref(best) : NULL;
        return 0;
}

int netd_ensure_defaults(struct sched *s, struct err *err)
{
        _cleanup_json_ json_t *req = NULL, *ans = NULL, *own = NULL, *sn = NULL;
        json_t *vpc;
        char az[40];
        const char *vpc_id;
        int r;

        if (s->net_defaults_ok)
                return 0;
        /* 1. netd's own default VPC (it makes one on first start unless told not to) */
        req = json_pack("{s:s, s:[{s:s, s:[s]}]}", "Action", "DescribeVpcs", "Filters", "Name", "is-default", "Values", "true");
        if ((r = s->netd_call(s, req, &ans, err)) < 0)
                return err_wrap(err, "find the default VPC");
        vpc = json_array_get(json_object_get(ans, "Vpcs"), 0);
        if (vpc) {
                if ((r = pick_subnet(s, jstr(vpc, "VpcId"), true, &sn, err)) < 0)
                        return err_wrap(err, "find the default subnet");
                if (sn) {
                        log_info("msg=\"using netd's default VPC\" vpc=%s subnet=%s az=%s", jstr(vpc, "VpcId"), jstr(sn, "SubnetId"),
                                 jstr(sn, "AvailabilityZone"));
                        return remember(s, jstr(vpc, "VpcId"), jstr(sn, "SubnetId"), jstr(sn, "AvailabilityZone") ?: "", err);
                }
        }
        /* 2. the one we made earlier: netd cannot mark a VPC as default, so we remember ids */
        r = store_get(s->store, "meta/ecsbox-default-vpc", &own, err);
        if (r < 0 && r != -ENOENT)
                return r;
        snprintf(az, sizeof az, "%sa", s->region);
        if (r == 0) {
                json_decref(req);
                json_decref(ans);
                ans = NULL;
                req = json_pack("{s:s, s:[s]}", "Action", "DescribeVpcs", "VpcIds", jstr(own, "VpcId"));
                if ((r = s->netd_call(s, req, &ans, err)) < 0 && strcmp(netd_code(err), "InvalidVpcID.NotFound") != 0)
                        return err_wrap(err, "check the default VPC");
                if (r < 0 || json_array_size(json_object_get(ans, "Vpcs")) == 0) {
                        log_warning("msg=\"our default VPC is gone from netd; making a new one\" vpc=%s", jstr(own, "VpcId"));
                        json_decref(own);
                        own = NULL;
                        err_clear(err);
                }
        }
        /* 3. make it: 172.31.0.0/16 with 172.31.0.0/20 in zone REGIONa, as on a new AWS account */
        if (!own) {
                json_decref(req);
                json_decref(ans);
                ans = NULL;
                req = json_pack("{s:s, s:s}", "Action", "CreateVpc", "CidrBlock", "172.31.0.0/16");
                if ((r = s->netd_call(s, req, &ans, err)) < 0)
                        return err_wrap(err, "create the default VPC 172.31.0.0/16");
                own = json_pack("{s:s}", "VpcId", jstr(json_object_get(ans, "Vpc"), "VpcId") ?: "");
                if ((r = store_put(s->store, "meta/ecsbox-default-vpc", own, err)) < 0)
                        return r;
                log_info("msg=\"created the default VPC\" vpc=%s cidr=172.31.0.0/16", jstr(own, "VpcId"));
        }
        vpc_id = jstr(own, "VpcId");
        if ((r = pick_subnet(s, vpc_id, false, &sn, err)) < 0)
                return err_wrap(err, "find the default subnet");
        if (!sn) {
                json_decref(req);
                json_decref(ans);
                ans = NULL;
                req = json_pack("{s:s, s:s, s:s, s:s}", "Action", "CreateSubnet", "VpcId", vpc_id, "CidrBlock", "172.31.0.0/20",
                                "AvailabilityZone", az);
                if ((r = s->netd_call(s, req, &ans, err)) < 0)
                        return err_wrap(err, "create the default subnet 172.31.0.0/20");
                sn = json_incref(json_object_get(ans, "Subnet"));
                log_info("msg=\"created the default subnet\" subnet=%s cidr=172.31.0.0/20 az=%s", jstr(sn, "SubnetId"), az);
        }
        return remember(s, vpc_id, jstr(sn, "SubnetId") ?: "", jstr(sn, "AvailabilityZone") ?: az, err);
}
