// PyTorch files read without PyTorch: `torch.save` archives (the zip format
// of torch >= 1.6 and the legacy format of `_use_new_zipfile_serialization=
// False` and torch < 1.6), through the restricted pickle machine.
//
// A zip archive holds `<dir>/data.pkl` (the pickle), `<dir>/data/<key>` (one
// raw storage per key), `<dir>/byteorder` and `<dir>/version`. A legacy file
// is a sequence of pickles: torch's magic number, the protocol version
// (1001), a sys_info dict, the object, then the list of storage keys, each of
// whose storages follows as an int64 element count and the raw bytes.
//
// Tensors are rebuilt from `torch._utils._rebuild_tensor_v2` (and
// `_rebuild_tensor`, `_rebuild_parameter`) with their offsets and strides,
// into contiguous C-order tensors; storages shared by several tensors are read
// once. float16 stays float16; bfloat16 is widened to float32 (exactly: the
// widening is a shift) with a note. Nothing is executed: any other global is
// refused by name; a pickled nn.Module class is refused with the advice to
// save its state_dict. TorchScript archives (`code/`, `constants.pkl`,
// `model.json`) are recognised and refused: tiffin does not run TorchScript.
//
// Thread safety: the functions are pure.
#ifndef TIFFIN_IMPORTERS_TORCH_TORCH_ARCHIVE_H_
#define TIFFIN_IMPORTERS_TORCH_TORCH_ARCHIVE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tiffin/status.h"
#include "tiffin/tensor.h"

namespace tiffin::torch_import {

// One tensor of an archive. `name` joins the dict keys (and list indices)
// that lead to it with dots: "fc1.weight", or "model.fc1.weight" inside a
// checkpoint dict.
struct TorchTensor {
  std::string name;
  Tensor tensor;               // contiguous, C order, native byte order
  std::string torch_dtype;     // as torch names it: "float32", "bfloat16", ...
  std::string storage_key;     // data/<key> (zip) or the legacy key
  int64_t storage_offset = 0;  // in elements
  bool is_parameter = false;   // rebuilt through _rebuild_parameter
};

// A value of the pickle that is not a tensor: "epoch" = "200".
struct TorchScalar {
  std::string name;
  std::string value;  // Python-like rendering
};

// A TorchScript module object of an archive's data.pkl: where it sits
// ("" for the root, "0", "0.fc") and its class ("__torch__.torch.nn.modules.
// linear.Linear", possibly with a ___torch_mangle_N component).
struct TorchModule {
  std::string path;
  std::string cls;
};

struct TorchArchive {
  std::string format;     // "torch.save zip" or "torch.save legacy"
  std::string record;     // zip: the archive's top directory ("archive", "linear", ...)
  std::string byteorder;  // "little" or "big" ("little" when the archive does not say)
  std::string version;    // zip: the `version` record; legacy: the protocol version
  int pickle_protocol = 0;
  int64_t storage_count = 0;
  std::vector<TorchTensor> tensors;  // in pickle order
  std::vector<TorchScalar> scalars;
  std::vector<std::string> notes;    // e.g. bfloat16 widened
  std::vector<TorchModule> modules;  // TorchScript only, in pickle order
  // True when the top object is a dict of tensors (a state_dict), not a
  // checkpoint holding one.
  bool is_state_dict = false;

  int64_t ParameterCount() const;
  int64_t ParameterBytes() const;
};

struct TorchReadOptions {
  size_t max_file_bytes = size_t{2} << 30;    // the whole file
  size_t max_tensor_bytes = size_t{4} << 30;  // one rebuilt tensor
  size_t max_total_bytes = size_t{8} << 30;   // all rebuilt tensors together
  size_t max_tensors = 1000000;               // tensors and scalars listed
};

enum class TorchFileKind {
  kNone,         // not a PyTorch file
  kSave,         // torch.save zip archive
  kLegacy,       // torch.save legacy (magic number) file
  kTorchScript,  // torch.jit.save archive (code/, constants.pkl or model.json)
};

// Recognises a PyTorch file from its bytes (a zip's entry names, or the
// legacy magic number). Never fails: damaged files are kNone.
TorchFileKind DetectTorchBytes(std::string_view bytes);

// DetectTorchBytes for a file, reading only what it needs (a zip's central
// directory, or the first bytes).
TorchFileKind DetectTorchFile(const std::string& path);

// True when `head` (the first bytes of a file) starts with the pickled
// legacy magic number.
bool LooksLikeTorchLegacy(std::string_view head);

// Reads a torch.save file (zip or legacy) held in `bytes`. Errors name the
// entry, the tensor or the global: kInvalidArgument for refused globals and
// pickled modules, kNotSupported for TorchScript and dtypes tiffin lacks,
// kDataLoss for damage, kResourceExhausted for limits.
Result<TorchArchive> ReadTorchBytes(std::string_view bytes, const TorchReadOptions& options = {});

// The module tree and tensors of a TorchScript archive's data.pkl: the
// objects of `__torch__` classes are read as plain data (their attribute
// dicts), never run. Tensors are named by module path ("0.weight").
Result<TorchArchive> ReadTorchScriptState(std::string_view bytes,
                                          const TorchReadOptions& options = {});

// ReadTorchBytes on a file; errors carry the path.
Result<TorchArchive> ReadTorchFile(const std::string& path, const TorchReadOptions& options = {});

// What `tiffin inspect` prints, and its JSON.
std::string TorchArchiveText(const TorchArchive& a, const std::string& path);
std::string TorchArchiveJson(const TorchArchive& a, const std::string& path);

// The message LoadModel gives for a state_dict: it has no architecture.
Status StateDictIsNotAModel(const std::string& path, const TorchArchive& a);

}  // namespace tiffin::torch_import

#endif  // TIFFIN_IMPORTERS_TORCH_TORCH_ARCHIVE_H_
