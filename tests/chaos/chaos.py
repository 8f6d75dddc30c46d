#!/usr/bin/python3
"""chaos.py: kill -9 netd, ecsboxd or a task monitor at a random moment of an API churn, and check
after every restart that what was acknowledged is still true and the records agree with the kernel.

    /usr/bin/python3 tests/chaos/chaos.py [ROUNDS=100] [SEED]

One sandbox (tests/integration/sandbox.py) holds netd (default VPC) and ecsboxd. A cluster `chaos`
(tagged ecsbox:flow-logs=ALL, 5 s windows) runs a busybox httpd task definition in awsvpc mode, a
REPLICA service `base` and up to three more services. Each round:
  1. two churn threads call RunTask (1-3), StopTask, CreateService, UpdateService (desiredCount,
     forceNewDeployment) on ecsboxd's Unix socket as root and record every acknowledged result;
  2. a UDP sender in a fixed flow-log ENI pair (not ecsboxd's; 1 s windows) starts a flow of its own
     (a source port per round);
  3. at a seeded random moment one victim is killed with SIGKILL: netd, ecsboxd or a random monitor;
     netd and ecsboxd are restarted after a random downtime; a monitor is not: ecsboxd must notice;
  4. the churn stops, the system must settle (bounded), then the invariants are checked.
Invariants (each failure prints its evidence; the exit status is 1 when any broke):
  I1 every acknowledged RunTask ARN is described exactly once (no MISSING), appears once in
     ListTasks, and is RUNNING or STOPPED with a stoppedReason; every acknowledged service is ACTIVE;
  I2 records agree with the kernel: every RUNNING task's ENI is in-use in netd, in the task's netns,
     and the netns has eth0 with the ENI's MAC and IP and `table inet ecsbox`; every netns in
     /run/netns is owned by netd (a VPC, an in-use ENI, a task network); in-use task ENIs are exactly
     the RUNNING awsvpc tasks' ENIs, and their veth ends in the VPC namespaces exactly theirs; no ENI
     is left available; each RUNNING task of the tagged cluster has exactly one flow log, and no flow
     log names an ENI that is gone;
  I3 no orphan process: every live ecsbox-monitor runs a task ecsboxd lists as not STOPPED, one
     monitor per such task; every process in a task netns descends from that task's live monitor;
  I4 every ACTIVE service is back at desiredCount RUNNING tasks, one deployment, COMPLETED;
  I5 flow logs: the OK records of this round's flow on the fixed ENI sum to exactly the packets and
     bytes that a witness nft counter in the receiving netns counted (no window lost, none twice);
     fewer only when a window of the round carries SKIPDATA (a collector pass cut by the kill, which
     netd marks so), never more.
"""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sandbox import EcsError, Ecsboxd, Netd, bench_sandbox, httpd_task_definition, pct, wait_for  # noqa: E402

CLUSTER = "chaos"
ROUND_DEADLINE = 150          # s: churn + kill + settle + checks of one round
SETTLE_DEADLINE = 120         # s: from the restart until everything is steady
MAX_SERVICES = 4
CHURN_THREADS = 2             # callers at once, so that a kill finds requests in flight
MAX_STANDALONE = 6            # RunTask tasks alive at once (the churn stops some when above)
FLOW_PORT = 9000
FLOW_GAP = 0.005              # s between datagrams of the round's flow (200/s)

UDP_SINK = r"""
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
u.bind(("0.0.0.0", int(sys.argv[1])))
open(sys.argv[2], "w").write("ok")
while True:
    u.recv(65535)
"""

RATE_SEND = r"""
import socket, sys, time
ip, port, sport, secs, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", sport))
end, n = time.monotonic() + secs, 0
while time.monotonic() < end:
    s.sendto(b"z" * 64, (ip, port)); n += 1
    time.sleep(gap)
print(n)
"""

WITNESS = """
table ip witness {
  counter c_in { }
  chain wi { type filter hook input priority -10; ip saddr %s udp dport %d counter name "c_in"; }
}
"""


def log(*a):
    print(*a, flush=True)


class Failure(Exception):
    """An invariant broken; the message is the evidence."""


class World:
    """The sandbox, its daemons, and what the churn had acknowledged."""

    def __init__(self, sb, rng):
        self.sb, self.rng = sb, rng
        self.netd = Netd(sb)
        self.ecs = Ecsboxd(sb, sb.images, extra_args=["--stopped-retention", "7200"])
        self.lock = threading.Lock()
        self.svc_lock = threading.Lock()
        self.acked_tasks = {}         # arn -> round acknowledged
        self.stopped_by_us = set()
        self.services = {}            # name -> desiredCount last acknowledged
        self.final = set()            # ARNs seen STOPPED (final: never looked at again but for I1)
        self.errors = {}              # churn errors by kind (while a daemon was down, expected)
        self.calls = 0
        self.last = "-"
        self.running_tasks = []
        self.skipdata = []            # (sport, packets) lost by a cut pass and marked SKIPDATA

    # ---- set-up ---------------------------------------------------------------------------------
    def setup(self):
        ecs = self.ecs
        ecs.call("CreateCluster", clusterName=CLUSTER,
                 tags=[{"key": "ecsbox:flow-logs", "value": "ALL"}, {"key": "ecsbox:flow-logs-interval", "value": "5"}])
        td = httpd_task_definition("web")
        td["containerDefinitions"][0]["command"] = ["sh", "-c", "mkdir -p /tmp/www && exec httpd -f -p 80 -h /tmp/www"]
        ecs.call("RegisterTaskDefinition", **td)
        ecs.call("CreateService", cluster=CLUSTER, serviceName="base", taskDefinition="web", desiredCount=2)
        self.services["base"] = 2
        self.flow_setup()

    def flow_setup(self):
        """Two ENIs of netd's own (not ecsboxd's) in a VPC of their own; a flow log with 1 s windows on b."""
        n = self.netd
        vpc = n.ok("CreateVpc", CidrBlock="10.99.0.0/16")["Vpc"]
        sub = n.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock="10.99.1.0/24")["Subnet"]
        self.fa = n.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns="chaos-fla")["NetworkInterface"]
        self.fb = n.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns="chaos-flb")["NetworkInterface"]
        self.flow_dir = os.path.join(self.sb.tmp, "flows")
        os.makedirs(self.flow_dir, exist_ok=True)
        self.sb.run(["ip", "netns", "exec", "chaos-flb", "nft", "-f", "-"],
                    input=WITNESS % (self.fa["PrivateIpAddress"], FLOW_PORT))
        fl = n.ok("CreateFlowLogs", ResourceType="NetworkInterface", ResourceIds=[self.fb["NetworkInterfaceId"]],
                  TrafficType="ALL", LogDestinationType="file", LogDestination=self.flow_dir, MaxAggregationInterval=1)
        self.flow_log = fl["FlowLogIds"][0]
        self.sb.run(["rm", "-f", "/tmp/chaos-sink-ready"])
        self.sb.spawn(["ip", "netns", "exec", "chaos-flb", "python3", "-c", UDP_SINK, str(FLOW_PORT), "/tmp/chaos-sink-ready"])
        wait_for(lambda: self.sb.run(["test", "-e", "/tmp/chaos-sink-ready"], check=False).returncode == 0, 10,
                 what="UDP sink")

    # ---- the churn ------------------------------------------------------------------------------
    def churn(self, stop, rnd, rng):
        while not stop.is_set():
            try:
                self.churn_one(rnd, rng)
            except (EcsError, OSError, ValueError) as e:
                kind = getattr(e, "type", type(e).__name__)
                with self.lock:
                    self.errors[kind] = self.errors.get(kind, 0) + 1
                stop.wait(0.2)
            stop.wait(rng.uniform(0.05, 0.3))

    def live_standalone(self):
        with self.lock:
            return [a for a in self.acked_tasks if a not in self.stopped_by_us and a not in self.final]

    def churn_one(self, rnd, rng):
        ecs = self.ecs
        op = rng.choices(["run", "stop", "create", "update"], [4, 3, 1, 3])[0]
        live = self.live_standalone()
        if op == "run" and len(live) >= MAX_STANDALONE:
            op = "stop"
        if op == "create" and len(self.services) >= MAX_SERVICES:
            op = "update"
        with self.lock:
            self.calls += 1
        if op == "run":
            r = ecs.call("RunTask", cluster=CLUSTER, taskDefinition="web", count=rng.randint(1, 3))
            with self.lock:
                for t in r["tasks"]:
                    self.acked_tasks[t["taskArn"]] = rnd
        elif op == "stop" and (live or self.running_tasks):
            # mostly a RunTask task of ours; sometimes any RUNNING task (a service's: it is replaced)
            pool = live if live and rng.random() < 0.7 else [t["taskArn"] for t in self.running_tasks] or live
            arn = rng.choice(pool)
            ecs.call("StopTask", cluster=CLUSTER, task=arn, reason="chaos churn")
            with self.lock:
                self.stopped_by_us.add(arn)
        elif op in ("create", "update"):
            # one service call at a time, so that the order of acknowledgements is the order applied
            with self.svc_lock:
                self.service_op(op, rng)

    def service_op(self, op, rng):
        if op == "create" and len(self.services) < MAX_SERVICES:
            name = f"svc{len(self.services)}"
            n = rng.randint(0, 3)
            self.ecs.call("CreateService", cluster=CLUSTER, serviceName=name, taskDefinition="web", desiredCount=n)
            with self.lock:
                self.services[name] = n
            return
        name = rng.choice(sorted(self.services))
        kw = {}
        if rng.random() < 0.7:
            kw["desiredCount"] = rng.randint(0, 3)
        if rng.random() < 0.4 or not kw:
            kw["forceNewDeployment"] = True
        self.ecs.call("UpdateService", cluster=CLUSTER, service=name, **kw)
        with self.lock:
            if "desiredCount" in kw:
                self.services[name] = kw["desiredCount"]

    # ---- reading the world ----------------------------------------------------------------------
    def list_tasks(self, status):
        out, tok = [], None
        while True:
            kw = dict(cluster=CLUSTER, desiredStatus=status, maxResults=100)
            if tok:
                kw["nextToken"] = tok
            page = self.ecs.call("ListTasks", **kw)
            out += page["taskArns"]
            tok = page.get("nextToken")
            if not tok:
                return out

    def describe(self, arns):
        tasks, failures = [], []
        for i in range(0, len(arns), 100):
            d = self.ecs.call("DescribeTasks", cluster=CLUSTER, tasks=arns[i:i + 100])
            tasks += d["tasks"]
            failures += d.get("failures", [])
        return tasks, failures

    def snapshot(self):
        """Every task of the cluster not known final, described; services described."""
        running = self.list_tasks("RUNNING")
        stopped = [a for a in self.list_tasks("STOPPED") if a not in self.final]
        tasks, failures = self.describe(running + stopped)
        svcs = {}
        names = sorted(self.services)
        for i in range(0, len(names), 10):
            for s in self.ecs.call("DescribeServices", cluster=CLUSTER, services=names[i:i + 10])["services"]:
                svcs[s["serviceName"]] = s
        return running, tasks, failures, svcs

    def unsettled(self):
        """What is not steady yet (a list of reasons), empty when settled."""
        why = []
        running, tasks, failures, svcs = self.snapshot()
        for t in tasks:
            if t["desiredStatus"] == "STOPPED" and t["lastStatus"] == "STOPPED":
                continue
            if t["desiredStatus"] == "RUNNING" and t["lastStatus"] == "RUNNING":
                continue
            why.append(f"task {t['taskArn'].rsplit('/', 1)[1][:8]} {t['lastStatus']}->{t['desiredStatus']}")
        for name, s in svcs.items():
            if s["status"] != "ACTIVE":
                continue
            d = s["deployments"]
            if not (len(d) == 1 and d[0]["rolloutState"] == "COMPLETED" and s["runningCount"] == s["desiredCount"]
                    and s["pendingCount"] == 0):
                why.append(f"service {name} running {s['runningCount']}/{s['desiredCount']} deployments {len(d)}")
        live = {t["taskArn"].rsplit("/", 1)[1] for t in tasks if t["lastStatus"] != "STOPPED"}
        mons = self.monitor_tasks()
        if sorted(mons) != sorted(live):
            why.append(f"monitors of {len(mons)} tasks for {len(live)} live tasks "
                       f"(monitors without a live task {sorted(set(mons) - live)[:3]}, live tasks without one {sorted(live - set(mons))[:3]})")
        for t in tasks:
            if t["lastStatus"] == "STOPPED":
                self.final.add(t["taskArn"])
        return why

    def monitor_tasks(self):
        """The task id of every live ecsbox-monitor in the sandbox (one entry per monitor)."""
        out = []
        for pid in self.sb.monitor_pids():
            try:
                argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
                state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z" and b"--spec" in argv:
                out.append(os.path.basename(os.path.dirname(argv[argv.index(b"--spec") + 1].decode())))
        return out

    def settle(self, deadline):
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.unsettled()
            except (EcsError, OSError, ValueError) as e:
                last = [f"ecsboxd: {e}"]
            if not last:
                return None
            time.sleep(0.3)
        return last

    # ---- the invariants -------------------------------------------------------------------------
    def check(self):
        bad = []
        bad += self.check_tasks()
        running_tasks = self.running_tasks
        bad += self.check_kernel(running_tasks)
        bad += self.check_processes()
        bad += self.check_services()
        return bad

    def check_tasks(self):
        """I1: acknowledged tasks exist once, RUNNING or STOPPED with a reason; acknowledged services ACTIVE."""
        bad = []
        listed = self.list_tasks("RUNNING") + self.list_tasks("STOPPED")
        dup = {a for a in listed if listed.count(a) > 1}
        if dup:
            bad.append(f"I1 ListTasks lists {len(dup)} ARNs twice: {sorted(dup)[:3]}")
        with self.lock:
            acked = sorted(self.acked_tasks)
        tasks, failures = self.describe(acked)
        if failures:
            bad.append(f"I1 DescribeTasks failures for acknowledged tasks: {failures[:3]}")
        seen = {}
        for t in tasks:
            seen[t["taskArn"]] = seen.get(t["taskArn"], 0) + 1
            if t["lastStatus"] == "STOPPED" and not t.get("stoppedReason"):
                bad.append(f"I1 task {t['taskArn']} STOPPED without stoppedReason: {t.get('stopCode')}")
            elif t["lastStatus"] not in ("RUNNING", "STOPPED"):
                bad.append(f"I1 task {t['taskArn']} is {t['lastStatus']} after settle")
        for a in acked:
            if seen.get(a, 0) != 1:
                bad.append(f"I1 acknowledged task {a} described {seen.get(a, 0)} times")
            if listed.count(a) != 1:
                bad.append(f"I1 acknowledged task {a} in ListTasks {listed.count(a)} times")
        for a in set(listed) - set(acked):
            pass   # service tasks, and RunTasks whose answer the kill cut
        all_tasks, _ = self.describe(self.list_tasks("RUNNING"))
        self.running_tasks = [t for t in all_tasks if t["lastStatus"] == "RUNNING"]
        names = sorted(self.services)
        for i in range(0, len(names), 10):
            d = self.ecs.call("DescribeServices", cluster=CLUSTER, services=names[i:i + 10])
            if d.get("failures"):
                bad.append(f"I1 acknowledged services missing: {d['failures']}")
            for s in d["services"]:
                if s["status"] != "ACTIVE":
                    bad.append(f"I1 service {s['serviceName']} is {s['status']}")
        return bad

    def kernel_dump(self, netns_list):
        """For each netns: `ip -j addr show dev eth0` and `nft -j list tables` from inside the sandbox."""
        script = "; ".join(f"echo '@@{n}'; ip -j -n {n} addr show dev eth0 2>&1; echo '@@nft'; "
                           f"ip netns exec {n} nft -j list tables 2>&1" for n in netns_list) or "true"
        out = self.sb.run(["sh", "-c", script], check=False, timeout=120).stdout
        res, cur = {}, None
        for chunk in out.split("@@")[1:]:
            head, _, body = chunk.partition("\n")
            if head == "nft":
                res[cur]["nft"] = body.strip()
            else:
                cur = head
                res[cur] = {"addr": body.strip()}
        return res

    def check_kernel(self, running):
        """I2: every RUNNING task's ENI in netd and in the kernel; nothing in /run/netns unowned; no leaked ENI."""
        bad = []
        enis = {e["NetworkInterfaceId"]: e for e in self.netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"]}
        want = {}
        for t in running:
            att = [a for a in t.get("attachments", []) if a["type"] == "ElasticNetworkInterface"]
            if len(att) != 1:
                bad.append(f"I2 RUNNING task {t['taskArn']} has {len(att)} ENI attachments")
                continue
            det = {d["name"]: d["value"] for d in att[0].get("details", [])}
            eni = enis.get(det.get("networkInterfaceId"))
            if not eni:
                bad.append(f"I2 task {t['taskArn']}: ENI {det.get('networkInterfaceId')} unknown to netd")
                continue
            ns = (eni.get("Attachment") or {}).get("Netns")
            if eni.get("Status") != "in-use" or not ns:
                bad.append(f"I2 task {t['taskArn']}: ENI {eni['NetworkInterfaceId']} is {eni.get('Status')} netns {ns}")
                continue
            want[ns] = (t["taskArn"], eni["NetworkInterfaceId"], det.get("macAddress"), det.get("privateIPv4Address"))
            if eni.get("MacAddress") != det.get("macAddress") or eni.get("PrivateIpAddress") != det.get("privateIPv4Address"):
                bad.append(f"I2 task {t['taskArn']}: DescribeTasks {det} vs netd {eni.get('MacAddress')} {eni.get('PrivateIpAddress')}")
        present = sorted(os.listdir(f"/proc/{self.sb.pid}/root/run/netns"))
        dump = self.kernel_dump([n for n in present if n in want])
        for ns, (arn, eni_id, mac, ip) in want.items():
            k = dump.get(ns)
            if ns not in present or not k:
                bad.append(f"I2 task {arn}: netns {ns} of {eni_id} not in /run/netns")
                continue
            try:
                links = json.loads(k["addr"])
                link = links[0]
                ips = [a["local"] for a in link.get("addr_info", []) if a.get("family") == "inet"]
                if link.get("address") != mac or ips != [ip]:
                    bad.append(f"I2 task {arn}: eth0 in {ns} is {link.get('address')} {ips}, record {mac} {ip}")
            except (ValueError, IndexError, KeyError):
                bad.append(f"I2 task {arn}: no eth0 in {ns}: {k['addr'][:200]}")
            try:
                tables = [x["table"] for x in json.loads(k.get("nft", ""))["nftables"] if "table" in x]
                if not any(x["family"] == "inet" and x["name"] == "ecsbox" for x in tables):
                    bad.append(f"I2 task {arn}: no table inet ecsbox in {ns}: {tables}")
            except (ValueError, KeyError):
                bad.append(f"I2 task {arn}: nft in {ns}: {k.get('nft', '')[:200]}")
        # ownership of every namespace
        owned = {"ebx-vpc-" + v["VpcId"][4:] for v in self.netd.ok("DescribeVpcs")["Vpcs"]}
        owned |= {(e.get("Attachment") or {}).get("Netns") for e in enis.values() if e.get("Status") == "in-use"}
        tn = self.netd.call("DescribeTaskNetworks")
        for x in tn.get("TaskNetworks", []):
            owned.add(x.get("Netns"))
        unowned = [n for n in present if n not in owned]
        if unowned:
            bad.append(f"I2 namespaces nobody owns: {unowned}")
        task_enis = {i for i, e in enis.items() if ((e.get("Attachment") or {}).get("Netns") or "").startswith("ebx-task-")}
        want_enis = {v[1] for v in want.values()}
        if task_enis != want_enis:
            bad.append(f"I2 in-use task ENIs {sorted(task_enis - want_enis)} have no RUNNING task; "
                       f"RUNNING tasks' ENIs {sorted(want_enis - task_enis)} not in-use")
        bad += self.check_links(enis)
        avail = [i for i, e in enis.items() if e.get("Status") != "in-use"]
        if avail:
            bad.append(f"I2 ENIs left {[(i, enis[i].get('Status')) for i in avail]}")
        # the tagged cluster: one flow log per RUNNING task's ENI
        fls = self.netd.ok("DescribeFlowLogs")["FlowLogs"]
        per = {}
        for f in fls:
            per[f["ResourceId"]] = per.get(f["ResourceId"], 0) + 1
        gone = [f["FlowLogId"] for f in fls if f["ResourceId"].startswith("eni-") and f["ResourceId"] not in enis]
        if gone:
            bad.append(f"I2 {len(gone)} flow logs on ENIs that no longer exist: {gone[:5]}")
        for ns, (arn, eni_id, _, _) in want.items():
            if per.get(eni_id, 0) != 1:
                bad.append(f"I2 task {arn}: {per.get(eni_id, 0)} flow logs on {eni_id} (cluster tagged ecsbox:flow-logs)")
        return bad

    def check_links(self, enis):
        """I2, links: the veth host ends (`v` + the ENI id's last 14 hex) in each VPC namespace are
        exactly those of the VPC's in-use veth ENIs."""
        bad = []
        for v in self.netd.ok("DescribeVpcs")["Vpcs"]:
            ns = "ebx-vpc-" + v["VpcId"][4:]
            out = self.sb.run(["ip", "-j", "-n", ns, "link"], check=False).stdout
            try:
                have = {l["ifname"] for l in json.loads(out) if l["ifname"].startswith("v") and len(l["ifname"]) == 15}
            except ValueError:
                bad.append(f"I2 cannot list links of {ns}: {out[:200]}")
                continue
            want = {"v" + i[-14:] for i, e in enis.items() if e.get("VpcId") == v["VpcId"] and e.get("Status") == "in-use"
                    and e.get("InterfaceType", "veth") == "veth"}
            if have != want:
                bad.append(f"I2 {ns}: veth ends without an in-use ENI {sorted(have - want)}, "
                           f"in-use ENIs without their veth end {sorted(want - have)}")
        return bad

    def check_processes(self):
        """I3: monitors belong to live tasks, one each; task-netns processes descend from their monitor."""
        bad = []
        live = {}
        for t in self.describe(self.list_tasks("RUNNING") + self.list_tasks("STOPPED"))[0]:
            if t["lastStatus"] != "STOPPED":
                live[t["taskArn"].rsplit("/", 1)[1]] = t
        mine = os.readlink(f"/proc/{self.sb.pid}/ns/pid")
        procs = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{d}/ns/pid") != mine:
                    continue
                st = open(f"/proc/{d}/stat").read()
                state, ppid = st.rsplit(")", 1)[1].split()[:2]
                argv = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
                netns = os.stat(f"/proc/{d}/ns/net").st_ino
                procs[int(d)] = dict(state=state, ppid=int(ppid), argv=argv, netns=netns)
            except OSError:
                pass
        monitors = {}
        for pid, p in procs.items():
            if p["state"] == "Z" or not p["argv"][0].endswith(b"ecsbox-monitor"):
                continue
            spec = p["argv"][p["argv"].index(b"--spec") + 1].decode() if b"--spec" in p["argv"] else ""
            tid = os.path.basename(os.path.dirname(spec))
            monitors.setdefault(tid, []).append(pid)
            if tid not in live:
                bad.append(f"I3 monitor {pid} runs task {tid}, which ecsboxd does not list as live")
        for tid, pids in monitors.items():
            if len(pids) > 1:
                bad.append(f"I3 task {tid} has {len(pids)} monitors: {pids}")
        for tid in live:
            if tid not in monitors:
                bad.append(f"I3 live task {tid} ({live[tid]['lastStatus']}) has no monitor")
        root = f"/proc/{self.sb.pid}/root/run/netns"
        ns_ino = {}
        for n in os.listdir(root):
            if n.startswith("ebx-task-"):
                try:
                    ns_ino[os.stat(os.path.join(root, n)).st_ino] = n
                except OSError:
                    pass
        mon_pid = {pid: tid for tid, pids in monitors.items() for pid in pids}
        for pid, p in procs.items():
            ns = ns_ino.get(p["netns"])
            if not ns or p["state"] == "Z" or pid in mon_pid:
                continue
            anc, seen = p["ppid"], 0
            while anc in procs and anc not in mon_pid and seen < 64:
                anc, seen = procs[anc]["ppid"], seen + 1
            if anc not in mon_pid:
                bad.append(f"I3 process {pid} {p['argv'][:3]} in {ns} has no live monitor above it")
            elif not ns.endswith(mon_pid[anc][:12]):
                bad.append(f"I3 process {pid} in {ns} belongs to the monitor of task {mon_pid[anc]}")
        return bad

    def check_services(self):
        """I4: every ACTIVE service at desiredCount RUNNING tasks (ListTasks, not only its counters)."""
        bad = []
        by_group = {}
        for t in self.running_tasks:
            by_group[t.get("group", "")] = by_group.get(t.get("group", ""), 0) + 1
        names = sorted(self.services)
        for i in range(0, len(names), 10):
            for s in self.ecs.call("DescribeServices", cluster=CLUSTER, services=names[i:i + 10])["services"]:
                n = by_group.get("service:" + s["serviceName"], 0)
                if s["status"] == "ACTIVE" and (n != s["desiredCount"] or s["runningCount"] != n):
                    bad.append(f"I4 service {s['serviceName']}: {n} RUNNING tasks, runningCount {s['runningCount']}, "
                               f"desired {s['desiredCount']}")
                if s["desiredCount"] != self.services[s["serviceName"]]:
                    bad.append(f"I4 service {s['serviceName']}: desiredCount {s['desiredCount']}, "
                               f"acknowledged {self.services[s['serviceName']]}")
        return bad

    # ---- flow logs ------------------------------------------------------------------------------
    def witness(self):
        out = self.sb.run(["ip", "netns", "exec", "chaos-flb", "nft", "-j", "list", "counter", "ip", "witness", "c_in"]).stdout
        c = [x["counter"] for x in json.loads(out)["nftables"] if "counter" in x][0]
        return c["packets"], c["bytes"]

    def flow_records(self):
        doc = self.netd.ok("GetFlowLogs", NetworkInterfaceId=self.fb["NetworkInterfaceId"], FlowLogId=self.flow_log)
        lines = []
        for f in doc["FlowLogRecords"]:
            lines += f["Records"]
        return [l.split() for l in lines]

    def check_flow(self, sport, before, t_start, t_end, deadline):
        """I5: this round's flow (its own source port) in the records == what the witness counted; less
        only when a window of the round says SKIPDATA (a pass cut by the kill: netd/flowlog_collect.c's
        in-flight marker), never more (no window logged twice)."""
        def quiet():
            a = self.witness()
            time.sleep(0.3)
            return a if self.witness() == a else None
        after = wait_for(quiet, 10, interval=0.1, what="witness counter quiet")
        want = (after[0] - before[0], after[1] - before[1])

        def written():
            recs = self.flow_records()
            return recs if any(len(r) >= 14 and r[10].isdigit() and int(r[10]) > t_end + 1 for r in recs) else None
        try:
            recs = wait_for(written, max(1.0, deadline - time.monotonic()), interval=0.3, what="a window after the flow")
        except TimeoutError:
            return [f"I5 no flow-log window after {t_end} was written (netd collector stuck?)"], want
        ip_a = self.fa["PrivateIpAddress"]
        mine = [r for r in recs if r[13] == "OK" and r[3] == ip_a and r[5] == str(sport) and r[6] == str(FLOW_PORT)
                and r[7] == "17"]
        got = (sum(int(r[8]) for r in mine), sum(int(r[9]) for r in mine))
        keys = [(r[10], r[11], r[12]) for r in mine]
        bad = []
        skipped = [r for r in recs if len(r) >= 14 and r[13] == "SKIPDATA" and r[10].isdigit()
                   and t_start - 1 <= int(r[10]) <= t_end + 2]
        if got[0] < want[0] and skipped:
            self.skipdata.append((sport, want[0] - got[0]))
            log(f"    I5 flow sport {sport}: {want[0] - got[0]} of {want[0]} packets in a window marked SKIPDATA "
                f"(accounted: a pass cut by the kill)")
        elif got != want:
            bad.append(f"I5 flow sport {sport}: records {got} (packets, bytes) in {len(mine)} windows, witness {want}: "
                       + " | ".join(" ".join(r) for r in mine[:12]))
        if len(set(keys)) != len(keys):
            bad.append(f"I5 flow sport {sport}: a window written twice: {keys}")
        return bad, want


def kill_victim(w, victim, rng):
    """SIGKILL the victim; returns what was killed."""
    if victim == "netd":
        w.netd.kill9()
        return "netd"
    if victim == "ecsboxd":
        w.ecs.kill9()
        return "ecsboxd"
    pids = w.sb.monitor_pids()
    if not pids:
        return None
    pid = rng.choice(pids)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return None
    return f"monitor {pid}"


def one_round(w, rnd, rng):
    victim = rng.choice(["netd", "ecsboxd", "monitor"])
    moment = round(rng.uniform(0.3, 5.0), 2)
    down = round(rng.uniform(0.0, 1.5), 2) if victim != "monitor" else 0.0
    deadline = time.monotonic() + ROUND_DEADLINE
    sport = 41000 + rnd
    before = w.witness()
    t_start = int(time.time())
    sender = w.sb.spawn(["ip", "netns", "exec", "chaos-fla", "python3", "-c", RATE_SEND, w.fb["PrivateIpAddress"],
                         str(FLOW_PORT), str(sport), str(moment + down + 1.5), str(FLOW_GAP)])
    stop = threading.Event()
    churners = [threading.Thread(target=w.churn, args=(stop, rnd, random.Random(rng.random())), daemon=True)
                for _ in range(CHURN_THREADS)]
    for th in churners:
        th.start()
    time.sleep(moment)
    killed = kill_victim(w, victim, rng)
    if killed is None:
        victim, killed = "none", "no monitor to kill"
    w.killed = killed
    t_kill = time.monotonic()
    time.sleep(down)
    if victim == "netd":
        w.netd.start()
    elif victim == "ecsboxd":
        w.ecs.start()
    t_up = time.monotonic()
    time.sleep(rng.uniform(0.0, 1.0))           # the churn goes on against the restarted daemon
    stop.set()
    for th in churners:
        th.join(timeout=60)
    if any(th.is_alive() for th in churners):
        return victim, moment, None, [f"churn thread stuck in a call for 60 s after stop ({killed})"]
    sender.wait(timeout=60)
    t_end = int(time.time())
    why = w.settle(min(deadline, t_up + SETTLE_DEADLINE))
    settle = time.monotonic() - t_up
    if why:
        return victim, moment, None, [f"not settled {settle:.0f} s after the restart ({killed}): " + "; ".join(why[:10])]
    bad = w.check()
    fbad, flow = w.check_flow(sport, before, t_start, t_end, deadline)
    w.last = f"{w.killed}; tasks {len(w.running_tasks)}, flow {flow[0]} pkts"
    return victim, moment, settle, bad + fbad


def on_term(signum, frame):
    raise KeyboardInterrupt("SIGTERM")


def main():
    signal.signal(signal.SIGTERM, on_term)      # the sandbox is closed on the way out
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time())
    overall = time.monotonic() + rounds * ROUND_DEADLINE / 2 + 600
    rng = random.Random(seed)
    log(f"chaos: {rounds} rounds, seed {seed}")
    kills, settles, failures = {}, [], []
    with bench_sandbox("ecsbox-chaos-", images=True) as sb:
        w = World(sb, rng)
        w.setup()
        why = w.settle(time.monotonic() + 60)
        if why:
            log("initial state did not settle: " + "; ".join(why))
            return 2
        t0 = time.monotonic()
        for rnd in range(1, rounds + 1):
            if time.monotonic() > overall:
                failures.append((rnd, ["overall deadline passed"]))
                break
            try:
                victim, moment, settle, bad = one_round(w, rnd, rng)
            except Exception as e:      # a helper timed out or a daemon did not restart: evidence
                victim, moment, settle, bad = "?", 0, None, [f"round aborted: {e!r}\n{traceback.format_exc()}"]
            kills[victim] = kills.get(victim, 0) + 1
            if settle is not None:
                settles.append(settle)
            ok = "ok" if not bad else f"BROKEN ({len(bad)})"
            log(f"round {rnd:3d} victim {victim:8s} at {moment:4.2f} s  settle "
                f"{'-' if settle is None else f'{settle:5.1f} s'}  invariants {ok}  ({w.last})")
            w.last = "-"
            for b in bad:
                log("    " + b)
            if bad:
                failures.append((rnd, bad))
                if any(b.startswith(("round aborted", "not settled", "churn thread")) for b in bad) and len(failures) >= 3:
                    log("stopping: three failed rounds and the last one did not settle")
                    break
        took = time.monotonic() - t0
        log(f"summary: {rnd} rounds in {took / 60:.1f} min, seed {seed}; kills " +
            ", ".join(f"{k} {v}" for k, v in sorted(kills.items())))
        if settles:
            log(f"  settle after restart: p50 {pct(settles, 50):.1f} s, p99 {pct(settles, 99):.1f} s, max {max(settles):.1f} s")
        log(f"  churn: {w.calls} calls, {len(w.acked_tasks)} RunTask tasks acknowledged, {len(w.services)} services; "
            f"errors while a daemon was down: {w.errors}")
        log(f"  flow windows marked SKIPDATA by a cut pass: {len(w.skipdata)} {w.skipdata}")
        log(f"  failures: {len(failures)} rounds" + ("" if not failures else ": " + ", ".join(str(r) for r, _ in failures)))
        if failures:
            for name in ("netd.log", "ecsboxd.log"):
                p = os.path.join(sb.tmp, name)
                subprocess.run(["cp", p, f"/tmp/chaos-{seed}-{name}"], check=False)
            log(f"  logs kept in /tmp/chaos-{seed}-netd.log and /tmp/chaos-{seed}-ecsboxd.log")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
