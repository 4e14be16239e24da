#include "importers/pickle/compression.h"

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <utility>

namespace tiffin::pickle {

namespace {

constexpr uint64_t kLzmaMemLimit = uint64_t{256} << 20;
constexpr int kZstdWindowLogMax = 27;  // 128 MiB, zstd's own default limit

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

bool IsZlibHeader(std::string_view s) {
  if (s.size() < 2 || static_cast<uint8_t>(s[0]) != 0x78) return false;
  unsigned v = (unsigned{static_cast<uint8_t>(s[0])} << 8) | static_cast<uint8_t>(s[1]);
  return v % 31 == 0;
}

bool IsBz2Header(std::string_view s) {
  return s.size() >= 4 && StartsWith(s, "BZh") && s[3] >= '1' && s[3] <= '9';
}

constexpr std::string_view kGzipMagic("\x1f\x8b", 2);
constexpr std::string_view kXzMagic("\xfd\x37\x7a\x58\x5a\x00", 6);
constexpr std::string_view kLzmaAloneMagic("\x5d\x00\x00", 3);
constexpr std::string_view kLz4Magic("\x04\x22\x4d\x18", 4);
constexpr std::string_view kZstdMagic("\x28\xb5\x2f\xfd", 4);

// Skippable frames (magic 0x184D2A50..5F) are shared by lz4 and zstd.
bool IsSkippableFrame(std::string_view s) {
  return s.size() >= 4 && (static_cast<uint8_t>(s[0]) & 0xF0) == 0x50 && s[1] == '\x2a' &&
         s[2] == '\x4d' && s[3] == '\x18';
}

Status Truncated(std::string_view method, size_t consumed) {
  return DataLoss(std::string(method) + ": the compressed stream is truncated (it ends after " +
                  std::to_string(consumed) + " bytes, in the middle of the data)");
}

Status Corrupt(std::string_view method, size_t at, std::string_view detail) {
  return DataLoss(std::string(method) + ": the compressed stream is corrupt near byte " +
                  std::to_string(at) + " (" + std::string(detail) + ")");
}

// A growing output buffer that refuses to hold more than `max` bytes. Its
// capacity stops at max + 1, so that a stream of exactly `max` bytes can
// finish (decoders may ask for room before reporting the end) while one byte
// more is detected.
class Output {
 public:
  Output(std::string_view method, size_t max, size_t hint)
      : method_(method), max_(max), cap_(max == SIZE_MAX ? max : max + 1) {
    buf_.resize(std::min(cap_, std::max<size_t>(hint, 64 << 10)));
  }

  // Free space after the data, growing the buffer when it is full.
  Result<std::pair<char*, size_t>> Space() {
    if (used_ == buf_.size()) {
      if (buf_.size() >= cap_) return TooBig();
      size_t grow = buf_.size() > cap_ / 2 ? cap_ : buf_.size() * 2;
      buf_.resize(std::min(cap_, grow));
    }
    return std::pair<char*, size_t>(buf_.data() + used_, buf_.size() - used_);
  }
  void Commit(size_t n) { used_ += n; }

  Result<std::string> Finish() {
    if (used_ > max_) return TooBig();
    buf_.resize(used_);
    return std::move(buf_);
  }

 private:
  Status TooBig() const {
    return ResourceExhausted(std::string(method_) + ": decompressed data exceeds the limit of " +
                             std::to_string(max_) +
                             " bytes (a decompression bomb, or raise the limit if the file is "
                             "genuinely that large)");
  }

  std::string_view method_;
  size_t max_;
  size_t cap_;
  size_t used_ = 0;
  std::string buf_;
};

// zlib (window_bits 15) or gzip (15 + 16).
Result<std::string> Inflate(std::string_view in, int window_bits, std::string_view method,
                            size_t max_output, bool multi_member) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Internal(std::string(method) + ": init");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&zs};
  Output out(method, max_output, in.size());
  size_t pos = 0;  // input consumed
  while (true) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + pos));
    zs.avail_in = static_cast<uInt>(std::min<size_t>(in.size() - pos, UINT_MAX));
    TIFFIN_ASSIGN_OR_RETURN(auto space, out.Space());
    zs.next_out = reinterpret_cast<Bytef*>(space.first);
    zs.avail_out = static_cast<uInt>(std::min<size_t>(space.second, UINT_MAX));
    uInt in_before = zs.avail_in, out_before = zs.avail_out;
    int r = inflate(&zs, Z_NO_FLUSH);
    pos += in_before - zs.avail_in;
    out.Commit(out_before - zs.avail_out);
    if (r == Z_STREAM_END) {
      if (multi_member && StartsWith(in.substr(pos), kGzipMagic)) {
        inflateReset(&zs);
        continue;
      }
      break;
    }
    if (r == Z_NEED_DICT) {
      return DataLoss(std::string(method) +
                      ": the stream needs a preset dictionary, which no model file provides");
    }
    if (r == Z_DATA_ERROR) return Corrupt(method, pos, zs.msg ? zs.msg : "bad data");
    if (r == Z_MEM_ERROR) return ResourceExhausted(std::string(method) + ": out of memory");
    if (r != Z_OK && r != Z_BUF_ERROR) return Corrupt(method, pos, "inflate error");
    // No end yet: out of input (truncated) unless the output was what ran out.
    if (pos == in.size() && zs.avail_out > 0) return Truncated(method, pos);
  }
  return out.Finish();
}

Result<std::string> Bunzip2(std::string_view in, size_t max_output) {
  constexpr std::string_view method = "bz2";
  Output out(method, max_output, in.size());
  size_t pos = 0;
  while (true) {  // one bz2 stream per iteration
    bz_stream bs{};
    if (BZ2_bzDecompressInit(&bs, 0, 0) != BZ_OK) return Internal("bz2: init");
    struct End {
      bz_stream* b;
      ~End() { BZ2_bzDecompressEnd(b); }
    } end{&bs};
    int r = BZ_OK;
    while (r != BZ_STREAM_END) {
      bs.next_in = const_cast<char*>(in.data() + pos);
      bs.avail_in = static_cast<unsigned>(std::min<size_t>(in.size() - pos, UINT_MAX));
      TIFFIN_ASSIGN_OR_RETURN(auto space, out.Space());
      bs.next_out = space.first;
      bs.avail_out = static_cast<unsigned>(std::min<size_t>(space.second, UINT_MAX));
      unsigned in_before = bs.avail_in, out_before = bs.avail_out;
      r = BZ2_bzDecompress(&bs);
      pos += in_before - bs.avail_in;
      out.Commit(out_before - bs.avail_out);
      if (r == BZ_DATA_ERROR || r == BZ_DATA_ERROR_MAGIC) return Corrupt(method, pos, "bad data");
      if (r == BZ_MEM_ERROR) return ResourceExhausted("bz2: out of memory");
      if (r != BZ_OK && r != BZ_STREAM_END) return Corrupt(method, pos, "decoder error");
      if (r == BZ_OK && pos == in.size() && bs.avail_out > 0) return Truncated(method, pos);
    }
    if (!IsBz2Header(in.substr(pos))) break;
  }
  return out.Finish();
}

// xz (stream format, alone == false) or the legacy lzma "alone" format.
Result<std::string> Unxz(std::string_view in, bool alone, size_t max_output) {
  std::string_view method = alone ? "lzma" : "xz";
  Output out(method, max_output, in.size());
  size_t pos = 0;
  while (true) {  // one xz stream per iteration
    lzma_stream ls = LZMA_STREAM_INIT;
    lzma_ret r =
        alone ? lzma_alone_decoder(&ls, kLzmaMemLimit) : lzma_stream_decoder(&ls, kLzmaMemLimit, 0);
    if (r != LZMA_OK) return Internal(std::string(method) + ": init");
    struct End {
      lzma_stream* l;
      ~End() { lzma_end(l); }
    } end{&ls};
    while (r != LZMA_STREAM_END) {
      ls.next_in = reinterpret_cast<const uint8_t*>(in.data() + pos);
      ls.avail_in = in.size() - pos;
      TIFFIN_ASSIGN_OR_RETURN(auto space, out.Space());
      ls.next_out = reinterpret_cast<uint8_t*>(space.first);
      ls.avail_out = space.second;
      size_t in_before = ls.avail_in, out_before = ls.avail_out;
      r = lzma_code(&ls, LZMA_FINISH);
      pos += in_before - ls.avail_in;
      out.Commit(out_before - ls.avail_out);
      switch (r) {
        case LZMA_OK:
        case LZMA_STREAM_END:
          break;
        case LZMA_BUF_ERROR:
          if (ls.avail_out > 0) return Truncated(method, pos);
          break;
        case LZMA_MEMLIMIT_ERROR:
          return ResourceExhausted(std::string(method) + ": the stream needs more than " +
                                   std::to_string(kLzmaMemLimit >> 20) +
                                   " MiB of decoder memory (its dictionary is too large)");
        case LZMA_MEM_ERROR:
          return ResourceExhausted(std::string(method) + ": out of memory");
        case LZMA_FORMAT_ERROR:
          return Corrupt(method, pos, "not in this format");
        case LZMA_OPTIONS_ERROR:
          return Corrupt(method, pos, "unsupported options in the header");
        default:
          return Corrupt(method, pos, "bad data");
      }
      if (r == LZMA_OK && pos == in.size() && ls.avail_out > 0) return Truncated(method, pos);
    }
    if (alone || !StartsWith(in.substr(pos), kXzMagic)) break;
  }
  return out.Finish();
}

Result<std::string> Unlz4(std::string_view in, size_t max_output) {
  constexpr std::string_view method = "lz4";
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
    return Internal("lz4: init");
  }
  struct End {
    LZ4F_dctx* c;
    ~End() { LZ4F_freeDecompressionContext(c); }
  } end{ctx};
  Output out(method, max_output, in.size());
  size_t pos = 0;
  while (true) {
    TIFFIN_ASSIGN_OR_RETURN(auto space, out.Space());
    size_t dst = space.second, src = in.size() - pos;
    size_t r = LZ4F_decompress(ctx, space.first, &dst, in.data() + pos, &src, nullptr);
    if (LZ4F_isError(r)) return Corrupt(method, pos, LZ4F_getErrorName(r));
    if (src == 0 && dst == 0 && r != 0 && pos < in.size()) {
      return Corrupt(method, pos, "the decoder makes no progress");
    }
    pos += src;
    out.Commit(dst);
    if (r == 0) {  // a frame ended; the context is ready for the next one
      std::string_view rest = in.substr(pos);
      if (StartsWith(rest, kLz4Magic) || IsSkippableFrame(rest)) continue;
      break;
    }
    if (pos == in.size() && dst < space.second) return Truncated(method, pos);
  }
  return out.Finish();
}

Result<std::string> Unzstd(std::string_view in, size_t max_output) {
  constexpr std::string_view method = "zstd";
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (ctx == nullptr) return Internal("zstd: init");
  struct End {
    ZSTD_DCtx* c;
    ~End() { ZSTD_freeDCtx(c); }
  } end{ctx};
  ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, kZstdWindowLogMax);
  Output out(method, max_output, in.size());
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  while (true) {
    TIFFIN_ASSIGN_OR_RETURN(auto space, out.Space());
    ZSTD_outBuffer dst{space.first, space.second, 0};
    size_t r = ZSTD_decompressStream(ctx, &dst, &src);
    out.Commit(dst.pos);
    if (ZSTD_isError(r)) {
      if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge) {
        return ResourceExhausted("zstd: the frame's window exceeds " +
                                 std::to_string((size_t{1} << kZstdWindowLogMax) >> 20) +
                                 " MiB of decoder memory");
      }
      return Corrupt(method, src.pos, ZSTD_getErrorName(r));
    }
    if (r == 0) {  // a frame ended and is flushed
      std::string_view rest = in.substr(src.pos);
      if (StartsWith(rest, kZstdMagic) || IsSkippableFrame(rest)) continue;
      break;
    }
    if (src.pos == src.size && dst.pos < dst.size) return Truncated(method, src.pos);
  }
  return out.Finish();
}

}  // namespace

std::string_view DetectCompression(std::string_view bytes) {
  if (IsZlibHeader(bytes)) return "zlib";
  if (StartsWith(bytes, kGzipMagic)) return "gzip";
  if (IsBz2Header(bytes)) return "bz2";
  if (StartsWith(bytes, kXzMagic)) return "xz";
  if (StartsWith(bytes, kLzmaAloneMagic)) return "lzma";
  if (StartsWith(bytes, kLz4Magic)) return "lz4";
  if (StartsWith(bytes, kZstdMagic)) return "zstd";
  return "none";
}

Result<std::string> DecompressStream(std::string_view bytes, size_t max_output,
                                     std::string* method) {
  std::string_view m = DetectCompression(bytes);
  if (method != nullptr) *method = std::string(m);
  if (m == "zlib") return Inflate(bytes, MAX_WBITS, m, max_output, false);
  if (m == "gzip") return Inflate(bytes, MAX_WBITS + 16, m, max_output, true);
  if (m == "bz2") return Bunzip2(bytes, max_output);
  if (m == "xz") return Unxz(bytes, false, max_output);
  if (m == "lzma") return Unxz(bytes, true, max_output);
  if (m == "lz4") return Unlz4(bytes, max_output);
  if (m == "zstd") return Unzstd(bytes, max_output);
  if (bytes.size() > max_output) {
    return ResourceExhausted("uncompressed data of " + std::to_string(bytes.size()) +
                             " bytes exceeds the limit of " + std::to_string(max_output));
  }
  return std::string(bytes);
}

Result<std::string> InflateZlibExactly(std::string_view bytes, size_t expected_size,
                                       size_t max_output) {
  if (expected_size > max_output) {
    return ResourceExhausted("zlib: the header records " + std::to_string(expected_size) +
                             " decompressed bytes, over the limit of " +
                             std::to_string(max_output));
  }
  auto out = Inflate(bytes, MAX_WBITS, "zlib", expected_size, false);
  if (!out.ok()) {
    if (out.status().code() == StatusCode::kResourceExhausted) {
      return DataLoss("zlib: the stream holds more than the " + std::to_string(expected_size) +
                      " bytes its header records (corrupt file)");
    }
    return out.status();
  }
  if (out->size() != expected_size) {
    return DataLoss("zlib: the stream holds " + std::to_string(out->size()) +
                    " bytes, but its header records " + std::to_string(expected_size) +
                    " (corrupt file)");
  }
  return out;
}

}  // namespace tiffin::pickle
