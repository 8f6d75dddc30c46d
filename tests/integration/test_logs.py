"""CloudWatch Logs on ecsboxd (Logs_20140328, signed for "logs") end to end: the API with the AWS CLI
(Debian's /usr/bin/aws) and boto3, and the awslogs log driver of tasks.

Each test runs netd (with its default VPC) and ecsboxd in a private sandbox; traffic goes only to
addresses inside it.
"""
import json
import os
import time

from sandbox import CLI, EcsError, http_post, wait_for

LOGS_TARGET = "Logs_20140328."


def logs(ecs, op, **params):
    """One Logs call on ecsboxd's Unix socket (root: no signature): the answer, or EcsError."""
    headers = {"X-Amz-Target": LOGS_TARGET + op, "Content-Type": "application/x-amz-json-1.1"}
    status, body = http_post(ecs.connection(), headers, json.dumps(params).encode())
    doc = json.loads(body) if body else {}
    if status != 200:
        raise EcsError(status, doc.get("__type", "?"), doc.get("message", ""))
    return doc


def logs_err(ecs, op, **params):
    try:
        doc = logs(ecs, op, **params)
    except EcsError as e:
        return e
    raise AssertionError(f"{op} {params} should have failed: {doc}")


def aws_err(ecs, *args):
    """The AWS CLI must fail: its stderr."""
    p = ecs.aws(*args, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr


def now_ms():
    return int(time.time() * 1000)


def put(ecs, group, stream, messages, ts=None):
    ts = now_ms() if ts is None else ts
    return logs(ecs, "PutLogEvents", logGroupName=group, logStreamName=stream,
                logEvents=[{"timestamp": ts + i, "message": m} for i, m in enumerate(messages)])


def test_groups_streams_and_errors_with_the_cli(ecs):
    """create/describe/delete of groups and streams with the AWS CLI, paging, AWS's error types."""
    for g in ("/ecs/web", "/ecs/api", "/other/x"):
        ecs.aws("logs", "create-log-group", "--log-group-name", g)
    assert "ResourceAlreadyExistsException" in aws_err(ecs, "logs", "create-log-group", "--log-group-name", "/ecs/web")
    assert "InvalidParameterException" in aws_err(ecs, "logs", "create-log-group", "--log-group-name", "bad name!")
    d = ecs.aws("logs", "describe-log-groups", "--log-group-name-prefix", "/ecs/")["logGroups"]
    assert [g["logGroupName"] for g in d] == ["/ecs/api", "/ecs/web"]
    assert d[0]["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/api:*"
    # (Debian's CLI predates logGroupArn and leaves it out)
    raw = logs(ecs, "DescribeLogGroups", logGroupNamePrefix="/ecs/api")["logGroups"][0]
    assert raw["logGroupArn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/api"
    assert "retentionInDays" not in d[0] and isinstance(d[0]["creationTime"], int)
    # pages of one, followed by the CLI's paginator
    page = logs(ecs, "DescribeLogGroups", limit=1)
    assert len(page["logGroups"]) == 1 and page["nextToken"]
    page2 = logs(ecs, "DescribeLogGroups", limit=1, nextToken=page["nextToken"])
    assert page2["logGroups"][0]["logGroupName"] > page["logGroups"][0]["logGroupName"]
    every = ecs.aws("logs", "describe-log-groups", "--page-size", "1")["logGroups"]
    assert [g["logGroupName"] for g in every] == ["/ecs/api", "/ecs/web", "/other/x"]
    assert [g["logGroupName"] for g in logs(ecs, "DescribeLogGroups", logGroupNamePattern="API")["logGroups"]] == ["/ecs/api"]
    assert logs_err(ecs, "DescribeLogGroups", logGroupNamePrefix="/e", logGroupNamePattern="x").type == "InvalidParameterException"
    assert logs_err(ecs, "DescribeLogGroups", limit=51).type == "InvalidParameterException"

    for s in ("b", "a", "c"):
        ecs.aws("logs", "create-log-stream", "--log-group-name", "/ecs/web", "--log-stream-name", s)
    e = aws_err(ecs, "logs", "create-log-stream", "--log-group-name", "/ecs/web", "--log-stream-name", "a")
    assert "ResourceAlreadyExistsException" in e
    e = aws_err(ecs, "logs", "create-log-stream", "--log-group-name", "/nope", "--log-stream-name", "a")
    assert "ResourceNotFoundException" in e and "The specified log group does not exist." in e
    put(ecs, "/ecs/web", "b", ["late"], ts=now_ms())
    put(ecs, "/ecs/web", "c", ["early"], ts=now_ms() - 60000)
    st = ecs.aws("logs", "describe-log-streams", "--log-group-name", "/ecs/web")["logStreams"]
    assert [s["logStreamName"] for s in st] == ["a", "b", "c"]
    assert st[0]["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web:log-stream:a"
    assert "firstEventTimestamp" not in st[0] and st[1]["lastEventTimestamp"] >= st[2]["lastEventTimestamp"]
    by_time = ecs.aws("logs", "describe-log-streams", "--log-group-name", "/ecs/web", "--order-by", "LastEventTime",
                      "--descending")["logStreams"]
    assert [s["logStreamName"] for s in by_time] == ["b", "c", "a"]
    assert [s["logStreamName"] for s in ecs.aws("logs", "describe-log-streams", "--log-group-name", "/ecs/web",
                                                 "--log-stream-name-prefix", "c")["logStreams"]] == ["c"]
    assert logs_err(ecs, "DescribeLogStreams", logGroupName="/ecs/web", orderBy="LastEventTime",
                    logStreamNamePrefix="c").type == "InvalidParameterException"
    assert [s["logStreamName"] for s in ecs.aws("logs", "describe-log-streams", "--log-group-name", "/ecs/web",
                                                 "--page-size", "1")["logStreams"]] == ["a", "b", "c"]
    ecs.aws("logs", "delete-log-stream", "--log-group-name", "/ecs/web", "--log-stream-name", "a")
    e = aws_err(ecs, "logs", "delete-log-stream", "--log-group-name", "/ecs/web", "--log-stream-name", "a")
    assert "The specified log stream does not exist." in e
    ecs.aws("logs", "delete-log-group", "--log-group-name", "/ecs/web")
    assert "ResourceNotFoundException" in aws_err(ecs, "logs", "describe-log-streams", "--log-group-name", "/ecs/web")
    # operations outside the subset
    assert "UnknownOperationException" == logs_err(ecs, "StartLiveTail", logGroupIdentifiers=["x"]).type


def test_put_and_get_log_events(ecs):
    """PutLogEvents' batch rules and rejectedLogEventsInfo; GetLogEvents' order, paging and tokens."""
    logs(ecs, "CreateLogGroup", logGroupName="g")
    logs(ecs, "CreateLogStream", logGroupName="g", logStreamName="s")
    t0 = now_ms() - 100000
    msgs = [f"line {i}" for i in range(25)]
    r = put(ecs, "g", "s", msgs, ts=t0)
    assert len(r["nextSequenceToken"]) >= 1 and "rejectedLogEventsInfo" not in r
    # a sequence token is accepted and ignored, as AWS does
    logs(ecs, "PutLogEvents", logGroupName="g", logStreamName="s", sequenceToken="whatever",
         logEvents=[{"timestamp": t0 + 50, "message": "tokened"}])
    e = logs_err(ecs, "PutLogEvents", logGroupName="g", logStreamName="s",
                 logEvents=[{"timestamp": t0 + 2, "message": "b"}, {"timestamp": t0 + 1, "message": "a"}])
    assert e.type == "InvalidParameterException" and "chronological order" in e.message
    e = logs_err(ecs, "PutLogEvents", logGroupName="g", logStreamName="s",
                 logEvents=[{"timestamp": t0, "message": "x"}] * 10001)
    assert e.type == "InvalidParameterException"
    e = logs_err(ecs, "PutLogEvents", logGroupName="g", logStreamName="s",
                 logEvents=[{"timestamp": t0, "message": "x" * 1000}] * 1100)
    assert e.type == "InvalidParameterException" and "exceeds limit of 1048576" in e.message
    e = logs_err(ecs, "PutLogEvents", logGroupName="g", logStreamName="s",
                 logEvents=[{"timestamp": t0, "message": "a"}, {"timestamp": t0 + 25 * 3600 * 1000, "message": "b"}])
    assert "24 hours" in e.message
    assert logs_err(ecs, "PutLogEvents", logGroupName="g", logStreamName="nope",
                    logEvents=[{"timestamp": t0, "message": "a"}]).message == "The specified log stream does not exist."
    day = 24 * 3600 * 1000
    now = now_ms()
    logs(ecs, "CreateLogStream", logGroupName="g", logStreamName="edges")
    r = logs(ecs, "PutLogEvents", logGroupName="g", logStreamName="edges", logEvents=[
        {"timestamp": now - 15 * day, "message": "too old"}, {"timestamp": now - 15 * day + 1, "message": "too old 2"}])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    r = logs(ecs, "PutLogEvents", logGroupName="g", logStreamName="edges", logEvents=[
        {"timestamp": now, "message": "kept"}, {"timestamp": now + 3 * 3600 * 1000, "message": "too new"}])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    got = logs(ecs, "GetLogEvents", logGroupName="g", logStreamName="edges", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["kept"]

    # the CLI: every event in time order, epoch ms, ingestionTime
    ev = ecs.aws("logs", "get-log-events", "--log-group-name", "g", "--log-stream-name", "s")["events"]
    assert [e["message"] for e in ev] == msgs + ["tokened"]
    assert ev[0]["timestamp"] == t0 and ev[0]["ingestionTime"] >= t0
    # default: the newest page; forward from the head, page by page, until the token comes back
    newest = logs(ecs, "GetLogEvents", logGroupName="g", logStreamName="s", limit=10)
    assert [e["message"] for e in newest["events"]] == msgs[16:] + ["tokened"]
    older = logs(ecs, "GetLogEvents", logGroupName="g", logStreamName="s", limit=10, nextToken=newest["nextBackwardToken"])
    assert [e["message"] for e in older["events"]] == msgs[6:16]
    seen, tok = [], None
    for _ in range(10):
        kw = {"limit": 10, "startFromHead": True}
        if tok:
            kw["nextToken"] = tok
        page = logs(ecs, "GetLogEvents", logGroupName="g", logStreamName="s", **kw)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == tok:
            assert page["events"] == []
            break
        tok = page["nextForwardToken"]
    assert seen == msgs + ["tokened"]
    # after the end, new events arrive on the same forward token
    put(ecs, "g", "s", ["newer"])
    assert [e["message"] for e in logs(ecs, "GetLogEvents", logGroupName="g", logStreamName="s",
                                          nextToken=tok)["events"]] == ["newer"]
    # startTime (inclusive), endTime (exclusive)
    win = logs(ecs, "GetLogEvents", logGroupName="g", logStreamName="s", startTime=t0 + 3, endTime=t0 + 6, startFromHead=True)
    assert [e["message"] for e in win["events"]] == ["line 3", "line 4", "line 5"]
    assert logs_err(ecs, "GetLogEvents", logGroupName="g", logStreamName="s", nextToken="garbage").type == \
        "InvalidParameterException"


def test_filter_log_events_patterns(ecs):
    """FilterLogEvents across streams: terms, phrases, ?OR, -NOT, JSON and space-delimited patterns."""
    logs(ecs, "CreateLogGroup", logGroupName="f")
    for s in ("web/1", "web/2", "db/1"):
        logs(ecs, "CreateLogStream", logGroupName="f", logStreamName=s)
    t = now_ms() - 10000
    logs(ecs, "PutLogEvents", logGroupName="f", logStreamName="web/1", logEvents=[
        {"timestamp": t, "message": "ERROR disk full"},
        {"timestamp": t + 2, "message": "INFO all good"},
        {"timestamp": t + 4, "message": '{"level": "error", "code": 500, "user": {"id": 7}}'}])
    logs(ecs, "PutLogEvents", logGroupName="f", logStreamName="web/2", logEvents=[
        {"timestamp": t + 1, "message": "WARN disk almost full"},
        {"timestamp": t + 3, "message": "127.0.0.1 alice GET /index.html 200 1234"},
        {"timestamp": t + 5, "message": '{"level": "info", "code": 200}'}])
    logs(ecs, "PutLogEvents", logGroupName="f", logStreamName="db/1", logEvents=[
        {"timestamp": t + 6, "message": "10.0.0.9 bob POST /api 404 12"}])

    def f(pattern=None, **kw):
        if pattern is not None:
            kw["filterPattern"] = pattern
        r = logs(ecs, "FilterLogEvents", logGroupName="f", **kw)
        return [e["message"] for e in r["events"]]
    assert len(f()) == 7
    assert f("disk") == ["ERROR disk full", "WARN disk almost full"]
    assert f("disk full") == ["ERROR disk full", "WARN disk almost full"]
    assert f('"disk full"') == ["ERROR disk full"]
    assert f("?ERROR ?WARN") == ["ERROR disk full", "WARN disk almost full"]
    assert f("disk -WARN") == ["ERROR disk full"]
    assert f('{ $.level = "error" }') == ['{"level": "error", "code": 500, "user": {"id": 7}}']
    assert f("{ $.code >= 200 && $.user.id = 7 }") == ['{"level": "error", "code": 500, "user": {"id": 7}}']
    assert f('{ $.level = "err*" || $.code = 200 }') == ['{"level": "error", "code": 500, "user": {"id": 7}}',
                                                          '{"level": "info", "code": 200}']
    assert f('{ ($.code = 200 || $.code = 500) && $.level = "info" }') == ['{"level": "info", "code": 200}']
    assert f("[ip, user, verb, path, status = 404, bytes]") == ["10.0.0.9 bob POST /api 404 12"]
    assert f("[ip, user = alice, ...]") == ["127.0.0.1 alice GET /index.html 200 1234"]
    assert f("[..., status >= 200, bytes]") == ["127.0.0.1 alice GET /index.html 200 1234", "10.0.0.9 bob POST /api 404 12"]
    assert f("disk", logStreamNamePrefix="web/2") == ["WARN disk almost full"]
    assert f(logStreamNames=["db/1", "web/1"], startTime=t + 2, endTime=t + 6) == [
        "INFO all good", '{"level": "error", "code": 500, "user": {"id": 7}}']
    assert logs_err(ecs, "FilterLogEvents", logGroupName="f", filterPattern='"open').type == "InvalidParameterException"
    assert logs_err(ecs, "FilterLogEvents", logGroupName="f", filterPattern="{ $.a = }").type == "InvalidParameterException"
    assert logs_err(ecs, "FilterLogEvents", logGroupName="f", logStreamNames=["a"],
                    logStreamNamePrefix="a").type == "InvalidParameterException"
    assert logs_err(ecs, "FilterLogEvents", logGroupName="nope").type == "ResourceNotFoundException"
    # the fields AWS answers with, and paging through the CLI's paginator
    one = logs(ecs, "FilterLogEvents", logGroupName="f", limit=2)
    assert set(one["events"][0]) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert one["nextToken"] and one["events"][0]["logStreamName"] == "web/1"
    two = logs(ecs, "FilterLogEvents", logGroupName="f", limit=2, nextToken=one["nextToken"])
    assert [e["message"] for e in two["events"]] == ["INFO all good", "127.0.0.1 alice GET /index.html 200 1234"]
    cli = ecs.aws("logs", "filter-log-events", "--log-group-name", "f", "--filter-pattern", "?ERROR ?WARN ?alice",
                  "--page-size", "1")["events"]
    assert [e["message"] for e in cli] == ["ERROR disk full", "WARN disk almost full",
                                           "127.0.0.1 alice GET /index.html 200 1234"]


def test_boto3_retention_and_tags(ecs):
    """boto3 (Debian's, signing for "logs" over TCP): retention values, tags, and paginators."""
    script = r'''
import json, boto3, botocore
l = boto3.Session(profile_name="ecsbox").client("logs", endpoint_url="http://127.0.0.1:5080", region_name="us-east-1")
l.create_log_group(logGroupName="b3", tags={"team": "a"})
l.put_retention_policy(logGroupName="b3", retentionInDays=7)
out = {"retention": l.describe_log_groups(logGroupNamePrefix="b3")["logGroups"][0].get("retentionInDays")}
try:
    l.put_retention_policy(logGroupName="b3", retentionInDays=8)
except botocore.exceptions.ClientError as e:
    out["bad"] = e.response["Error"]["Code"]
try:
    l.put_retention_policy(logGroupName="nope", retentionInDays=7)
except l.exceptions.ResourceNotFoundException as e:
    out["nf"] = e.response["Error"]["Message"]
l.delete_retention_policy(logGroupName="b3")
out["after"] = l.describe_log_groups(logGroupNamePrefix="b3")["logGroups"][0].get("retentionInDays")
l.tag_log_group(logGroupName="b3", tags={"env": "dev"})
out["tags"] = l.list_tags_log_group(logGroupName="b3")["tags"]
arn = "arn:aws:logs:us-east-1:000000000000:log-group:b3"
l.untag_resource(resourceArn=arn, tagKeys=["team"])
out["tags2"] = l.list_tags_for_resource(resourceArn=arn)["tags"]
l.create_log_stream(logGroupName="b3", logStreamName="s")
import time
t = int(time.time() * 1000)
for k in range(3):
    l.put_log_events(logGroupName="b3", logStreamName="s",
                     logEvents=[{"timestamp": t + k * 100 + i, "message": "m%d" % (k * 100 + i)} for i in range(100)])
# a Logs request signed for another service ("ecs") is refused, as AWS does
import urllib.request, urllib.error
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
req = AWSRequest(method="POST", url="http://127.0.0.1:5080/", data=b"{}",
                 headers={"X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Content-Type": "application/x-amz-json-1.1"})
SigV4Auth(boto3.Session(profile_name="ecsbox").get_credentials(), "ecs", "us-east-1").add_auth(req)
try:
    urllib.request.urlopen(urllib.request.Request(req.url, data=req.body, headers=dict(req.headers.items()), method="POST"))
    out["wrong_service"] = "accepted"
except urllib.error.HTTPError as e:
    out["wrong_service"] = [e.code, json.loads(e.read())["__type"]]
pg = l.get_paginator("filter_log_events")
out["n"] = sum(len(p["events"]) for p in pg.paginate(logGroupName="b3", PaginationConfig={"PageSize": 70}))
out["pages"] = sum(1 for p in pg.paginate(logGroupName="b3", PaginationConfig={"PageSize": 70}))
print(json.dumps(out))
'''
    p = ecs.sb.run(["/usr/bin/python3", "-c", script], env=ecs.ENV, timeout=120)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["retention"] == 7 and out["after"] is None
    assert out["bad"] == "InvalidParameterException"
    assert out["nf"] == "The specified log group does not exist."
    assert out["tags"] == {"team": "a", "env": "dev"} and out["tags2"] == {"env": "dev"}
    assert out["n"] == 300 and out["pages"] >= 5
    assert out["wrong_service"] == [403, "InvalidSignatureException"]


def awslogs_td(family, group, lines=None, prefix="app", create=None, command=None):
    opts = {"awslogs-group": group, "awslogs-region": "us-east-1"}
    if prefix:
        opts["awslogs-stream-prefix"] = prefix
    if create is not None:
        opts["awslogs-create-group"] = create
    cmd = command or ("for i in $(seq 1 %d); do echo out $i; echo err $i >&2; done" % lines)
    return {"family": family, "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "web", "image": "busybox", "memory": 32, "essential": True, "command": ["sh", "-c", cmd],
         "logConfiguration": {"logDriver": "awslogs", "options": opts}}]}


def run1(ecs, td):
    ecs.call("RegisterTaskDefinition", **td)
    r = ecs.call("RunTask", taskDefinition=td["family"])
    assert r["failures"] == [], r
    return r["tasks"][0]["taskArn"]


def test_awslogs_task_lines_reach_cloudwatch(ecs):
    """A task with awslogs writes 2N known lines (stdout and stderr): get-log-events returns exactly them,
    in order, in the stream ECS names PREFIX/CONTAINER/TASK_ID; filter-log-events finds the right ones;
    `ecsbox ecs logs` still shows them."""
    n = 200
    ecs.aws("logs", "create-log-group", "--log-group-name", "/ecs/awslogs")
    arn = run1(ecs, awslogs_td("al", "/ecs/awslogs", n))
    tid = arn.rsplit("/", 1)[1]
    ecs.wait_task(arn, "STOPPED", timeout=60)
    stream = f"app/web/{tid}"
    want = [x for i in range(1, n + 1) for x in (f"out {i}", f"err {i}")]

    def all_lines():
        ev = ecs.aws("logs", "get-log-events", "--log-group-name", "/ecs/awslogs", "--log-stream-name", stream,
                     "--start-from-head")["events"]
        return ev if len(ev) >= len(want) else None
    ev = wait_for(all_lines, 20, interval=0.5, what="awslogs events")
    assert [e["message"] for e in ev] == want
    assert all(abs(e["timestamp"] - now_ms()) < 120000 for e in ev)
    st = ecs.aws("logs", "describe-log-streams", "--log-group-name", "/ecs/awslogs")["logStreams"]
    assert [s["logStreamName"] for s in st] == [stream]
    hits = ecs.aws("logs", "filter-log-events", "--log-group-name", "/ecs/awslogs", "--filter-pattern", '"err 17"')["events"]
    assert [e["message"] for e in hits] == [m for m in want if "err 17" in m]     # err 17, err 170 ... err 179
    assert hits[0]["logStreamName"] == stream
    p = ecs.sb.run([CLI, "--endpoint", ecs.sock, "ecs", "logs", "--task", tid])
    assert p.stdout.split("\n")[:4] == ["out 1", "err 1", "out 2", "err 2"]


def test_awslogs_create_group_and_missing_group(ecs):
    """awslogs-create-group "true" creates the group; without it a missing group stops the task with ECS's
    reason; RegisterTaskDefinition wants awslogs-group."""
    arn = run1(ecs, awslogs_td("cg", "/ecs/created", 3, create="true"))
    ecs.wait_task(arn, "STOPPED", timeout=60)
    assert [g["logGroupName"] for g in ecs.aws("logs", "describe-log-groups")["logGroups"]] == ["/ecs/created"]
    tid = arn.rsplit("/", 1)[1]
    wait_for(lambda: len(logs(ecs, "GetLogEvents", logGroupName="/ecs/created", logStreamName=f"app/web/{tid}")["events"]) == 6,
             20, interval=0.3, what="six events")

    arn = run1(ecs, awslogs_td("mg", "/ecs/missing", 3))
    t = ecs.wait_task(arn, "STOPPED", timeout=60)
    assert t["stopCode"] == "TaskFailedToStart"
    assert t["stoppedReason"] == ("CannotStartContainerError: Error response from daemon: failed to initialize logging "
                                  "driver: failed to create Cloudwatch log stream: ResourceNotFoundException: The "
                                  "specified log group does not exist.")
    assert t["containers"][0]["reason"] == t["stoppedReason"]
    bad = awslogs_td("nog", "x", 1)
    del bad["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-group"]
    e = ecs.err("RegisterTaskDefinition", **bad)
    assert e.type == "ClientException" and "awslogs-group" in e.message


def test_awslogs_without_prefix_uses_the_container_id(ecs):
    """Without awslogs-stream-prefix the stream is named after the container's runtime id, as on EC2,
    even for a container that is gone before ecsboxd's next look."""
    ecs.aws("logs", "create-log-group", "--log-group-name", "np")
    arn = run1(ecs, awslogs_td("np", "np", prefix=None, command="echo hello"))
    t = ecs.wait_task(arn, "STOPPED", timeout=60)
    rid = t["containers"][0]["runtimeId"]

    def streams():
        st = logs(ecs, "DescribeLogStreams", logGroupName="np")["logStreams"]
        return st or None
    st = wait_for(streams, 20, interval=0.3, what="a stream")
    assert [s["logStreamName"] for s in st] == [rid]
    wait_for(lambda: [e["message"] for e in logs(ecs, "GetLogEvents", logGroupName="np", logStreamName=rid)["events"]] == ["hello"],
             20, interval=0.3, what="hello")


def test_awslogs_two_containers(ecs):
    """Each awslogs container of a task has its own stream; one that ends early does not cut the other's."""
    ecs.aws("logs", "create-log-group", "--log-group-name", "two")
    td = awslogs_td("two", "two", prefix="p", command="echo b1; sleep 3; echo b2")
    first = dict(td["containerDefinitions"][0], name="a", essential=False, command=["sh", "-c", "echo a1"])
    td["containerDefinitions"].insert(0, first)
    arn = run1(ecs, td)
    tid = arn.rsplit("/", 1)[1]
    ecs.wait_task(arn, "STOPPED", timeout=60)

    def msgs(c):
        return [e["message"] for e in logs(ecs, "GetLogEvents", logGroupName="two", logStreamName=f"p/{c}/{tid}")["events"]]
    wait_for(lambda: msgs("web") == ["b1", "b2"], 20, interval=0.3, what="b1 b2")
    assert msgs("a") == ["a1"]


def test_tail_follow(ecs):
    """`aws logs tail GROUP --follow` (FilterLogEvents with startTime, polled every 5 s) prints what a
    running awslogs task writes, as it writes it."""
    ecs.aws("logs", "create-log-group", "--log-group-name", "tailme")
    arn = run1(ecs, awslogs_td("tl", "tailme", command="i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done"))
    tid = arn.rsplit("/", 1)[1]
    ecs.wait_task(arn, timeout=60)
    argv = ["timeout", "14", "/usr/bin/aws", "--endpoint-url", "http://127.0.0.1:5080", "logs", "tail", "tailme",
            "--follow", "--since", "5m", "--format", "short"]
    # unbuffered: timeout's SIGTERM would lose what a block-buffered stdout still holds
    p = ecs.sb.run(argv, check=False, env=dict(ecs.ENV, PYTHONUNBUFFERED="1"), timeout=60)
    assert p.returncode == 124, p.stderr      # still following when timeout stopped it
    ticks = [int(line.split()[-1]) for line in p.stdout.splitlines() if "tick" in line]
    assert len(ticks) >= 8, (p.stdout, p.stderr)
    assert ticks == list(range(1, len(ticks) + 1)), p.stdout    # in order, none twice
    p = ecs.sb.run(["timeout", "20", "/usr/bin/aws", "--endpoint-url", "http://127.0.0.1:5080", "logs", "tail", "tailme",
                    "--log-stream-names", f"app/web/{tid}", "--filter-pattern", "tick"], check=False, env=ecs.ENV)
    assert p.returncode == 0 and "tick 1" in p.stdout, p.stderr
    ecs.call("StopTask", task=arn)


def test_restart_keeps_events_and_applies_retention(ecs):
    """Events survive a restart of ecsboxd, an awslogs task's lines are neither lost nor repeated across
    it, and a retention policy drops what is older."""
    logs(ecs, "CreateLogGroup", logGroupName="keep")
    logs(ecs, "CreateLogStream", logGroupName="keep", logStreamName="s")
    day = 24 * 3600 * 1000
    for ts, m in ((now_ms() - 3 * day, "three days old"), (now_ms(), "fresh")):
        logs(ecs, "PutLogEvents", logGroupName="keep", logStreamName="s", logEvents=[{"timestamp": ts, "message": m}])
    arn = run1(ecs, awslogs_td("rs", "keep", command="for i in $(seq 1 5); do echo a $i; done; sleep 4; "
                                                     "for i in $(seq 1 5); do echo b $i; done; sleep 60"))
    tid = arn.rsplit("/", 1)[1]
    stream = f"app/web/{tid}"
    ecs.wait_task(arn, timeout=60)
    wait_for(lambda: len(logs(ecs, "GetLogEvents", logGroupName="keep", logStreamName=stream)["events"]) >= 5, 20,
             interval=0.2, what="the first lines")
    ecs.stop()
    time.sleep(5)   # the second batch is written while ecsboxd is down
    ecs.start()
    want = [f"a {i}" for i in range(1, 6)] + [f"b {i}" for i in range(1, 6)]
    wait_for(lambda: [e["message"] for e in logs(ecs, "GetLogEvents", logGroupName="keep", logStreamName=stream,
                                                   startFromHead=True)["events"]] == want, 20, interval=0.3,
             what="all ten lines once")
    msgs = [e["message"] for e in logs(ecs, "GetLogEvents", logGroupName="keep", logStreamName="s")["events"]]
    assert msgs == ["three days old", "fresh"]
    logs(ecs, "PutRetentionPolicy", logGroupName="keep", retentionInDays=1)
    # too old for the group now: rejected as expired
    r = logs(ecs, "PutLogEvents", logGroupName="keep", logStreamName="s",
             logEvents=[{"timestamp": now_ms() - 2 * day, "message": "expired"}])
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    ecs.stop()
    ecs.start()     # pruning runs at start-up and every minute
    msgs = [e["message"] for e in logs(ecs, "GetLogEvents", logGroupName="keep", logStreamName="s")["events"]]
    assert msgs == ["fresh"]
    g = logs(ecs, "DescribeLogGroups", logGroupNamePrefix="keep")["logGroups"][0]
    assert g["retentionInDays"] == 1
    ecs.call("StopTask", task=arn)


def test_byte_cap_drops_the_oldest(ecs):
    """--logs-max-bytes bounds what is kept, counted as AWS counts (message + 26 bytes): over it, the
    oldest events go first, across groups; storedBytes follows."""
    ecs.stop()
    ecs.extra = ["--logs-max-bytes", "5000"]
    ecs.start()
    for g in ("old", "new"):
        logs(ecs, "CreateLogGroup", logGroupName=g)
        logs(ecs, "CreateLogStream", logGroupName=g, logStreamName="s")
    t = now_ms() - 60000
    # 40 events of 74 + 26 = 100 bytes each: 4,000 bytes, all kept
    logs(ecs, "PutLogEvents", logGroupName="old", logStreamName="s",
         logEvents=[{"timestamp": t + i, "message": "o%03d" % i + "x" * 70} for i in range(40)])
    g = {x["logGroupName"]: x for x in logs(ecs, "DescribeLogGroups")["logGroups"]}
    assert g["old"]["storedBytes"] == 4000
    # 20 more in another group: 6,000 > 5,000, so the 10 oldest of "old" go
    logs(ecs, "PutLogEvents", logGroupName="new", logStreamName="s",
         logEvents=[{"timestamp": t + 100 + i, "message": "n%03d" % i + "x" * 70} for i in range(20)])
    old = [e["message"][:4] for e in logs(ecs, "GetLogEvents", logGroupName="old", logStreamName="s", startFromHead=True)["events"]]
    assert old == ["o%03d" % i for i in range(10, 40)]
    assert len(logs(ecs, "GetLogEvents", logGroupName="new", logStreamName="s")["events"]) == 20
    g = {x["logGroupName"]: x for x in logs(ecs, "DescribeLogGroups")["logGroups"]}
    assert g["old"]["storedBytes"] == 3000 and g["new"]["storedBytes"] == 2000
    # the same after a restart
    ecs.stop()
    ecs.start()
    assert len(logs(ecs, "FilterLogEvents", logGroupName="old")["events"]) == 30


def test_awslogs_long_lines_and_bad_utf8(ecs):
    """As Docker's driver: a line over 262,118 bytes becomes several events, empty lines none, bytes
    that are not UTF-8 U+FFFD; a last line without a newline still arrives once the task stopped."""
    ecs.aws("logs", "create-log-group", "--log-group-name", "odd")
    cmd = ("head -c 300000 /dev/zero | tr '\\0' a; echo; echo; printf 'bad \\377 byte\\n'; "
           "printf 'caf\\303\\251\\n'; printf 'no newline'")
    arn = run1(ecs, awslogs_td("odd", "odd", command=cmd))
    tid = arn.rsplit("/", 1)[1]
    ecs.wait_task(arn, "STOPPED", timeout=60)

    def events():
        ev = logs(ecs, "GetLogEvents", logGroupName="odd", logStreamName=f"app/web/{tid}", startFromHead=True)["events"]
        return ev if len(ev) >= 5 else None
    ev = [e["message"] for e in wait_for(events, 20, interval=0.3, what="five events")]
    assert [len(m) for m in ev[:2]] == [262118, 300000 - 262118] and set(ev[0] + ev[1]) == {"a"}
    assert ev[2:] == ["bad \ufffd byte", "caf\u00e9", "no newline"]
