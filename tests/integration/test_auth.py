"""Who may call ecsboxd: SigV4 on every HTTP request over TCP, keys from the shared-credentials file
ecsboxd generates at first start; root on the Unix socket unsigned; refusals as AWS answers them."""
import configparser
import datetime
import http.client
import json
import os
import stat
from unittest import mock

import pytest

from sandbox import CLI, ECS_TARGET, EcsError, ecs_call, sigv4_signer

TCP = ("127.0.0.1", 5080)


def tcp_call(ecs, op, signer=None, **params):
    """An ECS call over TCP from inside the sandbox (the loopback of the sandbox's netns)."""
    script = r'''
import http.client, json, sys
sys.path.insert(0, sys.argv[1])
from sandbox import EcsError, ecs_call, sigv4_signer
args = json.loads(sys.argv[2])
signer = None
if args["signer"]:
    import datetime
    from unittest import mock
    s = args["signer"]
    signer = sigv4_signer(s["file"], s.get("profile", "ecsbox"), s.get("region", "us-east-1"), s.get("service", "ecs"))
    if s.get("skew"):
        real = signer
        when = datetime.datetime.utcnow() + datetime.timedelta(seconds=s["skew"])
        def signer(host, headers, body):
            with mock.patch("botocore.auth.datetime") as dt:
                dt.datetime.utcnow.return_value = when
                return real(host, headers, body)
    if s.get("secret"):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        def signer(host, headers, body):
            req = AWSRequest(method="POST", url=f"http://{host}/", headers=headers, data=body)
            SigV4Auth(Credentials(s["akid"], s["secret"]), "ecs", "us-east-1").add_auth(req)
            return dict(req.headers.items())
try:
    doc = ecs_call(http.client.HTTPConnection("127.0.0.1", 5080, timeout=30), args["op"], signer=signer, **args["params"])
    print(json.dumps({"ok": doc}))
except EcsError as e:
    print(json.dumps({"status": e.status, "type": e.type, "message": e.message}))
'''
    helpers = os.path.dirname(os.path.abspath(__file__))
    p = ecs.sb.run(["/usr/bin/python3", "-c", script, helpers,
                    json.dumps({"op": op, "params": params, "signer": signer})], timeout=60)
    return json.loads(p.stdout.strip().splitlines()[-1])


def keys(ecs, profile="ecsbox"):
    cp = configparser.ConfigParser()
    cp.read(ecs.credentials)
    return cp[profile]["aws_access_key_id"], cp[profile]["aws_secret_access_key"]


def clusters(ecs):
    return sorted(a.rsplit("/", 1)[1] for a in ecs.call("ListClusters")["clusterArns"])


def test_first_start_generates_a_profile(ecs):
    st = os.stat(ecs.credentials)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0
    akid, secret = keys(ecs)
    assert akid.startswith("AKIA") and len(akid) == 20 and len(secret) == 40


def test_aws_cli_and_signed_calls_pass(ecs):
    """The unmodified aws CLI with AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE=ecsbox."""
    out = ecs.aws("ecs", "create-cluster", "--cluster-name", "signed")
    assert out["cluster"]["clusterName"] == "signed"
    assert "signed" in clusters(ecs)
    got = tcp_call(ecs, "DescribeClusters", signer={"file": ecs.credentials}, clusters=["signed"])
    assert got["ok"]["clusters"][0]["status"] == "ACTIVE"
    # the credential scope's region names the ARNs, as before
    got = tcp_call(ecs, "CreateCluster", signer={"file": ecs.credentials, "region": "eu-west-1"}, clusterName="eu")
    assert got["ok"]["cluster"]["clusterArn"].startswith("arn:aws:ecs:eu-west-1:")


def test_unsigned_and_badly_signed_are_refused_with_nothing_done(ecs):
    before = clusters(ecs)
    got = tcp_call(ecs, "CreateCluster", clusterName="nosig")
    assert got == {"status": 403, "type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"}
    got = tcp_call(ecs, "CreateCluster", signer={"file": ecs.credentials, "akid": "AKIAUNKNOWNUNKNOWN00", "secret": "x"},
                   clusterName="unknown")
    assert got == {"status": 403, "type": "UnrecognizedClientException",
                   "message": "The security token included in the request is invalid."}
    akid, _ = keys(ecs)
    got = tcp_call(ecs, "CreateCluster", signer={"file": ecs.credentials, "akid": akid, "secret": "not-the-secret"},
                   clusterName="wrongsecret")
    assert got["status"] == 403 and got["type"] == "InvalidSignatureException"
    assert "does not match the signature you provided" in got["message"]
    got = tcp_call(ecs, "CreateCluster", signer={"file": ecs.credentials, "skew": -600}, clusterName="old")
    assert got["status"] == 403 and got["type"] == "InvalidSignatureException"
    assert got["message"].startswith("Signature expired: ") and got["message"].endswith(" - 5 min.)")
    got = tcp_call(ecs, "CreateCluster", signer={"file": ecs.credentials, "skew": 600}, clusterName="future")
    assert got["type"] == "InvalidSignatureException" and got["message"].startswith("Signature not yet current: ")
    got = tcp_call(ecs, "CreateCluster", signer={"file": ecs.credentials, "service": "ec2"}, clusterName="svc")
    assert got["type"] == "InvalidSignatureException"
    assert got["message"] == "Credential should be scoped to correct service: 'ecs'. "
    assert clusters(ecs) == before


def test_aws_cli_with_a_wrong_key(ecs):
    env = dict(ecs.ENV, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY="wrong")
    env.pop("AWS_PROFILE")
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    argv = ["/usr/bin/aws", "--endpoint-url", "http://127.0.0.1:5080", "ecs", "list-clusters"]
    p = ecs.sb.run(argv, check=False, env=env, timeout=120)
    assert p.returncode == 254
    assert "An error occurred (UnrecognizedClientException) when calling the ListClusters operation: " \
           "The security token included in the request is invalid." in p.stderr


def test_nobody_cannot_run_a_host_task(ecs):
    """The measured hole: uid 65534 registered a `host` task definition and ran it as root. Now the
    Unix socket (0660) refuses it and TCP wants a key it cannot read."""
    script = r'''
import http.client, json, socket, sys
out = {}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1]); out["unix"] = "connected"
except PermissionError:
    out["unix"] = "EACCES"
try:
    open(sys.argv[2]).read(); out["credentials"] = "readable"
except PermissionError:
    out["credentials"] = "EACCES"
td = {"family": "evil", "networkMode": "host", "containerDefinitions": [{"name": "c", "image": "host", "memory": 64,
      "command": ["/bin/ls", "/root"]}]}
for op, body in (("RegisterTaskDefinition", td), ("RunTask", {"taskDefinition": "evil"})):
    c = http.client.HTTPConnection("127.0.0.1", 5080, timeout=30)
    c.request("POST", "/", body=json.dumps(body), headers={"X-Amz-Target": "AmazonEC2ContainerServiceV20141113." + op,
              "Content-Type": "application/x-amz-json-1.1", "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261202/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=00"})
    r = c.getresponse()
    out[op] = [r.status, json.loads(r.read())["__type"]]
print(json.dumps(out))
'''
    p = ecs.sb.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script,
                    ecs.sock, ecs.credentials])
    out = json.loads(p.stdout)
    assert out == {"unix": "EACCES", "credentials": "EACCES",
                   "RegisterTaskDefinition": [403, "UnrecognizedClientException"],
                   "RunTask": [403, "UnrecognizedClientException"]}
    assert ecs.err("DescribeTaskDefinition", taskDefinition="evil").type == "ClientException"
    assert ecs.call("ListTasks")["taskArns"] == []


def test_cli_signs_over_tcp(ecs):
    env = {"AWS_SHARED_CREDENTIALS_FILE": ecs.credentials, "PATH": "/usr/bin:/bin"}
    p = ecs.sb.run([CLI, "--endpoint", "http://127.0.0.1:5080", "ecs", "create-cluster", "--cluster-name", "fromcli"],
                   env=env)
    assert json.loads(p.stdout)["cluster"]["clusterName"] == "fromcli"
    p = ecs.sb.run([CLI, "--endpoint", "http://127.0.0.1:5080", "ecs", "list-clusters"], check=False,
                   env={"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "PATH": "/usr/bin:/bin"})
    assert p.returncode == 255 and "credentials file '/nonexistent'" in p.stderr


def test_profiles_added_later_are_honoured(ecs):
    with open(ecs.credentials, "a") as f:
        f.write("\n[ci]\naws_access_key_id = AKIACIACIACIACIACI00\naws_secret_access_key = ci-secret/+\n")
    got = tcp_call(ecs, "ListClusters", signer={"file": ecs.credentials, "profile": "ci"})
    assert "ok" in got, got
