"""sandbox.py: a private namespace set for one test.

Every integration test runs the daemons inside `unshare --mount --net --pid
--fork` with its own tmpfs on /run/netns and /run/ecsbox and its own state
directory, so the machine's network is never touched. Commands run inside
through nsenter; when the sandbox closes, its PID 1 dies and the kernel kills
every process in it and frees its namespaces and mounts.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ECSBOX_BUILD", os.path.join(ROOT, "build"))
NETD = os.path.join(BUILD, "ecsbox-netd")
CLI = os.path.join(BUILD, "ecsbox")
ECSBOXD = os.path.join(BUILD, "ecsboxd")
MONITOR = os.path.join(BUILD, "ecsbox-monitor")


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Sandbox:
    def __init__(self, tmpdir):
        self.tmp = str(tmpdir)
        self.state = os.path.join(self.tmp, "state")
        self.run_dir = "/run/ecsbox"
        os.makedirs(self.state, exist_ok=True)
        os.makedirs("/run/netns", exist_ok=True)
        os.makedirs("/run/ecsbox", exist_ok=True)
        setup = (
            "set -e; mount -t tmpfs -o mode=0755 ecsbox-test /run/netns; "
            "mount -t tmpfs -o mode=0755 ecsbox-test /run/ecsbox; "
            "mount -t proc proc /proc; "
            "ip link set lo up; echo ready; exec sleep 1000000"
        )
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
             "--propagation", "private", "sh", "-c", setup],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
        line = self.holder.stdout.readline()
        if line.strip() != b"ready":
            self.close()
            raise RuntimeError("sandbox did not start")
        # the PID of the sandbox's sleep (PID 1 inside), as seen from outside
        self.pid = self._inner_pid()
        self.procs = []

    def _inner_pid(self):
        def find():
            try:
                kids = open(f"/proc/{self.holder.pid}/task/{self.holder.pid}/children").read().split()
            except OSError:
                return None
            return int(kids[0]) if kids else None
        return wait_for(find, 5, what="sandbox pid 1")

    def cmd(self, argv):
        return ["nsenter", "-t", str(self.pid), "--mount", "--net", "--pid", "--"] + list(argv)

    def run(self, argv, check=True, timeout=60, input=None, env=None):
        if isinstance(argv, str):
            argv = ["sh", "-c", argv]
        p = subprocess.run(self.cmd(argv), capture_output=True, text=True, timeout=timeout,
                           input=input, env=env)
        if check and p.returncode != 0:
            raise AssertionError(f"{argv} failed ({p.returncode}):\nstdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def spawn(self, argv, log=None, env=None):
        out = open(log, "ab") if log else subprocess.DEVNULL
        p = subprocess.Popen(self.cmd(argv), stdout=out, stderr=out if log else subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, env=env)
        self.procs.append(p)
        return p

    def close(self):
        for p in getattr(self, "procs", []):
            if p.poll() is None:
                p.kill()
        if self.holder.poll() is None:
            os.killpg(self.holder.pid, signal.SIGKILL)
        try:
            self.holder.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for p in getattr(self, "procs", []):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


class Netd:
    """An ecsbox-netd inside a sandbox, and a client for its socket."""

    def __init__(self, sb, extra_args=()):
        self.sb = sb
        self.log = os.path.join(sb.tmp, "netd.log")
        self.sock = "/run/ecsbox/netd.sock"
        self.extra = list(extra_args)
        self.proc = None
        self.start()

    def start(self):
        self.proc = self.sb.spawn([NETD, "--state-dir", self.sb.state, "--run-dir", self.sb.run_dir,
                                   "--log-level", "debug"] + self.extra, log=self.log)
        wait_for(lambda: self._connectable() or self._died(), 30, what="netd socket")
        if self._died():
            raise AssertionError("netd exited at start:\n" + open(self.log).read())

    def _connectable(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.path(self.sock))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def _died(self):
        return self.proc.poll() is not None

    def netd_pid(self):
        """PID of netd as seen from outside the sandbox (the child of nsenter)."""
        kids = open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read().split()
        return int(kids[0]) if kids else self.proc.pid

    def kill9(self):
        os.kill(self.netd_pid(), signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        try:
            os.kill(self.netd_pid(), signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def path(self, inner):
        """A path inside the sandbox's mount namespace, reachable from outside."""
        return f"/proc/{self.sb.pid}/root{inner}"

    def call(self, action, **params):
        """Send one request on netd's socket (reached through /proc/PID/root)."""
        req = dict(params)
        req["Action"] = action
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        try:
            s.connect(self.path(self.sock))
            s.sendall(json.dumps(req).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        try:
            return json.loads(buf)
        except ValueError:
            raise AssertionError(f"netd answered non-JSON for {action}: {buf!r}")

    def ok(self, action, **params):
        doc = self.call(action, **params)
        assert "Error" not in doc, f"{action} {params} failed: {doc}"
        return doc

    def err(self, action, **params):
        doc = self.call(action, **params)
        assert "Error" in doc, f"{action} {params} should have failed: {doc}"
        return doc["Error"]["Code"]


class _UnixHTTPConnection:
    """Minimal HTTP/1.1 POST over a Unix socket (ecsboxd serves its API on one)."""

    def __init__(self, path, timeout=60):
        self.path = path
        self.timeout = timeout

    def post(self, headers, body):
        import http.client

        class Conn(http.client.HTTPConnection):
            def connect(conn):
                conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.sock.settimeout(self.timeout)
                conn.sock.connect(self.path)

        c = Conn("localhost", timeout=self.timeout)
        try:
            c.request("POST", "/", body=body, headers=headers)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


class EcsError(Exception):
    def __init__(self, status, type_, message):
        super().__init__(f"{status} {type_}: {message}")
        self.status = status
        self.type = type_
        self.message = message


class Ecsboxd:
    """An ecsboxd inside a sandbox (with its netd), and a client for its API socket."""

    TARGET = "AmazonEC2ContainerServiceV20141113."
    ENV = {"AWS_ACCESS_KEY_ID": "AKIDECSBOXTEST", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_DEFAULT_REGION": "us-east-1", "HOME": "/tmp", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""}

    def __init__(self, sb, images, extra_args=()):
        self.sb = sb
        self.images = images
        self.log = os.path.join(sb.tmp, "ecsboxd.log")
        self.state = os.path.join(sb.state, "ecsboxd")
        self.sock = "/run/ecsbox/ecsboxd.sock"
        self.extra = list(extra_args)
        self.proc = None
        self.start()

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        self.proc = self.sb.spawn([ECSBOXD, "--state-dir", self.state, "--run-dir", self.sb.run_dir,
                                   "--image-store", self.images, "--log-level", "debug"] + self.extra,
                                  log=self.log)
        wait_for(lambda: self._ready() or self.proc.poll() is not None, 30, what="ecsboxd socket")
        if self.proc.poll() is not None:
            raise AssertionError("ecsboxd exited at start:\n" + open(self.log).read())

    def _ready(self):
        try:
            self.call("ListClusters")
            return True
        except (OSError, EcsError):
            return False

    def pid(self):
        kids = open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read().split()
        return int(kids[0]) if kids else self.proc.pid

    def kill9(self):
        os.kill(self.pid(), signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        try:
            os.kill(self.pid(), signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def raw(self, target, body, headers=None):
        h = {"Content-Type": "application/x-amz-json-1.1"}
        if target is not None:
            h["X-Amz-Target"] = target
        h.update(headers or {})
        conn = _UnixHTTPConnection(f"/proc/{self.sb.pid}/root{self.sock}")
        return conn.post(h, body)

    def call(self, op, **params):
        status, body = self.raw(self.TARGET + op, json.dumps(params).encode())
        doc = json.loads(body) if body else {}
        if status != 200:
            raise EcsError(status, doc.get("__type", "?"), doc.get("message", doc.get("Message", "")))
        return doc

    def err(self, op, **params):
        try:
            doc = self.call(op, **params)
        except EcsError as e:
            return e
        raise AssertionError(f"{op} {params} should have failed: {doc}")

    def aws(self, *args, check=True):
        """The unmodified AWS CLI (Debian's) inside the sandbox, JSON output parsed."""
        argv = ["/usr/bin/aws", "--endpoint-url", "http://127.0.0.1:5080", "--output", "json"] + list(args)
        p = self.sb.run(argv, check=check, env=self.ENV, timeout=120)
        if not check:
            return p
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def wait_task(self, arn, status="RUNNING", timeout=30, cluster="default"):
        def probe():
            t = self.call("DescribeTasks", cluster=cluster, tasks=[arn])["tasks"]
            if t and t[0]["lastStatus"] == status:
                return t[0]
            if t and status != "STOPPED" and t[0]["lastStatus"] == "STOPPED":
                raise AssertionError(f"task stopped: {t[0].get('stoppedReason')} {t[0]}")
            return None
        return wait_for(probe, timeout, interval=0.05, what=f"task {arn} {status}")
