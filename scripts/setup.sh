#!/usr/bin/env bash
# Installs everything flowmatch needs on Debian 12 (run as root; idempotent).
# Build: compiler, CMake, Ninja, LibTorch, CLI11, spdlog, nlohmann_json,
# GoogleTest, Gloo, zlib, libpng, oneDNN's headers (the U-Net's Winograd
# convolutions, for the libdnnl2 LibTorch already links). Run time: OpenBLAS
# (OpenMP build; without it LibTorch multiplies matrices with the reference
# BLAS, 20-30x slower) and Fashion-MNIST. Scripts: Debian's Python with numpy
# (golden files, converters) and pandas with bottleneck (the GAS archive's
# pickle in fetch-tabular-data.sh; the golden files of tests/data were made
# with bottleneck, which changes how pandas sums a standard deviation).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libgloo-dev libcli11-dev libspdlog-dev nlohmann-json3-dev libgtest-dev
  zlib1g-dev libpng-dev
  libdnnl-dev
  libopenblas0-openmp
  dataset-fashion-mnist
  python3 python3-numpy python3-pandas python3-bottleneck
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (or with sudo) to install packages" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# LibTorch calls libblas.so.3; make sure it resolves to OpenBLAS, not the reference BLAS.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) echo "setup: BLAS is $blas" ;;
  *) echo "setup: warning: libblas.so.3 is $blas, not OpenBLAS (see update-alternatives --config libblas.so.3-x86_64-linux-gnu)" >&2 ;;
esac
