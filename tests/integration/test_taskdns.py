"""A task's name service as ECS gives it: /etc/resolv.conf, /etc/hosts and the hostname of awsvpc tasks
(Fargate's shape: the VPC resolver at base+2, the ENI's PrivateDnsName), bridge tasks (Docker's copy of
the host's resolvers plus dnsServers/dnsSearchDomains/extraHosts/hostname) and host tasks (the host's own
files), the awsvpc refusals of RegisterTaskDefinition, and the host's own files left as they were.

Each test runs netd (with its default VPC, 172.31.0.0/16) and ecsboxd in a private sandbox.
"""
import hashlib
import os
import time

import pytest

from sandbox import wait_for

SHOW = ("cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; hostname; echo ---; "
        "getent hosts $(hostname); echo ---; "
        "/usr/bin/python3 -c 'import socket, time; t = time.monotonic(); n = socket.getfqdn(); "
        "print(n, round(time.monotonic() - t, 3))'; echo ---END; sleep 60")


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_ino


@pytest.fixture
def host_files():
    """The host's /etc/resolv.conf and /etc/hosts must come out of every test as they went in."""
    before = {p: digest(p) for p in ("/etc/resolv.conf", "/etc/hosts")}
    yield before
    assert {p: digest(p) for p in before} == before


def run1(ecs, td, cluster="default", **kw):
    ecs.call("RegisterTaskDefinition", **td)
    r = ecs.call("RunTask", cluster=cluster, taskDefinition=td["family"], **kw)
    assert r["failures"] == [], r
    return r["tasks"][0]["taskArn"]


def sections(ecs, arn, cluster="default"):
    """The SHOW script's output, split at its --- lines."""
    def done():
        lines = [e["line"].rstrip("\n") for e in ecs.call("GetTaskLogs", cluster=cluster, task=arn).get("events", [])]
        return lines if "---END" in lines else None
    lines = wait_for(done, 20, what="the task's output")
    out, cur = [], []
    for ln in lines[:lines.index("---END")]:
        if ln == "---":
            out.append(cur)
            cur = []
        else:
            cur.append(ln)
    out.append(cur)
    return out


def details(task):
    att = [a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface"][0]
    return {d["name"]: d["value"] for d in att["details"]}


def td_show(family, mode, image="host", **cdef):
    c = {"name": "c", "image": image, "memory": 64, "stopTimeout": 2, "command": ["sh", "-c", SHOW]}
    c.update(cdef)
    return {"family": family, "networkMode": mode, "containerDefinitions": [c]}


@pytest.mark.parametrize("image", ["host", "busybox"])
def test_awsvpc_task_files_and_hostname(ecs, host_files, image):
    """resolv.conf names the VPC resolver with ec2.internal, hosts has the task's own name, hostname is
    the PrivateDnsName; a lookup of the own name answers from /etc/hosts at once."""
    arn = run1(ecs, td_show("dns-" + image, "awsvpc", image=image))
    t = ecs.wait_task(arn)
    d = details(t)
    ip, name = d["privateIPv4Address"], d["privateDnsName"]
    assert name == "ip-%s.ec2.internal" % ip.replace(".", "-")
    sec = sections(ecs, arn)
    assert sec[0] == ["nameserver 172.31.0.2", "search ec2.internal"]
    assert sec[1] == ["127.0.0.1 localhost", f"{ip} {name}"]
    assert sec[2] == [name]
    if image == "host":
        # glibc's getent and Python's getfqdn() (what http.server calls before listen) from /etc/hosts
        assert sec[3][0].split() == [ip, name]
        fqdn, secs = sec[4][0].split()
        assert fqdn == name and float(secs) < 0.1, sec[4]
    # netd's answer carries the servers too (DescribeTaskNetworks has the same shape)
    tn = ecs.netd.ok("DescribeTaskNetworks")["TaskNetworks"]
    mine = [x for x in tn if x.get("PrivateIpAddress") == ip]
    assert mine and mine[0]["DnsServers"] == ["172.31.0.2"] and mine[0]["DnsSearch"] == ["ec2.internal"], mine


def test_awsvpc_refuses_dns_fields(ecs, host_files):
    """RegisterTaskDefinition refuses dnsServers, extraHosts, hostname and links for awsvpc up front,
    naming the container and the field; dnsSearchDomains is accepted (without effect, as on EC2)."""
    cases = {"dnsServers": ["10.0.0.53"], "extraHosts": [{"hostname": "db", "ipAddress": "10.1.1.1"}],
             "hostname": "web", "links": ["other"]}
    for field, value in cases.items():
        e = ecs.err("RegisterTaskDefinition", **td_show("bad-" + field, "awsvpc", **{field: value}))
        assert e.type == "ClientException", (field, e)
        assert "'c'" in e.message and field in e.message and "awsvpc" in e.message, e.message
    ecs.call("RegisterTaskDefinition", **td_show("ok-search", "awsvpc", dnsSearchDomains=["x.test"]))
    # a value that would add a line of its own is refused in every mode
    e = ecs.err("RegisterTaskDefinition", **td_show("bad-nl", "bridge", dnsServers=["1.1.1.1\nnameserver 6.6.6.6"]))
    assert e.type == "ClientException" and "dnsServers[0]" in e.message, e.message


def register_instance(ecs, cluster):
    sn = ecs.netd.ok("DescribeSubnets")["Subnets"][0]
    return ecs.call("RegisterContainerInstance", cluster=cluster, instanceType="m5.large",
                    subnetId=sn["SubnetId"])["containerInstance"]


def test_bridge_task_files(ecs, host_files):
    """bridge: the container instance's resolv.conf (its VPC's resolver, as an EC2 instance's DHCP options
    give it) unless dnsServers/dnsSearchDomains are given, Docker's default hosts plus extraHosts and the
    container's own address under its hostname."""
    ecs.call("CreateCluster", clusterName="br")
    register_instance(ecs, "br")
    arn = run1(ecs, td_show("br-plain", "bridge"), cluster="br")
    ecs.wait_task(arn, cluster="br")
    sec = sections(ecs, arn, "br")
    assert sec[0] == ["nameserver 172.31.0.2", "search ec2.internal"], sec[0]
    assert "127.0.0.1\tlocalhost" in sec[1] and "ff02::2\tip6-allrouters" in sec[1]
    short = sec[2][0]
    assert len(short) == 12 and sec[1][-1].split("\t")[1] == short, sec

    td = td_show("br-custom", "bridge", dnsServers=["10.0.0.53", "10.0.0.54"], dnsSearchDomains=["corp.test"],
                 extraHosts=[{"hostname": "db.corp.test", "ipAddress": "10.9.8.7"}], hostname="webby")
    arn = run1(ecs, td, cluster="br")
    ecs.wait_task(arn, cluster="br")
    sec = sections(ecs, arn, "br")
    assert sec[0] == ["nameserver 10.0.0.53", "nameserver 10.0.0.54", "search corp.test"], sec[0]
    assert "10.9.8.7\tdb.corp.test" in sec[1]
    assert sec[1][-1].split("\t")[1] == "webby" and sec[2] == ["webby"]
    assert sec[3][0].split() == [sec[1][-1].split("\t")[0], "webby"]


def test_host_task_sees_host_files(ecs, host_files):
    """host mode with the host image: the host's own files, nothing bound over them."""
    arn = run1(ecs, td_show("hostmode", "host"))
    ecs.wait_task(arn)
    sec = sections(ecs, arn)
    with open("/etc/resolv.conf") as f:
        assert sec[0] == f.read().rstrip("\n").split("\n")
    with open("/etc/hosts") as f:
        assert sec[1] == f.read().rstrip("\n").split("\n")


def test_python_http_server_answers_at_once(ecs, host_files):
    """Issue 13's measurement: `python3 -m http.server` calls getfqdn() before listen(); with the task's
    own name in /etc/hosts it serves within a second of RUNNING instead of after the resolver's 5 s."""
    from test_ecsboxd import fetch, open_port_80
    open_port_80(ecs)
    td = {"family": "pyweb", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "web", "image": "host", "memory": 64, "stopTimeout": 2, "portMappings": [{"containerPort": 80}],
         "command": ["/usr/bin/python3", "-m", "http.server", "80", "--directory", "/usr/share"]}]}
    arn = run1(ecs, td)
    t = ecs.wait_task(arn)
    ip = details(t)["privateIPv4Address"]
    t0 = time.monotonic()
    wait_for(lambda: "Directory listing" in fetch(ecs, ip), 5, interval=0.05, what="http.server answering")
    assert time.monotonic() - t0 < 1.0
