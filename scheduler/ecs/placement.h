/* placement.h: the task placement engine: pure functions over a snapshot of
 * container instances (no I/O, no globals), used by RunTask, StartTask and the
 * service scheduler. As on ECS: instances short of CPU, memory, ports or an ENI
 * slot are dropped, constraints (distinctInstance, memberOf) bind, then the
 * strategies in order break ties (binpack, spread, random). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cql.h"
#include "ecsbox/err.h"

struct place_attr {
        const char *name;
        const char *value;
};

struct place_instance {
        const char *arn;
        const char *ec2_id;
        const char *registered_at;         /* for memberOf registeredAt, may be NULL */
        bool active;                       /* ACTIVE (not DRAINING) and connected */
        int cpu, mem;                      /* remaining units / MiB */
        int enis;                          /* remaining ENI slots */
        uint64_t *ports_tcp, *ports_udp;   /* 65536-bit maps of taken host ports; needed when the request has static ports */
        const struct place_attr *attrs;
        size_t nattrs;
        const char **groups;               /* groups of the tasks on it, NULL-terminated (task:group), may be NULL */
        int running;                       /* runningTasksCount */
        int group_count;                   /* tasks of the placing group (RunTask) or service on it */
        /* scratch for the engine */
        char running_s[16];
};

enum place_strategy_type { PLACE_RANDOM, PLACE_SPREAD, PLACE_BINPACK };

struct place_strategy {
        enum place_strategy_type type;
        const char *field;                 /* spread: instanceId|host|attribute:NAME; binpack: cpu|memory */
};

struct place_request {
        int cpu, mem;
        bool needs_eni;                    /* awsvpc on EC2: one ENI slot */
        const uint16_t *tcp_ports;         /* static host ports */
        size_t ntcp;
        const uint16_t *udp_ports;
        size_t nudp;
        bool distinct_instance;
        struct cql *const *member_of;
        size_t nmember_of;
        const struct place_strategy *strategies;
        size_t nstrategies;
        uint64_t seed;                     /* for random */
};

/* Validate one strategy as ECS does ("spread" needs a field, "random" none,
 * binpack only cpu|memory); err code InvalidParameterException. */
int place_strategy_parse(const char *type, const char *field, struct place_strategy *ret, struct err *err);

/* Place `count` copies one after another, updating the snapshot (remaining
 * resources, ports, group counts) after each. ret_idx[k] is the instance index
 * for copy k or -1. When a copy cannot be placed, ret_reasons (n entries, may
 * be NULL) says why each instance was dropped for it: "RESOURCE:CPU",
 * "RESOURCE:MEMORY", "RESOURCE:PORTS", "RESOURCE:PORTS_UDP", "RESOURCE:ENI",
 * "ATTRIBUTE" (memberOf), "DISTINCT_INSTANCE", "INACTIVE". Returns the number
 * placed, or -errno. */
int place_tasks(struct place_instance *insts, size_t n, const struct place_request *req, int count, int *ret_idx,
                const char **ret_reasons, struct err *err);

static inline bool place_port_taken(const uint64_t *map, uint16_t port)
{
        return map && (map[port >> 6] >> (port & 63)) & 1;
}
static inline void place_port_take(uint64_t *map, uint16_t port)
{
        if (map)
                map[port >> 6] |= (uint64_t) 1 << (port & 63);
}
