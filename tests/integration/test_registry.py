"""test_registry.py: registry_pull (scheduler/images/registry.c) end to end through ecsbox-pull,
against Debian's docker-registry started inside each test's own sandbox (network namespace: only
127.0.0.1 inside it), with images the tests build themselves (ocireg.py)."""
import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

from ocireg import (Front, Layout, Registry, auth_file, busybox_layers, htpasswd_file, http_call, in_netns, push_all,
                    push_manifest, self_signed, skopeo_push, MT_OCI_INDEX)
from sandbox import BUILD, wait_for

PULL = os.path.join(BUILD, "tools", "ecsbox-pull")
REPO = "test/busybox"


@pytest.fixture(scope="session")
def layers():
    return busybox_layers()


@pytest.fixture
def reg(sb):
    r = Registry(sb, 5000)
    yield r
    r.stop()


def pull(sb, ref, root, *opts, check=None, timeout=120):
    """ecsbox-pull inside the sandbox: (exit code, parsed JSON or None, stderr)."""
    p = sb.run([PULL] + list(opts) + [ref, root], check=False, timeout=timeout)
    out = json.loads(p.stdout) if p.returncode == 0 else None
    if check is True:
        assert p.returncode == 0, p.stderr
    return p.returncode, out, p.stderr


def error_of(stderr):
    """('Code', 'message') of ecsbox-pull's last stderr line."""
    line = stderr.strip().splitlines()[-1]
    code, msg = line.split(": ", 1)
    return code, msg


def stored(root):
    """Digests in the blob store, each checked against its content."""
    d = os.path.join(root, "blobs", "sha256")
    out = set()
    for h in os.listdir(d) if os.path.isdir(d) else []:
        data = open(os.path.join(d, h), "rb").read()
        assert hashlib.sha256(data).hexdigest() == h, f"blob {h} has other content"
        out.add("sha256:" + h)
    return out


def tmp_leftovers(root):
    d = os.path.join(root, "blobs", ".tmp")
    return [n for n in os.listdir(d) if not n.startswith("lock-")] if os.path.isdir(d) else []


def image_blobs(layout, manifest_desc):
    m = json.loads(layout.blobs[manifest_desc["digest"]])
    return {manifest_desc["digest"], m["config"]["digest"]} | {l["digest"] for l in m["layers"]}


def simple_image(tmp, layers, compressions=("gzip", "gzip"), tag="v1"):
    lay = Layout(os.path.join(tmp, "layout-" + tag))
    desc, _ = lay.image(list(layers), compressions=list(compressions))
    lay.tag(desc, tag)
    return lay, desc


def push(sb, reg, lay, desc, tag, repo=REPO):
    return in_netns(sb.pid, push_all, reg.url, repo, lay, desc, tag)


# ---- pulls that work ----

def test_pull_by_tag_gzip_and_zstd_with_skopeo(sb, reg, layers):
    lay, desc = simple_image(sb.tmp, layers, ("gzip", "zstd"))
    skopeo_push(sb, lay, "v1", f"{reg.host}/{REPO}:v1")
    root = os.path.join(sb.tmp, "store")
    rc, out, err = pull(sb, f"{reg.host}/{REPO}:v1", root, "--insecure", reg.host, "--progress")
    assert rc == 0, err
    assert out == {"image": f"{reg.host}/{REPO}:v1", "manifestDigest": desc["digest"], "indexDigest": "",
                   "repoDigest": desc["digest"]}
    assert stored(root) == image_blobs(lay, desc)
    assert tmp_leftovers(root) == []
    # progress: throttled lines, the last one complete
    last = json.loads(err.strip().splitlines()[-1])
    m = json.loads(lay.blobs[desc["digest"]])
    total = m["config"]["size"] + sum(l["size"] for l in m["layers"])
    assert last == {"bytesDone": total, "bytesTotal": total, "layersDone": 2, "layersTotal": 2}
    # the tag resolves (HEAD, Docker-Content-Digest) to the same digest
    p = sb.run([PULL, "--insecure", reg.host, "--resolve", f"{reg.host}/{REPO}:v1", root])
    assert p.stdout.strip() == desc["digest"]
    # a second pull finds every blob in the store
    n = len(stored(root))
    rc, out2, err = pull(sb, f"{reg.host}/{REPO}:v1", root, "--insecure", reg.host)
    assert rc == 0 and out2 == out and len(stored(root)) == n


def test_pull_docker_v2s2_by_digest(sb, reg, layers):
    lay, desc = simple_image(sb.tmp, layers)
    skopeo_push(sb, lay, "v1", f"{reg.host}/{REPO}:v2s2", extra=["--format", "v2s2"])
    st, h, body = in_netns(sb.pid, http_call, "GET", f"{reg.url}/v2/{REPO}/manifests/v2s2",
                           headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    assert st == 200 and json.loads(body)["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    digest = h["docker-content-digest"]
    root = os.path.join(sb.tmp, "store")
    rc, out, err = pull(sb, f"{reg.host}/{REPO}@{digest}", root, "--insecure", reg.host)
    assert rc == 0, err
    assert out["manifestDigest"] == digest == out["repoDigest"]
    m = json.loads(body)
    assert stored(root) == {digest, m["config"]["digest"]} | {l["digest"] for l in m["layers"]}
    # a digest the registry does not have
    rc, _, err = pull(sb, f"{reg.host}/{REPO}@sha256:{'0' * 64}", root, "--insecure", reg.host)
    assert rc == 1 and error_of(err)[0] == "ManifestNotFound", err


def test_pull_index_picks_this_host(sb, reg, layers):
    lay = Layout(os.path.join(sb.tmp, "layout"))
    mine, plat = lay.image(list(layers))
    arm, arm_plat = lay.image([layers[0][:10240]], arch="arm64", variant="v8")
    att = lay.attestation(mine["digest"])
    idx = lay.index([(arm, arm_plat), (att, {"architecture": "unknown", "os": "unknown"}), (mine, plat)])
    in_netns(sb.pid, push_all, reg.url, REPO, lay, idx, "multi")
    root = os.path.join(sb.tmp, "store")
    rc, out, err = pull(sb, f"{reg.host}/{REPO}:multi", root, "--insecure", reg.host)
    assert rc == 0, err
    assert out["indexDigest"] == idx["digest"] == out["repoDigest"]
    assert out["manifestDigest"] == mine["digest"]
    assert stored(root) == image_blobs(lay, mine) | {idx["digest"]}   # nothing of arm64 or the attestation

    # an index without this host's platform names what it has
    s390, s390_plat = lay.image([layers[0][:10240]], arch="s390x")
    other = lay.index([(arm, arm_plat), (s390, s390_plat), (att, {"architecture": "unknown", "os": "unknown"})])
    in_netns(sb.pid, push_all, reg.url, REPO, lay, other, "foreign")
    rc, _, err = pull(sb, f"{reg.host}/{REPO}:foreign", root, "--insecure", reg.host)
    code, msg = error_of(err)
    assert rc == 1 and code == "NoMatchingPlatform", err
    assert "linux/arm64/v8, linux/s390x" in msg and "unknown" not in msg and f"{reg.host}/{REPO}:foreign" in msg


def test_mirror_first_and_fallback(sb, reg, layers):
    lay, desc = simple_image(sb.tmp, layers)
    push(sb, reg, lay, desc, "1", repo="library/busybox")
    root = os.path.join(sb.tmp, "store")
    # docker.io itself cannot be reached in the sandbox: the mirror serves it
    rc, out, err = pull(sb, "busybox:1", root, "--mirror", f"docker.io={reg.url}")
    assert rc == 0, err
    assert out["image"] == "docker.io/library/busybox:1" and out["manifestDigest"] == desc["digest"]
    # without the mirror: unreachable, naming registry-1.docker.io and curl's reason
    rc, _, err = pull(sb, "busybox:1", os.path.join(sb.tmp, "s2"))
    code, msg = error_of(err)
    assert rc == 1 and code == "RegistryUnreachable" and "https://registry-1.docker.io" in msg, err
    # a dead mirror first, then the registry itself
    push(sb, reg, lay, desc, "v1")
    rc, out, err = pull(sb, f"{reg.host}/{REPO}:v1", os.path.join(sb.tmp, "s3"), "--insecure", reg.host,
                        "--mirror", f"{reg.host}=http://127.0.0.1:5999")
    assert rc == 0, err
    # a mirror without the image falls back to the registry too
    rc, out, err = pull(sb, f"{reg.host}/{REPO}:v1", os.path.join(sb.tmp, "s4"), "--insecure", reg.host,
                        "--mirror", f"{reg.host}={reg.url}/nothing-here")
    assert rc == 0, err
    # everything dead: every endpoint's cause
    rc, _, err = pull(sb, "127.0.0.1:5998/x:1", os.path.join(sb.tmp, "s5"), "--insecure", "127.0.0.1:5998",
                      "--mirror", "127.0.0.1:5998=http://127.0.0.1:5999")
    code, msg = error_of(err)
    assert rc == 1 and code == "RegistryUnreachable", err
    for ep in ("http://127.0.0.1:5999", "https://127.0.0.1:5998", "http://127.0.0.1:5998"):
        assert ep in msg, msg
    assert msg.count("Connection refused") + msg.count("Couldn't connect") >= 3, msg


# ---- authentication ----

def test_tls_and_basic_auth(sb, layers):
    cert, key = self_signed(sb.tmp)
    pw = htpasswd_file(os.path.join(sb.tmp, "htpasswd"), "alice", "s3cret")
    reg = Registry(sb, 5443, tls=(cert, key), htpasswd=pw)
    lay, desc = simple_image(sb.tmp, layers)
    skopeo_push(sb, lay, "v1", f"{reg.host}/{REPO}:v1", extra=["--dest-creds", "alice:s3cret"])
    good = auth_file(os.path.join(sb.tmp, "good.json"), reg.host, "alice", "s3cret")
    bad = auth_file(os.path.join(sb.tmp, "bad.json"), reg.host, "alice", "wrong")
    ref = f"{reg.host}/{REPO}:v1"

    rc, out, err = pull(sb, ref, os.path.join(sb.tmp, "s1"), "--ca-file", cert, "--auth-file", good)
    assert rc == 0, err
    assert out["manifestDigest"] == desc["digest"]
    assert stored(os.path.join(sb.tmp, "s1")) == image_blobs(lay, desc)

    rc, _, err = pull(sb, ref, os.path.join(sb.tmp, "s2"), "--ca-file", cert, "--auth-file", bad)
    code, msg = error_of(err)
    assert rc == 1 and code == "AccessDenied", err
    assert msg.startswith(ref + ": access denied: unauthorized: authentication required") and "HTTP 401" in msg, msg

    rc, _, err = pull(sb, ref, os.path.join(sb.tmp, "s3"), "--ca-file", cert, "--auth-file", os.path.join(sb.tmp, "none.json"))
    code, msg = error_of(err)
    assert rc == 1 and code == "AccessDenied" and "no credentials for '127.0.0.1:5443'" in msg, err

    # the self-signed certificate is refused without --ca-file, accepted unverified with --insecure
    rc, _, err = pull(sb, ref, os.path.join(sb.tmp, "s4"), "--auth-file", good)
    code, msg = error_of(err)
    assert rc == 1 and code == "RegistryUnreachable" and "certificate" in msg, err
    rc, _, err = pull(sb, ref, os.path.join(sb.tmp, "s5"), "--auth-file", good, "--insecure", reg.host)
    assert rc == 0, err
    reg.stop()


def test_bearer_token_and_blob_redirect(sb, reg, layers):
    lay, desc = simple_image(sb.tmp, layers)
    push(sb, reg, lay, desc, "v1")
    front = Front(sb, 5100, reg.url, auth="bearer", creds=("bob", "pw"), token_field="access_token")
    ref = f"127.0.0.1:5100/{REPO}:v1"
    good = auth_file(os.path.join(sb.tmp, "good.json"), "127.0.0.1:5100", "bob", "pw")
    root = os.path.join(sb.tmp, "store")
    rc, out, err = pull(sb, ref, root, "--insecure", "127.0.0.1:5100", "--auth-file", good)
    assert rc == 0, err
    assert stored(root) == image_blobs(lay, desc)
    # one token for the pull, asked for with the pull scope and the service of the challenge
    assert len(front.token_requests) == 1, front.token_requests
    q, authz = front.token_requests[0]
    assert q == {"scope": [f"repository:{REPO}:pull"], "service": ["ecsbox-front"]} and authz.startswith("Basic ")
    # every blob answered with a redirect (followed to the registry, which wants no token)
    blob_gets = [r for r in front.requests if "/blobs/" in r[1]]
    assert len(blob_gets) == 3 and all(r[2].startswith("Bearer ") for r in blob_gets)

    bad = auth_file(os.path.join(sb.tmp, "bad.json"), "127.0.0.1:5100", "bob", "nope")
    rc, _, err = pull(sb, ref, os.path.join(sb.tmp, "s2"), "--insecure", "127.0.0.1:5100", "--auth-file", bad)
    code, msg = error_of(err)
    assert rc == 1 and code == "AccessDenied" and "incorrect username or password" in msg, err
    front.stop()


def test_anonymous_bearer_token(sb, reg, layers):
    """Docker Hub's way: a token without credentials, in "token"."""
    lay, desc = simple_image(sb.tmp, layers)
    push(sb, reg, lay, desc, "v1")
    front = Front(sb, 5100, reg.url, auth="bearer", blobs="proxy")
    root = os.path.join(sb.tmp, "store")
    rc, out, err = pull(sb, f"127.0.0.1:5100/{REPO}:v1", root, "--insecure", "127.0.0.1:5100",
                        "--auth-file", os.path.join(sb.tmp, "absent.json"))
    assert rc == 0, err
    assert front.token_requests[0][1] == "" and len(front.token_requests) == 1
    front.stop()


# ---- refusals ----

def test_plain_http_registry_needs_insecure(sb, reg, layers):
    lay, desc = simple_image(sb.tmp, layers)
    push(sb, reg, lay, desc, "v1")
    rc, _, err = pull(sb, f"{reg.host}/{REPO}:v1", os.path.join(sb.tmp, "store"))
    code, msg = error_of(err)
    assert rc == 1 and code == "RegistryUnreachable", err
    assert msg.startswith(f"{reg.host}/{REPO}:v1: registry unreachable: https://{reg.host}/v2/{REPO}/manifests/v1: "), msg
    assert stored(os.path.join(sb.tmp, "store")) == set()


def test_unknown_tag_and_repository(sb, reg, layers):
    lay, desc = simple_image(sb.tmp, layers)
    push(sb, reg, lay, desc, "v1")
    rc, _, err = pull(sb, f"{reg.host}/{REPO}:nope", os.path.join(sb.tmp, "store"), "--insecure", reg.host)
    assert rc == 1
    assert error_of(err) == ("ManifestNotFound", f"{reg.host}/{REPO}:nope: manifest unknown: manifest unknown "
                                                 f"(registry {reg.host}, HTTP 404)")
    rc, _, err = pull(sb, f"{reg.host}/no/such:v1", os.path.join(sb.tmp, "store"), "--insecure", reg.host)
    code, msg = error_of(err)
    # distribution 2.8 says MANIFEST_UNKNOWN for an unknown repository too (NAME_UNKNOWN in the spec)
    assert rc == 1 and code == "ManifestNotFound" and f"{reg.host}/no/such:v1: " in msg, err
    rc, _, err = pull(sb, f"{reg.host}/{REPO}:nope", os.path.join(sb.tmp, "store"), "--insecure", reg.host, "--resolve")
    assert rc == 1 and error_of(err)[0] == "ManifestNotFound"


def corrupt_layer(reg, lay, desc, how):
    m = json.loads(lay.blobs[desc["digest"]])
    layer = m["layers"][0]["digest"]
    f = reg.blob_file(layer)
    data = bytearray(open(f, "rb").read())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data = data[: len(data) // 2]
    with open(f, "wb") as fh:
        fh.write(data)
    return layer


@pytest.mark.parametrize("how,code", [("flip", "DigestMismatch"), ("truncate", "SizeMismatch")])
def test_bad_blob_is_not_stored(sb, reg, layers, how, code):
    lay, desc = simple_image(sb.tmp, layers)
    push(sb, reg, lay, desc, "v1")
    layer = corrupt_layer(reg, lay, desc, how)
    root = os.path.join(sb.tmp, "store")
    rc, _, err = pull(sb, f"{reg.host}/{REPO}:v1", root, "--insecure", reg.host)
    c, msg = error_of(err)
    assert rc == 1 and c == code, err
    assert f"layer 0 {layer}" in msg and f"{reg.host}/{REPO}:v1" in msg, msg
    assert layer not in stored(root)
    assert tmp_leftovers(root) == []


def test_manifest_too_big(sb, reg, layers):
    front = Front(sb, 5100, reg.url)
    front.manifest_body = b"{" + b" " * (5 << 20) + b"}"
    rc, _, err = pull(sb, f"127.0.0.1:5100/{REPO}:v1", os.path.join(sb.tmp, "store"), "--insecure", "127.0.0.1:5100")
    code, msg = error_of(err)
    assert rc == 1 and code == "RegistryProtocolError" and "larger than 4194304 bytes" in msg, err
    front.manifest_chunked = True        # no Content-Length: the limit holds while reading
    rc, _, err = pull(sb, f"127.0.0.1:5100/{REPO}:v1", os.path.join(sb.tmp, "store"), "--insecure", "127.0.0.1:5100")
    code, msg = error_of(err)
    assert rc == 1 and code == "RegistryProtocolError" and "larger than 4194304 bytes" in msg, err
    front.stop()


# ---- interruptions ----

def big_image(tmp, layers, mb=16):
    lay = Layout(os.path.join(tmp, "big"))
    big = os.urandom(mb << 20)
    desc, _ = lay.image([layers[0], big], compressions=["gzip", "tar"])
    lay.tag(desc, "big")
    return lay, desc


def pull_proc(sb, ref, root, *opts):
    return subprocess.Popen(sb.cmd([PULL] + list(opts) + [ref, root]), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def inner_pid(p):
    """The PID of ecsbox-pull (the child of nsenter)."""
    def find():
        kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        return int(kids[0]) if kids else None
    return wait_for(find, 10, what="ecsbox-pull started")


def partial(root):
    d = os.path.join(root, "blobs", ".tmp")
    for n in tmp_leftovers(root):
        if os.path.getsize(os.path.join(d, n)) > (1 << 20):
            return n
    return None


def test_kill9_during_pull_then_pull_again(sb, reg, layers):
    lay, desc = big_image(sb.tmp, layers)
    push(sb, reg, lay, desc, "big")
    Front(sb, 5100, reg.url, blobs="slow", rate=4 << 20)
    root = os.path.join(sb.tmp, "store")
    p = pull_proc(sb, f"127.0.0.1:5100/{REPO}:big", root, "--insecure", "127.0.0.1:5100")
    try:
        pid = inner_pid(p)
        wait_for(lambda: partial(root), 30, what="a partly written layer")
        # every descriptor curl and the store opened is close-on-exec
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if int(fd) > 2:
                flags = int(open(f"/proc/{pid}/fdinfo/{fd}").read().split("flags:")[1].split()[0], 8)
                assert flags & 0o2000000, f"fd {fd} ({os.readlink(f'/proc/{pid}/fd/{fd}')}) is not O_CLOEXEC"
        os.kill(pid, signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    big = json.loads(lay.blobs[desc["digest"]])["layers"][1]["digest"]
    assert partial(root) and big not in stored(root)
    rc, out, err = pull(sb, f"{reg.host}/{REPO}:big", root, "--insecure", reg.host)
    assert rc == 0, err
    assert stored(root) == image_blobs(lay, desc)       # each checked against its digest
    assert tmp_leftovers(root) == []                    # blob_store_init removed the half-made one


def test_stalled_registry_times_out(sb, reg, layers):
    lay, desc = big_image(sb.tmp, layers, mb=2)
    push(sb, reg, lay, desc, "big")
    Front(sb, 5100, reg.url, blobs="stall")
    root = os.path.join(sb.tmp, "store")
    t0 = time.monotonic()
    rc, _, err = pull(sb, f"127.0.0.1:5100/{REPO}:big", root, "--insecure", "127.0.0.1:5100", "--timeout", "2")
    code, msg = error_of(err)
    assert rc == 1 and code == "RegistryUnreachable" and "too slow" in msg, err
    assert time.monotonic() - t0 < 30
    big = json.loads(lay.blobs[desc["digest"]])["layers"][1]["digest"]
    assert tmp_leftovers(root) == [] and big not in stored(root)


def test_cancel_from_progress(sb, reg, layers):
    lay, desc = big_image(sb.tmp, layers, mb=8)
    push(sb, reg, lay, desc, "big")
    Front(sb, 5100, reg.url, blobs="slow", rate=8 << 20)
    root = os.path.join(sb.tmp, "store")
    rc, _, err = pull(sb, f"127.0.0.1:5100/{REPO}:big", root, "--insecure", "127.0.0.1:5100", "--cancel-after", str(3 << 20),
                      "--progress")
    assert rc == 1 and err.strip().splitlines()[-1].endswith("pull cancelled"), err
    # progress while the layer streamed: growing, within the total, cancelled soon after 3 MiB
    prog = [json.loads(l) for l in err.strip().splitlines()[:-1]]
    assert prog[0]["bytesTotal"] == 0        # reported (and cancellable) while the manifest is read
    prog = [p for p in prog if p["bytesTotal"]]
    done = [p["bytesDone"] for p in prog]
    assert len(prog) >= 3 and done == sorted(done) and all(p["bytesTotal"] == prog[0]["bytesTotal"] for p in prog)
    assert 3 << 20 <= done[-1] < prog[0]["bytesTotal"], done
    big = json.loads(lay.blobs[desc["digest"]])["layers"][1]["digest"]
    assert big not in stored(root) and tmp_leftovers(root) == []


def test_two_pulls_at_once_fetch_each_blob_once(sb, reg, layers):
    lay, desc = big_image(sb.tmp, layers, mb=8)
    push(sb, reg, lay, desc, "big")
    front = Front(sb, 5100, reg.url, blobs="slow", rate=8 << 20)
    root = os.path.join(sb.tmp, "store")
    ref = f"127.0.0.1:5100/{REPO}:big"
    procs = [pull_proc(sb, ref, root, "--insecure", "127.0.0.1:5100") for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    assert outs[0] == outs[1] and outs[0]["manifestDigest"] == desc["digest"]
    assert stored(root) == image_blobs(lay, desc) and tmp_leftovers(root) == []
    # the second waited on the blob's lock and found it stored: every blob crossed the wire once
    big = json.loads(lay.blobs[desc["digest"]])["layers"][1]["digest"]
    assert [r[1] for r in front.requests].count(f"/v2/{REPO}/blobs/{big}") == 1, front.requests


def test_token_answer_without_token(sb, reg, layers):
    lay, desc = simple_image(sb.tmp, layers)
    push(sb, reg, lay, desc, "v1")
    front = Front(sb, 5100, reg.url, auth="bearer", token_field="nothing")
    rc, _, err = pull(sb, f"127.0.0.1:5100/{REPO}:v1", os.path.join(sb.tmp, "store"), "--insecure", "127.0.0.1:5100")
    code, msg = error_of(err)
    assert rc == 1 and code == "RegistryProtocolError", err
    assert "token server http://127.0.0.1:5100/token: token answer has neither" in msg, msg
    front.stop()
