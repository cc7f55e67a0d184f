# Sourced by the device-call scripts: $OUT (the device tool's, else /tmp/ak_out) made ready, and, since the tool
# brings back at most 8 files of it (README of the device library), more than 8 packed at the script's exit into one
# $OUT/out.tgz (unpack it where it lands: tar xzf out.tgz). What the script printed comes back either way.
OUT="${OUT:-/tmp/ak_out}"
mkdir -p "$OUT"
pack_out() {
  local n
  n=$(find "$OUT" -type f | wc -l)
  if [ "$n" -gt 8 ]; then
    tar czf /tmp/ak_out_pack.tgz -C "$OUT" . && find "$OUT" -mindepth 1 -delete && mv /tmp/ak_out_pack.tgz "$OUT/out.tgz"
    echo "packed the ${n} files under \$OUT into out.tgz"
  fi
}
trap pack_out EXIT
