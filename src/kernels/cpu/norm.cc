// Normalizations: BatchNormalization, LayerNormalization,
// InstanceNormalization, GroupNormalization, LpNormalization,
// MeanVarianceNormalization, and Dropout (inference: the identity).
//
// Statistics are computed in float for float16/float inputs and in double
// for double, two-pass (mean, then mean squared deviation) so the variance
// never goes negative. float16 tensors are widened to float32 and rounded
// back.
// GCC 12 flags the AVX-512 intrinsics' own `__Y = __Y` idiom as
// (maybe-)uninitialized when Eigen's packet math inlines them (GCC bug 105593).
#pragma GCC diagnostic push
#if !defined(__clang__)  // clang has no -Wmaybe-uninitialized (and no such false positive)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

// a * b, saturating at INT64_MAX. Dims of an empty tensor can multiply past
// int64 ([0, 2^40, 2^40] is a valid shape); saturated sizes then only meet
// parameter-size checks (which fail) or loops that run zero times.
inline int64_t MulSat(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

template <typename S>
using Arr = Eigen::Array<S, Eigen::Dynamic, 1>;
template <typename S>
using CMap = Eigen::Map<const Arr<S>>;
template <typename S>
using MMap = Eigen::Map<Arr<S>>;

// Runs `f(const Tensor& x, Tensor* y)` on a float or double X, widening a
// float16 X to float32 first and rounding the result back.
template <typename F>
Status WithFloatX(const ir::Node& node, const Tensor& x, Tensor* y, F&& f) {
  switch (x.dtype()) {
    case DType::kFloat32:
      return f(float{}, x, y);
    case DType::kFloat64:
      return f(double{}, x, y);
    case DType::kFloat16: {
      Tensor fx = HalfToFloatTensor(x);
      Tensor fy(DType::kFloat32, y->shape());
      TIFFIN_RETURN_IF_ERROR(f(float{}, fx, &fy));
      FloatToHalfInto(fy, y);
      return Status::Ok();
    }
    default:
      return BadDType(node, "X", x.dtype());
  }
}

// Reads a float16/float/double parameter tensor as S values, checking its
// element count.
template <typename S>
Result<std::vector<S>> ReadParam(const ir::Node& node, const Tensor& t, int64_t want,
                                 const char* what) {
  if (t.size() != want) {
    return InvalidArgument(node.Describe() + ": " + what + " has shape " +
                           ShapeToString(t.shape()) + " (" + std::to_string(t.size()) +
                           " elements), expected " + std::to_string(want) + " elements");
  }
  std::vector<S> v(static_cast<size_t>(want));
  switch (t.dtype()) {
    case DType::kFloat32:
      for (int64_t i = 0; i < want; ++i) v[i] = static_cast<S>(t.data<float>()[i]);
      break;
    case DType::kFloat64:
      for (int64_t i = 0; i < want; ++i) v[i] = static_cast<S>(t.data<double>()[i]);
      break;
    case DType::kFloat16:
      for (int64_t i = 0; i < want; ++i)
        v[i] = static_cast<S>(static_cast<float>(t.data<Float16>()[i]));
      break;
    default:
      return BadDType(node, what, t.dtype());
  }
  return v;
}

// Writes S values into a float16/float/double tensor.
template <typename S>
void WriteParam(const std::vector<S>& v, Tensor* t) {
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t->dtype()) {
      case DType::kFloat32:
        t->data<float>()[i] = static_cast<float>(v[i]);
        break;
      case DType::kFloat64:
        t->data<double>()[i] = static_cast<double>(v[i]);
        break;
      case DType::kFloat16:
        t->data<Float16>()[i] = Float16(static_cast<float>(v[i]));
        break;
      default:
        break;
    }
  }
}

// Mean and population variance of n contiguous values.
template <typename S>
inline void MeanVar(const S* p, int64_t n, S* mean, S* var) {
  CMap<S> x(p, n);
  const S m = x.sum() / static_cast<S>(n);
  *mean = m;
  *var = (x - m).square().sum() / static_cast<S>(n);
}

// ---------------------------------------------------------------------------
// BatchNormalization.

struct BatchNormAttrs {
  float epsilon = 1e-5f;
  float momentum = 0.9f;
  bool training = false;     // opset 14+
  bool spatial = true;       // opsets 7-8
  bool old_outputs = false;  // before 14: outputs 1-4 exist only in training

  static Result<BatchNormAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    BatchNormAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.epsilon, node.GetFloat("epsilon", 1e-5f));
    TIFFIN_ASSIGN_OR_RETURN(a.momentum, node.GetFloat("momentum", 0.9f));
    if (node.opset >= 14) {
      TIFFIN_ASSIGN_OR_RETURN(int64_t t, node.GetInt("training_mode", 0));
      a.training = t != 0;
    } else {
      a.old_outputs = true;
    }
    if (node.opset < 9) {
      TIFFIN_ASSIGN_OR_RETURN(int64_t s, node.GetInt("spatial", 1));
      a.spatial = s != 0;
    }
    if (a.epsilon < 0) {
      return InvalidArgument(node.Describe() + ": epsilon must be >= 0, got " +
                             std::to_string(a.epsilon));
    }
    return a;
  }
};

Status BatchNormCompute(KernelContext& ctx, const BatchNormAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1, "scale"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* bias, RequiredInput(ctx, 2, "B"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* mean_in, RequiredInput(ctx, 3, "mean"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* var_in, RequiredInput(ctx, 4, "var"));
  if (x->rank() < 2) {
    return InvalidArgument(node.Describe() + ": X must have rank >= 2 (N x C x ...), got shape " +
                           ShapeToString(x->shape()));
  }
  if (a.old_outputs) {
    for (int i = 1; i < ctx.num_outputs(); ++i) {
      if (ctx.output_wanted(i)) {
        return NotSupported(node.Describe() + ": output " + std::to_string(i) +
                            " (a training statistic) is requested; at opset " +
                            std::to_string(node.opset) +
                            " tiffin runs batch normalization in inference mode only");
      }
    }
  } else if (!a.training && ((ctx.num_outputs() > 1 && ctx.output_wanted(1)) ||
                             (ctx.num_outputs() > 2 && ctx.output_wanted(2)))) {
    return InvalidArgument(node.Describe() +
                           ": running_mean/running_var outputs require training_mode=1");
  }
  if (a.training && !a.spatial) {
    return NotSupported(node.Describe() + ": training mode with spatial=0 is not supported");
  }
  const int64_t n = x->dim(0);
  // spatial=0 (opsets 7-8): statistics per feature (C x D1 x ...) rather than
  // per channel; that is per-channel normalisation with C' = C*D1*... and no
  // spatial extent.
  int64_t c = x->dim(1), inner = 1;
  for (int64_t i = 2; i < x->rank(); ++i) inner = MulSat(inner, x->dim(i));
  if (!a.spatial) {
    c = MulSat(c, inner);
    inner = 1;
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  Tensor* run_mean = nullptr;
  Tensor* run_var = nullptr;
  if (a.training) {
    if (ctx.num_outputs() > 1 && ctx.output_wanted(1)) {
      TIFFIN_ASSIGN_OR_RETURN(run_mean, ctx.Output(1, mean_in->dtype(), mean_in->shape()));
    }
    if (ctx.num_outputs() > 2 && ctx.output_wanted(2)) {
      TIFFIN_ASSIGN_OR_RETURN(run_var, ctx.Output(2, var_in->dtype(), var_in->shape()));
    }
  }
  return WithFloatX(node, *x, y, [&](auto tag, const Tensor& fx, Tensor* fy) -> Status {
    using S = decltype(tag);
    TIFFIN_ASSIGN_OR_RETURN(std::vector<S> sc, ReadParam<S>(node, *scale, c, "scale"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<S> b, ReadParam<S>(node, *bias, c, "B"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<S> mean, ReadParam<S>(node, *mean_in, c, "mean"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<S> var, ReadParam<S>(node, *var_in, c, "var"));
    const S* px = fx.data<S>();
    S* py = fy->data<S>();
    if (a.training) {
      // Batch statistics (population variance) over N and the spatial dims;
      // the running statistics blend them in with `momentum`.
      const S count = static_cast<S>(n * inner);
      const S mom = static_cast<S>(a.momentum);
      for (int64_t ch = 0; ch < c; ++ch) {
        S sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += CMap<S>(px + (i * c + ch) * inner, inner).sum();
        const S m = count > 0 ? sum / count : S(0);
        S sq = 0;
        for (int64_t i = 0; i < n; ++i)
          sq += (CMap<S>(px + (i * c + ch) * inner, inner) - m).square().sum();
        const S v = count > 0 ? sq / count : S(0);
        mean[ch] = mean[ch] * mom + m * (S(1) - mom);
        var[ch] = var[ch] * mom + v * (S(1) - mom);
        // Normalise with the batch statistics.
        const S k = sc[ch] / std::sqrt(v + static_cast<S>(a.epsilon));
        sc[ch] = k;
        b[ch] = b[ch] - m * k;
      }
      if (run_mean) WriteParam(mean, run_mean);
      if (run_var) WriteParam(var, run_var);
    } else {
      // y = x * k + (B - mean * k) with k = scale / sqrt(var + eps).
      for (int64_t ch = 0; ch < c; ++ch) {
        const S k = sc[ch] / std::sqrt(var[ch] + static_cast<S>(a.epsilon));
        sc[ch] = k;
        b[ch] = b[ch] - mean[ch] * k;
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t off = (i * c + ch) * inner;
        const S k = sc[ch], d = b[ch];
        const S* xs = px + off;
        S* ys = py + off;
        for (int64_t j = 0; j < inner; ++j) ys[j] = xs[j] * k + d;
      }
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// LayerNormalization (opset 17).

struct LayerNormAttrs {
  int64_t axis = -1;
  float epsilon = 1e-5f;
  DType stash = DType::kFloat32;
  static Result<LayerNormAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    LayerNormAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.axis, node.GetInt("axis", -1));
    TIFFIN_ASSIGN_OR_RETURN(a.epsilon, node.GetFloat("epsilon", 1e-5f));
    TIFFIN_ASSIGN_OR_RETURN(int64_t stash, node.GetInt("stash_type", 1));
    if (stash == 1) {
      a.stash = DType::kFloat32;
    } else if (stash == 11) {
      a.stash = DType::kFloat64;
    } else {
      return NotSupported(node.Describe() + ": stash_type " + std::to_string(stash) +
                          " is not supported (use 1, float32)");
    }
    return a;
  }
};

// Expands `p` (which must broadcast to `norm_shape`) into a dense vector of
// the normalised block's size.
template <typename S>
Result<std::vector<S>> ExpandParam(const ir::Node& node, const Tensor& p, const Shape& norm_shape,
                                   int64_t size, const char* what) {
  if (p.size() == size) return ReadParam<S>(node, p, size, what);
  TIFFIN_ASSIGN_OR_RETURN(Shape b, BroadcastShapes(node, norm_shape, p.shape()));
  if (b != norm_shape) {
    return InvalidArgument(node.Describe() + ": " + what + " of shape " + ShapeToString(p.shape()) +
                           " does not broadcast to the normalized shape " +
                           ShapeToString(norm_shape));
  }
  TIFFIN_ASSIGN_OR_RETURN(std::vector<S> small, ReadParam<S>(node, p, p.size(), what));
  std::vector<S> out(static_cast<size_t>(size));
  const auto sd = BroadcastStrides(norm_shape, norm_shape);
  const auto sp = BroadcastStrides(p.shape(), norm_shape);
  ForEachBroadcast(norm_shape, sd, sp, [&](int64_t o, int64_t, int64_t j) { out[o] = small[j]; });
  return out;
}

Status LayerNormCompute(KernelContext& ctx, const LayerNormAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1, "Scale"));
  const Tensor* bias = ctx.input(2);
  if (x->rank() == 0) {
    return InvalidArgument(node.Describe() + ": X must have rank >= 1, got a scalar");
  }
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, a.axis, x->rank()));
  int64_t rows = 1, d = 1;
  Shape norm_shape, stat_shape;
  for (int64_t i = 0; i < x->rank(); ++i) {
    if (i < axis) {
      rows *= x->dim(i);  // a prefix: fits, as the shape's element count did
      stat_shape.push_back(x->dim(i));
    } else {
      // With rows = 0 these dims may multiply past int64, or to a size that
      // the parameter expansion below must not allocate: see rows == 0.
      d = MulSat(d, x->dim(i));
      norm_shape.push_back(x->dim(i));
      stat_shape.push_back(1);
    }
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  Tensor* mean_out = nullptr;
  Tensor* inv_out = nullptr;
  if (ctx.num_outputs() > 1 && ctx.output_wanted(1)) {
    TIFFIN_ASSIGN_OR_RETURN(mean_out, ctx.Output(1, a.stash, stat_shape));
  }
  if (ctx.num_outputs() > 2 && ctx.output_wanted(2)) {
    TIFFIN_ASSIGN_OR_RETURN(inv_out, ctx.Output(2, a.stash, stat_shape));
  }
  // No rows: nothing to normalise, and d (the block size) is unbounded by
  // the input's size, so Scale/B must not be expanded to it.
  if (rows == 0) return Status::Ok();
  return WithFloatX(node, *x, y, [&](auto tag, const Tensor& fx, Tensor* fy) -> Status {
    using S = decltype(tag);
    TIFFIN_ASSIGN_OR_RETURN(std::vector<S> sc,
                            ExpandParam<S>(node, *scale, norm_shape, d, "Scale"));
    std::vector<S> b;
    if (bias != nullptr) {
      TIFFIN_ASSIGN_OR_RETURN(b, ExpandParam<S>(node, *bias, norm_shape, d, "B"));
    }
    const S eps = static_cast<S>(a.epsilon);
    CMap<S> scv(sc.data(), d);
    for (int64_t r = 0; r < rows; ++r) {
      const S* xr = fx.data<S>() + r * d;
      S* yr = fy->data<S>() + r * d;
      S mean = 0, var = 0;
      if (d > 0) MeanVar(xr, d, &mean, &var);
      const S inv = S(1) / std::sqrt(var + eps);
      MMap<S> yv(yr, d);
      if (bias != nullptr) {
        yv = (CMap<S>(xr, d) - mean) * inv * scv + CMap<S>(b.data(), d);
      } else {
        yv = (CMap<S>(xr, d) - mean) * inv * scv;
      }
      if (mean_out) {
        if (a.stash == DType::kFloat32) {
          mean_out->data<float>()[r] = static_cast<float>(mean);
        } else {
          mean_out->data<double>()[r] = static_cast<double>(mean);
        }
      }
      if (inv_out) {
        if (a.stash == DType::kFloat32) {
          inv_out->data<float>()[r] = static_cast<float>(inv);
        } else {
          inv_out->data<double>()[r] = static_cast<double>(inv);
        }
      }
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// InstanceNormalization and GroupNormalization: statistics per (n, channel)
// or per (n, group) over contiguous slabs.

struct EpsAttrs {
  float epsilon = 1e-5f;
  static Result<EpsAttrs> Parse(const KernelInit& init) {
    EpsAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.epsilon, init.node.GetFloat("epsilon", 1e-5f));
    return a;
  }
};

// Normalises [n, groups, channels_per_group, spatial] slabs; scale/bias
// index by channel (c = group * cpg + k).
template <typename S>
void GroupLoop(const S* x, S* y, int64_t n, int64_t groups, int64_t cpg, int64_t spatial,
               const std::vector<S>& scale, const std::vector<S>& bias, S eps) {
  const int64_t slab = cpg * spatial;
  for (int64_t i = 0; i < n * groups; ++i) {
    const S* xs = x + i * slab;
    S* ys = y + i * slab;
    S mean = 0, var = 0;
    if (slab > 0) MeanVar(xs, slab, &mean, &var);
    const S inv = S(1) / std::sqrt(var + eps);
    const int64_t g = i % groups;
    for (int64_t k = 0; k < cpg; ++k) {
      const int64_t c = g * cpg + k;
      const S mul = inv * scale[c], add = bias[c] - mean * mul;
      MMap<S>(ys + k * spatial, spatial) = CMap<S>(xs + k * spatial, spatial) * mul + add;
    }
  }
}

Status InstanceNormCompute(KernelContext& ctx, const EpsAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1, "scale"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* bias, RequiredInput(ctx, 2, "B"));
  if (x->rank() < 2) {
    return InvalidArgument(node.Describe() +
                           ": input must have rank >= 2 (N x C x ...), got shape " +
                           ShapeToString(x->shape()));
  }
  const int64_t n = x->dim(0), c = x->dim(1);
  int64_t spatial = 1;
  for (int64_t i = 2; i < x->rank(); ++i) spatial = MulSat(spatial, x->dim(i));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  return WithFloatX(node, *x, y, [&](auto tag, const Tensor& fx, Tensor* fy) -> Status {
    using S = decltype(tag);
    TIFFIN_ASSIGN_OR_RETURN(std::vector<S> sc, ReadParam<S>(node, *scale, c, "scale"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<S> b, ReadParam<S>(node, *bias, c, "B"));
    GroupLoop<S>(fx.data<S>(), fy->data<S>(), n, c, 1, spatial, sc, b, static_cast<S>(a.epsilon));
    return Status::Ok();
  });
}

struct GroupNormAttrs {
  float epsilon = 1e-5f;
  int64_t num_groups = 0;
  bool per_channel = false;  // opset 21: scale/bias have C entries
  static Result<GroupNormAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    GroupNormAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.epsilon, node.GetFloat("epsilon", 1e-5f));
    if (!node.HasAttribute("num_groups")) {
      return InvalidArgument(node.Describe() + ": attribute 'num_groups' is required");
    }
    TIFFIN_ASSIGN_OR_RETURN(a.num_groups, node.GetInt("num_groups", 0));
    if (a.num_groups <= 0) {
      return InvalidArgument(node.Describe() + ": num_groups must be > 0, got " +
                             std::to_string(a.num_groups));
    }
    a.per_channel = node.opset >= 21;
    TIFFIN_ASSIGN_OR_RETURN(int64_t stash, node.GetInt("stash_type", 1));
    if (stash != 1) {
      return NotSupported(node.Describe() + ": stash_type " + std::to_string(stash) +
                          " is not supported (use 1, float32)");
    }
    return a;
  }
};

Status GroupNormCompute(KernelContext& ctx, const GroupNormAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1, "scale"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* bias, RequiredInput(ctx, 2, "bias"));
  if (x->rank() < 2) {
    return InvalidArgument(node.Describe() + ": X must have rank >= 2 (N x C x ...), got shape " +
                           ShapeToString(x->shape()));
  }
  const int64_t n = x->dim(0), c = x->dim(1), g = a.num_groups;
  if (c % g != 0) {
    return InvalidArgument(node.Describe() + ": channels " + std::to_string(c) +
                           " are not divisible by num_groups " + std::to_string(g));
  }
  const int64_t cpg = c / g;
  int64_t spatial = 1;
  for (int64_t i = 2; i < x->rank(); ++i) spatial = MulSat(spatial, x->dim(i));
  // Opset 18-20 gives scale/bias one entry per group; 21 one per channel.
  // Before 21 a C-sized scale (what some exporters emit) is accepted too.
  const bool per_channel = a.per_channel || (scale->size() == c && c != g);
  const int64_t want = per_channel ? c : g;
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  return WithFloatX(node, *x, y, [&](auto tag, const Tensor& fx, Tensor* fy) -> Status {
    using S = decltype(tag);
    TIFFIN_ASSIGN_OR_RETURN(std::vector<S> sc, ReadParam<S>(node, *scale, want, "scale"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<S> b, ReadParam<S>(node, *bias, want, "bias"));
    if (!per_channel) {  // repeat each group's value over its channels
      std::vector<S> sc_c(static_cast<size_t>(c)), b_c(static_cast<size_t>(c));
      for (int64_t ch = 0; ch < c; ++ch) {
        sc_c[ch] = sc[ch / cpg];
        b_c[ch] = b[ch / cpg];
      }
      sc.swap(sc_c);
      b.swap(b_c);
    }
    GroupLoop<S>(fx.data<S>(), fy->data<S>(), n, g, cpg, spatial, sc, b, static_cast<S>(a.epsilon));
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// LpNormalization: x / ||x||_p along one axis (p = 1 or 2).

struct LpNormAttrs {
  int64_t axis = -1;
  int64_t p = 2;
  static Result<LpNormAttrs> Parse(const KernelInit& init) {
    LpNormAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.axis, init.node.GetInt("axis", -1));
    TIFFIN_ASSIGN_OR_RETURN(a.p, init.node.GetInt("p", 2));
    if (a.p != 1 && a.p != 2) {
      return InvalidArgument(init.node.Describe() + ": p must be 1 or 2, got " +
                             std::to_string(a.p));
    }
    return a;
  }
};

Status LpNormCompute(KernelContext& ctx, const LpNormAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->rank() == 0) {
    return InvalidArgument(node.Describe() + ": input must have rank >= 1, got a scalar");
  }
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, a.axis, x->rank()));
  int64_t outer = 1, n = x->dim(axis), inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
  for (int64_t i = axis + 1; i < x->rank(); ++i) inner = MulSat(inner, x->dim(i));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  // An empty input's inner extent need not fit anything: no accumulators.
  if (x->size() == 0) return Status::Ok();
  return WithFloatX(node, *x, y, [&](auto tag, const Tensor& fx, Tensor* fy) -> Status {
    using S = decltype(tag);
    const S* px = fx.data<S>();
    S* py = fy->data<S>();
    // A zero norm leaves the (all-zero) vector as it is rather than 0/0.
    auto inv_norm = [&](S acc) -> S {
      const S norm = a.p == 1 ? acc : std::sqrt(acc);
      return norm == S(0) ? S(1) : S(1) / norm;
    };
    if (inner == 1) {
      for (int64_t o = 0; o < outer; ++o) {
        CMap<S> xv(px + o * n, n);
        const S acc = a.p == 1 ? xv.abs().sum() : xv.square().sum();
        MMap<S>(py + o * n, n) = xv * inv_norm(acc);
      }
      return Status::Ok();
    }
    Arr<S> acc(inner);
    for (int64_t o = 0; o < outer; ++o) {
      const S* xs = px + o * n * inner;
      S* ys = py + o * n * inner;
      acc.setZero();
      for (int64_t i = 0; i < n; ++i) {
        CMap<S> row(xs + i * inner, inner);
        if (a.p == 1) {
          acc += row.abs();
        } else {
          acc += row.square();
        }
      }
      for (int64_t k = 0; k < inner; ++k) acc[k] = inv_norm(acc[k]);
      for (int64_t i = 0; i < n; ++i)
        MMap<S>(ys + i * inner, inner) = CMap<S>(xs + i * inner, inner) * acc;
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// MeanVarianceNormalization: (x - mean) / (std + 1e-9) over `axes`, as the
// ONNX function body defines it.

struct MvnAttrs {
  std::vector<int64_t> axes;
  static Result<MvnAttrs> Parse(const KernelInit& init) {
    MvnAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.axes, init.node.GetInts("axes", {0, 2, 3}));
    return a;
  }
};

Status MvnCompute(KernelContext& ctx, const MvnAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  const int64_t rank = x->rank();
  std::vector<char> reduced(static_cast<size_t>(rank), 0);
  for (int64_t ax : a.axes) {
    if (ax < -rank || ax >= rank) {
      return InvalidArgument(node.Describe() + ": axis " + std::to_string(ax) +
                             " is out of range for input rank " + std::to_string(rank));
    }
    reduced[static_cast<size_t>(ax < 0 ? ax + rank : ax)] = 1;
  }
  // Each element's statistics slot: its index over the kept dims.
  std::vector<int64_t> kstride(static_cast<size_t>(rank), 0);
  int64_t slots = 1;
  for (int64_t i = rank - 1; i >= 0; --i) {
    if (!reduced[i]) {
      kstride[i] = slots;
      slots = MulSat(slots, x->dim(i));  // only an empty x can saturate
    }
  }
  const int64_t count = slots == 0 ? 0 : x->size() / slots;
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  if (x->size() == 0) return Status::Ok();
  return WithFloatX(node, *x, y, [&](auto tag, const Tensor& fx, Tensor* fy) -> Status {
    using S = decltype(tag);
    const S* px = fx.data<S>();
    S* py = fy->data<S>();
    const int64_t total = fx.size();
    std::vector<int64_t> slot(static_cast<size_t>(total));
    {
      std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
      int64_t s = 0;
      for (int64_t e = 0; e < total; ++e) {
        slot[e] = s;
        for (int64_t d = rank - 1; d >= 0; --d) {
          s += kstride[d];
          if (++idx[d] < x->dim(d)) break;
          s -= kstride[d] * x->dim(d);
          idx[d] = 0;
        }
      }
    }
    std::vector<S> mean(static_cast<size_t>(slots), S(0)), var(static_cast<size_t>(slots), S(0));
    for (int64_t e = 0; e < total; ++e) mean[slot[e]] += px[e];
    for (auto& m : mean) m /= static_cast<S>(count);
    for (int64_t e = 0; e < total; ++e) {
      const S dlt = px[e] - mean[slot[e]];
      var[slot[e]] += dlt * dlt;
    }
    for (auto& v : var) v = S(1) / (std::sqrt(v / static_cast<S>(count)) + static_cast<S>(1e-9));
    for (int64_t e = 0; e < total; ++e) py[e] = (px[e] - mean[slot[e]]) * var[slot[e]];
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// Dropout: inference is the identity; the mask, when asked for, is all ones.

struct DropoutAttrs {
  float ratio = 0.5f;        // the attribute, before opset 12
  bool ratio_input = false;  // opset 12+: ratio and training_mode inputs
  bool mask_bool = true;     // opset 10+: the mask is bool (before: T)
  static Result<DropoutAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    DropoutAttrs a;
    a.ratio_input = node.opset >= 12;
    a.mask_bool = node.opset >= 10;
    if (!a.ratio_input) {
      TIFFIN_ASSIGN_OR_RETURN(a.ratio, node.GetFloat("ratio", 0.5f));
    }
    return a;
  }
};

Status DropoutCompute(KernelContext& ctx, const DropoutAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  if (a.ratio_input) {
    const Tensor* training = ctx.input(2);
    bool train = false;
    if (training != nullptr) {
      if (training->dtype() != DType::kBool || training->size() != 1) {
        return InvalidArgument(node.Describe() + ": training_mode must be a bool scalar, got " +
                               std::string(DTypeName(training->dtype())) + " of shape " +
                               ShapeToString(training->shape()));
      }
      train = training->data<bool>()[0];
    }
    if (train) {
      double ratio = 0.5;
      if (const Tensor* r = ctx.input(1)) {
        TIFFIN_ASSIGN_OR_RETURN(ratio, ScalarAsDouble(node, *r, "ratio"));
      }
      if (ratio != 0) {
        return NotSupported(node.Describe() + ": training_mode is true with ratio " +
                            std::to_string(ratio) +
                            ": random dropout masks are not supported (tiffin runs inference; "
                            "export the model in eval mode)");
      }
    }
  }
  TIFFIN_RETURN_IF_ERROR(ctx.SetOutput(0, *x));
  if (ctx.num_outputs() > 1 && ctx.output_wanted(1)) {
    if (a.mask_bool) {
      TIFFIN_ASSIGN_OR_RETURN(Tensor * m, ctx.Output(1, DType::kBool, x->shape()));
      std::fill(m->data<bool>(), m->data<bool>() + m->size(), true);
    } else {
      TIFFIN_ASSIGN_OR_RETURN(Tensor * m, ctx.Output(1, x->dtype(), x->shape()));
      switch (x->dtype()) {
        case DType::kFloat32:
          std::fill(m->data<float>(), m->data<float>() + m->size(), 1.0f);
          break;
        case DType::kFloat64:
          std::fill(m->data<double>(), m->data<double>() + m->size(), 1.0);
          break;
        case DType::kFloat16:
          std::fill(m->data<Float16>(), m->data<Float16>() + m->size(), Float16(1.0f));
          break;
        default:
          return BadDType(node, "data", x->dtype());
      }
    }
  }
  return Status::Ok();
}

const KernelDef kRows[] = {
    {"BatchNormalization", "", 7, kMaxOpset, MakeAttrKernel<BatchNormAttrs, BatchNormCompute>},
    {"LayerNormalization", "", 17, kMaxOpset, MakeAttrKernel<LayerNormAttrs, LayerNormCompute>},
    {"InstanceNormalization", "", 6, kMaxOpset, MakeAttrKernel<EpsAttrs, InstanceNormCompute>},
    {"GroupNormalization", "", 18, kMaxOpset, MakeAttrKernel<GroupNormAttrs, GroupNormCompute>},
    {"LpNormalization", "", 1, kMaxOpset, MakeAttrKernel<LpNormAttrs, LpNormCompute>},
    {"MeanVarianceNormalization", "", 9, kMaxOpset, MakeAttrKernel<MvnAttrs, MvnCompute>},
    {"Dropout", "", 7, kMaxOpset, MakeAttrKernel<DropoutAttrs, DropoutCompute>},
};

}  // namespace

std::span<const KernelDef> NormKernels() { return kRows; }

}  // namespace tiffin::kernels
