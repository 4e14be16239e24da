// Whole-stream decompression for model files (joblib's `compress=`, and any
// other reader that meets a compressed stream).
//
// The method is recognised by its magic bytes, never by a file name:
//   zlib  78 xx (a valid zlib header: (78 * 256 + xx) % 31 == 0)
//   gzip  1F 8B
//   bz2   "BZh" + block size digit 1-9
//   xz    FD 37 7A 58 5A 00
//   lzma  5D 00 00 (the legacy "alone" format, joblib's compress='lzma')
//   lz4   04 22 4D 18 (lz4 frame format)
//   zstd  28 B5 2F FD (zstd frame)
// Anything else is "none". A pickle never starts with one of these: the
// first bytes are PROTO (80) or a protocol 0/1 opcode, and none of those is
// followed by the second magic byte above.
//
// Concatenated members of the same method (gzip members, bz2 streams, xz
// streams, lz4 and zstd frames) are decoded one after another, as Python's
// readers do; bytes after the last complete member that do not start
// another member are ignored (Python ignores them too for all but gzip).
//
// Untrusted input: the output never grows past `max_output` bytes (a
// decompression bomb stops there with kResourceExhausted naming the method
// and the limit), decoder memory is bounded (xz/lzma: 256 MiB, zstd: a
// 128 MiB window), and a truncated or corrupt stream is kDataLoss naming the
// method.
#ifndef TIFFIN_IMPORTERS_PICKLE_COMPRESSION_H_
#define TIFFIN_IMPORTERS_PICKLE_COMPRESSION_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "tiffin/status.h"

namespace tiffin::pickle {

// The default `max_output`: 4 GiB, like PickleOptions::max_bytes.
inline constexpr size_t kDefaultMaxDecompressedBytes = size_t{1} << 32;

// "zlib", "gzip", "bz2", "xz", "lzma", "lz4", "zstd", or "none".
std::string_view DetectCompression(std::string_view bytes);

// Decompresses `bytes` by the method DetectCompression finds and stores that
// method's name in `*method` (if not null). "none" returns a copy of `bytes`
// (still refused with kResourceExhausted if longer than `max_output`).
// Errors: kDataLoss (truncated or corrupt stream, named by method),
// kResourceExhausted (output over `max_output`, or decoder memory over its
// bound).
Result<std::string> DecompressStream(std::string_view bytes, size_t max_output,
                                     std::string* method);

// Inflates one zlib stream (RFC 1950) of exactly `expected_size` bytes
// (joblib's legacy "ZF" files record the size in their header). kDataLoss if
// the stream is corrupt or its size differs; kResourceExhausted if
// `expected_size` exceeds `max_output`.
Result<std::string> InflateZlibExactly(std::string_view bytes, size_t expected_size,
                                       size_t max_output);

}  // namespace tiffin::pickle

#endif  // TIFFIN_IMPORTERS_PICKLE_COMPRESSION_H_
