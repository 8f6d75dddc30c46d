#!/usr/bin/python3
"""bench_netd.py: time to give a task namespace a ready ENI through netd, against one `ip` command per step.

Runs inside a private sandbox (unshare), side by side in one run:
  netd:  CreateTaskNetwork (netns, veth, MAC, IP, routes, lo) for N ENIs, then DeleteTaskNetwork for each
  ip:    the same steps with one `ip` process per step, on a plain bridge in its own namespace
Reports p50/p99 for the first 200 and the last 200 of N (the state at N live ENIs), teardown
times, and netd's RSS with N ENIs. Usage: bench_netd.py [N] (default 1000).
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sandbox import Netd, bench_sandbox, fmt_ms, pct, rss_kb  # noqa: E402


def ip_setup(sb, i, mac, ip, script):
    """One `ip` command per step, as a shell script run inside the sandbox; times each task."""
    ns = f"b{i}"
    host = f"bv{i}"
    return [
        f"ip netns add {ns}",
        f"ip -n basevpc link add {host} type veth peer name eth0 netns {ns}",
        f"ip -n basevpc link set {host} master br0 up",
        f"ip -n {ns} link set eth0 address {mac}",
        f"ip -n {ns} addr add {ip}/21 dev eth0",
        f"ip -n {ns} link set eth0 up",
        f"ip -n {ns} link set lo up",
        f"ip -n {ns} route add default via 10.0.0.1",
    ]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with bench_sandbox() as sb:
        tmp = sb.tmp
        netd = Netd(sb, extra_args=["--no-default-vpc", "--log-level", "warning"])
        vpc, sub = netd.vpc_and_subnet("10.0.0.0/16", "10.0.0.0/21")
        call = netd.session().call

        setup, enis = [], []
        for i in range(n):
            t0 = time.perf_counter()
            e = call("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns=f"t{i}")["NetworkInterface"]
            setup.append(time.perf_counter() - t0)
            enis.append(e)
        rss = rss_kb(netd.pid())

        # baseline: the same steps with `ip`, one process per step, timed inside the sandbox
        script = ["set -e", "ip netns add basevpc", "ip -n basevpc link add br0 type bridge",
                  "ip -n basevpc addr add 10.0.0.1/21 dev br0", "ip -n basevpc link set br0 up"]
        for i in range(n):
            steps = ip_setup(sb, i, f"02:00:00:00:{i >> 8:02x}:{i & 255:02x}", f"10.0.{(i + 4) >> 8}.{(i + 4) & 255}", script)
            script.append("t0=$(date +%s%N)")
            script += steps
            script.append('echo $(( $(date +%s%N) - t0 ))')
        path = os.path.join(tmp, "baseline.sh")
        open(path, "w").write("\n".join(script) + "\n")
        out = sb.run(["sh", path], timeout=1800).stdout.split()
        base = [int(x) / 1e9 for x in out]

        teardown = []
        for e in enis:
            t0 = time.perf_counter()
            call("DeleteTaskNetwork", NetworkInterfaceId=e["NetworkInterfaceId"])
            teardown.append(time.perf_counter() - t0)
        script = ["for i in $(seq 0 %d); do t0=$(date +%%s%%N); ip netns del b$i; echo $(( $(date +%%s%%N) - t0 )); done" % (n - 1)]
        base_del = [int(x) / 1e9 for x in sb.run(["sh", "-c", script[0]], timeout=600).stdout.split()]

        first = min(200, n)
        rows = [
            ("set-up, first 200", fmt_ms(setup[:first]), fmt_ms(base[:first]), pct(base[:first], 50) / pct(setup[:first], 50)),
            (f"set-up, last 200 (at {n})", fmt_ms(setup[-first:]), fmt_ms(base[-first:]), pct(base[-first:], 50) / pct(setup[-first:], 50)),
            ("teardown", fmt_ms(teardown), fmt_ms(base_del), pct(base_del, 50) / pct(teardown, 50)),
        ]
        print(f"## netd ENI set-up, {n} ENIs (this run, {time.strftime('%Y-%m-%d %H:%M')})")
        print("| what | netd | `ip` per step | ip/netd (p50) |")
        print("|---|---|---|---|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f}x |")
        print(f"| netd RSS with {n} ENIs | {rss / 1024:.1f} MB | | |")
        ok = pct(setup[-first:], 50) <= 0.002 and pct(setup[-first:], 99) <= 0.005 and rss <= 50 * 1024
        print(f"\ntargets (p50 <= 2 ms, p99 <= 5 ms at {n}, RSS <= 50 MB): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
