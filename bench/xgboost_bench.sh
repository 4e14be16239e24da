#!/usr/bin/env bash
# XGBoost peer benchmark: tiffin (on model.json itself), XGBoost 1.7 (Debian;
# Booster.inplace_predict, Booster.predict on a DMatrix, and the scikit-learn
# wrapper's predict_proba) and ONNX Runtime 1.30 (on the graph `tiffin
# convert` writes), single-threaded, on build/xgboost-fixtures/bench__xgb300
# (binary:logistic, 300 trees of depth 6, 30 features, 2000 test rows with 5%
# NaNs): single-row latency and one call on 100,000 rows (the rows tiled).
# Prints one JSON line per run (tools/ort/bench.js format).
#   bench/xgboost_bench.sh [BUILD_DIR]
# Needs BUILD_DIR/bin/tiffin_bench and BUILD_DIR/bin/tiffin.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=${THREADS:-1}
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
make -s xgboost-fixtures BUILD="$build" >&2
dir=$build/xgboost-fixtures/bench__xgb300
onnx=$build/bench/bench__xgb300.onnx
mkdir -p "$build/bench"
"$build/bin/tiffin" convert "$dir/model.json" -o "$onnx" >&2
for batch in 1 100000; do
  if [[ $batch == 1 ]]; then iters=20000 py_iters=3000 warm=(); else iters=10 py_iters=10 warm=(--warmup 2); fi
  "$build/bin/tiffin_bench" "$dir/model.json" --input "$dir/X.npy" --batch "$batch" \
    --iters "$iters" --threads "$threads" "${warm[@]}"
  node tools/ort/bench.js "$onnx" --input "$dir/X.npy" --batch "$batch" --iters "$iters" \
    --threads "$threads" "${warm[@]}"
  for method in inplace_predict predict predict_proba; do
    /usr/bin/python3 bench/peers/xgboost_bench.py "$dir" --method "$method" --batch "$batch" \
      --iters "$py_iters" --threads "$threads" "${warm[@]}"
  done
done
