// libFuzzer target: arbitrary bytes as a zip archive, through the bounded
// reader the torch and Keras importers share (io/zip_reader.h): every
// member read, deflated ones too, under small caps.
// Nothing may crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "io/zip_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tiffin::io::ZipLimits limits;
  limits.max_entries = 1000;
  limits.max_member_bytes = size_t{16} << 20;
  tiffin::io::ZipReader zip;
  if (!zip.Open(bytes, limits).ok()) return 0;
  for (const auto& name : zip.names()) (void)zip.Read(name, size_t{16} << 20);
  return 0;
}
