/* import.c: docker-save archives (manifest.json, and the OCI layout Docker 25 adds beside it) and OCI
 * image layouts (a directory or a tar of one) read into the store, every blob verified. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "images.h"
#include "manifest.h"
#include "ref.h"
#include "store_int.h"

#define MAX_IMAGES 1024
#define MAX_LINKS 8

struct source {
        struct images *im;
        const char *path;       /* what the user named, for messages */
        int dir_fd;             /* a directory layout, or -1 for a tar */
        json_t *members;        /* tar: member path -> digest of the blob it was stored as */
        json_t *links;          /* tar: member path -> the path it links to */
        json_t *wanted;         /* tar, pass 2: paths to store besides blobs/sha256/ */
        char *manifest_json, *index_json;
        size_t manifest_len, index_len;
        bool oci_layout;
};

static inline void archive_read_freep(struct archive **a)
{
        if (*a)
                (void) archive_read_free(*a);
}

static bool hex64(const char *s)
{
        if (strlen(s) != 64)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

/* A layout path made clean, lexically: "./a/../b//c" -> "b/c". Refuses leaving the layout. */
static int norm_path(const char *in, char *out, size_t size)
{
        size_t o = 0;
        const char *p = in;

        while (*p == '/')
                p++;
        while (*p) {
                const char *q = strchrnul(p, '/');
                size_t n = (size_t) (q - p);
                if (n == 2 && p[0] == '.' && p[1] == '.') {
                        if (o == 0)
                                return -EPERM;
                        while (o > 0 && out[o - 1] != '/')
                                o--;
                        if (o > 0)
                                o--;
                } else if (n > 0 && !(n == 1 && p[0] == '.')) {
                        if (o + n + 2 > size)
                                return -ENAMETOOLONG;
                        if (o)
                                out[o++] = '/';
                        memcpy(out + o, p, n);
                        o += n;
                }
                p = *q ? q + 1 : q;
        }
        out[o] = '\0';
        return 0;
}

/* "blobs/sha256/<hex>" -> "sha256:<hex>"; a legacy "<hex>.json" config -> its digest; else "". */
static void digest_of_path(const char *p, char ret[BLOB_DIGEST_MAX])
{
        ret[0] = '\0';
        if (!strncmp(p, "blobs/sha256/", 13) && hex64(p + 13))
                snprintf(ret, BLOB_DIGEST_MAX, "sha256:%s", p + 13);
        else if (strlen(p) == 69 && !strcmp(p + 64, ".json")) {
                char hex[65];
                memcpy(hex, p, 64);
                hex[64] = '\0';
                if (hex64(hex))
                        snprintf(ret, BLOB_DIGEST_MAX, "sha256:%s", hex);
        }
}

static struct archive *tar_open(const char *path, struct err *err)
{
        struct archive *a = archive_read_new();
        if (!a) {
                err_set(err, ENOMEM, NULL, "out of memory");
                return NULL;
        }
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a);
        archive_read_support_filter_xz(a);
        archive_read_support_filter_bzip2(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
                err_set(err, archive_errno(a) > 0 ? archive_errno(a) : EINVAL, IMAGES_E_ARCHIVE, "import '%s': %s", path,
                        archive_error_string(a) ?: "cannot open");
                archive_read_free(a);
                return NULL;
        }
        return a;
}

static int read_small(struct archive *a, const char *src, const char *member, char **ret, size_t *ret_len, struct err *err)
{
        char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                if (len + 65536 > MANIFEST_MAX_BYTES) {
                        free(buf);
                        return err_set(err, EFBIG, IMAGES_E_ARCHIVE, "import '%s': %s is larger than %u bytes", src, member,
                                       MANIFEST_MAX_BYTES);
                }
                if (len + 65536 + 1 > cap) {
                        char *nb = realloc(buf, cap = len + 65536 + 1);
                        if (!nb) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = nb;
                }
                la_ssize_t n = archive_read_data(a, buf + len, 65536);
                if (n < 0) {
                        free(buf);
                        return err_set(err, EIO, IMAGES_E_ARCHIVE, "import '%s': read %s: %s", src, member, archive_error_string(a) ?: "error");
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = '\0';
        free(*ret);
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* Pass 1: the layout's small files. */
static int tar_read_meta(struct source *s, struct err *err)
{
        _cleanup_(archive_read_freep) struct archive *a = tar_open(s->path, err);
        struct archive_entry *e;
        int r;

        if (!a)
                return -(err && err->errnum ? err->errnum : EINVAL);
        for (;;) {
                char p[PATH_MAX];
                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return err_set(err, EINVAL, IMAGES_E_ARCHIVE, "import '%s': %s", s->path, archive_error_string(a) ?: "not a tar");
                if (!archive_entry_pathname(e) || norm_path(archive_entry_pathname(e), p, sizeof p) < 0 ||
                    archive_entry_filetype(e) != AE_IFREG)
                        continue;
                if (!strcmp(p, "manifest.json"))
                        r = read_small(a, s->path, p, &s->manifest_json, &s->manifest_len, err);
                else if (!strcmp(p, "index.json"))
                        r = read_small(a, s->path, p, &s->index_json, &s->index_len, err);
                else if (!strcmp(p, "oci-layout"))
                        s->oci_layout = true, r = 0;
                else
                        r = 0;
                if (r < 0)
                        return r;
        }
}

static int store_member(struct source *s, struct archive *a, struct archive_entry *e, const char *p, struct err *err)
{
        char expected[BLOB_DIGEST_MAX], digest[BLOB_DIGEST_MAX];
        struct blob_writer *w = NULL;
        char buf[65536];
        int r;

        digest_of_path(p, expected);
        r = blob_writer_open(s->im->root, expected[0] ? expected : NULL,
                             archive_entry_size_is_set(e) ? archive_entry_size(e) : -1, &w, err);
        if (r < 0)
                return err_wrap(err, "import '%s': %s", s->path, p);
        if (!w) {       /* already in the store */
                json_object_set_new(s->members, p, json_string(expected));
                return 0;
        }
        for (;;) {
                la_ssize_t n = archive_read_data(a, buf, sizeof buf);
                if (n < 0) {
                        blob_writer_free(w);
                        return err_set(err, EIO, IMAGES_E_ARCHIVE, "import '%s': read %s: %s", s->path, p, archive_error_string(a) ?: "error");
                }
                if (n == 0)
                        break;
                if ((r = blob_writer_write(w, buf, (size_t) n, err)) < 0) {
                        blob_writer_free(w);
                        return err_wrap(err, "import '%s': %s", s->path, p);
                }
        }
        if ((r = blob_writer_commit(w, digest, err)) < 0)
                return err_wrap(err, "import '%s': %s", s->path, p);
        json_object_set_new(s->members, p, json_string(digest));
        return 0;
}

/* Pass 2: every blobs/sha256/ member and the wanted ones into the blob store; links remembered. */
static int tar_store(struct source *s, struct err *err)
{
        _cleanup_(archive_read_freep) struct archive *a = tar_open(s->path, err);
        struct archive_entry *e;
        int r;

        if (!a)
                return -(err && err->errnum ? err->errnum : EINVAL);
        for (;;) {
                char p[PATH_MAX], target[PATH_MAX], joined[2 * PATH_MAX];
                char d[BLOB_DIGEST_MAX];
                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return err_set(err, EINVAL, IMAGES_E_ARCHIVE, "import '%s': %s", s->path, archive_error_string(a) ?: "not a tar");
                if (!archive_entry_pathname(e) || norm_path(archive_entry_pathname(e), p, sizeof p) < 0)
                        continue;
                digest_of_path(p, d);
                if (!(d[0] && !strncmp(p, "blobs/", 6)) && !json_object_get(s->wanted, p))
                        continue;
                if (archive_entry_hardlink(e)) {
                        if (norm_path(archive_entry_hardlink(e), target, sizeof target) == 0)
                                json_object_set_new(s->links, p, json_string(target));
                        continue;
                }
                if (archive_entry_filetype(e) == AE_IFLNK) {
                        const char *slash = strrchr(p, '/'), *t = archive_entry_symlink(e);
                        if (!t)
                                continue;
                        snprintf(joined, sizeof joined, "%.*s/%s", slash ? (int) (slash - p) : 0, p, t);
                        if (norm_path(t[0] == '/' ? t : joined, target, sizeof target) == 0)
                                json_object_set_new(s->links, p, json_string(target));
                        continue;
                }
                if (archive_entry_filetype(e) != AE_IFREG)
                        continue;
                if ((r = store_member(s, a, e, p, err)) < 0)
                        return r;
        }
}

/* A layout path as a blob in the store. A tar's members were stored by pass 2; a directory's
 * file is copied now (verified against expected when given, a blobs/sha256 path's own digest
 * otherwise). */
static int member_blob(struct source *s, const char *path, const char *expected, int64_t size, char ret[BLOB_DIGEST_MAX],
                       struct err *err)
{
        char p[PATH_MAX], own[BLOB_DIGEST_MAX];
        int r;

        if (!path || norm_path(path, p, sizeof p) < 0 || !*p)
                return err_set(err, EINVAL, IMAGES_E_ARCHIVE, "import '%s': path '%s' leaves the layout", s->path, path ?: "");
        if (s->dir_fd >= 0) {
                _cleanup_close_ int fd = openat(s->dir_fd, p, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return err_set(err, errno, IMAGES_E_ARCHIVE, "import '%s': open '%s': %s", s->path, p, strerror(errno));
                digest_of_path(p, own);
                if (!expected && own[0])
                        expected = own;
                if ((r = blob_put_fd(s->im->root, fd, expected, size, ret, err)) < 0)
                        return err_wrap(err, "import '%s': %s", s->path, p);
                return 0;
        }
        for (int hops = 0; hops <= MAX_LINKS; hops++) {
                const char *d = jstr(s->members, p), *l;
                if (d) {
                        if (expected && strcmp(expected, d))
                                return err_set(err, EIO, BLOB_E_DIGEST, "import '%s': %s has digest %s, not %s", s->path, p, d, expected);
                        snprintf(ret, BLOB_DIGEST_MAX, "%s", d);
                        return 0;
                }
                if (!(l = jstr(s->links, p)))
                        break;
                snprintf(p, sizeof p, "%s", l);
        }
        return err_set(err, ENOENT, IMAGES_E_ARCHIVE, "import '%s': '%s' is not in the archive", s->path, path);
}

static int blob_by_digest(struct source *s, const char *digest, int64_t size, struct err *err)
{
        char path[BLOB_DIGEST_MAX + 16], got[BLOB_DIGEST_MAX];
        snprintf(path, sizeof path, "blobs/sha256/%s", digest + 7);
        return member_blob(s, path, digest, size, got, err);
}

static int canonical_name(const char *name, char **ret, struct err *err)
{
        struct image_ref ref;
        int r = image_ref_parse(name, &ref, err);
        if (r < 0)
                return r;
        *ret = image_ref_canonical(&ref);
        image_ref_done(&ref);
        return *ret ? 0 : -ENOMEM;
}

static int add_named(json_t *recs, json_t *rec, json_t *names)
{
        size_t i;
        json_t *n;
        const char **v = calloc(json_array_size(names) + 1, sizeof *v);
        int r;
        if (!v)
                return -ENOMEM;
        json_array_foreach (names, i, n)
                v[i] = json_string_value(n);
        r = record_set_names(rec, v);
        free(v);
        return r < 0 ? r : json_array_append(recs, rec) < 0 ? -ENOMEM : 0;
}

/* Docker 25 also writes index.json: the manifest whose config is config_digest gives the image its
 * manifest digest (else it has none, as a pre-25 archive's). */
static void manifest_digest_for(struct source *s, const struct manifest *index, const char *config_digest, char ret[BLOB_DIGEST_MAX])
{
        ret[0] = '\0';
        for (size_t i = 0; index && i < index->n_manifests; i++) {
                _cleanup_free_ char *buf = NULL;
                struct manifest *m = NULL;
                size_t len;
                struct err e = { 0 };
                if (blob_by_digest(s, index->manifests[i].digest, index->manifests[i].size, &e) < 0 ||
                    blob_read(s->im->root, index->manifests[i].digest, MANIFEST_MAX_BYTES, &buf, &len, &e) < 0 ||
                    manifest_parse(buf, len, index->manifests[i].media_type, &m, &e) < 0)
                        continue;
                if (m->kind == MANIFEST_IMAGE && !strcmp(m->config.digest, config_digest))
                        snprintf(ret, BLOB_DIGEST_MAX, "%s", index->manifests[i].digest);
                manifest_free(m);
                if (ret[0])
                        return;
        }
}

static struct manifest *parse_index(struct source *s)
{
        struct manifest *m = NULL;
        if (!s->index_json || manifest_parse(s->index_json, s->index_len, MT_OCI_INDEX, &m, NULL) < 0)
                return NULL;
        if (m->kind != MANIFEST_INDEX)
                m = manifest_free(m);
        return m;
}

/* docker save: [{"Config": path, "RepoTags": [...], "Layers": [paths]}]. */
static int import_docker(struct source *s, const char *name, json_t *recs, struct err *err)
{
        _cleanup_json_ json_t *j = NULL;
        struct manifest *index = parse_index(s);
        json_error_t je;
        json_t *entry;
        size_t i;
        int r = 0;

        j = json_loadb(s->manifest_json, s->manifest_len, 0, &je);
        if (!json_is_array(j) || json_array_size(j) == 0 || json_array_size(j) > MAX_IMAGES) {
                manifest_free(index);
                return err_set(err, EINVAL, IMAGES_E_ARCHIVE, "import '%s': manifest.json is not a list of images%s%s", s->path,
                               j ? "" : ": ", j ? "" : je.text);
        }
        json_array_foreach (j, i, entry) {
                _cleanup_free_ struct layer_ref *layers = NULL;
                _cleanup_json_ json_t *rec = NULL, *names = json_array();
                json_t *jl = json_object_get(entry, "Layers"), *tags = json_object_get(entry, "RepoTags"), *x;
                char config[BLOB_DIGEST_MAX], mdigest[BLOB_DIGEST_MAX];
                size_t n = json_array_size(jl), k;

                if (!jstr(entry, "Config") || !json_is_array(jl) || n > MANIFEST_MAX_LAYERS) {
                        r = err_set(err, EINVAL, IMAGES_E_ARCHIVE, "import '%s': manifest.json entry %zu lacks Config or Layers", s->path, i);
                        break;
                }
                if (!names || !(layers = calloc(n ? n : 1, sizeof *layers))) {
                        r = -ENOMEM;
                        break;
                }
                if ((r = member_blob(s, jstr(entry, "Config"), NULL, -1, config, err)) < 0)
                        break;
                json_array_foreach (jl, k, x) {
                        if ((r = member_blob(s, json_string_value(x), NULL, -1, layers[k].digest, err)) < 0)
                                break;
                        layers[k].size = -1;
                }
                if (r < 0)
                        break;
                manifest_digest_for(s, index, config, mdigest);
                if ((r = images_build_record(s->im, config, layers, n, mdigest, "", NULL, &rec, err)) < 0) {
                        err_wrap(err, "import '%s'", s->path);
                        break;
                }
                if (!name)
                        json_array_foreach (tags, k, x) {
                                _cleanup_free_ char *c = NULL;
                                if (!json_is_string(x) || (r = canonical_name(json_string_value(x), &c, err)) < 0) {
                                        r = err_set(err, EINVAL, IMAGES_E_ARCHIVE, "import '%s': RepoTags entry %zu is not an image name", s->path,
                                                    k);
                                        break;
                                }
                                json_array_append_new(names, json_string(c));
                        }
                if (r < 0 || (r = add_named(recs, rec, names)) < 0)
                        break;
        }
        manifest_free(index);
        return r;
}

/* The name an OCI layout gives an index entry: containerd's full name, or a ref.name that is a
 * whole reference (a bare tag names no repository). */
static int oci_entry_name(json_t *entry, char **ret)
{
        json_t *ann = json_object_get(entry, "annotations");
        const char *full = jstr(ann, "io.containerd.image.name"), *ref = jstr(ann, "org.opencontainers.image.ref.name");
        *ret = NULL;
        if (full && canonical_name(full, ret, NULL) == 0)
                return 0;
        if (ref && (strchr(ref, '/') || strchr(ref, ':')) && canonical_name(ref, ret, NULL) == 0)
                return 0;
        return 0;
}

static int import_oci(struct source *s, json_t *recs, struct err *err)
{
        struct manifest *index = NULL;
        _cleanup_json_ json_t *raw = NULL;
        struct platform host;
        size_t skipped = 0;
        int r;

        platform_host(&host);
        if ((r = manifest_parse(s->index_json, s->index_len, MT_OCI_INDEX, &index, err)) < 0)
                return err_wrap(err, "import '%s': index.json", s->path);
        if (index->kind != MANIFEST_INDEX) {
                manifest_free(index);
                return err_set(err, EINVAL, IMAGES_E_ARCHIVE, "import '%s': index.json is not an index", s->path);
        }
        raw = json_loadb(s->index_json, s->index_len, 0, NULL);
        for (size_t i = 0; i < index->n_manifests && r >= 0; i++) {
                const struct descriptor *d = &index->manifests[i];
                _cleanup_free_ char *buf = NULL, *cname = NULL;
                _cleanup_free_ struct layer_ref *layers = NULL;
                _cleanup_json_ json_t *rec = NULL, *names = json_array();
                struct manifest *m = NULL;
                char mdigest[BLOB_DIGEST_MAX];
                size_t len;

                if (d->platform.os[0] && (strcmp(d->platform.os, host.os) || strcmp(d->platform.arch, host.arch))) {
                        skipped++;
                        continue;
                }
                snprintf(mdigest, sizeof mdigest, "%s", d->digest);
                if ((r = blob_by_digest(s, d->digest, d->size, err)) < 0 ||
                    (r = blob_read(s->im->root, d->digest, MANIFEST_MAX_BYTES, &buf, &len, err)) < 0 ||
                    (r = manifest_parse(buf, len, d->media_type, &m, err)) < 0)
                        break;
                if (m->kind == MANIFEST_INDEX) {
                        const struct descriptor *sel = manifest_select(m, &host);
                        struct manifest *inner = NULL;
                        if (!sel) {
                                manifest_free(m);
                                skipped++;
                                continue;
                        }
                        snprintf(mdigest, sizeof mdigest, "%s", sel->digest);
                        free(buf);
                        buf = NULL;
                        if ((r = blob_by_digest(s, sel->digest, sel->size, err)) < 0 ||
                            (r = blob_read(s->im->root, sel->digest, MANIFEST_MAX_BYTES, &buf, &len, err)) < 0 ||
                            (r = manifest_parse(buf, len, sel->media_type, &inner, err)) < 0) {
                                manifest_free(m);
                                break;
                        }
                        manifest_free(m);
                        m = inner;
                        if (m->kind != MANIFEST_IMAGE) {
                                manifest_free(m);
                                r = err_set(err, EINVAL, IMAGES_E_ARCHIVE, "import '%s': %s: an index inside an index", s->path, sel->digest);
                                break;
                        }
                }
                if (!names || !(layers = calloc(m->n_layers ? m->n_layers : 1, sizeof *layers))) {
                        manifest_free(m);
                        r = -ENOMEM;
                        break;
                }
                r = blob_by_digest(s, m->config.digest, m->config.size, err);
                for (size_t k = 0; r >= 0 && k < m->n_layers; k++) {
                        memcpy(layers[k].digest, m->layers[k].digest, sizeof layers[k].digest);
                        layers[k].size = m->layers[k].size;
                        r = blob_by_digest(s, m->layers[k].digest, m->layers[k].size, err);
                }
                if (r >= 0)
                        r = images_build_record(s->im, m->config.digest, layers, m->n_layers, mdigest, "", NULL, &rec, err);
                manifest_free(m);
                if (r < 0) {
                        err_wrap(err, "import '%s'", s->path);
                        break;
                }
                oci_entry_name(json_array_get(json_object_get(raw, "manifests"), i), &cname);
                if (cname)
                        json_array_append_new(names, json_string(cname));
                r = add_named(recs, rec, names);
        }
        manifest_free(index);
        if (r >= 0 && json_array_size(recs) == 0)
                r = err_set(err, ENOENT, IMAGES_E_ARCHIVE, "import '%s': no image for %s/%s (%zu of another platform)", s->path, host.os,
                            host.arch, skipped);
        return r;
}

static int read_dir_file(int dir_fd, const char *name, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t off = 0;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size > (off_t) MANIFEST_MAX_BYTES)
                return -EFBIG;
        if (!(buf = malloc((size_t) st.st_size + 1)))
                return -ENOMEM;
        while (off < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + off, (size_t) st.st_size - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                off += (size_t) n;
        }
        buf[off] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = off;
        return 0;
}

/* The tar's paths wanted in pass 2 (docker save: Config and Layers, wherever they are). */
static void want_docker_paths(struct source *s)
{
        _cleanup_json_ json_t *j = json_loadb(s->manifest_json, s->manifest_len, 0, NULL);
        json_t *entry, *x;
        size_t i, k;
        char p[PATH_MAX];

        json_array_foreach (j, i, entry) {
                if (jstr(entry, "Config") && norm_path(jstr(entry, "Config"), p, sizeof p) == 0)
                        json_object_set_new(s->wanted, p, json_true());
                json_array_foreach (json_object_get(entry, "Layers"), k, x)
                        if (json_is_string(x) && norm_path(json_string_value(x), p, sizeof p) == 0)
                                json_object_set_new(s->wanted, p, json_true());
        }
}

int images_import(struct images *im, const char *path, const char *name, char ***ret_ids, struct err *err)
{
        struct source s = { .im = im, .path = path, .dir_fd = -1 };
        _cleanup_json_ json_t *recs = json_array();
        _cleanup_free_ char *cname = NULL;
        struct stat st;
        int r;

        if (!recs || !(s.members = json_object()) || !(s.links = json_object()) || !(s.wanted = json_object())) {
                r = -ENOMEM;
                goto out;
        }
        if (name && (r = canonical_name(name, &cname, err)) < 0)
                goto out;
        if (stat(path, &st) < 0) {
                r = err_set(err, errno, IMAGES_E_ARCHIVE, "import '%s': %s", path, strerror(errno));
                goto out;
        }
        pthread_rwlock_rdlock(&im->gc);
        if (S_ISDIR(st.st_mode)) {
                s.dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (s.dir_fd < 0) {
                        r = err_set(err, errno, IMAGES_E_ARCHIVE, "import '%s': %s", path, strerror(errno));
                        goto unlock;
                }
                (void) read_dir_file(s.dir_fd, "manifest.json", &s.manifest_json, &s.manifest_len);
                (void) read_dir_file(s.dir_fd, "index.json", &s.index_json, &s.index_len);
                s.oci_layout = faccessat(s.dir_fd, "oci-layout", F_OK, 0) == 0;
        } else if ((r = tar_read_meta(&s, err)) < 0)
                goto unlock;
        if (!s.manifest_json && !s.index_json) {
                r = err_set(err, EINVAL, IMAGES_E_ARCHIVE,
                            "import '%s': neither a docker save archive (manifest.json) nor an OCI image layout (index.json)", path);
                goto unlock;
        }
        if (s.dir_fd < 0) {
                if (s.manifest_json)
                        want_docker_paths(&s);
                if ((r = tar_store(&s, err)) < 0)
                        goto unlock;
        }
        r = s.manifest_json ? import_docker(&s, cname, recs, err) : import_oci(&s, recs, err);
        if (r < 0)
                goto unlock;
        if (cname) {
                const char *names[2] = { cname, NULL };
                if (json_array_size(recs) != 1) {
                        r = err_set(err, EINVAL, IMAGES_E_ARCHIVE, "import '%s': %zu images in it, a name needs exactly one", path,
                                    json_array_size(recs));
                        goto unlock;
                }
                if ((r = record_set_names(json_array_get(recs, 0), names)) < 0)
                        goto unlock;
        }
        r = images_commit(im, recs, err);
unlock:
        pthread_rwlock_unlock(&im->gc);
        if (r >= 0 && ret_ids) {
                size_t n = json_array_size(recs);
                char **ids = calloc(n + 1, sizeof *ids);
                if (!ids)
                        r = -ENOMEM;
                for (size_t i = 0; ids && i < n; i++)
                        if (!(ids[i] = strdup(jstr(json_array_get(recs, i), "id")))) {
                                for (size_t k = 0; k < i; k++)
                                        free(ids[k]);
                                free(ids);
                                ids = NULL;
                                r = -ENOMEM;
                        }
                if (ids)
                        *ret_ids = ids;
        }
out:
        if (s.dir_fd >= 0)
                (void) close(s.dir_fd);
        json_decref(s.members);
        json_decref(s.links);
        json_decref(s.wanted);
        free(s.manifest_json);
        free(s.index_json);
        return r;
}
