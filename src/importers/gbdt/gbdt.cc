#include "importers/gbdt/gbdt.h"

#include <cmath>
#include <map>

#include "importers/sklearn/graph_builder.h"
#include "importers/sklearn/tree_ensemble.h"

namespace tiffin::gbdt {

namespace {

using sklearn::AttrInt;
using sklearn::GraphBuilder;

constexpr size_t kMaxNodes = size_t{1} << 28;

// Checks each tree and adds it to the one TreeEnsemble node.
class Emitter {
 public:
  Emitter(int64_t n_targets, bool float32)
      : n_targets_(n_targets), float32_(float32), ensemble_(n_targets) {}

  Status Add(const Tree& t, size_t index, int64_t n_features) {
    const std::string what = "tree " + std::to_string(index);
    const int64_t n = static_cast<int64_t>(t.nodes.size());
    if (n == 0) return InvalidArgument(what + " has no nodes");
    if (t.root < 0 || t.root >= n) return InvalidArgument(what + " has no root node");
    if (t.target < 0 || t.target >= n_targets_)
      return InvalidArgument(what + " writes output " + std::to_string(t.target) +
                             ", outside the model's " + std::to_string(n_targets_) + " outputs");
    // Reachable nodes in depth-first order; refuse cycles.
    std::vector<uint8_t> state(static_cast<size_t>(n), 0);  // 0 new, 1 on path, 2 done
    std::vector<int64_t> order;
    std::vector<std::pair<int64_t, bool>> stack = {{t.root, false}};
    while (!stack.empty()) {
      auto [i, leaving] = stack.back();
      stack.pop_back();
      const size_t k = static_cast<size_t>(i);
      if (leaving) {
        state[k] = 2;
        continue;
      }
      if (state[k] == 2) continue;
      if (state[k] == 1)
        return InvalidArgument(what + " has a cycle through node " + std::to_string(i));
      state[k] = 1;
      order.push_back(i);
      stack.push_back({i, true});
      const Node& nd = t.nodes[k];
      if (nd.is_leaf) continue;
      for (int64_t c : {nd.no, nd.yes}) {
        if (c < 0 || c >= n)
          return InvalidArgument(what + ": node " + std::to_string(i) + " has child " +
                                 std::to_string(c) + ", outside its " + std::to_string(n) +
                                 " nodes");
        if (state[static_cast<size_t>(c)] == 1)
          return InvalidArgument(what + " has a cycle through node " + std::to_string(c));
        stack.push_back({c, false});
      }
      if (nd.feature < 0 || nd.feature >= n_features)
        return InvalidArgument(what + ": node " + std::to_string(i) + " splits on feature " +
                               std::to_string(nd.feature) + ", but the model has " +
                               std::to_string(n_features) + " features");
    }
    const Node& root = t.nodes[static_cast<size_t>(t.root)];
    if (root.is_leaf) {
      AddConstant(t.target, root.value);
      return Status::Ok();
    }
    if (static_cast<size_t>(ensemble_.next_node()) + order.size() > kMaxNodes)
      return ResourceExhausted("the ensemble has more than " + std::to_string(kMaxNodes) +
                               " nodes");
    std::vector<int64_t> id(static_cast<size_t>(n), -1);
    int64_t next_node = ensemble_.next_node();
    int64_t next_leaf = ensemble_.next_leaf();
    for (int64_t i : order)
      id[static_cast<size_t>(i)] =
          t.nodes[static_cast<size_t>(i)].is_leaf ? next_leaf++ : next_node++;
    ensemble_.AddRoot(id[static_cast<size_t>(t.root)]);
    // Interior nodes in id order, then leaves in id order.
    auto child = [&](int64_t c) {
      return sklearn::TreeEnsembleBuilder::Child{id[static_cast<size_t>(c)],
                                                 t.nodes[static_cast<size_t>(c)].is_leaf};
    };
    for (int64_t i : order) {
      const Node& nd = t.nodes[static_cast<size_t>(i)];
      if (nd.is_leaf) continue;
      sklearn::TreeEnsembleBuilder::Branch b;
      b.feature = nd.feature;
      b.mode = nd.mode;
      b.split = nd.split;
      b.members = &nd.set;
      b.yes = child(nd.yes);
      b.no = child(nd.no);
      b.missing_yes = nd.missing_yes;
      ensemble_.AddBranch(b);
    }
    for (int64_t i : order) {
      const Node& nd = t.nodes[static_cast<size_t>(i)];
      if (nd.is_leaf) ensemble_.AddLeaf(t.target, nd.value);
    }
    return Status::Ok();
  }

  void AddConstant(int64_t target, double value) { ensemble_.AddConstant(target, value); }

  std::string Emit(GraphBuilder& b, const std::string& x) { return ensemble_.Emit(b, x, float32_); }

 private:
  int64_t n_targets_;
  bool float32_;
  sklearn::TreeEnsembleBuilder ensemble_;
};

std::string JsonList(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ",";
    s += "\"";
    for (char c : v[i]) {
      if (c == '"' || c == '\\') s += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) s += c;
    }
    s += "\"";
  }
  return s + "]";
}

// The trees: one TreeEnsemble, then the average and base margin.
std::string EmitTrees(GraphBuilder& b, const GbdtModel& m, Emitter& e, std::string x) {
  if (m.float32) x = b.Cast(x, DType::kFloat32);
  if (!m.floor_features.empty()) {
    std::vector<uint8_t> mask(static_cast<size_t>(m.n_features), 0);
    for (int64_t f : m.floor_features)
      if (f >= 0 && f < m.n_features) mask[static_cast<size_t>(f)] = 1;
    const std::string is_cat =
        b.Cast(b.Const(Tensor::FromVector(mask, {m.n_features}), "categorical"), DType::kBool);
    const std::string whole =
        m.truncate_toward_zero ? b.Op("Mul", {b.Op("Sign", {x}), b.Op("Floor", {b.Op("Abs", {x})})})
                               : b.Op("Floor", {x});
    x = b.Op("Where", {is_cat, whole, x});
  }
  std::string sum = e.Emit(b, x);  // [N, K]
  if (m.average) {
    // LightGBM random forests divide by the number of iterations.
    const double iters = static_cast<double>(m.trees.size()) / static_cast<double>(m.n_targets);
    if (iters > 0) {
      Tensor s = m.float32 ? Tensor::FromVector(std::vector<float>{static_cast<float>(1 / iters)})
                           : Tensor::FromVector(std::vector<double>{1 / iters});
      sum = b.Op("Mul", {sum, b.Const(s, "inv_iterations")});
    }
  }
  bool any_base = false;
  for (double v : m.base_margin) any_base = any_base || v != 0;
  if (any_base) {
    Tensor base =
        m.float32
            ? Tensor::FromVector(std::vector<float>(m.base_margin.begin(), m.base_margin.end()))
            : Tensor::FromVector(m.base_margin);
    sum = b.Op("Add", {sum, b.Const(base, "base_margin")});
  }
  return m.float32 ? b.Cast(sum, DType::kFloat64) : sum;
}

Status CheckLinear(const GbdtModel& m) {
  if (!m.trees.empty()) return InvalidArgument("a linear model with trees");
  const size_t k = static_cast<size_t>(m.n_targets);
  if (m.linear_weights.size() != static_cast<size_t>(m.n_features) * k)
    return InvalidArgument("gblinear weights have " + std::to_string(m.linear_weights.size()) +
                           " values for " + std::to_string(m.n_features) + " features x " +
                           std::to_string(k) + " outputs");
  if (m.linear_bias.size() != k)
    return InvalidArgument("gblinear bias has " + std::to_string(m.linear_bias.size()) +
                           " values for " + std::to_string(k) + " outputs");
  return Status::Ok();
}

// gblinear: X (as the float32 XGBoost reads) @ W + bias + base margin, in
// float64. A missing (NaN) feature adds nothing, as in XGBoost's sparse
// sum; XGBoost sums float32 products in float32, so the last bits can
// differ.
std::string EmitLinear(GraphBuilder& b, const GbdtModel& m, const std::string& x) {
  const int64_t k = m.n_targets;
  std::string x32 = x;
  if (m.float32) x32 = b.Cast(b.Cast(x, DType::kFloat32), DType::kFloat64);
  const std::string zero = b.ScalarDouble(0.0);
  const std::string dense = b.Op("Where", {b.Op("IsNaN", {x32}), zero, x32});
  Tensor w = Tensor::FromVector(m.linear_weights, {m.n_features, k});
  std::vector<double> bias(static_cast<size_t>(k));
  for (size_t g = 0; g < bias.size(); ++g)
    bias[g] = m.float32 ? static_cast<double>(static_cast<float>(m.linear_bias[g]) +
                                              static_cast<float>(m.base_margin[g]))
                        : m.linear_bias[g] + m.base_margin[g];
  Tensor bt = Tensor::FromVector(bias, {k});
  return b.MatMulAdd(dense, w, &bt);
}

}  // namespace

Result<sklearn::ImportedGraph> BuildGbdtGraph(const GbdtModel& m) {
  if (m.n_targets < 1 || m.n_targets > 100000)
    return InvalidArgument("the model has " + std::to_string(m.n_targets) +
                           " outputs; expected 1 to 100000");
  if (m.n_features < 1 || m.n_features > 10000000)
    return InvalidArgument("the model has " + std::to_string(m.n_features) +
                           " features; expected 1 to 10000000");
  if (static_cast<int64_t>(m.base_margin.size()) != m.n_targets)
    return InvalidArgument("base margin has " + std::to_string(m.base_margin.size()) +
                           " values for " + std::to_string(m.n_targets) + " outputs");
  if (m.linear) {
    TIFFIN_RETURN_IF_ERROR(CheckLinear(m));
  }
  Emitter e(m.n_targets, m.float32);
  if (!m.linear) {
    for (size_t i = 0; i < m.trees.size(); ++i)
      TIFFIN_RETURN_IF_ERROR(e.Add(m.trees[i], i, m.n_features));
    // Targets no tree writes still need a value: a zero tree keeps shapes right.
    if (m.trees.empty()) e.AddConstant(0, 0.0);
  }

  sklearn::ImportedGraph out;
  GraphBuilder b;
  const Dim n{-1, "N"};
  std::vector<Dim> in_shape = {n, Dim{m.n_features, ""}};
  std::string x = b.AddInput("X", DType::kFloat64, in_shape);
  out.inputs.push_back(TensorInfo{"X", DType::kFloat64, true, in_shape});
  std::string margin = m.linear ? EmitLinear(b, m, x) : EmitTrees(b, m, e, x);  // [N, K] float64
  const int64_t k = m.n_targets;
  auto add_out = [&](const std::string& value, const std::string& name, DType dt,
                     std::vector<Dim> shape) {
    b.AddOutput(value, name, dt, shape);
    out.outputs.push_back(TensorInfo{name, dt, true, std::move(shape)});
  };
  const std::vector<Dim> shape_k = k == 1 ? std::vector<Dim>{n} : std::vector<Dim>{n, Dim{k, ""}};
  auto flat = [&](const std::string& v) { return k == 1 ? b.Squeeze1(v) : v; };

  std::string transformed;  // [N, K]
  switch (m.transform) {
    case Transform::kIdentity:
      transformed = margin;
      break;
    case Transform::kSigmoid:
    case Transform::kSigmoidEach: {
      std::string z = margin;
      if (m.sigmoid_scale != 1.0) z = b.Op("Mul", {z, b.ScalarDouble(m.sigmoid_scale)});
      transformed = b.Op("Sigmoid", {z});
      break;
    }
    case Transform::kSoftmax:
      transformed = b.Op("Softmax", {margin}, {{"axis", AttrInt(1)}});
      break;
    case Transform::kExp:
      transformed = b.Op("Exp", {margin});
      break;
  }
  if (m.classifier) {
    std::string label, probs;
    int64_t n_classes = k;
    if (k == 1) {
      // Binary: p is the positive class; probabilities [1 - p, p].
      const std::string one = b.ScalarDouble(1.0);
      probs = b.Concat({b.Op("Sub", {one, transformed}), transformed}, 1);
      label =
          b.Cast(b.Squeeze1(b.Op("Greater", {transformed, b.ScalarDouble(0.5)})), DType::kInt64);
      n_classes = 2;
    } else {
      probs = transformed;
      label = b.Op("ArgMax", {margin}, {{"axis", AttrInt(1)}, {"keepdims", AttrInt(0)}});
    }
    add_out(label, "label", DType::kInt64, {n});
    add_out(probs, "probabilities", DType::kFloat64, {n, Dim{n_classes, ""}});
    for (int64_t c = 0; c < n_classes; ++c) out.info.class_labels.push_back(std::to_string(c));
  } else {
    add_out(flat(transformed), "variable", DType::kFloat64, shape_k);
  }
  add_out(flat(margin), "margin", DType::kFloat64, shape_k);
  out.graph = b.Finish();

  ModelInfo& info = out.info;
  info.format = m.format;
  info.producer_name = m.library;
  info.producer_version = m.library_version;
  info.opsets["ai.onnx"] = sklearn::kOnnxOpset;
  for (const auto& node : out.graph->nodes) {
    ++info.op_counts[node.domain.empty() ? node.op_type : node.domain + ":" + node.op_type];
    if (!node.domain.empty()) info.opsets[node.domain] = node.opset;
    for (const auto& [key, a] : node.attributes)
      if (a.kind == ir::Attribute::Kind::kTensor) {
        info.parameter_count += a.t.size();
        info.parameter_bytes += static_cast<int64_t>(a.t.nbytes());
      }
  }
  for (const auto& [id, t] : out.graph->constants) {  // gblinear weights, base margins
    info.parameter_count += t.size();
    info.parameter_bytes += static_cast<int64_t>(t.nbytes());
  }
  info.metadata = m.metadata;
  info.metadata["objective"] = m.objective;
  info.metadata["num_trees"] = std::to_string(m.trees.size());
  info.metadata["num_features"] = std::to_string(m.n_features);
  info.metadata["num_outputs"] = std::to_string(m.n_targets);
  info.metadata["outputs"] =
      m.classifier ? "label, probabilities, margin (raw score before the objective's transform)"
                   : "variable, margin (raw score before the objective's transform)";
  if (static_cast<int64_t>(m.feature_names.size()) == m.n_features) {
    info.feature_names = m.feature_names;
    info.metadata["feature_names"] = JsonList(m.feature_names);
  }
  out.notes = m.notes;
  if (!m.notes.empty()) info.metadata["notes"] = JsonList(m.notes);
  return out;
}

}  // namespace tiffin::gbdt
