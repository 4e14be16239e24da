#!/usr/bin/python3
"""End-to-end tests of `tiffin serve`: the real binary on a free loopback
port, driven with http.client, requests and curl.

Models: a scikit-learn (model, scaler) pickle packed into a .tiffin (its
predictions compared with scikit-learn's own), and small ONNX graphs written
here with onnx's helper, y = x * k with k = the version number, so that every
response says which complete version computed it.

Covers: V2 health/metadata/ready/infer (JSON, binary extension, "pd" tabular),
repository index/load/unload, stats; TF Serving status/metadata/predict with
versions and labels, :classify and :regress (against scikit-learn), {"b64"}
values and *_bytes outputs; per-model config.pbtxt; polling that unloads
removed versions and models; MLflow /invocations (JSON forms, CSV, 415), /ping,
/health, /version; /metrics; malformed input (bad JSON, shapes, dtypes, huge
shapes, truncated bodies, slowloris, 413, 503); hot reload under load (50
swaps, no failed request); a failed load keeps the old version; dynamic
batching; redaction; graceful SIGTERM.

usage: server_test.py TIFFIN SOURCE_DIR
"""
import http.client
import json
import os
import pickle
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import numpy as np
import onnx
import requests
from onnx import TensorProto, helper

TIFFIN, SOURCE = sys.argv[1], sys.argv[2]
SK = os.path.join(SOURCE, "examples", "sklearn_iris")
TMP = tempfile.mkdtemp(prefix="tiffin_serve_test_")
results = []
servers = []


def case(fn):
    t0 = time.time()
    try:
        fn()
        results.append((fn.__name__, None, time.time() - t0))
    except Exception as e:  # noqa: BLE001 - report every failure, keep going
        import traceback
        traceback.print_exc()
        results.append((fn.__name__, f"{type(e).__name__}: {e}", time.time() - t0))
    return fn


def scale_model(path, k, dtype=TensorProto.FLOAT):
    """y = x * k, x [N, 3]."""
    x = helper.make_tensor_value_info("x", dtype, ["N", 3])
    y = helper.make_tensor_value_info("y", dtype, ["N", 3])
    kt = helper.make_tensor("k", dtype, [], [float(k)])
    g = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "scale", [x], [y], [kt])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(m, path)


def write_version(repo, name, v):
    """Writes version v of model `name` atomically (temp dir + rename)."""
    tmp = os.path.join(repo, name, f".tmp{v}")
    scale_model(os.path.join(tmp, "model.onnx"), v)
    os.rename(tmp, os.path.join(repo, name, str(v)))


class Server:
    def __init__(self, *args):
        self.proc = subprocess.Popen([TIFFIN, "serve", *args, "--http-port", "0"],
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.port = None
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            if '"event":"ready"' in line:
                self.port = json.loads(line)["port"]
                self.ready_line = json.loads(line)
                break
        assert self.port, "server did not start: " + "".join(self.lines)
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        self.url = f"http://127.0.0.1:{self.port}"
        servers.append(self)

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def get(self, path, **kw):
        return requests.get(self.url + path, timeout=10, **kw)

    def post(self, path, body=None, **kw):
        return requests.post(self.url + path, json=body, timeout=30, **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.returncode


def v2_input(name, arr, datatype="FP32"):
    return {"name": name, "shape": list(arr.shape), "datatype": datatype,
            "data": arr.flatten().tolist()}


# ---- fixtures -----------------------------------------------------------------
REPO = os.path.join(TMP, "repo")
for v in (1, 2):
    scale_model(os.path.join(REPO, "scale", str(v), "model.onnx"), v)
IRIS_BUNDLE = os.path.join(REPO, "iris", "model.tiffin")
os.makedirs(os.path.dirname(IRIS_BUNDLE))
r = subprocess.run([TIFFIN, "pack", os.path.join(SK, "model.pkl"), "-o", IRIS_BUNDLE, "--steps",
                    "scaler,model", "--reference", os.path.join(SK, "input.csv")],
                   capture_output=True, text=True)
assert r.returncode == 0, r.stderr
with open(os.path.join(SK, "model.pkl"), "rb") as f:
    SK_MODEL, SK_SCALER = pickle.load(f)
X = np.array([[5.1, 3.5, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4], [6.3, 3.3, 6.0, 2.5],
              [5.9, 3.0, 5.1, 1.8]])
SK_PROBA = SK_MODEL.predict_proba(SK_SCALER.transform(X))
SK_LABEL = SK_MODEL.predict(SK_SCALER.transform(X))
TOL = 1e-9  # float64 graph against scikit-learn's float64 arithmetic

S = Server(REPO, "--version-policy", "all", "--label", "scale:stable=1",
           "--label", "scale:canary=2", "--log-requests")


# ---- Open Inference Protocol -----------------------------------------------------------

@case
def v2_health_and_server_metadata():
    assert S.get("/v2/health/live").status_code == 200
    h = requests.head(S.url + "/v2/models/scale", timeout=5)
    assert h.status_code == 200 and int(h.headers["Content-Length"]) > 0 and h.content == b""
    assert S.get("/v2/health/ready").status_code == 200
    m = S.get("/v2").json()
    assert m["name"] == "tiffin" and "binary_tensor_data" in m["extensions"], m
    assert "model_repository" in m["extensions"] and "statistics" in m["extensions"], m
    assert S.ready_line["startup_ms"] < 1000, S.ready_line


@case
def v2_model_metadata_and_ready():
    m = S.get("/v2/models/scale").json()
    assert m["name"] == "scale" and m["versions"] == ["1", "2"], m
    assert m["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}], m
    assert m["outputs"][0]["name"] == "y", m
    assert S.get("/v2/models/scale/versions/1").status_code == 200
    assert S.get("/v2/models/scale/ready").status_code == 200
    assert S.get("/v2/models/scale/versions/2/ready").status_code == 200
    assert S.get("/v2/models/scale/versions/7/ready").status_code == 404
    r = S.get("/v2/models/nope")
    assert r.status_code == 404 and "nope" in r.json()["error"], r.text
    assert S.get("/v2/models/scale/versions/9").status_code == 404
    m = S.get("/v2/models/iris").json()
    assert m["inputs"][0]["datatype"] == "FP64", m


@case
def v2_infer_json_picks_versions():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    body = {"id": "req-7", "inputs": [v2_input("x", x)]}
    r = S.post("/v2/models/scale/infer", body).json()
    assert r["id"] == "req-7" and r["model_version"] == "2", r  # latest
    assert r["outputs"][0]["shape"] == [2, 3] and r["outputs"][0]["datatype"] == "FP32"
    assert r["outputs"][0]["data"] == (x * 2).flatten().tolist(), r
    r = S.post("/v2/models/scale/versions/1/infer", body).json()
    assert r["outputs"][0]["data"] == x.flatten().tolist() and r["model_version"] == "1", r
    # nested data works too
    body = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": x.tolist()}]}
    assert S.post("/v2/models/scale/infer", body).json()["outputs"][0]["data"][5] == 10.0


@case
def v2_infer_sklearn_bundle_matches_sklearn():
    body = {"inputs": [v2_input("X", X, "FP64")]}
    r = S.post("/v2/models/iris/infer", body)
    assert r.status_code == 200, r.text
    outs = {o["name"]: o for o in r.json()["outputs"]}
    assert outs["label"]["data"] == SK_LABEL.tolist(), outs["label"]
    got = np.array(outs["probabilities"]["data"]).reshape(outs["probabilities"]["shape"])
    assert np.abs(got - SK_PROBA).max() < TOL, np.abs(got - SK_PROBA).max()
    # requested outputs only
    body["outputs"] = [{"name": "label"}]
    r = S.post("/v2/models/iris/infer", body).json()
    assert [o["name"] for o in r["outputs"]] == ["label"], r
    # far outside the training range: answered, with the bundle's warning
    far = {"inputs": [v2_input("X", np.array([[500.0, 3.0, 5.1, 1.8]]), "FP64")]}
    r = S.post("/v2/models/iris/infer", far).json()
    assert r["outputs"] and r.get("warnings"), r
    body["outputs"] = [{"name": "nope"}]
    r = S.post("/v2/models/iris/infer", body)
    assert r.status_code == 400 and "nope" in r.json()["error"], r.text


@case
def v2_infer_binary_tensor_extension():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    header = json.dumps({"inputs": [{"name": "x", "shape": [4, 3], "datatype": "FP32",
                                     "parameters": {"binary_data_size": x.nbytes}}],
                         "outputs": [{"name": "y", "parameters": {"binary_data": True}}]})
    body = header.encode() + x.tobytes()
    r = requests.post(S.url + "/v2/models/scale/versions/2/infer", data=body,
                      headers={"Inference-Header-Content-Length": str(len(header)),
                               "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    n = int(r.headers["Inference-Header-Content-Length"])
    meta = json.loads(r.content[:n])
    out = meta["outputs"][0]
    assert out["parameters"]["binary_data_size"] == 48, meta
    y = np.frombuffer(r.content[n:], dtype=np.float32).reshape(out["shape"])
    assert (y == x * 2).all(), y
    # JSON output of a binary input
    header = json.dumps({"inputs": [{"name": "x", "shape": [4, 3], "datatype": "FP32",
                                     "parameters": {"binary_data_size": x.nbytes}}]})
    r = requests.post(S.url + "/v2/models/scale/versions/1/infer",
                      data=header.encode() + x.tobytes(),
                      headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.json()["outputs"][0]["data"] == x.flatten().tolist(), r.text
    # size that does not match the shape
    r = requests.post(S.url + "/v2/models/scale/infer", data=header.encode() + x.tobytes()[:40],
                      headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 400 and "binary" in r.json()["error"], r.text


@case
def v2_infer_pd_tabular_columns():
    names = ["sl", "sw", "pl", "pw"]
    body = {"parameters": {"content_type": "pd"},
            "inputs": [{"name": n, "shape": [len(X)], "datatype": "FP64",
                        "data": X[:, i].tolist()} for i, n in enumerate(names)]}
    r = S.post("/v2/models/iris/infer", body)
    assert r.status_code == 200, r.text
    outs = {o["name"]: o for o in r.json()["outputs"]}
    assert outs["label"]["data"] == SK_LABEL.tolist(), outs


@case
def v2_repository_index_load_unload_and_stats():
    idx = S.post("/v2/repository/index").json()
    entries = {(e["name"], e.get("version")): e for e in idx}
    assert entries[("scale", "1")]["state"] == "READY", idx
    assert entries[("iris", "1")]["state"] == "READY", idx
    assert S.post("/v2/repository/models/iris/unload").status_code == 200
    assert S.get("/v2/models/iris/ready").status_code == 404
    assert S.get("/v2/health/ready").status_code == 200  # unloaded on purpose
    idx = S.post("/v2/repository/index").json()
    assert any(e["name"] == "iris" and e["state"] == "UNAVAILABLE" for e in idx), idx
    assert S.post("/v2/repository/index", {"ready": True}).json().__len__() == 2
    assert S.post("/v2/repository/models/iris/load").status_code == 200
    assert S.get("/v2/models/iris/ready").status_code == 200
    r = S.post("/v2/repository/models/ghost/load")
    assert r.status_code == 404, r.text
    st = S.get("/v2/models/scale/versions/2/stats").json()["model_stats"][0]
    assert st["name"] == "scale" and st["inference_stats"]["success"]["count"] >= 2, st
    assert st["inference_count"] >= 8 and st["execution_count"] >= 2, st
    allst = S.get("/v2/models/stats").json()["model_stats"]
    assert {s["name"] for s in allst} == {"scale", "iris"}, allst
    assert S.get("/v2/models/ghost/stats").status_code == 404


# ---- TF Serving --------------------------------------------------------------------

@case
def tf_serving_status_metadata_predict():
    st = S.get("/v1/models/scale").json()
    assert [s["version"] for s in st["model_version_status"]] == ["1", "2"], st
    assert st["model_version_status"][0]["state"] == "AVAILABLE", st
    assert S.get("/v1/models/scale/versions/2").json()["model_version_status"][0]["version"] == "2"
    assert S.get("/v1/models/scale/labels/stable").json()["model_version_status"][0]["version"] == "1"
    r = S.get("/v1/models/half")
    assert r.status_code == 404 and "error" in r.json(), r.text
    md = S.get("/v1/models/scale/metadata").json()
    sig = md["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["x"]["dtype"] == "DT_FLOAT", md
    assert md["model_spec"]["version"] == "2", md
    r = S.post("/v1/models/scale:predict", {"instances": [[1, 2, 3], [4, 5, 6]]}).json()
    assert r == {"predictions": [[2, 4, 6], [8, 10, 12]]}, r
    r = S.post("/v1/models/scale/labels/stable:predict", {"instances": [[1, 2, 3]]}).json()
    assert r == {"predictions": [[1, 2, 3]]}, r
    r = S.post("/v1/models/scale/versions/1:predict", {"inputs": {"x": [[1, 2, 3]]}}).json()
    assert r == {"outputs": [[1, 2, 3]]}, r
    r = S.post("/v1/models/scale/labels/canary:predict", {"inputs": [[1, 1, 1]]}).json()
    assert r == {"outputs": [[2, 2, 2]]}, r
    r = S.post("/v1/models/scale/labels/nolabel:predict", {"inputs": [[1, 1, 1]]})
    assert r.status_code == 404, r.text
    r = S.post("/v1/models/scale:predict", {"inputs": [[1, 1, 1]], "instances": [[1, 1, 1]]})
    assert r.status_code == 400, r.text
    # several outputs: row format gives one object per row
    r = S.post("/v1/models/iris:predict", {"instances": X.tolist()}).json()
    assert [p["label"] for p in r["predictions"]] == SK_LABEL.tolist(), r
    got = np.array([p["probabilities"] for p in r["predictions"]])
    assert np.abs(got - SK_PROBA).max() < TOL
    r = S.post("/v1/models/iris:predict", {"inputs": {"X": X.tolist()}}).json()
    assert r["outputs"]["label"] == SK_LABEL.tolist(), r


# ---- MLflow ----------------------------------------------------------------

M = Server(IRIS_BUNDLE, "--model-name", "iris")


@case
def mlflow_invocations_every_form():
    cols = ["a", "b", "c", "d"]
    for body in ({"dataframe_split": {"columns": cols, "data": X.tolist()}},
                 {"dataframe_records": [dict(zip(cols, row)) for row in X.tolist()]},
                 {"instances": X.tolist()},
                 {"inputs": X.tolist()},
                 {"dataframe_split": {"columns": cols, "data": X.tolist()}, "params": {}}):
        r = M.post("/invocations", body)
        assert r.status_code == 200, (body, r.text)
        assert r.json() == {"predictions": SK_LABEL.tolist()}, r.text
    csv = "a,b,c,d\n" + "\n".join(",".join(str(v) for v in row) for row in X.tolist())
    r = requests.post(M.url + "/invocations", data=csv, headers={"Content-Type": "text/csv"})
    assert r.json() == {"predictions": SK_LABEL.tolist()}, r.text
    r = requests.post(M.url + "/invocations", data=csv,
                      headers={"Content-Type": "text/plain"})
    assert r.status_code == 415, r.text
    r = requests.post(M.url + "/invocations", data=csv,
                      headers={"Content-Type": "text/csv; charset=latin-1"})
    assert r.status_code == 415, r.text
    r = M.post("/invocations", [[1, 2, 3, 4]])
    assert r.status_code == 400 and r.json()["error_code"] == "BAD_REQUEST", r.text
    r = M.post("/invocations", {"instances": X.tolist(), "inputs": X.tolist()})
    assert r.status_code == 400, r.text
    assert M.get("/ping").status_code == 200 and M.get("/health").status_code == 200
    assert re.match(r"\d+\.\d+\.\d+", M.get("/version").text), M.get("/version").text
    # a repository with several models refuses /invocations
    r = S.post("/invocations", {"instances": X.tolist()})
    assert r.status_code == 400 and "several" in r.json()["message"], r.text


# ---- metrics -----------------------------------------------------------------

@case
def prometheus_metrics_with_triton_names():
    x = np.ones((5, 3), dtype=np.float32)
    before = S.get("/v2/models/scale/versions/1/stats").json()["model_stats"][0]
    for _ in range(3):
        S.post("/v2/models/scale/versions/1/infer", {"inputs": [v2_input("x", x)]})
    S.post("/v2/models/scale/versions/1/infer", {"inputs": [v2_input("x", np.ones((2, 2)))]})
    r = S.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain"), r.headers
    text = r.text
    def metric(name, version="1"):
        m = re.search(rf'^{name}{{model="scale",version="{version}"}} ([0-9.e+]+)$', text, re.M)
        assert m, name + " missing:\n" + text
        return float(m.group(1))
    assert metric("nv_inference_request_success") == before["inference_stats"]["success"]["count"] + 3
    assert metric("nv_inference_request_failure") >= 1
    assert metric("nv_inference_count") == before["inference_count"] + 15
    assert metric("nv_inference_exec_count") >= 3
    for name in ("nv_inference_request_duration_us", "nv_inference_queue_duration_us",
                 "nv_inference_compute_infer_duration_us"):
        assert metric(name) > 0, name
    assert re.search(r"^process_cpu_seconds_total [0-9.]+$", text, re.M), text
    rss = re.search(r"^process_resident_memory_bytes (\d+)$", text, re.M)
    assert rss and int(rss.group(1)) > 0, text
    print(f"  RSS with 3 models loaded: {int(rss.group(1)) / 1e6:.1f} MB")


# ---- errors and malformed input ------------------------------------------------------

def raw(port, data, read=True, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    if read:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    head, _, rest = out.partition(b"\r\n\r\n")
                    m = re.search(rb"Content-Length: (\d+)", head, re.I)
                    if m and len(rest) >= int(m.group(1)):
                        break
        except socket.timeout:
            pass
    s.close()
    return out


@case
def malformed_requests_get_4xx_with_details():
    url = "/v2/models/scale/versions/1/infer"
    r = requests.post(S.url + url, data="{not json")
    assert r.status_code == 400 and "JSON" in r.json()["error"], r.text
    # wrong shape: details name the input, expected and got
    r = S.post(url, {"inputs": [v2_input("x", np.ones((2, 4), dtype=np.float32))]})
    assert r.status_code == 400, r.text
    d = r.json()["details"][0]
    assert d["input"] == "x" and d["expected"] == "FP32 [N,3]" and d["got"] == "FP32 [2,4]", d
    # wrong input name
    r = S.post(url, {"inputs": [v2_input("z", np.ones((2, 3), dtype=np.float32))]})
    body = r.json()
    assert r.status_code == 400 and {d["problem"] for d in body["details"]} == \
        {"unexpected input", "missing input"}, body
    # wrong dtype: text into a float input
    r = S.post(url, {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "BYTES",
                                  "data": ["a", "b", "c"]}]})
    assert r.status_code == 400, r.text
    # lossy dtype: float64 values that do not fit float32 exactly are refused
    r = S.post("/v2/models/iris/infer",
               {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "BYTES",
                            "data": ["x", "y", "z", "w"]}]})
    assert r.status_code == 400, r.text
    # huge declared shape with little data
    r = S.post(url, {"inputs": [{"name": "x", "shape": [1000000000, 1000000000, 3],
                                  "datatype": "FP32", "data": [1, 2, 3]}]})
    assert r.status_code == 400, r.text
    header = json.dumps({"inputs": [{"name": "x", "shape": [4611686018427387904, 3],
                                     "datatype": "FP32",
                                     "parameters": {"binary_data_size": 12}}]})
    r = requests.post(S.url + url, data=header.encode() + b"\0" * 12,
                      headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 400, r.text
    r = requests.post(S.url + url, data=b"{}",
                      headers={"Inference-Header-Content-Length": "999"})
    assert r.status_code == 400, r.text
    # no route, wrong method
    assert S.get("/nope").status_code == 404
    assert S.get(url).status_code == 405
    # malformed HTTP
    out = raw(S.port, b"GARBAGE\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out
    # truncated body: Content-Length larger than what is sent, then close
    raw(S.port, b"POST " + url.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"in",
        read=False)
    # everything still served
    r = S.post(url, {"inputs": [v2_input("x", np.ones((1, 3), dtype=np.float32))]})
    assert r.status_code == 200, r.text
    assert not any('"status":500' in line for line in S.lines), "a 500 in the log"


@case
def slowloris_is_cut_off_and_others_are_served():
    srv = Server(REPO, "--request-timeout-ms", "1000", "--threads", "2")
    socks = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"POST /v2/models/scale/infer HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    # others are served while the slow clients hang
    x = np.ones((1, 3), dtype=np.float32)
    t0 = time.time()
    r = srv.post("/v2/models/scale/infer", {"inputs": [v2_input("x", x)]})
    assert r.status_code == 200 and time.time() - t0 < 0.5, r.text
    time.sleep(1.5)
    closed = 0
    for s in socks:
        s.settimeout(1)
        try:
            s.sendall(b"X-Slow: 1\r\n")
            if s.recv(100) == b"":
                closed += 1
        except OSError:
            closed += 1
        s.close()
    assert closed == 20, f"only {closed}/20 slow connections closed"
    assert srv.post("/v2/models/scale/infer", {"inputs": [v2_input("x", x)]}).status_code == 200
    assert srv.stop() == 0


@case
def body_over_the_limit_gets_413_and_busy_gets_503():
    srv = Server(REPO, "--max-body-bytes", "4096", "--max-in-flight", "1", "--threads", "1")
    big = {"inputs": [v2_input("x", np.ones((1000, 3), dtype=np.float32))]}
    r = srv.post("/v2/models/scale/infer", big)
    assert r.status_code == 413, r.text
    small = {"inputs": [v2_input("x", np.ones((100, 3), dtype=np.float32))]}
    codes = []
    lock = threading.Lock()

    def hammer():
        sess = requests.Session()
        for _ in range(40):
            rr = sess.post(srv.url + "/v2/models/scale/infer", json=small, timeout=10)
            with lock:
                codes.append((rr.status_code, rr.headers.get("Retry-After")))
    ts = [threading.Thread(target=hammer) for _ in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert {c for c, _ in codes} <= {200, 503}, codes
    busy = [ra for c, ra in codes if c == 503]
    assert busy and all(ra == "1" for ra in busy), codes
    print(f"  503s with --max-in-flight 1: {len(busy)}/{len(codes)}")
    assert srv.post("/v2/models/scale/infer", small).status_code == 200
    assert srv.stop() == 0


@case
def redacted_errors_hold_no_values():
    srv = Server(IRIS_BUNDLE, "--model-name", "iris", "--redact-errors")
    r = srv.post("/invocations", {"dataframe_split": {"columns": ["a", "b", "c", "d"],
                                                      "data": [[1, 2, "secret-value-42", 4]]}})
    assert r.status_code == 400 and "secret-value-42" not in r.text, r.text
    r = M.post("/invocations", {"dataframe_split": {"columns": ["a", "b", "c", "d"],
                                                    "data": [[1, 2, "secret-value-42", 4]]}})
    assert r.status_code == 400 and "secret-value-42" in r.text, r.text  # not redacted by default
    r = srv.post("/v2/models/iris/infer", {"inputs": [v2_input("X", np.ones((2, 5)), "FP64")]})
    assert r.status_code == 400 and r.json()["details"][0]["got"] == "FP64 [2,5]", r.text
    assert srv.stop() == 0


# ---- model management ------------------------------------------------------------

@case
def hot_reload_under_load_50_swaps():
    repo = os.path.join(TMP, "hot")
    os.makedirs(os.path.join(repo, "m"))
    write_version(repo, "m", 1)
    srv = Server(repo, "--threads", "4")
    stop = threading.Event()
    errors, seen, counts = [], set(), [0]
    lock = threading.Lock()

    def client(seed):
        sess = requests.Session()
        rng = np.random.default_rng(seed)
        while not stop.is_set():
            x = rng.integers(1, 100, size=(3, 3)).astype(np.float32)
            try:
                rr = sess.post(srv.url + "/v2/models/m/infer", json={"inputs": [v2_input("x", x)]},
                               timeout=10)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
                continue
            if rr.status_code != 200:
                errors.append(rr.text)
                continue
            out = rr.json()
            k = int(out["model_version"])
            y = np.array(out["outputs"][0]["data"]).reshape(3, 3)
            if not (y == x * k).all():
                errors.append(f"version {k} answered {y.tolist()} for {x.tolist()}")
            with lock:
                seen.add(k)
                counts[0] += 1
    ts = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    [t.start() for t in ts]
    for v in range(2, 52):
        write_version(repo, "m", v)
        rr = srv.post("/v2/repository/models/m/load")
        assert rr.status_code == 200, rr.text
        time.sleep(0.01)
    time.sleep(0.2)
    stop.set()
    [t.join() for t in ts]
    assert not errors, errors[:5]
    assert srv.get("/v2/models/m").json()["versions"] == ["51"]
    print(f"  {counts[0]} requests across 50 swaps, {len(seen)} versions answered, 0 failed")
    assert len(seen) > 10, seen
    # a broken new version: the old one keeps serving, the reason is in the index and log
    os.makedirs(os.path.join(repo, "m", "52"))
    with open(os.path.join(repo, "m", "52", "model.onnx"), "wb") as f:
        f.write(b"\x08\x07garbage")
    rr = srv.post("/v2/repository/models/m/load")
    idx = srv.post("/v2/repository/index").json()
    bad = [e for e in idx if e.get("version") == "52"]
    assert bad and bad[0]["state"] == "UNAVAILABLE" and bad[0]["reason"], idx
    r = srv.post("/v2/models/m/infer", {"inputs": [v2_input("x", np.ones((1, 3), np.float32))]})
    assert r.json()["model_version"] == "51", r.text
    assert any('"model_load_failed"' in line and '"version":52' in line for line in srv.lines)
    assert srv.stop() == 0


@case
def polling_picks_up_new_versions():
    repo = os.path.join(TMP, "poll")
    os.makedirs(os.path.join(repo, "p"))
    write_version(repo, "p", 1)
    srv = Server(repo, "--poll-seconds", "1", "--version-policy", "latest:2")
    write_version(repo, "p", 2)
    write_version(repo, "p", 3)
    deadline = time.time() + 10
    while time.time() < deadline and srv.get("/v2/models/p").json()["versions"] != ["2", "3"]:
        time.sleep(0.2)
    assert srv.get("/v2/models/p").json()["versions"] == ["2", "3"]
    assert srv.stop() == 0


@case
def dynamic_batching_keeps_each_requests_rows():
    srv = Server(REPO, "--max-batch-size", "32", "--max-queue-delay-us", "2000", "--threads", "16")
    errors = []

    def client(i):
        sess = requests.Session()
        for j in range(30):
            x = np.full((2, 3), i * 1000 + j, dtype=np.float32)
            rr = sess.post(srv.url + "/v2/models/scale/versions/2/infer",
                           json={"inputs": [v2_input("x", x)]}, timeout=10)
            if rr.status_code != 200 or rr.json()["outputs"][0]["data"] != (x * 2).flatten().tolist():
                errors.append(rr.text)
    ts = [threading.Thread(target=client, args=(i,)) for i in range(12)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors, errors[:3]
    text = srv.get("/metrics").text
    avg = float(re.search(r'tiffin_inference_average_batch_size{model="scale",version="2"} ([0-9.]+)',
                          text).group(1))
    print(f"  dynamic batching: average batch {avg:.2f} rows (requests of 2 rows, 12 clients)")
    assert avg > 2.0, avg
    assert srv.stop() == 0


@case
def example_models_match_their_libraries():
    srv = Server(os.path.join(SOURCE, "examples", "models"), "--inline")
    with open(os.path.join(SOURCE, "examples", "models", "iris_forest", "model.pkl"), "rb") as f:
        forest = pickle.load(f)
    r = srv.post("/v1/models/iris_forest:predict", {"instances": X.tolist()}).json()
    got = np.array([p["probabilities"] for p in r["predictions"]])
    assert np.abs(got - forest.predict_proba(X)).max() < 1e-9, got
    assert [p["label"] for p in r["predictions"]] == forest.predict(X).tolist()
    r = srv.post("/v2/models/iris_logreg/infer", {"inputs": [v2_input("X", X, "FP64")]}).json()
    assert r["outputs"][0]["data"] == SK_LABEL.tolist(), r
    with open(os.path.join(SOURCE, "examples", "iris_mlp", "input.json")) as f:
        feats = np.array(json.load(f)["features"], dtype=np.float32)
    with open(os.path.join(SOURCE, "examples", "iris_mlp", "expected_output.json")) as f:
        want = np.array(json.load(f)["probabilities"])  # PyTorch's
    r = srv.post("/v2/models/iris_mlp/infer", {"inputs": [v2_input("features", feats)]}).json()
    got = np.array(r["outputs"][0]["data"]).reshape(want.shape)
    assert np.abs(got - want).max() < 1e-5, np.abs(got - want).max()
    assert srv.stop() == 0


@case
def curl_drives_the_server():
    r = subprocess.run(["curl", "-sf", S.url + "/v2/health/ready"], capture_output=True)
    assert r.returncode == 0
    # a body over 1 KiB: curl sends "Expect: 100-continue" and waits for the 100
    path = os.path.join(TMP, "big.json")
    with open(path, "w") as f:
        json.dump({"inputs": [v2_input("x", np.ones((200, 3), dtype=np.float32))]}, f)
    t0 = time.time()
    r = subprocess.run(["curl", "-sf", "--data-binary", "@" + path,
                        S.url + "/v2/models/scale/versions/1/infer"], capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["outputs"][0]["shape"] == [200, 3], r
    assert time.time() - t0 < 0.5, f"curl took {time.time() - t0:.2f}s (100-continue not answered?)"
    r = subprocess.run(["curl", "-sf", "-H", "Content-Type: application/json", "-d",
                        '{"instances": [[1, 2, 3]]}', S.url + "/v1/models/scale:predict"],
                       capture_output=True, text=True)
    assert json.loads(r.stdout) == {"predictions": [[2, 4, 6]]}, r.stdout


@case
def sigterm_drains_and_exits_0():
    srv = Server(REPO, "--max-batch-size", "64", "--max-queue-delay-us", "500000")
    # a request waits 0.5 s in the batch queue; SIGTERM arrives meanwhile
    result = {}

    def slow():
        result["r"] = srv.post("/v2/models/scale/versions/2/infer",
                               {"inputs": [v2_input("x", np.ones((1, 3), np.float32))]})
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)
    srv.proc.send_signal(signal.SIGTERM)
    t.join()
    assert result["r"].status_code == 200, result["r"].text
    assert srv.proc.wait(10) == 0
    try:
        requests.get(srv.url + "/v2/health/live", timeout=2)
        assert False, "still accepting after SIGTERM"
    except requests.ConnectionError:
        pass
    assert any('"event":"draining"' in line for line in srv.lines), srv.lines


@case
def sigterm_at_any_moment_exits_0():
    # As soon as the "ready" line is out (the handler used to be armed only
    # after it: 35-45% of these died of the signal, status 143), and twice in
    # a row (the second used to find the default action back during the exit).
    codes = []
    for i in range(30):
        p = subprocess.Popen([TIFFIN, "serve", REPO, "--http-port", "0"] +
                             (["--inline"] if i % 2 else []),
                             stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            if '"event":"ready"' in line:
                break
        p.send_signal(signal.SIGTERM)
        if i % 3 == 0:
            time.sleep(0.01)
            p.send_signal(signal.SIGTERM)
        try:
            codes.append(p.wait(20))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append("hung")
        p.stderr.close()
    assert codes == [0] * len(codes), codes


# ---- TF Serving :classify / :regress, b64 ---------------------------------------------

def bytes_model(path):
    """out_bytes = Identity(in), strings [N]."""
    x = helper.make_tensor_value_info("in", TensorProto.STRING, ["N"])
    y = helper.make_tensor_value_info("out_bytes", TensorProto.STRING, ["N"])
    g = helper.make_graph([helper.make_node("Identity", ["in"], ["out_bytes"])], "id", [x], [y])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(m, path)


TF_REPO = os.path.join(TMP, "tfrepo")
shutil.copytree(os.path.join(REPO, "iris"), os.path.join(TF_REPO, "iris"))
scale_model(os.path.join(TF_REPO, "scale", "1", "model.onnx"), 3)
bytes_model(os.path.join(TF_REPO, "blob", "1", "model.onnx"))
from sklearn.linear_model import LinearRegression  # noqa: E402
warnings.filterwarnings("ignore", message="X does not have valid feature names")
FEATS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
REG_X = np.vstack([X, X * 1.5 + 0.1])
REG = LinearRegression().fit(REG_X[:, :3], REG_X[:, 3])
REG.feature_names_in_ = np.array(FEATS[:3], dtype=object)  # as fitted on a DataFrame
os.makedirs(os.path.join(TF_REPO, "reg", "1"))
with open(os.path.join(TF_REPO, "reg", "1", "model.pkl"), "wb") as f:
    pickle.dump(REG, f)
T = Server(TF_REPO)


@case
def tf_classify_matches_sklearn():
    # features bind to the model's columns (no names were fitted: by position)
    body = {"examples": [dict(zip("abcd", row)) for row in X.tolist()]}
    r = T.post("/v1/models/iris:classify", body)
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    labels = [str(c) for c in SK_MODEL.classes_]
    assert [[lab for lab, _ in row] for row in res] == [labels] * len(X), res
    got = np.array([[p for _, p in row] for row in res])
    assert np.abs(got - SK_PROBA).max() < TOL, np.abs(got - SK_PROBA).max()
    # one-value lists, a context shared by every example, a signature name
    body = {"signature_name": "serving_default", "context": {"a": X[0, 0]},
            "examples": [{"b": [X[0, 1]], "c": X[0, 2], "d": [X[0, 3]]}]}
    r = T.post("/v1/models/iris/versions/1:classify", body)
    got = np.array([p for _, p in r.json()["results"][0]])
    assert np.abs(got - SK_PROBA[0]).max() < TOL, r.text
    # the whole row as the model's input, by its name
    r = T.post("/v1/models/iris:classify", {"examples": [{"X": row} for row in X.tolist()]})
    got = np.array([[p for _, p in row] for row in r.json()["results"]])
    assert np.abs(got - SK_PROBA).max() < TOL, r.text
    # not a classifier: 400 saying what to use
    r = T.post("/v1/models/reg:classify", {"examples": [{"sepal_length": 1}]})
    assert r.status_code == 400 and "':regress'" in r.json()["error"], r.text
    r = T.post("/v1/models/scale:classify", {"examples": [{"x": [1, 2, 3]}]})
    assert r.status_code == 400 and "':predict'" in r.json()["error"], r.text
    r = T.post("/v1/models/iris:classify", {"examples": [{"a": [1, 2], "b": 1, "c": 1, "d": 1}]})
    assert r.status_code == 400 and "'a'" in r.json()["error"], r.text
    r = T.post("/v1/models/iris:classify", {"instances": [[1, 2, 3, 4]]})
    assert r.status_code == 400 and "instances" in r.json()["error"], r.text
    r = T.post("/v1/models/iris:classify", {"examples": [{"a": 1, "b": 1, "c": 1, "d": 1},
                                                         {"a": 1, "b": 1, "c": 1}]})
    assert r.status_code == 400 and "examples[1] lacks feature 'd'" in r.json()["error"], r.text


@case
def tf_regress_binds_features_by_name():
    rows = REG_X[:, :3]
    want = REG.predict(rows)
    # names in another order than fitted; one shared through the context
    ex = [{"petal_length": r[2], "sepal_length": [r[0]]} for r in rows.tolist()]
    for e, r in zip(ex, rows.tolist()):
        e["sepal_width"] = r[1]
    r = T.post("/v1/models/reg:regress", {"examples": ex})
    assert r.status_code == 200, r.text
    got = np.array(r.json()["results"])
    assert got.shape == want.shape and np.abs(got - want).max() < 1e-9, (got, want)
    body = {"context": {"sepal_width": 3.0},
            "examples": [{"sepal_length": 5.0, "petal_length": 1.5},
                         {"sepal_length": 6.0, "petal_length": 4.5, "sepal_width": 2.0}]}
    got = T.post("/v1/models/reg:regress", body).json()["results"]
    want = REG.predict(np.array([[5.0, 3.0, 1.5], [6.0, 2.0, 4.5]]))
    assert np.abs(np.array(got) - want).max() < 1e-9, (got, want)
    # a missing and an unknown feature are named
    r = T.post("/v1/models/reg:regress", {"examples": [{"sepal_length": 5.0, "sepal_width": 3,
                                                        "petal_lenght": 1.5}]})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert "petal_lenght" in err and "petal_length" in err, err
    r = T.post("/v1/models/iris:regress", {"examples": [{"a": 1, "b": 1, "c": 1, "d": 1}]})
    assert r.status_code == 400 and "':classify'" in r.json()["error"], r.text
    r = T.post("/v1/models/scale:regress", {"examples": [{"x": [1, 2, 3]}]})
    assert r.status_code == 400 and "':predict'" in r.json()["error"], r.text
    assert T.post("/v1/models/reg:explain", {}).status_code == 404


@case
def tf_b64_values_and_bytes_outputs():
    import base64
    blobs = [b"\xff\x00\x01binary\n", b"", b"hi"]
    enc = [base64.b64encode(b).decode() for b in blobs]
    r = T.post("/v1/models/blob:predict", {"instances": [{"b64": e} for e in enc]})
    assert r.status_code == 200, r.text
    got = [base64.b64decode(p["b64"]) for p in r.json()["predictions"]]
    assert got == blobs, r.text
    r = T.post("/v1/models/blob:predict", {"instances": [{"in": {"b64": enc[0]}}]})
    assert base64.b64decode(r.json()["predictions"][0]["b64"]) == blobs[0], r.text
    r = T.post("/v1/models/blob:predict", {"inputs": {"in": [{"b64": e} for e in enc]}})
    assert [base64.b64decode(p["b64"]) for p in r.json()["outputs"]] == blobs, r.text
    # plain strings still go in; padding may be left out
    r = T.post("/v1/models/blob:predict", {"inputs": ["plain", {"b64": "aGk"}]})
    assert [base64.b64decode(p["b64"]) for p in r.json()["outputs"]] == [b"plain", b"hi"], r.text
    r = T.post("/v1/models/blob:predict", {"instances": [{"b64": "not base64!"}]})
    assert r.status_code == 400 and "'in'" in r.json()["error"] and "base64" in r.json()["error"]
    r = T.post("/v1/models/scale:predict", {"instances": [[{"b64": "aGk="}, 1, 2]]})
    assert r.status_code == 400 and "'x'" in r.json()["error"], r.text
    r = T.post("/v1/models/blob:predict", {"instances": [{"b64": 7}]})
    assert r.status_code == 400, r.text
    assert T.post("/v1/models/blob:predict", {"instances": ["ok"]}).status_code == 200


# ---- per-model config.pbtxt -----------------------------------------------------------

@case
def config_pbtxt_sets_each_models_settings():
    repo = os.path.join(TMP, "cfg")
    for v in (1, 2, 3):
        scale_model(os.path.join(repo, "pinned", str(v), "model.onnx"), v)
        scale_model(os.path.join(repo, "plain", str(v), "model.onnx"), v)
    scale_model(os.path.join(repo, "batched", "1", "model.onnx"), 1)
    scale_model(os.path.join(repo, "broken", "1", "model.onnx"), 1)
    scale_model(os.path.join(repo, "triton", "1", "model.onnx"), 1)
    with open(os.path.join(repo, "pinned", "config.pbtxt"), "w") as f:
        f.write('name: "pinned"\nversion_policy { specific { versions: [1, 3] } }\n'
                'version_labels { key: "stable" value: 1 }\n')
    with open(os.path.join(repo, "batched", "config.pbtxt"), "w") as f:
        f.write("max_batch_size: 32\ndynamic_batching { max_queue_delay_microseconds: 3000 }\n")
    with open(os.path.join(repo, "broken", "config.pbtxt"), "w") as f:
        f.write("max_batch_size: 8\nmax_queue_delay: 100\n")
    with open(os.path.join(repo, "triton", "config.pbtxt"), "w") as f:  # as Triton users write it
        f.write('name: "triton"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 8\n'
                'input [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]\n'
                'output [ { name: "y" data_type: TYPE_FP32 dims: [ 3 ] } ]\n'
                'instance_group [ { count: 1 kind: KIND_CPU } ]\n')
    srv = Server(repo, "--version-policy", "latest", "--threads", "16")
    assert srv.get("/v2/models/pinned").json()["versions"] == ["1", "3"]
    assert srv.get("/v2/models/plain").json()["versions"] == ["3"]  # the flag
    r = srv.post("/v1/models/pinned/labels/stable:predict", {"instances": [[1, 1, 1]]}).json()
    assert r == {"predictions": [[1, 1, 1]]}, r
    # a bad config: that model does not load, says why; the others serve
    idx = srv.post("/v2/repository/index").json()
    bad = [e for e in idx if e["name"] == "broken"]
    assert bad and bad[0]["state"] == "UNAVAILABLE", idx
    assert "max_queue_delay" in bad[0]["reason"] and "config.pbtxt:2" in bad[0]["reason"], bad
    assert any('"model_config_invalid"' in line and "max_queue_delay" in line for line in srv.lines)
    assert srv.get("/v2/models/broken/ready").status_code == 404
    assert srv.get("/v2/health/ready").status_code == 503  # a model that should serve does not
    # a Triton config loads, the fields tiffin does not use are named in the log
    assert srv.get("/v2/models/triton/ready").status_code == 200
    assert any("ignoring Triton field 'instance_group'" in line for line in srv.lines)
    # batching for "batched" only
    errors = []

    def client(i, model):
        sess = requests.Session()
        for j in range(20):
            x = np.full((2, 3), i * 100 + j, dtype=np.float32)
            rr = sess.post(srv.url + f"/v2/models/{model}/infer",
                           json={"inputs": [v2_input("x", x)]}, timeout=10)
            if rr.status_code != 200 or rr.json()["outputs"][0]["data"] != x.flatten().tolist():
                errors.append(rr.text)
    ts = [threading.Thread(target=client, args=(i, m)) for i in range(8)
          for m in ("batched", "triton")]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors, errors[:3]
    text = srv.get("/metrics").text

    def avg(model):
        return float(re.search(rf'tiffin_inference_average_batch_size{{model="{model}",version="1"}} '
                               r"([0-9.]+)", text).group(1))
    print(f"  config.pbtxt batching: average batch {avg('batched'):.2f} rows (batched), "
          f"{avg('triton'):.2f} (triton: max_batch_size without dynamic_batching)")
    assert avg("batched") > 2.0 and avg("triton") == 2.0, (avg("batched"), avg("triton"))
    # fixed on disk, loaded through the API
    with open(os.path.join(repo, "broken", "config.pbtxt"), "w") as f:
        f.write("max_batch_size: 8\n")
    assert srv.post("/v2/repository/models/broken/load").status_code == 200
    assert srv.get("/v2/models/broken/ready").status_code == 200
    assert srv.stop() == 0


@case
def polling_unloads_removed_versions_and_models():
    repo = os.path.join(TMP, "pollrm")
    for v in (1, 2):
        scale_model(os.path.join(repo, "m", str(v), "model.onnx"), v)
    scale_model(os.path.join(repo, "gone", "1", "model.onnx"), 1)
    # version 2's requests wait 2.5 s in the batch queue: one is in flight
    # while its folder is deleted and the next poll unloads it
    with open(os.path.join(repo, "m", "config.pbtxt"), "w") as f:
        f.write("version_policy { all {} }\nmax_batch_size: 64\n"
                "dynamic_batching { max_queue_delay_microseconds: 2500000 }\n")
    srv = Server(repo, "--poll-seconds", "1")
    assert srv.get("/v2/models/m").json()["versions"] == ["1", "2"]
    result = {}

    def slow():
        result["r"] = srv.post("/v2/models/m/versions/2/infer",
                               {"inputs": [v2_input("x", np.ones((1, 3), np.float32))]})
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)
    shutil.rmtree(os.path.join(repo, "m", "2"))
    shutil.rmtree(os.path.join(repo, "gone"))
    deadline = time.time() + 5
    while time.time() < deadline and not any('"version_removed"' in line for line in srv.lines):
        time.sleep(0.05)
    assert t.is_alive(), "the in-flight request ended before the poll"
    assert srv.get("/v2/models/m/versions/2/ready").status_code == 404
    t.join()
    r = result["r"]
    assert r.status_code == 200 and r.json()["model_version"] == "2", r.text
    assert r.json()["outputs"][0]["data"] == [2, 2, 2], r.text  # finished on version 2
    idx = srv.post("/v2/repository/index").json()
    e = {(x["name"], x.get("version")): x for x in idx}
    assert e[("m", "2")]["state"] == "UNAVAILABLE" and "removed" in e[("m", "2")]["reason"], idx
    assert e[("m", "1")]["state"] == "READY", idx
    assert e[("gone", None)]["state"] == "UNAVAILABLE", idx
    assert e[("gone", None)]["reason"] == "removed from the repository", idx
    r = srv.get("/v2/models/gone")
    assert r.status_code == 404 and "removed" in r.json()["error"], r.text
    st = srv.get("/v1/models/m").json()["model_version_status"]
    assert {s["version"]: s["state"] for s in st} == {"1": "AVAILABLE", "2": "END"}, st
    assert srv.get("/v2/health/ready").status_code == 200
    assert any('"model_removed"' in line and '"gone"' in line for line in srv.lines)
    # it comes back
    scale_model(os.path.join(repo, "gone", "1", "model.onnx"), 1)
    deadline = time.time() + 5
    while time.time() < deadline and srv.get("/v2/models/gone/ready").status_code != 200:
        time.sleep(0.1)
    assert srv.get("/v2/models/gone/ready").status_code == 200
    assert srv.stop() == 0


for s in servers:
    code = s.stop()
    if code not in (0, None):
        results.append(("server exit code", f"{code}", 0))
    time.sleep(0.05)
    races = [line for line in s.lines if "ThreadSanitizer" in line or "AddressSanitizer" in line]
    if races:
        results.append(("sanitizer reports", "".join(s.lines)[-4000:], 0))
failed = [(n, e) for n, e, _ in results if e]
for n, e, t in results:
    print(("FAIL " if e else "ok   ") + n + f" ({t:.2f}s)" + (": " + e if e else ""))
shutil.rmtree(TMP, ignore_errors=True)
print(f"{len(results) - len(failed)}/{len(results)} passed")
sys.exit(1 if failed else 0)
