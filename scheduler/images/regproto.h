/* regproto.h: the registry protocol's small wire formats, pure: the WWW-Authenticate challenge
 * (RFC 7235, as the distribution spec's token auth uses it), the token server's answer and the
 * distribution spec's error body. */
#pragma once

#include <stddef.h>

#include "ecsbox/err.h"

enum regauth_scheme { REGAUTH_NONE, REGAUTH_BASIC, REGAUTH_BEARER };

struct reg_challenge {
        enum regauth_scheme scheme;
        char *realm;            /* token server URL (Bearer) or the realm's name (Basic); may be NULL */
        char *service;          /* Bearer only, may be NULL */
        char *scope;            /* Bearer only, may be NULL */
};

/* Parse one WWW-Authenticate value: auth-scheme then comma-separated key=value or key="quoted"
 * parameters (backslash escapes, commas inside quotes). A value with several challenges
 * ("Basic realm=x, Bearer realm=y") yields the Bearer one, else the first Basic one. Schemes other
 * than Basic and Bearer give scheme REGAUTH_NONE and 0. -EINVAL on a malformed value, -ENOMEM. */
int reg_challenge_parse(const char *value, struct reg_challenge *ret);
void reg_challenge_done(struct reg_challenge *c);

/* The token out of a token server's JSON answer: "token", else "access_token" (OAuth2 form).
 * -EINVAL with err (code REG_E_PROTOCOL's text is the caller's) when neither is a non-empty string. */
int reg_token_parse(const char *body, size_t len, char **ret, struct err *err);

/* errors[0] of a distribution-spec error body: {"errors":[{"code":"MANIFEST_UNKNOWN","message":...}]}.
 * Writes "" when the body is not one. Also takes the docker/auth token server's {"details": "..."}. */
void reg_error_parse(const char *body, size_t len, char *code, size_t code_size, char *msg, size_t msg_size);
