#!/usr/bin/env bash
# Configures and builds flowmatch (Release) into build/: the library, the four
# programs and the test suite. Extra arguments go to CMake's configure step,
# e.g. -DCMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)').
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${FM_BUILD_JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$jobs"
echo "build: programs in $(pwd)/build: fm-train fm-sample fm-eval fm-data"
