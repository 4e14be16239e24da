// Data movement and shape manipulation, for every dtype (strings and bool
// included) unless an op says otherwise:
// Flatten Reshape Transpose Squeeze Unsqueeze Concat Split Slice, Gather
// GatherElements GatherND, ScatterElements Scatter ScatterND, Shape Size,
// Expand Tile Pad, OneHot NonZero Trilu, DepthToSpace SpaceToDepth, Compress
// EyeLike.
//
// Pure data movement dispatches on the element size only (a uint of that
// width, or std::string), which keeps the number of template instantiations
// small. Every index read from a tensor is bounds-checked.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

// ---------------------------------------------------------------- helpers

std::string Str(int64_t v) { return std::to_string(v); }

Status Bad(const ir::Node& node, const std::string& what) {
  return InvalidArgument(node.Describe() + ": " + what);
}

std::string IntsToString(const std::vector<int64_t>& v) { return ShapeToString(v); }

// ToInt64s, except that an empty tensor gives an empty list without touching
// its (possibly null) buffer.
Result<std::vector<int64_t>> Ints(const ir::Node& node, const Tensor& t, const char* what) {
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32)
    return BadDType(node, what, t.dtype());
  if (t.size() == 0) return std::vector<int64_t>{};
  return ToInt64s(node, t, what);
}

// Product of shape[begin, end), refusing int64 overflow (a zero dim does not
// stop the other dims from being huge).
Result<int64_t> Product(const ir::Node& node, const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) {
    if (__builtin_mul_overflow(p, s[i], &p)) {
      return Bad(node, "shape " + ShapeToString(s) + " has more elements than int64 can count");
    }
  }
  return p;
}

Result<int64_t> CheckedMul(const ir::Node& node, int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) {
    return Bad(node, "size " + Str(a) + " * " + Str(b) + " overflows int64");
  }
  return r;
}

template <typename T>
const T* Ptr(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <typename T>
T* Ptr(Tensor* t) {
  return static_cast<T*>(t->raw_data());
}
const char* Bytes(const Tensor& t) { return static_cast<const char*>(t.raw_data()); }
char* Bytes(Tensor* t) { return static_cast<char*>(t->raw_data()); }

// Calls f(U{}) with U an unsigned integer of the element's width, or
// std::string: enough for ops that only move elements.
template <typename F>
Status DispatchBySize(const ir::Node& node, DType dt, F&& f) {
  if (dt == DType::kString) return f(std::string{});
  switch (DTypeSize(dt)) {
    case 1:
      return f(uint8_t{});
    case 2:
      return f(uint16_t{});
    case 4:
      return f(uint32_t{});
    case 8:
      return f(uint64_t{});
    default:
      return BadDType(node, "input", dt);
  }
}

// Reads optional input i as int64s; `present` tells whether it was given.
Result<std::vector<int64_t>> OptionalInts(KernelContext& ctx, int i, const char* what,
                                          bool* present) {
  const Tensor* t = ctx.input(i);
  *present = t != nullptr;
  if (t == nullptr) return std::vector<int64_t>{};
  return Ints(ctx.node(), *t, what);
}

// Reads a one-element int tensor.
Result<int64_t> ScalarInt(const ir::Node& node, const Tensor& t, const char* what) {
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> v, Ints(node, t, what));
  if (v.size() != 1) {
    return Bad(node,
               std::string(what) + " must hold one value, got shape " + ShapeToString(t.shape()));
  }
  return v[0];
}

// Maps index `i` along a dim of size `dim` (negative counts from the end).
Result<int64_t> CheckIndex(const ir::Node& node, int64_t i, int64_t dim, const char* what) {
  int64_t j = i < 0 ? i + dim : i;
  if (j < 0 || j >= dim) {
    return Bad(node, std::string(what) + " " + Str(i) + " is out of range for a dim of size " +
                         Str(dim) + " (valid: " + Str(-dim) + " to " + Str(dim - 1) + ")");
  }
  return j;
}

// Normalises a list of axes against `rank`, refusing duplicates.
Result<std::vector<int64_t>> NormalizeAxes(const ir::Node& node, const std::vector<int64_t>& axes,
                                           int64_t rank) {
  std::vector<int64_t> out;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t n, NormalizeAxis(node, a, rank));
    if (seen[static_cast<size_t>(n)]) {
      return Bad(node, "axis " + Str(a) + " is repeated in axes " + IntsToString(axes));
    }
    seen[static_cast<size_t>(n)] = true;
    out.push_back(n);
  }
  return out;
}

// Walks every index of `shape` (rank >= 1) with a running offset along
// `strides`, calling f(flat_index, offset). The last dim is the inner loop.
template <typename F>
void ForEachOffset(const Shape& shape, const std::vector<int64_t>& strides, F&& f) {
  const size_t rank = shape.size();
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (total == 0) return;
  if (rank == 0) {
    f(0, 0);
    return;
  }
  std::vector<int64_t> idx(rank, 0);
  const int64_t inner = shape[rank - 1];
  const int64_t s_in = strides[rank - 1];
  int64_t base = 0;
  for (int64_t o = 0; o < total; o += inner) {
    int64_t off = base;
    for (int64_t k = 0; k < inner; ++k, off += s_in) f(o + k, off);
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      base += strides[d];
      if (++idx[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

// ---------------------------------------------------------------- Flatten

struct FlattenAttrs {
  int64_t axis = 1;
  static Result<FlattenAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t axis, init.node.GetInt("axis", 1));
    return FlattenAttrs{axis};
  }
};

Status FlattenCompute(KernelContext& ctx, const FlattenAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  const int64_t r = x->rank();
  if (a.axis < -r || a.axis > r) {
    return Bad(node, "axis " + Str(a.axis) + " is out of range for rank " + Str(r) +
                         " (valid: " + Str(-r) + " to " + Str(r) + ")");
  }
  const size_t axis = static_cast<size_t>(a.axis < 0 ? a.axis + r : a.axis);
  TIFFIN_ASSIGN_OR_RETURN(int64_t outer, Product(node, x->shape(), 0, axis));
  TIFFIN_ASSIGN_OR_RETURN(int64_t inner, Product(node, x->shape(), axis, x->shape().size()));
  return ctx.SetOutput(0, x->Reshaped({outer, inner}));
}

// ---------------------------------------------------------------- Reshape

struct ReshapeAttrs {
  bool allowzero = false;
  static Result<ReshapeAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t az, init.node.GetInt("allowzero", 0));
    return ReshapeAttrs{az != 0};
  }
};

Status ReshapeCompute(KernelContext& ctx, const ReshapeAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* s, RequiredInput(ctx, 1, "shape"));
  if (s->rank() != 1) {
    return Bad(node, "shape must be 1-D, got shape " + ShapeToString(s->shape()));
  }
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> req, Ints(node, *s, "shape"));
  Shape out(req.size());
  int infer = -1;
  bool has_zero = false;
  int64_t known = 1;
  for (size_t i = 0; i < req.size(); ++i) {
    int64_t v = req[i];
    if (v == -1) {
      if (infer >= 0) return Bad(node, "shape " + IntsToString(req) + " has more than one -1");
      infer = static_cast<int>(i);
      continue;
    }
    if (v < -1) return Bad(node, "shape " + IntsToString(req) + " has a negative dim " + Str(v));
    if (v == 0 && !a.allowzero) {
      if (static_cast<int64_t>(i) >= x->rank()) {
        return Bad(node, "shape " + IntsToString(req) + ": 0 at position " + Str(int64_t(i)) +
                             " copies a dim the input " + ShapeToString(x->shape()) +
                             " does not have");
      }
      v = x->dim(static_cast<int64_t>(i));
    }
    if (v == 0) has_zero = true;
    out[i] = v;
    TIFFIN_ASSIGN_OR_RETURN(known, CheckedMul(node, known, v));
  }
  if (infer >= 0) {
    if (has_zero && a.allowzero) {
      return Bad(node, "shape " + IntsToString(req) + " has both 0 and -1 with allowzero=1");
    }
    if (known == 0 || x->size() % known != 0) {
      return Bad(node, "cannot reshape input of shape " + ShapeToString(x->shape()) + " to " +
                           IntsToString(req) + ": -1 cannot be inferred");
    }
    out[static_cast<size_t>(infer)] = x->size() / known;
  } else if (known != x->size()) {
    return Bad(node, "cannot reshape input of shape " + ShapeToString(x->shape()) + " (" +
                         Str(x->size()) + " elements) to " + ShapeToString(out) + " (" +
                         Str(known) + " elements)");
  }
  return ctx.SetOutput(0, x->Reshaped(std::move(out)));
}

// ---------------------------------------------------------------- Transpose

struct TransposeAttrs {
  std::vector<int64_t> perm;  // empty: reverse the dims
  static Result<TransposeAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> perm, init.node.GetInts("perm"));
    std::vector<bool> seen(perm.size(), false);
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(perm.size()) || seen[static_cast<size_t>(p)]) {
        return Bad(init.node, "perm " + IntsToString(perm) + " is not a permutation of 0.." +
                                  Str(static_cast<int64_t>(perm.size()) - 1));
      }
      seen[static_cast<size_t>(p)] = true;
    }
    return TransposeAttrs{std::move(perm)};
  }
};

// out[...] = in[...] for the permuted walk. Dims are coalesced first; the
// output's last dim and the dim reading the input contiguously are tiled so
// that both sides see runs of memory.
template <typename T>
void TransposeImpl(const T* in, T* out, const Shape& in_shape, const std::vector<int64_t>& perm) {
  const std::vector<int64_t> in_strides = Strides(in_shape);
  std::vector<int64_t> size, stride;  // per coalesced output dim: size, input stride
  for (int64_t p : perm) {
    int64_t d = in_shape[static_cast<size_t>(p)];
    int64_t s = in_strides[static_cast<size_t>(p)];
    if (d == 1) continue;
    if (!size.empty() && stride.back() == s * d) {
      size.back() *= d;
      stride.back() = s;
    } else {
      size.push_back(d);
      stride.push_back(s);
    }
  }
  const size_t n = size.size();
  if (n == 0) {
    out[0] = in[0];
    return;
  }
  std::vector<int64_t> out_stride(n, 1);
  for (size_t i = n - 1; i > 0; --i) out_stride[i - 1] = out_stride[i] * size[i];
  const size_t L = n - 1;
  size_t P = L;
  for (size_t i = 0; i < n; ++i)
    if (stride[i] == 1) P = i;
  // The outer dims walked by an odometer.
  std::vector<size_t> outer;
  for (size_t i = 0; i < n; ++i)
    if (i != L && i != P) outer.push_back(i);
  int64_t outer_total = 1;
  for (size_t i : outer) outer_total *= size[i];
  std::vector<int64_t> idx(outer.size(), 0);
  int64_t ib = 0, ob = 0;
  constexpr int64_t kTile = 16;
  for (int64_t it = 0; it < outer_total; ++it) {
    if (P == L) {
      const int64_t m = size[L], s = stride[L];
      const T* src = in + ib;
      T* dst = out + ob;
      if (s == 1) {
        std::copy(src, src + m, dst);
      } else {
        for (int64_t k = 0; k < m; ++k) dst[k] = src[k * s];
      }
    } else {
      const int64_t mp = size[P], ml = size[L], sl = stride[L], op = out_stride[P];
      for (int64_t p0 = 0; p0 < mp; p0 += kTile) {
        const int64_t p1 = std::min(mp, p0 + kTile);
        for (int64_t l0 = 0; l0 < ml; l0 += kTile) {
          const int64_t l1 = std::min(ml, l0 + kTile);
          for (int64_t p = p0; p < p1; ++p)
            for (int64_t l = l0; l < l1; ++l) out[ob + p * op + l] = in[ib + p + l * sl];
        }
      }
    }
    for (int64_t d = static_cast<int64_t>(outer.size()) - 1; d >= 0; --d) {
      const size_t k = outer[static_cast<size_t>(d)];
      ib += stride[k];
      ob += out_stride[k];
      if (++idx[static_cast<size_t>(d)] < size[k]) break;
      ib -= stride[k] * size[k];
      ob -= out_stride[k] * size[k];
      idx[static_cast<size_t>(d)] = 0;
    }
  }
}

Status TransposeCompute(KernelContext& ctx, const TransposeAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  const int64_t r = x->rank();
  std::vector<int64_t> perm = a.perm;
  if (perm.empty()) {
    for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int64_t>(perm.size()) != r) {
    return Bad(node, "perm " + IntsToString(perm) + " has " + Str(int64_t(perm.size())) +
                         " entries but the input has rank " + Str(r));
  }
  bool identity = true;
  Shape out_shape(static_cast<size_t>(r));
  for (size_t i = 0; i < perm.size(); ++i) {
    out_shape[i] = x->dim(perm[i]);
    if (perm[i] != static_cast<int64_t>(i)) identity = false;
  }
  if (identity) return ctx.SetOutput(0, *x);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  if (x->size() == 0) return Status::Ok();
  return DispatchBySize(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    TransposeImpl<T>(Ptr<T>(*x), Ptr<T>(out), x->shape(), perm);
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- Squeeze / Unsqueeze

struct AxesAttrs {
  bool from_input = false;  // opset 13+: axes is input 1
  bool has_attr = false;
  std::vector<int64_t> axes;
  static Result<AxesAttrs> Parse(const KernelInit& init) {
    AxesAttrs a;
    a.from_input = init.node.opset >= 13;
    if (!a.from_input) {
      a.has_attr = init.node.HasAttribute("axes");
      TIFFIN_ASSIGN_OR_RETURN(a.axes, init.node.GetInts("axes"));
    }
    return a;
  }
  Result<std::vector<int64_t>> Get(KernelContext& ctx, bool* present) const {
    if (!from_input) {
      *present = has_attr;
      return axes;
    }
    return OptionalInts(ctx, 1, "axes", present);
  }
};

Status SqueezeCompute(KernelContext& ctx, const AxesAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  bool present = false;
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> axes, a.Get(ctx, &present));
  const int64_t r = x->rank();
  std::vector<bool> drop(static_cast<size_t>(r), false);
  if (axes.empty()) {
    for (int64_t i = 0; i < r; ++i) drop[static_cast<size_t>(i)] = x->dim(i) == 1;
  } else {
    TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> norm, NormalizeAxes(node, axes, r));
    for (int64_t ax : norm) {
      if (x->dim(ax) != 1) {
        return Bad(node, "cannot squeeze axis " + Str(ax) + " of size " + Str(x->dim(ax)) +
                             " (input shape " + ShapeToString(x->shape()) + ")");
      }
      drop[static_cast<size_t>(ax)] = true;
    }
  }
  Shape out;
  for (int64_t i = 0; i < r; ++i)
    if (!drop[static_cast<size_t>(i)]) out.push_back(x->dim(i));
  return ctx.SetOutput(0, x->Reshaped(std::move(out)));
}

Status UnsqueezeCompute(KernelContext& ctx, const AxesAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  bool present = false;
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> axes, a.Get(ctx, &present));
  if (!present) return Bad(node, "axes is required");
  const int64_t r = x->rank() + static_cast<int64_t>(axes.size());
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> norm, NormalizeAxes(node, axes, r));
  std::vector<bool> inserted(static_cast<size_t>(r), false);
  for (int64_t ax : norm) inserted[static_cast<size_t>(ax)] = true;
  Shape out(static_cast<size_t>(r));
  int64_t k = 0;
  for (int64_t i = 0; i < r; ++i)
    out[static_cast<size_t>(i)] = inserted[static_cast<size_t>(i)] ? 1 : x->dim(k++);
  return ctx.SetOutput(0, x->Reshaped(std::move(out)));
}

// ---------------------------------------------------------------- Concat

struct ConcatAttrs {
  int64_t axis = 0;
  static Result<ConcatAttrs> Parse(const KernelInit& init) {
    if (!init.node.HasAttribute("axis")) return Bad(init.node, "attribute 'axis' is required");
    TIFFIN_ASSIGN_OR_RETURN(int64_t axis, init.node.GetInt("axis", 0));
    return ConcatAttrs{axis};
  }
};

Status ConcatCompute(KernelContext& ctx, const ConcatAttrs& a) {
  const ir::Node& node = ctx.node();
  std::vector<const Tensor*> ins;
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, i, "inputs"));
    ins.push_back(t);
  }
  if (ins.empty()) return Bad(node, "needs at least one input");
  const Tensor& first = *ins[0];
  const int64_t r = first.rank();
  if (r == 0) return Bad(node, "cannot concatenate scalars (inputs must have rank >= 1)");
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, a.axis, r));
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(axis)] = 0;
  for (size_t i = 0; i < ins.size(); ++i) {
    const Tensor& t = *ins[i];
    if (t.dtype() != first.dtype()) {
      return Bad(node, "input " + Str(int64_t(i)) + " has dtype " +
                           std::string(DTypeName(t.dtype())) + ", input 0 has " +
                           std::string(DTypeName(first.dtype())));
    }
    bool ok = t.rank() == r;
    for (int64_t d = 0; ok && d < r; ++d) ok = d == axis || t.dim(d) == first.dim(d);
    if (!ok) {
      return Bad(node, "input " + Str(int64_t(i)) + " has shape " + ShapeToString(t.shape()) +
                           ", which does not match input 0's " + ShapeToString(first.shape()) +
                           " outside axis " + Str(axis));
    }
    out_shape[static_cast<size_t>(axis)] += t.dim(axis);
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, first.dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  TIFFIN_ASSIGN_OR_RETURN(int64_t outer, Product(node, out_shape, 0, static_cast<size_t>(axis)));
  TIFFIN_ASSIGN_OR_RETURN(
      int64_t inner, Product(node, out_shape, static_cast<size_t>(axis) + 1, out_shape.size()));
  const size_t es = DTypeSize(first.dtype());
  const int64_t out_block = out_shape[static_cast<size_t>(axis)] * inner;
  int64_t col = 0;
  for (const Tensor* t : ins) {
    const int64_t block = t->dim(axis) * inner;
    if (block > 0) {
      for (int64_t o = 0; o < outer; ++o) {
        CopyElements(first.dtype(), Bytes(*t) + static_cast<size_t>(o * block) * es,
                     Bytes(out) + static_cast<size_t>(o * out_block + col) * es, block);
      }
    }
    col += block;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- Split

struct SplitAttrs {
  int64_t axis = 0;
  bool split_from_input = false;  // opset 13+
  std::vector<int64_t> split;     // attribute form
  int64_t num_outputs = 0;        // opset 18+; 0: absent
  static Result<SplitAttrs> Parse(const KernelInit& init) {
    SplitAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.axis, init.node.GetInt("axis", 0));
    a.split_from_input = init.node.opset >= 13;
    if (!a.split_from_input) {
      TIFFIN_ASSIGN_OR_RETURN(a.split, init.node.GetInts("split"));
    }
    if (init.node.opset >= 18) {
      TIFFIN_ASSIGN_OR_RETURN(a.num_outputs, init.node.GetInt("num_outputs", 0));
      if (init.node.HasAttribute("num_outputs") && a.num_outputs < 1) {
        return Bad(init.node, "num_outputs must be >= 1, got " + Str(a.num_outputs));
      }
      if (a.num_outputs > 0 && a.num_outputs != static_cast<int64_t>(init.node.outputs.size())) {
        return Bad(init.node, "num_outputs is " + Str(a.num_outputs) + " but the node has " +
                                  Str(int64_t(init.node.outputs.size())) + " outputs");
      }
    }
    return a;
  }
};

Status SplitCompute(KernelContext& ctx, const SplitAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->rank() == 0) return Bad(node, "cannot split a scalar");
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, a.axis, x->rank()));
  const int64_t dim = x->dim(axis);
  const int64_t n_out = ctx.num_outputs();
  if (n_out < 1) return Bad(node, "has no outputs");
  std::vector<int64_t> split = a.split;
  bool given = !split.empty();
  if (a.split_from_input) {
    TIFFIN_ASSIGN_OR_RETURN(split, OptionalInts(ctx, 1, "split", &given));
    given = given && !split.empty();
  }
  if (given) {
    if (a.num_outputs > 0) return Bad(node, "give either the split input or num_outputs, not both");
    if (static_cast<int64_t>(split.size()) != n_out) {
      return Bad(node, "split " + IntsToString(split) + " has " + Str(int64_t(split.size())) +
                           " entries for " + Str(n_out) + " outputs");
    }
    int64_t sum = 0;
    for (int64_t s : split) {
      if (s < 0) return Bad(node, "split " + IntsToString(split) + " has a negative size");
      if (__builtin_add_overflow(sum, s, &sum)) return Bad(node, "split sizes overflow");
    }
    if (sum != dim) {
      return Bad(node, "split " + IntsToString(split) + " sums to " + Str(sum) + " but axis " +
                           Str(axis) + " has size " + Str(dim));
    }
  } else if (dim % n_out == 0) {
    split.assign(static_cast<size_t>(n_out), dim / n_out);
  } else if (node.opset >= 18) {
    // Uneven: chunks of ceil(dim / n), the last ones smaller.
    const int64_t chunk = (dim + n_out - 1) / n_out;
    int64_t left = dim;
    for (int64_t i = 0; i < n_out; ++i) {
      split.push_back(std::min(chunk, left));
      left -= split.back();
    }
  } else {
    return Bad(node, "axis " + Str(axis) + " of size " + Str(dim) + " does not split evenly into " +
                         Str(n_out) + " outputs (give split sizes)");
  }
  TIFFIN_ASSIGN_OR_RETURN(int64_t outer, Product(node, x->shape(), 0, static_cast<size_t>(axis)));
  TIFFIN_ASSIGN_OR_RETURN(
      int64_t inner, Product(node, x->shape(), static_cast<size_t>(axis) + 1, x->shape().size()));
  const size_t es = DTypeSize(x->dtype());
  int64_t col = 0;
  for (int64_t j = 0; j < n_out; ++j) {
    Shape s = x->shape();
    s[static_cast<size_t>(axis)] = split[static_cast<size_t>(j)];
    const int64_t block = split[static_cast<size_t>(j)] * inner;
    if (ctx.output_wanted(static_cast<int>(j))) {
      TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(static_cast<int>(j), x->dtype(), s));
      if (block > 0) {
        for (int64_t o = 0; o < outer; ++o) {
          CopyElements(x->dtype(), Bytes(*x) + static_cast<size_t>(o * dim * inner + col) * es,
                       Bytes(out) + static_cast<size_t>(o * block) * es, block);
        }
      }
    }
    col += block;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- Slice

struct SliceAttrs {
  bool from_inputs = true;  // opset 10+
  std::vector<int64_t> starts, ends, axes;
  static Result<SliceAttrs> Parse(const KernelInit& init) {
    SliceAttrs a;
    a.from_inputs = init.node.opset >= 10;
    if (!a.from_inputs) {
      TIFFIN_ASSIGN_OR_RETURN(a.starts, init.node.GetInts("starts"));
      TIFFIN_ASSIGN_OR_RETURN(a.ends, init.node.GetInts("ends"));
      TIFFIN_ASSIGN_OR_RETURN(a.axes, init.node.GetInts("axes"));
      if (!init.node.HasAttribute("starts") || !init.node.HasAttribute("ends")) {
        return Bad(init.node, "attributes 'starts' and 'ends' are required");
      }
    }
    return a;
  }
};

template <typename T>
void StridedCopy(const T* in, T* out, const Shape& out_shape, const std::vector<int64_t>& steps,
                 int64_t base) {
  const size_t r = out_shape.size();
  int64_t total = 1;
  for (int64_t d : out_shape) total *= d;
  if (total == 0) return;
  if (r == 0) {
    out[0] = in[base];
    return;
  }
  std::vector<int64_t> idx(r, 0);
  const int64_t inner = out_shape[r - 1], s = steps[r - 1];
  for (int64_t o = 0; o < total; o += inner) {
    const T* src = in + base;
    T* dst = out + o;
    if (s == 1) {
      std::copy(src, src + inner, dst);
    } else {
      for (int64_t k = 0; k < inner; ++k) dst[k] = src[k * s];
    }
    for (int64_t d = static_cast<int64_t>(r) - 2; d >= 0; --d) {
      base += steps[d];
      if (++idx[d] < out_shape[d]) break;
      base -= steps[d] * out_shape[d];
      idx[d] = 0;
    }
  }
}

Status SliceCompute(KernelContext& ctx, const SliceAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  std::vector<int64_t> starts = a.starts, ends = a.ends, axes = a.axes, steps;
  if (a.from_inputs) {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* ts, RequiredInput(ctx, 1, "starts"));
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* te, RequiredInput(ctx, 2, "ends"));
    TIFFIN_ASSIGN_OR_RETURN(starts, Ints(node, *ts, "starts"));
    TIFFIN_ASSIGN_OR_RETURN(ends, Ints(node, *te, "ends"));
    bool present = false;
    TIFFIN_ASSIGN_OR_RETURN(axes, OptionalInts(ctx, 3, "axes", &present));
    TIFFIN_ASSIGN_OR_RETURN(steps, OptionalInts(ctx, 4, "steps", &present));
  }
  const int64_t r = x->rank();
  const size_t n = starts.size();
  if (ends.size() != n) {
    return Bad(node, "starts " + IntsToString(starts) + " and ends " + IntsToString(ends) +
                         " differ in length");
  }
  if (axes.empty()) {
    if (static_cast<int64_t>(n) > r) {
      return Bad(node, "starts has " + Str(int64_t(n)) + " entries for an input of rank " + Str(r));
    }
    for (size_t i = 0; i < n; ++i) axes.push_back(static_cast<int64_t>(i));
  } else if (axes.size() != n) {
    return Bad(node, "axes " + IntsToString(axes) + " and starts " + IntsToString(starts) +
                         " differ in length");
  }
  if (steps.empty()) {
    steps.assign(n, 1);
  } else if (steps.size() != n) {
    return Bad(node, "steps " + IntsToString(steps) + " and starts " + IntsToString(starts) +
                         " differ in length");
  }
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> norm, NormalizeAxes(node, axes, r));
  Shape out_shape = x->shape();
  std::vector<int64_t> begin(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1);
  for (size_t i = 0; i < n; ++i) {
    const size_t ax = static_cast<size_t>(norm[i]);
    const int64_t dim = x->shape()[ax];
    int64_t st = steps[i];
    if (st == 0) return Bad(node, "step for axis " + Str(norm[i]) + " is 0");
    // Steps larger than the dim select at most one element either way.
    const int64_t lim = std::max<int64_t>(dim, 1);
    st = std::clamp(st, -lim, lim);
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    int64_t count = 0;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count = s > e ? (s - e - st - 1) / (-st) : 0;
    }
    out_shape[ax] = count;
    begin[ax] = count > 0 ? s : 0;
    step[ax] = st;
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  const std::vector<int64_t> strides = Strides(x->shape());
  int64_t base = 0;
  std::vector<int64_t> el_steps(static_cast<size_t>(r));
  for (size_t d = 0; d < static_cast<size_t>(r); ++d) {
    base += begin[d] * strides[d];
    el_steps[d] = step[d] * strides[d];
  }
  return DispatchBySize(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    StridedCopy<T>(Ptr<T>(*x), Ptr<T>(out), out_shape, el_steps, base);
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- Gather family

struct AxisAttrs {
  int64_t axis = 0;
  static Result<AxisAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t axis, init.node.GetInt("axis", 0));
    return AxisAttrs{axis};
  }
};

Status GatherCompute(KernelContext& ctx, const AxisAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  if (x->rank() == 0) return Bad(node, "data must have rank >= 1");
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, a.axis, x->rank()));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, Ints(node, *ind, "indices"));
  const int64_t dim = x->dim(axis);
  for (int64_t& i : idx) {
    TIFFIN_ASSIGN_OR_RETURN(i, CheckIndex(node, i, dim, "index"));
  }
  Shape out_shape(x->shape().begin(), x->shape().begin() + axis);
  out_shape.insert(out_shape.end(), ind->shape().begin(), ind->shape().end());
  out_shape.insert(out_shape.end(), x->shape().begin() + axis + 1, x->shape().end());
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  TIFFIN_ASSIGN_OR_RETURN(int64_t outer, Product(node, x->shape(), 0, static_cast<size_t>(axis)));
  TIFFIN_ASSIGN_OR_RETURN(
      int64_t inner, Product(node, x->shape(), static_cast<size_t>(axis) + 1, x->shape().size()));
  const int64_t ni = static_cast<int64_t>(idx.size());
  return DispatchBySize(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = Ptr<T>(*x);
    T* dst = Ptr<T>(out);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < ni; ++j) {
        const T* s = src + (o * dim + idx[static_cast<size_t>(j)]) * inner;
        std::copy(s, s + inner, dst + (o * ni + j) * inner);
      }
    }
    return Status::Ok();
  });
}

// Checks indices/updates shape against data for GatherElements and
// ScatterElements: same rank, and no dim larger than data's outside `axis`.
Status CheckElementsShape(const ir::Node& node, const Tensor& data, const Tensor& ind,
                          int64_t axis) {
  bool ok = ind.rank() == data.rank();
  for (int64_t d = 0; ok && d < data.rank(); ++d) ok = d == axis || ind.dim(d) <= data.dim(d);
  if (!ok) {
    return Bad(node, "indices shape " + ShapeToString(ind.shape()) + " does not fit data shape " +
                         ShapeToString(data.shape()) +
                         " (same rank, each dim at most data's outside axis " + Str(axis) + ")");
  }
  return Status::Ok();
}

Status GatherElementsCompute(KernelContext& ctx, const AxisAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  if (x->rank() == 0) return Bad(node, "data must have rank >= 1");
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, a.axis, x->rank()));
  TIFFIN_RETURN_IF_ERROR(CheckElementsShape(node, *x, *ind, axis));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, Ints(node, *ind, "indices"));
  const int64_t dim = x->dim(axis);
  for (int64_t& i : idx) {
    TIFFIN_ASSIGN_OR_RETURN(i, CheckIndex(node, i, dim, "index"));
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), ind->shape()));
  if (out->size() == 0) return Status::Ok();
  std::vector<int64_t> strides = Strides(x->shape());
  const int64_t axis_stride = strides[static_cast<size_t>(axis)];
  strides[static_cast<size_t>(axis)] = 0;
  return DispatchBySize(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = Ptr<T>(*x);
    T* dst = Ptr<T>(out);
    ForEachOffset(ind->shape(), strides, [&](int64_t o, int64_t off) {
      dst[o] = src[off + idx[static_cast<size_t>(o)] * axis_stride];
    });
    return Status::Ok();
  });
}

struct GatherNDAttrs {
  int64_t batch_dims = 0;
  static Result<GatherNDAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t b, init.node.GetInt("batch_dims", 0));
    if (b < 0) return Bad(init.node, "batch_dims must be >= 0, got " + Str(b));
    return GatherNDAttrs{b};
  }
};

// Resolves the index tuples of GatherND/ScatterND into element offsets within
// one batch of data, checking bounds. Returns offsets per tuple.
Result<std::vector<int64_t>> NDOffsets(const ir::Node& node, const Tensor& data, const Tensor& ind,
                                       int64_t batch_dims, int64_t* block) {
  const int64_t q = ind.rank(), r = data.rank();
  if (q < 1) return Bad(node, "indices must have rank >= 1");
  const int64_t k = ind.dim(q - 1);
  if (batch_dims >= std::min(q, r)) {
    return Bad(node, "batch_dims " + Str(batch_dims) + " must be less than the ranks of data (" +
                         Str(r) + ") and indices (" + Str(q) + ")");
  }
  if (k < 1 || k > r - batch_dims) {
    return Bad(node, "the last dim of indices (" + Str(k) + ") must be in 1.." +
                         Str(r - batch_dims) + " for data of shape " + ShapeToString(data.shape()));
  }
  for (int64_t d = 0; d < batch_dims; ++d) {
    if (ind.dim(d) != data.dim(d)) {
      return Bad(node, "batch dim " + Str(d) + " differs: data " + ShapeToString(data.shape()) +
                           ", indices " + ShapeToString(ind.shape()));
    }
  }
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, Ints(node, ind, "indices"));
  const std::vector<int64_t> strides = Strides(data.shape());
  *block = strides[static_cast<size_t>(batch_dims + k - 1)];
  const int64_t tuples = static_cast<int64_t>(idx.size()) / k;
  std::vector<int64_t> offsets(static_cast<size_t>(tuples));
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = 0;
    for (int64_t j = 0; j < k; ++j) {
      const size_t d = static_cast<size_t>(batch_dims + j);
      TIFFIN_ASSIGN_OR_RETURN(int64_t i, CheckIndex(node, idx[static_cast<size_t>(t * k + j)],
                                                    data.shape()[d], "index"));
      off += i * strides[d];
    }
    offsets[static_cast<size_t>(t)] = off;
  }
  return offsets;
}

Status GatherNDCompute(KernelContext& ctx, const GatherNDAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  int64_t block = 0;
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> offs,
                          NDOffsets(node, *x, *ind, a.batch_dims, &block));
  const int64_t k = ind->dim(ind->rank() - 1);
  Shape out_shape(ind->shape().begin(), ind->shape().end() - 1);
  out_shape.insert(out_shape.end(), x->shape().begin() + a.batch_dims + k, x->shape().end());
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  TIFFIN_ASSIGN_OR_RETURN(int64_t batches,
                          Product(node, x->shape(), 0, static_cast<size_t>(a.batch_dims)));
  const int64_t batch_stride = batches > 0 ? x->size() / batches : 0;
  const int64_t per_batch = static_cast<int64_t>(offs.size()) / std::max<int64_t>(batches, 1);
  const size_t es = DTypeSize(x->dtype());
  for (int64_t t = 0; t < static_cast<int64_t>(offs.size()); ++t) {
    const int64_t b = t / per_batch;
    CopyElements(
        x->dtype(),
        Bytes(*x) + static_cast<size_t>(b * batch_stride + offs[static_cast<size_t>(t)]) * es,
        Bytes(out) + static_cast<size_t>(t * block) * es, block);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- Scatter family

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

// Unsigned type for wrapping integer arithmetic, at least as wide as
// `unsigned` so that uint16 * uint16 does not promote to a signed int.
template <typename T>
using WrapU = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

Result<Reduction> ParseReduction(const ir::Node& node) {
  TIFFIN_ASSIGN_OR_RETURN(std::string r, node.GetString("reduction", "none"));
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max" && node.opset >= 18) return Reduction::kMax;
  if (r == "min" && node.opset >= 18) return Reduction::kMin;
  return Bad(node, "unknown reduction '" + r + "' (expected none, add, mul" +
                       std::string(node.opset >= 18 ? ", max, min)" : ")"));
}

template <typename T>
inline void Combine(T& dst, const T& src, Reduction r) {
  if constexpr (std::is_same_v<T, std::string>) {
    dst = src;
  } else if constexpr (std::is_same_v<T, Float16>) {
    float d = static_cast<float>(dst);
    Combine<float>(d, static_cast<float>(src), r);
    dst = Float16(d);
  } else if constexpr (std::is_same_v<T, bool>) {
    switch (r) {
      case Reduction::kNone:
        dst = src;
        break;
      case Reduction::kAdd:
      case Reduction::kMax:
        dst = dst || src;
        break;
      case Reduction::kMul:
      case Reduction::kMin:
        dst = dst && src;
        break;
    }
  } else {
    switch (r) {
      case Reduction::kNone:
        dst = src;
        break;
      case Reduction::kAdd:
        if constexpr (std::is_integral_v<T>) {  // wraps, as numpy does (no signed overflow)
          dst = static_cast<T>(static_cast<WrapU<T>>(dst) + static_cast<WrapU<T>>(src));
        } else {
          dst = static_cast<T>(dst + src);
        }
        break;
      case Reduction::kMul:
        if constexpr (std::is_integral_v<T>) {
          dst = static_cast<T>(static_cast<WrapU<T>>(dst) * static_cast<WrapU<T>>(src));
        } else {
          dst = static_cast<T>(dst * src);
        }
        break;
      case Reduction::kMax:
        dst = std::max(dst, src);
        break;
      case Reduction::kMin:
        dst = std::min(dst, src);
        break;
    }
  }
}

struct ScatterElementsAttrs {
  int64_t axis = 0;
  Reduction reduction = Reduction::kNone;
  static Result<ScatterElementsAttrs> Parse(const KernelInit& init) {
    ScatterElementsAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.axis, init.node.GetInt("axis", 0));
    TIFFIN_ASSIGN_OR_RETURN(a.reduction, ParseReduction(init.node));
    return a;
  }
};

// Dispatches on the real element type when a reduction needs arithmetic.
template <typename F>
Status DispatchScatter(const ir::Node& node, DType dt, Reduction r, F&& f) {
  if (r == Reduction::kNone) return DispatchBySize(node, dt, f);
  if (dt == DType::kString) return BadDType(node, "data (with a reduction)", dt);
  return DispatchAll(node, dt, [&](auto tag) -> Status {
    if constexpr (std::is_same_v<decltype(tag), std::string>) {
      return Status::Ok();  // unreachable: refused above
    } else {
      return f(tag);
    }
  });
}

Status ScatterElementsCompute(KernelContext& ctx, const ScatterElementsAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* upd, RequiredInput(ctx, 2, "updates"));
  if (x->rank() == 0) return Bad(node, "data must have rank >= 1");
  TIFFIN_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, a.axis, x->rank()));
  TIFFIN_RETURN_IF_ERROR(CheckElementsShape(node, *x, *ind, axis));
  if (upd->shape() != ind->shape()) {
    return Bad(node, "updates shape " + ShapeToString(upd->shape()) +
                         " differs from indices shape " + ShapeToString(ind->shape()));
  }
  if (upd->dtype() != x->dtype()) {
    return Bad(node, "updates dtype " + std::string(DTypeName(upd->dtype())) +
                         " differs from data dtype " + std::string(DTypeName(x->dtype())));
  }
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, Ints(node, *ind, "indices"));
  const int64_t dim = x->dim(axis);
  for (int64_t& i : idx) {
    TIFFIN_ASSIGN_OR_RETURN(i, CheckIndex(node, i, dim, "index"));
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), x->shape()));
  CopyElements(x->dtype(), x->raw_data(), out->raw_data(), x->size());
  if (ind->size() == 0) return Status::Ok();
  std::vector<int64_t> strides = Strides(x->shape());
  const int64_t axis_stride = strides[static_cast<size_t>(axis)];
  strides[static_cast<size_t>(axis)] = 0;
  return DispatchScatter(node, x->dtype(), a.reduction, [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = Ptr<T>(*upd);
    T* dst = Ptr<T>(out);
    ForEachOffset(ind->shape(), strides, [&](int64_t o, int64_t off) {
      Combine<T>(dst[off + idx[static_cast<size_t>(o)] * axis_stride], src[o], a.reduction);
    });
    return Status::Ok();
  });
}

struct ScatterNDAttrs {
  Reduction reduction = Reduction::kNone;
  static Result<ScatterNDAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(Reduction r, ParseReduction(init.node));
    return ScatterNDAttrs{r};
  }
};

Status ScatterNDCompute(KernelContext& ctx, const ScatterNDAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* upd, RequiredInput(ctx, 2, "updates"));
  if (x->rank() == 0) return Bad(node, "data must have rank >= 1");
  if (upd->dtype() != x->dtype()) {
    return Bad(node, "updates dtype " + std::string(DTypeName(upd->dtype())) +
                         " differs from data dtype " + std::string(DTypeName(x->dtype())));
  }
  int64_t block = 0;
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> offs, NDOffsets(node, *x, *ind, 0, &block));
  const int64_t k = ind->dim(ind->rank() - 1);
  Shape want(ind->shape().begin(), ind->shape().end() - 1);
  want.insert(want.end(), x->shape().begin() + k, x->shape().end());
  if (upd->shape() != want) {
    return Bad(node, "updates shape " + ShapeToString(upd->shape()) + " should be " +
                         ShapeToString(want) + " for data " + ShapeToString(x->shape()) +
                         " and indices " + ShapeToString(ind->shape()));
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), x->shape()));
  CopyElements(x->dtype(), x->raw_data(), out->raw_data(), x->size());
  return DispatchScatter(node, x->dtype(), a.reduction, [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = Ptr<T>(*upd);
    T* dst = Ptr<T>(out);
    for (size_t t = 0; t < offs.size(); ++t) {
      T* d = dst + offs[t];
      const T* s = src + static_cast<int64_t>(t) * block;
      for (int64_t e = 0; e < block; ++e) Combine<T>(d[e], s[e], a.reduction);
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- Shape / Size

struct ShapeAttrs {
  int64_t start = 0;
  bool has_end = false;
  int64_t end = 0;
  static Result<ShapeAttrs> Parse(const KernelInit& init) {
    ShapeAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.start, init.node.GetInt("start", 0));
    a.has_end = init.node.HasAttribute("end");
    TIFFIN_ASSIGN_OR_RETURN(a.end, init.node.GetInt("end", 0));
    return a;
  }
};

Status ShapeCompute(KernelContext& ctx, const ShapeAttrs& a) {
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  const int64_t r = x->rank();
  auto clamp = [r](int64_t v) {
    if (v < 0) v += r;
    return std::clamp<int64_t>(v, 0, r);
  };
  const int64_t s = clamp(a.start), e = a.has_end ? clamp(a.end) : r;
  const int64_t n = std::max<int64_t>(0, e - s);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kInt64, {n}));
  for (int64_t i = 0; i < n; ++i) out->data<int64_t>()[i] = x->dim(s + i);
  return Status::Ok();
}

Status SizeCompute(KernelContext& ctx) {
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kInt64, {}));
  out->data<int64_t>()[0] = x->size();
  return Status::Ok();
}

// ---------------------------------------------------------------- Expand / Tile

Status ExpandCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* s, RequiredInput(ctx, 1, "shape"));
  if (s->rank() != 1) return Bad(node, "shape must be 1-D, got " + ShapeToString(s->shape()));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> req, Ints(node, *s, "shape"));
  for (int64_t d : req) {
    if (d < 0) return Bad(node, "shape " + IntsToString(req) + " has a negative dim");
  }
  TIFFIN_ASSIGN_OR_RETURN(Shape out_shape, BroadcastShapes(node, x->shape(), req));
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  const std::vector<int64_t> strides = BroadcastStrides(x->shape(), out_shape);
  return DispatchBySize(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = Ptr<T>(*x);
    T* dst = Ptr<T>(out);
    if (x->size() == 1) {
      std::fill(dst, dst + out->size(), src[0]);
    } else {
      ForEachOffset(out_shape, strides, [&](int64_t o, int64_t i) { dst[o] = src[i]; });
    }
    return Status::Ok();
  });
}

Status TileCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* rt, RequiredInput(ctx, 1, "repeats"));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> reps, Ints(node, *rt, "repeats"));
  const int64_t r = x->rank();
  if (static_cast<int64_t>(reps.size()) != r) {
    return Bad(node, "repeats " + IntsToString(reps) + " has " + Str(int64_t(reps.size())) +
                         " entries for an input of rank " + Str(r));
  }
  Shape out_shape(static_cast<size_t>(r));
  for (size_t i = 0; i < reps.size(); ++i) {
    if (reps[i] < 0) return Bad(node, "repeats " + IntsToString(reps) + " has a negative entry");
    TIFFIN_ASSIGN_OR_RETURN(out_shape[i], CheckedMul(node, x->shape()[i], reps[i]));
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  if (r == 0) {
    CopyElements(x->dtype(), x->raw_data(), out->raw_data(), 1);
    return Status::Ok();
  }
  const std::vector<int64_t> strides = Strides(x->shape());
  return DispatchBySize(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = Ptr<T>(*x);
    T* dst = Ptr<T>(out);
    const size_t last = static_cast<size_t>(r - 1);
    const int64_t in_row = x->shape()[last], out_row = out_shape[last];
    std::vector<int64_t> idx(static_cast<size_t>(r), 0);
    for (int64_t o = 0; o < out->size(); o += out_row) {
      int64_t base = 0;
      for (size_t d = 0; d < last; ++d) base += (idx[d] % x->shape()[d]) * strides[d];
      for (int64_t k = 0; k < out_row; k += in_row)
        std::copy(src + base, src + base + in_row, dst + o + k);
      for (int64_t d = static_cast<int64_t>(last) - 1; d >= 0; --d) {
        if (++idx[static_cast<size_t>(d)] < out_shape[static_cast<size_t>(d)]) break;
        idx[static_cast<size_t>(d)] = 0;
      }
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- Pad

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

struct PadAttrs {
  PadMode mode = PadMode::kConstant;
  bool from_inputs = true;    // opset 11+
  std::vector<int64_t> pads;  // attribute form
  float value = 0;            // attribute form
  static Result<PadAttrs> Parse(const KernelInit& init) {
    PadAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(std::string mode, init.node.GetString("mode", "constant"));
    if (mode == "constant") {
      a.mode = PadMode::kConstant;
    } else if (mode == "reflect") {
      a.mode = PadMode::kReflect;
    } else if (mode == "edge") {
      a.mode = PadMode::kEdge;
    } else if (mode == "wrap" && init.node.opset >= 19) {
      a.mode = PadMode::kWrap;
    } else {
      return Bad(init.node, "unknown mode '" + mode + "' (expected constant, reflect, edge" +
                                std::string(init.node.opset >= 19 ? ", wrap)" : ")"));
    }
    a.from_inputs = init.node.opset >= 11;
    if (!a.from_inputs) {
      if (!init.node.HasAttribute("pads")) return Bad(init.node, "attribute 'pads' is required");
      TIFFIN_ASSIGN_OR_RETURN(a.pads, init.node.GetInts("pads"));
      TIFFIN_ASSIGN_OR_RETURN(a.value, init.node.GetFloat("value", 0.0f));
    }
    return a;
  }
};

template <typename T>
T FromDouble(double v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return std::string();
  } else if constexpr (std::is_same_v<T, Float16>) {
    return Float16(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T>) {
    // Saturating: Pad-2's float 'value' may be 1e30 for an integer input, and
    // an out-of-range float -> integer conversion is undefined. NaN gives 0.
    if (std::isnan(v)) return T{};
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max()))
      return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

Status PadCompute(KernelContext& ctx, const PadAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  const int64_t r = x->rank();
  std::vector<int64_t> pads = a.pads;
  const Tensor* value_t = nullptr;
  std::vector<int64_t> axes;
  bool has_axes = false;
  if (a.from_inputs) {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* pt, RequiredInput(ctx, 1, "pads"));
    TIFFIN_ASSIGN_OR_RETURN(pads, Ints(node, *pt, "pads"));
    value_t = ctx.input(2);
    if (value_t && value_t->size() > 0 && value_t->dtype() != x->dtype()) {
      return Bad(node, "constant_value dtype " + std::string(DTypeName(value_t->dtype())) +
                           " differs from data dtype " + std::string(DTypeName(x->dtype())));
    }
    if (node.opset >= 18) {
      TIFFIN_ASSIGN_OR_RETURN(axes, OptionalInts(ctx, 3, "axes", &has_axes));
    }
  }
  std::vector<int64_t> norm;
  if (has_axes) {
    TIFFIN_ASSIGN_OR_RETURN(norm, NormalizeAxes(node, axes, r));
  } else {
    for (int64_t i = 0; i < r; ++i) norm.push_back(i);
  }
  const size_t na = norm.size();
  if (pads.size() != 2 * na) {
    return Bad(node, "pads " + IntsToString(pads) + " should have " + Str(int64_t(2 * na)) +
                         " entries (begin and end for each of " + Str(int64_t(na)) + " axes)");
  }
  std::vector<int64_t> pb(static_cast<size_t>(r), 0), pe(static_cast<size_t>(r), 0);
  for (size_t i = 0; i < na; ++i) {
    pb[static_cast<size_t>(norm[i])] = pads[i];
    pe[static_cast<size_t>(norm[i])] = pads[i + na];
  }
  Shape out_shape(static_cast<size_t>(r));
  // Per axis: the input index each output index reads, or -1 for the pad value.
  std::vector<std::vector<int64_t>> maps(static_cast<size_t>(r));
  for (size_t d = 0; d < static_cast<size_t>(r); ++d) {
    const int64_t dim = x->shape()[d];
    int64_t o = 0;
    if (__builtin_add_overflow(dim, pb[d], &o) || __builtin_add_overflow(o, pe[d], &o) || o < 0) {
      return Bad(node, "pads " + IntsToString(pads) + " give axis " + Str(int64_t(d)) +
                           " of size " + Str(dim) + " a negative or overflowing size");
    }
    out_shape[d] = o;
    if (a.mode != PadMode::kConstant && dim == 0 && o > 0) {
      return Bad(node, "cannot pad axis " + Str(int64_t(d)) + " of size 0 in this mode");
    }
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  const int64_t total = out->size();
  if (total == 0) return Status::Ok();
  for (size_t d = 0; d < static_cast<size_t>(r); ++d) {
    const int64_t dim = x->shape()[d];
    auto& m = maps[d];
    m.resize(static_cast<size_t>(out_shape[d]));
    for (int64_t o = 0; o < out_shape[d]; ++o) {
      // In 128 bits: a begin pad of -2^63 (with an end pad making up for it)
      // is accepted above, and o - pb would overflow int64.
      const __int128 iw = static_cast<__int128>(o) - pb[d];
      int64_t i = 0;
      if (iw >= 0 && iw < dim) {
        i = static_cast<int64_t>(iw);
      } else {
        switch (a.mode) {
          case PadMode::kConstant:
            i = -1;
            break;
          case PadMode::kEdge:
            i = iw < 0 ? 0 : dim - 1;
            break;
          case PadMode::kWrap:
            i = static_cast<int64_t>(((iw % dim) + dim) % dim);
            break;
          case PadMode::kReflect: {
            if (dim == 1) {
              i = 0;
            } else {
              const int64_t period = 2 * (dim - 1);
              i = static_cast<int64_t>(((iw % period) + period) % period);
              if (i >= dim) i = period - i;
            }
            break;
          }
        }
      }
      m[static_cast<size_t>(o)] = i;
    }
  }
  const std::vector<int64_t> strides = Strides(x->shape());
  return DispatchAll(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    T value = a.from_inputs ? T{} : FromDouble<T>(a.value);
    if (value_t && value_t->size() > 0) value = value_t->data<T>()[0];
    GatherAxisMaps(x->data<T>(), strides, maps, out_shape, value, out->data<T>());
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- OneHot

struct OneHotAttrs {
  int64_t axis = -1;
  static Result<OneHotAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t axis, init.node.GetInt("axis", -1));
    return OneHotAttrs{axis};
  }
};

// Reads any numeric tensor as int64s (floats truncate toward zero).
Result<std::vector<int64_t>> AnyInts(const ir::Node& node, const Tensor& t, const char* what) {
  std::vector<int64_t> v(static_cast<size_t>(t.size()));
  Status s = DispatchAll(node, t.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) {
      return BadDType(node, what, t.dtype());
    } else {
      const T* p = t.data<T>();
      for (size_t i = 0; i < v.size(); ++i) {
        if constexpr (std::is_integral_v<T>) {
          v[i] = static_cast<int64_t>(p[i]);
        } else {
          double e = 0;
          if constexpr (std::is_same_v<T, Float16>) {
            e = static_cast<double>(static_cast<float>(p[i]));
          } else {
            e = static_cast<double>(p[i]);
          }
          if (!(e > -9.2e18 && e < 9.2e18)) {
            return Bad(node, std::string(what) + " holds a value that is not a valid index");
          }
          v[i] = static_cast<int64_t>(e);
        }
      }
      return Status::Ok();
    }
  });
  TIFFIN_RETURN_IF_ERROR(s);
  return v;
}

Status OneHotCompute(KernelContext& ctx, const OneHotAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 0, "indices"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* dt, RequiredInput(ctx, 1, "depth"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* vals, RequiredInput(ctx, 2, "values"));
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> depth_v, AnyInts(node, *dt, "depth"));
  if (depth_v.size() != 1) return Bad(node, "depth must hold one value");
  const int64_t depth = depth_v[0];
  if (depth < 1) return Bad(node, "depth must be >= 1, got " + Str(depth));
  if (vals->size() != 2) {
    return Bad(node,
               "values must hold two values [off, on], got shape " + ShapeToString(vals->shape()));
  }
  const int64_t r = ind->rank() + 1;
  if (a.axis < -r || a.axis >= r) {
    return Bad(node, "axis " + Str(a.axis) + " is out of range for output rank " + Str(r));
  }
  const size_t axis = static_cast<size_t>(a.axis < 0 ? a.axis + r : a.axis);
  Shape out_shape = ind->shape();
  out_shape.insert(out_shape.begin() + static_cast<int64_t>(axis), depth);
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, vals->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> idx, AnyInts(node, *ind, "indices"));
  TIFFIN_ASSIGN_OR_RETURN(int64_t inner, Product(node, ind->shape(), axis, ind->shape().size()));
  return DispatchAll(node, vals->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T off = vals->data<T>()[0], on = vals->data<T>()[1];
    T* dst = out->data<T>();
    std::fill(dst, dst + out->size(), off);
    for (size_t i = 0; i < idx.size(); ++i) {
      int64_t v = idx[i];
      if (v < 0) v += depth;
      if (v < 0 || v >= depth) continue;
      const int64_t o = static_cast<int64_t>(i) / inner, k = static_cast<int64_t>(i) % inner;
      dst[(o * depth + v) * inner + k] = on;
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- NonZero

Status NonZeroCompute(KernelContext& ctx) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  // A scalar is treated as a 1-element vector, as numpy and ORT do.
  const Shape shape = x->rank() == 0 ? Shape{1} : x->shape();
  const int64_t r = static_cast<int64_t>(shape.size());
  const std::vector<int64_t> strides = Strides(shape);
  return DispatchAll(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = x->data<T>();
    auto nonzero = [](const T& v) {
      if constexpr (std::is_same_v<T, std::string>) {
        return !v.empty();
      } else if constexpr (std::is_same_v<T, Float16>) {
        return static_cast<float>(v) != 0.0f;
      } else {
        return v != T{};
      }
    };
    // Count first so the output size limit applies before any large buffer.
    int64_t n = 0;
    for (int64_t i = 0; i < x->size(); ++i) n += nonzero(p[i]) ? 1 : 0;
    TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, DType::kInt64, {r, n}));
    int64_t* dst = out->data<int64_t>();
    int64_t j = 0;
    for (int64_t i = 0; i < x->size(); ++i) {
      if (!nonzero(p[i])) continue;
      int64_t rem = i;
      for (int64_t d = 0; d < r; ++d) {
        dst[d * n + j] = rem / strides[static_cast<size_t>(d)];
        rem %= strides[static_cast<size_t>(d)];
      }
      ++j;
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- Trilu

struct TriluAttrs {
  bool upper = true;
  static Result<TriluAttrs> Parse(const KernelInit& init) {
    TIFFIN_ASSIGN_OR_RETURN(int64_t u, init.node.GetInt("upper", 1));
    return TriluAttrs{u != 0};
  }
};

Status TriluCompute(KernelContext& ctx, const TriluAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->rank() < 2)
    return Bad(node, "input must have rank >= 2, got shape " + ShapeToString(x->shape()));
  int64_t k = 0;
  if (const Tensor* kt = ctx.input(1)) {
    TIFFIN_ASSIGN_OR_RETURN(k, ScalarInt(node, *kt, "k"));
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), x->shape()));
  if (x->size() == 0) return Status::Ok();
  const int64_t n = x->dim(x->rank() - 2), m = x->dim(x->rank() - 1);
  const int64_t batches = x->size() / (n * m);
  return DispatchAll(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = x->data<T>();
    T* dst = out->data<T>();
    for (int64_t b = 0; b < batches; ++b) {
      for (int64_t i = 0; i < n; ++i) {
        const int64_t row = (b * n + i) * m;
        for (int64_t j = 0; j < m; ++j) {
          const bool keep = a.upper ? (j - i >= k) : (j - i <= k);
          dst[row + j] = keep ? src[row + j] : T{};
        }
      }
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth

struct BlockAttrs {
  int64_t blocksize = 0;
  bool crd = false;  // DepthToSpace mode CRD (opset 11+); DCR otherwise
  static Result<BlockAttrs> Parse(const KernelInit& init) {
    BlockAttrs a;
    if (!init.node.HasAttribute("blocksize"))
      return Bad(init.node, "attribute 'blocksize' is required");
    TIFFIN_ASSIGN_OR_RETURN(a.blocksize, init.node.GetInt("blocksize", 0));
    if (a.blocksize < 1 || a.blocksize > (int64_t{1} << 20)) {
      return Bad(init.node, "blocksize must be in 1..2^20, got " + Str(a.blocksize));
    }
    TIFFIN_ASSIGN_OR_RETURN(std::string mode, init.node.GetString("mode", "DCR"));
    if (mode != "DCR" && mode != "CRD") {
      return Bad(init.node, "unknown mode '" + mode + "' (expected DCR or CRD)");
    }
    a.crd = mode == "CRD";
    return a;
  }
};

template <bool kToSpace>
Status SpaceDepthCompute(KernelContext& ctx, const BlockAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->rank() != 4)
    return Bad(node, "input must be 4-D (NCHW), got shape " + ShapeToString(x->shape()));
  const int64_t b = a.blocksize, bb = b * b;
  const int64_t N = x->dim(0), C = x->dim(1), H = x->dim(2), W = x->dim(3);
  Shape out_shape;
  if constexpr (kToSpace) {
    if (C % bb != 0) {
      return Bad(node, "channels " + Str(C) + " are not divisible by blocksize^2 = " + Str(bb));
    }
    TIFFIN_ASSIGN_OR_RETURN(int64_t oh, CheckedMul(node, H, b));
    TIFFIN_ASSIGN_OR_RETURN(int64_t ow, CheckedMul(node, W, b));
    out_shape = {N, C / bb, oh, ow};
  } else {
    if (H % b != 0 || W % b != 0) {
      return Bad(node, "spatial dims " + Str(H) + "x" + Str(W) +
                           " are not divisible by blocksize " + Str(b));
    }
    TIFFIN_ASSIGN_OR_RETURN(int64_t oc, CheckedMul(node, C, bb));
    out_shape = {N, oc, H / b, W / b};
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  return DispatchBySize(node, x->dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* src = Ptr<T>(*x);
    T* dst = Ptr<T>(out);
    if constexpr (kToSpace) {
      const int64_t oc = C / bb, OH = H * b, OW = W * b;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < oc; ++c)
          for (int64_t i = 0; i < b; ++i)
            for (int64_t j = 0; j < b; ++j) {
              const int64_t ic = a.crd ? c * bb + i * b + j : (i * b + j) * oc + c;
              const T* s = src + (n * C + ic) * H * W;
              T* d = dst + (n * oc + c) * OH * OW;
              for (int64_t h = 0; h < H; ++h)
                for (int64_t w = 0; w < W; ++w) d[(h * b + i) * OW + w * b + j] = s[h * W + w];
            }
    } else {
      const int64_t OH = H / b, OW = W / b, OC = C * bb;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < b; ++i)
          for (int64_t j = 0; j < b; ++j)
            for (int64_t c = 0; c < C; ++c) {
              const T* s = src + (n * C + c) * H * W;
              T* d = dst + (n * OC + (i * b + j) * C + c) * OH * OW;
              for (int64_t h = 0; h < OH; ++h)
                for (int64_t w = 0; w < OW; ++w) d[h * OW + w] = s[(h * b + i) * W + w * b + j];
            }
    }
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- Compress

struct CompressAttrs {
  bool has_axis = false;
  int64_t axis = 0;
  static Result<CompressAttrs> Parse(const KernelInit& init) {
    CompressAttrs a;
    a.has_axis = init.node.HasAttribute("axis");
    TIFFIN_ASSIGN_OR_RETURN(a.axis, init.node.GetInt("axis", 0));
    return a;
  }
};

Status CompressCompute(KernelContext& ctx, const CompressAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* c, RequiredInput(ctx, 1, "condition"));
  if (c->dtype() != DType::kBool) return BadDType(node, "condition", c->dtype());
  if (c->rank() != 1)
    return Bad(node, "condition must be 1-D, got shape " + ShapeToString(c->shape()));
  int64_t axis = 0, outer = 1, inner = 1, dim = x->size();
  Shape out_shape;
  if (a.has_axis) {
    if (x->rank() == 0) return Bad(node, "input must have rank >= 1 when axis is given");
    TIFFIN_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, a.axis, x->rank()));
    dim = x->dim(axis);
    TIFFIN_ASSIGN_OR_RETURN(outer, Product(node, x->shape(), 0, static_cast<size_t>(axis)));
    TIFFIN_ASSIGN_OR_RETURN(
        inner, Product(node, x->shape(), static_cast<size_t>(axis) + 1, x->shape().size()));
    out_shape = x->shape();
  }
  // Entries of condition past the selected dim are ignored (spec: "exceeding
  // the condition length are discarded" covers the shorter case).
  const bool* cond = c->data<bool>();
  const int64_t n = std::min(dim, c->size());
  int64_t ns = 0;
  for (int64_t i = 0; i < n; ++i) ns += cond[i] ? 1 : 0;
  if (a.has_axis) {
    out_shape[static_cast<size_t>(axis)] = ns;
  } else {
    out_shape = {ns};
  }
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, x->dtype(), out_shape));
  if (out->size() == 0) return Status::Ok();
  const size_t es = DTypeSize(x->dtype());
  for (int64_t o = 0; o < outer; ++o) {
    int64_t j = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!cond[i]) continue;
      CopyElements(x->dtype(), Bytes(*x) + static_cast<size_t>((o * dim + i) * inner) * es,
                   Bytes(out) + static_cast<size_t>((o * ns + j) * inner) * es, inner);
      ++j;
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- EyeLike

struct EyeLikeAttrs {
  bool has_dtype = false;
  DType dtype = DType::kUndefined;
  int64_t k = 0;
  static Result<EyeLikeAttrs> Parse(const KernelInit& init) {
    EyeLikeAttrs a;
    a.has_dtype = init.node.HasAttribute("dtype");
    TIFFIN_ASSIGN_OR_RETURN(int64_t dt, init.node.GetInt("dtype", 0));
    if (a.has_dtype) {
      if (!IsKnownDType(static_cast<int32_t>(dt)) || dt == static_cast<int64_t>(DType::kString)) {
        return NotSupported(init.node.Describe() + ": dtype " + Str(dt) + " is not supported");
      }
      a.dtype = static_cast<DType>(dt);
    }
    TIFFIN_ASSIGN_OR_RETURN(a.k, init.node.GetInt("k", 0));
    return a;
  }
};

Status EyeLikeCompute(KernelContext& ctx, const EyeLikeAttrs& a) {
  const ir::Node& node = ctx.node();
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->rank() != 2) return Bad(node, "input must be 2-D, got shape " + ShapeToString(x->shape()));
  const DType dt = a.has_dtype ? a.dtype : x->dtype();
  TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(0, dt, x->shape()));
  const int64_t n = x->dim(0), m = x->dim(1);
  return DispatchAll(node, dt, [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, std::string>) {
      return BadDType(node, "output", dt);
    } else {
      T* dst = out->data<T>();
      std::fill(dst, dst + out->size(), FromDouble<T>(0.0));
      // |k| >= max(n, m) puts the diagonal outside (and i + k could overflow).
      if (a.k > -n && a.k < m) {
        for (int64_t i = 0; i < n; ++i) {
          const int64_t j = i + a.k;
          if (j >= 0 && j < m) dst[i * m + j] = FromDouble<T>(1.0);
        }
      }
      return Status::Ok();
    }
  });
}

// ---------------------------------------------------------------- table

const KernelDef kRows[] = {
    {"Flatten", "", 1, kMaxOpset, MakeAttrKernel<FlattenAttrs, FlattenCompute>},
    {"Reshape", "", 5, kMaxOpset, MakeAttrKernel<ReshapeAttrs, ReshapeCompute>},
    {"Transpose", "", 1, kMaxOpset, MakeAttrKernel<TransposeAttrs, TransposeCompute>},
    {"Squeeze", "", 1, kMaxOpset, MakeAttrKernel<AxesAttrs, SqueezeCompute>},
    {"Unsqueeze", "", 1, kMaxOpset, MakeAttrKernel<AxesAttrs, UnsqueezeCompute>},
    {"Concat", "", 4, kMaxOpset, MakeAttrKernel<ConcatAttrs, ConcatCompute>},
    {"Split", "", 2, kMaxOpset, MakeAttrKernel<SplitAttrs, SplitCompute>},
    {"Slice", "", 1, kMaxOpset, MakeAttrKernel<SliceAttrs, SliceCompute>},
    {"Gather", "", 1, kMaxOpset, MakeAttrKernel<AxisAttrs, GatherCompute>},
    {"GatherElements", "", 11, kMaxOpset, MakeAttrKernel<AxisAttrs, GatherElementsCompute>},
    {"GatherND", "", 11, kMaxOpset, MakeAttrKernel<GatherNDAttrs, GatherNDCompute>},
    {"Scatter", "", 9, 10, MakeAttrKernel<ScatterElementsAttrs, ScatterElementsCompute>},
    {"ScatterElements", "", 11, kMaxOpset,
     MakeAttrKernel<ScatterElementsAttrs, ScatterElementsCompute>},
    {"ScatterND", "", 11, kMaxOpset, MakeAttrKernel<ScatterNDAttrs, ScatterNDCompute>},
    {"Shape", "", 1, kMaxOpset, MakeAttrKernel<ShapeAttrs, ShapeCompute>},
    {"Size", "", 1, kMaxOpset, MakeFnKernel<SizeCompute>},
    {"Expand", "", 8, kMaxOpset, MakeFnKernel<ExpandCompute>},
    {"Tile", "", 6, kMaxOpset, MakeFnKernel<TileCompute>},
    {"Pad", "", 2, kMaxOpset, MakeAttrKernel<PadAttrs, PadCompute>},
    {"OneHot", "", 9, kMaxOpset, MakeAttrKernel<OneHotAttrs, OneHotCompute>},
    {"NonZero", "", 9, kMaxOpset, MakeFnKernel<NonZeroCompute>},
    {"Trilu", "", 14, kMaxOpset, MakeAttrKernel<TriluAttrs, TriluCompute>},
    {"DepthToSpace", "", 1, kMaxOpset, MakeAttrKernel<BlockAttrs, SpaceDepthCompute<true>>},
    {"SpaceToDepth", "", 1, kMaxOpset, MakeAttrKernel<BlockAttrs, SpaceDepthCompute<false>>},
    {"Compress", "", 9, kMaxOpset, MakeAttrKernel<CompressAttrs, CompressCompute>},
    {"EyeLike", "", 9, kMaxOpset, MakeAttrKernel<EyeLikeAttrs, EyeLikeCompute>},
};

}  // namespace

std::span<const KernelDef> ShapeKernels() { return kRows; }

}  // namespace tiffin::kernels
