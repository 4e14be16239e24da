#!/usr/bin/env python3
"""Write PyTorch archives and what torch itself says about them.

Run with Debian's Python (python3-torch 1.13):

    /usr/bin/python3 tests/golden/gen/gen_torch_archives.py OUT_DIR

OUT_DIR/index.json lists every case; each case folder holds:
    model.pt            torch.save (zip, the default)
    model.legacy.pt     torch.save(..., _use_new_zipfile_serialization=False)
    tensors/<i>.npy     every tensor as torch rebuilt it (bfloat16 as the exactly
                        widened float32), in the order index.json names them
Diff cases (diff/) hold state_dicts whose load_state_dict fails, the error
torch raised (parsed into missing / unexpected / size-mismatch lists) and an
ONNX export of the same network (torch.onnx.export keeps parameter names).
Scripted Sequentials (script/) with inputs and torch's outputs, scripted
modules tiffin must refuse, and a
hostile corpus (hostile/): a pickled nn.Module class (zip and legacy),
os.system in data.pkl, a zip path traversal, a view past its storage, a
stride-0 view that would expand 4 bytes into 1 GiB.

Deterministic: fixed seeds; OUT_DIR/.stamp holds the script's sha256 and the
script returns early when it matches. Exits 77 when torch is not installed.
"""

import copy
import hashlib
import io
import json
import os
import re
import shutil
import sys
import zipfile

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:  # pragma: no cover
    print("gen_torch_archives: needs python3-torch and python3-numpy: %s" % e, file=sys.stderr)
    sys.exit(77)

torch.set_num_threads(1)


class Net(nn.Module):
    def __init__(self, n_in=4, hidden=10, n_out=3, extra=False):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, n_out)
        if extra:
            self.fc3 = nn.Linear(n_out, n_out)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def seeded(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


def write_tensors(case_dir, obj):
    """Flattens obj like tiffin does (dict keys and list indices joined by
    dots) and writes every tensor as .npy; returns the index entries."""
    entries = []

    def walk(v, name):
        if isinstance(v, torch.Tensor):
            t = v.detach()
            torch_dtype = str(t.dtype).replace("torch.", "")
            if t.dtype == torch.bfloat16:
                arr = t.float().numpy()
            else:
                arr = t.numpy()
            fn = "tensors/%d.npy" % len(entries)
            np.save(os.path.join(case_dir, fn), np.require(arr, requirements="C"))  # keeps 0-d
            entries.append({"name": name, "file": fn, "torch_dtype": torch_dtype,
                            "shape": list(t.shape),
                            "parameter": isinstance(v, nn.Parameter)})
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, (name + "." if name else "") + str(k))
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, (name + "." if name else "") + str(i))

    os.makedirs(os.path.join(case_dir, "tensors"), exist_ok=True)
    walk(obj, "")
    return entries


def save_case(out, name, obj, note, state_dict=True):
    d = os.path.join(out, "cases", name)
    os.makedirs(d, exist_ok=True)
    torch.save(obj, os.path.join(d, "model.pt"))
    torch.save(obj, os.path.join(d, "model.legacy.pt"), _use_new_zipfile_serialization=False)
    # What torch reads back from both files.
    tensors = write_tensors(d, obj)
    for f in ("model.pt", "model.legacy.pt"):
        back = torch.load(os.path.join(d, f))  # our own file, just written
        again = []

        def walk(v):
            if isinstance(v, torch.Tensor):
                again.append(v)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, (list, tuple)):
                for x in v:
                    walk(x)
        walk(back)
        assert len(again) == len(tensors), (name, f)
    return {"name": name, "note": note, "files": ["model.pt", "model.legacy.pt"],
            "tensors": tensors, "state_dict": state_dict}


def cases(out):
    result = []
    seeded(1)
    net = Net()
    result.append(save_case(out, "state_dict", net.state_dict(), "Net(4,10,3).state_dict()"))

    seeded(2)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss = net(torch.randn(5, 4)).pow(2).sum()
    loss.backward()
    opt.step()
    ckpt = {"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
            "loss": 0.5}
    result.append(save_case(out, "checkpoint", ckpt,
                            "{model: state_dict, optimizer: SGD momentum state, epoch, loss}",
                            state_dict=False))

    seeded(3)
    base = torch.randn(4, 6)
    shared = {"base": base, "transposed": base.t(), "rows": base[1:3], "every_other": base[:, ::2],
              "flat_tail": base.view(-1)[5:17], "expanded": torch.randn(3, 1).expand(3, 4),
              "scalar": base[2, 3]}
    result.append(save_case(out, "shared_views", shared,
                            "one storage seen through transposed, sliced, strided, expanded and "
                            "0-d views"))

    seeded(4)
    dtypes = {
        "f16": torch.randn(3, 5).half(),
        "bf16": torch.randn(3, 5).bfloat16(),
        "f64": torch.randn(2, 3, dtype=torch.float64),
        "i64": torch.arange(-6, 6, dtype=torch.int64).reshape(3, 4),
        "i32": torch.arange(-3, 3, dtype=torch.int32),
        "i16": torch.tensor([-300, 0, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "bool": torch.tensor([[True, False], [False, True]]),
        "empty": torch.zeros(0, 3),
        "f16_t": torch.randn(4, 2).half().t(),
    }
    result.append(save_case(out, "dtypes", dtypes, "every dense dtype, 0-sized and transposed"))

    seeded(5)
    bn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    bn.train()
    for _ in range(3):
        bn(torch.randn(2, 3, 8, 8))
    result.append(save_case(out, "conv_bn", bn.state_dict(),
                            "Conv2d + BatchNorm2d after 3 training steps (num_batches_tracked int64)"))

    seeded(6)
    params = {"w": nn.Parameter(torch.randn(2, 2)), "b": nn.Parameter(torch.randn(2))}
    result.append(save_case(out, "parameters", params, "nn.Parameter values (_rebuild_parameter)"))

    seeded(7)
    big = {"f32": torch.randn(2, 3), "i64": torch.arange(-3, 3), "f16": torch.randn(4).half(),
           "f64": torch.randn(3, dtype=torch.float64), "bf16": torch.randn(3).bfloat16()}
    case = save_case(out, "big_endian", big,
                     "model.big.pt: model.pt with a byteorder record 'big' and every storage "
                     "byte-swapped (what a big-endian host writes; torch 1.13 writes no such "
                     "record and cannot read one, so the expected tensors are the originals)")
    d = os.path.join(out, "cases", "big_endian")
    sizes = {str(i): t.element_size() for i, t in enumerate(big.values())}  # keys in first-seen order
    with zipfile.ZipFile(os.path.join(d, "model.pt")) as src, \
            zipfile.ZipFile(os.path.join(d, "model.big.pt"), "w", zipfile.ZIP_STORED) as dst:
        # torch 1.13 writes no byteorder record (2.x does; absent means little).
        for info in src.infolist():
            data = src.read(info.filename)
            record, rest = info.filename.split("/", 1)
            if rest == "byteorder":
                continue
            if rest.startswith("data/"):
                w = sizes[rest[5:]]
                data = np.frombuffer(data, dtype="u%d" % w).byteswap().tobytes()
            dst.writestr(info, data)
        dst.writestr(record + "/byteorder", "big")
    case["files"].append("model.big.pt")
    result.append(case)
    return result


KEY_RE = re.compile(r'"([^"]+)"')
SIZE_RE = re.compile(r"size mismatch for ([^:]+): copying a param with shape torch.Size\(\[([^\]]*)\]\)"
                     r" from checkpoint, the shape in current model is torch.Size\(\[([^\]]*)\]\)")


def parse_load_error(msg):
    """torch's load_state_dict error -> missing, unexpected, size mismatches."""
    missing, unexpected, sizes = [], [], []
    for line in msg.splitlines():
        line = line.strip()
        if line.startswith("Missing key(s) in state_dict:"):
            missing = KEY_RE.findall(line)
        elif line.startswith("Unexpected key(s) in state_dict:"):
            unexpected = KEY_RE.findall(line)
        else:
            m = SIZE_RE.search(line)
            if m:
                dims = lambda s: [int(x) for x in s.split(",") if x.strip()]
                sizes.append({"name": m.group(1), "checkpoint": dims(m.group(2)),
                              "model": dims(m.group(3))})
    return missing, unexpected, sizes


def diff_cases(out):
    d = os.path.join(out, "diff")
    os.makedirs(d, exist_ok=True)
    seeded(10)
    model = Net(4, 10, 3)
    model.eval()
    torch.save(model.state_dict(), os.path.join(d, "net.pt"))
    torch.onnx.export(model, torch.randn(1, 4), os.path.join(d, "net.onnx"),
                      input_names=["x"], output_names=["y"], opset_version=13,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    pairs = []
    variants = {
        "wide": Net(5, 10, 3),           # fc1.weight [10,5] vs [10,4]
        "extra": Net(4, 10, 3, extra=True),  # unexpected fc3.*
        "wide_extra": Net(5, 10, 3, extra=True),
    }
    for name, other in variants.items():
        path = os.path.join(d, name + ".pt")
        torch.save(other.state_dict(), path)
        try:
            # A failed load has already copied what fitted: use a throwaway copy.
            copy.deepcopy(model).load_state_dict(other.state_dict())
            msg = ""
        except RuntimeError as e:
            msg = str(e)
        missing, unexpected, sizes = parse_load_error(msg)
        pairs.append({"checkpoint": name + ".pt", "model": "net.pt", "torch_error": msg,
                      "missing": missing, "unexpected": unexpected, "size_mismatch": sizes})
    # The reverse: a model with fc3 loading the plain state_dict -> missing keys.
    bigger = Net(4, 10, 3, extra=True)
    torch.save(bigger.state_dict(), os.path.join(d, "bigger.pt"))
    try:
        bigger.load_state_dict(model.state_dict())
        msg = ""
    except RuntimeError as e:
        msg = str(e)
    missing, unexpected, sizes = parse_load_error(msg)
    pairs.append({"checkpoint": "net.pt", "model": "bigger.pt", "torch_error": msg,
                  "missing": missing, "unexpected": unexpected, "size_mismatch": sizes})
    # A checkpoint holding the same state_dict under "model".
    torch.save({"model": model.state_dict(), "epoch": 1}, os.path.join(d, "net_ckpt.pt"))
    return {"pairs": pairs, "onnx": "net.onnx", "same_as_onnx": "net.pt",
            "wide_vs_onnx": "wide.pt", "checkpoint_of_net": "net_ckpt.pt"}


class Doubler(nn.Module):
    def forward(self, x):
        return x * 2


def trained_bn(seq, shape, steps=3):
    """Runs a few training batches so BatchNorm running statistics are not
    the initial zeros and ones."""
    seq.train()
    with torch.no_grad():
        for _ in range(steps):
            seq(torch.randn(*shape) * 2 + 0.5)
    return seq


def script_cases(out):
    """Scripted Sequentials tiffin converts (with inputs and torch's outputs)
    and ones it must refuse (with the module its refusal names)."""
    d = os.path.join(out, "script")
    os.makedirs(d, exist_ok=True)
    # name -> (make, input shape, dtype); Linear-first models take [7, in].
    converted = {
        "mlp_relu_sigmoid": (lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3),
                                                   nn.Sigmoid()), None, "float32"),
        "tanh_no_bias": (lambda: nn.Sequential(nn.Linear(6, 5, bias=False), nn.Tanh(),
                                               nn.Linear(5, 2)), None, "float32"),
        "single_linear": (lambda: nn.Sequential(nn.Linear(3, 1)), None, "float32"),
        "deep": (lambda: nn.Sequential(*[m for i in range(4) for m in (nn.Linear(8, 8), nn.ReLU())],
                                       nn.Linear(8, 4)), None, "float32"),
        "every_module": (lambda: nn.Sequential(
            nn.Linear(5, 8), nn.Dropout(0.3), nn.Identity(), nn.LeakyReLU(0.2), nn.Linear(8, 6),
            nn.ELU(0.5), nn.Flatten(), nn.Linear(6, 4), nn.Softmax(dim=1)), None, "float32"),
        # Convolutional nets: TorchScript records no input shape; tiffin
        # states [N, C, H, W] with C from the first Conv and H, W symbolic.
        "conv2d_net": (lambda: trained_bn(nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.BatchNorm2d(8),
            nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding="same", dilation=2, groups=2, bias=False),
            nn.Hardswish(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(8, 4),
            nn.LogSoftmax(dim=1)), (4, 3, 16, 16)), (5, 3, 16, 16), "float32"),
        "conv2d_pools": (lambda: nn.Sequential(
            nn.Conv2d(2, 4, (3, 5), padding="valid"), nn.GELU(),
            nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), nn.SiLU(),
            nn.Conv2d(4, 4, 1), nn.Mish(), nn.AvgPool2d(2, padding=1), nn.ReLU6(),
            nn.MaxPool2d(3, stride=1, dilation=2, padding=1), nn.Conv2d(4, 3, 2, stride=(2, 1)),
            nn.Flatten(1)), (3, 2, 17, 19), "float32"),
        "conv2d_ceil_pools": (lambda: nn.Sequential(
            nn.Conv2d(1, 2, 3), nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
            nn.AvgPool2d(3, stride=2, ceil_mode=True), nn.Flatten()), (2, 1, 12, 12), "float32"),
        "bn2d_first": (lambda: trained_bn(nn.Sequential(
            nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, affine=False), nn.Tanh(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten()), (4, 3, 9, 9)), (3, 3, 9, 9), "float32"),
        "conv1d_net": (lambda: trained_bn(nn.Sequential(
            nn.Conv1d(3, 6, 5, stride=2, padding=2), nn.BatchNorm1d(6), nn.ReLU6(),
            nn.MaxPool1d(3, stride=2, padding=1), nn.Conv1d(6, 6, 3, padding="same", groups=3),
            nn.AvgPool1d(2), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(6, 2),
            nn.Softmax(dim=-1)), (4, 3, 33)), (4, 3, 33), "float32"),
        "layer_norm_mlp": (lambda: nn.Sequential(
            nn.Linear(6, 8), nn.LayerNorm(8), nn.GELU("tanh"), nn.Linear(8, 8),
            nn.LayerNorm(8, elementwise_affine=False, eps=1e-3), nn.Softplus(beta=2, threshold=1),
            nn.Linear(8, 3)), None, "float32"),
        "activations": (lambda: nn.Sequential(
            nn.Linear(5, 6), nn.Hardtanh(-0.5, 0.7), nn.Linear(6, 6), nn.Hardsigmoid(),
            nn.Softsign(), nn.Linear(6, 6), nn.PReLU(), nn.Linear(6, 6), nn.PReLU(6),
            nn.Softplus(), nn.Linear(6, 4), nn.LogSoftmax(dim=-1)), None, "float32"),
        "bn1d_mlp": (lambda: trained_bn(nn.Sequential(
            nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)), (8, 4)),
            None, "float32"),
        "embedding": (lambda: nn.Sequential(
            nn.Embedding(20, 6, padding_idx=0), nn.LayerNorm(6), nn.Linear(6, 5), nn.GELU(),
            nn.Flatten(), nn.Unflatten(1, (2, 5)), nn.Linear(5, 3), nn.Flatten(1, 2)),
            (5, 2), "int64"),
        "conv_transpose": (lambda: nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), nn.Tanh(),
            nn.ConvTranspose2d(3, 4, (2, 3), stride=(2, 1), dilation=(1, 2), bias=False),
            nn.ConvTranspose2d(4, 2, 3, groups=2), nn.Flatten()), (2, 2, 5, 6), "float32"),
        "nested": (lambda: nn.Sequential(
            nn.Sequential(nn.Linear(4, 8), nn.ReLU()),
            nn.Sequential(nn.Sequential(nn.Linear(8, 8)), nn.Tanh()), nn.Linear(8, 2)),
            None, "float32"),
    }
    refused = {
        "dropout_training": (lambda: nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1)).train(),
                             "was saved in training mode"),
        "softmax_dim0": (lambda: nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=0)),
                         "over a dimension other than the features"),
        "conv_reflect": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1,
                                                         padding_mode="reflect"), nn.ReLU()),
                         "padding_mode 'reflect'"),
        "custom_module": (lambda: nn.Sequential(nn.Linear(4, 4), Doubler()), "Doubler"),
        "not_sequential": (lambda: Net(), "not torch.nn.Sequential"),
        "adaptive_pool_2x2": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(2)),
                              "output size other than 1"),
        "flatten_first": (lambda: nn.Sequential(nn.Flatten(), nn.ReLU()),
                          "fixes the input's rank"),
        "embedding_max_norm": (lambda: nn.Sequential(nn.Embedding(5, 3, max_norm=1.0)),
                               "max_norm"),
        "bn_batch_stats": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3),
                                                 nn.BatchNorm2d(2, track_running_stats=False)),
                           "BatchNorm2d"),
        "bn_training": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).train(),
                        "was saved in training mode"),
        "upsample": (lambda: nn.Sequential(nn.Linear(4, 4), nn.Upsample(scale_factor=2)),
                 "torch.nn.modules.upsampling.Upsample"),
    }
    result = {"converted": [], "refused": []}
    for i, (name, (make, shape, dtype)) in enumerate(sorted(converted.items())):
        seeded(20 + i)
        seq = make()
        seq.eval()
        torch.jit.script(seq).save(os.path.join(d, name + ".pt"))
        if dtype == "int64":
            x = torch.randint(0, 20, shape, dtype=torch.int64)
        else:
            x = torch.randn(*(shape or (7, seq[0].in_features if isinstance(seq[0], nn.Linear)
                                        else seq[0][0].in_features)))
        np.save(os.path.join(d, name + ".input.npy"), x.numpy())
        with torch.no_grad():
            np.save(os.path.join(d, name + ".expected.npy"), seq(x).numpy())
        result["converted"].append({"file": name + ".pt", "input": name + ".input.npy",
                                    "expected": name + ".expected.npy", "rtol": 1e-5,
                                    "atol": 1e-6})
    for i, (name, (make, expect)) in enumerate(sorted(refused.items())):
        seeded(40 + i)
        m = make()
        if name not in ("dropout_training", "bn_training"):
            m.eval()
        torch.jit.script(m).save(os.path.join(d, name + ".pt"))
        result["refused"].append({"file": name + ".pt", "expect": expect})
    return result


def pickle_zip(path, record, pkl, extra=()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(record + "/data.pkl", pkl)
        z.writestr(record + "/byteorder", "little")
        for name, data in extra:
            z.writestr(name, data)
        z.writestr(record + "/version", "3\n")


def hostile_cases(out):
    d = os.path.join(out, "hostile")
    os.makedirs(d, exist_ok=True)
    entries = []
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    torch.save(seq, os.path.join(d, "evil_module.pt"))
    entries.append({"file": "evil_module.pt", "expect": "torch.nn.modules.container.Sequential"})
    torch.save(seq, os.path.join(d, "evil_module.legacy.pt"), _use_new_zipfile_serialization=False)
    entries.append({"file": "evil_module.legacy.pt",
                    "expect": "torch.nn.modules.container.Sequential"})
    marker = "/tmp/tiffin_pwned_torch_os_system"
    # GLOBAL 'os system', the command, TUPLE1, REDUCE, STOP: would run a shell.
    payload = (b"\x80\x02cos\nsystem\nX" + len("touch " + marker).to_bytes(4, "little") +
               ("touch " + marker).encode() + b"\x85R.")
    pickle_zip(os.path.join(d, "evil_os_system.pt"), "archive", payload)
    entries.append({"file": "evil_os_system.pt", "expect": "os.system", "marker": marker})
    good = io.BytesIO()
    torch.save({"w": torch.ones(2)}, good)
    with zipfile.ZipFile(io.BytesIO(good.getvalue())) as src:
        with zipfile.ZipFile(os.path.join(d, "evil_traversal.pt"), "w", zipfile.ZIP_STORED) as z:
            for info in src.infolist():
                z.writestr(info.filename, src.read(info.filename))
            z.writestr("../../tmp/tiffin_pwned_traversal", "x")
    entries.append({"file": "evil_traversal.pt", "expect": "unsafe name"})
    # A view that claims 2^40 elements from a 2-element storage.
    pkl = (b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n("
           b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQ"
           b"K\x00\x8a\x06\x00\x00\x00\x00\x00\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs.")
    pickle_zip(os.path.join(d, "evil_huge_view.pt"), "archive", pkl,
               extra=[("archive/data/0", b"\x00" * 8)])
    entries.append({"file": "evil_huge_view.pt", "expect": "reaches past its storage"})
    # A stride-0 view repeating one float 2^28 times: 1 GiB from 4 bytes.
    pkl = (b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n("
           b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQ"
           b"K\x00J\x00\x00\x00\x10\x85K\x00\x85\x89ccollections\nOrderedDict\n)RtRs.")
    pickle_zip(os.path.join(d, "evil_expand_bomb.pt"), "archive", pkl,
               extra=[("archive/data/0", b"\x00" * 4)])
    entries.append({"file": "evil_expand_bomb.pt", "expect": "more than 16 times the file's size"})
    return entries


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    stamp = hashlib.sha256(open(__file__, "rb").read()).hexdigest()
    if os.path.exists(os.path.join(out, ".stamp")) and \
            open(os.path.join(out, ".stamp")).read() == stamp:
        return 0
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    index = {"torch_version": torch.__version__, "cases": cases(out), "diff": diff_cases(out),
             "script": script_cases(out), "hostile": hostile_cases(out)}
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
    with open(os.path.join(out, ".stamp"), "w") as f:
        f.write(stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
