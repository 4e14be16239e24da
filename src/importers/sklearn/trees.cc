#include "importers/sklearn/trees.h"

#include <cmath>
#include <cstring>

#include "importers/pickle/numpy.h"

namespace tiffin::sklearn {
namespace {

// One field of a structured numpy array, converted to double per item.
// Accepts the integer and float widths scikit-learn has used (intp is i4 on
// 32-bit builds; HistGradientBoosting used u4 feature indices).
Result<std::vector<double>> Field(const pickle::NumpyStructuredArray& a, const std::string& name,
                                  const std::string& what) {
  const pickle::NumpyField* field = nullptr;
  for (const auto& f : a.dtype.fields)
    if (f.name == name) field = &f;
  if (!field) {
    return InvalidArgument(what + ": node records have no field '" + name + "' (itemsize " +
                           std::to_string(a.dtype.itemsize) + ")");
  }
  const auto& dt = field->dtype;
  const size_t n = a.raw.size() / static_cast<size_t>(a.dtype.itemsize);
  std::vector<double> out(n);
  const bool swap = dt.byte_order == '>';
  for (size_t i = 0; i < n; ++i) {
    const char* p = a.raw.data() + i * static_cast<size_t>(a.dtype.itemsize) + field->offset;
    const size_t sz = static_cast<size_t>(dt.itemsize);
    if (sz != 1 && sz != 2 && sz != 4 && sz != 8)
      return NotSupported(what + ": field '" + name + "' has " + std::to_string(sz) +
                          "-byte items");
    // Assemble the item's bits in host (little-endian) order.
    uint64_t bits = 0;
    for (size_t j = 0; j < sz; ++j) {
      const uint64_t byte = static_cast<unsigned char>(p[swap ? sz - 1 - j : j]);
      bits |= byte << (8 * j);
    }
    unsigned char b[8];
    std::memcpy(b, &bits, 8);
    double v;
    if (dt.kind == 'f' && sz == 8) {
      std::memcpy(&v, b, 8);
    } else if (dt.kind == 'f' && sz == 4) {
      float f;
      std::memcpy(&f, b, 4);
      v = f;
    } else if (dt.kind == 'i' || dt.kind == 'u' || dt.kind == 'b') {
      uint64_t u = bits;
      if (dt.kind == 'i' && sz < 8 && (u >> (sz * 8 - 1)) & 1) u |= ~uint64_t{0} << (sz * 8);
      v = dt.kind == 'i' ? static_cast<double>(static_cast<int64_t>(u)) : static_cast<double>(u);
    } else {
      return NotSupported(what + ": field '" + name + "' has dtype '" + dt.str + "'");
    }
    out[i] = v;
  }
  return out;
}

bool HasField(const pickle::NumpyStructuredArray& a, const std::string& name) {
  for (const auto& f : a.dtype.fields)
    if (f.name == name) return true;
  return false;
}

// Every node reached exactly once from node 0; features inside the input.
Status Validate(const Tree& t, int64_t n_features, const std::string& what) {
  const int64_t n = t.size();
  if (n == 0) return InvalidArgument(what + ": the tree has no nodes");
  std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
  std::vector<int64_t> stack = {0};
  int64_t visited = 0;
  while (!stack.empty()) {
    const int64_t i = stack.back();
    stack.pop_back();
    if (seen[static_cast<size_t>(i)]) {
      return InvalidArgument(what + ": node " + std::to_string(i) +
                             " is reached twice (a cycle or a shared child): the file is corrupt");
    }
    seen[static_cast<size_t>(i)] = 1;
    ++visited;
    const int64_t l = t.left[static_cast<size_t>(i)], r = t.right[static_cast<size_t>(i)];
    if (l < 0 && r < 0) continue;
    if (l < 0 || r < 0 || l >= n || r >= n) {
      return InvalidArgument(what + ": node " + std::to_string(i) + " has children " +
                             std::to_string(l) + ", " + std::to_string(r) + " outside 0.." +
                             std::to_string(n - 1));
    }
    const int64_t f = t.feature[static_cast<size_t>(i)];
    if (f < 0 || (n_features >= 0 && f >= n_features)) {
      return InvalidArgument(what + ": node " + std::to_string(i) + " splits on feature " +
                             std::to_string(f) + ", outside the " + std::to_string(n_features) +
                             " input features");
    }
    stack.push_back(r);
    stack.push_back(l);
  }
  (void)visited;
  return Status::Ok();
}

std::vector<int64_t> ToInts(const std::vector<double>& v) {
  std::vector<int64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = std::isfinite(v[i]) ? static_cast<int64_t>(v[i]) : -1;
  return out;
}

}  // namespace

std::vector<int64_t> Tree::Depths() const {
  std::vector<int64_t> d(static_cast<size_t>(size()), 0);
  // Validated trees are acyclic; children may precede parents in theory, so
  // walk from the root.
  std::vector<int64_t> stack = {0};
  while (!stack.empty()) {
    int64_t i = stack.back();
    stack.pop_back();
    if (is_leaf(i)) continue;
    for (int64_t c : {left[static_cast<size_t>(i)], right[static_cast<size_t>(i)]}) {
      d[static_cast<size_t>(c)] = d[static_cast<size_t>(i)] + 1;
      stack.push_back(c);
    }
  }
  return d;
}

Result<Tree> ReadSklearnTree(const PickleValue& tree_v, int64_t n_features,
                             const std::string& what) {
  Obj tree(&tree_v);
  if (tree.FullName() != "sklearn.tree._tree.Tree") {
    return InvalidArgument(what + ": expected a sklearn.tree._tree.Tree, found " +
                           tree_v.TypeName());
  }
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* nodes_v, tree.Get("nodes"));
  auto nodes = pickle::NumpyStructuredArrayFromPickle(*nodes_v);
  if (!nodes.ok()) return nodes.status().WithContext(what + " nodes");
  TIFFIN_ASSIGN_OR_RETURN(Tensor values, tree.Doubles("values"));
  Tree t;
  TIFFIN_ASSIGN_OR_RETURN(auto left, Field(*nodes, "left_child", what));
  TIFFIN_ASSIGN_OR_RETURN(auto right, Field(*nodes, "right_child", what));
  TIFFIN_ASSIGN_OR_RETURN(auto feature, Field(*nodes, "feature", what));
  TIFFIN_ASSIGN_OR_RETURN(t.threshold, Field(*nodes, "threshold", what));
  t.left = ToInts(left);
  t.right = ToInts(right);
  t.feature = ToInts(feature);
  if (HasField(*nodes, "n_node_samples")) {
    TIFFIN_ASSIGN_OR_RETURN(auto ns, Field(*nodes, "n_node_samples", what));
    t.n_samples = ToInts(ns);
  } else {
    t.n_samples.assign(t.left.size(), 0);
  }
  // 64-byte records (1.3+) say where NaN goes; before, NaN compared false
  // and went right (and scikit-learn refused NaN input).
  t.missing_left.assign(t.left.size(), 0);
  if (HasField(*nodes, "missing_go_to_left")) {
    TIFFIN_ASSIGN_OR_RETURN(auto ml, Field(*nodes, "missing_go_to_left", what));
    for (size_t i = 0; i < ml.size(); ++i) t.missing_left[i] = ml[i] != 0;
  }
  const int64_t n = static_cast<int64_t>(t.left.size());
  if (values.rank() != 3 || values.dim(0) < n) {
    return InvalidArgument(what + ": tree values have shape " + ShapeToString(values.shape()) +
                           " for " + std::to_string(n) + " nodes");
  }
  t.n_outputs = values.dim(1);
  t.n_classes = values.dim(2);
  t.width = t.n_outputs * t.n_classes;
  t.value.assign(values.data<double>(), values.data<double>() + n * t.width);
  t.is_categorical.assign(t.left.size(), 0);
  t.left_categories.resize(t.left.size());
  TIFFIN_RETURN_IF_ERROR(Validate(t, n_features, what));
  return t;
}

Result<Tree> ReadHistPredictor(const PickleValue& pred_v, int64_t n_features,
                               const std::string& what) {
  Obj pred(&pred_v);
  TIFFIN_ASSIGN_OR_RETURN(const PickleValue* nodes_v, pred.Get("nodes"));
  auto nodes = pickle::NumpyStructuredArrayFromPickle(*nodes_v);
  if (!nodes.ok()) return nodes.status().WithContext(what + " nodes");
  Tree t;
  TIFFIN_ASSIGN_OR_RETURN(auto left, Field(*nodes, "left", what));
  TIFFIN_ASSIGN_OR_RETURN(auto right, Field(*nodes, "right", what));
  TIFFIN_ASSIGN_OR_RETURN(auto feature, Field(*nodes, "feature_idx", what));
  TIFFIN_ASSIGN_OR_RETURN(auto is_leaf, Field(*nodes, "is_leaf", what));
  // num_threshold since 0.24; `threshold` before.
  const char* thr = HasField(*nodes, "num_threshold") ? "num_threshold" : "threshold";
  TIFFIN_ASSIGN_OR_RETURN(t.threshold, Field(*nodes, thr, what));
  TIFFIN_ASSIGN_OR_RETURN(t.value, Field(*nodes, "value", what));
  const size_t n = left.size();
  t.left = ToInts(left);
  t.right = ToInts(right);
  t.feature = ToInts(feature);
  for (size_t i = 0; i < n; ++i) {
    if (is_leaf[i] != 0) t.left[i] = t.right[i] = -1;
  }
  t.width = 1;
  t.n_samples.assign(n, 0);
  t.missing_left.assign(n, 0);
  if (HasField(*nodes, "missing_go_to_left")) {
    TIFFIN_ASSIGN_OR_RETURN(auto ml, Field(*nodes, "missing_go_to_left", what));
    for (size_t i = 0; i < n; ++i) t.missing_left[i] = ml[i] != 0;
  }
  t.is_categorical.assign(n, 0);
  t.left_categories.resize(n);
  if (HasField(*nodes, "is_categorical")) {
    TIFFIN_ASSIGN_OR_RETURN(auto cat, Field(*nodes, "is_categorical", what));
    TIFFIN_ASSIGN_OR_RETURN(auto bidx, Field(*nodes, "bitset_idx", what));
    bool any = false;
    for (size_t i = 0; i < n; ++i) any |= cat[i] != 0 && is_leaf[i] == 0;
    if (any) {
      TIFFIN_ASSIGN_OR_RETURN(Tensor bits, pred.Ints("raw_left_cat_bitsets"));
      if (bits.rank() != 2 || bits.dim(1) != 8)
        return InvalidArgument(what + ": raw_left_cat_bitsets must be [n, 8] uint32");
      for (size_t i = 0; i < n; ++i) {
        if (cat[i] == 0 || is_leaf[i] != 0) continue;
        const int64_t b = static_cast<int64_t>(bidx[i]);
        if (b < 0 || b >= bits.dim(0))
          return InvalidArgument(what + ": node " + std::to_string(i) +
                                 " bitset index out of range");
        t.is_categorical[i] = 1;
        for (int64_t c = 0; c < 256; ++c) {
          const uint64_t word = static_cast<uint64_t>(bits.data<int64_t>()[b * 8 + c / 32]);
          if ((word >> (c % 32)) & 1) t.left_categories[i].push_back(static_cast<double>(c));
        }
      }
    }
  }
  TIFFIN_RETURN_IF_ERROR(Validate(t, n_features, what));
  return t;
}

void EnsembleBuilder::Add(const Tree& tree, int64_t target, const std::vector<double>& leaf_values,
                          const std::vector<int64_t>* feature_map) {
  using Branch = TreeEnsembleBuilder::Branch;
  using Mode = TreeEnsembleBuilder::Mode;
  const int64_t n = tree.size();
  if (tree.is_leaf(0)) {
    AddConstant(target, leaf_values[0]);
    return;
  }
  // Interior nodes and leaves get their own dense numbering, in array order.
  std::vector<int64_t> id(static_cast<size_t>(n), -1);
  int64_t next_node = ensemble_.next_node();
  int64_t next_leaf = ensemble_.next_leaf();
  for (int64_t i = 0; i < n; ++i)
    id[static_cast<size_t>(i)] = tree.is_leaf(i) ? next_leaf++ : next_node++;
  ensemble_.AddRoot(id[0]);
  for (int64_t i = 0; i < n; ++i) {
    const size_t k = static_cast<size_t>(i);
    if (tree.is_leaf(i)) {
      ensemble_.AddLeaf(target, leaf_values[k]);
      continue;
    }
    Branch b;
    b.feature = tree.feature[k];
    if (feature_map) b.feature = (*feature_map)[static_cast<size_t>(b.feature)];
    const int64_t l = tree.left[k], r = tree.right[k];
    b.yes = {id[static_cast<size_t>(l)], tree.is_leaf(l)};
    b.no = {id[static_cast<size_t>(r)], tree.is_leaf(r)};
    b.missing_yes = tree.missing_left[k] != 0;
    if (tree.is_categorical[k]) {
      b.mode = Mode::kMember;  // x in the left set goes left
      b.members = &tree.left_categories[k];
    } else {
      b.mode = Mode::kLeq;  // x <= threshold goes left
      b.split = tree.threshold[k];
    }
    ensemble_.AddBranch(b);
  }
}

std::string EnsembleBuilder::Emit(Ctx& ctx, const std::string& x) {
  return ensemble_.Emit(ctx.b, x);
}

std::string AsFloat32(Ctx& ctx, const std::string& x) {
  return ctx.b.Cast(ctx.b.Cast(x, DType::kFloat32), DType::kFloat64);
}

}  // namespace tiffin::sklearn
