#!/usr/bin/env bash
# `make run`'s server part: serves examples/models (a scikit-learn scaler +
# logistic regression bundle, a random forest pickle, a small ONNX network),
# runs one curl line per protocol against it, then keeps serving until Ctrl-C.
#   scripts/serve_demo.sh BUILD_DIR [PORT]     (SERVE_DEMO_EXIT=1: stop after the demo)
set -euo pipefail
build=${1:-build}
port=${2:-8080}
log=$(mktemp)
"$build/bin/tiffin" serve examples/models --http-port "$port" 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  grep -q '"event":"ready"' "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.05
done
grep '"event":"ready"' "$log"
url=http://127.0.0.1:$port
row='[5.9, 3.0, 5.1, 1.8]'
demo() {
  printf '$'
  printf ' %q' "$@"
  echo
  "$@"
  echo
}
echo "== tiffin serve examples/models --http-port $port   (docs/serving.md)"
demo curl -s "$url/v2/health/ready" -o /dev/null -w '%{http_code}\n'
demo curl -s "$url/v2/models/iris_logreg"
demo curl -s "$url/v2/models/iris_logreg/infer" -d "{\"inputs\": [{\"name\": \"X\", \"shape\": [1, 4], \"datatype\": \"FP64\", \"data\": $row}]}"
demo curl -s "$url/v1/models/iris_forest:predict" -d "{\"instances\": [$row]}"
demo curl -s "$url/v2/models/iris_mlp/infer" -d "{\"inputs\": [{\"name\": \"features\", \"shape\": [1, 4], \"datatype\": \"FP32\", \"data\": $row}]}"
demo curl -s -X POST "$url/v2/repository/index"
echo "\$ curl -s $url/metrics | grep nv_inference_request_success"
curl -s "$url/metrics" | grep nv_inference_request_success
echo
if [[ "${SERVE_DEMO_EXIT:-0}" == 1 ]]; then exit 0; fi
echo "serving on $url; Ctrl-C to stop"
wait $pid
