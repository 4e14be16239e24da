// The LightGBM importer: text models (`model.save_model()`, format v2-v4)
// read without LightGBM, into a gbdt::GbdtModel and then a standard ONNX
// graph (gbdt.h describes the outputs).
//
// LightGBM compares in float64, `x <= threshold` goes left; decision_type
// bit 0 marks a categorical split (categories in the cat_threshold bitset go
// left; NaN and negatives go right), bit 1 default_left, bits 2-3 the
// missing type: None (NaN is read as 0), Zero (0 and NaN take the default
// child), NaN (NaN takes the default child).
#ifndef TIFFIN_IMPORTERS_LIGHTGBM_LIGHTGBM_H_
#define TIFFIN_IMPORTERS_LIGHTGBM_LIGHTGBM_H_

#include <string>
#include <string_view>

#include "importers/gbdt/gbdt.h"
#include "tiffin/options.h"

namespace tiffin::lightgbm {

// Parses a LightGBM text model. Errors name the tree and key.
Result<gbdt::GbdtModel> ReadTextModel(std::string_view text);

Result<sklearn::ImportedGraph> ImportLightgbmFile(const std::string& path,
                                                  const LoadOptions& options);

}  // namespace tiffin::lightgbm

#endif  // TIFFIN_IMPORTERS_LIGHTGBM_LIGHTGBM_H_
