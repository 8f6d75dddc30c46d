/* logstore.c: CloudWatch Logs storage on SQLite (its own file, STATE_DIR/logs.db, WAL): the
 * events are a time-indexed table rather than JSON documents, so not lib/store. Each event row
 * keeps its size (message + 26 bytes, as AWS counts); the total is kept in memory and bounded by
 * dropping the oldest rows (lowest ids) first. */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "filter.h"
#include "logstore.h"

#define E_NF "ResourceNotFoundException"
#define E_EXISTS "ResourceAlreadyExistsException"
#define GROUP_NF "The specified log group does not exist."
#define STREAM_NF "The specified log stream does not exist."
#define FILTER_SCAN_MAX 200000          /* rows one FilterLogEvents call reads before it answers with a token */
#define PAGE_BYTES_MAX (1024 * 1024)    /* GetLogEvents/FilterLogEvents answer at most 1 MB of events */
#define PRUNE_CHUNK 5000

struct logstore {
        sqlite3 *db;
        long long bytes;                /* Σ sz over events */
        long long max_bytes;
};

static int prune_cap(struct logstore *ls, struct err *err);

static void finalizep(sqlite3_stmt **st)
{
        if (*st)
                sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static const char schema[] =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        "CREATE TABLE IF NOT EXISTS groups (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, created INTEGER NOT NULL,"
        "  retention INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, tags TEXT NOT NULL DEFAULT '{}');"
        "CREATE TABLE IF NOT EXISTS streams (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
        "  name TEXT NOT NULL, created INTEGER NOT NULL, first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER,"
        "  UNIQUE (grp, name));"
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, stream INTEGER NOT NULL,"
        "  ts INTEGER NOT NULL, ingest INTEGER NOT NULL, sz INTEGER NOT NULL, msg BLOB NOT NULL);"
        "CREATE INDEX IF NOT EXISTS events_stream ON events (stream, ts, id);"
        "CREATE INDEX IF NOT EXISTS events_grp ON events (grp, ts, id);"
        "CREATE TABLE IF NOT EXISTS tails (task TEXT NOT NULL, container TEXT NOT NULL, path TEXT NOT NULL,"
        "  grp TEXT NOT NULL, stream TEXT NOT NULL, rkey TEXT NOT NULL, off INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (task, container));";

static int db_err(struct logstore *ls, int rc, const char *what, struct err *err)
{
        return err_set(err, rc == SQLITE_NOMEM ? ENOMEM : EIO, NULL, "logs store: %s: %s", what, sqlite3_errmsg(ls->db));
}

static int prep(struct logstore *ls, const char *sql, sqlite3_stmt **ret, struct err *err)
{
        int rc = sqlite3_prepare_v2(ls->db, sql, -1, ret, NULL);
        return rc == SQLITE_OK ? 0 : db_err(ls, rc, "prepare", err);
}

static int exec(struct logstore *ls, const char *sql, struct err *err)
{
        int rc = sqlite3_exec(ls->db, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : db_err(ls, rc, sql, err);
}

static int step_done(struct logstore *ls, sqlite3_stmt *st, const char *what, struct err *err)
{
        int rc = sqlite3_step(st);
        return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_err(ls, rc, what, err);
}

int logstore_open(const char *path, long long max_bytes, struct logstore **ret, struct err *err)
{
        struct logstore *ls = calloc(1, sizeof *ls);
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;
        if (!ls)
                return err_set(err, ENOMEM, NULL, "out of memory");
        ls->max_bytes = max_bytes;
        rc = sqlite3_open_v2(path ? path : ":memory:", &ls->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
        if (rc != SQLITE_OK) {
                int r = err_set(err, EIO, NULL, "open logs store '%s': %s", path ? path : ":memory:",
                                ls->db ? sqlite3_errmsg(ls->db) : sqlite3_errstr(rc));
                logstore_close(ls);
                return r;
        }
        sqlite3_busy_timeout(ls->db, 5000);
        if (exec(ls, schema, err) < 0 || prep(ls, "SELECT coalesce(sum(sz), 0) FROM events", &st, err) < 0) {
                logstore_close(ls);
                return err_wrap(err, "open logs store '%s'", path ? path : ":memory:");
        }
        if (sqlite3_step(st) == SQLITE_ROW)
                ls->bytes = sqlite3_column_int64(st, 0);
        *ret = ls;
        return 0;
}

struct logstore *logstore_close(struct logstore *ls)
{
        if (!ls)
                return NULL;
        if (ls->db)
                sqlite3_close_v2(ls->db);
        free(ls);
        return NULL;
}

long long logstore_bytes(struct logstore *ls)
{
        return ls->bytes;
}

int logstore_group_create(struct logstore *ls, const char *name, long long now_ms, json_t *tags, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *txt = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
        int rc, r;
        if ((r = prep(ls, "INSERT INTO groups (name, created, tags) VALUES (?, ?, ?)", &st, err)) < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_text(st, 3, txt ? txt : "{}", -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_CONSTRAINT)
                return err_set(err, EEXIST, E_EXISTS, "The specified log group already exists");
        return rc == SQLITE_DONE ? 0 : db_err(ls, rc, "create log group", err);
}

int logstore_group_get(struct logstore *ls, const char *name, long long *ret_id, int *ret_retention, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;
        if ((r = prep(ls, "SELECT id, retention FROM groups WHERE name = ?", &st, err)) < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return err_set(err, ENOENT, E_NF, GROUP_NF);
        if (rc != SQLITE_ROW)
                return db_err(ls, rc, "read log group", err);
        if (ret_id)
                *ret_id = sqlite3_column_int64(st, 0);
        if (ret_retention)
                *ret_retention = sqlite3_column_int(st, 1);
        return 0;
}

/* Deletes the rows of events matching where (bound to a and b), keeping the byte counts right. */
static int drop_events(struct logstore *ls, const char *where, long long a, long long b, struct err *err)
{
        char sql[512];
        _cleanup_stmt_ sqlite3_stmt *sum = NULL, *del = NULL, *upd = NULL;
        int r;
        snprintf(sql, sizeof sql, "SELECT grp, sum(sz) FROM events WHERE %s GROUP BY grp", where);
        if ((r = prep(ls, sql, &sum, err)) < 0 || (r = prep(ls, "UPDATE groups SET bytes = max(0, bytes - ?) WHERE id = ?", &upd, err)) < 0)
                return r;
        snprintf(sql, sizeof sql, "DELETE FROM events WHERE %s", where);
        if ((r = prep(ls, sql, &del, err)) < 0)
                return r;
        sqlite3_bind_int64(sum, 1, a);
        sqlite3_bind_int64(sum, 2, b);
        while (sqlite3_step(sum) == SQLITE_ROW) {
                long long n = sqlite3_column_int64(sum, 1);
                sqlite3_reset(upd);
                sqlite3_bind_int64(upd, 1, n);
                sqlite3_bind_int64(upd, 2, sqlite3_column_int64(sum, 0));
                if ((r = step_done(ls, upd, "update group size", err)) < 0)
                        return r;
                ls->bytes -= n;
        }
        sqlite3_bind_int64(del, 1, a);
        sqlite3_bind_int64(del, 2, b);
        return step_done(ls, del, "delete events", err);
}

int logstore_group_delete(struct logstore *ls, const char *name, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        long long id;
        int r;
        if ((r = logstore_group_get(ls, name, &id, NULL, err)) < 0)
                return r;
        if ((r = exec(ls, "BEGIN", err)) < 0)
                return r;
        if ((r = drop_events(ls, "grp = ?1 AND ?2 = ?2", id, 0, err)) < 0 ||
            (r = prep(ls, "DELETE FROM groups WHERE id = ?", &st, err)) < 0)
                goto fail;
        sqlite3_bind_int64(st, 1, id);
        if ((r = step_done(ls, st, "delete log group", err)) < 0)
                goto fail;
        return exec(ls, "COMMIT", err);
fail:
        (void) exec(ls, "ROLLBACK", NULL);
        return r;
}

static char *prefix_end(const char *prefix)
{
        /* the smallest string above every string that starts with prefix */
        size_t n = strlen(prefix);
        char *e = strdup(prefix);
        while (e && n > 0) {
                if ((unsigned char) e[n - 1] < 0xff) {
                        e[n - 1]++;
                        e[n] = '\0';
                        return e;
                }
                n--;
        }
        free(e);
        return NULL;
}

int logstore_group_list(struct logstore *ls, const char *prefix, const char *pattern, const char *after, int limit,
                        json_t **ret, bool *ret_more, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *end = prefix && *prefix ? prefix_end(prefix) : NULL;
        _cleanup_json_ json_t *out = json_array();
        int r, n = 0;
        if ((r = prep(ls,
                      "SELECT name, created, retention, bytes FROM groups WHERE name > ?1 AND name >= ?2 AND (?3 IS NULL OR name < ?3)"
                      " AND (?4 IS NULL OR instr(lower(name), lower(?4)) > 0) ORDER BY name LIMIT ?5",
                      &st, err)) < 0)
                return r;
        sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, prefix ? prefix : "", -1, SQLITE_TRANSIENT);
        if (end)
                sqlite3_bind_text(st, 3, end, -1, SQLITE_TRANSIENT);
        if (pattern && *pattern)
                sqlite3_bind_text(st, 4, pattern, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 5, limit + 1);
        *ret_more = false;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                json_t *g;
                if (n++ == limit) {
                        *ret_more = true;
                        break;
                }
                g = json_pack("{s:s, s:I, s:i, s:I}", "logGroupName", (const char *) sqlite3_column_text(st, 0), "creationTime",
                              (json_int_t) sqlite3_column_int64(st, 1), "metricFilterCount", 0, "storedBytes",
                              (json_int_t) sqlite3_column_int64(st, 3));
                if (sqlite3_column_int(st, 2) > 0)
                        json_object_set_new(g, "retentionInDays", json_integer(sqlite3_column_int(st, 2)));
                json_object_set_new(g, "logGroupClass", json_string("STANDARD"));
                json_array_append_new(out, g);
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
                return db_err(ls, r, "list log groups", err);
        *ret = TAKE_PTR(out);
        return 0;
}

int logstore_group_set_retention(struct logstore *ls, const char *name, int days, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        if ((r = logstore_group_get(ls, name, NULL, NULL, err)) < 0 ||
            (r = prep(ls, "UPDATE groups SET retention = ? WHERE name = ?", &st, err)) < 0)
                return r;
        sqlite3_bind_int(st, 1, days);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        return step_done(ls, st, "set retention", err);
}

int logstore_group_tags(struct logstore *ls, const char *name, json_t *add, json_t *remove, json_t **ret, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *get = NULL, *put = NULL;
        _cleanup_json_ json_t *tags = NULL;
        _cleanup_free_ char *txt = NULL;
        json_t *v;
        size_t i;
        int r;
        if ((r = prep(ls, "SELECT tags FROM groups WHERE name = ?", &get, err)) < 0)
                return r;
        sqlite3_bind_text(get, 1, name, -1, SQLITE_TRANSIENT);
        if ((r = sqlite3_step(get)) != SQLITE_ROW)
                return r == SQLITE_DONE ? err_set(err, ENOENT, E_NF, GROUP_NF) : db_err(ls, r, "read tags", err);
        tags = json_loads((const char *) sqlite3_column_text(get, 0), 0, NULL);
        if (!json_is_object(tags)) {
                json_decref(tags);
                tags = json_object();
        }
        if (add)
                json_object_update(tags, add);
        json_array_foreach(remove, i, v)
                if (json_is_string(v))
                        json_object_del(tags, json_string_value(v));
        if (add || remove) {
                if (!(txt = json_dumps(tags, JSON_COMPACT)) || (r = prep(ls, "UPDATE groups SET tags = ? WHERE name = ?", &put, err)) < 0)
                        return txt ? r : err_set(err, ENOMEM, NULL, "out of memory");
                sqlite3_bind_text(put, 1, txt, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(put, 2, name, -1, SQLITE_TRANSIENT);
                if ((r = step_done(ls, put, "set tags", err)) < 0)
                        return r;
        }
        if (ret)
                *ret = TAKE_PTR(tags);
        return 0;
}

static int stream_id(struct logstore *ls, const char *group, const char *name, long long *ret_gid, long long *ret_sid,
                     struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        long long gid;
        int r;
        if ((r = logstore_group_get(ls, group, &gid, NULL, err)) < 0 ||
            (r = prep(ls, "SELECT id FROM streams WHERE grp = ? AND name = ?", &st, err)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        r = sqlite3_step(st);
        if (r == SQLITE_DONE)
                return err_set(err, ENOENT, E_NF, STREAM_NF);
        if (r != SQLITE_ROW)
                return db_err(ls, r, "read log stream", err);
        if (ret_gid)
                *ret_gid = gid;
        *ret_sid = sqlite3_column_int64(st, 0);
        return 0;
}

int logstore_stream_create(struct logstore *ls, const char *group, const char *name, long long now_ms, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        long long gid;
        int r, rc;
        if ((r = logstore_group_get(ls, group, &gid, NULL, err)) < 0 ||
            (r = prep(ls, "INSERT INTO streams (grp, name, created) VALUES (?, ?, ?)", &st, err)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, now_ms);
        rc = sqlite3_step(st);
        if (rc == SQLITE_CONSTRAINT)
                return err_set(err, EEXIST, E_EXISTS, "The specified log stream already exists");
        return rc == SQLITE_DONE ? 0 : db_err(ls, rc, "create log stream", err);
}

int logstore_stream_delete(struct logstore *ls, const char *group, const char *name, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        long long sid;
        int r;
        if ((r = stream_id(ls, group, name, NULL, &sid, err)) < 0 || (r = exec(ls, "BEGIN", err)) < 0)
                return r;
        if ((r = drop_events(ls, "stream = ?1 AND ?2 = ?2", sid, 0, err)) < 0 ||
            (r = prep(ls, "DELETE FROM streams WHERE id = ?", &st, err)) < 0)
                goto fail;
        sqlite3_bind_int64(st, 1, sid);
        if ((r = step_done(ls, st, "delete log stream", err)) < 0)
                goto fail;
        return exec(ls, "COMMIT", err);
fail:
        (void) exec(ls, "ROLLBACK", NULL);
        return r;
}

int logstore_stream_list(struct logstore *ls, const char *group, const char *prefix, bool by_time, bool descending,
                         long long offset, int limit, json_t **ret, bool *ret_more, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *end = prefix && *prefix ? prefix_end(prefix) : NULL;
        _cleanup_json_ json_t *out = json_array();
        char sql[512];
        long long gid;
        int r, n = 0;
        if ((r = logstore_group_get(ls, group, &gid, NULL, err)) < 0)
                return r;
        snprintf(sql, sizeof sql,
                 "SELECT name, created, first_ts, last_ts, last_ingest FROM streams WHERE grp = ?1 AND name >= ?2"
                 " AND (?3 IS NULL OR name < ?3) ORDER BY %s %s, name %s LIMIT ?4 OFFSET ?5",
                 by_time ? "coalesce(last_ts, -1)" : "name", descending ? "DESC" : "ASC", descending ? "DESC" : "ASC");
        if ((r = prep(ls, sql, &st, err)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, prefix ? prefix : "", -1, SQLITE_TRANSIENT);
        if (end)
                sqlite3_bind_text(st, 3, end, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, limit + 1);
        sqlite3_bind_int64(st, 5, offset);
        *ret_more = false;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                json_t *s;
                if (n++ == limit) {
                        *ret_more = true;
                        break;
                }
                s = json_pack("{s:s, s:I, s:i}", "logStreamName", (const char *) sqlite3_column_text(st, 0), "creationTime",
                              (json_int_t) sqlite3_column_int64(st, 1), "storedBytes", 0);
                if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
                        json_object_set_new(s, "firstEventTimestamp", json_integer(sqlite3_column_int64(st, 2)));
                        json_object_set_new(s, "lastEventTimestamp", json_integer(sqlite3_column_int64(st, 3)));
                        json_object_set_new(s, "lastIngestionTime", json_integer(sqlite3_column_int64(st, 4)));
                }
                json_array_append_new(out, s);
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
                return db_err(ls, r, "list log streams", err);
        *ret = TAKE_PTR(out);
        return 0;
}

int logstore_put(struct logstore *ls, const char *group, const char *stream, const struct log_event_in *ev, size_t n,
                 long long now_ms, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *ins = NULL, *upd = NULL, *grp = NULL;
        long long gid, sid, total = 0;
        int r;
        if (n == 0)
                return 0;
        if ((r = stream_id(ls, group, stream, &gid, &sid, err)) < 0)
                return r;
        if ((r = prep(ls, "INSERT INTO events (grp, stream, ts, ingest, sz, msg) VALUES (?, ?, ?, ?, ?, ?)", &ins, err)) < 0 ||
            (r = prep(ls,
                      "UPDATE streams SET first_ts = min(coalesce(first_ts, ?2), ?2), last_ts = max(coalesce(last_ts, ?3), ?3),"
                      " last_ingest = ?4 WHERE id = ?1",
                      &upd, err)) < 0 ||
            (r = prep(ls, "UPDATE groups SET bytes = bytes + ? WHERE id = ?", &grp, err)) < 0 || (r = exec(ls, "BEGIN", err)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                long long sz = (long long) ev[i].len + LOG_EVENT_OVERHEAD;
                sqlite3_reset(ins);
                sqlite3_bind_int64(ins, 1, gid);
                sqlite3_bind_int64(ins, 2, sid);
                sqlite3_bind_int64(ins, 3, ev[i].ts);
                sqlite3_bind_int64(ins, 4, now_ms);
                sqlite3_bind_int64(ins, 5, sz);
                sqlite3_bind_blob(ins, 6, ev[i].len ? ev[i].msg : "", (int) ev[i].len, SQLITE_STATIC);
                if ((r = step_done(ls, ins, "insert event", err)) < 0)
                        goto fail;
                total += sz;
        }
        sqlite3_bind_int64(upd, 1, sid);
        sqlite3_bind_int64(upd, 2, ev[0].ts);
        sqlite3_bind_int64(upd, 3, ev[n - 1].ts);
        sqlite3_bind_int64(upd, 4, now_ms);
        sqlite3_bind_int64(grp, 1, total);
        sqlite3_bind_int64(grp, 2, gid);
        if ((r = step_done(ls, upd, "update stream", err)) < 0 || (r = step_done(ls, grp, "update group size", err)) < 0 ||
            (r = exec(ls, "COMMIT", err)) < 0)
                goto fail;
        ls->bytes += total;
        /* over the cap: the oldest go now rather than at the next pruning pass, so that a burst
         * cannot outgrow the cap by a minute of writes */
        if (ls->bytes > ls->max_bytes && (r = exec(ls, "BEGIN", err)) == 0) {
                if ((r = prune_cap(ls, err)) < 0) {
                        (void) exec(ls, "ROLLBACK", NULL);
                        return r;
                }
                return exec(ls, "COMMIT", err);
        }
        return 0;
fail:
        (void) exec(ls, "ROLLBACK", NULL);
        return r;
}

static json_t *msg_json(sqlite3_stmt *st, int col)
{
        const char *m = sqlite3_column_blob(st, col);
        json_t *v = json_stringn(m ? m : "", (size_t) sqlite3_column_bytes(st, col));
        /* stored messages are UTF-8 (the API's JSON, the driver's sanitised lines); an old row that is not reads as empty */
        return v ? v : json_string("");
}

int logstore_get(struct logstore *ls, const struct log_get_in *in, json_t **ret, struct log_pos *ret_first,
                 struct log_pos *ret_last, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_json_ json_t *out = json_array();
        bool fwd = in->forward;
        long long sid, bytes = 0;
        struct log_pos pos = in->pos;
        int r;
        if ((r = stream_id(ls, in->group, in->stream, NULL, &sid, err)) < 0)
                return r;
        if (!in->have_pos)
                pos = fwd ? (struct log_pos) { LLONG_MIN, LLONG_MIN } : (struct log_pos) { LLONG_MAX, LLONG_MAX };
        if ((r = prep(ls,
                      fwd ? "SELECT id, ts, ingest, msg FROM events WHERE stream = ?1 AND ts >= ?2 AND ts < ?3"
                            " AND (ts > ?4 OR (ts = ?4 AND id > ?5)) ORDER BY ts, id LIMIT ?6"
                          : "SELECT id, ts, ingest, msg FROM events WHERE stream = ?1 AND ts >= ?2 AND ts < ?3"
                            " AND (ts < ?4 OR (ts = ?4 AND id < ?5)) ORDER BY ts DESC, id DESC LIMIT ?6",
                      &st, err)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, sid);
        sqlite3_bind_int64(st, 2, in->start);
        sqlite3_bind_int64(st, 3, in->end);
        sqlite3_bind_int64(st, 4, pos.ts);
        sqlite3_bind_int64(st, 5, pos.id);
        sqlite3_bind_int(st, 6, in->limit);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                json_t *e = json_pack("{s:I, s:o, s:I}", "timestamp", (json_int_t) sqlite3_column_int64(st, 1), "message",
                                      msg_json(st, 3), "ingestionTime", (json_int_t) sqlite3_column_int64(st, 2));
                struct log_pos p = { sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0) };
                bytes += sqlite3_column_bytes(st, 3) + LOG_EVENT_OVERHEAD;
                if (fwd) {
                        json_array_append_new(out, e);
                        if (json_array_size(out) == 1)
                                *ret_first = p;
                        *ret_last = p;
                } else {
                        json_array_insert_new(out, 0, e);
                        if (json_array_size(out) == 1)
                                *ret_last = p;
                        *ret_first = p;
                }
                if (bytes >= PAGE_BYTES_MAX)
                        break;
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
                return db_err(ls, r, "read events", err);
        *ret = TAKE_PTR(out);
        return 0;
}

static bool stream_wanted(const struct log_filter_in *in, const char *name)
{
        json_t *v;
        size_t i;
        if (in->prefix && strncmp(name, in->prefix, strlen(in->prefix)) != 0)
                return false;
        if (!in->names)
                return true;
        json_array_foreach(in->names, i, v)
                if (strcmp(json_string_value(v) ?: "", name) == 0)
                        return true;
        return false;
}

int logstore_filter(struct logstore *ls, const struct log_filter_in *in, json_t **ret, bool *ret_more, struct log_pos *ret_pos,
                    struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_json_ json_t *out = json_array();
        struct log_pos pos = in->have_pos ? in->pos : (struct log_pos) { LLONG_MIN, LLONG_MIN };
        long long gid, scanned = 0, bytes = 0;
        int r;
        if ((r = logstore_group_get(ls, in->group, &gid, NULL, err)) < 0 ||
            (r = prep(ls,
                      "SELECT e.id, e.ts, e.ingest, e.msg, s.name FROM events e JOIN streams s ON s.id = e.stream"
                      " WHERE e.grp = ?1 AND e.ts >= ?2 AND e.ts < ?3 AND (e.ts > ?4 OR (e.ts = ?4 AND e.id > ?5))"
                      " ORDER BY e.ts, e.id",
                      &st, err)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_int64(st, 2, in->start);
        sqlite3_bind_int64(st, 3, in->end);
        sqlite3_bind_int64(st, 4, pos.ts);
        sqlite3_bind_int64(st, 5, pos.id);
        *ret_more = false;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = (const char *) sqlite3_column_text(st, 4);
                const char *msg = sqlite3_column_blob(st, 3);
                size_t len = (size_t) sqlite3_column_bytes(st, 3);
                char id[32];
                if ((int) json_array_size(out) >= in->limit || scanned >= FILTER_SCAN_MAX || bytes >= PAGE_BYTES_MAX) {
                        *ret_more = true;
                        break;
                }
                scanned++;
                pos = (struct log_pos) { sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0) };
                if (!stream_wanted(in, name) || (in->filter && !log_filter_match(in->filter, msg ? msg : "", len)))
                        continue;
                snprintf(id, sizeof id, "%lld", pos.id);
                json_array_append_new(out, json_pack("{s:s, s:I, s:o, s:I, s:s}", "logStreamName", name, "timestamp", (json_int_t) pos.ts,
                                                     "message", msg_json(st, 3), "ingestionTime",
                                                     (json_int_t) sqlite3_column_int64(st, 2), "eventId", id));
                bytes += (long long) len + LOG_EVENT_OVERHEAD;
        }
        if (r != SQLITE_ROW && r != SQLITE_DONE)
                return db_err(ls, r, "filter events", err);
        *ret_pos = pos;
        *ret = TAKE_PTR(out);
        return 0;
}

static int prune_retention(struct logstore *ls, long long now_ms, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        if ((r = prep(ls, "SELECT id, retention FROM groups WHERE retention > 0", &st, err)) < 0)
                return r;
        while (sqlite3_step(st) == SQLITE_ROW) {
                long long cut = now_ms - sqlite3_column_int64(st, 1) * 86400000LL;
                if ((r = drop_events(ls, "grp = ?1 AND ts < ?2", sqlite3_column_int64(st, 0), cut, err)) < 0)
                        return r;
        }
        return 0;
}

static int prune_cap(struct logstore *ls, struct err *err)
{
        while (ls->bytes > ls->max_bytes) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                long long upto = -1, need = ls->bytes - ls->max_bytes, got = 0;
                int r;
                /* the oldest rows (first inserted) until enough is freed, a chunk at a time */
                if ((r = prep(ls, "SELECT id, sz FROM events ORDER BY id LIMIT ?", &st, err)) < 0)
                        return r;
                sqlite3_bind_int(st, 1, PRUNE_CHUNK);
                while (got < need && sqlite3_step(st) == SQLITE_ROW) {
                        upto = sqlite3_column_int64(st, 0);
                        got += sqlite3_column_int64(st, 1);
                }
                if (upto < 0) {
                        ls->bytes = 0;  /* no events left */
                        return 0;
                }
                sqlite3_finalize(TAKE_PTR(st));
                if ((r = drop_events(ls, "id <= ?1 AND ?2 = ?2", upto, 0, err)) < 0)
                        return r;
        }
        return 0;
}

int logstore_prune(struct logstore *ls, long long now_ms, struct err *err)
{
        int r;
        if ((r = exec(ls, "BEGIN", err)) < 0)
                return r;
        if ((r = prune_retention(ls, now_ms, err)) < 0 || (r = prune_cap(ls, err)) < 0) {
                (void) exec(ls, "ROLLBACK", NULL);
                return r;
        }
        return exec(ls, "COMMIT", err);
}

int logstore_tail_add(struct logstore *ls, const struct log_tail *t, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        if ((r = prep(ls, "INSERT OR IGNORE INTO tails (task, container, path, grp, stream, rkey) VALUES (?, ?, ?, ?, ?, ?)", &st,
                      err)) < 0)
                return r;
        sqlite3_bind_text(st, 1, t->task, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, t->container, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, t->path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, t->group, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, t->stream, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, t->key, -1, SQLITE_TRANSIENT);
        return step_done(ls, st, "add tail", err);
}

int logstore_tail_list(struct logstore *ls, logstore_tail_cb cb, void *userdata, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_json_ json_t *rows = json_array();
        json_t *row;
        size_t i;
        int r;
        /* read all first: the callback writes to the same tables */
        if ((r = prep(ls, "SELECT task, container, path, grp, stream, rkey, off FROM tails ORDER BY task, container", &st, err)) < 0)
                return r;
        while (sqlite3_step(st) == SQLITE_ROW)
                json_array_append_new(rows, json_pack("[s,s,s,s,s,s,I]", (const char *) sqlite3_column_text(st, 0),
                                                      (const char *) sqlite3_column_text(st, 1), (const char *) sqlite3_column_text(st, 2),
                                                      (const char *) sqlite3_column_text(st, 3), (const char *) sqlite3_column_text(st, 4),
                                                      (const char *) sqlite3_column_text(st, 5), (json_int_t) sqlite3_column_int64(st, 6)));
        sqlite3_finalize(TAKE_PTR(st));
        json_array_foreach(rows, i, row) {
                struct log_tail t = {
                        json_string_value(json_array_get(row, 0)), json_string_value(json_array_get(row, 1)),
                        json_string_value(json_array_get(row, 2)), json_string_value(json_array_get(row, 3)),
                        json_string_value(json_array_get(row, 4)), json_string_value(json_array_get(row, 5)),
                        json_integer_value(json_array_get(row, 6)),
                };
                if ((r = cb(&t, userdata)) < 0)
                        return r;
        }
        return 0;
}

int logstore_tail_set(struct logstore *ls, const char *task, const char *container, long long offset, const char *stream,
                      struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        if ((r = prep(ls, "UPDATE tails SET off = ?1, stream = coalesce(?4, stream) WHERE task = ?2 AND container = ?3", &st, err)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, offset);
        sqlite3_bind_text(st, 2, task, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, container, -1, SQLITE_TRANSIENT);
        if (stream)
                sqlite3_bind_text(st, 4, stream, -1, SQLITE_TRANSIENT);
        return step_done(ls, st, "update tail", err);
}

int logstore_tail_del(struct logstore *ls, const char *task, const char *container, struct err *err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;
        if ((r = prep(ls, "DELETE FROM tails WHERE task = ? AND container = ?", &st, err)) < 0)
                return r;
        sqlite3_bind_text(st, 1, task, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, container, -1, SQLITE_TRANSIENT);
        return step_done(ls, st, "delete tail", err);
}
