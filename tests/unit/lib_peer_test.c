/* lib_peer_test.c: a socket's peer credentials and group membership (the peer is this process). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "ecsbox/peer.h"

static void test_peer_is_self(void **state)
{
        int sv[2];
        struct peer p;
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        assert_int_equal(peer_get(sv[0], getegid(), &p), 0);
        assert_int_equal(p.pid, getpid());
        assert_int_equal(p.uid, geteuid());
        assert_true(p.root == (geteuid() == 0));
        assert_true(p.in_group);                      /* its primary group */
        assert_int_equal(peer_get(sv[0], (gid_t) 54321, &p), 0);
        assert_false(p.in_group);                     /* no such group of ours */
        assert_int_equal(peer_get(sv[0], (gid_t) -1, &p), 0);
        assert_false(p.in_group);                     /* no ecsbox group at all */
        close(sv[0]);
        close(sv[1]);
        assert_int_equal(peer_get(-1, 0, &p), -EBADF);
}

int main(void)
{
        const struct CMUnitTest tests[] = { cmocka_unit_test(test_peer_is_self) };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
