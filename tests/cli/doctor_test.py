#!/usr/bin/python3
"""`tiffin doctor`: every check has a case that triggers it, including the
seed's stories (a (model, scaler) pickle fed raw input; a version-drifted
pickle). Exit 0 when no line is FAIL.

usage: doctor_test.py TIFFIN SOURCE_DIR BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from cases import case, finish  # tests/cli/cases.py

TIFFIN, SOURCE, BUILD = sys.argv[1], sys.argv[2], sys.argv[3]
SK = os.path.join(SOURCE, "examples", "sklearn_iris")
MODEL, RAW = os.path.join(SK, "model.pkl"), os.path.join(SK, "input.csv")
FIX = os.path.join(BUILD, "sklearn-fixtures")
TMP = tempfile.mkdtemp()


def run(*args):
    return subprocess.run([TIFFIN, "doctor", *args], capture_output=True, text=True)


def checks(*args):
    r = subprocess.run([TIFFIN, "doctor", *args, "--json"], capture_output=True, text=True)
    doc = json.loads(r.stdout)
    return r.returncode, {c["id"]: c for c in doc["checks"]}, doc


def write(name, text):
    p = os.path.join(TMP, name)
    with open(p, "w") as f:
        f.write(text)
    return p


@case
def raw_input_to_an_estimator_saved_without_its_scaler_fails_with_the_fix():
    code, c, _ = checks(MODEL, "--data", RAW)
    assert code == 1, c
    assert c["ranges"]["level"] == "FAIL", c["ranges"]
    m = c["ranges"]["message"]
    assert "trained on 0-1" in m and "looks unscaled" in m and "without its MinMaxScaler" in m, m
    assert "--steps scaler,model" in c["ranges"]["fix"], c["ranges"]
    assert c["objects"]["level"] == "WARN", c["objects"]


@case
def the_same_input_through_the_scaler_passes():
    code, c, _ = checks(MODEL, "--data", RAW, "--steps", "scaler,model")
    assert code == 0 and c["ranges"]["level"] == "PASS", c


@case
def already_scaled_input_to_a_pipeline_that_scales_fails():
    scaled = write("scaled.csv", "a,b,c,d\n0.22,0.62,0.07,0.04\n0.75,0.5,0.63,0.54\n0.58,0.54,0.85,1.0\n")
    code, c, _ = checks(MODEL, "--data", scaled, "--steps", "scaler,model")
    assert code == 1 and c["ranges"]["level"] == "FAIL", c["ranges"]
    assert "looks already scaled" in c["ranges"]["message"], c["ranges"]


@case
def values_far_outside_training_warn():
    far = write("far.csv", "a,b,c,d\n510,350,140,20\n700,320,470,140\n")
    code, c, _ = checks(MODEL, "--data", far, "--steps", "scaler,model")
    assert code == 0 and c["ranges"]["level"] == "WARN", c["ranges"]
    assert "trained on 4.3-7.9" in c["ranges"]["message"], c["ranges"]


@case
def a_missing_column_fails_naming_expected_and_given():
    short = write("short.csv", "a,b,c\n5.1,3.5,1.4\n")
    code, c, _ = checks(MODEL, "--data", short)
    assert code == 1 and c["columns"]["level"] == "FAIL" and "expected 4 columns, got 3" in c["columns"]["message"], c


@case
def text_in_a_numeric_column_fails_as_a_dtype():
    bad = write("bad.csv", "a,b,c,d\n5.1,3.5,one,0.2\n")
    code, c, _ = checks(MODEL, "--data", bad)
    assert code == 1 and c["dtypes"]["level"] == "FAIL" and "'one' is not a number" in c["dtypes"]["message"], c


@case
def missing_values_the_model_cannot_take_fail():
    nan = write("nan.csv", "a,b,c,d\n5.1,,1.4,0.2\n")
    code, c, _ = checks(MODEL, "--data", nan, "--steps", "scaler,model")
    assert code == 1 and c["missing"]["level"] == "FAIL" and "NaN outputs" in c["missing"]["message"], c


@case
def missing_values_the_model_handles_pass():
    model = os.path.join(FIX, "iris_nan__hist_gradient_boosting", "model.p4.pkl")
    if not os.path.exists(model):
        return  # fixtures not generated (make sklearn-fixtures)
    nan = write("nan_hgb.csv", "a,b,c,d\n5.1,,1.4,0.2\n6.0,2.9,,1.5\n")
    code, c, _ = checks(model, "--data", nan)
    assert code == 0 and c["missing"]["level"] == "PASS", c["missing"]


@case
def a_version_drifted_pickle_names_its_writer_and_what_was_adapted():
    model = os.path.join(FIX, "drift__numpy2_paths_logreg", "model.p3.pkl")
    if not os.path.exists(model):
        return
    code, c, _ = checks(model)
    assert code == 0, c
    assert "scikit-learn 1.2.1" in c["provenance"]["message"] and "numpy 2" in c["provenance"]["message"], c
    old = os.path.join(FIX, "drift__no_version", "model.p3.pkl")
    code, c, _ = checks(old)
    assert c["provenance"]["level"] == "WARN" and "before 0.18" in c["provenance"]["message"], c["provenance"]


@case
def a_misnamed_file_warns_and_is_read_by_content():
    p = os.path.join(TMP, "model.keras")
    shutil.copy(os.path.join(SOURCE, "examples", "iris_mlp", "model.onnx"), p)
    code, c, _ = checks(p)
    assert code == 0 and c["format"]["level"] == "WARN" and "named .keras" in c["format"]["message"], c["format"]


@case
def an_unsupported_operator_fails_naming_it():
    p = os.path.join(SOURCE, "..", "shared", "fixtures", "external", "onnx", "burn__attention_4d.onnx")
    if not os.path.exists(p):
        return
    code, c, _ = checks(p)
    assert code == 1 and c["operators"]["level"] == "FAIL" and "Attention" in c["operators"]["message"], c


@case
def a_hostile_pickle_fails_integrity_and_says_not_to_load_it():
    p = os.path.join(SOURCE, "tests", "golden", "pickle", "evil_subprocess.pkl")
    code, c, _ = checks(p)
    assert code == 1 and c["integrity"]["level"] == "FAIL" and "run code" in c["integrity"]["fix"], c


@case
def a_truncated_pickle_fails_integrity():
    data = open(MODEL, "rb").read()
    p = os.path.join(TMP, "cut.pkl")
    open(p, "wb").write(data[: len(data) // 2])
    code, c, _ = checks(p)
    assert code == 1 and c["integrity"]["level"] == "FAIL" and "copy it again" in c["integrity"]["fix"], c


@case
def a_missing_file_fails():
    r = run("/nonexistent/model.pkl")
    assert r.returncode == 1 and "FAIL  format" in r.stdout, r


shutil.rmtree(TMP, ignore_errors=True)
finish()
