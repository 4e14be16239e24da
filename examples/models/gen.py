#!/usr/bin/python3
"""Writes the model repository that `make run` serves (tiffin serve
examples/models), one directory per model:

  iris_logreg/model.tiffin  the seed's MinMaxScaler + LogisticRegression
                            (examples/sklearn_iris/model.pkl, packed with
                            --steps scaler,model and its reference rows)
  iris_forest/model.pkl     a RandomForestClassifier (20 trees, depth 4) on iris,
                            pickled as scikit-learn 1.2 writes it
  iris_mlp/model.onnx       the small network of examples/iris_mlp

usage: /usr/bin/python3 examples/models/gen.py build/bin/tiffin
"""
import os
import pickle
import shutil
import subprocess
import sys

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.dirname(HERE)
tiffin = sys.argv[1]

for d in ("iris_logreg", "iris_forest", "iris_mlp"):
    os.makedirs(os.path.join(HERE, d), exist_ok=True)
subprocess.run([tiffin, "pack", os.path.join(EXAMPLES, "sklearn_iris", "model.pkl"), "-o",
                os.path.join(HERE, "iris_logreg", "model.tiffin"), "--steps", "scaler,model",
                "--reference", os.path.join(EXAMPLES, "sklearn_iris", "input.csv"),
                "--name", "iris_logreg"], check=True)
iris = load_iris()
forest = RandomForestClassifier(n_estimators=20, max_depth=4, random_state=0)
forest.fit(iris.data, iris.target)
with open(os.path.join(HERE, "iris_forest", "model.pkl"), "wb") as f:
    pickle.dump(forest, f, protocol=4)
shutil.copy(os.path.join(EXAMPLES, "iris_mlp", "model.onnx"),
            os.path.join(HERE, "iris_mlp", "model.onnx"))
