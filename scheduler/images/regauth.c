/* regauth.c: credentials for a registry host out of a Docker config.json, as the docker CLI finds them. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ref.h"
#include "regauth.h"

#define AUTH_FILE_MAX (1u << 20)

void reg_creds_done(struct reg_creds *c)
{
        if (c->pass)
                explicit_bzero(c->pass, strlen(c->pass));
        free(c->user);
        free(c->pass);
        c->user = c->pass = NULL;
}

int regauth_b64decode(const char *in, char **ret, size_t *ret_len)
{
        size_t n = strlen(in), padded, pad = 0;
        _cleanup_free_ char *src = NULL;
        unsigned char *out;
        int k;

        /* EVP_DecodeBlock wants whole quanta: add the padding some writers leave out. */
        while (n && (in[n - 1] == '\n' || in[n - 1] == ' '))
                n--;
        /* '=' only as padding at the end (EVP_DecodeBlock takes it inside too) */
        for (size_t i = 0; i < n; i++)
                if (in[i] == '=' && strspn(in + i, "=") != n - i)
                        return -EINVAL;
        padded = (n + 3) / 4 * 4;
        if (!(src = malloc(padded + 1)) || !(out = malloc(padded / 4 * 3 + 1)))
                return -ENOMEM;
        memcpy(src, in, n);
        memset(src + n, '=', padded - n);
        src[padded] = '\0';
        if (padded - n > 2 || (k = EVP_DecodeBlock(out, (const unsigned char *) src, (int) padded)) < 0) {
                free(out);
                return -EINVAL;
        }
        /* It counts the padding as zero bytes of output. */
        for (size_t i = padded; i > 0 && src[i - 1] == '='; i--)
                pad++;
        if (pad > 2 || (size_t) k < pad) {
                free(out);
                return -EINVAL;
        }
        k -= (int) pad;
        out[k] = '\0';
        *ret = (char *) out;
        if (ret_len)
                *ret_len = (size_t) k;
        return 0;
}

/* "https://host:5000/v1/" -> "host:5000" into buf */
static void key_host(const char *key, char *buf, size_t size)
{
        const char *s = strstr(key, "://");
        size_t n;

        s = s ? s + 3 : key;
        n = strcspn(s, "/");
        snprintf(buf, size, "%.*s", (int) n, s);
}

static bool is_docker_hub(const char *host)
{
        return !strcmp(host, REF_DOCKER_HUB) || !strcmp(host, "index.docker.io") || !strcmp(host, "registry-1.docker.io");
}

static int entry_creds(json_t *e, const char *key, struct reg_creds *ret, struct err *err)
{
        const char *auth = json_string_value(json_object_get(e, "auth"));
        const char *user = json_string_value(json_object_get(e, "username"));
        const char *pass = json_string_value(json_object_get(e, "password"));
        struct reg_creds c = { 0 };

        if (!json_is_object(e))
                return err_set(err, EINVAL, NULL, "auths entry '%s' is not an object", key);
        if (auth && *auth) {
                _cleanup_free_ char *dec = NULL;
                size_t len;
                char *colon;
                if (regauth_b64decode(auth, &dec, &len) < 0)
                        return err_set(err, EINVAL, NULL, "auths entry '%s': \"auth\" is not base64", key);
                colon = strchr(dec, ':');
                if (!colon || strlen(dec) != len) {
                        explicit_bzero(dec, len);
                        return err_set(err, EINVAL, NULL, "auths entry '%s': \"auth\" is not base64 of user:password", key);
                }
                c.user = strndup(dec, (size_t) (colon - dec));
                c.pass = strdup(colon + 1);
                explicit_bzero(dec, len);
        } else if (user && pass) {
                c.user = strdup(user);
                c.pass = strdup(pass);
        } else
                return 0;       /* identitytoken only, or a credential helper's entry */
        if (!c.user || !c.pass) {
                reg_creds_done(&c);
                return -ENOMEM;
        }
        *ret = c;
        return 1;
}

int regauth_lookup_buf(const char *buf, size_t len, const char *host, struct reg_creds *ret, struct err *err)
{
        static const char *const hub_keys[] = { "https://index.docker.io/v1/", "docker.io", "index.docker.io",
                                                "registry-1.docker.io" };
        _cleanup_json_ json_t *j = NULL;
        json_error_t je;
        json_t *auths, *e;
        const char *key;
        bool hub = is_docker_hub(host);

        j = json_loadb(buf, len, 0, &je);
        if (!j)
                return err_set(err, EINVAL, NULL, "not JSON: line %d column %d: %s", je.line, je.column, je.text);
        auths = json_object_get(j, "auths");
        if (!auths)
                return 0;
        if (!json_is_object(auths))
                return err_set(err, EINVAL, NULL, "\"auths\" is not an object");
        /* Exact keys first, as the docker CLI writes them; then any key naming the same host. */
        if (hub) {
                for (size_t i = 0; i < ELEMENTSOF(hub_keys); i++)
                        if ((e = json_object_get(auths, hub_keys[i])))
                                return entry_creds(e, hub_keys[i], ret, err);
        } else if ((e = json_object_get(auths, host)))
                return entry_creds(e, host, ret, err);
        json_object_foreach(auths, key, e) {
                char h[256];
                key_host(key, h, sizeof h);
                if (hub ? is_docker_hub(h) : !strcmp(h, host))
                        return entry_creds(e, key, ret, err);
        }
        return 0;
}

char *regauth_path(const char *path)
{
        const char *d = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
        char *p = NULL;

        if (path)
                return strdup(path);
        if (d && *d)
                return asprintf(&p, "%s/config.json", d) < 0 ? NULL : p;
        if (home && *home)
                return asprintf(&p, "%s/.docker/config.json", home) < 0 ? NULL : p;
        return NULL;
}

int regauth_lookup(const char *path, const char *host, struct reg_creds *ret, struct err *err)
{
        _cleanup_free_ char *file = regauth_path(path), *buf = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        size_t off = 0;
        int r;

        if (!file)
                return 0;       /* no HOME: anonymous, as docker without a config */
        fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd < 0 || fstat(fd, &st) < 0)
                return err_set(err, errno, NULL, "registry auth file '%s': %s", file, strerror(errno));
        if (st.st_size > AUTH_FILE_MAX)
                return err_set(err, EFBIG, NULL, "registry auth file '%s': larger than %u bytes", file, AUTH_FILE_MAX);
        if (!(buf = malloc((size_t) st.st_size + 1)))
                return -ENOMEM;
        while (off < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + off, (size_t) st.st_size - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return err_set(err, errno, NULL, "registry auth file '%s': read: %s", file, strerror(errno));
                if (k == 0)
                        break;
                off += (size_t) k;
        }
        r = regauth_lookup_buf(buf, off, host, ret, err);
        explicit_bzero(buf, off);
        if (r < 0)
                return err_wrap(err, "registry auth file '%s'", file);
        return r;
}
