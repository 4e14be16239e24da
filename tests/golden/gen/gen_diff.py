#!/usr/bin/python3
"""Writes the model pairs that `tiffin diff` is tested on (tests/cli/diff_test.py).

From tests/golden/torch/mlp/model.onnx (a PyTorch export), with Debian's
python3-onnx:
  mlp_sigmoid.onnx   - the same network with its ReLU replaced by a Sigmoid:
                       the seed's "seemingly identical model where one layer's
                       activation differs";
  mlp_fc2_nudged.onnx - the same network with one weight of fc2 changed by 0.25.

With Debian's python3-sklearn (1.2.1), two pipelines trained on iris that
differ in their scaler only:
  iris_standard_logreg.pkl - Pipeline(StandardScaler, LogisticRegression);
  iris_minmax_logreg.pkl   - Pipeline(MinMaxScaler, LogisticRegression).

Two Keras-layout legacy .h5 files (written with h5py by gen_keras.py's
helpers; TensorFlow is not in Debian) with the same weights, whose layer
'hidden' is Dense(relu) in one and Dense(tanh) in the other: the seed's
rebuilt architecture with one activation changed:
  keras_hidden_relu.h5, keras_hidden_tanh.h5.

Run:  /usr/bin/python3 tests/golden/gen/gen_diff.py
"""
import os

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "torch", "mlp", "model.onnx")
OUT = os.path.join(ROOT, "diff")


def main():
    os.makedirs(OUT, exist_ok=True)
    m = onnx.load(SRC)
    relu = [n for n in m.graph.node if n.op_type == "Relu"]
    assert len(relu) == 1
    relu[0].op_type = "Sigmoid"
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, "mlp_sigmoid.onnx"))

    m = onnx.load(SRC)
    for i, init in enumerate(m.graph.initializer):
        if init.name == "fc2.weight":
            w = numpy_helper.to_array(init).copy()
            w[3, 5] += np.float32(0.25)
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(w, init.name))
    onnx.save(m, os.path.join(OUT, "mlp_fc2_nudged.onnx"))

    import pickle

    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    X, y = load_iris(return_X_y=True)
    for name, scaler in (("standard", StandardScaler()), ("minmax", MinMaxScaler())):
        model = make_pipeline(scaler, LogisticRegression(max_iter=1000)).fit(X, y)
        with open(os.path.join(OUT, f"iris_{name}_logreg.pkl"), "wb") as f:
            pickle.dump(model, f, protocol=4)

    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gen_keras

    rng = np.random.RandomState(7)
    weights = {"hidden": [("kernel", rng.randn(4, 8).astype(np.float32)),
                          ("bias", rng.randn(8).astype(np.float32))],
               "out": [("kernel", rng.randn(8, 3).astype(np.float32)),
                       ("bias", rng.randn(3).astype(np.float32))]}
    for act in ("relu", "tanh"):
        cfg = gen_keras.sequential([
            gen_keras.input_layer("x", [4], functional=False),
            gen_keras.layer("Dense", "hidden", units=8, activation=act),
            gen_keras.layer("Dense", "out", units=3, activation="softmax")])
        gen_keras.save_h5(os.path.join(OUT, f"keras_hidden_{act}.h5"), cfg, weights)


if __name__ == "__main__":
    main()
