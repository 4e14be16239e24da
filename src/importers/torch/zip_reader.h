// A read-only view of the stored entries of a zip archive held in memory
// (libzip), for PyTorch archives. Entry names are checked on open (no
// absolute paths, "..", backslashes); only stored entries are read unless a
// caller allows deflate, and every read is bounded by the caller's limit.
#ifndef TIFFIN_IMPORTERS_TORCH_ZIP_READER_H_
#define TIFFIN_IMPORTERS_TORCH_ZIP_READER_H_

#include <zip.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tiffin/status.h"

namespace tiffin::torch_import {

inline bool SafeEntryName(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\\') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(start, slash - start);
    if (part == "..") return false;
    if (part.empty() && slash != name.size()) return false;
    start = slash + 1;
  }
  return true;
}

// The entries of a zip archive held in memory (libzip). Only stored
// entries are read: torch writes nothing else, and it keeps decompression
// bombs out.
class ZipReader {
 public:
  ZipReader() = default;
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;
  ~ZipReader() {
    if (zip_) zip_discard(zip_);
  }
  // `bytes` must outlive the reader.
  Status Open(std::string_view bytes) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    if (src == nullptr) {
      zip_error_fini(&err);
      return DataLoss("not a readable zip archive");
    }
    zip_ = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (zip_ == nullptr) {
      std::string why = zip_error_strerror(&err);
      zip_source_free(src);
      zip_error_fini(&err);
      return DataLoss("not a readable zip archive (" + why + ")");
    }
    zip_error_fini(&err);
    zip_int64_t n = zip_get_num_entries(zip_, 0);
    if (n < 0) return DataLoss("zip archive: cannot count its entries");
    if (n > 1000000) return ResourceExhausted("zip archive has more than 1,000,000 entries");
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* name = zip_get_name(zip_, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
      if (name == nullptr) return DataLoss("zip entry " + std::to_string(i) + " has no name");
      if (!SafeEntryName(name)) {
        return InvalidArgument("zip entry '" + std::string(name) +
                               "' has an unsafe path (absolute, '..' or backslash); refusing the "
                               "archive");
      }
      index_.emplace(name, static_cast<zip_uint64_t>(i));
      names_.push_back(name);
    }
    return Status::Ok();
  }
  const std::vector<std::string>& names() const { return names_; }
  bool Has(const std::string& name) const { return index_.count(name) != 0; }

  // The bytes of entry `name`, at most `max_bytes` of them. Compressed
  // (deflate) entries only when `allow_deflate` (TorchScript's code/ files);
  // their size is bounded by `max_bytes` too.
  Result<std::string> Read(const std::string& name, size_t max_bytes,
                           bool allow_deflate = false) const {
    auto it = index_.find(name);
    if (it == index_.end()) return DataLoss("the archive has no entry '" + name + "'");
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_, it->second, 0, &st) != 0)
      return DataLoss("zip entry '" + name + "': cannot read its header");
    if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE &&
        !(allow_deflate && st.comp_method == ZIP_CM_DEFLATE)) {
      return NotSupported("zip entry '" + name + "' is compressed (method " +
                          std::to_string(st.comp_method) +
                          "); torch.save writes stored entries only");
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
      return NotSupported("zip entry '" + name + "' is encrypted");
    if (!(st.valid & ZIP_STAT_SIZE)) return DataLoss("zip entry '" + name + "' has no size");
    if (st.size > max_bytes) {
      return ResourceExhausted("zip entry '" + name + "' is " + std::to_string(st.size) +
                               " bytes, more than the limit of " + std::to_string(max_bytes));
    }
    zip_file_t* f = zip_fopen_index(zip_, it->second, 0);
    if (f == nullptr) return DataLoss("zip entry '" + name + "': cannot open it");
    std::string out(static_cast<size_t>(st.size), '\0');
    zip_int64_t got = out.empty() ? 0 : zip_fread(f, out.data(), out.size());
    zip_fclose(f);
    if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
      return DataLoss("zip entry '" + name + "' is truncated");
    return out;
  }

 private:
  zip_t* zip_ = nullptr;
  std::unordered_map<std::string, zip_uint64_t> index_;
  std::vector<std::string> names_;
};

}  // namespace tiffin::torch_import

#endif  // TIFFIN_IMPORTERS_TORCH_ZIP_READER_H_
