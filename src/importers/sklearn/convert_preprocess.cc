// Preprocessing transformers, lowered to ai.onnx ops in float64 in the same
// order of operations as scikit-learn, so results match to the last bit or
// nearly (see docs/sklearn.md for the stated tolerances).
#include <cmath>
#include <limits>

#include "importers/sklearn/convert.h"

namespace tiffin::sklearn {
namespace {

// A [1, F] row of `t` (any 1-D double tensor).
std::string Row(Ctx& ctx, const Tensor& t, const std::string& hint) {
  return ctx.b.Const(t.Reshaped({1, t.size()}), hint);
}

Status CheckLength(const Obj& obj, const char* key, const Tensor& t, int64_t width) {
  if (width >= 0 && t.size() != width) {
    return InvalidArgument(obj.Where(key) + " has " + std::to_string(t.size()) +
                           " values, but the input has " + std::to_string(width) + " features");
  }
  return Status::Ok();
}

// Dense input of any element type (numbers become float64; strings stay).
Result<Features> DenseAny(Ctx& ctx, const Features& in) {
  if (!in.is_table()) return in;
  bool any_string = false, all_string = true;
  for (const Column& c : in.columns) {
    any_string |= c.dtype == DType::kString;
    all_string &= c.dtype == DType::kString;
  }
  if (any_string && !all_string) {
    return InvalidArgument(
        "a step received both string and numeric columns; scikit-learn would "
        "hold them as an object array, which tiffin does not convert");
  }
  Features out;
  out.dtype = any_string ? DType::kString : DType::kFloat64;
  std::vector<std::string> cols;
  for (const Column& c : in.columns) {
    cols.push_back(c.dtype == out.dtype ? c.value : ctx.b.Cast(c.value, out.dtype));
  }
  if (cols.empty()) return InvalidArgument("a step received no columns");
  out.value = ctx.b.Concat(cols);
  out.width = static_cast<int64_t>(cols.size());
  return out;
}

// Column j of a dense value as [N, 1].
std::string ColumnOf(Ctx& ctx, const Features& dense, int64_t j) {
  if (dense.width == 1) return dense.value;
  return ctx.b.Columns(dense.value, {j});
}

// Position of each string of `x` in `keys` (int64, -1 when absent), through
// ai.onnx.ml LabelEncoder: ai.onnx Equal takes strings only from opset 19.
std::string StringIndex(Ctx& ctx, const std::string& x, const std::vector<std::string>& keys) {
  std::vector<int64_t> ids;
  for (size_t i = 0; i < keys.size(); ++i) ids.push_back(static_cast<int64_t>(i));
  return ctx.b.Op("LabelEncoder", {x},
                  {{"keys_strings", AttrStrings(keys)},
                   {"values_int64s", AttrInts(ids)},
                   {"default_int64", AttrInt(-1)}},
                  kMl);
}

// x == s, elementwise, for a string value x.
std::string StringEquals(Ctx& ctx, const std::string& x, const std::string& s) {
  return ctx.b.Op("Equal", {StringIndex(ctx, x, {s}), ctx.b.ConstInts({0}, {}, "zero")});
}

// Missing-value mask [N, W] of a dense value: NaN for numbers, "" (how
// tiffin reads None/NaN in text columns) for strings.
std::string MissingMask(Ctx& ctx, const Features& dense) {
  if (dense.dtype == DType::kString) return StringEquals(ctx, dense.value, "");
  return ctx.b.Op("IsNaN", {dense.value});
}

std::string BoolToDouble(Ctx& ctx, const std::string& bool_value) {
  return ctx.b.Cast(bool_value, DType::kFloat64);
}

}  // namespace

Result<Features> ConvertStandardScaler(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "StandardScaler"));
  if (obj.BoolOr("with_mean", true) && obj.HasValue("mean_")) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor mean, obj.Doubles("mean_"));
    TIFFIN_RETURN_IF_ERROR(CheckLength(obj, "mean_", mean, in.Width()));
    x = ctx.b.Op("Sub", {x, Row(ctx, mean, "mean")});
  }
  if (obj.BoolOr("with_std", true) && obj.HasValue("scale_")) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor scale, obj.Doubles("scale_"));
    TIFFIN_RETURN_IF_ERROR(CheckLength(obj, "scale_", scale, in.Width()));
    x = ctx.b.Op("Div", {x, Row(ctx, scale, "scale")});
  }
  return DenseFeatures(x, in.Width());
}

Result<Features> ConvertMinMaxScaler(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "MinMaxScaler"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor scale, obj.Doubles("scale_"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor min, obj.Doubles("min_"));
  TIFFIN_RETURN_IF_ERROR(CheckLength(obj, "scale_", scale, in.Width()));
  TIFFIN_RETURN_IF_ERROR(CheckLength(obj, "min_", min, scale.size()));
  x = ctx.b.Op("Mul", {x, Row(ctx, scale, "scale")});
  x = ctx.b.Op("Add", {x, Row(ctx, min, "min")});
  if (obj.BoolOr("clip", false)) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor range, obj.Doubles("feature_range"));
    if (range.size() != 2) return InvalidArgument("MinMaxScaler.feature_range: expected 2 values");
    x = ctx.b.Op("Max", {x, ctx.b.ScalarDouble(range.data<double>()[0])});
    x = ctx.b.Op("Min", {x, ctx.b.ScalarDouble(range.data<double>()[1])});
  }
  return DenseFeatures(x, scale.size());
}

Result<Features> ConvertMaxAbsScaler(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "MaxAbsScaler"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor scale, obj.Doubles("scale_"));
  TIFFIN_RETURN_IF_ERROR(CheckLength(obj, "scale_", scale, in.Width()));
  return DenseFeatures(ctx.b.Op("Div", {x, Row(ctx, scale, "scale")}), scale.size());
}

Result<Features> ConvertRobustScaler(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "RobustScaler"));
  if (obj.BoolOr("with_centering", true) && obj.HasValue("center_")) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor center, obj.Doubles("center_"));
    TIFFIN_RETURN_IF_ERROR(CheckLength(obj, "center_", center, in.Width()));
    x = ctx.b.Op("Sub", {x, Row(ctx, center, "center")});
  }
  if (obj.BoolOr("with_scaling", true) && obj.HasValue("scale_")) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor scale, obj.Doubles("scale_"));
    TIFFIN_RETURN_IF_ERROR(CheckLength(obj, "scale_", scale, in.Width()));
    x = ctx.b.Op("Div", {x, Row(ctx, scale, "scale")});
  }
  return DenseFeatures(x, in.Width());
}

Result<Features> ConvertNormalizer(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "Normalizer"));
  const std::string norm = obj.StrOr("norm", "l2");
  std::string n;
  // The ai.onnx.ml Normalizer differs from scikit-learn (signed max, float
  // output), so the norms are computed with standard reductions.
  if (norm == "l1") {
    n = ctx.b.Op("ReduceSum", {ctx.b.Op("Abs", {x}), ctx.b.ConstInts({1}, {1}, "axes")},
                 {{"keepdims", AttrInt(1)}});
  } else if (norm == "l2") {
    n = ctx.b.Op(
        "Sqrt", {ctx.b.Op("ReduceSum", {ctx.b.Op("Mul", {x, x}), ctx.b.ConstInts({1}, {1}, "axes")},
                          {{"keepdims", AttrInt(1)}})});
  } else if (norm == "max") {
    n = ctx.b.Op("ReduceMax", {ctx.b.Op("Abs", {x})},
                 {{"axes", AttrInts({1})}, {"keepdims", AttrInt(1)}});
  } else {
    return NotSupported("Normalizer.norm '" + norm + "' (expected l1, l2 or max)");
  }
  const std::string zero = ctx.b.ScalarDouble(0);
  n = ctx.b.Op("Where", {ctx.b.Op("Equal", {n, zero}), ctx.b.ScalarDouble(1), n});
  return DenseFeatures(ctx.b.Op("Div", {x, n}), in.Width());
}

Result<Features> ConvertBinarizer(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "Binarizer"));
  const double threshold = obj.DoubleOr("threshold", 0.0);
  return DenseFeatures(BoolToDouble(ctx, ctx.b.Op("Greater", {x, ctx.b.ScalarDouble(threshold)})),
                       in.Width());
}

Result<Features> ConvertSimpleImputer(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(Features dense, DenseAny(ctx, in));
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* stats_v, obj.Get("statistics_"));
  TIFFIN_ASSIGN_OR_RETURN(Labels stats, ToLabels(*stats_v, obj.Where("statistics_")));
  const int64_t width = dense.width;
  if (stats.size() != width) {
    return InvalidArgument(obj.Where("statistics_") + " has " + std::to_string(stats.size()) +
                           " values for " + std::to_string(width) + " input features");
  }
  const PickleValue* mv = obj.Find("missing_values");
  const bool nan_marker = !mv || mv->is_none() ||
                          (mv->kind == PickleValue::Kind::kFloat && std::isnan(mv->float_value));
  std::string mask;
  if (nan_marker) {
    mask = MissingMask(ctx, dense);
  } else if (mv->is_str()) {
    if (dense.dtype != DType::kString)
      return InvalidArgument("SimpleImputer.missing_values is a string but its input is numeric");
    mask = StringEquals(ctx, dense.value, mv->str_value);
  } else {
    TIFFIN_ASSIGN_OR_RETURN(double marker, ToDouble(*mv, obj.Where("missing_values")));
    if (dense.dtype == DType::kString)
      return InvalidArgument("SimpleImputer.missing_values is a number but its input is text");
    mask = ctx.b.Op("Equal", {dense.value, ctx.b.ScalarDouble(marker)});
  }
  Features out;
  out.dtype = dense.dtype;
  std::string fill;
  if (dense.dtype == DType::kString) {
    if (!stats.is_string()) {
      // Numbers imputed into text (constant strategy with a numeric fill).
      return NotSupported("SimpleImputer with a numeric fill value for text columns");
    }
    fill = Row(ctx, stats.values, "statistics");
  } else {
    if (stats.is_string()) return NotSupported("SimpleImputer with a text fill value for numbers");
    Tensor d(DType::kFloat64, {width});
    for (int64_t i = 0; i < width; ++i) {
      d.data<double>()[i] = stats.values.dtype() == DType::kInt64
                                ? static_cast<double>(stats.values.data<int64_t>()[i])
                                : stats.values.data<double>()[i];
    }
    stats.values = d;
    fill = Row(ctx, d, "statistics");
  }
  std::string x = ctx.b.Op("Where", {mask, fill, dense.value});
  // Columns whose statistic is NaN (all missing at fit) are dropped, except
  // with strategy 'constant' or keep_empty_features (1.2+).
  std::vector<int64_t> keep;
  const bool keep_all =
      obj.StrOr("strategy", "mean") == "constant" || obj.BoolOr("keep_empty_features", false);
  for (int64_t i = 0; i < width; ++i) {
    if (keep_all || dense.dtype == DType::kString || !std::isnan(stats.values.data<double>()[i]))
      keep.push_back(i);
  }
  if (static_cast<int64_t>(keep.size()) != width) x = ctx.b.Columns(x, keep);
  out.value = x;
  out.width = static_cast<int64_t>(keep.size());
  if (obj.HasValue("indicator_")) {
    Obj ind(*obj.Get("indicator_"));
    TIFFIN_ASSIGN_OR_RETURN(Tensor features, ind.Ints("features_"));
    std::vector<int64_t> cols(features.data<int64_t>(), features.data<int64_t>() + features.size());
    for (int64_t c : cols)
      if (c < 0 || c >= width) return InvalidArgument("MissingIndicator.features_ out of range");
    if (!cols.empty()) {
      if (out.dtype == DType::kString) {
        return NotSupported("SimpleImputer(add_indicator=True) on text columns");
      }
      std::string ind_value = BoolToDouble(ctx, ctx.b.Columns(mask, cols));
      out.value = ctx.b.Concat({out.value, ind_value});
      out.width += static_cast<int64_t>(cols.size());
    }
  }
  return out;
}

Result<Features> ConvertPCA(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, obj.ClassName()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor comps, obj.Doubles("components_"));
  if (comps.rank() != 2) return InvalidArgument(obj.Where("components_") + " must be 2-D");
  const int64_t k = comps.dim(0), f = comps.dim(1);
  if (in.Width() >= 0 && f != in.Width()) return CheckLength(obj, "components_", comps, in.Width());
  if (obj.HasValue("mean_")) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor mean, obj.Doubles("mean_"));
    TIFFIN_RETURN_IF_ERROR(CheckLength(obj, "mean_", mean, f));
    x = ctx.b.Op("Sub", {x, Row(ctx, mean, "mean")});
  }
  Tensor wt(DType::kFloat64, {f, k});
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < f; ++j) wt.data<double>()[j * k + i] = comps.data<double>()[i * f + j];
  x = ctx.b.MatMulAdd(x, wt, nullptr);
  if (obj.BoolOr("whiten", false)) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor var, obj.Doubles("explained_variance_"));
    TIFFIN_RETURN_IF_ERROR(CheckLength(obj, "explained_variance_", var, k));
    for (int64_t i = 0; i < k; ++i) var.data<double>()[i] = std::sqrt(var.data<double>()[i]);
    x = ctx.b.Op("Div", {x, Row(ctx, var, "sqrt_var")});
  }
  return DenseFeatures(x, k);
}

Result<Features> ConvertTruncatedSVD(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "TruncatedSVD"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor comps, obj.Doubles("components_"));
  if (comps.rank() != 2) return InvalidArgument(obj.Where("components_") + " must be 2-D");
  const int64_t k = comps.dim(0), f = comps.dim(1);
  Tensor wt(DType::kFloat64, {f, k});
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < f; ++j) wt.data<double>()[j * k + i] = comps.data<double>()[i * f + j];
  return DenseFeatures(ctx.b.MatMulAdd(x, wt, nullptr), k);
}

namespace {

// get_support() of the feature selectors, computed here once.
Result<std::vector<bool>> SelectorSupport(const Obj& obj, int64_t width) {
  const std::string cls = obj.ClassName();
  std::vector<bool> mask;
  if (cls == "VarianceThreshold") {
    TIFFIN_ASSIGN_OR_RETURN(Tensor var, obj.Doubles("variances_"));
    const double threshold = obj.DoubleOr("threshold", 0.0);
    for (int64_t i = 0; i < var.size(); ++i) mask.push_back(var.data<double>()[i] > threshold);
    return mask;
  }
  if (cls == "SelectKBest" || cls == "SelectPercentile") {
    TIFFIN_ASSIGN_OR_RETURN(Tensor scores, obj.Doubles("scores_"));
    const int64_t n = scores.size();
    std::vector<double> s(scores.data<double>(), scores.data<double>() + n);
    // _clean_nans: NaN scores become the lowest finite value.
    double lowest = std::numeric_limits<double>::lowest();
    for (double& v : s)
      if (std::isnan(v)) v = lowest;
    mask.assign(static_cast<size_t>(n), false);
    if (cls == "SelectKBest") {
      const PickleValue* kv = obj.Find("k");
      int64_t k = 10;
      if (kv && kv->is_str() && kv->str_value == "all") {
        k = n;
      } else if (kv) {
        TIFFIN_ASSIGN_OR_RETURN(k, ToInt(*kv, obj.Where("k")));
      }
      if (k < 0 || k > n) return InvalidArgument("SelectKBest.k out of range");
      // The last k of a stable (mergesort) ascending argsort.
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return s[static_cast<size_t>(a)] < s[static_cast<size_t>(b)];
      });
      for (int64_t i = n - k; i < n; ++i)
        mask[static_cast<size_t>(order[static_cast<size_t>(i)])] = true;
      return mask;
    }
    return NotSupported(
        "SelectPercentile (its mask uses a percentile of the scores); use SelectKBest");
  }
  if (cls == "SelectFromModel") {
    TIFFIN_ASSIGN_OR_RETURN(const PickleValue* est_v, obj.Get("estimator_"));
    Obj est(est_v);
    if (!est.HasValue("coef_")) {
      return NotSupported("SelectFromModel over " + est.ClassName() +
                          ": only estimators with coef_ are supported (feature_importances_ is "
                          "not stored in the pickle)");
    }
    TIFFIN_ASSIGN_OR_RETURN(Tensor coef, est.Doubles("coef_"));
    const int64_t f = coef.rank() == 2 ? coef.dim(1) : coef.size();
    const int64_t rows = coef.rank() == 2 ? coef.dim(0) : 1;
    const double norm_order = obj.DoubleOr("norm_order", 1);
    std::vector<double> imp(static_cast<size_t>(f), 0.0);
    for (int64_t j = 0; j < f; ++j) {
      double acc = 0;
      for (int64_t r = 0; r < rows; ++r) {
        double a = std::abs(coef.data<double>()[r * f + j]);
        acc += rows == 1 ? a : std::pow(a, norm_order);
      }
      imp[static_cast<size_t>(j)] = rows == 1 ? acc : std::pow(acc, 1.0 / norm_order);
    }
    double threshold = 0;
    const PickleValue* tv = obj.Find("threshold");
    const std::string penalty = est.StrOr("penalty", "");
    std::string spec = tv && tv->is_str() ? tv->str_value : "";
    if (tv && !tv->is_none() && !tv->is_str()) {
      TIFFIN_ASSIGN_OR_RETURN(threshold, ToDouble(*tv, obj.Where("threshold")));
    } else {
      if (spec.empty()) spec = (penalty == "l1" || est.ClassName() == "Lasso") ? "1e-5" : "mean";
      double scale = 1;
      std::string base = spec;
      if (auto star = spec.find('*'); star != std::string::npos) {
        scale = std::strtod(spec.substr(0, star).c_str(), nullptr);
        base = spec.substr(star + 1);
      }
      if (base == "mean") {
        double sum = 0;
        for (double v : imp) sum += v;
        threshold = scale * sum / static_cast<double>(f);
      } else if (base == "median") {
        std::vector<double> sorted = imp;
        std::sort(sorted.begin(), sorted.end());
        const size_t m = sorted.size();
        threshold = scale * (m % 2 ? sorted[m / 2] : (sorted[m / 2 - 1] + sorted[m / 2]) / 2);
      } else {
        threshold = std::strtod(base.c_str(), nullptr) * scale;
      }
    }
    for (double v : imp) mask.push_back(v >= threshold);
    if (obj.HasValue("max_features")) {
      return NotSupported("SelectFromModel with max_features");
    }
    return mask;
  }
  (void)width;
  return NotSupported("feature selector " + cls);
}

}  // namespace

Result<Features> ConvertSelector(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<bool> mask, SelectorSupport(obj, in.Width()));
  if (in.Width() >= 0 && static_cast<int64_t>(mask.size()) != in.Width()) {
    return InvalidArgument(obj.ClassName() + ": its support mask has " +
                           std::to_string(mask.size()) + " entries for " +
                           std::to_string(in.Width()) + " input features");
  }
  std::vector<int64_t> keep;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) keep.push_back(static_cast<int64_t>(i));
  if (keep.empty()) return InvalidArgument(obj.ClassName() + " selects no features");
  TIFFIN_ASSIGN_OR_RETURN(Features dense, DenseAny(ctx, in));
  Features out = dense;
  out.value = ctx.b.Columns(dense.value, keep);
  out.width = static_cast<int64_t>(keep.size());
  return out;
}

Result<Features> ConvertPolynomialFeatures(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "PolynomialFeatures"));
  const int64_t f = in.Width();
  if (f < 0) return InvalidArgument("PolynomialFeatures: unknown input width");
  int64_t min_degree = obj.IntOr("_min_degree", 0), max_degree = obj.IntOr("_max_degree", -1);
  if (max_degree < 0) {
    const PickleValue* d = obj.Find("degree");
    if (d && (d->is_tuple() || d->is_list()) && d->items.size() == 2) {
      TIFFIN_ASSIGN_OR_RETURN(min_degree, ToInt(*d->items[0], "PolynomialFeatures.degree"));
      TIFFIN_ASSIGN_OR_RETURN(max_degree, ToInt(*d->items[1], "PolynomialFeatures.degree"));
    } else {
      max_degree = obj.IntOr("degree", 2);
    }
  }
  if (max_degree < 0 || max_degree > 8) return NotSupported("PolynomialFeatures degree > 8");
  const bool interaction_only = obj.BoolOr("interaction_only", false);
  const bool include_bias = obj.BoolOr("include_bias", true);
  // scikit-learn's dense algorithm: the degree-d block for feature j is the
  // degree-(d-1) columns from index[j] on, times x_j. Following it keeps the
  // same association order of the products, hence the same rounding.
  std::vector<std::string> blocks;  // per degree, [N, m]
  std::vector<int64_t> block_width;
  std::vector<std::string> xcol(static_cast<size_t>(f));
  for (int64_t j = 0; j < f; ++j) xcol[static_cast<size_t>(j)] = ctx.b.Columns(x, {j});
  std::string prev = x;
  int64_t prev_width = f;
  std::vector<int64_t> index(static_cast<size_t>(f) + 1);  // starts within prev
  for (int64_t j = 0; j <= f; ++j) index[static_cast<size_t>(j)] = j;
  blocks.push_back(x);
  block_width.push_back(f);
  for (int64_t d = 2; d <= max_degree; ++d) {
    std::vector<std::string> parts;
    std::vector<int64_t> new_index;
    int64_t col = 0;
    const int64_t end = index.back();
    for (int64_t j = 0; j < f; ++j) {
      int64_t start = index[static_cast<size_t>(j)];
      new_index.push_back(col);
      if (interaction_only)
        start += index[static_cast<size_t>(j) + 1] - index[static_cast<size_t>(j)];
      const int64_t n = end - start;
      if (n <= 0) break;
      std::vector<int64_t> cols;
      for (int64_t c = start; c < end; ++c) cols.push_back(c);
      parts.push_back(ctx.b.Op("Mul", {ctx.b.Columns(prev, cols), xcol[static_cast<size_t>(j)]}));
      col += n;
    }
    new_index.push_back(col);
    if (parts.empty()) break;
    prev = ctx.b.Concat(parts);
    prev_width = col;
    index = new_index;
    blocks.push_back(prev);
    block_width.push_back(prev_width);
  }
  std::vector<std::string> out;
  int64_t width = 0;
  if (include_bias) {
    // A column of ones [N, 1]: x[:, :1] * 0 + 1 would turn NaN into NaN;
    // scikit-learn writes 1 regardless, so build it from the shape.
    std::string n1 = ctx.b.Op("Shape", {x}, {{"end", AttrInt(1)}});
    std::string shape = ctx.b.Concat({n1, ctx.b.ConstInts({1}, {1}, "one")}, 0);
    out.push_back(ctx.b.Op("ConstantOfShape", {shape},
                           {{"value", AttrTensor(Tensor::FromVector<double>({1.0}))}}));
    width = 1;
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    const int64_t degree = static_cast<int64_t>(i) + 1;
    if (degree < min_degree) continue;
    out.push_back(blocks[i]);
    width += block_width[i];
  }
  if (out.empty()) return InvalidArgument("PolynomialFeatures produces no columns");
  return DenseFeatures(ctx.b.Concat(out), width);
}

Result<Features> ConvertKBinsDiscretizer(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "KBinsDiscretizer"));
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* edges_v, obj.Get("bin_edges_"));
  TIFFIN_ASSIGN_OR_RETURN(auto edges, ToSequence(*edges_v, obj.Where("bin_edges_")));
  const int64_t f = static_cast<int64_t>(edges.size());
  if (in.Width() >= 0 && f != in.Width()) {
    return InvalidArgument("KBinsDiscretizer.bin_edges_ has " + std::to_string(f) +
                           " features, the input " + std::to_string(in.Width()));
  }
  const std::string encode = obj.StrOr("encode", "onehot");
  std::vector<std::string> parts;
  int64_t width = 0;
  for (int64_t j = 0; j < f; ++j) {
    TIFFIN_ASSIGN_OR_RETURN(
        Tensor e, ToDoubleTensor(*edges[static_cast<size_t>(j)], "KBinsDiscretizer.bin_edges_"));
    const int64_t n_bins = e.size() - 1;
    if (n_bins < 1) return InvalidArgument("KBinsDiscretizer: a feature has no bins");
    std::string col = f == 1 ? x : ctx.b.Columns(x, {j});
    std::string bin;
    if (n_bins == 1) {
      bin = ctx.b.Op("Mul", {col, ctx.b.ScalarDouble(0)});
    } else {
      // bin = searchsorted(edges[1:-1], x, side='right') = #inner edges <= x.
      std::vector<double> inner(e.data<double>() + 1, e.data<double>() + n_bins);
      std::string ge =
          ctx.b.Op("GreaterOrEqual", {col, ctx.b.ConstDoubles(inner, {1, n_bins - 1}, "edges")});
      bin = ctx.b.Op("ReduceSum",
                     {ctx.b.Cast(ge, DType::kFloat64), ctx.b.ConstInts({1}, {1}, "axes")},
                     {{"keepdims", AttrInt(1)}});
    }
    if (encode == "ordinal") {
      parts.push_back(bin);
      width += 1;
    } else {
      std::vector<double> ids;
      for (int64_t b = 0; b < n_bins; ++b) ids.push_back(static_cast<double>(b));
      parts.push_back(BoolToDouble(
          ctx, ctx.b.Op("Equal", {bin, ctx.b.ConstDoubles(ids, {1, n_bins}, "bins")})));
      width += n_bins;
    }
  }
  return DenseFeatures(ctx.b.Concat(parts), width);
}

namespace {

struct Categories {
  Labels labels;
  int64_t missing_at = -1;  // position of the NaN/None category
};

Result<std::vector<Categories>> ReadCategories(const Obj& obj, int64_t width) {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* v, obj.Get("categories_"));
  TIFFIN_ASSIGN_OR_RETURN(auto seq, ToSequence(*v, obj.Where("categories_")));
  if (width >= 0 && static_cast<int64_t>(seq.size()) != width) {
    return InvalidArgument(obj.ClassName() + ".categories_ has " + std::to_string(seq.size()) +
                           " features, the input " + std::to_string(width));
  }
  std::vector<Categories> out;
  for (const PickleValue* item : seq) {
    Categories c;
    TIFFIN_ASSIGN_OR_RETURN(c.labels, ToLabels(*item, obj.Where("categories_")));
    for (int64_t i = 0; i < c.labels.size(); ++i) {
      const bool missing = c.labels.is_string() ? c.labels.values.data<std::string>()[i].empty()
                                                : (c.labels.values.dtype() == DType::kFloat64 &&
                                                   std::isnan(c.labels.values.data<double>()[i]));
      if (missing) c.missing_at = i;
    }
    out.push_back(std::move(c));
  }
  return out;
}

// A [1, C] comparison row for `cats` in the dtype of `col_dtype`, with the
// missing category replaced by a value no input equals (missing inputs are
// matched separately).
Result<std::string> CategoryRow(Ctx& ctx, const Categories& c, DType col_dtype) {
  const int64_t n = c.labels.size();
  if (col_dtype == DType::kString) {
    if (!c.labels.is_string()) {
      return InvalidArgument("numeric categories for a text column");
    }
    return ctx.b.Const(c.labels.values.Reshaped({1, n}), "categories");
  }
  if (c.labels.is_string()) {
    return InvalidArgument("text categories for a numeric column; pass this column as text");
  }
  Tensor row(DType::kFloat64, {1, n});
  for (int64_t i = 0; i < n; ++i) {
    row.data<double>()[i] = c.labels.values.dtype() == DType::kInt64
                                ? static_cast<double>(c.labels.values.data<int64_t>()[i])
                                : c.labels.values.data<double>()[i];
  }
  if (c.missing_at >= 0) row.data<double>()[c.missing_at] = std::numeric_limits<double>::infinity();
  return ctx.b.Const(row, "categories");
}

// [N, C] bool: column value equals category c (missing matches the missing
// category).
Result<std::string> MatchCategories(Ctx& ctx, const std::string& col, DType dtype,
                                    const Categories& c) {
  if (dtype == DType::kString) {
    if (!c.labels.is_string()) return InvalidArgument("numeric categories for a text column");
    const int64_t n = c.labels.size();
    std::vector<std::string> keys(c.labels.values.data<std::string>(),
                                  c.labels.values.data<std::string>() + n);
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < n; ++i) ids.push_back(i);
    return ctx.b.Op("Equal", {StringIndex(ctx, col, keys), ctx.b.ConstInts(ids, {1, n}, "ids")});
  }
  TIFFIN_ASSIGN_OR_RETURN(std::string row, CategoryRow(ctx, c, dtype));
  std::string eq = ctx.b.Op("Equal", {col, row});
  if (c.missing_at >= 0 && dtype != DType::kString) {
    // Where the category is the missing one, the match is IsNaN(x).
    std::vector<uint8_t> sel(static_cast<size_t>(c.labels.size()), 0);
    sel[static_cast<size_t>(c.missing_at)] = 1;
    Tensor selt(DType::kBool, {1, c.labels.size()});
    for (size_t i = 0; i < sel.size(); ++i) selt.data<bool>()[i] = sel[i] != 0;
    std::string nan = ctx.b.Op("IsNaN", {col});
    std::string missing_match = ctx.b.Op("And", {nan, ctx.b.Const(selt, "missing_sel")});
    eq = ctx.b.Op("Or", {eq, missing_match});
  }
  return eq;
}

}  // namespace

Result<Features> ConvertOneHotEncoder(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  if (obj.BoolOr("_infrequent_enabled", false)) {
    return NotSupported("OneHotEncoder with infrequent categories (min_frequency/max_categories)");
  }
  TIFFIN_ASSIGN_OR_RETURN(Features dense, DenseAny(ctx, in));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<Categories> cats, ReadCategories(obj, dense.width));
  std::vector<int64_t> drop(cats.size(), -1);
  if (obj.HasValue("drop_idx_")) {
    TIFFIN_ASSIGN_OR_RETURN(const PickleValue* dv, obj.Get("drop_idx_"));
    TIFFIN_ASSIGN_OR_RETURN(Labels d, ToLabels(*dv, obj.Where("drop_idx_")));
    if (d.size() != static_cast<int64_t>(cats.size()) || d.is_string())
      return InvalidArgument("OneHotEncoder.drop_idx_ does not match categories_");
    for (size_t j = 0; j < cats.size(); ++j) {
      double v = d.values.dtype() == DType::kInt64
                     ? static_cast<double>(d.values.data<int64_t>()[j])
                     : d.values.data<double>()[j];
      drop[j] = std::isnan(v) ? -1 : static_cast<int64_t>(v);
    }
  }
  if (obj.StrOr("handle_unknown", "error") == "error" && ctx.notes) {
    ctx.notes->push_back(
        "OneHotEncoder(handle_unknown='error'): an unknown category encodes as "
        "all zeros instead of raising");
  }
  std::vector<std::string> parts;
  int64_t width = 0;
  for (size_t j = 0; j < cats.size(); ++j) {
    std::string col = ColumnOf(ctx, dense, static_cast<int64_t>(j));
    TIFFIN_ASSIGN_OR_RETURN(std::string eq, MatchCategories(ctx, col, dense.dtype, cats[j]));
    const int64_t n = cats[j].labels.size();
    if (drop[j] >= n) return InvalidArgument("OneHotEncoder.drop_idx_ out of range");
    if (drop[j] >= 0) {
      std::vector<int64_t> keep;
      for (int64_t i = 0; i < n; ++i)
        if (i != drop[j]) keep.push_back(i);
      if (keep.empty()) continue;
      eq = ctx.b.Columns(eq, keep);
      width += n - 1;
    } else {
      width += n;
    }
    parts.push_back(eq);
  }
  if (parts.empty()) return InvalidArgument("OneHotEncoder produces no columns");
  return DenseFeatures(BoolToDouble(ctx, ctx.b.Concat(parts)), width);
}

Result<Features> ConvertOrdinalEncoder(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  if (obj.BoolOr("_infrequent_enabled", false)) {
    return NotSupported("OrdinalEncoder with infrequent categories");
  }
  TIFFIN_ASSIGN_OR_RETURN(Features dense, DenseAny(ctx, in));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<Categories> cats, ReadCategories(obj, dense.width));
  const bool use_unknown = obj.StrOr("handle_unknown", "error") == "use_encoded_value";
  const double unknown = use_unknown ? obj.DoubleOr("unknown_value", std::nan("")) : std::nan("");
  // encoded_missing_value exists from 1.1 on; before, a NaN category simply
  // had its index.
  const bool has_missing_value_attr = obj.Has("encoded_missing_value");
  const double missing_value = obj.DoubleOr("encoded_missing_value", std::nan(""));
  std::vector<std::string> parts;
  for (size_t j = 0; j < cats.size(); ++j) {
    std::string col = ColumnOf(ctx, dense, static_cast<int64_t>(j));
    TIFFIN_ASSIGN_OR_RETURN(std::string eq, MatchCategories(ctx, col, dense.dtype, cats[j]));
    const int64_t n = cats[j].labels.size();
    std::vector<double> ids;
    for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<double>(i));
    std::string m = BoolToDouble(ctx, eq);
    std::string idx = ctx.b.Op("MatMul", {m, ctx.b.ConstDoubles(ids, {n, 1}, "ids")});
    std::string known =
        ctx.b.Op("ReduceSum", {m, ctx.b.ConstInts({1}, {1}, "axes")}, {{"keepdims", AttrInt(1)}});
    idx = ctx.b.Op("Where", {ctx.b.Op("Greater", {known, ctx.b.ScalarDouble(0)}), idx,
                             ctx.b.ScalarDouble(unknown)});
    if (cats[j].missing_at >= 0 && has_missing_value_attr) {
      Features cf = DenseFeatures(col, 1);
      cf.dtype = dense.dtype;
      std::string is_missing = MissingMask(ctx, cf);
      idx = ctx.b.Op("Where", {is_missing, ctx.b.ScalarDouble(missing_value), idx});
    }
    parts.push_back(idx);
  }
  if (obj.StrOr("handle_unknown", "error") == "error" && ctx.notes) {
    ctx.notes->push_back(
        "OrdinalEncoder(handle_unknown='error'): an unknown category encodes as "
        "NaN instead of raising");
  }
  return DenseFeatures(ctx.b.Concat(parts), static_cast<int64_t>(parts.size()));
}

Result<Features> ConvertFunctionTransformer(Ctx& ctx, const Obj& obj, const Features& in) {
  (void)ctx;
  const PickleValue* func = obj.Find("func");
  if (func && !func->is_none()) {
    return NotSupported("FunctionTransformer(func=" + func->DebugString(80) +
                        "): tiffin never runs Python functions from a file; rewrite the step with "
                        "standard transformers");
  }
  return in;
}

}  // namespace tiffin::sklearn
