/* ecsbox-pull.c: registry_pull from the command line, for the integration tests and the benchmark. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../scheduler/images/blob.h"
#include "../../scheduler/images/ref.h"
#include "../../scheduler/images/registry.h"
#include "ecsbox/cleanup.h"

#define MAX_ARGS 32

static const char usage[] =
        "usage: ecsbox-pull [--insecure HOST:PORT]... [--mirror REGISTRY=URL]... [--auth-file F] [--ca-file F]\n"
        "                   [--timeout S] [--progress] [--cancel-after BYTES] [--resolve] REF BLOBROOT\n"
        "Pulls REF into the blob store BLOBROOT (BLOBROOT/blobs/sha256/...) and prints the result as JSON;\n"
        "--resolve prints only the digest REF resolves to. Errors: 'code: message' on stderr, exit 1.\n";

struct opts {
        bool progress;
        long long cancel_after;         /* -1: never */
};

static int on_progress(const struct registry_progress *p, void *userdata)
{
        const struct opts *o = userdata;

        if (o->progress)
                fprintf(stderr, "{\"bytesDone\": %llu, \"bytesTotal\": %llu, \"layersDone\": %u, \"layersTotal\": %u}\n",
                        (unsigned long long) p->bytes_done, (unsigned long long) p->bytes_total, p->layers_done, p->layers_total);
        return o->cancel_after >= 0 && p->bytes_done >= (unsigned long long) o->cancel_after;
}

static int fail(const struct err *e, int r)
{
        fprintf(stderr, "%s: %s\n", e->code[0] ? e->code : "InternalError", e->msg[0] ? e->msg : strerror(-r));
        return 1;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "insecure", required_argument, NULL, 'i' }, { "mirror", required_argument, NULL, 'm' },
                { "auth-file", required_argument, NULL, 'a' }, { "ca-file", required_argument, NULL, 'c' },
                { "timeout", required_argument, NULL, 't' },  { "progress", no_argument, NULL, 'p' },
                { "cancel-after", required_argument, NULL, 'x' }, { "resolve", no_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },            { 0 },
        };
        const char *insecure[MAX_ARGS + 1] = { 0 };
        char *mirror_reg[MAX_ARGS];
        const char *mirror_url[MAX_ARGS][MAX_ARGS + 1];
        struct registry_mirror mirrors[MAX_ARGS];
        struct registry_config cfg = { 0 };
        struct opts o = { .cancel_after = -1 };
        size_t n_insecure = 0, n_mirrors = 0;
        bool resolve = false;
        int c, r;

        memset(mirror_url, 0, sizeof mirror_url);
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (c) {
                case 'i':
                        if (n_insecure == MAX_ARGS)
                                return fprintf(stderr, "ecsbox-pull: too many --insecure\n"), 2;
                        insecure[n_insecure++] = optarg;
                        break;
                case 'm': {
                        char *eq = strchr(optarg, '=');
                        size_t i, k;
                        if (!eq)
                                return fprintf(stderr, "ecsbox-pull: --mirror REGISTRY=URL, not '%s'\n", optarg), 2;
                        *eq = '\0';
                        for (i = 0; i < n_mirrors && strcmp(mirror_reg[i], optarg); i++)
                                ;
                        if (i == n_mirrors) {
                                if (n_mirrors == MAX_ARGS)
                                        return fprintf(stderr, "ecsbox-pull: too many --mirror\n"), 2;
                                mirror_reg[n_mirrors++] = optarg;
                        }
                        for (k = 0; mirror_url[i][k]; k++)
                                ;
                        if (k == MAX_ARGS)
                                return fprintf(stderr, "ecsbox-pull: too many --mirror\n"), 2;
                        mirror_url[i][k] = eq + 1;
                        break;
                }
                case 'a':
                        cfg.auth_file = optarg;
                        break;
                case 'c':
                        cfg.ca_file = optarg;
                        break;
                case 't':
                        cfg.timeout_s = strtol(optarg, NULL, 10);
                        break;
                case 'p':
                        o.progress = true;
                        break;
                case 'x':
                        o.cancel_after = strtoll(optarg, NULL, 10);
                        break;
                case 'r':
                        resolve = true;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return 0;
                default:
                        fputs(usage, stderr);
                        return 2;
                }
        }
        if (argc - optind != 2) {
                fputs(usage, stderr);
                return 2;
        }
        for (size_t i = 0; i < n_mirrors; i++)
                mirrors[i] = (struct registry_mirror) { .registry = mirror_reg[i], .endpoints = mirror_url[i] };
        cfg.mirrors = mirrors;
        cfg.n_mirrors = n_mirrors;
        cfg.insecure = insecure;

        struct image_ref ref;
        struct err e = { 0 };
        if ((r = image_ref_parse(argv[optind], &ref, &e)) < 0)
                return fail(&e, r);
        if (resolve) {
                char d[BLOB_DIGEST_MAX];
                r = registry_resolve(&cfg, &ref, d, &e);
                image_ref_done(&ref);
                if (r < 0)
                        return fail(&e, r);
                printf("%s\n", d);
                return 0;
        }
        if ((r = blob_store_init(argv[optind + 1], &e)) < 0) {
                image_ref_done(&ref);
                return fail(&e, r);
        }
        struct registry_pull_result res;
        r = registry_pull(&cfg, &ref, argv[optind + 1], on_progress, &o, &res, &e);
        _cleanup_free_ char *name = image_ref_canonical(&ref);
        image_ref_done(&ref);
        if (r < 0)
                return fail(&e, r);
        json_t *j = json_pack("{s:s?, s:s, s:s, s:s}", "image", name, "manifestDigest", res.manifest_digest, "indexDigest",
                              res.index_digest, "repoDigest", res.repo_digest);
        _cleanup_free_ char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        json_decref(j);
        if (!s)
                return fprintf(stderr, "ecsbox-pull: out of memory\n"), 1;
        printf("%s\n", s);
        return 0;
}
