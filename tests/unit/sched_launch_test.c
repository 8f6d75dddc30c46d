/* sched_launch_test.c: monitor_alive, the liveness check ecsboxd makes on a task's monitor by pid and
 * spec path; in particular a process caught inside execve (empty cmdline) counts as alive. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../scheduler/ecs/launch.h"

/* A child that sleeps with argv "sleep-child SPEC", or with its arguments emptied (arg_end = arg_start,
 * what a process looks like between execve's memory switch and the setting of its arguments). */
static pid_t child(bool empty_cmdline, int ready[2])
{
        pid_t pid = fork();
        if (pid == 0) {
                char ok = 'n';
                close(ready[0]);
                if (empty_cmdline) {
                        unsigned long start = 0;
                        FILE *f = fopen("/proc/self/stat", "re");
                        char buf[2048], *p;
                        if (f && fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')'))) {
                                /* field 48 is arg_start; after ')' comes field 3 */
                                int field = 2;
                                for (char *t = strtok(p + 1, " "); t; t = strtok(NULL, " "))
                                        if (++field == 48)
                                                start = strtoul(t, NULL, 10);
                        }
                        if (start && prctl(PR_SET_MM, PR_SET_MM_ARG_END, start, 0, 0) == 0)
                                ok = 'y';
                } else
                        ok = 'y';
                (void) !write(ready[1], &ok, 1);
                for (;;)
                        pause();
        }
        close(ready[1]);
        return pid;
}

static void test_alive_by_spec_path(void **state)
{
        int ready[2];
        char ok = 0;
        assert_int_equal(pipe(ready), 0);
        pid_t pid = child(false, ready);
        assert_int_equal(read(ready[0], &ok, 1), 1);
        close(ready[0]);
        /* the test binary's own cmdline does not name the spec: another process, not this monitor */
        assert_false(monitor_alive(pid, "/nonexistent/spec.json"));
        assert_false(monitor_alive(0, "/nonexistent/spec.json"));
        assert_false(monitor_alive(1, "/nonexistent/spec.json"));
        kill(pid, SIGKILL);
        /* a zombie is dead */
        usleep(100 * 1000);
        assert_false(monitor_alive(pid, "/nonexistent/spec.json"));
        waitpid(pid, NULL, 0);
        assert_false(monitor_alive(pid, "/nonexistent/spec.json"));
}

static void test_empty_cmdline_is_a_starting_process(void **state)
{
        int ready[2];
        char ok = 0;
        assert_int_equal(pipe(ready), 0);
        pid_t pid = child(true, ready);
        assert_int_equal(read(ready[0], &ok, 1), 1);
        close(ready[0]);
        if (ok != 'y') {                     /* PR_SET_MM needs CAP_SYS_RESOURCE */
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                skip();
        }
        assert_true(monitor_alive(pid, "/nonexistent/spec.json"));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        /* a kernel thread (kthreadd) has an empty cmdline and no executable: not a monitor */
        assert_false(monitor_alive(2, "/nonexistent/spec.json"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_alive_by_spec_path),
                cmocka_unit_test(test_empty_cmdline_is_a_starting_process),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
