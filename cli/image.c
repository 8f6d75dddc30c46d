/* image.c: `ecsbox image pull|import|ls|rm|prune`, through ecsboxd's images service
 * (EcsboxImages_20261201.*). Pulls and imports run in ecsboxd; the CLI polls ListPulls, showing a
 * pull's layers as docker pull does: redrawn in place on a terminal, a line per change otherwise. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsboxd.h"
#include "exitcode.h"
#include "image.h"

#define TARGET "EcsboxImages_20261201."
#define POLL_MS 200

static int call(const char *endpoint, const char *op, json_t *req, json_t **ret)
{
        char target[64];
        snprintf(target, sizeof target, TARGET "%s", op);
        return cli_ecs_call_or_print(endpoint, target, req, ret);
}

void image_usage(FILE *f)
{
        fprintf(f, "Usage: ecsbox image pull NAME\n"
                   "       ecsbox image import FILE [--name NAME]   (docker save archive, OCI layout dir or tar)\n"
                   "       ecsbox image ls\n"
                   "       ecsbox image rm [--force] NAME...\n"
                   "       ecsbox image prune [--all]\n");
}

/* "docker.io/library/nginx:1.25" -> "nginx:1.25", "docker.io/u/app:1" -> "u/app:1", as docker shows them. */
static const char *familiar(const char *n)
{
        if (strncmp(n, "docker.io/library/", 18) == 0)
                return n + 18;
        if (strncmp(n, "docker.io/", 10) == 0)
                return n + 10;
        return n;
}

/* docker's units: powers of 1000, three significant digits. */
static void human_size(double b, char *buf, size_t len)
{
        static const char *const u[] = { "B", "kB", "MB", "GB", "TB" };
        size_t i = 0;
        while (b >= 1000 && i < 4) {
                b /= 1000;
                i++;
        }
        snprintf(buf, len, "%.3g%s", b, u[i]);
}

static void human_ago(double t, char *buf, size_t len)
{
        double d = (double) time(NULL) - t;
        static const struct {
                double s;
                const char *one, *many;
        } u[] = { { 365 * 86400.0, "a year", "years" }, { 30 * 86400.0, "a month", "months" }, { 7 * 86400.0, "a week", "weeks" },
                  { 86400, "a day", "days" },           { 3600, "an hour", "hours" },           { 60, "a minute", "minutes" } };
        if (t <= 0) {
                snprintf(buf, len, "N/A");
                return;
        }
        for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
                if (d >= u[i].s) {
                        long n = (long) (d / u[i].s);
                        if (n == 1)
                                snprintf(buf, len, "%s ago", u[i].one);
                        else
                                snprintf(buf, len, "%ld %s ago", n, u[i].many);
                        return;
                }
        if (d < 2)
                snprintf(buf, len, "Less than a second ago");
        else
                snprintf(buf, len, "%ld seconds ago", (long) d);
}

#define VIEW_MAX_LAYERS 256

/* What a pull's display showed last: per layer its state (plain lines: one per change), and on a
 * terminal how many lines to go back up to redraw them. */
struct pull_view {
        bool tty;
        size_t drawn;
        char state[VIEW_MAX_LAYERS][16];
};

/* docker pull's words for the images service's layer states. */
static const char *state_label(const char *st)
{
        static const char *const map[][2] = { { "waiting", "Waiting" },
                                              { "downloading", "Downloading" },
                                              { "verifying", "Verifying Checksum" },
                                              { "downloaded", "Download complete" },
                                              { "extracting", "Extracting" },
                                              { "done", "Pull complete" },
                                              { "exists", "Already exists" } };
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
                if (strcmp(st, map[i][0]) == 0)
                        return map[i][1];
        return st;
}

/* "sha256:0123456789abcdef..." -> "0123456789ab", as docker names layers. */
static void short_digest(const char *d, char buf[13])
{
        const char *c = strchr(d, ':');
        snprintf(buf, 13, "%s", c ? c + 1 : d);
}

static void layer_line(FILE *f, json_t *l, bool sizes)
{
        const char *st = jstr(l, "state") ?: "?";
        char id[13], done[32], total[32];
        short_digest(jstr(l, "digest") ?: "?", id);
        fprintf(f, "%s: %s", id, state_label(st));
        if (sizes && strcmp(st, "downloading") == 0) {
                human_size((double) jint(l, "bytesDone", 0), done, sizeof done);
                human_size((double) jint(l, "size", 0), total, sizeof total);
                fprintf(f, "  %s/%s", done, total);
        }
        fputc('\n', f);
}

/* One line per layer (docker pull's display): on a terminal the lines are redrawn in place, else a
 * plain line is printed each time a layer changes state. On stdout, as docker pull prints it. */
static void show_progress(struct pull_view *v, json_t *p)
{
        json_t *layers = json_object_get(p, "layers"), *l;
        size_t i;

        if (v->tty) {
                if (v->drawn)
                        printf("\033[%zuA", v->drawn);
                json_array_foreach(layers, i, l) {
                        fputs("\r\033[K", stdout);
                        layer_line(stdout, l, true);
                }
                v->drawn = json_array_size(layers);
        } else {
                json_array_foreach(layers, i, l) {
                        const char *st = jstr(l, "state") ?: "?";
                        if (i >= VIEW_MAX_LAYERS || strcmp(v->state[i], st) == 0)
                                continue;
                        snprintf(v->state[i], sizeof v->state[i], "%s", st);
                        layer_line(stdout, l, false);
                }
        }
        fflush(stdout);
}

/* Poll the job until it ends; 0 when it completed (its record in *ret), else an exit code. */
static int wait_job(const char *endpoint, const char *id, const char *what, json_t **ret)
{
        _cleanup_free_ struct pull_view *v = calloc(1, sizeof *v);
        if (!v)
                return EXIT_OTHER;
        v->tty = isatty(STDOUT_FILENO);
        for (;;) {
                json_t *ans = NULL, *p;
                _cleanup_json_ json_t *req = json_pack("{s:s}", "pullId", id);
                const char *st;
                int rc = call(endpoint, "ListPulls", req, &ans);
                if (rc)
                        return rc;
                p = json_array_get(json_object_get(ans, "pulls"), 0);
                if (!p) {
                        json_decref(ans);
                        fprintf(stderr, "ecsbox: the job %s is gone from ecsboxd (restarted?)\n", id);
                        return EXIT_OTHER;
                }
                st = jstr(p, "status") ?: "";
                if (strcmp(jstr(p, "kind") ?: "", "pull") == 0)
                        show_progress(v, p);
                if (strcmp(st, "IN_PROGRESS") != 0) {
                        if (strcmp(st, "COMPLETE") != 0) {
                                fprintf(stderr, "ecsbox: %s: %s (%s)\n", what, jstr(p, "errorMessage") ?: "failed",
                                        jstr(p, "errorCode") ?: "?");
                                json_decref(ans);
                                return EXIT_SERVICE;
                        }
                        *ret = json_incref(p);
                        json_decref(ans);
                        return 0;
                }
                json_decref(ans);
                usleep(POLL_MS * 1000);
        }
}

static int cmd_pull(const char *endpoint, int argc, char **argv)
{
        _cleanup_json_ json_t *req = NULL, *ans = NULL, *job = NULL;
        json_t *img;
        int rc;
        if (argc != 1) {
                image_usage(stderr);
                return EXIT_USAGE;
        }
        req = json_pack("{s:s}", "name", argv[0]);
        if ((rc = call(endpoint, "PullImage", req, &ans)))
                return rc;
        if ((rc = wait_job(endpoint, jstr(ans, "pullId") ?: "", jstr(ans, "name") ?: argv[0], &job)))
                return rc;
        img = json_array_get(json_object_get(job, "images"), 0);
        if (jstr(img, "repoDigest") && *jstr(img, "repoDigest"))
                printf("Digest: %s\n", jstr(img, "repoDigest"));
        printf("%s\n", jstr(ans, "name") ?: argv[0]);
        return 0;
}

static int cmd_import(const char *endpoint, int argc, char **argv)
{
        _cleanup_json_ json_t *req = NULL, *ans = NULL, *job = NULL;
        const char *file = NULL, *name = NULL;
        char abs[PATH_MAX];
        json_t *img;
        size_t i;
        int rc;
        for (int k = 0; k < argc; k++) {
                if (strcmp(argv[k], "--name") == 0 && k + 1 < argc)
                        name = argv[++k];
                else if (!file && argv[k][0] != '-')
                        file = argv[k];
                else {
                        image_usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (!file) {
                image_usage(stderr);
                return EXIT_USAGE;
        }
        /* ecsboxd opens the path itself, from its own working directory */
        if (!realpath(file, abs)) {
                fprintf(stderr, "ecsbox: '%s': %s\n", file, strerror(errno));
                return EXIT_OTHER;
        }
        req = json_pack("{s:s}", "path", abs);
        if (name)
                json_object_set_new(req, "name", json_string(name));
        if ((rc = call(endpoint, "ImportImage", req, &ans)))
                return rc;
        if ((rc = wait_job(endpoint, jstr(ans, "pullId") ?: "", file, &job)))
                return rc;
        json_array_foreach(json_object_get(job, "images"), i, img)
                printf("Loaded image ID: %s\n", jstr(img, "imageId") ?: "?");
        return 0;
}

static int cmd_ls(const char *endpoint, int argc, char **argv)
{
        _cleanup_json_ json_t *req = json_object(), *ans = NULL;
        json_t *img, *n;
        size_t i, k;
        int rc;
        if (argc != 0) {
                image_usage(stderr);
                return EXIT_USAGE;
        }
        if ((rc = call(endpoint, "ListImages", req, &ans)))
                return rc;
        printf("%-40s %-12s  %-10s %s\n", "NAME", "IMAGE ID", "SIZE", "CREATED");
        json_array_foreach(json_object_get(ans, "images"), i, img) {
                const char *id = jstr(img, "imageId") ?: "";
                char size[32], ago[64];
                if (strncmp(id, "sha256:", 7) == 0)
                        id += 7;
                human_size((double) jint(img, "size", 0), size, sizeof size);
                human_ago(json_number_value(json_object_get(img, "created")), ago, sizeof ago);
                if (json_array_size(json_object_get(img, "names")) == 0)
                        printf("%-40s %-12.12s  %-10s %s\n", "<none>", id, size, ago);
                json_array_foreach(json_object_get(img, "names"), k, n)
                        printf("%-40s %-12.12s  %-10s %s\n", familiar(json_string_value(n) ?: ""), id, size, ago);
        }
        return 0;
}

static int cmd_rm(const char *endpoint, int argc, char **argv)
{
        bool force = false;
        int rc = 0, k = 0;
        if (k < argc && (strcmp(argv[k], "--force") == 0 || strcmp(argv[k], "-f") == 0)) {
                force = true;
                k++;
        }
        if (k >= argc) {
                image_usage(stderr);
                return EXIT_USAGE;
        }
        for (; k < argc; k++) {
                _cleanup_json_ json_t *req = json_pack("{s:s, s:b}", "name", argv[k], "force", force), *ans = NULL;
                int r = call(endpoint, "RemoveImage", req, &ans);
                if (r)
                        rc = r;
                else
                        printf("Untagged: %s\n", argv[k]);
        }
        return rc;
}

static int cmd_prune(const char *endpoint, int argc, char **argv)
{
        bool all = argc == 1 && (strcmp(argv[0], "--all") == 0 || strcmp(argv[0], "-a") == 0);
        _cleanup_json_ json_t *req = NULL, *ans = NULL;
        char size[32];
        int rc;
        if (argc > 1 || (argc == 1 && !all)) {
                image_usage(stderr);
                return EXIT_USAGE;
        }
        req = json_pack("{s:b}", "all", all);
        if ((rc = call(endpoint, "PruneImages", req, &ans)))
                return rc;
        human_size((double) jint(ans, "spaceReclaimed", 0), size, sizeof size);
        printf("Total reclaimed space: %s\n", size);
        return 0;
}

int cli_image(const char *endpoint, int argc, char **argv)
{
        if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "help")) {
                image_usage(argc < 1 ? stderr : stdout);
                return argc < 1 ? EXIT_USAGE : 0;
        }
        if (!strcmp(argv[0], "pull"))
                return cmd_pull(endpoint, argc - 1, argv + 1);
        if (!strcmp(argv[0], "import") || !strcmp(argv[0], "load"))
                return cmd_import(endpoint, argc - 1, argv + 1);
        if (!strcmp(argv[0], "ls") || !strcmp(argv[0], "list"))
                return cmd_ls(endpoint, argc - 1, argv + 1);
        if (!strcmp(argv[0], "rm") || !strcmp(argv[0], "remove"))
                return cmd_rm(endpoint, argc - 1, argv + 1);
        if (!strcmp(argv[0], "prune"))
                return cmd_prune(endpoint, argc - 1, argv + 1);
        fprintf(stderr, "ecsbox image: unknown command '%s'\n", argv[0]);
        image_usage(stderr);
        return EXIT_USAGE;
}
