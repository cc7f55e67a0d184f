#!/usr/bin/env bash
# Time one kernel file at one configuration under several knob settings, through `autokernel suite`
# (stages 1-2, no torch.compile): a quick look at which knobs matter before a longer search.
#   bash bench/knob_sweep.sh rmsnorm cuda 8192x8192 "" "STORE_HINT=1" "LOAD_HINT=1,CHUNKS=8"
# KERNELS_DIR=DIR times DIR/<type>/<file> instead of kernels/ (a variant under trial); DTYPE=f16 (default bf16).
set -euo pipefail
cd "$(dirname "$0")/.."
type="$1" backend="$2" dims="$3"; shift 3
bin="${AUTOKERNEL:-build/autokernel}"
for setting in "$@"; do
  knobs=()
  for kv in ${setting//,/ }; do knobs+=(--knob "$type.$backend.$kv"); done
  line=$("$bin" suite --configs "$type:$dims" --backends "$backend" --dtypes "${DTYPE:-bf16}" --quick --no-compile \
           ${KERNELS_DIR:+--kernels-dir "$KERNELS_DIR"} \
           "${knobs[@]}" 2>/dev/null | grep -E "^$type " || echo "$type (failed)")
  echo "[${setting:-defaults}] $line"
done
