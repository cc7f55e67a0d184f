#!/usr/bin/env bash
# Device call: build, then `autokernel suite` runs, each "NAME|ARGS" (ARGS as for autokernel suite),
# each under the wall-clock seconds left before DEADLINE_S (default 560) after this script started.
#   bash bench/suite_call.sh "norms|--types rmsnorm,layernorm --backends cuda" "reduce|--types reduce --backends cuda"
# FRESH_INDUCTOR=1: each run gets an empty inductor cache, so torch.compile autotunes afresh every run
# (otherwise a repeated run reuses the first run's choice of config, and repeats are not independent).
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/pack_out.sh
export AUTOKERNEL_CACHE=/tmp/ak_cache
t0=$(date +%s)
[ -f build-gpu/CMakeCache.txt ] || cmake -S . -B build-gpu -G Ninja -DPython3_EXECUTABLE="$(command -v python3)" > "$OUT/cmake.log" 2>&1
cmake --build build-gpu -j16 --target autokernel > "$OUT/build.log" 2>&1 || { grep -E "error" -A5 "$OUT/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
for run in "$@"; do
  name="${run%%|*}" args="${run#*|}"
  left=$(( ${DEADLINE_S:-560} - ($(date +%s) - t0) ))
  [ "$left" -gt 30 ] || { echo "$name: skipped, ${left}s left"; continue; }
  [ "${FRESH_INDUCTOR:-0}" = 1 ] && export TORCHINDUCTOR_CACHE_DIR="$(mktemp -d /tmp/inductor_XXXX)"
  # shellcheck disable=SC2086
  timeout "$left" build-gpu/autokernel suite $args --json "$OUT/$name.json" > "$OUT/$name.txt" 2> "$OUT/$name.log"
  echo "$name: rc=$? at $(( $(date +%s) - t0 )) s"; cat "$OUT/$name.txt"
done
