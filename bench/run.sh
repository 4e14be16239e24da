#!/usr/bin/env bash
# Runs tiffin, ONNX Runtime 1.30 (Node) and PyTorch 1.13 (Debian) on the same
# models, inputs and thread counts, one after another in one run, and prints
# a Markdown table of latencies and ratios. `make bench` calls this.
#   bench/run.sh [BUILD_DIR] [--doc docs/benchmarks.md]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
doc=""
[[ "${2:-}" == "--doc" ]] && doc=${3:?--doc needs a path}
out="$build/bench/results.jsonl"
mkdir -p "$build/bench"
: > "$out"
# OpenBLAS's core-type override (set on some machines) slows PyTorch's numpy
# side; the run sets threads explicitly instead.
threads=${THREADS:-1}
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads
run() { echo "  $*" >&2; "$@" >> "$out"; }
for model in mlp cnn lstm gru; do
  m=tests/golden/torch/$model/model.onnx
  for batch in 1 256; do
    iters=2000
    [[ $batch == 256 ]] && iters=200
    [[ $model == cnn && $batch == 256 ]] && iters=30
    echo "$model batch $batch:" >&2
    run "$build/bin/tiffin_bench" "$m" --batch "$batch" --iters "$iters" --threads "$threads"
    run node tools/ort/bench.js "$m" --batch "$batch" --iters "$iters" --threads "$threads"
    run /usr/bin/python3 bench/peers/torch_bench.py "$model" --batch "$batch" --iters "$iters" --threads "$threads"
  done
done
/usr/bin/python3 bench/report.py "$out" ${doc:+--doc "$doc"}
