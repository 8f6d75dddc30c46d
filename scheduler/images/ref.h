/* ref.h: image references as task definitions write them ("nginx", "user/app:1", "REG:PORT/p@sha256:..."),
 * normalised as Docker does (docker.io/library/nginx:latest). */
#pragma once

#include <stdbool.h>

#include "ecsbox/err.h"

#define REF_DOCKER_HUB "docker.io"
#define REF_NAME_MAX 255        /* registry/repository, as distribution/reference limits it */

struct image_ref {
        char *registry;         /* "docker.io", "public.ecr.aws", "127.0.0.1:5000", "localhost" */
        char *repository;       /* "library/nginx", "user/app" */
        char *tag;              /* "latest" when neither tag nor digest was given; NULL with a digest only */
        char *digest;           /* "sha256:<64 hex>" or NULL */
};

/* Parse and normalise. Errors: code "InvalidParameterException", message naming the reference and the
 * cause (bad character, upper case, too long, bad digest). */
int image_ref_parse(const char *s, struct image_ref *ret, struct err *err);
void image_ref_done(struct image_ref *r);

/* "docker.io/library/nginx:1.25", "docker.io/library/nginx@sha256:..." (tag and digest when both). */
char *image_ref_canonical(const struct image_ref *r);
/* "registry/repository" without tag or digest. */
char *image_ref_name(const struct image_ref *r);
/* As a person writes it: "nginx:1.25", "user/app:1", "127.0.0.1:5000/x:y". */
char *image_ref_familiar(const struct image_ref *r);

/* The host to talk to for the registry: docker.io's is registry-1.docker.io. */
const char *image_ref_api_host(const struct image_ref *r);

bool image_digest_valid(const char *d);
