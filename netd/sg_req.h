/* sg_req.h: the requests of the security group operations and ModifyNetworkInterfaceAttribute, decoded and
 * checked (req.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

/* A group named by GroupId (well-formed), or by GroupName in the default VPC (group_id NULL). */
struct sg_ref {
        const char *group_id;
        const char *group_name;
};

struct sg_describe_req {
        json_t *ids;                   /* GroupIds (well-formed), or NULL */
        json_t *names;                 /* GroupNames (a list; entries that are not strings match nothing), or NULL */
        json_t *filters;               /* or NULL */
};
int sg_describe_req_decode(json_t *req, struct sg_describe_req *ret, struct err *err);

struct sg_create_req {
        const char *name;              /* 1-255 characters, not "default", not "sg-*" */
        const char *desc;              /* Description or GroupDescription, 1-255 characters */
        const char *vpc_id;            /* a well-formed vpc id, or NULL: the default VPC */
        json_t *tags;                  /* the security-group tags of TagSpecifications: a new array, owned */
};
int sg_create_req_decode(json_t *req, struct sg_create_req *ret, struct err *err);
void sg_create_req_done(struct sg_create_req *q);

int sg_delete_req_decode(json_t *req, struct sg_ref *ret, struct err *err);

/* Authorize*: rules to add; Revoke*: rules to remove, or the ids of the rules to remove. */
struct sg_rules_req {
        struct sg_ref ref;             /* Egress: by GroupId only */
        bool egress;
        json_t *rule_ids;              /* Revoke by SecurityGroupRuleIds (a list), or NULL */
        json_t *rules;                 /* the flat rules (sg_rules.h) of IpPermissions or the flat form: a new array,
                                        * owned; NULL with rule_ids */
};
int sg_authorize_req_decode(json_t *req, bool egress, struct sg_rules_req *ret, struct err *err);
int sg_revoke_req_decode(json_t *req, bool egress, struct sg_rules_req *ret, struct err *err);
void sg_rules_req_done(struct sg_rules_req *q);

enum sg_eni_attr {
        SG_ENI_GROUPS,
        SG_ENI_DESCRIPTION,
        SG_ENI_SOURCE_DEST_CHECK,      /* only true, which changes nothing */
};
struct sg_modify_eni_req {
        const char *eni_id;            /* a well-formed eni id */
        enum sg_eni_attr attr;         /* exactly one attribute */
        json_t *groups;                /* SG_ENI_GROUPS: 1-5 well-formed sg ids */
        const char *desc;              /* SG_ENI_DESCRIPTION: Description.Value, at most 255 characters */
};
int sg_modify_eni_req_decode(json_t *req, struct sg_modify_eni_req *ret, struct err *err);
