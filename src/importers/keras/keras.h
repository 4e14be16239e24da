// The Keras importer: legacy `.h5` models, weights-only `.h5` files with an
// architecture JSON, and Keras 3 `.keras` zips -> an ir::Graph of standard
// ONNX ops (ai.onnx 17). Nothing in the file is executed: layers are read
// from an allow-list of built-in classes, and Lambda layers or custom classes
// are refused by name.
//
// Tensors keep each layer's own layout between layers: channels_last
// convolutions and pools are wrapped in Transposes to ONNX's channels_first
// and back, channels_first ones feed ONNX as they are. Models nested as
// layers (Sequential or Functional inside another) are emitted inline at
// each call.
#ifndef TIFFIN_IMPORTERS_KERAS_KERAS_H_
#define TIFFIN_IMPORTERS_KERAS_KERAS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "importers/keras/h5.h"
#include "importers/sklearn/sklearn.h"
#include "tiffin/options.h"

namespace tiffin::keras {

// Everything the files hold, before conversion.
struct KerasSource {
  std::string format;         // "Keras HDF5", "Keras HDF5 weights + JSON", "Keras 3 .keras"
  std::string config_json;    // {"class_name": "Sequential"|"Functional"|"Model", "config": ...}
  std::string keras_version;  // "2.11.0"; empty when the file does not say
  // Legacy files: weights by layer name. Keras 3 files: by saving path
  // ("layers/dense", "layers/lstm/cell").
  std::map<std::string, LayerWeights> legacy;
  std::map<std::string, std::vector<Tensor>> keras3;
  bool is_keras3 = false;
};

// Reads a file (HDF5 or zip) and, when given, the architecture JSON
// (`options.config_path`, for weights-only `.h5` files).
Result<KerasSource> ReadKerasFile(const std::string& path, const LoadOptions& options);
// The same from bytes in memory (the fuzz targets use it); `config_json`
// may be empty.
Result<KerasSource> ReadKerasBytes(std::string_view bytes, std::string_view config_json,
                                   const LoadOptions& options);

// Builds the graph.
Result<sklearn::ImportedGraph> ImportKeras(const KerasSource& source, const LoadOptions& options);

// ReadKerasFile + ImportKeras.
Result<sklearn::ImportedGraph> ImportKerasFile(const std::string& path, const LoadOptions& options);

}  // namespace tiffin::keras

#endif  // TIFFIN_IMPORTERS_KERAS_KERAS_H_
