/* task_images.c: a PENDING task's images, as the ECS agent handles them: pulled (per the pull
 * policy) in a worker thread before the monitor starts, pullStartedAt/pullStoppedAt recorded, each
 * image's configuration merged into its container and its layers handed to the monitor, the
 * images leased for as long as the task exists. A failure stops the task with
 * CannotPullContainerError. Private to the state machine (lifecycle.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "../images/config.h"
#include "../images/images.h"
#include "../imgsvc/jobs.h"
#include "../sched.h"
#include "../secrets/secrets.h"
#include "lifecycle_internal.h"
#include "task_images.h"

#define IMAGE_HOST "host"

static bool is_host(const char *image)
{
        return !image || strcmp(image, IMAGE_HOST) == 0;
}

/* The distinct images of the task's containers, "host" left out, in order. */
static json_t *task_image_names(struct adv *a)
{
        json_t *names = json_array(), *d;
        size_t i, k;
        json_array_foreach(json_object_get(adv_ebx(a), "containers"), i, d) {
                const char *image = jstr(d, "image");
                bool seen = false;
                json_t *n;
                if (is_host(image))
                        continue;
                json_array_foreach(names, k, n)
                        seen |= strcmp(json_string_value(n), image) == 0;
                if (!seen)
                        json_array_append_new(names, json_string(image));
        }
        return names;
}

static void set_time_once(json_t *rec, const char *key, double t)
{
        if (!json_object_get(rec, key))
                json_object_set_new(rec, key, jtime(t));
}

static void fail_pull(struct adv *a, struct img_job *job)
{
        const char *name = job->names[job->failed];
        char reason[ERR_MSG_MAX + 600];
        /* The message names the image (images.h promises it); say which one when it does not. */
        if (strstr(job->err.msg, name))
                snprintf(reason, sizeof reason, "CannotPullContainerError: %s", job->err.msg);
        else
                snprintf(reason, sizeof reason, "CannotPullContainerError: pull image '%s': %s", name, job->err.msg);
        json_object_set_new(a->rec, "pullStoppedAt", jtime(job->stopped_at));
        adv_fail_start(a, reason);
}

static struct image_info *info_for(struct img_job *job, const char *image)
{
        for (size_t i = 0; i < job->n; i++)
                if (strcmp(job->names[i], image) == 0)
                        return job->infos[i];
        return NULL;
}

static json_t *strv_json(char **v)
{
        json_t *a = json_array();
        for (char **p = v; p && *p; p++)
                json_array_append_new(a, json_string(*p));
        return a;
}

/* What each container runs with, recorded in ebx.images[name] so that a restart before the
 * monitor starts does not pull again: image id, name, lowerdirs, the merged configuration. */
static int resolve(struct adv *a, struct img_job *job, json_t **ret, json_t **ret_ids, char *reason, size_t len)
{
        struct sched *s = a->s;
        _cleanup_json_ json_t *out = json_object(), *ids = json_array();
        json_t *d;
        size_t i;

        json_array_foreach(json_object_get(adv_ebx(a), "containers"), i, d) {
                const char *image = jstr(d, "image"), *cname = jstr(d, "name") ?: "";
                struct image_info *info;
                json_t *merged = NULL, *rc;
                char **lower = NULL;
                struct err err = { 0 };
                if (is_host(image))
                        continue;
                if (!(info = info_for(job, image))) {
                        snprintf(reason, len, "CannotPullContainerError: image '%s' of container %s was not pulled", image, cname);
                        return -EIO;
                }
                if (image_config_merge(&info->config, image, d, &merged, &err) < 0) {
                        snprintf(reason, len, "%s%s", strncmp(err.msg, "Cannot", 6) == 0 ? "" : "CannotStartContainerError: ",
                                 err.msg);
                        return -EINVAL;
                }
                if (images_lowerdirs(s->images, info->id, &lower, &err) < 0) {
                        json_decref(merged);
                        snprintf(reason, len, "CannotPullContainerError: image '%s': %s", image, err.msg);
                        return -EIO;
                }
                json_object_set_new(out, cname,
                                    json_pack("{s:s, s:s, s:s, s:o, s:o}", "imageId", info->id, "image",
                                              info->names && info->names[0] ? info->names[0] : image, "digest",
                                              info->repo_digest[0] ? info->repo_digest : info->manifest_digest, "lowerdirs",
                                              strv_json(lower), "merged", merged));
                for (char **p = lower; p && *p; p++)
                        free(*p);
                free(lower);
                json_array_append_new(ids, json_string(info->id));
                /* DescribeTasks shows what the tag resolved to, as ECS does */
                rc = jfind(json_object_get(a->rec, "containers"), "name", cname);
                if (rc)
                        json_object_set_new(rc, "imageDigest",
                                            json_string(info->repo_digest[0] ? info->repo_digest : info->manifest_digest));
        }
        *ret = TAKE_PTR(out);
        *ret_ids = TAKE_PTR(ids);
        return 0;
}

static int lease(struct adv *a, json_t *ids)
{
        const char *v[SCHED_MAX_IMAGES + 1];
        struct err err = { 0 };
        size_t i, n = 0;
        json_t *e;
        json_array_foreach(ids, i, e)
                if (n < SCHED_MAX_IMAGES)
                        v[n++] = json_string_value(e);
        v[n] = NULL;
        if (images_lease(a->s->images, adv_tid(a), v, &err) < 0) {
                char reason[ERR_MSG_MAX + 100];
                snprintf(reason, sizeof reason, "CannotPullContainerError: keep the task's images: %s", err.msg);
                adv_fail_start(a, reason);
                return -EIO;
        }
        return 0;
}

/* The credentialsParameter of the first container of image with repositoryCredentials, or NULL. */
static const char *creds_param(struct adv *a, const char *image)
{
        json_t *d;
        size_t i;
        json_array_foreach(json_object_get(adv_ebx(a), "containers"), i, d)
                if (strcmp(jstr(d, "image") ?: "", image) == 0 && jstr(json_object_get(d, "repositoryCredentials"), "credentialsParameter"))
                        return jstr(json_object_get(d, "repositoryCredentials"), "credentialsParameter");
        return NULL;
}

/* The registry credentials of each image (repositoryCredentials, read from Secrets Manager), users[i]
 * NULL for the auth file's. On a failure the task stops with the agent's reason. */
static int pull_creds(struct adv *a, const char *const *v, size_t n, char **users, char **passes)
{
        char reason[ERR_MSG_MAX + 600];
        for (size_t i = 0; i < n; i++) {
                const char *param = creds_param(a, v[i]);
                if (param && secrets_registry_auth(a->s, param, &users[i], &passes[i], reason, sizeof reason) < 0) {
                        adv_fail_start(a, reason);
                        return -1;
                }
        }
        return 0;
}

static void creds_free(char **users, char **passes, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(users[i]);
                if (passes[i])
                        explicit_bzero(passes[i], strlen(passes[i]));
                free(passes[i]);
        }
}

int task_images_step(struct adv *a)
{
        struct sched *s = a->s;
        _cleanup_json_ json_t *names = NULL, *resolved = NULL, *ids = NULL;
        const char *v[SCHED_MAX_IMAGES + 1];
        char reason[ERR_MSG_MAX + 600];
        struct img_job *job;
        struct err err = { 0 };
        json_t *e;
        size_t i, n = 0;
        int r;

        if (json_object_get(adv_ebx(a), "images"))
                return 1;
        names = task_image_names(a);
        if (json_array_size(names) == 0) {
                set_time_once(a->rec, "pullStartedAt", a->now);
                set_time_once(a->rec, "pullStoppedAt", a->now);
                json_object_set_new(adv_ebx(a), "images", json_object());
                return 1;
        }
        if (!s->images || !s->img_jobs) {
                adv_fail_start(a, "CannotPullContainerError: ecsboxd has no image store");
                return -1;
        }
        job = img_jobs_find_task(s->img_jobs, adv_tid(a));
        if (!job) {
                /* First look, or again after a restart: the store keeps nothing half-made. */
                json_array_foreach(names, i, e)
                        if (n < SCHED_MAX_IMAGES)
                                v[n++] = json_string_value(e);
                v[n] = NULL;
                {
                        char *users[SCHED_MAX_IMAGES + 1] = { 0 }, *passes[SCHED_MAX_IMAGES + 1] = { 0 };
                        if (pull_creds(a, v, n, users, passes) < 0) {
                                creds_free(users, passes, n);
                                return -1;
                        }
                        r = img_jobs_pull_auth(s->img_jobs, adv_tid(a), v, (const char *const *) users, (const char *const *) passes, n,
                                               (enum pull_policy) s->pull_policy, &job, &err);
                        creds_free(users, passes, n);
                }
                if (r < 0) {
                        snprintf(reason, sizeof reason, "CannotPullContainerError: %s", err.msg);
                        adv_fail_start(a, reason);
                        return -1;
                }
                set_time_once(a->rec, "pullStartedAt", a->now);
                json_object_set_new(adv_ebx(a), "pull", json_string("pulling"));
                log_info("task=%s msg=\"pulling images\" job=%s images=%zu", adv_tid(a), job->id, n);
                (void) adv_save(a);
                return 0;
        }
        if (!img_job_finished(s->img_jobs, job))
                return 0;
        if (job->r < 0) {
                fail_pull(a, job);
                img_jobs_release(s->img_jobs, job);
                return -1;
        }
        if (resolve(a, job, &resolved, &ids, reason, sizeof reason) < 0) {
                json_object_set_new(a->rec, "pullStoppedAt", jtime(job->stopped_at));
                img_jobs_release(s->img_jobs, job);
                adv_fail_start(a, reason);
                return -1;
        }
        json_object_set_new(a->rec, "pullStoppedAt", jtime(job->stopped_at));
        img_jobs_release(s->img_jobs, job);
        if (lease(a, ids) < 0)
                return -1;
        json_object_set(adv_ebx(a), "images", resolved);
        json_object_del(adv_ebx(a), "pull");
        (void) adv_save(a);
        return 1;
}

static void set_or_del(json_t *c, const char *key, json_t *v)
{
        if (v)
                json_object_set(c, key, v);
        else
                json_object_del(c, key);
}

void task_images_apply(struct adv *a, json_t *containers)
{
        json_t *images = json_object_get(adv_ebx(a), "images"), *c;
        size_t i;
        json_array_foreach(containers, i, c) {
                json_t *img = json_object_get(images, jstr(c, "name") ?: ""), *m;
                if (!img)
                        continue;
                m = json_object_get(img, "merged");
                set_or_del(c, "entryPoint", json_object_get(m, "entryPoint"));
                set_or_del(c, "command", json_object_get(m, "command"));
                /* a copy: the spec's variables are added to it, and must not reach the task record */
                json_object_del(c, "environment");
                if (json_object_get(m, "environment"))
                        json_object_set_new(c, "environment", json_deep_copy(json_object_get(m, "environment")));
                set_or_del(c, "workingDirectory", json_object_get(m, "workingDirectory"));
                set_or_del(c, "user", json_object_get(m, "user"));
                set_or_del(c, "stopSignal", json_object_get(m, "stopSignal"));
                json_object_set(c, "image", json_object_get(img, "image"));
                json_object_set_new(c, "rootfs", json_pack("{s:O}", "lowerdirs", json_object_get(img, "lowerdirs")));
        }
}

void task_images_release(struct adv *a)
{
        struct sched *s = a->s;
        if (s->img_jobs)
                img_jobs_release(s->img_jobs, img_jobs_find_task(s->img_jobs, adv_tid(a)));
        if (s->images && json_object_get(adv_ebx(a), "images"))
                (void) images_lease_drop(s->images, adv_tid(a));
}
