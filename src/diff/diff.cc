#include "diff/diff.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "core/json.h"
#include "importers/onnx/onnx_loader.h"
#include "importers/onnx/tensor_proto.h"
#include "importers/sklearn/sklearn.h"
#include "importers/torch/torch_archive.h"

namespace tiffin::diff {
namespace {

bool IsActivation(const std::string& op) {
  static const std::set<std::string> kActs = {
      "Relu",     "LeakyRelu",  "PRelu",     "Elu",         "Selu",
      "Celu",     "Gelu",       "Sigmoid",   "HardSigmoid", "Tanh",
      "Softplus", "Softsign",   "HardSwish", "Mish",        "ThresholdedRelu",
      "Softmax",  "LogSoftmax", "Erf",       "Swish"};
  return kActs.count(op) != 0;
}

std::string OpKey(const ir::Node& n) {
  return n.domain.empty() ? n.op_type : n.domain + ":" + n.op_type;
}

std::string NodeName(const ir::Node& n, size_t index) {
  return (n.name.empty() ? "#" + std::to_string(index) : "'" + n.name + "'") + " (" + n.op_type +
         ")";
}

std::string InfoText(const TensorInfo& t) {
  return std::string(DTypeName(t.dtype)) + " " + (t.has_shape ? DimsToString(t.shape) : "[?]");
}

std::string AttrText(const ir::Attribute& a) {
  auto list = [](const auto& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size() && i < 8; ++i) {
      if (i) s += ",";
      if constexpr (std::is_same_v<std::decay_t<decltype(v[0])>, std::string>) {
        s += v[i];
      } else {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v[i]));
        s += buf;
      }
    }
    if (v.size() > 8) s += ",... (" + std::to_string(v.size()) + ")";
    return s + "]";
  };
  char buf[32];
  switch (a.kind) {
    case ir::Attribute::Kind::kFloat:
      std::snprintf(buf, sizeof buf, "%g", a.f);
      return buf;
    case ir::Attribute::Kind::kInt:
      return std::to_string(a.i);
    case ir::Attribute::Kind::kString:
      return "'" + a.s + "'";
    case ir::Attribute::Kind::kFloats:
      return list(a.floats);
    case ir::Attribute::Kind::kInts:
      return list(a.ints);
    case ir::Attribute::Kind::kStrings:
      return list(a.strings);
    case ir::Attribute::Kind::kTensor:
      return "tensor " + std::string(DTypeName(a.t.dtype())) + " " + ShapeToString(a.t.shape());
    case ir::Attribute::Kind::kGraph:
      return "graph (" + std::to_string(a.g ? a.g->nodes.size() : 0) + " nodes)";
    case ir::Attribute::Kind::kTensors:
      return std::to_string(a.tensors.size()) + " tensors";
  }
  return "?";
}

bool SameAttr(const ir::Attribute& x, const ir::Attribute& y) {
  if (x.kind != y.kind) return false;
  switch (x.kind) {
    case ir::Attribute::Kind::kFloat:
      return x.f == y.f || (std::isnan(x.f) && std::isnan(y.f));
    case ir::Attribute::Kind::kInt:
      return x.i == y.i;
    case ir::Attribute::Kind::kString:
      return x.s == y.s;
    case ir::Attribute::Kind::kFloats:
      return x.floats == y.floats;
    case ir::Attribute::Kind::kInts:
      return x.ints == y.ints;
    case ir::Attribute::Kind::kStrings:
      return x.strings == y.strings;
    case ir::Attribute::Kind::kTensor:
      return x.t.shape() == y.t.shape() && x.t.dtype() == y.t.dtype();
    default:
      return true;  // subgraphs: compared by structure elsewhere
  }
}

// A parameter: an initializer, or a tensor attribute of a node (tree
// ensembles and Constant nodes keep their numbers there).
struct Param {
  std::string name;
  Tensor t;
};

// Scalars and small integer tensors (axes, shapes, indices) are structure,
// not learned parameters.
bool IsLearned(const Tensor& t) {
  if (t.rank() == 0 || t.size() <= 1) return false;
  return !(IsInteger(t.dtype()) && t.size() <= 8);
}

std::vector<Param> Params(const ir::Graph& g) {
  std::vector<Param> out;
  std::map<int, Tensor> sorted(g.constants.begin(), g.constants.end());
  for (const auto& [id, t] : sorted)
    if (IsLearned(t)) out.push_back({g.values[static_cast<size_t>(id)].name, t});
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& n = g.nodes[i];
    for (const auto& [key, a] : n.attributes) {
      if (a.kind == ir::Attribute::Kind::kTensor && a.t.size() > 1)
        out.push_back(
            {(n.name.empty() ? n.op_type + "#" + std::to_string(i) : n.name) + "." + key, a.t});
    }
  }
  return out;
}

// Largest |a - b| over elements (NaN when not comparable numbers).
double MaxAbsDiff(const Tensor& a, const Tensor& b) {
  if (a.dtype() == DType::kString || b.dtype() == DType::kString) {
    for (int64_t i = 0; i < a.size(); ++i)
      if (a.data<std::string>()[i] != b.data<std::string>()[i])
        return std::numeric_limits<double>::infinity();
    return 0;
  }
  double worst = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const double x = ElementAsDouble(a, i), y = ElementAsDouble(b, i);
    if (std::isnan(x) && std::isnan(y)) continue;
    worst = std::max(worst, std::abs(x - y));
    if (std::isnan(x) != std::isnan(y)) worst = std::numeric_limits<double>::infinity();
  }
  return worst;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string Count(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

void Add(DiffResult* r, const char* section, bool changed, std::string text) {
  r->lines.push_back({section, changed, std::move(text)});
  if (changed) r->identical = false;
}

void CompareProvenance(const GraphView& a, const GraphView& b, DiffResult* r) {
  auto who = [](const ModelInfo& i) {
    std::string s = i.format;
    if (!i.producer_name.empty()) s += ", written by " + i.producer_name + " " + i.producer_version;
    return s;
  };
  const std::string wa = who(a.info), wb = who(b.info);
  if (wa != wb) {
    Add(r, "provenance", true, wa + "  ->  " + wb);
  } else {
    Add(r, "provenance", false, wa);
  }
  std::set<std::string> domains;
  for (const auto& [d, v] : a.info.opsets) domains.insert(d);
  for (const auto& [d, v] : b.info.opsets) domains.insert(d);
  for (const auto& d : domains) {
    auto ia = a.info.opsets.find(d), ib = b.info.opsets.find(d);
    const std::string name = d.empty() ? "ai.onnx" : d;
    if (ia == a.info.opsets.end() || ib == b.info.opsets.end() || ia->second != ib->second) {
      Add(r, "provenance", true,
          "opset " + name + ": " +
              (ia == a.info.opsets.end() ? "none" : std::to_string(ia->second)) + "  ->  " +
              (ib == b.info.opsets.end() ? "none" : std::to_string(ib->second)));
    }
  }
  for (const char* key : {"estimator", "steps", "pickle_protocol", "container"}) {
    auto ia = a.info.metadata.find(key), ib = b.info.metadata.find(key);
    if (ia == a.info.metadata.end() && ib == b.info.metadata.end()) continue;
    const std::string va = ia == a.info.metadata.end() ? "(none)" : ia->second;
    const std::string vb = ib == b.info.metadata.end() ? "(none)" : ib->second;
    if (va != vb) Add(r, "provenance", true, std::string(key) + ": " + va + "  ->  " + vb);
  }
}

void CompareSchema(const char* section, const std::vector<TensorInfo>& a,
                   const std::vector<TensorInfo>& b, DiffResult* r) {
  bool any = false;
  for (const auto& x : a) {
    auto it =
        std::find_if(b.begin(), b.end(), [&](const TensorInfo& y) { return y.name == x.name; });
    if (it == b.end()) {
      Add(r, section, true, "'" + x.name + "' (" + InfoText(x) + ") removed");
      any = true;
    } else if (InfoText(x) != InfoText(*it)) {
      Add(r, section, true, "'" + x.name + "': " + InfoText(x) + "  ->  " + InfoText(*it));
      any = true;
    }
  }
  for (const auto& y : b) {
    if (std::none_of(a.begin(), a.end(), [&](const TensorInfo& x) { return x.name == y.name; })) {
      Add(r, section, true, "'" + y.name + "' (" + InfoText(y) + ") added");
      any = true;
    }
  }
  if (!any) {
    std::string s;
    for (const auto& x : a) s += (s.empty() ? "" : ", ") + x.name + " " + InfoText(x);
    Add(r, section, false, s.empty() ? "(none)" : s);
  }
}

void CompareStructure(const ir::Graph& ga, const ir::Graph& gb, DiffResult* r) {
  const size_t n = ga.nodes.size(), m = gb.nodes.size();
  if (n > 4000 || m > 4000) {
    std::map<std::string, int64_t> ca, cb;
    for (const auto& x : ga.nodes) ++ca[OpKey(x)];
    for (const auto& y : gb.nodes) ++cb[OpKey(y)];
    if (ca == cb) {
      Add(r, "structure", false,
          std::to_string(n) + " nodes, same operator counts (too large to align)");
    } else {
      for (const auto& [op, c] : ca)
        if (cb[op] != c)
          Add(r, "structure", true,
              op + ": " + std::to_string(c) + " -> " + std::to_string(cb[op]) + " nodes");
      for (const auto& [op, c] : cb)
        if (!ca.count(op)) Add(r, "structure", true, op + ": 0 -> " + std::to_string(c) + " nodes");
    }
    return;
  }
  // Longest common subsequence of the op sequences.
  std::vector<std::vector<uint16_t>> L(n + 1, std::vector<uint16_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      L[i][j] = OpKey(ga.nodes[i]) == OpKey(gb.nodes[j])
                    ? static_cast<uint16_t>(L[i + 1][j + 1] + 1)
                    : std::max(L[i + 1][j], L[i][j + 1]);
  size_t i = 0, j = 0, changes = 0;
  std::vector<size_t> del, ins;
  auto flush = [&]() {
    const size_t k = std::min(del.size(), ins.size());
    for (size_t t = 0; t < k; ++t) {
      const auto& x = ga.nodes[del[t]];
      const auto& y = gb.nodes[ins[t]];
      const bool act = IsActivation(x.op_type) && IsActivation(y.op_type);
      std::string where = "node " + NodeName(x, del[t]);
      if (del[t] > 0) where += " after " + NodeName(ga.nodes[del[t] - 1], del[t] - 1);
      Add(r, "structure", true,
          std::string(act ? "activation changed: " : "operator changed: ") + x.op_type + "  ->  " +
              y.op_type + " at " + where);
      ++changes;
    }
    for (size_t t = k; t < del.size(); ++t) {
      Add(r, "structure", true, "node " + NodeName(ga.nodes[del[t]], del[t]) + " removed");
      ++changes;
    }
    for (size_t t = k; t < ins.size(); ++t) {
      Add(r, "structure", true, "node " + NodeName(gb.nodes[ins[t]], ins[t]) + " added");
      ++changes;
    }
    del.clear();
    ins.clear();
  };
  while (i < n || j < m) {
    if (i < n && j < m && OpKey(ga.nodes[i]) == OpKey(gb.nodes[j]) &&
        L[i][j] == L[i + 1][j + 1] + 1) {
      flush();
      const auto& x = ga.nodes[i];
      const auto& y = gb.nodes[j];
      std::set<std::string> keys;
      for (const auto& [k, v] : x.attributes) keys.insert(k);
      for (const auto& [k, v] : y.attributes) keys.insert(k);
      for (const auto& k : keys) {
        auto ax = x.attributes.find(k), ay = y.attributes.find(k);
        if (ax != x.attributes.end() && ay != y.attributes.end() &&
            SameAttr(ax->second, ay->second))
          continue;
        Add(r, "structure", true,
            "node " + NodeName(x, i) + ": attribute " + k + " " +
                (ax == x.attributes.end() ? "(absent)" : AttrText(ax->second)) + "  ->  " +
                (ay == y.attributes.end() ? "(absent)" : AttrText(ay->second)));
        ++changes;
      }
      ++i;
      ++j;
    } else if (j < m && (i == n || L[i][j + 1] >= L[i + 1][j])) {
      ins.push_back(j++);
    } else {
      del.push_back(i++);
    }
  }
  flush();
  if (changes == 0) {
    std::map<std::string, int64_t> counts;
    for (const auto& x : ga.nodes) ++counts[x.op_type];
    std::string s;
    for (const auto& [op, c] : counts)
      s += (s.empty() ? "" : ", ") + op + (c > 1 ? " x" + std::to_string(c) : "");
    Add(r, "structure", false, std::to_string(n) + " nodes in the same order: " + s);
  }
}

void CompareParameters(const ir::Graph& ga, const ir::Graph& gb, DiffResult* r) {
  std::vector<Param> pa = Params(ga), pb = Params(gb);
  int64_t na = 0, nb = 0;
  for (const auto& p : pa) na += p.t.size();
  for (const auto& p : pb) nb += p.t.size();
  Add(r, "parameters", na != nb,
      Count(na) + " parameters in " + std::to_string(pa.size()) + " tensors" +
          (na != nb || pa.size() != pb.size()
               ? "  ->  " + Count(nb) + " in " + std::to_string(pb.size()) + " tensors"
               : " in both"));
  // Pair by name, then the rest in order.
  std::vector<bool> used(pb.size(), false);
  std::vector<std::pair<size_t, size_t>> pairs;
  std::vector<size_t> left;
  for (size_t x = 0; x < pa.size(); ++x) {
    size_t found = pb.size();
    for (size_t y = 0; y < pb.size(); ++y)
      if (!used[y] && pb[y].name == pa[x].name) {
        found = y;
        break;
      }
    if (found < pb.size()) {
      used[found] = true;
      pairs.push_back({x, found});
    } else {
      left.push_back(x);
    }
  }
  size_t y = 0;
  for (size_t x : left) {
    while (y < pb.size() && used[y]) ++y;
    if (y == pb.size()) {
      Add(r, "parameters", true,
          "'" + pa[x].name + "' " + ShapeToString(pa[x].t.shape()) + " has no counterpart");
      continue;
    }
    used[y] = true;
    pairs.push_back({x, y});
  }
  for (size_t t = 0; t < pb.size(); ++t)
    if (!used[t])
      Add(r, "parameters", true,
          "'" + pb[t].name + "' " + ShapeToString(pb[t].t.shape()) + " is new");
  int same = 0, compared = 0;
  struct Diffd {
    std::string text;
    double d;
  };
  std::vector<Diffd> diffs;
  for (const auto& [x, yy] : pairs) {
    const Param& p = pa[x];
    const Param& q = pb[yy];
    const std::string label =
        p.name == q.name ? "'" + p.name + "'" : "'" + p.name + "' / '" + q.name + "'";
    if (p.t.shape() != q.t.shape() ||
        (p.t.dtype() == DType::kString) != (q.t.dtype() == DType::kString)) {
      Add(r, "parameters", true,
          label + ": shape " + ShapeToString(p.t.shape()) + "  ->  " + ShapeToString(q.t.shape()));
      continue;
    }
    ++compared;
    const double d = MaxAbsDiff(p.t, q.t);
    if (d == 0) {
      ++same;
    } else {
      diffs.push_back({label + ": largest absolute difference " + Num(d), d});
    }
  }
  std::sort(diffs.begin(), diffs.end(), [](const Diffd& u, const Diffd& v) { return u.d > v.d; });
  for (size_t t = 0; t < diffs.size() && t < 10; ++t) Add(r, "parameters", true, diffs[t].text);
  if (diffs.size() > 10)
    Add(r, "parameters", true,
        "... and " + std::to_string(diffs.size() - 10) + " more tensors differ");
  if (compared > 0) {
    Add(r, "parameters", false,
        std::to_string(same) + " of " + std::to_string(compared) +
            " tensors with equal shapes are identical");
  }
}

void ComparePreprocessing(const ModelInfo& a, const ModelInfo& b, DiffResult* r) {
  // The estimator structure the importer recorded (scikit-learn:
  // "Pipeline(StandardScaler, LogisticRegression)"): a step added, removed or
  // swapped shows as one line, before the statistics it explains.
  auto sa = a.metadata.find("structure"), sb = b.metadata.find("structure");
  if (sa != a.metadata.end() && sb != b.metadata.end()) {
    if (sa->second != sb->second) {
      Add(r, "preprocessing", true, "steps: " + sa->second + "  ->  " + sb->second);
    } else {
      Add(r, "preprocessing", false, "same steps: " + sa->second);
    }
  }
  if (a.training_stats.empty() && b.training_stats.empty()) return;
  if (a.training_stats.empty() != b.training_stats.empty()) {
    Add(r, "preprocessing", true,
        std::string("training statistics: ") + (a.training_stats.empty() ? "none" : "present") +
            "  ->  " + (b.training_stats.empty() ? "none" : "present") +
            " (one model carries what its preprocessing knows, the other does not)");
    return;
  }
  std::map<std::string, const FeatureStats*> mb;
  for (const auto& f : b.training_stats) mb[f.name] = &f;
  bool any = false;
  auto field = [&](const std::string& name, const char* what, double x, double y) {
    if ((std::isnan(x) && std::isnan(y)) || x == y) return;
    Add(r, "preprocessing", true,
        "feature '" + name + "' " + what + ": " + Num(x) + "  ->  " + Num(y));
    any = true;
  };
  for (const auto& f : a.training_stats) {
    auto it = mb.find(f.name);
    if (it == mb.end()) {
      if (!f.source.empty()) {
        Add(r, "preprocessing", true,
            "feature '" + f.name + "': " + f.source + "  ->  nothing known");
        any = true;
      }
      continue;
    }
    const FeatureStats& g = *it->second;
    if (f.source != g.source) {
      Add(r, "preprocessing", true,
          "feature '" + f.name + "': " + (f.source.empty() ? "nothing known" : f.source) +
              "  ->  " + (g.source.empty() ? "nothing known" : g.source));
      any = true;
      continue;
    }
    field(f.name, "min", f.min, g.min);
    field(f.name, "max", f.max, g.max);
    field(f.name, "mean", f.mean, g.mean);
    field(f.name, "std", f.std, g.std);
    if (f.categories != g.categories) {
      Add(r, "preprocessing", true,
          "feature '" + f.name + "': categories differ (" + std::to_string(f.categories.size()) +
              "  ->  " + std::to_string(g.categories.size()) + ")");
      any = true;
    }
  }
  if (!any)
    Add(r, "preprocessing", false,
        "same training statistics for " + std::to_string(a.training_stats.size()) + " features");
}

}  // namespace

Result<GraphView> ReadGraph(const std::string& path, const LoadOptions& options) {
  TIFFIN_ASSIGN_OR_RETURN(const std::string format, DetectFileFormat(path));
  GraphView v;
  v.path = path;
  if (format == "torch-legacy" || (format == "zip" && torch_import::DetectTorchFile(path) ==
                                                          torch_import::TorchFileKind::kSave)) {
    // Tensors without a graph: compared by diff/state_dict_diff.h.
    return InvalidArgument(path +
                           ": a PyTorch torch.save file holds tensors, not a graph; 'tiffin "
                           "diff' compares it by parameter names and shapes");
  }
  if (IsPickleFormat(format) && !IsGradientBoostingFile(path)) {
    TIFFIN_ASSIGN_OR_RETURN(sklearn::ImportedGraph g, sklearn::ImportSklearnFile(path, options));
    v.graph = g.graph;
    v.inputs = g.inputs;
    v.outputs = g.outputs;
    v.info = g.info;
    return v;
  }
  // Everything else: as ONNX (other formats through ConvertToOnnx, so the
  // diff sees exactly the graph tiffin runs).
  std::string onnx_path = path;
  std::filesystem::path tmp;
  if (format != "onnx") {
    tmp = std::filesystem::temp_directory_path() /
          ("tiffin_diff_" + std::to_string(std::hash<std::string>{}(path)) + ".onnx");
    TIFFIN_RETURN_IF_ERROR(ConvertToOnnx(path, tmp.string(), options));
    onnx_path = tmp.string();
  }
  auto bytes = onnx_import::ReadFileBytes(onnx_path, options.max_file_bytes);
  std::error_code ec;
  if (!tmp.empty()) std::filesystem::remove(tmp, ec);
  if (!bytes.ok()) return bytes.status();
  const std::string dir = std::filesystem::path(path).parent_path().string();
  TIFFIN_ASSIGN_OR_RETURN(onnx_import::ParsedOnnx parsed,
                          onnx_import::ParseOnnxGraph(*bytes, dir.empty() ? "." : dir, options));
  v.graph = parsed.graph;
  v.info = parsed.info;
  if (format != "onnx") {
    // Keep the source's own description (the converted file says "onnx").
    auto model = LoadModel(path, options);
    if (model.ok()) v.info = (*model)->info();
  }
  for (int id : parsed.graph->inputs)
    v.inputs.push_back(parsed.graph->values[static_cast<size_t>(id)].info);
  for (int id : parsed.graph->outputs)
    v.outputs.push_back(parsed.graph->values[static_cast<size_t>(id)].info);
  return v;
}

DiffResult Compare(const GraphView& a, const GraphView& b) {
  DiffResult r;
  CompareProvenance(a, b, &r);
  CompareSchema("inputs", a.inputs, b.inputs, &r);
  CompareSchema("outputs", a.outputs, b.outputs, &r);
  CompareStructure(*a.graph, *b.graph, &r);
  CompareParameters(*a.graph, *b.graph, &r);
  ComparePreprocessing(a.info, b.info, &r);
  return r;
}

std::string ToText(const DiffResult& r) {
  std::string s;
  for (const auto& l : r.lines) {
    char head[40];
    std::snprintf(head, sizeof head, "%-14s %-8s ", l.section.c_str(),
                  l.changed ? "CHANGED" : "same");
    s += head + l.text + "\n";
  }
  s += r.identical ? "the models are the same\n" : "the models differ\n";
  return s;
}

std::string ToJson(const DiffResult& r, const GraphView& a, const GraphView& b) {
  std::string s = "{\"a\":" + JsonQuote(a.path) + ",\"b\":" + JsonQuote(b.path) +
                  ",\"identical\":" + (r.identical ? "true" : "false") + ",\"lines\":[";
  for (size_t i = 0; i < r.lines.size(); ++i) {
    const auto& l = r.lines[i];
    s += std::string(i ? "," : "") + "{\"section\":" + JsonQuote(l.section) +
         ",\"changed\":" + (l.changed ? "true" : "false") + ",\"text\":" + JsonQuote(l.text) + "}";
  }
  return s + "]}";
}

}  // namespace tiffin::diff
