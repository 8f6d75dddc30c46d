/* rtb_req.c: the requests of CreateRouteTable ... DisassociateRouteTable, decoded and checked. Pure. */
#include <errno.h>

#include "ecsbox/json.h"
#include "rtb_req.h"

#define RTB_MALFORMED "InvalidRouteTableID.Malformed"

int rtb_create_req_decode(json_t *req, struct rtb_create_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "VpcId", "TagSpecifications", "ClientToken", "DryRun", NULL };
        struct rtb_create_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "VpcId", true, "vpc", "InvalidVpcID.Malformed", false, &q.vpc_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int rtb_delete_req_decode(json_t *req, struct rtb_delete_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "RouteTableId", "DryRun", NULL };
        struct rtb_delete_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "RouteTableId", true, "rtb", RTB_MALFORMED, false, &q.rtb_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int rtb_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "RouteTableIds", "Filters", "DryRun", "MaxResults", "NextToken", NULL };
        static const char *const fnames[] = { "route-table-id", "vpc-id", "owner-id", "association.main", "association.subnet-id",
                                              "association.route-table-association-id", "association.route-table-id",
                                              "route.destination-cidr-block", "route.gateway-id", "route.nat-gateway-id",
                                              "route.origin", NULL };
        return req_describe_decode(req, keys, "RouteTableIds", "rtb", RTB_MALFORMED, fnames, ret, err);
}

static int route_common(json_t *req, struct route_req *q, struct err *err)
{
        int r;
        if ((r = req_id(req, "RouteTableId", true, "rtb", RTB_MALFORMED, false, &q->rtb_id, err)) < 0 ||
            (r = json_get_string(req, "DestinationCidrBlock", true, &q->dst_s, err)) < 0)
                return r;
        if (cidr4_parse(q->dst_s, &q->dst) < 0)
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.",
                               q->dst_s);
        return 0;
}

int route_create_req_decode(json_t *req, struct route_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "RouteTableId", "DestinationCidrBlock", "GatewayId", "NatGatewayId", "DryRun", NULL };
        struct route_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = route_common(req, &q, err)) < 0 ||
            (r = req_id(req, "GatewayId", false, "igw", "InvalidGatewayID.Malformed", false, &q.gateway_id, err)) < 0 ||
            (r = req_id(req, "NatGatewayId", false, "nat", "InvalidNatGatewayID.Malformed", false, &q.natgw_id, err)) < 0)
                return r;
        if (!q.gateway_id && !q.natgw_id)
                return err_set(err, EINVAL, JERR_MISSING, "The request must contain exactly one of gatewayId, natGatewayId (ecsbox routes to internet and NAT gateways)");
        if (q.gateway_id && q.natgw_id)
                return err_set(err, EINVAL, "InvalidParameterCombination", "The request may contain only one of gatewayId (%s), natGatewayId (%s)",
                               q.gateway_id, q.natgw_id);
        *ret = q;
        return 0;
}

int route_delete_req_decode(json_t *req, struct route_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "RouteTableId", "DestinationCidrBlock", "DryRun", NULL };
        struct route_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = route_common(req, &q, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int rtb_assoc_req_decode(json_t *req, struct rtb_assoc_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "RouteTableId", "SubnetId", "DryRun", NULL };
        struct rtb_assoc_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "RouteTableId", true, "rtb", RTB_MALFORMED, false, &q.rtb_id, err)) < 0 ||
            (r = req_id(req, "SubnetId", true, "subnet", "InvalidSubnetID.Malformed", false, &q.subnet_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int rtb_disassoc_req_decode(json_t *req, struct rtb_disassoc_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "AssociationId", "DryRun", NULL };
        struct rtb_disassoc_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "AssociationId", true, "rtbassoc", "InvalidAssociationID.Malformed", false, &q.assoc_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}
