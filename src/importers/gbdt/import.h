// Which gradient-boosting importer reads a file (XGBoost or LightGBM), told
// by content, and the import itself. LoadModel, ConvertToOnnx and `tiffin
// pack` go through here.
#ifndef TIFFIN_IMPORTERS_GBDT_IMPORT_H_
#define TIFFIN_IMPORTERS_GBDT_IMPORT_H_

#include <memory>
#include <string>

#include "importers/sklearn/sklearn.h"
#include "tiffin/options.h"

namespace tiffin::gbdt {

enum class Kind {
  kNone,
  kXgboostFile,    // JSON, UBJSON or the binary format
  kXgboostPickle,  // a pickled XGBoost estimator or Booster (joblib too)
  kLightgbmText,
};

// `format` is DetectFileFormat's name for the file at `path`.
Kind GradientBoostingKind(const std::string& path, const std::string& format);

// The importer's graph, or null when `path` is no gradient-boosting file.
Result<std::shared_ptr<sklearn::ImportedGraph>> ImportGradientBoosting(const std::string& path,
                                                                       const std::string& format,
                                                                       const LoadOptions& options);

}  // namespace tiffin::gbdt

#endif  // TIFFIN_IMPORTERS_GBDT_IMPORT_H_
