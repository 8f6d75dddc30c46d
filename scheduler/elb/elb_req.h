/* elb_req.h: the pure checks of ELBv2 requests: names, ARNs, paging, health-check defaults, target
 * group attributes, actions and rule conditions. No store, no netd: each takes the decoded request
 * (the model's member names) and fills err with ELBv2's code (ValidationError unless said). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"

#define ELB_E_VALIDATION "ValidationError"
#define ELB_E_CONFIG "InvalidConfigurationRequest"
#define ELB_E_LB_NF "LoadBalancerNotFound"
#define ELB_E_TG_NF "TargetGroupNotFound"
#define ELB_E_LN_NF "ListenerNotFound"
#define ELB_E_RULE_NF "RuleNotFound"
#define ELB_E_DUP_LB "DuplicateLoadBalancerName"
#define ELB_E_DUP_TG "DuplicateTargetGroupName"
#define ELB_E_DUP_LN "DuplicateListener"
#define ELB_E_PRIO "PriorityInUse"
#define ELB_E_TARGET "InvalidTarget"
#define ELB_E_IN_USE "ResourceInUse"
#define ELB_E_SUBNET_NF "SubnetNotFound"
#define ELB_E_SUBNET "InvalidSubnet"
#define ELB_E_SG "InvalidSecurityGroup"
#define ELB_E_DUP_TAG "DuplicateTagKeys"
#define ELB_E_TAGS "TooManyTags"
#define ELB_E_PROTO "UnsupportedProtocol"
#define ELB_E_NOT_PERMITTED "OperationNotPermitted"
#define ELB_E_TG_ASSOC "TargetGroupAssociationLimit"

#define ELB_ID_LEN 16                   /* ids in ARNs: 16 lowercase hex */
#define ELB_ID_MAX 17

enum elb_kind { ELB_LB, ELB_TG, ELB_LISTENER, ELB_RULE };

/* A load balancer or target group name: 1-32 of [A-Za-z0-9-], no hyphen at either end; a load
 * balancer's may not start with "internal-". */
int elb_name_check(const char *what, const char *name, bool lb, struct err *err);
/* The id (last path part, 16 hex) of an ARN of kind, after checking the ARN's form (ValidationError
 * "'x' is not a valid load balancer ARN"). */
int elb_arn_id(enum elb_kind kind, const char *arn, char id[ELB_ID_MAX], struct err *err);
/* PageSize (1-400) and Marker of a Describe* request: *ret_offset where the page starts, *ret_size. */
int elb_page_decode(json_t *req, size_t *ret_offset, size_t *ret_size, struct err *err);

/* Whether protocol is one a network load balancer's target group / listener speaks. */
bool elb_proto_network(const char *protocol);
/* Fills a TargetGroup record's health-check members from req (CreateTargetGroup: defaults by protocol
 * and load balancer kind as ELB gives them; ModifyTargetGroup (create false): only what req names,
 * over what tg holds) and checks the ranges. */
int elb_tg_health_apply(json_t *tg, json_t *req, bool create, struct err *err);
/* The default attributes of a target group (a new object of key -> string value). */
json_t *elb_tg_attributes_default(json_t *tg);
/* Checks [{Key, Value}] against the keys and values a target group of that protocol takes, and
 * applies them to attrs. */
int elb_tg_attributes_apply(json_t *tg, json_t *attrs, json_t *given, struct err *err);

/* Checks a list of actions (DefaultActions / Actions) for a listener of protocol ("HTTP" for
 * application load balancers) and normalises it as ELB echoes it (forward: TargetGroupArn and
 * ForwardConfig both; Order filled in). *ret_tgs gets a new array of the target group ARNs used. */
int elb_actions_check(json_t *actions, bool network, json_t **ret_tgs, struct err *err);
/* Checks a rule's conditions (path-pattern, host-header, http-header, http-request-method,
 * query-string, source-ip) and fills the legacy Values / the config member as ELB echoes them. */
int elb_conditions_check(json_t *conditions, struct err *err);
/* Checks Tags [{Key, Value}]: keys 1-128, values 0-256, no "aws:" prefix, no key twice (DuplicateTagKeys). */
int elb_tags_check(json_t *tags, struct err *err);
