# Sourced by the device-call scripts: the device tool brings back at most 8 files of $OUT (README of the device
# library), so at the script's exit more than 8 are packed into one $OUT/out.tgz (unpack it where it lands:
# tar xzf out.tgz). What the script printed comes back either way.
pack_out() {
  local n
  n=$(find "$OUT" -type f | wc -l)
  if [ "$n" -gt 8 ]; then
    tar czf /tmp/ak_out_pack.tgz -C "$OUT" . && find "$OUT" -mindepth 1 -delete && mv /tmp/ak_out_pack.tgz "$OUT/out.tgz"
    echo "packed the ${n} files under \$OUT into out.tgz"
  fi
}
trap pack_out EXIT
