/* flowlog.c: flow logs: the EC2 actions (CreateFlowLogs, DescribeFlowLogs, DeleteFlowLogs, GetFlowLogs) and the
 * collector, an sd-event timer that reads the task namespaces' meters and appends AWS records to files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "ecsbox/log.h"
#include "ecsbox/fsutil.h"
#include "ecsbox/timeutil.h"
#include "flowlog.h"
#include "netd.h"

#define FL_POLL_MAX_S 10                     /* the sets' timeout is 30 s: poll at least 3 times within it */
#define FL_ROTATE_BYTES (10 * 1024 * 1024)   /* <eni>.log -> <eni>.log.1 */
#define FL_LINE_MAX 4096
#define FL_TICK_OFFSET_US 100000             /* tick 100 ms after each second: windows end on whole seconds */

enum { TT_ALL, TT_ACCEPT, TT_REJECT };

struct fl_eni_acc {
        char eni[ID_MAX];
        struct fl_acc acc;
};

struct fl_log {
        char id[ID_MAX];
        char type[24];               /* NetworkInterface, Subnet, VPC */
        char resource[ID_MAX];
        char dest[PATH_MAX];
        struct fl_format fmt;
        int interval;
        int traffic;
        int64_t win_start, last_poll;
        struct fl_eni_acc *e;
        size_t ne;
};

static struct {
        struct netd *d;
        sd_event_source *timer;
        struct fl_log *logs;
        size_t n;
} FL;

static const char *str(json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static int64_t now_s(void)
{
        return (int64_t) time(NULL);
}

static void log_fini(struct fl_log *l)
{
        for (size_t i = 0; i < l->ne; i++)
                fl_acc_fini(&l->e[i].acc);
        free(l->e);
        l->e = NULL;
        l->ne = 0;
}

static struct fl_acc *log_acc(struct fl_log *l, const char *eni)
{
        struct fl_eni_acc *n;
        for (size_t i = 0; i < l->ne; i++)
                if (strcmp(l->e[i].eni, eni) == 0)
                        return &l->e[i].acc;
        n = realloc(l->e, (l->ne + 1) * sizeof *n);
        if (!n)
                return NULL;
        l->e = n;
        memset(&l->e[l->ne], 0, sizeof *n);
        snprintf(l->e[l->ne].eni, ID_MAX, "%s", eni);
        return &l->e[l->ne++].acc;
}

static void log_acc_drop(struct fl_log *l, const char *eni)
{
        for (size_t i = 0; i < l->ne; i++)
                if (strcmp(l->e[i].eni, eni) == 0) {
                        fl_acc_fini(&l->e[i].acc);
                        l->e[i] = l->e[--l->ne];
                        return;
                }
}

static int traffic_parse(const char *s)
{
        if (!s)
                return -1;
        if (strcmp(s, "ALL") == 0)
                return TT_ALL;
        if (strcmp(s, "ACCEPT") == 0)
                return TT_ACCEPT;
        if (strcmp(s, "REJECT") == 0)
                return TT_REJECT;
        return -1;
}

static int64_t window_start(int64_t t, int interval)
{
        return t - t % interval;
}

/* The in-memory state of a flow log record. */
static int log_from_record(json_t *rec, struct fl_log *ret, struct err *err)
{
        struct fl_log l = { 0 };
        int r;
        snprintf(l.id, sizeof l.id, "%s", str(rec, "FlowLogId"));
        snprintf(l.type, sizeof l.type, "%s", str(rec, "ebxResourceType") ?: "NetworkInterface");
        snprintf(l.resource, sizeof l.resource, "%s", str(rec, "ResourceId"));
        snprintf(l.dest, sizeof l.dest, "%s", str(rec, "LogDestination"));
        if ((r = fl_format_parse(str(rec, "LogFormat"), &l.fmt, err)) < 0)
                return r;
        l.interval = (int) json_integer_value(json_object_get(rec, "MaxAggregationInterval"));
        if (l.interval <= 0)
                l.interval = 600;
        l.traffic = traffic_parse(str(rec, "TrafficType"));
        if (l.traffic < 0)
                l.traffic = TT_ALL;
        l.win_start = window_start(now_s(), l.interval);
        l.last_poll = now_s();
        *ret = l;
        return 0;
}

static bool log_covers(const struct fl_log *l, json_t *eni)
{
        const char *v;
        if (strcmp(l->type, "Subnet") == 0)
                v = str(eni, "SubnetId");
        else if (strcmp(l->type, "VPC") == 0)
                v = str(eni, "VpcId");
        else
                v = str(eni, "NetworkInterfaceId");
        return v && strcmp(v, l->resource) == 0;
}

/* ---- the ENIs being metered ---- */

static int attached_cb(const char *key, json_t *eni, void *ud)
{
        json_t *att = json_object_get(eni, "ebxAttachment");
        if (att && str(att, "Netns") && strcmp(str(att, "Status") ?: "", "attached") == 0)
                json_array_append(ud, eni);
        return 0;
}

static json_t *attached_enis(struct netd *d)
{
        struct err err = { 0 };
        json_t *a = json_array();
        if (store_list(d->store, "eni/", attached_cb, a, &err) < 0)
                log_warning("msg=\"cannot list ENIs for flow logs, ignoring\" err=\"%s\"", err.msg);
        return a;
}

/* Read one ENI's meters and add the deltas to every flow log that covers it. */
static size_t eni_poll(struct netd *d, json_t *eni)
{
        size_t nflows;
        struct fl_acc tmp = { 0 };
        struct err err = { 0 };
        uint32_t ip = 0;
        json_t *att = json_object_get(eni, "ebxAttachment");

        (void) ip4_parse(str(eni, "PrivateIpAddress") ?: "", &ip);
        if (fl_read_netns(d->knet, str(att, "Netns"), ip, &tmp, &err) < 0)
                log_warning("msg=\"flow log read failed, SKIPDATA\" eni=%s err=\"%s\"", str(eni, "NetworkInterfaceId"),
                            err.msg);
        for (size_t i = 0; i < FL.n; i++) {
                struct fl_acc *a;
                if (!log_covers(&FL.logs[i], eni))
                        continue;
                a = log_acc(&FL.logs[i], str(eni, "NetworkInterfaceId"));
                if (!a || fl_acc_merge(a, &tmp) < 0) {
                        log_error("msg=\"out of memory in the flow log collector\" flow_log=%s", FL.logs[i].id);
                        if (a)
                                a->skip = true;
                }
        }
        nflows = tmp.n;
        fl_acc_fini(&tmp);
        return nflows;
}

static void spool_drop(const struct fl_log *l, const char *eni);

/* ---- records to files ---- */

struct eni_ctx {
        struct fl_ctx c;
        char az_id[32];
        json_t *subnet, *vpc;
};

static void ctx_fill(struct netd *d, json_t *eni, struct eni_ctx *x)
{
        json_t *md = json_object_get(eni, "ebxMetadata"), *att = json_object_get(eni, "ebxAttachment");
        json_t *cids = json_object_get(md, "containerIds");
        struct err err = { 0 };
        struct cidr4 c;
        const char **ecs = x->c.ecs;

        memset(x, 0, sizeof *x);
        (void) subnet_load(d, str(eni, "SubnetId"), &x->subnet, &err);
        (void) vpc_load(d, str(eni, "VpcId"), &x->vpc, &err);
        x->c.account = str(eni, "OwnerId") ?: d->account;
        x->c.eni = str(eni, "NetworkInterfaceId");
        x->c.vpc = str(eni, "VpcId");
        x->c.subnet = str(eni, "SubnetId");
        x->c.instance = att ? str(att, "InstanceId") : NULL;
        x->c.region = d->region;
        fl_az_id(d->region, str(eni, "AvailabilityZone"), x->az_id, sizeof x->az_id);
        x->c.az_id = x->az_id;
        if (x->vpc && cidr4_parse(str(x->vpc, "CidrBlock") ?: "", &c) == 0) {
                x->c.vpc_mask = cidr4_mask(c.len);
                x->c.vpc_net = c.addr & x->c.vpc_mask;
        }
        ecs[FL_ECS_CLUSTER_ARN - FL_ECS_CLUSTER_ARN] = str(md, "clusterArn");
        ecs[FL_ECS_CLUSTER_NAME - FL_ECS_CLUSTER_ARN] = str(md, "clusterName") ?: fl_arn_tail(str(md, "clusterArn"));
        ecs[FL_ECS_CONTAINER_INSTANCE_ARN - FL_ECS_CLUSTER_ARN] = str(md, "containerInstanceArn");
        ecs[FL_ECS_CONTAINER_INSTANCE_ID - FL_ECS_CLUSTER_ARN] = fl_arn_tail(str(md, "containerInstanceArn"));
        ecs[FL_ECS_CONTAINER_ID - FL_ECS_CLUSTER_ARN] = json_string_value(json_array_get(cids, 0));
        ecs[FL_ECS_SECOND_CONTAINER_ID - FL_ECS_CLUSTER_ARN] = json_string_value(json_array_get(cids, 1));
        ecs[FL_ECS_SERVICE_NAME - FL_ECS_CLUSTER_ARN] = str(md, "serviceName");
        ecs[FL_ECS_TASK_DEFINITION_ARN - FL_ECS_CLUSTER_ARN] = str(md, "taskDefinitionArn");
        ecs[FL_ECS_TASK_ARN - FL_ECS_CLUSTER_ARN] = str(md, "taskArn");
        ecs[FL_ECS_TASK_ID - FL_ECS_CLUSTER_ARN] = fl_arn_tail(str(md, "taskArn"));
}

static void ctx_fini(struct eni_ctx *x)
{
        json_decref(x->subnet);
        json_decref(x->vpc);
}

struct obuf {
        char *p;
        size_t len, cap;
};

static int obuf_line(struct obuf *o, const struct fl_format *f, const struct fl_ctx *c, const struct fl_rec *r)
{
        int n;
        if (o->cap - o->len < FL_LINE_MAX) {
                size_t ncap = o->cap ? o->cap * 2 : 65536;
                char *np = realloc(o->p, ncap);
                if (!np)
                        return -ENOMEM;
                o->p = np;
                o->cap = ncap;
        }
        n = fl_record_format(f, c, r, o->p + o->len, o->cap - o->len);
        if (n < 0)
                return n;
        o->len += (size_t) n;
        return 0;
}

/* Append lines to dir/<eni>.log (header first in a new file; rotated past FL_ROTATE_BYTES), then fsync. */
static int file_append(const struct fl_log *l, const char *eni, const char *data, size_t len, struct err *err)
{
        char path[PATH_MAX + 64], old[PATH_MAX + 64], hdr[FL_LINE_MAX];
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        snprintf(path, sizeof path, "%s/%s.log", l->dest, eni);
        for (int i = 0; i < 2; i++) {
                fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0)
                        return err_set(err, errno, NULL, "open '%s': %s", path, strerror(errno));
                if (fstat(fd, &st) < 0)
                        return err_set(err, errno, NULL, "stat '%s': %s", path, strerror(errno));
                if (st.st_size < FL_ROTATE_BYTES || i == 1)
                        break;
                snprintf(old, sizeof old, "%s.1", path);
                if (rename(path, old) < 0)
                        return err_set(err, errno, NULL, "rotate '%s': %s", path, strerror(errno));
                close(TAKE_FD(fd));
        }
        if (st.st_size == 0) {
                fl_header_format(&l->fmt, hdr, sizeof hdr);
                if ((r = write_all(fd, hdr, strlen(hdr))) < 0)
                        return err_set(err, -r, NULL, "write '%s': %s", path, strerror(-r));
        }
        if ((r = write_all(fd, data, len)) < 0)
                return err_set(err, -r, NULL, "write '%s': %s", path, strerror(-r));
        if (fsync(fd) < 0)
                return err_set(err, errno, NULL, "fsync '%s': %s", path, strerror(errno));
        return 0;
}

static bool passes(const struct fl_log *l, const struct fl_flow *f)
{
        return l->traffic == TT_ALL || (l->traffic == TT_REJECT) == f->reject;
}

/* AWS leaves out traffic with its reserved router and DNS addresses and link-local services
 * (169.254.169.254 ...): ecsbox does the same for the subnet's gateway (+1), +2 and 169.254.0.0/16. */
static bool reserved_peer(const struct fl_flow *f, uint32_t subnet_net)
{
        uint32_t peer = f->egress ? f->k.daddr : f->k.saddr;
        return (subnet_net && (peer == subnet_net + 1 || peer == subnet_net + 2)) || (peer & 0xffff0000u) == 0xa9fe0000u;
}

/* Write the window [start, end] of one ENI for one flow log and forget its accumulator. */
static void window_write(struct netd *d, struct fl_log *l, json_t *eni, int64_t start, int64_t end)
{
        const char *id = str(eni, "NetworkInterfaceId");
        struct fl_acc empty = { 0 }, *a = NULL;
        struct obuf o = { 0 };
        struct eni_ctx x;
        struct err err = { 0 };
        struct fl_rec rec;
        struct cidr4 sn;
        uint32_t subnet_net = 0;
        bool traffic = false;
        int r = 0;

        for (size_t i = 0; i < l->ne; i++)
                if (strcmp(l->e[i].eni, id) == 0)
                        a = &l->e[i].acc;
        if (!a)
                a = &empty;
        ctx_fill(d, eni, &x);
        if (x.subnet && cidr4_parse(str(x.subnet, "CidrBlock") ?: "", &sn) == 0)
                subnet_net = sn.addr & cidr4_mask(sn.len);
        for (size_t i = 0; r >= 0 && i < a->cap; i++) {
                const struct fl_flow *f = &a->v[i];
                if (!f->used || f->packets == 0 || reserved_peer(f, subnet_net))
                        continue;
                traffic = true;
                if (!passes(l, f))
                        continue;
                rec = (struct fl_rec) { .k = f->k, .egress = f->egress, .reject = f->reject, .packets = f->packets,
                                        .bytes = f->bytes, .start = start, .end = end,
                                        .tcp_flags = (int) f->flags, .status = FL_OK };
                r = obuf_line(&o, &l->fmt, &x.c, &rec);
        }
        if (r >= 0 && !traffic && !a->skip) {
                rec = (struct fl_rec) { .start = start, .end = end, .status = FL_NODATA };
                r = obuf_line(&o, &l->fmt, &x.c, &rec);
        }
        if (r >= 0 && a->skip) {
                rec = (struct fl_rec) { .start = start, .end = end, .status = FL_SKIPDATA };
                r = obuf_line(&o, &l->fmt, &x.c, &rec);
        }
        if (r < 0)
                log_error("msg=\"cannot format flow log records\" flow_log=%s eni=%s err=\"%s\"", l->id, id, strerror(-r));
        else if (o.len && file_append(l, id, o.p, o.len, &err) < 0)
                log_error("msg=\"cannot write flow log records\" flow_log=%s eni=%s err=\"%s\"", l->id, id, err.msg);
        free(o.p);
        ctx_fini(&x);
        log_acc_drop(l, id);
        spool_drop(l, id);
}

/* ---- spool: what was read but belongs to a window not yet written ----
 * A flow log with a window longer than FL_POLL_MAX_S is polled before the window ends (an element that
 * expires takes its counters with it). The sums read so far are kept in <state>/flowlog/<fl>.<eni>.spool,
 * replaced atomically after every poll, so a crash loses nothing that was read; a restart adds them to
 * the window it writes next. */

static void spool_path(const struct fl_log *l, const char *eni, char *buf, size_t len)
{
        snprintf(buf, len, "%s/flowlog/%s.%s.spool", FL.d->state_dir, l->id, eni);
}

static int spool_save(const struct fl_log *l, const struct fl_eni_acc *e)
{
        char path[PATH_MAX], tmp[PATH_MAX + 8];
        _cleanup_fclose_ FILE *f = NULL;
        const struct fl_acc *a = &e->acc;

        spool_path(l, e->eni, path, sizeof path);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        if (!(f = fopen(tmp, "we")))
                return -errno;
        fprintf(f, "skip %d\n", a->skip ? 1 : 0);
        for (size_t i = 0; i < a->cap; i++) {
                const struct fl_flow *x = &a->v[i];
                if (x->used)
                        fprintf(f, "%u %u %u %u %u %d %d %llu %llu %u %d\n", x->k.saddr, x->k.daddr, x->k.proto,
                                x->k.sport, x->k.dport, x->egress, x->reject, (unsigned long long) x->packets,
                                (unsigned long long) x->bytes, x->flags, x->has_flags);
        }
        if (fflush(f) != 0 || fsync(fileno(f)) < 0)
                return -errno;
        if (rename(tmp, path) < 0)
                return -errno;
        return 0;
}

static void spool_save_all(const bool *skip)
{
        for (size_t j = 0; j < FL.n; j++) {
                if (skip && skip[j])
                        continue;
                for (size_t i = 0; i < FL.logs[j].ne; i++) {
                        int r = spool_save(&FL.logs[j], &FL.logs[j].e[i]);
                        if (r < 0)
                                log_warning("msg=\"cannot save flow log spool, ignoring\" flow_log=%s eni=%s err=\"%s\"",
                                            FL.logs[j].id, FL.logs[j].e[i].eni, strerror(-r));
                }
        }
}

static void spool_drop(const struct fl_log *l, const char *eni)
{
        char path[PATH_MAX];
        spool_path(l, eni, path, sizeof path);
        (void) unlink(path);
}

/* Start-up: add the spools of a flow log to its accumulators. */
static void spool_load(struct fl_log *l)
{
        char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2], prefix[ID_MAX + 2];
        DIR *dp;
        struct dirent *de;

        snprintf(dir, sizeof dir, "%s/flowlog", FL.d->state_dir);
        snprintf(prefix, sizeof prefix, "%s.", l->id);
        if (!(dp = opendir(dir)))
                return;
        while ((de = readdir(dp))) {
                char eni[ID_MAX] = "";
                const char *dot;
                size_t n = strlen(de->d_name);
                struct fl_acc *a;
                FILE *f;
                char line[256];
                if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 || n < 6 || strcmp(de->d_name + n - 6, ".spool") != 0)
                        continue;
                dot = de->d_name + strlen(prefix);
                snprintf(eni, sizeof eni, "%.*s", (int) (n - 6 - strlen(prefix)), dot);
                snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
                if (!(a = log_acc(l, eni)) || !(f = fopen(path, "re")))
                        continue;
                while (fgets(line, sizeof line, f)) {
                        unsigned sa, da, pr, sp, dp2, fl;
                        int eg, rj, hf, sk;
                        unsigned long long pk, by;
                        if (sscanf(line, "skip %d", &sk) == 1) {
                                a->skip |= sk != 0;
                                continue;
                        }
                        if (sscanf(line, "%u %u %u %u %u %d %d %llu %llu %u %d", &sa, &da, &pr, &sp, &dp2, &eg, &rj, &pk,
                                   &by, &fl, &hf) != 11)
                                continue;
                        struct fl_flow x = { .k = { sa, da, (uint16_t) sp, (uint16_t) dp2, (uint8_t) pr },
                                             .egress = eg, .reject = rj, .used = true, .packets = pk, .bytes = by,
                                             .flags = fl, .has_flags = hf };
                        (void) fl_acc_add_flow(a, &x);
                }
                fclose(f);
                log_info("msg=\"flow log spool recovered\" flow_log=%s eni=%s flows=%zu", l->id, eni, a->n);
        }
        closedir(dp);
}

/* ---- the collector ---- */

static int tick(sd_event_source *s, uint64_t usec, void *userdata);

/* One pass: poll the ENIs some flow log needs now, then write the windows that ended. */
static long long us_between(const struct timespec *a, const struct timespec *b)
{
        return (long long) (b->tv_sec - a->tv_sec) * 1000000 + (b->tv_nsec - a->tv_nsec) / 1000;
}

static void collect(struct netd *d, int64_t now)
{
        _cleanup_json_ json_t *enis = NULL;
        struct timespec cpu0, cpu1, cpu2, wall0, wall1;
        size_t nflows = 0, nread = 0;
        bool *due, *poll, any = false;
        json_t *eni;
        size_t i;

        if (FL.n == 0)
                return;
        due = calloc(FL.n, sizeof *due);
        poll = calloc(FL.n, sizeof *poll);
        if (!due || !poll) {
                free(due);
                free(poll);
                return;
        }
        for (size_t j = 0; j < FL.n; j++) {
                due[j] = now >= FL.logs[j].win_start + FL.logs[j].interval;
                poll[j] = due[j] || now - FL.logs[j].last_poll >= FL_POLL_MAX_S;
                any |= poll[j];
        }
        if (!any)
                goto out;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
        clock_gettime(CLOCK_MONOTONIC, &wall0);
        enis = attached_enis(d);
        json_array_foreach(enis, i, eni) {
                bool want = false;
                for (size_t j = 0; j < FL.n; j++)
                        want |= poll[j] && log_covers(&FL.logs[j], eni);
                if (want) {
                        nflows += eni_poll(d, eni);
                        nread++;
                }
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
        for (size_t j = 0; j < FL.n; j++) {
                struct fl_log *l = &FL.logs[j];
                if (poll[j])
                        l->last_poll = now;
                if (!due[j])
                        continue;
                json_array_foreach(enis, i, eni)
                        if (log_covers(l, eni))
                                window_write(d, l, eni, l->win_start, l->win_start + l->interval);
                for (size_t k = 0; k < l->ne; k++)   /* ENIs gone without a final read (should not happen) */
                        spool_drop(l, l->e[k].eni);
                log_fini(l);
                l->win_start = window_start(now, l->interval);
        }
        spool_save_all(due);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu2);
        clock_gettime(CLOCK_MONOTONIC, &wall1);
        /* bench_flowlogs.py reads this line */
        log_debug("msg=\"flow log pass\" enis=%zu flows=%zu read_cpu_us=%lld write_cpu_us=%lld wall_us=%lld", nread,
                  nflows, us_between(&cpu0, &cpu1), us_between(&cpu1, &cpu2), us_between(&wall0, &wall1));
out:
        free(due);
        free(poll);
}

static int tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct timespec ts;
        uint64_t next;
        collect(FL.d, now_s());
        clock_gettime(CLOCK_REALTIME, &ts);
        next = ((uint64_t) ts.tv_sec + 1) * 1000000ull + FL_TICK_OFFSET_US;
        (void) sd_event_source_set_time(s, next);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int load_cb(const char *key, json_t *rec, void *ud)
{
        struct err err = { 0 };
        struct fl_log l, *n;
        if (log_from_record(rec, &l, &err) < 0) {
                log_warning("msg=\"bad flow log record, ignoring\" key=%s err=\"%s\"", key, err.msg);
                return 0;
        }
        n = realloc(FL.logs, (FL.n + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        FL.logs = n;
        FL.logs[FL.n] = l;
        spool_load(&FL.logs[FL.n++]);
        return 0;
}

int flowlog_start(struct netd *d, sd_event *ev, struct err *err)
{
        struct timespec ts;
        int r;
        char dir[PATH_MAX];
        FL.d = d;
        snprintf(dir, sizeof dir, "%s/flowlog", d->state_dir);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return err_set(err, errno, NULL, "create '%s': %s", dir, strerror(errno));
        if ((r = store_list(d->store, "fl/", load_cb, NULL, err)) < 0)
                return r;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = sd_event_add_time(ev, &FL.timer, CLOCK_REALTIME, ((uint64_t) ts.tv_sec + 1) * 1000000ull + FL_TICK_OFFSET_US,
                              1000, tick, NULL);
        if (r < 0)
                return err_set(err, -r, NULL, "flow log timer: %s", strerror(-r));
        log_info("msg=\"flow log collector started\" flow_logs=%zu", FL.n);
        return 0;
}

void flowlog_eni_final(struct netd *d, json_t *eni)
{
        json_t *att = json_object_get(eni, "ebxAttachment");
        const char *netns = att ? str(att, "Netns") : NULL;
        bool covered = false;
        int64_t now = now_s();

        if (!netns)
                return;
        for (size_t j = 0; j < FL.n; j++)
                covered |= log_covers(&FL.logs[j], eni);
        if (covered && strcmp(str(att, "Status") ?: "", "attached") == 0) {
                eni_poll(d, eni);
                for (size_t j = 0; j < FL.n; j++)
                        if (log_covers(&FL.logs[j], eni))
                                window_write(d, &FL.logs[j], eni, FL.logs[j].win_start, now);
        }
        fl_read_forget(d->knet, netns);
}

/* ---- the API ---- */

static json_t *fl_shape(struct netd *d, json_t *rec)
{
        json_t *o = json_deep_copy(rec);
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(o, tmp, k, v) {
                if (strncmp(k, "ebx", 3) == 0)
                        json_object_del(o, k);
        }
        return o;
}

static json_t *fl_values(json_t *rec, const char *name)
{
        static const struct {
                const char *filter, *member;
        } m[] = { { "flow-log-id", "FlowLogId" },          { "resource-id", "ResourceId" },
                  { "traffic-type", "TrafficType" },      { "log-destination-type", "LogDestinationType" },
                  { "deliver-log-status", "DeliverLogsStatus" }, { "log-group-name", "LogGroupName" } };
        for (size_t i = 0; i < ELEMENTSOF(m); i++)
                if (strcmp(m[i].filter, name) == 0) {
                        json_t *v = json_object_get(rec, m[i].member);
                        return json_pack("[O]", v ? v : json_null());
                }
        return json_array();
}

struct dup_ctx {
        const char *resource, *dest, *traffic;
        const char *found;
        json_t *keep;
};

static int dup_cb(const char *key, json_t *rec, void *ud)
{
        struct dup_ctx *c = ud;
        if (strcmp(str(rec, "ResourceId") ?: "", c->resource) == 0 && strcmp(str(rec, "LogDestination") ?: "", c->dest) == 0 &&
            strcmp(str(rec, "TrafficType") ?: "", c->traffic) == 0) {
                c->keep = json_incref(rec);
                c->found = str(rec, "FlowLogId");
                return -EEXIST;
        }
        return 0;
}

static int resource_check(struct netd *d, const char *type, const char *id, struct err *err)
{
        _cleanup_json_ json_t *o = NULL;
        char key[KEY_MAX];
        int r;
        if (strcmp(type, "NetworkInterface") == 0) {
                if (!id_valid("eni", id))
                        return err_set(err, EINVAL, "InvalidNetworkInterfaceID.Malformed", "Invalid id: \"%s\" (expecting \"eni-...\")", id);
                key_fmt(key, "eni", id);
                r = store_get(d->store, key, &o, err);
                if (r == -ENOENT)
                        return err_set(err, ENOENT, "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id);
                return r;
        }
        if (strcmp(type, "Subnet") == 0) {
                if (!id_valid("subnet", id))
                        return err_set(err, EINVAL, "InvalidSubnetID.Malformed", "Invalid id: \"%s\" (expecting \"subnet-...\")", id);
                return subnet_load(d, id, &o, err);
        }
        if (!id_valid("vpc", id))
                return err_set(err, EINVAL, "InvalidVpcID.Malformed", "Invalid id: \"%s\" (expecting \"vpc-...\")", id);
        return vpc_load(d, id, &o, err);
}

/* Read (and throw away) what an ENI's meters counted before its first flow log existed. */
static void eni_discard_before(struct netd *d, json_t *eni)
{
        struct fl_acc tmp = { 0 };
        struct err err = { 0 };
        uint32_t ip = 0;
        json_t *att = json_object_get(eni, "ebxAttachment");
        (void) ip4_parse(str(eni, "PrivateIpAddress") ?: "", &ip);
        (void) fl_read_netns(d->knet, str(att, "Netns"), ip, &tmp, &err);
        fl_acc_fini(&tmp);
}

/* Tags of TagSpecifications for ResourceType vpc-flow-log (or none named): a new array. */
static json_t *spec_tags(json_t *req)
{
        json_t *specs = json_object_get(req, "TagSpecifications"), *sp, *tags = json_array();
        size_t i;
        json_array_foreach(specs, i, sp)
                if (!str(sp, "ResourceType") || !strcmp(str(sp, "ResourceType"), "vpc-flow-log"))
                        json_array_extend(tags, json_object_get(sp, "Tags") ?: json_array());
        return tags;
}

int op_create_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        static const char *const keys[] = { "Action", "ResourceType", "ResourceIds", "TrafficType", "LogFormat",
                                            "MaxAggregationInterval", "LogDestinationType", "LogDestination",
                                            "TagSpecifications", "ClientToken", "DryRun", "DeliverLogsPermissionArn",
                                            "DeliverCrossAccountRole", "LogGroupName", "DestinationOptions", NULL };
        const char *type = NULL, *traffic = NULL, *format = NULL, *dtype = NULL, *dest = NULL, *token = NULL;
        _cleanup_json_ json_t *ids_out = json_array(), *recs = json_array(), *enis = NULL;
        json_t *ids = NULL, *v, *eni;
        long long interval = 600;
        struct fl_format fmt;
        struct stat st;
        char now[32];
        size_t i, first;
        int r;

        if ((r = json_check_keys(req, keys, err)) < 0 || (r = json_get_string(req, "ResourceType", true, &type, err)) < 0 ||
            (r = json_get_array(req, "ResourceIds", true, &ids, err)) < 0 ||
            (r = json_get_string(req, "TrafficType", false, &traffic, err)) < 0 ||
            (r = json_get_string(req, "LogFormat", false, &format, err)) < 0 ||
            (r = json_get_string(req, "LogDestinationType", false, &dtype, err)) < 0 ||
            (r = json_get_string(req, "LogDestination", false, &dest, err)) < 0 ||
            (r = json_get_string(req, "ClientToken", false, &token, err)) < 0)
                return r;
        if (json_object_get(req, "MaxAggregationInterval") &&
            (r = json_get_int(req, "MaxAggregationInterval", false, 1, 600, &interval, err)) < 0)
                return err_set(err, EINVAL, "InvalidParameter",
                               "MaxAggregationInterval must be 60 or 600 (ecsbox also accepts 1 to 600 seconds)");
        if (strcmp(type, "NetworkInterface") != 0 && strcmp(type, "Subnet") != 0 && strcmp(type, "VPC") != 0)
                return err_set(err, EINVAL, "InvalidParameter",
                               "Invalid ResourceType '%s': expected NetworkInterface, Subnet or VPC", type);
        if (json_array_size(ids) == 0)
                return err_set(err, EINVAL, "InvalidParameter", "ResourceIds must name at least one resource");
        if (json_array_size(ids) > 1000)
                return err_set(err, EINVAL, "InvalidParameter", "At most 1000 ResourceIds per request");
        if (!traffic)
                return err_set(err, EINVAL, "InvalidParameter", "TrafficType is required (ACCEPT, REJECT or ALL)");
        if (traffic_parse(traffic) < 0)
                return err_set(err, EINVAL, "InvalidParameter", "Invalid TrafficType '%s': expected ACCEPT, REJECT or ALL", traffic);
        if (!dtype || strcmp(dtype, "file") != 0)
                return err_set(err, EINVAL, "InvalidParameter",
                               "Invalid LogDestinationType '%s': ecsbox delivers flow logs to local files only (LogDestinationType 'file')",
                               dtype ? dtype : "cloud-watch-logs");
        if (!dest || dest[0] != '/')
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination must be an absolute directory path, got '%s'",
                               dest ? dest : "");
        if (strlen(dest) > PATH_MAX - 64)
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination '%s' is too long", dest);
        if (stat(dest, &st) < 0)
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination '%s': %s", dest, strerror(errno));
        if (!S_ISDIR(st.st_mode))
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination '%s': %s", dest, strerror(ENOTDIR));
        if (access(dest, W_OK | X_OK) < 0)
                return err_set(err, EINVAL, "InvalidParameter", "LogDestination '%s' is not writable: %s", dest, strerror(errno));
        if ((r = fl_format_parse(format, &fmt, err)) < 0)
                return r;
        json_array_foreach(ids, i, v) {
                struct dup_ctx c = { json_string_value(v), dest, traffic, NULL, NULL };
                if (!json_is_string(v))
                        return err_set(err, EINVAL, JERR_INVALID, "ResourceIds.%zu must be a string", i + 1);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(json_string_value(json_array_get(ids, j)), c.resource) == 0)
                                return err_set(err, EINVAL, "InvalidParameter", "Resource '%s' is listed twice", c.resource);
                if ((r = resource_check(d, type, c.resource, err)) < 0)
                        return r;
                r = store_list(d->store, "fl/", dup_cb, &c, err);
                if (r == -EEXIST) {
                        r = err_set(err, EEXIST, "FlowLogAlreadyExists",
                                    "A flow log for resource '%s' with traffic type %s and destination '%s' already exists (%s)",
                                    c.resource, traffic, dest, c.found);
                        json_decref(c.keep);
                        return r;
                }
                if (r < 0)
                        return r;
        }
        iso8601_ms(-1, now);
        json_array_foreach(ids, i, v) {
                char id[ID_MAX];
                if ((r = id_new("fl", id)) < 0)
                        return err_set(err, -r, NULL, "random id: %s", strerror(-r));
                json_array_append_new(recs, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:s}",
                                                      "FlowLogId", id, "CreationTime", now, "DeliverLogsStatus", "SUCCESS",
                                                      "FlowLogStatus", "ACTIVE", "ResourceId", json_string_value(v),
                                                      "TrafficType", traffic, "LogDestinationType", "file",
                                                      "LogDestination", dest, "LogFormat",
                                                      format && *format ? format : FL_DEFAULT_FORMAT,
                                                      "MaxAggregationInterval", interval, "Tags", spec_tags(req),
                                                      "ebxResourceType", type));
                json_array_append_new(ids_out, json_string(id));
        }
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        json_array_foreach(recs, i, v) {
                char key[KEY_MAX];
                key_fmt(key, "fl", str(v, "FlowLogId"));
                if ((r = store_put(d->store, key, v, err)) < 0) {
                        store_rollback(d->store);
                        return r;
                }
        }
        if ((r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        /* the meters count from the ENI's start: begin a first flow log's ENIs from zero */
        enis = attached_enis(d);
        first = FL.n;
        json_array_foreach(recs, i, v) {
                struct fl_log l, *n;
                if (log_from_record(v, &l, err) < 0 || !(n = realloc(FL.logs, (FL.n + 1) * sizeof *n))) {
                        log_error("msg=\"flow log not started\" flow_log=%s", str(v, "FlowLogId"));
                        continue;
                }
                FL.logs = n;
                FL.logs[FL.n++] = l;
        }
        json_array_foreach(enis, i, eni) {
                bool old = false, neu = false;
                for (size_t j = 0; j < FL.n; j++) {
                        if (!log_covers(&FL.logs[j], eni))
                                continue;
                        if (j < first)
                                old = true;
                        else
                                neu = true;
                }
                if (neu && !old)
                        eni_discard_before(d, eni);
        }
        json_array_foreach(recs, i, v)
                log_info("op=CreateFlowLogs flow_log=%s resource=%s traffic=%s interval=%lld dest=%s", str(v, "FlowLogId"),
                         str(v, "ResourceId"), traffic, interval, dest);
        *ret = json_pack("{s:O, s:[]}", "FlowLogIds", ids_out, "Unsuccessful");
        if (token)
                json_object_set_new(*ret, "ClientToken", json_string(token));
        return 0;
}

int op_describe_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        static const char *const keys[] = { "Action", "FlowLogIds", "Filter", "Filters", "DryRun", "MaxResults", "NextToken", NULL };
        static const char *const fnames[] = { "flow-log-id", "resource-id", "traffic-type", "log-destination-type",
                                              "deliver-log-status", "log-group-name", NULL };
        json_t *ids = NULL, *filters = NULL, *out = NULL;
        int r;
        if (json_object_get(req, "Filter") && !json_object_get(req, "Filters")) {
                /* DescribeFlowLogs names its list Filter in the EC2 API */
                json_object_set(req, "Filters", json_object_get(req, "Filter"));
                json_object_del(req, "Filter");
        }
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = ids_param(req, "FlowLogIds", "fl", "InvalidFlowLogId.NotFound", &ids, err)) < 0 ||
            (r = filters_parse(req, fnames, &filters, err)) < 0)
                return r;
        r = describe_objects(d, "fl", "FlowLogId", ids, filters, fl_values, fl_shape, "InvalidFlowLogId.NotFound",
                             "flow log ID", &out, err);
        if (r < 0)
                return r;
        *ret = json_pack("{s:o}", "FlowLogs", out);
        return 0;
}

static struct fl_log *log_find(const char *id, size_t *ret_idx)
{
        for (size_t j = 0; j < FL.n; j++)
                if (strcmp(FL.logs[j].id, id) == 0) {
                        if (ret_idx)
                                *ret_idx = j;
                        return &FL.logs[j];
                }
        return NULL;
}

int op_delete_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        static const char *const keys[] = { "Action", "FlowLogIds", "DryRun", NULL };
        _cleanup_json_ json_t *enis = NULL;
        json_t *ids = NULL, *v, *eni;
        size_t i, k;
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = ids_param(req, "FlowLogIds", "fl", "InvalidFlowLogId.NotFound", &ids, err)) < 0)
                return r;
        if (json_array_size(ids) == 0)
                return err_set(err, EINVAL, JERR_MISSING, "The request must contain the parameter FlowLogIds");
        json_array_foreach(ids, i, v) {
                char key[KEY_MAX];
                key_fmt(key, "fl", json_string_value(v));
                r = store_exists(d->store, key);
                if (r < 0)
                        return err_set(err, -r, NULL, "flow log lookup: %s", strerror(-r));
                if (r == 0)
                        return err_set(err, ENOENT, "InvalidFlowLogId.NotFound", "Flow log ID '%s' does not exist",
                                       json_string_value(v));
        }
        /* write what the meters hold for these flow logs before they go */
        enis = attached_enis(d);
        json_array_foreach(enis, k, eni) {
                bool want = false;
                json_array_foreach(ids, i, v) {
                        struct fl_log *l = log_find(json_string_value(v), NULL);
                        want |= l && log_covers(l, eni);
                }
                if (want)
                        eni_poll(d, eni);
        }
        json_array_foreach(ids, i, v) {
                struct fl_log *l = log_find(json_string_value(v), NULL);
                if (!l)
                        continue;
                json_array_foreach(enis, k, eni)
                        if (log_covers(l, eni))
                                window_write(d, l, eni, l->win_start, now_s());
        }
        if ((r = store_begin(d->store, err)) < 0)
                return r;
        json_array_foreach(ids, i, v) {
                char key[KEY_MAX];
                key_fmt(key, "fl", json_string_value(v));
                if ((r = store_del(d->store, key, err)) < 0) {
                        store_rollback(d->store);
                        return r;
                }
        }
        if ((r = store_commit(d->store, err)) < 0) {
                store_rollback(d->store);
                return r;
        }
        json_array_foreach(ids, i, v) {
                size_t j;
                if (log_find(json_string_value(v), &j)) {
                        for (size_t k2 = 0; k2 < FL.logs[j].ne; k2++)
                                spool_drop(&FL.logs[j], FL.logs[j].e[k2].eni);
                        log_fini(&FL.logs[j]);
                        FL.logs[j] = FL.logs[--FL.n];
                }
                log_info("op=DeleteFlowLogs flow_log=%s", json_string_value(v));
        }
        spool_save_all(NULL);
        *ret = json_pack("{s:[]}", "Unsuccessful");
        return 0;
}

/* The lines of a file, oldest first; the first line (the header) apart. */
static int file_lines(const char *path, json_t *records, json_t **ret_header)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        bool first = true;
        if (!f)
                return -errno;
        while ((n = getline(&line, &cap, f)) > 0) {
                if (line[n - 1] == '\n')
                        line[--n] = '\0';
                if (first) {
                        if (!*ret_header)
                                *ret_header = json_string(line);
                        first = false;
                } else
                        json_array_append_new(records, json_stringn(line, (size_t) n));
        }
        free(line);
        return 0;
}

struct get_ctx {
        const char *eni, *want;
        json_t *out, *paths;
};

static int get_cb(const char *key, json_t *rec, void *ud)
{
        struct get_ctx *c = ud;
        char path[PATH_MAX + 64], rot[PATH_MAX + 70];
        json_t *records, *header = NULL, *p;
        size_t i;
        bool seen = false;
        if (c->want && strcmp(c->want, str(rec, "FlowLogId")) != 0)
                return 0;
        snprintf(path, sizeof path, "%s/%s.log", str(rec, "LogDestination"), c->eni);
        json_array_foreach(c->paths, i, p)
                seen |= strcmp(json_string_value(p), path) == 0;
        if (seen || access(path, R_OK) < 0)
                return 0;
        json_array_append_new(c->paths, json_string(path));
        records = json_array();
        snprintf(rot, sizeof rot, "%s.1", path);
        (void) file_lines(rot, records, &header);
        (void) file_lines(path, records, &header);
        json_array_append_new(c->out, json_pack("{s:s, s:s, s:s, s:o?, s:o}", "FlowLogId", str(rec, "FlowLogId"),
                                                "NetworkInterfaceId", c->eni, "LogFile", path, "Header", header,
                                                "Records", records));
        return 0;
}

int op_get_flow_logs(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        static const char *const keys[] = { "Action", "NetworkInterfaceId", "FlowLogId", NULL };
        _cleanup_json_ json_t *paths = json_array();
        struct get_ctx c = { 0 };
        int r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = json_get_string(req, "NetworkInterfaceId", true, &c.eni, err)) < 0 ||
            (r = json_get_string(req, "FlowLogId", false, &c.want, err)) < 0)
                return r;
        if (!id_valid("eni", c.eni))
                return err_set(err, EINVAL, "InvalidNetworkInterfaceID.Malformed", "Invalid id: \"%s\" (expecting \"eni-...\")", c.eni);
        if (c.want) {
                char key[KEY_MAX];
                if (!id_valid("fl", c.want))
                        return err_set(err, EINVAL, "InvalidFlowLogId.NotFound", "Flow log ID '%s' does not exist", c.want);
                key_fmt(key, "fl", c.want);
                if ((r = store_exists(d->store, key)) == 0)
                        return err_set(err, ENOENT, "InvalidFlowLogId.NotFound", "Flow log ID '%s' does not exist", c.want);
        }
        c.out = json_array();
        c.paths = paths;
        if ((r = store_list(d->store, "fl/", get_cb, &c, err)) < 0) {
                json_decref(c.out);
                return r;
        }
        *ret = json_pack("{s:o}", "FlowLogRecords", c.out);
        return 0;
}
