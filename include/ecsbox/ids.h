/* ids.h: AWS-shaped identifiers (vpc-, subnet-, eni-, ...), MACs and UUIDs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define ID_MAX 48
#define MAC_STR_MAX 18
#define UUID_STR_MAX 37
#define HEX32_STR_MAX 33

/* prefix + "-" + 17 lowercase hex, e.g. id_new("eni", buf). Returns 0 or -errno. */
int id_new(const char *prefix, char buf[ID_MAX]);
/* Valid when it is prefix-<17 hex> or the legacy prefix-<8 hex>. */
bool id_valid(const char *prefix, const char *s);

/* Random bytes from getrandom(2). */
int random_bytes(void *buf, size_t n);
int uuid_new(char buf[UUID_STR_MAX]);
int hex32_new(char buf[HEX32_STR_MAX]);   /* 32 lowercase hex: task and instance ids */

/* A locally administered unicast MAC derived from an id's hex digits:
 * 02:xx:xx:xx:xx:xx, stable for the id. */
void mac_from_id(const char *id, uint8_t mac[6]);
void mac_format(const uint8_t mac[6], char buf[MAC_STR_MAX]);
int mac_parse(const char *s, uint8_t mac[6]);
