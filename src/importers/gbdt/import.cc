#include "importers/gbdt/import.h"

#include <fstream>

#include "importers/lightgbm/lightgbm.h"
#include "importers/xgboost/xgboost.h"

namespace tiffin::gbdt {

Kind GradientBoostingKind(const std::string& path, const std::string& format) {
  if (format == "lightgbm-text") return Kind::kLightgbmText;
  if (format == "json" || format == "unknown" || format == "onnx") {
    std::string head(4096, '\0');
    std::ifstream in(path, std::ios::binary);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    if (format == "json" ? xgboost::LooksLikeXgboostDocument(head)
                         : xgboost::LooksLikeXgboostBinary(head))
      return Kind::kXgboostFile;
    return Kind::kNone;
  }
  // DetectFormat's names for pickles and (compressed) joblib files.
  const bool pickle = format == "pickle" || format == "gzip" || format == "bzip2" ||
                      format == "xz" || format == "zstd" || format == "lz4" || format == "lzma" ||
                      format == "zlib";
  if (pickle && xgboost::FileIsXgboostPickle(path, LoadOptions{}.max_file_bytes))
    return Kind::kXgboostPickle;
  return Kind::kNone;
}

Result<std::shared_ptr<sklearn::ImportedGraph>> ImportGradientBoosting(const std::string& path,
                                                                       const std::string& format,
                                                                       const LoadOptions& options) {
  Result<sklearn::ImportedGraph> g = NotFound("");
  switch (GradientBoostingKind(path, format)) {
    case Kind::kNone:
      return std::shared_ptr<sklearn::ImportedGraph>();
    case Kind::kLightgbmText:
      g = lightgbm::ImportLightgbmFile(path, options);
      break;
    case Kind::kXgboostFile:
      g = xgboost::ImportXgboostFile(path, options);
      break;
    case Kind::kXgboostPickle:
      g = xgboost::ImportXgboostPickle(path, options);
      break;
  }
  if (!g.ok()) return g.status();
  return std::make_shared<sklearn::ImportedGraph>(std::move(*g));
}

}  // namespace tiffin::gbdt
