"""ocireg.py: registries and images for the pull tests and the pull benchmark.

- in_netns / spawn_in_netns: run Python code in a thread that joined a sandbox's network namespace
  (setns affects only the calling thread), so the test talks to 127.0.0.1 inside the sandbox.
- Registry: Debian's docker-registry (the distribution registry) started inside a sandbox, plain HTTP
  or TLS (a self-signed certificate from `openssl req`) with htpasswd basic auth (`htpasswd -Bbn`).
- Layout: an OCI image layout written with tarfile/json/hashlib (gzip, zstd through the zstd CLI).
- push_blob / push_manifest: the distribution spec's upload (POST, PUT ?digest=) and manifest PUT.
- Front: a small HTTP front of a registry: bearer tokens from its own token endpoint (optionally
  behind basic credentials), blobs redirected to the registry (as registries redirect to storage),
  or proxied slowly (a pull to interrupt) or stalled (a timeout).
"""
import base64
import ctypes
import gzip
import hashlib
import http.client
import http.server
import io
import json
import os
import platform
import secrets
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse

from sandbox import wait_for

REGISTRY_BIN = "/usr/bin/docker-registry"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_OCI_TAR = "application/vnd.oci.image.layer.v1.tar"


def host_arch():
    """This host's platform as GOARCH (what ecsbox's platform_host says)."""
    m = platform.machine()
    return {"x86_64": ("amd64", None), "aarch64": ("arm64", "v8")}.get(m, (m, None))


def _enter(pid):
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), "setns")
    finally:
        os.close(fd)


def in_netns(pid, fn, *args, **kw):
    """fn(*args, **kw) in a thread inside the network namespace of pid; its result or its exception."""
    out = {}

    def run():
        try:
            _enter(pid)
            out["v"] = fn(*args, **kw)
        except BaseException as e:  # noqa: B036 - handed back to the caller
            out["e"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(120)
    if t.is_alive():
        raise TimeoutError("in_netns: no answer after 120 s")
    if "e" in out:
        raise out["e"]
    return out.get("v")


def spawn_in_netns(pid, fn, *args):
    """A daemon thread running fn(*args) inside the network namespace of pid (servers)."""
    ready = threading.Event()
    err = {}

    def run():
        try:
            _enter(pid)
        except OSError as e:
            err["e"] = e
            ready.set()
            return
        ready.set()
        fn(*args)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    ready.wait(10)
    if "e" in err:
        raise err["e"]
    return t


def port_open(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def http_call(method, url, body=None, headers=None, context=None, timeout=30):
    """One HTTP request (call it inside the namespace): (status, headers dict lower-cased, body)."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        c = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=context)
    else:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        c.request(method, u.path + ("?" + u.query if u.query else ""), body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


class Registry:
    """docker-registry in the sandbox on 127.0.0.1:port; tls=(cert, key), htpasswd=path."""

    def __init__(self, sb, port, tls=None, htpasswd=None, name=None):
        self.sb, self.port, self.tls = sb, port, tls
        d = os.path.join(sb.tmp, name or f"registry-{port}")
        self.storage = os.path.join(d, "storage")
        os.makedirs(self.storage, exist_ok=True)
        cfg = ["version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:", f"    rootdirectory: {self.storage}",
               "  delete:", "    enabled: true", "http:", f"  addr: 127.0.0.1:{port}"]
        if tls:
            cfg += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
        if htpasswd:
            cfg += ["auth:", "  htpasswd:", "    realm: ecsbox-test", f"    path: {htpasswd}"]
        self.config = os.path.join(d, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log = os.path.join(d, "registry.log")
        self.proc = sb.spawn([REGISTRY_BIN, "serve", self.config], log=self.log)
        try:
            wait_for(lambda: self.proc.poll() is not None or in_netns(sb.pid, port_open, port), 15,
                     interval=0.05, what=f"docker-registry on port {port}")
        except TimeoutError:
            raise AssertionError("docker-registry did not start:\n" + open(self.log).read())
        if self.proc.poll() is not None:
            raise AssertionError("docker-registry exited:\n" + open(self.log).read())

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def blob_file(self, digest):
        """The file that holds a blob in the registry's storage."""
        h = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker", "registry", "v2", "blobs", "sha256", h[:2], h, "data")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def self_signed(d, cn="127.0.0.1"):
    """A self-signed certificate for 127.0.0.1 (openssl req): (cert, key)."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=IP:{cn}", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def htpasswd_file(path, user, password):
    out = subprocess.run(["htpasswd", "-Bbn", user, password], check=True, capture_output=True, timeout=60).stdout
    with open(path, "wb") as f:
        f.write(out)
    return path


def auth_file(path, host, user, password):
    """A Docker config.json with basic credentials for host."""
    with open(path, "w") as f:
        json.dump({"auths": {host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}}, f)
    return path


# ---- images ----

def tar_layer(entries):
    """A tar of entries: (name, kind, data_or_target, mode); kind 'file', 'dir', 'symlink', 'hardlink'."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data, mode in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.mode = mode
            if kind == "file":
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE}[kind]
            if kind in ("symlink", "hardlink"):
                ti.linkname = data
            t.addfile(ti)
    return bio.getvalue()


def busybox_layers():
    """Layer 1: busybox (from /bin/busybox) with sh and ls links and a few files; layer 2: a whiteout of
    one of them, an opaque directory and a hard link."""
    bb = open("/bin/busybox", "rb").read()
    l1 = tar_layer([("bin", "dir", None, 0o755), ("bin/busybox", "file", bb, 0o755), ("bin/sh", "symlink", "busybox", 0o777),
                    ("bin/ls", "symlink", "busybox", 0o777), ("etc", "dir", None, 0o755),
                    ("etc/motd", "file", b"layer one\n", 0o644), ("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
                    ("var", "dir", None, 0o755), ("var/cache", "dir", None, 0o755),
                    ("var/cache/old", "file", b"old\n", 0o644)])
    l2 = tar_layer([("etc", "dir", None, 0o755), ("etc/.wh.motd", "file", b"", 0o644),
                    ("var", "dir", None, 0o755), ("var/cache", "dir", None, 0o755),
                    ("var/cache/.wh..wh..opq", "file", b"", 0o644), ("var/cache/new", "file", b"new\n", 0o644),
                    ("data", "dir", None, 0o755), ("data/a", "file", b"hard linked\n", 0o644),
                    ("data/b", "hardlink", "data/a", 0o644)])
    return l1, l2


def compress(data, how):
    if how == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0), MT_OCI_GZIP
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, check=True, capture_output=True,
                              timeout=60).stdout, MT_OCI_ZSTD
    return data, MT_OCI_TAR


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Layout:
    """An OCI image layout being written; blobs also kept in memory for pushing by hand."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(d, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        self.blobs = {}
        self.refs = []

    def blob(self, data, media_type, **extra):
        dg = sha256(data)
        with open(os.path.join(self.dir, "blobs", "sha256", dg.split(":")[1]), "wb") as f:
            f.write(data)
        self.blobs[dg] = data
        d = {"mediaType": media_type, "digest": dg, "size": len(data)}
        d.update(extra)
        return d

    def image(self, layers, arch=None, variant=None, compressions=None):
        """An image manifest of the tar layers, compressed as compressions says (default gzip)."""
        arch = arch or host_arch()[0]
        descs, diff_ids = [], []
        for i, tar in enumerate(layers):
            how = (compressions or ["gzip"] * len(layers))[i]
            data, mt = compress(tar, how)
            descs.append(self.blob(data, mt))
            diff_ids.append(sha256(tar))
        cfg = {"architecture": arch, "os": "linux", "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
               "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        if variant:
            cfg["variant"] = variant
        c = self.blob(json.dumps(cfg, sort_keys=True).encode(), MT_OCI_CONFIG)
        m = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": c, "layers": descs}
        plat = {"architecture": arch, "os": "linux"}
        if variant:
            plat["variant"] = variant
        return self.blob(json.dumps(m, indent=1).encode(), MT_OCI_MANIFEST), plat

    def attestation(self, subject):
        """A BuildKit-style attestation manifest (platform unknown/unknown) for subject."""
        c = self.blob(b"{}", MT_OCI_CONFIG)
        l = self.blob(json.dumps({"_type": "https://in-toto.io/Statement/v0.1"}).encode(), "application/vnd.in-toto+json")
        m = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": c, "layers": [l]}
        return self.blob(json.dumps(m).encode(), MT_OCI_MANIFEST,
                         annotations={"vnd.docker.reference.digest": subject, "vnd.docker.reference.type": "attestation-manifest"})

    def index(self, entries):
        """An index of (descriptor, platform) pairs."""
        ms = []
        for d, plat in entries:
            e = dict(d)
            e["platform"] = plat
            ms.append(e)
        return self.blob(json.dumps({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": ms}).encode(), MT_OCI_INDEX)

    def tag(self, desc, tag):
        d = dict(desc)
        d["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.refs.append(d)
        with open(os.path.join(self.dir, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": self.refs}, f)


def skopeo_push(sb, layout, tag, dest, extra=()):
    """skopeo copy oci:LAYOUT:tag docker://dest inside the sandbox (TLS not verified)."""
    env = dict(os.environ, HOME=sb.tmp, TMPDIR=sb.tmp)
    keep = [] if "--format" in extra else ["--preserve-digests"]     # a conversion changes the digest
    sb.run(["skopeo", "copy", "--quiet", "--insecure-policy", "--dest-tls-verify=false"] + keep + list(extra)
           + [f"oci:{layout.dir}:{tag}", f"docker://{dest}"], timeout=120, env=env)


def push_blob(base, repo, data):
    """Upload one blob (POST then monolithic PUT ?digest=), inside the namespace."""
    dg = sha256(data)
    st, h, _ = http_call("HEAD", f"{base}/v2/{repo}/blobs/{dg}")
    if st == 200:
        return dg
    st, h, body = http_call("POST", f"{base}/v2/{repo}/blobs/uploads/", body=b"")
    assert st == 202, (st, body)
    loc = urllib.parse.urljoin(base, h["location"])
    sep = "&" if "?" in loc else "?"
    st, h, body = http_call("PUT", f"{loc}{sep}digest={urllib.parse.quote(dg)}", body=data,
                            headers={"Content-Type": "application/octet-stream"})
    assert st == 201, (st, body)
    return dg


def push_manifest(base, repo, ref, data, media_type):
    st, h, body = http_call("PUT", f"{base}/v2/{repo}/manifests/{ref}", body=data, headers={"Content-Type": media_type})
    assert st == 201, (st, body)
    return h.get("docker-content-digest")


def push_all(base, repo, layout, top, tag):
    """Every blob of the layout, then the manifests under top (an index's children first), top by tag."""
    manifests = {}
    for dg, data in layout.blobs.items():
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc.get("mediaType") in (MT_OCI_MANIFEST, MT_OCI_INDEX) and doc.get("schemaVersion") == 2:
            manifests[dg] = doc["mediaType"]
        else:
            push_blob(base, repo, data)
    order = [dg for dg, mt in manifests.items() if mt == MT_OCI_MANIFEST and dg != top["digest"]]
    for dg in order:
        push_manifest(base, repo, dg, layout.blobs[dg], MT_OCI_MANIFEST)
    return push_manifest(base, repo, tag, layout.blobs[top["digest"]], top["mediaType"])


# ---- a front of a registry: bearer tokens, redirects, slow or stalled blobs ----

class Front:
    """HTTP on 127.0.0.1:port in the sandbox before backend (a plain-HTTP registry URL).
    auth: None, or "bearer" (tokens from /token, with basic creds when creds=(user, password));
    token_field: the JSON member the token comes in; blobs: "redirect", "proxy", "slow" (rate bytes/s),
    "stall" (headers, a first chunk, then nothing)."""

    def __init__(self, sb, port, backend, auth=None, creds=None, token_field="token", blobs="redirect", rate=1 << 20):
        self.port, self.backend, self.auth, self.creds = port, backend, auth, creds
        self.token_field, self.blobs_mode, self.rate = token_field, blobs, rate
        self.tokens = set()
        self.manifest_body = None       # served for every manifest instead of the registry's
        self.manifest_chunked = False   # ... without a Content-Length (read until the connection closes)
        self.requests = []      # (method, path, authorization header)
        self.token_requests = []
        front = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, headers, body=b""):
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self):
                self.do_GET()

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                authz = self.headers.get("Authorization", "")
                front.requests.append((self.command, u.path, authz))
                if u.path == "/token":
                    return self._token(u, authz)
                if front.auth == "bearer" and (not authz.startswith("Bearer ") or authz[7:] not in front.tokens):
                    repo = u.path[4:].rsplit("/", 2)[0]
                    chal = (f'Bearer realm="http://127.0.0.1:{front.port}/token",service="ecsbox-front",'
                            f'scope="repository:{repo}:pull"')
                    body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode()
                    return self._send(401, {"WWW-Authenticate": chal, "Content-Type": "application/json"}, body)
                if "/manifests/" in u.path and front.manifest_body is not None:
                    if not front.manifest_chunked:
                        return self._send(200, {"Content-Type": MT_OCI_MANIFEST}, front.manifest_body)
                    self.send_response(200)
                    self.send_header("Content-Type", MT_OCI_MANIFEST)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    try:
                        for i in range(0, len(front.manifest_body), 65536):
                            self.wfile.write(front.manifest_body[i:i + 65536])
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                if "/blobs/" in u.path and front.blobs_mode == "redirect":
                    return self._send(307, {"Location": front.backend + u.path})
                self._proxy(u)

            def _token(self, u, authz):
                q = urllib.parse.parse_qs(u.query)
                front.token_requests.append((q, authz))
                if front.creds:
                    want = "Basic " + base64.b64encode(f"{front.creds[0]}:{front.creds[1]}".encode()).decode()
                    if authz != want:
                        body = json.dumps({"details": "incorrect username or password"}).encode()
                        return self._send(401, {"Content-Type": "application/json"}, body)
                t = secrets.token_hex(16)
                front.tokens.add(t)
                self._send(200, {"Content-Type": "application/json"},
                           json.dumps({front.token_field: t, "expires_in": 300}).encode())

            def _proxy(self, u):
                b = urllib.parse.urlsplit(front.backend)
                c = http.client.HTTPConnection(b.hostname, b.port, timeout=60)
                hdr = {k: v for k, v in self.headers.items() if k.lower() in ("accept",)}
                c.request(self.command, u.path, headers=hdr)
                r = c.getresponse()
                out = {k: v for k, v in r.getheaders() if k.lower() in ("content-type", "docker-content-digest", "content-length")}
                slow = "/blobs/" in u.path and front.blobs_mode in ("slow", "stall") and r.status == 200
                self.send_response(r.status)
                for k, v in out.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    if self.command == "HEAD":
                        return
                    chunk = 65536
                    while True:
                        data = r.read(chunk)
                        if not data:
                            break
                        self.wfile.write(data)
                        if slow:
                            self.wfile.flush()
                            if front.blobs_mode == "stall":
                                time.sleep(3600)
                            time.sleep(len(data) / front.rate)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    c.close()

        self.server = None

        def serve():
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
            self.server.daemon_threads = True
            self.server.serve_forever(poll_interval=0.1)
        spawn_in_netns(sb.pid, serve)
        wait_for(lambda: self.server is not None, 10, what="front server")

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
