#!/usr/bin/env python3
"""Generate PyTorch-exported ONNX golden fixtures for tiffin.

Run from the repository root with Debian's Python (torch 1.13 / onnx 1.12):

    /usr/bin/python3 tests/golden/gen/gen_torch.py

For every model in MODELS this writes tests/golden/torch/<name>/:
    model.onnx        exported with a dynamic batch axis (dim 0 of every input/output)
    input_0.npy       float32 input, batch of GOLDEN_BATCH rows
    expected_<i>.npy  PyTorch eval-mode output i (float32)

The module is importable without side effects: bench/peers/torch_bench.py uses
build_model() / make_input() so that the benchmarked module is exactly the one
that was exported (weights are a pure function of the model name's seed).
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn

GOLDEN_BATCH = 3
DEFAULT_OPSET = 13

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT_ROOT = os.path.join(REPO_ROOT, "tests", "golden", "torch")


# --------------------------------------------------------------------------
# Model definitions
# --------------------------------------------------------------------------

class MLP(nn.Module):
    """Linear/LayerNorm/ReLU/GELU/Tanh/Sigmoid/Softmax mix; input [N, 16] -> [N, 3]."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 64)
        self.ln = nn.LayerNorm(64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 32)
        self.fc4 = nn.Linear(32, 3)
        self.act2 = nn.GELU()

    def forward(self, x):
        x = torch.relu(self.ln(self.fc1(x)))
        x = self.act2(self.fc2(x))
        x = torch.tanh(self.fc3(x)) * torch.sigmoid(x[:, :32])
        return torch.softmax(self.fc4(x), dim=-1)


class CNN(nn.Module):
    """BatchNorm/Conv2d/BatchNorm/ReLU/MaxPool/grouped strided Conv/GlobalAvgPool/Linear.

    Input [N, 3, 16, 16] -> [N, 10]. The exporter folds bn1/bn2 into the
    preceding convs (eval mode); bn0 has no producer to fold into, so it stays a
    BatchNormalization node.
    """

    def __init__(self):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(3)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2)
        self.bn2 = nn.BatchNorm2d(16)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.bn0(x)
        x = self.pool1(torch.relu(self.bn1(self.conv1(x))))   # [N, 8, 8, 8]
        x = torch.relu(self.bn2(self.conv2(x)))              # [N, 16, 4, 4]
        x = torch.flatten(self.gap(x), 1)                    # [N, 16]
        return self.fc(x)


class CNN1d(nn.Module):
    """Conv1d with dilation + padding, ReLU, global max pool, Linear.

    Input [N, 4, 32] -> [N, 5].
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 8, kernel_size=3, dilation=2, padding=2)
        self.conv2 = nn.Conv1d(8, 16, kernel_size=3, dilation=4)
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = torch.relu(self.conv1(x))       # [N, 8, 32]
        x = torch.relu(self.conv2(x))       # [N, 16, 24]
        x = torch.flatten(self.pool(x), 1)  # [N, 16]
        return self.fc(x)


class LSTMHead(nn.Module):
    """2-layer LSTM (batch_first), last layer's final hidden state -> Linear.

    Input [N, 5, 8] -> [N, 4].
    """

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(input_size=8, hidden_size=16, num_layers=2, batch_first=True)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        _, (h_n, _) = self.rnn(x)           # h_n [2, N, 16]
        return self.fc(h_n[-1])


class GRUHead(nn.Module):
    """Bidirectional GRU (batch_first). Two outputs:

    output_0: Linear(concat(final fwd, final bwd hidden))  [N, 4]
    output_1: full sequence output                          [N, 5, 32]
    Input [N, 5, 8].
    """

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(input_size=8, hidden_size=16, num_layers=1,
                          batch_first=True, bidirectional=True)
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        seq, h_n = self.rnn(x)              # seq [N, 5, 32], h_n [2, N, 16]
        last = torch.cat([h_n[0], h_n[1]], dim=1)
        return self.fc(last), seq


class RNNHead(nn.Module):
    """Elman RNN (tanh, batch_first), last time step of the output -> Linear.

    Input [N, 5, 8] -> [N, 4].
    """

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(input_size=8, hidden_size=16, num_layers=1,
                          nonlinearity="tanh", batch_first=True)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        seq, _ = self.rnn(x)                # [N, 5, 16]
        return self.fc(seq[:, -1, :])


def _calibrate_cnn(model):
    """Give BatchNorm non-trivial affine params and running statistics."""
    with torch.no_grad():
        for bn in (model.bn0, model.bn1, model.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    model.train()
    with torch.no_grad():
        for _ in range(5):
            # shifted/scaled data so that running_mean/var are far from 0/1
            model(torch.randn(8, 3, 16, 16) * 2.0 + 0.5)


# name -> (module class, input shape without batch, opset, number of outputs, post-init hook)
MODELS = {
    "mlp":         (MLP,      (16,),        DEFAULT_OPSET, 1, None),
    "mlp_opset17": (MLP,      (16,),        17,            1, None),
    "cnn":         (CNN,      (3, 16, 16),  DEFAULT_OPSET, 1, _calibrate_cnn),
    "cnn1d":       (CNN1d,    (4, 32),      DEFAULT_OPSET, 1, None),
    "lstm":        (LSTMHead, (5, 8),       DEFAULT_OPSET, 1, None),
    "gru":         (GRUHead,  (5, 8),       DEFAULT_OPSET, 2, None),
    "rnn":         (RNNHead,  (5, 8),       DEFAULT_OPSET, 1, None),
}

# Stable per-model seeds (variants of one architecture share weights).
SEEDS = {"mlp": 1, "mlp_opset17": 1, "cnn": 2, "cnn1d": 3, "lstm": 4, "gru": 5, "rnn": 6}


def build_model(name):
    """Return the deterministic eval-mode module for `name`."""
    cls, _, _, _, hook = MODELS[name]
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # calibration passes must not depend on the caller's thread count
    try:
        torch.manual_seed(SEEDS[name])
        model = cls()
        if hook is not None:
            hook(model)
    finally:
        torch.set_num_threads(prev_threads)
    model.eval()
    return model


def input_shape(name, batch):
    return (batch,) + tuple(MODELS[name][1])


def make_input(name, batch, seed=None):
    """Deterministic float32 input of shape [batch, ...] as a numpy array."""
    rng = np.random.RandomState(1000 + SEEDS[name] if seed is None else seed)
    return rng.standard_normal(input_shape(name, batch)).astype(np.float32)


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------

def export(name, out_root=OUT_ROOT, batch=GOLDEN_BATCH):
    import onnx

    _, _, opset, n_out, _ = MODELS[name]
    model = build_model(name)
    x_np = make_input(name, batch)
    x = torch.from_numpy(x_np)

    with torch.no_grad():
        y = model(x)
    ys = list(y) if isinstance(y, (tuple, list)) else [y]
    assert len(ys) == n_out, (name, len(ys))

    out_dir = os.path.join(out_root, name)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")

    input_names = ["input_0"]
    output_names = ["output_%d" % i for i in range(n_out)]
    dynamic_axes = {n: {0: "batch"} for n in input_names + output_names}
    torch.onnx.export(
        model, (x,), path,
        input_names=input_names,
        output_names=output_names,
        dynamic_axes=dynamic_axes,
        opset_version=opset,
        do_constant_folding=True,
        training=torch.onnx.TrainingMode.EVAL,
    )

    np.save(os.path.join(out_dir, "input_0.npy"), x_np)
    for i, t in enumerate(ys):
        np.save(os.path.join(out_dir, "expected_%d.npy" % i),
                t.detach().numpy().astype(np.float32))

    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = sorted({n.op_type for n in m.graph.node})
    opsets = {o.domain or "ai.onnx": o.version for o in m.opset_import}
    return {"name": name, "opset": opsets.get("ai.onnx"), "ops": ops,
            "input": list(x_np.shape), "outputs": [list(t.shape) for t in ys],
            "bytes": os.path.getsize(path)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", help="subset of: " + ", ".join(MODELS))
    ap.add_argument("--out", default=OUT_ROOT, help="output root (default: %(default)s)")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    names = args.models or list(MODELS)
    for n in names:
        if n not in MODELS:
            ap.error("unknown model %r" % n)
    for n in names:
        info = export(n, args.out)
        print("%-12s opset %-2s in %-14s out %-24s %6d B  ops: %s" % (
            info["name"], info["opset"], info["input"], info["outputs"],
            info["bytes"], " ".join(info["ops"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
