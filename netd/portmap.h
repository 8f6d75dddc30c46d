/* portmap.h: bridge-mode port mappings: request validation, host port allocation, task MACs (pure: no I/O; addresses are ipam.h's). */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"

#define PORTMAP_MAX 100                 /* mappings per task */
#define PORT_EPHEMERAL_MIN 49153        /* the ECS agent's default dynamic range */
#define PORT_EPHEMERAL_MAX 65535
#define PORTMAP_PROTO_TCP 0             /* = PM_TCP in knet_bridge.h */
#define PORTMAP_PROTO_UDP 1

struct portmap {
        uint8_t proto;                  /* PORTMAP_PROTO_* */
        uint16_t container_port;        /* 1..65535 */
        uint16_t host_port;             /* 0 = pick one from the ephemeral range */
};

/* "tcp" -> 0, "udp" -> 1, anything else -> -EINVAL. */
int portmap_proto_parse(const char *s);
const char *portmap_proto_name(int proto);

/* Validate PortMappings (NULL = none): a list of {ContainerPort*, HostPort,
 * Protocol "tcp"|"udp"} with nothing else; two static mappings of one
 * protocol may not share a HostPort. Fills ret[0..*ret_n) (room for
 * PORTMAP_MAX). Errors: InvalidParameterValue / MissingParameter / UnknownParameter
 * naming PortMappings.N.Member. */
int portmap_parse(json_t *mappings, struct portmap ret[PORTMAP_MAX], size_t *ret_n, struct err *err);

/* 1 when (proto, port) is taken, 0 when free, < 0 on error (stops the search). */
typedef int (*portmap_taken_fn)(int proto, uint16_t port, void *ud);

/* The first free port after cursor in PORT_EPHEMERAL_MIN..MAX, wrapping once
 * (round-robin: a port just released is not handed out again at once).
 * cursor 0 or outside the range starts at the beginning. 0, -ENOSPC, or the
 * error of taken(). */
int portmap_pick(int proto, uint16_t cursor, portmap_taken_fn taken, void *ud, uint16_t *ret_port);

/* A bridge task's MAC from its address, as Docker does: 02:42 + the 4 address bytes. */
void bridge_mac_for_ip(uint32_t ip, uint8_t mac[6]);
