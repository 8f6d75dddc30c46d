/* shape.h: pure: the bodies of the task metadata endpoint (v3 and v4, the ECS agent's shapes) from a task
 * record as DescribeTasks keeps it, and the parsing of the endpoint's paths. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#define TMDS_ID_MAX 80

enum tmds_route {
        TMDS_NONE,
        TMDS_CONTAINER,         /* /v4/ID, /v3/ID */
        TMDS_TASK,              /* /v4/ID/task, /v3/ID/task */
        TMDS_TASK_TAGS,         /* /v4/ID/taskWithTags */
        TMDS_STATS,             /* /v4/ID/stats, /v3/ID/stats */
        TMDS_TASK_STATS,        /* /v4/ID/task/stats, /v3/ID/task/stats */
        TMDS_CREDENTIALS,       /* /v2/credentials/ID */
        TMDS_TASK_PROTECTION,   /* /api/ID/task-protection/v1/state ($ECS_AGENT_URI) */
};

struct tmds_path {
        enum tmds_route route;
        int version;            /* 3 or 4 (2 for credentials) */
        char id[TMDS_ID_MAX];   /* TASKID-RANDOM */
        char task_id[40];       /* the task id the id starts with */
};

/* The route of url; TMDS_NONE when it is none of the endpoint's paths (or the id is malformed). */
int tmds_path_parse(const char *url, struct tmds_path *ret);

/* What the bodies need besides the record: the network as the ENI and its subnet give it. */
struct tmds_net {
        const char *mode;               /* awsvpc, bridge, host, none */
        const char *ip, *mac, *dns_name, *subnet_cidr, *gateway;  /* gateway "10.0.1.1/24" */
        json_t *dns_servers, *dns_search;    /* arrays or NULL */
        const char *vpc_id;
};

/* The container body (v4: Networks with the awsvpc details; v3 without them). c: the record's container,
 * def: its definition (ebx.containers[i]). NULL on out of memory. */
json_t *tmds_container(json_t *rec, json_t *c, json_t *def, const struct tmds_net *net, int version);

/* The task body with every container; tags: TaskTags and ContainerInstanceTags (taskWithTags). */
json_t *tmds_task(json_t *rec, const struct tmds_net *net, int version, bool tags, json_t *instance_tags);

/* The agent's error body: a JSON string. */
json_t *tmds_error(const char *msg);
