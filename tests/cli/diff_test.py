#!/usr/bin/python3
"""`tiffin diff`: the seed's "one activation differs" case is one clear line;
weights, schemas, preprocessing and provenance changes are named; exit codes
are 0 (same), 1 (different), 2 (error).

usage: diff_test.py TIFFIN SOURCE_DIR
"""
import json
import os
import subprocess
import sys

from cases import case, finish  # tests/cli/cases.py

TIFFIN, SOURCE = sys.argv[1], sys.argv[2]
MLP = os.path.join(SOURCE, "tests", "golden", "torch", "mlp", "model.onnx")
DIFF = os.path.join(SOURCE, "tests", "golden", "diff")
SK = os.path.join(SOURCE, "examples", "sklearn_iris", "model.pkl")


def run(*args):
    return subprocess.run([TIFFIN, "diff", *args], capture_output=True, text=True)



def changed(stdout):
    return [l for l in stdout.splitlines() if " CHANGED " in l]


@case
def one_changed_activation_is_one_line():
    r = run(MLP, os.path.join(DIFF, "mlp_sigmoid.onnx"))
    assert r.returncode == 1, r
    lines = changed(r.stdout)
    assert len(lines) == 1, lines
    assert "activation changed: Relu  ->  Sigmoid" in lines[0] and "/Relu" in lines[0], lines


@case
def a_nudged_weight_is_named_with_its_difference():
    r = run(MLP, os.path.join(DIFF, "mlp_fc2_nudged.onnx"))
    assert r.returncode == 1, r
    lines = changed(r.stdout)
    assert len(lines) == 1 and "'fc2.weight': largest absolute difference 0.25" in lines[0], lines


@case
def identical_models_exit_zero():
    r = run(MLP, MLP)
    assert r.returncode == 0 and "the models are the same" in r.stdout and not changed(r.stdout), r


@case
def json_lists_every_finding():
    r = run(MLP, os.path.join(DIFF, "mlp_sigmoid.onnx"), "--json")
    assert r.returncode == 1, r
    doc = json.loads(r.stdout)
    assert doc["identical"] is False
    ch = [l for l in doc["lines"] if l["changed"]]
    assert len(ch) == 1 and ch[0]["section"] == "structure", ch


@case
def a_model_without_its_scaler_shows_the_missing_preprocessing():
    r = run(SK, SK, "--steps-b", "scaler,model")
    assert r.returncode == 1, r
    text = r.stdout
    assert "steps: [\"model\"]  ->  [\"scaler\",\"model\"]" in text, text
    assert "steps: LogisticRegression  ->  MinMaxScaler > LogisticRegression" in text, text
    assert "node 'MinMaxScaler/Mul_0' (Mul) added" in text and "training statistics: none  ->  present" in text, text


@case
def a_keras_activation_change_names_the_layer():
    a = os.path.join(DIFF, "keras_hidden_relu.h5")
    b = os.path.join(DIFF, "keras_hidden_tanh.h5")
    r = run(a, b, "--json")
    assert r.returncode == 1, r
    ch = [l for l in json.loads(r.stdout)["lines"] if l["changed"]]
    assert len(ch) == 1 and ch[0]["section"] == "structure", ch
    assert "activation changed: Relu  ->  Tanh at node 'hidden/" in ch[0]["text"], ch


@case
def a_swapped_scaler_is_one_preprocessing_line():
    a = os.path.join(DIFF, "iris_standard_logreg.pkl")
    b = os.path.join(DIFF, "iris_minmax_logreg.pkl")
    r = run(a, b, "--json")
    assert r.returncode == 1, r
    pre = [l for l in json.loads(r.stdout)["lines"] if l["section"] == "preprocessing"]
    steps = [l["text"] for l in pre if l["text"].startswith("steps: ")]
    assert steps == ["steps: Pipeline(StandardScaler, LogisticRegression)  ->  "
                     "Pipeline(MinMaxScaler, LogisticRegression)"], pre
    r = run(a, a)
    assert r.returncode == 0, r
    assert "same steps: Pipeline(StandardScaler, LogisticRegression)" in r.stdout, r.stdout


@case
def different_inputs_are_named():
    other = os.path.join(SOURCE, "examples", "iris_mlp", "model.onnx")
    r = run(MLP, other)
    assert r.returncode == 1, r
    assert "'input_0' (float32 [batch,16]) removed" in r.stdout and "added" in r.stdout, r.stdout


@case
def missing_file_is_exit_2():
    r = run(MLP, "/nonexistent/model.onnx")
    assert r.returncode == 2 and "not found" in r.stderr, r


finish()
