/* lib_netd_client_test.c: lib's netd client against a scripted server on a Unix socket: answers, netd's
 * error answers, big answers in pieces, and every failure (no daemon, silence, hang-up, garbage). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ecsbox/netd_client.h"
#include "ecsbox/timeutil.h"

enum behaviour { ANSWER, SILENT, HANG_UP, GARBAGE, BIG };

struct server {
        char dir[64], path[128];
        pid_t pid;
};

/* The child: accept one connection, read the request line, then behave. */
static void __attribute__((noreturn)) serve(int lfd, enum behaviour b, const char *answer)
{
        char buf[4096];
        int fd = accept(lfd, NULL, NULL);
        ssize_t n;
        if (fd < 0)
                _exit(1);
        while ((n = read(fd, buf, sizeof buf)) > 0 && !memchr(buf, '\n', (size_t) n))
                ;
        if (b == SILENT)
                pause();
        if (b == GARBAGE)
                (void) !write(fd, "not json\n", 9);
        if (b == ANSWER)
                (void) !write(fd, answer, strlen(answer));
        if (b == BIG) {
                /* {"Records": ["xxxx...", ...]} in many small writes */
                (void) !write(fd, "{\"Records\": [", 13);
                for (int i = 0; i < 2000; i++) {
                        char rec[128];
                        int k = snprintf(rec, sizeof rec, "%s\"%0100d\"", i ? ", " : "", i);
                        (void) !write(fd, rec, (size_t) k);
                }
                (void) !write(fd, "]}\n", 3);
        }
        _exit(0);
}

static void server_start(struct server *s, enum behaviour b, const char *answer)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int lfd;
        snprintf(s->dir, sizeof s->dir, "/tmp/netd_client_testXXXXXX");
        assert_non_null(mkdtemp(s->dir));
        snprintf(s->path, sizeof s->path, "%s/netd.sock", s->dir);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->path);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(listen(lfd, 4), 0);
        s->pid = fork();
        assert_true(s->pid >= 0);
        if (s->pid == 0)
                serve(lfd, b, answer);
        close(lfd);
}

static void server_stop(struct server *s)
{
        (void) kill(s->pid, SIGKILL);
        (void) waitpid(s->pid, NULL, 0);
        (void) unlink(s->path);
        (void) rmdir(s->dir);
}

static json_t *request(void)
{
        return json_pack("{s:s}", "Action", "DescribeVpcs");
}

static void test_answer_and_error_answer(void **state)
{
        struct server s;
        struct err err = { 0 };
        json_t *req = request(), *ans = NULL;

        server_start(&s, ANSWER, "{\"Vpcs\": [{\"VpcId\": \"vpc-1\"}]}\n");
        assert_int_equal(netd_client_call(s.path, req, 5000, &ans, &err), 0);
        assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(ans, "Vpcs"), 0), "VpcId")), "vpc-1");
        json_decref(ans);
        server_stop(&s);

        /* netd's own error answers come back as they are: the caller maps them */
        server_start(&s, ANSWER, "{\"Error\": {\"Code\": \"InvalidVpcID.NotFound\", \"Message\": \"no\"}}\n");
        assert_int_equal(netd_client_call(s.path, req, 5000, &ans, &err), 0);
        assert_string_equal(json_string_value(json_object_get(json_object_get(ans, "Error"), "Code")), "InvalidVpcID.NotFound");
        json_decref(ans);
        server_stop(&s);
        json_decref(req);
}

static void test_big_answer(void **state)
{
        struct server s;
        struct err err = { 0 };
        json_t *req = request(), *ans = NULL;
        server_start(&s, BIG, NULL);
        assert_int_equal(netd_client_call(s.path, req, 5000, &ans, &err), 0);
        assert_int_equal(json_array_size(json_object_get(ans, "Records")), 2000);
        json_decref(ans);
        server_stop(&s);
        json_decref(req);
}

static void expect_failure(enum behaviour b, int timeout_ms, int want, const char *text)
{
        struct server s;
        struct err err = { 0 };
        json_t *req = request(), *ans = NULL;
        uint64_t t0 = now_mono_ms();
        server_start(&s, b, NULL);
        assert_int_equal(netd_client_call(s.path, req, timeout_ms, &ans, &err), -want);
        assert_null(ans);
        assert_int_equal(err.errnum, want);
        if (!strstr(err.msg, text) || !strstr(err.msg, s.path) || !strstr(err.msg, "DescribeVpcs"))
                fail_msg("message '%s' should name '%s', the path and the action", err.msg, text);
        if (b == SILENT)        /* the deadline holds */
                assert_true(now_mono_ms() - t0 < (uint64_t) timeout_ms + 1000);
        server_stop(&s);
        json_decref(req);
}

static void test_failures(void **state)
{
        struct err err = { 0 };
        json_t *req = request(), *ans = NULL;
        char longpath[200];

        expect_failure(SILENT, 300, ETIMEDOUT, "no answer from");
        expect_failure(HANG_UP, 5000, ECONNRESET, "closed the connection without answering");
        expect_failure(GARBAGE, 5000, EPROTO, "malformed answer");

        assert_int_equal(netd_client_call("/nonexistent/netd.sock", req, 1000, &ans, &err), -ENOENT);
        assert_string_equal(err.msg, "network daemon unreachable at '/nonexistent/netd.sock' (DescribeVpcs): No such file or directory");
        memset(longpath, 'a', sizeof longpath - 1);
        longpath[sizeof longpath - 1] = '\0';
        assert_int_equal(netd_client_call(longpath, req, 1000, &ans, &err), -ENAMETOOLONG);
        assert_non_null(strstr(err.msg, "too long"));
        assert_null(ans);
        json_decref(req);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_answer_and_error_answer),
                cmocka_unit_test(test_big_answer),
                cmocka_unit_test(test_failures),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
