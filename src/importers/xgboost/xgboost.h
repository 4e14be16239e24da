// The XGBoost importer: JSON, UBJSON and legacy binary models, and
// XGBClassifier/XGBRegressor/Booster pickles, read without XGBoost.
//
// The model becomes a gbdt::GbdtModel (float32 comparisons `x < split`,
// missing values to the default child, categorical splits whose listed
// categories go right) and then a standard ONNX graph (gbdt.h describes the
// outputs: `label`/`probabilities` or `variable`, plus `margin`).
#ifndef TIFFIN_IMPORTERS_XGBOOST_XGBOOST_H_
#define TIFFIN_IMPORTERS_XGBOOST_XGBOOST_H_

#include <string>
#include <string_view>

#include "importers/gbdt/gbdt.h"
#include "importers/xgboost/json_value.h"
#include "tiffin/options.h"

namespace tiffin::xgboost {

// A model document: {"learner": ..., "version": [...]} or the pickled
// booster's {"Config": ..., "Model": {...}}.
Result<gbdt::GbdtModel> ReadModelDocument(const JValue& doc);
// The legacy binary format (optional "binf" header; XGBoost 0.x - 2.x).
Result<gbdt::GbdtModel> ReadBinaryModel(std::string_view bytes);
// Any of XGBoost's encodings, told apart by content; also the raw booster
// bytes held by a pickled Booster ("handle").
Result<gbdt::GbdtModel> ReadModelBytes(std::string_view bytes);

// Content sniffing for LoadModel.
// A JSON/UBJSON document that looks like an XGBoost model (has "learner").
bool LooksLikeXgboostDocument(std::string_view head);
// The legacy binary format: "binf", or the 0.x layout with no header (a
// learner parameter block followed by a known objective name).
bool LooksLikeXgboostBinary(std::string_view head);

// From a file (JSON, UBJSON or binary) or a pickle of an XGBoost estimator.
Result<sklearn::ImportedGraph> ImportXgboostFile(const std::string& path,
                                                 const LoadOptions& options);
Result<sklearn::ImportedGraph> ImportXgboostPickle(const std::string& path,
                                                   const LoadOptions& options);
// True when a pickle names an xgboost class.
bool PickleIsXgboost(std::string_view bytes);
// The same for the (possibly compressed joblib) pickle file at `path`.
bool FileIsXgboostPickle(const std::string& path, size_t max_bytes);

}  // namespace tiffin::xgboost

#endif  // TIFFIN_IMPORTERS_XGBOOST_XGBOOST_H_
