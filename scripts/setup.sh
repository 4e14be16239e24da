#!/usr/bin/env bash
# Installs what tiffin needs on Debian 12, only where it is missing.
#   scripts/setup.sh            build and test dependencies
#   scripts/setup.sh --bench    also the benchmark peers
# Safe to run repeatedly: it does nothing when everything is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache
  libprotobuf-dev protobuf-compiler libonnx-dev
  libeigen3-dev libopenblas-dev libsimdjson-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libbz2-dev liblzma-dev liblz4-dev libzstd-dev
  libssl-dev
  libhdf5-dev libzip-dev python3-h5py
  libboost-dev curl python3-requests
  python3 python3-onnx python3-numpy python3-sklearn python3-lz4
)
# Debian's torch and xgboost write the differential fixtures
# (tests/golden/gen/gen_torch_archives.py, gen_keras.py, gen_xgboost.py).
packages+=(python3-torch python3-xgboost)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(wrk nginx python3-fastapi python3-uvicorn)  # bench/serve_bench.sh
fi
if [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev)
fi
# Node.js drives ONNX Runtime, the reference oracle. Any node >= 18 will do.
if ! command -v node >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages and not root; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime for Node (the differential oracle). --ignore-scripts: its
# postinstall would download, but the library itself ships in the package.
if command -v npm >/dev/null 2>&1 && [[ ! -d tools/ort/node_modules/onnxruntime-node ]]; then
  echo "setup: installing onnxruntime-node into tools/ort"
  (cd tools/ort && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
    echo "setup: onnxruntime-node could not be installed; the ONNX Runtime comparison tests will skip"
fi
