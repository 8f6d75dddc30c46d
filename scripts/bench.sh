#!/usr/bin/env bash
# bench.sh: every benchmark, each running its baseline side by side in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in tests/bench/bench_*.py; do
  echo "== $b"
  /usr/bin/python3 "$b" "$@"
  echo
done
