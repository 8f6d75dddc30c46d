/* knet_cache.c: the sockets the kernel layer keeps per netns (struct knet_ns in struct knet), their lifetime rules, and the ifindex cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "knet_int.h"

static struct knet_ns *ns_free(struct knet_ns *ns)
{
        if (ns) {
                nlc_close(ns->rt);
                nlc_close(ns->nf);
                free(ns->ifs);
                free(ns);
        }
        return NULL;
}

void knet_cache_free(struct knet *k)
{
        while (k->ns) {
                struct knet_ns *next = k->ns->next;
                ns_free(k->ns);
                k->ns = next;
        }
        k->n_rt = 0;
}

static void ns_unlink(struct knet *k, struct knet_ns **p)
{
        struct knet_ns *ns = *p;
        *p = ns->next;
        if (ns->rt)
                k->n_rt--;
        ns_free(ns);
}

void knet_ns_drop(struct knet *k, const char *name)
{
        for (struct knet_ns **p = &k->ns; *p; p = &(*p)->next)
                if (strcmp((*p)->name, name) == 0) {
                        ns_unlink(k, p);
                        return;
                }
}

static struct knet_ns *ns_cached(struct knet *k, const char *name)
{
        for (struct knet_ns *ns = k->ns; ns; ns = ns->next)
                if (strcmp(ns->name, name) == 0)
                        return ns;
        return NULL;
}

/* The entry of netns `name`, moved to the front; a stat per use notices a netns deleted, or
 * deleted and made again, behind our back (its sockets are dropped then). create: make an entry
 * without sockets when there is none; else *ret is NULL then. */
static int ns_lookup(struct knet *k, const char *name, char path[PATH_MAX], bool create, struct knet_ns **ret,
                     struct err *err)
{
        struct knet_ns *ns;
        struct stat st;
        int r;

        *ret = NULL;
        if ((r = knet_path(k, name, path, PATH_MAX, err)) < 0)
                return r;
        if (stat(path, &st) < 0) {
                knet_ns_drop(k, name);
                return err_set(err, errno, NULL, "netns '%s': %s: %s", name, path, strerror(errno));
        }
        for (struct knet_ns **p = &k->ns; *p; p = &(*p)->next) {
                ns = *p;
                if (strcmp(ns->name, name) != 0)
                        continue;
                if (ns->dev != st.st_dev || ns->ino != st.st_ino) {
                        ns_unlink(k, p);
                        break;
                }
                *p = ns->next;
                ns->next = k->ns;
                k->ns = ns;
                *ret = ns;
                return 0;
        }
        if (!create)
                return 0;
        ns = calloc(1, sizeof *ns);
        if (!ns)
                return err_set(err, ENOMEM, NULL, "netns '%s': %s", name, strerror(ENOMEM));
        snprintf(ns->name, sizeof ns->name, "%s", name);
        snprintf(ns->where, sizeof ns->where, "netns '%s'", name);
        ns->dev = st.st_dev;
        ns->ino = st.st_ino;
        ns->next = k->ns;
        k->ns = ns;
        *ret = ns;
        return 0;
}

void knet_sweep(struct knet *k)
{
        char path[PATH_MAX];
        struct stat st;

        for (struct knet_ns **p = &k->ns; *p;) {
                struct knet_ns *ns = *p;
                if (knet_path(k, ns->name, path, sizeof path, NULL) < 0 || stat(path, &st) < 0 || st.st_dev != ns->dev ||
                    st.st_ino != ns->ino) {
                        ns_unlink(k, p);
                        continue;
                }
                p = &ns->next;
        }
}

/* Drop an entry that ended up holding no socket. */
static void ns_forget_empty(struct knet *k, struct knet_ns *ns)
{
        if (!ns->rt && !ns->nf)
                knet_ns_drop(k, ns->name);
}

/* At most KNET_NS_CACHE_MAX rtnetlink sockets: close the least recently used one. */
static void rt_evict(struct knet *k)
{
        struct knet_ns **victim = NULL;

        if (k->n_rt <= KNET_NS_CACHE_MAX)
                return;
        for (struct knet_ns **p = &k->ns; *p; p = &(*p)->next)
                if ((*p)->rt)
                        victim = p;
        if (!victim)
                return;
        if ((*victim)->nf) {
                (*victim)->rt = nlc_close((*victim)->rt);
                (*victim)->n_ifs = 0;
                k->n_rt--;
        } else
                ns_unlink(k, victim);
}

int knet_ns_get(struct knet *k, const char *name, struct knet_ns **ret, struct err *err)
{
        char path[PATH_MAX];
        struct knet_ns *ns;
        int r;

        if ((r = ns_lookup(k, name, path, true, &ns, err)) < 0)
                return r;
        if (!ns->rt) {
                if ((r = nlc_open_at(path, NETLINK_ROUTE, ns->where, &ns->rt, NULL, err)) < 0) {
                        ns_forget_empty(k, ns);
                        return r;
                }
                k->n_rt++;
                rt_evict(k);
        }
        *ret = ns;
        return 0;
}

int knet_nf_keep(struct knet *k, const char *name, struct nlc **ret, struct err *err)
{
        char path[PATH_MAX];
        struct knet_ns *ns;
        int r;

        if ((r = ns_lookup(k, name, path, true, &ns, err)) < 0)
                return r;
        if (!ns->nf && (r = nlc_open_at(path, NETLINK_NETFILTER, ns->where, &ns->nf, NULL, err)) < 0) {
                ns_forget_empty(k, ns);
                return r;
        }
        *ret = ns->nf;
        return 0;
}

void knet_nf_forget(struct knet *k, const char *name)
{
        struct knet_ns *ns = ns_cached(k, name);

        if (!ns)
                return;
        ns->nf = nlc_close(ns->nf);
        ns_forget_empty(k, ns);
}

static struct nlc *sock_of(const struct knet_ns *ns, int proto)
{
        return ns ? (proto == NETLINK_ROUTE ? ns->rt : ns->nf) : NULL;
}

int knet_sock_for(struct knet *k, const char *netns, int proto, struct nlc **ret, struct nlc **ret_tmp, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        struct knet_ns *ns;
        int r;

        *ret_tmp = NULL;
        if (!netns) {
                if (proto != NETLINK_ROUTE)
                        return err_set(err, EINVAL, NULL, "no netfilter socket is kept for the host netns");
                *ret = k->host;
                return 0;
        }
        if (sock_of(ns_cached(k, netns), proto)) {
                if ((r = ns_lookup(k, netns, path, false, &ns, err)) < 0)
                        return r;
                if (sock_of(ns, proto)) {
                        *ret = sock_of(ns, proto);
                        return 0;
                }
        }
        if ((r = knet_path(k, netns, path, sizeof path, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", netns);
        if ((r = nlc_open_at(path, proto, where, ret_tmp, NULL, err)) < 0)
                return r;
        *ret = *ret_tmp;
        return 0;
}

/* ---- ifindex cache ---- */

int knet_ifindex(struct knet_ns *ns, const char *ifname, bool refresh, int *ret, struct err *err)
{
        struct knet_ifidx *slot = NULL;
        struct rt_link l;
        int r;

        for (size_t i = 0; i < ns->n_ifs; i++)
                if (strcmp(ns->ifs[i].name, ifname) == 0) {
                        slot = &ns->ifs[i];
                        break;
                }
        if (slot && !refresh) {
                *ret = slot->index;
                return 0;
        }
        r = rt_link_get(ns->rt, ifname, &l, err);
        if (r < 0) {
                knet_ifindex_forget(ns, ifname);
                return r;
        }
        if (!slot) {
                struct knet_ifidx *a = realloc(ns->ifs, (ns->n_ifs + 1) * sizeof *a);
                if (!a) {
                        *ret = l.index;    /* fine uncached */
                        return 0;
                }
                ns->ifs = a;
                slot = &a[ns->n_ifs++];
                snprintf(slot->name, sizeof slot->name, "%s", ifname);
        }
        slot->index = l.index;
        *ret = l.index;
        return 0;
}

void knet_ifindex_forget(struct knet_ns *ns, const char *ifname)
{
        for (size_t i = 0; i < ns->n_ifs; i++)
                if (strcmp(ns->ifs[i].name, ifname) == 0) {
                        ns->ifs[i] = ns->ifs[--ns->n_ifs];
                        return;
                }
}

/* Forget the cached ifindex of a link in netns, when an entry is kept for it. */
void knet_ifindex_forget_in(struct knet *k, const char *netns, const char *ifname)
{
        struct knet_ns *ns = netns ? ns_cached(k, netns) : NULL;
        if (ns)
                knet_ifindex_forget(ns, ifname);
}
