/* sched_placement_test.c: strategies, chains, constraints and resource exhaustion over synthetic snapshots. */
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

#include "../../scheduler/ecs/placement.h"

#define N 6
static struct place_attr attrs[N][2];
static struct place_instance in[N];
static uint64_t tcp[N][1024], udp[N][1024];
static char arns[N][32];

/* Six instances: 0,2,4 in us-east-1a (t3.micro), 1,3,5 in us-east-1b (m5.large); 2048 CPU, 4096 MiB, 3 ENIs. */
static int setup(void **state)
{
        memset(tcp, 0, sizeof tcp);
        memset(udp, 0, sizeof udp);
        for (int i = 0; i < N; i++) {
                snprintf(arns[i], sizeof arns[i], "i-%d", i);
                attrs[i][0] = (struct place_attr) { "ecs.availability-zone", i % 2 ? "us-east-1b" : "us-east-1a" };
                attrs[i][1] = (struct place_attr) { "ecs.instance-type", i % 2 ? "m5.large" : "t3.micro" };
                in[i] = (struct place_instance) { .arn = arns[i], .ec2_id = arns[i], .active = true, .cpu = 2048,
                                                  .mem = 4096, .enis = 3, .ports_tcp = tcp[i], .ports_udp = udp[i],
                                                  .attrs = attrs[i], .nattrs = 2 };
        }
        return 0;
}

static int per_instance(const int *idx, int count, int which)
{
        int n = 0;
        for (int k = 0; k < count; k++)
                n += idx[k] == which;
        return n;
}

static void test_spread_by_zone_even(void **state)
{
        struct place_strategy st;
        assert_int_equal(place_strategy_parse("spread", "attribute:ecs.availability-zone", &st, NULL), 0);
        struct place_request req = { .cpu = 10, .mem = 10, .strategies = &st, .nstrategies = 1 };
        int idx[10];
        assert_int_equal(place_tasks(in, N, &req, 10, idx, NULL, NULL), 10);
        int a = 0;
        for (int k = 0; k < 10; k++)
                a += idx[k] % 2 == 0;
        assert_int_equal(a, 5);
}

static void test_spread_instance_then_binpack(void **state)
{
        struct place_strategy st[2];
        place_strategy_parse("spread", "attribute:ecs.availability-zone", &st[0], NULL);
        place_strategy_parse("binpack", "memory", &st[1], NULL);
        in[2].mem = 1000;   /* the fullest in zone a */
        in[5].mem = 2000;   /* the fullest in zone b */
        struct place_request req = { .cpu = 0, .mem = 100, .strategies = st, .nstrategies = 2 };
        int idx[4];
        assert_int_equal(place_tasks(in, N, &req, 4, idx, NULL, NULL), 4);
        assert_int_equal(per_instance(idx, 4, 2), 2);
        assert_int_equal(per_instance(idx, 4, 5), 2);
}

static void test_binpack_fills_one_first(void **state)
{
        struct place_strategy st;
        place_strategy_parse("binpack", "cpu", &st, NULL);
        in[3].cpu = 1024;
        struct place_request req = { .cpu = 256, .mem = 10, .strategies = &st, .nstrategies = 1 };
        int idx[6];
        assert_int_equal(place_tasks(in, N, &req, 6, idx, NULL, NULL), 6);
        assert_int_equal(per_instance(idx, 6, 3), 4);   /* 1024 / 256 */
        /* then the next fullest (all equal at 2048): one instance takes the rest */
        assert_int_equal(idx[4], idx[5]);
}

static void test_spread_instance_id(void **state)
{
        struct place_strategy st;
        place_strategy_parse("spread", "instanceId", &st, NULL);
        struct place_request req = { .cpu = 1, .mem = 1, .strategies = &st, .nstrategies = 1 };
        int idx[12];
        assert_int_equal(place_tasks(in, N, &req, 12, idx, NULL, NULL), 12);
        for (int i = 0; i < N; i++)
                assert_int_equal(per_instance(idx, 12, i), 2);
}

static void test_random_is_seeded(void **state)
{
        struct place_strategy st;
        place_strategy_parse("random", NULL, &st, NULL);
        struct place_request req = { .cpu = 1, .mem = 1, .strategies = &st, .nstrategies = 1, .seed = 42 };
        int a[20], b[20];
        place_tasks(in, N, &req, 20, a, NULL, NULL);
        setup(NULL);
        place_tasks(in, N, &req, 20, b, NULL, NULL);
        assert_memory_equal(a, b, sizeof a);
        int used = 0;
        for (int i = 0; i < N; i++)
                used += per_instance(a, 20, i) > 0;
        assert_true(used >= 3);
}

static void test_distinct_instance(void **state)
{
        struct place_request req = { .cpu = 1, .mem = 1, .distinct_instance = true };
        int idx[8];
        const char *why[N];
        in[0].group_count = 1;     /* the group already runs on instance 0 */
        assert_int_equal(place_tasks(in, N, &req, 8, idx, why, NULL), 5);
        assert_int_equal(per_instance(idx, 5, 0), 0);
        for (int i = 1; i < N; i++)
                assert_int_equal(per_instance(idx, 5, i), 1);
        assert_int_equal(idx[5], -1);
        assert_string_equal(why[0], "DistinctInstance placement constraint unsatisfied");
}

static void test_member_of(void **state)
{
        struct cql *q = NULL;
        assert_int_equal(cql_parse("attribute:ecs.instance-type =~ m5.*", &q, NULL), 0);
        struct cql *qs[] = { q };
        struct place_request req = { .cpu = 1, .mem = 1, .member_of = qs, .nmember_of = 1 };
        int idx[9];
        const char *why[N];
        assert_int_equal(place_tasks(in, N, &req, 9, idx, why, NULL), 9);
        for (int k = 0; k < 9; k++)
                assert_int_equal(idx[k] % 2, 1);
        /* runningTasksCount is live: at most 2 tasks per instance */
        cql_free(q);
        setup(NULL);
        assert_int_equal(cql_parse("runningTasksCount < 2 and attribute:ecs.availability-zone == us-east-1a", &q, NULL), 0);
        qs[0] = q;
        assert_int_equal(place_tasks(in, N, &req, 9, idx, why, NULL), 6);
        assert_string_equal(why[1], "MemberOf placement constraint unsatisfied");
        assert_string_equal(why[0], "MemberOf placement constraint unsatisfied");
        cql_free(q);
}

static void test_resource_exhaustion_reasons(void **state)
{
        struct place_request req = { .cpu = 4096, .mem = 1 };
        int idx[1];
        const char *why[N];
        assert_int_equal(place_tasks(in, N, &req, 1, idx, why, NULL), 0);
        assert_int_equal(idx[0], -1);
        assert_string_equal(why[0], "RESOURCE:CPU");
        req = (struct place_request) { .cpu = 1, .mem = 8192 };
        place_tasks(in, N, &req, 1, idx, why, NULL);
        assert_string_equal(why[3], "RESOURCE:MEMORY");
        /* ENIs: 3 per instance, 18 in all */
        req = (struct place_request) { .cpu = 1, .mem = 1, .needs_eni = true };
        int many[20];
        assert_int_equal(place_tasks(in, N, &req, 20, many, why, NULL), 18);
        assert_int_equal(many[18], -1);
        assert_string_equal(why[5], "RESOURCE:ENI");
        in[4].active = false;
        place_tasks(in, N, &req, 1, idx, why, NULL);
        assert_string_equal(why[4], "INACTIVE");
}

static void test_static_ports(void **state)
{
        uint16_t p80 = 80;
        struct place_request req = { .cpu = 1, .mem = 1, .tcp_ports = &p80, .ntcp = 1 };
        int idx[8];
        const char *why[N];
        place_port_take(tcp[1], 80);   /* something else holds :80 on instance 1 */
        assert_int_equal(place_tasks(in, N, &req, 8, idx, why, NULL), 5);
        assert_int_equal(per_instance(idx, 5, 1), 0);
        assert_string_equal(why[1], "RESOURCE:PORTS");
        /* UDP 80 is a separate resource */
        req = (struct place_request) { .cpu = 1, .mem = 1, .udp_ports = &p80, .nudp = 1 };
        assert_int_equal(place_tasks(in, N, &req, 6, idx, why, NULL), 6);
}

static void test_strategy_parse_errors(void **state)
{
        struct place_strategy st;
        struct err e = { 0 };
        assert_int_equal(place_strategy_parse("pack", "cpu", &st, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "pack"));
        assert_int_equal(place_strategy_parse("binpack", "disk", &st, &e), -EINVAL);
        assert_int_equal(place_strategy_parse("spread", NULL, &st, &e), -EINVAL);
        assert_int_equal(place_strategy_parse("spread", "attribute:", &st, &e), -EINVAL);
        assert_int_equal(place_strategy_parse("random", "cpu", &st, &e), -EINVAL);
        assert_string_equal(e.code, "InvalidParameterException");
        assert_int_equal(place_strategy_parse("spread", "host", &st, &e), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_spread_by_zone_even, setup),
                cmocka_unit_test_setup(test_spread_instance_then_binpack, setup),
                cmocka_unit_test_setup(test_binpack_fills_one_first, setup),
                cmocka_unit_test_setup(test_spread_instance_id, setup),
                cmocka_unit_test_setup(test_random_is_seeded, setup),
                cmocka_unit_test_setup(test_distinct_instance, setup),
                cmocka_unit_test_setup(test_member_of, setup),
                cmocka_unit_test_setup(test_resource_exhaustion_reasons, setup),
                cmocka_unit_test_setup(test_static_ports, setup),
                cmocka_unit_test_setup(test_strategy_parse_errors, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
