/* sched.h: struct sched, the manager that holds all of ecsboxd's state, and the context of
 * one API call. Every module of scheduler/ takes a struct sched; their interfaces are in
 * the headers beside them (loop.h, front/api.h, ecs/task.h, ...). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ecsbox/err.h"
#include "ecsbox/ids.h"

#define SCHED_PATH_MAX 512

struct auth;
struct query_model;
struct tmds;
struct images;
struct img_jobs;
struct logstore;
struct sched;
struct sd_event;
struct sd_event_source;
struct store;

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
        netd_call_fn netd_call;              /* set before sched_init (main: netd_socket_call) */
        struct auth *auth;                   /* the API keys (front/auth.c); main's, set before serving */
        struct query_model *ec2_model;       /* query/: botocore's EC2 model, parsed at first use */
        struct query_model *elbv2_model;     /* query/: botocore's ELBv2 model, parsed at first use */
        struct tmds *tmds;                   /* tmds/: the metadata endpoint's servers, made at first use */
        char task_role_credentials[SCHED_PATH_MAX];  /* role ARN or name -> keys (shared-credentials format) */
        void *test_data;                     /* for unit-test stubs */

        /* images (scheduler/images/, imgsvc/): main's, NULL in unit tests (only "host" runs then) */
        struct images *images;
        struct img_jobs *img_jobs;           /* pulls and imports in worker threads */
        int pull_policy;                     /* enum pull_policy (images.h), --image-pull-behavior */

        struct logstore *logs;               /* CloudWatch Logs (logs/): main's, NULL when not opened */

        /* the loop (loop.c); ev and defer_src are NULL in unit tests: no asynchronous work */
        struct sd_event *ev;
        struct sd_event_source *defer_src;
        int notify_fd;                       /* the datagram socket at notify_path, or -1 */
        unsigned ticks;
        double last_prune;
        double net_last_try;                 /* when the tick last asked netd for the default VPC */

        /* tasks (ecs/lifecycle.c) */
        json_t *todo;                        /* task id -> key: tasks to advance on the next loop turn */
        json_t *active;                      /* task id -> key: every task not yet STOPPED */
        json_t *steady;                      /* task id -> true: RUNNING as desired at its last look */
        json_t *children;                    /* pid (string) -> task id: monitors we forked and must reap */

        /* services (ecs/service.c) */
        bool services_due;                   /* a service's task changed: run the service scheduler soon */
        double services_last;                /* when the last pass over the services ran */

        /* Cloud Map DNS (sd/dns.c): what netd has yet to take */
        json_t *sd_dirty;                    /* "zone:ns-…", "svc:srv-…", "unzone:VPC:NAME" -> attempts */
        double sd_last_all;                  /* when every zone and RRset was last marked for a push */

        /* the default network (netd_client.c) */
        bool net_defaults_ok;                /* default VPC/subnet known */
        char default_vpc[ID_MAX];
        char default_subnet[ID_MAX];
        char default_az[32];
};

/* What one API call runs with: the daemon and the region of this request
 * (from the SigV4 credential scope, else the daemon's). */
struct api_ctx {
        struct sched *s;
        char region[32];
        const char *op;
};

struct sched_options {
        const char *state_dir, *run_dir, *netd_sock, *image_store, *region, *account, *monitor_bin;
};
/* Fills s from o and opens the state database (":memory:" when state_dir is NULL, for tests).
 * Nothing else: the default cluster and the loop are the caller's. */
int sched_init(struct sched *s, const struct sched_options *o, struct err *err);
void sched_done(struct sched *s);
/* Asks the loop for a turn soon (queued tasks or a service pass are due); no-op without a loop. */
void sched_wake(struct sched *s);
