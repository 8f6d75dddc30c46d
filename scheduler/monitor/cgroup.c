/* cgroup.c: per-container v1 memory and cpu cgroups, made below the monitor's own cgroup, never at a root. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "monitor.h"

#define CGROUP_V1_ROOT "/sys/fs/cgroup"

/* Find the v1 hierarchy that holds controller in /proc/self/cgroup: its mount directory
 * (/sys/fs/cgroup/<controller list>) and our path in it. -ENOENT when no v1 hierarchy has it. */
static int own_cgroup(const char *controller, char *ret_mount, size_t mlen, char *ret_path, size_t plen)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
        char line[4096];

        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f)) {
                char *ctrls, *path, *save = NULL;
                bool match = false;
                line[strcspn(line, "\n")] = '\0';
                ctrls = strchr(line, ':');
                if (!ctrls)
                        continue;
                path = strchr(++ctrls, ':');
                if (!path)
                        continue;
                *path++ = '\0';
                if (!*ctrls)
                        continue;       /* the v2 line "0::/..." */
                char list[256];
                snprintf(list, sizeof list, "%s", ctrls);
                for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        match |= strcmp(t, controller) == 0;
                if (!match)
                        continue;
                struct stat st;
                snprintf(ret_mount, mlen, "%s/%s", CGROUP_V1_ROOT, ctrls);
                if (stat(ret_mount, &st) < 0)
                        snprintf(ret_mount, mlen, "%s/%s", CGROUP_V1_ROOT, controller);
                snprintf(ret_path, plen, "%s", path);
                return 0;
        }
        return -ENOENT;
}

/* Make <mount><own>/<parent>/<taskId>/<container>; returns the container dir (owned) or NULL with why. */
static char *make_dir(struct monitor *m, const struct container *c, const char *controller, char **task_dir,
                      char *why, size_t wlen)
{
        char mount[512], own[2048], path[4096];
        const char *parent = m->spec->cgroup_parent ? m->spec->cgroup_parent : "ecsbox";
        int r = own_cgroup(controller, mount, sizeof mount, own, sizeof own);

        if (r == -ENOENT) {
                snprintf(why, wlen, "%s: no cgroup v1 %s controller on this host", controller, controller);
                return NULL;
        }
        if (r < 0) {
                snprintf(why, wlen, "%s: read /proc/self/cgroup: %s", controller, strerror(-r));
                return NULL;
        }
        if (strcmp(own, "/") == 0) {
                /* DESIGN.md: task cgroups go below the daemon's own, never at the hierarchy's root. */
                snprintf(why, wlen, "%s: the monitor's %s cgroup is the hierarchy root", controller, controller);
                return NULL;
        }
        snprintf(path, sizeof path, "%s%s/%s/%s", mount, own, parent, m->spec->task_id);
        if ((r = mkdir_p(path, 0755)) < 0) {
                snprintf(why, wlen, "%s: create '%s': %s", controller, path, strerror(-r));
                return NULL;
        }
        if (!*task_dir)
                *task_dir = strdup(path);
        snprintf(path + strlen(path), sizeof path - strlen(path), "/%s", c->spec->name);
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                snprintf(why, wlen, "%s: create '%s': %s", controller, path, strerror(errno));
                return NULL;
        }
        return strdup(path);
}

static int set_value(const char *dir, const char *file, long long v, char *why, size_t wlen)
{
        char path[4096], val[32];
        int r;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        snprintf(val, sizeof val, "%lld", v);
        if ((r = write_string_file(path, val)) < 0)
                snprintf(why, wlen, "write %s to '%s': %s", val, path, strerror(-r));
        return r;
}

static void append(char *buf, size_t len, const char *s)
{
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s", n ? "; " : "", s);
}

static int setup_memory(struct monitor *m, struct container *c, char *why, size_t wlen)
{
        const struct container_spec *cs = c->spec;
        char path[4096];
        struct stat st;
        int r;

        c->cg.mem_dir = make_dir(m, c, "memory", &m->mem_task_dir, why, wlen);
        if (!c->cg.mem_dir)
                return -ENOENT;
        if (cs->memory_mib >= 0) {
                if ((r = set_value(c->cg.mem_dir, "memory.limit_in_bytes", cs->memory_mib << 20, why, wlen)) < 0)
                        return r;
                /* Without swap accounting the file is absent and the limit is RAM only. */
                snprintf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", c->cg.mem_dir);
                if (stat(path, &st) == 0 &&
                    (r = set_value(c->cg.mem_dir, "memory.memsw.limit_in_bytes", cs->memory_mib << 20, why, wlen)) < 0)
                        return r;
        }
        if (cs->reservation_mib >= 0 &&
            (r = set_value(c->cg.mem_dir, "memory.soft_limit_in_bytes", cs->reservation_mib << 20, why, wlen)) < 0)
                return r;
        return 0;
}

static int setup_cpu(struct monitor *m, struct container *c, char *why, size_t wlen)
{
        /* ECS cpu units map to shares one to one; the kernel's minimum is 2. */
        long long shares = c->spec->cpu < 2 ? 2 : c->spec->cpu;
        c->cg.cpu_dir = make_dir(m, c, "cpu", &m->cpu_task_dir, why, wlen);
        if (!c->cg.cpu_dir)
                return -ENOENT;
        return set_value(c->cg.cpu_dir, "cpu.shares", shares, why, wlen);
}

int cgroup_setup(struct monitor *m, struct container *c)
{
        const struct container_spec *cs = c->spec;
        char missing[1024] = "", enforced[64] = "", why[1024];
        bool want_mem = cs->memory_mib >= 0 || cs->reservation_mib >= 0, want_cpu = cs->cpu >= 0;

        if (want_mem) {
                why[0] = '\0';
                if (setup_memory(m, c, why, sizeof why) < 0) {
                        append(missing, sizeof missing, why);
                        if (c->cg.mem_dir) {
                                (void) rmdir(c->cg.mem_dir);
                                free(c->cg.mem_dir);
                                c->cg.mem_dir = NULL;
                        }
                } else
                        append(enforced, sizeof enforced, "memory");
        }
        if (want_cpu) {
                why[0] = '\0';
                if (setup_cpu(m, c, why, sizeof why) < 0) {
                        append(missing, sizeof missing, why);
                        if (c->cg.cpu_dir) {
                                (void) rmdir(c->cg.cpu_dir);
                                free(c->cg.cpu_dir);
                                c->cg.cpu_dir = NULL;
                        }
                } else
                        append(enforced, sizeof enforced, "cpu");
        }
        free(c->cg.limits);
        c->cg.limits = NULL;
        if (!want_mem && !want_cpu)
                c->cg.limits = strdup("none");
        else if (!missing[0])
                c->cg.limits = strdup("enforced");
        else if (asprintf(&c->cg.limits, "unavailable: %s%s%s%s", missing, enforced[0] ? " (enforced: " : "",
                          enforced, enforced[0] ? ")" : "") < 0)
                c->cg.limits = NULL;
        if (missing[0])
                log_warning("task=%s container=%s limits=\"%s\" msg=\"running without the limit, ignoring\"",
                            m->spec->task_id, cs->name, missing);
        return 0;
}

/* Writing 0 to cgroup.procs moves the writer itself: no PID to translate across PID namespaces. */
int cgroup_join_self(const struct container *c)
{
        const char *dirs[] = { c->cg.mem_dir, c->cg.cpu_dir };
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                char path[4096];
                int r;
                if (!dirs[i])
                        continue;
                snprintf(path, sizeof path, "%s/cgroup.procs", dirs[i]);
                if ((r = write_string_file(path, "0")) < 0)
                        return r;
        }
        return 0;
}

bool cgroup_oom_killed(const struct container *c)
{
        char path[4096], buf[512];
        const char *p;
        if (!c->cg.mem_dir)
                return false;
        snprintf(path, sizeof path, "%s/memory.oom_control", c->cg.mem_dir);
        if (read_file_small(path, buf, sizeof buf) < 0)
                return false;
        p = strstr(buf, "oom_kill ");
        return p && atoll(p + strlen("oom_kill ")) > 0;
}

static void remove_dir(const char *dir, const char *task_id)
{
        /* The last tasks of a PID namespace may take a moment to leave after its init was reaped. */
        for (int i = 0; i < 50; i++) {
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return;
                if (errno != EBUSY)
                        break;
                usleep(10000);
        }
        log_warning("task=%s cgroup=%s err=\"%s\" msg=\"remove cgroup, ignoring\"", task_id, dir, strerror(errno));
}

static void cgroup_cleanup(struct monitor *m, struct container *c)
{
        if (c->cg.mem_dir)
                remove_dir(c->cg.mem_dir, m->spec->task_id);
        if (c->cg.cpu_dir)
                remove_dir(c->cg.cpu_dir, m->spec->task_id);
        free(c->cg.mem_dir);
        free(c->cg.cpu_dir);
        c->cg.mem_dir = c->cg.cpu_dir = NULL;
}

void cgroup_task_cleanup(struct monitor *m)
{
        for (size_t i = 0; i < m->n; i++)
                cgroup_cleanup(m, &m->ctrs[i]);
        if (m->mem_task_dir)
                remove_dir(m->mem_task_dir, m->spec->task_id);
        if (m->cpu_task_dir)
                remove_dir(m->cpu_task_dir, m->spec->task_id);
        free(m->mem_task_dir);
        free(m->cpu_task_dir);
        m->mem_task_dir = m->cpu_task_dir = NULL;
}
