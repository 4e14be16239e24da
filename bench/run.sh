#!/usr/bin/env bash
# Runs the peer benchmarks, one after another in one run, same models, same
# inputs, same thread count, and prints Markdown tables of times and ratios.
# `make bench` calls this.
#   bench/run.sh [BUILD_DIR] [--doc docs/benchmarks.md] [--only torch|sklearn]
#
# torch:   tiffin, ONNX Runtime 1.30 (Node) and PyTorch 1.13 (Debian) on
#          tests/golden/torch/{mlp,cnn,lstm,gru}/model.onnx, random float32
#          inputs, batch 1 and 256.
# sklearn: tiffin (on the pickle itself, computing every output), scikit-learn
#          1.2 (Debian; predict_proba and predict) and ONNX Runtime (on the
#          graph `tiffin convert` writes) on the bench__* scikit-learn fixtures
#          (StandardScaler+LogisticRegression, RandomForest 100 trees,
#          HistGradientBoosting; breast cancer, 30 float64 features), fed the
#          fixture's test rows: single-row latency (p50/p99) and one call on
#          100,000 rows (the test rows tiled).
# With --only, the doc keeps the other part's section as it was.
# Needs BUILD_DIR/bin/tiffin_bench and BUILD_DIR/bin/tiffin (the sklearn part).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
doc=""
only=""
if [[ $# -gt 0 && "$1" != --* ]]; then build=$1; shift; fi
while [[ $# -gt 0 ]]; do
  case "$1" in
    --doc) doc=${2:?--doc needs a path}; shift 2 ;;
    --only) only=${2:?--only needs torch or sklearn}; shift 2 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$only" in ""|torch|sklearn) ;; *) echo "run.sh: --only torch|sklearn" >&2; exit 2 ;; esac
out="$build/bench/results.jsonl"
mkdir -p "$build/bench"
: > "$out"
# OpenBLAS's core-type override (set on some machines) slows PyTorch's numpy
# side; the run sets threads explicitly instead.
threads=${THREADS:-1}
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
run() { echo "  $*" >&2; "$@" >> "$out"; }
echo "load: $(uptime)" >&2

if [[ -z "$only" || "$only" == torch ]]; then
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
fi

if [[ -z "$only" || "$only" == sklearn ]]; then
  fixtures="$build/sklearn-fixtures"
  # Regenerates only when tests/golden/gen/gen_sklearn.py changed (.stamp).
  make -s sklearn-fixtures BUILD="$build" >&2
  onnx_dir="$build/bench/sklearn"
  mkdir -p "$onnx_dir"
  for model in bench__scaler_logreg bench__rf100 bench__hgb; do
    dir=$fixtures/$model
    onnx=$onnx_dir/$model.onnx
    "$build/bin/tiffin" convert "$dir/model.pkl" -o "$onnx" >&2
    for batch in 1 100000; do
      if [[ $batch == 1 ]]; then
        # Single-row latency: many calls, cycling through the 60 test rows.
        iters=20000 sk_iters=3000 warm=()
        [[ $model == bench__rf100 ]] && sk_iters=1000  # ~5-8 ms a call
      else
        # Throughput: one call on 100,000 rows (the test rows tiled), 10 times.
        iters=10 sk_iters=10 warm=(--warmup 2)
      fi
      echo "$model rows $batch:" >&2
      run "$build/bin/tiffin_bench" "$dir/model.pkl" --input "$dir/X.npy" --batch "$batch" \
        --iters "$iters" --threads "$threads" "${warm[@]}"
      run node tools/ort/bench.js "$onnx" --input "$dir/X.npy" --batch "$batch" \
        --iters "$iters" --threads "$threads" "${warm[@]}"
      for method in predict_proba predict; do
        run /usr/bin/python3 bench/peers/sklearn_bench.py "$dir" --method "$method" \
          --batch "$batch" --iters "$sk_iters" --threads "$threads" "${warm[@]}"
      done
    done
  done
fi
echo "load: $(uptime)" >&2

/usr/bin/python3 bench/report.py "$out" ${doc:+--doc "$doc"} --command "bench/run.sh $build${doc:+ --doc $doc}${only:+ --only $only}"
