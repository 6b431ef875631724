#!/usr/bin/env bash
# A capacity ad and orders spreading through 50 real `amspd` processes on 127.0.0.1, each
# bootstrapped from one random earlier node. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p amsp-tests --bin bench-federation --bin test-amspd --bin test-amsp
"${CARGO_TARGET_DIR:-target}/release/bench-federation" "${1:-50}" "${2:-10}"
