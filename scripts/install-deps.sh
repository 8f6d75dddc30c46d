#!/usr/bin/env bash
# install-deps.sh: install every build, test and benchmark dependency of ecsbox
# from Debian packages. Idempotent: installs only what is missing.
set -euo pipefail

PKGS=(
  build-essential pkg-config make gcc
  libmnl-dev libnftnl-dev libnl-3-dev libnl-route-3-dev
  libmicrohttpd-dev libsqlite3-dev libjansson-dev libcap-dev libcurl4-openssl-dev libsystemd-dev libssl-dev
  libcmocka-dev clang libarchive-dev libzstd-dev zstd libldns-dev libxml2-dev
  docker-registry skopeo apache2-utils nginx-light dnsmasq-base python3-dnspython dnsperf ldnsutils
  python3 python3-pytest python3-boto3 awscli
  iproute2 iputils-ping nftables iperf3 busybox-static util-linux procps curl conntrack
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${missing[@]}" </dev/null; then
  apt-get update </dev/null
  apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi
