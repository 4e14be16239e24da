// Activations and unary math: Relu LeakyRelu PRelu Elu Selu Celu Sigmoid
// HardSigmoid HardSwish Tanh Softplus Softsign Clip Erf Gelu ThresholdedRelu
// Mish Shrink, Sin Cos Tan Asin Acos Atan Sinh Cosh Asinh Acosh Atanh, IsNaN
// IsInf, and the row-wise Softmax LogSoftmax Hardmax.
//
// Transcendental ops run through Eigen array expressions, whose exp/tanh/erf
// are vectorized; piecewise-linear ones are plain loops the compiler
// vectorizes. float16 is computed in float32 in stack-sized blocks and
// rounded back, as ORT does.
// GCC 12 flags the AVX-512 intrinsics' own `__Y = __Y` idiom as
// (maybe-)uninitialized when Eigen's packet math inlines them (GCC bug 105593).
#pragma GCC diagnostic push
#if !defined(__clang__)  // clang has no -Wmaybe-uninitialized (and no such false positive)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>
#pragma GCC diagnostic pop
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T>;

// double -> integer without undefined behaviour: truncates, NaN gives 0 and
// out-of-range values saturate.
template <typename T>
T DoubleToInt(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest()))
    return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

template <typename S>
using Arr = Eigen::Array<S, Eigen::Dynamic, 1>;

// Calls f(const float* in, float* out, n) on float32 copies of a float16
// tensor's elements, block by block, and rounds the results back.
template <typename F>
void HalfBlocks(const Float16* x, Float16* y, int64_t n, F&& f) {
  constexpr int64_t kBlock = 2048;
  float in[kBlock], out[kBlock];
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t m = std::min(kBlock, n - start);
    for (int64_t i = 0; i < m; ++i) in[i] = static_cast<float>(x[start + i]);
    f(in, out, m);
    for (int64_t i = 0; i < m; ++i) y[start + i] = Float16(out[i]);
  }
}

// ---------------------------------------------------------------------------
// Unary activations with float attributes.

enum class Act {
  kRelu,
  kLeakyRelu,
  kElu,
  kSelu,
  kCelu,
  kSigmoid,
  kHardSigmoid,
  kHardSwish,
  kTanh,
  kSoftplus,
  kSoftsign,
  kErf,
  kGelu,
  kThresholdedRelu,
  kMish,
  kShrink,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kSinh,
  kCosh,
  kAsinh,
  kAcosh,
  kAtanh,
};

// Ops that also accept integer inputs (computed exactly or via double).
constexpr bool IntOk(Act a) { return a == Act::kRelu || a == Act::kShrink || a == Act::kErf; }

template <Act A>
struct ActAttrs {
  float alpha = 0;
  float beta = 0;
  float gamma = 0;
  bool tanh_approx = false;  // Gelu

  static Result<ActAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    ActAttrs a;
    if constexpr (A == Act::kLeakyRelu) {
      TIFFIN_ASSIGN_OR_RETURN(a.alpha, node.GetFloat("alpha", 0.01f));
    } else if constexpr (A == Act::kElu || A == Act::kCelu || A == Act::kThresholdedRelu) {
      TIFFIN_ASSIGN_OR_RETURN(a.alpha, node.GetFloat("alpha", 1.0f));
      if (A == Act::kCelu && a.alpha == 0) {
        return InvalidArgument(node.Describe() + ": alpha must be non-zero, got 0");
      }
    } else if constexpr (A == Act::kSelu) {
      TIFFIN_ASSIGN_OR_RETURN(a.alpha, node.GetFloat("alpha", 1.67326319217681884765625f));
      TIFFIN_ASSIGN_OR_RETURN(a.gamma, node.GetFloat("gamma", 1.05070102214813232421875f));
    } else if constexpr (A == Act::kHardSigmoid) {
      TIFFIN_ASSIGN_OR_RETURN(a.alpha, node.GetFloat("alpha", 0.2f));
      TIFFIN_ASSIGN_OR_RETURN(a.beta, node.GetFloat("beta", 0.5f));
    } else if constexpr (A == Act::kShrink) {
      TIFFIN_ASSIGN_OR_RETURN(a.alpha, node.GetFloat("lambd", 0.5f));
      TIFFIN_ASSIGN_OR_RETURN(a.beta, node.GetFloat("bias", 0.0f));
    } else if constexpr (A == Act::kGelu) {
      TIFFIN_ASSIGN_OR_RETURN(std::string approx, node.GetString("approximate", "none"));
      if (approx == "tanh") {
        a.tanh_approx = true;
      } else if (approx != "none") {
        return InvalidArgument(node.Describe() + ": approximate must be 'none' or 'tanh', got '" +
                               approx + "'");
      }
    }
    return a;
  }
};

// y = A(x) for n contiguous float or double values.
template <Act A, typename S>
void ApplyAct(const S* x, S* y, int64_t n, const ActAttrs<A>& p) {
  const S alpha = static_cast<S>(p.alpha), beta = static_cast<S>(p.beta);
  const S gamma = static_cast<S>(p.gamma);
  if constexpr (A == Act::kRelu) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < S(0) ? S(0) : x[i];
  } else if constexpr (A == Act::kLeakyRelu) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < S(0) ? alpha * x[i] : x[i];
  } else if constexpr (A == Act::kThresholdedRelu) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > alpha ? x[i] : S(0);
  } else if constexpr (A == Act::kHardSigmoid) {
    for (int64_t i = 0; i < n; ++i) y[i] = std::max(S(0), std::min(S(1), alpha * x[i] + beta));
  } else if constexpr (A == Act::kHardSwish) {
    const S sixth = S(1) / S(6);
    for (int64_t i = 0; i < n; ++i)
      y[i] = x[i] * std::max(S(0), std::min(S(1), sixth * x[i] + S(0.5)));
  } else if constexpr (A == Act::kSoftsign) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (S(1) + std::abs(x[i]));
  } else if constexpr (A == Act::kShrink) {
    for (int64_t i = 0; i < n; ++i) {
      const S v = x[i];
      y[i] = v < -alpha ? v + beta : (v > alpha ? v - beta : S(0));
    }
  } else {
    Eigen::Map<const Arr<S>> X(x, n);
    Eigen::Map<Arr<S>> Y(y, n);
    if constexpr (A == Act::kSigmoid) {
      // 1/(1+e^-x) is stable in both directions: e^-x overflowing gives 0.
      Y = S(1) / (S(1) + (-X).exp());
    } else if constexpr (A == Act::kTanh) {
      Y = X.tanh();
    } else if constexpr (A == Act::kElu) {
      Y = (X > S(0)).select(X, alpha * X.expm1());
    } else if constexpr (A == Act::kSelu) {
      Y = (X > S(0)).select(gamma * X, (gamma * alpha) * X.expm1());
    } else if constexpr (A == Act::kCelu) {
      Y = X.max(S(0)) + (alpha * (X / alpha).expm1()).min(S(0));
    } else if constexpr (A == Act::kSoftplus) {
      // log(1+e^x) = max(x,0) + log1p(e^-|x|): no overflow for large x.
      Y = X.max(S(0)) + (-X.abs()).exp().log1p();
    } else if constexpr (A == Act::kMish) {
      Y = X * (X.max(S(0)) + (-X.abs()).exp().log1p()).tanh();
    } else if constexpr (A == Act::kErf) {
      Y = X.erf();
    } else if constexpr (A == Act::kGelu) {
      if (p.tanh_approx) {
        const S k = static_cast<S>(0.7978845608028654);  // sqrt(2/pi)
        Y = S(0.5) * X * (S(1) + (k * (X + S(0.044715) * X * X * X)).tanh());
      } else {
        Y = S(0.5) * X * (S(1) + (X * static_cast<S>(M_SQRT1_2)).erf());
      }
    } else if constexpr (A == Act::kSin) {
      Y = X.sin();
    } else if constexpr (A == Act::kCos) {
      Y = X.cos();
    } else if constexpr (A == Act::kTan) {
      Y = X.tan();
    } else if constexpr (A == Act::kAsin) {
      Y = X.asin();
    } else if constexpr (A == Act::kAcos) {
      Y = X.acos();
    } else if constexpr (A == Act::kAtan) {
      Y = X.atan();
    } else if constexpr (A == Act::kSinh) {
      Y = X.sinh();
    } else if constexpr (A == Act::kCosh) {
      Y = X.cosh();
    } else if constexpr (A == Act::kAsinh) {
      Y = X.asinh();
    } else if constexpr (A == Act::kAcosh) {
      Y = X.acosh();
    } else if constexpr (A == Act::kAtanh) {
      Y = X.atanh();
    }
  }
}

// Integer inputs: Relu exactly, Shrink and Erf through double.
template <Act A, typename T>
void ApplyIntAct(const T* x, T* y, int64_t n, const ActAttrs<A>& p) {
  if constexpr (A == Act::kRelu) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];
  } else if constexpr (A == Act::kShrink) {
    const double lambd = p.alpha, bias = p.beta;
    for (int64_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(x[i]);
      y[i] = DoubleToInt<T>(v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0));
    }
  } else if constexpr (A == Act::kErf) {
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(std::erf(static_cast<double>(x[i])));
  }
}

template <Act A>
Status ActCompute(KernelContext& ctx, const ActAttrs<A>& p) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  const int64_t n = x->size();
  switch (x->dtype()) {
    case DType::kFloat32:
      ApplyAct<A, float>(x->data<float>(), y->data<float>(), n, p);
      return Status::Ok();
    case DType::kFloat64:
      ApplyAct<A, double>(x->data<double>(), y->data<double>(), n, p);
      return Status::Ok();
    case DType::kFloat16:
      HalfBlocks(
          x->data<Float16>(), y->data<Float16>(), n,
          [&](const float* in, float* out, int64_t m) { ApplyAct<A, float>(in, out, m, p); });
      return Status::Ok();
    default:
      break;
  }
  if constexpr (IntOk(A)) {
    return DispatchNumeric(node, x->dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      if constexpr (kIsFloat<T>) {
        return Internal("unreachable");
      } else {
        ApplyIntAct<A, T>(x->data<T>(), y->data<T>(), n, p);
        return Status::Ok();
      }
    });
  }
  return BadDType(node, "X", x->dtype());
}

// ---------------------------------------------------------------------------
// PRelu: slope broadcasts (unidirectionally) to X.

template <typename T>
void PReluLoop(const Tensor& x, const Tensor& slope, Tensor* y) {
  const T* px = x.data<T>();
  const T* ps = slope.data<T>();
  T* py = y->data<T>();
  const int64_t n = x.size();
  auto f = [](T v, T s) -> T {
    if constexpr (std::is_integral_v<T>) {  // wraps (no signed overflow), like Mul
      using U =
          std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
      return v < T(0) ? static_cast<T>(static_cast<U>(s) * static_cast<U>(v)) : v;
    } else {
      return v < T(0) ? static_cast<T>(s * v) : v;
    }
  };
  if (slope.size() == 1) {
    const T s = ps[0];
    for (int64_t i = 0; i < n; ++i) py[i] = f(px[i], s);
  } else if (slope.size() == n) {
    for (int64_t i = 0; i < n; ++i) py[i] = f(px[i], ps[i]);
  } else {
    const auto sx = BroadcastStrides(x.shape(), x.shape());
    const auto ss = BroadcastStrides(slope.shape(), x.shape());
    ForEachBroadcast(x.shape(), sx, ss,
                     [&](int64_t o, int64_t i, int64_t j) { py[o] = f(px[i], ps[j]); });
  }
}

Status PReluCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* slope, RequiredInput(ctx, 1, "slope"));
  if (slope->dtype() != x->dtype()) {
    return InvalidArgument(node.Describe() + ": slope has dtype " +
                           std::string(DTypeName(slope->dtype())) + ", expected " +
                           std::string(DTypeName(x->dtype())) + " like X");
  }
  TIFFIN_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(node, x->shape(), slope->shape()));
  if (shape != x->shape()) {
    return InvalidArgument(node.Describe() + ": slope of shape " + ShapeToString(slope->shape()) +
                           " does not broadcast to X of shape " + ShapeToString(x->shape()));
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  if (x->dtype() == DType::kFloat16) {
    Tensor fx = HalfToFloatTensor(*x), fs = HalfToFloatTensor(*slope);
    Tensor fy(DType::kFloat32, x->shape());
    PReluLoop<float>(fx, fs, &fy);
    FloatToHalfInto(fy, y);
    return Status::Ok();
  }
  return DispatchNumeric(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_unsigned_v<T>) {
      // Nothing is negative: y = x.
      std::copy(x->data<T>(), x->data<T>() + x->size(), y->data<T>());
    } else {
      PReluLoop<T>(*x, *slope, y);
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// Clip: bounds are attributes before opset 11, optional scalar inputs after.

struct ClipAttrs {
  bool from_inputs = true;
  bool has_min = false, has_max = false;
  float min = 0, max = 0;
  static Result<ClipAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    ClipAttrs a;
    a.from_inputs = node.opset >= 11;
    if (!a.from_inputs) {
      a.has_min = node.HasAttribute("min");
      a.has_max = node.HasAttribute("max");
      TIFFIN_ASSIGN_OR_RETURN(a.min, node.GetFloat("min", 0));
      TIFFIN_ASSIGN_OR_RETURN(a.max, node.GetFloat("max", 0));
    }
    return a;
  }
};

template <typename T>
void ClipLoop(const T* x, T* y, int64_t n, T lo, T hi) {
  // NaN passes through, like numpy.clip; min > max gives max, as ONNX says.
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i] < lo ? lo : x[i];
    y[i] = v > hi ? hi : v;
  }
}

Status ClipCompute(KernelContext& ctx, const ClipAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  const Tensor* tmin = a.from_inputs ? ctx.input(1) : nullptr;
  const Tensor* tmax = a.from_inputs ? ctx.input(2) : nullptr;
  for (const Tensor* b : {tmin, tmax}) {
    if (b == nullptr) continue;
    const char* what = b == tmin ? "min" : "max";
    if (b->dtype() != x->dtype()) {
      return InvalidArgument(node.Describe() + ": " + what + " has dtype " +
                             std::string(DTypeName(b->dtype())) + ", expected " +
                             std::string(DTypeName(x->dtype())) + " like input");
    }
    if (b->size() != 1) {
      return InvalidArgument(node.Describe() + ": " + what + " must be a scalar, got shape " +
                             ShapeToString(b->shape()));
    }
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  auto run = [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = std::conditional_t<std::is_same_v<T, Float16>, float, T>;  // compare type
    auto read = [](const Tensor* t) -> C {
      if constexpr (std::is_same_v<T, Float16>) {
        return static_cast<float>(t->data<Float16>()[0]);
      } else {
        return t->data<T>()[0];
      }
    };
    C lo = std::numeric_limits<C>::lowest(), hi = std::numeric_limits<C>::max();
    if (tmin) lo = read(tmin);
    if (tmax) hi = read(tmax);
    auto from_attr = [](float v) -> C {
      if constexpr (std::is_integral_v<C>) {
        return DoubleToInt<C>(static_cast<double>(v));  // no float->int overflow
      } else {
        return static_cast<C>(v);
      }
    };
    if (a.has_min) lo = from_attr(a.min);
    if (a.has_max) hi = from_attr(a.max);
    if constexpr (std::is_same_v<T, Float16>) {
      HalfBlocks(x->data<Float16>(), y->data<Float16>(), x->size(),
                 [&](const float* in, float* out, int64_t m) { ClipLoop(in, out, m, lo, hi); });
    } else {
      ClipLoop<T>(x->data<T>(), y->data<T>(), x->size(), lo, hi);
    }
    return Status::Ok();
  };
  if (x->dtype() == DType::kFloat16) return run(Float16{});
  return DispatchNumeric(node, x->dtype(), run);
}

// ---------------------------------------------------------------------------
// IsNaN, IsInf.

Status IsNaNCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kBool, x->shape()));
  bool* py = y->data<bool>();
  if (x->dtype() == DType::kFloat16) {
    const Float16* p = x->data<Float16>();
    // NaN: exponent all ones, mantissa non-zero.
    for (int64_t i = 0; i < x->size(); ++i) py[i] = (p[i].bits & 0x7fff) > 0x7c00;
    return Status::Ok();
  }
  return DispatchFloat(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = x->data<T>();
    for (int64_t i = 0; i < x->size(); ++i) py[i] = std::isnan(p[i]);
    return Status::Ok();
  });
}

struct IsInfAttrs {
  bool positive = true, negative = true;
  static Result<IsInfAttrs> Parse(const KernelInit& init) {
    IsInfAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(int64_t pos, init.node.GetInt("detect_positive", 1));
    TIFFIN_ASSIGN_OR_RETURN(int64_t neg, init.node.GetInt("detect_negative", 1));
    a.positive = pos != 0;
    a.negative = neg != 0;
    return a;
  }
};

Status IsInfCompute(KernelContext& ctx, const IsInfAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kBool, x->shape()));
  bool* py = y->data<bool>();
  auto run = [&](const auto* p) {
    for (int64_t i = 0; i < x->size(); ++i) {
      const float v = static_cast<float>(p[i]);
      py[i] = std::isinf(v) && ((v > 0 && a.positive) || (v < 0 && a.negative));
    }
  };
  if (x->dtype() == DType::kFloat16) {
    run(x->data<Float16>());
    return Status::Ok();
  }
  return DispatchFloat(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = x->data<T>();
    for (int64_t i = 0; i < x->size(); ++i) {
      const T v = p[i];
      py[i] = std::isinf(v) && ((v > 0 && a.positive) || (v < 0 && a.negative));
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// Softmax, LogSoftmax, Hardmax.
//
// Before opset 13 the input is coerced to 2-D at `axis` (default 1) and each
// row of the flattened trailing block is normalised; from 13 they work along
// the single `axis` (default -1). Both become [outer, n, inner] here.

enum class Soft { kSoftmax, kLogSoftmax, kHardmax };

struct SoftAttrs {
  int64_t axis = -1;
  bool coerce_2d = false;
  static Result<SoftAttrs> Parse(const KernelInit& init) {
    SoftAttrs a;
    a.coerce_2d = init.node.opset < 13;
    TIFFIN_ASSIGN_OR_RETURN(a.axis, init.node.GetInt("axis", a.coerce_2d ? 1 : -1));
    return a;
  }
};

template <Soft K, typename S>
void SoftRows(const S* x, S* y, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    Eigen::Map<const Arr<S>> X(x + r * n, n);
    Eigen::Map<Arr<S>> Y(y + r * n, n);
    if constexpr (K == Soft::kHardmax) {
      Eigen::Index best = 0;
      X.maxCoeff(&best);  // the first maximum
      Y.setZero();
      Y[best] = S(1);
    } else {
      // Subtracting the row max keeps exp() in range.
      const S m = X.maxCoeff();
      if constexpr (K == Soft::kSoftmax) {
        Y = (X - m).exp();
        Y *= S(1) / Y.sum();
      } else {
        const S lse = m + std::log((X - m).exp().sum());
        Y = X - lse;
      }
    }
  }
}

// The axis is not innermost: normalise columns of [n, inner] slabs, keeping
// the loops contiguous over `inner`.
template <Soft K, typename S>
void SoftColumns(const S* x, S* y, int64_t outer, int64_t n, int64_t inner) {
  Arr<S> m(inner), s(inner);
  Eigen::Array<Eigen::Index, Eigen::Dynamic, 1> arg(inner);
  for (int64_t o = 0; o < outer; ++o) {
    const S* xs = x + o * n * inner;
    S* ys = y + o * n * inner;
    auto row = [&](int64_t i) { return Eigen::Map<const Arr<S>>(xs + i * inner, inner); };
    auto out = [&](int64_t i) { return Eigen::Map<Arr<S>>(ys + i * inner, inner); };
    m = row(0);
    if constexpr (K == Soft::kHardmax) {
      arg.setZero();
      for (int64_t i = 1; i < n; ++i) {
        auto r = row(i);
        for (int64_t k = 0; k < inner; ++k) {
          if (r[k] > m[k]) {
            m[k] = r[k];
            arg[k] = i;
          }
        }
      }
      for (int64_t i = 0; i < n; ++i) out(i) = (arg == i).template cast<S>();
    } else {
      for (int64_t i = 1; i < n; ++i) m = m.max(row(i));
      s.setZero();
      if constexpr (K == Soft::kSoftmax) {
        for (int64_t i = 0; i < n; ++i) {
          out(i) = (row(i) - m).exp();
          s += out(i);
        }
        s = s.inverse();
        for (int64_t i = 0; i < n; ++i) out(i) *= s;
      } else {
        for (int64_t i = 0; i < n; ++i) s += (row(i) - m).exp();
        s = m + s.log();
        for (int64_t i = 0; i < n; ++i) out(i) = row(i) - s;
      }
    }
  }
}

template <Soft K, typename S>
void SoftLoop(const S* x, S* y, int64_t outer, int64_t n, int64_t inner) {
  if (inner == 1) {
    SoftRows<K, S>(x, y, outer, n);
  } else {
    SoftColumns<K, S>(x, y, outer, n, inner);
  }
}

template <Soft K>
Status SoftCompute(KernelContext& ctx, const SoftAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  const int64_t rank = x->rank();
  const Shape& shape = x->shape();
  int64_t axis = 0;
  if (a.coerce_2d) {
    // [d0..d(axis-1)] x [d(axis)..]: axis may equal rank (one column).
    axis = a.axis < 0 ? a.axis + rank : a.axis;
    if (axis < 0 || axis > rank) {
      return InvalidArgument(node.Describe() + ": axis " + std::to_string(a.axis) +
                             " is out of range for rank " + std::to_string(rank));
    }
  } else {
    if (rank == 0) {
      return InvalidArgument(node.Describe() + ": input must have rank >= 1, got a scalar");
    }
    TIFFIN_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, a.axis, rank));
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), shape));
  // Multiply dims only for a non-empty input: an empty one may have other
  // dims whose product overflows int64 (shape [0, 2^40, 2^40]).
  if (y->size() == 0) return Status::Ok();
  int64_t outer = 1, n = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i) {
    if (a.coerce_2d) {
      (i < axis ? outer : n) *= shape[i];
    } else {
      (i < axis ? outer : i == axis ? n : inner) *= shape[i];
    }
  }
  switch (x->dtype()) {
    case DType::kFloat32:
      SoftLoop<K, float>(x->data<float>(), y->data<float>(), outer, n, inner);
      return Status::Ok();
    case DType::kFloat64:
      SoftLoop<K, double>(x->data<double>(), y->data<double>(), outer, n, inner);
      return Status::Ok();
    case DType::kFloat16: {
      Tensor fx = HalfToFloatTensor(*x);
      Tensor fy(DType::kFloat32, shape);
      SoftLoop<K, float>(fx.data<float>(), fy.data<float>(), outer, n, inner);
      FloatToHalfInto(fy, y);
      return Status::Ok();
    }
    default:
      return BadDType(node, "input", x->dtype());
  }
}

template <Act A>
constexpr KernelFactory kAct = MakeAttrKernel<ActAttrs<A>, ActCompute<A>>;

const KernelDef kRows[] = {
    {"Relu", "", 6, kMaxOpset, kAct<Act::kRelu>},
    {"LeakyRelu", "", 6, kMaxOpset, kAct<Act::kLeakyRelu>},
    {"PRelu", "", 7, kMaxOpset, MakeFnKernel<PReluCompute>},
    {"Elu", "", 6, kMaxOpset, kAct<Act::kElu>},
    {"Selu", "", 6, kMaxOpset, kAct<Act::kSelu>},
    {"Celu", "", 12, kMaxOpset, kAct<Act::kCelu>},
    {"Sigmoid", "", 6, kMaxOpset, kAct<Act::kSigmoid>},
    {"HardSigmoid", "", 6, kMaxOpset, kAct<Act::kHardSigmoid>},
    {"HardSwish", "", 14, kMaxOpset, kAct<Act::kHardSwish>},
    {"Tanh", "", 6, kMaxOpset, kAct<Act::kTanh>},
    {"Softplus", "", 1, kMaxOpset, kAct<Act::kSoftplus>},
    {"Softsign", "", 1, kMaxOpset, kAct<Act::kSoftsign>},
    {"Erf", "", 9, kMaxOpset, kAct<Act::kErf>},
    {"Gelu", "", 20, kMaxOpset, kAct<Act::kGelu>},
    {"ThresholdedRelu", "", 10, kMaxOpset, kAct<Act::kThresholdedRelu>},
    {"Mish", "", 18, kMaxOpset, kAct<Act::kMish>},
    {"Shrink", "", 9, kMaxOpset, kAct<Act::kShrink>},
    {"Sin", "", 7, kMaxOpset, kAct<Act::kSin>},
    {"Cos", "", 7, kMaxOpset, kAct<Act::kCos>},
    {"Tan", "", 7, kMaxOpset, kAct<Act::kTan>},
    {"Asin", "", 7, kMaxOpset, kAct<Act::kAsin>},
    {"Acos", "", 7, kMaxOpset, kAct<Act::kAcos>},
    {"Atan", "", 7, kMaxOpset, kAct<Act::kAtan>},
    {"Sinh", "", 9, kMaxOpset, kAct<Act::kSinh>},
    {"Cosh", "", 9, kMaxOpset, kAct<Act::kCosh>},
    {"Asinh", "", 9, kMaxOpset, kAct<Act::kAsinh>},
    {"Acosh", "", 9, kMaxOpset, kAct<Act::kAcosh>},
    {"Atanh", "", 9, kMaxOpset, kAct<Act::kAtanh>},
    {"Clip", "", 6, kMaxOpset, MakeAttrKernel<ClipAttrs, ClipCompute>},
    {"IsNaN", "", 9, kMaxOpset, MakeFnKernel<IsNaNCompute>},
    {"IsInf", "", 10, kMaxOpset, MakeAttrKernel<IsInfAttrs, IsInfCompute>},
    {"Softmax", "", 1, kMaxOpset, MakeAttrKernel<SoftAttrs, SoftCompute<Soft::kSoftmax>>},
    {"LogSoftmax", "", 1, kMaxOpset, MakeAttrKernel<SoftAttrs, SoftCompute<Soft::kLogSoftmax>>},
    {"Hardmax", "", 1, kMaxOpset, MakeAttrKernel<SoftAttrs, SoftCompute<Soft::kHardmax>>},
};

}  // namespace

std::span<const KernelDef> ActivationKernels() { return kRows; }

}  // namespace tiffin::kernels
