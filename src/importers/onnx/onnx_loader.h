// Graph-level access to the ONNX loader, for code that transforms models
// (the ONNX writer and its tests, converters) instead of running them.
// LoadOnnxBytes (tiffin/model.h) is this parse followed by compilation.
#ifndef TIFFIN_IMPORTERS_ONNX_ONNX_LOADER_H_
#define TIFFIN_IMPORTERS_ONNX_ONNX_LOADER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "ir/graph.h"
#include "tiffin/model.h"
#include "tiffin/options.h"

namespace tiffin::onnx_import {

// An ONNX model read into the graph IR, before compilation.
struct ParsedOnnx {
  // Every reference resolved and checked, nodes in topological order, each
  // node's `opset` set from the model's opset_import.
  std::shared_ptr<ir::Graph> graph;
  // The model's opset_import, domain ("" = ai.onnx) -> version. ai.onnx is
  // always present (1 when the model does not import it).
  std::map<std::string, int64_t> opsets;
  // Header fields, metadata and counts, as LoadOnnxBytes reports them.
  ModelInfo info;
};

// Parses serialized ModelProto bytes into the IR without compiling it: ops
// tiffin has no kernel for are accepted here. `base_dir` resolves external
// data ("" refuses external data). Errors are those of LoadOnnxBytes for a
// malformed file, an unsupported IR version or opset, or a limit in
// `options`; no exception escapes.
Result<ParsedOnnx> ParseOnnxGraph(const std::string& bytes, const std::string& base_dir,
                                  const LoadOptions& options = {});

}  // namespace tiffin::onnx_import

#endif  // TIFFIN_IMPORTERS_ONNX_ONNX_LOADER_H_
