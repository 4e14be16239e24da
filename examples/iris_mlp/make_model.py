#!/usr/bin/env python3
"""Build the iris_mlp example: a tiny 4 -> 3 softmax classifier exported to ONNX.

    /usr/bin/python3 examples/iris_mlp/make_model.py

Trains on a deterministic synthetic "iris-like" dataset (per-class Gaussians
with the real Iris per-class means/stds; nothing is downloaded), then writes
next to this script:

    model.onnx            opset 13, input "features" [batch, 4] float32,
                          output "probabilities" [batch, 3] float32, dynamic batch
    input.json            {"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}
    expected_output.json  PyTorch's probabilities for input.json
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ["setosa", "versicolor", "virginica"]

# Per-class mean / std of (sepal length, sepal width, petal length, petal width)
# from the classic Iris data set.
MEANS = np.array([[5.006, 3.428, 1.462, 0.246],
                  [5.936, 2.770, 4.260, 1.326],
                  [6.588, 2.974, 5.552, 2.026]])
STDS = np.array([[0.352, 0.379, 0.174, 0.105],
                 [0.516, 0.314, 0.470, 0.198],
                 [0.636, 0.322, 0.552, 0.275]])

EXAMPLE_INPUT = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def make_dataset(per_class=50, seed=0):
    rng = np.random.RandomState(seed)
    xs, ys = [], []
    for c in range(3):
        xs.append(rng.normal(MEANS[c], STDS[c], size=(per_class, 4)))
        ys.append(np.full(per_class, c))
    x = np.clip(np.concatenate(xs), 0.1, None).astype(np.float32)
    y = np.concatenate(ys).astype(np.int64)
    return x, y


class IrisMLP(nn.Module):
    """Standardize (constants baked in) -> Linear(4,16) -> ReLU -> Linear(16,3) -> Softmax."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.fc1 = nn.Linear(4, 16)
        self.fc2 = nn.Linear(16, 3)

    def logits(self, x):
        x = (x - self.mean) / self.std
        return self.fc2(torch.relu(self.fc1(x)))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=-1)


def train(steps=300, seed=0, lr=0.003):
    torch.manual_seed(seed)
    x_np, y_np = make_dataset(seed=seed)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    model = IrisMLP(x_np.mean(axis=0), x_np.std(axis=0))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model.logits(x), y)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model.logits(x).argmax(dim=1) == y).float().mean().item()
    return model, float(loss.item()), acc


def main():
    torch.set_num_threads(1)
    model, loss, acc = train()

    x = torch.tensor(EXAMPLE_INPUT, dtype=torch.float32)
    torch.onnx.export(
        model, (x,), os.path.join(HERE, "model.onnx"),
        input_names=["features"], output_names=["probabilities"],
        dynamic_axes={"features": {0: "batch"}, "probabilities": {0: "batch"}},
        opset_version=13, do_constant_folding=True,
    )
    with torch.no_grad():
        probs = model(x).numpy().astype(np.float32)

    with open(os.path.join(HERE, "input.json"), "w") as f:
        json.dump({"features": EXAMPLE_INPUT}, f)
        f.write("\n")
    with open(os.path.join(HERE, "expected_output.json"), "w") as f:
        json.dump({"probabilities": [[float(v) for v in row] for row in probs]}, f)
        f.write("\n")

    print("train loss %.4f, train accuracy %.3f" % (loss, acc))
    for row, p in zip(EXAMPLE_INPUT, probs):
        print("%s -> %s (%s)" % (row, np.array2string(p, precision=4), CLASSES[int(p.argmax())]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
