// libFuzzer target: arbitrary bytes as a `.tiffin` bundle: the zip directory
// reader, the manifest, entry hashes, model.onnx with weights.bin ranges, and
// the reference replay (docs/bundle-format.md).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "bundle/bundle.h"
#include "bundle/zip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)tiffin::bundle::ReadZipDirectory(
      std::string_view(reinterpret_cast<const char*>(data), size));
  // The loader keeps pointers into the bytes: give it a buffer it owns, 64-byte
  // aligned as a mapping would be.
  std::shared_ptr<char> copy(static_cast<char*>(::operator new (size + 1, std::align_val_t{64})),
                             [](char* p) { ::operator delete (p, std::align_val_t{64}); });
  if (size) std::memcpy(copy.get(), data, size);
  tiffin::LoadOptions options;
  options.max_tensor_bytes = size_t{64} << 20;
  options.max_external_bytes = size_t{64} << 20;
  options.max_nodes = 10000;
  (void)tiffin::bundle::LoadBundleBytes(copy.get(), size, copy, options);
  return 0;
}
