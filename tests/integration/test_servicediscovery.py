"""Cloud Map (servicediscovery) on ecsboxd's endpoint: every operation through boto3 (signed, over TCP
inside the sandbox) and Debian's aws CLI, errors and paging; the zones and RRsets ecsboxd pushes to netd;
an ECS service with serviceRegistries whose tasks are its instances through scale-out, a task killed
from outside and the service's deletion.

Each test runs netd (with its default VPC) and ecsboxd in a private sandbox.
"""
import json
import os
import signal
import socket

import pytest

from sandbox import EcsError, http_post, wait_for
from test_dns import base2, dig
from test_ecsboxd import eni_netns, task_id, web_td

SD_TARGET = "Route53AutoNaming_v20170314."


def sd(ecs, op, **params):
    """One Cloud Map call on ecsboxd's Unix socket (root, unsigned): the answer, or EcsError."""
    headers = {"X-Amz-Target": SD_TARGET + op, "Content-Type": "application/x-amz-json-1.1"}
    status, body = http_post(ecs.connection(), headers, json.dumps(params).encode())
    doc = json.loads(body) if body else {}
    if status != 200:
        raise EcsError(status, doc.get("__type", "?"), doc.get("message", doc.get("Message", "")))
    return doc


def sd_err(ecs, op, **params):
    try:
        doc = sd(ecs, op, **params)
    except EcsError as e:
        return e
    raise AssertionError(f"{op} {params} should have failed: {doc}")


def default_vpc(ecs):
    vpcs = ecs.netd.ok("DescribeVpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert vpcs, "netd has no default VPC"
    return vpcs[0]


def netd_records(ecs, vpc):
    """netd's ListDnsRecords for the VPC as {(name, type): sorted records}."""
    doc = ecs.netd.ok("ListDnsRecords", VpcId=vpc)
    return {(r["Name"].rstrip(".").lower(), r["Type"]): sorted(r["Records"]) for r in doc["Records"]}


def make_dns_namespace(ecs, name="corp.local"):
    vpc = default_vpc(ecs)["VpcId"]
    op = sd(ecs, "CreatePrivateDnsNamespace", Name=name, Vpc=vpc, CreatorRequestId="ns-" + name)["OperationId"]
    o = sd(ecs, "GetOperation", OperationId=op)["Operation"]
    assert o["Status"] == "SUCCESS" and o["Type"] == "CREATE_NAMESPACE", o
    return o["Targets"]["NAMESPACE"], vpc


BOTO_SCRIPT = r'''
import json, sys
import boto3, botocore
from botocore.config import Config
out = {}
c = boto3.client("servicediscovery", endpoint_url="http://127.0.0.1:5080", region_name="us-east-1",
                 config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))
def err(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return [e.response["Error"]["Code"], e.response["Error"]["Message"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
    return None
vpc = sys.argv[1]
op = c.create_private_dns_namespace(Name="corp.local", Vpc=vpc)["OperationId"]
out["op"] = c.get_operation(OperationId=op)["Operation"]
ns = out["op"]["Targets"]["NAMESPACE"]
out["ns"] = c.get_namespace(Id=ns)["Namespace"]
out["dup_ns"] = err(c.create_private_dns_namespace, Name="corp.local", Vpc=vpc)
out["bad_vpc"] = err(c.create_private_dns_namespace, Name="x.local", Vpc="vpc-0123456789abcdef0")
for i in range(5):
    c.create_http_namespace(Name=f"http{i}", Description=f"h{i}")
pages = list(c.get_paginator("list_namespaces").paginate(PaginationConfig={"PageSize": 2}))
out["ns_pages"] = [len(p["Namespaces"]) for p in pages]
out["ns_names"] = sorted(n["Name"] for p in pages for n in p["Namespaces"])
out["ns_http"] = sorted(n["Name"] for n in c.list_namespaces(Filters=[{"Name": "TYPE", "Values": ["HTTP"]}])["Namespaces"])
out["ns_begins"] = sorted(n["Name"] for n in c.list_namespaces(Filters=[{"Name": "NAME", "Values": ["corp"], "Condition": "BEGINS_WITH"}])["Namespaces"])
svc = c.create_service(Name="web", NamespaceId=ns, DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 30}, {"Type": "SRV", "TTL": 30}]},
                       HealthCheckCustomConfig={"FailureThreshold": 1})["Service"]
out["svc"] = svc
out["dup_svc"] = err(c.create_service, Name="web", NamespaceId=ns, DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 30}]})
out["svc_ns_nf"] = err(c.create_service, Name="x", NamespaceId="ns-0000000000000000")
out["get_svc"] = c.get_service(Id=svc["Id"])["Service"]
out["list_svc"] = c.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ns], "Condition": "EQ"}])["Services"]
out["ns_in_use"] = err(c.delete_namespace, Id=ns)
out["missing_ip"] = err(c.register_instance, ServiceId=svc["Id"], InstanceId="i1", Attributes={"AWS_INSTANCE_PORT": "80"})
for i in range(1, 4):
    out[f"reg{i}"] = c.register_instance(ServiceId=svc["Id"], InstanceId=f"i{i}", Attributes={"AWS_INSTANCE_IPV4": f"10.9.0.{i}", "AWS_INSTANCE_PORT": "8080", "color": "blue" if i < 3 else "red"})["OperationId"]
out["reg_op"] = c.get_operation(OperationId=out["reg1"])["Operation"]
out["get_inst"] = c.get_instance(ServiceId=svc["Id"], InstanceId="i2")["Instance"]
out["inst_nf"] = err(c.get_instance, ServiceId=svc["Id"], InstanceId="nope")
pages = list(c.get_paginator("list_instances").paginate(ServiceId=svc["Id"], PaginationConfig={"PageSize": 2}))
out["inst_pages"] = [[i["Id"] for i in p["Instances"]] for p in pages]
out["svc_count"] = c.get_service(Id=svc["Id"])["Service"]["InstanceCount"]
out["disc_all"] = c.discover_instances(NamespaceName="corp.local", ServiceName="web")["Instances"]
out["disc_red"] = c.discover_instances(NamespaceName="corp.local", ServiceName="web", QueryParameters={"color": "red"})["Instances"]
out["disc_opt"] = [i["InstanceId"] for i in c.discover_instances(NamespaceName="corp.local", ServiceName="web", OptionalParameters={"color": "red"})["Instances"]]
out["disc_max"] = len(c.discover_instances(NamespaceName="corp.local", ServiceName="web", MaxResults=2)["Instances"])
c.update_instance_custom_health_status(ServiceId=svc["Id"], InstanceId="i1", Status="UNHEALTHY")
out["health"] = c.get_instances_health_status(ServiceId=svc["Id"])["Status"]
out["disc_healthy"] = sorted(i["InstanceId"] for i in c.discover_instances(NamespaceName="corp.local", ServiceName="web")["Instances"])
out["disc_unhealthy"] = sorted(i["InstanceId"] for i in c.discover_instances(NamespaceName="corp.local", ServiceName="web", HealthStatus="UNHEALTHY")["Instances"])
out["disc_ns_nf"] = err(c.discover_instances, NamespaceName="nope.local", ServiceName="web")
out["disc_svc_nf"] = err(c.discover_instances, NamespaceName="corp.local", ServiceName="nope")
out["svc_in_use"] = err(c.delete_service, Id=svc["Id"])
h = c.create_service(Name="plain", NamespaceId=ns)["Service"]
c.register_instance(ServiceId=h["Id"], InstanceId="p1", Attributes={"k": "v"})
out["no_custom"] = err(c.update_instance_custom_health_status, ServiceId=h["Id"], InstanceId="p1", Status="HEALTHY")
out["plain_health"] = c.discover_instances(NamespaceName="corp.local", ServiceName="plain")["Instances"][0]["HealthStatus"]
c.tag_resource(ResourceARN=svc["Arn"], Tags=[{"Key": "team", "Value": "a"}])
out["tags"] = c.list_tags_for_resource(ResourceARN=svc["Arn"])["Tags"]
c.untag_resource(ResourceARN=svc["Arn"], TagKeys=["team"])
out["tags2"] = c.list_tags_for_resource(ResourceARN=svc["Arn"])["Tags"]
out["upd"] = c.get_operation(OperationId=c.update_service(Id=svc["Id"], Service={"Description": "d", "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 99}, {"Type": "SRV", "TTL": 99}]}})["OperationId"])["Operation"]["Type"]
out["ttl"] = c.get_service(Id=svc["Id"])["Service"]["DnsConfig"]["DnsRecords"]
out["ops"] = len([o for p in c.get_paginator("list_operations").paginate() for o in p["Operations"]])
out["ops_reg"] = len(c.list_operations(Filters=[{"Name": "TYPE", "Values": ["REGISTER_INSTANCE"], "Condition": "EQ"}])["Operations"])
out["bad_token"] = err(c.list_namespaces, NextToken="garbage")
out["op_nf"] = err(c.get_operation, OperationId="nope")
print(json.dumps(out, default=str))
'''


def boto(ecs, script, *args):
    helpers = os.path.dirname(os.path.abspath(__file__))
    env = dict(ecs.ENV, PYTHONPATH=helpers)
    p = ecs.sb.run(["/usr/bin/python3", "-c", script] + list(args), env=env, timeout=120)
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_boto3_every_operation_errors_and_paging(ecs):
    vpc = default_vpc(ecs)["VpcId"]
    o = boto(ecs, BOTO_SCRIPT, vpc)
    assert o["op"]["Status"] == "SUCCESS" and o["op"]["Type"] == "CREATE_NAMESPACE"
    ns = o["ns"]
    assert ns["Id"].startswith("ns-") and len(ns["Id"]) == 19 and ns["Type"] == "DNS_PRIVATE"
    assert ns["Arn"] == f"arn:aws:servicediscovery:us-east-1:000000000000:namespace/{ns['Id']}"
    assert ns["Properties"]["HttpProperties"]["HttpName"] == "corp.local"
    assert ns["Properties"]["DnsProperties"]["HostedZoneId"].startswith("Z")
    assert o["dup_ns"][0] == "NamespaceAlreadyExists" and o["dup_ns"][2] == 400
    assert o["bad_vpc"][0] == "InvalidInput" and "vpc-0123456789abcdef0" in o["bad_vpc"][1]
    assert o["ns_pages"] == [2, 2, 2] and o["ns_names"] == ["corp.local", "http0", "http1", "http2", "http3", "http4"]
    assert o["ns_http"] == ["http0", "http1", "http2", "http3", "http4"] and o["ns_begins"] == ["corp.local"]
    svc = o["svc"]
    assert svc["Id"].startswith("srv-") and svc["Name"] == "web" and svc["Type"] == "DNS_HTTP" and svc["NamespaceId"] == ns["Id"]
    assert svc["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 30}, {"Type": "SRV", "TTL": 30}]
    assert svc["HealthCheckCustomConfig"] == {"FailureThreshold": 1} and svc["InstanceCount"] == 0
    assert o["dup_svc"][0] == "ServiceAlreadyExists" and o["svc_ns_nf"][0] == "NamespaceNotFound"
    assert o["get_svc"]["Arn"] == svc["Arn"] and [s["Id"] for s in o["list_svc"]] == [svc["Id"]]
    assert o["ns_in_use"][0] == "ResourceInUse"
    assert o["missing_ip"][0] == "InvalidInput" and "AWS_INSTANCE_IPV4" in o["missing_ip"][1]
    assert o["reg_op"]["Type"] == "REGISTER_INSTANCE" and o["reg_op"]["Targets"]["INSTANCE"] == "i1"
    assert o["get_inst"]["Id"] == "i2" and o["get_inst"]["CreatorRequestId"]   # botocore adds one
    assert o["get_inst"]["Attributes"] == {"AWS_INSTANCE_IPV4": "10.9.0.2", "AWS_INSTANCE_PORT": "8080", "color": "blue"}
    assert o["inst_nf"][0] == "InstanceNotFound"
    assert o["inst_pages"] == [["i1", "i2"], ["i3"]] and o["svc_count"] == 3
    assert sorted(i["InstanceId"] for i in o["disc_all"]) == ["i1", "i2", "i3"]
    assert all(i["NamespaceName"] == "corp.local" and i["ServiceName"] == "web" and i["HealthStatus"] == "HEALTHY" for i in o["disc_all"])
    assert [i["InstanceId"] for i in o["disc_red"]] == ["i3"] and o["disc_opt"] == ["i3"] and o["disc_max"] == 2
    assert o["health"] == {"i1": "UNHEALTHY", "i2": "HEALTHY", "i3": "HEALTHY"}
    assert o["disc_healthy"] == ["i2", "i3"] and o["disc_unhealthy"] == ["i1"]
    assert o["disc_ns_nf"][0] == "NamespaceNotFound" and o["disc_svc_nf"][0] == "ServiceNotFound"
    assert o["svc_in_use"][0] == "ResourceInUse"
    assert o["no_custom"][0] == "CustomHealthNotFound" and o["plain_health"] == "UNKNOWN"
    assert o["tags"] == [{"Key": "team", "Value": "a"}] and o["tags2"] == []
    assert o["upd"] == "UPDATE_SERVICE" and o["ttl"] == [{"Type": "A", "TTL": 99}, {"Type": "SRV", "TTL": 99}]
    assert o["ops"] >= 11 and o["ops_reg"] == 4
    assert o["bad_token"][0] == "InvalidInput" and o["op_nf"][0] == "OperationNotFound"

    # the zone and the RRsets in netd
    recs = netd_records(ecs, vpc)
    assert recs[("web.corp.local", "A")] == ["10.9.0.2", "10.9.0.3"]   # i1 is unhealthy
    assert recs[("web.corp.local", "SRV")] == ["1 1 8080 i2.web.corp.local.", "1 1 8080 i3.web.corp.local."]
    assert recs[("i1.web.corp.local", "A")] == ["10.9.0.1"]

    # deregister everything, delete service and namespace: the records go
    s = svc["Id"]
    for i in ("i1", "i2", "i3"):
        op = sd(ecs, "DeregisterInstance", ServiceId=s, InstanceId=i)["OperationId"]
        assert sd(ecs, "GetOperation", OperationId=op)["Operation"]["Type"] == "DEREGISTER_INSTANCE"
    assert sd_err(ecs, "DeregisterInstance", ServiceId=s, InstanceId="i1").type == "InstanceNotFound"
    e = sd_err(ecs, "CreatePrivateDnsNamespace", Name="ec2.internal", Vpc=vpc)   # netd's own domain of the VPC
    assert e.type == "InvalidInput" and "cannot be a zone of VPC" in e.message, e
    assert sd(ecs, "DeleteService", Id=s) == {}
    assert sd_err(ecs, "GetService", Id=s).type == "ServiceNotFound"
    plain = [x["Id"] for x in sd(ecs, "ListServices")["Services"] if x["Name"] == "plain"][0]
    sd(ecs, "DeregisterInstance", ServiceId=plain, InstanceId="p1")
    sd(ecs, "DeleteService", Id=plain)
    assert not [k for k in netd_records(ecs, vpc) if k[0].endswith("corp.local")]
    op = sd(ecs, "DeleteNamespace", Id=ns["Id"])["OperationId"]
    assert sd(ecs, "GetOperation", OperationId=op)["Operation"]["Type"] == "DELETE_NAMESPACE"
    assert sd_err(ecs, "GetNamespace", Id=ns["Id"]).type == "NamespaceNotFound"


def test_signing_name_and_aws_cli_with_data_host(ecs):
    """The CLI signs as servicediscovery; DiscoverInstances goes to data-<host>, so the CLI uses a named
    endpoint that /etc/hosts (the sandbox's own copy) points at 127.0.0.1."""
    hosts = os.path.join(ecs.sb.tmp, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost ecsbox data-ecsbox\n")
    ecs.sb.run(["mount", "--bind", hosts, "/etc/hosts"])

    def aws(*args, check=True):
        argv = ["/usr/bin/aws", "--endpoint-url", "http://ecsbox:5080", "--output", "json", "servicediscovery"] + list(args)
        p = ecs.sb.run(argv, check=check, env=ecs.ENV, timeout=120)
        return json.loads(p.stdout) if check and p.stdout.strip() else p

    op = aws("create-http-namespace", "--name", "apps")["OperationId"]
    ns = aws("get-operation", "--operation-id", op)["Operation"]["Targets"]["NAMESPACE"]
    assert [n["Name"] for n in aws("list-namespaces")["Namespaces"]] == ["apps"]
    svc = aws("create-service", "--name", "api", "--namespace-id", ns)["Service"]
    assert svc["Type"] == "HTTP"
    aws("register-instance", "--service-id", svc["Id"], "--instance-id", "a1", "--attributes", "AWS_INSTANCE_IPV4=10.1.2.3,v=1")
    got = aws("discover-instances", "--namespace-name", "apps", "--service-name", "api")["Instances"]
    assert got == [{"InstanceId": "a1", "NamespaceName": "apps", "ServiceName": "api", "HealthStatus": "UNKNOWN",
                    "Attributes": {"AWS_INSTANCE_IPV4": "10.1.2.3", "v": "1"}}]
    p = aws("get-service", "--id", "srv-0000000000000000", check=False)
    assert p.returncode != 0 and "ServiceNotFound" in p.stderr
    # a Cloud Map request signed for ecs is refused, as AWS refuses a wrong credential scope
    script = r'''
import http.client, json, sys
sys.path.insert(0, sys.argv[1])
from sandbox import sigv4_signer, http_post
for svc in ("ecs", "servicediscovery"):
    h = {"X-Amz-Target": "Route53AutoNaming_v20170314.ListNamespaces", "Content-Type": "application/x-amz-json-1.1"}
    h = sigv4_signer(sys.argv[2], service=svc)("127.0.0.1:5080", h, b"{}")
    st, body = http_post(http.client.HTTPConnection("127.0.0.1", 5080, timeout=30), h, b"{}")
    print(json.dumps([svc, st, json.loads(body)]))
'''
    helpers = os.path.dirname(os.path.abspath(__file__))
    lines = ecs.sb.run(["/usr/bin/python3", "-c", script, helpers, ecs.credentials]).stdout.strip().splitlines()
    wrong, right = json.loads(lines[0]), json.loads(lines[1])
    assert wrong[1] == 403 and wrong[2]["__type"] == "InvalidSignatureException"
    assert "servicediscovery" in wrong[2]["message"]
    assert right[1] == 200 and [n["Name"] for n in right[2]["Namespaces"]] == ["apps"]


def task_ips(ecs, name="web"):
    """{task id: private IPv4} of the service's RUNNING tasks."""
    arns = ecs.call("ListTasks", serviceName=name)["taskArns"]
    out = {}
    if arns:
        for t in ecs.call("DescribeTasks", tasks=arns)["tasks"]:
            if t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING":
                d = {x["name"]: x["value"] for x in t["attachments"][0]["details"]}
                out[task_id(t["taskArn"])] = d["privateIPv4Address"]
    return out


def instances(ecs, sid):
    return {i["Id"]: i["Attributes"] for i in sd(ecs, "ListInstances", ServiceId=sid)["Instances"]}


def wait_instances_match(ecs, sid, n, what):
    """Until the Cloud Map instances are exactly the service's n RUNNING tasks: {task id: ip}."""
    def probe():
        ips = task_ips(ecs)
        got = instances(ecs, sid)
        if len(ips) == n and {k: v["AWS_INSTANCE_IPV4"] for k, v in got.items()} == ips:
            return ips
        return None
    return wait_for(probe, 90, interval=0.3, what=what)


def resolved(ecs, netns, server, name, rtype="A"):
    """What the VPC resolver answers from inside netns: sorted rdata, or the rcode."""
    a = dig(ecs.sb, netns, server, name, rtype)
    assert "error" not in a, a
    if a["rcode"] != "NOERROR":
        return a["rcode"]
    return sorted(r["data"] for r in a["answer"] if r["type"] == rtype)


def test_ecs_service_registries_follow_the_tasks(ecs):
    ns, vpc = make_dns_namespace(ecs)
    resolver = base2(default_vpc(ecs))
    svc = sd(ecs, "CreateService", Name="web", NamespaceId=ns,
             DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}]})["Service"]
    a_only = sd(ecs, "CreateService", Name="aonly", NamespaceId=ns, DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 10}]})["Service"]
    ecs.call("RegisterTaskDefinition", **web_td())
    ecs.call("RegisterTaskDefinition", **web_td(family="br", mode="bridge"))
    reg = [{"registryArn": svc["Arn"], "containerName": "web", "containerPort": 80}]

    # ECS's checks
    def bad(**kw):
        req = dict(serviceName="x", taskDefinition="web", desiredCount=1)
        req.update(kw)
        return ecs.err("CreateService", **req)
    e = bad(serviceRegistries=reg * 2)
    assert e.type == "InvalidParameterException" and "one service registry" in e.message
    e = bad(serviceRegistries=[{"registryArn": svc["Arn"].replace(svc["Id"], "srv-0000000000000000")}])
    assert e.type == "InvalidParameterException" and "does not exist" in e.message
    e = bad(serviceRegistries=[{"registryArn": svc["Arn"]}])
    assert e.type == "InvalidParameterException" and "SRV" in e.message
    e = bad(serviceRegistries=[{"registryArn": svc["Arn"], "containerName": "web", "containerPort": 81}])
    assert "port mapping" in e.message
    e = bad(taskDefinition="br", serviceRegistries=[{"registryArn": a_only["Arn"]}])
    assert e.type == "InvalidParameterException" and "SRV" in e.message
    e = bad(serviceRegistries=[{"registryArn": 5}])
    assert e.type == "SerializationException"

    s = ecs.call("CreateService", serviceName="web", taskDefinition="web", desiredCount=3, serviceRegistries=reg)["service"]
    assert s["serviceRegistries"] == reg
    ips = wait_instances_match(ecs, svc["Id"], 3, "3 tasks registered")
    attrs = instances(ecs, svc["Id"])
    one = attrs[next(iter(ips))]
    assert one["AWS_INSTANCE_PORT"] == "80" and one["ECS_CLUSTER_NAME"] == "default" and one["ECS_SERVICE_NAME"] == "web"
    assert one["ECS_TASK_DEFINITION_FAMILY"] == "web" and one["REGION"] == "us-east-1" and one["AVAILABILITY_ZONE"].startswith("us-east-1")
    disc = sd(ecs, "DiscoverInstances", NamespaceName="corp.local", ServiceName="web")["Instances"]
    assert sorted(i["Attributes"]["AWS_INSTANCE_IPV4"] for i in disc) == sorted(ips.values())
    assert sd_err(ecs, "DeleteService", Id=svc["Id"]).type == "ResourceInUse"

    def dns_follows(ips):
        recs = netd_records(ecs, vpc)
        want_srv = sorted(f"1 1 80 {t}.web.corp.local." for t in ips)
        return (recs.get(("web.corp.local", "A")) == sorted(ips.values()) and recs.get(("web.corp.local", "SRV")) == want_srv
                and all(recs.get((f"{t}.web.corp.local", "A")) == [ip] for t, ip in ips.items()))
    wait_for(lambda: dns_follows(ips), 10, interval=0.2, what="RRsets of 3 tasks in netd")

    # the names resolve in the VPC's resolver, from inside a task
    def answers(ips, netns):
        return (resolved(ecs, netns, resolver, "web.corp.local") == sorted(ips.values())
                and resolved(ecs, netns, resolver, "web.corp.local", "SRV") == sorted(f"1 1 80 {t}.web.corp.local." for t in ips))
    probe_ns = eni_netns(ecs, ecs.call("DescribeTasks", tasks=[next(iter(ips))])["tasks"][0])
    wait_for(lambda: answers(ips, probe_ns), 10, interval=0.2, what="web.corp.local resolves to the 3 tasks")
    t0 = next(iter(ips))
    assert resolved(ecs, probe_ns, resolver, f"{t0}.web.corp.local") == [ips[t0]]
    assert resolved(ecs, probe_ns, resolver, "nope.corp.local") == "NXDOMAIN"

    # scale out
    ecs.call("UpdateService", service="web", desiredCount=5)
    ips = wait_instances_match(ecs, svc["Id"], 5, "5 tasks registered")
    wait_for(lambda: dns_follows(ips), 10, interval=0.2, what="RRsets of 5 tasks in netd")
    wait_for(lambda: answers(ips, probe_ns), 10, interval=0.2, what="web.corp.local resolves to the 5 tasks")

    # a task killed from outside: deregistered, its replacement registered
    victim = [t for t in ips if eni_netns(ecs, ecs.call("DescribeTasks", tasks=[t])["tasks"][0]) != probe_ns][0]
    t = ecs.call("DescribeTasks", tasks=[victim])["tasks"][0]
    pids = ecs.sb.run(["sh", "-c", f"ip netns pids {eni_netns(ecs, t)}"]).stdout.split()
    assert pids
    for p in pids:
        ecs.sb.run(["kill", "-9", p], check=False)
    wait_for(lambda: victim not in instances(ecs, svc["Id"]), 30, interval=0.2, what="killed task deregistered")
    ips = wait_instances_match(ecs, svc["Id"], 5, "replacement registered")
    assert victim not in ips
    wait_for(lambda: dns_follows(ips), 10, interval=0.2, what="RRsets after the kill")
    wait_for(lambda: answers(ips, probe_ns), 10, interval=0.2, what="web.corp.local without the killed task")

    # the service goes: so do its instances and records
    ecs.call("UpdateService", service="web", desiredCount=0)
    ecs.call("DeleteService", service="web")
    wait_for(lambda: instances(ecs, svc["Id"]) == {}, 60, interval=0.3, what="every instance deregistered")
    wait_for(lambda: not [k for k in netd_records(ecs, vpc) if k[0].endswith("web.corp.local")], 10, what="RRsets gone")
    assert sd(ecs, "DeleteService", Id=svc["Id"]) == {}


def test_bridge_service_registers_host_port_srv(ecs):
    """bridge: SRV with the host port and the instance's address."""
    ns, vpc = make_dns_namespace(ecs, "br.local")
    svc = sd(ecs, "CreateService", Name="b", NamespaceId=ns, DnsConfig={"DnsRecords": [{"Type": "SRV", "TTL": 10}]})["Service"]
    from test_ecsboxd import register_instance
    register_instance(ecs)
    td = web_td(family="br", mode="bridge")
    td["containerDefinitions"][0]["portMappings"] = [{"containerPort": 80, "hostPort": 0}]
    ecs.call("RegisterTaskDefinition", **td)
    ecs.call("CreateService", serviceName="b", taskDefinition="br", desiredCount=2,
             serviceRegistries=[{"registryArn": svc["Arn"], "containerName": "web", "containerPort": 80}])

    def probe():
        got = instances(ecs, svc["Id"])
        return got if len(got) == 2 else None
    got = wait_for(probe, 60, interval=0.3, what="2 bridge tasks registered")
    arns = ecs.call("ListTasks", serviceName="b")["taskArns"]
    tasks = {task_id(t["taskArn"]): t for t in ecs.call("DescribeTasks", tasks=arns)["tasks"]}
    for tid, a in got.items():
        b = tasks[tid]["containers"][0]["networkBindings"][0]
        assert a["AWS_INSTANCE_PORT"] == str(b["hostPort"]) and int(a["AWS_INSTANCE_PORT"]) > 0
        assert a["AWS_INSTANCE_IPV4"] not in ("", "0.0.0.0")

    # host mode: the container instance's own address and the port itself
    hsvc = sd(ecs, "CreateService", Name="h", NamespaceId=ns, DnsConfig={"DnsRecords": [{"Type": "SRV", "TTL": 10}]})["Service"]
    td = web_td(family="hostm", mode="host")
    td["containerDefinitions"][0]["command"] = ["sh", "-c", "mkdir -p /tmp/h && exec httpd -f -p 8081 -h /tmp/h"]
    td["containerDefinitions"][0]["portMappings"] = [{"containerPort": 8081, "hostPort": 8081}]
    ecs.call("RegisterTaskDefinition", **td)
    ecs.call("CreateService", serviceName="h", taskDefinition="hostm", desiredCount=1,
             serviceRegistries=[{"registryArn": hsvc["Arn"], "containerName": "web", "containerPort": 8081}])
    hgot = wait_for(lambda: instances(ecs, hsvc["Id"]) or None, 60, interval=0.3, what="the host-mode task registered")
    (a,) = hgot.values()
    assert a["AWS_INSTANCE_PORT"] == "8081"
    assert a["AWS_INSTANCE_IPV4"] == next(iter(got.values()))["AWS_INSTANCE_IPV4"]   # the same instance as the bridge tasks
    recs = netd_records(ecs, vpc)
    assert recs[("h.br.local", "SRV")] == [f"1 1 8081 {next(iter(hgot))}.h.br.local."]


def test_push_survives_netd_down_and_ecsboxd_restart(ecs):
    """A change made while netd is away reaches it once netd is back (the tick retries); a zone netd
    lost comes back when ecsboxd starts (every zone and RRset is pushed again)."""
    ns, vpc = make_dns_namespace(ecs)
    sid = sd(ecs, "CreateService", Name="db", NamespaceId=ns, DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 5}]})["Service"]["Id"]
    sd(ecs, "RegisterInstance", ServiceId=sid, InstanceId="d1", Attributes={"AWS_INSTANCE_IPV4": "10.7.0.1"})
    assert netd_records(ecs, vpc)[("db.corp.local", "A")] == ["10.7.0.1"]

    ecs.netd.stop()
    sd(ecs, "RegisterInstance", ServiceId=sid, InstanceId="d2", Attributes={"AWS_INSTANCE_IPV4": "10.7.0.2"})
    assert sorted(instances(ecs, sid)) == ["d1", "d2"]     # the Cloud Map change is not lost
    ecs.netd.start()
    wait_for(lambda: netd_records(ecs, vpc).get(("db.corp.local", "A")) == ["10.7.0.1", "10.7.0.2"], 10, interval=0.2,
             what="the change pushed once netd is back")

    # netd loses the zone (as a netd with a fresh state would): ecsboxd's start pushes it again
    ecs.stop()
    ecs.netd.ok("DeleteDnsZone", VpcId=vpc, Name="corp.local")
    assert ("db.corp.local", "A") not in netd_records(ecs, vpc)
    ecs.start()
    wait_for(lambda: netd_records(ecs, vpc).get(("db.corp.local", "A")) == ["10.7.0.1", "10.7.0.2"], 10, interval=0.2,
             what="zone and RRsets pushed again at start-up")


def test_tasks_with_a_health_check_register_only_when_healthy(ecs):
    """A task with a container health check is an instance only while HEALTHY; one that turns UNHEALTHY
    is deregistered."""
    ns, vpc = make_dns_namespace(ecs)
    svc = sd(ecs, "CreateService", Name="hc", NamespaceId=ns, DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 5}]})["Service"]
    td = web_td(family="hc")
    td["containerDefinitions"][0]["healthCheck"] = {"command": ["CMD-SHELL", "test ! -f /tmp/sick"], "interval": 5,
                                                      "timeout": 2, "retries": 1}
    ecs.call("RegisterTaskDefinition", **td)
    ecs.call("CreateService", serviceName="hc", taskDefinition="hc", desiredCount=2, healthCheckGracePeriodSeconds=0,
             serviceRegistries=[{"registryArn": svc["Arn"]}])

    def described():
        arns = ecs.call("ListTasks", serviceName="hc")["taskArns"]
        return {task_id(t["taskArn"]): t for t in ecs.call("DescribeTasks", tasks=arns)["tasks"]} if arns else {}

    def both_registered():
        got, tasks = instances(ecs, svc["Id"]), described()
        for tid in got:   # never an instance before its task is HEALTHY
            assert tid not in tasks or tasks[tid]["healthStatus"] == "HEALTHY" or tasks[tid]["desiredStatus"] == "STOPPED", tasks.get(tid)
        return got if len(got) == 2 else None
    got = wait_for(both_registered, 60, interval=0.2, what="2 healthy tasks registered")
    sick = next(iter(got))
    t = described()[sick]
    pid = ecs.sb.run(["sh", "-c", f"ip netns pids {eni_netns(ecs, t)}"]).stdout.split()[0]
    ecs.sb.run(["sh", "-c", f"touch /proc/{pid}/root/tmp/sick"])
    wait_for(lambda: sick not in instances(ecs, svc["Id"]), 40, interval=0.2, what="the unhealthy task deregistered")
    t = ecs.call("DescribeTasks", tasks=[sick])["tasks"][0]
    assert t["healthStatus"] == "UNHEALTHY", t


def test_multivalue_answers_at_most_eight_healthy(ecs):
    """12 registered instances: the VPC resolver answers 8 of them, all healthy ones, at the record's TTL;
    with none healthy it answers unhealthy ones (AWS's rule)."""
    ns, vpc = make_dns_namespace(ecs)
    sid = sd(ecs, "CreateService", Name="many", NamespaceId=ns, DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 42}]},
             HealthCheckCustomConfig={"FailureThreshold": 1})["Service"]["Id"]
    for i in range(12):
        sd(ecs, "RegisterInstance", ServiceId=sid, InstanceId=f"m{i}", Attributes={"AWS_INSTANCE_IPV4": f"10.8.0.{i + 1}"})
    for i in range(2):
        sd(ecs, "UpdateInstanceCustomHealthStatus", ServiceId=sid, InstanceId=f"m{i}", Status="UNHEALTHY")
    sub = ecs.netd.ok("DescribeSubnets", Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]
    ecs.netd.ok("CreateTaskNetwork", SubnetId=sub["SubnetId"], Netns="probe")
    server = base2(default_vpc(ecs))
    healthy = {f"10.8.0.{i + 1}" for i in range(2, 12)}
    a = dig(ecs.sb, "probe", server, "many.corp.local")
    got = [r for r in a["answer"] if r["type"] == "A"]
    assert a["rcode"] == "NOERROR" and a["aa"] and len(got) == 8, a
    assert {r["data"] for r in got} <= healthy and all(r["ttl"] == 42 for r in got)
    for i in range(2, 12):
        sd(ecs, "UpdateInstanceCustomHealthStatus", ServiceId=sid, InstanceId=f"m{i}", Status="UNHEALTHY")
    a = dig(ecs.sb, "probe", server, "many.corp.local")
    assert a["rcode"] == "NOERROR" and len([r for r in a["answer"] if r["type"] == "A"]) == 8, a


def test_registrations_converge_after_ecsboxd_kill9(ecs):
    """A task dies while ecsboxd is down (kill -9): after the restart its instance goes and its
    replacement comes, from the records alone."""
    ns, vpc = make_dns_namespace(ecs)
    svc = sd(ecs, "CreateService", Name="web", NamespaceId=ns, DnsConfig={"DnsRecords": [{"Type": "A", "TTL": 10}]})["Service"]
    ecs.call("RegisterTaskDefinition", **web_td())
    ecs.call("CreateService", serviceName="web", taskDefinition="web", desiredCount=2, serviceRegistries=[{"registryArn": svc["Arn"]}])
    ips = wait_instances_match(ecs, svc["Id"], 2, "2 tasks registered")
    victim = next(iter(ips))
    netns = eni_netns(ecs, ecs.call("DescribeTasks", tasks=[victim])["tasks"][0])
    ecs.kill9()
    for p in ecs.sb.run(["sh", "-c", f"ip netns pids {netns}"]).stdout.split():
        ecs.sb.run(["kill", "-9", p], check=False)
    ecs.start()
    ips = wait_instances_match(ecs, svc["Id"], 2, "registrations after the restart")
    assert victim not in ips
    wait_for(lambda: netd_records(ecs, vpc).get(("web.corp.local", "A")) == sorted(ips.values()), 10, interval=0.2,
             what="RRsets after the restart")
