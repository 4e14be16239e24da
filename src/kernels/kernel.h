// The kernel contract.
//
// A kernel is built once per node at load time from the node's attributes
// (and, where useful, its constant inputs, e.g. to pre-pack weights); the
// factory validates them and returns a Status naming the node on error.
// Compute() then runs once per request. It is const and must not keep
// mutable state: many threads run one kernel at the same time.
//
// Adding a kernel: write it in the family file under kernels/cpu/ and add one
// KernelDef row to that file's table. See docs/adding-an-op.md.
#ifndef TIFFIN_KERNELS_KERNEL_H_
#define TIFFIN_KERNELS_KERNEL_H_

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "ir/graph.h"
#include "tiffin/options.h"
#include "tiffin/status.h"
#include "tiffin/tensor.h"

namespace tiffin::kernels {

class KernelContext;

// A compiled subgraph (If/Loop/Scan body), executable from a kernel.
class Subgraph {
 public:
  virtual ~Subgraph() = default;
  // Runs the body with `inputs` bound to its inputs in order; names captured
  // from enclosing graphs are read from `parent`. Returns its outputs in order.
  virtual Result<std::vector<Tensor>> Run(KernelContext& parent,
                                          const std::vector<Tensor>& inputs) const = 0;
  virtual int num_inputs() const = 0;
  virtual int num_outputs() const = 0;
};

// What a running kernel sees.
class KernelContext {
 public:
  virtual ~KernelContext() = default;
  virtual const ir::Node& node() const = 0;
  virtual int num_inputs() const = 0;
  // Input i, or nullptr when an optional input is omitted (or i is past the end).
  virtual const Tensor* input(int i) const = 0;
  virtual int num_outputs() const = 0;
  // False for an optional output that the graph omitted (empty name).
  virtual bool output_wanted(int i) const = 0;
  // Allocates output i with the given dtype and shape. Contents are
  // unspecified (not zeroed) unless the kernel writes them. Refuses sizes over
  // LoadOptions::max_tensor_bytes.
  virtual Result<Tensor*> Output(int i, DType dtype, const Shape& shape) = 0;
  // Binds output i to an existing tensor, which may share an input's buffer
  // (Identity, Reshape). The executor keeps that buffer alive as needed.
  virtual Status SetOutput(int i, Tensor tensor) = 0;
  // Looks up a value by name in this graph or an enclosing one (for subgraphs).
  virtual const Tensor* FindOuterValue(const std::string& name) const = 0;
  virtual const LoadOptions& options() const = 0;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status Compute(KernelContext& ctx) const = 0;
};

// What a factory sees at load time.
struct KernelInit {
  const ir::Node& node;
  // Constant value of each input (an initializer or Constant output), or
  // nullptr when the input varies per request or is omitted.
  std::vector<const Tensor*> constant_inputs;
  const LoadOptions& options;
  // Compiles a graph attribute of this node into something Compute can run.
  std::function<Result<std::shared_ptr<const Subgraph>>(const ir::Graph&)> compile_subgraph;

  const Tensor* constant(size_t i) const {
    return i < constant_inputs.size() ? constant_inputs[i] : nullptr;
  }
};

using KernelFactory = Result<std::unique_ptr<Kernel>> (*)(const KernelInit&);

// One registry row. The kernel implements `op_type` in `domain` for models
// whose opset for that domain lies in [min_opset, max_opset]; outside it the
// op's semantics differ and loading is refused.
struct KernelDef {
  const char* op_type;
  const char* domain;  // "" = ai.onnx
  int min_opset;
  int max_opset;
  KernelFactory factory;
};

// A kernel that is a plain function of its context, for ops with no
// attributes worth parsing at load time.
using ComputeFn = Status (*)(KernelContext&);
template <ComputeFn F>
Result<std::unique_ptr<Kernel>> MakeFnKernel(const KernelInit&) {
  class FnKernel final : public Kernel {
   public:
    Status Compute(KernelContext& ctx) const override { return F(ctx); }
  };
  return std::unique_ptr<Kernel>(new FnKernel());
}

// A kernel holding parsed attributes `A`: A::Parse(const KernelInit&) ->
// Result<A>, and a compute function taking (ctx, const A&).
template <typename A, Status (*F)(KernelContext&, const A&)>
Result<std::unique_ptr<Kernel>> MakeAttrKernel(const KernelInit& init) {
  class AttrKernel final : public Kernel {
   public:
    explicit AttrKernel(A a) : a_(std::move(a)) {}
    Status Compute(KernelContext& ctx) const override { return F(ctx, a_); }

   private:
    A a_;
  };
  TIFFIN_ASSIGN_OR_RETURN(A a, A::Parse(init));
  return std::unique_ptr<Kernel>(new AttrKernel(std::move(a)));
}

inline constexpr int kMaxOpset = 25;  // newest ai.onnx opset tiffin accepts
inline constexpr int kMinOpset = 7;   // oldest (broadcasting arrived in 7)

}  // namespace tiffin::kernels

#endif  // TIFFIN_KERNELS_KERNEL_H_
