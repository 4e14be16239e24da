// libFuzzer target: arbitrary bytes as a Keras model config (model.to_json()
// or a .keras config.json), through the whole importer with no weights: parse
// the layer graph, convert it, compile and run on one row of zeros. Cycles,
// dangling references, absurd shapes and unknown classes must give an error,
// never a crash, a hang or an over-allocation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exec/executor.h"
#include "importers/keras/keras.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tiffin::keras::KerasSource src;
  src.format = "Keras HDF5";
  src.config_json.assign(reinterpret_cast<const char*>(data), size);
  // The first byte picks the Keras 3 reading (weights by saving path).
  src.is_keras3 = size > 0 && (data[0] & 1);
  tiffin::LoadOptions options;
  options.max_tensor_bytes = size_t{16} << 20;
  options.max_nodes = 10000;
  auto g = tiffin::keras::ImportKeras(src, options);
  if (!g.ok()) return 0;
  auto compiled = tiffin::exec::CompiledGraph::Compile(g->graph, options);
  if (!compiled.ok()) return 0;
  auto model = tiffin::exec::MakeModel(*compiled, g->inputs, g->outputs, g->info);
  if (!model.ok()) return 0;
  std::vector<tiffin::NamedTensor> feeds;
  for (const auto& in : g->inputs) {
    tiffin::Shape shape = {1};
    int64_t n = 1;
    for (size_t k = 1; k < in.shape.size(); ++k) {
      const int64_t d = in.shape[k].fixed() ? in.shape[k].value : 2;
      if (d > 256 || (n *= std::max<int64_t>(d, 1)) > 4096) return 0;
      shape.push_back(d);
    }
    feeds.push_back({in.name, tiffin::Tensor(in.dtype, shape)});
  }
  (void)(*model)->Run(feeds);
  return 0;
}
