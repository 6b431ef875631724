#!/usr/bin/env bash
# Peak resident memory (VmHWM) of an `amspd` process copying a model package from one
# provider on loopback — fetch, verify, store, not opened — for models of growing size; the
# fetch is bounded by its streams and store queue, so the peak must not grow with the model.
# Release build.   FETCH_MEMORY_MB (16,64,250) model sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --release -p amsp-tests --test transfer fetch_memory_benchmark -- --ignored --nocapture --test-threads 1
