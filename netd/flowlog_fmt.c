/* flowlog_fmt.c: the AWS VPC flow log record format (flow-logs.md 1): fields, versions, keys, tcp-flags, lines. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/cidr.h"
#include "flowlog_fmt.h"

static const struct {
        const char *name;
        int version;
} FIELDS[FL_NFIELDS] = {
        [FL_VERSION] = { "version", 2 },
        [FL_ACCOUNT_ID] = { "account-id", 2 },
        [FL_INTERFACE_ID] = { "interface-id", 2 },
        [FL_SRCADDR] = { "srcaddr", 2 },
        [FL_DSTADDR] = { "dstaddr", 2 },
        [FL_SRCPORT] = { "srcport", 2 },
        [FL_DSTPORT] = { "dstport", 2 },
        [FL_PROTOCOL] = { "protocol", 2 },
        [FL_PACKETS] = { "packets", 2 },
        [FL_BYTES] = { "bytes", 2 },
        [FL_START] = { "start", 2 },
        [FL_END] = { "end", 2 },
        [FL_ACTION] = { "action", 2 },
        [FL_LOG_STATUS] = { "log-status", 2 },
        [FL_VPC_ID] = { "vpc-id", 3 },
        [FL_SUBNET_ID] = { "subnet-id", 3 },
        [FL_INSTANCE_ID] = { "instance-id", 3 },
        [FL_TCP_FLAGS] = { "tcp-flags", 3 },
        [FL_TYPE] = { "type", 3 },
        [FL_PKT_SRCADDR] = { "pkt-srcaddr", 3 },
        [FL_PKT_DSTADDR] = { "pkt-dstaddr", 3 },
        [FL_REGION] = { "region", 4 },
        [FL_AZ_ID] = { "az-id", 4 },
        [FL_SUBLOCATION_TYPE] = { "sublocation-type", 4 },
        [FL_SUBLOCATION_ID] = { "sublocation-id", 4 },
        [FL_PKT_SRC_AWS_SERVICE] = { "pkt-src-aws-service", 5 },
        [FL_PKT_DST_AWS_SERVICE] = { "pkt-dst-aws-service", 5 },
        [FL_FLOW_DIRECTION] = { "flow-direction", 5 },
        [FL_TRAFFIC_PATH] = { "traffic-path", 5 },
        [FL_ECS_CLUSTER_ARN] = { "ecs-cluster-arn", 7 },
        [FL_ECS_CLUSTER_NAME] = { "ecs-cluster-name", 7 },
        [FL_ECS_CONTAINER_INSTANCE_ARN] = { "ecs-container-instance-arn", 7 },
        [FL_ECS_CONTAINER_INSTANCE_ID] = { "ecs-container-instance-id", 7 },
        [FL_ECS_CONTAINER_ID] = { "ecs-container-id", 7 },
        [FL_ECS_SECOND_CONTAINER_ID] = { "ecs-second-container-id", 7 },
        [FL_ECS_SERVICE_NAME] = { "ecs-service-name", 7 },
        [FL_ECS_TASK_DEFINITION_ARN] = { "ecs-task-definition-arn", 7 },
        [FL_ECS_TASK_ARN] = { "ecs-task-arn", 7 },
        [FL_ECS_TASK_ID] = { "ecs-task-id", 7 },
        [FL_REJECT_REASON] = { "reject-reason", 8 },
};

const char *fl_field_name(int f)
{
        return f >= 0 && f < FL_NFIELDS ? FIELDS[f].name : NULL;
}

int fl_field_version(int f)
{
        return f >= 0 && f < FL_NFIELDS ? FIELDS[f].version : -1;
}

int fl_format_parse(const char *s, struct fl_format *ret, struct err *err)
{
        struct fl_format f = { .version = 2 };
        const char *p;

        if (!s || !*s)
                s = FL_DEFAULT_FORMAT;
        p = s;
        for (;;) {
                const char *close;
                size_t len;
                int found = -1;
                if (strncmp(p, "${", 2) != 0)
                        return err_set(err, EINVAL, "InvalidParameter",
                                       "Invalid LogFormat '%s': expected '${field}' at offset %zu", s, (size_t) (p - s));
                close = strchr(p + 2, '}');
                if (!close)
                        return err_set(err, EINVAL, "InvalidParameter", "Invalid LogFormat '%s': unterminated '${'", s);
                len = (size_t) (close - p - 2);
                for (int i = 0; i < FL_NFIELDS; i++)
                        if (strlen(FIELDS[i].name) == len && strncmp(FIELDS[i].name, p + 2, len) == 0)
                                found = i;
                if (found < 0)
                        return err_set(err, EINVAL, "InvalidParameter", "Invalid LogFormat: unknown field '%.*s'",
                                       (int) len, p + 2);
                if (f.n == FL_FORMAT_MAX)
                        return err_set(err, EINVAL, "InvalidParameter", "Invalid LogFormat: more than %d fields",
                                       FL_FORMAT_MAX);
                f.f[f.n++] = (uint8_t) found;
                if (FIELDS[found].version > f.version)
                        f.version = FIELDS[found].version;
                p = close + 1;
                if (*p == '\0')
                        break;
                if (*p != ' ' || p[1] == '\0')
                        return err_set(err, EINVAL, "InvalidParameter",
                                       "Invalid LogFormat '%s': fields must be separated by single spaces", s);
                p++;
        }
        *ret = f;
        return 0;
}

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
        return (uint16_t) (p[0] << 8 | p[1]);
}

int fl_key5_decode(const void *key, size_t len, struct fl_key *ret)
{
        const uint8_t *k = key;
        if (len != 20)
                return -EBADMSG;
        ret->saddr = be32(k);
        ret->daddr = be32(k + 4);
        ret->proto = k[8];
        ret->sport = be16(k + 12);
        ret->dport = be16(k + 16);
        return 0;
}

int fl_key3_decode(const void *key, size_t len, struct fl_key *ret)
{
        const uint8_t *k = key;
        if (len != 12)
                return -EBADMSG;
        ret->saddr = be32(k);
        ret->daddr = be32(k + 4);
        ret->proto = k[8];
        ret->sport = ret->dport = 0;
        return 0;
}

int fl_keyflags_decode(const void *key, size_t len, struct fl_key *ret, uint8_t *ret_flags)
{
        const uint8_t *k = key;
        if (len != 20)
                return -EBADMSG;
        ret->saddr = be32(k);
        ret->daddr = be32(k + 4);
        ret->sport = be16(k + 8);
        ret->dport = be16(k + 12);
        ret->proto = 6;
        *ret_flags = k[16];
        return 0;
}

unsigned fl_tcp_fold(unsigned acc, uint8_t raw)
{
        /* ACK counts only inside SYN-ACK; ACK, PSH, URG, ECE, CWR alone give nothing (flow-logs.md 1.5). */
        acc |= raw & 0x07u;
        if ((raw & 0x12u) == 0x12u)
                acc |= 0x12u;
        return acc;
}

const char *fl_arn_tail(const char *arn)
{
        const char *s;
        if (!arn)
                return NULL;
        s = strrchr(arn, '/');
        return s && s[1] ? s + 1 : NULL;
}

void fl_az_id(const char *region, const char *az, char *buf, size_t len)
{
        static const struct {
                const char *word, *abbr;
        } dirs[] = { { "northeast", "ne" }, { "northwest", "nw" }, { "southeast", "se" }, { "southwest", "sw" },
                     { "north", "n" },      { "south", "s" },      { "east", "e" },       { "west", "w" },
                     { "central", "c" } };
        char out[32] = "", part[32];
        size_t rl;
        const char *p = region;

        if (!region || !az || (rl = strlen(region)) == 0 || strncmp(az, region, rl) != 0 || strlen(az) != rl + 1 ||
            !islower((unsigned char) az[rl])) {
                snprintf(buf, len, "-");
                return;
        }
        /* "us-east-1" -> "us" + "e" + "1" */
        for (int i = 0; *p; i++) {
                size_t n = strcspn(p, "-");
                const char *abbr = NULL;
                snprintf(part, sizeof part, "%.*s", (int) n, p);
                if (i > 0 && !isdigit((unsigned char) part[0]))
                        for (size_t j = 0; j < sizeof dirs / sizeof dirs[0]; j++)
                                if (strcmp(part, dirs[j].word) == 0)
                                        abbr = dirs[j].abbr;
                size_t o = strlen(out);
                snprintf(out + o, sizeof out - o, "%s", abbr ? abbr : part);
                p += n;
                if (*p == '-')
                        p++;
        }
        snprintf(buf, len, "%s-az%d", out, az[rl] - 'a' + 1);
}

struct out {
        char *buf;
        size_t len, at;
        bool full;
};

static void put(struct out *o, const char *s)
{
        size_t n = strlen(s);
        if (o->at + n + 1 >= o->len) {
                o->full = true;
                return;
        }
        memcpy(o->buf + o->at, s, n);
        o->at += n;
        o->buf[o->at] = '\0';
}

static void put_u64(struct out *o, uint64_t v)
{
        char t[24];
        snprintf(t, sizeof t, "%" PRIu64, v);
        put(o, t);
}

static void put_ip(struct out *o, uint32_t ip)
{
        char t[IP4_STR_MAX];
        ip4_format(ip, t);
        put(o, t);
}

static const char *dash(const char *s)
{
        return s && *s ? s : "-";
}

/* Fields that describe a flow: "-" on NODATA and SKIPDATA records. */
static bool flow_field(int f)
{
        switch (f) {
        case FL_SRCADDR: case FL_DSTADDR: case FL_SRCPORT: case FL_DSTPORT: case FL_PROTOCOL: case FL_PACKETS:
        case FL_BYTES: case FL_ACTION: case FL_TCP_FLAGS: case FL_TYPE: case FL_PKT_SRCADDR: case FL_PKT_DSTADDR:
        case FL_FLOW_DIRECTION: case FL_TRAFFIC_PATH:
                return true;
        default:
                return false;
        }
}

static void put_field(struct out *o, const struct fl_format *fmt, const struct fl_ctx *c, const struct fl_rec *r, int f)
{
        static const char *const status[] = { "OK", "NODATA", "SKIPDATA" };
        if (r->status != FL_OK && flow_field(f)) {
                put(o, "-");
                return;
        }
        switch (f) {
        case FL_VERSION: put_u64(o, (uint64_t) fmt->version); break;
        case FL_ACCOUNT_ID: put(o, dash(c->account)); break;
        case FL_INTERFACE_ID: put(o, dash(c->eni)); break;
        case FL_SRCADDR: case FL_PKT_SRCADDR: put_ip(o, r->k.saddr); break;
        case FL_DSTADDR: case FL_PKT_DSTADDR: put_ip(o, r->k.daddr); break;
        case FL_SRCPORT: put_u64(o, r->k.sport); break;
        case FL_DSTPORT: put_u64(o, r->k.dport); break;
        case FL_PROTOCOL: put_u64(o, r->k.proto); break;
        case FL_PACKETS: put_u64(o, r->packets); break;
        case FL_BYTES: put_u64(o, r->bytes); break;
        case FL_START: put_u64(o, (uint64_t) r->start); break;
        case FL_END: put_u64(o, (uint64_t) r->end); break;
        case FL_ACTION: put(o, r->reject ? "REJECT" : "ACCEPT"); break;
        case FL_LOG_STATUS: put(o, status[r->status]); break;
        case FL_VPC_ID: put(o, dash(c->vpc)); break;
        case FL_SUBNET_ID: put(o, dash(c->subnet)); break;
        case FL_INSTANCE_ID: put(o, dash(c->instance)); break;
        case FL_TCP_FLAGS:
                if (r->k.proto == 6 && r->tcp_flags >= 0)
                        put_u64(o, (uint64_t) r->tcp_flags);
                else
                        put(o, "-");
                break;
        case FL_TYPE: put(o, "IPv4"); break;
        case FL_REGION: put(o, dash(c->region)); break;
        case FL_AZ_ID: put(o, dash(c->az_id)); break;
        case FL_FLOW_DIRECTION: put(o, r->egress ? "egress" : "ingress"); break;
        case FL_TRAFFIC_PATH:
                /* egress only: 1 when the peer is inside the VPC; ecsbox has no gateways to name */
                if (r->egress && c->vpc_mask && (r->k.daddr & c->vpc_mask) == c->vpc_net)
                        put(o, "1");
                else
                        put(o, "-");
                break;
        case FL_SUBLOCATION_TYPE: case FL_SUBLOCATION_ID: case FL_PKT_SRC_AWS_SERVICE: case FL_PKT_DST_AWS_SERVICE:
        case FL_REJECT_REASON:
                put(o, "-");
                break;
        default:
                if (f >= FL_ECS_CLUSTER_ARN && f <= FL_ECS_TASK_ID)
                        put(o, dash(c->ecs[f - FL_ECS_CLUSTER_ARN]));
                else
                        put(o, "-");
        }
}

int fl_record_format(const struct fl_format *f, const struct fl_ctx *c, const struct fl_rec *r, char *buf, size_t len)
{
        struct out o = { buf, len, 0, false };
        if (len)
                buf[0] = '\0';
        for (size_t i = 0; i < f->n; i++) {
                if (i)
                        put(&o, " ");
                put_field(&o, f, c, r, f->f[i]);
        }
        put(&o, "\n");
        return o.full ? -ENOSPC : (int) o.at;
}

int fl_header_format(const struct fl_format *f, char *buf, size_t len)
{
        struct out o = { buf, len, 0, false };
        if (len)
                buf[0] = '\0';
        for (size_t i = 0; i < f->n; i++) {
                if (i)
                        put(&o, " ");
                put(&o, FIELDS[f->f[i]].name);
        }
        put(&o, "\n");
        return o.full ? -ENOSPC : (int) o.at;
}
