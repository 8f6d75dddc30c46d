/* seal.c: AES-256-GCM sealing of secret values at rest (seal.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/ids.h"
#include "../images/regauth.h"
#include "../sched.h"
#include "seal.h"

#define IV_BYTES 12
#define TAG_BYTES 16

static struct {
        bool loaded;
        char dir[SCHED_PATH_MAX];
        unsigned char key[SEAL_KEY_BYTES];
} cache;

static int key_read(const char *path, unsigned char key[SEAL_KEY_BYTES], struct err *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        unsigned char extra;
        ssize_t n;
        if (fd < 0)
                return -errno;
        n = read(fd, key, SEAL_KEY_BYTES);
        if (n < 0)
                return err_set(err, errno, NULL, "read secrets key '%s': %s", path, strerror(errno));
        if (n != SEAL_KEY_BYTES || read(fd, &extra, 1) != 0)
                return err_set(err, EINVAL, NULL, "secrets key '%s' must hold exactly %d bytes", path, SEAL_KEY_BYTES);
        return 0;
}

static int key_make(const char *path, unsigned char key[SEAL_KEY_BYTES], struct err *err)
{
        _cleanup_close_ int fd = -1;
        if (random_bytes(key, SEAL_KEY_BYTES) < 0)
                return err_set(err, errno, NULL, "getrandom: %s", strerror(errno));
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;   /* EEXIST: made meanwhile, read it */
        if (write(fd, key, SEAL_KEY_BYTES) != SEAL_KEY_BYTES || fdatasync(fd) < 0) {
                int e = errno ? errno : EIO;
                (void) unlink(path);
                return err_set(err, e, NULL, "write secrets key '%s': %s", path, strerror(e));
        }
        return 0;
}

int seal_key(struct sched *s, unsigned char ret[SEAL_KEY_BYTES], struct err *err)
{
        char path[SCHED_PATH_MAX + 32];
        int r;
        if (cache.loaded && strcmp(cache.dir, s->state_dir) == 0) {
                memcpy(ret, cache.key, SEAL_KEY_BYTES);
                return 0;
        }
        if (!s->state_dir[0]) {
                if (random_bytes(cache.key, SEAL_KEY_BYTES) < 0)
                        return err_set(err, errno, NULL, "getrandom: %s", strerror(errno));
        } else {
                snprintf(path, sizeof path, "%s/secrets.key", s->state_dir);
                r = key_read(path, cache.key, err);
                if (r == -ENOENT) {
                        r = key_make(path, cache.key, err);
                        if (r == -EEXIST)
                                r = key_read(path, cache.key, err);
                }
                if (r < 0 && !err->msg[0])
                        return err_set(err, -r, NULL, "secrets key '%s': %s", path, strerror(-r));
                if (r < 0)
                        return r;
        }
        snprintf(cache.dir, sizeof cache.dir, "%s", s->state_dir);
        cache.loaded = true;
        memcpy(ret, cache.key, SEAL_KEY_BYTES);
        return 0;
}

int seal_encrypt(const unsigned char key[SEAL_KEY_BYTES], const char *aad, const char *plain, char **ret, struct err *err)
{
        size_t n = strlen(plain), raw_len = IV_BYTES + n + TAG_BYTES;
        _cleanup_free_ unsigned char *raw = malloc(raw_len);
        char *out = NULL;
        EVP_CIPHER_CTX *ctx = NULL;
        int len, r = -EIO;
        if (!raw || !(out = malloc(strlen(SEAL_PREFIX) + (raw_len + 2) / 3 * 4 + 1)) || !(ctx = EVP_CIPHER_CTX_new())) {
                free(out);
                EVP_CIPHER_CTX_free(ctx);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        if (random_bytes(raw, IV_BYTES) < 0) {
                r = err_set(err, errno, NULL, "getrandom: %s", strerror(errno));
                goto done;
        }
        if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_BYTES, NULL) != 1 || EVP_EncryptInit_ex(ctx, NULL, NULL, key, raw) != 1 ||
            EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *) aad, (int) strlen(aad)) != 1 ||
            EVP_EncryptUpdate(ctx, raw + IV_BYTES, &len, (const unsigned char *) plain, (int) n) != 1 ||
            EVP_EncryptFinal_ex(ctx, raw + IV_BYTES + len, &len) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, raw + IV_BYTES + n) != 1) {
                r = err_set(err, EIO, NULL, "AES-256-GCM seal failed");
                goto done;
        }
        strcpy(out, SEAL_PREFIX);
        EVP_EncodeBlock((unsigned char *) out + strlen(SEAL_PREFIX), raw, (int) raw_len);
        *ret = out;
        out = NULL;
        r = 0;
done:
        free(out);
        EVP_CIPHER_CTX_free(ctx);
        return r;
}

int seal_decrypt(const unsigned char key[SEAL_KEY_BYTES], const char *aad, const char *sealed, char **ret, struct err *err)
{
        _cleanup_free_ char *raw = NULL;
        char *out = NULL;
        size_t raw_len = 0, n;
        EVP_CIPHER_CTX *ctx = NULL;
        int len, r = -EBADMSG;
        if (strncmp(sealed, SEAL_PREFIX, strlen(SEAL_PREFIX)) != 0) {
                if (!(*ret = strdup(sealed)))
                        return err_set(err, ENOMEM, NULL, "out of memory");
                return 0;
        }
        if (regauth_b64decode(sealed + strlen(SEAL_PREFIX), &raw, &raw_len) < 0 || raw_len < IV_BYTES + TAG_BYTES)
                return err_set(err, EBADMSG, NULL, "sealed value of '%s' is damaged", aad);
        n = raw_len - IV_BYTES - TAG_BYTES;
        if (!(out = malloc(n + 1)) || !(ctx = EVP_CIPHER_CTX_new())) {
                free(out);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_BYTES, NULL) != 1 ||
            EVP_DecryptInit_ex(ctx, NULL, NULL, key, (unsigned char *) raw) != 1 ||
            EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *) aad, (int) strlen(aad)) != 1 ||
            EVP_DecryptUpdate(ctx, (unsigned char *) out, &len, (unsigned char *) raw + IV_BYTES, (int) n) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, raw + IV_BYTES + n) != 1 ||
            EVP_DecryptFinal_ex(ctx, (unsigned char *) out + len, &len) != 1) {
                explicit_bzero(out, n + 1);
                free(out);
                r = err_set(err, EBADMSG, NULL, "sealed value of '%s' does not open with STATE_DIR/secrets.key (another key, or changed)", aad);
                goto done;
        }
        out[n] = '\0';
        *ret = out;
        r = 0;
done:
        EVP_CIPHER_CTX_free(ctx);
        return r;
}
