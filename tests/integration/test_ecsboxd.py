"""ecsboxd end to end: the ECS API over HTTP, tasks in awsvpc/host/none mode, the AWS CLI and boto3.

Each test runs netd (with its default VPC) and ecsboxd in a private sandbox; traffic goes only to
addresses inside it.
"""
import json
import os
import re
import signal
import time

import pytest

from sandbox import CLI, EcsError, wait_for

SERVE_ID = ("mkdir -p /tmp/www && echo $ECSBOX_TASK_ID > /tmp/www/index.html && "
            "exec httpd -f -p 80 -h /tmp/www")


def web_td(family="web", mode="awsvpc", **extra):
    td = {"family": family, "networkMode": mode, "cpu": "256", "memory": "512",
          "containerDefinitions": [{"name": "web", "image": "busybox", "essential": True,
                                    "command": ["sh", "-c", SERVE_ID],
                                    "portMappings": [{"containerPort": 80}], "stopTimeout": 2}]}
    td.update(extra)
    return td


def open_port_80(ecs):
    """As on AWS, the default group admits only its members; the host's traffic comes from outside
    the VPC, so open tcp/80 to it (a no-op on a netd without security-group enforcement)."""
    g = ecs.netd.ok("DescribeSecurityGroups")["SecurityGroups"]
    for sg in g:
        doc = ecs.netd.call("AuthorizeSecurityGroupIngress", GroupId=sg["GroupId"],
                            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                            "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        assert "Error" not in doc or doc["Error"]["Code"] in ("InvalidAction", "InvalidPermission.Duplicate"), doc


def eni_of(task):
    att = [a for a in task["attachments"] if a["type"] == "ElasticNetworkInterface"]
    assert len(att) == 1, task["attachments"]
    return {d["name"]: d["value"] for d in att[0]["details"]}


def fetch(ecs, ip, port=80):
    p = ecs.sb.run(["curl", "-sS", "--max-time", "5", f"http://{ip}:{port}/"], check=False)
    return p.stdout.strip() if p.returncode == 0 else f"curl failed ({p.returncode}): {p.stderr.strip()}"


def task_id(arn):
    return arn.rsplit("/", 1)[1]


def test_aws_cli_fifty_tasks_on_port_80(ecs, tmp_path):
    """The AWS CLI registers a definition and runs 50 awsvpc tasks; each answers at its own IP on :80
    and DescribeTasks agrees with the kernel."""
    open_port_80(ecs)
    tdfile = os.path.join(ecs.sb.tmp, "web.json")
    with open(tdfile, "w") as f:
        json.dump(web_td(), f)
    td = ecs.aws("ecs", "register-task-definition", "--cli-input-json", f"file://{tdfile}")["taskDefinition"]
    assert td["taskDefinitionArn"] == "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
    assert td["networkMode"] == "awsvpc" and td["status"] == "ACTIVE"
    arns = []
    for _ in range(5):
        r = ecs.aws("ecs", "run-task", "--task-definition", "web", "--count", "10")
        assert r["failures"] == []
        arns += [t["taskArn"] for t in r["tasks"]]
    assert len(set(arns)) == 50
    tasks = {}
    for arn in arns:
        tasks[arn] = ecs.wait_task(arn, timeout=60)
    listed = ecs.aws("ecs", "list-tasks", "--cluster", "default", "--desired-status", "RUNNING")["taskArns"]
    assert sorted(listed) == sorted(arns)
    desc = ecs.aws("ecs", "describe-tasks", "--tasks", *arns[:10])["tasks"]
    assert len(desc) == 10 and all(t["lastStatus"] == "RUNNING" for t in desc)
    ips = set()
    for arn, t in tasks.items():
        d = eni_of(t)
        ip, mac = d["privateIPv4Address"], d["macAddress"]
        ips.add(ip)
        assert t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] == ip
        assert d["privateDnsName"] == "ip-" + ip.replace(".", "-") + ".ec2.internal"
        assert re.fullmatch(r"eni-[0-9a-f]{17}", d["networkInterfaceId"])
        # the kernel agrees: the ENI's namespace holds exactly this IP and MAC on eth0
        eni = ecs.netd.ok("DescribeNetworkInterfaces", NetworkInterfaceIds=[d["networkInterfaceId"]])
        ns = eni["NetworkInterfaces"][0]["Attachment"]["Netns"]
        link = json.loads(ecs.sb.run(["ip", "-j", "-n", ns, "addr", "show", "eth0"]).stdout)[0]
        assert link["address"] == mac
        assert [a["local"] for a in link["addr_info"] if a["family"] == "inet"] == [ip]
        assert fetch(ecs, ip) == task_id(arn)
    assert len(ips) == 50


def test_boto3(ecs):
    """boto3 (Debian's) drives the same API: clusters, definitions, run, describe, stop."""
    open_port_80(ecs)
    script = r'''
import json, boto3
ecs = boto3.Session(profile_name="ecsbox").client("ecs", endpoint_url="http://127.0.0.1:5080", region_name="us-east-1")
ecs.create_cluster(clusterName="b3")
td = json.loads(open("TD").read())
rev = ecs.register_task_definition(**td)["taskDefinition"]["revision"]
r = ecs.run_task(cluster="b3", taskDefinition="web:%d" % rev, count=2, startedBy="boto3-test",
                 networkConfiguration={"awsvpcConfiguration": {"subnets": ["SUBNET"], "securityGroups": ["SG"],
                                                               "assignPublicIp": "DISABLED"}})
assert not r["failures"], r
arns = [t["taskArn"] for t in r["tasks"]]
w = ecs.get_waiter("tasks_running")
w.wait(cluster="b3", tasks=arns, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
d = ecs.describe_tasks(cluster="b3", tasks=arns)["tasks"]
print(json.dumps({"arns": arns, "subnets": [[x["value"] for x in t["attachments"][0]["details"] if x["name"] == "subnetId"][0] for t in d], "ips": [t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] for t in d],
                  "started": ecs.list_tasks(cluster="b3", startedBy="boto3-test")["taskArns"]}))
'''
    tdfile = os.path.join(ecs.sb.tmp, "td.json")
    with open(tdfile, "w") as f:
        json.dump(web_td(), f)
    subnet = ecs.netd.ok("DescribeSubnets")["Subnets"][1]["SubnetId"]
    sg = ecs.netd.ok("DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
    script = script.replace("TD", tdfile).replace("SUBNET", subnet).replace("SG", sg)
    p = ecs.sb.run(["/usr/bin/python3", "-c", script], env=ecs.ENV, timeout=120)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert sorted(out["started"]) == sorted(out["arns"])
    assert out["subnets"] == [subnet, subnet]
    for arn, ip in zip(out["arns"], out["ips"]):
        assert fetch(ecs, ip) == task_id(arn)


def run1(ecs, td, cluster="default", **kw):
    ecs.call("RegisterTaskDefinition", **td)
    r = ecs.call("RunTask", cluster=cluster, taskDefinition=td["family"], **kw)
    assert r["failures"] == [], r
    return r["tasks"][0]["taskArn"]


def test_host_and_none_modes(ecs):
    """host: the containers share the namespace they run in (here the sandbox's, as the cluster has no
    instance); none: a namespace with loopback only."""
    script = "ip -o link show | cut -d: -f2 | cut -d@ -f1 | tr -d ' ' | sort | tr '\\n' ,; echo; sleep 30"
    td = {"family": "netview", "networkMode": "none", "containerDefinitions": [
        {"name": "c", "image": "busybox", "memory": 64, "stopTimeout": 2, "command": ["sh", "-c", script]}]}
    arn = run1(ecs, td)
    t = ecs.wait_task(arn)
    assert t["attachments"] == [] and t["containers"][0]["networkInterfaces"] == []
    log = wait_for(lambda: ecs.call("GetTaskLogs", task=arn).get("events"), 10, what="log lines")
    assert log[0]["line"].strip() == "lo,", log
    td["family"], td["networkMode"] = "hostview", "host"
    arn2 = run1(ecs, td)
    ecs.wait_task(arn2)
    log = wait_for(lambda: ecs.call("GetTaskLogs", task=arn2).get("events"), 10, what="log lines")
    sandbox_links = ecs.sb.run(script.replace("; sleep 30", "")).stdout.strip()
    assert log[0]["line"].strip() == sandbox_links
    assert "lo," in sandbox_links and "ebxu" in sandbox_links   # the sandbox holds netd's VPC uplink
    # the none task's namespace goes when the task stops
    ecs.call("StopTask", task=arn, reason="test")
    t = ecs.wait_task(arn, "STOPPED", timeout=40)
    assert t["stopCode"] == "UserInitiated" and t["stoppedReason"] == "test"
    assert not [n for n in ecs.sb.run(["ip", "netns", "list"]).stdout.split() if task_id(arn)[:12] in n]


def test_essential_exit_stops_task(ecs):
    td = {"family": "oneshot", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "side", "image": "busybox", "memory": 32, "essential": False, "stopTimeout": 2,
         "command": ["sleep", "60"]},
        {"name": "main", "image": "busybox", "memory": 32, "command": ["sh", "-c", "echo bye; exit 3"]}]}
    arn = run1(ecs, td)
    t = ecs.wait_task(arn, "STOPPED", timeout=40)
    assert t["stopCode"] == "EssentialContainerExited", t
    assert t["stoppedReason"] == "Essential container in task exited"
    codes = {c["name"]: c.get("exitCode") for c in t["containers"]}
    assert codes["main"] == 3
    assert codes["side"] in (137, 143), codes
    # The times are the monitor's record even when ecsboxd first read its status already stopped
    # (the race of docs/reliability.md): the task did start, so it has startedAt.
    for k in ("createdAt", "startedAt", "stoppingAt", "executionStoppedAt", "stoppedAt"):
        assert k in t, (k, t)
    assert t["createdAt"] <= t["startedAt"] <= t["stoppingAt"] <= t["executionStoppedAt"] <= t["stoppedAt"], t
    ctrs = {c["name"]: c for c in t["containers"]}
    for name, c in ctrs.items():
        assert "startedAt" in c and "finishedAt" in c, (name, c)
        assert t["createdAt"] <= c["startedAt"] <= t["startedAt"], (name, c, t)
        assert c["startedAt"] <= c["finishedAt"] <= t["executionStoppedAt"], (name, c, t)
    # main's exit stopped the task; side was stopped after it
    assert ctrs["main"]["finishedAt"] <= t["stoppingAt"] <= ctrs["side"]["finishedAt"], t
    assert t["attachments"][0]["status"] == "DELETED"
    eni = eni_of(t)["networkInterfaceId"]
    assert ecs.netd.err("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni]) == "InvalidNetworkInterfaceID.NotFound"
    ev = ecs.call("GetTaskLogs", task=arn, container="main")["events"]
    assert [e["line"].strip() for e in ev] == ["bye"]


def test_task_stopped_before_ecsboxd_saw_it_run(ecs):
    """The race of docs/reliability.md made certain: ecsboxd is frozen (SIGSTOP) while the monitor runs
    the task to STOPPED, so the first status it reads after PENDING is already STOPPED. The task did
    start: it has the monitor's startedAt, and so have its containers."""
    td = {"family": "unseen", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "init", "image": "busybox", "memory": 32, "essential": False, "command": ["sleep", "2"]},
        {"name": "main", "image": "busybox", "memory": 32, "command": ["sh", "-c", "exit 3"],
         "dependsOn": [{"containerName": "init", "condition": "COMPLETE"}]}]}
    arn = run1(ecs, td)

    def init_running():
        t = ecs.call("DescribeTasks", tasks=[arn])["tasks"][0]
        return t if {c["name"]: c["lastStatus"] for c in t["containers"]}["init"] == "RUNNING" else None
    # main waits for init's exit, so the task is PENDING here, in ecsboxd and in its monitor
    assert wait_for(init_running, 30, interval=0.05, what="init RUNNING")["lastStatus"] == "PENDING"
    path = os.path.join(ecs.state, "tasks", task_id(arn), "status.json")

    def monitor_stopped():
        try:
            doc = json.load(open(path))
        except (OSError, ValueError):
            return None
        return doc if doc["lastStatus"] == "STOPPED" else None
    os.kill(ecs.pid(), signal.SIGSTOP)
    try:
        doc = wait_for(monitor_stopped, 30, interval=0.05, what="the monitor's STOPPED")
    finally:
        os.kill(ecs.pid(), signal.SIGCONT)
    t = ecs.wait_task(arn, "STOPPED", timeout=40)
    # the path of the race: ecsboxd never logged the task RUNNING
    assert f'task={task_id(arn)} msg="task running"' not in open(ecs.log).read()
    assert t["stopCode"] == "EssentialContainerExited", t
    assert doc["startedAt"] and abs(t["startedAt"] - doc["startedAt"]) < 0.001, (t, doc)
    assert abs(t["executionStoppedAt"] - doc["stoppedAt"]) < 0.001, (t, doc)
    assert t["createdAt"] <= t["startedAt"] <= t["stoppingAt"] <= t["executionStoppedAt"] <= t["stoppedAt"], t
    ctrs = {c["name"]: c for c in t["containers"]}
    assert ctrs["main"]["exitCode"] == 3 and ctrs["init"]["exitCode"] == 0, ctrs
    assert ctrs["init"]["startedAt"] + 1.9 <= ctrs["init"]["finishedAt"] <= ctrs["main"]["startedAt"], ctrs
    assert ctrs["main"]["startedAt"] <= t["startedAt"] and ctrs["main"]["finishedAt"] <= t["stoppingAt"], (ctrs, t)


def test_task_that_never_started_has_no_started_at(ecs):
    """ECS: a task whose containers could not start has no startedAt, nor have they; the monitor's
    own times of the stop are still there."""
    td = {"family": "noimage", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "main", "image": "no-such-image", "memory": 32, "command": ["true"]}]}
    arn = run1(ecs, td)
    t = ecs.wait_task(arn, "STOPPED", timeout=40)
    assert t["stopCode"] == "TaskFailedToStart", t
    # the image is fetched in PENDING: an unknown one never reaches the monitor
    assert t["stoppedReason"].startswith("CannotPullContainerError: "), t
    assert "no-such-image" in t["stoppedReason"], t
    assert t["pullStartedAt"] <= t["pullStoppedAt"] <= t["stoppedAt"], t
    assert "startedAt" not in t, t
    c = t["containers"][0]
    assert "startedAt" not in c and c.get("exitCode") is None, c
    assert t["createdAt"] <= t["stoppingAt"] <= t["executionStoppedAt"] <= t["stoppedAt"], t


def test_stop_task_honours_stop_timeout(ecs):
    """busybox httpd as PID 1 ignores SIGTERM: StopTask waits stopTimeout, then SIGKILL (exit 137)."""
    td = web_td(family="stubborn")
    td["containerDefinitions"][0]["command"] = ["httpd", "-f", "-p", "80", "-h", "/www"]
    td["containerDefinitions"][0]["stopTimeout"] = 3
    arn = run1(ecs, td)
    ecs.wait_task(arn)
    t0 = time.monotonic()
    r = ecs.call("StopTask", task=arn, reason="bye")["task"]
    assert r["desiredStatus"] == "STOPPED"
    t = ecs.wait_task(arn, "STOPPED", timeout=30)
    took = time.monotonic() - t0
    assert 2.5 <= took <= 15, took
    assert t["containers"][0]["exitCode"] == 137
    assert t["stopCode"] == "UserInitiated"


def test_depends_on_and_health_check(ecs):
    td = {"family": "deps", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "db", "image": "busybox", "memory": 32, "essential": True,
         "command": ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 60"],
         "healthCheck": {"command": ["CMD-SHELL", "test -f /tmp/ready"], "interval": 5, "timeout": 2,
                         "retries": 3, "startPeriod": 0}},
        {"name": "app", "image": "busybox", "memory": 32, "command": ["sh", "-c", "date +%s.%N; exec sleep 60"],
         "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]}]}
    arn = run1(ecs, td)
    t = ecs.wait_task(arn, timeout=40)
    c = {x["name"]: x for x in t["containers"]}
    assert c["db"]["healthStatus"] == "HEALTHY"
    assert t["healthStatus"] == "HEALTHY"
    assert c["app"]["lastStatus"] == "RUNNING"


def test_logs_cli(ecs):
    """`ecsbox ecs logs` prints a container's output."""
    td = {"family": "talk", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "a", "image": "busybox", "memory": 32, "command": ["sh", "-c", "echo one; echo two >&2; sleep 60"]}]}
    arn = run1(ecs, td)
    ecs.wait_task(arn)
    wait_for(lambda: len(ecs.call("GetTaskLogs", task=arn)["events"]) >= 2, 10, what="two log lines")
    p = ecs.sb.run([CLI, "--endpoint", ecs.sock, "ecs", "logs", "--task", task_id(arn)])
    assert p.stdout.split() == ["one", "two"]


def test_cli_run_and_ps(ecs):
    """`ecsbox ecs` mirrors `aws ecs`; `ecsbox ps` lists tasks with their ENI, IP, MAC."""
    tdfile = os.path.join(ecs.sb.tmp, "td.json")
    with open(tdfile, "w") as f:
        json.dump(web_td(), f)
    cli = [CLI, "--endpoint", ecs.sock]
    out = json.loads(ecs.sb.run(cli + ["ecs", "register-task-definition", "--cli-input-json", f"file://{tdfile}"]).stdout)
    assert out["taskDefinition"]["revision"] == 1
    subnet = ecs.netd.ok("DescribeSubnets")["Subnets"][0]["SubnetId"]
    out = json.loads(ecs.sb.run(cli + ["ecs", "run-task", "--task-definition", "web:1", "--count", "3",
                                       "--network-configuration",
                                       f"awsvpcConfiguration={{subnets=[{subnet}],assignPublicIp=DISABLED}}"]).stdout)
    arns = [t["taskArn"] for t in out["tasks"]]
    assert len(arns) == 3
    tasks = [ecs.wait_task(a) for a in arns]
    p = ecs.sb.run(cli + ["ps"])
    lines = p.stdout.strip().splitlines()
    assert lines[0].split() == ["TASK", "DEFINITION", "STATUS", "MODE", "ENI", "IP", "MAC", "PORTS"]
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    for t in tasks:
        d = eni_of(t)
        assert rows[task_id(t["taskArn"])][1:7] == ["web:1", "RUNNING", "awsvpc", d["networkInterfaceId"],
                                                    d["privateIPv4Address"], d["macAddress"]]
    # errors come out as the aws CLI prints them, with its exit code
    p = ecs.sb.run(cli + ["ecs", "describe-tasks", "--cluster", "nope", "--tasks", "x"], check=False)
    assert p.returncode == 254
    assert "An error occurred (ClusterNotFoundException) when calling the DescribeTasks operation" in p.stderr
    p = ecs.sb.run(cli + ["ecs", "stop-task", "--task", arns[0]])
    assert json.loads(p.stdout)["task"]["desiredStatus"] == "STOPPED"


BAD = [
    # (target op, body, expected __type, message fragment)
    ("RunTask", b"{not json", "SerializationException", ""),
    ("NoSuchThing", b"{}", "UnknownOperationException", "NoSuchThing"),
    ("RunTask", b"{}", "InvalidParameterException", "taskDefinition"),
    ("RunTask", b'{"taskDefinition": 5}', "SerializationException", "taskDefinition"),
    ("RunTask", b'{"taskDefinition": "nope"}', "InvalidParameterException", "TaskDefinition not found"),
    ("RunTask", b'{"taskDefinition": "web", "cluster": "nope"}', "ClusterNotFoundException", ""),
    ("RunTask", b'{"taskDefinition": "web", "count": 11}', "InvalidParameterException", "count"),
    ("RunTask", b'{"taskDefinition": "web", "count": 0}', "InvalidParameterException", "count"),
    ("RunTask", b'{"taskDefinition": "web", "launchType": "MOON"}', "InvalidParameterException", "launchType"),
    ("RunTask", b'{"taskDefinition": "web", "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-00000000000000000"]}}}',
     "InvalidParameterException", "subnet"),
    ("StopTask", b'{"task": "0123456789abcdef0123456789abcdef"}', "InvalidParameterException", "task"),
    ("DescribeTasks", b'{"tasks": "x"}', "SerializationException", "tasks"),
    ("RegisterTaskDefinition", b'{"family": "bad name!", "containerDefinitions": []}', "ClientException", "family"),
    ("RegisterTaskDefinition", b'{"family": "x", "networkMode": "awsvpc", "containerDefinitions": [{"name": "a", "image": "busybox", "memory": 32, "portMappings": [{"containerPort": 80, "hostPort": 81}]}]}',
     "ClientException", "host ports and container ports in port mappings must match"),
    ("RegisterTaskDefinition", b'{"family": "x", "networkMode": "overlay", "containerDefinitions": [{"name": "a", "image": "busybox", "memory": 32}]}',
     "ClientException", "networkMode"),
    ("RegisterTaskDefinition", b'{"family": "x", "containerDefinitions": [{"name": "a", "image": "busybox", "memory": 32, "portMappings": [{"containerPort": 70000}]}]}',
     "InvalidParameterException", "containerPort"),
    ("RegisterTaskDefinition", b'{"family": "x", "bogus": 1, "containerDefinitions": []}', "", ""),
    ("DescribeTaskDefinition", b'{"taskDefinition": "web:99"}', "ClientException", ""),
    ("DeleteCluster", b'{"cluster": "nope"}', "ClusterNotFoundException", ""),
]


def test_bad_input(ecs):
    """Every bad request gets the ECS error type and a message naming the member; nothing is made."""
    ecs.call("RegisterTaskDefinition", **web_td())
    before_tasks = ecs.call("ListTasks", desiredStatus="RUNNING")["taskArns"] + ecs.call("ListTasks", desiredStatus="STOPPED")["taskArns"]
    before_td = ecs.call("ListTaskDefinitions")["taskDefinitionArns"]
    before_ns = ecs.sb.run(["ip", "netns", "list"]).stdout
    wrong = []
    for op, body, typ, frag in BAD:
        status, raw = ecs.raw(ecs.TARGET + op, body)
        doc = json.loads(raw)
        if status != 400 or (typ and doc["__type"] != typ) or not doc.get("message") or \
                frag.lower() not in doc["message"].lower():
            wrong.append((op, body[:120], status, doc))
    assert not wrong, "\n".join(map(str, wrong))
    # no target at all, and an oversized body
    status, raw = ecs.raw(None, b"{}")
    assert status == 400 and json.loads(raw)["__type"] in ("UnknownOperationException", "SerializationException")
    status, raw = ecs.raw(ecs.TARGET + "RunTask", b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert status in (400, 413), status
    after_tasks = ecs.call("ListTasks", desiredStatus="RUNNING")["taskArns"] + ecs.call("ListTasks", desiredStatus="STOPPED")["taskArns"]
    assert after_tasks == before_tasks
    assert ecs.call("ListTaskDefinitions")["taskDefinitionArns"] == before_td
    assert ecs.sb.run(["ip", "netns", "list"]).stdout == before_ns


def monitors(ecs):
    """PIDs (host view) of the ecsbox-monitor processes inside this sandbox."""
    return set(ecs.sb.monitor_pids())


def test_kill9_during_run_task_burst(ecs):
    """kill -9 ecsboxd while RunTask calls stream in, restart it: every task it acknowledged runs or is
    stopped cleanly, DescribeTasks agrees with the kernel, and no namespace, ENI or monitor leaks."""
    import threading
    open_port_80(ecs)
    ecs.call("RegisterTaskDefinition", **web_td())
    acked, errors = [], []

    def burst():
        for _ in range(60):
            try:
                r = ecs.call("RunTask", taskDefinition="web", count=2)
                acked.extend(t["taskArn"] for t in r["tasks"])
            except Exception as e:   # the daemon died under us: expected
                errors.append(e)
                return
    th = threading.Thread(target=burst)
    th.start()
    wait_for(lambda: len(acked) >= 20, 30, what="20 acknowledged tasks")
    ecs.kill9()
    th.join(timeout=60)
    ecs.start()
    # everything acknowledged is known and reaches RUNNING (no failures were injected)
    for arn in acked:
        t = ecs.wait_task(arn, timeout=60)
        assert fetch(ecs, eni_of(t)["privateIPv4Address"]) == task_id(arn)
    running = ecs.call("ListTasks", desiredStatus="RUNNING")["taskArns"]
    # a task created but not acknowledged (the crash cut the answer) may also exist: it must run too
    assert set(acked) <= set(running)
    for arn in running:
        ecs.wait_task(arn, timeout=60)
    enis = ecs.netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"]
    task_enis = [e for e in enis if e["Attachment"]["Netns"].startswith("ebx-task-")]
    assert len(task_enis) == len(running)
    ns = [n for n in ecs.sb.run(["ip", "netns", "list"]).stdout.split() if n.startswith("ebx-task-")]
    assert sorted(ns) == sorted(e["Attachment"]["Netns"] for e in task_enis)
    assert len(monitors(ecs)) == len(running)
    # and stopping them all leaves nothing behind
    for arn in running:
        ecs.call("StopTask", task=arn)
    for arn in running:
        try:
            ecs.wait_task(arn, "STOPPED", timeout=60)
        except TimeoutError:
            for pid in monitors(ecs):
                print("DEBUG", pid, open(f"/proc/{pid}/cmdline").read()[-60:], open(f"/proc/{pid}/wchan").read(),
                      [l for l in open(f"/proc/{pid}/status").read().splitlines() if l.startswith(("State", "NSpid", "PPid"))],
                      os.listdir(f"/proc/{pid}/task"))
                for t in os.listdir(f"/proc/{pid}/task"):
                    print("DEBUG stack", t, open(f"/proc/{pid}/task/{t}/stack").read())
            raise
    wait_for(lambda: not monitors(ecs), 20, what="monitors gone")
    assert not [n for n in ecs.sb.run(["ip", "netns", "list"]).stdout.split() if n.startswith("ebx-task-")]
    assert not [e for e in ecs.netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"]
                if e["Attachment"]["Netns"].startswith("ebx-task-")]


def test_restart_adopts_running_tasks(ecs):
    """A clean restart (SIGTERM) and a kill -9 both leave tasks running and reachable, then adopted:
    a task stopped while ecsboxd was down is seen as stopped, with its exit code."""
    open_port_80(ecs)
    ecs.call("RegisterTaskDefinition", **web_td())
    arns = [t["taskArn"] for t in ecs.call("RunTask", taskDefinition="web", count=3)["tasks"]]
    tasks = [ecs.wait_task(a) for a in arns]
    ecs.stop()
    for t in tasks:
        assert fetch(ecs, eni_of(t)["privateIPv4Address"]) == task_id(t["taskArn"])
    ecs.start()
    for t in tasks:
        assert ecs.wait_task(t["taskArn"])["startedAt"] == t["startedAt"]
    ecs.kill9()
    # while it is down, one task's container is killed from outside
    victim = tasks[0]
    pids = ecs.sb.run(["sh", "-c", f"ip netns pids {eni_netns(ecs, victim)}"]).stdout.split()
    assert pids
    ecs.sb.run(["kill", "-9"] + pids)
    ecs.start()
    t = ecs.wait_task(victim["taskArn"], "STOPPED", timeout=40)
    assert t["stopCode"] == "EssentialContainerExited", t
    for other in tasks[1:]:
        assert ecs.wait_task(other["taskArn"])["lastStatus"] == "RUNNING"


def eni_netns(ecs, task):
    eni = ecs.netd.ok("DescribeNetworkInterfaces", NetworkInterfaceIds=[eni_of(task)["networkInterfaceId"]])
    return eni["NetworkInterfaces"][0]["Attachment"]["Netns"]


def register_instance(ecs, cluster="default", itype="t3.small", az=None, **extra):
    req = {"cluster": cluster, "instanceType": itype}
    if az:
        sn = [s for s in ecs.netd.ok("DescribeSubnets")["Subnets"] if s["AvailabilityZone"] == az][0]
        req["subnetId"] = sn["SubnetId"]
    req.update(extra)
    return ecs.call("RegisterContainerInstance", **req)["containerInstance"]


def test_container_instances_and_placement_failures(ecs):
    """Emulated EC2 instances: registered resources, attributes, an ENI limit, and RunTask failures with
    the ECS reasons when nothing fits."""
    ecs.call("CreateCluster", clusterName="ec2")
    ci = register_instance(ecs, "ec2", "t3.micro", az="us-east-1b")
    assert ci["status"] == "ACTIVE" and ci["agentConnected"] is True
    res = {r["name"]: r for r in ci["registeredResources"]}
    assert res["CPU"]["integerValue"] == 2048 and res["MEMORY"]["integerValue"] == 944
    attrs = {a["name"]: a.get("value") for a in ci["attributes"]}
    assert attrs["ecs.instance-type"] == "t3.micro" and attrs["ecs.availability-zone"] == "us-east-1b"
    ip = attrs["ecsbox.private-ipv4-address"]
    # the instance is a namespace with a primary ENI from netd
    eni = ecs.netd.ok("DescribeNetworkInterfaces", NetworkInterfaceIds=[attrs["ecsbox.network-interface-id"]])
    ns = eni["NetworkInterfaces"][0]["Attachment"]["Netns"]
    assert ip in ecs.sb.run(["ip", "-n", ns, "-4", "addr", "show", "eth0"]).stdout
    listed = ecs.call("ListContainerInstances", cluster="ec2")["containerInstanceArns"]
    assert listed == [ci["containerInstanceArn"]]

    # t3.micro: 2 ENIs, one is the primary, so one awsvpc task fits; the second fails RESOURCE:ENI
    ecs.call("RegisterTaskDefinition", **web_td(family="small", cpu="128", memory="64"))
    r = ecs.call("RunTask", cluster="ec2", taskDefinition="small", count=2)
    assert len(r["tasks"]) == 1 and [f["reason"] for f in r["failures"]] == ["RESOURCE:ENI"], r
    t = ecs.wait_task(r["tasks"][0]["taskArn"], cluster="ec2")
    assert t["containerInstanceArn"] == ci["containerInstanceArn"]
    assert t["availabilityZone"] == "us-east-1b"
    # memory and cpu
    big = web_td(family="big", mode="host", cpu="128", memory="4096")
    ecs.call("RegisterTaskDefinition", **big)
    r = ecs.call("RunTask", cluster="ec2", taskDefinition="big")
    assert r["tasks"] == [] and r["failures"][0]["reason"] == "RESOURCE:MEMORY", r
    big.update(family="busy", cpu="4096", memory="64")
    ecs.call("RegisterTaskDefinition", **big)
    r = ecs.call("RunTask", cluster="ec2", taskDefinition="busy")
    assert r["failures"][0]["reason"] == "RESOURCE:CPU", r
    # a static host port in host mode is taken once
    hp = web_td(family="hostport", mode="host", cpu="128", memory="32")
    hp["containerDefinitions"][0]["portMappings"] = [{"containerPort": 8080, "hostPort": 8080}]
    hp["containerDefinitions"][0]["command"] = ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ecs.call("RegisterTaskDefinition", **hp)
    r = ecs.call("RunTask", cluster="ec2", taskDefinition="hostport", count=2)
    assert len(r["tasks"]) == 1 and r["failures"][0]["reason"] == "RESOURCE:PORTS", r
    ht = ecs.wait_task(r["tasks"][0]["taskArn"], cluster="ec2")
    sg = ecs.netd.ok("DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
    ecs.netd.ok("AuthorizeSecurityGroupIngress", GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    # host mode shares the instance's namespace: reachable at the instance address
    assert "ecsbox busybox image" in fetch(ecs, ip, 8080)
    assert ht["containers"][0]["networkBindings"] == [
        {"bindIP": "0.0.0.0", "containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}]
    # FARGATE needs no instance and only awsvpc
    r = ecs.call("RunTask", cluster="ec2", taskDefinition="small", launchType="FARGATE")
    assert r["failures"] == [] and "containerInstanceArn" not in r["tasks"][0]
    e = ecs.err("RunTask", cluster="ec2", taskDefinition="hostport", launchType="FARGATE")
    assert e.type == "InvalidParameterException"
    # deregistering an instance with tasks needs force
    e = ecs.err("DeregisterContainerInstance", cluster="ec2", containerInstance=ci["containerInstanceArn"])
    assert e.type == "InvalidParameterException"


def test_bridge_mode(ecs):
    """bridge tasks sit behind their instance's address: static and dynamic host ports, a static port
    taken on an instance is RESOURCE:PORTS, bindings in DescribeTasks, released when the task stops."""
    ecs.call("CreateCluster", clusterName="br")
    a = register_instance(ecs, "br", "m5.large", az="us-east-1a")
    b = register_instance(ecs, "br", "m5.large", az="us-east-1b")
    ips = {ci["containerInstanceArn"]: {x["name"]: x.get("value") for x in ci["attributes"]}["ecsbox.private-ipv4-address"]
           for ci in (a, b)}
    sg = ecs.netd.ok("DescribeSecurityGroups")["SecurityGroups"][0]["GroupId"]
    # the instances' group decides who reaches their host ports (the host comes from the uplink range)
    ecs.netd.ok("AuthorizeSecurityGroupIngress", GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "IpRanges": [{"CidrIp": "100.64.0.0/10"}]},
        {"IpProtocol": "tcp", "FromPort": 49153, "ToPort": 65535, "IpRanges": [{"CidrIp": "100.64.0.0/10"}]}])
    dyn = web_td(family="dyn", mode="bridge", cpu="128", memory="64")
    dyn["containerDefinitions"][0]["portMappings"] = [{"containerPort": 80}]
    ecs.call("RegisterTaskDefinition", **dyn)
    stat = web_td(family="stat", mode="bridge", cpu="128", memory="64")
    stat["containerDefinitions"][0]["portMappings"] = [{"containerPort": 80, "hostPort": 8000}]
    ecs.call("RegisterTaskDefinition", **stat)
    r = ecs.call("RunTask", cluster="br", taskDefinition="dyn", count=4)
    assert r["failures"] == []
    arns = [t["taskArn"] for t in r["tasks"]]
    r = ecs.call("RunTask", cluster="br", taskDefinition="stat", count=3,
                 placementConstraints=[{"type": "distinctInstance"}])
    # two instances: the third static :8000 has nowhere to go
    assert len(r["tasks"]) == 2 and {f["reason"] for f in r["failures"]} == {"RESOURCE:PORTS"}, r
    arns += [t["taskArn"] for t in r["tasks"]]
    seen = set()
    for arn in arns:
        t = ecs.wait_task(arn, cluster="br")
        assert t["attachments"] == []
        (bind,) = t["containers"][0]["networkBindings"]
        assert bind["containerPort"] == 80 and bind["protocol"] == "tcp"
        if "stat" in t["taskDefinitionArn"]:
            assert bind["hostPort"] == 8000
        else:
            assert 49153 <= bind["hostPort"] <= 65535
        host = ips[t["containerInstanceArn"]]
        assert (host, bind["hostPort"]) not in seen
        seen.add((host, bind["hostPort"]))
        assert fetch(ecs, host, bind["hostPort"]) == task_id(arn)
    # ps shows the published ports
    out = ecs.sb.run([CLI, "--endpoint", ecs.sock, "ps", "--cluster", "br"]).stdout
    assert out.count("bridge") == 6 and "->80/tcp" in out
    # stopping a static task frees its port on that instance for the next one
    victim = [x for x in arns if "stat" in ecs.call("DescribeTasks", cluster="br", tasks=[x])["tasks"][0]["taskDefinitionArn"]][0]
    ecs.call("StopTask", cluster="br", task=victim)
    ecs.wait_task(victim, "STOPPED", cluster="br", timeout=30)
    r = ecs.call("RunTask", cluster="br", taskDefinition="stat")
    assert r["failures"] == [], r
    t = ecs.wait_task(r["tasks"][0]["taskArn"], cluster="br")
    assert fetch(ecs, ips[t["containerInstanceArn"]], 8000) == task_id(t["taskArn"])
    # a cluster without instances cannot run bridge tasks
    e = ecs.err("RunTask", taskDefinition="dyn")
    assert e.type == "InvalidParameterException" and "Container Instances" in e.message


PYPING = ("import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); "
          "s.settimeout(3); s.sendto(bytes([8, 0, 0, 0, 0, 0, 0, 1]) + bytes(8), (sys.argv[1], 0)); "
          "d = s.recv(64); sys.exit(0 if d[0] == 0 else 1)")


def test_ping_without_net_raw(ecs):
    """Containers hold no CAP_NET_RAW, NET_ADMIN or SYS_ADMIN, yet ping works (ICMP datagram
    sockets, netd sets ping_group_range); tasks of the default group reach each other. iputils'
    ping carries file capabilities (its exec fails without NET_RAW in the bounding set, as in Docker)
and busybox's ping wants a raw socket, so the probe is an ICMP datagram socket from Python (image
`host`: the host's filesystem)."""
    ecs.call("RegisterTaskDefinition", **web_td())
    target = ecs.wait_task(ecs.call("RunTask", taskDefinition="web")["tasks"][0]["taskArn"])
    ip = eni_of(target)["privateIPv4Address"]
    td = {"family": "pinger", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "p", "image": "host", "memory": 32, "stopTimeout": 2, "command": ["sh", "-c",
         f"grep CapEff /proc/self/status; /usr/bin/python3 -c '{PYPING}' {ip} && echo PING_OK; sleep 30"]}]}
    arn = run1(ecs, td)
    ecs.wait_task(arn)
    lines = wait_for(lambda: (lambda ev: ev if len(ev) >= 2 else None)(ecs.call("GetTaskLogs", task=arn)["events"]),
                     15, what="two log lines")
    cap = int(lines[0]["line"].split()[1], 16)
    for bit, name in ((13, "NET_RAW"), (12, "NET_ADMIN"), (21, "SYS_ADMIN")):
        assert not cap & (1 << bit), f"container holds CAP_{name}: {lines[0]}"
    assert lines[1]["line"].strip() == "PING_OK", lines


def test_logs_follow(ecs):
    """`ecsbox ecs logs --follow` prints lines as they come and returns when the task has stopped."""
    td = {"family": "ticker", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "t", "image": "busybox", "memory": 32,
         "command": ["sh", "-c", "for i in 1 2 3 4 5; do echo tick $i; sleep 0.3; done"]}]}
    arn = run1(ecs, td)
    t0 = time.monotonic()
    p = ecs.sb.run([CLI, "--endpoint", ecs.sock, "ecs", "logs", "--task", task_id(arn), "--follow"], timeout=60)
    assert p.stdout.split("\n")[:5] == [f"tick {i}" for i in range(1, 6)]
    took = time.monotonic() - t0
    assert took < 30, took
    print("follow took", took)
    assert ecs.call("DescribeTasks", tasks=[arn])["tasks"][0]["lastStatus"] == "STOPPED"


def test_flow_logs_for_tagged_cluster(ecs):
    """A cluster tagged ecsbox:flow-logs gets a flow log on every task ENI without extra steps, with the
    task's ECS fields; `ecsbox ecs flow-logs --task` prints the records."""
    open_port_80(ecs)
    ecs.call("CreateCluster", clusterName="logged",
             tags=[{"key": "ecsbox:flow-logs", "value": "ALL"}, {"key": "ecsbox:flow-logs-interval", "value": "1"}])
    ecs.call("RegisterTaskDefinition", **web_td())
    arn = ecs.call("RunTask", cluster="logged", taskDefinition="web")["tasks"][0]["taskArn"]
    t = ecs.wait_task(arn, cluster="logged")
    ip, eni = eni_of(t)["privateIPv4Address"], eni_of(t)["networkInterfaceId"]
    fl = ecs.netd.ok("DescribeFlowLogs", Filter=[{"Name": "resource-id", "Values": [eni]}])["FlowLogs"]
    assert len(fl) == 1 and fl[0]["TrafficType"] == "ALL" and fl[0]["MaxAggregationInterval"] == 1
    for _ in range(3):
        assert fetch(ecs, ip) == task_id(arn)
    cli = [CLI, "--endpoint", ecs.sock, "ecs", "flow-logs", "--cluster", "logged", "--task", task_id(arn)]

    def records():
        out = ecs.sb.run(cli).stdout.splitlines()
        return [l.split() for l in out[1:] if l.split()[6:8] == ["80", "6"] and l.split()[12] == "ACCEPT"] or None
    lines = wait_for(records, 15, interval=0.5, what="ACCEPT records for :80")
    header = ecs.sb.run(cli).stdout.splitlines()[0].split()
    assert header[:4] == ["version", "account-id", "interface-id", "srcaddr"]
    assert all(l[2] == eni and l[4] == ip for l in lines)
    # three fetches: three connections in, each a few packets; nothing in the log is REJECT for them
    assert sum(int(l[8]) for l in lines) >= 9
    # a task in an untagged cluster has no flow log, and the CLI says so
    plain = ecs.wait_task(ecs.call("RunTask", taskDefinition="web")["tasks"][0]["taskArn"])
    p = ecs.sb.run([CLI, "--endpoint", ecs.sock, "ecs", "flow-logs", "--task", task_id(plain["taskArn"])], check=False)
    assert p.returncode == 254 and "no flow log covers" in p.stderr


def test_tagged_flow_log_goes_with_the_task(ecs):
    """The flow log ecsboxd made for a task of a tagged cluster is deleted when the task's network is
    released (found by tests/chaos: every stopped task left one in netd, read by every collector pass),
    also when the task stops while ecsboxd is down; the records written stay."""
    open_port_80(ecs)
    ecs.call("CreateCluster", clusterName="logged",
             tags=[{"key": "ecsbox:flow-logs", "value": "ALL"}, {"key": "ecsbox:flow-logs-interval", "value": "1"}])
    ecs.call("RegisterTaskDefinition", **web_td())
    arns = [t["taskArn"] for t in ecs.call("RunTask", cluster="logged", taskDefinition="web", count=2)["tasks"]]
    tasks = [ecs.wait_task(a, cluster="logged") for a in arns]
    enis = [eni_of(t)["networkInterfaceId"] for t in tasks]

    def flow_logs(eni):
        return ecs.netd.ok("DescribeFlowLogs", Filter=[{"Name": "resource-id", "Values": [eni]}])["FlowLogs"]
    assert [len(flow_logs(e)) for e in enis] == [1, 1]
    assert fetch(ecs, eni_of(tasks[0])["privateIPv4Address"]) == task_id(arns[0])
    ecs.call("StopTask", cluster="logged", task=arns[0])
    ecs.wait_task(arns[0], "STOPPED", cluster="logged", timeout=30)
    assert flow_logs(enis[0]) == []
    log = os.path.join(ecs.state, "flow-logs", enis[0] + ".log")
    assert any(l.split()[6:8] == ["80", "6"] for l in open(log).read().splitlines()[1:]), open(log).read()
    # stopped while ecsboxd is down: the restarted ecsboxd releases the network and its flow log
    ecs.kill9()
    pids = ecs.sb.run(["sh", "-c", f"ip netns pids {eni_netns(ecs, tasks[1])}"]).stdout.split()
    ecs.sb.run(["kill", "-9"] + pids)
    ecs.start()
    ecs.wait_task(arns[1], "STOPPED", cluster="logged", timeout=40)
    assert flow_logs(enis[1]) == []
    assert ecs.netd.ok("DescribeFlowLogs")["FlowLogs"] == []


def test_flow_log_that_cannot_be_made_fails_the_start(ecs):
    """A task whose tags ask for a flow log that netd refuses does not run unlogged: it stops with
    ResourceInitializationError, and nothing of its network is left (tests/chaos found tasks running
    without their flow log after a netd kill -9 between CreateTaskNetwork and CreateFlowLogs)."""
    ecs.call("CreateCluster", clusterName="badlog", tags=[{"key": "ecsbox:flow-logs", "value": "SOME"}])
    ecs.call("RegisterTaskDefinition", **web_td())
    arn = ecs.call("RunTask", cluster="badlog", taskDefinition="web")["tasks"][0]["taskArn"]
    t = ecs.wait_task(arn, "STOPPED", cluster="badlog", timeout=30)
    assert t["stopCode"] == "TaskFailedToStart", t
    assert t["stoppedReason"].startswith("ResourceInitializationError: failed to create the flow log"), t
    assert not [n for n in ecs.sb.run(["ip", "netns", "list"]).stdout.split() if n.startswith("ebx-task-")]
    assert not [e for e in ecs.netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"]
                if e["Attachment"]["Netns"].startswith("ebx-task-")]
    assert not monitors(ecs)


def test_attributes_and_draining(ecs):
    """PutAttributes/ListAttributes/DeleteAttributes on container instances steer memberOf placement;
    a DRAINING instance takes no new tasks."""
    ecs.call("CreateCluster", clusterName="attr")
    a = register_instance(ecs, "attr", "m5.large", az="us-east-1a")["containerInstanceArn"]
    b = register_instance(ecs, "attr", "m5.large", az="us-east-1b")["containerInstanceArn"]
    r = ecs.call("PutAttributes", cluster="attr", attributes=[
        {"name": "tier", "value": "gold", "targetType": "container-instance", "targetId": b}])
    assert r["attributes"] == [{"name": "tier", "value": "gold", "targetType": "container-instance", "targetId": b}]
    listed = ecs.call("ListAttributes", cluster="attr", targetType="container-instance", attributeName="tier")["attributes"]
    assert listed == r["attributes"]
    small = web_td(family="small", mode="none", cpu="128", memory="64")
    small["containerDefinitions"][0]["portMappings"] = []
    ecs.call("RegisterTaskDefinition", **small)
    r = ecs.call("RunTask", cluster="attr", taskDefinition="small", count=3,
                 placementConstraints=[{"type": "memberOf", "expression": "attribute:tier == gold"}])
    assert {t["containerInstanceArn"] for t in r["tasks"]} == {b}, r
    e = ecs.err("PutAttributes", cluster="attr", attributes=[{"name": "ecs.os-type", "value": "x", "targetId": a}])
    assert e.type == "InvalidParameterException" and "reserved" in e.message
    e = ecs.err("PutAttributes", cluster="attr", attributes=[{"name": "x", "targetId": "0123456789abcdef0123456789abcdef"}])
    assert e.type == "TargetNotFoundException"
    ecs.call("DeleteAttributes", cluster="attr", attributes=[{"name": "tier", "targetId": b}])
    assert ecs.call("ListAttributes", cluster="attr", targetType="container-instance", attributeName="tier")["attributes"] == []
    r = ecs.call("RunTask", cluster="attr", taskDefinition="small",
                 placementConstraints=[{"type": "memberOf", "expression": "attribute:tier == gold"}])
    assert r["tasks"] == [] and r["failures"], r
    # drain b: new tasks go to a only; back to ACTIVE, b takes tasks again
    d = ecs.call("UpdateContainerInstancesState", cluster="attr", containerInstances=[b], status="DRAINING")
    assert d["containerInstances"][0]["status"] == "DRAINING" and d["failures"] == []
    r = ecs.call("RunTask", cluster="attr", taskDefinition="small", count=4)
    assert {t["containerInstanceArn"] for t in r["tasks"]} == {a}, r
    e = ecs.err("UpdateContainerInstancesState", cluster="attr", containerInstances=[b], status="PAUSED")
    assert e.type == "InvalidParameterException"
    ecs.call("UpdateContainerInstancesState", cluster="attr", containerInstances=[b], status="ACTIVE")
    r = ecs.call("RunTask", cluster="attr", taskDefinition="small", count=2, group="fresh",
                 placementConstraints=[{"type": "distinctInstance"}])
    assert {t["containerInstanceArn"] for t in r["tasks"]} == {a, b}, r


def test_start_task_on_given_instances(ecs):
    """StartTask places one task on each named instance, whatever the strategy would pick."""
    ecs.call("CreateCluster", clusterName="st")
    a = register_instance(ecs, "st", "m5.large", az="us-east-1a")["containerInstanceArn"]
    b = register_instance(ecs, "st", "m5.large", az="us-east-1b")["containerInstanceArn"]
    small = web_td(family="small", mode="none", cpu="128", memory="64")
    small["containerDefinitions"][0]["portMappings"] = []
    ecs.call("RegisterTaskDefinition", **small)
    r = ecs.call("StartTask", cluster="st", taskDefinition="small", containerInstances=[b, b.rsplit("/", 1)[1]],
                 startedBy="me")
    assert [t["containerInstanceArn"] for t in r["tasks"]] == [b, b] and r["failures"] == []
    ecs.wait_task(r["tasks"][0]["taskArn"], cluster="st")
    assert ecs.call("ListTasks", cluster="st", startedBy="me", containerInstance=a)["taskArns"] == []
    e = ecs.err("StartTask", cluster="st", taskDefinition="small", containerInstances=["0123456789abcdef0123456789abcdef"])
    assert e.type == "InvalidParameterException" and "not found" in e.message
    e = ecs.err("StartTask", cluster="st", taskDefinition="small", containerInstances=[a], count=2)
    assert e.type == "InvalidParameterException" and "count" in e.message


def test_netd_crash_while_tasks_run(ecs):
    """kill -9 netd under running tasks: they stay reachable; a RunTask meanwhile is refused whole
    (ServerException naming the unreachable network daemon); a StopTask meanwhile waits for netd; after
    netd restarts, stopping everything leaks nothing."""
    open_port_80(ecs)
    ecs.call("RegisterTaskDefinition", **web_td())
    arns = [t["taskArn"] for t in ecs.call("RunTask", taskDefinition="web", count=3)["tasks"]]
    tasks = [ecs.wait_task(a) for a in arns]
    ecs.netd.kill9()
    for t in tasks:
        assert fetch(ecs, eni_of(t)["privateIPv4Address"]) == task_id(t["taskArn"])
    before = ecs.call("ListTasks", desiredStatus="RUNNING")["taskArns"]
    e = ecs.err("RunTask", taskDefinition="web")
    assert e.type == "ServerException" and "network daemon unreachable" in e.message, e
    assert ecs.call("ListTasks", desiredStatus="RUNNING")["taskArns"] == before
    # a stop while netd is down waits for it, then releases
    ecs.call("StopTask", task=arns[0])
    time.sleep(1)
    ecs.netd.start()
    for a in arns[1:]:
        ecs.call("StopTask", task=a)
    for a in arns:
        ecs.wait_task(a, "STOPPED", timeout=60)
    wait_for(lambda: not [n for n in ecs.sb.run(["ip", "netns", "list"]).stdout.split() if n.startswith("ebx-task-")], 30,
             what="task namespaces released")
    assert not [e for e in ecs.netd.ok("DescribeNetworkInterfaces")["NetworkInterfaces"]
                if e["Attachment"]["Netns"].startswith("ebx-task-")]


def test_placement_strategies_end_to_end(ecs):
    """Four instances in two zones: spread by zone splits evenly, binpack on memory fills one
    instance first, memberOf on the instance type keeps to that type."""
    ecs.call("CreateCluster", clusterName="pl")
    insts = {}
    for az, itype in (("us-east-1a", "m5.large"), ("us-east-1a", "c5.large"), ("us-east-1b", "m5.large"),
                      ("us-east-1b", "c5.large")):
        ci = register_instance(ecs, "pl", itype, az=az)
        insts[ci["containerInstanceArn"]] = (az, itype)
    td = web_td(family="small", mode="none", cpu="128", memory="256")
    td["containerDefinitions"][0]["portMappings"] = []
    ecs.call("RegisterTaskDefinition", **td)

    def run(n, group, **kw):
        r = ecs.call("RunTask", cluster="pl", taskDefinition="small", count=n, group=group, **kw)
        assert r["failures"] == [], r
        return [insts[t["containerInstanceArn"]] for t in r["tasks"]], [t["containerInstanceArn"] for t in r["tasks"]]

    placed, _ = run(8, "spread", placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"}])
    assert sorted(az for az, _ in placed).count("us-east-1a") == 4
    _, arns = run(6, "binpack", placementStrategy=[{"type": "binpack", "field": "memory"}])
    assert len(set(arns)) == 1, arns          # 6 x 256 MiB fit on the fullest instance
    placed, _ = run(4, "member", placementConstraints=[{"type": "memberOf",
                                                       "expression": "attribute:ecs.instance-type == c5.large"}])
    assert {t for _, t in placed} == {"c5.large"}
    e = ecs.err("RunTask", cluster="pl", taskDefinition="small",
                placementConstraints=[{"type": "memberOf", "expression": "attribute:ecs.instance-type =="}])
    assert e.type == "InvalidParameterException", e
    e = ecs.err("RunTask", cluster="pl", taskDefinition="small", placementStrategy=[{"type": "pack", "field": "cpu"}])
    assert e.type == "InvalidParameterException", e
