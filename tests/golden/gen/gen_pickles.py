#!/usr/bin/python3
"""Writes the pickle fixtures read by src/importers/pickle/pickle_test.cc.

Run with Debian's python (it has numpy):  /usr/bin/python3 tests/golden/gen/gen_pickles.py
Output: tests/golden/pickle/*.pkl (small, deterministic; commit them).
The expected values are spelled out in pickle_test.cc; keep the two in sync.
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
    write("evil_os_system.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    write("evil_eval.pkl", b"c__builtin__\neval\n(S'1+1'\ntR.")
    write("evil_posix_stack_global.pkl",
          b"\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c\x04true\x85R.")
    write("evil_subprocess.pkl", b"\x80\x02csubprocess\nPopen\n]\x85R.")
    write("evil_huge_len.pkl", b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc.")
    write("evil_huge_frame.pkl", b"\x80\x04\x95" + struct.pack("<Q", 2**40) + b"N.")
    write("evil_deep_lists.pkl", b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b".")
    write("evil_deep_marks.pkl", b"(" * 5000 + b"N.")
    write("evil_ext.pkl", b"\x80\x02\x82\x01.")
    write("evil_next_buffer.pkl", b"\x80\x05\x97.")
    # What pickle writes for an instance of mypackage.models.Unknown.
    write("evil_unknown_class.pkl", b"\x80\x02cmypackage.models\nUnknown\nq\x00)\x81q\x01}q\x02b.")
    print("wrote fixtures to", os.path.normpath(OUT), file=sys.stderr)

if __name__ == "__main__":
    main()
