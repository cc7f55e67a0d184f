#!/usr/bin/env bash
# On the GPU machine: `autokernel run` with the search proposer on the CUDA starters of rmsnorm,
# softmax and cross_entropy for BUDGET (default 15m), then the loop's results under $OUT/loop.
# Run after bench/gpu_session.sh (which builds build-gpu/); `bash bench/gpu_session.sh build` only builds.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/ak_out}"
WS="${WS:-/tmp/ak_loop_ws}"
mkdir -p "$OUT/loop"
export AUTOKERNEL_CACHE="${AUTOKERNEL_CACHE:-/tmp/ak_cache}"
build-gpu/autokernel run --workspace "$WS" --tag h100 --budget "${BUDGET:-15m}" --dtype bf16 \
  --kernel kernels/rmsnorm/cuda.cu --kernel kernels/softmax/cuda.cu --kernel kernels/cross_entropy/cuda.cu \
  2>&1 | tee "$OUT/loop/run.txt"
cp "$WS/results.tsv" "$OUT/loop/results.tsv"
build-gpu/autokernel status --workspace "$WS" > "$OUT/loop/status.txt"
git -C "$WS" log --format='%h %s' > "$OUT/loop/git_log.txt"
python3 - "$WS/results.tsv" <<'PY' | tee "$OUT/loop/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
secs = [float(r["seconds"]) for r in rows]
print(f"{len(rows)} experiments; median {statistics.median(secs):.1f} s per experiment (build + five stages + timing)")
PY
# The whole workspace (git history, results.tsv, kernels) so reports can be made from it later.
tar czf "$OUT/loop/workspace.tgz" -C "$WS" --exclude=run.lock .
tar czf "$OUT/loop.tgz" -C "$OUT" loop
