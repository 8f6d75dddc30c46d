#!/usr/bin/python3
"""bench_nlb.py: connections per second and p50 connection latency through a network load balancer (netd's
DNAT/SNAT in the VPC router, table ip ecsbox_lb) against straight to one target, side by side in one run.

Inside a private sandbox: one VPC, two subnets, three targets (task networks) running a small Python
server that answers one line per connection on 8000, a client task network in the second subnet. Rounds
alternate: "nlb" connects to the LB address, port 80 (routed by the VPC router, DNATed to a healthy target
picked by numgen, SNATed to the LB address); "direct" connects to a target in the client's own subnet
(bridged, no NAT). Each connection: connect, read the line, close; sequential, from one process.
Usage: bench_nlb.py [rounds] [connections per round] (defaults 6, 2000).
"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sandbox import Netd, bench_sandbox, wait_for  # noqa: E402

SERVER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8000))
s.listen(1024)
name = sys.argv[1].encode() + b"\n"
while True:
    c, _ = s.accept()
    try:
        c.sendall(name)
    except OSError:
        pass
    c.close()
"""

CLIENT = r"""
import json, socket, sys, time
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lat, fail = [], 0
t0 = time.perf_counter()
for i in range(n):
    a = time.perf_counter()
    try:
        s = socket.create_connection((ip, port), timeout=2)
        s.recv(64)
        s.close()
        lat.append(time.perf_counter() - a)
    except OSError:
        fail += 1
el = time.perf_counter() - t0
lat.sort()
print(json.dumps({"cps": len(lat) / el, "p50": lat[len(lat) // 2] if lat else 0, "p99": lat[int(len(lat) * 0.99)] if lat else 0, "fail": fail}))
"""


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    with bench_sandbox(prefix="ecsbox-bench-nlb-") as sb:
        netd = Netd(sb, extra_args=["--no-default-vpc", "--log-level", "warning"])
        vpc = netd.ok("CreateVpc", CidrBlock="10.70.0.0/16")["Vpc"]
        s1 = netd.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock="10.70.1.0/24")["Subnet"]
        s2 = netd.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock="10.70.2.0/24")["Subnet"]
        sg = netd.ok("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                        {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
        ips = {}
        for name, sub in (("t1", s1), ("t2", s1), ("t3", s2)):
            ips[name] = netd.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns=name)["NetworkInterface"]["PrivateIpAddress"]
            sb.spawn(["ip", "netns", "exec", name, "/usr/bin/python3", "-c", SERVER, name])
        netd.ok("CreateTaskNetwork", SubnetId=s2["SubnetId"], Netns="cli")
        lb = netd.ok("CreateLoadBalancerNetwork", LoadBalancerId="00000000000000bb", Name="bench", Type="network",
                     VpcId=vpc["VpcId"], SubnetIds=[s1["SubnetId"], s2["SubnetId"]], SecurityGroups=[sg])["LoadBalancerNetwork"]
        netd.ok("PutTargetGroup", TargetGroupId="00000000000000cc", VpcId=vpc["VpcId"], Protocol="TCP", Port=8000,
                HealthCheck={"IntervalSeconds": 1, "TimeoutSeconds": 1, "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2})
        netd.ok("RegisterTargets", TargetGroupId="00000000000000cc", Targets=[{"Id": ip} for ip in ips.values()])
        netd.ok("PutListener", LoadBalancerId="00000000000000bb", ListenerId="00000000000000dd", Protocol="TCP", Port=80,
                TargetGroupId="00000000000000cc")

        def healthy():
            d = netd.ok("DescribeTargetHealth", TargetGroupId="00000000000000cc")["TargetHealthDescriptions"]
            return all(t["TargetHealth"]["State"] == "healthy" for t in d)
        wait_for(healthy, 30, what="healthy targets")
        lb_ip = next(a["PrivateIpv4Address"] for a in lb["Addresses"] if a["SubnetId"] == s2["SubnetId"])
        modes = {"nlb": (lb_ip, 80), "direct": (ips["t3"], 8000)}
        res = {m: [] for m in modes}
        for r in range(rounds):
            for m in (("nlb", "direct") if r % 2 == 0 else ("direct", "nlb")):
                ip, port = modes[m]
                out = json.loads(sb.run(["ip", "netns", "exec", "cli", "/usr/bin/python3", "-c", CLIENT, ip, str(port), str(n)],
                                        timeout=600).stdout)
                res[m].append(out)
                print(f"round {r} {m}: {out['cps']:.0f} conn/s, p50 {out['p50'] * 1e6:.0f} us, p99 {out['p99'] * 1e6:.0f} us, "
                      f"failed {out['fail']}")
        med = {m: (statistics.median(x["cps"] for x in v), statistics.median(x["p50"] for x in v)) for m, v in res.items()}
        print(f"median of {rounds} rounds x {n} sequential connections: "
              f"nlb {med['nlb'][0]:.0f} conn/s p50 {med['nlb'][1] * 1e6:.0f} us; "
              f"direct {med['direct'][0]:.0f} conn/s p50 {med['direct'][1] * 1e6:.0f} us; "
              f"nlb/direct conn/s {med['nlb'][0] / med['direct'][0]:.2f}, p50 +{(med['nlb'][1] - med['direct'][1]) * 1e6:.0f} us")
        netd.stop()


if __name__ == "__main__":
    main()
