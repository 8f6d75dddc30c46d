#!/usr/bin/env bash
# bench.sh: every benchmark, each running its baseline side by side in the same run.
# C benchmarks are built by `make bench` into $BUILD/bench; Python drivers live in tests/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export ECSBOX_BUILD=$PWD/$BUILD
for b in "$BUILD"/bench/*; do
  [ -x "$b" ] || continue
  echo "== $b"
  "$b"
  echo
done
for b in tests/bench/bench_*.py; do
  echo "== $b"
  /usr/bin/python3 "$b"
  echo
done
