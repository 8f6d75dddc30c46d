/* etcfiles.h: a container's /etc/resolv.conf and /etc/hosts as ECS gives them in each network mode (pure). */
#pragma once

#include <stdbool.h>

#include "spec.h"

/* The parts of a resolv.conf that matter to a container: nameserver, search (or domain) and options
 * lines, each a NULL-terminated list of owned strings (never NULL after a successful parse). */
struct resolv_conf {
        char **servers;
        char **search;
        char **options;                 /* the words of every options line */
};

/* Parse resolv.conf text (comments, unknown keywords and blank lines skipped; the last search/domain
 * line wins, as in glibc). -ENOMEM only. */
int resolv_conf_parse(const char *text, struct resolv_conf *ret);
void resolv_conf_done(struct resolv_conf *r);
/* 127.0.0.0/8 or ::1, the servers Docker drops from a bridge container's copy. */
bool resolv_is_loopback(const char *server);
/* "nameserver S\n"..., then "search A B\n" and "options X Y\n" when not empty; NULL = out of memory. */
char *resolv_conf_format(const char *const *servers, const char *const *search, const char *const *options);

/* What the monitor writes and bind-mounts for one container; NULL = leave the image's (or the host's)
 * own file in place. */
struct etc_files {
        char *resolv;
        char *hosts;
};

/* The host's files, read by the caller (NULL when absent). */
struct etc_host_files {
        const char *resolv;             /* /etc/resolv.conf */
        const char *resolv_upstream;    /* /run/systemd/resolve/resolv.conf, used when resolv names only loopback */
        const char *hosts;              /* /etc/hosts */
};

/* Contents for container cs of task ts (hostname: the container's hostname, as set in its UTS namespace):
 *   awsvpc  (Fargate's shape)  resolv "nameserver BASE+2\nsearch DOMAIN\n",
 *           hosts "127.0.0.1 localhost\nIP PRIVATEDNSNAME\n"
 *   bridge, none (Docker's)    the host's resolv.conf minus loopback servers (8.8.8.8, 8.8.4.4 when none
 *           remain), dnsServers / dnsSearchDomains replacing servers / search; Docker's default hosts,
 *           extraHosts, then "IP HOSTNAME" (bridge only)
 *   host    the host's own files; copies with dnsServers, dnsSearchDomains and extraHosts applied when the
 *           container sets them, or when its image is not "host" (Docker copies them into the image)
 *   unset   (a spec without networkMode) nothing.
 * Returns 0 or -ENOMEM; *ret filled on success. */
int etc_files_build(const struct task_spec *ts, const struct container_spec *cs, const char *hostname,
                    const struct etc_host_files *host, struct etc_files *ret);
void etc_files_done(struct etc_files *f);
