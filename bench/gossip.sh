#!/usr/bin/env bash
# Gossip spread across in-process amsp nodes against bare rust-libp2p gossipsub in the same
# layout, same run (each side in its own child process): 100 and 300 nodes, 50 announcements
# at 5 per second. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p amsp-tests --bin bench-gossip
bin="${CARGO_TARGET_DIR:-target}/release/bench-gossip"
"$bin" 100 50 5
"$bin" 300 50 5
