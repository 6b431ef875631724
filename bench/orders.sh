#!/usr/bin/env bash
# Orders handled end to end by a 4-node federation of real amspd processes on 127.0.0.1
# (user, designer, two centres with two simulated printers each at 2000x), against the
# baseline: the same workload on a 3-node federation with one centre.
# Extra arguments go to both runs (e.g. --orders 100 --batch-ms 500).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --locked -p amsp-tests --bins
bin="${CARGO_TARGET_DIR:-target}/debug/bench-orders"
"$bin" --centres 2 "$@"
"$bin" --centres 1 "$@"
