"""The ELBv2 API (elasticloadbalancing 2015-12-01) over the Query protocol on ecsboxd's endpoint, with
Debian's unmodified aws CLI (`aws elbv2 ...`) and boto3's elbv2 client: every operation, the shapes,
ELBv2's error codes and statuses, pagination (PageSize/Marker), the XML details (the Result element even
when empty, <member> items, the namespace)."""
import json

import pytest

from sandbox import Ecsboxd, Netd

BOTO = r'''
import json, sys, boto3, botocore
s = boto3.session.Session(profile_name="ecsbox", region_name="us-east-1")
elb = s.client("elbv2", endpoint_url="http://127.0.0.1:5080")
ec2 = s.client("ec2", endpoint_url="http://127.0.0.1:5080")
out = {}
def err(fn, **kw):
    try:
        fn(**kw)
    except botocore.exceptions.ClientError as e:
        return {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                "type": e.response["Error"].get("Type"), "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
                "class": type(e).__name__}
    return None
exec(sys.argv[1])
print(json.dumps(out, default=str))
'''

RAW = r'''
import json, sys, http.client, boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
creds = boto3.session.Session(profile_name="ecsbox").get_credentials()
def call(body, service="elasticloadbalancing"):
    req = AWSRequest(method="POST", url="http://127.0.0.1:5080/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds, service, "us-east-1").add_auth(req)
    c = http.client.HTTPConnection("127.0.0.1", 5080, timeout=30)
    c.request("POST", "/", body=body, headers=dict(req.headers.items()))
    r = c.getresponse()
    return {"status": r.status, "type": r.getheader("Content-Type"), "body": r.read().decode()}
print(json.dumps({k: call(v) for k, v in json.loads(sys.argv[1]).items()}))
'''


@pytest.fixture
def api(sb):
    n = Netd(sb)
    d = Ecsboxd(sb, None)
    d.netd = n
    yield d


def boto(api, code):
    p = api.sb.run(["/usr/bin/python3", "-c", BOTO, code], env=api.ENV, timeout=180)
    return json.loads(p.stdout.strip().splitlines()[-1])


def raw(api, bodies):
    p = api.sb.run(["/usr/bin/python3", "-c", RAW, json.dumps(bodies)], env=api.ENV, timeout=60)
    return json.loads(p.stdout)


def aws_err(api, *args):
    p = api.aws(*args, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr


def network(api):
    """A VPC with two subnets in two zones and a security group."""
    vid = api.aws("ec2", "create-vpc", "--cidr-block", "10.9.0.0/16")["Vpc"]["VpcId"]
    a = api.aws("ec2", "create-subnet", "--vpc-id", vid, "--cidr-block", "10.9.1.0/24",
                "--availability-zone", "us-east-1a")["Subnet"]["SubnetId"]
    b = api.aws("ec2", "create-subnet", "--vpc-id", vid, "--cidr-block", "10.9.2.0/24",
                "--availability-zone", "us-east-1b")["Subnet"]["SubnetId"]
    sg = api.aws("ec2", "create-security-group", "--group-name", "lb", "--description", "lb", "--vpc-id", vid)["GroupId"]
    return vid, a, b, sg


def test_load_balancers_target_groups_listeners_through_the_aws_cli(api):
    vid, a, b, sg = network(api)
    lb = api.aws("elbv2", "create-load-balancer", "--name", "web", "--type", "network", "--scheme", "internal",
                 "--subnets", a, b, "--tags", "Key=env,Value=dev")["LoadBalancers"][0]
    arn = lb["LoadBalancerArn"]
    assert arn.startswith("arn:aws:elasticloadbalancing:us-east-1:") and ":loadbalancer/net/web/" in arn, arn
    lbid = arn.rsplit("/", 1)[1]
    assert len(lbid) == 16 and all(c in "0123456789abcdef" for c in lbid)
    assert lb["DNSName"] == f"web-{lbid}.elb.us-east-1.amazonaws.com", lb
    assert lb["CanonicalHostedZoneId"] == "Z26RNL4JYFTOTI" and lb["Type"] == "network" and lb["Scheme"] == "internal"
    assert lb["VpcId"] == vid and lb["State"]["Code"] in ("provisioning", "active"), lb
    assert sorted(z["SubnetId"] for z in lb["AvailabilityZones"]) == sorted([a, b])
    assert sorted(z["ZoneName"] for z in lb["AvailabilityZones"]) == ["us-east-1a", "us-east-1b"]
    assert "T" in lb["CreatedTime"] and lb["IpAddressType"] == "ipv4"
    # the same again: the same load balancer; other settings: DuplicateLoadBalancerName
    again = api.aws("elbv2", "create-load-balancer", "--name", "web", "--type", "network", "--scheme", "internal",
                    "--subnets", b, a)["LoadBalancers"][0]
    assert again["LoadBalancerArn"] == arn
    assert "DuplicateLoadBalancerName" in aws_err(api, "elbv2", "create-load-balancer", "--name", "web", "--type",
                                                  "network", "--subnets", a)
    got = api.aws("elbv2", "describe-load-balancers", "--names", "web")["LoadBalancers"]
    assert [x["LoadBalancerArn"] for x in got] == [arn]
    assert "LoadBalancerNotFound" in aws_err(api, "elbv2", "describe-load-balancers", "--names", "nope")
    # a target group, ip targets
    tg = api.aws("elbv2", "create-target-group", "--name", "web-tcp", "--protocol", "TCP", "--port", "80",
                 "--vpc-id", vid, "--target-type", "ip")["TargetGroups"][0]
    tga = tg["TargetGroupArn"]
    assert ":targetgroup/web-tcp/" in tga and tg["HealthCheckProtocol"] == "TCP" and tg["HealthCheckPort"] == "traffic-port"
    assert tg["HealthCheckIntervalSeconds"] == 30 and tg["HealthCheckTimeoutSeconds"] == 10
    assert tg["HealthyThresholdCount"] == 5 and tg["UnhealthyThresholdCount"] == 2 and tg["HealthCheckEnabled"] is True
    assert tg["LoadBalancerArns"] == [] and tg["TargetType"] == "ip" and tg["Port"] == 80
    api.aws("elbv2", "register-targets", "--target-group-arn", tga, "--targets", "Id=10.9.1.10,Port=8080", "Id=10.9.2.10")
    th = api.aws("elbv2", "describe-target-health", "--target-group-arn", tga)["TargetHealthDescriptions"]
    assert sorted((t["Target"]["Id"], t["Target"]["Port"]) for t in th) == [("10.9.1.10", 8080), ("10.9.2.10", 80)]
    assert all(t["TargetHealth"] == {"State": "unused", "Reason": "Target.NotInUse",
                                     "Description": "Target group is not configured to receive traffic from the load balancer"}
               for t in th), th
    assert {t["HealthCheckPort"] for t in th} == {"8080", "80"}
    assert "InvalidTarget" in aws_err(api, "elbv2", "register-targets", "--target-group-arn", tga, "--targets", "Id=web")
    # a listener forwarding to it
    ln = api.aws("elbv2", "create-listener", "--load-balancer-arn", arn, "--protocol", "TCP", "--port", "80",
                 "--default-actions", f"Type=forward,TargetGroupArn={tga}")["Listeners"][0]
    lna = ln["ListenerArn"]
    assert f":listener/net/web/{lbid}/" in lna and ln["Port"] == 80 and ln["Protocol"] == "TCP"
    act = ln["DefaultActions"][0]
    assert act["Type"] == "forward" and act["TargetGroupArn"] == tga
    assert act["ForwardConfig"]["TargetGroups"] == [{"TargetGroupArn": tga, "Weight": 1}]
    assert api.aws("elbv2", "describe-target-groups", "--target-group-arns", tga)["TargetGroups"][0]["LoadBalancerArns"] == [arn]
    assert [t["TargetGroupArn"] for t in api.aws("elbv2", "describe-target-groups", "--load-balancer-arn", arn)["TargetGroups"]] == [tga]
    tg2 = api.aws("elbv2", "create-target-group", "--name", "web-tcp2", "--protocol", "TCP", "--port", "81",
                  "--vpc-id", vid, "--target-type", "ip")["TargetGroups"][0]["TargetGroupArn"]
    assert "DuplicateListener" in aws_err(api, "elbv2", "create-listener", "--load-balancer-arn", arn, "--protocol", "TCP",
                                          "--port", "80", "--default-actions", f"Type=forward,TargetGroupArn={tg2}")
    assert "InvalidConfigurationRequest" in aws_err(api, "elbv2", "create-listener", "--load-balancer-arn", arn, "--protocol",
                                                    "UDP", "--port", "81", "--default-actions", f"Type=forward,TargetGroupArn={tg2}")
    same = api.aws("elbv2", "create-listener", "--load-balancer-arn", arn, "--protocol", "TCP", "--port", "80",
                   "--default-actions", f"Type=forward,TargetGroupArn={tga}")["Listeners"][0]
    assert same["ListenerArn"] == ln["ListenerArn"]
    api.aws("elbv2", "delete-target-group", "--target-group-arn", tg2)
    assert "ResourceInUse" in aws_err(api, "elbv2", "delete-target-group", "--target-group-arn", tga)
    # deregistering a target that is not registered succeeds, also once netd has the group
    api.aws("elbv2", "deregister-targets", "--target-group-arn", tga, "--targets", "Id=10.9.9.9")
    assert [x["ListenerArn"] for x in api.aws("elbv2", "describe-listeners", "--load-balancer-arn", arn)["Listeners"]] == [lna]
    # attributes
    attrs = {x["Key"]: x["Value"] for x in api.aws("elbv2", "describe-target-group-attributes", "--target-group-arn", tga)["Attributes"]}
    assert attrs["deregistration_delay.timeout_seconds"] == "300" and attrs["preserve_client_ip.enabled"] == "false"
    assert attrs["stickiness.type"] == "source_ip" and "slow_start.duration_seconds" not in attrs
    mod = api.aws("elbv2", "modify-target-group-attributes", "--target-group-arn", tga, "--attributes",
                  "Key=deregistration_delay.timeout_seconds,Value=5")["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "5"} in mod
    assert "ValidationError" in aws_err(api, "elbv2", "modify-target-group-attributes", "--target-group-arn", tga,
                                        "--attributes", "Key=deregistration_delay.timeout_seconds,Value=9999")
    assert "ValidationError" in aws_err(api, "elbv2", "modify-target-group-attributes", "--target-group-arn", tga,
                                        "--attributes", "Key=slow_start.duration_seconds,Value=30")
    # modify the health check
    m = api.aws("elbv2", "modify-target-group", "--target-group-arn", tga, "--health-check-protocol", "HTTP",
                "--health-check-path", "/health", "--matcher", "HttpCode=200-299")["TargetGroups"][0]
    assert m["HealthCheckProtocol"] == "HTTP" and m["HealthCheckPath"] == "/health" and m["Matcher"] == {"HttpCode": "200-299"}
    # tags
    api.aws("elbv2", "add-tags", "--resource-arns", arn, tga, "--tags", "Key=team,Value=a")
    api.aws("elbv2", "remove-tags", "--resource-arns", arn, "--tag-keys", "env")
    td = {d["ResourceArn"]: d["Tags"] for d in api.aws("elbv2", "describe-tags", "--resource-arns", arn, tga)["TagDescriptions"]}
    assert td == {arn: [{"Key": "team", "Value": "a"}], tga: [{"Key": "team", "Value": "a"}]}, td
    # deregister, delete in order
    api.aws("elbv2", "deregister-targets", "--target-group-arn", tga, "--targets", "Id=10.9.2.10")
    th = api.aws("elbv2", "describe-target-health", "--target-group-arn", tga, "--targets", "Id=10.9.2.10")["TargetHealthDescriptions"]
    assert th[0]["TargetHealth"]["State"] == "unused" and th[0]["TargetHealth"]["Reason"] == "Target.NotRegistered", th
    api.aws("elbv2", "delete-listener", "--listener-arn", lna)
    assert "ListenerNotFound" in aws_err(api, "elbv2", "delete-listener", "--listener-arn", lna)
    api.aws("elbv2", "delete-target-group", "--target-group-arn", tga)
    api.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", arn)
    api.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", arn)   # unknown: success
    assert api.aws("elbv2", "describe-load-balancers")["LoadBalancers"] == []


def test_application_load_balancer_rules_through_boto3(api):
    vid, a, b, sg = network(api)
    out = boto(api, f'''
lb = elb.create_load_balancer(Name="app", Subnets=["{a}", "{b}"], SecurityGroups=["{sg}"], Scheme="internal")["LoadBalancers"][0]
out["lb"] = lb
arn = lb["LoadBalancerArn"]
tg = elb.create_target_group(Name="app-http", Protocol="HTTP", Port=8080, VpcId="{vid}", TargetType="ip")["TargetGroups"][0]
out["tg"] = tg
tg2 = elb.create_target_group(Name="app-http2", Protocol="HTTP", Port=8081, VpcId="{vid}", TargetType="ip",
                              HealthCheckPath="/ok", Matcher={{"HttpCode": "200,204"}})["TargetGroups"][0]
out["tg2"] = tg2
out["tg_same"] = elb.create_target_group(Name="app-http", Protocol="HTTP", Port=8080, VpcId="{vid}", TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
out["tg_dup"] = err(elb.create_target_group, Name="app-http", Protocol="HTTP", Port=9999, VpcId="{vid}", TargetType="ip")
out["tg_novpc"] = err(elb.create_target_group, Name="x", Protocol="HTTP", Port=80, TargetType="ip")
out["tg_badvpc"] = err(elb.create_target_group, Name="x", Protocol="HTTP", Port=80, VpcId="vpc-0123456789abcdef0", TargetType="ip")
out["tg_badhc"] = err(elb.create_target_group, Name="x", Protocol="HTTP", Port=80, VpcId="{vid}", HealthCheckTimeoutSeconds=40)
ln = elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80,
                         DefaultActions=[{{"Type": "fixed-response", "FixedResponseConfig": {{"StatusCode": "404", "ContentType": "text/plain", "MessageBody": "no"}}}}])["Listeners"][0]
out["ln"] = ln
la = ln["ListenerArn"]
r1 = elb.create_rule(ListenerArn=la, Priority=10, Conditions=[{{"Field": "path-pattern", "PathPatternConfig": {{"Values": ["/api/*"]}}}}],
                     Actions=[{{"Type": "forward", "ForwardConfig": {{"TargetGroups": [{{"TargetGroupArn": tg["TargetGroupArn"], "Weight": 3}},
                                                                                    {{"TargetGroupArn": tg2["TargetGroupArn"], "Weight": 1}}]}}}}])["Rules"][0]
out["r1"] = r1
r2 = elb.create_rule(ListenerArn=la, Priority=20, Conditions=[{{"Field": "host-header", "Values": ["a.example.com"]}},
                                                             {{"Field": "http-header", "HttpHeaderConfig": {{"HttpHeaderName": "X-A", "Values": ["1"]}}}},
                                                             {{"Field": "query-string", "QueryStringConfig": {{"Values": [{{"Key": "v", "Value": "2"}}]}}}}],
                     Actions=[{{"Type": "redirect", "RedirectConfig": {{"StatusCode": "HTTP_301", "Path": "/new"}}}}])["Rules"][0]
out["r2"] = r2
out["prio_dup"] = err(elb.create_rule, ListenerArn=la, Priority=10, Conditions=[{{"Field": "path-pattern", "Values": ["/x"]}}],
                      Actions=[{{"Type": "fixed-response", "FixedResponseConfig": {{"StatusCode": "200"}}}}])
out["bad_field"] = err(elb.create_rule, ListenerArn=la, Priority=30, Conditions=[{{"Field": "cookie", "Values": ["x"]}}],
                       Actions=[{{"Type": "fixed-response", "FixedResponseConfig": {{"StatusCode": "200"}}}}])
out["bad_tg"] = err(elb.create_rule, ListenerArn=la, Priority=31, Conditions=[{{"Field": "path-pattern", "Values": ["/x"]}}],
                    Actions=[{{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"][:-1] + "0"}}])
out["rules"] = elb.describe_rules(ListenerArn=la)["Rules"]
out["set"] = elb.set_rule_priorities(RulePriorities=[{{"RuleArn": r1["RuleArn"], "Priority": 30}}, {{"RuleArn": r2["RuleArn"], "Priority": 5}}])["Rules"]
out["set_clash"] = err(elb.set_rule_priorities, RulePriorities=[{{"RuleArn": r1["RuleArn"], "Priority": 5}}])
dflt = [r for r in out["rules"] if r["IsDefault"]][0]
out["del_default"] = err(elb.delete_rule, RuleArn=dflt["RuleArn"])
out["mod"] = elb.modify_rule(RuleArn=r2["RuleArn"], Actions=[{{"Type": "forward", "TargetGroupArn": tg2["TargetGroupArn"]}}])["Rules"][0]
out["mod_listener"] = elb.modify_listener(ListenerArn=la, DefaultActions=[{{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}}])["Listeners"][0]
out["rules2"] = elb.describe_rules(ListenerArn=la)["Rules"]
out["tgs"] = elb.describe_target_groups(LoadBalancerArn=arn)["TargetGroups"]
elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{{"Id": "10.9.1.7"}}])
out["health"] = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
out["attrs"] = {{a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])["Attributes"]}}
out["in_use"] = err(elb.delete_target_group, TargetGroupArn=tg2["TargetGroupArn"])
elb.delete_rule(RuleArn=r1["RuleArn"])
out["rule_gone"] = err(elb.describe_rules, RuleArns=[r1["RuleArn"]])
out["https"] = err(elb.create_listener, LoadBalancerArn=arn, Protocol="HTTPS", Port=443,
                   DefaultActions=[{{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}}])
elb.delete_load_balancer(LoadBalancerArn=arn)
out["ln_gone"] = err(elb.describe_listeners, ListenerArns=[la])
out["lb_gone"] = err(elb.describe_load_balancers, LoadBalancerArns=[arn])
elb.delete_target_group(TargetGroupArn=tg2["TargetGroupArn"])
''')
    lb, tg, tg2 = out["lb"], out["tg"], out["tg2"]
    assert lb["Type"] == "application" and lb["SecurityGroups"] == [sg] and ":loadbalancer/app/app/" in lb["LoadBalancerArn"]
    assert lb["DNSName"].startswith("internal-app-") and lb["DNSName"].endswith(".us-east-1.elb.amazonaws.com")
    assert lb["CanonicalHostedZoneId"] == "Z35SXDOTRQ7X7K"
    assert tg["HealthCheckProtocol"] == "HTTP" and tg["HealthCheckPath"] == "/" and tg["Matcher"] == {"HttpCode": "200"}
    assert tg["HealthCheckTimeoutSeconds"] == 5 and tg["ProtocolVersion"] == "HTTP1"
    assert tg2["HealthCheckPath"] == "/ok" and tg2["Matcher"] == {"HttpCode": "200,204"}
    assert out["tg_same"] == tg["TargetGroupArn"]
    assert out["tg_dup"]["code"] == "DuplicateTargetGroupName" and out["tg_dup"]["status"] == 400
    assert out["tg_dup"]["class"] == "DuplicateTargetGroupNameException" and out["tg_dup"]["type"] == "Sender"
    assert out["tg_novpc"]["code"] == "ValidationError" and out["tg_badvpc"]["code"] == "ValidationError"
    assert out["tg_badhc"]["code"] == "InvalidConfigurationRequest"
    assert out["ln"]["DefaultActions"][0]["FixedResponseConfig"]["MessageBody"] == "no"
    r1, r2 = out["r1"], out["r2"]
    assert r1["Priority"] == "10" and r1["IsDefault"] is False and ":listener-rule/app/app/" in r1["RuleArn"]
    assert r1["Conditions"][0]["PathPatternConfig"] == {"Values": ["/api/*"]} and r1["Conditions"][0]["Values"] == ["/api/*"]
    w = {t["TargetGroupArn"]: t["Weight"] for t in r1["Actions"][0]["ForwardConfig"]["TargetGroups"]}
    assert w == {tg["TargetGroupArn"]: 3, tg2["TargetGroupArn"]: 1}
    assert r2["Conditions"][0]["HostHeaderConfig"] == {"Values": ["a.example.com"]}
    rc = r2["Actions"][0]["RedirectConfig"]
    assert rc["StatusCode"] == "HTTP_301" and rc["Path"] == "/new" and rc["Host"] == "#{host}"
    assert out["prio_dup"]["code"] == "PriorityInUse" and out["prio_dup"]["class"] == "PriorityInUseException"
    assert out["bad_field"]["code"] == "ValidationError"
    assert out["bad_tg"]["code"] == "TargetGroupNotFound"
    assert [r["Priority"] for r in out["rules"]] == ["10", "20", "default"]
    assert out["rules"][-1]["IsDefault"] is True and out["rules"][-1]["Conditions"] == []
    assert sorted(r["Priority"] for r in out["set"]) == ["30", "5"]
    assert out["set_clash"]["code"] == "PriorityInUse"
    assert out["del_default"]["code"] == "OperationNotPermitted"
    assert out["mod"]["Actions"][0]["TargetGroupArn"] == tg2["TargetGroupArn"]
    assert out["mod_listener"]["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    assert [r["Priority"] for r in out["rules2"]] == ["5", "30", "default"]
    assert out["rules2"][-1]["Actions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    assert sorted(t["TargetGroupName"] for t in out["tgs"]) == ["app-http", "app-http2"]
    # application load balancers have no data plane here: their targets read unused / Target.NotInUse
    assert out["health"][0]["TargetHealth"]["State"] == "unused" and out["health"][0]["Target"]["Port"] == 8080
    assert out["attrs"]["load_balancing.algorithm.type"] == "round_robin" and out["attrs"]["stickiness.type"] == "lb_cookie"
    assert out["in_use"]["code"] == "ResourceInUse"
    assert out["rule_gone"]["code"] == "RuleNotFound"
    assert out["https"]["code"] == "UnsupportedProtocol"
    assert out["ln_gone"]["code"] == "ListenerNotFound"
    assert out["lb_gone"]["code"] == "LoadBalancerNotFound" and out["lb_gone"]["class"] == "LoadBalancerNotFoundException"


def test_validation_and_pagination(api):
    vid, a, b, sg = network(api)
    out = boto(api, f'''
out["bad_name"] = err(elb.create_load_balancer, Name="-web", Subnets=["{a}"], Type="network")
out["internal_name"] = err(elb.create_load_balancer, Name="internal-web", Subnets=["{a}"], Type="network")
out["long_name"] = err(elb.create_load_balancer, Name="a" * 33, Subnets=["{a}"], Type="network")
out["no_subnet"] = err(elb.create_load_balancer, Name="x", Subnets=["subnet-0123456789abcdef0"], Type="network")
out["same_az"] = err(elb.create_load_balancer, Name="x", Subnets=["{a}", "{a}"], Type="network")
out["bad_sg"] = err(elb.create_load_balancer, Name="x", Subnets=["{a}"], SecurityGroups=["sg-0123456789abcdef0"])
out["bad_arn"] = err(elb.describe_load_balancers, LoadBalancerArns=["arn:aws:ec2:us-east-1:1:vpc/x"])
out["no_listener_key"] = err(elb.describe_listeners)
out["alb_sg"] = elb.create_load_balancer(Name="dflt", Subnets=["{a}", "{b}"])["LoadBalancers"][0]["SecurityGroups"]
out["default_sg"] = [g["GroupId"] for g in ec2.describe_security_groups(Filters=[{{"Name": "vpc-id", "Values": ["{vid}"]}}, {{"Name": "group-name", "Values": ["default"]}}])["SecurityGroups"]]
out["mapping"] = elb.create_load_balancer(Name="mapped", SubnetMappings=[{{"SubnetId": "{a}"}}], Type="network")["LoadBalancers"][0]["AvailabilityZones"]
for i in range(5):
    elb.create_target_group(Name=f"tg-{{i}}", Protocol="UDP", Port=53 + i, VpcId="{vid}", TargetType="ip")
pages, marker = [], None
while True:
    kw = {{"PageSize": 2}}
    if marker:
        kw["Marker"] = marker
    r = elb.describe_target_groups(**kw)
    pages.append([t["TargetGroupName"] for t in r["TargetGroups"]])
    marker = r.get("NextMarker")
    if not marker:
        break
out["pages"] = pages
out["paginator"] = sum(len(p["TargetGroups"]) for p in elb.get_paginator("describe_target_groups").paginate(PaginationConfig={{"PageSize": 3}}))
out["page_big"] = err(elb.describe_target_groups, PageSize=401)
out["bad_marker"] = err(elb.describe_target_groups, Marker="zzz")
tga = elb.describe_target_groups(Names=["tg-0"])["TargetGroups"][0]["TargetGroupArn"]
out["tg_udp"] = elb.describe_target_groups(Names=["tg-0"])["TargetGroups"][0]
out["dup_tags"] = err(elb.add_tags, ResourceArns=[tga], Tags=[{{"Key": "a", "Value": "1"}}, {{"Key": "a", "Value": "2"}}])
out["tag_nf"] = err(elb.add_tags, ResourceArns=[tga[:-1] + ("0" if tga[-1] != "0" else "1")], Tags=[{{"Key": "a", "Value": "1"}}])
out["bad_attr"] = err(elb.modify_target_group_attributes, TargetGroupArn=tga, Attributes=[{{"Key": "nope", "Value": "1"}}])
out["bad_bool"] = err(elb.modify_target_group_attributes, TargetGroupArn=tga, Attributes=[{{"Key": "proxy_protocol_v2.enabled", "Value": "yes"}}])
out["attrs"] = {{a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=tga)["Attributes"]}}
out["reg_empty"] = err(elb.register_targets, TargetGroupArn=tga, Targets=[])
elb.deregister_targets(TargetGroupArn=tga, Targets=[{{"Id": "10.9.1.99"}}])
out["tg_missing_delete"] = elb.delete_target_group(TargetGroupArn=tga[:-1] + ("0" if tga[-1] != "0" else "1"))["ResponseMetadata"]["HTTPStatusCode"]
''')
    for k in ("bad_name", "internal_name", "long_name", "bad_arn", "no_listener_key", "page_big", "bad_marker", "bad_attr", "bad_bool"):
        assert out[k] and out[k]["code"] == "ValidationError" and out[k]["status"] == 400, (k, out[k])
    assert out["no_subnet"]["code"] == "SubnetNotFound"
    assert out["same_az"]["code"] in ("ValidationError", "InvalidConfigurationRequest")
    assert out["bad_sg"]["code"] == "InvalidSecurityGroup"
    assert [z["SubnetId"] for z in out["mapping"]] == [a]
    assert len(out["default_sg"]) == 1 and out["alb_sg"] == out["default_sg"], out
    assert [len(p) for p in out["pages"]] == [2, 2, 1] and len({n for p in out["pages"] for n in p}) == 5
    assert out["paginator"] == 5
    assert out["tg_udp"]["HealthCheckProtocol"] == "TCP" and "Matcher" not in out["tg_udp"] and "HealthCheckPath" not in out["tg_udp"]
    assert out["dup_tags"]["code"] == "DuplicateTagKeys"
    assert out["tag_nf"]["code"] == "TargetGroupNotFound"
    assert out["attrs"]["preserve_client_ip.enabled"] == "true"   # UDP
    assert out["attrs"]["deregistration_delay.connection_termination.enabled"] == "true"
    assert out["reg_empty"]["code"] == "ValidationError"
    assert out["tg_missing_delete"] == 200


def test_raw_xml_details(api):
    """The XML itself: the Result element when empty, <member> items, the namespace, ResponseMetadata,
    the error body, an empty list sent as Name=, an unknown parameter and action."""
    vid, a, b, sg = network(api)
    out = raw(api, {
        "describe": "Action=DescribeLoadBalancers&Version=2015-12-01",
        "tg": f"Action=CreateTargetGroup&Version=2015-12-01&Name=raw&Protocol=TCP&Port=80&VpcId={vid}&TargetType=ip"
              "&Tags.member.1.Key=k&Tags.member.1.Value=v%26%3C",
        "unknown_action": "Action=DescribeSSLPolicies&Version=2015-12-01",
        "unknown_param": "Action=DescribeLoadBalancers&Version=2015-12-01&Bogus=1",
        "empty_list": "Action=DescribeLoadBalancers&Version=2015-12-01&Names=",
        "bad_int": "Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=x",
    })
    for k, v in out.items():
        assert v["type"] == "text/xml;charset=UTF-8", (k, v)
    d = out["describe"]["body"]
    assert out["describe"]["status"] == 200
    assert '<DescribeLoadBalancersResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">' in d
    assert "<DescribeLoadBalancersResult><LoadBalancers/></DescribeLoadBalancersResult>" in d, d
    assert "<ResponseMetadata><RequestId>" in d
    t = out["tg"]["body"]
    assert out["tg"]["status"] == 200 and "<TargetGroups><member><TargetGroupArn>arn:aws:elasticloadbalancing:" in t, t
    assert "<LoadBalancerArns/>" in t
    tga = t.split("<TargetGroupArn>")[1].split("</TargetGroupArn>")[0]
    e = out["unknown_action"]
    assert e["status"] == 400 and "<Type>Sender</Type><Code>InvalidAction</Code>" in e["body"], e
    assert e["body"].count("<ErrorResponse") == 1 and "<RequestId>" in e["body"]
    assert out["unknown_param"]["status"] == 400 and "Bogus" in out["unknown_param"]["body"]
    assert out["empty_list"]["status"] == 200 and "<LoadBalancers/>" in out["empty_list"]["body"]
    assert out["bad_int"]["status"] == 400 and "<Code>ValidationError</Code>" in out["bad_int"]["body"]
    out = raw(api, {
        "reg": f"Action=RegisterTargets&Version=2015-12-01&TargetGroupArn={tga}&Targets.member.1.Id=10.9.1.5",
        "tags": f"Action=DescribeTags&Version=2015-12-01&ResourceArns.member.1={tga}",
    })
    assert out["reg"]["status"] == 200 and "<RegisterTargetsResult/>" in out["reg"]["body"], out["reg"]
    assert "<Tags><member><Key>k</Key><Value>v&amp;&lt;</Value></member></Tags>" in out["tags"]["body"], out["tags"]
    # EC2's DescribeTags is not ELBv2's: the Version decides
    ec2 = api.aws("ec2", "describe-vpcs", "--vpc-ids", vid)["Vpcs"]
    assert ec2[0]["VpcId"] == vid


def service_targets(ecs, tga):
    th = ecs.aws("elbv2", "describe-target-health", "--target-group-arn", tga)["TargetHealthDescriptions"]
    return sorted((t["Target"]["Id"], t["Target"]["Port"]) for t in th)


def running_ips(ecs, name="web"):
    arns = ecs.call("ListTasks", serviceName=name)["taskArns"]
    out = []
    if arns:
        for t in ecs.call("DescribeTasks", tasks=arns)["tasks"]:
            if t["lastStatus"] == "RUNNING" and t["desiredStatus"] == "RUNNING":
                d = {x["name"]: x["value"] for x in t["attachments"][0]["details"]}
                out.append(d["privateIPv4Address"])
    return sorted(out)


def test_ecs_service_load_balancers_follow_the_tasks(ecs):
    """An ECS service's loadBalancers: its awsvpc tasks become ip targets while RUNNING, and leave the
    group when they stop (scale-in, deletion)."""
    from sandbox import wait_for
    from test_ecsboxd import web_td
    vpc = ecs.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    tga = ecs.aws("elbv2", "create-target-group", "--name", "svc", "--protocol", "TCP", "--port", "80", "--vpc-id", vpc,
                  "--target-type", "ip")["TargetGroups"][0]["TargetGroupArn"]
    inst = ecs.aws("elbv2", "create-target-group", "--name", "inst", "--protocol", "TCP", "--port", "80", "--vpc-id", vpc,
                   "--target-type", "instance")["TargetGroups"][0]["TargetGroupArn"]
    ecs.call("RegisterTaskDefinition", **web_td())
    lbs = [{"targetGroupArn": tga, "containerName": "web", "containerPort": 80}]

    def bad(**kw):
        req = dict(serviceName="x", taskDefinition="web", desiredCount=1)
        req.update(kw)
        return ecs.err("CreateService", **req)
    e = bad(loadBalancers=[dict(lbs[0], containerPort=81)])
    assert e.type == "InvalidParameterException" and "container port 81" in e.message, e.message
    e = bad(loadBalancers=[dict(lbs[0], containerName="nope")])
    assert e.type == "InvalidParameterException", e.message
    e = bad(loadBalancers=[dict(lbs[0], targetGroupArn=inst)])
    assert e.type == "InvalidParameterException" and "ip target groups" in e.message, e.message
    e = bad(loadBalancers=[dict(lbs[0], targetGroupArn=tga[:-1] + ("0" if tga[-1] != "0" else "1"))])
    assert e.type == "InvalidParameterException" and "does not exist" in e.message, e.message

    s = ecs.call("CreateService", serviceName="web", taskDefinition="web", desiredCount=3, loadBalancers=lbs)["service"]
    assert s["loadBalancers"] == lbs

    def follows(n):
        ips = running_ips(ecs)
        return len(ips) == n and service_targets(ecs, tga) == [(ip, 80) for ip in ips]
    wait_for(lambda: follows(3), 120, interval=0.5, what="3 tasks registered as targets")
    events = [e["message"] for e in ecs.call("DescribeServices", services=["web"])["services"][0]["events"]]
    assert any(m.startswith("(service web) registered ") and f"targets in (target-group {tga})" in m for m in events), events
    ecs.call("UpdateService", service="web", desiredCount=1)
    wait_for(lambda: follows(1), 120, interval=0.5, what="scale-in deregisters")
    events = [e["message"] for e in ecs.call("DescribeServices", services=["web"])["services"][0]["events"]]
    assert any(m.startswith("(service web) deregistered ") for m in events), events
    ecs.call("UpdateService", service="web", desiredCount=0)
    ecs.call("DeleteService", service="web")
    wait_for(lambda: service_targets(ecs, tga) == [], 120, interval=0.5, what="deletion deregisters")


def netd_has_lb(ecs):
    doc = ecs.netd.call("DescribeTargetHealth", TargetGroupId="0000000000000000")
    return not ("Error" in doc and doc["Error"]["Code"] == "InvalidAction")


def test_nlb_in_front_of_three_tasks(ecs):
    """An internal NLB (aws CLI) in front of an ECS service of 3 awsvpc httpd tasks (loadBalancers): it
    turns active with netd's addresses, the targets turn healthy, and a client task reaches every task
    through the LB's address; deregistered targets drain."""
    from sandbox import wait_for
    from test_ecsboxd import eni_netns, open_port_80, task_id, web_td
    if not netd_has_lb(ecs):
        pytest.skip("this netd has no load-balancer data plane (CreateLoadBalancerNetwork ...)")
    open_port_80(ecs)
    vpc = ecs.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    subnets = ecs.aws("ec2", "describe-subnets", "--filters", f"Name=vpc-id,Values={vpc}")["Subnets"]
    one_per_az = {}
    for s in subnets:
        one_per_az.setdefault(s["AvailabilityZone"], s["SubnetId"])
    lb = ecs.aws("elbv2", "create-load-balancer", "--name", "front", "--type", "network", "--scheme", "internal",
                 "--subnets", *one_per_az.values())["LoadBalancers"][0]
    arn = lb["LoadBalancerArn"]

    def active():
        got = ecs.aws("elbv2", "describe-load-balancers", "--load-balancer-arns", arn)["LoadBalancers"][0]
        return got if got["State"]["Code"] == "active" else None
    lb = wait_for(active, 30, interval=0.5, what="load balancer active")
    addrs = [a["PrivateIPv4Address"] for z in lb["AvailabilityZones"] for a in z["LoadBalancerAddresses"]]
    assert addrs and all(a.startswith("172.31.") for a in addrs), lb
    enis = ecs.aws("ec2", "describe-network-interfaces", "--filters", f"Name=vpc-id,Values={vpc}")["NetworkInterfaces"]
    assert any(e.get("InterfaceType") == "network_load_balancer" for e in enis), enis
    tga = ecs.aws("elbv2", "create-target-group", "--name", "front", "--protocol", "TCP", "--port", "80", "--vpc-id", vpc,
                  "--target-type", "ip", "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "2",
                  "--healthy-threshold-count", "2")["TargetGroups"][0]["TargetGroupArn"]
    ecs.aws("elbv2", "modify-target-group-attributes", "--target-group-arn", tga, "--attributes",
            "Key=deregistration_delay.timeout_seconds,Value=2")
    ecs.aws("elbv2", "create-listener", "--load-balancer-arn", arn, "--protocol", "TCP", "--port", "80",
            "--default-actions", f"Type=forward,TargetGroupArn={tga}")
    ecs.call("RegisterTaskDefinition", **web_td())
    ecs.call("RegisterTaskDefinition", **web_td(family="client", containerDefinitions=[
        {"name": "c", "image": "busybox", "essential": True, "command": ["sleep", "600"], "stopTimeout": 2}]))
    ecs.call("CreateService", serviceName="web", taskDefinition="web", desiredCount=3,
             loadBalancers=[{"targetGroupArn": tga, "containerName": "web", "containerPort": 80}])

    def healthy():
        th = ecs.aws("elbv2", "describe-target-health", "--target-group-arn", tga)["TargetHealthDescriptions"]
        return th if len(th) == 3 and all(t["TargetHealth"]["State"] == "healthy" for t in th) else None
    wait_for(healthy, 120, interval=1, what="3 healthy targets")
    ids = {task_id(a) for a in ecs.call("ListTasks", serviceName="web")["taskArns"]}
    client = ecs.call("RunTask", taskDefinition="client")["tasks"][0]
    client = ecs.wait_task(client["taskArn"], timeout=60)
    netns = eni_netns(ecs, client)
    # the DNS name is answered by the VPC's resolver
    from test_dns import dig
    a = dig(ecs.sb, netns, "172.31.0.2", lb["DNSName"])
    assert a.get("rcode") == "NOERROR" and sorted(r["data"] for r in a["answer"] if r["type"] == "A") == sorted(addrs), a
    seen = set()
    for _ in range(40):
        p = ecs.sb.run(["ip", "netns", "exec", netns, "curl", "-sS", "--max-time", "3", f"http://{addrs[0]}/"], check=False)
        if p.returncode == 0:
            seen.add(p.stdout.strip())
        if seen == ids:
            break
    assert seen == ids, (seen, ids)
    # scale in: the target leaves (draining, then gone)
    ecs.call("UpdateService", service="web", desiredCount=2)
    wait_for(lambda: len(ecs.aws("elbv2", "describe-target-health", "--target-group-arn", tga)["TargetHealthDescriptions"]) == 2,
             120, interval=1, what="scale-in deregisters a target")
    ecs.call("UpdateService", service="web", desiredCount=0)
    ecs.call("DeleteService", service="web")
    ecs.aws("elbv2", "delete-load-balancer", "--load-balancer-arn", arn)
    wait_for(lambda: not any(e.get("InterfaceType") == "network_load_balancer" for e in ecs.aws(
        "ec2", "describe-network-interfaces", "--filters", f"Name=vpc-id,Values={vpc}")["NetworkInterfaces"]),
        30, interval=0.5, what="the LB's ENIs gone")


def test_bridge_service_registers_instance_targets(ecs):
    """A bridge-mode service behind an instance target group: each task is its container instance's EC2 id
    with the host port Docker-style dynamic mapping gave it."""
    from sandbox import wait_for
    from test_ecsboxd import register_instance, web_td
    inst = register_instance(ecs)
    vpc = ecs.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    tga = ecs.aws("elbv2", "create-target-group", "--name", "br", "--protocol", "TCP", "--port", "80", "--vpc-id", vpc,
                  "--target-type", "instance")["TargetGroups"][0]["TargetGroupArn"]
    ecs.call("RegisterTaskDefinition", **web_td(family="br", mode="bridge"))
    ecs.call("CreateService", serviceName="br", taskDefinition="br", desiredCount=2,
             loadBalancers=[{"targetGroupArn": tga, "containerName": "web", "containerPort": 80}])

    def bindings():
        arns = ecs.call("ListTasks", serviceName="br")["taskArns"]
        out = []
        for t in ecs.call("DescribeTasks", tasks=arns)["tasks"] if arns else []:
            if t["lastStatus"] == "RUNNING":
                out += [(inst["ec2InstanceId"], b["hostPort"]) for c in t["containers"] for b in c.get("networkBindings", [])]
        return sorted(out)

    def follows():
        b = bindings()
        return len(b) == 2 and service_targets(ecs, tga) == b
    wait_for(follows, 120, interval=0.5, what="2 bridge tasks registered as instance targets")
    assert all(p > 0 for _, p in bindings())
    ecs.call("UpdateService", service="br", desiredCount=0)
    wait_for(lambda: service_targets(ecs, tga) == [], 120, interval=0.5, what="scale to 0 deregisters")


def test_nlb_in_front_of_a_bridge_service(ecs):
    """A bridge-mode service with dynamic host ports behind an NLB (instance target group): the client task
    reaches both tasks through the LB's address."""
    from sandbox import wait_for
    from test_ecsboxd import eni_netns, register_instance, task_id, web_td
    if not netd_has_lb(ecs):
        pytest.skip("this netd has no load-balancer data plane")
    for sg in ecs.netd.ok("DescribeSecurityGroups")["SecurityGroups"]:
        ecs.netd.call("AuthorizeSecurityGroupIngress", GroupId=sg["GroupId"], IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    register_instance(ecs)
    vpc = ecs.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"][0]["VpcId"]
    subnet = ecs.aws("ec2", "describe-subnets", "--filters", f"Name=vpc-id,Values={vpc}")["Subnets"][0]["SubnetId"]
    lb = ecs.aws("elbv2", "create-load-balancer", "--name", "br", "--type", "network", "--scheme", "internal",
                 "--subnets", subnet)["LoadBalancers"][0]
    arn = lb["LoadBalancerArn"]
    lb = wait_for(lambda: (lambda x: x if x["State"]["Code"] == "active" else None)(
        ecs.aws("elbv2", "describe-load-balancers", "--load-balancer-arns", arn)["LoadBalancers"][0]), 30, interval=0.5,
        what="load balancer active")
    addr = lb["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["PrivateIPv4Address"]
    tga = ecs.aws("elbv2", "create-target-group", "--name", "br", "--protocol", "TCP", "--port", "80", "--vpc-id", vpc,
                  "--target-type", "instance", "--health-check-interval-seconds", "5", "--health-check-timeout-seconds", "2",
                  "--healthy-threshold-count", "2")["TargetGroups"][0]["TargetGroupArn"]
    # instance groups preserve the client's address by default (as ELB); the replies of a target to a client
    # of the VPC would then bypass the router (netd's constraint): turn it off for clients inside the VPC
    attrs = {a["Key"]: a["Value"] for a in ecs.aws("elbv2", "describe-target-group-attributes", "--target-group-arn", tga)["Attributes"]}
    assert attrs["preserve_client_ip.enabled"] == "true"
    ecs.aws("elbv2", "modify-target-group-attributes", "--target-group-arn", tga, "--attributes",
            "Key=preserve_client_ip.enabled,Value=false")
    ecs.aws("elbv2", "create-listener", "--load-balancer-arn", arn, "--protocol", "TCP", "--port", "80",
            "--default-actions", f"Type=forward,TargetGroupArn={tga}")
    ecs.call("RegisterTaskDefinition", **web_td(family="br", mode="bridge"))
    ecs.call("RegisterTaskDefinition", **web_td(family="client", containerDefinitions=[
        {"name": "c", "image": "busybox", "essential": True, "command": ["sleep", "600"], "stopTimeout": 2}]))
    ecs.call("CreateService", serviceName="br", taskDefinition="br", desiredCount=2,
             loadBalancers=[{"targetGroupArn": tga, "containerName": "web", "containerPort": 80}])

    def healthy():
        th = ecs.aws("elbv2", "describe-target-health", "--target-group-arn", tga)["TargetHealthDescriptions"]
        return th if len(th) == 2 and all(t["TargetHealth"]["State"] == "healthy" for t in th) else None
    th = wait_for(healthy, 120, interval=1, what="2 healthy instance targets")
    assert all(t["Target"]["Id"].startswith("i-") and t["Target"]["Port"] > 0 for t in th), th
    ids = {task_id(a) for a in ecs.call("ListTasks", serviceName="br")["taskArns"]}
    client = ecs.wait_task(ecs.call("RunTask", taskDefinition="client")["tasks"][0]["taskArn"], timeout=60)
    netns = eni_netns(ecs, client)
    seen = set()
    for _ in range(40):
        p = ecs.sb.run(["ip", "netns", "exec", netns, "curl", "-sS", "--max-time", "3", f"http://{addr}/"], check=False)
        if p.returncode == 0:
            seen.add(p.stdout.strip())
        if seen == ids:
            break
    assert seen == ids, (seen, ids, p.stderr, th, addr)
