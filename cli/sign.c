/* sign.c: SigV4 for the command line's calls to ecsboxd over TCP (lib/sigv4.c, keys from the
 * shared-credentials file: AWS_SHARED_CREDENTIALS_FILE or /var/lib/ecsbox/credentials, profile
 * AWS_PROFILE or "ecsbox", region AWS_REGION, AWS_DEFAULT_REGION or us-east-1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/credentials.h"
#include "ecsbox/sigv4.h"
#include "sign.h"

#define MAX_HEADERS 16

/* Host as curl sends it ("127.0.0.1:5080"; the port left out when it is the scheme's) and the path. */
static int url_parts(const char *url, char **ret_host, char **ret_path)
{
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL, *path = NULL;
        int r = -1;
        if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
                if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port) {
                        if (asprintf(ret_host, "%s:%s", host, port) >= 0)
                                r = 0;
                } else if ((*ret_host = strdup(host)))
                        r = 0;
                if (r == 0 && !(*ret_path = strdup(path))) {
                        free(*ret_host);
                        r = -1;
                }
        }
        curl_free(host);
        curl_free(port);
        curl_free(path);
        curl_url_cleanup(u);
        return r;
}

/* The names and values of curl's header list ("Name: value"), split into hs (pointing into copies). */
static size_t split_headers(const struct curl_slist *l, struct sigv4_header *hs, char **copies)
{
        size_t n = 0;
        for (; l && n < MAX_HEADERS; l = l->next) {
                char *c = strdup(l->data), *colon;
                if (!c || !(colon = strchr(c, ':'))) {
                        free(c);
                        continue;
                }
                *colon = '\0';
                colon++;
                while (*colon == ' ')
                        colon++;
                copies[n] = c;
                hs[n++] = (struct sigv4_header) { c, colon };
        }
        return n;
}

static int add_header(struct curl_slist **headers, const char *name, const char *value)
{
        _cleanup_free_ char *line = NULL;
        struct curl_slist *n;
        if (asprintf(&line, "%s: %s", name, value) < 0) {
                line = NULL;
                return -1;
        }
        if (!(n = curl_slist_append(*headers, line)))
                return -1;
        *headers = n;
        return 0;
}

/* The SigV4 service of the request's X-Amz-Target, as ecsboxd wants it (docs/ecsboxd.md). */
static const char *service_of(const struct sigv4_header *hs, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const char *v = hs[i].value;
                if (strcasecmp(hs[i].name, "X-Amz-Target") != 0 || !v)
                        continue;
                while (*v == ' ')
                        v++;
                if (strncmp(v, "secretsmanager.", 15) == 0)
                        return "secretsmanager";
                if (strncmp(v, "AmazonSSM.", 10) == 0)
                        return "ssm";
                if (strncmp(v, "Logs_20140328.", 14) == 0)
                        return "logs";
        }
        return "ecs";
}

static int sign_with(const struct cred_key *k, const char *region, const char *url, struct curl_slist **headers,
                     const char *body, size_t body_len)
{
        _cleanup_free_ char *host = NULL, *path = NULL, *auth = NULL;
        char amz_date[SIGV4_AMZ_DATE_LEN + 1], *copies[MAX_HEADERS] = { 0 };
        struct sigv4_header hs[MAX_HEADERS];
        struct err e = { 0 };
        size_t n;
        int r = -1;

        if (url_parts(url, &host, &path) < 0) {
                fprintf(stderr, "ecsbox: cannot sign the request: '%s' is no URL\n", url);
                return -1;
        }
        sigv4_format_amz_date((int64_t) time(NULL), amz_date);
        if (add_header(headers, "Host", host) < 0 || add_header(headers, "X-Amz-Date", amz_date) < 0)
                return -1;
        n = split_headers(*headers, hs, copies);
        struct sigv4_msg m = { "POST", path, NULL, hs, n, body, body_len };
        if (sigv4_sign(&m, k->akid, k->secret, region, service_of(hs, n), amz_date, &auth, &e) < 0)
                fprintf(stderr, "ecsbox: cannot sign the request: %s\n", e.msg);
        else
                r = add_header(headers, "Authorization", auth);
        for (size_t i = 0; i < n; i++)
                free(copies[i]);
        return r;
}

int cli_sign(const char *url, struct curl_slist **headers, const char *body, size_t body_len)
{
        const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE") ?: CLI_CREDENTIALS_DEFAULT;
        const char *profile = getenv("AWS_PROFILE") ?: CRED_DEFAULT_PROFILE;
        const char *region = getenv("AWS_REGION") ?: getenv("AWS_DEFAULT_REGION") ?: "us-east-1";
        struct credentials c = { 0 };
        const struct cred_key *k;
        struct err e = { 0 };
        int r;

        if (credentials_load(path, &c, &e) < 0) {
                fprintf(stderr, "ecsbox: cannot sign the request to %s: %s (set AWS_SHARED_CREDENTIALS_FILE, or use "
                        "the Unix socket as root)\n", url, e.msg);
                return -1;
        }
        if (!(k = credentials_profile(&c, profile))) {
                fprintf(stderr, "ecsbox: cannot sign the request: credentials file '%s' has no profile '%s' with both "
                        "keys\n", path, profile);
                credentials_free(&c);
                return -1;
        }
        r = sign_with(k, region, url, headers, body, body_len);
        credentials_free(&c);
        return r;
}
