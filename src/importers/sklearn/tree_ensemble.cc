#include "importers/sklearn/tree_ensemble.h"

#include <cmath>

namespace tiffin::sklearn {

void TreeEnsembleBuilder::AddBranch(const Branch& b) {
  features_.push_back(b.feature);
  modes_.push_back(static_cast<uint8_t>(b.mode));
  true_ids_.push_back(b.yes.id);
  true_leafs_.push_back(b.yes.leaf ? 1 : 0);
  false_ids_.push_back(b.no.id);
  false_leafs_.push_back(b.no.leaf ? 1 : 0);
  missing_true_.push_back(b.missing_yes ? 1 : 0);
  if (b.mode == Mode::kMember) {
    // The split is unused; the member sets follow each other, each ended by NaN.
    splits_.push_back(0);
    if (b.members)
      for (double c : *b.members) membership_.push_back(c);
    membership_.push_back(std::nan(""));
  } else {
    splits_.push_back(b.split);
  }
}

void TreeEnsembleBuilder::AddLeaf(int64_t target, double weight) {
  leaf_targets_.push_back(target);
  leaf_weights_.push_back(weight);
}

void TreeEnsembleBuilder::AddConstant(int64_t target, double value) {
  const Child leaf{next_leaf(), true};
  AddRoot(next_node());
  Branch b;
  b.yes = leaf;
  b.no = leaf;
  AddBranch(b);
  AddLeaf(target, value);
}

std::string TreeEnsembleBuilder::Emit(GraphBuilder& b, const std::string& x, bool float32) const {
  auto tensor = [&](const std::vector<double>& v) {
    if (!float32) return Tensor::FromVector(v);
    std::vector<float> f(v.begin(), v.end());
    return Tensor::FromVector(f);
  };
  Attrs attrs = {
      {"n_targets", AttrInt(n_targets_)},
      {"aggregate_function", AttrInt(1)},  // SUM
      {"post_transform", AttrInt(0)},      // NONE
      {"tree_roots", AttrInts(roots_)},
      {"nodes_featureids", AttrInts(features_)},
      {"nodes_splits", AttrTensor(tensor(splits_))},
      {"nodes_modes", AttrTensor(Tensor::FromVector(modes_))},
      {"nodes_truenodeids", AttrInts(true_ids_)},
      {"nodes_trueleafs", AttrInts(true_leafs_)},
      {"nodes_falsenodeids", AttrInts(false_ids_)},
      {"nodes_falseleafs", AttrInts(false_leafs_)},
      {"nodes_missing_value_tracks_true", AttrInts(missing_true_)},
      {"leaf_targetids", AttrInts(leaf_targets_)},
      {"leaf_weights", AttrTensor(tensor(leaf_weights_))},
  };
  if (!membership_.empty()) attrs.push_back({"membership_values", AttrTensor(tensor(membership_))});
  return b.Op("TreeEnsemble", {x}, std::move(attrs), kMl);
}

}  // namespace tiffin::sklearn
