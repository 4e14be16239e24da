// Test helpers: run one operator on given inputs through the real registry
// and executor. For kernel unit tests only.
#ifndef TIFFIN_EXEC_TESTING_H_
#define TIFFIN_EXEC_TESTING_H_

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "tiffin/tensor.h"

namespace tiffin::testing {

struct OpSpec {
  std::string op_type;
  std::string domain;  // "" = ai.onnx
  int64_t opset = 17;
  std::map<std::string, ir::Attribute> attributes;
  std::vector<Tensor> inputs;         // an undefined Tensor = omitted optional input
  std::vector<bool> constant_inputs;  // true: pass input i as an initializer
  int num_outputs = 1;
};

// Builds a one-node graph and runs it twice (the recording run and the
// planned run), checking both give the same results. Returns the outputs.
Result<std::vector<Tensor>> RunOp(const OpSpec& spec);

// Attribute builders.
ir::Attribute IntAttr(int64_t v);
ir::Attribute FloatAttr(float v);
ir::Attribute StringAttr(std::string v);
ir::Attribute IntsAttr(std::vector<int64_t> v);
ir::Attribute FloatsAttr(std::vector<float> v);

}  // namespace tiffin::testing

#endif  // TIFFIN_EXEC_TESTING_H_
