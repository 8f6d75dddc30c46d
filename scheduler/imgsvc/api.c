/* api.c: the EcsboxImages_20261201 operations (an ecsbox extension on ecsboxd's endpoint, JSON 1.1,
 * same signature rules): PullImage, ImportImage, ListPulls, ListImages, RemoveImage, PruneImages.
 * Pulls and imports run as jobs (jobs.c) and answer at once with a pullId; ListPulls shows their
 * progress and outcome (the CLI polls it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "../ecs/ecs.h"
#include "../images/ref.h"
#include "../sched.h"
#include "api.h"
#include "jobs.h"

#define JOB_KEEP_S 600          /* finished API jobs stay listed this long */

static int need_store(struct sched *s, struct err *err)
{
        if (!s->images || !s->img_jobs)
                return err_set(err, ENODEV, E_SERVER, "ecsboxd has no image store");
        return 0;
}

/* Known errors keep the store's code as their __type; the rest are the client's fault or ours. */
static int map_err(int r, struct err *err)
{
        if (!err->code[0])
                err_default_code(err, r == -ENOMEM || r == -EIO ? E_SERVER : E_CLIENT);
        return r;
}

static int get_name(json_t *req, const char *key, bool required, const char **ret, struct err *err)
{
        int r = json_get_string(req, key, required, ret, err);
        if (r < 0)
                err_default_code(err, E_PARAM);
        return r;
}

static int op_pull_image(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        const char *name = NULL, *v[2];
        struct image_ref ref = { 0 };
        struct img_job *job;
        char *canon;
        int r;
        if ((r = need_store(s, err)) < 0 || (r = get_name(req, "name", true, &name, err)) < 0)
                return r;
        if ((r = image_ref_parse(name, &ref, err)) < 0)
                return map_err(r, err);
        canon = image_ref_canonical(&ref);
        image_ref_done(&ref);
        if (!canon)
                return err_set(err, ENOMEM, E_SERVER, "out of memory");
        v[0] = name;
        v[1] = NULL;
        /* An explicit pull always asks the registry (docker pull). */
        r = img_jobs_pull(s->img_jobs, NULL, v, 1, PULL_ALWAYS, &job, err);
        if (r < 0) {
                free(canon);
                return map_err(r, err);
        }
        log_info("job=%s msg=\"pull requested\" image=%s", job->id, canon);
        *ret = json_pack("{s:s, s:s}", "pullId", job->id, "name", canon);
        free(canon);
        return 0;
}

static int op_import_image(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        const char *path = NULL, *name = NULL;
        struct image_ref ref = { 0 };
        struct img_job *job;
        int r;
        if ((r = need_store(s, err)) < 0 || (r = get_name(req, "path", true, &path, err)) < 0 ||
            (r = get_name(req, "name", false, &name, err)) < 0)
                return r;
        if (path[0] != '/')
                return err_set(err, EINVAL, E_PARAM, "path '%s' must be absolute (a path on ecsboxd's host)", path);
        if (access(path, R_OK) < 0)
                return err_set(err, errno, E_PARAM, "path '%s': %s", path, strerror(errno));
        if (name) {
                if ((r = image_ref_parse(name, &ref, err)) < 0)
                        return map_err(r, err);
                image_ref_done(&ref);
        }
        if ((r = img_jobs_import(s->img_jobs, path, name, &job, err)) < 0)
                return map_err(r, err);
        log_info("job=%s msg=\"import requested\" path=\"%s\" name=%s", job->id, path, name ? name : "-");
        *ret = json_pack("{s:s}", "pullId", job->id);
        return 0;
}

struct list_ctx {
        struct img_jobs *j;
        const char *only;
        json_t *out;
};

static json_t *info_json(const struct image_info *i)
{
        json_t *names = json_array();
        for (char **n = i->names; n && *n; n++)
                json_array_append_new(names, json_string(*n));
        return json_pack("{s:s, s:o, s:s, s:I, s:f, s:f, s:I}", "imageId", i->id, "names", names, "repoDigest",
                         i->repo_digest, "size", (json_int_t) i->size, "created", i->created, "pulledAt", i->pulled_at,
                         "layers", (json_int_t) i->n_layers);
}

/* The current image's layers, as docker pull shows them: [{digest, size, bytesDone, state}]. */
static json_t *layers_json(const struct registry_progress *p)
{
        json_t *a = json_array();
        for (size_t i = 0; a && i < p->n_layers; i++) {
                const struct registry_layer_progress *l = &p->layers[i];
                json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:s}", "digest", l->digest, "size", (json_int_t) l->size,
                                                   "bytesDone", (json_int_t) l->bytes_done, "state",
                                                   registry_layer_state_name(l->state)));
        }
        return a;
}

static void list_one(struct img_job *job, void *userdata)
{
        struct list_ctx *l = userdata;
        _cleanup_free_ struct registry_progress *p = calloc(1, sizeof *p);   /* ~25 KiB: not on the loop's stack */
        json_t *o, *names, *images;
        size_t cur;
        bool done = img_job_finished(l->j, job);
        if ((l->only && strcmp(l->only, job->id) != 0) || !p)
                return;
        names = json_array();
        images = json_array();
        img_job_progress(l->j, job, &cur, p);
        for (size_t i = 0; i < job->n; i++)
                json_array_append_new(names, json_string(job->names[i]));
        if (done && job->r >= 0) {
                for (size_t i = 0; job->infos && i < job->n; i++)
                        if (job->infos[i])
                                json_array_append_new(images, info_json(job->infos[i]));
                for (char **id = job->import_ids; id && *id; id++)
                        json_array_append_new(images, json_pack("{s:s}", "imageId", *id));
        }
        o = json_pack("{s:s, s:s, s:o, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:o}", "pullId", job->id, "kind",
                      job->kind == IMG_JOB_IMPORT ? "import" : "pull", "names", names, "status",
                      !done ? "IN_PROGRESS" : job->r < 0 ? "FAILED" : "COMPLETE", "startedAt", job->started_at, "current",
                      (json_int_t) cur, "layersDone", (json_int_t) p->layers_done, "layersTotal", (json_int_t) p->layers_total,
                      "bytesDone", (json_int_t) p->bytes_done, "bytesTotal", (json_int_t) p->bytes_total, "images", images);
        if (o && job->kind != IMG_JOB_IMPORT)
                json_object_set_new(o, "layers", layers_json(p));
        if (job->task_id[0])
                json_object_set_new(o, "taskId", json_string(job->task_id));
        if (done) {
                json_object_set_new(o, "stoppedAt", json_real(job->stopped_at));
                if (job->r < 0) {
                        json_object_set_new(o, "errorCode", json_string(job->err.code[0] ? job->err.code : "ServerException"));
                        json_object_set_new(o, "errorMessage", json_string(job->err.msg));
                }
        }
        json_array_append_new(l->out, o);
}

static int op_list_pulls(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        struct list_ctx l = { .j = s->img_jobs };
        int r;
        if ((r = need_store(s, err)) < 0 || (r = get_name(req, "pullId", false, &l.only, err)) < 0)
                return r;
        img_jobs_prune(s->img_jobs, JOB_KEEP_S);
        l.out = json_array();
        img_jobs_foreach(s->img_jobs, list_one, &l);
        *ret = json_pack("{s:o}", "pulls", l.out);
        return 0;
}

static int op_list_images(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        struct image_info **v = NULL;
        size_t n = 0;
        json_t *out;
        int r;
        if ((r = need_store(s, err)) < 0)
                return r;
        if ((r = images_list(s->images, &v, &n, err)) < 0)
                return map_err(r, err);
        out = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(out, info_json(v[i]));
        image_infos_free(v, n);
        *ret = json_pack("{s:o}", "images", out);
        return 0;
}

static int op_remove_image(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        const char *name = NULL;
        bool force = false;
        int r;
        if ((r = need_store(s, err)) < 0 || (r = get_name(req, "name", true, &name, err)) < 0)
                return r;
        if ((r = json_get_bool(req, "force", false, &force, err)) < 0) {
                err_default_code(err, E_PARAM);
                return r;
        }
        if ((r = images_remove(s->images, name, force, err)) < 0)
                return map_err(r, err);
        log_info("msg=\"image removed\" name=%s force=%s", name, force ? "true" : "false");
        *ret = json_pack("{s:s}", "name", name);
        return 0;
}

static int op_prune_images(struct api_ctx *c, json_t *req, json_t **ret, struct err *err)
{
        struct sched *s = c->s;
        uint64_t freed = 0;
        bool all = false;
        int r;
        if ((r = need_store(s, err)) < 0)
                return r;
        if ((r = json_get_bool(req, "all", false, &all, err)) < 0) {
                err_default_code(err, E_PARAM);
                return r;
        }
        if ((r = images_prune(s->images, all, &freed, err)) < 0)
                return map_err(r, err);
        log_info("msg=\"images pruned\" all=%s freed=%llu", all ? "true" : "false", (unsigned long long) freed);
        *ret = json_pack("{s:I}", "spaceReclaimed", (json_int_t) freed);
        return 0;
}

static const struct {
        const char *name;
        int (*fn)(struct api_ctx *c, json_t *req, json_t **ret, struct err *err);
} ops[] = {
        { "PullImage", op_pull_image },     { "ImportImage", op_import_image },   { "ListPulls", op_list_pulls },
        { "ListImages", op_list_images },   { "RemoveImage", op_remove_image },   { "PruneImages", op_prune_images },
};

int imgsvc_dispatch(struct api_ctx *c, const char *op, json_t *req, json_t **ret, struct err *err)
{
        for (size_t i = 0; i < ELEMENTSOF(ops); i++)
                if (strcmp(ops[i].name, op) == 0) {
                        c->op = ops[i].name;
                        return ops[i].fn(c, req, ret, err);
                }
        return err_set(err, EOPNOTSUPP, E_UNKNOWN_OP, "Unknown operation '%s': " IMGSVC_TARGET_PREFIX "%s does not exist", op, op);
}
