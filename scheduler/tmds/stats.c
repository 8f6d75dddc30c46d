/* stats.c: /v4/ID/stats and /v4/ID/task/stats: Docker's stats shape (what the ECS agent serves) from the
 * container's cgroup v1 memory and cpu,cpuacct directories (the monitor reports them in status.json) and
 * the task namespace's interfaces (/proc/PID/net/dev of the container's first process). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsbox/timeutil.h"
#include "stats.h"

/* one unsigned number from a file, or -1 */
static long long read_num(const char *dir, const char *file)
{
        char path[4200], buf[64];
        _cleanup_fclose_ FILE *f = NULL;
        if (!dir)
                return -1;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (!(f = fopen(path, "re")) || !fgets(buf, sizeof buf, f))
                return -1;
        return strtoll(buf, NULL, 10);
}

/* "key value" lines (memory.stat, cpuacct.stat) into an object of integers */
static json_t *read_kv(const char *dir, const char *file)
{
        char path[4200], line[256], key[128];
        long long v;
        _cleanup_fclose_ FILE *f = NULL;
        json_t *o = json_object();
        if (!dir)
                return o;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (!(f = fopen(path, "re")))
                return o;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "%127s %lld", key, &v) == 2)
                        json_object_set_new(o, key, json_integer(v));
        return o;
}

static long long count_lines(const char *dir, const char *file)
{
        char path[4200], line[64];
        long long n = 0;
        _cleanup_fclose_ FILE *f = NULL;
        if (!dir)
                return 0;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (!(f = fopen(path, "re")))
                return 0;
        while (fgets(line, sizeof line, f))
                n++;
        return n;
}

/* utime and stime of one process (clock ticks), from /proc/PID/stat */
static void proc_ticks(long pid, long long *user, long long *sys)
{
        char path[64], buf[1024], *p;
        _cleanup_fclose_ FILE *f = NULL;
        unsigned long long u = 0, s = 0;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        if (!(f = fopen(path, "re")) || !fgets(buf, sizeof buf, f) || !(p = strrchr(buf, ')')))
                return;
        /* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &u, &s) == 2) {
                *user += (long long) u;
                *sys += (long long) s;
        }
}

/* Without a cpu cgroup (a container with no cpu units has none): the processes of its memory cgroup, else
 * its first process, summed from /proc. */
static void cpu_from_procs(const char *mem_dir, long pid, long long *user, long long *sys)
{
        char path[4200], line[64];
        _cleanup_fclose_ FILE *f = NULL;
        if (mem_dir) {
                snprintf(path, sizeof path, "%s/tasks", mem_dir);
                f = fopen(path, "re");
        }
        if (!f) {
                if (pid > 0)
                        proc_ticks(pid, user, sys);
                return;
        }
        while (fgets(line, sizeof line, f))
                proc_ticks(atol(line), user, sys);
}

/* /proc/stat's cpu line in nanoseconds, as Docker's system_cpu_usage */
static long long system_cpu_ns(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/stat", "re");
        unsigned long long v[10] = { 0 }, sum = 0;
        long hz = sysconf(_SC_CLK_TCK);
        if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 4)
                return 0;
        for (int i = 0; i < 8; i++)
                sum += v[i];
        return (long long) (sum * (1000000000ull / (unsigned long long) (hz > 0 ? hz : 100)));
}

/* the interfaces of the container's namespace but lo, Docker's field names */
static json_t *networks(long pid)
{
        char path[64], line[512];
        _cleanup_fclose_ FILE *f = NULL;
        json_t *o = json_object();
        if (pid <= 0)
                return o;
        snprintf(path, sizeof path, "/proc/%ld/net/dev", pid);
        if (!(f = fopen(path, "re")))
                return o;
        while (fgets(line, sizeof line, f)) {
                char name[64];
                unsigned long long rb, rp, re, rd, tb, tp, te, td, x;
                char *colon = strchr(line, ':');
                if (!colon)
                        continue;
                *colon = ' ';
                if (sscanf(line, " %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", name, &rb, &rp, &re, &rd, &x, &x, &x,
                           &x, &tb, &tp, &te, &td) != 13 || !strcmp(name, "lo"))
                        continue;
                json_object_set_new(o, name,
                                    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rx_bytes", (json_int_t) rb, "rx_packets",
                                              (json_int_t) rp, "rx_errors", (json_int_t) re, "rx_dropped", (json_int_t) rd, "tx_bytes",
                                              (json_int_t) tb, "tx_packets", (json_int_t) tp, "tx_errors", (json_int_t) te, "tx_dropped",
                                              (json_int_t) td));
        }
        return o;
}

json_t *tmds_stats_sample(const char *docker_id, const char *name, long pid, const char *mem_dir, const char *cpu_dir, long online_cpus)
{
        char now[ISO8601_MAX];
        long long usage = read_num(mem_dir, "memory.usage_in_bytes"), limit = read_num(mem_dir, "memory.limit_in_bytes");
        long long cpu_total = read_num(cpu_dir, "cpuacct.usage");
        long hz = sysconf(_SC_CLK_TCK);
        json_t *cs = read_kv(cpu_dir, "cpuacct.stat"), *o;
        long long ns_per_tick = 1000000000ll / (hz > 0 ? hz : 100);

        long long user = jint(cs, "user", 0), sys = jint(cs, "system", 0);
        if (!cpu_dir) {
                user = sys = 0;
                cpu_from_procs(mem_dir, pid, &user, &sys);
                cpu_total = (user + sys) * ns_per_tick;
        }
        iso8601_ms(-1, now);
        o = json_pack("{s:s, s:s, s:s, s:{s:I}, s:{s:{s:I, s:I, s:I}, s:I, s:I, s:{s:I, s:I, s:I}}, s:{s:I, s:I, s:o, s:I}, s:o}", "read",
                      now, "name", name, "id", docker_id, "pids_stats", "current", (json_int_t) count_lines(mem_dir ? mem_dir : cpu_dir, "tasks"),
                      "cpu_stats", "cpu_usage", "total_usage", (json_int_t) (cpu_total > 0 ? cpu_total : 0), "usage_in_kernelmode",
                      (json_int_t) (sys * ns_per_tick), "usage_in_usermode", (json_int_t) (user * ns_per_tick),
                      "system_cpu_usage", (json_int_t) system_cpu_ns(), "online_cpus", (json_int_t) online_cpus, "throttling_data",
                      "periods", (json_int_t) 0, "throttled_periods", (json_int_t) 0, "throttled_time", (json_int_t) 0, "memory_stats",
                      "usage", (json_int_t) (usage > 0 ? usage : 0), "max_usage", (json_int_t) (read_num(mem_dir, "memory.max_usage_in_bytes") > 0 ? read_num(mem_dir, "memory.max_usage_in_bytes") : 0),
                      "stats", read_kv(mem_dir, "memory.stat"), "limit", (json_int_t) (limit > 0 ? limit : 0), "networks", networks(pid));
        json_decref(cs);
        return o;
}

void tmds_stats_pair(json_t *cur, json_t *prev, double seconds)
{
        json_t *pc = prev ? json_object_get(prev, "cpu_stats") : NULL;
        json_t *nets = json_object_get(cur, "networks"), *pn = prev ? json_object_get(prev, "networks") : NULL, *n;
        long long rx = 0, tx = 0, prx = 0, ptx = 0;
        const char *k;
        json_object_set_new(cur, "preread", prev && json_object_get(prev, "read") ? json_incref(json_object_get(prev, "read"))
                                                                                : json_string("0001-01-01T00:00:00Z"));
        json_object_set_new(cur, "precpu_stats", pc ? json_deep_copy(pc) : json_object());
        json_object_foreach(nets, k, n) {
                rx += jint(n, "rx_bytes", 0);
                tx += jint(n, "tx_bytes", 0);
                prx += jint(json_object_get(pn, k), "rx_bytes", 0);
                ptx += jint(json_object_get(pn, k), "tx_bytes", 0);
        }
        if (prev && seconds > 0)
                json_object_set_new(cur, "network_rate_stats", json_pack("{s:f, s:f}", "rx_bytes_per_sec", (double) (rx - prx) / seconds,
                                                                         "tx_bytes_per_sec", (double) (tx - ptx) / seconds));
}
