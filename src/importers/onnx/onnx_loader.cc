// Reads an ONNX ModelProto (parsed by Debian's libonnx protobuf classes) into
// the graph IR, then compiles it. Everything in the file is untrusted: every
// reference is resolved and checked here, so later stages see a well-formed
// graph.
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <set>
#include <unordered_map>

#include "exec/executor.h"
#include "importers/onnx/onnx_loader.h"
#include "importers/onnx/tensor_proto.h"
#include "kernels/kernel.h"
#include "tiffin/model.h"

namespace tiffin {
namespace onnx_import {
namespace {

constexpr int64_t kMinIrVersion = 3;
constexpr int64_t kMaxIrVersion = 13;
constexpr int64_t kMaxMlOpset = 5;

struct LoadContext {
  const LoadOptions& options;
  ExternalData external;
  std::map<std::string, int64_t> opsets;    // "" for ai.onnx
  std::vector<std::string> zipmap_outputs;  // outputs returned as tensors (see below)
};

std::string CanonicalDomain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

// True for seq(map(int64 | string, float)): what ai.onnx.ml ZipMap returns.
bool IsZipMapType(const onnx::TypeProto& type) {
  if (!type.has_sequence_type()) return false;
  const auto& elem = type.sequence_type().elem_type();
  if (!elem.has_map_type()) return false;
  const auto& m = elem.map_type();
  return (m.key_type() == onnx::TensorProto::INT64 || m.key_type() == onnx::TensorProto::STRING) &&
         m.value_type().has_tensor_type() &&
         m.value_type().tensor_type().elem_type() == onnx::TensorProto::FLOAT;
}

Result<TensorInfo> InfoFromValueInfo(const onnx::ValueInfoProto& vi, const char* role,
                                     bool* zipmap = nullptr) {
  TensorInfo info;
  info.name = vi.name();
  if (!vi.has_type()) return info;  // untyped: accepted, checked at run time only
  const auto& type = vi.type();
  if (zipmap && IsZipMapType(type)) {
    // tiffin values are tensors: a ZipMap output is returned as the [N, K]
    // float tensor of its values, columns in the order of its labels.
    *zipmap = true;
    info.dtype = DType::kFloat32;
    info.has_shape = true;
    info.shape = {Dim{-1, "N"}, Dim{}};
    return info;
  }
  if (!type.has_tensor_type()) {
    const char* kind = type.has_sequence_type()   ? "sequence"
                       : type.has_map_type()      ? "map"
                       : type.has_optional_type() ? "optional"
                                                  : "non-tensor";
    return NotSupported(std::string(role) + " '" + vi.name() + "' has a " + kind +
                        " type; tiffin runs models whose inputs and outputs are tensors");
  }
  const auto& tt = type.tensor_type();
  if (tt.elem_type() != 0) {
    if (!IsKnownDType(tt.elem_type())) {
      return NotSupported(std::string(role) + " '" + vi.name() + "' has element type " +
                          std::to_string(tt.elem_type()) +
                          " (bfloat16, complex or float8), which tiffin does not support");
    }
    info.dtype = static_cast<DType>(tt.elem_type());
  }
  if (tt.has_shape()) {
    info.has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      Dim dim;
      if (d.has_dim_value() && d.dim_value() >= 0) dim.value = d.dim_value();
      if (d.has_dim_param()) dim.symbol = d.dim_param();
      info.shape.push_back(dim);
    }
  }
  return info;
}

// The chain of enclosing graphs whose names a subgraph may read. Walking the
// chain (instead of copying name sets per subgraph) keeps loading linear.
struct Scope {
  const ir::Graph* graph;
  const Scope* parent;
  bool Has(const std::string& name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent)
      if (s->graph->FindValue(name) != ir::kNoValue) return true;
    return false;
  }
};

Result<std::shared_ptr<ir::Graph>> ConvertGraph(const onnx::GraphProto& gp, const Scope* outer,
                                                LoadContext& ctx, int depth);

Result<ir::Attribute> ConvertAttribute(const onnx::AttributeProto& ap, const ir::Node& node,
                                       const Scope* visible, LoadContext& ctx, int depth) {
  using AP = onnx::AttributeProto;
  ir::Attribute a;
  const std::string where = node.Describe() + " attribute '" + ap.name() + "'";
  if (!ap.ref_attr_name().empty()) {
    return NotSupported(where + ": refers to function attribute '" + ap.ref_attr_name() +
                        "'; model-local functions are not supported");
  }
  auto type = ap.type();
  if (type == AP::UNDEFINED) {  // very old writers left the type out: infer it
    if (ap.has_f())
      type = AP::FLOAT;
    else if (ap.has_i())
      type = AP::INT;
    else if (ap.has_s())
      type = AP::STRING;
    else if (ap.has_t())
      type = AP::TENSOR;
    else if (ap.has_g())
      type = AP::GRAPH;
    else if (ap.floats_size())
      type = AP::FLOATS;
    else if (ap.ints_size())
      type = AP::INTS;
    else if (ap.strings_size())
      type = AP::STRINGS;
    else if (ap.tensors_size())
      type = AP::TENSORS;
  }
  switch (type) {
    case AP::FLOAT:
      a.kind = ir::Attribute::Kind::kFloat;
      a.f = ap.f();
      break;
    case AP::INT:
      a.kind = ir::Attribute::Kind::kInt;
      a.i = ap.i();
      break;
    case AP::STRING:
      a.kind = ir::Attribute::Kind::kString;
      a.s = ap.s();
      break;
    case AP::FLOATS:
      a.kind = ir::Attribute::Kind::kFloats;
      a.floats.assign(ap.floats().begin(), ap.floats().end());
      break;
    case AP::INTS:
      a.kind = ir::Attribute::Kind::kInts;
      a.ints.assign(ap.ints().begin(), ap.ints().end());
      break;
    case AP::STRINGS:
      a.kind = ir::Attribute::Kind::kStrings;
      a.strings.assign(ap.strings().begin(), ap.strings().end());
      break;
    case AP::TENSOR: {
      a.kind = ir::Attribute::Kind::kTensor;
      auto t = TensorFromProto(ap.t(), &ctx.external, ctx.options);
      if (!t.ok()) return t.status().WithContext(where);
      a.t = std::move(t).value();
      break;
    }
    case AP::TENSORS: {
      a.kind = ir::Attribute::Kind::kTensors;
      for (const auto& tp : ap.tensors()) {
        auto t = TensorFromProto(tp, &ctx.external, ctx.options);
        if (!t.ok()) return t.status().WithContext(where);
        a.tensors.push_back(std::move(t).value());
      }
      break;
    }
    case AP::GRAPH: {
      a.kind = ir::Attribute::Kind::kGraph;
      auto g = ConvertGraph(ap.g(), visible, ctx, depth + 1);
      if (!g.ok()) return g.status().WithContext(where);
      a.g = std::move(g).value();
      break;
    }
    default:
      return NotSupported(where + ": attribute type " + std::to_string(static_cast<int>(type)) +
                          " (sparse tensor, graphs or type protos) is not supported");
  }
  return a;
}

Result<std::shared_ptr<ir::Graph>> ConvertGraph(const onnx::GraphProto& gp, const Scope* outer,
                                                LoadContext& ctx, int depth) {
  if (depth > ctx.options.max_subgraph_depth) {
    return NotSupported("subgraphs nested deeper than " +
                        std::to_string(ctx.options.max_subgraph_depth) + " levels");
  }
  if (gp.node_size() > ctx.options.max_nodes) {
    return ResourceExhausted("graph '" + gp.name() + "' has " + std::to_string(gp.node_size()) +
                             " nodes, over the limit of " + std::to_string(ctx.options.max_nodes));
  }
  auto g = std::make_shared<ir::Graph>();
  g->name = gp.name();
  if (gp.sparse_initializer_size() > 0) {
    return NotSupported("graph '" + gp.name() +
                        "' has sparse initializers, which tiffin does not read");
  }

  for (const auto& init : gp.initializer()) {
    if (init.name().empty())
      return DataLoss("graph '" + gp.name() + "' has an unnamed initializer");
    if (g->FindValue(init.name()) != ir::kNoValue) {
      return DataLoss("initializer '" + init.name() + "' is defined twice");
    }
    auto t = TensorFromProto(init, &ctx.external, ctx.options);
    if (!t.ok()) return t.status().WithContext("initializer '" + init.name() + "'");
    int id = g->AddValue(init.name());
    g->constants[id] = std::move(t).value();
  }
  for (const auto& in : gp.input()) {
    if (g->FindValue(in.name()) != ir::kNoValue) continue;  // IR < 4 lists initializers as inputs
    if (in.name().empty()) return DataLoss("graph '" + gp.name() + "' has an unnamed input");
    int id = g->AddValue(in.name());
    TIFFIN_ASSIGN_OR_RETURN(g->values[static_cast<size_t>(id)].info,
                            InfoFromValueInfo(in, "input"));
    g->inputs.push_back(id);
  }

  // Give every node output an id first, so nodes may appear in any order.
  std::vector<ir::Node> nodes(static_cast<size_t>(gp.node_size()));
  std::unordered_map<int, size_t> producer;
  for (int n = 0; n < gp.node_size(); ++n) {
    const auto& np = gp.node(n);
    ir::Node& node = nodes[static_cast<size_t>(n)];
    node.name = np.name().empty() ? np.op_type() + "_" + std::to_string(n) : np.name();
    node.op_type = np.op_type();
    node.domain = CanonicalDomain(np.domain());
    auto opset = ctx.opsets.find(node.domain);
    if (opset == ctx.opsets.end()) {
      return DataLoss(node.Describe() + ": uses domain '" + np.domain() +
                      "', which the model does not import (opset_import)");
    }
    node.opset = opset->second;
    for (const auto& out : np.output()) {
      if (out.empty()) {
        node.outputs.push_back(ir::kNoValue);
        continue;
      }
      if (g->FindValue(out) != ir::kNoValue) {
        return DataLoss(node.Describe() + ": output '" + out +
                        "' is already defined by another node, input or initializer");
      }
      int id = g->AddValue(out);
      node.outputs.push_back(id);
      producer[id] = static_cast<size_t>(n);
    }
  }
  const Scope visible{g.get(), outer};

  auto resolve = [&](const std::string& name, const std::string& who) -> Result<int> {
    int id = g->FindValue(name);
    if (id != ir::kNoValue) return id;
    if (outer != nullptr && outer->Has(name)) {  // captured from an enclosing graph
      id = g->AddValue(name);
      g->outer_refs.push_back(id);
      return id;
    }
    return DataLoss(who + ": reads '" + name + "', which no node, input or initializer defines");
  };

  for (int n = 0; n < gp.node_size(); ++n) {
    const auto& np = gp.node(n);
    ir::Node& node = nodes[static_cast<size_t>(n)];
    for (const auto& in : np.input()) {
      if (in.empty()) {
        node.inputs.push_back(ir::kNoValue);
        continue;
      }
      TIFFIN_ASSIGN_OR_RETURN(int id, resolve(in, node.Describe()));
      node.inputs.push_back(id);
    }
    for (const auto& ap : np.attribute()) {
      TIFFIN_ASSIGN_OR_RETURN(ir::Attribute a, ConvertAttribute(ap, node, &visible, ctx, depth));
      node.attributes[ap.name()] = std::move(a);
    }
  }

  // Topological order (Kahn); ONNX requires it, but writers get it wrong.
  std::vector<int> pending(nodes.size(), 0);
  std::vector<std::vector<size_t>> consumers(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    std::set<size_t> deps;
    for (int id : nodes[n].inputs) {
      auto it = id == ir::kNoValue ? producer.end() : producer.find(id);
      if (it != producer.end()) deps.insert(it->second);
    }
    // Values a subgraph captures are dependencies too.
    for (const auto& [key, attr] : nodes[n].attributes) {
      if (attr.kind != ir::Attribute::Kind::kGraph || !attr.g) continue;
      for (int ref : attr.g->outer_refs) {
        int id = g->FindValue(attr.g->values[static_cast<size_t>(ref)].name);
        auto it = id == ir::kNoValue ? producer.end() : producer.find(id);
        if (it != producer.end()) deps.insert(it->second);
      }
    }
    for (size_t d : deps) {
      if (d == n) return DataLoss(nodes[n].Describe() + ": reads its own output");
      consumers[d].push_back(n);
    }
    pending[n] = static_cast<int>(deps.size());
  }
  std::vector<size_t> order, ready;
  for (size_t n = nodes.size(); n-- > 0;)
    if (pending[n] == 0) ready.push_back(n);
  while (!ready.empty()) {
    size_t n = ready.back();
    ready.pop_back();
    order.push_back(n);
    for (size_t c : consumers[n])
      if (--pending[c] == 0) ready.push_back(c);
  }
  if (order.size() != nodes.size()) {
    return DataLoss("graph '" + gp.name() + "' has a cycle among its nodes");
  }
  g->nodes.reserve(nodes.size());
  for (size_t n : order) g->nodes.push_back(std::move(nodes[n]));

  for (const auto& out : gp.output()) {
    TIFFIN_ASSIGN_OR_RETURN(int id, resolve(out.name(), "graph output"));
    bool zipmap = false;
    TIFFIN_ASSIGN_OR_RETURN(TensorInfo info,
                            InfoFromValueInfo(out, "output", depth == 0 ? &zipmap : nullptr));
    if (zipmap) {
      const ir::Node* maker = nullptr;
      for (const auto& n : g->nodes)
        for (int o : n.outputs)
          if (o == id) maker = &n;
      if (!maker || maker->op_type != "ZipMap" || maker->domain != "ai.onnx.ml") {
        return NotSupported("output '" + out.name() +
                            "' is a sequence of maps not made by ZipMap; tiffin values are "
                            "tensors only");
      }
      ctx.zipmap_outputs.push_back(out.name());
    }
    g->values[static_cast<size_t>(id)].info = info;
    g->outputs.push_back(id);
  }
  // Subgraph outer refs of nested graphs that this graph does not define are
  // outer refs of this graph too.
  for (const auto& node : g->nodes) {
    for (const auto& [key, attr] : node.attributes) {
      if (attr.kind != ir::Attribute::Kind::kGraph || !attr.g) continue;
      for (int ref : attr.g->outer_refs) {
        const std::string& name = attr.g->values[static_cast<size_t>(ref)].name;
        if (g->FindValue(name) == ir::kNoValue)
          TIFFIN_RETURN_IF_ERROR(resolve(name, "subgraph").status());
      }
    }
  }
  return g;
}

void CountOps(const ir::Graph& g, std::map<std::string, int64_t>* counts) {
  for (const auto& n : g.nodes) {
    (*counts)[n.domain.empty() ? n.op_type : n.domain + ":" + n.op_type]++;
    for (const auto& [key, attr] : n.attributes)
      if (attr.kind == ir::Attribute::Kind::kGraph && attr.g) CountOps(*attr.g, counts);
  }
}

}  // namespace
}  // namespace onnx_import

namespace onnx_import {
namespace {

Result<ParsedOnnx> ParseOnnxGraphImpl(const std::string& bytes, const std::string& base_dir,
                                      const LoadOptions& options) {
  if (bytes.size() > options.max_file_bytes) {
    return ResourceExhausted("model has " + std::to_string(bytes.size()) +
                             " bytes, over the limit of " + std::to_string(options.max_file_bytes));
  }
  onnx::ModelProto mp;
  if (bytes.empty() || !mp.ParseFromString(bytes)) {
    return DataLoss(
        "not a valid ONNX model: the protobuf does not parse (truncated, corrupt, "
        "or not an .onnx file)");
  }
  if (!mp.has_graph()) return DataLoss("not a valid ONNX model: it has no graph");
  if (mp.ir_version() < kMinIrVersion || mp.ir_version() > kMaxIrVersion) {
    return NotSupported("ONNX IR version " + std::to_string(mp.ir_version()) +
                        " is outside what tiffin reads (" + std::to_string(kMinIrVersion) + " to " +
                        std::to_string(kMaxIrVersion) +
                        "); re-export the model with a matching exporter or convert it with "
                        "onnx.version_converter");
  }
  LoadContext ctx{options, ExternalData{base_dir, 0}, {}};
  for (const auto& os : mp.opset_import()) {
    const std::string domain = CanonicalDomain(os.domain());
    ctx.opsets[domain] = os.version();
    if (domain.empty() && (os.version() < 1 || os.version() > kernels::kMaxOpset)) {
      return NotSupported("ai.onnx opset " + std::to_string(os.version()) +
                          " is outside what tiffin implements (1 to " +
                          std::to_string(kernels::kMaxOpset) + ")");
    }
    if (domain == "ai.onnx.ml" && (os.version() < 1 || os.version() > kMaxMlOpset)) {
      return NotSupported("ai.onnx.ml opset " + std::to_string(os.version()) +
                          " is outside what tiffin implements (1 to " +
                          std::to_string(kMaxMlOpset) + ")");
    }
  }
  if (!ctx.opsets.count("")) ctx.opsets[""] = 1;  // IR < 3 semantics; rows refuse what differs

  ParsedOnnx parsed;
  TIFFIN_ASSIGN_OR_RETURN(parsed.graph, ConvertGraph(mp.graph(), nullptr, ctx, 0));
  parsed.opsets = ctx.opsets;

  ModelInfo& info = parsed.info;
  info.format = "onnx";
  info.producer_name = mp.producer_name();
  info.producer_version = mp.producer_version();
  info.domain = mp.domain();
  info.model_version = mp.model_version();
  info.ir_version = mp.ir_version();
  info.doc_string = mp.doc_string();
  for (const auto& [d, v] : ctx.opsets) info.opsets[d.empty() ? "ai.onnx" : d] = v;
  CountOps(*parsed.graph, &info.op_counts);
  for (const auto& [id, t] : parsed.graph->constants) {
    info.parameter_count += t.size();
    info.parameter_bytes += static_cast<int64_t>(t.nbytes());
  }
  for (const auto& kv : mp.metadata_props()) info.metadata[kv.key()] = kv.value();
  for (const auto& name : ctx.zipmap_outputs) {
    std::string& notes = info.metadata["notes"];
    notes += (notes.empty() ? "" : "; ") + std::string("output '") + name +
             "' (ZipMap: a list of {label: probability} maps in ONNX) is returned as the [N, K] "
             "probability tensor, columns in the order of the ZipMap's class labels";
  }
  return parsed;
}

Result<std::shared_ptr<const Model>> LoadOnnxBytesImpl(const std::string& bytes,
                                                       const std::string& base_dir,
                                                       const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(ParsedOnnx parsed, ParseOnnxGraphImpl(bytes, base_dir, options));
  const ir::Graph& graph = *parsed.graph;
  std::vector<TensorInfo> inputs, outputs;
  for (int id : graph.inputs) inputs.push_back(graph.values[static_cast<size_t>(id)].info);
  for (int id : graph.outputs) {
    TensorInfo ti = graph.values[static_cast<size_t>(id)].info;
    ti.name = graph.values[static_cast<size_t>(id)].name;
    outputs.push_back(ti);
  }
  TIFFIN_ASSIGN_OR_RETURN(auto compiled, exec::CompiledGraph::Compile(parsed.graph, options));
  return exec::MakeModel(std::move(compiled), std::move(inputs), std::move(outputs),
                         std::move(parsed.info));
}

}  // namespace

Result<ParsedOnnx> ParseOnnxGraph(const std::string& bytes, const std::string& base_dir,
                                  const LoadOptions& options) {
  // As in LoadOnnxBytes: only an allocation failure can throw.
  try {
    return ParseOnnxGraphImpl(bytes, base_dir, options);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory while parsing the model");
  } catch (const std::exception& e) {
    return Internal(std::string("unexpected exception while parsing the model: ") + e.what());
  }
}

}  // namespace onnx_import

Result<std::shared_ptr<const Model>> LoadOnnxBytes(const std::string& bytes,
                                                   const std::string& base_dir,
                                                   const LoadOptions& options) {
  // Protobuf and the kernels' factories report errors as values; only an
  // allocation failure can throw, and it must not escape the library.
  try {
    return onnx_import::LoadOnnxBytesImpl(bytes, base_dir, options);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory while loading the model");
  } catch (const std::exception& e) {
    return Internal(std::string("unexpected exception while loading the model: ") + e.what());
  }
}

Result<std::shared_ptr<const Model>> LoadOnnxFile(const std::string& path,
                                                  const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(std::string bytes,
                          onnx_import::ReadFileBytes(path, options.max_file_bytes));
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  auto model = LoadOnnxBytes(bytes, dir, options);
  if (!model.ok()) return model.status().WithContext(path);
  return model;
}

}  // namespace tiffin
