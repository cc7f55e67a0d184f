#!/usr/bin/env bash
# Each SPEC ("KERNEL_FILE [NAME=value ...]", the file under kernels/) through the five stages (no timing), side by
# side (their builds share the host's cores), then one verdict line each, in the order given. Expects
# build-gpu/autokernel (bash bench/gpu_session.sh build); writes $OUT/stages_NN.txt and $OUT/stages.err. A spec
# still running after STAGE_TIMEOUT seconds (default 400) is stopped and says "no JSON".
#   bash bench/five_stages.sh "flash_attention/cuda.cu" "flash_attention/cuda.cu H_PINGPONG=0" "rotary_embedding/triton.py"
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/ak_out}"
mkdir -p "$OUT"
verdict() {  # kernel file, then NAME=value knobs
  local args=(bench --kernel "kernels/$1" --no-timing --json) k
  for k in "${@:2}"; do args+=(--knob "$k"); done
  timeout "${STAGE_TIMEOUT:-400}" build-gpu/autokernel "${args[@]}" 2>>"$OUT/stages.err" | python3 -c '
import json, sys
t = sys.stdin.read()
try:
    r = json.loads(t[t.index("{"):])
    print("{:<32} {:<34} {:<10} stage={} {} {}".format(sys.argv[1], sys.argv[2], r["outcome"], r["failed_stage"],
                                                      r.get("failed_case", ""), r["message"][:200]))
except Exception:
    print(sys.argv[1], sys.argv[2], "no JSON:", t[-600:])' "$1" "${*:2}"
}
i=0
for spec in "$@"; do
  # shellcheck disable=SC2086
  verdict $spec > "$OUT/stages_$(printf %02d $i).txt" &
  i=$((i + 1))
done
wait
cat "$OUT"/stages_*.txt
