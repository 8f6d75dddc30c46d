#!/usr/bin/python3
"""bench_image_start.py: a task's start from the image store (overlayfs root) against the old directory
image, and the disk cost of the tenth container of one image (issue 12's benchmark).

Two sandboxes (unshare) at once, each with its own netd and ecsboxd:
  new:  this build; busybox imported into ecsboxd's image store (busybox.tar), each container's root
        an overlay of the cached layer with an upper/work directory in its task directory
  base: the build of ECSBOX_BASE_BUILD (c500717, the commit before the image integration merge:
        ecsboxd --image-store DIR, the monitor bind-mounts DIR/busybox read-only as the root)
Both get the same awsvpc busybox httpd task (httpd_task_definition). N rounds, sequential; each round
starts one task in each sandbox, the order alternating. For each task, from inside its sandbox:
RunTask -> lastStatus RUNNING (DescribeTasks polled every 2 ms) and RunTask -> HTTP 200 from
http://TASK_IP/ (polled every 2 ms). Tasks stay running. Disk: `du -sx --apparent-size` of the
sandbox's STATE_DIR (and, for new, of the task's rootfs/NAME/upper and work) before and after the
tenth task, plus statvfs of the file system before/after.
Usage: ECSBOX_BASE_BUILD=DIR bench_image_start.py [N=30]; without ECSBOX_BASE_BUILD it says so and
exits 0 (make bench). The base build: `git worktree add /work/x-base c500717 && make -C /work/x-base
BUILD=build-base all`, then ECSBOX_BASE_BUILD=/work/x-base/build-base.
"""
import json
import os
import subprocess
import sys
import time

HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration")
sys.path.insert(0, HELPERS)
import sandbox  # noqa: E402
from sandbox import Ecsboxd, Netd, bench_sandbox, httpd_task_definition, pct  # noqa: E402

# Runs inside a sandbox: one RunTask over ecsboxd's Unix socket (root, no signature), then polls.
INNER = r'''
import http.client, json, sys, time
sys.path.insert(0, sys.argv[1])
from sandbox import UnixHTTPConnection, ecs_call
def call(op, **p):
    return ecs_call(UnixHTTPConnection("/run/ecsbox/ecsboxd.sock"), op, **p)
t0 = time.monotonic()
arn = call("RunTask", taskDefinition="web", count=1)["tasks"][0]["taskArn"]
running = ip = None
deadline = t0 + 60
while (running is None or ip is None) and time.monotonic() < deadline:
    t = call("DescribeTasks", tasks=[arn])["tasks"][0]
    if t["lastStatus"] == "STOPPED":
        sys.exit(f"task stopped: {t.get('stoppedReason')} {t.get('stopCode')}")
    if running is None and t["lastStatus"] == "RUNNING":
        running = time.monotonic() - t0
    for a in t.get("attachments", []):
        for d in a["details"]:
            if d["name"] == "privateIPv4Address":
                ip = d["value"]
    if running is None or ip is None:
        time.sleep(0.002)
ok = None
while ip and time.monotonic() < deadline:
    c = http.client.HTTPConnection(ip, 80, timeout=0.5)
    try:
        c.request("GET", "/")
        if c.getresponse().status == 200:
            ok = time.monotonic() - t0
            break
    except OSError:
        pass
    finally:
        c.close()
    time.sleep(0.002)
print(json.dumps({"arn": arn, "running": running, "http": ok}))
'''


def use_build(build):
    """Point sandbox.py's daemon paths at build (they are read when a daemon starts)."""
    sandbox.NETD = os.path.join(build, "ecsbox-netd")
    sandbox.ECSBOXD = os.path.join(build, "ecsboxd")
    sandbox.MONITOR = os.path.join(build, "ecsbox-monitor")
    sandbox.CLI = os.path.join(build, "ecsbox")


def start_side(sb, build, images):
    """netd + ecsboxd of build in sb, the httpd task registered; new reads the store, base the directory."""
    use_build(build)
    netd = Netd(sb, extra_args=["--log-level", "warning"])
    if images is None:
        d = Ecsboxd(sb, sb.images, extra_args=["--log-level", "warning"])
    else:
        d = Ecsboxd(sb, None, extra_args=["--image-store", images, "--log-level", "warning"])
    sg = netd.ok("DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
    netd.ok("AuthorizeSecurityGroupIngress", GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "100.64.0.0/10"}]}])
    d.call("RegisterTaskDefinition", **httpd_task_definition())
    return netd, d


def du(path):
    """Apparent size in bytes of path (one file system), 0 when it does not exist."""
    if not os.path.exists(path):
        return 0
    out = subprocess.run(["du", "-sx", "--apparent-size", "--block-size=1", path], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out else 0


def du_blocks(path):
    """Allocated size in bytes (du without --apparent-size)."""
    out = subprocess.run(["du", "-sx", "--block-size=1", path], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out else 0


def used_bytes(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def task_dirs(state):
    """Directories under STATE_DIR that hold a task's rootfs/NAME/upper (new layout)."""
    found = []
    for d, dirs, _ in os.walk(state):
        if os.path.basename(d) == "rootfs":
            found += [os.path.join(d, x) for x in dirs]
            dirs[:] = []
    return found


def run_one(sb):
    p = sb.run(["/usr/bin/python3", "-c", INNER, HELPERS], timeout=120)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    base_build = os.environ.get("ECSBOX_BASE_BUILD")
    if not base_build:
        print("bench_image_start.py: skipped, set ECSBOX_BASE_BUILD to a build of c500717 (see the docstring)")
        return
    new_build = sandbox.BUILD
    with bench_sandbox("ecsbox-bench-img-new-", images=True) as sbn, \
            bench_sandbox("ecsbox-bench-img-base-", images=True) as sbb:
        start_side(sbn, new_build, None)
        start_side(sbb, base_build, os.path.join(sbb.images))
        sides = {"new": sbn, "base": sbb}
        res = {"new": [], "base": []}
        disk = {}
        for i in range(n):
            order = ["new", "base"] if i % 2 == 0 else ["base", "new"]
            for name in order:
                sb = sides[name]
                if i == 9:
                    before = (du(sb.state), used_bytes(sb.state), set(task_dirs(sb.state)))
                    os.sync()
                    before = (du(sb.state), used_bytes(sb.state), before[2])
                r = run_one(sb)
                res[name].append(r)
                if i == 9:
                    time.sleep(0.5)  # the monitor's status writes settle
                    os.sync()
                    after = (du(sb.state), used_bytes(sb.state))
                    new_dirs = set(task_dirs(sb.state)) - before[2]
                    upper = sum(du(os.path.join(x, "upper")) + du(os.path.join(x, "work")) for x in new_dirs)
                    upper_blk = sum(du_blocks(os.path.join(x, "upper")) + du_blocks(os.path.join(x, "work"))
                                    for x in new_dirs if os.path.exists(os.path.join(x, "upper")))
                    disk[name] = dict(state=after[0] - before[0], statvfs=after[1] - before[1], upper=upper,
                                      upper_blocks=upper_blk, dirs=len(new_dirs), state_total=after[0])
            print(f"round {i + 1}: " + ", ".join(
                f"{k} RUNNING {res[k][-1]['running'] * 1e3:.1f} ms / HTTP 200 {res[k][-1]['http'] * 1e3:.1f} ms"
                for k in ("new", "base")), flush=True)

        def col(name, key):
            xs = [r[key] for r in res[name] if r[key] is not None]
            return xs, f"p50 {pct(xs, 50) * 1e3:.1f} ms, p90 {pct(xs, 90) * 1e3:.1f} ms"

        print(f"\n## task start, image store (overlay) vs directory image, {n} tasks each, sequential "
              f"({time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.1f})")
        print("| measure | new (store, overlayfs) | base c500717 (directory) | new/base p50 | new/base p90 |")
        print("|---|---|---|---|---|")
        for key, label in (("running", "RunTask -> RUNNING"), ("http", "RunTask -> HTTP 200")):
            xn, sn = col("new", key)
            xb, sbs = col("base", key)
            print(f"| {label} | {sn} | {sbs} | {pct(xn, 50) / pct(xb, 50):.2f}x | {pct(xn, 90) / pct(xb, 90):.2f}x |")
        print("\n## disk cost of the tenth task of one image (bytes)")
        print("| measure | new | base |")
        print("|---|---|---|")
        for key, label in (("upper", "its rootfs upper + work, du --apparent-size"),
                           ("upper_blocks", "its rootfs upper + work, du (allocated)"),
                           ("state", "STATE_DIR growth, du -sx --apparent-size"),
                           ("statvfs", "file system used growth, statvfs (noisy: shared disk)"),
                           ("state_total", "STATE_DIR after 10 tasks, du --apparent-size")):
            print(f"| {label} | {disk['new'][key]:,} | {disk['base'][key]:,} |")
        print(f"| rootfs directories the tenth task added | {disk['new']['dirs']} | {disk['base']['dirs']} |")


if __name__ == "__main__":
    main()
