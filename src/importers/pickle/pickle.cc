#include "importers/pickle/pickle.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "core/utf8.h"

namespace tiffin::pickle {

namespace {

// ---------------------------------------------------------------- names ----

struct Alias {
  std::string_view from;
  std::string_view to;
};

// Module renames. A path is rewritten when it equals `from` or starts with
// `from` + ".". First match wins.
constexpr Alias kAliases[] = {
    {"numpy.core", "numpy._core"},
    {"copy_reg", "copyreg"},
    {"__builtin__", "builtins"},
    {"exceptions", "builtins"},
    {"sklearn.tree.tree", "sklearn.tree._classes"},
    {"sklearn.ensemble.forest", "sklearn.ensemble._forest"},
    {"sklearn.ensemble.gradient_boosting", "sklearn.ensemble._gb"},
    {"sklearn.ensemble.weight_boosting", "sklearn.ensemble._weight_boosting"},
    {"sklearn.ensemble.bagging", "sklearn.ensemble._bagging"},
    {"sklearn.ensemble.iforest", "sklearn.ensemble._iforest"},
    {"sklearn.ensemble.voting", "sklearn.ensemble._voting"},
    {"sklearn.ensemble.base", "sklearn.ensemble._base"},
    {"sklearn.ensemble._gradient_boosting", "sklearn.ensemble._gradient_boosting"},
    {"sklearn.linear_model.logistic", "sklearn.linear_model._logistic"},
    {"sklearn.linear_model.base", "sklearn.linear_model._base"},
    {"sklearn.linear_model.coordinate_descent", "sklearn.linear_model._coordinate_descent"},
    {"sklearn.linear_model.ridge", "sklearn.linear_model._ridge"},
    {"sklearn.linear_model.stochastic_gradient", "sklearn.linear_model._stochastic_gradient"},
    {"sklearn.linear_model.sgd_fast", "sklearn.linear_model._sgd_fast"},
    {"sklearn.linear_model.least_angle", "sklearn.linear_model._least_angle"},
    {"sklearn.linear_model.bayes", "sklearn.linear_model._bayes"},
    {"sklearn.linear_model.huber", "sklearn.linear_model._huber"},
    {"sklearn.linear_model.passive_aggressive", "sklearn.linear_model._passive_aggressive"},
    {"sklearn.linear_model.perceptron", "sklearn.linear_model._perceptron"},
    {"sklearn.linear_model.omp", "sklearn.linear_model._omp"},
    {"sklearn.linear_model.theil_sen", "sklearn.linear_model._theil_sen"},
    {"sklearn.linear_model.ransac", "sklearn.linear_model._ransac"},
    {"sklearn.preprocessing.data", "sklearn.preprocessing._data"},
    {"sklearn.preprocessing.label", "sklearn.preprocessing._label"},
    {"sklearn.preprocessing.function_transformer", "sklearn.preprocessing._function_transformer"},
    {"sklearn.svm.classes", "sklearn.svm._classes"},
    {"sklearn.svm.base", "sklearn.svm._base"},
    {"sklearn.neighbors.classification", "sklearn.neighbors._classification"},
    {"sklearn.neighbors.regression", "sklearn.neighbors._regression"},
    {"sklearn.neighbors.unsupervised", "sklearn.neighbors._unsupervised"},
    {"sklearn.neighbors.base", "sklearn.neighbors._base"},
    {"sklearn.neighbors.kd_tree", "sklearn.neighbors._kd_tree"},
    {"sklearn.neighbors.ball_tree", "sklearn.neighbors._ball_tree"},
    {"sklearn.neighbors.dist_metrics", "sklearn.metrics._dist_metrics"},
    {"sklearn.neighbors._dist_metrics", "sklearn.metrics._dist_metrics"},
    {"sklearn.decomposition.pca", "sklearn.decomposition._pca"},
    {"sklearn.decomposition.truncated_svd", "sklearn.decomposition._truncated_svd"},
    {"sklearn.cluster.k_means_", "sklearn.cluster._kmeans"},
    {"sklearn.neural_network.multilayer_perceptron",
     "sklearn.neural_network._multilayer_perceptron"},
    {"sklearn.naive_bayes", "sklearn.naive_bayes"},
    {"sklearn.impute.base", "sklearn.impute._base"},
    {"sklearn.feature_extraction.dict_vectorizer", "sklearn.feature_extraction._dict_vectorizer"},
    {"sklearn.feature_selection.univariate_selection",
     "sklearn.feature_selection._univariate_selection"},
    {"sklearn.feature_selection.variance_threshold",
     "sklearn.feature_selection._variance_threshold"},
    {"sklearn.compose.column_transformer", "sklearn.compose._column_transformer"},
    // scikit-learn < 0.23 vendored joblib; numpy.matrix is re-exported from
    // its defining module, which is what numpy < 1.16 pickled.
    {"sklearn.externals.joblib", "joblib"},
    {"numpy.matrixlib.defmatrix", "numpy"},
};

bool HasModulePrefix(std::string_view path, std::string_view prefix) {
  return path.size() >= prefix.size() && path.substr(0, prefix.size()) == prefix &&
         (path.size() == prefix.size() || path[prefix.size()] == '.');
}

// Whole modules that are never data: any name in them (or their submodules)
// is refused.
constexpr std::string_view kDangerousModules[] = {
    "os",
    "posix",
    "nt",
    "subprocess",
    "sys",
    "importlib",
    "dill",
    "pty",
    "shutil",
    "socket",
    "runpy",
    "ctypes",
    "multiprocessing",
    "pickle",
    "_pickle",
    "marshal",
    "code",
    "codeop",
    "pdb",
    "webbrowser",
    "asyncio",
    "_io",
    "io",
    "operator",
    "_operator",
    "functools",
    "_functools",
    "profile",
    "cProfile",
    "trace",
    "timeit",
    "doctest",
    "pip",
    "venv",
    "ensurepip",
    "idlelib",
    "lib2to3",
    "numpy.f2py",
    "torch.load",
    "_posixsubprocess",
    "signal",
    "threading",
    "_thread",
    "tempfile",
    "pathlib",
    "glob",
    "http",
    "urllib",
    "ftplib",
    "smtplib",
    "telnetlib",
    "xmlrpc",
    "joblib.load",
    // Library helpers that run code or load other files.
    "types",
    "numpy.testing",
    "numpy.distutils",
    "sklearn.utils._testing",
    "sklearn.utils.testing",
    "torch.serialization",
    "torch.hub",
    "torch.package",
};

// Names in builtins that run code, reach attributes or touch the system.
constexpr std::string_view kDangerousBuiltins[] = {
    "eval",
    "exec",
    "getattr",
    "setattr",
    "delattr",
    "__import__",
    "open",
    "compile",
    "globals",
    "locals",
    "vars",
    "input",
    "breakpoint",
    "exit",
    "quit",
    "help",
    "memoryview",
    "type",
    "super",
    "classmethod",
    "staticmethod",
    "property",
    "object.__reduce__",
    "apply",
    "execfile",
    "reload",
    "file",
};

std::string QuoteForMessage(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 120)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  if (s.size() > 120) out += "...";
  return out + "'";
}

// ------------------------------------------------------------- strings ----

std::string Latin1ToUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) AppendUtf8(static_cast<unsigned char>(c), &out);
  return out;
}

// UTF-8 as CPython's pickle accepts it (surrogatepass: encoded surrogates ok).
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

// Python 2 repr() escapes inside a quoted STRING argument.
Result<std::string> UnescapeStringRepr(std::string_view body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= body.size()) return DataLoss("STRING argument ends in a lone backslash");
    char e = body[i];
    auto hexval = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      if (h >= 'a' && h <= 'f') return h - 'a' + 10;
      if (h >= 'A' && h <= 'F') return h - 'A' + 10;
      return -1;
    };
    switch (e) {
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\n':
        break;
      case 'x': {
        if (i + 2 >= body.size()) return DataLoss("STRING argument has a truncated \\x escape");
        int h = hexval(body[i + 1]), l = hexval(body[i + 2]);
        if (h < 0 || l < 0) return DataLoss("STRING argument has a bad \\x escape");
        out.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7';
               ++k) {
            v = v * 8 + (body[++i] - '0');
          }
          out.push_back(static_cast<char>(v & 0xFF));
        } else {
          out.push_back('\\');
          out.push_back(e);
        }
    }
  }
  return out;
}

// raw-unicode-escape (the UNICODE opcode): latin-1 plus \uXXXX / \UXXXXXXXX.
Result<std::string> DecodeRawUnicodeEscape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
      // An odd run of backslashes before u escapes; pickle never doubles them,
      // so treat every \u as an escape (as raw-unicode-escape does).
      size_t n = s[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + n > s.size()) return DataLoss("UNICODE argument has a truncated \\u escape");
      uint32_t cp = 0;
      for (size_t k = 0; k < n; ++k) {
        char h = s[i + 2 + k];
        int v = (h >= '0' && h <= '9')   ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (v < 0) return DataLoss("UNICODE argument has a bad \\u escape");
        cp = cp * 16 + static_cast<uint32_t>(v);
      }
      if (cp > 0x10FFFF) return DataLoss("UNICODE argument has a code point above U+10FFFF");
      AppendUtf8(cp, &out);
      i += 1 + n;
    } else {
      AppendUtf8(c, &out);
    }
  }
  return out;
}

// Decimal string -> little-endian two's complement bytes.
std::string DecimalToTwosComplement(std::string_view digits, bool negative) {
  std::vector<uint8_t> mag;  // little endian magnitude
  for (char d : digits) {
    uint32_t carry = static_cast<uint32_t>(d - '0');
    for (auto& b : mag) {
      uint32_t v = b * 10u + carry;
      b = static_cast<uint8_t>(v & 0xFF);
      carry = v >> 8;
    }
    while (carry) {
      mag.push_back(static_cast<uint8_t>(carry & 0xFF));
      carry >>= 8;
    }
  }
  mag.push_back(0);  // room for the sign bit
  if (negative) {
    uint32_t carry = 1;
    for (auto& b : mag) {
      uint32_t v = static_cast<uint8_t>(~b) + carry;
      b = static_cast<uint8_t>(v & 0xFF);
      carry = v >> 8;
    }
  }
  return std::string(mag.begin(), mag.end());
}

// Fills `v` (kInt) from little-endian two's complement bytes.
void SetIntFromBytes(std::string_view le, PickleValue* v) {
  v->kind = PickleValue::Kind::kInt;
  // Strip redundant sign-extension bytes.
  size_t n = le.size();
  while (n > 1) {
    uint8_t top = static_cast<uint8_t>(le[n - 1]);
    uint8_t next = static_cast<uint8_t>(le[n - 2]);
    if ((top == 0 && !(next & 0x80)) || (top == 0xFF && (next & 0x80))) {
      --n;
    } else {
      break;
    }
  }
  if (n == 0) {
    v->int_value = 0;
    return;
  }
  if (n <= 8) {
    uint64_t u = 0;
    for (size_t i = 0; i < n; ++i)
      u |= static_cast<uint64_t>(static_cast<uint8_t>(le[i])) << (8 * i);
    if (n < 8 && (static_cast<uint8_t>(le[n - 1]) & 0x80)) u |= ~uint64_t{0} << (8 * n);
    v->int_value = static_cast<int64_t>(u);
    return;
  }
  v->is_big_int = true;
  v->big_int = std::string(le.substr(0, n));
}

// ---------------------------------------------------------------- input ----

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  std::string_view data() const { return data_; }
  size_t pos() const { return pos_; }
  // REQUIRES: pos <= data().size().
  void Seek(size_t pos) { pos_ = pos; }
  size_t left() const { return data_.size() - pos_; }
  bool done() const { return pos_ >= data_.size(); }

  Status Need(size_t n, std::string_view what) const {
    if (n > left()) {
      return DataLoss("pickle: " + std::string(what) + " at offset " + std::to_string(pos_) +
                      " needs " + std::to_string(n) + " bytes, but only " + std::to_string(left()) +
                      " are left (the file is truncated or corrupt)");
    }
    return Status::Ok();
  }
  Result<uint64_t> ReadLE(size_t n, std::string_view what) {
    TIFFIN_RETURN_IF_ERROR(Need(n, what));
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += n;
    return v;
  }
  Result<std::string_view> ReadBytes(uint64_t n, std::string_view what) {
    if (n > left()) {
      return DataLoss("pickle: " + std::string(what) + " at offset " + std::to_string(pos_) +
                      " declares " + std::to_string(n) + " bytes, but only " +
                      std::to_string(left()) + " are left (the file is truncated or corrupt)");
    }
    std::string_view s = data_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  // A line without its "\n".
  Result<std::string_view> ReadLine(std::string_view what) {
    size_t nl = data_.find('\n', pos_);
    if (nl == std::string_view::npos) {
      return DataLoss("pickle: " + std::string(what) + " at offset " + std::to_string(pos_) +
                      " has no terminating newline (the file is truncated or corrupt)");
    }
    std::string_view s = data_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Result<int64_t> ParseDecimalInt64(std::string_view s, std::string_view what) {
  std::string_view t = s;
  while (!t.empty() && (t.back() == ' ' || t.back() == '\r')) t.remove_suffix(1);
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size()) {
    return DataLoss("pickle: " + std::string(what) + " argument " + QuoteForMessage(s) +
                    " is not a decimal integer");
  }
  return v;
}

// Text integer (INT/LONG argument) into `v`.
Status ParseTextInt(std::string_view s, bool allow_l_suffix, size_t max_digits, PickleValue* v) {
  std::string_view t = s;
  if (allow_l_suffix && !t.empty() && t.back() == 'L') t.remove_suffix(1);
  bool negative = false;
  if (!t.empty() && (t.front() == '-' || t.front() == '+')) {
    negative = t.front() == '-';
    t.remove_prefix(1);
  }
  if (t.empty()) return DataLoss("pickle: integer argument " + QuoteForMessage(s) + " is empty");
  for (char c : t) {
    if (c < '0' || c > '9') {
      return DataLoss("pickle: integer argument " + QuoteForMessage(s) +
                      " is not a decimal integer");
    }
  }
  if (t.size() > max_digits) {
    return ResourceExhausted("pickle: integer argument has " + std::to_string(t.size()) +
                             " digits, over the limit of " + std::to_string(max_digits));
  }
  SetIntFromBytes(DecimalToTwosComplement(t, negative), v);
  return Status::Ok();
}

Result<double> ParseTextFloat(std::string_view s) {
  std::string_view t = s;
  while (!t.empty() && (t.back() == ' ' || t.back() == '\r')) t.remove_suffix(1);
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  double d = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
  if (t.empty() || (ec != std::errc() && ec != std::errc::result_out_of_range) ||
      p != t.data() + t.size()) {
    return DataLoss("pickle: FLOAT argument " + QuoteForMessage(s) + " is not a number");
  }
  return d;
}

// ------------------------------------------------------------- opcodes ----

enum Op : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kDup = '2',
  kFloat = 'F',
  kInt = 'I',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kLong = 'L',
  kBinInt2 = 'M',
  kNone = 'N',
  kPersId = 'P',
  kBinPersId = 'Q',
  kReduce = 'R',
  kString = 'S',
  kBinString = 'T',
  kShortBinString = 'U',
  kUnicode = 'V',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kGet = 'g',
  kBinGet = 'h',
  kInst = 'i',
  kLongBinGet = 'j',
  kList = 'l',
  kEmptyList = ']',
  kObj = 'o',
  kPut = 'p',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kBinFloat = 'G',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kProto = 0x80,
  kNewObj = 0x81,
  kExt1 = 0x82,
  kExt2 = 0x83,
  kExt4 = 0x84,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kEmptySet = 0x8f,
  kAddItems = 0x90,
  kFrozenSet = 0x91,
  kNewObjEx = 0x92,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
  kByteArray8 = 0x96,
  kNextBuffer = 0x97,
  kReadonlyBuffer = 0x98,
};

// The pickletools name of `op`, or "opcode 0xNN" for an unknown byte.
std::string OpName(uint8_t op) {
  switch (op) {
    case kMark:
      return "MARK";
    case kStop:
      return "STOP";
    case kPop:
      return "POP";
    case kPopMark:
      return "POP_MARK";
    case kDup:
      return "DUP";
    case kFloat:
      return "FLOAT";
    case kInt:
      return "INT";
    case kBinInt:
      return "BININT";
    case kBinInt1:
      return "BININT1";
    case kLong:
      return "LONG";
    case kBinInt2:
      return "BININT2";
    case kNone:
      return "NONE";
    case kPersId:
      return "PERSID";
    case kBinPersId:
      return "BINPERSID";
    case kReduce:
      return "REDUCE";
    case kString:
      return "STRING";
    case kBinString:
      return "BINSTRING";
    case kShortBinString:
      return "SHORT_BINSTRING";
    case kUnicode:
      return "UNICODE";
    case kBinUnicode:
      return "BINUNICODE";
    case kAppend:
      return "APPEND";
    case kBuild:
      return "BUILD";
    case kGlobal:
      return "GLOBAL";
    case kDict:
      return "DICT";
    case kEmptyDict:
      return "EMPTY_DICT";
    case kAppends:
      return "APPENDS";
    case kGet:
      return "GET";
    case kBinGet:
      return "BINGET";
    case kInst:
      return "INST";
    case kLongBinGet:
      return "LONG_BINGET";
    case kList:
      return "LIST";
    case kEmptyList:
      return "EMPTY_LIST";
    case kObj:
      return "OBJ";
    case kPut:
      return "PUT";
    case kBinPut:
      return "BINPUT";
    case kLongBinPut:
      return "LONG_BINPUT";
    case kSetItem:
      return "SETITEM";
    case kTuple:
      return "TUPLE";
    case kEmptyTuple:
      return "EMPTY_TUPLE";
    case kSetItems:
      return "SETITEMS";
    case kBinFloat:
      return "BINFLOAT";
    case kBinBytes:
      return "BINBYTES";
    case kShortBinBytes:
      return "SHORT_BINBYTES";
    case kProto:
      return "PROTO";
    case kNewObj:
      return "NEWOBJ";
    case kExt1:
      return "EXT1";
    case kExt2:
      return "EXT2";
    case kExt4:
      return "EXT4";
    case kTuple1:
      return "TUPLE1";
    case kTuple2:
      return "TUPLE2";
    case kTuple3:
      return "TUPLE3";
    case kNewTrue:
      return "NEWTRUE";
    case kNewFalse:
      return "NEWFALSE";
    case kLong1:
      return "LONG1";
    case kLong4:
      return "LONG4";
    case kShortBinUnicode:
      return "SHORT_BINUNICODE";
    case kBinUnicode8:
      return "BINUNICODE8";
    case kBinBytes8:
      return "BINBYTES8";
    case kEmptySet:
      return "EMPTY_SET";
    case kAddItems:
      return "ADDITEMS";
    case kFrozenSet:
      return "FROZENSET";
    case kNewObjEx:
      return "NEWOBJ_EX";
    case kStackGlobal:
      return "STACK_GLOBAL";
    case kMemoize:
      return "MEMOIZE";
    case kFrame:
      return "FRAME";
    case kByteArray8:
      return "BYTEARRAY8";
    case kNextBuffer:
      return "NEXT_BUFFER";
    case kReadonlyBuffer:
      return "READONLY_BUFFER";
    default:
      break;
  }
  static const char* hex = "0123456789abcdef";
  std::string s = "opcode 0x";
  s += hex[op >> 4];
  s += hex[op & 15];
  return s;
}

// True for the opcodes of protocol 0 (the text protocol).
bool IsProtocol0Op(uint8_t op) {
  switch (op) {
    case kMark:
    case kStop:
    case kPop:
    case kDup:
    case kFloat:
    case kInt:
    case kLong:
    case kNone:
    case kPersId:
    case kReduce:
    case kString:
    case kUnicode:
    case kAppend:
    case kBuild:
    case kGlobal:
    case kDict:
    case kGet:
    case kInst:
    case kList:
    case kPut:
    case kSetItem:
    case kTuple:
      return true;
    default:
      return false;
  }
}

// --------------------------------------------------------------- parser ----

using Kind = PickleValue::Kind;

class Parser {
 public:
  Parser(std::string_view bytes, const PickleOptions& options)
      : in_(bytes), opt_(options), str_budget_(4 * bytes.size() + (size_t{1} << 20)) {
    for (const std::string& a : options.allowed_globals) {
      std::string c = CanonicalModule(a);
      if (c.size() >= 2 && c.compare(c.size() - 2, 2, ".*") == 0) {
        allowed_prefixes_.push_back(c.substr(0, c.size() - 2));
      } else {
        allowed_.insert(c);
      }
    }
  }
  ~Parser() { Teardown(); }

  Result<ParsedPickle> Run();

 private:
  Status Fail(Status s) const {
    return Status(s.code(), s.message() + " (pickle offset " + std::to_string(op_pos_) + ")");
  }
  Status Error(StatusCode code, const std::string& msg) const {
    return Status(code, "pickle: " + msg + " (at offset " + std::to_string(op_pos_) + ", " +
                            Describe(op_) + ")");
  }
  static std::string Describe(uint8_t op) { return OpName(op); }

  Result<PickleRef> New(Kind kind) {
    if (++created_ > opt_.max_objects) {
      return Error(StatusCode::kResourceExhausted, "more than " + std::to_string(opt_.max_objects) +
                                                       " values (raise max_objects if intended)");
    }
    auto v = std::make_shared<PickleValue>();
    v->kind = kind;
    if (kind == Kind::kTuple || kind == Kind::kList || kind == Kind::kDict || kind == Kind::kSet ||
        kind == Kind::kFrozenSet || kind == Kind::kObject) {
      containers_.push_back(v);
    }
    return v;
  }
  Status Push(PickleRef v) {
    if (stack_.size() >= opt_.max_stack) {
      return Error(StatusCode::kResourceExhausted,
                   "stack holds more than " + std::to_string(opt_.max_stack) + " values");
    }
    stack_.push_back(std::move(v));
    return Status::Ok();
  }
  size_t Base() const { return marks_.empty() ? 0 : marks_.back(); }
  Result<PickleRef> Pop() {
    if (stack_.size() <= Base())
      return Error(StatusCode::kDataLoss, "stack underflow (the stream is corrupt)");
    PickleRef v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Result<PickleRef*> Top() {
    if (stack_.size() <= Base())
      return Error(StatusCode::kDataLoss, "stack underflow (the stream is corrupt)");
    return &stack_.back();
  }
  Result<std::vector<PickleRef>> PopMark() {
    if (marks_.empty())
      return Error(StatusCode::kDataLoss, "no MARK to pop to (the stream is corrupt)");
    size_t base = marks_.back();
    marks_.pop_back();
    std::vector<PickleRef> items(
        std::make_move_iterator(stack_.begin() + static_cast<ptrdiff_t>(base)),
        std::make_move_iterator(stack_.end()));
    stack_.resize(base);
    return items;
  }
  // Records that `child` now lives inside `parent`.
  Status Adopt(PickleValue* parent, const PickleValue& child) {
    // Every stored reference counts, so re-using one big container through
    // the memo cannot multiply memory use without bound.
    if (++references_ > opt_.max_references) {
      return Error(StatusCode::kResourceExhausted,
                   "more than " + std::to_string(opt_.max_references) +
                       " references between values (raise max_references if "
                       "intended)");
    }
    uint32_t d = child.depth + 1;
    if (d > parent->depth) parent->depth = d;
    if (parent->depth > opt_.max_depth) {
      return Error(StatusCode::kResourceExhausted,
                   "values nest deeper than " + std::to_string(opt_.max_depth) + " levels");
    }
    return Status::Ok();
  }
  Result<PickleRef> MakeSeq(Kind kind, std::vector<PickleRef> items) {
    TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(kind));
    for (const auto& it : items) TIFFIN_RETURN_IF_ERROR(Adopt(v.get(), *it));
    v->items = std::move(items);
    return v;
  }
  Result<PickleRef> MakeStr(Kind kind, std::string s) {
    // Strings come from the input, but reducers such as _codecs.encode can
    // copy a memoised one many times: cap the total.
    str_bytes_ += s.size();
    if (str_bytes_ > str_budget_) {
      return Error(
          StatusCode::kResourceExhausted,
          "strings and bytes total over " + std::to_string(str_budget_) +
              " bytes, more than the input can hold (a stream that copies data repeatedly)");
    }
    TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(kind));
    v->str_value = std::move(s);
    return v;
  }
  Status PushStr(Kind kind, std::string s) {
    TIFFIN_ASSIGN_OR_RETURN(PickleRef v, MakeStr(kind, std::move(s)));
    return Push(std::move(v));
  }
  Status PushUtf8(std::string_view s) {
    if (!IsValidUtf8(s)) return Error(StatusCode::kDataLoss, "string is not valid UTF-8");
    return PushStr(Kind::kStr, std::string(s));
  }
  // Python 2 str: decoded as latin-1 (what numpy and scikit-learn recommend).
  Status PushPy2Str(std::string_view s) { return PushStr(Kind::kStr, Latin1ToUtf8(s)); }
  Status PushInt(int64_t i) {
    TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kInt));
    v->int_value = i;
    return Push(std::move(v));
  }
  Status PushBool(bool b) {
    TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kBool));
    v->bool_value = b;
    return Push(std::move(v));
  }
  Status Memo(uint64_t index) {
    TIFFIN_ASSIGN_OR_RETURN(PickleRef * top, Top());
    auto it = memo_.find(index);
    if (it == memo_.end() && memo_.size() >= opt_.max_memo) {
      return Error(StatusCode::kResourceExhausted,
                   "memo holds more than " + std::to_string(opt_.max_memo) + " entries");
    }
    memo_[index] = *top;
    return Status::Ok();
  }
  Status MemoGet(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) {
      return Error(StatusCode::kDataLoss,
                   "memo entry " + std::to_string(index) + " was never stored");
    }
    return Push(it->second);
  }

  Result<Global> ResolveGlobal(std::string_view module, std::string_view name) {
    if (module.empty() || name.empty() || module.size() > 1000 || name.size() > 1000) {
      return Error(StatusCode::kDataLoss, "global " + QuoteForMessage(module) + " " +
                                              QuoteForMessage(name) +
                                              " has an empty or over-long module or name");
    }
    Global g{CanonicalModule(module), std::string(name)};
    if (g.module == "builtins" && g.name == "xrange") g.name = "range";
    std::string why = DangerousGlobalReason(g);
    if (why.empty()) why = DangerousGlobalReason(Global{std::string(module), std::string(name)});
    if (!why.empty()) {
      return Error(StatusCode::kInvalidArgument,
                   "refusing global " +
                       QuoteForMessage(std::string(module) + "." + std::string(name)) + ": " + why +
                       "; this file may be malicious and is never executed");
    }
    return g;
  }
  bool Allowed(const Global& g) const {
    std::string full = g.FullName();
    if (allowed_.count(full)) return true;
    // A wildcard admits plain names only: a dotted name ('os.system' in
    // module 'sklearn') walks attributes, which can reach any module the
    // allowed one imports.
    if (g.name.find('.') != std::string::npos) return false;
    for (const auto& p : allowed_prefixes_) {
      if (HasModulePrefix(g.module, p)) return true;
    }
    return false;
  }
  Status NotAllowed(const Global& g, std::string_view how) const {
    return Error(StatusCode::kInvalidArgument,
                 "refusing to call " + QuoteForMessage(g.FullName()) + " (via " + std::string(how) +
                     "): it is not on the allow-list of classes this reader rebuilds (add it to "
                     "PickleOptions::allowed_globals only if it is plain data)");
  }

  // Builds the value that `callable(*args)` (REDUCE, INST, OBJ) or
  // `cls.__new__(cls, *args, **kwargs)` (NEWOBJ, NEWOBJ_EX) would return.
  Result<PickleRef> Call(const PickleRef& callable, std::vector<PickleRef> args,
                         std::vector<std::pair<PickleRef, PickleRef>> kwargs, uint8_t op) {
    std::string how = OpName(op);
    if (callable->kind != Kind::kGlobal) {
      return Error(StatusCode::kInvalidArgument, how + " applied to a " + callable->TypeName() +
                                                     ", not to a class or function; refusing");
    }
    const Global& g = callable->global;
    std::string full = g.FullName();
    if (full == "copyreg._reconstructor" && op == kReduce) {
      // copyreg._reconstructor(cls, object, None) == object.__new__(cls).
      if (args.size() != 3 || args[0]->kind != Kind::kGlobal || args[1]->kind != Kind::kGlobal ||
          args[1]->global.FullName() != "builtins.object" || !args[2]->is_none()) {
        return Error(StatusCode::kNotSupported,
                     "copyreg._reconstructor is only read in its (cls, object, None) form; got " +
                         std::to_string(args.size()) + " arguments");
      }
      return Call(args[0], {}, {}, kNewObj);
    }
    if (full == "builtins.set" || full == "builtins.frozenset") {
      if (args.size() > 1 ||
          (args.size() == 1 && args[0]->kind != Kind::kList && args[0]->kind != Kind::kTuple &&
           args[0]->kind != Kind::kSet && args[0]->kind != Kind::kFrozenSet)) {
        return Error(StatusCode::kNotSupported,
                     full + " is only read with one list or tuple argument");
      }
      std::vector<PickleRef> items;
      if (args.size() == 1) items = args[0]->items;
      return MakeSeq(full == "builtins.set" ? Kind::kSet : Kind::kFrozenSet, std::move(items));
    }
    if (full == "builtins.bytearray" || full == "builtins.bytes" || full == "_codecs.encode") {
      // bytearray(), bytearray(b), bytearray(s, 'latin-1'), _codecs.encode(s, 'latin1').
      if (args.empty() && full != "_codecs.encode") return MakeStr(Kind::kBytes, "");
      if (args.size() == 1 && args[0]->kind == Kind::kBytes && full != "_codecs.encode") {
        return MakeStr(Kind::kBytes, args[0]->str_value);
      }
      if (args.size() == 2 && args[0]->kind == Kind::kStr && args[1]->kind == Kind::kStr &&
          (args[1]->str_value == "latin1" || args[1]->str_value == "latin-1")) {
        return MakeStr(Kind::kBytes, Utf8ToLatin1OrError(args[0]->str_value));
      }
      return Error(StatusCode::kNotSupported,
                   full + " is only read as (bytes) or (str, 'latin1'); got " +
                       std::to_string(args.size()) + " arguments");
    }
    if (full == "collections.OrderedDict" || full == "builtins.dict") {
      if (!args.empty() &&
          !(args.size() == 1 && args[0]->kind == Kind::kList && args[0]->items.empty())) {
        return Error(StatusCode::kNotSupported,
                     full + " is only read with no arguments (items follow by SETITEMS)");
      }
      return New(Kind::kDict);
    }
    if (full == "builtins.list" || full == "builtins.tuple") {
      std::vector<PickleRef> items;
      if (args.size() == 1 && (args[0]->kind == Kind::kList || args[0]->kind == Kind::kTuple)) {
        items = args[0]->items;
      } else if (!args.empty()) {
        return Error(StatusCode::kNotSupported,
                     full + " is only read with no or one list argument");
      }
      return MakeSeq(full == "builtins.list" ? Kind::kList : Kind::kTuple, std::move(items));
    }
    if (!Allowed(g)) return NotAllowed(g, how);
    TIFFIN_ASSIGN_OR_RETURN(PickleRef obj, New(Kind::kObject));
    obj->global = g;
    obj->built_by = how;
    for (const auto& a : args) TIFFIN_RETURN_IF_ERROR(Adopt(obj.get(), *a));
    for (const auto& [k, v] : kwargs) {
      TIFFIN_RETURN_IF_ERROR(Adopt(obj.get(), *k));
      TIFFIN_RETURN_IF_ERROR(Adopt(obj.get(), *v));
    }
    obj->items = std::move(args);
    obj->entries = std::move(kwargs);
    return obj;
  }
  std::string Utf8ToLatin1OrError(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
        out.push_back(
            static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F)));
        ++i;
      } else {
        latin1_error_ = true;
        out.push_back('?');
      }
    }
    return out;
  }

  Status Step();
  Status RunAfterBuild(PickleValue* obj);
  Status Validate(const PickleRef& root, std::unordered_set<const PickleValue*>* reachable);
  void Teardown() {
    // Break every parent->child link first so that destruction never
    // recurses (a hostile stream can build long chains through the memo).
    for (auto& c : containers_) {
      c->items.clear();
      c->entries.clear();
      c->state.reset();
    }
  }

  Reader in_;
  const PickleOptions& opt_;
  std::unordered_set<std::string> allowed_;
  std::vector<std::string> allowed_prefixes_;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
  std::vector<PickleRef> containers_;
  size_t created_ = 0;
  size_t references_ = 0;
  size_t str_bytes_ = 0;
  size_t str_budget_ = 0;
  size_t op_pos_ = 0;
  uint8_t op_ = 0;
  bool stopped_ = false;
  bool latin1_error_ = false;
  int protocol_ = -1;  // PROTO argument; -1 until one is seen
  bool binary_ops_ = false;
  PickleRef result_;
};

Status Parser::Step() {
  op_pos_ = in_.pos();
  TIFFIN_ASSIGN_OR_RETURN(uint64_t op64, in_.ReadLE(1, "opcode"));
  op_ = static_cast<uint8_t>(op64);
  if (!IsProtocol0Op(op_)) binary_ops_ = true;
  switch (op_) {
    case kProto: {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t v, in_.ReadLE(1, "PROTO argument"));
      if (v > 5) {
        return Error(StatusCode::kNotSupported,
                     "protocol " + std::to_string(v) + " is newer than the highest known (5)");
      }
      if (protocol_ < 0) protocol_ = static_cast<int>(v);
      return Status::Ok();
    }
    case kFrame: {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t n, in_.ReadLE(8, "FRAME length"));
      if (n > in_.left()) {
        return Error(StatusCode::kDataLoss, "FRAME declares " + std::to_string(n) +
                                                " bytes, but only " + std::to_string(in_.left()) +
                                                " are left (truncated file)");
      }
      return Status::Ok();
    }
    case kStop: {
      TIFFIN_ASSIGN_OR_RETURN(result_, Pop());
      stopped_ = true;
      return Status::Ok();
    }
    case kMark:
      if (marks_.size() >= opt_.max_depth) {
        return Error(StatusCode::kResourceExhausted,
                     "MARKs nest deeper than " + std::to_string(opt_.max_depth) + " levels");
      }
      marks_.push_back(stack_.size());
      return Status::Ok();
    case kPop:
      if (!marks_.empty() && stack_.size() == marks_.back()) {
        marks_.pop_back();
        return Status::Ok();
      }
      return Pop().status();
    case kPopMark:
      return PopMark().status();
    case kDup: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef * top, Top());
      PickleRef copy = *top;
      return Push(std::move(copy));
    }
    // ---- scalars
    case kNone: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kNone));
      return Push(std::move(v));
    }
    case kNewTrue:
      return PushBool(true);
    case kNewFalse:
      return PushBool(false);
    case kInt: {
      TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in_.ReadLine("INT argument"));
      if (line == "00") return PushBool(false);
      if (line == "01") return PushBool(true);
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kInt));
      Status s = ParseTextInt(line, false, opt_.max_long_digits, v.get());
      if (!s.ok()) return Fail(s);
      return Push(std::move(v));
    }
    case kLong: {
      TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in_.ReadLine("LONG argument"));
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kInt));
      Status s = ParseTextInt(line, true, opt_.max_long_digits, v.get());
      if (!s.ok()) return Fail(s);
      return Push(std::move(v));
    }
    case kBinInt: {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t u, in_.ReadLE(4, "BININT argument"));
      return PushInt(static_cast<int32_t>(static_cast<uint32_t>(u)));
    }
    case kBinInt1: {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t u, in_.ReadLE(1, "BININT1 argument"));
      return PushInt(static_cast<int64_t>(u));
    }
    case kBinInt2: {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t u, in_.ReadLE(2, "BININT2 argument"));
      return PushInt(static_cast<int64_t>(u));
    }
    case kLong1:
    case kLong4: {
      uint64_t n;
      if (op_ == kLong1) {
        TIFFIN_ASSIGN_OR_RETURN(n, in_.ReadLE(1, "LONG1 length"));
      } else {
        TIFFIN_ASSIGN_OR_RETURN(uint64_t u, in_.ReadLE(4, "LONG4 length"));
        int32_t s = static_cast<int32_t>(static_cast<uint32_t>(u));
        if (s < 0)
          return Error(StatusCode::kDataLoss, "LONG4 has a negative length " + std::to_string(s));
        n = static_cast<uint64_t>(s);
      }
      TIFFIN_ASSIGN_OR_RETURN(std::string_view b, in_.ReadBytes(n, "LONG1/LONG4 digits"));
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kInt));
      SetIntFromBytes(b, v.get());
      return Push(std::move(v));
    }
    case kFloat: {
      TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in_.ReadLine("FLOAT argument"));
      auto d = ParseTextFloat(line);
      if (!d.ok()) return Fail(d.status());
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kFloat));
      v->float_value = *d;
      return Push(std::move(v));
    }
    case kBinFloat: {
      TIFFIN_ASSIGN_OR_RETURN(std::string_view b, in_.ReadBytes(8, "BINFLOAT argument"));
      uint64_t u = 0;
      for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kFloat));
      std::memcpy(&v->float_value, &u, 8);
      return Push(std::move(v));
    }
    // ---- strings and bytes
    case kString: {
      TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in_.ReadLine("STRING argument"));
      while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() < 2 || (line.front() != '\'' && line.front() != '"') ||
          line.back() != line.front()) {
        return Error(StatusCode::kDataLoss,
                     "STRING argument " + QuoteForMessage(line) + " is not quoted");
      }
      auto s = UnescapeStringRepr(line.substr(1, line.size() - 2));
      if (!s.ok()) return Fail(s.status());
      return PushPy2Str(*s);
    }
    case kBinString:
    case kShortBinString: {
      uint64_t n;
      if (op_ == kShortBinString) {
        TIFFIN_ASSIGN_OR_RETURN(n, in_.ReadLE(1, "SHORT_BINSTRING length"));
      } else {
        TIFFIN_ASSIGN_OR_RETURN(uint64_t u, in_.ReadLE(4, "BINSTRING length"));
        int32_t s = static_cast<int32_t>(static_cast<uint32_t>(u));
        if (s < 0)
          return Error(StatusCode::kDataLoss,
                       "BINSTRING has a negative length " + std::to_string(s));
        n = static_cast<uint64_t>(s);
      }
      TIFFIN_ASSIGN_OR_RETURN(std::string_view b, in_.ReadBytes(n, "BINSTRING data"));
      return PushPy2Str(b);
    }
    case kBinBytes:
    case kShortBinBytes:
    case kBinBytes8:
    case kByteArray8: {
      size_t width = op_ == kShortBinBytes ? 1 : op_ == kBinBytes ? 4 : 8;
      TIFFIN_ASSIGN_OR_RETURN(uint64_t n, in_.ReadLE(width, "bytes length"));
      TIFFIN_ASSIGN_OR_RETURN(std::string_view b, in_.ReadBytes(n, "bytes data"));
      return PushStr(Kind::kBytes, std::string(b));
    }
    case kUnicode: {
      TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in_.ReadLine("UNICODE argument"));
      auto s = DecodeRawUnicodeEscape(line);
      if (!s.ok()) return Fail(s.status());
      return PushStr(Kind::kStr, std::move(s).value());
    }
    case kShortBinUnicode:
    case kBinUnicode:
    case kBinUnicode8: {
      size_t width = op_ == kShortBinUnicode ? 1 : op_ == kBinUnicode ? 4 : 8;
      TIFFIN_ASSIGN_OR_RETURN(uint64_t n, in_.ReadLE(width, "unicode length"));
      TIFFIN_ASSIGN_OR_RETURN(std::string_view b, in_.ReadBytes(n, "unicode data"));
      return PushUtf8(b);
    }
    case kNextBuffer:
      return Error(
          StatusCode::kNotSupported,
          "the stream refers to an out-of-band buffer (pickle protocol 5 with buffer_callback); "
          "those bytes are not in the file. Re-save without buffer_callback so the data is "
          "in-band");
    case kReadonlyBuffer: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef * top, Top());
      if ((*top)->kind != Kind::kBytes) {
        return Error(StatusCode::kDataLoss,
                     "READONLY_BUFFER applied to a " + (*top)->TypeName() + ", not a buffer");
      }
      return Status::Ok();
    }
    // ---- containers
    case kEmptyList: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kList));
      return Push(std::move(v));
    }
    case kEmptyTuple: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kTuple));
      return Push(std::move(v));
    }
    case kEmptyDict: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kDict));
      return Push(std::move(v));
    }
    case kEmptySet: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kSet));
      return Push(std::move(v));
    }
    case kTuple1:
    case kTuple2:
    case kTuple3: {
      size_t n = static_cast<size_t>(op_ - kTuple1 + 1);
      if (stack_.size() < Base() + n)
        return Error(StatusCode::kDataLoss, "stack underflow (the stream is corrupt)");
      std::vector<PickleRef> items(
          std::make_move_iterator(stack_.end() - static_cast<ptrdiff_t>(n)),
          std::make_move_iterator(stack_.end()));
      stack_.resize(stack_.size() - n);
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, MakeSeq(Kind::kTuple, std::move(items)));
      return Push(std::move(v));
    }
    case kTuple:
    case kList:
    case kFrozenSet: {
      TIFFIN_ASSIGN_OR_RETURN(std::vector<PickleRef> items, PopMark());
      Kind k = op_ == kTuple ? Kind::kTuple : op_ == kList ? Kind::kList : Kind::kFrozenSet;
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, MakeSeq(k, std::move(items)));
      return Push(std::move(v));
    }
    case kDict: {
      TIFFIN_ASSIGN_OR_RETURN(std::vector<PickleRef> items, PopMark());
      if (items.size() % 2)
        return Error(StatusCode::kDataLoss, "DICT has an odd number of keys and values");
      TIFFIN_ASSIGN_OR_RETURN(PickleRef v, New(Kind::kDict));
      for (size_t i = 0; i < items.size(); i += 2) {
        TIFFIN_RETURN_IF_ERROR(Adopt(v.get(), *items[i]));
        TIFFIN_RETURN_IF_ERROR(Adopt(v.get(), *items[i + 1]));
        v->entries.emplace_back(items[i], items[i + 1]);
      }
      return Push(std::move(v));
    }
    case kAppend:
    case kAppends:
    case kAddItems: {
      std::vector<PickleRef> items;
      if (op_ == kAppend) {
        TIFFIN_ASSIGN_OR_RETURN(PickleRef x, Pop());
        items.push_back(std::move(x));
      } else {
        TIFFIN_ASSIGN_OR_RETURN(items, PopMark());
      }
      TIFFIN_ASSIGN_OR_RETURN(PickleRef * top, Top());
      PickleValue* target = top->get();
      Kind want = op_ == kAddItems ? Kind::kSet : Kind::kList;
      if (target->kind != want) {
        return Error(StatusCode::kDataLoss,
                     "cannot add items to a " + target->TypeName() +
                         (op_ == kAddItems ? " (expected a set)" : " (expected a list)"));
      }
      for (auto& x : items) {
        TIFFIN_RETURN_IF_ERROR(Adopt(target, *x));
        target->items.push_back(std::move(x));
      }
      return Status::Ok();
    }
    case kSetItem:
    case kSetItems: {
      std::vector<PickleRef> items;
      if (op_ == kSetItem) {
        TIFFIN_ASSIGN_OR_RETURN(PickleRef value, Pop());
        TIFFIN_ASSIGN_OR_RETURN(PickleRef key, Pop());
        items.push_back(std::move(key));
        items.push_back(std::move(value));
      } else {
        TIFFIN_ASSIGN_OR_RETURN(items, PopMark());
        if (items.size() % 2)
          return Error(StatusCode::kDataLoss, "SETITEMS has an odd number of keys and values");
      }
      TIFFIN_ASSIGN_OR_RETURN(PickleRef * top, Top());
      PickleValue* target = top->get();
      // Instances of dict subclasses (sklearn's Bunch, OrderedDict
      // subclasses) receive their items the same way; they are kept in the
      // object's entries.
      if (target->kind != Kind::kDict && target->kind != Kind::kObject) {
        return Error(StatusCode::kDataLoss,
                     "cannot set items on a " + target->TypeName() + " (expected a dict)");
      }
      for (size_t i = 0; i < items.size(); i += 2) {
        TIFFIN_RETURN_IF_ERROR(Adopt(target, *items[i]));
        TIFFIN_RETURN_IF_ERROR(Adopt(target, *items[i + 1]));
        target->entries.emplace_back(std::move(items[i]), std::move(items[i + 1]));
      }
      return Status::Ok();
    }
    // ---- memo
    case kPut: {
      TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in_.ReadLine("PUT argument"));
      auto i = ParseDecimalInt64(line, "PUT");
      if (!i.ok()) return Fail(i.status());
      if (*i < 0) return Error(StatusCode::kDataLoss, "PUT has a negative memo index");
      return Memo(static_cast<uint64_t>(*i));
    }
    case kBinPut: {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t i, in_.ReadLE(1, "BINPUT argument"));
      return Memo(i);
    }
    case kLongBinPut: {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t i, in_.ReadLE(4, "LONG_BINPUT argument"));
      return Memo(i);
    }
    case kMemoize:
      return Memo(memo_.size());
    case kGet: {
      TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in_.ReadLine("GET argument"));
      auto i = ParseDecimalInt64(line, "GET");
      if (!i.ok()) return Fail(i.status());
      if (*i < 0) return Error(StatusCode::kDataLoss, "GET has a negative memo index");
      return MemoGet(static_cast<uint64_t>(*i));
    }
    case kBinGet: {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t i, in_.ReadLE(1, "BINGET argument"));
      return MemoGet(i);
    }
    case kLongBinGet: {
      TIFFIN_ASSIGN_OR_RETURN(uint64_t i, in_.ReadLE(4, "LONG_BINGET argument"));
      return MemoGet(i);
    }
    // ---- globals and objects
    case kGlobal:
    case kInst: {
      TIFFIN_ASSIGN_OR_RETURN(std::string_view module, in_.ReadLine("global module"));
      TIFFIN_ASSIGN_OR_RETURN(std::string_view name, in_.ReadLine("global name"));
      TIFFIN_ASSIGN_OR_RETURN(Global g, ResolveGlobal(module, name));
      TIFFIN_ASSIGN_OR_RETURN(PickleRef gv, New(Kind::kGlobal));
      gv->global = std::move(g);
      if (op_ == kGlobal) return Push(std::move(gv));
      TIFFIN_ASSIGN_OR_RETURN(std::vector<PickleRef> args, PopMark());
      TIFFIN_ASSIGN_OR_RETURN(PickleRef obj, Call(gv, std::move(args), {}, op_));
      return Push(std::move(obj));
    }
    case kStackGlobal: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef name, Pop());
      TIFFIN_ASSIGN_OR_RETURN(PickleRef module, Pop());
      if (name->kind != Kind::kStr || module->kind != Kind::kStr) {
        return Error(StatusCode::kDataLoss, "STACK_GLOBAL needs two strings, got " +
                                                module->TypeName() + " and " + name->TypeName());
      }
      TIFFIN_ASSIGN_OR_RETURN(Global g, ResolveGlobal(module->str_value, name->str_value));
      TIFFIN_ASSIGN_OR_RETURN(PickleRef gv, New(Kind::kGlobal));
      gv->global = std::move(g);
      return Push(std::move(gv));
    }
    case kObj: {
      TIFFIN_ASSIGN_OR_RETURN(std::vector<PickleRef> args, PopMark());
      if (args.empty()) return Error(StatusCode::kDataLoss, "OBJ with no class after the MARK");
      PickleRef cls = args.front();
      args.erase(args.begin());
      TIFFIN_ASSIGN_OR_RETURN(PickleRef obj, Call(cls, std::move(args), {}, op_));
      return Push(std::move(obj));
    }
    case kReduce:
    case kNewObj: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef args, Pop());
      TIFFIN_ASSIGN_OR_RETURN(PickleRef callable, Pop());
      if (args->kind != Kind::kTuple) {
        return Error(StatusCode::kDataLoss,
                     OpName(op_) + " arguments are a " + args->TypeName() + ", not a tuple");
      }
      TIFFIN_ASSIGN_OR_RETURN(PickleRef obj, Call(callable, args->items, {}, op_));
      return Push(std::move(obj));
    }
    case kNewObjEx: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef kwargs, Pop());
      TIFFIN_ASSIGN_OR_RETURN(PickleRef args, Pop());
      TIFFIN_ASSIGN_OR_RETURN(PickleRef cls, Pop());
      if (args->kind != Kind::kTuple || kwargs->kind != Kind::kDict) {
        return Error(StatusCode::kDataLoss, "NEWOBJ_EX needs a tuple and a dict, got " +
                                                args->TypeName() + " and " + kwargs->TypeName());
      }
      TIFFIN_ASSIGN_OR_RETURN(PickleRef obj, Call(cls, args->items, kwargs->entries, op_));
      return Push(std::move(obj));
    }
    case kBuild: {
      TIFFIN_ASSIGN_OR_RETURN(PickleRef state, Pop());
      TIFFIN_ASSIGN_OR_RETURN(PickleRef * top, Top());
      PickleValue* obj = top->get();
      if (obj->kind == Kind::kDict && opt_.keep_dict_state && obj->state == nullptr &&
          state->kind == Kind::kDict) {
        // An OrderedDict's attributes (a PyTorch state_dict's _metadata).
        obj->state = state;
        return Adopt(obj, *state);
      }
      if (obj->kind != Kind::kObject) {
        return Error(StatusCode::kDataLoss,
                     "BUILD applied to a " + obj->TypeName() + ", not to a rebuilt object");
      }
      if (obj->state == nullptr) {
        obj->state = state;
      } else if (obj->state->kind == Kind::kDict && state->kind == Kind::kDict) {
        for (const auto& e : state->entries) obj->state->entries.push_back(e);
      } else {
        return Error(StatusCode::kNotSupported,
                     "second BUILD on object " + obj->global.FullName() + " with non-dict state");
      }
      TIFFIN_RETURN_IF_ERROR(Adopt(obj, *state));
      return opt_.after_build ? RunAfterBuild(obj) : Status::Ok();
    }
    case kPersId:
    case kBinPersId: {
      PickleRef pid;
      if (op_ == kPersId) {
        TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in_.ReadLine("PERSID argument"));
        if (!IsValidUtf8(line))
          return Error(StatusCode::kDataLoss, "PERSID argument is not valid text");
        TIFFIN_ASSIGN_OR_RETURN(pid, MakeStr(Kind::kStr, std::string(line)));
      } else {
        TIFFIN_ASSIGN_OR_RETURN(pid, Pop());
      }
      if (!opt_.persistent_load) {
        return Error(StatusCode::kNotSupported, "persistent id " + pid->DebugString(80) +
                                                    " refers to data outside the pickle; only "
                                                    "PyTorch archives use these, and this reader "
                                                    "was not given a persistent_load callback");
      }
      auto loaded = opt_.persistent_load(*pid);
      if (!loaded.ok()) return Fail(loaded.status().WithContext("pickle: persistent_load"));
      if (*loaded == nullptr) return Error(StatusCode::kInternal, "persistent_load returned null");
      return Push(std::move(loaded).value());
    }
    case kExt1:
    case kExt2:
    case kExt4:
      return Error(
          StatusCode::kNotSupported,
          "EXT1/EXT2/EXT4 refer to Python's process-wide copyreg extension registry, which a file "
          "reader cannot know; re-pickle without copyreg.add_extension");
    default:
      return Error(StatusCode::kDataLoss, "unknown opcode (not a pickle, or corrupt)");
  }
}

Status Parser::RunAfterBuild(PickleValue* obj) {
  PickleInput input(in_.data(), in_.pos());
  auto replacement = opt_.after_build(*obj, &input);
  if (!replacement.ok()) return Fail(replacement.status());
  if (input.offset() < in_.pos() || input.offset() > in_.data().size()) {
    return Error(StatusCode::kInternal, "after_build moved the stream position backwards");
  }
  in_.Seek(input.offset());
  if (*replacement == nullptr) return Status::Ok();
  if (replacement->get() == obj) return Status::Ok();
  // Overwrite in place so that every holder of the object (stack, memo,
  // containers) sees the replacement. `replacement` keeps its value alive
  // while the object's old children go; a replacement referenced elsewhere
  // is copied rather than emptied.
  if (replacement->use_count() == 1) {
    *obj = std::move(**replacement);
  } else {
    *obj = PickleValue(**replacement);
  }
  if (obj->depth > opt_.max_depth) {
    return Error(StatusCode::kResourceExhausted,
                 "values nest deeper than " + std::to_string(opt_.max_depth) + " levels");
  }
  return Status::Ok();
}

// Refuses cycles and nesting beyond max_depth (iterative, so a hostile
// stream cannot overflow the C++ stack here).
Status Parser::Validate(const PickleRef& root, std::unordered_set<const PickleValue*>* reachable) {
  // Height of every finished value (1 for a leaf); kOnPath while its
  // children are being walked. Height bounds every path from the root, so
  // it bounds the recursion of any consumer and of destruction.
  constexpr uint32_t kOnPath = UINT32_MAX;
  std::unordered_map<const PickleValue*, uint32_t> height;
  struct Frame {
    const PickleValue* v;
    size_t next;
    uint32_t max_child;
  };
  auto child = [](const PickleValue* v, size_t i, bool* end) -> const PickleValue* {
    *end = false;
    size_t n = v->items.size();
    if (i < n) return v->items[i].get();
    i -= n;
    if (i < 2 * v->entries.size())
      return (i % 2 ? v->entries[i / 2].second : v->entries[i / 2].first).get();
    i -= 2 * v->entries.size();
    if (i == 0 && v->state) return v->state.get();
    *end = true;
    return nullptr;
  };
  auto too_deep = [&]() {
    return Status(StatusCode::kResourceExhausted,
                  "pickle: values nest deeper than " + std::to_string(opt_.max_depth) + " levels");
  };
  std::vector<Frame> path;
  path.push_back({root.get(), 0, 0});
  height[root.get()] = kOnPath;
  while (!path.empty()) {
    Frame& f = path.back();
    bool end = false;
    const PickleValue* c = child(f.v, f.next++, &end);
    if (end) {
      uint32_t h = f.max_child + 1;
      if (h > opt_.max_depth) return too_deep();
      height[f.v] = h;
      reachable->insert(f.v);
      path.pop_back();
      if (!path.empty()) path.back().max_child = std::max(path.back().max_child, h);
      continue;
    }
    if (c == nullptr) continue;
    auto [it, inserted] = height.try_emplace(c, kOnPath);
    if (!inserted) {
      if (it->second == kOnPath) {
        return Status(StatusCode::kNotSupported,
                      "pickle: the value graph contains a reference cycle (through a " +
                          c->TypeName() + "); cyclic data is not supported");
      }
      f.max_child = std::max(f.max_child, it->second);
      continue;
    }
    if (path.size() >= opt_.max_depth) return too_deep();
    path.push_back({c, 0, 0});
  }
  return Status::Ok();
}

Result<ParsedPickle> Parser::Run() {
  while (!stopped_) {
    if (in_.done()) {
      return DataLoss("pickle: the stream ends at offset " + std::to_string(in_.pos()) +
                      " without a STOP opcode (the file is truncated)");
    }
    TIFFIN_RETURN_IF_ERROR(Step());
    if (latin1_error_) {
      return Error(StatusCode::kDataLoss, "a latin-1 byte string holds characters above U+00FF");
    }
  }
  std::unordered_set<const PickleValue*> reachable;
  TIFFIN_RETURN_IF_ERROR(Validate(result_, &reachable));
  ParsedPickle out;
  out.value = *result_;
  out.protocol = protocol_ >= 0 ? protocol_ : binary_ops_ ? 1 : 0;
  out.end_offset = in_.pos();
  // What the result reaches is acyclic and bounded in depth, so plain
  // destruction is safe for it; unlink everything else first.
  for (auto& c : containers_) {
    if (!reachable.count(c.get())) {
      c->items.clear();
      c->entries.clear();
      c->state.reset();
    }
  }
  containers_.clear();
  return out;
}

}  // namespace

// ---------------------------------------------------------- public API ----

std::string CanonicalModule(std::string_view module) {
  for (const Alias& a : kAliases) {
    if (HasModulePrefix(module, a.from))
      return std::string(a.to) + std::string(module.substr(a.from.size()));
  }
  return std::string(module);
}

std::string DangerousGlobalReason(const Global& global) {
  for (std::string_view m : kDangerousModules) {
    if (HasModulePrefix(global.module, m))
      return "module '" + std::string(m) + "' can run code or touch the system";
    if (m.find('.') != std::string_view::npos && HasModulePrefix(global.FullName(), m)) {
      return "'" + std::string(m) + "' can run code";
    }
  }
  // A dotted name walks attributes from its module: 'sklearn' + 'os.system'
  // reaches os.system through sklearn's own import of os.
  if (global.name.find('.') != std::string::npos) {
    for (std::string_view m : kDangerousModules) {
      if (HasModulePrefix(global.name, m)) {
        return "attribute path '" + global.name + "' reaches module '" + std::string(m) + "'";
      }
    }
  }
  if (global.module == "builtins" || global.module == "__builtin__") {
    for (std::string_view n : kDangerousBuiltins) {
      if (global.name == n)
        return "builtins." + std::string(n) + " can run code or reach arbitrary attributes";
    }
  }
  // Special names (__import__, __reduce__, __globals__, ...) and attribute
  // paths through them reach interpreter internals. Private names such as
  // numpy.random.__RandomState_ctor are fine.
  std::string_view rest = global.name;
  while (!rest.empty()) {
    size_t dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    if (part.size() >= 4 && part.substr(0, 2) == "__" && part.substr(part.size() - 2) == "__" &&
        part != "__newobj__" && part != "__newobj_ex__") {
      return "special name '" + std::string(part) + "' reaches interpreter internals";
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return "";
}

bool PickleValue::IsObjectOf(std::string_view full_name) const {
  return kind == Kind::kObject && global.FullName() == full_name;
}

const PickleValue* PickleValue::Find(std::string_view key) const {
  if (kind != Kind::kDict) return nullptr;
  const PickleValue* found = nullptr;
  for (const auto& [k, v] : entries) {
    if (k->kind == Kind::kStr && k->str_value == key)
      found = v.get();  // last one wins, as in Python
  }
  return found;
}

std::string PickleValue::TypeName() const {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kBytes:
      return "bytes";
    case Kind::kStr:
      return "str";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kSet:
      return "set";
    case Kind::kFrozenSet:
      return "frozenset";
    case Kind::kGlobal:
      return "global " + global.FullName();
    case Kind::kObject:
      return "object " + global.FullName();
  }
  return "?";
}

namespace {
void Render(const PickleValue& v, size_t max_chars, std::string* out, int depth) {
  if (out->size() > max_chars) return;
  if (depth > 20) {
    *out += "...";
    return;
  }
  auto seq = [&](const std::vector<PickleRef>& items, const char* open, const char* close) {
    *out += open;
    for (size_t i = 0; i < items.size() && out->size() <= max_chars; ++i) {
      if (i) *out += ", ";
      Render(*items[i], max_chars, out, depth + 1);
    }
    *out += close;
  };
  switch (v.kind) {
    case Kind::kNone:
      *out += "None";
      break;
    case Kind::kBool:
      *out += v.bool_value ? "True" : "False";
      break;
    case Kind::kInt:
      *out += v.is_big_int ? "<" + std::to_string(v.big_int.size()) + "-byte int>"
                           : std::to_string(v.int_value);
      break;
    case Kind::kFloat: {
      // Shortest round-trip text, like Python's repr (1.0, 0.001, 1e-05).
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v.float_value);
      std::string text(buf, r.ptr);
      if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
      *out += text;
    } break;
    case Kind::kBytes:
      *out += "b" + QuoteForMessage(v.str_value);
      break;
    case Kind::kStr:
      *out += QuoteForMessage(v.str_value);
      break;
    case Kind::kTuple:
      seq(v.items, "(", ")");
      break;
    case Kind::kList:
      seq(v.items, "[", "]");
      break;
    case Kind::kSet:
      seq(v.items, "{", "}");
      break;
    case Kind::kFrozenSet:
      seq(v.items, "frozenset({", "})");
      break;
    case Kind::kDict:
      *out += "{";
      for (size_t i = 0; i < v.entries.size() && out->size() <= max_chars; ++i) {
        if (i) *out += ", ";
        Render(*v.entries[i].first, max_chars, out, depth + 1);
        *out += ": ";
        Render(*v.entries[i].second, max_chars, out, depth + 1);
      }
      *out += "}";
      break;
    case Kind::kGlobal:
      *out += v.global.FullName();
      break;
    case Kind::kObject:
      *out += v.global.FullName();
      seq(v.items, "(", ")");
      if (v.state) {
        *out += ".__setstate__(";
        Render(*v.state, max_chars, out, depth + 1);
        *out += ")";
      }
      break;
  }
}
}  // namespace

std::string PickleValue::DebugString(size_t max_chars) const {
  std::string out;
  Render(*this, max_chars, &out, 0);
  if (out.size() > max_chars) {
    out.resize(max_chars);
    out += "...";
  }
  return out;
}

Result<std::string_view> PickleInput::Read(uint64_t n, std::string_view what) {
  if (n > left()) {
    return DataLoss(std::string(what) + " at offset " + std::to_string(pos_) + " needs " +
                    std::to_string(n) + " bytes, but only " + std::to_string(left()) +
                    " are left (the file is truncated or corrupt)");
  }
  std::string_view s = data_.substr(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return s;
}

Status PickleInput::Skip(uint64_t n, std::string_view what) { return Read(n, what).status(); }

Result<PickleValue> ParsePickle(std::string_view bytes, const PickleOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(ParsedPickle parsed, ParsePickleStream(bytes, options));
  return std::move(parsed.value);
}

Result<ParsedPickle> ParsePickleStream(std::string_view bytes, const PickleOptions& options) {
  if (bytes.size() > options.max_bytes) {
    return ResourceExhausted("pickle: the stream is " + std::to_string(bytes.size()) +
                             " bytes, over the limit of " + std::to_string(options.max_bytes) +
                             " (raise PickleOptions::max_bytes if intended)");
  }
  Parser parser(bytes, options);
  return parser.Run();
}

Result<std::vector<Global>> ListGlobals(std::string_view bytes) {
  Reader in(bytes);
  std::vector<Global> out;
  std::vector<std::string> recent;                      // strings pushed, most recent last
  std::unordered_map<uint64_t, std::string> memo_strs;  // memo entries that hold strings
  bool last_was_str = false;
  uint64_t memo_count = 0;
  auto fail = [&](size_t at, const std::string& what) {
    return DataLoss("pickle: " + what + " at offset " + std::to_string(at) +
                    " (not a pickle, or corrupt)");
  };
  auto push_str = [&](std::string s) {
    recent.push_back(std::move(s));
    if (recent.size() > 8) recent.erase(recent.begin());
    last_was_str = true;
  };
  auto memo_put = [&](uint64_t idx) {
    if (last_was_str && !recent.empty() && memo_strs.size() < (size_t{1} << 16))
      memo_strs[idx] = recent.back();
  };
  while (true) {
    size_t at = in.pos();
    TIFFIN_ASSIGN_OR_RETURN(uint64_t op64, in.ReadLE(1, "opcode"));
    uint8_t op = static_cast<uint8_t>(op64);
    bool was_str = last_was_str;
    last_was_str = false;
    switch (op) {
      case kStop:
        return out;
      case kMark:
      case kPop:
      case kPopMark:
      case kNone:
      case kNewTrue:
      case kNewFalse:
      case kReduce:
      case kBuild:
      case kDict:
      case kEmptyDict:
      case kAppends:
      case kAppend:
      case kList:
      case kEmptyList:
      case kObj:
      case kSetItem:
      case kSetItems:
      case kTuple:
      case kEmptyTuple:
      case kTuple1:
      case kTuple2:
      case kTuple3:
      case kNewObj:
      case kNewObjEx:
      case kEmptySet:
      case kAddItems:
      case kFrozenSet:
      case kBinPersId:
      case kNextBuffer:
      case kReadonlyBuffer:
        break;
      case kDup:
        last_was_str = was_str;
        break;
      case kProto:
      case kBinInt1:
      case kExt1:
        TIFFIN_RETURN_IF_ERROR(in.ReadLE(1, "argument").status());
        break;
      case kBinInt2:
      case kExt2:
        TIFFIN_RETURN_IF_ERROR(in.ReadLE(2, "argument").status());
        break;
      case kBinInt:
      case kExt4:
        TIFFIN_RETURN_IF_ERROR(in.ReadLE(4, "argument").status());
        break;
      case kBinFloat:
        TIFFIN_RETURN_IF_ERROR(in.ReadBytes(8, "BINFLOAT").status());
        break;
      case kFrame:
        TIFFIN_RETURN_IF_ERROR(in.ReadLE(8, "FRAME length").status());
        break;
      case kInt:
      case kLong:
      case kFloat:
      case kPersId:
        TIFFIN_RETURN_IF_ERROR(in.ReadLine("text argument").status());
        break;
      case kString: {
        TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in.ReadLine("STRING argument"));
        std::string s(line.size() >= 2 ? line.substr(1, line.size() - 2) : line);
        push_str(s);
        break;
      }
      case kUnicode: {
        TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in.ReadLine("UNICODE argument"));
        push_str(std::string(line));
        break;
      }
      case kLong1:
      case kLong4:
      case kBinString:
      case kShortBinString:
      case kBinBytes:
      case kShortBinBytes:
      case kBinBytes8:
      case kByteArray8:
      case kShortBinUnicode:
      case kBinUnicode:
      case kBinUnicode8: {
        size_t width = (op == kLong1 || op == kShortBinString || op == kShortBinBytes ||
                        op == kShortBinUnicode)
                           ? 1
                       : (op == kBinBytes8 || op == kByteArray8 || op == kBinUnicode8) ? 8
                                                                                       : 4;
        TIFFIN_ASSIGN_OR_RETURN(uint64_t n, in.ReadLE(width, "length"));
        if (width == 4 && (op == kLong4 || op == kBinString) && (n & 0x80000000u))
          return fail(at, "negative length");
        TIFFIN_ASSIGN_OR_RETURN(std::string_view b, in.ReadBytes(n, "data"));
        if (op == kShortBinUnicode || op == kBinUnicode || op == kBinUnicode8 ||
            op == kShortBinString || op == kBinString) {
          push_str(std::string(b.substr(0, 300)));
        }
        break;
      }
      case kGlobal:
      case kInst: {
        TIFFIN_ASSIGN_OR_RETURN(std::string_view module, in.ReadLine("global module"));
        TIFFIN_ASSIGN_OR_RETURN(std::string_view name, in.ReadLine("global name"));
        out.push_back(Global{CanonicalModule(module), std::string(name)});
        break;
      }
      case kStackGlobal:
        if (recent.size() >= 2) {
          out.push_back(Global{CanonicalModule(recent[recent.size() - 2]), recent.back()});
          recent.resize(recent.size() - 2);
        } else {
          out.push_back(Global{"?", "?"});
        }
        break;
      case kPut: {
        TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in.ReadLine("PUT argument"));
        int64_t idx = 0;
        std::from_chars(line.data(), line.data() + line.size(), idx);
        last_was_str = was_str;
        memo_put(static_cast<uint64_t>(idx));
        ++memo_count;
        break;
      }
      case kBinPut:
      case kLongBinPut: {
        TIFFIN_ASSIGN_OR_RETURN(uint64_t idx, in.ReadLE(op == kBinPut ? 1 : 4, "memo index"));
        last_was_str = was_str;
        memo_put(idx);
        ++memo_count;
        break;
      }
      case kMemoize:
        last_was_str = was_str;
        memo_put(memo_count);
        ++memo_count;
        break;
      case kGet:
      case kBinGet:
      case kLongBinGet: {
        uint64_t idx = 0;
        if (op == kGet) {
          TIFFIN_ASSIGN_OR_RETURN(std::string_view line, in.ReadLine("GET argument"));
          int64_t i = 0;
          std::from_chars(line.data(), line.data() + line.size(), i);
          idx = static_cast<uint64_t>(i);
        } else {
          TIFFIN_ASSIGN_OR_RETURN(idx, in.ReadLE(op == kBinGet ? 1 : 4, "memo index"));
        }
        auto it = memo_strs.find(idx);
        if (it != memo_strs.end()) push_str(it->second);
        break;
      }
      default:
        return fail(at, "unknown opcode " + std::to_string(op));
    }
  }
}

}  // namespace tiffin::pickle
