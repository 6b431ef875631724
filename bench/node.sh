#!/usr/bin/env bash
# Node benchmarks, each beside its anchor in the same run:
#   group-commit appends/s against one redb commit (fsync) per event, same disk;
#   gossip spread (p50/p99 time for one announcement to reach every node) at 20 and 100 nodes;
#   a 100 MB model fetch between two nodes on loopback, and model add against age alone.
# Dependencies are optimised in the dev profile (see Cargo.toml), so a dev build is used.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p amsp-tests --bin bench-node
bin="${CARGO_TARGET_DIR:-target}/debug/bench-node"
"$bin" commit 20000
"$bin" gossip 20 30
"$bin" gossip 100 30
"$bin" fetch 100
