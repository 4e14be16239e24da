#!/usr/bin/python3
"""Where the time of a converted scikit-learn graph goes: cuts the graph
`tiffin convert` wrote into pieces (the input Casts, the TreeEnsemble node,
the post-processing after it, prefixes of a linear pipeline, an Identity-only
graph for the fixed cost of one call) and times each piece with tiffin_bench
and tools/ort/bench.js on the same rows, one after another.

    /usr/bin/python3 bench/breakdown.py BUILD_DIR [--rows 1,100000] [--only REGEX]

Needs BUILD_DIR/bin/tiffin_bench, BUILD_DIR/bench/sklearn/<case>.onnx and
BUILD_DIR/sklearn-fixtures/<case>/X.npy (bench/run.sh --only sklearn writes
both). Debian's python3-onnx builds the pieces (no shape inference, so it
works with onnx versions that do not know ai.onnx.ml TreeEnsemble). Prints a
Markdown table: p50 wall time of one call (1 row) or the process CPU time per
call (more rows), in µs.
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def vi(name, width, elem=TensorProto.DOUBLE):
    return helper.make_tensor_value_info(name, elem, ["N", width] if width else ["N"])


def piece(model, inputs, outputs):
    """The nodes of `model` needed for `outputs` given `inputs` (name -> width)."""
    g = model.graph
    produced = {o: n for n in g.node for o in n.output}
    inits = {t.name for t in g.initializer}
    keep, todo, seen = [], list(outputs), set()
    while todo:
        name = todo.pop()
        if name in seen or name in inputs or name in inits or name not in produced:
            continue
        seen.add(name)
        node = produced[name]
        if node not in keep:
            keep.append(node)
            todo.extend(node.input)
    nodes = [n for n in g.node if n in keep]
    used = {i for n in nodes for i in n.input}
    elem_of = {o.name: o.type.tensor_type.elem_type for o in g.output}
    out_vis = []
    for name, width in outputs.items():
        out_vis.append(vi(name, width, elem_of.get(name, TensorProto.DOUBLE)))
    graph = helper.make_graph(nodes, "piece", [vi(n, w) for n, w in inputs.items()], out_vis,
                              [t for t in g.initializer if t.name in used])
    m = helper.make_model(graph, opset_imports=list(model.opset_import))
    m.ir_version = model.ir_version
    return m


def identity_model(width):
    graph = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "identity",
                              [vi("X", width)], [vi("Y", width)])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def pieces(case, model):
    """[(label, model, input width)]; input width 30 means X.npy rows."""
    names = [n.op_type for n in model.graph.node]
    out = []
    if case == "bench__scaler_logreg":
        chain = []
        for i, n in enumerate(model.graph.node[:4]):
            chain.append(n.op_type)
            out.append((f"X -> {'+'.join(chain)} ({i + 1} nodes)",
                        piece(model, {"X": 30}, {n.output[0]: 1 if i >= 2 else 30}), 30))
        add = model.graph.node[3].output[0]
        post = {o.name: (2 if o.name == "probabilities" else 0) for o in model.graph.output}
        out.append(("post-processing after Add (" + str(len(names) - 4) + " nodes)",
                    piece(model, {add: 1}, post), 1))
    else:
        te = next(n for n in model.graph.node if n.op_type == "TreeEnsemble")
        te_in, te_out = te.input[0], te.output[0]
        width = next(a.i for a in te.attribute if a.name == "n_targets")
        if te_in != "X":
            out.append(("X -> Casts before TreeEnsemble",
                        piece(model, {"X": 30}, {te_in: 30}), 30))
        roots = next(len(a.ints) for a in te.attribute if a.name == "tree_roots")
        out.append((f"TreeEnsemble alone ({roots} trees, {width} targets)",
                    piece(model, {te_in: 30}, {te_out: width}), 30))
        post = {o.name: (2 if o.name == "probabilities" else 0) for o in model.graph.output}
        k = len(model.graph.node) - names.index("TreeEnsemble") - 1
        out.append((f"post-processing after TreeEnsemble ({k} nodes)",
                    piece(model, {te_out: width}, post), width))
    out.append(("Identity only (fixed cost of one call)", identity_model(30), 30))
    return out


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"
    return json.loads(r.stdout.strip().splitlines()[-1]), None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--rows", default="1,100000")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    rows = [int(r) for r in args.rows.split(",")]
    work = os.path.join(args.build, "bench", "breakdown")
    os.makedirs(work, exist_ok=True)
    print("| model | piece | rows | tiffin µs | ONNX Runtime µs (Node) | ORT / tiffin |")
    print("|---|---|---|---|---|---|")
    for case in ("bench__scaler_logreg", "bench__rf100", "bench__hgb"):
        if args.only and not re.search(args.only, case):
            continue
        full = os.path.join(args.build, "bench", "sklearn", case + ".onnx")
        x = os.path.join(args.build, "sklearn-fixtures", case, "X.npy")
        model = onnx.load(full)
        items = [("whole graph", None, 30)] + pieces(case, model)
        rng = np.random.RandomState(0)
        for i, (label, m, width) in enumerate(items):
            path = full
            if m is not None:
                path = os.path.join(work, f"{case}.{i}.onnx")
                onnx.save(m, path)
            inp = x
            if width != 30:
                inp = os.path.join(work, f"{case}.{i}.npy")
                np.save(inp, rng.uniform(-2, 2, size=(60, width)))
            for n in rows:
                iters, warm = (20000, 200) if n == 1 else (5, 1)
                common = ["--input", inp, "--batch", str(n), "--iters", str(iters),
                          "--warmup", str(warm), "--threads", "1"]
                t, terr = run([os.path.join(args.build, "bin", "tiffin_bench"), path] + common)
                o, oerr = run(["node", os.path.join(ROOT, "tools", "ort", "bench.js"), path]
                              + common)
                # 1 row: p50 wall time; more rows: process CPU time per call
                # (robust on a shared machine where the wall time includes
                # waiting for a core).
                key = "p50_us" if n == 1 else "cpu_us"
                tv = f"{t[key]:.1f}" if t else f"error: {terr}"
                ov = f"{o[key]:.1f}" if o else f"error: {oerr}"
                ratio = f"{o[key] / t[key]:.2f}x" if t and o else "n/a"
                print(f"| {case.replace('bench__', '')} | {label} | {n:,} | {tv} | {ov} | {ratio} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
