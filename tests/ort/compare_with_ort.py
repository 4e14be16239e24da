#!/usr/bin/python3
"""Differential test: tiffin against ONNX Runtime 1.30 (onnxruntime-node).

For every model under tests/golden/torch, tests/golden/ml (ai.onnx.ml
operators, from tests/golden/gen/gen_ml.py) and examples/, runs the model's
fixture input and a random batch of 17 rows through both ONNX Runtime
(tools/ort/run_model.js) and `tiffin predict`, and compares every output
to rtol 1e-4, atol 1e-5.

Exits 77 (ctest's skip code) with a reason only when Node.js is missing.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

RTOL, ATOL = 1e-4, 1e-5


def models(source):
    root = os.path.join(source, "tests", "golden", "torch")
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        yield name, os.path.join(d, "model.onnx"), np.load(os.path.join(d, "input_0.npy"))
    ml = os.path.join(source, "tests", "golden", "ml")
    for name in sorted(os.listdir(ml)):
        d = os.path.join(ml, name)
        yield "ml/" + name, os.path.join(d, "model.onnx"), np.load(os.path.join(d, "input_0.npy"))
    ex = os.path.join(source, "examples", "iris_mlp")
    with open(os.path.join(ex, "input.json")) as f:
        x = np.array(json.load(f)["features"], dtype=np.float32)
    yield "iris_mlp", os.path.join(ex, "model.onnx"), x


def run_ort(source, model, x, tmp):
    inp = os.path.join(tmp, "in.npy")
    np.save(inp, x)
    out_dir = os.path.join(tmp, "ort")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    subprocess.run(["node", os.path.join(source, "tools", "ort", "run_model.js"), model, out_dir, inp],
                   check=True, stdout=subprocess.DEVNULL)
    outs = []
    i = 0
    while os.path.exists(os.path.join(out_dir, f"output_{i}.npy")):
        outs.append(np.load(os.path.join(out_dir, f"output_{i}.npy")))
        i += 1
    return outs


def run_tiffin(tiffin, model, x, tmp):
    inp = os.path.join(tmp, "in_tiffin.npy")
    np.save(inp, x)
    r = subprocess.run([tiffin, "predict", model, "--input", inp], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"tiffin predict failed: {r.stderr.strip()}")
    doc = json.loads(r.stdout)
    return [np.array(o["data"], dtype=np.float64).reshape(o["shape"]) for o in doc["outputs"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiffin", required=True)
    ap.add_argument("--source", required=True)
    args = ap.parse_args()
    if shutil.which("node") is None:
        print("SKIP: Node.js is not installed, so ONNX Runtime (onnxruntime-node) cannot run")
        return 77
    if not os.path.isdir(os.path.join(args.source, "tools", "ort", "node_modules", "onnxruntime-node")):
        print("FAIL: tools/ort/node_modules/onnxruntime-node is missing; run scripts/setup.sh")
        return 1
    rng = np.random.default_rng(7)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, model, fixture in models(args.source):
            batch = rng.standard_normal((17,) + fixture.shape[1:]).astype(np.float32)
            for label, x in (("fixture", fixture), ("batch17", batch)):
                ort = run_ort(args.source, model, x, tmp)
                try:
                    ours = run_tiffin(args.tiffin, model, x, tmp)
                except RuntimeError as e:
                    print(f"FAIL {name} {label}: {e}")
                    failures += 1
                    continue
                if len(ort) != len(ours):
                    print(f"FAIL {name} {label}: {len(ours)} outputs, ONNX Runtime gives {len(ort)}")
                    failures += 1
                    continue
                for i, (a, b) in enumerate(zip(ours, ort)):
                    if a.shape != b.shape:
                        print(f"FAIL {name} {label} output {i}: shape {a.shape}, ONNX Runtime {b.shape}")
                        failures += 1
                        continue
                    err = float(np.max(np.abs(a - b))) if a.size else 0.0
                    if np.issubdtype(b.dtype, np.integer):  # labels: exact
                        ok = np.array_equal(a, b)
                    else:
                        ok = np.allclose(a, b, rtol=RTOL, atol=ATOL)
                    print(f"{'ok  ' if ok else 'FAIL'} {name:36s} {label:8s} output {i}: "
                          f"max abs diff {err:.3g}")
                    failures += 0 if ok else 1
    print(f"ort_differential: {'all outputs match' if not failures else str(failures) + ' mismatches'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
