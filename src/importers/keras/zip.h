// Reading the members of a Keras 3 `.keras` zip archive held in memory, with
// libzip: stored or deflated entries, every name checked (no absolute paths,
// no "..") and every size bounded before anything is inflated.
#ifndef TIFFIN_IMPORTERS_KERAS_ZIP_H_
#define TIFFIN_IMPORTERS_KERAS_ZIP_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tiffin/status.h"

namespace tiffin::keras {

struct ZipLimits {
  size_t max_entries = 10000;
  // Largest inflated member, and all wanted members together.
  size_t max_member_bytes = size_t{2} << 30;
  // A member that inflates more than this many times its stored size (and
  // past 1 MiB) is refused as a decompression bomb.
  size_t max_ratio = 1000;
};

// Returns the members named in `wanted` that the archive holds, by name.
// Refuses archives with unsafe member names (path traversal), duplicate
// names, encrypted members, members larger than the limits, and damaged data
// (libzip checks each member's CRC-32).
Result<std::map<std::string, std::string>> ReadZipMembers(std::string_view archive,
                                                          const std::vector<std::string>& wanted,
                                                          const ZipLimits& limits);

}  // namespace tiffin::keras

#endif  // TIFFIN_IMPORTERS_KERAS_ZIP_H_
