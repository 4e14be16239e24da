// libFuzzer target: arbitrary bytes as a PyTorch file (torch.save zip,
// legacy magic-number pickles, TorchScript zip), read with ReadTorchBytes
// under small limits, and the result rendered as inspect's text and JSON;
// the same bytes through the TorchScript Sequential converter.
// Nothing may crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "importers/torch/torch_archive.h"
#include "importers/torch/torchscript.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tiffin::torch_import::TorchReadOptions options;
  options.max_file_bytes = size_t{1} << 20;
  options.max_tensor_bytes = size_t{16} << 20;
  options.max_total_bytes = size_t{64} << 20;
  options.max_tensors = 10000;
  (void)tiffin::torch_import::DetectTorchBytes(bytes);
  auto a = tiffin::torch_import::ReadTorchBytes(bytes, options);
  if (a.ok()) {
    (void)tiffin::torch_import::TorchArchiveText(*a, "fuzz.pt");
    (void)tiffin::torch_import::TorchArchiveJson(*a, "fuzz.pt");
  }
  (void)tiffin::torch_import::ImportTorchScriptBytes(bytes, options);
  return 0;
}
