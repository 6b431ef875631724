#!/usr/bin/env bash
# Acceptance by a real G-code consumer: slices fixtures with amsp, uploads each G-code to a real
# OctoPrint (its virtual printer, started by scripts/octoprint/start.sh) and prints OctoPrint's own
# analysis (height, printed area, filament length) beside amsp's figures.
#
#   bench/slice-octoprint.sh [MODEL...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
hosts=$root/scripts
. "$root/bench/common.sh"
amsp=$(release_amsp)
work=$(mktemp -d)
"$hosts/octoprint/start.sh" 0 >"$work/env"
# shellcheck disable=SC1090
source <(grep '=' "$work/env")
trap '"$hosts/octoprint/stop.sh" "$BASEDIR" --rm >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
models=("$@")
[ ${#models[@]} -gt 0 ] || models=("$root/fixtures/models/prusaslicer/20mm_cube.obj" "$root/fixtures/models/prusaslicer/extruder_idler.obj" "$root/fixtures/models/generated/two_bodies.stl")
printf '| model | amsp height mm | OctoPrint height mm | amsp filament mm | OctoPrint filament mm | OctoPrint printed area (X, Y) |\n|---|---:|---:|---:|---:|---|\n'
for m in "${models[@]}"; do
  name=$(basename "$m").gcode
  "$amsp" slice "$m" -o "$work/$name" --printer generic-250x210 --json >"$work/amsp.json"
  curl -sf -H "X-Api-Key: $API_KEY" -F "file=@$work/$name" -F select=false "$URL/api/files/local" >/dev/null
  analysis=""
  for _ in $(seq 1 60); do
    analysis=$(curl -sf -H "X-Api-Key: $API_KEY" "$URL/api/files/local/$name" || true)
    grep -q '"gcodeAnalysis"' <<<"$analysis" && break
    sleep 2
  done
  printf '%s' "$analysis" >"$work/octoprint.json"
  python3 - "$work/amsp.json" "$(basename "$m")" "$work/octoprint.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
o = json.load(open(sys.argv[3]))["gcodeAnalysis"]
area = o["printingArea"]
top = a["bbox"][1][2]
print(f"| {sys.argv[2]} | {top:.2f} | {o['dimensions']['height']:.2f} | {a['filament_mm']:.1f} | "
      f"{o['filament']['tool0']['length']:.1f} | {area['minX']:.1f}–{area['maxX']:.1f}, {area['minY']:.1f}–{area['maxY']:.1f} |")
PY
done
