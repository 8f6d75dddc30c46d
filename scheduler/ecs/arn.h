/* arn.h: ECS ARNs, names and ids; the MISSING failure of Describe* answers. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "ecs.h"

struct api_ctx;

bool name_valid(const char *s);                      /* [A-Za-z0-9_-]{1,255} */
bool hex32_valid(const char *s);
/* The last path element of an ARN (or the string itself when it is no ARN). */
const char *arn_last(const char *s);
void arn_cluster(const struct api_ctx *c, const char *name, char buf[ARN_MAX]);
void arn_taskdef(const struct api_ctx *c, const char *family, long rev, char buf[ARN_MAX]);
void arn_task(const struct api_ctx *c, const char *cluster, const char *id, char buf[ARN_MAX]);
void arn_instance(const struct api_ctx *c, const char *cluster, const char *id, char buf[ARN_MAX]);
void arn_container(const struct api_ctx *c, const char *cluster, const char *task, const char *uuid, char buf[ARN_MAX]);
void arn_attachment(const struct api_ctx *c, const char *uuid, char buf[ARN_MAX]);
void arn_service(const struct api_ctx *c, const char *cluster, const char *name, char buf[ARN_MAX]);
/* Appends a Describe* failure for a reference that names nothing: the reference itself when it
 * is an ARN, else built_arn, with reason MISSING. */
void failure_missing(json_t *failures, const char *ref, const char *built_arn);
/* ip-A-B-C-D.ec2.internal in us-east-1, else ip-A-B-C-D.REGION.compute.internal */
void private_dns_name(const char *region, const char *ip, char *buf, size_t size);
/* Parses "family", "family:rev" or a task-definition ARN; rev 0 when absent. */
int taskdef_ref_parse(const char *ref, char family[NAME_MAX_ECS + 1], long *ret_rev, struct err *err);

/* The taggable resources an ECS ARN names, and their record keys. */
enum arn_kind { ARN_KIND_CLUSTER, ARN_KIND_SERVICE, ARN_KIND_TASK, ARN_KIND_TASKDEF, ARN_KIND_INSTANCE };
struct arn_resource {
        enum arn_kind kind;
        char region[32], account[16];
        char cluster[NAME_MAX_ECS + 1];      /* the cluster (itself, or the one holding it); "" for a task definition */
        char key[ARN_MAX + 32];              /* the store key of its record */
};
/* Parses arn:aws:ecs:REGION:ACCOUNT:{cluster/N, service/C/N, task/C/ID, task-definition/F:REV,
 * container-instance/C/ID} (the long format). Pure. InvalidParameterException "The ARN provided is
 * invalid." for anything else. */
int arn_resource_parse(const char *arn, struct arn_resource *ret, struct err *err);
