/* seal.h: secret values sealed at rest with AES-256-GCM (libcrypto) under STATE_DIR/secrets.key (32
 * random bytes, 0600, made at first use). A sealed value is "ebx1:" + base64(iv[12] | ciphertext | tag[16]),
 * bound to its record's key (the AAD), so a value moved to another record does not open. */
#pragma once

#include <stddef.h>

#include "ecsbox/err.h"

#define SEAL_KEY_BYTES 32
#define SEAL_PREFIX "ebx1:"

struct sched;

/* The daemon's key: read (or made) once from STATE_DIR/secrets.key; without a state directory a key of
 * this process only. */
int seal_key(struct sched *s, unsigned char ret[SEAL_KEY_BYTES], struct err *err);

/* Pure but for the random IV. *ret malloc'ed. */
int seal_encrypt(const unsigned char key[SEAL_KEY_BYTES], const char *aad, const char *plain, char **ret, struct err *err);
/* A value without SEAL_PREFIX is returned as it is (written before sealing existed). A wrong key, AAD or
 * a changed value: -EBADMSG. */
int seal_decrypt(const unsigned char key[SEAL_KEY_BYTES], const char *aad, const char *sealed, char **ret, struct err *err);
