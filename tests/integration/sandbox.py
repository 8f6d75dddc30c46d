"""sandbox.py: the helpers shared by the integration tests and the benchmarks.

Every integration test runs the daemons inside `unshare --mount --net --pid
--fork` with its own tmpfs on /run/netns and /run/ecsbox and its own state
directory, so the machine's network is never touched. Commands run inside
through nsenter; when the sandbox closes, its PID 1 dies and the kernel kills
every process in it and frees its namespaces and mounts.

Here: the sandbox (Sandbox), netd and ecsboxd started in it with their clients
(Netd, NetdSession, Ecsboxd, ecs_request), request bursts to crash a daemon
under (Burst), the image store (build_images), and what benchmarks measure:
percentiles (pct, fmt_ms), memory (meminfo_kb, kernel_kb, rss_kb, pss_kb), CPU
time (cpu_s). Benchmarks import it with
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration")).
"""
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
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


def pct(xs, p):
    """The p-th percentile of xs (nearest rank on the sorted values)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def fmt_ms(xs):
    """'p50 1.23 ms, p99 4.56 ms' for durations in seconds."""
    return f"p50 {pct(xs, 50) * 1e3:.2f} ms, p99 {pct(xs, 99) * 1e3:.2f} ms"


def meminfo_kb(key="MemAvailable"):
    """A /proc/meminfo field in KiB."""
    for line in open("/proc/meminfo"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError("no " + key)


def mem_available_kb():
    return meminfo_kb("MemAvailable")


def kernel_kb():
    """The kernel's own memory that namespaces, links and nftables objects take: Slab + Percpu, KiB."""
    return meminfo_kb("Slab") + meminfo_kb("Percpu")


def rss_kb(pid, field="VmRSS"):
    """A /proc/PID/status memory field (VmRSS, VmHWM, ...) in KiB; 0 when absent."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def pss_kb(pid):
    """Proportional set size of a process in KiB (shared pages split among their users)."""
    for line in open(f"/proc/{pid}/smaps_rollup"):
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def cpu_s(pid):
    """User + system CPU time of a process, seconds."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def build_images(dest):
    """The busybox image (scripts/build-image.sh): dest/busybox (its root) and dest/busybox.tar (the
    archive ecsboxd imports as busybox:latest); returns dest."""
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "build-image.sh"), str(dest)], check=True,
                   capture_output=True)
    return str(dest)


IMAGES_TARGET = "EcsboxImages_20261201."


def httpd_task_definition(family="web"):
    """The benchmarks' task: one awsvpc busybox httpd on :80 (RegisterTaskDefinition parameters)."""
    return dict(family=family, networkMode="awsvpc", cpu="256", memory="512",
                containerDefinitions=[{"name": "web", "image": "busybox", "essential": True, "stopTimeout": 2,
                                       "command": ["httpd", "-f", "-p", "80", "-h", "/www"],
                                       "portMappings": [{"containerPort": 80}]}])


def unix_line_request(path, payload, timeout=30):
    """Send payload (bytes) on a Unix stream socket and read one answer line; the answer's bytes.
    A peer that closes after answering an oversized request is fine."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf
    finally:
        s.close()


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

    def ec2(self, *args, check=True):
        """`ecsbox ec2 ARGS` inside the sandbox (netd's default socket); with check, it must exit 0."""
        p = self.run([CLI, "ec2"] + list(args), check=False)
        if check:
            assert p.returncode == 0, p.stderr
        return p

    def spawn(self, argv, log=None, env=None):
        out = open(log, "ab") if log else subprocess.DEVNULL
        p = subprocess.Popen(self.cmd(argv), stdout=out, stderr=out if log else subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, env=env)
        self.procs.append(p)
        return p

    def monitor_pids(self):
        """PIDs (host view) of the ecsbox-monitor processes inside this sandbox, sorted."""
        mine = os.readlink(f"/proc/{self.pid}/ns/pid")
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                argv0 = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")[0]
                if argv0.endswith(b"ecsbox-monitor") and os.readlink(f"/proc/{d}/ns/pid") == mine:
                    found.append(int(d))
            except OSError:
                pass
        return sorted(found)

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


class Daemon:
    """A daemon started in a sandbox (through nsenter), its log in the sandbox's directory."""

    STOP_TIMEOUT = 10

    def spawn(self, argv, ready, what):
        """Start argv and wait until ready() or the daemon died; a death at start fails with its log."""
        self.proc = self.sb.spawn(argv, log=self.log)
        wait_for(lambda: ready() or self.proc.poll() is not None, 30, what=what)
        if self.proc.poll() is not None:
            raise AssertionError(f"{os.path.basename(argv[0])} exited at start:\n" + open(self.log).read())

    def pid(self):
        """PID of the daemon as seen from outside the sandbox (the child of nsenter)."""
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
        self.proc.wait(timeout=self.STOP_TIMEOUT)


class Netd(Daemon):
    """An ecsbox-netd inside a sandbox, and a client for its socket."""

    def __init__(self, sb, extra_args=()):
        self.sb = sb
        self.log = os.path.join(sb.tmp, "netd.log")
        self.sock = "/run/ecsbox/netd.sock"
        self.extra = list(extra_args)
        self.proc = None
        self.start()

    def start(self):
        self.spawn([NETD, "--state-dir", self.sb.state, "--run-dir", self.sb.run_dir, "--log-level", "debug"] + self.extra,
                   self._connectable, "netd socket")

    def _connectable(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.path(self.sock))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def netd_pid(self):
        return self.pid()

    def path(self, inner):
        """A path inside the sandbox's mount namespace, reachable from outside."""
        return f"/proc/{self.sb.pid}/root{inner}"

    def raw(self, payload, timeout=30):
        """Bytes as they are on netd's socket; its answer line parsed."""
        buf = unix_line_request(self.path(self.sock), payload, timeout)
        try:
            return json.loads(buf)
        except ValueError:
            raise AssertionError(f"netd answered non-JSON: {buf!r}")

    def call(self, action, **params):
        """Send one request on netd's socket (reached through /proc/PID/root), a connection each."""
        req = dict(params)
        req["Action"] = action
        buf = unix_line_request(self.path(self.sock), json.dumps(req).encode() + b"\n")
        try:
            return json.loads(buf)
        except ValueError:
            raise AssertionError(f"netd answered non-JSON for {action}: {buf!r}")

    def session(self):
        """One connection kept open for many requests (what benchmarks time)."""
        return NetdSession(self.path(self.sock))

    def vpc_and_subnet(self, vpc_cidr, subnet_cidr, **subnet_params):
        """A new VPC and one subnet in it: (vpc, subnet) as netd describes them."""
        vpc = self.ok("CreateVpc", CidrBlock=vpc_cidr)["Vpc"]
        sub = self.ok("CreateSubnet", VpcId=vpc["VpcId"], CidrBlock=subnet_cidr, **subnet_params)["Subnet"]
        return vpc, sub

    def ok(self, action, **params):
        doc = self.call(action, **params)
        assert "Error" not in doc, f"{action} {params} failed: {doc}"
        return doc

    def err(self, action, **params):
        doc = self.call(action, **params)
        assert "Error" in doc, f"{action} {params} should have failed: {doc}"
        return doc["Error"]["Code"]


class NetdSession:
    """Requests one after another on one connection to netd (netd serves many per connection)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.f = self.sock.makefile("rwb")

    def call(self, action, **params):
        """netd's answer; raises RuntimeError on an error answer."""
        params["Action"] = action
        self.f.write(json.dumps(params).encode() + b"\n")
        self.f.flush()
        ans = json.loads(self.f.readline())
        if "Error" in ans:
            raise RuntimeError(f"{action}: {ans}")
        return ans

    def close(self):
        self.f.close()
        self.sock.close()


class Burst:
    """Requests sent one after another from a thread, each on its own connection, until the first
    failure: a test kills the daemon under it. done holds the indexes of the acknowledged requests,
    errors what stopped the burst."""

    def __init__(self, netd, requests):
        self.done, self.errors = [], []
        self.thread = threading.Thread(target=self._run, args=(netd, list(requests)))
        self.thread.start()

    def _run(self, netd, requests):
        for i, (action, params) in enumerate(requests):
            try:
                r = netd.call(action, **params)
            except (OSError, AssertionError) as e:
                self.errors.append(str(e))
                return
            if "Error" in r:
                self.errors.append(r)
                return
            self.done.append(i)

    def join(self, timeout=60):
        self.thread.join(timeout)
        return not self.thread.is_alive()


ECS_TARGET = "AmazonEC2ContainerServiceV20141113."


class EcsError(Exception):
    def __init__(self, status, type_, message):
        super().__init__(f"{status} {type_}: {message}")
        self.status = status
        self.type = type_
        self.message = message


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket (ecsboxd serves its API on one)."""

    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def http_post(conn, headers, body):
    """One POST on conn (closed after): (status, body bytes)."""
    try:
        conn.request("POST", "/", body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def sigv4_signer(credentials, profile="ecsbox", region="us-east-1", service="ecs"):
    """A function (host, headers, body) -> headers that signs as botocore does, with a profile of a
    shared-credentials file (what ecsboxd checks on TCP; root on its Unix socket needs none)."""
    import configparser
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    cp = configparser.ConfigParser()
    cp.read(credentials)
    creds = Credentials(cp[profile]["aws_access_key_id"], cp[profile]["aws_secret_access_key"])

    def sign(host, headers, body):
        req = AWSRequest(method="POST", url=f"http://{host}/", headers=headers, data=body)
        SigV4Auth(creds, service, region).add_auth(req)
        return dict(req.headers.items())
    return sign


def ecs_call(conn, op, signer=None, **params):
    """One ECS JSON 1.1 call on an http.client connection (a Unix one, or TCP to 127.0.0.1:5080 as
    the aws CLI uses inside a sandbox, then signed by signer): the answer, or EcsError."""
    headers = {"X-Amz-Target": ECS_TARGET + op, "Content-Type": "application/x-amz-json-1.1"}
    body = json.dumps(params).encode()
    if signer:
        host = conn.host if conn.port in (None, 80) else f"{conn.host}:{conn.port}"
        headers = signer(host, headers, body)
    status, body = http_post(conn, headers, body)
    doc = json.loads(body) if body else {}
    if status != 200:
        raise EcsError(status, doc.get("__type", "?"), doc.get("message", doc.get("Message", "")))
    return doc


class Ecsboxd(Daemon):
    """An ecsboxd inside a sandbox (with its netd), and a client for its API socket."""

    STOP_TIMEOUT = 30

    TARGET = ECS_TARGET

    def __init__(self, sb, images, extra_args=()):
        """images: a build_images() directory whose busybox.tar is imported as busybox:latest once
        ecsboxd is up (the image store lives in ecsboxd's state directory), or None."""
        self.sb = sb
        self.images = images
        self.log = os.path.join(sb.tmp, "ecsboxd.log")
        self.state = os.path.join(sb.state, "ecsboxd")
        self.sock = "/run/ecsbox/ecsboxd.sock"
        self.extra = list(extra_args)
        self.proc = None
        # What a user sets to reach ecsboxd over TCP: the profile ecsboxd generated at its first start.
        self.credentials = os.path.join(self.state, "credentials")
        self.ENV = {"AWS_SHARED_CREDENTIALS_FILE": self.credentials, "AWS_PROFILE": "ecsbox",
                    "AWS_DEFAULT_REGION": "us-east-1", "HOME": "/tmp", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "", "AWS_CONFIG_FILE": "/dev/null"}
        self.start()
        if images:
            self.import_image(os.path.join(images, "busybox.tar"))

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        self.spawn([ECSBOXD, "--state-dir", self.state, "--run-dir", self.sb.run_dir,
                    "--log-level", "debug"] + self.extra, self._ready, "ecsboxd socket")

    def images_call(self, op, **params):
        """One call of ecsboxd's images service (EcsboxImages_20261201.*): the answer, or EcsError."""
        headers = {"X-Amz-Target": IMAGES_TARGET + op, "Content-Type": "application/x-amz-json-1.1"}
        status, body = http_post(self.connection(), headers, json.dumps(params).encode())
        doc = json.loads(body) if body else {}
        if status != 200:
            raise EcsError(status, doc.get("__type", "?"), doc.get("message", ""))
        return doc

    def wait_pull(self, pull_id, timeout=120):
        """Poll ListPulls until the job ends: its record (status COMPLETE or FAILED)."""
        def done():
            p = self.images_call("ListPulls", pullId=pull_id)["pulls"]
            assert p, f"pull {pull_id} is gone"
            return p[0] if p[0]["status"] != "IN_PROGRESS" else None
        return wait_for(done, timeout, interval=0.05, what=f"image job {pull_id}")

    def import_image(self, path, name=None):
        """ImportImage and wait: the image ids imported."""
        params = {"path": path}
        if name:
            params["name"] = name
        job = self.wait_pull(self.images_call("ImportImage", **params)["pullId"])
        assert job["status"] == "COMPLETE", job
        return [i["imageId"] for i in job["images"]]

    def _ready(self):
        try:
            self.call("ListClusters")
            return True
        except (OSError, EcsError):
            return False

    def connection(self):
        return UnixHTTPConnection(f"/proc/{self.sb.pid}/root{self.sock}")

    def raw(self, target, body, headers=None):
        h = {"Content-Type": "application/x-amz-json-1.1"}
        if target is not None:
            h["X-Amz-Target"] = target
        h.update(headers or {})
        return http_post(self.connection(), h, body)

    def call(self, op, **params):
        return ecs_call(self.connection(), op, **params)

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

    def count_running(self, **filters):
        """How many tasks (ListTasks filters, e.g. family=) are RUNNING, through every ListTasks page."""
        n, tok = 0, None
        while True:
            kw = dict(filters, desiredStatus="RUNNING", maxResults=100)
            if tok:
                kw["nextToken"] = tok
            page = self.call("ListTasks", **kw)
            if page["taskArns"]:
                n += sum(1 for t in self.call("DescribeTasks", tasks=page["taskArns"])["tasks"] if t["lastStatus"] == "RUNNING")
            tok = page.get("nextToken")
            if not tok:
                return n

    def wait_task(self, arn, status="RUNNING", timeout=30, cluster="default"):
        def probe():
            t = self.call("DescribeTasks", cluster=cluster, tasks=[arn])["tasks"]
            if t and t[0]["lastStatus"] == status:
                return t[0]
            if t and status != "STOPPED" and t[0]["lastStatus"] == "STOPPED":
                raise AssertionError(f"task stopped: {t[0].get('stoppedReason')} {t[0]}")
            return None
        return wait_for(probe, timeout, interval=0.05, what=f"task {arn} {status}")


@contextlib.contextmanager
def bench_sandbox(prefix="ecsbox-bench-", images=False):
    """A Sandbox in a new temporary directory, for a benchmark's whole run; with images, sb.images is an
    image store holding busybox. The sandbox and the directory go afterwards."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        store = build_images(os.path.join(tmp, "images")) if images else None
        sb = Sandbox(tmp)
        sb.images = store
        try:
            yield sb
        finally:
            sb.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
