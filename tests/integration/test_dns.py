"""The VPC resolver (Amazon-provided DNS) end to end: from inside task namespaces, with dnspython, against
netd's resolver at the VPC's base+2 and 169.254.169.253; names it does not own forwarded to a dnsmasq
the test runs in an "internet" namespace (198.18.0.0/15) of the sandbox."""
import json
import os
import time

import pytest

from sandbox import Netd, wait_for

UPSTREAM = "198.18.0.2"

# runs inside a task netns: one query, the answer as JSON
DIG = r"""
import json, sys, time
import dns.message, dns.query, dns.rcode, dns.rdatatype, dns.flags
server, name, rtype, proto = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
q = dns.message.make_query(name, rtype)
t = time.monotonic()
try:
    if proto == "tcp":
        a = dns.query.tcp(q, server, timeout=3)
    else:
        a = dns.query.udp(q, server, timeout=3)
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "ms": (time.monotonic() - t) * 1000}))
    sys.exit(0)
ms = (time.monotonic() - t) * 1000
ans = []
for rrset in a.answer:
    for rd in rrset:
        ans.append({"name": rrset.name.to_text(), "ttl": rrset.ttl, "type": dns.rdatatype.to_text(rrset.rdtype),
                    "data": rd.to_text()})
print(json.dumps({"rcode": dns.rcode.to_text(a.rcode()), "aa": bool(a.flags & dns.flags.AA),
                  "tc": bool(a.flags & dns.flags.TC), "answer": ans, "ms": ms,
                  "authority": [r.to_text() for r in a.authority]}))
"""


def dig(sb, netns, server, name, rtype="A", proto="udp"):
    p = sb.run(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c", DIG, server, name, rtype, proto], timeout=30)
    return json.loads(p.stdout)


def internet(sb, dnsmasq_args=()):
    """The "internet": a namespace joined to the sandbox's root at 198.18.0.1/24 (root) - 198.18.0.2/24,
    with a dnsmasq serving example.test. Returns the dnsmasq pid file (inside the sandbox)."""
    sb.run("ip netns add inet && ip link add inet0 type veth peer name eth0 netns inet && "
           "ip addr add 198.18.0.1/24 dev inet0 && ip link set inet0 up && "
           "ip -n inet addr add 198.18.0.2/24 dev eth0 && ip -n inet link set eth0 up && ip -n inet link set lo up && "
           "ip -n inet route add default via 198.18.0.1")
    pidfile = os.path.join(sb.tmp, "dnsmasq.pid")
    sb.run(["ip", "netns", "exec", "inet", "dnsmasq", "--no-resolv", "--no-hosts", "--bind-interfaces",
            f"--listen-address={UPSTREAM}", "--user=root", "--group=root", f"--pid-file={pidfile}",
            "--address=/example.test/198.18.0.80", "--txt-record=hello.example.test,upstream",
            "--log-facility=" + os.path.join(sb.tmp, "dnsmasq.log")] + list(dnsmasq_args))
    wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 5, what="dnsmasq pid file")
    return pidfile


def kill_dnsmasq(sb, pidfile):
    sb.run(["kill", open(pidfile).read().strip()])


@pytest.fixture
def vpcdns(sb):
    """netd with its default VPC, forwarding to the sandbox's dnsmasq; two task namespaces in it."""
    pidfile = internet(sb)
    n = Netd(sb, extra_args=["--dns-upstream", UPSTREAM])
    vpc = n.ok("DescribeVpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    sub = n.ok("DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"][0]
    enis = [n.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns=f"t{i}")["NetworkInterface"] for i in range(2)]
    n.pidfile = pidfile
    return n, vpc, enis


def base2(vpc):
    a, b, c, d = vpc["CidrBlock"].split("/")[0].split(".")
    return f"{a}.{b}.{c}.{int(d) + 2}"


def test_own_and_neighbour_names_ptr_and_both_addresses(sb, vpcdns):
    netd, vpc, enis = vpcdns
    res = base2(vpc)
    for e in enis:
        for server in (res, "169.254.169.253"):
            a = dig(sb, "t0", server, e["PrivateDnsName"])
            assert a["rcode"] == "NOERROR" and a["aa"], a
            assert [(r["type"], r["data"], r["ttl"]) for r in a["answer"]] == [("A", e["PrivateIpAddress"], 60)], a
        rev = ".".join(reversed(e["PrivateIpAddress"].split("."))) + ".in-addr.arpa"
        p = dig(sb, "t1", res, rev, "PTR")
        assert [r["data"] for r in p["answer"]] == [e["PrivateDnsName"] + "."], p
        # a name that exists but has no AAAA: NODATA with the SOA
        n = dig(sb, "t0", res, e["PrivateDnsName"], "AAAA")
        assert n["rcode"] == "NOERROR" and n["answer"] == [] and n["authority"], n
    # over TCP too
    t = dig(sb, "t1", res, enis[0]["PrivateDnsName"], "A", "tcp")
    assert [r["data"] for r in t["answer"]] == [enis[0]["PrivateIpAddress"]], t
    # outside the VPC's CIDR: no such name, at once, with the SOA
    x = dig(sb, "t0", res, "ip-192-0-2-1.ec2.internal")
    assert x["rcode"] == "NXDOMAIN" and x["aa"] and x["authority"], x
    x = dig(sb, "t0", res, "nothing.ec2.internal")
    assert x["rcode"] == "NXDOMAIN", x
    # private reverse names outside the VPC answered locally too (RFC 6303), never forwarded
    x = dig(sb, "t0", res, "1.2.168.192.in-addr.arpa", "PTR")
    assert x["rcode"] == "NXDOMAIN" and x["aa"], x


def test_forwarding_and_dead_upstream(sb, vpcdns):
    netd, vpc, enis = vpcdns
    res = base2(vpc)
    a = dig(sb, "t0", res, "www.example.test")
    # dnsmasq's own answer (its --address records carry TTL 0), passed through as it came
    assert a["rcode"] == "NOERROR" and [(r["data"], r["ttl"]) for r in a["answer"]] == [("198.18.0.80", 0)], a
    t = dig(sb, "t0", res, "hello.example.test", "TXT", "tcp")
    assert [r["data"] for r in t["answer"]] == ['"upstream"'], t
    kill_dnsmasq(sb, netd.pidfile)
    s = dig(sb, "t0", res, "gone.example.test")
    assert s.get("rcode") == "SERVFAIL", s
    assert s["ms"] < 1000, s
    # the resolver's own names still answer at once
    own = dig(sb, "t0", res, enis[1]["PrivateDnsName"])
    assert own["rcode"] == "NOERROR" and own["ms"] < 100, own


def test_private_zone_multivalue_and_errors(sb, vpcdns):
    netd, vpc, enis = vpcdns
    res, vid = base2(vpc), vpc["VpcId"]
    netd.ok("PutDnsZone", VpcId=vid, Name="Corp.Local.")
    ips = [f"10.9.0.{i}" for i in range(1, 13)]
    netd.ok("PutDnsRecords", VpcId=vid, Name="web.corp.local", Type="A", Ttl=10, Records=ips)
    netd.ok("PutDnsRecords", VpcId=vid, Name="web.corp.local", Type="SRV", Ttl=10,
            Records=["1 1 8080 t1.web.corp.local."])
    seen = set()
    for _ in range(6):
        a = dig(sb, "t0", res, "WEB.corp.local")
        got = [r["data"] for r in a["answer"]]
        assert a["aa"] and len(got) == 8 and len(set(got)) == 8 and set(got) <= set(ips), a
        assert all(r["ttl"] == 10 for r in a["answer"])
        seen |= set(got)
    assert len(seen) > 8, "multivalue picks at random among all 12"
    srv = dig(sb, "t0", res, "web.corp.local", "SRV")
    assert [r["data"] for r in srv["answer"]] == ["1 1 8080 t1.web.corp.local."], srv
    assert dig(sb, "t0", res, "nope.corp.local")["rcode"] == "NXDOMAIN"
    assert dig(sb, "t0", res, "corp.local", "SOA")["answer"]
    lst = netd.ok("ListDnsRecords", VpcId=vid)
    assert lst["Zones"] == ["corp.local"] and len(lst["Records"]) == 2
    # replace, then empty = delete
    netd.ok("PutDnsRecords", VpcId=vid, Name="web.corp.local", Type="A", Ttl=10, Records=["10.9.0.99"])
    assert [r["data"] for r in dig(sb, "t0", res, "web.corp.local")["answer"]] == ["10.9.0.99"]
    netd.ok("PutDnsRecords", VpcId=vid, Name="web.corp.local", Type="A", Records=[])
    n = dig(sb, "t0", res, "web.corp.local")
    assert n["rcode"] == "NOERROR" and n["answer"] == [], n  # the SRV still makes the name exist
    # errors name the object and the cause
    assert netd.err("PutDnsRecords", VpcId=vid, Name="web.other.local", Type="A", Records=["10.0.0.1"]) == "InvalidParameterValue"
    assert netd.err("PutDnsRecords", VpcId=vid, Name="web.corp.local", Type="A", Records=["10.0.0.300"]) == "InvalidParameterValue"
    assert netd.err("PutDnsRecords", VpcId=vid, Name="web.corp.local", Type="MX", Records=["10 a."]) == "InvalidParameterValue"
    assert netd.err("PutDnsZone", VpcId=vid, Name="ec2.internal") == "InvalidParameterValue"
    assert netd.err("PutDnsZone", VpcId=vid, Name="a..b") == "InvalidParameterValue"
    assert netd.err("PutDnsZone", VpcId="vpc-0123456789abcdef0", Name="x.local") == "InvalidVpcID.NotFound"
    # the zone goes with its records
    netd.ok("DeleteDnsZone", VpcId=vid, Name="corp.local")
    netd.ok("DeleteDnsZone", VpcId=vid, Name="corp.local")
    assert netd.ok("ListDnsRecords", VpcId=vid) == {"Zones": [], "Records": []}
    # no longer the resolver's: forwarded (dnsmasq does not know it)
    f = dig(sb, "t0", res, "web.corp.local")
    assert f.get("answer") == [] and not any("corp.local" in r for r in f.get("authority", [])), f


def test_attributes_restart_and_delete(sb, vpcdns):
    netd, vpc, enis = vpcdns
    res, vid = base2(vpc), vpc["VpcId"]
    assert netd.ok("DescribeVpcAttribute", VpcId=vid, Attribute="enableDnsSupport") == {
        "VpcId": vid, "EnableDnsSupport": {"Value": True}}
    assert netd.ok("DescribeVpcAttribute", VpcId=vid, Attribute="enableDnsHostnames")["EnableDnsHostnames"] == {"Value": True}
    assert netd.err("DescribeVpcAttribute", VpcId=vid, Attribute="bogus") == "InvalidParameterValue"
    assert netd.err("ModifyVpcAttribute", VpcId=vid) == "MissingParameter"
    assert netd.err("ModifyVpcAttribute", VpcId=vid, EnableDnsSupport={"Value": False},
                    EnableDnsHostnames={"Value": False}) == "InvalidParameterCombination"
    assert netd.err("ModifyVpcAttribute", VpcId=vid, EnableDnsSupport={"Value": False}) == "InvalidParameterValue"
    # hostnames off (through the CLI, as `aws ec2` spells it): ip- names are no longer answered
    sb.ec2("modify-vpc-attribute", "--vpc-id", vid, "--enable-dns-hostnames", "false")
    out = json.loads(sb.ec2("describe-vpc-attribute", "--vpc-id", vid, "--attribute", "enableDnsHostnames").stdout)
    assert out == {"VpcId": vid, "EnableDnsHostnames": {"Value": False}}, out
    assert dig(sb, "t0", res, enis[1]["PrivateDnsName"])["rcode"] == "NXDOMAIN"
    netd.ok("ModifyVpcAttribute", VpcId=vid, EnableDnsSupport={"Value": False})
    off = dig(sb, "t0", res, enis[1]["PrivateDnsName"])
    assert "error" in off or off.get("rcode") != "NOERROR", off
    netd.ok("ModifyVpcAttribute", VpcId=vid, EnableDnsSupport={"Value": True})
    netd.ok("ModifyVpcAttribute", VpcId=vid, EnableDnsHostnames={"Value": True})
    netd.ok("PutDnsZone", VpcId=vid, Name="svc.local")
    netd.ok("PutDnsRecords", VpcId=vid, Name="a.svc.local", Type="A", Records=["10.1.1.1"])
    # a restart keeps everything (attributes, zones, records) and serves again
    netd.stop()
    netd.start()
    assert [r["data"] for r in dig(sb, "t0", res, enis[1]["PrivateDnsName"])["answer"]] == [enis[1]["PrivateIpAddress"]]
    assert [r["data"] for r in dig(sb, "t1", "169.254.169.253", "a.svc.local")["answer"]] == ["10.1.1.1"]
    # kill -9 too
    netd.kill9()
    netd.start()
    assert dig(sb, "t0", res, "a.svc.local")["answer"]
    # a new VPC has hostnames off by default (as AWS), its resolver on
    v2 = netd.ok("CreateVpc", CidrBlock="10.20.0.0/16")["Vpc"]
    assert netd.ok("DescribeVpcAttribute", VpcId=v2["VpcId"], Attribute="enableDnsHostnames")["EnableDnsHostnames"] == {
        "Value": False}
    s2 = netd.ok("CreateSubnet", VpcId=v2["VpcId"], CidrBlock="10.20.1.0/24")["Subnet"]
    e2 = netd.ok("CreateTaskNetwork", SubnetId=s2["SubnetId"], Netns="u0")["NetworkInterface"]
    x = dig(sb, "u0", "10.20.0.2", e2["PrivateDnsName"])
    assert x["rcode"] == "NXDOMAIN", x
    assert dig(sb, "u0", "10.20.0.2", "www.example.test")["answer"]
    netd.ok("PutDnsZone", VpcId=v2["VpcId"], Name="v2.local")
    netd.ok("DeleteTaskNetwork", Netns="u0")
    netd.ok("DeleteSubnet", SubnetId=s2["SubnetId"])
    netd.ok("DeleteVpc", VpcId=v2["VpcId"])
    assert netd.err("ListDnsRecords", VpcId=v2["VpcId"]) == "InvalidVpcID.NotFound"
    # the deleted VPC's zones left nothing behind in the store
    netd.stop()
    out = sb.run(["sqlite3", os.path.join(sb.state, "netd.db"), "SELECT k FROM kv WHERE k LIKE 'dns%'"], check=False)
    if out.returncode == 0:
        assert v2["VpcId"] not in out.stdout


def test_security_groups_do_not_filter_amazon_dns(sb, vpcdns):
    """As on AWS: DNS to the VPC resolver passes whatever the groups say (and flow logs do not count it)."""
    netd, vpc, enis = vpcdns
    res = base2(vpc)
    sg = enis[0]["Groups"][0]["GroupId"]
    netd.ok("RevokeSecurityGroupEgress", GroupId=sg, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    # no egress at all: the neighbour is unreachable ...
    p = sb.run(["ip", "netns", "exec", "t0", "ping", "-c", "1", "-W", "1", enis[1]["PrivateIpAddress"]], check=False)
    assert p.returncode != 0
    # ... and DNS still answers, over UDP and TCP, at both addresses, forwarded names too
    for server in (res, "169.254.169.253"):
        for proto in ("udp", "tcp"):
            a = dig(sb, "t0", server, enis[1]["PrivateDnsName"], "A", proto)
            assert [r["data"] for r in a["answer"]] == [enis[1]["PrivateIpAddress"]], a
    assert dig(sb, "t0", res, "www.example.test")["answer"]
    # only port 53: anything else to the resolver address is still the group's to decide
    p = sb.run(["ip", "netns", "exec", "t0", "ping", "-c", "1", "-W", "1", res], check=False)
    assert p.returncode != 0


def test_tasks_resolve_through_the_vpc_resolver(sb):
    """End to end through ecsboxd: an awsvpc task's resolv.conf names the VPC resolver, which answers the
    neighbour's name and PTR and forwards outside names; getfqdn is instant."""
    from sandbox import Ecsboxd
    internet(sb)
    netd = Netd(sb, extra_args=["--dns-upstream", UPSTREAM])
    ecs = Ecsboxd(sb, None)
    ecs.netd = netd

    def run(family, command):
        ecs.call("RegisterTaskDefinition", family=family, networkMode="awsvpc", containerDefinitions=[
            {"name": "c", "image": "host", "memory": 64, "stopTimeout": 2, "command": ["sh", "-c", command]}])
        r = ecs.call("RunTask", taskDefinition=family)
        assert r["failures"] == [], r
        t = ecs.wait_task(r["tasks"][0]["taskArn"])
        att = [a for a in t["attachments"] if a["type"] == "ElasticNetworkInterface"][0]
        return t["taskArn"], {d["name"]: d["value"] for d in att["details"]}

    _, first = run("dns-a", "sleep 60")
    script = (f"getent hosts {first['privateDnsName']}; echo ---; "
              "/usr/bin/python3 -c 'import socket, sys, time; t = time.monotonic(); "
              f"print(socket.gethostbyaddr(\"{first['privateIPv4Address']}\")[0]); "
              "print(socket.gethostbyname(\"www.example.test\")); f = socket.getfqdn(); "
              "print(f, int((time.monotonic() - t) * 1000))'; echo ---END; sleep 60")
    arn, second = run("dns-b", script)

    def out():
        lines = [e["line"].rstrip("\n") for e in ecs.call("GetTaskLogs", task=arn).get("events", [])]
        return lines if "---END" in lines else None
    lines = wait_for(out, 20, what="the task's output")
    assert lines[0].split() == [first["privateIPv4Address"], first["privateDnsName"]], lines
    ptr, outside, fq = lines[2], lines[3], lines[4].split()
    assert ptr == first["privateDnsName"], lines
    assert outside == "198.18.0.80", lines
    assert fq[0] == second["privateDnsName"] and int(fq[1]) < 1000, lines
