#!/usr/bin/env bash
# Gossip spread across in-process amsp nodes against bare rust-libp2p gossipsub in the same
# layout, same run (each side in its own child process): 100 and 300 nodes, 60 announcements
# at 5 per second after the federation settles (60 s; 100 s for 300 nodes, whose first
# lookups take longer to trim on two cores). Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p amsp-tests --bin bench-gossip
bin="${CARGO_TARGET_DIR:-target}/release/bench-gossip"
"$bin" 100 60 5
SETTLE_S=100 "$bin" 300 60 5
