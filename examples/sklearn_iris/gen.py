#!/usr/bin/python3
"""Writes the example scikit-learn file: the classic "(model, scaler)" pickle.

A LogisticRegression trained on MinMaxScaler output, saved together with the
scaler as a tuple, as many training scripts do. Predicting with the model
alone on raw measurements is the "preprocessing left behind" mistake;
`tiffin predict model.pkl --steps scaler,model` composes them.

Run with Debian's python (scikit-learn 1.2):  /usr/bin/python3 examples/sklearn_iris/gen.py
"""
import csv
import os
import pickle

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MinMaxScaler

HERE = os.path.dirname(os.path.abspath(__file__))

iris = load_iris()
X, y = iris.data, iris.target
scaler = MinMaxScaler().fit(X)
model = LogisticRegression(max_iter=1000, random_state=0).fit(scaler.transform(X), y)
with open(os.path.join(HERE, "model.pkl"), "wb") as f:
    pickle.dump((model, scaler), f, protocol=4)
rows = [0, 50, 100]
with open(os.path.join(HERE, "input.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(iris.feature_names)
    for r in rows:
        w.writerow([float(v) for v in X[r]])
print("expected labels with the scaler:", model.predict(scaler.transform(X[rows])).tolist())
print("labels of the model alone on raw input:", model.predict(X[rows]).tolist())
