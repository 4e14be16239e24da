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
    ap.add_argument("--method", choices=["predict_proba", "predict"], default="predict_proba")
    ap.add_argument("--warmup", type=int, default=None,
                    help="warmup calls (default: clamp(iters/10, 3, 50), as bench.js)")
    ap.add_argument("--input", help="rows to feed (default: MODEL_DIR/X.npy)")
    args = ap.parse_args(argv)
    if args.batch < 1 or args.iters < 1 or args.threads < 1:
        ap.error("--batch, --iters and --threads must be >= 1")
    warmup = args.warmup if args.warmup is not None else max(3, min(50, -(-args.iters // 10)))

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
    rows = src.shape[0]
    if rows < 1:
        ap.error("the input has no rows")
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
    del limits

    times.sort()
    mean = float(np.mean(times))
    p50 = float(np.median(times))
    p99 = times[max(math.ceil(0.99 * len(times)), 1) - 1]
    print(json.dumps({
        "peer": "scikit-learn " + sklearn.__version__,
        "model": os.path.basename(os.path.normpath(args.model_dir)),
        "batch": args.batch,
        "threads": args.threads,
        "iters": args.iters,
        "mean_us": round(mean, 2),
        "p50_us": round(p50, 2),
        "p99_us": round(p99, 2),
        "min_us": round(times[0], 2),
        "cpu_us": round(cpu_us, 2),
        "rows_per_s": round(args.batch / (mean / 1e6), 2),
        "input": "npy",
        "method": args.method,
    }, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
