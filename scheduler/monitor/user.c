/* user.c: resolve a container's "user" against the image's /etc/passwd and /etc/group (Docker's rules). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "spec.h"

#define ID_LIMIT 0x7fffffffUL

static bool parse_id(const char *s, unsigned long *ret)
{
        char *end;
        unsigned long v;
        if (!*s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > ID_LIMIT)
                return false;
        *ret = v;
        return true;
}

static bool part_valid(const char *s, size_t n)
{
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] == ':' || s[i] == ' ' || (unsigned char) s[i] < 0x21)
                        return false;
        return true;
}

bool user_spec_valid(const char *spec)
{
        const char *colon;
        if (!spec)
                return false;
        colon = strchr(spec, ':');
        if (!colon)
                return part_valid(spec, strlen(spec));
        return part_valid(spec, (size_t) (colon - spec)) && part_valid(colon + 1, strlen(colon + 1));
}

/* Split a passwd/group line into up to max ':' fields (in place). Returns the count. */
static size_t split_fields(char *line, char **f, size_t max)
{
        size_t n = 0;
        line[strcspn(line, "\n")] = '\0';
        f[n++] = line;
        for (char *p = line; *p && n < max; p++)
                if (*p == ':') {
                        *p = '\0';
                        f[n++] = p + 1;
                }
        return n;
}

struct pw_entry {
        bool found;
        char name[65];
        unsigned long uid, gid;
        char home[256];
};

/* Look up by name (name != NULL) or by uid. A missing file is "not found". */
static int passwd_lookup(const char *path, const char *name, unsigned long uid, struct pw_entry *ret)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[1024];

        ret->found = false;
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (fgets(line, sizeof line, f)) {
                char *fl[7];
                unsigned long u, g;
                if (line[0] == '#' || split_fields(line, fl, 7) < 7)
                        continue;
                if (!parse_id(fl[2], &u) || !parse_id(fl[3], &g))
                        continue;
                if (name ? strcmp(fl[0], name) != 0 : u != uid)
                        continue;
                ret->found = true;
                snprintf(ret->name, sizeof ret->name, "%s", fl[0]);
                ret->uid = u;
                ret->gid = g;
                snprintf(ret->home, sizeof ret->home, "%s", fl[5][0] ? fl[5] : "/");
                return 0;
        }
        return 0;
}

static bool member_of(char *members, const char *user)
{
        for (char *save = NULL, *m = strtok_r(members, ",", &save); m; m = strtok_r(NULL, ",", &save))
                if (strcmp(m, user) == 0)
                        return true;
        return false;
}

/* Find a group by name (when name != NULL) and collect the groups that list user (when user != NULL). */
static int group_scan(const char *path, const char *name, unsigned long *ret_gid, bool *ret_found, const char *user,
                      gid_t **groups, size_t *n_groups)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[4096];

        if (ret_found)
                *ret_found = false;
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (fgets(line, sizeof line, f)) {
                char *fl[4];
                unsigned long g;
                if (line[0] == '#' || split_fields(line, fl, 4) < 4 || !parse_id(fl[2], &g))
                        continue;
                if (name && !*ret_found && strcmp(fl[0], name) == 0) {
                        *ret_gid = g;
                        *ret_found = true;
                }
                if (user && member_of(fl[3], user)) {
                        gid_t *ng = realloc(*groups, (*n_groups + 1) * sizeof(gid_t));
                        if (!ng)
                                return -ENOMEM;
                        *groups = ng;
                        (*groups)[(*n_groups)++] = (gid_t) g;
                }
        }
        return 0;
}

void user_ids_done(struct user_ids *u)
{
        if (!u)
                return;
        free(u->groups);
        free(u->home);
        u->groups = NULL;
        u->home = NULL;
        u->n_groups = 0;
}

int user_resolve(const char *spec, const char *passwd_path, const char *group_path, struct user_ids *ret,
                 struct err *err)
{
        char user[65] = "root", group[65] = "";
        const char *colon;
        struct pw_entry pw;
        unsigned long uid, gid = 0;
        bool numeric_uid, have_group = false;
        struct user_ids out = { 0 };
        int r;

        if (spec) {
                if (!user_spec_valid(spec))
                        return err_set(err, EINVAL, NULL, "invalid user '%s'", spec);
                colon = strchr(spec, ':');
                snprintf(user, sizeof user, "%.*s", (int) (colon ? (size_t) (colon - spec) : strlen(spec)), spec);
                if (colon) {
                        snprintf(group, sizeof group, "%s", colon + 1);
                        have_group = true;
                }
        }
        numeric_uid = parse_id(user, &uid);
        r = passwd_lookup(passwd_path, numeric_uid ? NULL : user, numeric_uid ? uid : 0, &pw);
        if (r < 0)
                return err_set(err, -r, NULL, "read '%s': %s", passwd_path, strerror(-r));
        if (!numeric_uid && !pw.found) {
                if (strcmp(user, "root") != 0)
                        return err_set(err, ENOENT, NULL, "unable to find user %s: no matching entries in passwd file",
                                       user);
                pw = (struct pw_entry) { .found = true, .name = "root", .uid = 0, .gid = 0, .home = "/root" };
        }
        if (pw.found) {
                uid = pw.uid;
                gid = pw.gid;
        }
        if (have_group) {
                if (!parse_id(group, &gid)) {
                        bool found;
                        r = group_scan(group_path, group, &gid, &found, NULL, NULL, NULL);
                        if (r < 0)
                                return err_set(err, -r, NULL, "read '%s': %s", group_path, strerror(-r));
                        if (!found)
                                return err_set(err, ENOENT, NULL,
                                               "unable to find group %s: no matching entries in group file", group);
                }
        }
        if (pw.found) {
                r = group_scan(group_path, NULL, NULL, NULL, pw.name, &out.groups, &out.n_groups);
                if (r < 0) {
                        free(out.groups);
                        return err_set(err, -r, NULL, "read '%s': %s", group_path, strerror(-r));
                }
        }
        if (!(out.home = strdup(pw.found ? pw.home : "/"))) {
                free(out.groups);
                return -ENOMEM;
        }
        out.uid = (uid_t) uid;
        out.gid = (gid_t) gid;
        *ret = out;
        return 0;
}
