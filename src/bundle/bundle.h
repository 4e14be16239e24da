// Reading `.tiffin` bundles (docs/bundle-format.md): the loader LoadModel
// uses, over a memory-mapped file or bytes in memory.
#ifndef TIFFIN_BUNDLE_BUNDLE_H_
#define TIFFIN_BUNDLE_BUNDLE_H_

#include <memory>
#include <string>
#include <string_view>

#include "tiffin/model.h"
#include "tiffin/options.h"

namespace tiffin::bundle {

// True when `head` (the first bytes of a file) is a zip whose first local
// header names manifest.json.
bool LooksLikeBundle(std::string_view head);

// Maps the file at `path` and loads it: checks the zip structure, reads the
// manifest and its format version first, verifies every entry's size and
// SHA-256, parses model.onnx with its external weights used in place from the
// mapping, compiles, then (options.verify) replays the reference cases.
// Errors name the file and the entry, case or field; a newer format version
// is kNotSupported naming both versions.
Result<std::shared_ptr<const Model>> LoadBundleFile(const std::string& path,
                                                    const LoadOptions& options);

// The same over `size` bytes at `data`, kept alive by `owner`; initializers
// point into them. REQUIRES: the bytes stay unchanged while the model lives.
Result<std::shared_ptr<const Model>> LoadBundleBytes(const char* data, size_t size,
                                                     std::shared_ptr<void> owner,
                                                     const LoadOptions& options);

}  // namespace tiffin::bundle

#endif  // TIFFIN_BUNDLE_BUNDLE_H_
