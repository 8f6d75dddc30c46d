"""Flow logs end to end: two awsvpc task namespaces, real traffic inside the sandbox, the records netd writes
checked against independent counts (the sender's own numbers, or `nft` counters in a witness table)."""
import json
import os
import re
import time

import pytest

from sandbox import Netd, wait_for
from test_sg import allow_in, default_sg, make_subnet, make_vpc, nft, perm, task

DEFAULT_HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
                  "start end action log-status")

# UDP: N datagrams of M bytes from one source port (or one per source port with --ports)
UDP_SEND = r"""
import socket, sys
ip, port, n, size, ports = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if ports:
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 20000 + i))
        s.sendto(b"x" * size, (ip, port))
        s.close()
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 40000))
    for i in range(n):
        s.sendto(b"x" * size, (ip, port))
"""

UDP_SINK = r"""
import socket, sys
port, ready = int(sys.argv[1]), sys.argv[2]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
u.bind(("0.0.0.0", port))
open(ready, "w").write("ok")
while True:
    u.recv(65535)
"""

# TCP: a server that reads everything and closes; a client that sends N bytes and closes.
TCP_SINK = r"""
import socket, sys
port, ready = int(sys.argv[1]), sys.argv[2]
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("0.0.0.0", port)); t.listen(16)
open(ready, "w").write("ok")
while True:
    c, _ = t.accept()
    while c.recv(65536):
        pass
    c.close()
"""

TCP_SEND = r"""
import socket, sys
ip, port, n, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(); s.bind(("0.0.0.0", sport)); s.connect((ip, port))
s.sendall(b"y" * n)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()
"""

# A TCP connect that nobody answers (the SG drops it): exits after the timeout.
TCP_TRY = r"""
import socket, sys
ip, port, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(); s.bind(("0.0.0.0", sport)); s.settimeout(float(sys.argv[4]))
try:
    s.connect((ip, port)); print("connected")
except OSError as e:
    print("fail", e)
"""


def setup_pair(sb, netd, **kw):
    vpc = make_vpc(netd)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    a = task(netd, s, "a", **kw)
    b = task(netd, s, "b")
    return vpc, s, a, b


def logdir(sb, name="fl"):
    d = os.path.join(sb.tmp, name)
    os.makedirs(d, exist_ok=True)
    return d


def create(netd, ids, dest, rtype="NetworkInterface", traffic="ALL", interval=1, fmt=None):
    p = dict(ResourceType=rtype, ResourceIds=ids, TrafficType=traffic, LogDestinationType="file",
             LogDestination=dest, MaxAggregationInterval=interval)
    if fmt:
        p["LogFormat"] = fmt
    doc = netd.ok("CreateFlowLogs", **p)
    assert doc["Unsuccessful"] == []
    return doc["FlowLogIds"]


def records(netd, eni, fl=None):
    p = dict(NetworkInterfaceId=eni)
    if fl:
        p["FlowLogId"] = fl
    out = netd.ok("GetFlowLogs", **p)["FlowLogRecords"]
    lines = []
    for f in out:
        lines += f["Records"]
    return lines


def parse(lines, header=DEFAULT_HEADER):
    names = header.split()
    return [dict(zip(names, l.split())) for l in lines]


def ok_recs(netd, eni, **match):
    out = []
    for r in parse(records(netd, eni)):
        if r["log-status"] != "OK":
            continue
        if all(r[k] == str(v) for k, v in match.items()):
            out.append(r)
    return out


def total(recs, field="packets"):
    return sum(int(r[field]) for r in recs)


def ready_file(sb, name):
    p = f"/tmp/ready-{name}"
    sb.run(["rm", "-f", p])
    return p


def spawn_in(sb, netns, script, *args, ready=None):
    sb.spawn(["ip", "netns", "exec", netns, "python3", "-c", script] + [str(a) for a in args])
    if ready:
        wait_for(lambda: sb.run(["test", "-e", ready], check=False).returncode == 0, 10, what=f"ready {ready}")


def run_in(sb, netns, script, *args, timeout=60):
    return sb.run(["ip", "netns", "exec", netns, "python3", "-c", script] + [str(a) for a in args], timeout=timeout)


def windows_settled(netd, eni, interval=1):
    """Wait until a window that started after now has been written (the NODATA or OK record of a later window)."""
    t0 = int(time.time())

    def done():
        for r in parse(records(netd, eni)):
            if int(r["start"]) > t0:
                return True
        return False
    wait_for(done, 10 + 2 * interval, interval=0.2, what=f"a flow log window after {t0} for {eni}")


WITNESS = """
table ip witness {
  counter c_in { }
  counter c_out { }
  chain wi { type filter hook input priority -10; ip saddr %(peer)s ip protocol %(proto)s counter name "c_in"; }
  chain wo { type filter hook output priority -10; ip daddr %(peer)s ip protocol %(proto)s counter name "c_out"; }
}
"""


def witness(sb, netns, peer, proto):
    sb.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=WITNESS % {"peer": peer, "proto": proto})


def witness_read(sb, netns):
    out = nft(sb, netns, "list", "table", "ip", "witness").stdout
    c = {}
    for name in ("c_in", "c_out"):
        m = re.search(r"counter %s \{\s*packets (\d+) bytes (\d+)" % name, out)
        c[name] = (int(m.group(1)), int(m.group(2)))
    return c


def test_udp_exact(sb, netd):
    vpc, s, a, b = setup_pair(sb, netd)
    dest = logdir(sb)
    create(netd, [a["NetworkInterfaceId"], b["NetworkInterfaceId"]], dest)
    r = ready_file(sb, "udp")
    spawn_in(sb, "b", UDP_SINK, 9000, r, ready=r)
    n, m = 50, 100
    run_in(sb, "a", UDP_SEND, b["PrivateIpAddress"], 9000, n, m, 0)
    ip_a, ip_b = a["PrivateIpAddress"], b["PrivateIpAddress"]
    want = dict(srcaddr=ip_a, dstaddr=ip_b, srcport=40000, dstport=9000, protocol=17, action="ACCEPT")
    wait_for(lambda: total(ok_recs(netd, a["NetworkInterfaceId"], **want)) >= n, 10, interval=0.2, what="egress records")
    wait_for(lambda: total(ok_recs(netd, b["NetworkInterfaceId"], **want)) >= n, 10, interval=0.2, what="ingress records")
    windows_settled(netd, b["NetworkInterfaceId"])
    for eni in (a, b):
        recs = ok_recs(netd, eni["NetworkInterfaceId"], **want)
        assert total(recs) == n
        assert total(recs, "bytes") == n * (m + 28)      # IP + UDP headers
        for rec in recs:
            assert rec["version"] == "2" and rec["interface-id"] == eni["NetworkInterfaceId"]
            assert int(rec["end"]) - int(rec["start"]) == 1
    # the file: header first, then records
    with open(os.path.join(dest, a["NetworkInterfaceId"] + ".log")) as f:
        assert f.readline().strip() == DEFAULT_HEADER


FULL = ("${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} "
        "${start} ${end} ${action} ${log-status} ${tcp-flags} ${flow-direction}")
FULL_HEADER = FULL.replace("${", "").replace("}", "")


def frecs(netd, eni, header=FULL_HEADER, fl=None, **match):
    out = []
    for r in parse(records(netd, eni, fl), header):
        if r["log-status"] == "OK" and all(r[k] == str(v) for k, v in match.items()):
            out.append(r)
    return out


def flags_or(recs):
    v = 0
    for r in recs:
        v |= int(r["tcp-flags"])
    return v


def test_tcp_transfer_matches_witness(sb, netd):
    vpc, s, a, b = setup_pair(sb, netd)
    ip_a, ip_b = a["PrivateIpAddress"], b["PrivateIpAddress"]
    witness(sb, "a", ip_b, "tcp")
    witness(sb, "b", ip_a, "tcp")
    create(netd, [a["NetworkInterfaceId"], b["NetworkInterfaceId"]], logdir(sb), fmt=FULL)
    r = ready_file(sb, "tcp")
    spawn_in(sb, "b", TCP_SINK, 8080, r, ready=r)
    size = 3 * 1000 * 1000 + 17
    run_in(sb, "a", TCP_SEND, ip_b, 8080, size, 41000)
    fwd = dict(srcaddr=ip_a, dstaddr=ip_b, srcport=41000, dstport=8080, protocol=6, action="ACCEPT")
    rev = dict(srcaddr=ip_b, dstaddr=ip_a, srcport=8080, dstport=41000, protocol=6, action="ACCEPT")
    wait_for(lambda: total(frecs(netd, b["NetworkInterfaceId"], **fwd), "bytes") >= size, 10, interval=0.2,
             what="ingress bytes on b")
    windows_settled(netd, a["NetworkInterfaceId"])
    windows_settled(netd, b["NetworkInterfaceId"])
    wa, wb = witness_read(sb, "a"), witness_read(sb, "b")
    ea = frecs(netd, a["NetworkInterfaceId"], flow_direction="egress", **fwd) if False else \
        [x for x in frecs(netd, a["NetworkInterfaceId"], **fwd) if x["flow-direction"] == "egress"]
    ia = [x for x in frecs(netd, a["NetworkInterfaceId"], **rev) if x["flow-direction"] == "ingress"]
    ib = [x for x in frecs(netd, b["NetworkInterfaceId"], **fwd) if x["flow-direction"] == "ingress"]
    eb = [x for x in frecs(netd, b["NetworkInterfaceId"], **rev) if x["flow-direction"] == "egress"]
    # every record of both ENIs agrees with the witness counters (same hooks, same skbs)
    assert (total(ea), total(ea, "bytes")) == wa["c_out"]
    assert (total(ia), total(ia, "bytes")) == wa["c_in"]
    assert (total(ib), total(ib, "bytes")) == wb["c_in"]
    assert (total(eb), total(eb, "bytes")) == wb["c_out"]
    # the payload plus at least 40 header bytes per packet
    assert total(ea, "bytes") >= size + 40 * total(ea)
    # a short connection: 3 client->server, 19 server->client, on both ENIs
    assert flags_or(ea) == 3 and flags_or(ib) == 3
    assert flags_or(ia) == 19 and flags_or(eb) == 19
    # nothing else was metered on these ENIs
    assert all(r["protocol"] == "6" for r in frecs(netd, a["NetworkInterfaceId"]))


def test_icmp_ping(sb, netd):
    vpc, s, a, b = setup_pair(sb, netd)
    ip_a, ip_b = a["PrivateIpAddress"], b["PrivateIpAddress"]
    create(netd, [a["NetworkInterfaceId"], b["NetworkInterfaceId"]], logdir(sb), interval=2, fmt=FULL)
    n = 5
    sb.run(["ip", "netns", "exec", "a", "ping", "-c", str(n), "-i", "0.2", "-W", "1", ip_b])
    req = dict(srcaddr=ip_a, dstaddr=ip_b, srcport=0, dstport=0, protocol=1, action="ACCEPT")
    rep = dict(srcaddr=ip_b, dstaddr=ip_a, srcport=0, dstport=0, protocol=1, action="ACCEPT")
    wait_for(lambda: total(frecs(netd, a["NetworkInterfaceId"], **rep)) >= n, 10, interval=0.2, what="ICMP replies")
    windows_settled(netd, a["NetworkInterfaceId"], 2)
    windows_settled(netd, b["NetworkInterfaceId"], 2)
    for eni, d_req, d_rep in ((a, "egress", "ingress"), (b, "ingress", "egress")):
        rq = frecs(netd, eni["NetworkInterfaceId"], **req)
        rp = frecs(netd, eni["NetworkInterfaceId"], **rep)
        assert total(rq) == n and total(rp) == n
        assert total(rq, "bytes") == n * 84 and total(rp, "bytes") == n * 84
        assert {r["flow-direction"] for r in rq} == {d_req} and {r["flow-direction"] for r in rp} == {d_rep}
        assert {r["tcp-flags"] for r in rq + rp} == {"-"}
        assert all(int(r["end"]) - int(r["start"]) == 2 and int(r["start"]) % 2 == 0 for r in rq + rp)


def test_reject_and_traffic_type(sb, netd):
    vpc = make_vpc(netd)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    web = netd.ok("CreateSecurityGroup", GroupName="web", Description="web", VpcId=vpc["VpcId"])["GroupId"]
    allow_in(netd, web, perm("tcp", 80, cidr="10.0.0.0/16"))
    a = task(netd, s, "a")
    b = task(netd, s, "b", Groups=[web])
    ip_a, ip_b = a["PrivateIpAddress"], b["PrivateIpAddress"]
    d_all, d_acc, d_rej = logdir(sb, "all"), logdir(sb, "acc"), logdir(sb, "rej")
    [f_all] = create(netd, [b["NetworkInterfaceId"]], d_all, fmt=FULL)
    [f_acc] = create(netd, [b["NetworkInterfaceId"]], d_acc, traffic="ACCEPT", fmt=FULL)
    [f_rej] = create(netd, [b["NetworkInterfaceId"]], d_rej, traffic="REJECT", fmt=FULL)
    r = ready_file(sb, "tcp80")
    spawn_in(sb, "b", TCP_SINK, 80, r, ready=r)
    spawn_in(sb, "b", TCP_SINK, 8081, ready_file(sb, "tcp8081"))
    run_in(sb, "a", TCP_SEND, ip_b, 80, 1000, 42000)
    out = run_in(sb, "a", TCP_TRY, ip_b, 8081, 42001, 1.5).stdout
    assert out.startswith("fail")
    blocked = dict(srcaddr=ip_a, dstaddr=ip_b, srcport=42001, dstport=8081, protocol=6)
    allowed = dict(srcaddr=ip_a, dstaddr=ip_b, srcport=42000, dstport=80, protocol=6, action="ACCEPT")
    eni = b["NetworkInterfaceId"]
    wait_for(lambda: frecs(netd, eni, fl=f_all, **blocked) and frecs(netd, eni, fl=f_all, **allowed), 10,
             interval=0.2, what="records")
    windows_settled(netd, eni)
    rej = frecs(netd, eni, fl=f_all, **blocked)
    assert {r["action"] for r in rej} == {"REJECT"}
    assert total(rej) >= 1 and flags_or(rej) == 2 and {r["flow-direction"] for r in rej} == {"ingress"}
    assert flags_or(frecs(netd, eni, fl=f_all, **allowed)) == 3
    # ACCEPT omits the rejects; REJECT has only them
    assert frecs(netd, eni, fl=f_acc, **blocked) == []
    assert total(frecs(netd, eni, fl=f_acc, **allowed)) == total(frecs(netd, eni, fl=f_all, **allowed))
    assert {r["action"] for r in frecs(netd, eni, fl=f_rej)} == {"REJECT"}
    assert total(frecs(netd, eni, fl=f_rej, **blocked)) == total(rej)


def test_idle_eni_nodata(sb, netd):
    vpc = make_vpc(netd)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    c = task(netd, s, "c")
    create(netd, [c["NetworkInterfaceId"]], logdir(sb))
    # traffic with the subnet's gateway is not logged (AWS leaves out its router and DNS addresses)
    sb.run(["ip", "netns", "exec", "c", "ping", "-c", "3", "-i", "0.2", "-W", "1", "10.0.1.1"])
    wait_for(lambda: len(records(netd, c["NetworkInterfaceId"])) >= 3, 10, interval=0.2, what="3 windows")
    recs = parse(records(netd, c["NetworkInterfaceId"]))
    for r in recs:
        assert r["log-status"] == "NODATA"
        assert [r[k] for k in ("srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes", "action")] \
            == ["-"] * 8
        assert r["interface-id"] == c["NetworkInterfaceId"] and r["account-id"] != "-"
        assert int(r["end"]) - int(r["start"]) == 1
    starts = [int(r["start"]) for r in recs]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


ECS_FORMAT = ("${version} ${account-id} ${interface-id} ${vpc-id} ${subnet-id} ${instance-id} ${type} ${region} "
              "${az-id} ${sublocation-type} ${sublocation-id} ${pkt-srcaddr} ${pkt-dstaddr} ${pkt-src-aws-service} "
              "${pkt-dst-aws-service} ${flow-direction} ${traffic-path} ${ecs-cluster-arn} ${ecs-cluster-name} "
              "${ecs-container-instance-arn} ${ecs-container-instance-id} ${ecs-container-id} "
              "${ecs-second-container-id} ${ecs-service-name} ${ecs-task-definition-arn} ${ecs-task-arn} "
              "${ecs-task-id} ${protocol} ${packets} ${log-status}")


def test_custom_format_and_ecs_fields(sb, netd):
    vpc = make_vpc(netd)
    s = netd.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]
    md = {"clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/prod",
          "taskArn": "arn:aws:ecs:us-east-1:000000000000:task/prod/5d2f3c1a9b8e4f7a86c1d0e2b3a4f596",
          "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3",
          "serviceName": "web", "containerIds": ["c0ffee01", "c0ffee02"],
          "containerInstanceArn": "arn:aws:ecs:us-east-1:000000000000:container-instance/prod/9a8b7c6d"}
    a = task(netd, s, "a", Metadata=md)
    b = task(netd, s, "b")
    d = logdir(sb)
    fl, _ = create(netd, [a["NetworkInterfaceId"], b["NetworkInterfaceId"]], d, fmt=ECS_FORMAT)
    desc = netd.ok("DescribeFlowLogs", FlowLogIds=[fl])["FlowLogs"][0]
    assert desc["LogFormat"] == ECS_FORMAT and desc["MaxAggregationInterval"] == 1
    sb.run(["ip", "netns", "exec", "a", "ping", "-c", "2", "-i", "0.2", "-W", "1", b["PrivateIpAddress"]])
    header = ECS_FORMAT.replace("${", "").replace("}", "")
    wait_for(lambda: [r for r in parse(records(netd, a["NetworkInterfaceId"]), header) if r["log-status"] == "OK"],
             10, interval=0.2, what="records on a")
    out = netd.ok("GetFlowLogs", NetworkInterfaceId=a["NetworkInterfaceId"])["FlowLogRecords"]
    assert out[0]["Header"] == header
    with open(os.path.join(d, a["NetworkInterfaceId"] + ".log")) as f:
        assert f.readline().rstrip("\n") == header
    recs = [r for r in parse(records(netd, a["NetworkInterfaceId"]), header) if r["log-status"] == "OK"]
    eg = [r for r in recs if r["flow-direction"] == "egress"][0]
    assert eg["version"] == "7"
    assert eg["vpc-id"] == vpc["VpcId"] and eg["subnet-id"] == s["SubnetId"] and eg["instance-id"] == "-"
    assert eg["type"] == "IPv4" and eg["region"] == "us-east-1" and eg["az-id"] == "use1-az2"
    assert eg["pkt-srcaddr"] == a["PrivateIpAddress"] and eg["pkt-dstaddr"] == b["PrivateIpAddress"]
    assert eg["traffic-path"] == "1"
    assert [eg[k] for k in ("sublocation-type", "sublocation-id", "pkt-src-aws-service", "pkt-dst-aws-service")] == ["-"] * 4
    assert eg["ecs-cluster-arn"] == md["clusterArn"] and eg["ecs-cluster-name"] == "prod"
    assert eg["ecs-container-instance-arn"] == md["containerInstanceArn"] and eg["ecs-container-instance-id"] == "9a8b7c6d"
    assert eg["ecs-container-id"] == "c0ffee01" and eg["ecs-second-container-id"] == "c0ffee02"
    assert eg["ecs-service-name"] == "web" and eg["ecs-task-definition-arn"] == md["taskDefinitionArn"]
    assert eg["ecs-task-arn"] == md["taskArn"] and eg["ecs-task-id"] == "5d2f3c1a9b8e4f7a86c1d0e2b3a4f596"
    ing = [r for r in recs if r["flow-direction"] == "ingress"][0]
    assert ing["traffic-path"] == "-"
    # a task without metadata: every ecs field is "-"
    wait_for(lambda: [r for r in parse(records(netd, b["NetworkInterfaceId"]), header) if r["log-status"] == "OK"],
             10, interval=0.2, what="records on b")
    rb = [r for r in parse(records(netd, b["NetworkInterfaceId"]), header) if r["log-status"] == "OK"][0]
    assert all(rb[k] == "-" for k in rb if k.startswith("ecs-"))


def test_subnet_flow_log_covers_later_eni(sb, netd):
    vpc = make_vpc(netd)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    a = task(netd, s, "a")
    d = logdir(sb)
    [fl] = create(netd, [s["SubnetId"]], d, rtype="Subnet", fmt=FULL)
    [fv] = create(netd, [vpc["VpcId"]], logdir(sb, "vpc"), rtype="VPC", fmt=FULL)
    c = task(netd, s, "c")             # made after the flow log
    sb.run(["ip", "netns", "exec", "c", "ping", "-c", "3", "-i", "0.2", "-W", "1", a["PrivateIpAddress"]])
    want = dict(srcaddr=c["PrivateIpAddress"], dstaddr=a["PrivateIpAddress"], protocol=1)
    for f in (fl, fv):
        wait_for(lambda: total(frecs(netd, c["NetworkInterfaceId"], fl=f, **want)) >= 3, 10, interval=0.2,
                 what="records of the later ENI")
        wait_for(lambda: total(frecs(netd, a["NetworkInterfaceId"], fl=f, **want)) >= 3, 10, interval=0.2,
                 what="records of the earlier ENI")
    assert os.path.exists(os.path.join(d, c["NetworkInterfaceId"] + ".log"))
    assert netd.ok("DescribeFlowLogs", Filters=[{"Name": "resource-id", "Values": [s["SubnetId"]]}])["FlowLogs"][0]["FlowLogId"] == fl


def test_final_window_on_delete_task_network(sb, netd):
    vpc, s, a, b = setup_pair(sb, netd)
    create(netd, [a["NetworkInterfaceId"]], logdir(sb), interval=600)
    r = ready_file(sb, "udp")
    spawn_in(sb, "b", UDP_SINK, 9000, r, ready=r)
    run_in(sb, "a", UDP_SEND, b["PrivateIpAddress"], 9000, 7, 10, 0)
    if int(time.time()) % 600 > 5:      # a 600 s window that is not ending: nothing written yet
        assert ok_recs(netd, a["NetworkInterfaceId"]) == []
    netd.ok("DeleteTaskNetwork", NetworkInterfaceId=a["NetworkInterfaceId"])
    recs = ok_recs(netd, a["NetworkInterfaceId"], dstport=9000)
    assert total(recs) == 7 and total(recs, "bytes") == 7 * 38
    assert int(recs[-1]["start"]) % 600 == 0 and int(recs[-1]["end"]) <= time.time()


RATE_SEND = r"""
import socket, sys, time
ip, port, n, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 40001))
for i in range(n):
    s.sendto(b"z" * 64, (ip, port))
    time.sleep(gap)
print("sent", n)
"""


def test_restart_loses_nothing(sb, netd):
    vpc, s, a, b = setup_pair(sb, netd)
    ip_a = a["PrivateIpAddress"]
    witness(sb, "b", ip_a, "udp")
    create(netd, [b["NetworkInterfaceId"]], logdir(sb))
    r = ready_file(sb, "udp")
    spawn_in(sb, "b", UDP_SINK, 9000, r, ready=r)
    n = 1500
    p = sb.spawn(["ip", "netns", "exec", "a", "python3", "-c", RATE_SEND, b["PrivateIpAddress"], "9000", str(n), "0.002"])
    want = dict(srcaddr=ip_a, srcport=40001, dstport=9000, protocol=17)
    wait_for(lambda: total(ok_recs(netd, b["NetworkInterfaceId"], **want)) > 0, 10, interval=0.1, what="first records")
    netd.kill9()
    time.sleep(1.5)                     # traffic goes on, counted in the kernel only
    netd.start()
    p.wait(timeout=60)
    windows_settled(netd, b["NetworkInterfaceId"])
    w = witness_read(sb, "b")["c_in"]
    recs = ok_recs(netd, b["NetworkInterfaceId"], **want)
    assert w[0] == n
    assert (total(recs), total(recs, "bytes")) == w


def test_many_flows(sb, netd):
    vpc, s, a, b = setup_pair(sb, netd)
    create(netd, [b["NetworkInterfaceId"]], logdir(sb), interval=2)
    r = ready_file(sb, "udp")
    spawn_in(sb, "b", UDP_SINK, 9000, r, ready=r)
    n = 2500
    run_in(sb, "a", UDP_SEND, b["PrivateIpAddress"], 9000, n, 20, 1)
    want = dict(srcaddr=a["PrivateIpAddress"], dstport=9000, protocol=17)
    wait_for(lambda: len(ok_recs(netd, b["NetworkInterfaceId"], **want)) >= n, 15, interval=0.3, what=f"{n} flows")
    windows_settled(netd, b["NetworkInterfaceId"], 2)
    recs = ok_recs(netd, b["NetworkInterfaceId"], **want)
    ports = sorted(int(r["srcport"]) for r in recs)
    assert ports == list(range(20000, 20000 + n))
    assert all(r["packets"] == "1" and r["bytes"] == "48" for r in recs)
    assert not [x for x in parse(records(netd, b["NetworkInterfaceId"])) if x["log-status"] == "SKIPDATA"]


def test_api_errors_describe_delete(sb, netd):
    vpc, s, a, b = setup_pair(sb, netd)
    d = logdir(sb)
    eni = a["NetworkInterfaceId"]
    base = dict(ResourceType="NetworkInterface", ResourceIds=[eni], TrafficType="ALL", LogDestinationType="file",
                LogDestination=d)

    def bad(code, **kw):
        p = dict(base)
        p.update(kw)
        for k in [k for k, v in p.items() if v is None]:
            del p[k]
        assert netd.err("CreateFlowLogs", **p) == code, kw

    bad("InvalidParameter", ResourceType="TransitGateway")
    bad("MissingParameter", ResourceType=None)
    bad("InvalidParameter", TrafficType="SOME")
    bad("InvalidParameter", TrafficType=None)
    bad("InvalidParameter", MaxAggregationInterval=0)
    bad("InvalidParameter", MaxAggregationInterval=601)
    bad("InvalidParameter", LogDestinationType="s3")
    bad("InvalidParameter", LogDestinationType=None)
    bad("InvalidParameter", LogDestination="relative/dir")
    bad("InvalidParameter", LogDestination=d + "/missing")
    bad("InvalidParameter", LogFormat="${srcaddr} ${nope}")
    bad("InvalidParameter", LogFormat="${srcaddr},${dstaddr}")
    bad("InvalidParameter", ResourceIds=[])
    bad("InvalidNetworkInterfaceID.Malformed", ResourceIds=["nope-1"])
    bad("InvalidNetworkInterfaceID.NotFound", ResourceIds=[eni, "eni-0123456789abcdef0"])   # all or nothing
    bad("InvalidSubnetID.NotFound", ResourceType="Subnet", ResourceIds=["subnet-0123456789abcdef0"])
    bad("InvalidVpcID.NotFound", ResourceType="VPC", ResourceIds=["vpc-0123456789abcdef0"])
    bad("UnknownParameter", Bogus=1)
    assert netd.ok("DescribeFlowLogs")["FlowLogs"] == []
    [f1] = create(netd, [eni], d, interval=60)
    bad("FlowLogAlreadyExists")
    [f2] = netd.ok("CreateFlowLogs", ResourceType="NetworkInterface", ResourceIds=[b["NetworkInterfaceId"]],
                   TrafficType="REJECT", LogDestinationType="file", LogDestination=d, MaxAggregationInterval=1,
                   TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "team", "Value": "net"}]}]
                   )["FlowLogIds"]
    assert netd.ok("DescribeFlowLogs", FlowLogIds=[f2])["FlowLogs"][0]["Tags"] == [{"Key": "team", "Value": "net"}]
    assert [f["FlowLogId"] for f in netd.ok("DescribeFlowLogs", Filters=[{"Name": "tag:team", "Values": ["net"]}])
            ["FlowLogs"]] == [f2]
    [f3] = netd.ok("CreateFlowLogs", ResourceType="NetworkInterface", ResourceIds=[eni], TrafficType="REJECT",
                   LogDestinationType="file", LogDestination=d)["FlowLogIds"]
    all_ = netd.ok("DescribeFlowLogs")["FlowLogs"]
    assert {f["FlowLogId"] for f in all_} == {f1, f2, f3}
    one = netd.ok("DescribeFlowLogs", FlowLogIds=[f1])["FlowLogs"][0]
    assert one["ResourceId"] == eni and one["TrafficType"] == "ALL" and one["LogDestinationType"] == "file"
    assert one["LogDestination"] == d and one["MaxAggregationInterval"] == 60
    assert one["FlowLogStatus"] == "ACTIVE" and one["DeliverLogsStatus"] == "SUCCESS"
    assert one["LogFormat"] == "${" + DEFAULT_HEADER.replace(" ", "} ${") + "}"
    assert not any(k.startswith("ebx") for k in one)
    f3d = netd.ok("DescribeFlowLogs", FlowLogIds=[f3])["FlowLogs"][0]
    assert f3d["MaxAggregationInterval"] == 600
    got = netd.ok("DescribeFlowLogs", Filters=[{"Name": "resource-id", "Values": [eni]}])["FlowLogs"]
    assert {f["FlowLogId"] for f in got} == {f1, f3}
    got = netd.ok("DescribeFlowLogs", Filter=[{"Name": "traffic-type", "Values": ["REJECT"]}])["FlowLogs"]
    assert {f["FlowLogId"] for f in got} == {f2, f3}
    assert netd.err("DescribeFlowLogs", FlowLogIds=["fl-0123456789abcdef0"]) == "InvalidFlowLogId.NotFound"
    assert netd.err("DeleteFlowLogs", FlowLogIds=[f1, "fl-0123456789abcdef0"]) == "InvalidFlowLogId.NotFound"
    assert len(netd.ok("DescribeFlowLogs")["FlowLogs"]) == 3            # nothing deleted
    assert netd.ok("DeleteFlowLogs", FlowLogIds=[f1, f2])["Unsuccessful"] == []
    assert [f["FlowLogId"] for f in netd.ok("DescribeFlowLogs")["FlowLogs"]] == [f3]
    assert netd.err("GetFlowLogs", NetworkInterfaceId="x") == "InvalidNetworkInterfaceID.Malformed"
    assert netd.err("GetFlowLogs", NetworkInterfaceId=eni, FlowLogId=f1) == "InvalidFlowLogId.NotFound"
    # survives a restart
    netd.stop()
    netd.start()
    assert [f["FlowLogId"] for f in netd.ok("DescribeFlowLogs")["FlowLogs"]] == [f3]


def test_cli_flow_logs(sb, netd):
    def cli(*args):
        return sb.ec2(*args).stdout
    vpc, s, a, b = setup_pair(sb, netd)
    d = logdir(sb)
    eni = a["NetworkInterfaceId"]
    out = json.loads(cli("create-flow-logs", "--resource-type", "NetworkInterface", "--resource-ids", eni,
                         b["NetworkInterfaceId"], "--traffic-type", "ALL", "--log-destination-type", "file",
                         "--log-destination", d, "--log-format", FULL, "--max-aggregation-interval", "1"))
    assert len(out["FlowLogIds"]) == 2
    fls = json.loads(cli("describe-flow-logs"))["FlowLogs"]
    assert {f["ResourceId"] for f in fls} == {eni, b["NetworkInterfaceId"]}
    sb.run(["ip", "netns", "exec", "a", "ping", "-c", "2", "-i", "0.2", "-W", "1", b["PrivateIpAddress"]])

    def lines():
        return cli("get-flow-logs", "--network-interface-id", eni).splitlines()
    def pings():     # the two requests may fall into two windows
        return sum(int(l.split()[7]) for l in lines()[1:]
                   if l.split()[2:7] == [a["PrivateIpAddress"], b["PrivateIpAddress"], "0", "0", "1"])
    wait_for(lambda: pings() == 2, 10, interval=0.2, what="records through the CLI")
    assert lines()[0] == FULL_HEADER
    cli("delete-flow-logs", "--flow-log-ids", *out["FlowLogIds"])
    assert json.loads(cli("describe-flow-logs"))["FlowLogs"] == []


def test_long_window_spool_survives_crash(sb, netd):
    """A 20 s window is polled every 10 s; what a poll read survives kill -9 in the spool."""
    vpc, s, a, b = setup_pair(sb, netd)
    [fl] = create(netd, [b["NetworkInterfaceId"]], logdir(sb), interval=20)
    r = ready_file(sb, "udp")
    spawn_in(sb, "b", UDP_SINK, 9000, r, ready=r)
    spool = os.path.join(sb.state, "flowlog", f"{fl}.{b['NetworkInterfaceId']}.spool")
    # send right after a window starts, so that a 10 s poll comes before the window ends
    wait_for(lambda: 0.5 < time.time() % 20 < 2, 25, interval=0.05, what="window start")
    run_in(sb, "a", UDP_SEND, b["PrivateIpAddress"], 9000, 9, 30, 0)
    wait_for(lambda: os.path.exists(spool) and "40000" in open(spool).read().replace(" ", " "), 15, interval=0.2,
             what="spool written by a poll")
    assert ok_recs(netd, b["NetworkInterfaceId"]) == []      # the window has not ended
    netd.kill9()
    # the meters were reset by the poll: after the restart only the spool knows these packets
    netd.start()
    want = dict(srcaddr=a["PrivateIpAddress"], srcport=40000, dstport=9000, protocol=17)
    wait_for(lambda: ok_recs(netd, b["NetworkInterfaceId"], **want), 30, interval=0.3, what="records after restart")
    recs = ok_recs(netd, b["NetworkInterfaceId"], **want)
    assert total(recs) == 9 and total(recs, "bytes") == 9 * 58
    wait_for(lambda: not os.path.exists(spool), 5, what="spool removed")


def test_skipdata_when_meters_cannot_be_read(sb, netd):
    vpc = make_vpc(netd)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    c = task(netd, s, "c")
    create(netd, [c["NetworkInterfaceId"]], logdir(sb))
    wait_for(lambda: records(netd, c["NetworkInterfaceId"]), 10, interval=0.2, what="a first window")
    assert {r["log-status"] for r in parse(records(netd, c["NetworkInterfaceId"]))} == {"NODATA"}
    nft(sb, "c", "delete", "table", "inet", "ecsbox")      # the meters are gone: every read fails
    wait_for(lambda: [r for r in parse(records(netd, c["NetworkInterfaceId"])) if r["log-status"] == "SKIPDATA"],
             10, interval=0.2, what="SKIPDATA")
    sk = [r for r in parse(records(netd, c["NetworkInterfaceId"])) if r["log-status"] == "SKIPDATA"][0]
    assert [sk[k] for k in ("srcaddr", "packets", "action")] == ["-", "-", "-"]
    assert int(sk["end"]) - int(sk["start"]) == 1


def test_skipdata_when_set_is_full(sb, netd):
    """A full meter set (65,535 elements, the kernel's cap for an unsized dynamic set) meters nothing more:
    the packets pass, `unmetered` counts them, and the window gets a SKIPDATA record."""
    vpc, s, a, b = setup_pair(sb, netd)
    ip_b = b["PrivateIpAddress"]
    elems = ",".join(f"10.9.{i >> 8}.{i & 255} . {ip_b} . udp . 1 . 1" for i in range(65535))
    p = sb.run(["ip", "netns", "exec", "b", "nft", "-f", "-"], check=False, timeout=120,
               input=f"add element inet ecsbox acc_in {{ {elems} }}\n")
    if p.returncode != 0:
        pytest.skip("cannot fill the set from userspace here: " + p.stderr[:200])
    create(netd, [b["NetworkInterfaceId"]], logdir(sb))
    r = ready_file(sb, "udp")
    spawn_in(sb, "b", UDP_SINK, 9000, r, ready=r)
    run_in(sb, "a", UDP_SEND, ip_b, 9000, 5, 10, 0)
    wait_for(lambda: [x for x in parse(records(netd, b["NetworkInterfaceId"])) if x["log-status"] == "SKIPDATA"],
             10, interval=0.2, what="SKIPDATA for the unmetered packets")
    assert ok_recs(netd, b["NetworkInterfaceId"], srcport=40000) == []
    log = open(netd.log).read()
    assert re.search(r'flows not metered .*packets=5', log)           # from `unmetered`, not a failed read
    assert "flow log read failed" not in log


def test_pass_cut_by_crash_gives_skipdata(sb, netd):
    """Reading a meter resets it: a netd killed after a pass read the meters and before it wrote them
    lost those counts silently (tests/chaos: 36 packets of a window gone). A pass now names its flow
    logs in STATE/flowlog/inflight until what it read is on disk; a start-up that finds the file writes
    SKIPDATA in their next window. A finished pass leaves no file."""
    vpc, s, a, b = setup_pair(sb, netd)
    eni = b["NetworkInterfaceId"]
    [fl] = create(netd, [eni], logdir(sb))
    marker = os.path.join(sb.state, "flowlog", "inflight")
    windows_settled(netd, eni)
    assert not os.path.exists(marker)
    netd.kill9()
    with open(marker, "w") as f:          # what a kill between the reads and the writes leaves
        f.write(fl + "\n")
    t0 = int(time.time())
    netd.start()

    def status_after(t, status):
        return [r for r in parse(records(netd, eni)) if r["log-status"] == status and int(r["start"]) >= t]
    skip = wait_for(lambda: status_after(t0, "SKIPDATA"), 10, interval=0.2, what="SKIPDATA after the cut pass")
    assert len(skip) == 1
    assert not os.path.exists(marker)
    # the window after it is an ordinary one again
    wait_for(lambda: status_after(int(skip[0]["end"]), "NODATA"), 10, interval=0.2, what="NODATA after SKIPDATA")
    assert len(status_after(t0, "SKIPDATA")) == 1
