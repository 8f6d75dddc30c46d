/* knet_int.h: struct knet and what its files share (knet.c, knet_vpc.c, knet_eni.c); not for the rest of netd. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "knet.h"
#include "nl.h"

#define KNET_NS_CACHE_MAX 256    /* cached VPC sockets; each pins its netns and holds an fd */
#define KNET_IFNAME_MAX 15

struct knet_ifidx {
        char name[KNET_IFNAME_MAX + 1];
        int index;
};

/* An rtnetlink socket opened inside a VPC netns, kept for later calls, with
 * the identity of that netns so a netns deleted and made again under the same
 * name is noticed, and an ifindex cache (bridges, macvlan parents). */
struct knet_ns {
        struct knet_ns *next;
        char name[NAME_MAX + 1];
        char where[NAME_MAX + 16];     /* "netns 'name'" */
        dev_t dev;
        ino_t ino;
        struct nl *nl;
        struct knet_ifidx *ifs;
        size_t n_ifs;
};

struct knet {
        char dir[PATH_MAX];
        int host_fd;                   /* the netns knet_open ran in */
        struct nl *host;               /* socket in it */
        struct knet_ns *ns;            /* most recently used first */
        size_t n_ns;
};

/* Checks a netns name (a file under dir) or an interface name (<= 15 chars). */
int knet_check_netns_name(const char *name, struct err *err);
int knet_check_ifname(const char *what, const char *name, struct err *err);
int knet_path(const struct knet *k, const char *name, char *buf, size_t len, struct err *err);

/* The cached socket of a netns, opened (and cached) on first use. -ENOENT
 * (with err) when the netns is missing. */
int knet_ns_get(struct knet *k, const char *name, struct knet_ns **ret, struct err *err);
/* Close and forget the cached socket of a netns (before deleting it: the socket pins it). */
void knet_ns_drop(struct knet *k, const char *name);

/* ifindex of a link in a cached netns; refresh skips the cache. */
int knet_ifindex(struct knet_ns *ns, const char *ifname, bool refresh, int *ret, struct err *err);
void knet_ifindex_forget(struct knet_ns *ns, const char *ifname);

/* A socket for netns (NULL = host): the cached one when there is one, else a
 * new one in *ret_tmp, which the caller closes (task netns sockets are never
 * kept: they pin the netns). */
int knet_nl_for(struct knet *k, const char *netns, struct nl **ret, struct nl **ret_tmp, struct err *err);

/* Open a socket inside the netns at path (entering it briefly). */
int knet_nl_open_in(struct knet *k, const char *path, const char *where, struct nl **ret, int *ret_fd, struct err *err);

/* Sysctls of a task netns, written from inside it (netns_fn shape: ud unused). */
int knet_task_sysctls(const char *where, struct err *err);

/* One RTM_NEWLINK (NLM_F_CREATE|NLM_F_EXCL) for a veth pair `name`, up, in
 * the batch socket's netns (enslaved to master when > 0), with its peer
 * `peer` born in peer_ns_fd (-1: the same netns) with peer_mac (may be NULL).
 * Never IFF_UP on the peer: the kernel opens it before the pair is linked
 * and answers ENOTCONN. peer_where names peer_ns_fd for messages. */
void knet_put_veth(struct nl_batch *b, const char *name, int master, const char *peer, const uint8_t *peer_mac,
                   int peer_ns_fd, const char *peer_where);

/* Send a batch and release it. */
static inline int knet_send(struct nl_batch *b, struct err *err)
{
        int r = nl_batch_send(b, err);
        nl_batch_fini(b);
        return r;
}

void knet_fmt_ip(uint32_t ip, char buf[16]);
void knet_fmt_mac(const uint8_t *mac, char buf[18]);
