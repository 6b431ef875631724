#!/usr/bin/env bash
# A model fetch between two nodes behind NAT routers on the lab of network namespaces: direct
# after a hole punch (cone / cone) against relayed through a relay with its default limits
# (symmetric / symmetric), MB/s medians and the ratio. Release build; needs root (the lab).
#   RELAY_FETCH_MB (32) model size, RELAY_FETCH_RUNS (3) runs per path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup/netlab.sh
exec cargo test --release -p amsp-tests --test nat relay_fetch_benchmark -- --ignored --nocapture --test-threads 1
