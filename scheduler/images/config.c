/* config.c: an image's configuration blob parsed, and merged with an ECS container definition as the
 * ECS agent and Docker do. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "images.h"
#include "manifest.h"
#include "ref.h"

#define CODE "InvalidImageConfig"
#define MERGE_CODE "CannotStartContainerError"

static char **strv_free(char **v)
{
        if (v)
                for (char **p = v; *p; p++)
                        free(*p);
        free(v);
        return NULL;
}

void image_config_done(struct image_config *c)
{
        if (!c)
                return;
        c->entrypoint = strv_free(c->entrypoint);
        c->cmd = strv_free(c->cmd);
        c->env = strv_free(c->env);
        c->exposed_ports = strv_free(c->exposed_ports);
        free(c->working_dir);
        free(c->user);
        free(c->stop_signal);
        free(c->os);
        free(c->architecture);
        memset(c, 0, sizeof *c);
}

/* A list of strings, or null / absent / empty: *ret stays NULL (nothing set). */
static int strv_parse(json_t *v, const char *field, char ***ret, struct err *err)
{
        size_t n = json_array_size(v), i;
        json_t *x;
        char **s;

        if (!v || json_is_null(v))
                return 0;
        if (!json_is_array(v))
                return err_set(err, EINVAL, CODE, "image configuration: %s is not a list", field);
        if (n == 0)
                return 0;
        if (!(s = calloc(n + 1, sizeof *s)))
                return -ENOMEM;
        json_array_foreach (v, i, x) {
                if (!json_is_string(x)) {
                        strv_free(s);
                        return err_set(err, EINVAL, CODE, "image configuration: %s[%zu] is not a string", field, i);
                }
                if (!(s[i] = strdup(json_string_value(x)))) {
                        strv_free(s);
                        return -ENOMEM;
                }
        }
        *ret = s;
        return 0;
}

/* A string; "" and null count as absent. */
static int str_parse(json_t *v, const char *field, char **ret, struct err *err)
{
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return err_set(err, EINVAL, CODE, "image configuration: %s is not a string", field);
        if (!*json_string_value(v))
                return 0;
        return (*ret = strdup(json_string_value(v))) ? 0 : -ENOMEM;
}

/* RFC 3339 as Go writes it: "2024-05-01T10:00:00.123456789Z", "...+02:00". */
static int time_parse(const char *s, double *ret)
{
        struct tm tm = { 0 };
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        double frac = 0, scale = 0.1;
        long off = 0;
        time_t t;

        if (!p)
                return -EINVAL;
        if (*p == '.')
                for (p++; isdigit((unsigned char) *p); p++, scale /= 10)
                        frac += (*p - '0') * scale;
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int hh, mm;
                if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
                        return -EINVAL;
                off = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
                p += 6;
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        t = timegm(&tm);
        *ret = (double) t - (double) off + frac;
        return 0;
}

int image_config_parse(const char *buf, size_t len, struct image_config *c, char (**ret_diff_ids)[72], size_t *ret_n,
                       double *ret_created, struct err *err)
{
        _cleanup_json_ json_t *j = NULL;
        json_error_t je;
        json_t *cfg, *rootfs, *ids, *ports, *created;
        struct image_config ic = { 0 };
        char (*diff)[72] = NULL;
        size_t n = 0;
        double when = 0;
        int r;

        if (len > MANIFEST_MAX_BYTES)
                return err_set(err, EFBIG, CODE, "image configuration of %zu bytes is larger than %u", len, MANIFEST_MAX_BYTES);
        j = json_loadb(buf, len, 0, &je);
        if (!j)
                return err_set(err, EINVAL, CODE, "image configuration is not JSON: line %d column %d: %s", je.line, je.column,
                               je.text);
        if (!json_is_object(j))
                return err_set(err, EINVAL, CODE, "image configuration is not a JSON object");
        cfg = json_object_get(j, "config");
        if (cfg && !json_is_null(cfg) && !json_is_object(cfg))
                return err_set(err, EINVAL, CODE, "image configuration: config is not an object");
        if ((r = strv_parse(json_object_get(cfg, "Entrypoint"), "config.Entrypoint", &ic.entrypoint, err)) < 0 ||
            (r = strv_parse(json_object_get(cfg, "Cmd"), "config.Cmd", &ic.cmd, err)) < 0 ||
            (r = strv_parse(json_object_get(cfg, "Env"), "config.Env", &ic.env, err)) < 0 ||
            (r = str_parse(json_object_get(cfg, "WorkingDir"), "config.WorkingDir", &ic.working_dir, err)) < 0 ||
            (r = str_parse(json_object_get(cfg, "User"), "config.User", &ic.user, err)) < 0 ||
            (r = str_parse(json_object_get(cfg, "StopSignal"), "config.StopSignal", &ic.stop_signal, err)) < 0 ||
            (r = str_parse(json_object_get(j, "os"), "os", &ic.os, err)) < 0 ||
            (r = str_parse(json_object_get(j, "architecture"), "architecture", &ic.architecture, err)) < 0)
                goto fail;
        ports = json_object_get(cfg, "ExposedPorts");
        if (ports && !json_is_null(ports)) {
                const char *k;
                json_t *v;
                size_t i = 0;
                if (!json_is_object(ports)) {
                        r = err_set(err, EINVAL, CODE, "image configuration: config.ExposedPorts is not an object");
                        goto fail;
                }
                if (json_object_size(ports) > 0) {
                        if (!(ic.exposed_ports = calloc(json_object_size(ports) + 1, sizeof *ic.exposed_ports))) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        json_object_foreach (ports, k, v)
                                if (!(ic.exposed_ports[i++] = strdup(k))) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                }
        }
        for (char **e = ic.env; e && *e; e++)
                if (**e == '=') {
                        r = err_set(err, EINVAL, CODE, "image configuration: config.Env entry '%s' has no name", *e);
                        goto fail;
                }
        created = json_object_get(j, "created");
        if (json_is_string(created) && time_parse(json_string_value(created), &when) < 0) {
                r = err_set(err, EINVAL, CODE, "image configuration: created '%s' is not an RFC 3339 time", json_string_value(created));
                goto fail;
        }
        rootfs = json_object_get(j, "rootfs");
        ids = json_object_get(rootfs, "diff_ids");
        if (rootfs && (!json_is_object(rootfs) || (ids && !json_is_null(ids) && !json_is_array(ids)))) {
                r = err_set(err, EINVAL, CODE, "image configuration: rootfs.diff_ids is not a list");
                goto fail;
        }
        if (json_is_object(rootfs) && json_is_string(json_object_get(rootfs, "type")) &&
            strcmp(json_string_value(json_object_get(rootfs, "type")), "layers") != 0) {
                r = err_set(err, ENOTSUP, CODE, "image configuration: rootfs.type '%s' is not \"layers\"",
                            json_string_value(json_object_get(rootfs, "type")));
                goto fail;
        }
        n = json_array_size(ids);
        if (n > MANIFEST_MAX_LAYERS) {
                r = err_set(err, E2BIG, CODE, "image configuration: %zu diff ids, more than the %d allowed", n, MANIFEST_MAX_LAYERS);
                goto fail;
        }
        if (ret_diff_ids) {
                if (!(diff = calloc(n ? n : 1, sizeof *diff))) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (size_t i = 0; i < n; i++) {
                        json_t *d = json_array_get(ids, i);
                        if (!json_is_string(d) || !image_digest_valid(json_string_value(d))) {
                                r = err_set(err, EINVAL, CODE, "image configuration: rootfs.diff_ids[%zu] is not sha256:<64 hex digits>", i);
                                goto fail;
                        }
                        snprintf(diff[i], sizeof diff[i], "%s", json_string_value(d));
                }
        }
        *c = ic;
        if (ret_diff_ids)
                *ret_diff_ids = diff;
        if (ret_n)
                *ret_n = n;
        if (ret_created)
                *ret_created = when;
        return 0;
fail:
        free(diff);
        image_config_done(&ic);
        return r;
}

static size_t env_name_len(const char *kv)
{
        const char *eq = strchr(kv, '=');
        return eq ? (size_t) (eq - kv) : strlen(kv);
}

static json_t *env_pair(const char *name, size_t n, const char *value)
{
        return json_pack("{s:s%,s:s}", "name", name, n, "value", value);
}

/* The image's Env, then the definition's variables; a name in both keeps the image's position with
 * the definition's value (as Docker's merge of Config.Env does). */
static int merge_env(const struct image_config *ic, json_t *def_env, const char *cname, json_t **ret, struct err *err)
{
        _cleanup_json_ json_t *out = json_array();
        size_t i;
        json_t *v;

        if (!out)
                return -ENOMEM;
        for (char **e = ic->env; e && *e; e++) {
                size_t n = env_name_len(*e);
                const char *val = (*e)[n] == '=' ? *e + n + 1 : "";
                json_t *dup = NULL, *x;
                size_t k;
                json_array_foreach (out, k, x)
                        if (strlen(jstr(x, "name")) == n && !strncmp(jstr(x, "name"), *e, n))
                                dup = x;
                if (dup)
                        json_object_set_new(dup, "value", json_string(val));
                else if (json_array_append_new(out, env_pair(*e, n, val)) < 0)
                        return -ENOMEM;
        }
        if (def_env && !json_is_null(def_env) && !json_is_array(def_env))
                return err_set(err, EINVAL, MERGE_CODE, "container %s: environment is not a list", cname);
        json_array_foreach (def_env, i, v) {
                const char *name = jstr(v, "name"), *val = jstr(v, "value");
                json_t *x, *dup = NULL;
                size_t k;
                if (!name || !*name)
                        return err_set(err, EINVAL, MERGE_CODE, "container %s: environment[%zu] has no name", cname, i);
                json_array_foreach (out, k, x)
                        if (!strcmp(jstr(x, "name"), name))
                                dup = x;
                if (dup)
                        json_object_set_new(dup, "value", json_string(val ? val : ""));
                else if (json_array_append_new(out, env_pair(name, strlen(name), val ? val : "")) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static json_t *strv_json(char **v)
{
        json_t *a = json_array();
        for (char **p = v; a && p && *p; p++)
                json_array_append_new(a, json_string(*p));
        return a;
}

static bool nonempty_array(json_t *v)
{
        return json_is_array(v) && json_array_size(v) > 0;
}

int image_config_merge(const struct image_config *ic, const char *image, const json_t *def, json_t **ret, struct err *err)
{
        json_t *d = (json_t *) def;     /* jansson's getters take no const */
        json_t *ep = json_object_get(d, "entryPoint"), *cmd = json_object_get(d, "command"), *env = NULL;
        const char *cname = jstr(d, "name") ?: "(unnamed)", *wd = jstr(d, "workingDirectory"), *user = jstr(d, "user");
        _cleanup_json_ json_t *out = json_object();
        json_t *out_ep, *out_cmd;
        int r;

        if (!out)
                return -ENOMEM;
        if ((ep && !json_is_null(ep) && !json_is_array(ep)) || (cmd && !json_is_null(cmd) && !json_is_array(cmd)))
                return err_set(err, EINVAL, MERGE_CODE, "container %s: entryPoint and command must be lists", cname);
        /* Docker (daemon/commit.go merge): a non-empty entryPoint replaces the image's Entrypoint and
         * drops its Cmd; otherwise an empty command takes the image's Cmd, and the image's Entrypoint
         * stays unless the definition gave an (empty) entryPoint of its own. */
        if (nonempty_array(ep)) {
                out_ep = json_deep_copy(ep);
                out_cmd = nonempty_array(cmd) ? json_deep_copy(cmd) : json_array();
        } else {
                out_ep = json_is_array(ep) ? json_array() : strv_json(ic->entrypoint);
                out_cmd = nonempty_array(cmd) ? json_deep_copy(cmd) : strv_json(ic->cmd);
        }
        if (!out_ep || !out_cmd) {
                json_decref(out_ep);
                json_decref(out_cmd);
                return -ENOMEM;
        }
        if (json_array_size(out_ep) == 0 && json_array_size(out_cmd) == 0) {
                json_decref(out_ep);
                json_decref(out_cmd);
                return err_set(err, EINVAL, MERGE_CODE,
                               "container %s: image %s has no Entrypoint or Cmd and the container definition gives neither "
                               "entryPoint nor command",
                               cname, image ?: "(none)");
        }
        if (json_array_size(out_ep))
                json_object_set_new(out, "entryPoint", out_ep);
        else
                json_decref(out_ep);
        if (json_array_size(out_cmd))
                json_object_set_new(out, "command", out_cmd);
        else
                json_decref(out_cmd);
        if ((r = merge_env(ic, json_object_get(d, "environment"), cname, &env, err)) < 0)
                return r;
        if (json_array_size(env))
                json_object_set_new(out, "environment", env);
        else
                json_decref(env);
        if (wd && *wd)
                json_object_set_new(out, "workingDirectory", json_string(wd));
        else if (ic->working_dir)
                json_object_set_new(out, "workingDirectory", json_string(ic->working_dir));
        if (user && *user)
                json_object_set_new(out, "user", json_string(user));
        else if (ic->user)
                json_object_set_new(out, "user", json_string(ic->user));
        json_object_set_new(out, "stopSignal", json_string(ic->stop_signal ? ic->stop_signal : "SIGTERM"));
        *ret = TAKE_PTR(out);
        return 0;
}
