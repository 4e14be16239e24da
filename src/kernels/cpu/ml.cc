// ai.onnx.ml kernels, part 1: Scaler, Normalizer, Binarizer, Imputer,
// LinearRegressor, LinearClassifier and ArrayFeatureExtractor, the shared
// helpers of ml_internal.h, refusals for the operators whose values are maps
// or sequences (ZipMap, CastMap, DictVectorizer), and MlKernels(), which
// joins this file's rows with those of ml_tree.cc (tree ensembles),
// ml_svm.cc (SVMs) and ml_encoders.cc (LabelEncoder, OneHotEncoder,
// FeatureVectorizer).
// Numeric inputs (float, double, int32, int64) are read as float, as ONNX
// Runtime does; the parameters are float attributes anyway.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/ml_internal.h"
#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace ml {

Status Bad(const ir::Node& node, const std::string& what) {
  return InvalidArgument(node.Describe() + ": " + what);
}

Result<FloatRows> ReadRows(const ir::Node& node, const Tensor& x) {
  FloatRows r;
  const int64_t size = x.size();
  r.c = x.shape().empty() ? 1 : x.shape().back();
  r.n = r.c == 0 ? 0 : size / r.c;
  r.v.resize(static_cast<size_t>(size));
  auto conv = [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    for (int64_t i = 0; i < size; ++i) r.v[static_cast<size_t>(i)] = static_cast<float>(p[i]);
  };
  switch (x.dtype()) {
    case DType::kFloat32:
      conv(float{});
      break;
    case DType::kFloat64:
      conv(double{});
      break;
    case DType::kInt32:
      conv(int32_t{});
      break;
    case DType::kInt64:
      conv(int64_t{});
      break;
    default:
      return BadDType(node, "X", x.dtype());
  }
  return r;
}

Result<Post> ParsePost(const ir::Node& node, bool allow_probit) {
  TIFFIN_ASSIGN_OR_RETURN(std::string p, node.GetString("post_transform", "NONE"));
  if (p == "NONE") return Post::kNone;
  if (p == "LOGISTIC") return Post::kLogistic;
  if (p == "SOFTMAX") return Post::kSoftmax;
  if (p == "SOFTMAX_ZERO") return Post::kSoftmaxZero;
  if (p == "PROBIT" && allow_probit) return Post::kProbit;
  return Status(NotSupported(node.Describe() + ": post_transform '" + p +
                             "' is not supported here (NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO" +
                             (allow_probit ? ", PROBIT" : "") + " are)"));
}

Result<Post> PostFromInt(const ir::Node& node, int64_t v) {
  switch (v) {
    case 0:
      return Post::kNone;
    case 1:
      return Post::kSoftmax;
    case 2:
      return Post::kLogistic;
    case 3:
      return Post::kSoftmaxZero;
    case 4:
      return Post::kProbit;
    default:
      return Status(Bad(node, "post_transform " + std::to_string(v) +
                                  " is not one of 0 (NONE), 1 (SOFTMAX), 2 (LOGISTIC), "
                                  "3 (SOFTMAX_ZERO), 4 (PROBIT)"));
  }
}

double Probit(double p) {
  // erfinv(y) ~ sign(y) sqrt(sqrt(t^2 - ln(1 - y^2) / a) - t),
  // t = 2 / (pi a) + ln(1 - y^2) / 2 (Winitzki's approximation), evaluated
  // in float with pi = 3.14159 as ONNX Runtime does, so that the scores agree
  // with its (near p = 0.5 the formula cancels badly, in both).
  const float y = 2 * static_cast<float>(p) - 1;
  const float a = 0.147f;
  const float ln = std::log((1 - y) * (1 + y));
  const float t = 2 / (3.14159f * a) + 0.5f * ln;
  const float e = std::sqrt(-t + std::sqrt(t * t - 1 / a * ln));
  return 1.41421356f * (y < 0 ? -e : e);
}

}  // namespace ml

namespace {

using ml::Bad;
using ml::FloatRows;
using ml::Post;
using ml::ReadRows;

// Per-column parameter of length 1 (broadcast) or C.
Status CheckPerColumn(const ir::Node& node, size_t len, int64_t c, const char* what) {
  if (len == 1 || static_cast<int64_t>(len) == c) return Status::Ok();
  return Bad(node, std::string(what) + " has " + std::to_string(len) +
                       " values; it needs 1 or one per input column (" + std::to_string(c) + ")");
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
    TIFFIN_ASSIGN_OR_RETURN(Post p, ml::ParsePost(init.node));
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
    TIFFIN_ASSIGN_OR_RETURN(a.post, ml::ParsePost(node));
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
      if (a.post == Post::kLogistic) p = static_cast<float>(ml::Logistic(p));
      zr[0] = 1.0f - p;
      zr[1] = p;
    } else {
      std::copy(s.begin(), s.end(), zr);
      ml::ApplyPost(a.post, zr, k);
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

// ---- ZipMap, CastMap, DictVectorizer ----
// ZipMap turns [N, K] scores into N maps {label_k: score}. tiffin values are
// tensors, so it returns the [N, K] float tensor itself (the loader declares
// the output that way and says so in the model's notes); the labels give the
// column order. Checking K against the labels keeps the contract honest.
struct ZipMapAttrs {
  int64_t n_labels = 0;
  static Result<ZipMapAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    ZipMapAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(auto ints, node.GetInts("classlabels_int64s"));
    TIFFIN_ASSIGN_OR_RETURN(auto strs, node.GetStrings("classlabels_strings"));
    if (ints.empty() == strs.empty()) {
      return InvalidArgument(node.Describe() +
                             ": exactly one of classlabels_int64s and classlabels_strings is "
                             "required");
    }
    a.n_labels = static_cast<int64_t>(ints.empty() ? strs.size() : ints.size());
    return a;
  }
};

Status ZipMapCompute(KernelContext& ctx, const ZipMapAttrs& a) {
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->dtype() != DType::kFloat32) return BadDType(ctx.node(), "X", x->dtype());
  const int64_t k = x->rank() == 0 ? 1 : x->dim(x->rank() - 1);
  if (x->rank() > 2 || k != a.n_labels) {
    return InvalidArgument(ctx.node().Describe() + ": X has shape " + ShapeToString(x->shape()) +
                           " for " + std::to_string(a.n_labels) + " class labels");
  }
  const Shape shape = x->rank() == 2 ? x->shape() : Shape{1, k};
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kFloat32, shape));
  std::memcpy(y->raw_data(), x->raw_data(), x->nbytes());
  return Status::Ok();
}

constexpr char kCastMapAdvice[] =
    "CastMap reads a map; feed the model a tensor of the map's values ordered by key instead";
constexpr char kDictVectorizerAdvice[] =
    "DictVectorizer reads a map; vectorize the dictionary before the model and feed the "
    "resulting tensor instead";

const KernelDef kRows[] = {
    {"Scaler", "ai.onnx.ml", 1, 5, MakeAttrKernel<ScalerAttrs, ScalerCompute>},
    {"Normalizer", "ai.onnx.ml", 1, 5, MakeAttrKernel<NormalizerAttrs, NormalizerCompute>},
    {"Binarizer", "ai.onnx.ml", 1, 5, MakeAttrKernel<BinarizerAttrs, BinarizerCompute>},
    {"Imputer", "ai.onnx.ml", 1, 5, MakeAttrKernel<ImputerAttrs, ImputerCompute>},
    {"LinearRegressor", "ai.onnx.ml", 1, 5, MakeAttrKernel<LinRegAttrs, LinRegCompute>},
    {"LinearClassifier", "ai.onnx.ml", 1, 5, MakeAttrKernel<LinClsAttrs, LinClsCompute>},
    {"ArrayFeatureExtractor", "ai.onnx.ml", 1, 5, MakeFnKernel<ArrayFeatureExtractorCompute>},
    {"ZipMap", "ai.onnx.ml", 1, 5, MakeAttrKernel<ZipMapAttrs, ZipMapCompute>},
    {"CastMap", "ai.onnx.ml", 1, 5, ml::RefuseNonTensor<kCastMapAdvice>},
    {"DictVectorizer", "ai.onnx.ml", 1, 5, ml::RefuseNonTensor<kDictVectorizerAdvice>},
};

}  // namespace

std::span<const KernelDef> MlKernels() {
  static const std::vector<KernelDef> all = [] {
    std::vector<KernelDef> v(std::begin(kRows), std::end(kRows));
    for (auto part : {ml::TreeKernels, ml::SvmKernels, ml::EncoderKernels}) {
      auto rows = part();
      v.insert(v.end(), rows.begin(), rows.end());
    }
    return v;
  }();
  return all;
}

}  // namespace tiffin::kernels
