# Sourced by the bench/*_call.sh scripts, from the repository root: build the CLI for one device call (a no-op
# when the warm machine has it), its log in $OUT/build.txt, the GPU's and hw's facts beside it; stop the call with
# the build's errors if it fails. BUILD_TARGET (default: the CLI and the exported ops' library) picks what to build.
#
# A fresh machine spends ~150 s of the session's device time on this build, and the machine goes back after 30 s
# idle, so most calls start fresh. So the default build is handed back as $OUT/cli.tgz (the two binaries, debug
# info stripped) with $OUT/cli_stamp (a hash of the sources it was built from, and of the path it was built at,
# which the binaries hold); put both in an ignored folder .cli/ of the checkout (echo /.cli/ >> .git/info/exclude)
# and name it in the next call's carry: a machine without a build unpacks it instead of building, when the stamp
# matches the sources there. A stamp that does not match (a source changed, another path) means a build as before.
source bench/pack_out.sh
export BUILD_TARGET="${BUILD_TARGET:-autokernel autokernel_ops}"
cli_stamp() {
  { pwd; find CMakeLists.txt cmake src kernels/include -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum; } |
    sha256sum | cut -c1-16
}
if [ "$BUILD_TARGET" = "autokernel autokernel_ops" ] && [ ! -f build-gpu/CMakeCache.txt ] && [ -f .cli/cli.tgz ] &&
  [ "$(cat .cli/cli_stamp 2>/dev/null)" = "$(cli_stamp)" ]; then
  mkdir -p build-gpu && tar xzf .cli/cli.tgz -C build-gpu &&
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$OUT/gpu.txt" &&
    build-gpu/autokernel hw --measure > "$OUT/hw.txt" 2>&1 || { echo "the carried CLI (.cli/) did not run"; exit 1; }
  echo "the CLI carried in .cli/ (stamp $(cat .cli/cli_stamp)), no build, at ${SECONDS}s"
else
  bash bench/gpu_session.sh build > "$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
  cp "$OUT/logs/hw.txt" "$OUT/logs/gpu.txt" "$OUT/" 2>/dev/null
  rm -rf "$OUT/logs" "$OUT/results.tgz"
  if [ "$BUILD_TARGET" = "autokernel autokernel_ops" ]; then
    d=$(mktemp -d)
    cp build-gpu/autokernel build-gpu/libautokernel_ops.so "$d/" && strip --strip-debug "$d"/* &&
      tar czf "$OUT/cli.tgz" -C "$d" autokernel libautokernel_ops.so && cli_stamp > "$OUT/cli_stamp"
    rm -rf "$d"
  fi
  echo "built at ${SECONDS}s"
fi
