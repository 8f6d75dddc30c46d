#!/bin/bash
# build-image.sh: build the busybox image from the host's busybox-static, offline.
# Usage: scripts/build-image.sh DIR [BUSYBOX]
# DIR/busybox is the root filesystem: /bin/busybox, a symlink per applet (`busybox --list-full`),
# /etc/passwd (root, nobody), /etc/group, /etc/hosts, /tmp, /www (with an index.html), and empty
# mount points /proc /dev /sys. Built beside the old one and swapped in by rename: idempotent.
# DIR/busybox.tar is that root packed as an image, one layer, in the layout `docker save` writes
# since Docker 25: an OCI image layout (oci-layout, index.json, blobs/sha256/...) that also carries
# Docker's manifest.json, tagged busybox:latest, Cmd ["sh"]. `ecsbox image import DIR/busybox.tar`,
# `skopeo copy oci-archive:DIR/busybox.tar ...` and `docker load` all read it. The archive is
# reproducible (fixed mtimes, owners 0, sorted entries): the same busybox gives the same image id.
# Prints the archive's path.
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
        echo "usage: $0 DIR [BUSYBOX]   (builds DIR/busybox and DIR/busybox.tar from BUSYBOX, default /bin/busybox)" >&2
        exit 2
fi
store=$1
busybox=${2:-/bin/busybox}

if ! [ -x "$busybox" ]; then
        echo "$0: '$busybox' is not an executable (install busybox-static)" >&2
        exit 1
fi
# A dynamically linked busybox would need the host's libc inside the image.
if command -v file >/dev/null 2>&1 && ! file -L "$busybox" | grep -q 'statically linked\|static-pie'; then
        echo "$0: '$busybox' is not statically linked (install busybox-static)" >&2
        exit 1
fi

mkdir -p "$store"
store=$(cd "$store" && pwd)
final="$store/busybox"
tmp=$(mktemp -d "$store/.busybox.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

install -d -m 0755 "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,dev,sys,root,www,var}
install -d -m 1777 "$tmp/tmp"
install -m 0755 "$busybox" "$tmp/bin/busybox"

# One symlink per applet, where busybox itself would install it.
"$tmp/bin/busybox" --list-full | while read -r applet; do
        case "$applet" in
        ""|bin/busybox|linuxrc|*/../*|/*) continue ;;
        esac
        [ -e "$tmp/$applet" ] || [ -L "$tmp/$applet" ] && continue
        mkdir -p "$tmp/$(dirname "$applet")"
        ln -s /bin/busybox "$tmp/$applet"
done

cat >"$tmp/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$tmp/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
cat >"$tmp/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
echo "ecsbox busybox image" >"$tmp/www/index.html"
chmod 0644 "$tmp/etc/passwd" "$tmp/etc/group" "$tmp/etc/hosts" "$tmp/www/index.html"
chmod 0755 "$tmp"

# Swap in: the old tree moves aside first, so STORE/busybox is always a whole image.
if [ -e "$final" ]; then
        old=$(mktemp -d "$store/.busybox-old.XXXXXX")
        mv "$final" "$old/busybox"
        mv "$tmp" "$final"
        rm -rf "$old"
else
        mv "$tmp" "$final"
fi
trap - EXIT

# The archive, written beside and renamed over the old one.
python3 - "$final" "$store/busybox.tar" <<'PY'
import hashlib, io, json, os, platform, sys, tarfile

root, out = sys.argv[1], sys.argv[2]
EPOCH = 1700000000      # fixed mtimes: the same busybox makes the same image

def entry_filter(ti):
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.mtime = EPOCH
    return ti

def layer_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d, dirs, files in os.walk(root):
            dirs.sort()
            rel = os.path.relpath(d, root)
            if rel != ".":
                t.add(d, arcname=rel, recursive=False, filter=entry_filter)
            for f in sorted(files):
                t.add(os.path.join(d, f), arcname=os.path.normpath(os.path.join(rel, f)), recursive=False,
                      filter=entry_filter)
    return buf.getvalue()

def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(platform.machine(),
                                                                                  platform.machine())
layer = layer_tar()
config = json.dumps({
    "architecture": arch, "os": "linux", "created": "2023-11-14T22:13:20Z",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"],
               "WorkingDir": "/"},
    "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
    "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "scripts/build-image.sh"}],
}, sort_keys=True).encode()
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config),
               "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer),
                "size": len(layer)}],
}, sort_keys=True).encode()
index = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest),
                   "size": len(manifest),
                   "annotations": {"io.containerd.image.name": "docker.io/library/busybox:latest",
                                   "org.opencontainers.image.ref.name": "latest"}}],
}, sort_keys=True).encode()
docker_manifest = json.dumps([{"Config": "blobs/sha256/" + digest(config)[7:], "RepoTags": ["busybox:latest"],
                               "Layers": ["blobs/sha256/" + digest(layer)[7:]]}]).encode()

tmp = out + ".tmp"
with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as t:
    def put(name, data):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode = len(data), EPOCH, 0o644
        t.addfile(ti, io.BytesIO(data))
    for d in ("blobs", "blobs/sha256"):
        ti = tarfile.TarInfo(d)
        ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, EPOCH
        t.addfile(ti)
    for b in (layer, config, manifest):
        put("blobs/sha256/" + digest(b)[7:], b)
    put("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    put("index.json", index)
    put("manifest.json", docker_manifest)
os.rename(tmp, out)
PY
echo "$store/busybox.tar"
