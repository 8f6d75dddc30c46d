/* sched.c: struct sched, the manager: its directories and defaults, the state database; init and done. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "query/model.h"
#include "tmds/tmds.h"
#include "ecsbox/fsutil.h"
#include "ecsbox/store.h"
#include "sched.h"

static void copy(char *dst, size_t size, const char *src, const char *dflt)
{
        snprintf(dst, size, "%s", src && *src ? src : dflt);
}

/* The state database holds secrets and parameters as given (docs/secrets.md): owner only, made so before
 * SQLite opens it (its -wal and -shm files take the database's mode). */
static void db_private(const char *db)
{
        char side[SCHED_PATH_MAX + 32];
        int fd = open(db, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
                (void) fchmod(fd, 0600);
                (void) close(fd);
        }
        snprintf(side, sizeof side, "%s-wal", db);
        (void) chmod(side, 0600);
        snprintf(side, sizeof side, "%s-shm", db);
        (void) chmod(side, 0600);
}

int sched_init(struct sched *s, const struct sched_options *o, struct err *err)
{
        char db[SCHED_PATH_MAX + 32];
        int r;

        copy(s->state_dir, sizeof s->state_dir, o->state_dir, "");
        copy(s->run_dir, sizeof s->run_dir, o->run_dir, "/run/ecsbox");
        if (o->netd_sock && *o->netd_sock)
                copy(s->netd_sock, sizeof s->netd_sock, o->netd_sock, "");
        else
                snprintf(s->netd_sock, sizeof s->netd_sock, "%s/netd.sock", s->run_dir);
        if (o->image_store && *o->image_store)
                copy(s->image_store, sizeof s->image_store, o->image_store, "");
        else
                snprintf(s->image_store, sizeof s->image_store, "%s/images", s->state_dir);
        snprintf(s->tasks_dir, sizeof s->tasks_dir, "%s/tasks", s->state_dir[0] ? s->state_dir : "/tmp/ecsboxd-test");
        snprintf(s->task_role_credentials, sizeof s->task_role_credentials, "%s/task-role-credentials",
                 s->state_dir[0] ? s->state_dir : "/tmp/ecsboxd-test");
        snprintf(s->notify_path, sizeof s->notify_path, "%s/ecsboxd-notify.sock", s->run_dir);
        copy(s->region, sizeof s->region, o->region, "us-east-1");
        copy(s->account, sizeof s->account, o->account, "000000000000");
        copy(s->monitor_bin, sizeof s->monitor_bin, o->monitor_bin, "/usr/local/sbin/ecsbox-monitor");
        if (s->stopped_retention <= 0)
                s->stopped_retention = 3600;
        s->notify_fd = -1;
        s->todo = json_object();
        s->active = json_object();
        s->steady = json_object();
        s->children = json_object();
        if (!s->todo || !s->active || !s->steady || !s->children)
                return err_set(err, ENOMEM, NULL, "out of memory");

        if (s->state_dir[0]) {
                if ((r = mkdir_p(s->state_dir, 0700)) < 0)
                        return err_set(err, -r, NULL, "create state directory '%s': %s", s->state_dir, strerror(-r));
                if ((r = mkdir_p(s->tasks_dir, 0700)) < 0)
                        return err_set(err, -r, NULL, "create task directory '%s': %s", s->tasks_dir, strerror(-r));
                snprintf(db, sizeof db, "%s/ecsboxd.db", s->state_dir);
                db_private(db);
        } else
                snprintf(db, sizeof db, ":memory:");
        return store_open(db, &s->store, err);
}

void sched_done(struct sched *s)
{
        tmds_free(s);
        s->store = store_close(s->store);
        if (s->ec2_model) {
                query_model_free(s->ec2_model);
                free(s->ec2_model);
                s->ec2_model = NULL;
        }
        if (s->elbv2_model) {
                query_model_free(s->elbv2_model);
                free(s->elbv2_model);
                s->elbv2_model = NULL;
        }
        json_decref(s->todo);
        json_decref(s->active);
        json_decref(s->steady);
        json_decref(s->children);
        json_decref(s->sd_dirty);
        s->sd_dirty = NULL;
        s->todo = s->active = s->steady = s->children = NULL;
}

void sched_wake(struct sched *s)
{
        if (s->defer_src)
                (void) sd_event_source_set_enabled((sd_event_source *) s->defer_src, SD_EVENT_ON);
}
