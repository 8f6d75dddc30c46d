/* dns.h: the Amazon-provided DNS of every VPC (its resolver at the VPC CIDR's base+2 and 169.254.169.253
 * inside the VPC netns, served from netd's event loop), the VPC's private zones and records
 * (PutDnsZone ... for Cloud Map), and the VPC DNS attributes (ModifyVpcAttribute, DescribeVpcAttribute). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/cidr.h"
#include "ecsbox/err.h"
#include "../netd.h"

#define DNS_LINK_LOCAL 0xa9fea9fdu      /* 169.254.169.253 */

/* The resolvers of every VPC whose enableDnsSupport is on, and the forwarder (upstreams from
 * --dns-upstream, else the host's resolv.conf). Called once the event loop exists. A VPC whose
 * resolver cannot start is logged and left without one (netd still serves). */
int dns_start(struct netd *d, struct err *err);
void dns_stop(struct netd *d);

/* Bring the VPC's resolver in line with its record (on or off; the hostnames switch; its zones).
 * Idempotent; a no-op before dns_start. */
int dns_vpc_sync(struct netd *d, json_t *vpc, struct err *err);
/* Close the VPC's resolver (before its netns goes away). */
void dns_vpc_forget(struct netd *d, const char *vpc_id);
/* Delete the VPC's zones and records from the store (inside DeleteVpc's transaction). */
int dns_vpc_records_delete(struct netd *d, const char *vpc_id, struct err *err);
/* Start-up: the zones and records of VPCs that no longer exist. */
int dns_records_sweep(struct netd *d, struct err *err);

/* The VPC's attributes: enableDnsSupport (default true), enableDnsHostnames (default: IsDefault). */
bool dns_vpc_support(json_t *vpc);
bool dns_vpc_hostnames(json_t *vpc);
/* The VPC's resolver address (CIDR base+2), and the domain of its names ("ec2.internal" in us-east-1,
 * else "REGION.compute.internal"). */
uint32_t dns_vpc_resolver_ip(json_t *vpc);
void dns_domain(const struct netd *d, char *buf, size_t len);

int op_modify_vpc_attribute(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_vpc_attribute(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_put_dns_zone(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_dns_zone(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_put_dns_records(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_dns_records(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_list_dns_records(struct netd *d, json_t *req, json_t **ret, struct err *err);
