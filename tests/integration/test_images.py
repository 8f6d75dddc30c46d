"""test_images.py: images end to end through ecsboxd: the busybox archive imported and run, an image's
configuration honoured (and overridden by the container definition, as ECS does), pulls from a
docker-registry started on 127.0.0.1 inside each test's sandbox (directly, and as Docker Hub's mirror
for an nginx image assembled from Debian's nginx-light files), pull failures, and `ecsbox image`.
"""
import json
import os
import shutil
import subprocess
import tarfile
import time

import pytest

from ocireg import (MT_OCI_CONFIG, MT_OCI_MANIFEST, MT_OCI_TAR, Front, Layout, Registry, busybox_layers, in_netns, push_all,
                    sha256, tar_layer)
from sandbox import CLI, Ecsboxd, Netd, wait_for
from test_ecsboxd import eni_of, fetch, open_port_80

BUSYBOX_INDEX = "ecsbox busybox image"
HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]


def cli(ecs, *args, check=True):
    p = ecs.sb.run([CLI, "image"] + list(args), check=False, timeout=180)
    if check:
        assert p.returncode == 0, f"ecsbox image {args}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def run_task(ecs, family, containers, **extra):
    td = {"family": family, "networkMode": "awsvpc", "cpu": "256", "memory": "512", "containerDefinitions": containers}
    td.update(extra)
    ecs.call("RegisterTaskDefinition", **td)
    r = ecs.call("RunTask", taskDefinition=family)
    assert r["failures"] == [], r
    return r["tasks"][0]["taskArn"]


def logs(ecs, arn, container):
    ev = ecs.call("GetTaskLogs", task=arn, container=container).get("events", [])
    return "\n".join(e["line"] for e in ev)


def dir_layer(root, prefix=""):
    """An uncompressed tar of the directory root (owners 0, fixed mtimes)."""
    import io
    buf = io.BytesIO()

    def f(ti):
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        ti.mtime = 1700000000
        return ti
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d, dirs, files in os.walk(root):
            dirs.sort()
            rel = os.path.relpath(d, root)
            if rel != ".":
                t.add(d, arcname=rel, recursive=False, filter=f)
            for name in sorted(files):
                t.add(os.path.join(d, name), arcname=os.path.normpath(os.path.join(rel, name)), recursive=False, filter=f)
    return buf.getvalue()


def oci_image(d, layers, config, tag):
    """An OCI layout at d holding one image of the tar layers with config (the "config" object)."""
    lay = Layout(d)
    descs = [lay.blob(t, MT_OCI_TAR) for t in layers]
    cfg = {"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z", "config": config,
           "rootfs": {"type": "layers", "diff_ids": [sha256(t) for t in layers]}}
    c = lay.blob(json.dumps(cfg).encode(), MT_OCI_CONFIG)
    m = lay.blob(json.dumps({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": c, "layers": descs}).encode(),
                 MT_OCI_MANIFEST)
    lay.tag(m, tag)
    return lay, c["digest"]


def skopeo(sb, src, dest):
    env = dict(os.environ, HOME=sb.tmp, TMPDIR=sb.tmp)
    sb.run(["skopeo", "copy", "--quiet", "--insecure-policy", "--dest-tls-verify=false", src, f"docker://{dest}"],
           timeout=180, env=env)


@pytest.fixture
def reg(sb):
    r = Registry(sb, 5000)
    yield r
    r.stop()


def ecsboxd_with_registry(sb, images, reg, mirror=False):
    n = Netd(sb)
    extra = ["--insecure-registry", reg.host]
    if mirror:
        extra += ["--registry-mirror", reg.url]
    d = Ecsboxd(sb, images, extra_args=extra)
    d.netd = n
    return d


def test_busybox_imported_runs_and_image_commands(ecs):
    """The archive build-image.sh packs is imported as busybox:latest; an awsvpc task of "busybox"
    serves its page; ls shows it; rm is refused while a task uses it; prune and rm afterwards."""
    p = cli(ecs, "ls")
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "ID", "SIZE", "CREATED"]
    row = [l for l in lines[1:] if l.startswith("busybox:latest ")]
    assert len(row) == 1, p.stdout
    image_id = row[0].split()[1]
    assert len(image_id) == 12 and int(image_id, 16) >= 0
    listed = ecs.images_call("ListImages")["images"]
    assert [i["names"] for i in listed] == [["docker.io/library/busybox:latest"]]
    assert listed[0]["imageId"] == "sha256:" + image_id + listed[0]["imageId"][19:]

    open_port_80(ecs)
    arn = run_task(ecs, "bb", [{"name": "web", "image": "busybox", "command": HTTPD, "stopTimeout": 2,
                                "portMappings": [{"containerPort": 80}]}])
    t = ecs.wait_task(arn, timeout=60)
    assert t["pullStartedAt"] <= t["pullStoppedAt"] <= t["startedAt"]
    assert t["containers"][0]["imageDigest"].startswith("sha256:")
    assert fetch(ecs, eni_of(t)["privateIPv4Address"]) == BUSYBOX_INDEX

    p = cli(ecs, "rm", "busybox", check=False)
    assert p.returncode != 0 and "ImageInUse" in p.stderr, p.stderr
    p = cli(ecs, "prune", "--all")
    assert "Total reclaimed space: 0B" in p.stdout
    assert "busybox:latest" in cli(ecs, "ls").stdout

    ecs.call("StopTask", task=arn)
    ecs.wait_task(arn, "STOPPED", timeout=30)
    tid = arn.rsplit("/", 1)[1]
    # the task's upper layer went with it
    assert not os.path.exists(os.path.join(ecs.state, "tasks", tid, "rootfs", "web", "upper"))
    cli(ecs, "rm", "busybox")
    assert "busybox" not in cli(ecs, "ls").stdout
    p = cli(ecs, "prune")
    assert p.stdout.startswith("Total reclaimed space: "), p.stdout
    # nothing of the image is left on disk: no unpacked layer, no blob
    store = os.path.join(ecs.state, "images")
    assert [x for x in os.listdir(os.path.join(store, "layers")) if not x.startswith(".")] == []
    assert os.listdir(os.path.join(store, "blobs", "sha256")) == []
    p = cli(ecs, "rm", "busybox", check=False)
    assert p.returncode != 0 and "ImageNotFound" in p.stderr


def test_image_config_and_definition_overrides(ecs):
    """Entrypoint, Cmd, Env, WorkingDir and User come from the image; the container definition's
    command, environment, workingDirectory and user win (ECS over Docker)."""
    app = os.path.join(ecs.sb.tmp, "app-layer")
    os.makedirs(os.path.join(app, "etc"))
    os.makedirs(os.path.join(app, "srv", "app"))
    shutil.copy(os.path.join(ecs.images, "busybox", "etc", "group"), os.path.join(app, "etc", "group"))
    with open(os.path.join(app, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/srv/app:/bin/sh\n")
    script = "echo ran=$0; id -u; pwd; echo env=$GREETING/$ONLY_IMAGE; exec sleep 1000"
    layers = [dir_layer(os.path.join(ecs.images, "busybox")), dir_layer(app)]
    lay, cfg_digest = oci_image(os.path.join(ecs.sb.tmp, "cfg-oci"), layers,
                                {"Entrypoint": ["/bin/sh", "-c"], "Cmd": [script, "image-cmd"],
                                 "Env": ["PATH=/bin:/sbin", "GREETING=hello-image", "ONLY_IMAGE=kept"],
                                 "WorkingDir": "/srv/app", "User": "app", "StopSignal": "SIGUSR1"}, "1")
    ids = ecs.import_image(lay.dir, "example/cfg:1")
    assert ids == [cfg_digest]

    plain = run_task(ecs, "cfg", [{"name": "c", "image": "example/cfg:1", "stopTimeout": 20}])
    over = run_task(ecs, "cfg2", [{"name": "c", "image": "example/cfg:1", "stopTimeout": 20,
                                   "command": [script, "def-cmd"], "environment": [{"name": "GREETING", "value": "from-def"}],
                                   "workingDirectory": "/tmp", "user": "0"}])
    for arn in (plain, over):
        ecs.wait_task(arn, timeout=60)
    wait_for(lambda: "env=" in logs(ecs, plain, "c") and "env=" in logs(ecs, over, "c"), 10, what="container output")
    assert logs(ecs, plain, "c").split() == ["ran=image-cmd", "1000", "/srv/app", "env=hello-image/kept"]
    assert logs(ecs, over, "c").split() == ["ran=def-cmd", "0", "/tmp", "env=from-def/kept"]
    # StopSignal SIGUSR1: sh as PID 1 has no handler, so it takes SIGKILL only after stopTimeout;
    # the monitor's log shows the image's signal was the one sent
    ecs.call("StopTask", task=plain)
    tid = plain.rsplit("/", 1)[1]
    mlog = os.path.join(ecs.state, "tasks", tid, "monitor.log")
    wait_for(lambda: os.path.exists(mlog) and "signal=SIGUSR1" in open(mlog).read(), 10, what="SIGUSR1 sent")


def test_pull_from_registry_and_unknown_image(sb, images, reg):
    """A task whose image lives in the local registry pulls it during PENDING (pullStartedAt and
    pullStoppedAt around the pull); an unknown image stops the task with CannotPullContainerError."""
    skopeo(sb, f"oci-archive:{os.path.join(images, 'busybox.tar')}", f"{reg.host}/test/busybox:v1")
    ecs = ecsboxd_with_registry(sb, None, reg)
    assert ecs.images_call("ListImages")["images"] == []
    open_port_80(ecs)
    image = f"{reg.host}/test/busybox:v1"
    arn = run_task(ecs, "pulled", [{"name": "web", "image": image, "command": HTTPD, "stopTimeout": 2}])
    t = ecs.wait_task(arn, timeout=90)
    assert t["createdAt"] <= t["pullStartedAt"] <= t["pullStoppedAt"] <= t["startedAt"]
    assert fetch(ecs, eni_of(t)["privateIPv4Address"]) == BUSYBOX_INDEX
    names = [n for i in ecs.images_call("ListImages")["images"] for n in i["names"]]
    assert names == [image]

    bad = f"{reg.host}/test/nope:v1"
    arn = run_task(ecs, "missing", [{"name": "web", "image": bad, "command": HTTPD}])
    t = ecs.wait_task(arn, "STOPPED", timeout=60)
    assert t["stopCode"] == "TaskFailedToStart"
    assert t["stoppedReason"].startswith("CannotPullContainerError: "), t["stoppedReason"]
    assert "test/nope" in t["stoppedReason"], t["stoppedReason"]
    assert t["containers"][0]["reason"] == t["stoppedReason"]
    assert t["pullStartedAt"] <= t["pullStoppedAt"] and "startedAt" not in t

    # the CLI's pull without a terminal: a plain line per layer state (docker pull's), nothing on stderr;
    # and its failure
    p = cli(ecs, "pull", f"{reg.host}/test/busybox:v1")
    assert p.stdout.splitlines()[-1] == image and p.stderr == "", p
    assert all(": " in ln for ln in p.stdout.splitlines()[:-2]), p.stdout
    p = cli(ecs, "pull", bad, check=False)
    assert p.returncode != 0 and "test/nope" in p.stderr and "ManifestNotFound" in p.stderr, p.stderr


def nginx_root(d):
    """A root filesystem of Debian's nginx-light: the binary, its libraries (ldd), mime.types, a
    minimal nginx.conf, the default page, www-data, and the directories nginx writes."""
    def copy(src, dst=None):
        dst = os.path.join(d, (dst or src).lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.realpath(src), dst)
    copy("/usr/sbin/nginx")
    for line in subprocess.run(["ldd", "/usr/sbin/nginx"], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            copy(path)
    copy("/etc/nginx/mime.types")
    page = "/usr/share/nginx/html/index.html"
    if not os.path.exists(page):
        page = "/var/www/html/index.nginx-debian.html"
    copy(page, "/usr/share/nginx/html/index.html")
    for sub in ("var/log/nginx", "var/lib/nginx", "run", "tmp", "etc/nginx/conf.d"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    os.chmod(os.path.join(d, "tmp"), 0o1777)
    with open(os.path.join(d, "etc", "nginx", "nginx.conf"), "w") as f:
        f.write("user www-data;\nworker_processes 1;\npid /run/nginx.pid;\nerror_log /dev/stderr;\n"
                "events { worker_connections 64; }\n"
                "http {\n  include /etc/nginx/mime.types;\n  access_log /dev/stdout;\n"
                "  server {\n    listen 80 default_server;\n    root /usr/share/nginx/html;\n    index index.html;\n  }\n}\n")
    with open(os.path.join(d, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n")
    with open(os.path.join(d, "etc", "group"), "w") as f:
        f.write("root:x:0:\nwww-data:x:33:\n")
    return open(page).read()


def test_nginx_from_the_docker_hub_mirror(sb, images, reg):
    """nginx:latest (docker.io) comes from the local registry as Docker Hub's mirror; an awsvpc task
    definition with that image and no command answers HTTP 200 with nginx's page on its IP."""
    root = os.path.join(sb.tmp, "nginx-root")
    page = nginx_root(root)
    lay, _ = oci_image(os.path.join(sb.tmp, "nginx-oci"), [dir_layer(root)],
                       {"Cmd": ["nginx", "-g", "daemon off;"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                        "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGQUIT"}, "latest")
    skopeo(sb, f"oci:{lay.dir}:latest", f"{reg.host}/library/nginx:latest")
    ecs = ecsboxd_with_registry(sb, None, reg, mirror=True)
    open_port_80(ecs)
    arn = run_task(ecs, "nginx", [{"name": "nginx", "image": "nginx:latest", "essential": True,
                                   "portMappings": [{"containerPort": 80, "protocol": "tcp"}]}],
                   requiresCompatibilities=["FARGATE"])
    t = ecs.wait_task(arn, timeout=90)
    ip = eni_of(t)["privateIPv4Address"]
    p = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(
        sb.run(["curl", "-sS", "-o", "/dev/stdout", "-w", "\n%{http_code}", "--max-time", "5", f"http://{ip}/"],
               check=False)), 15, interval=0.2, what="nginx answer")
    body, code = p.stdout.rsplit("\n", 1)
    assert code == "200" and body.strip() == page.strip()
    assert "Welcome to nginx" in body
    names = [n for i in ecs.images_call("ListImages")["images"] for n in i["names"]]
    assert names == ["docker.io/library/nginx:latest"]
    # SIGQUIT (the image's StopSignal) is nginx's graceful stop: no SIGKILL needed
    start = time.monotonic()
    ecs.call("StopTask", task=arn)
    t = ecs.wait_task(arn, "STOPPED", timeout=30)
    assert t["containers"][0]["exitCode"] == 0 and time.monotonic() - start < 20, t["containers"][0]


def test_kill9_during_a_task_pull_then_restart(sb, images, reg):
    """ecsboxd killed while a PENDING task's image streams in (through a slow front): after the restart
    the task's pull starts again, nothing half-made is used, and the task runs."""
    from ocireg import Front
    lay = Layout(os.path.join(sb.tmp, "big"))
    big = tar_layer([("big.bin", "file", os.urandom(16 << 20), 0o644)])
    desc, _ = lay.image([dir_layer(os.path.join(images, "busybox")), big], compressions=["gzip", "tar"])
    lay.tag(desc, "big")
    skopeo(sb, f"oci:{lay.dir}:big", f"{reg.host}/test/big:1")
    Front(sb, 5100, reg.url, blobs="slow", rate=4 << 20)
    n = Netd(sb)
    ecs = Ecsboxd(sb, None, extra_args=["--insecure-registry", "127.0.0.1:5100"])
    ecs.netd = n
    arn = run_task(ecs, "big", [{"name": "c", "image": "127.0.0.1:5100/test/big:1", "command": ["sleep", "1000"],
                                 "stopTimeout": 2}])
    tmpdir = os.path.join(ecs.state, "images", "blobs", ".tmp")
    wait_for(lambda: os.path.isdir(tmpdir) and any(os.path.getsize(os.path.join(tmpdir, f)) > (1 << 20)
                                                   for f in os.listdir(tmpdir)), 30, what="a partly fetched layer")
    t = ecs.call("DescribeTasks", tasks=[arn])["tasks"][0]
    assert t["lastStatus"] == "PENDING" and "pullStartedAt" in t and "pullStoppedAt" not in t
    ecs.kill9()
    ecs.start()
    t = ecs.wait_task(arn, timeout=90)
    assert t["pullStartedAt"] <= t["pullStoppedAt"] <= t["startedAt"]
    # the half-fetched blob was removed at open, not used (per-digest lock files stay)
    assert [f for f in os.listdir(tmpdir) if not f.startswith("lock-")] == []
    names = [x for i in ecs.images_call("ListImages")["images"] for x in i["names"]]
    assert names == ["127.0.0.1:5100/test/big:1"]


def test_pull_progress_per_layer(sb, images, reg):
    """ListPulls shows each layer of the image being pulled (digest, size, bytesDone, state) while it
    streams in through a slow front: the big layer downloading with its bytes growing while the one
    after it waits, then every layer done with all its bytes; a second image sharing the base layer
    finds it already there ("exists"). `ecsbox image pull` prints a docker-pull-like line per layer."""
    base = busybox_layers()[0]
    big = tar_layer([("big", "file", os.urandom(6 << 20), 0o644)])
    lay = Layout(os.path.join(sb.tmp, "layout"))
    desc, _ = lay.image([big, base], compressions=["tar", "gzip"])
    lay.tag(desc, "v1")
    in_netns(sb.pid, push_all, reg.url, "test/two", lay, desc, "v1")
    want = json.loads(lay.blobs[desc["digest"]])["layers"]
    Front(sb, 5100, reg.url, blobs="slow", rate=4 << 20)
    n = Netd(sb)
    ecs = Ecsboxd(sb, None, extra_args=["--insecure-registry", "127.0.0.1:5100"])
    ecs.netd = n

    pull_id = ecs.images_call("PullImage", name="127.0.0.1:5100/test/two:v1")["pullId"]
    seen = []
    def done():
        p = ecs.images_call("ListPulls", pullId=pull_id)["pulls"][0]
        seen.append(p)
        return p if p["status"] != "IN_PROGRESS" else None
    final = wait_for(done, 60, interval=0.05, what="the pull")
    assert final["status"] == "COMPLETE", final
    assert [(l["digest"], l["size"]) for l in final["layers"]] == [(w["digest"], w["size"]) for w in want]
    assert all(l["state"] == "done" and l["bytesDone"] == l["size"] for l in final["layers"]), final["layers"]
    # while the big layer streamed: its bytes grew, within its size, and the base layer waited behind it
    streaming = [p["layers"] for p in seen if p.get("layers") and p["layers"][0]["state"] == "downloading"]
    assert len(streaming) >= 3, [p.get("layers") for p in seen]
    got = [ls[0]["bytesDone"] for ls in streaming]
    assert got == sorted(got) and 0 <= got[0] < got[-1] < want[0]["size"], got
    assert all(ls[1]["state"] == "waiting" and ls[1]["bytesDone"] == 0 for ls in streaming)
    states = {l["state"] for p in seen for l in p.get("layers", [])}
    assert {"waiting", "downloading", "done"} <= states, states
    assert states <= {"waiting", "downloading", "verifying", "downloaded", "extracting", "done", "exists"}, states

    # a second image on the same base: that layer is already in the store
    small = tar_layer([("etc", "dir", None, 0o755), ("etc/two", "file", b"two\n", 0o644)])
    desc2, _ = lay.image([base, small], compressions=["gzip", "gzip"])
    lay.tag(desc2, "v2")
    in_netns(sb.pid, push_all, reg.url, "test/two", lay, desc2, "v2")
    p = ecs.sb.run([CLI, "image", "pull", "127.0.0.1:5100/test/two:v2"], timeout=120)
    ids = [l["digest"].split(":")[1][:12] for l in json.loads(lay.blobs[desc2["digest"]])["layers"]]
    lines = p.stdout.splitlines()
    assert f"{ids[0]}: Already exists" in lines and f"{ids[1]}: Pull complete" in lines, p.stdout
    assert lines[-1] == "127.0.0.1:5100/test/two:v2" and p.stderr == "", p
