#!/usr/bin/env bash
# fuzz.sh BUILD [NAME...]: runs every libFuzzer target in BUILD/fuzz (or only fuzz_NAME for each NAME
# given) for FUZZ_SECONDS (default 60) each. The seeds in tests/fuzz/corpus/NAME stay as they are; the
# fuzzer grows a copy in BUILD/fuzz/corpus/NAME. A crash leaves its input in BUILD/fuzz/artifacts/ and
# fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
shift || true
SECONDS_EACH=${FUZZ_SECONDS:-60}
status=0
mkdir -p "$BUILD/fuzz/artifacts"
for bin in "$BUILD"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then
    continue
  fi
  work="$BUILD/fuzz/corpus/$name"
  mkdir -p "$work"
  seeds="tests/fuzz/corpus/$name"
  [ -d "$seeds" ] || seeds=""
  echo "== fuzz $name for ${SECONDS_EACH}s"
  if ! "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$BUILD/fuzz/artifacts/$name-" "$work" $seeds 2>"$BUILD/fuzz/$name.log"; then
    echo "fuzz $name: FAILED (see $BUILD/fuzz/$name.log and $BUILD/fuzz/artifacts/)"
    tail -n 40 "$BUILD/fuzz/$name.log"
    status=1
  else
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$BUILD/fuzz/$name.log" | tr '\n' ' '
    echo
  fi
done
exit $status
