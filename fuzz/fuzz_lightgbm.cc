// libFuzzer target: arbitrary bytes as a LightGBM text model; a model that
// reads is turned into its TreeEnsemble graph. Nothing may crash, hang or
// over-allocate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "importers/gbdt/gbdt.h"
#include "importers/lightgbm/lightgbm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto model = tiffin::lightgbm::ReadTextModel(text);
  if (!model.ok()) return 0;
  (void)tiffin::gbdt::BuildGbdtGraph(*model);
  return 0;
}
