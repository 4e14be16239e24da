// Writes an ir::Graph as a standard ONNX model (ModelProto), so that what an
// importer built (scikit-learn, ...) can be saved by `tiffin convert` and run
// unchanged by ONNX Runtime or any other ONNX consumer.
//
// What is written:
//   - every value under its name; values with an empty name get a generated
//     one ("tiffin_value_<id>") unique in the model;
//   - graph inputs and outputs with their TensorInfo: dtype, and when
//     has_shape, one dim each (fixed -> dim_value, symbol -> dim_param,
//     unknown -> an empty dim); other values with a declared dtype or shape
//     as value_info;
//   - `constants` as initializers (numeric, bool and float16 as raw_data,
//     strings as string_data);
//   - nodes in the graph's order with domain, inputs, outputs (kNoValue as
//     "", ONNX's omitted optional) and attributes of every kind, subgraphs
//     recursively. A node with an empty name gets "<op_type>_<n>", unique in
//     the model. A subgraph's names that it does not define are references
//     to its enclosing graphs, as in ONNX; ir::Graph::outer_refs is not
//     consulted.
//
// The graph is checked as it is written, and an error names the graph, the
// node and the value: a value read before any input, initializer or node
// defines it (here or in an enclosing graph), a value defined twice, two
// values or a subgraph and an enclosing graph sharing a name (ONNX names are
// single-assignment across subgraphs), a main-graph input without a dtype, a
// node whose domain has no opset, a graph attribute without a graph.
//
// Thread safety: the functions read `graph` only; call them from any thread.
#ifndef TIFFIN_IMPORTERS_ONNX_ONNX_WRITER_H_
#define TIFFIN_IMPORTERS_ONNX_ONNX_WRITER_H_

#include <cstdint>
#include <map>
#include <string>

#include "ir/graph.h"
#include "tiffin/status.h"

namespace tiffin::onnx_import {

struct OnnxWriteOptions {
  // ModelProto.ir_version. 0 (the default) picks the one the opsets need:
  // 8 for ai.onnx <= 18 and ai.onnx.ml <= 3, 9 for ai.onnx 19-20 or
  // ai.onnx.ml 4, 10 for ai.onnx 21-22 or ai.onnx.ml 5, 11 for ai.onnx 23+.
  int64_t ir_version = 0;
  // opset_import, domain ("" = ai.onnx) -> version. Empty (the default):
  // derived from the nodes' `opset` fields, the largest per domain used,
  // subgraphs included (ai.onnx 17 for a graph without nodes, since ONNX
  // requires an import). When given, it is written as is and must name every
  // domain a node uses.
  std::map<std::string, int64_t> opsets;
  std::string producer_name = "tiffin";
  std::string producer_version;                 // Default: empty.
  std::string doc_string;                       // ModelProto.doc_string. Default: empty.
  std::map<std::string, std::string> metadata;  // metadata_props
  // GraphProto.name. Empty (the default): the graph's own name, or
  // "main_graph" when that is empty too (ONNX requires one).
  std::string graph_name;
};

// Returns the serialized ModelProto for `graph`. Errors: kInvalidArgument for
// a graph that breaks the rules above; kResourceExhausted when the model
// exceeds protobuf's 2 GiB limit (external data is not written). No
// exception escapes.
Result<std::string> SerializeOnnx(const ir::Graph& graph, const OnnxWriteOptions& options);

// SerializeOnnx, then writes the bytes to `path` (replaced whole: written to
// "<path>.tmp" first, then renamed, so a failure leaves no partial model).
// Errors: those of SerializeOnnx; kNotFound when the file cannot be created
// or renamed (missing folder, no permission); kResourceExhausted when the
// write fails part way (disk full).
Status WriteOnnxFile(const ir::Graph& graph, const OnnxWriteOptions& options,
                     const std::string& path);

}  // namespace tiffin::onnx_import

#endif  // TIFFIN_IMPORTERS_ONNX_ONNX_WRITER_H_
