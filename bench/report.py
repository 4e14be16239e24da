#!/usr/bin/python3
"""Turns bench/run.sh's JSON lines into Markdown tables with ratios.

Two tables: the neural-network models (tiffin, ONNX Runtime, PyTorch) and the
scikit-learn models (tiffin, scikit-learn, ONNX Runtime). Ratio columns are
peer time / tiffin time: above 1 means tiffin is faster.

With --doc PATH, writes docs/benchmarks.md: one section per table, each with
its machine, date and command. A part that has no rows in RESULTS (a
`run.sh --only ...` run) keeps its section from the existing PATH.
"""
import argparse
import datetime
import json
import os
import platform
import re

# "sklearn-profile" is written by hand (where the time goes); it is kept as is.
SECTIONS = ("torch", "sklearn", "sklearn-profile")
SKLEARN_DESC = {
    "bench__scaler_logreg": "StandardScaler + LogisticRegression",
    "bench__rf100": "RandomForestClassifier, 100 trees",
    "bench__hgb": "HistGradientBoostingClassifier",
}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_line():
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"Measured on {datetime.date.today().isoformat()}, {cpu_name()}, "
            f"{os.cpu_count()} cores (`nproc`), {platform.system()} {platform.release()}; "
            f"load average at the end of the run {load} (the machine is shared, so "
            f"other processes ran at the same time).")


def group(rows):
    """{(model, batch): {peer key: row}}; scikit-learn rows keyed by method."""
    by = {}
    for r in rows:
        peer = r["peer"].split()[0]
        if peer == "scikit-learn":
            peer += ":" + r.get("method", "predict_proba")
        by.setdefault((r["model"], r["batch"]), {})[peer] = r
    return by


def torch_table(by):
    lines = ["| model | batch | threads | tiffin p50 µs | ONNX Runtime p50 µs | PyTorch p50 µs | "
             "tiffin rows/s | ORT / tiffin | PyTorch / tiffin |",
             "|---|---|---|---|---|---|---|---|---|"]
    n = 0
    for (model, batch), peers in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        t = peers.get("tiffin")
        o = peers.get("onnxruntime-node")
        p = peers.get("pytorch")
        if not t or any(k.startswith("scikit-learn") for k in peers):
            continue
        n += 1

        def ratio(x):
            return f"{x['p50_us'] / t['p50_us']:.2f}x" if x else "n/a"
        lines.append(f"| {model} | {batch} | {t['threads']} | {t['p50_us']:.1f} | "
                     f"{o['p50_us'] if o else float('nan'):.1f} | "
                     f"{p['p50_us'] if p else float('nan'):.1f} | "
                     f"{t['rows_per_s']:.0f} | {ratio(o)} | {ratio(p)} |")
    return "\n".join(lines) if n else ""


def _us(v):
    return f"{v:.1f} µs" if v < 1000 else f"{v / 1000:.2f} ms"


def sklearn_table(by):
    """Returns (table, target lines)."""
    lines = ["| model | rows per call | measure | tiffin | scikit-learn predict_proba | "
             "scikit-learn predict | ONNX Runtime | scikit-learn / tiffin | ORT / tiffin |",
             "|---|---|---|---|---|---|---|---|---|"]
    targets = []
    keys = [k for k, peers in by.items()
            if "tiffin" in peers and any(p.startswith("scikit-learn") for p in peers)]
    order = {m: i for i, m in enumerate(SKLEARN_DESC)}
    keys.sort(key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
    for model, batch in keys:
        peers = by[(model, batch)]
        t = peers["tiffin"]
        sp = peers.get("scikit-learn:predict_proba")
        sk = peers.get("scikit-learn:predict")
        o = peers.get("onnxruntime-node")
        name = model.replace("bench__", "")
        if batch == 1:
            measures = [("p50", "p50_us"), ("p99", "p99_us")]
        else:
            measures = [("mean per call", "mean_us"), ("rows/s", "rows_per_s"),
                        ("CPU time per call", "cpu_us")]
        for label, key in measures:
            def cell(x):
                if not x or key not in x:
                    return "n/a"
                return f"{x[key] / 1e6:.3f} M" if key == "rows_per_s" else _us(x[key])

            def ratio(x):
                if not x or key not in x:
                    return "n/a"
                # time ratios peer / tiffin; throughput ratio tiffin / peer,
                # so that above 1.00x always means tiffin is faster.
                v = t[key] / x[key] if key == "rows_per_s" else x[key] / t[key]
                return f"{v:.2f}x"
            lines.append(f"| {name} | {batch:,} | {label} | {cell(t)} | {cell(sp)} | {cell(sk)} | "
                         f"{cell(o)} | {ratio(sp)} | {ratio(o)} |")
        if batch == 1:
            if sp:
                r = sp["p50_us"] / t["p50_us"]
                targets.append(f"- {name}, 1 row: p50 {r:.1f}x faster than scikit-learn "
                               f"predict_proba (target 50x): {'met' if r >= 50 else 'MISSED'}")
            if o:
                r = o["p50_us"] / t["p50_us"]
                targets.append(f"- {name}, 1 row: p50 {r:.2f}x ONNX Runtime's time "
                               f"(target > 1x): {'met' if r > 1 else 'MISSED'}")
        elif o:
            r = t["rows_per_s"] / o["rows_per_s"]
            cpu = (f"; by CPU time per call {o['cpu_us'] / t['cpu_us']:.2f}x"
                   if "cpu_us" in t and "cpu_us" in o else "")
            targets.append(f"- {name}, {batch:,} rows: {r:.2f}x ONNX Runtime's rows/s{cpu} "
                           f"(target >= 1x): {'met' if r >= 1 else 'MISSED'}")
    if not keys:
        return "", []
    return "\n".join(lines), targets


def torch_section(table, peers, command):
    return ("## Neural networks: tiffin, ONNX Runtime, PyTorch\n\n" + machine_line() + "\n\n"
            f"Command: `{command}` (`make bench` runs `bench/run.sh build`; "
            "`THREADS=2 bench/run.sh build` for two threads).\n\n"
            "Peers, run one after another in the same run on the same models "
            "(`tests/golden/torch/*/model.onnx`) and random float32 inputs of the same shapes: "
            + ", ".join(peers) + ". Times are the median (p50) of one `Run` call in process "
            "(ONNX Runtime through its Node binding, which adds its own per-call overhead; "
            "PyTorch in eval mode under `torch.inference_mode()`). "
            "Ratios are peer time divided by tiffin time: above 1.00x, tiffin is faster.\n\n"
            + table + "\n")


def sklearn_section(table, targets, peers, threads, command):
    return ("## scikit-learn models: tiffin, scikit-learn, ONNX Runtime\n\n" + machine_line()
            + "\n\n"
            f"Command: `{command}` (the scikit-learn part alone: "
            "`bench/run.sh build --only sklearn --doc docs/benchmarks.md`). "
            f"Threads: {threads} everywhere (OPENBLAS/OMP/MKL_NUM_THREADS, threadpoolctl for "
            "scikit-learn, `intraOpNumThreads` for ONNX Runtime).\n\n"
            "Models: the `bench__*` cases of `tests/golden/gen/gen_sklearn.py` (breast cancer, "
            "30 float64 features): scaler_logreg = StandardScaler + LogisticRegression, "
            "rf100 = RandomForestClassifier with 100 trees, hgb = "
            "HistGradientBoostingClassifier. Peers, run one after another in the same run: "
            + ", ".join(peers) + ". tiffin loads `model.pkl` itself and computes every output "
            "(label, probabilities and, where the graph has it, decision_function); "
            "scikit-learn unpickles the same file and calls `predict_proba` or `predict`; "
            "ONNX Runtime runs the graph `tiffin convert model.pkl -o model.onnx` writes, "
            "fetching every output, through its Node binding (`tools/ort/bench.js`, which "
            "adds the binding's per-call overhead: tensor wrapping and a Promise). "
            "Inputs: the fixture's 60 held-out rows (`X.npy`, float64). 1 row: one call per "
            "row, cycling through the 60 rows (20,000 calls for tiffin and ONNX Runtime; "
            "3,000 for scikit-learn, 1,000 for its random forest); p50 and p99 of one call. "
            "100,000 rows: the 60 rows tiled to 100,000, one call timed 10 times after 2 "
            "warmup calls; mean time per call and rows/s. Ratios: scikit-learn "
            "(predict_proba) or ONNX Runtime time divided by tiffin time (tiffin rows/s "
            "divided by peer rows/s): above 1.00x, tiffin is faster. CPU time per call is the "
            "process's CPU time over the timed calls divided by their number: on this shared "
            "machine a wall time well above it means the process waited for a core.\n\n"
            + table + "\n\nTargets (issue \"Benchmarks (same run, same inputs)\"):\n\n"
            + "\n".join(targets) + "\n")


def read_sections(path):
    """Existing doc's sections {name: text}; a doc from before the sections
    existed holds the torch part only."""
    try:
        text = open(path).read()
    except OSError:
        return {}
    found = {}
    # Every marked section, also those other scripts write by hand or keep
    # (bundle load, serve, xgboost): they are kept, in their order.
    for m in re.finditer(r"<!-- bench:([\w-]+) -->\n(.*?)<!-- /bench:\1 -->", text, re.S):
        found[m.group(1)] = m.group(2)
    if not found and "| model | batch | threads |" in text:
        body = text.split("\n", 1)[1] if text.startswith("# Benchmarks") else text
        body = body.split("\nRaw JSON lines")[0].strip("\n")
        found["torch"] = ("## Neural networks: tiffin, ONNX Runtime, PyTorch\n\n" + body + "\n")
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--doc")
    ap.add_argument("--command", default="bench/run.sh build --doc docs/benchmarks.md")
    args = ap.parse_args()
    rows = [json.loads(l) for l in open(args.results) if l.strip()]
    by = group(rows)
    ttable = torch_table(by)
    stable, targets = sklearn_table(by)
    if ttable:
        print(ttable)
    if stable:
        if ttable:
            print()
        print(stable)
        print()
        print("\n".join(targets))
    if not args.doc:
        return
    sk_models = {m for (m, _), peers in by.items()
                 if any(p.startswith("scikit-learn") for p in peers)}
    tpeers = sorted({r["peer"] for r in rows if r["model"] not in sk_models})
    speers = sorted({r["peer"] for r in rows if r["model"] in sk_models})
    threads = sorted({r["threads"] for r in rows if r["model"] in sk_models})
    sections = read_sections(args.doc)
    if ttable:
        sections["torch"] = torch_section(ttable, tpeers, args.command)
    if stable:
        sections["sklearn"] = sklearn_section(stable, targets, speers,
                                              ", ".join(map(str, threads)), args.command)
    with open(args.doc, "w") as f:
        f.write("# Benchmarks\n\n")
        for name in list(SECTIONS) + [n for n in sections if n not in SECTIONS]:
            if name in sections:
                f.write(f"<!-- bench:{name} -->\n{sections[name]}<!-- /bench:{name} -->\n\n")
        parts = " and ".join(n for n, t in (("torch", ttable), ("sklearn", stable)) if t)
        f.write(f"Raw JSON lines of the latest run ({parts} part): `{args.results}`.\n")


if __name__ == "__main__":
    main()
