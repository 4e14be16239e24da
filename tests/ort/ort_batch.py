"""What the ONNX Runtime checks of converted graphs share: whether ONNX
Runtime can run here, converting a model with `tiffin convert` (and reading
its inputs and outputs with `tiffin inspect --json`), and running many ONNX
files in one Node.js process (tools/ort/run_batch.js)."""
import json
import os
import shutil
import subprocess


def skip_reason(source):
    """Why ONNX Runtime cannot run here, or None (callers exit 77, ctest's skip)."""
    if shutil.which("node") is None:
        return "Node.js is not installed"
    if not os.path.isdir(os.path.join(source, "tools", "ort", "node_modules", "onnxruntime-node")):
        return "tools/ort/node_modules/onnxruntime-node is missing; run scripts/setup.sh"
    return None


def convert(tiffin, model, onnx, extra=(), inspect=True):
    """Converts `model` to `onnx`; returns (inspect --json of the ONNX file, or
    {} without `inspect`; None) or (None, tiffin's error)."""
    r = subprocess.run([tiffin, "convert", model, "-o", onnx, *extra], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    if not inspect:
        return {}, None
    info = subprocess.run([tiffin, "inspect", onnx, "--json"], capture_output=True, text=True,
                          check=True)
    return json.loads(info.stdout), None


def run_batch(source, tmp, jobs):
    """Runs every {"model", "inputs"} job in ONNX Runtime; one result each:
    {"outputs": {name: {"type", "dims", "data"}}} or {"error": text}."""
    jobs_path, res_path = os.path.join(tmp, "jobs.json"), os.path.join(tmp, "results.json")
    with open(jobs_path, "w") as f:
        json.dump(jobs, f)
    subprocess.run(["node", os.path.join(source, "tools", "ort", "run_batch.js"), jobs_path,
                    res_path], check=True)
    with open(res_path) as f:
        return json.load(f)
