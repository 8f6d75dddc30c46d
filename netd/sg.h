/* sg.h: security group records and operations (docs/security-groups.md); sg_enforce.h puts them in the kernel. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct netd;

int op_describe_security_groups(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_create_security_group(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_security_group(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_authorize_security_group_ingress(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_authorize_security_group_egress(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_revoke_security_group_ingress(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_revoke_security_group_egress(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_modify_network_interface_attribute(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* Inside the caller's transaction: the VPC's `default` group record. */
int sg_create_default(struct netd *d, const char *vpc_id, json_t **ret_sg, struct err *err);
/* Groups of a decoded request (req_group_ids) must be groups of vpc_id: *ret_ids a new array of them, each once. */
int sg_validate_groups(struct netd *d, json_t *groups, const char *vpc_id, json_t **ret_ids, struct err *err);
int sg_load(struct netd *d, const char *id, json_t **ret, struct err *err);
/* The group record's flat rules (sg_rules.h), borrowed. */
json_t *sg_rules_of(json_t *sg);
json_t *sg_shape(struct netd *d, json_t *sg);
