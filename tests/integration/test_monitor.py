"""ecsbox-monitor end to end: busybox containers in a task netns inside the test sandbox.

Each test starts the real monitor (it daemonises inside the sandbox) and watches what a user of
ecsboxd would: status.json, the logs, and the task's network namespace. Containers whose image is
"busybox" run on an overlay of the busybox root (scripts/build-image.sh) as their one lowerdir, as
ecsboxd hands the monitor an image's layers.
"""
import json
import os
import re
import secrets
import socket
import subprocess
import time

import pytest

from sandbox import MONITOR, ROOT, wait_for

BUILD_IMAGE = os.path.join(ROOT, "scripts", "build-image.sh")
INDEX = "ecsbox busybox image"
HTTPD = ["httpd", "-f", "-p", "80", "-h", "/www"]


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    subprocess.run(["bash", BUILD_IMAGE, str(d)], check=True, capture_output=True)
    return str(d)


class Task:
    """One task: a netns made with `ip netns add` (as netd would), a spec, a daemonised monitor."""

    def __init__(self, sb, store, containers, name="task", netns=True, **extra):
        self.sb = sb
        self.id = secrets.token_hex(16)
        self.dir = os.path.join(sb.tmp, name)
        self.ns = None
        if netns:
            self.ns = "t-" + self.id[:8]
            sb.run(["ip", "netns", "add", self.ns])
            sb.run(["ip", "-n", self.ns, "link", "set", "lo", "up"])
            # netd sets this in every task netns so that ping works without CAP_NET_RAW
            sb.run(["ip", "netns", "exec", self.ns, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"])
        for c in containers:
            if c.get("image") == "busybox" and "rootfs" not in c:
                c["rootfs"] = {"lowerdirs": [os.path.join(store, "busybox")]}
        self.spec = {"taskId": self.id, "taskArn": f"arn:aws:ecs:us-east-1:000000000000:task/c/{self.id}",
                     "netns": f"/run/netns/{self.ns}" if self.ns else None, "dir": self.dir,
                     "containers": containers}
        self.spec.update(extra)
        self.spec_path = os.path.join(sb.tmp, name + "-spec.json")
        with open(self.spec_path, "w") as f:
            json.dump(self.spec, f)

    def start(self):
        p = self.sb.run([MONITOR, "--spec", self.spec_path, "--log-level", "debug"], check=False)
        assert p.returncode == 0, f"monitor refused to start ({p.returncode}): {p.stderr}"
        self.pid = int(p.stdout.strip())
        return self

    def status(self):
        try:
            with open(os.path.join(self.dir, "status.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def wait(self, pred, timeout=15, what="status"):
        def check():
            s = self.status()
            return s if s and pred(s) else None
        try:
            return wait_for(check, timeout, interval=0.05, what=what)
        except TimeoutError:
            raise AssertionError(f"{what}: last status {json.dumps(self.status(), indent=1)}\n"
                                 f"monitor.log:\n{self.monitor_log()}")

    def wait_status(self, last, timeout=15):
        return self.wait(lambda s: s["lastStatus"] == last, timeout, what=f"task {last}")

    def monitor_log(self):
        try:
            return open(os.path.join(self.dir, "monitor.log")).read()
        except OSError:
            return ""

    def log(self, container):
        try:
            return open(os.path.join(self.dir, "logs", container + ".log")).read()
        except OSError:
            return ""

    def signal(self, sig="TERM"):
        self.sb.run(["kill", "-" + sig, str(self.pid)])

    def monitor_gone(self):
        # the sandbox's PID 1 (sleep) never reaps, so an exited monitor stays a zombie there
        p = self.sb.run(["cat", f"/proc/{self.pid}/stat"], check=False)
        return p.returncode != 0 or p.stdout.split(") ")[1].startswith("Z")

    def ns_exec(self, argv, check=False):
        return self.sb.run(["ip", "netns", "exec", self.ns] + list(argv), check=check)


def ctr(status, name):
    return next(c for c in status["containers"] if c["name"] == name)


def http_get(task, url="http://127.0.0.1/"):
    p = task.ns_exec(["curl", "-s", "-m", "2", url])
    return p.stdout if p.returncode == 0 else None


def test_httpd_in_task_netns_and_stop_with_sigkill(sb, store):
    t = Task(sb, store, [{"name": "web", "image": "busybox", "command": HTTPD, "stopTimeout": 2}],
             hostname="web-task").start()
    s = t.wait_status("RUNNING")
    web = ctr(s, "web")
    assert s["taskId"] == t.id and s["monitorPid"] == t.pid
    assert open(os.path.join(t.dir, "monitor.pid")).read().strip() == str(t.pid)
    assert re.fullmatch(r"[0-9a-f]{64}", web["runtimeId"])
    assert web["lastStatus"] == "RUNNING" and web["exitCode"] is None and web["limits"] == "none"
    assert s["startedAt"] >= web["startedAt"] > 0
    # served inside the task's netns, and only there
    assert wait_for(lambda: http_get(t), 5, what="http answer").strip() == INDEX
    assert sb.run(["curl", "-s", "-m", "1", "http://127.0.0.1/"], check=False).returncode != 0
    # the container's PID 1 sits in the task netns and in its own PID, mount, UTS and IPC namespaces
    assert sb.run(["ip", "netns", "identify", str(web["pid"])]).stdout.strip() == t.ns
    for ns in ("pid", "mnt", "uts", "ipc"):
        mine = sb.run(["readlink", f"/proc/self/ns/{ns}"]).stdout
        theirs = sb.run(["readlink", f"/proc/{web['pid']}/ns/{ns}"]).stdout
        assert mine != theirs, ns
    # the monitor left the caller's session and process group (double fork + setsid)
    stat = sb.run(["cat", f"/proc/{t.pid}/stat"]).stdout.split(") ")[1].split()
    init = sb.run(["cat", "/proc/1/stat"]).stdout.split(") ")[1].split()
    assert stat[2] == stat[3] != init[3], (stat, init)
    assert int(stat[3]) != t.pid        # not a session leader: it can never regain a terminal
    # StopTask: httpd is PID 1 and ignores SIGTERM, so SIGKILL after stopTimeout = 2 s
    t.signal("TERM")
    s = t.wait_status("STOPPED", 20)
    web = ctr(s, "web")
    assert s["stopCode"] == "UserInitiated" and s["stoppedReason"] == "Task stopped by user"
    assert web["lastStatus"] == "STOPPED" and web["exitCode"] == 137
    assert 1.8 <= web["finishedAt"] - s["stoppingAt"] < 8
    assert s["stoppedAt"] >= web["finishedAt"] >= s["stoppingAt"] >= s["startedAt"]
    wait_for(t.monitor_gone, 5, what="monitor exit")
    assert http_get(t) is None


def test_essential_exit_stops_task_and_logs(sb, store):
    t = Task(sb, store, [
        {"name": "app", "image": "busybox",
         "command": ["sh", "-c", "echo hello from app; echo oops >&2; sleep 1; exit 3"]},
        # handles SIGTERM: exits 0 long before its 30 s stopTimeout
        {"name": "polite", "image": "busybox", "essential": False,
         "command": ["sh", "-c", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done"]},
        # sleep as PID 1 ignores SIGTERM: SIGKILL after 1 s
        {"name": "stubborn", "image": "busybox", "essential": False, "stopTimeout": 1,
         "command": ["sleep", "1000"]},
    ]).start()
    s = t.wait_status("STOPPED", 20)
    assert s["stopCode"] == "EssentialContainerExited"
    assert s["stoppedReason"] == "Essential container in task exited"
    assert ctr(s, "app")["exitCode"] == 3
    assert ctr(s, "polite")["exitCode"] == 0
    assert ctr(s, "stubborn")["exitCode"] == 137
    assert ctr(s, "polite")["finishedAt"] - s["stoppingAt"] < 5
    assert s["stoppedAt"] - s["stoppingAt"] < 10
    assert all(c["lastStatus"] == "STOPPED" for c in s["containers"])
    assert t.log("app") == "hello from app\noops\n"
    assert "got TERM" in t.log("polite")
    wait_for(t.monitor_gone, 5, what="monitor exit")


def test_stop_request_file_and_versions(sb, store):
    notify = os.path.join(sb.tmp, "n.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(notify)
    rx.settimeout(5)
    try:
        t = Task(sb, store, [{"name": "web", "image": "busybox", "command": HTTPD, "stopTimeout": 1}],
                 notifySocket=notify).start()
        s = t.wait_status("RUNNING")
        v_running = s["version"]
        with open(os.path.join(t.dir, "stop-request.json"), "w") as f:
            json.dump({"stopCode": "ServiceSchedulerInitiated",
                       "reason": "Scaling activity initiated by (deployment ecs-svc/1234)"}, f)
        t.signal("TERM")
        s = t.wait_status("STOPPED")
        assert s["stopCode"] == "ServiceSchedulerInitiated"
        assert s["stoppedReason"] == "Scaling activity initiated by (deployment ecs-svc/1234)"
        assert s["version"] > v_running
        # one datagram with the task id per status write
        got = []
        while len(got) < s["version"]:
            got.append(rx.recv(256).decode())
        assert set(got) == {t.id}
    finally:
        rx.close()


def test_depends_on_start_success_and_reverse_stop(sb, store):
    term = "trap 'sleep 0.3; exit 0' TERM; while true; do sleep 0.1; done"
    t = Task(sb, store, [
        {"name": "init", "image": "busybox", "essential": False, "command": ["sh", "-c", "sleep 1; exit 0"]},
        {"name": "db", "image": "busybox", "command": ["sh", "-c", term]},
        {"name": "web", "image": "busybox", "command": ["sh", "-c", term],
         "dependsOn": [{"containerName": "init", "condition": "SUCCESS"},
                       {"containerName": "db", "condition": "START"}]},
    ]).start()
    s = t.wait_status("PENDING", 5)
    assert ctr(s, "web")["lastStatus"] == "PENDING"
    s = t.wait_status("RUNNING")
    init, db, web = ctr(s, "init"), ctr(s, "db"), ctr(s, "web")
    assert init["exitCode"] == 0
    assert web["startedAt"] >= init["finishedAt"] >= init["startedAt"] + 0.9
    assert web["startedAt"] >= db["startedAt"]
    assert s["startedAt"] >= web["startedAt"]
    t.signal("TERM")
    s = t.wait_status("STOPPED")
    db, web = ctr(s, "db"), ctr(s, "web")
    assert web["exitCode"] == 0 and db["exitCode"] == 0
    # reverse order: db is signalled only once web (which depends on it) has exited
    assert db["finishedAt"] >= web["finishedAt"] + 0.25


def test_dependency_that_cannot_be_met_stops_task(sb, store):
    t = Task(sb, store, [
        {"name": "init", "image": "busybox", "essential": False, "command": ["sh", "-c", "exit 1"]},
        {"name": "web", "image": "busybox", "command": HTTPD,
         "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
    ]).start()
    s = t.wait_status("STOPPED")
    assert s["stopCode"] == "TaskFailedToStart"
    assert s["stoppedReason"].startswith("CannotStartContainerError: dependency init of container web")
    assert "exited with code 1" in s["stoppedReason"]
    web = ctr(s, "web")
    assert web["lastStatus"] == "STOPPED" and web["startedAt"] is None and web["exitCode"] is None
    assert "exited with code 1" in web["reason"]
    assert ctr(s, "init")["exitCode"] == 1


def test_health_checks_healthy_unhealthy_and_depends_on_healthy(sb, store):
    t = Task(sb, store, [
        # the check reads the image's /www and the task's 127.0.0.1:80: it runs inside the container
        {"name": "web", "image": "busybox", "command": HTTPD,
         "healthCheck": {"command": ["CMD-SHELL", "test -f /www/index.html && wget -q -O /dev/null http://127.0.0.1/"],
                         "interval": 1, "timeout": 2, "retries": 2}},
        {"name": "client", "image": "busybox", "essential": False, "command": ["sleep", "1000"],
         "dependsOn": [{"containerName": "web", "condition": "HEALTHY"}]},
    ], name="good").start()
    s = t.wait(lambda s: s["healthStatus"] == "HEALTHY", what="task HEALTHY")
    assert ctr(s, "web")["healthStatus"] == "HEALTHY"
    s = t.wait(lambda s: ctr(s, "client")["lastStatus"] == "RUNNING", what="client started")
    assert ctr(s, "client")["startedAt"] >= ctr(s, "web")["startedAt"] + 0.9
    assert ctr(s, "client")["healthStatus"] == "UNKNOWN"     # no check of its own

    bad = Task(sb, store, [
        {"name": "web", "image": "busybox", "command": HTTPD,
         "healthCheck": {"command": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"], "interval": 1}},
        # fails: nothing listens on :81
        {"name": "api", "image": "busybox", "command": ["sleep", "1000"],
         "healthCheck": {"command": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:81/"],
                         "interval": 1, "retries": 2}},
        # times out: counts as a failure
        {"name": "slow", "image": "busybox", "essential": False, "command": ["sleep", "1000"],
         "healthCheck": {"command": ["CMD-SHELL", "sleep 30"], "interval": 1, "timeout": 1, "retries": 1}},
    ], name="bad").start()
    s = bad.wait(lambda s: ctr(s, "api")["healthStatus"] == "UNHEALTHY" and ctr(s, "web")["healthStatus"] == "HEALTHY"
                 and ctr(s, "slow")["healthStatus"] == "UNHEALTHY", what="api and slow UNHEALTHY, web HEALTHY")
    # worst of the essential containers; "slow" is not essential
    assert s["healthStatus"] == "UNHEALTHY"
    assert s["lastStatus"] == "RUNNING"      # an unhealthy task keeps running; ecsboxd decides


def test_start_timeout_bounds_the_wait(sb, store):
    t = Task(sb, store, [
        {"name": "db", "image": "busybox", "essential": False, "command": ["sleep", "1000"], "startTimeout": 2,
         "stopTimeout": 1, "healthCheck": {"command": ["CMD", "false"], "interval": 1, "retries": 1}},
        {"name": "web", "image": "busybox", "command": HTTPD,
         "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]},
    ]).start()
    s = t.wait_status("STOPPED", 15)
    assert s["stopCode"] == "TaskFailedToStart"
    assert "startTimeout of 2 s" in s["stoppedReason"]
    assert 1.8 <= s["stoppingAt"] - ctr(s, "db")["startedAt"] < 6
    assert ctr(s, "web")["startedAt"] is None


@pytest.mark.parametrize("case,container,detail", [
    ("image", {"image": "no-such-image", "command": ["true"], "rootfs": {"lowerdirs": ["/no/such/layer"]}},
     "image 'no-such-image': layer '/no/such/layer': No such file or directory"),
    ("user", {"image": "busybox", "command": ["true"], "user": "ghost"}, "unable to find user ghost"),
    ("exec", {"image": "busybox", "command": ["/bin/no-such-program"]},
     "exec '/bin/no-such-program': No such file or directory"),
    # a writable root gets a missing working directory made (Docker); a read-only one cannot
    ("workdir", {"image": "busybox", "command": ["true"], "workingDirectory": "/nope", "readonlyRootFilesystem": True},
     "workingDirectory '/nope': No such file or directory"),
])
def test_start_failures(sb, store, case, container, detail):
    c = {"name": "app"}
    c.update(container)
    t = Task(sb, store, [c, {"name": "side", "image": "busybox", "essential": False, "command": ["sleep", "9"],
                             "dependsOn": [{"containerName": "app", "condition": "START"}]}]).start()
    s = t.wait_status("STOPPED")
    assert s["stopCode"] == "TaskFailedToStart"
    assert s["stoppedReason"].startswith("CannotStartContainerError: ")
    assert detail in s["stoppedReason"], s["stoppedReason"]
    app = ctr(s, "app")
    assert detail in app["reason"] and app["exitCode"] is None and app["lastStatus"] == "STOPPED"
    assert ctr(s, "side")["lastStatus"] == "STOPPED" and ctr(s, "side")["startedAt"] is None
    wait_for(t.monitor_gone, 5, what="monitor exit")


def test_overlay_root_whiteout_upper_and_cleanup(sb, store):
    """Two hand-made lowerdirs: the top one's whiteout (a 0/0 character device) hides the bottom one's
    file; the container's writes land in its upper directory only, which goes with the task."""
    top, bottom = os.path.join(sb.tmp, "layer-top"), os.path.join(sb.tmp, "layer-bottom")
    os.makedirs(os.path.join(bottom, "data"))
    os.makedirs(os.path.join(top, "data"))
    with open(os.path.join(bottom, "data", "hidden"), "w") as f:
        f.write("from the bottom layer\n")
    with open(os.path.join(bottom, "data", "kept"), "w") as f:
        f.write("kept\n")
    with open(os.path.join(top, "data", "new"), "w") as f:
        f.write("from the top layer\n")
    os.mknod(os.path.join(top, "data", "hidden"), 0o600 | 0o020000, os.makedev(0, 0))
    script = ("ls /data; cat /data/kept /data/new; test -e /data/hidden && echo VISIBLE; "
              "echo written >/data/out; mkdir /made; rm /data/kept; echo done; sleep 1000")
    lowers = [top, bottom, os.path.join(store, "busybox")]
    t = Task(sb, store, [{"name": "app", "image": "example/layers:1", "command": ["sh", "-c", script],
                          "rootfs": {"lowerdirs": lowers}, "stopSignal": "SIGINT",
                          "stopTimeout": 2}]).start()
    t.wait_status("RUNNING")
    wait_for(lambda: "done" in t.log("app"), 5, what="script output")
    out = t.log("app")
    assert out.split("done")[0].split() == ["kept", "new", "kept", "from", "the", "top", "layer"], out
    assert "VISIBLE" not in out
    upper = os.path.join(t.dir, "rootfs", "app", "upper")
    assert open(os.path.join(upper, "data", "out")).read() == "written\n"
    assert os.path.isdir(os.path.join(upper, "made"))
    # the removal is a whiteout in upper; the layers are untouched
    st = os.lstat(os.path.join(upper, "data", "kept"))
    assert (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0
    assert os.path.exists(os.path.join(bottom, "data", "kept"))
    assert not os.path.exists(os.path.join(top, "data", "out")) and not os.path.exists(os.path.join(bottom, "data", "out"))
    # the overlay is mounted only in the container's mount namespace
    assert "overlay" not in sb.run(["sh", "-c", f"grep ' {t.dir}/' /proc/self/mountinfo || true"]).stdout
    # stopSignal SIGINT is sent instead of SIGTERM; sh as PID 1 has no handler for it, so SIGKILL follows
    t.signal("TERM")
    s = t.wait_status("STOPPED", 15)
    assert "signal=SIGINT" in t.monitor_log()
    assert ctr(s, "app")["exitCode"] == 137
    wait_for(t.monitor_gone, 5, what="monitor exit")
    assert not os.path.exists(upper)
    assert not os.path.exists(os.path.join(t.dir, "rootfs", "app", "work"))


def test_stop_signal_reaches_a_handler(sb, store):
    """The image's StopSignal replaces SIGTERM: a container trapping only SIGUSR1 exits on it at once."""
    script = "trap 'echo got usr1; exit 7' USR1; trap '' TERM; echo ready; while :; do sleep 0.1; done"
    t = Task(sb, store, [{"name": "app", "image": "busybox", "command": ["sh", "-c", script],
                          "stopSignal": "USR1", "stopTimeout": 20}]).start()
    t.wait_status("RUNNING")
    wait_for(lambda: "ready" in t.log("app"), 5, what="trap set")
    start = time.monotonic()
    t.signal("TERM")
    s = t.wait_status("STOPPED", 15)
    assert time.monotonic() - start < 10
    assert ctr(s, "app")["exitCode"] == 7 and "got usr1" in t.log("app")


def test_missing_netns_fails_the_task(sb, store):
    t = Task(sb, store, [{"name": "app", "image": "busybox", "command": ["true"]}], netns=False)
    t.spec["netns"] = "/run/netns/nope"
    with open(t.spec_path, "w") as f:
        json.dump(t.spec, f)
    t.start()
    s = t.wait_status("STOPPED")
    assert s["stopCode"] == "TaskFailedToStart"
    assert s["stoppedReason"].startswith("ResourceInitializationError: open network namespace '/run/netns/nope'")


def test_bad_specs_are_refused_before_daemonising(sb, store):
    t = Task(sb, store, [{"name": "app", "image": "busybox", "command": ["true"],
                          "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"]}}}])
    p = sb.run([MONITOR, "--spec", t.spec_path], check=False)
    assert p.returncode == 2
    assert "NET_ADMIN is not allowed" in p.stderr
    assert not os.path.exists(os.path.join(t.dir, "status.json"))
    p = sb.run([MONITOR, "--spec", "/nonexistent.json"], check=False)
    assert p.returncode == 2 and "/nonexistent.json" in p.stderr
    p = sb.run([MONITOR], check=False)
    assert p.returncode == 2 and "Usage" in p.stderr


def cap_eff(text):
    return int(re.search(r"CapEff:\s*([0-9a-f]+)", text).group(1), 16)


def test_capabilities_and_raw_sockets(sb, store):
    show = "grep Cap /proc/self/status; "
    t = Task(sb, store, [
        {"name": "plain", "image": "busybox", "essential": False, "command": [
            "sh", "-c", show + "ping -c 1 -W 1 127.0.0.1; echo ping=$?; ip link set lo down; echo ip=$?; "
                              "echo 1 > /proc/sys/net/ipv4/ip_forward; echo sysctl=$?; "
                              "echo fds=$(ls /proc/self/fd); sleep 1000"]},
        {"name": "raw", "image": "busybox", "essential": False,
         "linuxParameters": {"capabilities": {"add": ["NET_RAW"], "drop": ["CHOWN"]}},
         "command": ["sh", "-c", show + "ping -c 1 -W 1 127.0.0.1 >/dev/null; echo ping=$?; sleep 1000"]},
        {"name": "nobody", "image": "busybox", "essential": False, "user": "nobody",
         "command": ["sh", "-c", show + "id; sleep 1000"]},
        {"name": "main", "image": "busybox", "command": ["sleep", "1000"], "stopTimeout": 0},
    ]).start()
    t.wait_status("RUNNING")
    wait_for(lambda: "fds=" in t.log("plain") and "ping=" in t.log("raw") and "uid=" in t.log("nobody"),
             10, what="container output")
    plain, raw, nobody = t.log("plain"), t.log("raw"), t.log("nobody")
    default = 0xa80425fb & ~(1 << 13)   # Docker's default set (0xa80425fb) without NET_RAW
    assert cap_eff(plain) == default, plain
    assert re.search(r"CapBnd:\s*0*a80405fb", plain), plain
    # no NET_RAW: raw ICMP fails (busybox ping has no datagram-socket fallback); no NET_ADMIN: no link changes;
    # /proc/sys is read-only
    assert "ping=1" in plain and "ping: permission denied" in plain, plain
    assert "SIOCSIFFLAGS: Operation not permitted" in plain and "ip=0" not in plain, plain
    assert "Read-only file system" in plain and "sysctl=1" in plain, plain
    # the container got only fds 0, 1 and 2 (3 is ls's own directory handle)
    assert "fds=0 1 2 3\n" in plain, plain
    # NET_RAW added on request: the raw socket works
    assert cap_eff(raw) == (default | (1 << 13)) & ~1 and "ping=0" in raw, raw
    # a non-root user keeps no capabilities (as in Docker)
    assert cap_eff(nobody) == 0 and "uid=65534(nobody) gid=65534(nogroup)" in nobody, nobody


def test_host_image_and_host_network(sb, store):
    marker = os.path.join(sb.tmp, "host-file")
    with open(marker, "w") as f:
        f.write("on the host fs\n")
    t = Task(sb, store, [{"name": "h", "image": "host", "command": [
        "sh", "-c", f"echo pid=$$; cat {marker}; hostname; ls /proc | grep -c '^[0-9]'"]}],
        netns=False, hostname="hosty")
    t.start()
    s = t.wait_status("STOPPED")
    assert ctr(s, "h")["exitCode"] == 0
    out = t.log("h").split("\n")
    assert out[0] == "pid=1"                    # own PID namespace, own /proc
    assert out[1] == "on the host fs"
    assert out[2] == "hosty"
    assert int(out[3]) <= 3                     # only the container's processes in its /proc


@pytest.mark.skipif(not os.path.exists("/usr/bin/ping"), reason="iputils ping not installed")
def test_ping_without_net_raw_uses_icmp_datagram_sockets(sb, store):
    # iputils ping carries cap_net_raw as a file capability, which a task without NET_RAW may not
    # exec; a plain copy falls back to ICMP datagram sockets, allowed by ping_group_range
    copy = os.path.join(sb.tmp, "ping-copy")
    t = Task(sb, store, [{"name": "p", "image": "host", "command": [
        "sh", "-c", f"cp /usr/bin/ping {copy}; {copy} -c 1 -W 2 127.0.0.1; echo rc=$?; "
                    "/usr/bin/ping -c 1 -W 1 127.0.0.1; echo filecaps=$?"]}]).start()
    s = t.wait_status("STOPPED")
    out = t.log("p")
    assert "1 received" in out and "rc=0" in out, out
    assert "filecaps=0" not in out, out
    assert ctr(s, "p")["exitCode"] == 0


def memory_v1():
    try:
        for line in open("/proc/self/cgroup"):
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if "memory" in ctrls.split(","):
                return path if path != "/" and os.path.isdir("/sys/fs/cgroup/memory" + path) else None
    except OSError:
        pass
    return None


def test_memory_limit_enforced(sb, store):
    own = memory_v1()
    if not own:
        pytest.skip("no cgroup v1 memory controller with a non-root cgroup for this process")
    t = Task(sb, store, [
        {"name": "hog", "image": "busybox", "essential": False, "memory": 32,
         "command": ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]},
        {"name": "main", "image": "busybox", "memory": 48, "memoryReservation": 16, "cpu": 256,
         "command": ["sleep", "1000"], "stopTimeout": 0},
    ])
    task_cg = f"/sys/fs/cgroup/memory{own}/ecsbox/{t.id}"
    try:
        t.start()
        s = t.wait(lambda s: ctr(s, "hog")["lastStatus"] == "STOPPED", what="hog stopped")
        hog = ctr(s, "hog")
        assert hog["exitCode"] == 137, (hog, t.log("hog"))
        assert hog["reason"] == "OutOfMemoryError: Container killed due to memory usage"
        assert hog["limits"] == "enforced"
        main = ctr(s, "main")
        assert main["limits"] == "enforced" or main["limits"].startswith("unavailable: cpu"), main
        cg = task_cg + "/main"
        assert int(open(cg + "/memory.limit_in_bytes").read()) == 48 << 20
        assert int(open(cg + "/memory.soft_limit_in_bytes").read()) == 16 << 20
        # cgroup.procs read inside the sandbox shows PIDs as the monitor sees them
        assert str(main["pid"]) in sb.run(["cat", cg + "/cgroup.procs"]).stdout.split()
        t.signal("TERM")
        t.wait_status("STOPPED")
        wait_for(lambda: not os.path.exists(task_cg), 5, what="task cgroup removed")
    finally:
        # a failed test leaves a SIGKILLed monitor that could not clean up: do it once all are dead
        sb.close()

        def remove():
            for root, _, _ in os.walk(task_cg, topdown=False):
                try:
                    os.rmdir(root)
                except OSError:
                    pass
            return not os.path.exists(task_cg)
        wait_for(remove, 10, interval=0.1, what=f"removal of {task_cg}")
