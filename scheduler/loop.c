/* loop.c: ecsboxd's loop: the 1 s tick (tasks, services, Cloud Map DNS pushes, default network,
 * pruning), the deferred turn after kicks (queued tasks, a service pass), SIGCHLD and the monitors'
 * notifications. Nothing else drives the tasks, services and instances. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "ecsbox/log.h"
#include "ecsbox/timeutil.h"
#include "ecs/arn.h"
#include "ecs/instance.h"
#include "ecs/lifecycle.h"
#include "ecs/service.h"
#include "ecs/taskdef.h"
#include "front/http.h"
#include "logs/logs.h"
#include "loop.h"
#include "netd_client.h"
#include "sd/sd.h"
#include "sched.h"

#define TICK_USEC 1000000ULL
#define KICK_INTERVAL 0.25      /* seconds between service passes asked for by kicks (the tick runs one every second) */
#define PRUNE_INTERVAL 60.0     /* seconds between prunes of old STOPPED tasks and released instance networks */
#define NET_RETRY 5.0           /* seconds between tries to learn the default VPC while netd is away */

static int on_defer(sd_event_source *es, void *userdata)
{
        struct sched *s = userdata;
        tasks_advance_queued(s);
        /* a burst of task changes (200 tasks starting) asks for a pass on every loop turn: a
         * pass reads all the service's tasks, so at most one every KICK_INTERVAL */
        if (s->services_due && now_epoch() - s->services_last >= KICK_INTERVAL)
                services_tick(s);
        if (json_object_size(s->todo) == 0)
                (void) sd_event_source_set_enabled(es, SD_EVENT_OFF);
        return 0;
}

static int on_tick(sd_event_source *es, uint64_t usec, void *userdata)
{
        struct sched *s = userdata;
        double now = now_epoch();
        if (!s->net_defaults_ok && now - s->net_last_try >= NET_RETRY) {
                struct err err = { 0 };
                s->net_last_try = now;
                if (netd_ensure_defaults(s, &err) < 0)
                        log_debug("msg=\"default VPC not known yet\" err=\"%s\"", err.msg);
        }
        tasks_refresh(s);
        services_tick(s);
        sd_dns_tick(s);
        logs_tick(s);
        if (now - s->last_prune > PRUNE_INTERVAL) {
                s->last_prune = now;
                tasks_prune(s);
                instance_release_pending(s);
                sd_operations_prune(s);
                taskdefs_sweep(s);
                logs_prune(s);
        }
        /* a time source is one-shot: re-arm it for the next tick */
        (void) sd_event_source_set_time(es, usec + TICK_USEC);
        (void) sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
        return 0;
}

static int on_sigchld(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata)
{
        struct sched *s = userdata;
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid <= 0)
                        break;
                tasks_child_exited(s, pid);
        }
        return 0;
}

/* A monitor sends its task id when the task's status changed. */
static int on_notify(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        struct sched *s = userdata;
        for (;;) {
                char buf[256];
                ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
                if (n < 0)
                        return 0;
                while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\0'))
                        n--;
                buf[n] = '\0';
                if (hex32_valid(buf))
                        task_kick(s, buf, NULL);
                else if (n > 0)
                        log_debug("msg=\"ignoring notification\" text=\"%.64s\"", buf);
        }
}

int loop_init(struct sched *s, struct sd_event *ev, struct err *err)
{
        sd_event_source *defer = NULL;
        int r;
        if ((r = sd_event_add_signal((sd_event *) ev, NULL, SIGCHLD, on_sigchld, s)) < 0 ||
            (r = sd_event_add_defer((sd_event *) ev, &defer, on_defer, s)) < 0)
                return err_set(err, -r, NULL, "event loop set-up: %s", strerror(-r));
        s->defer_src = (struct sd_event_source *) defer;
        if ((r = sd_event_source_set_enabled(defer, SD_EVENT_OFF)) < 0)
                return err_set(err, -r, NULL, "event loop set-up: %s", strerror(-r));
        s->ev = ev;
        return 0;
}

int loop_start(struct sched *s, struct err *err)
{
        sd_event *ev = (sd_event *) s->ev;
        uint64_t now = 0;
        int r;
        if ((s->notify_fd = unix_listen(s->notify_path, SOCK_DGRAM, 0600, err)) < 0)
                return err_wrap(err, "notify socket");
        if ((r = sd_event_add_io(ev, NULL, s->notify_fd, EPOLLIN, on_notify, s)) < 0)
                return err_set(err, -r, NULL, "notify socket: %s", strerror(-r));
        (void) sd_event_now(ev, CLOCK_MONOTONIC, &now);
        if ((r = sd_event_add_time(ev, NULL, CLOCK_MONOTONIC, now + TICK_USEC, 0, on_tick, s)) < 0)
                return err_set(err, -r, NULL, "timer set-up: %s", strerror(-r));
        return 0;
}

void loop_done(struct sched *s)
{
        if (s->notify_fd >= 0) {
                close(s->notify_fd);
                s->notify_fd = -1;
                (void) unlink(s->notify_path);
        }
        s->defer_src = (struct sd_event_source *) sd_event_source_disable_unref((sd_event_source *) s->defer_src);
        s->ev = NULL;
}
