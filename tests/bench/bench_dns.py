#!/usr/bin/python3
"""bench_dns.py: the VPC resolver (netd/dns) against Debian's dnsmasq serving the same records, side by
side in one run, measured with dnsperf from inside a task namespace.

One sandbox, netd with its default VPC and a task netns t0 (the client). dnsmasq runs in the VPC's own
router netns, bound to the router's uplink address, so both servers are one hop from the task (the
subnet gateway) and the packets take the same path. Both serve:
  - the task's PrivateDnsName (ip-A-B-C-D.ec2.internal, A, TTL 60): netd from the name itself,
    dnsmasq from --host-record
  - a private-zone name a.corp.local (A, TTL 60): netd from its store (PutDnsZone/PutDnsRecords),
    dnsmasq from --host-record
For each server and name, alternating round by round (ROUNDS rounds):
  throughput: dnsperf -l SECONDS -c 2 -q 64 (queries per second, all answered)
  latency:    dnsperf -q 1 (one query at a time) over N queries, from dnsperf -v's per-query latencies
Reported: qps and p50/p99 latency per server, and netd/dnsmasq ratios.
Usage: bench_dns.py [ROUNDS=3] [SECONDS=5] [N=2000]
"""
import os
import re
import sys

HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration")
sys.path.insert(0, HELPERS)
from sandbox import Netd, bench_sandbox, pct, wait_for  # noqa: E402


def dnsperf(sb, server, qfile, args):
    p = sb.run(["ip", "netns", "exec", "t0", "dnsperf", "-s", server, "-d", qfile] + args, timeout=300)
    return p.stdout


def throughput(sb, server, qfile, seconds):
    out = dnsperf(sb, server, qfile, ["-l", str(seconds), "-c", "2", "-q", "64"])
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    return qps, lost


def latencies(sb, server, qfile):
    out = dnsperf(sb, server, qfile, ["-n", "1", "-q", "1", "-v"])
    # "> NOERROR ip-172-31-0-4.ec2.internal A 0.000123"
    lat = [float(m.group(2)) * 1000 for m in re.finditer(r"^> (\w+) .* ([\d.]+)$", out, re.M)
           if m.group(1) == "NOERROR"]
    return lat


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    with bench_sandbox("ecsbox-bench-dns-") as sb:
        netd = Netd(sb, extra_args=["--dns-upstream", "127.0.0.1:9"])
        vpc = netd.ok("DescribeVpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
        vid = vpc["VpcId"]
        sub = netd.ok("DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vid]}])["Subnets"][0]
        eni = netd.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns="t0")["NetworkInterface"]
        netd.ok("PutDnsZone", VpcId=vid, Name="corp.local")
        netd.ok("PutDnsRecords", VpcId=vid, Name="a.corp.local", Type="A", Records=["10.9.9.9"])
        a, b, c, d = vpc["CidrBlock"].split("/")[0].split(".")
        resolver = f"{a}.{b}.{c}.{int(d) + 2}"
        vns = "ebx-" + vid
        uplink = sb.run(["ip", "-n", vns, "-4", "-o", "addr", "show", "uplink"]).stdout.split()[3].split("/")[0]
        pidfile = os.path.join(sb.tmp, "dnsmasq.pid")
        sb.run(["ip", "netns", "exec", vns, "dnsmasq", "--no-resolv", "--no-hosts", "--bind-interfaces",
                f"--listen-address={uplink}", "--user=root", "--group=root", f"--pid-file={pidfile}",
                "--local-ttl=60", f"--host-record={eni['PrivateDnsName']},{eni['PrivateIpAddress']},60",
                "--host-record=a.corp.local,10.9.9.9,60", "--dns-forward-max=1000"])
        wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 5, what="dnsmasq")
        names = {"task name": eni["PrivateDnsName"], "private zone": "a.corp.local"}
        files = {}
        for label, name in names.items():
            f = os.path.join(sb.tmp, label.replace(" ", "_") + ".q")
            with open(f, "w") as fh:
                fh.write(f"{name} A\n" * n)
            files[label] = f
        servers = {"netd": resolver, "dnsmasq": uplink}
        qps = {(s, l): [] for s in servers for l in names}
        lat = {(s, l): [] for s in servers for l in names}
        lost = 0
        for r in range(rounds):
            for label in names:
                order = list(servers) if r % 2 == 0 else list(reversed(servers))
                for s in order:
                    q, lo = throughput(sb, servers[s], files[label], seconds)
                    qps[(s, label)].append(q)
                    lost += lo
                    lat[(s, label)] += latencies(sb, servers[s], files[label])
        print(f"bench_dns: {rounds} rounds, throughput {seconds} s each (dnsperf -c 2 -q 64), latency over {n} "
              f"queries one at a time, from task netns t0; queries lost: {lost}")
        print(f"{'name':<14}{'server':<9}{'qps (median)':>14}{'p50 ms':>9}{'p99 ms':>9}")
        for label in names:
            for s in servers:
                qs = sorted(qps[(s, label)])
                ls = lat[(s, label)]
                print(f"{label:<14}{s:<9}{qs[len(qs) // 2]:>14.0f}{pct(ls, 50):>9.3f}{pct(ls, 99):>9.3f}")
            qn, qd = sorted(qps[("netd", label)]), sorted(qps[("dnsmasq", label)])
            ln, ld = lat[("netd", label)], lat[("dnsmasq", label)]
            print(f"{label:<14}{'netd/dnsmasq':<9} qps {qn[len(qn) // 2] / qd[len(qd) // 2]:.2f}x  "
                  f"p50 {pct(ln, 50) / pct(ld, 50):.2f}x  p99 {pct(ln, 99) / pct(ld, 99):.2f}x")
        sb.run(["kill", open(pidfile).read().strip()], check=False)
        netd.stop()


if __name__ == "__main__":
    main()
