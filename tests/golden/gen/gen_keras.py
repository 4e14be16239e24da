#!/usr/bin/env /usr/bin/python3
"""Differential Keras fixtures for tiffin, without Keras.

Keras/TensorFlow are not installable here (not in Debian, no PyPI), so this
script writes Keras-*layout* files with h5py -- legacy `.h5` full models,
weights-only `.h5` + `model.to_json()` architecture files, and Keras 3
`.keras` zips -- whose weights come from torch 1.13 (Debian's python3-torch),
and records torch's outputs for the same weights and inputs. It checks the
layer math of tiffin's importer against an independent implementation; it
does not prove that real Keras writes these exact bytes (the external hls4ml
files in ../shared/fixtures/external/keras do that for the layers they hold).

Layout mapping (Keras <- torch):
  Dense kernel (in, out)            = Linear.weight.T; bias = Linear.bias
  ConvND kernel (k..., in/g, out)   = Conv.weight (out, in/g, k...) permuted (2.., 1, 0)
  DepthwiseConv2D (kh, kw, in, dm)  = Conv(groups=in).weight (in*dm, 1, kh, kw):
                                      channel c*dm+m -> [.., c, m]
  Conv2DTranspose (kh, kw, out, in) = ConvTranspose.weight (in, out, kh, kw) permuted (2, 3, 1, 0)
  LSTM kernel (in, 4u) gates i,f,c,o = torch weight_ih (4u, in) gates i,f,g,o, transposed;
       bias = b_ih + b_hh
  GRU (reset_after=True) kernel (in, 3u) gates z,r,h = torch weight_ih gates r,z,n reordered;
       bias (2, 3u) = [b_ih; b_hh] reordered
  SimpleRNN kernel (in, u) = weight_ih.T, recurrent = weight_hh.T, bias = b_ih + b_hh
  Keras tensors are channels_last: torch runs on the NCHW transpose, and
  Flatten flattens the NHWC tensor.

Usage: gen_keras.py OUT_DIR   (writes OUT_DIR/cases.txt and OUT_DIR/hostile.txt)
"""

import io
import json
import os
import struct
import sys
import zipfile

import numpy as np

try:
    import h5py
    import torch
    import torch.nn.functional as F
except ImportError as e:  # ctest's skip code: Debian's python3-h5py / python3-torch missing
    print(f"SKIP: {e}")
    sys.exit(77)

torch.manual_seed(0)
torch.set_num_threads(1)
RNG = np.random.default_rng(0)
BATCH = 3


def rnd(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# ----------------------------------------------------------------------------
# Keras config builders (Keras 2 legacy style unless noted)


def layer(cls, name, inbound=None, **cfg):
    cfg["name"] = name
    d = {"class_name": cls, "name": name, "config": cfg}
    if inbound is not None:
        d["inbound_nodes"] = [[[src, 0, 0, {}] for src in inbound]] if inbound else []
    return d


def input_layer(name, shape, functional=True, dtype="float32"):
    d = layer("InputLayer", name, [] if functional else None,
              batch_input_shape=[None] + list(shape), dtype=dtype)
    return d


def functional(layers, inputs, outputs):
    return {"class_name": "Functional" if True else "Model",
            "config": {"name": "model", "layers": layers,
                       "input_layers": [[n, 0, 0] for n in inputs],
                       "output_layers": [[n, 0, 0] for n in outputs]}}


def sequential(layers):
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


def write_weights(group, weights, nested_names=False):
    """weights: {layer: [(weight_name, array)]} in layer order. With
    nested_names, weight names already start with their own layer's name
    (a nested model's group: "dense_1/kernel" -> "dense_1/kernel:0")."""
    names = list(weights)
    group.attrs["layer_names"] = np.array([n.encode() for n in names])
    for name, ws in weights.items():
        g = group.create_group(name)
        wn = [f"{w}:0" if nested_names and "/" in w else f"{name}/{w}:0" for w, _ in ws]
        g.attrs["weight_names"] = np.array([w.encode() for w in wn]) if wn else np.array([], np.float64)
        for full, (_, arr) in zip(wn, ws):
            g.create_dataset(full, data=arr)


def save_h5(path, config, weights, keras_version="2.11.0", nested_names=False):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        g = f.create_group("model_weights")
        g.attrs["keras_version"] = keras_version
        write_weights(g, weights, nested_names)


def save_weights_only(path, json_path, config, weights, keras_version="2.3.0"):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"
        write_weights(f, weights)
    with open(json_path, "w") as f:
        json.dump(config, f)


# ----------------------------------------------------------------------------
# Cases: each returns (files written, inputs {name: array}, outputs [array])

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def dense_w(lin_in, lin_out):
    w, b = rnd(lin_out, lin_in), rnd(lin_out)
    return w, b, [("kernel", w.T.copy()), ("bias", b)]


@case
def dense_mlp(out):
    w1, b1, k1 = dense_w(5, 8)
    w2, b2, k2 = dense_w(8, 4)
    cfg = sequential([input_layer("x", [5], functional=False),
                      layer("Dense", "d1", units=8, activation="relu", use_bias=True),
                      layer("Dropout", "drop", rate=0.5),
                      layer("Dense", "d2", units=4, activation="softmax", use_bias=True)])
    save_h5(os.path.join(out, "dense_mlp.h5"), cfg, {"d1": k1, "drop": [], "d2": k2})
    x = rnd(BATCH, 5, scale=1.0)
    y = F.softmax(F.linear(F.relu(F.linear(t(x), t(w1), t(b1))), t(w2), t(b2)), -1)
    return "dense_mlp.h5", "-", {"x": x}, [y]


ACTS = {
    "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
    "softmax": lambda v: F.softmax(v, -1), "log_softmax": lambda v: F.log_softmax(v, -1),
    "elu": F.elu, "selu": F.selu, "softplus": F.softplus, "softsign": F.softsign,
    "swish": F.silu, "silu": F.silu, "gelu": F.gelu,
    "hard_sigmoid": lambda v: torch.clamp(0.2 * v + 0.5, 0, 1),  # Keras 2 definition
    "exponential": torch.exp, "relu6": F.relu6, "mish": F.mish, "linear": lambda v: v,
    "hard_swish": F.hardswish, "leaky_relu": lambda v: F.leaky_relu(v, 0.2),
}


@case
def activations(out):
    # Functional: one Dense feeding every activation, concatenated.
    w, b, k = dense_w(4, 6)
    layers = [input_layer("x", [4]), layer("Dense", "d", ["x"], units=6, activation="linear")]
    names = []
    for a in ACTS:
        layers.append(layer("Activation", "act_" + a, ["d"], activation=a))
        names.append("act_" + a)
    layers.append(layer("Concatenate", "cat", names, axis=-1))
    cfg = functional(layers, ["x"], ["cat"])
    save_h5(os.path.join(out, "activations.h5"), cfg, {"d": k})
    x = rnd(BATCH, 4, scale=2.0)
    h = F.linear(t(x), t(w), t(b))
    y = torch.cat([f(h) for f in ACTS.values()], -1)
    return "activations.h5", "-", {"x": x}, [y]


def conv_kernel(w):  # torch (out, in/g, k...) -> Keras (k..., in/g, out)
    nd = w.ndim - 2
    return np.transpose(w, tuple(range(2, 2 + nd)) + (1, 0)).copy()


def same_pad(x, k, s, d=1):
    """TF 'same' padding for the last len(k) dims of an NC... tensor (extra at the end)."""
    pads = []
    for i, (kk, ss) in enumerate(zip(k, s)):
        n = x.shape[2 + i]
        keff = (kk - 1) * d + 1
        o = -(-n // ss)
        total = max((o - 1) * ss + keff - n, 0)
        pads.append((total // 2, total - total // 2))
    flat = []
    for b_, e_ in reversed(pads):
        flat += [b_, e_]
    return F.pad(x, flat)


@case
def conv2d_pool_bn(out):
    w = rnd(4, 3, 3, 3)
    b = rnd(4)
    gamma, beta, mean, var = rnd(4) + 1, rnd(4), rnd(4), np.abs(rnd(4)) + 0.5
    w2, b2, k2 = dense_w(2 * 2 * 4, 3)
    cfg = sequential([
        input_layer("img", [8, 8, 3], functional=False),
        layer("Conv2D", "conv", filters=4, kernel_size=[3, 3], strides=[2, 2], padding="same",
              data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="relu",
              use_bias=True),
        layer("MaxPooling2D", "pool", pool_size=[2, 2], strides=[2, 2], padding="valid",
              data_format="channels_last"),
        layer("BatchNormalization", "bn", axis=-1, epsilon=0.001, center=True, scale=True),
        layer("Flatten", "flat", data_format="channels_last"),
        layer("Dense", "fc", units=3, activation="linear"),
    ])
    save_h5(os.path.join(out, "conv2d_pool_bn.h5"), cfg, {
        "conv": [("kernel", conv_kernel(w)), ("bias", b)], "pool": [],
        "bn": [("gamma", gamma), ("beta", beta), ("moving_mean", mean), ("moving_variance", var)],
        "flat": [], "fc": k2})
    x = rnd(BATCH, 8, 8, 3, scale=1.0)
    h = t(x).permute(0, 3, 1, 2)
    h = F.relu(F.conv2d(same_pad(h, (3, 3), (2, 2)), t(w), t(b), stride=2))
    h = F.max_pool2d(h, 2)
    h = F.batch_norm(h, t(mean), t(var), t(gamma), t(beta), False, 0.0, 0.001)
    h = h.permute(0, 2, 3, 1).reshape(BATCH, -1)
    return "conv2d_pool_bn.h5", "-", {"img": x}, [F.linear(h, t(w2), t(b2))]


@case
def conv1d_causal(out):
    # weights-only .h5 + architecture JSON (Keras 2.3 save_weights / to_json).
    w = rnd(5, 2, 3)
    b = rnd(5)
    w2, b2, k2 = dense_w(5, 2)
    cfg = sequential([
        layer("Conv1D", "c1", filters=5, kernel_size=[3], strides=[1], padding="causal",
              dilation_rate=[2], activation="tanh", batch_input_shape=[None, 10, 2]),
        layer("AveragePooling1D", "ap", pool_size=[2], strides=[2], padding="same"),
        layer("GlobalAveragePooling1D", "gap"),
        layer("Dense", "fc", units=2, activation="sigmoid"),
    ])
    save_weights_only(os.path.join(out, "conv1d_causal_weights.h5"),
                      os.path.join(out, "conv1d_causal.json"), cfg,
                      {"c1": [("kernel", conv_kernel(w)), ("bias", b)], "ap": [], "gap": [],
                       "fc": k2})
    x = rnd(BATCH, 10, 2, scale=1.0)
    h = t(x).permute(0, 2, 1)
    h = torch.tanh(F.conv1d(F.pad(h, (4, 0)), t(w), t(b), dilation=2))
    h = F.avg_pool1d(F.pad(h, (0, 0)), 2)  # length 10 -> 5, 'same' needs no pad here
    h = h.mean(-1)
    return "conv1d_causal_weights.h5", "conv1d_causal.json", {"c1_input": x}, \
        [torch.sigmoid(F.linear(h, t(w2), t(b2)))]


@case
def depthwise_separable(out):
    cin, dm = 3, 2
    wd = rnd(cin * dm, 1, 3, 3)
    bd = rnd(cin * dm)
    ws_d = rnd(cin * dm, 1, 3, 3)
    ws_p = rnd(4, cin * dm, 1, 1)
    bs = rnd(4)

    def dw_kernel(w):  # (in*dm, 1, kh, kw) -> (kh, kw, in, dm)
        return np.transpose(w.reshape(cin, dm, 3, 3), (2, 3, 0, 1)).copy()

    layers = [input_layer("x", [7, 7, cin]),
              layer("DepthwiseConv2D", "dw", ["x"], kernel_size=[3, 3], strides=[1, 1],
                    padding="valid", depth_multiplier=dm, activation="relu", use_bias=True),
              layer("SeparableConv2D", "sep", ["dw"], filters=4, kernel_size=[3, 3],
                    strides=[1, 1], padding="same", depth_multiplier=1, activation="linear",
                    use_bias=True),
              layer("GlobalMaxPooling2D", "gmp", ["sep"])]
    # SeparableConv2D on in*dm channels with depth_multiplier 1.
    ws_d = rnd(cin * dm, 1, 3, 3)
    cfg = functional(layers, ["x"], ["gmp"])
    sep_dw = np.transpose(ws_d.reshape(cin * dm, 1, 3, 3), (2, 3, 0, 1)).copy()
    save_h5(os.path.join(out, "depthwise_separable.h5"), cfg, {
        "dw": [("depthwise_kernel", dw_kernel(wd)), ("bias", bd)],
        "sep": [("depthwise_kernel", sep_dw), ("pointwise_kernel", conv_kernel(ws_p)),
                ("bias", bs)],
        "gmp": []})
    x = rnd(BATCH, 7, 7, cin, scale=1.0)
    h = t(x).permute(0, 3, 1, 2)
    h = F.relu(F.conv2d(h, t(wd), t(bd), groups=cin))
    h = F.conv2d(same_pad(h, (3, 3), (1, 1)), t(ws_d), None, groups=cin * dm)
    h = F.conv2d(h, t(ws_p), t(bs))
    return "depthwise_separable.h5", "-", {"x": x}, [h.amax(dim=(2, 3))]


@case
def conv_transpose(out):
    w1 = rnd(3, 4, 3, 3)  # torch (in, out, kh, kw)
    b1 = rnd(4)
    w2 = rnd(4, 2, 3, 3)
    b2 = rnd(2)

    def k(w):
        return np.transpose(w, (2, 3, 1, 0)).copy()

    layers = [input_layer("x", [5, 5, 3]),
              layer("Conv2DTranspose", "up_same", ["x"], filters=4, kernel_size=[3, 3],
                    strides=[2, 2], padding="same", output_padding=None, activation="linear"),
              layer("Conv2DTranspose", "up_valid", ["up_same"], filters=2, kernel_size=[3, 3],
                    strides=[2, 2], padding="valid", output_padding=None, activation="linear")]
    cfg = functional(layers, ["x"], ["up_valid"])
    save_h5(os.path.join(out, "conv_transpose.h5"), cfg, {
        "up_same": [("kernel", k(w1)), ("bias", b1)], "up_valid": [("kernel", k(w2)), ("bias", b2)]})
    x = rnd(BATCH, 5, 5, 3, scale=1.0)
    h = t(x).permute(0, 3, 1, 2)
    # same, k3 s2: TF crops the full 11x11 transpose to its first 10x10 (the
    # forward 'same' conv pads 0 before, 1 after).
    h = F.conv_transpose2d(h, t(w1), t(b1), stride=2)[:, :, :10, :10]
    h = F.conv_transpose2d(h, t(w2), t(b2), stride=2)
    return "conv_transpose.h5", "-", {"x": x}, [h.permute(0, 2, 3, 1)]


@case
def merging_two_inputs(out):
    layers = [input_layer("a", [6]), input_layer("b", [6])]
    ops = {"Add": lambda p, q: p + q, "Subtract": lambda p, q: p - q,
           "Multiply": lambda p, q: p * q, "Average": lambda p, q: (p + q) / 2,
           "Maximum": torch.maximum, "Minimum": torch.minimum}
    for cls in ops:
        layers.append(layer(cls, cls.lower(), ["a", "b"]))
    layers.append(layer("Concatenate", "cat", [c.lower() for c in ops], axis=1))
    w, bb, k = dense_w(6, 3)
    layers.append(layer("Dense", "shared", ["a"], units=3, activation="tanh"))
    # The same Dense called twice (a shared layer): node 1 on b.
    layers[-1]["inbound_nodes"].append([["b", 0, 0, {}]])
    layers.append(layer("Add", "shared_sum", []))
    layers[-1]["inbound_nodes"] = [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]
    cfg = functional(layers, ["a", "b"], ["cat", "shared_sum"])
    save_h5(os.path.join(out, "merging.h5"), cfg, {"shared": k})
    a, b = rnd(BATCH, 6, scale=1.0), rnd(BATCH, 6, scale=1.0)
    y1 = torch.cat([f(t(a), t(b)) for f in ops.values()], 1)
    y2 = torch.tanh(F.linear(t(a), t(w), t(bb))) + torch.tanh(F.linear(t(b), t(w), t(bb)))
    return "merging.h5", "-", {"a": a, "b": b}, [y1, y2]


def lstm_keras(m):
    u = m.hidden_size
    k = m.weight_ih_l0.detach().numpy().T.copy()
    r = m.weight_hh_l0.detach().numpy().T.copy()
    b = (m.bias_ih_l0 + m.bias_hh_l0).detach().numpy()
    return k, r, b


def lstm_keras_dir(m, sfx="", prefix=""):
    k = getattr(m, "weight_ih_l0" + sfx).detach().numpy().T.copy()
    r = getattr(m, "weight_hh_l0" + sfx).detach().numpy().T.copy()
    b = (getattr(m, "bias_ih_l0" + sfx) + getattr(m, "bias_hh_l0" + sfx)).detach().numpy()
    return [(prefix + "kernel", k), (prefix + "recurrent_kernel", r), (prefix + "bias", b)]


def gru_keras(m):
    u = m.hidden_size

    def zrh(a):  # torch r,z,n blocks (first axis) -> Keras z,r,h
        return np.concatenate([a[u:2 * u], a[0:u], a[2 * u:]], 0)

    k = zrh(m.weight_ih_l0.detach().numpy()).T.copy()
    r = zrh(m.weight_hh_l0.detach().numpy()).T.copy()
    b = np.stack([zrh(m.bias_ih_l0.detach().numpy()), zrh(m.bias_hh_l0.detach().numpy())])
    return [("kernel", k), ("recurrent_kernel", r), ("bias", b)]


@case
def recurrent(out):
    lstm = torch.nn.LSTM(4, 5, batch_first=True)
    gru = torch.nn.GRU(5, 3, batch_first=True)
    rnn = torch.nn.RNN(4, 2, batch_first=True)
    bi = torch.nn.LSTM(4, 3, batch_first=True, bidirectional=True)
    layers = [input_layer("seq", [6, 4]),
              layer("LSTM", "lstm", ["seq"], units=5, activation="tanh",
                    recurrent_activation="sigmoid", return_sequences=True, use_bias=True),
              layer("GRU", "gru", ["lstm"], units=3, activation="tanh",
                    recurrent_activation="sigmoid", return_sequences=False, reset_after=True),
              layer("SimpleRNN", "rnn", ["seq"], units=2, activation="tanh",
                    return_sequences=False),
              layer("Bidirectional", "bi", ["seq"], merge_mode="concat",
                    layer={"class_name": "LSTM", "config": {
                        "name": "lstm_b", "units": 3, "activation": "tanh",
                        "recurrent_activation": "sigmoid", "return_sequences": True}})]
    cfg = functional(layers, ["seq"], ["gru", "rnn", "bi"])
    rk = rnn.weight_ih_l0.detach().numpy().T.copy()
    save_h5(os.path.join(out, "recurrent.h5"), cfg, {
        "lstm": lstm_keras_dir(lstm), "gru": gru_keras(gru),
        "rnn": [("kernel", rk), ("recurrent_kernel", rnn.weight_hh_l0.detach().numpy().T.copy()),
                ("bias", (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy())],
        "bi": lstm_keras_dir(bi, "", "forward_lstm_b/") +
              lstm_keras_dir(bi, "_reverse", "backward_lstm_b/")})
    x = rnd(BATCH, 6, 4, scale=1.0)
    with torch.no_grad():
        h, _ = lstm(t(x))
        g, _ = gru(h)
        r, _ = rnn(t(x))
        bo, _ = bi(t(x))
    return "recurrent.h5", "-", {"seq": x}, [g[:, -1], r[:, -1], bo]


@case
def shaping(out):
    layers = [input_layer("x", [4, 6, 2]),
              layer("ZeroPadding2D", "pad", ["x"], padding=[[1, 0], [2, 1]]),
              layer("Cropping2D", "crop", ["pad"], cropping=[[0, 1], [1, 1]]),
              layer("UpSampling2D", "up", ["crop"], size=[2, 1], interpolation="nearest"),
              layer("Permute", "perm", ["up"], dims=[2, 1, 3]),
              layer("Reshape", "resh", ["perm"], target_shape=[-1, 4]),
              layer("GlobalAveragePooling1D", "gap", ["resh"]),
              layer("RepeatVector", "rep", ["gap"], n=3),
              layer("Flatten", "flat", ["rep"])]
    cfg = functional(layers, ["x"], ["flat"])
    save_h5(os.path.join(out, "shaping.h5"), cfg, {})
    x = rnd(BATCH, 4, 6, 2, scale=1.0)
    h = t(x)
    h = F.pad(h, (0, 0, 2, 1, 1, 0))          # H +1 top, W +2 left +1 right -> [5, 9, 2]
    h = h[:, 0:4, 1:8]                        # crop -> [4, 7, 2]
    h = h.repeat_interleave(2, dim=1)         # [8, 7, 2]
    h = h.permute(0, 2, 1, 3)                 # [7, 8, 2]
    h = h.reshape(BATCH, -1, 4)               # [28, 4]
    h = h.mean(1)                             # [4]
    h = h.unsqueeze(1).repeat(1, 3, 1)        # [3, 4]
    return "shaping.h5", "-", {"x": x}, [h.reshape(BATCH, -1)]


@case
def embedding_layernorm(out):
    emb = rnd(10, 4)
    g, bta = rnd(4) + 1, rnd(4)
    w, b, k = dense_w(4, 3)
    layers = [input_layer("tokens", [5], dtype="float32"),
              layer("Embedding", "emb", ["tokens"], input_dim=10, output_dim=4),
              layer("LayerNormalization", "ln", ["emb"], axis=[-1], epsilon=0.001),
              layer("TimeDistributed", "td", ["ln"], layer={"class_name": "Dense", "config": {
                  "name": "dense_td", "units": 3, "activation": "relu"}}),
              layer("GlobalMaxPooling1D", "gmp", ["td"])]
    cfg = functional(layers, ["tokens"], ["gmp"])
    save_h5(os.path.join(out, "embedding_layernorm.h5"), cfg, {
        "emb": [("embeddings", emb)], "ln": [("gamma", g), ("beta", bta)], "td": k})
    ids = RNG.integers(0, 10, size=(BATCH, 5))
    h = t(emb)[torch.from_numpy(ids)]
    h = F.layer_norm(h, (4,), t(g), t(bta), 0.001)
    h = F.relu(F.linear(h, t(w), t(b))).amax(1)
    return "embedding_layernorm.h5", "-", {"tokens": ids.astype(np.float32)}, [h]


@case
def activation_layers(out):
    alpha = rnd(6)
    mean, var = rnd(6), np.abs(rnd(6)) + 0.1
    layers = [input_layer("x", [6]),
              layer("Rescaling", "resc", ["x"], scale=2.0, offset=-0.5),
              layer("Normalization", "norm", ["resc"], axis=[-1]),
              layer("PReLU", "prelu", ["norm"], shared_axes=None),
              layer("LeakyReLU", "leaky", ["norm"], alpha=0.1),
              layer("ELU", "elu", ["norm"], alpha=0.7),
              layer("ReLU", "relu_cap", ["norm"], max_value=1.0, negative_slope=0.1, threshold=0.2),
              layer("ThresholdedReLU", "thr", ["norm"], theta=0.3),
              layer("Softmax", "sm", ["norm"], axis=-1),
              layer("Concatenate", "cat", ["prelu", "leaky", "elu", "relu_cap", "thr", "sm"])]
    cfg = functional(layers, ["x"], ["cat"])
    save_h5(os.path.join(out, "activation_layers.h5"), cfg, {
        "norm": [("mean", mean), ("variance", var), ("count", np.array(10, np.int64))],
        "prelu": [("alpha", alpha)]}, keras_version="2.13.1")
    x = rnd(BATCH, 6, scale=2.0)
    h = (t(x) * 2.0 - 0.5 - t(mean)) / torch.clamp(torch.sqrt(t(var)), min=1e-7)
    th = 0.2
    relu_cap = torch.where(h >= th, h, 0.1 * (h - th)).clamp(max=1.0)
    y = torch.cat([torch.where(h > 0, h, t(alpha) * h), F.leaky_relu(h, 0.1), F.elu(h, 0.7),
                   relu_cap, torch.where(h > 0.3, h, torch.zeros_like(h)), F.softmax(h, -1)], -1)
    return "activation_layers.h5", "-", {"x": x}, [y]


# Keras 3 .keras: config.json in the Keras 3 serialization (module,
# registered_name, DTypePolicy, batch_shape, {args, kwargs} nodes with
# __keras_tensor__ references) and model.weights.h5 at layers/<snake>/vars/<i>.

def k3_policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
            "registered_name": None}


def k3_tensor(src, shape):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [src, 0, 0]}}


def k3_layer(cls, name, args, **cfg):
    cfg["name"] = name
    cfg["dtype"] = k3_policy()
    return {"module": "keras.layers", "class_name": cls, "config": cfg, "registered_name": None,
            "name": name, "inbound_nodes": [{"args": args, "kwargs": {}}] if args is not None else []}


def save_keras3(path, config, vars_by_path, version="3.11.3"):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars")
        for p, arrays in vars_by_path.items():
            g = f.create_group(p + "/vars")
            for i, a in enumerate(arrays):
                g.create_dataset(str(i), data=a)
        f.create_group("optimizer/vars")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps({"keras_version": version,
                                                "date_saved": "2026-01-01@00:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", buf.getvalue())


@case
def keras3_functional(out):
    w = rnd(3, 2, 3, 3)
    b = rnd(3)
    gamma, beta, mean, var = rnd(3) + 1, rnd(3), rnd(3), np.abs(rnd(3)) + 0.5
    w2, b2, _ = dense_w(3, 4)
    w3, b3, _ = dense_w(3, 4)
    lstm = torch.nn.LSTM(4, 2, batch_first=True)
    inp = {"module": "keras.layers", "class_name": "InputLayer",
           "config": {"batch_shape": [None, 6, 6, 2], "dtype": "float32", "sparse": False,
                      "name": "image"}, "registered_name": None, "name": "image",
           "inbound_nodes": []}
    seq = {"module": "keras.layers", "class_name": "InputLayer",
           "config": {"batch_shape": [None, 5, 4], "dtype": "float32", "name": "seq"},
           "registered_name": None, "name": "seq", "inbound_nodes": []}
    layers = [inp, seq,
              k3_layer("Conv2D", "conv2d", [k3_tensor("image", [None, 6, 6, 2])], filters=3,
                       kernel_size=[3, 3], strides=[1, 1], padding="valid",
                       data_format="channels_last", dilation_rate=[1, 1], groups=1,
                       activation="relu", use_bias=True),
              k3_layer("BatchNormalization", "batch_normalization",
                       [k3_tensor("conv2d", [None, 4, 4, 3])], axis=-1, epsilon=0.001,
                       center=True, scale=True),
              k3_layer("GlobalAveragePooling2D", "gap",
                       [k3_tensor("batch_normalization", [None, 4, 4, 3])],
                       data_format="channels_last", keepdims=False),
              k3_layer("Dense", "dense", [k3_tensor("gap", [None, 3])], units=4,
                       activation={"module": "keras.activations", "class_name": "function",
                                   "config": "gelu", "registered_name": "function"},
                       use_bias=True),
              k3_layer("Dense", "dense_b", [k3_tensor("gap", [None, 3])], units=4,
                       activation="hard_sigmoid", use_bias=True),
              k3_layer("LSTM", "lstm", [k3_tensor("seq", [None, 5, 4])], units=2,
                       activation="tanh", recurrent_activation="sigmoid",
                       return_sequences=False),
              k3_layer("Concatenate", "concatenate",
                       [[k3_tensor("dense", [None, 4]), k3_tensor("dense_b", [None, 4]),
                         k3_tensor("lstm", [None, 2])]], axis=-1)]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional",
           "config": {"name": "functional", "trainable": True, "layers": layers,
                      "input_layers": [["image", 0, 0], ["seq", 0, 0]],
                      "output_layers": [["concatenate", 0, 0]]},
           "registered_name": "Functional"}
    lk = lstm_keras_dir(lstm)
    save_keras3(os.path.join(out, "keras3_functional.keras"), cfg, {
        "layers/conv2d": [conv_kernel(w), b],
        "layers/batch_normalization": [gamma, beta, mean, var],
        "layers/dense": [w2.T.copy(), b2],
        "layers/dense_1": [w3.T.copy(), b3],
        "layers/lstm/cell": [a for _, a in lk]})
    x = rnd(BATCH, 6, 6, 2, scale=1.0)
    s = rnd(BATCH, 5, 4, scale=1.0)
    h = F.relu(F.conv2d(t(x).permute(0, 3, 1, 2), t(w), t(b)))
    h = F.batch_norm(h, t(mean), t(var), t(gamma), t(beta), False, 0.0, 0.001).mean((2, 3))
    d1 = F.gelu(F.linear(h, t(w2), t(b2)))
    d2 = torch.clamp(F.linear(h, t(w3), t(b3)) / 6 + 0.5, 0, 1)  # Keras 3 hard_sigmoid
    with torch.no_grad():
        _, (hn, _) = lstm(t(s))
    return "keras3_functional.keras", "-", {"image": x, "seq": s}, \
        [torch.cat([d1, d2, hn[0]], -1)]


@case
def keras3_sequential(out):
    w1, b1, _ = dense_w(4, 5)
    w2, b2, _ = dense_w(5, 2)
    cfg = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "sequential", "dtype": k3_policy(), "layers": [
            {"module": "keras.layers", "class_name": "InputLayer",
             "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "input_layer"},
             "registered_name": None},
            {"module": "keras.layers", "class_name": "Dense", "config": {
                "name": "dense", "dtype": k3_policy(), "units": 5, "activation": "elu",
                "use_bias": True}, "registered_name": None},
            {"module": "keras.layers", "class_name": "Dense", "config": {
                "name": "dense_1", "dtype": k3_policy(), "units": 2, "activation": "softmax",
                "use_bias": True}, "registered_name": None}]},
        "registered_name": None}
    save_keras3(os.path.join(out, "keras3_sequential.keras"), cfg, {
        "layers/dense": [w1.T.copy(), b1], "layers/dense_1": [w2.T.copy(), b2]})
    x = rnd(BATCH, 4, scale=1.0)
    y = F.softmax(F.linear(F.elu(F.linear(t(x), t(w1), t(b1))), t(w2), t(b2)), -1)
    return "keras3_sequential.keras", "-", {"input_layer": x}, [y]


@case
def conv2d_groups_dilation(out):
    w = rnd(4, 2, 3, 3)  # groups=2: 4 in channels, 2 per group
    b = rnd(4)
    cfg = sequential([
        input_layer("x", [9, 9, 4], functional=False),
        layer("Conv2D", "gconv", filters=4, kernel_size=[3, 3], strides=[1, 2], padding="same",
              data_format="channels_last", dilation_rate=[2, 2], groups=2, activation="selu",
              use_bias=True),
        layer("AveragePooling2D", "ap", pool_size=[2, 2], strides=[2, 2], padding="same",
              data_format="channels_last"),
        layer("GlobalAveragePooling2D", "gap", data_format="channels_last", keepdims=True)])
    save_h5(os.path.join(out, "conv2d_groups_dilation.h5"), cfg, {
        "gconv": [("kernel", conv_kernel(w)), ("bias", b)], "ap": [], "gap": []})
    x = rnd(BATCH, 9, 9, 4, scale=1.0)
    h = t(x).permute(0, 3, 1, 2)
    # 'same' with dilation 2 (k_eff 5), strides (1, 2): TF pads the extra at the end.
    h = F.selu(F.conv2d(same_pad(h, (5, 5), (1, 2)), t(w), t(b), stride=(1, 2), dilation=2,
                        groups=2))
    # AveragePooling 'same' counts only real cells: pad, then divide by the window's real count.
    n = F.avg_pool2d(same_pad(torch.ones_like(h[:, :1]), (2, 2), (2, 2)), 2, divisor_override=1)
    h = F.avg_pool2d(same_pad(h, (2, 2), (2, 2)), 2, divisor_override=1) / n
    h = h.mean((2, 3), keepdim=True)
    return "conv2d_groups_dilation.h5", "-", {"x": x}, [h.permute(0, 2, 3, 1)]


@case
def keras3_bidirectional(out):
    bi = torch.nn.GRU(3, 4, batch_first=True, bidirectional=True)
    w, b, _ = dense_w(8, 2)

    def k3_gru(sfx):
        u = 4

        def zrh(a):
            return np.concatenate([a[u:2 * u], a[0:u], a[2 * u:]], 0)
        g = lambda n: getattr(bi, n + sfx).detach().numpy()
        return [zrh(g("weight_ih_l0")).T.copy(), zrh(g("weight_hh_l0")).T.copy(),
                np.stack([zrh(g("bias_ih_l0")), zrh(g("bias_hh_l0"))])]

    inner = {"module": "keras.layers", "class_name": "GRU", "config": {
        "name": "gru", "units": 4, "activation": "tanh", "recurrent_activation": "sigmoid",
        "return_sequences": True, "reset_after": True, "dtype": k3_policy()},
        "registered_name": None}
    inp = {"module": "keras.layers", "class_name": "InputLayer",
           "config": {"batch_shape": [None, 5, 3], "dtype": "float32", "name": "seq"},
           "registered_name": None, "name": "seq", "inbound_nodes": []}
    layers = [inp,
              k3_layer("Bidirectional", "bidirectional", [k3_tensor("seq", [None, 5, 3])],
                       layer=inner, merge_mode="sum"),
              k3_layer("TimeDistributed", "time_distributed",
                       [k3_tensor("bidirectional", [None, 5, 4])],
                       layer={"module": "keras.layers", "class_name": "Dense", "config": {
                           "name": "dense", "units": 2, "activation": "linear"},
                           "registered_name": None})]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional",
           "config": {"name": "functional", "layers": layers,
                      "input_layers": [["seq", 0, 0]],
                      "output_layers": [["time_distributed", 0, 0]]},
           "registered_name": "Functional"}
    # Dense on the summed directions: kernel (4, 2).
    wd = rnd(2, 4)
    bd = rnd(2)
    save_keras3(os.path.join(out, "keras3_bidirectional.keras"), cfg, {
        "layers/bidirectional/forward_layer/cell": k3_gru(""),
        "layers/bidirectional/backward_layer/cell": k3_gru("_reverse"),
        "layers/time_distributed/layer": [wd.T.copy(), bd]})
    x = rnd(BATCH, 5, 3, scale=1.0)
    with torch.no_grad():
        y, _ = bi(t(x))
    y = y[..., :4] + y[..., 4:]
    return "keras3_bidirectional.keras", "-", {"seq": x}, [F.linear(y, t(wd), t(bd))]


# ----------------------------------------------------------------------------
# Nested models: a Sequential or Functional model used as a layer.
#
# Legacy .h5 (save_weights_to_hdf5_group, keras/saving/legacy/hdf5_format.py):
# one group per layer of the *top* model; a nested model's group,
# model_weights/<nested name>/, holds `_legacy_weights(nested)` -- every weight
# of every layer inside it at any depth, trainable ones first -- each dataset
# named by the variable's name (tf.keras: "dense_1/kernel:0").
# tf.keras configs number a nested Functional's calls from 1 (and a Sequential
# built with an input shape, which is Functional there): its first node is
# the one made when it was built (_should_skip_first_node).
# Keras 3 .keras (saving_lib._save_container_state): the nested model's own
# layers under layers/<snake class>/layers/<snake class>/vars/N; Keras 3
# numbers a nested Functional's calls from 1, a nested Sequential's from 0.


def nested_ref(src, node):
    return [src, node, 0, {}]


def bn_np(x, gamma, beta, mean, var, eps=1e-3):
    return F.batch_norm(x, t(mean), t(var), t(gamma), t(beta), False, 0.0, eps)


@case
def nested_functional_h5(out):
    # encoder: a Sequential (with an InputLayer: tf.keras >= 2.4) shared by
    # two inputs; head: a Functional that calls a Sequential (3 levels).
    w1, b1, k1 = dense_w(6, 5)
    gamma, beta, mean, var = rnd(5) + 1, rnd(5), rnd(5), np.abs(rnd(5)) + 0.5
    w2, b2, k2 = dense_w(5, 4)
    w3, b3, k3 = dense_w(4, 3)
    encoder = {"class_name": "Sequential", "config": {"name": "encoder", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 6], "dtype": "float32",
                                                "name": "enc_in"}},
        {"class_name": "Dense", "config": {"name": "enc_d1", "units": 5, "activation": "relu"}},
        {"class_name": "BatchNormalization", "config": {"name": "enc_bn", "axis": -1,
                                                        "epsilon": 0.001}}]}}
    inner = {"class_name": "Sequential", "name": "inner", "config": {"name": "inner", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 5], "dtype": "float32",
                                                "name": "inner_in"}},
        {"class_name": "Dense", "config": {"name": "inner_d", "units": 4, "activation": "tanh"}}]},
        "inbound_nodes": [[nested_ref("h_in", 0)]]}
    head = {"class_name": "Functional", "config": {
        "name": "head",
        "layers": [input_layer("h_in", [5]), inner,
                   layer("Dense", "head_out", ["inner"], units=3, activation="linear")],
        "input_layers": [["h_in", 0, 0]], "output_layers": [["head_out", 0, 0]]}}
    # The inner Sequential's first call is node 1 inside head.
    head["config"]["layers"][2]["inbound_nodes"] = [[nested_ref("inner", 1)]]
    enc_layer = dict(encoder, name="encoder",
                     inbound_nodes=[[nested_ref("a", 0)], [nested_ref("b", 0)]])
    head_layer = dict(head, name="head", inbound_nodes=[[nested_ref("sum", 0)]])
    layers = [input_layer("a", [6]), input_layer("b", [6]), enc_layer,
              layer("Add", "sum", []), head_layer]
    layers[3]["inbound_nodes"] = [[nested_ref("encoder", 1), nested_ref("encoder", 2)]]
    cfg = {"class_name": "Functional", "config": {
        "name": "outer", "layers": layers, "input_layers": [["a", 0, 0], ["b", 0, 0]],
        "output_layers": [["head", 1, 0], ["encoder", 1, 0]]}}
    # The nested groups: trainable weights first, then the moving statistics.
    save_h5(os.path.join(out, "nested_functional.h5"), cfg, {
        "a": [], "b": [],
        "encoder": [("enc_d1/" + n, a) for n, a in k1] +
                   [("enc_bn/gamma", gamma), ("enc_bn/beta", beta),
                    ("enc_bn/moving_mean", mean), ("enc_bn/moving_variance", var)],
        "sum": [],
        "head": [("inner_d/" + n, a) for n, a in k2] + [("head_out/" + n, a) for n, a in k3]},
        nested_names=True)
    a, b = rnd(BATCH, 6, scale=1.0), rnd(BATCH, 6, scale=1.0)

    def enc(x):
        return bn_np(F.relu(F.linear(t(x), t(w1), t(b1))), gamma, beta, mean, var)
    e1, e2 = enc(a), enc(b)
    y = F.linear(torch.tanh(F.linear(e1 + e2, t(w2), t(b2))), t(w3), t(b3))
    return "nested_functional.h5", "-", {"a": a, "b": b}, [y, e1]


@case
def nested_transfer_h5(out):
    # Sequential([base, Dropout, Dense]) with base a frozen Functional
    # (Conv2D, BatchNormalization, GlobalAveragePooling2D): transfer learning.
    # base.trainable = False: all its weights are non-trainable, in layer order.
    w = rnd(4, 3, 3, 3)
    b = rnd(4)
    gamma, beta, mean, var = rnd(4) + 1, rnd(4), rnd(4), np.abs(rnd(4)) + 0.5
    w2, b2, k2 = dense_w(4, 2)
    base = {"class_name": "Functional", "config": {
        "name": "base", "trainable": False,
        "layers": [input_layer("img_in", [6, 6, 3]),
                   layer("Conv2D", "block1_conv", ["img_in"], filters=4, kernel_size=[3, 3],
                         strides=[1, 1], padding="same", activation="relu"),
                   layer("BatchNormalization", "block1_bn", ["block1_conv"], axis=3,
                         epsilon=1.001e-5),
                   layer("GlobalAveragePooling2D", "avg_pool", ["block1_bn"])],
        "input_layers": [["img_in", 0, 0]], "output_layers": [["avg_pool", 0, 0]]}}
    # No InputLayer entry (tf.keras < 2.4): the nested model's own input
    # states the shape.
    cfg = sequential([dict(base, name="base"),
                      layer("Dropout", "drop", rate=0.2),
                      layer("Dense", "pred", units=2, activation="softmax")])
    save_h5(os.path.join(out, "nested_transfer.h5"), cfg, {
        "base": [("block1_conv/kernel", conv_kernel(w)), ("block1_conv/bias", b),
                 ("block1_bn/gamma", gamma), ("block1_bn/beta", beta),
                 ("block1_bn/moving_mean", mean), ("block1_bn/moving_variance", var)],
        "drop": [], "pred": k2}, nested_names=True)
    x = rnd(BATCH, 6, 6, 3, scale=1.0)
    h = F.relu(F.conv2d(t(x).permute(0, 3, 1, 2), t(w), t(b), padding=1))
    h = bn_np(h, gamma, beta, mean, var, 1.001e-5).mean((2, 3))
    return "nested_transfer.h5", "-", {"base_input": x}, [F.softmax(F.linear(h, t(w2), t(b2)), -1)]


def k3_input(name, shape):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None] + list(shape), "dtype": "float32", "name": name},
            "registered_name": None, "name": name, "inbound_nodes": []}


def k3_dense(name, units, activation, args=None):
    d = {"module": "keras.layers", "class_name": "Dense",
         "config": {"name": name, "dtype": k3_policy(), "units": units,
                    "activation": activation, "use_bias": True},
         "registered_name": None, "name": name}
    if args is not None:
        d["inbound_nodes"] = [{"args": args, "kwargs": {}}]
    return d


def k3_hist(src, node, shape):
    r = k3_tensor(src, shape)
    r["config"]["keras_history"] = [src, node, 0]
    return r


@case
def keras3_nested(out):
    # Functional: x -> sequential (shared: called on x and on x2) -> add ->
    # functional (a Functional that calls its own Sequential) -> output.
    w1, b1, _ = dense_w(6, 5)
    w2, b2, _ = dense_w(5, 5)
    w3, b3, _ = dense_w(5, 4)
    w4, b4, _ = dense_w(4, 3)
    seq = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "sequential", "dtype": k3_policy(), "layers": [
            {"module": "keras.layers", "class_name": "InputLayer",
             "config": {"batch_shape": [None, 6], "dtype": "float32", "name": "input_layer_1"},
             "registered_name": None},
            k3_dense("dense", 5, "relu"), k3_dense("dense_1", 5, "tanh")],
        "build_input_shape": [None, 6]},
        "registered_name": None, "name": "sequential",
        "inbound_nodes": [{"args": [k3_tensor("x", [None, 6])], "kwargs": {"training": False}},
                          {"args": [k3_tensor("x2", [None, 6])], "kwargs": {"training": False}}]}
    inner_seq = {"module": "keras", "class_name": "Sequential", "config": {
        "name": "sequential_1", "dtype": k3_policy(), "layers": [
            {"module": "keras.layers", "class_name": "InputLayer",
             "config": {"batch_shape": [None, 5], "dtype": "float32", "name": "input_layer_3"},
             "registered_name": None},
            k3_dense("dense_2", 4, "sigmoid")]},
        "registered_name": None, "name": "sequential_1",
        "inbound_nodes": [{"args": [k3_tensor("input_layer_2", [None, 5])], "kwargs": {}}]}
    func = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "functional", "trainable": True, "layers": [
            k3_input("input_layer_2", [5]), inner_seq,
            k3_dense("dense_3", 3, "linear", [k3_hist("sequential_1", 0, [None, 4])])],
        "input_layers": [["input_layer_2", 0, 0]], "output_layers": [["dense_3", 0, 0]]},
        "registered_name": "Functional", "name": "functional",
        "inbound_nodes": [{"args": [k3_tensor("add", [None, 5])], "kwargs": {}}]}
    add = {"module": "keras.layers", "class_name": "Add", "config": {"name": "add",
                                                                        "dtype": k3_policy()},
           "registered_name": None, "name": "add",
           "inbound_nodes": [{"args": [[k3_hist("sequential", 0, [None, 5]),
                                        k3_hist("sequential", 1, [None, 5])]], "kwargs": {}}]}
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional",
           "config": {"name": "outer", "trainable": True,
                      "layers": [k3_input("x", [6]), k3_input("x2", [6]), seq, add, func],
                      "input_layers": [["x", 0, 0], ["x2", 0, 0]],
                      "output_layers": [["functional", 1, 0]]},
           "registered_name": "Functional"}
    save_keras3(os.path.join(out, "keras3_nested.keras"), cfg, {
        "layers/sequential/layers/dense": [w1.T.copy(), b1],
        "layers/sequential/layers/dense_1": [w2.T.copy(), b2],
        "layers/functional/layers/sequential/layers/dense": [w3.T.copy(), b3],
        "layers/functional/layers/dense": [w4.T.copy(), b4]})
    x, x2 = rnd(BATCH, 6, scale=1.0), rnd(BATCH, 6, scale=1.0)

    def s(v):
        return torch.tanh(F.linear(F.relu(F.linear(t(v), t(w1), t(b1))), t(w2), t(b2)))
    h = torch.sigmoid(F.linear(s(x) + s(x2), t(w3), t(b3)))
    return "keras3_nested.keras", "-", {"x": x, "x2": x2}, [F.linear(h, t(w4), t(b4))]


# ----------------------------------------------------------------------------
# RNN states: return_state=True adds the final states as extra layer outputs
# (LSTM [output, h, c], GRU and SimpleRNN [output, h]); a later RNN can start
# from them (initial_state). tf.keras lists the states as extra inbound
# tensors ([x, h, c]); Keras 3 as the call's initial_state argument.


def gru_keras_dir(m, sfx):
    u = m.hidden_size

    def zrh(a):  # torch r,z,n blocks (first axis) -> Keras z,r,h
        return np.concatenate([a[u:2 * u], a[0:u], a[2 * u:]], 0)
    g = lambda n: getattr(m, n + sfx).detach().numpy()
    return [("kernel", zrh(g("weight_ih_l0")).T.copy()),
            ("recurrent_kernel", zrh(g("weight_hh_l0")).T.copy()),
            ("bias", np.stack([zrh(g("bias_ih_l0")), zrh(g("bias_hh_l0"))]))]


def gru_keras_w(m):
    return list(zip(["kernel", "recurrent_kernel", "bias"], [a for _, a in gru_keras(m)]))


@case
def rnn_states_h5(out):
    enc = torch.nn.LSTM(3, 4, batch_first=True)
    dec = torch.nn.LSTM(2, 4, batch_first=True)
    gru = torch.nn.GRU(3, 5, batch_first=True)
    rnn = torch.nn.RNN(2, 5, batch_first=True)
    bi = torch.nn.LSTM(3, 2, batch_first=True, bidirectional=True)
    back = torch.nn.GRU(3, 3, batch_first=True)
    bi_none = torch.nn.GRU(3, 2, batch_first=True, bidirectional=True)
    w, b, k = dense_w(4, 2)
    layers = [input_layer("enc_in", [5, 3]), input_layer("dec_in", [4, 2]),
              layer("LSTM", "enc", ["enc_in"], units=4, return_state=True,
                    return_sequences=False),
              layer("LSTM", "dec", [], units=4, return_state=True, return_sequences=True),
              layer("Dense", "proj", [], units=2, activation="linear"),
              layer("GRU", "gru", ["enc_in"], units=5, return_state=True, reset_after=True),
              layer("SimpleRNN", "rnn", [], units=5, return_sequences=True),
              layer("Bidirectional", "bi", ["enc_in"], merge_mode="concat",
                    layer={"class_name": "LSTM", "config": {
                        "name": "lstm_b", "units": 2, "return_state": True}}),
              # go_backwards: the steps come out in processing order (last input first).
              layer("GRU", "back", ["enc_in"], units=3, go_backwards=True, return_sequences=True,
                    return_state=True, reset_after=True),
              # merge_mode None: the two directions' sequences, forward first.
              layer("Bidirectional", "bi_none", ["enc_in"], merge_mode=None,
                    layer={"class_name": "GRU", "config": {
                        "name": "gru_b", "units": 2, "return_sequences": True,
                        "reset_after": True}})]
    layers[3]["inbound_nodes"] = [[["dec_in", 0, 0, {}], ["enc", 0, 1, {}], ["enc", 0, 2, {}]]]
    layers[4]["inbound_nodes"] = [[["dec", 0, 0, {}]]]
    layers[6]["inbound_nodes"] = [[["dec_in", 0, 0, {}], ["gru", 0, 1, {}]]]
    cfg = {"class_name": "Functional", "config": {
        "name": "seq2seq", "layers": layers, "input_layers": [["enc_in", 0, 0], ["dec_in", 0, 0]],
        "output_layers": [["proj", 0, 0], ["dec", 0, 1], ["dec", 0, 2], ["enc", 0, 0],
                          ["gru", 0, 0], ["rnn", 0, 0], ["bi", 0, 0], ["bi", 0, 2],
                          ["bi", 0, 3], ["back", 0, 0], ["back", 0, 1], ["bi_none", 0, 0],
                          ["bi_none", 0, 1]]}}
    save_h5(os.path.join(out, "rnn_states.h5"), cfg, {
        "enc": lstm_keras_dir(enc), "dec": lstm_keras_dir(dec), "proj": k,
        "gru": gru_keras_w(gru), "back": gru_keras_w(back),
        "bi_none": [("forward_gru_b/" + n, a) for n, a in gru_keras_dir(bi_none, "")] +
                   [("backward_gru_b/" + n, a) for n, a in gru_keras_dir(bi_none, "_reverse")],
        "rnn": [("kernel", rnn.weight_ih_l0.detach().numpy().T.copy()),
                ("recurrent_kernel", rnn.weight_hh_l0.detach().numpy().T.copy()),
                ("bias", (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy())],
        "bi": lstm_keras_dir(bi, "", "forward_lstm_b/") +
              lstm_keras_dir(bi, "_reverse", "backward_lstm_b/")})
    xe, xd = rnd(BATCH, 5, 3, scale=1.0), rnd(BATCH, 4, 2, scale=1.0)
    with torch.no_grad():
        eo, (eh, ec) = enc(t(xe))
        do, (dh, dc) = dec(t(xd), (eh, ec))
        go, gh = gru(t(xe))
        ro, _ = rnn(t(xd), gh)
        bo, (bh, bc) = bi(t(xe))
        ko, kh = back(t(xe).flip(1))
        no, _ = bi_none(t(xe))
    # Bidirectional(return_sequences=False) concat: [h_fwd, h_bwd].
    bi_y = torch.cat([bh[0], bh[1]], -1)
    return "rnn_states.h5", "-", {"enc_in": xe, "dec_in": xd}, \
        [F.linear(do, t(w), t(b)), dh[0], dc[0], eo[:, -1], go[:, -1], ro, bi_y, bc[0], bh[1],
         ko, kh[0], no[..., :2], no[..., 2:]]


@case
def keras3_rnn_states(out):
    enc = torch.nn.LSTM(3, 4, batch_first=True)
    dec = torch.nn.LSTM(2, 4, batch_first=True)
    layers = [k3_input("enc_in", [5, 3]), k3_input("dec_in", [4, 2]),
              k3_layer("LSTM", "lstm", [k3_tensor("enc_in", [None, 5, 3])], units=4,
                       activation="tanh", recurrent_activation="sigmoid", return_state=True),
              k3_layer("LSTM", "lstm_1", [k3_tensor("dec_in", [None, 4, 2])], units=4,
                       activation="tanh", recurrent_activation="sigmoid",
                       return_sequences=True)]
    h = k3_tensor("lstm", [None, 4])
    h["config"]["keras_history"] = ["lstm", 0, 1]
    c = k3_tensor("lstm", [None, 4])
    c["config"]["keras_history"] = ["lstm", 0, 2]
    layers[3]["inbound_nodes"][0]["kwargs"] = {"initial_state": [h, c], "training": False,
                                               "mask": None}
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional",
           "config": {"name": "functional", "layers": layers,
                      "input_layers": [["enc_in", 0, 0], ["dec_in", 0, 0]],
                      "output_layers": [["lstm_1", 0, 0], ["lstm", 0, 2]]},
           "registered_name": "Functional"}
    save_keras3(os.path.join(out, "keras3_rnn_states.keras"), cfg, {
        "layers/lstm/cell": [a for _, a in lstm_keras_dir(enc)],
        "layers/lstm_1/cell": [a for _, a in lstm_keras_dir(dec)]})
    xe, xd = rnd(BATCH, 5, 3, scale=1.0), rnd(BATCH, 4, 2, scale=1.0)
    with torch.no_grad():
        _, (eh, ec) = enc(t(xe))
        do, _ = dec(t(xd), (eh, ec))
    return "keras3_rnn_states.keras", "-", {"enc_in": xe, "dec_in": xd}, [do, ec[0]]


@case
def bidirectional_initial_state(out):
    # Bidirectional encoder (return_state: [y, h_f, c_f, h_b, c_b]) feeding a
    # Bidirectional decoder's initial_state (tf.keras: 4 extra inbound tensors).
    enc = torch.nn.LSTM(3, 2, batch_first=True, bidirectional=True)
    dec = torch.nn.LSTM(2, 2, batch_first=True, bidirectional=True)
    inner = lambda n, seq: {"class_name": "LSTM", "config": {
        "name": n, "units": 2, "return_sequences": seq, "return_state": not seq}}
    layers = [input_layer("enc_in", [5, 3]), input_layer("dec_in", [4, 2]),
              layer("Bidirectional", "enc", ["enc_in"], merge_mode="concat",
                    layer=inner("enc_l", False)),
              layer("Bidirectional", "dec", [], merge_mode="sum", layer=inner("dec_l", True))]
    layers[3]["inbound_nodes"] = [[["dec_in", 0, 0, {}]] +
                                  [["enc", 0, i, {}] for i in (1, 2, 3, 4)]]
    cfg = functional(layers, ["enc_in", "dec_in"], ["dec"])
    save_h5(os.path.join(out, "bidirectional_initial_state.h5"), cfg, {
        "enc": lstm_keras_dir(enc, "", "forward_enc_l/") +
               lstm_keras_dir(enc, "_reverse", "backward_enc_l/"),
        "dec": lstm_keras_dir(dec, "", "forward_dec_l/") +
               lstm_keras_dir(dec, "_reverse", "backward_dec_l/")})
    xe, xd = rnd(BATCH, 5, 3, scale=1.0), rnd(BATCH, 4, 2, scale=1.0)
    with torch.no_grad():
        _, (h, c) = enc(t(xe))
        do, _ = dec(t(xd), (h, c))
    return "bidirectional_initial_state.h5", "-", {"enc_in": xe, "dec_in": xd}, \
        [do[..., :2] + do[..., 2:]]


# ----------------------------------------------------------------------------
# Normalization with mean/variance in its config (not adapted: Keras 3 stores
# the lists in get_config), over one axis, several, or none; LayerNormalization
# over non-last and several axes, and Keras 3's rms_scaling (x * rsqrt(var +
# eps) * gamma, var about the mean, no beta: ops.layer_normalization).


@case
def keras3_normalization(out):
    T, Fd = 4, 3
    m_last, v_last = rnd(Fd), np.abs(rnd(Fd)) + 0.2
    m_t, v_t = rnd(T), np.abs(rnd(T)) + 0.2
    g1, b1 = rnd(T) + 1, rnd(T)
    g2, b2 = rnd(T, Fd) + 1, rnd(T, Fd)
    g3 = rnd(Fd) + 1
    src = [k3_tensor("x", [None, T, Fd])]
    layers = [k3_input("x", [T, Fd]),
              k3_layer("Normalization", "normalization", src, axis=-1,
                       mean=m_last.tolist(), variance=v_last.tolist(), invert=False),
              k3_layer("Normalization", "normalization_1", src, axis=[1],
                       mean=m_t.tolist(), variance=v_t.tolist(), invert=True),
              k3_layer("Normalization", "normalization_2", src, axis=None, mean=0.5, variance=4.0),
              k3_layer("LayerNormalization", "layer_normalization", src, axis=[1],
                       epsilon=0.001, center=True, scale=True, rms_scaling=False),
              k3_layer("LayerNormalization", "layer_normalization_1", src, axis=[1, 2],
                       epsilon=0.001, center=True, scale=True, rms_scaling=False),
              k3_layer("LayerNormalization", "layer_normalization_2", src, axis=-1,
                       epsilon=0.01, center=True, scale=True, rms_scaling=True)]
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional",
           "config": {"name": "functional", "layers": layers, "input_layers": [["x", 0, 0]],
                      "output_layers": [[n, 0, 0] for n in [
                          "normalization", "normalization_1", "normalization_2",
                          "layer_normalization", "layer_normalization_1",
                          "layer_normalization_2"]]},
           "registered_name": "Functional"}
    save_keras3(os.path.join(out, "keras3_normalization.keras"), cfg, {
        "layers/layer_normalization": [g1, b1],
        "layers/layer_normalization_1": [g2, b2],
        "layers/layer_normalization_2": [g3]})
    x = rnd(BATCH, T, Fd, scale=2.0)
    X = t(x)
    sd = lambda v: torch.clamp(torch.sqrt(t(v)), min=1e-7)
    y0 = (X - t(m_last)) / sd(v_last)
    y1 = X * sd(v_t)[:, None] + t(m_t)[:, None]
    y2 = (X - 0.5) / 2.0

    def ln(v, axes, eps):
        mu = v.mean(axes, keepdim=True)
        var = ((v - mu) ** 2).mean(axes, keepdim=True)
        return (v - mu) / torch.sqrt(var + eps), var
    n3, _ = ln(X, (1,), 0.001)
    y3 = n3 * t(g1)[:, None] + t(b1)[:, None]
    y4 = F.layer_norm(X, (T, Fd), t(g2), t(b2), 0.001)
    _, var5 = ln(X, (2,), 0.01)
    y5 = X / torch.sqrt(var5 + 0.01) * t(g3)
    return "keras3_normalization.keras", "-", {"x": x}, [y0, y1, y2, y3, y4, y5]


# ----------------------------------------------------------------------------
# Conv transposes with output_padding. Keras' output length is
# conv_utils.deconv_output_length; TF computes the layer as the gradient of a
# forward conv from that length: the full transposed result cropped from
# pad_total // 2 ('same': pad_total = max(full - length, 0)), zero-extended at
# the end when the length asks for more.


def deconv_length(n, k, padding, op, s, d=1):
    k = k + (k - 1) * (d - 1)
    if op is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + op


def tf_conv_transpose(x, w, b, strides, padding, output_padding, dilation=None):
    """x NC..., w torch (in, out, k...): Keras/TF conv transpose."""
    nd = x.dim() - 2
    dilation = dilation or [1] * nd
    full = [F.conv_transpose1d, F.conv_transpose2d][nd - 1](x, w, None, stride=strides,
                                                            dilation=dilation)
    for i in range(nd):
        n, k, s, d = x.shape[2 + i], w.shape[2 + i], strides[i], dilation[i]
        op = None if output_padding is None else output_padding[i]
        length = deconv_length(n, k, padding, op, s, d)
        keff = (k - 1) * d + 1
        f = (n - 1) * s + keff
        begin = max(f - length, 0) // 2 if padding == "same" else 0
        ax = 2 + i
        if begin + length > full.shape[ax]:
            extra = begin + length - full.shape[ax]
            shape = list(full.shape)
            shape[ax] = extra
            full = torch.cat([full, torch.zeros(shape)], ax)
        full = full.narrow(ax, begin, length)
    return full + t(b).reshape([1, -1] + [1] * nd)


@case
def conv_transpose_output_padding(out):
    w1, b1 = rnd(3, 4, 3, 3), rnd(4)     # torch (in, out, kh, kw)
    w2, b2 = rnd(4, 2, 4, 3), rnd(2)
    w3, b3 = rnd(2, 3, 3), rnd(3)        # 1-D
    layers = [input_layer("x", [5, 4, 3]), input_layer("s", [6, 2]),
              layer("Conv2DTranspose", "up_same_op", ["x"], filters=4, kernel_size=[3, 3],
                    strides=[2, 3], padding="same", output_padding=[0, 2], activation="relu"),
              layer("Conv2DTranspose", "up_valid_op", ["up_same_op"], filters=2,
                    kernel_size=[4, 3], strides=[3, 2], padding="valid", output_padding=[2, 1],
                    dilation_rate=[1, 1], activation="linear"),
              layer("Conv1DTranspose", "up_1d", ["s"], filters=3, kernel_size=3, strides=2,
                    padding="same", output_padding=1, activation="tanh")]
    cfg = functional(layers, ["x", "s"], ["up_valid_op", "up_1d"])
    k2d = lambda w: np.transpose(w, (2, 3, 1, 0)).copy()
    save_h5(os.path.join(out, "conv_transpose_op.h5"), cfg, {
        "up_same_op": [("kernel", k2d(w1)), ("bias", b1)],
        "up_valid_op": [("kernel", k2d(w2)), ("bias", b2)],
        "up_1d": [("kernel", np.transpose(w3, (2, 1, 0)).copy()), ("bias", b3)]})
    x = rnd(BATCH, 5, 4, 3, scale=1.0)
    sq = rnd(BATCH, 6, 2, scale=1.0)
    h = F.relu(tf_conv_transpose(t(x).permute(0, 3, 1, 2), t(w1), b1, [2, 3], "same", [0, 2]))
    h = tf_conv_transpose(h, t(w2), b2, [3, 2], "valid", [2, 1])
    g = torch.tanh(tf_conv_transpose(t(sq).permute(0, 2, 1), t(w3), b3, [2], "same", [1]))
    return "conv_transpose_op.h5", "-", {"x": x, "s": sq}, \
        [h.permute(0, 2, 3, 1), g.permute(0, 2, 1)]


# ----------------------------------------------------------------------------
# data_format="channels_first": tensors are (N, C, spatial...), as torch's;
# Flatten flattens the channels_last transpose (keras/src/layers/reshaping/
# flatten.py); BatchNormalization normalizes axis 1.


@case
def channels_first(out):
    cf = "channels_first"
    w = rnd(4, 3, 3, 3)
    b = rnd(4)
    gamma, beta, mean, var = rnd(4) + 1, rnd(4), rnd(4), np.abs(rnd(4)) + 0.5
    wf, bf, kf = dense_w(4 * 3 * 3, 3)
    wd, bd = rnd(6, 1, 3, 3), rnd(6)     # depthwise, in 3, multiplier 2
    wt, bt = rnd(6, 2, 3, 3), rnd(2)     # transpose (in, out, kh, kw)
    w1, b1 = rnd(3, 2, 3), rnd(3)        # Conv1D
    layers = [input_layer("img", [3, 8, 8]), input_layer("seq", [2, 10]),
              layer("ZeroPadding2D", "pad", ["img"], padding=[[1, 0], [0, 1]], data_format=cf),
              layer("Conv2D", "conv", ["pad"], filters=4, kernel_size=[3, 3], strides=[1, 1],
                    padding="same", data_format=cf, activation="relu"),
              layer("BatchNormalization", "bn", ["conv"], axis=1, epsilon=0.001),
              layer("MaxPooling2D", "pool", ["bn"], pool_size=[2, 2], padding="valid",
                    data_format=cf),
              layer("Cropping2D", "crop", ["pool"], cropping=[[0, 1], [1, 0]], data_format=cf),
              layer("UpSampling2D", "up", ["crop"], size=[2, 2], data_format=cf,
                    interpolation="nearest"),
              layer("AveragePooling2D", "avg", ["up"], pool_size=[2, 2], padding="same",
                    data_format=cf),
              layer("Flatten", "flat", ["avg"], data_format=cf),
              layer("Dense", "fc", ["flat"], units=3, activation="linear"),
              layer("DepthwiseConv2D", "dw", ["img"], kernel_size=[3, 3], depth_multiplier=2,
                    padding="valid", data_format=cf, activation="linear"),
              layer("Conv2DTranspose", "ct", ["dw"], filters=2, kernel_size=[3, 3],
                    strides=[2, 2], padding="same", data_format=cf, activation="linear"),
              layer("GlobalAveragePooling2D", "gap", ["ct"], data_format=cf, keepdims=True),
              layer("Conv1D", "c1", ["seq"], filters=3, kernel_size=[3], strides=[2],
                    padding="valid", data_format=cf, activation="linear"),
              layer("GlobalMaxPooling1D", "gmp", ["c1"], data_format=cf)]
    cfg = functional(layers, ["img", "seq"], ["fc", "gap", "gmp"])

    def dw_kernel(wk):  # (in*dm, 1, kh, kw) -> (kh, kw, in, dm)
        return np.transpose(wk.reshape(3, 2, 3, 3), (2, 3, 0, 1)).copy()
    save_h5(os.path.join(out, "channels_first.h5"), cfg, {
        "conv": [("kernel", conv_kernel(w)), ("bias", b)],
        "bn": [("gamma", gamma), ("beta", beta), ("moving_mean", mean),
               ("moving_variance", var)],
        "fc": kf, "dw": [("depthwise_kernel", dw_kernel(wd)), ("bias", bd)],
        "ct": [("kernel", np.transpose(wt, (2, 3, 1, 0)).copy()), ("bias", bt)],
        "c1": [("kernel", conv_kernel(w1)), ("bias", b1)]})
    x = rnd(BATCH, 3, 8, 8, scale=1.0)
    sq = rnd(BATCH, 2, 10, scale=1.0)
    h = F.pad(t(x), (0, 1, 1, 0))                       # W: 0 left, 1 right; H: 1 top
    h = F.relu(F.conv2d(h, t(w), t(b), padding=1))      # 'same', k3 s1
    h = F.batch_norm(h, t(mean), t(var), t(gamma), t(beta), False, 0.0, 0.001)
    h = F.max_pool2d(h, 2)                              # [4, 4, 4]
    h = h[:, :, 0:3, 1:4]                               # crop
    h = h.repeat_interleave(2, 2).repeat_interleave(2, 3)
    h = F.avg_pool2d(h, 2)                              # 'same' on 6x6: no padding
    y0 = F.linear(h.permute(0, 2, 3, 1).reshape(BATCH, -1), t(wf), t(bf))
    g = F.conv2d(t(x), t(wd), t(bd), groups=3)          # [6, 6, 6]
    g = tf_conv_transpose(g, t(wt), bt, [2, 2], "same", None)
    y1 = g.mean((2, 3), keepdim=True)
    y2 = F.conv1d(t(sq), t(w1), t(b1), stride=2).amax(2)
    return "channels_first.h5", "-", {"img": x, "seq": sq}, [y0, y1, y2]


# UpSampling2D(interpolation="bilinear"): Keras resizes with tf.image.resize
# (tf.keras backend.resize_images; Keras 3 ops.image.resize), whose bilinear
# mode uses half-pixel centres in TF 2 and clamps at the borders: torch's
# interpolate(align_corners=False).
@case
def time_distributed_conv(out):
    # TimeDistributed around layers that are not per-feature: each of the T
    # steps runs as its own sample.
    w, b = rnd(4, 2, 3, 3), rnd(4)
    td = lambda name, cls, **cfg: layer("TimeDistributed", name, layer={
        "class_name": cls, "config": dict(cfg, name=name + "_inner")})
    cfg = sequential([
        input_layer("clip", [3, 6, 6, 2], functional=False),
        td("td_conv", "Conv2D", filters=4, kernel_size=[3, 3], strides=[1, 1], padding="valid",
           data_format="channels_last", dilation_rate=[1, 1], activation="relu", use_bias=True),
        td("td_pool", "MaxPooling2D", pool_size=[2, 2], strides=[2, 2], padding="valid",
           data_format="channels_last"),
        td("td_flat", "Flatten", data_format="channels_last"),
    ])
    save_h5(os.path.join(out, "time_distributed_conv.h5"), cfg, {
        "td_conv": [("kernel", conv_kernel(w)), ("bias", b)], "td_pool": [], "td_flat": []})
    x = rnd(BATCH, 3, 6, 6, 2, scale=1.0)
    h = t(x).reshape(BATCH * 3, 6, 6, 2).permute(0, 3, 1, 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, t(w), t(b))), 2)
    h = h.permute(0, 2, 3, 1).reshape(BATCH, 3, -1)
    return "time_distributed_conv.h5", "-", {"clip": x}, [h]


@case
def upsampling_bilinear(out):
    layers = [input_layer("x", [3, 4, 2]), input_layer("xc", [2, 3, 4]),
              layer("UpSampling2D", "up", ["x"], size=[2, 3], interpolation="bilinear",
                    data_format="channels_last"),
              layer("UpSampling2D", "up_cf", ["xc"], size=[3, 2], interpolation="bilinear",
                    data_format="channels_first")]
    cfg = functional(layers, ["x", "xc"], ["up", "up_cf"])
    save_h5(os.path.join(out, "upsampling_bilinear.h5"), cfg, {})
    x = rnd(BATCH, 3, 4, 2, scale=1.0)
    xc = rnd(BATCH, 2, 3, 4, scale=1.0)
    y0 = F.interpolate(t(x).permute(0, 3, 1, 2), scale_factor=(2, 3), mode="bilinear",
                       align_corners=False).permute(0, 2, 3, 1)
    y1 = F.interpolate(t(xc), scale_factor=(3, 2), mode="bilinear", align_corners=False)
    return "upsampling_bilinear.h5", "-", {"x": x, "xc": xc}, [y0, y1]


# ----------------------------------------------------------------------------
# Hostile files: (file, config or "-", words the refusal must contain)


def hostile(out):
    rows = []
    base = [input_layer("x", [4])]
    # A Lambda layer: its Python code is never run.
    cfg = functional(base + [layer("Lambda", "evil", ["x"], function=["4wEAAAAAAAAA", None, None],
                                   function_type="lambda")], ["x"], ["evil"])
    save_h5(os.path.join(out, "hostile_lambda.h5"), cfg, {})
    rows.append(("hostile_lambda.h5", "-", "Lambda"))
    # A custom class.
    cfg = functional(base + [layer("MyCustomDense", "custom", ["x"], units=3)], ["x"], ["custom"])
    save_h5(os.path.join(out, "hostile_custom.h5"), cfg, {})
    rows.append(("hostile_custom.h5", "-", "'MyCustomDense'"))
    # A cycle: a <- b <- a.
    cfg = functional(base + [layer("Activation", "a", ["b"], activation="relu"),
                             layer("Activation", "b", ["a"], activation="relu")], ["x"], ["b"])
    save_h5(os.path.join(out, "hostile_cycle.h5"), cfg, {})
    rows.append(("hostile_cycle.h5", "-", "part of a cycle"))
    # Absurd shapes.
    cfg = functional([input_layer("x", [99999999999999])], ["x"], ["x"])
    save_h5(os.path.join(out, "hostile_shape.h5"), cfg, {})
    rows.append(("hostile_shape.h5", "-", "has dimension 99999999999999"))
    cfg = functional(base + [layer("Reshape", "r", ["x"], target_shape=[100000, 100000, 100000])],
                     ["x"], ["r"])
    save_h5(os.path.join(out, "hostile_reshape.h5"), cfg, {})
    rows.append(("hostile_reshape.h5", "-", "absurdly large"))
    # A kernel that does not fit its layer.
    cfg = functional(base + [layer("Dense", "d", ["x"], units=3)], ["x"], ["d"])
    save_h5(os.path.join(out, "hostile_kernel.h5"), cfg, {"d": [("kernel", rnd(5, 3)), ("bias", rnd(3))]})
    rows.append(("hostile_kernel.h5", "-", "the kernel does not take 4 inputs"))
    # A weights-only file without its architecture.
    save_weights_only(os.path.join(out, "hostile_weights_only.h5"),
                      os.path.join(out, "unused.json"), cfg, {"d": []})
    rows.append(("hostile_weights_only.h5", "-", "--config"))
    # Invalid JSON architecture.
    with open(os.path.join(out, "broken.json"), "w") as f:
        f.write('{"class_name": "Sequential", "config": {"layers": [')
    rows.append(("hostile_weights_only.h5", "broken.json", "not valid JSON"))
    # Weights whose data lives in another file on disk (HDF5 external storage),
    # and a layer group that is an external link: never followed.
    cfg = functional(base + [layer("Dense", "d", ["x"], units=3)], ["x"], ["d"])
    with open(os.path.join(out, "secret.bin"), "wb") as f:
        f.write(np.arange(15, dtype=np.float32).tobytes())
    with h5py.File(os.path.join(out, "hostile_external_storage.h5"), "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"d"])
        d = g.create_group("d")
        d.attrs["weight_names"] = np.array([b"d/kernel:0", b"d/bias:0"])
        d.create_dataset("d/kernel:0", shape=(4, 3), dtype="f4",
                         external=[(os.path.abspath(os.path.join(out, "secret.bin")), 0, 48)])
        d.create_dataset("d/bias:0", data=rnd(3))
    rows.append(("hostile_external_storage.h5", "-", "stores its data in another file"))
    with h5py.File(os.path.join(out, "hostile_external_link.h5"), "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"d"])
        g["d"] = h5py.ExternalLink(os.path.abspath(os.path.join(out, "dense_mlp.h5")),
                                   "/model_weights/d1")
    rows.append(("hostile_external_link.h5", "-", "no group for it"))
    # A gzip-compressed kernel declaring 2 GiB (a few KiB in the file).
    cfg = functional(base + [layer("Dense", "d", ["x"], units=1 << 27)], ["x"], ["d"])
    with h5py.File(os.path.join(out, "hostile_h5_bomb.h5"), "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"d"])
        d = g.create_group("d")
        d.attrs["weight_names"] = np.array([b"d/kernel:0"])
        d.create_dataset("d/kernel:0", shape=(4, 1 << 27), dtype="f4", chunks=(4, 1 << 20),
                         compression="gzip", fillvalue=0)
    rows.append(("hostile_h5_bomb.h5", "-", "decompression bomb"))
    # Zip path traversal.
    with zipfile.ZipFile(os.path.join(out, "hostile_traversal.keras"), "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("../../etc/evil", "x")
    rows.append(("hostile_traversal.keras", "-", "unsafe name"))
    # Decompression bomb: 64 MiB of zeros deflated to ~64 KiB (ratio > 1000).
    with zipfile.ZipFile(os.path.join(out, "hostile_bomb.keras"), "w",
                         compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", bytes(64 << 20))
    rows.append(("hostile_bomb.keras", "-", "decompression bomb"))
    # A member whose header claims 3 GiB.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", "{}")
    data = bytearray(buf.getvalue())
    lie = struct.pack("<I", 3 << 30)
    data[22:26] = lie                              # local header: uncompressed size
    cd = data.find(b"PK\x01\x02")
    data[cd + 24:cd + 28] = lie                    # central directory: uncompressed size
    with open(os.path.join(out, "hostile_huge.keras"), "wb") as f:
        f.write(data)
    rows.append(("hostile_huge.keras", "-", "config.json"))
    # Truncated HDF5.
    with open(os.path.join(out, "dense_mlp.h5"), "rb") as f:
        head = f.read(3000)
    with open(os.path.join(out, "hostile_truncated.h5"), "wb") as f:
        f.write(head)
    rows.append(("hostile_truncated.h5", "-", "HDF5"))
    # An HDF5 file that is not a Keras model.
    with h5py.File(os.path.join(out, "hostile_not_keras.h5"), "w") as f:
        f.create_dataset("data", data=np.zeros(3))
    rows.append(("hostile_not_keras.h5", "-", "not a Keras model"))
    # Remaining refusals, precise: Masking, stateful RNNs.
    cfg = functional(base + [layer("Masking", "mask", ["x"], mask_value=0.0)], ["x"], ["mask"])
    save_h5(os.path.join(out, "hostile_masking.h5"), cfg, {})
    rows.append(("hostile_masking.h5", "-", "does not carry masks"))
    cfg = functional([input_layer("s", [3, 4]),
                      layer("LSTM", "l", ["s"], units=2, stateful=True)], ["s"], ["l"])
    save_h5(os.path.join(out, "hostile_stateful.h5"), cfg, {})
    rows.append(("hostile_stateful.h5", "-", "stateful=True"))
    # Embedding(mask_zero=True) before an LSTM: Keras skips the padded steps,
    # which tiffin does not do, so the model is refused rather than mispredicted.
    cfg = functional([input_layer("t", [5]),
                      layer("Embedding", "emb", ["t"], input_dim=10, output_dim=3, mask_zero=True),
                      layer("LSTM", "l", ["emb"], units=2)], ["t"], ["l"])
    save_h5(os.path.join(out, "hostile_mask_zero.h5"), cfg, {"emb": [("embeddings", rnd(10, 3))]})
    rows.append(("hostile_mask_zero.h5", "-", "mask_zero=True"))
    # A nested model whose two sub-models both hold a layer named 'dense': a
    # legacy group cannot tell their weights apart.
    sub = lambda n: {"class_name": "Sequential", "name": n, "config": {"name": n, "layers": [
        {"class_name": "Dense", "config": {"name": "dense", "units": 4,
                                           "batch_input_shape": [None, 4]}}]},
        "inbound_nodes": [[[("nin" if n == "s1" else "s1"), 1 if n == "s2" else 0, 0, {}]]]}
    nested = {"class_name": "Functional", "config": {
        "name": "twice", "layers": [input_layer("nin", [4]), sub("s1"), sub("s2")],
        "input_layers": [["nin", 0, 0]], "output_layers": [["s2", 1, 0]]}}
    cfg = sequential([input_layer("x", [4], functional=False), dict(nested, name="twice")])
    save_h5(os.path.join(out, "hostile_nested_twice.h5"), cfg,
            {"twice": [("dense/kernel", rnd(4, 4)), ("dense/bias", rnd(4))]}, nested_names=True)
    rows.append(("hostile_nested_twice.h5", "-", "cannot be told apart"))
    # Weights in a nested model's group that name none of its layers.
    inner = {"class_name": "Sequential", "config": {"name": "inner", "layers": [
        {"class_name": "Dense", "config": {"name": "d", "units": 4,
                                           "batch_input_shape": [None, 4]}}]}}
    cfg = sequential([input_layer("x", [4], functional=False), dict(inner, name="inner")])
    save_h5(os.path.join(out, "hostile_nested_stray.h5"), cfg,
            {"inner": [("other/kernel", rnd(4, 4)), ("other/bias", rnd(4))]}, nested_names=True)
    rows.append(("hostile_nested_stray.h5", "-", "names none of its layers"))
    # Models nested 20 deep.
    m = {"class_name": "Sequential", "config": {"name": "m0", "layers": [
        {"class_name": "Activation", "config": {"name": "a0", "activation": "relu",
                                                "batch_input_shape": [None, 4]}}]}}
    for i in range(1, 20):
        m = {"class_name": "Sequential", "config": {"name": f"m{i}", "layers": [
            dict(m, name=f"m{i - 1}")]}}
    cfg = sequential([input_layer("x", [4], functional=False), dict(m, name="m19")])
    save_h5(os.path.join(out, "hostile_deep_nesting.h5"), cfg, {})
    rows.append(("hostile_deep_nesting.h5", "-", "nest more than 16 levels"))
    return rows


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "keras-fixtures"
    os.makedirs(out, exist_ok=True)
    lines = []
    for fn in CASES:
        model, config, inputs, outputs = fn(out)
        name = fn.__name__
        parts = [name, model, config, "1e-5", "1e-6", str(len(inputs))]
        for i, (iname, arr) in enumerate(inputs.items()):
            f = f"{name}.in{i}.bin"
            np.ascontiguousarray(arr, np.float32).tofile(os.path.join(out, f))
            parts += [iname, ",".join(map(str, arr.shape)), f]
        parts.append(str(len(outputs)))
        for i, y in enumerate(outputs):
            y = y.detach().numpy().astype(np.float32)
            f = f"{name}.out{i}.bin"
            y.tofile(os.path.join(out, f))
            parts += [",".join(map(str, y.shape)), f]
        lines.append(" ".join(parts))
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "hostile.txt"), "w") as f:
        for row in hostile(out):
            f.write("\t".join(row) + "\n")


if __name__ == "__main__":
    main()
