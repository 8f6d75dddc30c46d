/* secret.c: `ecsbox secret put|get|ls|rm`, thin wrappers of ecsboxd's Secrets Manager subset
 * (secretsmanager.CreateSecret/PutSecretValue, GetSecretValue, ListSecrets, DeleteSecret). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsboxd.h"
#include "exitcode.h"
#include "secret.h"

#define TARGET "secretsmanager."

static int call(const char *endpoint, const char *op, json_t *req, json_t **ret)
{
        char target[64];
        snprintf(target, sizeof target, TARGET "%s", op);
        return cli_ecs_call_or_print(endpoint, target, req, ret);
}

void secret_usage(FILE *f)
{
        fprintf(f, "Usage: ecsbox secret put NAME VALUE   (creates the secret, or a new AWSCURRENT version;\n"
                   "                                      VALUE - reads it from stdin, one final newline dropped)\n"
                   "       ecsbox secret get NAME         (its current value)\n"
                   "       ecsbox secret ls\n"
                   "       ecsbox secret rm NAME          (at once, without a recovery window)\n");
}

static int put(const char *endpoint, const char *name, const char *value)
{
        _cleanup_json_ json_t *req = json_pack("{s:s, s:s}", "Name", name, "SecretString", value), *ans = NULL;
        int st = cli_ecs_call(endpoint, TARGET "CreateSecret", req, &ans);
        if (st < 0)
                return EXIT_OTHER;
        if (st == 200) {
                printf("%s\n", json_string_value(json_object_get(ans, "ARN")) ?: "");
                return 0;
        }
        if (strcmp(json_string_value(json_object_get(ans, "__type")) ?: "", "ResourceExistsException") != 0) {
                json_decref(ans);
                ans = NULL;
                return call(endpoint, "CreateSecret", req, &ans);   /* prints the error */
        }
        json_decref(ans);
        ans = NULL;
        {
                _cleanup_json_ json_t *preq = json_pack("{s:s, s:s}", "SecretId", name, "SecretString", value);
                int r = call(endpoint, "PutSecretValue", preq, &ans);
                if (r == 0)
                        printf("%s\n", json_string_value(json_object_get(ans, "ARN")) ?: "");
                return r;
        }
}

static int get(const char *endpoint, const char *name)
{
        _cleanup_json_ json_t *req = json_pack("{s:s}", "SecretId", name), *ans = NULL;
        int r = call(endpoint, "GetSecretValue", req, &ans);
        if (r != 0)
                return r;
        if (json_object_get(ans, "SecretString"))
                printf("%s\n", json_string_value(json_object_get(ans, "SecretString")));
        else
                printf("%s\n", json_string_value(json_object_get(ans, "SecretBinary")) ?: "");   /* base64 */
        return 0;
}

static int ls(const char *endpoint)
{
        _cleanup_json_ json_t *token = NULL;
        printf("%-40s %s\n", "NAME", "ARN");
        for (;;) {
                _cleanup_json_ json_t *req = json_object(), *ans = NULL;
                json_t *e;
                size_t i;
                int r;
                if (token)
                        json_object_set(req, "NextToken", token);
                if ((r = call(endpoint, "ListSecrets", req, &ans)) != 0)
                        return r;
                json_array_foreach(json_object_get(ans, "SecretList"), i, e)
                        printf("%-40s %s\n", json_string_value(json_object_get(e, "Name")) ?: "", json_string_value(json_object_get(e, "ARN")) ?: "");
                json_decref(token);
                token = json_incref(json_object_get(ans, "NextToken"));
                if (!token)
                        return 0;
        }
}

static int rm(const char *endpoint, const char *name)
{
        _cleanup_json_ json_t *req = json_pack("{s:s, s:b}", "SecretId", name, "ForceDeleteWithoutRecovery", 1), *ans = NULL;
        return call(endpoint, "DeleteSecret", req, &ans);
}

#define VALUE_MAX 65536

/* The value from stdin (for "-": not on the command line, where ps shows it); NULL when too long. */
static char *read_value(void)
{
        char *buf = malloc(VALUE_MAX + 2);
        size_t n = 0, k;
        if (!buf)
                return NULL;
        while (n <= VALUE_MAX && (k = fread(buf + n, 1, VALUE_MAX + 1 - n, stdin)) > 0)
                n += k;
        if (n > VALUE_MAX) {
                free(buf);
                return NULL;
        }
        if (n && buf[n - 1] == '\n')
                n--;
        buf[n] = '\0';
        return buf;
}

int cli_secret(const char *endpoint, int argc, char **argv)
{
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "help"))) {
                secret_usage(stdout);
                return 0;
        }
        if (argc == 3 && !strcmp(argv[0], "put") && !strcmp(argv[2], "-")) {
                _cleanup_free_ char *v = read_value();
                if (!v) {
                        fprintf(stderr, "ecsbox: the secret value on stdin must be at most %d bytes\n", VALUE_MAX);
                        return EXIT_USAGE;
                }
                return put(endpoint, argv[1], v);
        }
        if (argc == 3 && !strcmp(argv[0], "put"))
                return put(endpoint, argv[1], argv[2]);
        if (argc == 2 && !strcmp(argv[0], "get"))
                return get(endpoint, argv[1]);
        if (argc == 1 && !strcmp(argv[0], "ls"))
                return ls(endpoint);
        if (argc == 2 && !strcmp(argv[0], "rm"))
                return rm(endpoint, argv[1]);
        secret_usage(stderr);
        return EXIT_USAGE;
}
