/* ids.c: AWS-shaped ids from getrandom(2), MACs derived from ids, UUIDs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "ecsbox/ids.h"

int random_bytes(void *buf, size_t n)
{
        size_t done = 0;
        while (done < n) {
                ssize_t r = getrandom((char *) buf + done, n - done, 0);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) r;
        }
        return 0;
}

static void hex_encode(const uint8_t *in, size_t nibbles, char *out)
{
        static const char hx[] = "0123456789abcdef";
        for (size_t i = 0; i < nibbles; i++)
                out[i] = hx[(in[i / 2] >> ((i % 2) ? 0 : 4)) & 15];
        out[nibbles] = '\0';
}

int id_new(const char *prefix, char buf[ID_MAX])
{
        uint8_t rnd[9];
        char hex[19];
        int r = random_bytes(rnd, sizeof rnd);
        if (r < 0)
                return r;
        hex_encode(rnd, 17, hex);
        if ((size_t) snprintf(buf, ID_MAX, "%s-%s", prefix, hex) >= ID_MAX)
                return -ENAMETOOLONG;
        return 0;
}

bool id_valid(const char *prefix, const char *s)
{
        size_t pl, n;
        if (!s || !prefix)
                return false;
        pl = strlen(prefix);
        if (strncmp(s, prefix, pl) != 0 || s[pl] != '-')
                return false;
        s += pl + 1;
        n = strlen(s);
        if (n != 17 && n != 8)
                return false;
        for (; *s; s++)
                if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
                        return false;
        return true;
}

int uuid_new(char buf[UUID_STR_MAX])
{
        uint8_t b[16];
        int r = random_bytes(b, sizeof b);
        if (r < 0)
                return r;
        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40);
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80);
        snprintf(buf, UUID_STR_MAX,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}

int hex32_new(char buf[HEX32_STR_MAX])
{
        uint8_t b[16];
        int r = random_bytes(b, sizeof b);
        if (r < 0)
                return r;
        hex_encode(b, 32, buf);
        return 0;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

void mac_from_id(const char *id, uint8_t mac[6])
{
        /* Take the last 10 hex digits of the id (40 random bits); the first
         * octet is 0x02: locally administered, unicast. */
        const char *dash = strrchr(id, '-');
        const char *hx = dash ? dash + 1 : id;
        size_t n = strlen(hx);
        const char *p = n >= 10 ? hx + n - 10 : hx;
        uint8_t digits[10] = { 0 };
        for (size_t i = 0; i < 10 && p[i]; i++) {
                int v = hexval(p[i]);
                digits[i] = (uint8_t) (v < 0 ? 0 : v);
        }
        mac[0] = 0x02;
        for (int i = 0; i < 5; i++)
                mac[i + 1] = (uint8_t) (digits[2 * i] << 4 | digits[2 * i + 1]);
}

void mac_format(const uint8_t m[6], char buf[MAC_STR_MAX])
{
        snprintf(buf, MAC_STR_MAX, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int mac_parse(const char *s, uint8_t mac[6])
{
        if (!s || strlen(s) != 17)
                return -EINVAL;
        for (int i = 0; i < 6; i++) {
                int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
                if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
                        return -EINVAL;
                mac[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}
