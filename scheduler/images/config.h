/* config.h: an image's configuration blob (Docker's and OCI's "config" object) parsed, and merged with
 * a container definition the way ECS (through Docker) does it. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "ecsbox/err.h"

struct image_config;

/* Parse a configuration blob into c (images.h): config.Entrypoint, Cmd, Env, WorkingDir, User,
 * ExposedPorts, StopSignal, and os/architecture; diff ids (rootfs.diff_ids) into *ret_diff_ids
 * (malloc'd array of n, may be NULL when not wanted), created into *ret_created (epoch seconds, 0 when
 * absent). Code "InvalidImageConfig" naming the field. */
int image_config_parse(const char *buf, size_t len, struct image_config *c, char (**ret_diff_ids)[72], size_t *ret_n,
                       double *ret_created, struct err *err);
void image_config_done(struct image_config *c);

/* What a container runs with, ECS over Docker:
 * - entryPoint given: it replaces the image's Entrypoint and the image's Cmd is dropped (Docker);
 *   command given: it replaces Cmd; neither: the image's Entrypoint + Cmd.
 * - environment: the image's Env, then the definition's variables (a name given in both takes the
 *   definition's value, at the image's position).
 * - workingDirectory, user: the definition's when given, else the image's.
 * - stopSignal: the image's (ECS has no field for it), default SIGTERM.
 * def is the container definition (ECS JSON); *ret a new object with "entryPoint", "command"
 * (arrays), "environment" ([{name, value}]), "workingDirectory", "user", "stopSignal" (absent ones
 * left out). An empty result (no entrypoint, no command) is refused: code
 * "CannotStartContainerError", "container NAME: image IMAGE has no Entrypoint or Cmd and the
 * container definition gives neither entryPoint nor command". */
int image_config_merge(const struct image_config *ic, const char *image, const json_t *def, json_t **ret,
                       struct err *err);
