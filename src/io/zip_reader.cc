#include "io/zip_reader.h"

#include <zip.h>

#include <algorithm>
#include <memory>

namespace tiffin::io {

bool IsSafeZipEntryName(std::string_view name) {
  // Directories ("assets/") end in '/'.
  if (!name.empty() && name.back() == '/') name.remove_suffix(1);
  if (name.empty() || name.size() > 4096 || name.front() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    const std::string_view part = name.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = slash + 1;
  }
  for (char c : name) {
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

ZipReader::~ZipReader() {
  if (zip_) zip_discard(zip_);
}

Status ZipReader::Open(std::string_view bytes, const ZipLimits& limits) {
  if (zip_) return Internal("ZipReader::Open called twice");
  limits_ = limits;
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
  if (src == nullptr) {
    zip_error_fini(&err);
    return Internal("libzip could not wrap the archive bytes");
  }
  zip_ = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (zip_ == nullptr) {
    const std::string why = zip_error_strerror(&err);
    zip_source_free(src);
    zip_error_fini(&err);
    return DataLoss("not a readable zip archive (" + why + ")");
  }
  zip_error_fini(&err);
  const zip_int64_t n = zip_get_num_entries(zip_, 0);
  if (n < 0) return DataLoss("zip archive: cannot count its members");
  if (static_cast<uint64_t>(n) > limits.max_entries) {
    return ResourceExhausted("the archive has " + std::to_string(n) + " members (at most " +
                             std::to_string(limits.max_entries) + " read)");
  }
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(zip_, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (name == nullptr) return DataLoss("archive member " + std::to_string(i) + " is damaged");
    if (!IsSafeZipEntryName(name)) {
      return InvalidArgument("the archive has a member with an unsafe name '" + std::string(name) +
                             "' (an absolute path, '..', '.' or a backslash): refused");
    }
    if (!index_.emplace(name, static_cast<uint64_t>(i)).second)
      return InvalidArgument("the archive has two members named '" + std::string(name) + "'");
    names_.push_back(name);
  }
  return Status::Ok();
}

Result<std::string> ZipReader::Read(const std::string& name, size_t max_bytes,
                                    bool allow_deflate) const {
  auto it = index_.find(name);
  if (it == index_.end()) return DataLoss("the archive has no member '" + name + "'");
  const zip_uint64_t index = it->second;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(zip_, index, 0, &st) != 0)
    return DataLoss("archive member '" + name + "' is damaged (cannot read its header)");
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
    return NotSupported("archive member '" + name + "' is encrypted");
  if ((st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method != ZIP_CM_STORE &&
      !(allow_deflate && st.comp_method == ZIP_CM_DEFLATE)) {
    return NotSupported(
        "archive member '" + name + "' is compressed (method " + std::to_string(st.comp_method) +
        "); only " + (allow_deflate ? "stored and deflated" : "stored") + " members are read here");
  }
  if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
    return DataLoss("archive member '" + name + "' does not state its size");
  const size_t limit = std::min(max_bytes, limits_.max_member_bytes);
  if (st.size > limit) {
    return ResourceExhausted("archive member '" + name + "' is " + std::to_string(st.size) +
                             " bytes, more than the limit of " + std::to_string(limit));
  }
  const zip_uint64_t ratio = st.size / std::max<zip_uint64_t>(st.comp_size, 1);
  if (st.size > (1u << 20) && ratio > limits_.max_ratio) {
    return ResourceExhausted("archive member '" + name + "' inflates " + std::to_string(ratio) +
                             " times its stored size: refused as a decompression bomb");
  }
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen_index(zip_, index, 0), zip_fclose);
  if (!f) return DataLoss("cannot open archive member '" + name + "' (" + zip_strerror(zip_) + ")");
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
  return data;
}

Result<std::vector<std::string>> ListZipFileNames(const std::string& path, size_t max_entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (z == nullptr) return DataLoss("'" + path + "' is not a readable zip archive");
  std::unique_ptr<zip_t, void (*)(zip_t*)> guard(z, [](zip_t* p) { zip_discard(p); });
  std::vector<std::string> names;
  const zip_int64_t n = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < n && static_cast<uint64_t>(i) < max_entries; ++i) {
    const char* c = zip_get_name(z, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (c != nullptr) names.emplace_back(c);
  }
  return names;
}

Result<std::map<std::string, std::string>> ReadZipMembers(std::string_view archive,
                                                          const std::vector<std::string>& wanted,
                                                          const ZipLimits& limits) {
  ZipReader zip;
  TIFFIN_RETURN_IF_ERROR(zip.Open(archive, limits));
  std::map<std::string, std::string> out;
  size_t total = 0;
  for (const std::string& name : zip.names()) {
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    const size_t left = limits.max_member_bytes - total;
    TIFFIN_ASSIGN_OR_RETURN(std::string data, zip.Read(name, left));
    total += data.size();
    out[name] = std::move(data);
  }
  return out;
}

}  // namespace tiffin::io
