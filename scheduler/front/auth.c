/* auth.c: SigV4 verification for ecsboxd's HTTP front, keys from the shared-credentials file (re-read
 * when it changes), refusals with AWS's error types, texts and HTTP statuses. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "auth.h"

static int reload(struct auth *a, const struct stat *st, struct err *err)
{
        struct credentials c = { 0 };
        int r = credentials_load(a->path, &c, err);
        if (r < 0)
                return r;
        credentials_free(&a->creds);
        a->creds = c;
        a->dev = st->st_dev;
        a->ino = st->st_ino;
        a->mtime = st->st_mtim;
        a->size = st->st_size;
        return 0;
}

/* Re-reads the file when it is another file or was changed since the last read; a file that
 * cannot be read now keeps the keys read before (logged by the caller through err). */
static int refresh(struct auth *a, struct err *err)
{
        struct stat st;
        if (stat(a->path, &st) < 0)
                return err_set(err, errno, NULL, "credentials file '%s': %s", a->path, strerror(errno));
        if (st.st_dev == a->dev && st.st_ino == a->ino && st.st_size == a->size &&
            st.st_mtim.tv_sec == a->mtime.tv_sec && st.st_mtim.tv_nsec == a->mtime.tv_nsec)
                return 0;
        return reload(a, &st, err);
}

int auth_open(struct auth *a, const char *path, struct err *err)
{
        struct stat st;
        int r;
        *a = (struct auth) { 0 };
        if (strlen(path) >= sizeof a->path)
                return err_set(err, ENAMETOOLONG, NULL, "credentials file '%s': %s", path, strerror(ENAMETOOLONG));
        strcpy(a->path, path);
        if ((r = sigv4_init()) < 0)
                return err_set(err, -r, NULL, "libcrypto: cannot compute HMAC-SHA256: %s", strerror(-r));
        if ((r = credentials_ensure(path, err)) < 0)
                return r;
        if (stat(path, &st) < 0)
                return err_set(err, errno, NULL, "credentials file '%s': %s", path, strerror(errno));
        if ((r = reload(a, &st, err)) < 0)
                return r;
        if (a->creds.n == 0)
                return err_set(err, ENOKEY, NULL, "credentials file '%s' holds no profile with both "
                               "aws_access_key_id and aws_secret_access_key", path);
        return 0;
}

void auth_close(struct auth *a)
{
        credentials_free(&a->creds);
}

bool auth_region_valid(const char *s)
{
        /* ^[a-z]{2}(-[a-z]+)+-[0-9]+$ */
        size_t i = 2;
        int words = 0;
        if (strlen(s) > SIGV4_SCOPE_PART_MAX || !islower((unsigned char) s[0]) || !islower((unsigned char) s[1]))
                return false;
        for (;;) {
                if (s[i++] != '-')
                        return false;
                if (isdigit((unsigned char) s[i])) {
                        while (isdigit((unsigned char) s[i]))
                                i++;
                        return s[i] == '\0' && words > 0;
                }
                if (!islower((unsigned char) s[i]))
                        return false;
                while (islower((unsigned char) s[i]))
                        i++;
                words++;
        }
}

static const char *header(const struct sigv4_msg *m, const char *name)
{
        for (size_t i = 0; i < m->n_headers; i++)
                if (!strcasecmp(m->headers[i].name, name))
                        return m->headers[i].value;
        return NULL;
}

static int refuse(int *ret_status, int status, struct err *err, const char *code, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int refuse(int *ret_status, int status, struct err *err, const char *code, const char *fmt, ...)
{
        char msg[ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        *ret_status = status;
        return err_set(err, EACCES, code, "%s", msg);
}

/* X-Amz-Date within 5 minutes of now, and the scope's date its date. */
static int check_date(const struct sigv4_auth *s, const char *amz_date, double now, int *ret_status, struct err *err)
{
        char early[SIGV4_AMZ_DATE_LEN + 1], late[SIGV4_AMZ_DATE_LEN + 1], cur[SIGV4_AMZ_DATE_LEN + 1];
        int64_t t, n = (int64_t) now;

        if (!amz_date)
                return refuse(ret_status, 400, err, SIGV4_E_INCOMPLETE,
                              "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
        if (sigv4_parse_amz_date(amz_date, &t) < 0)
                return refuse(ret_status, 400, err, SIGV4_E_INCOMPLETE,
                              "X-Amz-Date '%.32s' is not an ISO-8601 basic timestamp such as 20261202T140000Z.", amz_date);
        sigv4_format_amz_date(n, cur);
        sigv4_format_amz_date(n - AUTH_SKEW_SECONDS, early);
        sigv4_format_amz_date(n + AUTH_SKEW_SECONDS, late);
        if (t < n - AUTH_SKEW_SECONDS)
                return refuse(ret_status, 403, err, SIGV4_E_SIGNATURE,
                              "Signature expired: %s is now earlier than %s (%s - 5 min.)", amz_date, early, cur);
        if (t > n + AUTH_SKEW_SECONDS)
                return refuse(ret_status, 403, err, SIGV4_E_SIGNATURE,
                              "Signature not yet current: %s is still later than %s (%s + 5 min.)", amz_date, late, cur);
        if (strncmp(s->date, amz_date, 8) != 0)
                return refuse(ret_status, 403, err, SIGV4_E_SIGNATURE,
                              "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                              "'%s' != '%.8s', from '%s'.", s->date, amz_date, amz_date);
        return 0;
}

int auth_verify(struct auth *a, const struct auth_request *r, struct auth_result *ret, int *ret_status,
                struct err *err)
{
        const char *authorization = header(r->msg, "Authorization");
        const char *amz_date = header(r->msg, "X-Amz-Date");
        const struct cred_key *k;
        struct sigv4_auth s;
        struct err e = { 0 };
        int rc;

        if (!authorization || !*authorization)
                return refuse(ret_status, 403, err, SIGV4_E_MISSING, "Missing Authentication Token");
        if (sigv4_parse_auth(authorization, &s, err) < 0) {
                *ret_status = 400;
                err->errnum = EACCES;
                return -EACCES;
        }
        if (refresh(a, &e) < 0)
                (void) e;   /* keep the keys read before; the file may be being rewritten */
        if (!(k = credentials_find(&a->creds, s.akid)))
                return refuse(ret_status, 403, err, SIGV4_E_UNKNOWN_KEY,
                              "The security token included in the request is invalid.");
        if ((rc = check_date(&s, amz_date, r->now, ret_status, err)) < 0)
                return rc;
        if (strcmp(s.service, r->service) != 0)
                return refuse(ret_status, 403, err, SIGV4_E_SIGNATURE,
                              "Credential should be scoped to correct service: '%s'. ", r->service);
        if (!auth_region_valid(s.region))
                return refuse(ret_status, 403, err, SIGV4_E_SIGNATURE,
                              "Credential should be scoped to a valid region, not '%s'. ", s.region);
        if (sigv4_verify(r->msg, &s, k->secret, amz_date, err) < 0) {
                *ret_status = err->errnum == ENOMEM || err->errnum == EIO ? 500 : 403;
                if (*ret_status == 403)
                        err->errnum = EACCES;
                return -EACCES;
        }
        snprintf(ret->akid, sizeof ret->akid, "%s", k->akid);
        snprintf(ret->profile, sizeof ret->profile, "%s", k->profile);
        snprintf(ret->region, sizeof ret->region, "%s", s.region);
        return 0;
}
