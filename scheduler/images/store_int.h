/* store_int.h: what store.c (records, pulls, leases, prune) and import.c (archives) share. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "blob.h"
#include "ecsbox/err.h"
#include "images.h"

struct pull;

struct images {
        char *root;                     /* realpath of STATE_DIR/images: libarchive gets absolute paths below it */
        struct registry_config reg;     /* the caller's, shallow: its strings outlive the store */
        enum pull_policy policy;
        pthread_mutex_t mu;             /* doc and pulls */
        pthread_cond_t cv;              /* a pull finished */
        /* Pulls and imports hold it shared while they add blobs and layers that no record names yet;
         * prune holds it exclusively, so it never deletes what one of them just wrote. */
        pthread_rwlock_t gc;
        json_t *doc;                    /* images.json: {"images": [record...]} */
        struct pull *pulls;             /* in flight, by canonical name */
};

struct layer_ref {
        char digest[BLOB_DIGEST_MAX];
        int64_t size;
};

/* A pull's progress carried on through the unpacking: each layer fetched goes extracting, then done. */
struct unpack_watch {
        registry_progress_fn fn;        /* may be NULL */
        void *userdata;
        struct registry_progress *prog; /* the pull's last progress, updated here */
};

/* A record from a configuration blob and layer blobs already in the blob store: the configuration
 * parsed, every layer unpacked and checked against its diff id. names (may be NULL) are canonical.
 * watch (NULL for imports) hears of each layer's extraction. */
int images_build_record(struct images *im, const char *config_digest, const struct layer_ref *layers, size_t n,
                        const char *manifest_digest, const char *repo_digest, const struct unpack_watch *watch, json_t **ret,
                        struct err *err);
/* Add or update records (each with its "names"), a name moving from any other image to it, and
 * write images.json; takes im->mu. */
int images_commit(struct images *im, json_t *recs, struct err *err);
/* Set a record's names from canonical names (replacing those it had). */
int record_set_names(json_t *rec, const char *const *names);
