// libFuzzer target: arbitrary bytes as an ONNX model. Loading must either
// succeed or return an error; a model that loads is also run on small inputs
// of its declared dtypes and shapes. Nothing may crash, leak or overflow.
//   make fuzz FUZZ_SECONDS=300
#include <cstddef>
#include <cstdint>
#include <string>

#include "tiffin/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tiffin::LoadOptions options;
  options.max_tensor_bytes = size_t{64} << 20;  // keep the fuzzer's memory bounded
  options.max_external_bytes = 0;
  options.max_nodes = 10000;
  auto model = tiffin::LoadOnnxBytes(std::string(reinterpret_cast<const char*>(data), size), "",
                                     options);
  if (!model.ok()) return 0;
  std::vector<tiffin::NamedTensor> feeds;
  for (const auto& in : (*model)->inputs()) {
    tiffin::Shape shape;
    int64_t n = 1;
    for (const auto& d : in.shape) {
      int64_t v = d.fixed() ? d.value : 2;
      shape.push_back(v);
      n *= v > 0 ? v : 1;
      if (n > 4096) return 0;
    }
    tiffin::DType dt = in.dtype == tiffin::DType::kUndefined ? tiffin::DType::kFloat32 : in.dtype;
    feeds.push_back({in.name, tiffin::Tensor(dt, shape)});
  }
  auto out = (*model)->Run(feeds);
  (void)out;
  return 0;
}
