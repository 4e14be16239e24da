// Trees and tree ensembles. Splits and leaf values stay float64; input is
// rounded to float32 first where scikit-learn does (every Tree-based model;
// not HistGradientBoosting, which predicts on float64).
#include <cmath>
#include <limits>

#include "importers/sklearn/trees.h"

namespace tiffin::sklearn {
namespace {

int64_t NFeatures(const Obj& obj, const Features& in) {
  int64_t n = obj.IntOr("n_features_in_", -1);
  if (n < 0) n = obj.IntOr("n_features_", -1);
  if (n < 0) n = in.Width();
  return n;
}

Result<Tree> TreeOf(const Obj& est, int64_t n_features) {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* t, est.Get("tree_"));
  return ReadSklearnTree(*t, n_features, est.ClassName() + ".tree_");
}

// Leaf probabilities as DecisionTreeClassifier.predict_proba computes them:
// value / sum(value), a zero sum left as 1.
std::vector<double> LeafProba(const Tree& t, int64_t leaf, int64_t n_classes) {
  std::vector<double> p(static_cast<size_t>(n_classes));
  double sum = 0;
  for (int64_t c = 0; c < n_classes; ++c) sum += t.value[static_cast<size_t>(leaf * t.width + c)];
  if (sum == 0.0) sum = 1.0;
  for (int64_t c = 0; c < n_classes; ++c)
    p[static_cast<size_t>(c)] = t.value[static_cast<size_t>(leaf * t.width + c)] / sum;
  return p;
}

Result<std::string> TreeInput(Ctx& ctx, const Obj& obj, const Features& in, bool float32) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, obj.ClassName()));
  return float32 ? AsFloat32(ctx, x) : x;
}

// Adds each class's probability tree to `eb` (one tree copy per class:
// TreeEnsemble leaves feed one target each).
Status AddClassifierTree(EnsembleBuilder& eb, const Obj& est, int64_t n_features,
                         int64_t n_classes) {
  TIFFIN_ASSIGN_OR_RETURN(Tree t, TreeOf(est, n_features));
  if (t.n_outputs != 1) return NotSupported(est.ClassName() + " with several outputs");
  if (t.n_classes != n_classes) {
    return InvalidArgument(est.ClassName() + ": tree has " + std::to_string(t.n_classes) +
                           " classes, the model " + std::to_string(n_classes));
  }
  for (int64_t c = 0; c < n_classes; ++c) {
    eb.AddTree(t, c,
               [&](int64_t leaf) { return LeafProba(t, leaf, n_classes)[static_cast<size_t>(c)]; });
  }
  return Status::Ok();
}

Status AddRegressorTree(EnsembleBuilder& eb, const Obj& est, int64_t n_features, int64_t n_targets,
                        double scale = 1.0, int64_t target_offset = 0) {
  TIFFIN_ASSIGN_OR_RETURN(Tree t, TreeOf(est, n_features));
  if (t.n_outputs != n_targets && !(n_targets == 1 && target_offset > 0)) {
    return InvalidArgument(est.ClassName() + ": tree has " + std::to_string(t.n_outputs) +
                           " outputs, expected " + std::to_string(n_targets));
  }
  for (int64_t o = 0; o < t.n_outputs; ++o) {
    eb.AddTree(t, o + target_offset, [&](int64_t leaf) {
      const double v = t.value[static_cast<size_t>(leaf * t.width + o * t.n_classes)];
      return scale == 1.0 ? v : scale * v;
    });
  }
  return Status::Ok();
}

Result<std::vector<const PickleValue*>> Estimators(const Obj& obj) {
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* v, obj.Get("estimators_"));
  TIFFIN_ASSIGN_OR_RETURN(auto seq, ToSequence(*v, obj.Where("estimators_")));
  if (seq.empty()) return InvalidArgument(obj.ClassName() + " has no fitted estimators");
  return seq;
}

Prediction RegressorOutput(Ctx& ctx, std::string y, int64_t n_targets, bool two_d) {
  Prediction p;
  p.n_targets = n_targets;
  p.variable_2d = two_d || n_targets > 1;
  p.variable = p.variable_2d ? y : ctx.b.Squeeze1(y);
  return p;
}

}  // namespace

Result<Prediction> ConvertDecisionTreeClassifier(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, TreeInput(ctx, obj, in, true));
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  const int64_t k = p.classes.size();
  EnsembleBuilder eb(k);
  TIFFIN_RETURN_IF_ERROR(AddClassifierTree(eb, obj, NFeatures(obj, in), k));
  p.probabilities = eb.Emit(ctx, x);
  p.label = LabelFromScores(ctx, p.probabilities, p.classes);
  return p;
}

Result<Prediction> ConvertDecisionTreeRegressor(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, TreeInput(ctx, obj, in, true));
  const int64_t n_targets = obj.IntOr("n_outputs_", 1);
  EnsembleBuilder eb(n_targets);
  TIFFIN_RETURN_IF_ERROR(AddRegressorTree(eb, obj, NFeatures(obj, in), n_targets));
  return RegressorOutput(ctx, eb.Emit(ctx, x), n_targets, false);
}

Result<Prediction> ConvertForestClassifier(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, TreeInput(ctx, obj, in, true));
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  const int64_t k = p.classes.size();
  TIFFIN_ASSIGN_OR_RETURN(auto ests, Estimators(obj));
  EnsembleBuilder eb(k);
  for (const PickleValue* e : ests) {
    TIFFIN_RETURN_IF_ERROR(AddClassifierTree(eb, Obj(e), NFeatures(obj, in), k));
  }
  // predict_proba sums the trees' probabilities, then divides by their count.
  p.probabilities =
      ctx.b.Op("Div", {eb.Emit(ctx, x), ctx.b.ScalarDouble(static_cast<double>(ests.size()))});
  p.label = LabelFromScores(ctx, p.probabilities, p.classes);
  return p;
}

Result<Prediction> ConvertForestRegressor(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, TreeInput(ctx, obj, in, true));
  const int64_t n_targets = obj.IntOr("n_outputs_", 1);
  TIFFIN_ASSIGN_OR_RETURN(auto ests, Estimators(obj));
  EnsembleBuilder eb(n_targets);
  for (const PickleValue* e : ests) {
    TIFFIN_RETURN_IF_ERROR(AddRegressorTree(eb, Obj(e), NFeatures(obj, in), n_targets));
  }
  std::string y =
      ctx.b.Op("Div", {eb.Emit(ctx, x), ctx.b.ScalarDouble(static_cast<double>(ests.size()))});
  return RegressorOutput(ctx, y, n_targets, false);
}

namespace {

// The raw prediction of GradientBoosting's init_ estimator, per class
// column, as _gb_losses computes it from a Dummy estimator.
Result<std::vector<double>> GbInit(const Obj& obj, int64_t k, bool classifier) {
  const PickleValue* init = obj.Find("init_");
  if (!init || (init->is_str() && init->str_value == "zero"))
    return std::vector<double>(static_cast<size_t>(k), 0.0);
  Obj est(init);
  const std::string loss = obj.StrOr("loss", classifier ? "log_loss" : "squared_error");
  if (est.ClassName() == "DummyRegressor") {
    TIFFIN_ASSIGN_OR_RETURN(Tensor c, est.Doubles("constant_"));
    if (c.size() < 1) return InvalidArgument("DummyRegressor.constant_ is empty");
    return std::vector<double>(static_cast<size_t>(k), c.data<double>()[0]);
  }
  if (est.ClassName() == "DummyClassifier") {
    TIFFIN_ASSIGN_OR_RETURN(Tensor prior, est.Doubles("class_prior_"));
    const double eps = std::numeric_limits<float>::epsilon();
    std::vector<double> raw(static_cast<size_t>(k));
    if (k == 1) {
      if (prior.size() != 2)
        return InvalidArgument("GradientBoosting init_: expected 2 class priors");
      double p = std::min(std::max(prior.data<double>()[1], eps), 1 - eps);
      raw[0] = std::log(p / (1 - p));
      if (loss == "exponential") raw[0] *= 0.5;
    } else {
      if (prior.size() != k)
        return InvalidArgument("GradientBoosting init_: class priors do not match");
      for (int64_t c = 0; c < k; ++c)
        raw[static_cast<size_t>(c)] =
            std::log(std::min(std::max(prior.data<double>()[c], eps), 1 - eps));
    }
    return raw;
  }
  // Before 0.21 the init estimators lived in gradient_boosting.py and their
  // predictions were used as raw scores directly.
  const std::string cls = est.ClassName();
  if (cls == "ZeroEstimator") return std::vector<double>(static_cast<size_t>(k), 0.0);
  if (cls == "MeanEstimator")
    return std::vector<double>(static_cast<size_t>(k), est.DoubleOr("mean", 0));
  if (cls == "QuantileEstimator")
    return std::vector<double>(static_cast<size_t>(k), est.DoubleOr("quantile", 0));
  if (cls == "LogOddsEstimator" || cls == "ScaledLogOddsEstimator") {
    return std::vector<double>(static_cast<size_t>(k), est.DoubleOr("prior", 0));
  }
  if (cls == "PriorProbabilityEstimator") {
    TIFFIN_ASSIGN_OR_RETURN(Tensor priors, est.Doubles("priors"));
    if (priors.size() != k)
      return InvalidArgument("PriorProbabilityEstimator.priors do not match the classes");
    return std::vector<double>(priors.data<double>(), priors.data<double>() + k);
  }
  return NotSupported("GradientBoosting with init_=" + est.ClassName() +
                      " (only the default Dummy init and 'zero' are supported)");
}

Result<std::string> GbRaw(Ctx& ctx, const Obj& obj, const Features& in, int64_t k,
                          bool classifier) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, TreeInput(ctx, obj, in, true));
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* ev, obj.Get("estimators_"));
  TIFFIN_ASSIGN_OR_RETURN(auto ests, ToSequence(*ev, obj.Where("estimators_")));
  if (static_cast<int64_t>(ests.size()) % k != 0)
    return InvalidArgument(obj.ClassName() + ".estimators_ is not (n_stages, K)");
  TIFFIN_ASSIGN_OR_RETURN(std::vector<double> init, GbInit(obj, k, classifier));
  TIFFIN_ASSIGN_OR_RETURN(double lr, obj.Double("learning_rate"));
  EnsembleBuilder eb(k);
  // predict_stages adds learning_rate * leaf value to the init prediction,
  // stage by stage: a constant first tree reproduces that summation order.
  for (int64_t c = 0; c < k; ++c) eb.AddConstant(c, init[static_cast<size_t>(c)]);
  const int64_t n_features = NFeatures(obj, in);
  for (size_t i = 0; i < ests.size(); ++i) {
    const int64_t c = static_cast<int64_t>(i) % k;
    Obj est(ests[i]);
    TIFFIN_ASSIGN_OR_RETURN(Tree t, TreeOf(est, n_features));
    eb.AddTree(t, c,
               [&](int64_t leaf) { return lr * t.value[static_cast<size_t>(leaf * t.width)]; });
  }
  return eb.Emit(ctx, x);
}

// [1-p, p] from p [N, 1].
std::string BinaryProba(Ctx& ctx, const std::string& p) {
  return ctx.b.Concat({ctx.b.Op("Sub", {ctx.b.ScalarDouble(1), p}), p});
}

}  // namespace

Result<Prediction> ConvertGradientBoostingClassifier(Ctx& ctx, const Obj& obj, const Features& in) {
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  const int64_t n = p.classes.size();
  const int64_t k = n == 2 ? 1 : n;
  TIFFIN_ASSIGN_OR_RETURN(std::string raw, GbRaw(ctx, obj, in, k, true));
  const std::string loss = obj.StrOr("loss", "log_loss");
  if (k == 1) {
    std::string z = loss == "exponential" ? ctx.b.Op("Mul", {raw, ctx.b.ScalarDouble(2)}) : raw;
    p.probabilities = BinaryProba(ctx, ctx.b.Op("Sigmoid", {z}));
    p.decision = ctx.b.Squeeze1(raw);
  } else {
    p.probabilities = ctx.b.Op("Softmax", {raw}, {{"axis", AttrInt(1)}});
    p.decision = raw;
    p.decision_width = k;
  }
  p.label = LabelFromScores(ctx, p.probabilities, p.classes);
  return p;
}

Result<Prediction> ConvertGradientBoostingRegressor(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string raw, GbRaw(ctx, obj, in, 1, false));
  return RegressorOutput(ctx, raw, 1, false);
}

namespace {

Result<std::string> HgbRaw(Ctx& ctx, const Obj& obj, const Features& in, int64_t* k_out) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, obj.ClassName()));
  if (obj.HasValue("_preprocessor")) {
    return NotSupported(obj.ClassName() +
                        " with categorical_features='from_dtype' preprocessing "
                        "(scikit-learn 1.4+)");
  }
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* pv, obj.Get("_predictors"));
  TIFFIN_ASSIGN_OR_RETURN(auto iterations, ToSequence(*pv, obj.Where("_predictors")));
  TIFFIN_ASSIGN_OR_RETURN(Tensor baseline, obj.Doubles("_baseline_prediction"));
  const int64_t k = baseline.size();
  if (k < 1) return InvalidArgument(obj.Where("_baseline_prediction") + " is empty");
  *k_out = k;
  const int64_t n_features = NFeatures(obj, in);
  EnsembleBuilder eb(k);
  // raw = zeros + baseline, then each predictor adds its leaf values.
  for (int64_t c = 0; c < k; ++c) eb.AddConstant(c, baseline.data<double>()[c]);
  for (const PickleValue* it : iterations) {
    TIFFIN_ASSIGN_OR_RETURN(auto preds, ToSequence(*it, "_predictors[i]"));
    if (static_cast<int64_t>(preds.size()) != k)
      return InvalidArgument(obj.ClassName() + ": an iteration has " +
                             std::to_string(preds.size()) + " trees for " + std::to_string(k) +
                             " outputs");
    for (int64_t c = 0; c < k; ++c) {
      TIFFIN_ASSIGN_OR_RETURN(Tree t, ReadHistPredictor(*preds[static_cast<size_t>(c)], n_features,
                                                        obj.ClassName() + " predictor"));
      eb.AddTree(t, c, [&](int64_t leaf) { return t.value[static_cast<size_t>(leaf)]; });
    }
  }
  return eb.Emit(ctx, x);
}

}  // namespace

Result<Prediction> ConvertHistGradientBoostingClassifier(Ctx& ctx, const Obj& obj,
                                                         const Features& in) {
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  int64_t k = 0;
  TIFFIN_ASSIGN_OR_RETURN(std::string raw, HgbRaw(ctx, obj, in, &k));
  if (k == 1) {
    p.probabilities = BinaryProba(ctx, ctx.b.Op("Sigmoid", {raw}));
    p.decision = ctx.b.Squeeze1(raw);
  } else {
    p.probabilities = ctx.b.Op("Softmax", {raw}, {{"axis", AttrInt(1)}});
    p.decision = raw;
    p.decision_width = k;
  }
  p.label = LabelFromScores(ctx, p.probabilities, p.classes);
  return p;
}

Result<Prediction> ConvertHistGradientBoostingRegressor(Ctx& ctx, const Obj& obj,
                                                        const Features& in) {
  int64_t k = 0;
  TIFFIN_ASSIGN_OR_RETURN(std::string raw, HgbRaw(ctx, obj, in, &k));
  const std::string loss = obj.StrOr("loss", "squared_error");
  if (loss == "poisson" || loss == "gamma") raw = ctx.b.Op("Exp", {raw});
  return RegressorOutput(ctx, raw, 1, false);
}

Result<Prediction> ConvertAdaBoostClassifier(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, TreeInput(ctx, obj, in, true));
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  const int64_t k = p.classes.size();
  TIFFIN_ASSIGN_OR_RETURN(auto ests, Estimators(obj));
  TIFFIN_ASSIGN_OR_RETURN(Tensor w, obj.Doubles("estimator_weights_"));
  if (w.size() < static_cast<int64_t>(ests.size()))
    return InvalidArgument("AdaBoostClassifier.estimator_weights_ is shorter than estimators_");
  const std::string algorithm = obj.StrOr("algorithm", "SAMME.R");
  const int64_t n_features = NFeatures(obj, in);
  EnsembleBuilder eb(k);
  double wsum = 0;
  for (int64_t i = 0; i < w.size(); ++i) wsum += w.data<double>()[i];
  for (size_t i = 0; i < ests.size(); ++i) {
    Obj est(ests[i]);
    if (est.ClassName() != "DecisionTreeClassifier" && est.ClassName() != "ExtraTreeClassifier")
      return NotSupported("AdaBoostClassifier over " + est.ClassName());
    TIFFIN_ASSIGN_OR_RETURN(Tree t, TreeOf(est, n_features));
    if (t.n_classes != k) return InvalidArgument("AdaBoostClassifier: a tree's classes differ");
    const double wi = w.data<double>()[i];
    for (int64_t c = 0; c < k; ++c) {
      eb.AddTree(t, c, [&](int64_t leaf) {
        std::vector<double> pr = LeafProba(t, leaf, k);
        if (algorithm == "SAMME.R") {
          // _samme_proba: (K-1) * (log p - mean(log p)), p clipped at eps.
          const double eps = std::numeric_limits<double>::epsilon();
          double sum = 0;
          std::vector<double> lp(pr.size());
          for (size_t j = 0; j < pr.size(); ++j) sum += (lp[j] = std::log(std::max(pr[j], eps)));
          return static_cast<double>(k - 1) *
                 (lp[static_cast<size_t>(c)] - (1.0 / static_cast<double>(k)) * sum);
        }
        // SAMME: the tree's vote (argmax, first max) times its weight.
        int64_t best = 0;
        for (int64_t j = 1; j < k; ++j)
          if (pr[static_cast<size_t>(j)] > pr[static_cast<size_t>(best)]) best = j;
        return best == c ? wi : 0.0;
      });
    }
  }
  std::string pred = ctx.b.Op("Div", {eb.Emit(ctx, x), ctx.b.ScalarDouble(wsum)});
  if (k == 2) {
    // decision = pred[:, 1] - pred[:, 0]; proba = softmax([-d, d] / 2).
    std::string d = ctx.b.Op("Sub", {ctx.b.Columns(pred, {1}), ctx.b.Columns(pred, {0})});
    p.decision = ctx.b.Squeeze1(d);
    std::string half = ctx.b.Op("Div", {d, ctx.b.ScalarDouble(2)});
    p.probabilities = ctx.b.Op("Softmax", {ctx.b.Concat({ctx.b.Op("Neg", {half}), half})},
                               {{"axis", AttrInt(1)}});
    p.label = BinaryLabel(ctx, ctx.b.Op("Greater", {p.decision, ctx.b.ScalarDouble(0)}), p.classes);
  } else {
    p.decision = pred;
    p.decision_width = k;
    p.probabilities = ctx.b.Op(
        "Softmax", {ctx.b.Op("Div", {pred, ctx.b.ScalarDouble(static_cast<double>(k - 1))})},
        {{"axis", AttrInt(1)}});
    p.label = LabelFromScores(ctx, pred, p.classes);
  }
  return p;
}

Result<Prediction> ConvertAdaBoostRegressor(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, TreeInput(ctx, obj, in, true));
  TIFFIN_ASSIGN_OR_RETURN(auto ests, Estimators(obj));
  TIFFIN_ASSIGN_OR_RETURN(Tensor w, obj.Doubles("estimator_weights_"));
  const int64_t t = static_cast<int64_t>(ests.size());
  if (w.size() < t) return InvalidArgument("AdaBoostRegressor.estimator_weights_ too short");
  EnsembleBuilder eb(t);
  for (int64_t i = 0; i < t; ++i) {
    TIFFIN_RETURN_IF_ERROR(
        AddRegressorTree(eb, Obj(ests[static_cast<size_t>(i)]), NFeatures(obj, in), 1, 1.0, i));
  }
  std::string preds = eb.Emit(ctx, x);  // [N, T]
  // Weighted median (_get_median_predict): sort, cumulative weights, first
  // index reaching half the total.
  auto topk =
      ctx.b.Node("TopK", {preds, ctx.b.ConstInts({t}, {1}, "k")},
                 {{"axis", AttrInt(1)}, {"largest", AttrInt(0)}, {"sorted", AttrInt(1)}}, 2);
  std::vector<double> wv(w.data<double>(), w.data<double>() + t);
  std::string sw =
      ctx.b.Op("Gather", {ctx.b.ConstDoubles(wv, {t}, "weights"), topk[1]}, {{"axis", AttrInt(0)}});
  std::string cdf = ctx.b.Op("CumSum", {sw, ctx.b.Const(Tensor::Scalar<int64_t>(1), "axis")});
  std::string last = ctx.b.Columns(cdf, {t - 1});
  std::string reach =
      ctx.b.Op("GreaterOrEqual", {cdf, ctx.b.Op("Mul", {last, ctx.b.ScalarDouble(0.5)})});
  std::string idx = ctx.b.Op("ArgMax", {ctx.b.Cast(reach, DType::kInt32)},
                             {{"axis", AttrInt(1)}, {"keepdims", AttrInt(1)}});
  std::string y = ctx.b.Op("GatherElements", {topk[0], idx}, {{"axis", AttrInt(1)}});
  return RegressorOutput(ctx, y, 1, false);
}

Result<Prediction> ConvertIsolationForest(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, TreeInput(ctx, obj, in, true));
  TIFFIN_ASSIGN_OR_RETURN(auto ests, Estimators(obj));
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* fv, obj.Get("estimators_features_"));
  TIFFIN_ASSIGN_OR_RETURN(auto feats, ToSequence(*fv, obj.Where("estimators_features_")));
  if (feats.size() != ests.size())
    return InvalidArgument("IsolationForest: estimators_features_ mismatch");
  TIFFIN_ASSIGN_OR_RETURN(double max_samples, obj.Double("max_samples_"));
  TIFFIN_ASSIGN_OR_RETURN(double offset, obj.Double("offset_"));
  const int64_t n_features = NFeatures(obj, in);
  // _average_path_length
  auto apl = [](double n) {
    if (n <= 1) return 0.0;
    if (n <= 2) return 1.0;
    return 2.0 * (std::log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n;
  };
  EnsembleBuilder eb(1);
  for (size_t i = 0; i < ests.size(); ++i) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor f, ToInt64Tensor(*feats[i], "estimators_features_"));
    std::vector<int64_t> map(f.data<int64_t>(), f.data<int64_t>() + f.size());
    for (int64_t m : map)
      if (m < 0 || (n_features >= 0 && m >= n_features))
        return InvalidArgument("IsolationForest: a feature index is outside the input");
    TIFFIN_ASSIGN_OR_RETURN(Tree t, TreeOf(Obj(ests[i]), static_cast<int64_t>(map.size())));
    std::vector<int64_t> depth = t.Depths();
    eb.AddTree(
        t, 0,
        [&](int64_t leaf) {
          // decision_path counts the nodes on the path: depth + 1.
          return static_cast<double>(depth[static_cast<size_t>(leaf)] + 1) +
                 apl(static_cast<double>(t.n_samples[static_cast<size_t>(leaf)])) - 1.0;
        },
        &map);
  }
  std::string depths = eb.Emit(ctx, x);
  const double denominator = static_cast<double>(ests.size()) * apl(max_samples);
  std::string ratio = denominator != 0
                          ? ctx.b.Op("Div", {depths, ctx.b.ScalarDouble(denominator)})
                          : ctx.b.Op("Add", {ctx.b.Op("Mul", {depths, ctx.b.ScalarDouble(0)}),
                                             ctx.b.ScalarDouble(1)});
  std::string scores = ctx.b.Op("Pow", {ctx.b.ScalarDouble(2), ctx.b.Op("Neg", {ratio})});
  Prediction p;
  p.score_samples = ctx.b.Squeeze1(ctx.b.Op("Neg", {scores}));
  p.decision = ctx.b.Op("Sub", {p.score_samples, ctx.b.ScalarDouble(offset)});
  p.classes.values = Tensor::FromVector<int64_t>({-1, 1});
  p.label =
      BinaryLabel(ctx, ctx.b.Op("GreaterOrEqual", {p.decision, ctx.b.ScalarDouble(0)}), p.classes);
  return p;
}

}  // namespace tiffin::sklearn
