#!/usr/bin/python3
"""bench_ecsboxd.py: RunTask to a task reachable on :80, DescribeTasks latency, memory per task.

Runs inside a private sandbox (unshare) with netd and ecsboxd, side by side in one run:
  ecsboxd:  RunTask (count 10 per call, bursts) of an awsvpc busybox httpd task; the clock stops
            when a TCP connect to the task's IP:80 succeeds (from the sandbox's host namespace)
  baseline: the same task by hand with `ip` and `ip netns exec busybox httpd`: netns, veth on a
            bridge, address, route, httpd; the clock stops at the first successful connect
Then DescribeTasks of 100 tasks with N tasks running, and memory: ecsboxd's RSS growth per task
and each monitor's PSS. Usage: bench_ecsboxd.py [REACH_TASKS=200] [TOTAL_TASKS=1000].
"""
import json
import os
import statistics
import sys
import time

HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration")
sys.path.insert(0, HELPERS)
from sandbox import Ecsboxd, Netd, bench_sandbox, httpd_task_definition, pct, pss_kb, rss_kb  # noqa: E402

# Runs inside the sandbox: drives the API over 127.0.0.1:5080 and probes tasks with connect().
INNER = r'''
import json, socket, sys, time, http.client, subprocess
mode, n = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, sys.argv[3])
from sandbox import EcsError, ecs_call, sigv4_signer
signer = sigv4_signer(sys.argv[4])   # signed as every SDK signs: the verification is part of the cost

def call(op, **p):
    try:
        return ecs_call(http.client.HTTPConnection("127.0.0.1", 5080, timeout=60), op, signer=signer, **p)
    except EcsError as e:
        sys.exit(f"{op}: {e}")

def reachable(ip, deadline):
    while time.monotonic() < deadline:
        s = socket.socket(); s.settimeout(0.2)
        try:
            s.connect((ip, 80)); return time.monotonic()
        except OSError:
            time.sleep(0.001)
        finally:
            s.close()
    return None

out = []
if mode in ("ecsboxd", "single"):
    per = 10 if mode == "ecsboxd" else 1
    for burst in range(n // per):
        t0 = time.monotonic()
        tasks = call("RunTask", taskDefinition="web", count=per)["tasks"]
        arns = [t["taskArn"] for t in tasks]
        ips = {}
        deadline = t0 + 60
        while len(ips) < len(arns) and time.monotonic() < deadline:
            for t in call("DescribeTasks", tasks=arns)["tasks"]:
                for a in t["attachments"]:
                    for d in a["details"]:
                        if d["name"] == "privateIPv4Address":
                            ips[t["taskArn"]] = d["value"]
            if len(ips) < len(arns):
                time.sleep(0.001)
        for arn in arns:
            t = reachable(ips[arn], deadline)
            out.append(t - t0 if t else None)
elif mode == "baseline":
    subprocess.run("ip netns add bl-vpc && ip -n bl-vpc link add br0 type bridge && "
                   "ip -n bl-vpc addr add 10.9.0.1/16 dev br0 && ip -n bl-vpc link set br0 up && "
                   "ip link add blu type veth peer name blu netns bl-vpc && ip addr add 100.127.0.1/30 dev blu && "
                   "ip link set blu up && ip -n bl-vpc addr add 100.127.0.2/30 dev blu && ip -n bl-vpc link set blu up && "
                   "ip -n bl-vpc route add default via 100.127.0.1 && ip route add 10.9.0.0/16 via 100.127.0.2 && "
                   "ip netns exec bl-vpc sysctl -qw net.ipv4.ip_forward=1", shell=True, check=True)
    for i in range(n):
        ns, ip = f"bl{i}", f"10.9.{1 + i // 250}.{1 + i % 250}"
        t0 = time.monotonic()
        subprocess.run(f"ip netns add {ns} && ip -n bl-vpc link add blv{i} type veth peer name eth0 netns {ns} && "
                       f"ip -n bl-vpc link set blv{i} master br0 up && ip -n {ns} addr add {ip}/16 dev eth0 && "
                       f"ip -n {ns} link set eth0 up && ip -n {ns} link set lo up && "
                       f"ip -n {ns} route add default via 10.9.0.1 && "
                       f"ip netns exec {ns} busybox httpd -p 80 -h /tmp", shell=True, check=True)
        t = reachable(ip, t0 + 60)
        out.append(t - t0 if t else None)
elif mode == "describe":
    arns = call("ListTasks", desiredStatus="RUNNING", maxResults=100)["taskArns"]
    for _ in range(n):
        t0 = time.monotonic()
        call("DescribeTasks", tasks=arns)
        out.append(time.monotonic() - t0)
print(json.dumps(out))
'''


def ms(x):
    return f"{x * 1e3:.1f} ms"


def inner(sb, d, mode, n):
    p = sb.run(["/usr/bin/python3", "-c", INNER, mode, str(n), HELPERS, d.credentials], timeout=3600)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    reach_n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with bench_sandbox(images=True) as sb:
        netd = Netd(sb)
        d = Ecsboxd(sb, sb.images, extra_args=["--log-level", "warning"])
        sg = netd.ok("DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
        netd.ok("AuthorizeSecurityGroupIngress", GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "100.64.0.0/10"}]}])
        d.call("RegisterTaskDefinition", **httpd_task_definition())
        rss0 = rss_kb(d.pid())
        reach = inner(sb, d, "ecsboxd", reach_n)
        single = inner(sb, d, "single", 50)
        base = inner(sb, d, "baseline", reach_n)
        bad = sum(1 for x in reach if x is None)
        reach = [x for x in reach if x is not None]
        base = [x for x in base if x is not None]
        print(f"RunTask -> reachable on :80, {len(reach)} awsvpc tasks in bursts of 10 (unreachable: {bad}):")
        print(f"  ecsboxd  p50 {ms(pct(reach, 50))}  p99 {ms(pct(reach, 99))}  mean {ms(statistics.mean(reach))}")
        single = [x for x in single if x is not None]
        print(f"  ecsboxd, one task per RunTask, 50 in a row: p50 {ms(pct(single, 50))}  p99 {ms(pct(single, 99))}")
        print(f"  ip+httpd p50 {ms(pct(base, 50))}  p99 {ms(pct(base, 99))}  (one task at a time, by hand)")
        print(f"  ratio (one at a time) ecsboxd/ip p50 {pct(single, 50) / pct(base, 50):.2f}x")
        # fill up to TOTAL tasks, then DescribeTasks of 100
        left = total - reach_n - 50
        t0 = time.monotonic()
        while left > 0:
            r = d.call("RunTask", taskDefinition="web", count=min(10, left))
            left -= len(r["tasks"])
        deadline = time.monotonic() + 600
        while d.count_running() < total and time.monotonic() < deadline:
            time.sleep(1)
        fill = time.monotonic() - t0
        desc = inner(sb, d, "describe", 200)
        print(f"DescribeTasks of 100 tasks with {total} running: p50 {ms(pct(desc, 50))}  p99 {ms(pct(desc, 99))}")
        print(f"  ({total - reach_n - 50} more tasks started in {fill:.1f} s)")
        rss1 = rss_kb(d.pid())
        mons = sb.monitor_pids()
        pss = [pss_kb(p) for p in mons]
        rss = [rss_kb(p) for p in mons]
        print(f"memory with {total} tasks: ecsboxd RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB "
              f"({(rss1 - rss0) / total:.1f} KiB per task); {len(mons)} monitors, each RSS p50 {pct(rss, 50)} KiB, "
              f"PSS p50 {pct(pss, 50)} KiB")
        print(f"  per-task overhead outside the task's own processes: {((rss1 - rss0) / total + pct(pss, 50)):.0f} KiB "
              f"(ecsboxd growth + one monitor's PSS)")


if __name__ == "__main__":
    main()
