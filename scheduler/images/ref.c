/* ref.c: image references, normalised as distribution/reference (Docker's normalize.go) does. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "ref.h"

#define REF_CODE "InvalidParameterException"

bool image_digest_valid(const char *d)
{
        if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
                return false;
        for (const char *p = d + 7; *p; p++)
                if (!isdigit((unsigned char) *p) && !(*p >= 'a' && *p <= 'f'))
                        return false;
        return true;
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
static bool component_valid(const char *s, size_t n)
{
        size_t i = 0;

        if (n == 0)
                return false;
        while (i < n) {
                size_t run = 0;
                while (i < n && (islower((unsigned char) s[i]) || isdigit((unsigned char) s[i])))
                        i++, run++;
                if (run == 0)
                        return false;
                if (i == n)
                        return true;
                if (s[i] == '.' || (s[i] == '_' && (i + 1 >= n || s[i + 1] != '_')))
                        i++;
                else if (s[i] == '_')
                        i += 2;
                else if (s[i] == '-')
                        while (i < n && s[i] == '-')
                                i++;
                else
                        return false;
                if (i == n)
                        return false;
        }
        return true;
}

/* domain: host components of [A-Za-z0-9-] joined by dots, optional :port; or an [IPv6] literal. */
static bool domain_valid(const char *s, size_t n)
{
        size_t i = 0;

        if (n == 0)
                return false;
        if (s[0] == '[') {
                const char *e = memchr(s, ']', n);
                if (!e)
                        return false;
                i = (size_t) (e - s) + 1;
        } else
                while (i < n && s[i] != ':') {
                        if (!isalnum((unsigned char) s[i]) && s[i] != '-' && s[i] != '.')
                                return false;
                        if (s[i] == '.' && (i == 0 || s[i - 1] == '.'))
                                return false;
                        i++;
                }
        if (i == n)
                return true;
        if (s[i] != ':' || i + 1 == n)
                return false;
        for (i++; i < n; i++)
                if (!isdigit((unsigned char) s[i]))
                        return false;
        return true;
}

static bool has_upper(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (isupper((unsigned char) s[i]))
                        return true;
        return false;
}

static bool tag_valid(const char *t)
{
        size_t n = strlen(t);
        if (n == 0 || n > 128 || !(isalnum((unsigned char) t[0]) || t[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char) t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
                        return false;
        return true;
}

void image_ref_done(struct image_ref *r)
{
        if (!r)
                return;
        free(r->registry);
        free(r->repository);
        free(r->tag);
        free(r->digest);
        *r = (struct image_ref) { 0 };
}

int image_ref_parse(const char *s, struct image_ref *ret, struct err *err)
{
        _cleanup_free_ char *name = NULL;
        struct image_ref r = { 0 };
        const char *at, *slash, *colon, *rest;
        size_t dlen;

        if (!s || !*s)
                return err_set(err, EINVAL, REF_CODE, "image reference is empty");
        if (strlen(s) > 4096)
                return err_set(err, EINVAL, REF_CODE, "image reference of %zu bytes is too long", strlen(s));
        name = strdup(s);
        if (!name)
                return -ENOMEM;
        at = strchr(name, '@');
        if (at) {
                if (!image_digest_valid(at + 1))
                        return err_set(err, EINVAL, REF_CODE, "image '%s': invalid digest '%s' (want sha256: and 64 lower-case hex digits)", s,
                                       at + 1);
                if (!(r.digest = strdup(at + 1)))
                        return -ENOMEM;
                name[at - name] = '\0';
        }
        slash = strrchr(name, '/');
        colon = strrchr(name, ':');
        if (colon && (!slash || colon > slash)) {
                if (!tag_valid(colon + 1)) {
                        image_ref_done(&r);
                        return err_set(err, EINVAL, REF_CODE, "image '%s': invalid tag '%s'", s, colon + 1);
                }
                if (!(r.tag = strdup(colon + 1))) {
                        image_ref_done(&r);
                        return -ENOMEM;
                }
                name[colon - name] = '\0';
        }
        /* The first component is a registry when it has a dot or a port, or is localhost (normalize.go). */
        slash = strchr(name, '/');
        dlen = slash ? (size_t) (slash - name) : 0;
        if (slash && (memchr(name, '.', dlen) || memchr(name, ':', dlen) || (dlen == 9 && !strncmp(name, "localhost", 9)) ||
                      has_upper(name, dlen))) {
                if (!domain_valid(name, dlen)) {
                        image_ref_done(&r);
                        return err_set(err, EINVAL, REF_CODE, "image '%s': invalid registry '%.*s'", s, (int) dlen, name);
                }
                r.registry = strndup(name, dlen);
                rest = slash + 1;
        } else {
                r.registry = strdup(REF_DOCKER_HUB);
                rest = name;
        }
        if (r.registry && (!strcmp(r.registry, "index.docker.io") || !strcmp(r.registry, "registry-1.docker.io"))) {
                free(r.registry);
                r.registry = strdup(REF_DOCKER_HUB);
        }
        if (r.registry && !strcmp(r.registry, REF_DOCKER_HUB) && !strchr(rest, '/')) {
                if (asprintf(&r.repository, "library/%s", rest) < 0)
                        r.repository = NULL;
        } else
                r.repository = strdup(rest);
        if (!r.registry || !r.repository) {
                image_ref_done(&r);
                return -ENOMEM;
        }
        for (const char *p = r.repository, *e;; p = e + 1) {
                e = strchr(p, '/');
                if (!component_valid(p, e ? (size_t) (e - p) : strlen(p))) {
                        bool upper = has_upper(r.repository, strlen(r.repository));
                        image_ref_done(&r);
                        return err_set(err, EINVAL, REF_CODE, "image '%s': invalid repository name%s", s,
                                       upper ? " (must be lower case)" : "");
                }
                if (!e)
                        break;
        }
        if (strlen(r.registry) + 1 + strlen(r.repository) > REF_NAME_MAX) {
                image_ref_done(&r);
                return err_set(err, EINVAL, REF_CODE, "image '%s': repository name longer than %d characters", s, REF_NAME_MAX);
        }
        if (!r.tag && !r.digest && !(r.tag = strdup("latest"))) {
                image_ref_done(&r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

static char *ref_format(const struct image_ref *r, bool familiar, bool with_tag)
{
        char *s = NULL;
        const char *repo = r->repository;
        bool hub = !strcmp(r->registry, REF_DOCKER_HUB);
        size_t first = strcspn(repo, "/");

        /* "docker.io/a.b/c" stays whole: "a.b/c" would name the registry a.b (Docker's familiar form
         * has this ambiguity; found by fuzz_sched_images). */
        if (familiar && hub && repo[first] == '/' &&
            (memchr(repo, '.', first) || memchr(repo, ':', first) || (first == 9 && !strncmp(repo, "localhost", 9))))
                familiar = false;
        if (familiar && hub && !strncmp(repo, "library/", 8) && !strchr(repo + 8, '/'))
                repo += 8;
        if (asprintf(&s, "%s%s%s%s%s%s%s", familiar && hub ? "" : r->registry, familiar && hub ? "" : "/", repo,
                     with_tag && r->tag ? ":" : "", with_tag && r->tag ? r->tag : "", with_tag && r->digest ? "@" : "",
                     with_tag && r->digest ? r->digest : "") < 0)
                return NULL;
        return s;
}

char *image_ref_canonical(const struct image_ref *r)
{
        return ref_format(r, false, true);
}

char *image_ref_name(const struct image_ref *r)
{
        return ref_format(r, false, false);
}

char *image_ref_familiar(const struct image_ref *r)
{
        return ref_format(r, true, true);
}

const char *image_ref_api_host(const struct image_ref *r)
{
        return strcmp(r->registry, REF_DOCKER_HUB) ? r->registry : "registry-1.docker.io";
}
