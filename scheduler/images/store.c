/* store.c: the image store's records (images.json), lookups by name, familiar name and id prefix,
 * pulls de-duplicated per name, leases and prune. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/fsutil.h"
#include "ecsbox/json.h"
#include "ecsbox/timeutil.h"
#include "images.h"
#include "layer.h"
#include "manifest.h"
#include "ref.h"
#include "store_int.h"

#define TASK_ID_MAX 128

struct pull {
        struct pull *next;
        char *name;             /* canonical */
        bool done;
        int r;
        struct err err;
        unsigned refs;          /* the puller and its waiters */
};

static struct pull *pull_unref(struct pull *p)
{
        if (p && --p->refs == 0) {
                free(p->name);
                free(p);
        }
        return NULL;
}

/* ---- records ---- */

static json_t *records(struct images *im)
{
        return json_object_get(im->doc, "images");
}

static json_t *strv_json(char **v)
{
        json_t *a = json_array();
        for (char **p = v; a && p && *p; p++)
                if (json_array_append_new(a, json_string(*p)) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

/* A list of strings as a NULL-terminated vector; absent or empty: *ret = NULL (as image_config). */
static int json_strv(json_t *a, bool always, char ***ret)
{
        size_t n = json_array_size(a), i;
        json_t *x;
        char **v;

        *ret = NULL;
        if (n == 0 && !always)
                return 0;
        if (!(v = calloc(n + 1, sizeof *v)))
                return -ENOMEM;
        json_array_foreach (a, i, x)
                if (!(v[i] = strdup(json_is_string(x) ? json_string_value(x) : ""))) {
                        for (size_t k = 0; k < i; k++)
                                free(v[k]);
                        free(v);
                        return -ENOMEM;
                }
        *ret = v;
        return 0;
}

static int json_strdup(json_t *o, const char *key, char **ret)
{
        const char *s = jstr(o, key);
        *ret = NULL;
        return s && !(*ret = strdup(s)) ? -ENOMEM : 0;
}

static json_t *config_json(const struct image_config *c)
{
        json_t *o = json_object();
        if (!o)
                return NULL;
        if (c->entrypoint)
                json_set(o, "entrypoint", strv_json(c->entrypoint));
        if (c->cmd)
                json_set(o, "cmd", strv_json(c->cmd));
        if (c->env)
                json_set(o, "env", strv_json(c->env));
        if (c->exposed_ports)
                json_set(o, "exposedPorts", strv_json(c->exposed_ports));
        json_set(o, "workingDir", c->working_dir ? json_string(c->working_dir) : NULL);
        json_set(o, "user", c->user ? json_string(c->user) : NULL);
        json_set(o, "stopSignal", c->stop_signal ? json_string(c->stop_signal) : NULL);
        json_set(o, "os", c->os ? json_string(c->os) : NULL);
        json_set(o, "architecture", c->architecture ? json_string(c->architecture) : NULL);
        return o;
}

static int config_from_json(json_t *o, struct image_config *c)
{
        if (json_strv(json_object_get(o, "entrypoint"), false, &c->entrypoint) < 0 ||
            json_strv(json_object_get(o, "cmd"), false, &c->cmd) < 0 || json_strv(json_object_get(o, "env"), false, &c->env) < 0 ||
            json_strv(json_object_get(o, "exposedPorts"), false, &c->exposed_ports) < 0 ||
            json_strdup(o, "workingDir", &c->working_dir) < 0 || json_strdup(o, "user", &c->user) < 0 ||
            json_strdup(o, "stopSignal", &c->stop_signal) < 0 || json_strdup(o, "os", &c->os) < 0 ||
            json_strdup(o, "architecture", &c->architecture) < 0)
                return -ENOMEM;
        return 0;
}

struct image_info *image_info_free(struct image_info *i)
{
        if (!i)
                return NULL;
        for (char **p = i->names; p && *p; p++)
                free(*p);
        free(i->names);
        free(i->diff_ids);
        image_config_done(&i->config);
        free(i);
        return NULL;
}

void image_infos_free(struct image_info **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                image_info_free(v[i]);
        free(v);
}

static double jnum(json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        return json_is_number(v) ? json_number_value(v) : 0;
}

static int record_info(json_t *rec, struct image_info **ret)
{
        struct image_info *i = calloc(1, sizeof *i);
        json_t *layers = json_object_get(rec, "layers"), *l;
        size_t k;

        if (!i)
                return -ENOMEM;
        snprintf(i->id, sizeof i->id, "%s", jstr(rec, "id") ?: "");
        snprintf(i->manifest_digest, sizeof i->manifest_digest, "%s", jstr(rec, "manifestDigest") ?: "");
        snprintf(i->repo_digest, sizeof i->repo_digest, "%s", jstr(rec, "repoDigest") ?: "");
        i->size = (uint64_t) jint(rec, "size", 0);
        i->created = jnum(rec, "created");
        i->pulled_at = jnum(rec, "pulledAt");
        i->n_layers = json_array_size(layers);
        if (json_strv(json_object_get(rec, "names"), true, &i->names) < 0 ||
            !(i->diff_ids = calloc(i->n_layers ? i->n_layers : 1, sizeof *i->diff_ids)) ||
            config_from_json(json_object_get(rec, "config"), &i->config) < 0) {
                image_info_free(i);
                return -ENOMEM;
        }
        json_array_foreach (layers, k, l)
                snprintf(i->diff_ids[k], sizeof i->diff_ids[k], "%s", jstr(l, "diffId") ?: "");
        *ret = i;
        return 0;
}

static bool record_has_name(json_t *rec, const char *name)
{
        size_t i;
        json_t *n;
        json_array_foreach (json_object_get(rec, "names"), i, n)
                if (json_is_string(n) && !strcmp(json_string_value(n), name))
                        return true;
        return false;
}

static void record_drop_name(json_t *rec, const char *name)
{
        json_t *names = json_object_get(rec, "names");
        for (size_t i = json_array_size(names); i-- > 0;)
                if (!strcmp(json_string_value(json_array_get(names, i)) ?: "", name))
                        json_array_remove(names, i);
}

int record_set_names(json_t *rec, const char *const *names)
{
        json_t *a = json_array(), *x;
        size_t i;

        if (!a)
                return -ENOMEM;
        for (const char *const *p = names; p && *p; p++) {
                bool dup = false;
                json_array_foreach (a, i, x)
                        dup |= !strcmp(json_string_value(x), *p);
                if (!dup && json_array_append_new(a, json_string(*p)) < 0) {
                        json_decref(a);
                        return -ENOMEM;
                }
        }
        return json_object_set_new(rec, "names", a) < 0 ? -ENOMEM : 0;
}

static json_t *find_id(json_t *recs, const char *id, size_t *ret_idx)
{
        size_t i;
        json_t *r;
        json_array_foreach (recs, i, r)
                if (!strcmp(jstr(r, "id") ?: "", id)) {
                        if (ret_idx)
                                *ret_idx = i;
                        return r;
                }
        return NULL;
}

static json_t *find_name(json_t *recs, const char *name, size_t *ret_idx)
{
        size_t i;
        json_t *r;
        json_array_foreach (recs, i, r)
                if (record_has_name(r, name)) {
                        if (ret_idx)
                                *ret_idx = i;
                        return r;
                }
        return NULL;
}

/* A reference with a digest: a record whose manifest or repo digest is it, in the same repository
 * (a name of it shares registry/repository) or with that exact name. */
static json_t *find_digest_ref(json_t *recs, const struct image_ref *ref, const char *canonical, size_t *ret_idx)
{
        _cleanup_free_ char *repo = image_ref_name(ref);
        json_t *r, *n;
        size_t i, k;

        if ((r = find_name(recs, canonical, ret_idx)))
                return r;
        if (!repo)
                return NULL;
        json_array_foreach (recs, i, r) {
                if (strcmp(jstr(r, "manifestDigest") ?: "", ref->digest) && strcmp(jstr(r, "repoDigest") ?: "", ref->digest))
                        continue;
                json_array_foreach (json_object_get(r, "names"), k, n) {
                        const char *s = json_string_value(n);
                        size_t len = strlen(repo);
                        if (s && !strncmp(s, repo, len) && (s[len] == ':' || s[len] == '@')) {
                                if (ret_idx)
                                        *ret_idx = i;
                                return r;
                        }
                }
        }
        return NULL;
}

static bool all_hex(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char) *s) && !(*s >= 'a' && *s <= 'f'))
                        return false;
        return true;
}

/* name_or_id: an id, a name (canonical or as a person writes it), or an id prefix of 12+ hex digits,
 * in that order (a name that looks like hex is a name first, as Docker resolves it). ret_name
 * (may be NULL) gets the canonical name when a name matched, else NULL. Under im->mu. */
static int resolve(struct images *im, const char *name_or_id, json_t **ret, size_t *ret_idx, char **ret_name, struct err *err)
{
        json_t *recs = records(im), *r, *hit = NULL;
        const char *hex = name_or_id;
        struct image_ref ref;
        size_t i, hits = 0, idx = 0;

        if (ret_name)
                *ret_name = NULL;
        if (!name_or_id || !*name_or_id)
                return err_set(err, EINVAL, IMAGES_E_NOTFOUND, "image name or id is empty");
        if (image_digest_valid(name_or_id) && (r = find_id(recs, name_or_id, ret_idx))) {
                *ret = r;
                return 0;
        }
        if (image_ref_parse(name_or_id, &ref, NULL) == 0) {
                _cleanup_free_ char *canon = image_ref_canonical(&ref);
                if (!canon) {
                        image_ref_done(&ref);
                        return -ENOMEM;
                }
                r = ref.digest ? find_digest_ref(recs, &ref, canon, ret_idx) : find_name(recs, canon, ret_idx);
                image_ref_done(&ref);
                if (r) {
                        *ret = r;
                        if (ret_name)
                                *ret_name = TAKE_PTR(canon);
                        return 0;
                }
        }
        if (!strncmp(hex, "sha256:", 7))
                hex += 7;
        if (strlen(hex) >= 12 && strlen(hex) <= 64 && all_hex(hex)) {
                json_array_foreach (recs, i, r)
                        if (image_digest_valid(jstr(r, "id")) && !strncmp(jstr(r, "id") + 7, hex, strlen(hex))) {
                                hit = r;
                                idx = i;
                                hits++;
                        }
                if (hits > 1)
                        return err_set(err, EINVAL, IMAGES_E_NOTFOUND, "image id prefix '%s' matches %zu images", name_or_id, hits);
                if (hit) {
                        *ret = hit;
                        if (ret_idx)
                                *ret_idx = idx;
                        return 0;
                }
        }
        return err_set(err, ENOENT, IMAGES_E_NOTFOUND, "image '%s' is not in the store", name_or_id);
}

/* Write doc as images.json (tmp, fdatasync, rename, fsync of the directory). */
static int save(struct images *im, json_t *doc, struct err *err)
{
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_close_ int dfd = -1;
        int r;

        if (asprintf(&path, "%s/images.json", im->root) < 0 || !(buf = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS)))
                return -ENOMEM;
        if ((r = write_file_durable(path, buf, strlen(buf), 0600)) < 0)
                return err_set(err, -r, NULL, "image store: write '%s': %s", path, strerror(-r));
        dfd = open(im->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

/* Save a modified copy and make it the records, or keep the old ones. Under im->mu. */
static int swap_doc(struct images *im, json_t *copy, struct err *err)
{
        int r = save(im, copy, err);
        if (r < 0) {
                json_decref(copy);
                return r;
        }
        json_decref(im->doc);
        im->doc = copy;
        return 0;
}

int images_commit(struct images *im, json_t *recs, struct err *err)
{
        json_t *copy, *all, *rec;
        size_t i;
        double now = now_epoch();

        pthread_mutex_lock(&im->mu);
        copy = json_deep_copy(im->doc);
        all = json_object_get(copy, "images");
        if (!copy) {
                pthread_mutex_unlock(&im->mu);
                return -ENOMEM;
        }
        json_array_foreach (recs, i, rec) {
                json_t *names = json_object_get(rec, "names"), *n, *old, *o;
                const char *id = jstr(rec, "id");
                size_t k, m;
                /* a name points at one image: it leaves any other (which stays, dangling, until prune) */
                json_array_foreach (names, k, n)
                        json_array_foreach (all, m, o)
                                if (strcmp(jstr(o, "id") ?: "", id))
                                        record_drop_name(o, json_string_value(n));
                if ((old = find_id(all, id, NULL))) {
                        json_t *on = json_object_get(old, "names");
                        json_array_foreach (names, k, n)
                                if (!record_has_name(old, json_string_value(n)))
                                        json_array_append(on, n);
                        if (*(jstr(rec, "manifestDigest") ?: ""))
                                json_object_set(old, "manifestDigest", json_object_get(rec, "manifestDigest"));
                        if (*(jstr(rec, "repoDigest") ?: ""))
                                json_object_set(old, "repoDigest", json_object_get(rec, "repoDigest"));
                        json_object_set_new(old, "pulledAt", json_real(now));
                } else {
                        json_t *nr = json_deep_copy(rec);
                        json_object_set_new(nr, "pulledAt", json_real(now));
                        json_array_append_new(all, nr);
                }
        }
        int r = swap_doc(im, copy, err);
        pthread_mutex_unlock(&im->mu);
        return r;
}

/* ---- leases ---- */

static bool task_id_valid(const char *t)
{
        size_t n = t ? strlen(t) : 0;
        if (n == 0 || n > TASK_ID_MAX || t[0] == '.')
                return false;
        for (; *t; t++)
                if (!isalnum((unsigned char) *t) && *t != '-' && *t != '_' && *t != '.')
                        return false;
        return true;
}

/* Every lease as {task id: [image ids]}. */
static int leases_read(struct images *im, json_t **ret, struct err *err)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_json_ json_t *out = json_object();
        DIR *d;
        struct dirent *de;

        if (!out || asprintf(&dir, "%s/leases", im->root) < 0)
                return -ENOMEM;
        if (!(d = opendir(dir)))
                return err_set(err, errno, NULL, "image store: open '%s': %s", dir, strerror(errno));
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL, *buf = NULL;
                _cleanup_fclose_ FILE *f = NULL;
                json_t *ids;
                size_t cap = 0;
                if (!task_id_valid(de->d_name) || strstr(de->d_name, ".tmp."))
                        continue;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0 || !(ids = json_array())) {
                        closedir(d);
                        return -ENOMEM;
                }
                json_object_set_new(out, de->d_name, ids);
                if (!(f = fopen(p, "re")))
                        continue;       /* dropped meanwhile */
                while (getline(&buf, &cap, f) > 0) {
                        buf[strcspn(buf, "\n")] = '\0';
                        if (image_digest_valid(buf))
                                json_array_append_new(ids, json_string(buf));
                }
        }
        closedir(d);
        *ret = TAKE_PTR(out);
        return 0;
}

/* The task holding id, or NULL. */
static const char *lease_holder(json_t *leases, const char *id)
{
        const char *task;
        json_t *ids, *x;
        size_t i;
        json_object_foreach (leases, task, ids)
                json_array_foreach (ids, i, x)
                        if (!strcmp(json_string_value(x), id))
                                return task;
        return NULL;
}

int images_lease(struct images *im, const char *task_id, const char *const *ids, struct err *err)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *leases = NULL;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;
        json_t *held;
        int r;

        if (!task_id_valid(task_id))
                return err_set(err, EINVAL, NULL, "lease: task id '%s' is not a file name", task_id ?: "");
        if (asprintf(&path, "%s/leases/%s", im->root, task_id) < 0)
                return -ENOMEM;
        pthread_mutex_lock(&im->mu);
        for (const char *const *p = ids; p && *p; p++)
                if (!image_digest_valid(*p) || !find_id(records(im), *p, NULL)) {
                        pthread_mutex_unlock(&im->mu);
                        return err_set(err, ENOENT, IMAGES_E_NOTFOUND, "lease for task %s: image '%s' is not in the store", task_id, *p);
                }
        if ((r = leases_read(im, &leases, err)) < 0) {
                pthread_mutex_unlock(&im->mu);
                return r;
        }
        held = json_object_get(leases, task_id);
        if (!(f = open_memstream(&buf, &len))) {
                pthread_mutex_unlock(&im->mu);
                return -ENOMEM;
        }
        {
                size_t i;
                json_t *x;
                json_array_foreach (held, i, x)
                        fprintf(f, "%s\n", json_string_value(x));
        }
        for (const char *const *p = ids; p && *p; p++) {
                bool dup = false;
                size_t i;
                json_t *x;
                json_array_foreach (held, i, x)
                        dup |= !strcmp(json_string_value(x), *p);
                if (!dup)
                        fprintf(f, "%s\n", *p);
        }
        fclose(f);
        r = write_file_durable(path, buf, len, 0600);
        pthread_mutex_unlock(&im->mu);
        free(buf);
        if (r < 0)
                return err_set(err, -r, NULL, "lease for task %s: write '%s': %s", task_id, path, strerror(-r));
        return 0;
}

/* ---- garbage ---- */

/* Bytes of the regular files below dir_fd (apparent size; hard links counted once each name). */
static uint64_t du_at(int dir_fd)
{
        DIR *d = fdopendir(dir_fd);
        struct dirent *de;
        uint64_t sum = 0;

        if (!d) {
                (void) close(dir_fd);
                return 0;
        }
        while ((de = readdir(d))) {
                struct stat st;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISREG(st.st_mode))
                        sum += (uint64_t) st.st_size;
                else if (S_ISDIR(st.st_mode)) {
                        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd >= 0)
                                sum += du_at(fd);
                }
        }
        closedir(d);
        return sum;
}

static bool name_in(json_t *set, const char *hex)
{
        char key[BLOB_DIGEST_MAX];
        snprintf(key, sizeof key, "sha256:%s", hex);
        return json_object_get(set, key) != NULL;
}

static bool hex64(const char *s)
{
        return strlen(s) == 64 && all_hex(s);
}

/* Remove blobs and layer directories no record refers to. Holding im->gc exclusively (no pull or
 * import has unnamed blobs in flight); takes im->mu only to read the records. */
static int gc_unreferenced(struct images *im, uint64_t *freed, struct err *err)
{
        _cleanup_json_ json_t *blobs = json_object(), *layers = json_object();
        _cleanup_free_ char *bdir = NULL, *ldir = NULL;
        json_t *rec, *l;
        size_t i, k;
        DIR *d;
        struct dirent *de;

        if (!blobs || !layers || asprintf(&bdir, "%s/blobs/sha256", im->root) < 0 || asprintf(&ldir, "%s/layers", im->root) < 0)
                return -ENOMEM;
        pthread_mutex_lock(&im->mu);
        json_array_foreach (records(im), i, rec) {
                static const char *const keys[] = { "id", "manifestDigest", "repoDigest", "indexDigest" };
                for (size_t j = 0; j < ELEMENTSOF(keys); j++)
                        if (*(jstr(rec, keys[j]) ?: ""))
                                json_object_set_new(blobs, jstr(rec, keys[j]), json_true());
                json_array_foreach (json_object_get(rec, "layers"), k, l) {
                        if (jstr(l, "digest"))
                                json_object_set_new(blobs, jstr(l, "digest"), json_true());
                        if (jstr(l, "diffId"))
                                json_object_set_new(layers, jstr(l, "diffId"), json_true());
                }
        }
        pthread_mutex_unlock(&im->mu);

        if (!(d = opendir(bdir)))
                return err_set(err, errno, NULL, "prune: open '%s': %s", bdir, strerror(errno));
        while ((de = readdir(d))) {
                struct stat st;
                if (!hex64(de->d_name) || name_in(blobs, de->d_name))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && unlinkat(dirfd(d), de->d_name, 0) == 0)
                        *freed += (uint64_t) st.st_size;
        }
        closedir(d);
        if (!(d = opendir(ldir)))
                return err_set(err, errno, NULL, "prune: open '%s': %s", ldir, strerror(errno));
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                int fd, r;
                if (!hex64(de->d_name) || name_in(layers, de->d_name))
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                uint64_t size = fd >= 0 ? du_at(fd) : 0;
                if (asprintf(&p, "%s/%s", ldir, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
                if ((r = rm_rf(p)) < 0) {
                        closedir(d);
                        return err_set(err, -r, NULL, "prune: remove layer '%s': %s", p, strerror(-r));
                }
                *freed += size;
        }
        closedir(d);
        return 0;
}

/* After a record went: its blobs and layers too, unless a pull or import is running (then prune
 * gets them later). */
static void gc_try(struct images *im)
{
        uint64_t freed = 0;
        if (pthread_rwlock_trywrlock(&im->gc) != 0)
                return;
        (void) gc_unreferenced(im, &freed, NULL);
        pthread_rwlock_unlock(&im->gc);
}

int images_lease_drop(struct images *im, const char *task_id)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *leases = NULL;
        json_t *held, *x, *copy;
        bool removed = false;
        size_t i;
        int r;

        if (!task_id_valid(task_id))
                return -EINVAL;
        if (asprintf(&path, "%s/leases/%s", im->root, task_id) < 0)
                return -ENOMEM;
        pthread_mutex_lock(&im->mu);
        if ((r = leases_read(im, &leases, NULL)) < 0)
                goto out;
        held = json_incref(json_object_get(leases, task_id));
        json_object_del(leases, task_id);
        if (unlink(path) < 0 && errno != ENOENT) {
                r = -errno;
                json_decref(held);
                goto out;
        }
        /* An image whose names went while the task ran (rm --force) goes with the lease. */
        copy = json_deep_copy(im->doc);
        json_array_foreach (held, i, x) {
                size_t idx;
                json_t *rec = find_id(json_object_get(copy, "images"), json_string_value(x), &idx);
                if (rec && json_array_size(json_object_get(rec, "names")) == 0 && !lease_holder(leases, json_string_value(x))) {
                        json_array_remove(json_object_get(copy, "images"), idx);
                        removed = true;
                }
        }
        json_decref(held);
        if (removed)
                r = swap_doc(im, copy, NULL);
        else
                json_decref(copy);
out:
        pthread_mutex_unlock(&im->mu);
        if (removed && r >= 0)
                gc_try(im);
        return r < 0 ? r : 0;
}

int images_remove(struct images *im, const char *name_or_id, bool force, struct err *err)
{
        _cleanup_free_ char *name = NULL;
        _cleanup_json_ json_t *leases = NULL;
        json_t *rec, *copy, *crec;
        const char *holder;
        size_t idx;
        bool gone = false;
        int r;

        pthread_mutex_lock(&im->mu);
        if ((r = resolve(im, name_or_id, &rec, &idx, &name, err)) < 0 || (r = leases_read(im, &leases, err)) < 0)
                goto out;
        holder = lease_holder(leases, jstr(rec, "id"));
        if (holder && !force) {
                r = err_set(err, EBUSY, IMAGES_E_INUSE, "image '%s' (%s) is in use by task %s", name_or_id, jstr(rec, "id"), holder);
                goto out;
        }
        if (!name && !force && json_array_size(json_object_get(rec, "names")) > 1) {
                r = err_set(err, EBUSY, IMAGES_E_INUSE, "image %s has %zu names: remove them one by one, or force", jstr(rec, "id"),
                            json_array_size(json_object_get(rec, "names")));
                goto out;
        }
        if (!(copy = json_deep_copy(im->doc))) {
                r = -ENOMEM;
                goto out;
        }
        crec = json_array_get(json_object_get(copy, "images"), idx);
        if (name)
                record_drop_name(crec, name);
        else
                json_array_clear(json_object_get(crec, "names"));
        if (json_array_size(json_object_get(crec, "names")) == 0 && !holder) {
                json_array_remove(json_object_get(copy, "images"), idx);
                gone = true;
        }
        r = swap_doc(im, copy, err);
out:
        pthread_mutex_unlock(&im->mu);
        if (gone && r >= 0)
                gc_try(im);
        return r < 0 ? r : 0;
}

int images_prune(struct images *im, bool all, uint64_t *ret_freed, struct err *err)
{
        _cleanup_json_ json_t *leases = NULL;
        json_t *copy, *recs;
        uint64_t freed = 0;
        bool changed = false;
        int r;

        pthread_rwlock_wrlock(&im->gc);
        pthread_mutex_lock(&im->mu);
        if ((r = leases_read(im, &leases, err)) < 0 || !(copy = json_deep_copy(im->doc))) {
                pthread_mutex_unlock(&im->mu);
                pthread_rwlock_unlock(&im->gc);
                return r < 0 ? r : -ENOMEM;
        }
        recs = json_object_get(copy, "images");
        for (size_t i = json_array_size(recs); i-- > 0;) {
                json_t *rec = json_array_get(recs, i);
                if (lease_holder(leases, jstr(rec, "id")))
                        continue;
                if (all || json_array_size(json_object_get(rec, "names")) == 0) {
                        json_array_remove(recs, i);
                        changed = true;
                }
        }
        r = changed ? swap_doc(im, copy, err) : (json_decref(copy), 0);
        pthread_mutex_unlock(&im->mu);
        if (r >= 0)
                r = gc_unreferenced(im, &freed, err);
        pthread_rwlock_unlock(&im->gc);
        if (r < 0)
                return r;
        if (ret_freed)
                *ret_freed = freed;
        return 0;
}

/* ---- lookups ---- */

int images_get(struct images *im, const char *name_or_id, struct image_info **ret, struct err *err)
{
        json_t *rec;
        int r;

        pthread_mutex_lock(&im->mu);
        r = resolve(im, name_or_id, &rec, NULL, NULL, err);
        if (r >= 0)
                r = record_info(rec, ret);
        pthread_mutex_unlock(&im->mu);
        return r;
}

static int newest_first(const void *a, const void *b)
{
        const struct image_info *x = *(struct image_info *const *) a, *y = *(struct image_info *const *) b;
        if (x->created != y->created)
                return x->created < y->created ? 1 : -1;
        if (x->pulled_at != y->pulled_at)
                return x->pulled_at < y->pulled_at ? 1 : -1;
        return strcmp(x->id, y->id);
}

int images_list(struct images *im, struct image_info ***ret, size_t *ret_n, struct err *err)
{
        struct image_info **v;
        size_t n, i;
        json_t *rec;
        int r = 0;

        pthread_mutex_lock(&im->mu);
        n = json_array_size(records(im));
        if (!(v = calloc(n ? n : 1, sizeof *v))) {
                pthread_mutex_unlock(&im->mu);
                return -ENOMEM;
        }
        json_array_foreach (records(im), i, rec)
                if ((r = record_info(rec, &v[i])) < 0)
                        break;
        pthread_mutex_unlock(&im->mu);
        if (r < 0) {
                image_infos_free(v, n);
                return r;
        }
        qsort(v, n, sizeof *v, newest_first);
        *ret = v;
        *ret_n = n;
        return 0;
}

int images_lowerdirs(struct images *im, const char *id, char ***ret, struct err *err)
{
        json_t *rec, *layers;
        char **v;
        size_t n;
        int r;

        pthread_mutex_lock(&im->mu);
        if ((r = resolve(im, id, &rec, NULL, NULL, err)) < 0) {
                pthread_mutex_unlock(&im->mu);
                return r;
        }
        layers = json_object_get(rec, "layers");
        n = json_array_size(layers);
        if (!(v = calloc(n + 1, sizeof *v))) {
                pthread_mutex_unlock(&im->mu);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                const char *d = jstr(json_array_get(layers, n - 1 - i), "diffId");
                if (!(v[i] = layer_path(im->root, d ?: ""))) {
                        r = -ENOMEM;
                        break;
                }
                if (!layer_exists(im->root, d)) {
                        r = err_set(err, ENOENT, IMAGES_E_LAYER, "image %s: layer %s is missing from '%s'", jstr(rec, "id"), d, v[i]);
                        break;
                }
        }
        pthread_mutex_unlock(&im->mu);
        if (r < 0) {
                for (size_t i = 0; i <= n; i++)
                        free(v[i]);
                free(v);
                return r;
        }
        *ret = v;
        return 0;
}

/* ---- building records ---- */

static void watch_layer(const struct unpack_watch *w, size_t i, enum registry_layer_state st)
{
        struct registry_layer_progress *l;
        if (!w || !w->prog || i >= w->prog->n_layers)
                return;
        l = &w->prog->layers[i];
        if (l->state == REG_LAYER_EXISTS)
                return;         /* docker's "Already exists" stays */
        l->state = st;
        if (w->fn)
                (void) w->fn(w->prog, w->userdata);
}

int images_build_record(struct images *im, const char *config_digest, const struct layer_ref *layers, size_t n,
                        const char *manifest_digest, const char *repo_digest, const struct unpack_watch *watch, json_t **ret,
                        struct err *err)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ char(*diff)[72] = NULL;
        _cleanup_json_ json_t *rec = NULL, *jl = json_array();
        struct image_config ic = { 0 };
        size_t len, n_diff = 0;
        double created = 0;
        uint64_t size = 0;
        int r;

        if (!jl)
                return -ENOMEM;
        if ((r = blob_read(im->root, config_digest, MANIFEST_MAX_BYTES, &buf, &len, err)) < 0)
                return err_wrap(err, "configuration %s", config_digest);
        if ((r = image_config_parse(buf, len, &ic, &diff, &n_diff, &created, err)) < 0)
                return err_wrap(err, "configuration %s", config_digest);
        if (n_diff != n) {
                image_config_done(&ic);
                return err_set(err, EINVAL, IMAGES_E_LAYER, "configuration %s lists %zu diff ids for %zu layers", config_digest, n_diff,
                               n);
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int fd = blob_open(im->root, layers[i].digest, err);
                struct stat st;
                if (fd < 0) {
                        image_config_done(&ic);
                        return err_wrap(err, "layer %zu", i);
                }
                watch_layer(watch, i, REG_LAYER_EXTRACTING);
                if ((r = layer_unpack(im->root, fd, diff[i], NULL, err)) < 0) {
                        image_config_done(&ic);
                        return err_wrap(err, "layer %zu (%s)", i, layers[i].digest);
                }
                watch_layer(watch, i, REG_LAYER_DONE);
                if (fstat(fd, &st) == 0)
                        size += (uint64_t) st.st_size;
                json_array_append_new(jl, json_pack("{s:s,s:s,s:I}", "diffId", diff[i], "digest", layers[i].digest, "size",
                                                    (json_int_t) st.st_size));
        }
        rec = json_pack("{s:s,s:s,s:s,s:[],s:I,s:f,s:O,s:o}", "id", config_digest, "manifestDigest", manifest_digest ?: "",
                        "repoDigest", repo_digest ?: "", "names", "size", (json_int_t) size, "created", created, "layers", jl,
                        "config", config_json(&ic));
        image_config_done(&ic);
        if (!rec)
                return -ENOMEM;
        *ret = TAKE_PTR(rec);
        return 0;
}

/* ---- pulls ---- */

static bool layers_present(struct images *im, json_t *rec)
{
        size_t i;
        json_t *l;
        json_array_foreach (json_object_get(rec, "layers"), i, l)
                if (!layer_exists(im->root, jstr(l, "diffId") ?: ""))
                        return false;
        return true;
}

/* The cached record for ref, or NULL (also when its layers went missing). Under im->mu. */
static json_t *cached(struct images *im, const struct image_ref *ref, const char *canonical)
{
        json_t *rec = ref->digest ? find_digest_ref(records(im), ref, canonical, NULL) : find_name(records(im), canonical, NULL);
        return rec && layers_present(im, rec) ? rec : NULL;
}

static bool need_pull(enum pull_policy policy, json_t *rec, const struct image_ref *ref)
{
        if (!rec)
                return true;
        if (ref->digest)
                return false;   /* content-addressed: what is there is what was asked for */
        switch (policy) {
        case PULL_ALWAYS:
                return true;
        case PULL_ONCE:
        case PULL_PREFER_CACHED:
                return false;
        case PULL_DEFAULT:
        default:
                return ref->tag && !strcmp(ref->tag, "latest") && now_epoch() - jnum(rec, "pulledAt") >= IMAGES_LATEST_FRESH_S;
        }
}

/* Keeps the pull's last progress for the unpacking that follows (unpack_watch). */
static int keep_progress(const struct registry_progress *p, void *userdata)
{
        struct unpack_watch *w = userdata;
        *w->prog = *p;
        return w->fn ? w->fn(p, w->userdata) : 0;
}

static int pull_image(struct images *im, const struct image_ref *ref, const char *canonical, const char *user, const char *pass,
                      registry_progress_fn progress, void *userdata, struct err *err)
{
        struct registry_config cfg = im->reg;
        _cleanup_free_ struct registry_progress *last = calloc(1, sizeof *last);
        struct unpack_watch watch = { progress, userdata, last };
        struct registry_pull_result res = { 0 };
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ struct layer_ref *layers = NULL;
        _cleanup_json_ json_t *rec = NULL, *recs = NULL;
        const char *names[2] = { canonical, NULL };
        struct manifest *m = NULL;
        size_t len;
        int r;

        if (!last)
                return -ENOMEM;
        if (user) {
                cfg.user = user;
                cfg.pass = pass;
        }
        if ((r = registry_pull(&cfg, ref, im->root, keep_progress, &watch, &res, err)) < 0)
                return r;
        if ((r = blob_read(im->root, res.manifest_digest, MANIFEST_MAX_BYTES, &buf, &len, err)) < 0 ||
            (r = manifest_parse(buf, len, NULL, &m, err)) < 0)
                return err_wrap(err, "image %s: manifest %s", canonical, res.manifest_digest);
        if (m->kind != MANIFEST_IMAGE) {
                manifest_free(m);
                return err_set(err, EINVAL, REG_E_PROTOCOL, "image %s: manifest %s is an index, not an image manifest", canonical,
                               res.manifest_digest);
        }
        if (!(layers = calloc(m->n_layers ? m->n_layers : 1, sizeof *layers))) {
                manifest_free(m);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->n_layers; i++) {
                memcpy(layers[i].digest, m->layers[i].digest, sizeof layers[i].digest);
                layers[i].size = m->layers[i].size;
        }
        r = images_build_record(im, m->config.digest, layers, m->n_layers, res.manifest_digest, res.repo_digest, &watch, &rec, err);
        manifest_free(m);
        if (r < 0)
                return err_wrap(err, "image %s", canonical);
        if (res.index_digest[0])
                json_object_set_new(rec, "indexDigest", json_string(res.index_digest));
        if ((r = record_set_names(rec, names)) < 0 || !(recs = json_pack("[O]", rec)))
                return r < 0 ? r : -ENOMEM;
        return images_commit(im, recs, err);
}

int images_ensure(struct images *im, const char *name, enum pull_policy policy, registry_progress_fn progress, void *userdata,
                  struct image_info **ret, bool *ret_pulled, struct err *err)
{
        return images_ensure_auth(im, name, policy, NULL, NULL, progress, userdata, ret, ret_pulled, err);
}

int images_ensure_auth(struct images *im, const char *name, enum pull_policy policy, const char *user, const char *pass,
                       registry_progress_fn progress, void *userdata, struct image_info **ret, bool *ret_pulled, struct err *err)
{
        _cleanup_free_ char *canonical = NULL;
        struct image_ref ref;
        struct pull *p;
        json_t *rec;
        int r;

        if ((r = image_ref_parse(name, &ref, err)) < 0)
                return r;
        if (!(canonical = image_ref_canonical(&ref))) {
                image_ref_done(&ref);
                return -ENOMEM;
        }
        pthread_mutex_lock(&im->mu);
        rec = cached(im, &ref, canonical);
        if (!need_pull(policy, rec, &ref)) {
                r = record_info(rec, ret);
                pthread_mutex_unlock(&im->mu);
                image_ref_done(&ref);
                if (r >= 0 && ret_pulled)
                        *ret_pulled = false;
                return r;
        }
        for (p = im->pulls; p && strcmp(p->name, canonical); p = p->next)
                ;
        if (p) {
                /* someone pulls this name already: share the outcome */
                p->refs++;
                while (!p->done)
                        pthread_cond_wait(&im->cv, &im->mu);
        } else {
                if (!(p = calloc(1, sizeof *p)) || !(p->name = strdup(canonical))) {
                        free(p);
                        pthread_mutex_unlock(&im->mu);
                        image_ref_done(&ref);
                        return -ENOMEM;
                }
                p->refs = 1;
                p->next = im->pulls;
                im->pulls = p;
                pthread_mutex_unlock(&im->mu);

                pthread_rwlock_rdlock(&im->gc);
                p->r = pull_image(im, &ref, canonical, user, pass, progress, userdata, &p->err);
                pthread_rwlock_unlock(&im->gc);

                pthread_mutex_lock(&im->mu);
                for (struct pull **pp = &im->pulls; *pp; pp = &(*pp)->next)
                        if (*pp == p) {
                                *pp = p->next;
                                break;
                        }
                p->done = true;
                pthread_cond_broadcast(&im->cv);
        }
        r = p->r;
        if (r < 0 && err)
                *err = p->err;
        pull_unref(p);
        rec = cached(im, &ref, canonical);
        /* ECS's default behaviour: a failed pull falls back to the cached image. */
        if (r < 0 && policy == PULL_DEFAULT && rec) {
                err_clear(err);
                r = 0;
        }
        if (r >= 0 && !rec)
                r = err_set(err, ENOENT, IMAGES_E_NOTFOUND, "image %s: pulled, but its record went meanwhile", canonical);
        if (r >= 0)
                r = record_info(rec, ret);
        pthread_mutex_unlock(&im->mu);
        image_ref_done(&ref);
        if (r >= 0 && ret_pulled)
                *ret_pulled = true;
        return r;
}

/* ---- open, close ---- */

static int load(struct images *im, struct err *err)
{
        _cleanup_free_ char *path = NULL;
        json_error_t je;
        json_t *doc, *recs, *rec;
        size_t i;

        if (asprintf(&path, "%s/images.json", im->root) < 0)
                return -ENOMEM;
        if (access(path, F_OK) < 0 && errno == ENOENT) {
                im->doc = json_pack("{s:i,s:[]}", "version", 1, "images");
                return im->doc ? 0 : -ENOMEM;
        }
        doc = json_load_file(path, 0, &je);
        if (!doc)
                return err_set(err, EINVAL, NULL, "image store: '%s' line %d column %d: %s", path, je.line, je.column, je.text);
        recs = json_object_get(doc, "images");
        if (!json_is_array(recs)) {
                json_decref(doc);
                return err_set(err, EINVAL, NULL, "image store: '%s' has no \"images\" list", path);
        }
        json_array_foreach (recs, i, rec)
                if (!image_digest_valid(jstr(rec, "id")) || !json_is_array(json_object_get(rec, "names")) ||
                    !json_is_array(json_object_get(rec, "layers"))) {
                        json_decref(doc);
                        return err_set(err, EINVAL, NULL, "image store: '%s': record %zu is not an image record", path, i);
                }
        im->doc = doc;
        return 0;
}

/* A crash between write and rename leaves "NAME.tmp.PID" files (write_file_durable). */
static void remove_tmp_files(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        if (!d)
                return;
        while ((de = readdir(d)))
                if (strstr(de->d_name, ".tmp."))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

struct images *images_close(struct images *im)
{
        if (!im)
                return NULL;
        json_decref(im->doc);
        pthread_mutex_destroy(&im->mu);
        pthread_cond_destroy(&im->cv);
        pthread_rwlock_destroy(&im->gc);
        free(im->root);
        free(im);
        return NULL;
}

int images_open(const struct images_options *o, struct images **ret, struct err *err)
{
        _cleanup_free_ char *leases = NULL;
        pthread_rwlockattr_t ra;
        struct images *im;
        int r;

        if (!o || !o->root || !*o->root)
                return err_set(err, EINVAL, NULL, "image store: no root directory");
        if ((r = mkdir_p(o->root, 0700)) < 0)
                return err_set(err, -r, NULL, "image store: create '%s': %s", o->root, strerror(-r));
        if (!(im = calloc(1, sizeof *im)))
                return -ENOMEM;
        pthread_mutex_init(&im->mu, NULL);
        pthread_cond_init(&im->cv, NULL);
        /* writer first: a prune is not starved by a stream of pulls */
        pthread_rwlockattr_init(&ra);
        pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&im->gc, &ra);
        pthread_rwlockattr_destroy(&ra);
        im->reg = o->registry;
        im->policy = o->policy;
        if (!(im->root = realpath(o->root, NULL))) {
                r = err_set(err, errno, NULL, "image store: '%s': %s", o->root, strerror(errno));
                goto fail;
        }
        if (asprintf(&leases, "%s/leases", im->root) < 0) {
                r = -ENOMEM;
                goto fail;
        }
        if ((r = blob_store_init(im->root, err)) < 0 || (r = layer_store_init(im->root, err)) < 0)
                goto fail;
        if ((r = mkdir_p(leases, 0700)) < 0) {
                r = err_set(err, -r, NULL, "image store: create '%s': %s", leases, strerror(-r));
                goto fail;
        }
        remove_tmp_files(im->root);
        remove_tmp_files(leases);
        if ((r = load(im, err)) < 0)
                goto fail;
        *ret = im;
        return 0;
fail:
        images_close(im);
        return r;
}
