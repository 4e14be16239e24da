// The kernel registry: every KernelDef row of every family, looked up by
// (op_type, domain, opset).
#ifndef TIFFIN_KERNELS_REGISTRY_H_
#define TIFFIN_KERNELS_REGISTRY_H_

#include <span>
#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace tiffin::kernels {

// The family tables, one per file under kernels/cpu/.
std::span<const KernelDef> ElementwiseKernels();
std::span<const KernelDef> ActivationKernels();
std::span<const KernelDef> MatMulKernels();
std::span<const KernelDef> ConvPoolKernels();
std::span<const KernelDef> NormKernels();
std::span<const KernelDef> ShapeKernels();
std::span<const KernelDef> ReduceKernels();
std::span<const KernelDef> RnnKernels();
std::span<const KernelDef> MiscKernels();
std::span<const KernelDef> ControlFlowKernels();
std::span<const KernelDef> MlKernels();
std::span<const KernelDef> QuantKernels();

// All rows of all families.
const std::vector<KernelDef>& AllKernels();

// Finds the row for `op_type` in `domain` at `opset`. On failure the error
// names the op, domain, opset and node and lists what is supported.
Result<const KernelDef*> FindKernel(const ir::Node& node);

// Sorted op names registered for `domain` ("" = ai.onnx).
std::vector<std::string> SupportedOps(const std::string& domain);

// True when some row registers `op_type` in `domain`, at any opset.
bool IsRegistered(const std::string& op_type, const std::string& domain);

// "tiffin supports in ai.onnx: Abs, Add, ..." for error messages.
std::string SupportedOpsSentence(const std::string& domain);

}  // namespace tiffin::kernels

#endif  // TIFFIN_KERNELS_REGISTRY_H_
