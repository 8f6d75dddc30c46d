/* netd_bridge_test.c: bridge-mode pure parts: PortMappings validation, host port and bridge address allocation, MACs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../netd/ipam.h"
#include "../../netd/portmap.h"

/* ---- PortMappings ---- */

static int parse(const char *text, struct portmap pm[PORTMAP_MAX], size_t *n, struct err *err)
{
        json_error_t je;
        json_t *j = json_loads(text, 0, &je);
        int r;
        assert_non_null(j);
        r = portmap_parse(j, pm, n, err);
        json_decref(j);
        return r;
}

static void expect_error(const char *text, const char *code, const char *needle)
{
        struct portmap pm[PORTMAP_MAX];
        struct err err = { 0 };
        size_t n = 99;
        assert_true(parse(text, pm, &n, &err) < 0);
        assert_string_equal(err.code, code);
        if (needle && !strstr(err.msg, needle))
                fail_msg("message '%s' lacks '%s'", err.msg, needle);
        assert_int_equal(n, 99);      /* untouched on failure */
}

static void test_parse_defaults_and_values(void **state)
{
        struct portmap pm[PORTMAP_MAX];
        struct err err = { 0 };
        size_t n = 0;
        assert_int_equal(parse("[{\"ContainerPort\": 80}, {\"ContainerPort\": 53, \"HostPort\": 5353, \"Protocol\": \"udp\"},"
                               " {\"ContainerPort\": 65535, \"HostPort\": 0, \"Protocol\": \"tcp\"}]", pm, &n, &err), 0);
        assert_int_equal(n, 3);
        assert_int_equal(pm[0].proto, PORTMAP_PROTO_TCP);
        assert_int_equal(pm[0].container_port, 80);
        assert_int_equal(pm[0].host_port, 0);
        assert_int_equal(pm[1].proto, PORTMAP_PROTO_UDP);
        assert_int_equal(pm[1].host_port, 5353);
        assert_int_equal(pm[2].container_port, 65535);
        /* absent or empty: no mappings */
        assert_int_equal(portmap_parse(NULL, pm, &n, &err), 0);
        assert_int_equal(n, 0);
        assert_int_equal(parse("[]", pm, &n, &err), 0);
        assert_int_equal(n, 0);
}

static void test_parse_same_host_port_other_protocol(void **state)
{
        struct portmap pm[PORTMAP_MAX];
        struct err err = { 0 };
        size_t n = 0;
        assert_int_equal(parse("[{\"ContainerPort\": 53, \"HostPort\": 53}, {\"ContainerPort\": 53, \"HostPort\": 53, \"Protocol\": \"udp\"},"
                               " {\"ContainerPort\": 80}, {\"ContainerPort\": 80}]", pm, &n, &err), 0);
        assert_int_equal(n, 4);
}

static void test_parse_errors(void **state)
{
        expect_error("{\"ContainerPort\": 80}", "InvalidParameterValue", "PortMappings");
        expect_error("[5]", "InvalidParameterValue", "PortMappings.1");
        expect_error("[{\"HostPort\": 80}]", "MissingParameter", "PortMappings.1.ContainerPort");
        expect_error("[{\"ContainerPort\": 0}]", "InvalidParameterValue", "PortMappings.1.ContainerPort");
        expect_error("[{\"ContainerPort\": 65536}]", "InvalidParameterValue", "65536");
        expect_error("[{\"ContainerPort\": \"80\"}]", "InvalidParameterValue", "ContainerPort");
        expect_error("[{\"ContainerPort\": 80}, {\"ContainerPort\": 80, \"HostPort\": -1}]", "InvalidParameterValue",
                     "PortMappings.2.HostPort");
        expect_error("[{\"ContainerPort\": 80, \"Protocol\": \"sctp\"}]", "InvalidParameterValue", "sctp");
        expect_error("[{\"ContainerPort\": 80, \"Protocol\": \"TCP\"}]", "InvalidParameterValue", "TCP");
        expect_error("[{\"ContainerPort\": 80, \"Protocol\": 6}]", "InvalidParameterValue", "Protocol");
        expect_error("[{\"ContainerPort\": 80, \"containerPort\": 80}]", "UnknownParameter", "containerPort");
        expect_error("[{\"ContainerPort\": 80, \"HostPort\": 8080}, {\"ContainerPort\": 81, \"HostPort\": 8080}]",
                     "InvalidParameterValue", "8080/tcp");
}

static void test_parse_too_many(void **state)
{
        char buf[PORTMAP_MAX * 32 + 64];
        size_t w = 0;
        w += (size_t) snprintf(buf + w, sizeof buf - w, "[");
        for (int i = 0; i <= PORTMAP_MAX; i++)
                w += (size_t) snprintf(buf + w, sizeof buf - w, "%s{\"ContainerPort\": %d}", i ? "," : "", i + 1);
        snprintf(buf + w, sizeof buf - w, "]");
        expect_error(buf, "InvalidParameterValue", "at most 100");
}

static void test_proto_names(void **state)
{
        assert_int_equal(portmap_proto_parse("tcp"), PORTMAP_PROTO_TCP);
        assert_int_equal(portmap_proto_parse("udp"), PORTMAP_PROTO_UDP);
        assert_int_equal(portmap_proto_parse("icmp"), -EINVAL);
        assert_int_equal(portmap_proto_parse(NULL), -EINVAL);
        assert_string_equal(portmap_proto_name(PORTMAP_PROTO_UDP), "udp");
        assert_string_equal(portmap_proto_name(PORTMAP_PROTO_TCP), "tcp");
}

/* ---- host ports ---- */

struct ports {
        bool used[2][65536];
        int fail_at;
        int calls;
};

static int port_taken(int proto, uint16_t port, void *ud)
{
        struct ports *p = ud;
        if (p->fail_at >= 0 && p->calls++ == p->fail_at)
                return -EIO;
        return p->used[proto][port];
}

static void test_pick_first_and_round_robin(void **state)
{
        struct ports *p = calloc(1, sizeof *p);
        uint16_t port = 0, a, b;
        p->fail_at = -1;
        assert_int_equal(portmap_pick(PORTMAP_PROTO_TCP, 0, port_taken, p, &a), 0);
        assert_int_equal(a, PORT_EPHEMERAL_MIN);
        p->used[0][a] = true;
        assert_int_equal(portmap_pick(PORTMAP_PROTO_TCP, a, port_taken, p, &b), 0);
        assert_int_equal(b, PORT_EPHEMERAL_MIN + 1);
        p->used[0][b] = true;
        /* a released: not handed out again while later ports are free */
        p->used[0][a] = false;
        assert_int_equal(portmap_pick(PORTMAP_PROTO_TCP, b, port_taken, p, &port), 0);
        assert_int_equal(port, PORT_EPHEMERAL_MIN + 2);
        /* the protocols are separate */
        assert_int_equal(portmap_pick(PORTMAP_PROTO_UDP, 0, port_taken, p, &port), 0);
        assert_int_equal(port, PORT_EPHEMERAL_MIN);
        /* a cursor below the range (a static port) starts at the beginning */
        assert_int_equal(portmap_pick(PORTMAP_PROTO_TCP, 8080, port_taken, p, &port), 0);
        assert_int_equal(port, PORT_EPHEMERAL_MIN);
        free(p);
}

static void test_pick_wraps_at_65535(void **state)
{
        struct ports *p = calloc(1, sizeof *p);
        uint16_t port = 0;
        p->fail_at = -1;
        assert_int_equal(portmap_pick(PORTMAP_PROTO_TCP, 65534, port_taken, p, &port), 0);
        assert_int_equal(port, 65535);
        assert_int_equal(portmap_pick(PORTMAP_PROTO_TCP, 65535, port_taken, p, &port), 0);
        assert_int_equal(port, PORT_EPHEMERAL_MIN);
        free(p);
}

static void test_pick_exhaustion(void **state)
{
        struct ports *p = calloc(1, sizeof *p);
        uint16_t port = 1234;
        p->fail_at = -1;
        for (unsigned i = PORT_EPHEMERAL_MIN; i <= PORT_EPHEMERAL_MAX; i++)
                p->used[1][i] = true;
        assert_int_equal(portmap_pick(PORTMAP_PROTO_UDP, 50000, port_taken, p, &port), -ENOSPC);
        assert_int_equal(port, 1234);
        /* one freed before the cursor: found after a full wrap */
        p->used[1][50000] = false;
        assert_int_equal(portmap_pick(PORTMAP_PROTO_UDP, 50001, port_taken, p, &port), 0);
        assert_int_equal(port, 50000);
        free(p);
}

static void test_pick_error_propagates(void **state)
{
        struct ports *p = calloc(1, sizeof *p);
        uint16_t port = 1234;
        p->fail_at = 3;
        for (unsigned i = PORT_EPHEMERAL_MIN; i < PORT_EPHEMERAL_MIN + 10; i++)
                p->used[0][i] = true;
        assert_int_equal(portmap_pick(PORTMAP_PROTO_TCP, 0, port_taken, p, &port), -EIO);
        assert_int_equal(port, 1234);
        free(p);
}

/* ---- bridge addresses ---- */

struct ips {
        uint8_t *used;   /* indexed by ip - 172.17.0.0 */
};

static int ip_taken(uint32_t ip, void *ud)
{
        struct ips *p = ud;
        assert_true(ip > 0xac110001u && ip < 0xac11ffffu);   /* never .0, .1 (ecsbox0) or the broadcast */
        return p->used[ip - 0xac110000u];
}

static void test_ip_first_round_robin_and_wrap(void **state)
{
        struct ips p = { calloc(65536, 1) };
        uint32_t ip = 0;
        assert_int_equal(ipam_bridge_next(0, ip_taken, &p, &ip), 0);
        assert_int_equal(ip, 0xac110002u);                 /* 172.17.0.2, as Docker */
        assert_int_equal(ipam_bridge_next(ip, ip_taken, &p, &ip), 0);
        assert_int_equal(ip, 0xac110003u);
        assert_int_equal(ipam_bridge_next(0xac11fffdu, ip_taken, &p, &ip), 0);
        assert_int_equal(ip, 0xac11fffeu);                 /* .255.254 */
        assert_int_equal(ipam_bridge_next(0xac11fffeu, ip_taken, &p, &ip), 0);
        assert_int_equal(ip, 0xac110002u);                 /* wraps past the broadcast and the gateway */
        free(p.used);
}

static void test_ip_exhaustion(void **state)
{
        struct ips p = { malloc(65536) };
        uint32_t ip = 7;
        memset(p.used, 1, 65536);
        assert_int_equal(ipam_bridge_next(0, ip_taken, &p, &ip), -ENOSPC);
        assert_int_equal(ip, 7);
        p.used[0x1234] = 0;
        assert_int_equal(ipam_bridge_next(0xac115000u, ip_taken, &p, &ip), 0);
        assert_int_equal(ip, 0xac111234u);
        free(p.used);
}

static void test_mac_for_ip(void **state)
{
        uint8_t mac[6];
        const uint8_t want[6] = { 0x02, 0x42, 0xac, 0x11, 0x01, 0x02 };
        bridge_mac_for_ip(0xac110102u, mac);
        assert_memory_equal(mac, want, 6);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_defaults_and_values),
                cmocka_unit_test(test_parse_same_host_port_other_protocol),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_parse_too_many),
                cmocka_unit_test(test_proto_names),
                cmocka_unit_test(test_pick_first_and_round_robin),
                cmocka_unit_test(test_pick_wraps_at_65535),
                cmocka_unit_test(test_pick_exhaustion),
                cmocka_unit_test(test_pick_error_propagates),
                cmocka_unit_test(test_ip_first_round_robin_and_wrap),
                cmocka_unit_test(test_ip_exhaustion),
                cmocka_unit_test(test_mac_for_ip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
