// libFuzzer target: arbitrary bytes as a Keras file -- a `.keras` zip (our
// bounded libzip reading: path traversal, bombs, lying sizes) or an HDF5
// image (libhdf5 plus our bounded attribute and dataset reading) -- then
// the importer. Errors are fine; crashes and over-allocations are not.
// Run with -max_len large enough for a zip of an HDF5 file (~64 KiB).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "importers/keras/keras.h"
#include "io/zip_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tiffin::io::ZipLimits limits;
  limits.max_member_bytes = size_t{64} << 20;
  (void)tiffin::io::ReadZipMembers(bytes, {"config.json", "model.weights.h5"}, limits);
  tiffin::LoadOptions options;
  options.max_file_bytes = size_t{64} << 20;
  options.max_tensor_bytes = size_t{16} << 20;
  auto src = tiffin::keras::ReadKerasBytes(bytes, "", options);
  if (!src.ok()) return 0;
  (void)tiffin::keras::ImportKeras(*src, options);
  return 0;
}
