#!/usr/bin/python3
"""bench_sg_members.py: ENI set-up when security groups name each other, against the build before the
member sets were kept in force at the answer (issue 11's benchmark of the SG consistency change).

Two sandboxes at once, each with its own netd:
  new:  this build; a peer group's members are hash sets m_<id> in every task table that names the
        group, filled in one acknowledged batch per peer namespace before CreateTaskNetwork answers
  base: the build of ECSBOX_BASE_BUILD (edf20bf, the first parent of "Merge sgmember": the member
        lists were refilled by a coalesced job after the answer)
Two modes, each in a fresh VPC (10.M.0.0/16, subnet /20) with the previous mode's ENIs deleted:
  peer: groups A and B, A allows TCP 80 from B and B allows TCP 5432 from A; N ENIs alternate A/B,
        so each new ENI changes the member set in the tables of half of those before it
  cidr: one group allowing TCP 80 from the VPC CIDR (no group references): the control
For every ENI, CreateTaskNetwork is timed on a kept connection; the two sides alternate ENI by
ENI, so the machine's load is shared. Reported: p50/p90/p99 over the first and the last 50 of N,
new/base as ratios. Usage: ECSBOX_BASE_BUILD=DIR bench_sg_members.py [N=200]; without
ECSBOX_BASE_BUILD it says so and exits 0 (make bench). The base build: `git worktree add
/work/x-sgbase edf20bf && make -C /work/x-sgbase BUILD=build-sgbase all`.
"""
import os
import sys
import time

HELPERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration")
sys.path.insert(0, HELPERS)
import sandbox  # noqa: E402
from sandbox import Netd, bench_sandbox, pct  # noqa: E402


def use_build(build):
    sandbox.NETD = os.path.join(build, "ecsbox-netd")


def perm(proto, port, cidr=None, group=None):
    p = {"IpProtocol": proto, "FromPort": port, "ToPort": port}
    if cidr:
        p["IpRanges"] = [{"CidrIp": cidr}]
    if group:
        p["UserIdGroupPairs"] = [{"GroupId": group}]
    return p


class Side:
    def __init__(self, sb, build, name):
        use_build(build)
        self.name = name
        self.netd = Netd(sb, extra_args=["--no-default-vpc", "--log-level", "warning"])
        self.s = self.netd.session()
        self.enis = []
        self.times = {}

    def prepare(self, mode, m):
        for e in self.enis:
            self.s.call("DeleteTaskNetwork", NetworkInterfaceId=e)
        self.enis = []
        c = self.s.call
        vpc = c("CreateVpc", CidrBlock=f"10.{m}.0.0/16")["Vpc"]["VpcId"]
        self.sub = c("CreateSubnet", VpcId=vpc, CidrBlock=f"10.{m}.0.0/20")["Subnet"]["SubnetId"]
        a = c("CreateSecurityGroup", GroupName=f"a{m}", Description="a", VpcId=vpc)["GroupId"]
        if mode == "peer":
            b = c("CreateSecurityGroup", GroupName=f"b{m}", Description="b", VpcId=vpc)["GroupId"]
            c("AuthorizeSecurityGroupIngress", GroupId=a, IpPermissions=[perm("tcp", 80, group=b)])
            c("AuthorizeSecurityGroupIngress", GroupId=b, IpPermissions=[perm("tcp", 5432, group=a)])
            self.groups = [a, b]
        else:
            c("AuthorizeSecurityGroupIngress", GroupId=a, IpPermissions=[perm("tcp", 80, cidr=f"10.{m}.0.0/16")])
            self.groups = [a]
        self.times[mode] = []

    def one(self, mode, i):
        g = self.groups[i % len(self.groups)]
        t0 = time.perf_counter()
        e = self.s.call("CreateTaskNetwork", SubnetId=self.sub, Netns=f"{mode}{i}", Groups=[g])
        self.times[mode].append(time.perf_counter() - t0)
        self.enis.append(e["NetworkInterface"]["NetworkInterfaceId"])


def ms(xs):
    return f"{pct(xs, 50) * 1e3:.2f} / {pct(xs, 90) * 1e3:.2f} / {pct(xs, 99) * 1e3:.2f}"


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    base_build = os.environ.get("ECSBOX_BASE_BUILD")
    if not base_build:
        print("bench_sg_members: set ECSBOX_BASE_BUILD to a build of edf20bf to compare; skipped")
        return
    new_build = sandbox.BUILD
    with bench_sandbox() as sb_new, bench_sandbox() as sb_base:
        new = Side(sb_new, new_build, "new")
        base = Side(sb_base, base_build, "base")
        for m, mode in enumerate(["peer", "cidr"], start=1):
            for side in (new, base):
                side.prepare(mode, m)
            for i in range(n):
                order = (new, base) if i % 2 == 0 else (base, new)
                for side in order:
                    side.one(mode, i)
        k = min(50, n)
        print(f"## ENI set-up with security groups, {n} ENIs per mode (this run, {time.strftime('%Y-%m-%d %H:%M')})")
        print("| mode, ENIs | new p50 / p90 / p99 ms | base p50 / p90 / p99 ms | new/base p50 | new/base p99 |")
        print("|---|---|---|---|---|")
        worst = 0.0
        for mode in ("peer", "cidr"):
            for label, sl in ((f"first {k}", slice(0, k)), (f"last {k} (to {n})", slice(n - k, n))):
                a, b = new.times[mode][sl], base.times[mode][sl]
                r50, r99 = pct(a, 50) / pct(b, 50), pct(a, 99) / pct(b, 99)
                if mode == "peer":
                    worst = max(worst, r50)
                print(f"| {mode}, {label} | {ms(a)} | {ms(b)} | {r50:.2f}x | {r99:.2f}x |")
        print(f"\ngoal (peer groups, new/base p50 <= 1.3x): {'met' if worst <= 1.3 else 'NOT met'} ({worst:.2f}x)")


if __name__ == "__main__":
    main()
