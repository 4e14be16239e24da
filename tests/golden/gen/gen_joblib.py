#!/usr/bin/python3
"""Writes the joblib fixtures read by src/importers/pickle/joblib_test.cc.

Run with Debian's python (joblib 1.2, numpy 1.24, python3-lz4, python3-zstandard):
    /usr/bin/python3 tests/golden/gen/gen_joblib.py
Output: tests/golden/joblib/ (small, deterministic; commit it).

  payload_p{2,3,4,5}.joblib     joblib.dump(payload(), protocol=N), uncompressed: inline
                                arrays with 16-byte alignment padding (joblib >= 1.2)
  payload_p4.joblib.{z,gz,bz2,xz,lzma,lz4}
                                the same through each of joblib's compressors
  payload_p4.joblib.zst         payload_p4.joblib through zstd (joblib >= 1.5 writes
                                exactly this: one zstd frame around the stream)
  payload_p4_unseekable.joblib  dumped to a non-seekable file: the wrappers say
                                numpy_array_alignment_bytes=None and there is no padding
  payload_p3_noalign.joblib     wrappers without the numpy_array_alignment_bytes key
                                (the layout joblib <= 1.1 wrote)
  evil_huge_shape.joblib        a wrapper that declares shape (2**40, 2**40) float64
  evil_side_escape.pkl          a joblib 0.9 NDArrayWrapper naming '../outside.npy'
  joblib_0.* files              joblib's own legacy test data, copied from Debian's
                                python3-joblib (BSD-3-Clause): side .npy files (0.9.2),
                                a ZF main file with ZF side files (0.9.4), and a ZF file
                                with joblib 0.8's extra header space (0.8.4)

The expected values are spelled out in joblib_test.cc; keep the two in sync.
"""
import io
import os
import pickle
import shutil
import sys

import joblib
import numpy as np
import zstandard
from joblib import numpy_pickle
from joblib.numpy_pickle_compat import NDArrayWrapper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "joblib")
JOBLIB_TEST_DATA = "/usr/lib/python3/dist-packages/joblib/test/data"
LEGACY = [
    "joblib_0.9.2_pickle_py35_np19.pkl",
    "joblib_0.9.2_pickle_py35_np19.pkl_01.npy",
    "joblib_0.9.2_pickle_py35_np19.pkl_02.npy",
    "joblib_0.9.2_pickle_py35_np19.pkl_03.npy",
    "joblib_0.9.2_pickle_py35_np19.pkl_04.npy",
    "joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz",
    "joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz_01.npy.z",
    "joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz_02.npy.z",
    "joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz_03.npy.z",
    "joblib_0.8.4_compressed_pickle_py27_np17.gz",
]


def payload():
    """Every array layout the reader must handle; joblib_test.cc checks each."""
    return {
        "f32": (np.arange(6, dtype=np.float32) * 0.5).reshape(2, 3),
        "f64_fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
        "i16_fortran_3d": np.asfortranarray(np.arange(24, dtype=np.int16).reshape(2, 3, 4)),
        "i64": np.array([-(2**62), -1, 0, 7], dtype=np.int64),
        "big_f8": np.arange(4, dtype=">f8") * 1.5,
        "big_i4": np.array([1, -2, 70000], dtype=">i4"),
        "bool": np.array([True, False, True]),
        "u8": np.arange(250, 255, dtype=np.uint8),
        "zero_d": np.array(3.5),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "str_u": np.array(["a", "\u00e9t\u00e9", ""]),
        "object": np.array([1, "abc", {"k": 2}, None], dtype=object),
        "structured": np.array([(1, 2.5), (3, -1.0)], dtype=[("a", "<i4"), ("b", "<f8")]),
        "matrix": np.matrix([[1, 2], [3, 4]], dtype=np.int64),
        "scalar": np.float64(2.25),
        "text": "h\u00e9llo",
        "nested": [np.arange(3, dtype=np.int32), (np.ones(2, dtype=np.float16),)],
    }


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


class Unseekable(io.RawIOBase):
    """A write-only file whose tell() fails, like a pipe."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)

    def tell(self):
        raise io.UnsupportedOperation("not seekable")

    def seekable(self):
        return False


def dump(value, name, **kwargs):
    path = os.path.join(OUT, name)
    joblib.dump(value, path, **kwargs)
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    for proto in (2, 3, 4, 5):
        dump(payload(), "payload_p%d.joblib" % proto, protocol=proto)
    for ext, method in [("z", "zlib"), ("gz", "gzip"), ("bz2", "bz2"), ("xz", "xz"),
                        ("lzma", "lzma"), ("lz4", "lz4")]:
        dump(payload(), "payload_p4.joblib." + ext, protocol=4, compress=(method, 3))
    with open(os.path.join(OUT, "payload_p4.joblib"), "rb") as f:
        write("payload_p4.joblib.zst", zstandard.ZstdCompressor(level=3).compress(f.read()))

    sink = Unseekable()
    numpy_pickle.NumpyPickler(sink, protocol=4).dump(payload())
    write("payload_p4_unseekable.joblib", bytes(sink.buf))

    # joblib <= 1.1: the wrapper has no numpy_array_alignment_bytes attribute.
    original = numpy_pickle.NumpyPickler._create_array_wrapper

    def without_alignment(self, array):
        wrapper = original(self, array)
        del wrapper.numpy_array_alignment_bytes
        return wrapper

    numpy_pickle.NumpyPickler._create_array_wrapper = without_alignment
    dump(payload(), "payload_p3_noalign.joblib", protocol=3)

    def huge(self, array):
        wrapper = original(self, array)
        wrapper.shape = (2**40, 2**40)
        return wrapper

    numpy_pickle.NumpyPickler._create_array_wrapper = huge
    dump([np.arange(4, dtype=np.float64)], "evil_huge_shape.joblib", protocol=4)
    numpy_pickle.NumpyPickler._create_array_wrapper = original

    write("evil_side_escape.pkl",
          pickle.dumps([NDArrayWrapper("../outside.npy", np.ndarray)], protocol=2))

    if os.path.isdir(JOBLIB_TEST_DATA):
        for name in LEGACY:
            shutil.copyfile(os.path.join(JOBLIB_TEST_DATA, name), os.path.join(OUT, name))
    else:
        print("skipping the legacy files: %s is missing (apt-get install python3-joblib)"
              % JOBLIB_TEST_DATA, file=sys.stderr)

    # Self-check: joblib reads back what it wrote (zstd through its decompressor).
    want = payload()
    for name in sorted(os.listdir(OUT)):
        if not name.startswith("payload_"):
            continue
        path = os.path.join(OUT, name)
        if name.endswith(".zst"):
            data = zstandard.ZstdDecompressor().decompress(open(path, "rb").read())
            got = joblib.load(io.BytesIO(data))
        else:
            got = joblib.load(path)
        for key, value in want.items():
            if not isinstance(value, np.ndarray):
                continue
            # joblib swaps big-endian arrays to native order when loading.
            assert got[key].dtype.newbyteorder("=") == value.dtype.newbyteorder("="), (name, key)
            if value.dtype == object:
                assert list(got[key]) == list(value), (name, key)
            else:
                assert np.array_equal(got[key], value), (name, key)
    print("wrote", len(os.listdir(OUT)), "files to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
