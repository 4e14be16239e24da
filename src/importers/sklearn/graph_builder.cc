#include "importers/sklearn/graph_builder.h"

#include <algorithm>

namespace tiffin::sklearn {

ir::Attribute AttrInt(int64_t v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kInt;
  a.i = v;
  return a;
}
ir::Attribute AttrFloat(float v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
ir::Attribute AttrString(std::string v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}
ir::Attribute AttrInts(std::vector<int64_t> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
ir::Attribute AttrFloats(std::vector<float> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kFloats;
  a.floats = std::move(v);
  return a;
}
ir::Attribute AttrStrings(std::vector<std::string> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kStrings;
  a.strings = std::move(v);
  return a;
}
ir::Attribute AttrTensor(Tensor t) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kTensor;
  a.t = std::move(t);
  return a;
}

GraphBuilder::GraphBuilder() : g_(std::make_shared<ir::Graph>()) { g_->name = "sklearn"; }

GraphBuilder::GraphBuilder(GraphBuilder* parent) : GraphBuilder() {
  parent_ = parent;
  scope_ = parent->scope_;
  g_->name = parent->Unique("body");
}

GraphBuilder::ScopeGuard::ScopeGuard(GraphBuilder* b, std::string scope)
    : b_(b), saved_(std::move(b->scope_)) {
  // A name from a file (a Keras layer's): long ones are cut, not refused.
  if (scope.size() > 128) scope.resize(128);
  b_->scope_ = std::move(scope);
}

GraphBuilder::ScopeGuard::~ScopeGuard() { b_->scope_ = std::move(saved_); }

bool GraphBuilder::Taken(const std::string& name) const {
  return g_->FindValue(name) != ir::kNoValue || (parent_ && parent_->Taken(name));
}

std::string GraphBuilder::Unique(const std::string& hint) {
  std::string name = hint;
  while (Taken(name)) name = hint + "_" + std::to_string(++counter_);
  // Reserve it in the parent chain too, so later parent values cannot take
  // a name this subgraph uses (ONNX forbids shadowing).
  for (GraphBuilder* p = parent_; p; p = p->parent_) p->g_->AddValue(name);
  return name;
}

int GraphBuilder::ValueId(const std::string& name) {
  if (auto it = renamed_.find(name); it != renamed_.end()) return g_->FindValue(it->second);
  int id = g_->FindValue(name);
  return id == ir::kNoValue ? g_->AddValue(name) : id;
}

std::string GraphBuilder::AddInput(const std::string& name, DType dtype, std::vector<Dim> shape) {
  const int id = g_->AddValue(name);
  g_->values[static_cast<size_t>(id)].info = TensorInfo{name, dtype, true, std::move(shape)};
  g_->inputs.push_back(id);
  return name;
}

void GraphBuilder::AddOutput(const std::string& value, const std::string& name, DType dtype,
                             std::vector<Dim> shape) {
  int id = ValueId(value);
  const bool is_input = std::find(g_->inputs.begin(), g_->inputs.end(), id) != g_->inputs.end();
  const bool is_output = std::find(g_->outputs.begin(), g_->outputs.end(), id) != g_->outputs.end();
  if (value != name) {
    if (!is_input && !is_output && !g_->constants.count(id) && !Taken(name)) {
      // The value takes the public name: no copy node at run time.
      g_->RenameValue(id, name);
      renamed_[value] = name;
      g_->AddValue(value);  // keep the old name reserved (an unused value)
    } else {
      // An input, a constant or a value already published under another
      // name: copy it into a fresh value.
      const std::string out = Taken(name) ? Unique(name) : name;
      const int copy = g_->AddValue(out);
      ir::Node n;
      n.op_type = "Identity";
      n.name = "output_" + out;
      n.inputs = {id};
      n.outputs = {copy};
      g_->nodes.push_back(std::move(n));
      id = copy;
    }
  }
  g_->values[static_cast<size_t>(id)].info =
      TensorInfo{g_->values[static_cast<size_t>(id)].name, dtype, true, std::move(shape)};
  g_->outputs.push_back(id);
}

std::string GraphBuilder::Const(Tensor t, const std::string& hint) {
  const std::string name = Unique(scope_.empty() ? hint : scope_ + "/" + hint);
  const int id = g_->AddValue(name);
  g_->constants[id] = std::move(t);
  return name;
}

std::string GraphBuilder::ConstDoubles(std::vector<double> v, Shape shape,
                                       const std::string& hint) {
  return Const(Tensor::FromVector(v, std::move(shape)), hint);
}
std::string GraphBuilder::ConstInts(std::vector<int64_t> v, Shape shape, const std::string& hint) {
  return Const(Tensor::FromVector(v, std::move(shape)), hint);
}
std::string GraphBuilder::ScalarDouble(double v) { return Const(Tensor::Scalar(v), "k"); }

std::vector<std::string> GraphBuilder::Node(const std::string& op, std::vector<std::string> inputs,
                                            Attrs attrs, int num_outputs,
                                            const std::string& domain) {
  ir::Node n;
  n.op_type = op;
  n.domain = domain;
  n.name = (scope_.empty() ? "" : scope_ + "/") + op + "_" + std::to_string(g_->nodes.size());
  if (domain == kMl && op == "TreeEnsemble") uses_ml_opset5_ = true;
  for (const auto& in : inputs) n.inputs.push_back(in.empty() ? ir::kNoValue : ValueId(in));
  std::vector<std::string> outs;
  for (int i = 0; i < num_outputs; ++i) {
    outs.push_back(Unique(n.name + "_out" + (i ? std::to_string(i) : "")));
    n.outputs.push_back(g_->AddValue(outs.back()));
  }
  for (auto& [k, v] : attrs) n.attributes[k] = std::move(v);
  g_->nodes.push_back(std::move(n));
  return outs;
}

std::string GraphBuilder::Op(const std::string& op, std::vector<std::string> inputs, Attrs attrs,
                             const std::string& domain) {
  return Node(op, std::move(inputs), std::move(attrs), 1, domain)[0];
}

std::string GraphBuilder::MatMulAdd(const std::string& x, const Tensor& w, const Tensor* b) {
  std::string y = Op("MatMul", {x, Const(w, "w")});
  if (b) y = Op("Add", {y, Const(*b, "b")});
  return y;
}

std::string GraphBuilder::Cast(const std::string& x, DType to) {
  return Op("Cast", {x}, {{"to", AttrInt(static_cast<int64_t>(to))}});
}

std::string GraphBuilder::Columns(const std::string& x, const std::vector<int64_t>& cols) {
  return Op("Gather", {x, ConstInts(cols, {static_cast<int64_t>(cols.size())}, "cols")},
            {{"axis", AttrInt(1)}});
}

std::string GraphBuilder::Concat(const std::vector<std::string>& xs, int64_t axis) {
  if (xs.size() == 1) return xs[0];
  return Op("Concat", xs, {{"axis", AttrInt(axis)}});
}

std::string GraphBuilder::Unsqueeze1(const std::string& x) {
  return Op("Unsqueeze", {x, ConstInts({1}, {1}, "axes")});
}
std::string GraphBuilder::Squeeze1(const std::string& x) {
  return Op("Squeeze", {x, ConstInts({1}, {1}, "axes")});
}

std::shared_ptr<ir::Graph> GraphBuilder::FinishSubgraph(const std::vector<std::string>& outputs) {
  std::vector<bool> defined(g_->values.size(), false);
  for (int id : g_->inputs) defined[static_cast<size_t>(id)] = true;
  for (const auto& [id, t] : g_->constants) defined[static_cast<size_t>(id)] = true;
  for (const auto& n : g_->nodes)
    for (int o : n.outputs) defined[static_cast<size_t>(o)] = true;
  for (const auto& n : g_->nodes) {
    for (int in : n.inputs) {
      if (in == ir::kNoValue || defined[static_cast<size_t>(in)]) continue;
      defined[static_cast<size_t>(in)] = true;
      g_->outer_refs.push_back(in);
    }
  }
  for (const auto& o : outputs) g_->outputs.push_back(ValueId(o));
  return Finish();
}

void GraphBuilder::SetGraphAttribute(const std::string& node_output, const std::string& attr,
                                     std::shared_ptr<const ir::Graph> g) {
  const int id = g_->FindValue(node_output);
  for (auto& n : g_->nodes) {
    for (int o : n.outputs) {
      if (o != id) continue;
      ir::Attribute a;
      a.kind = ir::Attribute::Kind::kGraph;
      a.g = std::move(g);
      n.attributes[attr] = std::move(a);
      return;
    }
  }
}

std::shared_ptr<ir::Graph> GraphBuilder::Finish() {
  for (auto& n : g_->nodes) {
    n.opset = n.domain.empty() ? kOnnxOpset : (uses_ml_opset5_ ? kMlOpsetTreeEnsemble : kMlOpset);
  }
  return g_;
}

}  // namespace tiffin::sklearn
