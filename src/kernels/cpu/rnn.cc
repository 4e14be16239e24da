// Recurrent layers: RNN, GRU, LSTM (ONNX semantics, opset 7 on; `layout`
// from 14).
//
// Per direction, the input projection of every timestep is one GEMM
// (W [G*H, I] x X^T) with both biases folded in; each step then adds
// R [G*H, H] x H_prev^T with one more GEMM. Gates and states are stored
// transposed ([unit, batch]) so each activation is one call over a long
// contiguous span. Biases of constant W/R/B are summed once at load time.
// Float sigmoid and tanh use vectorisable approximations (see FastExp).
//
// float32 and float64; float16 is computed in float32 and rounded back.
#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

enum class Cell { kRnn, kGru, kLstm };

// Gates per cell: RNN 1, GRU 3 (z r h), LSTM 4 (i o f c).
constexpr int GateCount(Cell c) { return c == Cell::kRnn ? 1 : c == Cell::kGru ? 3 : 4; }

enum class ActKind {
  kSigmoid,
  kTanh,
  kRelu,
  kLeakyRelu,
  kThresholdedRelu,
  kScaledTanh,
  kHardSigmoid,
  kElu,
  kSoftsign,
  kSoftplus,
  kAffine,
};

struct Activation {
  ActKind kind = ActKind::kTanh;
  float alpha = 0, beta = 0;
};

// Branch-free float exp and tanh that GCC vectorises (libm's are scalar
// calls). FastExp is Cephes' expf polynomial, max relative error ~1.5e-7;
// sigmoid is computed from it rather than from tanh so that 1 - sigmoid(x)
// keeps its small value for large x (GRU's (1 - z)). FastTanh is the
// rational approximation Eigen and MLAS use, max abs error ~3e-7.
inline float FastExp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // Round x*log2(e) to the nearest integer with the 1.5*2^23 trick.
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  const int32_t ni = std::bit_cast<int32_t>(shifted) - 0x4B400000;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  const float r2 = r * r;
  const float y = (((((1.9875691500E-4f * r + 1.3981999507E-3f) * r + 8.3334519073E-3f) * r +
                     4.1665795894E-2f) *
                        r +
                    1.6666665459E-1f) *
                       r +
                   5.0000001201E-1f) *
                      r2 +
                  r + 1.0f;
  return y * std::bit_cast<float>((ni + 127) << 23);
}

inline float FastTanh(float x) {
  x = x < -7.90531110763549805f ? -7.90531110763549805f : x;
  x = x > 7.90531110763549805f ? 7.90531110763549805f : x;
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return p * x / q;
}

// Applies an activation in place over n contiguous values.
template <typename T>
void Apply(const Activation& a, T* p, int64_t n) {
  const T al = static_cast<T>(a.alpha), be = static_cast<T>(a.beta);
  switch (a.kind) {
    case ActKind::kSigmoid:
      if constexpr (std::is_same_v<T, float>) {
        for (int64_t i = 0; i < n; ++i) p[i] = 1.0f / (1.0f + FastExp(-p[i]));
      } else {
        for (int64_t i = 0; i < n; ++i) p[i] = T(1) / (T(1) + std::exp(-p[i]));
      }
      return;
    case ActKind::kTanh:
      if constexpr (std::is_same_v<T, float>) {
        for (int64_t i = 0; i < n; ++i) p[i] = FastTanh(p[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) p[i] = std::tanh(p[i]);
      }
      return;
    case ActKind::kRelu:
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] > T(0) ? p[i] : T(0);
      return;
    case ActKind::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] >= T(0) ? p[i] : al * p[i];
      return;
    case ActKind::kThresholdedRelu:
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] > al ? p[i] : T(0);
      return;
    case ActKind::kScaledTanh:
      for (int64_t i = 0; i < n; ++i) p[i] = al * std::tanh(be * p[i]);
      return;
    case ActKind::kHardSigmoid:
      for (int64_t i = 0; i < n; ++i) p[i] = std::clamp(al * p[i] + be, T(0), T(1));
      return;
    case ActKind::kElu:
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] >= T(0) ? p[i] : al * (std::exp(p[i]) - T(1));
      return;
    case ActKind::kSoftsign:
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] / (T(1) + std::abs(p[i]));
      return;
    case ActKind::kSoftplus:
      // Stable form: no overflow to inf for large inputs.
      for (int64_t i = 0; i < n; ++i) {
        const T x = p[i];
        p[i] = x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
      }
      return;
    case ActKind::kAffine:
      for (int64_t i = 0; i < n; ++i) p[i] = al * p[i] + be;
      return;
  }
}

template <typename T>
void Clip(T* p, int64_t n, float clip) {
  if (clip <= 0) return;
  const T c = static_cast<T>(clip);
  for (int64_t i = 0; i < n; ++i) p[i] = std::clamp(p[i], -c, c);
}

// Parses one activation name (case-insensitive) with ONNX's default
// alpha/beta, taking explicit values from the attribute lists in order.
Result<Activation> ParseActivation(const ir::Node& node, const std::string& name,
                                   const std::vector<float>& alphas, size_t* ai,
                                   const std::vector<float>& betas, size_t* bi) {
  std::string s = name;
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Activation a;
  // (uses alpha, default alpha, uses beta, default beta)
  bool ua = false, ub = false;
  float da = 0, db = 0;
  if (s == "sigmoid") {
    a.kind = ActKind::kSigmoid;
  } else if (s == "tanh") {
    a.kind = ActKind::kTanh;
  } else if (s == "relu") {
    a.kind = ActKind::kRelu;
  } else if (s == "leakyrelu") {
    a.kind = ActKind::kLeakyRelu, ua = true, da = 0.01f;
  } else if (s == "thresholdedrelu") {
    a.kind = ActKind::kThresholdedRelu, ua = true, da = 1.0f;
  } else if (s == "scaledtanh") {
    a.kind = ActKind::kScaledTanh, ua = ub = true, da = db = 1.0f;
  } else if (s == "hardsigmoid") {
    a.kind = ActKind::kHardSigmoid, ua = ub = true, da = 0.2f, db = 0.5f;
  } else if (s == "elu") {
    a.kind = ActKind::kElu, ua = true, da = 1.0f;
  } else if (s == "softsign") {
    a.kind = ActKind::kSoftsign;
  } else if (s == "softplus") {
    a.kind = ActKind::kSoftplus;
  } else if (s == "affine") {
    a.kind = ActKind::kAffine, ua = ub = true, da = 1.0f, db = 0.0f;
  } else {
    return NotSupported(node.Describe() + ": activation '" + name +
                        "' is not supported (use Sigmoid, Tanh, Relu, LeakyRelu, "
                        "ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus or "
                        "Affine)");
  }
  a.alpha = da;
  a.beta = db;
  if (ua && *ai < alphas.size()) a.alpha = alphas[(*ai)++];
  if (ub && *bi < betas.size()) a.beta = betas[(*bi)++];
  return a;
}

// Weights and folded biases for every direction, in the compute dtype.
struct Packed {
  int64_t input = 0, hidden = 0;
  Tensor w;    // [dirs, G*H, I], as given
  Tensor r;    // [dirs, G*H, H], as given
  Tensor bx;   // [dirs, G*H]: Wb + Rb (GRU with linear_before_reset: h part Wb only)
  Tensor rbh;  // [dirs, H]: GRU h-gate recurrence bias, kept apart (linear_before_reset)
};

template <typename T>
Packed PackWeights(Cell cell, bool lbr, const Tensor& W, const Tensor& R, const Tensor* B) {
  const int64_t G = GateCount(cell);
  Packed p;
  p.w = W;
  p.r = R;
  p.input = W.dim(2);
  p.hidden = R.dim(2);
  const int64_t D = W.dim(0), H = p.hidden, GH = G * H;
  p.bx = Tensor(DTypeOf<T>(), {D, GH});  // zero-initialised: no B means zero biases
  p.rbh = Tensor(DTypeOf<T>(), {D, H});
  if (B == nullptr) return p;
  for (int64_t d = 0; d < D; ++d) {
    T* bx = p.bx.data<T>() + d * GH;
    T* rbh = p.rbh.data<T>() + d * H;
    const T* b = B->data<T>() + d * 2 * GH;
    for (int64_t g = 0; g < GH; ++g) {
      const bool keep_apart = cell == Cell::kGru && lbr && g >= 2 * H;
      bx[g] = keep_apart ? b[g] : b[g] + b[GH + g];
      if (keep_apart) rbh[g - 2 * H] = b[GH + g];
    }
  }
  return p;
}

struct RnnAttrs {
  Cell cell = Cell::kRnn;
  int64_t hidden_size = 0;  // 0 = take from R
  int64_t num_directions = 1;
  std::vector<Activation> acts;  // per direction: RNN f; GRU f g; LSTM f g h
  float clip = 0;                // 0 = none
  bool layout_batch_first = false;
  bool linear_before_reset = false;
  bool input_forget = false;
  Packed packed;                      // set when W, R (and B if present) are constants
  std::string direction = "forward";  // forward, reverse or bidirectional

  static Result<RnnAttrs> ParseCell(const KernelInit& init, Cell cell) {
    const ir::Node& node = init.node;
    RnnAttrs a;
    a.cell = cell;
    TIFFIN_ASSIGN_OR_RETURN(a.hidden_size, node.GetInt("hidden_size", 0));
    TIFFIN_ASSIGN_OR_RETURN(a.direction, node.GetString("direction", "forward"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<std::string> names, node.GetStrings("activations"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<float> alphas, node.GetFloats("activation_alpha"));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<float> betas, node.GetFloats("activation_beta"));
    TIFFIN_ASSIGN_OR_RETURN(int64_t layout, node.GetInt("layout", 0));
    TIFFIN_ASSIGN_OR_RETURN(int64_t lbr, node.GetInt("linear_before_reset", 0));
    TIFFIN_ASSIGN_OR_RETURN(int64_t input_forget, node.GetInt("input_forget", 0));
    if (node.HasAttribute("clip")) {
      TIFFIN_ASSIGN_OR_RETURN(a.clip, node.GetFloat("clip", 0));
      if (!(a.clip > 0)) {
        return InvalidArgument(node.Describe() + ": attribute 'clip' is " + std::to_string(a.clip) +
                               " (must be positive)");
      }
    }
    if (a.hidden_size < 0 || a.hidden_size > (int64_t{1} << 24)) {
      return InvalidArgument(node.Describe() + ": attribute 'hidden_size' is " +
                             std::to_string(a.hidden_size) + " (must be positive)");
    }
    if (a.direction == "forward" || a.direction == "reverse") {
      a.num_directions = 1;
    } else if (a.direction == "bidirectional") {
      a.num_directions = 2;
    } else {
      return InvalidArgument(node.Describe() + ": attribute 'direction' is '" + a.direction +
                             "' (expected forward, reverse or bidirectional)");
    }
    if (layout != 0 && layout != 1) {
      return InvalidArgument(node.Describe() + ": attribute 'layout' is " + std::to_string(layout) +
                             " (expected 0 or 1)");
    }
    a.layout_batch_first = layout == 1;
    a.linear_before_reset = lbr != 0;
    a.input_forget = input_forget != 0;
    const size_t per_dir = cell == Cell::kRnn ? 1 : cell == Cell::kGru ? 2 : 3;
    if (names.empty()) {
      for (size_t d = 0; d < static_cast<size_t>(a.num_directions); ++d) {
        if (cell == Cell::kRnn) {
          names.push_back("Tanh");
        } else {
          names.push_back("Sigmoid");
          names.push_back("Tanh");
          if (cell == Cell::kLstm) names.push_back("Tanh");
        }
      }
    } else if (names.size() == per_dir && a.num_directions == 2) {
      // One direction's list given for both: reuse it.
      std::vector<std::string> twice = names;
      twice.insert(twice.end(), names.begin(), names.end());
      names = twice;
    }
    if (names.size() != per_dir * static_cast<size_t>(a.num_directions)) {
      return InvalidArgument(node.Describe() + ": attribute 'activations' has " +
                             std::to_string(names.size()) + " entries, expected " +
                             std::to_string(per_dir * static_cast<size_t>(a.num_directions)) +
                             " (" + std::to_string(per_dir) + " per direction)");
    }
    size_t ai = 0, bi = 0;
    for (const std::string& n : names) {
      TIFFIN_ASSIGN_OR_RETURN(Activation act, ParseActivation(node, n, alphas, &ai, betas, &bi));
      a.acts.push_back(act);
    }
    // Pre-pack constant weights (validated against each other here; the
    // input shape is checked again at run time).
    const Tensor* w = init.constant(1);
    const Tensor* r = init.constant(2);
    const Tensor* b = init.constant(3);
    const bool b_ok =
        init.node.inputs.size() <= 3 || init.node.inputs[3] == ir::kNoValue || b != nullptr;
    if (w != nullptr && r != nullptr && b_ok) {
      TIFFIN_RETURN_IF_ERROR(a.CheckWeights(node, *w, *r, b));
      if (w->dtype() == DType::kFloat32) {
        a.packed = PackWeights<float>(cell, a.linear_before_reset, *w, *r, b);
      } else if (w->dtype() == DType::kFloat64) {
        a.packed = PackWeights<double>(cell, a.linear_before_reset, *w, *r, b);
      }
    }
    return a;
  }

  // W [dirs, G*H, I], R [dirs, G*H, H], B [dirs, 2*G*H].
  Status CheckWeights(const ir::Node& node, const Tensor& w, const Tensor& r,
                      const Tensor* b) const {
    const int64_t G = GateCount(cell);
    if (r.rank() != 3) {
      return InvalidArgument(node.Describe() + ": R has shape " + ShapeToString(r.shape()) +
                             " (expected [num_directions, " + std::to_string(G) +
                             "*hidden_size, hidden_size])");
    }
    const int64_t H = r.dim(2);
    if (H <= 0 || (hidden_size != 0 && H != hidden_size)) {
      return InvalidArgument(node.Describe() + ": R has shape " + ShapeToString(r.shape()) +
                             " but hidden_size is " + std::to_string(hidden_size));
    }
    const Shape want_r{num_directions, G * H, H};
    if (r.shape() != want_r) {
      return InvalidArgument(node.Describe() + ": R has shape " + ShapeToString(r.shape()) +
                             ", expected " + ShapeToString(want_r));
    }
    if (w.rank() != 3 || w.dim(0) != num_directions || w.dim(1) != G * H) {
      return InvalidArgument(node.Describe() + ": W has shape " + ShapeToString(w.shape()) +
                             ", expected [" + std::to_string(num_directions) + ", " +
                             std::to_string(G * H) + ", input_size]");
    }
    if (w.dtype() != r.dtype() || (b != nullptr && b->dtype() != w.dtype())) {
      return InvalidArgument(node.Describe() + ": W, R and B must share one dtype");
    }
    if (b != nullptr) {
      const Shape want_b{num_directions, 2 * G * H};
      if (b->shape() != want_b) {
        return InvalidArgument(node.Describe() + ": B has shape " + ShapeToString(b->shape()) +
                               ", expected " + ShapeToString(want_b));
      }
    }
    return Status::Ok();
  }
};

template <Cell C>
struct CellAttrs : RnnAttrs {
  static Result<CellAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(RnnAttrs a, RnnAttrs::ParseCell(init, C));
    CellAttrs c;
    static_cast<RnnAttrs&>(c) = std::move(a);
    return c;
  }
};

template <typename T>
void Gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) C[m * ldc + n] = beta == T(0) ? T(0) : beta * C[m * ldc + n];
    return;
  }
  const auto a = ta ? CblasTrans : CblasNoTrans;
  const auto b = tb ? CblasTrans : CblasNoTrans;
  if (N == 1) {
    // A matrix-vector product (batch 1): gemv is several times faster than
    // OpenBLAS's small-GEMM kernel for a single column.
    const int rows = static_cast<int>(ta ? K : M), cols = static_cast<int>(ta ? M : K);
    const int incb = tb ? 1 : static_cast<int>(ldb);
    if constexpr (std::is_same_v<T, float>) {
      cblas_sgemv(CblasRowMajor, a, rows, cols, 1.0f, A, static_cast<int>(lda), B, incb, beta, C,
                  static_cast<int>(ldc));
    } else {
      cblas_dgemv(CblasRowMajor, a, rows, cols, 1.0, A, static_cast<int>(lda), B, incb, beta, C,
                  static_cast<int>(ldc));
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, a, b, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K),
                1.0f, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
                static_cast<int>(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, a, b, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K),
                1.0, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
                static_cast<int>(ldc));
  }
}

// Everything a direction's run needs, resolved from inputs.
template <typename T>
struct Problem {
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1;
  bool batch_first = false;
  const T* x = nullptr;
  const int32_t* lens = nullptr;  // per batch, or null = all seq
  const T* init_h = nullptr;      // as stored (layout-dependent), or null
  const T* init_c = nullptr;
  const T* peep = nullptr;  // [dirs, 3H]
  T* y = nullptr;           // layout-dependent, or null
  T* y_h = nullptr;
  T* y_c = nullptr;
  // Offsets of (t, b) rows in X and (t, dir, b) rows in Y; of (dir, b) in states.
  int64_t XRow(int64_t t, int64_t b) const { return batch_first ? b * seq + t : t * batch + b; }
  int64_t YRow(int64_t t, int64_t d, int64_t b) const {
    return batch_first ? (b * seq + t) * dirs + d : (t * dirs + d) * batch + b;
  }
  int64_t StateRow(int64_t d, int64_t b) const {
    return batch_first ? b * dirs + d : d * batch + b;
  }
};

// Scratch for one run, reused across directions (one allocation).
template <typename T>
struct Work {
  std::unique_ptr<T[]> buf;  // uninitialised: every part is written before it is read
  T* xw = nullptr;           // [G*H, seq*batch]: input projections plus biases
  T* gates = nullptr;        // [G*H, batch]
  T* hs = nullptr;           // [H, batch] each
  T* hn = nullptr;
  T* cs = nullptr;  // LSTM only
  T* tmp = nullptr;
  std::vector<int64_t> col;  // this step's xw row per batch entry; -1 = inactive
};

// One direction. States and gates are kept gate-major and transposed
// ([unit, batch]) so every activation runs over one long contiguous span,
// and the recurrence is R [G*H, H] x H^T [H, batch] with R used as stored.
template <typename T>
void RunDirection(const RnnAttrs& a, const Packed& pk, const Problem<T>& P, int64_t dir,
                  bool reverse, Work<T>& w) {
  const Cell cell = a.cell;
  const int64_t G = GateCount(cell), H = P.hidden, GH = G * H, B = P.batch, S = P.seq;
  const int64_t SB = S * B, HB = H * B, I = P.input;
  const T* W = pk.w.data<T>() + dir * GH * I;
  const T* R = pk.r.data<T>() + dir * GH * H;
  const T* bx = pk.bx.data<T>() + dir * GH;
  const T* rbh = pk.rbh.data<T>() + dir * H;
  const Activation* acts = a.acts.data() + dir * (cell == Cell::kRnn   ? 1
                                                  : cell == Cell::kGru ? 2
                                                                       : 3);
  const Activation& f = acts[0];
  const T* peep = P.peep ? P.peep + dir * 3 * H : nullptr;
  T* xw = w.xw;
  T* gates = w.gates;
  T* hs = w.hs;
  T* cs = w.cs;
  T* hn = w.hn;
  T* tmp = w.tmp;

  // XW^T [GH, S*B] = W [GH, I] x X^T; column j is X's row j. (Measured:
  // faster than X x W^T followed by per-step transposes into `gates`.)
  Gemm<T>(false, true, GH, SB, I, W, I, P.x, I, T(0), xw, SB);
  for (int64_t g = 0; g < GH; ++g) {
    T* row = xw + g * SB;
    const T v = bx[g];
    for (int64_t j = 0; j < SB; ++j) row[j] += v;
  }
  for (int64_t b = 0; b < B; ++b) {
    const int64_t sr = P.StateRow(dir, b);
    for (int64_t i = 0; i < H; ++i) {
      hs[i * B + b] = P.init_h ? P.init_h[sr * H + i] : T(0);
      if (cs) cs[i * B + b] = P.init_c ? P.init_c[sr * H + i] : T(0);
    }
  }
  int64_t max_len = 0;
  for (int64_t b = 0; b < B; ++b) max_len = std::max<int64_t>(max_len, P.lens ? P.lens[b] : S);
  // Outputs past a sequence's end are zero.
  if (P.y != nullptr && P.lens != nullptr) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = P.lens[b]; t < S; ++t)
        std::fill(P.y + P.YRow(t, dir, b) * H, P.y + (P.YRow(t, dir, b) + 1) * H, T(0));
  }
  for (int64_t s = 0; s < max_len; ++s) {
    bool all_active = true, contiguous = true;
    int64_t* col = w.col.data();
    for (int64_t b = 0; b < B; ++b) {
      const int64_t len = P.lens ? P.lens[b] : S;
      const bool on = s < len;
      all_active = all_active && on;
      col[b] = on ? P.XRow(reverse ? len - 1 - s : s, b) : -1;
      contiguous = contiguous && col[b] == col[0] + b;
    }
    // This step's projections (one block copy per gate row when the batch's
    // columns are adjacent, the usual case), then the recurrence.
    for (int64_t g = 0; g < GH; ++g) {
      const T* src = xw + g * SB;
      T* dst = gates + g * B;
      if (contiguous) {
        std::memcpy(dst, src + col[0], static_cast<size_t>(B) * sizeof(T));
      } else {
        for (int64_t b = 0; b < B; ++b) dst[b] = src[col[b] < 0 ? 0 : col[b]];
      }
    }
    if (cell == Cell::kRnn) {
      Gemm<T>(false, false, H, B, H, R, H, hs, B, T(1), gates, B);
      Clip(gates, HB, a.clip);
      Apply(f, gates, HB);
      std::memcpy(hn, gates, static_cast<size_t>(HB) * sizeof(T));
    } else if (cell == Cell::kGru) {
      const Activation& g = acts[1];
      T* z = gates;
      T* r = gates + HB;
      T* hh = gates + 2 * HB;
      Gemm<T>(false, false, 2 * H, B, H, R, H, hs, B, T(1), gates, B);
      Clip(gates, 2 * HB, a.clip);
      Apply(f, gates, 2 * HB);
      if (a.linear_before_reset) {
        // hh += r * (Rh H + Rbh)
        Gemm<T>(false, false, H, B, H, R + 2 * H * H, H, hs, B, T(0), tmp, B);
        for (int64_t i = 0; i < H; ++i) {
          const T rb = rbh[i];
          for (int64_t b = 0; b < B; ++b) hh[i * B + b] += r[i * B + b] * (tmp[i * B + b] + rb);
        }
      } else {
        // hh += Rh (r * H)
        for (int64_t k = 0; k < HB; ++k) tmp[k] = r[k] * hs[k];
        Gemm<T>(false, false, H, B, H, R + 2 * H * H, H, tmp, B, T(1), hh, B);
      }
      Clip(hh, HB, a.clip);
      Apply(g, hh, HB);
      for (int64_t k = 0; k < HB; ++k) hn[k] = (T(1) - z[k]) * hh[k] + z[k] * hs[k];
    } else {
      const Activation& g = acts[1];
      const Activation& hact = acts[2];
      T* gi = gates;
      T* go = gates + HB;
      T* gf = gates + 2 * HB;
      T* gc = gates + 3 * HB;
      Gemm<T>(false, false, GH, B, H, R, H, hs, B, T(1), gates, B);
      if (peep) {
        for (int64_t i = 0; i < H; ++i) {
          const T pi = peep[i], pf = peep[2 * H + i];
          for (int64_t b = 0; b < B; ++b) {
            gi[i * B + b] += pi * cs[i * B + b];
            gf[i * B + b] += pf * cs[i * B + b];
          }
        }
        Clip(gi, HB, a.clip);
        Clip(gf, HB, a.clip);
        Clip(gc, HB, a.clip);
        Apply(f, gi, HB);
        if (!a.input_forget) Apply(f, gf, HB);
      } else {
        // i, o and f are adjacent: one pass (o needs no peephole term).
        Clip(gates, 4 * HB, a.clip);
        Apply(f, gates, a.input_forget ? 2 * HB : 3 * HB);
      }
      if (a.input_forget) {
        for (int64_t k = 0; k < HB; ++k) gf[k] = T(1) - gi[k];
      }
      Apply(g, gc, HB);
      // C' = f * C + i * c, kept in tmp until committed.
      for (int64_t k = 0; k < HB; ++k) tmp[k] = gf[k] * cs[k] + gi[k] * gc[k];
      if (peep) {
        for (int64_t i = 0; i < H; ++i) {
          const T po = peep[H + i];
          for (int64_t b = 0; b < B; ++b) go[i * B + b] += po * tmp[i * B + b];
        }
        Clip(go, HB, a.clip);
        Apply(f, go, HB);
      }
      std::memcpy(gc, tmp, static_cast<size_t>(HB) * sizeof(T));
      Apply(hact, gc, HB);
      for (int64_t k = 0; k < HB; ++k) hn[k] = go[k] * gc[k];
    }
    // Commit the new states of the entries still inside their sequence.
    if (all_active) {
      std::swap(hs, hn);
      if (cs) std::memcpy(cs, tmp, static_cast<size_t>(HB) * sizeof(T));
    } else {
      for (int64_t i = 0; i < H; ++i) {
        for (int64_t b = 0; b < B; ++b) {
          if (col[b] < 0) continue;
          hs[i * B + b] = hn[i * B + b];
          if (cs) cs[i * B + b] = tmp[i * B + b];
        }
      }
    }
    if (P.y != nullptr) {
      for (int64_t b = 0; b < B; ++b) {
        if (col[b] < 0) continue;
        const int64_t len = P.lens ? P.lens[b] : S;
        T* dst = P.y + P.YRow(reverse ? len - 1 - s : s, dir, b) * H;
        for (int64_t i = 0; i < H; ++i) dst[i] = hs[i * B + b];
      }
    }
  }
  // Final states. A zero-length sequence reports zeros, as ONNX Runtime does.
  for (int64_t b = 0; b < B; ++b) {
    const bool empty = P.lens != nullptr && P.lens[b] == 0;
    const int64_t sr = P.StateRow(dir, b);
    for (int64_t i = 0; i < H; ++i) {
      if (P.y_h) P.y_h[sr * H + i] = empty ? T(0) : hs[i * B + b];
      if (P.y_c && cs) P.y_c[sr * H + i] = empty ? T(0) : cs[i * B + b];
    }
  }
}

template <typename T>
Status RunTyped(KernelContext& ctx, const RnnAttrs& a, const Packed& pk, Problem<T> P) {
  const int64_t G = GateCount(a.cell), H = P.hidden, GH = G * H;
  const size_t limit = ctx.options().max_tensor_bytes / sizeof(T);
  const int64_t rows = P.seq * P.batch;
  if (rows > 0 && GH > static_cast<int64_t>(limit) / rows) {
    return ResourceExhausted(ctx.node().Describe() +
                             ": input projection buffer exceeds the tensor size limit");
  }
  if (rows > INT_MAX || GH > INT_MAX || P.input > INT_MAX) {
    return NotSupported(ctx.node().Describe() + ": dimensions too large for BLAS (2^31 limit)");
  }
  // The whole scratch buffer (and the per-batch column list) is bounded too:
  // with seq = 0 the check above passes for any batch, and an empty X can
  // declare a batch of 2^40.
  const int64_t hb_units = 3 + (a.cell == Cell::kLstm ? 1 : 0);  // hs, hn, tmp (+ cs)
  int64_t per_batch = 0, total = 0;
  if (__builtin_mul_overflow(H, hb_units, &per_batch) ||
      __builtin_add_overflow(per_batch, GH, &per_batch) ||
      __builtin_mul_overflow(P.batch, per_batch, &total) ||
      __builtin_add_overflow(total, rows * GH + 1, &total) ||
      static_cast<uint64_t>(total) > limit ||
      static_cast<uint64_t>(P.batch) > ctx.options().max_tensor_bytes / sizeof(int64_t)) {
    return ResourceExhausted(ctx.node().Describe() + ": scratch buffers for batch " +
                             std::to_string(P.batch) + " exceed the tensor size limit");
  }
  Work<T> w;
  const int64_t hb = P.batch * H;
  const int64_t n_cs = a.cell == Cell::kLstm ? hb : 0;
  w.buf.reset(new T[static_cast<size_t>(rows * GH + P.batch * GH + 3 * hb + n_cs + 1)]);
  w.xw = w.buf.get();
  w.gates = w.xw + rows * GH;
  w.hs = w.gates + P.batch * GH;
  w.hn = w.hs + hb;
  w.tmp = w.hn + hb;
  w.cs = n_cs ? w.tmp + hb : nullptr;
  w.col.resize(static_cast<size_t>(P.batch));
  const bool bidi = a.num_directions == 2;
  for (int64_t d = 0; d < a.num_directions; ++d) {
    const bool reverse = bidi ? d == 1 : a.direction == "reverse";
    RunDirection<T>(a, pk, P, d, reverse, w);
  }
  return Status::Ok();
}

template <Cell C>
Status RnnCompute(KernelContext& ctx, const CellAttrs<C>& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(ctx, 1, "W"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* r, RequiredInput(ctx, 2, "R"));
  const Tensor* b = ctx.input(3);
  const Tensor* lens = ctx.input(4);
  const Tensor* init_h = ctx.input(5);
  const Tensor* init_c = C == Cell::kLstm ? ctx.input(6) : nullptr;
  const Tensor* peep = C == Cell::kLstm ? ctx.input(7) : nullptr;
  if (x->rank() != 3) {
    return InvalidArgument(node.Describe() + ": X has shape " + ShapeToString(x->shape()) +
                           (a.layout_batch_first ? " (expected [batch, seq, input])"
                                                 : " (expected [seq, batch, input])"));
  }
  if (x->dtype() != DType::kFloat32 && x->dtype() != DType::kFloat64 &&
      x->dtype() != DType::kFloat16) {
    return BadDType(node, "X", x->dtype());
  }
  for (const Tensor* t : {w, r, b, init_h, init_c, peep}) {
    if (t != nullptr && t->dtype() != x->dtype()) {
      return InvalidArgument(node.Describe() + ": inputs have different dtypes " +
                             std::string(DTypeName(x->dtype())) + " and " +
                             std::string(DTypeName(t->dtype())));
    }
  }
  TIFFIN_RETURN_IF_ERROR(a.CheckWeights(node, *w, *r, b));
  const int64_t seq = a.layout_batch_first ? x->dim(1) : x->dim(0);
  const int64_t batch = a.layout_batch_first ? x->dim(0) : x->dim(1);
  const int64_t input = x->dim(2), H = r->dim(2), D = a.num_directions;
  if (w->dim(2) != input) {
    return InvalidArgument(node.Describe() + ": W has shape " + ShapeToString(w->shape()) +
                           " but X has input size " + std::to_string(input));
  }
  const Shape state_shape = a.layout_batch_first ? Shape{batch, D, H} : Shape{D, batch, H};
  for (const Tensor* t : {init_h, init_c}) {
    if (t != nullptr && t->shape() != state_shape) {
      return InvalidArgument(node.Describe() + ": initial state has shape " +
                             ShapeToString(t->shape()) + ", expected " +
                             ShapeToString(state_shape));
    }
  }
  if (peep != nullptr && peep->shape() != Shape{D, 3 * H}) {
    return InvalidArgument(node.Describe() + ": P has shape " + ShapeToString(peep->shape()) +
                           ", expected " + ShapeToString(Shape{D, 3 * H}));
  }
  std::vector<int32_t> lens32;
  if (lens != nullptr) {
    if (lens->rank() != 1 || lens->dim(0) != batch) {
      return InvalidArgument(node.Describe() + ": sequence_lens has shape " +
                             ShapeToString(lens->shape()) + ", expected [" + std::to_string(batch) +
                             "]");
    }
    TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> l, ToInt64s(node, *lens, "sequence_lens"));
    for (int64_t v : l) {
      if (v < 0 || v > seq) {
        return InvalidArgument(node.Describe() + ": sequence_lens value " + std::to_string(v) +
                               " is outside [0, " + std::to_string(seq) + "]");
      }
      lens32.push_back(static_cast<int32_t>(v));
    }
  }
  const Shape y_shape = a.layout_batch_first ? Shape{batch, seq, D, H} : Shape{seq, D, batch, H};
  Tensor* y = nullptr;
  Tensor* y_h = nullptr;
  Tensor* y_c = nullptr;
  const DType dt = x->dtype();
  const bool half = dt == DType::kFloat16;
  // float16 runs through float32 copies of everything.
  Tensor fy, fyh, fyc;
  if (ctx.num_outputs() > 0 && ctx.output_wanted(0)) {
    TIFFIN_ASSIGN_OR_RETURN(y, ctx.Output(0, dt, y_shape));
    if (half) fy = Tensor(DType::kFloat32, y_shape);
  }
  if (ctx.num_outputs() > 1 && ctx.output_wanted(1)) {
    TIFFIN_ASSIGN_OR_RETURN(y_h, ctx.Output(1, dt, state_shape));
    if (half) fyh = Tensor(DType::kFloat32, state_shape);
  }
  if (C == Cell::kLstm && ctx.num_outputs() > 2 && ctx.output_wanted(2)) {
    TIFFIN_ASSIGN_OR_RETURN(y_c, ctx.Output(2, dt, state_shape));
    if (half) fyc = Tensor(DType::kFloat32, state_shape);
  }
  auto run = [&](auto tag, const Tensor& X, const Tensor& W, const Tensor& R, const Tensor* B,
                 const Tensor* IH, const Tensor* IC, const Tensor* PP, Tensor* Y, Tensor* YH,
                 Tensor* YC) -> Status {
    using T = decltype(tag);
    Problem<T> P;
    P.seq = seq;
    P.batch = batch;
    P.input = input;
    P.hidden = H;
    P.dirs = D;
    P.batch_first = a.layout_batch_first;
    P.x = X.data<T>();
    P.lens = lens32.empty() ? nullptr : lens32.data();
    P.init_h = IH ? IH->data<T>() : nullptr;
    P.init_c = IC ? IC->data<T>() : nullptr;
    P.peep = PP ? PP->data<T>() : nullptr;
    P.y = Y ? Y->data<T>() : nullptr;
    P.y_h = YH ? YH->data<T>() : nullptr;
    P.y_c = YC ? YC->data<T>() : nullptr;
    const bool use_packed = a.packed.w.defined() && a.packed.w.dtype() == DTypeOf<T>() &&
                            a.packed.input == input && a.packed.hidden == H;
    if (use_packed) return RunTyped<T>(ctx, a, a.packed, P);
    const Packed pk = PackWeights<T>(a.cell, a.linear_before_reset, W, R, B);
    return RunTyped<T>(ctx, a, pk, P);
  };
  if (half) {
    auto f = [](const Tensor* t) { return t ? HalfToFloatTensor(*t) : Tensor(); };
    const Tensor fx = f(x), fw = f(w), fr = f(r), fb = f(b), fih = f(init_h), fic = f(init_c),
                 fp = f(peep);
    TIFFIN_RETURN_IF_ERROR(run(float{}, fx, fw, fr, b ? &fb : nullptr, init_h ? &fih : nullptr,
                               init_c ? &fic : nullptr, peep ? &fp : nullptr, y ? &fy : nullptr,
                               y_h ? &fyh : nullptr, y_c ? &fyc : nullptr));
    if (y) FloatToHalfInto(fy, y);
    if (y_h) FloatToHalfInto(fyh, y_h);
    if (y_c) FloatToHalfInto(fyc, y_c);
    return Status::Ok();
  }
  if (dt == DType::kFloat32) {
    return run(float{}, *x, *w, *r, b, init_h, init_c, peep, y, y_h, y_c);
  }
  return run(double{}, *x, *w, *r, b, init_h, init_c, peep, y, y_h, y_c);
}

const KernelDef kRows[] = {
    {"RNN", "", 7, kMaxOpset, MakeAttrKernel<CellAttrs<Cell::kRnn>, RnnCompute<Cell::kRnn>>},
    {"GRU", "", 7, kMaxOpset, MakeAttrKernel<CellAttrs<Cell::kGru>, RnnCompute<Cell::kGru>>},
    {"LSTM", "", 7, kMaxOpset, MakeAttrKernel<CellAttrs<Cell::kLstm>, RnnCompute<Cell::kLstm>>},
};

}  // namespace

std::span<const KernelDef> RnnKernels() { return kRows; }

}  // namespace tiffin::kernels
