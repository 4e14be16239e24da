// The executor: compiles an ir::Graph into kernels and runs it.
//
// Memory planning: the first run for a given set of input shapes runs with
// heap allocations and records the size of every intermediate the kernels
// allocate. From those sizes and the values' lifetimes a plan assigns each
// intermediate an offset in one arena (greedy first fit; values whose
// lifetimes do not overlap share bytes). Later runs with the same input
// shapes take an arena from the plan's pool and place intermediates in it;
// an allocation that differs from the plan (a data-dependent shape) falls
// back to the heap. Graph outputs are never placed in the arena, so results
// outlive the run.
//
// Thread safety: a CompiledGraph is immutable after Compile() except for its
// plan cache, which is guarded by a mutex. Run() may be called concurrently.
#ifndef TIFFIN_EXEC_EXECUTOR_H_
#define TIFFIN_EXEC_EXECUTOR_H_

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "kernels/kernel.h"
#include "tiffin/model.h"

namespace tiffin::exec {

struct Plan;

class CompiledGraph {
 public:
  // Builds a kernel for every node. All unsupported ops are reported in one
  // error. `depth` counts subgraph nesting.
  static Result<std::shared_ptr<const CompiledGraph>> Compile(std::shared_ptr<const ir::Graph> g,
                                                              const LoadOptions& options,
                                                              int depth = 0);

  // Runs with `inputs` bound to graph.inputs in order. `parent` resolves
  // outer-scope names (nullptr at top level). `use_plan` enables the arena.
  Result<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs,
                                  const kernels::KernelContext* parent, bool use_plan) const;

  const ir::Graph& graph() const { return *graph_; }
  const LoadOptions& options() const { return options_; }
  // The initializer with value id `id`, or null. Runs read initializers in
  // place instead of copying each into the run's value table.
  const Tensor* constant(size_t id) const {
    return id < constant_of_.size() ? constant_of_[id] : nullptr;
  }

 private:
  friend class Frame;
  CompiledGraph() = default;

  std::shared_ptr<const Plan> FindPlan(const std::string& key) const;
  void StorePlan(const std::string& key, std::shared_ptr<const Plan> plan) const;

  std::shared_ptr<const ir::Graph> graph_;
  LoadOptions options_;
  std::vector<std::unique_ptr<kernels::Kernel>> kernels_;
  std::vector<int> last_use_;               // per value: index of the last node reading it
  std::vector<bool> is_output_;             // per value: a graph output
  std::vector<int> producer_;               // per value: producing node or -1
  std::vector<const Tensor*> constant_of_;  // per value: its initializer or null

  mutable std::mutex plans_mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const Plan>>
      plans_;  // GUARDED_BY(plans_mu_)
  // Value tables of finished runs, kept for the next run: allocating one
  // (a few KB) per call was a measurable share of a one-row prediction.
  mutable std::vector<std::vector<Tensor>> value_tables_;  // GUARDED_BY(plans_mu_)
};

// Builds the public Model from a compiled top-level graph.
Result<std::shared_ptr<const Model>> MakeModel(std::shared_ptr<const CompiledGraph> graph,
                                               std::vector<TensorInfo> inputs,
                                               std::vector<TensorInfo> outputs, ModelInfo info);

}  // namespace tiffin::exec

#endif  // TIFFIN_EXEC_EXECUTOR_H_
