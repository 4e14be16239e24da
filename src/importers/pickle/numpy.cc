#include "importers/pickle/numpy.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "core/utf8.h"

namespace tiffin::pickle {

const std::vector<std::string> kNumpyAllowedGlobals = {
    "numpy._core.multiarray._reconstruct",
    "numpy._core.multiarray.scalar",
    "numpy._core.numeric._frombuffer",
    "numpy.dtype",
    "numpy.ndarray",
    // Spellings written by some numpy releases (see formats.md 1.5/1.6).
    "numpy._core._multiarray_umath._reconstruct",
    "numpy._core._multiarray_umath.scalar",
    "numpy._core.multiarray.dtype",
};

namespace {

using Kind = PickleValue::Kind;

constexpr const char* kReconstruct = "numpy._core.multiarray._reconstruct";
constexpr const char* kFromBuffer = "numpy._core.numeric._frombuffer";
constexpr const char* kScalar = "numpy._core.multiarray.scalar";

// Python 2 str values arrive decoded as latin-1; numpy re-encodes them.
Result<std::string> Utf8ToLatin1(const std::string& s, const std::string& what) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
      out.push_back(
          static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F)));
      ++i;
    } else {
      return DataLoss(
          what + ": text data holds characters above U+00FF, so it is not latin-1 array bytes");
    }
  }
  return out;
}

Result<std::string> DataBytes(const PickleValue& v, const std::string& what) {
  if (v.kind == Kind::kBytes) return v.str_value;
  if (v.kind == Kind::kStr) return Utf8ToLatin1(v.str_value, what);
  return DataLoss(what + ": array data is a " + v.TypeName() + ", expected bytes");
}

std::optional<DType> NumericDType(char kind, int64_t size) {
  switch (kind) {
    case 'f':
      if (size == 2) return DType::kFloat16;
      if (size == 4) return DType::kFloat32;
      if (size == 8) return DType::kFloat64;
      break;
    case 'i':
      if (size == 1) return DType::kInt8;
      if (size == 2) return DType::kInt16;
      if (size == 4) return DType::kInt32;
      if (size == 8) return DType::kInt64;
      break;
    case 'u':
      if (size == 1) return DType::kUInt8;
      if (size == 2) return DType::kUInt16;
      if (size == 4) return DType::kUInt32;
      if (size == 8) return DType::kUInt64;
      break;
    case 'b':
      if (size == 1) return DType::kBool;
      break;
    default:
      break;
  }
  return std::nullopt;
}

bool AsBoolish(const PickleValue& v, bool* out) {
  if (v.kind == Kind::kBool) {
    *out = v.bool_value;
    return true;
  }
  if (v.is_int()) {
    *out = v.int_value != 0;
    return true;
  }
  return false;
}

Result<NumpyDType> ParseDType(const PickleValue& value, int depth) {
  if (depth > 32) return ResourceExhausted("numpy dtype: fields nest deeper than 32 levels");
  if (!value.IsObjectOf("numpy.dtype") && !value.IsObjectOf("numpy._core.multiarray.dtype")) {
    return DataLoss("numpy dtype: expected an object numpy.dtype, got a " + value.TypeName());
  }
  if (value.items.empty() || !value.items[0]->is_str()) {
    return DataLoss("numpy dtype: the first argument should be a type string like 'f8', got " +
                    value.DebugString(60));
  }
  NumpyDType d;
  d.str = value.items[0]->str_value;
  const std::string& s = d.str;
  if (s.empty() || s.size() > 24)
    return DataLoss("numpy dtype: type string '" + s.substr(0, 24) + "' is malformed");
  d.kind = s[0];
  int64_t size = 0;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return NotSupported("numpy dtype '" + s +
                          "': only kind+size type strings (like 'f8') are read");
    }
    size = size * 10 + (s[i] - '0');
    if (size > (int64_t{1} << 40)) return DataLoss("numpy dtype '" + s + "': item size is absurd");
  }
  if (d.kind == 'U') size *= 4;  // 'U10' counts characters of 4 bytes
  d.itemsize = size;
  d.byte_order = d.itemsize <= 1 ? '|' : '<';

  const PickleValue* st = value.state.get();
  if (st != nullptr) {
    if (!st->is_tuple() || st->items.size() < 2) {
      return DataLoss("numpy dtype '" + s +
                      "': state should be a tuple (version, endian, ...), got " +
                      st->DebugString(60));
    }
    const auto& t = st->items;
    if (t[1]->is_str()) {
      const std::string& e = t[1]->str_value;
      if (e == "<" || e == ">" || e == "|") {
        d.byte_order = e[0];
      } else if (e == "=") {
        d.byte_order = '<';  // only written by very old numpy; tiffin runs little-endian
      } else {
        return DataLoss("numpy dtype '" + s + "': byte order '" + e.substr(0, 8) +
                        "' is not one of < > | =");
      }
    }
    if (t.size() >= 7) {
      if (!t[2]->is_none()) {
        return NotSupported("numpy dtype '" + s + "': sub-array dtypes are not supported");
      }
      const PickleValue& names = *t[3];
      const PickleValue& fields = *t[4];
      if (t[5]->is_int() && t[5]->int_value > 0) {
        if (t[5]->int_value > (int64_t{1} << 40))
          return DataLoss("numpy dtype '" + s + "': elsize is absurd");
        d.itemsize = t[5]->int_value;
      }
      if (names.is_tuple()) {
        if (!fields.is_dict()) {
          return DataLoss("numpy dtype '" + s + "': has field names but fields are a " +
                          fields.TypeName());
        }
        for (const auto& n : names.items) {
          if (!n->is_str())
            return DataLoss("numpy dtype '" + s + "': a field name is a " + n->TypeName());
          const PickleValue* f = fields.Find(n->str_value);
          if (f == nullptr || !f->is_tuple() || f->items.size() < 2 || !f->items[1]->is_int()) {
            return DataLoss("numpy dtype '" + s + "': field '" + n->str_value +
                            "' has no (dtype, offset) entry in the fields dict");
          }
          NumpyField field;
          field.name = n->str_value;
          field.offset = f->items[1]->int_value;
          TIFFIN_ASSIGN_OR_RETURN(field.dtype, ParseDType(*f->items[0], depth + 1));
          if (field.offset < 0 || field.dtype.itemsize > d.itemsize ||
              field.offset > d.itemsize - field.dtype.itemsize) {
            return DataLoss("numpy dtype '" + s + "': field '" + field.name + "' at offset " +
                            std::to_string(field.offset) + " with size " +
                            std::to_string(field.dtype.itemsize) +
                            " does not fit in the item size " + std::to_string(d.itemsize));
          }
          d.fields.push_back(std::move(field));
        }
      }
    }
  }
  if (auto nd = NumericDType(d.kind, d.itemsize); nd && d.fields.empty()) d.dtype = *nd;
  return d;
}

// The pieces of a pickled array, whatever form it came in.
struct ArrayParts {
  Shape shape;
  NumpyDType dtype;
  bool fortran = false;
  const PickleValue* data = nullptr;  // bytes, str (py2) or list (object arrays)
  bool scalar = false;
};

Result<Shape> ParseShape(const PickleValue& v, const std::string& what) {
  if (!v.is_tuple() && !v.is_list())
    return DataLoss(what + ": shape is a " + v.TypeName() + ", expected a tuple");
  if (v.items.size() > 64)
    return DataLoss(what + ": rank " + std::to_string(v.items.size()) + " is over 64");
  Shape shape;
  for (const auto& d : v.items) {
    if (!d->is_int() || d->int_value < 0) {
      return DataLoss(what + ": shape " + v.DebugString(80) +
                      " holds a negative or non-integer dimension");
    }
    shape.push_back(d->int_value);
  }
  TIFFIN_RETURN_IF_ERROR(CheckedElementCount(shape).status());
  return shape;
}

Result<ArrayParts> ExtractParts(const PickleValue& v) {
  ArrayParts p;
  if (v.IsObjectOf(kReconstruct) || v.IsObjectOf("numpy._core._multiarray_umath._reconstruct")) {
    const std::string what = "numpy array";
    if (v.items.empty() || !v.items[0]->is_global() ||
        (v.items[0]->global.FullName() != "numpy.ndarray" &&
         v.items[0]->global.FullName() != "numpy.matrix" &&
         v.items[0]->global.FullName() != "numpy.memmap")) {
      return NotSupported(what + ": _reconstruct of " +
                          (v.items.empty() ? "nothing" : v.items[0]->DebugString(60)) +
                          " (only numpy.ndarray and numpy.matrix are read)");
    }
    const PickleValue* st = v.state.get();
    if (st == nullptr || !st->is_tuple() || (st->items.size() != 5 && st->items.size() != 4)) {
      return DataLoss(what + ": state should be (version, shape, dtype, is_fortran, data), got " +
                      (st ? st->DebugString(80) : std::string("none")));
    }
    size_t o = st->items.size() == 5 ? 1 : 0;
    if (o == 1 &&
        (!st->items[0]->is_int() || st->items[0]->int_value < 0 || st->items[0]->int_value > 1)) {
      return NotSupported(what + ": state version " + st->items[0]->DebugString(20) +
                          " (only 0 and 1 exist)");
    }
    TIFFIN_ASSIGN_OR_RETURN(p.shape, ParseShape(*st->items[o], what));
    TIFFIN_ASSIGN_OR_RETURN(p.dtype, ParseDType(*st->items[o + 1], 0));
    if (!AsBoolish(*st->items[o + 2], &p.fortran)) {
      return DataLoss(what + ": is_fortran is a " + st->items[o + 2]->TypeName());
    }
    p.data = st->items[o + 3].get();
    return p;
  }
  if (v.IsObjectOf(kFromBuffer)) {
    const std::string what = "numpy array (protocol 5)";
    if (v.items.size() != 4) {
      return NotSupported(what + ": _frombuffer with " + std::to_string(v.items.size()) +
                          " arguments (only (buffer, dtype, shape, 'C'|'F') is read)");
    }
    TIFFIN_ASSIGN_OR_RETURN(p.dtype, ParseDType(*v.items[1], 0));
    TIFFIN_ASSIGN_OR_RETURN(p.shape, ParseShape(*v.items[2], what));
    if (!v.items[3]->is_str() || (v.items[3]->str_value != "C" && v.items[3]->str_value != "F")) {
      return NotSupported(what + ": order " + v.items[3]->DebugString(20) +
                          " (only 'C' and 'F' are read)");
    }
    p.fortran = v.items[3]->str_value == "F";
    p.data = v.items[0].get();
    return p;
  }
  if (v.IsObjectOf(kScalar) || v.IsObjectOf("numpy._core._multiarray_umath.scalar")) {
    const std::string what = "numpy scalar";
    if (v.items.size() != 2) {
      return DataLoss(what + ": expected (dtype, data), got " + std::to_string(v.items.size()) +
                      " arguments");
    }
    TIFFIN_ASSIGN_OR_RETURN(p.dtype, ParseDType(*v.items[0], 0));
    p.data = v.items[1].get();
    p.scalar = true;
    return p;
  }
  return InvalidArgument("expected a numpy array or scalar, got a " + v.TypeName());
}

// Copies `n` elements of `itemsize` bytes from Fortran order to C order.
void FortranToC(const char* src, char* dst, const Shape& shape, size_t itemsize) {
  size_t rank = shape.size();
  std::vector<int64_t> idx(rank, 0), fstride(rank, 1);
  for (size_t k = 1; k < rank; ++k) fstride[k] = fstride[k - 1] * shape[k - 1];
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  for (int64_t c = 0; c < n; ++c) {
    int64_t f = 0;
    for (size_t k = 0; k < rank; ++k) f += idx[k] * fstride[k];
    std::memcpy(dst + static_cast<size_t>(c) * itemsize, src + static_cast<size_t>(f) * itemsize,
                itemsize);
    for (size_t k = rank; k-- > 0;) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
}

// Checks the byte count and returns the data in C order.
Result<std::string> CheckedRaw(const ArrayParts& p, const std::string& what) {
  TIFFIN_ASSIGN_OR_RETURN(std::string raw, DataBytes(*p.data, what));
  TIFFIN_ASSIGN_OR_RETURN(int64_t n, CheckedElementCount(p.shape));
  if (p.dtype.itemsize <= 0)
    return NotSupported(what + ": dtype '" + p.dtype.str + "' has no item size");
  if (static_cast<uint64_t>(n) >
          std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(p.dtype.itemsize) ||
      static_cast<uint64_t>(n) * static_cast<uint64_t>(p.dtype.itemsize) != raw.size()) {
    return DataLoss(what + ": shape " + ShapeToString(p.shape) + " of '" + p.dtype.str +
                    "' needs " +
                    std::to_string(static_cast<double>(n) * static_cast<double>(p.dtype.itemsize)) +
                    " bytes, but the data holds " + std::to_string(raw.size()) + " (corrupt file)");
  }
  if (p.fortran && p.shape.size() > 1 && n > 1) {
    std::string c(raw.size(), '\0');
    FortranToC(raw.data(), c.data(), p.shape, static_cast<size_t>(p.dtype.itemsize));
    raw = std::move(c);
  }
  return raw;
}

}  // namespace

Result<NumpyDType> ParseNumpyDType(const PickleValue& value) { return ParseDType(value, 0); }

Result<Tensor> NumpyArrayToTensor(const PickleValue& value) {
  TIFFIN_ASSIGN_OR_RETURN(ArrayParts p, ExtractParts(value));
  const std::string what = p.scalar ? "numpy scalar" : "numpy array";
  if (p.dtype.kind == 'O') {
    return NotSupported(what + " of dtype object: read it with NumpyObjectArrayItems");
  }
  if (p.dtype.is_structured()) {
    return NotSupported(what + " of structured dtype '" + p.dtype.str + "' (" +
                        std::to_string(p.dtype.fields.size()) +
                        " fields): read it with NumpyStructuredArrayFromPickle");
  }
  if ((p.dtype.kind == 'U' || p.dtype.kind == 'S') && p.dtype.fields.empty()) {
    // Fixed-width text: 'U' is UTF-32 code units, 'S' raw bytes; numpy drops
    // trailing NULs when reading an element, so do we.
    TIFFIN_ASSIGN_OR_RETURN(std::string raw, CheckedRaw(p, what));
    TIFFIN_ASSIGN_OR_RETURN(int64_t n, CheckedElementCount(p.shape));
    TIFFIN_ASSIGN_OR_RETURN(Tensor t,
                            Tensor::Allocate(DType::kString, p.shape,
                                             static_cast<size_t>(n) * sizeof(std::string) + 64));
    size_t item = static_cast<size_t>(p.dtype.itemsize);
    std::string* dst = t.data<std::string>();
    for (int64_t i = 0; i < n; ++i) {
      const char* e = raw.data() + static_cast<size_t>(i) * item;
      std::string out;
      if (p.dtype.kind == 'S') {
        size_t len = item;
        while (len > 0 && e[len - 1] == '\0') --len;
        out.assign(e, len);
      } else {
        size_t chars = item / 4;
        while (chars > 0 && std::memcmp(e + (chars - 1) * 4, "\0\0\0\0", 4) == 0) --chars;
        for (size_t c = 0; c < chars; ++c) {
          const auto* b = reinterpret_cast<const unsigned char*>(e + c * 4);
          uint32_t cp =
              p.dtype.big_endian()
                  ? (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3]
                  : (uint32_t{b[3]} << 24) | (uint32_t{b[2]} << 16) | (uint32_t{b[1]} << 8) | b[0];
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return DataLoss(what + " of dtype '" + p.dtype.str + "': element " + std::to_string(i) +
                            " holds an invalid code point " + std::to_string(cp));
          }
          AppendUtf8(cp, &out);
        }
      }
      dst[i] = std::move(out);
    }
    return t;
  }
  if (p.dtype.dtype == DType::kUndefined) {
    return NotSupported(what + " of dtype '" + p.dtype.str + "' (kind '" +
                        std::string(1, p.dtype.kind) +
                        "'): tiffin reads bool, int, uint and float arrays");
  }
  TIFFIN_ASSIGN_OR_RETURN(std::string raw, CheckedRaw(p, what));
  TIFFIN_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(p.dtype.dtype, p.shape, raw.size() + 64));
  size_t item = static_cast<size_t>(p.dtype.itemsize);
  char* dst = static_cast<char*>(t.raw_data());
  if (p.dtype.dtype == DType::kBool) {
    for (size_t i = 0; i < raw.size(); ++i) dst[i] = raw[i] != 0 ? 1 : 0;
  } else if (p.dtype.big_endian() && item > 1) {
    for (size_t i = 0; i < raw.size(); i += item) {
      for (size_t k = 0; k < item; ++k) dst[i + k] = raw[i + item - 1 - k];
    }
  } else if (!raw.empty()) {
    std::memcpy(dst, raw.data(), raw.size());
  }
  return t;
}

Result<NumpyObjectArray> NumpyObjectArrayItems(const PickleValue& value) {
  TIFFIN_ASSIGN_OR_RETURN(ArrayParts p, ExtractParts(value));
  if (p.dtype.kind != 'O') {
    return InvalidArgument("numpy array: dtype is '" + p.dtype.str + "', not object ('O')");
  }
  if (p.scalar || !p.data->is_list()) {
    return DataLoss("numpy object array: data is a " + p.data->TypeName() +
                    ", expected a list of elements");
  }
  TIFFIN_ASSIGN_OR_RETURN(int64_t n, CheckedElementCount(p.shape));
  if (static_cast<uint64_t>(n) != p.data->items.size()) {
    return DataLoss("numpy object array: shape " + ShapeToString(p.shape) + " needs " +
                    std::to_string(n) + " elements, but the list holds " +
                    std::to_string(p.data->items.size()));
  }
  NumpyObjectArray out;
  out.shape = p.shape;
  if (p.fortran && p.shape.size() > 1) {
    // Reorder the element handles like bytes, one pointer per element.
    out.items.resize(p.data->items.size());
    std::vector<const PickleRef*> src(p.data->items.size()), dst(p.data->items.size());
    for (size_t i = 0; i < src.size(); ++i) src[i] = &p.data->items[i];
    FortranToC(reinterpret_cast<const char*>(src.data()), reinterpret_cast<char*>(dst.data()),
               p.shape, sizeof(const PickleRef*));
    for (size_t i = 0; i < dst.size(); ++i) out.items[i] = *dst[i];
  } else {
    out.items = p.data->items;
  }
  return out;
}

Result<NumpyStructuredArray> NumpyStructuredArrayFromPickle(const PickleValue& value) {
  TIFFIN_ASSIGN_OR_RETURN(ArrayParts p, ExtractParts(value));
  if (!p.dtype.is_structured()) {
    return InvalidArgument("numpy array: dtype '" + p.dtype.str + "' is not a structured dtype");
  }
  NumpyStructuredArray out;
  TIFFIN_ASSIGN_OR_RETURN(out.raw, CheckedRaw(p, "numpy structured array"));
  out.shape = p.shape;
  out.dtype = std::move(p.dtype);
  return out;
}

}  // namespace tiffin::pickle
