/* req.h: what netd's request decoders (*_req.c) share: ids, id lists, Filters, CIDR blocks, netns
 * names, security group lists, descriptions, tag lists. Typed members come from ecsbox/json.h.
 *
 * A decoder reads the parsed request and fills a plain struct of its operation, or refuses with the
 * EC2 code and a message naming the member; it never touches the kernel, the store or netd's state,
 * so a fuzzer can call it. Checks that need state (does the subnet exist, is the netns free) stay
 * with the operation, after its decoder: a request wrong in two ways gets its syntax error first.
 * Strings and json_t members of a decoded struct are borrowed from the request unless said otherwise. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/cidr.h"
#include "ecsbox/err.h"

/* The request is an object with a string Action (InvalidRequest, MissingParameter, InvalidParameterValue). */
int req_action(json_t *req, const char **ret, struct err *err);

/* id is an id of prefix (lib/ids.h), else code with "Invalid id: \"ID\"", followed by
 * " (expecting \"PREFIX-...\")" when hint. */
int req_id_check(const char *id, const char *prefix, const char *code, bool hint, struct err *err);

/* The string member key, an id of prefix (req_id_check). 1 present, 0 absent (*ret untouched), < 0 error. */
int req_id(json_t *req, const char *key, bool required, const char *prefix, const char *code, bool hint, const char **ret,
           struct err *err);

/* The id list member key (e.g. "VpcIds"): strings, each an id of prefix (code without hint when not).
 * *ret borrowed, NULL when absent. */
int req_ids(json_t *req, const char *key, const char *prefix, const char *code, json_t **ret, struct err *err);

/* A Filters list (the member's value; NULL or null: none): [{Name, Values: [strings]}], each Name one of
 * names (NULL-terminated) or tag:KEY. Errors name it "Filters". *ret borrowed, NULL when none. */
int req_filters(json_t *filters, const char *const *names, json_t **ret, struct err *err);

/* What the Describe* requests of VPCs, subnets and ENIs hold. */
struct req_describe {
        json_t *ids;                   /* the id list, or NULL: all */
        json_t *filters;               /* Filters, or NULL */
};
/* Member names from keys, the id list ids_key (ids of prefix, malformed: code), Filters from fnames. */
int req_describe_decode(json_t *req, const char *const *keys, const char *ids_key, const char *prefix, const char *code,
                        const char *const *fnames, struct req_describe *ret, struct err *err);

/* A CidrBlock of CreateVpc or CreateSubnet: "Value (S) for parameter cidrBlock is invalid ..." when it is
 * not a CIDR block with its host bits zero. */
int req_cidr(const char *s, struct cidr4 *ret, struct err *err);

/* A namespace name of a request (member names it in the error: "Netns", "netns name", ...): 1 to 64 of
 * [A-Za-z0-9_.-], not "." or "..", not netd's own "ebx-vpc-*". */
int req_netns_name(const char *name, const char *member, struct err *err);

/* The optional string member Description of o, at most 255 characters. */
int req_description(json_t *o, const char **ret, struct err *err);

/* Groups of an ENI (CreateNetworkInterface, ModifyNetworkInterfaceAttribute): security group ids, at
 * most 5 (the same id twice counts twice here, as on EC2). */
int req_group_ids(json_t *groups, struct err *err);

/* The tags of TagSpecifications for resource type rtype (or specs naming none): a new array. Lenient,
 * as EC2's answers only echo them: specs or tags that are not lists give none. */
json_t *req_tags(json_t *req, const char *rtype);
