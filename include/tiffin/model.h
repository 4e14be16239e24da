// Model: a loaded, immutable, executable graph.
//
// Thread safety: a Model is immutable after loading. Any number of threads
// may call Run() on one Model at the same time; each call has its own
// scratch memory. Share it as std::shared_ptr<const Model>.
//
// Example:
//   auto model = tiffin::LoadOnnxFile("mlp.onnx");
//   if (!model.ok()) { print(model.status().ToString()); return 1; }
//   auto out = (*model)->Run({{"x", tiffin::Tensor(tiffin::DType::kFloat32, {1, 16})}});
#ifndef TIFFIN_MODEL_H_
#define TIFFIN_MODEL_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tiffin/dtype.h"
#include "tiffin/options.h"
#include "tiffin/status.h"
#include "tiffin/tensor.h"

namespace tiffin {

// One dimension of a declared shape: a fixed size, a symbol ("batch"), or
// unknown (value < 0 and empty symbol).
struct Dim {
  int64_t value = -1;
  std::string symbol;
  bool fixed() const { return value >= 0; }
};

// "[batch,3,224,224]"; unknown dims print as "?".
std::string DimsToString(const std::vector<Dim>& dims);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  bool has_shape = false;  // false: rank unknown
  std::vector<Dim> shape;
};

// What the model knows about one input feature from training. Fields it
// does not know are NaN / empty.
struct FeatureStats {
  std::string name;  // the column name, or "x3"
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::string> categories;  // known categories of a text column
  std::string source;                   // "MinMaxScaler.data_min_/data_max_", ...
};

// What `tiffin inspect` shows. Filled in by the importer.
struct ModelInfo {
  std::string format;  // "onnx"
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  int64_t ir_version = 0;
  std::string doc_string;
  std::map<std::string, int64_t> opsets;     // domain ("" = ai.onnx) -> version
  std::map<std::string, int64_t> op_counts;  // "Conv" or "ai.onnx.ml:Scaler" -> count
  int64_t parameter_count = 0;               // elements in initializers
  int64_t parameter_bytes = 0;
  std::map<std::string, std::string> metadata;  // metadata_props
  // The column names the model was fitted with (scikit-learn's
  // feature_names_in_), in order; empty when unknown. Tabular input is
  // matched to them by name.
  std::vector<std::string> feature_names;
  // Per input feature (in input column order), what training left in the
  // model: scaler ranges and moments, imputer statistics, encoder
  // categories, tree split ranges. Empty when the model holds none.
  std::vector<FeatureStats> training_stats;
  // A classifier's labels, in the order of its probability columns, as text
  // (integers in decimal); empty when the model is not a classifier or its
  // format does not say.
  std::vector<std::string> class_labels;
};

class Model {
 public:
  virtual ~Model() = default;

  virtual const std::vector<TensorInfo>& inputs() const = 0;
  virtual const std::vector<TensorInfo>& outputs() const = 0;
  virtual const ModelInfo& info() const = 0;

  // Runs the model. `inputs` are matched by name; every required input must
  // be given once. Returns the outputs in the order of outputs().
  // Errors: kInvalidArgument naming the input for an unknown or missing name,
  // a wrong dtype, rank or fixed dim, or inconsistent symbolic dims;
  // kResourceExhausted when a tensor would exceed max_tensor_bytes; errors
  // raised by kernels name the node and op.
  virtual Result<std::vector<Tensor>> Run(const std::vector<NamedTensor>& inputs) const = 0;
};

// Loads an ONNX model from a file. External data files are resolved relative
// to the model's directory and may not leave it.
Result<std::shared_ptr<const Model>> LoadOnnxFile(const std::string& path,
                                                  const LoadOptions& options = {});

// Loads an ONNX model from serialized bytes. `base_dir` resolves external
// data ("" refuses external data).
Result<std::shared_ptr<const Model>> LoadOnnxBytes(const std::string& bytes,
                                                   const std::string& base_dir,
                                                   const LoadOptions& options = {});

// Loads a model of any format tiffin reads, chosen by the file's content
// (not its extension). Errors name the format detected when it cannot be read.
Result<std::shared_ptr<const Model>> LoadModel(const std::string& path,
                                               const LoadOptions& options = {});

// Writes the model at `path` (any format LoadModel reads) as a standard ONNX
// file at `out_path`: ai.onnx opset 17 and ai.onnx.ml 3 (5 when the graph
// holds a TreeEnsemble), IR version 8 (10 with ai.onnx.ml 5). The file runs
// unchanged in ONNX Runtime. `options.steps` composes objects as in LoadModel.
// A .tiffin bundle is verified as LoadModel verifies it (checksums, and its
// reference cases when options.verify) and written with its weights inlined
// and its provenance in metadata_props.
Status ConvertToOnnx(const std::string& path, const std::string& out_path,
                     const LoadOptions& options = {});

// True for the formats read by the scikit-learn importer (pickles and
// compressed joblib files), as named by DetectFormat.
bool IsPickleFormat(const std::string& format);

// True for the files the XGBoost and LightGBM importers read: XGBoost JSON,
// UBJSON, binary models and pickled XGBoost estimators (which are pickles,
// but not scikit-learn ones), and LightGBM text models.
bool IsGradientBoostingFile(const std::string& path);

// Names the format of a file from its first bytes: "onnx", "pickle", "zip",
// "hdf5", "json", "npy", "gzip", ... or "unknown".
std::string DetectFormat(std::string_view head);

// DetectFormat on the first bytes of the file at `path`. Errors: kNotFound
// (missing or unreadable), kInvalidArgument (a directory), kDataLoss (empty).
Result<std::string> DetectFileFormat(const std::string& path);

// The tiffin version string, "MAJOR.MINOR.PATCH".
const char* Version();

}  // namespace tiffin

#endif  // TIFFIN_MODEL_H_
