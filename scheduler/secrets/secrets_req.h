/* secrets_req.h: the pure decoders of the secrets services: names, a container secret's valueFrom,
 * a JSON secret's key, paging tokens. No state: unit-tested (tests/unit/sched_secrets_test.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "ecsbox/err.h"

#define SM_E_NF "ResourceNotFoundException"
#define SM_E_EXISTS "ResourceExistsException"
#define SM_E_PARAM "InvalidParameterException"
#define SM_E_REQUEST "InvalidRequestException"
#define SSM_E_NF "ParameterNotFound"
#define SSM_E_EXISTS "ParameterAlreadyExists"
#define SSM_E_VALIDATION "ValidationException"

#define SM_NAME_MAX 512
#define SSM_NAME_MAX 2048
#define SECRET_REF_MAX 2048

/* A secret name: 1-512 of letters, digits and /_+=.@- */
int sm_name_check(const char *name, struct err *err);
/* A parameter name: 1-2048 of letters, digits and _.-/ ; hierarchical ones start with '/', at most 15
 * levels; not beginning with aws or ssm (any case). */
int ssm_name_check(const char *name, struct err *err);

/* A container secret's valueFrom. */
struct secret_ref {
        bool sm;                          /* Secrets Manager (else SSM Parameter Store) */
        char id[SECRET_REF_MAX];          /* SM: the secret's ARN (7 fields); SSM: the parameter's name */
        char json_key[256], stage[256], version_id[256];   /* SM only; "" = none */
};
/* arn:aws:secretsmanager:R:A:secret:NAME-XXXXXX[:json-key:version-stage:version-id],
 * arn:aws:ssm:R:A:parameter/NAME, or a parameter name. Errors use the agent's wording. */
int secret_ref_parse(const char *value_from, struct secret_ref *ret, struct err *err);

/* The member key of the JSON object text (a string as is, anything else as compact JSON);
 * *ret malloc'ed. -ENOENT when the text is no object or lacks the key. */
int secret_json_key(const char *text, const char *key, char **ret, struct err *err);

/* An SSM parameter's ARN path part: "parameter/x" for "x", "parameter/a/b" for "/a/b" (and back). */
void ssm_arn(const char *region, const char *account, const char *name, char *buf, size_t size);
/* "parameter/a/b" -> "/a/b", "parameter/x" -> "x"; false when rest does not start with "parameter/". */
bool ssm_name_from_arn_resource(const char *res, char *buf, size_t size);

/* ListSecrets' Filters [{Key, Values}]: keys description | name | tag-key | tag-value | primary-region |
 * owning-service | all, 1-10 values each. */
int sm_filters_check(json_t *filters, struct err *err);
/* Whether a secret (its DescribeSecret shape) passes every filter: each a prefix match of one of its values
 * (description and all case-insensitive), "!v" negated; primary-region and owning-service match nothing. */
bool sm_filters_match(json_t *filters, json_t *secret);

/* DescribeParameters' ParameterFilters [{Key, Option, Values}]: Name (Equals | BeginsWith | Contains),
 * Type and Tier and DataType (Equals), Path (OneLevel | Recursive); other keys ValidationException. */
int ssm_filters_check(json_t *filters, struct err *err);
/* Whether a parameter record (Name, Type) passes every filter (any of a filter's values). */
bool ssm_filters_match(json_t *filters, json_t *param);

/* Offsets as paging tokens: "o/N". */
int secrets_token_parse(const char *tok, const char *code, long long *ret, struct err *err);
