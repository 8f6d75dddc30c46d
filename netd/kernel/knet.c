/* knet.c: the kernel layer's handle (host netns and socket), names and paths, named namespaces, link listing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "knet_int.h"
#include "netns.h"

int knet_check_netns_name(const char *name, struct err *err)
{
        if (!name || !name[0] || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/') ||
            strlen(name) > NAME_MAX)
                return err_set(err, EINVAL, NULL, "invalid netns name '%s'", name ? name : "(null)");
        return 0;
}

int knet_check_ifname(const char *what, const char *name, struct err *err)
{
        if (!name || !name[0] || strlen(name) > KNET_IFNAME_MAX || strchr(name, '/') || strpbrk(name, " \t\n:"))
                return err_set(err, EINVAL, NULL, "invalid %s name '%s' (1 to %d characters, no '/', ':' or blanks)", what,
                               name ? name : "(null)", KNET_IFNAME_MAX);
        return 0;
}

int knet_path(const struct knet *k, const char *name, char *buf, size_t len, struct err *err)
{
        int r = knet_check_netns_name(name, err);
        if (r < 0)
                return r;
        if (snprintf(buf, len, "%s/%s", k->dir, name) >= (int) len)
                return err_set(err, ENAMETOOLONG, NULL, "netns '%s': path too long", name);
        return 0;
}

void knet_fmt_ip(uint32_t ip, char buf[16])
{
        snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

void knet_fmt_mac(const uint8_t *mac, char buf[18])
{
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* ---- open / close ---- */

int knet_open(const char *netns_dir, struct knet **ret, struct err *err)
{
        struct knet *k;
        int r;

        if (!netns_dir || netns_dir[0] != '/')
                return err_set(err, EINVAL, NULL, "netns directory '%s' must be an absolute path", netns_dir ? netns_dir : "");
        k = calloc(1, sizeof *k);
        if (!k)
                return err_set(err, ENOMEM, NULL, "knet: %s", strerror(ENOMEM));
        k->host_fd = -1;
        if (snprintf(k->dir, sizeof k->dir, "%s", netns_dir) >= (int) sizeof k->dir) {
                r = err_set(err, ENAMETOOLONG, NULL, "netns directory '%s': path too long", netns_dir);
                goto fail;
        }
        /* strip trailing slashes so paths read "<dir>/<name>" */
        for (size_t n = strlen(k->dir); n > 1 && k->dir[n - 1] == '/'; n--)
                k->dir[n - 1] = '\0';
        if ((r = netns_dir_prepare(k->dir, err)) < 0)
                goto fail;
        /* the netns this (single) thread runs in now is "the host" from here on */
        k->host_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (k->host_fd < 0) {
                r = err_set(err, errno, NULL, "open /proc/thread-self/ns/net: %s", strerror(errno));
                goto fail;
        }
        if ((r = nlc_open(NETLINK_ROUTE, "the host netns", &k->host, err)) < 0)
                goto fail;
        *ret = k;
        return 0;
fail:
        knet_close(k);
        return r;
}

struct knet *knet_close(struct knet *k)
{
        if (!k)
                return NULL;
        knet_cache_free(k);
        nlc_close(k->host);
        if (k->host_fd >= 0)
                (void) close(k->host_fd);
        free(k);
        return NULL;
}

/* ---- named namespaces ---- */

int knet_netns_path(struct knet *k, const char *name, char *buf, size_t len)
{
        return knet_path(k, name, buf, len, NULL);
}

bool knet_netns_exists(struct knet *k, const char *name)
{
        char path[PATH_MAX];
        return knet_path(k, name, path, sizeof path, NULL) == 0 && netns_is_live(path);
}

int knet_task_sysctls(const char *where, struct err *err)
{
        /* a new netns copies some defaults from the initial one, not from its
         * creator: set every one explicitly (DESIGN.md, security boundaries) */
        static const struct {
                const char *key, *value;
                bool optional;
        } s[] = {
                /* ping without CAP_NET_RAW, through ICMP datagram sockets */
                { "net.ipv4.ping_group_range", "0 2147483647", false },
                /* announce eth0 when it comes up or its MAC is set */
                { "net.ipv4.conf.all.arp_notify", "1", false },
                { "net.ipv4.conf.default.arp_notify", "1", false },
                /* no IPv6 until ecsbox supports it; no DAD waits either way */
                { "net.ipv6.conf.all.accept_dad", "0", true },
                { "net.ipv6.conf.default.accept_dad", "0", true },
                { "net.ipv6.conf.all.disable_ipv6", "1", true },
                { "net.ipv6.conf.default.disable_ipv6", "1", true },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(s); i++)
                if ((r = sysctl_write(s[i].key, s[i].value, s[i].optional, where, err)) < 0)
                        return r;
        return 0;
}

struct task_ns_ctx {
        const char *where;
};

/* Inside a new task netns: sysctls, lo up. */
static int task_ns_setup(void *ud, struct err *err)
{
        struct task_ns_ctx *c = ud;
        _cleanup_nlc_ struct nlc *n = NULL;
        struct nlc_batch b;
        int r;

        /* sysctls first: lo comes up without IPv6 then */
        if ((r = knet_task_sysctls(c->where, err)) < 0 || (r = nlc_open(NETLINK_ROUTE, c->where, &n, err)) < 0)
                return r;
        nlc_batch_init(&b, n, 0);
        rt_put_link_set(&b, 1, "lo", true, NULL, -1, NULL);
        return nlc_batch_run(&b, err);
}

int knet_netns_create(struct knet *k, const char *name, struct err *err)
{
        char where[NAME_MAX + 16];
        struct task_ns_ctx c = { where };
        int r;

        if ((r = knet_check_netns_name(name, err)) < 0)
                return r;
        snprintf(where, sizeof where, "netns '%s'", name);
        return netns_create(k->dir, name, k->host_fd, task_ns_setup, &c, NULL, err);
}

int knet_netns_delete(struct knet *k, const char *name, struct err *err)
{
        char path[PATH_MAX], where[NAME_MAX + 16];
        int r;

        if ((r = knet_path(k, name, path, sizeof path, err)) < 0)
                return r;
        /* our cached socket would keep the namespace (and its links) alive */
        knet_ns_drop(k, name);
        snprintf(where, sizeof where, "netns '%s'", name);
        return netns_delete(path, where, err);
}

struct name_list {
        char **v;
        size_t n;
};

static void name_list_free(struct name_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

static int name_list_add(struct name_list *l, const char *a, const char *b)
{
        char **v = realloc(l->v, (l->n + 2) * sizeof *v);
        if (!v)
                return -ENOMEM;
        l->v = v;
        v[l->n] = strdup(a);
        v[l->n + 1] = b ? strdup(b) : NULL;
        if (!v[l->n] || (b && !v[l->n + 1])) {
                free(v[l->n]);
                free(v[l->n + 1]);
                return -ENOMEM;
        }
        l->n += 2;
        return 0;
}

int knet_netns_list(struct knet *k, int (*cb)(const char *name, void *ud), void *ud, struct err *err)
{
        struct name_list l = { 0 };
        struct dirent *de;
        DIR *d = opendir(k->dir);
        int r = 0;

        if (!d)
                return err_set(err, errno, NULL, "list netns directory '%s': %s", k->dir, strerror(errno));
        /* collect first: callbacks may delete entries */
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
                    (r = name_list_add(&l, de->d_name, NULL)) < 0)
                        break;
        (void) closedir(d);
        if (r < 0) {
                name_list_free(&l);
                return err_set(err, -r, NULL, "list netns directory '%s': %s", k->dir, strerror(-r));
        }
        for (size_t i = 0; i < l.n && r >= 0; i += 2)
                r = cb(l.v[i], ud);
        name_list_free(&l);
        return r < 0 ? r : 0;
}

/* ---- links ---- */

static void link_list_reset(void *ud)
{
        name_list_free(ud);
}

static int link_list_cb(const struct rt_link *lk, void *ud)
{
        return name_list_add(ud, lk->name, lk->kind);
}

int knet_link_list(struct knet *k, const char *netns, int (*cb)(const char *ifname, const char *kind, void *ud), void *ud,
                   struct err *err)
{
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct name_list l = { 0 };
        struct nlc *n;
        int r;

        if ((r = knet_sock_for(k, netns, NETLINK_ROUTE, &n, &tmp, err)) < 0)
                return r;
        /* collect the whole dump first: callbacks may delete links on this same socket */
        r = rt_link_dump(n, link_list_cb, link_list_reset, &l, err);
        if (r == -ENOMEM)
                err_set(err, ENOMEM, NULL, "list links in %s: %s", nlc_where(n), strerror(ENOMEM));
        for (size_t i = 0; r >= 0 && i < l.n; i += 2)
                r = cb(l.v[i], l.v[i + 1] ? l.v[i + 1] : "", ud);
        name_list_free(&l);
        return r < 0 ? r : 0;
}

int knet_link_delete(struct knet *k, const char *netns, const char *ifname, struct err *err)
{
        _cleanup_nlc_ struct nlc *tmp = NULL;
        struct nlc_batch b;
        struct nlc *n;
        int r;

        if ((r = knet_check_ifname("link", ifname, err)) < 0)
                return r;
        if ((r = knet_sock_for(k, netns, NETLINK_ROUTE, &n, &tmp, err)) < 0)
                return r;
        knet_ifindex_forget_in(k, netns, ifname);
        nlc_batch_init(&b, n, 0);
        rt_put_link_del(&b, ifname);
        return nlc_batch_run(&b, err);
}
