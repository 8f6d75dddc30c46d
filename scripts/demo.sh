#!/usr/bin/env bash
# demo.sh: in a private sandbox (the host's network is untouched), start ecsbox-netd and ecsboxd,
# register a `web` task definition whose container answers HTTP on :80 with its task id, run
# 20 awsvpc tasks (each its own ENI, IP and MAC, all on :80) and 4 bridge tasks on two container
# instances with dynamic host ports, fetch every one, print a table, and clean up. The busybox image
# is built offline (scripts/build-image.sh) and imported (`ecsbox image import`) as busybox:latest.
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-$PWD/build}
if [ "${1:-}" != "--inside" ]; then
  mkdir -p /run/netns /run/ecsbox
  exec unshare --mount --net --pid --fork --kill-child --propagation private "$0" --inside
fi
mount -t tmpfs ecsbox-demo /run/netns
mount -t tmpfs ecsbox-demo /run/ecsbox
mount -t proc proc /proc
ip link set lo up
export STATE
STATE=$(mktemp -d /tmp/ecsbox-demo-XXXXXX)
trap 'rm -rf "$STATE"' EXIT
archive=$(bash scripts/build-image.sh "$STATE/busybox-image")
"$BUILD/ecsbox-netd" --state-dir "$STATE/netd" --run-dir /run/ecsbox --log-level warning 2>"$STATE/netd.log" &
for _ in $(seq 100); do [ -S /run/ecsbox/netd.sock ] && break; sleep 0.05; done
"$BUILD/ecsboxd" --state-dir "$STATE/ecsboxd" --run-dir /run/ecsbox \
  --log-level warning 2>"$STATE/ecsboxd.log" &
for _ in $(seq 100); do [ -S /run/ecsbox/ecsboxd.sock ] && break; sleep 0.05; done
"$BUILD/ecsbox" image import "$archive"
"$BUILD/ecsbox" image ls
/usr/bin/python3 scripts/demo.py
