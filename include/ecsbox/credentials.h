/* credentials.h: the AWS shared-credentials file ([profile] with aws_access_key_id and
 * aws_secret_access_key) that ecsboxd verifies signatures with and the CLI signs with. */
#pragma once

#include <stddef.h>

#include "ecsbox/err.h"

#define CRED_PROFILE_MAX 64
#define CRED_KEY_MAX 128
#define CRED_DEFAULT_PROFILE "ecsbox"

struct cred_key {
        char profile[CRED_PROFILE_MAX + 1];
        char akid[CRED_KEY_MAX + 1];
        char secret[CRED_KEY_MAX + 1];
};

struct credentials {
        struct cred_key *keys;
        size_t n;
};

/* Reads path. Profiles without both keys are skipped; a line that is neither a section, a
 * "name = value" pair, a comment nor blank fails naming the file and the line. */
int credentials_load(const char *path, struct credentials *ret, struct err *err);
void credentials_free(struct credentials *c);
/* The key with that access key id, or NULL. */
const struct cred_key *credentials_find(const struct credentials *c, const char *akid);
/* The key of a profile, or NULL. */
const struct cred_key *credentials_profile(const struct credentials *c, const char *profile);
/* When path does not exist: creates it (mode 0600, O_EXCL) with a profile [ecsbox] holding a fresh
 * AKIA... access key id and a 40-character secret. 1 when created, 0 when it was there. */
int credentials_ensure(const char *path, struct err *err);
/* A fresh key pair in AWS's shapes: "AKIA" + 16 of [A-Z2-7], 40 of [A-Za-z0-9+/]. */
int credentials_generate(char akid[CRED_KEY_MAX + 1], char secret[CRED_KEY_MAX + 1]);
