#include "io/tensor_io.h"

#include "core/utf8.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

namespace tiffin::io {

namespace {

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

Result<std::vector<NamedTensor>> ParseJsonInputs(std::string_view json,
                                                 const std::vector<TensorInfo>& expected,
                                                 const ParseLimits& limits) {
  try {
    return ParseJsonInputsImpl(json, expected, limits);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory parsing the JSON request");
  }
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
      object io;
      const std::string where = "inputs[" + std::to_string(k++) + "]";
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
          shape.push_back(v);
        }
        if (shape.size() > 64) return InvalidArgument("input '" + name + "': rank over 64");
      } else {
        shape = nested;
      }
      TIFFIN_ASSIGN_OR_RETURN(Tensor t, BuildTensor(name, dtype, shape, leaves, limits));
      out.push_back({name, std::move(t)});
    }
    return out;
  }
  for (auto field : obj) {
    std::string name(field.key);
    const TensorInfo* info = FindInfo(expected, name);
    Shape shape;
    std::vector<element> leaves;
    TIFFIN_RETURN_IF_ERROR(Flatten(field.value, 0, &shape, &leaves, name, limits));
    DType dtype = info && info->dtype != DType::kUndefined ? info->dtype : GuessDType(leaves);
    TIFFIN_ASSIGN_OR_RETURN(Tensor t, BuildTensor(name, dtype, shape, leaves, limits));
    out.push_back({name, std::move(t)});
  }
  if (out.empty()) {
    return InvalidArgument(
        "request names no inputs; send {\"inputs\": [...]} or {\"<input>\": [...]}");
  }
  return out;
}
}  // namespace

namespace {

template <typename T>
void AppendNumber(T v, std::string* out) {
  char buf[64];
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(v)) {
      out->append("null");
      return;
    }
  }
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace

void AppendJsonData(const Tensor& t, std::string* out) {
  out->push_back('[');
  for (int64_t i = 0; i < t.size(); ++i) {
    if (i) out->push_back(',');
    switch (t.dtype()) {
      case DType::kFloat32:
        AppendNumber(t.data<float>()[i], out);
        break;
      case DType::kFloat64:
        AppendNumber(t.data<double>()[i], out);
        break;
      case DType::kFloat16:
        AppendNumber(static_cast<float>(t.data<Float16>()[i]), out);
        break;
      case DType::kInt8:
        AppendNumber(t.data<int8_t>()[i], out);
        break;
      case DType::kInt16:
        AppendNumber(t.data<int16_t>()[i], out);
        break;
      case DType::kInt32:
        AppendNumber(t.data<int32_t>()[i], out);
        break;
      case DType::kInt64:
        AppendNumber(t.data<int64_t>()[i], out);
        break;
      case DType::kUInt8:
        AppendNumber(t.data<uint8_t>()[i], out);
        break;
      case DType::kUInt16:
        AppendNumber(t.data<uint16_t>()[i], out);
        break;
      case DType::kUInt32:
        AppendNumber(t.data<uint32_t>()[i], out);
        break;
      case DType::kUInt64:
        AppendNumber(t.data<uint64_t>()[i], out);
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

}  // namespace tiffin::io
