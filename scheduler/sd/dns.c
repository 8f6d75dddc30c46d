/* dns.c: a DNS_PRIVATE namespace is an authoritative zone in its VPC's resolver (netd serves it); its
 * services' RRsets follow their instances and health. Changes are marked in s->sd_dirty and pushed
 * with netd's PutDnsZone / PutDnsRecords / DeleteDnsZone (idempotent); what netd did not take stays
 * marked and is pushed again on the next tick, and every zone and RRset is pushed again every
 * REPUSH_S seconds and after ecsboxd starts (netd may have restarted and lost them).
 *
 * What a service's RRsets are (AWS's rules): A (AAAA) at SERVICE.NAMESPACE with the IPv4 (IPv6) addresses of the
 * healthy instances (all of them when none is healthy; netd's resolver answers at most 8, picked at
 * random); SRV there with "1 1 PORT INSTANCE.SERVICE.NAMESPACE." per such instance, and an A record
 * (and AAAA) at INSTANCE.SERVICE.NAMESPACE for every instance. The sets last pushed are kept in
 * sd/dns/<srv-id>: a set no longer wanted is emptied (deleted) in netd, and only the sets that changed
 * are pushed, so one instance among hundreds costs the service's A/SRV sets and its own (every set
 * is pushed on the forced passes: start-up and each minute). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "ecsbox/store.h"
#include "ecsbox/timeutil.h"
#include "../netd_client.h"
#include "../sched.h"
#include "sd.h"
#include "sd_req.h"

#define REPUSH_S 60.0
#define LOG_EVERY 60            /* a failing push is logged on its first attempt and every this many */

/* s->sd_dirty: key -> {"tries": failed pushes so far, "force": push every set, even those netd took before}. */
static void mark_as(struct sched *s, const char *key, bool force)
{
        json_t *v;
        if (!s->sd_dirty && !(s->sd_dirty = json_object()))
                return;
        if (!(v = json_object_get(s->sd_dirty, key)))
                json_object_set_new(s->sd_dirty, key, json_pack("{s:i, s:b}", "tries", 0, "force", force));
        else if (force)
                json_object_set_new(v, "force", json_true());
}

static void mark(struct sched *s, const char *key)
{
        mark_as(s, key, false);
}

void sd_dns_zone_changed(struct sched *s, const char *ns_id)
{
        char key[SD_KEY_MAX];
        snprintf(key, sizeof key, "zone:%s", ns_id);
        mark(s, key);
}

void sd_dns_zone_deleted(struct sched *s, const char *vpc, const char *name)
{
        char key[SD_KEY_MAX + 300];
        snprintf(key, sizeof key, "unzone:%s:%s", vpc, name);
        mark(s, key);
}

void sd_dns_service_changed(struct sched *s, const char *service_id)
{
        char key[SD_KEY_MAX];
        snprintf(key, sizeof key, "svc:%s", service_id);
        mark(s, key);
}

static int mark_ns(const char *key, json_t *v, void *userdata)
{
        char k[SD_KEY_MAX];
        if (strcmp(jstr(v, "Type") ?: "", "DNS_PRIVATE") == 0) {
                snprintf(k, sizeof k, "zone:%s", jstr(v, "Id") ?: "");
                mark_as(userdata, k, true);
        }
        return 0;
}

static int mark_svc(const char *key, json_t *v, void *userdata)
{
        char k[SD_KEY_MAX];
        /* sd/svc/<id> and sd/dns/<id> have prefixes of the same length */
        snprintf(k, sizeof k, "svc:%s", key + strlen(SD_SVC_PREFIX));
        mark_as(userdata, k, true);
        return 0;
}

void sd_dns_mark_all(struct sched *s)
{
        struct err e = { 0 };
        s->sd_last_all = now_epoch();
        if (store_list(s->store, SD_NS_PREFIX, mark_ns, s, &e) < 0 || store_list(s->store, SD_SVC_PREFIX, mark_svc, s, &e) < 0 ||
            store_list(s->store, SD_DNS_PREFIX, mark_svc, s, &e) < 0)
                log_warning("msg=\"cannot list Cloud Map records for the DNS push, ignoring\" err=\"%s\"", e.msg);
}

/* The zone name of a namespace: its Name without a trailing dot, lowercase. */
static void zone_name(const char *name, char *buf, size_t size)
{
        size_t n;
        snprintf(buf, size, "%s", name ? name : "");
        n = strlen(buf);
        if (n > 1 && buf[n - 1] == '.')
                buf[n - 1] = '\0';
        for (char *p = buf; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
}

static bool dns_label(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 63)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
                        return false;
        return true;
}

static json_t *rrset(const char *name, const char *type, long long ttl, json_t *records)
{
        return json_pack("{s:s, s:s, s:I, s:o}", "Name", name, "Type", type, "Ttl", (json_int_t) ttl, "Records", records);
}

json_t *sd_dns_rrsets(json_t *svc, json_t *ns, json_t *instances)
{
        json_t *out = json_array(), *i, *a = json_array(), *aaaa = json_array(), *srv = json_array();
        struct sd_records rec;
        char zone[300], name[600];
        size_t k, healthy = 0;
        sd_records_of(json_object_get(svc, "DnsConfig"), &rec);
        zone_name(jstr(ns, "Name"), zone, sizeof zone);
        if (strcmp(jstr(svc, "Name") ?: "", ".") == 0)
                snprintf(name, sizeof name, "%s", zone);
        else
                snprintf(name, sizeof name, "%s.%s", jstr(svc, "Name") ?: "", zone);
        for (char *p = name; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char) (*p - 'A' + 'a');
        json_array_foreach(instances, k, i)
                if (strcmp(sd_instance_health(svc, i), "UNHEALTHY") != 0)
                        healthy++;
        json_array_foreach(instances, k, i) {
                json_t *attrs = json_object_get(i, "Attributes");
                const char *ip = jstr(attrs, "AWS_INSTANCE_IPV4"), *ip6 = jstr(attrs, "AWS_INSTANCE_IPV6"), *port = jstr(attrs, "AWS_INSTANCE_PORT"), *id = jstr(i, "Id") ?: "";
                bool chosen = healthy == 0 || strcmp(sd_instance_health(svc, i), "UNHEALTHY") != 0;
                char host[700], target[720];
                if (rec.a && ip && chosen)
                        json_array_append_new(a, json_string(ip));
                if (rec.aaaa && ip6 && chosen)
                        json_array_append_new(aaaa, json_string(ip6));
                if (!rec.srv || !port || !dns_label(id))
                        continue;
                snprintf(host, sizeof host, "%s.%s", id, name);
                for (char *p = host; *p; p++)
                        if (*p >= 'A' && *p <= 'Z')
                                *p = (char) (*p - 'A' + 'a');
                if (chosen) {
                        snprintf(target, sizeof target, "1 1 %s %s.", port, host);
                        json_array_append_new(srv, json_string(target));
                }
                if (ip)
                        json_array_append_new(out, rrset(host, "A", rec.a ? rec.ttl_a : rec.ttl_srv, json_pack("[s]", ip)));
                if (ip6)
                        json_array_append_new(out, rrset(host, "AAAA", rec.aaaa ? rec.ttl_aaaa : rec.ttl_srv, json_pack("[s]", ip6)));
        }
        if (json_array_size(aaaa))
                json_array_insert_new(out, 0, rrset(name, "AAAA", rec.ttl_aaaa, aaaa));
        else
                json_decref(aaaa);
        if (json_array_size(a))
                json_array_insert_new(out, 0, rrset(name, "A", rec.ttl_a, a));
        else
                json_decref(a);
        if (json_array_size(srv))
                json_array_insert_new(out, 0, rrset(name, "SRV", rec.ttl_srv, srv));
        else
                json_decref(srv);
        return out;
}

static int netd(struct sched *s, json_t *req, struct err *err)
{
        _cleanup_json_ json_t *ans = NULL;
        return s->netd_call(s, req, &ans, err);
}

int sd_dns_zone_check(struct sched *s, const char *vpc, const char *name, struct err *err)
{
        _cleanup_json_ json_t *req = NULL;
        char zone[300];
        int r;
        zone_name(name, zone, sizeof zone);
        req = json_pack("{s:s, s:s, s:s}", "Action", "PutDnsZone", "VpcId", vpc, "Name", zone);
        r = netd(s, req, err);
        if (r < 0 && *netd_code(err)) {
                char msg[ERR_MSG_MAX];
                snprintf(msg, sizeof msg, "%s", err->msg);
                return err_set(err, EINVAL, SD_E_INPUT, "Namespace name '%s' cannot be a zone of VPC %s: %s", name, vpc, msg);
        }
        if (r < 0)
                log_warning("msg=\"netd unreachable; the zone will be pushed later\" vpc=%s zone=%s err=\"%s\"", vpc, zone, err->msg);
        err_clear(err);
        return 0;
}

static int push_zone(struct sched *s, const char *ns_id, struct err *err)
{
        _cleanup_json_ json_t *ns = NULL, *req = NULL;
        char zone[300];
        int r = sd_namespace_get(s, ns_id, &ns, err);
        if (r == -ENOENT)
                return 0;                /* deleted since: its unzone entry does the rest */
        if (r < 0)
                return r;
        if (strcmp(jstr(ns, "Type") ?: "", "DNS_PRIVATE") != 0)
                return 0;
        zone_name(jstr(ns, "Name"), zone, sizeof zone);
        req = json_pack("{s:s, s:s, s:s}", "Action", "PutDnsZone", "VpcId", jstr(json_object_get(ns, "ebx"), "vpc") ?: "", "Name", zone);
        if ((r = netd(s, req, err)) < 0)
                return err_wrap(err, "PutDnsZone %s in %s", zone, jstr(json_object_get(ns, "ebx"), "vpc") ?: "");
        log_debug("msg=\"zone pushed to netd\" namespace=%s zone=%s", ns_id, zone);
        return 0;
}

static int push_unzone(struct sched *s, const char *spec, struct err *err)
{
        _cleanup_json_ json_t *req = NULL;
        char vpc[64], zone[300];
        const char *colon = strchr(spec, ':');
        int r;
        if (!colon || (size_t) (colon - spec) >= sizeof vpc)
                return 0;
        memcpy(vpc, spec, (size_t) (colon - spec));
        vpc[colon - spec] = '\0';
        zone_name(colon + 1, zone, sizeof zone);
        req = json_pack("{s:s, s:s, s:s}", "Action", "DeleteDnsZone", "VpcId", vpc, "Name", zone);
        if ((r = netd(s, req, err)) < 0 && strcmp(netd_code(err), "InvalidVpcID.NotFound") != 0)
                return err_wrap(err, "DeleteDnsZone %s in %s", zone, vpc);
        err_clear(err);
        log_debug("msg=\"zone deleted in netd\" vpc=%s zone=%s", vpc, zone);
        return 0;
}

/* The entry of sets for vpc/name/type, or NULL. */
static json_t *find_set(json_t *sets, const char *vpc, const char *name, const char *type)
{
        json_t *x;
        size_t i;
        json_array_foreach(sets, i, x)
                if (strcmp(jstr(x, "VpcId") ?: "", vpc) == 0 && strcmp(jstr(x, "Name") ?: "", name) == 0 &&
                    strcmp(jstr(x, "Type") ?: "", type) == 0)
                        return x;
        return NULL;
}

static bool has_set(json_t *sets, const char *vpc, const char *name, const char *type)
{
        return find_set(sets, vpc, name, type) != NULL;
}

/* Pushes the service's sets that differ from what netd took last (all of them with force): a change
 * of one instance among hundreds costs the service's A/SRV sets and that instance's own. */
static int push_service(struct sched *s, const char *svc_id, bool force, struct err *err)
{
        _cleanup_json_ json_t *svc = NULL, *ns = NULL, *insts = NULL, *want = NULL, *pushed = NULL, *now = json_array();
        const char *vpc = NULL;
        char key[SD_KEY_MAX];
        json_t *x;
        size_t i;
        bool zone_there = false;
        int r;
        snprintf(key, sizeof key, SD_DNS_PREFIX "%.64s", svc_id);
        if ((r = store_get(s->store, key, &pushed, err)) < 0 && r != -ENOENT)
                return r;
        r = sd_service_get(s, svc_id, &svc, err);
        if (r < 0 && r != -ENOENT)
                return r;
        err_clear(err);
        if (svc && json_object_get(svc, "DnsConfig") && sd_namespace_get(s, jstr(svc, "NamespaceId"), &ns, err) == 0 &&
            strcmp(jstr(ns, "Type") ?: "", "DNS_PRIVATE") == 0) {
                vpc = jstr(json_object_get(ns, "ebx"), "vpc");
                zone_there = true;
                if ((r = sd_instances_list(s, svc_id, &insts, err)) < 0)
                        return r;
                want = sd_dns_rrsets(svc, ns, insts);
        }
        err_clear(err);
        json_array_foreach(want, i, x) {
                _cleanup_json_ json_t *set = json_deep_copy(x), *req = NULL;
                json_t *before = find_set(json_object_get(pushed, "Sets"), vpc, jstr(x, "Name") ?: "", jstr(x, "Type") ?: "");
                json_object_set_new(set, "VpcId", json_string(vpc));
                if (force || !before || !json_equal(before, set)) {
                        req = json_deep_copy(set);
                        json_object_set_new(req, "Action", json_string("PutDnsRecords"));
                        /* on failure the last state stays: the retry pushes again what differs from it (idempotent) */
                        if ((r = netd(s, req, err)) < 0)
                                return err_wrap(err, "PutDnsRecords %s %s in %s", jstr(x, "Name"), jstr(x, "Type"), vpc);
                }
                json_array_append_new(now, TAKE_PTR(set));
        }
        /* the sets pushed before and no longer wanted are emptied */
        json_array_foreach(json_object_get(pushed, "Sets"), i, x) {
                _cleanup_json_ json_t *req = NULL;
                if (has_set(now, jstr(x, "VpcId") ?: "", jstr(x, "Name") ?: "", jstr(x, "Type") ?: ""))
                        continue;
                req = json_pack("{s:s, s:s, s:s, s:s, s:i, s:[]}", "Action", "PutDnsRecords", "VpcId", jstr(x, "VpcId") ?: "", "Name",
                                jstr(x, "Name") ?: "", "Type", jstr(x, "Type") ?: "", "Ttl", 0, "Records");
                if ((r = netd(s, req, err)) < 0) {
                        /* without its zone (namespace deleted: DeleteDnsZone took the records) there is nothing to empty */
                        if (!zone_there && *netd_code(err)) {
                                err_clear(err);
                                continue;
                        }
                        return err_wrap(err, "PutDnsRecords %s %s in %s (delete)", jstr(x, "Name"), jstr(x, "Type"), jstr(x, "VpcId"));
                }
        }
        if (json_array_size(now) == 0)
                r = store_del(s->store, key, err);
        else {
                _cleanup_json_ json_t *rec = json_pack("{s:O}", "Sets", now);
                r = store_put(s->store, key, rec, err);
        }
        if (r < 0)
                return r;
        log_debug("msg=\"service RRsets pushed to netd\" service=%s sets=%zu", svc_id, json_array_size(now));
        return 0;
}

static void flush_kind(struct sched *s, const char *kind)
{
        _cleanup_json_ json_t *keys = json_array();
        const char *k;
        json_t *v;
        size_t i, n = strlen(kind);
        json_object_foreach(s->sd_dirty, k, v)
                if (strncmp(k, kind, n) == 0)
                        json_array_append_new(keys, json_string(k));
        json_array_foreach(keys, i, v) {
                const char *key = json_string_value(v);
                json_t *st = json_object_get(s->sd_dirty, key);
                bool force = json_is_true(json_object_get(st, "force"));
                struct err err = { 0 };
                long long tries;
                int r = strcmp(kind, "zone:") == 0     ? push_zone(s, key + n, &err)
                        : strcmp(kind, "svc:") == 0    ? push_service(s, key + n, force, &err)
                                                       : push_unzone(s, key + n, &err);
                if (r >= 0) {
                        json_object_del(s->sd_dirty, key);
                        continue;
                }
                tries = jint(st, "tries", 0) + 1;
                json_object_set_new(st, "tries", json_integer(tries));
                if (tries == 1 || tries % LOG_EVERY == 0)
                        log_warning("msg=\"DNS push to netd failed; will retry\" what=%s tries=%lld err=\"%s\"", key, tries, err.msg);
        }
}

void sd_dns_flush(struct sched *s)
{
        if (json_object_size(s->sd_dirty) == 0)
                return;
        /* zones before the records in them; deleted zones last */
        flush_kind(s, "zone:");
        flush_kind(s, "svc:");
        flush_kind(s, "unzone:");
}

void sd_dns_tick(struct sched *s)
{
        if (now_epoch() - s->sd_last_all >= REPUSH_S)
                sd_dns_mark_all(s);
        sd_dns_flush(s);
}
