/* flowlog_fmt.h: the AWS VPC flow log record format: fields, custom formats, set keys, tcp-flags, record lines. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecsbox/err.h"

enum fl_field {
        FL_VERSION, FL_ACCOUNT_ID, FL_INTERFACE_ID, FL_SRCADDR, FL_DSTADDR, FL_SRCPORT, FL_DSTPORT, FL_PROTOCOL,
        FL_PACKETS, FL_BYTES, FL_START, FL_END, FL_ACTION, FL_LOG_STATUS,
        FL_VPC_ID, FL_SUBNET_ID, FL_INSTANCE_ID, FL_TCP_FLAGS, FL_TYPE, FL_PKT_SRCADDR, FL_PKT_DSTADDR,
        FL_REGION, FL_AZ_ID, FL_SUBLOCATION_TYPE, FL_SUBLOCATION_ID,
        FL_PKT_SRC_AWS_SERVICE, FL_PKT_DST_AWS_SERVICE, FL_FLOW_DIRECTION, FL_TRAFFIC_PATH,
        FL_ECS_CLUSTER_ARN, FL_ECS_CLUSTER_NAME, FL_ECS_CONTAINER_INSTANCE_ARN, FL_ECS_CONTAINER_INSTANCE_ID,
        FL_ECS_CONTAINER_ID, FL_ECS_SECOND_CONTAINER_ID, FL_ECS_SERVICE_NAME, FL_ECS_TASK_DEFINITION_ARN,
        FL_ECS_TASK_ARN, FL_ECS_TASK_ID,
        FL_REJECT_REASON,
        FL_NFIELDS,
};

#define FL_FORMAT_MAX 64          /* fields in one format */
#define FL_DEFAULT_FORMAT                                                                                          \
        "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} "     \
        "${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

struct fl_format {
        size_t n;
        uint8_t f[FL_FORMAT_MAX];
        int version;              /* the highest version among the fields; 2 for the default format */
};

const char *fl_field_name(int f);
int fl_field_version(int f);
/* NULL or "" is the default format. Unknown names, stray text, empty: InvalidParameter. */
int fl_format_parse(const char *s, struct fl_format *ret, struct err *err);

/* A flow as the meter sets key it; addresses and ports in host order. */
struct fl_key {
        uint32_t saddr, daddr;
        uint16_t sport, dport;
        uint8_t proto;
};

/* 5-tuple key, 20 bytes: saddr 4, daddr 4, proto 1 + pad 3, sport 2 (network order) + pad 2, dport 2 + pad 2. */
int fl_key5_decode(const void *key, size_t len, struct fl_key *ret);
/* 3-tuple key, 12 bytes: saddr 4, daddr 4, proto 1 + pad 3; ports 0. */
int fl_key3_decode(const void *key, size_t len, struct fl_key *ret);
/* tflags key, 20 bytes: saddr 4, daddr 4, sport 2+2, dport 2+2, flags 1+3; proto 6. */
int fl_keyflags_decode(const void *key, size_t len, struct fl_key *ret, uint8_t *ret_flags);
/* Fold a raw TCP flags byte into an AWS tcp-flags value: FIN 1, SYN 2, RST 4, SYN-ACK 18. */
unsigned fl_tcp_fold(unsigned acc, uint8_t raw);

/* "arn:aws:ecs:r:a:task/cluster/0123" -> "0123" (text after the last '/'); NULL stays NULL. */
const char *fl_arn_tail(const char *arn);
/* AZ id from region and AZ label: ("us-east-1", "us-east-1b") -> "use1-az2". ecsbox maps letters in
 * order (a -> az1); AWS shuffles them per account. Writes "-" when the label does not fit. */
void fl_az_id(const char *region, const char *az, char *buf, size_t len);

/* What is the same for every record of one ENI. NULL strings print as "-". */
struct fl_ctx {
        const char *account, *eni, *vpc, *subnet, *instance, *region, *az_id;
        uint32_t vpc_net, vpc_mask;           /* for traffic-path: peer inside the VPC */
        const char *ecs[FL_ECS_TASK_ID - FL_ECS_CLUSTER_ARN + 1];   /* in enum order */
};

enum fl_status { FL_OK, FL_NODATA, FL_SKIPDATA };

struct fl_rec {
        struct fl_key k;
        bool egress, reject;
        uint64_t packets, bytes;
        int64_t start, end;
        int tcp_flags;                        /* -1: "-" */
        enum fl_status status;
};

/* One line with its '\n'. Returns its length, or -ENOSPC when it does not fit (buf is left NUL-terminated). */
int fl_record_format(const struct fl_format *f, const struct fl_ctx *c, const struct fl_rec *r, char *buf, size_t len);
/* The header: field names separated by spaces, '\n'. */
int fl_header_format(const struct fl_format *f, char *buf, size_t len);
