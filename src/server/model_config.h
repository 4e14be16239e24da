// Per-model serving settings: the version policy, dynamic batching and TF
// Serving labels, from server-wide flags and from a model's own config.pbtxt.
//
// config.pbtxt sits beside a model's version folders
// (<repository>/<model>/config.pbtxt), as in Triton, and holds a subset of
// Triton's ModelConfig in protobuf text format:
//
//   max_batch_size: 16
//   dynamic_batching { max_queue_delay_microseconds: 500 }
//   version_policy { latest { num_versions: 2 } }   # or all {} / specific { versions: [1, 3] }
//   version_labels { key: "stable" value: 1 }       # TF Serving's field
//
// Fields set in the file override the flags for that model; the rest keep the
// flags' values. As in Triton, dynamic batching is on when `dynamic_batching`
// is present (it then needs max_batch_size > 0) and off when the file sets
// max_batch_size without it.
//
// Unknown fields: a field Triton defines but tiffin does not use (input,
// output, instance_group, platform, backend, ...) is ignored with a warning,
// so a Triton model's config.pbtxt works unchanged; any other name is an
// error naming the field, since Triton too refuses it and it is most likely
// a typo (a misspelt max_batch_size silently ignored would serve with the
// wrong settings).
#ifndef TIFFIN_SERVER_MODEL_CONFIG_H_
#define TIFFIN_SERVER_MODEL_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tiffin/status.h"

namespace tiffin::server {

struct VersionPolicy {
  enum Kind { kLatest, kAll, kSpecific } kind = kLatest;
  int latest = 1;
  std::vector<int64_t> specific;
};

// "latest", "latest:N", "all", "specific:1,3" (the --version-policy flag).
Result<VersionPolicy> ParseVersionPolicy(const std::string& text);

// Dynamic batching for one model (max_batch_size < 2: off).
struct BatchSettings {
  int max_batch_size = 0;
  int max_queue_delay_us = 100;
};

// What one config.pbtxt sets; unset fields are empty.
struct ModelConfig {
  std::string name;  // when set, must be the model's folder name
  std::optional<VersionPolicy> policy;
  std::optional<BatchSettings> batching;  // on (Triton: dynamic_batching given) or off
  std::map<std::string, int64_t> labels;
  std::vector<std::string> warnings;  // ignored Triton fields, one line each
};

inline constexpr size_t kMaxModelConfigBytes = 1 << 20;
inline constexpr char kModelConfigFile[] = "config.pbtxt";

// Parses config.pbtxt text; `where` names the file in errors. `defaults` (the
// flags) fill max_queue_delay_us when dynamic_batching leaves it out.
// Errors: kInvalidArgument naming the field, line and column.
Result<ModelConfig> ParseModelConfig(std::string_view text, const std::string& where,
                                     const BatchSettings& defaults = {});

// Reads and parses `path`; at most kMaxModelConfigBytes.
Result<ModelConfig> ReadModelConfig(const std::string& path, const BatchSettings& defaults = {});

}  // namespace tiffin::server

#endif  // TIFFIN_SERVER_MODEL_CONFIG_H_
