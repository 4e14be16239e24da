// libFuzzer target: arbitrary bytes as a model's config.pbtxt (protobuf text
// format over server/model_config.proto). Parsing must either succeed with
// settings inside their documented bounds or fail with a message; never
// crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = tiffin::server::ParseModelConfig(text, "config.pbtxt", {0, 100});
  if (!c.ok()) {
    if (c.status().message().empty()) std::abort();
    return 0;
  }
  if (c->batching &&
      (c->batching->max_batch_size < 0 || c->batching->max_batch_size > (1 << 20) ||
       c->batching->max_queue_delay_us < 0 || c->batching->max_queue_delay_us > 10000000))
    std::abort();
  if (c->policy && c->policy->kind == tiffin::server::VersionPolicy::kLatest &&
      c->policy->latest < 1)
    std::abort();
  for (const auto& [label, v] : c->labels)
    if (label.empty() || v < 0) std::abort();
  return 0;
}
