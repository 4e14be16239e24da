// Convolution and pooling over NC[D]HW tensors with 1 to 3 spatial dims:
// Conv, ConvTranspose, MaxPool, AveragePool, LpPool, GlobalAveragePool,
// GlobalMaxPool, GlobalLpPool.
//
// Conv is im2col + GEMM per group. When an image's output is small (a few
// hundred positions, as in the batch-256 CNNs tiffin is measured on), the
// columns of several images go into one GEMM so BLAS sees a wide matrix
// instead of hundreds of tiny ones; the result is then scattered to NCHW.
// A 1x1, stride-1, unpadded conv reads the input directly (no im2col). im2col
// itself picks one of three copies: whole shifted blocks for stride-1 "same"
// convs, a precomputed gather table for short output rows, row loops else.
// ConvTranspose is GEMM + col2im. Pools accumulate along output rows with the
// valid tap ranges precomputed per output index and dimension; only MaxPool
// with the Indices output goes window by window.
//
// Every spatial rank is handled as 3-D by prepending unit dimensions.
// float16 is computed in float32 and rounded back.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

constexpr int kMaxSpatial = 3;
// Attribute values above this are refused: no real model needs them and it
// keeps every size computation below far from int64 overflow.
constexpr int64_t kMaxAttrValue = int64_t{1} << 31;

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

std::string Ints(const std::vector<int64_t>& v) { return ShapeToString(v); }

// ------------------------------------------------------------ attributes

// Window attributes shared by convolutions and pools, validated at load time.
struct WindowAttrs {
  std::vector<int64_t> kernel_shape;  // may be empty for Conv (taken from W)
  std::vector<int64_t> strides, dilations, pads;
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;
};

Result<WindowAttrs> ParseWindow(const ir::Node& node, bool kernel_required) {
  WindowAttrs w;
  TIFFIN_ASSIGN_OR_RETURN(w.kernel_shape, node.GetInts("kernel_shape"));
  TIFFIN_ASSIGN_OR_RETURN(w.strides, node.GetInts("strides"));
  TIFFIN_ASSIGN_OR_RETURN(w.dilations, node.GetInts("dilations"));
  TIFFIN_ASSIGN_OR_RETURN(w.pads, node.GetInts("pads"));
  TIFFIN_ASSIGN_OR_RETURN(std::string ap, node.GetString("auto_pad", "NOTSET"));
  TIFFIN_ASSIGN_OR_RETURN(int64_t ceil_mode, node.GetInt("ceil_mode", 0));
  w.ceil_mode = ceil_mode != 0;
  if (ap == "NOTSET" || ap.empty()) {
    w.auto_pad = AutoPad::kNotSet;
  } else if (ap == "SAME_UPPER") {
    w.auto_pad = AutoPad::kSameUpper;
  } else if (ap == "SAME_LOWER") {
    w.auto_pad = AutoPad::kSameLower;
  } else if (ap == "VALID") {
    w.auto_pad = AutoPad::kValid;
  } else {
    return InvalidArgument(node.Describe() + ": attribute 'auto_pad' is '" + ap +
                           "' (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)");
  }
  if (kernel_required && w.kernel_shape.empty()) {
    return InvalidArgument(node.Describe() + ": missing attribute 'kernel_shape'");
  }
  auto check = [&](const std::vector<int64_t>& v, const char* name, int64_t min) -> Status {
    for (int64_t x : v) {
      if (x < min || x > kMaxAttrValue) {
        return InvalidArgument(node.Describe() + ": attribute '" + name + "' is " + Ints(v) +
                               " (values must be " + (min == 0 ? "non-negative" : "positive") +
                               " and at most 2^31)");
      }
    }
    return Status::Ok();
  };
  TIFFIN_RETURN_IF_ERROR(check(w.kernel_shape, "kernel_shape", 1));
  TIFFIN_RETURN_IF_ERROR(check(w.strides, "strides", 1));
  TIFFIN_RETURN_IF_ERROR(check(w.dilations, "dilations", 1));
  TIFFIN_RETURN_IF_ERROR(check(w.pads, "pads", 0));
  if (w.kernel_shape.size() > kMaxSpatial) {
    return NotSupported(node.Describe() + ": " + std::to_string(w.kernel_shape.size()) +
                        "-D windows are not supported (at most 3 spatial dims)");
  }
  if (w.pads.size() % 2 != 0) {
    return InvalidArgument(node.Describe() + ": attribute 'pads' has odd length " +
                           std::to_string(w.pads.size()) + " (expected begins then ends)");
  }
  return w;
}

// The resolved geometry of one window op, promoted to 3-D: index 0..2 are
// the spatial dims, with unit dims prepended for 1-D and 2-D.
struct Geometry {
  int nd = 0;  // real spatial rank
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t k_size() const { return k[0] * k[1] * k[2]; }
  bool pointwise() const {
    for (int i = 0; i < 3; ++i)
      if (k[i] != 1 || s[i] != 1 || pb[i] != 0 || pe[i] != 0) return false;
    return true;
  }
};

// Checks attribute lengths against the spatial rank `nd` and fills strides,
// dilations, kernel and (explicit) pads into g. in[] must already be set.
Status FillWindow(const ir::Node& node, const WindowAttrs& w, const std::vector<int64_t>& kernel,
                  int nd, Geometry* g) {
  const size_t n = static_cast<size_t>(nd);
  auto len_ok = [&](const std::vector<int64_t>& v, size_t want, const char* name) -> Status {
    if (!v.empty() && v.size() != want) {
      return InvalidArgument(node.Describe() + ": attribute '" + name + "' has " +
                             std::to_string(v.size()) + " values, expected " +
                             std::to_string(want) + " for " + std::to_string(nd) + " spatial dims");
    }
    return Status::Ok();
  };
  TIFFIN_RETURN_IF_ERROR(len_ok(kernel, n, "kernel_shape"));
  TIFFIN_RETURN_IF_ERROR(len_ok(w.strides, n, "strides"));
  TIFFIN_RETURN_IF_ERROR(len_ok(w.dilations, n, "dilations"));
  TIFFIN_RETURN_IF_ERROR(len_ok(w.pads, 2 * n, "pads"));
  g->nd = nd;
  const int off = kMaxSpatial - nd;
  for (int i = 0; i < nd; ++i) {
    const size_t si = static_cast<size_t>(i);
    g->k[off + i] = kernel[si];
    if (!w.strides.empty()) g->s[off + i] = w.strides[si];
    if (!w.dilations.empty()) g->d[off + i] = w.dilations[si];
    if (!w.pads.empty() && w.auto_pad == AutoPad::kNotSet) {
      g->pb[off + i] = w.pads[si];
      g->pe[off + i] = w.pads[si + n];
    }
  }
  return Status::Ok();
}

// Forward window output sizes (Conv and pools): resolves auto_pad and
// ceil_mode and checks every output dim is positive.
Status ResolveForward(const ir::Node& node, const WindowAttrs& w, bool allow_ceil, Geometry* g) {
  for (int i = kMaxSpatial - g->nd; i < kMaxSpatial; ++i) {
    const int64_t dk = (g->k[i] - 1) * g->d[i] + 1;
    int64_t out = 0;
    switch (w.auto_pad) {
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        out = (g->in[i] + g->s[i] - 1) / g->s[i];
        const int64_t total = std::max<int64_t>(0, (out - 1) * g->s[i] + dk - g->in[i]);
        const int64_t small = total / 2;
        g->pb[i] = w.auto_pad == AutoPad::kSameUpper ? small : total - small;
        g->pe[i] = total - g->pb[i];
        break;
      }
      case AutoPad::kValid:
        g->pb[i] = g->pe[i] = 0;
        [[fallthrough]];
      case AutoPad::kNotSet: {
        const int64_t span = g->in[i] + g->pb[i] + g->pe[i] - dk;
        if (span < 0) {
          out = 0;
        } else if (allow_ceil && w.ceil_mode) {
          out = (span + g->s[i] - 1) / g->s[i] + 1;
          // A last window starting inside the end padding is dropped.
          if ((out - 1) * g->s[i] >= g->in[i] + g->pb[i]) --out;
        } else {
          out = span / g->s[i] + 1;
        }
        break;
      }
    }
    if (out <= 0) {
      const int j = i - (kMaxSpatial - g->nd);
      return InvalidArgument(node.Describe() + ": output spatial dim " + std::to_string(j) +
                             " would be " + std::to_string(out) + " (input " +
                             std::to_string(g->in[i]) + ", kernel " + std::to_string(g->k[i]) +
                             ", dilation " + std::to_string(g->d[i]) + ", pads " +
                             std::to_string(g->pb[i]) + "+" + std::to_string(g->pe[i]) +
                             "); the window is larger than the padded input");
    }
    g->out[i] = out;
  }
  return Status::Ok();
}

// Output shape [N, C, out...] for geometry g.
Shape OutShape(int64_t n, int64_t c, const Geometry& g) {
  Shape s{n, c};
  for (int i = kMaxSpatial - g.nd; i < kMaxSpatial; ++i) s.push_back(g.out[i]);
  return s;
}

// Spatial dims of an N-C-... tensor into g->in (promoted to 3-D).
void FillInput(const Tensor& x, Geometry* g) {
  const int nd = static_cast<int>(x.rank()) - 2;
  g->nd = nd;
  for (int i = 0; i < nd; ++i) g->in[kMaxSpatial - nd + i] = x.dim(2 + i);
}

Status CheckSpatialRank(const ir::Node& node, const Tensor& x, const char* what) {
  if (x.rank() < 3 || x.rank() > 2 + kMaxSpatial) {
    return (x.rank() < 3 ? InvalidArgument : NotSupported)(
        node.Describe() + ": " + what + " has shape " + ShapeToString(x.shape()) +
        " (expected [N, C, d1 .. dk] with 1 <= k <= 3)");
  }
  return Status::Ok();
}

// Raw scratch memory, refused beyond the load options' tensor limit.
template <typename T>
Result<std::unique_ptr<T[]>> Scratch(KernelContext& ctx, int64_t n) {
  const size_t limit = ctx.options().max_tensor_bytes;
  if (n < 0 || static_cast<uint64_t>(n) > limit / sizeof(T)) {
    return ResourceExhausted(ctx.node().Describe() + ": scratch buffer of " + std::to_string(n) +
                             " elements exceeds the tensor size limit");
  }
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// ------------------------------------------------------------ GEMM / im2col

template <typename T>
void Gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const auto a = ta ? CblasTrans : CblasNoTrans;
  const auto b = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, a, b, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K),
                alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
                static_cast<int>(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, a, b, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K),
                alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
                static_cast<int>(ldc));
  }
}

// Valid range of output positions o along one dim, i.e. those with
// 0 <= o*s - p + koff < in: [lo, hi).
inline void ValidRange(int64_t out, int64_t s, int64_t start_off, int64_t in, int64_t* lo,
                       int64_t* hi) {
  // o*s + start_off >= 0  <=>  o >= ceil(-start_off / s)
  int64_t l = start_off >= 0 ? 0 : (-start_off + s - 1) / s;
  // o*s + start_off <= in - 1  <=>  o <= floor((in - 1 - start_off) / s)
  int64_t h = in - 1 - start_off < 0 ? 0 : (in - 1 - start_off) / s + 1;
  *lo = std::min(l, out);
  *hi = std::max(*lo, std::min(h, out));
}

// im2col row for one (c, kd, kh, kw) when rows and columns have stride 1 and
// the output is as wide as the input (the usual "same" 3x3 conv): the valid
// block of every depth slice is then one shifted contiguous copy, after which
// the few columns that wrapped around from neighbouring rows are zeroed.
// Short rows make per-row loops cost more than the copying itself.
template <typename T>
void Im2ColSameRows(const T* xc, const Geometry& g, int64_t kd, int64_t kh, int64_t offw,
                    int64_t wlo, int64_t whi, T* dst) {
  const int64_t W = g.in[2], H = g.in[1], D = g.in[0];
  const int64_t OW = g.out[2], OH = g.out[1], OD = g.out[0];
  const int64_t offh = kh * g.d[1] - g.pb[1];
  int64_t hlo, hhi;
  ValidRange(OH, 1, offh, H, &hlo, &hhi);
  for (int64_t od = 0; od < OD; ++od, dst += OH * OW) {
    const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
    if (id < 0 || id >= D || hlo >= hhi || wlo >= whi) {
      std::fill(dst, dst + OH * OW, T(0));
      continue;
    }
    const int64_t first = hlo * OW + wlo, last = (hhi - 1) * OW + whi;  // [first, last)
    const int64_t shift = id * H * W + offh * W + offw;  // x index of dst[q] is q + shift
    std::fill(dst, dst + first, T(0));
    std::memcpy(dst + first, xc + (first + shift), static_cast<size_t>(last - first) * sizeof(T));
    std::fill(dst + last, dst + OH * OW, T(0));
    if (wlo > 0 || whi < OW) {
      for (int64_t oh = hlo; oh < hhi; ++oh) {
        T* row = dst + oh * OW;
        for (int64_t ow = 0; ow < wlo; ++ow) row[ow] = T(0);
        for (int64_t ow = whi; ow < OW; ++ow) row[ow] = T(0);
      }
    }
  }
}

bool SameRows(const Geometry& g) { return g.s[1] == 1 && g.s[2] == 1 && g.out[2] == g.in[2]; }

// For outputs with short rows (where per-row loops cost more than the
// copying), im2col gathers through a table built once per call: for every
// kernel tap and output position, the input offset within a channel, or -1
// for padding. Returns an empty table when the row paths are better.
std::vector<int32_t> GatherTable(const Geometry& g) {
  const int64_t S = g.out_size(), KS = g.k_size();
  if (SameRows(g) || g.out[2] >= 16 || g.in_size() > INT32_MAX || KS * S > (int64_t{1} << 22)) {
    return {};
  }
  std::vector<int32_t> t(static_cast<size_t>(KS * S));
  size_t i = 0;
  for (int64_t kd = 0; kd < g.k[0]; ++kd)
    for (int64_t kh = 0; kh < g.k[1]; ++kh)
      for (int64_t kw = 0; kw < g.k[2]; ++kw)
        for (int64_t od = 0; od < g.out[0]; ++od) {
          const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
          for (int64_t oh = 0; oh < g.out[1]; ++oh) {
            const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
            for (int64_t ow = 0; ow < g.out[2]; ++ow) {
              const int64_t iw = ow * g.s[2] - g.pb[2] + kw * g.d[2];
              const bool ok =
                  id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1] && iw >= 0 && iw < g.in[2];
              t[i++] = ok ? static_cast<int32_t>((id * g.in[1] + ih) * g.in[2] + iw) : -1;
            }
          }
        }
  return t;
}

// im2col for one image and `channels` channels: col row r = (c, kd, kh, kw),
// column = output position; rows are `ld` apart.
template <typename T>
void Im2Col(const T* x, int64_t channels, const Geometry& g, const std::vector<int32_t>& table,
            T* col, int64_t ld) {
  const int64_t W = g.in[2], H = g.in[1], D = g.in[0];
  const int64_t OW = g.out[2], OH = g.out[1], OD = g.out[0];
  if (!table.empty()) {
    const int64_t S = OD * OH * OW, KS = g.k_size(), S_in = D * H * W;
    for (int64_t c = 0; c < channels; ++c) {
      const T* xc = x + c * S_in;
      const int32_t* idx = table.data();
      for (int64_t kk = 0; kk < KS; ++kk, col += ld, idx += S) {
        for (int64_t q = 0; q < S; ++q) col[q] = idx[q] >= 0 ? xc[idx[q]] : T(0);
      }
    }
    return;
  }
  const bool same_rows = SameRows(g);
  for (int64_t c = 0; c < channels; ++c) {
    const T* xc = x + c * D * H * W;
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        for (int64_t kw = 0; kw < g.k[2]; ++kw, col += ld) {
          const int64_t offw = kw * g.d[2] - g.pb[2];
          int64_t wlo, whi;
          ValidRange(OW, g.s[2], offw, W, &wlo, &whi);
          if (same_rows) {
            Im2ColSameRows(xc, g, kd, kh, offw, wlo, whi, col);
            continue;
          }
          T* dst = col;
          for (int64_t od = 0; od < OD; ++od) {
            const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
            for (int64_t oh = 0; oh < OH; ++oh, dst += OW) {
              const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
              if (id < 0 || id >= D || ih < 0 || ih >= H) {
                for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = T(0);
                continue;
              }
              // Inline loops, not memcpy/memset: rows are short (tens of
              // elements) and the calls cost more than the copies.
              const T* src = xc + (id * H + ih) * W;
              for (int64_t ow = 0; ow < wlo; ++ow) dst[ow] = T(0);
              if (g.s[2] == 1) {
                for (int64_t ow = wlo; ow < whi; ++ow) dst[ow] = src[ow + offw];
              } else {
                const int64_t s = g.s[2];
                for (int64_t ow = wlo; ow < whi; ++ow) dst[ow] = src[ow * s + offw];
              }
              for (int64_t ow = whi; ow < OW; ++ow) dst[ow] = T(0);
            }
          }
        }
      }
    }
  }
}

// col2im: the adjoint of Im2Col. Adds col rows into y (`channels` channels of
// g.in spatial size); g.out is the column count.
template <typename T>
void Col2Im(const T* col, int64_t channels, const Geometry& g, T* y) {
  const int64_t W = g.in[2], H = g.in[1], D = g.in[0];
  const int64_t OW = g.out[2], OH = g.out[1], OD = g.out[0];
  const int64_t ld = OD * OH * OW;
  for (int64_t c = 0; c < channels; ++c) {
    T* yc = y + c * D * H * W;
    for (int64_t kd = 0; kd < g.k[0]; ++kd) {
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        for (int64_t kw = 0; kw < g.k[2]; ++kw, col += ld) {
          const int64_t offw = kw * g.d[2] - g.pb[2];
          int64_t wlo, whi;
          ValidRange(OW, g.s[2], offw, W, &wlo, &whi);
          const T* src = col;
          for (int64_t od = 0; od < OD; ++od) {
            const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
            for (int64_t oh = 0; oh < OH; ++oh, src += OW) {
              const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
              if (id < 0 || id >= D || ih < 0 || ih >= H) continue;
              T* dst = yc + (id * H + ih) * W;
              const int64_t s = g.s[2];
              for (int64_t ow = wlo; ow < whi; ++ow) dst[ow * s + offw] += src[ow];
            }
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------ Conv

struct ConvAttrs {
  WindowAttrs w;
  int64_t group = 1;
  static Result<ConvAttrs> Parse(const KernelInit& init) {
    ConvAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.w, ParseWindow(init.node, false));
    TIFFIN_ASSIGN_OR_RETURN(a.group, init.node.GetInt("group", 1));
    if (a.group < 1 || a.group > kMaxAttrValue) {
      return InvalidArgument(init.node.Describe() + ": attribute 'group' is " +
                             std::to_string(a.group) + " (must be >= 1)");
    }
    return a;
  }
};

// Columns per GEMM to aim for when batching images with small outputs.
constexpr int64_t kTargetCols = 2048;

template <typename T>
Status ConvTyped(KernelContext& ctx, const Geometry& g, int64_t group, const Tensor& X,
                 const Tensor& Wt, const Tensor* B, Tensor* Y) {
  const int64_t N = X.dim(0), C = X.dim(1), M = Wt.dim(0);
  const int64_t Cg = C / group, Mg = M / group;
  const int64_t S_in = g.in_size(), S = g.out_size(), K = Cg * g.k_size();
  const T* x = X.data<T>();
  const T* w = Wt.data<T>();
  const T* bias = B ? B->data<T>() : nullptr;
  T* y = Y->data<T>();
  if (N == 0 || M == 0 || S == 0) return Status::Ok();
  if (K == 0) {  // no input channels: only the bias
    for (int64_t n = 0; n < N; ++n)
      for (int64_t m = 0; m < M; ++m)
        std::fill(y + (n * M + m) * S, y + (n * M + m + 1) * S, bias ? bias[m] : T(0));
    return Status::Ok();
  }
  const bool pointwise = g.pointwise();
  // Images per GEMM: batch small outputs, one image otherwise.
  const int64_t nb = S >= kTargetCols ? 1 : std::min<int64_t>(N, (kTargetCols + S - 1) / S);
  if (nb * S > INT_MAX || K > INT_MAX || M > INT_MAX) {
    return NotSupported(ctx.node().Describe() + ": convolution too large for BLAS (2^31 limit)");
  }
  const std::vector<int32_t> table = pointwise ? std::vector<int32_t>() : GatherTable(g);
  std::unique_ptr<T[]> col, tmp;
  if (!pointwise || nb > 1) {
    TIFFIN_ASSIGN_OR_RETURN(col, Scratch<T>(ctx, K * nb * S));
  }
  if (nb > 1) {
    TIFFIN_ASSIGN_OR_RETURN(tmp, Scratch<T>(ctx, Mg * nb * S));
  }
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    const int64_t cnt = std::min(nb, N - n0);
    for (int64_t gi = 0; gi < group; ++gi) {
      const T* wg = w + gi * Mg * K;
      if (nb == 1) {
        const T* xg = x + (n0 * C + gi * Cg) * S_in;
        T* yg = y + (n0 * M + gi * Mg) * S;
        const T* bmat = xg;
        if (!pointwise) {
          Im2Col(xg, Cg, g, table, col.get(), S);
          bmat = col.get();
        }
        Gemm<T>(false, false, Mg, S, K, T(1), wg, K, bmat, S, T(0), yg, S);
        if (bias) {
          for (int64_t m = 0; m < Mg; ++m) {
            const T b = bias[gi * Mg + m];
            T* row = yg + m * S;
            for (int64_t i = 0; i < S; ++i) row[i] += b;
          }
        }
        continue;
      }
      const int64_t ld = cnt * S;
      for (int64_t j = 0; j < cnt; ++j) {
        const T* xg = x + ((n0 + j) * C + gi * Cg) * S_in;
        Im2Col(xg, Cg, g, table, col.get() + j * S, ld);
      }
      Gemm<T>(false, false, Mg, ld, K, T(1), wg, K, col.get(), ld, T(0), tmp.get(), ld);
      for (int64_t j = 0; j < cnt; ++j) {
        for (int64_t m = 0; m < Mg; ++m) {
          const T* src = tmp.get() + m * ld + j * S;
          T* dst = y + ((n0 + j) * M + gi * Mg + m) * S;
          const T b = bias ? bias[gi * Mg + m] : T(0);
          for (int64_t i = 0; i < S; ++i) dst[i] = src[i] + b;
        }
      }
    }
  }
  return Status::Ok();
}

// Runs f on float32 copies of float16 tensors and rounds the output back.
template <typename F>
Status WithFloat(KernelContext& ctx, const std::vector<const Tensor*>& ins, int out_index,
                 const Shape& out_shape, F&& f) {
  std::vector<Tensor> conv(ins.size());
  std::vector<const Tensor*> ptrs(ins.size(), nullptr);
  for (size_t i = 0; i < ins.size(); ++i) {
    if (ins[i] == nullptr) continue;
    conv[i] = HalfToFloatTensor(*ins[i]);
    ptrs[i] = &conv[i];
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(out_index, DType::kFloat16, out_shape));
  Tensor fo(DType::kFloat32, out_shape);
  TIFFIN_RETURN_IF_ERROR(f(ptrs, &fo));
  FloatToHalfInto(fo, out);
  return Status::Ok();
}

Status CheckDTypes(const ir::Node& node, const Tensor& x,
                   std::initializer_list<const Tensor*> rest) {
  for (const Tensor* t : rest) {
    if (t != nullptr && t->dtype() != x.dtype()) {
      return InvalidArgument(node.Describe() + ": inputs have different dtypes " +
                             std::string(DTypeName(x.dtype())) + " and " +
                             std::string(DTypeName(t->dtype())));
    }
  }
  return Status::Ok();
}

// X, W and the optional B of Conv and ConvTranspose, with the checks both
// share: X has spatial dims, one dtype throughout, W of X's rank.
struct ConvInputs {
  const Tensor* x;
  const Tensor* w;
  const Tensor* b;
};
Result<ConvInputs> GetConvInputs(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(ctx, 1, "W"));
  const Tensor* b = ctx.input(2);
  TIFFIN_RETURN_IF_ERROR(CheckSpatialRank(node, *x, "X"));
  TIFFIN_RETURN_IF_ERROR(CheckDTypes(node, *x, {w, b}));
  if (w->rank() != x->rank()) {
    return InvalidArgument(node.Describe() + ": W has shape " + ShapeToString(w->shape()) +
                           " but X has shape " + ShapeToString(x->shape()) +
                           " (expected W of rank " + std::to_string(x->rank()) + ")");
  }
  return ConvInputs{x, w, b};
}

// Checks B against M output channels and W's spatial dims against the
// 'kernel_shape' attribute; returns those dims.
Result<std::vector<int64_t>> CheckBiasAndKernel(const ir::Node& node, const ConvInputs& in,
                                                int64_t M,
                                                const std::vector<int64_t>& kernel_shape) {
  if (in.b != nullptr && (in.b->rank() != 1 || in.b->dim(0) != M)) {
    return InvalidArgument(node.Describe() + ": B has shape " + ShapeToString(in.b->shape()) +
                           ", expected [" + std::to_string(M) + "]");
  }
  std::vector<int64_t> wk(in.w->shape().begin() + 2, in.w->shape().end());
  if (!kernel_shape.empty() && kernel_shape != wk) {
    return InvalidArgument(node.Describe() + ": attribute 'kernel_shape' " + Ints(kernel_shape) +
                           " differs from W's spatial dims " + Ints(wk));
  }
  for (int64_t k : wk) {
    if (k <= 0) {
      return InvalidArgument(node.Describe() + ": W has shape " + ShapeToString(in.w->shape()) +
                             " (kernel dims must be positive)");
    }
  }
  return wk;
}

Status ConvCompute(KernelContext& ctx, const ConvAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const ConvInputs io, GetConvInputs(ctx));
  const Tensor *x = io.x, *w = io.w, *b = io.b;
  const int64_t C = x->dim(1), M = w->dim(0);
  if (C % a.group != 0 || w->dim(1) * a.group != C) {
    return InvalidArgument(node.Describe() + ": X has " + std::to_string(C) + " channels but W " +
                           ShapeToString(w->shape()) + " with group " + std::to_string(a.group) +
                           " expects " + std::to_string(w->dim(1) * a.group));
  }
  if (M % a.group != 0) {
    return InvalidArgument(node.Describe() + ": W has " + std::to_string(M) +
                           " output channels, not divisible by group " + std::to_string(a.group));
  }
  TIFFIN_ASSIGN_OR_RETURN(const std::vector<int64_t> wk,
                          CheckBiasAndKernel(node, io, M, a.w.kernel_shape));
  Geometry g;
  FillInput(*x, &g);
  TIFFIN_RETURN_IF_ERROR(FillWindow(node, a.w, wk, g.nd, &g));
  TIFFIN_RETURN_IF_ERROR(ResolveForward(node, a.w, false, &g));
  const Shape out_shape = OutShape(x->dim(0), M, g);
  if (x->dtype() == DType::kFloat16) {
    return WithFloat(ctx, {x, w, b}, 0, out_shape, [&](const auto& in, Tensor* out) {
      return ConvTyped<float>(ctx, g, a.group, *in[0], *in[1], in[2], out);
    });
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), out_shape));
  return DispatchFloat(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    return ConvTyped<T>(ctx, g, a.group, *x, *w, b, y);
  });
}

// ------------------------------------------------------------ ConvTranspose

struct ConvTransposeAttrs {
  WindowAttrs w;
  int64_t group = 1;
  std::vector<int64_t> output_padding, output_shape;
  static Result<ConvTransposeAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    ConvTransposeAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.w, ParseWindow(node, false));
    TIFFIN_ASSIGN_OR_RETURN(a.group, node.GetInt("group", 1));
    TIFFIN_ASSIGN_OR_RETURN(a.output_padding, node.GetInts("output_padding"));
    TIFFIN_ASSIGN_OR_RETURN(a.output_shape, node.GetInts("output_shape"));
    if (a.group < 1 || a.group > kMaxAttrValue) {
      return InvalidArgument(node.Describe() + ": attribute 'group' is " + std::to_string(a.group) +
                             " (must be >= 1)");
    }
    for (int64_t v : a.output_padding) {
      if (v < 0 || v > kMaxAttrValue) {
        return InvalidArgument(node.Describe() + ": attribute 'output_padding' is " +
                               Ints(a.output_padding) + " (values must be non-negative)");
      }
    }
    for (int64_t v : a.output_shape) {
      if (v < 1 || v > kMaxAttrValue) {
        return InvalidArgument(node.Describe() + ": attribute 'output_shape' is " +
                               Ints(a.output_shape) + " (values must be positive)");
      }
    }
    return a;
  }
};

template <typename T>
Status ConvTransposeTyped(KernelContext& ctx, const Geometry& g, int64_t group, const Tensor& X,
                          const Tensor& Wt, const Tensor* B, Tensor* Y) {
  // g describes the adjoint conv: g.in = Y's spatial dims, g.out = X's.
  const int64_t N = X.dim(0), C = X.dim(1), Mg = Wt.dim(1), M = Mg * group;
  const int64_t Cg = C / group;
  const int64_t S_x = g.out_size(), S_y = g.in_size(), R = Mg * g.k_size();
  const T* x = X.data<T>();
  const T* w = Wt.data<T>();
  const T* bias = B ? B->data<T>() : nullptr;
  T* y = Y->data<T>();
  if (N == 0 || M == 0 || S_y == 0) return Status::Ok();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      std::fill(y + (n * M + m) * S_y, y + (n * M + m + 1) * S_y, bias ? bias[m] : T(0));
  if (Cg == 0 || R == 0 || S_x == 0) return Status::Ok();
  if (R > INT_MAX || S_x > INT_MAX || Cg > INT_MAX) {
    return NotSupported(ctx.node().Describe() + ": convolution too large for BLAS (2^31 limit)");
  }
  TIFFIN_ASSIGN_OR_RETURN(std::unique_ptr<T[]> col, Scratch<T>(ctx, R * S_x));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t gi = 0; gi < group; ++gi) {
      // col[R, S_x] = W_g^T [R, Cg] * X_g [Cg, S_x]; W_g is stored [Cg, R].
      const T* wg = w + gi * Cg * R;
      const T* xg = x + (n * C + gi * Cg) * S_x;
      Gemm<T>(true, false, R, S_x, Cg, T(1), wg, R, xg, S_x, T(0), col.get(), S_x);
      Col2Im(col.get(), Mg, g, y + (n * M + gi * Mg) * S_y);
    }
  }
  return Status::Ok();
}

Status ConvTransposeCompute(KernelContext& ctx, const ConvTransposeAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const ConvInputs io, GetConvInputs(ctx));
  const Tensor *x = io.x, *w = io.w, *b = io.b;
  const int64_t C = x->dim(1);
  if (w->dim(0) != C || C % a.group != 0) {
    return InvalidArgument(node.Describe() + ": X has " + std::to_string(C) +
                           " channels but W has shape " + ShapeToString(w->shape()) +
                           " (W's first dim must equal the channels, divisible by group " +
                           std::to_string(a.group) + ")");
  }
  const int64_t M = w->dim(1) * a.group;
  TIFFIN_ASSIGN_OR_RETURN(const std::vector<int64_t> wk,
                          CheckBiasAndKernel(node, io, M, a.w.kernel_shape));
  const int nd = static_cast<int>(x->rank()) - 2;
  if (!a.output_padding.empty() && a.output_padding.size() != static_cast<size_t>(nd)) {
    return InvalidArgument(node.Describe() + ": attribute 'output_padding' has " +
                           std::to_string(a.output_padding.size()) + " values, expected " +
                           std::to_string(nd));
  }
  if (!a.output_shape.empty() && a.output_shape.size() < static_cast<size_t>(nd)) {
    return InvalidArgument(node.Describe() + ": attribute 'output_shape' " + Ints(a.output_shape) +
                           " has fewer than " + std::to_string(nd) + " spatial dims");
  }
  // The adjoint geometry: "input" = Y, "output" = X.
  Geometry g;
  TIFFIN_RETURN_IF_ERROR(FillWindow(node, a.w, wk, nd, &g));
  const int off = kMaxSpatial - nd;
  for (int i = 0; i < nd; ++i) {
    const int j = off + i;
    const int64_t in = x->dim(2 + i);
    const int64_t op = a.output_padding.empty() ? 0 : a.output_padding[static_cast<size_t>(i)];
    const int64_t dk = (g.k[j] - 1) * g.d[j] + 1;
    const int64_t full = g.s[j] * (in - 1) + op + dk;  // unpadded output size
    int64_t out;
    if (!a.output_shape.empty() || a.w.auto_pad == AutoPad::kSameUpper ||
        a.w.auto_pad == AutoPad::kSameLower) {
      out = !a.output_shape.empty()
                ? a.output_shape[a.output_shape.size() - static_cast<size_t>(nd) +
                                 static_cast<size_t>(i)]
                : in * g.s[j];
      // A larger requested size than the kernel reaches leaves zeros (plus
      // bias) at the end, as ONNX Runtime does.
      const int64_t total = std::max<int64_t>(0, full - out);
      if (a.w.auto_pad == AutoPad::kSameUpper) {
        g.pb[j] = total / 2;
      } else {
        g.pb[j] = total - total / 2;
      }
      g.pe[j] = total - g.pb[j];
    } else {
      if (a.w.auto_pad == AutoPad::kValid) g.pb[j] = g.pe[j] = 0;
      out = full - g.pb[j] - g.pe[j];
    }
    if (out <= 0) {
      return InvalidArgument(node.Describe() + ": output spatial dim " + std::to_string(i) +
                             " would be " + std::to_string(out) + " (pads exceed the output)");
    }
    g.in[j] = out;
    g.out[j] = in;
  }
  Shape out_shape{x->dim(0), M};
  for (int i = 0; i < nd; ++i) out_shape.push_back(g.in[off + i]);
  if (x->dtype() == DType::kFloat16) {
    return WithFloat(ctx, {x, w, b}, 0, out_shape, [&](const auto& in, Tensor* out) {
      return ConvTransposeTyped<float>(ctx, g, a.group, *in[0], *in[1], in[2], out);
    });
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), out_shape));
  return DispatchFloat(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    return ConvTransposeTyped<T>(ctx, g, a.group, *x, *w, b, y);
  });
}

// ------------------------------------------------------------ pools

enum class PoolKind { kMax, kAverage, kLp };

struct PoolAttrs {
  PoolKind kind = PoolKind::kMax;
  WindowAttrs w;
  bool count_include_pad = false;
  bool column_major = false;  // MaxPool storage_order
  int64_t p = 2;              // LpPool
  static Result<PoolAttrs> ParseKind(const KernelInit& init, PoolKind kind) {
    const ir::Node& node = init.node;
    PoolAttrs a;
    a.kind = kind;
    TIFFIN_ASSIGN_OR_RETURN(a.w, ParseWindow(node, true));
    TIFFIN_ASSIGN_OR_RETURN(int64_t cip, node.GetInt("count_include_pad", 0));
    TIFFIN_ASSIGN_OR_RETURN(int64_t so, node.GetInt("storage_order", 0));
    TIFFIN_ASSIGN_OR_RETURN(a.p, node.GetInt("p", 2));
    if (so != 0 && so != 1) {
      return InvalidArgument(node.Describe() + ": attribute 'storage_order' is " +
                             std::to_string(so) + " (expected 0 or 1)");
    }
    if (kind == PoolKind::kLp && (a.p < 1 || a.p > 1024)) {
      return InvalidArgument(node.Describe() + ": attribute 'p' is " + std::to_string(a.p) +
                             " (expected a positive integer)");
    }
    a.count_include_pad = cip != 0;
    a.column_major = so != 0;
    return a;
  }
};

template <PoolKind K>
struct PoolAttrsK : PoolAttrs {
  static Result<PoolAttrsK> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(PoolAttrs a, PoolAttrs::ParseKind(init, K));
    PoolAttrsK k;
    static_cast<PoolAttrs&>(k) = std::move(a);
    return k;
  }
};

// Per dimension and output index: valid taps [lo, hi) and, for averages with
// count_include_pad, the taps inside the padded extent.
struct DimTaps {
  std::vector<int64_t> start, lo, hi, padded;
};

// floor(a / b) and ceil(a / b) for b > 0.
inline int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Closed forms, not a walk over the window: kernel_shape may be up to 2^31
// (with pads nearly as large) on a tiny input, and a per-tap loop would then
// run for billions of steps per output.
DimTaps ComputeTaps(const Geometry& g, int i) {
  DimTaps t;
  const size_t n = static_cast<size_t>(g.out[i]);
  t.start.resize(n);
  t.lo.resize(n);
  t.hi.resize(n);
  t.padded.resize(n);
  const int64_t K = g.k[i], d = g.d[i], in = g.in[i], pb = g.pb[i], pe = g.pe[i];
  // Taps k in [0, K) whose position st + k*d lies in [first, last]: a range.
  auto taps_within = [&](int64_t st, int64_t first, int64_t last, int64_t* lo, int64_t* hi) {
    *lo = std::max<int64_t>(0, CeilDiv(first - st, d));
    *hi = std::min<int64_t>(K, FloorDiv(last - st, d) + 1);
    if (*hi <= *lo) *lo = *hi = 0;
  };
  for (int64_t o = 0; o < g.out[i]; ++o) {
    const int64_t st = o * g.s[i] - pb;
    int64_t lo, hi, plo, phi;
    taps_within(st, 0, in - 1, &lo, &hi);
    taps_within(st, -pb, in + pe - 1, &plo, &phi);
    const size_t so = static_cast<size_t>(o);
    t.start[so] = st;
    t.lo[so] = lo;
    t.hi[so] = hi;
    t.padded[so] = phi - plo;
  }
  return t;
}

// MaxPool with the Indices output: window by window, tracking the argmax.
template <typename T>
void MaxPoolWithIndices(const PoolAttrs& a, const Geometry& g, int64_t planes, const T* x, T* y,
                        int64_t* indices) {
  const DimTaps td = ComputeTaps(g, 0), th = ComputeTaps(g, 1), tw = ComputeTaps(g, 2);
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t S_in = D * H * W;
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * S_in;
    for (int64_t od = 0; od < g.out[0]; ++od) {
      const size_t sd = static_cast<size_t>(od);
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        const size_t sh = static_cast<size_t>(oh);
        for (int64_t ow = 0; ow < g.out[2]; ++ow) {
          const size_t sw = static_cast<size_t>(ow);
          T best = std::numeric_limits<T>::lowest();
          int64_t bd = -1, bh = 0, bw = 0;
          for (int64_t kd = td.lo[sd]; kd < td.hi[sd]; ++kd) {
            const int64_t id = td.start[sd] + kd * g.d[0];
            for (int64_t kh = th.lo[sh]; kh < th.hi[sh]; ++kh) {
              const int64_t ih = th.start[sh] + kh * g.d[1];
              const T* row = xp + (id * H + ih) * W;
              for (int64_t kw = tw.lo[sw]; kw < tw.hi[sw]; ++kw) {
                const int64_t iw = tw.start[sw] + kw * g.d[2];
                const T v = row[iw];
                // The first maximum wins (NaNs are skipped, as in ONNX Runtime).
                if (v > best || bd < 0) {
                  best = v;
                  bd = id;
                  bh = ih;
                  bw = iw;
                }
              }
            }
          }
          *y++ = best;
          int64_t at = 0;  // an empty window (all padding) reports 0
          if (bd >= 0) {
            // Column-major storage order flattens (d1, d2, d3) as
            // d1 + d2*D1 + d3*D1*D2, as ONNX Runtime does.
            at = a.column_major ? bd + bh * D + bw * D * H : (bd * H + bh) * W + bw;
          }
          *indices++ = pl * S_in + at;
        }
      }
    }
  }
}

// The common path (no Indices output): each output row accumulates whole
// input rows per (kd, kh, kw) tap, so the inner loop runs over output
// columns and vectorises. Padding taps are skipped via precomputed ranges.
template <typename T, PoolKind K>
void PoolRows(const PoolAttrs& a, const Geometry& g, int64_t planes, const T* x, T* y) {
  const DimTaps td = ComputeTaps(g, 0), th = ComputeTaps(g, 1), tw = ComputeTaps(g, 2);
  const int64_t D = g.in[0], H = g.in[1], W = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  const int64_t S_in = D * H * W, sw = g.s[2];
  // Per-tap column ranges, for the tap-by-tap loop only (which needs a kernel
  // narrower than the output row): kernel_shape can be 2^31, so sizing these
  // by it unconditionally could ask for tens of GB.
  const bool kw_major = sw == 1 && g.k[2] < OW;
  std::vector<int64_t> wlo, whi;
  if (kw_major) {
    wlo.resize(static_cast<size_t>(g.k[2]));
    whi.resize(static_cast<size_t>(g.k[2]));
    for (int64_t kw = 0; kw < g.k[2]; ++kw) {
      const size_t i = static_cast<size_t>(kw);
      ValidRange(OW, sw, kw * g.d[2] - g.pb[2], W, &wlo[i], &whi[i]);
    }
  }
  // Divisors per output column for averages (the d/h factors vary by row).
  std::vector<T> wcount(static_cast<size_t>(OW));
  for (int64_t ow = 0; ow < OW; ++ow) {
    const size_t i = static_cast<size_t>(ow);
    wcount[i] = static_cast<T>(a.count_include_pad ? tw.padded[i] : tw.hi[i] - tw.lo[i]);
  }
  const T p = static_cast<T>(a.p);
  auto tap = [&](T acc, T v) -> T {
    if constexpr (K == PoolKind::kMax) {
      return v > acc ? v : acc;
    } else if constexpr (K == PoolKind::kAverage) {
      return acc + v;
    } else {
      const T av = v < T(0) ? static_cast<T>(-v) : v;
      return acc + (a.p == 2 ? av * av : a.p == 1 ? av : static_cast<T>(std::pow(av, p)));
    }
  };
  // Three loop orders over a row of output columns: non-overlapping 2-wide
  // windows (the usual 2x2/2 pool) in one pass; overlapping stride-1 windows
  // tap by tap over whole rows (vectorises); anything else window by window.
  const bool pairs = g.k[2] == 2 && sw == 2 && g.d[2] == 1 && g.pb[2] == 0 && 2 * OW <= W;
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * S_in;
    for (int64_t od = 0; od < OD; ++od) {
      const size_t sd = static_cast<size_t>(od);
      for (int64_t oh = 0; oh < OH; ++oh, y += OW) {
        const size_t sh = static_cast<size_t>(oh);
        const T init = K == PoolKind::kMax ? std::numeric_limits<T>::lowest() : T(0);
        for (int64_t ow = 0; ow < OW; ++ow) y[ow] = init;
        for (int64_t kd = td.lo[sd]; kd < td.hi[sd]; ++kd) {
          const int64_t id = td.start[sd] + kd * g.d[0];
          for (int64_t kh = th.lo[sh]; kh < th.hi[sh]; ++kh) {
            const T* row = xp + (id * H + th.start[sh] + kh * g.d[1]) * W;
            if (pairs) {
              for (int64_t ow = 0; ow < OW; ++ow) {
                y[ow] = tap(tap(y[ow], row[2 * ow]), row[2 * ow + 1]);
              }
            } else if (kw_major) {
              for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                const size_t i = static_cast<size_t>(kw);
                const int64_t off = kw * g.d[2] - g.pb[2];
                for (int64_t ow = wlo[i]; ow < whi[i]; ++ow) y[ow] = tap(y[ow], row[ow + off]);
              }
            } else {
              for (int64_t ow = 0; ow < OW; ++ow) {
                const size_t i = static_cast<size_t>(ow);
                const T* r = row + tw.start[i];
                T acc = y[ow];
                for (int64_t kw = tw.lo[i]; kw < tw.hi[i]; ++kw) acc = tap(acc, r[kw * g.d[2]]);
                y[ow] = acc;
              }
            }
          }
        }
        if constexpr (K == PoolKind::kAverage) {
          const T dh = static_cast<T>(a.count_include_pad
                                          ? td.padded[sd] * th.padded[sh]
                                          : (td.hi[sd] - td.lo[sd]) * (th.hi[sh] - th.lo[sh]));
          for (int64_t ow = 0; ow < OW; ++ow) {
            const T cnt = dh * wcount[static_cast<size_t>(ow)];
            y[ow] = cnt > T(0) ? y[ow] / cnt : T(0);
          }
        } else if constexpr (K == PoolKind::kLp) {
          for (int64_t ow = 0; ow < OW; ++ow) {
            y[ow] = a.p == 2   ? std::sqrt(y[ow])
                    : a.p == 1 ? y[ow]
                               : static_cast<T>(std::pow(y[ow], T(1) / p));
          }
        }
      }
    }
  }
}

template <PoolKind K>
Status PoolCompute(KernelContext& ctx, const PoolAttrsK<K>& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_RETURN_IF_ERROR(CheckSpatialRank(node, *x, "X"));
  Geometry g;
  FillInput(*x, &g);
  TIFFIN_RETURN_IF_ERROR(FillWindow(node, a.w, a.w.kernel_shape, g.nd, &g));
  for (int i = kMaxSpatial - g.nd; i < kMaxSpatial; ++i) {
    const int64_t dk = (g.k[i] - 1) * g.d[i] + 1;
    if (g.pb[i] >= dk || g.pe[i] >= dk) {
      return InvalidArgument(node.Describe() + ": pads " + Ints(a.w.pads) +
                             " must be smaller than the kernel " + Ints(a.w.kernel_shape));
    }
  }
  TIFFIN_RETURN_IF_ERROR(ResolveForward(node, a.w, true, &g));
  const Shape out_shape = OutShape(x->dim(0), x->dim(1), g);
  const int64_t planes = x->dim(0) * x->dim(1);
  int64_t* indices = nullptr;
  if constexpr (K == PoolKind::kMax) {
    if (ctx.num_outputs() > 1 && ctx.output_wanted(1)) {
      TIFFIN_ASSIGN_OR_RETURN(Tensor * ind, ctx.Output(1, DType::kInt64, out_shape));
      indices = ind->data<int64_t>();
    }
  }
  if (x->dtype() == DType::kFloat16) {
    return WithFloat(ctx, {x}, 0, out_shape, [&](const auto& in, Tensor* out) {
      if (indices != nullptr) {
        MaxPoolWithIndices<float>(a, g, planes, in[0]->template data<float>(), out->data<float>(),
                                  indices);
      } else {
        PoolRows<float, K>(a, g, planes, in[0]->template data<float>(), out->data<float>());
      }
      return Status::Ok();
    });
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), out_shape));
  auto run = [&](auto tag) -> Status {
    using T = decltype(tag);
    if (indices != nullptr) {
      MaxPoolWithIndices<T>(a, g, planes, x->data<T>(), y->data<T>(), indices);
    } else {
      PoolRows<T, K>(a, g, planes, x->data<T>(), y->data<T>());
    }
    return Status::Ok();
  };
  if constexpr (K == PoolKind::kMax) {
    if (x->dtype() == DType::kInt8) return run(int8_t{});
    if (x->dtype() == DType::kUInt8) return run(uint8_t{});
  }
  return DispatchFloat(node, x->dtype(), run);
}

// ------------------------------------------------------------ global pools

struct GlobalLpAttrs {
  int64_t p = 2;
  static Result<GlobalLpAttrs> Parse(const KernelInit& init) {
    GlobalLpAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.p, init.node.GetInt("p", 2));
    if (a.p < 1 || a.p > 1024) {
      return InvalidArgument(init.node.Describe() + ": attribute 'p' is " + std::to_string(a.p) +
                             " (expected a positive integer)");
    }
    return a;
  }
};

template <PoolKind K>
Status GlobalPoolCompute(KernelContext& ctx, const GlobalLpAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->rank() < 3) {
    return InvalidArgument(node.Describe() + ": X has shape " + ShapeToString(x->shape()) +
                           " (expected [N, C, d1 .. dk])");
  }
  Shape out_shape(x->shape().begin(), x->shape().begin() + 2);
  out_shape.resize(x->shape().size(), 1);
  const int64_t planes = x->dim(0) * x->dim(1);
  const int64_t S = planes == 0 ? 0 : x->size() / planes;
  if (S == 0 && planes > 0 && K == PoolKind::kMax) {
    return InvalidArgument(node.Describe() + ": X has an empty spatial extent " +
                           ShapeToString(x->shape()));
  }
  auto run = [&](auto tag, const Tensor& in, Tensor* out) -> Status {
    using T = decltype(tag);
    const T* px = in.data<T>();
    T* py = out->data<T>();
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* row = px + pl * S;
      if constexpr (K == PoolKind::kMax) {
        T best = row[0];
        for (int64_t i = 1; i < S; ++i) best = (row[i] > best || row[i] != row[i]) ? row[i] : best;
        py[pl] = best;
      } else if constexpr (K == PoolKind::kAverage) {
        T acc = 0;
        for (int64_t i = 0; i < S; ++i) acc += row[i];
        py[pl] = S > 0 ? acc / static_cast<T>(S) : T(0);
      } else {
        double acc = 0;
        for (int64_t i = 0; i < S; ++i)
          acc += std::pow(std::abs(static_cast<double>(row[i])), static_cast<double>(a.p));
        py[pl] = static_cast<T>(std::pow(acc, 1.0 / static_cast<double>(a.p)));
      }
    }
    return Status::Ok();
  };
  if (x->dtype() == DType::kFloat16) {
    return WithFloat(ctx, {x}, 0, out_shape,
                     [&](const auto& in, Tensor* out) { return run(float{}, *in[0], out); });
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * y, ctx.Output(0, x->dtype(), out_shape));
  return DispatchFloat(node, x->dtype(), [&](auto tag) { return run(tag, *x, y); });
}

const KernelDef kRows[] = {
    {"Conv", "", 1, kMaxOpset, MakeAttrKernel<ConvAttrs, ConvCompute>},
    {"ConvTranspose", "", 1, kMaxOpset, MakeAttrKernel<ConvTransposeAttrs, ConvTransposeCompute>},
    {"MaxPool", "", 1, kMaxOpset,
     MakeAttrKernel<PoolAttrsK<PoolKind::kMax>, PoolCompute<PoolKind::kMax>>},
    {"AveragePool", "", 1, kMaxOpset,
     MakeAttrKernel<PoolAttrsK<PoolKind::kAverage>, PoolCompute<PoolKind::kAverage>>},
    {"LpPool", "", 2, kMaxOpset,
     MakeAttrKernel<PoolAttrsK<PoolKind::kLp>, PoolCompute<PoolKind::kLp>>},
    {"GlobalAveragePool", "", 1, kMaxOpset,
     MakeAttrKernel<GlobalLpAttrs, GlobalPoolCompute<PoolKind::kAverage>>},
    {"GlobalMaxPool", "", 1, kMaxOpset,
     MakeAttrKernel<GlobalLpAttrs, GlobalPoolCompute<PoolKind::kMax>>},
    {"GlobalLpPool", "", 2, kMaxOpset,
     MakeAttrKernel<GlobalLpAttrs, GlobalPoolCompute<PoolKind::kLp>>},
};

}  // namespace

std::span<const KernelDef> ConvPoolKernels() { return kRows; }

}  // namespace tiffin::kernels
