/* sched.h: ecsboxd's internal interfaces: the daemon context, the API request
 * context and each module's entry points. Only scheduler/ includes it. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ecsbox/err.h"
#include "ecsbox/ids.h"
#include "ecsbox/store.h"
#include "ecsbox/fsutil.h"
#include "ecsbox/timeutil.h"

#define SCHED_BODY_MAX (1024 * 1024)    /* request bodies above this are refused */
#define SCHED_PATH_MAX 512
#define ARN_MAX 640
#define NAME_MAX_ECS 255

/* ECS error types (the __type of an error answer). */
#define E_CLIENT "ClientException"
#define E_PARAM "InvalidParameterException"
#define E_SERIAL "SerializationException"
#define E_CLUSTER_NF "ClusterNotFoundException"
#define E_UNSUPPORTED "UnsupportedFeatureException"
#define E_CONFLICT "ConflictException"
#define E_UNKNOWN_OP "UnknownOperationException"
#define E_SERVER "ServerException"
#define E_TARGET_NF "TargetNotFoundException"
#define E_SVC_NF "ServiceNotFoundException"
#define E_SVC_NA "ServiceNotActiveException"

struct sched;
struct sd_event;
struct sd_event_source;

/* One request to netd (a JSON object with "Action"); *ret gets the answer.
 * netd's own errors come back as err->code "netd:<Code>" with its message.
 * Replaceable so that unit tests run without a netd. */
typedef int (*netd_call_fn)(struct sched *s, json_t *req, json_t **ret, struct err *err);

struct sched {
        struct store *store;
        char state_dir[SCHED_PATH_MAX];
        char run_dir[SCHED_PATH_MAX];
        char netd_sock[SCHED_PATH_MAX];
        char image_store[SCHED_PATH_MAX];
        char tasks_dir[SCHED_PATH_MAX];      /* STATE/tasks: one directory per task, the monitor's */
        char notify_path[SCHED_PATH_MAX];    /* RUNDIR/ecsboxd-notify.sock: monitors send their task id */
        char monitor_bin[SCHED_PATH_MAX];
        char region[32];
        char account[16];
        double stopped_retention;            /* seconds a STOPPED task stays describable */
        netd_call_fn netd_call;
        void *test_data;                     /* for unit-test stubs */

        struct sd_event *ev;                 /* NULL in unit tests: no asynchronous work */
        struct sd_event_source *defer_src;
        json_t *todo;                        /* task id -> key: tasks to advance on the next loop turn */
        json_t *active;                      /* task id -> key: every task not yet STOPPED */
        json_t *steady;                      /* task id -> true: RUNNING as desired at its last look */
        unsigned ticks;
        json_t *children;                    /* pid (string) -> task id: monitors we forked and must reap */

        bool net_defaults_ok;                /* default VPC/subnet known */
        char default_vpc[ID_MAX];
        char default_subnet[ID_MAX];
        char default_az[32];
        double last_prune;
        bool services_due;                   /* a service's task changed: run the service scheduler soon */
        double services_last;                /* when the last pass over the services ran */
};

/* What one API call runs with: the daemon and the region of this request
 * (from the SigV4 credential scope, else the daemon's). */
struct api_ctx {
        struct sched *s;
        char region[32];
        const char *op;
};

/* ---- sched.c: lifetime ---- */
struct sched_options {
        const char *state_dir, *run_dir, *netd_sock, *image_store, *region, *account, *monitor_bin;
};
/* Opens the state database (":memory:" when state_dir is NULL, for tests) and
 * makes sure the default cluster exists. */
int sched_init(struct sched *s, const struct sched_options *o, struct err *err);
void sched_done(struct sched *s);

/* ---- api.c: the ECS JSON 1.1 edge ---- */
struct api_response {
        int status;                          /* 200, 400 or 500 */
        char *body;                          /* malloc'ed JSON text */
        char request_id[UUID_STR_MAX];
};
/* Handles one request completely; never fails (errors become 4xx/5xx bodies). */
void api_handle(struct sched *s, const char *target, const char *body, size_t len, const char *authorization,
                bool too_large, struct api_response *ret);
/* The region in "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/ecs/aws4_request, ..." or false. */
bool api_auth_region(const char *authorization, char *buf, size_t size);
/* Runs an operation on a parsed request (used by api_handle and unit tests). */
int api_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err);

/* ---- req.c: typed request members; messages name the member's path ---- */
int req_str(json_t *o, const char *path, const char *key, bool required, const char **ret, struct err *err);
int req_int(json_t *o, const char *path, const char *key, bool required, long long min, long long max, long long *ret,
            struct err *err);
int req_bool(json_t *o, const char *path, const char *key, bool required, bool *ret, struct err *err);
int req_array(json_t *o, const char *path, const char *key, bool required, json_t **ret, struct err *err);
int req_object(json_t *o, const char *path, const char *key, bool required, json_t **ret, struct err *err);
/* An array of strings, at most max entries (0 = any). */
int req_str_list(json_t *o, const char *path, const char *key, bool required, size_t max, json_t **ret,
                 struct err *err);
/* tags: [{key, value}] (at most 50), echoed as given. */
int req_tags(json_t *o, const char *key, json_t **ret, struct err *err);
/* maxResults/nextToken paging over a list of strings: *ret gets a new array with the page and
 * *ret_token a new string or NULL. */
int req_page(json_t *req, json_t *all, int default_max, json_t **ret, json_t **ret_token, struct err *err);
/* Whether include[] holds "TAGS". */
bool req_include_tags(json_t *req);

/* ---- arn.c: ARNs, names and ids ---- */
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
/* Appends a Describe* failure for a reference that names nothing: the reference itself when it
 * is an ARN, else built_arn, with reason MISSING. */
void failure_missing(json_t *failures, const char *ref, const char *built_arn);
/* ip-A-B-C-D.ec2.internal in us-east-1, else ip-A-B-C-D.REGION.compute.internal */
void private_dns_name(const char *region, const char *ip, char *buf, size_t size);
/* Parses "family", "family:rev" or a task-definition ARN; rev 0 when absent. */
int taskdef_ref_parse(const char *ref, char family[NAME_MAX_ECS + 1], long *ret_rev, struct err *err);

/* ---- cluster.c ---- */
const char *cluster_param(json_t *req);              /* "cluster" member or "default" */
/* Loads an ACTIVE cluster by name or ARN; ClusterNotFoundException otherwise. *ret_name gets the name. */
int cluster_get(struct api_ctx *c, const char *ref, json_t **ret, char ret_name[NAME_MAX_ECS + 1], struct err *err);
int cluster_ensure_default(struct sched *s, struct err *err);
int op_create_cluster(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_clusters(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_clusters(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_delete_cluster(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);

/* ---- taskdef.c ---- */
/* Validates a RegisterTaskDefinition request and builds the TaskDefinition
 * (defaults filled in, revision and ARN left to the caller). Pure. */
int taskdef_build(json_t *req, json_t **ret, struct err *err);
/* Loads a task definition by family[:rev] or ARN (family alone: the latest ACTIVE). */
int taskdef_get(struct api_ctx *c, const char *ref, json_t **ret, struct err *err);
/* Parses a task cpu/memory value ("1024", "1 vCPU", "0.5 GB", "2GB", or a number) into units/MiB. */
int taskdef_units(json_t *v, bool memory, long *ret);
int op_register_task_definition(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_task_definition(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_task_definitions(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_deregister_task_definition(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_task_definition_families(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);

/* ---- instance.c ---- */
struct instance_type {
        const char *name;
        int cpu, mem, enis;
};
const struct instance_type *instance_type_find(const char *name);
/* What the tasks (records, any cluster) placed on instance id hold: resources of
 * every task not STOPPED; tcp/udp (65536-bit maps, may be NULL) get their static host ports. */
struct inst_usage {
        long cpu, mem;
        int enis, running, pending;
};
void instance_usage(json_t *tasks, const char *id, struct inst_usage *u, uint64_t *tcp, uint64_t *udp);
/* The store key of an instance record: instance/CLUSTER/ID. */
void instance_key(char *buf, size_t size, const char *cluster, const char *id);
/* Sets (value NULL: without a value) or adds the attribute name in an attributes array. */
void attr_set(json_t *attrs, const char *name, const char *value);
/* Loads an instance record (not INACTIVE unless any) by id or ARN; -ENOENT when absent. */
int instance_get(struct sched *s, const char *cluster, const char *ref, bool any, json_t **ret, struct err *err);
/* Instance records of a cluster (ACTIVE and DRAINING unless all); *ret a new array. */
int instance_list(struct sched *s, const char *cluster, bool all, json_t **ret, struct err *err);
/* The public shape of an instance record, with counts and remainingResources. */
json_t *instance_shape(struct sched *s, const char *cluster, json_t *rec);
/* Releases the networks of INACTIVE instances that no task uses any more. */
void instance_release_pending(struct sched *s);
int op_register_container_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_container_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_container_instances(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_deregister_container_instance(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);

/* ---- attributes.c: custom attributes and instance state ---- */
int op_put_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_delete_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_attributes(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_update_container_instances_state(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
/* starttask.c */
int op_start_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);

/* ---- task.c: records and API ---- */
/* The public Task shape of a record (internal members removed). */
json_t *task_shape(json_t *rec, bool tags);
/* Tasks of a cluster; all = include STOPPED. *ret a new array of records. */
int task_list(struct sched *s, const char *cluster, bool all, json_t **ret, struct err *err);
int task_put(struct sched *s, json_t *rec, struct err *err);
/* A hash of a request without its clientToken, to tell a repeat from a different request. */
void request_hash(json_t *req, char buf[20]);
int op_run_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_stop_task(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_tasks(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_tasks(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_get_task_logs(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);

/* ---- lifecycle.c: the task state machine ---- */
/* Queue a task to be advanced on the next loop turn (no-op without a loop). */
void task_kick(struct sched *s, const char *id, const char *key);
/* Advance one task as far as it can go now. */
void task_advance(struct sched *s, const char *key);
/* Every second: refresh all active tasks, prune old STOPPED ones. */
void tasks_tick(struct sched *s);
/* Start-up: adopt live monitors, finish or roll back the rest. */
int tasks_recover(struct sched *s, struct err *err);
/* The loop's defer source: advances the kicked tasks. */
int tasks_on_defer(struct sd_event_source *es, void *userdata);
/* A monitor we forked exited (SIGCHLD). */
void tasks_child_exited(struct sched *s, pid_t pid);

/* ---- launch.c: task monitors ---- */
/* Writes dir/spec.json and forks+execs the monitor; *ret_pid on success. */
int launch_monitor(struct sched *s, json_t *spec, const char *dir, pid_t *ret_pid, struct err *err);
/* Is pid a live ecsbox-monitor for this spec path (not a zombie, not a reused pid)? */
bool monitor_alive(pid_t pid, const char *spec_path);
/* The last non-empty line of a file ("see PATH" when there is none), for error messages. */
void last_line(const char *path, char *buf, size_t size);
/* dir/status.json or NULL. */
json_t *monitor_status(const char *dir);
/* Writes dir/stop-request.json then SIGTERMs the monitor. */
int monitor_stop(pid_t pid, const char *dir, const char *stop_code, const char *reason, struct err *err);

/* ---- netd_client.c ---- */
int netd_socket_call(struct sched *s, json_t *req, json_t **ret, struct err *err);
/* Makes sure the default VPC and subnet are known (DescribeVpcs is-default,
 * else our own record, else created). */
int netd_ensure_defaults(struct sched *s, struct err *err);
/* netd error code of err ("" when the error did not come from netd). */
const char *netd_code(const struct err *err);
/* DeleteTaskNetwork by namespace name; a namespace netd does not know is not an error. */
int netd_release(struct sched *s, const char *netns, struct err *err);
/* DescribeSubnets for one id; *ret the Subnet object. */
int netd_subnet(struct sched *s, const char *subnet_id, json_t **ret, struct err *err);

/* ---- small JSON helpers (sched.c) ---- */
const char *jstr(json_t *o, const char *key);        /* string member or NULL */
long long jint(json_t *o, const char *key, long long dflt);
json_t *jtime(double t);                             /* epoch seconds, millisecond precision */

/* ---- service.c: services and the service scheduler ---- */
int op_create_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_update_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_delete_service(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_describe_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
int op_list_services(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
/* One pass of the service scheduler over every service (from the tick, and the loop turn after a kick). */
void services_tick(struct sched *s);
/* Services of a cluster that are ACTIVE or DRAINING, or -errno. */
int services_count(struct sched *s, const char *cluster, struct err *err);
/* The loop's defer turn: a pass when one was asked for (at most every 0.25 s). */
void services_on_defer(struct sched *s);
/* Asks for a pass on the next loop turn (a service changed, or one of its tasks did). */
void services_kick(struct sched *s);
