#include "tools/tiffin/commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "core/json.h"
#include "importers/onnx/tensor_proto.h"
#include "importers/torch/torch_archive.h"
#include "io/tensor_io.h"
#include "kernels/registry.h"
#include "tiffin/bundle.h"
#include "tiffin/checks.h"
#include "tiffin/model.h"
#include "tiffin/sklearn.h"

namespace tiffin::cli {

namespace {

// Parsed "--flag value" / "--flag" options and positional arguments.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::vector<std::string> flags;
  bool Has(const std::string& f) const {
    for (const auto& x : flags)
      if (x == f) return true;
    return false;
  }
};

// `value_opts` take a value; `flag_opts` do not. Unknown options are errors.
bool ParseArgs(const std::vector<std::string>& in, const std::vector<std::string>& value_opts,
               const std::vector<std::string>& flag_opts, const char* cmd, Args* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& a = in[i];
    if (a.size() > 1 && a[0] == '-') {
      std::string key = a, val;
      bool has_inline = false;
      if (auto eq = a.find('='); eq != std::string::npos) {
        key = a.substr(0, eq);
        val = a.substr(eq + 1);
        has_inline = true;
      }
      bool is_value = false, is_flag = false;
      for (const auto& v : value_opts) is_value |= v == key;
      for (const auto& f : flag_opts) is_flag |= f == key;
      if (is_flag) {
        out->flags.push_back(key);
      } else if (is_value) {
        if (!has_inline) {
          if (i + 1 >= in.size()) {
            std::fprintf(stderr, "tiffin %s: %s needs a value\n", cmd, key.c_str());
            return false;
          }
          val = in[++i];
        }
        out->values[key] = val;
      } else {
        std::fprintf(stderr, "tiffin %s: unknown option '%s' (see 'tiffin %s --help')\n", cmd,
                     a.c_str(), cmd);
        return false;
      }
    } else {
      out->positional.push_back(a);
    }
  }
  return true;
}

int Fail(const char* cmd, const Status& s) {
  std::fprintf(stderr, "tiffin %s: %s\n", cmd, s.ToString().c_str());
  return 1;
}

std::string InfoJson(const TensorInfo& t) {
  std::string s = "{\"name\":" + JsonQuote(t.name) + ",\"datatype\":\"" +
                  std::string(DTypeKServeName(t.dtype)) + "\",\"dtype\":\"" +
                  std::string(DTypeName(t.dtype)) + "\",\"shape\":";
  if (!t.has_shape) return s + "null}";
  s += "[";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (i) s += ",";
    const Dim& d = t.shape[i];
    s += d.fixed() ? std::to_string(d.value) : d.symbol.empty() ? "-1" : JsonQuote(d.symbol);
  }
  return s + "]}";
}

std::string HumanBytes(int64_t b) {
  char buf[32];
  if (b < 1024) return std::to_string(b) + " B";
  if (b < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1024.0 * 1024));
  }
  return buf;
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string StatsJson(const std::vector<FeatureStats>& stats) {
  std::string s = "[";
  for (size_t i = 0; i < stats.size(); ++i) {
    const FeatureStats& f = stats[i];
    s += std::string(i ? "," : "") + "{\"name\":" + JsonQuote(f.name) +
         ",\"min\":" + JsonNumber(f.min) + ",\"max\":" + JsonNumber(f.max) +
         ",\"mean\":" + JsonNumber(f.mean) + ",\"std\":" + JsonNumber(f.std) +
         ",\"categories\":" + JsonStringList(f.categories) + ",\"source\":" + JsonQuote(f.source) +
         "}";
  }
  return s + "]";
}

std::string StatsText(const FeatureStats& f) {
  char buf[160];
  std::string s;
  if (std::isfinite(f.min) || std::isfinite(f.max)) {
    std::snprintf(buf, sizeof buf, "range %.6g..%.6g", f.min, f.max);
    s += buf;
  }
  if (std::isfinite(f.mean)) {
    std::snprintf(buf, sizeof buf, "%smean %.6g", s.empty() ? "" : ", ", f.mean);
    s += buf;
  }
  if (std::isfinite(f.std)) {
    std::snprintf(buf, sizeof buf, "%sstd %.6g", s.empty() ? "" : ", ", f.std);
    s += buf;
  }
  if (!f.categories.empty()) {
    s += std::string(s.empty() ? "" : ", ") + std::to_string(f.categories.size()) + " categories";
  }
  return s;
}

std::string SklearnJson(const SklearnFileInfo& f) {
  std::string s = "{\"container\":" + JsonQuote(f.container) +
                  ",\"compression\":" + JsonQuote(f.compression) +
                  ",\"pickle_protocol\":" + std::to_string(f.pickle_protocol) +
                  ",\"numpy2\":" + (f.numpy2 ? "true" : "false") + ",\"objects\":[";
  for (size_t i = 0; i < f.objects.size(); ++i) {
    const SklearnObject& o = f.objects[i];
    s += std::string(i ? "," : "") + "{\"name\":" + JsonQuote(o.name) +
         ",\"path\":" + JsonQuote(o.path) + ",\"class\":" + JsonQuote(o.class_name) +
         ",\"role\":" + JsonQuote(o.role) + ",\"sklearn_version\":" + JsonQuote(o.sklearn_version) +
         ",\"supported\":" + (o.supported ? "true" : "false") +
         ",\"tree\":" + JsonStringList(o.tree) + "}";
  }
  return s + "]}";
}

// The scikit-learn part of `inspect`: what the file holds and who wrote it.
void PrintSklearn(const SklearnFileInfo& f, const std::vector<std::string>& steps) {
  std::string version = f.objects.empty() ? "?" : f.objects[0].sklearn_version;
  std::printf("scikit-learn file\n");
  std::printf("  container   %s (compression: %s)\n", f.container.c_str(), f.compression.c_str());
  std::printf("  pickle      protocol %d%s\n", f.pickle_protocol,
              f.numpy2 ? ", arrays written by numpy 2 (numpy._core)" : "");
  std::printf("  written by  scikit-learn %s\n", version.c_str());
  std::printf("objects (%zu)\n", f.objects.size());
  for (const auto& o : f.objects) {
    std::printf("  %-14s %-18s %s%s\n", o.name.c_str(), o.role.c_str(), o.class_name.c_str(),
                o.path.empty() ? "" : ("   at " + o.path).c_str());
    for (const auto& line : o.tree) std::printf("      %s\n", line.c_str());
  }
  // Several objects and no --steps: the predictor runs alone. Say what that
  // leaves out, because this is how preprocessing gets left behind.
  if (steps.empty() && f.objects.size() > 1) {
    std::string model, transformers;
    for (const auto& o : f.objects) {
      if (o.role == "classifier" || o.role == "regressor" || o.role == "outlier detector")
        model = o.name;
      if (o.role == "transformer") transformers += (transformers.empty() ? "" : ",") + o.name;
    }
    if (!model.empty() && !transformers.empty()) {
      std::printf(
          "note        '%s' runs alone below; this file also holds %s, which the model was\n"
          "            probably trained after: to apply it, use --steps %s,%s\n",
          model.c_str(), transformers.c_str(), transformers.c_str(), model.c_str());
    }
  }
}

// The bundle part of `inspect`: what the manifest says (see
// docs/bundle-format.md); nothing for other formats.
void PrintBundleSummary(const ModelInfo& info) {
  if (info.format.rfind("tiffin bundle", 0) != 0) return;
  auto get = [&](const char* key) {
    auto it = info.metadata.find(key);
    return it == info.metadata.end() ? std::string("?") : it->second;
  };
  std::printf("bundle      %s version %s, created %s by tiffin %s\n", get("bundle.name").c_str(),
              get("bundle.version").c_str(), get("bundle.created").c_str(),
              get("bundle.tiffin_version").c_str());
  std::printf("source      %s (%s, sha256 %s)\n", get("bundle.source_file").c_str(),
              get("bundle.source_format").c_str(), get("bundle.source_sha256").c_str());
  std::printf("reference   %s\n", get("bundle.reference").c_str());
  std::printf("integrity   every entry's SHA-256 matches the manifest\n");
}

// The gradient-boosting part of `inspect` (XGBoost, LightGBM): what the
// importer read from the file; nothing for other formats.
void PrintGbdtSummary(const ModelInfo& info) {
  auto objective = info.metadata.find("objective");
  auto trees = info.metadata.find("num_trees");
  if (objective == info.metadata.end() || trees == info.metadata.end()) return;
  auto get = [&](const char* key) {
    auto it = info.metadata.find(key);
    return it == info.metadata.end() ? std::string("?") : it->second;
  };
  std::printf("objective   %s\n", objective->second.c_str());
  std::printf("trees       %s (%s outputs, %s features)\n", trees->second.c_str(),
              get("num_outputs").c_str(), get("num_features").c_str());
  std::printf("outputs are %s\n", get("outputs").c_str());
}

}  // namespace

std::vector<std::string> SplitSteps(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size() && !s.empty()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

int Inspect(const std::vector<std::string>& argv) {
  Args a;
  if (!ParseArgs(argv, {"--steps", "--config"}, {"--json", "--no-verify", "--help", "-h"},
                 "inspect", &a))
    return 2;
  if (a.Has("--help") || a.Has("-h") || a.positional.size() != 1) {
    std::fprintf(stderr,
                 "usage: tiffin inspect MODEL [--json] [--steps A,B] [--no-verify]\n"
                 "  --no-verify  .tiffin bundles: skip replaying the reference cases\n"
                 "  --steps  for files holding several objects: compose them (by name) into one\n"
                 "           pipeline, in order, e.g. --steps scaler,model\n"
                 "  --config  Keras weights-only .h5: the architecture JSON (model.to_json())\n");
    return a.Has("--help") || a.Has("-h") ? 0 : 2;
  }
  const std::string& path = a.positional[0];
  LoadOptions options;
  options.steps = SplitSteps(a.values["--steps"]);
  options.config_path = a.values["--config"];
  options.verify = !a.Has("--no-verify");
  std::string sklearn_json;
  const auto format = DetectFileFormat(path);
  // PyTorch torch.save files: the tensors (a state_dict has no graph).
  if (format.ok() &&
      (*format == "torch-legacy" || (*format == "zip" && torch_import::DetectTorchFile(path) ==
                                                             torch_import::TorchFileKind::kSave))) {
    auto t = torch_import::ReadTorchFile(path);
    if (!t.ok()) return Fail("inspect", t.status());
    const std::string out = a.Has("--json") ? torch_import::TorchArchiveJson(*t, path) + "\n"
                                            : torch_import::TorchArchiveText(*t, path);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  if (format.ok() && IsPickleFormat(*format) && !IsGradientBoostingFile(path)) {
    auto f = InspectSklearnFile(path);
    if (!f.ok()) return Fail("inspect", f.status());
    if (a.Has("--json")) {
      sklearn_json = SklearnJson(*f);
    } else {
      PrintSklearn(*f, options.steps);
    }
  }
  auto model = LoadModel(path, options);
  if (!model.ok()) {
    if (!sklearn_json.empty())
      std::printf("{\"path\":%s,\"sklearn\":%s}\n", JsonQuote(path).c_str(), sklearn_json.c_str());
    return Fail("inspect", model.status());
  }
  const ModelInfo& info = (*model)->info();
  if (a.Has("--json")) {
    std::string s = "{\"path\":" + JsonQuote(path) +
                    (sklearn_json.empty() ? "" : ",\"sklearn\":" + sklearn_json) +
                    ",\"format\":" + JsonQuote(info.format) +
                    ",\"producer_name\":" + JsonQuote(info.producer_name) +
                    ",\"producer_version\":" + JsonQuote(info.producer_version) +
                    ",\"ir_version\":" + std::to_string(info.ir_version) +
                    ",\"model_version\":" + std::to_string(info.model_version) + ",\"opsets\":{";
    bool first = true;
    for (const auto& [d, v] : info.opsets) {
      s += (first ? "" : ",") + JsonQuote(d) + ":" + std::to_string(v);
      first = false;
    }
    s += "},\"inputs\":[";
    for (size_t i = 0; i < (*model)->inputs().size(); ++i)
      s += (i ? "," : "") + InfoJson((*model)->inputs()[i]);
    s += "],\"outputs\":[";
    for (size_t i = 0; i < (*model)->outputs().size(); ++i)
      s += (i ? "," : "") + InfoJson((*model)->outputs()[i]);
    s += "],\"ops\":{";
    first = true;
    for (const auto& [op, n] : info.op_counts) {
      s += (first ? "" : ",") + JsonQuote(op) + ":" + std::to_string(n);
      first = false;
    }
    s += "},\"parameter_count\":" + std::to_string(info.parameter_count) +
         ",\"parameter_bytes\":" + std::to_string(info.parameter_bytes) + ",\"metadata\":{";
    first = true;
    for (const auto& [k, v] : info.metadata) {
      s += (first ? "" : ",") + JsonQuote(k) + ":" + JsonQuote(v);
      first = false;
    }
    s += "},\"feature_names\":" + JsonStringList(info.feature_names) +
         ",\"class_labels\":" + JsonStringList(info.class_labels) +
         ",\"training_stats\":" + StatsJson(info.training_stats) + "}";
    std::printf("%s\n", s.c_str());
    return 0;
  }
  std::printf("model       %s\n", path.c_str());
  PrintBundleSummary(info);
  PrintGbdtSummary(info);
  if (info.ir_version > 0) {
    std::printf("format      %s (IR version %lld)\n", info.format.c_str(),
                static_cast<long long>(info.ir_version));
  } else {
    std::printf("format      %s, converted to an ONNX graph\n", info.format.c_str());
  }
  std::printf("producer    %s %s\n",
              info.producer_name.empty() ? "(unknown)" : info.producer_name.c_str(),
              info.producer_version.c_str());
  std::string opsets;
  for (const auto& [d, v] : info.opsets)
    opsets += (opsets.empty() ? "" : ", ") + (d.empty() ? std::string("ai.onnx") : d) + " " +
              std::to_string(v);
  std::printf("opsets      %s\n", opsets.c_str());
  auto print_infos = [](const char* title, const std::vector<TensorInfo>& infos) {
    std::printf("%s\n", title);
    for (const auto& t : infos) {
      std::printf("  %-24s %-8s %s\n", t.name.c_str(), std::string(DTypeName(t.dtype)).c_str(),
                  t.has_shape ? DimsToString(t.shape).c_str() : "(shape unknown)");
    }
  };
  print_infos("inputs", (*model)->inputs());
  print_infos("outputs", (*model)->outputs());
  std::printf("operators\n");
  int64_t nodes = 0;
  for (const auto& [op, n] : info.op_counts) {
    std::printf("  %-24s %lld\n", op.c_str(), static_cast<long long>(n));
    nodes += n;
  }
  std::printf("nodes       %lld\n", static_cast<long long>(nodes));
  std::printf("parameters  %lld (%s)\n", static_cast<long long>(info.parameter_count),
              HumanBytes(info.parameter_bytes).c_str());
  if (!info.class_labels.empty()) {
    std::string labels;
    for (const auto& l : info.class_labels) labels += (labels.empty() ? "" : ", ") + l;
    std::printf("classes     %s\n", labels.c_str());
  }
  if (!info.feature_names.empty()) {
    std::string names;
    for (const auto& n : info.feature_names) names += (names.empty() ? "" : ", ") + n;
    std::printf("columns     %s\n", names.c_str());
  }
  if (!info.training_stats.empty()) {
    std::printf("training statistics (what the model knows about its inputs)\n");
    for (const auto& f : info.training_stats) {
      if (f.source.empty()) continue;
      std::printf("  %-24s %s   [%s]\n", f.name.c_str(), StatsText(f).c_str(), f.source.c_str());
    }
  }
  if (auto it = info.metadata.find("notes"); it != info.metadata.end()) {
    std::printf("notes       %s\n", it->second.c_str());
  }
  return 0;
}

int Predict(const std::vector<std::string>& argv) {
  Args a;
  if (!ParseArgs(argv, {"--input", "-i", "--output", "-o", "--steps", "--config"},
                 {"--no-verify", "--help", "-h"}, "predict", &a))
    return 2;
  std::string input = a.values.count("--input") ? a.values["--input"] : a.values["-i"];
  std::string output = a.values.count("--output") ? a.values["--output"] : a.values["-o"];
  if (a.Has("--help") || a.Has("-h") || a.positional.size() != 1 || input.empty()) {
    std::fprintf(stderr,
                 "usage: tiffin predict MODEL --input FILE [--output FILE] [--steps A,B]\n"
                 "  FILE: a KServe v2 JSON request "
                 "{\"inputs\":[{\"name\",\"shape\",\"datatype\",\"data\"}]},\n"
                 "        a JSON object {\"<input name>\": nested list}, a .npy array (models\n"
                 "        with one input), a CSV file with a header, or JSON records\n"
                 "        [{\"col\": v}, ...] / columns {\"col\": [...]} for tabular models\n"
                 "  --steps  compose objects of a multi-object pickle, e.g. scaler,model\n"
                 "  --config  Keras weights-only .h5: the architecture JSON (model.to_json())\n"
                 "  --no-verify  .tiffin bundles: skip replaying the reference cases\n"
                 "  prints {\"outputs\":[{\"name\",\"datatype\",\"shape\",\"data\"}]} (or writes "
                 "--output)\n");
    return a.Has("--help") || a.Has("-h") ? 0 : 2;
  }
  LoadOptions options;
  options.steps = SplitSteps(a.values["--steps"]);
  options.config_path = a.values["--config"];
  options.verify = !a.Has("--no-verify");
  auto model = LoadModel(a.positional[0], options);
  if (!model.ok()) return Fail("predict", model.status());
  const auto& infos = (*model)->inputs();
  auto bytes = onnx_import::ReadFileBytes(input, size_t{2} << 30);
  if (!bytes.ok()) return Fail("predict", bytes.status().WithContext("--input"));
  std::vector<NamedTensor> feeds;
  const std::string& b = *bytes;
  size_t first = b.find_first_not_of(" \t\r\n");
  if (io::LooksLikeNpy(b)) {
    if (infos.size() != 1) {
      return Fail("predict",
                  InvalidArgument("a .npy input feeds a model with one input; this model has " +
                                  std::to_string(infos.size()) + " (use JSON to name each)"));
    }
    auto t = io::ParseNpy(b);
    if (!t.ok()) return Fail("predict", t.status().WithContext(input));
    feeds.push_back({infos[0].name, std::move(t).value()});
  } else if (first != std::string::npos && (b[first] == '{' || b[first] == '[') &&
             !io::LooksTabular(b, infos)) {
    auto parsed = io::ParseJsonInputs(b, infos);
    if (!parsed.ok()) return Fail("predict", parsed.status().WithContext(input));
    feeds = std::move(parsed).value();
  } else {
    // CSV or JSON records/columns: columns matched to the model's inputs by
    // name when it knows them, by position otherwise.
    auto parsed = io::ParseTabular(b, infos, (*model)->info().feature_names);
    if (!parsed.ok()) return Fail("predict", parsed.status().WithContext(input));
    feeds = std::move(parsed).value();
  }
  // Predict-time checks: lossless dtype conversion, then values far outside
  // the training range counted and reported beside the outputs.
  auto conformed = ConformInputs(**model, std::move(feeds));
  if (!conformed.ok()) return Fail("predict", conformed.status());
  const std::vector<std::string> warnings = RangeWarnings(**model, *conformed);
  auto outputs = (*model)->Run(*conformed);
  if (!outputs.ok()) return Fail("predict", outputs.status());
  std::vector<NamedTensor> named;
  for (size_t i = 0; i < outputs->size(); ++i)
    named.push_back({(*model)->outputs()[i].name, std::move((*outputs)[i])});
  std::string json = io::WriteJsonOutputs(named);
  if (!warnings.empty()) {
    json.pop_back();  // the closing brace
    json += ",\"warnings\":" + JsonStringList(warnings) + "}";
    for (const auto& w : warnings) std::fprintf(stderr, "tiffin predict: warning: %s\n", w.c_str());
  }
  json += "\n";
  if (output.empty()) {
    std::fwrite(json.data(), 1, json.size(), stdout);
    return 0;
  }
  std::ofstream out(output, std::ios::binary);
  out << json;
  if (!out) return Fail("predict", InvalidArgument("cannot write --output '" + output + "'"));
  return 0;
}

int Convert(const std::vector<std::string>& argv) {
  Args a;
  if (!ParseArgs(argv, {"--output", "-o", "--steps", "--config"}, {"--help", "-h", "--no-verify"},
                 "convert", &a)) {
    return 2;
  }
  std::string output = a.values.count("--output") ? a.values["--output"] : a.values["-o"];
  if (a.Has("--help") || a.Has("-h") || a.positional.size() != 1 || output.empty()) {
    std::fprintf(stderr,
                 "usage: tiffin convert MODEL -o OUT.onnx [--steps A,B] [--config ARCH.json]\n"
                 "                      [--no-verify]\n"
                 "  writes MODEL (any format tiffin reads: a scikit-learn pickle or joblib file,\n"
                 "  Keras, TorchScript, a .tiffin bundle, or ONNX) as one standard ONNX file:\n"
                 "  ai.onnx opset 17, ai.onnx.ml opset 3 (5 with tree ensembles), IR version 8\n"
                 "  (10 with ai.onnx.ml 5); ONNX Runtime runs it unchanged. A bundle is\n"
                 "  verified first.\n"
                 "  --steps      compose objects of a multi-object pickle, e.g. scaler,model\n"
                 "  --config     Keras weights-only .h5: the architecture JSON (model.to_json())\n"
                 "  --no-verify  bundles: skip replaying the reference cases (checksums are\n"
                 "               still checked)\n");
    return a.Has("--help") || a.Has("-h") ? 0 : 2;
  }
  LoadOptions options;
  options.steps = SplitSteps(a.values["--steps"]);
  options.verify = !a.Has("--no-verify");
  options.config_path = a.values["--config"];
  Status s = ConvertToOnnx(a.positional[0], output, options);
  if (!s.ok()) return Fail("convert", s);
  std::fprintf(stderr, "tiffin convert: wrote %s\n", output.c_str());
  return 0;
}

int Pack(const std::vector<std::string>& argv) {
  Args a;
  if (!ParseArgs(argv,
                 {"--output", "-o", "--name", "--model-version", "--reference", "--steps",
                  "--config", "--reference-rows"},
                 {"--help", "-h"}, "pack", &a))
    return 2;
  std::string output = a.values.count("--output") ? a.values["--output"] : a.values["-o"];
  if (a.Has("--help") || a.Has("-h") || a.positional.size() != 1 || output.empty()) {
    std::fprintf(stderr,
                 "usage: tiffin pack MODEL -o OUT.tiffin [--name N] [--model-version V]\n"
                 "                   [--reference DATA] [--reference-rows 16] [--steps A,B]\n"
                 "  writes a .tiffin bundle (docs/bundle-format.md): the model as standard ONNX\n"
                 "  with its weights, schema, provenance and training statistics\n"
                 "  --reference  CSV, JSON table or .npy: its first rows and their predictions\n"
                 "               become reference cases, replayed on every load; its numeric\n"
                 "               columns give training statistics\n"
                 "  --steps      compose objects of a multi-object pickle, e.g. scaler,model\n"
                 "  --config     Keras weights-only .h5: the architecture JSON\n");
    return a.Has("--help") || a.Has("-h") ? 0 : 2;
  }
  PackOptions options;
  options.name = a.values["--name"];
  if (a.values.count("--model-version")) options.model_version = a.values["--model-version"];
  options.reference_path = a.values["--reference"];
  options.steps = SplitSteps(a.values["--steps"]);
  options.config_path = a.values["--config"];
  if (a.values.count("--reference-rows")) {
    char* end = nullptr;
    const std::string& v = a.values["--reference-rows"];
    long long rows = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || rows < 1) {
      std::fprintf(stderr, "tiffin pack: --reference-rows needs a positive count, got '%s'\n",
                   v.c_str());
      return 2;
    }
    options.reference_rows = rows;
  }
  options.progress = [](std::string_view line) {
    std::fprintf(stderr, "tiffin pack: %.*s\n", static_cast<int>(line.size()), line.data());
  };
  Status s = PackBundle(a.positional[0], output, options);
  if (!s.ok()) return Fail("pack", s);
  std::fprintf(stderr, "tiffin pack: wrote %s\n", output.c_str());
  return 0;
}

int Ops(const std::vector<std::string>& argv) {
  Args a;
  if (!ParseArgs(argv, {}, {"--json", "--sklearn", "--help", "-h"}, "ops", &a)) return 2;
  if (a.Has("--help") || a.Has("-h") || !a.positional.empty()) {
    std::fprintf(stderr,
                 "usage: tiffin ops [--json] [--sklearn]\n"
                 "  --sklearn  list the scikit-learn classes tiffin converts instead\n");
    return a.Has("--help") || a.Has("-h") ? 0 : 2;
  }
  if (a.Has("--sklearn")) {
    std::vector<std::string> classes = SklearnSupportedClasses();
    std::sort(classes.begin(), classes.end());
    if (a.Has("--json")) {
      std::printf("%s\n", JsonStringList(classes).c_str());
    } else {
      for (const auto& c : classes) std::printf("%s\n", c.c_str());
      std::printf("%zu scikit-learn classes\n", classes.size());
    }
    return 0;
  }
  std::vector<kernels::KernelDef> rows = kernels::AllKernels();
  std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) {
    return std::string(x.domain) + x.op_type < std::string(y.domain) + y.op_type;
  });
  if (a.Has("--json")) {
    std::string s = "[";
    for (size_t i = 0; i < rows.size(); ++i) {
      s += (i ? "," : "") + std::string("{\"op\":") + JsonQuote(rows[i].op_type) +
           ",\"domain\":" + JsonQuote(*rows[i].domain ? rows[i].domain : "ai.onnx") +
           ",\"min_opset\":" + std::to_string(rows[i].min_opset) +
           ",\"max_opset\":" + std::to_string(rows[i].max_opset) + "}";
    }
    std::printf("%s]\n", s.c_str());
    return 0;
  }
  std::printf("%-12s %-28s %s\n", "domain", "operator", "opsets");
  for (const auto& r : rows) {
    std::printf("%-12s %-28s %d-%d\n", *r.domain ? r.domain : "ai.onnx", r.op_type, r.min_opset,
                r.max_opset);
  }
  std::printf("%zu operators\n", rows.size());
  return 0;
}

}  // namespace tiffin::cli
