// Linear quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
// QLinearMatMul, MatMulInteger. 8-bit integer types only (float8 and int4 are
// refused by dtype). Rounding is half to even and results saturate, as the
// ONNX spec and ONNX Runtime do.
#include <cmath>
#include <limits>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

// Clamps to Q's range. NaN (x / 0 scale, inf - inf) gives 0: converting it
// to an integer would be undefined behaviour.
template <typename Q>
Q Saturate(float v) {
  if (std::isnan(v)) return Q(0);
  const float lo = static_cast<float>(std::numeric_limits<Q>::min());
  const float hi = static_cast<float>(std::numeric_limits<Q>::max());
  return static_cast<Q>(std::min(std::max(v, lo), hi));
}

// Scale/zero-point of `axis` element i for per-tensor (size 1) or per-axis
// (1-D of the axis length) parameters.
struct PerAxis {
  int64_t axis = 1;
  int64_t outer = 1, len = 1, inner = 1;  // x viewed as [outer, len, inner]
  bool per_axis = false;
  int64_t Index(int64_t flat) const { return per_axis ? (flat / inner) % len : 0; }
};

Result<PerAxis> MakePerAxis(const ir::Node& node, const Tensor& x, const Tensor& scale,
                            int64_t axis) {
  PerAxis p;
  if (scale.size() == 1 && scale.rank() <= 1) return p;
  if (scale.rank() != 1) {
    return NotSupported(node.Describe() + ": scale of shape " + ShapeToString(scale.shape()) +
                        " (blocked quantization) is not supported; use a scalar or 1-D scale");
  }
  TIFFIN_ASSIGN_OR_RETURN(p.axis, NormalizeAxis(node, axis, x.rank()));
  p.len = x.dim(p.axis);
  if (scale.size() != p.len) {
    return InvalidArgument(node.Describe() + ": scale has " + std::to_string(scale.size()) +
                           " values, but axis " + std::to_string(p.axis) + " of x has " +
                           std::to_string(p.len));
  }
  if (x.size() > 0) {  // an empty x's other dims may multiply past int64
    for (int64_t d = 0; d < p.axis; ++d) p.outer *= x.dim(d);
    for (int64_t d = p.axis + 1; d < x.rank(); ++d) p.inner *= x.dim(d);
  }
  p.per_axis = true;
  return p;
}

struct AxisAttrs {
  int64_t axis = 1;
  static Result<AxisAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t axis, init.node.GetInt("axis", 1));
    TIFFIN_ASSIGN_OR_RETURN(int64_t block, init.node.GetInt("block_size", 0));
    if (block != 0) {
      return NotSupported(init.node.Describe() + ": block_size " + std::to_string(block) +
                          " (blocked quantization) is not supported");
    }
    TIFFIN_ASSIGN_OR_RETURN(int64_t out_dtype, init.node.GetInt("output_dtype", 0));
    if (out_dtype != 0 && out_dtype != static_cast<int64_t>(DType::kUInt8) &&
        out_dtype != static_cast<int64_t>(DType::kInt8)) {
      return NotSupported(init.node.Describe() + ": output_dtype " + std::to_string(out_dtype) +
                          " is not supported (uint8 and int8 are)");
    }
    return AxisAttrs{axis};
  }
};

Result<float> FloatAt(const ir::Node& node, const Tensor& t, int64_t i, const char* what) {
  switch (t.dtype()) {
    case DType::kFloat32:
      return t.data<float>()[i];
    case DType::kFloat16:
      return static_cast<float>(t.data<Float16>()[i]);
    case DType::kFloat64:
      return static_cast<float>(t.data<double>()[i]);
    default:
      return BadDType(node, what, t.dtype());
  }
}

Status QuantizeCompute(KernelContext& ctx, const AxisAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "x"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1, "y_scale"));
  const Tensor* zp = ctx.input(2);
  TIFFIN_ASSIGN_OR_RETURN(PerAxis pa, MakePerAxis(node, *x, *scale, a.axis));
  if (zp && zp->size() != scale->size()) {
    return InvalidArgument(node.Describe() + ": y_zero_point and y_scale differ in size");
  }
  DType out_dt = zp ? zp->dtype() : DType::kUInt8;
  if (out_dt != DType::kUInt8 && out_dt != DType::kInt8)
    return BadDType(node, "y_zero_point", out_dt);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, out_dt, x->shape()));
  auto run = [&](auto tag) -> Status {
    using Q = decltype(tag);
    Q* out = y->data<Q>();
    for (int64_t i = 0; i < x->size(); ++i) {
      int64_t k = pa.Index(i);
      TIFFIN_ASSIGN_OR_RETURN(float xv, FloatAt(node, *x, i, "x"));
      TIFFIN_ASSIGN_OR_RETURN(float s, FloatAt(node, *scale, k, "y_scale"));
      float z = zp ? static_cast<float>(zp->data<Q>()[k]) : 0.f;
      out[i] = Saturate<Q>(std::nearbyint(xv / s) + z);
    }
    return Status::Ok();
  };
  return out_dt == DType::kUInt8 ? run(uint8_t{}) : run(int8_t{});
}

Status DequantizeCompute(KernelContext& ctx, const AxisAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "x"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1, "x_scale"));
  const Tensor* zp = ctx.input(2);
  TIFFIN_ASSIGN_OR_RETURN(PerAxis pa, MakePerAxis(node, *x, *scale, a.axis));
  if (zp && (zp->size() != scale->size() || zp->dtype() != x->dtype())) {
    return InvalidArgument(node.Describe() +
                           ": x_zero_point must match x's dtype and x_scale's size");
  }
  const DType out_dt = scale->dtype();
  if (out_dt != DType::kFloat32) return BadDType(node, "x_scale", out_dt);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kFloat32, x->shape()));
  auto run = [&](auto tag) -> Status {
    using Q = decltype(tag);
    const Q* in = x->data<Q>();
    float* out = y->data<float>();
    const float* s = scale->data<float>();
    for (int64_t i = 0; i < x->size(); ++i) {
      int64_t k = pa.Index(i);
      float z = zp ? static_cast<float>(zp->data<Q>()[k]) : 0.f;
      out[i] = (static_cast<float>(in[i]) - z) * s[k];
    }
    return Status::Ok();
  };
  switch (x->dtype()) {
    case DType::kUInt8:
      return run(uint8_t{});
    case DType::kInt8:
      return run(int8_t{});
    case DType::kInt32:
      return run(int32_t{});
    default:
      return BadDType(node, "x", x->dtype());
  }
}

Status DynamicQuantizeCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "x"));
  if (x->dtype() != DType::kFloat32) return BadDType(node, "x", x->dtype());
  const float* in = x->data<float>();
  float lo = 0, hi = 0;  // the range always includes zero
  for (int64_t i = 0; i < x->size(); ++i) {
    lo = std::min(lo, in[i]);
    hi = std::max(hi, in[i]);
  }
  const float scale = (hi - lo) / 255.f;
  // Saturate: with an infinite input, -lo / scale is NaN.
  const float zp =
      scale == 0 ? 0.f : static_cast<float>(Saturate<uint8_t>(std::nearbyint(-lo / scale)));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kUInt8, x->shape()));
  for (int64_t i = 0; i < x->size(); ++i) {
    y->data<uint8_t>()[i] = scale == 0 ? static_cast<uint8_t>(zp)
                                       : Saturate<uint8_t>(std::nearbyint(in[i] / scale) + zp);
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * ys, ctx.Output(1, DType::kFloat32, {}));
  ys->data<float>()[0] = scale;
  TIFFIN_ASSIGN_OR_RETURN(Tensor * yz, ctx.Output(2, DType::kUInt8, {}));
  yz->data<uint8_t>()[0] = static_cast<uint8_t>(zp);
  return Status::Ok();
}

// The output shape of an integer matrix product of A [..., M, K] and
// B [..., K, N] (batch dims broadcast).
Result<Shape> IntMatMulShape(const ir::Node& node, const Tensor& a, const Tensor& b) {
  if (a.rank() < 2 || b.rank() < 2) {
    return NotSupported(node.Describe() + ": inputs of rank below 2 are not supported here");
  }
  const int64_t M = a.dim(a.rank() - 2), K = a.dim(a.rank() - 1);
  const int64_t K2 = b.dim(b.rank() - 2), N = b.dim(b.rank() - 1);
  if (K != K2) {
    return InvalidArgument(node.Describe() + ": inner dims differ: A " + ShapeToString(a.shape()) +
                           ", B " + ShapeToString(b.shape()));
  }
  Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  TIFFIN_ASSIGN_OR_RETURN(Shape out_shape, BroadcastShapes(node, ab, bb));
  out_shape.push_back(M);
  out_shape.push_back(N);
  return out_shape;
}

// The product itself, with zero points, accumulating in int32 that wraps on
// overflow (as ONNX Runtime's int32 accumulators do; a signed overflow would
// be undefined). `finish(acc, i)` turns each accumulator into output element
// i. REQUIRES: out_shape = IntMatMulShape(a, b), and the caller has already
// allocated the output through ctx.Output, so that its size is bounded before
// any work is done.
template <typename TA, typename TB, typename F>
void IntMatMul(const Tensor& a, const Tensor& b, const Shape& out_shape, int64_t out_size,
               int32_t a_zp, int32_t b_zp, F&& finish) {
  const int64_t M = a.dim(a.rank() - 2), K = a.dim(a.rank() - 1), N = b.dim(b.rank() - 1);
  const Shape ab(a.shape().begin(), a.shape().end() - 2),
      bb(b.shape().begin(), b.shape().end() - 2);
  const Shape batch(out_shape.begin(), out_shape.end() - 2);
  // An empty output's dims may multiply past int64; a non-empty one's fit.
  if (out_size == 0) return;
  int64_t n_batch = 1;
  for (int64_t d : batch) n_batch *= d;
  auto sa = BroadcastStrides(ab, batch), sb = BroadcastStrides(bb, batch);
  const auto out_strides = Strides(batch);
  std::vector<uint32_t> acc(static_cast<size_t>(N));  // N <= the output size
  for (int64_t bi = 0; bi < n_batch; ++bi) {
    int64_t ia = 0, ib = 0, rem = bi;
    for (size_t d = 0; d < batch.size(); ++d) {
      int64_t idx = rem / out_strides[d];
      rem -= idx * out_strides[d];
      ia += idx * sa[d];
      ib += idx * sb[d];
    }
    const TA* pa = a.data<TA>() + ia * M * K;
    const TB* pb = b.data<TB>() + ib * K * N;
    for (int64_t m = 0; m < M; ++m) {
      std::fill(acc.begin(), acc.end(), 0u);
      for (int64_t k = 0; k < K; ++k) {
        // |av|, |bv| <= 383: each product fits int32; only the sum can wrap.
        const int32_t av = static_cast<int32_t>(pa[m * K + k]) - a_zp;
        const TB* row = pb + k * N;
        for (int64_t n = 0; n < N; ++n) {
          acc[static_cast<size_t>(n)] +=
              static_cast<uint32_t>(av * (static_cast<int32_t>(row[n]) - b_zp));
        }
      }
      for (int64_t n = 0; n < N; ++n) {
        finish(static_cast<int32_t>(acc[static_cast<size_t>(n)]), (bi * M + m) * N + n);
      }
    }
  }
}

Result<int32_t> ZeroPoint(const ir::Node& node, const Tensor* zp, const char* what) {
  if (zp == nullptr) return 0;
  if (zp->size() != 1) {
    return NotSupported(node.Describe() + ": " + what +
                        " must be a scalar (per-axis zero points "
                        "are not supported here)");
  }
  switch (zp->dtype()) {
    case DType::kUInt8:
      return static_cast<int32_t>(zp->data<uint8_t>()[0]);
    case DType::kInt8:
      return static_cast<int32_t>(zp->data<int8_t>()[0]);
    default:
      return BadDType(node, what, zp->dtype());
  }
}

// Dispatches over the (A, B) 8-bit type pairs.
template <typename F>
Status Dispatch8(const ir::Node& node, DType da, DType db, F&& f) {
  auto is8 = [](DType d) { return d == DType::kUInt8 || d == DType::kInt8; };
  if (!is8(da)) return BadDType(node, "A", da);
  if (!is8(db)) return BadDType(node, "B", db);
  if (da == DType::kUInt8 && db == DType::kUInt8) return f(uint8_t{}, uint8_t{});
  if (da == DType::kUInt8) return f(uint8_t{}, int8_t{});
  if (db == DType::kUInt8) return f(int8_t{}, uint8_t{});
  return f(int8_t{}, int8_t{});
}

Status MatMulIntegerCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "A"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1, "B"));
  TIFFIN_ASSIGN_OR_RETURN(int32_t a_zp, ZeroPoint(node, ctx.input(2), "a_zero_point"));
  TIFFIN_ASSIGN_OR_RETURN(int32_t b_zp, ZeroPoint(node, ctx.input(3), "b_zero_point"));
  TIFFIN_ASSIGN_OR_RETURN(Shape shape, IntMatMulShape(node, *a, *b));
  auto run = [&](auto ta, auto tb) -> Status {
    using TA = decltype(ta);
    using TB = decltype(tb);
    // The output is allocated (and its size checked) before any work.
    TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kInt32, shape));
    int32_t* out = y->data<int32_t>();
    IntMatMul<TA, TB>(*a, *b, shape, y->size(), a_zp, b_zp,
                      [&](int32_t acc, int64_t i) { out[i] = acc; });
    return Status::Ok();
  };
  return Dispatch8(node, a->dtype(), b->dtype(), run);
}

Status QLinearMatMulCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "a"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a_scale, RequiredInput(ctx, 1, "a_scale"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a_zp_t, RequiredInput(ctx, 2, "a_zero_point"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 3, "b"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b_scale, RequiredInput(ctx, 4, "b_scale"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b_zp_t, RequiredInput(ctx, 5, "b_zero_point"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* y_scale, RequiredInput(ctx, 6, "y_scale"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* y_zp_t, RequiredInput(ctx, 7, "y_zero_point"));
  for (const Tensor* s : {a_scale, b_scale, y_scale}) {
    if (s->size() != 1) {
      return NotSupported(node.Describe() +
                          ": per-axis scales are not supported (scalar scales are)");
    }
  }
  TIFFIN_ASSIGN_OR_RETURN(int32_t a_zp, ZeroPoint(node, a_zp_t, "a_zero_point"));
  TIFFIN_ASSIGN_OR_RETURN(int32_t b_zp, ZeroPoint(node, b_zp_t, "b_zero_point"));
  TIFFIN_ASSIGN_OR_RETURN(int32_t y_zp, ZeroPoint(node, y_zp_t, "y_zero_point"));
  TIFFIN_ASSIGN_OR_RETURN(float as, FloatAt(node, *a_scale, 0, "a_scale"));
  TIFFIN_ASSIGN_OR_RETURN(float bs, FloatAt(node, *b_scale, 0, "b_scale"));
  TIFFIN_ASSIGN_OR_RETURN(float ys, FloatAt(node, *y_scale, 0, "y_scale"));
  const float multiplier = as * bs / ys;
  TIFFIN_ASSIGN_OR_RETURN(Shape shape, IntMatMulShape(node, *a, *b));
  const DType out_dt = y_zp_t->dtype();  // uint8 or int8 (ZeroPoint checked)
  auto run = [&](auto ta, auto tb) -> Status {
    using TA = decltype(ta);
    using TB = decltype(tb);
    // The output is allocated (and its size checked) before any work.
    TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, out_dt, shape));
    auto requant = [&](int32_t acc) {
      return std::nearbyint(static_cast<float>(acc) * multiplier) + static_cast<float>(y_zp);
    };
    if (out_dt == DType::kUInt8) {
      uint8_t* out = y->data<uint8_t>();
      IntMatMul<TA, TB>(*a, *b, shape, y->size(), a_zp, b_zp,
                        [&](int32_t acc, int64_t i) { out[i] = Saturate<uint8_t>(requant(acc)); });
    } else {
      int8_t* out = y->data<int8_t>();
      IntMatMul<TA, TB>(*a, *b, shape, y->size(), a_zp, b_zp,
                        [&](int32_t acc, int64_t i) { out[i] = Saturate<int8_t>(requant(acc)); });
    }
    return Status::Ok();
  };
  return Dispatch8(node, a->dtype(), b->dtype(), run);
}

const KernelDef kRows[] = {
    {"QuantizeLinear", "", 10, kMaxOpset, MakeAttrKernel<AxisAttrs, QuantizeCompute>},
    {"DequantizeLinear", "", 10, kMaxOpset, MakeAttrKernel<AxisAttrs, DequantizeCompute>},
    {"DynamicQuantizeLinear", "", 11, kMaxOpset, MakeFnKernel<DynamicQuantizeCompute>},
    {"QLinearMatMul", "", 10, kMaxOpset, MakeFnKernel<QLinearMatMulCompute>},
    {"MatMulInteger", "", 10, kMaxOpset, MakeFnKernel<MatMulIntegerCompute>},
};

}  // namespace

std::span<const KernelDef> QuantKernels() { return kRows; }

}  // namespace tiffin::kernels
