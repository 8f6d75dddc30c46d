/* mon_etcfiles_test.c: a container's resolv.conf and hosts per network mode (etcfiles.c) and the spec's
 * name-service members. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../scheduler/monitor/etcfiles.h"
#include "../../scheduler/monitor/spec.h"

#define TASK_HEAD "{\"taskId\":\"0123456789abcdef0123456789abcdef\",\"dir\":\"/var/lib/ecsbox/tasks/x\","

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

static void parse_bad(const char *text, const char *needle)
{
        json_t *root = json_loads(text, 0, NULL);
        struct task_spec *s = NULL;
        struct err err = { 0 };
        assert_non_null(root);
        assert_true(spec_parse(root, &s, &err) < 0);
        if (!strstr(err.msg, needle))
                fail_msg("message '%s' lacks '%s'", err.msg, needle);
        json_decref(root);
}

static void test_parse_resolv_conf(void **state)
{
        struct resolv_conf rc;
        (void) state;
        assert_int_equal(resolv_conf_parse("# generated\nnameserver 127.0.0.53\nnameserver  10.0.0.2 # vpc\n"
                                           "domain a.example\nsearch  b.example c.example\noptions ndots:2\n"
                                           "options edns0 trust-ad\nsortlist 1.2.3.4\n\nnameserver",
                                           &rc),
                         0);
        assert_string_equal(rc.servers[0], "127.0.0.53");
        assert_string_equal(rc.servers[1], "10.0.0.2");
        assert_null(rc.servers[2]);
        /* the last of search/domain wins, as in glibc */
        assert_string_equal(rc.search[0], "b.example");
        assert_string_equal(rc.search[1], "c.example");
        assert_null(rc.search[2]);
        assert_string_equal(rc.options[0], "ndots:2");
        assert_string_equal(rc.options[2], "trust-ad");
        assert_null(rc.options[3]);
        resolv_conf_done(&rc);

        assert_int_equal(resolv_conf_parse(NULL, &rc), 0);
        assert_null(rc.servers[0]);
        assert_null(rc.search[0]);
        resolv_conf_done(&rc);

        assert_true(resolv_is_loopback("127.0.0.1"));
        assert_true(resolv_is_loopback("127.0.0.53"));
        assert_true(resolv_is_loopback("::1"));
        assert_false(resolv_is_loopback("10.0.0.2"));
        assert_false(resolv_is_loopback("1.27.0.1"));
}

static void test_format_resolv_conf(void **state)
{
        const char *const servers[] = { "10.0.0.2", NULL }, *const search[] = { "ec2.internal", NULL },
                          *const opts[] = { "ndots:0", NULL }, *const none[] = { NULL };
        char *t;
        (void) state;
        t = resolv_conf_format(servers, search, NULL);
        assert_string_equal(t, "nameserver 10.0.0.2\nsearch ec2.internal\n");
        free(t);
        t = resolv_conf_format(servers, none, opts);
        assert_string_equal(t, "nameserver 10.0.0.2\noptions ndots:0\n");
        free(t);
        t = resolv_conf_format(NULL, NULL, NULL);
        assert_string_equal(t, "");
        free(t);
}

static void build(const char *spec, size_t idx, const char *hostname, const struct etc_host_files *host, struct etc_files *f)
{
        struct task_spec *s = parse_ok(spec);
        assert_int_equal(etc_files_build(s, &s->containers[idx], hostname, host, f), 0);
        spec_free(s);
}

/* Fargate's shape (agent netlib/platform/common_linux.go), whatever the host has. */
static void test_awsvpc(void **state)
{
        const struct etc_host_files host = { "nameserver 10.255.255.53\noptions rotate\n", NULL, "127.0.0.1 localhost\n10.9.9.9 h\n" };
        struct etc_files f;
        (void) state;
        build(TASK_HEAD "\"networkMode\":\"awsvpc\",\"dnsServers\":[\"172.31.0.2\"],\"dnsSearch\":[\"ec2.internal\"],"
                        "\"privateIp\":\"172.31.0.4\",\"privateDnsName\":\"ip-172-31-0-4.ec2.internal\","
                        "\"hostname\":\"ip-172-31-0-4.ec2.internal\","
                        "\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"]}]}",
              0, "ip-172-31-0-4.ec2.internal", &host, &f);
        assert_string_equal(f.resolv, "nameserver 172.31.0.2\nsearch ec2.internal\n");
        assert_string_equal(f.hosts, "127.0.0.1 localhost\n172.31.0.4 ip-172-31-0-4.ec2.internal\n");
        etc_files_done(&f);
}

/* Docker's default bridge: the host's servers minus loopback, the container's overrides, extraHosts. */
static void test_bridge(void **state)
{
        const struct etc_host_files host = { "nameserver 127.0.0.1\nnameserver 10.255.255.53\nsearch corp.example\noptions ndots:2\n",
                                             NULL, NULL };
        const struct etc_host_files stub = { "nameserver 127.0.0.53\noptions edns0\n", "nameserver 10.1.0.2\nnameserver 127.0.0.1\n", NULL };
        const struct etc_host_files loop = { "nameserver 127.0.0.1\n", NULL, NULL };
        const char *spec = TASK_HEAD "\"networkMode\":\"bridge\",\"privateIp\":\"172.17.0.5\",\"containers\":["
                                     "{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"]},"
                                     "{\"name\":\"b\",\"image\":\"host\",\"command\":[\"true\"],\"hostname\":\"bee\","
                                     "\"dnsServers\":[\"10.0.0.53\",\"10.0.0.54\"],\"dnsSearchDomains\":[\"x.test\"],"
                                     "\"extraHosts\":[{\"hostname\":\"db.test\",\"ipAddress\":\"10.2.3.4\"}],"
                                     "\"links\":[\"a:web\",\"c\"]}]}";
        struct etc_files f;
        (void) state;

        build(spec, 0, "0123456789ab", &host, &f);
        assert_string_equal(f.resolv, "nameserver 10.255.255.53\nsearch corp.example\noptions ndots:2\n");
        assert_non_null(strstr(f.hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
        assert_non_null(strstr(f.hosts, "ff02::2\tip6-allrouters\n172.17.0.5\t0123456789ab\n"));
        etc_files_done(&f);

        build(spec, 1, "bee", &host, &f);
        assert_string_equal(f.resolv, "nameserver 10.0.0.53\nnameserver 10.0.0.54\nsearch x.test\noptions ndots:2\n");
        assert_non_null(strstr(f.hosts, "ff02::2\tip6-allrouters\n10.2.3.4\tdb.test\n172.17.0.5\tweb a\n172.17.0.5\tc\n"
                                        "172.17.0.5\tbee\n"));
        etc_files_done(&f);

        /* behind systemd-resolved's stub: its upstream list, as Docker reads it */
        build(spec, 0, "h", &stub, &f);
        assert_string_equal(f.resolv, "nameserver 10.1.0.2\noptions edns0\n");
        etc_files_done(&f);

        /* nothing but loopback: Docker's public defaults */
        build(spec, 0, "h", &loop, &f);
        assert_string_equal(f.resolv, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        etc_files_done(&f);
}

/* host mode: the host's files, untouched for the host image; copies with the overrides otherwise. */
static void test_host_mode(void **state)
{
        const struct etc_host_files host = { "nameserver 127.0.0.53\nsearch lan\n", NULL, "127.0.0.1 localhost\n10.9.9.9 me\n" };
        const char *spec = TASK_HEAD "\"networkMode\":\"host\",\"containers\":["
                                     "{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"]},"
                                     "{\"name\":\"b\",\"image\":\"host\",\"command\":[\"true\"],\"dnsServers\":[\"10.0.0.53\"],"
                                     "\"extraHosts\":[{\"hostname\":\"db\",\"ipAddress\":\"10.2.3.4\"}]},"
                                     "{\"name\":\"c\",\"image\":\"busybox\",\"rootfs\":{\"lowerdirs\":[\"/l/1\"]},\"command\":[\"true\"]}]}";
        struct etc_files f;
        (void) state;
        build(spec, 0, "h", &host, &f);
        assert_null(f.resolv);
        assert_null(f.hosts);
        build(spec, 1, "h", &host, &f);
        assert_string_equal(f.resolv, "nameserver 10.0.0.53\nsearch lan\n");
        assert_string_equal(f.hosts, "127.0.0.1 localhost\n10.9.9.9 me\n10.2.3.4\tdb\n");
        etc_files_done(&f);
        /* an image of its own sees the host's files as Docker copies them (loopback kept: same netns) */
        build(spec, 2, "h", &host, &f);
        assert_string_equal(f.resolv, "nameserver 127.0.0.53\nsearch lan\n");
        assert_string_equal(f.hosts, "127.0.0.1 localhost\n10.9.9.9 me\n");
        etc_files_done(&f);
}

/* A spec without networkMode (older ecsboxd, direct monitor use): nothing is bound. */
static void test_no_mode(void **state)
{
        const struct etc_host_files host = { "nameserver 10.0.0.2\n", NULL, NULL };
        struct etc_files f;
        (void) state;
        build(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"],\"dnsServers\":[\"1.1.1.1\"]}]}", 0,
              "h", &host, &f);
        assert_null(f.resolv);
        assert_null(f.hosts);
}

static void test_spec_members(void **state)
{
        struct task_spec *s;
        (void) state;
        s = parse_ok(TASK_HEAD "\"networkMode\":\"bridge\",\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"],"
                               "\"hostname\":\"web\",\"dnsSearchDomains\":[\"a.test\"],"
                               "\"extraHosts\":[{\"hostname\":\"x\",\"ipAddress\":\"1.2.3.4\"},{\"hostname\":\"y\",\"ipAddress\":\"::1\"}]}]}");
        assert_string_equal(s->network_mode, "bridge");
        assert_string_equal(s->containers[0].hostname, "web");
        assert_string_equal(s->containers[0].dns_search[0], "a.test");
        assert_null(s->containers[0].dns_servers);
        assert_int_equal(s->containers[0].n_extra_hosts, 2);
        assert_string_equal(s->containers[0].extra_hosts[1].ip, "::1");
        spec_free(s);

        parse_bad(TASK_HEAD "\"networkMode\":\"weird\",\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"]}]}",
                  "networkMode 'weird'");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"],\"dnsServers\":[\"1.1.1.1\\nnameserver 6.6.6.6\"]}]}",
                  "without spaces");
        parse_bad(TASK_HEAD "\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"],\"extraHosts\":[{\"hostname\":\"x\"}]}]}",
                  "extraHosts[0]");
        parse_bad(TASK_HEAD "\"dnsSearch\":[\"\"],\"containers\":[{\"name\":\"a\",\"image\":\"host\",\"command\":[\"true\"]}]}",
                  "dnsSearch[0]");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_resolv_conf), cmocka_unit_test(test_format_resolv_conf), cmocka_unit_test(test_awsvpc),
                cmocka_unit_test(test_bridge),           cmocka_unit_test(test_host_mode),          cmocka_unit_test(test_no_mode),
                cmocka_unit_test(test_spec_members),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
