#!/usr/bin/env bash
# A model fetch over links shaped with tbf on the lab of network namespaces: one provider with
# the fetcher's download at 100 Mbit/s (against the link and plain TCP over it), and one
# against two providers whose uploads are 50 Mbit/s each (the ratio). Release build; needs
# root (the lab).
#   SHAPED_FETCH_MB (48) model size, SHAPED_FETCH_RUNS (3) runs per case.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup/netlab.sh
exec cargo test --release -p amsp-tests --test shaped_links shaped_fetch_benchmark -- --ignored --nocapture --test-threads 1
