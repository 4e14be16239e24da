#!/usr/bin/python3
"""XGBoost peer benchmark for the XGBoost fixtures.

    /usr/bin/python3 bench/peers/xgboost_bench.py MODEL_DIR --batch N --iters K
        [--threads T] [--method inplace_predict|predict|predict_proba] [--warmup W]

MODEL_DIR is a case folder written by tests/golden/gen/gen_xgboost.py
(model.json, model.pkl, X.npy), e.g. build/xgboost-fixtures/bench__xgb300.
Methods: `inplace_predict` (Booster.inplace_predict on a numpy array, XGBoost's
fastest path), `predict` (Booster.predict(DMatrix(x)), DMatrix construction
included), `predict_proba` (the scikit-learn wrapper, from model.pkl, our own
generated fixture). The booster runs with nthread = T.

Batches and output follow bench/peers/sklearn_bench.py: one JSON line in the
format of tools/ort/bench.js.
"""

import argparse
import json
import math
import os
import pickle
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--method", choices=["inplace_predict", "predict", "predict_proba"],
                    default="inplace_predict")
    ap.add_argument("--warmup", type=int, default=None)
    args = ap.parse_args(argv)
    if args.batch < 1 or args.iters < 1 or args.threads < 1:
        ap.error("--batch, --iters and --threads must be >= 1")
    warmup = args.warmup if args.warmup is not None else max(3, min(50, -(-args.iters // 10)))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import xgboost as xgb

    if args.method == "predict_proba":
        with open(os.path.join(args.model_dir, "model.pkl"), "rb") as f:
            est = pickle.load(f)
        est.set_params(n_jobs=args.threads)
        fn = est.predict_proba
    else:
        booster = xgb.Booster(model_file=os.path.join(args.model_dir, "model.json"))
        booster.set_param({"nthread": args.threads})
        if args.method == "inplace_predict":
            fn = booster.inplace_predict
        else:
            fn = lambda x: booster.predict(xgb.DMatrix(x, nthread=args.threads))  # noqa: E731

    src = np.ascontiguousarray(np.load(os.path.join(args.model_dir, "X.npy")), dtype=np.float64)
    rows = src.shape[0]
    distinct = max(1, min(rows // args.batch, 1024))
    feeds = [np.ascontiguousarray(src[(b * args.batch + np.arange(args.batch)) % rows])
             for b in range(distinct)]
    for i in range(warmup):
        fn(feeds[i % distinct])
    times = []
    cpu0 = time.process_time_ns()
    for i in range(args.iters):
        x = feeds[i % distinct]
        t0 = time.perf_counter_ns()
        fn(x)
        times.append((time.perf_counter_ns() - t0) / 1e3)
    cpu_us = (time.process_time_ns() - cpu0) / 1e3 / args.iters
    times.sort()
    mean = float(np.mean(times))
    print(json.dumps({
        "peer": "xgboost " + xgb.__version__,
        "model": os.path.basename(os.path.normpath(args.model_dir)),
        "batch": args.batch,
        "threads": args.threads,
        "iters": args.iters,
        "mean_us": round(mean, 2),
        "p50_us": round(float(np.median(times)), 2),
        "p99_us": round(times[max(math.ceil(0.99 * len(times)), 1) - 1], 2),
        "min_us": round(times[0], 2),
        "cpu_us": round(cpu_us, 2),
        "rows_per_s": round(args.batch / (mean / 1e6), 2),
        "input": "npy",
        "method": args.method,
    }, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
