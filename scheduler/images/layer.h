/* layer.h: one layer blob (tar, gzip or zstd) unpacked into root/layers/<diff id hex>, safely, with its
 * whiteouts turned into what overlayfs expects of a lowerdir. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "blob.h"
#include "ecsbox/err.h"

/* Sanity limits: one entry of a layer, and the whole uncompressed stream (a decompression bomb stops
 * here instead of at a full disk). */
#define LAYER_ENTRY_MAX (64ULL << 30)
#define LAYER_STREAM_MAX (256ULL << 30)

/* Create root/layers and root/layers/.tmp; remove what a crash left in .tmp (unfinished unpacks). */
int layer_store_init(const char *root, struct err *err);

/* root/layers/<hex>; NULL on a bad diff id or ENOMEM. */
char *layer_path(const char *root, const char *diff_id);
bool layer_exists(const char *root, const char *diff_id);

/* Unpack the layer read from fd (any compression libarchive detects; fd is read to its end, not
 * closed) into root/layers/<diff id>. expected_diff_id (may be NULL when unknown) is the config's
 * rootfs.diff_ids entry: the sha256 of the uncompressed tar must equal it (else IMAGES_E_LAYER "diff
 * id mismatch"), and an unpack of a diff id already there returns at once; two unpacks of the same
 * diff id serialise on a lock (flock, as blob_writer_open does). ret_diff_id (may be NULL) receives
 * the diff id. Refused with IMAGES_E_LAYER, nothing left under layers/: absolute paths, ".."
 * components, entries written through a symlink, hard links leaving the layer, character and block
 * devices, sockets, entries over LAYER_ENTRY_MAX. */
int layer_unpack(const char *root, int fd, const char *expected_diff_id, char ret_diff_id[BLOB_DIGEST_MAX], struct err *err);

/* Remove root/layers/<diff id>; a missing one is success. 0 or -errno. */
int layer_remove(const char *root, const char *diff_id);
