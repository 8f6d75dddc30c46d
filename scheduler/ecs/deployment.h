/* deployment.h: a service's deployments (ecs-svc/...): their records, the counts of their
 * tasks, the rolling bounds of deploymentConfiguration and the circuit breaker. Pure: no
 * store, no events; the service scheduler (service.c) acts on what these say. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"

/* deploymentConfiguration as a request gives it, checked member by member. */
struct deploy_config_in {
        bool given;                          /* the member is present */
        bool has_max, has_min;
        long long max_percent, min_healthy_percent;
        bool has_breaker, enable, rollback;  /* deploymentCircuitBreaker (both booleans required) */
};
int deploy_config_decode(json_t *req, struct deploy_config_in *ret, struct err *err);
/* The service's deploymentConfiguration: the request's members over old (UpdateService) or the
 * defaults of the scheduling strategy, with the checks that need both. *ret is new. */
int deploy_config_resolve(const struct deploy_config_in *in, bool daemon, json_t *old, json_t **ret, struct err *err);

/* A new PRIMARY deployment, IN_PROGRESS (netconf may be NULL). */
json_t *deployment_new(const char *tdarn, json_t *netconf, const char *launch, long long desired);
/* The PRIMARY deployment of a service record, or NULL. */
json_t *deployment_primary(json_t *svc);
/* Sets rolloutState and its reason ("ECS deployment ID WHAT." or the circuit breaker's text). */
void deployment_set_rollout(json_t *d, const char *state, const char *what);

/* A deployment's tasks (task records or record-shaped copies whose startedBy is its id). */
struct dep_count {
        int live, running, pending, healthy, failed;
};
bool task_live(json_t *t);
/* RUNNING and, with a health check, HEALTHY; without one, RUNNING for a moment. */
bool task_healthy(json_t *t);
void deployment_count(json_t *tasks, const char *dep, struct dep_count *n);

/* maximumPercent and minimumHealthyPercent as task counts for desired tasks (max rounds down,
 * min up, with one task of room when rounding leaves none). */
void deployment_bounds(json_t *config, long long desired, long long *ret_max_total, long long *ret_min_healthy);

enum breaker_result { BREAKER_OK, BREAKER_FAILED, BREAKER_ROLLED_BACK };
/* Failed tasks stop the primary deployment at max(3, min(200, ceil(desired / 2))) (ECS's
 * threshold); with rollback, the last COMPLETED deployment (ebx.lastCompleted) is PRIMARY again
 * (*ret_rolled_back, borrowed) and the record's task definition and network follow it. */
enum breaker_result deployment_breaker(json_t *svc, json_t *prim, long long desired, json_t **ret_rolled_back);
