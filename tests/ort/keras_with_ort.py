#!/usr/bin/python3
"""Every converted Keras graph also runs in ONNX Runtime 1.30.

Writes the differential cases of tests/golden/gen/gen_keras.py into a
temporary directory, converts each with `tiffin convert` (passing the
architecture JSON with --config for weights-only files), runs the ONNX file in
ONNX Runtime (onnxruntime-node, tools/ort/run_batch.js) and compares its
outputs with torch's (the case's rtol/atol, 1e-5 / 1e-6).
Exits 77 (ctest's skip code) when Node.js or onnxruntime-node is missing.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

import ort_batch  # tests/ort/ort_batch.py


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiffin", required=True)
    ap.add_argument("--source", required=True)
    args = ap.parse_args()
    why = ort_batch.skip_reason(args.source)
    if why:
        print("SKIP: " + why)
        return 77
    failures, checked = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        fx = os.path.join(tmp, "fixtures")
        gen = subprocess.run([sys.executable, os.path.join(args.source, "tests", "golden", "gen", "gen_keras.py"),
                              fx])
        if gen.returncode == 77:
            return 77
        gen.check_returncode()
        jobs, cases = [], []
        for line in open(os.path.join(fx, "cases.txt")):
            p = line.split()
            name, model, config, rtol, atol, nin = p[0], p[1], p[2], float(p[3]), float(p[4]), int(p[5])
            k = 6
            inputs = {}
            for _ in range(nin):
                iname, shape, f = p[k:k + 3]
                k += 3
                dims = [int(d) for d in shape.split(",")]
                x = np.fromfile(os.path.join(fx, f), dtype=np.float32)
                inputs[iname] = {"type": "float32", "dims": dims, "data": [float(v) for v in x]}
            nout = int(p[k])
            k += 1
            wants = []
            for _ in range(nout):
                shape, f = p[k:k + 2]
                k += 2
                wants.append(np.fromfile(os.path.join(fx, f), dtype=np.float32).reshape(
                    [int(d) for d in shape.split(",")]))
            onnx = os.path.join(tmp, name + ".onnx")
            info, err = ort_batch.convert(args.tiffin, os.path.join(fx, model), onnx,
                                          [] if config == "-" else ["--config", os.path.join(fx, config)])
            if err:
                print(f"FAIL {name}: tiffin convert: {err}")
                failures += 1
                continue
            jobs.append({"model": onnx, "inputs": inputs})
            cases.append((name, rtol, atol, wants, [o["name"] for o in info["outputs"]]))
        results = ort_batch.run_batch(args.source, tmp, jobs)
        for (name, rtol, atol, wants, out_names), res in zip(cases, results):
            if "error" in res:
                print(f"FAIL {name}: ONNX Runtime: {res['error'][:300]}")
                failures += 1
                continue
            errs = []
            for oname, want in zip(out_names, wants):
                o = res["outputs"][oname]
                got = np.array(o["data"], dtype=float).reshape(o["dims"])
                if got.shape != want.shape:
                    errs.append(f"{oname}: shape {got.shape} vs {want.shape}")
                    continue
                bad = ~np.isclose(got, want, rtol=rtol, atol=atol)
                if bad.any():
                    errs.append(f"{oname}: {int(bad.sum())} differ (max abs {np.max(np.abs(got - want)):.3g})")
            checked += 1
            if errs:
                failures += 1
                print(f"FAIL {name}: " + "; ".join(errs))
            else:
                print(f"ok   {name}")
        print(f"keras_with_ort: {checked} converted Keras cases run in ONNX Runtime, {failures} failing")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
