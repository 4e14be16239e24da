#include "importers/sklearn/state.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "importers/pickle/numpy.h"

namespace tiffin::sklearn {
namespace {

using Kind = PickleValue::Kind;

// The BUILD state of an object: a dict, or (dict, slots) for classes with
// __slots__ (only the dict part carries estimator attributes).
const PickleValue* StateDict(const PickleValue& v) {
  if (!v.is_object() || !v.state) return nullptr;
  const PickleValue* s = v.state.get();
  if (s->is_tuple() && s->items.size() == 2 && s->items[0]->is_dict()) return s->items[0].get();
  return s->is_dict() ? s : nullptr;
}

bool IsNumpyValue(const PickleValue& v) {
  return v.is_object() && (v.global.module.rfind("numpy", 0) == 0);
}

Result<Tensor> CastTo(const Tensor& t, DType dtype, const std::string& where) {
  if (t.dtype() == dtype) return t;
  Tensor out(dtype, t.shape());
  auto convert = [&](auto get) -> Status {
    for (int64_t i = 0; i < t.size(); ++i) {
      double x = get(i);
      if (dtype == DType::kFloat64) {
        out.data<double>()[i] = x;
      } else {
        if (!(x >= -9.2e18 && x <= 9.2e18) || x != std::floor(x)) {
          return InvalidArgument(where + ": expected integers, found " + std::to_string(x));
        }
        out.data<int64_t>()[i] = static_cast<int64_t>(x);
      }
    }
    return Status::Ok();
  };
  switch (t.dtype()) {
#define TIFFIN_CASE(D, T)                                                         \
  case D:                                                                         \
    TIFFIN_RETURN_IF_ERROR(                                                       \
        convert([&](int64_t i) { return static_cast<double>(t.data<T>()[i]); })); \
    return out;
    TIFFIN_CASE(DType::kFloat32, float)
    TIFFIN_CASE(DType::kFloat64, double)
    TIFFIN_CASE(DType::kInt8, int8_t)
    TIFFIN_CASE(DType::kInt16, int16_t)
    TIFFIN_CASE(DType::kInt32, int32_t)
    TIFFIN_CASE(DType::kUInt8, uint8_t)
    TIFFIN_CASE(DType::kUInt16, uint16_t)
    TIFFIN_CASE(DType::kUInt32, uint32_t)
    TIFFIN_CASE(DType::kBool, bool)
#undef TIFFIN_CASE
    case DType::kInt64:
      if (dtype == DType::kFloat64) {
        for (int64_t i = 0; i < t.size(); ++i)
          out.data<double>()[i] = static_cast<double>(t.data<int64_t>()[i]);
        return out;
      }
      return t;
    case DType::kUInt64:
      for (int64_t i = 0; i < t.size(); ++i) {
        uint64_t x = t.data<uint64_t>()[i];
        if (dtype == DType::kFloat64) {
          out.data<double>()[i] = static_cast<double>(x);
        } else {
          if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            return InvalidArgument(where + ": integer out of int64 range");
          out.data<int64_t>()[i] = static_cast<int64_t>(x);
        }
      }
      return out;
    case DType::kFloat16:
      for (int64_t i = 0; i < t.size(); ++i) {
        double x = HalfToFloat(t.data<Float16>()[i].bits);
        if (dtype == DType::kFloat64)
          out.data<double>()[i] = x;
        else
          out.data<int64_t>()[i] = static_cast<int64_t>(x);
      }
      return out;
    default:
      return InvalidArgument(where + ": expected a numeric array, found " +
                             std::string(DTypeName(t.dtype())));
  }
}

Result<Tensor> ToNumericTensor(const PickleValue& v, DType dtype, const std::string& where) {
  if (IsNumpyValue(v)) {
    auto t = pickle::NumpyArrayToTensor(v);
    if (!t.ok()) return t.status().WithContext(where);
    return CastTo(*t, dtype, where);
  }
  if (v.kind == Kind::kBool || v.kind == Kind::kInt || v.kind == Kind::kFloat) {
    Tensor t(DType::kFloat64, {});
    TIFFIN_ASSIGN_OR_RETURN(t.data<double>()[0], ToDouble(v, where));
    return CastTo(t, dtype, where);
  }
  if (v.is_list() || v.is_tuple()) {
    // A list of numbers, or a list of equal-length lists (2-D).
    std::vector<double> flat;
    Shape shape = {static_cast<int64_t>(v.items.size())};
    int64_t inner = -1;
    for (const auto& item : v.items) {
      if (item->is_list() || item->is_tuple() ||
          (IsNumpyValue(*item) && !item->IsObjectOf("numpy._core.multiarray.scalar"))) {
        TIFFIN_ASSIGN_OR_RETURN(Tensor row, ToNumericTensor(*item, DType::kFloat64, where));
        if (row.rank() > 1) return NotSupported(where + ": nested arrays of rank > 2");
        if (inner >= 0 && row.size() != inner)
          return InvalidArgument(where + ": ragged nested list");
        inner = row.size();
        for (int64_t i = 0; i < row.size(); ++i) flat.push_back(row.data<double>()[i]);
      } else {
        TIFFIN_ASSIGN_OR_RETURN(double d, ToDouble(*item, where));
        if (inner > 0) return InvalidArgument(where + ": mixed scalars and lists");
        inner = 0;
        flat.push_back(d);
      }
    }
    if (inner > 0) shape.push_back(inner);
    if (inner > 0 && static_cast<int64_t>(flat.size()) != shape[0] * inner)
      return InvalidArgument(where + ": ragged nested list");
    Tensor t(DType::kFloat64, shape);
    std::copy(flat.begin(), flat.end(), t.data<double>());
    return CastTo(t, dtype, where);
  }
  return InvalidArgument(where + ": expected a numeric array, found " + v.TypeName());
}

}  // namespace

Result<double> ToDouble(const PickleValue& v, const std::string& where) {
  switch (v.kind) {
    case Kind::kBool:
      return v.bool_value ? 1.0 : 0.0;
    case Kind::kInt:
      if (v.is_big_int) return InvalidArgument(where + ": integer too large");
      return static_cast<double>(v.int_value);
    case Kind::kFloat:
      return v.float_value;
    case Kind::kObject: {
      if (!IsNumpyValue(v)) break;
      auto t = pickle::NumpyArrayToTensor(v);
      if (!t.ok()) return t.status().WithContext(where);
      if (t->size() != 1) return InvalidArgument(where + ": expected a scalar, found an array");
      TIFFIN_ASSIGN_OR_RETURN(Tensor d, CastTo(*t, DType::kFloat64, where));
      return d.data<double>()[0];
    }
    default:
      break;
  }
  return InvalidArgument(where + ": expected a number, found " + v.TypeName());
}

Result<int64_t> ToInt(const PickleValue& v, const std::string& where) {
  if (v.is_int()) return v.int_value;
  if (v.kind == Kind::kBool) return v.bool_value ? 1 : 0;
  TIFFIN_ASSIGN_OR_RETURN(double d, ToDouble(v, where));
  if (!(d >= -9.2e18 && d <= 9.2e18) || d != std::floor(d))
    return InvalidArgument(where + ": expected an integer, found " + std::to_string(d));
  return static_cast<int64_t>(d);
}

Result<Tensor> ToDoubleTensor(const PickleValue& v, const std::string& where) {
  return ToNumericTensor(v, DType::kFloat64, where);
}

Result<Tensor> ToInt64Tensor(const PickleValue& v, const std::string& where) {
  return ToNumericTensor(v, DType::kInt64, where);
}

Result<std::vector<const PickleValue*>> ToSequence(const PickleValue& v, const std::string& where) {
  if (!v.is_list() && !v.is_tuple()) {
    if (IsNumpyValue(v)) {
      // An object ndarray (e.g. GradientBoosting's estimators_).
      auto items = pickle::NumpyObjectArrayItems(v);
      if (!items.ok()) return items.status().WithContext(where);
      std::vector<const PickleValue*> out;
      for (const auto& item : items->items) out.push_back(item.get());
      return out;
    }
    return InvalidArgument(where + ": expected a list, found " + v.TypeName());
  }
  std::vector<const PickleValue*> out;
  for (const auto& item : v.items) out.push_back(item.get());
  return out;
}

Result<Labels> ToLabels(const PickleValue& v, const std::string& where) {
  Labels labels;
  std::vector<const PickleValue*> items;
  if (IsNumpyValue(v)) {
    auto dtype_probe = pickle::NumpyArrayToTensor(v);
    if (dtype_probe.ok()) {
      const Tensor& t = *dtype_probe;
      if (t.rank() > 1) return InvalidArgument(where + ": expected a 1-D array of labels");
      if (t.dtype() == DType::kString) {
        labels.values = t.Reshaped({t.size()});
      } else if (IsFloatingPoint(t.dtype())) {
        TIFFIN_ASSIGN_OR_RETURN(labels.values, CastTo(t, DType::kFloat64, where));
        labels.values = labels.values.Reshaped({t.size()});
        for (int64_t i = 0; i < t.size(); ++i)
          if (std::isnan(labels.values.data<double>()[i])) labels.has_missing = true;
      } else {
        TIFFIN_ASSIGN_OR_RETURN(labels.values, CastTo(t, DType::kInt64, where));
        labels.values = labels.values.Reshaped({t.size()});
      }
      return labels;
    }
    auto objects = pickle::NumpyObjectArrayItems(v);
    if (!objects.ok()) return dtype_probe.status().WithContext(where);
    for (const auto& item : objects->items) items.push_back(item.get());
  } else {
    TIFFIN_ASSIGN_OR_RETURN(items, ToSequence(v, where));
  }
  // Python objects: all strings (None/NaN allowed as missing) or all numbers.
  // numpy str_ scalars (what np.unique leaves in object arrays) are strings.
  std::vector<std::string> text(items.size());
  std::vector<bool> is_text(items.size(), false);
  bool any_string = false, all_int = true;
  for (size_t i = 0; i < items.size(); ++i) {
    const PickleValue* item = items[i];
    if (item->is_str() || item->is_bytes()) {
      is_text[i] = true;
      text[i] = item->str_value;
    } else if (IsNumpyValue(*item)) {
      auto t = pickle::NumpyArrayToTensor(*item);
      if (t.ok() && t->dtype() == DType::kString && t->size() == 1) {
        is_text[i] = true;
        text[i] = t->data<std::string>()[0];
      } else if (t.ok() && !IsInteger(t->dtype()) && t->dtype() != DType::kBool) {
        all_int = false;
      }
    } else if (item->kind == Kind::kFloat || item->is_object()) {
      all_int = false;
    }
    any_string |= is_text[i];
  }
  const int64_t n = static_cast<int64_t>(items.size());
  if (any_string) {
    labels.values = Tensor(DType::kString, {n});
    for (int64_t i = 0; i < n; ++i) {
      const PickleValue* item = items[static_cast<size_t>(i)];
      if (is_text[static_cast<size_t>(i)]) {
        labels.values.data<std::string>()[i] = text[static_cast<size_t>(i)];
      } else if (item->is_none() || (item->kind == Kind::kFloat && std::isnan(item->float_value))) {
        labels.has_missing = true;  // stays ""
      } else {
        auto d = ToDouble(*item, where);
        if (!d.ok() || !std::isnan(*d)) {
          return NotSupported(where + ": labels mix strings and " + item->TypeName() +
                              "; mixed-type categories are not supported");
        }
        labels.has_missing = true;
      }
    }
    return labels;
  }
  labels.values = Tensor(all_int ? DType::kInt64 : DType::kFloat64, {n});
  for (int64_t i = 0; i < n; ++i) {
    const PickleValue* item = items[static_cast<size_t>(i)];
    if (all_int) {
      TIFFIN_ASSIGN_OR_RETURN(labels.values.data<int64_t>()[i], ToInt(*item, where));
    } else {
      if (item->is_none()) {
        labels.values.data<double>()[i] = std::nan("");
        labels.has_missing = true;
        continue;
      }
      TIFFIN_ASSIGN_OR_RETURN(double d, ToDouble(*item, where));
      if (std::isnan(d)) labels.has_missing = true;
      labels.values.data<double>()[i] = d;
    }
  }
  return labels;
}

std::string Obj::ClassName() const { return v_->is_object() ? v_->global.name : ""; }
std::string Obj::FullName() const { return v_->is_object() ? v_->global.FullName() : ""; }

const PickleValue* Obj::Find(std::string_view key) const {
  const PickleValue* dict = StateDict(*v_);
  return dict ? dict->Find(key) : nullptr;
}

bool Obj::Has(std::string_view key) const { return Find(key) != nullptr; }
bool Obj::HasValue(std::string_view key) const {
  const PickleValue* v = Find(key);
  return v && !v->is_none();
}

bool Obj::WrittenBefore(int major, int minor) const {
  const PickleValue* v = Find("_sklearn_version");
  if (!v || !v->is_str()) return true;
  int ma = 0, mi = 0;
  if (std::sscanf(v->str_value.c_str(), "%d.%d", &ma, &mi) < 2) return false;
  return ma < major || (ma == major && mi < minor);
}

std::string Obj::Where(std::string_view key) const { return ClassName() + "." + std::string(key); }

Result<const PickleValue*> Obj::Get(std::string_view key) const {
  const PickleValue* v = Find(key);
  if (!v) {
    return InvalidArgument(ClassName() + " has no attribute '" + std::string(key) +
                           "': the estimator is not fitted, or this scikit-learn version stores "
                           "it under another name");
  }
  return v;
}

Result<double> Obj::Double(std::string_view key) const {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* v, Get(key));
  return ToDouble(*v, Where(key));
}
Result<int64_t> Obj::Int(std::string_view key) const {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* v, Get(key));
  return ToInt(*v, Where(key));
}
Result<bool> Obj::Bool(std::string_view key) const {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* v, Get(key));
  TIFFIN_ASSIGN_OR_RETURN(double d, ToDouble(*v, Where(key)));
  return d != 0;
}
Result<std::string> Obj::Str(std::string_view key) const {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* v, Get(key));
  if (!v->is_str())
    return InvalidArgument(Where(key) + ": expected a string, found " + v->TypeName());
  return v->str_value;
}
double Obj::DoubleOr(std::string_view key, double fallback) const {
  const PickleValue* v = Find(key);
  if (!v || v->is_none()) return fallback;
  auto d = ToDouble(*v, Where(key));
  return d.ok() ? *d : fallback;
}
int64_t Obj::IntOr(std::string_view key, int64_t fallback) const {
  const PickleValue* v = Find(key);
  if (!v || v->is_none()) return fallback;
  auto d = ToInt(*v, Where(key));
  return d.ok() ? *d : fallback;
}
bool Obj::BoolOr(std::string_view key, bool fallback) const {
  const PickleValue* v = Find(key);
  if (!v || v->is_none()) return fallback;
  auto d = ToDouble(*v, Where(key));
  return d.ok() ? *d != 0 : fallback;
}
std::string Obj::StrOr(std::string_view key, std::string fallback) const {
  const PickleValue* v = Find(key);
  if (!v || !v->is_str()) return fallback;
  return v->str_value;
}
Result<Tensor> Obj::Doubles(std::string_view key) const {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* v, Get(key));
  return ToDoubleTensor(*v, Where(key));
}
Result<Tensor> Obj::Ints(std::string_view key) const {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* v, Get(key));
  return ToInt64Tensor(*v, Where(key));
}

}  // namespace tiffin::sklearn
