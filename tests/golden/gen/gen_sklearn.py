#!/usr/bin/python3
"""Writes the scikit-learn differential fixtures: one folder per case with the
fitted model in every pickle/joblib flavour, a held-out input and the outputs
scikit-learn itself computes on it. See tests/golden/gen/README.md.

    /usr/bin/python3 tests/golden/gen/gen_sklearn.py OUT_DIR [--only REGEX] [--quick]

Debian's python3 (python3-sklearn 1.2.1, numpy 1.24, joblib 1.2, python3-lz4).
Deterministic: fixed random_state everywhere, one BLAS/OpenMP thread. A full run
ends by writing OUT_DIR/.stamp = sha256 of this script (the Makefile compares it);
--only / --quick runs remove the stamp instead, since their output is partial.
"""
import os
import sys

# One thread: BLAS reductions and OpenMP loops then always sum in the same order.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import csv  # noqa: E402
import functools  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

try:
    import joblib
    import sklearn
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
    from sklearn.model_selection import train_test_split
except ImportError as e:  # pragma: no cover
    sys.exit(f"gen_sklearn: {e}; run with Debian's /usr/bin/python3 "
             "(apt-get install python3-sklearn python3-lz4)")

from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.decomposition import PCA, TruncatedSVD  # noqa: E402
from sklearn.ensemble import (AdaBoostClassifier, AdaBoostRegressor,  # noqa: E402
                              ExtraTreesClassifier, ExtraTreesRegressor,
                              GradientBoostingClassifier, GradientBoostingRegressor,
                              HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              IsolationForest, RandomForestClassifier, RandomForestRegressor,
                              VotingClassifier, VotingRegressor)
from sklearn.feature_selection import (SelectFromModel, SelectKBest,  # noqa: E402
                                       VarianceThreshold, f_classif, f_regression)
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import (ElasticNet, Lasso, LinearRegression,  # noqa: E402
                                  LogisticRegression, Perceptron, Ridge, RidgeClassifier,
                                  SGDClassifier, SGDRegressor)
from sklearn.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import (Binarizer, KBinsDiscretizer, LabelEncoder,  # noqa: E402
                                   MaxAbsScaler, MinMaxScaler, Normalizer, OneHotEncoder,
                                   OrdinalEncoder, PolynomialFeatures, RobustScaler,
                                   StandardScaler)
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, NuSVC, NuSVR, OneClassSVM  # noqa: E402
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor  # noqa: E402

RTOL, ATOL = 1e-5, 1e-7
COMPRESSORS = [("zlib", "z"), ("gzip", "gz"), ("bz2", "bz2"), ("xz", "xz"), ("lzma", "lzma"),
               ("lz4", "lz4")]

# Numerically delicate spots, repeated in the notes of the cases they concern.
N_TREE32 = ("tree nodes compare float32(X) <= threshold (sklearn casts X to float32 "
            "before walking the trees; thresholds are float64)")
N_HGB = ("HGB walks float64 X against float64 thresholds; NaN follows missing_go_to_left; "
         "raw score = baseline + sum of leaf values")
N_SVC_PROBA = ("probability=True: predict() still votes on decision values, so argmax"
               "(probabilities) may differ from label; probabilities come from libsvm's "
               "Platt scaling (pairwise coupling for multiclass)")
N_KNN = ("neighbour ties at the k-th distance are resolved by the search order; checked: "
         "no test row here has a tie that changes the output")
N_KBINS = ("bins: np.digitize(x + 1e-8 + 1e-5*|x|, edges[1:]) clipped to n_bins-1; "
           "values on an edge are sensitive")

# --------------------------------------------------------------------------- data


class Data:
    def __init__(self, name, Xtr, ytr, Xte, yte, columns, csv_types=None, notes=""):
        self.name, self.Xtr, self.ytr, self.Xte, self.yte = name, Xtr, ytr, Xte, yte
        self.columns, self.csv_types, self.notes = columns, csv_types, notes


def _split(X, y, test_size, stratify=True, seed=0):
    return train_test_split(X, y, test_size=test_size, random_state=seed,
                            stratify=y if stratify else None)


def _with_nan(X, frac, seed):
    X = X.copy()
    mask = np.random.default_rng(seed).random(X.shape) < frac
    X[mask] = np.nan
    return X


def _mixed_table():
    """~300 rows: age, income (float, NaN), city (str, NaN), plan (str), n_children (int)."""
    rng = np.random.default_rng(42)
    n = 300
    age = rng.integers(18, 80, n).astype(np.float64)
    income = np.round(rng.lognormal(10.2, 0.45, n), -1)
    city = rng.choice(np.array(["paris", "lima", "oslo"], dtype=object), n, p=[0.45, 0.3, 0.25])
    plan = rng.choice(np.array(["basic", "pro", "team"], dtype=object), n, p=[0.5, 0.3, 0.2])
    kids = rng.integers(0, 5, n)
    logit = (0.05 * (age - 48) + 0.9 * (income > 27000) - 0.35 * kids
             + np.select([city == "paris", city == "lima"], [0.8, -0.6], 0.0)
             + np.select([plan == "pro", plan == "team"], [0.7, 1.2], -0.4)
             + rng.normal(0, 0.8, n))
    y = np.where(logit > 0, "yes", "no")  # numpy '<U3' labels
    age[rng.random(n) < 0.10] = np.nan
    income[rng.random(n) < 0.08] = np.nan
    city = city.copy()
    city[rng.random(n) < 0.10] = np.nan
    X = np.empty((n, 5), dtype=object)
    X[:, 0] = age
    X[:, 1] = income
    X[:, 2] = city
    X[:, 3] = plan
    X[:, 4] = [int(k) for k in kids]
    return X, y


def _unseen(Xte, col_city, col_plan):
    """Categories never seen in training, for handle_unknown: rows 0, 7, 19."""
    Xte = Xte.copy()
    Xte[0, col_city] = "rome"
    Xte[7, col_city] = "rome"
    Xte[19, col_plan] = "enterprise"
    return Xte


MIXED_COLUMNS = ["age", "income", "city", "plan", "n_children"]
MIXED_TYPES = ["float", "float", "str", "str", "int"]


@functools.lru_cache(maxsize=None)
def data(name):
    if name in ("iris", "iris_str", "iris_nan", "iris_nan_test", "iris_round"):
        b = load_iris()
        Xtr, Xte, ytr, yte = _split(b.data, b.target, 45)
        cols = list(b.feature_names)
        if name == "iris":
            return Data(name, Xtr, ytr, Xte, yte, cols)
        if name == "iris_str":
            names = np.array(list(b.target_names), dtype=object)
            return Data(name, Xtr, names[ytr], Xte, names[yte], cols,
                        notes="string classes in an object ndarray (as from pandas)")
        if name == "iris_nan":
            return Data(name, _with_nan(Xtr, 0.12, 1), ytr, _with_nan(Xte, 0.12, 2), yte, cols,
                        notes="12% of the entries are NaN, in training and test data")
        if name == "iris_nan_test":
            return Data(name, Xtr, ytr, _with_nan(Xte, 0.15, 3), yte, cols,
                        notes="trained without NaN; 15% of the test entries are NaN")
        return Data(name, np.round(Xtr), ytr, np.round(Xte), yte, cols,
                    notes="iris rounded to integers (small numeric categories)")
    if name == "cancer":
        b = load_breast_cancer()
        Xtr, Xte, ytr, yte = _split(b.data, b.target, 60)
        return Data(name, Xtr, ytr, Xte, yte, list(b.feature_names))
    if name in ("diabetes", "diabetes2", "diabetes_nan"):
        b = load_diabetes()
        y = b.target
        if name == "diabetes2":
            y = np.column_stack([y, 10.0 * np.sqrt(y)])
        Xtr, Xte, ytr, yte = _split(b.data, y, 60, stratify=False)
        if name == "diabetes_nan":
            Xtr, Xte = _with_nan(Xtr, 0.10, 4), _with_nan(Xte, 0.10, 5)
        notes = {"diabetes2": "2 targets: [progression, 10*sqrt(progression)]",
                 "diabetes_nan": "10% of the entries are NaN"}.get(name, "")
        return Data(name, Xtr, ytr, Xte, yte, list(b.feature_names), notes=notes)
    if name in ("mixed", "mixed_cat"):
        X, y = _mixed_table()
        Xtr, Xte, ytr, yte = _split(X, y, 60)
        Xte = _unseen(Xte, 2, 3)
        notes = ("synthetic; missing values are np.nan (float) in an object ndarray; test rows "
                 "0 and 7 have the unseen city 'rome', row 19 the unseen plan 'enterprise'; "
                 "string classes 'no'/'yes' in a numpy '<U3' array")
        if name == "mixed":
            return Data(name, Xtr, ytr, Xte, yte, MIXED_COLUMNS, MIXED_TYPES, notes)
        return Data(name, Xtr[:, 2:4], ytr, Xte[:, 2:4], yte, MIXED_COLUMNS[2:4],
                    MIXED_TYPES[2:4], notes)
    raise KeyError(name)


DATASET_LONG = {"iris": "iris", "iris_str": "iris (string classes)", "iris_nan": "iris with NaN",
                "iris_nan_test": "iris, NaN only in the test rows", "iris_round": "iris rounded",
                "cancer": "breast cancer", "diabetes": "diabetes",
                "diabetes2": "diabetes, 2 targets", "diabetes_nan": "diabetes with NaN",
                "mixed": "synthetic mixed-type table", "mixed_cat": "mixed table, city+plan"}

# ---------------------------------------------------------------------- registry

CASES = []  # (name, builder); builder() -> dict(obj, outputs, meta)


def register(name, builder):
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    assert name not in {c[0] for c in CASES}, name
    CASES.append((name, builder))


def _fit(est, X, y):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        est.fit(X, y)
    return sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}" for w in rec})


def _quiet(fn, *a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a)


def outputs_of(est, X, task):
    out = {}
    if task == "classifier":
        out["label"] = _quiet(est.predict, X)
        if hasattr(est, "predict_proba"):
            out["probabilities"] = _quiet(est.predict_proba, X)
        if hasattr(est, "decision_function"):
            out["decision"] = _quiet(est.decision_function, X)
    elif task == "regressor":
        out["variable"] = _quiet(est.predict, X)
    elif task == "transformer":
        t = _quiet(est.transform, X)
        out["transform"] = t.toarray() if hasattr(t, "toarray") else t
    elif task == "outlier":
        out["label"] = _quiet(est.predict, X)
        out["decision"] = _quiet(est.decision_function, X)
        if hasattr(est, "score_samples"):
            out["score_samples"] = _quiet(est.score_samples, X)
    else:
        raise ValueError(task)
    return out


def task_of(est):
    last = est.steps[-1][1] if isinstance(est, Pipeline) else est
    if hasattr(last, "_estimator_type"):
        kind = {"classifier": "classifier", "regressor": "regressor",
                "outlier_detector": "outlier", "clusterer": "cluster"}[last._estimator_type]
        return kind
    return "transformer"


def case(ds, name, make, notes="", fit_rows=None, task=None):
    """A fitted estimator (or pipeline) on dataset ds; case name ds__name."""
    def build():
        d = data(ds)
        est = make()
        Xf, yf = (d.Xtr, d.ytr) if fit_rows is None else (d.Xtr[fit_rows], d.ytr[fit_rows])
        warns = _fit(est, Xf, yf)
        t = task or task_of(est)
        return dict(obj=est, task=t, data=d, outputs=outputs_of(est, d.Xte, t),
                    notes=notes, warnings=warns)
    register(f"{ds}__{name}", build)


# ------------------------------------------------------------------------ cases
def LR(**kw):
    return LogisticRegression(max_iter=2000, **kw)


def scaled(est):
    return lambda: make_pipeline(StandardScaler(), est())


# Standalone transformers, each also as a Pipeline ending in a predictor.
#   (dataset, name, factory, notes, standalone fit_rows)
PREDICTORS = {"logreg": lambda: LR(C=10.0), "ridge": lambda: Ridge(alpha=0.1),
              "hgb": lambda: HistGradientBoostingClassifier(max_iter=15, random_state=0)}
TRANSFORMERS = [
    ("iris", "standard_scaler", StandardScaler, ""),
    ("iris", "standard_scaler_no_mean", lambda: StandardScaler(with_mean=False), ""),
    ("iris", "standard_scaler_no_std", lambda: StandardScaler(with_std=False), ""),
    ("iris", "minmax_scaler", lambda: MinMaxScaler(feature_range=(-1, 2)), ""),
    ("iris", "minmax_scaler_clip", lambda: MinMaxScaler(clip=True),
     "standalone case fitted on the first 20 training rows only, so the test rows leave "
     "the fitted range and clip=True matters"),
    ("iris", "maxabs_scaler", MaxAbsScaler, ""),
    ("iris", "robust_scaler", RobustScaler, ""),
    ("iris", "normalizer_l1", lambda: Normalizer(norm="l1"), ""),
    ("iris", "normalizer_l2", lambda: Normalizer(norm="l2"), ""),
    ("iris", "normalizer_max", lambda: Normalizer(norm="max"), ""),
    ("iris", "binarizer", lambda: Binarizer(threshold=1.5), ""),
    ("iris", "polynomial_features", lambda: PolynomialFeatures(degree=2), ""),
    ("iris", "polynomial_features_interaction",
     lambda: PolynomialFeatures(degree=2, interaction_only=True, include_bias=False), ""),
    ("iris", "pca", lambda: PCA(n_components=3), ""),
    ("iris", "pca_whiten", lambda: PCA(n_components=2, whiten=True), ""),
    ("iris", "truncated_svd", lambda: TruncatedSVD(n_components=2, random_state=0), ""),
    ("iris", "select_k_best", lambda: SelectKBest(f_classif, k=2), ""),
    ("iris", "variance_threshold", lambda: VarianceThreshold(threshold=0.5), ""),
    ("iris", "select_from_model_logreg", lambda: SelectFromModel(LR()),
     "support = |coef_| summed over classes (l1 norm) >= mean, recomputed at transform time"),
    ("iris", "feature_union", lambda: FeatureUnion([
        ("pca", PCA(n_components=2)),
        ("scaled_best", make_pipeline(StandardScaler(), SelectKBest(f_classif, k=2)))]),
     "FeatureUnion of PCA and a nested Pipeline(StandardScaler, SelectKBest)"),
    ("iris_nan", "simple_imputer_mean", lambda: SimpleImputer(strategy="mean"), ""),
    ("iris_nan", "simple_imputer_median", lambda: SimpleImputer(strategy="median"), ""),
    ("iris_nan", "simple_imputer_most_frequent",
     lambda: SimpleImputer(strategy="most_frequent"), "ties: the smallest value wins"),
    ("iris_nan", "simple_imputer_constant",
     lambda: SimpleImputer(strategy="constant", fill_value=-1.0), ""),
    ("iris_nan", "simple_imputer_mean_indicator",
     lambda: SimpleImputer(strategy="mean", add_indicator=True),
     "MissingIndicator columns (features with NaN at fit time) appended"),
    ("iris_round", "onehot_numeric",
     lambda: OneHotEncoder(handle_unknown="ignore", sparse_output=False),
     "numeric categories; unseen values encode as all zeros"),
    ("iris_round", "ordinal_encoder_numeric",
     lambda: OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ""),
    ("mixed_cat", "onehot", lambda: OneHotEncoder(handle_unknown="ignore"),
     "string categories; NaN is a category of its own (last in categories_); sklearn "
     "returns a sparse matrix, stored dense"),
    ("mixed_cat", "onehot_drop_first",
     lambda: OneHotEncoder(drop="first", handle_unknown="ignore", sparse_output=False),
     "drop='first': unseen categories encode as all zeros (same as the dropped one)"),
    ("mixed_cat", "ordinal_encoder",
     lambda: OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
     "NaN stays NaN (encoded_missing_value); unseen -> -1"),
    ("diabetes", "truncated_svd", lambda: TruncatedSVD(n_components=5, random_state=0), ""),
    ("diabetes", "select_k_best", lambda: SelectKBest(f_regression, k=4), ""),
    ("diabetes", "select_from_model_lasso", lambda: SelectFromModel(Lasso(alpha=0.5)),
     "l1 estimator: threshold 1e-5 on |coef_|"),
]
for _enc in ("ordinal", "onehot-dense"):
    for _strat in ("uniform", "quantile", "kmeans"):
        TRANSFORMERS.append((
            "iris", f"kbins_{_enc.replace('-', '_')}_{_strat}",
            functools.partial(KBinsDiscretizer, n_bins=4, encode=_enc, strategy=_strat,
                              subsample=None), N_KBINS))

_PIPE_PREDICTOR = {"iris": "logreg", "iris_nan": "logreg", "iris_round": "logreg",
                   "mixed_cat": "logreg", "diabetes": "ridge"}
for _ds, _name, _make, _notes in TRANSFORMERS:
    case(_ds, _name, _make, _notes, fit_rows=slice(0, 20) if _name.endswith("_clip") else None,
         task="transformer")
    _pred = "hgb" if _name == "ordinal_encoder" else _PIPE_PREDICTOR[_ds]
    case(_ds, f"{_name}_{_pred}",
         (lambda m, p: lambda: make_pipeline(m(), PREDICTORS[p]()))(_make, _pred), _notes)

# Mixed-type table: ColumnTransformer.


def _column_transformer(remainder, string_imputer):
    num = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    cat = make_pipeline(string_imputer, OneHotEncoder(handle_unknown="ignore"))
    return ColumnTransformer([("num", num, [0, 1]), ("cat", cat, [2, 3])], remainder=remainder)


CT_NOTES = ("ColumnTransformer on integer column indices of an object ndarray (pandas is not "
            "installed, so no feature_names_in_): num [0,1] = median SimpleImputer + "
            "StandardScaler, cat [2,3] = SimpleImputer + OneHotEncoder(handle_unknown='ignore')")
_MF = lambda: SimpleImputer(strategy="most_frequent")  # noqa: E731
_CONST = lambda: SimpleImputer(strategy="constant", fill_value="missing")  # noqa: E731
case("mixed", "column_transformer", lambda: _column_transformer("drop", _MF()),
     CT_NOTES + "; most_frequent; n_children dropped", task="transformer")
case("mixed", "column_transformer_passthrough",
     lambda: _column_transformer("passthrough", _CONST()),
     CT_NOTES + "; constant 'missing'; n_children passed through (object -> float)",
     task="transformer")
case("mixed", "column_transformer_logreg",
     lambda: make_pipeline(_column_transformer("drop", _MF()), LR()),
     CT_NOTES + "; most_frequent; n_children dropped")
case("mixed", "column_transformer_passthrough_logreg",
     lambda: make_pipeline(_column_transformer("passthrough", _CONST()), LR()),
     CT_NOTES + "; constant 'missing'; n_children passed through")
case("mixed", "column_transformer_random_forest",
     lambda: make_pipeline(_column_transformer("passthrough", _MF()),
                           RandomForestClassifier(n_estimators=10, random_state=0)),
     CT_NOTES + "; " + N_TREE32)

# Linear models.
case("cancer", "scaler_logreg", scaled(LR))
case("cancer", "scaler_logreg_binary_multinomial", scaled(lambda: LR(multi_class="multinomial")),
     "binary with multi_class='multinomial': one coef_ row, probabilities = "
     "softmax([-d, d]) (= sigmoid(2d)), not sigmoid(d)")
case("iris", "logreg_multinomial", lambda: LR(multi_class="multinomial"))
case("iris", "logreg_ovr", lambda: LR(multi_class="ovr"),
     "ovr probabilities: per-class sigmoid normalised to sum 1")
case("iris_str", "logreg", lambda: LR())
case("diabetes", "linreg", LinearRegression)
case("diabetes2", "linreg", LinearRegression)
case("diabetes", "ridge", lambda: Ridge(alpha=0.5))
case("diabetes2", "ridge", lambda: Ridge(alpha=0.5))
case("diabetes", "lasso", lambda: Lasso(alpha=0.1))
case("diabetes2", "lasso", lambda: Lasso(alpha=0.1))
case("diabetes", "elasticnet", lambda: ElasticNet(alpha=0.01, l1_ratio=0.5))
case("diabetes2", "elasticnet", lambda: ElasticNet(alpha=0.01, l1_ratio=0.5))
case("iris", "ridge_classifier", lambda: RidgeClassifier(alpha=1.0))
case("cancer", "scaler_ridge_classifier", scaled(lambda: RidgeClassifier(alpha=1.0)),
     "binary: decision is 1-D")
for _loss in ("hinge", "log_loss", "modified_huber"):
    case("cancer", f"scaler_sgd_{_loss}",
         scaled(functools.partial(SGDClassifier, loss=_loss, random_state=0)))
for _loss in ("log_loss", "modified_huber"):
    case("iris", f"scaler_sgd_{_loss}",
         scaled(functools.partial(SGDClassifier, loss=_loss, random_state=0)),
         "multiclass OvR: per-class probabilities normalised to sum 1 (modified_huber: "
         "(clip(d,-1,1)+1)/2, rows of zeros become uniform)")
case("diabetes", "scaler_sgd_regressor", scaled(lambda: SGDRegressor(random_state=0)))
case("iris", "scaler_perceptron", scaled(lambda: Perceptron(random_state=0)))
case("cancer", "scaler_perceptron", scaled(lambda: Perceptron(random_state=0)))
case("cancer", "scaler_linear_svc", scaled(lambda: LinearSVC(max_iter=20000, random_state=0)))
case("iris", "scaler_linear_svc", scaled(lambda: LinearSVC(max_iter=20000, random_state=0)))
case("diabetes", "scaler_linear_svr",
     scaled(lambda: LinearSVR(C=10.0, max_iter=50000, random_state=0)))

# Trees and ensembles (10 trees keep the files small).
case("iris", "decision_tree", lambda: DecisionTreeClassifier(random_state=0), N_TREE32)
case("cancer", "decision_tree", lambda: DecisionTreeClassifier(max_depth=5, random_state=0),
     N_TREE32)
case("diabetes", "decision_tree", lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
     N_TREE32)
case("diabetes2", "decision_tree", lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
     N_TREE32 + "; multi-output leaves")
for _ds in ("iris", "cancer", "iris_str"):
    case(_ds, "random_forest", lambda: RandomForestClassifier(n_estimators=10, random_state=0),
         N_TREE32 + "; probabilities = mean of the trees' normalised leaf counts")
for _ds in ("iris", "cancer"):
    case(_ds, "extra_trees", lambda: ExtraTreesClassifier(n_estimators=10, random_state=0),
         N_TREE32)
for _ds in ("diabetes", "diabetes2"):
    case(_ds, "random_forest",
         lambda: RandomForestRegressor(n_estimators=10, max_depth=8, random_state=0), N_TREE32)
    case(_ds, "extra_trees",
         lambda: ExtraTreesRegressor(n_estimators=10, max_depth=8, random_state=0), N_TREE32)
_GB = dict(n_estimators=20, max_depth=3, random_state=0)
case("cancer", "gradient_boosting", lambda: GradientBoostingClassifier(**_GB),
     N_TREE32 + "; binary: decision = prior log-odds + lr * sum of trees (1-D)")
case("iris", "gradient_boosting", lambda: GradientBoostingClassifier(**_GB),
     N_TREE32 + "; multiclass: one tree per class per stage, softmax")
case("iris_str", "gradient_boosting", lambda: GradientBoostingClassifier(**_GB), N_TREE32)
case("diabetes", "gradient_boosting", lambda: GradientBoostingRegressor(**_GB), N_TREE32)
_HGB = dict(max_iter=20, random_state=0)
case("cancer", "hist_gradient_boosting", lambda: HistGradientBoostingClassifier(**_HGB), N_HGB)
case("iris", "hist_gradient_boosting", lambda: HistGradientBoostingClassifier(**_HGB), N_HGB)
case("iris_str", "hist_gradient_boosting", lambda: HistGradientBoostingClassifier(**_HGB), N_HGB)
case("iris_nan", "hist_gradient_boosting", lambda: HistGradientBoostingClassifier(**_HGB),
     N_HGB + "; NaN seen at fit time")
case("iris_nan_test", "hist_gradient_boosting", lambda: HistGradientBoostingClassifier(**_HGB),
     N_HGB + "; no NaN at fit time: NaN goes to the child with more training samples")
case("diabetes", "hist_gradient_boosting", lambda: HistGradientBoostingRegressor(**_HGB), N_HGB)
case("iris_round", "hist_gradient_boosting_categorical",
     lambda: HistGradientBoostingClassifier(categorical_features=[0, 1], **_HGB),
     N_HGB + "; features 0 and 1 categorical (integer codes): splits test membership in a "
     "256-bit left-category bitset")
case("diabetes_nan", "hist_gradient_boosting", lambda: HistGradientBoostingRegressor(**_HGB),
     N_HGB + "; NaN seen at fit time")
for _ds in ("iris", "cancer"):
    for _alg in ("SAMME", "SAMME.R"):
        case(_ds, f"adaboost_{_alg.lower().replace('.', '_')}",
             (lambda a: lambda: AdaBoostClassifier(n_estimators=10, algorithm=a,
                                                   random_state=0))(_alg),
             N_TREE32 + ("; SAMME.R: log of stump probabilities clipped at float eps, "
                         "decision / (n_classes - 1)" if _alg == "SAMME.R" else
                         "; SAMME: weighted votes"))
case("diabetes", "adaboost", lambda: AdaBoostRegressor(n_estimators=10, random_state=0),
     N_TREE32 + "; prediction = weighted median of the estimators (ties delicate)")
case("iris", "isolation_forest", lambda: IsolationForest(n_estimators=10, random_state=0),
     N_TREE32 + "; contamination='auto': offset_ = -0.5")
case("cancer", "isolation_forest_contamination",
     lambda: IsolationForest(n_estimators=10, contamination=0.1, max_features=0.5,
                             random_state=0),
     N_TREE32 + "; offset_ from the training scores; max_features=0.5 "
     "(per-tree estimators_features_)")

# SVMs.
case("iris", "svc_linear", lambda: SVC(kernel="linear"), "decision_function_shape='ovr'")
case("iris", "svc_rbf", lambda: SVC(kernel="rbf"),
     "ovr decision is derived from ovo votes + confidences (sklearn's _ovr_decision_function)")
case("iris", "svc_rbf_ovo", lambda: SVC(kernel="rbf", decision_function_shape="ovo"),
     "ovo decision: 3 pairwise columns")
case("iris", "svc_poly", lambda: SVC(kernel="poly", degree=3, coef0=1.0))
case("iris", "scaler_svc_sigmoid", scaled(lambda: SVC(kernel="sigmoid", coef0=0.5)))
case("iris", "svc_rbf_proba", lambda: SVC(kernel="rbf", probability=True, random_state=0),
     N_SVC_PROBA)
case("iris", "svc_poly_ovo_proba",
     lambda: SVC(kernel="poly", degree=2, probability=True, decision_function_shape="ovo",
                 random_state=0), N_SVC_PROBA)
case("iris_str", "svc_rbf", lambda: SVC(kernel="rbf"))
case("cancer", "scaler_svc_rbf", scaled(lambda: SVC(kernel="rbf")), "binary: decision 1-D")
case("cancer", "scaler_svc_linear", scaled(lambda: SVC(kernel="linear")))
case("cancer", "scaler_svc_poly", scaled(lambda: SVC(kernel="poly", degree=2)))
case("cancer", "scaler_svc_sigmoid", scaled(lambda: SVC(kernel="sigmoid")))
case("cancer", "scaler_svc_rbf_proba",
     scaled(lambda: SVC(kernel="rbf", probability=True, random_state=0)), N_SVC_PROBA)
case("iris", "nusvc", lambda: NuSVC(nu=0.3))
case("cancer", "scaler_nusvc_proba",
     scaled(lambda: NuSVC(nu=0.3, probability=True, random_state=0)), N_SVC_PROBA)
case("diabetes", "svr_rbf", lambda: SVR(kernel="rbf", C=100.0))
case("diabetes", "svr_linear", lambda: SVR(kernel="linear", C=1000.0))
case("diabetes", "nusvr", lambda: NuSVR(nu=0.5, C=100.0))
case("iris", "one_class_svm", lambda: OneClassSVM(nu=0.1, gamma="scale"),
     "label = sign(decision) with 0 -> +1; score_samples = decision + offset_")

# Neighbours, naive Bayes, MLPs.
case("iris", "knn_uniform", lambda: KNeighborsClassifier(n_neighbors=5), N_KNN)
case("iris", "knn_distance", lambda: KNeighborsClassifier(n_neighbors=5, weights="distance"),
     N_KNN + "; a test row equal to a training row gets all the weight")
case("cancer", "knn_distance_manhattan",
     lambda: KNeighborsClassifier(n_neighbors=7, weights="distance", p=1,
                                  algorithm="brute"),
     "p=1, brute force (on cancer: iris' one-decimal values give class-changing ties)")
case("cancer", "knn_uniform", lambda: KNeighborsClassifier(n_neighbors=5), N_KNN)
case("diabetes", "knn_uniform", lambda: KNeighborsRegressor(n_neighbors=5), N_KNN)
case("diabetes", "knn_distance", lambda: KNeighborsRegressor(n_neighbors=5, weights="distance"),
     N_KNN)
case("diabetes2", "knn_uniform", lambda: KNeighborsRegressor(n_neighbors=5), N_KNN)
case("iris", "gaussian_nb", GaussianNB, "joint log likelihood normalised with logsumexp")
case("iris", "multinomial_nb", lambda: MultinomialNB(alpha=1.0))
case("iris", "complement_nb", lambda: ComplementNB(alpha=1.0))
case("iris", "bernoulli_nb", lambda: BernoulliNB(binarize=2.0))
case("cancer", "scaler_bernoulli_nb", scaled(lambda: BernoulliNB(binarize=0.0)))
_MLP = dict(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=2000, random_state=0)
case("cancer", "scaler_mlp_relu", scaled(lambda: MLPClassifier(activation="relu", **_MLP)),
     "binary: one logistic output unit")
case("iris", "scaler_mlp_tanh", scaled(lambda: MLPClassifier(activation="tanh", **_MLP)))
case("iris", "scaler_mlp_logistic",
     scaled(lambda: MLPClassifier(activation="logistic", **_MLP)))
case("iris", "mlp_relu_adam",
     lambda: MLPClassifier(hidden_layer_sizes=(10, 8), max_iter=2000, random_state=0),
     "two hidden layers, adam, raw features")
case("diabetes", "scaler_mlp",
     scaled(lambda: MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=5000,
                                 random_state=0)))
case("diabetes2", "scaler_mlp",
     scaled(lambda: MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=5000,
                                 random_state=0)))

# Meta-estimators.


def _voters():
    return [("lr", LR()), ("dt", DecisionTreeClassifier(max_depth=3, random_state=0)),
            ("nb", GaussianNB())]


case("iris", "voting_hard", lambda: VotingClassifier(_voters(), voting="hard"),
     "hard voting: argmax of the weighted vote counts, ties -> lowest class index; " + N_TREE32)
case("iris", "voting_soft", lambda: VotingClassifier(_voters(), voting="soft",
                                                     weights=[2, 1, 1]),
     "soft voting: weighted average of the probabilities")
case("iris_str", "voting_soft", lambda: VotingClassifier(_voters(), voting="soft"),
     "string classes: estimators are fitted on le_-encoded labels")
case("diabetes", "voting", lambda: VotingRegressor(
    [("lin", LinearRegression()), ("dt", DecisionTreeRegressor(max_depth=4, random_state=0)),
     ("ridge", Ridge(alpha=0.5))]), N_TREE32)
case("cancer", "scaler_calibrated_linear_svc_sigmoid",
     scaled(lambda: CalibratedClassifierCV(LinearSVC(max_iter=20000, random_state=0),
                                           method="sigmoid", cv=3)),
     "mean over the 3 calibrated folds of expit(-(a*f + b)) on decision_function")
case("cancer", "calibrated_random_forest_isotonic",
     lambda: CalibratedClassifierCV(RandomForestClassifier(n_estimators=10, random_state=0),
                                    method="isotonic", cv=3),
     "isotonic on predict_proba[:, 1] (binary); " + N_TREE32)
case("iris", "calibrated_gaussian_nb_isotonic",
     lambda: CalibratedClassifierCV(GaussianNB(), method="isotonic", cv=3),
     "multiclass isotonic: per-class calibrators, renormalised (a zero row becomes uniform)")


# Several objects in one pickle.
def _tuple_model_scaler():
    d = data("cancer")
    scaler = MinMaxScaler().fit(d.Xtr)
    model = LR()
    warns = _fit(model, scaler.transform(d.Xtr), d.ytr)
    Xs = scaler.transform(d.Xte)
    out = outputs_of(model, Xs, "classifier")
    out["label_unscaled"] = _quiet(model.predict, d.Xte)
    out["probabilities_unscaled"] = _quiet(model.predict_proba, d.Xte)
    return dict(obj=(model, scaler), task="classifier", data=d, outputs=out, warnings=warns,
                objects=["model", "scaler"],
                notes="pickle of the tuple (model, scaler): input X is raw; label/probabilities/"
                      "decision = model on scaler.transform(X); *_unscaled = model on raw X")


def _tuple_model_labelencoder():
    d = data("iris_str")
    le = LabelEncoder().fit(d.ytr)
    model = RandomForestClassifier(n_estimators=10, random_state=0)
    warns = _fit(model, d.Xtr, le.transform(d.ytr))
    out = outputs_of(model, d.Xte, "classifier")
    out["label_decoded"] = le.inverse_transform(out["label"])
    return dict(obj=(model, le), task="classifier", data=d, outputs=out, warnings=warns,
                objects=["model", "label_encoder"],
                notes="pickle of the tuple (model, label_encoder): the model was trained on "
                      "LabelEncoder-encoded strings; label = model.predict (int), "
                      "label_decoded = label_encoder.inverse_transform(label); " + N_TREE32)


register("tuple__model_scaler", _tuple_model_scaler)
register("tuple__model_labelencoder", _tuple_model_labelencoder)


# Version drift: scikit-learn 1.2 models re-written the way other scikit-learn
# and numpy versions write them (formats.md 1.7, 3.3). scikit-learn 1.2's own
# predictions stay the expected outputs: none of these edits changes what a
# model predicts on finite inputs. Each case writes only model.p2/p3(/p4).pkl,
# and the generator loads every file it wrote back into scikit-learn 1.2 where
# 1.2 can read it and checks that it still predicts the expected outputs.
import io  # noqa: E402
import pickletools  # noqa: E402

from sklearn.base import BaseEstimator  # noqa: E402
from sklearn.tree._tree import Tree  # noqa: E402

NODE_FIELDS = ["left_child", "right_child", "feature", "threshold", "impurity",
               "n_node_samples", "weighted_n_node_samples"]
NODE_FLOATS = {"threshold", "impurity", "weighted_n_node_samples"}


def node_dtype(intp, missing_go_to_left):
    """The Tree node dtype with `intp` ('<i8' or '<i4') index fields, packed in
    field order with explicit offsets (as scikit-learn's own dtype: alignment 1),
    plus the 1.3+ missing_go_to_left byte and padding to a multiple of 8."""
    names = list(NODE_FIELDS)
    formats = ["<f8" if n in NODE_FLOATS else intp for n in names]
    offsets, off = [], 0
    for f in formats:
        offsets.append(off)
        off += np.dtype(f).itemsize
    if missing_go_to_left:
        names.append("missing_go_to_left")
        formats.append("u1")
        offsets.append(off)
        off = (off + 1 + 7) // 8 * 8
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": off})


class DriftPickler(pickle.Pickler):
    """Pickles scikit-learn objects with Tree state and estimator state edited."""

    def __init__(self, f, protocol, nodes64=False, fractions=False, intp32=False,
                 drop_version=False, seed=0):
        super().__init__(f, protocol=protocol)
        self.protocol = protocol
        self.nodes64, self.fractions, self.intp32 = nodes64, fractions, intp32
        self.drop_version = drop_version
        self.rng = np.random.default_rng(seed)

    def reducer_override(self, obj):
        if isinstance(obj, Tree) and (self.nodes64 or self.fractions or self.intp32):
            return self._tree(obj)
        if self.drop_version and isinstance(obj, BaseEstimator):
            rv = obj.__reduce_ex__(self.protocol)
            state = {k: v for k, v in rv[2].items() if k != "_sklearn_version"}
            return (rv[0], rv[1], state) + tuple(rv[3:])
        return NotImplemented

    def _tree(self, tree):
        cls, (n_features, n_classes, n_outputs), state = tree.__reduce__()
        state = dict(state)
        nodes = state["nodes"]
        assert nodes.dtype.names == tuple(NODE_FIELDS) and nodes.dtype.itemsize == 56
        if self.nodes64 or self.intp32:
            new = np.zeros(len(nodes), dtype=node_dtype("<i4" if self.intp32 else "<i8",
                                                         self.nodes64))
            for name in NODE_FIELDS:
                new[name] = nodes[name]
            if self.nodes64:
                new["missing_go_to_left"] = self.rng.integers(0, 2, len(nodes), dtype=np.uint8)
            state["nodes"] = new
        if self.intp32:  # Tree's n_classes argument is an intp array too
            n_classes = np.asarray(n_classes, dtype="<i4")
        if self.fractions:
            values = state["values"]
            state["values"] = values / values.sum(axis=2, keepdims=True)
        return cls, (n_features, n_classes, n_outputs), state


def rename_globals(data, rename):
    """Rewrites the module of every GLOBAL opcode of a protocol 2/3 stream
    (text opcodes, no frames, so nothing else moves). Returns (bytes, count)."""
    out, pos, count = bytearray(), 0, 0
    for op, arg, at in pickletools.genops(data):
        assert op.name not in ("FRAME", "STACK_GLOBAL"), "protocol 2/3 streams only"
        if op.name != "GLOBAL":
            continue
        module, name = arg.split(" ", 1)
        new = rename(module)
        if new == module:
            continue
        old_len = 1 + len(module.encode()) + 1 + len(name.encode()) + 1
        assert data[at:at + old_len] == b"c" + module.encode() + b"\n" + name.encode() + b"\n"
        out += data[pos:at] + b"c" + new.encode() + b"\n" + name.encode() + b"\n"
        pos = at + old_len
        count += 1
    out += data[pos:]
    return bytes(out), count


def numpy2_module(module):
    return "numpy._core" + module[len("numpy.core"):] if re.match(r"numpy\.core(\.|$)", module) \
        else module


# The public modules scikit-learn < 0.22 pickled under (formats.md 1.7).
PUBLIC_MODULES = {
    "sklearn.linear_model._logistic": "sklearn.linear_model.logistic",
    "sklearn.ensemble._forest": "sklearn.ensemble.forest",
    "sklearn.tree._classes": "sklearn.tree.tree",
    "sklearn.preprocessing._data": "sklearn.preprocessing.data",
    "sklearn.svm._classes": "sklearn.svm.classes",
}


class _Tree56(Tree):
    """A Tree that accepts node records of another layout by copying the seven
    <= 1.2 fields (what a reader of 1.3+ files has to do)."""

    def __setstate__(self, state):
        state = dict(state)
        nodes = state["nodes"]
        if nodes.dtype.itemsize != 56:
            old = np.zeros(len(nodes), dtype=node_dtype("<i8", False))
            for name in NODE_FIELDS:
                old[name] = nodes[name]
            state["nodes"] = old
        super().__setstate__(state)


class _UnmapUnpickler(pickle.Unpickler):
    def __init__(self, f, unmap):
        super().__init__(f)
        self.unmap = unmap

    def find_class(self, module, name):
        if self.unmap == "nodes":
            if (module, name) == ("sklearn.tree._tree", "Tree"):
                return _Tree56
            return super().find_class(module, name)
        return super().find_class(self.unmap(module), name)


def _load_check(data, built, unmap=None):
    """Unpickles `data` in this scikit-learn; if it loads, it must predict the
    expected outputs. When it does not load and `unmap` (renamed module ->
    module) is given, the file loaded with the names mapped back must. Returns
    a note for meta.notes. unmap="nodes" reads Tree nodes of any layout instead."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = pickle.loads(data)
    except Exception as e:  # noqa: BLE001 - the point is to record what 1.2 says
        msg = str(e).splitlines()[0] if str(e) else ""
        note = f"no ({type(e).__name__}: {msg[:140]})"
        if unmap is None:
            return note
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _check_predictions(_UnmapUnpickler(io.BytesIO(data), unmap).load(), built)
        return note + ("; with the module names mapped back" if unmap != "nodes" else
                       "; with the nodes copied back to 56-byte records") + \
            " it predicts the expected outputs"
    _check_predictions(obj, built)
    return "yes, and it predicts the expected outputs"


def _check_predictions(obj, built):
    got = outputs_of(obj, built["data"].Xte, built["task"])
    for k, want in built["outputs"].items():
        g, w = np.asarray(got[k]), np.asarray(want)
        same = (np.array_equal(g, w) if k == "label" or w.dtype.kind in "OUSb" else
                np.allclose(g, w, rtol=1e-12, atol=1e-12, equal_nan=True))
        assert same, f"the edited model predicts a different {k}"


def drift_case(name, ds, make, how, protocols, drift, notes="", unmap=None):
    """Fits make() on dataset ds like case(), then writes model.p<N>.pkl for
    N in protocols with `how(obj, protocol) -> bytes`."""
    def build():
        d = data(ds)
        est = make()
        warns = _fit(est, d.Xtr, d.ytr)
        t = task_of(est)
        built = dict(obj=est, task=t, data=d, outputs=outputs_of(est, d.Xte, t),
                     warnings=warns, drift=drift)

        def writer(case_dir):
            variants, loads = [], {}
            for proto in protocols:
                blob = how(est, proto)
                fname = f"model.p{proto}.pkl"
                with open(os.path.join(case_dir, fname), "wb") as f:
                    f.write(blob)
                variants.append(fname)
                loads.setdefault(_load_check(blob, built, unmap), []).append(fname)
            said = "; ".join(f"{'/'.join(fs)}: {outcome}" for outcome, fs in loads.items())
            built["notes"] = "; ".join([n for n in (drift, notes) if n] +
                                       [f"loads in scikit-learn {sklearn.__version__}: {said}"])
            return variants

        built["writer"] = writer
        if how is _public_paths:
            built["estimator"] = _public_name(est)
        return built
    register(f"drift__{name}", build)


def _drift_pickle(**edits):
    def how(obj, proto):
        buf = io.BytesIO()
        DriftPickler(buf, proto, **edits).dump(obj)
        return buf.getvalue()
    return how


def _numpy2_paths(obj, proto):
    data, count = rename_globals(pickle.dumps(obj, protocol=proto), numpy2_module)
    assert count > 0 and b"numpy.core" not in data
    return data


def _public_name(obj):
    t = type(obj)
    return f"{PUBLIC_MODULES.get(t.__module__, t.__module__)}.{t.__qualname__}"


def _public_paths(obj, proto):
    data, count = rename_globals(pickle.dumps(obj, protocol=proto),
                                 lambda m: PUBLIC_MODULES.get(m, m))
    assert count > 0 and not any(m.encode() + b"\n" in data for m in PUBLIC_MODULES)
    return data


_TREE_P = (2, 3, 4)
_TEXT_P = (2, 3)
N_NODES64 = ("Tree nodes re-written in the scikit-learn >= 1.3 layout: 64-byte records, "
             "missing_go_to_left (u1) at offset 56 set at random per node, 7 padding bytes")
N_FRACTIONS = ("classifier Tree values re-written as scikit-learn >= 1.4 writes them: each "
               "row divided by its sum (weighted fractions, not weighted counts)")
N_NUMPY2 = ("every numpy.core.* GLOBAL module rewritten to numpy._core.* (what numpy 2 "
            "writes); protocol 2/3 only (text GLOBAL opcodes, no frames)")
N_PUBLIC = ("scikit-learn modules rewritten to their pre-0.22 public spellings (" +
            ", ".join(f"{v}" for v in PUBLIC_MODULES.values()) + "); protocol 2/3 only")
N_INTP32 = ("Tree nodes re-written as a 32-bit scikit-learn build writes them: left_child, "
            "right_child, feature, n_node_samples '<i4', fields packed in order at offsets "
            "0,4,8,12,20,28,32, itemsize 40 (the i386 C layout, where doubles are 4-aligned, "
            "and the dtype scikit-learn's own cross-bitness test builds; an ARM32 build "
            "would align the doubles to 8: itemsize 48), n_classes argument '<i4'")
N_NO_VERSION = ("_sklearn_version removed from every estimator's state (as scikit-learn < "
                "0.18 wrote them)")

_DT = lambda: DecisionTreeClassifier(random_state=0)  # noqa: E731
_RF = lambda: RandomForestClassifier(n_estimators=10, random_state=0)  # noqa: E731
drift_case("tree_nodes64_decision_tree", "iris", _DT, _drift_pickle(nodes64=True), _TREE_P,
           N_NODES64, N_TREE32, unmap="nodes")
drift_case("tree_nodes64_decision_tree_regressor", "diabetes",
           lambda: DecisionTreeRegressor(max_depth=6, random_state=0),
           _drift_pickle(nodes64=True), _TREE_P, N_NODES64, N_TREE32, unmap="nodes")
drift_case("tree_nodes64_random_forest", "iris", _RF, _drift_pickle(nodes64=True), _TREE_P,
           N_NODES64, N_TREE32, unmap="nodes")
drift_case("tree_nodes64_gradient_boosting", "cancer",
           lambda: GradientBoostingClassifier(**_GB), _drift_pickle(nodes64=True), _TREE_P,
           N_NODES64, N_TREE32, unmap="nodes")
drift_case("tree_fractions_decision_tree", "iris", _DT, _drift_pickle(fractions=True),
           _TREE_P, N_FRACTIONS, N_TREE32)
drift_case("tree_fractions_random_forest", "iris", _RF, _drift_pickle(fractions=True),
           _TREE_P, N_FRACTIONS, N_TREE32)
drift_case("tree_fractions_extra_trees", "cancer",
           lambda: ExtraTreesClassifier(n_estimators=10, random_state=0),
           _drift_pickle(fractions=True), _TREE_P, N_FRACTIONS, N_TREE32)
drift_case("tree_nodes64_fractions_random_forest", "iris", _RF,
           _drift_pickle(nodes64=True, fractions=True), _TREE_P,
           N_NODES64 + "; " + N_FRACTIONS + " (together: what scikit-learn >= 1.4 writes)",
           N_TREE32, unmap="nodes")
_NP1 = lambda m: re.sub(r"^numpy\._core(?=\.|$)", "numpy.core", m)  # noqa: E731
_PRIVATE = {v: k for k, v in PUBLIC_MODULES.items()}
_PRIV = lambda m: _PRIVATE.get(m, m)  # noqa: E731
drift_case("numpy2_paths_logreg", "iris", LR, _numpy2_paths, _TEXT_P, N_NUMPY2, unmap=_NP1)
drift_case("numpy2_paths_random_forest", "iris", _RF, _numpy2_paths, _TEXT_P, N_NUMPY2,
           N_TREE32, unmap=_NP1)
drift_case("numpy2_paths_hist_gradient_boosting", "iris",
           lambda: HistGradientBoostingClassifier(**_HGB), _numpy2_paths, _TEXT_P, N_NUMPY2,
           N_HGB, unmap=_NP1)
drift_case("public_paths_logreg", "iris", LR, _public_paths, _TEXT_P, N_PUBLIC, unmap=_PRIV)
drift_case("public_paths_random_forest", "iris", _RF, _public_paths, _TEXT_P, N_PUBLIC,
           N_TREE32, unmap=_PRIV)
drift_case("public_paths_scaler_svc", "cancer", scaled(lambda: SVC(kernel="rbf")),
           _public_paths, _TEXT_P, N_PUBLIC, unmap=_PRIV)
drift_case("intp32_decision_tree", "iris", _DT, _drift_pickle(intp32=True), _TREE_P,
           N_INTP32, N_TREE32)
drift_case("intp32_random_forest_regressor", "diabetes",
           lambda: RandomForestRegressor(n_estimators=10, max_depth=8, random_state=0),
           _drift_pickle(intp32=True), _TREE_P, N_INTP32, N_TREE32)
drift_case("intp32_gradient_boosting", "cancer", lambda: GradientBoostingClassifier(**_GB),
           _drift_pickle(intp32=True), _TREE_P, N_INTP32, N_TREE32)
drift_case("no_version", "iris", scaled(LR), _drift_pickle(drop_version=True), _TREE_P,
           N_NO_VERSION)


# Benchmarks: bigger models, only model.pkl (protocol 4) + model.joblib.
def _bench(make, notes):
    def build():
        d = data("cancer")
        est = make()
        warns = _fit(est, d.Xtr, d.ytr)
        return dict(obj=est, task="classifier", data=d, outputs=outputs_of(est, d.Xte,
                                                                           "classifier"),
                    warnings=warns, bench=True, notes=notes)
    return build


register("bench__scaler_logreg", _bench(lambda: make_pipeline(StandardScaler(), LR()), ""))
register("bench__rf100", _bench(
    lambda: RandomForestClassifier(n_estimators=100, random_state=0), N_TREE32))
register("bench__hgb", _bench(lambda: HistGradientBoostingClassifier(random_state=0), N_HGB))

# ----------------------------------------------------------------------- writing


def qualname(obj):
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def _save_npy(path, arr):
    arr = np.ascontiguousarray(arr)
    np.save(path, arr, allow_pickle=False)


def _write_output(d, name, value):
    arr = np.asarray(value)
    if arr.dtype.kind == "O" and all(isinstance(v, (int, float, np.number)) for v in arr.ravel()):
        # An object array of numbers (e.g. ColumnTransformer passthrough of an
        # object column): its values are exactly float64.
        arr = arr.astype(np.float64)
    if arr.dtype.kind in "OUS":
        with open(os.path.join(d, name + ".json"), "w") as f:
            json.dump([str(v) for v in arr.tolist()], f)
        return name + ".json"
    if name.startswith("label"):
        assert arr.dtype.kind in "iub", (name, arr.dtype)
        arr = arr.astype(np.int64)
    else:
        arr = arr.astype(np.float64)
    _save_npy(os.path.join(d, name + ".npy"), arr)
    return name + ".npy"


def _csv_cell(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))  # shortest round-trip form
    return str(v)


def _write_input(d, ds):
    if ds.csv_types is None:
        _save_npy(os.path.join(d, "X.npy"), np.asarray(ds.Xte, dtype=np.float64))
        return "X.npy"
    with open(os.path.join(d, "X.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(ds.columns)
        for row in ds.Xte:
            w.writerow([_csv_cell(v) for v in row])
    return "X.csv"


def _write_models(d, obj, bench, quick):
    files = []
    if bench:
        plan = [("model.pkl", 4, None), ("model.joblib", None, None)]
    elif quick:
        plan = [("model.p4.pkl", 4, None), ("model.joblib", None, None)]
    else:
        plan = [(f"model.p{p}.pkl", p, None) for p in (2, 3, 4, 5)]
        plan.append(("model.joblib", None, None))
        plan += [(f"model.joblib.{ext}", None, (method, 3)) for method, ext in COMPRESSORS]
    for fname, proto, compress in plan:
        path = os.path.join(d, fname)
        if proto is not None:
            with open(path, "wb") as f:
                pickle.dump(obj, f, protocol=proto)
        else:
            joblib.dump(obj, path, compress=compress or 0)
        files.append(fname)
    return files


def _steps(obj):
    if isinstance(obj, Pipeline):
        return [type(s).__name__ for _, s in obj.steps]
    return []


def _output_notes(model, outputs):
    """Rows where the label hinges on a tie or does not follow the probabilities."""
    notes = []
    p = outputs.get("probabilities")
    if p is None or np.ndim(p) != 2 or p.shape[1] < 2:
        return notes
    top = np.sort(p, axis=1)
    rows = np.flatnonzero(top[:, -1] - top[:, -2] <= 1e-9).tolist()
    if rows:
        notes.append(f"rows {rows}: the top two probabilities tie (within 1e-9); sklearn's "
                     "label is the first maximum in classes_ order (or follows decision)")
    classes = getattr(model, "classes_", None)
    if classes is not None and "label" in outputs:
        differ = np.flatnonzero(np.asarray(classes)[np.argmax(p, axis=1)]
                                != np.asarray(outputs["label"])).tolist()
        if differ:
            notes.append(f"rows {differ}: label != argmax(probabilities)")
    return notes


def write_case(out_dir, name, built, quick):
    d = os.path.join(out_dir, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    obj, ds = built["obj"], built["data"]
    model = obj[0] if isinstance(obj, tuple) else obj
    if "writer" in built:  # drift__ cases write their own model files
        variants = built["writer"](d)
    else:
        variants = _write_models(d, obj, built.get("bench", False), quick)
    outputs, files = [], {}
    for k, v in built["outputs"].items():
        files[k] = _write_output(d, k, v)
        outputs.append(k)
    notes = [n for n in (built.get("notes"), ds.notes) if n]
    notes += _output_notes(model, built["outputs"])
    if built["warnings"]:
        notes.append("fit warnings: " + " | ".join(built["warnings"]))
    fnames = getattr(model, "feature_names_in_", None)
    meta = {
        "name": name,
        "estimator": built.get("estimator") or qualname(obj),
        "steps": _steps(obj),
        "dataset": ds.name,
        "dataset_description": DATASET_LONG[ds.name],
        "task": built["task"],
        "outputs": outputs,
        "output_files": files,
        "rtol": RTOL,
        "atol": ATOL,
        "label_exact": True,
        "feature_names": None if fnames is None else [str(f) for f in fnames],
        "columns": list(ds.columns),
        "input": _write_input(d, ds),
        "n_rows": int(len(ds.Xte)),
        "n_features_in": _py(getattr(model, "n_features_in_", None)),
        "variants": variants,
        "notes": "; ".join(notes),
        "sklearn_version": sklearn.__version__,
    }
    if ds.csv_types is not None:
        meta["csv_types"] = list(ds.csv_types)
    classes = getattr(model, "classes_", None)
    if classes is not None and built["task"] == "classifier":
        meta["classes"] = [_py(c) for c in classes]
    if "objects" in built:
        meta["objects"] = built["objects"]
        meta["object_classes"] = [qualname(o) for o in obj]
    if built.get("bench"):
        meta["bench"] = True
    if built.get("drift"):
        meta["drift"] = built["drift"]
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return meta


def script_sha256():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--only", metavar="NAME_REGEX", help="cases whose name matches (re.search)")
    ap.add_argument("--quick", action="store_true",
                    help="model.p4.pkl + model.joblib only, no bench__ cases")
    ap.add_argument("--list", action="store_true", help="print the case names and exit")
    a = ap.parse_args(argv)
    if a.list:
        print("\n".join(n for n, _ in CASES))
        return 0
    full = a.only is None and not a.quick
    selected = [(n, b) for n, b in CASES
                if (a.only is None or re.search(a.only, n))
                and not (a.quick and n.startswith("bench__"))]
    if not selected:
        sys.exit(f"gen_sklearn: no case matches {a.only!r}")
    os.makedirs(a.out_dir, exist_ok=True)
    stamp = os.path.join(a.out_dir, ".stamp")
    if os.path.exists(stamp):
        os.remove(stamp)
    if full:  # drop case folders of cases that no longer exist
        names = {n for n, _ in CASES}
        for entry in sorted(os.listdir(a.out_dir)):
            p = os.path.join(a.out_dir, entry)
            if entry not in names and os.path.isfile(os.path.join(p, "meta.json")):
                shutil.rmtree(p)
    t0 = time.time()
    index = []
    for name, build in selected:
        meta = write_case(a.out_dir, name, build(), a.quick)
        index.append({"name": name, "estimator": meta["estimator"], "task": meta["task"],
                      "outputs": meta["outputs"]})
        print(f"{name:55s} {meta['estimator'].rsplit('.', 1)[1]:32s} "
              f"{','.join(meta['outputs'])}")
    if full:
        with open(os.path.join(a.out_dir, "index.json"), "w") as f:
            json.dump({"sklearn_version": sklearn.__version__, "cases": index}, f, indent=1)
            f.write("\n")
        with open(stamp, "w") as f:
            f.write(script_sha256() + "\n")
    print(f"gen_sklearn: {len(selected)} cases, {_dir_size(a.out_dir) / 1e6:.1f} MB in "
          f"{a.out_dir}, {time.time() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
