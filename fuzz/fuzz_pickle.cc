// libFuzzer target: arbitrary bytes as a pickle stream, with numpy's globals
// allowed; any array found at the top level (or inside a top-level tuple or
// list) is converted to a Tensor. Nothing may crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "importers/pickle/numpy.h"
#include "importers/pickle/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)tiffin::pickle::ListGlobals(bytes);
  tiffin::pickle::PickleOptions options;
  options.allowed_globals = tiffin::pickle::kNumpyAllowedGlobals;
  auto value = tiffin::pickle::ParsePickle(bytes, options);
  if (!value.ok()) return 0;
  (void)tiffin::pickle::NumpyArrayToTensor(*value);
  for (const auto& item : value->items) {
    if (item) (void)tiffin::pickle::NumpyArrayToTensor(*item);
  }
  return 0;
}
