/* knet_int.h: struct knet (its socket caches) and what the kernel layer's files share; not for the rest of netd. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "knet.h"
#include "nlcore.h"
#include "rtnl.h"

#define KNET_NS_CACHE_MAX 256    /* kept rtnetlink sockets; each pins its netns and holds an fd */
#define KNET_IFNAME_MAX 15

struct knet_ifidx {
        char name[KNET_IFNAME_MAX + 1];
        int index;
};

/* The sockets netd keeps in one netns, with the identity of that netns so a netns deleted and made
 * again under the same name is noticed, and an ifindex cache (bridges, macvlan parents). Every
 * socket pins its netns, so what is kept follows one rule per user:
 *   rt: VPC and container instance namespaces (knet_ns_get), at most KNET_NS_CACHE_MAX, least
 *       recently used dropped first; task namespaces get a socket per call (knet_sock_for);
 *   nf: per task netns of an attached ENI (knet_nf_keep), opened by its first security-group batch
 *       (or flow read) and kept until the ENI leaves: knet_eni_detach drops the entry,
 *       knet_sg_task_remove, fl_read_forget and a failed batch close it early. Closing a netfilter
 *       socket that ran a transaction waits for nf_tables's deferred destruction (an RCU grace
 *       period); membership changes run one transaction in every peer's netns, so they need them kept;
 * and knet_ns_drop closes both before netd deletes the netns. A netns deleted behind netd's back
 * is noticed by the next use (a stat per use) or by knet_sweep, netd's timer, whichever is first. */
struct knet_ns {
        struct knet_ns *next;
        char name[NAME_MAX + 1];
        char where[NAME_MAX + 16];     /* "netns 'name'" */
        dev_t dev;
        ino_t ino;
        struct nlc *rt;                /* NETLINK_ROUTE, or NULL */
        struct nlc *nf;                /* NETLINK_NETFILTER, or NULL */
        struct knet_ifidx *ifs;
        size_t n_ifs;
};

struct knet {
        char dir[PATH_MAX];
        int host_fd;                   /* the netns knet_open ran in */
        struct nlc *host;              /* rtnetlink socket in it */
        struct knet_ns *ns;            /* most recently used first */
        size_t n_rt;                   /* entries holding rt */
};

/* Checks a netns name (a file under dir) or an interface name (<= 15 chars). */
int knet_check_netns_name(const char *name, struct err *err);
int knet_check_ifname(const char *what, const char *name, struct err *err);
int knet_path(const struct knet *k, const char *name, char *buf, size_t len, struct err *err);

/* The netns's entry with its kept rtnetlink socket, opened (and kept) on first use. -ENOENT
 * (with err) when the netns is missing. */
int knet_ns_get(struct knet *k, const char *name, struct knet_ns **ret, struct err *err);
/* Close and forget every kept socket of a netns (before deleting it: the sockets pin it). */
void knet_ns_drop(struct knet *k, const char *name);

/* The flow reader's netfilter socket in a task netns, opened and kept on first use. */
int knet_nf_keep(struct knet *k, const char *name, struct nlc **ret, struct err *err);
/* Close and forget that socket (the ENI left the netns, or a read failed). */
void knet_nf_forget(struct knet *k, const char *name);

/* ifindex of a link in a cached netns; refresh skips the cache. */
int knet_ifindex(struct knet_ns *ns, const char *ifname, bool refresh, int *ret, struct err *err);
void knet_ifindex_forget(struct knet_ns *ns, const char *ifname);
/* The same by netns name, when an entry is kept for it. */
void knet_ifindex_forget_in(struct knet *k, const char *netns, const char *ifname);
/* Close every kept socket (knet_close). */
void knet_cache_free(struct knet *k);

/* A socket of proto (NETLINK_ROUTE or NETLINK_NETFILTER) for netns (NULL = host, rtnetlink only):
 * the kept one when there is one, else a new one in *ret_tmp, which the caller closes. */
int knet_sock_for(struct knet *k, const char *netns, int proto, struct nlc **ret, struct nlc **ret_tmp, struct err *err);

/* Sysctls of a task netns, written from inside it (netns_fn shape: ud unused). */
int knet_task_sysctls(const char *where, struct err *err);

void knet_fmt_ip(uint32_t ip, char buf[16]);
void knet_fmt_mac(const uint8_t *mac, char buf[18]);
