"""The body of `make demo`, run inside demo.sh's sandbox: everything through the ecsbox CLI."""
import json
import os
import subprocess
import sys
import time

BUILD = os.environ["BUILD"]
STATE = os.environ["STATE"]
N_AWSVPC = int(os.environ.get("DEMO_TASKS", "20"))
N_BRIDGE = int(os.environ.get("DEMO_BRIDGE_TASKS", "4"))


def ecsbox(*args, quiet=False):
    cmd = [os.path.join(BUILD, "ecsbox")] + list(args)
    if not quiet:
        print("$ ecsbox " + " ".join(a if " " not in a else repr(a) for a in args))
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"ecsbox {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return json.loads(p.stdout) if p.stdout.strip().startswith("{") else p.stdout


def web(family, mode, port_mapping):
    return {"family": family, "networkMode": mode, "cpu": "256", "memory": "128",
            # an ecsbox extension: tasks of this definition get a VPC flow log on their ENI (1 s windows)
            "tags": [{"key": "ecsbox:flow-logs", "value": "ALL"}, {"key": "ecsbox:flow-logs-interval", "value": "1"}],
            "containerDefinitions": [{
                "name": "web", "image": "busybox", "essential": True, "stopTimeout": 2,
                "command": ["sh", "-c", "mkdir -p /tmp/www && echo \"hello from task $ECSBOX_TASK_ID\" "
                            "> /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www"],
                "portMappings": [port_mapping]}]}


def main():
    t0 = time.monotonic()
    sg = ecsbox("ec2", "describe-security-groups", quiet=True)["SecurityGroups"][0]["GroupId"]
    # The host's traffic arrives from netd's uplink range, outside the VPC: open :80 to it, as on AWS.
    ecsbox("ec2", "authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "80",
           "--cidr", "100.64.0.0/10")
    # ... and the container instances' dynamic host ports (bridge mode), which their group guards
    ecsbox("ec2", "authorize-security-group-ingress", "--group-id", sg, "--protocol", "tcp", "--port", "49153-65535",
           "--cidr", "100.64.0.0/10")
    for family, mode, pm in (("web", "awsvpc", {"containerPort": 80}),
                             ("web-bridge", "bridge", {"containerPort": 80, "hostPort": 0})):
        path = os.path.join(STATE, family + ".json")
        with open(path, "w") as f:
            json.dump(web(family, mode, pm), f)
        ecsbox("ecs", "register-task-definition", "--cli-input-json", "file://" + path)
    arns = []
    left = N_AWSVPC
    while left > 0:
        n = min(left, 10)
        r = ecsbox("ecs", "run-task", "--task-definition", "web", "--count", str(n))
        arns += [t["taskArn"] for t in r["tasks"]]
        left -= n
    if N_BRIDGE:
        ecsbox("ecs", "create-cluster", "--cluster-name", "demo", quiet=True)
        for az in ("us-east-1a", "us-east-1b"):
            subnet = [s for s in ecsbox("ec2", "describe-subnets", quiet=True)["Subnets"]
                      if s["AvailabilityZone"] == az][0]["SubnetId"]
            ecsbox("ecs", "register-container-instance", "--cluster", "demo", "--instance-type", "t3.medium",
                   "--subnet-id", subnet)
        r = ecsbox("ecs", "run-task", "--cluster", "demo", "--task-definition", "web-bridge", "--count", str(N_BRIDGE),
                   "--placement-strategy", "type=spread,field=instanceId")
        bridge = [t["taskArn"] for t in r["tasks"]]
    else:
        bridge = []
    # wait until every task runs
    deadline = time.monotonic() + 60
    tasks = {}
    for cluster, group in (("default", arns), ("demo", bridge)):
        for i in range(0, len(group), 100):
            while True:
                d = ecsbox("ecs", "describe-tasks", "--cluster", cluster, "--tasks", *group[i:i + 100], quiet=True)
                if all(t["lastStatus"] == "RUNNING" for t in d["tasks"]) or time.monotonic() > deadline:
                    break
                if any(t["lastStatus"] == "STOPPED" for t in d["tasks"]):
                    bad = [t for t in d["tasks"] if t["lastStatus"] == "STOPPED"][0]
                    sys.exit(f"task stopped: {bad.get('stoppedReason')}")
                time.sleep(0.1)
            tasks.update({t["taskArn"]: (cluster, t) for t in d["tasks"]})
    ready = time.monotonic() - t0
    instances = {}
    if bridge:
        ci = ecsbox("ecs", "list-container-instances", "--cluster", "demo", quiet=True)["containerInstanceArns"]
        for c in ecsbox("ecs", "describe-container-instances", "--cluster", "demo", "--container-instances", *ci,
                        quiet=True)["containerInstances"]:
            instances[c["containerInstanceArn"]] = {a["name"]: a.get("value") for a in c["attributes"]}
    print()
    print(f"{'TASK':<32}  {'MODE':<6}  {'ENI':<21}  {'IP':<12}  {'MAC':<17}  {'PORT':<5}  HTTP ANSWER")
    ok = 0
    for arn in arns + bridge:
        cluster, t = tasks[arn]
        tid = arn.rsplit("/", 1)[1]
        if t["attachments"]:
            d = {x["name"]: x["value"] for x in t["attachments"][0]["details"]}
            mode, eni, ip, mac, port = "awsvpc", d["networkInterfaceId"], d["privateIPv4Address"], d["macAddress"], 80
        else:
            inst = instances[t["containerInstanceArn"]]
            b = t["containers"][0]["networkBindings"][0]
            mode, eni, ip, mac, port = ("bridge", inst["ecsbox.network-interface-id"], inst["ecsbox.private-ipv4-address"],
                                        "(instance)", b["hostPort"])
        p = subprocess.run(["curl", "-s", "--max-time", "3", f"http://{ip}:{port}/"], capture_output=True, text=True)
        ans = p.stdout.strip() if p.returncode == 0 else f"(no answer: curl {p.returncode})"
        ok += ans == f"hello from task {tid}"
        print(f"{tid:<32}  {mode:<6}  {eni:<21}  {ip:<12}  {mac:<17}  {port:<5}  {ans}")
    print(f"\n{ok} of {len(arns) + len(bridge)} tasks answered with their own task id; all running "
          f"{ready:.1f} s after the first call\n")
    # the first task's flow log: the demo's own HTTP fetch, in the AWS VPC Flow Logs record format
    first = arns[0].rsplit("/", 1)[1]
    deadline = time.monotonic() + 10
    out = ""
    while time.monotonic() < deadline:
        out = ecsbox("ecs", "flow-logs", "--task", first, quiet=True)
        if len(out.splitlines()) >= 3:
            break
        time.sleep(0.3)
    print(f"$ ecsbox ecs flow-logs --task {first}")
    print("\n".join(out.splitlines()[:5]) + "\n")
    print("$ ecsbox ps --cluster demo")
    print(ecsbox("ps", "--cluster", "demo", quiet=True), end="")
    # clean up: stop everything and check that nothing is left
    for arn in arns:
        ecsbox("ecs", "stop-task", "--task", arn, quiet=True)
    for arn in bridge:
        ecsbox("ecs", "stop-task", "--cluster", "demo", "--task", arn, quiet=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        d = []
        for i in range(0, len(arns), 100):
            d += ecsbox("ecs", "describe-tasks", "--tasks", *arns[i:i + 100], quiet=True)["tasks"]
        if bridge:
            d += ecsbox("ecs", "describe-tasks", "--cluster", "demo", "--tasks", *bridge, quiet=True)["tasks"]
        if all(t["lastStatus"] == "STOPPED" for t in d):
            break
        time.sleep(0.2)
    left = [n for n in os.listdir("/run/netns") if n.startswith("ebx-task-")]
    print(f"\nstopped all tasks: {len(left)} task namespaces left")
    sys.exit(0 if ok == len(arns) + len(bridge) and not left else 1)


main()
