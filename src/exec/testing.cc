#include "exec/testing.h"

#include <cstring>

#include "exec/executor.h"

namespace tiffin::testing {

namespace {
bool SameBytes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.dtype() == DType::kString) {
    for (int64_t i = 0; i < a.size(); ++i)
      if (a.data<std::string>()[i] != b.data<std::string>()[i]) return false;
    return true;
  }
  return std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}
}  // namespace

Result<std::vector<Tensor>> RunOp(const OpSpec& spec) {
  auto g = std::make_shared<ir::Graph>();
  g->name = "test";
  ir::Node node;
  node.name = "n0";
  node.op_type = spec.op_type;
  node.domain = spec.domain;
  node.opset = spec.opset;
  node.attributes = spec.attributes;
  std::vector<Tensor> feeds;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (!spec.inputs[i].defined()) {
      node.inputs.push_back(ir::kNoValue);
      continue;
    }
    int id = g->AddValue("in" + std::to_string(i));
    node.inputs.push_back(id);
    if (i < spec.constant_inputs.size() && spec.constant_inputs[i]) {
      g->constants[id] = spec.inputs[i];
    } else {
      g->inputs.push_back(id);
      feeds.push_back(spec.inputs[i]);
    }
  }
  for (int i = 0; i < spec.num_outputs; ++i) {
    int id = g->AddValue("out" + std::to_string(i));
    node.outputs.push_back(id);
    g->outputs.push_back(id);
  }
  g->nodes.push_back(std::move(node));
  LoadOptions options;
  TIFFIN_ASSIGN_OR_RETURN(auto compiled, exec::CompiledGraph::Compile(g, options));
  TIFFIN_ASSIGN_OR_RETURN(auto first, compiled->Run(feeds, nullptr, true));
  TIFFIN_ASSIGN_OR_RETURN(auto second, compiled->Run(feeds, nullptr, true));
  for (size_t i = 0; i < first.size(); ++i) {
    if (!SameBytes(first[i], second[i])) {
      return Internal("output " + std::to_string(i) +
                      " differs between the recording and planned runs");
    }
  }
  return first;
}

ir::Attribute IntAttr(int64_t v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kInt;
  a.i = v;
  return a;
}
ir::Attribute FloatAttr(float v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kFloat;
  a.f = v;
  return a;
}
ir::Attribute StringAttr(std::string v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kString;
  a.s = std::move(v);
  return a;
}
ir::Attribute IntsAttr(std::vector<int64_t> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
ir::Attribute FloatsAttr(std::vector<float> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kFloats;
  a.floats = std::move(v);
  return a;
}

}  // namespace tiffin::testing
