// One ai.onnx.ml TreeEnsemble (opset 5) node, built tree by tree: the one
// TreeEnsemble emitter of the scikit-learn, XGBoost and LightGBM importers.
//
// Interior nodes and leaves are numbered separately, densely, in the order
// they are appended; next_node() and next_leaf() give the id the next one
// will get, so a caller can number a whole tree (and point branches at
// children not yet appended) before appending it. Children may be shared
// (a DAG); the caller checks that trees are acyclic and features in range.
//
// Not thread-safe; Emit leaves the builder unchanged.
#ifndef TIFFIN_IMPORTERS_SKLEARN_TREE_ENSEMBLE_H_
#define TIFFIN_IMPORTERS_SKLEARN_TREE_ENSEMBLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "importers/sklearn/graph_builder.h"

namespace tiffin::sklearn {

class TreeEnsembleBuilder {
 public:
  // nodes_modes values of TreeEnsemble opset 5.
  enum class Mode : uint8_t {
    kLeq = 0,
    kLt = 1,
    kGte = 2,
    kGt = 3,
    kEq = 4,
    kNeq = 5,
    kMember = 6
  };

  struct Child {
    int64_t id = 0;  // a node id, or a leaf id when `leaf`
    bool leaf = false;
  };
  // `yes` is taken when `x[feature] <mode> split` holds (for kMember: x is
  // one of `members`), `no` otherwise; NaN goes to `yes` when missing_yes.
  struct Branch {
    int64_t feature = 0;
    Mode mode = Mode::kLeq;
    double split = 0;                              // unused by kMember
    const std::vector<double>* members = nullptr;  // kMember only
    Child yes, no;
    bool missing_yes = false;
  };

  // The node writes [N, n_targets], summing the leaves reached per target.
  explicit TreeEnsembleBuilder(int64_t n_targets) : n_targets_(n_targets) {}

  int64_t next_node() const { return static_cast<int64_t>(features_.size()); }
  int64_t next_leaf() const { return static_cast<int64_t>(leaf_targets_.size()); }

  // Starts a tree at interior node `node`.
  void AddRoot(int64_t node) { roots_.push_back(node); }
  // Appends interior node next_node().
  void AddBranch(const Branch& b);
  // Appends leaf next_leaf(), adding `weight` to output column `target`.
  void AddLeaf(int64_t target, double weight);
  // A whole tree that is a single leaf (a constant such as an init score):
  // TreeEnsemble trees start at an interior node, so both branches of a
  // dummy split lead to the one leaf.
  void AddConstant(int64_t target, double value);

  // Emits the node over `x` ([N, F]) and returns its output. With
  // `float32`, splits, leaf weights and member sets are float32 tensors
  // (x must then be float32); otherwise float64 (x float64).
  std::string Emit(GraphBuilder& b, const std::string& x, bool float32 = false) const;

 private:
  int64_t n_targets_;
  std::vector<int64_t> roots_, features_, true_ids_, true_leafs_, false_ids_, false_leafs_,
      missing_true_;
  std::vector<uint8_t> modes_;
  std::vector<double> splits_, membership_;
  std::vector<int64_t> leaf_targets_;
  std::vector<double> leaf_weights_;
};

}  // namespace tiffin::sklearn

#endif  // TIFFIN_IMPORTERS_SKLEARN_TREE_ENSEMBLE_H_
