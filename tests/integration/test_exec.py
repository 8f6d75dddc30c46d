"""ECS Exec: ExecuteCommand's checks and answer, and `ecsbox ecs execute-command` running the command in
the container: its root, hostname, user, capabilities, environment and namespaces; the exit status passed
on; refused for a task started without enableExecuteCommand."""
import json

from sandbox import CLI


def run_task(ecs, family, exec_enabled=True, user=None):
    c = {"name": "app", "image": "busybox", "memory": 64, "stopTimeout": 2, "command": ["sleep", "300"],
         "environment": [{"name": "GREETING", "value": "hello from the definition"}]}
    if user:
        c["user"] = user
    ecs.call("RegisterTaskDefinition", family=family, networkMode="awsvpc", containerDefinitions=[c])
    r = ecs.call("RunTask", taskDefinition=family, enableExecuteCommand=exec_enabled)
    assert r["failures"] == [], r
    return ecs.wait_task(r["tasks"][0]["taskArn"])


def cli_exec(ecs, task_arn, command, check=True):
    return ecs.sb.run([CLI, "ecs", "execute-command", "--task", task_arn.rsplit("/", 1)[1], "--container", "app",
                       "--command", command, "--interactive"], check=check, timeout=60)


def test_execute_command_runs_in_the_container(ecs):
    t = run_task(ecs, "ex", user="65534:65534")
    assert t["enableExecuteCommand"] is True
    att = {d["name"]: d["value"] for d in t["attachments"][0]["details"]}
    # the API's answer: ECS's session shape (the AWS CLI would hand it to the Session Manager plugin)
    a = ecs.call("ExecuteCommand", task=t["taskArn"], container="app", command="id", interactive=True)
    assert a["taskArn"] == t["taskArn"] and a["containerName"] == "app" and a["interactive"] is True
    assert a["containerArn"] == t["containers"][0]["containerArn"]
    assert a["session"]["sessionId"].startswith("ecs-execute-command-") and a["session"]["streamUrl"].startswith("wss://")
    # the command, through the CLI, in the container
    assert cli_exec(ecs, t["taskArn"], "id").stdout.split()[0].startswith("uid=65534")
    assert cli_exec(ecs, t["taskArn"], "hostname").stdout.strip() == att["privateDnsName"]
    assert "nameserver 172.31.0.2" in cli_exec(ecs, t["taskArn"], "cat /etc/resolv.conf").stdout
    # the image's root, not the host's: busybox is the only binary there
    assert cli_exec(ecs, t["taskArn"], "ls /bin/busybox").returncode == 0
    assert cli_exec(ecs, t["taskArn"], "ls /usr/bin/python3", check=False).returncode != 0
    # the container's environment and its PID namespace (its sleep is PID 1 there)
    env = cli_exec(ecs, t["taskArn"], "sh -c 'echo $GREETING; echo $ECS_CONTAINER_METADATA_URI_V4'").stdout.splitlines()
    assert env[0] == "hello from the definition" and env[1].startswith("http://169.254.170.2/v4/")
    assert "sleep" in cli_exec(ecs, t["taskArn"], "cat /proc/1/cmdline").stdout
    # the container's capabilities (its own process's set, far from root's full one)
    def cap(path, field):
        return [ln for ln in cli_exec(ecs, t["taskArn"], f"cat {path}").stdout.splitlines() if ln.startswith(field)][0].split()[1]
    assert cap("/proc/self/status", "CapBnd") == cap("/proc/1/status", "CapBnd") != "000001ffffffffff"
    assert int(cap("/proc/self/status", "CapBnd"), 16) & (1 << 21) == 0      # no CAP_SYS_ADMIN
    # the exit status is the command's
    assert cli_exec(ecs, t["taskArn"], "sh -c 'exit 3'", check=False).returncode == 3


def test_execute_command_refusals(ecs):
    t = run_task(ecs, "ex-off", exec_enabled=False)
    e = ecs.err("ExecuteCommand", task=t["taskArn"], command="id", interactive=True)
    assert e.type == "InvalidParameterException" and "execute command was not enabled" in e.message
    p = cli_exec(ecs, t["taskArn"], "id", check=False)
    assert p.returncode != 0 and "execute command was not enabled" in p.stderr
    t2 = run_task(ecs, "ex-on")
    e = ecs.err("ExecuteCommand", task=t2["taskArn"], command="id", interactive=False)
    assert e.type == "InvalidParameterException" and "Interactive is the only mode" in e.message
    e = ecs.err("ExecuteCommand", task=t2["taskArn"], container="nope", command="id", interactive=True)
    assert e.type == "InvalidParameterException" and "nope" in e.message
    e = ecs.err("ExecuteCommand", task="0123456789abcdef0123456789abcdef", command="id", interactive=True)
    assert e.type == "InvalidParameterException"
    ecs.call("StopTask", task=t2["taskArn"])
    ecs.wait_task(t2["taskArn"], "STOPPED")
    e = ecs.err("ExecuteCommand", task=t2["taskArn"], command="id", interactive=True)
    assert e.type == "InvalidParameterException" and "not RUNNING" in e.message
