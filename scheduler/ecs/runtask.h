/* runtask.h: starting tasks. tasks_start() is the one function that checks, places and records
 * new tasks; RunTask, StartTask and the service scheduler call it with a struct task_start
 * (RunTask's and StartTask's decoded from their request, the services' from their records). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ecsbox/err.h"
#include "ecs.h"
#include "placement.h"

struct api_ctx;

#define TASK_PLACE_CONSTRAINTS_MAX 10
#define TASK_PLACE_STRATEGIES_MAX 5

/* networkConfiguration.awsvpcConfiguration, checked (subnets 1..16, securityGroups <= 5,
 * assignPublicIp ENABLED|DISABLED); all members borrowed from the decoded JSON. */
struct task_network {
        json_t *config;                      /* networkConfiguration as given, NULL when absent */
        json_t *awsvpc;                      /* its awsvpcConfiguration, NULL when absent */
        json_t *subnets;                     /* strings */
        json_t *security_groups;             /* strings, NULL when absent */
        const char *assign_public_ip;        /* NULL when absent */
};
int task_network_decode(json_t *obj, struct task_network *ret, struct err *err);

/* placementConstraints and placementStrategy, checked; expressions parsed (owned), strategy
 * fields borrowed. no_strategies: the DAEMON scheduling strategy, which takes none. */
struct task_placement {
        bool distinct;
        struct cql *member_of[TASK_PLACE_CONSTRAINTS_MAX];
        size_t nmember_of;
        struct place_strategy strategies[TASK_PLACE_STRATEGIES_MAX];
        size_t nstrategies;
};
int task_placement_decode(json_t *constraints, json_t *strategies, bool no_strategies, struct task_placement *ret,
                          struct err *err);
void task_placement_done(struct task_placement *p);

/* overrides: containerOverrides (name, command, environment, cpu, memory, memoryReservation),
 * cpu and memory, checked; kept as given for tasks_start to apply. */
int task_overrides_check(json_t *overrides, struct err *err);

struct task_start {
        const char *cluster;                 /* name or ARN */
        json_t *cluster_rec;                 /* its record when the caller loaded it already, else NULL */
        const char *taskdef;                 /* family, family:rev or ARN */
        int count;                           /* 1..10 */
        const char *launch;                  /* EC2 or FARGATE */
        const char *started_by;              /* NULL: none */
        const char *group;                   /* NULL: family:FAMILY */
        json_t *tags;                        /* [{key, value}] or NULL */
        const char *propagate;               /* propagateTags: NULL/NONE, TASK_DEFINITION or SERVICE */
        bool managed_tags;                   /* enableECSManagedTags: aws:ecs:clusterName (and serviceName) */
        bool exec;                           /* enableExecuteCommand: ExecuteCommand may enter its containers */
        const char *service_name;            /* a service's task: its name, for the managed tag */
        json_t *service_tags;                /* a service's task: the service's tags, for propagateTags SERVICE */
        const char *client_token;            /* RunTask's idempotence token or NULL */
        char hash[20];                       /* with client_token: the request's hash (req_hash) */
        json_t *overrides;                   /* checked by task_overrides_check, or NULL */
        struct task_network net;
        struct task_placement place;
        const char *target_ec2_id;           /* place on this instance only (StartTask, DAEMON), or NULL */
};

struct task_failure {
        char arn[ARN_MAX];                   /* the container instance */
        const char *reason;                  /* RESOURCE:CPU, ATTRIBUTE, ... (a static string) */
};

struct task_start_result {
        json_t *tasks;                       /* the records of the tasks started (or replayed) */
        struct task_failure *failures;       /* why each instance refused, when fewer were placed than asked */
        size_t nfailures;
};
void task_start_result_done(struct task_start_result *r);

/* Checks the request against its task definition and the cluster, places req->count tasks and
 * records them (one transaction), then queues them for the lifecycle. Tasks that find no place
 * are no error: ret->failures says why. Errors carry ECS's codes and messages. */
int tasks_start(struct api_ctx *c, const struct task_start *req, struct task_start_result *ret, struct err *err);
/* Releases what a decoder put in req (the parsed expressions). */
void task_start_done(struct task_start *req);

/* RunTask's request: its members (cluster, taskDefinition, count, launchType, startedBy, group,
 * tags, clientToken, overrides, placement, networkConfiguration) checked into ret (zeroed by
 * the caller; members borrowed from req). */
int run_task_decode(json_t *req, struct task_start *ret, struct err *err);
int op_run_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
