#include "exec/executor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "kernels/registry.h"
#include "kernels/util.h"

namespace tiffin::exec {

namespace {
constexpr size_t kAlign = 64;
constexpr size_t kMaxPlans = 64;  // distinct input-shape sets cached per graph
constexpr size_t kMaxPooledArenas = 16;
constexpr size_t kMaxPlannedValues = 50000;  // above this, first fit is too slow: use the heap
}  // namespace

struct Plan {
  std::vector<int64_t> offset;  // per value; -1: heap
  std::vector<size_t> bytes;
  std::vector<int> alias_root;  // per value: the value whose buffer it shares, or -1
  size_t arena_bytes = 0;

  std::shared_ptr<std::byte> Acquire() const {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!pool.empty()) {
        auto a = std::move(pool.back());
        pool.pop_back();
        return a;
      }
    }
    void* p = std::aligned_alloc(kAlign, std::max(arena_bytes, kAlign));
    if (p == nullptr) return nullptr;
    return std::shared_ptr<std::byte>(static_cast<std::byte*>(p),
                                      [](std::byte* q) { std::free(q); });
  }
  // Takes the arena back unless a tensor still refers to it.
  void Release(std::shared_ptr<std::byte> arena) const {
    if (!arena || arena.use_count() != 1) return;
    std::lock_guard<std::mutex> lock(mu);
    if (pool.size() < kMaxPooledArenas) pool.push_back(std::move(arena));
  }

  mutable std::mutex mu;
  mutable std::vector<std::shared_ptr<std::byte>> pool;  // GUARDED_BY(mu)
};

namespace {

struct Recording {
  std::vector<size_t> bytes;    // 0: not allocated through Output()
  std::vector<int> alias_root;  // -1: owns its buffer
};

// Collects the names a subgraph (and its nested subgraphs) reads from
// enclosing scopes.
void CollectOuterNames(const ir::Graph& g, std::vector<std::string>* names) {
  for (int id : g.outer_refs) names->push_back(g.values[static_cast<size_t>(id)].name);
  for (const auto& node : g.nodes)
    for (const auto& [key, attr] : node.attributes)
      if (attr.kind == ir::Attribute::Kind::kGraph && attr.g) CollectOuterNames(*attr.g, names);
}

// The plan cache key: each input's dtype, rank and dims as raw bytes (only
// ever compared for equality; formatting them as text cost more than the
// lookup).
std::string ShapeKey(const std::vector<Tensor>& inputs) {
  std::string key;
  for (const auto& t : inputs) {
    const int64_t head[2] = {static_cast<int64_t>(t.dtype()), t.rank()};
    key.append(reinterpret_cast<const char*>(head), sizeof head);
    key.append(reinterpret_cast<const char*>(t.shape().data()), t.shape().size() * sizeof(int64_t));
  }
  return key;
}

}  // namespace

// The per-run state of one graph, and the context its kernels see.
class Frame final : public kernels::KernelContext {
 public:
  Frame(const CompiledGraph& g, const kernels::KernelContext* parent, const Plan* plan,
        std::shared_ptr<std::byte> arena, Recording* rec, std::vector<Tensor> table)
      : values(std::move(table)),
        g_(g),
        parent_(parent),
        plan_(plan),
        arena_(std::move(arena)),
        rec_(rec) {}

  std::vector<Tensor> values;
  size_t node_index = 0;

  const ir::Node& node() const override { return g_.graph().nodes[node_index]; }
  int num_inputs() const override { return static_cast<int>(node().inputs.size()); }
  const Tensor* input(int i) const override {
    const auto& in = node().inputs;
    if (i < 0 || static_cast<size_t>(i) >= in.size() ||
        in[static_cast<size_t>(i)] == ir::kNoValue) {
      return nullptr;
    }
    return Value(static_cast<size_t>(in[static_cast<size_t>(i)]));
  }
  int num_outputs() const override { return static_cast<int>(node().outputs.size()); }
  bool output_wanted(int i) const override {
    const auto& out = node().outputs;
    return i >= 0 && static_cast<size_t>(i) < out.size() &&
           out[static_cast<size_t>(i)] != ir::kNoValue;
  }

  Result<Tensor*> Output(int i, DType dtype, const Shape& shape) override {
    const auto& outs = node().outputs;
    if (i < 0 || static_cast<size_t>(i) >= outs.size() ||
        outs[static_cast<size_t>(i)] == ir::kNoValue) {  // an omitted optional output
      TIFFIN_ASSIGN_OR_RETURN(Tensor t, Allocate(i, dtype, shape));
      scratch_.push_back(std::make_unique<Tensor>(std::move(t)));
      return scratch_.back().get();
    }
    int id = outs[static_cast<size_t>(i)];
    const size_t v = static_cast<size_t>(id);
    TIFFIN_ASSIGN_OR_RETURN(int64_t n, CheckedElementCount(shape));
    // Check the limit before trusting the plan: a byte count that wrapped
    // around could otherwise match a planned slot.
    const size_t elem = DTypeSize(dtype);
    if (elem == 0 || static_cast<uint64_t>(n) > g_.options().max_tensor_bytes / elem) {
      return Allocate(i, dtype, shape).status();  // names the limit
    }
    const size_t nbytes = static_cast<size_t>(n) * elem;
    if (plan_ && arena_ && dtype != DType::kString && plan_->offset[v] >= 0 &&
        plan_->bytes[v] == nbytes && n > 0) {
      values[v] = Tensor::Wrap(dtype, shape, arena_.get() + plan_->offset[v], arena_);
      return &values[v];
    }
    TIFFIN_ASSIGN_OR_RETURN(values[v], Allocate(i, dtype, shape));
    if (rec_ && dtype != DType::kString) rec_->bytes[v] = nbytes;
    return &values[v];
  }

  Status SetOutput(int i, Tensor t) override {
    const auto& outs = node().outputs;
    if (i < 0 || static_cast<size_t>(i) >= outs.size() ||
        outs[static_cast<size_t>(i)] == ir::kNoValue) {
      return Status::Ok();
    }
    const size_t v = static_cast<size_t>(outs[static_cast<size_t>(i)]);
    if (rec_) {
      for (int in : node().inputs) {
        if (in == ir::kNoValue) continue;
        const Tensor* src = Value(static_cast<size_t>(in));
        if (src && src->owner() == t.owner() && t.owner()) {
          int root = rec_->alias_root[static_cast<size_t>(in)];
          rec_->alias_root[v] = root >= 0 ? root : in;
          break;
        }
      }
    } else if (plan_ && arena_ && t.owner() == std::static_pointer_cast<void>(arena_) &&
               plan_->alias_root[v] < 0) {
      // An alias the recording run did not see: its source may be reused, so copy.
      t = t.Clone();
    }
    values[v] = std::move(t);
    return Status::Ok();
  }

  const Tensor* FindOuterValue(const std::string& name) const override {
    int id = g_.graph().FindValue(name);
    if (id != ir::kNoValue) {
      if (const Tensor* t = Value(static_cast<size_t>(id))) return t;
    }
    return parent_ ? parent_->FindOuterValue(name) : nullptr;
  }

  // The value with id `v` in this run: computed, an input, or an
  // initializer (read in place); null when not (yet) defined.
  const Tensor* Value(size_t v) const {
    const Tensor& t = values[v];
    if (t.defined()) return &t;
    return g_.constant(v);
  }

  const LoadOptions& options() const override { return g_.options(); }

  const std::shared_ptr<std::byte>& arena() const { return arena_; }
  std::shared_ptr<std::byte> TakeArena() { return std::move(arena_); }
  void ClearScratch() { scratch_.clear(); }

 private:
  Result<Tensor> Allocate(int i, DType dtype, const Shape& shape) {
    auto t = Tensor::Allocate(dtype, shape, g_.options().max_tensor_bytes);
    if (!t.ok()) return t.status().WithContext(node().Describe() + " output " + std::to_string(i));
    fresh_owners_.push_back(t->owner().get());
    return t;
  }

 public:
  // True when `t`'s buffer was allocated on the heap by this run, so handing
  // it to the caller cannot expose a constant, an input or the arena.
  bool IsFresh(const Tensor& t) const {
    return t.owner() && std::find(fresh_owners_.begin(), fresh_owners_.end(), t.owner().get()) !=
                            fresh_owners_.end();
  }

 private:
  // Heap buffers this run allocated. A vector, not a set: a planned run
  // allocates only its few graph outputs here, and a hash set's node and
  // bucket allocations were a visible share of a one-row scikit-learn model.
  std::vector<const void*> fresh_owners_;

  const CompiledGraph& g_;
  const kernels::KernelContext* parent_;
  const Plan* plan_;
  std::shared_ptr<std::byte> arena_;
  Recording* rec_;
  // Outputs nobody reads. Owned one by one so that handed-out pointers stay
  // valid as it grows; most runs never use it, and an empty vector, unlike a
  // std::deque, allocates nothing.
  std::vector<std::unique_ptr<Tensor>> scratch_;
};

namespace {

class SubgraphImpl final : public kernels::Subgraph {
 public:
  explicit SubgraphImpl(std::shared_ptr<const CompiledGraph> g) : g_(std::move(g)) {}
  Result<std::vector<Tensor>> Run(kernels::KernelContext& parent,
                                  const std::vector<Tensor>& inputs) const override {
    return g_->Run(inputs, &parent, /*use_plan=*/false);
  }
  int num_inputs() const override { return static_cast<int>(g_->graph().inputs.size()); }
  int num_outputs() const override { return static_cast<int>(g_->graph().outputs.size()); }

 private:
  std::shared_ptr<const CompiledGraph> g_;
};

}  // namespace

Result<std::shared_ptr<const CompiledGraph>> CompiledGraph::Compile(
    std::shared_ptr<const ir::Graph> g, const LoadOptions& options, int depth) {
  if (depth > options.max_subgraph_depth) {
    return NotSupported("subgraphs nested deeper than " +
                        std::to_string(options.max_subgraph_depth) +
                        " levels (LoadOptions::max_subgraph_depth)");
  }
  kernels::InitBlasThreadsOnce();
  std::shared_ptr<CompiledGraph> cg(new CompiledGraph());
  cg->graph_ = g;
  cg->options_ = options;
  const size_t n_values = g->values.size();
  cg->last_use_.assign(n_values, -1);
  cg->is_output_.assign(n_values, false);
  cg->producer_.assign(n_values, -1);
  cg->constant_of_.assign(n_values, nullptr);
  for (const auto& [id, t] : cg->graph_->constants) {
    if (id >= 0 && static_cast<size_t>(id) < n_values)
      cg->constant_of_[static_cast<size_t>(id)] = &t;
  }
  for (int id : g->outputs) cg->is_output_[static_cast<size_t>(id)] = true;

  std::map<std::string, std::pair<std::string, int>> missing;  // op -> (first node, count)
  std::set<std::string> missing_domains;
  std::vector<std::string> problems;
  std::vector<const kernels::KernelDef*> defs(g->nodes.size(), nullptr);
  for (size_t i = 0; i < g->nodes.size(); ++i) {
    const ir::Node& node = g->nodes[i];
    for (int id : node.inputs)
      if (id != ir::kNoValue) cg->last_use_[static_cast<size_t>(id)] = static_cast<int>(i);
    for (int id : node.outputs)
      if (id != ir::kNoValue) cg->producer_[static_cast<size_t>(id)] = static_cast<int>(i);
    // Values a subgraph reads from this scope must live until this node runs.
    for (const auto& [key, attr] : node.attributes) {
      if (attr.kind != ir::Attribute::Kind::kGraph || !attr.g) continue;
      std::vector<std::string> names;
      CollectOuterNames(*attr.g, &names);
      for (const auto& name : names) {
        int id = g->FindValue(name);
        if (id != ir::kNoValue) cg->last_use_[static_cast<size_t>(id)] = static_cast<int>(i);
      }
    }
    auto def = kernels::FindKernel(node);
    if (!def.ok()) {
      if (kernels::IsRegistered(node.op_type, node.domain)) {
        problems.push_back(def.status().message());  // registered, but not at this opset
      } else {
        std::string key = node.domain.empty() ? node.op_type : node.domain + ":" + node.op_type;
        auto& entry = missing[key];
        if (entry.second++ == 0) {
          entry.first = "unsupported operator " + key + " (opset " + std::to_string(node.opset) +
                        ") at " + node.Describe();
          missing_domains.insert(node.domain);
        }
      }
      continue;
    }
    defs[i] = *def;
  }
  if (!missing.empty() || !problems.empty()) {
    std::string msg;
    for (const auto& [key, entry] : missing) {
      msg += (msg.empty() ? "" : "\n") + entry.first;
      if (entry.second > 1) msg += " and " + std::to_string(entry.second - 1) + " more nodes";
    }
    for (const auto& p : problems) msg += (msg.empty() ? "" : "\n") + p;
    for (const auto& d : missing_domains) msg += "\n" + kernels::SupportedOpsSentence(d);
    return NotSupported(msg);
  }

  for (size_t i = 0; i < g->nodes.size(); ++i) {
    const ir::Node& node = g->nodes[i];
    kernels::KernelInit init{node, {}, options, {}};
    for (int id : node.inputs) {
      auto it = id == ir::kNoValue ? g->constants.end() : g->constants.find(id);
      init.constant_inputs.push_back(it == g->constants.end() ? nullptr : &it->second);
    }
    init.compile_subgraph =
        [&options,
         depth](const ir::Graph& sub) -> Result<std::shared_ptr<const kernels::Subgraph>> {
      // The attribute owns the graph; alias it without copying.
      std::shared_ptr<const ir::Graph> keep(std::shared_ptr<const ir::Graph>(), &sub);
      TIFFIN_ASSIGN_OR_RETURN(auto compiled, Compile(keep, options, depth + 1));
      return std::shared_ptr<const kernels::Subgraph>(new SubgraphImpl(std::move(compiled)));
    };
    auto kernel = defs[i]->factory(init);
    if (!kernel.ok()) return kernel.status();
    cg->kernels_.push_back(std::move(kernel).value());
  }
  return std::shared_ptr<const CompiledGraph>(std::move(cg));
}

std::shared_ptr<const Plan> CompiledGraph::FindPlan(const std::string& key) const {
  std::lock_guard<std::mutex> lock(plans_mu_);
  auto it = plans_.find(key);
  return it == plans_.end() ? nullptr : it->second;
}

void CompiledGraph::StorePlan(const std::string& key, std::shared_ptr<const Plan> plan) const {
  std::lock_guard<std::mutex> lock(plans_mu_);
  if (plans_.size() >= kMaxPlans) plans_.erase(plans_.begin());
  plans_.emplace(key, std::move(plan));
}

namespace {

std::shared_ptr<const Plan> BuildPlan(const ir::Graph& g, const Recording& rec,
                                      const std::vector<int>& last_use,
                                      const std::vector<bool>& is_output,
                                      const std::vector<int>& producer) {
  const size_t n = g.values.size();
  auto plan = std::make_shared<Plan>();
  plan->offset.assign(n, -1);
  plan->bytes = rec.bytes;
  plan->alias_root = rec.alias_root;
  // A root lives as long as its longest-lived alias; a root aliased by a graph
  // output must stay on the heap.
  std::vector<int> end(last_use);
  std::vector<bool> pinned(is_output);
  for (size_t v = 0; v < n; ++v) {
    int root = rec.alias_root[v];
    if (root < 0) continue;
    end[static_cast<size_t>(root)] = std::max(end[static_cast<size_t>(root)], last_use[v]);
    if (is_output[v]) pinned[static_cast<size_t>(root)] = true;
  }
  struct Item {
    size_t v, bytes;
    int start, stop;
    size_t offset;
  };
  std::vector<Item> items;
  for (size_t v = 0; v < n; ++v) {
    if (rec.bytes[v] == 0 || pinned[v] || producer[v] < 0) continue;
    int stop = std::max(end[v], producer[v]);
    items.push_back({v, (rec.bytes[v] + kAlign - 1) / kAlign * kAlign, producer[v], stop, 0});
  }
  if (items.size() > kMaxPlannedValues) return plan;  // all heap
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.bytes > b.bytes; });
  std::vector<const Item*> placed;
  size_t arena = 0;
  for (auto& it : items) {
    // Collect the ranges of placed items alive at the same time, then take the
    // lowest gap that fits.
    std::vector<std::pair<size_t, size_t>> busy;
    for (const Item* p : placed)
      if (p->start <= it.stop && it.start <= p->stop)
        busy.emplace_back(p->offset, p->offset + p->bytes);
    std::sort(busy.begin(), busy.end());
    size_t off = 0;
    for (const auto& [b, e] : busy) {
      if (off + it.bytes <= b) break;
      off = std::max(off, e);
    }
    it.offset = off;
    arena = std::max(arena, off + it.bytes);
    placed.push_back(&it);
  }
  for (const auto& it : items) plan->offset[it.v] = static_cast<int64_t>(it.offset);
  plan->arena_bytes = arena;
  return plan;
}

}  // namespace

Result<std::vector<Tensor>> CompiledGraph::Run(const std::vector<Tensor>& inputs,
                                               const kernels::KernelContext* parent,
                                               bool use_plan) const {
  const ir::Graph& g = *graph_;
  if (inputs.size() != g.inputs.size()) {
    return InvalidArgument("graph '" + g.name + "' takes " + std::to_string(g.inputs.size()) +
                           " inputs, got " + std::to_string(inputs.size()));
  }
  std::string key;
  std::shared_ptr<const Plan> plan;
  Recording rec;
  bool recording = false;
  if (use_plan) {
    key = ShapeKey(inputs);
    plan = FindPlan(key);
    if (!plan) {
      recording = true;
      rec.bytes.assign(g.values.size(), 0);
      rec.alias_root.assign(g.values.size(), -1);
    }
  }
  std::shared_ptr<std::byte> arena = plan && plan->arena_bytes > 0 ? plan->Acquire() : nullptr;
  std::vector<Tensor> table;
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    if (!value_tables_.empty()) {
      table = std::move(value_tables_.back());
      value_tables_.pop_back();
    }
  }
  table.resize(g.values.size());  // every entry is empty: tables are returned cleared
  Frame frame(*this, parent, plan.get(), arena, recording ? &rec : nullptr, std::move(table));
  arena.reset();

  for (size_t i = 0; i < inputs.size(); ++i)
    frame.values[static_cast<size_t>(g.inputs[i])] = inputs[i];
  for (int id : g.outer_refs) {
    const std::string& name = g.values[static_cast<size_t>(id)].name;
    const Tensor* t = parent ? parent->FindOuterValue(name) : nullptr;
    if (t == nullptr) {
      return InvalidArgument("graph '" + g.name + "' reads '" + name +
                             "' from an enclosing scope, but no such value exists");
    }
    frame.values[static_cast<size_t>(id)] = *t;
  }

  for (size_t i = 0; i < g.nodes.size(); ++i) {
    frame.node_index = i;
    const ir::Node& node = g.nodes[i];
    TIFFIN_RETURN_IF_ERROR(kernels_[i]->Compute(frame));
    frame.ClearScratch();
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      int id = node.outputs[k];
      if (id != ir::kNoValue && !frame.values[static_cast<size_t>(id)].defined()) {
        return Internal(node.Describe() + " did not produce its output " + std::to_string(k));
      }
    }
    // Drop inputs whose last reader this was, so heap memory returns early.
    for (int id : node.inputs) {
      if (id == ir::kNoValue) continue;
      const size_t v = static_cast<size_t>(id);
      if (last_use_[v] == static_cast<int>(i) && !is_output_[v]) frame.values[v] = Tensor();
    }
  }

  std::vector<Tensor> outputs;
  outputs.reserve(g.outputs.size());
  for (int id : g.outputs) {
    const Tensor* value = frame.Value(static_cast<size_t>(id));
    Tensor t = value ? *value : Tensor();
    if (!t.defined())
      return Internal("graph output '" + g.values[static_cast<size_t>(id)].name +
                      "' was not computed");
    // Outputs that alias the arena, an initializer, a Constant's attribute or
    // a caller's input are copied: the caller owns what Run returns and may
    // write to it.
    if (!frame.IsFresh(t)) t = t.Clone();
    outputs.push_back(std::move(t));
  }
  for (Tensor& t : frame.values) {
    if (t.defined() || t.owner()) t = Tensor();
  }
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    if (value_tables_.size() < 8) value_tables_.push_back(std::move(frame.values));
  }
  frame.values.clear();
  if (plan) plan->Release(frame.TakeArena());
  if (recording) StorePlan(key, BuildPlan(g, rec, last_use_, is_output_, producer_));
  return outputs;
}

}  // namespace tiffin::exec
