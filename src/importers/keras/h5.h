// Reading Keras weight files with Debian's libhdf5, from a file image held in
// memory (a `.h5` file, or the `model.weights.h5` member of a `.keras` zip).
//
// Every count and size read from the file is bounded before it is used.
// libhdf5 itself is not safe on damaged files (fuzz/known_libhdf5_bugs/), so
// each read runs libhdf5 in a forked child process with a time limit: a file
// that makes it crash or loop is an error here, not a dead caller. libhdf5 is
// not thread-safe in Debian's serial build: every call here holds one
// process-wide lock.
#ifndef TIFFIN_IMPORTERS_KERAS_H5_H_
#define TIFFIN_IMPORTERS_KERAS_H5_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tiffin/status.h"
#include "tiffin/tensor.h"

namespace tiffin::keras {

// How long libhdf5 may take to read one file: a large model reads in well
// under a second.
inline constexpr int kHdf5TimeoutMs = 30000;

// One layer's weights in the file's order. `names` (legacy `.h5` only) holds
// each weight's trailing name ("kernel", "bias", "moving_mean"); it is empty
// for Keras 3 files, whose weights are positional. `paths` (legacy `.h5`
// only) holds each weight's full name as the file lists it in
// `weight_names` ("dense_1/kernel:0"); a nested model's group holds the
// weights of all its layers, told apart by these paths.
struct LayerWeights {
  std::vector<std::string> names;
  std::vector<std::string> paths;
  std::vector<Tensor> values;
};

// What a legacy Keras `.h5` file holds.
struct LegacyH5 {
  std::string model_config;   // root attr `model_config`; empty for weights-only files
  std::string keras_version;  // may be empty
  std::string backend;
  std::map<std::string, LayerWeights> layers;  // by layer name
};

// Reads a legacy (Keras 1/2, or Keras 3 `save(..h5)`) file image.
// Errors: those of the file's content, kDataLoss when libhdf5 crashed or
// did not finish within `timeout_ms`.
Result<LegacyH5> ReadLegacyH5(std::string_view image, size_t max_tensor_bytes,
                              int timeout_ms = kHdf5TimeoutMs);

// Reads a Keras 3 `model.weights.h5` image: every group that holds a `vars`
// group, by its path ("layers/dense", "layers/lstm/cell"), with the datasets
// "0", "1", ... in order.
Result<std::map<std::string, std::vector<Tensor>>> ReadKeras3Weights(
    std::string_view image, size_t max_tensor_bytes, int timeout_ms = kHdf5TimeoutMs);

}  // namespace tiffin::keras

#endif  // TIFFIN_IMPORTERS_KERAS_H5_H_
