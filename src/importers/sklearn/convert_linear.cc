// Linear models: decision = X @ coef_.T + intercept_ in float64 (what
// scikit-learn's safe_sparse_dot computes), then each family's link.
#include "importers/sklearn/convert.h"

namespace tiffin::sklearn {
namespace {

struct Linear {
  std::string decision;  // [N, K] (K = 1 for binary / single target)
  int64_t k = 0;
};

Result<Linear> Decision(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, obj.ClassName()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor coef, obj.Doubles("coef_"));
  if (coef.rank() == 1) coef = coef.Reshaped({1, coef.size()});
  if (coef.rank() != 2) return InvalidArgument(obj.Where("coef_") + " must be 1-D or 2-D");
  const int64_t k = coef.dim(0), f = coef.dim(1);
  if (in.Width() >= 0 && f != in.Width()) {
    return InvalidArgument(obj.ClassName() + ".coef_ has " + std::to_string(f) +
                           " features, the input " + std::to_string(in.Width()));
  }
  Tensor wt(DType::kFloat64, {f, k});
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < f; ++j) wt.data<double>()[j * k + i] = coef.data<double>()[i * f + j];
  Tensor b(DType::kFloat64, {k});
  if (obj.HasValue("intercept_")) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor icpt, obj.Doubles("intercept_"));
    if (icpt.size() == 1) {
      for (int64_t i = 0; i < k; ++i) b.data<double>()[i] = icpt.data<double>()[0];
    } else if (icpt.size() == k) {
      for (int64_t i = 0; i < k; ++i) b.data<double>()[i] = icpt.data<double>()[i];
    } else {
      return InvalidArgument(obj.Where("intercept_") + " has " + std::to_string(icpt.size()) +
                             " values for " + std::to_string(k) + " outputs");
    }
  }
  return Linear{ctx.b.MatMulAdd(x, wt, &b), k};
}

// Row-normalise [N, K] (rows summing to 0 stay as scikit-learn leaves them:
// for OvR it divides anyway; callers choose).
std::string RowNormalize(Ctx& ctx, const std::string& p) {
  std::string sum =
      ctx.b.Op("ReduceSum", {p, ctx.b.ConstInts({1}, {1}, "axes")}, {{"keepdims", AttrInt(1)}});
  return ctx.b.Op("Div", {p, sum});
}

}  // namespace

Result<Prediction> ConvertLinearClassifier(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(Linear lin, Decision(ctx, obj, in));
  Prediction p;
  const std::string cls = obj.ClassName();
  if (obj.HasValue("classes_")) {
    TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  } else if (obj.HasValue("_label_binarizer")) {
    // RidgeClassifier's classes_ is a property over its label binarizer.
    TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(Obj(obj.Find("_label_binarizer"))));
  } else {
    return InvalidArgument(cls + " has no classes_: it is not fitted");
  }
  const int64_t n_classes = p.classes.size();
  const bool binary = lin.k == 1;
  if (binary != (n_classes == 2)) {
    return InvalidArgument(cls + ": coef_ has " + std::to_string(lin.k) + " rows for " +
                           std::to_string(n_classes) + " classes");
  }
  if (!binary && lin.k != n_classes) {
    return InvalidArgument(cls + ": coef_ rows do not match classes_");
  }
  // Label: decision > 0 for binary (ties go to classes_[0]), argmax otherwise.
  if (binary) {
    p.decision = ctx.b.Squeeze1(lin.decision);
    p.decision_width = 0;
    p.label = BinaryLabel(ctx, ctx.b.Op("Greater", {p.decision, ctx.b.ScalarDouble(0)}), p.classes);
  } else {
    p.label = LabelFromScores(ctx, lin.decision, p.classes);
    p.decision = lin.decision;
    p.decision_width = lin.k;
  }
  // Probabilities, for the models that have predict_proba.
  std::string link;
  if (cls == "LogisticRegression" || cls == "LogisticRegressionCV") {
    const std::string mc = obj.StrOr("multi_class", "auto");
    const std::string solver = obj.StrOr("solver", "lbfgs");
    const bool ovr =
        mc == "ovr" || mc == "warn" || (mc == "auto" && (binary || solver == "liblinear"));
    link = ovr ? "ovr" : "multinomial";
  } else if (cls == "SGDClassifier") {
    const std::string loss = obj.StrOr("loss", "hinge");
    if (loss == "log_loss" || loss == "log") link = "ovr";
    if (loss == "modified_huber") link = "modified_huber";
  }
  if (link == "multinomial") {
    std::string scores =
        binary ? ctx.b.Concat({ctx.b.Op("Neg", {lin.decision}), lin.decision}) : lin.decision;
    p.probabilities = ctx.b.Op("Softmax", {scores}, {{"axis", AttrInt(1)}});
  } else if (link == "ovr") {
    std::string s = ctx.b.Op("Sigmoid", {lin.decision});
    if (binary) {
      p.probabilities = ctx.b.Concat({ctx.b.Op("Sub", {ctx.b.ScalarDouble(1), s}), s});
    } else {
      p.probabilities = RowNormalize(ctx, s);
    }
  } else if (link == "modified_huber") {
    // (clip(d, -1, 1) + 1) / 2; multiclass rows normalised, all-zero rows
    // uniform.
    std::string c = ctx.b.Op(
        "Max", {ctx.b.Op("Min", {lin.decision, ctx.b.ScalarDouble(1)}), ctx.b.ScalarDouble(-1)});
    std::string prob =
        ctx.b.Op("Div", {ctx.b.Op("Add", {c, ctx.b.ScalarDouble(1)}), ctx.b.ScalarDouble(2)});
    if (binary) {
      p.probabilities = ctx.b.Concat({ctx.b.Op("Sub", {ctx.b.ScalarDouble(1), prob}), prob});
    } else {
      std::string sum = ctx.b.Op("ReduceSum", {prob, ctx.b.ConstInts({1}, {1}, "axes")},
                                 {{"keepdims", AttrInt(1)}});
      std::string zero = ctx.b.Op("Equal", {sum, ctx.b.ScalarDouble(0)});
      std::string div =
          ctx.b.Op("Div", {prob, ctx.b.Op("Where", {zero, ctx.b.ScalarDouble(1), sum})});
      p.probabilities =
          ctx.b.Op("Where", {zero, ctx.b.ScalarDouble(1.0 / static_cast<double>(n_classes)), div});
    }
  }
  return p;
}

Result<Prediction> ConvertLinearRegressor(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(Linear lin, Decision(ctx, obj, in));
  Prediction p;
  const PickleValue* coef = obj.Find("coef_");
  // A 2-D coef_ means a multi-target model ([N, T] output) even for T = 1.
  bool two_d = false;
  if (coef) {
    auto t = ToDoubleTensor(*coef, "coef_");
    two_d = t.ok() && t->rank() == 2;
  }
  p.n_targets = lin.k;
  p.variable_2d = two_d;
  p.variable = two_d ? lin.decision : ctx.b.Squeeze1(lin.decision);
  return p;
}

}  // namespace tiffin::sklearn
