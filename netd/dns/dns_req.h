/* dns_req.h: the requests of the VPC DNS operations, decoded and checked (../req.h). Pure. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "answer.h"
#include "ecsbox/err.h"

enum dns_vpc_attr {
        DNS_ATTR_SUPPORT,               /* enableDnsSupport */
        DNS_ATTR_HOSTNAMES,             /* enableDnsHostnames */
        DNS_ATTR_NAU_METRICS,           /* enableNetworkAddressUsageMetrics: kept, no effect */
};

struct dns_modify_attr_req {
        const char *vpc_id;
        enum dns_vpc_attr attr;
        bool value;
};
/* ModifyVpcAttribute: VpcId and exactly one of EnableDnsSupport, EnableDnsHostnames,
 * EnableNetworkAddressUsageMetrics, each {"Value": bool}. */
int dns_modify_attr_req_decode(json_t *req, struct dns_modify_attr_req *ret, struct err *err);

struct dns_describe_attr_req {
        const char *vpc_id;
        enum dns_vpc_attr attr;
};
/* DescribeVpcAttribute: VpcId and Attribute (enableDnsSupport | enableDnsHostnames | enableNetworkAddressUsageMetrics). */
int dns_describe_attr_req_decode(json_t *req, struct dns_describe_attr_req *ret, struct err *err);
/* "enableDnsSupport" ..., and the member of the answer: "EnableDnsSupport" ... */
const char *dns_attr_name(enum dns_vpc_attr a);
const char *dns_attr_member(enum dns_vpc_attr a);

struct dns_zone_req {
        const char *vpc_id;
        char name[DNS_NAME_MAX];        /* lower case, no final dot */
};
/* PutDnsZone, DeleteDnsZone: VpcId, Name (a domain name; not the VPC's own domain nor a reverse zone:
 * checked by the operation, which knows the region). */
int dns_zone_req_decode(json_t *req, struct dns_zone_req *ret, struct err *err);

struct dns_records_req {
        const char *vpc_id;
        char name[DNS_NAME_MAX];
        const char *type;               /* "A", "AAAA", "SRV" or "TXT" */
        long long ttl;                  /* default 60 */
        json_t *records;                /* strings, each checked by ldns for the type; borrowed; NULL for Delete */
};
#define DNS_RECORDS_MAX 1000            /* Cloud Map: at most 1,000 instances per service */
/* PutDnsRecords (with_records) and DeleteDnsRecords. */
int dns_records_req_decode(json_t *req, bool with_records, struct dns_records_req *ret, struct err *err);

/* ListDnsRecords: VpcId. */
int dns_list_req_decode(json_t *req, const char **ret_vpc_id, struct err *err);
