#!/usr/bin/env bash
# One call on the GPU machine: build, then the named steps. Everything it writes goes under $OUT
# (one results.tgz, since only a few files come back).
#   bash bench/gpu_session.sh tests            # GPU tests: every CUDA and Triton starter through all five stages
#   bash bench/gpu_session.sh bench [TYPES]    # autokernel bench (bf16 timing) of every starter (FILES="cuda.cu triton.py"), JSON per starter
#   bash bench/gpu_session.sh crosscheck       # the same speed-ups timed by torch (triton.testing.do_bench)
#   Steps combine: bash bench/gpu_session.sh tests,bench,crosscheck
#   BUILD_TARGET=autokernel builds the CLI alone (no test binary; a minute less of device time).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/ak_out}"
mkdir -p "$OUT/logs"
export AUTOKERNEL_CACHE="${AUTOKERNEL_CACHE:-/tmp/ak_cache}"
export PYTHONUNBUFFERED=1
TYPES_ALL="matmul softmax layernorm rmsnorm cross_entropy rotary_embedding reduce flash_attention fused_mlp"

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv | tee "$OUT/logs/gpu.txt"
t0=$(date +%s)
if [ ! -f build-gpu/CMakeCache.txt ]; then
  cmake -S . -B build-gpu -G Ninja -DPython3_EXECUTABLE="$(command -v python3)" > "$OUT/logs/cmake.log" 2>&1 || { tail -40 "$OUT/logs/cmake.log"; exit 1; }
fi
cmake --build build-gpu -j16 ${BUILD_TARGET:+--target $BUILD_TARGET} > "$OUT/logs/build.log" 2>&1 || { grep -E "error" -A5 "$OUT/logs/build.log" | head -60; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
build-gpu/autokernel hw --measure | tee "$OUT/logs/hw.txt"

steps="${1:-tests}"; shift || true
for step in ${steps//,/ }; do
case "$step" in
  tests)
    (cd build-gpu && ./ak_tests --gtest_filter="${GTEST_FILTER:-AllTypes/GpuStarter.*}" 2>&1) | tee "$OUT/logs/gpu_tests.log" \
      | grep -E "^\[ +(OK|FAILED|SKIPPED|PASSED) |Failure|at stage" ;;
  bench)
    mkdir -p "$OUT/bench"
    for t in ${*:-$TYPES_ALL}; do
      for f in ${FILES:-cuda.cu triton.py}; do
        name="${t}_${f%%.*}"
        build-gpu/autokernel bench --kernel "kernels/$t/$f" --dtype "${DTYPE:-bf16}" ${QUICK:+--quick} --json ${TIMING_SHAPES:+--timing-shapes $TIMING_SHAPES} \
          > "$OUT/bench/$name.json" 2> "$OUT/bench/$name.log"
        python3 - "$OUT/bench/$name.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"{sys.argv[1]}: no JSON ({e})"); sys.exit()
p = r["timings"][0] if r["timings"] else {}
print(f'{r["kernel_type"]:<17} {r["backend"]:<6} {r["outcome"]:<10} stage={r["failed_stage"]} '
      f'{p.get("shape","-"):<12} kernel={p.get("kernel_us",0):9.1f}us torch={p.get("reference_us",0):9.1f}us '
      f'speedup={p.get("speedup_vs_reference",0):6.3f} {p.get("gb_s",0):7.0f}GB/s {p.get("tflops",0):7.1f}TF '
      f'{p.get("pct_of_ceiling",0):5.1f}% {r["message"][:160]}')
PY
      done
    done ;;
  crosscheck)
    OUT="$OUT" python3 bench/torch_crosscheck_all.py 2>&1 | tee "$OUT/logs/crosscheck.txt" ;;
esac
done
tar czf "$OUT/results.tgz" -C "$OUT" logs $( [ -d "$OUT/bench" ] && echo bench ) 2>/dev/null
