/* ecsboxd.c: the command line's ECS API calls to ecsboxd (HTTP through libcurl, ECS JSON 1.1). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ecsbox/cleanup.h"
#include "ecsboxd.h"
#include "exitcode.h"
#include "sign.h"

#define TARGET "AmazonEC2ContainerServiceV20141113."

struct buf {
        char *data;
        size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
        struct buf *b = userdata;
        char *d = realloc(b->data, b->len + size * n + 1);
        if (!d)
                return 0;
        memcpy(d + b->len, p, size * n);
        b->len += size * n;
        d[b->len] = '\0';
        b->data = d;
        return size * n;
}

int cli_ecs_call(const char *endpoint, const char *op, json_t *req, json_t **ret)
{
        _cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
        char target[160], errbuf[CURL_ERROR_SIZE] = "";
        struct curl_slist *h = NULL;
        struct buf out = { 0 };
        long status = 0;
        CURL *c;
        CURLcode rc;
        json_error_t jerr;

        c = curl_easy_init();
        if (!c || !body)
                return -1;
        /* an op with a prefix names another service on the endpoint (EcsboxImages_20261201.ListImages) */
        if (strchr(op, '.'))
                snprintf(target, sizeof target, "X-Amz-Target: %s", op);
        else
                snprintf(target, sizeof target, "X-Amz-Target: " TARGET "%s", op);
        h = curl_slist_append(h, target);
        h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
        if (endpoint[0] == '/') {
                curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, endpoint);
                curl_easy_setopt(c, CURLOPT_URL, "http://localhost/");
        } else {
                /* over TCP ecsboxd checks signatures; its Unix socket admits root as it is */
                if (cli_sign(endpoint, &h, body, strlen(body)) < 0) {
                        curl_slist_free_all(h);
                        curl_easy_cleanup(c);
                        return -1;
                }
                curl_easy_setopt(c, CURLOPT_URL, endpoint);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (rc != CURLE_OK) {
                fprintf(stderr, "ecsbox: cannot reach ecsboxd at '%s': %s\n", endpoint, errbuf[0] ? errbuf : curl_easy_strerror(rc));
                free(out.data);
                return -1;
        }
        *ret = out.data ? json_loads(out.data, 0, &jerr) : json_object();
        if (!*ret) {
                fprintf(stderr, "ecsbox: ecsboxd answered %ld with a body that is not JSON: %.200s\n", status, out.data);
                free(out.data);
                return -1;
        }
        free(out.data);
        return (int) status;
}

int cli_ecs_call_or_print(const char *endpoint, const char *op, json_t *req, json_t **ret)
{
        int st = cli_ecs_call(endpoint, op, req, ret);
        if (st < 0)
                return EXIT_OTHER;
        if (st != 200) {
                const char *type = json_string_value(json_object_get(*ret, "__type")) ?: "ServerException";
                const char *hash = strrchr(type, '#');
                fprintf(stderr, "\nAn error occurred (%s) when calling the %s operation: %s\n", hash ? hash + 1 : type, op,
                        json_string_value(json_object_get(*ret, "message")) ?: json_string_value(json_object_get(*ret, "Message")) ?: "");
                json_decref(*ret);
                *ret = NULL;
                return EXIT_SERVICE;
        }
        return 0;
}

const char *cli_task_detail(json_t *task, const char *name)
{
        json_t *att, *d;
        size_t i, k;
        json_array_foreach(json_object_get(task, "attachments"), i, att)
                json_array_foreach(json_object_get(att, "details"), k, d)
                        if (!strcmp(json_string_value(json_object_get(d, "name")) ?: "", name))
                                return json_string_value(json_object_get(d, "value"));
        return NULL;
}
