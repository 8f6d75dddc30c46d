/* images.h: the image store under STATE_DIR/images, as ecsboxd and the CLI see it.
 *
 *   images/blobs/sha256/<hex>        content-addressed blobs (blob.h): manifests, configs, layers
 *   images/layers/<diffid hex>/      each layer unpacked once (layer.h), shared read-only by every
 *                                    container whose image has it (overlayfs lowerdir)
 *   images/layers/.tmp/              unpacking in progress; emptied at open (a crash leaves nothing used)
 *   images/images.json               name -> image records (written atomically: tmp + rename)
 *   images/leases/<task id>          the image ids a task's containers use (kept until the task is gone)
 *
 * An image is known by its id, the digest of its configuration blob ("sha256:..."), as Docker's image
 * ID; names ("docker.io/library/nginx:latest") point at ids. All functions are thread-safe (one mutex
 * for the records; long work, fetching and unpacking, runs outside it), so pulls may run in worker
 * threads while the event loop reads the records. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "ecsbox/err.h"
#include "registry.h"

#define IMAGES_E_NOTFOUND "ImageNotFound"       /* no image of that name or id in the store */
#define IMAGES_E_INUSE "ImageInUse"             /* rm of an image a task's lease holds */
#define IMAGES_E_ARCHIVE "InvalidImageArchive"  /* import: not a docker-save archive or OCI layout */
#define IMAGES_E_LAYER "InvalidLayer"           /* a layer refused while unpacking (traversal, device, ...) */

/* ECS_IMAGE_PULL_BEHAVIOR, as the ECS agent reads it. */
enum pull_policy {
        PULL_DEFAULT,           /* pull when missing; for ":latest" also when not pulled in the last LATEST_FRESH_S */
        PULL_ALWAYS,            /* always pull; a failure fails the task */
        PULL_ONCE,              /* pull only when missing */
        PULL_PREFER_CACHED,     /* use the cached image when there is one, else pull */
};
#define IMAGES_LATEST_FRESH_S 300

struct image_config {
        char **entrypoint;      /* NULL-terminated, or NULL when the image sets none */
        char **cmd;
        char **env;             /* "K=V" */
        char *working_dir;      /* or NULL */
        char *user;             /* or NULL */
        char **exposed_ports;   /* "80/tcp" */
        char *stop_signal;      /* "SIGQUIT", or NULL */
        char *os, *architecture;
};

struct image_info {
        char id[BLOB_DIGEST_MAX];               /* config digest */
        char manifest_digest[BLOB_DIGEST_MAX];
        char repo_digest[BLOB_DIGEST_MAX];      /* what the name resolved to at the registry, or "" (imported) */
        char **names;                           /* NULL-terminated canonical names pointing at it */
        uint64_t size;                          /* sum of its layers' compressed sizes, as docker images shows */
        double created;                         /* the config's "created", epoch seconds, 0 when absent */
        double pulled_at;                       /* when it was last pulled or imported */
        size_t n_layers;
        char (*diff_ids)[BLOB_DIGEST_MAX];      /* bottom layer first */
        struct image_config config;
};

struct images;

struct images_options {
        const char *root;                       /* STATE_DIR/images */
        struct registry_config registry;        /* mirrors, insecure registries, auth file; kept by reference:
                                                 * what it points to must outlive the store */
        enum pull_policy policy;                /* the daemon's choice, for callers to pass to images_ensure */
};

/* Open (create) the store; remove what a crash left: blobs/.tmp and layers/.tmp (nothing there carries
 * a digest's name), unfinished images.json and lease writes. Complete blobs and layers that no record
 * names (a pull killed before its record) wait for images_prune. */
int images_open(const struct images_options *o, struct images **ret, struct err *err);
struct images *images_close(struct images *im);

/* Make name (as a task definition writes it) available and return its record, per policy:
 * pulls when needed (registry_pull, then every layer unpacked), else the cached record.
 * Two callers pulling the same name at once share one pull; a layer wanted by several pulls is
 * fetched and unpacked once. ret_pulled tells whether the registry was contacted.
 * Errors: the REG_E_ and BLOB_E_ codes, IMAGES_E_LAYER; the message names the image. */
int images_ensure(struct images *im, const char *name, enum pull_policy policy, registry_progress_fn progress,
                  void *userdata, struct image_info **ret, bool *ret_pulled, struct err *err);
/* The same with credentials for the image's registry (user non-NULL; a container's repositoryCredentials)
 * instead of the auth file's. A pull of the same name already running is shared, whatever its credentials. */
int images_ensure_auth(struct images *im, const char *name, enum pull_policy policy, const char *user, const char *pass,
                       registry_progress_fn progress, void *userdata, struct image_info **ret, bool *ret_pulled, struct err *err);

/* Import a docker-save archive (the manifest.json layout, or the OCI layout Docker 25 writes) or an
 * OCI image layout (a directory or a tar of one). name overrides or adds the name (for an archive
 * whose manifest names none). ret_ids (may be NULL) receives the ids imported, NULL-terminated. */
int images_import(struct images *im, const char *path, const char *name, char ***ret_ids, struct err *err);

/* A name, a familiar name ("nginx"), an id or a unique id prefix (12+ hex). */
int images_get(struct images *im, const char *name_or_id, struct image_info **ret, struct err *err);
/* Every image, newest first. */
int images_list(struct images *im, struct image_info ***ret, size_t *ret_n, struct err *err);
/* Remove a name; the image goes when no name is left and no lease holds it (force: names go even when
 * leased, the image stays until the lease ends). */
int images_remove(struct images *im, const char *name_or_id, bool force, struct err *err);
/* Remove images without a name and not leased, then blobs and layers nothing refers to.
 * all: also named images no lease holds. ret_freed: bytes freed. */
int images_prune(struct images *im, bool all, uint64_t *ret_freed, struct err *err);

/* The lowerdirs of an image for overlayfs, top layer first (overlayfs order), NULL-terminated:
 * absolute paths under root/layers. */
int images_lowerdirs(struct images *im, const char *id, char ***ret, struct err *err);
/* A task's containers use these image ids until images_lease_drop (kept on disk across restarts). */
int images_lease(struct images *im, const char *task_id, const char *const *ids, struct err *err);
int images_lease_drop(struct images *im, const char *task_id);

struct image_info *image_info_free(struct image_info *i);
void image_infos_free(struct image_info **v, size_t n);
