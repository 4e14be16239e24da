// The scikit-learn importer: a pickle or joblib file -> an ir::Graph of
// standard ONNX ops (ai.onnx 17 + ai.onnx.ml), never executing the file.
#ifndef TIFFIN_IMPORTERS_SKLEARN_SKLEARN_H_
#define TIFFIN_IMPORTERS_SKLEARN_SKLEARN_H_

#include <memory>
#include <string>
#include <vector>

#include "importers/pickle/pickle.h"
#include "ir/graph.h"
#include "tiffin/model.h"
#include "tiffin/options.h"
#include "tiffin/sklearn.h"

namespace tiffin::sklearn {

// A parsed file: its root value and how it was stored.
struct ParsedFile {
  std::shared_ptr<pickle::PickleValue> root;
  SklearnFileInfo info;  // objects/notes not filled
};

Result<ParsedFile> ParseSklearnFile(const std::string& path, size_t max_bytes);
// The same for bytes in memory (joblib side files are refused).
Result<ParsedFile> ParseSklearnBytes(std::string_view bytes, size_t max_bytes);

// Lists the estimators in `root` (a single estimator, or a tuple/list/dict
// of them) with their roles and names.
SklearnFileInfo ListObjects(const ParsedFile& file);

struct ImportedGraph {
  std::shared_ptr<ir::Graph> graph;
  std::vector<TensorInfo> inputs, outputs;
  ModelInfo info;
  std::vector<std::string> notes;
};

// Converts the objects named by `steps` (or the file's one estimator /
// predictor) into one graph.
Result<ImportedGraph> ImportSklearn(const ParsedFile& file, const std::vector<std::string>& steps);

// Everything at once, from a path.
Result<ImportedGraph> ImportSklearnFile(const std::string& path, const LoadOptions& options);

}  // namespace tiffin::sklearn

#endif  // TIFFIN_IMPORTERS_SKLEARN_SKLEARN_H_
