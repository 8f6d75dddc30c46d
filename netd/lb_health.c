/* lb_health.c: target health checks on a one-second tick of netd's sd-event loop: non-blocking TCP
 * connects from the VPC netns, HTTP GETs through libcurl's multi interface (its sockets made in the VPC
 * netns, driven by the same loop); and the end of draining. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "ecsbox/cidr.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "kernel/knet_lb.h"
#include "lb.h"
#include "lb_health.h"
#include "lb_sel.h"
#include "netd.h"
#include "record.h"

#define TICK_USEC 1000000ull
#define USEC 1000000ull

/* One target of one group: its run counters and the check under way (fd >= 0). */
struct probe {
        struct probe *next;
        struct lb_health_state *st;
        char tg[32];
        uint32_t ip;
        uint16_t port, check_port;
        int ok_run, fail_run;
        int fd;
        sd_event_source *io;
        uint64_t deadline;
        bool seen;                      /* still registered at the last tick */
        CURL *easy;                     /* an HTTP check under way */
        char netns[64];                 /* where the HTTP check's socket is made, from src */
        uint32_t src;
        char matcher[64];
};

struct lb_health_state {
        struct netd *d;
        sd_event *ev;
        sd_event_source *tick;
        struct probe *probes;
        json_t *due;                    /* TargetGroupId -> the next check (CLOCK_MONOTONIC usec) */
        CURLM *multi;                   /* HTTP checks */
        sd_event_source *curl_timer;
};

static void probe_close(struct probe *p)
{
        if (p->easy) {
                curl_multi_remove_handle(p->st->multi, p->easy);
                curl_easy_cleanup(p->easy);
                p->easy = NULL;
        }
        p->io = sd_event_source_disable_unref(p->io);
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
}

/* The check's result: the record's state moved by lb_sel.c; a change stored and applied. */
static void probe_done(struct probe *p, bool ok, int why)
{
        struct netd *d = p->st->d;
        _cleanup_json_ json_t *tg = NULL;
        struct lb_health h;
        struct err e = { 0 };
        char key[KEY_MAX], ips[IP4_STR_MAX];
        json_t *t, *found = NULL;
        size_t i;

        probe_close(p);
        if (record_load(d, "lbtg", p->tg, &tg) < 0)
                return;
        ip4_format(p->ip, ips);
        json_array_foreach(json_object_get(tg, "Targets"), i, t)
                if (!strcmp(rec_str(t, "Id") ?: "", ips) && jint(t, "Port", 0) == p->port)
                        found = t;
        if (!found)
                return;
        h.state = lb_state_parse(rec_str(found, "State"));
        h.reason = lb_reason_parse(rec_str(found, "Reason"));
        if (h.state < 0)
                h.state = LB_S_INITIAL;
        if (h.reason < 0)
                h.reason = LB_R_NONE;
        h.ok_run = p->ok_run;
        h.fail_run = p->fail_run;
        json_t *hc = json_object_get(tg, "HealthCheck");
        bool changed = lb_health_step(&h, ok, why, (int) jint(hc, "HealthyThresholdCount", 5), (int) jint(hc, "UnhealthyThresholdCount", 2));
        p->ok_run = h.ok_run;
        p->fail_run = h.fail_run;
        if (!changed)
                return;
        json_object_set_new(found, "State", json_string(lb_state_name(h.state)));
        if (lb_reason_name(h.reason))
                json_object_set_new(found, "Reason", json_string(lb_reason_name(h.reason)));
        else
                json_object_del(found, "Reason");
        log_info("msg=\"target health changed\" tg=%s target=%s:%u state=%s reason=%s", p->tg, ips, p->port, lb_state_name(h.state),
                 lb_reason_name(h.reason) ?: "-");
        key_fmt(key, "lbtg", p->tg);
        if (store_put(d->store, key, tg, &e) < 0 || lb_apply(d, rec_str(tg, "VpcId"), &e) < 0)
                log_error("msg=\"cannot apply target health\" tg=%s target=%s:%u err=\"%s\"", p->tg, ips, p->port, e.msg);
}

static int on_probe_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct probe *p = userdata;
        int soerr = 0;
        socklen_t len = sizeof soerr;
        (void) s;
        (void) revents;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                soerr = errno;
        probe_done(p, soerr == 0, soerr == ETIMEDOUT ? LB_R_TIMEOUT : LB_R_FAILED);
        return 0;
}

static void probe_start(struct probe *p, const char *netns, uint32_t src, uint64_t now, int timeout_s)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->check_port), .sin_addr.s_addr = htonl(p->ip) };
        struct err e = { 0 };
        int fd = -1;
        if (knet_lb_probe_socket(p->st->d->knet, netns, src, &fd, &e) < 0) {
                log_warning("msg=\"cannot make health check socket, ignoring\" tg=%s err=\"%s\"", p->tg, e.msg);
                return;
        }
        p->fd = fd;
        p->deadline = now + (uint64_t) timeout_s * USEC;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0) {
                probe_done(p, true, LB_R_NONE);
                return;
        }
        if (errno != EINPROGRESS) {
                probe_done(p, false, LB_R_FAILED);
                return;
        }
        if (sd_event_add_io(p->st->ev, &p->io, fd, EPOLLOUT, on_probe_io, p) < 0)
                probe_close(p);
}


/* ---- HTTP checks: libcurl's multi interface on the event loop ---- */

static void curl_done(struct lb_health_state *st)
{
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(st->multi, &left))) {
                struct probe *p = NULL;
                long code = 0;
                CURLcode res;
                if (m->msg != CURLMSG_DONE)
                        continue;
                res = m->data.result;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &p);
                curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
                if (!p)
                        continue;
                if (res == CURLE_OK)
                        probe_done(p, lb_matcher_match(p->matcher, code), LB_R_MISMATCH);
                else {
                        log_debug("msg=\"HTTP health check failed\" tg=%s err=\"%s\"", p->tg, curl_easy_strerror(res));
                        probe_done(p, false, res == CURLE_OPERATION_TIMEDOUT ? LB_R_TIMEOUT : LB_R_FAILED);
                }
        }
}

static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        struct lb_health_state *st = userdata;
        int action = 0, running = 0;
        (void) s;
        if (revents & EPOLLIN)
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & (EPOLLERR | EPOLLHUP))
                action |= CURL_CSELECT_ERR;
        (void) curl_multi_socket_action(st->multi, fd, action, &running);
        curl_done(st);
        return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct lb_health_state *st = userdata;
        int running = 0;
        (void) s;
        (void) usec;
        (void) curl_multi_socket_action(st->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        curl_done(st);
        return 0;
}

/* libcurl says which sockets to watch for what; the io source rides on the socket (curl_multi_assign). */
static int curl_sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
        struct lb_health_state *st = userp;
        sd_event_source *src = socketp;
        uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
        (void) e;
        if (what == CURL_POLL_REMOVE) {
                if (src) {
                        sd_event_source_disable_unref(src);
                        curl_multi_assign(st->multi, fd, NULL);
                }
                return 0;
        }
        if (!src) {
                if (sd_event_add_io(st->ev, &src, fd, ev, on_curl_io, st) < 0)
                        return -1;
                curl_multi_assign(st->multi, fd, src);
                return 0;
        }
        return sd_event_source_set_io_events(src, ev) < 0 ? -1 : 0;
}

static int curl_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
        struct lb_health_state *st = userp;
        uint64_t now = 0;
        (void) m;
        if (timeout_ms < 0)
                return st->curl_timer ? (sd_event_source_set_enabled(st->curl_timer, SD_EVENT_OFF) < 0 ? -1 : 0) : 0;
        (void) sd_event_now(st->ev, CLOCK_MONOTONIC, &now);
        now += (uint64_t) timeout_ms * 1000;
        if (!st->curl_timer)
                return sd_event_add_time(st->ev, &st->curl_timer, CLOCK_MONOTONIC, now, 1000, on_curl_timer, st) < 0 ? -1 : 0;
        if (sd_event_source_set_time(st->curl_timer, now) < 0 || sd_event_source_set_enabled(st->curl_timer, SD_EVENT_ONESHOT) < 0)
                return -1;
        return 0;
}

/* The check's socket made inside the VPC netns, bound to the LB's address, as the TCP checks' are. */
static curl_socket_t curl_open_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
        struct probe *p = clientp;
        struct err e = { 0 };
        int fd = -1;
        if (purpose != CURLSOCKTYPE_IPCXN || addr->family != AF_INET)
                return CURL_SOCKET_BAD;
        if (knet_lb_probe_socket(p->st->d->knet, p->netns, p->src, &fd, &e) < 0) {
                log_warning("msg=\"cannot make health check socket, ignoring\" tg=%s err=\"%s\"", p->tg, e.msg);
                return CURL_SOCKET_BAD;
        }
        return fd;
}

static size_t curl_discard(char *ptr, size_t size, size_t n, void *ud)
{
        (void) ptr;
        (void) ud;
        return size * n;
}

/* GET http://target:port/path under the timeout; no connection reuse: every check connects anew. */
static void probe_start_http(struct probe *p, const char *netns, uint32_t src, const char *path, const char *matcher, int timeout_s)
{
        char ips[IP4_STR_MAX], url[1200];
        CURL *e = curl_easy_init();
        ip4_format(p->ip, ips);
        snprintf(url, sizeof url, "http://%s:%u%s", ips, p->check_port, path);
        snprintf(p->netns, sizeof p->netns, "%s", netns);
        snprintf(p->matcher, sizeof p->matcher, "%s", matcher);
        p->src = src;
        if (!e) {
                log_warning("msg=\"cannot make HTTP health check, ignoring\" tg=%s err=\"out of memory\"", p->tg);
                return;
        }
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_PRIVATE, p);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) timeout_s * 1000);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_USERAGENT, "ELB-HealthChecker/2.0");
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, curl_open_cb);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, p);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_discard);
        if (curl_multi_add_handle(p->st->multi, e) != CURLM_OK) {
                curl_easy_cleanup(e);
                return;
        }
        p->easy = e;
        p->fd = -2;     /* under way: the socket is libcurl's */
}

static struct probe *probe_get(struct lb_health_state *st, const char *tg, uint32_t ip, uint16_t port)
{
        struct probe *p;
        for (p = st->probes; p; p = p->next)
                if (p->ip == ip && p->port == port && !strcmp(p->tg, tg))
                        return p;
        if (!(p = calloc(1, sizeof *p)))
                return NULL;
        p->st = st;
        snprintf(p->tg, sizeof p->tg, "%s", tg);
        p->ip = ip;
        p->port = port;
        p->fd = -1;
        p->next = st->probes;
        st->probes = p;
        return p;
}

/* Drained targets past their deadline leave the group (their connections were left alone till then). */
static void drain_expire(struct netd *d, json_t *tg, time_t now)
{
        json_t *targets = json_object_get(tg, "Targets");
        struct err e = { 0 };
        char key[KEY_MAX];
        bool changed = false;
        for (size_t i = 0; i < json_array_size(targets); i++) {
                json_t *t = json_array_get(targets, i);
                if (!strcmp(rec_str(t, "State") ?: "", "draining") && jint(t, "ebxDrainUntil", 0) <= now) {
                        log_info("msg=\"target drained\" tg=%s target=%s:%lld", rec_str(tg, "TargetGroupId"), rec_str(t, "Id"), jint(t, "Port", 0));
                        json_array_remove(targets, i--);
                        changed = true;
                }
        }
        key_fmt(key, "lbtg", rec_str(tg, "TargetGroupId"));
        if (changed && store_put(d->store, key, tg, &e) < 0)
                log_error("msg=\"cannot store drained target group\" tg=%s err=\"%s\"", rec_str(tg, "TargetGroupId"), e.msg);
}

static void group_tick(struct lb_health_state *st, json_t *tg, uint64_t now)
{
        const char *id = rec_str(tg, "TargetGroupId") ?: "";
        json_t *hc = json_object_get(tg, "HealthCheck"), *t;
        char netns[64] = "";
        uint32_t src;
        size_t i;

        if (json_integer_value(json_object_get(st->due, id)) > (json_int_t) now)
                goto mark;
        src = lb_group_source(st->d, id, netns);
        if (!src)
                goto mark;      /* unused: no listener forwards to it, no checks (state unused) */
        json_object_set_new(st->due, id, json_integer((json_int_t) (now + (uint64_t) jint(hc, "IntervalSeconds", 30) * USEC)));
        json_array_foreach(json_object_get(tg, "Targets"), i, t) {
                uint32_t ip = 0;
                struct probe *p;
                if (!strcmp(rec_str(t, "State") ?: "", "draining") || ip4_parse(rec_str(t, "Id") ?: "", &ip) < 0 ||
                    !(p = probe_get(st, id, ip, (uint16_t) jint(t, "Port", 0))))
                        continue;
                p->check_port = (uint16_t) (jint(hc, "Port", 0) ? jint(hc, "Port", 0) : jint(t, "Port", 0));
                if (p->fd != -1)
                        continue;
                if (!strcmp(rec_str(hc, "Protocol") ?: "TCP", "HTTP"))
                        probe_start_http(p, netns, src, rec_str(hc, "Path") ?: "/", rec_str(hc, "Matcher") ?: "200-399",
                                         (int) jint(hc, "TimeoutSeconds", 6));
                else
                        probe_start(p, netns, src, now, (int) jint(hc, "TimeoutSeconds", 10));
        }
mark:
        json_array_foreach(json_object_get(tg, "Targets"), i, t) {
                uint32_t ip = 0;
                if (ip4_parse(rec_str(t, "Id") ?: "", &ip) < 0 || !strcmp(rec_str(t, "State") ?: "", "draining"))
                        continue;
                for (struct probe *p = st->probes; p; p = p->next)
                        if (p->ip == ip && p->port == jint(t, "Port", 0) && !strcmp(p->tg, id))
                                p->seen = true;
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct lb_health_state *st = userdata;
        _cleanup_json_ json_t *tgs = netd_records(st->d, "lbtg/", NULL);
        struct probe **pp;
        json_t *tg;
        size_t i;
        uint64_t now = usec;

        (void) sd_event_now(st->ev, CLOCK_MONOTONIC, &now);
        for (struct probe *p = st->probes; p; p = p->next)
                p->seen = false;
        json_array_foreach(tgs, i, tg) {
                drain_expire(st->d, tg, time(NULL));
                group_tick(st, tg, now);
        }
        /* checks past their timeout fail; probes of targets no longer checked go */
        for (pp = &st->probes; *pp;) {
                struct probe *p = *pp;
                if (!p->seen) {
                        probe_close(p);
                        *pp = p->next;
                        free(p);
                        continue;
                }
                if (p->fd >= 0 && !p->easy && now >= p->deadline)
                        probe_done(p, false, LB_R_TIMEOUT);
                pp = &p->next;
        }
        (void) sd_event_source_set_time(s, now + TICK_USEC);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}


/* The fds open now, as a bitmap of the first FDS_MAX. */
#define FDS_MAX 4096
static void fds_open(uint8_t map[FDS_MAX / 8])
{
        DIR *dir = opendir("/proc/self/fd");
        struct dirent *de;
        memset(map, 0, FDS_MAX / 8);
        if (!dir)
                return;
        while ((de = readdir(dir))) {
                int fd = atoi(de->d_name);
                /* not the listing's own fd: it is closed again, and the next socket may get its number */
                if (de->d_name[0] != '.' && fd >= 0 && fd < FDS_MAX && fd != dirfd(dir))
                        map[fd / 8] |= (uint8_t) (1u << (fd % 8));
        }
        closedir(dir);
}

/* curl_multi_init() opens its wakeup socketpair without SOCK_CLOEXEC (libcurl 8.x): every fd it made
 * gets FD_CLOEXEC at once, before anything could fork. */
static CURLM *multi_new_cloexec(void)
{
        _cleanup_free_ uint8_t *before = calloc(1, FDS_MAX / 8), *after = calloc(1, FDS_MAX / 8);
        CURLM *m;
        if (!before || !after)
                return NULL;
        fds_open(before);
        m = curl_multi_init();
        fds_open(after);
        for (int fd = 3; fd < FDS_MAX; fd++)
                if ((after[fd / 8] & ~before[fd / 8]) & (1u << (fd % 8))) {
                        int fl = fcntl(fd, F_GETFD);
                        if (fl >= 0 && !(fl & FD_CLOEXEC))
                                (void) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
                }
        return m;
}

int lb_health_start(struct netd *d, void *ev, struct err *err)
{
        struct lb_health_state *st = calloc(1, sizeof *st);
        uint64_t now = 0;
        int r;
        if (!st || !(st->due = json_object())) {
                free(st);
                return err_set(err, ENOMEM, NULL, "health checks: out of memory");
        }
        st->d = d;
        st->ev = ev;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(st->multi = multi_new_cloexec())) {
                json_decref(st->due);
                free(st);
                return err_set(err, ENOMEM, NULL, "health checks: libcurl multi handle: out of memory");
        }
        curl_multi_setopt(st->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
        curl_multi_setopt(st->multi, CURLMOPT_SOCKETDATA, st);
        curl_multi_setopt(st->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
        curl_multi_setopt(st->multi, CURLMOPT_TIMERDATA, st);
        if ((r = sd_event_now(ev, CLOCK_MONOTONIC, &now)) < 0 ||
            (r = sd_event_add_time(ev, &st->tick, CLOCK_MONOTONIC, now + TICK_USEC, 100000, on_tick, st)) < 0 ||
            (r = sd_event_source_set_enabled(st->tick, SD_EVENT_ON)) < 0) {
                curl_multi_cleanup(st->multi);
                json_decref(st->due);
                free(st);
                return err_set(err, -r, NULL, "health checks: timer: %s", strerror(-r));
        }
        d->lbh = st;
        return 0;
}

void lb_health_stop(struct netd *d)
{
        struct lb_health_state *st = d->lbh;
        if (!st)
                return;
        while (st->probes) {
                struct probe *p = st->probes;
                st->probes = p->next;
                probe_close(p);
                free(p);
        }
        sd_event_source_disable_unref(st->tick);
        curl_multi_cleanup(st->multi);
        sd_event_source_disable_unref(st->curl_timer);
        json_decref(st->due);
        free(st);
        d->lbh = NULL;
}
