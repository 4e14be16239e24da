#include "importers/onnx/tensor_proto.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace tiffin::onnx_import {

namespace {

std::string Label(const onnx::TensorProto& p) { return "tensor '" + p.name() + "'"; }

// Copies typed repeated fields into the tensor, checking the count.
template <typename Dst, typename Src>
Status CopyTyped(const onnx::TensorProto& p, const Src& field, Tensor* t) {
  if (static_cast<int64_t>(field.size()) != t->size()) {
    return DataLoss(Label(p) + ": holds " + std::to_string(field.size()) +
                    " values, but its dims " + ShapeToString(t->shape()) + " need " +
                    std::to_string(t->size()));
  }
  Dst* d = static_cast<Dst*>(t->raw_data());
  for (int64_t i = 0; i < t->size(); ++i) d[i] = static_cast<Dst>(field.Get(static_cast<int>(i)));
  return Status::Ok();
}

Result<std::string> ReadExternal(const onnx::TensorProto& p, ExternalData* external,
                                 const LoadOptions& options, size_t want_bytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : p.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset" || kv.key() == "length") {
      char* end = nullptr;
      long long v = std::strtoll(kv.value().c_str(), &end, 10);
      if (end == kv.value().c_str() || *end != '\0' || v < 0) {
        return DataLoss(Label(p) + ": external data " + kv.key() + " '" + kv.value() +
                        "' is not a non-negative integer");
      }
      (kv.key() == "offset" ? offset : length) = v;
    }
  }
  if (location.empty()) return DataLoss(Label(p) + ": external data has no location");
  if (external == nullptr || external->base_dir.empty()) {
    return NotSupported(Label(p) + ": stored in external file '" + location +
                        "', but the model was not loaded from a file (load it by path)");
  }
  std::filesystem::path rel(location);
  if (rel.is_absolute()) {
    return InvalidArgument(Label(p) + ": external data location '" + location +
                           "' is absolute; only paths inside the model's folder are read");
  }
  for (const auto& part : rel) {
    if (part == "..") {
      return InvalidArgument(Label(p) + ": external data location '" + location +
                             "' leaves the model's folder; refusing to read it");
    }
  }
  // Resolve links before checking containment: a symlink inside the folder
  // must not lead outside it.
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path base = fs::canonical(external->base_dir, ec);
  if (ec) return NotFound(Label(p) + ": model folder '" + external->base_dir + "' not found");
  fs::path full = fs::canonical(base / rel, ec);
  if (ec)
    return NotFound(Label(p) + ": external data file '" + (base / rel).string() + "' not found");
  fs::path inside = full.lexically_relative(base);
  if (inside.empty() || *inside.begin() == "..") {
    return InvalidArgument(Label(p) + ": external data location '" + location +
                           "' resolves outside the model's folder; refusing to read it");
  }
  if (!fs::is_regular_file(full, ec)) {
    return InvalidArgument(Label(p) + ": external data '" + location + "' is not a regular file");
  }
  auto file_size = fs::file_size(full, ec);
  if (ec) return NotFound(Label(p) + ": cannot read the size of '" + full.string() + "'");
  if (length < 0) length = static_cast<int64_t>(want_bytes);
  if (static_cast<uint64_t>(length) != want_bytes) {
    return DataLoss(Label(p) + ": external data length " + std::to_string(length) +
                    " does not match its dims and dtype (" + std::to_string(want_bytes) +
                    " bytes)");
  }
  if (static_cast<uint64_t>(offset) > file_size ||
      file_size - static_cast<uint64_t>(offset) < static_cast<uint64_t>(length)) {
    return DataLoss(Label(p) + ": external file '" + location + "' has " +
                    std::to_string(file_size) + " bytes, too short for offset " +
                    std::to_string(offset) + " + length " + std::to_string(length));
  }
  external->external_bytes += static_cast<size_t>(length);
  if (external->external_bytes > options.max_external_bytes) {
    return ResourceExhausted("external data exceeds " + std::to_string(options.max_external_bytes) +
                             " bytes (LoadOptions::max_external_bytes)");
  }
  std::ifstream in(full, std::ios::binary);
  std::string data(static_cast<size_t>(length), '\0');
  in.seekg(offset);
  in.read(data.data(), length);
  if (!in) return DataLoss(Label(p) + ": could not read external file '" + location + "'");
  return data;
}

}  // namespace

Result<Tensor> TensorFromProto(const onnx::TensorProto& p, ExternalData* external,
                               const LoadOptions& options) {
  if (!IsKnownDType(p.data_type())) {
    return NotSupported(Label(p) + ": data type " + std::to_string(p.data_type()) +
                        " (e.g. bfloat16, complex or float8) is not supported by tiffin");
  }
  if (p.has_segment()) return NotSupported(Label(p) + ": segmented tensors are not supported");
  const DType dtype = static_cast<DType>(p.data_type());
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape) {
    if (d < 0) return DataLoss(Label(p) + ": negative dim in " + ShapeToString(shape));
  }
  auto count = CheckedElementCount(shape);
  if (!count.ok()) return count.status().WithContext(Label(p));
  const int64_t n = *count;
  const size_t elem = DTypeSize(dtype);
  if (static_cast<uint64_t>(n) > options.max_tensor_bytes / elem) {
    return ResourceExhausted(Label(p) + ": dims " + ShapeToString(shape) + " of " +
                             std::string(DTypeName(dtype)) + " exceed the limit of " +
                             std::to_string(options.max_tensor_bytes) +
                             " bytes (LoadOptions::max_tensor_bytes)");
  }
  const size_t want_bytes = static_cast<size_t>(n) * elem;
  // Check that the data is there before allocating for it: a tiny file may
  // declare huge dims.
  const bool external_data = p.data_location() == onnx::TensorProto::EXTERNAL;
  const bool raw = !external_data && p.has_raw_data() && dtype != DType::kString;
  if (raw && p.raw_data().size() != want_bytes) {
    return DataLoss(Label(p) + ": raw_data has " + std::to_string(p.raw_data().size()) +
                    " bytes, but dims " + ShapeToString(shape) + " of " +
                    std::string(DTypeName(dtype)) + " need " + std::to_string(want_bytes));
  }
  if (!external_data && !raw) {
    int64_t have = 0;
    switch (dtype) {
      case DType::kFloat32:
        have = p.float_data_size();
        break;
      case DType::kFloat64:
        have = p.double_data_size();
        break;
      case DType::kInt64:
        have = p.int64_data_size();
        break;
      case DType::kUInt32:
      case DType::kUInt64:
        have = p.uint64_data_size();
        break;
      case DType::kString:
        have = p.string_data_size();
        break;
      default:
        have = p.int32_data_size();
        break;
    }
    if (have != n) {
      return DataLoss(Label(p) + ": holds " + std::to_string(have) + " values, but its dims " +
                      ShapeToString(shape) + " need " + std::to_string(n));
    }
  }
  auto alloc = Tensor::Allocate(dtype, shape, options.max_tensor_bytes);
  if (!alloc.ok()) return alloc.status().WithContext(Label(p));
  Tensor t = std::move(alloc).value();

  if (external_data) {
    if (dtype == DType::kString) return NotSupported(Label(p) + ": external string data");
    TIFFIN_ASSIGN_OR_RETURN(std::string data, ReadExternal(p, external, options, want_bytes));
    if (want_bytes) std::memcpy(t.raw_data(), data.data(), want_bytes);
    return t;
  }
  if (raw) {
    if (want_bytes) std::memcpy(t.raw_data(), p.raw_data().data(), want_bytes);
    if (dtype == DType::kBool) {  // normalise to 0/1 so bool reads are defined
      auto* b = static_cast<uint8_t*>(t.raw_data());
      for (int64_t i = 0; i < t.size(); ++i) b[i] = b[i] != 0;
    }
    return t;
  }
  Status s;
  switch (dtype) {
    case DType::kFloat32:
      s = CopyTyped<float>(p, p.float_data(), &t);
      break;
    case DType::kFloat64:
      s = CopyTyped<double>(p, p.double_data(), &t);
      break;
    case DType::kInt64:
      s = CopyTyped<int64_t>(p, p.int64_data(), &t);
      break;
    case DType::kUInt32:
      s = CopyTyped<uint32_t>(p, p.uint64_data(), &t);
      break;
    case DType::kUInt64:
      s = CopyTyped<uint64_t>(p, p.uint64_data(), &t);
      break;
    case DType::kInt32:
      s = CopyTyped<int32_t>(p, p.int32_data(), &t);
      break;
    case DType::kInt16:
      s = CopyTyped<int16_t>(p, p.int32_data(), &t);
      break;
    case DType::kInt8:
      s = CopyTyped<int8_t>(p, p.int32_data(), &t);
      break;
    case DType::kUInt16:
      s = CopyTyped<uint16_t>(p, p.int32_data(), &t);
      break;
    case DType::kUInt8:
      s = CopyTyped<uint8_t>(p, p.int32_data(), &t);
      break;
    case DType::kFloat16:
      s = CopyTyped<uint16_t>(p, p.int32_data(), &t);
      break;
    case DType::kBool: {
      if (static_cast<int64_t>(p.int32_data_size()) != t.size()) {
        s = CopyTyped<int32_t>(p, p.int32_data(), &t);  // reports the count mismatch
        break;
      }
      for (int64_t i = 0; i < t.size(); ++i)
        t.data<bool>()[i] = p.int32_data(static_cast<int>(i)) != 0;
      break;
    }
    case DType::kString: {
      if (static_cast<int64_t>(p.string_data_size()) != t.size()) {
        return DataLoss(Label(p) + ": holds " + std::to_string(p.string_data_size()) +
                        " strings, but its dims " + ShapeToString(shape) + " need " +
                        std::to_string(t.size()));
      }
      for (int64_t i = 0; i < t.size(); ++i)
        t.data<std::string>()[i] = p.string_data(static_cast<int>(i));
      break;
    }
    case DType::kUndefined:
      return NotSupported(Label(p) + ": undefined data type");
  }
  TIFFIN_RETURN_IF_ERROR(s);
  return t;
}

Result<std::string> ReadFileBytes(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFound("file '" + path + "' not found");
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgument("'" + path + "' is a directory, expected a file");
  }
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("cannot stat '" + path + "': " + ec.message());
  if (size > max_bytes) {
    return ResourceExhausted("file '" + path + "' has " + std::to_string(size) +
                             " bytes, over the limit of " + std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '" + path + "'");
  std::string data(static_cast<size_t>(size), '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  if (!in) return DataLoss("could not read '" + path + "'");
  return data;
}

Result<Tensor> ReadTensorProtoFile(const std::string& path, const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path, options.max_file_bytes));
  onnx::TensorProto p;
  if (!p.ParseFromString(bytes)) return DataLoss("'" + path + "' is not a serialized TensorProto");
  ExternalData ext{std::filesystem::path(path).parent_path().string(), 0};
  auto t = TensorFromProto(p, &ext, options);
  if (!t.ok()) return t.status().WithContext(path);
  return t;
}

Status TensorToProto(const Tensor& t, const std::string& name, onnx::TensorProto* p) {
  p->Clear();
  if (!t.defined()) return InvalidArgument("tensor '" + name + "': has no dtype");
  p->set_name(name);
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.dtype() == DType::kString) {
    for (int64_t i = 0; i < t.size(); ++i) p->add_string_data(t.data<std::string>()[i]);
  } else if (t.nbytes() == 0) {
    p->set_raw_data(std::string());  // raw_data present, so readers take the raw path
  } else {
    // raw_data is little-endian; like TensorFromProto's memcpy, this takes
    // the host to be little-endian.
    p->set_raw_data(t.raw_data(), t.nbytes());
  }
  return Status::Ok();
}

Result<std::string> SerializeTensorProto(const Tensor& t, const std::string& name) {
  onnx::TensorProto p;
  TIFFIN_RETURN_IF_ERROR(TensorToProto(t, name, &p));
  std::string out;
  if (!p.SerializeToString(&out)) return Internal("could not serialize tensor '" + name + "'");
  return out;
}

}  // namespace tiffin::onnx_import
