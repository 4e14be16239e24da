// GraphBuilder: emits an ir::Graph of standard ONNX nodes, one call per node.
//
// Converters name nothing by hand: every value gets a unique name derived
// from a hint, so composing converters (a Pipeline of ColumnTransformers of
// Pipelines) never collides. Opsets are fixed here: ai.onnx 17 (what the
// emitted ops need, and what ONNX Runtime and onnx 1.12 tooling accept) and
// ai.onnx.ml 3, raised to 5 only when a TreeEnsemble node is emitted.
#ifndef TIFFIN_IMPORTERS_SKLEARN_GRAPH_BUILDER_H_
#define TIFFIN_IMPORTERS_SKLEARN_GRAPH_BUILDER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "tiffin/status.h"
#include "tiffin/tensor.h"

namespace tiffin::sklearn {

inline constexpr int64_t kOnnxOpset = 17;
inline constexpr int64_t kMlOpset = 3;
inline constexpr int64_t kMlOpsetTreeEnsemble = 5;
inline constexpr const char* kMl = "ai.onnx.ml";

// Attribute helpers: {"axis", AttrInt(1)}.
ir::Attribute AttrInt(int64_t v);
ir::Attribute AttrFloat(float v);
ir::Attribute AttrString(std::string v);
ir::Attribute AttrInts(std::vector<int64_t> v);
ir::Attribute AttrFloats(std::vector<float> v);
ir::Attribute AttrStrings(std::vector<std::string> v);
ir::Attribute AttrTensor(Tensor t);

using Attrs = std::vector<std::pair<std::string, ir::Attribute>>;

class GraphBuilder {
 public:
  GraphBuilder();
  // A builder for a subgraph (a Loop or If body) of `parent`: its value
  // names never collide with the parent's, and names it reads without
  // defining become outer references (FinishSubgraph).
  explicit GraphBuilder(GraphBuilder* parent);

  // A graph input [batch, width...]; returns its value name.
  std::string AddInput(const std::string& name, DType dtype, std::vector<Dim> shape);
  // Declares `value` a graph output under `name` (an Identity is inserted
  // when the names differ).
  void AddOutput(const std::string& value, const std::string& name, DType dtype,
                 std::vector<Dim> shape);

  // An initializer. ConstDoubles/ConstInts with an empty `shape` make a 1-D
  // tensor of v.size() (as Tensor::FromVector), not a scalar: use
  // Const(Tensor::Scalar(x)) for a scalar.
  std::string Const(Tensor t, const std::string& hint = "c");
  std::string ConstDoubles(std::vector<double> v, Shape shape, const std::string& hint = "c");
  std::string ConstInts(std::vector<int64_t> v, Shape shape, const std::string& hint = "c");
  std::string ScalarDouble(double v);

  // Adds a node; returns its output names.
  std::vector<std::string> Node(const std::string& op, std::vector<std::string> inputs,
                                Attrs attrs = {}, int num_outputs = 1,
                                const std::string& domain = "");
  // Adds a one-output node.
  std::string Op(const std::string& op, std::vector<std::string> inputs, Attrs attrs = {},
                 const std::string& domain = "");

  // Common shapes of work.
  std::string MatMulAdd(const std::string& x, const Tensor& w, const Tensor* b);  // x @ w + b
  std::string Cast(const std::string& x, DType to);
  // Columns `cols` of a [N, F] value (Gather on axis 1).
  std::string Columns(const std::string& x, const std::vector<int64_t>& cols);
  std::string Concat(const std::vector<std::string>& xs, int64_t axis = 1);
  // [N] -> [N, 1].
  std::string Unsqueeze1(const std::string& x);
  // [N, 1] -> [N].
  std::string Squeeze1(const std::string& x);

  // Names the nodes added while the returned guard lives "SCOPE/Op_N": the
  // estimator or layer they come from (at most 128 bytes of it), so that
  // `tiffin diff`, errors and ONNX viewers say where a node came from. Scopes
  // do not nest: an inner one replaces the outer until it ends.
  class ScopeGuard {
   public:
    ScopeGuard(GraphBuilder* b, std::string scope);
    ~ScopeGuard();
    ScopeGuard(const ScopeGuard&) = delete;
    ScopeGuard& operator=(const ScopeGuard&) = delete;

   private:
    GraphBuilder* b_;
    std::string saved_;
  };
  [[nodiscard]] ScopeGuard Scope(std::string scope) { return ScopeGuard(this, std::move(scope)); }

  std::string Unique(const std::string& hint);
  std::shared_ptr<ir::Graph> Finish();
  // Finishes a subgraph: outputs in order, outer references computed.
  std::shared_ptr<ir::Graph> FinishSubgraph(const std::vector<std::string>& outputs);
  // Adds `attr` = graph to the last node added.
  void SetGraphAttribute(const std::string& node_output, const std::string& attr,
                         std::shared_ptr<const ir::Graph> g);

 private:
  int ValueId(const std::string& name);

  bool Taken(const std::string& name) const;

  std::shared_ptr<ir::Graph> g_;
  GraphBuilder* parent_ = nullptr;
  std::map<std::string, std::string> renamed_;  // value name -> its output name
  int counter_ = 0;
  bool uses_ml_opset5_ = false;
  std::string scope_;
};

}  // namespace tiffin::sklearn

#endif  // TIFFIN_IMPORTERS_SKLEARN_GRAPH_BUILDER_H_
