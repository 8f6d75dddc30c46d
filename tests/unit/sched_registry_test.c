/* sched_registry_test.c: the pure parts of the registry client: WWW-Authenticate challenges, token
 * answers and error bodies (regproto), config.json credentials and base64 (regauth), the endpoint
 * list with mirrors and insecure registries (regendpoint). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../scheduler/images/ref.h"
#include "../../scheduler/images/regauth.h"
#include "../../scheduler/images/regendpoint.h"
#include "../../scheduler/images/regproto.h"
#include "../../scheduler/images/registry.h"

/* ---- WWW-Authenticate ---- */

static void test_challenge_docker_hub(void **state)
{
        struct reg_challenge c;
        assert_int_equal(reg_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                                             "scope=\"repository:library/nginx:pull\"",
                                             &c),
                         0);
        assert_int_equal(c.scheme, REGAUTH_BEARER);
        assert_string_equal(c.realm, "https://auth.docker.io/token");
        assert_string_equal(c.service, "registry.docker.io");
        assert_string_equal(c.scope, "repository:library/nginx:pull");
        reg_challenge_done(&c);
}

static void test_challenge_quoting(void **state)
{
        struct reg_challenge c;
        /* commas and an escaped quote inside quotes, spaces around '=' and ',', keys in any case, a
         * scope listing two repositories (as ghcr.io does) */
        assert_int_equal(reg_challenge_parse("bearer  Realm = \"https://t.example/token?a=1,b=2\" ,  SERVICE=\"s \\\"q\\\"\","
                                             "scope=\"repository:a/b:pull,push repository:c:pull\", error=\"insufficient_scope\"",
                                             &c),
                         0);
        assert_int_equal(c.scheme, REGAUTH_BEARER);
        assert_string_equal(c.realm, "https://t.example/token?a=1,b=2");
        assert_string_equal(c.service, "s \"q\"");
        assert_string_equal(c.scope, "repository:a/b:pull,push repository:c:pull");
        reg_challenge_done(&c);

        /* unquoted token values */
        assert_int_equal(reg_challenge_parse("Bearer realm=https://x/token,service=reg", &c), 0);
        assert_string_equal(c.realm, "https://x/token");
        assert_string_equal(c.service, "reg");
        assert_null(c.scope);
        reg_challenge_done(&c);
}

static void test_challenge_basic_and_several(void **state)
{
        struct reg_challenge c;
        assert_int_equal(reg_challenge_parse("Basic realm=\"ecsbox-test\"", &c), 0);
        assert_int_equal(c.scheme, REGAUTH_BASIC);
        assert_string_equal(c.realm, "ecsbox-test");
        reg_challenge_done(&c);

        /* Bearer preferred over Basic, whatever the order */
        assert_int_equal(reg_challenge_parse("Basic realm=\"r\", Bearer realm=\"https://t/\",service=\"s\"", &c), 0);
        assert_int_equal(c.scheme, REGAUTH_BEARER);
        assert_string_equal(c.realm, "https://t/");
        reg_challenge_done(&c);

        /* unknown schemes are skipped, a bare scheme is fine */
        assert_int_equal(reg_challenge_parse("Negotiate, Basic", &c), 0);
        assert_int_equal(c.scheme, REGAUTH_BASIC);
        assert_null(c.realm);
        reg_challenge_done(&c);
        assert_int_equal(reg_challenge_parse("Digest realm=\"x\", nonce=\"y\"", &c), 0);
        assert_int_equal(c.scheme, REGAUTH_NONE);
        reg_challenge_done(&c);
        assert_int_equal(reg_challenge_parse("", &c), 0);
        assert_int_equal(c.scheme, REGAUTH_NONE);
}

static void test_challenge_malformed(void **state)
{
        struct reg_challenge c;
        assert_int_equal(reg_challenge_parse("Bearer realm=\"https://unterminated", &c), -EINVAL);
        assert_int_equal(reg_challenge_parse("Bearer realm=\"a\" service=\"b\"", &c), -EINVAL);
        assert_int_equal(reg_challenge_parse("Bearer =\"a\"", &c), -EINVAL);
        assert_int_equal(reg_challenge_parse("\"Bearer\"", &c), -EINVAL);
}

/* ---- token answers and error bodies ---- */

static void test_token_parse(void **state)
{
        struct err e = { 0 };
        char *t = NULL;
        const char *a = "{\"token\":\"T1\",\"access_token\":\"T2\",\"expires_in\":300}";
        const char *b = "{\"access_token\":\"T2\"}";

        assert_int_equal(reg_token_parse(a, strlen(a), &t, &e), 0);
        assert_string_equal(t, "T1");
        free(t);
        assert_int_equal(reg_token_parse(b, strlen(b), &t, &e), 0);
        assert_string_equal(t, "T2");
        free(t);
        assert_int_equal(reg_token_parse("{\"token\":\"\"}", 12, &t, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "neither \"token\" nor \"access_token\""));
        assert_int_equal(reg_token_parse("<html>", 6, &t, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "not JSON"));
}

static void test_error_parse(void **state)
{
        char code[64], msg[128];
        const char *a = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\",\"detail\":{\"Tag\":\"x\"}},"
                        "{\"code\":\"OTHER\"}]}";
        const char *b = "{\"details\":\"incorrect username or password\"}";

        reg_error_parse(a, strlen(a), code, sizeof code, msg, sizeof msg);
        assert_string_equal(code, "MANIFEST_UNKNOWN");
        assert_string_equal(msg, "manifest unknown");
        reg_error_parse(b, strlen(b), code, sizeof code, msg, sizeof msg);
        assert_string_equal(code, "");
        assert_string_equal(msg, "incorrect username or password");
        reg_error_parse("404 page not found\n", 19, code, sizeof code, msg, sizeof msg);
        assert_string_equal(code, "");
        assert_string_equal(msg, "");
        reg_error_parse(NULL, 0, code, sizeof code, msg, sizeof msg);
        assert_string_equal(msg, "");
        reg_error_parse("{\"errors\":[]}", 13, code, sizeof code, msg, sizeof msg);
        assert_string_equal(code, "");
}

/* ---- base64 and config.json ---- */

static void test_b64decode(void **state)
{
        char *s = NULL;
        size_t n = 0;

        assert_int_equal(regauth_b64decode("dXNlcjpwYXNz", &s, &n), 0);     /* user:pass */
        assert_string_equal(s, "user:pass");
        assert_int_equal(n, 9);
        free(s);
        assert_int_equal(regauth_b64decode("YWxpY2U6czNjcmV0", &s, &n), 0); /* alice:s3cret */
        assert_string_equal(s, "alice:s3cret");
        free(s);
        /* padding kept or left out */
        assert_int_equal(regauth_b64decode("YTpi", &s, &n), 0);
        assert_string_equal(s, "a:b");
        free(s);
        assert_int_equal(regauth_b64decode("YTpiYw==", &s, &n), 0);
        assert_string_equal(s, "a:bc");
        assert_int_equal(n, 4);
        free(s);
        assert_int_equal(regauth_b64decode("YTpiYw", &s, &n), 0);
        assert_string_equal(s, "a:bc");
        free(s);
        assert_int_equal(regauth_b64decode("YTpiYzE=", &s, &n), 0);
        assert_string_equal(s, "a:bc1");
        assert_int_equal(n, 5);
        free(s);
        assert_int_equal(regauth_b64decode("", &s, &n), 0);
        assert_int_equal(n, 0);
        free(s);
        /* not base64 */
        assert_int_equal(regauth_b64decode("YTpi*", &s, &n), -EINVAL);
        assert_int_equal(regauth_b64decode("Y", &s, &n), -EINVAL);
        assert_int_equal(regauth_b64decode("YT==YTpi", &s, &n), -EINVAL);
}

static void check_creds(const char *doc, const char *host, const char *user, const char *pass)
{
        struct reg_creds c = { 0 };
        struct err e = { 0 };
        int r = regauth_lookup_buf(doc, strlen(doc), host, &c, &e);
        if (!user) {
                assert_int_equal(r, 0);
                assert_null(c.user);
                return;
        }
        if (r != 1)
                fail_msg("%s in %s: %d %s", host, doc, r, e.msg);
        assert_string_equal(c.user, user);
        assert_string_equal(c.pass, pass);
        reg_creds_done(&c);
}

static void test_auths_lookup(void **state)
{
        /* as `docker login` writes them: Docker Hub under its v1 URL, others under host[:port] */
        const char *doc = "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
                          "\"127.0.0.1:5000\":{\"auth\":\"YWxpY2U6czNjcmV0\"},"
                          "\"https://ghcr.io/v2/\":{\"auth\":\"Z2g6cGE6c3M=\"},"
                          "\"quay.io\":{\"username\":\"q\",\"password\":\"qpw\"},"
                          "\"helper.example\":{},"
                          "\"id.example\":{\"identitytoken\":\"x\"}},"
                          "\"credHelpers\":{\"helper.example\":\"secretservice\"}}";

        check_creds(doc, "docker.io", "hub", "hubpw");
        check_creds(doc, "127.0.0.1:5000", "alice", "s3cret");
        check_creds(doc, "ghcr.io", "gh", "pa:ss");     /* scheme and path dropped; ':' in the password */
        check_creds(doc, "quay.io", "q", "qpw");
        check_creds(doc, "helper.example", NULL, NULL); /* a credential helper's: anonymous */
        check_creds(doc, "id.example", NULL, NULL);
        check_creds(doc, "127.0.0.1:5001", NULL, NULL); /* the port is part of the key */
        check_creds(doc, "127.0.0.1", NULL, NULL);
        check_creds("{}", "docker.io", NULL, NULL);
        check_creds("{\"auths\":{}}", "docker.io", NULL, NULL);
        /* Docker Hub's other spellings */
        check_creds("{\"auths\":{\"index.docker.io\":{\"auth\":\"YTpi\"}}}", "docker.io", "a", "b");
        check_creds("{\"auths\":{\"registry-1.docker.io\":{\"auth\":\"YTpi\"}}}", "docker.io", "a", "b");
        check_creds("{\"auths\":{\"https://docker.io\":{\"auth\":\"YTpi\"}}}", "docker.io", "a", "b");
        /* an exact key wins over a spelling that normalises to the same host */
        check_creds("{\"auths\":{\"https://r.example/v2/\":{\"auth\":\"eDp5\"},\"r.example\":{\"auth\":\"YTpi\"}}}", "r.example", "a",
                    "b");
}

static void check_bad_auths(const char *doc, const char *needle)
{
        struct reg_creds c = { 0 };
        struct err e = { 0 };
        assert_int_equal(regauth_lookup_buf(doc, strlen(doc), "r.example", &c, &e), -EINVAL);
        if (!strstr(e.msg, needle))
                fail_msg("'%s': message '%s' lacks '%s'", doc, e.msg, needle);
        assert_null(c.user);
}

static void test_auths_bad(void **state)
{
        check_bad_auths("{\"auths\":{\"r.example\":{\"auth\":\"!!!\"}}}", "auths entry 'r.example': \"auth\" is not base64");
        check_bad_auths("{\"auths\":{\"r.example\":{\"auth\":\"bm9jb2xvbg==\"}}}", "not base64 of user:password"); /* "nocolon" */
        check_bad_auths("{\"auths\":{\"r.example\":\"x\"}}", "auths entry 'r.example' is not an object");
        check_bad_auths("{\"auths\":[]}", "\"auths\" is not an object");
        check_bad_auths("{\"auths\":", "not JSON: line 1");
}

static void test_auths_file(void **state)
{
        char dir[] = "/tmp/sched_registry_test.XXXXXX", path[256];
        struct reg_creds c = { 0 };
        struct err e = { 0 };
        const char *doc = "{\"auths\":{\"r.example\":{\"auth\":\"YTpi\"}}}";
        FILE *f;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/config.json", dir);
        /* no file: anonymous */
        assert_int_equal(regauth_lookup(path, "r.example", &c, &e), 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(doc, f);
        fclose(f);
        assert_int_equal(regauth_lookup(path, "r.example", &c, &e), 1);
        assert_string_equal(c.user, "a");
        reg_creds_done(&c);
        /* the default place: $DOCKER_CONFIG/config.json */
        setenv("DOCKER_CONFIG", dir, 1);
        assert_int_equal(regauth_lookup(NULL, "r.example", &c, &e), 1);
        reg_creds_done(&c);
        char *p = regauth_path(NULL);
        assert_string_equal(p, path);
        free(p);
        unsetenv("DOCKER_CONFIG");
        /* a bad file names itself */
        f = fopen(path, "we");
        fputs("{\"auths\":{\"r.example\":{\"auth\":\"%%\"}}}", f);
        fclose(f);
        assert_int_equal(regauth_lookup(path, "r.example", &c, &e), -EINVAL);
        assert_non_null(strstr(e.msg, path));
        assert_non_null(strstr(e.msg, "is not base64"));
        unlink(path);
        rmdir(dir);
}

/* ---- endpoints ---- */

static void parse_ref(const char *s, struct image_ref *r)
{
        struct err e = { 0 };
        assert_int_equal(image_ref_parse(s, r, &e), 0);
}

static void check_ep(const struct reg_endpoint *ep, const char *base, const char *host, bool mirror, bool verify)
{
        assert_string_equal(ep->base, base);
        assert_string_equal(ep->host, host);
        assert_int_equal(ep->mirror, mirror);
        assert_int_equal(ep->verify_tls, verify);
}

static void test_endpoints(void **state)
{
        const char *const hub_mirrors[] = { "https://mirror.gcr.io/", "http://127.0.0.1:5000", NULL };
        const char *const other_mirrors[] = { "http://10.0.0.1:5000", NULL };
        const struct registry_mirror mirrors[] = { { "docker.io", hub_mirrors }, { "quay.io", other_mirrors } };
        const char *const insecure[] = { "127.0.0.1:5000", "mirror.example", NULL };
        struct registry_config none = { 0 };
        struct registry_config cfg = { .mirrors = mirrors, .n_mirrors = 2, .insecure = insecure };
        struct reg_endpoint *v;
        struct image_ref r;
        struct err e = { 0 };
        size_t n;

        /* HTTPS, verified */
        parse_ref("nginx", &r);
        assert_int_equal(reg_endpoints_build(&none, &r, &v, &n, &e), 0);
        assert_int_equal(n, 1);
        check_ep(&v[0], "https://registry-1.docker.io", "registry-1.docker.io", false, true);
        reg_endpoints_free(v, n);
        /* Docker Hub's mirrors in order, then Docker Hub */
        assert_int_equal(reg_endpoints_build(&cfg, &r, &v, &n, &e), 0);
        assert_int_equal(n, 3);
        check_ep(&v[0], "https://mirror.gcr.io", "mirror.gcr.io", true, true);
        check_ep(&v[1], "http://127.0.0.1:5000", "127.0.0.1:5000", true, false);
        check_ep(&v[2], "https://registry-1.docker.io", "registry-1.docker.io", false, true);
        reg_endpoints_free(v, n);
        image_ref_done(&r);

        /* an insecure registry: HTTPS unverified, then HTTP; another registry's mirrors are not used */
        parse_ref("127.0.0.1:5000/a/b:c", &r);
        assert_int_equal(reg_endpoints_build(&cfg, &r, &v, &n, &e), 0);
        assert_int_equal(n, 2);
        check_ep(&v[0], "https://127.0.0.1:5000", "127.0.0.1:5000", false, false);
        check_ep(&v[1], "http://127.0.0.1:5000", "127.0.0.1:5000", false, false);
        reg_endpoints_free(v, n);
        assert_true(reg_insecure(&cfg, "127.0.0.1:5000"));
        assert_false(reg_insecure(&cfg, "127.0.0.1:5001"));
        assert_false(reg_insecure(&none, "127.0.0.1:5000"));
        image_ref_done(&r);

        /* localhost is not implied */
        parse_ref("localhost:5000/x", &r);
        assert_int_equal(reg_endpoints_build(&cfg, &r, &v, &n, &e), 0);
        assert_int_equal(n, 1);
        check_ep(&v[0], "https://localhost:5000", "localhost:5000", false, true);
        reg_endpoints_free(v, n);
        image_ref_done(&r);

        /* a mirror with a path; an https mirror on an insecure host is not verified */
        const char *const path_mirror[] = { "https://mirror.example/cache/hub//", NULL };
        const struct registry_mirror pm[] = { { "quay.io", path_mirror } };
        struct registry_config cfg2 = { .mirrors = pm, .n_mirrors = 1, .insecure = insecure };
        parse_ref("quay.io/x/y", &r);
        assert_int_equal(reg_endpoints_build(&cfg2, &r, &v, &n, &e), 0);
        assert_int_equal(n, 2);
        check_ep(&v[0], "https://mirror.example/cache/hub", "mirror.example", true, false);
        check_ep(&v[1], "https://quay.io", "quay.io", false, true);
        reg_endpoints_free(v, n);

        /* bad mirror URLs are refused, naming the mirror */
        const char *bad[] = { "mirror.gcr.io", "ftp://x", "https://", "https:///path", "http://a b", "http://u@host" };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                const char *const one[] = { bad[i], NULL };
                const struct registry_mirror bm[] = { { "quay.io", one } };
                struct registry_config c3 = { .mirrors = bm, .n_mirrors = 1 };
                assert_int_equal(reg_endpoints_build(&c3, &r, &v, &n, &e), -EINVAL);
                assert_string_equal(e.code, "InvalidParameterException");
                if (!strstr(e.msg, bad[i]))
                        fail_msg("message '%s' does not name '%s'", e.msg, bad[i]);
        }
        image_ref_done(&r);
}

/* The names ListPulls and the CLI use for a layer's states (docs/images.md). */
static void test_layer_state_names(void **state)
{
        static const char *const want[] = { "waiting", "downloading", "verifying", "downloaded", "extracting", "done", "exists" };
        (void) state;
        for (int s = REG_LAYER_WAITING; s <= REG_LAYER_EXISTS; s++)
                assert_string_equal(registry_layer_state_name((enum registry_layer_state) s), want[s]);
        assert_string_equal(registry_layer_state_name((enum registry_layer_state) 99), "?");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_challenge_docker_hub), cmocka_unit_test(test_challenge_quoting),
                cmocka_unit_test(test_challenge_basic_and_several), cmocka_unit_test(test_challenge_malformed),
                cmocka_unit_test(test_token_parse), cmocka_unit_test(test_error_parse),
                cmocka_unit_test(test_b64decode), cmocka_unit_test(test_auths_lookup),
                cmocka_unit_test(test_auths_bad), cmocka_unit_test(test_auths_file),
                cmocka_unit_test(test_endpoints), cmocka_unit_test(test_layer_state_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
