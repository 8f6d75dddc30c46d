/* portmap.c: bridge-mode port mappings: validation of PortMappings, round-robin host ports, task MACs. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "kernel/knet_bridge.h"
#include "portmap.h"

_Static_assert(PORTMAP_PROTO_TCP == PM_TCP && PORTMAP_PROTO_UDP == PM_UDP, "protocol numbers agree with knet_bridge.h");

int portmap_proto_parse(const char *s)
{
        if (s && strcmp(s, "tcp") == 0)
                return PORTMAP_PROTO_TCP;
        if (s && strcmp(s, "udp") == 0)
                return PORTMAP_PROTO_UDP;
        return -EINVAL;
}

const char *portmap_proto_name(int proto)
{
        return proto == PORTMAP_PROTO_UDP ? "udp" : "tcp";
}

static int member_int(json_t *m, size_t i, const char *key, bool required, long long min, long long max, long long *ret,
                      struct err *err)
{
        char name[64];
        int r;
        snprintf(name, sizeof name, "PortMappings.%zu.%s", i + 1, key);
        {
                /* json_get_int names the member by key: give it the full path */
                json_t *tmp = json_object();
                json_t *v = json_object_get(m, key);
                if (v)
                        json_object_set(tmp, name, v);
                r = json_get_int(tmp, name, required, min, max, ret, err);
                json_decref(tmp);
        }
        return r;
}

int portmap_parse(json_t *mappings, struct portmap ret[PORTMAP_MAX], size_t *ret_n, struct err *err)
{
        json_t *m;
        size_t i, n = 0;
        int r;

        if (!mappings || json_is_null(mappings)) {
                *ret_n = 0;
                return 0;
        }
        if (!json_is_array(mappings))
                return err_set(err, EINVAL, JERR_INVALID, "Invalid value for parameter PortMappings: expected a list");
        if (json_array_size(mappings) > PORTMAP_MAX)
                return err_set(err, EINVAL, JERR_INVALID, "PortMappings has %zu entries; at most %d are allowed per task",
                               json_array_size(mappings), PORTMAP_MAX);
        json_array_foreach(mappings, i, m) {
                long long cport = 0, hport = 0;
                const char *proto = "tcp", *key;
                json_t *v;
                int p;
                if (!json_is_object(m))
                        return err_set(err, EINVAL, JERR_INVALID, "PortMappings.%zu must be a structure with ContainerPort, HostPort and Protocol", i + 1);
                json_object_foreach(m, key, v) {
                        (void) v;
                        if (strcmp(key, "ContainerPort") != 0 && strcmp(key, "HostPort") != 0 && strcmp(key, "Protocol") != 0)
                                return err_set(err, EINVAL, JERR_UNKNOWN, "Unknown parameter in PortMappings.%zu: \"%s\" (expected ContainerPort, HostPort, Protocol)", i + 1, key);
                }
                if ((r = member_int(m, i, "ContainerPort", true, 1, 65535, &cport, err)) < 0 ||
                    (r = member_int(m, i, "HostPort", false, 0, 65535, &hport, err)) < 0)
                        return r;
                v = json_object_get(m, "Protocol");
                if (v && !json_is_null(v)) {
                        if (!json_is_string(v))
                                return err_set(err, EINVAL, JERR_INVALID, "Invalid value for parameter PortMappings.%zu.Protocol: expected \"tcp\" or \"udp\"", i + 1);
                        proto = json_string_value(v);
                }
                if ((p = portmap_proto_parse(proto)) < 0)
                        return err_set(err, EINVAL, JERR_INVALID, "Invalid value '%s' for PortMappings.%zu.Protocol: expected \"tcp\" or \"udp\"", proto, i + 1);
                for (size_t j = 0; hport != 0 && j < n; j++)
                        if (ret[j].proto == p && ret[j].host_port == hport)
                                return err_set(err, EINVAL, JERR_INVALID, "PortMappings.%zu: host port %lld/%s is mapped twice in this request", i + 1, hport, proto);
                ret[n].proto = (uint8_t) p;
                ret[n].container_port = (uint16_t) cport;
                ret[n].host_port = (uint16_t) hport;
                n++;
        }
        *ret_n = n;
        return 0;
}

int portmap_pick(int proto, uint16_t cursor, portmap_taken_fn taken, void *ud, uint16_t *ret_port)
{
        const uint32_t size = PORT_EPHEMERAL_MAX - PORT_EPHEMERAL_MIN + 1;
        uint32_t off = cursor >= PORT_EPHEMERAL_MIN ? (uint32_t) (cursor - PORT_EPHEMERAL_MIN) + 1 : 0;

        for (uint32_t i = 0; i < size; i++, off++) {
                uint16_t port = (uint16_t) (PORT_EPHEMERAL_MIN + off % size);
                int r = taken(proto, port, ud);
                if (r < 0)
                        return r;
                if (r == 0) {
                        *ret_port = port;
                        return 0;
                }
        }
        return -ENOSPC;
}

void bridge_mac_for_ip(uint32_t ip, uint8_t mac[6])
{
        mac[0] = 0x02;
        mac[1] = 0x42;
        mac[2] = (uint8_t) (ip >> 24);
        mac[3] = (uint8_t) (ip >> 16);
        mac[4] = (uint8_t) (ip >> 8);
        mac[5] = (uint8_t) ip;
}
