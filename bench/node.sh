#!/usr/bin/env bash
# Node benchmarks, each beside its anchor in the same run:
#   group-commit appends/s against one redb commit (fsync) per event, same disk;
#   gossip spread (p50/p99 time for one announcement to reach every node) at 20 and 100 nodes;
#   a 100 MB model fetch between two nodes on loopback against a plain libp2p stream (5 rounds);
#   model add against age alone on the same bytes (medians of 7 rounds).
# Dependencies are optimised in the dev profile (see Cargo.toml), so a dev build is the
# default; PROFILE=release builds the node's own code optimised too (the figures in
# docs/benchmarks.md for transfer and model add are release).
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${PROFILE:-dev}"
if [ "$profile" = release ]; then
    cargo build -q --release -p amsp-tests --bin bench-node
    bin="${CARGO_TARGET_DIR:-target}/release/bench-node"
else
    cargo build -q -p amsp-tests --bin bench-node
    bin="${CARGO_TARGET_DIR:-target}/debug/bench-node"
fi
"$bin" commit 20000
"$bin" gossip 20 30
"$bin" gossip 100 30
"$bin" fetch 100 5
"$bin" add 100 7
