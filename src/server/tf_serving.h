// TF Serving's REST forms beyond the basic :predict: {"b64": "..."} values
// and *_bytes outputs, and :classify / :regress over tf.Example-style
// "examples". service.cc routes the requests; docs/serving.md is the reference.
#ifndef TIFFIN_SERVER_TF_SERVING_H_
#define TIFFIN_SERVER_TF_SERVING_H_

#include <simdjson.h>

#include <string>
#include <vector>

#include "io/tensor_io.h"
#include "tiffin/model.h"
#include "tiffin/status.h"

namespace tiffin::server {

// Binary values ({"b64": "..."}) decoded out of a request: the JSON keeps a
// placeholder string in their place, swapped for the bytes once the tensors
// are built (JSON strings cannot hold arbitrary bytes).
struct B64Values {
  std::vector<std::string> blobs;
  // Replaces placeholders in string tensors with their bytes; a placeholder
  // left in an error message reads "<b64 value>".
  void Fill(std::vector<NamedTensor>* feeds) const;
  std::string Scrub(const std::string& message) const;
};

// Rewrites a :predict body ({"instances"} or {"inputs"}) with every
// {"b64": "..."} value decoded into `b64`. Errors (400) name the input: bad
// base64, or a binary value for an input that does not take text.
Status RewriteB64Predict(simdjson::dom::element root, const Model& model, std::string* doc,
                         B64Values* b64);

// The tensors of a :classify / :regress body
//   {"signature_name"?, "context"?: {feature: value}, "examples": [{feature: value|[values]}]}
// Each example's features (over the context's; an example's own value wins)
// bind to the model's inputs by name: either every feature names a model
// input (values fill that input's row), or the features are the model's
// columns (feature names, as MLflow's dataframe_records binds them), one
// value each. Errors name the example and the feature.
Result<std::vector<NamedTensor>> ParseExamples(simdjson::dom::element root, const Model& model,
                                               const io::ParseLimits& limits, B64Values* b64);

// Which output :classify reports (class probabilities, with the model's class
// labels) and which :regress reports (one number per example). Errors (400)
// say why the model does not fit and which verb to use instead.
Result<size_t> ClassifyOutput(const Model& model);
Result<size_t> RegressOutput(const Model& model);

// {"results": [[[label, score], ...], ...]} and {"results": [v, ...]}: the key
// TF Serving writes (kClassifyRegressResponseKey in its util/json_tensor.cc;
// its REST docs say "result" in places).
Result<std::string> ClassifyResult(const Model& model, const Tensor& probabilities,
                                   int64_t examples);
Result<std::string> RegressResult(const std::string& output, const Tensor& values,
                                  int64_t examples);

// Standard base64 (padding optional). False on any other character.
bool DecodeBase64(std::string_view in, std::string* out);
std::string EncodeBase64(std::string_view in);

}  // namespace tiffin::server

#endif  // TIFFIN_SERVER_TF_SERVING_H_
