#!/usr/bin/python3
"""XGBoost differential fixtures for tiffin's XGBoost importer.

Trains one small model per objective with Debian's python3-xgboost (1.7),
with NaNs in the inputs and a categorical case, and saves each in every
encoding XGBoost writes: JSON, UBJSON, the deprecated binary format and a
pickle of the scikit-learn wrapper (or of the Booster). Next to them: the
inputs and XGBoost's own outputs, as text (one row per line, "nan" for
missing):

  <case>/X.txt       inputs [N, F]
  <case>/margin.txt  Booster.predict(output_margin=True)   [N] or [N, K]
  <case>/pred.txt    Booster.predict()                      [N] or [N, K]
  <case>/kind.txt    what pred.txt holds: "probability" (binary, softprob),
                     "label" (multi:softmax), "variable" (regressors)
  <case>/model.{json,ubj,bin,pkl}, model.joblib (the wrapper, gzip joblib)

With EXTERNAL_DIR (../shared/fixtures/external/xgboost), every model file
there that this XGBoost loads also gets a case under OUT_DIR/external/<file>/
with random inputs (NaNs included) and XGBoost's own outputs; source.txt names
the file (it is not copied).

Usage: gen_xgboost.py OUT_DIR [EXTERNAL_DIR]
"""
import os
import pickle
import sys

import json

import joblib
import numpy as np
import xgboost as xgb

OUT = sys.argv[1] if len(sys.argv) > 1 else "xgboost-fixtures"
rng = np.random.RandomState(0)


def data(n=300, f=6, nan_frac=0.1):
    X = rng.normal(size=(n, f)).astype(np.float32)
    # Values right at float32 split points matter: repeat a few exactly.
    X[::7, 0] = X[1, 0]
    mask = rng.rand(n, f) < nan_frac
    X[mask] = np.nan
    return X


def write_outputs(d, booster, X, kind):
    os.makedirs(d, exist_ok=True)
    if booster.feature_types and "c" in booster.feature_types:
        dm = xgb.DMatrix(X, enable_categorical=True, feature_types=booster.feature_types)
    else:
        dm = xgb.DMatrix(X)
    margin = booster.predict(dm, output_margin=True)
    pred = booster.predict(dm)
    np.savetxt(os.path.join(d, "X.txt"), X, fmt="%.9g")
    np.savetxt(os.path.join(d, "margin.txt"), margin.reshape(len(X), -1), fmt="%.9g")
    np.savetxt(os.path.join(d, "pred.txt"), pred.reshape(len(X), -1), fmt="%.9g")
    with open(os.path.join(d, "kind.txt"), "w") as f:
        f.write(kind + "\n")


def external(ext_dir):
    """XGBoost's own outputs for the external model files it loads."""
    for name in sorted(os.listdir(ext_dir)):
        path = os.path.join(ext_dir, name)
        if ".test" in name or name.endswith(".pkl"):
            continue
        booster = xgb.Booster(model_file=path)
        objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
        n = booster.num_features()
        X = data(200, n, 0.1)
        if n > 20:  # one-hot style data (agaricus): 0/1 with missing
            X = np.where(np.isnan(X), np.nan, (X > 0.5).astype(np.float32))
        ft = booster.feature_types or []
        for j, t in enumerate(ft):
            if t == "c":
                X[:, j] = np.where(np.isnan(X[:, j]), np.nan, rng.randint(0, 6, size=len(X)))
        kind = {"binary:logistic": "probability", "multi:softprob": "probability",
                "multi:softmax": "label"}.get(objective, "variable")
        d = os.path.join(OUT, "external", name)
        write_outputs(d, booster, X, kind)
        with open(os.path.join(d, "source.txt"), "w") as f:
            f.write(name + "\n")


def save(case, booster, X, kind, wrapper=None, binary=True):
    d = os.path.join(OUT, case)
    write_outputs(d, booster, X, kind)
    booster.save_model(os.path.join(d, "model.json"))
    booster.save_model(os.path.join(d, "model.ubj"))
    if binary:
        with open(os.path.join(d, "model.bin"), "wb") as f:
            f.write(booster.save_raw("deprecated"))
    with open(os.path.join(d, "model.pkl"), "wb") as f:
        pickle.dump(wrapper if wrapper is not None else booster, f, protocol=4)
    if wrapper is not None:
        joblib.dump(wrapper, os.path.join(d, "model.joblib"), compress=3)
    if wrapper is not None and hasattr(wrapper, "predict_proba"):
        np.savetxt(os.path.join(d, "proba.txt"), wrapper.predict_proba(X), fmt="%.9g")


def main():
    os.makedirs(OUT, exist_ok=True)
    X = data()
    y_bin = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) > 0).astype(int)
    y_reg = np.nan_to_num(X[:, 0]) * 2 + np.nan_to_num(X[:, 2]) + rng.normal(scale=0.1, size=len(X))
    y_multi = (np.nan_to_num(X[:, 0]) > 0).astype(int) + 2 * (np.nan_to_num(X[:, 3]) > 0.5)
    y_count = rng.poisson(np.exp(0.5 * np.nan_to_num(X[:, 1])))
    y_unit = 1 / (1 + np.exp(-np.nan_to_num(X[:, 2])))
    common = dict(n_estimators=12, max_depth=4, learning_rate=0.3, random_state=0)

    m = xgb.XGBClassifier(objective="binary:logistic", **common).fit(X, y_bin)
    save("binary_logistic", m.get_booster(), X, "probability", m)
    m = xgb.XGBClassifier(objective="binary:logistic", base_score=0.3, **common).fit(X, y_bin)
    save("binary_logistic_base03", m.get_booster(), X, "probability", m)
    m = xgb.XGBRegressor(objective="reg:squarederror", **common).fit(X, y_reg)
    save("reg_squarederror", m.get_booster(), X, "variable", m)
    m = xgb.XGBRegressor(objective="reg:logistic", **common).fit(X, y_unit)
    save("reg_logistic", m.get_booster(), X, "variable", m)
    m = xgb.XGBRegressor(objective="binary:logitraw", **common).fit(X, y_bin)
    save("binary_logitraw", m.get_booster(), X, "variable", m)
    m = xgb.XGBClassifier(objective="multi:softprob", **common).fit(X, y_multi)
    save("multi_softprob", m.get_booster(), X, "probability", m)
    b = xgb.train({"objective": "multi:softmax", "num_class": 4, "max_depth": 4},
                  xgb.DMatrix(X, label=y_multi), num_boost_round=8)
    save("multi_softmax", b, X, "label")
    m = xgb.XGBRegressor(objective="count:poisson", **common).fit(X, y_count)
    save("count_poisson", m.get_booster(), X, "variable", m)
    m = xgb.XGBRegressor(objective="reg:tweedie", tweedie_variance_power=1.3, **common).fit(X, y_count)
    save("reg_tweedie", m.get_booster(), X, "variable", m)
    m = xgb.XGBRegressor(objective="reg:gamma", **common).fit(X, y_count + 1.0)
    save("reg_gamma", m.get_booster(), X, "variable", m)
    m = xgb.XGBRanker(objective="rank:pairwise", **common).fit(X, y_multi, group=[100, 100, 100])
    save("rank_pairwise", m.get_booster(), X, "variable", m)
    b = xgb.train({"objective": "reg:squarederror", "booster": "dart", "rate_drop": 0.3,
                   "max_depth": 3, "seed": 0}, xgb.DMatrix(X, label=y_reg), num_boost_round=10)
    save("dart", b, X, "variable")

    # gblinear boosters: every objective that applies to a linear booster
    # (coord_descent for the regressions so the weights are not all tiny).
    lin = dict(booster="gblinear", n_estimators=15, learning_rate=0.5, random_state=0)
    m = xgb.XGBClassifier(objective="binary:logistic", **lin).fit(X, y_bin)
    save("gblinear_binary_logistic", m.get_booster(), X, "probability", m)
    m = xgb.XGBClassifier(objective="binary:logistic", base_score=0.3, **lin).fit(X, y_bin)
    save("gblinear_binary_logistic_base03", m.get_booster(), X, "probability", m)
    m = xgb.XGBRegressor(objective="reg:squarederror", updater="coord_descent", **lin).fit(X, y_reg)
    save("gblinear_reg_squarederror", m.get_booster(), X, "variable", m)
    m = xgb.XGBRegressor(objective="reg:logistic", **lin).fit(X, y_unit)
    save("gblinear_reg_logistic", m.get_booster(), X, "variable", m)
    m = xgb.XGBRegressor(objective="binary:logitraw", **lin).fit(X, y_bin)
    save("gblinear_binary_logitraw", m.get_booster(), X, "variable", m)
    m = xgb.XGBClassifier(objective="multi:softprob", **lin).fit(X, y_multi)
    save("gblinear_multi_softprob", m.get_booster(), X, "probability", m)
    b = xgb.train({"objective": "multi:softmax", "num_class": 4, "booster": "gblinear"},
                  xgb.DMatrix(X, label=y_multi), num_boost_round=8)
    save("gblinear_multi_softmax", b, X, "label")
    m = xgb.XGBRegressor(objective="count:poisson", **lin).fit(X, y_count)
    save("gblinear_count_poisson", m.get_booster(), X, "variable", m)
    m = xgb.XGBRegressor(objective="reg:tweedie", tweedie_variance_power=1.3, **lin).fit(X, y_count)
    save("gblinear_reg_tweedie", m.get_booster(), X, "variable", m)
    m = xgb.XGBRegressor(objective="reg:gamma", **lin).fit(X, y_count + 1.0)
    save("gblinear_reg_gamma", m.get_booster(), X, "variable", m)
    m = xgb.XGBRanker(objective="rank:pairwise", **lin).fit(X, y_multi, group=[100, 100, 100])
    save("gblinear_rank_pairwise", m.get_booster(), X, "variable", m)

    # Categorical splits (partition-based, not one-hot): features 0 and 2
    # hold category codes, with NaNs.
    Xc = data(400, 4, 0.05)
    Xc[:, 0] = np.where(np.isnan(Xc[:, 0]), np.nan, rng.randint(0, 12, size=len(Xc)))
    Xc[:, 2] = np.where(np.isnan(Xc[:, 2]), np.nan, rng.randint(0, 5, size=len(Xc)))
    yc = np.isin(np.nan_to_num(Xc[:, 0], nan=-1), [1, 4, 5, 9]).astype(float) * 3 + \
        np.nan_to_num(Xc[:, 1]) + (np.nan_to_num(Xc[:, 2]) == 3)
    dm = xgb.DMatrix(Xc, label=yc, feature_types=["c", "q", "c", "q"], enable_categorical=True)
    b = xgb.train({"objective": "reg:squarederror", "tree_method": "hist", "max_cat_to_onehot": 1,
                   "max_depth": 4}, dm, num_boost_round=10)
    save("categorical", b, Xc, "variable", binary=False)
    # Values no category holds: fractions (rounded down), negatives, huge and
    # NaN, with every default direction flipped to the right (so "invalid
    # goes left" and "missing goes to the default" are told apart).
    j = json.loads(b.save_raw("json"))
    for t in j["learner"]["gradient_booster"]["model"]["trees"]:
        t["default_left"] = [0] * len(t["default_left"])
    flipped = xgb.Booster()
    flipped.load_model(bytearray(json.dumps(j).encode()))
    odd = Xc[:60].copy()
    odd[:, 0] = np.tile([2.5, 4.9, -1, -0.5, 40, 1e9, np.nan, 0, 11.99, 3], 6)
    odd[:, 2] = np.tile([1.5, -3, np.nan, 3, 1e6, 0.1], 10)
    save("categorical_odd_values", flipped, odd, "variable", binary=False)
    ybc = (yc > 1.5).astype(int)
    dm = xgb.DMatrix(Xc, label=ybc, feature_types=["c", "q", "c", "q"], enable_categorical=True)
    b = xgb.train({"objective": "binary:logistic", "tree_method": "hist", "max_cat_to_onehot": 1,
                   "max_depth": 4}, dm, num_boost_round=10)
    save("categorical_binary", b, Xc, "probability", binary=False)
    # Benchmark model (bench/run.sh --only xgboost): 300 trees of depth 6 on
    # 30 features; X.npy holds 2000 rows for the timing loops.
    Xb = data(4000, 30, 0.05)
    yb = (np.nan_to_num(Xb[:, :10]).sum(axis=1) + rng.normal(size=len(Xb)) > 0).astype(int)
    m = xgb.XGBClassifier(n_estimators=300, max_depth=6, learning_rate=0.1, random_state=0,
                          n_jobs=1).fit(Xb[:2000], yb[:2000])
    save("bench__xgb300", m.get_booster(), Xb[2000:], "probability", m)
    np.save(os.path.join(OUT, "bench__xgb300", "X.npy"), Xb[2000:].astype(np.float64))
    if len(sys.argv) > 2:
        external(sys.argv[2])
    print("wrote", OUT)


if __name__ == "__main__":
    main()
