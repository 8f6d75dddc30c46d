"""Secrets Manager (secretsmanager.*, signed for "secretsmanager") and SSM Parameter Store (AmazonSSM.*,
signed for "ssm") on ecsboxd, end to end: the API with Debian's AWS CLI and boto3, container `secrets`
resolved into a task's environment, and `ecsbox secret`.

Each test runs netd (with its default VPC) and ecsboxd in a private sandbox; traffic goes only to
addresses inside it.
"""
import json
import os

from sandbox import CLI, wait_for

ROLE = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole"


def aws_err(ecs, *args):
    p = ecs.aws(*args, check=False)
    assert p.returncode != 0, p.stdout
    return p.stderr


def test_secretsmanager_with_the_cli(ecs):
    """create-secret, get/put-secret-value with versions and stages, describe, list with pages, delete
    (scheduled and forced), restore, and AWS's errors."""
    c = ecs.aws("secretsmanager", "create-secret", "--name", "db/pass", "--secret-string", "s3cret",
                "--description", "the db", "--tags", "Key=team,Value=a")
    assert c["Name"] == "db/pass" and len(c["VersionId"]) == 36
    assert c["ARN"].startswith("arn:aws:secretsmanager:us-east-1:000000000000:secret:db/pass-") and len(c["ARN"].rsplit("-", 1)[1]) == 6
    g = ecs.aws("secretsmanager", "get-secret-value", "--secret-id", "db/pass")
    assert g["SecretString"] == "s3cret" and g["VersionStages"] == ["AWSCURRENT"] and g["ARN"] == c["ARN"]
    assert ecs.aws("secretsmanager", "get-secret-value", "--secret-id", c["ARN"])["SecretString"] == "s3cret"
    p = ecs.aws("secretsmanager", "put-secret-value", "--secret-id", "db/pass", "--secret-string", "v2")
    assert p["VersionStages"] == ["AWSCURRENT"] and p["VersionId"] != c["VersionId"]
    assert ecs.aws("secretsmanager", "get-secret-value", "--secret-id", "db/pass")["SecretString"] == "v2"
    prev = ecs.aws("secretsmanager", "get-secret-value", "--secret-id", "db/pass", "--version-stage", "AWSPREVIOUS")
    assert prev["SecretString"] == "s3cret" and prev["VersionId"] == c["VersionId"]
    assert ecs.aws("secretsmanager", "get-secret-value", "--secret-id", "db/pass",
                   "--version-id", c["VersionId"])["SecretString"] == "s3cret"
    d = ecs.aws("secretsmanager", "describe-secret", "--secret-id", "db/pass")
    assert d["Description"] == "the db" and d["Tags"] == [{"Key": "team", "Value": "a"}]
    assert d["VersionIdsToStages"] == {c["VersionId"]: ["AWSPREVIOUS"], p["VersionId"]: ["AWSCURRENT"]}
    assert "SecretString" not in json.dumps(d)

    assert "(ResourceExistsException)" in aws_err(ecs, "secretsmanager", "create-secret", "--name", "db/pass", "--secret-string", "x")
    e = aws_err(ecs, "secretsmanager", "get-secret-value", "--secret-id", "nope")
    assert "(ResourceNotFoundException)" in e and "Secrets Manager can't find the specified secret." in e
    assert "(InvalidParameterException)" in aws_err(ecs, "secretsmanager", "create-secret", "--name", "bad name!", "--secret-string", "x")
    assert "(InvalidParameterException)" in aws_err(ecs, "secretsmanager", "create-secret", "--name", "both",
                                                    "--secret-string", "x", "--secret-binary", "eA==")

    for i in range(5):
        ecs.aws("secretsmanager", "create-secret", "--name", f"many{i}", "--secret-string", str(i))
    names = [s["Name"] for s in ecs.aws("secretsmanager", "list-secrets", "--page-size", "2")["SecretList"]]
    assert names == ["db/pass"] + [f"many{i}" for i in range(5)]
    f = ecs.aws("secretsmanager", "list-secrets", "--filters", "Key=name,Values=many", "Key=name,Values=!many4")["SecretList"]
    assert [s["Name"] for s in f] == [f"many{i}" for i in range(4)]
    assert [s["Name"] for s in ecs.aws("secretsmanager", "list-secrets", "--filters", "Key=tag-key,Values=te")["SecretList"]] == ["db/pass"]
    assert "(InvalidParameterException)" in aws_err(ecs, "secretsmanager", "list-secrets", "--filters", "Key=colour,Values=x")

    dl = ecs.aws("secretsmanager", "delete-secret", "--secret-id", "many0", "--recovery-window-in-days", "7")
    assert dl["Name"] == "many0" and "DeletionDate" in dl
    e = aws_err(ecs, "secretsmanager", "get-secret-value", "--secret-id", "many0")
    assert "(InvalidRequestException)" in e and "marked for deletion" in e
    assert "many0" not in [s["Name"] for s in ecs.aws("secretsmanager", "list-secrets")["SecretList"]]
    assert "DeletedDate" in ecs.aws("secretsmanager", "describe-secret", "--secret-id", "many0")
    ecs.aws("secretsmanager", "restore-secret", "--secret-id", "many0")
    assert ecs.aws("secretsmanager", "get-secret-value", "--secret-id", "many0")["SecretString"] == "0"
    ecs.aws("secretsmanager", "delete-secret", "--secret-id", "many0", "--force-delete-without-recovery")
    assert "(ResourceNotFoundException)" in aws_err(ecs, "secretsmanager", "describe-secret", "--secret-id", "many0")
    assert "(InvalidParameterException)" in aws_err(ecs, "secretsmanager", "delete-secret", "--secret-id", "many1",
                                                    "--force-delete-without-recovery", "--recovery-window-in-days", "7")


def test_ssm_parameters_with_the_cli(ecs):
    """put-parameter (types, overwrite, versions), get-parameter(s), get-parameters-by-path, describe,
    delete(s), and the errors."""
    assert ecs.aws("ssm", "put-parameter", "--name", "/app/db/host", "--value", "db.local", "--type", "String")["Version"] == 1
    ecs.aws("ssm", "put-parameter", "--name", "/app/db/pass", "--value", "hunter2", "--type", "SecureString")
    ecs.aws("ssm", "put-parameter", "--name", "/app/list", "--value", "a,b", "--type", "StringList")
    ecs.aws("ssm", "put-parameter", "--name", "plain", "--value", "p", "--type", "String")
    e = aws_err(ecs, "ssm", "put-parameter", "--name", "/app/db/host", "--value", "x", "--type", "String")
    assert "(ParameterAlreadyExists)" in e
    assert ecs.aws("ssm", "put-parameter", "--name", "/app/db/host", "--value", "db2", "--overwrite")["Version"] == 2
    g = ecs.aws("ssm", "get-parameter", "--name", "/app/db/host")["Parameter"]
    assert g["Value"] == "db2" and g["Version"] == 2 and g["Type"] == "String"
    assert g["ARN"] == "arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host"
    assert ecs.aws("ssm", "get-parameter", "--name", "plain")["Parameter"]["ARN"].endswith(":parameter/plain")
    sealed = ecs.aws("ssm", "get-parameter", "--name", "/app/db/pass")["Parameter"]["Value"]
    assert "hunter2" not in sealed
    assert ecs.aws("ssm", "get-parameter", "--name", "/app/db/pass", "--with-decryption")["Parameter"]["Value"] == "hunter2"
    assert "(ParameterNotFound)" in aws_err(ecs, "ssm", "get-parameter", "--name", "/nope")
    gs = ecs.aws("ssm", "get-parameters", "--names", "/app/db/host", "/nope", "--with-decryption")
    assert [p["Name"] for p in gs["Parameters"]] == ["/app/db/host"] and gs["InvalidParameters"] == ["/nope"]
    flat = ecs.aws("ssm", "get-parameters-by-path", "--path", "/app")["Parameters"]
    assert [p["Name"] for p in flat] == ["/app/list"]
    deep = ecs.aws("ssm", "get-parameters-by-path", "--path", "/app/", "--recursive", "--with-decryption",
                   "--page-size", "1")["Parameters"]
    assert sorted(p["Name"] for p in deep) == ["/app/db/host", "/app/db/pass", "/app/list"]
    assert {p["Name"]: p["Value"] for p in deep}["/app/db/pass"] == "hunter2"
    meta = ecs.aws("ssm", "describe-parameters")["Parameters"]
    assert len(meta) == 4 and all("Value" not in m for m in meta)
    sec = ecs.aws("ssm", "describe-parameters", "--parameter-filters", "Key=Type,Values=SecureString")["Parameters"]
    assert [m["Name"] for m in sec] == ["/app/db/pass"]
    under = ecs.aws("ssm", "describe-parameters", "--parameter-filters", "Key=Path,Option=Recursive,Values=/app")["Parameters"]
    assert sorted(m["Name"] for m in under) == ["/app/db/host", "/app/db/pass", "/app/list"]
    assert "(ValidationException)" in aws_err(ecs, "ssm", "describe-parameters", "--parameter-filters", "Key=Label,Values=x")
    assert "(ValidationException)" in aws_err(ecs, "ssm", "put-parameter", "--name", "/x", "--value", "v", "--type", "Bogus")
    assert "(ValidationException)" in aws_err(ecs, "ssm", "put-parameter", "--name", "/aws/x", "--value", "v", "--type", "String")
    ecs.aws("ssm", "delete-parameter", "--name", "plain")
    assert "(ParameterNotFound)" in aws_err(ecs, "ssm", "delete-parameter", "--name", "plain")
    dd = ecs.aws("ssm", "delete-parameters", "--names", "/app/list", "/gone")
    assert dd["DeletedParameters"] == ["/app/list"] and dd["InvalidParameters"] == ["/gone"]


def test_boto3_secrets_and_signing(ecs):
    """boto3 (signing for secretsmanager and ssm over TCP) and its paginators; a request signed for another
    service is refused."""
    script = r'''
import json, boto3, botocore, urllib.request, urllib.error
s = boto3.Session(profile_name="ecsbox")
sm = s.client("secretsmanager", endpoint_url="http://127.0.0.1:5080", region_name="us-east-1")
ssm = s.client("ssm", endpoint_url="http://127.0.0.1:5080", region_name="us-east-1")
out = {}
sm.create_secret(Name="b3", SecretString=json.dumps({"u": "me"}))
out["v"] = sm.get_secret_value(SecretId="b3")["SecretString"]
try:
    sm.get_secret_value(SecretId="none")
except sm.exceptions.ResourceNotFoundException as e:
    out["nf"] = e.response["Error"]["Message"]
for i in range(12):
    ssm.put_parameter(Name="/p/k%02d" % i, Value=str(i), Type="String")
out["n"] = sum(len(p["Parameters"]) for p in ssm.get_paginator("get_parameters_by_path").paginate(Path="/p"))
try:
    ssm.get_parameter(Name="/p/none")
except ssm.exceptions.ParameterNotFound:
    out["pnf"] = True
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
req = AWSRequest(method="POST", url="http://127.0.0.1:5080/", data=b"{}",
                 headers={"X-Amz-Target": "secretsmanager.ListSecrets", "Content-Type": "application/x-amz-json-1.1"})
SigV4Auth(s.get_credentials(), "ecs", "us-east-1").add_auth(req)
try:
    urllib.request.urlopen(urllib.request.Request(req.url, data=req.body, headers=dict(req.headers.items()), method="POST"))
    out["wrong_service"] = "accepted"
except urllib.error.HTTPError as e:
    out["wrong_service"] = [e.code, json.loads(e.read())["__type"]]
print(json.dumps(out))
'''
    p = ecs.sb.run(["/usr/bin/python3", "-c", script], env=ecs.ENV, timeout=120)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["v"] == '{"u": "me"}'
    assert out["nf"] == "Secrets Manager can't find the specified secret."
    assert out["n"] == 12 and out["pnf"]
    assert out["wrong_service"] == [403, "InvalidSignatureException"]


def secrets_td(family, secrets, role=ROLE, show="env | grep ^S_ | sort"):
    td = {"family": family, "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "app", "image": "busybox", "memory": 32, "essential": True, "command": ["sh", "-c", show + "; echo ---END"],
         "environment": [{"name": "PLAIN", "value": "p"}], "secrets": secrets}]}
    if role:
        td["executionRoleArn"] = role
    return td


def run1(ecs, td):
    ecs.call("RegisterTaskDefinition", **td)
    r = ecs.call("RunTask", taskDefinition=td["family"])
    assert r["failures"] == [], r
    return r["tasks"][0]["taskArn"]


def task_lines(ecs, arn):
    def done():
        lines = [e["line"].rstrip("\n") for e in ecs.call("GetTaskLogs", task=arn).get("events", [])]
        return lines if "---END" in lines else None
    lines = wait_for(done, 30, what="the task's output")
    return lines[:lines.index("---END")]


def test_task_gets_secrets_as_environment(ecs):
    """Secrets Manager (whole, json-key, AWSPREVIOUS) and SSM (name, ARN, SecureString) values become the
    container's variables; DescribeTasks, the task record and ecsboxd's log do not show them; the spec is 0600."""
    c = ecs.aws("secretsmanager", "create-secret", "--name", "web/db", "--secret-string",
                json.dumps({"user": "alice", "password": "pw-9f3k", "port": 5432}))
    ecs.aws("secretsmanager", "put-secret-value", "--secret-id", "web/db", "--secret-string",
            json.dumps({"user": "bob", "password": "pw-new7", "port": 5432}))
    tok = ecs.aws("secretsmanager", "create-secret", "--name", "token", "--secret-string", "tok-x1y2")["ARN"]
    ecs.aws("ssm", "put-parameter", "--name", "/web/url", "--value", "https://u.example", "--type", "String")
    ecs.aws("ssm", "put-parameter", "--name", "apikey", "--value", "ak-secure-5", "--type", "SecureString")
    arn_db = c["ARN"]
    secrets = [
        {"name": "S_TOKEN", "valueFrom": tok},
        {"name": "S_USER", "valueFrom": arn_db + ":user::"},
        {"name": "S_PORT", "valueFrom": arn_db + ":port::"},
        {"name": "S_OLDPW", "valueFrom": arn_db + ":password:AWSPREVIOUS:"},
        {"name": "S_URL", "valueFrom": "arn:aws:ssm:us-east-1:000000000000:parameter/web/url"},
        {"name": "S_KEY", "valueFrom": "apikey"},
        {"name": "S_ALL", "valueFrom": arn_db},
    ]
    arn = run1(ecs, secrets_td("sec", secrets))
    lines = task_lines(ecs, arn)
    env = dict(ln.split("=", 1) for ln in lines)
    assert env == {"S_TOKEN": "tok-x1y2", "S_USER": "bob", "S_PORT": "5432", "S_OLDPW": "pw-9f3k",
                   "S_URL": "https://u.example", "S_KEY": "ak-secure-5",
                   "S_ALL": json.dumps({"user": "bob", "password": "pw-new7", "port": 5432})}
    t = ecs.wait_task(arn, "STOPPED", timeout=60)
    assert t["containers"][0].get("exitCode") == 0, t
    shown = json.dumps(ecs.call("DescribeTasks", tasks=[arn]))
    for v in ("tok-x1y2", "pw-new7", "pw-9f3k", "ak-secure-5", "u.example"):
        assert v not in shown
    tid = arn.rsplit("/", 1)[1]
    specs = [os.path.join(d, "spec.json") for d, _, f in os.walk(ecs.state) if "spec.json" in f and d.endswith(tid)]
    assert len(specs) == 1 and os.stat(specs[0]).st_mode & 0o777 == 0o600
    assert "pw-new7" in open(specs[0]).read()
    # (the sandbox made the state directory itself: ecsboxd creates one 0700 and leaves an existing one's mode)
    assert os.stat(os.path.join(ecs.state, "ecsboxd.db")).st_mode & 0o777 == 0o600
    for f in ("ecsboxd.db-wal", "ecsboxd.db-shm"):
        if os.path.exists(os.path.join(ecs.state, f)):
            assert os.stat(os.path.join(ecs.state, f)).st_mode & 0o777 == 0o600, f
    log = open(ecs.log).read()
    for v in ("tok-x1y2", "pw-new7", "pw-9f3k", "ak-secure-5"):
        assert v not in log
    # sealed at rest with AES-256-GCM under STATE_DIR/secrets.key
    key = os.path.join(ecs.state, "secrets.key")
    assert os.stat(key).st_mode & 0o777 == 0o600 and os.path.getsize(key) == 32
    for f in ("ecsboxd.db", "ecsboxd.db-wal"):
        p = os.path.join(ecs.state, f)
        data = open(p, "rb").read() if os.path.exists(p) else b""
        for v in (b"tok-x1y2", b"pw-new7", b"pw-9f3k", b"ak-secure-5", b"u.example"):
            assert v not in data, (f, v)


def test_missing_secret_stops_the_task(ecs):
    """A missing Secrets Manager secret, a missing json key and a missing parameter stop the task with ECS's
    reasons; RegisterTaskDefinition checks secrets and wants executionRoleArn."""
    arn_nf = "arn:aws:secretsmanager:us-east-1:000000000000:secret:gone-AbCdEf"
    t = ecs.wait_task(run1(ecs, secrets_td("nf", [{"name": "S_X", "valueFrom": arn_nf}])), "STOPPED", timeout=60)
    assert t["stopCode"] == "TaskFailedToStart"
    assert t["stoppedReason"] == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        "unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret "
        f"{arn_nf} from secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.")
    k = ecs.aws("secretsmanager", "create-secret", "--name", "k", "--secret-string", '{"a": "1"}')["ARN"]
    t = ecs.wait_task(run1(ecs, secrets_td("nk", [{"name": "S_X", "valueFrom": k + ":b::"}])), "STOPPED", timeout=60)
    assert t["stoppedReason"].endswith("retrieved secret from Secrets Manager did not contain json key b")
    t = ecs.wait_task(run1(ecs, secrets_td("np", [{"name": "S_X", "valueFrom": "/no/param"}])), "STOPPED", timeout=60)
    assert t["stoppedReason"] == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        "unable to retrieve secrets from ssm: service call has been retried 1 time(s): invalid parameters: /no/param")

    e = ecs.err("RegisterTaskDefinition", **secrets_td("norole", [{"name": "S_X", "valueFrom": k}], role=None))
    assert e.type == "ClientException" and "executionRoleArn" in e.message
    e = ecs.err("RegisterTaskDefinition", **secrets_td("noval", [{"name": "S_X"}]))
    assert e.type == "ClientException" and "valueFrom" in e.message
    e = ecs.err("RegisterTaskDefinition", **secrets_td("noname", [{"valueFrom": k}]))
    assert e.type == "ClientException" and "name" in e.message


def test_ecsbox_secret_cli(ecs):
    """ecsbox secret put (create, then a new version), get, ls, rm."""
    def cli(*args, check=True):
        return ecs.sb.run([CLI, "--endpoint", ecs.sock, "secret"] + list(args), check=check)
    arn = cli("put", "cli/one", "first").stdout.strip()
    assert arn.startswith("arn:aws:secretsmanager:") and ":secret:cli/one-" in arn
    assert cli("get", "cli/one").stdout == "first\n"
    assert cli("put", "cli/one", "second").stdout.strip() == arn
    assert cli("get", "cli/one").stdout == "second\n"
    cli("put", "cli/two", "x")
    ecs.sb.run([CLI, "--endpoint", ecs.sock, "secret", "put", "cli/stdin", "-"], input="from stdin\n")
    assert cli("get", "cli/stdin").stdout == "from stdin\n"
    cli("rm", "cli/stdin")
    ls = cli("ls").stdout.splitlines()
    assert ls[0].split() == ["NAME", "ARN"] and [ln.split()[0] for ln in ls[1:]] == ["cli/one", "cli/two"]
    cli("rm", "cli/one")
    p = cli("get", "cli/one", check=False)
    assert p.returncode == 254 and "ResourceNotFoundException" in p.stderr
    assert cli("bogus", check=False).returncode == 252
    # over TCP the CLI signs for secretsmanager (the credentials file ecsboxd made)
    tcp = ecs.sb.run([CLI, "--endpoint", "http://127.0.0.1:5080", "secret", "get", "cli/two"], env=ecs.ENV, check=False)
    assert tcp.returncode == 0 and tcp.stdout == "x\n", tcp.stderr


def test_repository_credentials_for_the_pull(sb, images):
    """repositoryCredentials.credentialsParameter: the secret's username/password authenticate the pull of
    that container's image (a registry behind a token front that wants them); without it the pull is
    refused; a missing secret stops the task with the agent's reason."""
    from ocireg import Front, Registry
    from sandbox import Ecsboxd, Netd
    from test_images import skopeo
    reg = Registry(sb, 5000)
    skopeo(sb, f"oci-archive:{os.path.join(images, 'busybox.tar')}", f"{reg.host}/test/busybox:v1")
    front = Front(sb, 5100, reg.url, auth="bearer", creds=("bob", "pw-reg"), blobs="proxy")
    n = Netd(sb)
    ecs = Ecsboxd(sb, None, extra_args=["--insecure-registry", "127.0.0.1:5100", "--insecure-registry", reg.host])
    ecs.netd = n
    image = "127.0.0.1:5100/test/busybox:v1"

    def td(family, creds=None):
        c = {"name": "app", "image": image, "memory": 32, "essential": True, "command": ["sh", "-c", "echo pulled-ok; echo ---END"]}
        if creds:
            c["repositoryCredentials"] = {"credentialsParameter": creds}
        return {"family": family, "networkMode": "awsvpc", "executionRoleArn": ROLE, "containerDefinitions": [c]}

    t = ecs.wait_task(run1(ecs, td("anon")), "STOPPED", timeout=90)
    assert t["stoppedReason"].startswith("CannotPullContainerError: ") and "denied" in t["stoppedReason"].lower(), t["stoppedReason"]

    arn_nf = "arn:aws:secretsmanager:us-east-1:000000000000:secret:reg-XXXXXX"
    t = ecs.wait_task(run1(ecs, td("nf", arn_nf)), "STOPPED", timeout=60)
    assert t["stoppedReason"] == (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        f"asm fetching secret from the service for {arn_nf}: ResourceNotFoundException: Secrets Manager can't find the specified secret.")
    bad = ecs.aws("secretsmanager", "create-secret", "--name", "reg-bad", "--secret-string", '{"username": "bob"}')["ARN"]
    t = ecs.wait_task(run1(ecs, td("bad", bad)), "STOPPED", timeout=60)
    assert t["stoppedReason"].endswith("asm fetching password: AuthorizationData is malformed, empty field")

    good = ecs.aws("secretsmanager", "create-secret", "--name", "reg", "--secret-string",
                   json.dumps({"username": "bob", "password": "pw-reg"}))["ARN"]
    arn = run1(ecs, td("auth", good))
    assert task_lines(ecs, arn) == ["pulled-ok"]
    t = ecs.wait_task(arn, "STOPPED", timeout=60)
    assert t["containers"][0].get("exitCode") == 0, t
    assert any(authz.startswith("Basic ") for _, authz in front.token_requests), front.token_requests
    assert "pw-reg" not in json.dumps(ecs.call("DescribeTasks", tasks=[arn])) and "pw-reg" not in open(ecs.log).read()
    front.stop()
    reg.stop()
