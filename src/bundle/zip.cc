#include "bundle/zip.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <set>

namespace tiffin::bundle {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kLocalHeaderSize = 30;
constexpr uint32_t kCentralHeaderSize = 46;
constexpr uint32_t kEndSize = 22;
constexpr uint16_t kAlignExtraId = 0xD935;  // Android's alignment extra record
constexpr uint16_t kVersionNeeded = 10;     // 1.0: stored entries
// 1980-01-01 00:00 in DOS form: bundles are byte-for-byte reproducible from
// their content (the manifest carries the real creation time).
constexpr uint16_t kDosTime = 0;
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;

void Put16(std::string* s, uint32_t v) {
  s->push_back(static_cast<char>(v & 0xff));
  s->push_back(static_cast<char>((v >> 8) & 0xff));
}
void Put32(std::string* s, uint32_t v) {
  Put16(s, v & 0xffff);
  Put16(s, v >> 16);
}
uint32_t Get16(std::string_view s, uint64_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8;
}
uint32_t Get32(std::string_view s, uint64_t at) { return Get16(s, at) | Get16(s, at + 2) << 16; }

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

uint32_t Crc32(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; feed large buffers in pieces.
  size_t at = 0;
  while (at < data.size()) {
    const size_t n = std::min<size_t>(data.size() - at, size_t{1} << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + at), static_cast<uInt>(n));
    at += n;
  }
  return static_cast<uint32_t>(crc);
}

bool IsSafeEntryName(std::string_view name) {
  if (name.empty() || name.size() > 1024 || name.front() == '/') return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = slash + 1;
  }
  for (char c : name) {
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

Status ZipWriter::Add(const std::string& name, std::string_view data) {
  if (!IsSafeEntryName(name)) return InvalidArgument("zip entry name '" + name + "' is not safe");
  for (const auto& e : entries_) {
    if (e.name == name) return InvalidArgument("zip entry '" + name + "' added twice");
  }
  if (entries_.size() >= 0xfffe) return ResourceExhausted("too many zip entries (zip64 needed)");
  const uint64_t header = out_.size();
  uint64_t data_at = header + kLocalHeaderSize + name.size();
  uint32_t pad = static_cast<uint32_t>((alignment_ - data_at % alignment_) % alignment_);
  // A padding record needs 6 bytes (ID, length, alignment); go one more
  // alignment step when the gap is smaller.
  if (pad != 0 && pad < 6) pad += alignment_;
  data_at += pad;
  if (data_at + data.size() > 0xffffffffu) {
    return ResourceExhausted("zip entry '" + name +
                             "' ends past 4 GiB; bundles over 4 GiB (zip64) are not supported");
  }
  const uint32_t crc = Crc32(data);
  Put32(&out_, kLocalSig);
  Put16(&out_, kVersionNeeded);
  Put16(&out_, 0);  // flags
  Put16(&out_, 0);  // stored
  Put16(&out_, kDosTime);
  Put16(&out_, kDosDate);
  Put32(&out_, crc);
  Put32(&out_, static_cast<uint32_t>(data.size()));
  Put32(&out_, static_cast<uint32_t>(data.size()));
  Put16(&out_, static_cast<uint32_t>(name.size()));
  Put16(&out_, pad);
  out_ += name;
  if (pad != 0) {
    Put16(&out_, kAlignExtraId);
    Put16(&out_, pad - 4);
    Put16(&out_, alignment_);
    out_.append(pad - 6, '\0');
  }
  out_.append(data.data(), data.size());
  entries_.push_back({name, header, data_at, data.size(), crc});
  return Status::Ok();
}

Result<std::string> ZipWriter::Finish() {
  const uint64_t cd_offset = out_.size();
  for (const auto& e : entries_) {
    Put32(&out_, kCentralSig);
    Put16(&out_, kVersionNeeded);  // made by: MS-DOS, 1.0
    Put16(&out_, kVersionNeeded);
    Put16(&out_, 0);
    Put16(&out_, 0);
    Put16(&out_, kDosTime);
    Put16(&out_, kDosDate);
    Put32(&out_, e.crc32);
    Put32(&out_, static_cast<uint32_t>(e.size));
    Put32(&out_, static_cast<uint32_t>(e.size));
    Put16(&out_, static_cast<uint32_t>(e.name.size()));
    Put16(&out_, 0);  // extra
    Put16(&out_, 0);  // comment
    Put16(&out_, 0);  // disk
    Put16(&out_, 0);  // internal attributes
    Put32(&out_, 0);  // external attributes
    Put32(&out_, static_cast<uint32_t>(e.header_offset));
    out_ += e.name;
  }
  const uint64_t cd_size = out_.size() - cd_offset;
  if (out_.size() + kEndSize > 0xffffffffu) {
    return ResourceExhausted("bundle exceeds 4 GiB; zip64 is not supported");
  }
  Put32(&out_, kEndSig);
  Put16(&out_, 0);
  Put16(&out_, 0);
  Put16(&out_, static_cast<uint32_t>(entries_.size()));
  Put16(&out_, static_cast<uint32_t>(entries_.size()));
  Put32(&out_, static_cast<uint32_t>(cd_size));
  Put32(&out_, static_cast<uint32_t>(cd_offset));
  Put16(&out_, 0);
  std::string done = std::move(out_);
  out_.clear();
  entries_.clear();
  return done;
}

Result<std::vector<ZipEntry>> ReadZipDirectory(std::string_view file) {
  const uint64_t size = file.size();
  if (size < kEndSize) {
    return DataLoss("not a zip file: " + std::to_string(size) +
                    " bytes is too short for an end of central directory record (truncated?)");
  }
  // The end record sits in the last 22 + 65,535 (comment) bytes; its comment
  // length must reach exactly to the end of the file.
  uint64_t end = size;  // not found
  const uint64_t lowest = size >= kEndSize + 0xffff ? size - kEndSize - 0xffff : 0;
  for (uint64_t at = size - kEndSize + 1; at-- > lowest;) {
    if (Get32(file, at) == kEndSig && at + kEndSize + Get16(file, at + 20) == size) {
      end = at;
      break;
    }
  }
  if (end == size) {
    return DataLoss(
        "zip end of central directory record not found (the file is truncated or "
        "not a zip archive)");
  }
  const uint32_t disk = Get16(file, end + 4), cd_disk = Get16(file, end + 6);
  const uint32_t on_disk = Get16(file, end + 8), total = Get16(file, end + 10);
  const uint64_t cd_size = Get32(file, end + 12), cd_offset = Get32(file, end + 16);
  if (total == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    return NotSupported("zip64 archives are not supported (bundles are under 4 GiB)");
  }
  if (disk != 0 || cd_disk != 0 || on_disk != total) {
    return NotSupported("multi-disk (split) zip archives are not supported");
  }
  if (cd_offset > end || cd_size > end - cd_offset) {
    return DataLoss("zip central directory (offset " + std::to_string(cd_offset) + ", " +
                    std::to_string(cd_size) + " bytes) lies outside the file");
  }
  std::vector<ZipEntry> entries;
  std::set<std::string, std::less<>> names;
  uint64_t at = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint32_t i = 0; i < total; ++i) {
    const std::string where = "zip central directory record " + std::to_string(i);
    if (cd_end - at < kCentralHeaderSize || Get32(file, at) != kCentralSig) {
      return DataLoss(where + " is truncated or damaged");
    }
    const uint32_t flags = Get16(file, at + 8), method = Get16(file, at + 10);
    const uint32_t crc = Get32(file, at + 16);
    const uint64_t csize = Get32(file, at + 20), usize = Get32(file, at + 24);
    const uint64_t name_len = Get16(file, at + 28), extra_len = Get16(file, at + 30),
                   comment_len = Get16(file, at + 32);
    const uint64_t local = Get32(file, at + 42);
    const uint64_t rec = kCentralHeaderSize + name_len + extra_len + comment_len;
    if (cd_end - at < rec) return DataLoss(where + " runs past the central directory");
    std::string name(file.substr(at + kCentralHeaderSize, name_len));
    const std::string entry = "zip entry '" + name + "'";
    if (!IsSafeEntryName(name)) {
      return DataLoss(where + ": entry name '" + name + "' is empty or unsafe");
    }
    if (!names.insert(name).second) return DataLoss(entry + " appears twice");
    if (flags & 1) return NotSupported(entry + " is encrypted; bundles are not encrypted");
    if (method != 0) {
      return NotSupported(entry + " is compressed (method " + std::to_string(method) +
                          "); bundle entries are stored uncompressed (repack with tiffin pack)");
    }
    if (flags != 0) {
      return NotSupported(entry + " has general purpose flags " + std::to_string(flags) +
                          " (data descriptor or other); bundles use none");
    }
    if (csize == 0xffffffffu || usize == 0xffffffffu || local == 0xffffffffu) {
      return NotSupported(entry + " uses zip64, which bundles do not");
    }
    if (csize != usize) {
      return DataLoss(entry + " is stored but its sizes differ (" + std::to_string(csize) + " vs " +
                      std::to_string(usize) + ")");
    }
    // The local header, its name and extra field, then the data: all before
    // the central directory.
    if (local > cd_offset || cd_offset - local < kLocalHeaderSize) {
      return DataLoss(entry + ": local header offset " + std::to_string(local) +
                      " lies outside the file's entry area");
    }
    if (Get32(file, local) != kLocalSig) {
      return DataLoss(entry + ": no local file header at offset " + std::to_string(local));
    }
    const uint64_t lname = Get16(file, local + 26), lextra = Get16(file, local + 28);
    const uint64_t data = local + kLocalHeaderSize + lname + lextra;
    if (data > cd_offset || usize > cd_offset - data) {
      return DataLoss(entry + ": data (" + std::to_string(usize) + " bytes at offset " +
                      std::to_string(data) + ") runs past the entry area of the " +
                      std::to_string(size) + "-byte file (truncated?)");
    }
    if (Get16(file, local + 6) != flags || Get16(file, local + 8) != method ||
        Get32(file, local + 14) != crc || Get32(file, local + 18) != csize ||
        Get32(file, local + 22) != usize || file.substr(local + kLocalHeaderSize, lname) != name) {
      return DataLoss(entry + ": local file header disagrees with the central directory");
    }
    entries.push_back({std::move(name), local, data, usize, crc});
    at += rec;
  }
  return entries;
}

}  // namespace tiffin::bundle
