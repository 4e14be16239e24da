// libFuzzer target: arbitrary bytes as a request body: the JSON forms (v2 and
// shorthand), .npy and CSV parsers that the CLI (and later the server) feed
// with strangers' data.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/tensor_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tiffin::io::ParseLimits limits;
  limits.max_tensor_bytes = size_t{64} << 20;
  limits.max_elements = size_t{1} << 22;
  tiffin::TensorInfo x;
  x.name = "x";
  x.dtype = size % 2 ? tiffin::DType::kFloat32 : tiffin::DType::kInt64;
  auto parsed = tiffin::io::ParseJsonInputs(bytes, {x}, limits);
  if (parsed.ok()) {
    std::vector<tiffin::NamedTensor> outs = *parsed;
    (void)tiffin::io::WriteJsonOutputs(outs);
  }
  auto npy = tiffin::io::ParseNpy(bytes, limits);
  if (npy.ok()) (void)tiffin::io::WriteNpy(*npy);
  std::vector<std::string> header;
  (void)tiffin::io::ParseCsv(bytes, tiffin::DType::kFloat32, &header, limits);
  return 0;
}
