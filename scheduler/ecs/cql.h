/* cql.h: the ECS cluster query language (memberOf expressions, ListContainerInstances filters).
 *   expr    := or ; or := and (("or"|"||") and)* ; and := unary (("and"|"&&") unary)*
 *   unary   := "not" unary | "(" expr ")" | subject op [argument]
 *   subject := attribute:NAME | ec2InstanceId | runningTasksCount | task:group | agentVersion | registeredAt | ...
 *   op      := == != > >= < <= exists !exists in !in "not in" =~ !~
 *   argument:= VALUE | "[" VALUE ("," VALUE)* "]"
 * A pure module: no I/O, no globals. */
#pragma once

#include <stdbool.h>

#include "ecsbox/err.h"

struct cql;

/* On a syntax error returns -EINVAL and fills err (code "InvalidParameterException")
 * with the position and what was expected. */
int cql_parse(const char *text, struct cql **ret, struct err *err);
struct cql *cql_free(struct cql *q);

/* The values a subject has on one instance: a NULL-terminated array owned by
 * the caller's context, or NULL / empty when the subject has no value there.
 * Multi-valued subjects (task:group) match ==, in, =~ and comparisons when any
 * value does, and !=, !in, !~ when none does. */
typedef const char *const *(*cql_values_fn)(void *ctx, const char *subject);

bool cql_eval(const struct cql *q, cql_values_fn values, void *ctx);

/* true when the result depends only on the instance's fixed properties
 * (attributes, ids), not on its tasks (runningTasksCount, task:group). */
bool cql_is_static(const struct cql *q);

/* Glob match with * and ? (the =~ operator). */
bool cql_glob(const char *pattern, const char *s);
