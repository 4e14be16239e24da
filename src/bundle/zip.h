// A small zip writer and reader for `.tiffin` bundles (docs/bundle-format.md):
// stored entries only, each entry's data at an aligned file offset so that it
// can be memory-mapped and used in place. General zip archives (compressed,
// encrypted, zip64, multi-disk) are refused, not read.
//
// Why not io/zip_reader.h (libzip, used by the torch and Keras importers):
// a bundle needs each stored entry's file offset to memory-map it in place,
// which libzip does not give, and it must refuse every general zip feature
// rather than read it.
//
// Thread safety: the functions are pure; a ZipWriter is used by one thread.
#ifndef TIFFIN_BUNDLE_ZIP_H_
#define TIFFIN_BUNDLE_ZIP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tiffin/status.h"

namespace tiffin::bundle {

// Lowercase hex SHA-256 of `data` (OpenSSL's libcrypto).
std::string Sha256Hex(std::string_view data);

// The zip CRC-32 of `data` (zlib).
uint32_t Crc32(std::string_view data);

// One entry of a zip file as ReadZipDirectory found it. `data_offset` and
// `size` have been checked to lie inside the file.
struct ZipEntry {
  std::string name;
  uint64_t header_offset = 0;  // the local file header
  uint64_t data_offset = 0;    // the first byte of the stored data
  uint64_t size = 0;
  uint32_t crc32 = 0;
};

// Builds a zip file in memory. Entries are stored (method 0); the data of
// each starts at a multiple of `alignment`, padded with an Android zipalign
// extra record (ID 0xD935) in the local header.
class ZipWriter {
 public:
  explicit ZipWriter(uint32_t alignment = 64) : alignment_(alignment) {}

  // Appends an entry. Errors: kInvalidArgument for an empty, absolute or
  // "..", backslash or duplicate name; kResourceExhausted when the file would
  // need zip64 (4 GiB, 65,535 entries).
  Status Add(const std::string& name, std::string_view data);

  // Appends the central directory and returns the whole file.
  Result<std::string> Finish();

 private:
  uint32_t alignment_;
  std::string out_;
  std::vector<ZipEntry> entries_;
};

// Reads the central directory of the zip file `file`, checking every offset
// and size against it before use: the end record, each central record, the
// local header it points to (which must agree with it) and the data range.
// Errors (kDataLoss for damage, kNotSupported for valid zips tiffin does not
// read) name the entry: truncated file, no end record, zip64, multi-disk,
// compressed or encrypted entries, data descriptors, duplicate or unsafe
// names, data outside the file.
Result<std::vector<ZipEntry>> ReadZipDirectory(std::string_view file);

// True when `name` is a relative path without "..", backslashes or empty
// components.
bool IsSafeEntryName(std::string_view name);

}  // namespace tiffin::bundle

#endif  // TIFFIN_BUNDLE_ZIP_H_
