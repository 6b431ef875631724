#!/usr/bin/env bash
# Records PrusaSlicer's figures for the slicer's fixture models, with the standard settings of
# bench/anchors.sh (0.2 mm layers, 2 perimeters, 20% grid, 0.4 mm nozzle), into
# fixtures/slice/prusaslicer-reference.toml, which `mesh/tests/slice_fixtures.rs` compares
# amsp's filament against (± 15 %). Run once after changing the fixture list.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
anchors=${ANCHORS:-$root/bench/anchors.sh}
"$anchors" install
out=$root/fixtures/slice/prusaslicer-reference.toml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(prusa-slicer --help 2>/dev/null | grep -m1 -o 'PrusaSlicer-[^ ]*' || true)
{
  echo "# PrusaSlicer's own figures for the slicer fixtures, read from its G-code footer."
  echo "# Produced by bench/slice-reference.sh on $(date -u +%Y-%m-%d) with $version:"
  echo "#   anchors.sh slice MODEL OUT.gcode, i.e."
  echo "#   prusa-slicer --export-gcode --layer-height 0.2 --first-layer-height 0.2 --perimeters 2"
  echo "#     --fill-density 20% --fill-pattern grid --nozzle-diameter 0.4 --filament-diameter 1.75"
  echo "#     --bed-shape 0x0,250x0,250x210,0x210 --center 125,105 --gcode-flavor marlin2 -o OUT MODEL"
  echo
} >"$out"
for model in prusaslicer/20mm_cube.obj generated/cylinder_d20_h20.stl prusaslicer/extruder_idler.obj generated/two_bodies.stl; do
  g=$tmp/$(basename "$model").gcode
  "$anchors" slice "$root/fixtures/models/$model" "$g" >/dev/null 2>&1
  mm=$(grep -m1 '^; filament used \[mm\]' "$g" | sed 's/.*= //')
  cm3=$(grep -m1 '^; filament used \[cm3\]' "$g" | sed 's/.*= //')
  t=$(grep -m1 '^; estimated printing time (normal mode)' "$g" | sed 's/.*= //')
  layers=$(grep -c '^;LAYER_CHANGE' "$g")
  {
    echo "[[model]]"
    echo "file = \"$model\""
    echo "filament_mm = $mm"
    echo "filament_cm3 = $cm3"
    echo "estimated_time = \"$t\""
    echo "layers = $layers"
    echo
  } >>"$out"
done
cat "$out"
