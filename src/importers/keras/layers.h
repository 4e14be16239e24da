// Keras layers -> ONNX nodes. One Converter per model; Apply() emits the
// nodes for one layer call and returns its output values.
#ifndef TIFFIN_IMPORTERS_KERAS_LAYERS_H_
#define TIFFIN_IMPORTERS_KERAS_LAYERS_H_

#include <simdjson.h>

#include <string>
#include <vector>

#include "importers/keras/h5.h"
#include "importers/sklearn/graph_builder.h"

namespace tiffin::keras {

// A value in the graph with its channels_last shape (batch first; -1 where
// unknown).
struct Val {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat32;
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
};

class Converter {
 public:
  Converter(sklearn::GraphBuilder& b, std::string keras_version);

  // A graph input for an InputLayer config.
  Result<Val> Input(const std::string& name, simdjson::dom::element config);

  // One call of layer `name` of class `cls` on `ins`.
  Result<std::vector<Val>> Apply(const std::string& cls, const std::string& name,
                                 simdjson::dom::element config, const std::vector<Val>& ins,
                                 const LayerWeights& w);

  const std::vector<std::string>& notes() const { return notes_; }

 private:
  sklearn::GraphBuilder& b_;
  int keras_major_ = 2;
  std::vector<std::string> notes_;
  // The Embedding with mask_zero=True met so far, if any: layers that
  // consume Keras masks after it are refused.
  std::string masked_by_;
};

}  // namespace tiffin::keras

#endif  // TIFFIN_IMPORTERS_KERAS_LAYERS_H_
