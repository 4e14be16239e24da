"""The timing loop and result line shared by the Python peer benchmarks.

Every peer times one call the way tools/ort/bench.js and bench/tiffin_bench.cc
do, so their numbers sit side by side in one table:
  - warmup: W untimed calls (default clamp(iters/10, 3, 50));
  - then K timed calls, feeding batch i mod len(feeds);
  - mean, p50, p99 (nearest rank) and min of one call in µs; rows_per_s =
    batch / mean; cpu_us = the process's CPU time over the timed calls / K.
"""

import json
import time


def default_warmup(iters):
    return max(3, min(50, -(-iters // 10)))


def batches(np, src, batch):
    """Batch b holds rows (b*N + r) mod R, r < N, of src's R rows; there are
    max(1, min(R / N, 1024)) distinct batches (a batch larger than src tiles it)."""
    rows = src.shape[0]
    distinct = max(1, min(rows // batch, 1024))
    return [np.ascontiguousarray(src[(b * batch + np.arange(batch)) % rows])
            for b in range(distinct)]


def time_calls(fn, feeds, iters, warmup):
    """Runs fn(feeds[i % len(feeds)]); returns (sorted µs per call, cpu µs per call)."""
    for i in range(warmup):
        fn(feeds[i % len(feeds)])
    times = []
    cpu0 = time.process_time_ns()
    for i in range(iters):
        x = feeds[i % len(feeds)]
        t0 = time.perf_counter_ns()
        fn(x)
        times.append((time.perf_counter_ns() - t0) / 1e3)
    cpu_us = (time.process_time_ns() - cpu0) / 1e3 / iters
    times.sort()
    return times, cpu_us


def print_result(peer, model, batch, threads, times, cpu_us, **extra):
    """Prints the one JSON line of tools/ort/bench.js's format."""
    mean = sum(times) / len(times)
    mid = len(times) // 2
    p50 = times[mid] if len(times) % 2 else (times[mid - 1] + times[mid]) / 2
    p99 = times[max(-(-99 * len(times) // 100), 1) - 1]  # nearest rank, in integers
    line = {
        "peer": peer,
        "model": model,
        "batch": batch,
        "threads": threads,
        "iters": len(times),
        "mean_us": round(mean, 2),
        "p50_us": round(p50, 2),
        "p99_us": round(p99, 2),
        "min_us": round(times[0], 2),
        "cpu_us": round(cpu_us, 2),
        "rows_per_s": round(batch / (mean / 1e6), 2),
    }
    line.update(extra)
    print(json.dumps(line, separators=(",", ":")))
