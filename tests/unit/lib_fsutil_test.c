/* lib_fsutil_test.c: write_all on a non-blocking socket whose reader is slower than the writer
 * (netd's answers of several hundred KiB: a short write must wait, not fail with EAGAIN). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ecsbox/fsutil.h"

#define BIG (4 * 1024 * 1024)

static void test_write_all_waits_for_slow_reader(void **state)
{
        int sv[2], status;
        char *data = malloc(BIG);
        pid_t pid;
        assert_non_null(data);
        memset(data, 'x', BIG);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* the reader: blocking, in small pieces with pauses; exits 0 when it got everything */
                size_t got = 0;
                char buf[65536];
                close(sv[0]);
                (void) fcntl(sv[1], F_SETFL, 0);
                usleep(100 * 1000);
                while (got < BIG) {
                        ssize_t n = read(sv[1], buf, sizeof buf);
                        if (n <= 0)
                                _exit(1);
                        got += (size_t) n;
                        if (got % (1024 * 1024) < sizeof buf)
                                usleep(20 * 1000);
                }
                _exit(0);
        }
        close(sv[1]);
        assert_int_equal(write_all(sv[0], data, BIG), 0);
        close(sv[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        free(data);
}

static void test_write_all_peer_gone(void **state)
{
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        close(sv[1]);
        assert_int_equal(write_all(sv[0], "x", 1), -EPIPE);
        close(sv[0]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_all_waits_for_slow_reader),
                cmocka_unit_test(test_write_all_peer_gone),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
