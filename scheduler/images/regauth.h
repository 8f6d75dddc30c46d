/* regauth.h: registry credentials from a Docker config.json ("auths"), the file docker, podman and
 * skopeo share, looked up by registry host as the docker CLI does. Pure but for reading the file. */
#pragma once

#include <stddef.h>

#include "ecsbox/err.h"

struct reg_creds {
        char *user;
        char *pass;
};

/* base64 (standard alphabet, padding optional) to bytes with OpenSSL's EVP_DecodeBlock; *ret is
 * NUL-terminated (*ret_len excludes the NUL). -EINVAL on bad base64, -ENOMEM. */
int regauth_b64decode(const char *in, char **ret, size_t *ret_len);

/* The credentials for host ("127.0.0.1:5000", "docker.io") in a config.json document held in buf.
 * Keys are matched as the docker CLI writes them: exactly, or after dropping a scheme and a path
 * ("https://host:5000/v1/"); docker.io also matches "https://index.docker.io/v1/", "index.docker.io"
 * and "registry-1.docker.io". An entry gives "auth" (base64 of user:password) or "username" and
 * "password". Returns 1 and *ret filled when found, 0 when not (no entry, or an entry with neither,
 * like one a credential helper owns), -EINVAL with err naming the key on a bad entry or document. */
int regauth_lookup_buf(const char *buf, size_t len, const char *host, struct reg_creds *ret, struct err *err);

/* The same reading path (NULL: $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json). A file
 * that does not exist is 0 (anonymous); err names the file otherwise. */
int regauth_lookup(const char *path, const char *host, struct reg_creds *ret, struct err *err);

/* The file regauth_lookup reads for path (malloc'd), or NULL (ENOMEM, or no HOME). */
char *regauth_path(const char *path);

void reg_creds_done(struct reg_creds *c);
