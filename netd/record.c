/* record.c: netd's records in the store: keys, listing a kind, releasing index records nothing owns. */
#include <errno.h>
#include <stdio.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "netd.h"
#include "record.h"

void key_fmt(char buf[KEY_MAX], const char *kind, const char *id)
{
        snprintf(buf, KEY_MAX, "%s/%s", kind, id);
}

static int walk_cb(const char *key, json_t *v, void *ud)
{
        (void) key;
        (void) json_array_append(ud, v);
        return 0;
}

json_t *netd_records(struct netd *d, const char *prefix, struct err *err)
{
        json_t *a = json_array();
        if (store_list(d->store, prefix, walk_cb, a, err) < 0) {
                json_decref(a);
                return NULL;
        }
        return a;
}

static int pair_cb(const char *key, json_t *v, void *ud)
{
        (void) json_array_append_new(ud, json_pack("[s, O]", key, v));
        return 0;
}

int records_sweep(struct netd *d, const char *prefix, record_keep_fn keep, void *ud, const char *what, struct err *err)
{
        _cleanup_json_ json_t *all = json_array();
        json_t *it;
        size_t i;
        int n = 0, r;

        /* read them all first: deleting while the walk runs would move under it */
        if ((r = store_list(d->store, prefix, pair_cb, all, err)) < 0)
                return r;
        json_array_foreach(all, i, it) {
                const char *key = json_string_value(json_array_get(it, 0));
                if (keep(d, key, json_array_get(it, 1), ud))
                        continue;
                (void) store_del(d->store, key, NULL);
                log_notice("msg=\"released record of a vanished %s\" key=%s", what, key);
                n++;
        }
        return n;
}

bool record_eni_exists(struct netd *d, const char *key, json_t *value, void *ud)
{
        _cleanup_json_ json_t *eni = NULL;
        const char *id = rec_str(value, "NetworkInterfaceId");
        char k[KEY_MAX];
        (void) key;
        (void) ud;
        if (!id)
                return false;
        key_fmt(k, "eni", id);
        return store_get(d->store, k, &eni, NULL) == 0;
}

int record_load(struct netd *d, const char *kind, const char *id, json_t **ret)
{
        char key[KEY_MAX];
        if (!id)
                return -ENOENT;
        key_fmt(key, kind, id);
        return store_get(d->store, key, ret, NULL);
}

int record_del(struct netd *d, const char *kind, const char *id, struct err *err)
{
        char key[KEY_MAX];
        key_fmt(key, kind, id);
        return store_del(d->store, key, err);
}
