// Writes ir::Graph as an ONNX ModelProto. The checks follow what ONNX's
// checker and ONNX Runtime refuse, so that a model this writes either loads
// there or was never written: an IR importer (scikit-learn, ...) learns of a
// dangling value here, with its name, instead of from another runtime.
#include "importers/onnx/onnx_writer.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_map>

#include "importers/onnx/tensor_proto.h"

namespace tiffin::onnx_import {
namespace {

// Deeper than any real model nests; reaching it means subgraphs that
// contain themselves, which would otherwise recurse until the stack ends.
constexpr int kMaxDepth = 64;
constexpr const char* kDefaultGraphName = "main_graph";
// ONNX requires an ai.onnx import even in a model without nodes; 17 is read
// by ONNX Runtime and by every ONNX checker from 1.12 (Debian's) on.
constexpr int64_t kOpsetWithoutNodes = 17;

std::string CanonicalDomain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

// "node 'name' (domain:Op)", with the name the node is written under (the
// IR's may be empty).
std::string Describe(const ir::Node& node, const std::string& name) {
  std::string op = node.domain.empty() ? node.op_type : node.domain + ":" + node.op_type;
  return "node '" + name + "' (" + op + ")";
}

// The IR version each ONNX release paired with its opsets (onnx/helper.py
// VERSION_TABLE): 1.10-1.13 (ai.onnx 15-18, ml 2-3) are IR 8, 1.14-1.15
// (ai.onnx 19-20, ml 4) IR 9, 1.16-1.17 (ai.onnx 21-22, ml 5) IR 10, 1.18
// (ai.onnx 23) IR 11. Older opsets get IR 8 too: ONNX Runtime and ONNX's
// checker accept them with it, and since IR 4 initializers need not be
// listed as graph inputs, which this writer relies on. Newer ai.onnx opsets
// stay at IR 11, which ONNX Runtime 1.30 reads.
int64_t IrVersionFor(const std::map<std::string, int64_t>& opsets) {
  int64_t ir = 8;
  if (auto it = opsets.find(""); it != opsets.end()) {
    if (it->second >= 23) {
      ir = 11;
    } else if (it->second >= 21) {
      ir = 10;
    } else if (it->second >= 19) {
      ir = 9;
    }
  }
  if (auto it = opsets.find("ai.onnx.ml"); it != opsets.end()) {
    if (it->second >= 5) {
      ir = std::max<int64_t>(ir, 10);
    } else if (it->second >= 4) {
      ir = std::max<int64_t>(ir, 9);
    }
  }
  return ir;
}

// Gathers the value and node names the model already uses, so that
// generated names avoid them. It runs first and checks the nesting depth, so
// the later recursions need not.
Status CollectNames(const ir::Graph& g, int depth, std::set<std::string>* values,
                    std::set<std::string>* nodes) {
  if (depth > kMaxDepth) {
    return InvalidArgument("graph '" + g.name + "': subgraphs nest deeper than " +
                           std::to_string(kMaxDepth) + " levels (does a subgraph contain itself?)");
  }
  for (const auto& v : g.values)
    if (!v.name.empty()) values->insert(v.name);
  for (const auto& n : g.nodes) {
    if (!n.name.empty()) nodes->insert(n.name);
    for (const auto& [key, attr] : n.attributes) {
      if (attr.kind == ir::Attribute::Kind::kGraph && attr.g) {
        TIFFIN_RETURN_IF_ERROR(CollectNames(*attr.g, depth + 1, values, nodes));
      }
    }
  }
  return Status::Ok();
}

// opset_import is per model, so the nodes of every subgraph count.
Status DeriveOpsets(const ir::Graph& g, std::map<std::string, int64_t>* opsets) {
  for (const auto& n : g.nodes) {
    const std::string domain = CanonicalDomain(n.domain);
    if (n.opset <= 0) {
      return InvalidArgument(Describe(n, n.name.empty() ? "<unnamed>" : n.name) +
                             ": has no opset for domain '" + (domain.empty() ? "ai.onnx" : domain) +
                             "' (set ir::Node::opset, or OnnxWriteOptions::opsets)");
    }
    int64_t& version = (*opsets)[domain];
    version = std::max(version, n.opset);
    for (const auto& [key, attr] : n.attributes) {
      if (attr.kind == ir::Attribute::Kind::kGraph && attr.g) {
        TIFFIN_RETURN_IF_ERROR(DeriveOpsets(*attr.g, opsets));
      }
    }
  }
  return Status::Ok();
}

void FillValueInfo(const TensorInfo& info, const std::string& name, onnx::ValueInfoProto* vi) {
  vi->set_name(name);
  if (info.dtype == DType::kUndefined && !info.has_shape) return;
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  if (info.dtype != DType::kUndefined) tt->set_elem_type(static_cast<int32_t>(info.dtype));
  if (!info.has_shape) return;
  auto* shape = tt->mutable_shape();  // present even for rank 0: a scalar, not "rank unknown"
  for (const Dim& d : info.shape) {
    auto* dim = shape->add_dim();
    if (d.fixed()) {
      dim->set_dim_value(d.value);
    } else if (!d.symbol.empty()) {
      dim->set_dim_param(d.symbol);
    }
  }
}

// Names an enclosing graph has defined so far, by value id there. ONNX
// lets a subgraph read them and forbids it to define them again; like
// ONNX's checker, only what precedes the node owning the subgraph counts.
struct Scope {
  const std::unordered_map<std::string, int>* names;
  const Scope* parent;
  bool Has(const std::string& name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent)
      if (s->names->count(name)) return true;
    return false;
  }
};

class Writer {
 public:
  // `taken_values` and `taken_nodes`: the names the model uses already.
  Writer(const std::map<std::string, int64_t>& opsets, std::set<std::string> taken_values,
         std::set<std::string> taken_nodes)
      : opsets_(opsets),
        taken_values_(std::move(taken_values)),
        taken_nodes_(std::move(taken_nodes)) {}

  Status WriteGraph(const ir::Graph& g, const std::string& name, const Scope* outer,
                    onnx::GraphProto* gp);

 private:
  Status WriteAttribute(const std::string& key, const ir::Attribute& a,
                        const std::string& node_name, const std::string& who, const Scope& scope,
                        onnx::AttributeProto* ap);
  std::string NewName(const std::string& stem, std::set<std::string>* taken);

  const std::map<std::string, int64_t>& opsets_;
  std::set<std::string> taken_values_;
  std::set<std::string> taken_nodes_;
};

std::string Writer::NewName(const std::string& stem, std::set<std::string>* taken) {
  std::string name = stem;
  for (int k = 1; taken->count(name); ++k) name = stem + "_" + std::to_string(k);
  taken->insert(name);
  return name;
}

Status Writer::WriteAttribute(const std::string& key, const ir::Attribute& a,
                              const std::string& node_name, const std::string& who,
                              const Scope& scope, onnx::AttributeProto* ap) {
  using AP = onnx::AttributeProto;
  using Kind = ir::Attribute::Kind;
  const std::string where = who + " attribute '" + key + "'";
  if (key.empty()) return InvalidArgument(who + ": has an attribute with an empty name");
  ap->set_name(key);
  switch (a.kind) {
    case Kind::kFloat:
      ap->set_type(AP::FLOAT);
      ap->set_f(a.f);
      break;
    case Kind::kInt:
      ap->set_type(AP::INT);
      ap->set_i(a.i);
      break;
    case Kind::kString:
      ap->set_type(AP::STRING);
      ap->set_s(a.s);
      break;
    case Kind::kFloats:
      ap->set_type(AP::FLOATS);
      ap->mutable_floats()->Add(a.floats.begin(), a.floats.end());
      break;
    case Kind::kInts:
      ap->set_type(AP::INTS);
      ap->mutable_ints()->Add(a.ints.begin(), a.ints.end());
      break;
    case Kind::kStrings:
      ap->set_type(AP::STRINGS);
      for (const auto& s : a.strings) ap->add_strings(s);
      break;
    case Kind::kTensor: {
      ap->set_type(AP::TENSOR);
      Status s = TensorToProto(a.t, "", ap->mutable_t());
      if (!s.ok()) return s.WithContext(where);
      break;
    }
    case Kind::kTensors:
      ap->set_type(AP::TENSORS);
      for (const Tensor& t : a.tensors) {
        Status s = TensorToProto(t, "", ap->add_tensors());
        if (!s.ok()) return s.WithContext(where);
      }
      break;
    case Kind::kGraph: {
      ap->set_type(AP::GRAPH);
      if (!a.g) return InvalidArgument(where + ": is a graph attribute without a graph");
      // ONNX's checker requires every graph to be named.
      const std::string sub_name = a.g->name.empty() ? node_name + "_" + key : a.g->name;
      Status s = WriteGraph(*a.g, sub_name, &scope, ap->mutable_g());
      if (!s.ok()) return s.WithContext(where);
      break;
    }
  }
  return Status::Ok();
}

Status Writer::WriteGraph(const ir::Graph& g, const std::string& name, const Scope* outer,
                          onnx::GraphProto* gp) {
  const bool main_graph = outer == nullptr;
  const std::string where = "graph '" + name + "'";
  gp->set_name(name);

  const size_t n_values = g.values.size();
  std::vector<std::string> names(n_values);
  for (size_t id = 0; id < n_values; ++id) {
    names[id] = g.values[id].name.empty()
                    ? NewName("tiffin_value_" + std::to_string(id), &taken_values_)
                    : g.values[id].name;
  }
  auto in_range = [&](int id, const std::string& who) -> Status {
    if (id >= 0 && static_cast<size_t>(id) < n_values) return Status::Ok();
    return InvalidArgument(where + ": " + who + " refers to value id " + std::to_string(id) +
                           ", but the graph has " + std::to_string(n_values) + " values");
  };

  std::unordered_map<std::string, int> defined;  // name -> value id, in this graph so far
  std::vector<bool> is_defined(n_values, false);
  auto define = [&](int id, const std::string& who) -> Status {
    TIFFIN_RETURN_IF_ERROR(in_range(id, who));
    const std::string& value = names[static_cast<size_t>(id)];
    if (is_defined[static_cast<size_t>(id)]) {
      return InvalidArgument(where + ": value '" + value + "' is defined twice (again by " + who +
                             ")");
    }
    if (auto it = defined.find(value); it != defined.end()) {
      return InvalidArgument(where + ": values " + std::to_string(it->second) + " and " +
                             std::to_string(id) + " are both named '" + value + "'");
    }
    if (outer != nullptr && outer->Has(value)) {
      return InvalidArgument(where + ": " + who + " defines '" + value +
                             "', which an enclosing graph already defines (ONNX value names are "
                             "single-assignment across subgraphs)");
    }
    is_defined[static_cast<size_t>(id)] = true;
    defined.emplace(value, id);
    return Status::Ok();
  };

  // Which node produces each value, only to say "too early" rather than
  // "undefined" when nodes are out of order.
  std::unordered_map<int, size_t> producer;
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (int id : g.nodes[n].outputs)
      if (id != ir::kNoValue) producer.emplace(id, n);
  std::vector<std::string> node_names(g.nodes.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    node_names[n] = g.nodes[n].name.empty()
                        ? NewName(g.nodes[n].op_type + "_" + std::to_string(n), &taken_nodes_)
                        : g.nodes[n].name;
  }

  auto check_read = [&](int id, const std::string& who) -> Status {
    TIFFIN_RETURN_IF_ERROR(in_range(id, who));
    const std::string& value = names[static_cast<size_t>(id)];
    if (is_defined[static_cast<size_t>(id)]) return Status::Ok();
    if (auto it = defined.find(value); it != defined.end()) {
      return InvalidArgument(where + ": " + who + " reads value " + std::to_string(id) +
                             " named '" + value + "', but that name is value " +
                             std::to_string(it->second));
    }
    if (outer != nullptr && outer->Has(value)) return Status::Ok();  // captured from outside
    if (auto it = producer.find(id); it != producer.end()) {
      return InvalidArgument(where + ": " + who + " reads '" + value + "' before " +
                             Describe(g.nodes[it->second], node_names[it->second]) +
                             " produces it (nodes must be in topological order)");
    }
    return InvalidArgument(where + ": " + who + " reads '" + value +
                           "', which no input, initializer or earlier node defines" +
                           (main_graph ? "" : " (here or in an enclosing graph)"));
  };

  // Initializers first: a graph input may share an initializer's value (an
  // overridable default), and ONNX lists initializers apart from nodes.
  for (const auto& [id, tensor] : g.constants) {
    TIFFIN_RETURN_IF_ERROR(define(id, "an initializer"));
    Status s = TensorToProto(tensor, names[static_cast<size_t>(id)], gp->add_initializer());
    if (!s.ok())
      return s.WithContext(where + " initializer '" + names[static_cast<size_t>(id)] + "'");
  }
  for (int id : g.inputs) {
    TIFFIN_RETURN_IF_ERROR(in_range(id, "an input"));
    if (!g.constants.count(id)) TIFFIN_RETURN_IF_ERROR(define(id, "an input"));
    const TensorInfo& info = g.values[static_cast<size_t>(id)].info;
    if (main_graph && info.dtype == DType::kUndefined) {
      // ONNX's checker and ONNX Runtime both require a typed model input.
      return InvalidArgument(where + ": input '" + names[static_cast<size_t>(id)] +
                             "' has no dtype (set its Value::info)");
    }
    FillValueInfo(info, names[static_cast<size_t>(id)], gp->add_input());
  }

  const Scope scope{&defined, outer};
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const ir::Node& node = g.nodes[n];
    const std::string who = Describe(node, node_names[n]);
    if (node.op_type.empty()) return InvalidArgument(where + ": " + who + " has no op_type");
    const std::string domain = CanonicalDomain(node.domain);
    if (!opsets_.count(domain)) {
      // Only reachable with caller-given opsets; derived ones cover every node.
      return InvalidArgument(where + ": " + who + " uses domain '" +
                             (domain.empty() ? "ai.onnx" : domain) +
                             "', which OnnxWriteOptions::opsets does not import");
    }
    auto* np = gp->add_node();
    np->set_name(node_names[n]);
    np->set_op_type(node.op_type);
    np->set_domain(domain);
    for (int id : node.inputs) {
      if (id == ir::kNoValue) {
        np->add_input("");
        continue;
      }
      TIFFIN_RETURN_IF_ERROR(check_read(id, who));
      np->add_input(names[static_cast<size_t>(id)]);
    }
    // Attributes before outputs: a subgraph may read what precedes its node,
    // not the node's own outputs.
    for (const auto& [key, attr] : node.attributes) {
      TIFFIN_RETURN_IF_ERROR(
          WriteAttribute(key, attr, node_names[n], who, scope, np->add_attribute()));
    }
    for (int id : node.outputs) {
      if (id == ir::kNoValue) {
        np->add_output("");
        continue;
      }
      TIFFIN_RETURN_IF_ERROR(define(id, who));
      np->add_output(names[static_cast<size_t>(id)]);
    }
  }

  std::set<int> listed(g.inputs.begin(), g.inputs.end());
  for (int id : g.outputs) {
    TIFFIN_RETURN_IF_ERROR(check_read(id, "a graph output"));
    FillValueInfo(g.values[static_cast<size_t>(id)].info, names[static_cast<size_t>(id)],
                  gp->add_output());
    listed.insert(id);
  }
  // Declared types of intermediate values, for readers that want them
  // without inference; the loader ignores value_info, importers may set it.
  for (size_t id = 0; id < n_values; ++id) {
    const TensorInfo& info = g.values[id].info;
    const int value_id = static_cast<int>(id);
    if (!is_defined[id] || listed.count(value_id) || g.constants.count(value_id)) continue;
    if (info.dtype == DType::kUndefined && !info.has_shape) continue;
    FillValueInfo(info, names[id], gp->add_value_info());
  }
  return Status::Ok();
}

Result<std::string> SerializeOnnxImpl(const ir::Graph& graph, const OnnxWriteOptions& options) {
  std::set<std::string> taken_values, taken_nodes;
  TIFFIN_RETURN_IF_ERROR(CollectNames(graph, 0, &taken_values, &taken_nodes));
  std::map<std::string, int64_t> opsets;
  if (options.opsets.empty()) {
    TIFFIN_RETURN_IF_ERROR(DeriveOpsets(graph, &opsets));
    if (opsets.empty()) opsets[""] = kOpsetWithoutNodes;
  } else {
    for (const auto& [domain, version] : options.opsets) {
      if (version < 1) {
        return InvalidArgument("OnnxWriteOptions::opsets: domain '" +
                               (domain.empty() ? std::string("ai.onnx") : domain) +
                               "' has version " + std::to_string(version) + ", expected >= 1");
      }
      opsets[CanonicalDomain(domain)] = version;
    }
  }
  if (options.ir_version < 0) {
    return InvalidArgument("OnnxWriteOptions::ir_version is " + std::to_string(options.ir_version) +
                           ", expected 0 (pick from the opsets) or a version");
  }

  Writer writer(opsets, std::move(taken_values), std::move(taken_nodes));

  onnx::ModelProto mp;
  mp.set_ir_version(options.ir_version > 0 ? options.ir_version : IrVersionFor(opsets));
  for (const auto& [domain, version] : opsets) {
    auto* os = mp.add_opset_import();
    os->set_domain(domain);
    os->set_version(version);
  }
  mp.set_producer_name(options.producer_name);
  if (!options.producer_version.empty()) mp.set_producer_version(options.producer_version);
  if (!options.doc_string.empty()) mp.set_doc_string(options.doc_string);
  for (const auto& [key, value] : options.metadata) {
    auto* kv = mp.add_metadata_props();
    kv->set_key(key);
    kv->set_value(value);
  }
  const std::string name = !options.graph_name.empty() ? options.graph_name
                           : !graph.name.empty()       ? graph.name
                                                       : kDefaultGraphName;
  TIFFIN_RETURN_IF_ERROR(writer.WriteGraph(graph, name, nullptr, mp.mutable_graph()));

  const size_t size = mp.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX)) {
    return ResourceExhausted("model is " + std::to_string(size) +
                             " bytes, over protobuf's 2 GiB limit (tiffin does not write external "
                             "data)");
  }
  std::string out;
  if (!mp.SerializeToString(&out)) return Internal("protobuf could not serialize the model");
  return out;
}

}  // namespace

Result<std::string> SerializeOnnx(const ir::Graph& graph, const OnnxWriteOptions& options) {
  // Protobuf reports errors as values; only an allocation failure can throw,
  // and it must not escape the library.
  try {
    return SerializeOnnxImpl(graph, options);
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory while writing the model");
  } catch (const std::exception& e) {
    return Internal(std::string("unexpected exception while writing the model: ") + e.what());
  }
}

namespace {

Status WriteBytes(const std::string& bytes, const std::string& path) {
  // Write beside the target and rename, so that a failure never leaves a
  // truncated model under the final name.
  const std::string tmp = path + ".tmp";
  std::error_code ec;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return NotFound("cannot create '" + tmp + "': " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return ResourceExhausted("could not write " + std::to_string(bytes.size()) + " bytes to '" +
                               tmp + "' (disk full?)");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    return NotFound("cannot replace '" + path + "': " + why);
  }
  return Status::Ok();
}

}  // namespace

Status WriteOnnxFile(const ir::Graph& graph, const OnnxWriteOptions& options,
                     const std::string& path) {
  TIFFIN_ASSIGN_OR_RETURN(std::string bytes, SerializeOnnx(graph, options));
  try {
    return WriteBytes(bytes, path);
  } catch (const std::exception& e) {
    return Internal("unexpected exception while writing '" + path + "': " + e.what());
  }
}

}  // namespace tiffin::onnx_import
