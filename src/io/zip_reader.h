// Reading the members of a zip archive held in memory (libzip), for the
// importers whose files are zips: PyTorch archives (torch.save,
// torch.jit.save) and Keras 3 `.keras` files.
//
// The archive is untrusted. Open refuses it whole when a member name is
// unsafe (absolute, "..", "." or empty components, backslash, control
// characters: path traversal) or appears twice, or when it has more members
// than the limit. Read refuses encrypted members, compression methods other
// than stored and deflate (deflate only where the caller allows it), members
// larger than the caller's limit, and members that inflate more than
// `max_ratio` times their stored size (a decompression bomb); libzip checks
// each member's CRC-32, and nothing past a member's stated size is inflated.
//
// `.tiffin` bundles have their own reader (src/bundle/zip.h): they need the
// file offset of each stored member to memory-map it, which libzip does not
// give, and they refuse every general zip feature.
//
// Thread safety: a ZipReader may be read from one thread at a time (libzip
// keeps state per archive).
#ifndef TIFFIN_IO_ZIP_READER_H_
#define TIFFIN_IO_ZIP_READER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tiffin/status.h"

struct zip;

namespace tiffin::io {

struct ZipLimits {
  size_t max_entries = 1000000;
  // Largest inflated member; ReadZipMembers also bounds all members together
  // by it.
  size_t max_member_bytes = size_t{2} << 30;
  // A member that inflates more than this many times its stored size (and
  // past 1 MiB) is refused as a decompression bomb.
  size_t max_ratio = 1000;
};

// True when `name` is a relative path without "..", "." or empty components,
// backslashes or control characters. A trailing '/' (a directory member) is
// allowed.
bool IsSafeZipEntryName(std::string_view name);

class ZipReader {
 public:
  ZipReader() = default;
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;
  ~ZipReader();

  // Opens the archive in `bytes`, which must outlive the reader, and checks
  // every member name. Errors: kDataLoss (not a zip, damaged directory),
  // kInvalidArgument (unsafe or duplicate name), kResourceExhausted (more
  // members than limits.max_entries).
  Status Open(std::string_view bytes, const ZipLimits& limits = {});

  // Member names in archive order.
  const std::vector<std::string>& names() const { return names_; }
  bool Has(const std::string& name) const { return index_.count(name) != 0; }

  // The bytes of member `name`, at most `max_bytes` (and at most
  // limits.max_member_bytes) of them. Deflated members only when
  // `allow_deflate`. Errors: kDataLoss (no such member, damage, CRC),
  // kNotSupported (method, encryption), kResourceExhausted (size, ratio).
  Result<std::string> Read(const std::string& name, size_t max_bytes,
                           bool allow_deflate = true) const;

 private:
  zip* zip_ = nullptr;
  ZipLimits limits_;
  std::unordered_map<std::string, uint64_t> index_;
  std::vector<std::string> names_;
};

// The member names of the zip file at `path`, read from its central
// directory only (nothing is inflated, names are not checked: for
// recognising a file's format). At most `max_entries` names.
Result<std::vector<std::string>> ListZipFileNames(const std::string& path,
                                                  size_t max_entries = 1000000);

// Opens `archive` and returns the members named in `wanted` that it holds,
// by name (deflate allowed), all of them together bounded by
// limits.max_member_bytes.
Result<std::map<std::string, std::string>> ReadZipMembers(std::string_view archive,
                                                          const std::vector<std::string>& wanted,
                                                          const ZipLimits& limits);

}  // namespace tiffin::io

#endif  // TIFFIN_IO_ZIP_READER_H_
