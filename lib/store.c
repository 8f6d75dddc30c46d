/* store.c: JSON documents by key in one SQLite table (WAL, synchronous=NORMAL). */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/store.h"

struct store {
        sqlite3 *db;
        sqlite3_stmt *put, *get, *del, *count;
        int depth;
        /* Parsed documents by key, private copies that nobody changes: reads skip SQLite and
         * the JSON parser. Writes update it, deletes drop the key, a rollback drops it all. Two
         * generations: when `cache` is full it becomes `old` (the previous `old` is freed) and a
         * document found in `old` moves back to `cache`, so hot documents stay, memory is bounded
         * (a task record parses to ~20 KiB: one cache of 50,000 grew ecsboxd by ~20 KiB per
         * churned task, towards 1 GB; tests/load/load.py churn), and a pointer from store_peek lives until the second rotation. */
        json_t *cache, *old;
};

#define CACHE_GEN_MAX 2048

static void cache_rotate_if_full(struct store *s)
{
        if (json_object_size(s->cache) < CACHE_GEN_MAX)
                return;
        json_decref(s->old);
        s->old = s->cache;
        s->cache = json_object();
}

static void cache_clear(struct store *s)
{
        json_object_clear(s->cache);
        json_object_clear(s->old);
}

/* The cached document of key (borrowed), moved to the young generation; NULL when not cached. */
static json_t *cache_get(struct store *s, const char *key)
{
        json_t *v = json_object_get(s->cache, key);
        if (v || !(v = json_object_get(s->old, key)))
                return v;
        json_incref(v);
        json_object_del(s->old, key);
        cache_rotate_if_full(s);
        if (!s->cache || json_object_set_new(s->cache, key, v) < 0)
                return NULL;
        return v;
}

static void cache_set(struct store *s, const char *key, json_t *v)
{
        if (!s->cache)
                return;
        json_object_del(s->old, key);
        if (!v) {
                json_object_del(s->cache, key);
                return;
        }
        cache_rotate_if_full(s);
        if (s->cache)
                json_object_set_new(s->cache, key, v);
        else
                json_decref(v);
}

static int db_err(struct store *s, struct err *err, const char *what)
{
        return err_set(err, EIO, NULL, "state database: %s: %s", what, sqlite3_errmsg(s->db));
}

struct store *store_close(struct store *s)
{
        if (!s)
                return NULL;
        sqlite3_finalize(s->put);
        sqlite3_finalize(s->get);
        sqlite3_finalize(s->del);
        sqlite3_finalize(s->count);
        sqlite3_close(s->db);
        json_decref(s->cache);
        json_decref(s->old);
        free(s);
        return NULL;
}

int store_open(const char *path, struct store **ret, struct err *err)
{
        struct store *s = calloc(1, sizeof *s);
        int r;
        if (!s || !(s->cache = json_object())) {
                free(s);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        /* SQLite opens its files with O_CLOEXEC on Linux. */
        r = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (r != SQLITE_OK) {
                err_set(err, EIO, NULL, "open state database '%s': %s", path,
                        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(r));
                store_close(s);
                return -EIO;
        }
        sqlite3_busy_timeout(s->db, 5000);
        if (sqlite3_exec(s->db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                         "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;",
                         NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)", -1, &s->put, NULL) ||
            sqlite3_prepare_v2(s->db, "SELECT v FROM kv WHERE k = ?1", -1, &s->get, NULL) ||
            sqlite3_prepare_v2(s->db, "DELETE FROM kv WHERE k = ?1", -1, &s->del, NULL) ||
            sqlite3_prepare_v2(s->db, "SELECT count(*) FROM kv WHERE k >= ?1 AND k < ?2", -1, &s->count, NULL)) {
                err_set(err, EIO, NULL, "prepare state database '%s': %s", path, sqlite3_errmsg(s->db));
                store_close(s);
                return -EIO;
        }
        *ret = s;
        return 0;
}

int store_begin(struct store *s, struct err *err)
{
        if (s->depth++ > 0)
                return 0;
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
                s->depth = 0;
                return db_err(s, err, "begin");
        }
        return 0;
}

int store_commit(struct store *s, struct err *err)
{
        if (s->depth == 0)
                return 0;
        if (--s->depth > 0)
                return 0;
        if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
                int r = db_err(s, err, "commit");
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                cache_clear(s);
                return r;
        }
        return 0;
}

void store_rollback(struct store *s)
{
        if (s->depth == 0)
                return;
        s->depth = 0;
        (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        cache_clear(s);
}

int store_put(struct store *s, const char *key, json_t *val, struct err *err)
{
        _cleanup_free_ char *txt = json_dumps(val, JSON_COMPACT);
        int r;
        if (!txt)
                return err_set(err, ENOMEM, NULL, "state database: cannot serialise '%s'", key);
        sqlite3_reset(s->put);
        sqlite3_bind_text(s->put, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->put, 2, txt, -1, SQLITE_STATIC);
        r = sqlite3_step(s->put);
        sqlite3_reset(s->put);
        sqlite3_clear_bindings(s->put);
        if (r != SQLITE_DONE) {
                cache_set(s, key, NULL);
                return err_set(err, EIO, NULL, "state database: put '%s': %s", key, sqlite3_errmsg(s->db));
        }
        cache_set(s, key, json_deep_copy(val));
        return 0;
}

int store_peek(struct store *s, const char *key, json_t **ret, struct err *err)
{
        json_t *v = cache_get(s, key);
        int r;
        if (v) {
                *ret = v;
                return 0;
        }
        if ((r = store_get(s, key, &v, err)) < 0)
                return r;
        json_decref(v);
        *ret = cache_get(s, key);
        return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
}

int store_get(struct store *s, const char *key, json_t **ret, struct err *err)
{
        json_error_t jerr;
        json_t *v = cache_get(s, key);
        int r;
        if (v) {
                *ret = json_deep_copy(v);
                return *ret ? 0 : err_set(err, ENOMEM, NULL, "out of memory");
        }
        sqlite3_reset(s->get);
        sqlite3_bind_text(s->get, 1, key, -1, SQLITE_STATIC);
        r = sqlite3_step(s->get);
        if (r == SQLITE_DONE) {
                sqlite3_reset(s->get);
                return -ENOENT;
        }
        if (r != SQLITE_ROW) {
                sqlite3_reset(s->get);
                return err_set(err, EIO, NULL, "state database: get '%s': %s", key, sqlite3_errmsg(s->db));
        }
        v = json_loads((const char *) sqlite3_column_text(s->get, 0), 0, &jerr);
        sqlite3_reset(s->get);
        if (!v)
                return err_set(err, EIO, NULL, "state database: '%s' is corrupt: %s (line %d, column %d)", key,
                               jerr.text, jerr.line, jerr.column);
        cache_set(s, key, json_deep_copy(v));
        *ret = v;
        return 0;
}

int store_exists(struct store *s, const char *key)
{
        int r;
        sqlite3_reset(s->get);
        sqlite3_bind_text(s->get, 1, key, -1, SQLITE_STATIC);
        r = sqlite3_step(s->get);
        sqlite3_reset(s->get);
        if (r == SQLITE_ROW)
                return 1;
        if (r == SQLITE_DONE)
                return 0;
        return -EIO;
}

int store_del(struct store *s, const char *key, struct err *err)
{
        int r;
        sqlite3_reset(s->del);
        sqlite3_bind_text(s->del, 1, key, -1, SQLITE_STATIC);
        r = sqlite3_step(s->del);
        sqlite3_reset(s->del);
        cache_set(s, key, NULL);
        if (r != SQLITE_DONE)
                return err_set(err, EIO, NULL, "state database: delete '%s': %s", key, sqlite3_errmsg(s->db));
        return 0;
}

static char *prefix_end(const char *prefix)
{
        /* The smallest string greater than every string that starts with prefix. */
        size_t n = strlen(prefix);
        char *e = malloc(n + 2);
        if (!e)
                return NULL;
        memcpy(e, prefix, n);
        e[n] = (char) 0xff;
        e[n + 1] = '\0';
        return e;
}

int store_list(struct store *s, const char *prefix, store_list_cb cb, void *userdata, struct err *err)
{
        _cleanup_free_ char *end = prefix_end(prefix);
        sqlite3_stmt *st;
        int r, ret = 0;
        if (!end)
                return err_set(err, ENOMEM, NULL, "out of memory");
        /* A callback may call store_get()/store_list() again: use a fresh statement. */
        if (sqlite3_prepare_v2(s->db, "SELECT k, v FROM kv WHERE k >= ?1 AND k < ?2 ORDER BY k", -1, &st, NULL))
                return db_err(s, err, "list");
        sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                json_error_t jerr;
                const char *k = (const char *) sqlite3_column_text(st, 0);
                json_t *v = json_loads((const char *) sqlite3_column_text(st, 1), 0, &jerr);
                if (!v) {
                        ret = err_set(err, EIO, NULL, "state database: '%s' is corrupt: %s", k, jerr.text);
                        break;
                }
                ret = cb(k, v, userdata);
                json_decref(v);
                if (ret < 0)
                        break;
                ret = 0;
        }
        if (ret == 0 && r != SQLITE_DONE)
                ret = db_err(s, err, "list");
        sqlite3_finalize(st);
        return ret;
}

long store_count(struct store *s, const char *prefix, struct err *err)
{
        _cleanup_free_ char *end = prefix_end(prefix);
        long n;
        if (!end)
                return err_set(err, ENOMEM, NULL, "out of memory");
        sqlite3_reset(s->count);
        sqlite3_bind_text(s->count, 1, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->count, 2, end, -1, SQLITE_STATIC);
        if (sqlite3_step(s->count) != SQLITE_ROW) {
                sqlite3_reset(s->count);
                return db_err(s, err, "count");
        }
        n = sqlite3_column_int64(s->count, 0);
        sqlite3_reset(s->count);
        return n;
}
