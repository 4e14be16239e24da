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
        std::vector<TensorRef> kw;
        TIFFIN_RETURN_IF_ERROR(CollectRefs(v, 0, &kw));
        if (kw.empty()) continue;  // training=False, mask=None: no tensors
        // An RNN's initial states (`lstm(x, initial_state=[h, c])`) follow
        // its input, as tf.keras lists them in its inbound nodes.
        if (k == "initial_state") {
          refs.insert(refs.end(), kw.begin(), kw.end());
          continue;
        }
        return NotSupported("a layer is called with the tensor argument '" + std::string(k) +
                            "'; tiffin reads positional tensor inputs and RNN initial_state");
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

// How deep a Sequential's first layer is searched for its input shape
// through nested models.
constexpr int kMaxNestingForInput = 16;

bool IsModelClass(const std::string& cls) {
  return cls == "Sequential" || cls == "Functional" || cls == "Model";
}

// One model's config (`cls`, `cfg`): the top-level model, or a nested one
// used as a layer (`nested`), whose Keras 3 weights live under `k3_prefix`
// ("layers/sequential/").
Result<ModelDesc> ParseModel(const std::string& cls, element cfg, bool keras3,
                             const std::string& k3_prefix, bool nested) {
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
      d.keras3_path = k3_prefix + "layers/" + snake;
    }
    m.layers.push_back(std::move(d));
  }
  if (sequential) {
    // A chain: an InputLayer (or the first layer's batch_input_shape) feeds
    // layer 0, each layer the next.
    if (m.layers.empty()) return InvalidArgument("the Sequential model has no layers");
    element first;
    if (layers.at(0).get(first) != simdjson::SUCCESS)
      return InvalidArgument("the Sequential model has no layers");
    if (m.layers[0].class_name != "InputLayer") {
      LayerDesc in;
      in.class_name = "InputLayer";
      in.config = m.layers[0].config;  // carries batch_input_shape
      in.name = m.layers[0].name + "_input";
      element shape;
      // A nested model first (Sequential([base_model, Dense])): its own first
      // layer states the shape.
      for (int depth = 0; depth < kMaxNestingForInput && IsModelClass(Str(first["class_name"]));
           ++depth) {
        array inner;
        element next;
        if ((first["config"].get_array().get(inner) != simdjson::SUCCESS &&
             first.at_pointer("/config/layers").get_array().get(inner) != simdjson::SUCCESS) ||
            inner.size() == 0 || inner.at(0).get(next) != simdjson::SUCCESS) {
          break;
        }
        first = next;
        element c;
        if (first["config"].get(c) == simdjson::SUCCESS &&
            (c["batch_input_shape"].get(shape) == simdjson::SUCCESS ||
             c["batch_shape"].get(shape) == simdjson::SUCCESS)) {
          in.config = c;
          break;
        }
      }
      if (in.config["batch_input_shape"].get(shape) != simdjson::SUCCESS &&
          in.config["batch_shape"].get(shape) != simdjson::SUCCESS) {
        // Keras 3 Sequential: build_input_shape on the model config. A
        // nested Sequential takes whatever its caller gives it.
        if (cfg["build_input_shape"].get(shape) != simdjson::SUCCESS && !nested) {
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

// Model nesting deeper than this is refused (Keras applications nest 2 or
// 3 levels).
constexpr int kMaxNesting = 16;

// Where a (possibly nested) model's layers find their legacy weights: null
// at the top level (the group named after the layer), else the split-out
// weights of the outermost nested model (SplitNested), by layer name.
using LegacySplit = std::map<std::string, LayerWeights>;

// The names of the layers of nested model config `cfg`, at every depth.
// Names used twice (two nested models with a layer of the same name) go to
// `twice`.
Status CollectLayerNames(element cfg, int depth, std::set<std::string>* names,
                         std::set<std::string>* twice) {
  if (depth > kMaxNesting) return InvalidArgument("models nest more than 16 levels deep");
  array layers;
  if (cfg.get_array().get(layers) != simdjson::SUCCESS &&
      cfg["layers"].get_array().get(layers) != simdjson::SUCCESS) {
    return InvalidArgument("a nested model config has no 'layers' list");
  }
  if (layers.size() > kMaxLayers) return ResourceExhausted("a nested model has too many layers");
  for (element le : layers) {
    const std::string cls = Str(le["class_name"]);
    std::string name = Str(le["name"]);
    if (name.empty()) name = Str(le.at_pointer("/config/name"));
    if (IsModelClass(cls)) {
      element inner;
      if (le["config"].get(inner) != simdjson::SUCCESS)
        return InvalidArgument("nested model '" + name + "' has no config");
      TIFFIN_RETURN_IF_ERROR(CollectLayerNames(inner, depth + 1, names, twice));
    } else if (!name.empty() && !names->insert(name).second) {
      twice->insert(name);
    }
  }
  return Status();
}

// Legacy `.h5` files keep a nested model's weights in one group named after
// it: save_weights_to_hdf5_group (keras/saving/legacy/hdf5_format.py, and
// keras/src/legacy/saving/legacy_h5_format.py in Keras 3) writes a group per
// layer of the top model holding `_legacy_weights(layer)`, which for a model
// is every weight of every layer inside it, at any depth (trainable ones
// first), each named by the variable's name: tf.keras `w.name`
// ("dense_1/kernel:0", "lstm/lstm_cell/kernel:0"), Keras 3 `w.path`
// ("sequential/dense_1/kernel"). Keras loads them by position; tiffin reads
// the names instead: the leftmost path component that names a layer of the
// nested model says whose weight it is, so the order of trainable and frozen
// weights does not matter.
Result<LegacySplit> SplitNested(const LayerWeights& group, element cfg, const std::string& model) {
  std::set<std::string> names, twice;
  TIFFIN_RETURN_IF_ERROR(CollectLayerNames(cfg, 0, &names, &twice));
  LegacySplit out;
  for (size_t i = 0; i < group.values.size(); ++i) {
    const std::string path = i < group.paths.size() ? group.paths[i] : std::string();
    std::string owner;
    for (size_t pos = 0; pos < path.size();) {
      size_t slash = path.find('/', pos);
      if (slash == std::string::npos) break;  // the last component is the weight's own name
      const std::string part = path.substr(pos, slash - pos);
      if (names.count(part)) {
        owner = part;
        break;
      }
      pos = slash + 1;
    }
    if (owner.empty()) {
      return InvalidArgument("weight '" + path + "' of nested model '" + model +
                             "' names none of its layers; tiffin finds a nested model's "
                             "weights by their layer's name");
    }
    if (twice.count(owner)) {
      return NotSupported("nested model '" + model + "' holds two layers named '" + owner +
                          "': their weights cannot be told apart in a legacy .h5 file "
                          "(save as .keras, or give the layers distinct names)");
    }
    LayerWeights& w = out[owner];
    w.names.push_back(group.names[i]);
    w.paths.push_back(path);
    w.values.push_back(group.values[i]);
  }
  return out;
}

// The weights of one layer, from whichever store the file has.
LayerWeights WeightsFor(const KerasSource& src, const LegacySplit* split, const LayerDesc& d) {
  if (!src.is_keras3) {
    const auto& store = split ? *split : src.legacy;
    auto it = store.find(d.name);
    return it == store.end() ? LayerWeights{} : it->second;
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

// A model whose first node (the one linking its own inputs to its outputs
// when it was built) is left out of configs: calls of it are numbered from 1
// in the references of the model around it. Keras 3 (functional.py
// get_config, node_reindexing_map): Functional models. tf.keras
// (_should_skip_first_node): Functional models, and Sequential models built
// with an input shape (they are Functional there). The references
// themselves settle it when they can.
int64_t FirstNodeOffset(const LayerDesc& d, bool keras3,
                        const std::set<std::pair<std::string, int64_t>>& referenced) {
  if (!IsModelClass(d.class_name)) return 0;
  const bool zero = referenced.count({d.name, 0}) > 0;
  const bool past_end = referenced.count({d.name, static_cast<int64_t>(d.nodes.size())}) > 0;
  if (zero) return 0;
  if (past_end) return 1;
  if (d.class_name != "Sequential") return 1;
  if (keras3) return 0;
  array layers;
  element first;
  if ((d.config.get_array().get(layers) == simdjson::SUCCESS ||
       d.config["layers"].get_array().get(layers) == simdjson::SUCCESS) &&
      layers.size() > 0 && layers.at(0).get(first) == simdjson::SUCCESS) {
    element shape;
    return Str(first["class_name"]) == "InputLayer" ||
                   first.at_pointer("/config/batch_input_shape").get(shape) == simdjson::SUCCESS
               ? 1
               : 0;
  }
  return 0;
}

// Builds the nodes of one model, and of the models nested in it, in one
// graph: a nested model's layers are emitted inline at each call (a shared
// nested model twice, with the same weights).
class ModelWalker {
 public:
  ModelWalker(const KerasSource& src, const LoadOptions& options, Converter& conv)
      : src_(src), options_(options), conv_(conv) {}

  // The top-level model's graph inputs, as (InputLayer name, value).
  std::vector<Val> inputs;

  // Emits model `m`. At the top level (`bound` null) its InputLayers become
  // graph inputs; a nested model's InputLayers take `bound`, in order.
  // Returns the values of m.outputs.
  Result<std::vector<Val>> Build(const ModelDesc& m, const LegacySplit* split,
                                 const std::vector<Val>* bound, int depth);

 private:
  Result<std::vector<Val>> CallNested(const LayerDesc& d, const LegacySplit* split,
                                      const std::vector<Val>& ins, int depth);

  const KerasSource& src_;
  const LoadOptions& options_;
  Converter& conv_;
  int64_t applied_ = 0;                           // layer calls emitted, at every depth
  std::map<const LayerDesc*, ModelDesc> nested_;  // parsed nested models
  std::map<const LayerDesc*, LegacySplit> splits_;
};

Result<std::vector<Val>> ModelWalker::CallNested(const LayerDesc& d, const LegacySplit* split,
                                                 const std::vector<Val>& ins, int depth) {
  if (depth + 1 > kMaxNesting) return InvalidArgument("models nest more than 16 levels deep");
  auto it = nested_.find(&d);
  if (it == nested_.end()) {
    const std::string prefix = d.keras3_path.empty() ? "" : d.keras3_path + "/";
    TIFFIN_ASSIGN_OR_RETURN(ModelDesc inner,
                            ParseModel(d.class_name, d.config, src_.is_keras3, prefix, true));
    it = nested_.emplace(&d, std::move(inner)).first;
  }
  if (!src_.is_keras3 && !split) {
    // The outermost nested model: its group holds the weights of every
    // model inside it too.
    auto s = splits_.find(&d);
    if (s == splits_.end()) {
      auto g = src_.legacy.find(d.name);
      TIFFIN_ASSIGN_OR_RETURN(
          LegacySplit parts,
          SplitNested(g == src_.legacy.end() ? LayerWeights{} : g->second, d.config, d.name));
      s = splits_.emplace(&d, std::move(parts)).first;
    }
    split = &s->second;
  }
  return Build(it->second, split, &ins, depth + 1);
}

Result<std::vector<Val>> ModelWalker::Build(const ModelDesc& m, const LegacySplit* split,
                                            const std::vector<Val>* bound, int depth) {
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < m.layers.size(); ++i) by_name[m.layers[i].name] = i;

  // Values produced: (layer, node) -> output tensors.
  std::map<std::pair<std::string, int64_t>, std::vector<Val>> produced;
  // Inputs first.
  if (bound && bound->size() != m.inputs.size()) {
    return InvalidArgument("the nested model takes " + std::to_string(m.inputs.size()) +
                           " inputs and is called on " + std::to_string(bound->size()));
  }
  for (size_t k = 0; k < m.inputs.size(); ++k) {
    const auto& r = m.inputs[k];
    auto it = by_name.find(r.layer);
    if (it == by_name.end()) return InvalidArgument("input layer '" + r.layer + "' does not exist");
    const LayerDesc& d = m.layers[it->second];
    if (d.class_name != "InputLayer") {
      return InvalidArgument("model input '" + r.layer + "' is a " + d.class_name +
                             ", not an InputLayer");
    }
    if (bound) {
      produced[{d.name, 0}] = {(*bound)[k]};
      continue;
    }
    TIFFIN_ASSIGN_OR_RETURN(Val v, conv_.Input(d.name, d.config));
    produced[{d.name, 0}] = {v};
    inputs.push_back(v);
  }
  // Then every layer call once its inputs exist (Kahn's order, linear in
  // the number of calls): a cycle or a reference to a missing layer leaves
  // calls waiting.
  using Key = std::pair<std::string, int64_t>;
  std::vector<std::pair<size_t, size_t>> calls;  // (layer, node)
  std::set<Key> referenced;                      // every (layer, node) some call or output uses
  for (const auto& r : m.outputs) referenced.insert({r.layer, r.node});
  for (size_t i = 0; i < m.layers.size(); ++i) {
    if (m.layers[i].class_name == "InputLayer") continue;
    for (size_t n = 0; n < m.layers[i].nodes.size(); ++n) {
      calls.push_back({i, n});
      for (const auto& r : m.layers[i].nodes[n]) referenced.insert({r.layer, r.node});
    }
  }
  std::vector<int64_t> offset(m.layers.size(), 0);
  for (size_t i = 0; i < m.layers.size(); ++i)
    offset[i] = FirstNodeOffset(m.layers[i], src_.is_keras3, referenced);
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
    if (++applied_ > options_.max_nodes) {
      return ResourceExhausted("the model calls more than max_nodes (" +
                               std::to_string(options_.max_nodes) +
                               ") layers, nested models counted at each call");
    }
    Result<std::vector<Val>> outs = std::vector<Val>{};
    if (IsModelClass(d.class_name)) {
      outs = CallNested(d, split, ins, depth);
    } else {
      if (!weights.count(li)) weights[li] = WeightsFor(src_, split, d);
      outs = conv_.Apply(d.class_name, d.name, d.config, ins, weights[li]);
    }
    if (!outs.ok()) {
      return outs.status().WithContext("layer '" + d.name + "' (" + d.class_name + ")");
    }
    const Key key{d.name, static_cast<int64_t>(ni) + offset[li]};
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
  std::vector<Val> out;
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
    out.push_back(it->second[static_cast<size_t>(r.tensor)]);
  }
  return out;
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
  object ro;
  if (root.get_object().get(ro) != simdjson::SUCCESS) {
    return InvalidArgument("the model config is not a JSON object");
  }
  element cfg;
  if (ro["config"].get(cfg) != simdjson::SUCCESS) {
    return InvalidArgument("the model config has no 'config'");
  }
  TIFFIN_ASSIGN_OR_RETURN(ModelDesc m,
                          ParseModel(Str(ro["class_name"]), cfg, src.is_keras3, "", false));
  if (static_cast<int64_t>(m.layers.size()) > options.max_nodes)
    return ResourceExhausted("the model has more layers than max_nodes");

  sklearn::ImportedGraph out;
  sklearn::GraphBuilder b;
  Converter conv(b, src.keras_version);
  ModelWalker walker(src, options, conv);
  TIFFIN_ASSIGN_OR_RETURN(std::vector<Val> results, walker.Build(m, nullptr, nullptr, 0));
  std::set<std::string> input_names;
  for (size_t k = 0; k < walker.inputs.size(); ++k) {
    const Val& v = walker.inputs[k];
    std::vector<Dim> dims;
    for (size_t i = 0; i < v.shape.size(); ++i)
      dims.push_back(i == 0 ? Dim{-1, "N"} : Dim{v.shape[i], ""});
    out.inputs.push_back(TensorInfo{v.name, v.dtype, true, dims});
    input_names.insert(m.inputs[k].layer);
  }
  std::set<std::string> out_names;
  for (size_t k = 0; k < m.outputs.size(); ++k) {
    const Val& v = results[k];
    std::string name = m.outputs[k].layer;
    if (out_names.count(name) || input_names.count(name))
      name += "_" + std::to_string(out_names.size());
    out_names.insert(name);
    std::vector<Dim> dims;
    for (size_t i = 0; i < v.shape.size(); ++i)
      dims.push_back(i == 0 ? Dim{-1, "N"} : Dim{v.shape[i], ""});
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
