#!/usr/bin/python3
"""End-to-end tests of `tiffin pack` and of loading `.tiffin` bundles with the
CLI: standard zip tools read the bundle, entries are stored and 64-byte
aligned, the manifest's hashes hold, model.onnx loads with ONNX's own Python
package (external data in weights.bin), predictions equal the source's,
`--no-verify`, and a future format version is refused.

usage: bundle_test.py TIFFIN SOURCE_DIR
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

from cases import case, finish  # tests/cli/cases.py

TIFFIN, SOURCE = sys.argv[1], sys.argv[2]
SK = os.path.join(SOURCE, "examples", "sklearn_iris")
SK_MODEL, SK_CSV = os.path.join(SK, "model.pkl"), os.path.join(SK, "input.csv")
MLP = os.path.join(SOURCE, "tests", "golden", "torch", "mlp")
TMP = tempfile.mkdtemp(prefix="tiffin_bundle_cli_")


def run(*args):
    return subprocess.run([TIFFIN, *args], capture_output=True, text=True)



def pack(source, name, *extra):
    out = os.path.join(TMP, name)
    r = run("pack", source, "-o", out, *extra)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", "pack prints progress on stderr only"
    return out


IRIS = None


@case
def pack_writes_a_bundle_with_progress_on_stderr():
    global IRIS
    out = os.path.join(TMP, "iris.tiffin")
    r = run("pack", SK_MODEL, "-o", out, "--steps", "scaler,model", "--reference", SK_CSV,
            "--name", "iris", "--model-version", "3")
    assert r.returncode == 0, r.stderr
    assert "tiffin pack: wrote" in r.stderr, r.stderr
    IRIS = out


@case
def standard_zip_tools_read_it():
    r = subprocess.run(["unzip", "-t", IRIS], capture_output=True, text=True)
    assert r.returncode == 0 and "No errors detected" in r.stdout, r.stdout + r.stderr
    with zipfile.ZipFile(IRIS) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert names[0] == "manifest.json", names
        assert {"model.onnx", "weights.bin"} <= set(names), names


@case
def entries_are_stored_and_64_byte_aligned():
    with open(IRIS, "rb") as f:
        data = f.read()
    with zipfile.ZipFile(IRIS) as z:
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED, info.filename
            name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
            start = info.header_offset + 30 + name_len + extra_len
            assert start % 64 == 0, (info.filename, start)


@case
def manifest_hashes_every_entry():
    with zipfile.ZipFile(IRIS) as z:
        m = json.loads(z.read("manifest.json"))
        assert m["format_version"] == 1 and m["format"] == "tiffin-bundle"
        assert m["model"] == {"name": "iris", "version": "3"}, m["model"]
        assert m["created"].endswith("Z"), m["created"]
        prov = m["provenance"]
        assert prov["library"] == "scikit-learn" and prov["steps"] == ["scaler", "model"], prov
        with open(SK_MODEL, "rb") as f:
            assert prov["source_sha256"] == hashlib.sha256(f.read()).hexdigest()
        listed = {e["name"]: e for e in m["entries"]}
        assert set(listed) == set(z.namelist()) - {"manifest.json"}, listed.keys()
        for name, e in listed.items():
            body = z.read(name)
            assert e["size"] == len(body) and e["sha256"] == hashlib.sha256(body).hexdigest(), name
        assert m["reference"]["cases"][0]["rows"] > 0
        assert any(s["source"] == "reference data" for s in m["training_stats"])


@case
def model_onnx_is_standard_onnx_with_external_weights():
    try:
        import onnx
    except ImportError:
        return
    d = os.path.join(TMP, "unzipped")
    # The MLP has large initializers, so weights.bin holds them.
    big = pack(os.path.join(MLP, "model.onnx"), "mlp.tiffin")
    with zipfile.ZipFile(big) as z:
        z.extractall(d)
    model = onnx.load(os.path.join(d, "model.onnx"))  # resolves weights.bin
    onnx.checker.check_model(model)
    ext = [t.name for t in model.graph.initializer if t.raw_data]
    assert ext, "no initializer read back from weights.bin"


@case
def predict_on_the_bundle_equals_the_source():
    a = run("predict", SK_MODEL, "--steps", "scaler,model", "--input", SK_CSV)
    b = run("predict", IRIS, "--input", SK_CSV)
    c = run("predict", IRIS, "--input", SK_CSV, "--no-verify")
    assert a.returncode == 0 and b.returncode == 0 and c.returncode == 0, b.stderr + c.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout) == json.loads(c.stdout)


@case
def inspect_shows_the_manifest_summary():
    r = run("inspect", IRIS)
    assert r.returncode == 0, r.stderr
    assert "tiffin bundle v1" in r.stdout, r.stdout
    assert "bundle      iris version 3" in r.stdout, r.stdout
    assert "replayed and matched" in r.stdout, r.stdout
    r = run("inspect", IRIS, "--json", "--no-verify")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["format"] == "tiffin bundle v1" and j["metadata"]["bundle.name"] == "iris", j


def rewrite(src, dst, edit_manifest):
    """Copies a bundle with an edited manifest, stored entries (no alignment:
    the reader accepts unaligned bundles by copying their weights)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            if info.filename == "manifest.json":
                body = edit_manifest(body)
            zout.writestr(info.filename, body)


@case
def a_future_format_version_is_refused_naming_both():
    dst = os.path.join(TMP, "future.tiffin")
    rewrite(IRIS, dst, lambda b: b.replace(b'"format_version":1', b'"format_version":2'))
    r = run("predict", dst, "--input", SK_CSV)
    assert r.returncode == 1, r
    assert "bundle format version 2" in r.stderr and "(1)" in r.stderr, r.stderr
    assert "upgrade tiffin" in r.stderr, r.stderr


@case
def a_bundle_rewritten_by_python_still_loads():
    dst = os.path.join(TMP, "python.tiffin")
    rewrite(IRIS, dst, lambda b: b)
    r = run("predict", dst, "--input", SK_CSV)
    assert r.returncode == 0, r.stderr


def damaged_copy(name):
    """A copy of IRIS with one bit of model.onnx's data flipped."""
    with open(IRIS, "rb") as f:
        data = bytearray(f.read())
    with zipfile.ZipFile(IRIS) as z:
        info = z.getinfo("model.onnx")
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    data[info.header_offset + 30 + name_len + extra_len + 5] ^= 0x10
    dst = os.path.join(TMP, name)
    with open(dst, "wb") as f:
        f.write(data)
    return dst


@case
def a_damaged_entry_is_named():
    dst = damaged_copy("damaged.tiffin")
    r = run("predict", dst, "--input", SK_CSV, "--no-verify")
    assert r.returncode == 1 and "model.onnx" in r.stderr and "SHA-256" in r.stderr, r.stderr


@case
def convert_writes_the_bundle_graph_as_one_standalone_onnx_file():
    big = pack(os.path.join(MLP, "model.onnx"), "mlp_for_convert.tiffin")
    for bundle, feed in ((IRIS, SK_CSV), (big, os.path.join(MLP, "input_0.npy"))):
        out = os.path.join(TMP, os.path.basename(bundle) + ".onnx")
        r = run("convert", bundle, "-o", out)
        assert r.returncode == 0, r.stderr
        # One file: the weights that lived in weights.bin are inlined.
        lonely = os.path.join(TMP, "lonely")
        os.makedirs(lonely, exist_ok=True)
        shutil.copy(out, os.path.join(lonely, "model.onnx"))
        a = run("predict", bundle, "--input", feed)
        b = run("predict", os.path.join(lonely, "model.onnx"), "--input", feed)
        assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
        assert json.loads(a.stdout)["outputs"] == json.loads(b.stdout)["outputs"], bundle
        try:
            import onnx
        except ImportError:
            continue
        m = onnx.load(os.path.join(lonely, "model.onnx"), load_external_data=False)
        onnx.checker.check_model(m)
        assert not any(t.external_data for t in m.graph.initializer), "external data left"
        meta = {p.key: p.value for p in m.metadata_props}
        assert "bundle.source_sha256" in meta, meta


@case
def convert_refuses_a_damaged_bundle():
    dst = damaged_copy("damaged_convert.tiffin")
    out = os.path.join(TMP, "never.onnx")
    r = run("convert", dst, "-o", out)
    assert r.returncode == 1 and "model.onnx" in r.stderr and "SHA-256" in r.stderr, r.stderr
    assert not os.path.exists(out), "a damaged bundle was converted"


shutil.rmtree(TMP, ignore_errors=True)
finish()
