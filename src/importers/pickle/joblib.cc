#include "importers/pickle/joblib.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <system_error>
#include <utility>

#include "importers/pickle/compression.h"
#include "importers/pickle/numpy.h"
#include "tiffin/tensor.h"

namespace tiffin::pickle {

const std::vector<std::string> kJoblibAllowedGlobals = {
    "joblib.numpy_pickle.NumpyArrayWrapper",       // joblib >= 0.10
    "joblib.numpy_pickle.NDArrayWrapper",          // joblib 0.9
    "joblib.numpy_pickle.ZNDArrayWrapper",         // joblib <= 0.9, compressed
    "joblib.numpy_pickle_compat.NDArrayWrapper",   // the same classes, as later
    "joblib.numpy_pickle_compat.ZNDArrayWrapper",  // joblib versions name them
};

namespace {

namespace fs = std::filesystem;
using Kind = PickleValue::Kind;

constexpr std::string_view kZfileMagic = "ZF";
constexpr size_t kZfileLengthWidth = 19;  // joblib: len(hex(2**64))
constexpr size_t kMaxNpyHeader = size_t{1} << 16;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 200)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > 200) out += "...";
  return out + "'";
}

// ------------------------------------------------------------ builders ----

void SetDepth(PickleValue* v) {
  uint32_t d = 0;
  for (const auto& c : v->items) d = std::max(d, c->depth);
  for (const auto& [k, x] : v->entries) d = std::max({d, k->depth, x->depth});
  if (v->state) d = std::max(d, v->state->depth);
  v->depth = d + 1;
}

PickleRef NewValue(Kind kind) {
  auto v = std::make_shared<PickleValue>();
  v->kind = kind;
  return v;
}
PickleRef NewInt(int64_t i) {
  PickleRef v = NewValue(Kind::kInt);
  v->int_value = i;
  return v;
}
PickleRef NewBool(bool b) {
  PickleRef v = NewValue(Kind::kBool);
  v->bool_value = b;
  return v;
}
PickleRef NewString(Kind kind, std::string s) {
  PickleRef v = NewValue(kind);
  v->str_value = std::move(s);
  return v;
}
PickleRef NewGlobal(std::string module, std::string name) {
  PickleRef v = NewValue(Kind::kGlobal);
  v->global = Global{std::move(module), std::move(name)};
  return v;
}
PickleRef NewTuple(std::vector<PickleRef> items) {
  PickleRef v = NewValue(Kind::kTuple);
  v->items = std::move(items);
  SetDepth(v.get());
  return v;
}
PickleRef NewShape(const Shape& shape) {
  std::vector<PickleRef> dims;
  for (int64_t d : shape) dims.push_back(NewInt(d));
  return NewTuple(std::move(dims));
}

// Values NumpyReconstruct and NumpyDTypeValue create, besides the shape's.
constexpr size_t kReconstructValues = 11;
constexpr size_t kDTypeValues = 13;

// numpy's own pickle of an ndarray (numpy.h, protocol <= 4 form).
PickleRef NumpyReconstruct(PickleRef subclass, const Shape& shape, PickleRef dtype, bool fortran,
                           std::string raw) {
  PickleRef obj = NewValue(Kind::kObject);
  obj->global = Global{"numpy._core.multiarray", "_reconstruct"};
  obj->built_by = "REDUCE";
  obj->items = {std::move(subclass), NewTuple({NewInt(0)}), NewString(Kind::kBytes, "b")};
  obj->state = NewTuple({NewInt(1), NewShape(shape), std::move(dtype), NewBool(fortran),
                         NewString(Kind::kBytes, std::move(raw))});
  SetDepth(obj.get());
  return obj;
}

// numpy.dtype(typestr, False, True) with numpy's version-3 state.
PickleRef NumpyDTypeValue(std::string typestr, char endian) {
  PickleRef obj = NewValue(Kind::kObject);
  obj->global = Global{"numpy", "dtype"};
  obj->built_by = "REDUCE";
  obj->items = {NewString(Kind::kStr, std::move(typestr)), NewBool(false), NewBool(true)};
  obj->state =
      NewTuple({NewInt(3), NewString(Kind::kStr, std::string(1, endian)), NewValue(Kind::kNone),
                NewValue(Kind::kNone), NewValue(Kind::kNone), NewInt(-1), NewInt(-1), NewInt(0)});
  SetDepth(obj.get());
  return obj;
}

// The value for string key `key` of a dict (the last one, as in Python), or null.
PickleRef FindRef(const PickleValue& dict, std::string_view key) {
  PickleRef found;
  for (const auto& [k, v] : dict.entries) {
    if (k->is_str() && k->str_value == key) found = v;
  }
  return found;
}

// --------------------------------------------------------------- layout ----

Result<Shape> ShapeOf(const PickleValue& v, const std::string& what) {
  if (!v.is_tuple() && !v.is_list()) {
    return DataLoss(what + ": shape is a " + v.TypeName() + ", expected a tuple of ints");
  }
  if (v.items.size() > 64) {
    return DataLoss(what + ": shape has rank " + std::to_string(v.items.size()) +
                    ", over numpy's 64");
  }
  Shape shape;
  for (const auto& d : v.items) {
    if (!d->is_int() || d->int_value < 0) {
      return DataLoss(what + ": shape " + v.DebugString(80) +
                      " holds a negative or non-integer dimension");
    }
    shape.push_back(d->int_value);
  }
  if (!CheckedElementCount(shape).ok()) {
    return DataLoss(what + ": shape " + ShapeToString(shape) +
                    " has more elements than int64 can count (corrupt file)");
  }
  return shape;
}

struct ItemLayout {
  char kind = 0;
  int64_t itemsize = 0;
  std::string str;  // the type string, e.g. "f8"
};

// Kind and item size of a pickled dtype, by numpy.h's parser. For a dtype it
// refuses as unsupported (sub-array fields, say) the size still comes from
// the type string or the state's elsize, so that the array's bytes can be
// stepped over; converting that array later fails with numpy.h's message.
Result<ItemLayout> LayoutOf(const PickleValue& dtype, const std::string& what) {
  auto parsed = ParseNumpyDType(dtype);
  if (parsed.ok()) return ItemLayout{parsed->kind, parsed->itemsize, parsed->str};
  if (parsed.status().code() != StatusCode::kNotSupported) {
    return parsed.status().WithContext(what);
  }
  ItemLayout out;
  out.str = dtype.items[0]->str_value;  // ParseNumpyDType checked it is a str
  out.kind = out.str.empty() ? 0 : out.str[0];
  for (size_t i = 1; i < out.str.size(); ++i) {
    if (out.str[i] < '0' || out.str[i] > '9' || out.itemsize > (int64_t{1} << 40)) {
      return parsed.status().WithContext(what);
    }
    out.itemsize = out.itemsize * 10 + (out.str[i] - '0');
  }
  if (out.kind == 'U') out.itemsize *= 4;
  const PickleValue* st = dtype.state.get();
  if (st != nullptr && st->is_tuple() && st->items.size() >= 7 && st->items[5]->is_int() &&
      st->items[5]->int_value > 0 && st->items[5]->int_value <= (int64_t{1} << 40)) {
    out.itemsize = st->items[5]->int_value;
  }
  return out;
}

std::string Describe(const std::string& what, const Shape& shape, const ItemLayout& item) {
  return what + " (shape " + ShapeToString(shape) + ", dtype '" + item.str + "')";
}

// prod(shape) * itemsize, if the stream can hold it.
Result<size_t> DataBytes(const Shape& shape, const ItemLayout& item, size_t left, size_t at,
                         const std::string& desc) {
  int64_t count = *CheckedElementCount(shape);  // ShapeOf checked it
  uint64_t n = static_cast<uint64_t>(count);
  uint64_t size = static_cast<uint64_t>(item.itemsize);
  if (size != 0 && n > std::numeric_limits<uint64_t>::max() / size) {
    return DataLoss(desc + ": declares more than 2^64 bytes of data (corrupt file)");
  }
  if (n * size > left) {
    return DataLoss(desc + ": declares " + std::to_string(n * size) + " bytes of data at offset " +
                    std::to_string(at) + ", but only " + std::to_string(left) +
                    " are left (the file is truncated or corrupt)");
  }
  return static_cast<size_t>(n * size);
}

// ------------------------------------------------------------ ZF files ----

// joblib's legacy Z-file: "ZF", the hex length left-justified to 19
// characters (joblib <= 0.8.4 wrote one more space), then one zlib stream.
Result<std::string> InflateZfile(std::string_view bytes, size_t max_output, const std::string& what,
                                 int64_t expected = -1) {
  if (!StartsWith(bytes, kZfileMagic)) {
    return DataLoss(what + ": not a joblib ZF file (it does not start with 'ZF')");
  }
  size_t header = kZfileMagic.size() + kZfileLengthWidth;
  if (bytes.size() < header) return DataLoss(what + ": the ZF header is truncated");
  std::string_view len = bytes.substr(kZfileMagic.size(), kZfileLengthWidth);
  while (!len.empty() && len.back() == ' ') len.remove_suffix(1);
  while (!len.empty() && len.front() == ' ') len.remove_prefix(1);
  if (!len.empty() && (len.back() == 'L' || len.back() == 'l')) len.remove_suffix(1);
  if (StartsWith(len, "0x") || StartsWith(len, "0X")) len.remove_prefix(2);
  if (len.empty() || len.size() > 16) {
    return DataLoss(what + ": the ZF header's length " + Quote(bytes.substr(2, 19)) +
                    " is not a hexadecimal number");
  }
  uint64_t n = 0;
  for (char c : len) {
    int v = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (v < 0) {
      return DataLoss(what + ": the ZF header's length " + Quote(bytes.substr(2, 19)) +
                      " is not a hexadecimal number");
    }
    n = n * 16 + static_cast<uint64_t>(v);
  }
  // A zlib stream never starts with a space, so one here is joblib 0.8's.
  if (bytes.size() > header && bytes[header] == ' ') ++header;
  if (expected >= 0 && n != static_cast<uint64_t>(expected)) {
    return DataLoss(what + ": the ZF header records " + std::to_string(n) +
                    " bytes, but the array needs " + std::to_string(expected) + " (corrupt file)");
  }
  if (n > max_output) {
    return ResourceExhausted(what + ": the ZF header records " + std::to_string(n) +
                             " bytes, over the limit of " + std::to_string(max_output));
  }
  auto out = InflateZlibExactly(bytes.substr(header), static_cast<size_t>(n), max_output);
  if (!out.ok()) return out.status().WithContext(what);
  return out;
}

// ----------------------------------------------------------- .npy files ----

// A Python literal in a .npy header: str, int, bool/None, tuple or list.
struct Literal {
  enum class Kind { kStr, kInt, kBool, kNone, kTuple, kList } kind = Kind::kNone;
  std::string str;
  int64_t i = 0;
  bool b = false;
  std::vector<Literal> items;
};

class LiteralParser {
 public:
  explicit LiteralParser(std::string_view s) : s_(s) {}

  // The header's dict, as (key, value) pairs.
  Result<std::vector<std::pair<std::string, Literal>>> Dict() {
    std::vector<std::pair<std::string, Literal>> out;
    if (!Eat('{')) return Bad("expected '{'");
    while (!Eat('}')) {
      TIFFIN_ASSIGN_OR_RETURN(Literal key, Value(0));
      if (key.kind != Literal::Kind::kStr) return Bad("a key is not a string");
      if (!Eat(':')) return Bad("expected ':'");
      TIFFIN_ASSIGN_OR_RETURN(Literal value, Value(0));
      out.emplace_back(std::move(key.str), std::move(value));
      if (!Eat(',')) {
        if (!Eat('}')) return Bad("expected ',' or '}'");
        break;
      }
    }
    return out;
  }

 private:
  Status Bad(std::string_view why) const {
    return DataLoss("the .npy header is not a Python dict literal: " + std::string(why) +
                    " at character " + std::to_string(i_));
  }
  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n')) ++i_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  Result<Literal> Value(int depth) {
    if (depth > 8) return Bad("nested too deeply");
    SkipSpace();
    if (i_ >= s_.size()) return Bad("unexpected end");
    Literal v;
    char c = s_[i_];
    if (c == 'u' && i_ + 1 < s_.size() && (s_[i_ + 1] == '\'' || s_[i_ + 1] == '"')) c = s_[++i_];
    if (c == '\'' || c == '"') {
      size_t end = s_.find(c, i_ + 1);
      if (end == std::string_view::npos) return Bad("unterminated string");
      v.kind = Literal::Kind::kStr;
      v.str = std::string(s_.substr(i_ + 1, end - i_ - 1));
      i_ = end + 1;
      return v;
    }
    if (c == '(' || c == '[') {
      char close = c == '(' ? ')' : ']';
      v.kind = c == '(' ? Literal::Kind::kTuple : Literal::Kind::kList;
      ++i_;
      while (!Eat(close)) {
        if (v.items.size() > 64) return Bad("a sequence is too long");
        TIFFIN_ASSIGN_OR_RETURN(Literal item, Value(depth + 1));
        v.items.push_back(std::move(item));
        if (!Eat(',')) {
          if (!Eat(close)) return Bad("expected ',' or a closing bracket");
          break;
        }
      }
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      bool negative = c == '-';
      if (negative) ++i_;
      size_t start = i_;
      uint64_t n = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        n = n * 10 + static_cast<uint64_t>(s_[i_] - '0');
        if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Bad("an integer is out of range");
        }
        ++i_;
      }
      if (i_ == start) return Bad("a lone '-'");
      if (i_ < s_.size() && (s_[i_] == 'L' || s_[i_] == 'l')) ++i_;  // Python 2 long
      v.kind = Literal::Kind::kInt;
      v.i = negative ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
      return v;
    }
    for (std::string_view word : {"True", "False", "None"}) {
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        v.kind = word == "None" ? Literal::Kind::kNone : Literal::Kind::kBool;
        v.b = word == "True";
        return v;
      }
    }
    return Bad("unexpected character");
  }

  std::string_view s_;
  size_t i_ = 0;
};

struct NpyHeader {
  char endian = '|';
  std::string typestr;  // without the byte-order character, e.g. "f8", "O"
  bool fortran = false;
  Shape shape;
  size_t data_offset = 0;
};

Result<NpyHeader> ParseNpyHeader(std::string_view f, const std::string& what) {
  if (!StartsWith(f, "\x93NUMPY") || f.size() < 10) {
    return DataLoss(what + ": not a .npy file (no '\\x93NUMPY' magic)");
  }
  uint8_t major = static_cast<uint8_t>(f[6]);
  size_t start = 10, length = 0;
  if (major == 1) {
    length = static_cast<uint8_t>(f[8]) | (size_t{static_cast<uint8_t>(f[9])} << 8);
  } else if (major == 2 || major == 3) {
    if (f.size() < 12) return DataLoss(what + ": the .npy header is truncated");
    start = 12;
    for (int k = 3; k >= 0; --k) length = (length << 8) | static_cast<uint8_t>(f[8 + k]);
  } else {
    return NotSupported(what + ": .npy format version " + std::to_string(major) +
                        " (1, 2 and 3 are read)");
  }
  if (length > kMaxNpyHeader || length > f.size() - start) {
    return DataLoss(what + ": the .npy header declares " + std::to_string(length) +
                    " bytes, but the file holds " + std::to_string(f.size() - start) +
                    " after it (or over the 64 KiB limit)");
  }
  auto dict = LiteralParser(f.substr(start, length)).Dict();
  if (!dict.ok()) return dict.status().WithContext(what);
  NpyHeader h;
  h.data_offset = start + length;
  bool have_descr = false, have_shape = false;
  for (const auto& [key, v] : *dict) {
    if (key == "descr") {
      if (v.kind != Literal::Kind::kStr) {
        return NotSupported(what + ": structured .npy side files are not supported");
      }
      std::string_view d = v.str;
      if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
        h.endian = d[0];
        d.remove_prefix(1);
      }
      if (d.empty() || d.size() > 24) return DataLoss(what + ": .npy descr " + Quote(v.str));
      h.typestr = std::string(d);
      have_descr = true;
    } else if (key == "fortran_order") {
      if (v.kind != Literal::Kind::kBool) return DataLoss(what + ": fortran_order is not a bool");
      h.fortran = v.b;
    } else if (key == "shape") {
      if (v.kind != Literal::Kind::kTuple) return DataLoss(what + ": .npy shape is not a tuple");
      for (const Literal& d : v.items) {
        if (d.kind != Literal::Kind::kInt || d.i < 0) {
          return DataLoss(what + ": .npy shape holds a negative or non-integer dimension");
        }
        h.shape.push_back(d.i);
      }
      if (!CheckedElementCount(h.shape).ok()) {
        return DataLoss(what + ": .npy shape " + ShapeToString(h.shape) +
                        " has more elements than int64 can count");
      }
      have_shape = true;
    }
  }
  if (!have_descr || !have_shape) return DataLoss(what + ": the .npy header lacks descr or shape");
  return h;
}

// A side file name joblib could have written: a plain name in the directory.
bool IsPlainFileName(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name.find('/') == std::string_view::npos &&
         name.find('\\') == std::string_view::npos && name.find('\0') == std::string_view::npos &&
         name.find("..") == std::string_view::npos && name != ".";
}

// "<other>_<NN>.npy[.z]" -> "<main>_<NN>.npy[.z]", or "" if `recorded` does
// not have joblib's form.
std::string RenamedSideName(std::string_view recorded, std::string_view main) {
  if (main.empty()) return "";
  std::string_view ext = EndsWith(recorded, ".npy.z") ? ".npy.z"
                         : EndsWith(recorded, ".npy") ? ".npy"
                                                      : "";
  if (ext.empty()) return "";
  std::string_view stem = recorded.substr(0, recorded.size() - ext.size());
  size_t digits = 0;
  while (digits < stem.size() && stem[stem.size() - 1 - digits] >= '0' &&
         stem[stem.size() - 1 - digits] <= '9') {
    ++digits;
  }
  if (digits == 0 || digits >= stem.size() || stem[stem.size() - 1 - digits] != '_') return "";
  std::string out =
      std::string(main) + std::string(stem.substr(stem.size() - 1 - digits)) + std::string(ext);
  return out == recorded || !IsPlainFileName(out) ? "" : out;
}

bool AsBool(const PickleValue& v, bool* out) {
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

// --------------------------------------------------------------- reader ----

class JoblibReader {
 public:
  JoblibReader(const PickleOptions& user, std::string base_dir, std::string file_name)
      : options_(user),
        user_after_build_(user.after_build),
        base_dir_(std::move(base_dir)),
        file_name_(std::move(file_name)) {
    for (const auto* extra : {&kNumpyAllowedGlobals, &kJoblibAllowedGlobals}) {
      options_.allowed_globals.insert(options_.allowed_globals.end(), extra->begin(), extra->end());
    }
    // joblib reads an object array's nested pickle with plain pickle.load:
    // no wrappers are expected in it, so only the caller's hook runs there.
    nested_ = options_;
    options_.after_build = [this](const PickleValue& built, PickleInput* input) {
      return OnBuild(built, input);
    };
  }
  JoblibReader(const JoblibReader&) = delete;
  JoblibReader& operator=(const JoblibReader&) = delete;

  Result<JoblibFile> Read(std::string_view file_bytes) {
    if (file_bytes.size() > options_.max_bytes) {
      return ResourceExhausted("joblib: the file is " + std::to_string(file_bytes.size()) +
                               " bytes, over the limit of " + std::to_string(options_.max_bytes) +
                               " (raise PickleOptions::max_bytes if intended)");
    }
    JoblibFile out;
    std::string decompressed;
    std::string_view stream = file_bytes;
    if (StartsWith(file_bytes, kZfileMagic)) {
      TIFFIN_ASSIGN_OR_RETURN(decompressed,
                              InflateZfile(file_bytes, options_.max_bytes, "joblib ZF file"));
      stream = decompressed;
      out.compression = "zfile";
    } else if (DetectCompression(file_bytes) != "none") {
      TIFFIN_ASSIGN_OR_RETURN(decompressed,
                              DecompressStream(file_bytes, options_.max_bytes, &out.compression));
      stream = decompressed;
    }
    TIFFIN_ASSIGN_OR_RETURN(ParsedPickle parsed, ParsePickleStream(stream, options_));
    out.root = std::move(parsed.value);
    out.pickle_protocol = parsed.protocol;
    out.numpy_arrays_inline = inline_arrays_;
    out.n_arrays = n_arrays_;
    out.numpy2_paths = stream.find("numpy._core") != std::string_view::npos;
    out.side_files = std::move(side_files_);
    return out;
  }

 private:
  Result<PickleRef> OnBuild(const PickleValue& built, PickleInput* input) {
    const Global& g = built.global;
    bool joblib_module =
        g.module == "joblib.numpy_pickle" || g.module == "joblib.numpy_pickle_compat";
    bool inline_wrapper = g.module == "joblib.numpy_pickle" && g.name == "NumpyArrayWrapper";
    bool npy_wrapper = joblib_module && g.name == "NDArrayWrapper";
    bool zfile_wrapper = joblib_module && g.name == "ZNDArrayWrapper";
    if (!inline_wrapper && !npy_wrapper && !zfile_wrapper) {
      if (user_after_build_) return user_after_build_(built, input);
      return PickleRef();
    }
    std::string what = "joblib array #" + std::to_string(++n_arrays_);
    const PickleValue* state = built.state.get();
    if (state == nullptr || !state->is_dict()) {
      return DataLoss(what + ": the " + g.name + " state is a " +
                      (state ? state->TypeName() : std::string("None")) + ", expected a dict");
    }
    if (inline_wrapper) {
      inline_arrays_ = true;
      return InlineArray(*state, input, what);
    }
    if (npy_wrapper) return NpySideFile(*state, what);
    return ZfileSideFile(*state, what);
  }

  // NumpyArrayWrapper: the array's bytes follow in the stream.
  Result<PickleRef> InlineArray(const PickleValue& state, PickleInput* input,
                                const std::string& what) {
    PickleRef subclass = FindRef(state, "subclass");
    PickleRef shape_v = FindRef(state, "shape");
    PickleRef order = FindRef(state, "order");
    PickleRef dtype = FindRef(state, "dtype");
    if (!subclass || !shape_v || !order || !dtype) {
      return DataLoss(what + ": the NumpyArrayWrapper state lacks subclass, shape, order or dtype");
    }
    if (!subclass->is_global()) {
      return DataLoss(what + ": the array subclass is a " + subclass->TypeName() +
                      ", expected a class");
    }
    if (!order->is_str() || (order->str_value != "C" && order->str_value != "F")) {
      return DataLoss(what + ": order is " + order->DebugString(20) + ", expected 'C' or 'F'");
    }
    TIFFIN_ASSIGN_OR_RETURN(Shape shape, ShapeOf(*shape_v, what));
    TIFFIN_ASSIGN_OR_RETURN(ItemLayout item, LayoutOf(*dtype, what));
    std::string desc = Describe(what, shape, item);
    if (item.kind == 'O') {
      // Object arrays: a complete pickle of the array follows.
      auto nested = ParsePickleStream(input->rest(), nested_);
      if (!nested.ok()) return nested.status().WithContext(desc + ": nested pickle");
      TIFFIN_RETURN_IF_ERROR(input->Skip(nested->end_offset, desc));
      return std::make_shared<PickleValue>(std::move(nested->value));
    }
    PickleRef align = FindRef(state, "numpy_array_alignment_bytes");
    if (align && !align->is_none()) {
      if (!align->is_int() || align->int_value <= 0) {
        return DataLoss(desc + ": numpy_array_alignment_bytes is " + align->DebugString(20) +
                        ", expected a positive int or None");
      }
      TIFFIN_ASSIGN_OR_RETURN(std::string_view n, input->Read(1, desc + ": padding length"));
      TIFFIN_RETURN_IF_ERROR(input->Skip(static_cast<uint8_t>(n[0]), desc + ": padding"));
    }
    TIFFIN_ASSIGN_OR_RETURN(size_t n, DataBytes(shape, item, input->left(), input->offset(), desc));
    TIFFIN_ASSIGN_OR_RETURN(std::string_view raw, input->Read(n, desc));
    TIFFIN_RETURN_IF_ERROR(Charge(kReconstructValues + shape.size(), desc));
    return NumpyReconstruct(subclass, shape, dtype, order->str_value == "F", std::string(raw));
  }

  // NDArrayWrapper (joblib 0.9): the array is a .npy side file.
  Result<PickleRef> NpySideFile(const PickleValue& state, const std::string& what) {
    PickleRef subclass = FindRef(state, "subclass");
    if (subclass && !subclass->is_global()) {
      return DataLoss(what + ": the array subclass is a " + subclass->TypeName() +
                      ", expected a class");
    }
    if (!subclass) subclass = NewGlobal("numpy", "ndarray");
    std::string name;
    TIFFIN_ASSIGN_OR_RETURN(std::string file,
                            ReadSideFile(FindRef(state, "filename"), what, &name));
    std::string in_file = what + " (side file " + Quote(name) + ")";
    TIFFIN_ASSIGN_OR_RETURN(NpyHeader h, ParseNpyHeader(file, in_file));
    std::string_view data = std::string_view(file).substr(h.data_offset);
    if (h.typestr[0] == 'O') {
      // numpy.save writes object arrays as a pickle of the array.
      auto nested = ParsePickleStream(data, nested_);
      if (!nested.ok()) return nested.status().WithContext(in_file + ": pickled object array");
      return std::make_shared<PickleValue>(std::move(nested->value));
    }
    TIFFIN_RETURN_IF_ERROR(Charge(kReconstructValues + kDTypeValues + h.shape.size(), in_file));
    PickleRef dtype = NumpyDTypeValue(h.typestr, h.endian == '=' ? '<' : h.endian);
    TIFFIN_ASSIGN_OR_RETURN(ItemLayout item, LayoutOf(*dtype, in_file));
    std::string desc = Describe(in_file, h.shape, item);
    TIFFIN_ASSIGN_OR_RETURN(size_t n, DataBytes(h.shape, item, data.size(), h.data_offset, desc));
    return NumpyReconstruct(subclass, h.shape, dtype, h.fortran, std::string(data.substr(0, n)));
  }

  // ZNDArrayWrapper (joblib <= 0.9 with compression): _reconstruct(*init_args)
  // then __setstate__(state + (data,)), the data in a ZF side file.
  Result<PickleRef> ZfileSideFile(const PickleValue& state, const std::string& what) {
    PickleRef init_args = FindRef(state, "init_args");
    PickleRef st = FindRef(state, "state");
    if (!init_args || !init_args->is_tuple() || init_args->items.empty() ||
        !init_args->items[0]->is_global()) {
      return DataLoss(what + ": ZNDArrayWrapper init_args should be (subclass, ...), got " +
                      (init_args ? init_args->DebugString(60) : std::string("nothing")));
    }
    if (!st || !st->is_tuple() || (st->items.size() != 3 && st->items.size() != 4)) {
      return DataLoss(what +
                      ": ZNDArrayWrapper state should be (version, shape, dtype, "
                      "is_fortran), got " +
                      (st ? st->DebugString(60) : std::string("nothing")));
    }
    size_t o = st->items.size() == 4 ? 1 : 0;
    TIFFIN_ASSIGN_OR_RETURN(Shape shape, ShapeOf(*st->items[o], what));
    PickleRef dtype = st->items[o + 1];
    TIFFIN_ASSIGN_OR_RETURN(ItemLayout item, LayoutOf(*dtype, what));
    bool fortran = false;
    if (!AsBool(*st->items[o + 2], &fortran)) {
      return DataLoss(what + ": is_fortran is a " + st->items[o + 2]->TypeName());
    }
    std::string desc = Describe(what, shape, item);
    if (item.kind == 'O') return DataLoss(desc + ": object arrays have no ZF side file");
    TIFFIN_ASSIGN_OR_RETURN(size_t n, DataBytes(shape, item, options_.max_bytes, 0, desc));
    std::string name;
    TIFFIN_ASSIGN_OR_RETURN(std::string file,
                            ReadSideFile(FindRef(state, "filename"), desc, &name));
    TIFFIN_ASSIGN_OR_RETURN(
        std::string raw, InflateZfile(file, options_.max_bytes, desc + " side file " + Quote(name),
                                      static_cast<int64_t>(n)));
    TIFFIN_RETURN_IF_ERROR(Charge(kReconstructValues + shape.size(), desc));
    return NumpyReconstruct(init_args->items[0], shape, dtype, fortran, std::move(raw));
  }

  // Counts values made here against max_objects, like the parser's own: a
  // stream of empty arrays costs a few bytes each but builds a dozen values.
  Status Charge(size_t values, const std::string& what) {
    created_ += values;
    if (created_ > options_.max_objects) {
      return ResourceExhausted(what + ": the arrays' values exceed max_objects (" +
                               std::to_string(options_.max_objects) + "; raise it if intended)");
    }
    return Status::Ok();
  }

  // Reads side file `name_value` from the base directory; `*found` is the
  // name it was found under.
  Result<std::string> ReadSideFile(const PickleRef& name_value, const std::string& what,
                                   std::string* found) {
    if (!name_value || !name_value->is_str()) {
      return DataLoss(what + ": the wrapper's filename is " +
                      (name_value ? name_value->DebugString(40) : std::string("missing")) +
                      ", expected a str");
    }
    const std::string& name = name_value->str_value;
    if (base_dir_.empty()) {
      return FailedPrecondition(what + ": the array is in a side file " + Quote(name) +
                                " (joblib < 0.10), but the reader has no directory to look in "
                                "(read the file by path)");
    }
    if (!IsPlainFileName(name)) {
      return InvalidArgument(what + ": refusing side file name " + Quote(name) +
                             ": it must be a plain file name in the main file's directory (no "
                             "'/', '\\' or '..'); this file may be malicious");
    }
    fs::path dir(base_dir_);
    std::error_code ec;
    std::string chosen = name;
    if (!fs::exists(fs::symlink_status(dir / name, ec))) {
      std::string renamed = RenamedSideName(name, file_name_);
      if (renamed.empty() || !fs::exists(fs::symlink_status(dir / renamed, ec))) {
        return NotFound(what + ": side file " + Quote(name) + " is not in " + Quote(dir.string()) +
                        (renamed.empty() ? "" : " (nor is " + Quote(renamed) + ")"));
      }
      chosen = renamed;
    }
    fs::path real = fs::canonical(dir / chosen, ec);
    if (ec) {
      return NotFound(what + ": side file " + Quote(chosen) + " cannot be resolved (" +
                      ec.message() + ")");
    }
    fs::path real_dir = fs::canonical(dir, ec);
    if (ec || real.parent_path() != real_dir) {
      return InvalidArgument(what + ": side file " + Quote(chosen) +
                             " is a link that leads outside " + Quote(dir.string()) +
                             "; refusing (this file may be malicious)");
    }
    if (!fs::is_regular_file(real, ec)) {
      return InvalidArgument(what + ": side file " + Quote(chosen) + " is not a regular file");
    }
    uintmax_t size = fs::file_size(real, ec);
    if (ec) return NotFound(what + ": side file " + Quote(chosen) + ": " + ec.message());
    if (size > options_.max_bytes - std::min<uint64_t>(side_bytes_, options_.max_bytes)) {
      return ResourceExhausted(what + ": side file " + Quote(chosen) + " is " +
                               std::to_string(size) + " bytes; side files may hold " +
                               std::to_string(options_.max_bytes) +
                               " bytes together (raise PickleOptions::max_bytes if intended)");
    }
    std::ifstream f(real, std::ios::binary);
    std::string data(static_cast<size_t>(size), '\0');
    if (size > 0) f.read(data.data(), static_cast<std::streamsize>(size));
    if (!f || static_cast<uintmax_t>(f.gcount()) != size) {
      return DataLoss(what + ": could not read side file " + Quote(chosen));
    }
    side_bytes_ += size;
    side_files_.push_back(chosen);
    *found = chosen;
    return data;
  }

  PickleOptions options_;  // the caller's, with joblib's globals and hook
  PickleOptions nested_;   // for pickles inside the stream and .npy files
  AfterBuild user_after_build_;
  std::string base_dir_;
  std::string file_name_;
  uint64_t side_bytes_ = 0;
  size_t created_ = 0;
  int64_t n_arrays_ = 0;
  bool inline_arrays_ = false;
  std::vector<std::string> side_files_;
};

}  // namespace

Result<JoblibFile> ReadJoblibOrPickleBytes(std::string_view bytes, const std::string& base_dir,
                                           const PickleOptions& options,
                                           std::string_view file_name) {
  JoblibReader reader(options, base_dir, std::string(file_name));
  return reader.Read(bytes);
}

Result<JoblibFile> ReadJoblibOrPickle(const std::string& path, const PickleOptions& options) {
  std::error_code ec;
  uintmax_t size = fs::file_size(path, ec);
  if (ec) return NotFound(path + ": " + ec.message());
  if (size > options.max_bytes) {
    return ResourceExhausted(path + ": the file is " + std::to_string(size) +
                             " bytes, over the limit of " + std::to_string(options.max_bytes) +
                             " (raise PickleOptions::max_bytes if intended)");
  }
  std::ifstream f(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(size), '\0');
  if (size > 0) f.read(bytes.data(), static_cast<std::streamsize>(size));
  if (!f || static_cast<uintmax_t>(f.gcount()) != size) return DataLoss(path + ": read failed");
  fs::path p(path);
  std::string dir = p.has_parent_path() ? p.parent_path().string() : std::string(".");
  auto file = ReadJoblibOrPickleBytes(bytes, dir, options, p.filename().string());
  if (!file.ok()) return file.status().WithContext(path);
  return file;
}

}  // namespace tiffin::pickle
