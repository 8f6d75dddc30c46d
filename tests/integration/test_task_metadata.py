"""The task metadata endpoint (v4, v3) and the task-role credentials endpoint at 169.254.170.2, from inside
awsvpc tasks: the variables ECS sets, the agent's shapes agreeing with DescribeTasks, another container's
id refused, credentials for a mapped role (through boto3's own container provider) and the error for an
unmapped one, and nothing else of ecsboxd reachable through that address."""
import json
import os

from sandbox import wait_for

ROLE = "arn:aws:iam::000000000000:role/app"

PROBE = r'''
import json, os, urllib.request, urllib.error
def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return {"status": r.status, "body": json.loads(r.read())}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": json.loads(e.read() or b"null")}
    except Exception as e:
        return {"status": 0, "error": type(e).__name__}
env = {k: v for k, v in os.environ.items() if k.startswith(("ECS_", "AWS_"))}
v4 = env.get("ECS_CONTAINER_METADATA_URI_V4", "")
out = {"env": env, "container": get(v4), "task": get(v4 + "/task"), "tags": get(v4 + "/taskWithTags"),
       "v3": get(env.get("ECS_CONTAINER_METADATA_URI", "")), "guess": get(v4[:-4] + "0000"),
       "other_port": get("http://169.254.170.2:5080/"), "api": get("http://169.254.170.2/"),
       "stats": get(v4 + "/stats")}
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(200):
    s.sendto(b"x" * 1000, ("169.254.169.253", 9))
out["stats2"] = get(v4 + "/stats")
out["task_stats"] = get(v4 + "/task/stats")
rel = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
if rel:
    out["creds"] = get("http://169.254.170.2" + rel)
    try:
        import boto3
        c = boto3.session.Session().get_credentials()
        out["boto3"] = {"akid": c.access_key, "method": c.method}
    except Exception as e:
        out["boto3"] = {"error": repr(e)}
print("PROBE " + json.dumps(out))
'''


def run(ecs, family, role=None, tags=None):
    td = {"family": family, "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "app", "image": "host", "memory": 64, "stopTimeout": 2,
         "command": ["sh", "-c", "/usr/bin/python3 -c \"$PROBE\"; sleep 60"],
         "environment": [{"name": "PROBE", "value": PROBE}]}]}
    if role:
        td["taskRoleArn"] = role
    ecs.call("RegisterTaskDefinition", **td)
    kw = {"tags": tags} if tags else {}
    r = ecs.call("RunTask", taskDefinition=family, **kw)
    assert r["failures"] == [], r
    arn = r["tasks"][0]["taskArn"]
    task = ecs.wait_task(arn)

    def probe():
        for e in ecs.call("GetTaskLogs", task=arn).get("events", []):
            if e["line"].startswith("PROBE "):
                return json.loads(e["line"][6:])
        return None
    return task, wait_for(probe, 30, what="the task's probe")


def test_v4_container_and_task_agree_with_describe_tasks(ecs):
    with open(os.path.join(ecs.state, "task-role-credentials"), "w") as f:
        f.write(f"[{ROLE}]\naws_access_key_id = AKIAAPPROLEEXAMPLE01\naws_secret_access_key = c2VjcmV0LWZvci10aGUtYXBwLXJvbGUtMDAwMDAw\n")
    task, out = run(ecs, "meta", role=ROLE, tags=[{"key": "team", "value": "blue"}])
    env = out["env"]
    assert env["ECS_CONTAINER_METADATA_URI_V4"].startswith("http://169.254.170.2/v4/")
    assert env["ECS_CONTAINER_METADATA_URI"].startswith("http://169.254.170.2/v3/")
    assert env["ECS_AGENT_URI"].startswith("http://169.254.170.2/api/")
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    att = [a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface"][0]
    d = {x["name"]: x["value"] for x in att["details"]}

    c = out["container"]
    assert c["status"] == 200, out
    c = c["body"]
    assert c["Name"] == "app" and c["Image"] == "host" and c["KnownStatus"] == "RUNNING" and c["DesiredStatus"] == "RUNNING"
    assert c["ContainerARN"] == task["containers"][0]["containerArn"] and c["Type"] == "NORMAL"
    assert c["Labels"] == {"com.amazonaws.ecs.cluster": "default", "com.amazonaws.ecs.container-name": "app",
                           "com.amazonaws.ecs.task-arn": task["taskArn"], "com.amazonaws.ecs.task-definition-family": "meta",
                           "com.amazonaws.ecs.task-definition-version": task["taskDefinitionArn"].rsplit(":", 1)[1]}
    assert c["DockerId"] == task["containers"][0]["runtimeId"]
    assert c["Limits"]["Memory"] == 64 and len(c["DockerId"]) == 64 and c["CreatedAt"].endswith("Z") and "StartedAt" in c
    net = c["Networks"][0]
    assert net["NetworkMode"] == "awsvpc" and net["IPv4Addresses"] == [d["privateIPv4Address"]]
    assert net["MACAddress"] == d["macAddress"] and net["PrivateDNSName"] == d["privateDnsName"]
    assert net["AttachmentIndex"] == 0 and net["IPv4SubnetCIDRBlock"].startswith("172.31.")
    assert net["SubnetGatewayIpv4Address"].endswith("/" + net["IPv4SubnetCIDRBlock"].split("/")[1])
    assert net["DomainNameServers"] == ["172.31.0.2"] and net["DomainNameSearchList"] == ["ec2.internal"]
    assert "ExitCode" not in c and "FinishedAt" not in c        # empty fields left out, as the agent does

    t = out["task"]["body"]
    assert t["TaskARN"] == task["taskArn"] and t["Family"] == "meta" and t["Cluster"] == "default"
    assert t["Revision"] == task["taskDefinitionArn"].rsplit(":", 1)[1] and isinstance(t["Revision"], str)
    assert t["KnownStatus"] == "RUNNING" and t["LaunchType"] == task["launchType"]
    assert t["AvailabilityZone"] == task["availabilityZone"] and t["VPCID"].startswith("vpc-")
    assert [x["Name"] for x in t["Containers"]] == ["app"] and t["Containers"][0]["DockerId"] == c["DockerId"]
    assert "TaskTags" not in t
    tt = out["tags"]["body"]
    assert tt["TaskTags"] == {"team": "blue"} and tt["ContainerInstanceTags"] == {}
    # v3: the same container without the awsvpc network details
    v3 = out["v3"]["body"]
    assert v3["DockerId"] == c["DockerId"] and "MACAddress" not in v3["Networks"][0]
    # the id is the only key: a guessed one is refused; nothing else of ecsboxd answers there
    assert out["guess"]["status"] == 404, out["guess"]
    assert out["api"]["status"] == 404 and out["other_port"]["status"] == 0, out
    # stats in Docker's shape: the second sample's pre* are the first's; the 200 datagrams sent show
    s1, s2 = out["stats"]["body"], out["stats2"]["body"]
    assert out["stats"]["status"] == 200 and s1["id"] == c["DockerId"] and s1["preread"] == "0001-01-01T00:00:00Z"
    assert s2["preread"] == s1["read"] and s2["precpu_stats"] == s1["cpu_stats"]
    assert s2["memory_stats"]["usage"] > 0 and s2["memory_stats"]["limit"] > 0 and s2["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert s2["pids_stats"]["current"] >= 1 and s2["cpu_stats"]["online_cpus"] >= 1
    tx = s2["networks"]["eth0"]["tx_bytes"] - s1["networks"]["eth0"]["tx_bytes"]
    assert tx >= 200 * 1000, (s1["networks"], s2["networks"])
    assert "network_rate_stats" in s2 and "lo" not in s2["networks"]
    assert list(out["task_stats"]["body"]) == [c["DockerId"]]
    # credentials for the mapped role, and boto3's container provider takes them as they are
    cr = out["creds"]
    assert cr["status"] == 200 and cr["body"]["RoleArn"] == ROLE and cr["body"]["AccessKeyId"] == "AKIAAPPROLEEXAMPLE01"
    assert cr["body"]["Expiration"].endswith("Z") and "Token" in cr["body"] and cr["body"]["SecretAccessKey"]
    assert out["boto3"] == {"akid": "AKIAAPPROLEEXAMPLE01", "method": "container-role"}, out["boto3"]


def test_unmapped_role_and_no_role(ecs):
    _, out = run(ecs, "meta-unmapped", role="arn:aws:iam::000000000000:role/nobody")
    assert out["creds"]["status"] == 404 and "role/nobody" in out["creds"]["body"], out["creds"]
    _, out = run(ecs, "meta-norole")
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in out["env"] and "creds" not in out
    assert out["container"]["status"] == 200


def test_endpoint_survives_ecsboxd_restart(ecs):
    task, out = run(ecs, "meta-restart")
    ecs.stop()
    ecs.start()
    url = out["env"]["ECS_CONTAINER_METADATA_URI_V4"]
    netns = None
    ip = [x["value"] for a in task["attachments"] for x in a["details"] if x["name"] == "privateIPv4Address"][0]
    # ask from a fresh process inside the running task's namespace
    names = ecs.sb.run(["ls", "/run/netns"]).stdout.split()
    for n in names:
        p = ecs.sb.run(["ip", "-n", n, "-4", "-o", "addr", "show", "eth0"], check=False)
        if p.returncode == 0 and f" {ip}/" in p.stdout:
            netns = n
    assert netns, names

    def ok():
        p = ecs.sb.run(["ip", "netns", "exec", netns, "/usr/bin/python3", "-c",
                        f"import urllib.request, json; print(json.loads(urllib.request.urlopen('{url}', timeout=3).read())['Name'])"],
                       check=False)
        return p.stdout.strip() == "app"
    wait_for(ok, 20, what="the endpoint after the restart")


PROTECT = r'''
import json, os, urllib.request, urllib.error
url = os.environ["ECS_AGENT_URI"] + "/task-protection/v1/state"
def call(method, body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return {"status": r.status, "body": json.loads(r.read())}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": json.loads(e.read() or b"null")}
out = {"put": call("PUT", {"ProtectionEnabled": True, "ExpiresInMinutes": 30}), "get": call("GET"),
       "bad": call("PUT", {"ExpiresInMinutes": 5})}
print("PROTECT " + json.dumps(out))
'''


def test_task_protection_through_the_agent_uri(ecs):
    """$ECS_AGENT_URI/task-protection/v1/state from inside a service's task, as the agent answers it."""
    ecs.call("RegisterTaskDefinition", family="prot", networkMode="awsvpc", containerDefinitions=[
        {"name": "app", "image": "host", "memory": 64, "stopTimeout": 2,
         "command": ["sh", "-c", "/usr/bin/python3 -c \"$PROTECT\"; sleep 120"],
         "environment": [{"name": "PROTECT", "value": PROTECT}]}])
    sn = ecs.netd.ok("DescribeSubnets", Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]
    ecs.call("CreateService", serviceName="prot", taskDefinition="prot", desiredCount=1,
             networkConfiguration={"awsvpcConfiguration": {"subnets": [sn["SubnetId"]]}})

    def task():
        arns = ecs.call("ListTasks", serviceName="prot")["taskArns"]
        return arns[0] if arns else None
    arn = wait_for(task, 30, what="the service's task")

    def probe():
        for e in ecs.call("GetTaskLogs", task=arn).get("events", []):
            if e["line"].startswith("PROTECT "):
                return json.loads(e["line"][8:])
        return None
    out = wait_for(probe, 40, what="the task's protection probe")
    put = out["put"]
    assert put["status"] == 200 and put["body"]["protection"]["ProtectionEnabled"] is True, out
    assert put["body"]["protection"]["TaskArn"] == arn and put["body"]["protection"]["ExpirationDate"].endswith("Z")
    assert out["get"]["body"]["protection"]["ProtectionEnabled"] is True
    assert out["bad"]["status"] == 400 and "error" in out["bad"]["body"], out["bad"]
    # the API sees the same
    got = ecs.call("GetTaskProtection", cluster="default", tasks=[arn])["protectedTasks"][0]
    assert got["protectionEnabled"] is True
