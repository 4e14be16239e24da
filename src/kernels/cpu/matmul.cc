// Matrix products: Gemm and MatMul.
//
// float32/float64 go to OpenBLAS; integer types use a plain loop (wrapping
// arithmetic, as numpy does); float16 is computed in float32 and rounded back.
//
// Speed notes (measured on the project machine, AVX-512, OpenBLAS 0.3.21):
// cblas_sgemm with a row-major, non-transposed B costs ~0.05 us for a
// [1,16]x[16,64] product, as fast as a hand-written loop or Eigen, but a
// transposed B (PyTorch's Linear layout, Gemm transB=1) is ~8x slower for
// single rows and up to 4x slower for batch 256. Gemm therefore transposes a
// constant B once at load time into [K,N] and always calls BLAS with NoTrans.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

// BLAS takes int dimensions.
bool FitsBlas(int64_t v) { return v >= 0 && v <= INT_MAX; }

// C[M,N] = alpha * op(A) * op(B) + beta * C, all row-major. lda/ldb/ldc are
// row strides of the stored (untransposed) matrices. When beta == 0, C is
// overwritten (it may hold garbage, even NaNs).
template <typename T>
void GemmRaw(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
             int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // BLAS wants K >= 1; the product is empty, C = beta * C
    for (int64_t m = 0; m < M; ++m) {
      T* c = C + m * ldc;
      for (int64_t n = 0; n < N; ++n) {
        if constexpr (std::is_integral_v<T>) {  // wraps, no signed overflow
          using U = std::make_unsigned_t<T>;
          c[n] = static_cast<T>(static_cast<U>(beta) * static_cast<U>(c[n]));
        } else {
          c[n] = beta == T(0) ? T(0) : static_cast<T>(beta * c[n]);
        }
      }
    }
    return;
  }
  if constexpr (std::is_same_v<T, double>) {
    // Tiny float64 products (a scikit-learn model on one row: [1,30]x[30,1])
    // cost more in OpenBLAS's dispatch and locking than in arithmetic; a
    // plain loop summing k in order is several times faster there.
    if (M * N * K <= 4096) {
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0;
          for (int64_t k = 0; k < K; ++k) {
            acc += (trans_a ? A[k * lda + m] : A[m * lda + k]) *
                   (trans_b ? B[n * ldb + k] : B[k * ldb + n]);
          }
          T& c = C[m * ldc + n];
          c = beta == T(0) ? alpha * acc : alpha * acc + beta * c;
        }
      }
      return;
    }
  }
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    const auto ta = trans_a ? CblasTrans : CblasNoTrans;
    const auto tb = trans_b ? CblasTrans : CblasNoTrans;
    const int ilda = static_cast<int>(std::max<int64_t>(lda, 1));
    const int ildb = static_cast<int>(std::max<int64_t>(ldb, 1));
    const int ildc = static_cast<int>(std::max<int64_t>(ldc, 1));
    if (M == 1 && K * N >= 4096) {
      // One row times a large matrix: sgemm would first copy (pack) all of
      // B, which for a 1600x1600 weight costs more than the product itself
      // (seen as sgemm_itcopy in the bundle-load profile); gemv reads B once.
      const int inca = trans_a ? static_cast<int>(std::max<int64_t>(lda, 1)) : 1;
      // BLAS may scale y by beta = 0 as 0 * y, keeping a NaN that was there.
      if (beta == T(0)) std::memset(C, 0, static_cast<size_t>(N) * sizeof(T));
      const auto op = trans_b ? CblasNoTrans : CblasTrans;
      const int rows = static_cast<int>(trans_b ? N : K), cols = static_cast<int>(trans_b ? K : N);
      if constexpr (std::is_same_v<T, float>) {
        cblas_sgemv(CblasRowMajor, op, rows, cols, alpha, B, ildb, A, inca, beta, C, 1);
      } else {
        cblas_dgemv(CblasRowMajor, op, rows, cols, alpha, B, ildb, A, inca, beta, C, 1);
      }
      return;
    }
    if constexpr (std::is_same_v<T, float>) {
      cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(M), static_cast<int>(N),
                  static_cast<int>(K), alpha, A, ilda, B, ildb, beta, C, ildc);
    } else {
      cblas_dgemm(CblasRowMajor, ta, tb, static_cast<int>(M), static_cast<int>(N),
                  static_cast<int>(K), alpha, A, ilda, B, ildb, beta, C, ildc);
    }
  } else {
    // Integers: wrap around on overflow (unsigned arithmetic, no UB).
    using U = std::make_unsigned_t<T>;
    const U ua = static_cast<U>(alpha), ub = static_cast<U>(beta);
    for (int64_t m = 0; m < M; ++m) {
      U* c = reinterpret_cast<U*>(C + m * ldc);
      for (int64_t n = 0; n < N; ++n) c[n] = ub == 0 ? U(0) : static_cast<U>(ub * c[n]);
      for (int64_t k = 0; k < K; ++k) {
        const U a = static_cast<U>(ua * static_cast<U>(trans_a ? A[k * lda + m] : A[m * lda + k]));
        if (trans_b) {
          for (int64_t n = 0; n < N; ++n)
            c[n] = static_cast<U>(c[n] + a * static_cast<U>(B[n * ldb + k]));
        } else {
          const T* b = B + k * ldb;
          for (int64_t n = 0; n < N; ++n) c[n] = static_cast<U>(c[n] + a * static_cast<U>(b[n]));
        }
      }
    }
  }
}

// Dispatch for the dtypes Gemm/MatMul compute natively.
template <typename F>
Status DispatchMatMul(const ir::Node& node, DType dt, F&& f) {
  switch (dt) {
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat64:
      return f(double{});
    case DType::kInt32:
      return f(int32_t{});
    case DType::kInt64:
      return f(int64_t{});
    case DType::kUInt32:
      return f(uint32_t{});
    case DType::kUInt64:
      return f(uint64_t{});
    default:
      return BadDType(node, "input", dt);
  }
}

std::string DTypeStr(DType dt) { return std::string(DTypeName(dt)); }

Status CheckSameDType(const ir::Node& node, const Tensor& a, const Tensor& b, const char* what) {
  if (a.dtype() != b.dtype()) {
    return InvalidArgument(node.Describe() + ": " + what + " has dtype " + DTypeStr(b.dtype()) +
                           " but A has " + DTypeStr(a.dtype()) + " (inputs must share one dtype)");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- Gemm

struct GemmAttrs {
  bool trans_a = false;
  bool trans_b = false;
  float alpha = 1.0f;
  float beta = 1.0f;
  // Opset 6 (before numpy broadcasting): C must be exactly [M,N] unless the
  // node sets broadcast=1, which then means what opset 7 made the default.
  bool exact_c = false;
  // A constant B transposed once to [K,N] (only set when transB=1 and B is a
  // float32/float64 matrix known at load time).
  Tensor packed_b;

  static Result<GemmAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    GemmAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(int64_t ta, node.GetInt("transA", 0));
    TIFFIN_ASSIGN_OR_RETURN(int64_t tb, node.GetInt("transB", 0));
    TIFFIN_ASSIGN_OR_RETURN(a.alpha, node.GetFloat("alpha", 1.0f));
    TIFFIN_ASSIGN_OR_RETURN(a.beta, node.GetFloat("beta", 1.0f));
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) {
      return InvalidArgument(node.Describe() + ": transA/transB must be 0 or 1, got " +
                             std::to_string(ta) + "/" + std::to_string(tb));
    }
    a.trans_a = ta != 0;
    a.trans_b = tb != 0;
    if (node.opset < 7) {
      TIFFIN_ASSIGN_OR_RETURN(int64_t bc, node.GetInt("broadcast", 0));
      a.exact_c = bc == 0;
    }
    const Tensor* b = init.constant(1);
    if (a.trans_b && b != nullptr && b->rank() == 2 &&
        (b->dtype() == DType::kFloat32 || b->dtype() == DType::kFloat64)) {
      const int64_t n = b->dim(0), k = b->dim(1);
      Tensor packed(b->dtype(), {k, n});
      auto transpose = [&](auto tag) {
        using T = decltype(tag);
        const T* src = b->data<T>();
        T* dst = packed.data<T>();
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < k; ++j) dst[j * n + i] = src[i * k + j];
      };
      if (b->dtype() == DType::kFloat32) {
        transpose(float{});
      } else {
        transpose(double{});
      }
      a.packed_b = std::move(packed);
    }
    return a;
  }
};

// A float attribute (alpha, beta) as T. For integer T it is truncated, with
// NaN giving 0 and out-of-range values saturating (a plain cast would be
// undefined behaviour).
template <typename T>
T FromAttr(float v) {
  if constexpr (std::is_integral_v<T>) {
    const double d = static_cast<double>(v);
    if (std::isnan(d)) return T(0);
    if (d <= static_cast<double>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (d >= static_cast<double>(std::numeric_limits<T>::max()))
      return std::numeric_limits<T>::max();
    return static_cast<T>(d);
  } else {
    return static_cast<T>(v);
  }
}

// beta * c, wrapping for integers like GemmRaw does.
template <typename T>
T ScaleC(T beta, T c) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(beta) * static_cast<U>(c));
  } else {
    return static_cast<T>(beta * c);
  }
}

template <typename T>
Status GemmTyped(const GemmAttrs& at, const Tensor& A, const Tensor& B, const Tensor* packed_b,
                 const Tensor* C, Tensor* out) {
  const int64_t M = out->dim(0), N = out->dim(1);
  const int64_t K = at.trans_a ? A.dim(0) : A.dim(1);
  T* y = out->data<T>();
  const T alpha = FromAttr<T>(at.alpha);
  T beta = FromAttr<T>(at.beta);
  if (C != nullptr && beta != T(0)) {
    // Unidirectional broadcast of C to [M,N], pre-scaled by beta.
    const T* c = C->data<T>();
    const int64_t cr = C->rank();
    const int64_t cm = cr == 2 ? C->dim(0) : 1;
    const int64_t cn = cr >= 1 ? C->dim(cr - 1) : 1;
    for (int64_t m = 0; m < M; ++m) {
      const T* crow = c + (cm == 1 ? 0 : m) * cn;
      T* yrow = y + m * N;
      if (cn == 1) {
        const T v = ScaleC<T>(beta, crow[0]);
        for (int64_t n = 0; n < N; ++n) yrow[n] = v;
      } else if (beta == T(1)) {
        std::memcpy(yrow, crow, static_cast<size_t>(N) * sizeof(T));
      } else {
        for (int64_t n = 0; n < N; ++n) yrow[n] = ScaleC<T>(beta, crow[n]);
      }
    }
    beta = T(1);
  } else {
    beta = T(0);
  }
  if (packed_b != nullptr) {
    GemmRaw<T>(at.trans_a, false, M, N, K, alpha, A.data<T>(), A.dim(1), packed_b->data<T>(), N,
               beta, y, N);
  } else {
    GemmRaw<T>(at.trans_a, at.trans_b, M, N, K, alpha, A.data<T>(), A.dim(1), B.data<T>(), B.dim(1),
               beta, y, N);
  }
  return Status::Ok();
}

Status GemmCompute(KernelContext& ctx, const GemmAttrs& at) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "A"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1, "B"));
  const Tensor* c = ctx.input(2);
  TIFFIN_RETURN_IF_ERROR(CheckSameDType(node, *a, *b, "B"));
  if (c != nullptr) TIFFIN_RETURN_IF_ERROR(CheckSameDType(node, *a, *c, "C"));
  if (a->rank() != 2 || b->rank() != 2) {
    return InvalidArgument(node.Describe() + ": A and B must be 2-D, got " +
                           ShapeToString(a->shape()) + " and " + ShapeToString(b->shape()) +
                           " (use MatMul for other ranks)");
  }
  const int64_t M = at.trans_a ? a->dim(1) : a->dim(0);
  const int64_t K = at.trans_a ? a->dim(0) : a->dim(1);
  const int64_t Kb = at.trans_b ? b->dim(1) : b->dim(0);
  const int64_t N = at.trans_b ? b->dim(0) : b->dim(1);
  if (K != Kb) {
    return InvalidArgument(node.Describe() + ": inner dimensions differ: A " +
                           ShapeToString(a->shape()) + (at.trans_a ? " (transposed)" : "") +
                           " and B " + ShapeToString(b->shape()) +
                           (at.trans_b ? " (transposed)" : ""));
  }
  if (!FitsBlas(M) || !FitsBlas(N) || !FitsBlas(K)) {
    return NotSupported(node.Describe() + ": matrix dimension over 2^31-1");
  }
  if (c != nullptr && at.exact_c && c->shape() != Shape{M, N}) {
    return InvalidArgument(node.Describe() + ": C of shape " + ShapeToString(c->shape()) +
                           " must be [" + std::to_string(M) + "," + std::to_string(N) +
                           "] at opset 6 without broadcast=1");
  }
  if (c != nullptr) {
    const Shape& cs = c->shape();
    bool ok = cs.size() <= 2;
    const int64_t want[2] = {M, N};
    for (size_t i = 0; ok && i < cs.size(); ++i) {
      const int64_t d = cs[cs.size() - 1 - i], w = want[1 - i];
      ok = d == 1 || d == w;
    }
    if (!ok) {
      return InvalidArgument(node.Describe() + ": C of shape " + ShapeToString(cs) +
                             " does not broadcast to [" + std::to_string(M) + "," +
                             std::to_string(N) + "]");
    }
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, a->dtype(), {M, N}));
  const Tensor* packed = at.packed_b.defined() && at.packed_b.dtype() == b->dtype() &&
                                 at.packed_b.dim(0) == K && at.packed_b.dim(1) == N
                             ? &at.packed_b
                             : nullptr;
  if (a->dtype() == DType::kFloat16) {
    Tensor fa = HalfToFloatTensor(*a), fb = HalfToFloatTensor(*b);
    Tensor fc = c ? HalfToFloatTensor(*c) : Tensor();
    Tensor fo(DType::kFloat32, {M, N});
    TIFFIN_RETURN_IF_ERROR(GemmTyped<float>(at, fa, fb, nullptr, c ? &fc : nullptr, &fo));
    FloatToHalfInto(fo, out);
    return Status::Ok();
  }
  return DispatchMatMul(node, a->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    return GemmTyped<T>(at, *a, *b, packed, c, out);
  });
}

// ---------------------------------------------------------------- MatMul

template <typename T>
void MatMulTyped(const Tensor& A, const Tensor& B, const Shape& batch, const Shape& batch_a,
                 const Shape& batch_b, int64_t M, int64_t N, int64_t K, Tensor* out) {
  const T* pa = A.data<T>();
  const T* pb = B.data<T>();
  T* py = out->data<T>();
  int64_t count = 1;
  for (int64_t d : batch) count *= d;
  int64_t count_b = 1;
  for (int64_t d : batch_b) count_b *= d;
  if (count_b == 1) {
    // B is one matrix: fold A's batch into the rows of a single product.
    GemmRaw<T>(false, false, count * M, N, K, T(1), pa, K, pb, N, T(0), py, N);
    return;
  }
  // Strides (in matrices) of A's and B's batch dims over the output batch.
  auto pad = [&](const Shape& s) {
    Shape p(batch.size() - s.size(), 1);
    p.insert(p.end(), s.begin(), s.end());
    return p;
  };
  const std::vector<int64_t> sa = BroadcastStrides(pad(batch_a), batch);
  const std::vector<int64_t> sb = BroadcastStrides(pad(batch_b), batch);
  const size_t rank = batch.size();
  std::vector<int64_t> idx(rank, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0; i < count; ++i) {
    GemmRaw<T>(false, false, M, N, K, T(1), pa + ia * M * K, K, pb + ib * K * N, N, T(0),
               py + i * M * N, N);
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      ia += sa[d];
      ib += sb[d];
      if (++idx[d] < batch[d]) break;
      ia -= sa[d] * batch[d];
      ib -= sb[d] * batch[d];
      idx[d] = 0;
    }
  }
}

Status MatMulCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "A"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1, "B"));
  TIFFIN_RETURN_IF_ERROR(CheckSameDType(node, *a, *b, "B"));
  if (a->rank() < 1 || b->rank() < 1) {
    return InvalidArgument(node.Describe() + ": inputs must have rank >= 1, got " +
                           ShapeToString(a->shape()) + " and " + ShapeToString(b->shape()));
  }
  Shape as = a->shape(), bs = b->shape();
  const bool squeeze_m = as.size() == 1, squeeze_n = bs.size() == 1;
  if (squeeze_m) as.insert(as.begin(), 1);
  if (squeeze_n) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back();
  const int64_t Kb = bs[bs.size() - 2], N = bs.back();
  if (K != Kb) {
    return InvalidArgument(node.Describe() + ": inner dimensions differ: A " +
                           ShapeToString(a->shape()) + " and B " + ShapeToString(b->shape()) +
                           " (A's last dim must equal B's second-to-last)");
  }
  const Shape batch_a(as.begin(), as.end() - 2), batch_b(bs.begin(), bs.end() - 2);
  TIFFIN_ASSIGN_OR_RETURN(Shape batch, BroadcastShapes(node, batch_a, batch_b));
  int64_t count = 1;
  for (int64_t d : batch) {
    // An empty batch's other dims may multiply past int64; saturate (the
    // output is then empty, or refused by ctx.Output).
    if (__builtin_mul_overflow(count, d, &count)) count = INT64_MAX;
  }
  if (!FitsBlas(M) || !FitsBlas(N) || !FitsBlas(K) || (count > 0 && M > INT_MAX / count)) {
    return NotSupported(node.Describe() + ": matrix dimension over 2^31-1");
  }
  Shape out_shape = batch;
  if (!squeeze_m) out_shape.push_back(M);
  if (!squeeze_n) out_shape.push_back(N);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, a->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  if (a->dtype() == DType::kFloat16) {
    Tensor fa = HalfToFloatTensor(*a), fb = HalfToFloatTensor(*b);
    Tensor fo(DType::kFloat32, out_shape);
    MatMulTyped<float>(fa, fb, batch, batch_a, batch_b, M, N, K, &fo);
    FloatToHalfInto(fo, out);
    return Status::Ok();
  }
  return DispatchMatMul(node, a->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    MatMulTyped<T>(*a, *b, batch, batch_a, batch_b, M, N, K, out);
    return Status::Ok();
  });
}

const KernelDef kRows[] = {
    {"Gemm", "", 6, kMaxOpset, MakeAttrKernel<GemmAttrs, GemmCompute>},
    {"MatMul", "", 1, kMaxOpset, MakeFnKernel<MatMulCompute>},
};

}  // namespace

std::span<const KernelDef> MatMulKernels() { return kRows; }

}  // namespace tiffin::kernels
