#!/usr/bin/env bash
# Repair benchmark: amsp against admesh 0.98 on the same large broken models, in one run.
#
#   bench/repair.sh [RUNS]      RUNS timed runs of each tool per model (default 3); prints a
#                               table of median wall time, the amsp/admesh ratio, peak RSS,
#                               and whether each tool's output is watertight with the right
#                               volume (judged by `amsp model check` against the volume of the
#                               intact surface the generator knows).
#
# Models are generated reproducibly by bench/repair_models.py (fixed seeds) into
# target/bench-repair/. Needs python3 and GNU time; installs admesh through
# bench/anchors.sh when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
anchors=bench/anchors.sh
command -v admesh >/dev/null || bash "$anchors" install
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

out=target/bench-repair
mkdir -p "$out"
if [ ! -f "$out/expected.tsv" ] || [ bench/repair_models.py -nt "$out/expected.tsv" ]; then
  echo "generating models (about 30 s)..." >&2
  python3 bench/repair_models.py "$out"
fi
root=$PWD
. bench/common.sh
amsp=$(release_amsp)

# Runs a command under GNU time; prints "wall_seconds peak_rss_kib cpu_seconds".
measure() {
  local log
  log=$(mktemp)
  /usr/bin/time -q -f '%e %M %U %S' -o "$log" "$@" >/dev/null 2>&1 || true
  awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$log"
  rm -f "$log"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# "watertight volume_error%" of a repaired file, judged by amsp's own check.
judge() {
  local file=$1 expected=$2
  "$amsp" model check "$file" --json 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
exp = float(sys.argv[1])
print("yes" if r["watertight"] else "no", "%.3f" % (100 * (r["volume_mm3"] - exp) / exp), r["boundary_edges"], r["non_manifold_edges"], r["inverted_shells"])
' "$expected" || echo "unreadable - - - -"
}

printf '%-16s %8s | %7s %8s %6s | %8s %8s %6s | %8s %10s | %-36s | %-36s\n' model facets "amsp s" "admesh s" ratio "amsp cpu" "adm cpu" ratio "amsp MiB" "admesh MiB" "amsp output" "admesh output"
printf '%s\n' "$(printf '%.0s-' {1..150})"
while IFS=$'\t' read -r name facets volume; do
  in="$out/$name.stl"
  a_times=() m_times=() a_cpu=() m_cpu=() a_rss=0 m_rss=0
  for _ in $(seq "$runs"); do
    read -r t r c < <(measure "$amsp" model repair "$in" -o "$out/$name.amsp.stl")
    a_times+=("$t"); a_cpu+=("$c"); [ "$r" -gt "$a_rss" ] && a_rss=$r
    read -r t r c < <(measure admesh --exact --nearby --remove-unconnected --fill-holes \
      --normal-directions --normal-values --write-binary-stl="$out/$name.admesh.stl" "$in")
    m_times+=("$t"); m_cpu+=("$c"); [ "$r" -gt "$m_rss" ] && m_rss=$r
  done
  a=$(printf '%s\n' "${a_times[@]}" | median)
  m=$(printf '%s\n' "${m_times[@]}" | median)
  ratio=$(awk -v a="$a" -v m="$m" 'BEGIN { printf "%.2f", a / m }')
  ac=$(printf '%s\n' "${a_cpu[@]}" | median)
  mc=$(printf '%s\n' "${m_cpu[@]}" | median)
  cratio=$(awk -v a="$ac" -v m="$mc" 'BEGIN { printf "%.2f", a / m }')
  read -r aw av ab an ai < <(judge "$out/$name.amsp.stl" "$volume")
  read -r mw mv mb mn mi < <(judge "$out/$name.admesh.stl" "$volume")
  printf '%-16s %8s | %7s %8s %6s | %8s %8s %6s | %8.1f %10.1f | %-36s | %-36s\n' "$name" "$facets" "$a" "$m" "$ratio" "$ac" "$mc" "$cratio" \
    "$(awk -v k="$a_rss" 'BEGIN{print k/1024}')" "$(awk -v k="$m_rss" 'BEGIN{print k/1024}')" \
    "wt=$aw dV=$av% open=$ab nm=$an inv=$ai" "wt=$mw dV=$mv% open=$mb nm=$mn inv=$mi"
done < "$out/expected.tsv"
echo "medians of $runs interleaved runs each; ratio = amsp / admesh; cpu = user + system seconds; dV = volume error against the intact surface." >&2
