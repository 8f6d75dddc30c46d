/* fuzz_sched_images.c: libFuzzer target for what a registry or a task definition hands the image code:
 * image references and manifests/indexes. The first byte chooses the parser (0: reference, 1: manifest
 * without a Content-Type, 2: manifest served as an OCI manifest, 3: as a Docker manifest list); the
 * rest is the input. Invariants: an accepted reference is canonical (it parses back to itself), an
 * accepted manifest has valid digests, non-negative sizes and at most MANIFEST_MAX_LAYERS entries, a
 * refused input always carries a code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scheduler/images/manifest.h"
#include "../../scheduler/images/ref.h"

static void check_ref(const char *s)
{
        struct image_ref r = { 0 }, again = { 0 };
        struct err e = { 0 };

        if (image_ref_parse(s, &r, &e) < 0) {
                if (!e.code[0])
                        abort();
                image_ref_done(&r);
                return;
        }
        if (!r.registry || !r.repository || (!r.tag && !r.digest))
                abort();
        char *canon = image_ref_canonical(&r), *fam = image_ref_familiar(&r), *name = image_ref_name(&r);
        if (!canon || !fam || !name)
                abort();
        if (image_ref_parse(canon, &again, &e) < 0)
                abort();
        char *canon2 = image_ref_canonical(&again);
        if (!canon2 || strcmp(canon, canon2) != 0)
                abort();
        image_ref_done(&again);
        if (image_ref_parse(fam, &again, &e) < 0)
                abort();
        free(canon2);
        canon2 = image_ref_canonical(&again);
        if (!canon2 || strcmp(canon, canon2) != 0)
                abort();
        if (!image_ref_api_host(&r))
                abort();
        free(canon2);
        free(canon);
        free(fam);
        free(name);
        image_ref_done(&again);
        image_ref_done(&r);
}

static void check_descriptor(const struct descriptor *d)
{
        if (!image_digest_valid(d->digest) || d->size < 0)
                abort();
}

static void check_manifest(const char *buf, size_t len, const char *ct)
{
        struct manifest *m = NULL;
        struct err e = { 0 };

        if (manifest_parse(buf, len, ct, &m, &e) < 0) {
                if (!e.code[0] || m)
                        abort();
                return;
        }
        if (!m->media_type)
                abort();
        if (m->kind == MANIFEST_IMAGE) {
                check_descriptor(&m->config);
                if (m->n_layers > MANIFEST_MAX_LAYERS)
                        abort();
                for (size_t i = 0; i < m->n_layers; i++)
                        check_descriptor(&m->layers[i]);
        } else {
                if (m->n_manifests > MANIFEST_MAX_LAYERS)
                        abort();
                for (size_t i = 0; i < m->n_manifests; i++)
                        check_descriptor(&m->manifests[i]);
                struct platform p;
                platform_host(&p);
                const struct descriptor *d = manifest_select(m, &p);
                if (d && (strcmp(d->platform.os, p.os) || strcmp(d->platform.arch, p.arch)))
                        abort();
        }
        manifest_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const types[] = { NULL, MT_OCI_MANIFEST, MT_DOCKER_LIST };
        char *s;

        if (size < 1 || size > 1 << 16)
                return 0;
        s = malloc(size);
        if (!s)
                return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = '\0';
        if (data[0] % 4 == 0)
                check_ref(s);
        else
                check_manifest(s, size - 1, types[data[0] % 4 - 1]);
        free(s);
        return 0;
}
