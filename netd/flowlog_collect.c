/* flowlog_collect.c: the flow log collector: the flow logs in d->fl, an sd-event timer that reads the task
 * namespaces' meters into accumulators, windows appended as AWS records to files, the spool. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "ecsbox/cidr.h"
#include "ecsbox/fsutil.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "flowlog.h"
#include "flowlog_collect.h"
#include "netd.h"
#include "record.h"
#include "subnet.h"
#include "vpc.h"

#define FL_POLL_MAX_S 10                     /* the sets' timeout is 30 s: poll at least 3 times within it */
#define FL_ROTATE_BYTES (10 * 1024 * 1024)   /* <eni>.log -> <eni>.log.1 */
#define FL_LINE_MAX 4096
#define FL_TICK_OFFSET_US 100000             /* tick 100 ms after each second: windows end on whole seconds */

/* d->fl: the flow logs being collected, with their accumulators. */
struct flowlog_state {
        sd_event_source *timer;
        struct fl_log *logs;
        size_t n;
};


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

int fl_traffic_parse(const char *s)
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

int fl_log_from_record(json_t *rec, struct fl_log *ret, struct err *err)
{
        struct fl_log l = { 0 };
        int r;
        snprintf(l.id, sizeof l.id, "%s", rec_str(rec, "FlowLogId"));
        snprintf(l.type, sizeof l.type, "%s", rec_str(rec, "ebxResourceType") ?: "NetworkInterface");
        snprintf(l.resource, sizeof l.resource, "%s", rec_str(rec, "ResourceId"));
        snprintf(l.dest, sizeof l.dest, "%s", rec_str(rec, "LogDestination"));
        if ((r = fl_format_parse(rec_str(rec, "LogFormat"), &l.fmt, err)) < 0)
                return r;
        l.interval = (int) json_integer_value(json_object_get(rec, "MaxAggregationInterval"));
        if (l.interval <= 0)
                l.interval = 600;
        l.traffic = fl_traffic_parse(rec_str(rec, "TrafficType"));
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
                v = rec_str(eni, "SubnetId");
        else if (strcmp(l->type, "VPC") == 0)
                v = rec_str(eni, "VpcId");
        else
                v = rec_str(eni, "NetworkInterfaceId");
        return v && strcmp(v, l->resource) == 0;
}

/* ---- the ENIs being metered ---- */

static int attached_cb(const char *key, json_t *eni, void *ud)
{
        json_t *att = json_object_get(eni, "ebxAttachment");
        if (att && rec_str(att, "Netns") && strcmp(rec_str(att, "Status") ?: "", "attached") == 0)
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
        struct flowlog_state *fl = d->fl;
        size_t nflows;
        struct fl_acc tmp = { 0 };
        struct err err = { 0 };
        uint32_t ip = 0;
        json_t *att = json_object_get(eni, "ebxAttachment");

        (void) ip4_parse(rec_str(eni, "PrivateIpAddress") ?: "", &ip);
        if (fl_read_netns(d->knet, rec_str(att, "Netns"), ip, &tmp, &err) < 0)
                log_warning("msg=\"flow log read failed, SKIPDATA\" eni=%s err=\"%s\"", rec_str(eni, "NetworkInterfaceId"),
                            err.msg);
        for (size_t i = 0; i < fl->n; i++) {
                struct fl_acc *a;
                if (!log_covers(&fl->logs[i], eni))
                        continue;
                a = log_acc(&fl->logs[i], rec_str(eni, "NetworkInterfaceId"));
                if (!a || fl_acc_merge(a, &tmp) < 0) {
                        log_error("msg=\"out of memory in the flow log collector\" flow_log=%s", fl->logs[i].id);
                        if (a)
                                a->skip = true;
                }
        }
        nflows = tmp.n;
        fl_acc_fini(&tmp);
        return nflows;
}

static void spool_drop(struct netd *d, const struct fl_log *l, const char *eni);

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
        (void) subnet_load(d, rec_str(eni, "SubnetId"), &x->subnet, &err);
        (void) vpc_load(d, rec_str(eni, "VpcId"), &x->vpc, &err);
        x->c.account = rec_str(eni, "OwnerId") ?: d->account;
        x->c.eni = rec_str(eni, "NetworkInterfaceId");
        x->c.vpc = rec_str(eni, "VpcId");
        x->c.subnet = rec_str(eni, "SubnetId");
        x->c.instance = att ? rec_str(att, "InstanceId") : NULL;
        x->c.region = d->region;
        fl_az_id(d->region, rec_str(eni, "AvailabilityZone"), x->az_id, sizeof x->az_id);
        x->c.az_id = x->az_id;
        if (x->vpc && cidr4_parse(rec_str(x->vpc, "CidrBlock") ?: "", &c) == 0) {
                x->c.vpc_mask = cidr4_mask(c.len);
                x->c.vpc_net = c.addr & x->c.vpc_mask;
        }
        ecs[FL_ECS_CLUSTER_ARN - FL_ECS_CLUSTER_ARN] = rec_str(md, "clusterArn");
        ecs[FL_ECS_CLUSTER_NAME - FL_ECS_CLUSTER_ARN] = rec_str(md, "clusterName") ?: fl_arn_tail(rec_str(md, "clusterArn"));
        ecs[FL_ECS_CONTAINER_INSTANCE_ARN - FL_ECS_CLUSTER_ARN] = rec_str(md, "containerInstanceArn");
        ecs[FL_ECS_CONTAINER_INSTANCE_ID - FL_ECS_CLUSTER_ARN] = fl_arn_tail(rec_str(md, "containerInstanceArn"));
        ecs[FL_ECS_CONTAINER_ID - FL_ECS_CLUSTER_ARN] = json_string_value(json_array_get(cids, 0));
        ecs[FL_ECS_SECOND_CONTAINER_ID - FL_ECS_CLUSTER_ARN] = json_string_value(json_array_get(cids, 1));
        ecs[FL_ECS_SERVICE_NAME - FL_ECS_CLUSTER_ARN] = rec_str(md, "serviceName");
        ecs[FL_ECS_TASK_DEFINITION_ARN - FL_ECS_CLUSTER_ARN] = rec_str(md, "taskDefinitionArn");
        ecs[FL_ECS_TASK_ARN - FL_ECS_CLUSTER_ARN] = rec_str(md, "taskArn");
        ecs[FL_ECS_TASK_ID - FL_ECS_CLUSTER_ARN] = fl_arn_tail(rec_str(md, "taskArn"));
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
        const char *id = rec_str(eni, "NetworkInterfaceId");
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
        if (x.subnet && cidr4_parse(rec_str(x.subnet, "CidrBlock") ?: "", &sn) == 0)
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
        if (r >= 0 && !traffic && !a->skip && !l->cut) {
                rec = (struct fl_rec) { .start = start, .end = end, .status = FL_NODATA };
                r = obuf_line(&o, &l->fmt, &x.c, &rec);
        }
        if (r >= 0 && (a->skip || l->cut)) {
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
        spool_drop(d, l, id);
}

/* ---- spool: what was read but belongs to a window not yet written ----
 * A flow log with a window longer than FL_POLL_MAX_S is polled before the window ends (an element that
 * expires takes its counters with it). The sums read so far are kept in <state>/flowlog/<fl>.<eni>.spool,
 * replaced atomically after every poll, so a crash loses nothing that was read; a restart adds them to
 * the window it writes next. */

static void spool_path(struct netd *d, const struct fl_log *l, const char *eni, char *buf, size_t len)
{
        snprintf(buf, len, "%s/flowlog/%s.%s.spool", d->state_dir, l->id, eni);
}

static int spool_save(struct netd *d, const struct fl_log *l, const struct fl_eni_acc *e)
{
        char path[PATH_MAX], tmp[PATH_MAX + 8];
        _cleanup_fclose_ FILE *f = NULL;
        const struct fl_acc *a = &e->acc;

        spool_path(d, l, e->eni, path, sizeof path);
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

static void spool_save_all(struct netd *d, const bool *skip)
{
        struct flowlog_state *fl = d->fl;
        for (size_t j = 0; j < fl->n; j++) {
                if (skip && skip[j])
                        continue;
                for (size_t i = 0; i < fl->logs[j].ne; i++) {
                        int r = spool_save(d, &fl->logs[j], &fl->logs[j].e[i]);
                        if (r < 0)
                                log_warning("msg=\"cannot save flow log spool, ignoring\" flow_log=%s eni=%s err=\"%s\"",
                                            fl->logs[j].id, fl->logs[j].e[i].eni, strerror(-r));
                }
        }
}

static void spool_drop(struct netd *d, const struct fl_log *l, const char *eni)
{
        char path[PATH_MAX];
        spool_path(d, l, eni, path, sizeof path);
        (void) unlink(path);
}

/* Start-up: add the spools of a flow log to its accumulators. */
static void spool_load(struct netd *d, struct fl_log *l)
{
        char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2], prefix[ID_MAX + 2];
        DIR *dp;
        struct dirent *de;

        snprintf(dir, sizeof dir, "%s/flowlog", d->state_dir);
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

/* ---- the in-flight marker ----
 * Reading a meter resets it, so what a pass has read lives only in netd's memory until the pass has
 * appended its windows and saved its spools. A netd killed in between loses it (found by tests/chaos:
 * 36 packets of a window gone across a kill -9). A pass names the flow logs it reads in
 * <state>/flowlog/inflight before reading and removes the file when everything read is on disk; a
 * start-up that finds the file marks those flow logs `cut`, and their next window carries SKIPDATA, as
 * AWS marks a window whose records it could not all deliver. No fsync: a process crash leaves the page
 * cache, and a machine crash loses the kernel's counters anyway. */

static void inflight_path(struct netd *d, char *buf, size_t len)
{
        snprintf(buf, len, "%s/flowlog/inflight", d->state_dir);
}

static void inflight_begin(struct netd *d, const bool *poll)
{
        struct flowlog_state *fl = d->fl;
        char path[PATH_MAX];
        _cleanup_fclose_ FILE *f = NULL;
        inflight_path(d, path, sizeof path);
        if (!(f = fopen(path, "we"))) {
                log_warning("msg=\"cannot write the flow log in-flight marker, ignoring\" path=%s err=\"%m\"", path);
                return;
        }
        for (size_t j = 0; j < fl->n; j++)
                if (poll[j])
                        fprintf(f, "%s\n", fl->logs[j].id);
}

static void inflight_end(struct netd *d)
{
        char path[PATH_MAX];
        inflight_path(d, path, sizeof path);
        (void) unlink(path);
}

/* Start-up: the flow logs of a pass that a crash cut. */
static void inflight_load(struct netd *d)
{
        struct flowlog_state *fl = d->fl;
        char path[PATH_MAX], line[ID_MAX + 2];
        FILE *f;
        inflight_path(d, path, sizeof path);
        if (!(f = fopen(path, "re")))
                return;
        while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\n")] = 0;
                for (size_t j = 0; j < fl->n; j++)
                        if (strcmp(fl->logs[j].id, line) == 0) {
                                fl->logs[j].cut = true;
                                log_notice("msg=\"a crash cut a flow log pass; its next window is SKIPDATA\" flow_log=%s", line);
                        }
        }
        fclose(f);
        (void) unlink(path);
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
        struct flowlog_state *fl = d->fl;
        _cleanup_json_ json_t *enis = NULL;
        struct timespec cpu0, cpu1, cpu2, wall0, wall1;
        size_t nflows = 0, nread = 0;
        bool *due, *poll, any = false;
        json_t *eni;
        size_t i;

        if (fl->n == 0)
                return;
        due = calloc(fl->n, sizeof *due);
        poll = calloc(fl->n, sizeof *poll);
        if (!due || !poll) {
                free(due);
                free(poll);
                return;
        }
        for (size_t j = 0; j < fl->n; j++) {
                due[j] = now >= fl->logs[j].win_start + fl->logs[j].interval;
                poll[j] = due[j] || now - fl->logs[j].last_poll >= FL_POLL_MAX_S;
                any |= poll[j];
        }
        if (!any)
                goto out;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
        clock_gettime(CLOCK_MONOTONIC, &wall0);
        enis = attached_enis(d);
        inflight_begin(d, poll);
        json_array_foreach(enis, i, eni) {
                bool want = false;
                for (size_t j = 0; j < fl->n; j++)
                        want |= poll[j] && log_covers(&fl->logs[j], eni);
                if (want) {
                        nflows += eni_poll(d, eni);
                        nread++;
                }
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
        for (size_t j = 0; j < fl->n; j++) {
                struct fl_log *l = &fl->logs[j];
                if (poll[j])
                        l->last_poll = now;
                if (!due[j])
                        continue;
                json_array_foreach(enis, i, eni)
                        if (log_covers(l, eni))
                                window_write(d, l, eni, l->win_start, l->win_start + l->interval);
                for (size_t k = 0; k < l->ne; k++)   /* ENIs gone without a final read (should not happen) */
                        spool_drop(d, l, l->e[k].eni);
                log_fini(l);
                l->cut = false;
                l->win_start = window_start(now, l->interval);
        }
        spool_save_all(d, due);
        inflight_end(d);
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
        collect(userdata, now_s());
        clock_gettime(CLOCK_REALTIME, &ts);
        next = ((uint64_t) ts.tv_sec + 1) * 1000000ull + FL_TICK_OFFSET_US;
        (void) sd_event_source_set_time(s, next);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

static int load_cb(const char *key, json_t *rec, void *ud)
{
        struct netd *d = ud;
        struct flowlog_state *fl = d->fl;
        struct err err = { 0 };
        struct fl_log l, *n;
        if (fl_log_from_record(rec, &l, &err) < 0) {
                log_warning("msg=\"bad flow log record, ignoring\" key=%s err=\"%s\"", key, err.msg);
                return 0;
        }
        n = realloc(fl->logs, (fl->n + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        fl->logs = n;
        fl->logs[fl->n] = l;
        spool_load(d, &fl->logs[fl->n++]);
        return 0;
}

int flowlog_start(struct netd *d, sd_event *ev, struct err *err)
{
        struct timespec ts;
        int r;
        char dir[PATH_MAX];
        struct flowlog_state *fl;
        snprintf(dir, sizeof dir, "%s/flowlog", d->state_dir);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return err_set(err, errno, NULL, "create '%s': %s", dir, strerror(errno));
        if (!(fl = calloc(1, sizeof *fl)))
                return err_set(err, ENOMEM, NULL, "out of memory");
        d->fl = fl;
        if ((r = store_list(d->store, "fl/", load_cb, d, err)) < 0)
                return r;
        inflight_load(d);
        clock_gettime(CLOCK_REALTIME, &ts);
        r = sd_event_add_time(ev, &fl->timer, CLOCK_REALTIME, ((uint64_t) ts.tv_sec + 1) * 1000000ull + FL_TICK_OFFSET_US,
                              1000, tick, d);
        if (r < 0)
                return err_set(err, -r, NULL, "flow log timer: %s", strerror(-r));
        log_info("msg=\"flow log collector started\" flow_logs=%zu", fl->n);
        return 0;
}

void flowlog_stop(struct netd *d)
{
        struct flowlog_state *fl = d->fl;
        if (!fl)
                return;
        fl->timer = sd_event_source_disable_unref(fl->timer);
        for (size_t j = 0; j < fl->n; j++)
                log_fini(&fl->logs[j]);
        free(fl->logs);
        free(fl);
        d->fl = NULL;
}

void flowlog_eni_final(struct netd *d, json_t *eni)
{
        static const struct flowlog_state none = { 0 };
        const struct flowlog_state *fl = d->fl ? d->fl : &none;   /* start-up: no flow log is loaded yet */
        json_t *att = json_object_get(eni, "ebxAttachment");
        const char *netns = att ? rec_str(att, "Netns") : NULL;
        bool covered = false;
        int64_t now = now_s();

        if (!netns)
                return;
        for (size_t j = 0; j < fl->n; j++)
                covered |= log_covers(&fl->logs[j], eni);
        if (covered && strcmp(rec_str(att, "Status") ?: "", "attached") == 0) {
                eni_poll(d, eni);
                for (size_t j = 0; j < fl->n; j++)
                        if (log_covers(&fl->logs[j], eni))
                                window_write(d, &fl->logs[j], eni, fl->logs[j].win_start, now);
        }
        fl_read_forget(d->knet, netns);
}

/* ---- flow logs come and go ---- */

/* Read (and throw away) what an ENI's meters counted before its first flow log existed. */
static void eni_discard_before(struct netd *d, json_t *eni)
{
        struct fl_acc tmp = { 0 };
        struct err err = { 0 };
        uint32_t ip = 0;
        json_t *att = json_object_get(eni, "ebxAttachment");
        (void) ip4_parse(rec_str(eni, "PrivateIpAddress") ?: "", &ip);
        (void) fl_read_netns(d->knet, rec_str(att, "Netns"), ip, &tmp, &err);
        fl_acc_fini(&tmp);
}

int flowlog_reserve(struct netd *d, size_t n, struct err *err)
{
        struct flowlog_state *fl = d->fl;
        struct fl_log *grown = realloc(fl->logs, (fl->n + n) * sizeof *grown);
        if (!grown)
                return err_set(err, ENOMEM, NULL, "%zu flow log(s): %s", n, strerror(ENOMEM));
        fl->logs = grown;
        return 0;
}

void flowlog_add(struct netd *d, struct fl_log *logs, size_t n)
{
        struct flowlog_state *fl = d->fl;
        _cleanup_json_ json_t *enis = attached_enis(d);
        size_t first = fl->n, i;
        json_t *eni;
        for (i = 0; i < n; i++)
                fl->logs[fl->n++] = logs[i];
        json_array_foreach(enis, i, eni) {
                bool old = false, neu = false;
                for (size_t j = 0; j < fl->n; j++) {
                        if (!log_covers(&fl->logs[j], eni))
                                continue;
                        if (j < first)
                                old = true;
                        else
                                neu = true;
                }
                if (neu && !old)
                        eni_discard_before(d, eni);
        }
}

static struct fl_log *log_find(struct flowlog_state *fl, const char *id, size_t *ret_idx)
{
        for (size_t j = 0; j < fl->n; j++)
                if (strcmp(fl->logs[j].id, id) == 0) {
                        if (ret_idx)
                                *ret_idx = j;
                        return &fl->logs[j];
                }
        return NULL;
}

void flowlog_flush(struct netd *d, json_t *ids)
{
        struct flowlog_state *fl = d->fl;
        _cleanup_json_ json_t *enis = attached_enis(d);
        json_t *v, *eni;
        size_t i, k;
        json_array_foreach(enis, k, eni) {
                bool want = false;
                json_array_foreach(ids, i, v) {
                        struct fl_log *l = log_find(fl, json_string_value(v), NULL);
                        want |= l && log_covers(l, eni);
                }
                if (want)
                        eni_poll(d, eni);
        }
        json_array_foreach(ids, i, v) {
                struct fl_log *l = log_find(fl, json_string_value(v), NULL);
                if (!l)
                        continue;
                json_array_foreach(enis, k, eni)
                        if (log_covers(l, eni))
                                window_write(d, l, eni, l->win_start, now_s());
        }
}

void flowlog_forget(struct netd *d, json_t *ids)
{
        struct flowlog_state *fl = d->fl;
        json_t *v;
        size_t i;
        json_array_foreach(ids, i, v) {
                size_t j;
                if (!log_find(fl, json_string_value(v), &j))
                        continue;
                for (size_t k = 0; k < fl->logs[j].ne; k++)
                        spool_drop(d, &fl->logs[j], fl->logs[j].e[k].eni);
                log_fini(&fl->logs[j]);
                fl->logs[j] = fl->logs[--fl->n];
        }
        spool_save_all(d, NULL);
}
