#include "importers/keras/keras.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "importers/keras/layers.h"
#include "io/zip_reader.h"

namespace tiffin::keras {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr size_t kMaxLayers = 100000;
constexpr size_t kMaxNodesPerLayer = 1000;
constexpr size_t kMaxConfigBytes = 64 << 20;

Result<std::string> ReadBytes(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("cannot read '" + path + "': " + ec.message());
  if (size > max_bytes) {
    return ResourceExhausted("'" + path + "' is " + std::to_string(size) + " bytes, over the " +
                             std::to_string(max_bytes) + "-byte limit");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '" + path + "'");
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<size_t>(in.gcount()) != size) return DataLoss("'" + path + "' is truncated");
  return bytes;
}

// Keras' naming.to_snake_case: "Conv2D" -> "conv2d", "PReLU" -> "p_re_lu",
// "BatchNormalization" -> "batch_normalization".
std::string ToSnakeCase(const std::string& in) {
  std::string s;
  for (char c : in)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') s += c;
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  // (.)([A-Z][a-z]+) -> \1_\2
  std::string a;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && upper(s[i]) && i + 1 < s.size() && lower(s[i + 1])) a += '_';
    a += s[i];
  }
  // ([a-z])([A-Z]) -> \1_\2, then lower.
  std::string b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && lower(a[i - 1]) && upper(a[i])) b += '_';
    b += static_cast<char>(std::tolower(static_cast<unsigned char>(a[i])));
  }
  return b;
}

}  // namespace

Result<KerasSource> ReadKerasBytes(std::string_view bytes, std::string_view config_json,
                                   const LoadOptions& options) {
  KerasSource src;
  const std::string_view hdf5_magic("\x89HDF\r\n\x1a\n", 8);
  if (bytes.substr(0, 8) == hdf5_magic) {
    TIFFIN_ASSIGN_OR_RETURN(LegacyH5 h5, ReadLegacyH5(bytes, options.max_tensor_bytes));
    src.keras_version = h5.keras_version;
    src.legacy = std::move(h5.layers);
    if (!config_json.empty()) {
      src.config_json = std::string(config_json);
      src.format = "Keras HDF5 weights + JSON";
    } else if (!h5.model_config.empty()) {
      src.config_json = std::move(h5.model_config);
      src.format = "Keras HDF5";
    } else {
      return InvalidArgument(
          "this Keras .h5 file holds weights only (no 'model_config'); give its architecture "
          "JSON (model.to_json()) with --config ARCH.json");
    }
    return src;
  }
  if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    io::ZipLimits limits;
    limits.max_entries = 10000;
    limits.max_member_bytes = options.max_file_bytes;
    TIFFIN_ASSIGN_OR_RETURN(
        auto members,
        io::ReadZipMembers(
            bytes, {"config.json", "metadata.json", "model.weights.h5", "model.weights.npz"},
            limits));
    if (!members.count("config.json")) {
      return InvalidArgument(
          "this zip archive has no config.json: it is not a Keras 3 .keras file");
    }
    if (!members.count("model.weights.h5")) {
      if (members.count("model.weights.npz")) {
        return NotSupported(
            "this .keras file stores its weights as model.weights.npz (pickle-bearing); "
            "re-save it with the default weights format (model.weights.h5)");
      }
      return InvalidArgument("this .keras archive has no model.weights.h5");
    }
    src.format = "Keras 3 .keras";
    src.is_keras3 = true;
    src.config_json = config_json.empty() ? members["config.json"] : std::string(config_json);
    if (members.count("metadata.json")) {
      simdjson::dom::parser p;
      element meta;
      std::string_view v;
      if (p.parse(members["metadata.json"]).get(meta) == simdjson::SUCCESS &&
          meta["keras_version"].get_string().get(v) == simdjson::SUCCESS) {
        src.keras_version = std::string(v);
      }
    }
    TIFFIN_ASSIGN_OR_RETURN(
        src.keras3, ReadKeras3Weights(members["model.weights.h5"], options.max_tensor_bytes));
    return src;
  }
  return InvalidArgument("not a Keras file: neither HDF5 (.h5) nor a zip (.keras)");
}

Result<KerasSource> ReadKerasFile(const std::string& path, const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(std::string bytes, ReadBytes(path, options.max_file_bytes));
  std::string config;
  if (!options.config_path.empty()) {
    TIFFIN_ASSIGN_OR_RETURN(config, ReadBytes(options.config_path, kMaxConfigBytes));
  }
  auto r = ReadKerasBytes(bytes, config, options);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

namespace {

// One inbound node of a Functional layer: the tensors it is called on.
struct TensorRef {
  std::string layer;
  int64_t node = 0;
  int64_t tensor = 0;
};

struct LayerDesc {
  std::string class_name;
  std::string name;
  element config;
  std::vector<std::vector<TensorRef>> nodes;  // inbound nodes, in order
  std::string keras3_path;                    // "layers/dense_1"
};

struct ModelDesc {
  std::vector<LayerDesc> layers;
  std::vector<TensorRef> inputs, outputs;
};

std::string Str(simdjson::simdjson_result<element> e) {
  std::string_view v;
  return e.get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

// A tensor reference in either node format: Keras 2's [name, node, tensor,
// kwargs?] list, or Keras 3's {"class_name": "__keras_tensor__", "config":
// {"keras_history": [name, node, tensor]}}.
bool AsRef(element e, TensorRef* ref) {
  array a;
  if (e.get_array().get(a) == simdjson::SUCCESS) {
    if (a.size() < 3) return false;
    std::string_view name;
    int64_t node = 0, tensor = 0;
    if (a.at(0).get_string().get(name) != simdjson::SUCCESS ||
        a.at(1).get_int64().get(node) != simdjson::SUCCESS ||
        a.at(2).get_int64().get(tensor) != simdjson::SUCCESS) {
      return false;
    }
    *ref = {std::string(name), node, tensor};
    return true;
  }
  object o;
  if (e.get_object().get(o) == simdjson::SUCCESS && Str(o["class_name"]) == "__keras_tensor__") {
    element hist;
    if (o.at_pointer("/config/keras_history").get(hist) != simdjson::SUCCESS) return false;
    return AsRef(hist, ref);
  }
  return false;
}

// Collects every tensor reference under a Keras 3 node's args, in order.
Status CollectRefs(element e, int depth, std::vector<TensorRef>* out) {
  if (depth > 16) return InvalidArgument("a layer call nests its arguments too deeply");
  TensorRef r;
  if (AsRef(e, &r)) {
    out->push_back(std::move(r));
    return Status();
  }
  array a;
  if (e.get_array().get(a) == simdjson::SUCCESS) {
    for (element x : a) TIFFIN_RETURN_IF_ERROR(CollectRefs(x, depth + 1, out));
  }
  return Status();
}

Result<std::vector<TensorRef>> ParseNode(element node) {
  std::vector<TensorRef> refs;
  object o;
  if (node.get_object().get(o) == simdjson::SUCCESS) {  // Keras 3 {"args", "kwargs"}
    element args;
    if (o["args"].get(args) == simdjson::SUCCESS)
      TIFFIN_RETURN_IF_ERROR(CollectRefs(args, 0, &refs));
    object kwargs;
    if (o["kwargs"].get_object().get(kwargs) == simdjson::SUCCESS) {
      for (auto [k, v] : kwargs) {
        TensorRef r;
        if (AsRef(v, &r)) {
          return NotSupported("a layer is called with the tensor argument '" + std::string(k) +
                              "'; tiffin reads only positional tensor inputs");
        }
      }
    }
    return refs;
  }
  array a;
  if (node.get_array().get(a) != simdjson::SUCCESS) {
    return InvalidArgument("an inbound node is neither a list nor an {args, kwargs} object");
  }
  TensorRef r;
  if (AsRef(node, &r) && a.size() <= 4) {  // a single Keras 2 reference
    bool nested = false;
    array first;
    if (a.at(0).get_array().get(first) == simdjson::SUCCESS) nested = true;
    if (!nested) return std::vector<TensorRef>{r};
  }
  for (element x : a) {
    if (!AsRef(x, &r)) return InvalidArgument("an inbound node entry is not [layer, node, tensor]");
    array xa;
    if (x.get_array().get(xa) == simdjson::SUCCESS && xa.size() >= 4) {
      object kw;
      if (xa.at(3).get_object().get(kw) == simdjson::SUCCESS && kw.size() > 0) {
        for (auto [k, v] : kw) {
          if (k == "training" || k == "mask") continue;
          return NotSupported("layer call argument '" + std::string(k) + "' is not supported");
        }
      }
    }
    refs.push_back(r);
  }
  return refs;
}

Result<std::vector<TensorRef>> ParseRefList(element e, const char* what) {
  array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) {
    return InvalidArgument(std::string("the model config's '") + what + "' is not a list");
  }
  std::vector<TensorRef> refs;
  TensorRef r;
  if (a.size() >= 3 && AsRef(e, &r)) {
    std::string_view s;
    if (a.at(0).get_string().get(s) == simdjson::SUCCESS) return std::vector<TensorRef>{r};
  }
  for (element x : a) {
    if (!AsRef(x, &r)) {
      return InvalidArgument(std::string("an entry of '") + what +
                             "' is not [layer, node, tensor]");
    }
    refs.push_back(r);
  }
  return refs;
}

Result<ModelDesc> ParseModel(element root, bool keras3) {
  object ro;
  if (root.get_object().get(ro) != simdjson::SUCCESS) {
    return InvalidArgument("the model config is not a JSON object");
  }
  const std::string cls = Str(ro["class_name"]);
  element cfg;
  if (ro["config"].get(cfg) != simdjson::SUCCESS) {
    return InvalidArgument("the model config has no 'config'");
  }
  array layers;
  const bool sequential = cls == "Sequential";
  if (!sequential && cls != "Model" && cls != "Functional") {
    if (cls.empty()) return InvalidArgument("the model config has no 'class_name'");
    return NotSupported("the model class is '" + cls +
                        "' (a subclassed model): only Sequential and Functional models can be "
                        "read without running their Python code");
  }
  if (cfg.get_array().get(layers) != simdjson::SUCCESS &&
      cfg["layers"].get_array().get(layers) != simdjson::SUCCESS) {
    return InvalidArgument("the model config has no 'layers' list");
  }
  if (layers.size() > kMaxLayers) return ResourceExhausted("the model has too many layers");
  ModelDesc m;
  std::map<std::string, int> used;
  std::set<std::string> names;
  for (element le : layers) {
    object lo;
    if (le.get_object().get(lo) != simdjson::SUCCESS)
      return InvalidArgument("a layer entry is not an object");
    LayerDesc d;
    d.class_name = Str(lo["class_name"]);
    if (lo["config"].get(d.config) != simdjson::SUCCESS)
      return InvalidArgument("layer '" + d.class_name + "' has no config");
    d.name = Str(lo["name"]);
    if (d.name.empty()) d.name = Str(d.config["name"]);
    if (d.name.empty()) d.name = ToSnakeCase(d.class_name) + "_" + std::to_string(m.layers.size());
    if (!names.insert(d.name).second)
      return InvalidArgument("two layers are named '" + d.name + "'");
    std::string_view reg;
    if (lo["registered_name"].get_string().get(reg) == simdjson::SUCCESS && !reg.empty() &&
        reg != d.class_name) {
      return NotSupported("layer '" + d.name + "' is the custom class '" + std::string(reg) +
                          "'; tiffin never runs custom code (rebuild it from built-in layers)");
    }
    const std::string module = Str(lo["module"]);
    if (!module.empty() && module.rfind("keras", 0) != 0) {
      return NotSupported("layer '" + d.name + "' comes from module '" + module +
                          "', not Keras; tiffin never imports code named by a file");
    }
    if (!sequential) {
      array nodes;
      if (lo["inbound_nodes"].get_array().get(nodes) == simdjson::SUCCESS) {
        if (nodes.size() > kMaxNodesPerLayer)
          return ResourceExhausted("layer '" + d.name + "' is called too many times");
        for (element n : nodes) {
          auto refs = ParseNode(n);
          if (!refs.ok()) return refs.status().WithContext("layer '" + d.name + "'");
          d.nodes.push_back(std::move(*refs));
        }
      }
    }
    if (keras3 && !(sequential && d.class_name == "InputLayer")) {
      std::string snake = ToSnakeCase(d.class_name);
      auto it = used.find(snake);
      if (it == used.end()) {
        used[snake] = 0;
      } else {
        snake += "_" + std::to_string(++it->second);
      }
      d.keras3_path = "layers/" + snake;
    }
    m.layers.push_back(std::move(d));
  }
  if (sequential) {
    // A chain: an InputLayer (or the first layer's batch_input_shape) feeds
    // layer 0, each layer the next.
    if (m.layers.empty()) return InvalidArgument("the Sequential model has no layers");
    if (m.layers[0].class_name != "InputLayer") {
      LayerDesc in;
      in.class_name = "InputLayer";
      in.config = m.layers[0].config;  // carries batch_input_shape
      in.name = m.layers[0].name + "_input";
      element shape;
      if (in.config["batch_input_shape"].get(shape) != simdjson::SUCCESS &&
          in.config["batch_shape"].get(shape) != simdjson::SUCCESS) {
        // Keras 3 Sequential: build_input_shape on the model config.
        if (cfg["build_input_shape"].get(shape) != simdjson::SUCCESS) {
          return InvalidArgument(
              "the Sequential model does not state its input shape (no InputLayer, no "
              "batch_input_shape): tiffin cannot tell what it takes");
        }
        in.config = cfg;
      }
      m.layers.insert(m.layers.begin(), std::move(in));
    }
    for (size_t i = 1; i < m.layers.size(); ++i)
      m.layers[i].nodes = {{TensorRef{m.layers[i - 1].name, 0, 0}}};
    m.inputs = {TensorRef{m.layers[0].name, 0, 0}};
    m.outputs = {TensorRef{m.layers.back().name, 0, 0}};
    return m;
  }
  element e;
  if (cfg["input_layers"].get(e) != simdjson::SUCCESS)
    return InvalidArgument("the Functional model config has no 'input_layers'");
  TIFFIN_ASSIGN_OR_RETURN(m.inputs, ParseRefList(e, "input_layers"));
  if (cfg["output_layers"].get(e) != simdjson::SUCCESS)
    return InvalidArgument("the Functional model config has no 'output_layers'");
  TIFFIN_ASSIGN_OR_RETURN(m.outputs, ParseRefList(e, "output_layers"));
  return m;
}

// The weights of one layer, from whichever store the file has.
LayerWeights WeightsFor(const KerasSource& src, const LayerDesc& d) {
  if (!src.is_keras3) {
    auto it = src.legacy.find(d.name);
    return it == src.legacy.end() ? LayerWeights{} : it->second;
  }
  LayerWeights w;
  auto add = [&](const std::string& path) {
    for (const std::string& p : {path, path + "/cell"}) {
      auto it = src.keras3.find(p);
      if (it != src.keras3.end())
        w.values.insert(w.values.end(), it->second.begin(), it->second.end());
    }
  };
  if (d.keras3_path.empty()) return w;
  add(d.keras3_path);
  add(d.keras3_path + "/forward_layer");
  add(d.keras3_path + "/backward_layer");
  add(d.keras3_path + "/layer");
  return w;
}

}  // namespace

Result<sklearn::ImportedGraph> ImportKeras(const KerasSource& src, const LoadOptions& options) {
  if (src.config_json.size() > kMaxConfigBytes)
    return ResourceExhausted("the model config is larger than 64 MiB");
  simdjson::dom::parser parser;
  element root;
  if (auto err = parser.parse(src.config_json).get(root); err) {
    return InvalidArgument(std::string("the model config is not valid JSON: ") +
                           simdjson::error_message(err));
  }
  TIFFIN_ASSIGN_OR_RETURN(ModelDesc m, ParseModel(root, src.is_keras3));
  if (static_cast<int64_t>(m.layers.size()) > options.max_nodes)
    return ResourceExhausted("the model has more layers than max_nodes");

  sklearn::ImportedGraph out;
  sklearn::GraphBuilder b;
  Converter conv(b, src.keras_version);
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < m.layers.size(); ++i) by_name[m.layers[i].name] = i;

  // Values produced: (layer, node) -> output tensors.
  std::map<std::pair<std::string, int64_t>, std::vector<Val>> produced;
  // Inputs first.
  std::set<std::string> input_names;
  for (const auto& r : m.inputs) {
    auto it = by_name.find(r.layer);
    if (it == by_name.end()) return InvalidArgument("input layer '" + r.layer + "' does not exist");
    const LayerDesc& d = m.layers[it->second];
    if (d.class_name != "InputLayer") {
      return InvalidArgument("model input '" + r.layer + "' is a " + d.class_name +
                             ", not an InputLayer");
    }
    TIFFIN_ASSIGN_OR_RETURN(Val v, conv.Input(d.name, d.config));
    std::vector<Dim> dims;
    for (size_t k = 0; k < v.shape.size(); ++k)
      dims.push_back(k == 0 ? Dim{-1, "N"} : Dim{v.shape[k], ""});
    out.inputs.push_back(TensorInfo{v.name, v.dtype, true, dims});
    produced[{d.name, 0}] = {v};
    input_names.insert(d.name);
  }
  // Then every layer call once its inputs exist (Kahn's order, linear in
  // the number of calls): a cycle or a reference to a missing layer leaves
  // calls waiting.
  using Key = std::pair<std::string, int64_t>;
  std::vector<std::pair<size_t, size_t>> calls;  // (layer, node)
  for (size_t i = 0; i < m.layers.size(); ++i) {
    if (m.layers[i].class_name == "InputLayer") continue;
    for (size_t n = 0; n < m.layers[i].nodes.size(); ++n) calls.push_back({i, n});
  }
  std::map<Key, std::vector<size_t>> waiters;  // producer -> calls waiting for it
  std::vector<size_t> missing_inputs(calls.size(), 0);
  std::vector<size_t> ready;
  for (size_t c = 0; c < calls.size(); ++c) {
    for (const auto& r : m.layers[calls[c].first].nodes[calls[c].second]) {
      if (produced.count({r.layer, r.node})) continue;
      ++missing_inputs[c];
      waiters[{r.layer, r.node}].push_back(c);
    }
    if (missing_inputs[c] == 0) ready.push_back(c);
  }
  std::map<size_t, LayerWeights> weights;
  while (!ready.empty()) {
    const size_t c = ready.back();
    ready.pop_back();
    const auto [li, ni] = calls[c];
    const LayerDesc& d = m.layers[li];
    std::vector<Val> ins;
    for (const auto& r : d.nodes[ni]) {
      const auto& outs = produced.at({r.layer, r.node});
      if (r.tensor < 0 || r.tensor >= static_cast<int64_t>(outs.size())) {
        return InvalidArgument("layer '" + d.name + "' takes tensor " + std::to_string(r.tensor) +
                               " of layer '" + r.layer + "', which has " +
                               std::to_string(outs.size()));
      }
      ins.push_back(outs[static_cast<size_t>(r.tensor)]);
    }
    if (!weights.count(li)) weights[li] = WeightsFor(src, d);
    auto outs = conv.Apply(d.class_name, d.name, d.config, ins, weights[li]);
    if (!outs.ok()) {
      return outs.status().WithContext("layer '" + d.name + "' (" + d.class_name + ")");
    }
    const Key key{d.name, static_cast<int64_t>(ni)};
    produced[key] = std::move(*outs);
    auto w = waiters.find(key);
    if (w == waiters.end()) continue;
    for (size_t waiting : w->second)
      if (--missing_inputs[waiting] == 0) ready.push_back(waiting);
    waiters.erase(w);
  }
  std::vector<std::pair<size_t, size_t>> pending;
  for (size_t c = 0; c < calls.size(); ++c)
    if (missing_inputs[c] > 0) pending.push_back(calls[c]);
  std::set<std::string> out_names;
  for (const auto& r : m.outputs) {
    auto it = produced.find({r.layer, r.node});
    if (it == produced.end() || r.tensor < 0 ||
        r.tensor >= static_cast<int64_t>(it->second.size())) {
      if (!pending.empty()) {
        const LayerDesc& d = m.layers[pending[0].first];
        std::string missing;
        for (const auto& ref : d.nodes[pending[0].second])
          if (!produced.count({ref.layer, ref.node})) missing = ref.layer;
        return InvalidArgument("model output '" + r.layer + "' cannot be computed: layer '" +
                               d.name + "' waits for '" + missing +
                               "', which is missing or part of a cycle");
      }
      return InvalidArgument("model output '" + r.layer + "' (node " + std::to_string(r.node) +
                             ", tensor " + std::to_string(r.tensor) + ") is never computed");
    }
    const Val& v = it->second[static_cast<size_t>(r.tensor)];
    std::string name = r.layer;
    if (out_names.count(name) || input_names.count(name))
      name += "_" + std::to_string(out_names.size());
    out_names.insert(name);
    std::vector<Dim> dims;
    for (size_t k = 0; k < v.shape.size(); ++k)
      dims.push_back(k == 0 ? Dim{-1, "N"} : Dim{v.shape[k], ""});
    b.AddOutput(v.name, name, v.dtype, dims);
    out.outputs.push_back(TensorInfo{name, v.dtype, true, dims});
  }
  out.graph = b.Finish();
  out.graph->name = "keras";
  out.info.format = src.format;
  out.info.producer_name = "keras";
  out.info.producer_version = src.keras_version;
  out.info.opsets["ai.onnx"] = sklearn::kOnnxOpset;  // ModelInfo names domains in full
  for (const auto& n : out.graph->nodes) out.info.op_counts[n.op_type]++;
  for (const auto& [id, t] : out.graph->constants) {
    out.info.parameter_count += t.size();
    out.info.parameter_bytes += static_cast<int64_t>(t.nbytes());
  }
  out.info.metadata["keras_version"] = src.keras_version;
  out.notes = conv.notes();
  return out;
}

Result<sklearn::ImportedGraph> ImportKerasFile(const std::string& path,
                                               const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(KerasSource src, ReadKerasFile(path, options));
  auto r = ImportKeras(src, options);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

}  // namespace tiffin::keras
