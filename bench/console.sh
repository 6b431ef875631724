#!/usr/bin/env bash
# Console benchmarks: frame time per view on a 10,000-job node, and console start to first
# frame (a recording, an embedded node on a fresh data directory, and `amsp demo`), the release
# binary in a private tmux terminal. Needs tmux (scripts/setup/tmux.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || scripts/setup/tmux.sh
case "${1:-all}" in
  frame) cargo bench --locked -p amsp-console --bench frame ;;
  start) cargo bench --locked -p amsp-console --bench first_frame ;;
  all)
    cargo bench --locked -p amsp-console --bench frame
    cargo bench --locked -p amsp-console --bench first_frame
    ;;
  *) echo "usage: $0 [frame|start|all]" >&2; exit 2 ;;
esac
