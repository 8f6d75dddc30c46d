/* caps.c: a container's capability set (Docker's default minus NET_RAW, add/drop) and applying it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ecsbox/cleanup.h"
#include "monitor.h"
#include "spec.h"

uint64_t caps_default(void)
{
        /* Docker's default set without CAP_NET_RAW: with NET_RAW a task can forge frames that its own
         * security group and flow meters never see (DESIGN.md, "Security boundaries"). */
        static const int def[] = { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD,
                                   CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
                                   CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE };
        uint64_t set = 0;
        for (size_t i = 0; i < ELEMENTSOF(def); i++)
                set |= CAPS_BIT(def[i]);
        return set;
}

int caps_parse_name(const char *name, int *ret_cap)
{
        char buf[64];
        size_t n = 0;
        cap_value_t v;

        if (!name || !*name || strlen(name) > 40)
                return -EINVAL;
        if (strncasecmp(name, "cap_", 4) != 0)
                n = (size_t) snprintf(buf, sizeof buf, "cap_");
        for (const char *p = name; *p && n < sizeof buf - 1; p++)
                buf[n++] = (char) tolower((unsigned char) *p);
        buf[n] = '\0';
        if (cap_from_name(buf, &v) < 0 || v < 0 || v > 63)
                return -EINVAL;
        *ret_cap = v;
        return 0;
}

static bool is_all(const char *s)
{
        return strcasecmp(s, "ALL") == 0;
}

/* Capabilities no task may hold: NET_ADMIN would let it rewrite the security group and flow meters
 * netd keeps in its namespace; SYS_ADMIN would let it mount, setns and undo all the rest. */
static int refuse(int cap, struct err *err)
{
        if (cap == CAP_NET_ADMIN || cap == CAP_SYS_ADMIN)
                return err_set(err, EPERM, SPEC_ERR,
                               "linuxParameters.capabilities.add: %s is not allowed in ecsbox tasks",
                               cap == CAP_NET_ADMIN ? "NET_ADMIN" : "SYS_ADMIN");
        return 0;
}

int caps_compute(const char *const *add, size_t n_add, const char *const *drop, size_t n_drop, uint64_t *ret,
                 struct err *err)
{
        uint64_t set = caps_default(), add_set = 0, drop_set = 0;
        bool drop_all = false;
        int cap, r;

        for (size_t i = 0; i < n_add; i++) {
                if (is_all(add[i]))
                        return err_set(err, EPERM, SPEC_ERR,
                                       "linuxParameters.capabilities.add: ALL is not allowed in ecsbox tasks (it holds NET_ADMIN and SYS_ADMIN)");
                if (caps_parse_name(add[i], &cap) < 0)
                        return err_set(err, EINVAL, SPEC_ERR, "linuxParameters.capabilities.add: unknown capability '%s'",
                                       add[i]);
                if ((r = refuse(cap, err)) < 0)
                        return r;
                add_set |= CAPS_BIT(cap);
        }
        for (size_t i = 0; i < n_drop; i++) {
                if (is_all(drop[i])) {
                        drop_all = true;
                        continue;
                }
                if (caps_parse_name(drop[i], &cap) < 0)
                        return err_set(err, EINVAL, SPEC_ERR, "linuxParameters.capabilities.drop: unknown capability '%s'",
                                       drop[i]);
                drop_set |= CAPS_BIT(cap);
        }
        /* As Docker: drop ALL keeps only what is added; otherwise default + add - drop. */
        if (drop_all)
                set = add_set;
        else
                set = (set | add_set) & ~drop_set;
        *ret = set;
        return 0;
}

char *caps_format(uint64_t set, char *buf, size_t len)
{
        size_t n = 0;
        if (len == 0)
                return buf;
        buf[0] = '\0';
        for (int c = 0; c < 64; c++) {
                if (!(set & CAPS_BIT(c)))
                        continue;
                char *name = cap_to_name(c);
                const char *s = name ? name : "?";
                if (strncmp(s, "cap_", 4) == 0)
                        s += 4;
                n += (size_t) snprintf(buf + n, n < len ? len - n : 0, "%s", n ? "," : "");
                for (; *s && n + 1 < len; s++)
                        buf[n++] = (char) toupper((unsigned char) *s);
                if (n < len)
                        buf[n] = '\0';
                cap_free(name);
        }
        return buf;
}

/* Runs in the container's first process before exec (after setuid): the bounding set loses every
 * capability outside set, and, for root, permitted = effective = set. A non-root user ends with no
 * capabilities (as in Docker; no ambient set). Nothing is inheritable (CVE-2022-24769). */
int caps_drop_bounding(uint64_t set)
{
        int last = (int) cap_max_bits() - 1;
        for (int c = 0; c <= last; c++) {
                if (c < 64 && (set & CAPS_BIT(c)))
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return -errno;
        }
        return 0;
}

int caps_set_process(uint64_t set)
{
        cap_t caps = cap_init();
        cap_value_t v[64];
        int n = 0, r = 0;

        if (!caps)
                return -ENOMEM;
        for (int c = 0; c < 64; c++)
                if (set & CAPS_BIT(c))
                        v[n++] = c;
        if (getuid() == 0 && n > 0 &&
            (cap_set_flag(caps, CAP_PERMITTED, n, v, CAP_SET) < 0 || cap_set_flag(caps, CAP_EFFECTIVE, n, v, CAP_SET) < 0))
                r = -errno;
        if (r == 0 && cap_set_proc(caps) < 0)
                r = -errno;
        cap_free(caps);
        if (r == 0)
                (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        return r;
}
