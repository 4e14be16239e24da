// Gradient-boosted models (XGBoost, LightGBM) in one neutral form, and
// their emission as a standard ONNX graph: one ai.onnx.ml TreeEnsemble
// (opset 5) node (written by sklearn::TreeEnsembleBuilder, the emitter the
// scikit-learn importer uses too), the base margin, and the objective's
// output transform.
//
// Importers fill a GbdtModel; BuildGbdtGraph checks it (child indices,
// cycles, feature indices, counts) and emits:
//   classifiers: `label` (int64 [N]), `probabilities` (float64 [N, K]);
//   regressors:  `variable` (float64 [N], or [N, K] for K outputs);
//   always:      `margin` (float64 [N] or [N, K]): the raw score before the
//                objective's transform (XGBoost's output_margin=True,
//                LightGBM's raw_score=True).
// XGBoost gblinear models become MatMul + Add instead of the TreeEnsemble.
// The single input `X` is float64 [N, F]. XGBoost compares in float32: its
// graph casts X to float32 and keeps float32 splits and sums, exactly as
// XGBoost does; LightGBM compares and sums in float64.
#ifndef TIFFIN_IMPORTERS_GBDT_GBDT_H_
#define TIFFIN_IMPORTERS_GBDT_GBDT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "importers/sklearn/sklearn.h"
#include "importers/sklearn/tree_ensemble.h"
#include "tiffin/status.h"

namespace tiffin::gbdt {

// TreeEnsemble opset 5 node modes (kLeq, kLt, kEq and kMember are used).
using Mode = sklearn::TreeEnsembleBuilder::Mode;

struct Node {
  bool is_leaf = false;
  double value = 0;  // leaf contribution
  // Branches: `yes` is taken when the comparison holds (x <mode> split, or
  // x in `set` for kMember), `no` otherwise; NaN goes to `yes` when
  // missing_yes. Children are indices into Tree::nodes.
  int64_t feature = 0;
  Mode mode = Mode::kLeq;
  double split = 0;
  std::vector<double> set;
  int64_t yes = -1, no = -1;
  bool missing_yes = false;
};

struct Tree {
  std::vector<Node> nodes;  // children may be shared (a DAG)
  int64_t root = 0;
  int64_t target = 0;  // output column (class / group)
};

enum class Transform {
  kIdentity,     // variable = margin
  kSigmoid,      // p = 1 / (1 + exp(-scale * margin))
  kSoftmax,      // over the K margins
  kSigmoidEach,  // per-column sigmoid, not renormalised (LightGBM multiclassova)
  kExp,          // exp(margin)
};

struct GbdtModel {
  std::vector<Tree> trees;
  // XGBoost gblinear: no trees; margin_g = bias_g + base_margin_g +
  // sum_i x_i * linear_weights[i * n_targets + g], a missing (NaN) x_i
  // adding nothing. linear_weights has n_features * n_targets entries.
  bool linear = false;
  std::vector<double> linear_weights, linear_bias;
  int64_t n_targets = 1;
  int64_t n_features = 0;
  std::vector<double> base_margin;  // per target (size n_targets)
  bool float32 = false;             // XGBoost: float32 inputs, splits and sums
  bool average = false;             // divide the tree sum by trees per target (LightGBM rf)
  Transform transform = Transform::kIdentity;
  double sigmoid_scale = 1.0;
  bool classifier = false;  // binary (1 target + sigmoid) or K-class
  // Categorical features, made integer categories before the trees see
  // them. XGBoost: rounded down (2.7 is category 2; negative values stay
  // negative, invalid, in no set). LightGBM (truncate_toward_zero): C's
  // int cast (-0.5 is category 0).
  std::vector<int64_t> floor_features;
  bool truncate_toward_zero = false;
  std::vector<std::string> feature_names;
  // Shown by inspect (ModelInfo): library, format, objective, ...
  std::string library, library_version, format, objective;
  std::vector<std::string> notes;
  std::map<std::string, std::string> metadata;
};

// Validates `m` and builds the graph and model description.
Result<sklearn::ImportedGraph> BuildGbdtGraph(const GbdtModel& m);

}  // namespace tiffin::gbdt

#endif  // TIFFIN_IMPORTERS_GBDT_GBDT_H_
