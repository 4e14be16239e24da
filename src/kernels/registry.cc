#include "kernels/registry.h"

#include <algorithm>
#include <set>

namespace tiffin::kernels {

const std::vector<KernelDef>& AllKernels() {
  static const std::vector<KernelDef> all = [] {
    std::vector<KernelDef> v;
    for (auto family : {ElementwiseKernels, ActivationKernels, MatMulKernels, ConvPoolKernels,
                        NormKernels, ShapeKernels, ReduceKernels, RnnKernels, MiscKernels,
                        ControlFlowKernels, MlKernels, QuantKernels}) {
      auto rows = family();
      v.insert(v.end(), rows.begin(), rows.end());
    }
    return v;
  }();
  return all;
}

std::vector<std::string> SupportedOps(const std::string& domain) {
  std::set<std::string> ops;
  for (const auto& d : AllKernels())
    if (domain == d.domain) ops.insert(d.op_type);
  return {ops.begin(), ops.end()};
}

namespace {
std::string DomainName(const std::string& domain) { return domain.empty() ? "ai.onnx" : domain; }
}  // namespace

Result<const KernelDef*> FindKernel(const ir::Node& node) {
  std::vector<const KernelDef*> same_op;
  for (const auto& d : AllKernels()) {
    if (node.op_type != d.op_type || node.domain != d.domain) continue;
    if (node.opset >= d.min_opset && node.opset <= d.max_opset) return &d;
    same_op.push_back(&d);
  }
  std::string where =
      node.Describe() + " at " + DomainName(node.domain) + " opset " + std::to_string(node.opset);
  if (!same_op.empty()) {
    std::string ranges;
    for (const auto* d : same_op) {
      if (!ranges.empty()) ranges += ", ";
      ranges += std::to_string(d->min_opset) + "-" + std::to_string(d->max_opset);
    }
    return NotSupported(where + ": tiffin implements " + node.op_type + " only for opsets " +
                        ranges + ", and its semantics differ at opset " +
                        std::to_string(node.opset) +
                        " (convert the model with onnx.version_converter to a supported opset)");
  }
  return NotSupported(where + ": unsupported operator; " + SupportedOpsSentence(node.domain));
}

bool IsRegistered(const std::string& op_type, const std::string& domain) {
  for (const auto& d : AllKernels())
    if (op_type == d.op_type && domain == d.domain) return true;
  return false;
}

std::string SupportedOpsSentence(const std::string& domain) {
  std::string list;
  for (const auto& op : SupportedOps(domain)) {
    if (!list.empty()) list += ", ";
    list += op;
  }
  if (list.empty()) list = "no operators";
  return "tiffin supports in " + DomainName(domain) + ": " + list;
}

}  // namespace tiffin::kernels
