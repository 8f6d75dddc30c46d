/* secrets.h: the Secrets Manager (X-Amz-Target secretsmanager.*, signed for "secretsmanager") and SSM
 * Parameter Store (AmazonSSM.*, signed for "ssm") subsets of ecsboxd, and the resolution of a task's
 * container `secrets` into its environment (docs/secrets.md). Records live in the state store under
 * secrets/sm/NAME and secrets/ssm/NAME. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "ecsbox/err.h"

#define SM_TARGET_PREFIX "secretsmanager."
#define SM_SIGNING_NAME "secretsmanager"
#define SSM_TARGET_PREFIX "AmazonSSM."
#define SSM_SIGNING_NAME "ssm"

#define SM_KEY_PREFIX "secrets/sm/"
#define SSM_KEY_PREFIX "secrets/ssm/"

struct api_ctx;
struct sched;

/* The signing name when target is a Secrets Manager or SSM operation (prefix and a name), else NULL. */
const char *secrets_signing_name(const char *target);
/* Runs the operation target names (the whole X-Amz-Target); errors in err with the JSON 1.1 __type. */
int secrets_dispatch(struct api_ctx *c, const char *target, json_t *req, json_t **ret, struct err *err);

/* sm.c, ssm.c: the values for tasks. *ret is malloc'ed. Errors carry the service's code and text. */
int sm_value_get(struct sched *s, const char *id, const char *stage, const char *version_id, char **ret, struct err *err);
int ssm_value_get(struct sched *s, const char *name, char **ret, struct err *err);

/* task.c: each container's secrets [{name, valueFrom}] of containers (the monitor's spec) put into its
 * environment. On a failure: <0 and ECS's stoppedReason in reason. */
int secrets_task_env(struct sched *s, json_t *containers, char *reason, size_t size);
/* A container's repositoryCredentials.credentialsParameter (a secret holding {"username", "password"}):
 * *ret_user and *ret_pass malloc'ed. On a failure: <0 and the agent's stoppedReason in reason. */
int secrets_registry_auth(struct sched *s, const char *secret_id, char **ret_user, char **ret_pass, char *reason, size_t size);
