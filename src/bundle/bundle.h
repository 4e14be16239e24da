// Reading `.tiffin` bundles (docs/bundle-format.md): the loader LoadModel
// uses, over a memory-mapped file or bytes in memory.
#ifndef TIFFIN_BUNDLE_BUNDLE_H_
#define TIFFIN_BUNDLE_BUNDLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ir/graph.h"
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

// A loaded bundle together with the graph it was compiled from, for writing
// the graph back out (`tiffin convert model.tiffin -o model.onnx`). The
// graph's initializers point into the mapped file, which `graph` keeps alive.
struct OpenedBundle {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const ir::Graph> graph;
  std::map<std::string, int64_t> opsets;  // model.onnx's opset_import
};

// LoadBundleFile, verifying as it does (checksums, and the reference cases
// when options.verify), also returning the graph.
Result<OpenedBundle> OpenBundleFile(const std::string& path, const LoadOptions& options);

}  // namespace tiffin::bundle

#endif  // TIFFIN_BUNDLE_BUNDLE_H_
