/* jobs.c: image pulls and imports in worker threads, results handed to the loop through an eventfd. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/ids.h"
#include "ecsbox/log.h"
#include "ecsbox/timeutil.h"
#include "../ecs/lifecycle.h"
#include "../sched.h"
#include "jobs.h"

struct img_jobs {
        struct sched *s;
        pthread_mutex_t mu;             /* job->finished, current, progress; the list itself is the loop thread's */
        int efd;
        sd_event_source *src;
        struct img_job *all;
};

struct worker_arg {
        struct img_jobs *j;
        struct img_job *job;
};

static void strv_free(char **v)
{
        for (char **p = v; p && *p; p++)
                free(*p);
        free(v);
}

static struct img_job *job_free(struct img_job *job)
{
        if (!job)
                return NULL;
        for (size_t i = 0; i < job->n; i++) {
                free(job->names[i]);
                if (job->infos)
                        image_info_free(job->infos[i]);
                if (job->users)
                        free(job->users[i]);
                if (job->passes && job->passes[i]) {
                        explicit_bzero(job->passes[i], strlen(job->passes[i]));
                        free(job->passes[i]);
                }
        }
        free(job->users);
        free(job->passes);
        free(job->names);
        free(job->infos);
        free(job->import_name);
        strv_free(job->import_ids);
        free(job);
        return NULL;
}

static int on_progress(const struct registry_progress *p, void *userdata)
{
        struct worker_arg *w = userdata;
        pthread_mutex_lock(&w->j->mu);
        w->job->progress = *p;
        pthread_mutex_unlock(&w->j->mu);
        return atomic_load(&w->job->cancel) ? 1 : 0;
}

/* The worker: only the image store, never the loop or the state database. */
static void *worker(void *arg)
{
        struct worker_arg *w = arg;
        struct img_job *job = w->job;
        const uint64_t one = 1;
        int r = 0;

        if (job->kind == IMG_JOB_IMPORT)
                r = images_import(w->j->s->images, job->names[0], job->import_name, &job->import_ids, &job->err);
        else
                for (size_t i = 0; i < job->n && r >= 0; i++) {
                        bool pulled = false;
                        pthread_mutex_lock(&w->j->mu);
                        job->current = i;
                        job->progress = (struct registry_progress) { 0 };
                        pthread_mutex_unlock(&w->j->mu);
                        r = images_ensure_auth(w->j->s->images, job->names[i], job->policy, job->users ? job->users[i] : NULL,
                                               job->passes ? job->passes[i] : NULL, on_progress, w, &job->infos[i], &pulled,
                                               &job->err);
                        if (r < 0)
                                job->failed = i;
                        job->any_pulled |= pulled;
                }
        job->r = r;
        job->stopped_at = now_epoch();
        pthread_mutex_lock(&w->j->mu);
        job->finished = true;
        pthread_mutex_unlock(&w->j->mu);
        (void) !write(w->j->efd, &one, sizeof one);
        free(w);
        return NULL;
}

static void job_join(struct img_job *job)
{
        if (!job->joined) {
                (void) pthread_join(job->thread, NULL);
                job->joined = true;
        }
}

static void unlink_job(struct img_jobs *j, struct img_job *job)
{
        for (struct img_job **p = &j->all; *p; p = &(*p)->next)
                if (*p == job) {
                        *p = job->next;
                        return;
                }
}

/* The loop thread: join the finished workers, tell their tasks, free the orphans. */
static int on_event(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        struct img_jobs *j = userdata;
        struct img_job *job, *next;
        uint64_t v;
        (void) !read(fd, &v, sizeof v);
        for (job = j->all; job; job = next) {
                next = job->next;
                if (job->joined || !img_job_finished(j, job))
                        continue;
                job_join(job);
                if (job->r < 0)
                        log_info("job=%s task=%s msg=\"image job failed\" err=\"%s\"", job->id, job->task_id[0] ? job->task_id : "-",
                                 job->err.msg);
                else
                        log_info("job=%s task=%s msg=\"image job done\" images=%zu s=%.3f", job->id,
                                 job->task_id[0] ? job->task_id : "-", job->n, job->stopped_at - job->started_at);
                if (job->orphan) {
                        unlink_job(j, job);
                        job_free(job);
                } else if (job->task_id[0])
                        task_kick(j->s, job->task_id, NULL);
        }
        return 0;
}

int img_jobs_new(struct sched *s, struct sd_event *ev, struct img_jobs **ret, struct err *err)
{
        struct img_jobs *j = calloc(1, sizeof *j);
        int r;
        if (!j)
                return err_set(err, ENOMEM, NULL, "out of memory");
        j->s = s;
        pthread_mutex_init(&j->mu, NULL);
        if ((j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
                r = -errno;
                free(j);
                return err_set(err, -r, NULL, "eventfd: %s", strerror(-r));
        }
        if (ev && (r = sd_event_add_io((sd_event *) ev, &j->src, j->efd, EPOLLIN, on_event, j)) < 0) {
                close(j->efd);
                free(j);
                return err_set(err, -r, NULL, "event loop: image jobs: %s", strerror(-r));
        }
        *ret = j;
        return 0;
}

struct img_jobs *img_jobs_free(struct img_jobs *j)
{
        struct img_job *job, *next;
        if (!j)
                return NULL;
        for (job = j->all; job; job = job->next)
                atomic_store(&job->cancel, true);
        for (job = j->all; job; job = next) {
                next = job->next;
                job_join(job);
                job_free(job);
        }
        sd_event_source_unref(j->src);
        closep(&j->efd);
        pthread_mutex_destroy(&j->mu);
        free(j);
        return NULL;
}

static int job_start(struct img_jobs *j, struct img_job *job, struct img_job **ret, struct err *err)
{
        struct worker_arg *w = malloc(sizeof *w);
        unsigned char rnd[8];
        int r;
        if (!w) {
                job_free(job);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        if (random_bytes(rnd, sizeof rnd) < 0)
                memset(rnd, 0, sizeof rnd);
        snprintf(job->id, sizeof job->id, "pull-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                 rnd[5], rnd[6], rnd[7]);
        job->started_at = now_epoch();
        *w = (struct worker_arg) { .j = j, .job = job };
        if ((r = pthread_create(&job->thread, NULL, worker, w)) != 0) {
                free(w);
                job_free(job);
                return err_set(err, r, NULL, "start an image worker thread: %s", strerror(r));
        }
        job->next = j->all;
        j->all = job;
        *ret = job;
        return 0;
}

int img_jobs_pull(struct img_jobs *j, const char *task_id, const char *const *names, size_t n, enum pull_policy policy,
                  struct img_job **ret, struct err *err)
{
        return img_jobs_pull_auth(j, task_id, names, NULL, NULL, n, policy, ret, err);
}

static char *strdup_or_null(const char *s, bool *oom)
{
        char *d = s ? strdup(s) : NULL;
        if (s && !d)
                *oom = true;
        return d;
}

int img_jobs_pull_auth(struct img_jobs *j, const char *task_id, const char *const *names, const char *const *users,
                       const char *const *passes, size_t n, enum pull_policy policy, struct img_job **ret, struct err *err)
{
        struct img_job *job = calloc(1, sizeof *job);
        bool oom = false;
        if (!job || !(job->names = calloc(n + 1, sizeof(char *))) || !(job->infos = calloc(n + 1, sizeof *job->infos)) ||
            (users && (!(job->users = calloc(n + 1, sizeof(char *))) || !(job->passes = calloc(n + 1, sizeof(char *)))))) {
                job_free(job);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        for (size_t i = 0; users && i < n; i++) {
                job->users[i] = strdup_or_null(users[i], &oom);
                job->passes[i] = strdup_or_null(users[i] ? (passes && passes[i] ? passes[i] : "") : NULL, &oom);
        }
        if (oom) {
                job->n = n;
                job_free(job);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        job->kind = IMG_JOB_PULL;
        job->policy = policy;
        snprintf(job->task_id, sizeof job->task_id, "%s", task_id ? task_id : "");
        for (size_t i = 0; i < n; i++, job->n++)
                if (!(job->names[i] = strdup(names[i]))) {
                        job->n = n;     /* the credentials of every name go too */
                        job_free(job);
                        return err_set(err, ENOMEM, NULL, "out of memory");
                }
        return job_start(j, job, ret, err);
}

int img_jobs_import(struct img_jobs *j, const char *path, const char *name, struct img_job **ret, struct err *err)
{
        struct img_job *job = calloc(1, sizeof *job);
        if (!job || !(job->names = calloc(2, sizeof(char *))) || !(job->names[0] = strdup(path)) ||
            (name && !(job->import_name = strdup(name)))) {
                if (job && job->names && job->names[0])
                        job->n = 1;
                job_free(job);
                return err_set(err, ENOMEM, NULL, "out of memory");
        }
        job->n = 1;
        job->kind = IMG_JOB_IMPORT;
        return job_start(j, job, ret, err);
}

struct img_job *img_jobs_find_task(struct img_jobs *j, const char *task_id)
{
        for (struct img_job *job = j ? j->all : NULL; job; job = job->next)
                if (!job->orphan && job->task_id[0] && strcmp(job->task_id, task_id) == 0)
                        return job;
        return NULL;
}

struct img_job *img_jobs_find(struct img_jobs *j, const char *id)
{
        for (struct img_job *job = j ? j->all : NULL; job; job = job->next)
                if (!job->orphan && strcmp(job->id, id) == 0)
                        return job;
        return NULL;
}

bool img_job_finished(struct img_jobs *j, struct img_job *job)
{
        bool f;
        pthread_mutex_lock(&j->mu);
        f = job->finished;
        pthread_mutex_unlock(&j->mu);
        return f;
}

void img_job_progress(struct img_jobs *j, struct img_job *job, size_t *ret_current, struct registry_progress *ret)
{
        pthread_mutex_lock(&j->mu);
        *ret_current = job->current;
        *ret = job->progress;
        pthread_mutex_unlock(&j->mu);
}

void img_jobs_release(struct img_jobs *j, struct img_job *job)
{
        if (!j || !job)
                return;
        if (img_job_finished(j, job)) {
                job_join(job);
                unlink_job(j, job);
                job_free(job);
                return;
        }
        atomic_store(&job->cancel, true);
        job->orphan = true;
}

void img_jobs_foreach(struct img_jobs *j, void (*fn)(struct img_job *job, void *userdata), void *userdata)
{
        for (struct img_job *job = j ? j->all : NULL; job; job = job->next)
                if (!job->orphan)
                        fn(job, userdata);
}

void img_jobs_prune(struct img_jobs *j, double max_age)
{
        double now = now_epoch();
        struct img_job *job, *next;
        for (job = j ? j->all : NULL; job; job = next) {
                next = job->next;
                if (!job->task_id[0] && job->joined && now - job->stopped_at > max_age) {
                        unlink_job(j, job);
                        job_free(job);
                }
        }
}
