// The graph behind any model file, for writing it out as ONNX: shared by
// ConvertToOnnx (tiffin/model.h) and `tiffin pack`, so that every format
// LoadModel reads can also be converted and packed.
#ifndef TIFFIN_IMPORTERS_LOAD_H_
#define TIFFIN_IMPORTERS_LOAD_H_

#include <memory>
#include <string>

#include "importers/onnx/onnx_writer.h"
#include "ir/graph.h"
#include "tiffin/options.h"
#include "tiffin/status.h"

namespace tiffin {

struct ExportableGraph {
  std::shared_ptr<const ir::Graph> graph;
  // What ConvertToOnnx writes around it: opsets, producer, provenance
  // metadata, doc_string.
  onnx_import::OnnxWriteOptions write;
};

// Imports the model at `path` (format chosen by content) and returns its
// graph. A bundle is verified as LoadModel
// verifies it. Errors: those of loading; kInvalidArgument for a torch.save
// state_dict (tensors without an architecture); kNotSupported for formats
// with no graph.
Result<ExportableGraph> ImportGraphForExport(const std::string& path, const LoadOptions& options);

}  // namespace tiffin

#endif  // TIFFIN_IMPORTERS_LOAD_H_
