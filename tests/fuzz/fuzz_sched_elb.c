/* fuzz_sched_elb.c: ELBv2's pure parts on arbitrary bytes: the form decoded and flattened over botocore's
 * ELBv2 model (Query flavour) for the operation the first byte picks, then every check of
 * scheduler/elb/elb_req.c on what came out (ARNs, paging, health checks, attributes, actions,
 * conditions, tags), and the XML writer fed the request as if it were the answer. The invariants: no
 * crash, and a check that succeeds leaves the structure it normalised well formed. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scheduler/elb/elb_req.h"
#include "../../scheduler/query/form.h"
#include "../../scheduler/query/model.h"

static struct query_model M;
static const char **names;
static size_t n_names;

static void checks(json_t *req)
{
        struct err err = { 0 };
        char id[ELB_ID_MAX];
        size_t off, size;
        json_t *tgs = NULL, *v;
        const char *k;
        json_object_foreach(req, k, v)
                if (json_is_string(v))
                        for (int kind = ELB_LB; kind <= ELB_RULE; kind++)
                                if (elb_arn_id((enum elb_kind) kind, json_string_value(v), id, &err) == 0 && strlen(id) != ELB_ID_LEN)
                                        abort();
        (void) elb_page_decode(req, &off, &size, &err);
        if (json_is_string(json_object_get(req, "Name")))
                (void) elb_name_check("Load balancer", json_string_value(json_object_get(req, "Name")), true, &err);
        json_t *tg = json_pack("{s:s, s:i}", "Protocol", json_string_value(json_object_get(req, "Protocol")) ?: "HTTP", "Port", 80);
        (void) elb_tg_health_apply(tg, req, true, &err);
        json_t *attrs = elb_tg_attributes_default(tg);
        (void) elb_tg_attributes_apply(tg, attrs, json_object_get(req, "Attributes"), &err);
        json_decref(attrs);
        json_decref(tg);
        for (int network = 0; network < 2; network++) {
                json_t *a = json_deep_copy(json_object_get(req, "DefaultActions") ?: json_object_get(req, "Actions"));
                if (a && elb_actions_check(a, network, &tgs, &err) == 0) {
                        if (!json_is_array(tgs))
                                abort();
                        json_decref(tgs);
                }
                json_decref(a);
        }
        json_t *c = json_deep_copy(json_object_get(req, "Conditions"));
        if (c)
                (void) elb_conditions_check(c, &err);
        json_decref(c);
        if (json_object_get(req, "Tags"))
                (void) elb_tags_check(json_object_get(req, "Tags"), &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct err err = { 0 };
        json_t *params = NULL, *req = NULL;
        const char *in = NULL, *out = NULL, *k;
        json_t *v;

        if (!M.doc) {
                if (query_model_load(query_elbv2_model_json, &M, &err) < 0)
                        abort();
                json_t *ops = json_object_get(M.doc, "operations");
                names = calloc(json_object_size(ops), sizeof *names);
                json_object_foreach(ops, k, v)
                        names[n_names++] = k;
        }
        if (size < 1)
                return 0;
        if (!query_model_op(&M, names[data[0] % n_names], &in, &out))
                abort();
        if (query_form_parse((const char *) data + 1, size - 1, NULL, &params, &err) < 0)
                return 0;
        if (query_model_input(&M, in, params, &req, &err) == 0) {
                xmlBufferPtr buf = xmlBufferCreate();
                xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
                if (!json_is_object(req))
                        abort();
                checks(req);
                (void) query_model_output(&M, in, req, w, &err);
                (void) query_model_output(&M, out, req, w, &err);
                xmlFreeTextWriter(w);
                xmlBufferFree(buf);
        }
        json_decref(req);
        json_decref(params);
        return 0;
}
