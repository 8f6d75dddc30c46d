#!/usr/bin/python3
"""bench_netd_bridge.py: bridge-mode task networks through netd against the same steps with `ip` and `nft`.

Runs inside a private sandbox (unshare), side by side in one run:
  netd:  CreateTaskNetwork NetworkMode=bridge (netns, sysctls, veth on the instance's ecsbox0, MAC, IP, lo,
         default route, announcement, one DNAT map element per port mapping, SQLite intent + commit) for N tasks
         on one instance, each with one dynamic tcp mapping; then DeleteTaskNetwork for each
  ip+nft: the same kernel steps with one `ip` process per step and one `nft add element`, on a bridge and an
         equivalent ecsbox_nat-style table in a namespace of their own (no sysctls, no bookkeeping)
Reports p50/p99 for the first 200 and the last 200 of N, teardown, and that the map holds N elements
behind a fixed number of rules. Usage: bench_netd_bridge.py [N] [--netd-only] (default 1000; --netd-only
skips the baseline and teardown and prints netd's set-up figures alone, for quick A/B runs of netd builds).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sandbox import Netd, bench_sandbox, fmt_ms, pct, rss_kb  # noqa: E402

BASE_TABLE = """table ip base_nat {
  map tcp_ports { type inet_service : ipv4_addr . inet_service; }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local dnat ip to tcp dport map @tcp_ports
  }
  chain output { type nat hook output priority -100; policy accept;
    fib daddr type local dnat ip to tcp dport map @tcp_ports
  }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    oifname "br0" ip saddr 172.17.0.0/16 ct status dnat masquerade
    oifname "eth0" ip saddr 172.17.0.0/16 masquerade
  }
}
"""


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    netd_only = "--netd-only" in sys.argv
    n = int(args[0]) if args else 1000
    with bench_sandbox() as sb:
        tmp = sb.tmp
        netd = Netd(sb, extra_args=["--no-default-vpc", "--log-level", "warning"])
        vpc, sub = netd.vpc_and_subnet("10.0.0.0/16", "10.0.0.0/24")
        netd.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns="inst")
        call = netd.session().call

        setup = []
        for i in range(n):
            t0 = time.perf_counter()
            call("CreateTaskNetwork", NetworkMode="bridge", Netns=f"t{i}", InstanceNetns="inst",
                 PortMappings=[{"ContainerPort": 80}])
            setup.append(time.perf_counter() - t0)
        ruleset = sb.run(["ip", "netns", "exec", "inst", "nft", "-j", "list", "ruleset"]).stdout
        objs = json.loads(ruleset)["nftables"]
        rules = sum(1 for o in objs if "rule" in o)
        elems = sum(len(o["map"].get("elem", [])) for o in objs if "map" in o)
        rss = rss_kb(netd.netd_pid())
        if netd_only:
            first = min(200, n)
            print(f"netd only, {n} tasks: first {first}: {fmt_ms(setup[:first])}; last {first}: {fmt_ms(setup[-first:])}; "
                  f"{rules} rules, {elems} elements, RSS {rss / 1024:.1f} MB")
            return

        # baseline: one process per step, timed inside the sandbox
        open(os.path.join(tmp, "base.nft"), "w").write(BASE_TABLE)
        script = ["set -e", "ip netns add baseinst", "ip -n baseinst link add br0 type bridge",
                  "ip -n baseinst addr add 172.17.0.1/16 dev br0", "ip -n baseinst link set br0 up",
                  f"ip netns exec baseinst nft -f {tmp}/base.nft"]
        for i in range(n):
            ip = f"172.17.{(i + 2) >> 8}.{(i + 2) & 255}"
            mac = f"02:42:ac:11:{(i + 2) >> 8:02x}:{(i + 2) & 255:02x}"
            ns, host = f"b{i}", f"bk{i}"
            script += [
                "t0=$(date +%s%N)",
                f"ip netns add {ns}",
                f"ip -n baseinst link add {host} type veth peer name eth0 netns {ns}",
                f"ip -n baseinst link set {host} master br0 up",
                f"ip -n {ns} link set eth0 address {mac}",
                f"ip -n {ns} addr add {ip}/16 dev eth0",
                f"ip -n {ns} link set eth0 up",
                f"ip -n {ns} link set lo up",
                f"ip -n {ns} route add default via 172.17.0.1",
                f"ip netns exec baseinst nft add element ip base_nat tcp_ports '{{ {49153 + i} : {ip} . 80 }}'",
                'echo $(( $(date +%s%N) - t0 ))',
            ]
        path = os.path.join(tmp, "baseline.sh")
        open(path, "w").write("\n".join(script) + "\n")
        base = [int(x) / 1e9 for x in sb.run(["sh", path], timeout=3600).stdout.split()]

        teardown = []
        for i in range(n):
            t0 = time.perf_counter()
            call("DeleteTaskNetwork", Netns=f"t{i}")
            teardown.append(time.perf_counter() - t0)
        script = ("for i in $(seq 0 %d); do t0=$(date +%%s%%N); "
                  "ip netns exec baseinst nft delete element ip base_nat tcp_ports \"{ $((49153 + i)) }\"; "
                  "ip netns del b$i; echo $(( $(date +%%s%%N) - t0 )); done" % (n - 1))
        base_del = [int(x) / 1e9 for x in sb.run(["sh", "-c", script], timeout=3600).stdout.split()]

        first = min(200, n)
        rows = [
            ("set-up, first 200", fmt_ms(setup[:first]), fmt_ms(base[:first]), pct(base[:first], 50) / pct(setup[:first], 50)),
            (f"set-up, last 200 (at {n})", fmt_ms(setup[-first:]), fmt_ms(base[-first:]), pct(base[-first:], 50) / pct(setup[-first:], 50)),
            ("teardown (elements + netns)", fmt_ms(teardown), fmt_ms(base_del), pct(base_del, 50) / pct(teardown, 50)),
        ]
        print(f"## netd bridge-mode task networks, {n} tasks on one instance (this run, {time.strftime('%Y-%m-%d %H:%M')})")
        print("| what | netd | `ip` + `nft` per step | baseline/netd (p50) |")
        print("|---|---|---|---|")
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f}x |")
        print(f"| instance table with {n} tasks | {rules} rules, {elems} map elements | | |")
        print(f"| netd RSS with {n} bridge tasks | {rss / 1024:.1f} MB | | |")
        ok = pct(setup[:first], 50) <= 0.003 and pct(setup[-first:], 99) <= 0.010 and rules == 10
        print(f"\ntargets (p50 <= 3 ms, p99 <= 10 ms, rules independent of tasks): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
