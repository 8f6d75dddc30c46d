/* manifest.h: image manifests and indexes (Docker v2 schema 2, manifest lists, OCI manifests and
 * indexes) parsed with jansson, and the choice of this host's platform in an index. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "ecsbox/err.h"

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_OCI_LAYER_NONDIST_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

/* The Accept header a registry client sends: every manifest kind above but schema 1. */
#define MANIFEST_ACCEPT MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST

/* Larger manifests are refused before they are read (containerd allows 4 MiB too). */
#define MANIFEST_MAX_BYTES (4u << 20)
#define MANIFEST_MAX_LAYERS 256        /* a Docker image has at most 127 layers; OCI sets no limit */

enum layer_compression { LAYER_TAR, LAYER_GZIP, LAYER_ZSTD };

struct platform {
        char os[32];            /* "linux" */
        char arch[32];          /* GOARCH: "amd64", "arm64", ... */
        char variant[16];       /* "v8", "" */
};

struct descriptor {
        char *media_type;
        char digest[BLOB_DIGEST_MAX];
        int64_t size;
        struct platform platform;       /* index entries only; "" when absent */
        enum layer_compression compression;     /* layers only */
};

enum manifest_kind { MANIFEST_IMAGE, MANIFEST_INDEX };

struct manifest {
        enum manifest_kind kind;
        char *media_type;               /* what the document says, or what it was served as */
        struct descriptor config;       /* MANIFEST_IMAGE */
        struct descriptor *layers;
        size_t n_layers;
        struct descriptor *manifests;   /* MANIFEST_INDEX */
        size_t n_manifests;
};

/* Parse a manifest or index. content_type (may be NULL) is the registry's Content-Type, used when
 * the document has no mediaType. Refuses schema 1, unknown media types, unknown layer types, bad
 * digests, negative sizes, more than MANIFEST_MAX_LAYERS layers; code "InvalidManifest". */
int manifest_parse(const char *buf, size_t len, const char *content_type, struct manifest **ret, struct err *err);
struct manifest *manifest_free(struct manifest *m);

/* This host's platform: linux and uname's machine as GOARCH (x86_64 -> amd64, aarch64 -> arm64/v8). */
void platform_host(struct platform *ret);
/* The index entry for p: os and arch equal, the variant equal when both give one (else the first
 * with no variant, else the first); NULL when none matches. Attestation manifests
 * (platform unknown/unknown) never match. */
const struct descriptor *manifest_select(const struct manifest *index, const struct platform *p);
/* "linux/amd64", "linux/arm64/v8" */
void platform_format(const struct platform *p, char *buf, size_t size);
