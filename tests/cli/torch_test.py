#!/usr/bin/python3
"""PyTorch files through the CLI: `tiffin inspect` lists what torch saved,
`tiffin diff` reports exactly the keys and shapes torch's own load_state_dict
error names, a state_dict is not a model, hostile files are refused, and every
external torch file has its stated outcome (docs/compatibility.md).

usage: torch_test.py TIFFIN FIXTURES SOURCE_DIR   (FIXTURES: gen_torch_archives.py's output)
"""
import json
import os
import subprocess
import sys

from cases import case, finish  # tests/cli/cases.py

TIFFIN, FIX, SOURCE = sys.argv[1], sys.argv[2], sys.argv[3]
EXTERNAL = os.path.join(SOURCE, "..", "shared", "fixtures", "external", "torch")
INDEX = json.load(open(os.path.join(FIX, "index.json")))


def tiffin(*args):
    return subprocess.run([TIFFIN, *args], capture_output=True, text=True)


@case
def inspect_lists_every_tensor_torch_saved():
    n = 0
    for c in INDEX["cases"]:
        for f in c["files"]:
            path = os.path.join(FIX, "cases", c["name"], f)
            r = tiffin("inspect", path, "--json")
            assert r.returncode == 0, (path, r.stderr)
            got = json.loads(r.stdout)
            want = [(t["name"], t["torch_dtype"], t["shape"]) for t in c["tensors"]]
            have = [(t["name"], t["torch_dtype"], t["shape"]) for t in got["tensors"]]
            assert have == want, (path, have, want)
            assert got["parameter_count"] == sum(
                1 if not t["shape"] else __import__("math").prod(t["shape"]) for t in c["tensors"])
            n += 1
    assert n >= 12, n


@case
def inspect_text_names_dtypes_and_shapes():
    r = tiffin("inspect", os.path.join(FIX, "cases", "state_dict", "model.pt"))
    assert r.returncode == 0, r.stderr
    assert "fc1.weight" in r.stdout and "[10,4]" in r.stdout and "float32" in r.stdout, r.stdout
    assert "no architecture" in r.stdout, r.stdout


@case
def diff_reports_what_load_state_dict_raises():
    d = os.path.join(FIX, "diff")
    for p in INDEX["diff"]["pairs"]:
        r = tiffin("diff", os.path.join(d, p["checkpoint"]), os.path.join(d, p["model"]), "--json")
        assert r.returncode == 1, (p, r.stderr)
        got = json.loads(r.stdout)
        assert sorted(got["missing"]) == sorted(p["missing"]), (p["checkpoint"], got, p["torch_error"])
        assert sorted(got["unexpected"]) == sorted(p["unexpected"]), (got, p["torch_error"])
        want = sorted((m["name"], m["checkpoint"], m["model"]) for m in p["size_mismatch"])
        have = sorted((m["name"], m["a"], m["b"]) for m in got["size_mismatch"])
        assert have == want, (have, want, p["torch_error"])


@case
def diff_state_dict_against_its_onnx_export():
    d = os.path.join(FIX, "diff")
    onnx = os.path.join(d, INDEX["diff"]["onnx"])
    r = tiffin("diff", os.path.join(d, INDEX["diff"]["same_as_onnx"]), onnx)
    assert r.returncode == 0, (r.stdout, r.stderr)
    r = tiffin("diff", os.path.join(d, INDEX["diff"]["checkpoint_of_net"]), onnx, "--json")
    got = json.loads(r.stdout)
    assert r.returncode == 0 and got["prefix_a"] == "model.", r.stdout
    r = tiffin("diff", os.path.join(d, INDEX["diff"]["wide_vs_onnx"]), onnx)
    assert r.returncode == 1, r.stdout
    assert "size mismatch for fc1.weight: [10,5] in A, [10,4] in B" in r.stdout, r.stdout


@case
def a_state_dict_is_not_a_model():
    r = tiffin("predict", os.path.join(FIX, "cases", "state_dict", "model.pt"), "--input", "x.json")
    assert r.returncode != 0, r.stdout
    assert "no architecture" in r.stderr and "tiffin diff" in r.stderr, r.stderr
    for f in ("model.pt", "model.legacy.pt"):
        r = tiffin("convert", os.path.join(FIX, "cases", "state_dict", f), "-o", "/tmp/tiffin_torch_x.onnx")
        assert r.returncode != 0 and "no architecture" in r.stderr, (f, r.stderr)


@case
def hostile_files_are_refused():
    for h in INDEX["hostile"]:
        path = os.path.join(FIX, "hostile", h["file"])
        for cmd in (["inspect", path], ["predict", path, "--input", "x.json"]):
            r = tiffin(*cmd)
            assert r.returncode != 0, (cmd, r.stdout)
            assert h["expect"] in r.stderr, (cmd, r.stderr)
        if "marker" in h:
            assert not os.path.exists(h["marker"]), h


@case
def scripted_sequential_predicts_like_torch():
    import numpy as np
    for c in INDEX["script"]["converted"]:
        d = os.path.join(FIX, "script")
        x = np.load(os.path.join(d, c["input"]))
        want = np.load(os.path.join(d, c["expected"]))
        r = tiffin("predict", os.path.join(d, c["file"]), "--input", os.path.join(d, c["input"]))
        assert r.returncode == 0, (c["file"], r.stderr)
        got = np.array(json.loads(r.stdout)["outputs"][0]["data"], dtype=np.float32)
        assert x.shape[0] == want.shape[0]
        np.testing.assert_allclose(got.reshape(want.shape), want, rtol=c["rtol"], atol=c["atol"])
    for c in INDEX["script"]["refused"]:
        r = tiffin("inspect", os.path.join(FIX, "script", c["file"]))
        assert r.returncode != 0 and c["expect"] in r.stderr, (c, r.stderr)
        assert "torch.onnx.export" in r.stderr, r.stderr


@case
def scripted_sequential_packs_into_a_bundle_that_predicts_the_same():
    import tempfile
    d = os.path.join(FIX, "script")
    with tempfile.TemporaryDirectory() as tmp:
        for c in INDEX["script"]["converted"]:
            out = os.path.join(tmp, c["file"] + ".tiffin")
            feed = os.path.join(d, c["input"])
            r = tiffin("pack", os.path.join(d, c["file"]), "--reference", feed, "-o", out)
            assert r.returncode == 0, (c["file"], r.stderr)
            a = tiffin("predict", os.path.join(d, c["file"]), "--input", feed)
            b = tiffin("predict", out, "--input", feed)  # verifies and replays the reference
            assert a.returncode == 0 and b.returncode == 0, (c["file"], a.stderr + b.stderr)
            assert json.loads(a.stdout)["outputs"] == json.loads(b.stdout)["outputs"], c["file"]


@case
def converted_sequential_runs_in_onnx_runtime():
    # tiffin convert writes the graph; ONNX Runtime 1.30 (tools/ort) runs it.
    import numpy as np
    import tempfile
    if not os.path.isdir(os.path.join(SOURCE, "tools", "ort", "node_modules", "onnxruntime-node")):
        print("skip: tools/ort/node_modules/onnxruntime-node is missing (scripts/setup.sh)")
        return
    d = os.path.join(FIX, "script")
    with tempfile.TemporaryDirectory() as tmp:
        for c in INDEX["script"]["converted"]:
            onnx = os.path.join(tmp, c["file"] + ".onnx")
            r = tiffin("convert", os.path.join(d, c["file"]), "-o", onnx)
            assert r.returncode == 0, r.stderr
            out = os.path.join(tmp, c["file"] + ".out")
            os.makedirs(out)
            r = subprocess.run(["node", os.path.join(SOURCE, "tools", "ort", "run_model.js"), onnx,
                                out, os.path.join(d, c["input"])], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            got = np.load(os.path.join(out, "output_0.npy"))
            want = np.load(os.path.join(d, c["expected"]))
            np.testing.assert_allclose(got, want, rtol=c["rtol"], atol=c["atol"])


@case
def scripted_sequential_diffs_against_its_state_dict():
    # The scripted module's attributes are its state_dict: same names.
    d = os.path.join(FIX, "script")
    r = tiffin("diff", os.path.join(FIX, "cases", "state_dict", "model.pt"),
               os.path.join(d, "mlp_relu_sigmoid.pt"), "--json")
    got = json.loads(r.stdout)
    assert r.returncode == 1 and "0.weight" in got["missing"] and "fc1.weight" in got["unexpected"], r.stdout


# Every external file's outcome: (file, exit code of inspect, text it must show).
EXTERNAL_OUTCOMES = [
    ("burn__batch_norm2d.pt", 0, "norm1.num_batches_tracked"),
    ("burn__complex_nested.pt", 0, "conv_blocks.1.conv.weight"),
    ("burn__linear.pt", 0, "fc2.weight"),
    ("burn__reader_bfloat16.pt", 0, "widened to float32"),
    ("burn__reader_float16.pt", 0, "float16"),
    ("burn__reader_checkpoint.pt", 0, "model_state_dict.fc1.weight"),
    ("burn__reader_simple_legacy.pt", 0, "running_mean"),
    ("burn__reader_legacy_shared_storage.pt", 0, "view3"),
    ("hls4ml__graph_model_1iteration.pt", 0, "state_dict.input_network.0.weight"),
    ("hls4ml__three_layer_model.pt", 1, "pickles the class torch.nn.modules.container.Sequential"),
    ("tch-rs__foo.pt", 1, "its top module is __torch__.Foo, not torch.nn.Sequential"),
    ("tch-rs__foo2.pt", 1, "its top module is __torch__.Foo2, not torch.nn.Sequential"),
    ("tch-rs__foo3.pt", 1, "its top module is __torch__.Foo3, not torch.nn.Sequential"),
    ("tch-rs__foo_2019.pt", 1, "an old format (model.json)"),
    ("burn__reader_broken.pt", 1, "not a valid"),
]


@case
def external_files_have_their_stated_outcome():
    listed = {f for f, _, _ in EXTERNAL_OUTCOMES}
    present = {f for f in os.listdir(EXTERNAL) if f.endswith(".pt")}
    assert listed == present, (listed ^ present)
    for f, code, text in EXTERNAL_OUTCOMES:
        r = tiffin("inspect", os.path.join(EXTERNAL, f))
        assert r.returncode == code, (f, r.returncode, r.stderr)
        assert text in (r.stdout + r.stderr), (f, r.stdout, r.stderr)


finish()
