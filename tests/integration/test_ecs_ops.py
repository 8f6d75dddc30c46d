"""ECS operations that SDKs and Terraform call on every run: tagging (TagResource, UntagResource,
ListTagsForResource, the create calls' tags, propagateTags, ECS managed tags), account settings,
UpdateCluster / UpdateClusterSettings, DeleteTaskDefinitions and task scale-in protection.

Each test runs netd (with its default VPC) and ecsboxd in a private sandbox.
"""
import json
import os

from sandbox import wait_for
from test_ecsboxd import register_instance, web_td

ACCT = "000000000000"
REGION = "us-east-1"
ROOT = f"arn:aws:iam::{ACCT}:root"


def arn(res):
    return f"arn:aws:ecs:{REGION}:{ACCT}:{res}"


def tags_of(ecs, resource_arn):
    return {t["key"]: t["value"] for t in ecs.call("ListTagsForResource", resourceArn=resource_arn)["tags"]}


def sleeper_td(family="sleeper", **extra):
    td = {"family": family, "networkMode": "none", "containerDefinitions": [
        {"name": "c", "image": "busybox", "memory": 32, "stopTimeout": 2, "command": ["sleep", "600"]}]}
    td.update(extra)
    return td


def test_tags_on_every_resource_and_errors(ecs):
    """Tags given at creation, changed by TagResource/UntagResource and listed, for clusters,
    services, tasks, task definitions and container instances; include=TAGS on the Describe calls;
    ECS's limits and errors; and all of it across an ecsboxd restart."""
    c = ecs.call("CreateCluster", clusterName="tagged", tags=[{"key": "team", "value": "a"}])["cluster"]
    assert c["tags"] == [{"key": "team", "value": "a"}]
    ca = c["clusterArn"]
    assert tags_of(ecs, ca) == {"team": "a"}
    assert ecs.call("TagResource", resourceArn=ca, tags=[{"key": "team", "value": "b"}, {"key": "env", "value": "dev"}]) == {}
    assert tags_of(ecs, ca) == {"team": "b", "env": "dev"}
    assert ecs.call("UntagResource", resourceArn=ca, tagKeys=["team", "absent"]) == {}
    assert tags_of(ecs, ca) == {"env": "dev"}
    d = ecs.call("DescribeClusters", clusters=["tagged"], include=["TAGS"])["clusters"][0]
    assert d["tags"] == [{"key": "env", "value": "dev"}]
    assert "tags" not in ecs.call("DescribeClusters", clusters=["tagged"])["clusters"][0]

    td = ecs.call("RegisterTaskDefinition", **sleeper_td(tags=[{"key": "owner", "value": "td"}]))
    tda = td["taskDefinition"]["taskDefinitionArn"]
    assert td["tags"] == [{"key": "owner", "value": "td"}]
    ecs.call("TagResource", resourceArn=tda, tags=[{"key": "tier", "value": "x"}])
    assert tags_of(ecs, tda) == {"owner": "td", "tier": "x"}
    assert ecs.call("DescribeTaskDefinition", taskDefinition="sleeper:1", include=["TAGS"])["tags"] == [
        {"key": "owner", "value": "td"}, {"key": "tier", "value": "x"}]

    ci = register_instance(ecs, "tagged", tags=[{"key": "rack", "value": "r1"}])
    cia = ci["containerInstanceArn"]
    assert tags_of(ecs, cia) == {"rack": "r1"}
    ecs.call("TagResource", resourceArn=cia, tags=[{"key": "rack", "value": "r2"}])
    d = ecs.call("DescribeContainerInstances", cluster="tagged", containerInstances=[cia], include=["TAGS"])
    assert d["containerInstances"][0]["tags"] == [{"key": "rack", "value": "r2"}]

    # RunTask: its own tags over the task definition's (propagateTags), then the managed tags
    r = ecs.call("RunTask", cluster="tagged", taskDefinition="sleeper", propagateTags="TASK_DEFINITION",
                 enableECSManagedTags=True, tags=[{"key": "tier", "value": "mine"}])
    assert r["failures"] == [], r
    ta = r["tasks"][0]["taskArn"]
    assert tags_of(ecs, ta) == {"owner": "td", "tier": "mine", "aws:ecs:clusterName": "tagged"}
    ecs.call("TagResource", resourceArn=ta, tags=[{"key": "k", "value": ""}])
    t = ecs.call("DescribeTasks", cluster="tagged", tasks=[ta], include=["TAGS"])["tasks"][0]
    assert {x["key"]: x["value"] for x in t["tags"]}["k"] == ""
    assert "tags" not in ecs.call("DescribeTasks", cluster="tagged", tasks=[ta])["tasks"][0]
    # include TAGS answers the list even when it is empty
    bare = ecs.call("RunTask", cluster="tagged", taskDefinition="sleeper")["tasks"][0]["taskArn"]
    assert ecs.call("DescribeTasks", cluster="tagged", tasks=[bare], include=["TAGS"])["tasks"][0]["tags"] == []
    assert tags_of(ecs, bare) == {}

    s = ecs.call("CreateService", cluster="tagged", serviceName="svc", taskDefinition="sleeper", desiredCount=1,
                 tags=[{"key": "svc", "value": "1"}], propagateTags="SERVICE", enableECSManagedTags=True)["service"]
    sa = s["serviceArn"]
    assert s["propagateTags"] == "SERVICE" and s["enableECSManagedTags"] is True
    assert tags_of(ecs, sa) == {"svc": "1"}
    stask = wait_for(lambda: ecs.call("ListTasks", cluster="tagged", serviceName="svc")["taskArns"], 20,
                     what="the service's task")[0]
    assert tags_of(ecs, stask) == {"svc": "1", "aws:ecs:clusterName": "tagged", "aws:ecs:serviceName": "svc"}
    ecs.call("TagResource", resourceArn=sa, tags=[{"key": "more", "value": "2"}])
    d = ecs.call("DescribeServices", cluster="tagged", services=["svc"], include=["TAGS"])["services"][0]
    assert {x["key"]: x["value"] for x in d["tags"]} == {"svc": "1", "more": "2"}
    assert tags_of(ecs, stask) == {"svc": "1", "aws:ecs:clusterName": "tagged", "aws:ecs:serviceName": "svc"}

    # errors, with ECS's types and texts
    e = ecs.err("ListTagsForResource", resourceArn="not-an-arn")
    assert (e.type, e.message) == ("InvalidParameterException", "The ARN provided is invalid.")
    e = ecs.err("TagResource", resourceArn=arn("service/tagged/nope"), tags=[{"key": "a", "value": "b"}])
    assert (e.type, e.message) == ("ClientException", "The specified resource is not found.")
    e = ecs.err("ListTagsForResource", resourceArn=arn("cluster/nope"))
    assert e.type == "ClusterNotFoundException"
    e = ecs.err("ListTagsForResource", resourceArn=arn("task-definition/sleeper:9"))
    assert e.type == "ClientException"
    e = ecs.err("ListTagsForResource", resourceArn=f"arn:aws:ecs:eu-west-1:{ACCT}:cluster/tagged")
    assert e.type == "ClientException"
    e = ecs.err("TagResource", resourceArn=ca, tags=[{"key": "aws:mine", "value": "x"}])
    assert e.type == "InvalidParameterException" and "aws:" in e.message
    e = ecs.err("CreateCluster", clusterName="bad", tags=[{"key": "AWS:x", "value": "y"}])
    assert e.type == "InvalidParameterException"
    e = ecs.err("UntagResource", resourceArn=ca, tagKeys=["aws:ecs:clusterName"])
    assert e.type == "InvalidParameterException"
    e = ecs.err("TagResource", resourceArn=ca, tags=[{"key": "k" * 129, "value": "v"}])
    assert e.type == "InvalidParameterException"
    e = ecs.err("TagResource", resourceArn=ca, tags=[{"key": "k", "value": "v" * 257}])
    assert e.type == "InvalidParameterException"
    e = ecs.err("TagResource", resourceArn=ca, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
    assert e.type == "InvalidParameterException" and "50" in e.message   # 1 already there + 50
    assert tags_of(ecs, ca) == {"env": "dev"}
    e = ecs.err("TagResource", resourceArn=ca)
    assert e.type == "InvalidParameterException"
    e = ecs.err("RunTask", cluster="tagged", taskDefinition="sleeper", propagateTags="SERVICE")
    assert e.type == "InvalidParameterException"
    e = ecs.err("CreateService", cluster="tagged", serviceName="x", taskDefinition="sleeper", desiredCount=0,
                propagateTags="EVERYTHING")
    assert e.type == "InvalidParameterException"

    # kept across a restart
    ecs.stop()
    ecs.start()
    assert tags_of(ecs, ca) == {"env": "dev"}
    assert tags_of(ecs, tda) == {"owner": "td", "tier": "x"}
    assert tags_of(ecs, cia) == {"rack": "r2"}
    assert tags_of(ecs, sa) == {"svc": "1", "more": "2"}
    assert tags_of(ecs, ta)["k"] == ""

    # and the AWS CLI sees the same
    out = ecs.aws("ecs", "list-tags-for-resource", "--resource-arn", ca)
    assert out == {"tags": [{"key": "env", "value": "dev"}]}
    ecs.aws("ecs", "tag-resource", "--resource-arn", ca, "--tags", "key=cli,value=yes")
    ecs.aws("ecs", "untag-resource", "--resource-arn", ca, "--tag-keys", "env")
    assert tags_of(ecs, ca) == {"cli": "yes"}


ALL_SETTINGS = {"serviceLongArnFormat": "enabled", "taskLongArnFormat": "enabled",
                "containerInstanceLongArnFormat": "enabled", "awsvpcTrunking": "disabled",
                "containerInsights": "disabled", "fargateFIPSMode": "disabled", "tagResourceAuthorization": "on",
                "fargateTaskRetirementWaitPeriod": "7", "guardDutyActivate": "disabled",
                "defaultLogDriverMode": "non-blocking", "fargateEventWindows": "disabled"}


def effective(ecs, **kw):
    out, tok = [], None
    while True:
        page = ecs.call("ListAccountSettings", effectiveSettings=True, **kw, **({"nextToken": tok} if tok else {}))
        out += page["settings"]
        tok = page.get("nextToken")
        if not tok:
            return out


def test_account_settings(ecs):
    """Every setting name with ECS's default; a principal's own setting over the account default
    over ECS's; filters, paging, errors; kept across a restart; containerInsights reaches new
    clusters."""
    eff = effective(ecs)
    assert {s["name"]: s["value"] for s in eff} == ALL_SETTINGS
    assert all(s["principalArn"] == ROOT for s in eff)
    assert ecs.call("ListAccountSettings") == {"settings": []}
    page = ecs.call("ListAccountSettings", effectiveSettings=True, maxResults=3)
    assert len(page["settings"]) == 3 and page["nextToken"]

    s = ecs.call("PutAccountSettingDefault", name="containerInsights", value="enabled")["setting"]
    assert (s["name"], s["value"], s["principalArn"]) == ("containerInsights", "enabled", ROOT)
    user = f"arn:aws:iam::{ACCT}:user/alice"
    s = ecs.call("PutAccountSetting", name="containerInsights", value="disabled", principalArn=user)["setting"]
    assert s == {"name": "containerInsights", "value": "disabled", "principalArn": user, "type": "user"}
    ecs.call("PutAccountSetting", name="awsvpcTrunking", value="enabled")
    assert ecs.call("ListAccountSettings", name="containerInsights", effectiveSettings=True)["settings"][0]["value"] == "enabled"
    assert ecs.call("ListAccountSettings", name="containerInsights", principalArn=user,
                    effectiveSettings=True)["settings"][0]["value"] == "disabled"
    # alice has one setting of her own; the others she sees are the account's
    assert [x["name"] for x in ecs.call("ListAccountSettings", principalArn=user)["settings"]] == ["containerInsights"]
    ueff = {x["name"]: x for x in effective(ecs, principalArn=user)}
    assert ueff["awsvpcTrunking"]["value"] == "enabled" and ueff["awsvpcTrunking"]["principalArn"] == ROOT
    assert [x["name"] for x in ecs.call("ListAccountSettings", name="awsvpcTrunking", value="enabled")["settings"]] == [
        "awsvpcTrunking"]
    assert ecs.call("ListAccountSettings", name="awsvpcTrunking", value="disabled")["settings"] == []

    # the account's containerInsights reaches a new cluster's settings
    c = ecs.call("CreateCluster", clusterName="insights")["cluster"]
    assert c["settings"] == [{"name": "containerInsights", "value": "enabled"}]

    ecs.call("PutAccountSettingDefault", name="fargateTaskRetirementWaitPeriod", value="14")
    for op, kw, word in [
            ("PutAccountSetting", dict(name="bogus", value="enabled"), "bogus"),
            ("PutAccountSetting", dict(name="awsvpcTrunking", value="maybe"), "maybe"),
            ("PutAccountSetting", dict(name="awsvpcTrunking"), "value"),
            ("PutAccountSetting", dict(name="awsvpcTrunking", value="enabled", principalArn="alice"), "principalArn"),
            ("PutAccountSetting", dict(name="fargateTaskRetirementWaitPeriod", value="0"), "PutAccountSettingDefault"),
            ("PutAccountSettingDefault", dict(name="guardDutyActivate", value="enabled"), "read only"),
            ("PutAccountSettingDefault", dict(name="fargateTaskRetirementWaitPeriod", value="3"), "0, 7, 14"),
            ("ListAccountSettings", dict(value="enabled"), "name"),
            ("ListAccountSettings", dict(maxResults=11), "maxResults"),
            ("DeleteAccountSetting", dict(), "name")]:
        e = ecs.err(op, **kw)
        assert e.type == "InvalidParameterException" and word in e.message, (op, kw, e)

    ecs.stop()
    ecs.start()
    eff = {x["name"]: x["value"] for x in effective(ecs)}
    assert eff["containerInsights"] == "enabled" and eff["awsvpcTrunking"] == "enabled"
    assert eff["fargateTaskRetirementWaitPeriod"] == "14"

    d = ecs.call("DeleteAccountSetting", name="containerInsights", principalArn=user)["setting"]
    assert d["value"] == "disabled" and d["principalArn"] == user
    assert ecs.call("ListAccountSettings", principalArn=user) == {"settings": []}
    assert ecs.call("ListAccountSettings", name="containerInsights", principalArn=user,
                    effectiveSettings=True)["settings"][0]["value"] == "enabled"
    ecs.call("DeleteAccountSetting", name="containerInsights")
    assert ecs.call("ListAccountSettings", name="containerInsights", effectiveSettings=True)["settings"][0]["value"] == "disabled"

    # the AWS CLI
    out = ecs.aws("ecs", "put-account-setting", "--name", "taskLongArnFormat", "--value", "enabled")
    assert out["setting"]["name"] == "taskLongArnFormat"
    out = ecs.aws("ecs", "list-account-settings", "--name", "taskLongArnFormat")
    assert [x["value"] for x in out["settings"]] == ["enabled"]


def test_update_cluster(ecs):
    """UpdateCluster (settings, executeCommandConfiguration, serviceConnectDefaults) and
    UpdateClusterSettings, answered and kept; ECS's errors."""
    ecs.call("CreateCluster", clusterName="u")
    conf = {"executeCommandConfiguration": {"kmsKeyId": "k1", "logging": "OVERRIDE", "logConfiguration": {
        "cloudWatchLogGroupName": "/ecs/exec", "cloudWatchEncryptionEnabled": True}}}
    c = ecs.call("UpdateCluster", cluster="u", settings=[{"name": "containerInsights", "value": "enabled"}],
                 configuration=conf, serviceConnectDefaults={"namespace": "local"})["cluster"]
    assert c["clusterName"] == "u" and c["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert c["configuration"] == conf
    ns = c["serviceConnectDefaults"]["namespace"]
    assert ns.startswith(f"arn:aws:servicediscovery:{REGION}:{ACCT}:namespace/ns-")
    c = ecs.call("UpdateClusterSettings", cluster=arn("cluster/u"),
                 settings=[{"name": "containerInsights", "value": "disabled"}])["cluster"]
    assert c["settings"] == [{"name": "containerInsights", "value": "disabled"}] and c["configuration"] == conf
    for kw, word in [
            (dict(cluster="u", settings=[{"name": "other", "value": "x"}]), "other"),
            (dict(cluster="u", settings=[{"name": "containerInsights", "value": "maybe"}]), "maybe"),
            (dict(cluster="u", configuration={"executeCommandConfiguration": {"logging": "OVERRIDE"}}), "OVERRIDE"),
            (dict(cluster="u", configuration={"executeCommandConfiguration": {"logging": "NONE", "logConfiguration": {}}}),
             "OVERRIDE"),
            (dict(cluster="u", configuration={"executeCommandConfiguration": {"logging": "LOUD"}}), "LOUD"),
            (dict(cluster="u", serviceConnectDefaults={"namespace": "a/b"}), "namespace")]:
        e = ecs.err("UpdateCluster", **kw)
        assert e.type == "InvalidParameterException" and word in e.message, (kw, e)
    assert ecs.err("UpdateCluster", cluster="nope").type == "ClusterNotFoundException"
    assert ecs.err("UpdateClusterSettings", cluster="u").type == "InvalidParameterException"
    e = ecs.err("CreateCluster", clusterName="bad", settings=[{"name": "containerInsights", "value": "x"}])
    assert e.type == "InvalidParameterException"
    ecs.stop()
    ecs.start()
    d = ecs.call("DescribeClusters", clusters=["u"])["clusters"][0]
    assert d["configuration"] == conf and d["serviceConnectDefaults"] == {"namespace": ns}
    c = ecs.call("UpdateCluster", cluster="u", serviceConnectDefaults={"namespace": ""})["cluster"]
    assert "serviceConnectDefaults" not in c
    out = ecs.aws("ecs", "update-cluster-settings", "--cluster", "u", "--settings", "name=containerInsights,value=enabled")
    assert out["cluster"]["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def test_delete_task_definitions(ecs):
    """Only INACTIVE revisions are deleted (DELETE_IN_PROGRESS in the answer, then gone); ACTIVE,
    missing and malformed ones are failures with ECS's reasons. A revision a running task uses
    stays DELETE_IN_PROGRESS until the task stops."""
    for _ in range(3):
        ecs.call("RegisterTaskDefinition", **sleeper_td())
    ecs.call("DeregisterTaskDefinition", taskDefinition="sleeper:1")
    r = ecs.call("DeleteTaskDefinitions", taskDefinitions=["sleeper:1", arn("task-definition/sleeper:2"), "sleeper:9", "sleeper"])
    assert [t["taskDefinitionArn"] for t in r["taskDefinitions"]] == [arn("task-definition/sleeper:1")]
    assert r["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS"
    reasons = {f["arn"]: f["reason"] for f in r["failures"]}
    assert reasons == {
        arn("task-definition/sleeper:2"):
            "The specified task definition is still in ACTIVE status. Please deregister the target and try again.",
        arn("task-definition/sleeper:9"):
            "The specified task definition does not exist. Specify a valid account, family, revision and try again.",
        "sleeper": "The specified task definition identifier is invalid. Specify a valid name or ARN and try again."}
    assert ecs.err("DescribeTaskDefinition", taskDefinition="sleeper:1").type == "ClientException"
    for st in ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"):
        assert arn("task-definition/sleeper:1") not in ecs.call("ListTaskDefinitions", status=st)["taskDefinitionArns"]

    # in use by a running task: stays DELETE_IN_PROGRESS, goes after the task stopped
    ta = ecs.call("RunTask", taskDefinition="sleeper:2")["tasks"][0]["taskArn"]
    ecs.wait_task(ta)
    ecs.call("DeregisterTaskDefinition", taskDefinition="sleeper:2")
    r = ecs.call("DeleteTaskDefinitions", taskDefinitions=["sleeper:2"])
    assert r["failures"] == [] and r["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS"
    assert ecs.call("DescribeTaskDefinition", taskDefinition="sleeper:2")["taskDefinition"]["status"] == "DELETE_IN_PROGRESS"
    assert ecs.call("ListTaskDefinitions", status="DELETE_IN_PROGRESS")["taskDefinitionArns"] == [arn("task-definition/sleeper:2")]
    ecs.call("StopTask", task=ta)
    ecs.wait_task(ta, "STOPPED", timeout=30)
    r = ecs.call("DeleteTaskDefinitions", taskDefinitions=["sleeper:2"])
    assert r["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS"
    assert ecs.err("DescribeTaskDefinition", taskDefinition="sleeper:2").type == "ClientException"
    # revisions are not reused
    assert ecs.call("RegisterTaskDefinition", **sleeper_td())["taskDefinition"]["revision"] == 4
    assert ecs.err("DeleteTaskDefinitions", taskDefinitions=[]).type == "InvalidParameterException"
    assert ecs.err("DeleteTaskDefinitions", taskDefinitions=["a:1"] * 11).type == "InvalidParameterException"
    ecs.stop()
    ecs.start()
    assert ecs.err("DescribeTaskDefinition", taskDefinition="sleeper:1").type == "ClientException"
    assert ecs.call("ListTaskDefinitions")["taskDefinitionArns"] == [arn("task-definition/sleeper:3"),
                                                                      arn("task-definition/sleeper:4")]


def test_task_protection_and_scale_in(ecs):
    """UpdateTaskProtection / GetTaskProtection on a service's tasks (default 120 minutes, up to
    2880), failures for standalone and missing tasks, and the service scheduler leaving a protected
    task alone when it scales in, until the protection is taken away."""
    import time
    ecs.call("RegisterTaskDefinition", **sleeper_td())
    ecs.call("CreateService", serviceName="p", taskDefinition="sleeper", desiredCount=2)

    def live():
        arns = ecs.call("ListTasks", serviceName="p", desiredStatus="RUNNING")["taskArns"]
        return [t for t in ecs.call("DescribeTasks", tasks=arns)["tasks"]] if arns else []
    tasks = wait_for(lambda: (lambda ts: ts if len(ts) == 2 and all(t["lastStatus"] == "RUNNING" for t in ts) else None)(live()),
                     30, what="2 running tasks")
    keep, other = sorted(t["taskArn"] for t in tasks)
    t0 = time.time()
    r = ecs.call("UpdateTaskProtection", cluster="default", tasks=[keep.rsplit("/", 1)[1]], protectionEnabled=True)
    assert r["failures"] == [] and len(r["protectedTasks"]) == 1
    pt = r["protectedTasks"][0]
    assert pt["taskArn"] == keep and pt["protectionEnabled"] is True
    assert abs(pt["expirationDate"] - (t0 + 120 * 60)) < 30
    g = ecs.call("GetTaskProtection", cluster="default", tasks=[keep, other])
    assert [(x["taskArn"], x["protectionEnabled"]) for x in g["protectedTasks"]] == [(keep, True), (other, False)]
    assert "expirationDate" not in g["protectedTasks"][1]

    # standalone and missing tasks are failures, not errors
    solo = ecs.call("RunTask", taskDefinition="sleeper")["tasks"][0]["taskArn"]
    missing = arn("task/default/" + "0" * 32)
    r = ecs.call("UpdateTaskProtection", cluster="default", tasks=[solo, missing], protectionEnabled=True, expiresInMinutes=5)
    assert r["protectedTasks"] == []
    assert {f["arn"]: f["reason"] for f in r["failures"]} == {solo: "TASK_NOT_VALID", missing: "MISSING"}
    for kw in [dict(expiresInMinutes=0), dict(expiresInMinutes=2881), dict(tasks=[])]:
        req = dict(cluster="default", tasks=[keep], protectionEnabled=True)
        req.update(kw)
        assert ecs.err("UpdateTaskProtection", **req).type == "InvalidParameterException", kw
    assert ecs.err("UpdateTaskProtection", cluster="default", tasks=[keep]).type == "InvalidParameterException"
    assert ecs.err("GetTaskProtection", cluster="nope", tasks=[keep]).type == "ClusterNotFoundException"
    r = ecs.call("UpdateTaskProtection", cluster="default", tasks=[keep], protectionEnabled=True, expiresInMinutes=2880)
    assert abs(r["protectedTasks"][0]["expirationDate"] - (time.time() + 2880 * 60)) < 30

    # scale in to 0: the unprotected task goes, the protected one stays
    ecs.call("UpdateService", service="p", desiredCount=0)
    ecs.wait_task(other, "STOPPED", timeout=30)
    time.sleep(3)   # several scheduler passes (1 s each) that must leave it alone
    assert [t["taskArn"] for t in live()] == [keep]
    # kept across a restart
    ecs.stop()
    ecs.start()
    g = ecs.call("GetTaskProtection", cluster="default")
    assert [(x["taskArn"], x["protectionEnabled"]) for x in g["protectedTasks"]] == [(keep, True)]
    time.sleep(2)
    assert [t["taskArn"] for t in live()] == [keep]
    out = ecs.aws("ecs", "update-task-protection", "--cluster", "default", "--tasks", keep, "--no-protection-enabled")
    assert out["protectedTasks"] == [{"taskArn": keep, "protectionEnabled": False}]
    ecs.wait_task(keep, "STOPPED", timeout=30)


NEW_PY = "/root/.pyenv/versions/3.11.7/bin/python3.11"

NEWER_BOTOCORE_SCRIPT = r'''
import datetime, json, boto3, botocore
ecs = boto3.Session(profile_name="ecsbox").client("ecs", endpoint_url="http://127.0.0.1:5080", region_name="us-east-1")
model = ecs.meta.service_model
TYPES = {"string": str, "boolean": bool, "integer": int, "long": int, "list": list, "structure": dict, "map": dict,
         "timestamp": datetime.datetime, "double": float, "float": float}

def check(shape, v, path):
    """Every member the answer holds is one the model's output shape has, with its type."""
    want = TYPES[shape.type_name]
    assert isinstance(v, want), (path, shape.type_name, v)
    if shape.type_name == "structure":
        for k, x in v.items():
            assert k in shape.members, (path, "unknown member", k)
            check(shape.members[k], x, path + "." + k)
    elif shape.type_name == "list":
        for i, x in enumerate(v):
            check(shape.member, x, "%s[%d]" % (path, i))
    elif shape.type_name == "string" and shape.enum:
        assert v in shape.enum, (path, v, shape.enum)

def call(op, **kw):
    out = getattr(ecs, botocore.xform_name(op))(**kw)
    out.pop("ResponseMetadata", None)
    check(model.operation_model(op).output_shape, out, op)
    return out

c = call("CreateCluster", clusterName="nb", tags=[{"key": "a", "value": "1"}])["cluster"]
call("TagResource", resourceArn=c["clusterArn"], tags=[{"key": "b", "value": "2"}])
call("UntagResource", resourceArn=c["clusterArn"], tagKeys=["a"])
assert call("ListTagsForResource", resourceArn=c["clusterArn"])["tags"] == [{"key": "b", "value": "2"}]
call("DescribeClusters", clusters=["nb"], include=["TAGS"])
for name in model.shape_for("SettingName").enum:
    call("ListAccountSettings", name=name, effectiveSettings=True)
names = [s["name"] for s in call("ListAccountSettings", effectiveSettings=True, maxResults=10)["settings"]]
call("PutAccountSetting", name="containerInsights", value="enhanced")
call("PutAccountSettingDefault", name="fargateEventWindows", value="enabled")
call("DeleteAccountSetting", name="containerInsights")
call("UpdateCluster", cluster="nb", settings=[{"name": "containerInsights", "value": "enhanced"}],
     configuration={"executeCommandConfiguration": {"logging": "NONE"}}, serviceConnectDefaults={"namespace": "ns1"})
call("UpdateClusterSettings", cluster="nb", settings=[{"name": "containerInsights", "value": "disabled"}])
td = call("RegisterTaskDefinition", family="nbtd", containerDefinitions=[{"name": "c", "image": "busybox", "memory": 32}],
          tags=[{"key": "t", "value": "d"}])["taskDefinition"]
call("DescribeTaskDefinition", taskDefinition="nbtd:1", include=["TAGS"])
call("DeregisterTaskDefinition", taskDefinition="nbtd:1")
d = call("DeleteTaskDefinitions", taskDefinitions=["nbtd:1", "nbtd:7"])
assert d["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS" and len(d["failures"]) == 1
call("GetTaskProtection", cluster="nb")
p = call("UpdateTaskProtection", cluster="nb", tasks=["0" * 32], protectionEnabled=True)
assert p["failures"][0]["reason"] == "MISSING"
print(json.dumps({"settings": names, "version": botocore.__version__}))
'''


def test_newer_botocore_shapes(ecs):
    """The operations here through a newer botocore (1.43 when installed): every answer holds only
    members of the model's output shape, with their types and enum values."""
    if not os.path.exists(NEW_PY):
        import pytest
        pytest.skip(f"no newer Python with boto3 at {NEW_PY}")
    p = ecs.sb.run([NEW_PY, "-c", NEWER_BOTOCORE_SCRIPT], env=ecs.ENV, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert len(out["settings"]) == 10   # a page of 10 of the 11
