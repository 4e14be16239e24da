// Conversion between ONNX TensorProto and tiffin Tensor.
#ifndef TIFFIN_IMPORTERS_ONNX_TENSOR_PROTO_H_
#define TIFFIN_IMPORTERS_ONNX_TENSOR_PROTO_H_

#include <string>

#include "tiffin/options.h"
#include "tiffin/tensor.h"

namespace onnx {
class TensorProto;
}

namespace tiffin::onnx_import {

// Where external tensor data may be read from. An empty base_dir refuses
// external data. `external_bytes` accumulates what was read, against
// LoadOptions::max_external_bytes.
struct ExternalData {
  std::string base_dir;
  size_t external_bytes = 0;
};

// Converts `proto` (raw_data, typed fields or external data) into a Tensor.
// Errors name the tensor and say what is inconsistent (size vs dims, unknown
// dtype, a path leaving base_dir, a short external file).
Result<Tensor> TensorFromProto(const onnx::TensorProto& proto, ExternalData* external,
                               const LoadOptions& options);

// Reads a file holding one serialized TensorProto (ONNX test data .pb).
Result<Tensor> ReadTensorProtoFile(const std::string& path, const LoadOptions& options = {});

// Fills `proto` (cleared first) with `tensor` named `name`: numeric, bool and
// float16 data as little-endian raw_data, strings as string_data. Errors:
// kInvalidArgument for a tensor without a dtype.
Status TensorToProto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto);

// Writes `tensor` as a serialized TensorProto (as TensorToProto fills it).
Result<std::string> SerializeTensorProto(const Tensor& tensor, const std::string& name);

// Reads a whole file, refusing more than `max_bytes`.
Result<std::string> ReadFileBytes(const std::string& path, size_t max_bytes);

}  // namespace tiffin::onnx_import

#endif  // TIFFIN_IMPORTERS_ONNX_TENSOR_PROTO_H_
