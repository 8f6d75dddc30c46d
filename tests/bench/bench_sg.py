#!/usr/bin/python3
"""bench_sg.py: cost of netd's security-group tables, against bare veth + bridge in the same run.

Inside a private sandbox: two tasks on one subnet bridge (veth ENIs) in a group that allows the
subnet. Rounds rotate three modes:
  table: as netd builds them (task inet table with SG sets + flow meters, netdev egress check,
         VPC bridge source/destination check)
  bare:  the same namespaces with every ecsbox table deleted (plain veth + bridge)
  bridge: only the VPC bridge's source/destination check (task tables deleted)
Each round measures task-to-task iperf3 TCP throughput and the 64-byte UDP packet rate received.
Then memory: MemAvailable with N task namespaces bare, and again once netd has given each its tables.
Usage: bench_sg.py [rounds] [N] (defaults 6, 200).
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sandbox import Netd, bench_sandbox, kernel_kb, mem_available_kb, wait_for  # noqa: E402

SECS = 4


def iperf(sb, server_ns, client_ns, ip, udp):
    srv = sb.spawn(["ip", "netns", "exec", server_ns, "iperf3", "-s", "-1", "-p", "5201"])
    wait_for(lambda: sb.run(["ip", "netns", "exec", server_ns, "ss", "-ltn", "sport = :5201"],
                            check=False).stdout.count("LISTEN") > 0, 10, what="iperf3 server")
    argv = ["ip", "netns", "exec", client_ns, "iperf3", "-c", ip, "-p", "5201", "-t", str(SECS), "-J"]
    if udp:
        argv += ["-u", "-b", "0", "-l", "64"]
    out = json.loads(sb.run(argv, timeout=SECS + 30).stdout)
    srv.wait(timeout=15)
    end = out["end"]
    if udp:
        s = end["sum"]
        return (s["packets"] - s["lost_packets"]) / s["seconds"]
    return end["sum_received"]["bits_per_second"]


def strip_tables(sb, netns_list, vpc_ns):
    for ns in netns_list:
        sb.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "ecsbox"], check=False)
        sb.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "netdev", "ecsbox"], check=False)
    if vpc_ns:
        sb.run(["ip", "netns", "exec", vpc_ns, "nft", "delete", "table", "bridge", "ecsbox"], check=False)


def has_table(sb, ns):
    # not `nft list table`: nft 1.0.6 aborts listing tflags once it holds multi-bit flags (flow-logs.md 4)
    # (`nft list tables` aborts too); a single set lists fine
    return sb.run(["ip", "netns", "exec", ns, "nft", "list", "set", "inet", "ecsbox", "sg_in_proto"],
                  check=False).returncode == 0


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    with bench_sandbox(prefix="ecsbox-bench-sg-") as sb:
        netd = Netd(sb, extra_args=["--no-default-vpc", "--log-level", "warning"])
        vpc, sub = netd.vpc_and_subnet("10.0.0.0/16", "10.0.0.0/20")
        vpc_ns = "ebx-" + vpc["VpcId"]
        g = netd.ok("CreateSecurityGroup", GroupName="bench", Description="bench", VpcId=vpc["VpcId"])["GroupId"]
        netd.ok("AuthorizeSecurityGroupIngress", GroupId=g, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
        srv = netd.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns="srv", Groups=[g])["NetworkInterface"]
        netd.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns="cli", Groups=[g])
        ip = srv["PrivateIpAddress"]
        modes = ("bare", "bridge", "table")
        res = {m: {"tcp": [], "udp": []} for m in modes}
        for r in range(rounds):
            for mode in modes[r % 3:] + modes[:r % 3]:
                if mode == "bare":
                    strip_tables(sb, ["srv", "cli"], vpc_ns)
                else:
                    netd.stop()
                    netd.start()          # start-up reconciliation rebuilds every table
                    assert has_table(sb, "srv") and has_table(sb, "cli")
                    if mode == "bridge":  # only the VPC's source/destination check
                        strip_tables(sb, ["srv", "cli"], None)
                res[mode]["tcp"].append(iperf(sb, "srv", "cli", ip, False))
                res[mode]["udp"].append(iperf(sb, "srv", "cli", ip, True))
                print(f"round {r} {mode}: tcp {res[mode]['tcp'][-1] / 1e9:.2f} Gbit/s, "
                      f"udp64 {res[mode]['udp'][-1] / 1e3:.1f} kpps", flush=True)
        tcp_t, tcp_b = statistics.median(res["table"]["tcp"]), statistics.median(res["bare"]["tcp"])
        udp_t, udp_b = statistics.median(res["table"]["udp"]), statistics.median(res["bare"]["udp"])
        print(f"TCP 1 stream, median of {rounds} x {SECS} s: table {tcp_t / 1e9:.2f} Gbit/s, bare {tcp_b / 1e9:.2f} Gbit/s, "
              f"ratio {tcp_t / tcp_b:.3f}")
        print(f"UDP 64 B received, median of {rounds} x {SECS} s: table {udp_t / 1e3:.1f} kpps, bare {udp_b / 1e3:.1f} kpps, "
              f"ratio {udp_t / udp_b:.3f}")
        # the machine's load drifts during a run: the ratio within each round (modes back to back) is steadier
        for mode in ("bridge", "table"):
            for what in ("tcp", "udp"):
                rr = [t / b for t, b in zip(res[mode][what], res["bare"][what])]
                print(f"{what} per-round ratios {mode}/bare: {', '.join(f'{x:.2f}' for x in rr)}; "
                      f"median {statistics.median(rr):.3f}")

        # memory: N task namespaces bare, then with netd's tables
        names = [f"m{i}" for i in range(n)]
        for name in names:
            netd.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns=name, Groups=[g])
        # alternate bare / with tables three times (the machine is shared: medians of the deltas)
        deltas, kdeltas, rebuilds = [], [], []
        for _ in range(3):
            strip_tables(sb, names + ["srv", "cli"], vpc_ns)
            time.sleep(3)
            bare, kbare = statistics.median([mem_available_kb() for _ in range(5)]), kernel_kb()
            netd.stop()
            t0 = time.monotonic()
            netd.start()              # start-up reconciliation rebuilds every table
            rebuilds.append(time.monotonic() - t0)
            assert all(has_table(sb, x) for x in names[:: max(1, n // 10)])
            time.sleep(3)
            table, ktable = statistics.median([mem_available_kb() for _ in range(5)]), kernel_kb()
            deltas.append(bare - table)
            kdeltas.append(ktable - kbare)
        delta, kdelta = statistics.median(deltas), statistics.median(kdeltas)
        print(f"MemAvailable, {n} task namespaces, bare minus with tables (3 rounds: "
              f"{', '.join(f'{x / 1024:.1f}' for x in deltas)} MiB): median {delta / 1024:.1f} MiB = {delta / n:.0f} KiB per task")
        print(f"Slab+Percpu growth (3 rounds: {', '.join(f'{x / 1024:.1f}' for x in kdeltas)} MiB): "
              f"median {kdelta / 1024:.1f} MiB = {kdelta / n:.0f} KiB per task")
        print(f"netd restart rebuilding {n + 2} task tables and the bridge table: "
              f"median {statistics.median(rebuilds):.2f} s")


if __name__ == "__main__":
    main()
