"""ecsboxd end to end: the ECS API over HTTP, tasks in awsvpc/host/none mode, the AWS CLI and boto3."""
import json
import os
import time

import pytest

from sandbox import EcsError, wait_for

HTTPD = ["sh", "-c", "mkdir -p /tmp/www && echo $ECS_TASK_ID > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www"]


def web_td(**extra):
    td = {"family": "web", "networkMode": "awsvpc", "cpu": "256", "memory": "512",
          "containerDefinitions": [{"name": "web", "image": "busybox", "essential": True,
                                    "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
                                    "portMappings": [{"containerPort": 80}], "stopTimeout": 2}]}
    td.update(extra)
    return td


def test_smoke(ecs):
    assert ecs.call("ListClusters")["clusterArns"] == ["arn:aws:ecs:us-east-1:000000000000:cluster/default"]
    td = ecs.call("RegisterTaskDefinition", **web_td())["taskDefinition"]
    assert td["revision"] == 1
    r = ecs.call("RunTask", taskDefinition="web", count=1)
    assert r["failures"] == [], r
    arn = r["tasks"][0]["taskArn"]
    t = ecs.wait_task(arn)
    print(json.dumps(t, indent=1))
