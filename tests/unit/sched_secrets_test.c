/* sched_secrets_test.c: the secrets services' pure parts: a container secret's valueFrom (Secrets Manager
 * ARNs with json-key/version-stage/version-id, SSM ARNs and names), a JSON secret's key, names, SSM ARNs
 * and paging tokens. */
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

#include "../../scheduler/secrets/seal.h"
#include "../../scheduler/secrets/secrets_req.h"

#define SM_ARN "arn:aws:secretsmanager:us-east-1:000000000000:secret:db/pass-AbCdEf"

static struct secret_ref ref(const char *v)
{
        struct secret_ref r;
        struct err err = { 0 };
        if (secret_ref_parse(v, &r, &err) < 0)
                fail_msg("valueFrom '%s' refused: %s", v, err.msg);
        return r;
}

static void bad_ref(const char *v, const char *part)
{
        struct secret_ref r;
        struct err err = { 0 };
        if (secret_ref_parse(v, &r, &err) >= 0)
                fail_msg("valueFrom '%s' accepted", v);
        if (!strstr(err.msg, part))
                fail_msg("valueFrom '%s': message '%s' lacks '%s'", v, err.msg, part);
}

static void test_value_from_sm(void **state)
{
        struct secret_ref r = ref(SM_ARN);
        assert_true(r.sm);
        assert_string_equal(r.id, SM_ARN);
        assert_string_equal(r.json_key, "");
        r = ref(SM_ARN ":password::");
        assert_true(r.sm);
        assert_string_equal(r.id, SM_ARN);
        assert_string_equal(r.json_key, "password");
        assert_string_equal(r.stage, "");
        assert_string_equal(r.version_id, "");
        r = ref(SM_ARN ":user:AWSPREVIOUS:");
        assert_string_equal(r.json_key, "user");
        assert_string_equal(r.stage, "AWSPREVIOUS");
        r = ref(SM_ARN "::" ":0123-v");
        assert_string_equal(r.json_key, "");
        assert_string_equal(r.version_id, "0123-v");
        bad_ref(SM_ARN ":onlykey", "invalid ARN format for the AWS Secrets Manager secret");
        bad_ref(SM_ARN ":a:b:c:d", "invalid ARN format");
        bad_ref("arn:aws:secretsmanager:us-east-1:000000000000:notsecret:x", "invalid ARN format");
        bad_ref("arn:aws:secretsmanager:us-east-1:000000000000:secret:", "invalid ARN format");
        bad_ref("arn:aws:s3:::bucket", "not an ARN of Secrets Manager or SSM");
        bad_ref("", "valueFrom");
}

static void test_value_from_ssm(void **state)
{
        struct secret_ref r = ref("arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host");
        assert_false(r.sm);
        assert_string_equal(r.id, "/app/db/host");
        r = ref("arn:aws:ssm:us-east-1:000000000000:parameter/plain");
        assert_string_equal(r.id, "plain");
        r = ref("/app/x");
        assert_false(r.sm);
        assert_string_equal(r.id, "/app/x");
        r = ref("name-only");
        assert_string_equal(r.id, "name-only");
        bad_ref("arn:aws:ssm:us-east-1:000000000000:document/x", "parameter/NAME");
        bad_ref("arn:aws:ssm:us-east-1:000000000000:parameter/", "parameter/NAME");
}

static void test_json_key(void **state)
{
        char *v = NULL;
        struct err err = { 0 };
        assert_int_equal(secret_json_key("{\"u\":\"me\",\"n\":5,\"o\":{\"a\":[1]}}", "u", &v, &err), 0);
        assert_string_equal(v, "me");
        free(v);
        assert_int_equal(secret_json_key("{\"u\":\"me\",\"n\":5,\"o\":{\"a\":[1]}}", "n", &v, &err), 0);
        assert_string_equal(v, "5");
        free(v);
        assert_int_equal(secret_json_key("{\"o\":{\"a\":[1]}}", "o", &v, &err), 0);
        assert_string_equal(v, "{\"a\":[1]}");
        free(v);
        assert_int_equal(secret_json_key("{\"u\":1}", "x", &v, &err), -ENOENT);
        assert_string_equal(err.msg, "retrieved secret from Secrets Manager did not contain json key x");
        assert_int_equal(secret_json_key("not json", "x", &v, &err), -ENOENT);
        assert_int_equal(secret_json_key("[1,2]", "x", &v, &err), -ENOENT);
}

static void test_names(void **state)
{
        struct err err = { 0 };
        char buf[64];
        assert_int_equal(sm_name_check("db/pass_1+=.@-", &err), 0);
        assert_true(sm_name_check("", &err) < 0);
        assert_true(sm_name_check("sp ace", &err) < 0);
        assert_string_equal(err.code, "InvalidParameterException");
        assert_int_equal(ssm_name_check("/a/b.c-d_e", &err), 0);
        assert_int_equal(ssm_name_check("plain", &err), 0);
        assert_true(ssm_name_check("a/b", &err) < 0);
        assert_string_equal(err.code, "ValidationException");
        assert_true(ssm_name_check("/aws/x", &err) < 0);
        assert_true(ssm_name_check("SSMx", &err) < 0);
        assert_true(ssm_name_check("/a//b", &err) < 0);
        assert_true(ssm_name_check("/a/", &err) < 0);
        assert_true(ssm_name_check("/a b", &err) < 0);
        ssm_arn("eu-west-1", "123", "/a/b", buf, sizeof buf);
        assert_string_equal(buf, "arn:aws:ssm:eu-west-1:123:parameter/a/b");
        ssm_arn("eu-west-1", "123", "x", buf, sizeof buf);
        assert_string_equal(buf, "arn:aws:ssm:eu-west-1:123:parameter/x");
        assert_true(ssm_name_from_arn_resource("parameter/a/b", buf, sizeof buf));
        assert_string_equal(buf, "/a/b");
        assert_false(ssm_name_from_arn_resource("parameterx", buf, sizeof buf));
}

static void test_tokens(void **state)
{
        struct err err = { 0 };
        long long off = -1;
        assert_int_equal(secrets_token_parse(NULL, "X", &off, &err), 0);
        assert_int_equal(off, 0);
        assert_int_equal(secrets_token_parse("o/12", "X", &off, &err), 0);
        assert_int_equal(off, 12);
        assert_true(secrets_token_parse("o/", "X", &off, &err) < 0);
        assert_true(secrets_token_parse("o/-1", "X", &off, &err) < 0);
        assert_true(secrets_token_parse("zz", "ValidationException", &off, &err) < 0);
        assert_string_equal(err.code, "ValidationException");
}

static json_t *j(const char *text)
{
        json_error_t jerr;
        json_t *v = json_loads(text, 0, &jerr);
        if (!v)
                fail_msg("bad test JSON %s: %s", text, jerr.text);
        return v;
}

static bool fm(const char *filters, json_t *secret)
{
        json_t *f = j(filters);
        struct err err = { 0 };
        bool ok;
        if (sm_filters_check(f, &err) < 0)
                fail_msg("filters %s refused: %s", filters, err.msg);
        ok = sm_filters_match(f, secret);
        json_decref(f);
        return ok;
}

static void test_filters(void **state)
{
        json_t *s = j("{\"Name\":\"prod/db\",\"Description\":\"The Database\",\"Tags\":[{\"Key\":\"team\",\"Value\":\"Blue\"}]}");
        json_t *bad;
        struct err err = { 0 };
        assert_true(fm("[{\"Key\":\"name\",\"Values\":[\"prod/\"]}]", s));
        assert_false(fm("[{\"Key\":\"name\",\"Values\":[\"Prod/\"]}]", s));      /* case-sensitive */
        assert_false(fm("[{\"Key\":\"name\",\"Values\":[\"db\"]}]", s));         /* a prefix */
        assert_true(fm("[{\"Key\":\"name\",\"Values\":[\"x\",\"prod\"]}]", s)); /* any value */
        assert_true(fm("[{\"Key\":\"name\",\"Values\":[\"!dev\"]}]", s));
        assert_false(fm("[{\"Key\":\"name\",\"Values\":[\"!prod\"]}]", s));
        assert_true(fm("[{\"Key\":\"description\",\"Values\":[\"the data\"]}]", s));
        assert_true(fm("[{\"Key\":\"tag-key\",\"Values\":[\"te\"]}]", s));
        assert_false(fm("[{\"Key\":\"tag-value\",\"Values\":[\"blue\"]}]", s));
        assert_true(fm("[{\"Key\":\"all\",\"Values\":[\"blue\"]}]", s));
        assert_false(fm("[{\"Key\":\"name\",\"Values\":[\"prod\"]},{\"Key\":\"tag-key\",\"Values\":[\"env\"]}]", s)); /* every filter */
        assert_false(fm("[{\"Key\":\"primary-region\",\"Values\":[\"us\"]}]", s));
        bad = j("[{\"Key\":\"colour\",\"Values\":[\"x\"]}]");
        assert_true(sm_filters_check(bad, &err) < 0);
        assert_string_equal(err.code, "InvalidParameterException");
        json_decref(bad);
        bad = j("[{\"Key\":\"name\",\"Values\":[]}]");
        assert_true(sm_filters_check(bad, &err) < 0);
        json_decref(bad);
        json_decref(s);
}

static bool pf(const char *filters, const char *name, const char *type)
{
        json_t *f = j(filters), *p = json_pack("{s:s, s:s}", "Name", name, "Type", type);
        struct err err = { 0 };
        bool ok;
        if (ssm_filters_check(f, &err) < 0)
                fail_msg("parameter filters %s refused: %s", filters, err.msg);
        ok = ssm_filters_match(f, p);
        json_decref(f);
        json_decref(p);
        return ok;
}

static void test_parameter_filters(void **state)
{
        json_t *bad;
        struct err err = { 0 };
        assert_true(pf("[{\"Key\":\"Name\",\"Values\":[\"/a/b\"]}]", "/a/b", "String"));
        assert_false(pf("[{\"Key\":\"Name\",\"Values\":[\"/a\"]}]", "/a/b", "String"));
        assert_true(pf("[{\"Key\":\"Name\",\"Option\":\"BeginsWith\",\"Values\":[\"/a\"]}]", "/a/b", "String"));
        assert_true(pf("[{\"Key\":\"Name\",\"Option\":\"Contains\",\"Values\":[\"b\"]}]", "/a/b", "String"));
        assert_true(pf("[{\"Key\":\"Type\",\"Values\":[\"String\",\"SecureString\"]}]", "x", "SecureString"));
        assert_false(pf("[{\"Key\":\"Type\",\"Values\":[\"StringList\"]}]", "x", "String"));
        assert_true(pf("[{\"Key\":\"Path\",\"Values\":[\"/a\"]}]", "/a/b", "String"));
        assert_false(pf("[{\"Key\":\"Path\",\"Values\":[\"/a\"]}]", "/a/b/c", "String"));
        assert_true(pf("[{\"Key\":\"Path\",\"Option\":\"Recursive\",\"Values\":[\"/a/\"]}]", "/a/b/c", "String"));
        assert_false(pf("[{\"Key\":\"Path\",\"Option\":\"Recursive\",\"Values\":[\"/a\"]}]", "/ab/c", "String"));
        assert_true(pf("[{\"Key\":\"Path\",\"Values\":[\"/\"]}]", "/top", "String"));
        assert_false(pf("[{\"Key\":\"Path\",\"Values\":[\"/\"]}]", "plain", "String"));
        assert_true(pf("[{\"Key\":\"Tier\",\"Values\":[\"Standard\"]}]", "x", "String"));
        bad = j("[{\"Key\":\"KeyId\",\"Values\":[\"k\"]}]");
        assert_true(ssm_filters_check(bad, &err) < 0);
        assert_string_equal(err.code, "ValidationException");
        json_decref(bad);
        bad = j("[{\"Key\":\"Type\",\"Option\":\"BeginsWith\",\"Values\":[\"S\"]}]");
        assert_true(ssm_filters_check(bad, &err) < 0);
        json_decref(bad);
}

static void test_seal(void **state)
{
        unsigned char key[SEAL_KEY_BYTES], other[SEAL_KEY_BYTES];
        struct err err = { 0 };
        char *sealed = NULL, *sealed2 = NULL, *plain = NULL;
        memset(key, 7, sizeof key);
        memset(other, 8, sizeof other);
        assert_int_equal(seal_encrypt(key, "secrets/sm/a", "hunter2", &sealed, &err), 0);
        assert_true(strncmp(sealed, SEAL_PREFIX, strlen(SEAL_PREFIX)) == 0);
        assert_null(strstr(sealed, "hunter2"));
        assert_int_equal(seal_encrypt(key, "secrets/sm/a", "hunter2", &sealed2, &err), 0);
        assert_string_not_equal(sealed, sealed2);       /* a fresh IV each time */
        assert_int_equal(seal_decrypt(key, "secrets/sm/a", sealed, &plain, &err), 0);
        assert_string_equal(plain, "hunter2");
        free(plain);
        plain = NULL;
        assert_int_equal(seal_decrypt(key, "secrets/sm/b", sealed, &plain, &err), -EBADMSG);   /* another record */
        assert_int_equal(seal_decrypt(other, "secrets/sm/a", sealed, &plain, &err), -EBADMSG); /* another key */
        sealed[strlen(sealed) - 3] = sealed[strlen(sealed) - 3] == 'A' ? 'B' : 'A';
        assert_int_equal(seal_decrypt(key, "secrets/sm/a", sealed, &plain, &err), -EBADMSG);   /* changed */
        assert_int_equal(seal_decrypt(key, "secrets/sm/a", SEAL_PREFIX "!!", &plain, &err), -EBADMSG);
        assert_int_equal(seal_decrypt(key, "x", "plain old", &plain, &err), 0);               /* written before sealing */
        assert_string_equal(plain, "plain old");
        free(plain);
        free(sealed);
        assert_int_equal(seal_encrypt(key, "k", "", &sealed, &err), 0);
        assert_int_equal(seal_decrypt(key, "k", sealed, &plain, &err), 0);
        assert_string_equal(plain, "");
        free(plain);
        free(sealed);
        free(sealed2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_value_from_sm), cmocka_unit_test(test_value_from_ssm), cmocka_unit_test(test_json_key),
                cmocka_unit_test(test_names),         cmocka_unit_test(test_tokens),         cmocka_unit_test(test_seal),
                cmocka_unit_test(test_filters),       cmocka_unit_test(test_parameter_filters),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
