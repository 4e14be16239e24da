#include "tiffin/checks.h"

#include <cmath>
#include <cstdio>

namespace tiffin {
namespace {

// The value of element i as a double, or NaN for non-numbers.

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// Converts `t` to `to` when no value changes; else says which one would.
Result<Tensor> Lossless(const Tensor& t, DType to, const std::string& name) {
  const bool numeric_from =
      IsFloatingPoint(t.dtype()) || IsInteger(t.dtype()) || t.dtype() == DType::kBool;
  if (!numeric_from || !(to == DType::kFloat64 || to == DType::kFloat32 || to == DType::kInt64)) {
    return InvalidArgument("input '" + name + "': expected dtype " + std::string(DTypeName(to)) +
                           ", got " + std::string(DTypeName(t.dtype())) + " (convert the data to " +
                           std::string(DTypeName(to)) + ")");
  }
  Tensor out(to, t.shape());
  for (int64_t i = 0; i < t.size(); ++i) {
    const double v = ElementAsDouble(t, i);
    bool exact = true;
    std::string text = Num(v);
    // Doubles hold integers exactly up to 2^53 (floats up to 2^24); ElementAsDouble() has
    // rounded already, so check the integer itself.
    const int64_t limit = to == DType::kFloat32 ? int64_t{1} << 24 : int64_t{1} << 53;
    if (t.dtype() == DType::kInt64) {
      const int64_t x = t.data<int64_t>()[i];
      exact = x >= -limit && x <= limit;
      text = std::to_string(x);
    } else if (t.dtype() == DType::kUInt64) {
      const uint64_t x = t.data<uint64_t>()[i];
      exact = x <= static_cast<uint64_t>(limit);
      text = std::to_string(x);
    }
    if (to == DType::kFloat64) {
      out.data<double>()[i] = v;
    } else if (to == DType::kFloat32) {
      const float f = static_cast<float>(v);
      out.data<float>()[i] = f;
      exact = exact && (std::isnan(v) || static_cast<double>(f) == v);
    } else {
      exact = std::isfinite(v) && v == std::floor(v) && std::abs(v) <= 9007199254740992.0;
      out.data<int64_t>()[i] = exact ? static_cast<int64_t>(v) : 0;
    }
    if (!exact) {
      return InvalidArgument("input '" + name + "': value " + text + " (element " +
                             std::to_string(i) + ") cannot be represented exactly as " +
                             std::string(DTypeName(to)) + "; send " + std::string(DTypeName(to)) +
                             " data");
    }
  }
  return out;
}

}  // namespace

Result<std::vector<NamedTensor>> ConformInputs(const Model& model,
                                               std::vector<NamedTensor> inputs) {
  for (auto& in : inputs) {
    for (const auto& info : model.inputs()) {
      if (info.name != in.name || info.dtype == DType::kUndefined ||
          info.dtype == in.tensor.dtype())
        continue;
      TIFFIN_ASSIGN_OR_RETURN(in.tensor, Lossless(in.tensor, info.dtype, in.name));
    }
  }
  return inputs;
}

std::vector<std::string> RangeWarnings(const Model& model, const std::vector<NamedTensor>& inputs) {
  std::vector<std::string> out;
  const auto& stats = model.info().training_stats;
  if (stats.empty()) return out;
  auto check = [&](const FeatureStats& s, const Tensor& t, int64_t col, int64_t width) {
    if (std::isnan(s.min) || std::isnan(s.max)) return;
    const double w = std::max(s.max - s.min, 1e-12);
    const int64_t rows = width > 0 ? t.size() / width : 0;
    int64_t far = 0;
    double lo = NAN, hi = NAN;
    for (int64_t r = 0; r < rows; ++r) {
      const double v = ElementAsDouble(t, r * width + col);
      if (std::isnan(v)) continue;
      if (v < s.min - 0.5 * w || v > s.max + 0.5 * w) {
        ++far;
        lo = std::isnan(lo) ? v : std::min(lo, v);
        hi = std::isnan(hi) ? v : std::max(hi, v);
      }
    }
    if (far) {
      out.push_back("feature `" + s.name + "`: " + std::to_string(far) + " of " +
                    std::to_string(rows) + " values far outside the training range " + Num(s.min) +
                    " to " + Num(s.max) + " (seen " + Num(lo) + " to " + Num(hi) + "; from " +
                    s.source + ")");
    }
  };
  const auto& infos = model.inputs();
  if (infos.size() == 1 && inputs.size() == 1 && inputs[0].tensor.rank() == 2) {
    const Tensor& t = inputs[0].tensor;
    for (int64_t j = 0; j < t.dim(1) && j < static_cast<int64_t>(stats.size()); ++j)
      check(stats[static_cast<size_t>(j)], t, j, t.dim(1));
    return out;
  }
  for (const auto& s : stats) {
    for (const auto& in : inputs)
      if (in.name == s.name) check(s, in.tensor, 0, 1);
  }
  return out;
}

}  // namespace tiffin
