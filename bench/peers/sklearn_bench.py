#!/usr/bin/python3
"""scikit-learn peer benchmark for the scikit-learn fixtures.

    /usr/bin/python3 bench/peers/sklearn_bench.py MODEL_DIR --batch N --iters K
        [--threads T] [--method predict_proba|predict] [--warmup W] [--input X.npy]

MODEL_DIR is a case folder written by tests/golden/gen/gen_sklearn.py
(model.pkl + X.npy), e.g. build/sklearn-fixtures/bench__rf100. The pickle is
our own generated fixture, so it is loaded with pickle here (tiffin never
executes pickles). Times one call of the estimator's --method (default
predict_proba) in process, as a Python user would call it.

Input: rows of X.npy (or --input), as float64: batch b holds rows
(b*N + r) mod R, r < N, of the file's R rows (a batch larger than the file
tiles it); there are max(1, min(R / N, 1024)) distinct batches and iteration i
runs batch i mod that count (the rule of bench/tiffin_bench.cc and
tools/ort/bench.js). Threads: OPENBLAS/OMP/MKL_NUM_THREADS are set to T before
numpy is imported, and threadpoolctl limits BLAS and OpenMP pools to T when it
is installed. Prints one JSON line in the format of tools/ort/bench.js
(mean, p50, p99 (nearest rank) and min of one call in µs; rows_per_s = N / mean;
cpu_us = the process's CPU time over the timed calls / K).
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
    ap.add_argument("--method", choices=["predict_proba", "predict"], default="predict_proba")
    ap.add_argument("--warmup", type=int, default=None,
                    help="warmup calls (default: clamp(iters/10, 3, 50), as bench.js)")
    ap.add_argument("--input", help="rows to feed (default: MODEL_DIR/X.npy)")
    args = ap.parse_args(argv)
    if args.batch < 1 or args.iters < 1 or args.threads < 1:
        ap.error("--batch, --iters and --threads must be >= 1")
    warmup = args.warmup if args.warmup is not None else timing.default_warmup(args.iters)

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    import sklearn
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=args.threads)
    except ImportError:
        limits = None

    with open(os.path.join(args.model_dir, "model.pkl"), "rb") as f:
        est = pickle.load(f)
    fn = getattr(est, args.method)

    src = np.load(args.input or os.path.join(args.model_dir, "X.npy"), allow_pickle=False)
    src = np.ascontiguousarray(src, dtype=np.float64)
    if src.shape[0] < 1:
        ap.error("the input has no rows")
    times, cpu_us = timing.time_calls(fn, timing.batches(np, src, args.batch), args.iters, warmup)
    del limits
    timing.print_result("scikit-learn " + sklearn.__version__,
                        os.path.basename(os.path.normpath(args.model_dir)), args.batch,
                        args.threads, times, cpu_us, input="npy", method=args.method)
    return 0


if __name__ == "__main__":
    sys.exit(main())
