/* flags.h: the aws CLI's `VERB --flag VALUE ...` parser, shared by `ecsbox ec2` and `ecsbox ecs`.
 * A dialect says how a flag's name becomes a member and what kind of value it takes. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

enum flag_kind {
        FLAG_VALUE,             /* one value, turned into JSON by the dialect's scalar() */
        FLAG_LIST,              /* strings up to the next --flag (aws: --tasks a b c) */
        FLAG_STRUCT_LIST,       /* JSON or shorthand values up to the next --flag; JSON arrays are spliced in */
        FLAG_INT,               /* one whole number */
        FLAG_BOOL,              /* a switch without value: --force true, --no-force false */
        FLAG_FILTERS,           /* Name=N,Values=a,b ... appended to the request's Filters */
};

struct flag_dialect {
        const char *cmd;                                /* "ec2", "ecs": for messages */
        bool camel;                                     /* members camelCase (ECS), else PascalCase (EC2) */
        enum flag_kind (*kind)(const char *flag);       /* flag without its "--" */
        /* A FLAG_VALUE's JSON; NULL: not valid (printed as "not JSON nor shorthand"). */
        json_t *(*scalar)(const char *flag, const char *value);
};

#define FLAGS_HELP 1

/* Parses argv (the flags after the verb) into req. Every value may be file://PATH (read whole);
 * --cli-input-json JSON|file://PATH merges a whole request in. switches (NULL-terminated, may be NULL)
 * are valueless flags the command keeps for itself: bit i of *ret_switches is set when switches[i] was
 * given. Returns 0, FLAGS_HELP for --help, or -EINVAL with the reason printed on stderr. */
int flags_parse(const struct flag_dialect *d, const char *verb, int argc, char **argv, const char *const *switches,
                json_t *req, unsigned *ret_switches);

/* "Name=subnet-id,Values=a,b" -> {"Name": "subnet-id", "Values": ["a", "b"]}; -EINVAL otherwise. */
int cli_parse_filter(const char *s, json_t **ret);
