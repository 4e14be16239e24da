// Composition: Pipeline, ColumnTransformer, FeatureUnion, voting and
// calibration ensembles.
#include <cmath>

#include "importers/pickle/numpy.h"
#include "importers/sklearn/convert.h"

namespace tiffin::sklearn {
namespace {

bool IsStr(const PickleValue* v, const char* s) { return v->is_str() && v->str_value == s; }

// The (name, estimator) pairs of Pipeline.steps, skipping 'passthrough'/None.
Result<std::vector<const PickleValue*>> PipelineSteps(const Obj& obj) {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* steps_v, obj.Get("steps"));
  TIFFIN_ASSIGN_OR_RETURN(auto steps, ToSequence(*steps_v, "Pipeline.steps"));
  std::vector<const PickleValue*> out;
  for (const PickleValue* s : steps) {
    if (!(s->is_tuple() || s->is_list()) || s->items.size() != 2) {
      return InvalidArgument("Pipeline.steps: expected (name, estimator) pairs, found " +
                             s->DebugString(60));
    }
    const PickleValue* est = s->items[1].get();
    if (est->is_none() || IsStr(est, "passthrough")) continue;
    out.push_back(est);
  }
  if (out.empty()) return InvalidArgument("Pipeline has no steps");
  return out;
}

}  // namespace

Result<Features> ConvertPipelineTransform(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(auto steps, PipelineSteps(obj));
  Features cur = in;
  for (const PickleValue* s : steps) {
    TIFFIN_ASSIGN_OR_RETURN(cur, Transform(ctx, Obj(s), cur));
  }
  return cur;
}

Result<Prediction> ConvertPipelinePredict(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(auto steps, PipelineSteps(obj));
  Features cur = in;
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    TIFFIN_ASSIGN_OR_RETURN(cur, Transform(ctx, Obj(steps[i]), cur));
  }
  return Predict(ctx, Obj(steps.back()), cur);
}

namespace {

Result<std::vector<std::string>> FeatureNames(const Obj& ct, const Features& in) {
  std::vector<std::string> names;
  if (ct.HasValue("feature_names_in_")) {
    TIFFIN_ASSIGN_OR_RETURN(Labels l,
                            ToLabels(*ct.Find("feature_names_in_"), ct.Where("feature_names_in_")));
    if (!l.is_string()) return InvalidArgument(ct.Where("feature_names_in_") + " is not text");
    for (int64_t i = 0; i < l.size(); ++i) names.push_back(l.values.data<std::string>()[i]);
  } else if (in.is_table()) {
    for (const Column& c : in.columns) names.push_back(c.name);
  }
  return names;
}

Result<int64_t> NameToIndex(const std::vector<std::string>& names, const std::string& name) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int64_t>(i);
  return InvalidArgument("ColumnTransformer selects column '" + name +
                         "', which is not among the fitted feature names");
}

Result<int64_t> IndexOf(const PickleValue& v, const std::vector<std::string>& names,
                        int64_t width) {
  if (v.is_str()) return NameToIndex(names, v.str_value);
  TIFFIN_ASSIGN_OR_RETURN(int64_t i, ToInt(v, "ColumnTransformer column"));
  if (i < 0) i += width;
  if (i < 0 || (width >= 0 && i >= width)) {
    return InvalidArgument("ColumnTransformer column index " + std::to_string(i) +
                           " is outside the input's " + std::to_string(width) + " columns");
  }
  return i;
}

Result<std::vector<int64_t>> ResolveColumns(const PickleValue& spec,
                                            const std::vector<std::string>& names, int64_t width) {
  std::vector<int64_t> out;
  if (spec.is_str() || spec.is_int() || spec.kind == PickleValue::Kind::kBool) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t i, IndexOf(spec, names, width));
    out.push_back(i);
    return out;
  }
  if (spec.IsObjectOf("builtins.slice")) {
    const auto& a = spec.items;
    if (a.size() != 3) return InvalidArgument("ColumnTransformer: malformed slice");
    if (a[0]->is_str() || a[1]->is_str()) {
      // Name slices include their stop, as in pandas .loc.
      int64_t start = a[0]->is_none() ? 0 : 0, stop = width - 1;
      if (!a[0]->is_none()) {
        TIFFIN_ASSIGN_OR_RETURN(start, IndexOf(*a[0], names, width));
      }
      if (!a[1]->is_none()) {
        TIFFIN_ASSIGN_OR_RETURN(stop, IndexOf(*a[1], names, width));
      }
      for (int64_t i = start; i <= stop; ++i) out.push_back(i);
      return out;
    }
    int64_t start = 0, stop = width, step = 1;
    if (!a[0]->is_none()) {
      TIFFIN_ASSIGN_OR_RETURN(start, ToInt(*a[0], "slice"));
    }
    if (!a[1]->is_none()) {
      TIFFIN_ASSIGN_OR_RETURN(stop, ToInt(*a[1], "slice"));
    }
    if (!a[2]->is_none()) {
      TIFFIN_ASSIGN_OR_RETURN(step, ToInt(*a[2], "slice"));
    }
    if (step <= 0 || width < 0) return NotSupported("ColumnTransformer: slice with step <= 0");
    if (start < 0) start = std::max<int64_t>(0, start + width);
    if (stop < 0) stop += width;
    stop = std::min(stop, width);
    for (int64_t i = start; i < stop; i += step) out.push_back(i);
    return out;
  }
  TIFFIN_ASSIGN_OR_RETURN(Labels l, ToLabels(spec, "ColumnTransformer columns"));
  if (l.is_string()) {
    for (int64_t i = 0; i < l.size(); ++i) {
      TIFFIN_ASSIGN_OR_RETURN(int64_t idx, NameToIndex(names, l.values.data<std::string>()[i]));
      out.push_back(idx);
    }
    return out;
  }
  // A boolean mask (numpy bool arrays arrive as int64 0/1 of full width) or
  // integer positions.
  bool is_mask = false;
  if (spec.is_object()) {
    auto t = pickle::NumpyArrayToTensor(spec);
    is_mask = t.ok() && t->dtype() == DType::kBool;
  }
  for (int64_t i = 0; i < l.size(); ++i) {
    int64_t v = l.values.dtype() == DType::kInt64
                    ? l.values.data<int64_t>()[i]
                    : static_cast<int64_t>(l.values.data<double>()[i]);
    if (is_mask) {
      if (v) out.push_back(i);
    } else {
      if (v < 0) v += width;
      if (v < 0 || (width >= 0 && v >= width))
        return InvalidArgument("ColumnTransformer column index out of range");
      out.push_back(v);
    }
  }
  return out;
}

Features SelectColumns(Ctx& ctx, const Features& in, const std::vector<int64_t>& cols) {
  if (in.is_table()) {
    Features out;
    for (int64_t c : cols) out.columns.push_back(in.columns[static_cast<size_t>(c)]);
    return out;
  }
  Features out = in;
  out.value = ctx.b.Columns(in.value, cols);
  out.width = static_cast<int64_t>(cols.size());
  return out;
}

Result<std::string> Weighted(Ctx& ctx, const Obj& obj, const std::string& name, std::string value) {
  const PickleValue* w = obj.Find("transformer_weights");
  if (!w || !w->is_dict()) return value;
  const PickleValue* wv = w->Find(name);
  if (!wv) return value;
  TIFFIN_ASSIGN_OR_RETURN(double weight, ToDouble(*wv, "transformer_weights"));
  return ctx.b.Op("Mul", {value, ctx.b.ScalarDouble(weight)});
}

}  // namespace

Result<Features> ConvertColumnTransformer(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<std::string> names, FeatureNames(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* tv, obj.Get("transformers_"));
  TIFFIN_ASSIGN_OR_RETURN(auto transformers, ToSequence(*tv, obj.Where("transformers_")));
  std::vector<std::string> parts;
  int64_t width = 0;
  for (const PickleValue* t : transformers) {
    if (!(t->is_tuple() || t->is_list()) || t->items.size() < 3 || !t->items[0]->is_str()) {
      return InvalidArgument(
          "ColumnTransformer.transformers_: expected (name, transformer, "
          "columns), found " +
          t->DebugString(80));
    }
    const std::string name = t->items[0]->str_value;
    const PickleValue* est = t->items[1].get();
    if (IsStr(est, "drop")) continue;
    TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> cols,
                            ResolveColumns(*t->items[2], names, in.Width()));
    if (cols.empty()) continue;
    Features sub = SelectColumns(ctx, in, cols);
    Features out;
    if (IsStr(est, "passthrough")) {
      TIFFIN_ASSIGN_OR_RETURN(std::string d, Dense(ctx, sub, "ColumnTransformer passthrough"));
      out = DenseFeatures(d, static_cast<int64_t>(cols.size()));
    } else {
      TIFFIN_ASSIGN_OR_RETURN(out, Transform(ctx, Obj(est), sub));
    }
    TIFFIN_ASSIGN_OR_RETURN(std::string d, Dense(ctx, out, "ColumnTransformer '" + name + "'"));
    TIFFIN_ASSIGN_OR_RETURN(d, Weighted(ctx, obj, name, d));
    parts.push_back(d);
    width += out.Width();
  }
  if (parts.empty()) return InvalidArgument("ColumnTransformer produces no columns");
  return DenseFeatures(ctx.b.Concat(parts), width);
}

Result<Features> ConvertFeatureUnion(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* lv, obj.Get("transformer_list"));
  TIFFIN_ASSIGN_OR_RETURN(auto list, ToSequence(*lv, obj.Where("transformer_list")));
  std::vector<std::string> parts;
  int64_t width = 0;
  for (const PickleValue* t : list) {
    if (!(t->is_tuple() || t->is_list()) || t->items.size() != 2 || !t->items[0]->is_str())
      return InvalidArgument("FeatureUnion.transformer_list: expected (name, transformer) pairs");
    const PickleValue* est = t->items[1].get();
    if (est->is_none() || IsStr(est, "drop")) continue;
    Features out = in;
    if (!IsStr(est, "passthrough")) {
      TIFFIN_ASSIGN_OR_RETURN(out, Transform(ctx, Obj(est), in));
    }
    TIFFIN_ASSIGN_OR_RETURN(std::string d, Dense(ctx, out, "FeatureUnion"));
    TIFFIN_ASSIGN_OR_RETURN(d, Weighted(ctx, obj, t->items[0]->str_value, d));
    parts.push_back(d);
    width += out.Width();
  }
  if (parts.empty()) return InvalidArgument("FeatureUnion produces no columns");
  return DenseFeatures(ctx.b.Concat(parts), width);
}

namespace {

Result<std::vector<double>> VotingWeights(const Obj& obj, size_t n) {
  std::vector<double> w(n, 1.0);
  if (obj.HasValue("weights")) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor t, obj.Doubles("weights"));
    // Weights of dropped estimators are removed (_weights_not_none); the
    // fitted estimators_ already skip them.
    const PickleValue* est = obj.Find("estimators");
    std::vector<double> kept;
    if (est && (est->is_list() || est->is_tuple()) &&
        static_cast<int64_t>(est->items.size()) == t.size()) {
      for (size_t i = 0; i < est->items.size(); ++i) {
        const PickleValue* e = est->items[i].get();
        const PickleValue* model = (e->is_tuple() && e->items.size() == 2) ? e->items[1].get() : e;
        if (model->is_none() || IsStr(model, "drop")) continue;
        kept.push_back(t.data<double>()[i]);
      }
    } else {
      kept.assign(t.data<double>(), t.data<double>() + t.size());
    }
    if (kept.size() != n) return InvalidArgument("Voting: weights do not match the estimators");
    w = kept;
  }
  return w;
}

// Weighted average over estimators of [N, K] values (np.average).
std::string WeightedAverage(Ctx& ctx, const std::vector<std::string>& xs,
                            const std::vector<double>& w) {
  double total = 0;
  for (double v : w) total += v;
  std::string acc;
  for (size_t i = 0; i < xs.size(); ++i) {
    std::string term = ctx.b.Op("Mul", {xs[i], ctx.b.ScalarDouble(w[i])});
    acc = acc.empty() ? term : ctx.b.Op("Add", {acc, term});
  }
  return ctx.b.Op("Div", {acc, ctx.b.ScalarDouble(total)});
}

}  // namespace

Result<Prediction> ConvertVotingClassifier(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* ev, obj.Get("estimators_"));
  TIFFIN_ASSIGN_OR_RETURN(auto ests, ToSequence(*ev, obj.Where("estimators_")));
  if (ests.empty()) return InvalidArgument("VotingClassifier has no fitted estimators");
  TIFFIN_ASSIGN_OR_RETURN(std::vector<double> w, VotingWeights(obj, ests.size()));
  Prediction p;
  // The voter's classes are le_.classes_; its estimators saw 0..K-1.
  const PickleValue* le = obj.Find("le_");
  if (le && le->is_object()) {
    TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(Obj(le)));
  } else {
    TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  }
  const int64_t k = p.classes.size();
  const std::string voting = obj.StrOr("voting", "hard");
  std::vector<std::string> parts;
  for (const PickleValue* e : ests) {
    TIFFIN_ASSIGN_OR_RETURN(Prediction sub, Predict(ctx, Obj(e), in));
    if (voting == "soft") {
      if (sub.probabilities.empty())
        return InvalidArgument(
            "VotingClassifier(voting='soft'): an estimator has no predict_proba");
      parts.push_back(sub.probabilities);
    } else {
      std::vector<double> ids;
      for (int64_t i = 0; i < k; ++i) ids.push_back(static_cast<double>(i));
      std::string lab =
          sub.classes.is_string() ? "" : ctx.b.Cast(ctx.b.Unsqueeze1(sub.label), DType::kFloat64);
      if (lab.empty())
        return InvalidArgument("VotingClassifier: an estimator predicts text labels");
      parts.push_back(ctx.b.Cast(ctx.b.Op("Equal", {lab, ctx.b.ConstDoubles(ids, {1, k}, "ids")}),
                                 DType::kFloat64));
    }
  }
  if (voting == "soft") {
    p.probabilities = WeightedAverage(ctx, parts, w);
    p.label = LabelFromScores(ctx, p.probabilities, p.classes);
  } else {
    std::string votes;
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string term = ctx.b.Op("Mul", {parts[i], ctx.b.ScalarDouble(w[i])});
      votes = votes.empty() ? term : ctx.b.Op("Add", {votes, term});
    }
    p.label = LabelFromScores(ctx, votes, p.classes);
  }
  return p;
}

Result<Prediction> ConvertVotingRegressor(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* ev, obj.Get("estimators_"));
  TIFFIN_ASSIGN_OR_RETURN(auto ests, ToSequence(*ev, obj.Where("estimators_")));
  if (ests.empty()) return InvalidArgument("VotingRegressor has no fitted estimators");
  TIFFIN_ASSIGN_OR_RETURN(std::vector<double> w, VotingWeights(obj, ests.size()));
  std::vector<std::string> parts;
  for (const PickleValue* e : ests) {
    TIFFIN_ASSIGN_OR_RETURN(Prediction sub, Predict(ctx, Obj(e), in));
    if (sub.variable.empty() || sub.n_targets != 1)
      return InvalidArgument("VotingRegressor: an estimator is not a single-target regressor");
    parts.push_back(sub.variable);
  }
  Prediction p;
  p.variable = WeightedAverage(ctx, parts, w);
  p.n_targets = 1;
  return p;
}

namespace {

// np.interp(x, xp, fp) with clipping at both ends, for IsotonicRegression.
Result<std::string> Interp(Ctx& ctx, const std::string& x, const Tensor& xp, const Tensor& fp) {
  const int64_t m = xp.size();
  if (m < 1 || fp.size() != m) return InvalidArgument("IsotonicRegression thresholds malformed");
  const double* px = xp.data<double>();
  const double* py = fp.data<double>();
  for (int64_t i = 1; i < m; ++i)
    if (!(px[i] > px[i - 1]))
      return InvalidArgument("IsotonicRegression thresholds not increasing");
  if (m == 1)
    return ctx.b.Op("Add",
                    {ctx.b.Op("Mul", {x, ctx.b.ScalarDouble(0)}), ctx.b.ScalarDouble(py[0])});
  std::string xc = ctx.b.Op(
      "Max", {ctx.b.Op("Min", {x, ctx.b.ScalarDouble(px[m - 1])}), ctx.b.ScalarDouble(px[0])});
  // Segment j: xp[j] <= x < xp[j+1]; j = #inner points <= x, in [0, m-2].
  std::vector<double> inner(px + 1, px + m - 1);
  std::string j;
  if (inner.empty()) {
    j = ctx.b.Cast(ctx.b.Op("Mul", {xc, ctx.b.ScalarDouble(0)}), DType::kInt64);
  } else {
    std::string ge = ctx.b.Op("GreaterOrEqual",
                              {ctx.b.Unsqueeze1(xc), ctx.b.ConstDoubles(inner, {1, m - 2}, "xp")});
    j = ctx.b.Op("ReduceSum", {ctx.b.Cast(ge, DType::kInt64), ctx.b.ConstInts({1}, {1}, "axes")},
                 {{"keepdims", AttrInt(0)}});
  }
  std::vector<double> x0(px, px + m - 1), y0(py, py + m - 1), slope;
  for (int64_t i = 0; i + 1 < m; ++i) slope.push_back((py[i + 1] - py[i]) / (px[i + 1] - px[i]));
  auto g = [&](const std::vector<double>& v) {
    return ctx.b.Op("Gather",
                    {ctx.b.ConstDoubles(v, {static_cast<int64_t>(v.size())}, "interp"), j},
                    {{"axis", AttrInt(0)}});
  };
  // np.interp: slope * (x - xp[j]) + fp[j]; at x == xp[-1] it returns fp[-1].
  std::string y =
      ctx.b.Op("Add", {ctx.b.Op("Mul", {g(slope), ctx.b.Op("Sub", {xc, g(x0)})}), g(y0)});
  return ctx.b.Op("Where", {ctx.b.Op("GreaterOrEqual", {xc, ctx.b.ScalarDouble(px[m - 1])}),
                            ctx.b.ScalarDouble(py[m - 1]), y});
}

}  // namespace

Result<Prediction> ConvertCalibratedClassifierCV(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* cv, obj.Get("calibrated_classifiers_"));
  TIFFIN_ASSIGN_OR_RETURN(auto cals, ToSequence(*cv, obj.Where("calibrated_classifiers_")));
  if (cals.empty()) return InvalidArgument("CalibratedClassifierCV has no calibrated classifiers");
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  const int64_t k = p.classes.size();
  std::vector<std::string> probas;
  for (const PickleValue* c : cals) {
    Obj cal(c);
    const PickleValue* est = cal.Find("estimator");
    if (!est) est = cal.Find("base_estimator");
    if (!est) return InvalidArgument("_CalibratedClassifier has no estimator");
    TIFFIN_ASSIGN_OR_RETURN(Prediction sub, Predict(ctx, Obj(est), in));
    // _compute_predictions: decision_function if the estimator has one, else
    // predict_proba (the positive column only when binary).
    std::string pred;
    int64_t width;
    if (!sub.decision.empty()) {
      pred = sub.decision_width == 0 ? ctx.b.Unsqueeze1(sub.decision) : sub.decision;
      width = std::max<int64_t>(sub.decision_width, 1);
    } else if (!sub.probabilities.empty()) {
      pred = k == 2 ? ctx.b.Columns(sub.probabilities, {1}) : sub.probabilities;
      width = k == 2 ? 1 : k;
    } else {
      return InvalidArgument(
          "CalibratedClassifierCV: the estimator has neither "
          "decision_function nor predict_proba");
    }
    TIFFIN_ASSIGN_OR_RETURN(const PickleValue* calv, cal.Get("calibrators"));
    TIFFIN_ASSIGN_OR_RETURN(auto calibrators, ToSequence(*calv, "calibrators"));
    if (static_cast<int64_t>(calibrators.size()) != width)
      return InvalidArgument(
          "CalibratedClassifierCV: calibrators do not match the estimator outputs");
    // pos_class_indices: the estimator's classes within ours (the same order
    // in every case scikit-learn builds).
    std::vector<std::string> cols(static_cast<size_t>(k));
    for (int64_t i = 0; i < width; ++i) {
      Obj calib(calibrators[static_cast<size_t>(i)]);
      std::string t = ctx.b.Squeeze1(width == 1 ? pred : ctx.b.Columns(pred, {i}));
      std::string prob;
      if (calib.ClassName() == "_SigmoidCalibration") {
        TIFFIN_ASSIGN_OR_RETURN(double a, calib.Double("a_"));
        TIFFIN_ASSIGN_OR_RETURN(double b, calib.Double("b_"));
        // expit(-(a*T + b))
        std::string z =
            ctx.b.Op("Add", {ctx.b.Op("Mul", {t, ctx.b.ScalarDouble(a)}), ctx.b.ScalarDouble(b)});
        prob = ctx.b.Op("Sigmoid", {ctx.b.Op("Neg", {z})});
      } else if (calib.ClassName() == "IsotonicRegression") {
        TIFFIN_ASSIGN_OR_RETURN(Tensor xt, calib.Doubles("X_thresholds_"));
        TIFFIN_ASSIGN_OR_RETURN(Tensor yt, calib.Doubles("y_thresholds_"));
        TIFFIN_ASSIGN_OR_RETURN(prob, Interp(ctx, t, xt, yt));
      } else {
        return NotSupported("calibrator " + calib.FullName());
      }
      const int64_t cls = k == 2 ? 1 : i;
      cols[static_cast<size_t>(cls)] = ctx.b.Unsqueeze1(prob);
    }
    std::string proba;
    if (k == 2) {
      cols[0] = ctx.b.Op("Sub", {ctx.b.ScalarDouble(1), cols[1]});
      proba = ctx.b.Concat(cols);
    } else {
      proba = ctx.b.Concat(cols);
      std::string den = ctx.b.Op("ReduceSum", {proba, ctx.b.ConstInts({1}, {1}, "axes")},
                                 {{"keepdims", AttrInt(1)}});
      std::string zero = ctx.b.Op("Equal", {den, ctx.b.ScalarDouble(0)});
      std::string div =
          ctx.b.Op("Div", {proba, ctx.b.Op("Where", {zero, ctx.b.ScalarDouble(1), den})});
      proba = ctx.b.Op("Where", {zero, ctx.b.ScalarDouble(1.0 / static_cast<double>(k)), div});
    }
    probas.push_back(proba);
  }
  p.probabilities = WeightedAverage(ctx, probas, std::vector<double>(probas.size(), 1.0));
  p.label = LabelFromScores(ctx, p.probabilities, p.classes);
  return p;
}

}  // namespace tiffin::sklearn
