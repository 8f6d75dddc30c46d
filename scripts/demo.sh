#!/usr/bin/env bash
# demo.sh: in a private sandbox (the host's network is untouched), start ecsbox-netd,
# give 20 task namespaces their own ENI (veth and macvlan) in one subnet, serve HTTP on :80
# in every one of them, fetch each at its own IP, print a table, and clean up.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${DEMO_TASKS:-20}
if [ "${1:-}" != "--inside" ]; then
  mkdir -p /run/netns /run/ecsbox
  exec unshare --mount --net --pid --fork --kill-child --propagation private "$0" --inside
fi
mount -t tmpfs ecsbox-demo /run/netns
mount -t tmpfs ecsbox-demo /run/ecsbox
mount -t proc proc /proc
ip link set lo up
STATE=$(mktemp -d /tmp/ecsbox-demo-XXXXXX)
trap 'rm -rf "$STATE"' EXIT
"$BUILD/ecsbox-netd" --state-dir "$STATE" --run-dir /run/ecsbox --log-level warning &
NETD=$!
req() { /usr/bin/python3 - "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect("/run/ecsbox/netd.sock")
s.sendall(sys.argv[1].encode() + b"\n"); f = s.makefile("rb"); a = json.loads(f.readline())
if "Error" in a: sys.exit("netd: %s: %s" % (a["Error"]["Code"], a["Error"]["Message"]))
print(json.dumps(a))
PY
}
for _ in $(seq 100); do [ -S /run/ecsbox/netd.sock ] && req '{"Action":"DescribeVpcs"}' >/dev/null 2>&1 && break; sleep 0.1; done
SUBNET=$(req '{"Action":"DescribeSubnets","Filters":[{"Name":"default-for-az","Values":["true"]}]}' |
         /usr/bin/python3 -c 'import json,sys; print(sorted(json.load(sys.stdin)["Subnets"], key=lambda s: s["AvailabilityZone"])[0]["SubnetId"])')
echo "default VPC 172.31.0.0/16, subnet $SUBNET; starting $N tasks, each with its own ENI, all on :80"
printf '%-8s %-8s %-22s %-14s %-18s %s\n' TASK TYPE ENI IP MAC "HTTP ANSWER"
start=$(date +%s%N)
for i in $(seq 1 "$N"); do
  type=veth; [ $((i % 4)) -eq 0 ] && type=macvlan
  eni=$(req "{\"Action\":\"CreateTaskNetwork\",\"SubnetId\":\"$SUBNET\",\"Netns\":\"task-$i\",\"InterfaceType\":\"$type\"}")
  echo "$eni" > "$STATE/eni-$i.json"
  mkdir -p "$STATE/www-$i"; echo "task-$i" > "$STATE/www-$i/index.html"
  ip netns exec "task-$i" busybox httpd -p 80 -h "$STATE/www-$i"
done
setup_ms=$(( ($(date +%s%N) - start) / 1000000 ))
for i in $(seq 1 "$N"); do
  read -r id ip mac type < <(/usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["NetworkInterface"]; print(e["NetworkInterfaceId"], e["PrivateIpAddress"], e["MacAddress"], e["InterfaceType"])' "$STATE/eni-$i.json")
  ans=$(curl -s --max-time 3 --retry 5 --retry-connrefused --retry-delay 0 "http://$ip/" || echo "(no answer)")
  printf '%-8s %-8s %-22s %-14s %-18s %s\n' "task-$i" "$type" "$id" "$ip" "$mac" "$ans"
done
echo "set-up of $N task networks: ${setup_ms} ms in all (netd over its socket, including the httpd starts)"
for i in $(seq 1 "$N"); do
  id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["NetworkInterface"]["NetworkInterfaceId"])' "$STATE/eni-$i.json")
  ip netns pids "task-$i" | xargs -r kill
  req "{\"Action\":\"DeleteTaskNetwork\",\"NetworkInterfaceId\":\"$id\"}" >/dev/null
done
kill "$NETD"; wait "$NETD" || true
echo "cleaned up: $(ls /run/netns | grep -c task- || true) task namespaces left"
