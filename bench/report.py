#!/usr/bin/python3
"""Turns bench/run.sh's JSON lines into a Markdown table with ratios.

Ratio columns are peer time / tiffin time: above 1 means tiffin is faster.
With --doc PATH, writes docs/benchmarks.md (machine, date, command, table).
"""
import argparse
import datetime
import json
import os
import platform
import subprocess


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--doc")
    args = ap.parse_args()
    rows = [json.loads(l) for l in open(args.results) if l.strip()]
    by = {}
    for r in rows:
        peer = r["peer"].split()[0]
        by.setdefault((r["model"], r["batch"]), {})[peer] = r
    lines = ["| model | batch | threads | tiffin p50 µs | ONNX Runtime p50 µs | PyTorch p50 µs | "
             "tiffin rows/s | ORT / tiffin | PyTorch / tiffin |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (model, batch), peers in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        t = peers.get("tiffin")
        o = peers.get("onnxruntime-node")
        p = peers.get("pytorch")
        if not t:
            continue
        def ratio(x):
            return f"{x['p50_us'] / t['p50_us']:.2f}x" if x else "n/a"
        lines.append(f"| {model} | {batch} | {t['threads']} | {t['p50_us']:.1f} | "
                     f"{o['p50_us'] if o else float('nan'):.1f} | {p['p50_us'] if p else float('nan'):.1f} | "
                     f"{t['rows_per_s']:.0f} | {ratio(o)} | {ratio(p)} |")
    table = "\n".join(lines)
    print(table)
    if args.doc:
        peers = sorted({r["peer"] for r in rows})
        with open(args.doc, "w") as f:
            f.write("# Benchmarks\n\n")
            f.write(f"Measured on {datetime.date.today().isoformat()}, {cpu_name()}, "
                    f"{os.cpu_count()} cores, {platform.system()} {platform.release()}.\n\n")
            f.write("Command: `make bench` (runs `bench/run.sh build --doc docs/benchmarks.md`; "
                    "`THREADS=2 bench/run.sh build` for two threads).\n\n")
            f.write("Peers, run one after another in the same run on the same models "
                    "(`tests/golden/torch/*/model.onnx`) and random float32 inputs of the same shapes: "
                    + ", ".join(peers) + ". Times are the median (p50) of one `Run` call in process "
                    "(ONNX Runtime through its Node binding, which adds its own per-call overhead; "
                    "PyTorch in eval mode under `torch.inference_mode()`). "
                    "Ratios are peer time divided by tiffin time: above 1.00x, tiffin is faster.\n\n")
            f.write(table + "\n")
            f.write("\nRaw JSON lines: `build/bench/results.jsonl`.\n")


if __name__ == "__main__":
    main()
