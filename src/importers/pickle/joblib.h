// Files written by joblib.dump (every format since joblib 0.8), and plain
// pickles, read into a PickleValue tree (see pickle.h) without Python.
//
// What a joblib file can be (formats.md section 2):
//   * joblib >= 0.10: one pickle stream, whole-stream compressed or not
//     (compression.h). Each numpy array is pickled as a
//     joblib.numpy_pickle.NumpyArrayWrapper object whose BUILD is followed,
//     inside the same stream but outside the pickle grammar, by
//       - if the wrapper's state has numpy_array_alignment_bytes (joblib >= 1.2)
//         and it is not None: one byte n, then n bytes of padding;
//       - the raw items, prod(shape) * itemsize bytes in C order, or in
//         Fortran order when the state's order is 'F';
//       - for object-dtype arrays instead: a complete nested pickle of the
//         array (protocol 2).
//   * joblib 0.9 (NDArrayWrapper): a plain pickle; each large array is in a
//     side file `filename`, a .npy file next to the main file.
//   * joblib <= 0.9 with compress (ZNDArrayWrapper): the main file is a "ZF"
//     file (b"ZF", the hex length left-justified to 19 characters, an optional
//     space, a zlib stream); each large array's bytes are in a side "ZF" file,
//     and the wrapper carries the _reconstruct arguments and the state.
//
// Every wrapper is replaced by the form numpy itself pickles (pickle
// protocol <= 4): an Object numpy._core.multiarray._reconstruct with BUILD
// state (1, shape, dtype, is_fortran, raw bytes), or for object arrays the
// nested pickle's own value. So numpy.h's NumpyArrayToTensor,
// NumpyObjectArrayItems and NumpyStructuredArrayFromPickle read joblib arrays
// with no special case, and byte order and Fortran layout are handled there.
//
// Untrusted input: every declared size (shape product times item size,
// padding, nested pickle, header lengths) is checked against the bytes left
// before anything is allocated; an array is named in errors by its position
// ("joblib array #3"), shape and dtype. Side files are looked up only in the
// main file's directory: a name with '/', '\\' or "..", or one that resolves
// (through a symlink) outside that directory, is refused with
// kInvalidArgument. Limits come from PickleOptions: max_bytes bounds the
// file, the decompressed stream, and all side files together. Errors are
// those of pickle.h and compression.h, plus kNotFound for a missing side
// file.
#ifndef TIFFIN_IMPORTERS_PICKLE_JOBLIB_H_
#define TIFFIN_IMPORTERS_PICKLE_JOBLIB_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "importers/pickle/pickle.h"
#include "tiffin/status.h"

namespace tiffin::pickle {

// The joblib wrapper classes. The readers below add these and
// kNumpyAllowedGlobals to the caller's allow-list themselves; they are data
// only (the wrappers never reach the caller: each becomes an array).
extern const std::vector<std::string> kJoblibAllowedGlobals;

struct JoblibFile {
  PickleValue root;
  // DetectCompression's name ("none", "zlib", "gzip", "bz2", "xz", "lzma",
  // "lz4", "zstd"), or "zfile" for a legacy "ZF" main file.
  std::string compression = "none";
  // The pickle protocol (ParsedPickle::protocol) of the main stream.
  int pickle_protocol = 0;
  // True when at least one array came from a NumpyArrayWrapper (joblib >= 0.10).
  bool numpy_arrays_inline = false;
  // Wrappers of all kinds replaced by arrays.
  int64_t n_arrays = 0;
  // The main stream names numpy's private module as numpy._core: numpy 2
  // wrote it (1.x writes numpy.core; the pickle machine canonicalises both,
  // so only the stream tells them apart).
  bool numpy2_paths = false;
  // Side files read (joblib < 0.10), as found in the directory, in stream order.
  std::vector<std::string> side_files;
};

// Reads the file at `path`: a joblib.dump file of any version or a plain
// pickle (a pickle without wrappers is a valid joblib file). `options`
// supplies the allow-list for the objects in the file (e.g. scikit-learn
// classes) and the limits; joblib's and numpy's globals are added. A caller's
// options.after_build still runs, for every object that is not a joblib
// wrapper. Side files are read from the directory of `path`. If a side file
// named in the pickle is missing and the name has joblib's form
// "<main file name>_<NN>.npy" (or ".npy.z") for some other main file name,
// "<this file's name>_<NN>.npy" is tried: joblib derived side file names from
// the main file's name, so a renamed dump keeps working.
Result<JoblibFile> ReadJoblibOrPickle(const std::string& path, const PickleOptions& options);

// The same for bytes already in memory. Side files are read from `base_dir`
// (an empty `base_dir` refuses them with kFailedPrecondition); `file_name` is
// the main file's name there, used only for the renamed-dump lookup above.
Result<JoblibFile> ReadJoblibOrPickleBytes(std::string_view bytes, const std::string& base_dir,
                                           const PickleOptions& options,
                                           std::string_view file_name = {});

}  // namespace tiffin::pickle

#endif  // TIFFIN_IMPORTERS_PICKLE_JOBLIB_H_
