/* fuzz_sched_ecs_request.c: libFuzzer target for ecsboxd's request decoders, the part of the ECS API
 * that reads what a client sends before anything is done: the first byte picks the decoder
 * (RunTask, CreateService, UpdateService, RegisterTaskDefinition, Describe*, List* paging,
 * deploymentConfiguration, Tag/UntagResource, ListTagsForResource, the account settings,
 * UpdateCluster(Settings), DeleteTaskDefinitions, Get/UpdateTaskProtection, resource ARNs), the
 * rest is the JSON body. The cluster query language and placement
 * strategies are fuzzed from the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "../../scheduler/ecs/account.h"
#include "../../scheduler/ecs/arn.h"
#include "../../scheduler/ecs/cluster.h"
#include "../../scheduler/ecs/cql.h"
#include "../../scheduler/ecs/deployment.h"
#include "../../scheduler/ecs/placement.h"
#include "../../scheduler/ecs/runtask.h"
#include "../../scheduler/ecs/service_req.h"
#include "../../scheduler/ecs/tags.h"
#include "../../scheduler/ecs/task_protect.h"
#include "../../scheduler/ecs/taskdef.h"
#include "../../scheduler/front/req.h"

/* The product always passes an error object (the decoders write codes into it). */
static void decode(uint8_t which, json_t *req)
{
        struct err e = { 0 };
        switch (which % 14) {
        case 0: {
                struct task_start t;
                memset(&t, 0, sizeof t);
                if (run_task_decode(req, &t, &e) == 0 && (t.count < 1 || t.count > 10))
                        abort();
                task_start_done(&t);
                break;
        }
        case 1: {
                struct service_create_in s;
                memset(&s, 0, sizeof s);
                (void) service_create_decode(req, &s, &e);
                break;
        }
        case 2: {
                struct service_update_in s;
                memset(&s, 0, sizeof s);
                (void) service_update_decode(req, &s, &e);
                break;
        }
        case 3: {
                json_t *td = NULL;
                if (taskdef_build(req, &td, &e) == 0 && !json_is_object(td))
                        abort();
                json_decref(td);
                break;
        }
        case 4: {
                struct describe_in d;
                (void) describe_decode(req, "tasks", 100, &d, &e);
                break;
        }
        case 5: {
                struct req_page p;
                if (req_page_decode(req, 100, &p, &e) == 0 && (p.max < 1 || p.max > 100))
                        abort();
                break;
        }
        case 7: {
                struct tag_resource_in t;
                json_t *merged;
                if (tag_resource_decode(req, &t, &e) == 0) {
                        if (json_array_size(t.tags) > TAGS_MAX)
                                abort();
                        merged = tags_merge(t.tags, t.tags);
                        if (!merged || json_array_size(merged) > json_array_size(t.tags))
                                abort();
                        json_decref(merged);
                }
                break;
        }
        case 8: {
                struct tag_resource_in t;
                if (untag_resource_decode(req, &t, &e) == 0)
                        json_decref(tags_remove(t.keys, t.keys));
                (void) list_tags_decode(req, &t, &e);
                break;
        }
        case 9: {
                struct account_setting_in a;
                if (account_setting_decode(req, (enum account_op) ((which >> 4) % 4), &a, &e) == 0 && a.max > 10)
                        abort();
                break;
        }
        case 10: {
                struct update_cluster_in u;
                (void) update_cluster_decode(req, which & 16, &u, &e);
                break;
        }
        case 11: {
                json_t *refs = NULL;
                if (delete_tds_decode(req, &refs, &e) == 0 && (json_array_size(refs) < 1 || json_array_size(refs) > 10))
                        abort();
                break;
        }
        case 12: {
                struct task_protect_in p;
                if (task_protect_decode(req, which & 16, &p, &e) == 0 && (p.minutes < 1 || p.minutes > TASK_PROTECT_MAX_MIN))
                        abort();
                break;
        }
        case 13: {
                struct arn_resource r;
                (void) arn_resource_parse(jstr(req, "resourceArn"), &r, &e);
                break;
        }
        default: {
                struct deploy_config_in c;
                json_t *out = NULL;
                memset(&c, 0, sizeof c);
                if (deploy_config_decode(req, &c, &e) == 0 && deploy_config_resolve(&c, which & 8, NULL, &out, &e) == 0)
                        json_decref(out);
                break;
        }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_error_t jerr;
        json_t *req;
        if (size < 1)
                return 0;
        req = json_loadb((const char *) data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
        if (req && json_is_object(req))
                decode(data[0], req);
        json_decref(req);

        char *text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        struct err e = { 0 };
        struct cql *q = NULL;
        if (cql_parse(text, &q, &e) == 0)
                (void) cql_is_static(q);
        cql_free(q);
        struct place_strategy ps;
        char *sep = strchr(text, ',');
        if (sep) {
                *sep = '\0';
                (void) place_strategy_parse(text, sep + 1, &ps, &e);
        }
        free(text);
        return 0;
}
