"""The EC2 API over the Query protocol on ecsboxd's endpoint, with Debian's unmodified aws CLI and boto3's
ec2 client (the credentials ecsboxd generated), translated to netd: shapes, AWS's error codes, DryRun,
refusals of bad signatures in EC2's words."""
import json
import os

import pytest

from sandbox import Ecsboxd, Netd

BOTO = r'''
import json, sys, boto3, botocore
s = boto3.session.Session(profile_name="ecsbox", region_name="us-east-1")
ec2 = s.client("ec2", endpoint_url="http://127.0.0.1:5080")
out = {}
try:
    exec(sys.argv[1])
except botocore.exceptions.ClientError as e:
    out["error"] = {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                    "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
print(json.dumps(out, default=str))
'''


@pytest.fixture
def api(sb):
    n = Netd(sb)
    d = Ecsboxd(sb, None)
    d.netd = n
    yield d


def boto(api, code):
    p = api.sb.run(["/usr/bin/python3", "-c", BOTO, code], env=api.ENV, timeout=120)
    return json.loads(p.stdout.strip().splitlines()[-1])


def aws_err(api, *args):
    p = api.aws(*args, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr


def test_vpc_subnet_sg_eni_through_the_aws_cli(api):
    vpcs = api.aws("ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true")["Vpcs"]
    assert len(vpcs) == 1 and vpcs[0]["IsDefault"] is True and vpcs[0]["CidrBlock"] == "172.31.0.0/16", vpcs
    vpc = api.aws("ec2", "create-vpc", "--cidr-block", "10.7.0.0/16",
                  "--tag-specifications", "ResourceType=vpc,Tags=[{Key=Name,Value=q}]")["Vpc"]
    vid = vpc["VpcId"]
    assert vpc["CidrBlock"] == "10.7.0.0/16" and vpc["State"] in ("available", "pending"), vpc
    sub = api.aws("ec2", "create-subnet", "--vpc-id", vid, "--cidr-block", "10.7.1.0/24")["Subnet"]
    got = api.aws("ec2", "describe-subnets", "--subnet-ids", sub["SubnetId"])["Subnets"]
    assert [s["SubnetId"] for s in got] == [sub["SubnetId"]] and got[0]["VpcId"] == vid
    assert got[0]["AvailableIpAddressCount"] == 251 and isinstance(got[0]["DefaultForAz"], bool)
    sg = api.aws("ec2", "create-security-group", "--group-name", "web", "--description", "web & <tls>",
                 "--vpc-id", vid)
    gid = sg["GroupId"]
    rules = api.aws("ec2", "authorize-security-group-ingress", "--group-id", gid, "--protocol", "tcp",
                    "--port", "80", "--cidr", "10.0.0.0/8")
    assert rules["Return"] is True and rules["SecurityGroupRules"][0]["FromPort"] == 80, rules
    desc = api.aws("ec2", "describe-security-groups", "--group-ids", gid)["SecurityGroups"][0]
    assert desc["Description"] == "web & <tls>" and desc["GroupName"] == "web"
    perm = desc["IpPermissions"][0]
    assert perm["IpProtocol"] == "tcp" and perm["IpRanges"] == [{"CidrIp": "10.0.0.0/8"}], perm
    # the same rule again: AWS's code, the CLI's exit status 254/255
    err = aws_err(api, "ec2", "authorize-security-group-ingress", "--group-id", gid, "--protocol", "tcp",
                  "--port", "80", "--cidr", "10.0.0.0/8")
    assert "InvalidPermission.Duplicate" in err, err
    eni = api.aws("ec2", "create-network-interface", "--subnet-id", sub["SubnetId"], "--groups", gid,
                  "--description", "q eni")["NetworkInterface"]
    assert eni["Groups"][0]["GroupId"] == gid and eni["PrivateIpAddress"].startswith("10.7.1.")
    assert eni["PrivateDnsName"].startswith("ip-10-7-1-")
    enis = api.aws("ec2", "describe-network-interfaces", "--filters", f"Name=subnet-id,Values={sub['SubnetId']}")
    assert [e["NetworkInterfaceId"] for e in enis["NetworkInterfaces"]] == [eni["NetworkInterfaceId"]]
    # the VPC's DNS attributes
    api.aws("ec2", "modify-vpc-attribute", "--vpc-id", vid, "--enable-dns-hostnames", "{\"Value\":true}")
    attr = api.aws("ec2", "describe-vpc-attribute", "--vpc-id", vid, "--attribute", "enableDnsHostnames")
    assert attr == {"VpcId": vid, "EnableDnsHostnames": {"Value": True}}, attr
    # dependencies and deletes
    assert "DependencyViolation" in aws_err(api, "ec2", "delete-vpc", "--vpc-id", vid)
    api.aws("ec2", "delete-network-interface", "--network-interface-id", eni["NetworkInterfaceId"])
    api.aws("ec2", "delete-security-group", "--group-id", gid)
    api.aws("ec2", "delete-subnet", "--subnet-id", sub["SubnetId"])
    api.aws("ec2", "delete-vpc", "--vpc-id", vid)
    assert "InvalidVpcID.NotFound" in aws_err(api, "ec2", "describe-vpcs", "--vpc-ids", vid)


def test_boto3_shapes_errors_dry_run(api):
    out = boto(api, '''
v = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]
s = ec2.create_subnet(VpcId=v["VpcId"], CidrBlock="10.8.0.0/20", AvailabilityZone="us-east-1b")["Subnet"]
g = ec2.create_security_group(GroupName="db", Description="db", VpcId=v["VpcId"])
ec2.authorize_security_group_ingress(GroupId=g["GroupId"], IpPermissions=[
    {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": g["GroupId"]}]},
    {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.8.0.0/16", "Description": "ping a/b"}]}])
d = ec2.describe_security_groups(GroupIds=[g["GroupId"]])["SecurityGroups"][0]
out["perms"] = d["IpPermissions"]
out["egress"] = d["IpPermissionsEgress"]
out["subnet"] = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [v["VpcId"]]}])["Subnets"]
out["vpc"] = v
out["rid"] = ec2.describe_vpcs(VpcIds=[v["VpcId"]])["ResponseMetadata"]["RequestId"]
''')
    assert "error" not in out, out
    perms = sorted(out["perms"], key=lambda p: p["IpProtocol"])
    assert perms[0]["IpProtocol"] == "icmp" and perms[0]["IpRanges"] == [{"CidrIp": "10.8.0.0/16", "Description": "ping a/b"}]
    assert perms[1]["FromPort"] == 5432 and perms[1]["UserIdGroupPairs"][0]["GroupId"].startswith("sg-"), perms
    assert out["egress"][0]["IpProtocol"] == "-1"
    assert out["subnet"][0]["AvailabilityZone"] == "us-east-1b" and out["subnet"][0]["CidrBlock"] == "10.8.0.0/20"
    assert len(out["rid"]) == 36
    # AWS's error codes and statuses, through boto3's parser
    cases = {
        'ec2.describe_subnets(SubnetIds=["subnet-0123456789abcdef0"])': ("InvalidSubnetID.NotFound", 400),
        'ec2.create_vpc(CidrBlock="10.0.0.0/8")': ("InvalidVpc.Range", 400),
        'ec2.create_vpc(CidrBlock="10.0.0.0/33")': ("InvalidParameterValue", 400),
        'ec2.delete_security_group(GroupId="sg-0123456789abcdef0")': ("InvalidGroup.NotFound", 400),
        'ec2.create_vpc(CidrBlock="10.9.0.0/16", DryRun=True)': ("DryRunOperation", 412),
        'ec2.describe_vpc_attribute(VpcId="vpc-0123456789abcdef0", Attribute="enableDnsSupport")': ("InvalidVpcID.NotFound", 400),
    }
    for code, want in cases.items():
        got = boto(api, code)["error"]
        assert (got["code"], got["status"]) == want, (code, got)
    # DryRun did nothing
    assert not [v for v in boto(api, 'out["v"] = ec2.describe_vpcs()["Vpcs"]')["v"] if v["CidrBlock"] == "10.9.0.0/16"]


def test_raw_query_edges(api):
    """What the SDKs never send but another client may: an unknown action, version or parameter, a bad
    value, a missing Action; and a request signed for the wrong service."""
    script = r'''
import json, sys, urllib.parse, http.client, boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
creds = boto3.session.Session(profile_name="ecsbox").get_credentials()
def call(body, service="ec2"):
    req = AWSRequest(method="POST", url="http://127.0.0.1:5080/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds, service, "us-east-1").add_auth(req)
    c = http.client.HTTPConnection("127.0.0.1", 5080, timeout=30)
    c.request("POST", "/", body=body, headers=dict(req.headers.items()))
    r = c.getresponse()
    return {"status": r.status, "type": r.getheader("Content-Type"), "body": r.read().decode()}
out = {k: call(*v) if isinstance(v, list) else call(v) for k, v in json.loads(sys.argv[1]).items()}
out["wrong_service"] = call("Action=DescribeVpcs&Version=2016-11-15", service="ecs")
print(json.dumps(out))
'''
    bodies = {
        "unknown_action": "Action=RunInstances&Version=2016-11-15",
        "unknown_version": "Action=DescribeVpcs&Version=2013-01-01",
        "unknown_param": "Action=DescribeVpcs&Version=2016-11-15&Bogus=1",
        "bad_int": "Action=DescribeVpcs&Version=2016-11-15&MaxResults=x",
        "no_action": "Version=2016-11-15",
        "elbv2": ["Action=DescribeSSLPolicies&Version=2015-12-01", "elasticloadbalancing"],
        "elbv2_signed_for_ec2": "Action=DescribeLoadBalancers&Version=2015-12-01",
        "escaped": "Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=cidr&Filter.1.Value.1=172.31.0.0%2F16",
    }
    p = api.sb.run(["/usr/bin/python3", "-c", script, json.dumps(bodies)], env=api.ENV, timeout=60)
    out = json.loads(p.stdout)
    for k in out:
        assert out[k]["type"] == "text/xml;charset=UTF-8", (k, out[k])
    def code(k):
        b = out[k]["body"]
        return b.split("<Code>")[1].split("</Code>")[0]
    assert out["unknown_action"]["status"] == 400 and code("unknown_action") == "InvalidAction"
    assert code("unknown_version") == "NoSuchVersion"
    assert code("unknown_param") == "UnknownParameter" and "Bogus" in out["unknown_param"]["body"]
    assert code("bad_int") == "InvalidParameterValue"
    assert code("no_action") == "MissingAction"
    assert out["elbv2"]["status"] == 400 and "<Type>Sender</Type>" in out["elbv2"]["body"]
    assert 'xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"' in out["elbv2"]["body"]
    assert out["elbv2_signed_for_ec2"]["status"] == 401 and "elasticloadbalancing" in out["elbv2_signed_for_ec2"]["body"]
    assert out["escaped"]["status"] == 200 and "<cidrBlock>172.31.0.0/16</cidrBlock>" in out["escaped"]["body"]
    assert out["escaped"]["body"].startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert '<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>' in out["escaped"]["body"]
    assert out["wrong_service"]["status"] == 401 and code("wrong_service") == "AuthFailure"
    # no signature at all
    p = api.aws("--no-sign-request", "ec2", "describe-vpcs", check=False)
    assert p.returncode != 0 and "AuthFailure" in p.stderr, p.stderr
