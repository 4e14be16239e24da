#!/usr/bin/env python3
"""PyTorch peer benchmark for the golden models.

    /usr/bin/python3 bench/peers/torch_bench.py MODEL_NAME --batch N --iters K [--threads T]

MODEL_NAME is one of the models in tests/golden/gen/gen_torch.py (mlp, cnn,
cnn1d, lstm, gru, rnn, ...). The module is rebuilt by gen_torch.build_model(), so
its weights are identical to the exported tests/golden/torch/<name>/model.onnx.
Runs in eval mode under torch.inference_mode() and prints one JSON line in the
same format as tools/ort/bench.js (mean, p50, p99, min in µs; cpu_us = the
process's CPU time over the timed calls / K).
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "golden", "gen"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import gen_torch  # noqa: E402
import timing  # noqa: E402  (bench/peers/timing.py, beside this file)

# Debian's python3-torch 1.13.1 reports torch.__version__ == "1.13.0a0".
TORCH_VERSION = "1.13.1" if torch.__version__.startswith("1.13.0a0") else torch.__version__


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=sorted(gen_torch.MODELS))
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=None,
                    help="warmup runs (default: clamp(iters/10, 3, 50), as bench.js)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.batch < 1 or args.iters < 1 or args.threads < 1:
        ap.error("--batch, --iters and --threads must be >= 1")
    warmup = args.warmup if args.warmup is not None else timing.default_warmup(args.iters)

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    model = gen_torch.build_model(args.model)
    rng = np.random.RandomState(args.seed)
    shape = gen_torch.input_shape(args.model, args.batch)
    x = torch.from_numpy(rng.uniform(-1.0, 1.0, size=shape).astype(np.float32))

    with torch.inference_mode():
        times, cpu_us = timing.time_calls(model, [x], args.iters, warmup)
    timing.print_result("pytorch " + TORCH_VERSION, args.model, args.batch, args.threads, times,
                        cpu_us)
    return 0


if __name__ == "__main__":
    sys.exit(main())
