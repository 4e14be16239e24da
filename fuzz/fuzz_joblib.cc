// libFuzzer target: arbitrary bytes as a joblib file (any compression, inline
// NumpyArrayWrapper arrays, legacy ZF), read with ReadJoblibOrPickleBytes
// without a directory (side files are refused), and every numpy array in the
// result converted. The bytes also go through DecompressStream alone. Nothing
// may crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "importers/pickle/compression.h"
#include "importers/pickle/joblib.h"
#include "importers/pickle/numpy.h"
#include "importers/pickle/pickle.h"

namespace {

using tiffin::pickle::PickleValue;

// Converts every array reachable from `root`, visiting each shared value once
// (a memo can make the tree exponentially large as a tree, not as a graph).
void ConvertArrays(const PickleValue& root) {
  std::unordered_set<const PickleValue*> seen;
  std::vector<const PickleValue*> todo = {&root};
  while (!todo.empty()) {
    const PickleValue* v = todo.back();
    todo.pop_back();
    if (!seen.insert(v).second) continue;
    if (v->is_object()) {
      if (!tiffin::pickle::NumpyArrayToTensor(*v).ok() &&
          !tiffin::pickle::NumpyObjectArrayItems(*v).ok()) {
        (void)tiffin::pickle::NumpyStructuredArrayFromPickle(*v);
      }
    }
    for (const auto& c : v->items) todo.push_back(c.get());
    for (const auto& [k, x] : v->entries) {
      todo.push_back(k.get());
      todo.push_back(x.get());
    }
    if (v->state) todo.push_back(v->state.get());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMaxBytes = size_t{64} << 20;
  (void)tiffin::pickle::DecompressStream(bytes, kMaxBytes, nullptr);
  tiffin::pickle::PickleOptions options;
  options.max_bytes = kMaxBytes;
  auto file = tiffin::pickle::ReadJoblibOrPickleBytes(bytes, "", options);
  if (file.ok()) ConvertArrays(file->root);
  return 0;
}
