#!/usr/bin/env bash
# Hole-punch benchmark on the NAT lab (tests/src/netlab.rs): per NAT cell and transport,
# HOLEPUNCH_TRIES (default 20) fresh nodes reach a node behind another router through a relay;
# prints the share that got a direct connection and the time from the relayed connection to
# the direct one (p50/p99) as a Markdown table. Needs root and nftables
# (scripts/setup/netlab.sh); prints "skipped: <reason>" otherwise.
#
#   bench/holepunch.sh            20 tries per cell
#   HOLEPUNCH_TRIES=50 bench/holepunch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup/netlab.sh
exec cargo test -p amsp-tests --test nat holepunch_benchmark -- --ignored --nocapture --test-threads 1
