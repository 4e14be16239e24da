// ai.onnx.ml kernels: Scaler, Normalizer, Binarizer, Imputer,
// LinearRegressor, LinearClassifier, ArrayFeatureExtractor,
// TreeEnsembleRegressor, TreeEnsembleClassifier, and a ZipMap row
// that refuses (ZipMap outputs a sequence of maps; tiffin values are tensors).
// Numeric inputs (float, double, int32, int64) are read as float, as ONNX
// Runtime does; the parameters are float attributes anyway.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

Status Bad(const ir::Node& node, const std::string& what) {
  return InvalidArgument(node.Describe() + ": " + what);
}

// X viewed as rows of its last dimension, converted to float.
struct FloatRows {
  std::vector<float> v;
  int64_t n = 1;  // rows
  int64_t c = 1;  // last dim
};

Result<FloatRows> ReadRows(const ir::Node& node, const Tensor& x) {
  FloatRows r;
  const int64_t size = x.size();
  r.c = x.shape().empty() ? 1 : x.shape().back();
  r.n = r.c == 0 ? 0 : size / r.c;
  r.v.resize(static_cast<size_t>(size));
  auto conv = [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = x.data<T>();
    for (int64_t i = 0; i < size; ++i) r.v[static_cast<size_t>(i)] = static_cast<float>(p[i]);
    return Status::Ok();
  };
  switch (x.dtype()) {
    case DType::kFloat32:
      TIFFIN_RETURN_IF_ERROR(conv(float{}));
      break;
    case DType::kFloat64:
      TIFFIN_RETURN_IF_ERROR(conv(double{}));
      break;
    case DType::kInt32:
      TIFFIN_RETURN_IF_ERROR(conv(int32_t{}));
      break;
    case DType::kInt64:
      TIFFIN_RETURN_IF_ERROR(conv(int64_t{}));
      break;
    default:
      return BadDType(node, "X", x.dtype());
  }
  return r;
}

// Per-column parameter of length 1 (broadcast) or C.
Status CheckPerColumn(const ir::Node& node, size_t len, int64_t c, const char* what) {
  if (len == 1 || static_cast<int64_t>(len) == c) return Status::Ok();
  return Bad(node, std::string(what) + " has " + std::to_string(len) +
                       " values; it needs 1 or one per input column (" + std::to_string(c) + ")");
}

// ---- post transforms ----
enum class Post { kNone, kLogistic, kSoftmax, kSoftmaxZero };

Result<Post> ParsePost(const ir::Node& node) {
  TIFFIN_ASSIGN_OR_RETURN(std::string p, node.GetString("post_transform", "NONE"));
  if (p == "NONE") return Post::kNone;
  if (p == "LOGISTIC") return Post::kLogistic;
  if (p == "SOFTMAX") return Post::kSoftmax;
  if (p == "SOFTMAX_ZERO") return Post::kSoftmaxZero;
  return Status(NotSupported(node.Describe() + ": post_transform '" + p +
                             "' is not supported (NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO are)"));
}

float Logistic(float s) {
  const float v = 1.0f / (1.0f + std::exp(-std::fabs(s)));
  return s >= 0 ? v : 1.0f - v;
}

void ApplyPost(Post p, float* row, int64_t k) {
  switch (p) {
    case Post::kNone:
      return;
    case Post::kLogistic:
      for (int64_t j = 0; j < k; ++j) row[j] = Logistic(row[j]);
      return;
    case Post::kSoftmax:
    case Post::kSoftmaxZero: {
      if (k == 0) return;
      float m = row[0];
      for (int64_t j = 1; j < k; ++j) m = std::max(m, row[j]);
      float sum = 0;
      for (int64_t j = 0; j < k; ++j) {
        const bool zero = p == Post::kSoftmaxZero && row[j] == 0.0f;
        row[j] = zero ? 0.0f : std::exp(row[j] - m);
        sum += row[j];
      }
      if (sum > 0)
        for (int64_t j = 0; j < k; ++j) row[j] /= sum;
      return;
    }
  }
}

// ---- Scaler ----
struct ScalerAttrs {
  std::vector<float> offset, scale;
  static Result<ScalerAttrs> Parse(const KernelInit& init) {
    ScalerAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.offset, init.node.GetFloats("offset", {0.0f}));
    TIFFIN_ASSIGN_OR_RETURN(a.scale, init.node.GetFloats("scale", {1.0f}));
    if (a.offset.empty()) a.offset = {0.0f};
    if (a.scale.empty()) a.scale = {1.0f};
    return a;
  }
};

Status ScalerCompute(KernelContext& ctx, const ScalerAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, ReadRows(node, *x));
  TIFFIN_RETURN_IF_ERROR(CheckPerColumn(node, a.offset.size(), r.c, "offset"));
  TIFFIN_RETURN_IF_ERROR(CheckPerColumn(node, a.scale.size(), r.c, "scale"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kFloat32, x->shape()));
  float* o = out->data<float>();
  const bool bo = a.offset.size() == 1, bs = a.scale.size() == 1;
  for (int64_t i = 0; i < r.n; ++i)
    for (int64_t j = 0; j < r.c; ++j) {
      const size_t k = static_cast<size_t>(i * r.c + j);
      o[k] = (r.v[k] - a.offset[bo ? 0 : static_cast<size_t>(j)]) *
             a.scale[bs ? 0 : static_cast<size_t>(j)];
    }
  return Status::Ok();
}

// ---- Normalizer ----
enum class Norm { kMax, kL1, kL2 };
struct NormalizerAttrs {
  Norm norm = Norm::kMax;
  static Result<NormalizerAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(std::string s, init.node.GetString("norm", "MAX"));
    NormalizerAttrs a;
    if (s == "MAX")
      a.norm = Norm::kMax;
    else if (s == "L1")
      a.norm = Norm::kL1;
    else if (s == "L2")
      a.norm = Norm::kL2;
    else
      return Status(Bad(init.node, "norm must be MAX, L1 or L2, got '" + s + "'"));
    return a;
  }
};

Status NormalizerCompute(KernelContext& ctx, const NormalizerAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->shape().size() != 1 && x->shape().size() != 2) return Bad(node, "X must be [C] or [N, C]");
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, ReadRows(node, *x));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kFloat32, x->shape()));
  float* o = out->data<float>();
  for (int64_t i = 0; i < r.n; ++i) {
    const float* row = r.v.data() + i * r.c;
    float* orow = o + i * r.c;
    float d = 0;
    if (a.norm == Norm::kMax) {
      d = r.c > 0 ? row[0] : 0.0f;
      for (int64_t j = 1; j < r.c; ++j) d = std::max(d, row[j]);
    } else if (a.norm == Norm::kL1) {
      for (int64_t j = 0; j < r.c; ++j) d += std::fabs(row[j]);
    } else {
      for (int64_t j = 0; j < r.c; ++j) d += row[j] * row[j];
      d = std::sqrt(d);
    }
    for (int64_t j = 0; j < r.c; ++j) orow[j] = d == 0.0f ? row[j] : row[j] / d;
  }
  return Status::Ok();
}

// ---- Binarizer ----
struct BinarizerAttrs {
  float threshold = 0;
  static Result<BinarizerAttrs> Parse(const KernelInit& init) {
    BinarizerAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.threshold, init.node.GetFloat("threshold", 0.0f));
    return a;
  }
};

Status BinarizerCompute(KernelContext& ctx, const BinarizerAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), x->shape()));
  return DispatchNumeric(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = x->data<T>();
    T* o = out->data<T>();
    const double t = a.threshold;
    for (int64_t i = 0; i < x->size(); ++i) o[i] = static_cast<double>(p[i]) > t ? T(1) : T(0);
    return Status::Ok();
  });
}

// ---- Imputer ----
struct ImputerAttrs {
  std::vector<float> fvals;
  float freplace = 0;
  std::vector<int64_t> ivals;
  int64_t ireplace = 0;
  static Result<ImputerAttrs> Parse(const KernelInit& init) {
    ImputerAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.fvals, init.node.GetFloats("imputed_value_floats"));
    TIFFIN_ASSIGN_OR_RETURN(a.freplace, init.node.GetFloat("replaced_value_float", 0.0f));
    TIFFIN_ASSIGN_OR_RETURN(a.ivals, init.node.GetInts("imputed_value_int64s"));
    TIFFIN_ASSIGN_OR_RETURN(a.ireplace, init.node.GetInt("replaced_value_int64", 0));
    if (a.fvals.empty() == a.ivals.empty())
      return Status(Bad(
          init.node, "exactly one of imputed_value_floats and imputed_value_int64s must be set"));
    return a;
  }
};

Status ImputerCompute(KernelContext& ctx, const ImputerAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  const int64_t c = x->shape().empty() ? 1 : x->shape().back();
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), x->shape()));
  const int64_t n = x->size();
  if (x->dtype() == DType::kFloat32 || x->dtype() == DType::kFloat64) {
    if (a.fvals.empty()) return Bad(node, "float input needs imputed_value_floats");
    TIFFIN_RETURN_IF_ERROR(CheckPerColumn(node, a.fvals.size(), c, "imputed_value_floats"));
    const bool nan = std::isnan(a.freplace);
    return DispatchFloat(node, x->dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      const T* p = x->data<T>();
      T* o = out->data<T>();
      for (int64_t i = 0; i < n; ++i) {
        const bool hit = nan ? std::isnan(p[i]) : static_cast<float>(p[i]) == a.freplace;
        const size_t j = a.fvals.size() == 1 ? 0 : static_cast<size_t>(i % c);
        o[i] = hit ? static_cast<T>(a.fvals[j]) : p[i];
      }
      return Status::Ok();
    });
  }
  if (x->dtype() == DType::kInt64 || x->dtype() == DType::kInt32) {
    if (a.ivals.empty()) return Bad(node, "integer input needs imputed_value_int64s");
    TIFFIN_RETURN_IF_ERROR(CheckPerColumn(node, a.ivals.size(), c, "imputed_value_int64s"));
    auto run = [&](auto tag) {
      using T = decltype(tag);
      const T* p = x->data<T>();
      T* o = out->data<T>();
      for (int64_t i = 0; i < n; ++i) {
        const size_t j = a.ivals.size() == 1 ? 0 : static_cast<size_t>(i % c);
        o[i] = static_cast<int64_t>(p[i]) == a.ireplace ? static_cast<T>(a.ivals[j]) : p[i];
      }
    };
    if (x->dtype() == DType::kInt64)
      run(int64_t{});
    else
      run(int32_t{});
    return Status::Ok();
  }
  return BadDType(node, "X", x->dtype());
}

// ---- LinearRegressor ----
struct LinRegAttrs {
  std::vector<float> coef, intercepts;
  int64_t targets = 1;
  static Result<LinRegAttrs> Parse(const KernelInit& init) {
    LinRegAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.coef, init.node.GetFloats("coefficients"));
    TIFFIN_ASSIGN_OR_RETURN(a.intercepts, init.node.GetFloats("intercepts"));
    TIFFIN_ASSIGN_OR_RETURN(a.targets, init.node.GetInt("targets", 1));
    TIFFIN_ASSIGN_OR_RETURN(Post p, ParsePost(init.node));
    if (p != Post::kNone)
      return Status(NotSupported(init.node.Describe() +
                                 ": LinearRegressor supports only post_transform NONE"));
    if (a.targets < 1 || a.targets > (int64_t{1} << 24))
      return Status(Bad(init.node, "targets must be in [1, 2^24]"));
    if (a.coef.empty() || a.coef.size() % static_cast<size_t>(a.targets) != 0)
      return Status(Bad(init.node, "coefficients must be a non-empty multiple of targets"));
    if (!a.intercepts.empty() && a.intercepts.size() != static_cast<size_t>(a.targets))
      return Status(Bad(init.node, "intercepts must have one value per target"));
    return a;
  }
};

Status LinRegCompute(KernelContext& ctx, const LinRegAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->shape().size() > 2) return Bad(node, "X must be [C] or [N, C]");
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, ReadRows(node, *x));
  const int64_t t = a.targets;
  if (static_cast<int64_t>(a.coef.size()) != t * r.c)
    return Bad(node, "coefficients has " + std::to_string(a.coef.size()) + " values; targets x " +
                         "input columns is " + std::to_string(t * r.c));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kFloat32, Shape{r.n, t}));
  float* o = out->data<float>();
  for (int64_t i = 0; i < r.n; ++i)
    for (int64_t k = 0; k < t; ++k) {
      float s = a.intercepts.empty() ? 0.0f : a.intercepts[static_cast<size_t>(k)];
      for (int64_t j = 0; j < r.c; ++j)
        s += a.coef[static_cast<size_t>(k * r.c + j)] * r.v[static_cast<size_t>(i * r.c + j)];
      o[i * t + k] = s;
    }
  return Status::Ok();
}

// ---- LinearClassifier ----
struct LinClsAttrs {
  std::vector<float> coef, intercepts;
  std::vector<int64_t> ilabels;
  std::vector<std::string> slabels;
  bool strings = false;
  int64_t rows = 0;     // score rows in coefficients
  bool binary = false;  // one row, two labels: scores expand to two columns
  Post post = Post::kNone;
  static Result<LinClsAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    LinClsAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.coef, node.GetFloats("coefficients"));
    TIFFIN_ASSIGN_OR_RETURN(a.intercepts, node.GetFloats("intercepts"));
    TIFFIN_ASSIGN_OR_RETURN(a.ilabels, node.GetInts("classlabels_ints"));
    TIFFIN_ASSIGN_OR_RETURN(a.slabels, node.GetStrings("classlabels_strings"));
    TIFFIN_ASSIGN_OR_RETURN(int64_t mc, node.GetInt("multi_class", 0));
    (void)mc;  // OvR and multinomial score the same way; only post_transform differs
    TIFFIN_ASSIGN_OR_RETURN(a.post, ParsePost(node));
    if (a.ilabels.empty() == a.slabels.empty())
      return Status(
          Bad(node, "exactly one of classlabels_ints and classlabels_strings must be set"));
    a.strings = !a.slabels.empty();
    const size_t nl = a.strings ? a.slabels.size() : a.ilabels.size();
    a.rows = static_cast<int64_t>(a.intercepts.empty() ? nl : a.intercepts.size());
    if (a.coef.empty() || a.coef.size() % static_cast<size_t>(a.rows) != 0)
      return Status(
          Bad(node, "coefficients must be a non-empty multiple of the number of classes"));
    a.binary = a.rows == 1 && nl == 2;
    if (!a.binary && static_cast<size_t>(a.rows) != nl)
      return Status(Bad(node, "intercepts (" + std::to_string(a.rows) +
                                  ") must have one value per class label (" + std::to_string(nl) +
                                  ")"));
    return a;
  }
};

Status LinClsCompute(KernelContext& ctx, const LinClsAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->shape().size() > 2) return Bad(node, "X must be [C] or [N, C]");
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, ReadRows(node, *x));
  const int64_t k = a.rows;
  if (static_cast<int64_t>(a.coef.size()) != k * r.c)
    return Bad(node, "coefficients has " + std::to_string(a.coef.size()) + " values; classes x " +
                         "input columns is " + std::to_string(k * r.c));
  const int64_t nz = a.binary ? 2 : k;
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y,
                          ctx.Output(0, a.strings ? DType::kString : DType::kInt64, Shape{r.n}));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * z, ctx.Output(1, DType::kFloat32, Shape{r.n, nz}));
  float* zo = z->data<float>();
  std::vector<float> s(static_cast<size_t>(k));
  for (int64_t i = 0; i < r.n; ++i) {
    for (int64_t c = 0; c < k; ++c) {
      float v = a.intercepts.empty() ? 0.0f : a.intercepts[static_cast<size_t>(c)];
      for (int64_t j = 0; j < r.c; ++j)
        v += a.coef[static_cast<size_t>(c * r.c + j)] * r.v[static_cast<size_t>(i * r.c + j)];
      s[static_cast<size_t>(c)] = v;
    }
    size_t label = 0;
    if (a.binary) {
      label = s[0] > 0 ? 1 : 0;
    } else {
      for (size_t c = 1; c < s.size(); ++c)
        if (s[c] > s[label]) label = c;
    }
    if (a.strings)
      y->data<std::string>()[i] = a.slabels[label];
    else
      y->data<int64_t>()[i] = a.ilabels[label];
    float* zr = zo + i * nz;
    if (a.binary) {
      // ONNX Runtime's binary expansion (the spec is silent): the one score p
      // becomes [1 - p, p], with p = sigmoid(s) under LOGISTIC and the raw
      // score otherwise; ORT 1.30 applies no softmax here, and
      // tests/ort/compare_with_ort.py checks each post_transform against it.
      float p = s[0];
      if (a.post == Post::kLogistic) p = Logistic(p);
      zr[0] = 1.0f - p;
      zr[1] = p;
    } else {
      std::copy(s.begin(), s.end(), zr);
      ApplyPost(a.post, zr, k);
    }
  }
  return Status::Ok();
}

// ---- ArrayFeatureExtractor ----
Status ArrayFeatureExtractorCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* yi, RequiredInput(ctx, 1, "Y"));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, ToInt64s(node, *yi, "Y"));
  if (x->shape().empty()) return Bad(node, "X must have rank >= 1");
  const int64_t c = x->shape().back();
  for (int64_t v : idx)
    if (v < 0 || v >= c)
      return Bad(node, "index " + std::to_string(v) + " is out of range for last dimension " +
                           std::to_string(c));
  if (idx.empty()) return Bad(node, "Y must hold at least one index");
  Shape shape = x->shape();
  if (shape.size() == 1) shape.insert(shape.begin(), 1);  // [C] -> [1, k], as ONNX Runtime
  shape.back() = static_cast<int64_t>(idx.size());
  const int64_t rows = c == 0 ? 0 : x->size() / c;
  const int64_t k = static_cast<int64_t>(idx.size());
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), shape));
  return DispatchAll(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = x->data<T>();
    T* o = out->data<T>();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < k; ++j) o[i * k + j] = p[i * c + idx[static_cast<size_t>(j)]];
    return Status::Ok();
  });
}

// ---- TreeEnsembleRegressor / TreeEnsembleClassifier (opset 1-3 attributes) ----
enum class Mode { kLeq, kLt, kGte, kGt, kEq, kNeq, kLeaf };
enum class Agg { kSum, kAverage, kMin, kMax };

struct TreeNode {
  Mode mode = Mode::kLeaf;
  int64_t feature = 0;
  float value = 0;
  int32_t t = -1, f = -1;  // indices of the true/false children
  bool missing_true = false;
  int32_t wbegin = 0, wend = 0;  // this node's range in `weights`
};

struct TreeWeight {
  int64_t id;  // target or class
  float w;
};

struct Trees {
  std::vector<TreeNode> nodes;
  std::vector<int32_t> roots;
  std::vector<TreeWeight> weights;
  int64_t max_feature = -1;
};

Status RefuseAsTensor(const ir::Node& node, const char* attr) {
  if (!node.HasAttribute(attr)) return Status::Ok();
  return NotSupported(node.Describe() + ": attribute " + attr +
                      " (double parameters) is not supported; use the float attributes");
}

// Parses the node arrays and the leaf weights (prefix "target" or "class"),
// checking every length and index. `n_out` bounds the weight ids.
Result<Trees> ParseTrees(const ir::Node& node, const std::string& prefix, int64_t n_out) {
  for (const char* a :
       {"nodes_values_as_tensor", "nodes_hitrates_as_tensor", "base_values_as_tensor",
        "target_weights_as_tensor", "class_weights_as_tensor"})
    TIFFIN_RETURN_IF_ERROR(RefuseAsTensor(node, a));
  TIFFIN_ASSIGN_OR_RETURN(auto tids, node.GetInts("nodes_treeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto nids, node.GetInts("nodes_nodeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto feats, node.GetInts("nodes_featureids"));
  TIFFIN_ASSIGN_OR_RETURN(auto modes, node.GetStrings("nodes_modes"));
  TIFFIN_ASSIGN_OR_RETURN(auto vals, node.GetFloats("nodes_values"));
  TIFFIN_ASSIGN_OR_RETURN(auto tn, node.GetInts("nodes_truenodeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto fn, node.GetInts("nodes_falsenodeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto miss, node.GetInts("nodes_missing_value_tracks_true"));
  const size_t n = nids.size();
  if (n == 0) return Status(Bad(node, "nodes_nodeids is empty"));
  if (n > (size_t{1} << 30)) return Status(Bad(node, "too many nodes"));
  auto need = [&](size_t len, const char* what) -> Status {
    if (len == n) return Status::Ok();
    return Bad(node, std::string(what) + " has " + std::to_string(len) +
                         " values; nodes_nodeids has " + std::to_string(n));
  };
  TIFFIN_RETURN_IF_ERROR(need(tids.size(), "nodes_treeids"));
  TIFFIN_RETURN_IF_ERROR(need(feats.size(), "nodes_featureids"));
  TIFFIN_RETURN_IF_ERROR(need(modes.size(), "nodes_modes"));
  TIFFIN_RETURN_IF_ERROR(need(vals.size(), "nodes_values"));
  TIFFIN_RETURN_IF_ERROR(need(tn.size(), "nodes_truenodeids"));
  TIFFIN_RETURN_IF_ERROR(need(fn.size(), "nodes_falsenodeids"));
  if (!miss.empty()) TIFFIN_RETURN_IF_ERROR(need(miss.size(), "nodes_missing_value_tracks_true"));
  std::map<std::pair<int64_t, int64_t>, int32_t> index;
  for (size_t i = 0; i < n; ++i)
    if (!index.emplace(std::make_pair(tids[i], nids[i]), static_cast<int32_t>(i)).second)
      return Status(Bad(node, "node (tree " + std::to_string(tids[i]) + ", id " +
                                  std::to_string(nids[i]) + ") is listed twice"));
  Trees t;
  t.nodes.resize(n);
  std::vector<bool> is_child(n, false);
  for (size_t i = 0; i < n; ++i) {
    TreeNode& nd = t.nodes[i];
    const std::string& m = modes[i];
    if (m == "BRANCH_LEQ")
      nd.mode = Mode::kLeq;
    else if (m == "BRANCH_LT")
      nd.mode = Mode::kLt;
    else if (m == "BRANCH_GTE")
      nd.mode = Mode::kGte;
    else if (m == "BRANCH_GT")
      nd.mode = Mode::kGt;
    else if (m == "BRANCH_EQ")
      nd.mode = Mode::kEq;
    else if (m == "BRANCH_NEQ")
      nd.mode = Mode::kNeq;
    else if (m == "LEAF")
      nd.mode = Mode::kLeaf;
    else
      return Status(Bad(node, "unknown node mode '" + m + "'"));
    nd.value = vals[i];
    nd.missing_true = !miss.empty() && miss[i] != 0;
    if (nd.mode == Mode::kLeaf) continue;
    if (feats[i] < 0) return Status(Bad(node, "negative feature id"));
    nd.feature = feats[i];
    t.max_feature = std::max(t.max_feature, feats[i]);
    auto ti = index.find({tids[i], tn[i]});
    auto fi = index.find({tids[i], fn[i]});
    if (ti == index.end() || fi == index.end())
      return Status(Bad(node, "node (tree " + std::to_string(tids[i]) + ", id " +
                                  std::to_string(nids[i]) + ") has a child id that is not a node"));
    nd.t = ti->second;
    nd.f = fi->second;
    is_child[static_cast<size_t>(nd.t)] = true;
    is_child[static_cast<size_t>(nd.f)] = true;
  }
  std::map<int64_t, int32_t> root_of;
  for (size_t i = 0; i < n; ++i) {
    if (is_child[i]) continue;
    if (!root_of.emplace(tids[i], static_cast<int32_t>(i)).second)
      return Status(Bad(node, "tree " + std::to_string(tids[i]) + " has more than one root"));
  }
  for (size_t i = 0; i < n; ++i)
    if (!root_of.count(tids[i]))
      return Status(Bad(node, "tree " + std::to_string(tids[i]) + " has no root (a cycle)"));
  for (auto& [tree, r] : root_of) t.roots.push_back(r);
  // leaf weights
  TIFFIN_ASSIGN_OR_RETURN(auto wt, node.GetInts(prefix + "_treeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto wn, node.GetInts(prefix + "_nodeids"));
  TIFFIN_ASSIGN_OR_RETURN(auto wi, node.GetInts(prefix + "_ids"));
  TIFFIN_ASSIGN_OR_RETURN(auto ww, node.GetFloats(prefix + "_weights"));
  const size_t nw = wt.size();
  if (wn.size() != nw || wi.size() != nw || ww.size() != nw)
    return Status(Bad(node, prefix + "_treeids/_nodeids/_ids/_weights must have equal lengths"));
  std::vector<std::vector<TreeWeight>> per(n);
  for (size_t k = 0; k < nw; ++k) {
    auto it = index.find({wt[k], wn[k]});
    if (it == index.end())
      return Status(Bad(node, prefix + " weight " + std::to_string(k) + " names no node"));
    if (wi[k] < 0 || wi[k] >= n_out)
      return Status(Bad(node, prefix + "_ids value " + std::to_string(wi[k]) +
                                  " is out of range [0, " + std::to_string(n_out) + ")"));
    per[static_cast<size_t>(it->second)].push_back({wi[k], ww[k]});
  }
  for (size_t i = 0; i < n; ++i) {
    t.nodes[i].wbegin = static_cast<int32_t>(t.weights.size());
    t.weights.insert(t.weights.end(), per[i].begin(), per[i].end());
    t.nodes[i].wend = static_cast<int32_t>(t.weights.size());
  }
  return t;
}

// Walks every tree for one row, aggregating leaf weights into `acc`
// (`seen` marks ids that got a value, for MIN/MAX).
Status WalkTrees(const ir::Node& node, const Trees& t, Agg agg, const float* x,
                 std::vector<float>& acc, std::vector<char>& seen) {
  const size_t bound = t.nodes.size();
  for (int32_t r : t.roots) {
    int32_t cur = r;
    size_t steps = 0;
    while (t.nodes[static_cast<size_t>(cur)].mode != Mode::kLeaf) {
      if (++steps > bound) return Bad(node, "a tree does not end in a leaf (cycle)");
      const TreeNode& nd = t.nodes[static_cast<size_t>(cur)];
      const float v = x[nd.feature];
      bool go;
      if (std::isnan(v) && nd.missing_true) {
        go = true;
      } else {
        switch (nd.mode) {
          case Mode::kLeq:
            go = v <= nd.value;
            break;
          case Mode::kLt:
            go = v < nd.value;
            break;
          case Mode::kGte:
            go = v >= nd.value;
            break;
          case Mode::kGt:
            go = v > nd.value;
            break;
          case Mode::kEq:
            go = v == nd.value;
            break;
          default:
            go = v != nd.value;
            break;
        }
      }
      cur = go ? nd.t : nd.f;
    }
    const TreeNode& leaf = t.nodes[static_cast<size_t>(cur)];
    for (int32_t k = leaf.wbegin; k < leaf.wend; ++k) {
      const TreeWeight& w = t.weights[static_cast<size_t>(k)];
      const size_t id = static_cast<size_t>(w.id);
      if (agg == Agg::kMin)
        acc[id] = seen[id] ? std::min(acc[id], w.w) : w.w;
      else if (agg == Agg::kMax)
        acc[id] = seen[id] ? std::max(acc[id], w.w) : w.w;
      else
        acc[id] += w.w;
      seen[id] = 1;
    }
  }
  if (agg == Agg::kAverage && !t.roots.empty())
    for (float& a : acc) a /= static_cast<float>(t.roots.size());
  return Status::Ok();
}

Result<FloatRows> TreeInput(KernelContext& ctx, const Trees& t) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->shape().size() > 2) return Status(Bad(node, "X must be [C] or [N, C]"));
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, ReadRows(node, *x));
  if (x->shape().size() < 2) r.n = r.c == 0 ? 0 : 1;
  if (t.max_feature >= r.c)
    return Status(Bad(node, "feature id " + std::to_string(t.max_feature) +
                                " is out of range for an input with " + std::to_string(r.c) +
                                " columns"));
  return r;
}

struct TreeRegAttrs {
  Trees trees;
  int64_t n_targets = 1;
  Agg agg = Agg::kSum;
  Post post = Post::kNone;
  std::vector<float> base;
  static Result<TreeRegAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    TreeRegAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.n_targets, node.GetInt("n_targets", 1));
    if (a.n_targets < 1 || a.n_targets > (int64_t{1} << 24))
      return Status(Bad(node, "n_targets must be in [1, 2^24]"));
    TIFFIN_ASSIGN_OR_RETURN(std::string ag, node.GetString("aggregate_function", "SUM"));
    if (ag == "SUM")
      a.agg = Agg::kSum;
    else if (ag == "AVERAGE")
      a.agg = Agg::kAverage;
    else if (ag == "MIN")
      a.agg = Agg::kMin;
    else if (ag == "MAX")
      a.agg = Agg::kMax;
    else
      return Status(Bad(node, "unknown aggregate_function '" + ag + "'"));
    TIFFIN_ASSIGN_OR_RETURN(a.post, ParsePost(node));
    TIFFIN_ASSIGN_OR_RETURN(a.base, node.GetFloats("base_values"));
    if (!a.base.empty() && a.base.size() != static_cast<size_t>(a.n_targets))
      return Status(Bad(node, "base_values must have n_targets values"));
    TIFFIN_ASSIGN_OR_RETURN(a.trees, ParseTrees(node, "target", a.n_targets));
    return a;
  }
};

Status TreeRegCompute(KernelContext& ctx, const TreeRegAttrs& a) {
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, TreeInput(ctx, a.trees));
  const int64_t k = a.n_targets;
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kFloat32, Shape{r.n, k}));
  std::vector<float> acc(static_cast<size_t>(k));
  std::vector<char> seen(static_cast<size_t>(k));
  for (int64_t i = 0; i < r.n; ++i) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    std::fill(seen.begin(), seen.end(), 0);
    TIFFIN_RETURN_IF_ERROR(WalkTrees(ctx.node(), a.trees, a.agg, r.v.data() + i * r.c, acc, seen));
    float* o = out->data<float>() + i * k;
    for (int64_t j = 0; j < k; ++j)
      o[j] = acc[static_cast<size_t>(j)] + (a.base.empty() ? 0.0f : a.base[static_cast<size_t>(j)]);
    ApplyPost(a.post, o, k);
  }
  return Status::Ok();
}

struct TreeClsAttrs {
  Trees trees;
  std::vector<int64_t> ilabels;
  std::vector<std::string> slabels;
  bool strings = false;
  int64_t n_classes = 0;
  bool binary = false;  // two labels, weights only on class 0: scores [1 - p, p]
  Post post = Post::kNone;
  std::vector<float> base;
  static Result<TreeClsAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    TreeClsAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.ilabels, node.GetInts("classlabels_int64s"));
    TIFFIN_ASSIGN_OR_RETURN(a.slabels, node.GetStrings("classlabels_strings"));
    if (a.ilabels.empty() == a.slabels.empty())
      return Status(
          Bad(node, "exactly one of classlabels_int64s and classlabels_strings must be set"));
    a.strings = !a.slabels.empty();
    a.n_classes = static_cast<int64_t>(a.strings ? a.slabels.size() : a.ilabels.size());
    TIFFIN_ASSIGN_OR_RETURN(a.post, ParsePost(node));
    TIFFIN_ASSIGN_OR_RETURN(a.base, node.GetFloats("base_values"));
    if (!a.base.empty() && a.base.size() != static_cast<size_t>(a.n_classes))
      return Status(Bad(node, "base_values must have one value per class"));
    TIFFIN_ASSIGN_OR_RETURN(a.trees, ParseTrees(node, "class", a.n_classes));
    if (a.n_classes == 2) {
      bool only0 = true, positive = true;
      for (const TreeWeight& w : a.trees.weights) {
        only0 &= w.id == 0;
        positive &= w.w >= 0;
      }
      a.binary = only0 && !a.trees.weights.empty();
      if (a.binary && (!positive || a.post != Post::kNone))
        return Status(NotSupported(node.Describe() +
                                   ": a binary tree classifier with one score column is "
                                   "supported only with non-negative weights and "
                                   "post_transform NONE"));
    }
    return a;
  }
};

Status TreeClsCompute(KernelContext& ctx, const TreeClsAttrs& a) {
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, TreeInput(ctx, a.trees));
  const int64_t k = a.n_classes;
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y,
                          ctx.Output(0, a.strings ? DType::kString : DType::kInt64, Shape{r.n}));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * z, ctx.Output(1, DType::kFloat32, Shape{r.n, k}));
  std::vector<float> acc(static_cast<size_t>(k));
  std::vector<char> seen(static_cast<size_t>(k));
  for (int64_t i = 0; i < r.n; ++i) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    std::fill(seen.begin(), seen.end(), 0);
    TIFFIN_RETURN_IF_ERROR(
        WalkTrees(ctx.node(), a.trees, Agg::kSum, r.v.data() + i * r.c, acc, seen));
    for (int64_t j = 0; j < k; ++j)
      if (!a.base.empty()) acc[static_cast<size_t>(j)] += a.base[static_cast<size_t>(j)];
    float* o = z->data<float>() + i * k;
    size_t label = 0;
    if (a.binary) {
      const float p = acc[0];
      label = p > 0.5f ? 1 : 0;
      o[0] = 1.0f - p;
      o[1] = p;
    } else {
      for (size_t j = 1; j < acc.size(); ++j)
        if (acc[j] > acc[label]) label = j;
      std::copy(acc.begin(), acc.end(), o);
      ApplyPost(a.post, o, k);
    }
    if (a.strings)
      y->data<std::string>()[i] = a.slabels[label];
    else
      y->data<int64_t>()[i] = a.ilabels[label];
  }
  return Status::Ok();
}

// ---- ZipMap ----
Result<std::unique_ptr<Kernel>> ZipMapRefuse(const KernelInit& init) {
  return Status(NotSupported(
      init.node.Describe() +
      ": ZipMap outputs a sequence of maps, and tiffin values are tensors only; use the "
      "probability tensor that feeds the ZipMap instead (e.g. convert with zipmap=False)"));
}

const KernelDef kRows[] = {
    {"Scaler", "ai.onnx.ml", 1, 5, MakeAttrKernel<ScalerAttrs, ScalerCompute>},
    {"Normalizer", "ai.onnx.ml", 1, 5, MakeAttrKernel<NormalizerAttrs, NormalizerCompute>},
    {"Binarizer", "ai.onnx.ml", 1, 5, MakeAttrKernel<BinarizerAttrs, BinarizerCompute>},
    {"Imputer", "ai.onnx.ml", 1, 5, MakeAttrKernel<ImputerAttrs, ImputerCompute>},
    {"LinearRegressor", "ai.onnx.ml", 1, 5, MakeAttrKernel<LinRegAttrs, LinRegCompute>},
    {"LinearClassifier", "ai.onnx.ml", 1, 5, MakeAttrKernel<LinClsAttrs, LinClsCompute>},
    {"ArrayFeatureExtractor", "ai.onnx.ml", 1, 5, MakeFnKernel<ArrayFeatureExtractorCompute>},
    {"TreeEnsembleRegressor", "ai.onnx.ml", 1, 3, MakeAttrKernel<TreeRegAttrs, TreeRegCompute>},
    {"TreeEnsembleClassifier", "ai.onnx.ml", 1, 3, MakeAttrKernel<TreeClsAttrs, TreeClsCompute>},
    {"ZipMap", "ai.onnx.ml", 1, 5, ZipMapRefuse},
};

}  // namespace

std::span<const KernelDef> MlKernels() { return kRows; }

}  // namespace tiffin::kernels
