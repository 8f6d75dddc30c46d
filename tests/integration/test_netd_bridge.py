"""ecsbox-netd bridge and none network modes end to end: published ports reached from every side, conflicts,
UDP, delete and re-use, bad input, crash recovery; `ip` and `nft` are the witnesses."""
import json
import os

import pytest

from sandbox import Burst, wait_for

PY_UDP_ECHO = ("import socket,sys\n"
               "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
               "s.bind(('0.0.0.0',int(sys.argv[1])))\n"
               "while True:\n"
               "    d,a=s.recvfrom(2048)\n"
               "    s.sendto(sys.argv[2].encode()+b':'+d,a)\n")

PY_UDP_ASK = ("import socket,sys\n"
              "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
              "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
              "s.bind(('0.0.0.0',int(sys.argv[3]) if len(sys.argv)>3 else 0))\n"
              "s.settimeout(0.5)\n"
              "s.sendto(b'ping',(sys.argv[1],int(sys.argv[2])))\n"
              "print(s.recvfrom(2048)[0].decode())\n")


# ---- helpers ----

def ip_json(sb, *args):
    return json.loads(sb.run(["ip", "-j"] + list(args)).stdout or "[]")


def netns_list(sb):
    return sorted(sb.run(["ls", "/run/netns"]).stdout.split())


def in_ns(netns, argv):
    return argv if netns is None else ["ip", "netns", "exec", netns] + argv


def http_get(sb, netns, ip, port):
    p = sb.run(in_ns(netns, ["curl", "-s", "--max-time", "2", f"http://{ip}:{port}/"]), check=False)
    return p.stdout if p.returncode == 0 else None


def fetch(sb, netns, ip, port, timeout=10):
    """The page at ip:port seen from netns (None = the sandbox root), polled until it answers."""
    return wait_for(lambda: http_get(sb, netns, ip, port), timeout, what=f"http://{ip}:{port}/ from {netns or 'host'}")


def udp_ask(sb, netns, ip, port, sport=0):
    """One datagram to ip:port from netns (from source port sport when not 0); the answer or None."""
    p = sb.run(in_ns(netns, ["python3", "-c", PY_UDP_ASK, ip, str(port), str(sport)]), check=False)
    return p.stdout.strip() if p.returncode == 0 else None


def serve_http(sb, netns, port, text):
    www = os.path.join(sb.tmp, f"www-{netns}-{port}")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write(text + "\n")
    sb.spawn(["ip", "netns", "exec", netns, "busybox", "httpd", "-f", "-p", str(port), "-h", www])


def serve_udp(sb, netns, port, text):
    sb.spawn(["ip", "netns", "exec", netns, "python3", "-c", PY_UDP_ECHO, str(port), text])


def stop_servers(sb, netns):
    """Kill the servers this test started in netns: a process left inside keeps a deleted netns (and its veth) alive."""
    pids = sb.run(["ip", "netns", "pids", netns]).stdout.split()
    if pids:
        sb.run(["kill", "-9"] + pids)
    wait_for(lambda: not sb.run(["ip", "netns", "pids", netns]).stdout.split(), 5, what=f"servers in {netns} gone")


def nft_maps(sb, inst):
    """{(proto, hostPort): 'ip:port'} from the instance's ecsbox_nat maps, read with nft."""
    out = {}
    for proto in ("tcp", "udp"):
        p = sb.run(["ip", "netns", "exec", inst, "nft", "-j", "list", "map", "ip", "ecsbox_nat", f"{proto}_ports"],
                   check=False)
        if p.returncode != 0:
            continue
        for obj in json.loads(p.stdout)["nftables"]:
            for el in obj.get("map", {}).get("elem", []):
                key, val = el
                addr, port = val["concat"]
                out[(proto, key)] = f"{addr}:{port}"
    return out


def bridge_ports(sb, inst):
    """veth host ends (k<14 hex>) on ecsbox0 in an instance netns."""
    return sorted(l["ifname"] for l in ip_json(sb, "-n", inst, "link")
                  if l["ifname"].startswith("k") and l.get("master") == "ecsbox0")


def k_links(sb, inst):
    return sorted(l["ifname"] for l in ip_json(sb, "-n", inst, "link") if l["ifname"].startswith("k"))


def want_maps(tns):
    return {(b["protocol"], b["hostPort"]): f"{t['PrivateIpAddress']}:{b['containerPort']}"
            for t in tns for b in t["NetworkBindings"]}


def open_host_ports(netd, v):
    sg = netd.ok("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [v["VpcId"]]}])["SecurityGroups"][0]
    netd.ok("AuthorizeSecurityGroupIngress", GroupId=sg["GroupId"], IpPermissions=[
        {"IpProtocol": proto, "FromPort": 1, "ToPort": 65535, "IpRanges": [{"CidrIp": "100.64.0.0/10"}]}
        for proto in ("tcp", "udp")])
    return sg


@pytest.fixture
def vpc(netd):
    """A VPC with one subnet and two container instances (instance namespaces with a primary ENI)."""
    v = netd.ok("CreateVpc", CidrBlock="10.0.0.0/16")["Vpc"]
    s = netd.ok("CreateSubnet", VpcId=v["VpcId"], CidrBlock="10.0.1.0/24")["Subnet"]
    i1 = netd.ok("CreateTaskNetwork", SubnetId=s["SubnetId"], Netns="inst1")["NetworkInterface"]
    i2 = netd.ok("CreateTaskNetwork", SubnetId=s["SubnetId"], Netns="inst2")["NetworkInterface"]
    # As on EC2, the instances' group decides who reaches their host ports; the host's traffic comes
    # from the uplink range, outside the VPC (the default group already admits the other instance).
    open_host_ports(netd, v)
    return {"vpc": v, "subnet": s, "inst1": i1["PrivateIpAddress"], "inst2": i2["PrivateIpAddress"],
            "vpc_ns": "ebx-" + v["VpcId"]}


def bridge(netd, netns, inst, mappings, **kw):
    return netd.ok("CreateTaskNetwork", NetworkMode="bridge", Netns=netns, InstanceNetns=inst,
                   PortMappings=mappings, **kw)["TaskNetwork"]


def binding(tn, container_port, proto="tcp"):
    return [b["hostPort"] for b in tn["NetworkBindings"]
            if b["containerPort"] == container_port and b["protocol"] == proto][0]


# ---- tests ----

def test_none_mode_has_only_lo(sb, netd):
    tn = netd.ok("CreateTaskNetwork", NetworkMode="none", Netns="quiet", Metadata={"TaskArn": "arn:x"})["TaskNetwork"]
    assert tn == {"Netns": "quiet", "NetnsPath": "/run/netns/quiet", "NetworkMode": "none",
                  "Metadata": {"TaskArn": "arn:x"}, "CreatedTime": tn["CreatedTime"]}
    links = ip_json(sb, "-n", "quiet", "link")
    assert [l["ifname"] for l in links] == ["lo"]
    assert "UP" in links[0]["flags"]
    assert ip_json(sb, "-n", "quiet", "-4", "route") == []
    assert sb.run(["ip", "netns", "exec", "quiet", "ping", "-c", "1", "-W", "1", "127.0.0.1"]).returncode == 0
    got = netd.ok("DescribeTaskNetworks", Netns=["quiet"])["TaskNetworks"]
    assert [t["NetworkMode"] for t in got] == ["none"]
    netd.ok("DeleteTaskNetwork", Netns="quiet")
    assert "quiet" not in netns_list(sb)
    assert netd.err("DescribeTaskNetworks", Netns=["quiet"]) == "InvalidNetns.NotFound"


def test_bridge_shape_and_kernel(sb, netd, vpc):
    tn = bridge(netd, "web1", "inst1", [{"ContainerPort": 80, "HostPort": 8080, "Protocol": "tcp"},
                                        {"ContainerPort": 80}, {"ContainerPort": 53, "HostPort": 0, "Protocol": "udp"}],
                Metadata={"TaskArn": "arn:aws:ecs:us-east-1:000000000000:task/c/1"})
    assert tn["NetworkMode"] == "bridge" and tn["InstanceNetns"] == "inst1" and tn["Netns"] == "web1"
    assert tn["NetnsPath"] == "/run/netns/web1"
    assert tn["HostIp"] == vpc["inst1"]
    assert tn["PrivateIpAddress"] == "172.17.0.2" and tn["MacAddress"] == "02:42:ac:11:00:02"
    assert tn["NetworkBindings"] == [
        {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
        {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": 49153, "protocol": "tcp"},
        {"bindIP": "0.0.0.0", "containerPort": 53, "hostPort": 49153, "protocol": "udp"}]
    assert tn["Metadata"] == {"TaskArn": "arn:aws:ecs:us-east-1:000000000000:task/c/1"}
    # the instance: ecsbox0 with its pinned MAC and gateway, ip_forward on
    br = ip_json(sb, "-n", "inst1", "-d", "link", "show", "ecsbox0")[0]
    assert br["address"] == "02:42:ac:11:00:01" and br["linkinfo"]["info_kind"] == "bridge"
    a = ip_json(sb, "-n", "inst1", "-4", "addr", "show", "ecsbox0")[0]["addr_info"]
    assert [(x["local"], x["prefixlen"]) for x in a] == [("172.17.0.1", 16)]
    assert sb.run(["ip", "netns", "exec", "inst1", "sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
    # the task: eth0 on ecsbox0 with the recorded MAC and address, default route via 172.17.0.1
    eth0 = ip_json(sb, "-n", "web1", "-d", "link", "show", "eth0")[0]
    assert eth0["address"] == tn["MacAddress"] and eth0["linkinfo"]["info_kind"] == "veth"
    a = ip_json(sb, "-n", "web1", "-4", "addr", "show", "eth0")[0]["addr_info"]
    assert [(x["local"], x["prefixlen"]) for x in a] == [("172.17.0.2", 16)]
    assert ip_json(sb, "-n", "web1", "route", "show", "default")[0]["gateway"] == "172.17.0.1"
    assert len(bridge_ports(sb, "inst1")) == 1
    # one element per binding in one map per protocol, no per-task rules
    assert nft_maps(sb, "inst1") == want_maps([tn])
    ruleset = sb.run(["ip", "netns", "exec", "inst1", "nft", "list", "table", "ip", "ecsbox_nat"]).stdout
    assert ruleset.count("dnat ip to") == 4 and "172.17.0.2" in ruleset.split("chain")[0]
    # NetworkBindings come in the order of PortMappings, static and dynamic mixed
    mixed = bridge(netd, "mixed", "inst2", [{"ContainerPort": 1}, {"ContainerPort": 2, "HostPort": 7002},
                                            {"ContainerPort": 3, "Protocol": "udp"}, {"ContainerPort": 4, "HostPort": 7004}])
    assert [(b["containerPort"], b["hostPort"], b["protocol"]) for b in mixed["NetworkBindings"]] == [
        (1, 49153, "tcp"), (2, 7002, "tcp"), (3, 49153, "udp"), (4, 7004, "tcp")]
    tn2 = bridge(netd, "web2", "inst1", [{"ContainerPort": 80}])
    assert tn2["PrivateIpAddress"] == "172.17.0.3" and binding(tn2, 80) == 49154
    assert sb.run(["ip", "netns", "exec", "inst1", "nft", "list", "table", "ip", "ecsbox_nat"]).stdout.count("dnat ip to") == 4
    # NetworkMode awsvpc spelled out is today's CreateTaskNetwork
    e = netd.ok("CreateTaskNetwork", NetworkMode="awsvpc", SubnetId=vpc["subnet"]["SubnetId"], Netns="inst3")
    assert e["NetworkInterface"]["Attachment"]["Netns"] == "inst3"
    # DescribeTaskNetworks by name and by instance
    got = netd.ok("DescribeTaskNetworks", InstanceNetns="inst1")["TaskNetworks"]
    assert sorted(t["Netns"] for t in got) == ["web1", "web2"]
    got = netd.ok("DescribeTaskNetworks", Netns=["web1", "inst1"])["TaskNetworks"]
    assert {t["Netns"]: t["NetworkMode"] for t in got} == {"web1": "bridge", "inst1": "awsvpc"}
    assert [t for t in got if t["Netns"] == "web1"][0] == tn


def test_published_ports_reachable_from_everywhere(sb, netd, vpc):
    i1, i2 = vpc["inst1"], vpc["inst2"]
    web1 = bridge(netd, "web1", "inst1", [{"ContainerPort": 80, "HostPort": 8080}, {"ContainerPort": 80}])
    web2 = bridge(netd, "web2", "inst1", [{"ContainerPort": 80}])
    web3 = bridge(netd, "web3", "inst2", [{"ContainerPort": 80, "HostPort": 8080}])   # same static port, other instance
    for name in ("web1", "web2", "web3"):
        serve_http(sb, name, 80, f"hello from {name}")
    dyn1, dyn2 = web1["NetworkBindings"][1]["hostPort"], binding(web2, 80)
    assert dyn1 == 49153 and dyn2 == 49154
    # from the sandbox host netns (routes to the VPC exist)
    assert fetch(sb, None, i1, 8080) == "hello from web1\n"
    assert fetch(sb, None, i1, dyn1) == "hello from web1\n"
    assert fetch(sb, None, i1, dyn2) == "hello from web2\n"
    assert fetch(sb, None, i2, 8080) == "hello from web3\n"
    # from the other instance (an awsvpc namespace in the VPC)
    assert fetch(sb, "inst2", i1, 8080) == "hello from web1\n"
    assert fetch(sb, "inst1", i2, 8080) == "hello from web3\n"
    # from the instance itself: locally generated, DNAT in output; loopback too
    assert fetch(sb, "inst1", i1, 8080) == "hello from web1\n"
    assert fetch(sb, "inst1", "127.0.0.1", dyn2) == "hello from web2\n"
    # hairpin: the task reaches its own published port, and a sibling's
    assert fetch(sb, "web1", i1, 8080) == "hello from web1\n"
    assert fetch(sb, "web1", i1, dyn2) == "hello from web2\n"
    assert fetch(sb, "web2", i1, 8080) == "hello from web1\n"
    # a bridge task reaches the other instance's published port (masqueraded out of eth0)
    assert fetch(sb, "web1", i2, 8080) == "hello from web3\n"
    # and a sibling directly on the bridge
    assert fetch(sb, "web2", web1["PrivateIpAddress"], 80) == "hello from web1\n"
    # an unpublished port is not reachable
    assert http_get(sb, None, i1, 80) is None


def test_static_port_conflict_changes_nothing(sb, netd, vpc):
    t1 = bridge(netd, "t1", "inst1", [{"ContainerPort": 80, "HostPort": 8080}])

    def snapshot():
        return (netd.ok("DescribeTaskNetworks")["TaskNetworks"], netns_list(sb), nft_maps(sb, "inst1"),
                k_links(sb, "inst1"))
    before = snapshot()
    doc = netd.call("CreateTaskNetwork", NetworkMode="bridge", Netns="t2", InstanceNetns="inst1",
                    PortMappings=[{"ContainerPort": 81}, {"ContainerPort": 80, "HostPort": 8080}])
    assert doc["Error"]["Code"] == "PortInUse", doc
    assert "8080" in doc["Error"]["Message"] and "t1" in doc["Error"]["Message"]
    assert snapshot() == before
    # the dynamic port the failed request had picked is free again: the next task gets the first one
    t3 = bridge(netd, "t3", "inst1", [{"ContainerPort": 80, "HostPort": 8080, "Protocol": "udp"}, {"ContainerPort": 81}])
    assert binding(t3, 80, "udp") == 8080
    assert binding(t3, 81) == 49153
    assert nft_maps(sb, "inst1") == want_maps([t1, t3])


def test_udp_mapping(sb, netd, vpc):
    i1 = vpc["inst1"]
    u = bridge(netd, "dns", "inst1", [{"ContainerPort": 5353, "HostPort": 53, "Protocol": "udp"},
                                      {"ContainerPort": 5353, "Protocol": "udp"}])
    serve_udp(sb, "dns", 5353, "dns")
    assert wait_for(lambda: udp_ask(sb, None, i1, 53), 10, what="udp from host") == "dns:ping"
    assert wait_for(lambda: udp_ask(sb, "inst2", i1, 53), 10,
                    what="udp from inst2") == "dns:ping"
    dyn = [b["hostPort"] for b in u["NetworkBindings"] if b["hostPort"] != 53][0]
    assert wait_for(lambda: udp_ask(sb, "dns", i1, dyn), 10, what="udp hairpin") == "dns:ping"
    # tcp on the same port number is not published
    assert http_get(sb, None, i1, 53) is None


def test_delete_frees_port_for_reuse(sb, netd, vpc):
    i1 = vpc["inst1"]
    a = bridge(netd, "a", "inst1", [{"ContainerPort": 80, "HostPort": 8080},
                                    {"ContainerPort": 5000, "HostPort": 5000, "Protocol": "udp"}])
    serve_http(sb, "a", 80, "from a")
    serve_udp(sb, "a", 5000, "a")
    assert fetch(sb, None, i1, 8080) == "from a\n"
    # always from source port 40000: the same conntrack tuple before and after the delete
    assert wait_for(lambda: udp_ask(sb, None, i1, 5000, 40000), 10, what="udp a") == "a:ping"
    assert netd.err("CreateTaskNetwork", NetworkMode="bridge", Netns="b", InstanceNetns="inst1",
                    PortMappings=[{"ContainerPort": 80, "HostPort": 8080}]) == "PortInUse"
    stop_servers(sb, "a")
    netd.ok("DeleteTaskNetwork", Netns="a")
    assert "a" not in netns_list(sb)
    assert nft_maps(sb, "inst1") == {}
    wait_for(lambda: k_links(sb, "inst1") == [], 5, what="host end gone")
    assert netd.ok("DescribeTaskNetworks", InstanceNetns="inst1")["TaskNetworks"] == []
    # the port is free: another task takes it and is the one reached (UDP conntrack flushed too)
    b = bridge(netd, "b", "inst1", [{"ContainerPort": 80, "HostPort": 8080},
                                    {"ContainerPort": 5000, "HostPort": 5000, "Protocol": "udp"}])
    assert b["PrivateIpAddress"] == "172.17.0.3"      # round-robin: a's address is not reused at once
    serve_http(sb, "b", 80, "from b")
    serve_udp(sb, "b", 5000, "b")
    assert fetch(sb, None, i1, 8080) == "from b\n"
    assert wait_for(lambda: udp_ask(sb, None, i1, 5000, 40000), 10, what="udp b") == "b:ping"
    # the instance keeps ecsbox0 after its last task goes
    stop_servers(sb, "b")
    netd.ok("DeleteTaskNetwork", Netns="b")
    assert ip_json(sb, "-n", "inst1", "link", "show", "ecsbox0")


def test_instance_with_bridge_tasks_cannot_go(sb, netd, vpc):
    bridge(netd, "t", "inst1", [])
    assert netd.err("DeleteTaskNetwork", Netns="inst1") == "DependencyViolation"
    eni = netd.ok("DescribeNetworkInterfaces", Filters=[{"Name": "attachment.netns", "Values": ["inst1"]}]
                  )["NetworkInterfaces"][0]
    assert netd.err("DetachNetworkInterface", NetworkInterfaceId=eni["NetworkInterfaceId"]) == "DependencyViolation"
    netd.ok("DeleteTaskNetwork", Netns="t")
    netd.ok("DeleteTaskNetwork", Netns="inst1")
    assert "inst1" not in netns_list(sb)


BAD = [
    ({"NetworkMode": "bogus", "Netns": "x"}, "InvalidParameterValue"),
    ({"NetworkMode": "host", "Netns": "x"}, "InvalidParameterValue"),
    ({"NetworkMode": 5, "Netns": "x"}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x"}, "MissingParameter"),
    ({"NetworkMode": "bridge", "InstanceNetns": "inst1"}, "MissingParameter"),
    ({"NetworkMode": "none"}, "MissingParameter"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "nosuch"}, "InvalidNetns.NotFound"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "foreign"}, "InvalidNetns.NotFound"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "busy"}, "InvalidNetns.NotFound"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "../etc"}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1", "SubnetId": "{subnet}"}, "UnknownParameter"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1", "PortMappings": {"ContainerPort": 80}},
     "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1", "PortMappings": [{"ContainerPort": 0}]},
     "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1", "PortMappings": [{"ContainerPort": 65536}]},
     "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1", "PortMappings": [{"ContainerPort": "80"}]},
     "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1",
      "PortMappings": [{"ContainerPort": 80, "HostPort": -1}]}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1",
      "PortMappings": [{"ContainerPort": 80, "HostPort": 70000}]}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1",
      "PortMappings": [{"ContainerPort": 80, "Protocol": "sctp"}]}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1",
      "PortMappings": [{"ContainerPort": 80, "Protocol": "TCP"}]}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1", "PortMappings": [{"HostPort": 80}]},
     "MissingParameter"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1",
      "PortMappings": [{"ContainerPort": 80, "HostIp": "1.2.3.4"}]}, "UnknownParameter"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1",
      "PortMappings": [{"ContainerPort": 80, "HostPort": 9000}, {"ContainerPort": 81, "HostPort": 9000}]},
     "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1", "PortMappings": [{"ContainerPort": 80}] * 101},
     "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "inst2", "InstanceNetns": "inst1"}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "busy", "InstanceNetns": "inst1"}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "foreign", "InstanceNetns": "inst1"}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "ebx-vpc-x", "InstanceNetns": "inst1"}, "InvalidParameterValue"),
    ({"NetworkMode": "bridge", "Netns": "x", "InstanceNetns": "inst1", "PortMappings": [{"ContainerPort": 80, "HostPort": 8080}]},
     "PortInUse"),
    ({"NetworkMode": "none", "Netns": "x", "InstanceNetns": "inst1"}, "UnknownParameter"),
    ({"NetworkMode": "none", "Netns": "busy"}, "InvalidParameterValue"),
    ({"NetworkMode": "awsvpc", "Netns": "busy", "SubnetId": "{subnet}"}, "InvalidParameterValue"),
    ({"NetworkMode": "awsvpc", "Netns": "x", "SubnetId": "{subnet}", "PortMappings": []}, "UnknownParameter"),
]


def test_bad_input_changes_nothing(sb, netd, vpc):
    busy = bridge(netd, "busy", "inst1", [{"ContainerPort": 80, "HostPort": 8080}])
    sb.run(["ip", "netns", "add", "foreign"])
    subst = {"{subnet}": vpc["subnet"]["SubnetId"]}

    def snapshot():
        return (netd.ok("DescribeTaskNetworks")["TaskNetworks"], netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"],
                netns_list(sb), nft_maps(sb, "inst1"), k_links(sb, "inst1"), k_links(sb, "inst2"))
    before = snapshot()
    for params, code in BAD:
        p = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
        got = netd.call("CreateTaskNetwork", **p)
        assert "Error" in got, f"{p}: expected {code}, got {got}"
        assert got["Error"]["Code"] == code, f"{p}: {got}"
        assert got["Error"]["Message"], p
    others = [
        ("DescribeTaskNetworks", {"Netns": ["nosuch"]}, "InvalidNetns.NotFound"),
        ("DescribeTaskNetworks", {"Netns": "busy"}, "InvalidParameterValue"),
        ("DescribeTaskNetworks", {"Bogus": 1}, "UnknownParameter"),
        ("DeleteTaskNetwork", {"Netns": "nosuch"}, "InvalidNetworkInterfaceID.NotFound"),
        ("AttachNetworkInterface", {"NetworkInterfaceId": "{eni}", "Netns": "busy"}, "InvalidParameterValue"),
    ]
    eni = netd.ok("CreateNetworkInterface", SubnetId=vpc["subnet"]["SubnetId"])["NetworkInterface"]
    before = before[:1] + (netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"],) + before[2:]
    for action, params, code in others:
        p = {k: eni["NetworkInterfaceId"] if v == "{eni}" else v for k, v in params.items()}
        got = netd.call(action, **p)
        assert "Error" in got and got["Error"]["Code"] == code, f"{action} {p}: {got}"
    assert snapshot() == before
    assert nft_maps(sb, "inst1") == want_maps([busy])


def test_crash_during_bridge_burst_recovers(sb, netd, vpc):
    def maps(i):
        m = [{"ContainerPort": 80}, {"ContainerPort": 53, "Protocol": "udp"}]
        return m + [{"ContainerPort": 443, "HostPort": 10000 + i}] if i % 5 == 0 else m
    burst = Burst(netd, [("CreateTaskNetwork", dict(NetworkMode="bridge", Netns=f"b{i}", InstanceNetns="inst1" if i % 2 else "inst2",
                                                    PortMappings=maps(i), Metadata={"i": i})) for i in range(80)])
    done = burst.done
    wait_for(lambda: len(done) >= 25, 60, what="25 bridge task networks")
    netd.kill9()
    assert burst.join(60)
    # also damage the kernel behind netd's back: a stray element, a stray bridge port, a deleted task netns
    sb.run(["ip", "netns", "exec", "inst1", "nft", "add", "element", "ip", "ecsbox_nat", "tcp_ports",
            "{ 40000 : 172.17.9.9 . 80 }"])
    sb.run(["ip", "-n", "inst1", "link", "add", "k0000000000000a", "type", "veth", "peer", "name", "x0"])
    sb.run(["ip", "netns", "del", f"b{done[0]}"])
    netd.start()
    tns = [t for t in netd.ok("DescribeTaskNetworks")["TaskNetworks"] if t["NetworkMode"] == "bridge"]
    names = {t["Netns"] for t in tns}
    # every acknowledged create survived; nothing half-made remains
    assert {f"b{i}" for i in done} <= names
    assert len(names) <= len(done) + 1
    assert netns_list(sb) == sorted(["inst1", "inst2", vpc["vpc_ns"]] + list(names))
    for inst in ("inst1", "inst2"):
        mine = [t for t in tns if t["InstanceNetns"] == inst]
        # map elements are exactly the recorded bindings, ports unique
        assert nft_maps(sb, inst) == want_maps(mine)
        assert len(want_maps(mine)) == sum(len(t["NetworkBindings"]) for t in mine)
        # one host end per task, all on ecsbox0; the stray one is gone
        assert len(k_links(sb, inst)) == len(mine)
        assert bridge_ports(sb, inst) == k_links(sb, inst)
        assert len({t["PrivateIpAddress"] for t in mine}) == len(mine)
        # the rebuilt table: the same seven rules, whatever the number of tasks
        rules = sb.run(["ip", "netns", "exec", inst, "nft", "-a", "list", "table", "ip", "ecsbox_nat"]).stdout
        assert rules.count("masquerade") == 3 and rules.count("dnat ip to") == 4
    for t in tns:
        a = ip_json(sb, "-n", t["Netns"], "-4", "addr", "show", "eth0")[0]
        assert a["addr_info"][0]["local"] == t["PrivateIpAddress"]
        assert ip_json(sb, "-n", t["Netns"], "link", "show", "eth0")[0]["address"] == t["MacAddress"]
    # the re-created netns works end to end
    first = [t for t in tns if t["Netns"] == f"b{done[0]}"][0]
    serve_http(sb, first["Netns"], 80, "back")
    assert fetch(sb, None, first["HostIp"], binding(first, 80)) == "back\n"
    # new creates after the restart do not collide with what survived
    n = bridge(netd, "after", "inst1", [{"ContainerPort": 80}])
    used = {(b["protocol"], b["hostPort"]) for t in tns if t["InstanceNetns"] == "inst1" for b in t["NetworkBindings"]}
    assert ("tcp", binding(n, 80)) not in used
    # delete everything: nothing left in the kernel
    stop_servers(sb, first["Netns"])
    for t in tns + [n]:
        netd.ok("DeleteTaskNetwork", Netns=t["Netns"])
    assert netns_list(sb) == sorted(["inst1", "inst2", vpc["vpc_ns"]])
    for inst in ("inst1", "inst2"):
        assert nft_maps(sb, inst) == {}
        wait_for(lambda: k_links(sb, inst) == [], 5, what=f"host ends gone in {inst}")


def test_interrupted_operations_are_repaired(sb, netd, vpc):
    """Crash states written into the store by hand: a create whose kernel work ran but whose record never
    turned ok is rolled back; one that never reached the kernel is released; an interrupted delete is finished."""
    import sqlite3
    x = bridge(netd, "x", "inst1", [{"ContainerPort": 80, "HostPort": 8080}])
    y = bridge(netd, "y", "inst1", [{"ContainerPort": 80, "HostPort": 8081, "Protocol": "udp"}])
    keep = bridge(netd, "keep", "inst1", [{"ContainerPort": 80, "HostPort": 8082}])
    netd.stop()
    db = sqlite3.connect(os.path.join(sb.state, "netd.db"))
    rec = json.loads(db.execute("SELECT v FROM kv WHERE k = 'tasknet/x'").fetchone()[0])
    rec["State"] = "creating"
    db.execute("INSERT OR REPLACE INTO kv VALUES ('tasknet/x', ?)", (json.dumps(rec),))
    db.execute("INSERT INTO kv VALUES ('intent/0000000000000001', ?)", (json.dumps({"Op": "CreateBridgeTask", "Netns": "x"}),))
    db.execute("INSERT INTO kv VALUES ('intent/0000000000000002', ?)", (json.dumps({"Op": "DeleteBridgeTask", "Netns": "y"}),))
    # a create that crashed before the kernel: records and intent only
    w = dict(rec, Netns="w", HostIf="k00000000000077", PrivateIpAddress="172.17.0.77", MacAddress="02:42:ac:11:00:4d",
             Bindings=[{"containerPort": 80, "hostPort": 9000, "protocol": "tcp"}])
    db.execute("INSERT INTO kv VALUES ('tasknet/w', ?)", (json.dumps(w),))
    db.execute("INSERT INTO kv VALUES ('bip/inst1/ac11004d', ?)", (json.dumps({"Netns": "w"}),))
    db.execute("INSERT INTO kv VALUES ('bport/inst1/tcp/09000', ?)", (json.dumps({"Netns": "w"}),))
    db.execute("INSERT INTO kv VALUES ('intent/0000000000000003', ?)", (json.dumps({"Op": "CreateBridgeTask", "Netns": "w"}),))
    # and index records nobody owns
    db.execute("INSERT INTO kv VALUES ('bport/inst1/tcp/09999', ?)", (json.dumps({"Netns": "ghost"}),))
    db.commit()
    db.close()
    netd.start()
    got = netd.ok("DescribeTaskNetworks", InstanceNetns="inst1")["TaskNetworks"]
    assert [t["Netns"] for t in got] == ["keep"]
    assert netns_list(sb) == sorted(["inst1", "inst2", "keep", vpc["vpc_ns"]])
    assert nft_maps(sb, "inst1") == want_maps([keep])
    wait_for(lambda: len(k_links(sb, "inst1")) == 1, 5, what="only keep's host end")
    # every port the repaired operations held is free again, and the ghost's too
    z = bridge(netd, "z", "inst1", [{"ContainerPort": 1, "HostPort": p} for p in (8080, 9000, 9999)] +
               [{"ContainerPort": 1, "HostPort": 8081, "Protocol": "udp"}])
    assert len(z["NetworkBindings"]) == 4
    db = sqlite3.connect(os.path.join(sb.state, "netd.db"))
    assert db.execute("SELECT count(*) FROM kv WHERE k LIKE 'intent/%'").fetchone()[0] == 0
    owners = {json.loads(v)["Netns"] for (v,) in db.execute("SELECT v FROM kv WHERE k LIKE 'bport/%' OR k LIKE 'bip/%'")}
    assert owners == {"keep", "z"}
    db.close()
    assert x["Netns"] and y["Netns"]


def test_restart_keeps_tasks_and_repairs_a_lost_instance(sb, netd, vpc):
    i1 = vpc["inst1"]
    web = bridge(netd, "web", "inst1", [{"ContainerPort": 80, "HostPort": 8080}])
    serve_http(sb, "web", 80, "still here")
    assert fetch(sb, None, i1, 8080) == "still here\n"
    # a plain restart changes nothing and the task stays reachable
    before = (nft_maps(sb, "inst1"), k_links(sb, "inst1"))
    netd.stop()
    netd.start()
    assert (nft_maps(sb, "inst1"), k_links(sb, "inst1")) == before
    assert fetch(sb, None, i1, 8080) == "still here\n"
    # the instance namespace is lost behind netd's back (its veths die with it); the task's netns and server live on
    netd.stop()
    sb.run(["ip", "netns", "del", "inst1"])
    wait_for(lambda: sb.run(["ip", "-n", "web", "link", "show", "eth0"], check=False).returncode != 0, 5,
             what="web's eth0 gone")
    netd.start()
    assert nft_maps(sb, "inst1") == want_maps([web])
    assert fetch(sb, None, i1, 8080) == "still here\n"      # the same httpd, in the same netns
    assert fetch(sb, "web", i1, 8080) == "still here\n"
    eth0 = ip_json(sb, "-n", "web", "link", "show", "eth0")[0]
    assert eth0["address"] == web["MacAddress"]


def test_kernel_failure_releases_everything(sb, netd, vpc):
    """A create that fails in the kernel (the namespace path is taken by a file that is not a netns) gives
    back its address and ports and leaves no link, element or record; the same request then succeeds."""
    keep = bridge(netd, "keep", "inst1", [{"ContainerPort": 80}])
    sb.run(["sh", "-c", "echo junk > /run/netns/broken"])

    def snapshot():
        return (netd.ok("DescribeTaskNetworks")["TaskNetworks"], nft_maps(sb, "inst1"), k_links(sb, "inst1"))
    before = snapshot()
    doc = netd.call("CreateTaskNetwork", NetworkMode="bridge", Netns="broken", InstanceNetns="inst1",
                    PortMappings=[{"ContainerPort": 80, "HostPort": 8080}, {"ContainerPort": 81}])
    assert "Error" in doc, doc
    assert "broken" in doc["Error"]["Message"], doc
    assert snapshot() == before
    sb.run(["rm", "/run/netns/broken"])
    tn = bridge(netd, "broken", "inst1", [{"ContainerPort": 80, "HostPort": 8080}, {"ContainerPort": 81}])
    assert binding(tn, 80) == 8080
    # the failed request's address is not leaked (round-robin moved on, the lease did not stay)
    assert tn["PrivateIpAddress"] != keep["PrivateIpAddress"]
    assert nft_maps(sb, "inst1") == want_maps([keep, tn])


def test_crash_during_delete_burst_recovers(sb, netd, vpc):
    for i in range(40):
        bridge(netd, f"d{i}", "inst1" if i % 2 else "inst2", [{"ContainerPort": 80}, {"ContainerPort": 53, "Protocol": "udp"}])
    burst = Burst(netd, [("DeleteTaskNetwork", dict(Netns=f"d{i}")) for i in range(40)])
    gone = burst.done
    wait_for(lambda: len(gone) >= 12, 60, what="12 deletes")
    netd.kill9()
    assert burst.join(60)
    netd.start()
    tns = [t for t in netd.ok("DescribeTaskNetworks")["TaskNetworks"] if t["NetworkMode"] == "bridge"]
    names = {t["Netns"] for t in tns}
    assert not names & {f"d{i}" for i in gone}
    assert netns_list(sb) == sorted(["inst1", "inst2", vpc["vpc_ns"]] + list(names))
    for inst in ("inst1", "inst2"):
        mine = [t for t in tns if t["InstanceNetns"] == inst]
        assert nft_maps(sb, inst) == want_maps(mine)
        wait_for(lambda: len(k_links(sb, inst)) == len(mine), 5, what=f"one host end per task in {inst}")
    for t in tns:
        netd.ok("DeleteTaskNetwork", Netns=t["Netns"])
    for inst in ("inst1", "inst2"):
        assert nft_maps(sb, inst) == {}
        wait_for(lambda: k_links(sb, inst) == [], 5, what=f"host ends gone in {inst}")
    # every port and address is free again: the first dynamic port comes round once the cursor wraps,
    # so check through the records instead: a static request for every port the deleted tasks held works
    held = sorted({b["hostPort"] for t in tns for b in t["NetworkBindings"] if t["InstanceNetns"] == "inst1"})
    if held:
        bridge(netd, "again", "inst1", [{"ContainerPort": 80, "HostPort": p} for p in held[:100]])


def test_ports_held_in_the_instance_count_as_taken(sb, netd, vpc):
    """A process of the instance itself (a host-mode task, a daemon) holding a port makes it taken, as the
    ECS agent counts host-mode ports: static requests fail with PortInUse, dynamic picks skip it."""
    serve_http(sb, "inst1", 9090, "instance's own")
    serve_http(sb, "inst1", 49153, "instance's own too")
    serve_udp(sb, "inst1", 9091, "inst")
    wait_for(lambda: http_get(sb, "inst1", "127.0.0.1", 49153), 10, what="instance listeners")
    wait_for(lambda: udp_ask(sb, "inst1", "127.0.0.1", 9091), 10, what="instance udp socket")
    for port, proto in ((9090, "tcp"), (9091, "udp")):
        doc = netd.call("CreateTaskNetwork", NetworkMode="bridge", Netns="t", InstanceNetns="inst1",
                        PortMappings=[{"ContainerPort": 80, "HostPort": port, "Protocol": proto}])
        assert doc["Error"]["Code"] == "PortInUse", doc
        assert f"{port}/{proto}" in doc["Error"]["Message"] and "inst1" in doc["Error"]["Message"]
    assert netd.ok("DescribeTaskNetworks", InstanceNetns="inst1")["TaskNetworks"] == []
    # the other protocol on those ports, the same ports on another instance, and dynamic picks are fine
    t = bridge(netd, "t", "inst1", [{"ContainerPort": 80, "HostPort": 9090, "Protocol": "udp"},
                                    {"ContainerPort": 80, "HostPort": 9091}, {"ContainerPort": 80}])
    assert binding(t, 80, "udp") == 9090
    assert [b["hostPort"] for b in t["NetworkBindings"]][1:] == [9091, 49154]
    bridge(netd, "u", "inst2", [{"ContainerPort": 80, "HostPort": 9090}])


def test_unpublished_ports_not_reachable_by_direct_routing(sb, netd, vpc):
    """A VPC neighbour that routes 172.17.0.0/16 via the instance reaches published ports only."""
    web = bridge(netd, "web", "inst1", [{"ContainerPort": 80, "HostPort": 8080}])
    serve_http(sb, "web", 80, "published")
    serve_http(sb, "web", 81, "private")
    sb.run(["ip", "-n", "inst2", "route", "add", "172.17.0.0/16", "via", vpc["inst1"]])
    assert fetch(sb, "inst2", vpc["inst1"], 8080) == "published\n"
    assert fetch(sb, "inst1", web["PrivateIpAddress"], 81) == "private\n"     # the instance itself may
    assert http_get(sb, "inst2", web["PrivateIpAddress"], 81) is None
    assert http_get(sb, "inst2", web["PrivateIpAddress"], 80) is None
    # the task's own connections out and their replies still pass
    serve_http(sb, "inst2", 8000, "inst2 here")
    assert fetch(sb, "web", vpc["inst2"], 8000) == "inst2 here\n"


def test_address_probed_before_the_task_existed_answers_at_once(sb, netd, vpc):
    """A probe of an address before its task exists leaves an INCOMPLETE/FAILED neighbour entry in the
    instance; netd writes the entry when it makes the task, so the first connection does not wait for ARP
    to be retried (0.67 s here without it)."""
    bridge(netd, "t0", "inst1", [])
    sb.run(["ip", "netns", "exec", "inst1", "ping", "-c", "1", "-W", "1", "172.17.0.3"], check=False)
    t = bridge(netd, "t1", "inst1", [{"ContainerPort": 80, "HostPort": 8080}])
    assert t["PrivateIpAddress"] == "172.17.0.3"
    neigh = ip_json(sb, "-n", "inst1", "neigh", "show", "172.17.0.3")
    assert neigh and neigh[0]["lladdr"] == t["MacAddress"]
    serve_http(sb, "t1", 80, "at once")
    wait_for(lambda: sb.run(["ip", "netns", "exec", "t1", "sh", "-c", "busybox netstat -ltn | grep -q ':80 '"],
                            check=False).returncode == 0, 5, what="httpd listening")
    p = sb.run(["curl", "-s", "-w", "\n%{time_total}", "--max-time", "5", f"http://{vpc['inst1']}:8080/"])
    body, took = p.stdout.rsplit("\n", 1)
    assert body == "at once\n"
    assert float(took) < 0.4, f"first connection took {took} s"


def test_published_ports_follow_the_instance_security_group(sb, netd):
    """A host port is reached only as the instance ENI's groups allow, judged on the port the client
    sent to (before DNAT); the rejected SYNs are metered as REJECT on the instance ENI."""
    v = netd.ok("CreateVpc", CidrBlock="10.0.0.0/16")["Vpc"]
    s = netd.ok("CreateSubnet", VpcId=v["VpcId"], CidrBlock="10.0.1.0/24")["Subnet"]
    inst = netd.ok("CreateTaskNetwork", SubnetId=s["SubnetId"], Netns="inst1")["NetworkInterface"]
    tn = bridge(netd, "web", "inst1", [{"ContainerPort": 80, "HostPort": 8080}, {"ContainerPort": 80, "HostPort": 8081}])
    serve_http(sb, "web", 80, "web")
    ip = inst["PrivateIpAddress"]
    sg = netd.ok("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [v["VpcId"]]}])["SecurityGroups"][0]
    assert http_get(sb, None, ip, 8080) is None        # the default group admits only its members
    netd.ok("AuthorizeSecurityGroupIngress", GroupId=sg["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "100.64.0.0/10"}]}])
    assert fetch(sb, None, ip, 8080).strip() == "web"
    assert http_get(sb, None, ip, 8081) is None         # same container port, other host port: still closed
    rej = sb.run(["ip", "netns", "exec", "inst1", "nft", "list", "set", "inet", "ecsbox", "rej_in"]).stdout
    assert "tcp" in rej or "6 ." in rej, rej
    stop_servers(sb, "web")
