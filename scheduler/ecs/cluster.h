/* cluster.h: clusters ("cluster/NAME") and their API. */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"
#include "ecs.h"

struct sched;
struct api_ctx;

#include <stdbool.h>
#include <stddef.h>

const char *cluster_param(json_t *req);              /* "cluster" member or "default" */

/* What DescribeTasks, DescribeServices and DescribeContainerInstances take: a cluster, references
 * (the member key, 1..max strings; borrowed) and include TAGS. */
struct describe_in {
        const char *cluster;
        json_t *refs;
        bool tags;
};
int describe_decode(json_t *req, const char *key, size_t max, struct describe_in *ret, struct err *err);
/* Loads an ACTIVE cluster by name or ARN; ClusterNotFoundException otherwise. *ret_name gets the name. */
int cluster_get(struct api_ctx *c, const char *ref, json_t **ret, char ret_name[NAME_MAX_ECS + 1], struct err *err);
/* Creates the "default" cluster when it does not exist (start-up). */
int cluster_ensure_default(struct sched *s, struct err *err);
/* settings: [{name: containerInsights, value: enabled|disabled|enhanced}]; pure (cluster_req.c). */
int cluster_settings_check(json_t *settings, struct err *err);
/* configuration: executeCommandConfiguration (logging NONE|DEFAULT|OVERRIDE, logConfiguration
 * with OVERRIDE only) and managedStorageConfiguration; NULL is fine. Pure. */
int cluster_configuration_check(json_t *configuration, struct err *err);
struct update_cluster_in {
        const char *cluster;
        json_t *settings;                    /* or NULL: unchanged */
        json_t *configuration;               /* or NULL: unchanged */
        const char *namespace;               /* serviceConnectDefaults.namespace; "" removes; NULL unchanged */
};
/* UpdateCluster (settings_only: UpdateClusterSettings, settings required). Pure. */
int update_cluster_decode(json_t *req, bool settings_only, struct update_cluster_in *ret, struct err *err);
int op_update_cluster(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_update_cluster_settings(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_create_cluster(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_clusters(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_clusters(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_delete_cluster(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
