#include "io/tensor_io.h"

#include "core/json.h"

#include "core/utf8.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace tiffin::io {

namespace {

// Runs a parse, turning an allocation failure (a huge declared shape that
// passed the limits, a machine low on memory) into an error.
template <typename F>
auto OutOfMemoryIsAnError(F&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory parsing the JSON request");
  }
}

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Flattens a (possibly nested) JSON array into `leaves`, recording the shape
// of the first path. Ragged nesting is an error.
Status Flatten(element e, size_t depth, Shape* shape, std::vector<element>* leaves,
               const std::string& name, const ParseLimits& limits) {
  if (depth > 32) return InvalidArgument("input '" + name + "': data nested deeper than 32 levels");
  if (e.type() != element_type::ARRAY) {
    if (depth != shape->size()) {
      return InvalidArgument("input '" + name + "': ragged nested list (a value at depth " +
                             std::to_string(depth) + ", expected depth " +
                             std::to_string(shape->size()) + ")");
    }
    if (leaves->size() >= limits.max_elements) {
      return ResourceExhausted("input '" + name + "': more than " +
                               std::to_string(limits.max_elements) + " values");
    }
    leaves->push_back(e);
    return Status::Ok();
  }
  array a = e.get_array().value_unsafe();
  int64_t n = static_cast<int64_t>(a.size());
  if (n >= 0xFFFFFF) {  // simdjson's size() saturates at 2^24-1: count instead
    n = 0;
    for (element child : a) {
      (void)child;
      ++n;
    }
  }
  if (depth == shape->size()) {
    if (!leaves->empty()) {
      return InvalidArgument("input '" + name +
                             "': ragged nested list (an array where a value was expected)");
    }
    shape->push_back(n);
  } else if ((*shape)[depth] != n) {
    return InvalidArgument("input '" + name + "': ragged nested list (length " + std::to_string(n) +
                           " at depth " + std::to_string(depth) + ", expected " +
                           std::to_string((*shape)[depth]) + ")");
  }
  for (element child : a)
    TIFFIN_RETURN_IF_ERROR(Flatten(child, depth + 1, shape, leaves, name, limits));
  return Status::Ok();
}

// True when the integral double `v` is representable in T. 2^63 and 2^64
// are exact doubles, so the bounds compare exactly.
template <typename T>
bool FitsInteger(double v) {
  if constexpr (std::is_signed_v<T>) {
    return v >= -std::ldexp(1.0, std::numeric_limits<T>::digits) &&
           v < std::ldexp(1.0, std::numeric_limits<T>::digits);
  } else {
    return v >= 0 && v < std::ldexp(1.0, std::numeric_limits<T>::digits);
  }
}

Status OutOfRange(const std::string& name, size_t i, double v, DType dt) {
  return InvalidArgument("input '" + name + "': value " + std::to_string(i) + " (" +
                         std::to_string(v) + ") is out of range for " + std::string(DTypeName(dt)));
}

template <typename T>
Status FillNumbers(const std::vector<element>& leaves, Tensor* t, const std::string& name) {
  T* d = t->data<T>();
  for (size_t i = 0; i < leaves.size(); ++i) {
    element e = leaves[i];
    double v;
    switch (e.type()) {
      case element_type::DOUBLE:
        v = e.get_double().value_unsafe();
        break;
      case element_type::INT64:
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          const int64_t x = e.get_int64().value_unsafe();
          if (!std::in_range<T>(x)) return OutOfRange(name, i, static_cast<double>(x), t->dtype());
          d[i] = static_cast<T>(x);
          continue;
        }
        v = static_cast<double>(e.get_int64().value_unsafe());
        break;
      case element_type::UINT64:
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          const uint64_t x = e.get_uint64().value_unsafe();
          if (!std::in_range<T>(x)) return OutOfRange(name, i, static_cast<double>(x), t->dtype());
          d[i] = static_cast<T>(x);
          continue;
        }
        v = static_cast<double>(e.get_uint64().value_unsafe());
        break;
      case element_type::BOOL:
        v = e.get_bool().value_unsafe() ? 1 : 0;
        break;
      case element_type::NULL_VALUE:
        v = std::nan("");
        break;
      default:
        return InvalidArgument("input '" + name + "': value " + std::to_string(i) +
                               " is not a number (" + std::string(DTypeName(t->dtype())) +
                               " expected)");
    }
    if constexpr (std::is_same_v<T, Float16>) {
      d[i] = Float16(static_cast<float>(v));
    } else if constexpr (std::is_same_v<T, bool>) {
      d[i] = v != 0;
    } else if constexpr (std::is_integral_v<T>) {
      if (!std::isfinite(v) || v != std::floor(v)) {
        return InvalidArgument("input '" + name + "': value " + std::to_string(i) + " (" +
                               std::to_string(v) + ") is not an integer, but the input is " +
                               std::string(DTypeName(t->dtype())));
      }
      if (!FitsInteger<T>(v)) return OutOfRange(name, i, v, t->dtype());
      d[i] = static_cast<T>(v);
    } else {
      d[i] = static_cast<T>(v);
    }
  }
  return Status::Ok();
}

Result<Tensor> BuildTensor(const std::string& name, DType dtype, const Shape& shape,
                           const std::vector<element>& leaves, const ParseLimits& limits) {
  TIFFIN_ASSIGN_OR_RETURN(int64_t n, CheckedElementCount(shape));
  if (static_cast<size_t>(n) != leaves.size()) {
    return InvalidArgument("input '" + name + "': shape " + ShapeToString(shape) + " holds " +
                           std::to_string(n) + " values, but data has " +
                           std::to_string(leaves.size()));
  }
  auto alloc = Tensor::Allocate(dtype, shape, limits.max_tensor_bytes);
  if (!alloc.ok()) return alloc.status().WithContext("input '" + name + "'");
  Tensor t = std::move(alloc).value();
  Status s;
  switch (dtype) {
    case DType::kFloat32:
      s = FillNumbers<float>(leaves, &t, name);
      break;
    case DType::kFloat64:
      s = FillNumbers<double>(leaves, &t, name);
      break;
    case DType::kFloat16:
      s = FillNumbers<Float16>(leaves, &t, name);
      break;
    case DType::kInt8:
      s = FillNumbers<int8_t>(leaves, &t, name);
      break;
    case DType::kInt16:
      s = FillNumbers<int16_t>(leaves, &t, name);
      break;
    case DType::kInt32:
      s = FillNumbers<int32_t>(leaves, &t, name);
      break;
    case DType::kInt64:
      s = FillNumbers<int64_t>(leaves, &t, name);
      break;
    case DType::kUInt8:
      s = FillNumbers<uint8_t>(leaves, &t, name);
      break;
    case DType::kUInt16:
      s = FillNumbers<uint16_t>(leaves, &t, name);
      break;
    case DType::kUInt32:
      s = FillNumbers<uint32_t>(leaves, &t, name);
      break;
    case DType::kUInt64:
      s = FillNumbers<uint64_t>(leaves, &t, name);
      break;
    case DType::kBool:
      s = FillNumbers<bool>(leaves, &t, name);
      break;
    case DType::kString:
      for (size_t i = 0; i < leaves.size(); ++i) {
        std::string_view sv;
        if (leaves[i].get_string().get(sv) != simdjson::SUCCESS) {
          return InvalidArgument("input '" + name + "': value " + std::to_string(i) +
                                 " is not a string (BYTES expected)");
        }
        t.data<std::string>()[i] = std::string(sv);
      }
      break;
    case DType::kUndefined:
      return InvalidArgument("input '" + name + "': undefined dtype");
  }
  TIFFIN_RETURN_IF_ERROR(s);
  return t;
}

const TensorInfo* FindInfo(const std::vector<TensorInfo>& infos, std::string_view name) {
  for (const auto& i : infos)
    if (i.name == name) return &i;
  return nullptr;
}

// Guesses a dtype for a shorthand input the model does not declare.
DType GuessDType(const std::vector<element>& leaves) {
  if (!leaves.empty() && leaves[0].type() == element_type::STRING) return DType::kString;
  for (const auto& l : leaves)
    if (l.type() == element_type::DOUBLE) return DType::kFloat32;
  return leaves.empty() ? DType::kFloat32 : DType::kInt64;
}

}  // namespace

namespace {
Result<std::vector<NamedTensor>> ParseJsonInputsImpl(std::string_view json,
                                                     const std::vector<TensorInfo>& expected,
                                                     const ParseLimits& limits);
}  // namespace

namespace {
Result<NamedTensor> ParseV2InputImpl(const element& in, size_t index,
                                     const std::vector<TensorInfo>& expected,
                                     const ParseLimits& limits) {
  object io;
  const std::string where = "inputs[" + std::to_string(index) + "]";
  if (in.get_object().get(io) != simdjson::SUCCESS) {
    return InvalidArgument(where + " must be an object with name, shape, datatype and data");
  }
  std::string_view name_sv, dt_sv;
  if (io["name"].get_string().get(name_sv) != simdjson::SUCCESS) {
    return InvalidArgument(where + ": missing \"name\"");
  }
  std::string name(name_sv);
  const TensorInfo* info = FindInfo(expected, name);
  DType dtype = info && info->dtype != DType::kUndefined ? info->dtype : DType::kFloat32;
  if (io["datatype"].get_string().get(dt_sv) == simdjson::SUCCESS) {
    auto parsed = ParseDType(dt_sv);
    if (!parsed) {
      return InvalidArgument("input '" + name + "': unknown datatype '" + std::string(dt_sv) +
                             "' (use FP32, FP64, INT64, INT32, BOOL, BYTES, ...)");
    }
    dtype = *parsed;
  }
  element data;
  if (io["data"].get(data) != simdjson::SUCCESS) {
    return InvalidArgument("input '" + name + "': missing \"data\"");
  }
  Shape nested;
  std::vector<element> leaves;
  TIFFIN_RETURN_IF_ERROR(Flatten(data, 0, &nested, &leaves, name, limits));
  Shape shape;
  array shape_arr;
  if (io["shape"].get_array().get(shape_arr) == simdjson::SUCCESS) {
    for (element d : shape_arr) {
      int64_t v;
      if (d.get_int64().get(v) != simdjson::SUCCESS || v < 0) {
        return InvalidArgument("input '" + name + "': shape must list non-negative integers");
      }
      if (shape.size() == 64) return InvalidArgument("input '" + name + "': rank over 64");
      shape.push_back(v);
    }
  } else {
    shape = nested;
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor t, BuildTensor(name, dtype, shape, leaves, limits));
  return NamedTensor{name, std::move(t)};
}
Result<NamedTensor> ParseNamedInputImpl(const std::string& name, const element& value,
                                        const std::vector<TensorInfo>& expected,
                                        const ParseLimits& limits) {
  const TensorInfo* info = FindInfo(expected, name);
  Shape shape;
  std::vector<element> leaves;
  TIFFIN_RETURN_IF_ERROR(Flatten(value, 0, &shape, &leaves, name, limits));
  DType dtype = info && info->dtype != DType::kUndefined ? info->dtype : GuessDType(leaves);
  TIFFIN_ASSIGN_OR_RETURN(Tensor t, BuildTensor(name, dtype, shape, leaves, limits));
  return NamedTensor{name, std::move(t)};
}
}  // namespace

Result<NamedTensor> ParseNamedInput(const std::string& name, const simdjson::dom::element& value,
                                    const std::vector<TensorInfo>& expected,
                                    const ParseLimits& limits) {
  return OutOfMemoryIsAnError([&] { return ParseNamedInputImpl(name, value, expected, limits); });
}

Result<NamedTensor> ParseV2Input(const simdjson::dom::element& in, size_t index,
                                 const std::vector<TensorInfo>& expected,
                                 const ParseLimits& limits) {
  return OutOfMemoryIsAnError([&] { return ParseV2InputImpl(in, index, expected, limits); });
}

Result<std::vector<NamedTensor>> ParseJsonInputs(std::string_view json,
                                                 const std::vector<TensorInfo>& expected,
                                                 const ParseLimits& limits) {
  return OutOfMemoryIsAnError([&] { return ParseJsonInputsImpl(json, expected, limits); });
}

namespace {
Result<std::vector<NamedTensor>> ParseJsonInputsImpl(std::string_view json,
                                                     const std::vector<TensorInfo>& expected,
                                                     const ParseLimits& limits) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root); err) {
    return InvalidArgument(std::string("request is not valid JSON: ") +
                           simdjson::error_message(err));
  }
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return InvalidArgument("request must be a JSON object, e.g. {\"inputs\": [...]}");
  }
  std::vector<NamedTensor> out;
  array inputs;
  if (obj["inputs"].get_array().get(inputs) == simdjson::SUCCESS) {
    size_t k = 0;
    for (element in : inputs) {
      TIFFIN_ASSIGN_OR_RETURN(NamedTensor t, ParseV2InputImpl(in, k++, expected, limits));
      out.push_back(std::move(t));
    }
    return out;
  }
  for (auto field : obj) {
    TIFFIN_ASSIGN_OR_RETURN(
        NamedTensor t, ParseNamedInputImpl(std::string(field.key), field.value, expected, limits));
    out.push_back(std::move(t));
  }
  if (out.empty()) {
    return InvalidArgument(
        "request names no inputs; send {\"inputs\": [...]} or {\"<input>\": [...]}");
  }
  return out;
}
}  // namespace

void AppendJsonData(const Tensor& t, std::string* out) {
  out->push_back('[');
  for (int64_t i = 0; i < t.size(); ++i) {
    if (i) out->push_back(',');
    switch (t.dtype()) {
      case DType::kFloat32:
        AppendJsonNumber(t.data<float>()[i], out);
        break;
      case DType::kFloat64:
        AppendJsonNumber(t.data<double>()[i], out);
        break;
      case DType::kFloat16:
        AppendJsonNumber(static_cast<float>(t.data<Float16>()[i]), out);
        break;
      case DType::kInt8:
        AppendJsonNumber(t.data<int8_t>()[i], out);
        break;
      case DType::kInt16:
        AppendJsonNumber(t.data<int16_t>()[i], out);
        break;
      case DType::kInt32:
        AppendJsonNumber(t.data<int32_t>()[i], out);
        break;
      case DType::kInt64:
        AppendJsonNumber(t.data<int64_t>()[i], out);
        break;
      case DType::kUInt8:
        AppendJsonNumber(t.data<uint8_t>()[i], out);
        break;
      case DType::kUInt16:
        AppendJsonNumber(t.data<uint16_t>()[i], out);
        break;
      case DType::kUInt32:
        AppendJsonNumber(t.data<uint32_t>()[i], out);
        break;
      case DType::kUInt64:
        AppendJsonNumber(t.data<uint64_t>()[i], out);
        break;
      case DType::kBool:
        out->append(t.data<bool>()[i] ? "true" : "false");
        break;
      case DType::kString:
        AppendJsonString(t.data<std::string>()[i], out);
        break;
      case DType::kUndefined:
        out->append("null");
        break;
    }
  }
  out->push_back(']');
}

std::string WriteJsonOutputs(const std::vector<NamedTensor>& outputs,
                             const std::string& model_name) {
  std::string out = "{";
  if (!model_name.empty()) {
    out += "\"model_name\":";
    AppendJsonString(model_name, &out);
    out += ',';
  }
  out += "\"outputs\":[";
  for (size_t k = 0; k < outputs.size(); ++k) {
    const auto& [name, t] = outputs[k];
    if (k) out += ',';
    out += "{\"name\":";
    AppendJsonString(name, &out);
    out += ",\"datatype\":\"";
    out += DTypeKServeName(t.dtype());
    out += "\",\"shape\":[";
    for (size_t d = 0; d < t.shape().size(); ++d) {
      if (d) out += ',';
      out += std::to_string(t.shape()[d]);
    }
    out += "],\"data\":";
    AppendJsonData(t, &out);
    out += '}';
  }
  out += "]}";
  return out;
}

bool LooksLikeNpy(std::string_view b) { return b.size() >= 6 && b.substr(0, 6) == "\x93NUMPY"; }

namespace {

// Finds 'key': value in the npy header dict (a Python literal).
std::string_view HeaderField(std::string_view header, std::string_view key) {
  std::string pattern = "'" + std::string(key) + "':";
  auto pos = header.find(pattern);
  if (pos == std::string_view::npos) return {};
  pos += pattern.size();
  while (pos < header.size() && header[pos] == ' ') ++pos;
  if (pos >= header.size()) return {};
  size_t end = pos;
  if (header[pos] == '\'') {
    end = header.find('\'', pos + 1);
    return end == std::string_view::npos ? std::string_view{}
                                         : header.substr(pos + 1, end - pos - 1);
  }
  if (header[pos] == '(') {
    end = header.find(')', pos);
    return end == std::string_view::npos ? std::string_view{}
                                         : header.substr(pos + 1, end - pos - 1);
  }
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  return header.substr(pos, end - pos);
}

}  // namespace

Result<Tensor> ParseNpy(std::string_view b, const ParseLimits& limits) {
  if (!LooksLikeNpy(b) || b.size() < 10) return InvalidArgument("not a .npy file (bad magic)");
  const uint8_t major = static_cast<uint8_t>(b[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<uint8_t>(b[8]) | static_cast<size_t>(static_cast<uint8_t>(b[9])) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) return InvalidArgument(".npy file truncated in its header");
    header_len = 0;
    for (int i = 0; i < 4; ++i)
      header_len |= static_cast<size_t>(static_cast<uint8_t>(b[8 + i])) << (8 * i);
    offset = 12;
  } else {
    return NotSupported(".npy format version " + std::to_string(major) + " (tiffin reads 1 to 3)");
  }
  if (header_len > b.size() - offset) return InvalidArgument(".npy file truncated in its header");
  std::string_view header = b.substr(offset, header_len);
  std::string_view descr = HeaderField(header, "descr");
  std::string_view fortran = HeaderField(header, "fortran_order");
  std::string_view shape_s = HeaderField(header, "shape");
  if (descr.size() < 3) return InvalidArgument(".npy header has no dtype ('descr')");
  if (fortran != "True" && fortran != "False") {
    return InvalidArgument(".npy header has no valid 'fortran_order'");
  }
  if (shape_s.data() == nullptr || header.find("'shape':") == std::string_view::npos ||
      header.find(')', static_cast<size_t>(shape_s.data() - header.data())) ==
          std::string_view::npos) {
    return InvalidArgument(".npy header has no valid 'shape' tuple");
  }
  const char endian = descr[0];
  const char kind = descr[1];
  int width = 0;
  auto wr = std::from_chars(descr.data() + 2, descr.data() + descr.size(), width);
  if (wr.ec != std::errc() || wr.ptr != descr.data() + descr.size() || width <= 0 ||
      (endian != '<' && endian != '>' && endian != '|' && endian != '=')) {
    return NotSupported(".npy dtype '" + std::string(descr) + "' is not supported");
  }
  DType dtype = DType::kUndefined;
  if (kind == 'f' && width == 4) dtype = DType::kFloat32;
  if (kind == 'f' && width == 8) dtype = DType::kFloat64;
  if (kind == 'f' && width == 2) dtype = DType::kFloat16;
  if (kind == 'i' && width == 1) dtype = DType::kInt8;
  if (kind == 'i' && width == 2) dtype = DType::kInt16;
  if (kind == 'i' && width == 4) dtype = DType::kInt32;
  if (kind == 'i' && width == 8) dtype = DType::kInt64;
  if (kind == 'u' && width == 1) dtype = DType::kUInt8;
  if (kind == 'u' && width == 2) dtype = DType::kUInt16;
  if (kind == 'u' && width == 4) dtype = DType::kUInt32;
  if (kind == 'u' && width == 8) dtype = DType::kUInt64;
  if (kind == 'b' && width == 1) dtype = DType::kBool;
  if (kind == 'U') dtype = DType::kString;
  if (dtype == DType::kUndefined) {
    return NotSupported(".npy dtype '" + std::string(descr) +
                        "' is not supported (numeric, bool and unicode arrays are)");
  }
  Shape shape;
  for (size_t pos = 0; pos < shape_s.size();) {
    while (pos < shape_s.size() && (shape_s[pos] == ' ' || shape_s[pos] == ',')) ++pos;
    if (pos >= shape_s.size()) break;
    int64_t d = 0;
    auto r = std::from_chars(shape_s.data() + pos, shape_s.data() + shape_s.size(), d);
    if (r.ec != std::errc() || d < 0)
      return InvalidArgument(".npy header has a bad shape '" + std::string(shape_s) + "'");
    shape.push_back(d);
    pos = static_cast<size_t>(r.ptr - shape_s.data());
    if (shape.size() > 64) return InvalidArgument(".npy shape has rank over 64");
  }
  TIFFIN_ASSIGN_OR_RETURN(int64_t n, CheckedElementCount(shape));
  const size_t elem = kind == 'U' ? static_cast<size_t>(width) * 4 : static_cast<size_t>(width);
  // In memory a string element costs at least a std::string.
  const size_t mem_elem = kind == 'U' ? std::max(elem, sizeof(std::string)) : elem;
  if (static_cast<uint64_t>(n) > limits.max_elements ||
      static_cast<uint64_t>(n) > limits.max_tensor_bytes / mem_elem) {
    return ResourceExhausted(".npy array of shape " + ShapeToString(shape) +
                             " is over the size limit");
  }
  const size_t data_off = offset + header_len;
  const size_t need = static_cast<size_t>(n) * elem;
  if (b.size() - data_off < need) {
    return InvalidArgument(".npy file truncated: needs " + std::to_string(need) +
                           " data bytes, has " + std::to_string(b.size() - data_off));
  }
  const char* src = b.data() + data_off;
  const bool swap = endian == '>' && width > 1;
  const bool is_fortran = fortran == "True";
  // Fortran order: element (i0..ik) sits at sum(i_j * prod(d_<j)); read it
  // into C order.
  auto src_index = [&](int64_t c_index) -> int64_t {
    if (!is_fortran || shape.size() < 2) return c_index;
    int64_t f = 0, stride = 1, rem = c_index;
    std::vector<int64_t> idx(shape.size());
    for (size_t d = shape.size(); d-- > 0;) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
    }
    for (size_t d = 0; d < shape.size(); ++d) {
      f += idx[d] * stride;
      stride *= shape[d];
    }
    return f;
  };
  auto alloc = Tensor::Allocate(dtype, shape, SIZE_MAX);
  if (!alloc.ok()) return alloc.status();
  Tensor t = std::move(alloc).value();
  if (dtype == DType::kString) {
    for (int64_t i = 0; i < n; ++i) {
      const char* p = src + src_index(i) * static_cast<int64_t>(elem);
      std::string s;
      for (int c = 0; c < width; ++c) {
        uint32_t cp = 0;
        for (int k = 0; k < 4; ++k) {
          uint8_t byte = static_cast<uint8_t>(p[c * 4 + (endian == '>' ? 3 - k : k)]);
          cp |= static_cast<uint32_t>(byte) << (8 * k);
        }
        if (cp == 0) break;
        AppendUtf8(cp, &s);
      }
      t.data<std::string>()[i] = std::move(s);
    }
    return t;
  }
  auto* dst = static_cast<char*>(t.raw_data());
  for (int64_t i = 0; i < n; ++i) {
    const char* p = src + src_index(i) * static_cast<int64_t>(elem);
    char* q = dst + i * static_cast<int64_t>(elem);
    if (swap) {
      for (size_t k = 0; k < elem; ++k) q[k] = p[elem - 1 - k];
    } else {
      std::memcpy(q, p, elem);
    }
  }
  if (dtype == DType::kBool) {
    for (int64_t i = 0; i < n; ++i) dst[i] = dst[i] != 0;
  }
  return t;
}

std::string WriteNpy(const Tensor& t) {
  std::string descr;
  size_t width = DTypeSize(t.dtype());
  switch (t.dtype()) {
    case DType::kFloat32:
      descr = "<f4";
      break;
    case DType::kFloat64:
      descr = "<f8";
      break;
    case DType::kFloat16:
      descr = "<f2";
      break;
    case DType::kInt8:
      descr = "|i1";
      break;
    case DType::kInt16:
      descr = "<i2";
      break;
    case DType::kInt32:
      descr = "<i4";
      break;
    case DType::kInt64:
      descr = "<i8";
      break;
    case DType::kUInt8:
      descr = "|u1";
      break;
    case DType::kUInt16:
      descr = "<u2";
      break;
    case DType::kUInt32:
      descr = "<u4";
      break;
    case DType::kUInt64:
      descr = "<u8";
      break;
    case DType::kBool:
      descr = "|b1";
      break;
    case DType::kString: {
      size_t w = 1;
      for (int64_t i = 0; i < t.size(); ++i) w = std::max(w, t.data<std::string>()[i].size());
      descr = "<U" + std::to_string(w);
      width = w * 4;
      break;
    }
    case DType::kUndefined:
      descr = "<f4";
      break;
  }
  std::string shape = "(";
  for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + ",";
  if (t.shape().size() > 1) shape.pop_back();
  shape += ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  if (t.dtype() == DType::kString) {
    for (int64_t i = 0; i < t.size(); ++i) {
      const std::string& s = t.data<std::string>()[i];
      std::string cell(width, '\0');
      // Latin-1 subset only; others become '?' (numpy would need full UTF-32).
      for (size_t c = 0; c < s.size() && c * 4 < width; ++c) {
        unsigned char ch = static_cast<unsigned char>(s[c]);
        cell[c * 4] = static_cast<char>(ch < 0x80 ? ch : '?');
      }
      out += cell;
    }
  } else {
    out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  }
  return out;
}

Result<Tensor> ParseCsv(std::string_view text, DType dtype, std::vector<std::string>* header,
                        const ParseLimits& limits) {
  std::vector<std::vector<double>> rows;
  size_t cols = 0, line_no = 0, values = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::vector<std::string_view> cells;
    for (size_t c = 0;;) {
      size_t comma = line.find(',', c);
      cells.push_back(
          line.substr(c, comma == std::string_view::npos ? std::string_view::npos : comma - c));
      if (comma == std::string_view::npos) break;
      c = comma + 1;
    }
    std::vector<double> row;
    bool numeric = true;
    for (auto cell : cells) {
      while (!cell.empty() && cell.front() == ' ') cell.remove_prefix(1);
      while (!cell.empty() && cell.back() == ' ') cell.remove_suffix(1);
      if (cell.empty() || cell == "nan" || cell == "NaN" || cell == "NA") {
        row.push_back(std::nan(""));
        continue;
      }
      double v;
      auto r = std::from_chars(cell.data(), cell.data() + cell.size(), v);
      if (r.ec != std::errc() || r.ptr != cell.data() + cell.size()) {
        numeric = false;
        break;
      }
      row.push_back(v);
    }
    if (!numeric) {
      if (rows.empty() && header && header->empty()) {
        for (auto cell : cells) header->emplace_back(cell);
        cols = cells.size();
        continue;
      }
      return InvalidArgument("csv line " + std::to_string(line_no) +
                             ": a value is not a number (only numeric CSV is supported)");
    }
    if (cols == 0) cols = row.size();
    if (row.size() != cols) {
      return InvalidArgument("csv line " + std::to_string(line_no) + ": " +
                             std::to_string(row.size()) + " columns, expected " +
                             std::to_string(cols));
    }
    values += row.size();
    if (values > limits.max_elements) return ResourceExhausted("csv holds too many values");
    rows.push_back(std::move(row));
  }
  if (rows.empty()) return InvalidArgument("csv holds no data rows");
  Shape shape{static_cast<int64_t>(rows.size()), static_cast<int64_t>(cols)};
  auto alloc = Tensor::Allocate(dtype, shape, limits.max_tensor_bytes);
  if (!alloc.ok()) return alloc.status();
  Tensor t = std::move(alloc).value();
  int64_t i = 0;
  const bool integral = IsInteger(dtype);
  for (const auto& row : rows) {
    for (double v : row) {
      if (integral && !std::isfinite(v)) {
        return InvalidArgument("csv value " + std::to_string(i) +
                               " is empty or NaN, but the input is " +
                               std::string(DTypeName(dtype)));
      }
      if ((dtype == DType::kInt64 && !FitsInteger<int64_t>(std::trunc(v))) ||
          (dtype == DType::kInt32 && !FitsInteger<int32_t>(std::trunc(v)))) {
        return InvalidArgument("csv value " + std::to_string(i) + " (" + std::to_string(v) +
                               ") is out of range for " + std::string(DTypeName(dtype)));
      }
      switch (dtype) {
        case DType::kFloat32:
          t.data<float>()[i] = static_cast<float>(v);
          break;
        case DType::kFloat64:
          t.data<double>()[i] = v;
          break;
        case DType::kInt64:
          t.data<int64_t>()[i] = static_cast<int64_t>(v);
          break;
        case DType::kInt32:
          t.data<int32_t>()[i] = static_cast<int32_t>(v);
          break;
        default:
          return NotSupported("csv input for dtype " + std::string(DTypeName(dtype)));
      }
      ++i;
    }
  }
  return t;
}

// ---------------------------------------------------------------------------
// Tabular input: CSV and the JSON table forms, bound to one [N, F] input or to
// one [N, 1] input per column.

namespace {

// One value of a table, before it meets its column's dtype.
struct Cell {
  enum class Kind { kMissing, kText, kDouble, kInteger, kBool, kNested };
  Kind kind = Kind::kMissing;
  std::string_view text;  // kText
  bool literal = false;   // kText: never a missing marker (JSON strings, quoted CSV fields)
  double d = 0;
  int64_t i = 0;
  bool b = false;
};

std::string_view SkipBom(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  return text;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

// The CSV spellings of a missing value: pandas' defaults, narrowed to the
// common ones.
bool IsMissingToken(std::string_view s) {
  return s.empty() || EqualsNoCase(s, "nan") || s == "NA" || s == "null";
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

enum class NumberKind { kDouble, kInteger, kMissing, kNotNumber, kOutOfRange };

struct Number {
  NumberKind kind = NumberKind::kMissing;
  double d = 0;   // every kind but kMissing and errors (kInteger too)
  int64_t i = 0;  // kInteger: exact
};

// Reads text as a number. Integers stay exact when they fit int64.
Number ParseNumberText(std::string_view s) {
  s = TrimSpaces(s);
  if (IsMissingToken(s)) return {NumberKind::kMissing};
  if (EqualsNoCase(s, "true")) return {NumberKind::kInteger, 1, 1};
  if (EqualsNoCase(s, "false")) return {NumberKind::kInteger, 0, 0};
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  const char* end = s.data() + s.size();
  int64_t i = 0;
  auto ri = std::from_chars(s.data(), end, i);
  if (ri.ec == std::errc() && ri.ptr == end && !(i == 0 && s[0] == '-')) {  // keep -0.0
    return {NumberKind::kInteger, static_cast<double>(i), i};
  }
  double d = 0;
  auto rd = std::from_chars(s.data(), end, d);
  if (rd.ptr != end) return {NumberKind::kNotNumber};
  if (rd.ec == std::errc::result_out_of_range) return {NumberKind::kOutOfRange};
  if (rd.ec != std::errc()) return {NumberKind::kNotNumber};
  return {NumberKind::kDouble, d};
}

Number ToNumber(const Cell& c) {
  switch (c.kind) {
    case Cell::Kind::kMissing:
      return {NumberKind::kMissing};
    case Cell::Kind::kText:
      return ParseNumberText(c.text);
    case Cell::Kind::kDouble:
      return {NumberKind::kDouble, c.d};
    case Cell::Kind::kInteger:
      return {NumberKind::kInteger, static_cast<double>(c.i), c.i};
    case Cell::Kind::kBool:
      return {NumberKind::kInteger, c.b ? 1.0 : 0.0, c.b ? 1 : 0};
    case Cell::Kind::kNested:
      break;
  }
  return {NumberKind::kNotNumber};
}

// 'value', cut to a readable length.
std::string Quote(std::string_view v) {
  constexpr size_t kMax = 40;
  if (v.size() <= kMax) return "'" + std::string(v) + "'";
  return "'" + std::string(v.substr(0, kMax)) + "...'";
}

// "[a, b, c]", at most 20 names.
std::string NameList(const std::vector<std::string>& names) {
  constexpr size_t kMax = 20;
  std::string s = "[";
  for (size_t i = 0; i < names.size() && i < kMax; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > kMax) s += ", ... (" + std::to_string(names.size() - kMax) + " more)";
  return s + "]";
}

// Where one column's values go: element row * stride + offset of a tensor.
struct Slot {
  Tensor* tensor = nullptr;
  int64_t stride = 1;
  int64_t offset = 0;
  const std::string* input = nullptr;  // the model input's name, for messages
};

Status CellError(const std::string& label, size_t row, const std::string& detail) {
  return InvalidArgument(label + ", row " + std::to_string(row + 1) + ": " + detail);
}

template <typename T>
Status StoreNumber(const Number& n, T* dst, const Slot& slot, const std::string& label,
                   size_t row) {
  const DType dtype = slot.tensor->dtype();
  if constexpr (std::is_same_v<T, Float16>) {
    *dst = Float16(static_cast<float>(n.kind == NumberKind::kMissing ? std::nan("") : n.d));
  } else if constexpr (std::is_floating_point_v<T>) {
    *dst = static_cast<T>(n.kind == NumberKind::kMissing ? std::nan("") : n.d);
  } else {
    if (n.kind == NumberKind::kMissing) {
      return CellError(label, row,
                       "missing value, but input '" + *slot.input + "' is " +
                           std::string(DTypeName(dtype)) + " and cannot hold NaN");
    }
    if constexpr (std::is_same_v<T, bool>) {
      *dst = n.d != 0;
    } else {
      if (n.kind == NumberKind::kInteger) {
        if (!std::in_range<T>(n.i)) {
          return CellError(
              label, row,
              std::to_string(n.i) + " is out of range for " + std::string(DTypeName(dtype)));
        }
        *dst = static_cast<T>(n.i);
        return Status::Ok();
      }
      if (!std::isfinite(n.d) || n.d != std::floor(n.d)) {
        return CellError(label, row,
                         std::to_string(n.d) + " is not an integer, but input '" + *slot.input +
                             "' is " + std::string(DTypeName(dtype)));
      }
      if (!FitsInteger<T>(n.d)) {
        return CellError(
            label, row,
            std::to_string(n.d) + " is out of range for " + std::string(DTypeName(dtype)));
      }
      *dst = static_cast<T>(n.d);
    }
  }
  return Status::Ok();
}

std::string FormatDouble(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Writes one cell into its slot, converting it to the slot's dtype.
Status PutCell(const Slot& slot, const std::string& label, size_t row, const Cell& c) {
  const int64_t at = static_cast<int64_t>(row) * slot.stride + slot.offset;
  Tensor& t = *slot.tensor;
  if (c.kind == Cell::Kind::kNested) {
    return CellError(label, row, "a list or object is not a value");
  }
  if (t.dtype() == DType::kString) {
    std::string& dst = t.data<std::string>()[at];
    switch (c.kind) {
      case Cell::Kind::kText:
        if (c.literal || !IsMissingToken(c.text)) dst.assign(c.text);
        break;
      case Cell::Kind::kDouble:
        dst = FormatDouble(c.d);
        break;
      case Cell::Kind::kInteger:
        dst = std::to_string(c.i);
        break;
      case Cell::Kind::kBool:
        dst = c.b ? "True" : "False";  // Python's spelling, as the model saw it
        break;
      case Cell::Kind::kMissing:
      case Cell::Kind::kNested:
        break;  // stays "" (tensors start with empty strings)
    }
    return Status::Ok();
  }
  const Number n = ToNumber(c);
  if (n.kind == NumberKind::kNotNumber) {
    return CellError(label, row,
                     Quote(c.text) + " is not a number (the model expects numbers in this column)");
  }
  if (n.kind == NumberKind::kOutOfRange) {
    return CellError(label, row, Quote(c.text) + " is out of range for a float64");
  }
  switch (t.dtype()) {
    case DType::kFloat32:
      return StoreNumber(n, t.data<float>() + at, slot, label, row);
    case DType::kFloat64:
      return StoreNumber(n, t.data<double>() + at, slot, label, row);
    case DType::kFloat16:
      return StoreNumber(n, t.data<Float16>() + at, slot, label, row);
    case DType::kInt8:
      return StoreNumber(n, t.data<int8_t>() + at, slot, label, row);
    case DType::kInt16:
      return StoreNumber(n, t.data<int16_t>() + at, slot, label, row);
    case DType::kInt32:
      return StoreNumber(n, t.data<int32_t>() + at, slot, label, row);
    case DType::kInt64:
      return StoreNumber(n, t.data<int64_t>() + at, slot, label, row);
    case DType::kUInt8:
      return StoreNumber(n, t.data<uint8_t>() + at, slot, label, row);
    case DType::kUInt16:
      return StoreNumber(n, t.data<uint16_t>() + at, slot, label, row);
    case DType::kUInt32:
      return StoreNumber(n, t.data<uint32_t>() + at, slot, label, row);
    case DType::kUInt64:
      return StoreNumber(n, t.data<uint64_t>() + at, slot, label, row);
    case DType::kBool:
      return StoreNumber(n, t.data<bool>() + at, slot, label, row);
    case DType::kString:
    case DType::kUndefined:
      break;
  }
  return Internal("tabular input: no conversion to " + std::string(DTypeName(t.dtype())));
}

// "[N,3]" as DimsToString writes it; that lives in the exec library, which
// tiffin_io does not link.
std::string ShapeText(const std::vector<Dim>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    s += dims[i].fixed() ? std::to_string(dims[i].value)
                         : (dims[i].symbol.empty() ? "?" : dims[i].symbol);
  }
  return s + "]";
}

DType InputDType(const TensorInfo& info) {
  return info.dtype == DType::kUndefined ? DType::kFloat32 : info.dtype;
}

// How a table binds to the model: its slots are the F features of one input
// (layout a) or the model's [N, 1] inputs (layout b).
struct Plan {
  bool per_column = false;
  std::vector<size_t> slot_input;    // per_column: the input index of each slot
  std::vector<std::string> names;    // the expected column of each slot; empty: unknown
  std::vector<std::string> aliases;  // per_column: the input name of each slot
  int64_t width = -1;                // number of slots; -1 until the data says
};

// "x" followed by a number without leading zeros, as converters name inputs
// whose feature names they do not know.
bool GenericInputIndex(std::string_view name, size_t* index) {
  if (name.size() < 2 || name.size() > 12 || name[0] != 'x') return false;
  if (name[1] == '0' && name.size() > 2) return false;
  size_t v = 0;
  auto r = std::from_chars(name.data() + 1, name.data() + name.size(), v);
  if (r.ec != std::errc() || r.ptr != name.data() + name.size()) return false;
  *index = v;
  return true;
}

Result<Plan> PlanLayout(const std::vector<TensorInfo>& inputs,
                        const std::vector<std::string>& feature_names) {
  Plan plan;
  if (inputs.empty()) return InvalidArgument("tabular input: the model declares no inputs");
  if (inputs.size() == 1) {
    const TensorInfo& in = inputs[0];
    if (in.has_shape && in.shape.size() != 2) {
      return InvalidArgument("tabular input needs a model input of shape [rows, columns]; input '" +
                             in.name + "' has shape " + ShapeText(in.shape));
    }
    int64_t width = in.has_shape && in.shape[1].fixed() ? in.shape[1].value : -1;
    if (!feature_names.empty()) {
      const auto n = static_cast<int64_t>(feature_names.size());
      if (width >= 0 && width != n) {
        return InvalidArgument("the model lists " + std::to_string(n) +
                               " feature names for input '" + in.name + "' of width " +
                               std::to_string(width));
      }
      width = n;
      plan.names = feature_names;
    }
    plan.width = width;
    return plan;
  }
  plan.per_column = true;
  const size_t n = inputs.size();
  std::vector<size_t> order(n, n);
  bool generic = true;
  for (size_t k = 0; k < n; ++k) {
    const TensorInfo& in = inputs[k];
    if (in.has_shape && (in.shape.size() != 2 || (in.shape[1].fixed() && in.shape[1].value != 1))) {
      return InvalidArgument("tabular input binds one [rows, 1] model input per column; input '" +
                             in.name + "' has shape " + ShapeText(in.shape));
    }
    size_t index = 0;
    if (generic && GenericInputIndex(in.name, &index) && index < n && order[index] == n) {
      order[index] = k;
    } else {
      generic = false;
    }
  }
  for (size_t s = 0; s < n; ++s) {
    const size_t k = generic ? order[s] : s;
    plan.slot_input.push_back(k);
    plan.aliases.push_back(inputs[k].name);
  }
  if (!generic) plan.names = plan.aliases;
  plan.width = static_cast<int64_t>(n);
  return plan;
}

// The columns as given, bound to slots.
struct Binding {
  std::vector<size_t> slot_of_column;
  std::vector<std::string> labels;  // "column 'age'" or "column 3", for messages
};

// Binds `n_given` columns named `header` (nullptr: the data has no header) to
// the slots of `plan`, fixing plan->width when it was open.
Result<Binding> BindColumns(const std::vector<std::string>* header, size_t n_given, Plan* plan) {
  if (n_given == 0) return InvalidArgument("tabular input has no columns");
  Binding bind;
  auto by_name = [&](const std::vector<std::string>& expected) {
    if (header == nullptr || expected.size() != header->size()) return false;
    std::unordered_map<std::string_view, size_t> slot_of;
    for (size_t s = 0; s < expected.size(); ++s)
      if (!slot_of.emplace(expected[s], s).second) return false;
    std::vector<size_t> slots(n_given);
    std::vector<bool> used(expected.size(), false);
    for (size_t g = 0; g < n_given; ++g) {
      auto it = slot_of.find((*header)[g]);
      if (it == slot_of.end() || used[it->second]) return false;
      used[it->second] = true;
      slots[g] = it->second;
    }
    bind.slot_of_column = std::move(slots);
    return true;
  };
  const bool named = (!plan->names.empty() && by_name(plan->names)) ||
                     (!plan->aliases.empty() && by_name(plan->aliases));
  if (!named) {
    if (header != nullptr && !plan->names.empty()) {
      std::unordered_set<std::string_view> given, expected(plan->names.begin(), plan->names.end());
      for (const auto& h : *header) {
        if (!given.insert(h).second) {
          return InvalidArgument("column '" + h + "' appears twice in the tabular input");
        }
      }
      std::vector<std::string> missing, unexpected;
      for (const auto& name : plan->names)
        if (!given.count(name)) missing.push_back(name);
      for (const auto& h : *header)
        if (!expected.count(h)) unexpected.push_back(h);
      std::string detail;
      if (!missing.empty()) detail += "missing " + NameList(missing);
      if (!unexpected.empty())
        detail += (detail.empty() ? "" : ", ") + ("unexpected " + NameList(unexpected));
      if (detail.empty()) detail = "the model names a column twice";
      return InvalidArgument("columns do not match the model: " + detail + "; expected " +
                             NameList(plan->names) + " (in any order)");
    }
    const size_t width = plan->width < 0 ? n_given : static_cast<size_t>(plan->width);
    if (n_given != width) {
      return InvalidArgument("tabular input: expected " + std::to_string(width) + " columns, got " +
                             std::to_string(n_given) +
                             (plan->names.empty()
                                  ? " (the model does not know its column names, so columns "
                                    "bind by position)"
                                  : ""));
    }
    bind.slot_of_column.resize(n_given);
    for (size_t g = 0; g < n_given; ++g) bind.slot_of_column[g] = g;
  }
  plan->width = static_cast<int64_t>(n_given);
  for (size_t g = 0; g < n_given; ++g) {
    const size_t s = bind.slot_of_column[g];
    if (header != nullptr) {
      bind.labels.push_back("column '" + (*header)[g] + "'");
    } else if (!plan->names.empty()) {
      bind.labels.push_back("column '" + plan->names[s] + "'");
    } else {
      bind.labels.push_back("column " + std::to_string(g + 1));
    }
  }
  return bind;
}

// The most rows the limits allow for this plan.
size_t MaxRows(const Plan& plan, const std::vector<TensorInfo>& inputs, const ParseLimits& limits) {
  const size_t per_row =
      plan.per_column ? 1 : static_cast<size_t>(std::max<int64_t>(plan.width, 1));
  size_t elem = 1;
  for (const auto& in : inputs) elem = std::max(elem, DTypeSize(InputDType(in)));
  return std::min(limits.max_elements / per_row, limits.max_tensor_bytes / elem / per_row);
}

Status TooManyRows(size_t max_rows) {
  return ResourceExhausted("tabular input holds more than " + std::to_string(max_rows) +
                           " rows, over the size limit (max_elements, max_tensor_bytes)");
}

// The model's tensors for `rows` rows, and a slot per column of the plan.
// REQUIRES: plan.width is fixed and rows <= MaxRows().
struct Table {
  std::vector<NamedTensor> tensors;
  std::vector<Slot> slots;
};

Result<Table> AllocateTable(const Plan& plan, const std::vector<TensorInfo>& inputs, size_t rows,
                            const ParseLimits& limits) {
  Table table;
  table.tensors.resize(inputs.size());
  const auto n = static_cast<int64_t>(rows);
  for (size_t k = 0; k < inputs.size(); ++k) {
    table.tensors[k].name = inputs[k].name;
    const Shape shape = plan.per_column ? Shape{n, 1} : Shape{n, plan.width};
    auto t = Tensor::Allocate(InputDType(inputs[k]), shape, limits.max_tensor_bytes);
    if (!t.ok()) return t.status().WithContext("input '" + inputs[k].name + "'");
    table.tensors[k].tensor = std::move(t).value();
  }
  for (int64_t s = 0; s < plan.width; ++s) {
    Slot slot;
    if (plan.per_column) {
      const size_t k = plan.slot_input[static_cast<size_t>(s)];
      slot.tensor = &table.tensors[k].tensor;
      slot.input = &inputs[k].name;
    } else {
      slot.tensor = &table.tensors[0].tensor;
      slot.stride = plan.width;
      slot.offset = s;
      slot.input = &inputs[0].name;
    }
    table.slots.push_back(slot);
  }
  return table;
}

// An RFC 4180 record reader. Fields are views into the text, or into the
// reader's buffer for quoted fields with "" escapes (valid until Next).
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : text_(text) {}

  // Reads the next record, skipping blank lines; false at the end. At most
  // `max_fields` fields are kept; field_count() tells how many there were.
  Result<bool> Next(size_t max_fields, std::vector<Cell>* fields);
  size_t field_count() const { return count_; }
  size_t line() const { return record_line_; }  // where the last record starts, 1-based

 private:
  struct Span {
    size_t begin, size;
    bool in_buffer, quoted;
  };
  std::string_view text_;
  size_t pos_ = 0;
  size_t line_ = 1;
  size_t record_line_ = 0;
  size_t count_ = 0;
  std::string buffer_;
  std::vector<Span> spans_;
};

Result<bool> CsvReader::Next(size_t max_fields, std::vector<Cell>* fields) {
  const size_t n = text_.size();
  for (;;) {  // blank lines
    if (pos_ < n && text_[pos_] == '\n') {
      ++pos_;
      ++line_;
    } else if (pos_ + 1 < n && text_[pos_] == '\r' && text_[pos_ + 1] == '\n') {
      pos_ += 2;
      ++line_;
    } else {
      break;
    }
  }
  fields->clear();
  if (pos_ >= n) return false;
  spans_.clear();
  buffer_.clear();
  count_ = 0;
  record_line_ = line_;
  for (;;) {
    Span span{pos_, 0, false, false};
    if (pos_ < n && text_[pos_] == '"') {
      const size_t quote_line = line_;
      span = {pos_ + 1, 0, false, true};
      size_t at = pos_ + 1;
      for (;;) {
        const size_t q = text_.find('"', at);
        if (q == std::string_view::npos) {
          return InvalidArgument("csv: the quoted field that starts on line " +
                                 std::to_string(quote_line) + " is never closed");
        }
        line_ += static_cast<size_t>(std::count(text_.begin() + static_cast<ptrdiff_t>(at),
                                                text_.begin() + static_cast<ptrdiff_t>(q), '\n'));
        if (q + 1 < n && text_[q + 1] == '"') {  // "" inside quotes: one quote
          if (!span.in_buffer) {
            span = {buffer_.size(), 0, true, true};
            buffer_.append(text_.substr(pos_ + 1, q + 1 - (pos_ + 1)));
          } else {
            buffer_.append(text_.substr(at, q + 1 - at));
          }
          at = q + 2;
          continue;
        }
        if (span.in_buffer) {
          buffer_.append(text_.substr(at, q - at));
          span.size = buffer_.size() - span.begin;
        } else {
          span.size = q - span.begin;
        }
        pos_ = q + 1;
        break;
      }
      if (pos_ < n && text_[pos_] != ',' && text_[pos_] != '\n' &&
          !(text_[pos_] == '\r' && (pos_ + 1 == n || text_[pos_ + 1] == '\n'))) {
        return InvalidArgument("csv line " + std::to_string(line_) +
                               ": text after the closing quote of a field (a quote inside a "
                               "quoted field is written \"\")");
      }
      if (pos_ < n && text_[pos_] == '\r') ++pos_;
    } else {
      size_t e = text_.find_first_of(",\n", pos_);
      if (e == std::string_view::npos) e = n;
      span.size = e - pos_;
      if ((e == n || text_[e] == '\n') && span.size > 0 && text_[e - 1] == '\r') --span.size;
      pos_ = e;
    }
    if (count_++ < max_fields) spans_.push_back(span);
    if (pos_ < n && text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    if (pos_ < n) {  // '\n'
      ++pos_;
      ++line_;
    }
    break;
  }
  for (const Span& s : spans_) {
    Cell c;
    c.kind = Cell::Kind::kText;
    c.text = s.in_buffer ? std::string_view(buffer_).substr(s.begin, s.size)
                         : text_.substr(s.begin, s.size);
    c.literal = s.quoted;
    fields->push_back(c);
  }
  return true;
}

// True for a first row that is data, not a header: numbers and missing
// values, at least one number.
bool LooksNumeric(const std::vector<Cell>& fields) {
  bool any = false;
  for (const Cell& c : fields) {
    const Number n = ParseNumberText(c.text);
    if (n.kind == NumberKind::kNotNumber || n.kind == NumberKind::kOutOfRange) return false;
    any |= n.kind != NumberKind::kMissing;
  }
  return any;
}

Result<std::vector<NamedTensor>> ParseTableCsv(std::string_view text,
                                               const std::vector<TensorInfo>& inputs, Plan plan,
                                               const ParseLimits& limits) {
  std::vector<Cell> fields;
  CsvReader head(text);
  TIFFIN_ASSIGN_OR_RETURN(bool any, head.Next(limits.max_elements, &fields));
  if (!any) return InvalidArgument("csv holds no rows");
  if (head.field_count() > limits.max_elements) {
    return ResourceExhausted("csv has more than " + std::to_string(limits.max_elements) +
                             " columns");
  }
  const bool has_header = !(plan.names.empty() && LooksNumeric(fields));
  std::vector<std::string> header;
  if (has_header)
    for (const Cell& c : fields) header.emplace_back(c.text);
  const size_t n_cols = fields.size();
  TIFFIN_ASSIGN_OR_RETURN(Binding bind, BindColumns(has_header ? &header : nullptr, n_cols, &plan));

  // Pass 1: count the rows and check their width, allocating nothing.
  const size_t max_rows = MaxRows(plan, inputs, limits);
  size_t rows = 0;
  CsvReader counter(text);
  if (has_header) TIFFIN_RETURN_IF_ERROR(counter.Next(0, &fields).status());
  for (;;) {
    TIFFIN_ASSIGN_OR_RETURN(bool more, counter.Next(0, &fields));
    if (!more) break;
    if (counter.field_count() != n_cols) {
      return InvalidArgument(
          "csv row " + std::to_string(rows + 1) + " (line " + std::to_string(counter.line()) +
          ") has " + std::to_string(counter.field_count()) + " fields, the " +
          (has_header ? "header has " : "first row has ") + std::to_string(n_cols));
    }
    if (++rows > max_rows) return TooManyRows(max_rows);
  }
  if (rows == 0) return InvalidArgument("csv holds a header but no data rows");

  // Pass 2: convert.
  TIFFIN_ASSIGN_OR_RETURN(Table table, AllocateTable(plan, inputs, rows, limits));
  CsvReader reader(text);
  if (has_header) TIFFIN_RETURN_IF_ERROR(reader.Next(0, &fields).status());
  for (size_t r = 0; r < rows; ++r) {
    TIFFIN_ASSIGN_OR_RETURN(bool more, reader.Next(n_cols, &fields));
    if (!more || fields.size() != n_cols) return Internal("csv changed between passes");
    for (size_t g = 0; g < n_cols; ++g) {
      TIFFIN_RETURN_IF_ERROR(
          PutCell(table.slots[bind.slot_of_column[g]], bind.labels[g], r, fields[g]));
    }
  }
  return std::move(table.tensors);
}

Cell JsonCell(element e) {
  Cell c;
  switch (e.type()) {
    case element_type::NULL_VALUE:
      break;
    case element_type::STRING:
      c.kind = Cell::Kind::kText;
      c.text = e.get_string().value_unsafe();
      c.literal = true;
      break;
    case element_type::INT64:
      c.kind = Cell::Kind::kInteger;
      c.i = e.get_int64().value_unsafe();
      break;
    case element_type::UINT64:
      c.kind = Cell::Kind::kDouble;
      c.d = static_cast<double>(e.get_uint64().value_unsafe());
      break;
    case element_type::DOUBLE:
      c.kind = Cell::Kind::kDouble;
      c.d = e.get_double().value_unsafe();
      break;
    case element_type::BOOL:
      c.kind = Cell::Kind::kBool;
      c.b = e.get_bool().value_unsafe();
      break;
    case element_type::ARRAY:
    case element_type::OBJECT:
      c.kind = Cell::Kind::kNested;
      break;
  }
  return c;
}

// simdjson's size() saturates at 2^24-1: count past it.
size_t ArrayLength(array a) {
  size_t n = a.size();
  if (n < 0xFFFFFF) return n;
  n = 0;
  for (element e : a) {
    (void)e;
    ++n;
  }
  return n;
}

constexpr const char* kJsonForms =
    "tabular JSON is records [{\"col\": v, ...}, ...], columns {\"col\": [v, ...], ...} or "
    "split {\"columns\": [...], \"data\": [[...], ...]}";

Result<std::vector<NamedTensor>> ParseRecords(array records, const std::vector<TensorInfo>& inputs,
                                              Plan plan, const ParseLimits& limits) {
  const size_t rows = ArrayLength(records);
  if (rows == 0) return InvalidArgument("tabular input holds no records");
  object first;
  if ((*records.begin()).get_object().get(first) != simdjson::SUCCESS) {
    return InvalidArgument(std::string("records[0] is not an object (") + kJsonForms + ")");
  }
  std::vector<std::string> header;
  std::unordered_map<std::string_view, size_t> column_of;
  for (auto field : first) {
    if (!column_of.emplace(field.key, header.size()).second) {
      return InvalidArgument("records[0] has key '" + std::string(field.key) + "' twice");
    }
    header.emplace_back(field.key);
    if (header.size() > limits.max_elements) {
      return ResourceExhausted("tabular input has more than " +
                               std::to_string(limits.max_elements) + " columns");
    }
  }
  const size_t n_cols = header.size();
  TIFFIN_ASSIGN_OR_RETURN(Binding bind, BindColumns(&header, n_cols, &plan));
  const size_t max_rows = MaxRows(plan, inputs, limits);
  if (rows > max_rows) return TooManyRows(max_rows);
  TIFFIN_ASSIGN_OR_RETURN(Table table, AllocateTable(plan, inputs, rows, limits));
  std::vector<size_t> seen(n_cols, 0);  // row + 1 once the row set the column
  size_t r = 0;
  for (element record : records) {
    const std::string where =
        "row " + std::to_string(r + 1) + " (records[" + std::to_string(r) + "])";
    object o;
    if (record.get_object().get(o) != simdjson::SUCCESS) {
      return InvalidArgument(where + " is not an object");
    }
    for (auto field : o) {
      auto it = column_of.find(field.key);
      if (it == column_of.end()) continue;  // a key the first record lacks
      const size_t g = it->second;
      if (seen[g] == r + 1) {
        return InvalidArgument(where + " has key '" + header[g] + "' twice");
      }
      seen[g] = r + 1;
      TIFFIN_RETURN_IF_ERROR(
          PutCell(table.slots[bind.slot_of_column[g]], bind.labels[g], r, JsonCell(field.value)));
    }
    for (size_t g = 0; g < n_cols; ++g) {
      if (seen[g] != r + 1) {
        return InvalidArgument(where + " has no key '" + header[g] +
                               "' (send null for a missing value)");
      }
    }
    ++r;
  }
  return std::move(table.tensors);
}

Result<std::vector<NamedTensor>> ParseSplit(object obj, const std::vector<TensorInfo>& inputs,
                                            Plan plan, const ParseLimits& limits) {
  array columns, data;
  if (obj["columns"].get_array().get(columns) != simdjson::SUCCESS) {
    return InvalidArgument("\"columns\" must be a list of column names");
  }
  if (obj["data"].get_array().get(data) != simdjson::SUCCESS) {
    return InvalidArgument("\"data\" must be a list of rows");
  }
  std::vector<std::string> header;
  for (element c : columns) {
    const Cell name = JsonCell(c);
    if (name.kind == Cell::Kind::kText) {
      header.emplace_back(name.text);
    } else if (name.kind == Cell::Kind::kInteger) {  // pandas' default names: 0, 1, ...
      header.push_back(std::to_string(name.i));
    } else {
      return InvalidArgument("\"columns\" must list names (strings or integers)");
    }
    if (header.size() > limits.max_elements) {
      return ResourceExhausted("tabular input has more than " +
                               std::to_string(limits.max_elements) + " columns");
    }
  }
  const size_t n_cols = header.size();
  TIFFIN_ASSIGN_OR_RETURN(Binding bind, BindColumns(&header, n_cols, &plan));
  const size_t rows = ArrayLength(data);
  if (rows == 0) return InvalidArgument("tabular input holds no rows (\"data\" is empty)");
  const size_t max_rows = MaxRows(plan, inputs, limits);
  if (rows > max_rows) return TooManyRows(max_rows);
  TIFFIN_ASSIGN_OR_RETURN(Table table, AllocateTable(plan, inputs, rows, limits));
  size_t r = 0;
  for (element row : data) {
    array values;
    if (row.get_array().get(values) != simdjson::SUCCESS) {
      return InvalidArgument("data[" + std::to_string(r) + "] is not a list of values");
    }
    size_t g = 0;
    for (element v : values) {
      if (g < n_cols) {
        TIFFIN_RETURN_IF_ERROR(
            PutCell(table.slots[bind.slot_of_column[g]], bind.labels[g], r, JsonCell(v)));
      }
      ++g;
    }
    if (g != n_cols) {
      return InvalidArgument("data[" + std::to_string(r) + "] has " + std::to_string(g) +
                             " values, \"columns\" names " + std::to_string(n_cols));
    }
    ++r;
  }
  return std::move(table.tensors);
}

Result<std::vector<NamedTensor>> ParseColumns(object obj, const std::vector<TensorInfo>& inputs,
                                              Plan plan, const ParseLimits& limits) {
  std::vector<std::string> header;
  std::vector<array> columns;
  for (auto field : obj) {
    array values;
    if (field.value.get_array().get(values) != simdjson::SUCCESS) {
      return InvalidArgument("column '" + std::string(field.key) + "' is not a list of values (" +
                             kJsonForms + ")");
    }
    header.emplace_back(field.key);
    columns.push_back(values);
    if (header.size() > limits.max_elements) {
      return ResourceExhausted("tabular input has more than " +
                               std::to_string(limits.max_elements) + " columns");
    }
  }
  const size_t n_cols = header.size();
  TIFFIN_ASSIGN_OR_RETURN(Binding bind, BindColumns(&header, n_cols, &plan));
  const size_t rows = ArrayLength(columns[0]);
  for (size_t g = 1; g < n_cols; ++g) {
    const size_t n = ArrayLength(columns[g]);
    if (n != rows) {
      return InvalidArgument("column '" + header[g] + "' has " + std::to_string(n) +
                             " values, column '" + header[0] + "' has " + std::to_string(rows));
    }
  }
  if (rows == 0) return InvalidArgument("tabular input holds no rows (the columns are empty)");
  const size_t max_rows = MaxRows(plan, inputs, limits);
  if (rows > max_rows) return TooManyRows(max_rows);
  TIFFIN_ASSIGN_OR_RETURN(Table table, AllocateTable(plan, inputs, rows, limits));
  for (size_t g = 0; g < n_cols; ++g) {
    size_t r = 0;
    for (element v : columns[g]) {
      TIFFIN_RETURN_IF_ERROR(
          PutCell(table.slots[bind.slot_of_column[g]], bind.labels[g], r++, JsonCell(v)));
    }
  }
  return std::move(table.tensors);
}

// pandas orient="split": "columns" and "data", perhaps "index", nothing else.
bool IsSplit(object obj) {
  bool columns = false, data = false;
  for (auto field : obj) {
    if (field.key == "columns") {
      columns = true;
    } else if (field.key == "data") {
      data = true;
    } else if (field.key != "index") {
      return false;
    }
  }
  return columns && data;
}

Result<std::vector<NamedTensor>> ParseTableJson(std::string_view text,
                                                const std::vector<TensorInfo>& inputs,
                                                const Plan& plan, const ParseLimits& limits) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  element root;
  if (auto err = parser.parse(padded).get(root); err) {
    return InvalidArgument(std::string("tabular input is not valid JSON: ") +
                           simdjson::error_message(err));
  }
  object obj;
  if (root.get_object().get(obj) == simdjson::SUCCESS) {  // MLflow's envelopes
    element inner;
    if (obj["dataframe_split"].get(inner) == simdjson::SUCCESS) {
      if (inner.get_object().get(obj) != simdjson::SUCCESS || !IsSplit(obj)) {
        return InvalidArgument(
            "\"dataframe_split\" must be {\"columns\": [...], \"data\": [[...], ...]}");
      }
      return ParseSplit(obj, inputs, plan, limits);
    }
    if (obj["dataframe_records"].get(inner) == simdjson::SUCCESS) {
      if (!inner.is_array()) {
        return InvalidArgument("\"dataframe_records\" must be a list of records");
      }
      root = inner;
    }
  }
  if (root.is_array()) return ParseRecords(root.get_array().value_unsafe(), inputs, plan, limits);
  if (root.get_object().get(obj) != simdjson::SUCCESS) return InvalidArgument(kJsonForms);
  if (IsSplit(obj)) return ParseSplit(obj, inputs, plan, limits);
  if (obj.size() == 0) return InvalidArgument("tabular input names no columns");
  return ParseColumns(obj, inputs, plan, limits);
}

}  // namespace

Result<std::vector<NamedTensor>> ParseTabular(std::string_view text,
                                              const std::vector<TensorInfo>& inputs,
                                              const std::vector<std::string>& feature_names,
                                              const ParseLimits& limits) {
  try {
    TIFFIN_ASSIGN_OR_RETURN(Plan plan, PlanLayout(inputs, feature_names));
    text = SkipBom(text);
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return InvalidArgument("tabular input is empty");
    if (text[first] == '{' || text[first] == '[') {
      return ParseTableJson(text, inputs, plan, limits);
    }
    return ParseTableCsv(text, inputs, std::move(plan), limits);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory parsing tabular input");
  }
}

bool LooksTabular(std::string_view text, const std::vector<TensorInfo>& inputs) {
  if (LooksLikeNpy(text)) return false;
  text = SkipBom(text);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return false;
  if (text[first] == '[') {  // records, not a bare nested list
    const size_t next = text.find_first_not_of(" \t\r\n", first + 1);
    return next != std::string_view::npos && text[next] == '{';
  }
  if (text[first] != '{') return true;  // CSV
  try {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(text);
    object obj;
    if (parser.parse(padded).get_object().get(obj) != simdjson::SUCCESS) return false;
    bool split_keys_only = true, columns = false, data = false, all_flat = true;
    size_t n_keys = 0;
    std::string_view last_key;
    for (auto field : obj) {
      ++n_keys;
      last_key = field.key;
      if (field.key == "dataframe_split" || field.key == "dataframe_records") return true;
      columns |= field.key == "columns";
      data |= field.key == "data";
      split_keys_only &= field.key == "columns" || field.key == "data" || field.key == "index";
      array values;
      if (field.value.get_array().get(values) != simdjson::SUCCESS) {
        all_flat = false;
        continue;
      }
      if (values.begin() != values.end()) {
        const element v = *values.begin();
        if (v.is_array() || v.is_object()) all_flat = false;  // nested: the shorthand or KServe
      }
    }
    if (columns && data && split_keys_only) return true;
    if (!all_flat || n_keys == 0) return false;
    auto plan = PlanLayout(inputs, {});
    if (!plan.ok()) return false;
    // {"x": [1, 2, 3]} for a model whose only input is x: the shorthand, with
    // the list as one row, unless x has one column.
    if (!plan->per_column && n_keys == 1 && last_key == inputs[0].name && plan->width != 1) {
      return false;
    }
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

}  // namespace tiffin::io
