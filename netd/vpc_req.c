/* vpc_req.c: the requests of CreateVpc, DescribeVpcs and DeleteVpc, decoded and checked. Pure. */
#include <errno.h>

#include "ecsbox/json.h"
#include "vpc_req.h"

int vpc_req_cidr(const char *cidr_s, struct cidr4 *ret, struct err *err)
{
        struct cidr4 c;
        int r;
        if ((r = req_cidr(cidr_s, &c, err)) < 0)
                return r;
        if (c.len < 16 || c.len > 28)
                return err_set(err, EINVAL, "InvalidVpc.Range", "The CIDR '%s' is invalid: the prefix length must be between /16 and /28", cidr_s);
        *ret = c;
        return 0;
}

int vpc_create_req_decode(json_t *req, struct vpc_create_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "CidrBlock", "TagSpecifications", "DryRun",
                                            "InstanceTenancy", "AmazonProvidedIpv6CidrBlock", NULL };
        struct vpc_create_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_string(req, "CidrBlock", true, &q.cidr_s, err)) < 0 ||
            (r = vpc_req_cidr(q.cidr_s, &q.cidr, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int vpc_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "VpcIds", "Filters", "DryRun", "MaxResults", "NextToken", NULL };
        static const char *const fnames[] = { "vpc-id", "cidr", "cidr-block-association.cidr-block", "is-default",
                                              "state", "owner-id", NULL };
        return req_describe_decode(req, keys, "VpcIds", "vpc", "InvalidVpcID.Malformed", fnames, ret, err);
}

int vpc_delete_req_decode(json_t *req, struct vpc_delete_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "VpcId", "DryRun", NULL };
        struct vpc_delete_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "VpcId", true, "vpc", "InvalidVpcID.Malformed", false, &q.vpc_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}
