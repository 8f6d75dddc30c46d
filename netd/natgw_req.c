/* natgw_req.c: the requests of CreateNatGateway, DescribeNatGateways and DeleteNatGateway. Pure. */
#include <errno.h>
#include <string.h>

#include "ecsbox/json.h"
#include "natgw_req.h"

int natgw_create_req_decode(json_t *req, struct natgw_create_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "SubnetId", "ConnectivityType", "AllocationId", "ClientToken",
                                            "TagSpecifications", "DryRun", NULL };
        struct natgw_create_req q = { 0 };
        const char *ct = NULL;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "SubnetId", true, "subnet", "InvalidSubnetID.Malformed", false, &q.subnet_id, err)) < 0 ||
            (r = json_get_string(req, "ConnectivityType", false, &ct, err)) < 0 ||
            (r = req_id(req, "AllocationId", false, "eipalloc", "InvalidAllocationID.Malformed", false, &q.allocation_id, err)) < 0)
                return r;
        if (ct && strcmp(ct, "public") != 0 && strcmp(ct, "private") != 0)
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter connectivityType is invalid: expected public or private", ct);
        q.private_ = ct && strcmp(ct, "private") == 0;
        if (q.private_ && q.allocation_id)
                return err_set(err, EINVAL, "InvalidParameterCombination", "A private NAT gateway takes no AllocationId (got %s)", q.allocation_id);
        *ret = q;
        return 0;
}

int natgw_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "NatGatewayIds", "Filter", "Filters", "DryRun", "MaxResults", "NextToken", NULL };
        static const char *const fnames[] = { "nat-gateway-id", "state", "subnet-id", "vpc-id", NULL };
        struct req_describe q = { 0 };
        json_t *f = json_object_get(req, "Filter");
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_ids(req, "NatGatewayIds", "nat", "InvalidNatGatewayID.Malformed", &q.ids, err)) < 0 ||
            (r = req_filters(f ? f : json_object_get(req, "Filters"), fnames, &q.filters, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int natgw_delete_req_decode(json_t *req, struct natgw_delete_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "NatGatewayId", "DryRun", NULL };
        struct natgw_delete_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "NatGatewayId", true, "nat", "InvalidNatGatewayID.Malformed", false, &q.natgw_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}
