/* registry.h: pulling an image from a registry with the OCI distribution protocol (libcurl): the
 * manifest (an index resolved to this host's platform), the configuration and every layer, each
 * verified against its digest and stored in the blob store (blob.h). Authentication as docker,
 * podman and skopeo do it: anonymous bearer tokens from the WWW-Authenticate challenge, basic
 * credentials from a Docker config.json ("auths"), which are also sent to the token realm. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "ecsbox/err.h"
#include "ref.h"

/* Error codes in err->code: what the ECS task's stoppedReason carries after
 * "CannotPullContainerError: ". */
#define REG_E_NOTFOUND "ManifestNotFound"       /* 404 on the manifest: repository or tag unknown */
#define REG_E_DENIED "AccessDenied"             /* 401/403 after authenticating */
#define REG_E_PLATFORM "NoMatchingPlatform"     /* an index without this host's platform */
#define REG_E_UNREACHABLE "RegistryUnreachable" /* DNS, connect, TLS or timeout, on every endpoint */
#define REG_E_PROTOCOL "RegistryProtocolError"  /* an answer the protocol does not allow */

/* A registry's mirrors ("docker.io" -> {"http://127.0.0.1:5000", NULL}), tried in order before the
 * registry itself, as registries.conf and Docker's registry-mirrors do. */
struct registry_mirror {
        const char *registry;
        const char *const *endpoints;   /* URLs (scheme://host[:port]), NULL-terminated */
};

struct registry_config {
        const struct registry_mirror *mirrors;
        size_t n_mirrors;
        /* Registries spoken to over plain HTTP, or HTTPS without verifying the certificate
         * ("127.0.0.1:5000"); NULL-terminated, or NULL. localhost and 127.0.0.0/8 are not implied. */
        const char *const *insecure;
        const char *auth_file;          /* a Docker config.json; NULL: $DOCKER_CONFIG/config.json, else ~/.docker/config.json */
        /* Credentials for the registry itself (a container's repositoryCredentials), used instead of the
         * auth file's (never sent to a mirror); NULL: the auth file. */
        const char *user, *pass;
        const char *ca_file;            /* extra CA bundle for TLS, or NULL: the system's */
        long timeout_s;                 /* per request without progress; 0 = 60 */
};

/* A layer's state in a pull, as docker pull shows it: waiting ("Waiting"), downloading, verifying
 * ("Verifying Checksum"), downloaded ("Download complete": registry_pull is done with it), extracting and
 * done ("Pull complete": set by the image store, which unpacks after the pull), exists ("Already exists":
 * the blob was in the store, nothing fetched). */
enum registry_layer_state {
        REG_LAYER_WAITING,
        REG_LAYER_DOWNLOADING,
        REG_LAYER_VERIFYING,
        REG_LAYER_DOWNLOADED,
        REG_LAYER_EXTRACTING,
        REG_LAYER_DONE,
        REG_LAYER_EXISTS,
};
/* "waiting", "downloading", ... (the images service's and the CLI's names). */
const char *registry_layer_state_name(enum registry_layer_state s);

#define REGISTRY_MAX_LAYERS 256         /* = MANIFEST_MAX_LAYERS */

struct registry_layer_progress {
        char digest[BLOB_DIGEST_MAX];
        uint64_t size;                  /* the manifest's */
        uint64_t bytes_done;            /* fetched (size once downloaded, or when it exists) */
        enum registry_layer_state state;
};

struct registry_progress {
        uint64_t bytes_done;            /* of the blobs fetched so far, this pull */
        uint64_t bytes_total;           /* of every blob the manifest names (known once it is read) */
        unsigned layers_done, layers_total;
        /* the image manifest's layers in its order (bottom first); n_layers = layers_total once known */
        struct registry_layer_progress layers[REGISTRY_MAX_LAYERS];
        size_t n_layers;
};

/* Called from the pulling thread now and then (and on every layer state change); returning non-zero
 * cancels the pull (ECANCELED). */
typedef int (*registry_progress_fn)(const struct registry_progress *p, void *userdata);

struct registry_pull_result {
        char manifest_digest[BLOB_DIGEST_MAX];  /* the image manifest's (the platform's, for an index) */
        char index_digest[BLOB_DIGEST_MAX];     /* the index's, or "" */
        char repo_digest[BLOB_DIGEST_MAX];      /* what the tag resolved to (index or manifest), Docker's RepoDigest */
};

/* Pull ref into the blob store at blob_root: blobs already there are not fetched again; every blob
 * fetched is verified (size and sha256) before it carries its digest's name. Thread-safe: may run in
 * several threads at once; two pulls of the same blob serialise on the blob's lock (blob_writer_open).
 * Errors: one of the REG_E_* codes or a BLOB_E_* code, a message naming the image and the cause. */
int registry_pull(const struct registry_config *cfg, const struct image_ref *ref, const char *blob_root,
                  registry_progress_fn progress, void *userdata, struct registry_pull_result *ret, struct err *err);

/* Only the digest a tag resolves to now (a HEAD of the manifest), for pull policies that re-check. */
int registry_resolve(const struct registry_config *cfg, const struct image_ref *ref, char ret_digest[BLOB_DIGEST_MAX],
                     struct err *err);
