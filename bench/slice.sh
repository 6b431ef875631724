#!/usr/bin/env bash
# Slicing benchmark: amsp against PrusaSlicer on the same models in one run.
#
#   bench/slice.sh [RUNS]        (default 3 runs per tool and model; medians are reported)
#
# Both slicers use the standard settings of /work/shared/bench/anchors.sh (0.2 mm layers,
# 2 perimeters, 20 % grid infill, 0.4 mm nozzle, 250 × 210 bed); amsp uses its
# `generic-250x210` printer profile, which carries PrusaSlicer's default machine limits, so both
# estimate time for the same machine. Each run is timed with /usr/bin/time -v (wall time and
# peak RSS, model loading included). Prints a Markdown table with the ratios amsp / PrusaSlicer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
anchors=${ANCHORS:-/work/shared/bench/anchors.sh}
runs=${1:-3}
"$anchors" install
cargo build --release --locked -q -p amsp-console --manifest-path "$root/Cargo.toml"
amsp=$root/target/release/amsp
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 3DBenchy ships as a PrusaSlicer 3MF with its own print config; both slicers get the same
# plain STL export of it so PrusaSlicer does not pick up that config.
benchy=$work/3dbenchy.stl
prusa-slicer --export-stl -o "$benchy" "$root/fixtures/models/prusaslicer/seam_test_object.3mf" >/dev/null 2>&1

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
  : >"$work/amsp.tsv"; : >"$work/prusa.tsv"
  for _ in $(seq "$runs"); do
    time_run "$work/amsp.tsv" "$amsp" slice "$m" -o "$work/amsp.gcode" --printer generic-250x210 --material pla
    time_run "$work/prusa.tsv" "$anchors" slice "$m" "$work/prusa.gcode"
  done
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" \
    "$(cut -f1 "$work/amsp.tsv" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
    "$(cut -f2 "$work/amsp.tsv" | sort -g | tail -1)" \
    "$(cut -f1 "$work/prusa.tsv" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
    "$(cut -f2 "$work/prusa.tsv" | sort -g | tail -1)" >>"$results"
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
