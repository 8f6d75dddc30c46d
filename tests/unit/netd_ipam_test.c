/* netd_ipam_test.c: round-robin allocation, reserved addresses, exhaustion, release; the leases in a real store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/fsutil.h"
#include "ecsbox/json.h"
#include "ecsbox/store.h"
#include "../../netd/ipam.h"
#include "../../netd/netd.h"

struct pool {
        struct cidr4 net;
        bool used[256];
        int fail_at;   /* taken() returns -EIO at this call count, or -1 */
        int calls;
};

static int taken(uint32_t ip, void *ud)
{
        struct pool *p = ud;
        if (p->fail_at >= 0 && p->calls++ == p->fail_at)
                return -EIO;
        return p->used[ip - p->net.addr];
}

static uint32_t alloc(struct pool *p, uint32_t cursor)
{
        uint32_t ip = 0;
        assert_int_equal(ipam_next(&p->net, cursor, taken, p, &ip), 0);
        assert_false(p->used[ip - p->net.addr]);
        p->used[ip - p->net.addr] = true;
        return ip;
}

static void test_first_and_round_robin(void **state)
{
        struct pool p = { .fail_at = -1 };
        cidr4_parse("10.0.1.0/24", &p.net);
        uint32_t a = alloc(&p, 0);
        assert_int_equal(a, 0x0a000104);   /* .0-.3 reserved */
        uint32_t b = alloc(&p, a);
        assert_int_equal(b, 0x0a000105);
        /* release a: the next allocation does not hand it back at once */
        p.used[a - p.net.addr] = false;
        uint32_t c = alloc(&p, b);
        assert_int_equal(c, 0x0a000106);
}

static void test_wrap_and_skip_broadcast(void **state)
{
        struct pool p = { .fail_at = -1 };
        cidr4_parse("10.0.1.0/24", &p.net);
        uint32_t ip = alloc(&p, 0x0a0001fd);
        assert_int_equal(ip, 0x0a0001fe);   /* .254 */
        ip = alloc(&p, ip);                  /* .255 reserved, wraps to .4 */
        assert_int_equal(ip, 0x0a000104);
}

static void test_exhaustion_small_subnet(void **state)
{
        struct pool p = { .fail_at = -1 };
        uint32_t cur = 0, ip;
        cidr4_parse("10.0.1.16/28", &p.net);
        for (int i = 0; i < 11; i++)
                cur = alloc(&p, cur);
        assert_int_equal(ipam_next(&p.net, cur, taken, &p, &ip), -ENOSPC);
        /* free one in the middle: found again after a full wrap */
        p.used[9] = false;
        assert_int_equal(ipam_next(&p.net, cur, taken, &p, &ip), 0);
        assert_int_equal(ip, p.net.addr + 9);
}

static void test_cursor_outside_subnet(void **state)
{
        struct pool p = { .fail_at = -1 };
        cidr4_parse("10.0.1.0/24", &p.net);
        assert_int_equal(alloc(&p, 0x0b000000), 0x0a000104);
}

static void test_error_propagates(void **state)
{
        struct pool p = { .fail_at = 0 };
        uint32_t ip = 0xdeadbeef;
        cidr4_parse("10.0.1.0/24", &p.net);
        assert_int_equal(ipam_next(&p.net, 0, taken, &p, &ip), -EIO);
        assert_int_equal(ip, 0xdeadbeef);  /* untouched on failure */
}

static void test_no_usable(void **state)
{
        struct pool p = { .fail_at = -1 };
        uint32_t ip;
        cidr4_parse("10.0.1.0/30", &p.net);
        assert_int_equal(ipam_next(&p.net, 0, taken, &p, &ip), -ENOSPC);
}

/* ---- the leases in the store ---- */

struct fixture {
        char dir[64];
        struct netd d;
        json_t *subnet;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof *f);
        char db[128];
        struct err err = { 0 };
        snprintf(f->dir, sizeof f->dir, "/tmp/netd_ipam_test.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(db, sizeof db, "%s/netd.db", f->dir);
        assert_int_equal(store_open(db, &f->d.store, &err), 0);
        /* a /28: 16 addresses, .0-.3 and .15 reserved, .4-.14 usable */
        f->subnet = json_pack("{s:s, s:s, s:s, s:I}", "SubnetId", "subnet-0123456789abcdef0", "CidrBlock", "10.0.0.0/28",
                              "VpcId", "vpc-0123456789abcdef0", "ebxCursor", (json_int_t) 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        json_decref(f->subnet);
        f->d.store = store_close(f->d.store);
        (void) rm_rf(f->dir);
        free(f);
        return 0;
}

static json_t *get(struct fixture *f, const char *key)
{
        json_t *v = NULL;
        if (store_get(f->d.store, key, &v, NULL) < 0)
                return NULL;
        return v;
}

static void put_eni(struct fixture *f, const char *id, const char *ip)
{
        char key[128];
        json_t *e = json_pack("{s:s, s:s, s:s}", "NetworkInterfaceId", id, "SubnetId", "subnet-0123456789abcdef0", "PrivateIpAddress", ip);
        snprintf(key, sizeof key, "eni/%s", id);
        assert_int_equal(store_put(f->d.store, key, e, NULL), 0);
        json_decref(e);
}

static void test_eni_take_next_fit_and_records(void **state)
{
        struct fixture *f = *state;
        struct err err = { 0 };
        json_t *lease, *sub;
        uint32_t ip = 0;

        assert_int_equal(ipam_eni_take(&f->d, f->subnet, NULL, "eni-00000000000000001", &ip, &err), 0);
        assert_int_equal(ip, 0x0a000004u);                              /* the first after the reserved .0-.3 */
        lease = get(f, "lease/subnet-0123456789abcdef0/0a000004");        /* the on-disk key netd has always used */
        assert_non_null(lease);
        assert_string_equal(json_string_value(json_object_get(lease, "NetworkInterfaceId")), "eni-00000000000000001");
        json_decref(lease);
        sub = get(f, "subnet/subnet-0123456789abcdef0");                 /* the cursor moved and was stored */
        assert_non_null(sub);
        assert_int_equal(json_integer_value(json_object_get(sub, "ebxCursor")), 0x0a000004);
        json_decref(sub);
        assert_int_equal(ipam_eni_take(&f->d, f->subnet, NULL, "eni-00000000000000002", &ip, &err), 0);
        assert_int_equal(ip, 0x0a000005u);
        assert_int_equal(ipam_subnet_used(&f->d, "subnet-0123456789abcdef0"), 2);
}

static void test_eni_exhaustion_release_and_wrap(void **state)
{
        struct fixture *f = *state;
        struct err err = { 0 };
        json_t *eni;
        uint32_t ip = 0;

        for (int i = 0; i < 11; i++)
                assert_int_equal(ipam_eni_take(&f->d, f->subnet, NULL, "eni-00000000000000001", &ip, &err), 0);
        assert_int_equal(ip, 0x0a00000eu);                              /* .14, the last usable */
        ip = 7;
        assert_int_equal(ipam_eni_take(&f->d, f->subnet, NULL, "eni-00000000000000001", &ip, &err), -ENOSPC);
        assert_string_equal(err.code, "InsufficientFreeAddressesInSubnet");
        assert_non_null(strstr(err.msg, "subnet-0123456789abcdef0"));
        assert_int_equal(ip, 7);                                        /* untouched on failure */
        /* give .6 back, twice (the second is not an error); the next take wraps around to it */
        eni = json_pack("{s:s, s:s}", "SubnetId", "subnet-0123456789abcdef0", "PrivateIpAddress", "10.0.0.6");
        assert_int_equal(ipam_eni_release(&f->d, eni, &err), 0);
        assert_int_equal(ipam_eni_release(&f->d, eni, &err), 0);
        json_decref(eni);
        assert_int_equal(ipam_subnet_used(&f->d, "subnet-0123456789abcdef0"), 10);
        assert_int_equal(ipam_eni_take(&f->d, f->subnet, NULL, "eni-00000000000000003", &ip, &err), 0);
        assert_int_equal(ip, 0x0a000006u);
}

static void test_eni_take_wanted_address(void **state)
{
        struct fixture *f = *state;
        struct err err = { 0 };
        uint32_t ip = 0;

        assert_int_equal(ipam_eni_take(&f->d, f->subnet, &(uint32_t) { 0x0a000009u }, "eni-00000000000000001", &ip, &err), 0);
        assert_int_equal(ip, 0x0a000009u);
        assert_int_equal(json_integer_value(json_object_get(f->subnet, "ebxCursor")), 0);  /* an asked-for address moves no cursor */
        err_clear(&err);
        assert_int_equal(ipam_eni_take(&f->d, f->subnet, &(uint32_t) { 0x0a000009u }, "eni-00000000000000002", &ip, &err), -EEXIST);
        assert_string_equal(err.code, "InvalidIPAddress.InUse");
        err_clear(&err);
        assert_int_equal(ipam_eni_take(&f->d, f->subnet, &(uint32_t) { 0x0a000001u }, "eni-00000000000000002", &ip, &err), -EINVAL);
        assert_string_equal(err.code, JERR_INVALID);
        assert_non_null(strstr(err.msg, "reserved"));
        err_clear(&err);
        assert_int_equal(ipam_eni_take(&f->d, f->subnet, &(uint32_t) { 0x0a000104u }, "eni-00000000000000002", &ip, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "10.0.1.4 does not fall within"));
        /* a PrivateIpAddress that is no address at all is the decoder's (netd_req_test.c) */
        assert_int_equal(ipam_subnet_used(&f->d, "subnet-0123456789abcdef0"), 1);
}

static void test_eni_repair_and_sweep(void **state)
{
        struct fixture *f = *state;
        struct err err = { 0 };
        json_t *eni = json_pack("{s:s, s:s, s:s}", "NetworkInterfaceId", "eni-00000000000000001", "SubnetId",
                                "subnet-0123456789abcdef0", "PrivateIpAddress", "10.0.0.4");
        json_t *lease;
        uint32_t ip;

        put_eni(f, "eni-00000000000000001", "10.0.0.4");
        assert_int_equal(ipam_eni_repair(&f->d, eni), 1);               /* missing: restored */
        assert_int_equal(ipam_eni_repair(&f->d, eni), 0);               /* there: left alone */
        lease = get(f, "lease/subnet-0123456789abcdef0/0a000004");
        assert_string_equal(json_string_value(json_object_get(lease, "NetworkInterfaceId")), "eni-00000000000000001");
        json_decref(lease);
        /* a lease whose ENI record is gone is released; the one whose ENI exists stays */
        assert_int_equal(ipam_eni_take(&f->d, f->subnet, &(uint32_t) { 0x0a000005u }, "eni-0000000000000dead", &ip, &err), 0);
        assert_int_equal(ipam_eni_sweep(&f->d, &err), 1);
        assert_int_equal(ipam_subnet_used(&f->d, "subnet-0123456789abcdef0"), 1);
        assert_null(get(f, "lease/subnet-0123456789abcdef0/0a000005"));
        json_decref(eni);
}

static void test_bridge_take_release_and_cursors(void **state)
{
        struct fixture *f = *state;
        struct err err = { 0 };
        json_t *cur = ipam_bridge_cursors(&f->d, "inst-a"), *bip;
        uint32_t ip = 0;

        assert_int_equal(json_object_size(cur), 0);                     /* none yet */
        assert_int_equal(ipam_bridge_take(&f->d, "inst-a", "task-1", cur, &ip, &err), 0);
        assert_int_equal(ip, 0xac110002u);                              /* 172.17.0.2 */
        assert_int_equal(json_integer_value(json_object_get(cur, "IpCursor")), 0xac110002);
        assert_int_equal(ipam_bridge_cursors_put(&f->d, "inst-a", cur, &err), 0);
        json_decref(cur);
        bip = get(f, "bip/inst-a/ac110002");
        assert_string_equal(json_string_value(json_object_get(bip, "Netns")), "task-1");
        json_decref(bip);
        cur = ipam_bridge_cursors(&f->d, "inst-a");                     /* read back from bridge/inst-a */
        assert_int_equal(ipam_bridge_take(&f->d, "inst-a", "task-2", cur, &ip, &err), 0);
        assert_int_equal(ip, 0xac110003u);
        json_decref(cur);
        assert_int_equal(ipam_bridge_count(&f->d, "inst-a", &err), 2);
        assert_int_equal(ipam_bridge_count(&f->d, "inst-b", &err), 0);
        assert_int_equal(ipam_bridge_release(&f->d, "inst-a", 0xac110002u, &err), 0);
        assert_int_equal(ipam_bridge_release(&f->d, "inst-a", 0xac110002u, &err), 0);
        assert_int_equal(ipam_bridge_count(&f->d, "inst-a", &err), 1);
}

static void test_bridge_repair_owned_and_sweep(void **state)
{
        struct fixture *f = *state;
        struct err err = { 0 };
        json_t *owners = json_pack("{s:b}", "inst-a\ntask-1", 1), *v = json_pack("{s:s}", "Netns", "task-1");
        json_t *cur = json_object();
        uint32_t ip;

        assert_int_equal(ipam_bridge_repair(&f->d, "inst-a", "task-1", "172.17.0.9"), 1);
        assert_int_equal(ipam_bridge_repair(&f->d, "inst-a", "task-1", "172.17.0.9"), 0);
        assert_int_equal(ipam_bridge_repair(&f->d, "inst-a", "task-1", "bogus"), 0);
        assert_true(ipam_bridge_owned("bip/inst-a/ac110009", v, owners));
        assert_true(ipam_bridge_owned("bport/inst-a/tcp/49153", v, owners));
        assert_false(ipam_bridge_owned("bip/inst-b/ac110009", v, owners));
        assert_false(ipam_bridge_owned("bip/inst-a", v, owners));
        assert_int_equal(ipam_bridge_take(&f->d, "inst-a", "task-gone", cur, &ip, &err), 0);
        assert_int_equal(ipam_bridge_sweep(&f->d, owners, &err), 1);   /* task-gone's lease released */
        assert_int_equal(ipam_bridge_count(&f->d, "inst-a", &err), 1);
        json_decref(owners);
        json_decref(v);
        json_decref(cur);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_and_round_robin),
                cmocka_unit_test(test_wrap_and_skip_broadcast),
                cmocka_unit_test(test_exhaustion_small_subnet),
                cmocka_unit_test(test_cursor_outside_subnet),
                cmocka_unit_test(test_error_propagates),
                cmocka_unit_test(test_no_usable),
                cmocka_unit_test_setup_teardown(test_eni_take_next_fit_and_records, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eni_exhaustion_release_and_wrap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eni_take_wanted_address, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eni_repair_and_sweep, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bridge_take_release_and_cursors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bridge_repair_owned_and_sweep, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
