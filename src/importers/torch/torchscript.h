// TorchScript archives (torch.jit.save / torch.jit.script) built only from
// standard torch.nn modules composed with nn.Sequential, converted to a graph
// of ONNX ops. Nothing is interpreted: the module tree comes from data.pkl
// (read as data), and each module's TorchScript source (code/) must be,
// line for line, what torch emits for that standard module; then tiffin
// emits the op it stands for. Anything else is refused, naming the module,
// with the advice to export to ONNX.
//
// Supported: Sequential of Linear (Gemm), ReLU, Sigmoid, Tanh, LeakyReLU,
// ELU, Softmax (over the features), Identity, Flatten and eval-mode Dropout
// (both no-ops on [N, F]), starting with a Linear; input [N, F] float32. The
// source forms are those of torch 1.13's TorchScript printer (temporaries
// renumbered freely).
#ifndef TIFFIN_IMPORTERS_TORCH_TORCHSCRIPT_H_
#define TIFFIN_IMPORTERS_TORCH_TORCHSCRIPT_H_

#include <string>
#include <string_view>

#include "importers/sklearn/sklearn.h"
#include "importers/torch/torch_archive.h"
#include "tiffin/options.h"

namespace tiffin::torch_import {

// Converts the TorchScript archive in `bytes`. Errors: kNotSupported (naming
// the module or the source line tiffin does not recognise), kDataLoss.
Result<sklearn::ImportedGraph> ImportTorchScriptBytes(std::string_view bytes,
                                                      const TorchReadOptions& options = {});

// The same from a file; errors carry the path.
Result<sklearn::ImportedGraph> ImportTorchScriptFile(const std::string& path,
                                                     const LoadOptions& options = {});

}  // namespace tiffin::torch_import

#endif  // TIFFIN_IMPORTERS_TORCH_TORCHSCRIPT_H_
