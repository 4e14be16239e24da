// libFuzzer target: arbitrary bytes as an XGBoost model (JSON, UBJSON, the
// binary format, or a pickled Booster's bytes); a model that reads is turned
// into its TreeEnsemble graph. Nothing may crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "importers/gbdt/gbdt.h"
#include "importers/xgboost/json_value.h"
#include "importers/xgboost/xgboost.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)tiffin::xgboost::LooksLikeXgboostDocument(bytes);
  (void)tiffin::xgboost::LooksLikeXgboostBinary(bytes);
  (void)tiffin::xgboost::ParseUbjson(bytes);
  auto model = tiffin::xgboost::ReadModelBytes(bytes);
  if (!model.ok()) return 0;
  (void)tiffin::gbdt::BuildGbdtGraph(*model);
  return 0;
}
