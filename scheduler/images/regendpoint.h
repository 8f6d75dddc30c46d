/* regendpoint.h: the endpoints a pull tries, in order, as dockerd chooses them: the registry's
 * mirrors (registry-mirrors), then the registry over HTTPS; for an insecure registry HTTPS without
 * verifying the certificate, then plain HTTP. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ref.h"
#include "registry.h"

struct reg_endpoint {
        char *base;             /* "https://registry-1.docker.io", "http://127.0.0.1:5000"; no trailing '/' */
        char *host;             /* "127.0.0.1:5000": the key of its credentials */
        bool mirror;
        bool verify_tls;        /* false: HTTPS to an insecure registry (or plain HTTP) */
};

/* Is host (or the ref's registry name when host is its API host) in cfg->insecure? */
bool reg_insecure(const struct registry_config *cfg, const char *host);

/* The endpoint list for ref; *ret holds *ret_n entries (free with reg_endpoints_free).
 * -EINVAL (err names the mirror) on a mirror URL that is not http(s)://host[:port][/path]; -ENOMEM. */
int reg_endpoints_build(const struct registry_config *cfg, const struct image_ref *ref, struct reg_endpoint **ret,
                        size_t *ret_n, struct err *err);
void reg_endpoints_free(struct reg_endpoint *v, size_t n);
