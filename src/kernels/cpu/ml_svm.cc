// ai.onnx.ml support vector machines: SVMClassifier and SVMRegressor.
//
// The spec leaves most of the layout unsaid; it follows libsvm (and so
// scikit-learn's converters) and ONNX Runtime, whose outputs models are
// checked against:
//  - SVC mode (vectors_per_class sums to V > 0): support_vectors is [V, F];
//    coefficients is [classes - 1, V] (libsvm's sv_coef); the classes are
//    compared one against one in the order (0,1), (0,2), .., (1,2), ..; each
//    pair's decision value d = sum(coef * K(x, sv)) + rho[pair] votes for the
//    first class when d > 0. With prob_a/prob_b, d goes through Platt's
//    sigmoid and the pairwise probabilities are coupled into class
//    probabilities (Wu, Lin and Weng's method 2, as libsvm).
//  - linear mode (no support vectors, liblinear): coefficients is [classes, F]
//    and every class scores x . coef + rho[0].
// Scores are computed in double from float parameters and the input read as
// float (as ONNX Runtime does), and written as float.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/ml_internal.h"
#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

using ml::Bad;
using ml::FloatRows;
using ml::Post;

enum class KernelType { kLinear, kPoly, kRbf, kSigmoid };

// kernel_type and kernel_params, shared by both ops.
struct SvmKernel {
  KernelType type = KernelType::kLinear;
  double gamma = 0, coef0 = 0, degree = 0;

  static Result<SvmKernel> Parse(const ir::Node& node) {
    SvmKernel k;
    TIFFIN_ASSIGN_OR_RETURN(std::string t, node.GetString("kernel_type", "LINEAR"));
    if (t == "LINEAR")
      k.type = KernelType::kLinear;
    else if (t == "POLY")
      k.type = KernelType::kPoly;
    else if (t == "RBF")
      k.type = KernelType::kRbf;
    else if (t == "SIGMOID")
      k.type = KernelType::kSigmoid;
    else
      return Status(Bad(node, "kernel_type must be LINEAR, POLY, RBF or SIGMOID, got '" + t + "'"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<float> p, node.GetFloats("kernel_params"));
    if (!p.empty() && p.size() < 3)
      return Status(Bad(node, "kernel_params must hold gamma, coef0 and degree (3 values), got " +
                                  std::to_string(p.size())));
    if (!p.empty()) {
      k.gamma = p[0];
      k.coef0 = p[1];
      k.degree = p[2];
    }
    return k;
  }

  // K(a, b) over f features.
  double Eval(const float* a, const float* b, int64_t f) const {
    double s = 0;
    if (type == KernelType::kRbf) {
      for (int64_t i = 0; i < f; ++i) {
        const double d = static_cast<double>(a[i]) - b[i];
        s += d * d;
      }
      return std::exp(-gamma * s);
    }
    for (int64_t i = 0; i < f; ++i) s += static_cast<double>(a[i]) * b[i];
    switch (type) {
      case KernelType::kPoly:
        return std::pow(gamma * s + coef0, degree);
      case KernelType::kSigmoid:
        return std::tanh(gamma * s + coef0);
      default:
        return s;
    }
  }
};

// X as rows of `features` floats: [F] is one row, [N, F] is N rows.
Result<FloatRows> SvmInput(KernelContext& ctx, int64_t features) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->rank() != 1 && x->rank() != 2) return Status(Bad(node, "X must be [C] or [N, C]"));
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, ml::ReadRows(node, *x));
  r.n = x->rank() == 1 ? 1 : x->dim(0);
  if (r.c != features)
    return Status(Bad(node, "X has " + std::to_string(r.c) + " columns; the model has " +
                                std::to_string(features) + " features"));
  return r;
}

// Splits `total` values into rows of `count`, or an error naming `what`.
Result<int64_t> RowLength(const ir::Node& node, size_t total, int64_t count, const char* what,
                          const char* per) {
  if (count <= 0 || total == 0 || total % static_cast<size_t>(count) != 0)
    return Status(Bad(node, std::string(what) + " has " + std::to_string(total) +
                                " values, which is not a positive multiple of " + per + " (" +
                                std::to_string(count) + ")"));
  return static_cast<int64_t>(total / static_cast<size_t>(count));
}

// ---- SVMClassifier ----

struct SvmClsAttrs {
  SvmKernel kernel;
  std::vector<int64_t> ilabels;
  std::vector<std::string> slabels;
  bool strings = false;
  int64_t k = 0;                          // classes
  int64_t pairs = 0;                      // k (k - 1) / 2 one-against-one classifiers
  bool svc = false;                       // support vectors given (libsvm), else linear (liblinear)
  std::vector<int64_t> per_class, start;  // support vectors of each class
  int64_t v = 0;                          // support vectors
  int64_t f = 0;                          // features
  std::vector<float> sv, coef, rho, prob_a, prob_b;
  bool proba = false;
  bool all_positive = true;  // every coefficient >= 0
  Post post = Post::kNone;

  // Columns of Z: the class probabilities, the linear scores, or the pairs'
  // decision values (two columns for two classes).
  int64_t ZCols() const { return svc && !proba ? (k > 2 ? pairs : 2) : k; }

  static Result<SvmClsAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    SvmClsAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.kernel, SvmKernel::Parse(node));
    TIFFIN_ASSIGN_OR_RETURN(a.ilabels, node.GetInts("classlabels_ints"));
    TIFFIN_ASSIGN_OR_RETURN(a.slabels, node.GetStrings("classlabels_strings"));
    if (a.ilabels.empty() == a.slabels.empty())
      return Status(
          Bad(node, "exactly one of classlabels_ints and classlabels_strings must be set"));
    a.strings = !a.slabels.empty();
    a.k = static_cast<int64_t>(a.strings ? a.slabels.size() : a.ilabels.size());
    a.pairs = a.k * (a.k - 1) / 2;
    TIFFIN_ASSIGN_OR_RETURN(a.per_class, node.GetInts("vectors_per_class"));
    TIFFIN_ASSIGN_OR_RETURN(a.sv, node.GetFloats("support_vectors"));
    TIFFIN_ASSIGN_OR_RETURN(a.coef, node.GetFloats("coefficients"));
    TIFFIN_ASSIGN_OR_RETURN(a.rho, node.GetFloats("rho"));
    TIFFIN_ASSIGN_OR_RETURN(a.prob_a, node.GetFloats("prob_a"));
    TIFFIN_ASSIGN_OR_RETURN(a.prob_b, node.GetFloats("prob_b"));
    TIFFIN_ASSIGN_OR_RETURN(a.post, ml::ParsePost(node, /*allow_probit=*/true));
    if (a.coef.empty()) return Status(Bad(node, "coefficients is empty"));
    if (a.prob_a.size() != a.prob_b.size())
      return Status(Bad(node, "prob_a and prob_b must have the same length"));
    a.proba = !a.prob_a.empty();
    for (int64_t c : a.per_class) {
      if (c < 0 || c > static_cast<int64_t>(a.sv.size()))
        return Status(Bad(node, "vectors_per_class value " + std::to_string(c) +
                                    " is negative or exceeds support_vectors"));
      a.start.push_back(a.v);
      a.v += c;
    }
    a.svc = a.v > 0;
    if (a.svc) {
      if (a.per_class.size() != static_cast<size_t>(a.k))
        return Status(Bad(node, "vectors_per_class has " + std::to_string(a.per_class.size()) +
                                    " values; there are " + std::to_string(a.k) + " classes"));
      if (a.k < 2) return Status(Bad(node, "a support vector classifier needs two classes"));
      TIFFIN_ASSIGN_OR_RETURN(a.f, RowLength(node, a.sv.size(), a.v, "support_vectors",
                                             "the number of support vectors"));
      if (a.coef.size() < static_cast<size_t>((a.k - 1) * a.v))
        return Status(Bad(node, "coefficients has " + std::to_string(a.coef.size()) +
                                    " values; (classes - 1) x support vectors is " +
                                    std::to_string((a.k - 1) * a.v)));
      if (a.rho.size() < static_cast<size_t>(a.pairs))
        return Status(Bad(node, "rho has " + std::to_string(a.rho.size()) +
                                    " values; one per class pair needs " +
                                    std::to_string(a.pairs)));
      if (a.proba && a.prob_a.size() < static_cast<size_t>(a.pairs))
        return Status(Bad(node, "prob_a and prob_b need one value per class pair (" +
                                    std::to_string(a.pairs) + ")"));
      if (!a.proba && a.k == 2 && a.post == Post::kProbit)
        return Status(NotSupported(
            node.Describe() +
            ": post_transform PROBIT on a two-class SVM without prob_a/prob_b is not "
            "supported (ONNX Runtime writes one score and leaves the second column unset)"));
    } else {
      TIFFIN_ASSIGN_OR_RETURN(
          a.f, RowLength(node, a.coef.size(), a.k, "coefficients", "the number of classes"));
      if (a.rho.empty()) return Status(Bad(node, "rho is empty"));
    }
    for (float c : a.coef) a.all_positive &= c >= 0;
    return a;
  }
};

// libsvm's sigmoid_predict: P(first class of the pair | decision value d).
float SigmoidProbability(float d, float a, float b) {
  const float fapb = d * a + b;
  return static_cast<float>(1.0 - ml::Logistic(fapb));
}

// Pairwise coupling (Wu, Lin and Weng 2004, method 2, as libsvm's
// multiclass_probability): r is k x k with r[i][j] = P(i | i or j); writes
// the class probabilities to p. Float arithmetic, as ONNX Runtime.
void MulticlassProbability(int64_t k, const std::vector<float>& r, float* p) {
  const size_t n = static_cast<size_t>(k);
  std::vector<float> q(n * n, 0.0f), qp(n, 0.0f);
  const float eps = 0.005f / static_cast<float>(k);
  for (size_t i = 0; i < n; ++i) {
    p[i] = 1.0f / static_cast<float>(k);
    for (size_t j = 0; j < i; ++j) {
      q[i * n + i] += r[j * n + i] * r[j * n + i];
      q[i * n + j] = q[j * n + i];
    }
    for (size_t j = i + 1; j < n; ++j) {
      q[i * n + i] += r[j * n + i] * r[j * n + i];
      q[i * n + j] = -r[j * n + i] * r[i * n + j];
    }
  }
  for (int iter = 0; iter < 100; ++iter) {
    float pqp = 0;
    for (size_t i = 0; i < n; ++i) {
      qp[i] = 0;
      for (size_t j = 0; j < n; ++j) qp[i] += q[i * n + j] * p[j];
      pqp += p[i] * qp[i];
    }
    float max_error = 0;
    for (size_t i = 0; i < n; ++i) max_error = std::max(max_error, std::fabs(qp[i] - pqp));
    if (max_error < eps) break;
    for (size_t i = 0; i < n; ++i) {
      const float diff = (-qp[i] + pqp) / q[i * n + i];
      p[i] += diff;
      pqp = (pqp + diff * (diff * q[i * n + i] + 2 * qp[i])) / (1 + diff) / (1 + diff);
      for (size_t j = 0; j < n; ++j) {
        qp[j] = (qp[j] + diff * q[i * n + j]) / (1 + diff);
        p[j] /= (1 + diff);
      }
    }
  }
}

Status SvmClsCompute(KernelContext& ctx, const SvmClsAttrs& a) {
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, SvmInput(ctx, a.f));
  const int64_t k = a.k, nz = a.ZCols();
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y,
                          ctx.Output(0, a.strings ? DType::kString : DType::kInt64, Shape{r.n}));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * z, ctx.Output(1, DType::kFloat32, Shape{r.n, nz}));
  std::vector<double> kern(static_cast<size_t>(a.v));
  std::vector<float> scores(static_cast<size_t>(std::max(k, a.pairs)));
  std::vector<int64_t> votes(static_cast<size_t>(k));
  std::vector<float> pairwise(a.proba ? static_cast<size_t>(k * k) : 0);
  for (int64_t n = 0; n < r.n; ++n) {
    const float* x = r.v.data() + n * a.f;
    float* zr = z->data<float>() + n * nz;
    size_t best = 0;
    if (!a.svc) {
      // liblinear: one score per class; the kernel is always linear here.
      for (int64_t c = 0; c < k; ++c) {
        double s = a.rho[0];
        for (int64_t j = 0; j < a.f; ++j)
          s += static_cast<double>(a.coef[static_cast<size_t>(c * a.f + j)]) * x[j];
        scores[static_cast<size_t>(c)] = static_cast<float>(s);
      }
      for (int64_t c = 1; c < k; ++c)
        if (scores[static_cast<size_t>(c)] > scores[best]) best = static_cast<size_t>(c);
      if (k == 2 && !a.proba) {
        // ONNX Runtime's two-class rule: with all weights >= 0 the scores
        // read as probabilities (class 1 when its score >= 0.5); otherwise
        // any positive winning score names class 1.
        const float top = scores[best];
        if ((a.all_positive && top >= 0.5f) || (!a.all_positive && top > 0)) best = 1;
      }
      std::copy(scores.begin(), scores.begin() + k, zr);
      // One class leaves one score, which only PROBIT changes.
      if (k > 1 || a.post == Post::kProbit) ml::ApplyPost(a.post, zr, k);
    } else {
      for (int64_t j = 0; j < a.v; ++j)
        kern[static_cast<size_t>(j)] = a.kernel.Eval(x, a.sv.data() + j * a.f, a.f);
      std::fill(votes.begin(), votes.end(), 0);
      int64_t pair = 0;
      for (int64_t i = 0; i < k; ++i) {
        for (int64_t j = i + 1; j < k; ++j, ++pair) {
          // Class i's vectors weigh in with coefficient row j - 1, class j's
          // with row i (libsvm's sv_coef layout).
          double s = a.rho[static_cast<size_t>(pair)];
          const size_t si = static_cast<size_t>(a.start[static_cast<size_t>(i)]);
          const size_t sj = static_cast<size_t>(a.start[static_cast<size_t>(j)]);
          const size_t ci = static_cast<size_t>(a.per_class[static_cast<size_t>(i)]);
          const size_t cj = static_cast<size_t>(a.per_class[static_cast<size_t>(j)]);
          const float* row_i = a.coef.data() + (j - 1) * a.v;
          const float* row_j = a.coef.data() + i * a.v;
          for (size_t m = 0; m < ci; ++m) s += row_i[si + m] * kern[si + m];
          for (size_t m = 0; m < cj; ++m) s += row_j[sj + m] * kern[sj + m];
          scores[static_cast<size_t>(pair)] = static_cast<float>(s);
          ++votes[static_cast<size_t>(s > 0 ? i : j)];
        }
      }
      // The most votes wins; ties go to the first class.
      for (int64_t c = 1; c < k; ++c)
        if (votes[static_cast<size_t>(c)] > votes[best]) best = static_cast<size_t>(c);
      if (a.proba) {
        pair = 0;
        for (int64_t i = 0; i < k; ++i) {
          for (int64_t j = i + 1; j < k; ++j, ++pair) {
            const size_t pi = static_cast<size_t>(pair);
            float p = SigmoidProbability(scores[pi], a.prob_a[pi], a.prob_b[pi]);
            p = std::min(std::max(p, 1e-7f), 1 - 1e-7f);
            pairwise[static_cast<size_t>(i * k + j)] = p;
            pairwise[static_cast<size_t>(j * k + i)] = 1 - p;
          }
        }
        MulticlassProbability(k, pairwise, zr);
        ml::ApplyPost(a.post, zr, k);
      } else if (k > 2) {
        std::copy(scores.begin(), scores.begin() + a.pairs, zr);
        ml::ApplyPost(a.post, zr, a.pairs);
      } else {
        // Two classes, one decision value d: ONNX Runtime (1.30) writes
        // [-d, d] under NONE, [sigmoid(-d), sigmoid(d)] under LOGISTIC and
        // [1 - d, d] under SOFTMAX and SOFTMAX_ZERO.
        const float d = scores[0];
        if (a.post == Post::kLogistic) {
          zr[0] = static_cast<float>(ml::Logistic(-d));
          zr[1] = static_cast<float>(ml::Logistic(d));
        } else {
          zr[0] = a.post == Post::kNone ? -d : 1 - d;
          zr[1] = d;
        }
      }
    }
    if (a.strings)
      y->data<std::string>()[n] = a.slabels[best];
    else
      y->data<int64_t>()[n] = a.ilabels[best];
  }
  return Status::Ok();
}

// ---- SVMRegressor ----

struct SvmRegAttrs {
  SvmKernel kernel;
  int64_t v = 0;  // n_supports; 0 = linear
  int64_t f = 0;
  std::vector<float> sv, coef, rho;
  bool one_class = false;

  static Result<SvmRegAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    SvmRegAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.kernel, SvmKernel::Parse(node));
    TIFFIN_ASSIGN_OR_RETURN(a.v, node.GetInt("n_supports", 0));
    TIFFIN_ASSIGN_OR_RETURN(a.sv, node.GetFloats("support_vectors"));
    TIFFIN_ASSIGN_OR_RETURN(a.coef, node.GetFloats("coefficients"));
    TIFFIN_ASSIGN_OR_RETURN(a.rho, node.GetFloats("rho"));
    TIFFIN_ASSIGN_OR_RETURN(int64_t oc, node.GetInt("one_class", 0));
    a.one_class = oc != 0;
    // ONNX Runtime ignores post_transform here; the spec does not say what a
    // transform of one regression score means, so only NONE is accepted.
    TIFFIN_ASSIGN_OR_RETURN(Post post, ml::ParsePost(node, /*allow_probit=*/true));
    if (post != Post::kNone)
      return Status(
          NotSupported(node.Describe() + ": SVMRegressor supports only post_transform NONE"));
    if (a.coef.empty()) return Status(Bad(node, "coefficients is empty"));
    if (a.rho.empty()) return Status(Bad(node, "rho is empty"));
    if (a.v < 0 || a.v > static_cast<int64_t>(a.sv.size()))
      return Status(Bad(
          node, "n_supports " + std::to_string(a.v) + " is negative or exceeds support_vectors"));
    if (a.v > 0) {
      TIFFIN_ASSIGN_OR_RETURN(a.f,
                              RowLength(node, a.sv.size(), a.v, "support_vectors", "n_supports"));
      if (a.coef.size() < static_cast<size_t>(a.v))
        return Status(Bad(node, "coefficients has " + std::to_string(a.coef.size()) +
                                    " values; n_supports is " + std::to_string(a.v)));
    } else {
      // liblinear: coefficients are the weights, and the kernel is linear.
      a.f = static_cast<int64_t>(a.coef.size());
    }
    return a;
  }
};

Status SvmRegCompute(KernelContext& ctx, const SvmRegAttrs& a) {
  TIFFIN_ASSIGN_OR_RETURN(FloatRows r, SvmInput(ctx, a.f));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kFloat32, Shape{r.n, 1}));
  for (int64_t n = 0; n < r.n; ++n) {
    const float* x = r.v.data() + n * a.f;
    double s = a.rho[0];
    if (a.v > 0) {
      for (int64_t j = 0; j < a.v; ++j)
        s += a.coef[static_cast<size_t>(j)] * a.kernel.Eval(x, a.sv.data() + j * a.f, a.f);
    } else {
      for (int64_t j = 0; j < a.f; ++j)
        s += static_cast<double>(a.coef[static_cast<size_t>(j)]) * x[j];
    }
    // One-class SVM: +1 inside the support, -1 outside (an outlier).
    y->data<float>()[n] = a.one_class ? (s > 0 ? 1.0f : -1.0f) : static_cast<float>(s);
  }
  return Status::Ok();
}

const KernelDef kRows[] = {
    {"SVMClassifier", "ai.onnx.ml", 1, 5, MakeAttrKernel<SvmClsAttrs, SvmClsCompute>},
    {"SVMRegressor", "ai.onnx.ml", 1, 5, MakeAttrKernel<SvmRegAttrs, SvmRegCompute>},
};

}  // namespace

namespace ml {
std::span<const KernelDef> SvmKernels() { return kRows; }
}  // namespace ml

}  // namespace tiffin::kernels
