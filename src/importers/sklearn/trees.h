// Decision trees read from scikit-learn's Tree and HistGradientBoosting
// predictor node arrays, and their emission as one ai.onnx.ml TreeEnsemble
// (opset 5) node with float64 splits and leaf weights (through
// TreeEnsembleBuilder, which the XGBoost and LightGBM importers share).
//
// The node arrays are untrusted: every child index is checked, every node
// must be reached exactly once from the root (no cycles, no sharing), and
// every feature index must be inside the input width.
#ifndef TIFFIN_IMPORTERS_SKLEARN_TREES_H_
#define TIFFIN_IMPORTERS_SKLEARN_TREES_H_

#include <string>
#include <vector>

#include "importers/sklearn/convert.h"
#include "importers/sklearn/tree_ensemble.h"

namespace tiffin::sklearn {

struct Tree {
  std::vector<int64_t> left, right, feature;  // left/right = -1 at leaves
  std::vector<double> threshold;              // go left when x <= threshold
  std::vector<uint8_t> missing_left;          // NaN goes left (1) or right (0)
  std::vector<int64_t> n_samples;             // n_node_samples (0 if unknown)
  // Categorical splits (HistGradientBoosting): the categories going left.
  std::vector<std::vector<double>> left_categories;
  std::vector<uint8_t> is_categorical;
  // Per node: `width` values (Tree.value flattened as [n_outputs * n_classes]).
  std::vector<double> value;
  int64_t width = 0;
  int64_t n_outputs = 1;
  int64_t n_classes = 1;  // max_n_classes
  bool is_leaf(int64_t i) const { return left[static_cast<size_t>(i)] < 0; }
  int64_t size() const { return static_cast<int64_t>(left.size()); }
  // Depth of every node (root 0).
  std::vector<int64_t> Depths() const;
};

// Reads a sklearn.tree._tree.Tree (the `tree_` attribute): 56- or 64-byte
// node records (missing_go_to_left from 1.3), 32- or 64-bit indices.
// `what` names the owner in errors.
Result<Tree> ReadSklearnTree(const PickleValue& tree, int64_t n_features, const std::string& what);
// Reads a HistGradientBoosting TreePredictor (nodes with `threshold` or
// `num_threshold`, optional missing_go_to_left, categorical bitsets).
Result<Tree> ReadHistPredictor(const PickleValue& predictor, int64_t n_features,
                               const std::string& what);

// Collects scikit-learn trees into one TreeEnsemble(SUM) node. Each call
// adds one tree whose leaves contribute `leaf_value(tree, leaf)` to target
// `target`.
class EnsembleBuilder {
 public:
  explicit EnsembleBuilder(int64_t n_targets) : ensemble_(n_targets) {}

  // `feature_map` (optional) renumbers the tree's features (IsolationForest
  // subsets); leaf_value(i) is the contribution of leaf node i.
  template <typename F>
  void AddTree(const Tree& tree, int64_t target, F leaf_value,
               const std::vector<int64_t>* feature_map = nullptr) {
    std::vector<double> leaves(static_cast<size_t>(tree.size()), 0.0);
    for (int64_t i = 0; i < tree.size(); ++i)
      if (tree.is_leaf(i)) leaves[static_cast<size_t>(i)] = leaf_value(i);
    Add(tree, target, leaves, feature_map);
  }
  // A tree with a single leaf (a constant such as an init prediction).
  void AddConstant(int64_t target, double value) { ensemble_.AddConstant(target, value); }

  // Emits the node over `x` (float64 [N, F]); returns [N, n_targets].
  std::string Emit(Ctx& ctx, const std::string& x);

 private:
  void Add(const Tree& tree, int64_t target, const std::vector<double>& leaf_values,
           const std::vector<int64_t>* feature_map);

  TreeEnsembleBuilder ensemble_;
};

// x rounded to float32 and back, as scikit-learn's trees see their input.
std::string AsFloat32(Ctx& ctx, const std::string& x);

}  // namespace tiffin::sklearn

#endif  // TIFFIN_IMPORTERS_SKLEARN_TREES_H_
