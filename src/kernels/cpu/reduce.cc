// Reductions: ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1
// ReduceL2 ReduceLogSum ReduceLogSumExp ReduceSumSquare, ArgMax ArgMin, TopK,
// CumSum.
//
// Every Reduce* op runs through one core (ReduceCore): the input's dims are
// coalesced into alternating runs of kept and reduced dims (size-1 dims
// dropped), so the common cases become one of two tight loops over
// contiguous memory:
//   - the innermost run is reduced ([..., K, R]: LayerNorm-style and softmax
//     denominators): each output is a contiguous row folded into several
//     independent accumulators, which the compiler vectorizes;
//   - the innermost run is kept ([R, K], [N, R, K]): each input row is
//     combined element-wise into a contiguous run of outputs.
// Reducing over an empty set gives the op's identity (Sum 0, Prod 1, Max
// -inf, Min +inf, LogSum/LogSumExp -inf, Mean NaN), as the ONNX spec says.
// float16 is computed in float32 and rounded back.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <type_traits>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T>;

// Integer sums and products wrap on overflow, as numpy and ONNX Runtime do.
// They are computed in an unsigned type at least as wide as `unsigned`
// (uint16 * uint16 would otherwise promote to int and overflow, which is
// undefined behaviour).
template <typename T>
using WrapU = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T>
inline T AddWrap(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return static_cast<T>(static_cast<WrapU<T>>(a) + static_cast<WrapU<T>>(b));
  } else {
    return static_cast<T>(a + b);
  }
}
template <typename T>
inline T MulWrap(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return static_cast<T>(static_cast<WrapU<T>>(a) * static_cast<WrapU<T>>(b));
  } else {
    return static_cast<T>(a * b);
  }
}
template <typename T>
inline T NegWrap(T a) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return static_cast<T>(WrapU<T>(0) - static_cast<WrapU<T>>(a));
  } else {
    return static_cast<T>(-a);
  }
}

// ---------------------------------------------------------------------------
// Axes and layouts.

// Validates `axes` against `rank` and returns a per-dim "reduced" mask.
Result<std::vector<char>> AxesMask(const ir::Node& node, const std::vector<int64_t>& axes,
                                   int64_t rank) {
  std::vector<char> mask(static_cast<size_t>(rank), 0);
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) {
      return InvalidArgument(node.Describe() + ": axis " + std::to_string(a) +
                             " is out of range for input rank " + std::to_string(rank));
    }
    const size_t i = static_cast<size_t>(a < 0 ? a + rank : a);
    if (mask[i]) {
      return InvalidArgument(node.Describe() + ": axis " + std::to_string(a) +
                             " is listed twice in axes");
    }
    mask[i] = 1;
  }
  return mask;
}

// The input seen as alternating runs of kept/reduced dims.
struct Layout {
  std::vector<int64_t> dims;  // coalesced runs, each > 1; may be empty
  std::vector<char> reduced;  // per run
  int64_t out_size = 1;       // product of kept dims
  int64_t count = 1;          // elements folded into each output
};

// a * b, saturating at INT64_MAX. Dims of an empty tensor can multiply past
// int64 ([0, 2^40, 2^40] is a valid shape); the saturated values are then
// never used to index anything, since there are no elements.
inline int64_t MulSat(int64_t a, int64_t b) {
  int64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

Layout MakeLayout(const Shape& shape, const std::vector<char>& mask) {
  Layout l;
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t d = shape[i];
    if (mask[i]) {
      l.count = MulSat(l.count, d);
    } else {
      l.out_size = MulSat(l.out_size, d);
    }
    if (d == 1) continue;
    if (!l.dims.empty() && l.reduced.back() == mask[i]) {
      l.dims.back() = MulSat(l.dims.back(), d);
    } else {
      l.dims.push_back(d);
      l.reduced.push_back(mask[i]);
    }
  }
  return l;
}

// Folds `n` contiguous values into one accumulator using several independent
// lanes, so that the loop vectorizes and float sums lose less precision.
template <typename T, typename Acc, typename MapF, typename CombF>
inline Acc RowReduce(const T* p, int64_t n, Acc identity, int64_t o, MapF& map, CombF& comb) {
  constexpr int kLanes = 16;
  Acc lanes[kLanes];
  for (int j = 0; j < kLanes; ++j) lanes[j] = identity;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] = comb(lanes[j], map(p[i + j], o));
  }
  for (int j = 0; j < kLanes && i + j < n; ++j) lanes[j] = comb(lanes[j], map(p[i + j], o));
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int j = 0; j < w; ++j) lanes[j] = comb(lanes[j], lanes[j + w]);
  return lanes[0];
}

// out[o] = fold over the reduced positions of comb(.., map(x, o)), starting
// from identity. REQUIRES: the input is not empty.
template <typename T, typename Acc, typename MapF, typename CombF>
void ReduceCore(const T* x, const Layout& l, Acc identity, MapF map, CombF comb, Acc* out) {
  const size_t n = l.dims.size();
  if (n == 0) {  // every dim is 1
    out[0] = comb(identity, map(x[0], 0));
    return;
  }
  const int64_t inner = l.dims[n - 1];
  const bool inner_reduced = l.reduced[n - 1];
  if (n == 1) {
    if (inner_reduced) {
      out[0] = RowReduce(x, inner, identity, 0, map, comb);
    } else {
      for (int64_t k = 0; k < inner; ++k) out[k] = comb(identity, map(x[k], k));
    }
    return;
  }
  if (n == 2) {
    const int64_t outer = l.dims[0];
    if (inner_reduced) {  // [K, R]: one contiguous row per output
      for (int64_t k = 0; k < outer; ++k)
        out[k] = RowReduce(x + k * inner, inner, identity, k, map, comb);
    } else {  // [R, K]: fold rows into the output vector
      for (int64_t k = 0; k < inner; ++k) out[k] = comb(identity, map(x[k], k));
      for (int64_t r = 1; r < outer; ++r) {
        const T* row = x + r * inner;
        for (int64_t k = 0; k < inner; ++k) out[k] = comb(out[k], map(row[k], k));
      }
    }
    return;
  }
  // General: walk the outer runs with an odometer tracking the output offset.
  std::fill(out, out + l.out_size, identity);
  std::vector<int64_t> ostride(n, 0);
  int64_t s = inner_reduced ? 1 : inner;
  for (size_t d = n - 1; d-- > 0;) {
    if (!l.reduced[d]) {
      ostride[d] = s;
      s *= l.dims[d];
    }
  }
  std::vector<int64_t> idx(n - 1, 0);
  int64_t total_outer = 1;
  for (size_t d = 0; d + 1 < n; ++d) total_outer *= l.dims[d];
  int64_t o = 0;
  const T* p = x;
  for (int64_t step = 0; step < total_outer; ++step, p += inner) {
    if (inner_reduced) {
      out[o] = comb(out[o], RowReduce(p, inner, identity, o, map, comb));
    } else {
      Acc* q = out + o;
      for (int64_t k = 0; k < inner; ++k) q[k] = comb(q[k], map(p[k], o + k));
    }
    for (size_t d = n - 1; d-- > 0;) {
      o += ostride[d];
      if (++idx[d] < l.dims[d]) break;
      o -= ostride[d] * l.dims[d];
      idx[d] = 0;
    }
  }
}

// ---------------------------------------------------------------------------
// Reduce* ops.

enum class Red { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// The accumulator type: float16 and float accumulate in float, double in
// double; integers in their own type, except where the op needs a log/sqrt.
template <Red R, typename T>
struct AccOf {
  using type = std::conditional_t<
      std::is_same_v<T, Float16>, float,
      std::conditional_t<!kIsFloat<T> && !std::is_same_v<T, bool> &&
                             (R == Red::kL2 || R == Red::kLogSum || R == Red::kLogSumExp),
                         double, T>>;
};

template <typename Acc>
inline Acc MaxOf(Acc a, Acc b) {
  if constexpr (kIsFloat<Acc>) {
    return (b > a || b != b) ? b : a;  // propagates NaN from either side
  } else {
    return b > a ? b : a;
  }
}
template <typename Acc>
inline Acc MinOf(Acc a, Acc b) {
  if constexpr (kIsFloat<Acc>) {
    return (b < a || b != b) ? b : a;
  } else {
    return b < a ? b : a;
  }
}

template <typename Acc>
Acc Lowest() {
  if constexpr (std::numeric_limits<Acc>::has_infinity) {
    return -std::numeric_limits<Acc>::infinity();
  } else {
    return std::numeric_limits<Acc>::lowest();
  }
}
template <typename Acc>
Acc Highest() {
  if constexpr (std::numeric_limits<Acc>::has_infinity) {
    return std::numeric_limits<Acc>::infinity();
  } else {
    return std::numeric_limits<Acc>::max();
  }
}

template <typename T, typename Acc>
inline Acc ToAcc(T v) {
  if constexpr (std::is_same_v<T, Float16>) {
    return static_cast<Acc>(static_cast<float>(v));
  } else {
    return static_cast<Acc>(v);
  }
}

template <typename T, typename Acc>
inline T FromAcc(Acc v) {
  if constexpr (std::is_same_v<T, Float16>) {
    return Float16(static_cast<float>(v));
  } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool> && kIsFloat<Acc>) {
    // An integer ReduceLogSum/L2 result can be -inf (log 0), NaN or out of
    // range: saturate instead of an undefined float->int conversion.
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<Acc>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (v >= static_cast<Acc>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

// True when any of the n values is a NaN. Compares bit patterns as integers,
// which vectorizes (a float `v != v` OR-reduction does not).
template <typename T>
bool AnyNaN(const T* p, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    uint32_t any = 0;
    for (int64_t i = 0; i < n; ++i)
      any |= static_cast<uint32_t>((std::bit_cast<uint32_t>(p[i]) & 0x7fffffffu) > 0x7f800000u);
    return any != 0;
  } else if constexpr (std::is_same_v<T, double>) {
    uint64_t any = 0;
    for (int64_t i = 0; i < n; ++i) {
      any |= static_cast<uint64_t>((std::bit_cast<uint64_t>(p[i]) & 0x7fffffffffffffffull) >
                                   0x7ff0000000000000ull);
    }
    return any != 0;
  } else if constexpr (std::is_same_v<T, Float16>) {
    uint32_t any = 0;
    for (int64_t i = 0; i < n; ++i) any |= static_cast<uint32_t>((p[i].bits & 0x7fffu) > 0x7c00u);
    return any != 0;
  } else {
    return false;
  }
}

// Runs reduction R of `x` (element type T) laid out as `l` into `y`.
template <Red R, typename T>
void RunReduce(const Tensor& x, const Layout& l, Tensor* y) {
  using Acc = typename AccOf<R, T>::type;
  const T* px = x.data<T>();
  T* py = y->data<T>();
  const int64_t m = l.out_size;
  if (m == 0) return;
  // Accumulate straight into the output when the types agree.
  std::vector<Acc> tmp;
  Acc* acc;
  if constexpr (std::is_same_v<Acc, T>) {
    acc = py;
  } else {
    tmp.resize(static_cast<size_t>(m));
    acc = tmp.data();
  }
  const bool empty = x.size() == 0;
  auto plus = [](Acc a, Acc b) -> Acc { return AddWrap<Acc>(a, b); };
  auto run = [&](Acc identity, auto map, auto comb) {
    if (empty) {
      std::fill(acc, acc + m, identity);
    } else {
      ReduceCore<T, Acc>(px, l, identity, map, comb, acc);
    }
  };
  if constexpr (R == Red::kSum || R == Red::kMean) {
    run(
        Acc(0), [](T v, int64_t) { return ToAcc<T, Acc>(v); }, plus);
  } else if constexpr (R == Red::kSumSquare || R == Red::kL2) {
    run(
        Acc(0),
        [](T v, int64_t) {
          Acc a = ToAcc<T, Acc>(v);
          return MulWrap<Acc>(a, a);
        },
        plus);
  } else if constexpr (R == Red::kL1) {
    run(
        Acc(0),
        [](T v, int64_t) {
          Acc a = ToAcc<T, Acc>(v);
          if constexpr (std::is_unsigned_v<Acc>) {
            return a;
          } else {
            return a < 0 ? NegWrap<Acc>(a) : a;
          }
        },
        plus);
  } else if constexpr (R == Red::kLogSum) {
    run(
        Acc(0), [](T v, int64_t) { return ToAcc<T, Acc>(v); }, plus);
  } else if constexpr (R == Red::kProd) {
    run(
        Acc(1), [](T v, int64_t) { return ToAcc<T, Acc>(v); },
        [](Acc a, Acc b) -> Acc { return MulWrap<Acc>(a, b); });
  } else if constexpr (R == Red::kMax || R == Red::kMin || R == Red::kLogSumExp) {
    // A plain select vectorizes but drops NaNs; the NaN-propagating fold does
    // not vectorize. One OR pass (which does) picks the right one.
    auto to_acc = [](T v, int64_t) { return ToAcc<T, Acc>(v); };
    constexpr bool kMaxLike = R != Red::kMin;
    const bool any_nan = AnyNaN(px, x.size());
    if (any_nan) {
      run(kMaxLike ? Lowest<Acc>() : Highest<Acc>(), to_acc, kMaxLike ? MaxOf<Acc> : MinOf<Acc>);
    } else if constexpr (kMaxLike) {
      run(Lowest<Acc>(), to_acc, [](Acc a, Acc b) { return b > a ? b : a; });
    } else {
      run(Highest<Acc>(), to_acc, [](Acc a, Acc b) { return b < a ? b : a; });
    }
  }
  if constexpr (R == Red::kLogSumExp) {
    // Stable: log(sum(exp(x - max))) + max, with the max of each output first.
    std::vector<Acc> shift(static_cast<size_t>(m));
    for (int64_t o = 0; o < m; ++o) shift[o] = std::isfinite(acc[o]) ? acc[o] : Acc(0);
    const Acc* sh = shift.data();
    run(
        Acc(0),
        [sh](T v, int64_t o) { return static_cast<Acc>(std::exp(ToAcc<T, Acc>(v) - sh[o])); },
        plus);
    for (int64_t o = 0; o < m; ++o) acc[o] = static_cast<Acc>(std::log(acc[o]) + sh[o]);
  }
  // Finalize.
  if constexpr (R == Red::kMean) {
    if (l.count == 0) {
      const Acc v = kIsFloat<Acc> ? std::numeric_limits<Acc>::quiet_NaN() : Acc(0);
      for (int64_t o = 0; o < m; ++o) acc[o] = v;
    } else {
      if constexpr (std::is_integral_v<Acc>) {
        // Divide in 64 bits: the count need not fit Acc (256 int8 values
        // would make it 0).
        using W = std::conditional_t<std::is_signed_v<Acc>, int64_t, uint64_t>;
        const W c = static_cast<W>(l.count);
        for (int64_t o = 0; o < m; ++o) acc[o] = static_cast<Acc>(static_cast<W>(acc[o]) / c);
      } else {
        const Acc c = static_cast<Acc>(l.count);
        for (int64_t o = 0; o < m; ++o) acc[o] = static_cast<Acc>(acc[o] / c);
      }
    }
  } else if constexpr (R == Red::kL2) {
    for (int64_t o = 0; o < m; ++o) acc[o] = static_cast<Acc>(std::sqrt(acc[o]));
  } else if constexpr (R == Red::kLogSum) {
    for (int64_t o = 0; o < m; ++o) acc[o] = static_cast<Acc>(std::log(acc[o]));
  }
  if constexpr (!std::is_same_v<Acc, T>) {
    for (int64_t o = 0; o < m; ++o) py[o] = FromAcc<T, Acc>(acc[o]);
  }
}

struct ReduceAttrs {
  bool axes_from_input = false;  // opset 13+ for ReduceSum, 18+ for the rest
  std::vector<int64_t> axes;     // from the attribute
  bool keepdims = true;
  bool noop_with_empty_axes = false;

  static Result<ReduceAttrs> ParseFor(const KernelInit& init, int input_axes_opset) {
    const ir::Node& node = init.node;
    ReduceAttrs a;
    a.axes_from_input = node.opset >= input_axes_opset;
    if (a.axes_from_input) {
      if (node.HasAttribute("axes")) {
        return InvalidArgument(node.Describe() + ": attribute 'axes' is not allowed at opset " +
                               std::to_string(node.opset) +
                               " (axes is the optional second input since opset " +
                               std::to_string(input_axes_opset) + ")");
      }
      TIFFIN_ASSIGN_OR_RETURN(int64_t noop, node.GetInt("noop_with_empty_axes", 0));
      a.noop_with_empty_axes = noop != 0;
    } else {
      TIFFIN_ASSIGN_OR_RETURN(a.axes, node.GetInts("axes"));
    }
    TIFFIN_ASSIGN_OR_RETURN(int64_t keep, node.GetInt("keepdims", 1));
    a.keepdims = keep != 0;
    return a;
  }
};

template <int kInputAxesOpset>
struct ReduceAttrsAt : ReduceAttrs {
  static Result<ReduceAttrsAt> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(ReduceAttrs a, ReduceAttrs::ParseFor(init, kInputAxesOpset));
    ReduceAttrsAt r;
    static_cast<ReduceAttrs&>(r) = std::move(a);
    return r;
  }
};

template <Red R, int kInputAxesOpset>
Status ReduceCompute(KernelContext& ctx, const ReduceAttrsAt<kInputAxesOpset>& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  const int64_t rank = x->rank();
  std::vector<int64_t> axes = a.axes;
  bool noop = false;
  if (a.axes_from_input) {
    const Tensor* t = ctx.input(1);
    if (t != nullptr) {
      if (t->rank() > 1) {
        return InvalidArgument(node.Describe() + ": axes must be 1-D, got shape " +
                               ShapeToString(t->shape()));
      }
      TIFFIN_ASSIGN_OR_RETURN(axes, ToInt64s(node, *t, "axes"));
    }
    noop = axes.empty() && a.noop_with_empty_axes;
  }
  std::vector<char> mask;
  if (noop) {
    // No reduction: each output is its element put through the op's map and
    // finalisation (ReduceSumSquare gives x*x), as the ONNX reference does.
    mask.assign(static_cast<size_t>(rank), 0);
  } else if (axes.empty()) {
    mask.assign(static_cast<size_t>(rank), 1);
  } else {
    TIFFIN_ASSIGN_OR_RETURN(mask, AxesMask(node, axes, rank));
  }
  Shape out_shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (!mask[i]) {
      out_shape.push_back(x->dim(i));
    } else if (a.keepdims) {
      out_shape.push_back(1);
    }
  }
  const Layout l = MakeLayout(x->shape(), mask);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), out_shape));
  if (x->dtype() == DType::kFloat16) {
    RunReduce<R, Float16>(*x, l, y);
    return Status::Ok();
  }
  if constexpr (R == Red::kMax || R == Red::kMin) {
    if (x->dtype() == DType::kBool) {
      RunReduce<R, bool>(*x, l, y);
      return Status::Ok();
    }
  }
  return DispatchNumeric(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    RunReduce<R, T>(*x, l, y);
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// ArgMax / ArgMin.

struct ArgAttrs {
  int64_t axis = 0;
  bool keepdims = true;
  bool select_last_index = false;
  static Result<ArgAttrs> Parse(const KernelInit& init) {
    ArgAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.axis, init.node.GetInt("axis", 0));
    TIFFIN_ASSIGN_OR_RETURN(int64_t keep, init.node.GetInt("keepdims", 1));
    TIFFIN_ASSIGN_OR_RETURN(int64_t last, init.node.GetInt("select_last_index", 0));
    a.keepdims = keep != 0;
    a.select_last_index = last != 0;
    return a;
  }
};

// Splits `shape` around `axis` into [outer, n, inner].
// The products saturate (see MulSat): only an empty tensor can overflow them.
void SplitAt(const Shape& shape, int64_t axis, int64_t* outer, int64_t* n, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t i = 0; i < axis; ++i) *outer = MulSat(*outer, shape[i]);
  for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i)
    *inner = MulSat(*inner, shape[i]);
  *n = shape[static_cast<size_t>(axis)];
}

template <bool kMax, typename T>
void ArgLoop(const T* x, int64_t outer, int64_t n, int64_t inner, bool last, int64_t* y) {
  // `better(v, best)`: v replaces the current best. Ties keep the first index
  // unless select_last_index.
  auto better = [last](T v, T best) {
    if (kMax) return last ? v >= best : v > best;
    return last ? v <= best : v < best;
  };
  if (inner == 1) {
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = x + o * n;
      T best = p[0];
      int64_t bi = 0;
      for (int64_t i = 1; i < n; ++i) {
        if (better(p[i], best)) {
          best = p[i];
          bi = i;
        }
      }
      y[o] = bi;
    }
    return;
  }
  std::vector<T> best(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    const T* p = x + o * n * inner;
    int64_t* yo = y + o * inner;
    for (int64_t k = 0; k < inner; ++k) {
      best[k] = p[k];
      yo[k] = 0;
    }
    for (int64_t i = 1; i < n; ++i) {
      const T* row = p + i * inner;
      for (int64_t k = 0; k < inner; ++k) {
        if (better(row[k], best[k])) {
          best[k] = row[k];
          yo[k] = i;
        }
      }
    }
  }
}

template <bool kMax>
Status ArgCompute(KernelContext& ctx, const ArgAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  if (x->rank() == 0) {
    return InvalidArgument(node.Describe() + ": input must have rank >= 1, got a scalar");
  }
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, a.axis, x->rank()));
  int64_t outer, n, inner;
  SplitAt(x->shape(), axis, &outer, &n, &inner);
  Shape out_shape;
  for (int64_t i = 0; i < x->rank(); ++i) {
    if (i != axis) {
      out_shape.push_back(x->dim(i));
    } else if (a.keepdims) {
      out_shape.push_back(1);
    }
  }
  if (n == 0 && MulSat(outer, inner) != 0) {
    return InvalidArgument(node.Describe() + ": cannot take the arg" + (kMax ? "max" : "min") +
                           " of an empty axis " + std::to_string(axis) + " (input shape " +
                           ShapeToString(x->shape()) + ")");
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, DType::kInt64, out_shape));
  if (y->size() == 0) return Status::Ok();
  int64_t* py = y->data<int64_t>();
  if (x->dtype() == DType::kFloat16) {
    Tensor f = HalfToFloatTensor(*x);
    ArgLoop<kMax>(f.data<float>(), outer, n, inner, a.select_last_index, py);
    return Status::Ok();
  }
  return DispatchNumeric(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    ArgLoop<kMax>(x->data<T>(), outer, n, inner, a.select_last_index, py);
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// TopK.

struct TopKAttrs {
  int64_t axis = -1;
  int64_t k = -1;  // the attribute (opset < 10)
  bool k_from_input = true;
  bool largest = true;
  bool sorted = true;
  static Result<TopKAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    TopKAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.axis, node.GetInt("axis", -1));
    a.k_from_input = node.opset >= 10;
    if (!a.k_from_input) {
      if (!node.HasAttribute("k")) {
        return InvalidArgument(node.Describe() + ": attribute 'k' is required before opset 10");
      }
      TIFFIN_ASSIGN_OR_RETURN(a.k, node.GetInt("k", -1));
    }
    if (node.opset >= 11) {
      TIFFIN_ASSIGN_OR_RETURN(int64_t largest, node.GetInt("largest", 1));
      TIFFIN_ASSIGN_OR_RETURN(int64_t sorted, node.GetInt("sorted", 1));
      a.largest = largest != 0;
      a.sorted = sorted != 0;
    }
    return a;
  }
};

// A strict total order on values that puts NaN above every number, so that
// sorting is well defined whatever the input holds.
template <typename T>
inline bool Above(T a, T b) {
  if constexpr (kIsFloat<T>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

template <typename T>
void TopKLoop(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest,
              T* values, int64_t* indices) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::vector<T> line(static_cast<size_t>(n));
  // Ties go to the lower index.
  auto cmp = [&](int64_t i, int64_t j) {
    const T a = line[i], b = line[j];
    if (largest) {
      if (Above(a, b)) return true;
      if (Above(b, a)) return false;
    } else {
      if (Above(b, a)) return true;
      if (Above(a, b)) return false;
    }
    return i < j;
  };
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      const T* p = x + o * n * inner + in;
      for (int64_t i = 0; i < n; ++i) line[i] = p[i * inner];
      std::iota(order.begin(), order.end(), int64_t{0});
      std::partial_sort(order.begin(), order.begin() + k, order.end(), cmp);
      T* v = values + o * k * inner + in;
      int64_t* ix = indices + o * k * inner + in;
      for (int64_t j = 0; j < k; ++j) {
        v[j * inner] = line[order[j]];
        ix[j * inner] = order[j];
      }
    }
  }
}

Status TopKCompute(KernelContext& ctx, const TopKAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->rank() == 0) {
    return InvalidArgument(node.Describe() + ": input must have rank >= 1, got a scalar");
  }
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, a.axis, x->rank()));
  int64_t k = a.k;
  if (a.k_from_input) {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* kt, RequiredInput(ctx, 1, "K"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> kv, ToInt64s(node, *kt, "K"));
    if (kv.size() != 1) {
      return InvalidArgument(node.Describe() + ": K must hold one value, got shape " +
                             ShapeToString(kt->shape()));
    }
    k = kv[0];
  }
  int64_t outer, n, inner;
  SplitAt(x->shape(), axis, &outer, &n, &inner);
  if (k < 0 || k > n) {
    return InvalidArgument(node.Describe() + ": k " + std::to_string(k) +
                           " is out of range for axis " + std::to_string(axis) + " of size " +
                           std::to_string(n) + " (input shape " + ShapeToString(x->shape()) + ")");
  }
  Shape out_shape = x->shape();
  out_shape[static_cast<size_t>(axis)] = k;
  TIFFIN_ASSIGN_OR_RETURN(Tensor * values, ctx.Output(0, x->dtype(), out_shape));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * indices, ctx.Output(1, DType::kInt64, out_shape));
  if (values->size() == 0) return Status::Ok();
  if (x->dtype() == DType::kFloat16) {
    Tensor f = HalfToFloatTensor(*x);
    Tensor fv(DType::kFloat32, out_shape);
    TopKLoop<float>(f.data<float>(), outer, n, inner, k, a.largest, fv.data<float>(),
                    indices->data<int64_t>());
    FloatToHalfInto(fv, values);
    return Status::Ok();
  }
  return DispatchNumeric(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    TopKLoop<T>(x->data<T>(), outer, n, inner, k, a.largest, values->data<T>(),
                indices->data<int64_t>());
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------
// CumSum.

struct CumSumAttrs {
  bool exclusive = false;
  bool reverse = false;
  static Result<CumSumAttrs> Parse(const KernelInit& init) {
    CumSumAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(int64_t e, init.node.GetInt("exclusive", 0));
    TIFFIN_ASSIGN_OR_RETURN(int64_t r, init.node.GetInt("reverse", 0));
    a.exclusive = e != 0;
    a.reverse = r != 0;
    return a;
  }
};

template <typename T, typename Acc>
void CumSumLoop(const T* x, int64_t outer, int64_t n, int64_t inner, bool exclusive, bool reverse,
                T* y) {
  std::vector<Acc> acc(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), Acc(0));
    const T* xo = x + o * n * inner;
    T* yo = y + o * n * inner;
    for (int64_t s = 0; s < n; ++s) {
      const int64_t i = reverse ? n - 1 - s : s;
      const T* xr = xo + i * inner;
      T* yr = yo + i * inner;
      for (int64_t k = 0; k < inner; ++k) {
        const Acc v = ToAcc<T, Acc>(xr[k]);
        if (exclusive) {
          yr[k] = FromAcc<T, Acc>(acc[k]);
          acc[k] = AddWrap<Acc>(acc[k], v);
        } else {
          acc[k] = AddWrap<Acc>(acc[k], v);
          yr[k] = FromAcc<T, Acc>(acc[k]);
        }
      }
    }
  }
}

Status CumSumCompute(KernelContext& ctx, const CumSumAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "x"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* at, RequiredInput(ctx, 1, "axis"));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> av, ToInt64s(node, *at, "axis"));
  if (av.size() != 1 || at->rank() > 1) {
    return InvalidArgument(node.Describe() + ": axis must be a scalar, got shape " +
                           ShapeToString(at->shape()));
  }
  if (x->rank() == 0) {
    return InvalidArgument(node.Describe() + ": input must have rank >= 1, got a scalar");
  }
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, av[0], x->rank()));
  int64_t outer, n, inner;
  SplitAt(x->shape(), axis, &outer, &n, &inner);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), x->shape()));
  if (y->size() == 0) return Status::Ok();
  if (x->dtype() == DType::kFloat16) {
    CumSumLoop<Float16, float>(x->data<Float16>(), outer, n, inner, a.exclusive, a.reverse,
                               y->data<Float16>());
    return Status::Ok();
  }
  return DispatchNumeric(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    CumSumLoop<T, T>(x->data<T>(), outer, n, inner, a.exclusive, a.reverse, y->data<T>());
    return Status::Ok();
  });
}

template <Red R, int kOpset>
constexpr KernelFactory kReduce = MakeAttrKernel<ReduceAttrsAt<kOpset>, ReduceCompute<R, kOpset>>;

const KernelDef kRows[] = {
    // axes: an attribute before opset 13 (ReduceSum) or 18 (the others), then
    // an optional input. One row each: Parse reads the node's opset.
    {"ReduceSum", "", 1, kMaxOpset, kReduce<Red::kSum, 13>},
    {"ReduceMean", "", 1, kMaxOpset, kReduce<Red::kMean, 18>},
    {"ReduceMax", "", 1, kMaxOpset, kReduce<Red::kMax, 18>},
    {"ReduceMin", "", 1, kMaxOpset, kReduce<Red::kMin, 18>},
    {"ReduceProd", "", 1, kMaxOpset, kReduce<Red::kProd, 18>},
    {"ReduceL1", "", 1, kMaxOpset, kReduce<Red::kL1, 18>},
    {"ReduceL2", "", 1, kMaxOpset, kReduce<Red::kL2, 18>},
    {"ReduceLogSum", "", 1, kMaxOpset, kReduce<Red::kLogSum, 18>},
    {"ReduceLogSumExp", "", 1, kMaxOpset, kReduce<Red::kLogSumExp, 18>},
    {"ReduceSumSquare", "", 1, kMaxOpset, kReduce<Red::kSumSquare, 18>},
    {"ArgMax", "", 1, kMaxOpset, MakeAttrKernel<ArgAttrs, ArgCompute<true>>},
    {"ArgMin", "", 1, kMaxOpset, MakeAttrKernel<ArgAttrs, ArgCompute<false>>},
    {"TopK", "", 1, kMaxOpset, MakeAttrKernel<TopKAttrs, TopKCompute>},
    {"CumSum", "", 11, kMaxOpset, MakeAttrKernel<CumSumAttrs, CumSumCompute>},
};

}  // namespace

std::span<const KernelDef> ReduceKernels() { return kRows; }

}  // namespace tiffin::kernels
