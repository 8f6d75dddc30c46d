/* task_recover.c: start-up recovery of tasks: adopt live monitors, finish tasks whose monitor
 * ended meanwhile, start monitors recorded but not forked, provision again the tasks caught in
 * PROVISIONING, and release the namespaces that no record owns. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "../netd_client.h"
#include "../sched.h"
#include "instance.h"
#include "launch.h"
#include "lifecycle.h"
#include "lifecycle_internal.h"

struct recover_ctx {
        json_t *keys;       /* keys of tasks not STOPPED */
        json_t *owned;      /* netns names that records own */
};

static int collect_recover(const char *key, json_t *v, void *userdata)
{
        struct recover_ctx *rc = userdata;
        json_t *e = json_object_get(v, "ebx");
        if (strcmp(jstr(v, "lastStatus") ?: "", "STOPPED") == 0)
                return 0;
        json_array_append_new(rc->keys, json_string(key));
        if (jstr(e, "netnsKind"))
                json_object_set_new(rc->owned, jstr(e, "netns") ?: "", json_true());
        else {
                char ns[32];
                snprintf(ns, sizeof ns, "ebx-task-%.12s", jstr(e, "id") ?: "");
                json_object_set_new(rc->owned, ns, json_true());
        }
        return 0;
}

static int collect_instances(const char *key, json_t *v, void *userdata)
{
        struct recover_ctx *rc = userdata;
        json_t *e = json_object_get(v, "ebx");
        if (strcmp(jstr(v, "status") ?: "", "REGISTERING") == 0)
                json_array_append_new(rc->keys, json_string(key));
        else if (!json_is_true(json_object_get(e, "networkReleased")))
                json_object_set_new(rc->owned, jstr(e, "netns") ?: "", json_true());
        return 0;
}

static pid_t read_pidfile(const char *dir)
{
        char path[SCHED_PATH_MAX * 2], buf[32];
        FILE *f;
        long pid = 0;
        snprintf(path, sizeof path, "%s/monitor.pid", dir);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (fgets(buf, sizeof buf, f))
                pid = strtol(buf, NULL, 10);
        fclose(f);
        return (pid_t) pid;
}

static void recover_task(struct sched *s, const char *key)
{
        struct adv a;
        const char *last;
        if (adv_load(&a, s, key) < 0)
                return;
        last = jstr(a.rec, "lastStatus") ?: "";
        if (strcmp(last, "PROVISIONING") == 0 && strcmp(jstr(a.rec, "desiredStatus") ?: "", "STOPPED") != 0) {
                /* No monitor yet. Whatever netd made of the network is released and the task
                 * provisions again from the start: RunTask acknowledged it, so it should run. */
                struct err err = { 0 };
                char ns[32];
                adv_netns_name(&a, ns);
                if (strcmp(jstr(adv_ebx(&a), "mode") ?: "", "host") != 0 && netd_release(s, ns, &err) < 0) {
                        json_object_set_new(adv_ebx(&a), "netns", json_string(ns));
                        json_object_set_new(adv_ebx(&a), "netnsKind", json_string("task-network"));
                        adv_fail_start(&a, "ResourceInitializationError: ecsboxd stopped while the task was provisioning and netd could not release its network");
                } else {
                        json_object_del(adv_ebx(&a), "netns");
                        json_object_del(adv_ebx(&a), "netnsKind");
                        (void) adv_save(&a);
                        log_notice("task=%s msg=\"ecsboxd stopped while the task was provisioning; provisioning again\"", adv_tid(&a));
                }
        } else if (strcmp(last, "PROVISIONING") == 0) {
                char ns[32];
                adv_netns_name(&a, ns);
                json_object_set_new(adv_ebx(&a), "netns", json_string(ns));
                json_object_set_new(adv_ebx(&a), "netnsKind", json_string("task-network"));
                adv_fail_start(&a, "ResourceInitializationError: ecsboxd stopped while the task was provisioning; rolled back");
        } else if (strcmp(jstr(adv_ebx(&a), "spawn") ?: "", "spawning") == 0) {
                /* Crashed between writing the spec and recording the monitor's pid. The monitor
                 * (if it was forked) daemonises on its own and writes monitor.pid within
                 * milliseconds; give it a moment, then adopt it or start it now. */
                const char *dir = jstr(adv_ebx(&a), "dir") ?: "";
                pid_t pid = 0;
                char st[SCHED_PATH_MAX * 2 + 16];
                for (int i = 0; i < 20 && (pid = read_pidfile(dir)) <= 1; i++)
                        usleep(50 * 1000);
                snprintf(st, sizeof st, "%s/status.json", dir);
                if (pid > 1 && (monitor_alive(pid, jstr(adv_ebx(&a), "specPath") ?: "") || access(st, F_OK) == 0)) {
                        json_object_set_new(adv_ebx(&a), "monitorPid", json_integer(pid));
                        json_object_set_new(adv_ebx(&a), "spawn", json_string("spawned"));
                        log_notice("task=%s msg=\"adopted a task monitor found by its pid file\" pid=%ld", adv_tid(&a), (long) pid);
                        (void) adv_save(&a);
                } else if (pid <= 1) {
                        json_object_del(adv_ebx(&a), "spawn");
                        (void) adv_save(&a);
                        log_notice("task=%s msg=\"ecsboxd stopped before the task monitor started; starting it now\"", adv_tid(&a));
                } else
                        adv_fail_start(&a, "CannotStartContainerError: ecsboxd stopped while starting the task monitor");
        } else if (jint(adv_ebx(&a), "monitorPid", 0) > 1) {
                if (adv_monitor_up(&a))
                        log_notice("task=%s msg=\"adopted running task monitor\" pid=%lld status=%s", adv_tid(&a), jint(adv_ebx(&a), "monitorPid", 0), last);
                else
                        log_notice("task=%s msg=\"task monitor gone while ecsboxd was down; finishing the task\" status=%s", adv_tid(&a), last);
        }
        adv_done(&a);
}

/* Network namespaces netd holds for ecsbox tasks or instances that no record owns (left by a crash). */
static void release_orphans(struct sched *s, json_t *owned)
{
        _cleanup_json_ json_t *req = json_pack("{s:s}", "Action", "DescribeNetworkInterfaces"), *ans = NULL;
        struct err err = { 0 };
        json_t *eni;
        size_t i;
        if (s->netd_call(s, req, &ans, &err) < 0) {
                log_warning("msg=\"cannot list netd's interfaces to find orphans, ignoring\" err=\"%s\"", err.msg);
                return;
        }
        json_array_foreach(json_object_get(ans, "NetworkInterfaces"), i, eni) {
                const char *ns = jstr(json_object_get(eni, "Attachment"), "Netns");
                if (!ns || (strncmp(ns, "ebx-task-", 9) != 0 && strncmp(ns, "ebx-ci-", 7) != 0) || json_object_get(owned, ns))
                        continue;
                if (netd_release(s, ns, &err) < 0) {
                        log_warning("msg=\"cannot release an orphaned namespace, ignoring\" netns=%s err=\"%s\"", ns, err.msg);
                        err_clear(&err);
                } else
                        log_notice("msg=\"released an orphaned task network\" netns=%s eni=%s", ns, jstr(eni, "NetworkInterfaceId") ?: "");
        }
}

int tasks_recover(struct sched *s, struct err *err)
{
        struct recover_ctx rc = { json_array(), json_object() };
        _cleanup_json_ json_t *inst_keys = json_array();
        struct recover_ctx ic = { inst_keys, rc.owned };
        json_t *k;
        size_t i;
        int r;
        if ((r = store_list(s->store, "task/", collect_recover, &rc, err)) < 0 ||
            (r = store_list(s->store, "instance/", collect_instances, &ic, err)) < 0)
                goto out;
        /* half-registered instances: netd may have made the namespace */
        json_array_foreach(inst_keys, i, k) {
                json_t *rec = NULL;
                struct err e2 = { 0 };
                if (store_get(s->store, json_string_value(k), &rec, &e2) < 0)
                        continue;
                if (netd_release(s, jstr(json_object_get(rec, "ebx"), "netns") ?: "", &e2) < 0)
                        log_warning("msg=\"cannot roll back a half-registered instance; will retry at the next start\" key=%s err=\"%s\"",
                                    json_string_value(k), e2.msg);
                else {
                        (void) store_del(s->store, json_string_value(k), &e2);
                        log_notice("msg=\"rolled back a half-registered container instance\" key=%s", json_string_value(k));
                }
                json_decref(rec);
        }
        json_array_foreach(rc.keys, i, k)
                recover_task(s, json_string_value(k));
        json_array_foreach(rc.keys, i, k)
                task_advance(s, json_string_value(k));
        release_orphans(s, rc.owned);
        instance_release_pending(s);
        log_info("msg=\"recovered\" tasks=%zu", json_array_size(rc.keys));
        r = 0;
out:
        json_decref(rc.keys);
        json_decref(rc.owned);
        return r;
}
