/* manifest.c: manifests and indexes parsed and checked, and the platform choice in an index. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "manifest.h"
#include "ref.h"

#define CODE "InvalidManifest"

static void descriptor_done(struct descriptor *d)
{
        free(d->media_type);
        d->media_type = NULL;
}

struct manifest *manifest_free(struct manifest *m)
{
        if (!m)
                return NULL;
        descriptor_done(&m->config);
        for (size_t i = 0; i < m->n_layers; i++)
                descriptor_done(&m->layers[i]);
        for (size_t i = 0; i < m->n_manifests; i++)
                descriptor_done(&m->manifests[i]);
        free(m->layers);
        free(m->manifests);
        free(m->media_type);
        free(m);
        return NULL;
}

static int layer_compression(const char *mt, enum layer_compression *ret)
{
        if (!strcmp(mt, MT_DOCKER_LAYER_GZIP) || !strcmp(mt, MT_OCI_LAYER_GZIP) || !strcmp(mt, MT_OCI_LAYER_NONDIST_GZIP) ||
            !strcmp(mt, MT_DOCKER_LAYER_FOREIGN))
                *ret = LAYER_GZIP;
        else if (!strcmp(mt, MT_OCI_LAYER_ZSTD))
                *ret = LAYER_ZSTD;
        else if (!strcmp(mt, MT_OCI_LAYER))
                *ret = LAYER_TAR;
        else
                return -EINVAL;
        return 0;
}

static void copy_str(char *dst, size_t size, json_t *v)
{
        snprintf(dst, size, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* what names the descriptor in messages: "config", "layer 3", "manifest 2" */
static int descriptor_parse(json_t *j, const char *what, struct descriptor *d, struct err *err)
{
        json_t *mt = json_object_get(j, "mediaType"), *dg = json_object_get(j, "digest"), *sz = json_object_get(j, "size");
        json_t *pf = json_object_get(j, "platform");

        if (!json_is_object(j))
                return err_set(err, EINVAL, CODE, "%s is not an object", what);
        if (!json_is_string(dg) || !image_digest_valid(json_string_value(dg)))
                return err_set(err, EINVAL, CODE, "%s: digest %s is not sha256:<64 hex digits>", what,
                               json_is_string(dg) ? json_string_value(dg) : "(missing)");
        if (!json_is_integer(sz) || json_integer_value(sz) < 0)
                return err_set(err, EINVAL, CODE, "%s %s: size missing or negative", what, json_string_value(dg));
        if (mt && !json_is_string(mt))
                return err_set(err, EINVAL, CODE, "%s %s: mediaType is not a string", what, json_string_value(dg));
        snprintf(d->digest, sizeof d->digest, "%s", json_string_value(dg));
        d->size = json_integer_value(sz);
        if (mt && !(d->media_type = strdup(json_string_value(mt))))
                return -ENOMEM;
        if (json_is_object(pf)) {
                copy_str(d->platform.os, sizeof d->platform.os, json_object_get(pf, "os"));
                copy_str(d->platform.arch, sizeof d->platform.arch, json_object_get(pf, "architecture"));
                copy_str(d->platform.variant, sizeof d->platform.variant, json_object_get(pf, "variant"));
        }
        return 0;
}

static int descriptors_parse(json_t *arr, const char *what, struct descriptor **ret, size_t *ret_n, struct err *err)
{
        struct descriptor *v;
        size_t n = json_array_size(arr);
        int r;

        if (!json_is_array(arr))
                return err_set(err, EINVAL, CODE, "%ss is not a list", what);
        if (n > MANIFEST_MAX_LAYERS)
                return err_set(err, E2BIG, CODE, "%zu %ss, more than the %d allowed", n, what, MANIFEST_MAX_LAYERS);
        v = calloc(n ? n : 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        *ret = v;
        for (size_t i = 0; i < n; i++) {
                char name[32];
                snprintf(name, sizeof name, "%s %zu", what, i);
                *ret_n = i + 1;
                if ((r = descriptor_parse(json_array_get(arr, i), name, &v[i], err)) < 0)
                        return r;
        }
        *ret_n = n;
        return 0;
}

int manifest_parse(const char *buf, size_t len, const char *content_type, struct manifest **ret, struct err *err)
{
        _cleanup_(json_decrefp) json_t *j = NULL;
        json_error_t je;
        json_t *mt, *sv;
        const char *type;
        struct manifest *m;
        int r;

        if (len > MANIFEST_MAX_BYTES)
                return err_set(err, EFBIG, CODE, "manifest of %zu bytes is larger than %u", len, MANIFEST_MAX_BYTES);
        j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
        if (!j)
                return err_set(err, EINVAL, CODE, "manifest is not JSON: line %d column %d: %s", je.line, je.column, je.text);
        if (!json_is_object(j))
                return err_set(err, EINVAL, CODE, "manifest is not a JSON object");
        mt = json_object_get(j, "mediaType");
        sv = json_object_get(j, "schemaVersion");
        if (mt && !json_is_string(mt))
                return err_set(err, EINVAL, CODE, "manifest mediaType is not a string");
        if (json_is_integer(sv) && json_integer_value(sv) == 1)
                return err_set(err, ENOTSUP, CODE, "manifest is Docker schema 1 (%s), which is deprecated and not supported",
                               MT_DOCKER_SCHEMA1);
        if (!json_is_integer(sv) || json_integer_value(sv) != 2)
                return err_set(err, EINVAL, CODE, "manifest schemaVersion is not 2");
        type = mt ? json_string_value(mt) : content_type;
        /* An OCI document may leave mediaType out; then the registry's Content-Type says what it is,
         * or, when that is generic too, its shape. A mediaType the document states is taken as is. */
        if (!mt && (!type || !*type || !strncmp(type, "application/json", 16) || !strncmp(type, "text/plain", 10) ||
                    !strncmp(type, "application/octet-stream", 24)))
                type = json_object_get(j, "manifests") ? MT_OCI_INDEX : MT_OCI_MANIFEST;
        if (!(m = calloc(1, sizeof *m)))
                return -ENOMEM;
        if (!(m->media_type = strdup(type))) {
                manifest_free(m);
                return -ENOMEM;
        }
        if (!strcmp(type, MT_OCI_INDEX) || !strcmp(type, MT_DOCKER_LIST)) {
                m->kind = MANIFEST_INDEX;
                r = descriptors_parse(json_object_get(j, "manifests"), "manifest", &m->manifests, &m->n_manifests, err);
        } else if (!strcmp(type, MT_OCI_MANIFEST) || !strcmp(type, MT_DOCKER_MANIFEST)) {
                m->kind = MANIFEST_IMAGE;
                r = descriptor_parse(json_object_get(j, "config"), "config", &m->config, err);
                if (r >= 0)
                        r = descriptors_parse(json_object_get(j, "layers"), "layer", &m->layers, &m->n_layers, err);
                for (size_t i = 0; r >= 0 && i < m->n_layers; i++) {
                        const char *lt = m->layers[i].media_type;
                        if (!lt || layer_compression(lt, &m->layers[i].compression) < 0)
                                r = err_set(err, ENOTSUP, CODE, "layer %zu %s: unsupported media type '%s'", i, m->layers[i].digest,
                                            lt ?: "(missing)");
                }
        } else
                r = err_set(err, ENOTSUP, CODE, "unsupported manifest media type '%s'", type);
        if (r < 0) {
                manifest_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

void platform_host(struct platform *ret)
{
        struct utsname u;
        static const struct {
                const char *machine, *arch, *variant;
        } map[] = {
                { "x86_64", "amd64", "" },   { "aarch64", "arm64", "v8" }, { "armv7l", "arm", "v7" }, { "armv6l", "arm", "v6" },
                { "i686", "386", "" },       { "i386", "386", "" },        { "ppc64le", "ppc64le", "" }, { "s390x", "s390x", "" },
                { "riscv64", "riscv64", "" },
        };

        memset(ret, 0, sizeof *ret);
        snprintf(ret->os, sizeof ret->os, "linux");
        if (uname(&u) < 0)
                return;
        snprintf(ret->arch, sizeof ret->arch, "%s", u.machine);
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (!strcmp(u.machine, map[i].machine)) {
                        snprintf(ret->arch, sizeof ret->arch, "%s", map[i].arch);
                        snprintf(ret->variant, sizeof ret->variant, "%s", map[i].variant);
                }
}

const struct descriptor *manifest_select(const struct manifest *index, const struct platform *p)
{
        const struct descriptor *first = NULL, *novariant = NULL;

        for (size_t i = 0; i < index->n_manifests; i++) {
                const struct descriptor *d = &index->manifests[i];
                if (!strcmp(d->platform.os, "unknown") || !strcmp(d->platform.arch, "unknown"))
                        continue;       /* attestations (BuildKit) */
                if (strcmp(d->platform.os, p->os) || strcmp(d->platform.arch, p->arch))
                        continue;
                if (p->variant[0] && d->platform.variant[0] && !strcmp(d->platform.variant, p->variant))
                        return d;
                if (!d->platform.variant[0] && !novariant)
                        novariant = d;
                if (!first)
                        first = d;
        }
        return novariant ? novariant : first;
}

void platform_format(const struct platform *p, char *buf, size_t size)
{
        snprintf(buf, size, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}
