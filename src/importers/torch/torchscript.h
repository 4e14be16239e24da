// TorchScript archives (torch.jit.save / torch.jit.script) built only from
// standard torch.nn modules composed with nn.Sequential, converted to a graph
// of ONNX ops. Nothing is interpreted: the module tree comes from data.pkl
// (read as data), and each module's TorchScript source (code/) must be,
// line for line, what torch emits for that standard module; then tiffin
// emits the op it stands for. Anything else is refused, naming the module,
// with the advice to export to ONNX.
//
// Supported: Sequential (nested too) of Linear, Conv1d/2d, BatchNorm1d/2d,
// LayerNorm, Max/AvgPool1d/2d, global AdaptiveAvgPool1d/2d, Flatten,
// Unflatten, Embedding, Identity, eval-mode Dropout and the standard
// activations (docs/compatibility.md has the table and limits). The source
// forms are those of torch 1.13's TorchScript printer
// (torchscript_source.h says how they are matched).
//
// Input shape: TorchScript records none. The graph's input is stated from
// the first module that fixes its rank (Linear: [N, in]; Conv2d,
// BatchNorm2d, 2-D pools: [N, C, H, W]; Conv1d: [N, C, L]; BatchNorm1d:
// [N, C]; LayerNorm: [N, *normalized_shape]; Embedding: int64 [N, T];
// elementwise modules only: [N, F]) with symbolic batch and spatial dims; a
// Flatten or Unflatten before any such module is refused.
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
