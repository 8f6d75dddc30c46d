/* sched_images_store_test.c: layers unpacked (whiteouts, links, owners, xattrs, gzip and zstd; every
 * traversal refused with nothing left), imports of docker-save archives and OCI layouts, the records
 * (names, id prefixes, remove, prune, leases across a restart), pulls through a fake registry_pull
 * (policies, one pull for concurrent callers), and the image configuration parsed and merged. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../scheduler/images/blob.h"
#include "../../scheduler/images/config.h"
#include "../../scheduler/images/images.h"
#include "../../scheduler/images/layer.h"
#include "../../scheduler/images/manifest.h"
#include "../../scheduler/images/registry.h"
#include "ecsbox/cleanup.h"

/* The archive tables below give only the fields an entry needs. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define MTIME 1700000000

static char root[64];
static struct images *im;

/* ---- fixtures and helpers ---- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
        char cmd[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        if (system(cmd) != 0)
                fail_msg("command failed: %s", cmd);
}

static void store_open(void)
{
        struct images_options o = { .root = root, .policy = PULL_DEFAULT };
        struct err e = { 0 };
        if (images_open(&o, &im, &e) < 0)
                fail_msg("images_open: %s", e.msg);
}

static int setup(void **state)
{
        snprintf(root, sizeof root, "/var/tmp/ecsbox-is-XXXXXX");
        assert_non_null(mkdtemp(root));
        store_open();
        return 0;
}

static int teardown(void **state)
{
        im = images_close(im);
        sh("rm -rf %s", root);
        return 0;
}

struct te {
        char type;              /* f file, d dir, l symlink, h hard link, c char dev, b block dev, p fifo */
        const char *path;
        const char *data;       /* file content, link target */
        mode_t mode;
        int uid, gid;
        const char *xname;      /* an xattr, or NULL */
        const void *xval;
        size_t xlen;
        size_t len;             /* content length when data is not a string */
};

static void write_tar(const char *file, const struct te *v, size_t n)
{
        struct archive *a = archive_write_new();
        assert_non_null(a);
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open_filename(a, file), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                size_t len = v[i].len ? v[i].len : v[i].data ? strlen(v[i].data) : 0;
                archive_entry_set_pathname(e, v[i].path);
                archive_entry_set_uid(e, v[i].uid);
                archive_entry_set_gid(e, v[i].gid);
                archive_entry_set_mtime(e, MTIME, 0);
                archive_entry_set_perm(e, v[i].mode ? v[i].mode : 0644);
                switch (v[i].type) {
                case 'f':
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_size(e, (la_int64_t) len);
                        break;
                case 'd':
                        archive_entry_set_filetype(e, AE_IFDIR);
                        archive_entry_set_perm(e, v[i].mode ? v[i].mode : 0755);
                        break;
                case 'l':
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_symlink(e, v[i].data);
                        archive_entry_set_perm(e, 0777);
                        len = 0;
                        break;
                case 'h':
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, v[i].data);
                        archive_entry_set_size(e, 0);
                        len = 0;
                        break;
                case 'c':
                case 'b':
                        archive_entry_set_filetype(e, v[i].type == 'c' ? AE_IFCHR : AE_IFBLK);
                        archive_entry_set_rdev(e, makedev(1, 3));
                        len = 0;
                        break;
                case 'p':
                        archive_entry_set_filetype(e, AE_IFIFO);
                        len = 0;
                        break;
                }
                if (v[i].xname)
                        archive_entry_xattr_add_entry(e, v[i].xname, v[i].xval, v[i].xlen);
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                if (len)
                        assert_int_equal(archive_write_data(a, v[i].data, len), (la_ssize_t) len);
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
}

static char *slurp(const char *file, size_t *ret_len)
{
        FILE *f = fopen(file, "re");
        char *buf;
        long n;
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        buf = malloc((size_t) n + 1);
        assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = '\0';
        fclose(f);
        *ret_len = (size_t) n;
        return buf;
}

static void spit(const char *file, const void *buf, size_t len)
{
        FILE *f = fopen(file, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        fclose(f);
}

static void file_digest(const char *file, char d[BLOB_DIGEST_MAX])
{
        size_t len;
        char *buf = slurp(file, &len);
        blob_digest_buf(buf, len, d);
        free(buf);
}

static int unpack_file(const char *file, const char *expected, char d[BLOB_DIGEST_MAX], struct err *e)
{
        int fd = open(file, O_RDONLY | O_CLOEXEC), r;
        assert_true(fd >= 0);
        r = layer_unpack(root, fd, expected, d, e);
        close(fd);
        return r;
}

/* Entries of layers/ besides .tmp, and of layers/.tmp besides the locks. */
static void count_layers(int *ret_layers, int *ret_tmp)
{
        char p[128];
        DIR *d;
        struct dirent *de;
        *ret_layers = *ret_tmp = 0;
        snprintf(p, sizeof p, "%s/layers", root);
        assert_non_null(d = opendir(p));
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        (*ret_layers)++;
        closedir(d);
        snprintf(p, sizeof p, "%s/layers/.tmp", root);
        assert_non_null(d = opendir(p));
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && strncmp(de->d_name, "lock-", 5))
                        (*ret_tmp)++;
        closedir(d);
}

static char *lpath(const char *diff_id, const char *rel)
{
        static char p[512];
        snprintf(p, sizeof p, "%s/layers/%s/%s", root, diff_id + 7, rel);
        return p;
}

/* ---- layers ---- */

/* VFS_CAP_REVISION_2 | EFFECTIVE, permitted CAP_NET_RAW (little endian, x86 and arm64) */
static const uint32_t cap_net_raw[5] = { 0x02000001, 1u << 13, 0, 0, 0 };

static const struct te basic_layer[] = {
        { 'd', "./", NULL, 0755 },
        { 'd', "etc/", NULL, 0750, 0, 42 },
        { 'f', "etc/hello", "hi there\n", 0640, 1000, 1001 },
        { 'h', "etc/hello2", "etc/hello" },
        { 'l', "etc/link", "/etc/hello" },
        { 'l', "etc/up", "../../../../outside" },
        { 'f', "etc/gone", "deleted by the whiteout below" },
        { 'f', "etc/.wh.gone" },
        { 'f', "etc/.wh.lower" },
        { 'd', "var/" },
        { 'f', "var/.wh..wh..opq" },
        { 'f', "var/keep", "k" },
        { 'd', "run/" },
        { 'p', "run/fifo", NULL, 0600 },
        { 'f', "bin/ping", "ELF", 04755, 0, 0, "security.capability", cap_net_raw, sizeof cap_net_raw },
        { 'f', "bin/sneaky", "x", 0755, 0, 0, "trusted.overlay.redirect", "/etc", 4 },
        { 'f', "usr/sbin/suid", "s", 06711, 0, 5 },
};

static void check_basic_layer(const char *d)
{
        struct stat st;
        char buf[64];
        uint32_t cap[5];
        ssize_t n;

        assert_int_equal(stat(lpath(d, ""), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(stat(lpath(d, "etc"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0750);
        assert_int_equal(st.st_gid, 42);
        assert_int_equal(st.st_mtime, MTIME);
        assert_int_equal(lstat(lpath(d, "etc/hello"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_uid, 1000);
        assert_int_equal(st.st_gid, 1001);
        assert_int_equal(st.st_mtime, MTIME);
        assert_int_equal(st.st_nlink, 2);
        struct stat st2;
        assert_int_equal(lstat(lpath(d, "etc/hello2"), &st2), 0);
        assert_int_equal(st.st_ino, st2.st_ino);
        n = readlink(lpath(d, "etc/link"), buf, sizeof buf - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_string_equal(buf, "/etc/hello");
        /* whiteouts: 0/0 character devices, never files named .wh.* */
        assert_int_equal(lstat(lpath(d, "etc/gone"), &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(st.st_rdev, makedev(0, 0));
        assert_int_equal(lstat(lpath(d, "etc/lower"), &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(lstat(lpath(d, "etc/.wh.gone"), &st), -1);
        assert_int_equal(lstat(lpath(d, "var/.wh..wh..opq"), &st), -1);
        n = lgetxattr(lpath(d, "var"), "trusted.overlay.opaque", buf, sizeof buf);
        assert_int_equal(n, 1);
        assert_int_equal(buf[0], 'y');
        assert_int_equal(lgetxattr(lpath(d, "etc"), "trusted.overlay.opaque", buf, sizeof buf), -1);
        assert_int_equal(lstat(lpath(d, "var/keep"), &st), 0);
        assert_int_equal(lstat(lpath(d, "run/fifo"), &st), 0);
        assert_true(S_ISFIFO(st.st_mode));
        /* file capabilities survive the chown; modes keep setuid */
        assert_int_equal(lgetxattr(lpath(d, "bin/ping"), "security.capability", cap, sizeof cap), (ssize_t) sizeof cap);
        assert_memory_equal(cap, cap_net_raw, sizeof cap);
        assert_int_equal(lstat(lpath(d, "bin/ping"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 04755);
        assert_int_equal(lstat(lpath(d, "usr/sbin/suid"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 06711);
        assert_int_equal(st.st_gid, 5);
        /* overlayfs' own xattrs are not the layer's to set */
        assert_int_equal(lgetxattr(lpath(d, "bin/sneaky"), "trusted.overlay.redirect", buf, sizeof buf), -1);
}

static void test_layer_unpack(void **state)
{
        char tar[128], gz[128], zst[128], want[BLOB_DIGEST_MAX], got[BLOB_DIGEST_MAX];
        struct err e = { 0 };
        int nl, nt;

        /* whiteouts need trusted.* xattrs (opaque directories), capabilities security.* */
        if (setxattr(root, "trusted.ecsbox-probe", "1", 1, 0) < 0) {
                fprintf(stderr, "skipped: '%s' has no trusted.* xattrs: %s\n", root, strerror(errno));
                skip();
        }
        (void) removexattr(root, "trusted.ecsbox-probe");
        snprintf(tar, sizeof tar, "%s/l.tar", root);
        snprintf(gz, sizeof gz, "%s/l.tar.gz", root);
        snprintf(zst, sizeof zst, "%s/l.tar.zst", root);
        write_tar(tar, basic_layer, ELEMENTSOF(basic_layer));
        sh("gzip -c %s > %s && zstd -q -c %s > %s", tar, gz, tar, zst);
        file_digest(tar, want);

        /* the diff id is the sha256 of the uncompressed tar, whatever the compression */
        if (unpack_file(gz, NULL, got, &e) < 0)
                fail_msg("unpack: %s", e.msg);
        assert_string_equal(got, want);
        assert_true(layer_exists(root, want));
        check_basic_layer(want);

        /* a second unpack of that diff id finds it */
        memset(got, 0, sizeof got);
        assert_int_equal(unpack_file(tar, want, got, &e), 0);
        assert_string_equal(got, want);

        assert_int_equal(layer_remove(root, want), 0);
        assert_false(layer_exists(root, want));
        if (unpack_file(zst, want, got, &e) < 0)
                fail_msg("unpack zstd: %s", e.msg);
        check_basic_layer(want);
        assert_int_equal(layer_remove(root, want), 0);
        if (unpack_file(tar, want, got, &e) < 0)
                fail_msg("unpack tar: %s", e.msg);
        check_basic_layer(want);
        count_layers(&nl, &nt);
        assert_int_equal(nl, 1);
        assert_int_equal(nt, 0);

        /* the wrong diff id: refused, nothing kept */
        assert_int_equal(layer_remove(root, want), 0);
        e = (struct err) { 0 };
        assert_true(unpack_file(gz, "sha256:0000000000000000000000000000000000000000000000000000000000000000", got, &e) < 0);
        assert_string_equal(e.code, IMAGES_E_LAYER);
        assert_non_null(strstr(e.msg, "diff id mismatch"));
        count_layers(&nl, &nt);
        assert_int_equal(nl + nt, 0);
}

static void check_refused(const struct te *v, size_t n, const char *needle)
{
        char tar[128], got[BLOB_DIGEST_MAX];
        struct err e = { 0 };
        int nl, nt;

        snprintf(tar, sizeof tar, "%s/bad.tar", root);
        write_tar(tar, v, n);
        assert_true(unpack_file(tar, NULL, got, &e) < 0);
        assert_string_equal(e.code, IMAGES_E_LAYER);
        if (!strstr(e.msg, needle))
                fail_msg("message '%s' lacks '%s'", e.msg, needle);
        count_layers(&nl, &nt);
        assert_int_equal(nl, 0);
        assert_int_equal(nt, 0);
        sh("test ! -e /var/tmp/ecsbox-escaped && test ! -e /etc/ecsbox-escaped");
}

static void test_layer_refused(void **state)
{
        const struct te dotdot[] = { { 'f', "ok", "x" }, { 'f', "../ecsbox-escaped", "x" } };
        const struct te dotdot2[] = { { 'd', "a/" }, { 'f', "a/../../ecsbox-escaped", "x" } };
        const struct te absolute[] = { { 'f', "/etc/ecsbox-escaped", "x" } };
        const struct te via_symlink[] = { { 'l', "l", "/" }, { 'f', "l/etc/ecsbox-escaped", "x" } };
        const struct te via_symlink_dir[] = { { 'd', "d/" }, { 'l', "d/l", "/var/tmp" }, { 'f', "d/l/ecsbox-escaped", "x" } };
        const struct te hardlink_out[] = { { 'h', "passwd", "../../etc/passwd" } };
        const struct te hardlink_abs[] = { { 'h', "passwd", "/etc/passwd" } };
        const struct te hardlink_missing[] = { { 'h', "passwd", "etc/passwd" } };
        const struct te chardev[] = { { 'd', "dev/" }, { 'c', "dev/null" } };
        const struct te blockdev[] = { { 'b', "sda" } };
        const struct te wh_dotdot[] = { { 'f', "a/.wh..." } };
        const struct te wh_via_symlink[] = { { 'l', "l", "/var/tmp" }, { 'f', "l/.wh.ecsbox-escaped" } };

        check_refused(dotdot, ELEMENTSOF(dotdot), "'..'");
        check_refused(dotdot2, ELEMENTSOF(dotdot2), "'..'");
        check_refused(absolute, ELEMENTSOF(absolute), "absolute path");
        check_refused(via_symlink, ELEMENTSOF(via_symlink), "symlink");
        check_refused(via_symlink_dir, ELEMENTSOF(via_symlink_dir), "symlink");
        check_refused(hardlink_out, ELEMENTSOF(hardlink_out), "'..'");
        check_refused(hardlink_abs, ELEMENTSOF(hardlink_abs), "absolute path");
        check_refused(hardlink_missing, ELEMENTSOF(hardlink_missing), "not in this layer");
        check_refused(chardev, ELEMENTSOF(chardev), "device nodes are refused");
        check_refused(blockdev, ELEMENTSOF(blockdev), "device nodes are refused");
        check_refused(wh_dotdot, ELEMENTSOF(wh_dotdot), "no valid name");
        check_refused(wh_via_symlink, ELEMENTSOF(wh_via_symlink), "symlink");

        /* not a tar at all */
        char f[128], got[BLOB_DIGEST_MAX];
        struct err e = { 0 };
        snprintf(f, sizeof f, "%s/junk", root);
        spit(f, "this is not a tar archive, not at all, no ustar magic in here..........", 72);
        assert_true(unpack_file(f, NULL, got, &e) < 0);
        assert_string_equal(e.code, IMAGES_E_LAYER);
}

static void test_crash_leftovers(void **state)
{
        struct stat st;
        char p[160];

        im = images_close(im);
        sh("mkdir -p %s/layers/.tmp/AbC123/usr/bin && echo x > %s/layers/.tmp/AbC123/usr/bin/half && echo y > %s/blobs/.tmp/Qx1",
           root, root, root);
        sh("echo '{}' > %s/images.json.tmp.4242", root);
        store_open();
        snprintf(p, sizeof p, "%s/layers/.tmp/AbC123", root);
        assert_int_equal(lstat(p, &st), -1);
        snprintf(p, sizeof p, "%s/blobs/.tmp/Qx1", root);
        assert_int_equal(lstat(p, &st), -1);
        snprintf(p, sizeof p, "%s/images.json.tmp.4242", root);
        assert_int_equal(lstat(p, &st), -1);
}

/* ---- a test image: two layers and a configuration ---- */

struct timage {
        char *l1, *l2, *config, *manifest;      /* contents */
        size_t l1_len, l2_len, config_len, manifest_len;
        char d1[BLOB_DIGEST_MAX], d2[BLOB_DIGEST_MAX], id[BLOB_DIGEST_MAX], mdigest[BLOB_DIGEST_MAX];
};

static void timage_make(struct timage *t, const char *tag)
{
        const struct te l1[] = { { 'd', "bin/" }, { 'f', "bin/sh", "#!fake shell\n", 0755 }, { 'd', "etc/" },
                                 { 'f', "etc/old", "old" }, { 'f', "etc/tag", tag } };
        const struct te l2[] = { { 'd', "etc/" }, { 'f', "etc/.wh.old" }, { 'f', "etc/new", "new" } };
        char f[128];
        json_t *m;

        snprintf(f, sizeof f, "%s/t1.tar", root);
        write_tar(f, l1, ELEMENTSOF(l1));
        t->l1 = slurp(f, &t->l1_len);
        snprintf(f, sizeof f, "%s/t2.tar", root);
        write_tar(f, l2, ELEMENTSOF(l2));
        t->l2 = slurp(f, &t->l2_len);
        blob_digest_buf(t->l1, t->l1_len, t->d1);
        blob_digest_buf(t->l2, t->l2_len, t->d2);
        assert_true(asprintf(&t->config,
                             "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-05-01T10:00:00.5Z\","
                             "\"config\":{\"Cmd\":[\"/bin/sh\",\"-c\",\"%s\"],\"Env\":[\"PATH=/bin\",\"A=1\"],\"WorkingDir\":\"/w\","
                             "\"ExposedPorts\":{\"80/tcp\":{}},\"StopSignal\":\"SIGQUIT\"},"
                             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]}}",
                             tag, t->d1, t->d2) > 0);
        t->config_len = strlen(t->config);
        blob_digest_buf(t->config, t->config_len, t->id);
        m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:[{s:s,s:s,s:I},{s:s,s:s,s:I}]}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST,
                      "config", "mediaType", MT_OCI_CONFIG, "digest", t->id, "size", (json_int_t) t->config_len, "layers", "mediaType",
                      MT_OCI_LAYER, "digest", t->d1, "size", (json_int_t) t->l1_len, "mediaType", MT_OCI_LAYER, "digest", t->d2, "size",
                      (json_int_t) t->l2_len);
        t->manifest = json_dumps(m, JSON_COMPACT);
        t->manifest_len = strlen(t->manifest);
        blob_digest_buf(t->manifest, t->manifest_len, t->mdigest);
        json_decref(m);
}

static void timage_done(struct timage *t)
{
        free(t->l1);
        free(t->l2);
        free(t->config);
        free(t->manifest);
}

static void import_ok(const char *path, const char *name, char ***ids)
{
        struct err e = { 0 };
        if (images_import(im, path, name, ids, &e) < 0)
                fail_msg("import '%s': %s: %s", path, e.code, e.msg);
}

static void check_image_files(const struct image_info *i, const char *tag)
{
        char **dirs = NULL, p[600], *buf;
        struct err e = { 0 };
        struct stat st;
        size_t len;

        assert_int_equal(images_lowerdirs(im, i->id, &dirs, &e), 0);
        assert_non_null(dirs[0]);
        assert_non_null(dirs[1]);
        assert_null(dirs[2]);
        /* top layer first: the second layer's whiteout hides etc/old */
        assert_non_null(strstr(dirs[0], i->diff_ids[1] + 7));
        assert_non_null(strstr(dirs[1], i->diff_ids[0] + 7));
        snprintf(p, sizeof p, "%s/etc/old", dirs[0]);
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        snprintf(p, sizeof p, "%s/etc/tag", dirs[1]);
        buf = slurp(p, &len);
        assert_string_equal(buf, tag);
        free(buf);
        for (char **d = dirs; *d; d++)
                free(*d);
        free(dirs);
}

/* ---- imports ---- */

static void test_import_docker_save(void **state)
{
        struct timage t;
        char tar[128], cfgname[80], l1name[80], l2name[80], *manifest;
        char **ids = NULL;
        struct image_info *i = NULL;
        struct err e = { 0 };

        timage_make(&t, "legacy");
        snprintf(cfgname, sizeof cfgname, "%s.json", t.id + 7);
        snprintf(l1name, sizeof l1name, "1111111111111111111111111111111111111111111111111111111111111111/layer.tar");
        snprintf(l2name, sizeof l2name, "2222222222222222222222222222222222222222222222222222222222222222/layer.tar");
        assert_true(asprintf(&manifest, "[{\"Config\":\"%s\",\"RepoTags\":[\"busybox:latest\",\"localhost:5000/tools/bb:1\"],"
                                         "\"Layers\":[\"%s\",\"%s\"]}]",
                             cfgname, l1name, l2name) > 0);
        const struct te members[] = {
                { 'd', "1111111111111111111111111111111111111111111111111111111111111111/" },
                { 'f', "1111111111111111111111111111111111111111111111111111111111111111/VERSION", "1.0" },
                { 'f', "1111111111111111111111111111111111111111111111111111111111111111/json", "{}" },
                { 'f', l1name, t.l1, 0644, 0, 0, NULL, NULL, 0, t.l1_len },
                { 'f', l2name, t.l2, 0644, 0, 0, NULL, NULL, 0, t.l2_len },
                { 'f', cfgname, t.config },
                { 'f', "manifest.json", manifest },
                { 'f', "repositories", "{\"busybox\":{\"latest\":\"2222\"}}" },
        };
        snprintf(tar, sizeof tar, "%s/save.tar", root);
        write_tar(tar, members, ELEMENTSOF(members));
        import_ok(tar, NULL, &ids);
        assert_non_null(ids[0]);
        assert_null(ids[1]);
        assert_string_equal(ids[0], t.id);

        /* the familiar name, the canonical one, the id, a 12-digit prefix */
        assert_int_equal(images_get(im, "busybox", &i, &e), 0);
        assert_string_equal(i->id, t.id);
        assert_string_equal(i->names[0], "docker.io/library/busybox:latest");
        assert_string_equal(i->names[1], "localhost:5000/tools/bb:1");
        assert_null(i->names[2]);
        assert_string_equal(i->manifest_digest, "");
        assert_int_equal(i->n_layers, 2);
        assert_string_equal(i->diff_ids[0], t.d1);
        assert_string_equal(i->diff_ids[1], t.d2);
        assert_int_equal(i->size, t.l1_len + t.l2_len);
        assert_true(i->created > 1714557599.9 && i->created < 1714557600.6);
        assert_true(i->pulled_at > 0);
        assert_string_equal(i->config.cmd[2], "legacy");
        assert_string_equal(i->config.working_dir, "/w");
        assert_string_equal(i->config.stop_signal, "SIGQUIT");
        assert_string_equal(i->config.exposed_ports[0], "80/tcp");
        check_image_files(i, "legacy");
        i = image_info_free(i);
        const char *ways[] = { "docker.io/library/busybox:latest", "library/busybox", "localhost:5000/tools/bb:1", t.id, t.id + 7 };
        for (size_t k = 0; k < ELEMENTSOF(ways); k++) {
                assert_int_equal(images_get(im, ways[k], &i, &e), 0);
                assert_string_equal(i->id, t.id);
                i = image_info_free(i);
        }
        char prefix[32];
        snprintf(prefix, sizeof prefix, "%.12s", t.id + 7);
        assert_int_equal(images_get(im, prefix, &i, &e), 0);
        i = image_info_free(i);
        snprintf(prefix, sizeof prefix, "%.11s", t.id + 7);
        e = (struct err) { 0 };
        assert_int_equal(images_get(im, prefix, &i, &e), -ENOENT);
        assert_string_equal(e.code, IMAGES_E_NOTFOUND);
        assert_int_equal(images_get(im, "busybox:1.36", &i, &e), -ENOENT);
        /* the layer tars are blobs under their own digest, which is the diff id */
        assert_true(blob_exists(root, t.d1));
        assert_true(blob_exists(root, t.d2));
        assert_true(blob_exists(root, t.id));

        free(ids[0]);
        free(ids);
        free(manifest);
        timage_done(&t);
}

static void test_import_docker25(void **state)
{
        struct timage t;
        char tar[128], cfg[100], l1[100], l2[100], man[100], *manifest, *index;
        struct image_info *i = NULL;
        struct err e = { 0 };

        timage_make(&t, "docker25");
        snprintf(cfg, sizeof cfg, "blobs/sha256/%s", t.id + 7);
        snprintf(l1, sizeof l1, "blobs/sha256/%s", t.d1 + 7);
        snprintf(l2, sizeof l2, "blobs/sha256/%s", t.d2 + 7);
        snprintf(man, sizeof man, "blobs/sha256/%s", t.mdigest + 7);
        assert_true(asprintf(&manifest, "[{\"Config\":\"%s\",\"RepoTags\":[\"app:25\"],\"Layers\":[\"%s\",\"%s\"]}]", cfg, l1, l2) > 0);
        assert_true(asprintf(&index,
                             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\","
                             "\"size\":%zu,\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/app:25\","
                             "\"org.opencontainers.image.ref.name\":\"25\"}}]}",
                             MT_OCI_INDEX, MT_OCI_MANIFEST, t.mdigest, t.manifest_len) > 0);
        const struct te members[] = {
                { 'd', "blobs/" },
                { 'd', "blobs/sha256/" },
                { 'f', cfg, t.config },
                { 'f', l1, t.l1, 0644, 0, 0, NULL, NULL, 0, t.l1_len },
                { 'f', l2, t.l2, 0644, 0, 0, NULL, NULL, 0, t.l2_len },
                { 'f', man, t.manifest },
                { 'f', "index.json", index },
                { 'f', "manifest.json", manifest },
                { 'f', "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}" },
                { 'd', "3333333333333333333333333333333333333333333333333333333333333333/" },
                { 'l', "3333333333333333333333333333333333333333333333333333333333333333/layer.tar", "../blobs/sha256/x" },
        };
        snprintf(tar, sizeof tar, "%s/save25.tar", root);
        write_tar(tar, members, ELEMENTSOF(members));
        import_ok(tar, NULL, NULL);
        assert_int_equal(images_get(im, "app:25", &i, &e), 0);
        assert_string_equal(i->id, t.id);
        assert_string_equal(i->manifest_digest, t.mdigest);
        assert_string_equal(i->repo_digest, "");
        check_image_files(i, "docker25");
        i = image_info_free(i);

        /* neither layout: refused */
        const struct te junk[] = { { 'f', "README", "no image here" } };
        snprintf(tar, sizeof tar, "%s/junk.tar", root);
        write_tar(tar, junk, ELEMENTSOF(junk));
        assert_true(images_import(im, tar, NULL, NULL, &e) < 0);
        assert_string_equal(e.code, IMAGES_E_ARCHIVE);
        /* a layer that does not match the configuration's diff id */
        const struct te wrong[] = {
                { 'f', cfg, t.config },
                { 'f', l1, t.l2, 0644, 0, 0, NULL, NULL, 0, t.l2_len },
                { 'f', l2, t.l2, 0644, 0, 0, NULL, NULL, 0, t.l2_len },
                { 'f', "manifest.json", manifest },
        };
        im = images_close(im);
        sh("rm -rf %s/blobs %s/layers %s/images.json", root, root, root);
        store_open();
        snprintf(tar, sizeof tar, "%s/wrong.tar", root);
        write_tar(tar, wrong, ELEMENTSOF(wrong));
        e = (struct err) { 0 };
        assert_true(images_import(im, tar, NULL, NULL, &e) < 0);
        if (strcmp(e.code, BLOB_E_DIGEST) && strcmp(e.code, IMAGES_E_LAYER))
                fail_msg("code %s: %s", e.code, e.msg);
        assert_int_equal(images_get(im, "app:25", &i, &e), -ENOENT);
        free(manifest);
        free(index);
        timage_done(&t);
}

/* An OCI image layout directory: a gzip layer and a plain one. */
static void make_oci_dir(const char *dir, struct timage *t, char ret_mdigest[BLOB_DIGEST_MAX])
{
        char p[256], gzd[BLOB_DIGEST_MAX], *gz, *man, *index;
        size_t gzlen;
        json_t *m;

        sh("mkdir -p %s/blobs/sha256", dir);
        snprintf(p, sizeof p, "%s/l1.tar", root);
        spit(p, t->l1, t->l1_len);
        sh("gzip -n -c %s/l1.tar > %s/l1.tar.gz", root, root);
        snprintf(p, sizeof p, "%s/l1.tar.gz", root);
        gz = slurp(p, &gzlen);
        blob_digest_buf(gz, gzlen, gzd);
        m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:[{s:s,s:s,s:I},{s:s,s:s,s:I}]}", "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST,
                      "config", "mediaType", MT_OCI_CONFIG, "digest", t->id, "size", (json_int_t) t->config_len, "layers", "mediaType",
                      MT_OCI_LAYER_GZIP, "digest", gzd, "size", (json_int_t) gzlen, "mediaType", MT_OCI_LAYER, "digest", t->d2, "size",
                      (json_int_t) t->l2_len);
        man = json_dumps(m, JSON_COMPACT);
        json_decref(m);
        blob_digest_buf(man, strlen(man), ret_mdigest);
        const struct {
                const char *d;
                const char *buf;
                size_t len;
        } blobs[] = { { gzd, gz, gzlen }, { t->d2, t->l2, t->l2_len }, { t->id, t->config, t->config_len }, { ret_mdigest, man, strlen(man) } };
        for (size_t k = 0; k < ELEMENTSOF(blobs); k++) {
                snprintf(p, sizeof p, "%s/blobs/sha256/%s", dir, blobs[k].d + 7);
                spit(p, blobs[k].buf, blobs[k].len);
        }
        assert_true(asprintf(&index,
                             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
                             "\"annotations\":{\"org.opencontainers.image.ref.name\":\"localhost/oci/app:2\"}}]}",
                             MT_OCI_MANIFEST, ret_mdigest, strlen(man)) > 0);
        snprintf(p, sizeof p, "%s/index.json", dir);
        spit(p, index, strlen(index));
        snprintf(p, sizeof p, "%s/oci-layout", dir);
        spit(p, "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
        free(index);
        free(man);
        free(gz);
}

static void test_import_oci(void **state)
{
        struct timage t;
        char dir[128], tar[128], md[BLOB_DIGEST_MAX], p[256];
        struct image_info *i = NULL;
        struct err e = { 0 };
        char **ids = NULL;

        timage_make(&t, "oci");
        snprintf(dir, sizeof dir, "%s/layout", root);
        make_oci_dir(dir, &t, md);
        import_ok(dir, NULL, &ids);
        assert_string_equal(ids[0], t.id);
        free(ids[0]);
        free(ids);
        assert_int_equal(images_get(im, "localhost/oci/app:2", &i, &e), 0);
        assert_string_equal(i->id, t.id);
        assert_string_equal(i->manifest_digest, md);
        check_image_files(i, "oci");
        i = image_info_free(i);
        /* the same layout as a tar, with a name given */
        snprintf(tar, sizeof tar, "%s/layout.tar", root);
        sh("tar -C %s -cf %s .", dir, tar);
        import_ok(tar, "mine:7", NULL);
        assert_int_equal(images_get(im, "mine:7", &i, &e), 0);
        assert_string_equal(i->id, t.id);
        assert_string_equal(i->names[0], "localhost/oci/app:2");
        assert_string_equal(i->names[1], "docker.io/library/mine:7");
        i = image_info_free(i);

        /* a blob whose content is not its digest: refused, no record */
        im = images_close(im);
        sh("rm -rf %s/blobs %s/layers %s/images.json", root, root, root);
        store_open();
        snprintf(p, sizeof p, "%s/blobs/sha256/%s", dir, t.d2 + 7);
        spit(p, "tampered", 8);
        e = (struct err) { 0 };
        assert_true(images_import(im, dir, NULL, NULL, &e) < 0);
        if (strcmp(e.code, BLOB_E_DIGEST) && strcmp(e.code, BLOB_E_SIZE))
                fail_msg("code %s: %s", e.code, e.msg);
        assert_int_equal(images_get(im, "localhost/oci/app:2", &i, &e), -ENOENT);
        timage_done(&t);
}

/* ---- records: list, remove, prune, leases ---- */

static void import_timage(struct timage *t, const char *tag, const char *name)
{
        char dir[128], md[BLOB_DIGEST_MAX];
        timage_make(t, tag);
        snprintf(dir, sizeof dir, "%s/layout-%s", root, tag);
        make_oci_dir(dir, t, md);
        import_ok(dir, name, NULL);
}

static int count_dir(const char *sub)
{
        char p[128];
        DIR *d;
        struct dirent *de;
        int n = 0;
        snprintf(p, sizeof p, "%s/%s", root, sub);
        assert_non_null(d = opendir(p));
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static void test_remove_prune_lease(void **state)
{
        struct timage a, b;
        struct image_info **v = NULL, *i = NULL;
        struct err e = { 0 };
        uint64_t freed = 0;
        size_t n = 0;

        import_timage(&a, "a", "app:a");
        import_timage(&b, "b", "app:b");
        assert_int_equal(images_list(im, &v, &n, &e), 0);
        assert_int_equal(n, 2);
        image_infos_free(v, n);
        /* both share nothing (their first layers differ by etc/tag; the second is the same) */
        assert_int_equal(count_dir("layers"), 3);

        /* a lease keeps an image: rm refuses, rm --force takes the name only */
        const char *ids[] = { a.id, NULL };
        assert_int_equal(images_lease(im, "task-1", ids, &e), 0);
        assert_int_equal(images_remove(im, "app:a", false, &e), -EBUSY);
        assert_string_equal(e.code, IMAGES_E_INUSE);
        assert_non_null(strstr(e.msg, "task-1"));
        /* the lease survives a restart */
        im = images_close(im);
        store_open();
        e = (struct err) { 0 };
        assert_int_equal(images_remove(im, "app:a", false, &e), -EBUSY);
        assert_int_equal(images_remove(im, "app:a", true, &e), 0);
        assert_int_equal(images_get(im, "app:a", &i, &e), -ENOENT);
        assert_int_equal(images_get(im, a.id, &i, &e), 0);
        assert_null(i->names[0]);
        i = image_info_free(i);
        /* prune keeps the leased one, even nameless, and named ones */
        assert_int_equal(images_prune(im, false, &freed, &e), 0);
        assert_int_equal(freed, 0);
        assert_int_equal(images_get(im, a.id, &i, &e), 0);
        i = image_info_free(i);
        /* the lease ends: the nameless image goes with its own layer; the shared one stays */
        assert_int_equal(images_lease_drop(im, "task-1"), 0);
        assert_int_equal(images_get(im, a.id, &i, &e), -ENOENT);
        assert_int_equal(count_dir("layers"), 2);
        assert_false(blob_exists(root, a.id));
        assert_true(blob_exists(root, b.id));
        assert_int_equal(count_dir("leases"), 0);

        /* rm by id; a blob nobody names is pruned */
        char junk[BLOB_DIGEST_MAX];
        assert_int_equal(blob_put_buf(root, "orphan", 6, NULL, junk, &e), 0);
        assert_int_equal(images_prune(im, false, &freed, &e), 0);
        assert_int_equal(freed, 6);
        assert_false(blob_exists(root, junk));
        assert_int_equal(images_get(im, "app:b", &i, &e), 0);
        i = image_info_free(i);
        /* prune --all: named images without a lease go too, with everything of theirs */
        assert_int_equal(images_prune(im, true, &freed, &e), 0);
        assert_true(freed >= b.l2_len + b.config_len);
        assert_int_equal(images_get(im, "app:b", &i, &e), -ENOENT);
        assert_int_equal(count_dir("layers"), 0);
        assert_int_equal(count_dir("blobs/sha256"), 0);

        /* rm of an unknown name; lease of an unknown id; a task id that is no file name */
        e = (struct err) { 0 };
        assert_int_equal(images_remove(im, "nope", false, &e), -ENOENT);
        assert_string_equal(e.code, IMAGES_E_NOTFOUND);
        const char *bad[] = { a.id, NULL };
        assert_true(images_lease(im, "task-2", bad, &e) < 0);
        assert_true(images_lease(im, "../x", NULL, &e) < 0);
        timage_done(&a);
        timage_done(&b);
}

static void test_remove_names(void **state)
{
        struct timage a;
        struct image_info *i = NULL;
        struct err e = { 0 };
        char dir[128];

        import_timage(&a, "n", "one:1");
        snprintf(dir, sizeof dir, "%s/layout-n", root);
        import_ok(dir, "two:2", NULL);
        /* by id with two names: refused without force */
        assert_int_equal(images_remove(im, a.id, false, &e), -EBUSY);
        /* by name: the other stays */
        assert_int_equal(images_remove(im, "one:1", false, &e), 0);
        assert_int_equal(images_get(im, "two", &i, &e), -ENOENT);
        assert_int_equal(images_get(im, "two:2", &i, &e), 0);
        i = image_info_free(i);
        /* a name moves to the image imported under it; the old one stays, dangling, until prune */
        struct timage b;
        import_timage(&b, "m", "two:2");
        assert_int_equal(images_get(im, "two:2", &i, &e), 0);
        assert_string_equal(i->id, b.id);
        i = image_info_free(i);
        assert_int_equal(images_get(im, a.id, &i, &e), 0);
        assert_null(i->names[0]);
        i = image_info_free(i);
        uint64_t freed = 0;
        assert_int_equal(images_prune(im, false, &freed, &e), 0);
        assert_int_equal(images_get(im, a.id, &i, &e), -ENOENT);
        assert_int_equal(images_remove(im, "two:2", false, &e), 0);
        assert_int_equal(count_dir("layers"), 0);
        timage_done(&a);
        timage_done(&b);
}

/* ---- pulls through a fake registry_pull ---- */

static double now_stale(void)
{
        return (double) time(NULL) - 2 * IMAGES_LATEST_FRESH_S;
}

static struct {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int calls;
        bool hold, fail;
        struct timage *img;
} fake = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };

/* The registry client is another module (registry.c); this stands in for it: it "fetches" the
 * test image's blobs into the store. */
int registry_pull(const struct registry_config *cfg, const struct image_ref *ref, const char *blob_root,
                  registry_progress_fn progress, void *userdata, struct registry_pull_result *ret, struct err *err)
{
        struct timage *t;
        int r;

        pthread_mutex_lock(&fake.mu);
        fake.calls++;
        pthread_cond_broadcast(&fake.cv);
        while (fake.hold)
                pthread_cond_wait(&fake.cv, &fake.mu);
        t = fake.img;
        pthread_mutex_unlock(&fake.mu);
        if (fake.fail)
                return err_set(err, ECONNREFUSED, REG_E_UNREACHABLE, "image %s/%s: connect: Connection refused", ref->registry,
                               ref->repository);
        if ((r = blob_put_buf(blob_root, t->l1, t->l1_len, t->d1, NULL, err)) < 0 ||
            (r = blob_put_buf(blob_root, t->l2, t->l2_len, t->d2, NULL, err)) < 0 ||
            (r = blob_put_buf(blob_root, t->config, t->config_len, t->id, NULL, err)) < 0 ||
            (r = blob_put_buf(blob_root, t->manifest, t->manifest_len, t->mdigest, NULL, err)) < 0)
                return r;
        memset(ret, 0, sizeof *ret);
        snprintf(ret->manifest_digest, sizeof ret->manifest_digest, "%s", t->mdigest);
        snprintf(ret->repo_digest, sizeof ret->repo_digest, "%s", t->mdigest);
        return 0;
}

struct puller {
        pthread_t th;
        bool started;
        int r;
        struct image_info *info;
        struct err err;
};

static void *pull_thread(void *p)
{
        struct puller *x = p;
        bool pulled;
        __atomic_store_n(&x->started, true, __ATOMIC_SEQ_CST);
        x->r = images_ensure(im, "localhost:5000/app:1", PULL_ALWAYS, NULL, NULL, &x->info, &pulled, &x->err);
        return NULL;
}

static void wait_calls(int n)
{
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 10;
        pthread_mutex_lock(&fake.mu);
        while (fake.calls < n)
                if (pthread_cond_timedwait(&fake.cv, &fake.mu, &deadline) == ETIMEDOUT)
                        fail_msg("registry_pull not called %d times within 10 s", n);
        pthread_mutex_unlock(&fake.mu);
}

static void test_ensure(void **state)
{
        struct timage t, local;
        struct image_info *i = NULL;
        struct err e = { 0 };
        bool pulled = true;
        char p[128];

        timage_make(&t, "pulled");
        fake.img = &t;
        fake.calls = 0;
        fake.fail = false;

        /* missing: pulled (every layer unpacked, recorded under the canonical name) */
        if (images_ensure(im, "localhost:5000/app:1", PULL_DEFAULT, NULL, NULL, &i, &pulled, &e) < 0)
                fail_msg("ensure: %s", e.msg);
        assert_true(pulled);
        assert_int_equal(fake.calls, 1);
        assert_string_equal(i->id, t.id);
        assert_string_equal(i->repo_digest, t.mdigest);
        assert_string_equal(i->names[0], "localhost:5000/app:1");
        check_image_files(i, "pulled");
        i = image_info_free(i);
        /* cached: a tag other than latest is not pulled again by default, once or prefer-cached */
        const enum pull_policy cached[] = { PULL_DEFAULT, PULL_ONCE, PULL_PREFER_CACHED };
        for (size_t k = 0; k < ELEMENTSOF(cached); k++) {
                assert_int_equal(images_ensure(im, "localhost:5000/app:1", cached[k], NULL, NULL, &i, &pulled, &e), 0);
                assert_false(pulled);
                i = image_info_free(i);
        }
        /* by digest: found by its repo digest, never pulled */
        char ref[200];
        snprintf(ref, sizeof ref, "localhost:5000/app@%s", t.mdigest);
        assert_int_equal(images_ensure(im, ref, PULL_ALWAYS, NULL, NULL, &i, &pulled, &e), 0);
        assert_false(pulled);
        assert_string_equal(i->id, t.id);
        i = image_info_free(i);
        assert_int_equal(fake.calls, 1);
        /* always: pulled; a failure fails */
        assert_int_equal(images_ensure(im, "localhost:5000/app:1", PULL_ALWAYS, NULL, NULL, &i, &pulled, &e), 0);
        assert_true(pulled);
        i = image_info_free(i);
        assert_int_equal(fake.calls, 2);
        fake.fail = true;
        e = (struct err) { 0 };
        assert_int_equal(images_ensure(im, "localhost:5000/app:1", PULL_ALWAYS, NULL, NULL, &i, &pulled, &e), -ECONNREFUSED);
        assert_string_equal(e.code, REG_E_UNREACHABLE);
        assert_non_null(strstr(e.msg, "localhost:5000/app"));
        /* missing and the registry down: the registry's error */
        e = (struct err) { 0 };
        assert_true(images_ensure(im, "localhost:5000/other:1", PULL_PREFER_CACHED, NULL, NULL, &i, &pulled, &e) < 0);
        assert_string_equal(e.code, REG_E_UNREACHABLE);
        /* a bad reference */
        e = (struct err) { 0 };
        assert_int_equal(images_ensure(im, "Bad:Ref", PULL_DEFAULT, NULL, NULL, &i, &pulled, &e), -EINVAL);
        assert_string_equal(e.code, "InvalidParameterException");

        /* ":latest" imported now is fresh: not pulled; pulled 10 minutes ago: pulled, and when that
         * fails the cached image serves (ECS's default) */
        import_timage(&local, "local", "busybox:latest");
        fake.calls = 0;
        assert_int_equal(images_ensure(im, "busybox", PULL_DEFAULT, NULL, NULL, &i, &pulled, &e), 0);
        assert_false(pulled);
        i = image_info_free(i);
        im = images_close(im);
        snprintf(p, sizeof p, "%s/images.json", root);
        json_t *doc = json_load_file(p, 0, NULL), *rec;
        size_t k;
        json_array_foreach (json_object_get(doc, "images"), k, rec)
                json_object_set_new(rec, "pulledAt", json_real(now_stale()));
        assert_int_equal(json_dump_file(doc, p, 0), 0);
        json_decref(doc);
        store_open();
        assert_int_equal(images_ensure(im, "busybox", PULL_DEFAULT, NULL, NULL, &i, &pulled, &e), 0);
        assert_true(pulled);
        assert_int_equal(fake.calls, 1);
        assert_string_equal(i->id, local.id);
        i = image_info_free(i);
        fake.fail = false;
        assert_int_equal(images_ensure(im, "busybox", PULL_DEFAULT, NULL, NULL, &i, &pulled, &e), 0);
        assert_true(pulled);
        assert_string_equal(i->id, t.id);       /* the registry's image took the name */
        i = image_info_free(i);
        timage_done(&local);
        timage_done(&t);
}

static void test_ensure_concurrent(void **state)
{
        struct timage t;
        struct puller a = { 0 }, b = { 0 };

        timage_make(&t, "shared");
        fake.img = &t;
        fake.calls = 0;
        fake.fail = false;
        fake.hold = true;
        assert_int_equal(pthread_create(&a.th, NULL, pull_thread, &a), 0);
        wait_calls(1);
        assert_int_equal(pthread_create(&b.th, NULL, pull_thread, &b), 0);
        /* b is inside images_ensure while a's pull is held: it can only join it (a second
         * registry_pull would show in calls, which is checked after both finished) */
        while (!__atomic_load_n(&b.started, __ATOMIC_SEQ_CST))
                usleep(1000);
        usleep(100 * 1000);
        pthread_mutex_lock(&fake.mu);
        fake.hold = false;
        pthread_cond_broadcast(&fake.cv);
        pthread_mutex_unlock(&fake.mu);
        pthread_join(a.th, NULL);
        pthread_join(b.th, NULL);
        if (a.r < 0 || b.r < 0)
                fail_msg("ensure: %s / %s", a.err.msg, b.err.msg);
        assert_int_equal(fake.calls, 1);
        assert_string_equal(a.info->id, t.id);
        assert_string_equal(b.info->id, t.id);
        image_info_free(a.info);
        image_info_free(b.info);
        timage_done(&t);
}

/* ---- configuration ---- */

static void test_config_parse(void **state)
{
        const char *cfg = "{\"architecture\":\"arm64\",\"os\":\"linux\",\"created\":\"2024-05-01T12:00:00+02:00\","
                          "\"config\":{\"Entrypoint\":[\"/docker-entrypoint.sh\"],\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],"
                          "\"Env\":[\"PATH=/usr/bin\",\"NGINX_VERSION=1.25\"],\"User\":\"101:101\",\"WorkingDir\":\"\","
                          "\"ExposedPorts\":{\"80/tcp\":{}},\"StopSignal\":\"SIGQUIT\"},"
                          "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}}";
        struct image_config c = { 0 };
        char(*diff)[72] = NULL;
        size_t n = 0;
        double created = 0;
        struct err e = { 0 };

        assert_int_equal(image_config_parse(cfg, strlen(cfg), &c, &diff, &n, &created, &e), 0);
        assert_string_equal(c.entrypoint[0], "/docker-entrypoint.sh");
        assert_null(c.entrypoint[1]);
        assert_string_equal(c.cmd[2], "daemon off;");
        assert_string_equal(c.env[1], "NGINX_VERSION=1.25");
        assert_string_equal(c.user, "101:101");
        assert_null(c.working_dir);
        assert_string_equal(c.exposed_ports[0], "80/tcp");
        assert_string_equal(c.stop_signal, "SIGQUIT");
        assert_string_equal(c.architecture, "arm64");
        assert_int_equal(n, 1);
        assert_int_equal(diff[0][7], 'a');
        assert_true(created == 1714557600.0);
        free(diff);
        image_config_done(&c);

        /* an image with nothing set; null members */
        const char *bare = "{\"config\":{\"Entrypoint\":null,\"Cmd\":[],\"Env\":null}}";
        assert_int_equal(image_config_parse(bare, strlen(bare), &c, NULL, &n, &created, &e), 0);
        assert_null(c.entrypoint);
        assert_null(c.cmd);
        assert_int_equal(n, 0);
        assert_true(created == 0);
        image_config_done(&c);

        const struct {
                const char *doc, *needle;
        } bad[] = {
                { "[1]", "not a JSON object" },
                { "{\"config\":{\"Env\":\"A=1\"}}", "config.Env" },
                { "{\"config\":{\"Cmd\":[1]}}", "config.Cmd[0]" },
                { "{\"config\":{\"User\":5}}", "config.User" },
                { "{\"config\":{\"Env\":[\"=x\"]}}", "no name" },
                { "{\"created\":\"yesterday\"}", "created" },
                { "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"md5:00\"]}}", "rootfs.diff_ids[0]" },
                { "{\"rootfs\":{\"diff_ids\":{}}}", "rootfs.diff_ids" },
                { "{", "not JSON" },
        };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                e = (struct err) { 0 };
                assert_true(image_config_parse(bad[k].doc, strlen(bad[k].doc), &c, &diff, &n, NULL, &e) < 0);
                assert_string_equal(e.code, "InvalidImageConfig");
                if (!strstr(e.msg, bad[k].needle))
                        fail_msg("'%s': message '%s' lacks '%s'", bad[k].doc, e.msg, bad[k].needle);
        }
}

static json_t *merge(const struct image_config *ic, const char *def_json, struct err *e)
{
        json_t *def = json_loads(def_json, 0, NULL), *out = NULL;
        assert_non_null(def);
        if (image_config_merge(ic, "nginx:latest", def, &out, e) < 0)
                out = NULL;
        json_decref(def);
        return out;
}

static void assert_json(json_t *got, const char *want)
{
        json_t *w = json_loads(want, 0, NULL);
        assert_non_null(w);
        if (!json_equal(got, w)) {
                char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
                fail_msg("got %s, want %s", g, want);
        }
        json_decref(w);
}

static void test_config_merge(void **state)
{
        char *ep[] = { "/entry.sh", NULL }, *cmd[] = { "nginx", "-g", "daemon off;", NULL };
        char *env[] = { "PATH=/usr/bin", "A=image", "B=b", NULL };
        struct image_config ic = { .entrypoint = ep, .cmd = cmd, .env = env, .working_dir = "/srv", .user = "nginx",
                                   .stop_signal = "SIGQUIT" };
        struct image_config none = { 0 };
        struct err e = { 0 };
        json_t *o;

        /* neither: the image's Entrypoint + Cmd, Env, WorkingDir, User, StopSignal */
        o = merge(&ic, "{\"name\":\"web\"}", &e);
        assert_json(o, "{\"entryPoint\":[\"/entry.sh\"],\"command\":[\"nginx\",\"-g\",\"daemon off;\"],"
                       "\"environment\":[{\"name\":\"PATH\",\"value\":\"/usr/bin\"},{\"name\":\"A\",\"value\":\"image\"},"
                       "{\"name\":\"B\",\"value\":\"b\"}],\"workingDirectory\":\"/srv\",\"user\":\"nginx\",\"stopSignal\":\"SIGQUIT\"}");
        json_decref(o);
        /* entryPoint given: it replaces the image's and the image's Cmd is dropped */
        o = merge(&ic, "{\"name\":\"web\",\"entryPoint\":[\"sh\",\"-c\"]}", &e);
        assert_json(json_object_get(o, "entryPoint"), "[\"sh\",\"-c\"]");
        assert_null(json_object_get(o, "command"));
        json_decref(o);
        o = merge(&ic, "{\"name\":\"web\",\"entryPoint\":[\"sh\",\"-c\"],\"command\":[\"echo hi\"]}", &e);
        assert_json(json_object_get(o, "command"), "[\"echo hi\"]");
        json_decref(o);
        /* command alone: replaces Cmd, the Entrypoint stays */
        o = merge(&ic, "{\"name\":\"web\",\"command\":[\"-v\"]}", &e);
        assert_json(json_object_get(o, "entryPoint"), "[\"/entry.sh\"]");
        assert_json(json_object_get(o, "command"), "[\"-v\"]");
        json_decref(o);
        /* an empty entryPoint resets the image's, and the image's Cmd then runs (Docker) */
        o = merge(&ic, "{\"name\":\"web\",\"entryPoint\":[]}", &e);
        assert_null(json_object_get(o, "entryPoint"));
        assert_json(json_object_get(o, "command"), "[\"nginx\",\"-g\",\"daemon off;\"]");
        json_decref(o);
        /* environment: a name in both keeps the image's position with the definition's value */
        o = merge(&ic, "{\"name\":\"web\",\"environment\":[{\"name\":\"C\",\"value\":\"c\"},{\"name\":\"A\",\"value\":\"def\"}]}", &e);
        assert_json(json_object_get(o, "environment"),
                    "[{\"name\":\"PATH\",\"value\":\"/usr/bin\"},{\"name\":\"A\",\"value\":\"def\"},{\"name\":\"B\",\"value\":\"b\"},"
                    "{\"name\":\"C\",\"value\":\"c\"}]");
        json_decref(o);
        /* user and workingDirectory of the definition win; an empty one does not count */
        o = merge(&ic, "{\"name\":\"web\",\"user\":\"1000:1000\",\"workingDirectory\":\"/app\"}", &e);
        assert_string_equal(json_string_value(json_object_get(o, "user")), "1000:1000");
        assert_string_equal(json_string_value(json_object_get(o, "workingDirectory")), "/app");
        json_decref(o);
        o = merge(&ic, "{\"name\":\"web\",\"user\":\"\"}", &e);
        assert_string_equal(json_string_value(json_object_get(o, "user")), "nginx");
        json_decref(o);
        /* an image that sets nothing: the definition's command, SIGTERM, nothing else */
        o = merge(&none, "{\"name\":\"web\",\"command\":[\"sleep\",\"1\"]}", &e);
        assert_json(o, "{\"command\":[\"sleep\",\"1\"],\"stopSignal\":\"SIGTERM\"}");
        json_decref(o);
        /* nothing to run at all */
        e = (struct err) { 0 };
        assert_null(merge(&none, "{\"name\":\"web\",\"command\":[]}", &e));
        assert_string_equal(e.code, "CannotStartContainerError");
        assert_string_equal(e.msg, "container web: image nginx:latest has no Entrypoint or Cmd and the container definition "
                                   "gives neither entryPoint nor command");
        e = (struct err) { 0 };
        assert_null(merge(&ic, "{\"name\":\"web\",\"command\":\"ls\"}", &e));
        assert_string_equal(e.code, "CannotStartContainerError");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_layer_unpack, setup, teardown),
                cmocka_unit_test_setup_teardown(test_layer_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_crash_leftovers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_import_docker_save, setup, teardown),
                cmocka_unit_test_setup_teardown(test_import_docker25, setup, teardown),
                cmocka_unit_test_setup_teardown(test_import_oci, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_prune_lease, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ensure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ensure_concurrent, setup, teardown),
                cmocka_unit_test(test_config_parse),
                cmocka_unit_test(test_config_merge),
        };
        if (geteuid() != 0) {
                fprintf(stderr, "sched_images_store_test: skipped: needs root (whiteouts are mknod'ed, owners chown'ed)\n");
                return 0;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
