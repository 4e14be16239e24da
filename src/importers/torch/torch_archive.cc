#include "importers/torch/torch_archive.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "core/json.h"
#include "importers/pickle/numpy.h"
#include "importers/pickle/pickle.h"
#include "io/zip_reader.h"

namespace tiffin::torch_import {
namespace {

using pickle::Global;
using pickle::PickleRef;
using pickle::PickleValue;
using Kind = PickleValue::Kind;

// The pickled int torch writes first in a legacy file, little-endian bytes
// (0x1950a86a20f9469cfc6c), as a LONG1 argument.
constexpr std::string_view kMagicBytes("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
constexpr int64_t kLegacyProtocolVersion = 1001;

// The module advice every refusal of code ends with.
constexpr const char* kSaveAdvice =
    "tiffin never runs pickled code: save the weights with torch.save(model.state_dict(), "
    "path), or export the model with torch.onnx.export";

// Globals the tensor rebuilders need (called through REDUCE).
const std::vector<std::string>& TorchAllowedGlobals() {
  static const std::vector<std::string> kAllowed = [] {
    std::vector<std::string> v = {
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "torch.nn.parameter.Parameter",
    };
    v.insert(v.end(), pickle::kNumpyAllowedGlobals.begin(), pickle::kNumpyAllowedGlobals.end());
    return v;
  }();
  return kAllowed;
}

// Globals the pickle machine evaluates itself (plain data).
bool IsNativeGlobal(const std::string& full) {
  static const std::set<std::string> kNative = {
      "collections.OrderedDict", "builtins.dict",  "builtins.list",
      "builtins.tuple",          "builtins.set",   "builtins.frozenset",
      "builtins.bytearray",      "builtins.bytes", "_codecs.encode",
      "copyreg._reconstructor",  "builtins.object"};
  return kNative.count(full) != 0;
}

bool IsStorageGlobal(const Global& g) {
  return (g.module == "torch" || g.module == "torch.storage" || g.module == "torch.cuda") &&
         g.name.size() > 7 && g.name.compare(g.name.size() - 7, 7, "Storage") == 0;
}

// A storage type: its element type as torch names it and as tiffin holds it.
struct StorageType {
  const char* torch_name;
  DType dtype;       // kUndefined: not readable
  size_t elem_size;  // bytes per element in the file
};

StorageType StorageTypeOf(const std::string& name) {
  static const std::map<std::string, StorageType> kTypes = {
      {"FloatStorage", {"float32", DType::kFloat32, 4}},
      {"DoubleStorage", {"float64", DType::kFloat64, 8}},
      {"HalfStorage", {"float16", DType::kFloat16, 2}},
      {"BFloat16Storage", {"bfloat16", DType::kFloat32, 2}},  // widened
      {"LongStorage", {"int64", DType::kInt64, 8}},
      {"IntStorage", {"int32", DType::kInt32, 4}},
      {"ShortStorage", {"int16", DType::kInt16, 2}},
      {"CharStorage", {"int8", DType::kInt8, 1}},
      {"ByteStorage", {"uint8", DType::kUInt8, 1}},
      {"BoolStorage", {"bool", DType::kBool, 1}},
      {"UntypedStorage", {"uint8", DType::kUInt8, 1}},
      {"ComplexFloatStorage", {"complex64", DType::kUndefined, 8}},
      {"ComplexDoubleStorage", {"complex128", DType::kUndefined, 16}},
      {"QInt8Storage", {"qint8", DType::kUndefined, 1}},
      {"QUInt8Storage", {"quint8", DType::kUndefined, 1}},
      {"QInt32Storage", {"qint32", DType::kUndefined, 4}},
      {"QUInt4x2Storage", {"quint4x2", DType::kUndefined, 1}},
      {"QUInt2x4Storage", {"quint2x4", DType::kUndefined, 1}},
  };
  auto it = kTypes.find(name);
  if (it == kTypes.end()) return {"", DType::kUndefined, 0};
  return it->second;
}

// One storage named by a persistent id. Legacy views point into a root.
struct StorageRef {
  std::string key;          // the key its bytes are stored under
  std::string type;         // "FloatStorage", ...
  std::string location;     // "cpu", "cuda:0", ...
  int64_t numel = 0;        // as the pid says
  int64_t elem_offset = 0;  // legacy view: offset into the root storage
};

// ---- tensors ----------------------------------------------------------------

Result<int64_t> IntArg(const PickleValue& v, const std::string& what) {
  if (!v.is_int()) return DataLoss(what + " is a " + v.TypeName() + ", not an int");
  return v.int_value;
}

Result<std::vector<int64_t>> IntTuple(const PickleValue& v, const std::string& what) {
  if (!v.is_tuple() && !v.is_list())
    return DataLoss(what + " is a " + v.TypeName() + ", not a tuple");
  if (v.items.size() > 64) return NotSupported(what + " has more than 64 dimensions");
  std::vector<int64_t> out;
  for (const auto& it : v.items) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t x, IntArg(*it, what));
    out.push_back(x);
  }
  return out;
}

void SwapBytes(char* p, size_t n) { std::reverse(p, p + n); }

// Reads the tensors of a parsed pickle once its storages are known.
class Rebuilder {
 public:
  Rebuilder(const TorchReadOptions& options, bool big_endian,
            const std::unordered_map<const PickleValue*, StorageRef>* storages,
            std::function<Result<std::string_view>(const std::string& key)> storage_bytes,
            TorchArchive* out, size_t file_size, bool torchscript = false)
      : opt_(options),
        torchscript_(torchscript),
        big_endian_(big_endian),
        storages_(storages),
        storage_bytes_(std::move(storage_bytes)),
        out_(out),
        file_size_(file_size) {}

  Status Walk(const PickleValue& v, const std::string& name, int depth) {
    if (++visited_ > opt_.max_tensors * 4 + 1000 ||
        out_->tensors.size() + out_->scalars.size() > opt_.max_tensors) {
      return ResourceExhausted("the file holds more than " + std::to_string(opt_.max_tensors) +
                               " values");
    }
    if (depth > 200)
      return ResourceExhausted("values nest deeper than 200 levels at '" + name + "'");
    auto join = [&](const std::string& key) { return name.empty() ? key : name + "." + key; };
    switch (v.kind) {
      case Kind::kDict:
        for (const auto& [k, x] : v.entries) {
          std::string key = k->is_str()   ? k->str_value
                            : k->is_int() ? std::to_string(k->int_value)
                                          : k->DebugString(40);
          TIFFIN_RETURN_IF_ERROR(Walk(*x, join(key), depth + 1));
        }
        return Status::Ok();
      case Kind::kList:
      case Kind::kTuple:
        if (v.items.empty()) return AddScalar(name, v.is_list() ? "[]" : "()");
        for (size_t i = 0; i < v.items.size(); ++i)
          TIFFIN_RETURN_IF_ERROR(Walk(*v.items[i], join(std::to_string(i)), depth + 1));
        return Status::Ok();
      case Kind::kObject: {
        if (torchscript_ && v.global.module.rfind("__torch__", 0) == 0) {
          // A TorchScript module: its attributes, as data.
          out_->modules.push_back({name, v.global.FullName()});
          if (v.state == nullptr) return Status::Ok();
          if (!v.state->is_dict())
            return NotSupported("TorchScript object '" + name + "' has a non-dict state");
          return Walk(*v.state, name, depth + 1);
        }
        bool is_param = false;
        auto t = RebuildAny(v, name, &is_param);
        if (!t.ok()) return t.status();
        if (t->defined()) return Status::Ok();
        return AddScalar(name, v.DebugString(80));
      }
      default:
        return AddScalar(name, v.DebugString(80));
    }
  }

 private:
  Status AddScalar(const std::string& name, std::string value) {
    out_->scalars.push_back({name.empty() ? "(top)" : name, std::move(value)});
    return Status::Ok();
  }

  // Rebuilds `v` when it is a tensor, a Parameter or a numpy array and
  // records it under `name`; an undefined Tensor for other objects.
  Result<Tensor> RebuildAny(const PickleValue& v, const std::string& name, bool* is_param) {
    const std::string cls = v.global.FullName();
    if (cls == "torch._utils._rebuild_parameter" ||
        cls == "torch._utils._rebuild_parameter_with_state" ||
        cls == "torch.nn.parameter.Parameter") {
      if (v.items.empty() || !v.items[0]->is_object())
        return DataLoss("'" + name + "': " + cls + " without a tensor argument");
      TorchTensor t;
      TIFFIN_RETURN_IF_ERROR(RebuildTensor(*v.items[0], name, &t));
      t.is_parameter = true;
      *is_param = true;
      Tensor result = t.tensor;
      out_->tensors.push_back(std::move(t));
      return result;
    }
    if (cls == "torch._utils._rebuild_tensor_v2" || cls == "torch._utils._rebuild_tensor") {
      TorchTensor t;
      TIFFIN_RETURN_IF_ERROR(RebuildTensor(v, name, &t));
      Tensor result = t.tensor;
      out_->tensors.push_back(std::move(t));
      return result;
    }
    if (cls.rfind("numpy.", 0) == 0) {
      auto a = pickle::NumpyArrayToTensor(v);
      if (!a.ok()) return Tensor();
      TorchTensor t;
      t.name = name;
      t.tensor = *a;
      t.torch_dtype = "numpy " + std::string(DTypeName(a->dtype()));
      out_->tensors.push_back(t);
      return *a;
    }
    return Tensor();
  }

  Status RebuildTensor(const PickleValue& v, const std::string& name, TorchTensor* t) {
    const std::string cls = v.global.FullName();
    if (cls != "torch._utils._rebuild_tensor_v2" && cls != "torch._utils._rebuild_tensor") {
      return NotSupported("'" + name + "' is rebuilt by " + cls +
                          ", which tiffin does not read (only plain dense tensors)");
    }
    if (v.items.size() < 4)
      return DataLoss("'" + name + "': " + cls + " needs at least 4 arguments, got " +
                      std::to_string(v.items.size()));
    auto sit = storages_->find(v.items[0].get());
    if (sit == storages_->end()) {
      return DataLoss("'" + name + "': the first argument of " + cls + " is a " +
                      v.items[0]->TypeName() + ", not a storage");
    }
    const StorageRef& s = sit->second;
    const StorageType type = StorageTypeOf(s.type);
    if (type.elem_size == 0) {
      return NotSupported("tensor '" + name + "' is stored as torch." + s.type +
                          ", which tiffin does not know");
    }
    if (type.dtype == DType::kUndefined) {
      return NotSupported("tensor '" + name + "' is " + type.torch_name + " (torch." + s.type +
                          "); tiffin has no " + type.torch_name +
                          " dtype: convert it with .float() before saving, or export to ONNX");
    }
    TIFFIN_ASSIGN_OR_RETURN(int64_t offset, IntArg(*v.items[1], "'" + name + "' storage offset"));
    TIFFIN_ASSIGN_OR_RETURN(Shape shape, IntTuple(*v.items[2], "'" + name + "' size"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> stride,
                            IntTuple(*v.items[3], "'" + name + "' stride"));
    if (stride.size() != shape.size()) {
      return DataLoss("'" + name + "': size " + ShapeToString(shape) + " and stride " +
                      ShapeToString(stride) + " differ in rank");
    }
    TIFFIN_ASSIGN_OR_RETURN(int64_t count, CheckedElementCount(shape));
    if (offset < 0) return DataLoss("'" + name + "': negative storage offset");
    // The last element the view reaches, checked against the storage.
    __int128 last = offset;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (stride[i] < 0) return DataLoss("'" + name + "': negative stride");
      if (shape[i] > 0) last += static_cast<__int128>(shape[i] - 1) * stride[i];
    }
    if (count > 0 && last >= s.numel) {
      return DataLoss("'" + name + "': the view (offset " + std::to_string(offset) + ", size " +
                      ShapeToString(shape) + ", stride " + ShapeToString(stride) +
                      ") reaches past its storage of " + std::to_string(s.numel) + " elements");
    }
    const size_t out_size = DTypeSize(type.dtype);
    if (static_cast<unsigned __int128>(count) * out_size > opt_.max_tensor_bytes) {
      return ResourceExhausted("tensor '" + name + "' " + ShapeToString(shape) +
                               " needs more than " + std::to_string(opt_.max_tensor_bytes) +
                               " bytes");
    }
    total_bytes_ += static_cast<size_t>(count) * out_size;
    if (total_bytes_ > opt_.max_total_bytes) {
      return ResourceExhausted("the tensors of this file need more than " +
                               std::to_string(opt_.max_total_bytes) + " bytes");
    }
    // Views may repeat storage elements (expand: stride 0), but a file
    // whose tensors are far larger than the file itself is a bomb.
    if (total_bytes_ > 16 * file_size_ + (size_t{64} << 20)) {
      return ResourceExhausted("tensor '" + name + "' " + ShapeToString(shape) +
                               ": the rebuilt tensors would be more than 16 times the file's size "
                               "(views repeating a small storage); refusing");
    }
    TIFFIN_ASSIGN_OR_RETURN(std::string_view raw, storage_bytes_(s.key));
    // The storage's bytes: numel elements from the view's base.
    const unsigned __int128 need =
        (static_cast<unsigned __int128>(s.elem_offset) + static_cast<uint64_t>(s.numel)) *
        type.elem_size;
    if (need > raw.size()) {
      return DataLoss("tensor '" + name + "': storage '" + s.key + "' holds " +
                      std::to_string(raw.size()) + " bytes, fewer than its " +
                      std::to_string(s.numel) + " " + type.torch_name + " elements need");
    }
    const char* base = raw.data() + static_cast<size_t>(s.elem_offset) * type.elem_size;
    TIFFIN_ASSIGN_OR_RETURN(Tensor tensor,
                            Tensor::Allocate(type.dtype, shape, opt_.max_tensor_bytes));
    char* dst = static_cast<char*>(tensor.raw_data());
    const bool bf16 = std::string_view(type.torch_name) == "bfloat16";
    // Walk the view in C order with an index counter.
    std::vector<int64_t> idx(shape.size(), 0);
    for (int64_t n = 0; n < count; ++n) {
      int64_t pos = offset;
      for (size_t d = 0; d < shape.size(); ++d) pos += idx[d] * stride[d];
      char elem[16];
      std::memcpy(elem, base + static_cast<size_t>(pos) * type.elem_size, type.elem_size);
      if (big_endian_) SwapBytes(elem, type.elem_size);
      if (bf16) {
        uint16_t bits;
        std::memcpy(&bits, elem, 2);
        const uint32_t wide = static_cast<uint32_t>(bits) << 16;
        std::memcpy(dst + static_cast<size_t>(n) * 4, &wide, 4);
      } else if (type.dtype == DType::kBool) {
        dst[n] = elem[0] != 0;
      } else {
        std::memcpy(dst + static_cast<size_t>(n) * out_size, elem, out_size);
      }
      for (size_t d = shape.size(); d-- > 0;) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
    if (bf16 && !noted_bf16_) {
      out_->notes.push_back(
          "bfloat16 tensors are widened to float32 (exactly: every bfloat16 value is a float32)");
      noted_bf16_ = true;
    }
    if (s.location != "cpu" && !s.location.empty() && noted_locations_.insert(s.location).second) {
      out_->notes.push_back("storages saved on '" + s.location + "' are read onto the CPU");
    }
    t->name = name.empty() ? "(top)" : name;
    t->tensor = std::move(tensor);
    t->torch_dtype = type.torch_name;
    t->storage_key = s.key;
    t->storage_offset = offset;
    return Status::Ok();
  }

  const TorchReadOptions& opt_;
  bool torchscript_;
  bool big_endian_;
  const std::unordered_map<const PickleValue*, StorageRef>* storages_;
  std::function<Result<std::string_view>(const std::string& key)> storage_bytes_;
  TorchArchive* out_;
  size_t visited_ = 0;
  size_t total_bytes_ = 0;
  size_t file_size_ = 0;
  bool noted_bf16_ = false;
  std::set<std::string> noted_locations_;
};

// Refuses, before running the machine, a pickle that names a global tiffin
// does not rebuild: a pickled module class gets its own advice.
Status CheckGlobals(std::string_view pkl, const std::string& what, bool torchscript) {
  TIFFIN_ASSIGN_OR_RETURN(std::vector<Global> globals, pickle::ListGlobals(pkl));
  const auto& allowed = TorchAllowedGlobals();
  for (const Global& g : globals) {
    if (g.module == "?") continue;  // the machine itself refuses what it cannot name
    const std::string full = g.FullName();
    std::string danger = pickle::DangerousGlobalReason(g);
    if (!danger.empty()) {
      return InvalidArgument(what + " names " + full + " (" + danger +
                             "); refusing the file, nothing was run");
    }
    if (IsNativeGlobal(full) || IsStorageGlobal(g)) continue;
    // TorchScript objects, and its list builders (build_intlist, ...): data.
    if (torchscript && (g.module.rfind("__torch__", 0) == 0 || g.module == "torch.jit._pickle"))
      continue;
    if (std::find(allowed.begin(), allowed.end(), full) != allowed.end()) continue;
    if (g.module.rfind("torch.nn.", 0) == 0 || g.module == "__main__" ||
        g.module.rfind("__torch__", 0) == 0 || (!g.name.empty() && std::isupper(g.name[0]))) {
      return InvalidArgument(what + ": this file pickles the class " + full +
                             " (a whole object, not only its tensors); " + kSaveAdvice);
    }
    return InvalidArgument(what + " names " + full +
                           ", which is not a tensor, storage or plain container; " + kSaveAdvice);
  }
  return Status::Ok();
}

std::string StripSpace(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Parses a data pickle with storages collected through persistent_load.
struct ParsedData {
  pickle::ParsedPickle parsed;
  std::unordered_map<const PickleValue*, StorageRef> storages;
  std::vector<std::string> keys;  // first-seen order
};

Result<ParsedData> ParseData(std::string_view pkl, const std::string& what, bool legacy,
                             bool torchscript = false) {
  TIFFIN_RETURN_IF_ERROR(CheckGlobals(pkl, what, torchscript));
  auto data = std::make_unique<ParsedData>();
  std::map<std::string, PickleRef> by_key;
  ParsedData* d = data.get();
  pickle::PickleOptions o;
  o.allowed_globals = TorchAllowedGlobals();
  if (torchscript) {
    o.allowed_globals.push_back("__torch__.*");
    o.allowed_globals.push_back("torch.jit._pickle.*");
  }
  o.keep_dict_state = true;
  o.persistent_load = [d, &by_key, legacy](const PickleValue& pid) -> Result<PickleRef> {
    if (!pid.is_tuple() || pid.items.empty() || !pid.items[0]->is_str())
      return DataLoss("persistent id " + pid.DebugString(60) + " is not a ('storage', ...) tuple");
    const std::string& tag = pid.items[0]->str_value;
    if (tag == "module" && pid.items.size() >= 2 && pid.items[1]->is_global()) {
      return InvalidArgument("this file pickles the class " + pid.items[1]->global.FullName() +
                             " (a whole module, with its source code); " + kSaveAdvice);
    }
    if (tag != "storage" || pid.items.size() < 5) {
      return NotSupported("persistent id " + pid.DebugString(60) +
                          " is not a storage; tiffin reads tensors only");
    }
    const auto& it = pid.items;
    if (!it[1]->is_global() || !IsStorageGlobal(it[1]->global) || !it[2]->is_str() ||
        !it[3]->is_str() || !it[4]->is_int() || it[4]->int_value < 0) {
      return DataLoss("storage persistent id " + pid.DebugString(80) + " is malformed");
    }
    StorageRef s;
    s.type = it[1]->global.name;
    s.key = it[2]->str_value;
    s.location = it[3]->str_value;
    s.numel = it[4]->int_value;
    std::string ref_key = s.key;
    if (legacy && it.size() >= 6 && !it[5]->is_none()) {
      // (view_key, offset, view_size): a view into the root storage.
      const PickleValue& vm = *it[5];
      if (!vm.is_tuple() || vm.items.size() != 3 || !vm.items[0]->is_str() ||
          !vm.items[1]->is_int() || !vm.items[2]->is_int() || vm.items[1]->int_value < 0 ||
          vm.items[2]->int_value < 0 || vm.items[1]->int_value > s.numel ||
          vm.items[2]->int_value > s.numel - vm.items[1]->int_value) {
        return DataLoss("storage view " + vm.DebugString(60) + " is malformed");
      }
      s.elem_offset = vm.items[1]->int_value;
      s.numel = vm.items[2]->int_value;
      ref_key = vm.items[0]->str_value;
    }
    auto found = by_key.find(ref_key);
    if (found != by_key.end()) return found->second;
    auto v = std::make_shared<PickleValue>();
    v->kind = Kind::kObject;
    v->global = it[1]->global;
    v->built_by = "persistent_load";
    d->storages.emplace(v.get(), s);
    if (std::find(d->keys.begin(), d->keys.end(), s.key) == d->keys.end()) d->keys.push_back(s.key);
    by_key.emplace(ref_key, v);
    return PickleRef(v);
  };
  auto parsed = pickle::ParsePickleStream(pkl, o);
  if (!parsed.ok()) return parsed.status().WithContext(what);
  d->parsed = std::move(*parsed);
  return std::move(*data);
}

bool IsTensorLeafDict(const PickleValue& v) {
  if (!v.is_dict() || v.entries.empty()) return false;
  for (const auto& [k, x] : v.entries) {
    if (!k->is_str() || !x->is_object()) return false;
  }
  return true;
}

Result<TorchArchive> ReadZipArchive(std::string_view bytes, const TorchReadOptions& options,
                                    bool torchscript = false) {
  io::ZipReader zip;
  TIFFIN_RETURN_IF_ERROR(zip.Open(bytes));
  std::string record;
  for (const auto& n : zip.names()) {
    size_t slash = n.find('/');
    if (slash != std::string::npos && n.substr(slash + 1) == "data.pkl") {
      if (!record.empty()) {
        return InvalidArgument("the archive holds two records ('" + record + "/data.pkl' and '" +
                               n + "'); torch.save writes one");
      }
      record = n.substr(0, slash);
    }
  }
  if (record.empty()) {
    return InvalidArgument(
        "this zip archive has no <dir>/data.pkl: it is not a torch.save archive");
  }
  const std::string prefix = record + "/";
  if (!torchscript &&
      (zip.Has(prefix + "constants.pkl") || zip.Has(prefix + "code/__torch__.py"))) {
    return NotSupported("this is a TorchScript archive (torch.jit.save), not a torch.save file");
  }
  TorchArchive a;
  a.format = "torch.save zip";
  a.record = record;
  a.byteorder = "little";
  if (zip.Has(prefix + "byteorder")) {
    TIFFIN_ASSIGN_OR_RETURN(std::string bo,
                            zip.Read(prefix + "byteorder", 64, /*allow_deflate=*/false));
    bo = StripSpace(bo);
    if (bo != "little" && bo != "big")
      return DataLoss("record '" + prefix + "byteorder' says '" + bo + "', not little or big");
    a.byteorder = bo;
  }
  if (zip.Has(prefix + "version")) {
    TIFFIN_ASSIGN_OR_RETURN(std::string ver,
                            zip.Read(prefix + "version", 64, /*allow_deflate=*/false));
    a.version = StripSpace(ver);
  }
  TIFFIN_ASSIGN_OR_RETURN(std::string pkl, zip.Read(prefix + "data.pkl", options.max_file_bytes,
                                                    /*allow_deflate=*/false));
  TIFFIN_ASSIGN_OR_RETURN(ParsedData d, ParseData(pkl, prefix + "data.pkl", false, torchscript));
  a.pickle_protocol = d.parsed.protocol;
  a.storage_count = static_cast<int64_t>(d.keys.size());
  std::map<std::string, std::string> cache;
  auto storage_bytes = [&](const std::string& key) -> Result<std::string_view> {
    auto it = cache.find(key);
    if (it == cache.end()) {
      const std::string entry = prefix + "data/" + key;
      if (!zip.Has(entry)) return DataLoss("storage '" + key + "': the archive has no " + entry);
      TIFFIN_ASSIGN_OR_RETURN(std::string b,
                              zip.Read(entry, options.max_file_bytes, /*allow_deflate=*/false));
      it = cache.emplace(key, std::move(b)).first;
    }
    return std::string_view(it->second);
  };
  Rebuilder r(options, a.byteorder == "big", &d.storages, storage_bytes, &a, bytes.size(),
              torchscript);
  TIFFIN_RETURN_IF_ERROR(r.Walk(d.parsed.value, "", 0));
  a.is_state_dict = IsTensorLeafDict(d.parsed.value);
  if (torchscript) a.format = "TorchScript archive";
  return a;
}

Result<TorchArchive> ReadLegacy(std::string_view bytes, const TorchReadOptions& options) {
  pickle::PickleOptions plain;
  size_t pos = 0;
  auto next = [&](const char* what) -> Result<pickle::ParsedPickle> {
    auto p = pickle::ParsePickleStream(bytes.substr(pos), plain);
    if (!p.ok()) return p.status().WithContext(std::string("legacy torch file: ") + what);
    pos += p->end_offset;
    return p;
  };
  TIFFIN_ASSIGN_OR_RETURN(pickle::ParsedPickle magic, next("magic number"));
  if (!(magic.value.kind == Kind::kInt && magic.value.is_big_int &&
        magic.value.big_int == kMagicBytes)) {
    return InvalidArgument(
        "not a legacy torch file (the first pickle is not torch's magic number)");
  }
  TIFFIN_ASSIGN_OR_RETURN(pickle::ParsedPickle proto, next("protocol version"));
  if (!proto.value.is_int() || proto.value.int_value != kLegacyProtocolVersion) {
    return NotSupported("legacy torch file: protocol version " + proto.value.DebugString(40) +
                        ", tiffin reads " + std::to_string(kLegacyProtocolVersion));
  }
  TIFFIN_ASSIGN_OR_RETURN(pickle::ParsedPickle sys_info, next("sys_info"));
  TorchArchive a;
  a.format = "torch.save legacy";
  a.version = std::to_string(kLegacyProtocolVersion);
  a.byteorder = "little";
  if (const PickleValue* le = sys_info.value.Find("little_endian");
      le != nullptr && le->kind == Kind::kBool && !le->bool_value) {
    a.byteorder = "big";
  }
  TIFFIN_ASSIGN_OR_RETURN(ParsedData d, ParseData(bytes.substr(pos), "legacy torch file", true));
  pos += d.parsed.end_offset;
  a.pickle_protocol = d.parsed.protocol;
  TIFFIN_ASSIGN_OR_RETURN(pickle::ParsedPickle keys, next("storage keys"));
  if (!keys.value.is_list()) return DataLoss("legacy torch file: the storage keys are not a list");
  // The storages follow in the keys' order: int64 element count, raw bytes.
  std::map<std::string, StorageType> types;
  for (const auto& [v, s] : d.storages) types[s.key] = StorageTypeOf(s.type);
  std::map<std::string, std::string_view> data;
  for (const auto& k : keys.value.items) {
    if (!k->is_str()) return DataLoss("legacy torch file: a storage key is not a string");
    auto t = types.find(k->str_value);
    if (t == types.end() || t->second.elem_size == 0) {
      return DataLoss("legacy torch file: storage '" + k->str_value +
                      "' is listed but no tensor names its type");
    }
    if (bytes.size() - pos < 8)
      return DataLoss("legacy torch file: truncated before storage '" + k->str_value + "'");
    int64_t numel;
    std::memcpy(&numel, bytes.data() + pos, 8);
    if (a.byteorder == "big") SwapBytes(reinterpret_cast<char*>(&numel), 8);
    pos += 8;
    if (numel < 0 || static_cast<uint64_t>(numel) > (bytes.size() - pos) / t->second.elem_size) {
      return DataLoss("legacy torch file: storage '" + k->str_value + "' says " +
                      std::to_string(numel) + " elements, more than the file holds");
    }
    const size_t n = static_cast<size_t>(numel) * t->second.elem_size;
    data[k->str_value] = bytes.substr(pos, n);
    pos += n;
  }
  a.storage_count = static_cast<int64_t>(data.size());
  auto storage_bytes = [&](const std::string& key) -> Result<std::string_view> {
    auto it = data.find(key);
    if (it == data.end()) return DataLoss("legacy torch file: storage '" + key + "' is missing");
    return it->second;
  };
  Rebuilder r(options, a.byteorder == "big", &d.storages, storage_bytes, &a, bytes.size());
  TIFFIN_RETURN_IF_ERROR(r.Walk(d.parsed.value, "", 0));
  a.is_state_dict = IsTensorLeafDict(d.parsed.value);
  return a;
}

// The class a TorchScript archive's data.pkl rebuilds, e.g. __torch__.Foo.
std::string TorchScriptClass(std::string_view bytes) {
  io::ZipReader zip;
  if (!zip.Open(bytes).ok()) return "";
  for (const auto& n : zip.names()) {
    size_t slash = n.find('/');
    if (slash == std::string::npos || n.substr(slash + 1) != "data.pkl") continue;
    auto pkl = zip.Read(n, size_t{64} << 20, /*allow_deflate=*/false);
    if (!pkl.ok()) return "";
    auto globals = pickle::ListGlobals(*pkl);
    if (!globals.ok()) return "";
    for (const auto& g : *globals)
      if (g.module.rfind("__torch__", 0) == 0) return g.FullName();
  }
  return "";
}

std::string Dims(const Shape& s) { return ShapeToString(s); }

}  // namespace

int64_t TorchArchive::ParameterCount() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.tensor.size();
  return n;
}

int64_t TorchArchive::ParameterBytes() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += static_cast<int64_t>(t.tensor.nbytes());
  return n;
}

bool LooksLikeTorchLegacy(std::string_view head) {
  return head.size() >= 14 && static_cast<unsigned char>(head[0]) == 0x80 &&
         static_cast<unsigned char>(head[1]) >= 2 && static_cast<unsigned char>(head[1]) <= 5 &&
         static_cast<unsigned char>(head[2]) == 0x8a && head[3] == 10 &&
         head.substr(4, 10) == kMagicBytes;
}

TorchFileKind DetectTorchBytes(std::string_view bytes) {
  if (LooksLikeTorchLegacy(bytes)) return TorchFileKind::kLegacy;
  if (bytes.substr(0, 4) != std::string_view("PK\x03\x04", 4)) return TorchFileKind::kNone;
  io::ZipReader zip;
  if (!zip.Open(bytes).ok()) return TorchFileKind::kNone;
  bool data_pkl = false, script = false;
  for (const auto& n : zip.names()) {
    size_t slash = n.find('/');
    if (slash == std::string::npos) continue;
    std::string_view rest = std::string_view(n).substr(slash + 1);
    if (rest == "data.pkl") data_pkl = true;
    if (rest == "constants.pkl" || rest == "model.json" || rest.rfind("code/", 0) == 0)
      script = true;
  }
  if (script) return TorchFileKind::kTorchScript;
  return data_pkl ? TorchFileKind::kSave : TorchFileKind::kNone;
}

TorchFileKind DetectTorchFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return TorchFileKind::kNone;
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (LooksLikeTorchLegacy(head)) return TorchFileKind::kLegacy;
  if (head.substr(0, 4) != std::string_view("PK\x03\x04", 4)) return TorchFileKind::kNone;
  auto names = io::ListZipFileNames(path);
  if (!names.ok()) return TorchFileKind::kNone;
  bool data_pkl = false, script = false;
  for (const std::string& name_str : *names) {
    std::string_view name(name_str);
    size_t slash = name.find('/');
    if (slash == std::string_view::npos) continue;
    std::string_view rest = name.substr(slash + 1);
    if (rest == "data.pkl") data_pkl = true;
    if (rest == "constants.pkl" || rest == "model.json" || rest.rfind("code/", 0) == 0)
      script = true;
  }
  if (script) return TorchFileKind::kTorchScript;
  return data_pkl ? TorchFileKind::kSave : TorchFileKind::kNone;
}

Result<TorchArchive> ReadTorchBytes(std::string_view bytes, const TorchReadOptions& options) {
  if (bytes.size() > options.max_file_bytes) {
    return ResourceExhausted("the file is " + std::to_string(bytes.size()) +
                             " bytes, more than the limit of " +
                             std::to_string(options.max_file_bytes));
  }
  switch (DetectTorchBytes(bytes)) {
    case TorchFileKind::kLegacy:
      return ReadLegacy(bytes, options);
    case TorchFileKind::kSave:
      return ReadZipArchive(bytes, options);
    case TorchFileKind::kTorchScript: {
      const std::string cls = TorchScriptClass(bytes);
      return NotSupported(
          "this is a TorchScript archive (torch.jit.save" +
          (cls.empty() ? std::string(", old format with model.json") : ", module class " + cls) +
          "): it holds TorchScript code, which tiffin does not run. Export the model with "
          "torch.onnx.export, or save its weights with torch.save(model.state_dict(), path)");
    }
    case TorchFileKind::kNone:
      break;
  }
  if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    io::ZipReader zip;
    TIFFIN_RETURN_IF_ERROR(zip.Open(bytes));
    return InvalidArgument(
        "this zip archive has no <dir>/data.pkl: it is not a torch.save archive");
  }
  return InvalidArgument(
      "not a PyTorch file: neither a torch.save zip archive (PK header) nor a legacy torch.save "
      "file (pickled magic number)");
}

Result<TorchArchive> ReadTorchScriptState(std::string_view bytes, const TorchReadOptions& options) {
  if (bytes.size() > options.max_file_bytes) {
    return ResourceExhausted("the file is " + std::to_string(bytes.size()) +
                             " bytes, more than the limit of " +
                             std::to_string(options.max_file_bytes));
  }
  return ReadZipArchive(bytes, options, true);
}

Result<TorchArchive> ReadTorchFile(const std::string& path, const TorchReadOptions& options) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return NotFound("cannot open '" + path + "'");
  const std::streamoff size = in.tellg();
  if (size < 0) return DataLoss(path + ": cannot read its size");
  if (static_cast<uint64_t>(size) > options.max_file_bytes) {
    return ResourceExhausted(path + " is " + std::to_string(size) +
                             " bytes, more than the limit of " +
                             std::to_string(options.max_file_bytes));
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  if (in.gcount() != size) return DataLoss(path + ": short read");
  auto a = ReadTorchBytes(bytes, options);
  if (!a.ok()) return a.status().WithContext(path);
  return a;
}

std::string TorchArchiveText(const TorchArchive& a, const std::string& path) {
  std::string s;
  char buf[512];
  s += "model       " + path + "\n";
  s += "format      PyTorch " + a.format +
       (a.record.empty() ? "" : " (record '" + a.record + "')") +
       (a.version.empty() ? "" : ", version " + a.version) + ", byteorder " + a.byteorder + "\n";
  s += "pickle      protocol " + std::to_string(a.pickle_protocol) + ", " +
       std::to_string(a.storage_count) + " storages\n";
  s += std::string("contents    ") +
       (a.is_state_dict ? "a state_dict (parameter name -> tensor)"
                        : "a dict or container holding tensors (e.g. a checkpoint)") +
       "\n";
  s += "tensors (" + std::to_string(a.tensors.size()) + ")\n";
  size_t width = 24;
  for (const auto& t : a.tensors) width = std::max(width, std::min<size_t>(t.name.size(), 60));
  for (const auto& t : a.tensors) {
    std::snprintf(buf, sizeof buf, "  %-*s %-9s %-16s %lld%s\n", static_cast<int>(width),
                  t.name.c_str(), t.torch_dtype.c_str(), Dims(t.tensor.shape()).c_str(),
                  static_cast<long long>(t.tensor.size()), t.is_parameter ? "  (Parameter)" : "");
    s += buf;
  }
  if (!a.scalars.empty()) {
    s += "other values (" + std::to_string(a.scalars.size()) + ")\n";
    const size_t shown = std::min<size_t>(a.scalars.size(), 20);
    for (size_t i = 0; i < shown; ++i)
      s += "  " + a.scalars[i].name + " = " + a.scalars[i].value + "\n";
    if (shown < a.scalars.size())
      s += "  ... and " + std::to_string(a.scalars.size() - shown) + " more (see --json)\n";
  }
  std::snprintf(buf, sizeof buf, "parameters  %lld (%lld bytes, all tensors)\n",
                static_cast<long long>(a.ParameterCount()),
                static_cast<long long>(a.ParameterBytes()));
  s += buf;
  for (const auto& n : a.notes) s += "note        " + n + "\n";
  if (a.is_state_dict) {
    s += "note        a state_dict has no architecture: it cannot predict on its own. Compare it "
         "with a model using 'tiffin diff', or export the model to ONNX\n";
  }
  return s;
}

std::string TorchArchiveJson(const TorchArchive& a, const std::string& path) {
  std::string s = "{\"path\":" + JsonQuote(path) +
                  ",\"format\":" + JsonQuote("PyTorch " + a.format) +
                  ",\"record\":" + JsonQuote(a.record) + ",\"version\":" + JsonQuote(a.version) +
                  ",\"byteorder\":" + JsonQuote(a.byteorder) +
                  ",\"pickle_protocol\":" + std::to_string(a.pickle_protocol) +
                  ",\"storages\":" + std::to_string(a.storage_count) +
                  ",\"state_dict\":" + (a.is_state_dict ? "true" : "false") + ",\"tensors\":[";
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& t = a.tensors[i];
    s += std::string(i ? "," : "") + "{\"name\":" + JsonQuote(t.name) +
         ",\"dtype\":" + JsonQuote(std::string(DTypeName(t.tensor.dtype()))) +
         ",\"torch_dtype\":" + JsonQuote(t.torch_dtype) + ",\"shape\":" + Dims(t.tensor.shape()) +
         ",\"count\":" + std::to_string(t.tensor.size()) +
         ",\"parameter\":" + (t.is_parameter ? "true" : "false") + "}";
  }
  s += "],\"values\":[";
  for (size_t i = 0; i < a.scalars.size(); ++i) {
    s += std::string(i ? "," : "") + "{\"name\":" + JsonQuote(a.scalars[i].name) +
         ",\"value\":" + JsonQuote(a.scalars[i].value) + "}";
  }
  s += "],\"parameter_count\":" + std::to_string(a.ParameterCount()) +
       ",\"parameter_bytes\":" + std::to_string(a.ParameterBytes()) + ",\"notes\":[";
  for (size_t i = 0; i < a.notes.size(); ++i)
    s += std::string(i ? "," : "") + JsonQuote(a.notes[i]);
  return s + "]}";
}

Status StateDictIsNotAModel(const std::string& path, const TorchArchive& a) {
  return InvalidArgument(
      path + ": this PyTorch file holds " + std::to_string(a.tensors.size()) + " tensors (" +
      (a.is_state_dict ? "a state_dict" : "a checkpoint") +
      ") but no architecture, so it cannot predict on its own: use 'tiffin inspect' to list them "
      "or 'tiffin diff' to compare them with a model, or export the model to ONNX "
      "(torch.onnx.export) and load that");
}

}  // namespace tiffin::torch_import
