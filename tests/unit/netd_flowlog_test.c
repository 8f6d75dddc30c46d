/* netd_flowlog_test.c: flow log formats, versions, set keys, tcp-flag folding and record lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../netd/flowlog.h"
#include "../../netd/flowlog_collect.h"
#include "../../netd/flowlog_fmt.h"

static void test_default_format(void **state)
{
        struct fl_format f;
        struct err err = { 0 };
        char h[512];
        assert_int_equal(fl_format_parse(NULL, &f, &err), 0);
        assert_int_equal(f.n, 14);
        assert_int_equal(f.version, 2);
        assert_int_equal(f.f[0], FL_VERSION);
        assert_int_equal(f.f[13], FL_LOG_STATUS);
        assert_true(fl_header_format(&f, h, sizeof h) > 0);
        assert_string_equal(h, "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
                               "start end action log-status\n");
}

static int version_of(const char *fmt)
{
        struct fl_format f;
        struct err err = { 0 };
        assert_int_equal(fl_format_parse(fmt, &f, &err), 0);
        return f.version;
}

static void test_versions(void **state)
{
        assert_int_equal(version_of("${srcaddr}"), 2);
        assert_int_equal(version_of("${srcaddr} ${tcp-flags}"), 3);
        assert_int_equal(version_of("${vpc-id} ${az-id} ${srcaddr}"), 4);
        assert_int_equal(version_of("${flow-direction} ${vpc-id}"), 5);
        assert_int_equal(version_of("${ecs-task-id}"), 7);
        assert_int_equal(version_of("${ecs-task-id} ${reject-reason}"), 8);
        /* every field parses, and each version counts as in flow-logs.md 1.4: 14, 7, 4, 4, 10, 1 */
        int per[9] = { 0 };
        for (int i = 0; i < FL_NFIELDS; i++) {
                char s[64];
                snprintf(s, sizeof s, "${%s}", fl_field_name(i));
                per[version_of(s)]++;
        }
        assert_int_equal(per[2], 14);
        assert_int_equal(per[3], 7);
        assert_int_equal(per[4], 4);
        assert_int_equal(per[5], 4);
        assert_int_equal(per[7], 10);
        assert_int_equal(per[8], 1);
}

static void test_bad_formats(void **state)
{
        static const char *const bad[] = { "${nope}", "srcaddr", "${srcaddr}  ${dstaddr}", "${srcaddr},${dstaddr}",
                                           "${srcaddr", "${srcaddr} ", " ${srcaddr}", "${}" };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct fl_format f;
                struct err err = { 0 };
                assert_true(fl_format_parse(bad[i], &f, &err) < 0);
                assert_string_equal(err.code, "InvalidParameter");
                assert_true(err.msg[0] != '\0');
        }
        /* 65 fields: too many */
        char big[65 * 12 + 1] = "";
        for (int i = 0; i < 65; i++)
                strcat(big, i ? " ${bytes}" : "${bytes}");
        struct fl_format f;
        struct err err = { 0 };
        assert_true(fl_format_parse(big, &f, &err) < 0);
}

static void test_keys(void **state)
{
        const uint8_t k5[20] = { 10, 0, 1, 4, 10, 0, 1, 5, 6, 0, 0, 0, 0xa3, 0x5e, 0, 0, 0, 80, 0, 0 };
        const uint8_t k3[12] = { 10, 0, 1, 5, 10, 0, 1, 4, 1, 0, 0, 0 };
        const uint8_t kf[20] = { 10, 0, 1, 4, 10, 0, 1, 5, 0xa3, 0x5e, 0, 0, 0, 80, 0, 0, 0x12, 0, 0, 0 };
        struct fl_key k;
        uint8_t flags = 0;
        assert_int_equal(fl_key5_decode(k5, 20, &k), 0);
        assert_int_equal(k.saddr, 0x0a000104);
        assert_int_equal(k.daddr, 0x0a000105);
        assert_int_equal(k.proto, 6);
        assert_int_equal(k.sport, 41822);
        assert_int_equal(k.dport, 80);
        assert_int_equal(fl_key5_decode(k5, 12, &k), -EBADMSG);
        assert_int_equal(fl_key3_decode(k3, 12, &k), 0);
        assert_int_equal(k.saddr, 0x0a000105);
        assert_int_equal(k.proto, 1);
        assert_int_equal(k.sport, 0);
        assert_int_equal(k.dport, 0);
        assert_int_equal(fl_key3_decode(k3, 20, &k), -EBADMSG);
        assert_int_equal(fl_keyflags_decode(kf, 20, &k, &flags), 0);
        assert_int_equal(k.sport, 41822);
        assert_int_equal(k.dport, 80);
        assert_int_equal(k.proto, 6);
        assert_int_equal(flags, 0x12);
        assert_int_equal(fl_keyflags_decode(kf, 19, &k, &flags), -EBADMSG);
}

static void test_tcp_fold(void **state)
{
        /* client: SYN then FIN|ACK -> 3; server: SYN|ACK then FIN|ACK -> 19 */
        assert_int_equal(fl_tcp_fold(fl_tcp_fold(0, 0x02), 0x11), 3);
        assert_int_equal(fl_tcp_fold(fl_tcp_fold(0, 0x12), 0x11), 19);
        assert_int_equal(fl_tcp_fold(0, 0x10), 0);          /* ACK alone */
        assert_int_equal(fl_tcp_fold(0, 0x18), 0);          /* PSH|ACK */
        assert_int_equal(fl_tcp_fold(0, 0x42), 2);          /* SYN|ECE */
        assert_int_equal(fl_tcp_fold(0, 0x14), 4);          /* RST|ACK */
        assert_int_equal(fl_tcp_fold(0x02, 0x04), 6);
}

static void test_helpers(void **state)
{
        char b[32];
        assert_string_equal(fl_arn_tail("arn:aws:ecs:us-east-1:000000000000:task/default/5d2f3c1a"), "5d2f3c1a");
        assert_null(fl_arn_tail(NULL));
        assert_null(fl_arn_tail("noslash"));
        fl_az_id("us-east-1", "us-east-1b", b, sizeof b);
        assert_string_equal(b, "use1-az2");
        fl_az_id("ap-southeast-2", "ap-southeast-2a", b, sizeof b);
        assert_string_equal(b, "apse2-az1");
        fl_az_id("eu-central-1", "eu-central-1c", b, sizeof b);
        assert_string_equal(b, "euc1-az3");
        fl_az_id("us-east-1", "eu-west-1a", b, sizeof b);
        assert_string_equal(b, "-");
        fl_az_id("us-east-1", NULL, b, sizeof b);
        assert_string_equal(b, "-");
}

static void test_records(void **state)
{
        struct fl_format f;
        struct err err = { 0 };
        struct fl_ctx c = { .account = "123456789012", .eni = "eni-0f1e2d3c4b5a69788", .vpc = "vpc-0a1b2c3d4e5f60718",
                            .vpc_net = 0x0a000000, .vpc_mask = 0xffff0000 };
        struct fl_rec r = { .k = { 0x0a000104, 0x0a000105, 41822, 80, 6 }, .egress = true, .packets = 10,
                            .bytes = 1375, .start = 1718000105, .end = 1718000111, .tcp_flags = 3 };
        char line[512];

        assert_int_equal(fl_format_parse(NULL, &f, &err), 0);
        assert_true(fl_record_format(&f, &c, &r, line, sizeof line) > 0);
        assert_string_equal(line, "2 123456789012 eni-0f1e2d3c4b5a69788 10.0.1.4 10.0.1.5 41822 80 6 10 1375 "
                                  "1718000105 1718000111 ACCEPT OK\n");
        r.status = FL_NODATA;
        fl_record_format(&f, &c, &r, line, sizeof line);
        assert_string_equal(line, "2 123456789012 eni-0f1e2d3c4b5a69788 - - - - - - - 1718000105 1718000111 - NODATA\n");
        r.status = FL_SKIPDATA;
        fl_record_format(&f, &c, &r, line, sizeof line);
        assert_string_equal(line, "2 123456789012 eni-0f1e2d3c4b5a69788 - - - - - - - 1718000105 1718000111 - SKIPDATA\n");

        /* the custom format of flow-logs.md 1.8 */
        c.ecs[FL_ECS_SERVICE_NAME - FL_ECS_CLUSTER_ARN] = "web";
        c.ecs[FL_ECS_TASK_ID - FL_ECS_CLUSTER_ARN] = "5d2f3c1a9b8e4f7a86c1d0e2b3a4f596";
        assert_int_equal(fl_format_parse("${version} ${vpc-id} ${flow-direction} ${srcaddr} ${dstaddr} ${srcport} "
                                         "${dstport} ${protocol} ${action} ${tcp-flags} ${traffic-path} "
                                         "${ecs-service-name} ${ecs-task-id} ${reject-reason} ${log-status}",
                                         &f, &err), 0);
        r.status = FL_OK;
        fl_record_format(&f, &c, &r, line, sizeof line);
        assert_string_equal(line, "8 vpc-0a1b2c3d4e5f60718 egress 10.0.1.4 10.0.1.5 41822 80 6 ACCEPT 3 1 web "
                                  "5d2f3c1a9b8e4f7a86c1d0e2b3a4f596 - OK\n");
        struct fl_rec in = { .k = { 0x0a000209, 0x0a000104, 50514, 22, 6 }, .reject = true, .packets = 3, .bytes = 180,
                             .tcp_flags = 2 };
        fl_record_format(&f, &c, &in, line, sizeof line);
        assert_string_equal(line, "8 vpc-0a1b2c3d4e5f60718 ingress 10.0.2.9 10.0.1.4 50514 22 6 REJECT 2 - web "
                                  "5d2f3c1a9b8e4f7a86c1d0e2b3a4f596 - OK\n");
        /* non-TCP: tcp-flags "-"; egress out of the VPC: traffic-path "-" */
        struct fl_rec icmp = { .k = { 0x0a000104, 0x08080808, 0, 0, 1 }, .egress = true, .packets = 2, .bytes = 168 };
        assert_int_equal(fl_format_parse("${protocol} ${srcport} ${dstport} ${tcp-flags} ${traffic-path} ${type} "
                                         "${pkt-dstaddr} ${ecs-cluster-arn}", &f, &err), 0);
        fl_record_format(&f, &c, &icmp, line, sizeof line);
        assert_string_equal(line, "1 0 0 - - IPv4 8.8.8.8 -\n");
        /* too small a buffer */
        assert_int_equal(fl_record_format(&f, &c, &icmp, line, 8), -ENOSPC);
}

static struct fl_flow *find(struct fl_acc *a, const struct fl_key *k, bool egress, bool reject)
{
        for (size_t i = 0; i < a->cap; i++)
                if (a->v[i].used && a->v[i].k.saddr == k->saddr && a->v[i].k.daddr == k->daddr &&
                    a->v[i].k.sport == k->sport && a->v[i].k.dport == k->dport && a->v[i].k.proto == k->proto &&
                    a->v[i].egress == egress &&
                    a->v[i].reject == reject)
                        return &a->v[i];
        return NULL;
}

static void test_accumulator(void **state)
{
        struct fl_acc a = { 0 }, b = { 0 };
        struct fl_key k = { 0x0a000104, 0x0a000105, 41822, 80, 6 };
        struct fl_key kr = { 0x0a000105, 0x0a000104, 80, 41822, 6 };
        struct fl_flow *f;

        /* the same tuple in two directions and with two actions is four flows */
        assert_int_equal(fl_acc_add(&a, &k, true, false, 3, 180), 0);
        assert_int_equal(fl_acc_add(&a, &k, true, false, 2, 120), 0);
        assert_int_equal(fl_acc_add(&a, &k, false, false, 1, 60), 0);
        assert_int_equal(fl_acc_add(&a, &k, true, true, 1, 60), 0);
        assert_int_equal(a.n, 3);
        f = find(&a, &k, true, false);
        assert_non_null(f);
        assert_int_equal(f->packets, 5);
        assert_int_equal(f->bytes, 300);
        /* flags go to both actions of that direction, and only to flows that exist */
        fl_acc_flags(&a, &k, true, 0x02);
        fl_acc_flags(&a, &k, true, 0x11);
        fl_acc_flags(&a, &kr, false, 0x12);
        assert_int_equal(find(&a, &k, true, false)->flags, 3);
        assert_int_equal(find(&a, &k, true, true)->flags, 3);
        assert_int_equal(find(&a, &k, false, false)->flags, 0);
        assert_false(find(&a, &k, false, false)->has_flags);
        assert_null(find(&a, &kr, false, false));
        /* growth keeps every flow: 10,000 source ports */
        for (uint32_t i = 0; i < 10000; i++) {
                struct fl_key x = { 0x0a000104, 0x0a000105, (uint16_t) (20000 + i), 9000, 17 };
                assert_int_equal(fl_acc_add(&b, &x, false, false, 1, 48), 0);
        }
        assert_int_equal(b.n, 10000);
        b.skip = true;
        assert_int_equal(fl_acc_merge(&a, &b), 0);
        assert_int_equal(fl_acc_merge(&a, &b), 0);
        assert_int_equal(a.n, 10003);
        assert_true(a.skip);
        for (uint32_t i = 0; i < 10000; i += 997) {
                struct fl_key x = { 0x0a000104, 0x0a000105, (uint16_t) (20000 + i), 9000, 17 };
                f = find(&a, &x, false, false);
                assert_non_null(f);
                assert_int_equal(f->packets, 2);
                assert_int_equal(f->bytes, 96);
        }
        fl_acc_fini(&a);
        fl_acc_fini(&b);
        assert_int_equal(a.n, 0);
        fl_acc_flags(&a, &k, true, 0x02);   /* empty table: nothing to do, no crash */
}

/* A flow log record -> the collector's state: defaults for what older records lack, and a bad format refused. */
static void test_log_from_record(void **state)
{
        struct err err = { 0 };
        struct fl_log l;
        json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "FlowLogId", "fl-0123456789abcdef0", "ResourceId",
                                "subnet-0123456789abcdef0", "ebxResourceType", "Subnet", "LogDestination", "/tmp/fl",
                                "TrafficType", "REJECT", "MaxAggregationInterval", 60, "LogFormat", "${srcaddr} ${dstaddr}");
        assert_int_equal(fl_log_from_record(rec, &l, &err), 0);
        assert_string_equal(l.id, "fl-0123456789abcdef0");
        assert_string_equal(l.type, "Subnet");
        assert_string_equal(l.resource, "subnet-0123456789abcdef0");
        assert_string_equal(l.dest, "/tmp/fl");
        assert_int_equal(l.traffic, TT_REJECT);
        assert_int_equal(l.interval, 60);
        assert_int_equal(l.win_start % 60, 0);                  /* windows start on whole intervals */
        assert_int_equal(l.fmt.n, 2);
        assert_null(l.e);
        json_decref(rec);
        /* a record from before ebxResourceType, TrafficType and the interval: NetworkInterface, ALL, 600 s */
        rec = json_pack("{s:s, s:s, s:s}", "FlowLogId", "fl-0123456789abcdef1", "ResourceId", "eni-0123456789abcdef0", "LogDestination", "/tmp/fl");
        assert_int_equal(fl_log_from_record(rec, &l, &err), 0);
        assert_string_equal(l.type, "NetworkInterface");
        assert_int_equal(l.traffic, TT_ALL);
        assert_int_equal(l.interval, 600);
        json_object_set_new(rec, "LogFormat", json_string("${nonsense}"));
        assert_true(fl_log_from_record(rec, &l, &err) < 0);
        assert_string_equal(err.code, "InvalidParameter");
        json_decref(rec);
        assert_int_equal(fl_traffic_parse("ALL"), TT_ALL);
        assert_int_equal(fl_traffic_parse("ACCEPT"), TT_ACCEPT);
        assert_int_equal(fl_traffic_parse("REJECT"), TT_REJECT);
        assert_int_equal(fl_traffic_parse("accept"), -1);
        assert_int_equal(fl_traffic_parse(NULL), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_format), cmocka_unit_test(test_versions),
                cmocka_unit_test(test_bad_formats),    cmocka_unit_test(test_keys),
                cmocka_unit_test(test_tcp_fold),       cmocka_unit_test(test_helpers),
                cmocka_unit_test(test_records),        cmocka_unit_test(test_accumulator),
                cmocka_unit_test(test_log_from_record),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
