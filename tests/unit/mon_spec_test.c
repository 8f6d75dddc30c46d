/* mon_spec_test.c: the monitor's task spec: defaults, argv, health checks, dependsOn and bad specs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../scheduler/monitor/spec.h"

#define TASK_HEAD "{\"taskId\":\"0123456789abcdef0123456789abcdef\",\"dir\":\"/var/lib/ecsbox/tasks/x\"," \
                  "\"imageStore\":\"/var/lib/ecsbox/images\",\"netns\":\"/run/netns/t\","

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
        struct task_spec *s = parse_ok(TASK_HEAD "\"containers\":[{\"name\":\"web\",\"image\":\"busybox\","
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
                TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"],"
                          "\"healthCheck\":{\"command\":[\"CMD-SHELL\",\"wget -q localhost || exit 1\"],\"interval\":2}},"
                          "{\"name\":\"b\",\"image\":\"busybox\",\"command\":[\"x\"],"
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
                TASK_HEAD "\"containers\":[{\"name\":\"init\",\"image\":\"busybox\",\"essential\":false,\"command\":[\"x\"]},"
                          "{\"name\":\"db\",\"image\":\"busybox\",\"command\":[\"x\"],"
                          "\"healthCheck\":{\"command\":[\"CMD\",\"true\"]}},"
                          "{\"name\":\"web\",\"image\":\"busybox\",\"command\":[\"x\"],\"dependsOn\":["
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
                TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"],"
                          "\"linuxParameters\":{\"capabilities\":{\"add\":[\"NET_RAW\"],\"drop\":[\"CHOWN\"]}}}]}");
        uint64_t c = s->containers[0].caps;
        assert_true(c & CAPS_BIT(13));          /* CAP_NET_RAW */
        assert_false(c & CAPS_BIT(0));          /* CAP_CHOWN */
        assert_true(c & CAPS_BIT(5));           /* CAP_KILL */
        spec_free(s);
}

#define C1(extra) TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"]" extra "}]}"

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
        parse_bad(TASK_HEAD "\"containers\":[{\"image\":\"busybox\",\"command\":[\"x\"]}]}", "name");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"command\":[\"x\"]}]}", "image");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a b\",\"image\":\"busybox\",\"command\":[\"x\"]}]}",
                  "invalid name 'a b'");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"../etc\",\"command\":[\"x\"]}]}",
                  "invalid image '../etc'");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"x/y\",\"command\":[\"x\"]}]}", "invalid image");
        /* nothing to run */
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"}]}", "nothing to run");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[1]}]}", "command[0]");
        /* duplicates and essential */
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"]},"
                            "{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"]}]}", "duplicate container name 'a'");
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
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"]},"
                            "{\"name\":\"b\",\"image\":\"busybox\",\"command\":[\"x\"],"
                            "\"dependsOn\":[{\"containerName\":\"a\",\"condition\":\"SUCCESS\"}]}]}",
                  "the target must not be essential");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"]},"
                            "{\"name\":\"b\",\"image\":\"busybox\",\"command\":[\"x\"],"
                            "\"dependsOn\":[{\"containerName\":\"a\",\"condition\":\"HEALTHY\"}]}]}",
                  "a has no healthCheck");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"],"
                            "\"dependsOn\":[{\"containerName\":\"b\",\"condition\":\"START\"}]},"
                            "{\"name\":\"b\",\"image\":\"busybox\",\"command\":[\"x\"],"
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
                  "imageStore is required");
        parse_bad(TASK_HEAD "\"cgroupParent\":\"../up\",\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"]}]}",
                  "cgroupParent");
        parse_bad(TASK_HEAD "\"cgroupParent\":\"/abs\",\"containers\":[{\"name\":\"a\",\"image\":\"busybox\",\"command\":[\"x\"]}]}",
                  "cgroupParent");
}

static void test_host_image_needs_no_store(void **state)
{
        struct task_spec *s = parse_ok("{\"taskId\":\"0123456789abcdef0123456789abcdef\",\"dir\":\"/x\","
                                       "\"cgroupParent\":\"ecsbox/tasks\","
                                       "\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"]}]}");
        assert_null(s->image_store);
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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
