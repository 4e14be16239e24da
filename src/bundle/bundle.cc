// Loads `.tiffin` bundles; see docs/bundle-format.md for the checks and
// their order.
#include "bundle/bundle.h"

#include <fcntl.h>
#include <onnx/onnx_pb.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <thread>

#include "bundle/zip.h"
#include "exec/executor.h"
#include "importers/onnx/onnx_loader.h"
#include "io/tensor_io.h"
#include "tiffin/bundle.h"

namespace tiffin::bundle {

namespace {

constexpr std::string_view kManifest = "manifest.json";
constexpr std::string_view kModelEntry = "model.onnx";
constexpr std::string_view kWeightsEntry = "weights.bin";
constexpr uint64_t kAlignment = 64;

// A read-only view of a whole file, memory-mapped copy-on-write: kernels may
// treat initializers as writable without touching the file.
struct MappedFile {
  const char* data = nullptr;
  size_t size = 0;
  std::shared_ptr<void> owner;
};

Result<MappedFile> MapFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("'" + path + "' is not a regular file");
  }
  MappedFile m;
  m.size = static_cast<size_t>(st.st_size);
  if (m.size == 0) {
    ::close(fd);
    return DataLoss(path + ": the file is empty");
  }
  void* p = ::mmap(nullptr, m.size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED)
    return ResourceExhausted("cannot map '" + path + "': " + std::strerror(errno));
  const size_t size = m.size;
  m.owner = std::shared_ptr<void>(p, [size](void* q) { ::munmap(q, size); });
  m.data = static_cast<const char*>(p);
  return m;
}

std::string Str(std::string_view v) { return std::string(v); }

// Optional string member; "" when absent or not a string.
std::string GetString(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v)) return "";
  return Str(v);
}

double GetNumber(simdjson::dom::element e, const char* key) {
  double v;
  if (e[key].get(v)) return std::nan("");
  return v;
}

std::vector<std::string> GetStrings(simdjson::dom::element e, const char* key) {
  std::vector<std::string> out;
  simdjson::dom::array arr;
  if (e[key].get(arr)) return out;
  for (simdjson::dom::element x : arr) {
    std::string_view v;
    if (!x.get(v)) out.push_back(Str(v));
  }
  return out;
}

struct ExternalTensor {
  std::string name;
  DType dtype;
  Shape shape;
  const char* data;
};

// Moves the initializers stored in weights.bin out of `mp` (leaving empty
// placeholders the ONNX loader accepts) after checking their ranges.
Result<std::vector<ExternalTensor>> TakeExternalTensors(onnx::ModelProto* mp,
                                                        std::string_view weights, bool have_weights,
                                                        const LoadOptions& options) {
  std::vector<ExternalTensor> out;
  for (auto& init : *mp->mutable_graph()->mutable_initializer()) {
    if (init.data_location() != onnx::TensorProto::EXTERNAL) continue;
    const std::string what = "model.onnx: initializer '" + init.name() + "'";
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : init.external_data()) {
      char* end = nullptr;
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset" || kv.key() == "length") {
        errno = 0;
        long long v = std::strtoll(kv.value().c_str(), &end, 10);
        if (kv.value().empty() || *end != '\0' || errno != 0 || v < 0) {
          return DataLoss(what + ": external data " + kv.key() + " '" + kv.value() +
                          "' is not a byte count");
        }
        (kv.key() == "offset" ? offset : length) = v;
      }
    }
    if (location != kWeightsEntry || !have_weights) {
      return DataLoss(what + ": external data must be in the bundle's weights.bin, not '" +
                      location + "'");
    }
    const int32_t type = init.data_type();
    if (type < 1 || type > 13 || type == static_cast<int32_t>(DType::kString)) {
      return NotSupported(what + ": data type " + std::to_string(type) +
                          " cannot be stored in weights.bin");
    }
    const DType dtype = static_cast<DType>(type);
    Shape shape(init.dims().begin(), init.dims().end());
    auto count = CheckedElementCount(shape);
    if (!count.ok()) return count.status().WithContext(what);
    const uint64_t elem = DTypeSize(dtype);
    if (static_cast<uint64_t>(*count) > options.max_tensor_bytes / elem) {
      return ResourceExhausted(what + ": dims " + ShapeToString(shape) +
                               " exceed LoadOptions::max_tensor_bytes");
    }
    const uint64_t bytes = static_cast<uint64_t>(*count) * elem;
    if (length >= 0 && static_cast<uint64_t>(length) != bytes) {
      return DataLoss(what + ": external length " + std::to_string(length) + " but dims " +
                      ShapeToString(shape) + " need " + std::to_string(bytes) + " bytes");
    }
    if (static_cast<uint64_t>(offset) > weights.size() ||
        bytes > weights.size() - static_cast<uint64_t>(offset)) {
      return DataLoss(what + ": bytes " + std::to_string(offset) + "+" + std::to_string(bytes) +
                      " lie outside weights.bin (" + std::to_string(weights.size()) + " bytes)");
    }
    out.push_back({init.name(), dtype, shape, weights.data() + offset});
    init.clear_external_data();
    init.set_data_location(onnx::TensorProto::DEFAULT);
    init.clear_dims();
    init.add_dims(0);
    init.set_raw_data("");
  }
  return out;
}

// An `entries` item of the manifest.
struct ListedEntry {
  uint64_t size = 0;
  std::string sha256;
  uint64_t chunk_bytes = 0;               // 0: no chunk hashes
  std::vector<std::string> chunk_sha256;  // one per chunk_bytes of the entry
};

// Checks `data` against its SHA-256: per chunk, on several threads, when the
// manifest lists chunk hashes (large entries), else whole.
Status VerifyEntry(const std::string& name, std::string_view data, const ListedEntry& x) {
  const std::string mismatch = "entry '" + name + "': SHA-256 mismatch";
  const std::string fix = " (the entry is damaged; re-pack or re-copy the bundle)";
  if (x.chunk_bytes == 0) {
    if (Sha256Hex(data) != x.sha256) return DataLoss(mismatch + fix);
    return Status::Ok();
  }
  const uint64_t n = (data.size() + x.chunk_bytes - 1) / x.chunk_bytes;
  if (x.chunk_sha256.size() != n) {
    return DataLoss("entry '" + name + "': the manifest lists " +
                    std::to_string(x.chunk_sha256.size()) + " chunk hashes, its size needs " +
                    std::to_string(n));
  }
  std::vector<char> good(n, 0);
  std::atomic<uint64_t> next{0};
  auto work = [&] {
    for (uint64_t i = next++; i < n; i = next++) {
      good[i] = Sha256Hex(data.substr(i * x.chunk_bytes, x.chunk_bytes)) == x.chunk_sha256[i];
    }
  };
  const uint64_t threads =
      std::min<uint64_t>({n, std::max(1u, std::thread::hardware_concurrency()), 8});
  std::vector<std::thread> pool;
  for (uint64_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  for (uint64_t i = 0; i < n; ++i) {
    if (!good[i]) {
      return DataLoss(mismatch + " in bytes " + std::to_string(i * x.chunk_bytes) + "-" +
                      std::to_string(std::min<uint64_t>(data.size(), (i + 1) * x.chunk_bytes)) +
                      fix);
    }
  }
  return Status::Ok();
}

std::string ValueText(const Tensor& t, int64_t i) {
  if (t.dtype() == DType::kString) return "'" + t.data<std::string>()[i] + "'";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", ElementAsDouble(t, i));
  return buf;
}

// Compares a replayed output with the recorded one.
Status CompareOutput(const Tensor& got, const Tensor& want, double rtol, double atol,
                     const std::string& what) {
  if (got.dtype() != want.dtype()) {
    return DataLoss(what + ": dtype " + std::string(DTypeName(got.dtype())) +
                    ", but the bundle recorded " + std::string(DTypeName(want.dtype())));
  }
  if (got.shape() != want.shape()) {
    return DataLoss(what + ": shape " + ShapeToString(got.shape()) + ", but the bundle recorded " +
                    ShapeToString(want.shape()));
  }
  const bool is_float = got.dtype() == DType::kFloat32 || got.dtype() == DType::kFloat64 ||
                        got.dtype() == DType::kFloat16;
  // The relative part scales with the largest magnitude in the element's row
  // (its last axis), not with the element alone: an element of a row is
  // typically a sum whose rounding error follows the size of its terms, and
  // a sum that cancels to near zero (0.026 out of terms of size 40) moves by
  // more than rtol * |itself| when only the summation order changes, as it
  // does between BLAS paths and CPUs. Rows stay separate: a small prediction
  // is not excused by a large one in another row.
  const int64_t row = got.shape().size() >= 2 ? std::max<int64_t>(got.shape().back(), 1) : 1;
  double row_scale = 0;
  for (int64_t i = 0; i < got.size(); ++i) {
    bool same;
    if (is_float && i % row == 0) {
      row_scale = 0;
      for (int64_t j = i; j < std::min(got.size(), i + row); ++j) {
        const double w = std::fabs(ElementAsDouble(want, j));
        if (std::isfinite(w)) row_scale = std::max(row_scale, w);
      }
    }
    if (got.dtype() == DType::kString) {
      same = got.data<std::string>()[i] == want.data<std::string>()[i];
    } else if (is_float) {
      const double g = ElementAsDouble(got, i), w = ElementAsDouble(want, i);
      same = (std::isnan(g) && std::isnan(w)) || g == w ||
             std::fabs(g - w) <= atol + rtol * std::max(std::fabs(w), row_scale);
    } else {
      const size_t e = DTypeSize(got.dtype());
      same = std::memcmp(static_cast<const char*>(got.raw_data()) + i * e,
                         static_cast<const char*>(want.raw_data()) + i * e, e) == 0;
    }
    if (!same) {
      return DataLoss(what + " element " + std::to_string(i) + ": got " + ValueText(got, i) +
                      ", the bundle recorded " + ValueText(want, i) + " (tolerance atol " +
                      std::to_string(atol) + " + rtol " + std::to_string(rtol) +
                      "); this tiffin does not reproduce the pack-time predictions (the bundle is "
                      "damaged, or kernels changed: report it, or load with --no-verify)");
    }
  }
  return Status::Ok();
}

// Loads and verifies the bundle in `file`. When `opened` is given it also
// receives the graph as parsed (weights in place) and its opset imports, for
// `tiffin convert`.
Result<std::shared_ptr<const Model>> LoadImpl(std::string_view file, std::shared_ptr<void> owner,
                                              const LoadOptions& options,
                                              OpenedBundle* opened = nullptr) {
  TIFFIN_ASSIGN_OR_RETURN(std::vector<ZipEntry> zip, ReadZipDirectory(file));
  std::map<std::string, const ZipEntry*, std::less<>> by_name;
  for (const auto& e : zip) by_name[e.name] = &e;

  // 1. The manifest and its format version, before anything else.
  auto m = by_name.find(kManifest);
  if (m == by_name.end() || m->second->header_offset != 0) {
    return DataLoss("not a tiffin bundle: manifest.json is not the zip's first entry");
  }
  const std::string_view manifest_text = file.substr(m->second->data_offset, m->second->size);
  if (Crc32(manifest_text) != m->second->crc32) {
    return DataLoss("manifest.json: CRC-32 mismatch (the manifest is damaged)");
  }
  simdjson::dom::parser parser;
  simdjson::padded_string padded(manifest_text);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc)) {
    return DataLoss(std::string("manifest.json: not valid JSON (") + simdjson::error_message(err) +
                    ")");
  }
  int64_t version = 0;
  if (!doc.is_object() || doc["format_version"].get(version)) {
    return DataLoss("manifest.json: no integer format_version (the manifest is damaged)");
  }
  if (version > kBundleFormatVersion) {
    return NotSupported("bundle format version " + std::to_string(version) +
                        " is newer than this tiffin reads (" +
                        std::to_string(kBundleFormatVersion) + "); upgrade tiffin (this is " +
                        Version() + ") to load it");
  }
  if (version < 1) {
    return DataLoss("manifest.json: format_version " + std::to_string(version) +
                    " is not a valid version");
  }
  if (GetString(doc, "format") != "tiffin-bundle") {
    return DataLoss("manifest.json: format is '" + GetString(doc, "format") +
                    "', not 'tiffin-bundle'");
  }

  // 2. Every entry: listed, with its size and SHA-256.
  simdjson::dom::array listed;
  if (doc["entries"].get(listed)) return DataLoss("manifest.json: no 'entries' list");
  std::map<std::string, ListedEntry, std::less<>> expected;
  for (simdjson::dom::element e : listed) {
    std::string_view name, sha;
    ListedEntry x;
    if (e["name"].get(name) || e["sha256"].get(sha) || e["size"].get(x.size)) {
      return DataLoss("manifest.json: an entries item lacks name, size or sha256");
    }
    x.sha256 = Str(sha);
    if (!e["chunk_bytes"].get(x.chunk_bytes)) x.chunk_sha256 = GetStrings(e, "chunk_sha256");
    expected[Str(name)] = std::move(x);
  }
  for (const auto& e : zip) {
    if (e.name == kManifest) continue;
    auto x = expected.find(e.name);
    if (x == expected.end()) {
      return DataLoss("entry '" + e.name + "' is not listed in the manifest (added after packing)");
    }
    if (x->second.size != e.size) {
      return DataLoss("entry '" + e.name + "': " + std::to_string(e.size) +
                      " bytes, the manifest says " + std::to_string(x->second.size));
    }
    TIFFIN_RETURN_IF_ERROR(VerifyEntry(e.name, file.substr(e.data_offset, e.size), x->second));
  }
  for (const auto& [name, v] : expected) {
    if (!by_name.count(name))
      return DataLoss("entry '" + name + "' is in the manifest but missing");
  }

  // 3. The graph, its external weights used in place.
  auto model_entry = by_name.find(kModelEntry);
  if (model_entry == by_name.end()) return DataLoss("the bundle has no model.onnx");
  if (model_entry->second->size > options.max_file_bytes) {
    return ResourceExhausted("model.onnx: " + std::to_string(model_entry->second->size) +
                             " bytes exceed LoadOptions::max_file_bytes");
  }
  std::string_view weights;
  auto w = by_name.find(kWeightsEntry);
  if (w != by_name.end()) {
    weights = file.substr(w->second->data_offset, w->second->size);
    if (weights.size() > options.max_external_bytes) {
      return ResourceExhausted("weights.bin exceeds LoadOptions::max_external_bytes");
    }
  }
  onnx::ModelProto mp;
  if (!mp.ParseFromArray(file.data() + model_entry->second->data_offset,
                         static_cast<int>(model_entry->second->size)) ||
      !mp.has_graph()) {
    return DataLoss("model.onnx: not a valid ONNX model");
  }
  TIFFIN_ASSIGN_OR_RETURN(std::vector<ExternalTensor> externals,
                          TakeExternalTensors(&mp, weights, w != by_name.end(), options));
  auto parsed = onnx_import::ParseOnnxGraph(mp.SerializeAsString(), "", options);
  if (!parsed.ok()) return parsed.status().WithContext("model.onnx");
  ir::Graph& graph = *parsed->graph;
  for (const auto& x : externals) {
    const int id = graph.FindValue(x.name);
    if (id == ir::kNoValue || !graph.constants.count(id)) {
      return Internal("model.onnx: initializer '" + x.name + "' vanished while parsing");
    }
    if (reinterpret_cast<uintptr_t>(x.data) % kAlignment == 0) {
      graph.constants[id] = Tensor::Wrap(x.dtype, x.shape, const_cast<char*>(x.data), owner);
    } else {  // an unaligned bundle (not written by tiffin pack): copy
      TIFFIN_ASSIGN_OR_RETURN(Tensor t,
                              Tensor::Allocate(x.dtype, x.shape, options.max_tensor_bytes));
      std::memcpy(t.raw_data(), x.data, t.nbytes());
      graph.constants[id] = std::move(t);
    }
  }
  std::vector<TensorInfo> inputs, outputs;
  for (int id : graph.inputs) inputs.push_back(graph.values[static_cast<size_t>(id)].info);
  for (int id : graph.outputs) {
    TensorInfo ti = graph.values[static_cast<size_t>(id)].info;
    ti.name = graph.values[static_cast<size_t>(id)].name;
    outputs.push_back(ti);
  }

  // 4. What the manifest says, as ModelInfo.
  ModelInfo info = std::move(parsed->info);
  info.parameter_count = info.parameter_bytes = 0;
  for (const auto& [id, t] : graph.constants) {
    info.parameter_count += t.size();
    info.parameter_bytes += static_cast<int64_t>(t.nbytes());
  }
  info.format = "tiffin bundle v" + std::to_string(version);
  simdjson::dom::element prov, model_el, reference;
  if (!doc["provenance"].get(prov)) {
    info.producer_name = GetString(prov, "library");
    info.producer_version = GetString(prov, "library_version");
    simdjson::dom::object meta;
    if (!prov["metadata"].get(meta)) {
      for (auto field : meta) {
        std::string_view v;
        if (!field.value.get(v)) info.metadata[Str(field.key)] = Str(v);
      }
    }
    info.metadata["bundle.source_file"] = GetString(prov, "source_file");
    info.metadata["bundle.source_sha256"] = GetString(prov, "source_sha256");
    info.metadata["bundle.source_format"] = GetString(prov, "source_format");
  }
  if (!doc["model"].get(model_el)) {
    info.metadata["bundle.name"] = GetString(model_el, "name");
    info.metadata["bundle.version"] = GetString(model_el, "version");
  }
  info.metadata["bundle.format_version"] = std::to_string(version);
  info.metadata["bundle.created"] = GetString(doc, "created");
  info.metadata["bundle.tiffin_version"] = GetString(doc, "tiffin_version");
  info.feature_names = GetStrings(doc, "feature_names");
  info.class_labels = GetStrings(doc, "class_labels");
  simdjson::dom::array stats;
  std::vector<FeatureStats> from_model, from_reference;
  if (!doc["training_stats"].get(stats)) {
    for (simdjson::dom::element s : stats) {
      FeatureStats f;
      f.name = GetString(s, "feature");
      f.min = GetNumber(s, "min");
      f.max = GetNumber(s, "max");
      f.mean = GetNumber(s, "mean");
      f.std = GetNumber(s, "std");
      f.categories = GetStrings(s, "categories");
      f.source = GetString(s, "source");
      (f.source == "reference data" ? from_reference : from_model).push_back(std::move(f));
    }
  }
  info.training_stats = from_model.empty() ? std::move(from_reference) : std::move(from_model);

  // 5. Replay the reference cases. If one fails the model is refused, so the
  // summary can say "matched" before the replay.
  simdjson::dom::array cases;
  bool have_cases = !doc["reference"].get(reference) && !reference["cases"].get(cases);
  int64_t case_count = 0, row_count = 0;
  if (have_cases) {
    for (simdjson::dom::element c : cases) {
      uint64_t rows = 0;
      ++case_count;
      if (!c["rows"].get(rows)) row_count += static_cast<int64_t>(rows);
    }
  }
  info.metadata["bundle.reference"] =
      case_count == 0
          ? std::string("none (packed without --reference)")
          : std::to_string(case_count) + " case(s), " + std::to_string(row_count) + " row(s), " +
                (options.verify ? "replayed and matched" : "not replayed (--no-verify)");
  if (opened != nullptr) {
    opened->graph = parsed->graph;
    opened->opsets = parsed->opsets;
  }
  TIFFIN_ASSIGN_OR_RETURN(auto compiled, exec::CompiledGraph::Compile(parsed->graph, options));
  TIFFIN_ASSIGN_OR_RETURN(auto model, exec::MakeModel(std::move(compiled), inputs, outputs, info));
  if (!have_cases || !options.verify) return model;
  const double rtol = GetNumber(reference, "rtol"), atol = GetNumber(reference, "atol");
  for (simdjson::dom::element c : cases) {
    const std::string case_name = GetString(c, "name");
    auto read = [&](simdjson::dom::element io, std::string* name) -> Result<Tensor> {
      *name = GetString(io, "name");
      const std::string entry = GetString(io, "file");
      auto it = by_name.find(entry);
      if (it == by_name.end()) {
        return DataLoss("reference case '" + case_name + "': file '" + entry + "' is missing");
      }
      auto t = io::ParseNpy(file.substr(it->second->data_offset, it->second->size));
      if (!t.ok()) return t.status().WithContext("entry '" + entry + "'");
      return t;
    };
    std::vector<NamedTensor> feeds, recorded;
    simdjson::dom::array arr;
    if (c["inputs"].get(arr)) return DataLoss("reference case '" + case_name + "': no inputs");
    for (simdjson::dom::element io : arr) {
      NamedTensor nt;
      TIFFIN_ASSIGN_OR_RETURN(nt.tensor, read(io, &nt.name));
      feeds.push_back(std::move(nt));
    }
    if (c["outputs"].get(arr)) return DataLoss("reference case '" + case_name + "': no outputs");
    for (simdjson::dom::element io : arr) {
      NamedTensor nt;
      TIFFIN_ASSIGN_OR_RETURN(nt.tensor, read(io, &nt.name));
      recorded.push_back(std::move(nt));
    }
    auto got = model->Run(feeds);
    if (!got.ok()) return got.status().WithContext("reference case '" + case_name + "'");
    for (const auto& want : recorded) {
      size_t k = 0;
      while (k < outputs.size() && outputs[k].name != want.name) ++k;
      const std::string what = "reference case '" + case_name + "' output '" + want.name + "'";
      if (k == outputs.size()) return DataLoss(what + ": the model has no such output");
      TIFFIN_RETURN_IF_ERROR(CompareOutput((*got)[k], want.tensor, std::isnan(rtol) ? 0 : rtol,
                                           std::isnan(atol) ? 0 : atol, what));
    }
  }
  return model;
}

}  // namespace

bool LooksLikeBundle(std::string_view head) {
  return head.size() >= 30 + kManifest.size() && head.substr(0, 4) == "PK\x03\x04" &&
         static_cast<unsigned char>(head[26]) == kManifest.size() && head[27] == 0 &&
         head.substr(30, kManifest.size()) == kManifest;
}

Result<std::shared_ptr<const Model>> LoadBundleBytes(const char* data, size_t size,
                                                     std::shared_ptr<void> owner,
                                                     const LoadOptions& options) {
  try {
    return LoadImpl(std::string_view(data, size), std::move(owner), options);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory while loading the bundle");
  }
}

Result<std::shared_ptr<const Model>> LoadBundleFile(const std::string& path,
                                                    const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(MappedFile m, MapFile(path));
  auto model = LoadBundleBytes(m.data, m.size, m.owner, options);
  if (!model.ok()) return model.status().WithContext(path);
  return model;
}

Result<OpenedBundle> OpenBundleFile(const std::string& path, const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(MappedFile m, MapFile(path));
  OpenedBundle opened;
  try {
    auto model = LoadImpl(std::string_view(m.data, m.size), m.owner, options, &opened);
    if (!model.ok()) return model.status().WithContext(path);
    opened.model = *std::move(model);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted(path + ": out of memory while loading the bundle");
  }
  return opened;
}

}  // namespace tiffin::bundle

namespace tiffin {

Result<std::string> ReadBundleManifest(const std::string& path) {
  TIFFIN_ASSIGN_OR_RETURN(bundle::MappedFile m, bundle::MapFile(path));
  const std::string_view file(m.data, m.size);
  auto zip = bundle::ReadZipDirectory(file);
  if (!zip.ok()) return zip.status().WithContext(path);
  for (const auto& e : *zip) {
    if (e.name == bundle::kManifest && e.header_offset == 0) {
      return std::string(file.substr(e.data_offset, e.size));
    }
  }
  return DataLoss(path + ": not a tiffin bundle (manifest.json is not the first entry)");
}

}  // namespace tiffin
