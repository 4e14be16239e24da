// Picks an importer from a file's content, not its extension.
#include <cstring>
#include <filesystem>
#include <fstream>

#include "importers/onnx/tensor_proto.h"
#include "tiffin/model.h"

namespace tiffin {

std::string DetectFormat(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts("\x89HDF\r\n\x1a\n")) return "hdf5";
  if (starts("PK\x03\x04")) return "zip";
  if (starts("\x93NUMPY")) return "npy";
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x80 &&
      static_cast<unsigned char>(head[1]) >= 2 && static_cast<unsigned char>(head[1]) <= 5) {
    return "pickle";
  }
  if (starts("\x1f\x8b")) return "gzip";
  if (starts("BZh")) return "bzip2";
  if (starts("\xfd"
             "7zXZ"))
    return "xz";
  if (starts("\x28\xb5\x2f\xfd")) return "zstd";
  size_t i = 0;
  while (i < head.size() &&
         (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t'))
    ++i;
  if (i < head.size() && (head[i] == '{' || head[i] == '[')) return "json";
  if (starts("tree\n") || starts("version=v")) return "lightgbm-text";
  // An ONNX ModelProto starts with field 1 (ir_version, varint: 0x08) in
  // practice; protobuf allows other orders, so this is a hint, not a proof.
  if (!head.empty() && (head[0] == 0x08 || head[0] == 0x12 || head[0] == 0x1a || head[0] == 0x3a)) {
    return "onnx";
  }
  return "unknown";
}

Result<std::shared_ptr<const Model>> LoadModel(const std::string& path,
                                               const LoadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFound("model file '" + path + "' not found");
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgument("'" + path + "' is a directory; give the model file inside it");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '" + path + "'");
  std::string head(64, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.empty()) return DataLoss(path + ": the file is empty");
  const std::string format = DetectFormat(head);
  auto refuse = [&](const char* what) -> Status {
    return NotSupported(path + ": this file looks like " + std::string(what) +
                        "; this build of tiffin reads ONNX models only (export the model to ONNX, "
                        "or use a tiffin version with that importer)");
  };
  if (format == "pickle") return refuse("a Python pickle (scikit-learn, joblib or PyTorch)");
  if (format == "hdf5") return refuse("an HDF5 file (Keras .h5)");
  if (format == "zip") return refuse("a zip archive (Keras .keras or PyTorch .pt)");
  if (format == "npy") {
    return InvalidArgument(path + ": this is a .npy array, not a model (pass it with --input)");
  }
  if (format == "json") return refuse("a JSON document (XGBoost JSON or a Keras config)");
  if (format == "lightgbm-text") return refuse("a LightGBM text model");
  if (format == "gzip" || format == "bzip2" || format == "xz" || format == "zstd") {
    return refuse("a compressed file (a compressed joblib pickle?)");
  }
  return LoadOnnxFile(path, options);
}

}  // namespace tiffin
