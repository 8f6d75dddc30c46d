/* fuzz_sched_sd_request.c: libFuzzer target for the Cloud Map request decoders (scheduler/sd/sd_req.c):
 * the first byte picks the decoder (paging, filters, namespaces, DnsConfig, services, RegisterInstance
 * with the attribute checks, DiscoverInstances), the rest is the JSON body; the same document is also
 * read as a service, a namespace and instances for the RRsets pushed to netd (sd_dns_rrsets). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecsbox/json.h"
#include "../../scheduler/sd/sd.h"
#include "../../scheduler/sd/sd_req.h"

static void decode(uint8_t which, json_t *req)
{
        static const char *const names[] = { "TYPE", "NAME", "HTTP_NAME", NULL };
        static const char *const conds[] = { "EQ", "IN", "BEGINS_WITH", "BETWEEN", NULL };
        struct err e = { 0 };
        switch (which % 8) {
        case 0: {
                struct sd_page pg;
                json_t *all = json_pack("[i, i, i]", 1, 2, 3), *page = NULL, *tok = NULL;
                if (sd_page_decode(req, 100, 100, &pg, &e) == 0) {
                        if (pg.max < 1 || pg.max > 100)
                                abort();
                        sd_page_take(&pg, all, &page, &tok);
                        if (json_array_size(page) > (size_t) pg.max)
                                abort();
                }
                json_decref(all);
                json_decref(page);
                json_decref(tok);
                break;
        }
        case 1: {
                struct sd_filters fs;
                if (sd_filters_decode(req, names, conds, &fs, &e) == 0)
                        for (size_t i = 0; i < fs.n; i++)
                                (void) sd_filter_match(&fs.f[i], "corp.local");
                break;
        }
        case 2:
        case 3: {
                struct sd_ns_create_in in;
                if (sd_ns_create_decode(req, which % 8 == 2, &in, &e) == 0 && (!in.name || !*in.name))
                        abort();
                break;
        }
        case 4: {
                struct sd_records r;
                if (sd_dns_config_decode(req, which & 0x80, &r, &e) == 0 && !r.a && !r.aaaa && !r.srv && !r.cname)
                        abort();
                break;
        }
        case 5: {
                struct sd_svc_create_in in;
                if (sd_svc_create_decode(req, &in, &e) == 0 && (!in.namespace_id || !sd_service_name_valid(in.name)))
                        abort();
                break;
        }
        case 6: {
                struct sd_register_in in;
                struct sd_records r = { .a = which & 0x10, .srv = which & 0x20, .aaaa = which & 0x40, .cname = which & 0x80 };
                if (sd_register_decode(req, &in, &e) == 0) {
                        if (!sd_instance_id_valid(in.instance_id))
                                abort();
                        (void) sd_attributes_check(in.attrs, &r, which & 1, &e);
                }
                break;
        }
        default: {
                struct sd_discover_in in;
                if (sd_discover_decode(req, &in, &e) == 0) {
                        if (in.max < 1 || in.max > 1000)
                                abort();
                        if (in.query)
                                (void) sd_attrs_match(json_object_get(req, "Attributes"), in.query);
                }
                break;
        }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_error_t jerr;
        json_t *req, *sets, *s;
        size_t i;
        if (size < 1)
                return 0;
        req = json_loadb((const char *) data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
        if (!req)
                return 0;
        if (json_is_object(req)) {
                decode(data[0], req);
                /* the body as a service with its namespace and instances */
                sets = sd_dns_rrsets(req, json_object_get(req, "Namespace"), json_object_get(req, "Instances"));
                json_array_foreach(sets, i, s)
                        if (!jstr(s, "Name") || !jstr(s, "Type") || !json_is_array(json_object_get(s, "Records")))
                                abort();
                json_decref(sets);
        }
        json_decref(req);
        return 0;
}
