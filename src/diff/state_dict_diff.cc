#include "diff/state_dict_diff.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "core/json.h"
#include "importers/torch/torch_archive.h"

namespace tiffin::diff {
namespace {

// "", and every prefix of `names` ending at a dot, up to two components
// ("model.", "model.module.").
std::set<std::string> CandidatePrefixes(const std::vector<std::pair<std::string, Tensor>>& ts) {
  std::set<std::string> out = {""};
  for (const auto& [name, t] : ts) {
    size_t dot = name.find('.');
    if (dot == std::string::npos) continue;
    out.insert(name.substr(0, dot + 1));
    size_t dot2 = name.find('.', dot + 1);
    if (dot2 != std::string::npos) out.insert(name.substr(0, dot2 + 1));
    if (out.size() > 256) break;
  }
  return out;
}

std::map<std::string, const Tensor*> UnderPrefix(const NamedParams& p, const std::string& prefix) {
  std::map<std::string, const Tensor*> m;
  for (const auto& [name, t] : p.tensors) {
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0)
      m.emplace(name.substr(prefix.size()), &t);
  }
  return m;
}

void Add(DiffResult* r, const char* section, bool changed, std::string text) {
  r->lines.push_back({section, changed, std::move(text)});
  if (changed) r->identical = false;
}

std::string Num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

}  // namespace

bool IsTorchFile(const std::string& path) {
  const auto kind = torch_import::DetectTorchFile(path);
  return kind == torch_import::TorchFileKind::kSave || kind == torch_import::TorchFileKind::kLegacy;
}

Result<NamedParams> ReadNamedParams(const std::string& path, const LoadOptions& options) {
  NamedParams p;
  p.path = path;
  if (torch_import::DetectTorchFile(path) == torch_import::TorchFileKind::kTorchScript) {
    // A TorchScript module's attributes: its state_dict, named as torch does.
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    torch_import::TorchReadOptions o;
    o.max_file_bytes = options.max_file_bytes;
    o.max_tensor_bytes = options.max_tensor_bytes;
    auto a = torch_import::ReadTorchScriptState(bytes, o);
    if (!a.ok()) return a.status().WithContext(path);
    p.kind = "PyTorch TorchScript archive";
    for (auto& t : a->tensors) p.tensors.emplace_back(t.name, t.tensor);
    return p;
  }
  if (IsTorchFile(path)) {
    torch_import::TorchReadOptions o;
    o.max_file_bytes = options.max_file_bytes;
    o.max_tensor_bytes = options.max_tensor_bytes;
    TIFFIN_ASSIGN_OR_RETURN(torch_import::TorchArchive a, torch_import::ReadTorchFile(path, o));
    p.kind = "PyTorch " + a.format;
    for (auto& t : a.tensors) p.tensors.emplace_back(t.name, t.tensor);
    return p;
  }
  TIFFIN_ASSIGN_OR_RETURN(GraphView g, ReadGraph(path, options));
  p.kind = g.info.format + " initializers";
  for (const auto& [id, t] : g.graph->constants)
    p.tensors.emplace_back(g.graph->values[static_cast<size_t>(id)].name, t);
  return p;
}

StateDictDiff CompareStateDicts(const NamedParams& a, const NamedParams& b) {
  StateDictDiff d;
  // The prefixes that line up the most names (ties: the shortest).
  size_t best = 0;
  for (const auto& pa : CandidatePrefixes(a.tensors)) {
    auto ma = UnderPrefix(a, pa);
    for (const auto& pb : CandidatePrefixes(b.tensors)) {
      // Strip one side only: "model." of a checkpoint, not "fc1." against
      // "0." (that would pair unrelated layers' weights).
      if (!pa.empty() && !pb.empty()) continue;
      auto mb = UnderPrefix(b, pb);
      size_t n = 0;
      for (const auto& [k, t] : ma) n += mb.count(k);
      if (n > best ||
          (n == best && n > 0 && pa.size() + pb.size() < d.prefix_a.size() + d.prefix_b.size())) {
        best = n;
        d.prefix_a = pa;
        d.prefix_b = pb;
      }
    }
  }
  DiffResult& r = d.result;
  auto ma = UnderPrefix(a, d.prefix_a);
  auto mb = UnderPrefix(b, d.prefix_b);
  const bool b_is_torch = b.kind.rfind("PyTorch", 0) == 0;
  Add(&r, "keys", false,
      "A: " + a.path + " (" + a.kind + ", " + std::to_string(a.tensors.size()) + " tensors" +
          (d.prefix_a.empty() ? "" : ", comparing those under '" + d.prefix_a + "'") + ")");
  Add(&r, "keys", false,
      "B: " + b.path + " (" + b.kind + ", " + std::to_string(b.tensors.size()) + " tensors" +
          (d.prefix_b.empty() ? "" : ", comparing those under '" + d.prefix_b + "'") + ")");
  size_t renamed = 0;
  for (const auto& [k, t] : mb) {
    if (ma.count(k)) continue;
    // Constants an ONNX exporter made up (folded or transposed weights).
    if (!b_is_torch && k.find("::") != std::string::npos) {
      ++renamed;
      continue;
    }
    d.missing.push_back(k);
    Add(&r, "keys", true,
        "missing key " + k + " " + ShapeToString(t->shape()) + ": B has it, A does not");
  }
  for (const auto& [k, t] : ma) {
    if (mb.count(k)) continue;
    d.unexpected.push_back(k);
    Add(&r, "keys", true,
        "unexpected key " + k + " " + ShapeToString(t->shape()) + ": A has it, B does not");
  }
  if (renamed > 0) {
    Add(&r, "keys", false,
        "B has " + std::to_string(renamed) +
            " constants its exporter named itself (onnx::...): folded or rearranged parameters, "
            "not compared");
  }
  size_t same = 0, equal_shape = 0;
  for (const auto& [k, ta] : ma) {
    auto it = mb.find(k);
    if (it == mb.end()) continue;
    const Tensor& tb = *it->second;
    if (ta->shape() != tb.shape()) {
      d.size_mismatch.push_back({k, ta->shape(), tb.shape()});
      Add(&r, "shapes", true,
          "size mismatch for " + k + ": " + ShapeToString(ta->shape()) + " in A, " +
              ShapeToString(tb.shape()) + " in B");
      continue;
    }
    ++equal_shape;
    if (ta->dtype() != tb.dtype()) {
      Add(&r, "values", true,
          "dtype of " + k + ": " + std::string(DTypeName(ta->dtype())) + " in A, " +
              std::string(DTypeName(tb.dtype())) + " in B");
    }
    double max_diff = 0;
    bool nan_mismatch = false;
    for (int64_t i = 0; i < ta->size(); ++i) {
      const double x = ElementAsDouble(*ta, i), y = ElementAsDouble(tb, i);
      if (std::isnan(x) || std::isnan(y)) {
        nan_mismatch |= std::isnan(x) != std::isnan(y);
        continue;
      }
      max_diff = std::max(max_diff, std::fabs(x - y));
    }
    if (max_diff == 0 && !nan_mismatch) {
      ++same;
    } else {
      Add(&r, "values", true,
          "values of " + k + " differ: largest |A-B| = " + Num(max_diff) +
              (nan_mismatch ? " (and NaNs differ)" : ""));
    }
  }
  Add(&r, "values", false,
      std::to_string(same) + " of " + std::to_string(equal_shape) +
          " tensors with equal names and shapes are identical");
  if (!d.missing.empty() || !d.unexpected.empty() || !d.size_mismatch.empty()) {
    Add(&r, "keys", false,
        "load_state_dict(A) into B would fail (strict=True): " + std::to_string(d.missing.size()) +
            " missing, " + std::to_string(d.unexpected.size()) + " unexpected, " +
            std::to_string(d.size_mismatch.size()) + " size mismatches");
  }
  return d;
}

std::string StateDictDiffJson(const StateDictDiff& d, const NamedParams& a, const NamedParams& b) {
  auto list = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + JsonQuote(v[i]);
    return s + "]";
  };
  std::string s = "{\"a\":" + JsonQuote(a.path) + ",\"b\":" + JsonQuote(b.path) +
                  ",\"kind_a\":" + JsonQuote(a.kind) + ",\"kind_b\":" + JsonQuote(b.kind) +
                  ",\"prefix_a\":" + JsonQuote(d.prefix_a) +
                  ",\"prefix_b\":" + JsonQuote(d.prefix_b) +
                  ",\"identical\":" + (d.result.identical ? "true" : "false") +
                  ",\"missing\":" + list(d.missing) + ",\"unexpected\":" + list(d.unexpected) +
                  ",\"size_mismatch\":[";
  for (size_t i = 0; i < d.size_mismatch.size(); ++i) {
    const auto& m = d.size_mismatch[i];
    s += std::string(i ? "," : "") + "{\"name\":" + JsonQuote(m.name) +
         ",\"a\":" + ShapeToString(m.a) + ",\"b\":" + ShapeToString(m.b) + "}";
  }
  s += "],\"lines\":[";
  for (size_t i = 0; i < d.result.lines.size(); ++i) {
    const auto& l = d.result.lines[i];
    s += std::string(i ? "," : "") + "{\"section\":" + JsonQuote(l.section) +
         ",\"changed\":" + (l.changed ? "true" : "false") + ",\"text\":" + JsonQuote(l.text) + "}";
  }
  return s + "]}";
}

}  // namespace tiffin::diff
