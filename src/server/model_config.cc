#include "server/model_config.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <charconv>
#include <fstream>

#include "server/model_config.pb.h"

namespace tiffin::server {

namespace {

bool ParseInt(std::string_view s, int64_t* v) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Scalar fields of Triton's model_config.proto that tiffin reads past (its
// message fields are `Ignored` in model_config.proto): a Triton config.pbtxt
// holding them still loads, with a warning naming them.
bool TritonField(const std::string& message, const std::string& field) {
  static const char* const kModel[] = {"platform", "backend", "runtime", "default_model_filename"};
  static const char* const kBatching[] = {"preferred_batch_size", "preserve_ordering",
                                          "priority_levels", "default_priority_level"};
  auto in = [&](const auto& list) {
    return std::any_of(std::begin(list), std::end(list), [&](const char* f) { return field == f; });
  };
  if (message == "tiffin.server.config.ModelConfig") return in(kModel);
  if (message == "tiffin.server.config.ModelDynamicBatching") return in(kBatching);
  return false;
}

// Warnings for the Ignored fields `m` sets.
void IgnoredFields(const google::protobuf::Message& m, const std::string& where,
                   std::vector<std::string>* warnings) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (!f->message_type() || f->message_type()->name() != "Ignored") continue;
    if (f->is_repeated() ? r->FieldSize(m, f) == 0 : !r->HasField(m, f)) continue;
    warnings->push_back(where + ": ignoring Triton field '" + f->name() + "' of " + d->name() +
                        " (tiffin does not use it)");
  }
}

// Collects the parser's errors, and its warnings about unknown fields.
class Collector : public google::protobuf::io::ErrorCollector {
 public:
  explicit Collector(std::string where) : where_(std::move(where)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error.empty()) error = At(line, column) + message;
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    // "Message type \"M\" has no field named \"f\"." (AllowUnknownField).
    const std::string type_mark = "Message type \"", field_mark = "has no field named \"";
    size_t t = message.find(type_mark), f = message.find(field_mark);
    if (t == std::string::npos || f == std::string::npos) {
      warnings.push_back(At(line, column) + message);
      return;
    }
    t += type_mark.size();
    f += field_mark.size();
    const std::string type = message.substr(t, message.find('"', t) - t);
    const std::string field = message.substr(f, message.find('"', f) - f);
    const std::string short_type = type.substr(type.rfind('.') + 1);
    if (short_type == "Ignored") return;  // inside a field already warned about
    if (TritonField(type, field)) {
      warnings.push_back(At(line, column) + "ignoring Triton field '" + field + "' of " +
                         short_type + " (tiffin does not use it)");
    } else if (error.empty()) {
      error = At(line, column) + "unknown field '" + field + "' in " + short_type +
              " (tiffin reads name, max_batch_size, dynamic_batching "
              "{ max_queue_delay_microseconds }, version_policy and version_labels)";
    }
  }
  std::string At(int line, int column) const {
    return where_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": ";
  }
  std::string error;
  std::vector<std::string> warnings;

 private:
  std::string where_;
};

}  // namespace

Result<VersionPolicy> ParseVersionPolicy(const std::string& text) {
  VersionPolicy p;
  const std::string fix = " (use latest, latest:N, all or specific:1,3)";
  if (text == "all") {
    p.kind = VersionPolicy::kAll;
    return p;
  }
  if (text == "latest") return p;
  if (text.rfind("latest:", 0) == 0) {
    int64_t n;
    if (!ParseInt(std::string_view(text).substr(7), &n) || n < 1 || n > 1000000) {
      return InvalidArgument("--version-policy '" + text + "': N must be a positive count" + fix);
    }
    p.latest = static_cast<int>(n);
    return p;
  }
  if (text.rfind("specific:", 0) == 0) {
    p.kind = VersionPolicy::kSpecific;
    std::string_view rest = std::string_view(text).substr(9);
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      int64_t v;
      if (!ParseInt(rest.substr(0, comma), &v) || v < 0) {
        return InvalidArgument("--version-policy '" + text + "': versions are integers" + fix);
      }
      p.specific.push_back(v);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (p.specific.empty()) return InvalidArgument("--version-policy '" + text + "'" + fix);
    return p;
  }
  return InvalidArgument("unknown --version-policy '" + text + "'" + fix);
}

Result<ModelConfig> ParseModelConfig(std::string_view text, const std::string& where,
                                     const BatchSettings& defaults) {
  if (text.size() > kMaxModelConfigBytes) {
    return InvalidArgument(where + ": " + std::to_string(text.size()) + " bytes; a model config " +
                           "holds at most " + std::to_string(kMaxModelConfigBytes));
  }
  config::ModelConfig pb;
  Collector collector(where);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  parser.AllowUnknownField(true);
  // The tokenizer recurses per nesting level; protobuf bounds it (100).
  const bool parsed = parser.ParseFromString(std::string(text), &pb);
  if (!collector.error.empty()) return InvalidArgument(collector.error);
  if (!parsed) return InvalidArgument(where + ": not a valid model config");

  ModelConfig out;
  out.name = pb.name();
  out.warnings = std::move(collector.warnings);
  IgnoredFields(pb, where, &out.warnings);
  if (pb.has_dynamic_batching()) IgnoredFields(pb.dynamic_batching(), where, &out.warnings);
  const std::string fix = where + ": ";
  if (pb.has_version_policy()) {
    const auto& vp = pb.version_policy();
    VersionPolicy p;
    switch (vp.policy_choice_case()) {
      case config::ModelVersionPolicy::kLatest:
        if (vp.latest().num_versions() < 1 || vp.latest().num_versions() > 1000000) {
          return InvalidArgument(fix +
                                 "version_policy latest num_versions must be 1 or more, got " +
                                 std::to_string(vp.latest().num_versions()));
        }
        p.latest = static_cast<int>(vp.latest().num_versions());
        break;
      case config::ModelVersionPolicy::kAll:
        p.kind = VersionPolicy::kAll;
        break;
      case config::ModelVersionPolicy::kSpecific:
        p.kind = VersionPolicy::kSpecific;
        if (vp.specific().versions_size() == 0 || vp.specific().versions_size() > 100000) {
          return InvalidArgument(fix + "version_policy specific needs versions: [1, 3, ...]");
        }
        for (int64_t v : vp.specific().versions()) {
          if (v < 0) {
            return InvalidArgument(fix + "version_policy specific: version " + std::to_string(v) +
                                   " is negative");
          }
          p.specific.push_back(v);
        }
        break;
      default:
        return InvalidArgument(fix + "version_policy needs one of latest { num_versions: N }, " +
                               "all {} or specific { versions: [...] }");
    }
    out.policy = p;
  }
  if (pb.has_max_batch_size() && (pb.max_batch_size() < 0 || pb.max_batch_size() > (1 << 20))) {
    return InvalidArgument(fix + "max_batch_size must be in [0, 1048576], got " +
                           std::to_string(pb.max_batch_size()));
  }
  if (pb.has_dynamic_batching()) {
    if (!pb.has_max_batch_size() || pb.max_batch_size() < 1) {
      return InvalidArgument(fix + "dynamic_batching needs max_batch_size > 0 (the most rows " +
                             "one batch may hold)");
    }
    BatchSettings b;
    b.max_batch_size = pb.max_batch_size();
    b.max_queue_delay_us = defaults.max_queue_delay_us;
    if (pb.dynamic_batching().has_max_queue_delay_microseconds()) {
      const uint64_t d = pb.dynamic_batching().max_queue_delay_microseconds();
      if (d > 10000000) {
        return InvalidArgument(fix + "max_queue_delay_microseconds must be at most 10000000, got " +
                               std::to_string(d));
      }
      b.max_queue_delay_us = static_cast<int>(d);
    }
    out.batching = b;
  } else if (pb.has_max_batch_size()) {
    out.batching =
        BatchSettings{0, defaults.max_queue_delay_us};  // Triton: no dynamic_batching, none
  }
  if (pb.version_labels_size() > 10000) {
    return InvalidArgument(fix + "too many version_labels (" +
                           std::to_string(pb.version_labels_size()) + ")");
  }
  for (const auto& entry : pb.version_labels()) {
    if (entry.key().empty() || entry.value() < 0) {
      return InvalidArgument(fix + "version_labels entries need a key (the label) and a value " +
                             "(a version >= 0)");
    }
    out.labels[entry.key()] = entry.value();  // a later entry wins, as in a map
  }
  return out;
}

Result<ModelConfig> ReadModelConfig(const std::string& path, const BatchSettings& defaults) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot open '" + path + "'");
  std::string text(kMaxModelConfigBytes + 1, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(f.gcount()));
  if (text.size() > kMaxModelConfigBytes) {
    return InvalidArgument(path + ": larger than " + std::to_string(kMaxModelConfigBytes) +
                           " bytes; a model config is a few lines of text");
  }
  return ParseModelConfig(text, path, defaults);
}

}  // namespace tiffin::server
