/* sd.h: what the Cloud Map (servicediscovery) modules share: error types, record keys, limits, and
 * the calls between namespace.c, service.c, instance.c, operation.c and dns.c. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

struct sched;
struct api_ctx;

/* Cloud Map error types (the __type of an error answer, HTTP 400). */
#define SD_E_INPUT "InvalidInput"
#define SD_E_NS_NF "NamespaceNotFound"
#define SD_E_SVC_NF "ServiceNotFound"
#define SD_E_INST_NF "InstanceNotFound"
#define SD_E_OP_NF "OperationNotFound"
#define SD_E_HEALTH_NF "CustomHealthNotFound"
#define SD_E_IN_USE "ResourceInUse"
#define SD_E_DUP "DuplicateRequest"
#define SD_E_NS_EXISTS "NamespaceAlreadyExists"
#define SD_E_SVC_EXISTS "ServiceAlreadyExists"
#define SD_E_LIMIT "ResourceLimitExceeded"
#define SD_E_RES_NF "ResourceNotFoundException"
#define SD_E_TAGS "TooManyTagsException"

/* Store keys: sd/ns/<ns-id>, sd/svc/<srv-id>, sd/inst/<srv-id>/<instance-id>, sd/op/<op-id>,
 * sd/dns/<srv-id> (the RRsets last pushed to netd for a service). */
#define SD_NS_PREFIX "sd/ns/"
#define SD_SVC_PREFIX "sd/svc/"
#define SD_INST_PREFIX "sd/inst/"
#define SD_OP_PREFIX "sd/op/"
#define SD_DNS_PREFIX "sd/dns/"
#define SD_KEY_MAX 200

#define SD_ID_LEN 16                /* ns-/srv- + 16 [a-z0-9] */
#define SD_ID_MAX 24
#define SD_OP_ID_MAX 48             /* 32 [a-z0-9] - 8 [a-z0-9] */

/* ns-<16> / srv-<16>; 0 or -errno. */
int sd_id_new(const char *prefix, char buf[SD_ID_MAX]);
int sd_op_id_new(char buf[SD_OP_ID_MAX]);

/* Records by id (a new reference); -ENOENT with err set to the Cloud Map *NotFound type. */
int sd_namespace_get(struct sched *s, const char *id, json_t **ret, struct err *err);
int sd_service_get(struct sched *s, const char *id, json_t **ret, struct err *err);
/* Instance records of a service (a new array of records, in id order). */
int sd_instances_list(struct sched *s, const char *service_id, json_t **ret, struct err *err);
/* An instance's health as shown: HEALTHY/UNHEALTHY with a custom health config, else UNKNOWN. */
const char *sd_instance_health(json_t *svc, json_t *inst);

/* Registers (or updates) an instance of svc; ecs_owner names the ECS service ("service/C/N") that
 * manages it, or NULL. Records a REGISTER_INSTANCE operation (*ret_op_id, may be NULL) and marks the
 * service's DNS for a push. */
int sd_instance_put(struct sched *s, json_t *svc, const char *instance_id, json_t *attrs, const char *creator,
                    const char *ecs_owner, char *ret_op_id, struct err *err);
/* Deregisters; -ENOENT (InstanceNotFound) when absent. */
int sd_instance_delete(struct sched *s, json_t *svc, const char *instance_id, char *ret_op_id, struct err *err);

/* An operation that finished at once (SUCCESS); targets (stolen): {"NAMESPACE": id, ...}. ret_id gets its id. */
int sd_operation_record(struct sched *s, const char *type, json_t *targets, char ret_id[SD_OP_ID_MAX], struct err *err);
/* Drops operations older than a week (ECS's registrations make two per task); the loop's prune. */
void sd_operations_prune(struct sched *s);

/* DNS: marks what changed for the next push to netd (dns.c); the push runs at once and again on the
 * tick until netd took it. */
void sd_dns_zone_changed(struct sched *s, const char *ns_id);
void sd_dns_zone_deleted(struct sched *s, const char *vpc, const char *name);
void sd_dns_service_changed(struct sched *s, const char *service_id);
/* PutDnsZone before a namespace is recorded: a zone netd refuses (its error code) is InvalidInput with
 * netd's reason; netd unreachable is not an error (the zone is pushed later). */
int sd_dns_zone_check(struct sched *s, const char *vpc, const char *name, struct err *err);
/* Pushes what is pending; returns quickly when nothing is. */
void sd_dns_flush(struct sched *s);
/* Marks every zone and service for a push (start-up: netd may have restarted). */
void sd_dns_mark_all(struct sched *s);

/* The operations (api.c's table). */
int sd_op_create_private_dns_namespace(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_create_http_namespace(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_get_namespace(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_list_namespaces(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_delete_namespace(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_create_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_get_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_list_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_update_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_delete_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_register_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_deregister_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_get_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_list_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_discover_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_update_instance_health(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_get_instances_health(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_get_operation(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_list_operations(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_tag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_untag_resource(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int sd_op_list_tags(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);

/* The service named name (case-insensitive, as DNS) in namespace ns_id; -ENOENT (err untouched) when none. */
int sd_service_find(struct sched *s, const char *ns_id, const char *name, json_t **ret, struct err *err);
/* The namespace whose HttpName (= Name) is name; -ENOENT (err untouched) when none. */
int sd_namespace_find(struct sched *s, const char *name, json_t **ret, struct err *err);
/* The 1 s tick: pushes what is pending, and everything every minute and on the first tick. */
void sd_dns_tick(struct sched *s);
/* The RRsets of a service (pure): [{Name, Type, Ttl, Records}] as PutDnsRecords takes them. */
json_t *sd_dns_rrsets(json_t *svc, json_t *ns, json_t *instances);
