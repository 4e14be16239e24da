#!/usr/bin/python3
"""Every converted XGBoost/LightGBM graph also runs in ONNX Runtime 1.30.

`tiffin convert` writes each model as ONNX; ONNX Runtime (onnxruntime-node,
tools/ort/run_batch.js) runs it, and its `margin` and transformed output are
compared with the library's own values at rtol 1e-5, atol 1e-6:
  - every case of tests/golden/gen/gen_xgboost.py (XGBoost 1.7's predictions),
    from its JSON, UBJSON, binary and pickle files;
  - the treelite files in ../shared/fixtures/external with their shipped
    margins / probabilities / predictions;
  - the dmitryikh/leaves files in tests/fixtures (LightGBM's and XGBoost's
    own predictions).
Exits 77 (ctest's skip code) when Node.js or the fixtures are missing.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

import ort_batch  # tests/ort/ort_batch.py

RTOL, ATOL = 1e-5, 1e-6


def libsvm(path, width, absent, shift=0):
    rows = []
    for line in open(path):
        parts = line.split()
        if not parts:
            continue
        row = [absent] * width
        for tok in parts[1:]:
            i, v = tok.split(":")
            if int(i) + shift < width:
                row[int(i) + shift] = float(v)
        rows.append(row)
    return np.array(rows, dtype=float)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiffin", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--external", required=True)
    args = ap.parse_args()
    why = ort_batch.skip_reason(args.source)
    if why:
        print("SKIP: " + why)
        return 77
    if not os.path.isdir(args.fixtures):
        print(f"SKIP: no fixtures at {args.fixtures} (make xgboost-fixtures)")
        return 77
    # (name, model path, X, {output: expected}), expected arrays flattened.
    cases = []
    dirs = [(n, os.path.join(args.fixtures, n)) for n in sorted(os.listdir(args.fixtures))]
    ext_cases = os.path.join(args.fixtures, "external")
    if os.path.isdir(ext_cases):
        dirs += [("external/" + n, os.path.join(ext_cases, n)) for n in sorted(os.listdir(ext_cases))]
    for name, d in dirs:
        if not os.path.exists(os.path.join(d, "X.txt")):
            continue
        x = np.loadtxt(os.path.join(d, "X.txt"), ndmin=2)
        margin = np.loadtxt(os.path.join(d, "margin.txt"), ndmin=2)
        pred = np.loadtxt(os.path.join(d, "pred.txt"), ndmin=2)
        kind = open(os.path.join(d, "kind.txt")).read().strip()
        if kind == "probability":
            out = {"probabilities": pred if pred.shape[1] > 1 else np.hstack([1 - pred, pred])}
        elif kind == "label":
            out = {"label": pred}
        else:
            out = {"variable": pred}
        out["margin"] = margin
        if os.path.exists(os.path.join(d, "source.txt")):
            src = open(os.path.join(d, "source.txt")).read().strip()
            cases.append((name, os.path.join(args.external, "xgboost", src), x, out))
            continue
        for f in ("model.json", "model.ubj", "model.bin", "model.pkl", "model.joblib"):
            if os.path.exists(os.path.join(d, f)):
                cases.append((f"{name}/{f}", os.path.join(d, f), x, out))
    ext = args.external
    for model, test, width, absent, margin, prob in [
            ("xgboost/treelite__mushroom.model", "xgboost/treelite__agaricus.test", 127, np.nan,
             "xgboost/treelite__agaricus.test.margin", "xgboost/treelite__agaricus.test.prob"),
            ("xgboost/treelite__dermatology.model", "xgboost/treelite__dermatology.test", 33, np.nan,
             "xgboost/treelite__dermatology.test.margin", "xgboost/treelite__dermatology.test.prob"),
            ("xgboost/treelite__xgb_toy_categorical_model.json", "xgboost/treelite__xgb_toy_categorical.test",
             2, np.nan, "xgboost/treelite__xgb_toy_categorical.test.pred", None),
            ("lightgbm/treelite__toy_categorical_model.txt", "lightgbm/treelite__toy_categorical.test",
             2, 0.0, "lightgbm/treelite__toy_categorical.test.pred", None)]:
        if not os.path.exists(os.path.join(ext, model)):
            continue
        x = libsvm(os.path.join(ext, test), width, absent)
        out = {"margin": np.loadtxt(os.path.join(ext, margin)).reshape(len(x), -1)}
        if prob:
            p = np.loadtxt(os.path.join(ext, prob)).reshape(len(x), -1)
            out["probabilities"] = p if p.shape[1] > 1 else np.hstack([1 - p, p])
        cases.append((model, os.path.join(ext, model), x, out))

    # dmitryikh/leaves files with the libraries' own predictions
    # (tests/fixtures/*-leaves/SOURCE.md; gbdt_leaves_test.cc says why each
    # case compares what it does).
    fx = os.path.join(args.source, "tests", "fixtures")
    if os.path.isdir(os.path.join(fx, "lightgbm-leaves")):
        d = os.path.join(fx, "lightgbm-leaves")
        x = np.loadtxt(os.path.join(d, "breast_cancer_test.tsv"), ndmin=2)
        raw = np.loadtxt(os.path.join(d, "lg_dart_breast_cancer_true_predictions.txt"))[:len(x)]
        p = 1 / (1 + np.exp(-raw))
        cases.append(("leaves/lg_dart_breast_cancer", os.path.join(d, "lg_dart_breast_cancer.model"), x,
                      {"margin": raw, "probabilities": np.stack([1 - p, p], axis=1)}))
        x = libsvm(os.path.join(d, "iris_test.libsvm"), 4, np.nan)
        avg = np.loadtxt(os.path.join(d, "lg_rf_iris_true_predictions.txt"))
        # Known failure: probabilities (pre-2.2.3 random forest, see gbdt_leaves_test.cc).
        cases.append(("leaves/lg_rf_iris", os.path.join(d, "lg_rf_iris.model"), x, {"margin": avg}))
    if os.path.isdir(os.path.join(fx, "xgboost-leaves")):
        d = os.path.join(fx, "xgboost-leaves")
        x = libsvm(os.path.join(d, "agaricus.txt.test.head40"), 127, np.nan, shift=1)  # 1-based model
        p = np.loadtxt(os.path.join(d, "xgblin_agaricus_true_predictions.head40.txt"))
        cases.append(("leaves/xgblin_agaricus", os.path.join(d, "xgblin_agaricus.json"), x,
                      {"margin": np.loadtxt(os.path.join(d, "xgblin_agaricus_true_raw_predictions.head40.txt")),
                       "probabilities": np.stack([1 - p, p], axis=1)}))

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        jobs, kept = [], []
        for i, (name, path, x, out) in enumerate(cases):
            onnx = os.path.join(tmp, f"{i}.onnx")
            _, err = ort_batch.convert(args.tiffin, path, onnx, inspect=False)
            if err:
                print(f"FAIL {name}: tiffin convert: {err}")
                failures += 1
                continue
            jobs.append({"model": onnx, "inputs": {"X": {
                "type": "float64", "dims": list(x.shape),
                "data": [None if np.isnan(v) else float(v) for v in x.ravel()]}}})
            kept.append((name, out))
        results = ort_batch.run_batch(args.source, tmp, jobs)
        worst = 0.0
        for (name, out), res in zip(kept, results):
            if "error" in res:
                print(f"FAIL {name}: ONNX Runtime: {res['error'][:300]}")
                failures += 1
                continue
            errs = []
            for key, want in out.items():
                o = res["outputs"].get(key)
                if o is None:
                    errs.append(f"no output {key}")
                    continue
                got = np.array(o["data"], dtype=float).ravel()
                want = np.asarray(want, dtype=float).ravel()
                if got.shape != want.shape:
                    errs.append(f"{key}: {got.shape} values vs {want.shape}")
                    continue
                bad = ~np.isclose(got, want, rtol=RTOL, atol=ATOL)
                worst = max(worst, float(np.max(np.abs(got - want))))
                if bad.any():
                    errs.append(f"{key}: {int(bad.sum())} differ (max abs {np.max(np.abs(got - want)):.3g})")
            if errs:
                failures += 1
                print(f"FAIL {name}: " + "; ".join(errs))
        print(f"gbdt_with_ort: {len(kept)} converted models run in ONNX Runtime, {failures} failing, "
              f"worst abs difference {worst:.3g}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
