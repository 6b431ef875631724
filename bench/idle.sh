#!/usr/bin/env bash
# Idle footprint of a headless amspd with two simulated printers (from its amspd.toml), beside
# OctoPrint 1.11 with its virtual printer idling on the same machine.
#
# Each process is started, left to settle for SETTLE seconds, then sampled for SAMPLE seconds:
# resident memory (VmRSS from /proc/PID/status, every 5 s; median and max) and CPU time
# (utime + stime from /proc/PID/stat over the whole window, as % of one core).
#
# usage: bench/idle.sh [SETTLE, default 30] [SAMPLE, default 60]
#        PROFILE=release bench/idle.sh   (an optimised amspd; default: dev, dependencies optimised)
#        ANCHOR=0 bench/idle.sh          (amspd alone, without OctoPrint)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/headless-node.sh
settle="${1:-30}"
sample="${2:-60}"
profile="${PROFILE:-dev}"

if [ "$profile" = "release" ]; then
  cargo build -q --locked --release -p amsp-node --bin amspd
  amspd="${CARGO_TARGET_DIR:-target}/release/amspd"
else
  cargo build -q --locked -p amsp-node --bin amspd
  amspd="${CARGO_TARGET_DIR:-target}/debug/amspd"
fi

work="$(mktemp -d -t amsp-bench-idle-XXXXXX)"
amspd_pid=""
octo_base=""
cleanup() {
  if [ -n "$amspd_pid" ]; then kill "$amspd_pid" 2>/dev/null || true; fi
  if [ -n "$octo_base" ]; then scripts/octoprint/stop.sh "$octo_base" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# measure PID NAME: prints one line `NAME rss_mb=… rss_max_mb=… cpu_pct=… threads=…`.
measure() {
  local pid="$1" name="$2"
  sleep "$settle"
  python3 - "$pid" "$name" "$sample" <<'PY'
import os, statistics, sys, time
pid, name, window = sys.argv[1], sys.argv[2], float(sys.argv[3])
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick   # utime, stime
def status(key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
rss = []
c0, t0 = cpu(), time.monotonic()
while time.monotonic() - t0 < window:
    rss.append(status("VmRSS") / 1024)
    time.sleep(5)
rss.append(status("VmRSS") / 1024)
c1, t1 = cpu(), time.monotonic()
print(f"{name} rss_mb={statistics.median(rss):.1f} rss_max_mb={max(rss):.1f} "
      f"cpu_pct={(c1 - c0) / (t1 - t0) * 100:.2f} threads={status('Threads')}")
PY
}

data="$work/amspd"
start_headless_amspd "$amspd" "$data" "$work/amspd.log"
amsp_line="$(measure "$amspd_pid" "amspd($profile)")"
echo "$amsp_line"
rss_detail="$(grep -E '^(RssAnon|RssFile)' "/proc/$amspd_pid/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
echo "amspd($profile) $rss_detail"
kill "$amspd_pid"
wait "$amspd_pid" 2>/dev/null || true
amspd_pid=""

if [ "${ANCHOR:-1}" = "0" ]; then exit 0; fi

octo_env="$(scripts/octoprint/start.sh 0)"
octo_base="$(sed -n 's/^BASEDIR=//p' <<<"$octo_env")"
octo_pid="$(sed -n 's/^PID=//p' <<<"$octo_env")"
octo_line="$(measure "$octo_pid" "octoprint")"
echo "$octo_line"

python3 - "$amsp_line" "$octo_line" <<'PY'
import sys
def parse(line):
    name, *kv = line.split()
    return name, {k: float(v) for k, v in (x.split("=") for x in kv)}
(an, a), (on, o) = parse(sys.argv[1]), parse(sys.argv[2])
print()
print("| process | RSS median MB | RSS max MB | CPU % of one core | threads |")
print("|---|---:|---:|---:|---:|")
for n, r in ((an, a), (on, o)):
    print(f"| {n} | {r['rss_mb']:.1f} | {r['rss_max_mb']:.1f} | {r['cpu_pct']:.2f} | {r['threads']:.0f} |")
print()
print(f"amspd / OctoPrint: RSS {a['rss_mb'] / o['rss_mb']:.2f}x, CPU "
      + (f"{a['cpu_pct'] / o['cpu_pct']:.2f}x" if o['cpu_pct'] > 0 else "n/a"))
PY
