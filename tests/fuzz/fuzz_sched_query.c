/* fuzz_sched_query.c: the Query front's pure parts on arbitrary bytes: the form decoder, EC2 flattening
 * over botocore's model for the operation the first byte picks, and the XML writer fed the decoded request
 * as if it were the answer. The invariant: a request accepted has only members the model names. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../scheduler/query/form.h"
#include "../../scheduler/query/model.h"

static struct query_model M;
static const char **names;
static size_t n_names;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct err err = { 0 };
        json_t *params = NULL, *req = NULL;
        const char *in = NULL, *out = NULL, *k;
        json_t *v;

        if (!M.doc) {
                if (query_model_load(query_ec2_model_json, &M, &err) < 0)
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
        if (query_ec2_input(&M, in, params, &req, &err) == 0) {
                xmlBufferPtr buf = xmlBufferCreate();
                xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
                if (!json_is_object(req))
                        abort();
                /* an input shape written as output: exercises every type of the writer */
                (void) query_ec2_output(&M, in, req, w, &err);
                (void) query_ec2_output(&M, out, req, w, &err);
                xmlFreeTextWriter(w);
                xmlBufferFree(buf);
        }
        json_decref(req);
        json_decref(params);
        return 0;
}
