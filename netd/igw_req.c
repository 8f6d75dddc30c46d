/* igw_req.c: the requests of CreateInternetGateway, Attach/Detach/Delete/DescribeInternetGateways. Pure. */
#include <errno.h>

#include "ecsbox/json.h"
#include "igw_req.h"

#define IGW_MALFORMED "InvalidInternetGatewayID.Malformed"

int igw_create_req_decode(json_t *req, struct err *err)
{
        static const char *const keys[] = { "Action", "TagSpecifications", "DryRun", NULL };
        return json_check_keys(req, keys, err);
}

int igw_attach_req_decode(json_t *req, struct igw_attach_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "InternetGatewayId", "VpcId", "DryRun", NULL };
        struct igw_attach_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "InternetGatewayId", true, "igw", IGW_MALFORMED, false, &q.igw_id, err)) < 0 ||
            (r = req_id(req, "VpcId", true, "vpc", "InvalidVpcID.Malformed", false, &q.vpc_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int igw_delete_req_decode(json_t *req, struct igw_delete_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "InternetGatewayId", "DryRun", NULL };
        struct igw_delete_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "InternetGatewayId", true, "igw", IGW_MALFORMED, false, &q.igw_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int igw_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "InternetGatewayIds", "Filters", "DryRun", "MaxResults", "NextToken", NULL };
        static const char *const fnames[] = { "internet-gateway-id", "attachment.vpc-id", "attachment.state", "owner-id", NULL };
        return req_describe_decode(req, keys, "InternetGatewayIds", "igw", IGW_MALFORMED, fnames, ret, err);
}
