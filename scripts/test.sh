#!/usr/bin/env bash
# Runs the whole amsp test suite on a fresh machine, installing what the tests need first.
#
#   scripts/test.sh            everything
#   scripts/test.sh -p CRATE   extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests that drive real external tools install them through these scripts (idempotent, cached).
for setup in scripts/setup/*.sh; do
  [ -e "$setup" ] || continue
  bash "$setup"
done

exec cargo test --workspace --locked "$@"
