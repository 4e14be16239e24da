#!/usr/bin/python3
"""End-to-end tests of the tiffin CLI: exit codes, stdout/stderr separation,
every input form of `predict`, and `inspect --json`.

usage: cli_test.py TIFFIN SOURCE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from cases import case, finish  # tests/cli/cases.py

TIFFIN, SOURCE = sys.argv[1], sys.argv[2]
IRIS = os.path.join(SOURCE, "examples", "iris_mlp", "model.onnx")
MLP = os.path.join(SOURCE, "tests", "golden", "torch", "mlp")
SK = os.path.join(SOURCE, "examples", "sklearn_iris")
SK_MODEL, SK_CSV = os.path.join(SK, "model.pkl"), os.path.join(SK, "input.csv")


def run(*args, stdin=None):
    return subprocess.run([TIFFIN, *args], capture_output=True, text=True, input=stdin)


@case
def version_prints_and_exits_zero():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("tiffin "), r


@case
def unknown_command_is_a_usage_error():
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr and r.stdout == "", r


@case
def inspect_json_describes_the_model():
    r = run("inspect", IRIS, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["format"] == "onnx"
    assert doc["inputs"][0]["name"] == "features" and doc["inputs"][0]["datatype"] == "FP32"
    assert doc["inputs"][0]["shape"][1] == 4
    assert doc["ops"]["Gemm"] == 2, doc["ops"]
    assert doc["parameter_count"] > 0 and doc["opsets"]["ai.onnx"] == 13


@case
def inspect_text_lists_inputs_and_operators():
    r = run("inspect", IRIS)
    assert r.returncode == 0 and "features" in r.stdout and "Gemm" in r.stdout, r


def predict_json(path):
    r = run("predict", IRIS, "--input", path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["outputs"][0]
    assert out["name"] == "probabilities" and out["datatype"] == "FP32", out
    return np.array(out["data"]).reshape(out["shape"])


@case
def predict_every_input_form_gives_the_same_answer():
    with tempfile.TemporaryDirectory() as tmp:
        rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
        short = os.path.join(tmp, "short.json")
        json.dump({"features": rows}, open(short, "w"))
        v2 = os.path.join(tmp, "v2.json")
        json.dump({"inputs": [{"name": "features", "shape": [2, 4], "datatype": "FP32",
                               "data": sum(rows, [])}]}, open(v2, "w"))
        npy = os.path.join(tmp, "x.npy")
        np.save(npy, np.array(rows, dtype=np.float32))
        csv = os.path.join(tmp, "x.csv")
        open(csv, "w").write("a,b,c,d\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
        got = [predict_json(p) for p in (short, v2, npy, csv)]
        for g in got[1:]:
            assert np.array_equal(g, got[0]), (g, got[0])
        assert got[0].shape == (2, 3)
        assert np.allclose(got[0].sum(axis=1), 1, atol=1e-5)


@case
def predict_matches_pytorch_and_writes_output_file():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        r = run("predict", os.path.join(MLP, "model.onnx"), "--input", os.path.join(MLP, "input_0.npy"),
                "--output", out)
        assert r.returncode == 0 and r.stdout == "", r
        o = json.load(open(out))["outputs"][0]
        want = np.load(os.path.join(MLP, "expected_0.npy"))
        assert np.allclose(np.array(o["data"]).reshape(o["shape"]), want, rtol=1e-4, atol=1e-5)


@case
def example_matches_pytorchs_expected_output():
    ex = os.path.join(SOURCE, "examples", "iris_mlp")
    got = predict_json(os.path.join(ex, "input.json"))
    want = np.array(json.load(open(os.path.join(ex, "expected_output.json")))["probabilities"])
    assert np.allclose(got, want, rtol=1e-4, atol=1e-6), (got, want)


@case
def wrong_input_name_is_exit_1_with_a_message_on_stderr():
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "bad.json")
        json.dump({"feature": [[1, 2, 3, 4]]}, open(p, "w"))
        r = run("predict", IRIS, "--input", p)
        assert r.returncode == 1 and r.stdout == "", r
        assert "'feature' is not an input" in r.stderr and "'features'" in r.stderr, r.stderr


@case
def wrong_width_names_the_dim():
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "bad.json")
        json.dump({"features": [[1, 2, 3]]}, open(p, "w"))
        r = run("predict", IRIS, "--input", p)
        assert r.returncode == 1 and "dim 1 should be 4, got 3" in r.stderr, r.stderr


@case
def corrupt_model_is_exit_1():
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "model.onnx")
        data = open(IRIS, "rb").read()
        open(p, "wb").write(data[: len(data) // 2])
        r = run("inspect", p)
        assert r.returncode == 1 and r.stdout == "" and r.stderr.startswith("tiffin inspect: "), r


@case
def non_onnx_files_are_named_by_content():
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "model.onnx")
        open(p, "wb").write(b"\x80\x04\x95" + b"\x00" * 20)
        r = run("inspect", p)
        assert r.returncode == 1 and "pickle" in r.stderr, r.stderr
        open(p, "wb").write(b"\x89HDF\r\n\x1a\n" + b"\x00" * 20)
        r = run("inspect", p)
        assert r.returncode == 1 and "HDF5" in r.stderr, r.stderr


@case
def missing_file_is_exit_1():
    r = run("predict", "/nonexistent/model.onnx", "--input", "/nonexistent/x.json")
    assert r.returncode == 1 and "not found" in r.stderr, r


@case
def ops_lists_registered_operators():
    r = run("ops", "--json")
    assert r.returncode == 0
    ops = {o["op"] for o in json.loads(r.stdout)}
    for op in ("Gemm", "Conv", "LSTM", "Resize", "Softmax", "TopK"):
        assert op in ops, op


@case
def sklearn_inspect_lists_objects_versions_and_the_missing_scaler():
    r = run("inspect", SK_MODEL)
    assert r.returncode == 0, r.stderr
    for text in ("scikit-learn file", "protocol 4", "scikit-learn 1.2.1", "LogisticRegression",
                 "MinMaxScaler", "--steps scaler,model"):
        assert text in r.stdout, (text, r.stdout)
    doc = json.loads(run("inspect", SK_MODEL, "--json").stdout)
    objs = {o["name"]: o for o in doc["sklearn"]["objects"]}
    assert objs["model"]["role"] == "classifier" and objs["scaler"]["role"] == "transformer", objs
    assert doc["sklearn"]["pickle_protocol"] == 4 and doc["sklearn"]["numpy2"] is False
    assert doc["class_labels"] == ["0", "1", "2"], doc["class_labels"]


@case
def sklearn_steps_compose_the_scaler_and_the_model():
    # examples/sklearn_iris/gen.py prints scikit-learn's labels: [0, 1, 2]
    # with the scaler, [2, 2, 2] for the model alone on raw input.
    r = run("predict", SK_MODEL, "--input", SK_CSV, "--steps", "scaler,model")
    assert r.returncode == 0, r.stderr
    out = {o["name"]: o for o in json.loads(r.stdout)["outputs"]}
    assert out["label"]["data"] == [0, 1, 2], out["label"]
    alone = {o["name"]: o for o in json.loads(run("predict", SK_MODEL, "--input", SK_CSV).stdout)["outputs"]}
    assert alone["label"]["data"] == [2, 2, 2], alone["label"]


@case
def sklearn_unknown_step_lists_the_objects():
    r = run("predict", SK_MODEL, "--input", SK_CSV, "--steps", "imputer,model")
    assert r.returncode == 1 and "imputer" in r.stderr and "scaler (MinMaxScaler)" in r.stderr, r.stderr


@case
def sklearn_wrong_columns_list_expected_and_given():
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "x.csv")
        open(p, "w").write("a,b,c\n1,2,3\n")
        r = run("predict", SK_MODEL, "--input", p, "--steps", "scaler,model")
        assert r.returncode == 1 and "expected 4 columns, got 3" in r.stderr, r.stderr


@case
def sklearn_convert_writes_onnx_that_predicts_the_same():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "iris.onnx")
        r = run("convert", SK_MODEL, "--steps", "scaler,model", "-o", out)
        assert r.returncode == 0 and os.path.exists(out), r.stderr
        doc = json.loads(run("inspect", out, "--json").stdout)
        assert doc["format"] == "onnx" and doc["opsets"]["ai.onnx"] == 17, doc
        a = json.loads(run("predict", out, "--input", SK_CSV).stdout)
        b = json.loads(run("predict", SK_MODEL, "--input", SK_CSV, "--steps", "scaler,model").stdout)
        assert a == b, (a, b)


@case
def sklearn_predict_reports_values_far_outside_training():
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "x.csv")
        open(p, "w").write("a,b,c,d\n510,3.5,1.4,0.2\n5.1,3.5,1.4,0.2\n")
        r = run("predict", SK_MODEL, "--input", p, "--steps", "scaler,model")
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert len(doc["warnings"]) == 1 and "feature `x0`: 1 of 2 values far outside" in doc["warnings"][0], doc
        assert "warning:" in r.stderr
        r = run("predict", SK_MODEL, "--input", SK_CSV, "--steps", "scaler,model")
        assert "warnings" not in json.loads(r.stdout), r.stdout


@case
def integer_input_converts_losslessly_to_float64():
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "x.json")
        json.dump({"inputs": [{"name": "X", "datatype": "INT64", "shape": [1, 4], "data": [5, 3, 1, 0]}]},
                  open(p, "w"))
        r = run("predict", SK_MODEL, "--input", p, "--steps", "scaler,model")
        assert r.returncode == 0, r.stderr
        json.dump({"inputs": [{"name": "X", "datatype": "INT64", "shape": [1, 4],
                               "data": [9007199254740993, 3, 1, 0]}]}, open(p, "w"))
        r = run("predict", SK_MODEL, "--input", p, "--steps", "scaler,model")
        assert r.returncode == 1 and "cannot be represented exactly as float64" in r.stderr, r.stderr


@case
def sklearn_ops_lists_classes():
    r = run("ops", "--sklearn", "--json")
    assert r.returncode == 0
    classes = set(json.loads(r.stdout))
    for c in ("Pipeline", "ColumnTransformer", "RandomForestClassifier", "HistGradientBoostingClassifier", "SVC"):
        assert c in classes, c


finish()
