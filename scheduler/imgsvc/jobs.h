/* jobs.h: image pulls and imports in worker threads. The loop thread starts a job; the worker
 * calls only the image store (images.h is thread-safe) and hands the result back through an
 * eventfd that the sd-event loop watches, so the loop never waits on a registry. A job belongs
 * to a task (its images, in order) or to an API call (PullImage, ImportImage). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "../images/images.h"
#include "ecsbox/err.h"

struct sched;
struct sd_event;

enum img_job_kind { IMG_JOB_PULL, IMG_JOB_IMPORT };

struct img_job {
        char id[40];                    /* "pull-<16 hex>", what ListPulls shows */
        enum img_job_kind kind;
        char task_id[40];               /* "" for an API job */
        char **names;                   /* pull: the image names; import: names[0] is the path */
        char **users, **passes;         /* pull: per name, the registry credentials to use (NULL entries: the auth file's), or NULL */
        size_t n;
        char *import_name;              /* import: the name to give, or NULL */
        enum pull_policy policy;
        double started_at, stopped_at;

        /* the worker's results, read by the loop thread once finished is seen under the lock */
        int r;
        struct err err;
        size_t failed;                  /* the index of the name that failed */
        struct image_info **infos;      /* pull: one per name */
        bool any_pulled;
        char **import_ids;

        /* shared with the worker, under the jobs' lock */
        size_t current;
        struct registry_progress progress;
        bool finished;
        atomic_bool cancel;

        /* the loop thread's */
        pthread_t thread;
        bool joined;
        bool orphan;                    /* its task no longer wants it: freed when it finishes */
        struct img_job *next;
};

struct img_jobs;

/* The eventfd and its source in the loop. */
int img_jobs_new(struct sched *s, struct sd_event *ev, struct img_jobs **ret, struct err *err);
/* Cancels running jobs, waits for their threads, frees everything. */
struct img_jobs *img_jobs_free(struct img_jobs *j);

/* Starts a pull of names (copied) for task_id ("" or NULL: an API job). */
int img_jobs_pull(struct img_jobs *j, const char *task_id, const char *const *names, size_t n, enum pull_policy policy,
                  struct img_job **ret, struct err *err);
/* The same with credentials per name (users[i] NULL: the auth file's); users and passes may be NULL. */
int img_jobs_pull_auth(struct img_jobs *j, const char *task_id, const char *const *names, const char *const *users,
                       const char *const *passes, size_t n, enum pull_policy policy, struct img_job **ret, struct err *err);
int img_jobs_import(struct img_jobs *j, const char *path, const char *name, struct img_job **ret, struct err *err);

/* The task's job, or NULL. */
struct img_job *img_jobs_find_task(struct img_jobs *j, const char *task_id);
struct img_job *img_jobs_find(struct img_jobs *j, const char *id);
/* finished, read under the lock; once true the results may be read without it. */
bool img_job_finished(struct img_jobs *j, struct img_job *job);
/* Progress so far, under the lock. */
void img_job_progress(struct img_jobs *j, struct img_job *job, size_t *ret_current, struct registry_progress *ret);
/* A task is done with its job: freed now when finished, else cancelled and freed when it finishes. */
void img_jobs_release(struct img_jobs *j, struct img_job *job);
/* Calls fn for every job (API listing). */
void img_jobs_foreach(struct img_jobs *j, void (*fn)(struct img_job *job, void *userdata), void *userdata);
/* API jobs finished longer ago than max_age seconds go. */
void img_jobs_prune(struct img_jobs *j, double max_age);
