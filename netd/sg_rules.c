/* sg_rules.c: IpPermissions <-> flat rules, and the disjoint set elements of a task's SG sets. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecsbox/cidr.h"
#include "ecsbox/ids.h"
#include "ecsbox/json.h"
#include "record.h"
#include "req.h"
#include "sg_rules.h"


/* "tcp", "TCP", "6" -> "tcp"; "-1", "all" -> "-1"; other numbers 0-255 as decimal. */
static int proto_norm(json_t *v, char buf[8], struct err *err)
{
        long n;
        char *end;
        const char *s;
        char tmp[24];

        if (json_is_integer(v)) {
                snprintf(tmp, sizeof tmp, "%lld", json_integer_value(v));
                s = tmp;
        } else if (json_is_string(v))
                s = json_string_value(v);
        else
                return err_set(err, EINVAL, SG_ERR_MALFORMED, "IpProtocol must be a string (tcp, udp, icmp, -1 or a number)");
        if (!strcasecmp(s, "tcp") || !strcmp(s, "6"))
                snprintf(buf, 8, "tcp");
        else if (!strcasecmp(s, "udp") || !strcmp(s, "17"))
                snprintf(buf, 8, "udp");
        else if (!strcasecmp(s, "icmp") || !strcmp(s, "1"))
                snprintf(buf, 8, "icmp");
        else if (!strcmp(s, "-1") || !strcasecmp(s, "all"))
                snprintf(buf, 8, "-1");
        else {
                errno = 0;
                n = strtol(s, &end, 10);
                if (!*s || *end || errno || n < 0 || n > 255 || !isdigit((unsigned char) s[0]))
                        return err_set(err, EINVAL, SG_ERR_MALFORMED,
                                       "Invalid IpProtocol '%s': expecting tcp, udp, icmp, -1 or a protocol number 0-255", s);
                /* by number, so that "06" is tcp with its ports (as "6" is), not protocol 6 on every port */
                if (n == 6)
                        snprintf(buf, 8, "tcp");
                else if (n == 17)
                        snprintf(buf, 8, "udp");
                else if (n == 1)
                        snprintf(buf, 8, "icmp");
                else
                        snprintf(buf, 8, "%ld", n);
        }
        return 0;
}

static int port_get(json_t *perm, const char *key, bool *present, long long *ret, struct err *err)
{
        json_t *v = json_object_get(perm, key);
        *present = v != NULL && !json_is_null(v);
        if (!*present)
                return 0;
        if (json_is_string(v)) {
                char *end;
                errno = 0;
                *ret = strtoll(json_string_value(v), &end, 10);
                if (!json_string_value(v)[0] || *end || errno)
                        return err_set(err, EINVAL, SG_ERR_MALFORMED, "%s must be an integer", key);
                return 0;
        }
        if (!json_is_integer(v))
                return err_set(err, EINVAL, SG_ERR_MALFORMED, "%s must be an integer", key);
        *ret = json_integer_value(v);
        return 0;
}

/* FromPort/ToPort of one permission for a normalised protocol. */
static int ports_norm(json_t *perm, const char *proto, long long *ret_from, long long *ret_to, struct err *err)
{
        bool hf, ht;
        long long from = -1, to = -1;
        int r;

        if ((r = port_get(perm, "FromPort", &hf, &from, err)) < 0 || (r = port_get(perm, "ToPort", &ht, &to, err)) < 0)
                return r;
        if (!strcmp(proto, "tcp") || !strcmp(proto, "udp")) {
                if (!hf || !ht)
                        return err_set(err, EINVAL, SG_ERR_MALFORMED, "%s rules need FromPort and ToPort", proto);
                if (from < 0 || from > 65535 || to < 0 || to > 65535)
                        return err_set(err, EINVAL, SG_ERR_MALFORMED, "Invalid %s port range %lld-%lld: ports are 0-65535", proto, from, to);
                if (from > to)
                        return err_set(err, EINVAL, SG_ERR_MALFORMED, "Invalid %s port range %lld-%lld: FromPort is above ToPort", proto, from, to);
        } else if (!strcmp(proto, "icmp")) {
                /* FromPort is the ICMP type, ToPort the code; -1 = any */
                if (!hf)
                        from = -1;
                if (!ht)
                        to = -1;
                if (from < -1 || from > 255 || to < -1 || to > 255)
                        return err_set(err, EINVAL, SG_ERR_MALFORMED, "Invalid ICMP type %lld / code %lld: -1 or 0-255", from, to);
                if (from == -1 && to != -1)
                        return err_set(err, EINVAL, SG_ERR_MALFORMED, "ICMP code %lld needs a specific ICMP type (FromPort), not -1", to);
        } else {
                /* AWS: for -1 and protocols other than tcp, udp and icmp every port is allowed */
                from = to = -1;
        }
        *ret_from = from;
        *ret_to = to;
        return 0;
}

void sg_rule_key(json_t *rule, char *buf, size_t len)
{
        snprintf(buf, len, "%s|%s|%lld|%lld|%s:%s", json_is_true(json_object_get(rule, "Egress")) ? "out" : "in",
                 rec_str(rule, "IpProtocol") ?: "", json_integer_value(json_object_get(rule, "FromPort")),
                 json_integer_value(json_object_get(rule, "ToPort")), rec_str(rule, "CidrIp") ? "cidr" : "group",
                 rec_str(rule, "CidrIp") ?: rec_str(rule, "GroupId") ?: "");
}

static int rule_append(json_t *rules, json_t *rule, struct err *err)
{
        char key[160], other[160];
        json_t *o;
        size_t i;

        sg_rule_key(rule, key, sizeof key);
        json_array_foreach(rules, i, o) {
                sg_rule_key(o, other, sizeof other);
                if (!strcmp(key, other)) {
                        json_decref(rule);
                        return err_set(err, EEXIST, "InvalidPermission.Duplicate",
                                       "The same permission must not appear multiple times (%s)", key);
                }
        }
        json_array_append_new(rules, rule);
        return 0;
}

static int perm_parse(json_t *perm, size_t idx, bool egress, json_t *rules, struct err *err)
{
        static const char *const keys[] = { "IpProtocol", "FromPort", "ToPort", "IpRanges", "UserIdGroupPairs",
                                            "Ipv6Ranges", "PrefixListIds", NULL };
        json_t *ranges, *pairs, *v6, *pl, *x;
        long long from = -1, to = -1;
        char proto[8];
        size_t i, peers = 0;
        int r;

        if (!json_is_object(perm))
                return err_set(err, EINVAL, SG_ERR_MALFORMED, "IpPermissions.%zu must be a structure", idx + 1);
        if ((r = json_check_keys(perm, keys, err)) < 0)
                return r;
        if (!json_object_get(perm, "IpProtocol"))
                return err_set(err, EINVAL, JERR_MISSING, "IpPermissions.%zu: the request must contain the parameter IpProtocol", idx + 1);
        if ((r = proto_norm(json_object_get(perm, "IpProtocol"), proto, err)) < 0 ||
            (r = ports_norm(perm, proto, &from, &to, err)) < 0)
                return r;
        ranges = json_object_get(perm, "IpRanges");
        pairs = json_object_get(perm, "UserIdGroupPairs");
        v6 = json_object_get(perm, "Ipv6Ranges");
        pl = json_object_get(perm, "PrefixListIds");
        if ((ranges && !json_is_array(ranges)) || (pairs && !json_is_array(pairs)) || (v6 && !json_is_array(v6)) ||
            (pl && !json_is_array(pl)))
                return err_set(err, EINVAL, SG_ERR_MALFORMED, "IpPermissions.%zu: IpRanges, UserIdGroupPairs, Ipv6Ranges and PrefixListIds are lists", idx + 1);
        if (json_array_size(v6) > 0)
                return err_set(err, EINVAL, JERR_INVALID, "IpPermissions.%zu: Ipv6Ranges: ecsbox VPCs are IPv4 only", idx + 1);
        if (json_array_size(pl) > 0)
                return err_set(err, EINVAL, JERR_INVALID, "IpPermissions.%zu: PrefixListIds are not supported by ecsbox", idx + 1);
        json_array_foreach(ranges, i, x) {
                static const char *const rkeys[] = { "CidrIp", "Description", NULL };
                const char *cidr, *desc = NULL;
                struct cidr4 c;
                char canon[CIDR_STR_MAX];
                json_t *rule;
                if (!json_is_object(x))
                        return err_set(err, EINVAL, SG_ERR_MALFORMED, "IpPermissions.%zu.IpRanges.%zu must be a structure", idx + 1, i + 1);
                if ((r = json_check_keys(x, rkeys, err)) < 0 || (r = json_get_string(x, "CidrIp", true, &cidr, err)) < 0 ||
                    (r = req_description(x, &desc, err)) < 0)
                        return r;
                if (cidr4_parse(cidr, &c) < 0)
                        return err_set(err, EINVAL, JERR_INVALID, "CIDR block %s is malformed", cidr);
                cidr4_format(&c, canon);
                rule = json_pack("{s:b, s:s, s:I, s:I, s:s}", "Egress", egress, "IpProtocol", proto, "FromPort",
                                 (json_int_t) from, "ToPort", (json_int_t) to, "CidrIp", canon);
                if (desc)
                        json_object_set_new(rule, "Description", json_string(desc));
                if ((r = rule_append(rules, rule, err)) < 0)
                        return r;
                peers++;
        }
        json_array_foreach(pairs, i, x) {
                static const char *const gkeys[] = { "GroupId", "UserId", "Description", "GroupName", "VpcId",
                                                     "VpcPeeringConnectionId", "PeeringStatus", NULL };
                const char *gid = NULL, *desc = NULL;
                json_t *rule;
                if (!json_is_object(x))
                        return err_set(err, EINVAL, SG_ERR_MALFORMED, "IpPermissions.%zu.UserIdGroupPairs.%zu must be a structure", idx + 1, i + 1);
                if ((r = json_check_keys(x, gkeys, err)) < 0 || (r = json_get_string(x, "GroupId", true, &gid, err)) < 0 ||
                    (r = req_description(x, &desc, err)) < 0)
                        return r;
                if (!id_valid("sg", gid))
                        return err_set(err, EINVAL, "InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", gid);
                rule = json_pack("{s:b, s:s, s:I, s:I, s:s}", "Egress", egress, "IpProtocol", proto, "FromPort",
                                 (json_int_t) from, "ToPort", (json_int_t) to, "GroupId", gid);
                if (desc)
                        json_object_set_new(rule, "Description", json_string(desc));
                if ((r = rule_append(rules, rule, err)) < 0)
                        return r;
                peers++;
        }
        if (peers == 0)
                return err_set(err, EINVAL, SG_ERR_MALFORMED, "IpPermissions.%zu names no source or destination (IpRanges or UserIdGroupPairs)", idx + 1);
        return 0;
}

int sg_perms_parse(json_t *perms, bool egress, json_t **ret_rules, struct err *err)
{
        _cleanup_json_ json_t *rules = json_array();
        json_t *p;
        size_t i;
        int r;

        if (!json_is_array(perms) || json_array_size(perms) == 0)
                return err_set(err, EINVAL, JERR_MISSING, "The request must contain the parameter IpPermissions (a non-empty list)");
        json_array_foreach(perms, i, p)
                if ((r = perm_parse(p, i, egress, rules, err)) < 0)
                        return r;
        *ret_rules = TAKE_PTR(rules);
        return 0;
}

json_t *sg_rules_to_perms(json_t *rules, bool egress)
{
        json_t *perms = json_array(), *rule, *p;
        size_t i, j;

        json_array_foreach(rules, i, rule) {
                json_t *found = NULL, *peer;
                const char *proto = rec_str(rule, "IpProtocol");
                json_int_t from = json_integer_value(json_object_get(rule, "FromPort"));
                json_int_t to = json_integer_value(json_object_get(rule, "ToPort"));
                if (json_is_true(json_object_get(rule, "Egress")) != egress)
                        continue;
                json_array_foreach(perms, j, p) {
                        json_t *pf = json_object_get(p, "FromPort"), *pt = json_object_get(p, "ToPort");
                        if (!strcmp(rec_str(p, "IpProtocol"), proto) && (pf ? json_integer_value(pf) : -1) == from &&
                            (pt ? json_integer_value(pt) : -1) == to) {
                                found = p;
                                break;
                        }
                }
                if (!found) {
                        found = json_pack("{s:s, s:[], s:[], s:[], s:[]}", "IpProtocol", proto, "IpRanges", "Ipv6Ranges",
                                          "PrefixListIds", "UserIdGroupPairs");
                        /* as `aws ec2 describe-security-groups` shows them: no ports for -1 and other protocols */
                        if (!strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "icmp")) {
                                json_object_set_new(found, "FromPort", json_integer(from));
                                json_object_set_new(found, "ToPort", json_integer(to));
                        }
                        json_array_append_new(perms, found);
                }
                if (rec_str(rule, "CidrIp")) {
                        peer = json_pack("{s:s}", "CidrIp", rec_str(rule, "CidrIp"));
                        if (rec_str(rule, "Description"))
                                json_object_set_new(peer, "Description", json_string(rec_str(rule, "Description")));
                        json_array_append_new(json_object_get(found, "IpRanges"), peer);
                } else {
                        peer = json_pack("{s:s}", "GroupId", rec_str(rule, "GroupId"));
                        if (rec_str(rule, "UserId"))
                                json_object_set_new(peer, "UserId", json_string(rec_str(rule, "UserId")));
                        if (rec_str(rule, "Description"))
                                json_object_set_new(peer, "Description", json_string(rec_str(rule, "Description")));
                        json_array_append_new(json_object_get(found, "UserIdGroupPairs"), peer);
                }
        }
        return perms;
}

/* ---- boxes ---- */

int sg_boxes_add(struct sg_boxes *b, uint32_t xlo, uint32_t xhi, uint32_t ylo, uint32_t yhi)
{
        if (b->n == b->cap) {
                size_t ncap = b->cap ? b->cap * 2 : 16;
                struct sg_box *nv = realloc(b->v, ncap * sizeof *nv);
                if (!nv)
                        return -ENOMEM;
                b->v = nv;
                b->cap = ncap;
        }
        b->v[b->n++] = (struct sg_box) { xlo, xhi, ylo, yhi };
        return 0;
}

void sg_boxes_free(struct sg_boxes *b)
{
        free(b->v);
        *b = (struct sg_boxes) { 0 };
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int cmp_ylo(const void *a, const void *b)
{
        const struct sg_box *x = a, *y = b;
        return x->ylo < y->ylo ? -1 : x->ylo > y->ylo;
}

static int cmp_xlo(const void *a, const void *b)
{
        const struct sg_box *x = a, *y = b;
        return x->xlo < y->xlo ? -1 : x->xlo > y->xlo;
}

/* A sweep over the address axis: elementary intervals between consecutive box edges, the boxes
 * active over each, their second ranges merged. O(n log n + sum of active boxes per interval). */
int sg_boxes_disjoint(const struct sg_boxes *in, struct sg_boxes *out)
{
        _cleanup_free_ uint64_t *xs = NULL;
        _cleanup_free_ struct sg_box *sorted = NULL, *act = NULL, *ys = NULL;
        size_t nx = 0, ux = 0, next = 0, nact = 0, open_at = 0, open_n = 0;
        uint64_t open_end = 0;    /* x one past the open run; 0 = none */

        *out = (struct sg_boxes) { 0 };
        if (in->n == 0)
                return 0;
        xs = malloc(2 * in->n * sizeof *xs);
        sorted = malloc(in->n * sizeof *sorted);
        act = malloc(in->n * sizeof *act);
        ys = malloc(in->n * sizeof *ys);
        if (!xs || !sorted || !act || !ys)
                return -ENOMEM;
        memcpy(sorted, in->v, in->n * sizeof *sorted);
        qsort(sorted, in->n, sizeof *sorted, cmp_xlo);
        for (size_t i = 0; i < in->n; i++) {
                xs[nx++] = in->v[i].xlo;
                xs[nx++] = (uint64_t) in->v[i].xhi + 1;
        }
        qsort(xs, nx, sizeof *xs, cmp_u64);
        for (size_t i = 0; i < nx; i++)
                if (ux == 0 || xs[ux - 1] != xs[i])
                        xs[ux++] = xs[i];
        /* every [xs[s], xs[s+1]) is covered by a box entirely or not at all */
        for (size_t s = 0; s + 1 < ux; s++) {
                uint64_t lo = xs[s], hi = xs[s + 1] - 1;
                size_t ny = 0, nm = 0, keep = 0;
                bool same;
                for (size_t i = 0; i < nact; i++)
                        if ((uint64_t) act[i].xhi >= lo)
                                act[keep++] = act[i];
                nact = keep;
                while (next < in->n && (uint64_t) sorted[next].xlo <= lo)
                        act[nact++] = sorted[next++];
                if (nact == 0) {
                        open_end = 0;
                        continue;
                }
                memcpy(ys, act, nact * sizeof *ys);
                ny = nact;
                qsort(ys, ny, sizeof *ys, cmp_ylo);
                for (size_t i = 0; i < ny; i++) {
                        if (nm > 0 && (uint64_t) ys[i].ylo <= (uint64_t) ys[nm - 1].yhi + 1) {
                                if (ys[i].yhi > ys[nm - 1].yhi)
                                        ys[nm - 1].yhi = ys[i].yhi;
                        } else
                                ys[nm++] = ys[i];
                }
                same = open_end == lo && open_n == nm;
                for (size_t i = 0; same && i < nm; i++)
                        same = out->v[open_at + i].ylo == ys[i].ylo && out->v[open_at + i].yhi == ys[i].yhi;
                if (same) {
                        for (size_t i = 0; i < nm; i++)
                                out->v[open_at + i].xhi = (uint32_t) hi;
                } else {
                        open_at = out->n;
                        open_n = nm;
                        for (size_t i = 0; i < nm; i++)
                                if (sg_boxes_add(out, (uint32_t) lo, (uint32_t) hi, ys[i].ylo, ys[i].yhi) < 0) {
                                        sg_boxes_free(out);
                                        return -ENOMEM;
                                }
                }
                open_end = hi + 1;
        }
        return 0;
}

void sg_dir_elems_free(struct sg_dir_elems *e)
{
        sg_boxes_free(&e->tcp);
        sg_boxes_free(&e->udp);
        sg_boxes_free(&e->proto);
        sg_boxes_free(&e->icmp);
}

/* Add the boxes of one rule for the address range [lo, hi]. */
static int rule_boxes(json_t *rule, uint32_t lo, uint32_t hi, struct sg_dir_elems *raw)
{
        const char *proto = rec_str(rule, "IpProtocol");
        long long from = json_integer_value(json_object_get(rule, "FromPort"));
        long long to = json_integer_value(json_object_get(rule, "ToPort"));

        if (!strcmp(proto, "tcp"))
                return sg_boxes_add(&raw->tcp, lo, hi, (uint32_t) from, (uint32_t) to);
        if (!strcmp(proto, "udp"))
                return sg_boxes_add(&raw->udp, lo, hi, (uint32_t) from, (uint32_t) to);
        if (!strcmp(proto, "-1"))
                return sg_boxes_add(&raw->proto, lo, hi, 0, 255);
        if (!strcmp(proto, "icmp")) {
                if (from < 0)
                        return sg_boxes_add(&raw->proto, lo, hi, 1, 1);
                /* type << 8 | code: a whole type is one interval as well */
                if (to < 0)
                        return sg_boxes_add(&raw->icmp, lo, hi, (uint32_t) from << 8, (uint32_t) from << 8 | 0xff);
                return sg_boxes_add(&raw->icmp, lo, hi, (uint32_t) (from << 8 | to), (uint32_t) (from << 8 | to));
        }
        {
                unsigned p = (unsigned) atoi(proto);
                return sg_boxes_add(&raw->proto, lo, hi, p, p);
        }
}

static int dir_elems_disjoint(const struct sg_dir_elems *raw, struct sg_dir_elems *ret)
{
        struct sg_dir_elems out = { 0 };
        int r;

        if ((r = sg_boxes_disjoint(&raw->tcp, &out.tcp)) < 0 || (r = sg_boxes_disjoint(&raw->udp, &out.udp)) < 0 ||
            (r = sg_boxes_disjoint(&raw->proto, &out.proto)) < 0 || (r = sg_boxes_disjoint(&raw->icmp, &out.icmp)) < 0) {
                sg_dir_elems_free(&out);
                return r;
        }
        *ret = out;
        return 0;
}

int sg_dir_elems_build(json_t *rules, bool egress, struct sg_dir_elems *ret)
{
        struct sg_dir_elems raw = { 0 };
        json_t *rule;
        size_t i;
        int r = 0;

        json_array_foreach(rules, i, rule) {
                struct cidr4 c;
                if (json_is_true(json_object_get(rule, "Egress")) != egress || !rec_str(rule, "CidrIp"))
                        continue;
                if (cidr4_parse(rec_str(rule, "CidrIp"), &c) < 0)
                        continue;
                if ((r = rule_boxes(rule, c.addr, cidr4_last(&c), &raw)) < 0)
                        goto out;
        }
        r = dir_elems_disjoint(&raw, ret);
out:
        sg_dir_elems_free(&raw);
        return r;
}

/* ---- peer groups ---- */

void sg_peer_groups_free(struct sg_peer_groups *g)
{
        for (size_t i = 0; i < g->n; i++) {
                free(g->v[i].ips);
                for (int d = 0; d < 2; d++)
                        sg_dir_elems_free(&g->v[i].perm[d]);
        }
        free(g->v);
        *g = (struct sg_peer_groups) { 0 };
}

static int cmp_group(const void *a, const void *b)
{
        return strcmp(((const struct sg_peer_group *) a)->id, ((const struct sg_peer_group *) b)->id);
}

const struct sg_peer_group *sg_peer_groups_find(const struct sg_peer_groups *g, const char *id)
{
        struct sg_peer_group key;
        if (strlen(id) >= sizeof key.id)
                return NULL;
        snprintf(key.id, sizeof key.id, "%s", id);
        return g->n ? bsearch(&key, g->v, g->n, sizeof *g->v, cmp_group) : NULL;
}

static int cmp_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

/* The addresses of ips (JSON strings) sorted and unique; unparsable ones skipped. */
static int ips_of(json_t *ips, uint32_t **ret, size_t *ret_n)
{
        size_t n = 0, u = 0, i;
        uint32_t *v;
        json_t *ip;

        *ret = NULL;
        *ret_n = 0;
        if (json_array_size(ips) == 0)
                return 0;
        if (!(v = malloc(json_array_size(ips) * sizeof *v)))
                return -ENOMEM;
        json_array_foreach(ips, i, ip)
                if (ip4_parse(json_string_value(ip) ?: "", &v[n]) == 0)
                        n++;
        qsort(v, n, sizeof *v, cmp_u32);
        for (i = 0; i < n; i++)
                if (u == 0 || v[u - 1] != v[i])
                        v[u++] = v[i];
        *ret = v;
        *ret_n = u;
        return 0;
}

/* The entry of group id in g (appended, unsorted, when new); NULL when out of memory. */
static struct sg_peer_group *group_entry(struct sg_peer_groups *g, size_t *cap, const char *id)
{
        for (size_t i = 0; i < g->n; i++)
                if (!strcmp(g->v[i].id, id))
                        return &g->v[i];
        if (g->n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 4;
                struct sg_peer_group *nv = realloc(g->v, ncap * sizeof *nv);
                if (!nv)
                        return NULL;
                g->v = nv;
                *cap = ncap;
        }
        g->v[g->n] = (struct sg_peer_group) { 0 };
        snprintf(g->v[g->n].id, sizeof g->v[g->n].id, "%s", id);
        return &g->v[g->n++];
}

int sg_peer_groups_build(json_t *rules, json_t *members, struct sg_peer_groups *ret)
{
        struct sg_peer_groups g = { 0 };
        size_t cap = 0, i;
        json_t *rule;
        int r = 0;

        json_array_foreach(rules, i, rule) {
                const char *id = rec_str(rule, "GroupId");
                int d = json_is_true(json_object_get(rule, "Egress"));
                struct sg_peer_group *pg;
                if (!id || strlen(id) >= SG_GROUP_ID_MAX)
                        continue;
                if (!(pg = group_entry(&g, &cap, id))) {
                        r = -ENOMEM;
                        goto fail;
                }
                pg->used[d] = true;
                if (!strcmp(rec_str(rule, "IpProtocol") ?: "", "-1"))
                        pg->all[d] = true;
                else if ((r = rule_boxes(rule, 0, 0, &pg->perm[d])) < 0)
                        goto fail;
        }
        for (i = 0; i < g.n; i++) {
                struct sg_peer_group *pg = &g.v[i];
                for (int d = 0; d < 2; d++) {
                        struct sg_dir_elems merged = { 0 };
                        if (pg->all[d]) {     /* every protocol: the other permissions add nothing */
                                sg_dir_elems_free(&pg->perm[d]);
                                continue;
                        }
                        if ((r = dir_elems_disjoint(&pg->perm[d], &merged)) < 0)
                                goto fail;
                        sg_dir_elems_free(&pg->perm[d]);
                        pg->perm[d] = merged;
                }
                if ((r = ips_of(json_object_get(members, pg->id), &pg->ips, &pg->n_ips)) < 0)
                        goto fail;
        }
        if (g.n)
                qsort(g.v, g.n, sizeof *g.v, cmp_group);
        *ret = g;
        return 0;
fail:
        sg_peer_groups_free(&g);
        return r;
}
