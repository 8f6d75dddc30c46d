/* dns_req.c: the requests of the VPC DNS operations, decoded and checked. Pure. */
#include <errno.h>
#include <string.h>

#include "../req.h"
#include "dns_req.h"
#include "ecsbox/json.h"

static const struct {
        const char *name, *member;
} attrs[] = {
        [DNS_ATTR_SUPPORT] = { "enableDnsSupport", "EnableDnsSupport" },
        [DNS_ATTR_HOSTNAMES] = { "enableDnsHostnames", "EnableDnsHostnames" },
        [DNS_ATTR_NAU_METRICS] = { "enableNetworkAddressUsageMetrics", "EnableNetworkAddressUsageMetrics" },
};

const char *dns_attr_name(enum dns_vpc_attr a)
{
        return attrs[a].name;
}

const char *dns_attr_member(enum dns_vpc_attr a)
{
        return attrs[a].member;
}

static int vpc_id(json_t *req, const char **ret, struct err *err)
{
        return req_id(req, "VpcId", true, "vpc", "InvalidVpcID.Malformed", false, ret, err);
}

int dns_modify_attr_req_decode(json_t *req, struct dns_modify_attr_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "VpcId", "EnableDnsSupport", "EnableDnsHostnames",
                                            "EnableNetworkAddressUsageMetrics", "DryRun", NULL };
        struct dns_modify_attr_req q = { 0 };
        int r, n = 0;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = vpc_id(req, &q.vpc_id, err)) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                json_t *o = NULL;
                if ((r = json_get_object(req, attrs[i].member, false, &o, err)) < 0)
                        return r;
                if (r == 0)
                        continue;
                static const char *const vkeys[] = { "Value", NULL };
                if ((r = json_check_keys(o, vkeys, err)) < 0 || (r = json_get_bool(o, "Value", true, &q.value, err)) < 0)
                        return err_wrap(err, "%s", attrs[i].member);
                q.attr = (enum dns_vpc_attr) i;
                n++;
        }
        if (n == 0)
                return err_set(err, EINVAL, "MissingParameter",
                               "The request must contain the parameter EnableDnsSupport, EnableDnsHostnames or EnableNetworkAddressUsageMetrics");
        if (n > 1)
                return err_set(err, EINVAL, "InvalidParameterCombination",
                               "Only one attribute of vpc '%s' can be modified at a time", q.vpc_id);
        *ret = q;
        return 0;
}

int dns_describe_attr_req_decode(json_t *req, struct dns_describe_attr_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "VpcId", "Attribute", "DryRun", NULL };
        struct dns_describe_attr_req q = { 0 };
        const char *a = NULL;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = vpc_id(req, &q.vpc_id, err)) < 0 ||
            (r = json_get_string(req, "Attribute", true, &a, err)) < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++)
                if (strcmp(a, attrs[i].name) == 0) {
                        q.attr = (enum dns_vpc_attr) i;
                        *ret = q;
                        return 0;
                }
        return err_set(err, EINVAL, "InvalidParameterValue",
                       "Value (%s) for parameter attribute is invalid. Unknown attribute; valid: enableDnsSupport, enableDnsHostnames, enableNetworkAddressUsageMetrics",
                       a);
}

static int name_member(json_t *req, char buf[DNS_NAME_MAX], struct err *err)
{
        const char *n = NULL;
        int r;
        if ((r = json_get_string(req, "Name", true, &n, err)) < 0)
                return r;
        if (dns_name_normalize(n, buf) < 0)
                return err_set(err, EINVAL, "InvalidParameterValue",
                               "Name '%.300s' is not a valid domain name (at most 253 characters, labels of 1 to 63)", n);
        return 0;
}

int dns_zone_req_decode(json_t *req, struct dns_zone_req *ret, struct err *err)
{
        static const char *const keys[] = { "Action", "VpcId", "Name", NULL };
        struct dns_zone_req q = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 || (r = vpc_id(req, &q.vpc_id, err)) < 0 ||
            (r = name_member(req, q.name, err)) < 0)
                return r;
        if (!strchr(q.name, '.'))
                return err_set(err, EINVAL, "InvalidParameterValue", "Name '%s': a private zone needs at least two labels", q.name);
        *ret = q;
        return 0;
}

int dns_records_req_decode(json_t *req, bool with_records, struct dns_records_req *ret, struct err *err)
{
        static const char *const put_keys[] = { "Action", "VpcId", "Name", "Type", "Ttl", "Records", NULL };
        static const char *const del_keys[] = { "Action", "VpcId", "Name", "Type", NULL };
        static const char *const types[] = { "A", "AAAA", "SRV", "TXT" };
        struct dns_records_req q = { .ttl = 60 };
        const char *type = NULL;
        json_t *v;
        size_t i;
        int r;
        if ((r = json_check_keys(req, with_records ? put_keys : del_keys, err)) < 0 || (r = vpc_id(req, &q.vpc_id, err)) < 0 ||
            (r = name_member(req, q.name, err)) < 0 || (r = json_get_string(req, "Type", true, &type, err)) < 0)
                return r;
        for (i = 0; i < ELEMENTSOF(types); i++)
                if (strcmp(type, types[i]) == 0)
                        q.type = types[i];
        if (!q.type)
                return err_set(err, EINVAL, "InvalidParameterValue", "Type '%s' of '%s' is not supported: A, AAAA, SRV or TXT",
                               type, q.name);
        if (with_records) {
                if ((r = json_get_int(req, "Ttl", false, 0, 2147483647, &q.ttl, err)) < 0 ||
                    (r = json_get_array(req, "Records", true, &q.records, err)) < 0)
                        return r;
                if (json_array_size(q.records) > DNS_RECORDS_MAX)
                        return err_set(err, EINVAL, "InvalidParameterValue", "Records of %s %s: %zu given, at most %d", q.name,
                                       q.type, json_array_size(q.records), DNS_RECORDS_MAX);
                json_array_foreach(q.records, i, v) {
                        if (!json_is_string(v))
                                return err_set(err, EINVAL, "InvalidParameterValue", "Records[%zu] of %s %s must be a string", i,
                                               q.name, q.type);
                        if (dns_rdata_check(q.type, json_string_value(v)) < 0)
                                return err_set(err, EINVAL, "InvalidParameterValue", "Records[%zu] of %s %s: '%.200s' is not valid %s data",
                                               i, q.name, q.type, json_string_value(v), q.type);
                }
        }
        *ret = q;
        return 0;
}

int dns_list_req_decode(json_t *req, const char **ret_vpc_id, struct err *err)
{
        static const char *const keys[] = { "Action", "VpcId", NULL };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0)
                return r;
        return vpc_id(req, ret_vpc_id, err) < 0 ? -EINVAL : 0;
}
