/* service_req.h: the inputs of CreateService and UpdateService, decoded and checked once
 * (members borrowed from the request; kept verbatim where the record keeps them). */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "ecsbox/err.h"
#include "deployment.h"
#include "runtask.h"

struct service_create_in {
        const char *cluster;                 /* name or ARN ("default") */
        const char *name, *taskdef, *launch, *strategy;
        bool daemon;                         /* schedulingStrategy DAEMON */
        long long desired;                   /* 0 when absent (DAEMON) */
        bool has_grace;
        long long grace;                     /* healthCheckGracePeriodSeconds */
        json_t *tags;                        /* or NULL */
        const char *propagate;               /* propagateTags: NONE, TASK_DEFINITION or SERVICE */
        bool managed_tags;                   /* enableECSManagedTags */
        bool exec;                           /* enableExecuteCommand: the service's tasks may be entered */
        struct deploy_config_in deploy;
        json_t *constraints, *strategies;    /* placementConstraints, placementStrategy as given, or NULL */
        struct task_network net;
        json_t *registries;                  /* serviceRegistries (at most one), or NULL */
        json_t *lbs;                         /* loadBalancers [{targetGroupArn, containerName, containerPort}], or NULL */
        char hash[20];                       /* the request without clientToken: CreateService is idempotent */
};
int service_create_decode(json_t *req, struct service_create_in *ret, struct err *err);

struct service_update_in {
        const char *cluster, *service;       /* service: name or ARN */
        const char *taskdef;                 /* or NULL */
        long long desired;                   /* -1 when absent */
        bool has_grace;
        long long grace;
        bool force;                          /* forceNewDeployment */
        const char *propagate;               /* propagateTags, or NULL: unchanged */
        int managed_tags;                    /* enableECSManagedTags: 0/1, -1 unchanged */
        int exec;                            /* enableExecuteCommand: 0/1, -1 unchanged */
        struct deploy_config_in deploy;
        json_t *constraints, *strategies;    /* as given, or NULL: unchanged */
        bool has_strategies;                 /* placementStrategy non-empty (refused for DAEMON services) */
        struct task_network net;             /* net.config NULL: unchanged */
        json_t *registries;                  /* serviceRegistries, or NULL: unchanged ([] removes) */
        json_t *lbs;                         /* loadBalancers, or NULL: unchanged ([] removes) */
};
int service_update_decode(json_t *req, struct service_update_in *ret, struct err *err);
