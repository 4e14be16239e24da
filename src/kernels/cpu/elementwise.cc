// Element-wise arithmetic, math and logic with numpy broadcasting:
// Add Sub Mul Div Pow Mod, Sqrt Exp Log Abs Neg Reciprocal Floor Ceil Round Sign,
// Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor Not, Where,
// Max Min Sum Mean.
// float16 inputs are computed in float32 and rounded back, as ORT does.
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T>;

// Integer arithmetic wraps on overflow, as numpy and ONNX Runtime do. It is
// done in an unsigned type at least as wide as `unsigned` (uint16 * uint16
// would otherwise promote to int and overflow, which is undefined).
template <typename T>
using WrapU = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T>
constexpr bool kWraps = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// double -> integer without undefined behaviour: NaN gives 0, values out of
// range saturate.
template <typename T>
T DoubleToInt(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest()))
    return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

// How `in` repeats over `out` (right-aligned), for the common broadcasts:
// kSuffix: in's shape is a suffix of out's (after leading 1s), so in repeats
// every in.size() elements ([N,C] + [C]); kPrefix: in's shape is out's
// leading dims followed by 1s, so each in element covers a contiguous block
// ([N,C] * [N,1]).
enum class Repeat { kNone, kSuffix, kPrefix };

Repeat ClassifyRepeat(const Shape& in, const Shape& out, int64_t* block) {
  const size_t r = out.size(), off = r - in.size();
  size_t first = 0;  // first non-1 dim of `in` (right-aligned into out)
  while (first < in.size() && in[first] == 1) ++first;
  bool suffix = true;
  for (size_t i = first; i < in.size(); ++i) suffix &= in[i] == out[off + i];
  if (suffix) {
    *block = 1;
    for (size_t i = first; i < in.size(); ++i) *block *= in[i];
    return Repeat::kSuffix;
  }
  size_t last = in.size();  // one past the last non-1 dim
  while (last > 0 && in[last - 1] == 1) --last;
  bool prefix = true;
  for (size_t i = 0; i < off; ++i) prefix &= out[i] == 1;
  for (size_t i = 0; i < last; ++i) prefix &= in[i] == out[off + i];
  if (prefix) {
    *block = 1;
    for (size_t i = off + last; i < r; ++i) *block *= out[i];
    return Repeat::kPrefix;
  }
  return Repeat::kNone;
}

// Computes out[i] = op(a[ia], b[ib]) over the broadcast of a and b. The
// common layouts get tight loops the compiler vectorizes; `op` must be a
// lambda (not a function pointer) so that it inlines.
template <typename TA, typename TB, typename TO, typename Op>
void BinaryLoop(const Tensor& a, const Tensor& b, Tensor* out, Op op) {
  const TA* pa = a.data<TA>();
  const TB* pb = b.data<TB>();
  TO* po = out->data<TO>();
  const int64_t n = out->size();
  if (n == 0) return;
  if (a.shape() == b.shape()) {
    for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[i]);
    return;
  }
  if (b.size() == 1) {
    const TB y = pb[0];
    for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], y);
    return;
  }
  if (a.size() == 1) {
    const TA x = pa[0];
    for (int64_t i = 0; i < n; ++i) po[i] = op(x, pb[i]);
    return;
  }
  int64_t block = 0;
  if (a.size() == n) {
    switch (ClassifyRepeat(b.shape(), out->shape(), &block)) {
      case Repeat::kSuffix:
        for (int64_t o = 0; o < n; o += block)
          for (int64_t k = 0; k < block; ++k) po[o + k] = op(pa[o + k], pb[k]);
        return;
      case Repeat::kPrefix:
        for (int64_t o = 0, j = 0; o < n; o += block, ++j) {
          const TB y = pb[j];
          for (int64_t k = 0; k < block; ++k) po[o + k] = op(pa[o + k], y);
        }
        return;
      case Repeat::kNone:
        break;
    }
  }
  if (b.size() == n) {
    switch (ClassifyRepeat(a.shape(), out->shape(), &block)) {
      case Repeat::kSuffix:
        for (int64_t o = 0; o < n; o += block)
          for (int64_t k = 0; k < block; ++k) po[o + k] = op(pa[k], pb[o + k]);
        return;
      case Repeat::kPrefix:
        for (int64_t o = 0, j = 0; o < n; o += block, ++j) {
          const TA x = pa[j];
          for (int64_t k = 0; k < block; ++k) po[o + k] = op(x, pb[o + k]);
        }
        return;
      case Repeat::kNone:
        break;
    }
  }
  auto sa = BroadcastStrides(a.shape(), out->shape());
  auto sb = BroadcastStrides(b.shape(), out->shape());
  ForEachBroadcast(out->shape(), sa, sb,
                   [&](int64_t o, int64_t i, int64_t j) { po[o] = op(pa[i], pb[j]); });
}

enum class Arith { kAdd, kSub, kMul, kDiv, kMod, kFMod, kMax, kMin };

template <Arith A, typename T>
inline T ApplyArith(T x, T y) {
  if constexpr (kWraps<T> && (A == Arith::kAdd || A == Arith::kSub || A == Arith::kMul)) {
    using U = WrapU<T>;
    const U ux = static_cast<U>(x), uy = static_cast<U>(y);
    if constexpr (A == Arith::kAdd) return static_cast<T>(ux + uy);
    if constexpr (A == Arith::kSub) return static_cast<T>(ux - uy);
    if constexpr (A == Arith::kMul) return static_cast<T>(ux * uy);
  }
  if constexpr (A == Arith::kAdd) return static_cast<T>(x + y);
  if constexpr (A == Arith::kSub) return static_cast<T>(x - y);
  if constexpr (A == Arith::kMul) return static_cast<T>(x * y);
  if constexpr (A == Arith::kDiv) return static_cast<T>(x / y);
  if constexpr (A == Arith::kMax) {
    if constexpr (kIsFloat<T>) {
      if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN();
    }
    return x > y ? x : y;
  }
  if constexpr (A == Arith::kMin) {
    if constexpr (kIsFloat<T>) {
      if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<T>::quiet_NaN();
    }
    return x < y ? x : y;
  }
  if constexpr (A == Arith::kFMod) {
    if constexpr (kIsFloat<T>) {
      return std::fmod(x, y);
    } else {
      return static_cast<T>(x % y);
    }
  }
  if constexpr (A == Arith::kMod) {  // sign follows the divisor, like numpy
    if constexpr (kIsFloat<T>) {
      T r = std::fmod(x, y);
      if (r != 0 && ((r < 0) != (y < 0))) r += y;
      return r;
    } else {
      T r = static_cast<T>(x % y);
      if constexpr (std::is_signed_v<T>) {
        if (r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
      }
      return r;
    }
  }
}

// Integer division and modulo by zero (and INT_MIN / -1) trap on x86; refuse
// them instead of crashing the process.
template <typename T>
Status CheckIntDivisor(const ir::Node& node, const Tensor& b) {
  if constexpr (std::is_integral_v<T>) {
    const T* p = b.data<T>();
    for (int64_t i = 0; i < b.size(); ++i) {
      if (p[i] == 0) {
        return InvalidArgument(node.Describe() + ": integer division by zero in input 1");
      }
      if constexpr (std::is_signed_v<T>) {
        if (p[i] == T(-1)) {
          return NotSupported(node.Describe() +
                              ": integer division by -1 may overflow; cast to float first");
        }
      }
    }
  }
  return Status::Ok();
}

template <Arith A>
Status ArithCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "A"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1, "B"));
  if (a->dtype() != b->dtype()) {
    return InvalidArgument(node.Describe() + ": inputs have different dtypes " +
                           std::string(DTypeName(a->dtype())) + " and " +
                           std::string(DTypeName(b->dtype())));
  }
  TIFFIN_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(node, a->shape(), b->shape()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, a->dtype(), shape));
  if (a->dtype() == DType::kFloat16) {
    Tensor fa = HalfToFloatTensor(*a), fb = HalfToFloatTensor(*b), fo(DType::kFloat32, shape);
    BinaryLoop<float, float, float>(fa, fb, &fo,
                                    [](float x, float y) { return ApplyArith<A, float>(x, y); });
    FloatToHalfInto(fo, out);
    return Status::Ok();
  }
  return DispatchNumeric(node, a->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (A == Arith::kDiv || A == Arith::kMod || A == Arith::kFMod) {
      TIFFIN_RETURN_IF_ERROR(CheckIntDivisor<T>(node, *b));
    }
    BinaryLoop<T, T, T>(*a, *b, out, [](T x, T y) { return ApplyArith<A, T>(x, y); });
    return Status::Ok();
  });
}

struct ModAttrs {
  bool fmod = false;
  static Result<ModAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t f, init.node.GetInt("fmod", 0));
    return ModAttrs{f != 0};
  }
};

Status ModCompute(KernelContext& ctx, const ModAttrs& a) {
  const Tensor* x = ctx.input(0);
  if (x && IsFloatingPoint(x->dtype()) && !a.fmod) {
    return InvalidArgument(ctx.node().Describe() + ": fmod must be 1 for floating-point inputs");
  }
  return a.fmod ? ArithCompute<Arith::kFMod>(ctx) : ArithCompute<Arith::kMod>(ctx);
}

// Variadic Max/Min/Sum/Mean: fold pairwise with broadcasting.
template <Arith A, bool kMean = false>
Status VariadicCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* first, RequiredInput(ctx, 0, "data_0"));
  // float16 folds in float32 and rounds once at the end.
  const bool half = first->dtype() == DType::kFloat16;
  Tensor acc = half ? HalfToFloatTensor(*first) : *first;
  for (int i = 1; i < ctx.num_inputs(); ++i) {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* next_in, RequiredInput(ctx, i, "data"));
    if (next_in->dtype() != first->dtype()) return BadDType(node, "data", next_in->dtype());
    Tensor converted = half ? HalfToFloatTensor(*next_in) : Tensor();
    const Tensor* next = half ? &converted : next_in;
    TIFFIN_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(node, acc.shape(), next->shape()));
    auto alloc = Tensor::Allocate(acc.dtype(), shape, ctx.options().max_tensor_bytes);
    if (!alloc.ok()) return alloc.status().WithContext(node.Describe());
    Tensor out = std::move(alloc).value();
    Status s = DispatchNumeric(node, acc.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      BinaryLoop<T, T, T>(acc, *next, &out, [](T x, T y) { return ApplyArith<A, T>(x, y); });
      return Status::Ok();
    });
    TIFFIN_RETURN_IF_ERROR(s);
    acc = std::move(out);
  }
  if constexpr (kMean) {
    const int n = ctx.num_inputs();
    TIFFIN_RETURN_IF_ERROR(DispatchFloat(node, acc.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      if (acc.SharesBufferWith(*first)) acc = acc.Clone();
      T* p = acc.data<T>();
      for (int64_t i = 0; i < acc.size(); ++i) p[i] /= static_cast<T>(n);
      return Status::Ok();
    }));
  }
  if (half) {
    TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kFloat16, acc.shape()));
    FloatToHalfInto(acc, out);
    return Status::Ok();
  }
  return ctx.SetOutput(0, std::move(acc));
}

Status PowCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1, "Y"));
  TIFFIN_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(node, a->shape(), b->shape()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, a->dtype(), shape));
  // The exponent may have another dtype (opset 12+): read it as double.
  TIFFIN_ASSIGN_OR_RETURN(
      Tensor exp_d, Tensor::Allocate(DType::kFloat64, b->shape(), ctx.options().max_tensor_bytes));
  TIFFIN_RETURN_IF_ERROR(DispatchNumeric(node, b->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    for (int64_t i = 0; i < b->size(); ++i)
      exp_d.data<double>()[i] = static_cast<double>(b->data<T>()[i]);
    return Status::Ok();
  }));
  // A constant exponent of 2, 3, 0.5 or 1 (LayerNorm and GELU decompositions)
  // skips pow(), which dominates those graphs otherwise.
  if (a->dtype() == DType::kFloat32 && b->size() == 1 && shape == a->shape()) {
    const double e = exp_d.data<double>()[0];
    const float* x = a->data<float>();
    float* y = out->data<float>();
    const int64_t n = a->size();
    if (e == 2) {
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i];
      return Status::Ok();
    }
    if (e == 3) {
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i] * x[i];
      return Status::Ok();
    }
    if (e == 1) {
      for (int64_t i = 0; i < n; ++i) y[i] = x[i];
      return Status::Ok();
    }
    if (e == 0.5) {
      for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]);
      return Status::Ok();
    }
  }
  return DispatchNumeric(node, a->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    BinaryLoop<T, double, T>(*a, exp_d, out, [](T x, double y) -> T {
      if constexpr (std::is_same_v<T, float>) {
        return std::pow(x, static_cast<float>(y));
      } else {
        const double r = std::pow(static_cast<double>(x), y);
        if constexpr (std::is_integral_v<T>) {
          return DoubleToInt<T>(r);  // 2^100 or 0^-1 must not overflow the cast
        } else {
          return static_cast<T>(r);
        }
      }
    });
    return Status::Ok();
  });
}

enum class Cmp { kEq, kLt, kGt, kLe, kGe };

template <Cmp C>
Status CompareCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "A"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1, "B"));
  if (a->dtype() != b->dtype()) {
    return InvalidArgument(node.Describe() + ": inputs have different dtypes " +
                           std::string(DTypeName(a->dtype())) + " and " +
                           std::string(DTypeName(b->dtype())));
  }
  TIFFIN_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(node, a->shape(), b->shape()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kBool, shape));
  auto run = [&](auto tag) -> Status {
    using T = decltype(tag);
    BinaryLoop<T, T, bool>(*a, *b, out, [](const T& x, const T& y) -> bool {
      if constexpr (C == Cmp::kEq) return x == y;
      if constexpr (C == Cmp::kLt) return x < y;
      if constexpr (C == Cmp::kGt) return x > y;
      if constexpr (C == Cmp::kLe) return x <= y;
      if constexpr (C == Cmp::kGe) return x >= y;
    });
    return Status::Ok();
  };
  if (a->dtype() == DType::kFloat16) {
    Tensor fa = HalfToFloatTensor(*a), fb = HalfToFloatTensor(*b);
    BinaryLoop<float, float, bool>(fa, fb, out, [](float x, float y) -> bool {
      if constexpr (C == Cmp::kEq) return x == y;
      if constexpr (C == Cmp::kLt) return x < y;
      if constexpr (C == Cmp::kGt) return x > y;
      if constexpr (C == Cmp::kLe) return x <= y;
      if constexpr (C == Cmp::kGe) return x >= y;
    });
    return Status::Ok();
  }
  if (a->dtype() == DType::kBool) return run(bool{});
  if (a->dtype() == DType::kString && C == Cmp::kEq) return run(std::string{});
  return DispatchNumeric(node, a->dtype(), run);
}

enum class Logic { kAnd, kOr, kXor };

template <Logic L>
Status LogicCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "A"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1, "B"));
  if (a->dtype() != DType::kBool) return BadDType(node, "A", a->dtype());
  if (b->dtype() != DType::kBool) return BadDType(node, "B", b->dtype());
  TIFFIN_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(node, a->shape(), b->shape()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kBool, shape));
  BinaryLoop<bool, bool, bool>(*a, *b, out, [](bool x, bool y) {
    if constexpr (L == Logic::kAnd) return x && y;
    if constexpr (L == Logic::kOr) return x || y;
    if constexpr (L == Logic::kXor) return x != y;
  });
  return Status::Ok();
}

Status NotCompute(KernelContext& ctx) {
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->dtype() != DType::kBool) return BadDType(ctx.node(), "X", x->dtype());
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kBool, x->shape()));
  for (int64_t i = 0; i < x->size(); ++i) out->data<bool>()[i] = !x->data<bool>()[i];
  return Status::Ok();
}

enum class Unary { kSqrt, kExp, kLog, kAbs, kNeg, kReciprocal, kFloor, kCeil, kRound, kSign };

template <Unary U, typename T>
inline T ApplyUnary(T x) {
  if constexpr (U == Unary::kAbs) {
    if constexpr (std::is_unsigned_v<T>) {
      return x;
    } else if constexpr (kWraps<T>) {  // Abs(INT_MIN) wraps to INT_MIN, as in numpy
      return x < 0 ? static_cast<T>(WrapU<T>(0) - static_cast<WrapU<T>>(x)) : x;
    } else {
      return x < 0 ? static_cast<T>(-x) : x;
    }
  }
  if constexpr (U == Unary::kNeg) {
    if constexpr (kWraps<T>) {
      return static_cast<T>(WrapU<T>(0) - static_cast<WrapU<T>>(x));
    } else {
      return static_cast<T>(-x);
    }
  }
  if constexpr (U == Unary::kSign) return static_cast<T>((T(0) < x) - (x < T(0)));
  if constexpr (U == Unary::kSqrt) return std::sqrt(x);
  if constexpr (U == Unary::kExp) return std::exp(x);
  if constexpr (U == Unary::kLog) return std::log(x);
  if constexpr (U == Unary::kReciprocal) return T(1) / x;
  if constexpr (U == Unary::kFloor) return std::floor(x);
  if constexpr (U == Unary::kCeil) return std::ceil(x);
  if constexpr (U == Unary::kRound) return std::nearbyint(x);  // half to even
}

template <Unary U>
Status UnaryCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), x->shape()));
  constexpr bool kIntOk = U == Unary::kAbs || U == Unary::kNeg || U == Unary::kSign;
  if (x->dtype() == DType::kFloat16) {
    const Float16* p = x->data<Float16>();
    Float16* o = out->data<Float16>();
    for (int64_t i = 0; i < x->size(); ++i)
      o[i] = Float16(ApplyUnary<U, float>(static_cast<float>(p[i])));
    return Status::Ok();
  }
  auto run = [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (!kIntOk && !kIsFloat<T>) {
      return BadDType(node, "X", x->dtype());
    } else {
      const T* p = x->data<T>();
      T* o = out->data<T>();
      for (int64_t i = 0; i < x->size(); ++i) o[i] = ApplyUnary<U, T>(p[i]);
      return Status::Ok();
    }
  };
  return DispatchNumeric(node, x->dtype(), run);
}

Status WhereCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* c, RequiredInput(ctx, 0, "condition"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 1, "X"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* y, RequiredInput(ctx, 2, "Y"));
  if (c->dtype() != DType::kBool) return BadDType(node, "condition", c->dtype());
  if (x->dtype() != y->dtype()) return BadDType(node, "Y", y->dtype());
  TIFFIN_ASSIGN_OR_RETURN(Shape s1, BroadcastShapes(node, c->shape(), x->shape()));
  TIFFIN_ASSIGN_OR_RETURN(Shape shape, BroadcastShapes(node, s1, y->shape()));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), shape));
  auto sc = BroadcastStrides(c->shape(), shape);
  auto sx = BroadcastStrides(x->shape(), shape);
  auto sy = BroadcastStrides(y->shape(), shape);
  return DispatchAll(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const bool* pc = c->data<bool>();
    const T* px = x->data<T>();
    const T* py = y->data<T>();
    T* po = out->data<T>();
    // Walk condition/X together, then index Y by recomputing its offset.
    const auto out_strides = Strides(shape);
    ForEachBroadcast(shape, sc, sx, [&](int64_t o, int64_t ic, int64_t ix) {
      int64_t iy = 0, rem = o;
      for (size_t d = 0; d < shape.size(); ++d) {
        int64_t idx = rem / out_strides[d];
        rem -= idx * out_strides[d];
        iy += idx * sy[d];
      }
      po[o] = pc[ic] ? px[ix] : py[iy];
    });
    return Status::Ok();
  });
}

const KernelDef kRows[] = {
    {"Add", "", 7, kMaxOpset, MakeFnKernel<ArithCompute<Arith::kAdd>>},
    {"Sub", "", 7, kMaxOpset, MakeFnKernel<ArithCompute<Arith::kSub>>},
    {"Mul", "", 7, kMaxOpset, MakeFnKernel<ArithCompute<Arith::kMul>>},
    {"Div", "", 7, kMaxOpset, MakeFnKernel<ArithCompute<Arith::kDiv>>},
    {"Mod", "", 10, kMaxOpset, MakeAttrKernel<ModAttrs, ModCompute>},
    {"Pow", "", 7, kMaxOpset, MakeFnKernel<PowCompute>},
    {"Max", "", 8, kMaxOpset, MakeFnKernel<VariadicCompute<Arith::kMax>>},
    {"Min", "", 8, kMaxOpset, MakeFnKernel<VariadicCompute<Arith::kMin>>},
    {"Sum", "", 8, kMaxOpset, MakeFnKernel<VariadicCompute<Arith::kAdd>>},
    {"Mean", "", 8, kMaxOpset, MakeFnKernel<VariadicCompute<Arith::kAdd, true>>},
    {"Sqrt", "", 6, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kSqrt>>},
    {"Exp", "", 6, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kExp>>},
    {"Log", "", 6, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kLog>>},
    {"Abs", "", 6, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kAbs>>},
    {"Neg", "", 6, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kNeg>>},
    {"Reciprocal", "", 6, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kReciprocal>>},
    {"Floor", "", 6, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kFloor>>},
    {"Ceil", "", 6, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kCeil>>},
    {"Round", "", 11, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kRound>>},
    {"Sign", "", 9, kMaxOpset, MakeFnKernel<UnaryCompute<Unary::kSign>>},
    {"Equal", "", 7, kMaxOpset, MakeFnKernel<CompareCompute<Cmp::kEq>>},
    {"Less", "", 7, kMaxOpset, MakeFnKernel<CompareCompute<Cmp::kLt>>},
    {"Greater", "", 7, kMaxOpset, MakeFnKernel<CompareCompute<Cmp::kGt>>},
    {"LessOrEqual", "", 12, kMaxOpset, MakeFnKernel<CompareCompute<Cmp::kLe>>},
    {"GreaterOrEqual", "", 12, kMaxOpset, MakeFnKernel<CompareCompute<Cmp::kGe>>},
    {"And", "", 7, kMaxOpset, MakeFnKernel<LogicCompute<Logic::kAnd>>},
    {"Or", "", 7, kMaxOpset, MakeFnKernel<LogicCompute<Logic::kOr>>},
    {"Xor", "", 7, kMaxOpset, MakeFnKernel<LogicCompute<Logic::kXor>>},
    {"Not", "", 1, kMaxOpset, MakeFnKernel<NotCompute>},
    {"Where", "", 9, kMaxOpset, MakeFnKernel<WhereCompute>},
};

}  // namespace

std::span<const KernelDef> ElementwiseKernels() { return kRows; }

}  // namespace tiffin::kernels
