/* sched_task_status_test.c: task_status_times, the monitor's status.json times put on a task record:
 * first report RUNNING or already STOPPED, a task that never started, set once, containers, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/json.h"
#include "../../scheduler/ecs/task_status.h"

/* A task record as RunTask writes it: no times beyond createdAt, two containers. */
static json_t *record(void)
{
        json_t *rec = json_loads("{\"lastStatus\": \"PENDING\", \"createdAt\": 1699999999.5, \"containers\": ["
                                 " {\"name\": \"side\", \"lastStatus\": \"PENDING\"},"
                                 " {\"name\": \"main\", \"lastStatus\": \"PENDING\"}]}", 0, NULL);
        assert_non_null(rec);
        return rec;
}

static json_t *doc(const char *text)
{
        json_error_t e;
        json_t *st = json_loads(text, 0, &e);
        if (!st)
                fail_msg("status document: %s (line %d column %d)", e.text, e.line, e.column);
        return st;
}

static json_t *ctr(json_t *rec, const char *name)
{
        json_t *c = jfind(json_object_get(rec, "containers"), "name", name);
        assert_non_null(c);
        return c;
}

static void assert_time(json_t *o, const char *key, double want)
{
        json_t *v = json_object_get(o, key);
        if (!json_is_number(v))
                fail_msg("%s: missing", key);
        /* rounded to the millisecond, as every AWS time */
        if (json_number_value(v) != want)
                fail_msg("%s: %.6f, want %.6f", key, json_number_value(v), want);
}

static void assert_absent(json_t *o, const char *key)
{
        if (json_object_get(o, key))
                fail_msg("%s: present, want absent", key);
}

static const char *RUNNING =
        "{\"taskId\": \"0123456789abcdef0123456789abcdef\", \"lastStatus\": \"RUNNING\", \"version\": 2,"
        " \"startedAt\": 1700000000.1234, \"stoppingAt\": null, \"stoppedAt\": null, \"containers\": ["
        "  {\"name\": \"main\", \"lastStatus\": \"RUNNING\", \"startedAt\": 1700000000.1201, \"finishedAt\": null},"
        "  {\"name\": \"side\", \"lastStatus\": \"RUNNING\", \"startedAt\": 1700000000.1102, \"finishedAt\": null}]}";

/* The race's case: the first status ecsboxd reads is already STOPPED. */
static const char *STOPPED =
        "{\"taskId\": \"0123456789abcdef0123456789abcdef\", \"lastStatus\": \"STOPPED\", \"version\": 7,"
        " \"stopCode\": \"EssentialContainerExited\", \"stoppedReason\": \"Essential container in task exited\","
        " \"startedAt\": 1700000000.1234, \"stoppingAt\": 1700000000.2, \"stoppedAt\": 1700000002.25, \"containers\": ["
        "  {\"name\": \"side\", \"lastStatus\": \"STOPPED\", \"exitCode\": 137, \"startedAt\": 1700000000.1102, \"finishedAt\": 1700000002.2},"
        "  {\"name\": \"main\", \"lastStatus\": \"STOPPED\", \"exitCode\": 3, \"startedAt\": 1700000000.1201, \"finishedAt\": 1700000000.19}]}";

static void test_first_report_running(void **state)
{
        _cleanup_json_ json_t *rec = record(), *st = doc(RUNNING);
        assert_true(task_status_times(rec, st));
        assert_time(rec, "startedAt", 1700000000.123);
        assert_absent(rec, "stoppingAt");
        assert_absent(rec, "executionStoppedAt");
        assert_absent(rec, "stoppedAt");
        assert_time(ctr(rec, "main"), "startedAt", 1700000000.120);
        assert_time(ctr(rec, "side"), "startedAt", 1700000000.110);
        assert_absent(ctr(rec, "main"), "finishedAt");
        /* the same report again changes nothing */
        assert_false(task_status_times(rec, st));
        /* createdAt and the statuses are not this function's */
        assert_time(rec, "createdAt", 1699999999.5);
        assert_string_equal(jstr(rec, "lastStatus"), "PENDING");
        assert_string_equal(jstr(ctr(rec, "main"), "lastStatus"), "PENDING");
}

static void test_first_report_stopped_with_start(void **state)
{
        _cleanup_json_ json_t *rec = record(), *st = doc(STOPPED);
        assert_true(task_status_times(rec, st));
        assert_time(rec, "startedAt", 1700000000.123);
        assert_time(rec, "stoppingAt", 1700000000.2);
        /* the monitor's stoppedAt is when the containers were done: executionStoppedAt. The task's
         * stoppedAt waits for its network to be released, which is ecsboxd's to record. */
        assert_time(rec, "executionStoppedAt", 1700000002.25);
        assert_absent(rec, "stoppedAt");
        assert_time(ctr(rec, "main"), "startedAt", 1700000000.120);
        assert_time(ctr(rec, "main"), "finishedAt", 1700000000.19);
        assert_time(ctr(rec, "side"), "startedAt", 1700000000.110);
        assert_time(ctr(rec, "side"), "finishedAt", 1700000002.2);
}

/* A start failure: a dependency started, the essential container could not; the task never ran. */
static void test_stopped_without_start(void **state)
{
        _cleanup_json_ json_t *rec = record(), *st = doc(
                "{\"lastStatus\": \"STOPPED\", \"stopCode\": \"TaskFailedToStart\","
                " \"startedAt\": null, \"stoppingAt\": 1700000000.5, \"stoppedAt\": 1700000001.0, \"containers\": ["
                "  {\"name\": \"side\", \"lastStatus\": \"STOPPED\", \"startedAt\": 1700000000.3, \"finishedAt\": 1700000001.0},"
                "  {\"name\": \"main\", \"lastStatus\": \"STOPPED\", \"exitCode\": null, \"startedAt\": null,"
                "   \"finishedAt\": 1700000000.5, \"reason\": \"exec '/bin/x': No such file or directory\"}]}");
        assert_true(task_status_times(rec, st));
        assert_absent(rec, "startedAt");
        assert_time(rec, "stoppingAt", 1700000000.5);
        assert_time(rec, "executionStoppedAt", 1700000001.0);
        assert_absent(ctr(rec, "main"), "startedAt");
        assert_time(ctr(rec, "main"), "finishedAt", 1700000000.5);
        assert_time(ctr(rec, "side"), "startedAt", 1700000000.3);
}

/* The monitor failed before any container: nothing started, nothing has a start time. */
static void test_failed_before_any_container(void **state)
{
        _cleanup_json_ json_t *rec = record(), *st = doc(
                "{\"lastStatus\": \"STOPPED\", \"startedAt\": null, \"stoppingAt\": 1700000000.5, \"stoppedAt\": 1700000000.6,"
                " \"containers\": [{\"name\": \"side\", \"startedAt\": null, \"finishedAt\": null},"
                "                  {\"name\": \"main\", \"startedAt\": null, \"finishedAt\": null}]}");
        assert_true(task_status_times(rec, st));
        assert_absent(rec, "startedAt");
        assert_absent(ctr(rec, "main"), "startedAt");
        assert_absent(ctr(rec, "side"), "startedAt");
        assert_absent(ctr(rec, "side"), "finishedAt");
}

static void test_set_once(void **state)
{
        _cleanup_json_ json_t *rec = record(), *running = doc(RUNNING), *later = doc(
                "{\"lastStatus\": \"STOPPED\", \"startedAt\": 1700000050.0, \"stoppingAt\": 1700000060.0, \"stoppedAt\": 1700000070.0,"
                " \"containers\": [{\"name\": \"main\", \"startedAt\": 1700000055.0, \"finishedAt\": 1700000065.0}]}");
        assert_true(task_status_times(rec, running));
        /* ecsboxd decided the stop itself (StopTask): its stoppingAt stands */
        json_object_set_new(rec, "stoppingAt", json_real(1700000040.0));
        assert_true(task_status_times(rec, later));
        assert_time(rec, "startedAt", 1700000000.123);
        assert_time(rec, "stoppingAt", 1700000040.0);
        assert_time(rec, "executionStoppedAt", 1700000070.0);
        assert_time(ctr(rec, "main"), "startedAt", 1700000000.120);
        assert_time(ctr(rec, "main"), "finishedAt", 1700000065.0);
        /* a report that has nothing new changes nothing, even with other values */
        assert_false(task_status_times(rec, later));
        assert_false(task_status_times(rec, running));
        assert_time(rec, "startedAt", 1700000000.123);
        /* a report going back to null never removes a time */
        {
                _cleanup_json_ json_t *nulls = doc("{\"lastStatus\": \"PENDING\", \"startedAt\": null, \"stoppingAt\": null,"
                                                   " \"stoppedAt\": null, \"containers\": [{\"name\": \"main\", \"startedAt\": null}]}");
                assert_false(task_status_times(rec, nulls));
                assert_time(rec, "startedAt", 1700000000.123);
                assert_time(ctr(rec, "main"), "startedAt", 1700000000.120);
        }
}

static void test_containers_by_name(void **state)
{
        _cleanup_json_ json_t *rec = record(), *st = doc(
                "{\"lastStatus\": \"RUNNING\", \"startedAt\": 1700000001.0, \"containers\": ["
                "  {\"name\": \"ghost\", \"startedAt\": 1700000000.9},"
                "  {\"name\": \"main\", \"startedAt\": 1700000000.8}]}");
        assert_true(task_status_times(rec, st));
        assert_time(ctr(rec, "main"), "startedAt", 1700000000.8);
        /* side is not in this report: untouched; ghost is not in the task: not added */
        assert_absent(ctr(rec, "side"), "startedAt");
        assert_null(jfind(json_object_get(rec, "containers"), "name", "ghost"));
        assert_int_equal(json_array_size(json_object_get(rec, "containers")), 2);
}

static void test_bad_input(void **state)
{
        _cleanup_json_ json_t *rec = record(), *arr = json_array(), *bad = doc(
                "{\"startedAt\": \"1700000000\", \"stoppingAt\": 0, \"stoppedAt\": -5, \"containers\": {\"main\": 1}}");
        _cleanup_json_ json_t *nameless = doc("{\"containers\": [{\"startedAt\": 1700000000.0}]}");
        _cleanup_json_ json_t *norec = json_object(), *running = doc(RUNNING);
        assert_false(task_status_times(rec, NULL));
        assert_false(task_status_times(rec, arr));
        assert_false(task_status_times(rec, bad));
        assert_absent(rec, "startedAt");
        assert_absent(rec, "stoppingAt");
        assert_absent(rec, "executionStoppedAt");
        /* a record container without a name matches nothing */
        json_array_append_new(json_object_get(rec, "containers"), json_object());
        assert_false(task_status_times(rec, nameless));
        /* a record without containers still gets the task's times */
        assert_true(task_status_times(norec, running));
        assert_time(norec, "startedAt", 1700000000.123);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_report_running),
                cmocka_unit_test(test_first_report_stopped_with_start),
                cmocka_unit_test(test_stopped_without_start),
                cmocka_unit_test(test_failed_before_any_container),
                cmocka_unit_test(test_set_once),
                cmocka_unit_test(test_containers_by_name),
                cmocka_unit_test(test_bad_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
