# Sourced by the bench/*_call.sh scripts, from the repository root: build the CLI for one device call (a no-op
# when the warm machine has it), its log in $OUT/build.txt, the GPU's and hw's facts beside it; stop the call with
# the build's errors if it fails. BUILD_TARGET (default: the CLI and the exported ops' library) picks what to build.
source bench/pack_out.sh
export BUILD_TARGET="${BUILD_TARGET:-autokernel autokernel_ops}"
bash bench/gpu_session.sh build > "$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cp "$OUT/logs/hw.txt" "$OUT/logs/gpu.txt" "$OUT/" 2>/dev/null
rm -rf "$OUT/logs" "$OUT/results.tgz"
echo "built at ${SECONDS}s"
