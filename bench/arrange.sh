#!/usr/bin/env bash
# Plate packing: how many copies of a model fit on one 250 × 210 mm plate with 6 mm spacing,
# amsp's packer beside PrusaSlicer's arrange (`--duplicate N`, the largest N it accepts, found by
# bisection), on the same models in one run. Prints one row per model; where PrusaSlicer's
# command line refuses every N, its error is printed instead of a count.
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/anchors.sh install >/dev/null
cargo build -q --release -p amsp-mesh --example arrange
ours=${CARGO_TARGET_DIR:-target}/release/examples/arrange
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
models=(fixtures/models/20mm-xyz-cube.stl fixtures/models/prusaslicer/extruder_idler.obj
        fixtures/models/prusaslicer/frog_legs.obj fixtures/models/prusaslicer/seam_test_object.3mf)
prusa_fits() { # FILE N -> exit 0 when N copies fit on one plate
  prusa-slicer --export-3mf -o "$tmp/out.3mf" --duplicate "$2" --duplicate-distance 6 \
    --bed-shape 0x0,250x0,250x210,0x210 "$1" >"$tmp/log" 2>&1
}
printf '%-28s %6s %12s %9s  %s\n' model amsp utilisation pack_ms prusa-slicer
for m in "${models[@]}"; do
  lo=0; hi=1
  while prusa_fits "$m" "$hi"; do lo=$hi; hi=$((hi * 2)); [ $hi -gt 512 ] && break; done
  while [ "$lo" -gt 0 ] && [ $((hi - lo)) -gt 1 ]; do
    mid=$(((lo + hi) / 2)); if prusa_fits "$m" $mid; then lo=$mid; else hi=$mid; fi
  done
  if [ "$lo" -gt 0 ]; then prusa=$lo; else prusa="fails: $(grep -v trace "$tmp/log" | grep -m1 -iE 'error|what' | sed 's/^ *//')"; fi
  row=$("$ours" 250 210 6 "$m")
  n=$(sed -n 's/.*copies_on_plate=\([0-9]*\).*/\1/p' <<<"$row")
  u=$(sed -n 's/.*utilisation=\([0-9.]*\).*/\1/p' <<<"$row")
  ms=$(sed -n 's/.*pack_ms=\([0-9.]*\).*/\1/p' <<<"$row")
  printf '%-28s %6s %12s %9s  %s\n' "$(basename "$m")" "$n" "$u" "$ms" "$prusa"
done
