/* etcfiles.c: the text of a container's /etc/resolv.conf and /etc/hosts per network mode (ECS agent and
 * Docker shapes, docs/taskdns.md); pure, the monitor writes and bind-mounts the result (container.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "etcfiles.h"

/* Docker's defaults when a bridge container would be left without a server (libnetwork resolvconf). */
static const char *const docker_default_servers[] = { "8.8.8.8", "8.8.4.4", NULL };

/* Docker's default /etc/hosts (libnetwork etchosts). */
static const char docker_default_hosts[] = "127.0.0.1\tlocalhost\n"
                                           "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                           "fe00::0\tip6-localnet\n"
                                           "ff00::0\tip6-mcastprefix\n"
                                           "ff02::1\tip6-allnodes\n"
                                           "ff02::2\tip6-allrouters\n";

static void strv_free(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static size_t strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

static int strv_push(char ***v, const char *s, size_t n)
{
        size_t len = strv_len(*v);
        char **nv = realloc(*v, (len + 2) * sizeof(char *));
        if (!nv)
                return -ENOMEM;
        *v = nv;
        if (!(nv[len] = strndup(s, n)))
                return -ENOMEM;
        nv[len + 1] = NULL;
        return 0;
}

/* The words of line after the keyword, into *v (replacing it when replace). */
static int words(const char *p, const char *end, char ***v, bool replace)
{
        int r;
        if (replace) {
                strv_free(*v);
                *v = NULL;
        }
        while (p < end) {
                const char *w;
                while (p < end && (*p == ' ' || *p == '\t'))
                        p++;
                if (p >= end || *p == '#' || *p == ';')
                        break;
                w = p;
                while (p < end && *p != ' ' && *p != '\t')
                        p++;
                if ((r = strv_push(v, w, (size_t) (p - w))) < 0)
                        return r;
        }
        return 0;
}

static bool keyword(const char **p, const char *end, const char *kw)
{
        size_t n = strlen(kw);
        if ((size_t) (end - *p) <= n || strncmp(*p, kw, n) != 0 || ((*p)[n] != ' ' && (*p)[n] != '\t'))
                return false;
        *p += n;
        return true;
}

/* Never NULL lists: an empty one is a lone NULL. */
static int ensure(char ***v)
{
        if (!*v && !(*v = calloc(1, sizeof(char *))))
                return -ENOMEM;
        return 0;
}

int resolv_conf_parse(const char *text, struct resolv_conf *ret)
{
        struct resolv_conf rc = { 0 };
        const char *p = text ? text : "";
        int r = 0;

        while (*p && r == 0) {
                const char *end = strchrnul(p, '\n'), *l = p;
                if (keyword(&l, end, "nameserver")) {
                        char **one = NULL;
                        r = words(l, end, &one, false);
                        if (r == 0 && one && one[0])
                                r = strv_push(&rc.servers, one[0], strlen(one[0]));
                        strv_free(one);
                } else if (keyword(&l, end, "search") || keyword(&l, end, "domain"))
                        r = words(l, end, &rc.search, true);
                else if (keyword(&l, end, "options"))
                        r = words(l, end, &rc.options, false);
                p = *end ? end + 1 : end;
        }
        if (r == 0)
                r = ensure(&rc.servers);
        if (r == 0)
                r = ensure(&rc.search);
        if (r == 0)
                r = ensure(&rc.options);
        if (r < 0) {
                resolv_conf_done(&rc);
                return r;
        }
        *ret = rc;
        return 0;
}

void resolv_conf_done(struct resolv_conf *r)
{
        strv_free(r->servers);
        strv_free(r->search);
        strv_free(r->options);
        *r = (struct resolv_conf) { 0 };
}

bool resolv_is_loopback(const char *s)
{
        return strncmp(s, "127.", 4) == 0 || strcmp(s, "::1") == 0;
}

/* Close a memstream; its buffer (valid only after fclose) or NULL when a write failed. */
static char *stream_done(FILE *f, char **buf)
{
        bool ok = !ferror(f);
        if (fclose(f) != 0)
                ok = false;
        if (!ok) {
                free(*buf);
                *buf = NULL;
        }
        return *buf;
}

static void put_list(FILE *f, const char *kw, const char *const *v)
{
        if (!v || !v[0])
                return;
        fputs(kw, f);
        for (; *v; v++)
                fprintf(f, " %s", *v);
        fputc('\n', f);
}

char *resolv_conf_format(const char *const *servers, const char *const *search, const char *const *options)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        for (const char *const *s = servers; s && *s; s++)
                fprintf(f, "nameserver %s\n", *s);
        put_list(f, "search", search);
        put_list(f, "options", options);
        return stream_done(f, &buf);
}

static bool has_any(char *const *v)
{
        return v && v[0];
}

/* The host's resolver list as Docker copies it: loopback servers are unreachable from another netns
 * (drop_loopback), and a host behind systemd-resolved's stub names its upstreams in the second file. */
static int host_resolv(const struct etc_host_files *host, bool drop_loopback, struct resolv_conf *ret)
{
        struct resolv_conf rc;
        size_t n = 0;
        int r = resolv_conf_parse(host ? host->resolv : NULL, &rc);
        if (r < 0)
                return r;
        if (drop_loopback) {
                for (size_t i = 0; rc.servers[i]; i++) {
                        if (resolv_is_loopback(rc.servers[i]))
                                free(rc.servers[i]);
                        else
                                rc.servers[n++] = rc.servers[i];
                }
                rc.servers[n] = NULL;
                if (n == 0 && host && host->resolv_upstream) {
                        struct resolv_conf up;
                        if ((r = resolv_conf_parse(host->resolv_upstream, &up)) < 0) {
                                resolv_conf_done(&rc);
                                return r;
                        }
                        for (size_t i = 0; up.servers[i] && r == 0; i++)
                                if (!resolv_is_loopback(up.servers[i]))
                                        r = strv_push(&rc.servers, up.servers[i], strlen(up.servers[i]));
                        resolv_conf_done(&up);
                }
                if (!has_any(rc.servers))
                        for (const char *const *d = docker_default_servers; r == 0 && *d; d++)
                                r = strv_push(&rc.servers, *d, strlen(*d));
                if (r == 0)
                        r = ensure(&rc.servers);
                if (r < 0) {
                        resolv_conf_done(&rc);
                        return r;
                }
        }
        *ret = rc;
        return 0;
}

/* The container's dnsServers and dnsSearchDomains replace the copied parts; options stay (Docker). */
static char *resolv_docker(const struct container_spec *cs, const struct etc_host_files *host, bool drop_loopback)
{
        struct resolv_conf rc;
        char *out;
        if (host_resolv(host, drop_loopback, &rc) < 0)
                return NULL;
        out = resolv_conf_format((const char *const *) (has_any(cs->dns_servers) ? cs->dns_servers : rc.servers),
                                 (const char *const *) (has_any(cs->dns_search) ? cs->dns_search : rc.search),
                                 (const char *const *) rc.options);
        resolv_conf_done(&rc);
        return out;
}

static char *hosts_docker(const struct container_spec *cs, const char *base, const char *ip, const char *hostname)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        fputs(base, f);
        if (*base && base[strlen(base) - 1] != '\n')
                fputc('\n', f);
        for (size_t i = 0; i < cs->n_extra_hosts; i++)
                fprintf(f, "%s\t%s\n", cs->extra_hosts[i].ip, cs->extra_hosts[i].host);
        /* links: a bridge task's containers share its one namespace, so a linked container is at the
         * task's own address (Docker writes "IP alias name" for each link) */
        for (char **l = cs->links; ip && *ip && l && *l; l++) {
                const char *colon = strchr(*l, ':');
                if (colon && colon[1])
                        fprintf(f, "%s\t%s %.*s\n", ip, colon + 1, (int) (colon - *l), *l);
                else
                        fprintf(f, "%s\t%.*s\n", ip, colon ? (int) (colon - *l) : (int) strlen(*l), *l);
        }
        if (ip && *ip && hostname && *hostname)
                fprintf(f, "%s\t%s\n", ip, hostname);
        return stream_done(f, &buf);
}

/* Fargate's files (agent netlib/platform/common_linux.go): no header, no options. */
static int build_awsvpc(const struct task_spec *ts, struct etc_files *f)
{
        const char *name = ts->private_dns_name ? ts->private_dns_name : ts->hostname;
        if (!(f->resolv = resolv_conf_format((const char *const *) ts->dns_servers, (const char *const *) ts->dns_search, NULL)))
                return -ENOMEM;
        if (ts->private_ip && name) {
                if (asprintf(&f->hosts, "127.0.0.1 localhost\n%s %s\n", ts->private_ip, name) < 0)
                        f->hosts = NULL;
        } else
                f->hosts = strdup("127.0.0.1 localhost\n");
        return f->hosts ? 0 : -ENOMEM;
}

int etc_files_build(const struct task_spec *ts, const struct container_spec *cs, const char *hostname,
                    const struct etc_host_files *host, struct etc_files *ret)
{
        struct etc_files f = { 0 };
        const char *mode = ts->network_mode;
        int r = 0;

        if (!mode) {
                *ret = f;
                return 0;
        }
        if (strcmp(mode, "awsvpc") == 0 && has_any(ts->dns_servers)) {
                r = build_awsvpc(ts, &f);
        } else if (strcmp(mode, "host") == 0) {
                bool custom = has_any(cs->dns_servers) || has_any(cs->dns_search);
                if (custom || cs->lowerdirs)
                        r = (f.resolv = resolv_docker(cs, host, false)) ? 0 : -ENOMEM;
                if (r == 0 && (cs->n_extra_hosts || cs->lowerdirs))
                        r = (f.hosts = hosts_docker(cs, host && host->hosts ? host->hosts : docker_default_hosts, NULL, NULL))
                                    ? 0 : -ENOMEM;
        } else if (strcmp(mode, "bridge") == 0 && has_any(ts->dns_servers)) {
                /* a bridge task on a container instance: Docker copies the instance's resolv.conf, which names
                 * the instance VPC's resolver (ts->dns_servers); dnsServers/dnsSearchDomains replace its parts */
                r = (f.resolv = resolv_conf_format((const char *const *) (has_any(cs->dns_servers) ? cs->dns_servers : ts->dns_servers),
                                                   (const char *const *) (has_any(cs->dns_search) ? cs->dns_search : ts->dns_search),
                                                   NULL)) ? 0 : -ENOMEM;
                if (r == 0)
                        r = (f.hosts = hosts_docker(cs, docker_default_hosts, ts->private_ip, hostname)) ? 0 : -ENOMEM;
        } else {
                /* bridge without an instance VPC, none, and an awsvpc task whose network answer named no servers */
                bool own_ip = strcmp(mode, "none") != 0;
                r = (f.resolv = resolv_docker(cs, host, true)) ? 0 : -ENOMEM;
                if (r == 0)
                        r = (f.hosts = hosts_docker(cs, docker_default_hosts, own_ip ? ts->private_ip : NULL, hostname))
                                    ? 0 : -ENOMEM;
        }
        if (r < 0) {
                etc_files_done(&f);
                return r;
        }
        *ret = f;
        return 0;
}

void etc_files_done(struct etc_files *f)
{
        free(f->resolv);
        free(f->hosts);
        *f = (struct etc_files) { 0 };
}
