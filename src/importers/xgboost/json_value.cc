#include "importers/xgboost/json_value.h"

#include <simdjson.h>

#include <cmath>
#include <cstring>

namespace tiffin::xgboost {

const JValue* JValue::Find(std::string_view key) const {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& m : members)
    if (m.key == key) return &m.value;
  return nullptr;
}

namespace {

// ---- JSON (simdjson DOM -> JValue) ----

struct JsonBuild {
  const JsonLimits& limits;
  size_t values = 0;

  // A number; true/false as 1/0 (old files write default_left as bools) and
  // null as NaN (ParseJson turns XGBoost's bare NaN into null).
  static Status Num(simdjson::dom::element x, double* d) {
    using T = simdjson::dom::element_type;
    if (x.type() == T::BOOL) {
      bool b = false;
      if (x.get(b) != simdjson::SUCCESS) return DataLoss("bad JSON bool");
      *d = b ? 1 : 0;
    } else if (x.type() == T::NULL_VALUE) {
      *d = std::nan("");
    } else if (x.type() == T::INT64) {
      int64_t v = 0;
      if (x.get(v) != simdjson::SUCCESS) return DataLoss("bad JSON number");
      *d = static_cast<double>(v);
    } else if (x.type() == T::UINT64) {
      uint64_t v = 0;
      if (x.get(v) != simdjson::SUCCESS) return DataLoss("bad JSON number");
      *d = static_cast<double>(v);
    } else if (x.get(*d) != simdjson::SUCCESS) {
      return DataLoss("bad JSON number");
    }
    return Status::Ok();
  }

  Status Build(simdjson::dom::element e, size_t depth, JValue* out) {
    if (depth > limits.max_depth)
      return DataLoss("JSON nesting deeper than " + std::to_string(limits.max_depth));
    if (++values > limits.max_values)
      return ResourceExhausted("JSON holds more than " + std::to_string(limits.max_values) +
                               " values");
    using T = simdjson::dom::element_type;
    switch (e.type()) {
      case T::NULL_VALUE:
        out->kind = JValue::Kind::kNull;
        return Status::Ok();
      case T::BOOL:
        out->kind = JValue::Kind::kBool;
        if (e.get(out->b) != simdjson::SUCCESS) return DataLoss("bad JSON bool");
        return Status::Ok();
      case T::INT64:
      case T::UINT64:
      case T::DOUBLE:
        out->kind = JValue::Kind::kNumber;
        out->is_integer = e.type() != T::DOUBLE;
        return Num(e, &out->num);
      case T::STRING: {
        out->kind = JValue::Kind::kString;
        std::string_view sv;
        if (e.get(sv) != simdjson::SUCCESS) return DataLoss("bad JSON string");
        out->str = std::string(sv);
        return Status::Ok();
      }
      case T::ARRAY: {
        out->kind = JValue::Kind::kArray;
        simdjson::dom::array a;
        if (e.get(a) != simdjson::SUCCESS) return DataLoss("bad JSON array");
        bool all_numbers = a.size() > 0;
        for (simdjson::dom::element x : a) {
          const T t = x.type();
          all_numbers = all_numbers && (t == T::INT64 || t == T::UINT64 || t == T::DOUBLE ||
                                        t == T::BOOL || t == T::NULL_VALUE);
        }
        if (all_numbers) {
          out->numeric_array = true;
          values += a.size();
          if (values > limits.max_values) return ResourceExhausted("JSON array too large");
          out->numbers.reserve(a.size());
          for (simdjson::dom::element x : a) {
            double d = 0;
            TIFFIN_RETURN_IF_ERROR(Num(x, &d));
            out->numbers.push_back(d);
          }
          return Status::Ok();
        }
        for (simdjson::dom::element x : a) {
          out->items.emplace_back();
          TIFFIN_RETURN_IF_ERROR(Build(x, depth + 1, &out->items.back()));
        }
        return Status::Ok();
      }
      case T::OBJECT: {
        out->kind = JValue::Kind::kObject;
        simdjson::dom::object o;
        if (e.get(o) != simdjson::SUCCESS) return DataLoss("bad JSON object");
        for (simdjson::dom::key_value_pair field : o) {
          out->members.push_back({std::string(field.key), JValue{}});
          TIFFIN_RETURN_IF_ERROR(Build(field.value, depth + 1, &out->members.back().value));
        }
        return Status::Ok();
      }
      default:
        break;
    }
    return DataLoss("unknown JSON value");
  }
};

// ---- UBJSON ----

class Ubj {
 public:
  Ubj(std::string_view b, const JsonLimits& l) : b_(b), limits_(l) {}

  Status Value(JValue* out, size_t depth) {
    TIFFIN_ASSIGN_OR_RETURN(char m, Marker());
    return ValueOf(m, out, depth);
  }
  size_t pos() const { return pos_; }

 private:
  Status Err(const std::string& what) const {
    return DataLoss("UBJSON: " + what + " at offset " + std::to_string(pos_));
  }
  Result<char> Byte() {
    if (pos_ >= b_.size()) return Err("unexpected end of data");
    return b_[pos_++];
  }
  // The next marker, skipping no-ops.
  Result<char> Marker() {
    for (;;) {
      TIFFIN_ASSIGN_OR_RETURN(char c, Byte());
      if (c != 'N') return c;
    }
  }
  template <typename T>
  Result<T> BigEndian() {
    if (b_.size() - pos_ < sizeof(T)) return Err("truncated number");
    unsigned char raw[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i)
      raw[i] = static_cast<unsigned char>(b_[pos_ + sizeof(T) - 1 - i]);
    pos_ += sizeof(T);
    T v;
    std::memcpy(&v, raw, sizeof(T));
    return v;
  }
  // A number of type `t`; false in *ok when `t` is not numeric.
  Result<double> Number(char t, bool* is_int) {
    *is_int = true;
    switch (t) {
      case 'i': {
        TIFFIN_ASSIGN_OR_RETURN(int8_t v, BigEndian<int8_t>());
        return static_cast<double>(v);
      }
      case 'U': {
        TIFFIN_ASSIGN_OR_RETURN(uint8_t v, BigEndian<uint8_t>());
        return static_cast<double>(v);
      }
      case 'I': {
        TIFFIN_ASSIGN_OR_RETURN(int16_t v, BigEndian<int16_t>());
        return static_cast<double>(v);
      }
      case 'l': {
        TIFFIN_ASSIGN_OR_RETURN(int32_t v, BigEndian<int32_t>());
        return static_cast<double>(v);
      }
      case 'L': {
        TIFFIN_ASSIGN_OR_RETURN(int64_t v, BigEndian<int64_t>());
        return static_cast<double>(v);
      }
      case 'd': {
        *is_int = false;
        TIFFIN_ASSIGN_OR_RETURN(float v, BigEndian<float>());
        return static_cast<double>(v);
      }
      case 'D': {
        *is_int = false;
        TIFFIN_ASSIGN_OR_RETURN(double v, BigEndian<double>());
        return v;
      }
      default:
        return Err(std::string("expected a number, got marker '") + Printable(t) + "'");
    }
  }
  static std::string Printable(char c) {
    if (c >= 32 && c < 127) return std::string(1, c);
    return "\\x" + std::to_string(static_cast<unsigned char>(c));
  }
  Result<int64_t> Length() {
    TIFFIN_ASSIGN_OR_RETURN(char t, Marker());
    bool is_int = false;
    TIFFIN_ASSIGN_OR_RETURN(double d, Number(t, &is_int));
    if (!is_int || d < 0 || d > 9e15) return Err("bad length");
    return static_cast<int64_t>(d);
  }
  Result<std::string> String() {
    TIFFIN_ASSIGN_OR_RETURN(int64_t n, Length());
    if (static_cast<uint64_t>(n) > b_.size() - pos_) return Err("string longer than the data");
    std::string s(b_.substr(pos_, static_cast<size_t>(n)));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  static size_t Width(char t) {
    switch (t) {
      case 'i':
      case 'U':
      case 'C':
      case 'T':
      case 'F':
      case 'Z':
        return 1;
      case 'I':
        return 2;
      case 'l':
      case 'd':
        return 4;
      case 'L':
      case 'D':
        return 8;
      default:
        return 1;  // strings/containers: at least one byte each
    }
  }
  Status Count(size_t n) {
    values_ += n;
    if (values_ > limits_.max_values)
      return ResourceExhausted("UBJSON holds more than " + std::to_string(limits_.max_values) +
                               " values");
    return Status::Ok();
  }
  // Reads an optional `$type` and `#count` container header.
  Status Header(char* type, int64_t* count) {
    *type = 0;
    *count = -1;
    if (pos_ < b_.size() && b_[pos_] == '$') {
      ++pos_;
      TIFFIN_ASSIGN_OR_RETURN(*type, Byte());
      if (pos_ >= b_.size() || b_[pos_] != '#') return Err("a typed container needs a count");
    }
    if (pos_ < b_.size() && b_[pos_] == '#') {
      ++pos_;
      TIFFIN_ASSIGN_OR_RETURN(*count, Length());
      if (*type == 'Z' || *type == 'T' || *type == 'F' || *type == 'N')
        return Err("typed containers of null/bool are not supported");
      // Every element takes at least Width(type) bytes.
      const size_t w = *type ? Width(*type) : 1;
      if (static_cast<uint64_t>(*count) > (b_.size() - pos_) / w)
        return Err("container count " + std::to_string(*count) + " exceeds the data left");
      TIFFIN_RETURN_IF_ERROR(Count(static_cast<size_t>(*count)));
    }
    return Status::Ok();
  }
  Status ValueOf(char m, JValue* out, size_t depth) {
    if (depth > limits_.max_depth)
      return Err("nesting deeper than " + std::to_string(limits_.max_depth));
    TIFFIN_RETURN_IF_ERROR(Count(1));
    switch (m) {
      case 'Z':
        out->kind = JValue::Kind::kNull;
        return Status::Ok();
      case 'T':
      case 'F':
        out->kind = JValue::Kind::kBool;
        out->b = m == 'T';
        return Status::Ok();
      case 'i':
      case 'U':
      case 'I':
      case 'l':
      case 'L':
      case 'd':
      case 'D': {
        out->kind = JValue::Kind::kNumber;
        TIFFIN_ASSIGN_OR_RETURN(out->num, Number(m, &out->is_integer));
        return Status::Ok();
      }
      case 'C': {
        out->kind = JValue::Kind::kString;
        TIFFIN_ASSIGN_OR_RETURN(char c, Byte());
        out->str = std::string(1, c);
        return Status::Ok();
      }
      case 'S':
      case 'H': {
        out->kind = JValue::Kind::kString;
        TIFFIN_ASSIGN_OR_RETURN(out->str, String());
        if (m == 'H') {
          out->kind = JValue::Kind::kNumber;
          out->num = std::strtod(out->str.c_str(), nullptr);
        }
        return Status::Ok();
      }
      case '[': {
        out->kind = JValue::Kind::kArray;
        char type = 0;
        int64_t count = -1;
        TIFFIN_RETURN_IF_ERROR(Header(&type, &count));
        const bool numeric = type == 'i' || type == 'U' || type == 'I' || type == 'l' ||
                             type == 'L' || type == 'd' || type == 'D';
        if (numeric) {
          out->numeric_array = true;
          out->numbers.resize(static_cast<size_t>(count));
          bool is_int = false;
          for (int64_t i = 0; i < count; ++i) {
            TIFFIN_ASSIGN_OR_RETURN(out->numbers[static_cast<size_t>(i)], Number(type, &is_int));
          }
          return Status::Ok();
        }
        if (count >= 0) {
          for (int64_t i = 0; i < count; ++i) {
            out->items.emplace_back();
            char em = type;
            if (!em) {
              TIFFIN_ASSIGN_OR_RETURN(em, Marker());
            }
            TIFFIN_RETURN_IF_ERROR(ValueOf(em, &out->items.back(), depth + 1));
          }
        } else {
          for (;;) {
            TIFFIN_ASSIGN_OR_RETURN(char em, Marker());
            if (em == ']') break;
            out->items.emplace_back();
            TIFFIN_RETURN_IF_ERROR(ValueOf(em, &out->items.back(), depth + 1));
          }
        }
        // An untyped array of numbers (or bools) is stored flat too.
        bool all = !out->items.empty();
        for (const auto& v : out->items)
          all = all && (v.is_number() || v.kind == JValue::Kind::kBool);
        if (all) {
          out->numeric_array = true;
          for (const auto& v : out->items)
            out->numbers.push_back(v.is_number() ? v.num : (v.b ? 1.0 : 0.0));
          out->items.clear();
        }
        return Status::Ok();
      }
      case '{': {
        out->kind = JValue::Kind::kObject;
        char type = 0;
        int64_t count = -1;
        TIFFIN_RETURN_IF_ERROR(Header(&type, &count));
        for (int64_t i = 0; count < 0 || i < count; ++i) {
          if (count < 0) {
            // Keys have no marker; '}' ends the object.
            while (pos_ < b_.size() && b_[pos_] == 'N') ++pos_;
            if (pos_ < b_.size() && b_[pos_] == '}') {
              ++pos_;
              break;
            }
          }
          TIFFIN_ASSIGN_OR_RETURN(std::string key, String());
          out->members.push_back({std::move(key), JValue{}});
          char em = type;
          if (!em) {
            TIFFIN_ASSIGN_OR_RETURN(em, Marker());
          }
          TIFFIN_RETURN_IF_ERROR(ValueOf(em, &out->members.back().value, depth + 1));
        }
        return Status::Ok();
      }
      default:
        return Err(std::string("unknown marker '") + Printable(m) + "'");
    }
  }

  std::string_view b_;
  const JsonLimits& limits_;
  size_t pos_ = 0;
  size_t values_ = 0;
};

}  // namespace

Result<JValue> ParseJson(std::string_view text, const JsonLimits& limits) {
  // XGBoost before 1.5 wrote non-finite floats as bare NaN / Infinity,
  // which JSON does not allow: NaN becomes null (read back as NaN) and
  // Infinity a number too large for a float.
  std::string fixed;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      fixed += c;
      if (c == '\\' && i + 1 < text.size())
        fixed += text[++i];
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (text.substr(i, 3) == "NaN") {
      fixed += "null";
      i += 2;
    } else if (text.substr(i, 8) == "Infinity") {
      fixed += "1e308";
      i += 7;
    } else {
      fixed += c;
    }
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded(fixed);
  simdjson::dom::element root;
  auto err = parser.parse(padded).get(root);
  if (err) return DataLoss(std::string("not valid JSON: ") + simdjson::error_message(err));
  JValue out;
  JsonBuild b{limits};
  TIFFIN_RETURN_IF_ERROR(b.Build(root, 0, &out));
  return out;
}

Result<JValue> ParseUbjson(std::string_view bytes, const JsonLimits& limits) {
  Ubj u(bytes, limits);
  JValue out;
  TIFFIN_RETURN_IF_ERROR(u.Value(&out, 0));
  return out;
}

bool LooksLikeUbjson(std::string_view b) {
  if (b.size() < 2 || b[0] != '{') return false;
  const char c = b[1];
  return c == 'i' || c == 'U' || c == 'I' || c == 'l' || c == 'L' || c == '$' || c == '#' ||
         c == '}';
}

}  // namespace tiffin::xgboost
