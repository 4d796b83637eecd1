#!/usr/bin/env bash
# Runs the GoogleTest suite through CTest (build first with scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# One intra-op thread per test process: CTest already runs two tests at a time.
export OMP_NUM_THREADS=1
ctest --test-dir build --output-on-failure -j "${FM_TEST_JOBS:-$(nproc)}" --timeout 300
