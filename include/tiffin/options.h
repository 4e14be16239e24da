// Options for loading and running models. Every field states its default.
#ifndef TIFFIN_OPTIONS_H_
#define TIFFIN_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tiffin {

// Threads: a Run executes on the calling thread. tiffin sets OpenBLAS to one
// thread on first load unless OPENBLAS_NUM_THREADS is set in the
// environment; run several requests at once for throughput.
struct LoadOptions {
  // Largest model file read, in bytes. Default: 2 GiB (protobuf's own limit).
  size_t max_file_bytes = size_t{2} << 30;
  // Largest single tensor (initializer, input or intermediate) in bytes.
  // Allocations beyond it are refused with kResourceExhausted.
  // Default: 4 GiB.
  size_t max_tensor_bytes = size_t{4} << 30;
  // Largest external-data file total, in bytes. Default: 16 GiB.
  size_t max_external_bytes = size_t{16} << 30;
  // Deepest nesting of subgraphs (If/Loop bodies). Default: 16.
  int max_subgraph_depth = 16;
  // Largest number of nodes in one graph. Default: 1,000,000.
  int64_t max_nodes = 1000000;
  // For files that hold several objects (a scikit-learn `(model, scaler)`
  // tuple): the objects to compose into one pipeline, in order, each by name
  // (as `tiffin inspect` lists them), index or class name. Empty: the file's
  // single estimator, or its predictor when it holds one predictor.
  std::vector<std::string> steps;
  // For `.tiffin` bundles: replay the bundle's reference cases after loading
  // and refuse the bundle when a prediction differs from the one recorded at
  // pack time. Entry checksums are verified either way. Default: true.
  bool verify = true;
  // For Keras weights-only `.h5` files (`model.save_weights`): the
  // architecture JSON (`model.to_json()`) to pair them with. Empty: the
  // model file must hold its own architecture.
  std::string config_path;
};

}  // namespace tiffin

#endif  // TIFFIN_OPTIONS_H_
