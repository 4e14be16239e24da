#!/usr/bin/python3
"""Every converted scikit-learn graph also runs in ONNX Runtime 1.30.

For each case written by tests/golden/gen/gen_sklearn.py, `tiffin convert`
writes model.p4.pkl (or the case's first variant) as ONNX; ONNX Runtime
(onnxruntime-node, tools/ort/run_batch.js) runs it on the case's input, and
its outputs are compared with scikit-learn's stored predictions: labels
exactly, other outputs to the case's rtol/atol (1e-5 / 1e-7).

Cases tiffin itself does not convert yet are listed in KNOWN (with the
reason); a case listed there that passes is reported so the list shrinks.
Exits 77 (ctest's skip code) when Node.js or the fixtures are missing.
"""
import argparse
import csv
import json
import os
import sys
import tempfile

import numpy as np

import ort_batch  # tests/ort/ort_batch.py

OUT_KEY = {"decision": "decision_function", "transform": "transformed"}
# Outputs tiffin does not produce yet (same list as sklearn_test.cc).
MISSING = set()


def read_csv(path, types, inputs):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    cols = []
    for j, t in enumerate(types):
        vals = [r[j] for r in rows]
        if t == "str":
            cols.append(vals)
        else:
            cols.append([float(v) if v != "" else None for v in vals])
    return header, cols


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiffin", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--fixtures", required=True)
    args = ap.parse_args()
    why = ort_batch.skip_reason(args.source)
    if why:
        print("SKIP: " + why)
        return 77
    if not os.path.exists(os.path.join(args.fixtures, "index.json")):
        print(f"SKIP: no fixtures at {args.fixtures} (make sklearn-fixtures)")
        return 77
    failures, checked = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        jobs, cases = [], []
        for name in sorted(os.listdir(args.fixtures)):
            d = os.path.join(args.fixtures, name)
            if not os.path.isdir(d):
                continue
            meta = json.load(open(os.path.join(d, "meta.json")))
            variant = "model.p4.pkl" if "model.p4.pkl" in meta["variants"] else meta["variants"][0]
            steps = []
            expect = {OUT_KEY.get(k, k): f for k, f in meta["output_files"].items()
                      if "unscaled" not in k and "decoded" not in k}
            if name == "tuple__model_scaler":
                steps = ["--steps", "scaler,model"]
            onnx = os.path.join(tmp, name + ".onnx")
            info, err = ort_batch.convert(args.tiffin, os.path.join(d, variant), onnx, steps)
            if err:
                print(f"FAIL {name}: tiffin convert: {err}")
                failures += 1
                continue
            inputs = {}
            if meta["input"] == "X.npy":
                x = np.load(os.path.join(d, "X.npy"))
                i0 = info["inputs"][0]
                inputs[i0["name"]] = {"type": i0["dtype"], "dims": list(x.shape),
                                      "data": [None if np.isnan(v) else float(v) for v in x.ravel()]}
            else:
                _, cols = read_csv(os.path.join(d, "X.csv"), meta["csv_types"], info["inputs"])
                n = len(cols[0])
                if len(info["inputs"]) == 1 and len(cols) > 1:
                    i0 = info["inputs"][0]
                    rows = list(zip(*cols))
                    if i0["dtype"] == "string":
                        data = ["" if v is None else v for r in rows for v in r]
                    else:
                        data = [None if v is None or v == "" else float(v) for r in rows for v in r]
                    inputs[i0["name"]] = {"type": i0["dtype"], "dims": [n, len(cols)], "data": data}
                elif len(info["inputs"]) == len(cols):
                    for i, col in zip(info["inputs"], cols):
                        data = ["" if v is None else v for v in col] if i["dtype"] == "string" else \
                            [None if v is None or v == "" else float(v) for v in col]
                        inputs[i["name"]] = {"type": i["dtype"], "dims": [n, 1], "data": data}
                else:
                    print(f"FAIL {name}: {len(info['inputs'])} model inputs for {len(cols)} columns")
                    failures += 1
                    continue
            jobs.append({"model": onnx, "inputs": inputs})
            cases.append((name, d, meta, expect, [o["name"] for o in info["outputs"]]))
        results = ort_batch.run_batch(args.source, tmp, jobs)
        for (name, d, meta, expect, out_names), res in zip(cases, results):
            if "error" in res:
                print(f"FAIL {name}: ONNX Runtime: {res['error'][:300]}")
                failures += 1
                continue
            errs = []
            for key, fname in expect.items():
                if key not in res["outputs"]:
                    if f"{name}/{key}" not in MISSING:
                        errs.append(f"no output {key}")
                    continue
                o = res["outputs"][key]
                got = np.array(o["data"], dtype=object if o["type"] == "string" else float).reshape(o["dims"])
                path = os.path.join(d, fname)
                want = np.load(path) if fname.endswith(".npy") else np.array(json.load(open(path)), dtype=object)
                if got.shape != want.shape:
                    errs.append(f"{key}: shape {got.shape} vs {want.shape}")
                elif key == "label":
                    if not np.array_equal(got.astype(want.dtype) if want.dtype != object else got, want):
                        errs.append(f"label: {int(np.sum(got != want))} differ")
                else:
                    g = np.array(got, dtype=float)
                    bad = ~np.isclose(g, want, rtol=meta["rtol"], atol=meta["atol"], equal_nan=True)
                    if bad.any():
                        errs.append(f"{key}: {int(bad.sum())} differ (max abs {np.nanmax(np.abs(g - want)):.3g})")
            checked += 1
            if errs:
                failures += 1
                print(f"FAIL {name}: " + "; ".join(errs))
        print(f"sklearn_with_ort: {checked} converted cases run in ONNX Runtime, {failures} failing")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
