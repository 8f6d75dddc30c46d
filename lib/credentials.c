/* credentials.c: the AWS shared-credentials file: parsed, looked up, created with fresh keys. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/credentials.h"
#include "ecsbox/fsutil.h"
#include "ecsbox/ids.h"

static char *trim(char *s)
{
        while (isspace((unsigned char) *s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = '\0';
        return s;
}

/* Appends the profile being read when it holds both keys. */
static int flush(struct credentials *c, const struct cred_key *k)
{
        if (!k->profile[0] || !k->akid[0] || !k->secret[0])
                return 0;
        struct cred_key *nk = realloc(c->keys, (c->n + 1) * sizeof *nk);
        if (!nk)
                return -ENOMEM;
        c->keys = nk;
        c->keys[c->n++] = *k;
        return 0;
}

static int set_member(struct cred_key *k, const char *name, const char *value)
{
        char *dst = !strcmp(name, "aws_access_key_id") ? k->akid : !strcmp(name, "aws_secret_access_key") ? k->secret : NULL;
        if (!dst)
                return 0;   /* aws_session_token, region, ...: not ours */
        if (strlen(value) > CRED_KEY_MAX)
                return -ENAMETOOLONG;
        strcpy(dst, value);
        return 0;
}

static int parse_line(struct credentials *c, struct cred_key *k, char *line)
{
        char *s = trim(line), *eq;
        int r;
        if (!*s || *s == '#' || *s == ';')
                return 0;
        if (*s == '[') {
                char *end = strchr(s, ']');
                if (!end || end[1] || end == s + 1 || (size_t) (end - s - 1) > CRED_PROFILE_MAX)
                        return -EINVAL;
                if ((r = flush(c, k)) < 0)
                        return r;
                *k = (struct cred_key) { 0 };
                *end = '\0';
                snprintf(k->profile, sizeof k->profile, "%s", trim(s + 1));
                return 0;
        }
        if (!(eq = strchr(s, '=')) || !k->profile[0])
                return -EINVAL;
        *eq = '\0';
        return set_member(k, trim(s), trim(eq + 1));
}

int credentials_load(const char *path, struct credentials *ret, struct err *err)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        struct credentials c = { 0 };
        struct cred_key k = { 0 };
        char line[1024];
        unsigned lineno = 0;
        int r = 0;

        if (!f)
                return err_set(err, errno, NULL, "credentials file '%s': %s", path, strerror(errno));
        while (fgets(line, sizeof line, f)) {
                lineno++;
                if ((r = parse_line(&c, &k, line)) < 0)
                        break;
        }
        if (r == 0)
                r = flush(&c, &k);
        explicit_bzero(&k, sizeof k);
        if (r < 0) {
                credentials_free(&c);
                return err_set(err, -r, NULL, "credentials file '%s' line %u: %s", path, lineno,
                               r == -EINVAL ? "neither [profile] nor name = value" : strerror(-r));
        }
        *ret = c;
        return 0;
}

void credentials_free(struct credentials *c)
{
        if (c->keys)
                explicit_bzero(c->keys, c->n * sizeof *c->keys);
        free(c->keys);
        *c = (struct credentials) { 0 };
}

const struct cred_key *credentials_find(const struct credentials *c, const char *akid)
{
        for (size_t i = 0; akid && i < c->n; i++)
                if (!strcmp(c->keys[i].akid, akid))
                        return &c->keys[i];
        return NULL;
}

const struct cred_key *credentials_profile(const struct credentials *c, const char *profile)
{
        for (size_t i = 0; profile && i < c->n; i++)
                if (!strcmp(c->keys[i].profile, profile))
                        return &c->keys[i];
        return NULL;
}

/* n characters drawn uniformly from alphabet (rejection sampling keeps every character equally likely). */
static int random_chars(char *out, size_t n, const char *alphabet)
{
        size_t len = strlen(alphabet), limit = 256 - 256 % len;
        uint8_t buf[64];
        size_t have = 0, pos = 0;
        int r;
        for (size_t i = 0; i < n;) {
                if (pos == have) {
                        if ((r = random_bytes(buf, sizeof buf)) < 0)
                                return r;
                        have = sizeof buf;
                        pos = 0;
                }
                uint8_t b = buf[pos++];
                if (b < limit)
                        out[i++] = alphabet[b % len];
        }
        out[n] = '\0';
        explicit_bzero(buf, sizeof buf);
        return 0;
}

int credentials_generate(char akid[CRED_KEY_MAX + 1], char secret[CRED_KEY_MAX + 1])
{
        int r;
        memcpy(akid, "AKIA", 4);
        if ((r = random_chars(akid + 4, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")) < 0)
                return r;
        return random_chars(secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
}

int credentials_ensure(const char *path, struct err *err)
{
        char akid[CRED_KEY_MAX + 1], secret[CRED_KEY_MAX + 1];
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        int r, n;

        if (access(path, F_OK) == 0)
                return 0;
        if (errno != ENOENT)
                return err_set(err, errno, NULL, "credentials file '%s': %s", path, strerror(errno));
        if ((r = credentials_generate(akid, secret)) < 0)
                return err_set(err, -r, NULL, "credentials file '%s': random key: %s", path, strerror(-r));
        n = asprintf(&text, "[" CRED_DEFAULT_PROFILE "]\naws_access_key_id = %s\naws_secret_access_key = %s\n", akid, secret);
        explicit_bzero(secret, sizeof secret);
        if (n < 0) {
                text = NULL;
                return err_set(err, ENOMEM, NULL, "credentials file '%s': %s", path, strerror(ENOMEM));
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = errno;
                explicit_bzero(text, (size_t) n);
                if (r == EEXIST)
                        return 0;   /* made by someone else meanwhile */
                return err_set(err, r, NULL, "create credentials file '%s': %s", path, strerror(r));
        }
        r = write_all(fd, text, (size_t) n);
        explicit_bzero(text, (size_t) n);
        if (r < 0 || fsync(fd) < 0) {
                r = r < 0 ? -r : errno;
                (void) unlink(path);
                return err_set(err, r, NULL, "write credentials file '%s': %s", path, strerror(r));
        }
        return 1;
}
