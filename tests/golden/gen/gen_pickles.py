#!/usr/bin/python3
"""Writes the pickle fixtures read by src/importers/pickle/pickle_test.cc.

Run with Debian's python (numpy, scikit-learn):  /usr/bin/python3 tests/golden/gen/gen_pickles.py
Output: tests/golden/pickle/*.pkl and evil_manifest.tsv (small, deterministic; commit them).
The expected values are spelled out in pickle_test.cc; keep the two in sync.
`--verify-payloads` also loads every hostile file with Python's pickle (in a
subprocess) and fails unless each one creates its /tmp/tiffin_pwned_* marker:
it proves the payloads are real. It runs them, so only do it on a scratch machine.
"""
import os
import pickle
import struct
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pickle")


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def nested():
    shared = [1, 2]
    return {
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, 2**63 - 1, -2**63,
                 2**64, -2**100],
        "floats": [0.0, -1.5, 1e300, float("inf")],
        "str": "h\u00e9llo \u2603 \U0001d11e",
        "bytes": b"\x00\xffab",
        "tuple": (1, "a", None),
        "empty_tuple": (),
        "list": [True, False, None],
        "set": {3},
        "frozenset": frozenset({"x"}),
        "shared": [shared, shared],
    }


# --------------------------------------------------------------- hostile files
#
# Every evil_* stream below would, if a real pickle.load ran it, create the
# marker file /tmp/tiffin_pwned_<stem> (stem = file name without "evil_" and
# ".pkl"); `--verify-payloads` proves that by loading each one in a Python
# subprocess (needs Debian's python3-sklearn and python3-torch for a few; dill
# is not packaged, so its four files run against a copy of dill's helpers).
# HOSTILE_MANIFEST lists, per file, the globals its refusal may name (the first
# is what the file is about; the others are refused earlier in the stream by a
# reader with an empty allow-list). pickle_test.cc and
# tests/cli/hostile_files_test.py both read it.

MARKER_DIR = "/tmp"
MARKER_PREFIX = "tiffin_pwned_"
HOSTILE_MANIFEST = "evil_manifest.tsv"


def marker(stem):
    return f"{MARKER_DIR}/{MARKER_PREFIX}{stem}"


P2, P3, P4 = b"\x80\x02", b"\x80\x03", b"\x80\x04"
MARK, TUPLE, TUPLE1, REDUCE, STOP, POP = b"(", b"t", b"\x85", b"R", b".", b"0"
EMPTY_TUPLE, EMPTY_DICT, EMPTY_LIST, NONE = b")", b"}", b"]", b"N"
NEWOBJ, BUILD, SETITEM, APPENDS, STACK_GLOBAL = b"\x81", b"b", b"s", b"e", b"\x93"


def g(module, name):
    """GLOBAL (text, protocol 0+)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def u(s):
    """BINUNICODE."""
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def by(b):
    """BINBYTES (protocol 3+)."""
    return b"B" + struct.pack("<I", len(b)) + b


def sg(module, name):
    """STACK_GLOBAL (protocol 4+; the name may be a dotted attribute path)."""
    return u(module) + u(name) + STACK_GLOBAL


def put(i):
    return b"q" + bytes([i])


def get(i):
    return b"h" + bytes([i])


def call(fn, *args):
    """fn(*args) via MARK ... TUPLE REDUCE."""
    return fn + MARK + b"".join(args) + TUPLE + REDUCE


def lst(*items):
    return EMPTY_LIST + MARK + b"".join(items) + APPENDS


def touch_src(stem):
    return f"open({marker(stem)!r}, 'w').close()"


def touch_argv(stem):
    return lst(u("touch"), u(marker(stem)))


def os_system_pickle(stem):
    return g("os", "system") + MARK + u("touch " + marker(stem)) + TUPLE + REDUCE + STOP


def _marshalled(src):
    import marshal
    return marshal.dumps(compile(src, "<payload>", "exec"))


def _tiny_logreg():
    """A fitted-looking LogisticRegression (3 classes, 4 features), built by hand
    so that the file is tiny and identical on every run."""
    from sklearn.linear_model import LogisticRegression
    lr = LogisticRegression()
    lr.classes_ = np.array([0, 1, 2])
    lr.coef_ = np.array([[-0.4, 0.9, -2.3, -1.0], [0.5, -0.3, -0.2, -0.8], [-0.1, -0.6, 2.5, 1.8]])
    lr.intercept_ = np.array([9.8, 2.2, -12.0])
    lr.n_features_in_ = 4
    lr.n_iter_ = np.array([42], dtype=np.int32)
    return lr


def _logreg_with_coef(reduce_value):
    """The tiny LogisticRegression, protocol 4, with coef_ written as `reduce_value`
    (a (callable, args) pair) through reducer_override."""
    import io
    lr = _tiny_logreg()
    target = lr.coef_

    class Smuggler(pickle.Pickler):
        def reducer_override(self, obj):
            if obj is target:
                return reduce_value
            return NotImplemented

    buf = io.BytesIO()
    Smuggler(buf, protocol=4).dump(lr)
    return buf.getvalue()


def _logreg_with_raw_attr(raw):
    """The tiny LogisticRegression, protocol 4, with an extra attribute
    `fit_notes_` whose value is the opcodes `raw` (which must leave one value on
    the stack and use no memo)."""
    import io
    lr = _tiny_logreg()
    sentinel = object()
    lr.fit_notes_ = sentinel

    class RawWriter(pickle._Pickler):  # the Python pickler: save() can be overridden
        def save(self, obj, save_persistent_id=True):
            if obj is sentinel:
                self.write(raw)
                return
            super().save(obj, save_persistent_id)

    buf = io.BytesIO()
    RawWriter(buf, protocol=4).dump(lr)
    return buf.getvalue()


def hostile():
    """(file, names, bytes) for every hostile stream whose refusal names a global."""
    out = []

    def add(stem, names, data):
        out.append((f"evil_{stem}.pkl", names, data))

    # Direct calls of code-running functions.
    add("os_system", ["os.system"], os_system_pickle("os_system"))
    add("eval", ["__builtin__.eval"],
        g("__builtin__", "eval") + MARK + b"V" + touch_src("eval").encode() + b"\n" + TUPLE +
        REDUCE + STOP)
    add("posix_stack_global", ["posix.system"],
        P4 + sg("posix", "system") + u("touch " + marker("posix_stack_global")) + TUPLE1 +
        REDUCE + STOP)
    add("subprocess", ["subprocess.Popen"],
        P2 + g("subprocess", "Popen") + touch_argv("subprocess") + TUPLE1 + REDUCE + STOP)
    add("builtins_eval", ["builtins.eval"],
        P4 + sg("builtins", "eval") + u(touch_src("builtins_eval")) + TUPLE1 + REDUCE + STOP)
    add("exec", ["builtins.exec"],
        P3 + call(g("builtins", "exec"), u(touch_src("exec"))) + STOP)
    # exec(compile(src)): compile is the first global, the code object sits in the memo.
    add("compile", ["builtins.compile"],
        P3 + call(g("builtins", "compile"), u(touch_src("compile")), u("<x>"), u("exec")) +
        put(0) + POP + call(g("builtins", "exec"), get(0)) + STOP)
    add("subprocess_check_output", ["subprocess.check_output"],
        P2 + g("subprocess", "check_output") + touch_argv("subprocess_check_output") + TUPLE1 +
        REDUCE + STOP)
    # A reduce whose callable is fetched at load time: getattr(tarfile.os, 'system').
    add("getattr", ["builtins.getattr"],
        P3 + call(g("builtins", "getattr"), g("tarfile", "os"), u("system")) + MARK +
        u("touch " + marker("getattr")) + TUPLE + REDUCE + STOP)
    # __import__('os') into the memo, then getattr(memo, 'system')(...).
    add("import", ["builtins.__import__"],
        P3 + call(g("builtins", "__import__"), u("os")) + put(0) + POP +
        call(g("builtins", "getattr"), get(0), u("system")) + MARK +
        u("touch " + marker("import")) + TUPLE + REDUCE + STOP)
    # operator.attrgetter('system')(tarfile.os)(...).
    add("reduce_attrgetter", ["operator.attrgetter"],
        P2 + call(g("operator", "attrgetter"), u("system")) + MARK + g("tarfile", "os") + TUPLE +
        REDUCE + MARK + u("touch " + marker("reduce_attrgetter")) + TUPLE + REDUCE + STOP)
    # functools.partial(os.system, '...')().
    add("reduce_partial", ["functools.partial"],
        P2 + call(g("functools", "partial"), g("os", "system"),
                  u("touch " + marker("reduce_partial"))) + EMPTY_TUPLE + REDUCE + STOP)
    # INST and OBJ: the protocol 0/1 forms of "call this class".
    add("inst", ["os.system"],
        MARK + b"V" + ("touch " + marker("inst")).encode() + b"\n" + b"ios\nsystem\n" + STOP)
    add("obj", ["subprocess.call"],
        P2 + MARK + g("subprocess", "call") + touch_argv("obj") + b"o" + STOP)
    # BUILD on an instance without __setstate__ whose slot state sets an
    # instance attribute __setstate__ = os.system; the second BUILD calls it.
    add("build_setstate_inject", ["os.system", "sklearn.base.ClassifierMixin"],
        P2 + g("sklearn.base", "ClassifierMixin") + EMPTY_TUPLE + NEWOBJ +
        NONE + EMPTY_DICT + u("__setstate__") + g("os", "system") + SETITEM + b"\x86" + BUILD +
        u("touch " + marker("build_setstate_inject")) + BUILD + STOP)
    # BUILD with functools.partial.__setstate__, which replaces the function.
    add("build_setstate_partial", ["functools.partial"],
        P3 + g("functools", "partial") + g("builtins", "print") + TUPLE1 + NEWOBJ +
        MARK + g("os", "system") + u("touch " + marker("build_setstate_partial")) + TUPLE1 +
        EMPTY_DICT + NONE + TUPLE + BUILD + EMPTY_TUPLE + REDUCE + STOP)
    # Nested unpicklers.
    inner = os_system_pickle("pickle_loads")
    add("pickle_loads", ["pickle.loads"], P3 + call(g("pickle", "loads"), by(inner)) + STOP)
    inner = os_system_pickle("cpickle_loads")
    add("cpickle_loads", ["_pickle.loads"], P3 + call(g("_pickle", "loads"), by(inner)) + STOP)
    # types.FunctionType(marshal.loads(code), {})().
    add("marshal_loads", ["marshal.loads", "types.FunctionType"],
        P3 + g("types", "FunctionType") + MARK +
        call(g("marshal", "loads"), by(_marshalled(touch_src("marshal_loads")))) + EMPTY_DICT +
        TUPLE + REDUCE + EMPTY_TUPLE + REDUCE + STOP)
    # dill's unpickling helpers (dill._dill, dill >= 0.3).
    add("dill_create_function", ["dill._dill._create_function"],
        P3 + call(g("dill._dill", "_create_function"),
                  call(g("marshal", "loads"), by(_marshalled(touch_src("dill_create_function")))),
                  EMPTY_DICT) + EMPTY_TUPLE + REDUCE + STOP)
    add("dill_load_type", ["dill._dill._load_type"],
        P3 + call(g("dill._dill", "_load_type"), u("FunctionType")) + MARK +
        call(g("marshal", "loads"), by(_marshalled(touch_src("dill_load_type")))) + EMPTY_DICT +
        TUPLE + REDUCE + EMPTY_TUPLE + REDUCE + STOP)
    add("dill_get_attr", ["dill._dill._get_attr"],
        P3 + call(g("dill._dill", "_get_attr"), g("tarfile", "os"), u("system")) + MARK +
        u("touch " + marker("dill_get_attr")) + TUPLE + REDUCE + STOP)
    add("dill_import_module", ["dill._dill._import_module"],
        P3 + call(g("dill._dill", "_import_module"), u("os")) + put(0) + POP +
        call(g("builtins", "getattr"), get(0), u("system")) + MARK +
        u("touch " + marker("dill_import_module")) + TUPLE + REDUCE + STOP)
    # torch.load(BytesIO(pickle), None, pickle): a non-zip file is a legacy
    # torch file whose first record is unpickled with pickle_module.
    add("torch_load", ["torch.load"],
        P3 + call(g("torch", "load"), call(g("_io", "BytesIO"),
                                           by(os_system_pickle("torch_load"))),
                  NONE, g("torch.serialization", "pickle")) + STOP)
    # torch.serialization._load(zip_file, None, pickle) only calls
    # zip_file.get_record('data.pkl'): a SimpleNamespace whose get_record is
    # dict.get bound to {'data.pkl': <pickle>}.
    bound_get = call(sg("types", "MethodType"), sg("builtins", "dict.get"),
                     EMPTY_DICT + u("data.pkl") + by(os_system_pickle("torch_serialization_load")) +
                     SETITEM)
    add("torch_serialization_load", ["torch.serialization._load", "types.SimpleNamespace"],
        P4 + call(sg("torch.serialization", "_load"),
                  sg("types", "SimpleNamespace") + EMPTY_TUPLE + NEWOBJ + EMPTY_DICT +
                  u("get_record") + bound_get + SETITEM + BUILD,
                  NONE, sg("torch.serialization", "pickle")) + STOP)
    # shutil.rmtree on a path that does not exist (ignore_errors), then
    # shutil.copyfile makes the marker.
    add("shutil_rmtree", ["shutil.rmtree"],
        P3 + call(g("shutil", "rmtree"), u(marker("shutil_rmtree") + ".victim"), b"\x88") + POP +
        call(g("shutil", "copyfile"), u("/dev/null"), u(marker("shutil_rmtree"))) + STOP)
    add("importlib_import_module", ["importlib.import_module"],
        P3 + call(g("importlib", "import_module"), u("os")) + put(0) + POP +
        call(g("builtins", "getattr"), get(0), u("system")) + MARK +
        u("touch " + marker("importlib_import_module")) + TUPLE + REDUCE + STOP)
    # webbrowser.open(marker) after registering a 'browser' that is `touch %s`
    # (console browsers, if any are installed, are tried first).
    add("webbrowser_open", ["webbrowser.open"],
        P4 + sg("webbrowser", "open") + put(0) + POP +
        call(sg("webbrowser", "register"), u("tiffin"), NONE,
             call(sg("webbrowser", "GenericBrowser"), lst(u("touch"), u("%s")))) + POP +
        get(0) + u(marker("webbrowser_open")) + TUPLE1 + REDUCE + STOP)
    add("pty_spawn", ["pty.spawn"],
        P2 + g("pty", "spawn") + touch_argv("pty_spawn") + TUPLE1 + REDUCE + STOP)
    add("runpy_run_code", ["runpy._run_code"],
        P3 + call(g("runpy", "_run_code"), u(touch_src("runpy_run_code")), EMPTY_DICT) + STOP)
    add("code_interactive_interpreter", ["code.InteractiveInterpreter"],
        P4 + sg("code", "InteractiveInterpreter") + EMPTY_TUPLE + REDUCE + put(0) + POP +
        call(sg("code", "InteractiveInterpreter.runsource"), get(0),
             u(touch_src("code_interactive_interpreter"))) + STOP)
    # Scanner evasion: the payload, then bytes that are no pickle at all.
    add("payload_then_garbage", ["os.system"],
        P2 + g("os", "system") + MARK + u("touch " + marker("payload_then_garbage")) + TUPLE +
        REDUCE + b"\xff\xfe\x00garbage")
    # A dotted name (protocol 4 resolves it attribute by attribute): the os
    # module that sklearn/__init__.py imports.
    add("dotted_sklearn_os", ["sklearn.os.system"],
        P4 + sg("sklearn", "os.system") + u("touch " + marker("dotted_sklearn_os")) + TUPLE1 +
        REDUCE + STOP)
    # Library functions that exec a string.
    add("numpy_runstring", ["numpy.testing._private.utils.runstring"],
        P3 + call(g("numpy.testing._private.utils", "runstring"), u(touch_src("numpy_runstring")),
                  EMPTY_DICT) + STOP)
    add("sklearn_testing_run_script",
        ["sklearn.utils._testing.assert_run_python_script"],
        P3 + call(g("sklearn.utils._testing", "assert_run_python_script"),
                  u(touch_src("sklearn_testing_run_script"))) + STOP)
    # An otherwise valid LogisticRegression (protocol 4, as sklearn writes it)
    # whose coef_ is a REDUCE: of os.system (pickled as posix.system), and of
    # an allow-listed-module function that runs Python.
    import os as os_module
    add("sklearn_logreg_coef_os_system", ["posix.system", "os.system"],
        _logreg_with_coef((os_module.system,
                           ("touch " + marker("sklearn_logreg_coef_os_system"),))))
    from sklearn.utils._testing import assert_run_python_script
    add("sklearn_logreg_coef_gadget", ["sklearn.utils._testing.assert_run_python_script"],
        _logreg_with_coef((assert_run_python_script,
                           (touch_src("sklearn_logreg_coef_gadget"),))))
    # The same model with the REDUCE in an attribute no converter reads, written
    # as raw opcodes (a dotted name cannot come from a Pickler): refusing it
    # must not depend on the importer looking at the value.
    add("sklearn_logreg_unused_os_system", ["os.system"],
        _logreg_with_raw_attr(sg("os", "system") +
                              u("touch " + marker("sklearn_logreg_unused_os_system")) +
                              TUPLE1 + REDUCE))
    add("sklearn_logreg_unused_gadget", ["sklearn.utils._testing.assert_run_python_script"],
        _logreg_with_raw_attr(sg("sklearn.utils._testing", "assert_run_python_script") +
                              u(touch_src("sklearn_logreg_unused_gadget")) + TUPLE1 + REDUCE))
    add("sklearn_logreg_unused_dotted_os", ["sklearn.os.system"],
        _logreg_with_raw_attr(sg("sklearn", "os.system") +
                              u("touch " + marker("sklearn_logreg_unused_dotted_os")) +
                              TUPLE1 + REDUCE))
    return out


# A copy of the four dill helpers the dill_* files call (dill/_dill.py), so
# that --verify-payloads can run them without dill installed.
DILL_SHIM = '''
import types
_reverse_typemap = {k: v for k, v in vars(types).items() if isinstance(v, type)}
def _create_function(fcode, fglobals, fname=None, fdefaults=None, fclosure=None, fdict=None,
                     fkwdefaults=None):
    return types.FunctionType(fcode, fglobals or dict(), fname, fdefaults, fclosure)
def _load_type(name):
    return _reverse_typemap[name]
def _get_attr(self, name):
    return getattr(self, name)
def _import_module(import_name, safe=False):
    return __import__(import_name)
'''


def verify_payloads(entries):
    """Loads every hostile file with Python's own pickle in a subprocess and
    checks that its marker appears. Runs the payloads: they only create files
    named /tmp/tiffin_pwned_*, which are removed again."""
    import glob
    import subprocess
    import tempfile
    import time
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        shim = os.path.join(tmp, "shim")  # not the cwd: `python -c` imports from there
        os.makedirs(os.path.join(shim, "dill"))
        open(os.path.join(shim, "dill", "__init__.py"), "w").close()
        with open(os.path.join(shim, "dill", "_dill.py"), "w") as f:
            f.write(DILL_SHIM)
        for name, _, _ in entries:
            stem = name[len("evil_"):-len(".pkl")]
            for m in glob.glob(marker(stem) + "*"):
                os.remove(m)
            env = dict(os.environ)
            if stem.startswith("dill_"):  # torch imports dill when it finds one
                env["PYTHONPATH"] = shim
            subprocess.run([sys.executable, "-c",
                            "import pickle, sys; pickle.loads(open(sys.argv[1], 'rb').read())",
                            os.path.join(OUT, name)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env, cwd=tmp, timeout=120)
            for _ in range(50):
                if os.path.exists(marker(stem)):
                    break
                time.sleep(0.1)
            ok = os.path.exists(marker(stem))
            print(("ran   " if ok else "FAIL  ") + name, file=sys.stderr)
            if not ok:
                failed.append(name)
            for m in glob.glob(marker(stem) + "*"):
                os.remove(m)
    return failed


def main():
    os.makedirs(OUT, exist_ok=True)
    for proto in range(6):
        write("nested_p%d.pkl" % proto, pickle.dumps(nested(), protocol=proto))

    f32 = (np.arange(6, dtype=np.float32) * 0.5).reshape(2, 3)
    arrays = {
        "f32": f32,
        "f64": np.array([[1.5, -2.0], [3.25, 1e-300]], dtype=np.float64),
        "i64": np.array([-(2**62), -1, 0, 7], dtype=np.int64),
        "bool": np.array([True, False, True]),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        "big_f8": np.arange(4, dtype=">f8"),
        "big_i4": np.array([1, -2, 70000], dtype=">i4"),
        "zero_d": np.array(3.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "u8": np.array([0, 200, 255], dtype=np.uint8),
        "str_u": np.array(["a", "\u00e9t\u00e9", ""]),
        "str_s": np.array([b"ab", b"c"]),
    }
    for name, arr in arrays.items():
        write("np_%s_p2.pkl" % name, pickle.dumps(arr, protocol=2))
        write("np_%s_p4.pkl" % name, pickle.dumps(arr, protocol=4))
    write("np_f32_p0.pkl", pickle.dumps(f32, protocol=0))
    write("np_f32_p5.pkl", pickle.dumps(f32, protocol=5))
    write("np_fortran_p5.pkl", pickle.dumps(arrays["fortran"], protocol=5))
    write("np_scalars.pkl", pickle.dumps([np.float64(2.5), np.int64(-7), np.float32(0.25)], protocol=4))
    write("np_object.pkl", pickle.dumps(np.array(["a", 1, None], dtype=object), protocol=4))
    node = np.dtype([("left_child", "<i8"), ("right_child", "<i8"), ("threshold", "<f8"),
                     ("missing_go_to_left", "u1")], align=True)
    nodes = np.zeros(2, dtype=node)
    nodes["left_child"] = [1, -1]
    nodes["threshold"] = [0.5, -2.0]
    write("np_struct.pkl", pickle.dumps(nodes, protocol=4))

    # Hostile streams. None of these may ever be executed.
    entries = hostile()
    for name, _, data in entries:
        write(name, data)
    with open(os.path.join(OUT, HOSTILE_MANIFEST), "w") as f:
        f.write("# file\tglobals its refusal may name (first: what the file is about)\t"
                "marker file its payload would create; written by gen_pickles.py\n")
        for name, names, _ in entries:
            f.write(f"{name}\t{'|'.join(names)}\t{marker(name[len('evil_'):-len('.pkl')])}\n")
    # The same LogisticRegression without the smuggled coef_: tiffin predicts with it.
    write("sklearn_logreg_p4.pkl", pickle.dumps(_tiny_logreg(), protocol=4))
    write("evil_huge_len.pkl", b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc.")
    write("evil_huge_frame.pkl", b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"N.")
    write("evil_deep_lists.pkl", b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b".")
    write("evil_deep_marks.pkl", b"(" * 5000 + b"N.")
    write("evil_ext.pkl", b"\x80\x02\x82\x01.")
    write("evil_next_buffer.pkl", b"\x80\x05\x97.")
    # What pickle writes for an instance of mypackage.models.Unknown.
    write("evil_unknown_class.pkl", b"\x80\x02cmypackage.models\nUnknown\nq\x00)\x81q\x01}q\x02b.")
    print("wrote fixtures to", os.path.normpath(OUT), file=sys.stderr)
    if "--verify-payloads" in sys.argv[1:]:
        failed = verify_payloads(entries)
        if failed:
            sys.exit("payloads that did not run: " + " ".join(failed))


if __name__ == "__main__":
    main()
