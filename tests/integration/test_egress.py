"""A way out of a VPC: internet gateways, NAT gateways and route tables end to end. "The internet" is
a namespace the test makes (198.18.0.2, the benchmarking range) behind a veth from the sandbox's root
netns (198.18.0.1), with an HTTP server the test starts and kills by PID; tasks are task networks made
by CreateTaskNetwork."""
import json
import time

import pytest

from sandbox import Ecsboxd, Netd, wait_for

INET_IP = "198.18.0.2"

# GET http://IP:PORT/ once: prints "ok STATUS SECONDS" or "fail ERROR SECONDS" (exit 1).
GET = r"""
import sys, time, urllib.request
t0 = time.monotonic()
try:
    r = urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/", timeout=3)
    print("ok", r.status, round(time.monotonic() - t0, 3))
except Exception as e:
    print("fail", repr(e).replace(" ", "_"), round(time.monotonic() - t0, 3)); sys.exit(1)
"""


@pytest.fixture
def internet(sb):
    """The "internet" netns with an HTTP server on 198.18.0.2:80; killed by its PID at the end."""
    sb.run("set -e; ip netns add internet; ip link add inet0 type veth peer name inet1 netns internet; "
           "ip addr add 198.18.0.1/24 dev inet0; ip link set inet0 up; "
           "ip -n internet link set lo up; ip -n internet addr add 198.18.0.2/24 dev inet1; "
           "ip -n internet link set inet1 up; ip -n internet route add default via 198.18.0.1")
    pidfile = "/tmp/inet-httpd.pid"
    sb.spawn(["sh", "-c", f"echo $$ > {pidfile}; cd /tmp; exec ip netns exec internet /usr/bin/python3 -m http.server 80 --bind {INET_IP}"])
    wait_for(lambda: get(sb, None, INET_IP)[0], 15, what="the internet's HTTP server")
    yield INET_IP
    pid = sb.run(["cat", pidfile]).stdout.strip()
    sb.run(["kill", pid], check=False)


def get(sb, netns, ip, port=80):
    """(reached, seconds) of one HTTP GET from netns (None: the sandbox's root)."""
    argv = ["/usr/bin/python3", "-c", GET, ip, str(port)]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    p = sb.run(argv, check=False, timeout=30)
    words = p.stdout.split()
    return p.returncode == 0, float(words[-1]) if words else 99.0


def reaches(sb, netns, ip=INET_IP):
    return get(sb, netns, ip)[0]


def fails_fast(sb, netns, ip=INET_IP):
    ok, secs = get(sb, netns, ip)
    return not ok and secs < 1.0


def task(netd, subnet, netns, **kw):
    return netd.ok("CreateTaskNetwork", SubnetId=subnet["SubnetId"], Netns=netns, **kw)["NetworkInterface"]


def tables(netd, vpc_id):
    return netd.ok("DescribeRouteTables", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]


def main_table(netd, vpc_id):
    got = netd.ok("DescribeRouteTables", Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                  {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert len(got) == 1
    return got[0]


def public_vpc(netd, cidr="10.77.0.0/16"):
    """A VPC with a public subnet (own table: 0.0.0.0/0 -> igw) and a private one (main table)."""
    vpc = netd.ok("CreateVpc", CidrBlock=cidr)["Vpc"]
    pub = netd.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock=cidr.replace("0.0/16", "1.0/24"))["Subnet"]
    priv = netd.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock=cidr.replace("0.0/16", "2.0/24"))["Subnet"]
    igw = netd.ok("CreateInternetGateway")["InternetGateway"]["InternetGatewayId"]
    netd.ok("AttachInternetGateway", InternetGatewayId=igw, VpcId=vpc["VpcId"])
    rtb = netd.ok("CreateRouteTable", VpcId=vpc["VpcId"])["RouteTable"]["RouteTableId"]
    netd.ok("CreateRoute", RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assoc = netd.ok("AssociateRouteTable", RouteTableId=rtb, SubnetId=pub["SubnetId"])
    assert assoc["AssociationState"]["State"] == "associated"
    return vpc, pub, priv, igw, rtb


def test_main_route_table_of_a_new_vpc(sb, netd):
    vpc = netd.ok("CreateVpc", CidrBlock="10.9.0.0/16")["Vpc"]
    t = main_table(netd, vpc["VpcId"])
    assert t["Routes"] == [{"DestinationCidrBlock": "10.9.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable",
                            "State": "active"}]
    a = t["Associations"][0]
    assert a["Main"] is True and a["RouteTableId"] == t["RouteTableId"] and a["AssociationState"] == {"State": "associated"}
    assert a["RouteTableAssociationId"].startswith("rtbassoc-")
    # DeleteVpc takes its main table along
    netd.ok("DeleteVpc", VpcId=vpc["VpcId"])
    assert tables(netd, vpc["VpcId"]) == []


def test_public_private_nat_and_routes_follow(sb, netd, internet):
    vpc, pub, priv, igw, rtb = public_vpc(netd)
    a = task(netd, pub, "pub")
    b = task(netd, priv, "priv")
    # the public subnet reaches the internet (masqueraded: the server sees the host's address)
    assert reaches(sb, "pub")
    # the private one does not, and is told so at once (no route: unreachable)
    assert fails_fast(sb, "priv")
    # a NAT gateway in the public subnet, the main table's default route to it
    nat = netd.ok("CreateNatGateway", SubnetId=pub["SubnetId"])["NatGateway"]
    assert nat["State"] == "available" and nat["ConnectivityType"] == "public" and nat["VpcId"] == vpc["VpcId"]
    main = main_table(netd, vpc["VpcId"])["RouteTableId"]
    netd.ok("CreateRoute", RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGatewayId"])
    assert reaches(sb, "priv")
    routes = {r["DestinationCidrBlock"]: r for r in main_table(netd, vpc["VpcId"])["Routes"]}
    assert routes["0.0.0.0/0"] == {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": nat["NatGatewayId"],
                                   "Origin": "CreateRoute", "State": "active"}
    # a narrower route wins (longest prefix): the internet's /24 to nowhere usable, then back
    netd.ok("DeleteRoute", RouteTableId=main, DestinationCidrBlock="0.0.0.0/0")
    assert fails_fast(sb, "priv")
    netd.ok("CreateRoute", RouteTableId=main, DestinationCidrBlock="198.18.0.0/24", NatGatewayId=nat["NatGatewayId"])
    assert reaches(sb, "priv")
    assert fails_fast(sb, "priv", "198.19.0.1")
    # a NAT gateway in a private subnet is no way out
    nat2 = netd.ok("CreateNatGateway", SubnetId=priv["SubnetId"])["NatGateway"]["NatGatewayId"]
    netd.ok("ReplaceRoute", RouteTableId=main, DestinationCidrBlock="198.18.0.0/24", NatGatewayId=nat2)
    assert fails_fast(sb, "priv")
    netd.ok("ReplaceRoute", RouteTableId=main, DestinationCidrBlock="198.18.0.0/24", NatGatewayId=nat["NatGatewayId"])
    assert reaches(sb, "priv")
    # the NAT gateway deleted: its route turns blackhole and the subnet is private again
    assert netd.ok("DeleteNatGateway", NatGatewayId=nat["NatGatewayId"]) == {"NatGatewayId": nat["NatGatewayId"]}
    assert fails_fast(sb, "priv")
    routes = {r["DestinationCidrBlock"]: r for r in main_table(netd, vpc["VpcId"])["Routes"]}
    assert routes["198.18.0.0/24"]["State"] == "blackhole"
    got = netd.ok("DescribeNatGateways", NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]
    assert got["State"] == "deleted"
    assert [n["NatGatewayId"] for n in netd.ok("DescribeNatGateways", Filter=[{"Name": "state", "Values": ["available"]}])["NatGateways"]] == [nat2]
    # moving the public subnet to the main table makes it private; back, public
    assoc = [x for x in netd.ok("DescribeRouteTables", RouteTableIds=[rtb])["RouteTables"][0]["Associations"]
             if x.get("SubnetId") == pub["SubnetId"]][0]["RouteTableAssociationId"]
    netd.ok("DisassociateRouteTable", AssociationId=assoc)
    assert fails_fast(sb, "pub")
    netd.ok("AssociateRouteTable", RouteTableId=rtb, SubnetId=pub["SubnetId"])
    assert reaches(sb, "pub")
    # detaching the internet gateway closes the way out; the route shows blackhole
    netd.ok("DetachInternetGateway", InternetGatewayId=igw, VpcId=vpc["VpcId"])
    assert fails_fast(sb, "pub")
    r0 = [r for r in netd.ok("DescribeRouteTables", RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
          if r["DestinationCidrBlock"] == "0.0.0.0/0"][0]
    assert r0["State"] == "blackhole" and r0["GatewayId"] == igw
    netd.ok("AttachInternetGateway", InternetGatewayId=igw, VpcId=vpc["VpcId"])
    assert reaches(sb, "pub")
    assert a["PrivateIpAddress"] and b["PrivateIpAddress"]


def flow_records(netd, eni):
    """The flow log records of an ENI as dicts (default format)."""
    names = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
             "action log-status").split()
    out = []
    for f in netd.ok("GetFlowLogs", NetworkInterfaceId=eni)["FlowLogRecords"]:
        out += [dict(zip(names, line.split())) for line in f["Records"]]
    return out


def test_security_group_egress_and_flow_logs_cover_the_way_out(sb, netd, internet):
    vpc, pub, priv, igw, rtb = public_vpc(netd)
    t = task(netd, pub, "t")
    dest = f"{sb.tmp}/fl"
    sb.run(["mkdir", "-p", dest])
    doc = netd.ok("CreateFlowLogs", ResourceType="NetworkInterface", ResourceIds=[t["NetworkInterfaceId"]], TrafficType="ALL",
                  LogDestinationType="file", LogDestination=dest, MaxAggregationInterval=1)
    assert doc["Unsuccessful"] == []
    assert reaches(sb, "t")
    # the flow to the internet is in the ENI's flow log, with the task's own address (NAT is beyond eth0)
    wait_for(lambda: [r for r in flow_records(netd, t["NetworkInterfaceId"])
                      if r["dstaddr"] == INET_IP and r["dstport"] == "80" and r["action"] == "ACCEPT"
                      and r["srcaddr"] == t["PrivateIpAddress"]], 15, what="an ACCEPT record to the internet")
    gid = netd.ok("CreateSecurityGroup", GroupName="tight", Description="no internet", VpcId=vpc["VpcId"])["GroupId"]
    netd.ok("RevokeSecurityGroupEgress", GroupId=gid, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    netd.ok("AuthorizeSecurityGroupEgress", GroupId=gid,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    netd.ok("ModifyNetworkInterfaceAttribute", NetworkInterfaceId=t["NetworkInterfaceId"], Groups=[gid])
    assert not reaches(sb, "t")
    wait_for(lambda: [r for r in flow_records(netd, t["NetworkInterfaceId"])
                      if r["dstaddr"] == INET_IP and r["dstport"] == "80" and r["action"] == "REJECT"], 15,
             what="a REJECT record to the internet")
    netd.ok("AuthorizeSecurityGroupEgress", GroupId=gid,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "198.18.0.0/15"}]}])
    assert reaches(sb, "t")


def test_restart_and_crash_keep_it_working(sb, netd, internet):
    vpc, pub, priv, igw, rtb = public_vpc(netd)
    task(netd, pub, "pub")
    task(netd, priv, "priv")
    assert reaches(sb, "pub") and fails_fast(sb, "priv")
    netd.stop()
    netd.start()
    assert reaches(sb, "pub") and fails_fast(sb, "priv")
    # the kernel state removed behind netd's back (rules, tables, the host table): the next start repairs it
    ns = "ebx-" + vpc["VpcId"]
    sb.run(f"ip -n {ns} rule flush; ip -n {ns} rule add from all lookup local pref 0; "
           f"ip -n {ns} rule add from all lookup main pref 32766; ip -n {ns} rule add from all lookup default pref 32767; "
           "nft delete table ip ecsbox_egress")
    assert not reaches(sb, "pub")
    netd.kill9()
    netd.start()
    assert reaches(sb, "pub") and fails_fast(sb, "priv")
    # the rules are per subnet, after main
    rules = json.loads(sb.run(["ip", "-j", "-n", ns, "rule"]).stdout)
    ours = sorted(r["src"] for r in rules if r.get("priority") == 40000)
    assert ours == ["10.77.1.0", "10.77.2.0"]
    # the kernel fails under a change (the uplink gone behind netd's back): the records stand, the
    # intent stays, and the next start finishes the change
    sb.run(["ip", "-n", ns, "link", "del", "uplink"])
    main = main_table(netd, vpc["VpcId"])["RouteTableId"]
    got = netd.call("CreateRoute", RouteTableId=main, DestinationCidrBlock="198.18.0.0/24", GatewayId=igw)
    assert got["Error"]["Code"] == "InternalError"
    assert f"CreateRoute {main} 198.18.0.0/24: vpc {vpc['VpcId']}" in got["Error"]["Message"]
    assert "'uplink'" in got["Error"]["Message"]
    assert "198.18.0.0/24" in {r["DestinationCidrBlock"] for r in main_table(netd, vpc["VpcId"])["Routes"]}
    netd.stop()
    netd.start()
    assert reaches(sb, "pub") and reaches(sb, "priv")
    assert "repaired interrupted operation" in open(netd.log).read()


def test_default_vpc_is_public(sb, internet):
    d = Netd(sb)
    vpc = d.ok("DescribeVpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    igws = d.ok("DescribeInternetGateways", Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])["InternetGateways"]
    assert len(igws) == 1 and igws[0]["Attachments"] == [{"VpcId": vpc["VpcId"], "State": "available"}]
    routes = {r["DestinationCidrBlock"]: r for r in main_table(d, vpc["VpcId"])["Routes"]}
    assert routes["0.0.0.0/0"]["GatewayId"] == igws[0]["InternetGatewayId"] and routes["0.0.0.0/0"]["State"] == "active"
    s = d.ok("DescribeSubnets", Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]
    task(d, s, "web")
    assert reaches(sb, "web")
    # a restart neither makes a second gateway nor loses the way out
    d.stop()
    d.start()
    assert len(d.ok("DescribeInternetGateways")["InternetGateways"]) == 1
    assert reaches(sb, "web")
    # DeleteVpc refuses while the gateway is attached, as AWS
    d.ok("DeleteTaskNetwork", NetworkInterfaceId=d.ok("DescribeNetworkInterfaces")["NetworkInterfaces"][0]["NetworkInterfaceId"])
    for sub in d.ok("DescribeSubnets")["Subnets"]:
        d.ok("DeleteSubnet", SubnetId=sub["SubnetId"])
    assert d.err("DeleteVpc", VpcId=vpc["VpcId"]) == "DependencyViolation"
    d.ok("DetachInternetGateway", InternetGatewayId=igws[0]["InternetGatewayId"], VpcId=vpc["VpcId"])
    d.ok("DeleteVpc", VpcId=vpc["VpcId"])
    assert d.ok("DescribeRouteTables")["RouteTables"] == []


def test_errors(sb, netd):
    vpc = netd.ok("CreateVpc", CidrBlock="10.5.0.0/16")["Vpc"]
    vid = vpc["VpcId"]
    s = netd.ok("CreateSubnet", VpcId=vid, CidrBlock="10.5.1.0/24")["Subnet"]
    other = netd.ok("CreateVpc", CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    igw = netd.ok("CreateInternetGateway")["InternetGateway"]["InternetGatewayId"]
    igw2 = netd.ok("CreateInternetGateway")["InternetGateway"]["InternetGatewayId"]
    rtb = netd.ok("CreateRouteTable", VpcId=vid)["RouteTable"]["RouteTableId"]
    main = main_table(netd, vid)
    missing_igw, missing_rtb, missing_nat = "igw-0123456789abcdef0", "rtb-0123456789abcdef0", "nat-0123456789abcdef0"
    cases = [
        ("AttachInternetGateway", dict(InternetGatewayId=missing_igw, VpcId=vid), "InvalidInternetGatewayID.NotFound"),
        ("AttachInternetGateway", dict(InternetGatewayId="igw-x", VpcId=vid), "InvalidInternetGatewayID.Malformed"),
        ("AttachInternetGateway", dict(InternetGatewayId=igw, VpcId="vpc-0123456789abcdef0"), "InvalidVpcID.NotFound"),
        ("DescribeInternetGateways", dict(InternetGatewayIds=[missing_igw]), "InvalidInternetGatewayID.NotFound"),
        ("DetachInternetGateway", dict(InternetGatewayId=igw, VpcId=vid), "Gateway.NotAttached"),
        ("CreateRoute", dict(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw), "InvalidParameterValue"),
        ("CreateRoute", dict(RouteTableId=missing_rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw), "InvalidRouteTableID.NotFound"),
        ("CreateRoute", dict(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=missing_nat), "InvalidNatGatewayID.NotFound"),
        ("CreateRoute", dict(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0"), "MissingParameter"),
        ("CreateRoute", dict(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw, NatGatewayId=missing_nat),
         "InvalidParameterCombination"),
        ("CreateRoute", dict(RouteTableId=rtb, DestinationCidrBlock="10.0.0.1/8", GatewayId=igw), "InvalidParameterValue"),
        ("CreateRoute", dict(RouteTableId=rtb, DestinationCidrBlock="10.5.0.0/16", GatewayId=igw), "RouteAlreadyExists"),
        ("CreateRoute", dict(RouteTableId=rtb, DestinationCidrBlock="10.5.3.0/24", GatewayId=igw), "InvalidParameterValue"),
        ("DeleteRoute", dict(RouteTableId=rtb, DestinationCidrBlock="1.2.3.0/24"), "InvalidRoute.NotFound"),
        ("DeleteRoute", dict(RouteTableId=rtb, DestinationCidrBlock="10.5.0.0/16"), "InvalidParameterValue"),
        ("ReplaceRoute", dict(RouteTableId=rtb, DestinationCidrBlock="1.2.3.0/24", GatewayId=igw), "InvalidRoute.NotFound"),
        ("DescribeRouteTables", dict(RouteTableIds=[missing_rtb]), "InvalidRouteTableID.NotFound"),
        ("DeleteRouteTable", dict(RouteTableId=main["RouteTableId"]), "DependencyViolation"),
        ("AssociateRouteTable", dict(RouteTableId=rtb, SubnetId="subnet-0123456789abcdef0"), "InvalidSubnetID.NotFound"),
        ("DisassociateRouteTable", dict(AssociationId=main["Associations"][0]["RouteTableAssociationId"]), "InvalidParameterValue"),
        ("DisassociateRouteTable", dict(AssociationId="rtbassoc-0123456789abcdef0"), "InvalidAssociationID.NotFound"),
        ("CreateNatGateway", dict(SubnetId="subnet-0123456789abcdef0"), "InvalidSubnetID.NotFound"),
        ("CreateNatGateway", dict(SubnetId=s["SubnetId"], ConnectivityType="both"), "InvalidParameterValue"),
        ("DeleteNatGateway", dict(NatGatewayId=missing_nat), "NatGatewayNotFound"),
        ("DescribeNatGateways", dict(NatGatewayIds=[missing_nat]), "NatGatewayNotFound"),
        ("CreateRouteTable", dict(VpcId="vpc-0123456789abcdef0"), "InvalidVpcID.NotFound"),
    ]
    for action, params, code in cases:
        got = netd.call(action, **params)
        assert "Error" in got, f"{action} {params}: {got}"
        assert got["Error"]["Code"] == code, f"{action} {params}: {got}"
    # messages name the object
    assert missing_rtb in netd.call("DeleteRouteTable", RouteTableId=missing_rtb)["Error"]["Message"]
    netd.ok("AttachInternetGateway", InternetGatewayId=igw, VpcId=vid)
    err = netd.call("AttachInternetGateway", InternetGatewayId=igw, VpcId=other)["Error"]
    assert err["Code"] == "Resource.AlreadyAssociated" and igw in err["Message"]
    assert netd.err("AttachInternetGateway", InternetGatewayId=igw2, VpcId=vid) == "Resource.AlreadyAssociated"
    assert netd.err("DeleteInternetGateway", InternetGatewayId=igw) == "DependencyViolation"
    assert netd.err("DeleteVpc", VpcId=vid) == "DependencyViolation"
    netd.ok("CreateRoute", RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    assert netd.err("CreateRoute", RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw) == "RouteAlreadyExists"
    netd.ok("AssociateRouteTable", RouteTableId=rtb, SubnetId=s["SubnetId"])
    assert netd.err("AssociateRouteTable", RouteTableId=rtb, SubnetId=s["SubnetId"]) == "Resource.AlreadyAssociated"
    assert netd.err("DeleteRouteTable", RouteTableId=rtb) == "DependencyViolation"
    other_rtb = netd.ok("CreateRouteTable", VpcId=other)["RouteTable"]["RouteTableId"]
    assert netd.err("AssociateRouteTable", RouteTableId=other_rtb, SubnetId=s["SubnetId"]) == "InvalidParameterValue"
    nat = netd.ok("CreateNatGateway", SubnetId=s["SubnetId"])["NatGateway"]["NatGatewayId"]
    assert netd.err("DeleteSubnet", SubnetId=s["SubnetId"]) == "DependencyViolation"
    assert netd.err("CreateRoute", RouteTableId=other_rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat) == "InvalidParameterValue"
    # undone in order, everything goes
    netd.ok("DeleteNatGateway", NatGatewayId=nat)
    ns = "ebx-" + vid
    assert [r["src"] for r in json.loads(sb.run(["ip", "-j", "-n", ns, "rule"]).stdout) if r.get("priority") == 40000] == ["10.5.1.0"]
    netd.ok("DeleteSubnet", SubnetId=s["SubnetId"])
    assert netd.ok("DescribeRouteTables", RouteTableIds=[rtb])["RouteTables"][0]["Associations"] == []
    # its rule and table are gone from the VPC router
    assert [r for r in json.loads(sb.run(["ip", "-j", "-n", ns, "rule"]).stdout) if r.get("priority") == 40000] == []
    assert sb.run(["ip", "-n", ns, "route", "show", "table", "all", "proto", "static"]).stdout.strip() == ""
    netd.ok("DeleteRouteTable", RouteTableId=rtb)
    netd.ok("DetachInternetGateway", InternetGatewayId=igw, VpcId=vid)
    netd.ok("DeleteInternetGateway", InternetGatewayId=igw)
    netd.ok("DeleteVpc", VpcId=vid)


def test_cli(sb, netd):
    cli = sb.ec2
    vpc = netd.ok("CreateVpc", CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    igw = json.loads(cli("create-internet-gateway").stdout)["InternetGateway"]["InternetGatewayId"]
    cli("attach-internet-gateway", "--internet-gateway-id", igw, "--vpc-id", vpc)
    rtb = json.loads(cli("create-route-table", "--vpc-id", vpc).stdout)["RouteTable"]["RouteTableId"]
    cli("create-route", "--route-table-id", rtb, "--destination-cidr-block", "0.0.0.0/0", "--gateway-id", igw)
    got = json.loads(cli("describe-route-tables", "--route-table-ids", rtb).stdout)["RouteTables"][0]
    assert {r["DestinationCidrBlock"]: r["State"] for r in got["Routes"]} == {"10.8.0.0/16": "active", "0.0.0.0/0": "active"}
    got = json.loads(cli("describe-internet-gateways", "--filters", "Name=attachment.vpc-id,Values=" + vpc).stdout)
    assert [g["InternetGatewayId"] for g in got["InternetGateways"]] == [igw]
    s = netd.ok("CreateSubnet", VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    nat = json.loads(cli("create-nat-gateway", "--subnet-id", s).stdout)["NatGateway"]["NatGatewayId"]
    got = json.loads(cli("describe-nat-gateways", "--filter", "Name=subnet-id,Values=" + s).stdout)["NatGateways"]
    assert [n["NatGatewayId"] for n in got] == [nat]
    p = cli("delete-route-table", "--route-table-id", "rtb-0123456789abcdef0", check=False)
    assert p.returncode != 0 and "(InvalidRouteTableID.NotFound)" in p.stderr


def test_ecs_task_in_the_default_vpc_gets_out(ecs, internet):
    """A real awsvpc task (ecsboxd, busybox) in the default VPC fetches from the internet; its exit code says so."""
    td = {"family": "out", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "get", "image": "busybox", "memory": 32,
         "command": ["sh", "-c", f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {INET_IP} 80 | head -1 | grep -q ' 200 '"]}]}
    ecs.call("RegisterTaskDefinition", **td)
    r = ecs.call("RunTask", cluster="default", taskDefinition="out")
    assert r["failures"] == [], r
    t = ecs.wait_task(r["tasks"][0]["taskArn"], "STOPPED", timeout=60)
    assert t["containers"][0].get("exitCode") == 0, t["containers"][0]


@pytest.fixture
def api(sb):
    n = Netd(sb)
    d = Ecsboxd(sb, None)
    d.netd = n
    yield d


def test_aws_cli_over_the_query_protocol(api, internet):
    """Debian's unmodified aws CLI against ecsboxd's Query endpoint: the gateway and route table calls reach
    netd and answer in EC2's shapes; the route it makes takes a subnet out."""
    aws = api.aws
    vid = aws("ec2", "create-vpc", "--cidr-block", "10.66.0.0/16")["Vpc"]["VpcId"]
    pub = aws("ec2", "create-subnet", "--vpc-id", vid, "--cidr-block", "10.66.1.0/24")["Subnet"]["SubnetId"]
    igw = aws("ec2", "create-internet-gateway")["InternetGateway"]
    assert igw["InternetGatewayId"].startswith("igw-") and igw.get("Attachments", []) == []
    aws("ec2", "attach-internet-gateway", "--internet-gateway-id", igw["InternetGatewayId"], "--vpc-id", vid)
    got = aws("ec2", "describe-internet-gateways", "--filters", f"Name=attachment.vpc-id,Values={vid}")["InternetGateways"]
    assert got[0]["Attachments"] == [{"VpcId": vid, "State": "available"}], got
    rtb = aws("ec2", "create-route-table", "--vpc-id", vid)["RouteTable"]["RouteTableId"]
    assert aws("ec2", "create-route", "--route-table-id", rtb, "--destination-cidr-block", "0.0.0.0/0",
               "--gateway-id", igw["InternetGatewayId"])["Return"] is True
    assoc = aws("ec2", "associate-route-table", "--route-table-id", rtb, "--subnet-id", pub)
    assert assoc["AssociationId"].startswith("rtbassoc-") and assoc["AssociationState"]["State"] == "associated"
    t = api.netd.ok("CreateTaskNetwork", SubnetId=pub, Netns="q")["NetworkInterface"]
    assert reaches(api.sb, "q")
    tables = aws("ec2", "describe-route-tables", "--filters", f"Name=vpc-id,Values={vid}")["RouteTables"]
    routes = {r["DestinationCidrBlock"]: r for x in tables for r in x["Routes"]}
    assert routes["0.0.0.0/0"]["State"] == "active" and routes["10.66.0.0/16"]["GatewayId"] == "local", routes
    assert sorted(a.get("Main") for x in tables for a in x["Associations"]) == [False, True]
    nat = aws("ec2", "create-nat-gateway", "--subnet-id", pub)["NatGateway"]
    assert nat["State"] == "available" and nat["SubnetId"] == pub
    got = aws("ec2", "describe-nat-gateways", "--filter", f"Name=subnet-id,Values={pub}")["NatGateways"]
    assert [n["NatGatewayId"] for n in got] == [nat["NatGatewayId"]]
    aws("ec2", "replace-route", "--route-table-id", rtb, "--destination-cidr-block", "0.0.0.0/0",
        "--nat-gateway-id", nat["NatGatewayId"])
    err = aws_err(api, "ec2", "create-route", "--route-table-id", rtb, "--destination-cidr-block", "0.0.0.0/0",
                  "--gateway-id", igw["InternetGatewayId"])
    assert "RouteAlreadyExists" in err, err
    aws("ec2", "delete-route", "--route-table-id", rtb, "--destination-cidr-block", "0.0.0.0/0")
    assert fails_fast(api.sb, "q")
    assert "DependencyViolation" in aws_err(api, "ec2", "delete-internet-gateway", "--internet-gateway-id",
                                            igw["InternetGatewayId"])
    assert "InvalidRouteTableID.NotFound" in aws_err(api, "ec2", "delete-route-table", "--route-table-id",
                                                     "rtb-0123456789abcdef0")
    aws("ec2", "disassociate-route-table", "--association-id", assoc["AssociationId"])
    aws("ec2", "delete-route-table", "--route-table-id", rtb)
    assert aws("ec2", "delete-nat-gateway", "--nat-gateway-id", nat["NatGatewayId"])["NatGatewayId"] == nat["NatGatewayId"]
    aws("ec2", "detach-internet-gateway", "--internet-gateway-id", igw["InternetGatewayId"], "--vpc-id", vid)
    aws("ec2", "delete-internet-gateway", "--internet-gateway-id", igw["InternetGatewayId"])
    assert t["PrivateIpAddress"].startswith("10.66.1.")


def aws_err(api, *args):
    p = api.aws(*args, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr
