/* model.h: the botocore service models the Query front needs (generated into ec2_model.c by
 * scripts/gen-query-model.py), parsed once, and the Query protocol's two directions over them: a
 * flattened form (Name.N.Member=value) into a JSON request, a JSON answer into the service's XML. Pure. */
#pragma once

#include <jansson.h>
#include <libxml/xmlwriter.h>

#include "ecsbox/err.h"

extern const char query_ec2_model_json[];
extern const char query_elbv2_model_json[];

struct query_model {
        json_t *doc;                    /* {"version", "protocol"?, "operations": {op: {input, output, resultWrapper?}}, "shapes": {...}} */
        const char *version;
        bool query;                     /* protocol "query" (ELBv2), else EC2's flavour */
};

int query_model_load(const char *json_text, struct query_model *ret, struct err *err);
void query_model_free(struct query_model *m);

/* The operation's input / output shape names (NULL when it has none); false when the model lacks op. */
bool query_model_op(const struct query_model *m, const char *op, const char **ret_input, const char **ret_output);

/* The element an ELBv2 answer's members sit in (<CreateLoadBalancerResult>), NULL for EC2. */
const char *query_model_result_wrapper(const struct query_model *m, const char *op);

/* The flattening of the model's flavour (query_ec2_input is the same function, for EC2's callers):
 * EC2 as below; Query: wire names locationName or member name unchanged, lists Name.member.N (an empty
 * list sent as "Name="), maps Name.entry.N.key/value. */
int query_model_input(const struct query_model *m, const char *shape, json_t *params, json_t **ret, struct err *err);
/* The answer in the model's flavour: EC2 as below; Query: members under their names, list items <member>;
 * no output shape writes nothing (the caller writes the empty Result element). */
int query_model_output(const struct query_model *m, const char *shape, json_t *doc, xmlTextWriterPtr w, struct err *err);

/* EC2 flattening: params (an object of wire name -> string, as decoded from the form) read against the
 * input shape into a JSON request keyed by the model's member names (what netd speaks). Every
 * parameter used is removed from params, so what is left was not recognised. Values of the wrong type:
 * InvalidParameterValue naming the parameter. */
int query_ec2_input(const struct query_model *m, const char *shape, json_t *params, json_t **ret, struct err *err);

/* EC2 answer: the members of doc that the output shape knows, written under their locationName (lists
 * as <xSet><item>...), booleans as true/false, timestamps ISO 8601. */
int query_ec2_output(const struct query_model *m, const char *shape, json_t *doc, xmlTextWriterPtr w, struct err *err);
