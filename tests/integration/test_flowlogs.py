"""Flow logs end to end: two awsvpc task namespaces, real traffic inside the sandbox, the records netd writes
checked against independent counts (the sender's own numbers, or `nft` counters in a witness table)."""
import json
import os
import re
import time

import pytest

from sandbox import CLI, Netd, wait_for
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
  chain wi { type filter hook input priority -10; ip saddr %(peer)s ip protocol %(proto)s counter name "c_in" }
  chain wo { type filter hook output priority -10; ip daddr %(peer)s ip protocol %(proto)s counter name "c_out" }
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
