// The graph IR: what every importer emits and the executor runs.
//
// Values are identified by dense integer ids within one Graph. A node's
// inputs and outputs are value ids; an omitted optional input is kNoValue.
// Nodes are stored in topological order (the importer sorts them).
// A subgraph (If/Loop body) is a Graph of its own; names it uses but does not
// define are captured from the enclosing graph at run time (outer_refs).
#ifndef TIFFIN_IR_GRAPH_H_
#define TIFFIN_IR_GRAPH_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tiffin/model.h"
#include "tiffin/status.h"
#include "tiffin/tensor.h"

namespace tiffin::ir {

inline constexpr int kNoValue = -1;

class Graph;

struct Attribute {
  enum class Kind { kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings, kTensors };
  Kind kind = Kind::kInt;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::shared_ptr<const Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<Tensor> tensors;
};

std::string_view AttributeKindName(Attribute::Kind kind);

struct Node {
  std::string name;     // may be empty in the file; the importer names it
  std::string op_type;  // "Conv"
  std::string domain;   // "" for ai.onnx, "ai.onnx.ml", ...
  int64_t opset = 0;    // the model's opset for `domain`
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::map<std::string, Attribute> attributes;

  // "node 'conv1' (Conv)" for messages.
  std::string Describe() const;

  bool HasAttribute(const std::string& key) const { return attributes.count(key) != 0; }
  // Typed getters: return the default when absent, an error naming the node
  // and attribute when present with another kind.
  Result<int64_t> GetInt(const std::string& key, int64_t default_value) const;
  Result<float> GetFloat(const std::string& key, float default_value) const;
  Result<std::string> GetString(const std::string& key, const std::string& default_value) const;
  Result<std::vector<int64_t>> GetInts(const std::string& key,
                                       std::vector<int64_t> default_value = {}) const;
  Result<std::vector<float>> GetFloats(const std::string& key,
                                       std::vector<float> default_value = {}) const;
  Result<std::vector<std::string>> GetStrings(const std::string& key,
                                              std::vector<std::string> default_value = {}) const;
  // Tensor and graph attributes; error when absent.
  Result<Tensor> GetTensor(const std::string& key) const;
  Result<std::shared_ptr<const Graph>> GetGraph(const std::string& key) const;
};

struct Value {
  std::string name;
  TensorInfo info;  // dtype/shape when declared (inputs, outputs, value_info)
};

class Graph {
 public:
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs;  // graph inputs that are not initializers
  std::vector<int> outputs;
  std::map<int, Tensor> constants;  // initializers
  // Values used but defined in an enclosing graph, and the name to find
  // there. Only subgraphs have them.
  std::vector<int> outer_refs;

  // Adds a value and returns its id.
  int AddValue(std::string value_name);
  // Returns the id of the named value, or kNoValue.
  int FindValue(const std::string& value_name) const;
  // Gives value `id` the name `value_name`. REQUIRES: no other value has it.
  void RenameValue(int id, std::string value_name);

 private:
  std::map<std::string, int> by_name_;
};

}  // namespace tiffin::ir

#endif  // TIFFIN_IR_GRAPH_H_
