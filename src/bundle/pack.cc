// `tiffin pack`: writes a `.tiffin` bundle (docs/bundle-format.md).
#include <onnx/onnx_pb.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include "bundle/bundle.h"
#include "bundle/zip.h"
#include "core/json.h"
#include "importers/load.h"
#include "importers/onnx/onnx_loader.h"
#include "importers/onnx/onnx_writer.h"
#include "importers/onnx/tensor_proto.h"
#include "importers/sklearn/sklearn.h"
#include "io/tensor_io.h"
#include "tiffin/bundle.h"
#include "tiffin/model.h"

namespace tiffin {

namespace {

// Initializers at least this large go to weights.bin; smaller ones stay in
// model.onnx, where the loader reads them anyway.
constexpr size_t kExternalMinBytes = 1024;
constexpr size_t kAlignment = 64;
// Entries larger than this get per-chunk hashes as well.
constexpr size_t kHashChunkBytes = size_t{1} << 20;

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, r.ptr);
}

std::string ShapeJson(const TensorInfo& t) {
  if (!t.has_shape) return "null";
  std::string s = "[";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    const Dim& d = t.shape[i];
    s += std::string(i ? "," : "") + (d.fixed()          ? std::to_string(d.value)
                                      : d.symbol.empty() ? "null"
                                                         : JsonQuote(d.symbol));
  }
  return s + "]";
}

std::string NowUtc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Moves the main graph's large initializers out of the serialized model into
// `weights` (each at a 64-byte aligned offset) as ONNX external data.
Result<std::string> Externalize(const std::string& onnx_bytes, std::string* weights,
                                std::map<std::string, int64_t>* opsets) {
  onnx::ModelProto mp;
  if (!mp.ParseFromString(onnx_bytes)) return Internal("the written ONNX model does not parse");
  for (const auto& os : mp.opset_import()) {
    (*opsets)[os.domain().empty() ? "ai.onnx" : os.domain()] = os.version();
  }
  for (auto& init : *mp.mutable_graph()->mutable_initializer()) {
    if (!init.has_raw_data() || init.raw_data().size() < kExternalMinBytes) continue;
    weights->append((kAlignment - weights->size() % kAlignment) % kAlignment, '\0');
    const size_t offset = weights->size();
    *weights += init.raw_data();
    init.clear_raw_data();
    init.set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* e = init.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", "weights.bin");
    add("offset", std::to_string(offset));
    add("length", std::to_string(weights->size() - offset));
  }
  std::string out;
  if (!mp.SerializeToString(&out)) return ResourceExhausted("model.onnx exceeds 2 GiB");
  return out;
}

// The first `rows` rows of `t` (all of them when it has fewer).
Tensor FirstRows(const Tensor& t, int64_t rows) {
  if (t.rank() == 0 || t.dim(0) <= rows) return t;
  Shape shape = t.shape();
  shape[0] = rows;
  Tensor out(t.dtype(), shape);
  if (t.dtype() == DType::kString) {
    for (int64_t i = 0; i < out.size(); ++i) out.data<std::string>()[i] = t.data<std::string>()[i];
  } else {
    std::memcpy(out.raw_data(), t.raw_data(), out.nbytes());
  }
  return out;
}

// `t` converted to `dtype` when both are numeric and differ (a float64 .npy
// for a float32 model).
Tensor CastTo(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype || dtype == DType::kUndefined || dtype == DType::kString ||
      t.dtype() == DType::kString) {
    return t;
  }
  Tensor out(dtype, t.shape());
  for (int64_t i = 0; i < t.size(); ++i) {
    const double v = ElementAsDouble(t, i);
    switch (dtype) {
      case DType::kFloat32:
        out.data<float>()[i] = static_cast<float>(v);
        break;
      case DType::kFloat64:
        out.data<double>()[i] = v;
        break;
      case DType::kInt64:
        out.data<int64_t>()[i] = static_cast<int64_t>(v);
        break;
      case DType::kInt32:
        out.data<int32_t>()[i] = static_cast<int32_t>(v);
        break;
      default:
        return t;
    }
  }
  return out;
}

// min/max/mean/std of each numeric column of the reference data.
std::vector<FeatureStats> ReferenceStats(const std::vector<NamedTensor>& feeds,
                                         const std::vector<std::string>& feature_names) {
  std::vector<FeatureStats> out;
  for (const auto& f : feeds) {
    const Tensor& t = f.tensor;
    if (t.dtype() == DType::kString || t.rank() == 0 || t.dim(0) == 0) continue;
    const int64_t rows = t.dim(0), cols = t.size() / rows;
    for (int64_t c = 0; c < cols; ++c) {
      FeatureStats s;
      if (cols == 1 && feeds.size() > 1) {
        s.name = f.name;
      } else if (feeds.size() == 1 && static_cast<int64_t>(feature_names.size()) == cols) {
        s.name = feature_names[static_cast<size_t>(c)];
      } else {
        s.name = cols == 1 ? f.name : "x" + std::to_string(c);
      }
      double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
      int64_t n = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double v = ElementAsDouble(t, r * cols + c);
        if (std::isnan(v)) continue;
        ++n;
        sum += v;
        sq += v * v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      if (n > 0) {
        s.min = lo;
        s.max = hi;
        s.mean = sum / static_cast<double>(n);
        s.std = std::sqrt(std::max(0.0, sq / static_cast<double>(n) - s.mean * s.mean));
      }
      s.source = "reference data";
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::string StatsJson(const FeatureStats& s) {
  return "{\"feature\":" + JsonQuote(s.name) + ",\"min\":" + Num(s.min) + ",\"max\":" + Num(s.max) +
         ",\"mean\":" + Num(s.mean) + ",\"std\":" + Num(s.std) +
         ",\"categories\":" + JsonStringList(s.categories) + ",\"source\":" + JsonQuote(s.source) +
         "}";
}

// A classifier's labels when an ai.onnx.ml node of the main graph names them.
std::vector<std::string> ClassLabels(const ir::Graph& g) {
  std::vector<std::string> out;
  for (const auto& node : g.nodes) {
    if (auto it = node.attributes.find("classlabels_strings"); it != node.attributes.end()) {
      return it->second.strings;
    }
    for (const char* key : {"classlabels_int64s", "classlabels_ints"}) {
      if (auto it = node.attributes.find(key); it != node.attributes.end()) {
        for (int64_t v : it->second.ints) out.push_back(std::to_string(v));
        return out;
      }
    }
  }
  return out;
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return NotFound("cannot create '" + tmp + "' (missing folder or no permission)");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return ResourceExhausted("writing '" + tmp + "' failed part way (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return NotFound("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
  return Status::Ok();
}

}  // namespace

Status PackBundle(const std::string& source, const std::string& out_path,
                  const PackOptions& options) {
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  LoadOptions load;
  load.steps = options.steps;
  load.config_path = options.config_path;
  load.verify = true;
  TIFFIN_ASSIGN_OR_RETURN(std::string src, onnx_import::ReadFileBytes(source, load.max_file_bytes));
  const std::string head = src.substr(0, 64);
  if (bundle::LooksLikeBundle(head)) {
    return InvalidArgument(source + ": already a tiffin bundle (pack the model it came from)");
  }
  say("hashing " + source);
  const std::string source_sha = bundle::Sha256Hex(src);
  say("loading " + source);
  auto loaded = LoadModel(source, load);
  if (!loaded.ok()) return loaded.status();
  const Model& model = **loaded;
  const ModelInfo& info = model.info();

  // The graph, as ONNX.
  const std::string format = DetectFormat(head);
  // The same graph `tiffin convert` writes, for every format LoadModel reads.
  TIFFIN_ASSIGN_OR_RETURN(ExportableGraph exported, ImportGraphForExport(source, load));
  const std::shared_ptr<const ir::Graph> graph = exported.graph;
  onnx_import::OnnxWriteOptions w = exported.write;
  w.producer_name = "tiffin";
  w.producer_version = Version();
  w.metadata = info.metadata;
  w.doc_string = format == "onnx" ? info.doc_string
                                  : "Packed by tiffin from " + info.format + " (" +
                                        info.producer_name + " " + info.producer_version + ")";
  say("writing model.onnx and weights.bin");
  TIFFIN_ASSIGN_OR_RETURN(std::string onnx_bytes, onnx_import::SerializeOnnx(*graph, w));
  std::string weights;
  std::map<std::string, int64_t> opsets;
  TIFFIN_ASSIGN_OR_RETURN(std::string model_onnx, Externalize(onnx_bytes, &weights, &opsets));
  onnx_bytes.clear();

  // Reference data: statistics over all rows, predictions for the first few.
  std::vector<std::pair<std::string, std::string>> files;  // entry name -> bytes
  files.push_back({"model.onnx", std::move(model_onnx)});
  files.push_back({"weights.bin", std::move(weights)});
  std::vector<FeatureStats> stats = info.training_stats;
  std::string reference_json;
  if (options.reference_path.empty()) {
    reference_json = "{\"note\":\"no reference cases: packed without --reference\",\"rtol\":" +
                     Num(options.rtol) + ",\"atol\":" + Num(options.atol) + ",\"cases\":[]}";
  } else {
    say("predicting the reference rows of " + options.reference_path);
    const std::string& ref = options.reference_path;
    TIFFIN_ASSIGN_OR_RETURN(std::string text, onnx_import::ReadFileBytes(ref, size_t{1} << 30));
    std::vector<NamedTensor> feeds;
    if (io::LooksLikeNpy(text)) {
      if (model.inputs().size() != 1) {
        return InvalidArgument("--reference " + ref +
                               ": a .npy file feeds a model with one input; "
                               "this one has " +
                               std::to_string(model.inputs().size()) +
                               " (give a CSV or JSON table)");
      }
      auto t = io::ParseNpy(text);
      if (!t.ok()) return t.status().WithContext(ref);
      feeds.push_back({model.inputs()[0].name, CastTo(*t, model.inputs()[0].dtype)});
    } else if (!io::LooksTabular(text, model.inputs())) {  // {"input": [...]} or KServe v2
      auto t = io::ParseJsonInputs(text, model.inputs());
      if (!t.ok()) return t.status().WithContext(ref);
      feeds = std::move(t).value();
    } else {
      auto t = io::ParseTabular(text, model.inputs(), info.feature_names);
      if (!t.ok()) return t.status().WithContext(ref);
      feeds = std::move(t).value();
    }
    for (auto& s : ReferenceStats(feeds, info.feature_names)) stats.push_back(std::move(s));
    int64_t rows = 0;
    for (auto& f : feeds) {
      f.tensor = FirstRows(f.tensor, options.reference_rows);
      if (f.tensor.rank() > 0) rows = f.tensor.dim(0);
    }
    auto outs = model.Run(feeds);
    if (!outs.ok()) return outs.status().WithContext("--reference " + ref);
    std::string ins_json, outs_json;
    for (size_t i = 0; i < feeds.size(); ++i) {
      const std::string name = "reference/case0_input" + std::to_string(i) + ".npy";
      files.push_back({name, io::WriteNpy(feeds[i].tensor)});
      ins_json += std::string(i ? "," : "") + "{\"name\":" + JsonQuote(feeds[i].name) +
                  ",\"file\":" + JsonQuote(name) + "}";
    }
    for (size_t i = 0; i < outs->size(); ++i) {
      const std::string name = "reference/case0_output" + std::to_string(i) + ".npy";
      files.push_back({name, io::WriteNpy((*outs)[i])});
      outs_json += std::string(i ? "," : "") + "{\"name\":" + JsonQuote(model.outputs()[i].name) +
                   ",\"file\":" + JsonQuote(name) + "}";
    }
    const std::string ref_name = std::filesystem::path(ref).filename().string();
    reference_json = "{\"note\":" +
                     JsonQuote("rows 1-" + std::to_string(rows) + " of " + ref_name +
                               ", predicted at pack time") +
                     ",\"rtol\":" + Num(options.rtol) + ",\"atol\":" + Num(options.atol) +
                     ",\"cases\":[{\"name\":\"case0\",\"rows\":" + std::to_string(rows) +
                     ",\"inputs\":[" + ins_json + "],\"outputs\":[" + outs_json + "]}]}";
  }

  // The manifest.
  say("hashing entries");
  const std::filesystem::path src_path(source);
  std::string m = "{\n\"format\":\"tiffin-bundle\",\n\"format_version\":" +
                  std::to_string(kBundleFormatVersion) + ",\n\"model\":{\"name\":" +
                  JsonQuote(options.name.empty() ? src_path.stem().string() : options.name) +
                  ",\"version\":" + JsonQuote(options.model_version) +
                  "},\n\"created\":" + JsonQuote(NowUtc()) +
                  ",\n\"tiffin_version\":" + JsonQuote(Version()) +
                  ",\n\"provenance\":{\"source_file\":" + JsonQuote(src_path.filename().string()) +
                  ",\"source_sha256\":" + JsonQuote(source_sha) +
                  ",\"source_size\":" + std::to_string(src.size()) +
                  ",\"source_format\":" + JsonQuote(info.format) +
                  ",\"library\":" + JsonQuote(info.producer_name) +
                  ",\"library_version\":" + JsonQuote(info.producer_version);
  auto meta = [&](const char* key) {
    auto it = info.metadata.find(key);
    return it == info.metadata.end() ? std::string("null") : JsonQuote(it->second);
  };
  m += ",\"pickle_protocol\":" + meta("pickle_protocol") + ",\"container\":" + meta("container") +
       ",\"compression\":" + meta("compression") + ",\"steps\":" + JsonStringList(options.steps) +
       ",\"opsets\":{";
  bool first = true;
  for (const auto& [d, v] : opsets) {
    m += (first ? "" : ",") + JsonQuote(d) + ":" + std::to_string(v);
    first = false;
  }
  m += "},\"metadata\":{";
  first = true;
  for (const auto& [k, v] : info.metadata) {
    m += (first ? "" : ",") + JsonQuote(k) + ":" + JsonQuote(v);
    first = false;
  }
  m += "}},\n\"inputs\":[";
  for (size_t i = 0; i < model.inputs().size(); ++i) {
    const TensorInfo& t = model.inputs()[i];
    std::vector<std::string> categories;
    for (const auto& s : info.training_stats) {
      if (s.name == t.name && !s.categories.empty()) categories = s.categories;
    }
    m += std::string(i ? "," : "") + "{\"name\":" + JsonQuote(t.name) +
         ",\"dtype\":" + JsonQuote(DTypeName(t.dtype)) + ",\"shape\":" + ShapeJson(t) +
         ",\"categories\":" + JsonStringList(categories) + "}";
  }
  m += "],\n\"outputs\":[";
  for (size_t i = 0; i < model.outputs().size(); ++i) {
    const TensorInfo& t = model.outputs()[i];
    m += std::string(i ? "," : "") + "{\"name\":" + JsonQuote(t.name) +
         ",\"dtype\":" + JsonQuote(DTypeName(t.dtype)) + ",\"shape\":" + ShapeJson(t) + "}";
  }
  m += "],\n\"class_labels\":" +
       JsonStringList(info.class_labels.empty() ? ClassLabels(*graph) : info.class_labels) +
       ",\n\"feature_names\":" + JsonStringList(info.feature_names) + ",\n\"training_stats\":[";
  for (size_t i = 0; i < stats.size(); ++i) m += (i ? ",\n  " : "\n  ") + StatsJson(stats[i]);
  m += "],\n\"reference\":" + reference_json + ",\n\"entries\":[";
  for (size_t i = 0; i < files.size(); ++i) {
    m += std::string(i ? ",\n  " : "\n  ") + "{\"name\":" + JsonQuote(files[i].first) +
         ",\"size\":" + std::to_string(files[i].second.size()) +
         ",\"sha256\":" + JsonQuote(bundle::Sha256Hex(files[i].second));
    // Large entries also get a hash per chunk, which readers check in
    // parallel (docs/bundle-format.md).
    const std::string_view data = files[i].second;
    if (data.size() > kHashChunkBytes) {
      m += ",\"chunk_bytes\":" + std::to_string(kHashChunkBytes) + ",\"chunk_sha256\":[";
      for (size_t at = 0; at < data.size(); at += kHashChunkBytes)
        m += (at ? "," : "") + JsonQuote(bundle::Sha256Hex(data.substr(at, kHashChunkBytes)));
      m += "]";
    }
    m += "}";
  }
  m += "]\n}\n";

  say("writing " + out_path);
  bundle::ZipWriter zip;
  TIFFIN_RETURN_IF_ERROR(zip.Add("manifest.json", m));
  for (const auto& [name, bytes] : files) TIFFIN_RETURN_IF_ERROR(zip.Add(name, bytes));
  TIFFIN_ASSIGN_OR_RETURN(std::string out, zip.Finish());
  return WriteFileAtomically(out_path, out);
}

}  // namespace tiffin
