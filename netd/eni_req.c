/* eni_req.c: the requests of the network interface operations, decoded and checked. Pure. */
#include <errno.h>
#include <string.h>

#include "ecsbox/cidr.h"
#include "ecsbox/json.h"
#include "eni_req.h"

#define CODE_ENI_MALFORMED "InvalidNetworkInterfaceID.Malformed"

int eni_create_fields_decode(json_t *req, struct eni_create_req *ret, struct err *err)
{
        struct eni_create_req q = { .type = "veth" };
        int r;
        if ((r = json_get_string(req, "SubnetId", true, &q.subnet_id, err)) < 0 ||
            (r = json_get_string(req, "PrivateIpAddress", false, &q.ip_s, err)) < 0 ||
            (r = req_description(req, &q.desc, err)) < 0 ||
            (r = json_get_string(req, "InterfaceType", false, &q.type, err)) < 0 ||
            (r = json_get_array(req, "Groups", false, &q.groups, err)) < 0)
                return r;
        if (strcmp(q.type, "veth") != 0 && strcmp(q.type, "macvlan") != 0)
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value '%s' for InterfaceType: ecsbox supports 'veth' and 'macvlan'", q.type);
        if ((r = req_id_check(q.subnet_id, "subnet", "InvalidSubnetID.Malformed", false, err)) < 0)
                return r;
        if (q.ip_s && ip4_parse(q.ip_s, &q.ip) < 0)
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value '%s' for PrivateIpAddress: not an IPv4 address", q.ip_s);
        if ((r = req_group_ids(q.groups, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int eni_create_req_decode(json_t *req, struct eni_create_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "SubnetId", "PrivateIpAddress", "Groups", "Description",
                                            "InterfaceType", "TagSpecifications", "ClientToken", "DryRun",
                                            "SecondaryPrivateIpAddressCount", NULL };
        long long secondary = 0;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = json_get_int(req, "SecondaryPrivateIpAddressCount", false, 0, 0, &secondary, err)) < 0)
                return r;
        return eni_create_fields_decode(req, ret, err);
}

int eni_describe_req_decode(json_t *req, struct req_describe *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "NetworkInterfaceIds", "Filters", "DryRun", "MaxResults",
                                            "NextToken", NULL };
        static const char *const fnames[] = { "network-interface-id", "subnet-id", "vpc-id", "status",
                                              "private-ip-address", "addresses.private-ip-address", "mac-address",
                                              "availability-zone", "description", "interface-type", "owner-id",
                                              "group-id", "attachment.netns", "attachment.attachment-id",
                                              "attachment.instance-id", NULL };
        return req_describe_decode(req, keys, "NetworkInterfaceIds", "eni", CODE_ENI_MALFORMED, fnames, ret, err);
}

int eni_delete_req_decode(json_t *req, struct eni_delete_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "NetworkInterfaceId", "DryRun", NULL };
        struct eni_delete_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "NetworkInterfaceId", true, "eni", CODE_ENI_MALFORMED, true, &q.eni_id, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int eni_attach_req_decode(json_t *req, struct eni_attach_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "NetworkInterfaceId", "Netns", "InstanceId", "DeviceIndex",
                                            "NetworkCardIndex", "DryRun", NULL };
        struct eni_attach_req q = { 0 };
        long long devidx = 0;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_string(req, "NetworkInterfaceId", true, &q.eni_id, err)) < 0 ||
            (r = json_get_string(req, "Netns", true, &q.netns, err)) < 0 ||
            (r = json_get_string(req, "InstanceId", false, &q.instance_id, err)) < 0 ||
            (r = json_get_int(req, "DeviceIndex", false, 0, 0, &devidx, err)) < 0 || (r = req_netns_name(q.netns, "netns name", err)) < 0 ||
            (r = req_id_check(q.eni_id, "eni", CODE_ENI_MALFORMED, true, err)) < 0)
                return r;
        *ret = q;
        return 0;
}

int eni_find_fields_decode(json_t *req, struct eni_find_req *ret, struct err *err)
{
        struct eni_find_req q = { 0 };
        int r;
        if ((r = json_get_string(req, "NetworkInterfaceId", false, &q.eni_id, err)) < 0 ||
            (r = json_get_string(req, "Netns", false, &q.netns, err)) < 0 ||
            (r = json_get_string(req, "AttachmentId", false, &q.attachment_id, err)) < 0)
                return r;
        if (q.eni_id && (r = req_id_check(q.eni_id, "eni", CODE_ENI_MALFORMED, true, err)) < 0)
                return r;
        if (!q.eni_id && !q.netns && !q.attachment_id)
                return err_set(err, EINVAL, JERR_MISSING, "The request must contain the parameter NetworkInterfaceId, AttachmentId or Netns");
        *ret = q;
        return 0;
}

int eni_detach_req_decode(json_t *req, struct eni_detach_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "AttachmentId", "NetworkInterfaceId", "Netns", "Force", "DryRun", NULL };
        struct eni_detach_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_bool(req, "Force", false, &q.force, err)) < 0 ||
            (r = eni_find_fields_decode(req, &q.find, err)) < 0)
                return r;
        *ret = q;
        return 0;
}
