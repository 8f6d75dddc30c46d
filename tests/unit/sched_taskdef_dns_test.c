/* sched_taskdef_dns_test.c: RegisterTaskDefinition's name-service fields (taskdef_build.c): awsvpc
 * refuses dnsServers, extraHosts, hostname and links naming the container and field; every mode refuses
 * values that would add lines to resolv.conf or hosts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ecsbox/json.h"
#include "../../scheduler/ecs/ecs.h"
#include "../../scheduler/ecs/taskdef.h"

/* A one-container definition in mode with extra (a JSON members fragment, may be "") in the container. */
static int build(const char *mode, const char *extra, struct err *err)
{
        char text[2048];
        json_t *req, *out = NULL;
        int r;
        snprintf(text, sizeof text,
                 "{\"family\":\"f\",\"networkMode\":\"%s\",\"containerDefinitions\":[{\"name\":\"web\",\"image\":\"busybox\","
                 "\"memory\":64%s%s}]}",
                 mode, *extra ? "," : "", extra);
        req = json_loads(text, 0, NULL);
        assert_non_null(req);
        memset(err, 0, sizeof *err);
        r = taskdef_build(req, &out, err);
        json_decref(req);
        json_decref(out);
        return r;
}

static void refused(const char *mode, const char *extra, const char *code, const char *needle)
{
        struct err err;
        assert_true(build(mode, extra, &err) < 0);
        assert_string_equal(err.code, code);
        if (!strstr(err.msg, needle))
                fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_awsvpc_refusals(void **state)
{
        (void) state;
        refused("awsvpc", "\"dnsServers\":[\"10.0.0.53\"]", E_CLIENT,
                "container 'web'. dnsServers is not supported when networkMode=awsvpc (conflicting options: dns and the network mode)");
        refused("awsvpc", "\"extraHosts\":[{\"hostname\":\"db\",\"ipAddress\":\"10.0.0.9\"}]", E_CLIENT,
                "extraHosts is not supported when networkMode=awsvpc (conflicting options: custom host-to-IP mapping");
        refused("awsvpc", "\"hostname\":\"web\"", E_CLIENT, "hostname is not supported when networkMode=awsvpc");
        refused("awsvpc", "\"links\":[\"db\"]", E_CLIENT, "links is not supported when networkMode=awsvpc");
}

static void test_accepted(void **state)
{
        struct err err;
        (void) state;
        assert_int_equal(build("awsvpc", "\"dnsSearchDomains\":[\"corp.test\"]", &err), 0);
        assert_int_equal(build("awsvpc", "\"dnsServers\":null", &err), 0);
        assert_int_equal(build("bridge",
                               "\"dnsServers\":[\"10.0.0.53\"],\"dnsSearchDomains\":[\"a.test\"],\"hostname\":\"web\","
                               "\"extraHosts\":[{\"hostname\":\"db\",\"ipAddress\":\"10.0.0.9\"}],\"links\":[\"db:d\"]",
                               &err),
                         0);
        assert_int_equal(build("host", "\"dnsServers\":[\"10.0.0.53\"],\"extraHosts\":[{\"hostname\":\"db\",\"ipAddress\":\"::1\"}]", &err),
                         0);
}

static void test_bad_values(void **state)
{
        (void) state;
        refused("bridge", "\"dnsServers\":[\"1.1.1.1\\nnameserver 6.6.6.6\"]", E_CLIENT, "dnsServers[0]");
        refused("bridge", "\"dnsSearchDomains\":[\"\"]", E_CLIENT, "dnsSearchDomains[0]");
        refused("bridge", "\"hostname\":\"a b\"", E_CLIENT, "hostname 'a b'");
        refused("host", "\"hostname\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"", E_CLIENT,
                "1-64 characters");
        refused("bridge", "\"extraHosts\":[{\"hostname\":\"db\"}]", "InvalidParameterException", "ipAddress");
        refused("bridge", "\"extraHosts\":[\"db:1.2.3.4\"]", "SerializationException", "extraHosts[0]");
        refused("bridge", "\"dnsServers\":\"1.1.1.1\"", "SerializationException", "dnsServers");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_awsvpc_refusals),
                cmocka_unit_test(test_accepted),
                cmocka_unit_test(test_bad_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
