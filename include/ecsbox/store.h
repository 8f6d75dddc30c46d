/* store.h: durable key/value state (JSON documents) on SQLite in WAL mode.
 * A small interface (get, put, delete, list by prefix, transaction) so that a
 * distributed store could replace SQLite later. Keys are paths: "vpc/vpc-0abc". */
#pragma once

#include <jansson.h>

#include "ecsbox/err.h"

struct store;

int store_open(const char *path, struct store **ret, struct err *err);
struct store *store_close(struct store *s);

/* Transactions nest by counting: only the outermost begin/commit touch SQLite.
 * store_rollback() aborts the whole outermost transaction. */
int store_begin(struct store *s, struct err *err);
int store_commit(struct store *s, struct err *err);
void store_rollback(struct store *s);

int store_put(struct store *s, const char *key, json_t *val, struct err *err);
/* -ENOENT (err untouched) when absent; *ret is a new reference. */
int store_get(struct store *s, const char *key, json_t **ret, struct err *err);
/* Like store_get, but *ret is borrowed from the store's cache: read it, do not change it,
 * and do not keep it past the next write of that key. */
int store_peek(struct store *s, const char *key, json_t **ret, struct err *err);
int store_exists(struct store *s, const char *key);  /* 1, 0 or -errno */
int store_del(struct store *s, const char *key, struct err *err);  /* absent is not an error */

/* Calls cb for each key starting with prefix, in key order. A negative return
 * from cb stops the walk and is returned. val is borrowed. */
typedef int (*store_list_cb)(const char *key, json_t *val, void *userdata);
int store_list(struct store *s, const char *prefix, store_list_cb cb, void *userdata, struct err *err);
/* Number of keys under prefix, or -errno. */
long store_count(struct store *s, const char *prefix, struct err *err);
