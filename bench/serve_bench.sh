#!/usr/bin/env bash
# Serving benchmark: tiffin serve against nginx returning a fixed JSON body
# (the floor) and FastAPI + uvicorn + scikit-learn (what users run today),
# with wrk on loopback, in one run on the same machine.
#   bench/serve_bench.sh [BUILD_DIR] [--doc docs/benchmarks.md] [--seconds 5]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
shift || true
exec /usr/bin/python3 "$here/serve/serve_bench.py" --tiffin "$build/bin/tiffin" "$@"
