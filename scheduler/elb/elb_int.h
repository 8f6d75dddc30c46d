/* elb_int.h: what the files of scheduler/elb/ share: store keys, record lookups, ARNs, paging, tags
 * and the netd calls (lb.c, tg.c, targets.c, listener.c, rule.c, tags.c, elb.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "elb_req.h"

struct sched;
struct api_ctx;

/* Store keys: elb/lb/<id>, elb/tg/<id>, elb/ln/<id>, elb/rule/<id>. Each record is the API's shape
 * (LoadBalancer, TargetGroup, Listener, Rule) plus "ebx": {"id", "tags": [...], ...} (ecsbox's own). */
#define ELB_LB_PREFIX "elb/lb/"
#define ELB_TG_PREFIX "elb/tg/"
#define ELB_LN_PREFIX "elb/ln/"
#define ELB_RULE_PREFIX "elb/rule/"
#define ELB_KEY_MAX 64
#define ELB_ARN_MAX 512

int elb_id_new(char id[ELB_ID_MAX]);
void elb_key(enum elb_kind kind, const char *id, char key[ELB_KEY_MAX]);
/* "arn:aws:elasticloadbalancing:REGION:ACCOUNT:" + resource. */
void elb_arn(struct api_ctx *c, char *buf, size_t size, const char *resource);
/* The ARN member of a record of kind. */
const char *elb_arn_member(enum elb_kind kind);
/* The record an ARN names (a new reference; *ret_key may be NULL): -ENOENT with the kind's NotFound code. */
int elb_get(struct sched *s, enum elb_kind kind, const char *arn, json_t **ret, char *ret_key, struct err *err);
/* Every record of kind (a new array, in id order). */
int elb_list(struct sched *s, enum elb_kind kind, json_t **ret, struct err *err);
/* The page of all that req's PageSize/Marker asks for, as ret[member] (and NextMarker when more follow). */
int elb_page(json_t *req, json_t *all, json_t *ret, const char *member, struct err *err);
/* A copy of rec for an answer (without "ebx"). */
json_t *elb_public(json_t *rec);
/* ebx.tags of a record (created empty when absent; borrowed). */
json_t *elb_tags(json_t *rec);
/* A request to netd: 1 answered (*ret), 0 netd lacks the operation (a netd without the load-balancer
 * data plane: InvalidAction, logged), < 0 error (netd's code in err as ELBv2 sees it). */
int elb_netd(struct sched *s, json_t *req, json_t **ret, struct err *err);
/* A failed netd call as ELBv2 says it: unreachable ServiceUnavailable (-EAGAIN), InvalidSubnet,
 * InvalidSecurityGroup, else InvalidConfigurationRequest, netd's code kept in the message. */
int elb_netd_fail(struct err *err);

/* lb.c */
int elb_op_create_load_balancer(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_describe_load_balancers(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_delete_load_balancer(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
/* Whether the load balancer of a listener record is a network one. */
bool elb_lb_network(json_t *lb);
/* tg.c */
int elb_op_create_target_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_describe_target_groups(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_modify_target_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_delete_target_group(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_describe_target_group_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_modify_target_group_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
/* The public shape of a target group: its record with LoadBalancerArns (from the listeners and rules). */
json_t *elb_tg_shape(struct sched *s, json_t *tg);
/* The network listeners forwarding to target group id (a new array of listener records). */
int elb_tg_listeners(struct sched *s, const char *tg_id, bool network_only, json_t **ret, struct err *err);
/* targets.c */
int elb_op_register_targets(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_deregister_targets(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_describe_target_health(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
/* netd's PutTargetGroup and RegisterTargets (every target) for a target group a network listener uses. */
int elb_tg_push(struct sched *s, json_t *tg, struct err *err);
/* Adds and removes targets ([{Id, Port}], ip targets) of a group, and tells netd when a network
 * listener uses it (ECS services' loadBalancers, elb/ecs.c). */
int elb_targets_apply(struct sched *s, const char *tg_arn, json_t *add, json_t *del, struct err *err);
/* netd's DeleteTargetGroup for a group no network listener uses any more. */
int elb_tg_unpush(struct sched *s, json_t *tg, struct err *err);
/* listener.c */
int elb_op_create_listener(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_describe_listeners(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_modify_listener(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_delete_listener(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
/* The target groups (ARNs) actions forward to, for a listener of proto on lb: each exists, is in the
 * load balancer's VPC, speaks a compatible protocol and serves no other load balancer; *ret_recs (may
 * be NULL) a new array of their records. */
int elb_action_tgs_check(struct sched *s, json_t *lb, json_t *tgs, const char *proto, json_t **ret_recs, struct err *err);
/* Deletes a listener record, its rules and netd's listener. */
int elb_listener_remove(struct sched *s, json_t *ln, struct err *err);
/* rule.c */
int elb_op_create_rule(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_describe_rules(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_modify_rule(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_delete_rule(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_set_rule_priorities(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
/* tags.c */
int elb_op_add_tags(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_remove_tags(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int elb_op_describe_tags(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
