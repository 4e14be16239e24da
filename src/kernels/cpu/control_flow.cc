// Control flow: If, Loop, Scan (opsets 8 and 9+).
//
// Bodies are compiled once at load time (KernelInit::compile_subgraph) and run
// per request with Subgraph::Run. Values are tensors only: models whose loop
// state or outputs are sequences or optionals are refused when loading (their
// sequence ops are not registered).
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::kernels {
namespace {

// Loops without a trip count stop with an error after this many iterations,
// so that a model cannot spin a server forever.
constexpr int64_t kMaxLoopIterations = 10'000'000;

// The iteration budget of one Loop or Scan node: kMaxLoopIterations, or less
// under a small tensor size limit. Every iteration allocates and releases its
// iteration-number and condition tensors and the body's input and output
// lists (well over 256 bytes), so a loop of N iterations churns through more
// than 256 * N bytes; tying N to LoadOptions::max_tensor_bytes keeps a crafted
// model's run time in proportion to the memory its caller budgets. With the
// default 4 GiB the budget is the full 10M; with the fuzzer's 64 MiB it is
// 256K iterations (a few seconds under ASan, where 10M iterations of a trivial
// body took 100 s). A trip count or an empty scan axis of 2^40 is refused
// instead of being run.
int64_t MaxIterations(const LoadOptions& options) {
  return std::clamp<int64_t>(static_cast<int64_t>(options.max_tensor_bytes / 256), 1,
                             kMaxLoopIterations);
}

std::string Str(int64_t v) { return std::to_string(v); }

Status Bad(const ir::Node& node, const std::string& what) {
  return InvalidArgument(node.Describe() + ": " + what);
}

// ToInt64s, except that an empty tensor gives an empty list without touching
// its (possibly null) buffer.
Result<std::vector<int64_t>> Ints(const ir::Node& node, const Tensor& t, const char* what) {
  if (t.dtype() != DType::kInt64 && t.dtype() != DType::kInt32)
    return BadDType(node, what, t.dtype());
  if (t.size() == 0) return std::vector<int64_t>{};
  return ToInt64s(node, t, what);
}

struct CompiledBody {
  std::shared_ptr<const ir::Graph> graph;  // keeps the attribute's graph alive
  std::shared_ptr<const Subgraph> body;
};

Result<CompiledBody> CompileBody(const KernelInit& init, const char* key) {
  const ir::Node& node = init.node;
  TIFFIN_ASSIGN_OR_RETURN(std::shared_ptr<const ir::Graph> g, node.GetGraph(key));
  if (!g) return Bad(node, std::string("graph attribute '") + key + "' is empty");
  if (!init.compile_subgraph) {
    return Internal(node.Describe() + ": no subgraph compiler available for '" + key + "'");
  }
  auto body = init.compile_subgraph(*g);
  if (!body.ok()) return body.status().WithContext(node.Describe() + " " + key);
  return CompiledBody{std::move(g), std::move(body).value()};
}

// Runs a body and names the parent node in any error.
Result<std::vector<Tensor>> RunBody(KernelContext& ctx, const CompiledBody& b, const char* what,
                                    const std::vector<Tensor>& inputs) {
  auto out = b.body->Run(ctx, inputs);
  if (!out.ok()) return out.status().WithContext(ctx.node().Describe() + " " + what);
  if (static_cast<int>(out->size()) != b.body->num_outputs()) {
    return Internal(ctx.node().Describe() + " " + what + " returned " +
                    Str(static_cast<int64_t>(out->size())) + " outputs, expected " +
                    Str(b.body->num_outputs()));
  }
  return out;
}

Result<bool> ReadBool(const ir::Node& node, const Tensor& t, const char* what) {
  if (t.size() != 1) {
    return Bad(node,
               std::string(what) + " must hold one value, got shape " + ShapeToString(t.shape()));
  }
  if (t.dtype() != DType::kBool) return BadDType(node, what, t.dtype());
  return t.data<bool>()[0];
}

// Copies `t` with `axis` removed at `index`.
Result<Tensor> SliceAxis(KernelContext& ctx, const Tensor& t, int64_t axis, int64_t index) {
  Shape shape = t.shape();
  const int64_t len = shape[static_cast<size_t>(axis)];
  shape.erase(shape.begin() + axis);
  TIFFIN_ASSIGN_OR_RETURN(Tensor out,
                          Tensor::Allocate(t.dtype(), shape, ctx.options().max_tensor_bytes));
  // An empty slice may have dims whose product overflows int64.
  if (out.size() == 0) return out;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= t.dim(d);
  for (int64_t d = axis + 1; d < t.rank(); ++d) inner *= t.dim(d);
  const size_t es = DTypeSize(t.dtype());
  const char* src = static_cast<const char*>(t.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  if (inner > 0) {
    for (int64_t o = 0; o < outer; ++o) {
      CopyElements(t.dtype(), src + static_cast<size_t>((o * len + index) * inner) * es,
                   dst + static_cast<size_t>(o * inner) * es, inner);
    }
  }
  return out;
}

// The shape of `items` stacked along a new axis (all items must agree).
Result<Shape> StackShape(const ir::Node& node, const std::vector<Tensor>& items, int64_t axis,
                         const std::string& what) {
  const Tensor& first = items[0];
  for (const Tensor& t : items) {
    if (t.dtype() != first.dtype() || t.shape() != first.shape()) {
      return Bad(node, what + " changes between iterations: " +
                           std::string(DTypeName(first.dtype())) + ShapeToString(first.shape()) +
                           " vs " + std::string(DTypeName(t.dtype())) + ShapeToString(t.shape()));
    }
  }
  Shape s = first.shape();
  s.insert(s.begin() + axis, static_cast<int64_t>(items.size()));
  return s;
}

// Writes items stacked along `axis` into out (shaped by StackShape);
// `reverse` stores the last item first.
void StackInto(const std::vector<Tensor>& items, int64_t axis, bool reverse, Tensor* out) {
  if (out->size() == 0) return;  // (an empty item's dims may multiply past int64)
  const Tensor& first = items[0];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= first.dim(d);
  for (int64_t d = axis; d < first.rank(); ++d) inner *= first.dim(d);
  if (inner == 0) return;
  const int64_t n = static_cast<int64_t>(items.size());
  const size_t es = DTypeSize(first.dtype());
  char* dst = static_cast<char*>(out->raw_data());
  for (int64_t t = 0; t < n; ++t) {
    const Tensor& item = items[static_cast<size_t>(reverse ? n - 1 - t : t)];
    const char* src = static_cast<const char*>(item.raw_data());
    for (int64_t o = 0; o < outer; ++o) {
      CopyElements(first.dtype(), src + static_cast<size_t>(o * inner) * es,
                   dst + static_cast<size_t>((o * n + t) * inner) * es, inner);
    }
  }
}

// Keeps a running byte count of accumulated per-iteration outputs under the
// tensor size limit, so a long loop fails early instead of exhausting memory.
Status CheckAccumulated(KernelContext& ctx, size_t* total, const Tensor& t) {
  *total += t.nbytes();
  if (*total > ctx.options().max_tensor_bytes) {
    return ResourceExhausted(ctx.node().Describe() + ": scan outputs exceed " +
                             Str(static_cast<int64_t>(ctx.options().max_tensor_bytes)) +
                             " bytes (LoadOptions::max_tensor_bytes)");
  }
  return Status::Ok();
}

// What a body declares for its output `pos`: the dtype (when known) and the
// shape when every dim is fixed.
struct DeclaredInfo {
  DType dtype = DType::kFloat32;
  bool fixed = false;
  Shape shape;
};
std::optional<DeclaredInfo> Declared(const ir::Graph& g, size_t pos) {
  if (pos >= g.outputs.size()) return std::nullopt;
  const TensorInfo& info = g.values[static_cast<size_t>(g.outputs[pos])].info;
  DeclaredInfo d;
  if (info.dtype != DType::kUndefined) d.dtype = info.dtype;
  d.fixed = info.has_shape;
  for (const Dim& dim : info.shape) {
    d.fixed = d.fixed && dim.fixed();
    d.shape.push_back(dim.value);
  }
  if (!d.fixed) d.shape.clear();
  return d;
}

// ---------------------------------------------------------------- If

struct IfAttrs {
  CompiledBody then_b, else_b;
  static Result<IfAttrs> Parse(const KernelInit& init) {
    IfAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.then_b, CompileBody(init, "then_branch"));
    TIFFIN_ASSIGN_OR_RETURN(a.else_b, CompileBody(init, "else_branch"));
    const int64_t n = static_cast<int64_t>(init.node.outputs.size());
    for (const CompiledBody* b : {&a.then_b, &a.else_b}) {
      if (b->body->num_inputs() != 0) {
        return Bad(init.node,
                   "a branch graph must take no inputs, got " + Str(b->body->num_inputs()));
      }
      if (b->body->num_outputs() != n) {
        return Bad(init.node, "a branch graph has " + Str(b->body->num_outputs()) +
                                  " outputs but the node has " + Str(n));
      }
    }
    return a;
  }
};

Status IfCompute(KernelContext& ctx, const IfAttrs& a) {
  TIFFIN_ASSIGN_OR_RETURN(const Tensor* c, RequiredInput(ctx, 0, "cond"));
  TIFFIN_ASSIGN_OR_RETURN(bool cond, ReadBool(ctx.node(), *c, "cond"));
  const CompiledBody& b = cond ? a.then_b : a.else_b;
  TIFFIN_ASSIGN_OR_RETURN(std::vector<Tensor> outs,
                          RunBody(ctx, b, cond ? "then_branch" : "else_branch", {}));
  for (size_t i = 0; i < outs.size(); ++i) {
    TIFFIN_RETURN_IF_ERROR(ctx.SetOutput(static_cast<int>(i), std::move(outs[i])));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- Loop

struct LoopAttrs {
  CompiledBody body;
  int64_t n_carried = 0;
  int64_t n_scan = 0;
  static Result<LoopAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    LoopAttrs a;
    TIFFIN_ASSIGN_OR_RETURN(a.body, CompileBody(init, "body"));
    a.n_carried = static_cast<int64_t>(node.inputs.size()) - 2;
    if (a.n_carried < 0) return Bad(node, "needs inputs M and cond (either may be empty)");
    a.n_scan = static_cast<int64_t>(node.outputs.size()) - a.n_carried;
    if (a.n_scan < 0) {
      return Bad(node, "has " + Str(a.n_carried) + " loop-carried inputs but only " +
                           Str(static_cast<int64_t>(node.outputs.size())) + " outputs");
    }
    if (a.body.body->num_inputs() != a.n_carried + 2) {
      return Bad(node, "body takes " + Str(a.body.body->num_inputs()) + " inputs, expected " +
                           Str(a.n_carried + 2) + " (iteration, cond, loop-carried values)");
    }
    if (a.body.body->num_outputs() != 1 + a.n_carried + a.n_scan) {
      return Bad(node, "body has " + Str(a.body.body->num_outputs()) + " outputs, expected " +
                           Str(1 + a.n_carried + a.n_scan) + " (cond, loop-carried, scan outputs)");
    }
    return a;
  }
};

Status LoopCompute(KernelContext& ctx, const LoopAttrs& a) {
  const ir::Node& node = ctx.node();
  bool has_m = false;
  int64_t m = 0;
  if (const Tensor* mt = ctx.input(0); mt && mt->size() > 0) {
    TIFFIN_ASSIGN_OR_RETURN(std::vector<int64_t> mv, Ints(node, *mt, "M"));
    has_m = true;
    m = mv[0];
  }
  const Tensor* ct = ctx.input(1);
  bool cond = true;
  const bool has_cond = ct && ct->size() > 0;
  if (has_cond) {
    TIFFIN_ASSIGN_OR_RETURN(cond, ReadBool(node, *ct, "cond"));
  }
  std::vector<Tensor> state;
  for (int64_t i = 0; i < a.n_carried; ++i) {
    const Tensor* t = ctx.input(static_cast<int>(2 + i));
    if (t == nullptr) {
      return NotSupported(node.Describe() + ": loop-carried input " + Str(i) +
                          " is missing (optional values are not supported)");
    }
    state.push_back(*t);
  }
  std::vector<std::vector<Tensor>> scans(static_cast<size_t>(a.n_scan));
  size_t scan_bytes = 0;
  int64_t it = 0;
  const int64_t max_it = MaxIterations(ctx.options());
  for (; (!has_m || it < m) && cond; ++it) {
    // (A trip count within the budget ends the loop before this triggers.)
    if (it >= max_it) {
      return ResourceExhausted(node.Describe() + ": loop ran " + Str(max_it) +
                               " iterations without stopping (the iteration limit for "
                               "max_tensor_bytes = " +
                               Str(static_cast<int64_t>(ctx.options().max_tensor_bytes)) + ")");
    }
    std::vector<Tensor> inputs;
    inputs.reserve(static_cast<size_t>(a.n_carried + 2));
    inputs.push_back(Tensor::Scalar<int64_t>(it));
    inputs.push_back(Tensor::Scalar<bool>(cond));
    for (Tensor& t : state) inputs.push_back(std::move(t));
    TIFFIN_ASSIGN_OR_RETURN(std::vector<Tensor> outs, RunBody(ctx, a.body, "body", inputs));
    if (has_cond) {
      TIFFIN_ASSIGN_OR_RETURN(cond, ReadBool(node, outs[0], "body output cond"));
    }
    for (int64_t i = 0; i < a.n_carried; ++i)
      state[static_cast<size_t>(i)] = std::move(outs[static_cast<size_t>(1 + i)]);
    for (int64_t k = 0; k < a.n_scan; ++k) {
      Tensor& t = outs[static_cast<size_t>(1 + a.n_carried + k)];
      TIFFIN_RETURN_IF_ERROR(CheckAccumulated(ctx, &scan_bytes, t));
      scans[static_cast<size_t>(k)].push_back(std::move(t));
    }
  }
  for (int64_t i = 0; i < a.n_carried; ++i) {
    TIFFIN_RETURN_IF_ERROR(
        ctx.SetOutput(static_cast<int>(i), std::move(state[static_cast<size_t>(i)])));
  }
  const ir::Graph& g = *a.body.graph;
  for (int64_t k = 0; k < a.n_scan; ++k) {
    const int oi = static_cast<int>(a.n_carried + k);
    auto& items = scans[static_cast<size_t>(k)];
    if (items.empty()) {
      // No iteration ran: an empty stack, typed from the body's declaration
      // where it has one.
      DType dt = DType::kFloat32;
      Shape shape{0};
      if (auto decl = Declared(g, static_cast<size_t>(1 + a.n_carried + k))) {
        dt = decl->dtype;
        if (decl->fixed) shape.insert(shape.end(), decl->shape.begin(), decl->shape.end());
      }
      TIFFIN_RETURN_IF_ERROR(ctx.Output(oi, dt, shape).status());
      continue;
    }
    TIFFIN_ASSIGN_OR_RETURN(Shape shape, StackShape(node, items, 0, "scan output " + Str(k)));
    TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(oi, items[0].dtype(), shape));
    StackInto(items, 0, false, out);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- Scan

struct ScanAttrs {
  CompiledBody body;
  bool batched = false;  // opset 8: batch axis 0 and optional sequence_lens
  int64_t n_states = 0, n_in = 0, n_out = 0;
  std::vector<int64_t> in_axes, in_dirs, out_axes, out_dirs;

  static Result<ScanAttrs> Parse(const KernelInit& init) {
    const ir::Node& node = init.node;
    ScanAttrs a;
    a.batched = node.opset < 9;
    TIFFIN_ASSIGN_OR_RETURN(a.body, CompileBody(init, "body"));
    if (!node.HasAttribute("num_scan_inputs")) {
      return Bad(node, "attribute 'num_scan_inputs' is required");
    }
    TIFFIN_ASSIGN_OR_RETURN(a.n_in, node.GetInt("num_scan_inputs", 0));
    const int64_t n_inputs = static_cast<int64_t>(node.inputs.size()) - (a.batched ? 1 : 0);
    a.n_states = n_inputs - a.n_in;
    if (a.n_in < 1 || a.n_states < 0) {
      return Bad(node, "num_scan_inputs " + Str(a.n_in) + " does not fit the node's " +
                           Str(n_inputs) + " inputs");
    }
    a.n_out = static_cast<int64_t>(node.outputs.size()) - a.n_states;
    if (a.n_out < 0) return Bad(node, "has fewer outputs than state variables");
    if (a.body.body->num_inputs() != a.n_states + a.n_in ||
        a.body.body->num_outputs() != a.n_states + a.n_out) {
      return Bad(node, "body signature (" + Str(a.body.body->num_inputs()) + " inputs, " +
                           Str(a.body.body->num_outputs()) + " outputs) does not match " +
                           Str(a.n_states) + " states, " + Str(a.n_in) + " scan inputs and " +
                           Str(a.n_out) + " scan outputs");
    }
    auto list = [&](const char* key, int64_t n, std::vector<int64_t>* v) -> Status {
      TIFFIN_ASSIGN_OR_RETURN(*v, node.GetInts(key));
      if (v->empty()) v->assign(static_cast<size_t>(n), 0);
      if (static_cast<int64_t>(v->size()) != n) {
        return Bad(node, std::string("attribute '") + key + "' has " +
                             Str(static_cast<int64_t>(v->size())) + " entries, expected " + Str(n));
      }
      return Status::Ok();
    };
    if (a.batched) {
      TIFFIN_RETURN_IF_ERROR(list("directions", a.n_in, &a.in_dirs));
      a.in_axes.assign(static_cast<size_t>(a.n_in), 0);
      a.out_axes.assign(static_cast<size_t>(a.n_out), 0);
      a.out_dirs.assign(static_cast<size_t>(a.n_out), 0);
    } else {
      TIFFIN_RETURN_IF_ERROR(list("scan_input_axes", a.n_in, &a.in_axes));
      TIFFIN_RETURN_IF_ERROR(list("scan_input_directions", a.n_in, &a.in_dirs));
      TIFFIN_RETURN_IF_ERROR(list("scan_output_axes", a.n_out, &a.out_axes));
      TIFFIN_RETURN_IF_ERROR(list("scan_output_directions", a.n_out, &a.out_dirs));
    }
    for (const auto* v : {&a.in_dirs, &a.out_dirs}) {
      for (int64_t d : *v) {
        if (d != 0 && d != 1) return Bad(node, "scan directions must be 0 or 1, got " + Str(d));
      }
    }
    return a;
  }
};

// One scan over `len` steps. `ins` are the scan inputs with their axes
// normalised in `axes`. Fills `states` with the final states and `steps`
// with each step's scan outputs (in iteration order).
Status ScanCore(KernelContext& ctx, const ScanAttrs& a, std::vector<Tensor>* states,
                const std::vector<Tensor>& ins, const std::vector<int64_t>& axes, int64_t len,
                std::vector<std::vector<Tensor>>* steps) {
  steps->assign(static_cast<size_t>(a.n_out), {});
  size_t bytes = 0;
  for (int64_t t = 0; t < len; ++t) {
    std::vector<Tensor> inputs = *states;
    for (int64_t j = 0; j < a.n_in; ++j) {
      const int64_t index = a.in_dirs[static_cast<size_t>(j)] ? len - 1 - t : t;
      TIFFIN_ASSIGN_OR_RETURN(Tensor s, SliceAxis(ctx, ins[static_cast<size_t>(j)],
                                                  axes[static_cast<size_t>(j)], index));
      inputs.push_back(std::move(s));
    }
    TIFFIN_ASSIGN_OR_RETURN(std::vector<Tensor> outs, RunBody(ctx, a.body, "body", inputs));
    for (int64_t i = 0; i < a.n_states; ++i)
      (*states)[static_cast<size_t>(i)] = std::move(outs[static_cast<size_t>(i)]);
    for (int64_t k = 0; k < a.n_out; ++k) {
      Tensor& o = outs[static_cast<size_t>(a.n_states + k)];
      TIFFIN_RETURN_IF_ERROR(CheckAccumulated(ctx, &bytes, o));
      (*steps)[static_cast<size_t>(k)].push_back(std::move(o));
    }
  }
  return Status::Ok();
}

Status ScanCompute(KernelContext& ctx, const ScanAttrs& a) {
  const ir::Node& node = ctx.node();
  const int first = a.batched ? 1 : 0;
  std::vector<Tensor> states, ins;
  for (int64_t i = 0; i < a.n_states + a.n_in; ++i) {
    TIFFIN_ASSIGN_OR_RETURN(const Tensor* t,
                            RequiredInput(ctx, static_cast<int>(first + i),
                                          i < a.n_states ? "initial state" : "scan input"));
    (i < a.n_states ? states : ins).push_back(*t);
  }
  if (!a.batched) {
    std::vector<int64_t> axes;
    int64_t len = -1;
    for (int64_t j = 0; j < a.n_in; ++j) {
      const Tensor& t = ins[static_cast<size_t>(j)];
      if (t.rank() < 1) return Bad(node, "scan input " + Str(j) + " must have rank >= 1");
      TIFFIN_ASSIGN_OR_RETURN(int64_t ax,
                              NormalizeAxis(node, a.in_axes[static_cast<size_t>(j)], t.rank()));
      axes.push_back(ax);
      if (len >= 0 && t.dim(ax) != len) {
        return Bad(node, "scan inputs differ in length: " + Str(len) + " vs " + Str(t.dim(ax)));
      }
      len = t.dim(ax);
    }
    // An empty scan input can have an axis of 2^40 (shape [2^40, 0]).
    if (len > MaxIterations(ctx.options())) {
      return ResourceExhausted(node.Describe() + ": scan over " + Str(len) +
                               " steps exceeds the iteration limit of " +
                               Str(MaxIterations(ctx.options())));
    }
    std::vector<std::vector<Tensor>> steps;
    TIFFIN_RETURN_IF_ERROR(ScanCore(ctx, a, &states, ins, axes, len, &steps));
    for (int64_t i = 0; i < a.n_states; ++i) {
      TIFFIN_RETURN_IF_ERROR(ctx.SetOutput(static_cast<int>(i), states[static_cast<size_t>(i)]));
    }
    for (int64_t k = 0; k < a.n_out; ++k) {
      auto& items = steps[static_cast<size_t>(k)];
      const int oi = static_cast<int>(a.n_states + k);
      if (items.empty()) {
        // Zero steps: only a fully declared body output gives the shape.
        auto decl = Declared(*a.body.graph, static_cast<size_t>(a.n_states + k));
        if (!decl || !decl->fixed) {
          return NotSupported(node.Describe() +
                              ": scan over zero steps with an undeclared output shape");
        }
        TIFFIN_ASSIGN_OR_RETURN(int64_t ax,
                                NormalizeAxis(node, a.out_axes[static_cast<size_t>(k)],
                                              static_cast<int64_t>(decl->shape.size()) + 1));
        decl->shape.insert(decl->shape.begin() + ax, 0);
        TIFFIN_RETURN_IF_ERROR(ctx.Output(oi, decl->dtype, decl->shape).status());
        continue;
      }
      TIFFIN_ASSIGN_OR_RETURN(
          int64_t ax, NormalizeAxis(node, a.out_axes[static_cast<size_t>(k)], items[0].rank() + 1));
      TIFFIN_ASSIGN_OR_RETURN(Shape shape, StackShape(node, items, ax, "scan output " + Str(k)));
      TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(oi, items[0].dtype(), shape));
      StackInto(items, ax, a.out_dirs[static_cast<size_t>(k)] != 0, out);
    }
    return Status::Ok();
  }

  // Opset 8: axis 0 of every state and scan input is a batch; axis 1 of scan
  // inputs is the sequence. Each batch entry scans on its own.
  int64_t batch = -1, max_len = -1;
  for (const auto* group : {&states, &ins}) {
    for (const Tensor& t : *group) {
      const int64_t need = group == &ins ? 2 : 1;
      if (t.rank() < need) return Bad(node, "inputs must have a batch axis (opset 8)");
      if (batch >= 0 && t.dim(0) != batch) return Bad(node, "inputs differ in batch size");
      batch = t.dim(0);
    }
  }
  for (const Tensor& t : ins) {
    if (max_len >= 0 && t.dim(1) != max_len) return Bad(node, "scan inputs differ in length");
    max_len = t.dim(1);
  }
  // Empty inputs can have a batch and length of 2^40 each: bound the body
  // runs (and the per-batch vectors) before any of them.
  int64_t runs = 0;
  if (__builtin_mul_overflow(std::max<int64_t>(batch, 0), std::max<int64_t>(max_len, 1), &runs) ||
      runs > MaxIterations(ctx.options())) {
    return ResourceExhausted(node.Describe() + ": scan over batch " + Str(batch) + " x " +
                             Str(max_len) + " steps exceeds the iteration limit of " +
                             Str(MaxIterations(ctx.options())));
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), max_len);
  if (const Tensor* sl = ctx.input(0)) {
    TIFFIN_ASSIGN_OR_RETURN(lens, Ints(node, *sl, "sequence_lens"));
    if (static_cast<int64_t>(lens.size()) != batch) {
      return Bad(node, "sequence_lens has " + Str(static_cast<int64_t>(lens.size())) +
                           " entries for batch " + Str(batch));
    }
    for (int64_t l : lens) {
      if (l < 0 || l > max_len) return Bad(node, "sequence length " + Str(l) + " is out of range");
    }
  }
  std::vector<std::vector<Tensor>> final_states(static_cast<size_t>(a.n_states));
  std::vector<std::vector<Tensor>> outs(static_cast<size_t>(a.n_out));
  const std::vector<int64_t> axes(static_cast<size_t>(a.n_in), 0);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Tensor> bstates, bins;
    for (const Tensor& t : states) {
      TIFFIN_ASSIGN_OR_RETURN(Tensor s, SliceAxis(ctx, t, 0, b));
      bstates.push_back(std::move(s));
    }
    for (const Tensor& t : ins) {
      TIFFIN_ASSIGN_OR_RETURN(Tensor s, SliceAxis(ctx, t, 0, b));
      const int64_t len = lens[static_cast<size_t>(b)];
      if (len < max_len) {
        // Keep the first `len` steps so reverse scans start at the real end.
        Shape shape = s.shape();
        shape[0] = len;
        TIFFIN_ASSIGN_OR_RETURN(Tensor c,
                                Tensor::Allocate(s.dtype(), shape, ctx.options().max_tensor_bytes));
        CopyElements(s.dtype(), s.raw_data(), c.raw_data(), c.size());
        s = std::move(c);
      }
      bins.push_back(std::move(s));
    }
    std::vector<std::vector<Tensor>> steps;
    TIFFIN_RETURN_IF_ERROR(
        ScanCore(ctx, a, &bstates, bins, axes, lens[static_cast<size_t>(b)], &steps));
    for (int64_t i = 0; i < a.n_states; ++i)
      final_states[static_cast<size_t>(i)].push_back(bstates[static_cast<size_t>(i)]);
    for (int64_t k = 0; k < a.n_out; ++k) {
      auto& items = steps[static_cast<size_t>(k)];
      if (items.empty())
        return NotSupported(node.Describe() + ": scan over zero steps (output shapes unknown)");
      TIFFIN_ASSIGN_OR_RETURN(Shape shape, StackShape(node, items, 0, "scan output " + Str(k)));
      shape[0] = max_len;  // shorter sequences are padded with zeros
      TIFFIN_ASSIGN_OR_RETURN(
          Tensor o, Tensor::Allocate(items[0].dtype(), shape, ctx.options().max_tensor_bytes));
      StackInto(items, 0, false, &o);
      outs[static_cast<size_t>(k)].push_back(std::move(o));
    }
  }
  if (batch == 0) return NotSupported(node.Describe() + ": scan over an empty batch");
  for (int64_t i = 0; i < a.n_states; ++i) {
    auto& items = final_states[static_cast<size_t>(i)];
    TIFFIN_ASSIGN_OR_RETURN(Shape shape, StackShape(node, items, 0, "state " + Str(i)));
    TIFFIN_ASSIGN_OR_RETURN(Tensor * out, ctx.Output(static_cast<int>(i), items[0].dtype(), shape));
    StackInto(items, 0, false, out);
  }
  for (int64_t k = 0; k < a.n_out; ++k) {
    auto& items = outs[static_cast<size_t>(k)];
    TIFFIN_ASSIGN_OR_RETURN(Shape shape, StackShape(node, items, 0, "scan output " + Str(k)));
    TIFFIN_ASSIGN_OR_RETURN(Tensor * out,
                            ctx.Output(static_cast<int>(a.n_states + k), items[0].dtype(), shape));
    StackInto(items, 0, false, out);
  }
  return Status::Ok();
}

const KernelDef kRows[] = {
    {"If", "", 1, kMaxOpset, MakeAttrKernel<IfAttrs, IfCompute>},
    {"Loop", "", 1, kMaxOpset, MakeAttrKernel<LoopAttrs, LoopCompute>},
    {"Scan", "", 8, kMaxOpset, MakeAttrKernel<ScanAttrs, ScanCompute>},
};

}  // namespace

std::span<const KernelDef> ControlFlowKernels() { return kRows; }

}  // namespace tiffin::kernels
