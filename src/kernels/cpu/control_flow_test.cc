// If, Loop and Scan with small hand-built bodies; expected values are
// hand-computed running sums.
#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.size());
}

// Builds a body graph by value names.
class Body {
 public:
  int V(const std::string& name) {
    int id = g_->FindValue(name);
    return id == ir::kNoValue ? g_->AddValue(name) : id;
  }
  Body& In(const std::string& name) {
    g_->inputs.push_back(V(name));
    return *this;
  }
  Body& Out(const std::string& name) {
    g_->outputs.push_back(V(name));
    return *this;
  }
  // A name read from the enclosing graph.
  Body& Outer(const std::string& name) {
    g_->outer_refs.push_back(V(name));
    return *this;
  }
  Body& Node(const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
             std::map<std::string, ir::Attribute> attrs = {}) {
    ir::Node n;
    n.name = "b" + std::to_string(g_->nodes.size());
    n.op_type = op;
    n.opset = 17;
    for (const auto& s : ins) n.inputs.push_back(s.empty() ? ir::kNoValue : V(s));
    for (const auto& s : outs) n.outputs.push_back(V(s));
    n.attributes = std::move(attrs);
    g_->nodes.push_back(std::move(n));
    return *this;
  }
  // Declares a value's dtype and fixed shape (as value_info would).
  Body& Declare(const std::string& name, DType dt, std::vector<int64_t> dims) {
    TensorInfo& info = g_->values[static_cast<size_t>(V(name))].info;
    info.dtype = dt;
    info.has_shape = true;
    for (int64_t d : dims) info.shape.push_back(Dim{d, ""});
    return *this;
  }
  ir::Attribute Attr() const {
    ir::Attribute a;
    a.kind = ir::Attribute::Kind::kGraph;
    a.g = g_;
    return a;
  }

 private:
  std::shared_ptr<ir::Graph> g_ = std::make_shared<ir::Graph>();
};

Tensor Bool(bool v) { return Tensor::Scalar<bool>(v); }

TEST(ControlFlow, IfRunsTheChosenBranchAndReadsOuterValues) {
  Body then_b;
  then_b.Node("Constant", {}, {"t"}, {{"value_floats", testing::FloatsAttr({1, 2})}}).Out("t");
  Body else_b;  // reads the If's own cond from the enclosing scope
  else_b.Outer("in0").Node("Cast", {"in0"}, {"e"}, {{"to", IntAttr(1)}}).Out("e");
  OpSpec spec{.op_type = "If"};
  spec.attributes["then_branch"] = then_b.Attr();
  spec.attributes["else_branch"] = else_b.Attr();
  spec.inputs = {Bool(true)};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{1, 2}));
  spec.inputs = {Bool(false)};
  out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{0}));
  spec.inputs = {Tensor::FromVector<float>({1})};
  out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'n0' (If)"), std::string::npos);
}

TEST(ControlFlow, IfBranchOutputCountMustMatch) {
  Body one, two;
  one.Node("Constant", {}, {"a"}, {{"value_int", IntAttr(1)}}).Out("a");
  two.Node("Constant", {}, {"a"}, {{"value_int", IntAttr(1)}}).Out("a").Out("a");
  OpSpec spec{.op_type = "If"};
  spec.attributes["then_branch"] = one.Attr();
  spec.attributes["else_branch"] = two.Attr();
  spec.inputs = {Bool(true)};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("outputs"), std::string::npos);
}

// Body: x2 = x + float(i); cond passes through; scan output = x2.
Body AccumulateBody() {
  Body b;
  b.In("i").In("c").In("x");
  b.Node("Cast", {"i"}, {"fi"}, {{"to", IntAttr(1)}});
  b.Node("Add", {"x", "fi"}, {"x2"});
  b.Node("Identity", {"c"}, {"c2"});
  b.Node("Identity", {"x2"}, {"s"});
  b.Out("c2").Out("x2").Out("s");
  return b;
}

TEST(ControlFlow, LoopTripCountCarriesStateAndStacksScanOutputs) {
  OpSpec spec{.op_type = "Loop", .opset = 16, .num_outputs = 2};
  spec.attributes["body"] = AccumulateBody().Attr();
  spec.inputs = {Tensor::Scalar<int64_t>(4), Tensor(), Tensor::FromVector<float>({1, 2})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{7, 8}));
  EXPECT_EQ((*out)[1].shape(), (Shape{4, 2}));
  EXPECT_EQ(Values<float>((*out)[1]), (std::vector<float>{1, 2, 2, 3, 4, 5, 7, 8}));
}

TEST(ControlFlow, LoopZeroIterationsReturnsInitialValues) {
  OpSpec spec{.op_type = "Loop", .opset = 16, .num_outputs = 2};
  spec.attributes["body"] = AccumulateBody().Attr();
  spec.inputs = {Tensor::Scalar<int64_t>(0), Bool(true), Tensor::FromVector<float>({1, 2})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ((*out)[1].shape()[0], 0);
}

TEST(ControlFlow, LoopWhileConditionStopsIt) {
  // No trip count; cond = i < lim with lim a loop-carried value: the body
  // runs for i = 0, 1, 2 and adds 0 + 1 + 2.
  Body b;
  b.In("i").In("c").In("x").In("lim");
  b.Node("Less", {"i", "lim"}, {"c2"});
  b.Node("Cast", {"i"}, {"fi"}, {{"to", IntAttr(1)}});
  b.Node("Add", {"x", "fi"}, {"x2"});
  b.Node("Identity", {"lim"}, {"lim2"});
  b.Out("c2").Out("x2").Out("lim2");
  OpSpec spec{.op_type = "Loop", .opset = 16, .num_outputs = 2};
  spec.attributes["body"] = b.Attr();
  spec.inputs = {Tensor(), Bool(true), Tensor::FromVector<float>({1, 2}),
                 Tensor::Scalar<int64_t>(2)};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{4, 5}));
}

TEST(ControlFlow, LoopBodyReadsOuterValue) {
  // x2 = x + x0 where x0 is the Loop's own initial value read from outside.
  Body b;
  b.In("i").In("c").In("x").Outer("in2");
  b.Node("Add", {"x", "in2"}, {"x2"});
  b.Node("Identity", {"c"}, {"c2"});
  b.Out("c2").Out("x2");
  OpSpec spec{.op_type = "Loop", .opset = 16};
  spec.attributes["body"] = b.Attr();
  spec.inputs = {Tensor::Scalar<int64_t>(3), Tensor(), Tensor::FromVector<float>({1, 2})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{4, 8}));
}

TEST(ControlFlow, LoopBodyWithWrongSignatureIsRefused) {
  Body b;
  b.In("i").In("x");
  b.Node("Identity", {"x"}, {"x2"});
  b.Out("x2");
  OpSpec spec{.op_type = "Loop", .opset = 16};
  spec.attributes["body"] = b.Attr();
  spec.inputs = {Tensor::Scalar<int64_t>(3), Tensor(), Tensor::FromVector<float>({1, 2})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'n0' (Loop)"), std::string::npos);
  EXPECT_NE(out.status().message().find("body takes 2 inputs"), std::string::npos);
}

// Body: s2 = s + x_t; y = s2.
Body CumsumBody() {
  Body b;
  b.In("s").In("xt");
  b.Node("Add", {"s", "xt"}, {"s2"});
  b.Node("Identity", {"s2"}, {"y"});
  b.Out("s2").Out("y");
  return b;
}

TEST(ControlFlow, ScanForwardReverseAndOutputAxis) {
  OpSpec spec{.op_type = "Scan", .opset = 11, .num_outputs = 2};
  spec.attributes["body"] = CumsumBody().Attr();
  spec.attributes["num_scan_inputs"] = IntAttr(1);
  const Tensor x = Tensor::FromVector<float>({1, 2, 3, 4, 5, 6}, {3, 2});
  spec.inputs = {Tensor::FromVector<float>({0, 0}), x};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{9, 12}));
  EXPECT_EQ(Values<float>((*out)[1]), (std::vector<float>{1, 2, 4, 6, 9, 12}));

  spec.attributes["scan_input_directions"] = IntsAttr({1});
  out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[1]), (std::vector<float>{5, 6, 8, 10, 9, 12}));

  spec.attributes["scan_output_axes"] = IntsAttr({1});
  out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[1].shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>((*out)[1]), (std::vector<float>{5, 8, 9, 6, 10, 12}));

  spec.attributes["scan_output_directions"] = IntsAttr({1});
  out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[1]), (std::vector<float>{9, 8, 5, 12, 10, 6}));
}

TEST(ControlFlow, ScanOverZeroStepsUsesTheDeclaredShape) {
  OpSpec spec{.op_type = "Scan", .opset = 11, .num_outputs = 2};
  spec.attributes["num_scan_inputs"] = IntAttr(1);
  spec.inputs = {Tensor::FromVector<float>({1, 2}), Tensor(DType::kFloat32, {0, 2})};
  spec.attributes["body"] = CumsumBody().Attr();
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kNotSupported);
  spec.attributes["body"] = CumsumBody().Declare("y", DType::kFloat32, {2}).Attr();
  out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{1, 2}));
  EXPECT_EQ((*out)[1].shape(), (Shape{0, 2}));
}

TEST(ControlFlow, Scan8BatchesWithSequenceLengths) {
  OpSpec spec{.op_type = "Scan", .opset = 8, .num_outputs = 2};
  spec.attributes["body"] = CumsumBody().Attr();
  spec.attributes["num_scan_inputs"] = IntAttr(1);
  spec.inputs = {Tensor::FromVector<int64_t>({3, 2}), Tensor::FromVector<float>({0, 0}, {2, 1}),
                 Tensor::FromVector<float>({1, 2, 3, 4, 5, 6}, {2, 3, 1})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Values<float>((*out)[0]), (std::vector<float>{6, 9}));
  EXPECT_EQ((*out)[1].shape(), (Shape{2, 3, 1}));
  EXPECT_EQ(Values<float>((*out)[1]), (std::vector<float>{1, 3, 6, 4, 9, 0}));
}

// ---- Fuzzer regressions (fuzz/README.md).

// RunOp with explicit load options (RunOp uses the defaults): a one-node
// graph, compiled and run once.
Result<std::vector<Tensor>> RunOpWith(const OpSpec& spec, const LoadOptions& options) {
  auto g = std::make_shared<ir::Graph>();
  ir::Node node;
  node.name = "n0";
  node.op_type = spec.op_type;
  node.opset = spec.opset;
  node.attributes = spec.attributes;
  std::vector<Tensor> feeds;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    if (!spec.inputs[i].defined()) {
      node.inputs.push_back(ir::kNoValue);
      continue;
    }
    const int id = g->AddValue("in" + std::to_string(i));
    node.inputs.push_back(id);
    g->inputs.push_back(id);
    feeds.push_back(spec.inputs[i]);
  }
  for (int i = 0; i < spec.num_outputs; ++i) {
    const int id = g->AddValue("out" + std::to_string(i));
    node.outputs.push_back(id);
    g->outputs.push_back(id);
  }
  g->nodes.push_back(std::move(node));
  TIFFIN_ASSIGN_OR_RETURN(auto compiled, exec::CompiledGraph::Compile(g, options));
  return compiled->Run(feeds, nullptr, true);
}

// review (a timeout class): Loop stopped unbounded loops only after 10M
// iterations whatever the tensor limit (100 s of a trivial body under ASan),
// and a trip count up to 10M ran in full. The budget now follows
// max_tensor_bytes / 256 (still 10M at the default 4 GiB).
TEST(ControlFlow, LoopIterationsAreBoundedByTheTensorLimit) {
  LoadOptions options;
  options.max_tensor_bytes = 256 * 1000;  // 1000 iterations
  // State only (no scan output, whose bytes are bounded separately).
  Body spin;
  spin.In("i").In("c").In("x");
  spin.Node("Identity", {"c"}, {"c2"});
  spin.Node("Identity", {"x"}, {"x2"});
  spin.Out("c2").Out("x2");
  OpSpec spec{.op_type = "Loop", .opset = 16};
  spec.attributes["body"] = spin.Attr();
  spec.inputs = {Tensor::Scalar<int64_t>(std::numeric_limits<int64_t>::max()), Bool(true),
                 Tensor::FromVector<float>({1, 2})};
  auto out = RunOpWith(spec, options);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().ToString();
  EXPECT_NE(out.status().message().find("node 'n0' (Loop)"), std::string::npos);
  EXPECT_NE(out.status().message().find("ran 1000 iterations"), std::string::npos);
  spec.inputs[0] = Tensor::Scalar<int64_t>(1000);  // within the budget
  out = RunOpWith(spec, options);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // With a scan output too.
  spec.num_outputs = 2;
  spec.attributes["body"] = AccumulateBody().Attr();
  out = RunOpWith(spec, options);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[1].shape(), (Shape{1000, 2}));
}

// review (a hang): an empty scan input can have a scan axis of any length
// ([2^40, 0] holds no elements), and Scan ran the body once per step.
TEST(ControlFlow, ScanStepsAreBoundedByTheTensorLimit) {
  OpSpec spec{.op_type = "Scan", .opset = 11, .num_outputs = 2};
  spec.attributes["body"] = CumsumBody().Attr();
  spec.attributes["num_scan_inputs"] = IntAttr(1);
  // First a case the unfixed kernel finishes (2^20 steps, ~a second) so that
  // it fails here rather than hanging on the 2^40 ones below.
  LoadOptions options;
  options.max_tensor_bytes = 256 * 1000;  // 1000 steps
  spec.inputs = {Tensor(DType::kFloat32, {0}), Tensor(DType::kFloat32, {1 << 20, 0})};
  auto out = RunOpWith(spec, options);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().ToString();
  spec.inputs[1] = Tensor(DType::kFloat32, {int64_t{1} << 40, 0});
  out = RunOp(spec);  // default limits: 10M steps
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().ToString();
  // Opset 8 (batched): batch x length runs.
  OpSpec s8{.op_type = "Scan", .opset = 8, .num_outputs = 2};
  s8.attributes["body"] = CumsumBody().Attr();
  s8.attributes["num_scan_inputs"] = IntAttr(1);
  s8.inputs = {Tensor(), Tensor(DType::kFloat32, {int64_t{1} << 40, 0}),
               Tensor(DType::kFloat32, {int64_t{1} << 40, 1, 0})};
  out = RunOp(s8);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().ToString();
}

}  // namespace
}  // namespace tiffin
