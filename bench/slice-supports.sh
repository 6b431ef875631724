#!/usr/bin/env bash
# Slicing with supports: amsp (grid and tree supports) against PrusaSlicer with supports on, on
# models that need them, in one run.
#
#   bench/slice-supports.sh [RUNS]        (default 3 runs per tool and model; medians reported)
#
# Both slicers get the settings of bench/anchors.sh (0.2 mm layers, 2 perimeters, 20 % grid
# infill, 0.4 mm nozzle, 250 × 210 bed, no brim); amsp uses its `generic-250x210` profile (the
# machine limits PrusaSlicer assumes) with `--supports auto`. PrusaSlicer 2.5 gets
# `--support-material` with its overhang threshold set to 45° — the material angle amsp's
# profiles use — so both support the same overhangs; its other support settings are its
# defaults (0.2 mm contact gap, 3 interface layers, 2.5 mm spacing, grid pattern). PrusaSlicer
# 2.5 has no tree supports: the tree column is amsp's own figure beside the same anchor.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
anchors=${ANCHORS:-$root/bench/anchors.sh}
runs=${1:-3}
"$anchors" install
. "$root/bench/common.sh"
amsp=$(release_amsp)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

benchy=$work/3dbenchy.stl
export_benchy "$benchy"
models=(
  "$root/fixtures/models/generated/overhang_arm.stl"
  "$root/fixtures/models/generated/mid_air.stl"
  "$root/fixtures/models/prusaslicer/extruder_idler.obj"
  "$benchy"
)

# wall OUT CMD...: appends one run's wall seconds to OUT.
wall() {
  local out=$1; shift
  /usr/bin/time -f '%e' -o "$work/t" "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  cat "$work/t" >>"$out"
}
median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# figures FILE.gcode -> "filament_mm time_s layers support_mm": support_mm is the filament
# extruded under ;TYPE:Support material (and its interface), extrusion moves only.
figures() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
mm = float(re.search(r"^; filament used \[mm\] = ([0-9.]+)", text, re.M).group(1))
t = re.search(r"^; estimated printing time \(normal mode\) = (.*)$", text, re.M).group(1)
secs = sum(int(p[:-1]) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[p[-1]] for p in t.split())
layers = len(re.findall(r"^;LAYER_CHANGE", text, re.M))
# Extrusion per move, whether the file gives E relative (M83, amsp) or absolute (M82,
# PrusaSlicer's default) with G92 resets.
support, on, relative, e_abs = 0.0, False, False, 0.0
for line in text.splitlines():
    code = line.split(";")[0].strip()
    if line.startswith(";TYPE:"):
        on = line[6:].startswith("Support material")
    elif code.startswith("M83"):
        relative = True
    elif code.startswith("M82"):
        relative = False
    elif code.startswith("G92"):
        e = re.search(r"E(-?[0-9.]+)", code)
        if e:
            e_abs = float(e.group(1))
    elif code.startswith(("G1", "G0")):
        e = re.search(r"E(-?[0-9.]+)", code)
        if not e:
            continue
        v = float(e.group(1))
        delta = v if relative else v - e_abs
        if not relative:
            e_abs = v
        if on and delta > 0 and re.search(r"[XY]", code):
            support += delta
print(f"{mm:.0f} {secs} {layers} {support:.0f}")
PY
}

echo "Slicing with supports, $(date -u +%Y-%m-%d), $(nproc) cores, $runs runs each (median wall)"
echo "amsp $(git -C "$root" rev-parse --short HEAD); $(prusa-slicer --help 2>/dev/null | grep -m1 -o 'PrusaSlicer-[^ ]*')"
echo
echo "| model | slicer | wall s | wall / PS | layers | filament mm (/ PS) | support mm | est. time s (/ PS) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for m in "${models[@]}"; do
  name=$(basename "$m")
  : >"$work/grid.t"; : >"$work/tree.t"; : >"$work/ps.t"
  for _ in $(seq "$runs"); do
    wall "$work/grid.t" "$amsp" slice "$m" -o "$work/grid.gcode" --printer generic-250x210 \
      --material pla --supports auto --support-style grid --brim off
    wall "$work/tree.t" "$amsp" slice "$m" -o "$work/tree.gcode" --printer generic-250x210 \
      --material pla --supports auto --support-style tree --brim off
    wall "$work/ps.t" prusa-slicer --export-gcode --layer-height 0.2 --first-layer-height 0.2 \
      --perimeters 2 --fill-density 20% --fill-pattern grid --nozzle-diameter 0.4 \
      --filament-diameter 1.75 --bed-shape 0x0,250x0,250x210,0x210 --center 125,105 \
      --gcode-flavor marlin2 --support-material --support-material-threshold 45 \
      -o "$work/ps.gcode" "$m"
  done
  read -r pmm pt pl psup <<<"$(figures "$work/ps.gcode")"
  pw=$(median "$work/ps.t")
  for s in grid tree; do
    read -r mm t l sup <<<"$(figures "$work/$s.gcode")"
    w=$(median "$work/$s.t")
    awk -v n="$name" -v s="amsp $s" -v w="$w" -v pw="$pw" -v l="$l" -v mm="$mm" -v pmm="$pmm" \
      -v sup="$sup" -v t="$t" -v pt="$pt" 'BEGIN { printf "| %s | %s | %.2f | %.2f | %s | %.0f (%.2f) | %.0f | %.0f (%.2f) |\n", n, s, w, w / pw, l, mm, mm / pmm, sup, t, t / pt }'
  done
  printf '| %s | PrusaSlicer | %.2f | 1 | %s | %s | %s | %s |\n' "$name" "$pw" "$pl" "$pmm" "$psup" "$pt"
done
