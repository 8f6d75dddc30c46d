/* sd_req.h: the Cloud Map requests decoded and checked without the store (pure): paging, filters,
 * namespace and service creation, DnsConfig, instance ids and attributes, DiscoverInstances.
 * Members are borrowed from the request. Errors are InvalidInput (a member of the wrong JSON type
 * SerializationException) with a message naming the member. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"

/* MaxResults (1..limit, default dflt) and NextToken (an offset this module made). */
struct sd_page {
        long long max;
        size_t offset;
};
int sd_page_decode(json_t *req, long long dflt, long long limit, struct sd_page *ret, struct err *err);
/* The page of all (new references) in *ret, and *ret_token the NextToken string or NULL when done. */
void sd_page_take(const struct sd_page *pg, json_t *all, json_t **ret, json_t **ret_token);

/* Filters: [{Name, Values, Condition}], Name one of names, Condition one of conds (conds[0] the default). */
#define SD_FILTERS_MAX 8
struct sd_filter {
        const char *name, *cond;
        json_t *values;                      /* array of strings */
};
struct sd_filters {
        size_t n;
        struct sd_filter f[SD_FILTERS_MAX];
};
int sd_filters_decode(json_t *req, const char *const *names, const char *const *conds, struct sd_filters *ret,
                      struct err *err);
/* Whether value passes f (EQ: the one value; IN: any; BEGINS_WITH: a prefix; BETWEEN: two numbers). */
bool sd_filter_match(const struct sd_filter *f, const char *value);
/* The filter named name, or NULL. */
const struct sd_filter *sd_filters_find(const struct sd_filters *fs, const char *name);

struct sd_ns_create_in {
        const char *name, *vpc, *creator, *description;
        long long soa_ttl;                   /* 15 when not given */
        json_t *tags;                        /* or NULL */
};
/* CreatePrivateDnsNamespace (private_dns) or CreateHttpNamespace. */
int sd_ns_create_decode(json_t *req, bool private_dns, struct sd_ns_create_in *ret, struct err *err);

/* A DnsConfig's record types. */
struct sd_records {
        bool a, aaaa, srv, cname;
        long long ttl_a, ttl_aaaa, ttl_srv, ttl_cname;
        const char *routing;                 /* MULTIVALUE or WEIGHTED */
};
/* DnsConfig (or, with change, a DnsConfigChange: DnsRecords only): types A, AAAA, SRV (any mix) or
 * CNAME alone (WEIGHTED), each with a TTL. */
int sd_dns_config_decode(json_t *dc, bool change, struct sd_records *ret, struct err *err);

struct sd_svc_create_in {
        const char *name, *namespace_id, *creator, *description, *type;
        json_t *dns_config;                  /* or NULL */
        json_t *health_custom;               /* HealthCheckCustomConfig or NULL */
        json_t *tags;
        struct sd_records rec;               /* zeroed without DnsConfig */
};
int sd_svc_create_decode(json_t *req, struct sd_svc_create_in *ret, struct err *err);

bool sd_service_name_valid(const char *name);
bool sd_instance_id_valid(const char *id);

struct sd_register_in {
        const char *service_id, *instance_id, *creator;
        json_t *attrs;                       /* object of strings */
};
int sd_register_decode(json_t *req, struct sd_register_in *ret, struct err *err);
/* Attributes against the service's records: AWS_INSTANCE_IPV4 for A (and SRV without IPv6),
 * AWS_INSTANCE_IPV6 for AAAA, AWS_INSTANCE_PORT for SRV, AWS_INSTANCE_CNAME for CNAME; at most 30
 * custom ones; AWS_INIT_HEALTH_STATUS only with a custom health check. */
int sd_attributes_check(json_t *attrs, const struct sd_records *rec, bool custom_health, struct err *err);

struct sd_discover_in {
        const char *ns_name, *svc_name, *health;  /* health: HEALTHY (default), UNHEALTHY, ALL, HEALTHY_OR_ELSE_ALL */
        long long max;                             /* 1..1000, default 100 */
        json_t *query, *optional;                  /* objects of strings, or NULL */
};
int sd_discover_decode(json_t *req, struct sd_discover_in *ret, struct err *err);
/* Whether every key of params is an attribute of attrs with the same value. */
bool sd_attrs_match(json_t *attrs, json_t *params);

/* A record's fields from a stored DnsConfig (already checked). */
void sd_records_of(json_t *dns_config, struct sd_records *ret);

/* Turns the InvalidParameterException of front/req.c's decoders into Cloud Map's InvalidInput; returns r. */
int sd_input(int r, struct err *err);
