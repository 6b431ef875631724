#!/usr/bin/env bash
# The console's end-to-end tests run the real binary in a terminal: tmux provides one.
set -euo pipefail
command -v tmux >/dev/null 2>&1 && exit 0
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq tmux >/dev/null
else
  echo "tmux is needed by console/tests/tui_terminal.rs; install it with your package manager" >&2
  exit 1
fi
