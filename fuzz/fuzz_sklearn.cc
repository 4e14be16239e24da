// libFuzzer target: arbitrary bytes as a scikit-learn pickle or joblib
// stream, through the whole importer: parse, convert to a graph, compile and
// run on two rows (zeros and NaN). Hostile estimator state (tree children
// out of range or cyclic, feature indices beyond the input, shapes that do
// not chain) must give an error, never a crash or an over-allocation.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "exec/executor.h"
#include "importers/sklearn/sklearn.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto file = tiffin::sklearn::ParseSklearnBytes(bytes, size_t{64} << 20);
  if (!file.ok()) return 0;
  (void)tiffin::sklearn::ListObjects(*file);
  auto g = tiffin::sklearn::ImportSklearn(*file, {});
  if (!g.ok()) return 0;
  tiffin::LoadOptions options;
  options.max_tensor_bytes = size_t{64} << 20;
  auto compiled = tiffin::exec::CompiledGraph::Compile(g->graph, options);
  if (!compiled.ok()) return 0;
  auto model = tiffin::exec::MakeModel(*compiled, g->inputs, g->outputs, g->info);
  if (!model.ok()) return 0;
  std::vector<tiffin::NamedTensor> feeds;
  for (const auto& in : g->inputs) {
    int64_t width = in.shape.size() == 2 && in.shape[1].fixed() ? in.shape[1].value : 1;
    if (width > 4096) return 0;
    tiffin::Tensor t(in.dtype, {2, width});
    if (in.dtype == tiffin::DType::kFloat64)
      for (int64_t i = width; i < 2 * width; ++i) t.data<double>()[i] = std::nan("");
    feeds.push_back({in.name, t});
  }
  (void)(*model)->Run(feeds);
  return 0;
}
