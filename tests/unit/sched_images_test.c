/* sched_images_test.c: image references (Docker's normalisation), the blob store (digests checked on
 * every write, nothing partial under a digest's name, a second writer of a blob deduplicated) and
 * manifests (every kind, the refusals, the platform choice of an index). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../scheduler/images/blob.h"
#include "../../scheduler/images/manifest.h"
#include "../../scheduler/images/ref.h"

/* ---- references ---- */

static void check_ref(const char *in, const char *canonical, const char *familiar)
{
        struct image_ref r;
        struct err e = { 0 };
        assert_int_equal(image_ref_parse(in, &r, &e), 0);
        char *c = image_ref_canonical(&r), *f = image_ref_familiar(&r);
        assert_string_equal(c, canonical);
        assert_string_equal(f, familiar);
        free(c);
        free(f);
        image_ref_done(&r);
}

static void check_bad_ref(const char *in, const char *needle)
{
        struct image_ref r;
        struct err e = { 0 };
        assert_int_equal(image_ref_parse(in, &r, &e), -EINVAL);
        assert_string_equal(e.code, "InvalidParameterException");
        if (!strstr(e.msg, needle))
                fail_msg("'%s': message '%s' lacks '%s'", in, e.msg, needle);
}

static void test_ref_normalise(void **state)
{
        check_ref("nginx", "docker.io/library/nginx:latest", "nginx:latest");
        check_ref("nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25");
        check_ref("library/nginx", "docker.io/library/nginx:latest", "nginx:latest");
        check_ref("docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest");
        check_ref("index.docker.io/library/nginx:1", "docker.io/library/nginx:1", "nginx:1");
        check_ref("user/app:v1.0-rc_2", "docker.io/user/app:v1.0-rc_2", "user/app:v1.0-rc_2");
        check_ref("public.ecr.aws/nginx/nginx:stable", "public.ecr.aws/nginx/nginx:stable",
                  "public.ecr.aws/nginx/nginx:stable");
        check_ref("127.0.0.1:5000/x/y:z", "127.0.0.1:5000/x/y:z", "127.0.0.1:5000/x/y:z");
        check_ref("localhost/app", "localhost/app:latest", "localhost/app:latest");
        check_ref("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest");
        check_ref("Registry/app", "Registry/app:latest", "Registry/app:latest");
        /* found by fuzz_sched_images: a Docker Hub repository whose first component looks like a
         * registry keeps "docker.io/" in its familiar form, or it would name another registry */
        check_ref("docker.io/x.er.io/y", "docker.io/x.er.io/y:latest", "docker.io/x.er.io/y:latest");
        check_ref("docker.io/localhost/y", "docker.io/localhost/y:latest", "docker.io/localhost/y:latest");
        check_ref("a__b/c.d-e---f", "docker.io/a__b/c.d-e---f:latest", "a__b/c.d-e---f:latest");
        const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        char in[200], want[200];
        snprintf(in, sizeof in, "busybox@%s", d);
        snprintf(want, sizeof want, "docker.io/library/busybox@%s", d);
        check_ref(in, want, in);
        snprintf(in, sizeof in, "busybox:1.36@%s", d);
        snprintf(want, sizeof want, "docker.io/library/busybox:1.36@%s", d);
        check_ref(in, want, in);

        struct image_ref r;
        struct err e = { 0 };
        assert_int_equal(image_ref_parse("nginx", &r, &e), 0);
        assert_string_equal(image_ref_api_host(&r), "registry-1.docker.io");
        char *n = image_ref_name(&r);
        assert_string_equal(n, "docker.io/library/nginx");
        free(n);
        image_ref_done(&r);
        assert_int_equal(image_ref_parse("127.0.0.1:5000/a", &r, &e), 0);
        assert_string_equal(image_ref_api_host(&r), "127.0.0.1:5000");
        assert_null(r.digest);
        assert_string_equal(r.tag, "latest");
        image_ref_done(&r);
}

static void test_ref_refused(void **state)
{
        check_bad_ref("", "empty");
        check_bad_ref("Nginx", "lower case");
        check_bad_ref("user/App", "lower case");
        check_bad_ref("nginx:", "invalid tag");
        check_bad_ref("nginx:-x", "invalid tag");
        check_bad_ref("nginx:a/b", "invalid registry");
        check_bad_ref("nginx@sha256:abc", "invalid digest");
        check_bad_ref("nginx@md5:0123456789abcdef0123456789abcdef", "invalid digest");
        check_bad_ref("a..b/c", "invalid registry");
        check_bad_ref("host:port/x", "invalid registry");
        check_bad_ref("x//y", "invalid repository");
        check_bad_ref("x/-y", "invalid repository");
        check_bad_ref("x/y_", "invalid repository");
        check_bad_ref("x/y___z", "invalid repository");
        char tag[200];
        memset(tag, 'a', sizeof tag);
        memcpy(tag, "x:", 2);
        tag[sizeof tag - 1] = '\0';
        check_bad_ref(tag, "invalid tag");
        char longname[300];
        memset(longname, 'a', sizeof longname);
        longname[sizeof longname - 1] = '\0';
        check_bad_ref(longname, "longer than 255");
}

/* ---- blobs ---- */

static char root[64];

static int blob_setup(void **state)
{
        snprintf(root, sizeof root, "/tmp/ecsbox-blob-XXXXXX");
        assert_non_null(mkdtemp(root));
        struct err e = { 0 };
        assert_int_equal(blob_store_init(root, &e), 0);
        return 0;
}

static int blob_teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", root);
        assert_int_equal(system(cmd), 0);
        return 0;
}

/* sha256("hello") */
#define HELLO_DIGEST "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static int count_tmp(void)
{
        char cmd[160];
        snprintf(cmd, sizeof cmd, "test $(ls -A %s/blobs/.tmp | grep -v '^lock-' | wc -l) -eq 0", root);
        return system(cmd) == 0 ? 0 : 1;
}

static void test_blob_put_read(void **state)
{
        struct err e = { 0 };
        char d[BLOB_DIGEST_MAX];
        blob_digest_buf("hello", 5, d);
        assert_string_equal(d, HELLO_DIGEST);
        assert_false(blob_exists(root, HELLO_DIGEST));
        assert_int_equal(blob_put_buf(root, "hello", 5, HELLO_DIGEST, d, &e), 0);
        assert_true(blob_exists(root, HELLO_DIGEST));
        char *buf = NULL;
        size_t len = 0;
        assert_int_equal(blob_read(root, HELLO_DIGEST, 100, &buf, &len, &e), 0);
        assert_int_equal(len, 5);
        assert_string_equal(buf, "hello");
        free(buf);
        /* too large for the caller's limit */
        assert_true(blob_read(root, HELLO_DIGEST, 4, &buf, &len, &e) < 0);
        /* putting it again is a no-op */
        assert_int_equal(blob_put_buf(root, "hello", 5, HELLO_DIGEST, d, &e), 0);
        /* corrupted on disk: refused when read */
        char *p = blob_path(root, HELLO_DIGEST);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("HELLO", f);
        fclose(f);
        e = (struct err) { 0 };
        assert_true(blob_read(root, HELLO_DIGEST, 100, &buf, &len, &e) < 0);
        assert_string_equal(e.code, BLOB_E_DIGEST);
        assert_int_equal(blob_remove(root, HELLO_DIGEST), 0);
        assert_false(blob_exists(root, HELLO_DIGEST));
        free(p);
        e = (struct err) { 0 };
        assert_int_equal(blob_open(root, HELLO_DIGEST, &e), -ENOENT);
        assert_string_equal(e.code, BLOB_E_NOTFOUND);
        assert_null(blob_path(root, "sha256:xyz"));
        assert_int_equal(count_tmp(), 0);
}

static void test_blob_refused(void **state)
{
        struct err e = { 0 };
        char d[BLOB_DIGEST_MAX];
        /* wrong content for the digest: nothing lands */
        assert_true(blob_put_buf(root, "hellO", 5, HELLO_DIGEST, d, &e) < 0);
        assert_string_equal(e.code, BLOB_E_DIGEST);
        assert_false(blob_exists(root, HELLO_DIGEST));
        /* more than announced */
        struct blob_writer *w = NULL;
        e = (struct err) { 0 };
        assert_int_equal(blob_writer_open(root, HELLO_DIGEST, 4, &w, &e), 0);
        assert_non_null(w);
        assert_true(blob_writer_write(w, "hello", 5, &e) < 0);
        assert_string_equal(e.code, BLOB_E_SIZE);
        blob_writer_free(w);
        /* fewer than announced */
        e = (struct err) { 0 };
        assert_int_equal(blob_writer_open(root, HELLO_DIGEST, 6, &w, &e), 0);
        assert_int_equal(blob_writer_write(w, "hello", 5, &e), 0);
        assert_int_equal(blob_writer_written(w), 5);
        assert_true(blob_writer_commit(w, d, &e) < 0);
        assert_string_equal(e.code, BLOB_E_SIZE);
        assert_false(blob_exists(root, HELLO_DIGEST));
        assert_int_equal(count_tmp(), 0);
        /* without an expected digest the digest is learned */
        e = (struct err) { 0 };
        assert_int_equal(blob_writer_open(root, NULL, -1, &w, &e), 0);
        assert_int_equal(blob_writer_write(w, "hel", 3, &e), 0);
        assert_int_equal(blob_writer_write(w, "lo", 2, &e), 0);
        assert_int_equal(blob_writer_commit(w, d, &e), 0);
        assert_string_equal(d, HELLO_DIGEST);
        assert_true(blob_exists(root, HELLO_DIGEST));
        /* a writer of a blob already there gets nothing to write */
        assert_int_equal(blob_writer_open(root, HELLO_DIGEST, 5, &w, &e), 0);
        assert_null(w);
}

static void test_blob_fd_and_crash_leftovers(void **state)
{
        struct err e = { 0 };
        char d[BLOB_DIGEST_MAX], path[128];
        snprintf(path, sizeof path, "%s/in", root);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        for (int i = 0; i < 100000; i++)
                fputs("0123456789", f);
        fclose(f);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(blob_put_fd(root, fd, NULL, 1000000, d, &e), 0);
        close(fd);
        assert_true(blob_exists(root, d));
        /* what a crash leaves in .tmp goes at the next init */
        snprintf(path, sizeof path, "%s/blobs/.tmp/partial-1", root);
        f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(count_tmp(), 1);
        assert_int_equal(blob_store_init(root, &e), 0);
        assert_int_equal(count_tmp(), 0);
        assert_true(blob_exists(root, d));
}

/* Two processes write the same blob at once: one writes, the other finds it there. The child forks
 * before the parent opens its writer (a forked copy of the lock's fd would hold the lock too). */
static void test_blob_concurrent_writers(void **state)
{
        struct err e = { 0 };
        struct blob_writer *w = NULL;
        int pfd[2], go[2];
        assert_int_equal(pipe(pfd), 0);
        assert_int_equal(pipe(go), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct blob_writer *w2 = NULL;
                struct err e2 = { 0 };
                char c = 'x';
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                /* blocks on the lock until the parent commits */
                int r = blob_writer_open(root, HELLO_DIGEST, 5, &w2, &e2);
                c = (r == 0 && !w2) ? 'y' : 'n';
                (void) !write(pfd[1], &c, 1);
                _exit(0);
        }
        assert_int_equal(blob_writer_open(root, HELLO_DIGEST, 5, &w, &e), 0);
        assert_non_null(w);
        assert_int_equal(write(go[1], "g", 1), 1);
        usleep(100000);
        assert_int_equal(blob_writer_write(w, "hello", 5, &e), 0);
        assert_int_equal(blob_writer_commit(w, NULL, &e), 0);
        char c = 0;
        assert_int_equal(read(pfd[0], &c, 1), 1);
        assert_int_equal(c, 'y');
        close(pfd[0]);
        close(pfd[1]);
        close(go[0]);
        close(go[1]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
}

/* ---- manifests ---- */

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static void test_manifest_image(void **state)
{
        const char *docker = "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
                             "\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"digest\":\"" D1 "\",\"size\":100},"
                             "\"layers\":[{\"mediaType\":\"" MT_DOCKER_LAYER_GZIP "\",\"digest\":\"" D2 "\",\"size\":5},"
                             "{\"mediaType\":\"" MT_OCI_LAYER_ZSTD "\",\"digest\":\"" D3 "\",\"size\":7}]}";
        struct manifest *m = NULL;
        struct err e = { 0 };
        assert_int_equal(manifest_parse(docker, strlen(docker), NULL, &m, &e), 0);
        assert_int_equal(m->kind, MANIFEST_IMAGE);
        assert_string_equal(m->config.digest, D1);
        assert_int_equal(m->config.size, 100);
        assert_int_equal(m->n_layers, 2);
        assert_int_equal(m->layers[0].compression, LAYER_GZIP);
        assert_int_equal(m->layers[1].compression, LAYER_ZSTD);
        manifest_free(m);
        /* an OCI manifest without mediaType, typed by the Content-Type */
        const char *oci = "{\"schemaVersion\":2,"
                          "\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":1},"
                          "\"layers\":[{\"mediaType\":\"" MT_OCI_LAYER "\",\"digest\":\"" D2 "\",\"size\":5}]}";
        assert_int_equal(manifest_parse(oci, strlen(oci), MT_OCI_MANIFEST, &m, &e), 0);
        assert_int_equal(m->layers[0].compression, LAYER_TAR);
        manifest_free(m);
}

static void check_bad_manifest(const char *doc, const char *ct, const char *needle)
{
        struct manifest *m = NULL;
        struct err e = { 0 };
        assert_true(manifest_parse(doc, strlen(doc), ct, &m, &e) < 0);
        assert_null(m);
        assert_string_equal(e.code, "InvalidManifest");
        if (!strstr(e.msg, needle))
                fail_msg("message '%s' lacks '%s'", e.msg, needle);
}

static void test_manifest_refused(void **state)
{
        check_bad_manifest("not json", NULL, "JSON");
        check_bad_manifest("{\"schemaVersion\":1,\"mediaType\":\"" MT_DOCKER_SCHEMA1 "\"}", NULL, "schema 1");
        check_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}", NULL, "text/plain");
        check_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
                           "\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"digest\":\"sha256:12\",\"size\":1},\"layers\":[]}",
                           NULL, "digest");
        check_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
                           "\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}",
                           NULL, "size");
        check_bad_manifest("{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
                           "\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"digest\":\"" D1 "\",\"size\":1},"
                           "\"layers\":[{\"mediaType\":\"application/x-unknown\",\"digest\":\"" D2 "\",\"size\":1}]}",
                           NULL, "application/x-unknown");
        /* more layers than allowed */
        size_t cap = 200 + (MANIFEST_MAX_LAYERS + 1) * 200;
        char *doc = malloc(cap);
        assert_non_null(doc);
        int n = snprintf(doc, cap, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
                                   "\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[");
        for (int i = 0; i <= MANIFEST_MAX_LAYERS; i++)
                n += snprintf(doc + n, cap - n, "%s{\"mediaType\":\"" MT_OCI_LAYER_GZIP "\",\"digest\":\"" D2 "\",\"size\":1}",
                              i ? "," : "");
        snprintf(doc + n, cap - n, "]}");
        check_bad_manifest(doc, NULL, "layers");
        free(doc);
}

static void test_manifest_index_select(void **state)
{
        const char *idx =
                "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
                "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
                "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":10,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
                "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":10,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
        struct manifest *m = NULL;
        struct err e = { 0 };
        assert_int_equal(manifest_parse(idx, strlen(idx), NULL, &m, &e), 0);
        assert_int_equal(m->kind, MANIFEST_INDEX);
        assert_int_equal(m->n_manifests, 3);
        struct platform p = { .os = "linux", .arch = "amd64" };
        const struct descriptor *d = manifest_select(m, &p);
        assert_non_null(d);
        assert_string_equal(d->digest, D3);
        struct platform arm = { .os = "linux", .arch = "arm64", .variant = "v8" };
        d = manifest_select(m, &arm);
        assert_non_null(d);
        assert_string_equal(d->digest, D2);
        struct platform unk = { .os = "unknown", .arch = "unknown" };
        assert_null(manifest_select(m, &unk));
        struct platform s390 = { .os = "linux", .arch = "s390x" };
        assert_null(manifest_select(m, &s390));
        char buf[64];
        platform_format(&arm, buf, sizeof buf);
        assert_string_equal(buf, "linux/arm64/v8");
        platform_host(&p);
        assert_string_equal(p.os, "linux");
        assert_true(p.arch[0] != '\0');
        manifest_free(m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ref_normalise),
                cmocka_unit_test(test_ref_refused),
                cmocka_unit_test_setup_teardown(test_blob_put_read, blob_setup, blob_teardown),
                cmocka_unit_test_setup_teardown(test_blob_refused, blob_setup, blob_teardown),
                cmocka_unit_test_setup_teardown(test_blob_fd_and_crash_leftovers, blob_setup, blob_teardown),
                cmocka_unit_test_setup_teardown(test_blob_concurrent_writers, blob_setup, blob_teardown),
                cmocka_unit_test(test_manifest_image),
                cmocka_unit_test(test_manifest_refused),
                cmocka_unit_test(test_manifest_index_select),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
