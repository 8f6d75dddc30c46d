/* blob.h: the content-addressed blob store, an OCI image layout's blobs/sha256/<hex> under the image
 * store's root. Every write is hashed (SHA-256, libcrypto) and lands under its digest only when the
 * digest and size are right; nothing partial ever carries a digest's name. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "ecsbox/err.h"

#define BLOB_DIGEST_MAX 72      /* "sha256:" + 64 hex + NUL */

/* Error codes in err->code (the callers map them to their API's code). */
#define BLOB_E_DIGEST "DigestMismatch"
#define BLOB_E_SIZE "SizeMismatch"
#define BLOB_E_NOTFOUND "BlobNotFound"

struct blob_writer;

/* Create root/blobs/sha256 and root/blobs/.tmp; remove what a crash left in .tmp. */
int blob_store_init(const char *root, struct err *err);

bool blob_exists(const char *root, const char *digest);
/* root/blobs/sha256/<hex>; NULL on a bad digest or ENOMEM. */
char *blob_path(const char *root, const char *digest);

/* Start writing a blob. expected_digest may be NULL (the digest is learned at commit); expected_size
 * is -1 when unknown. With an expected digest, the writer holds an exclusive lock on that digest
 * (flock, so it also serialises threads and other processes) for its whole life: a second writer of
 * the same digest waits, and when the first one committed, gets *ret == NULL and 0 ("already
 * there, nothing to write"). */
int blob_writer_open(const char *root, const char *expected_digest, int64_t expected_size, struct blob_writer **ret,
                     struct err *err);
/* Fails (BLOB_E_SIZE) as soon as more than expected_size bytes arrive. */
int blob_writer_write(struct blob_writer *w, const void *buf, size_t n, struct err *err);
uint64_t blob_writer_written(const struct blob_writer *w);
/* Check size and digest, fsync, rename into place, fsync the directory; frees w either way.
 * ret_digest (may be NULL) receives the digest. */
int blob_writer_commit(struct blob_writer *w, char ret_digest[BLOB_DIGEST_MAX], struct err *err);
/* Abort: the temporary file goes; NULL-safe, returns NULL. */
struct blob_writer *blob_writer_free(struct blob_writer *w);

/* Copy a whole file or fd into the store (import). */
int blob_put_fd(const char *root, int fd, const char *expected_digest, int64_t expected_size, char ret_digest[BLOB_DIGEST_MAX],
                struct err *err);
int blob_put_buf(const char *root, const void *buf, size_t len, const char *expected_digest, char ret_digest[BLOB_DIGEST_MAX],
                 struct err *err);

/* O_RDONLY|O_CLOEXEC fd of a blob; -ENOENT with BLOB_E_NOTFOUND. */
int blob_open(const char *root, const char *digest, struct err *err);
/* Read a small blob (manifest, config) whole, refusing more than max bytes, and verify its digest
 * again (a store corrupted on disk is refused, not used). *ret_buf is NUL-terminated. */
int blob_read(const char *root, const char *digest, size_t max, char **ret_buf, size_t *ret_len, struct err *err);
int blob_remove(const char *root, const char *digest);

/* "sha256:<hex>" of a buffer. */
void blob_digest_buf(const void *buf, size_t len, char ret[BLOB_DIGEST_MAX]);
