// A small document tree for XGBoost's JSON and UBJSON model files, and the
// two bounded readers that build it.
//
// XGBoost writes the same schema in two encodings: JSON text (read here with
// simdjson) and Universal Binary JSON (big-endian, typed arrays `[$t#L n`),
// the default since 2.1. Both readers produce a JValue, so the model reader
// sees one shape. Inputs are untrusted: every count is checked against the
// bytes left, nesting is bounded, and numbers in typed arrays are kept as
// doubles (float32 values convert exactly).
#ifndef TIFFIN_IMPORTERS_XGBOOST_JSON_VALUE_H_
#define TIFFIN_IMPORTERS_XGBOOST_JSON_VALUE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tiffin/status.h"

namespace tiffin::xgboost {

struct JMember;

class JValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool b = false;
  double num = 0;
  bool is_integer = false;  // the number was written as an integer
  std::string str;
  // Arrays of numbers are stored flat (XGBoost's node arrays are large);
  // other arrays hold their elements in `items`.
  std::vector<double> numbers;
  bool numeric_array = false;
  std::vector<JValue> items;
  std::vector<JMember> members;  // objects: in file order

  bool is_object() const { return kind == Kind::kObject; }
  bool is_array() const { return kind == Kind::kArray; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const { return kind == Kind::kNumber; }
  // Member `key` of an object, or null.
  const JValue* Find(std::string_view key) const;
  // Array length (numeric or not).
  size_t size() const { return numeric_array ? numbers.size() : items.size(); }
};

struct JMember {
  std::string key;
  JValue value;
};

struct JsonLimits {
  size_t max_depth = 128;
  size_t max_values = size_t{1} << 26;  // elements of all arrays and objects together
};

// JSON text (simdjson). Errors are kDataLoss with simdjson's reason.
Result<JValue> ParseJson(std::string_view text, const JsonLimits& limits = {});
// UBJSON as XGBoost writes it (plus the untyped and counted forms of the
// spec). Errors are kDataLoss naming the offset.
Result<JValue> ParseUbjson(std::string_view bytes, const JsonLimits& limits = {});
// True when `bytes` starts like a UBJSON object ('{' then a length marker
// or a count/type header) rather than JSON text.
bool LooksLikeUbjson(std::string_view bytes);

}  // namespace tiffin::xgboost

#endif  // TIFFIN_IMPORTERS_XGBOOST_JSON_VALUE_H_
