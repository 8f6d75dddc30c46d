/* monitor.h: the task monitor's runtime state and the interfaces between its modules. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/err.h"
#include "ecsbox/fsutil.h"
#include "ecsbox/timeutil.h"
#include "spec.h"

enum ctr_state { CTR_PENDING, CTR_RUNNING, CTR_STOPPED };
enum health_status { HEALTH_UNKNOWN, HEALTH_HEALTHY, HEALTH_UNHEALTHY };
enum task_state { TASK_PENDING, TASK_RUNNING, TASK_STOPPING, TASK_STOPPED };

#define RUNTIME_ID_MAX 65

/* A container's cgroups (v1): directories we created, or NULL; limits is what status reports. */
struct ctr_cgroup {
        char *mem_dir;
        char *cpu_dir;
        char *limits;                   /* "none", "enforced", "unavailable: ..." */
};

/* A container's overlay root in the task dir: DIR/rootfs/NAME/{upper,work,merged}. */
struct rootfs_paths {
        char *base, *upper, *work, *merged;
};

struct container {
        const struct container_spec *spec;
        char runtime_id[RUNTIME_ID_MAX];
        enum ctr_state state;
        pid_t pid;                      /* the container's PID 1 as the monitor sees it; 0 before start */
        bool reaped;                    /* its PID 1 was waited for */
        bool has_exit;
        int exit_code;
        char *reason;
        double started_at, finished_at; /* epoch seconds, 0 = unset */
        struct ctr_cgroup cg;
        struct user_ids user;           /* resolved at start, reused by health checks */
        char **env;                     /* the child's environment, owned */
        char *rootfs;                   /* the root to pivot into (image directory or overlay merged), NULL for "host" */
        struct rootfs_paths overlay;    /* set when the spec gives rootfs.lowerdirs */
        char *etc_resolv, *etc_hosts;   /* DIR/etc/NAME/{resolv.conf,hosts} to bind on /etc/..., or NULL (etcfiles.h) */
        bool ever_healthy;              /* a check passed once (dependsOn HEALTHY) */

        /* stop sequence */
        bool term_sent;
        uint64_t kill_at;               /* monotonic ms; 0 = none */
        bool kill_sent;

        /* health */
        enum health_status health;
        int hc_failures;
        uint64_t hc_next;               /* monotonic ms of the next check; 0 = none */
        pid_t hc_pid;                   /* a check in flight */
        uint64_t hc_deadline;           /* its timeout */
        bool hc_timed_out;
        uint64_t started_mono;          /* monotonic ms of start, for startPeriod */
};

struct monitor {
        struct task_spec *spec;
        struct container *ctrs;
        size_t n;
        enum task_state state;
        enum health_status health;
        char *stop_code;
        char *stopped_reason;
        double started_at, stopping_at, stopped_at;
        long long version;
        pid_t pid;                      /* our own pid, for status */
        int netns_fd;                   /* -1 = host mode */
        int notify_fd;
        int devnull_fd;
        uint64_t pending_since;         /* monotonic ms when containers began waiting */
        bool dirty;                     /* status must be rewritten */
        char *mem_task_dir, *cpu_task_dir;   /* task-level cgroup dirs we created */
};

/* util.c: single-write and small-read file helpers, random hex */
int write_string_file(const char *path, const char *s);
int read_file_small(const char *path, char *buf, size_t len);
int random_hex(char *buf, size_t nhex);

/* caps.c (child side) */
int caps_drop_bounding(uint64_t set);
int caps_set_process(uint64_t set);

/* cgroup.c: per-container v1 memory and cpu cgroups below the monitor's own cgroup. */
int cgroup_setup(struct monitor *m, struct container *c);
/* true when the container's memory cgroup recorded an OOM kill */
bool cgroup_oom_killed(const struct container *c);
/* Remove every container's cgroup, then the task's; after all processes were reaped. */
void cgroup_task_cleanup(struct monitor *m);

/* rootfs.c: overlay roots. */
int rootfs_paths(const char *task_dir, const char *name, struct rootfs_paths *ret);
void rootfs_paths_done(struct rootfs_paths *p);
/* The overlay mount options; *ret_chdir (or NULL) is the directory the layers are named relative to,
 * when the absolute names do not fit in the one page mount(2) takes. -E2BIG when nothing fits. */
int rootfs_overlay_options(const char *const *lowerdirs, const char *upper, const char *work, char **ret_opts,
                           char **ret_chdir);
/* rel (e.g. "etc/passwd") as the overlay would show it, found in the lowerdirs (top first): the path of
 * the regular file in its layer into ret_path; -ENOENT when absent, whited out or not a regular file. */
int rootfs_lookup(const char *const *lowerdirs, const char *rel, char *ret_path, size_t len);
/* Make upper, work and merged (a stale upper and work are removed first). */
int rootfs_create(const struct rootfs_paths *p, struct err *err);
/* In the container's child, in its own mount namespace: mount the overlay on merged. */
int rootfs_mount_overlay(const struct container_spec *cs, const struct rootfs_paths *p, char *msg, size_t len);
/* Remove upper, work and the empty directories, once the container's mount namespace is gone. */
void rootfs_cleanup(const struct rootfs_paths *p);

/* container.c: start a container; on failure fills err with the detail (no prefix) and returns < 0. */
int container_spawn(struct monitor *m, struct container *c, struct err *err);
/* The privilege drop shared by containers and health checks; runs in a child; returns < 0 with a message. */
int container_enter_privileges(const struct container_spec *cs, const struct user_ids *u, char *msg, size_t len);
/* The child's environment: PATH, HOSTNAME, HOME defaults, then the spec's variables. */
char **container_env(const struct container_spec *cs, const char *hostname, const char *home);
/* In a child before exec (container or health check): every signal back to its default, none blocked. */
void container_reset_signals(void);

/* exec.c: `--exec`: argv (NULL-terminated) in the running container of the spec's task; the exit status. */
int monitor_exec(const char *spec_path, const char *container, char **argv);
/* Join the container's cgroups (from a child, before exec). */
int cgroup_join_self(const struct container *c);
void container_free_runtime(struct container *c);

/* health.c */
int health_start(struct monitor *m, struct container *c);
/* A check process exited (status from waitpid). */
void health_finished(struct monitor *m, struct container *c, int status);
void health_timeout(struct monitor *m, struct container *c);
enum health_status health_task(const struct monitor *m);
const char *health_name(enum health_status h);

/* status.c: rewrite dir/status.json atomically (version + 1) and notify ecsboxd. */
int status_write(struct monitor *m);
const char *task_state_name(enum task_state s);
const char *ctr_state_name(enum ctr_state s);

/* task.c: the state machine and event loop. */
int monitor_init(struct monitor *m, struct task_spec *spec);
int monitor_run(struct monitor *m);
void monitor_done(struct monitor *m);
void monitor_stop(struct monitor *m, const char *code, const char *reason);
