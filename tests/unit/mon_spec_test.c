/* mon_spec_test.c: the monitor's task spec: defaults, argv, health checks, dependsOn and bad specs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../scheduler/monitor/monitor.h"
#include "../../scheduler/monitor/spec.h"

#define TASK_HEAD "{\"taskId\":\"0123456789abcdef0123456789abcdef\",\"dir\":\"/var/lib/ecsbox/tasks/x\"," \
                  "\"netns\":\"/run/netns/t\","

static struct task_spec *parse_ok(const char *text)
{
        json_error_t jerr;
        json_t *root = json_loads(text, 0, &jerr);
        struct task_spec *s = NULL;
        struct err err = { 0 };
        if (!root)
                fail_msg("test JSON does not parse: %s", jerr.text);
        if (spec_parse(root, &s, &err) < 0)
                fail_msg("spec refused: %s", err.msg);
        json_decref(root);
        return s;
}

/* Parse text expecting a refusal whose message contains needle. */
static void parse_bad(const char *text, const char *needle)
{
        json_error_t jerr;
        json_t *root = json_loads(text, 0, &jerr);
        struct task_spec *s = (struct task_spec *) 0x1;
        struct err err = { 0 };
        if (!root)
                fail_msg("test JSON does not parse: %s", jerr.text);
        assert_true(spec_parse(root, &s, &err) < 0);
        assert_ptr_equal(s, (struct task_spec *) 0x1);      /* untouched on failure */
        if (!strstr(err.msg, needle))
                fail_msg("message '%s' lacks '%s'", err.msg, needle);
        assert_true(err.code[0] != '\0');
        json_decref(root);
}

static void test_minimal_defaults(void **state)
{
        struct task_spec *s = parse_ok(TASK_HEAD "\"containers\":[{\"name\":\"web\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},"
                                       "\"command\":[\"httpd\",\"-f\"]}]}");
        struct container_spec *c = &s->containers[0];
        assert_int_equal(s->n_containers, 1);
        assert_string_equal(s->task_id, "0123456789abcdef0123456789abcdef");
        assert_string_equal(s->netns, "/run/netns/t");
        assert_null(s->notify_socket);
        assert_null(s->cgroup_parent);
        assert_true(c->essential);
        assert_int_equal(c->stop_timeout, 30);
        assert_int_equal(c->start_timeout, -1);
        assert_int_equal(c->memory_mib, -1);
        assert_int_equal(c->cpu, -1);
        assert_false(c->health.present);
        assert_null(c->workdir);
        assert_null(c->user);
        assert_int_equal(c->caps, caps_default());
        assert_string_equal(c->argv[0], "httpd");
        assert_string_equal(c->argv[1], "-f");
        assert_null(c->argv[2]);
        assert_null(c->env[0]);
        spec_free(s);
}

static void test_entrypoint_then_command_env(void **state)
{
        struct task_spec *s = parse_ok(
                TASK_HEAD "\"netns\":null,\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"entryPoint\":[\"sh\",\"-c\"],"
                          "\"command\":[\"echo $X\"],\"environment\":[{\"name\":\"X\",\"value\":\"1 2\"},{\"name\":\"E\"}],"
                          "\"workingDirectory\":\"/tmp\",\"user\":\"nobody:nogroup\",\"memory\":64,\"memoryReservation\":32,"
                          "\"cpu\":512,\"stopTimeout\":2,\"startTimeout\":5,\"portMappings\":[]}]}");
        struct container_spec *c = &s->containers[0];
        assert_null(s->netns);     /* null = host mode */
        assert_string_equal(c->argv[0], "sh");
        assert_string_equal(c->argv[1], "-c");
        assert_string_equal(c->argv[2], "echo $X");
        assert_null(c->argv[3]);
        assert_string_equal(c->env[0], "X=1 2");
        assert_string_equal(c->env[1], "E=");
        assert_null(c->env[2]);
        assert_string_equal(c->workdir, "/tmp");
        assert_string_equal(c->user, "nobody:nogroup");
        assert_int_equal(c->memory_mib, 64);
        assert_int_equal(c->reservation_mib, 32);
        assert_int_equal(c->cpu, 512);
        assert_int_equal(c->stop_timeout, 2);
        assert_int_equal(c->start_timeout, 5);
        spec_free(s);
}

static void test_health_check_forms(void **state)
{
        struct task_spec *s = parse_ok(
                TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"],"
                          "\"healthCheck\":{\"command\":[\"CMD-SHELL\",\"wget -q localhost || exit 1\"],\"interval\":2}},"
                          "{\"name\":\"b\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"],"
                          "\"healthCheck\":{\"command\":[\"CMD\",\"true\",\"arg\"],\"interval\":5,\"timeout\":3,"
                          "\"retries\":1,\"startPeriod\":10}}]}");
        struct health_spec *a = &s->containers[0].health, *b = &s->containers[1].health;
        assert_true(a->present);
        assert_string_equal(a->argv[0], "/bin/sh");
        assert_string_equal(a->argv[1], "-c");
        assert_string_equal(a->argv[2], "wget -q localhost || exit 1");
        assert_null(a->argv[3]);
        assert_int_equal(a->interval, 2);
        assert_int_equal(a->timeout, 5);
        assert_int_equal(a->retries, 3);
        assert_int_equal(a->start_period, 0);
        assert_string_equal(b->argv[0], "true");
        assert_string_equal(b->argv[1], "arg");
        assert_null(b->argv[2]);
        assert_int_equal(b->timeout, 3);
        assert_int_equal(b->retries, 1);
        assert_int_equal(b->start_period, 10);
        spec_free(s);
}

static void test_depends_on_targets(void **state)
{
        struct task_spec *s = parse_ok(
                TASK_HEAD "\"containers\":[{\"name\":\"init\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"essential\":false,\"command\":[\"x\"]},"
                          "{\"name\":\"db\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"],"
                          "\"healthCheck\":{\"command\":[\"CMD\",\"true\"]}},"
                          "{\"name\":\"web\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"],\"dependsOn\":["
                          "{\"containerName\":\"init\",\"condition\":\"SUCCESS\"},"
                          "{\"containerName\":\"db\",\"condition\":\"HEALTHY\"}]}]}");
        struct container_spec *w = &s->containers[2];
        assert_int_equal(w->n_deps, 2);
        assert_int_equal(w->deps[0].target, 0);
        assert_int_equal(w->deps[0].cond, DEP_SUCCESS);
        assert_int_equal(w->deps[1].target, 1);
        assert_int_equal(w->deps[1].cond, DEP_HEALTHY);
        assert_int_equal(spec_find_container(s, "db"), 1);
        assert_int_equal(spec_find_container(s, "nope"), -1);
        assert_string_equal(dep_condition_name(DEP_COMPLETE), "COMPLETE");
        spec_free(s);
}

static void test_caps_in_spec(void **state)
{
        struct task_spec *s = parse_ok(
                TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"],"
                          "\"linuxParameters\":{\"capabilities\":{\"add\":[\"NET_RAW\"],\"drop\":[\"CHOWN\"]}}}]}");
        uint64_t c = s->containers[0].caps;
        assert_true(c & CAPS_BIT(13));          /* CAP_NET_RAW */
        assert_false(c & CAPS_BIT(0));          /* CAP_CHOWN */
        assert_true(c & CAPS_BIT(5));           /* CAP_KILL */
        spec_free(s);
}

#define C1(extra) TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"]" extra "}]}"

static void test_bad_specs(void **state)
{
        parse_bad("[]", "JSON object");
        parse_bad("{\"dir\":\"/x\",\"containers\":[]}", "taskId");
        parse_bad("{\"taskId\":\"0123\",\"dir\":\"/x\",\"containers\":[]}", "32 lowercase hex");
        parse_bad("{\"taskId\":\"0123456789ABCDEF0123456789abcdef\",\"dir\":\"/x\",\"containers\":[]}", "32 lowercase hex");
        parse_bad("{\"taskId\":\"0123456789abcdef0123456789abcdef\",\"containers\":[]}", "dir");
        parse_bad("{\"taskId\":\"0123456789abcdef0123456789abcdef\",\"dir\":\"rel\",\"containers\":[]}", "absolute");
        parse_bad(TASK_HEAD "\"containers\":[]}", "1 to 64 containers");
        parse_bad(TASK_HEAD "\"containers\":{}}", "containers");
        /* missing name, image; bad name and image */
        parse_bad(TASK_HEAD "\"containers\":[{\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"]}]}", "name");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"command\":[\"x\"]}]}", "image");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a b\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"]}]}",
                  "invalid name 'a b'");
        /* the image is only a label: its layers say where the root is */
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"../etc\",\"command\":[\"x\"]}]}",
                  "image '../etc' needs rootfs.lowerdirs");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"x\\ny\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},"
                            "\"command\":[\"x\"]}]}", "invalid image");
        /* nothing to run */
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]}}]}", "nothing to run");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[1]}]}", "command[0]");
        /* duplicates and essential */
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"]},"
                            "{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"]}]}", "duplicate container name 'a'");
        parse_bad(C1(",\"essential\":false"), "at least one container must be essential");
        /* capabilities */
        parse_bad(C1(",\"linuxParameters\":{\"capabilities\":{\"add\":[\"NET_ADMIN\"]}}"), "NET_ADMIN is not allowed");
        parse_bad(C1(",\"linuxParameters\":{\"capabilities\":{\"add\":[\"CAP_SYS_ADMIN\"]}}"), "SYS_ADMIN is not allowed");
        parse_bad(C1(",\"linuxParameters\":{\"capabilities\":{\"add\":[\"ALL\"]}}"), "ALL is not allowed");
        parse_bad(C1(",\"linuxParameters\":{\"capabilities\":{\"add\":[\"FLY\"]}}"), "unknown capability 'FLY'");
        parse_bad(C1(",\"linuxParameters\":{\"capabilities\":{\"drop\":[\"NOPE\"]}}"), "unknown capability 'NOPE'");
        /* dependsOn */
        parse_bad(C1(",\"dependsOn\":[{\"containerName\":\"ghost\",\"condition\":\"START\"}]"),
                  "unknown container 'ghost'");
        parse_bad(C1(",\"dependsOn\":[{\"containerName\":\"a\",\"condition\":\"START\"}]"), "names itself");
        parse_bad(C1(",\"dependsOn\":[{\"containerName\":\"a\",\"condition\":\"READY\"}]"), "condition 'READY'");
        parse_bad(C1(",\"dependsOn\":[{\"condition\":\"START\"}]"), "containerName");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"]},"
                            "{\"name\":\"b\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"],"
                            "\"dependsOn\":[{\"containerName\":\"a\",\"condition\":\"SUCCESS\"}]}]}",
                  "the target must not be essential");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"]},"
                            "{\"name\":\"b\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"],"
                            "\"dependsOn\":[{\"containerName\":\"a\",\"condition\":\"HEALTHY\"}]}]}",
                  "a has no healthCheck");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"],"
                            "\"dependsOn\":[{\"containerName\":\"b\",\"condition\":\"START\"}]},"
                            "{\"name\":\"b\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"],"
                            "\"dependsOn\":[{\"containerName\":\"a\",\"condition\":\"START\"}]}]}",
                  "dependsOn cycle");
        /* health checks */
        parse_bad(C1(",\"healthCheck\":{\"command\":[\"CMD-SHELL\"]}"), "healthCheck.command must be");
        parse_bad(C1(",\"healthCheck\":{\"command\":[\"RUN\",\"x\"]}"), "must be CMD or CMD-SHELL, not 'RUN'");
        parse_bad(C1(",\"healthCheck\":{\"command\":[\"CMD-SHELL\",\"a\",\"b\"]}"), "exactly one string");
        parse_bad(C1(",\"healthCheck\":{\"command\":[\"CMD\",\"x\"],\"retries\":0}"), "retries");
        parse_bad(C1(",\"healthCheck\":{\"command\":[\"CMD\",\"x\"],\"interval\":0}"), "interval");
        /* numbers, paths, users */
        parse_bad(C1(",\"memory\":2"), "memory");
        parse_bad(C1(",\"memory\":\"64\""), "memory");
        parse_bad(C1(",\"memory\":16,\"memoryReservation\":32"), "exceeds memory");
        parse_bad(C1(",\"stopTimeout\":-1"), "stopTimeout");
        parse_bad(C1(",\"workingDirectory\":\"tmp\""), "workingDirectory must be an absolute path");
        parse_bad(C1(",\"user\":\"a:\""), "invalid user 'a:'");
        parse_bad(C1(",\"user\":\"a b\""), "invalid user");
        parse_bad(C1(",\"environment\":[{\"name\":\"A=B\",\"value\":\"x\"}]"), "invalid variable name 'A=B'");
        parse_bad(C1(",\"environment\":[{\"value\":\"x\"}]"), "name");
        parse_bad("{\"taskId\":\"0123456789abcdef0123456789abcdef\",\"dir\":\"/x\","
                  "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"]}]}",
                  "image 'busybox' needs rootfs.lowerdirs");
        parse_bad(TASK_HEAD "\"cgroupParent\":\"../up\",\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"]}]}",
                  "cgroupParent");
        parse_bad(TASK_HEAD "\"cgroupParent\":\"/abs\",\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l\"]},\"command\":[\"x\"]}]}",
                  "cgroupParent");
}

static void test_host_image_needs_no_store(void **state)
{
        struct task_spec *s = parse_ok("{\"taskId\":\"0123456789abcdef0123456789abcdef\",\"dir\":\"/x\","
                                       "\"cgroupParent\":\"ecsbox/tasks\","
                                       "\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"]}]}");
        assert_string_equal(s->cgroup_parent, "ecsbox/tasks");
        spec_free(s);
}

static void test_load_file_errors(void **state)
{
        char path[] = "/tmp/mon_spec_testXXXXXX";
        struct task_spec *s = NULL;
        struct err err = { 0 };
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "{\n \"taskId\": ,\n}", 16), 16);
        close(fd);
        assert_true(spec_load(path, &s, &err) < 0);
        assert_non_null(strstr(err.msg, "line 2"));
        assert_non_null(strstr(err.msg, path));
        unlink(path);
        err_clear(&err);
        assert_true(spec_load("/nonexistent/spec.json", &s, &err) < 0);
        assert_non_null(strstr(err.msg, "/nonexistent/spec.json"));
        assert_null(s);
}

static void test_rootfs_and_stop_signal(void **state)
{
        struct task_spec *s = parse_ok("{\"taskId\":\"0123456789abcdef0123456789abcdef\",\"dir\":\"/x\","
                                       "\"containers\":[{\"name\":\"a\",\"image\":\"docker.io/library/nginx:latest\","
                                       "\"rootfs\":{\"lowerdirs\":[\"/l/top\",\"/l/bottom\"]},\"stopSignal\":\"SIGQUIT\","
                                       "\"readonlyRootFilesystem\":true,\"command\":[\"x\"]},"
                                       "{\"name\":\"b\",\"image\":\"host\",\"command\":[\"x\"]}]}");
        struct container_spec *a = &s->containers[0], *b = &s->containers[1];
        assert_string_equal(a->image, "docker.io/library/nginx:latest");
        assert_string_equal(a->lowerdirs[0], "/l/top");
        assert_string_equal(a->lowerdirs[1], "/l/bottom");
        assert_null(a->lowerdirs[2]);
        assert_int_equal(a->stop_signal, SIGQUIT);
        assert_true(a->readonly_root);
        assert_null(b->lowerdirs);
        assert_int_equal(b->stop_signal, SIGTERM);
        assert_false(b->readonly_root);
        spec_free(s);

        parse_bad(C1(",\"rootfs\":{\"lowerdirs\":[]}"), "rootfs.lowerdirs must hold 1 to 500 layers, not 0");
        parse_bad(C1(",\"rootfs\":{}"), "lowerdirs");
        parse_bad(C1(",\"rootfs\":{\"lowerdirs\":[\"rel\"]}"), "rootfs.lowerdirs[0] 'rel' must be an absolute path");
        parse_bad(C1(",\"rootfs\":{\"lowerdirs\":[\"/a\",\"/b:c\"]}"), "rootfs.lowerdirs[1] '/b:c'");
        parse_bad(C1(",\"rootfs\":{\"lowerdirs\":[\"/a,upperdir=/x\"]}"), "without ','");
        parse_bad(C1(",\"rootfs\":{\"lowerdirs\":[7]}"), "rootfs.lowerdirs[0] must be a string");
        parse_bad(C1(",\"stopSignal\":\"SIGNOPE\""), "stopSignal 'SIGNOPE'");
        parse_bad(C1(",\"stopSignal\":\"KILL\""), "stopSignal 'KILL'");
        parse_bad(C1(",\"stopSignal\":\"0\""), "stopSignal '0'");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"x\"],"
                            "\"rootfs\":{\"lowerdirs\":[\"/a\"]}}]}", "image \"host\" takes no rootfs");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"a b\",\"command\":[\"x\"],"
                            "\"rootfs\":{\"lowerdirs\":[\"/a\"]}}]}", "invalid image 'a b'");
}

static void test_signal_names(void **state)
{
        int sig = 0;
        assert_int_equal(spec_signal_parse("SIGTERM", &sig), 0);
        assert_int_equal(sig, SIGTERM);
        assert_int_equal(spec_signal_parse("quit", &sig), 0);
        assert_int_equal(sig, SIGQUIT);
        assert_int_equal(spec_signal_parse("sigwinch", &sig), 0);
        assert_int_equal(sig, SIGWINCH);
        assert_int_equal(spec_signal_parse("15", &sig), 0);
        assert_int_equal(sig, 15);
        assert_int_equal(spec_signal_parse("RTMIN+3", &sig), 0);
        assert_int_equal(sig, SIGRTMIN + 3);
        assert_int_equal(spec_signal_parse("", &sig), -EINVAL);
        assert_int_equal(spec_signal_parse("15x", &sig), -EINVAL);
        assert_int_equal(spec_signal_parse("999", &sig), -EINVAL);
        assert_int_equal(spec_signal_parse("SIG", &sig), -EINVAL);
        assert_string_equal(spec_signal_name(SIGQUIT), "SIGQUIT");
        assert_string_equal(spec_signal_name(SIGTERM), "SIGTERM");
        assert_null(spec_signal_name(0));
}

static void test_overlay_options(void **state)
{
        const char *two[] = { "/s/layers/aaa", "/s/layers/bbb", NULL };
        char *opts = NULL, *dir = NULL;
        static char *many[300];
        char name[300][80];

        assert_int_equal(rootfs_overlay_options(two, "/t/up", "/t/work", &opts, &dir), 0);
        assert_string_equal(opts, "lowerdir=/s/layers/aaa:/s/layers/bbb,upperdir=/t/up,workdir=/t/work");
        assert_null(dir);
        free(opts);

        /* 60 layers of 76 characters do not fit in one page: named relative to their parent. */
        for (int i = 0; i < 60; i++) {
                snprintf(name[i], sizeof name[i], "/var/lib/ecsbox/images/layers/%046d", i);
                many[i] = name[i];
        }
        many[60] = NULL;
        assert_int_equal(rootfs_overlay_options((const char *const *) many, "/t/up", "/t/work", &opts, &dir), 0);
        assert_string_equal(dir, "/var/lib/ecsbox/images/layers/");
        {
                char want[200];
                snprintf(want, sizeof want, "lowerdir=%046d:%046d:", 0, 1);
                assert_int_equal(strncmp(opts, want, strlen(want)), 0);
        }
        assert_true(strlen(opts) <= 4095);
        free(opts);
        free(dir);

        /* Not sharing a parent and too long: refused. */
        for (int i = 0; i < 60; i++) {
                snprintf(name[i], sizeof name[i], "/var/lib/ecsbox/images/l%03d/%046d", i, i);
                many[i] = name[i];
        }
        opts = dir = (char *) 0x1;
        assert_int_equal(rootfs_overlay_options((const char *const *) many, "/t/up", "/t/work", &opts, &dir), -E2BIG);
        assert_ptr_equal(opts, (char *) 0x1);
}

static void mk(const char *root, const char *rel, const char *content)
{
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", root, rel);
        if (!content) {
                assert_int_equal(mkdir(p, 0755), 0);
                return;
        }
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

/* Lookups through layers as overlayfs resolves them: the top layer wins, a 0/0 character device
 * (whiteout) hides the lower file, an opaque directory hides the lower directory's entries. */
static void test_lookup_through_layers(void **state)
{
        char tmpl[] = "/tmp/mon_rootfs_testXXXXXX", top[4200], mid[4200], bot[4200], p[4200], got[4200];
        const char *layers[4];
        char *root = mkdtemp(tmpl);
        assert_non_null(root);
        snprintf(top, sizeof top, "%s/top", root);
        snprintf(mid, sizeof mid, "%s/mid", root);
        snprintf(bot, sizeof bot, "%s/bot", root);
        layers[0] = top, layers[1] = mid, layers[2] = bot, layers[3] = NULL;
        assert_int_equal(mkdir(top, 0755), 0);
        assert_int_equal(mkdir(mid, 0755), 0);
        assert_int_equal(mkdir(bot, 0755), 0);
        mk(bot, "etc", NULL);
        mk(bot, "etc/passwd", "root:x:0:0::/:/bin/sh\n");
        mk(bot, "etc/group", "root:x:0:\n");
        mk(bot, "etc/hosts", "x\n");
        mk(bot, "opt", NULL);
        mk(bot, "opt/keep", "x\n");
        mk(mid, "etc", NULL);
        mk(mid, "etc/group", "mid\n");
        mk(top, "etc", NULL);
        snprintf(p, sizeof p, "%s/etc/passwd", top);
        assert_int_equal(mknod(p, S_IFCHR | 0000, makedev(0, 0)), 0);
        mk(mid, "opt", NULL);
        snprintf(p, sizeof p, "%s/opt", mid);
        assert_int_equal(lsetxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);

        assert_int_equal(rootfs_lookup(layers, "etc/passwd", got, sizeof got), -ENOENT);   /* whited out */
        assert_int_equal(rootfs_lookup(layers, "etc/group", got, sizeof got), 0);
        snprintf(p, sizeof p, "%s/etc/group", mid);
        assert_string_equal(got, p);                                                          /* the upper copy */
        assert_int_equal(rootfs_lookup(layers, "etc/hosts", got, sizeof got), 0);
        snprintf(p, sizeof p, "%s/etc/hosts", bot);
        assert_string_equal(got, p);
        assert_int_equal(rootfs_lookup(layers, "opt/keep", got, sizeof got), -ENOENT);     /* opaque above */
        assert_int_equal(rootfs_lookup(layers, "etc", got, sizeof got), -ENOENT);          /* not a file */
        assert_int_equal(rootfs_lookup(layers, "nope/x", got, sizeof got), -ENOENT);
        assert_int_equal(rootfs_lookup(layers + 2, "etc/passwd", got, sizeof got), 0);
        /* a file where a directory is expected hides everything below it */
        mk(top, "opt", "file\n");
        assert_int_equal(rootfs_lookup(layers + 1, "opt/keep", got, sizeof got), -ENOENT);
        assert_int_equal(rootfs_lookup(layers + 2, "opt/keep", got, sizeof got), 0);
        assert_int_equal(rm_rf(root), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_minimal_defaults),
                cmocka_unit_test(test_entrypoint_then_command_env),
                cmocka_unit_test(test_health_check_forms),
                cmocka_unit_test(test_depends_on_targets),
                cmocka_unit_test(test_caps_in_spec),
                cmocka_unit_test(test_bad_specs),
                cmocka_unit_test(test_host_image_needs_no_store),
                cmocka_unit_test(test_load_file_errors),
                cmocka_unit_test(test_rootfs_and_stop_signal),
                cmocka_unit_test(test_signal_names),
                cmocka_unit_test(test_overlay_options),
                cmocka_unit_test(test_lookup_through_layers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
