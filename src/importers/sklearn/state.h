// Read access to a scikit-learn object rebuilt by the pickle machine.
//
// An estimator pickles as NEWOBJ(cls) + BUILD(dict): Obj wraps that value and
// reads its attributes by name with checked types. Nothing here trusts the
// file: every accessor returns an error naming the class and the attribute
// when it is missing or has another type, so a renamed attribute (version
// drift) surfaces as a message, not a crash.
#ifndef TIFFIN_IMPORTERS_SKLEARN_STATE_H_
#define TIFFIN_IMPORTERS_SKLEARN_STATE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "importers/pickle/pickle.h"
#include "tiffin/status.h"
#include "tiffin/tensor.h"

namespace tiffin::sklearn {

using pickle::PickleValue;

class Obj {
 public:
  explicit Obj(const PickleValue* value) : v_(value) {}

  const PickleValue& value() const { return *v_; }
  // "LogisticRegression" (empty when the value is not an object).
  std::string ClassName() const;
  // "sklearn.linear_model._logistic.LogisticRegression".
  std::string FullName() const;

  // The attribute `key` of the BUILD state, or null when absent (a None
  // value is returned as a kNone value, not null).
  const PickleValue* Find(std::string_view key) const;
  bool Has(std::string_view key) const;
  // True when present and not None.
  bool HasValue(std::string_view key) const;
  Result<const PickleValue*> Get(std::string_view key) const;

  // Scalars. Python bool/int/float and numpy scalars are accepted.
  Result<double> Double(std::string_view key) const;
  Result<int64_t> Int(std::string_view key) const;
  Result<bool> Bool(std::string_view key) const;
  Result<std::string> Str(std::string_view key) const;
  // With a default when the attribute is absent or None.
  double DoubleOr(std::string_view key, double fallback) const;
  int64_t IntOr(std::string_view key, int64_t fallback) const;
  bool BoolOr(std::string_view key, bool fallback) const;
  std::string StrOr(std::string_view key, std::string fallback) const;

  // A numeric array (numpy array, numpy scalar, Python number or list of
  // numbers) converted to float64.
  Result<Tensor> Doubles(std::string_view key) const;
  // An integer array (numpy integer or bool array, or list of ints) as int64.
  Result<Tensor> Ints(std::string_view key) const;

  // True when the object was pickled by scikit-learn older than
  // major.minor (a missing _sklearn_version means before 0.18). For the few
  // behaviours that changed without a trace in the fitted state.
  bool WrittenBefore(int major, int minor) const;

  // "LogisticRegression.coef_" for messages.
  std::string Where(std::string_view key) const;

 private:
  const PickleValue* v_;
};

// Conversions of a bare value (same rules as the Obj accessors).
Result<double> ToDouble(const PickleValue& v, const std::string& where);
Result<int64_t> ToInt(const PickleValue& v, const std::string& where);
Result<Tensor> ToDoubleTensor(const PickleValue& v, const std::string& where);
Result<Tensor> ToInt64Tensor(const PickleValue& v, const std::string& where);

// Class labels (classes_, categories_): numbers, bools or strings, from a
// numeric, text or object numpy array or a list. Strings stay strings;
// integers and bools become int64; other numbers float64. NaN and None
// elements of object arrays are kept as float NaN / empty string with
// `has_missing` set.
struct Labels {
  Tensor values;  // 1-D: kInt64, kFloat64 or kString
  bool has_missing = false;
  int64_t size() const { return values.size(); }
  bool is_string() const { return values.dtype() == DType::kString; }
};
Result<Labels> ToLabels(const PickleValue& v, const std::string& where);

// The items of a list or tuple (error otherwise).
Result<std::vector<const PickleValue*>> ToSequence(const PickleValue& v, const std::string& where);

}  // namespace tiffin::sklearn

#endif  // TIFFIN_IMPORTERS_SKLEARN_STATE_H_
