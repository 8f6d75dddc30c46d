"""Network load balancer data plane end to end, against netd's socket: LB addresses served by the VPC
router, DNAT through table ip ecsbox_lb to healthy targets, health checks, draining, UDP, a restart.
Targets are task networks (CreateTaskNetwork) running a tiny Python server that answers its own name
on TCP 8000 and UDP 8001 (HTTP on 8080: 200 for /health, 404 else; on 8002 its name for every
message of a connection kept open); a client task network makes the connections. Traffic stays in the sandbox."""
import json
import os
import time

from sandbox import wait_for

LB_ID = "0123456789abcdef"
TG_ID = "00000000000000a1"
UTG_ID = "00000000000000a2"
L_ID = "0000000000000b01"
UL_ID = "0000000000000b02"
ETG_ID = "00000000000000a3"
EL_ID = "0000000000000b03"
HC = {"Protocol": "TCP", "Port": "traffic-port", "IntervalSeconds": 1, "TimeoutSeconds": 1,
      "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}

SERVER = r"""
import http.server, socket, sys, threading
name = sys.argv[1].encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(name)
    def log_message(self, *a):
        pass
threading.Thread(target=http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever, daemon=True).start()
def echo():
    e = socket.socket()
    e.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    e.bind(("0.0.0.0", 8002))
    e.listen(16)
    def one(c):
        while c.recv(100):
            c.sendall(name + b"\n")
    while True:
        threading.Thread(target=one, args=(e.accept()[0],), daemon=True).start()
threading.Thread(target=echo, daemon=True).start()
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 8001))
    while True:
        data, peer = u.recvfrom(100)
        u.sendto(name, peer)
threading.Thread(target=udp, daemon=True).start()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8000))
s.listen(128)
while True:
    c, peer = s.accept()
    try:
        c.sendall(name + b" " + peer[0].encode() + b"\n")
    except OSError:
        pass
    c.close()
"""

# N connections (TCP) or datagrams from fresh ports (UDP) to IP:PORT: {"answers": {name: count}, "peers": [...], "fail": n}
CLIENT = r"""
import collections, json, socket, sys
ip, port, n, proto = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
answers, peers, fail = collections.Counter(), set(), 0
for i in range(n):
    try:
        if proto == "tcp":
            s = socket.create_connection((ip, port), timeout=2)
            words = s.recv(100).decode().split()
            answers[words[0]] += 1
            peers.add(words[1])
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1)
            s.sendto(b"hi", (ip, port))
            answers[s.recv(100).decode()] += 1
        s.close()
    except OSError:
        fail += 1
print(json.dumps({"answers": answers, "peers": sorted(peers), "fail": fail}))
"""


# one connection kept open: a message, the answer printed, a wait for the file GO, another message
LONG = r"""
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b"1")
print(s.recv(100).decode().strip(), flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
s.sendall(b"2")
print(s.recv(100).decode().strip(), flush=True)
"""


def task(netd, subnet, netns):
    return netd.ok("CreateTaskNetwork", SubnetId=subnet["SubnetId"], Netns=netns)["NetworkInterface"]


def serve(sb, netns):
    return sb.spawn(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c", SERVER, netns])


def connect(sb, ip, port, n, proto="tcp", netns="cli"):
    p = sb.run(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c", CLIENT, ip, str(port), str(n), proto], timeout=120)
    return json.loads(p.stdout)


def health(netd, tg=TG_ID):
    d = netd.ok("DescribeTargetHealth", TargetGroupId=tg)["TargetHealthDescriptions"]
    return {t["Target"]["Id"]: t["TargetHealth"] for t in d}


def states(netd, tg=TG_ID):
    return {ip: h["State"] for ip, h in health(netd, tg).items()}


def make_nlb(sb, netd):
    vpc = netd.ok("CreateVpc", CidrBlock="10.60.0.0/16")["Vpc"]
    s1 = netd.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock="10.60.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    s2 = netd.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock="10.60.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]
    sg = netd.ok("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
    targets = {}
    for name, sub in (("t1", s1), ("t2", s1), ("t3", s2)):
        targets[name] = task(netd, sub, name)["PrivateIpAddress"]
        serve(sb, name)
    task(netd, s2, "cli")
    lb = netd.ok("CreateLoadBalancerNetwork", LoadBalancerId=LB_ID, Name="web", Type="network", Scheme="internal",
                 VpcId=vpc["VpcId"], SubnetIds=[s1["SubnetId"], s2["SubnetId"]], SecurityGroups=[sg])["LoadBalancerNetwork"]
    netd.ok("PutTargetGroup", TargetGroupId=TG_ID, VpcId=vpc["VpcId"], Protocol="TCP", Port=8000,
            DeregistrationDelaySeconds=4, HealthCheck=HC)
    netd.ok("RegisterTargets", TargetGroupId=TG_ID, Targets=[{"Id": ip, "Port": 8000} for ip in targets.values()])
    return vpc, s1, s2, sg, targets, lb


def test_nlb_spreads_checks_drains_udp_and_survives_restart(sb, netd):
    vpc, s1, s2, sg, targets, lb = make_nlb(sb, netd)
    names = {ip: n for n, ip in targets.items()}
    # one address per subnet, an ENI each, as DescribeNetworkInterfaces shows them
    assert [a["SubnetId"] for a in lb["Addresses"]] == [s1["SubnetId"], s2["SubnetId"]]
    assert [a["AvailabilityZone"] for a in lb["Addresses"]] == ["us-east-1a", "us-east-1b"]
    enis = netd.ok("DescribeNetworkInterfaces", Filters=[{"Name": "interface-type", "Values": ["network_load_balancer"]}])
    enis = {e["NetworkInterfaceId"]: e for e in enis["NetworkInterfaces"]}
    for a in lb["Addresses"]:
        e = enis[a["NetworkInterfaceId"]]
        assert e["PrivateIpAddress"] == a["PrivateIpv4Address"] and e["Status"] == "in-use"
        assert e["RequesterManaged"] is True and e["Description"] == f"ELB net/web/{LB_ID}"
    # idempotent on LoadBalancerId
    again = netd.ok("CreateLoadBalancerNetwork", LoadBalancerId=LB_ID, Name="web", Type="network", VpcId=vpc["VpcId"],
                    SubnetIds=[s1["SubnetId"], s2["SubnetId"]])["LoadBalancerNetwork"]
    assert again["Addresses"] == lb["Addresses"]
    # the router serves the addresses
    lo = sb.run(["ip", "-n", "ebx-" + vpc["VpcId"], "-j", "addr", "show", "lo"]).stdout
    assert all(a["PrivateIpv4Address"] in lo for a in lb["Addresses"])
    # no listener yet: unused
    assert set(h["State"] for h in health(netd).values()) == {"unused"}
    assert health(netd)[targets["t1"]]["Reason"] == "Target.NotInUse"
    netd.ok("PutListener", LoadBalancerId=LB_ID, ListenerId=L_ID, Protocol="TCP", Port=80, TargetGroupId=TG_ID)
    wait_for(lambda: set(states(netd).values()) == {"healthy"}, 20, what="3 healthy targets")

    lb_ip = lb["Addresses"][0]["PrivateIpv4Address"]
    # t1's flow log shows the connections coming from the LB's address
    t1_eni = netd.ok("DescribeNetworkInterfaces", Filters=[{"Name": "attachment.netns", "Values": ["t1"]}])["NetworkInterfaces"][0]
    fl_dir = os.path.join(sb.tmp, "fl")
    os.makedirs(fl_dir, exist_ok=True)
    netd.ok("CreateFlowLogs", ResourceType="NetworkInterface", ResourceIds=[t1_eni["NetworkInterfaceId"]], TrafficType="ALL",
            LogDestinationType="file", LogDestination=fl_dir, MaxAggregationInterval=1,
            LogFormat="${srcaddr} ${dstaddr} ${dstport} ${action}")
    got = connect(sb, lb_ip, 80, 300)
    assert got["fail"] == 0, got
    assert set(got["answers"]) == {"t1", "t2", "t3"}, got
    assert all(c >= 60 for c in got["answers"].values()), got
    # the targets see the LB's address (SNAT), not the client's
    assert got["peers"] == [lb_ip] or set(got["peers"]) <= {a["PrivateIpv4Address"] for a in lb["Addresses"]}, got
    def flow_lines():
        out = netd.ok("GetFlowLogs", NetworkInterfaceId=t1_eni["NetworkInterfaceId"])["FlowLogRecords"]
        return [line for f in out for line in f["Records"]]
    wait_for(lambda: f"{lb_ip} {targets['t1']} 8000 ACCEPT" in flow_lines(), 15, what="t1's flow log record from the LB")
    # the other address of the LB forwards too
    got = connect(sb, lb["Addresses"][1]["PrivateIpv4Address"], 80, 30)
    assert got["fail"] == 0 and set(got["answers"]) == {"t1", "t2", "t3"}, got

    # t2 dies: unhealthy within interval x threshold (+ a tick), and no new connection goes to it
    t0 = time.monotonic()
    for pid in sb.run(["ip", "netns", "pids", "t2"]).stdout.split():
        sb.run(["kill", pid], check=False)
    wait_for(lambda: states(netd)[targets["t2"]] == "unhealthy", 10, what="t2 unhealthy")
    assert time.monotonic() - t0 < 1 * 2 + 4  # interval x threshold, + a tick, the timeout and slack
    assert health(netd)[targets["t2"]]["Reason"] in ("Target.FailedHealthChecks", "Target.Timeout")
    got = connect(sb, lb_ip, 80, 100)
    assert got["fail"] == 0 and set(got["answers"]) == {"t1", "t3"}, got

    # deregister t3: draining (no new connections), then gone after the delay
    netd.ok("DeregisterTargets", TargetGroupId=TG_ID, Targets=[{"Id": targets["t3"], "Port": 8000}])
    h = health(netd)[targets["t3"]]
    assert h["State"] == "draining" and h["Reason"] == "Target.DeregistrationInProgress"
    got = connect(sb, lb_ip, 80, 30)
    assert got["fail"] == 0 and set(got["answers"]) == {"t1"}, got
    wait_for(lambda: targets["t3"] not in health(netd), 15, what="t3 drained")

    # PreserveClientIp: t1 (another subnet than the client's) sees the client's own address
    cli_ip = netd.ok("DescribeNetworkInterfaces", Filters=[{"Name": "attachment.netns", "Values": ["cli"]}])["NetworkInterfaces"][0]["PrivateIpAddress"]
    netd.ok("PutTargetGroup", TargetGroupId=TG_ID, VpcId=vpc["VpcId"], Protocol="TCP", Port=8000, PreserveClientIp=True,
            DeregistrationDelaySeconds=4, HealthCheck=HC)
    got = connect(sb, lb_ip, 80, 10)
    assert got["fail"] == 0 and set(got["answers"]) == {"t1"} and got["peers"] == [cli_ip], got
    netd.ok("PutTargetGroup", TargetGroupId=TG_ID, VpcId=vpc["VpcId"], Protocol="TCP", Port=8000, DeregistrationDelaySeconds=4, HealthCheck=HC)
    got = connect(sb, lb_ip, 80, 10)
    assert got["fail"] == 0 and got["peers"] == [lb_ip], got

    # UDP: a listener of its own, health checked over TCP 8000
    netd.ok("PutTargetGroup", TargetGroupId=UTG_ID, VpcId=vpc["VpcId"], Protocol="UDP", Port=8001, DeregistrationDelaySeconds=0,
            HealthCheck={"Protocol": "TCP", "Port": "8000", "IntervalSeconds": 1, "TimeoutSeconds": 1,
                         "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2})
    netd.ok("RegisterTargets", TargetGroupId=UTG_ID, Targets=[{"Id": targets["t1"]}, {"Id": targets["t3"]}])
    netd.ok("PutListener", LoadBalancerId=LB_ID, ListenerId=UL_ID, Protocol="UDP", Port=53, TargetGroupId=UTG_ID)
    wait_for(lambda: set(states(netd, UTG_ID).values()) == {"healthy"}, 20, what="UDP targets healthy")
    assert {ip: h["State"] for ip, h in health(netd, UTG_ID).items()} == {targets["t1"]: "healthy", targets["t3"]: "healthy"}
    assert health(netd, UTG_ID) and netd.ok("DescribeTargetHealth", TargetGroupId=UTG_ID)["TargetHealthDescriptions"][0]["HealthCheckPort"] == "8000"
    got = connect(sb, lb_ip, 53, 60, "udp")
    assert got["fail"] == 0 and set(got["answers"]) == {"t1", "t3"}, got

    # netd restarts: forwarding goes on while it is down and after
    netd.stop()
    got = connect(sb, lb_ip, 80, 20)
    assert got["fail"] == 0 and set(got["answers"]) == {"t1"}, got
    netd.start()
    assert states(netd)[targets["t1"]] == "healthy"
    got = connect(sb, lb_ip, 80, 20)
    assert got["fail"] == 0 and set(got["answers"]) == {"t1"}, got
    # the table and an address removed behind netd's back while it is down: start-up puts them back
    netd.stop()
    vpc_ns = "ebx-" + vpc["VpcId"]
    sb.run(["ip", "netns", "exec", vpc_ns, "nft", "delete", "table", "ip", "ecsbox_lb"])
    sb.run(["ip", "-n", vpc_ns, "addr", "del", lb_ip + "/32", "dev", "lo"])
    assert connect(sb, lb_ip, 80, 2)["fail"] == 2
    netd.start()
    got = connect(sb, lb_ip, 80, 20)
    assert got["fail"] == 0 and set(got["answers"]) == {"t1"}, got
    ruleset = sb.run(["nft", "list", "table", "ip", "ecsbox_lb"], check=False)
    assert ruleset.returncode != 0 or "numgen inc" in ruleset.stdout

    # delete: listeners go, the addresses and ENIs too
    netd.ok("DeleteLoadBalancerNetwork", LoadBalancerId=LB_ID)
    netd.ok("DeleteLoadBalancerNetwork", LoadBalancerId=LB_ID)
    lo = sb.run(["ip", "-n", "ebx-" + vpc["VpcId"], "-j", "addr", "show", "lo"]).stdout
    assert not any(a["PrivateIpv4Address"] in lo for a in lb["Addresses"])
    assert netd.ok("DescribeNetworkInterfaces", Filters=[{"Name": "interface-type", "Values": ["network_load_balancer"]}])["NetworkInterfaces"] == []
    assert set(h["State"] for h in health(netd).values()) == {"unused"}
    netd.ok("DeleteTargetGroup", TargetGroupId=TG_ID)
    assert netd.err("DescribeTargetHealth", TargetGroupId=TG_ID) == "TargetGroupNotFound"


def test_nlb_http_health_checks(sb, netd):
    vpc, s1, s2, sg, targets, lb = make_nlb(sb, netd)
    hc = {"Protocol": "HTTP", "Port": "8080", "Path": "/health", "Matcher": "200", "IntervalSeconds": 1, "TimeoutSeconds": 1,
          "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}
    netd.ok("PutTargetGroup", TargetGroupId=TG_ID, VpcId=vpc["VpcId"], Protocol="TCP", Port=8000, HealthCheck=hc)
    netd.ok("PutListener", LoadBalancerId=LB_ID, ListenerId=L_ID, Protocol="TCP", Port=80, TargetGroupId=TG_ID)
    wait_for(lambda: set(states(netd).values()) == {"healthy"}, 20, what="3 healthy targets (HTTP)")
    assert netd.ok("DescribeTargetHealth", TargetGroupId=TG_ID)["TargetHealthDescriptions"][0]["HealthCheckPort"] == "8080"
    # a path that answers 404: the matcher fails them all
    netd.ok("PutTargetGroup", TargetGroupId=TG_ID, VpcId=vpc["VpcId"], Protocol="TCP", Port=8000, HealthCheck=dict(hc, Path="/nope"))
    wait_for(lambda: set(states(netd).values()) == {"unhealthy"}, 20, what="3 unhealthy targets (404)")
    assert {h["Reason"] for h in health(netd).values()} == {"Target.ResponseCodeMismatch"}
    # none healthy: every target takes connections (fail open)
    got = connect(sb, lb["Addresses"][0]["PrivateIpv4Address"], 80, 30)
    assert got["fail"] == 0 and set(got["answers"]) == {"t1", "t2", "t3"}, got
    netd.ok("PutTargetGroup", TargetGroupId=TG_ID, VpcId=vpc["VpcId"], Protocol="TCP", Port=8000, HealthCheck=dict(hc, Matcher="200-499"))
    wait_for(lambda: set(states(netd).values()) == {"healthy"}, 20, what="healthy again (404 in the matcher)")
    # a connection established through the LB keeps its target through a table change (draining)
    netd.ok("PutTargetGroup", TargetGroupId=ETG_ID, VpcId=vpc["VpcId"], Protocol="TCP", Port=8002, DeregistrationDelaySeconds=30,
            HealthCheck=HC)
    netd.ok("RegisterTargets", TargetGroupId=ETG_ID, Targets=[{"Id": targets["t1"]}, {"Id": targets["t2"]}])
    netd.ok("PutListener", LoadBalancerId=LB_ID, ListenerId=EL_ID, Protocol="TCP", Port=82, TargetGroupId=ETG_ID)
    wait_for(lambda: set(states(netd, ETG_ID).values()) == {"healthy"}, 20, what="echo targets healthy")
    out, go = os.path.join(sb.tmp, "long.out"), os.path.join(sb.tmp, "long.go")
    lb_ip = lb["Addresses"][0]["PrivateIpv4Address"]
    long = sb.spawn(["ip", "netns", "exec", "cli", "/usr/bin/python3", "-c", LONG, lb_ip, "82", go], log=out)
    first = wait_for(lambda: open(out).read().split()[:1], 10, what="the long connection's first answer")[0]
    netd.ok("DeregisterTargets", TargetGroupId=ETG_ID, Targets=[{"Id": targets[first]}])
    assert health(netd, ETG_ID)[targets[first]]["State"] == "draining"
    open(go, "w").close()
    long.wait(timeout=20)
    assert open(out).read().split() == [first, first]
    other = ({"t1", "t2"} - {first}).pop()
    # new connections go to the other one only
    for _ in range(4):
        p = sb.run(["ip", "netns", "exec", "cli", "/usr/bin/python3", "-c", LONG, lb_ip, "82", go])
        assert p.stdout.split() == [other, other], p.stdout
    # a target whose HTTP server is gone: refused, Target.FailedHealthChecks
    for pid in sb.run(["ip", "netns", "pids", "t1"]).stdout.split():
        sb.run(["kill", pid], check=False)
    wait_for(lambda: states(netd)[targets["t1"]] == "unhealthy", 10, what="t1 unhealthy")
    assert health(netd)[targets["t1"]]["Reason"] == "Target.FailedHealthChecks"


def test_nlb_errors(sb, netd):
    vpc = netd.ok("CreateVpc", CidrBlock="10.61.0.0/16")["Vpc"]
    s1 = netd.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock="10.61.1.0/24")["Subnet"]
    other = netd.ok("CreateVpc", CidrBlock="10.62.0.0/16")["Vpc"]
    s_other = netd.ok("CreateSubnet", VpcId=other["VpcId"], CidrBlock="10.62.1.0/24")["Subnet"]
    base = dict(LoadBalancerId=LB_ID, Name="web", Type="network", VpcId=vpc["VpcId"], SubnetIds=[s1["SubnetId"]])
    cases = [
        (dict(base, LoadBalancerId="xyz"), "InvalidParameterValue"),
        ({k: v for k, v in base.items() if k != "SubnetIds"}, "MissingParameter"),
        (dict(base, SubnetIds=[]), "InvalidParameterValue"),
        (dict(base, SubnetIds=["subnet-0123456789abcdef0"]), "InvalidSubnetID.NotFound"),
        (dict(base, SubnetIds=["nope"]), "InvalidSubnetID.Malformed"),
        (dict(base, VpcId="vpc-0123456789abcdef0"), "InvalidVpcID.NotFound"),
        (dict(base, SubnetIds=[s_other["SubnetId"]]), "InvalidParameterValue"),
        (dict(base, Type="gateway"), "InvalidParameterValue"),
        (dict(base, Name="-bad"), "InvalidParameterValue"),
        (dict(base, Bogus=1), "UnknownParameter"),
        (dict(base, SecurityGroups=["sg-0123456789abcdef0"]), "InvalidGroup.NotFound"),
    ]
    for params, code in cases:
        assert netd.err("CreateLoadBalancerNetwork", **params) == code, params
    # nothing was left behind by the failures
    assert netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"] == []
    tg = dict(TargetGroupId=TG_ID, VpcId=vpc["VpcId"], Protocol="TCP", Port=80)
    assert netd.err("PutTargetGroup", **dict(tg, Protocol="SCTP")) == "InvalidParameterValue"
    assert netd.err("PutTargetGroup", **dict(tg, Port=0)) == "InvalidParameterValue"
    assert netd.err("PutTargetGroup", **dict(tg, HealthCheck={"IntervalSeconds": 5, "TimeoutSeconds": 10})) == "InvalidParameterValue"
    assert netd.err("PutTargetGroup", **dict(tg, HealthCheck={"Protocol": "HTTP", "Matcher": "abc"})) == "InvalidParameterValue"
    assert netd.err("PutTargetGroup", **dict(tg, VpcId="vpc-0123456789abcdef0")) == "InvalidVpcID.NotFound"
    assert netd.err("RegisterTargets", TargetGroupId=TG_ID, Targets=[{"Id": "10.61.1.9"}]) == "TargetGroupNotFound"
    netd.ok("PutTargetGroup", **tg)
    netd.ok("PutTargetGroup", **tg)
    assert netd.err("RegisterTargets", TargetGroupId=TG_ID, Targets=[{"Id": "i-0123"}]) == "InvalidParameterValue"
    assert netd.err("RegisterTargets", TargetGroupId=TG_ID, Targets=[{"Id": "192.168.9.9"}]) == "InvalidTarget"
    assert netd.err("DeregisterTargets", TargetGroupId=TG_ID, Targets=[{"Id": "10.61.1.9"}]) == "InvalidTarget"
    netd.ok("RegisterTargets", TargetGroupId=TG_ID, Targets=[{"Id": "10.61.1.9"}])
    netd.ok("RegisterTargets", TargetGroupId=TG_ID, Targets=[{"Id": "10.61.1.9"}])
    assert len(health(netd)) == 1 and health(netd)["10.61.1.9"]["State"] == "unused"
    lst = dict(LoadBalancerId=LB_ID, ListenerId=L_ID, Protocol="TCP", Port=80, TargetGroupId=TG_ID)
    assert netd.err("PutListener", **lst) == "LoadBalancerNotFound"
    netd.ok("CreateLoadBalancerNetwork", **base)
    assert netd.err("PutListener", **dict(lst, Protocol="UDP")) == "IncompatibleProtocols"
    assert netd.err("PutListener", **dict(lst, Protocol="HTTP")) == "InvalidParameterValue"
    netd.ok("PutListener", **lst)
    assert netd.err("PutListener", **dict(lst, ListenerId=UL_ID)) == "DuplicateListener"
    assert netd.err("DeleteTargetGroup", TargetGroupId=TG_ID) == "ResourceInUse"
    # the LB's ENI is requester-managed: DeleteNetworkInterface refuses it
    eni = netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"][0]
    assert netd.err("DeleteNetworkInterface", NetworkInterfaceId=eni["NetworkInterfaceId"]) == "InvalidNetworkInterface.InUse"
    netd.ok("DeleteListener", ListenerId=L_ID)
    netd.ok("DeleteListener", ListenerId=L_ID)
    netd.ok("DeleteTargetGroup", TargetGroupId=TG_ID)
    netd.ok("DeleteTargetGroup", TargetGroupId=TG_ID)
    netd.ok("DeleteLoadBalancerNetwork", LoadBalancerId=LB_ID)
    # an application LB gets addresses, but no listeners here
    alb = netd.ok("CreateLoadBalancerNetwork", **dict(base, Type="application", Name="app"))["LoadBalancerNetwork"]
    e = netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"][0]
    assert e["InterfaceType"] == "load_balancer" and e["Description"] == f"ELB app/app/{LB_ID}"
    assert e["PrivateIpAddress"] == alb["Addresses"][0]["PrivateIpv4Address"]


def test_nlb_interrupted_operations_repaired_at_start(sb, netd):
    """An intent left by a crash (written into netd's store while it is down, as a kill -9 between the
    intent and its end would leave it): an interrupted delete is finished, an interrupted create rolled back."""
    import sqlite3
    vpc = netd.ok("CreateVpc", CidrBlock="10.63.0.0/16")["Vpc"]
    s1 = netd.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock="10.63.1.0/24")["Subnet"]
    a = netd.ok("CreateLoadBalancerNetwork", LoadBalancerId="00000000000000e1", Name="a", VpcId=vpc["VpcId"],
                SubnetIds=[s1["SubnetId"]])["LoadBalancerNetwork"]
    b = netd.ok("CreateLoadBalancerNetwork", LoadBalancerId="00000000000000e2", Name="b", VpcId=vpc["VpcId"],
                SubnetIds=[s1["SubnetId"]])["LoadBalancerNetwork"]
    c = netd.ok("CreateLoadBalancerNetwork", LoadBalancerId="00000000000000e3", Name="c", VpcId=vpc["VpcId"],
                SubnetIds=[s1["SubnetId"]])["LoadBalancerNetwork"]
    netd.stop()
    db = sqlite3.connect(os.path.join(sb.state, "netd.db"))
    db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("intent/0000000000000001",
               json.dumps({"Op": "DeleteLoadBalancerNetwork", "LoadBalancerId": "00000000000000e1"})))
    db.execute("INSERT INTO kv (k, v) VALUES (?, ?)", ("intent/0000000000000002",
               json.dumps({"Op": "CreateLoadBalancerNetwork", "LoadBalancerId": "00000000000000e2"})))
    db.commit()
    db.close()
    netd.start()
    left = netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"]
    assert [e["NetworkInterfaceId"] for e in left] == [c["Addresses"][0]["NetworkInterfaceId"]]
    lo = sb.run(["ip", "-n", "ebx-" + vpc["VpcId"], "-j", "addr", "show", "lo"]).stdout
    assert c["Addresses"][0]["PrivateIpv4Address"] in lo
    for gone in (a, b):
        assert gone["Addresses"][0]["PrivateIpv4Address"] not in lo
    log = open(netd.log).read()
    assert "op=DeleteLoadBalancerNetwork" in log and "action=finished" in log and "action=rolled back" in log
    netd.ok("DeleteLoadBalancerNetwork", LoadBalancerId="00000000000000e3")
    assert netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"] == []
