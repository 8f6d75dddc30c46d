/* dns_int.h: what the files of netd/dns/ share: the store keys of zones and records. */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "ecsbox/err.h"

struct netd;

/* The VPC's private zone names (records.c): a new array. */
int dns_zone_names(struct netd *d, const char *vpc_id, json_t **ret, struct err *err);

#define DNS_KEY_MAX 400

/* "dnszone/VPC/ZONE": {"VpcId", "Name"} */
static inline void dns_key_zone(char buf[DNS_KEY_MAX], const char *vpc_id, const char *zone)
{
        snprintf(buf, DNS_KEY_MAX, "dnszone/%s/%s", vpc_id, zone ? zone : "");
}

/* "dnsrr/VPC/TYPE/NAME": {"VpcId", "Name", "Type", "Ttl", "Records": [...]} */
static inline void dns_key_rr(char buf[DNS_KEY_MAX], const char *vpc_id, const char *type, const char *name)
{
        if (type)
                snprintf(buf, DNS_KEY_MAX, "dnsrr/%s/%s/%s", vpc_id, type, name ? name : "");
        else
                snprintf(buf, DNS_KEY_MAX, "dnsrr/%s/", vpc_id);
}
