/* api.c: the request line -> operation dispatch, with EC2-style errors. */
#include <errno.h>
#include <string.h>

#include "api.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "dns/dns.h"
#include "eni.h"
#include "flowlog.h"
#include "metadata.h"
#include "igw.h"
#include "lb.h"
#include "natgw.h"
#include "netd.h"
#include "req.h"
#include "routetable.h"
#include "sg.h"
#include "subnet.h"
#include "tasknet.h"
#include "vpc.h"

static const struct {
        const char *action;
        netd_op_fn fn;
} ops[] = {
        { "CreateVpc", op_create_vpc },
        { "DescribeVpcs", op_describe_vpcs },
        { "DeleteVpc", op_delete_vpc },
        { "CreateSubnet", op_create_subnet },
        { "DescribeSubnets", op_describe_subnets },
        { "DeleteSubnet", op_delete_subnet },
        { "CreateNetworkInterface", op_create_network_interface },
        { "DescribeNetworkInterfaces", op_describe_network_interfaces },
        { "DeleteNetworkInterface", op_delete_network_interface },
        { "AttachNetworkInterface", op_attach_network_interface },
        { "DetachNetworkInterface", op_detach_network_interface },
        { "CreateTaskNetwork", op_create_task_network },
        { "DeleteTaskNetwork", op_delete_task_network },
        { "DescribeSecurityGroups", op_describe_security_groups },
        { "CreateSecurityGroup", op_create_security_group },
        { "DeleteSecurityGroup", op_delete_security_group },
        { "AuthorizeSecurityGroupIngress", op_authorize_security_group_ingress },
        { "AuthorizeSecurityGroupEgress", op_authorize_security_group_egress },
        { "RevokeSecurityGroupIngress", op_revoke_security_group_ingress },
        { "RevokeSecurityGroupEgress", op_revoke_security_group_egress },
        { "ModifyNetworkInterfaceAttribute", op_modify_network_interface_attribute },
        { "DescribeTaskNetworks", op_describe_task_networks },
        { "CreateFlowLogs", op_create_flow_logs },
        { "DescribeFlowLogs", op_describe_flow_logs },
        { "DeleteFlowLogs", op_delete_flow_logs },
        { "GetFlowLogs", op_get_flow_logs },
        { "ModifyVpcAttribute", op_modify_vpc_attribute },
        { "DescribeVpcAttribute", op_describe_vpc_attribute },
        { "PutDnsZone", op_put_dns_zone },
        { "DeleteDnsZone", op_delete_dns_zone },
        { "PutDnsRecords", op_put_dns_records },
        { "DeleteDnsRecords", op_delete_dns_records },
        { "ListDnsRecords", op_list_dns_records },
        { "OpenMetadataListener", op_open_metadata_listener },
        { "CreateInternetGateway", op_create_internet_gateway },
        { "AttachInternetGateway", op_attach_internet_gateway },
        { "DetachInternetGateway", op_detach_internet_gateway },
        { "DeleteInternetGateway", op_delete_internet_gateway },
        { "DescribeInternetGateways", op_describe_internet_gateways },
        { "CreateNatGateway", op_create_nat_gateway },
        { "DescribeNatGateways", op_describe_nat_gateways },
        { "DeleteNatGateway", op_delete_nat_gateway },
        { "CreateRouteTable", op_create_route_table },
        { "DeleteRouteTable", op_delete_route_table },
        { "DescribeRouteTables", op_describe_route_tables },
        { "CreateRoute", op_create_route },
        { "ReplaceRoute", op_replace_route },
        { "DeleteRoute", op_delete_route },
        { "AssociateRouteTable", op_associate_route_table },
        { "DisassociateRouteTable", op_disassociate_route_table },
        { "CreateLoadBalancerNetwork", op_create_load_balancer_network },
        { "DeleteLoadBalancerNetwork", op_delete_load_balancer_network },
        { "PutTargetGroup", op_put_target_group },
        { "DeleteTargetGroup", op_delete_target_group },
        { "RegisterTargets", op_register_targets },
        { "DeregisterTargets", op_deregister_targets },
        { "DescribeTargetHealth", op_describe_target_health },
        { "PutListener", op_put_listener },
        { "DeleteListener", op_delete_listener },
};

int netd_dispatch(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        const char *action = NULL;
        int r;
        if ((r = req_action(req, &action, err)) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strcmp(ops[i].action, action) == 0)
                        return ops[i].fn(d, req, ret, err);
        return err_set(err, EOPNOTSUPP, "InvalidAction", "The action '%s' is not valid for this web service", action);
}

static json_t *error_doc(const struct err *err)
{
        return json_pack("{s:{s:s, s:s}}", "Error", "Code", err->code[0] ? err->code : "InternalError", "Message",
                         err->msg[0] ? err->msg : "internal error");
}

json_t *netd_handle_line(struct netd *d, const char *line, size_t len)
{
        struct err err = { 0 };
        json_error_t jerr;
        json_t *ret = NULL;
        _cleanup_json_ json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        const char *action = "?";
        int r;

        if (!req) {
                err_set(&err, EINVAL, "InvalidRequest", "Malformed JSON request: %s (line %d, column %d)", jerr.text,
                        jerr.line, jerr.column);
                return error_doc(&err);
        }
        if (json_is_object(req) && json_is_string(json_object_get(req, "Action")))
                action = json_string_value(json_object_get(req, "Action"));
        r = netd_dispatch(d, req, &ret, &err);
        if (r < 0) {
                if (err.code[0] == '\0') {
                        /* No API code: an internal failure. Log it once, here. */
                        log_error("op=%s err=\"%s\"", action, err.msg);
                        snprintf(err.code, sizeof err.code, "InternalError");
                } else
                        log_debug("op=%s code=%s msg=\"%s\"", action, err.code, err.msg);
                json_decref(ret);
                return error_doc(&err);
        }
        return ret ? ret : json_object();
}
