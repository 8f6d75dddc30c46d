/* spec.h: the task spec ecsboxd hands the monitor, and the pure helpers behind it (capabilities, users). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ecsbox/err.h"

/* Error code on every spec rejection (the caller maps it; the message names the member). */
#define SPEC_ERR "InvalidParameterException"

#define SPEC_MAX_CONTAINERS 64
#define SPEC_IMAGE_HOST "host"
#define SPEC_MAX_LOWERDIRS 500         /* overlayfs' own limit on lower layers */

/* "SIGQUIT", "QUIT", "sigquit" or "3" (Docker's StopSignal forms) into a signal number; -EINVAL if unknown. */
int spec_signal_parse(const char *s, int *ret);
/* The signal's name with "SIG" ("SIGTERM"), or NULL. */
const char *spec_signal_name(int sig);

enum dep_condition { DEP_START, DEP_COMPLETE, DEP_SUCCESS, DEP_HEALTHY };

struct dep_spec {
        char *name;
        size_t target;                  /* index into task_spec.containers */
        enum dep_condition cond;
};

struct health_spec {
        bool present;
        char **argv;                    /* NULL-terminated; CMD-SHELL becomes /bin/sh -c "..." */
        int interval, timeout, retries, start_period;   /* seconds */
};

/* An extraHosts entry. */
struct host_entry {
        char *host;
        char *ip;
};

struct container_spec {
        char *name;
        char *image;                    /* the image's name (a label; its layers are lowerdirs), or "host" */
        char **lowerdirs;               /* rootfs.lowerdirs: overlayfs layers, top first, NULL-terminated; NULL for "host" */
        bool readonly_root;             /* readonlyRootFilesystem */
        int stop_signal;                /* stopSignal, default SIGTERM */
        char **argv;                    /* entryPoint then command, NULL-terminated, never empty */
        char **env;                     /* NAME=VALUE, NULL-terminated */
        char *workdir;                  /* NULL = "/" */
        char *user;                     /* NULL = root */
        bool essential;
        long long memory_mib;           /* -1 = unset */
        long long reservation_mib;      /* -1 = unset */
        long long cpu;                  /* -1 = unset */
        int stop_timeout;               /* seconds, default 30 */
        int start_timeout;              /* seconds, -1 = unset */
        struct dep_spec *deps;
        size_t n_deps;
        struct health_spec health;
        uint64_t caps;                  /* bit n = capability n, after add/drop */
        /* name service (bridge, host; refused for awsvpc by RegisterTaskDefinition) */
        char *hostname;                 /* hostname; NULL = the task's, else the short container id */
        char **dns_servers;             /* dnsServers, NULL-terminated, or NULL */
        char **dns_search;              /* dnsSearchDomains, NULL-terminated, or NULL */
        struct host_entry *extra_hosts; /* extraHosts */
        size_t n_extra_hosts;
        char **links;                   /* links "name[:alias]" (bridge), NULL-terminated, or NULL */
};

struct task_spec {
        char *task_id;                  /* 32 lowercase hex */
        char *task_arn;                 /* may be NULL */
        char *netns;                    /* NULL = stay in the caller's netns (host mode) */
        char *dir;                      /* absolute */
        char *notify_socket;            /* may be NULL */
        char *hostname;                 /* may be NULL */
        char *cgroup_parent;            /* relative to the monitor's own cgroup; NULL = "ecsbox-<taskId>" */
        /* name service: what each container's /etc/resolv.conf and /etc/hosts get (etcfiles.h) */
        char *network_mode;             /* networkMode; NULL = leave every container's files alone */
        char **dns_servers;             /* dnsServers: the ENI's DHCP servers (awsvpc), NULL-terminated, or NULL */
        char **dns_search;              /* dnsSearch: the ENI's search list (awsvpc), NULL-terminated, or NULL */
        char *private_ip;               /* privateIp: the task's address (awsvpc, bridge), or NULL */
        char *private_dns_name;         /* privateDnsName: the ENI's name (awsvpc), or NULL */
        struct container_spec *containers;
        size_t n_containers;
};

/* Parse and validate a spec. On failure fills err (code SPEC_ERR, message naming the member) and
 * returns < 0; *ret untouched. Unknown members are ignored, so whole container definitions may be passed. */
int spec_parse(json_t *root, struct task_spec **ret, struct err *err);
/* spec_parse() of a file; jansson's line/column go into the message. */
int spec_load(const char *path, struct task_spec **ret, struct err *err);
struct task_spec *spec_free(struct task_spec *s);
const char *dep_condition_name(enum dep_condition c);
/* Index of the container named name, or -1. */
int spec_find_container(const struct task_spec *s, const char *name);

/* Capabilities. Names as in ECS (NET_RAW) or with the prefix (CAP_NET_RAW), any case. */
#define CAPS_BIT(c) (UINT64_C(1) << (c))
uint64_t caps_default(void);            /* Docker's default set minus NET_RAW */
int caps_parse_name(const char *name, int *ret_cap);
/* Docker's rules: drop "ALL" -> start empty, else start from the default; then add, then drop.
 * Refuses NET_ADMIN, SYS_ADMIN and "ALL" in add, and unknown names. */
int caps_compute(const char *const *add, size_t n_add, const char *const *drop, size_t n_drop,
                 uint64_t *ret, struct err *err);
/* "CHOWN,KILL,..." (ECS names) into buf; returns buf. */
char *caps_format(uint64_t set, char *buf, size_t len);

/* Users: "name", "uid", "name:group", "uid:gid" resolved against an image's /etc/passwd and
 * /etc/group (Docker's rules: a numeric uid needs no entry; a name must exist; supplementary groups
 * are the groups listing the user's name). */
struct user_ids {
        uid_t uid;
        gid_t gid;
        gid_t *groups;                  /* supplementary, owned */
        size_t n_groups;
        char *home;                     /* owned; "/" when unknown */
};
/* Syntax only: a non-empty user part and an optional non-empty group part, no spaces. */
bool user_spec_valid(const char *spec);
int user_resolve(const char *spec, const char *passwd_path, const char *group_path, struct user_ids *ret,
                 struct err *err);
void user_ids_done(struct user_ids *u);
