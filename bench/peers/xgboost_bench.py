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
import os
import pickle
import sys

import timing


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
    warmup = args.warmup if args.warmup is not None else timing.default_warmup(args.iters)
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
    times, cpu_us = timing.time_calls(fn, timing.batches(np, src, args.batch), args.iters, warmup)
    timing.print_result("xgboost " + xgb.__version__,
                        os.path.basename(os.path.normpath(args.model_dir)), args.batch,
                        args.threads, times, cpu_us, input="npy", method=args.method)
    return 0


if __name__ == "__main__":
    sys.exit(main())
