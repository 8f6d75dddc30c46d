/* subnet_req.c: the requests of CreateSubnet, DescribeSubnets and DeleteSubnet, decoded and checked. Pure. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "ecsbox/json.h"
#include "subnet_req.h"

bool subnet_req_az_valid(const char *az)
{
        /* region-style label: letters, digits and dashes, ending in one zone letter */
        size_t l = strlen(az);
        if (l < 3 || l > 32 || !islower((unsigned char) az[l - 1]) || !isdigit((unsigned char) az[l - 2]))
                return false;
        for (const char *p = az; *p; p++)
                if (!islower((unsigned char) *p) && !isdigit((unsigned char) *p) && *p != '-')
                        return false;
        return true;
}

int subnet_create_req_decode(json_t *req, const char *region, struct subnet_create_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "VpcId", "CidrBlock", "AvailabilityZone", "AvailabilityZoneId",
                                            "TagSpecifications", "DryRun", NULL };
        struct subnet_create_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_string(req, "VpcId", true, &q.vpc_id, err)) < 0 ||
            (r = json_get_string(req, "CidrBlock", true, &q.cidr_s, err)) < 0 ||
            (r = json_get_string(req, "AvailabilityZone", false, &q.az, err)) < 0 ||
            (r = req_id_check(q.vpc_id, "vpc", "InvalidVpcID.Malformed", false, err)) < 0 || (r = req_cidr(q.cidr_s, &q.cidr, err)) < 0)
                return r;
        if (q.az && !subnet_req_az_valid(q.az))
                return err_set(err, EINVAL, JERR_INVALID, "Value (%s) for parameter availabilityZone is invalid: expected a zone name such as %sa",
                               q.az, region);
        *ret = q;
        return 0;
}

int subnet_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "SubnetIds", "Filters", "DryRun", "MaxResults", "NextToken", NULL };
        static const char *const fnames[] = { "subnet-id", "vpc-id", "cidr-block", "cidr", "availability-zone",
                                              "availability-zone-id", "state", "owner-id", "default-for-az", NULL };
        return req_describe_decode(req, keys, "SubnetIds", "subnet", "InvalidSubnetID.Malformed", fnames, ret, err);
}

int subnet_delete_req_decode(json_t *req, struct subnet_delete_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "SubnetId", "DryRun", NULL };
        struct subnet_delete_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "SubnetId", true, "subnet", "InvalidSubnetID.Malformed", false, &q.subnet_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}
