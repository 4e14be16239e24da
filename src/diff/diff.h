// Model diff: what changed between two models of any formats tiffin reads.
//
// Both models are read as graphs of standard ops (ONNX as it is, scikit-learn
// files through the importer), then compared section by section: provenance,
// input/output schemas, graph structure (op sequence aligned by longest
// common subsequence, so one replaced activation is one line), parameters
// (counts; per tensor the largest absolute difference where shapes match)
// and the training statistics the models carry (preprocessing).
#ifndef TIFFIN_DIFF_DIFF_H_
#define TIFFIN_DIFF_DIFF_H_

#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "tiffin/model.h"
#include "tiffin/options.h"

namespace tiffin::diff {

// A model as a graph, with what its importer knows.
struct GraphView {
  std::string path;
  std::shared_ptr<const ir::Graph> graph;
  std::vector<TensorInfo> inputs, outputs;
  ModelInfo info;
};

// Reads any format LoadModel reads, without compiling. `options.steps`
// composes objects of a multi-object pickle.
Result<GraphView> ReadGraph(const std::string& path, const LoadOptions& options = {});

struct Line {
  std::string
      section;  // "provenance", "inputs", "outputs", "structure", "parameters", "preprocessing"
  bool changed = false;  // false: a "same" summary line
  std::string text;
};

struct DiffResult {
  std::vector<Line> lines;
  bool identical = true;  // no line is changed
};

// Compares two models. Never fails: what cannot be compared is reported.
DiffResult Compare(const GraphView& a, const GraphView& b);

// Text for a terminal (one line per finding) and JSON.
std::string ToText(const DiffResult& r);
std::string ToJson(const DiffResult& r, const GraphView& a, const GraphView& b);

}  // namespace tiffin::diff

#endif  // TIFFIN_DIFF_DIFF_H_
