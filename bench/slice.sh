#!/usr/bin/env bash
# Slicing benchmark: amsp against PrusaSlicer and CuraEngine on the same models in one run.
#
#   bench/slice.sh [RUNS]        (default 3 runs per tool and model; medians are reported)
#
# Both slicers use the standard settings of bench/anchors.sh (0.2 mm layers,
# 2 perimeters, 20 % grid infill, 0.4 mm nozzle, 250 × 210 bed); amsp uses its
# `generic-250x210` printer profile, which carries PrusaSlicer's default machine limits, so both
# estimate time for the same machine. Each run is timed with /usr/bin/time -v (wall time and
# peak RSS, model loading included). Prints a Markdown table with the ratios amsp / PrusaSlicer.
# CuraEngine 4.13 (bench/cura-setup.sh) runs from Cura's fdmprinter definition with the same
# layer height, walls, 20 % grid (line distance passed explicitly: CuraEngine does not evaluate
# the definition's formulas) and its own default speeds; its figures are for wall time and
# memory, its filament is the last absolute E value and its time the last ;TIME_ELAPSED.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
anchors=${ANCHORS:-$root/bench/anchors.sh}
runs=${1:-3}
"$anchors" install
cura_defs=$("$root/bench/cura-setup.sh")
export CURA_ENGINE_SEARCH_PATH=$cura_defs/definitions:$cura_defs/extruders
# /usr/bin/time runs programs, not shell functions: the CuraEngine call is a small script.
cura_slice=$(mktemp)
cat >"$cura_slice" <<CURA
#!/usr/bin/env bash
exec CuraEngine slice -j "$cura_defs/definitions/fdmprinter.def.json" \\
  -s machine_width=250 -s machine_depth=210 -s machine_height=210 -s machine_center_is_zero=false \\
  -s layer_height=0.2 -s layer_height_0=0.2 -s wall_line_count=2 -s top_layers=3 -s bottom_layers=3 \\
  -s infill_sparse_density=20 -s infill_pattern=grid -s infill_line_distance=4.0 \\
  -s machine_nozzle_size=0.4 -s line_width=0.4 -s material_diameter=1.75 \\
  -s adhesion_type=skirt -s skirt_line_count=1 -s center_object=true \\
  -e0 -j "$cura_defs/definitions/fdmextruder.def.json" -s machine_nozzle_size=0.4 -s material_diameter=1.75 \\
  -l "\$1" -o "\$2"
CURA
chmod +x "$cura_slice"
. "$root/bench/common.sh"
amsp=$(release_amsp)
work=$(mktemp -d)
trap 'rm -rf "$work" "$cura_slice"' EXIT

benchy=$work/3dbenchy.stl
export_benchy "$benchy"

models=(
  "$root/fixtures/models/prusaslicer/20mm_cube.obj"
  "$root/fixtures/models/generated/two_bodies.stl"
  "$root/fixtures/models/prusaslicer/extruder_idler.obj"
  "$benchy"
)

# time_run OUT.tsv CMD...: appends "wall_s<TAB>rss_kb" of one run.
time_run() {
  local out=$1; shift
  /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$work/time.txt" | awk -F': ' '{print $2}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep 'Maximum resident set size' "$work/time.txt" | awk -F': ' '{print $2}')
  printf '%s\t%s\n' "$wall" "$rss" >>"$out"
}

summary() { # FILE.gcode -> "filament_mm<TAB>time_text<TAB>layers"
  local mm t layers
  mm=$(grep -m1 '^; filament used \[mm\]' "$1" | sed 's/.*= //')
  t=$(grep -m1 '^; estimated printing time (normal mode)' "$1" | sed 's/.*= //')
  layers=$(grep -c '^;LAYER_CHANGE' "$1")
  printf '%s\t%s\t%s\n' "$mm" "$t" "$layers"
}

results=$work/results.tsv
: >"$results"
for m in "${models[@]}"; do
  name=$(basename "$m")
  : >"$work/amsp.tsv"; : >"$work/prusa.tsv"; : >"$work/cura.tsv"
  # CuraEngine reads only STL: give it PrusaSlicer's STL export of other formats.
  cura_model=$m
  case $m in
    *.stl | *.STL) ;;
    *) cura_model=$work/$name.stl; prusa-slicer --export-stl -o "$cura_model" "$m" >/dev/null 2>&1 ;;
  esac
  for _ in $(seq "$runs"); do
    time_run "$work/cura.tsv" "$cura_slice" "$cura_model" "$work/cura.gcode"
    time_run "$work/amsp.tsv" "$amsp" slice "$m" -o "$work/amsp.gcode" --printer generic-250x210 --material pla --supports none --brim off
    time_run "$work/prusa.tsv" "$anchors" slice "$m" "$work/prusa.gcode"
  done
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" \
    "$(cut -f1 "$work/amsp.tsv" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
    "$(cut -f2 "$work/amsp.tsv" | sort -g | tail -1)" \
    "$(cut -f1 "$work/prusa.tsv" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
    "$(cut -f2 "$work/prusa.tsv" | sort -g | tail -1)" >>"$results"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" \
    "$(cut -f1 "$work/cura.tsv" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
    "$(cut -f2 "$work/cura.tsv" | sort -g | tail -1)" \
    "$(grep -c '^;LAYER:' "$work/cura.gcode")" \
    "$(grep -o ' E[0-9.]*' "$work/cura.gcode" | tr -d ' E' | sort -g | tail -1) $(grep '^;TIME_ELAPSED:' "$work/cura.gcode" | tail -1 | cut -d: -f2)" >>"$work/cura_results.tsv"
  paste <(summary "$work/amsp.gcode") <(summary "$work/prusa.gcode") >>"$work/figures.tsv"
done

echo "Slicing benchmark, $(date -u +%Y-%m-%d), $(nproc) cores, $runs runs each (median wall, max RSS)"
echo "amsp $(git -C "$root" rev-parse --short HEAD); $(prusa-slicer --help 2>/dev/null | grep -m1 -o 'PrusaSlicer-[^ ]*')"
echo
paste "$results" "$work/figures.tsv" | python3 -c '
import sys
def secs(t):
    s = 0
    for part in t.split():
        v, u = int(part[:-1]), part[-1]
        s += v * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u]
    return s
print("| model | amsp wall s | PrusaSlicer wall s | wall ratio | amsp RSS MB | PrusaSlicer RSS MB | layers amsp / PS | filament mm amsp / PS (ratio) | est. time amsp / PS (ratio) |")
print("|---|---|---|---|---|---|---|---|---|")
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    name, aw, arss, pw, prss, amm, at, al, pmm, pt, pl = f
    aw, pw, amm, pmm = float(aw), float(pw), float(amm), float(pmm)
    print(f"| {name} | {aw:.2f} | {pw:.2f} | {aw/pw:.2f} | {int(arss)/1024:.0f} | {int(prss)/1024:.0f} | {al} / {pl} | {amm:.0f} / {pmm:.0f} ({amm/pmm:.2f}) | {at} / {pt} ({secs(at)/secs(pt):.2f}) |")
'

echo
echo "CuraEngine 4.13 (same models and layer/wall/infill settings, its own speeds):"
echo
echo "| model | CuraEngine wall s | amsp / CuraEngine wall | CuraEngine RSS MB | layers | filament mm | est. time s |"
echo "|---|---:|---:|---:|---:|---:|---:|"
paste "$results" "$work/cura_results.tsv" | while IFS=$'\t' read -r name aw arss pw prss _ cw crss cl fe; do
  read -r fil t <<<"$fe"
  awk -v n="$name" -v aw="$aw" -v cw="$cw" -v crss="$crss" -v cl="$cl" -v fil="$fil" -v t="$t" \
    'BEGIN { printf "| %s | %.2f | %.2f | %.0f | %s | %.0f | %.0f |\n", n, cw, aw / cw, crss / 1024, cl, fil, t }'
done
