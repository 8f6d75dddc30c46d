/* netd.h: ecsbox-netd's shared state and the operation handlers the API dispatches to. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "ecsbox/cidr.h"
#include "ecsbox/err.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "kernel/knet.h"
#include "ecsbox/store.h"

#define NETD_REQUEST_MAX (1024 * 1024)
#define UPLINK_BASE 0x64400000u   /* 100.64.0.0/10: transit /30 per VPC, host .1, router .2 */

struct netd {
        struct store *store;
        struct knet *knet;
        char region[32];
        char account[16];
        char netns_dir[256];
        char state_dir[256];
        char run_dir[256];
        uint64_t intent_seq;
        void *event;            /* the sd_event loop once it runs (NULL at start-up): deferred work */
};

/* A handler reads req, fills *ret (a new object) or err (with an EC2 code). */
typedef int (*netd_op_fn)(struct netd *d, json_t *req, json_t **ret, struct err *err);

/* api.c */
int netd_dispatch(struct netd *d, json_t *req, json_t **ret, struct err *err);
json_t *netd_handle_line(struct netd *d, const char *line, size_t len);

/* vpc.c */
int op_create_vpc(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_vpcs(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_vpc(struct netd *d, json_t *req, json_t **ret, struct err *err);
int vpc_create(struct netd *d, const char *cidr, bool is_default, json_t **ret_vpc, struct err *err);
int vpc_load(struct netd *d, const char *vpc_id, json_t **ret, struct err *err);
void vpc_knet(json_t *vpc, struct knet_vpc *ret);

/* subnet.c */
int op_create_subnet(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_subnets(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_subnet(struct netd *d, json_t *req, json_t **ret, struct err *err);
int subnet_create(struct netd *d, const char *vpc_id, const char *cidr, const char *az, bool default_for_az,
                  json_t **ret_subnet, struct err *err);
int subnet_load(struct netd *d, const char *subnet_id, json_t **ret, struct err *err);
void subnet_knet(json_t *subnet, const char *vpc_netns, struct knet_subnet *ret);
json_t *subnet_shape(struct netd *d, json_t *subnet);

/* eni.c */
int op_create_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_network_interfaces(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_attach_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_detach_network_interface(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_create_task_network(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_task_network(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* Fill a knet_eni from records; strings point into the json objects. */
int eni_knet(struct netd *d, json_t *eni, json_t *subnet, json_t *vpc, struct knet_eni *ret, struct err *err);
json_t *eni_shape(struct netd *d, json_t *eni);

/* sg.c: security group records and operations (docs/security-groups.md). */
int op_describe_security_groups(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_create_security_group(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_security_group(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_authorize_security_group_ingress(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_authorize_security_group_egress(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_revoke_security_group_ingress(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_revoke_security_group_egress(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_modify_network_interface_attribute(struct netd *d, json_t *req, json_t **ret, struct err *err);
int sg_create_default(struct netd *d, const char *vpc_id, json_t **ret_sg, struct err *err);
int sg_validate_groups(struct netd *d, json_t *groups, const char *vpc_id, json_t **ret_ids, struct err *err);
int sg_load(struct netd *d, const char *id, json_t **ret, struct err *err);
/* The group record's flat rules (sg_rules.h), borrowed. */
json_t *sg_rules_of(json_t *sg);
json_t *sg_shape(struct netd *d, json_t *sg);
/* Every record under a key prefix ("eni/", "sg/", "vpc/"): a new array, NULL on error. */
json_t *netd_records(struct netd *d, const char *prefix, struct err *err);

/* sg_enforce.c: security groups in the kernel. */
/* Before an ENI's link exists (add) / after it is gone: its port, MAC and IP in the VPC's bridge table. */
int sg_guard_eni(struct netd *d, json_t *eni, bool add, struct err *err);
/* After the link exists: build the task netns's inet + netdev tables. */
int sg_task_attach(struct netd *d, json_t *eni, struct err *err);
/* Detach from a netns netd keeps: remove the tables. */
int sg_task_detach(struct netd *d, json_t *eni, struct err *err);
/* Refill the SG sets of one attached ENI (its groups changed). */
int sg_eni_refresh(struct netd *d, json_t *eni, struct err *err);
/* Refill every attached ENI that uses one of these groups (their rules changed). */
int sg_groups_changed(struct netd *d, json_t *group_ids, struct err *err);
/* Refill every attached ENI whose rules name one of these groups as a peer (their members changed). */
int sg_members_changed(struct netd *d, json_t *group_ids, struct err *err);
/* The same, coalesced: queued and done from the event loop in slices of a few ms (at once when no
 * loop runs yet), so that a burst of ENI creations costs one pass over the affected tables. */
void sg_members_changed_later(struct netd *d, json_t *group_ids);
/* Start-up: bridge tables rebuilt, task tables checked and repaired, unowned ones removed. Returns repairs. */
int sg_reconcile(struct netd *d);

/* intent.c: intents recorded before the kernel is touched. */
int intent_add(struct netd *d, json_t *intent, char ret_key[64], struct err *err);
int intent_done(struct netd *d, const char *key, struct err *err);

/* reconcile.c */
int netd_reconcile(struct netd *d, struct err *err);

/* util: Describe filters */
struct filter;
int filters_parse(json_t *req, const char *const *names, json_t **ret, struct err *err);
/* true when obj passes every filter; getter(name) returns the object's values for a filter name. */
bool filters_match(json_t *filters, json_t *(*values)(json_t *obj, const char *name), json_t *obj);
/* Validate the id list member `key` (e.g. "VpcIds") against prefix; returns the array or NULL. */
int ids_param(json_t *req, const char *key, const char *prefix, const char *code, json_t **ret, struct err *err);

/* key helpers */
#define KEY_MAX 128
void key_fmt(char buf[KEY_MAX], const char *kind, const char *id);
void lease_key(char buf[KEY_MAX], const char *subnet_id, uint32_t ip);

/* vpc.c: shared Describe* walker; every id in ids must exist. */
int describe_objects(struct netd *d, const char *prefix, const char *id_key, json_t *ids, json_t *filters,
                     json_t *(*values)(json_t *, const char *), json_t *(*shape)(struct netd *, json_t *),
                     const char *notfound_code, const char *kind, json_t **ret, struct err *err);

/* flowlog.c: flow logs (docs/flow-logs.md). */
struct sd_event;
int op_create_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_describe_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_delete_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err);
int op_get_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err);
/* Load the flow logs and start the collector timer on ev. */
int flowlog_start(struct netd *d, struct sd_event *ev, struct err *err);
/* Before an ENI leaves its netns: read its meters and write its last window. */
void flowlog_eni_final(struct netd *d, json_t *eni);

/* eni.c: remove links, then record detached (or forget the ENI). Idempotent. */
int eni_detach_finish(struct netd *d, json_t *eni, bool forget, const char *ikey, struct err *err);
