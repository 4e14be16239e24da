#include "importers/keras/zip.h"

#include <zip.h>

#include <algorithm>
#include <memory>
#include <set>

#include "bundle/zip.h"

namespace tiffin::keras {

Result<std::map<std::string, std::string>> ReadZipMembers(std::string_view archive,
                                                          const std::vector<std::string>& wanted,
                                                          const ZipLimits& limits) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(archive.data(), archive.size(), 0, &err);
  if (!src) {
    zip_error_fini(&err);
    return Internal("libzip could not wrap the archive bytes");
  }
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!za) {
    const std::string why = zip_error_strerror(&err);
    zip_source_free(src);
    zip_error_fini(&err);
    return DataLoss("not a readable zip archive (" + why + ")");
  }
  zip_error_fini(&err);
  std::unique_ptr<zip_t, void (*)(zip_t*)> guard(za, [](zip_t* z) { zip_discard(z); });

  const zip_int64_t n = zip_get_num_entries(za, 0);
  if (n < 0 || static_cast<uint64_t>(n) > limits.max_entries) {
    return ResourceExhausted("the archive has " + std::to_string(n) + " members (at most " +
                             std::to_string(limits.max_entries) + " read)");
  }
  std::map<std::string, std::string> out;
  std::set<std::string> seen;
  size_t total = 0;
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_NAME)) {
      return DataLoss("archive member " + std::to_string(i) + " is damaged");
    }
    const std::string name = st.name;
    // Directories ("assets/") are allowed; their names end in '/'.
    const std::string bare =
        !name.empty() && name.back() == '/' ? name.substr(0, name.size() - 1) : name;
    if (!bundle::IsSafeEntryName(bare)) {
      return InvalidArgument("the archive has a member with an unsafe name '" + name +
                             "' (absolute, '..' or backslash): refused");
    }
    if (!seen.insert(name).second) {
      return InvalidArgument("the archive has two members named '" + name + "'");
    }
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
      return NotSupported("archive member '" + name + "' is encrypted");
    }
    if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) {
      return DataLoss("archive member '" + name + "' does not state its size");
    }
    if (st.size > limits.max_member_bytes || total + st.size > limits.max_member_bytes) {
      return ResourceExhausted("archive member '" + name + "' inflates to " +
                               std::to_string(st.size) + " bytes, over the " +
                               std::to_string(limits.max_member_bytes) + "-byte limit");
    }
    if (st.size > (1u << 20) &&
        st.size / std::max<zip_uint64_t>(st.comp_size, 1) > limits.max_ratio) {
      return ResourceExhausted("archive member '" + name + "' inflates " +
                               std::to_string(st.size / std::max<zip_uint64_t>(st.comp_size, 1)) +
                               " times its stored size: refused as a decompression bomb");
    }
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(
        zip_fopen_index(za, static_cast<zip_uint64_t>(i), 0), zip_fclose);
    if (!f) {
      return DataLoss("cannot open archive member '" + name + "' (" + zip_strerror(za) + ")");
    }
    // Read at most the stated size plus one byte: a member that inflates past
    // its stated size is damaged (or hostile) and is never read further.
    std::string data(static_cast<size_t>(st.size) + 1, '\0');
    size_t got = 0;
    while (got < data.size()) {
      const zip_int64_t r = zip_fread(f.get(), data.data() + got, data.size() - got);
      if (r < 0) {
        return DataLoss("archive member '" + name + "' is damaged (" + zip_file_strerror(f.get()) +
                        ")");
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    if (got != st.size) {
      return DataLoss("archive member '" + name + "' holds " + std::to_string(got) +
                      " bytes, not the " + std::to_string(st.size) + " its header states");
    }
    data.resize(got);
    total += got;
    out[name] = std::move(data);
  }
  return out;
}

}  // namespace tiffin::keras
