#!/usr/bin/env bash
# Control API throughput and latency at 32 concurrent keep-alive clients on loopback (CLIENTS=N
# to change; amspd serves 32 connections per address and closes the rest at once), beside
# OctoPrint's REST API under the same load in the same run.
#
#   amspd (headless, two simulated printers): GET /v1/status, /v1/jobs, /v1/printers, /metrics
#   OctoPrint 1.11 (virtual printer, scripts/octoprint/start.sh): GET /api/version, /api/printer
#
# usage: bench/api.sh [SECS per run, default 20] [RUNS, default 3]
# Each run alternates amspd and OctoPrint; the medians over the runs and their ratio are printed.
# Needs curl and python3; OctoPrint is installed into a cached virtualenv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/headless-node.sh
secs="${1:-20}"
runs="${2:-3}"
clients="${CLIENTS:-32}"
profile="${PROFILE:-dev}"   # PROFILE=release for an optimised amspd

if [ "$profile" = "release" ]; then
  cargo build -q --locked --release -p amsp-node --bin amspd
  amspd="${CARGO_TARGET_DIR:-target}/release/amspd"
else
  cargo build -q --locked -p amsp-node --bin amspd
  amspd="${CARGO_TARGET_DIR:-target}/debug/amspd"
fi
cargo build -q --locked -p amsp-tests --bin bench-api
load="${CARGO_TARGET_DIR:-target}/debug/bench-api"

work="$(mktemp -d -t amsp-bench-api-XXXXXX)"
amspd_pid=""
octo_base=""
cleanup() {
  if [ -n "$amspd_pid" ]; then kill "$amspd_pid" 2>/dev/null || true; fi
  if [ -n "$octo_base" ]; then scripts/octoprint/stop.sh "$octo_base" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

data="$work/amspd"
start_headless_amspd "$amspd" "$data" "$work/amspd.log"
for _ in $(seq 1 200); do [ -f "$data/api.json" ] && break; sleep 0.1; done
amsp_url="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$data/api.json")"
amsp_token="$(tr -d '\n' < "$data/api.token")"

# OctoPrint with its virtual printer, on a free port.
octo_env="$(scripts/octoprint/start.sh 0)"
octo_url="$(sed -n 's/^URL=//p' <<<"$octo_env")"
octo_key="$(sed -n 's/^API_KEY=//p' <<<"$octo_env")"
octo_base="$(sed -n 's/^BASEDIR=//p' <<<"$octo_env")"

amsp_results=()
octo_results=()
for r in $(seq 1 "$runs"); do
  echo "run $r/$runs"
  out="$("$load" "$amsp_url" --clients "$clients" --secs "$secs" --header "Authorization: Bearer $amsp_token" \
    /v1/status /v1/jobs /v1/printers /metrics)"
  echo "$out" | grep -v '^RESULT'
  amsp_results+=("$(grep '^RESULT' <<<"$out")")
  out="$("$load" "$octo_url" --clients "$clients" --secs "$secs" --header "X-Api-Key: $octo_key" \
    /api/version /api/printer)"
  echo "$out" | grep -v '^RESULT'
  octo_results+=("$(grep '^RESULT' <<<"$out")")
done

python3 - "$runs" "${amsp_results[@]}" "${octo_results[@]}" <<'PY'
import statistics, sys
runs = int(sys.argv[1])
lines = sys.argv[2:]
def parse(line):
    return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
amsp = [parse(l) for l in lines[:runs]]
octo = [parse(l) for l in lines[runs:]]
def med(rows, key):
    return statistics.median(r[key] for r in rows)
print()
print("| server | req/s | p50 ms | p99 ms | failed |")
print("|---|---:|---:|---:|---:|")
for name, rows in (("amspd", amsp), ("OctoPrint 1.11", octo)):
    print(f"| {name} | {med(rows,'rps'):.0f} | {med(rows,'p50_ms'):.1f} | {med(rows,'p99_ms'):.1f} | {sum(r['failed'] for r in rows):.0f} |")
print()
print(f"amspd / OctoPrint: {med(amsp,'rps')/med(octo,'rps'):.1f}x req/s, "
      f"p99 {med(amsp,'p99_ms')/med(octo,'p99_ms'):.2f}x")
PY
