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
