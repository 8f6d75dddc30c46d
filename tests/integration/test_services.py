"""ecsboxd services end to end: CreateService/UpdateService/DeleteService, the REPLICA and DAEMON
schedulers, rolling deployments within their bounds, the circuit breaker, events and restarts.

Each test runs netd (with its default VPC) and ecsboxd in a private sandbox.
"""
import os
import json
import time

import pytest

from sandbox import CLI, wait_for
from test_ecsboxd import eni_netns, register_instance, task_id, web_td


def svc(ecs, name="web", cluster="default"):
    s = ecs.call("DescribeServices", cluster=cluster, services=[name])["services"]
    assert len(s) == 1, s
    return s[0]


def live_tasks(ecs, name="web", cluster="default"):
    """The service's tasks with desiredStatus RUNNING, described."""
    arns = ecs.call("ListTasks", cluster=cluster, serviceName=name)["taskArns"]
    out = []
    for i in range(0, len(arns), 100):
        out += ecs.call("DescribeTasks", cluster=cluster, tasks=arns[i:i + 100])["tasks"]
    return out


def running(tasks):
    return [t for t in tasks if t["lastStatus"] == "RUNNING"]


def messages(s):
    return [e["message"] for e in s["events"]]


def wait_steady(ecs, name="web", count=None, timeout=60, cluster="default"):
    def probe():
        s = svc(ecs, name, cluster)
        if (len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED"
                and s["runningCount"] == s["desiredCount"] and s["pendingCount"] == 0
                and (count is None or s["desiredCount"] == count)):
            return s
        return None
    return wait_for(probe, timeout, interval=0.2, what=f"service {name} steady")


def create(ecs, name="web", td="web", count=3, **extra):
    req = dict(serviceName=name, taskDefinition=td, desiredCount=count)
    req.update(extra)
    return ecs.call("CreateService", **req)["service"]


def test_replica_service_steady_and_replaces_killed_task(ecs):
    ecs.call("RegisterTaskDefinition", **web_td())
    s = create(ecs)
    assert s["serviceArn"] == "arn:aws:ecs:us-east-1:000000000000:service/default/web"
    assert s["status"] == "ACTIVE" and s["desiredCount"] == 3 and s["schedulingStrategy"] == "REPLICA"
    assert s["deploymentConfiguration"]["maximumPercent"] == 200
    assert s["deploymentConfiguration"]["minimumHealthyPercent"] == 100
    d = s["deployments"][0]
    assert d["id"].startswith("ecs-svc/") and len(d["id"]) == len("ecs-svc/") + 19
    assert d["status"] == "PRIMARY" and d["rolloutState"] == "IN_PROGRESS"
    s = wait_steady(ecs, count=3)
    msgs = messages(s)
    assert msgs[0] == "(service web) has reached a steady state.", msgs
    assert any(m.startswith("(service web) has started 3 tasks: (task ") for m in msgs), msgs
    tasks = live_tasks(ecs)
    assert len(running(tasks)) == 3
    for t in tasks:
        assert t["group"] == "service:web" and t["startedBy"] == d["id"]
        assert t["attachments"][0]["type"] == "ElasticNetworkInterface"
    assert ecs.call("ListServices")["serviceArns"] == [s["serviceArn"]]

    # killed from outside: replaced
    victim = tasks[0]
    pids = ecs.sb.run(["sh", "-c", f"ip netns pids {eni_netns(ecs, victim)}"]).stdout.split()
    assert pids
    ecs.sb.run(["kill", "-9"] + pids)
    t = ecs.wait_task(victim["taskArn"], "STOPPED", timeout=40)
    assert t["stopCode"] == "EssentialContainerExited"

    def replaced():
        ts = running(live_tasks(ecs))
        return ts if len(ts) == 3 and victim["taskArn"] not in [x["taskArn"] for x in ts] else None
    wait_for(replaced, 40, interval=0.2, what="replacement task")
    s = wait_steady(ecs, count=3)
    assert s["deployments"][0]["failedTasks"] == 1

    # scale up and down without a new deployment
    dep = s["deployments"][0]["id"]
    ecs.call("UpdateService", service="web", desiredCount=5)
    s = wait_steady(ecs, count=5)
    assert len(running(live_tasks(ecs))) == 5 and s["deployments"][0]["id"] == dep
    ecs.call("UpdateService", service="web", desiredCount=1)
    s = wait_steady(ecs, count=1)
    assert len(running(live_tasks(ecs))) == 1
    assert any(m.startswith("(service web) has stopped 4 running tasks: (task ") for m in messages(s)), messages(s)
    stopped = ecs.call("ListTasks", serviceName="web", desiredStatus="STOPPED")["taskArns"]
    st = ecs.call("DescribeTasks", tasks=stopped)["tasks"]
    assert sum(1 for x in st if x["stopCode"] == "ServiceSchedulerInitiated") == 4
    assert all(x["stoppedReason"] == f"Scaling activity initiated by (deployment {dep})"
               for x in st if x["stopCode"] == "ServiceSchedulerInitiated")


def test_rolling_update_within_bounds(ecs):
    ecs.call("RegisterTaskDefinition", **web_td())
    ecs.call("RegisterTaskDefinition", **web_td())  # web:2, same containers
    create(ecs, td="web:1", count=4,
           deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 150})
    wait_steady(ecs, count=4)
    s = ecs.call("UpdateService", service="web", taskDefinition="web:2")["service"]
    assert [d["status"] for d in s["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert s["deployments"][0]["taskDefinition"].endswith(":2")
    samples, done, deadline = 0, False, time.monotonic() + 90
    seen_new = 0
    while time.monotonic() < deadline:
        ts = live_tasks(ecs)
        run = running(ts)
        assert len(run) >= 2, f"below minimumHealthyPercent: {len(run)} running"
        assert len(ts) <= 6, f"above maximumPercent: {len(ts)} tasks"
        seen_new = max(seen_new, sum(1 for t in run if t["taskDefinitionArn"].endswith(":2")))
        samples += 1
        s = svc(ecs)
        if (len(s["deployments"]) == 1 and s["deployments"][0]["rolloutState"] == "COMPLETED"
                and s["runningCount"] == 4):
            done = True
            break
        time.sleep(0.2)
    assert done, svc(ecs)
    assert samples > 5
    ts = running(live_tasks(ecs))
    assert len(ts) == 4 and all(t["taskDefinitionArn"].endswith("web:2") for t in ts)
    assert s["taskDefinition"].endswith("web:2")
    assert any("deployment completed" in m for m in messages(s))


def test_circuit_breaker_rolls_back(ecs):
    ecs.call("RegisterTaskDefinition", **web_td())
    bad = web_td()
    bad["containerDefinitions"][0]["command"] = ["sh", "-c", "exit 1"]
    ecs.call("RegisterTaskDefinition", **bad)  # web:2 exits at once
    create(ecs, td="web:1", count=2,
           deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    s = wait_steady(ecs, count=2)
    good = s["deployments"][0]["id"]
    good_tasks = sorted(t["taskArn"] for t in live_tasks(ecs))
    ecs.call("UpdateService", service="web", taskDefinition="web:2")

    def rolled_back():
        s = svc(ecs)
        return s if any(m == f"(service web) rolling back to deployment {good}." for m in messages(s)) else None
    s = wait_for(rolled_back, 90, interval=0.2, what="rollback event")
    s = wait_steady(ecs, count=2)
    # the failed deployment went INACTIVE and left the list; the good one is PRIMARY again
    assert [d["id"] for d in s["deployments"]] == [good] and s["taskDefinition"].endswith("web:1")
    msgs = messages(s)
    failed = [m for m in msgs if m.endswith("deployment failed: tasks failed to start.")]
    assert len(failed) == 1, msgs
    bad_dep = failed[0].split("(deployment ")[1].split(")")[0]
    stopped = ecs.call("DescribeTasks", tasks=ecs.call("ListTasks", startedBy=bad_dep, desiredStatus="STOPPED")["taskArns"])["tasks"]
    assert sum(1 for t in stopped if t["stopCode"] == "EssentialContainerExited") >= 3, stopped
    assert all(t["taskDefinitionArn"].endswith("web:2") for t in stopped)
    # the old revision's tasks never went away (minimumHealthyPercent 100)
    assert sorted(t["taskArn"] for t in live_tasks(ecs)) == good_tasks

    # without rollback the failed deployment stays PRIMARY and FAILED, launches nothing more
    ecs.call("UpdateService", service="web", taskDefinition="web:2",
             deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": False}})

    def failed_primary():
        s = svc(ecs)
        d = s["deployments"][0]
        return (s, d) if d["rolloutState"] == "FAILED" else None
    s, d = wait_for(failed_primary, 90, interval=0.2, what="deployment FAILED")
    # at the threshold (3), plus at most the one launched beside the last failure
    assert d["status"] == "PRIMARY" and 3 <= d["failedTasks"] <= 4, d
    assert d["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    time.sleep(3)
    n = svc(ecs)["deployments"][0]["failedTasks"]
    time.sleep(3)
    assert svc(ecs)["deployments"][0]["failedTasks"] == n <= 4
    assert sorted(t["taskArn"] for t in live_tasks(ecs)) == good_tasks


def test_daemon_service_follows_instances(ecs):
    ecs.call("CreateCluster", clusterName="ec2")
    for _ in range(2):
        register_instance(ecs, "ec2", "t3.small")
    ecs.call("RegisterTaskDefinition", **web_td(family="agent", mode="host", cpu="128", memory="64"))
    s = ecs.call("CreateService", cluster="ec2", serviceName="agent", taskDefinition="agent",
                 schedulingStrategy="DAEMON")["service"]
    assert s["schedulingStrategy"] == "DAEMON"
    assert s["deploymentConfiguration"]["maximumPercent"] == 100
    s = wait_steady(ecs, "agent", count=2, cluster="ec2")
    ts = live_tasks(ecs, "agent", "ec2")
    assert len({t["containerInstanceArn"] for t in ts}) == 2
    ci = register_instance(ecs, "ec2", "t3.small")
    s = wait_steady(ecs, "agent", count=3, cluster="ec2", timeout=30)
    ts = running(live_tasks(ecs, "agent", "ec2"))
    assert len(ts) == 3 and ci["containerInstanceArn"] in {t["containerInstanceArn"] for t in ts}
    # an instance that leaves takes its task with it; the service shrinks
    ecs.call("DeregisterContainerInstance", cluster="ec2", containerInstance=ci["containerInstanceArn"], force=True)
    s = wait_steady(ecs, "agent", count=2, cluster="ec2", timeout=30)
    assert len(running(live_tasks(ecs, "agent", "ec2"))) == 2


def test_kill9_mid_deployment_completes_without_duplicates(ecs):
    ecs.call("RegisterTaskDefinition", **web_td())
    ecs.call("RegisterTaskDefinition", **web_td())
    create(ecs, td="web:1", count=3)
    wait_steady(ecs, count=3)
    ecs.call("UpdateService", service="web", taskDefinition="web:2")
    wait_for(lambda: any(t["taskDefinitionArn"].endswith(":2") for t in live_tasks(ecs)), 20, interval=0.05,
             what="first task of the new deployment")
    ecs.kill9()
    ecs.start()
    s = wait_steady(ecs, count=3, timeout=90)
    assert s["taskDefinition"].endswith("web:2")
    ts = live_tasks(ecs)
    assert len(ts) == 3 and all(t["taskDefinitionArn"].endswith("web:2") for t in ts)
    dep = s["deployments"][0]["id"]
    # every task the new deployment ever started: exactly 3 (no duplicates after the restart)
    started = ecs.call("ListTasks", startedBy=dep)["taskArns"] + \
        ecs.call("ListTasks", startedBy=dep, desiredStatus="STOPPED")["taskArns"]
    assert len(started) == 3, started


def test_delete_service_force_stops_tasks(ecs):
    ecs.call("RegisterTaskDefinition", **web_td())
    create(ecs, count=2)
    wait_steady(ecs, count=2)
    e = ecs.err("DeleteService", service="web")
    assert e.type == "InvalidParameterException" and "scaled above 0" in e.message
    s = ecs.call("DeleteService", service="web", force=True)["service"]
    assert s["status"] == "DRAINING"
    assert ecs.call("ListServices")["serviceArns"] == []
    e = ecs.err("UpdateService", service="web", desiredCount=1)
    assert e.type in ("ServiceNotActiveException",)

    def inactive():
        x = svc(ecs)
        return x if x["status"] == "INACTIVE" else None
    wait_for(inactive, 40, interval=0.2, what="service INACTIVE")
    assert ecs.call("ListTasks", serviceName="web")["taskArns"] == []
    st = ecs.call("DescribeTasks", tasks=ecs.call("ListTasks", serviceName="web", desiredStatus="STOPPED")["taskArns"])
    assert len(st["tasks"]) == 2 and all(t["lastStatus"] == "STOPPED" for t in st["tasks"])
    # the name can be used again
    create(ecs, count=1)
    wait_steady(ecs, count=1)


def test_create_idempotent_and_errors(ecs):
    ecs.call("RegisterTaskDefinition", **web_td())
    a = create(ecs, count=0)
    b = create(ecs, count=0)
    assert a["serviceArn"] == b["serviceArn"] and a["createdAt"] == b["createdAt"]
    cases = [
        ("CreateService", dict(cluster="nope", serviceName="x", taskDefinition="web", desiredCount=1),
         "ClusterNotFoundException", "Cluster not found."),
        ("CreateService", dict(serviceName="web", taskDefinition="web", desiredCount=2),
         "InvalidParameterException", "Creation of service was not idempotent."),
        ("CreateService", dict(serviceName="x", taskDefinition="web", desiredCount=-1),
         "InvalidParameterException", "desiredCount"),
        ("CreateService", dict(serviceName="x", taskDefinition="web", desiredCount=1,
                               placementStrategy=[{"type": "pack", "field": "cpu"}]),
         "InvalidParameterException", "pack"),
        ("CreateService", dict(serviceName="x", taskDefinition="web", desiredCount=1, schedulingStrategy="ALL"),
         "InvalidParameterException", "schedulingStrategy"),
        ("CreateService", dict(serviceName="x", taskDefinition="web", desiredCount=1, bogus=1),
         "InvalidParameterException", "bogus"),
        ("CreateService", dict(serviceName="x", taskDefinition="nope", desiredCount=1),
         "InvalidParameterException", "TaskDefinition not found."),
        ("CreateService", dict(serviceName="bad name", taskDefinition="web", desiredCount=1),
         "InvalidParameterException", "serviceName"),
        ("CreateService", dict(serviceName="x", taskDefinition="web", desiredCount=1,
                               deploymentConfiguration={"maximumPercent": 50, "minimumHealthyPercent": 80}),
         "InvalidParameterException", "maximumPercent"),
        ("CreateService", dict(serviceName="x", desiredCount=1, taskDefinition="web",
                               networkConfiguration={"awsvpcConfiguration": {"subnets": []}}),
         "InvalidParameterException", "subnets"),
        ("UpdateService", dict(service="nope", desiredCount=1), "ServiceNotFoundException", "Service not found."),
        ("UpdateService", dict(service="web", desiredCount="3"), "SerializationException", "desiredCount"),
        ("DeleteService", dict(service="nope"), "ServiceNotFoundException", "Service not found."),
        ("DescribeServices", dict(cluster="nope", services=["web"]), "ClusterNotFoundException", "Cluster not found."),
        ("ListServices", dict(schedulingStrategy="X"), "InvalidParameterException", "schedulingStrategy"),
    ]
    for op, req, typ, msg in cases:
        e = ecs.err(op, **req)
        assert e.type == typ and msg in e.message, (op, req, e.type, e.message)
    d = ecs.call("DescribeServices", services=["web", "nope"])
    assert [s["serviceName"] for s in d["services"]] == ["web"]
    assert d["failures"] == [{"arn": "arn:aws:ecs:us-east-1:000000000000:service/default/nope", "reason": "MISSING"}]
    assert ecs.call("ListServices")["serviceArns"] == [a["serviceArn"]]
    # a cluster with a service can't be deleted
    ecs.call("CreateCluster", clusterName="c2")
    ecs.call("CreateService", cluster="c2", serviceName="idle", taskDefinition="web", desiredCount=0)
    assert ecs.call("DescribeClusters", clusters=["c2"])["clusters"][0]["activeServicesCount"] == 1
    e = ecs.err("DeleteCluster", cluster="c2")
    assert e.type == "ClusterContainsServicesException", e
    ecs.call("DeleteService", cluster="c2", service="idle")
    wait_for(lambda: svc(ecs, "idle", "c2")["status"] == "INACTIVE", 20, interval=0.2, what="idle INACTIVE")
    assert ecs.call("DeleteCluster", cluster="c2")["cluster"]["status"] == "INACTIVE"


def test_aws_cli_and_events_cli(ecs):
    tdfile = os.path.join(ecs.sb.tmp, "web.json")
    with open(tdfile, "w") as f:
        json.dump(web_td(), f)
    ecs.aws("ecs", "register-task-definition", "--cli-input-json", f"file://{tdfile}")
    s = ecs.aws("ecs", "create-service", "--service-name", "web", "--task-definition", "web",
                "--desired-count", "2", "--deployment-configuration",
                "minimumHealthyPercent=50,maximumPercent=200,deploymentCircuitBreaker={enable=true,rollback=true}")["service"]
    assert s["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    p = ecs.aws("ecs", "wait", "services-stable", "--services", "web", check=False)
    assert p.returncode == 0, p.stderr
    d = ecs.aws("ecs", "describe-services", "--services", "web")["services"][0]
    assert d["runningCount"] == 2
    # the waiter needs runningCount == desiredCount; the steady state also needs the tasks healthy (2 s)
    wait_steady(ecs, count=2)
    d = ecs.aws("ecs", "describe-services", "--services", "web")["services"][0]
    assert d["events"][0]["message"] == "(service web) has reached a steady state."
    assert ecs.aws("ecs", "list-services")["serviceArns"] == [s["serviceArn"]]
    out = ecs.sb.run([CLI, "--endpoint", ecs.sock, "ecs", "events", "--service", "web"])
    lines = out.stdout.strip().splitlines()
    assert lines[-1].endswith("(service web) has reached a steady state."), out.stdout
    assert "has started 2 tasks" in out.stdout
    ecs.aws("ecs", "delete-service", "--service", "web", "--force")
    p = ecs.aws("ecs", "wait", "services-inactive", "--services", "web", check=False)
    assert p.returncode == 0, p.stderr



def test_unplaced_event_and_unhealthy_replacement(ecs):
    """No room on the only instance: the ECS event says why; a task failing its health check is
    replaced (stoppedReason 'Task failed container health checks')."""
    ecs.call("CreateCluster", clusterName="ec2")
    register_instance(ecs, "ec2", "t3.micro")  # 2 ENIs, one the instance's own: one awsvpc task
    ecs.call("RegisterTaskDefinition", **web_td(family="small", cpu="128", memory="64"))
    create(ecs, td="small", count=2, cluster="ec2")

    def unplaced():
        s = svc(ecs, cluster="ec2")
        m = [x for x in messages(s) if "was unable to place a task" in x]
        return (s, m) if m and s["runningCount"] == 1 else None
    s, m = wait_for(unplaced, 40, interval=0.2, what="unplaced event")
    assert m[0] == ("(service web) was unable to place a task because no container instance met all of its "
                    "requirements. Reason: RESOURCE:ENI"), m
    assert len(m) == 1  # not repeated every second
    ecs.call("DeleteService", cluster="ec2", service="web", force=True)

    td = web_td(family="sick")
    td["containerDefinitions"][0]["healthCheck"] = {
        "command": ["CMD-SHELL", "test -f /tmp/healthy-flag-never-made"], "interval": 5, "timeout": 2, "retries": 1}
    ecs.call("RegisterTaskDefinition", **td)
    create(ecs, name="sick", td="sick", count=1, healthCheckGracePeriodSeconds=0)

    def replaced():
        arns = ecs.call("ListTasks", serviceName="sick", desiredStatus="STOPPED")["taskArns"]
        st = ecs.call("DescribeTasks", tasks=arns)["tasks"] if arns else []
        return [t for t in st if t.get("stoppedReason") == "Task failed container health checks"] or None
    st = wait_for(replaced, 60, interval=0.5, what="unhealthy task replaced")
    assert st[0]["stopCode"] == "ServiceSchedulerInitiated" and st[0]["healthStatus"] == "UNHEALTHY"
    wait_for(lambda: len(live_tasks(ecs, "sick")) == 1 and
             live_tasks(ecs, "sick")[0]["taskArn"] != st[0]["taskArn"], 20, interval=0.2, what="replacement")
    assert svc(ecs, "sick")["deployments"][0]["failedTasks"] >= 1


def test_draining_instance_moves_service_tasks(ecs):
    """UpdateContainerInstancesState DRAINING: the service's tasks there are replaced on the other
    instance within the deployment limits (never fewer than minimumHealthyPercent healthy)."""
    ecs.call("CreateCluster", clusterName="dr")
    a = register_instance(ecs, "dr", "m5.large", az="us-east-1a")["containerInstanceArn"]
    b = register_instance(ecs, "dr", "m5.large", az="us-east-1b")["containerInstanceArn"]
    td = web_td(family="small", mode="none", cpu="128", memory="64")
    td["containerDefinitions"][0]["portMappings"] = []
    ecs.call("RegisterTaskDefinition", **td)
    ecs.call("CreateService", cluster="dr", serviceName="web", taskDefinition="small", desiredCount=4,
             placementStrategy=[{"type": "spread", "field": "instanceId"}],
             deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200})
    wait_steady(ecs, "web", count=4, cluster="dr")
    assert {t["containerInstanceArn"] for t in live_tasks(ecs, "web", "dr")} == {a, b}
    ecs.call("UpdateContainerInstancesState", cluster="dr", containerInstances=[a], status="DRAINING")
    low = 4

    def moved():
        nonlocal low
        ts = live_tasks(ecs, "web", "dr")
        low = min(low, len(running(ts)))
        return ts if len(ts) == 4 and all(t["containerInstanceArn"] == b for t in running(ts)) and \
            len(running(ts)) == 4 else None
    wait_for(moved, 60, interval=0.2, what="tasks moved off the draining instance")
    assert low >= 2, low       # minimumHealthyPercent 50 of 4
    ev = " ".join(messages(svc(ecs, "web", "dr")))
    assert "has stopped" in ev
