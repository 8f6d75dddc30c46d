"""ecsbox-netd end to end: VPCs, subnets and ENIs in real namespaces, checked with `ip` as witness."""
import json
import os
import re
import signal
import time

import pytest

from sandbox import CLI, Burst, Netd, wait_for


def make_vpc(netd, cidr="10.0.0.0/16"):
    return netd.ok("CreateVpc", CidrBlock=cidr)["Vpc"]


def make_subnet(netd, vpc_id, cidr, az=None):
    req = {"VpcId": vpc_id, "CidrBlock": cidr}
    if az:
        req["AvailabilityZone"] = az
    return netd.ok("CreateSubnet", **req)["Subnet"]


def task_eni(netd, subnet_id, netns, **kw):
    return netd.ok("CreateTaskNetwork", SubnetId=subnet_id, Netns=netns, **kw)["NetworkInterface"]


def ip_json(sb, *args):
    return json.loads(sb.run(["ip", "-j"] + list(args)).stdout or "[]")


def link(sb, netns, ifname):
    return ip_json(sb, "-n", netns, "-d", "link", "show", ifname)[0]


def addrs(sb, netns, ifname):
    out = ip_json(sb, "-n", netns, "-4", "addr", "show", ifname)
    return [f"{a['local']}/{a['prefixlen']}" for a in out[0]["addr_info"]] if out else []


def ping(sb, netns, ip, count=1):
    return sb.run(["ip", "netns", "exec", netns, "ping", "-c", str(count), "-W", "1", "-i", "0.2", ip],
                  check=False).returncode == 0


def open_from_host(netd, vpc, proto, from_port=None, to_port=None):
    """Host traffic comes from the uplink address (100.64.0.0/10): as on AWS the default group must allow it."""
    sg = netd.ok("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    perm = {"IpProtocol": proto, "IpRanges": [{"CidrIp": "100.64.0.0/10"}]}
    if from_port is not None:
        perm.update(FromPort=from_port, ToPort=to_port)
    netd.ok("AuthorizeSecurityGroupIngress", GroupId=sg["GroupId"], IpPermissions=[perm])


def netns_list(sb):
    return sorted(sb.run(["ls", "/run/netns"]).stdout.split())


def test_vpc_subnet_shape_and_kernel(sb, netd):
    vpc = make_vpc(netd)
    assert re.fullmatch(r"vpc-[0-9a-f]{17}", vpc["VpcId"])
    assert vpc["CidrBlock"] == "10.0.0.0/16" and vpc["State"] == "available" and vpc["IsDefault"] is False
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24", "us-east-1b")
    assert re.fullmatch(r"subnet-[0-9a-f]{17}", s["SubnetId"])
    assert s["AvailableIpAddressCount"] == 251
    assert s["AvailabilityZone"] == "us-east-1b" and s["AvailabilityZoneId"] == "use1-az2"
    # the VPC is a namespace with the gateway on the subnet bridge
    vpc_ns = "ebx-" + vpc["VpcId"]
    assert vpc_ns in netns_list(sb)
    gw = [a for l in ip_json(sb, "-n", vpc_ns, "-4", "addr") for a in l["addr_info"] if a["local"] == "10.0.1.1"]
    assert gw and gw[0]["prefixlen"] == 24
    # the sandbox root routes the VPC CIDR to the VPC router
    routes = ip_json(sb, "route", "show", "10.0.0.0/16")
    assert routes and routes[0]["dst"] == "10.0.0.0/16"
    d = netd.ok("DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    assert [x["SubnetId"] for x in d] == [s["SubnetId"]]
    assert netd.ok("DescribeVpcs", VpcIds=[vpc["VpcId"]])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"
    sgs = netd.ok("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"]
    assert [g["GroupName"] for g in sgs] == ["default"]


@pytest.mark.parametrize("itype", ["veth", "macvlan"])
def test_eni_in_namespace_matches_kernel(sb, netd, itype):
    vpc = make_vpc(netd)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    eni = netd.ok("CreateNetworkInterface", SubnetId=s["SubnetId"], InterfaceType=itype,
                  Description="web")["NetworkInterface"]
    assert eni["Status"] == "available" and eni["InterfaceType"] == itype
    assert eni["PrivateIpAddress"] == "10.0.1.4"
    assert re.fullmatch(r"02(:[0-9a-f]{2}){5}", eni["MacAddress"])
    assert eni["PrivateDnsName"] == "ip-10-0-1-4.ec2.internal"
    att = netd.ok("AttachNetworkInterface", NetworkInterfaceId=eni["NetworkInterfaceId"], Netns="task-a")
    assert re.fullmatch(r"eni-attach-[0-9a-f]{17}", att["AttachmentId"])
    e = att["NetworkInterface"]
    assert e["Status"] == "in-use" and e["Attachment"]["Netns"] == "task-a"
    # the kernel agrees: eth0 with MAC, address, up, default route via the gateway
    l = link(sb, "task-a", "eth0")
    assert l["address"] == eni["MacAddress"]
    assert "UP" in l["flags"]
    assert l["linkinfo"]["info_kind"] == itype
    assert addrs(sb, "task-a", "eth0") == ["10.0.1.4/24"]
    r = ip_json(sb, "-n", "task-a", "route", "show", "default")
    assert r[0]["gateway"] == "10.0.1.1" and r[0]["dev"] == "eth0"
    assert ping(sb, "task-a", "10.0.1.1")
    # the subnet count is true
    assert netd.ok("DescribeSubnets", SubnetIds=[s["SubnetId"]])["Subnets"][0]["AvailableIpAddressCount"] == 250
    # detach removes eth0 and the namespace netd made
    netd.ok("DetachNetworkInterface", AttachmentId=att["AttachmentId"])
    wait_for(lambda: "task-a" not in netns_list(sb), 5, what="netns removed")
    assert netd.ok("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni["NetworkInterfaceId"]]
                   )["NetworkInterfaces"][0]["Status"] == "available"
    netd.ok("DeleteNetworkInterface", NetworkInterfaceId=eni["NetworkInterfaceId"])
    assert netd.ok("DescribeSubnets", SubnetIds=[s["SubnetId"]])["Subnets"][0]["AvailableIpAddressCount"] == 251


def test_ping_within_and_across_subnets_and_from_host(sb, netd):
    vpc = make_vpc(netd)
    s1 = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    s2 = make_subnet(netd, vpc["VpcId"], "10.0.2.0/24")
    a = task_eni(netd, s1["SubnetId"], "a")
    b = task_eni(netd, s1["SubnetId"], "b", InterfaceType="macvlan")
    c = task_eni(netd, s2["SubnetId"], "c")
    assert ping(sb, "a", b["PrivateIpAddress"])          # veth -> macvlan, same subnet
    assert ping(sb, "b", a["PrivateIpAddress"])
    assert ping(sb, "a", c["PrivateIpAddress"])          # across subnets through the router
    assert ping(sb, "c", b["PrivateIpAddress"])
    # the sandbox root (the "host") reaches every task IP over the uplink, once the group allows it
    open_from_host(netd, vpc, "icmp", -1, -1)
    for e in (a, b, c):
        assert sb.run(["ping", "-c", "1", "-W", "1", e["PrivateIpAddress"]], check=False).returncode == 0


def ip_num(s):
    a = [int(x) for x in s.split(".")]
    return a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]


def ip_str(n):
    return ".".join(str(n >> k & 255) for k in (24, 16, 8, 0))


def admitted(sb, netns, group_id):
    """The addresses a task's table admits as members of peer group group_id, read with `nft -j` (the
    witness): its member set m_<id>. A table of layout 1 (netd before the member sets, which folded
    members into the interval sets) has none: there, the addresses of sg_in_proto's elements that
    allow every protocol stand for them, so this test shows the defect on such a netd too."""
    def nft_set(name):
        p = sb.run(["ip", "netns", "exec", netns, "nft", "-j", "list", "set", "inet", "ecsbox", name], check=False)
        return [e for item in json.loads(p.stdout)["nftables"] if "set" in item
                for e in item["set"].get("elem", [])] if p.returncode == 0 else None

    elems = nft_set("m_" + group_id[3:])
    if elems is not None:
        return {e for e in elems if isinstance(e, str)}
    got = set()
    for e in nft_set("sg_in_proto") or []:                     # layout 1: proto 0-255 . address range
        proto, addr = e["concat"]
        if proto != {"range": [0, 255]}:
            continue
        if isinstance(addr, str):
            lo = hi = ip_num(addr)
        elif "range" in addr:
            lo, hi = ip_num(addr["range"][0]), ip_num(addr["range"][1])
        else:
            lo = ip_num(addr["prefix"]["addr"])
            hi = lo + (1 << (32 - addr["prefix"]["len"])) - 1
        got |= {ip_str(n) for n in range(lo, hi + 1)}
    return got


def test_membership_is_in_force_when_netd_answers(sb, netd):
    """An answer means the change is in force: right after each CreateTaskNetwork, DeleteTaskNetwork,
    CreateNetworkInterface, DeleteNetworkInterface and ModifyNetworkInterfaceAttribute answer (no
    sleep, no retry) every peer's member set of the default group, which names itself, holds exactly
    the group's members."""
    vpc = make_vpc(netd)
    s1 = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    s2 = make_subnet(netd, vpc["VpcId"], "10.0.2.0/24")
    dflt = netd.ok("DescribeSecurityGroups", Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]},
                                                      {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
    tasks, members = {}, set()          # netns -> ENI of the attached members; the members' addresses

    def in_force(what):
        for ns in tasks:
            got = admitted(sb, ns, dflt)
            assert got == members, f"after {what}: {ns} admits {sorted(got)}, the members are {sorted(members)}"

    for i in range(8):                  # each newer member must be in every older member's table at once
        e = task_eni(netd, (s1 if i % 3 else s2)["SubnetId"], f"n{i}", InterfaceType="macvlan" if i % 2 else "veth")
        tasks[f"n{i}"] = e
        members.add(e["PrivateIpAddress"])
        in_force(f"CreateTaskNetwork n{i}")
    assert ping(sb, "n7", tasks["n0"]["PrivateIpAddress"])   # a single probe each way, newest <-> oldest
    assert ping(sb, "n0", tasks["n7"]["PrivateIpAddress"])
    # a member leaves when DeleteTaskNetwork answers; its neighbours stay
    gone = tasks.pop("n3")
    netd.ok("DeleteTaskNetwork", NetworkInterfaceId=gone["NetworkInterfaceId"])
    members.discard(gone["PrivateIpAddress"])
    in_force("DeleteTaskNetwork n3")
    # an ENI that is only created (not attached) is a member too, and leaves when deleted
    e = netd.ok("CreateNetworkInterface", SubnetId=s1["SubnetId"])["NetworkInterface"]
    members.add(e["PrivateIpAddress"])
    in_force("CreateNetworkInterface")
    netd.ok("DeleteNetworkInterface", NetworkInterfaceId=e["NetworkInterfaceId"])
    members.discard(e["PrivateIpAddress"])
    in_force("DeleteNetworkInterface")
    # leaving and joining through ModifyNetworkInterfaceAttribute: a group that names nobody
    web = netd.ok("CreateSecurityGroup", GroupName="web", Description="web", VpcId=vpc["VpcId"])["GroupId"]
    moved = tasks.pop("n5")
    netd.ok("ModifyNetworkInterfaceAttribute", NetworkInterfaceId=moved["NetworkInterfaceId"], Groups=[web])
    members.discard(moved["PrivateIpAddress"])
    in_force("ModifyNetworkInterfaceAttribute n5 -> web")
    assert not ping(sb, "n0", moved["PrivateIpAddress"])
    netd.ok("ModifyNetworkInterfaceAttribute", NetworkInterfaceId=moved["NetworkInterfaceId"], Groups=[web, dflt])
    tasks["n5"] = moved
    members.add(moved["PrivateIpAddress"])
    in_force("ModifyNetworkInterfaceAttribute n5 -> web, default")
    assert ping(sb, "n0", moved["PrivateIpAddress"]) and ping(sb, "n5", tasks["n6"]["PrivateIpAddress"])


def test_vpcs_are_isolated_even_when_overlapping(sb, netd):
    v1 = make_vpc(netd, "10.0.0.0/16")
    v2 = make_vpc(netd, "10.1.0.0/16")
    v3 = make_vpc(netd, "10.0.0.0/16")          # overlaps v1
    a = task_eni(netd, make_subnet(netd, v1["VpcId"], "10.0.1.0/24")["SubnetId"], "a")
    b = task_eni(netd, make_subnet(netd, v2["VpcId"], "10.1.1.0/24")["SubnetId"], "b")
    c = task_eni(netd, make_subnet(netd, v3["VpcId"], "10.0.1.0/24")["SubnetId"], "c")
    assert a["PrivateIpAddress"] == c["PrivateIpAddress"] == "10.0.1.4"
    assert not ping(sb, "a", b["PrivateIpAddress"])
    assert not ping(sb, "b", a["PrivateIpAddress"])
    # c has the same address as a but lives in another VPC: its own gateway answers, a is not reached
    assert ping(sb, "c", "10.0.1.1")
    assert not ping(sb, "b", "10.0.1.1")


def test_two_tasks_serve_http_on_port_80(sb, netd):
    vpc = make_vpc(netd)
    open_from_host(netd, vpc, "tcp", 80, 80)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    enis = []
    for name, itype in (("web1", "veth"), ("web2", "macvlan")):
        e = task_eni(netd, s["SubnetId"], name, InterfaceType=itype)
        www = os.path.join(sb.tmp, name)
        os.makedirs(www)
        open(os.path.join(www, "index.html"), "w").write(f"hello from {name}\n")
        sb.spawn(["ip", "netns", "exec", name, "busybox", "httpd", "-f", "-p", "80", "-h", www])
        enis.append((name, e))
    for name, e in enis:
        def fetch():
            p = sb.run(["curl", "-s", "--max-time", "2", f"http://{e['PrivateIpAddress']}/"], check=False)
            return p.stdout if p.returncode == 0 else None
        assert wait_for(fetch, 10, what=f"http from {name}") == f"hello from {name}\n"


def test_describe_filters(sb, netd):
    vpc = make_vpc(netd)
    s1 = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    s2 = make_subnet(netd, vpc["VpcId"], "10.0.2.0/24")
    e1 = task_eni(netd, s1["SubnetId"], "one")
    e2 = netd.ok("CreateNetworkInterface", SubnetId=s2["SubnetId"])["NetworkInterface"]

    def ids(**kw):
        return sorted(x["NetworkInterfaceId"] for x in netd.ok("DescribeNetworkInterfaces", **kw)["NetworkInterfaces"])
    assert ids(Filters=[{"Name": "subnet-id", "Values": [s1["SubnetId"]]}]) == [e1["NetworkInterfaceId"]]
    assert ids(Filters=[{"Name": "status", "Values": ["available"]}]) == [e2["NetworkInterfaceId"]]
    assert ids(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]) == sorted([e1["NetworkInterfaceId"], e2["NetworkInterfaceId"]])
    assert ids(Filters=[{"Name": "attachment.netns", "Values": ["one"]}]) == [e1["NetworkInterfaceId"]]
    assert ids(NetworkInterfaceIds=[e2["NetworkInterfaceId"]]) == [e2["NetworkInterfaceId"]]


def test_ipam_round_robin_and_full_subnet(sb, netd):
    vpc = make_vpc(netd)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/28")     # 11 usable: .4 - .14
    enis = [netd.ok("CreateNetworkInterface", SubnetId=s["SubnetId"])["NetworkInterface"] for _ in range(11)]
    assert [e["PrivateIpAddress"] for e in enis] == [f"10.0.1.{i}" for i in range(4, 15)]
    assert netd.err("CreateNetworkInterface", SubnetId=s["SubnetId"]) == "InsufficientFreeAddressesInSubnet"
    # a released address is not handed out at once while others are free
    netd.ok("DeleteNetworkInterface", NetworkInterfaceId=enis[0]["NetworkInterfaceId"])
    netd.ok("DeleteNetworkInterface", NetworkInterfaceId=enis[5]["NetworkInterfaceId"])
    nxt = netd.ok("CreateNetworkInterface", SubnetId=s["SubnetId"])["NetworkInterface"]
    assert nxt["PrivateIpAddress"] == "10.0.1.4"      # cursor wrapped past .14 to the first free one
    nxt2 = netd.ok("CreateNetworkInterface", SubnetId=s["SubnetId"])["NetworkInterface"]
    assert nxt2["PrivateIpAddress"] == "10.0.1.9"
    macs = {e["MacAddress"] for e in enis}
    assert len(macs) == 11


def state_snapshot(netd):
    return {k: netd.ok(a)[k] for a, k in (("DescribeVpcs", "Vpcs"), ("DescribeSubnets", "Subnets"),
                                          ("DescribeNetworkInterfaces", "NetworkInterfaces"))}


BAD = [
    # (action, params, expected code)
    ("CreateVpc", {"CidrBlock": "10.0.0.0/8"}, "InvalidVpc.Range"),
    ("CreateVpc", {"CidrBlock": "10.0.0.0/29"}, "InvalidVpc.Range"),
    ("CreateVpc", {"CidrBlock": "10.0.0.1/16"}, "InvalidParameterValue"),
    ("CreateVpc", {"CidrBlock": "10.0.0/16"}, "InvalidParameterValue"),
    ("CreateVpc", {"CidrBlock": 5}, "InvalidParameterValue"),
    ("CreateVpc", {}, "MissingParameter"),
    ("CreateVpc", {"CidrBlock": "10.0.0.0/16", "Bogus": 1}, "UnknownParameter"),
    ("CreateSubnet", {"VpcId": "{vpc}", "CidrBlock": "10.1.0.0/24"}, "InvalidSubnet.Range"),
    ("CreateSubnet", {"VpcId": "{vpc}", "CidrBlock": "10.0.0.0/12"}, "InvalidSubnet.Range"),
    ("CreateSubnet", {"VpcId": "{vpc}", "CidrBlock": "10.0.1.0/29"}, "InvalidSubnet.Range"),
    ("CreateSubnet", {"VpcId": "{vpc}", "CidrBlock": "10.0.1.128/25"}, "InvalidSubnet.Conflict"),
    ("CreateSubnet", {"VpcId": "vpc-00000000000000000", "CidrBlock": "10.0.9.0/24"}, "InvalidVpcID.NotFound"),
    ("CreateSubnet", {"VpcId": "vpc-xyz", "CidrBlock": "10.0.9.0/24"}, "InvalidVpcID.Malformed"),
    ("CreateSubnet", {"VpcId": "{vpc}", "CidrBlock": "10.0.9.0/24", "AvailabilityZone": "Moon!"}, "InvalidParameterValue"),
    ("CreateNetworkInterface", {"SubnetId": "{subnet}", "PrivateIpAddress": "10.0.2.5"}, "InvalidParameterValue"),
    ("CreateNetworkInterface", {"SubnetId": "{subnet}", "PrivateIpAddress": "10.0.1.1"}, "InvalidParameterValue"),
    ("CreateNetworkInterface", {"SubnetId": "{subnet}", "PrivateIpAddress": "10.0.1.255"}, "InvalidParameterValue"),
    ("CreateNetworkInterface", {"SubnetId": "{subnet}", "PrivateIpAddress": "10.0.1.4"}, "InvalidIPAddress.InUse"),
    ("CreateNetworkInterface", {"SubnetId": "{subnet}", "PrivateIpAddress": "banana"}, "InvalidParameterValue"),
    ("CreateNetworkInterface", {"SubnetId": "{subnet}", "InterfaceType": "ipvlan"}, "InvalidParameterValue"),
    ("CreateNetworkInterface", {"SubnetId": "{subnet}", "Groups": ["sg-00000000000000000"]}, "InvalidGroup.NotFound"),
    ("CreateNetworkInterface", {"SubnetId": "subnet-00000000000000000"}, "InvalidSubnetID.NotFound"),
    ("AttachNetworkInterface", {"NetworkInterfaceId": "{eni}", "Netns": "../etc"}, "InvalidParameterValue"),
    ("AttachNetworkInterface", {"NetworkInterfaceId": "{eni}", "Netns": "ebx-vpc-x"}, "InvalidParameterValue"),
    ("AttachNetworkInterface", {"NetworkInterfaceId": "{eni}", "Netns": "busy"}, "InvalidNetworkInterface.InUse"),
    ("AttachNetworkInterface", {"NetworkInterfaceId": "eni-00000000000000000", "Netns": "x"}, "InvalidNetworkInterfaceID.NotFound"),
    ("DeleteNetworkInterface", {"NetworkInterfaceId": "{eni}"}, "InvalidNetworkInterface.InUse"),
    ("DeleteSubnet", {"SubnetId": "{subnet}"}, "DependencyViolation"),
    ("DeleteVpc", {"VpcId": "{vpc}"}, "DependencyViolation"),
    ("DescribeVpcs", {"VpcIds": ["vpc-00000000000000000"]}, "InvalidVpcID.NotFound"),
    ("DescribeSubnets", {"Filters": [{"Name": "nonsense", "Values": ["x"]}]}, "InvalidParameterValue"),
    ("DetachNetworkInterface", {"AttachmentId": "eni-attach-00000000000000000"}, "InvalidAttachmentID.NotFound"),
    ("NoSuchAction", {}, "InvalidAction"),
]


def test_bad_input_table(sb, netd):
    vpc = make_vpc(netd)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    e = task_eni(netd, s["SubnetId"], "busy")
    subst = {"{vpc}": vpc["VpcId"], "{subnet}": s["SubnetId"], "{eni}": e["NetworkInterfaceId"]}
    before = state_snapshot(netd)
    links_before = sb.run(["ip", "-n", "ebx-" + vpc["VpcId"], "-o", "link"]).stdout.count("\n")
    for action, params, code in BAD:
        p = json.loads(json.dumps(params))
        for k, v in list(p.items()):
            if isinstance(v, str) and v in subst:
                p[k] = subst[v]
        got = netd.call(action, **p)
        assert "Error" in got, f"{action} {p}: expected {code}, got {got}"
        assert got["Error"]["Code"] == code, f"{action} {p}: {got}"
        assert got["Error"]["Message"], f"{action}: empty message"
    assert state_snapshot(netd) == before
    assert sb.run(["ip", "-n", "ebx-" + vpc["VpcId"], "-o", "link"]).stdout.count("\n") == links_before
    assert netns_list(sb) == sorted(["busy", "ebx-" + vpc["VpcId"]])


def test_malformed_and_oversized_requests(sb, netd):
    assert netd.raw(b"{not json\n")["Error"]["Code"] == "InvalidRequest"
    assert netd.raw(b"[1,2]\n")["Error"]["Code"] == "InvalidRequest"
    big = b'{"Action": "CreateVpc", "CidrBlock": "' + b"x" * (2 * 1024 * 1024)
    assert netd.raw(big)["Error"]["Code"] == "RequestTooLarge"
    # the daemon is still fine
    assert netd.ok("DescribeVpcs")["Vpcs"] == []


def test_socket_mode_and_cli(sb, netd):
    st = os.stat(netd.path(netd.sock))
    assert oct(st.st_mode & 0o777) == "0o660"
    cli = sb.ec2
    vpc = json.loads(cli("create-vpc", "--cidr-block", "10.9.0.0/16").stdout)["Vpc"]
    assert vpc["CidrBlock"] == "10.9.0.0/16"
    p = cli("create-vpc", "--cidr-block", "10.0.0.0/8", check=False)
    assert p.returncode == 254
    assert "An error occurred (InvalidVpc.Range) when calling the CreateVpc operation" in p.stderr
    sub = json.loads(cli("create-subnet", "--vpc-id", vpc["VpcId"], "--cidr-block", "10.9.1.0/24",
                         "--availability-zone", "us-east-1b").stdout)["Subnet"]
    eni = json.loads(cli("create-network-interface", "--subnet-id", sub["SubnetId"], "--private-ip-address", "10.9.1.10",
                         "--interface-type", "macvlan", "--description", "cli test").stdout)["NetworkInterface"]
    assert eni["PrivateIpAddress"] == "10.9.1.10" and eni["InterfaceType"] == "macvlan"
    cli("attach-network-interface", "--network-interface-id", eni["NetworkInterfaceId"], "--netns", "clitask")
    assert addrs(sb, "clitask", "eth0") == ["10.9.1.10/24"]
    got = json.loads(cli("describe-network-interfaces", "--filters", "Name=subnet-id,Values=" + sub["SubnetId"]).stdout)
    assert [e["Status"] for e in got["NetworkInterfaces"]] == ["in-use"]
    got = json.loads(cli("describe-vpcs", "--vpc-ids", vpc["VpcId"]).stdout)
    assert got["Vpcs"][0]["VpcId"] == vpc["VpcId"]
    assert cli("delete-subnet", "--subnet-id", sub["SubnetId"], check=False).returncode == 254
    cli("detach-network-interface", "--network-interface-id", eni["NetworkInterfaceId"])
    assert cli("delete-network-interface", "--network-interface-id", eni["NetworkInterfaceId"]).stdout == ""
    cli("delete-subnet", "--subnet-id", sub["SubnetId"])
    cli("delete-vpc", "--vpc-id", vpc["VpcId"])
    assert cli("frobnicate-vpc", check=False).returncode == 252
    assert cli("create-vpc", "--cidr-block", check=False).returncode == 252
    bad = sb.run([CLI, "--socket", "/run/ecsbox/nothing.sock", "ec2", "describe-vpcs"], check=False)
    assert bad.returncode == 255 and "/run/ecsbox/nothing.sock" in bad.stderr


AS_NOBODY_CONNECT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("connect: EACCES"); sys.exit(0)
try:
    s.sendall(b'{"Action":"DescribeVpcs"}\n')
    print("answer:", repr(s.recv(65536)))
except (BrokenPipeError, ConnectionResetError):
    print("answer: closed")
"""


def test_socket_refuses_other_users(sb, netd):
    """Only root, netd's user and the ecsbox group: uid 65534 cannot connect (0660), and with the mode
    opened up it is still refused by its peer credentials, with nothing answered."""
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
              AS_NOBODY_CONNECT, netd.sock]
    assert sb.run(nobody).stdout.strip() == "connect: EACCES"
    sb.run(["chmod", "0666", netd.sock])
    out = sb.run(nobody).stdout.strip()
    assert out in ("answer: b''", "answer: closed"), out   # closed unanswered, however fast
    assert netd.ok("DescribeVpcs")["Vpcs"] == []      # root still served


def test_netd_privileges_and_fds(sb, netd):
    pid = netd.netd_pid()
    status = open(f"/proc/{pid}/status").read()
    eff = int(re.search(r"CapEff:\s+([0-9a-f]+)", status).group(1), 16)
    CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21
    assert eff == (1 << CAP_NET_ADMIN) | (1 << CAP_SYS_ADMIN)
    # every fd is close-on-exec
    for fd in os.listdir(f"/proc/{pid}/fd"):
        flags = int(re.search(r"flags:\s+(\d+)", open(f"/proc/{pid}/fdinfo/{fd}").read()).group(1), 8)
        if int(fd) > 2:
            assert flags & 0o2000000, f"fd {fd} of netd lacks O_CLOEXEC: {os.readlink(f'/proc/{pid}/fd/{fd}')}"


def test_default_vpc_on_first_start(sb):
    d = Netd(sb)
    vpcs = d.ok("DescribeVpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1 and vpcs[0]["CidrBlock"] == "172.31.0.0/16"
    subnets = d.ok("DescribeSubnets", Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == ["us-east-1a", "us-east-1b"]
    # a restart does not make a second one
    d.stop()
    d.start()
    assert len(d.ok("DescribeVpcs")["Vpcs"]) == 1


def kernel_view(sb, vpc_ns):
    """Namespaces and the veth host ends in the VPC namespace, from `ip`."""
    links = [l["ifname"] for l in ip_json(sb, "-n", vpc_ns, "link") if l["ifname"].startswith("v")]
    return netns_list(sb), sorted(links)


def test_crash_during_burst_recovers(sb, netd):
    vpc = make_vpc(netd)
    s1 = make_subnet(netd, vpc["VpcId"], "10.0.0.0/20")
    s2 = make_subnet(netd, vpc["VpcId"], "10.0.16.0/20")
    vpc_ns = "ebx-" + vpc["VpcId"]
    burst = Burst(netd, [("CreateTaskNetwork", dict(SubnetId=(s1 if i % 2 else s2)["SubnetId"], Netns=f"t{i}",
                                                    InterfaceType="macvlan" if i % 3 == 0 else "veth"))
                         for i in range(100)])
    done = burst.done
    wait_for(lambda: len(done) >= 30, 60, what="30 task networks")
    netd.kill9()
    burst.join(60)
    netd.start()
    enis = netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"]
    # every request acknowledged before the crash survived; nothing half-made remains
    assert {f"t{i}" for i in done} <= {e["Attachment"]["Netns"] for e in enis}
    assert all(e["Status"] == "in-use" for e in enis)
    namespaces, veths = kernel_view(sb, vpc_ns)
    assert sorted(namespaces) == sorted([vpc_ns] + [e["Attachment"]["Netns"] for e in enis])
    want_veths = sorted("v" + e["NetworkInterfaceId"][-14:] for e in enis if e["InterfaceType"] == "veth")
    assert veths == want_veths
    for e in enis:
        ns = e["Attachment"]["Netns"]
        assert link(sb, ns, "eth0")["address"] == e["MacAddress"]
        assert addrs(sb, ns, "eth0") == [e["PrivateIpAddress"] + "/20"]
    # the leases agree with the ENIs
    used = {x["SubnetId"]: 4091 - x["AvailableIpAddressCount"] for x in netd.ok("DescribeSubnets")["Subnets"]}
    per = {}
    for e in enis:
        per[e["SubnetId"]] = per.get(e["SubnetId"], 0) + 1
    assert used == {s1["SubnetId"]: per.get(s1["SubnetId"], 0), s2["SubnetId"]: per.get(s2["SubnetId"], 0)}
    # everything still works: delete all, nothing left
    for e in enis:
        netd.ok("DeleteTaskNetwork", NetworkInterfaceId=e["NetworkInterfaceId"])
    wait_for(lambda: kernel_view(sb, vpc_ns) == ([vpc_ns], []), 10, what="all task links gone")


def test_restart_repairs_deleted_namespace(sb, netd):
    vpc = make_vpc(netd)
    s = make_subnet(netd, vpc["VpcId"], "10.0.1.0/24")
    e = task_eni(netd, s["SubnetId"], "victim")
    sb.run(["ip", "netns", "del", "victim"])
    sb.run(["ip", "-n", "ebx-" + vpc["VpcId"], "link", "add", "v0000000000000a", "type", "veth", "peer", "name", "x0"])
    netd.stop()
    netd.start()
    assert link(sb, "victim", "eth0")["address"] == e["MacAddress"]
    assert addrs(sb, "victim", "eth0") == [e["PrivateIpAddress"] + "/24"]
    names = [l["ifname"] for l in ip_json(sb, "-n", "ebx-" + vpc["VpcId"], "link")]
    assert "v0000000000000a" not in names
    assert ping(sb, "victim", "10.0.1.1")
