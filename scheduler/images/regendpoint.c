/* regendpoint.c: mirrors first, then the registry itself (HTTPS; for an insecure one also HTTP). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regendpoint.h"

bool reg_insecure(const struct registry_config *cfg, const char *host)
{
        for (const char *const *i = cfg->insecure; i && *i; i++)
                if (!strcmp(*i, host))
                        return true;
        return false;
}

void reg_endpoints_free(struct reg_endpoint *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].base);
                free(v[i].host);
        }
        free(v);
}

static int add(struct reg_endpoint **v, size_t *n, const char *scheme, const char *hostpath, size_t hostpath_len,
               bool mirror, bool verify)
{
        struct reg_endpoint *nv = realloc(*v, (*n + 1) * sizeof **v), *e;
        size_t hl = strcspn(hostpath, "/");

        if (!nv)
                return -ENOMEM;
        *v = nv;
        e = &nv[*n];
        memset(e, 0, sizeof *e);
        while (hostpath_len > 0 && hostpath[hostpath_len - 1] == '/')
                hostpath_len--;
        if (hl > hostpath_len)
                hl = hostpath_len;
        if (asprintf(&e->base, "%s://%.*s", scheme, (int) hostpath_len, hostpath) < 0) {
                e->base = NULL;
                return -ENOMEM;
        }
        if (!(e->host = strndup(hostpath, hl))) {
                free(e->base);
                return -ENOMEM;
        }
        e->mirror = mirror;
        e->verify_tls = verify;
        (*n)++;
        return 0;
}

static int add_mirror(const struct registry_config *cfg, const char *url, struct reg_endpoint **v, size_t *n,
                      struct err *err)
{
        const char *scheme = NULL, *rest;
        size_t hl;

        if (!strncmp(url, "https://", 8))
                scheme = "https";
        else if (!strncmp(url, "http://", 7))
                scheme = "http";
        rest = scheme ? strstr(url, "://") + 3 : NULL;
        hl = rest ? strcspn(rest, "/") : 0;
        if (!scheme || hl == 0 || strpbrk(url, " \t\r\n?#@"))
                return err_set(err, EINVAL, "InvalidParameterException",
                               "registry mirror '%s': not http(s)://host[:port][/path]", url);
        {
                char host[256];
                snprintf(host, sizeof host, "%.*s", (int) hl, rest);
                /* An https mirror is verified unless its host is an insecure registry, as in dockerd. */
                return add(v, n, scheme, rest, strlen(rest), true, !strcmp(scheme, "https") && !reg_insecure(cfg, host));
        }
}

int reg_endpoints_build(const struct registry_config *cfg, const struct image_ref *ref, struct reg_endpoint **ret,
                        size_t *ret_n, struct err *err)
{
        const char *api = image_ref_api_host(ref);
        struct reg_endpoint *v = NULL;
        size_t n = 0;
        bool insecure = reg_insecure(cfg, ref->registry) || reg_insecure(cfg, api);
        int r = 0;

        for (size_t i = 0; i < cfg->n_mirrors && r >= 0; i++) {
                const struct registry_mirror *m = &cfg->mirrors[i];
                if (strcmp(m->registry, ref->registry) != 0)
                        continue;
                for (const char *const *u = m->endpoints; u && *u && r >= 0; u++)
                        r = add_mirror(cfg, *u, &v, &n, err);
        }
        if (r >= 0)
                r = add(&v, &n, "https", api, strlen(api), false, !insecure);
        if (r >= 0 && insecure)
                r = add(&v, &n, "http", api, strlen(api), false, false);
        if (r < 0) {
                reg_endpoints_free(v, n);
                return r;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}
