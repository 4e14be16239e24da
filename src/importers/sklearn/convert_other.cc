// Naive Bayes, MLP, nearest neighbours, SVMs and dummy estimators, all as
// float64 standard ops (no float32 ai.onnx.ml attributes), so they match
// scikit-learn to rounding.
#include <cmath>

#include <algorithm>
#include <limits>

#include "importers/sklearn/convert.h"

namespace tiffin::sklearn {
namespace {

std::string Axes1(Ctx& ctx) { return ctx.b.ConstInts({1}, {1}, "axes"); }

// scipy.special.logsumexp over axis 1, keepdims: log(sum(exp(a - max))) + max.
std::string LogSumExp(Ctx& ctx, const std::string& a) {
  std::string m = ctx.b.Op("ReduceMax", {a}, {{"axes", AttrInts({1})}, {"keepdims", AttrInt(1)}});
  std::string s = ctx.b.Op("ReduceSum", {ctx.b.Op("Exp", {ctx.b.Op("Sub", {a, m})}), Axes1(ctx)},
                           {{"keepdims", AttrInt(1)}});
  return ctx.b.Op("Add", {ctx.b.Op("Log", {s}), m});
}

// Naive Bayes tail: proba = exp(jll - logsumexp(jll)); label = argmax(jll).
Result<Prediction> FromJointLogLikelihood(Ctx& ctx, const Obj& obj, const std::string& jll) {
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  p.probabilities = ctx.b.Op("Exp", {ctx.b.Op("Sub", {jll, LogSumExp(ctx, jll)})});
  p.label = LabelFromScores(ctx, jll, p.classes);
  return p;
}

Tensor Transposed(const Tensor& t) {
  const int64_t r = t.dim(0), c = t.dim(1);
  Tensor out(DType::kFloat64, {c, r});
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) out.data<double>()[j * r + i] = t.data<double>()[i * c + j];
  return out;
}

Result<Tensor> Matrix(const Obj& obj, const char* key) {
  TIFFIN_ASSIGN_OR_RETURN(Tensor t, obj.Doubles(key));
  if (t.rank() != 2)
    return InvalidArgument(obj.Where(key) + " must be 2-D, is " + ShapeToString(t.shape()));
  return t;
}

}  // namespace

Result<Prediction> ConvertGaussianNB(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "GaussianNB"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor theta, Matrix(obj, "theta_"));
  // var_ was sigma_ before scikit-learn 1.0.
  TIFFIN_ASSIGN_OR_RETURN(Tensor var,
                          obj.HasValue("var_") ? Matrix(obj, "var_") : Matrix(obj, "sigma_"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor prior, obj.Doubles("class_prior_"));
  const int64_t k = theta.dim(0), f = theta.dim(1);
  if (var.shape() != theta.shape() || prior.size() != k)
    return InvalidArgument("GaussianNB: theta_, var_ and class_prior_ do not agree");
  std::vector<double> c(static_cast<size_t>(k)), logp(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    double s = 0;
    for (int64_t j = 0; j < f; ++j) s += std::log(2.0 * M_PI * var.data<double>()[i * f + j]);
    c[static_cast<size_t>(i)] = -0.5 * s;
    logp[static_cast<size_t>(i)] = std::log(prior.data<double>()[i]);
  }
  // ((X - theta)^2 / var).sum(axis=-1) for all classes at once: [N, K, F].
  std::string x3 = ctx.b.Unsqueeze1(x);
  std::string d = ctx.b.Op("Sub", {x3, ctx.b.Const(theta.Reshaped({1, k, f}), "theta")});
  std::string q =
      ctx.b.Op("Div", {ctx.b.Op("Mul", {d, d}), ctx.b.Const(var.Reshaped({1, k, f}), "var")});
  std::string s =
      ctx.b.Op("ReduceSum", {q, ctx.b.ConstInts({2}, {1}, "axes")}, {{"keepdims", AttrInt(0)}});
  std::string nij = ctx.b.Op(
      "Sub", {ctx.b.ConstDoubles(c, {1, k}, "c"), ctx.b.Op("Mul", {ctx.b.ScalarDouble(0.5), s})});
  std::string jll = ctx.b.Op("Add", {ctx.b.ConstDoubles(logp, {1, k}, "log_prior"), nij});
  return FromJointLogLikelihood(ctx, obj, jll);
}

Result<Prediction> ConvertDiscreteNB(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, obj.ClassName()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor flp, Matrix(obj, "feature_log_prob_"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor clp, obj.Doubles("class_log_prior_"));
  const int64_t k = flp.dim(0), f = flp.dim(1);
  const std::string cls = obj.ClassName();
  std::string jll;
  if (cls == "BernoulliNB") {
    if (obj.HasValue("binarize")) {
      TIFFIN_ASSIGN_OR_RETURN(double t, obj.Double("binarize"));
      x = ctx.b.Cast(ctx.b.Op("Greater", {x, ctx.b.ScalarDouble(t)}), DType::kFloat64);
    }
    // jll = X @ (flp - neg_prob).T + class_log_prior_ + neg_prob.sum(axis=1)
    Tensor diff(DType::kFloat64, {k, f});
    std::vector<double> neg_sum(static_cast<size_t>(k), 0.0);
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = 0; j < f; ++j) {
        const double lp = flp.data<double>()[i * f + j];
        const double neg = std::log(1 - std::exp(lp));
        diff.data<double>()[i * f + j] = lp - neg;
        neg_sum[static_cast<size_t>(i)] += neg;
      }
    }
    std::vector<double> bias(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i)
      bias[static_cast<size_t>(i)] = clp.data<double>()[i] + neg_sum[static_cast<size_t>(i)];
    // scikit-learn adds class_log_prior_ then the neg sum: two Adds keep the order.
    std::string m = ctx.b.MatMulAdd(x, Transposed(diff), nullptr);
    m = ctx.b.Op("Add", {m, ctx.b.ConstDoubles(
                                std::vector<double>(clp.data<double>(), clp.data<double>() + k),
                                {1, k}, "clp")});
    jll = ctx.b.Op("Add", {m, ctx.b.ConstDoubles(neg_sum, {1, k}, "neg_sum")});
  } else {
    jll = ctx.b.MatMulAdd(x, Transposed(flp), nullptr);
    if (cls == "MultinomialNB" || k == 1) {
      jll = ctx.b.Op(
          "Add",
          {jll, ctx.b.ConstDoubles(std::vector<double>(clp.data<double>(), clp.data<double>() + k),
                                   {1, k}, "clp")});
    }
  }
  return FromJointLogLikelihood(ctx, obj, jll);
}

namespace {

Result<std::string> MlpForward(Ctx& ctx, const Obj& obj, const Features& in, int64_t* out_width) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string a, Dense(ctx, in, obj.ClassName()));
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* cv, obj.Get("coefs_"));
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* iv, obj.Get("intercepts_"));
  TIFFIN_ASSIGN_OR_RETURN(auto coefs, ToSequence(*cv, obj.Where("coefs_")));
  TIFFIN_ASSIGN_OR_RETURN(auto icpts, ToSequence(*iv, obj.Where("intercepts_")));
  if (coefs.empty() || coefs.size() != icpts.size())
    return InvalidArgument(obj.ClassName() + ": coefs_ and intercepts_ differ in length");
  const std::string hidden = obj.StrOr("activation", "relu");
  const std::string out = obj.StrOr("out_activation_", "identity");
  int64_t width = in.Width();
  for (size_t i = 0; i < coefs.size(); ++i) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor w, ToDoubleTensor(*coefs[i], "coefs_"));
    TIFFIN_ASSIGN_OR_RETURN(Tensor b, ToDoubleTensor(*icpts[i], "intercepts_"));
    if (w.rank() != 2 || (width >= 0 && w.dim(0) != width) || b.size() != w.dim(1))
      return InvalidArgument(obj.ClassName() + ": layer " + std::to_string(i) +
                             " shapes do not chain");
    a = ctx.b.MatMulAdd(a, w, &b);
    width = w.dim(1);
    const std::string act = i + 1 == coefs.size() ? out : hidden;
    if (act == "relu")
      a = ctx.b.Op("Relu", {a});
    else if (act == "tanh")
      a = ctx.b.Op("Tanh", {a});
    else if (act == "logistic")
      a = ctx.b.Op("Sigmoid", {a});
    else if (act == "softmax")
      a = ctx.b.Op("Softmax", {a}, {{"axis", AttrInt(1)}});
    else if (act != "identity")
      return NotSupported(obj.ClassName() + " activation '" + act + "'");
  }
  *out_width = width;
  return a;
}

}  // namespace

Result<Prediction> ConvertMLPClassifier(Ctx& ctx, const Obj& obj, const Features& in) {
  int64_t width = 0;
  TIFFIN_ASSIGN_OR_RETURN(std::string y, MlpForward(ctx, obj, in, &width));
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  const int64_t k = p.classes.size();
  if (k == 2 && width == 1) {
    p.probabilities = ctx.b.Concat({ctx.b.Op("Sub", {ctx.b.ScalarDouble(1), y}), y});
    // LabelBinarizer.inverse_transform: p > 0.5 picks classes_[1].
    p.label = BinaryLabel(ctx, ctx.b.Op("Greater", {ctx.b.Squeeze1(y), ctx.b.ScalarDouble(0.5)}),
                          p.classes);
    return p;
  }
  if (width != k || obj.StrOr("out_activation_", "") != "softmax")
    return NotSupported("MLPClassifier with multilabel output");
  p.probabilities = y;
  p.label = LabelFromScores(ctx, y, p.classes);
  return p;
}

Result<Prediction> ConvertMLPRegressor(Ctx& ctx, const Obj& obj, const Features& in) {
  int64_t width = 0;
  TIFFIN_ASSIGN_OR_RETURN(std::string y, MlpForward(ctx, obj, in, &width));
  Prediction p;
  p.n_targets = width;
  p.variable_2d = width > 1;
  p.variable = width > 1 ? y : ctx.b.Squeeze1(y);
  return p;
}

namespace {

struct Neighbors {
  std::string dist;  // [N, k] ascending
  std::string idx;   // [N, k] int64 into _fit_X
  int64_t k = 0;
};

Result<Neighbors> FindNeighbors(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, obj.ClassName()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor fit, Matrix(obj, "_fit_X"));
  const int64_t m = fit.dim(0), f = fit.dim(1);
  TIFFIN_ASSIGN_OR_RETURN(int64_t k, obj.Int("n_neighbors"));
  if (k < 1 || k > m) return InvalidArgument(obj.ClassName() + ".n_neighbors out of range");
  std::string metric = obj.StrOr("effective_metric_", obj.StrOr("metric", "minkowski"));
  double p = obj.DoubleOr("p", 2);
  const PickleValue* params = obj.Find("effective_metric_params_");
  if (params && params->is_dict()) {
    if (const PickleValue* pv = params->Find("p")) {
      TIFFIN_ASSIGN_OR_RETURN(p, ToDouble(*pv, "metric p"));
    }
  }
  if (metric == "minkowski" && p == 2) metric = "euclidean";
  if (metric == "minkowski" && p == 1) metric = "manhattan";
  std::string d;
  if (metric == "euclidean") {
    // ||x||^2 - 2 x.y + ||y||^2, clipped at 0, then sqrt (as scikit-learn's
    // GEMM-based euclidean reduction does).
    std::vector<double> yy(static_cast<size_t>(m), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < f; ++j)
        yy[static_cast<size_t>(i)] += fit.data<double>()[i * f + j] * fit.data<double>()[i * f + j];
    std::string xx =
        ctx.b.Op("ReduceSum", {ctx.b.Op("Mul", {x, x}), ctx.b.ConstInts({1}, {1}, "axes")},
                 {{"keepdims", AttrInt(1)}});
    std::string xy = ctx.b.MatMulAdd(x, Transposed(fit), nullptr);
    std::string sq =
        ctx.b.Op("Add", {ctx.b.Op("Sub", {xx, ctx.b.Op("Mul", {ctx.b.ScalarDouble(2), xy})}),
                         ctx.b.ConstDoubles(yy, {1, m}, "yy")});
    d = ctx.b.Op("Sqrt", {ctx.b.Op("Max", {sq, ctx.b.ScalarDouble(0)})});
  } else if (metric == "manhattan" || metric == "cityblock" || metric == "l1") {
    std::string diff =
        ctx.b.Op("Sub", {ctx.b.Unsqueeze1(x), ctx.b.Const(fit.Reshaped({1, m, f}), "fit_X")});
    d = ctx.b.Op("ReduceSum", {ctx.b.Op("Abs", {diff}), ctx.b.ConstInts({2}, {1}, "axes")},
                 {{"keepdims", AttrInt(0)}});
  } else {
    return NotSupported(obj.ClassName() + " with metric '" + metric +
                        "' (euclidean and manhattan are supported)");
  }
  auto top = ctx.b.Node("TopK", {d, ctx.b.ConstInts({k}, {1}, "k")},
                        {{"axis", AttrInt(1)}, {"largest", AttrInt(0)}, {"sorted", AttrInt(1)}}, 2);
  return Neighbors{top[0], top[1], k};
}

// Per-neighbour weights [N, k]: ones, or 1/d where rows with a zero
// distance keep only their exact matches (scikit-learn's _get_weights).
Result<std::string> NeighborWeights(Ctx& ctx, const Obj& obj, const Neighbors& nb) {
  const PickleValue* w = obj.Find("weights");
  const std::string kind = w && w->is_str() ? w->str_value : "uniform";
  if (kind == "uniform") return std::string();
  if (kind != "distance") return NotSupported(obj.ClassName() + " with callable weights");
  std::string zero = ctx.b.Op("Equal", {nb.dist, ctx.b.ScalarDouble(0)});
  std::string any_zero =
      ctx.b.Op("Greater", {ctx.b.Op("ReduceMax", {ctx.b.Cast(zero, DType::kFloat64)},
                                    {{"axes", AttrInts({1})}, {"keepdims", AttrInt(1)}}),
                           ctx.b.ScalarDouble(0)});
  std::string inv = ctx.b.Op("Div", {ctx.b.ScalarDouble(1), nb.dist});
  return ctx.b.Op("Where", {any_zero, ctx.b.Cast(zero, DType::kFloat64), inv});
}

}  // namespace

Result<Prediction> ConvertKNeighborsClassifier(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(Neighbors nb, FindNeighbors(ctx, obj, in));
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  const int64_t k = p.classes.size();
  TIFFIN_ASSIGN_OR_RETURN(Tensor y, obj.Ints("_y"));
  if (y.rank() != 1) return NotSupported("KNeighborsClassifier with several outputs");
  for (int64_t i = 0; i < y.size(); ++i)
    if (y.data<int64_t>()[i] < 0 || y.data<int64_t>()[i] >= k)
      return InvalidArgument("KNeighborsClassifier._y out of range");
  std::string yc =
      ctx.b.Op("Gather", {ctx.b.Const(y, "y"), nb.idx}, {{"axis", AttrInt(0)}});  // [N, k]
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < k; ++i) ids.push_back(i);
  // one-hot [N, k_nb, K]
  std::string onehot =
      ctx.b.Cast(ctx.b.Op("Equal", {ctx.b.Op("Unsqueeze", {yc, ctx.b.ConstInts({2}, {1}, "axes")}),
                                    ctx.b.ConstInts(ids, {1, 1, k}, "ids")}),
                 DType::kFloat64);
  TIFFIN_ASSIGN_OR_RETURN(std::string w, NeighborWeights(ctx, obj, nb));
  if (!w.empty())
    onehot =
        ctx.b.Op("Mul", {onehot, ctx.b.Op("Unsqueeze", {w, ctx.b.ConstInts({2}, {1}, "axes")})});
  std::string votes = ctx.b.Op("ReduceSum", {onehot, ctx.b.ConstInts({1}, {1}, "axes")},
                               {{"keepdims", AttrInt(0)}});
  std::string norm =
      ctx.b.Op("ReduceSum", {votes, ctx.b.ConstInts({1}, {1}, "axes")}, {{"keepdims", AttrInt(1)}});
  p.probabilities = ctx.b.Op("Div", {votes, norm});
  p.label = LabelFromScores(ctx, votes, p.classes);
  return p;
}

Result<Prediction> ConvertKNeighborsRegressor(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(Neighbors nb, FindNeighbors(ctx, obj, in));
  TIFFIN_ASSIGN_OR_RETURN(Tensor y, obj.Doubles("_y"));
  const bool multi = y.rank() == 2;
  const int64_t t = multi ? y.dim(1) : 1;
  std::string yv =
      ctx.b.Op("Gather", {ctx.b.Const(multi ? y : y.Reshaped({y.size(), 1}), "y"), nb.idx},
               {{"axis", AttrInt(0)}});  // [N, k, T]
  TIFFIN_ASSIGN_OR_RETURN(std::string w, NeighborWeights(ctx, obj, nb));
  std::string out;
  if (w.empty()) {
    out = ctx.b.Op("ReduceMean", {yv}, {{"axes", AttrInts({1})}, {"keepdims", AttrInt(0)}});
  } else {
    std::string w3 = ctx.b.Op("Unsqueeze", {w, ctx.b.ConstInts({2}, {1}, "axes")});
    std::string num =
        ctx.b.Op("ReduceSum", {ctx.b.Op("Mul", {yv, w3}), ctx.b.ConstInts({1}, {1}, "axes")},
                 {{"keepdims", AttrInt(0)}});
    std::string den =
        ctx.b.Op("ReduceSum", {w, ctx.b.ConstInts({1}, {1}, "axes")}, {{"keepdims", AttrInt(1)}});
    out = ctx.b.Op("Div", {num, den});
  }
  Prediction p;
  p.n_targets = t;
  p.variable_2d = multi;
  p.variable = multi ? out : ctx.b.Squeeze1(out);
  return p;
}

namespace {

struct SvmKernel {
  std::string k;  // [N, n_sv]
};

Result<std::string> SvmKernelMatrix(Ctx& ctx, const Obj& obj, const std::string& x,
                                    const Tensor& sv) {
  const std::string kernel = obj.StrOr("kernel", "rbf");
  const double gamma = obj.DoubleOr("_gamma", obj.DoubleOr("gamma", 0));
  const double coef0 = obj.DoubleOr("coef0", 0);
  const double degree = obj.DoubleOr("degree", 3);
  std::string dot = ctx.b.MatMulAdd(x, Transposed(sv), nullptr);
  if (kernel == "linear") return dot;
  // gamma as a [1, n_sv] row rather than a scalar: ONNX Runtime's extended
  // optimizations fold a scalar Mul after MatMul into the MatMul's float32
  // alpha, which rounds a float64 gamma (seen: 1e-7 relative error).
  const int64_t n_sv = sv.dim(0);
  auto gamma_row = [&] {
    return ctx.b.ConstDoubles(std::vector<double>(static_cast<size_t>(n_sv), gamma), {1, n_sv},
                              "gamma");
  };
  if (kernel == "poly") {
    std::string base =
        ctx.b.Op("Add", {ctx.b.Op("Mul", {gamma_row(), dot}), ctx.b.ScalarDouble(coef0)});
    if (degree >= 1 && degree <= 64 && degree == std::floor(degree)) {
      // libsvm's powi (square-and-multiply), step for step: same rounding,
      // and no dependence on how a runtime implements Pow.
      std::string ret, tmp = base;
      for (int t = static_cast<int>(degree); t > 0; t /= 2) {
        if (t % 2 == 1) ret = ret.empty() ? tmp : ctx.b.Op("Mul", {ret, tmp});
        if (t / 2 > 0) tmp = ctx.b.Op("Mul", {tmp, tmp});
      }
      return ret;
    }
    return ctx.b.Op("Pow", {base, ctx.b.ScalarDouble(degree)});
  }
  if (kernel == "sigmoid") {
    return ctx.b.Op(
        "Tanh",
        {ctx.b.Op("Add", {ctx.b.Op("Mul", {gamma_row(), dot}), ctx.b.ScalarDouble(coef0)})});
  }
  if (kernel == "rbf") {
    const int64_t m = sv.dim(0), f = sv.dim(1);
    std::vector<double> yy(static_cast<size_t>(m), 0.0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < f; ++j)
        yy[static_cast<size_t>(i)] += sv.data<double>()[i * f + j] * sv.data<double>()[i * f + j];
    std::string xx =
        ctx.b.Op("ReduceSum", {ctx.b.Op("Mul", {x, x}), ctx.b.ConstInts({1}, {1}, "axes")},
                 {{"keepdims", AttrInt(1)}});
    std::string sq =
        ctx.b.Op("Add", {ctx.b.Op("Sub", {xx, ctx.b.Op("Mul", {ctx.b.ScalarDouble(2), dot})}),
                         ctx.b.ConstDoubles(yy, {1, m}, "yy")});
    sq = ctx.b.Op("Max", {sq, ctx.b.ScalarDouble(0)});
    return ctx.b.Op("Exp", {ctx.b.Op("Mul", {ctx.b.ScalarDouble(-gamma), sq})});
  }
  return NotSupported(obj.ClassName() + " with kernel '" + kernel +
                      "' (precomputed or callable kernels need the training data)");
}

}  // namespace

namespace {

// libsvm's svm_predict_probability: pairwise Platt probabilities r_ij, then
// multiclass_probability, the iterative coupling of Wu, Lin and Weng (2004),
// which scikit-learn's libsvm runs even for two classes. The iteration stops
// per sample once max_t |(Qp)_t - p'Qp| < 0.005/k (or after max(100, k)
// rounds), so the result is an approximation that only the same iteration
// reproduces. It is emitted as an ONNX Loop over rounds; every row runs the
// same arithmetic as libsvm, in its order, and stops updating once its own
// stopping rule fires.
Result<std::string> LibsvmProbabilities(Ctx& ctx, const std::string& dec, const Tensor& a,
                                        const Tensor& b, int64_t k) {
  if (k > 64) return NotSupported("SVC predict_proba with more than 64 classes");
  const int64_t pairs = k * (k - 1) / 2;
  GraphBuilder& g = ctx.b;
  // sigmoid_predict: fApB = dec*A + B; stable in both signs; clipped.
  std::string fapb = g.Op(
      "Add", {g.Op("Mul", {dec, g.ConstDoubles(
                                    std::vector<double>(a.data<double>(), a.data<double>() + pairs),
                                    {1, pairs}, "probA")}),
              g.ConstDoubles(std::vector<double>(b.data<double>(), b.data<double>() + pairs),
                             {1, pairs}, "probB")});
  std::string e = g.Op("Exp", {g.Op("Neg", {fapb})});
  std::string pos = g.Op("Div", {e, g.Op("Add", {g.ScalarDouble(1), e})});
  std::string neg =
      g.Op("Div", {g.ScalarDouble(1), g.Op("Add", {g.ScalarDouble(1), g.Op("Exp", {fapb})})});
  std::string r = g.Op("Where", {g.Op("GreaterOrEqual", {fapb, g.ScalarDouble(0)}), pos, neg});
  r = g.Op("Min", {g.Op("Max", {r, g.ScalarDouble(1e-7)}), g.ScalarDouble(1 - 1e-7)});
  // R[i][j] = r_ij, R[j][i] = 1 - r_ij, R[i][i] = 0, as [N, k*k] then [N, k, k].
  Tensor sel_ij(DType::kFloat64, {pairs, k * k}), sel_ji(DType::kFloat64, {pairs, k * k});
  int64_t pidx = 0;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j, ++pidx) {
      sel_ij.data<double>()[pidx * k * k + i * k + j] = 1;
      sel_ji.data<double>()[pidx * k * k + j * k + i] = 1;
    }
  std::string rr = g.Op(
      "Add", {g.Op("MatMul", {r, g.Const(sel_ij, "sel_ij")}),
              g.Op("MatMul", {g.Op("Sub", {g.ScalarDouble(1), r}), g.Const(sel_ji, "sel_ji")})});
  std::string shape3 = g.ConstInts({-1, k, k}, {3}, "shape");
  std::string R = g.Op("Reshape", {rr, shape3});
  // Q[t][t] = sum_j r_jt^2; Q[t][j] = -r_jt * r_tj.
  std::string qdiag = g.Op("ReduceSum", {g.Op("Mul", {R, R}), g.ConstInts({1}, {1}, "axes")},
                           {{"keepdims", AttrInt(0)}});
  std::string rt = g.Op("Transpose", {R}, {{"perm", AttrInts({0, 2, 1})}});
  std::string off = g.Op("Neg", {g.Op("Mul", {rt, R})});
  Tensor eye(DType::kBool, {1, k, k});
  for (int64_t i = 0; i < k; ++i) eye.data<bool>()[i * k + i] = true;
  std::string Q = g.Op("Where", {g.Const(eye, "eye"),
                                 g.Op("Unsqueeze", {qdiag, g.ConstInts({1}, {1}, "axes")}), off});
  // Q's diagonal broadcast along rows equals Q[t][t] at column t: keep qdiag.

  // Loop state: p [N, k] = 1/k, done [N, 1] = false.
  std::string n1 = g.Op("Shape", {dec}, {{"end", AttrInt(1)}});
  std::string p0 =
      g.Op("ConstantOfShape", {g.Concat({n1, g.ConstInts({k}, {1}, "k")}, 0)},
           {{"value", AttrTensor(Tensor::FromVector<double>({1.0 / static_cast<double>(k)}))}});
  Tensor false1(DType::kBool, {1});
  std::string done0 = g.Op("ConstantOfShape", {g.Concat({n1, g.ConstInts({1}, {1}, "one")}, 0)},
                           {{"value", AttrTensor(false1)}});

  GraphBuilder body(&g);
  std::string iter = body.AddInput(body.Unique("iter"), DType::kInt64, {});
  std::string cond_in = body.AddInput(body.Unique("cond"), DType::kBool, {});
  (void)iter;
  (void)cond_in;
  std::string p = body.AddInput(body.Unique("p"), DType::kFloat64, {Dim{-1, "N"}, Dim{k, ""}});
  std::string done = body.AddInput(body.Unique("done"), DType::kBool, {Dim{-1, "N"}, Dim{1, ""}});
  std::string qp =
      body.Op("Squeeze",
              {body.Op("MatMul", {Q, body.Op("Unsqueeze", {p, body.ConstInts({2}, {1}, "axes")})}),
               body.ConstInts({2}, {1}, "axes")});
  std::string pqp =
      body.Op("ReduceSum", {body.Op("Mul", {p, qp}), body.ConstInts({1}, {1}, "axes")},
              {{"keepdims", AttrInt(1)}});
  std::string err = body.Op("ReduceMax", {body.Op("Abs", {body.Op("Sub", {qp, pqp})})},
                            {{"axes", AttrInts({1})}, {"keepdims", AttrInt(1)}});
  std::string now_done = body.Op(
      "Or", {done, body.Op("Less", {err, body.ScalarDouble(0.005 / static_cast<double>(k))})});
  std::string cp = p, cqp = qp, cpqp = pqp;
  for (int64_t t = 0; t < k; ++t) {
    std::string qpt = body.Columns(cqp, {t});
    std::string qtt = body.Columns(qdiag, {t});
    std::string diff = body.Op("Div", {body.Op("Sub", {cpqp, qpt}), qtt});
    Tensor onehot(DType::kBool, {1, k});
    onehot.data<bool>()[t] = true;
    cp = body.Op("Where", {body.Const(onehot, "onehot"), body.Op("Add", {cp, diff}), cp});
    std::string one_d = body.Op("Add", {body.ScalarDouble(1), diff});
    std::string inner =
        body.Op("Add", {body.Op("Mul", {diff, qtt}), body.Op("Mul", {body.ScalarDouble(2), qpt})});
    cpqp = body.Op(
        "Div",
        {body.Op("Div", {body.Op("Add", {cpqp, body.Op("Mul", {diff, inner})}), one_d}), one_d});
    std::string qrow =
        body.Op("Gather", {Q, body.Const(Tensor::Scalar<int64_t>(t), "t")}, {{"axis", AttrInt(1)}});
    cqp = body.Op("Div", {body.Op("Add", {cqp, body.Op("Mul", {diff, qrow})}), one_d});
    cp = body.Op("Div", {cp, one_d});
  }
  std::string p_out = body.Op("Where", {now_done, p, cp});
  std::string all_done =
      body.Op("ReduceMin", {body.Cast(now_done, DType::kInt32)}, {{"keepdims", AttrInt(0)}});
  std::string cond_out = body.Op("Not", {body.Cast(all_done, DType::kBool)});
  std::string done_out = body.Op("Identity", {now_done});
  auto body_graph = body.FinishSubgraph({cond_out, p_out, done_out});
  const int64_t max_iter = std::max<int64_t>(100, k);
  auto outs = g.Node("Loop",
                     {g.Const(Tensor::Scalar<int64_t>(max_iter), "max_iter"),
                      g.Const(Tensor::Scalar(true), "cond"), p0, done0},
                     {}, 2);
  g.SetGraphAttribute(outs[0], "body", body_graph);
  return outs[0];
}

}  // namespace

Result<Prediction> ConvertSVC(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, obj.ClassName()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor sv, Matrix(obj, "support_vectors_"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor dual, Matrix(obj, "_dual_coef_"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor icpt, obj.Doubles("_intercept_"));
  TIFFIN_ASSIGN_OR_RETURN(
      Tensor nsup, obj.HasValue("_n_support") ? obj.Ints("_n_support") : obj.Ints("n_support_"));
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  const int64_t k = p.classes.size(), n_sv = sv.dim(0);
  const int64_t pairs = k * (k - 1) / 2;
  if (nsup.size() != k || dual.dim(0) != k - 1 || dual.dim(1) != n_sv || icpt.size() != pairs)
    return InvalidArgument(obj.ClassName() +
                           ": support vector counts, dual_coef_ and intercept_ do not agree");
  std::vector<int64_t> start(static_cast<size_t>(k) + 1, 0);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t c = nsup.data<int64_t>()[i];
    if (c < 0) return InvalidArgument(obj.ClassName() + ": negative support count");
    start[static_cast<size_t>(i) + 1] = start[static_cast<size_t>(i)] + c;
  }
  if (start.back() != n_sv)
    return InvalidArgument(obj.ClassName() + ": support counts do not sum to the vectors");
  TIFFIN_ASSIGN_OR_RETURN(std::string kmat, SvmKernelMatrix(ctx, obj, x, sv));
  // libsvm's one-vs-one decisions: pair (i, j) uses dual_coef_[j-1] over
  // class i's vectors and dual_coef_[i] over class j's, minus rho
  // (intercept_ = -rho).
  Tensor w(DType::kFloat64, {n_sv, pairs});
  int64_t pidx = 0;
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = i + 1; j < k; ++j, ++pidx) {
      for (int64_t s = start[static_cast<size_t>(i)]; s < start[static_cast<size_t>(i) + 1]; ++s)
        w.data<double>()[s * pairs + pidx] = dual.data<double>()[(j - 1) * n_sv + s];
      for (int64_t s = start[static_cast<size_t>(j)]; s < start[static_cast<size_t>(j) + 1]; ++s)
        w.data<double>()[s * pairs + pidx] = dual.data<double>()[i * n_sv + s];
    }
  }
  std::string dec = ctx.b.MatMulAdd(kmat, w, &icpt);  // [N, pairs], libsvm's sign
  // Votes: pair (i, j) votes i when dec > 0, else j.
  Tensor vi(DType::kFloat64, {pairs, k}), vj(DType::kFloat64, {pairs, k});
  pidx = 0;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j, ++pidx) {
      vi.data<double>()[pidx * k + i] = 1;
      vj.data<double>()[pidx * k + j] = 1;
    }
  std::string pos = ctx.b.Cast(ctx.b.Op("Greater", {dec, ctx.b.ScalarDouble(0)}), DType::kFloat64);
  std::string neg = ctx.b.Op("Sub", {ctx.b.ScalarDouble(1), pos});
  std::string votes = ctx.b.Op("Add", {ctx.b.Op("MatMul", {pos, ctx.b.Const(vi, "vote_i")}),
                                       ctx.b.Op("MatMul", {neg, ctx.b.Const(vj, "vote_j")})});
  const std::string shape = obj.StrOr("decision_function_shape", "ovr");
  if (k == 2) {
    p.decision = ctx.b.Squeeze1(ctx.b.Op("Neg", {dec}));
  } else if (shape == "ovr") {
    // _ovr_decision_function(dec < 0, -dec, K)
    Tensor conf(DType::kFloat64, {pairs, k});
    pidx = 0;
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = i + 1; j < k; ++j, ++pidx) {
        conf.data<double>()[pidx * k + i] = 1;   // -= -dec
        conf.data<double>()[pidx * k + j] = -1;  // += -dec
      }
    std::string sum_conf = ctx.b.Op("MatMul", {dec, ctx.b.Const(conf, "conf")});
    if (obj.WrittenBefore(0, 20)) {
      // Before 0.20 (scikit-learn PR #10440) the confidences were scaled by
      // the largest absolute value in the whole batch, so a row's decision
      // depended on the other rows; votes alone when all were equal.
      std::string mx = ctx.b.Op("ReduceMax", {sum_conf}, {{"keepdims", AttrInt(0)}});
      std::string mn = ctx.b.Op("ReduceMin", {sum_conf}, {{"keepdims", AttrInt(0)}});
      std::string max_abs = ctx.b.Op("Max", {ctx.b.Op("Abs", {mx}), ctx.b.Op("Abs", {mn})});
      std::string scale = ctx.b.Op(
          "Div", {ctx.b.ScalarDouble(0.5 - std::numeric_limits<double>::epsilon()), max_abs});
      std::string scaled = ctx.b.Op("Add", {votes, ctx.b.Op("Mul", {sum_conf, scale})});
      p.decision = ctx.b.Op("Where", {ctx.b.Op("Equal", {mx, mn}), votes, scaled});
      if (ctx.notes) {
        ctx.notes->push_back(obj.ClassName() +
                             " written by scikit-learn before 0.20: its ovr "
                             "decision_function scales by the batch's largest confidence, as that "
                             "version did, so a row's value depends on the rows sent with it");
      }
    } else {
      std::string t =
          ctx.b.Op("Div", {sum_conf, ctx.b.Op("Mul", {ctx.b.ScalarDouble(3),
                                                      ctx.b.Op("Add", {ctx.b.Op("Abs", {sum_conf}),
                                                                       ctx.b.ScalarDouble(1)})})});
      p.decision = ctx.b.Op("Add", {votes, t});
    }
    p.decision_width = k;
  } else {
    p.decision = dec;
    p.decision_width = pairs;
  }
  if (obj.BoolOr("break_ties", false) && shape == "ovr" && k > 2) {
    p.label = LabelFromScores(ctx, p.decision, p.classes);
  } else {
    p.label = LabelFromScores(ctx, votes, p.classes);
  }
  if (obj.BoolOr("probability", false)) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor a, obj.Doubles(obj.Has("_probA") ? "_probA" : "probA_"));
    TIFFIN_ASSIGN_OR_RETURN(Tensor b, obj.Doubles(obj.Has("_probB") ? "_probB" : "probB_"));
    if (a.size() != pairs || b.size() != pairs)
      return InvalidArgument(obj.ClassName() + ": probA_/probB_ do not match the class pairs");
    TIFFIN_ASSIGN_OR_RETURN(p.probabilities, LibsvmProbabilities(ctx, dec, a, b, k));
  }
  return p;
}

Result<Prediction> ConvertSVR(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_RETURN_IF_ERROR(CheckWidth(obj, in));
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, obj.ClassName()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor sv, Matrix(obj, "support_vectors_"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor dual, Matrix(obj, "_dual_coef_"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor icpt, obj.Doubles("_intercept_"));
  if (dual.dim(0) != 1 || dual.dim(1) != sv.dim(0) || icpt.size() != 1)
    return InvalidArgument(obj.ClassName() + ": dual_coef_ and support_vectors_ do not agree");
  TIFFIN_ASSIGN_OR_RETURN(std::string kmat, SvmKernelMatrix(ctx, obj, x, sv));
  std::string dec = ctx.b.Squeeze1(ctx.b.MatMulAdd(kmat, Transposed(dual), &icpt));
  Prediction p;
  if (obj.ClassName() == "OneClassSVM") {
    p.decision = dec;
    p.score_samples = ctx.b.Op("Add", {dec, ctx.b.ScalarDouble(obj.DoubleOr("offset_", 0))});
    p.classes.values = Tensor::FromVector<int64_t>({-1, 1});
    p.label = BinaryLabel(ctx, ctx.b.Op("Greater", {dec, ctx.b.ScalarDouble(0)}), p.classes);
    return p;
  }
  p.variable = dec;
  p.n_targets = 1;
  return p;
}

Result<Prediction> ConvertDummyClassifier(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "DummyClassifier"));
  const std::string strategy = obj.StrOr("strategy", "prior");
  Prediction p;
  TIFFIN_ASSIGN_OR_RETURN(p.classes, Classes(obj));
  TIFFIN_ASSIGN_OR_RETURN(Tensor prior, obj.Doubles("class_prior_"));
  const int64_t k = prior.size();
  Tensor row(DType::kFloat64, {1, k});
  int64_t best = 0;
  for (int64_t i = 1; i < k; ++i)
    if (prior.data<double>()[i] > prior.data<double>()[best]) best = i;
  if (strategy == "prior") {
    for (int64_t i = 0; i < k; ++i) row.data<double>()[i] = prior.data<double>()[i];
  } else if (strategy == "most_frequent") {
    row.data<double>()[best] = 1;
  } else {
    return NotSupported("DummyClassifier(strategy='" + strategy + "')");
  }
  // [N, 1] zeros + row broadcasts the constant to every input row.
  std::string zeros = ctx.b.Op("Mul", {ctx.b.Columns(x, {0}), ctx.b.ScalarDouble(0)});
  p.probabilities = ctx.b.Op("Add", {zeros, ctx.b.Const(row, "prior")});
  p.label = LabelFromScores(ctx, p.probabilities, p.classes);
  return p;
}

Result<Prediction> ConvertDummyRegressor(Ctx& ctx, const Obj& obj, const Features& in) {
  TIFFIN_ASSIGN_OR_RETURN(std::string x, Dense(ctx, in, "DummyRegressor"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor c, obj.Doubles("constant_"));
  const int64_t t = c.size();
  std::string zeros = ctx.b.Op("Mul", {ctx.b.Columns(x, {0}), ctx.b.ScalarDouble(0)});
  std::string y = ctx.b.Op("Add", {zeros, ctx.b.Const(c.Reshaped({1, t}), "constant")});
  Prediction p;
  p.n_targets = t;
  p.variable_2d = t > 1;
  p.variable = t > 1 ? y : ctx.b.Squeeze1(y);
  return p;
}

}  // namespace tiffin::sklearn
