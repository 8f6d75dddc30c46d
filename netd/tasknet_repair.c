/* tasknet_repair.c: bridge and none task networks at start-up: interrupted creates rolled back and deletes
 * finished (their intents), then bridges, NAT tables, task links and index records made to agree with the
 * records; what nothing owns removed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "intent.h"
#include "ipam.h"
#include "kernel/knet.h"
#include "kernel/knet_bridge.h"
#include "netd.h"
#include "portmap.h"
#include "record.h"
#include "tasknet.h"
#include "tasknet_int.h"

static int load_tn(struct netd *d, const char *netns, json_t **ret)
{
        char key[KEY_MAX];
        if (!netns)
                return -ENOENT;
        tasknet_key(key, netns);
        return store_get(d->store, key, ret, NULL);
}

int tasknet_replay_intent(struct netd *d, const char *ikey, json_t *intent, struct err *err)
{
        const char *op = rec_str(intent, "Op") ?: "";
        _cleanup_json_ json_t *tn = NULL;
        bool create;
        int r = 0;

        if (strcmp(op, "CreateBridgeTask") != 0 && strcmp(op, "DeleteBridgeTask") != 0 && strcmp(op, "CreateNoneTask") != 0 &&
            strcmp(op, "DeleteNoneTask") != 0)
                return 0;
        create = strncmp(op, "Create", 6) == 0;
        if (load_tn(d, rec_str(intent, "Netns"), &tn) == 0) {
                if (create && strcmp(rec_str(tn, "NetworkMode") ?: "", "bridge") == 0) {
                        /* roll back: links and netns; the table is rebuilt from the records later */
                        struct knet_btask bt;
                        if ((r = tasknet_btask_of(tn, &bt, err)) < 0 || (r = knet_btask_remove_links(d->knet, &bt, err)) < 0)
                                return r;
                        r = tasknet_forget(d, tn, ikey, err);
                } else
                        r = tasknet_delete_finish(d, tn, ikey, err);
                if (r < 0)
                        return r;
        } else if ((r = intent_done(d, ikey, err)) < 0)
                return r;
        log_notice("msg=\"repaired interrupted operation\" op=%s netns=%s intent=%s action=%s", op, rec_str(intent, "Netns") ?: "?", ikey,
                   create ? "rolled back" : "finished");
        return 1;
}

struct link_sweep {
        struct netd *d;
        const char *inst;
        json_t *owned;
        int removed;
};

static bool host_end_pattern(const char *name)
{
        if (strlen(name) != 15 || name[0] != 'k')
                return false;
        for (const char *p = name + 1; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

static int link_sweep_cb(const char *ifname, const char *kind, void *ud)
{
        struct link_sweep *s = ud;
        struct err e = { 0 };
        if (!host_end_pattern(ifname) || json_object_get(s->owned, ifname))
                return 0;
        if (knet_link_delete(s->d->knet, s->inst, ifname, &e) < 0)
                log_warning("msg=\"cannot remove unowned bridge port, ignoring\" netns=%s link=%s err=\"%s\"", s->inst, ifname, e.msg);
        else {
                log_notice("msg=\"removed unowned bridge port\" netns=%s link=%s", s->inst, ifname);
                s->removed++;
        }
        return 0;
}

struct eni_instances {
        json_t *netns;  /* object: attached ENI netns -> true */
};

static int eni_inst_cb(const char *key, json_t *e, void *ud)
{
        struct eni_instances *c = ud;
        const char *netns = rec_str(json_object_get(e, "ebxAttachment"), "Netns");
        if (netns)
                json_object_set_new(c->netns, netns, json_true());
        return 0;
}

/* A none task's namespace re-created when missing. 1 when repaired. */
static int none_repair(struct netd *d, const char *netns)
{
        struct err e = { 0 };
        if (knet_netns_exists(d->knet, netns))
                return 0;
        if (knet_none_create(d->knet, netns, &e) < 0) {
                log_error("msg=\"cannot re-create none task netns\" netns=%s err=\"%s\"", netns, e.msg);
                return 0;
        }
        log_notice("msg=\"re-created missing none task netns\" netns=%s", netns);
        return 1;
}

/* Sort the records: none tasks repaired at once, bridge tasks of a vanished instance removed, the others
 * listed by instance in by_inst and noted in owner ("INSTANCE\nNETNS"). Returns repairs. */
static int tasks_sort(struct netd *d, json_t *all, json_t *instances, json_t *owner, json_t *by_inst)
{
        json_t *tn, *list;
        size_t i;
        int repaired = 0;
        json_array_foreach(all, i, tn) {
                const char *netns = rec_str(tn, "Netns"), *inst;
                struct err e = { 0 };
                char o[KEY_MAX * 2];
                if (strcmp(rec_str(tn, "NetworkMode") ?: "", "bridge") != 0) {
                        repaired += none_repair(d, netns);
                        continue;
                }
                inst = rec_str(tn, "InstanceNetns");
                if (!inst || !json_object_get(instances, inst)) {
                        /* its instance is gone: so is the task's network */
                        struct knet_btask bt;
                        log_notice("msg=\"removing bridge task network of a vanished instance\" netns=%s instance_netns=%s", netns, inst ?: "?");
                        if (tasknet_btask_of(tn, &bt, &e) == 0)
                                (void) knet_btask_remove_links(d->knet, &bt, &e);
                        (void) tasknet_forget(d, tn, NULL, &e);
                        repaired++;
                        continue;
                }
                snprintf(o, sizeof o, "%s\n%s", inst, netns);
                json_object_set_new(owner, o, json_true());
                list = json_object_get(by_inst, inst);
                if (!list) {
                        list = json_array();
                        json_object_set_new(by_inst, inst, list);
                }
                json_array_append(list, tn);
        }
        return repaired;
}

/* One instance: ecsbox0 and its table rebuilt from the records, each task's links checked and repaired,
 * host ends nothing owns removed. Returns repairs. */
static int instance_repair(struct netd *d, const char *inst, json_t *list)
{
        struct link_sweep s = { d, inst, NULL, 0 };
        _cleanup_json_ json_t *owned = json_object();
        struct err e = { 0 };
        json_t *tn;
        size_t i;
        int repaired = 0;

        s.owned = owned;
        if (tasknet_instance_ensure(d, inst, NULL, true, &e) < 0) {
                log_error("msg=\"cannot repair instance bridge\" instance_netns=%s err=\"%s\"", inst, e.msg);
                return 0;
        }
        json_array_foreach(list, i, tn) {
                struct knet_btask bt;
                err_clear(&e);
                if (tasknet_btask_of(tn, &bt, &e) < 0) {
                        log_error("msg=\"corrupt bridge task record, ignoring\" netns=%s", rec_str(tn, "Netns"));
                        continue;
                }
                json_object_set_new(owned, bt.host_if, json_true());
                if (knet_btask_check(d->knet, &bt, &e) == 0)
                        continue;
                log_notice("msg=\"bridge task network not as recorded, re-creating\" netns=%s why=\"%s\"", bt.netns, e.msg);
                err_clear(&e);
                /* the elements are in the rebuilt table already */
                if (knet_btask_repair(d->knet, &bt, &e) < 0)
                        log_error("msg=\"cannot re-create bridge task network\" netns=%s err=\"%s\"", bt.netns, e.msg);
                else
                        repaired++;
        }
        err_clear(&e);
        if (knet_link_list(d->knet, inst, link_sweep_cb, &s, &e) < 0)
                log_warning("msg=\"cannot list links, ignoring\" netns=%s err=\"%s\"", inst, e.msg);
        return repaired + s.removed;
}

static bool bport_owned(struct netd *d, const char *key, json_t *value, void *owner)
{
        (void) d;
        return ipam_bridge_owned(key, value, owner);
}

/* Index records: released when their task is gone, restored when missing. Returns repairs or < 0. */
static int index_repair(struct netd *d, json_t *owner, json_t *by_inst, struct err *err)
{
        const char *inst;
        json_t *list, *tn;
        size_t i;
        int repaired = 0, r;

        if ((r = ipam_bridge_sweep(d, owner, err)) < 0)
                return r;
        repaired += r;
        if ((r = records_sweep(d, "bport/", bport_owned, owner, "bridge task", err)) < 0)
                return r;
        repaired += r;
        json_object_foreach(by_inst, inst, list)
                json_array_foreach(list, i, tn) {
                        char key[KEY_MAX];
                        json_t *x;
                        size_t j;
                        repaired += ipam_bridge_repair(d, inst, rec_str(tn, "Netns"), rec_str(tn, "PrivateIpAddress"));
                        json_array_foreach(json_object_get(tn, "Bindings"), j, x) {
                                int p = portmap_proto_parse(rec_str(x, "protocol"));
                                if (p < 0)
                                        continue;
                                tasknet_port_key(key, inst, p, (unsigned) json_integer_value(json_object_get(x, "hostPort")));
                                if (store_exists(d->store, key) == 0 && tasknet_owner_put(d, key, rec_str(tn, "Netns"), NULL) >= 0)
                                        repaired++;
                        }
                }
        return repaired;
}

int tasknet_reconcile(struct netd *d, struct err *err)
{
        _cleanup_json_ json_t *all = NULL, *owner = json_object(), *by_inst = json_object(), *instances = json_object();
        struct eni_instances ei = { instances };
        const char *inst;
        json_t *list, *v;
        int repaired, r;

        if ((r = tasknet_list(d, NULL, NULL, &all, err)) < 0 || (r = store_list(d->store, "eni/", eni_inst_cb, &ei, err)) < 0)
                return r;
        repaired = tasks_sort(d, all, instances, owner, by_inst);
        /* instances with no bridge task left but a table from before: emptied, kept */
        json_object_foreach(instances, inst, v)
                if (!json_object_get(by_inst, inst) && knet_netns_exists(d->knet, inst) && knet_bridge_has_table(d->knet, inst))
                        json_object_set_new(by_inst, inst, json_array());
        json_object_foreach(by_inst, inst, list)
                repaired += instance_repair(d, inst, list);
        if ((r = index_repair(d, owner, by_inst, err)) < 0)
                return r;
        repaired += r;
        log_info("msg=\"reconciled task networks\" task_networks=%zu instances=%zu repairs=%d", json_array_size(all),
                 json_object_size(by_inst), repaired);
        return repaired;
}
