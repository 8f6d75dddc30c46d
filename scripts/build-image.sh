#!/bin/bash
# build-image.sh: build the busybox image STORE/busybox from the host's busybox-static, offline.
# Usage: scripts/build-image.sh STORE [BUSYBOX]
# The image is a root filesystem directory: /bin/busybox, a symlink per applet (`busybox --list-full`),
# /etc/passwd (root, nobody), /etc/group, /etc/hosts, /tmp, /www (with an index.html), and empty
# mount points /proc /dev /sys. Built beside the old one and swapped in by rename: idempotent, and a
# running task keeps the tree it started with.
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
        echo "usage: $0 STORE [BUSYBOX]   (builds STORE/busybox from BUSYBOX, default /bin/busybox)" >&2
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
echo "$final"
