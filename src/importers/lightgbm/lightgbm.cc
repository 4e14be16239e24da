#include "importers/lightgbm/lightgbm.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

namespace tiffin::lightgbm {

namespace {

using gbdt::GbdtModel;
using gbdt::Mode;
using gbdt::Node;
using gbdt::Transform;
using gbdt::Tree;

constexpr int64_t kMaxLeaves = int64_t{1} << 24;
constexpr int64_t kMaxTrees = 10000000;
constexpr int64_t kMaxFeatures = 10000000;
constexpr size_t kMaxCategoriesPerSplit = size_t{1} << 20;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    if (j == std::string_view::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

using Block = std::map<std::string, std::string, std::less<>>;

Result<std::vector<double>> Doubles(const Block& b, const std::string& key, size_t n,
                                    const std::string& where, bool required = true) {
  auto it = b.find(key);
  if (it == b.end()) {
    if (!required) return std::vector<double>{};
    return InvalidArgument(where + " has no '" + key + "' line");
  }
  std::vector<double> out;
  for (std::string_view tok : Split(it->second, ' ')) {
    std::string t(tok);
    char* end = nullptr;
    double d = std::strtod(t.c_str(), &end);
    if (end == t.c_str() || *end != '\0')
      return InvalidArgument(where + ": '" + key + "' has a non-number '" + t + "'");
    out.push_back(d);
  }
  if (n != 0 && out.size() != n)
    return InvalidArgument(where + ": '" + key + "' has " + std::to_string(out.size()) +
                           " values, expected " + std::to_string(n));
  return out;
}

Result<int64_t> Integer(const Block& b, const std::string& key, const std::string& where,
                        int64_t lo, int64_t hi) {
  TIFFIN_ASSIGN_OR_RETURN(auto v, Doubles(b, key, 1, where));
  if (v[0] != std::floor(v[0]) || v[0] < static_cast<double>(lo) || v[0] > static_cast<double>(hi))
    return InvalidArgument(where + ": " + key + " must be an integer in [" + std::to_string(lo) +
                           ", " + std::to_string(hi) + "]");
  return static_cast<int64_t>(v[0]);
}

Result<Tree> ReadTree(const Block& b, const std::string& where, int64_t n_features) {
  TIFFIN_ASSIGN_OR_RETURN(int64_t leaves, Integer(b, "num_leaves", where, 1, kMaxLeaves));
  TIFFIN_ASSIGN_OR_RETURN(auto leaf_value,
                          Doubles(b, "leaf_value", static_cast<size_t>(leaves), where));
  if (auto it = b.find("is_linear"); it != b.end() && it->second != "0")
    return NotSupported(where +
                        " is a linear tree (is_linear=1): leaf outputs are linear "
                        "models, which ONNX tree ensembles cannot express; retrain "
                        "with linear_tree=false");
  Tree t;
  if (leaves == 1) {
    t.nodes.push_back(Node{});
    t.nodes[0].is_leaf = true;
    t.nodes[0].value = leaf_value[0];
    return t;
  }
  const size_t m = static_cast<size_t>(leaves - 1);
  TIFFIN_ASSIGN_OR_RETURN(auto feature, Doubles(b, "split_feature", m, where));
  TIFFIN_ASSIGN_OR_RETURN(auto threshold, Doubles(b, "threshold", m, where));
  TIFFIN_ASSIGN_OR_RETURN(auto dtype, Doubles(b, "decision_type", m, where, false));
  if (dtype.empty()) dtype.assign(m, 0);  // old v2 files: numerical, NaN read as 0
  TIFFIN_ASSIGN_OR_RETURN(auto left, Doubles(b, "left_child", m, where));
  TIFFIN_ASSIGN_OR_RETURN(auto right, Doubles(b, "right_child", m, where));
  int64_t num_cat = 0;
  if (b.count("num_cat")) {
    TIFFIN_ASSIGN_OR_RETURN(num_cat, Integer(b, "num_cat", where, 0, leaves));
  }
  std::vector<double> cat_bounds, cat_words;
  if (num_cat > 0) {
    TIFFIN_ASSIGN_OR_RETURN(cat_bounds,
                            Doubles(b, "cat_boundaries", static_cast<size_t>(num_cat + 1), where));
    TIFFIN_ASSIGN_OR_RETURN(cat_words, Doubles(b, "cat_threshold", 0, where));
  }
  // Interior node i is nodes[i]; leaf j is nodes[m + j]. Zero-missing
  // splits get an extra EQ-0 node appended after them.
  t.nodes.resize(m + static_cast<size_t>(leaves));
  for (int64_t j = 0; j < leaves; ++j) {
    Node& nd = t.nodes[m + static_cast<size_t>(j)];
    nd.is_leaf = true;
    nd.value = leaf_value[static_cast<size_t>(j)];
  }
  auto child = [&](double c, size_t i, const char* side) -> Result<int64_t> {
    if (c != std::floor(c) || c >= static_cast<double>(m) || c < -static_cast<double>(leaves))
      return InvalidArgument(where + ": node " + std::to_string(i) + " has " + side + " child " +
                             std::to_string(c) + ", outside its " + std::to_string(m) +
                             " splits and " + std::to_string(leaves) + " leaves");
    const int64_t v = static_cast<int64_t>(c);
    return v >= 0 ? v : static_cast<int64_t>(m) + (~v);
  };
  std::vector<int64_t> redirect(m, -1);  // node -> the EQ-0 node standing in front of it
  for (size_t i = 0; i < m; ++i) {
    const double d = dtype[i];
    if (d < 0 || d > 127 || d != std::floor(d))
      return InvalidArgument(where + ": decision_type " + std::to_string(d) + " at node " +
                             std::to_string(i));
    const int dt = static_cast<int>(d);
    const bool categorical = (dt & 1) != 0;
    const bool default_left = (dt & 2) != 0;
    const int missing = (dt >> 2) & 3;
    if (feature[i] < 0 || feature[i] >= static_cast<double>(n_features))
      return InvalidArgument(where + ": node " + std::to_string(i) + " splits on feature " +
                             std::to_string(feature[i]) + ", but the model has " +
                             std::to_string(n_features) + " features");
    Node& nd = t.nodes[i];
    nd.feature = static_cast<int64_t>(feature[i]);
    TIFFIN_ASSIGN_OR_RETURN(int64_t l, child(left[i], i, "left"));
    TIFFIN_ASSIGN_OR_RETURN(int64_t r, child(right[i], i, "right"));
    nd.yes = l;
    nd.no = r;
    if (categorical) {
      const double ci = threshold[i];
      if (ci < 0 || ci >= static_cast<double>(num_cat) || ci != std::floor(ci))
        return InvalidArgument(where + ": categorical node " + std::to_string(i) +
                               " names bitset " + std::to_string(ci) + " of " +
                               std::to_string(num_cat));
      const size_t c = static_cast<size_t>(ci);
      const double lo = cat_bounds[c], hi = cat_bounds[c + 1];
      if (lo < 0 || hi < lo || hi > static_cast<double>(cat_words.size()))
        return InvalidArgument(where + ": cat_boundaries out of range at node " +
                               std::to_string(i));
      nd.mode = Mode::kMember;
      for (size_t w = static_cast<size_t>(lo); w < static_cast<size_t>(hi); ++w) {
        const double word = cat_words[w];
        if (word < 0 || word > 4294967295.0)
          return InvalidArgument(where + ": cat_threshold word out of range");
        const uint32_t bits = static_cast<uint32_t>(word);
        for (uint32_t k = 0; k < 32; ++k)
          if ((bits >> k) & 1)
            nd.set.push_back(static_cast<double>((w - static_cast<size_t>(lo)) * 32 + k));
        if (nd.set.size() > kMaxCategoriesPerSplit)
          return ResourceExhausted(where + ": too many categories in one split");
      }
      // Members go left; NaN, negatives and non-members go right.
      nd.missing_yes = false;
      continue;
    }
    nd.mode = Mode::kLeq;
    nd.split = threshold[i];
    if (missing == 2) {
      nd.missing_yes = default_left;  // NaN: the default child
    } else if (missing == 1) {
      // Zero: 0 (and NaN, read as 0) takes the default child.
      Node eq;
      eq.feature = nd.feature;
      eq.mode = Mode::kEq;
      eq.split = 0;
      eq.yes = default_left ? l : r;
      eq.no = static_cast<int64_t>(i);
      eq.missing_yes = true;
      redirect[i] = static_cast<int64_t>(t.nodes.size());
      t.nodes.push_back(eq);
    } else {
      nd.missing_yes = 0.0 <= threshold[i];  // None: NaN is compared as 0
    }
  }
  // Point parents (and the root) at the EQ-0 nodes in front of Zero splits.
  auto fix = [&](int64_t c) {
    return c >= 0 && c < static_cast<int64_t>(m) && redirect[static_cast<size_t>(c)] >= 0
               ? redirect[static_cast<size_t>(c)]
               : c;
  };
  for (size_t i = 0; i < m; ++i) {
    t.nodes[i].yes = fix(t.nodes[i].yes);
    t.nodes[i].no = fix(t.nodes[i].no);
  }
  for (size_t i = m + static_cast<size_t>(leaves); i < t.nodes.size(); ++i) {
    // EQ nodes: their `no` is the split they guard; `yes` a child to fix.
    t.nodes[i].yes = fix(t.nodes[i].yes);
  }
  t.root = fix(0);
  return t;
}

Status SetObjective(GbdtModel* m, const std::string& objective) {
  m->objective = objective;
  std::vector<std::string_view> parts = Split(objective, ' ');
  const std::string name = parts.empty() ? "" : std::string(parts[0]);
  double sigmoid = 1.0;
  bool sqrt = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].substr(0, 8) == "sigmoid:")
      sigmoid = std::strtod(std::string(parts[i].substr(8)).c_str(), nullptr);
    if (parts[i] == "sqrt") sqrt = true;
  }
  if (sqrt)
    return NotSupported("LightGBM objective '" + objective +
                        "' (reg_sqrt) is not supported; retrain without reg_sqrt");
  m->sigmoid_scale = sigmoid;
  if (name == "binary") {
    m->transform = Transform::kSigmoid;
    m->classifier = true;
  } else if (name == "multiclass" || name == "softmax") {
    m->transform = Transform::kSoftmax;
    m->classifier = true;
  } else if (name == "multiclassova" || name == "multiclass_ova" || name == "ova" ||
             name == "ovr") {
    m->transform = Transform::kSigmoidEach;
    m->classifier = true;
  } else if (name == "cross_entropy" || name == "xentropy") {
    m->transform = Transform::kSigmoid;
  } else if (name == "poisson" || name == "gamma" || name == "tweedie") {
    m->transform = Transform::kExp;
  } else if (name.empty() || name == "regression" || name == "regression_l2" ||
             name == "regression_l1" || name == "l1" || name == "l2" ||
             name == "mean_squared_error" || name == "mse" || name == "huber" || name == "fair" ||
             name == "quantile" || name == "mape" || name == "lambdarank" ||
             name == "rank_xendcg" || name == "custom") {
    m->transform = Transform::kIdentity;
    if (name.empty()) m->notes.push_back("no objective line: the raw score is the prediction");
  } else {
    return NotSupported("LightGBM objective '" + objective +
                        "' is not supported (binary, multiclass, multiclassova, regression and "
                        "its variants, cross_entropy, poisson, gamma, tweedie, lambdarank, "
                        "rank_xendcg are)");
  }
  return Status::Ok();
}

}  // namespace

Result<GbdtModel> ReadTextModel(std::string_view text) {
  // Header lines, then Tree=<i> blocks separated by blank lines, then
  // "end of trees" and sections tiffin does not need.
  Block header;
  std::vector<Block> trees;
  Block* cur = &header;
  bool first = true;
  size_t pos = 0;
  size_t line_no = 0;
  while (pos < text.size()) {
    size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) e = text.size();
    std::string_view line = text.substr(pos, e - pos);
    pos = e + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      if (line == "tree") continue;
    }
    if (line.empty()) continue;
    if (line == "end of trees" || line.substr(0, 19) == "feature importances" ||
        line.substr(0, 11) == "parameters:" || line.substr(0, 19) == "feature_importances")
      break;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      if (line == "average_output") {
        header["average_output"] = "1";
        continue;
      }
      return InvalidArgument("line " + std::to_string(line_no) + " is not key=value: '" +
                             std::string(line.substr(0, 60)) + "'");
    }
    const std::string key(line.substr(0, eq));
    if (key == "Tree") {
      if (static_cast<int64_t>(trees.size()) >= kMaxTrees)
        return ResourceExhausted("more than " + std::to_string(kMaxTrees) + " trees");
      trees.emplace_back();
      cur = &trees.back();
      continue;
    }
    (*cur)[key] = std::string(line.substr(eq + 1));
  }
  auto version = header.find("version");
  if (version == header.end() && header.empty())
    return InvalidArgument("not a LightGBM text model: no header lines");
  GbdtModel m;
  m.library = "lightgbm";
  m.library_version = version == header.end() ? "" : version->second;
  m.format = "LightGBM text model " + m.library_version;
  const std::string H = "header";
  TIFFIN_ASSIGN_OR_RETURN(int64_t max_feature,
                          Integer(header, "max_feature_idx", H, 0, kMaxFeatures - 1));
  m.n_features = max_feature + 1;
  int64_t num_class = 1;
  if (header.count("num_class")) {
    TIFFIN_ASSIGN_OR_RETURN(num_class, Integer(header, "num_class", H, 1, 100000));
  }
  int64_t per_iter = num_class;
  if (header.count("num_tree_per_iteration")) {
    TIFFIN_ASSIGN_OR_RETURN(per_iter, Integer(header, "num_tree_per_iteration", H, 1, 100000));
  }
  m.n_targets = per_iter;
  m.base_margin.assign(static_cast<size_t>(per_iter), 0.0);
  m.average = header.count("average_output") > 0;
  auto obj = header.find("objective");
  TIFFIN_RETURN_IF_ERROR(SetObjective(&m, obj == header.end() ? "" : obj->second));
  if (m.transform == Transform::kSoftmax && per_iter < 2)
    return InvalidArgument("objective '" + m.objective + "' with num_tree_per_iteration " +
                           std::to_string(per_iter));
  if (m.classifier && per_iter == 1 && m.transform != Transform::kSigmoid)
    return InvalidArgument("a one-output classifier must be binary");
  if (auto fn = header.find("feature_names"); fn != header.end())
    for (std::string_view s : Split(fn->second, ' ')) m.feature_names.emplace_back(s);
  for (size_t i = 0; i < trees.size(); ++i) {
    auto t = ReadTree(trees[i], "Tree=" + std::to_string(i), m.n_features);
    if (!t.ok()) return t.status();
    t->target = static_cast<int64_t>(i) % per_iter;
    m.trees.push_back(std::move(*t));
  }
  if (trees.empty()) return InvalidArgument("the model has no trees");
  // tree_sizes (LightGBM >= 2.1) lists every tree: fewer blocks means the
  // file was cut short.
  if (auto sizes = header.find("tree_sizes"); sizes != header.end()) {
    const size_t listed = Split(sizes->second, ' ').size();
    if (listed != trees.size())
      return DataLoss("the header's tree_sizes lists " + std::to_string(listed) +
                      " trees but the file holds " + std::to_string(trees.size()) +
                      " (truncated file?)");
  }
  // LightGBM casts a categorical value to int (truncation) before the lookup.
  std::vector<uint8_t> cat(static_cast<size_t>(m.n_features), 0);
  for (const Tree& t : m.trees)
    for (const Node& nd : t.nodes)
      if (!nd.is_leaf && nd.mode == Mode::kMember) cat[static_cast<size_t>(nd.feature)] = 1;
  for (int64_t f = 0; f < m.n_features; ++f)
    if (cat[static_cast<size_t>(f)]) m.floor_features.push_back(f);
  m.truncate_toward_zero = true;
  return m;
}

Result<sklearn::ImportedGraph> ImportLightgbmFile(const std::string& path,
                                                  const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '" + path + "'");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  if (size > options.max_file_bytes)
    return ResourceExhausted(path + " is larger than --max-file-bytes");
  in.seekg(0);
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  auto m = ReadTextModel(text);
  if (!m.ok()) return m.status().WithContext(path);
  auto g = gbdt::BuildGbdtGraph(*m);
  if (!g.ok()) return g.status().WithContext(path);
  return g;
}

}  // namespace tiffin::lightgbm
