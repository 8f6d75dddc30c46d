/* metadata.c: the task metadata endpoint's address in a VPC (169.254.170.2:80, as on ECS): netd puts it on
 * lo of the VPC netns and hands ecsboxd a listening socket bound there (SCM_RIGHTS), so tasks reach
 * ecsboxd's metadata server through their default route and nothing else of ecsboxd is reachable. */
#include <errno.h>

#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "kernel/knet.h"
#include "metadata.h"
#include "netd.h"
#include "record.h"
#include "req.h"
#include "vpc.h"

int op_open_metadata_listener(struct netd *d, json_t *req, json_t **ret, struct err *err)
{
        static const char *const keys[] = { "Action", "VpcId", NULL };
        _cleanup_json_ json_t *vpc = NULL;
        const char *vpc_id = NULL, *netns;
        int fd = -1, r;
        if ((r = json_check_keys(req, keys, err)) < 0 ||
            (r = req_id(req, "VpcId", true, "vpc", "InvalidVpcID.Malformed", false, &vpc_id, err)) < 0 ||
            (r = vpc_load(d, vpc_id, &vpc, err)) < 0)
                return r;
        if (!(netns = rec_str(vpc, "ebxNetns")))
                return err_set(err, EIO, "InternalError", "vpc '%s': corrupt record (no namespace)", vpc_id);
        if ((r = knet_vpc_tcp_listen(d->knet, netns, METADATA_IP, METADATA_PORT, &fd, err)) < 0)
                return err_wrap(err, "OpenMetadataListener %s", vpc_id);
        log_info("op=OpenMetadataListener vpc=%s address=169.254.170.2:%d", vpc_id, METADATA_PORT);
        /* the connection writer sends ebxFd with the answer and closes it */
        *ret = json_pack("{s:s, s:s, s:i, s:i}", "VpcId", vpc_id, "Address", "169.254.170.2", "Port", METADATA_PORT, "ebxFd", fd);
        return 0;
}
