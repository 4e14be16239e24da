#!/usr/bin/env bash
# Load time of a ~10 MB .tiffin bundle (issue 4's target: under 5 ms).
#   bench/bundle_load.sh [BUILD_DIR]
# Writes a 1600x1600 float32 MatMul model (10.2 MB of weights) with Debian's
# python3-onnx, packs it with one reference row, then times LoadModel on the
# bundle with and without the reference replay (hashes are always checked).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
dir=$build/bench/bundle
mkdir -p "$dir"
/usr/bin/python3 - "$dir" <<'PY'
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
d = sys.argv[1]
w = np.random.default_rng(0).standard_normal((1600, 1600)).astype(np.float32)
g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "big",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1600])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1600])],
                      [numpy_helper.from_array(w, "w")])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), f"{d}/big.onnx")
np.save(f"{d}/ref.npy", np.random.default_rng(1).standard_normal((1, 1600)).astype(np.float32))
PY
"$build/bin/tiffin" pack "$dir/big.onnx" --reference "$dir/ref.npy" -o "$dir/big.tiffin" 2>/dev/null
ls -l "$dir/big.tiffin" | awk '{print "bundle bytes:", $5}'
echo "load: $(uptime)"
"$build/bin/tiffin_bench" "$dir/big.tiffin" --load 50 --verify 1
"$build/bin/tiffin_bench" "$dir/big.tiffin" --load 50 --verify 0
