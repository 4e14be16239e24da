// TreeEnsemble (ai.onnx.ml opset 5) tests, and the opset ranges and double
// parameters of TreeEnsembleRegressor/Classifier. Expected values are worked
// out by hand from the trees drawn in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "exec/testing.h"
#include "kernels/cpu/ml_test_util.h"

namespace tiffin {
namespace {

using mltest::ExpectError;
using mltest::ExpectValues;
using mltest::Ml;
using mltest::StringsAttr;
using mltest::TensorAttr;
using testing::FloatsAttr;
using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;
using testing::StringAttr;

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// A TreeEnsemble node: nodes_* and leaf_* arrays, splits and weights stored
// with element type `dt` (float, double or float16).
struct Trees {
  std::vector<int64_t> feats, tn, tl, fn, fl, miss, targets, roots;
  std::vector<uint8_t> modes;
  std::vector<double> splits, weights, members;
};

Tensor Values(const std::vector<double>& v, DType dt) {
  if (dt == DType::kFloat64) return Tensor::FromVector(v);
  if (dt == DType::kFloat32) {
    std::vector<float> f(v.begin(), v.end());
    return Tensor::FromVector(f);
  }
  std::vector<Float16> h;
  for (double d : v) h.push_back(Float16(static_cast<float>(d)));
  return Tensor::FromVector(h);
}

OpSpec TreeEnsemble(const Trees& t, DType dt, int64_t n_targets, int64_t agg = 1,
                    int64_t post = 0) {
  OpSpec s = Ml("TreeEnsemble", 5);
  s.attributes = {
      {"n_targets", IntAttr(n_targets)},
      {"aggregate_function", IntAttr(agg)},
      {"post_transform", IntAttr(post)},
      {"tree_roots", IntsAttr(t.roots)},
      {"nodes_featureids", IntsAttr(t.feats)},
      {"nodes_modes", TensorAttr(Tensor::FromVector(t.modes))},
      {"nodes_splits", TensorAttr(Values(t.splits, dt))},
      {"nodes_truenodeids", IntsAttr(t.tn)},
      {"nodes_trueleafs", IntsAttr(t.tl)},
      {"nodes_falsenodeids", IntsAttr(t.fn)},
      {"nodes_falseleafs", IntsAttr(t.fl)},
      {"leaf_targetids", IntsAttr(t.targets)},
      {"leaf_weights", TensorAttr(Values(t.weights, dt))},
  };
  if (!t.miss.empty()) s.attributes["nodes_missing_value_tracks_true"] = IntsAttr(t.miss);
  if (!t.members.empty()) s.attributes["membership_values"] = TensorAttr(Values(t.members, dt));
  return s;
}

// ONNX's test_ai_onnx_ml_tree_ensemble_single_tree: one tree of three LEQ
// nodes on x0 (3.14, then 1.2 or 4.2), leaves split over two targets.
Trees SingleTree() {
  Trees t;
  t.roots = {0};
  t.modes = {0, 0, 0};
  t.feats = {0, 0, 0};
  t.splits = {3.14, 1.2, 4.2};
  t.tn = {1, 0, 1};
  t.tl = {0, 1, 1};
  t.fn = {2, 2, 3};
  t.fl = {0, 1, 1};
  t.targets = {0, 1, 0, 1};
  t.weights = {5.23, 12.12, -12.23, 7.21};
  return t;
}

TEST(MlTreeEnsemble, OnnxSingleTreeDouble) {
  OpSpec s = TreeEnsemble(SingleTree(), DType::kFloat64, 2);
  s.inputs = {Tensor::FromVector<double>({1.2, 3.4, -0.12, 1.66, 4.14, 1.77}, {3, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{3, 2}));
  ExpectValues<double>((*out)[0], {5.23, 0, 5.23, 0, 0, 12.12}, 0);
}

TEST(MlTreeEnsemble, OnnxSetMembership) {
  // n0: x <= 11 ? n1 : leaf 2;  n1: x in {1.2, 3.7, 8, 9} ? leaf 0 : n2;
  // n2: x in {12, 7} ? leaf 1 : leaf 3.
  Trees t;
  t.roots = {0};
  t.modes = {0, 6, 6};
  t.feats = {0, 0, 0};
  t.splits = {11, 232344.0, kNaN};
  t.tl = {0, 1, 1};
  t.tn = {1, 0, 1};
  t.fl = {1, 0, 1};
  t.fn = {2, 2, 3};
  t.targets = {0, 1, 2, 3};
  t.weights = {1, 10, 1000, 100};
  t.members = {1.2, 3.7, 8, 9, kNaN, 12, 7, kNaN};
  OpSpec s = TreeEnsemble(t, DType::kFloat32, 4);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  s.inputs = {Tensor::FromVector<float>({1.2f, 3.4f, -0.12f, nan, 12, 7}, {6, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {1, 0, 0,    0, 0, 0, 0,    100, 0, 0,  0, 100,
                                  0, 0, 1000, 0, 0, 0, 1000, 0,   0, 10, 0, 0});
  // The last set's closing NaN may be left out.
  t.members.pop_back();
  s = TreeEnsemble(t, DType::kFloat32, 4);
  s.inputs = {Tensor::FromVector<float>({7}, {1, 1})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {0, 10, 0, 0});
}

// One LEQ node on x0 with split `split`: leaf 0 (weight 1) when true, leaf 1
// (weight 2) when false.
Trees Stump(double split) {
  Trees t;
  t.roots = {0};
  t.modes = {0};
  t.feats = {0};
  t.splits = {split};
  t.tn = {0};
  t.tl = {1};
  t.fn = {1};
  t.fl = {1};
  t.targets = {0, 0};
  t.weights = {1, 2};
  return t;
}

TEST(MlTreeEnsemble, DoubleSplitsCompareInDouble) {
  // 0.30000000000000004 > 0.3 in double; both round to the same float.
  OpSpec s = TreeEnsemble(Stump(0.3), DType::kFloat64, 1);
  s.inputs = {Tensor::FromVector<double>({0.3, 0.30000000000000004}, {2, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<double>((*out)[0], {1, 2}, 0);
}

TEST(MlTreeEnsemble, DoubleWeightsSumInDouble) {
  // Ten one-leaf trees (both branches name the same leaf) voting 0.1 each,
  // and one voting 1 + 2^-40: float would round both.
  Trees t;
  for (int k = 0; k < 11; ++k) {
    t.roots.push_back(k);
    t.modes.push_back(0);
    t.feats.push_back(0);
    t.splits.push_back(0);
    t.tn.push_back(k);
    t.tl.push_back(1);
    t.fn.push_back(k);
    t.fl.push_back(1);
    t.targets.push_back(0);
    t.weights.push_back(k < 10 ? 0.1 : 1 + std::ldexp(1.0, -40));
  }
  OpSpec s = TreeEnsemble(t, DType::kFloat64, 1);
  s.inputs = {Tensor::FromVector<double>({5}, {1, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  double want = 0;
  for (double w : t.weights) want += w;
  EXPECT_EQ((*out)[0].data<double>()[0], want);
  EXPECT_NE(static_cast<double>(static_cast<float>(want)), want);
}

// Two trees over two targets:
//   tree A (n0): x0 < 0.5 ? leaf 0 (t0 += 1) : leaf 1 (t0 += 3)
//   tree B (n1): x1 >= 2 ? leaf 2 (t1 += 4) : leaf 3 (t0 += -1)
Trees TwoTargets() {
  Trees t;
  t.roots = {0, 1};
  t.modes = {1, 2};
  t.feats = {0, 1};
  t.splits = {0.5, 2};
  t.tn = {0, 2};
  t.tl = {1, 1};
  t.fn = {1, 3};
  t.fl = {1, 1};
  t.targets = {0, 0, 1, 0};
  t.weights = {1, 3, 4, -1};
  return t;
}

TEST(MlTreeEnsemble, AggregatesAndUnvotedTargets) {
  // Row [0, 0]: votes t0 {1, -1}, none for t1. Row [1, 5]: t0 {3}, t1 {4}.
  const std::pair<int64_t, std::vector<float>> cases[] = {
      {0, {0, 0, 1.5f, 2}},  // AVERAGE (sum / 2 trees)
      {1, {0, 0, 3, 4}},     // SUM
      {2, {-1, 0, 3, 4}},    // MIN
      {3, {1, 0, 3, 4}},     // MAX
  };
  for (const auto& [agg, want] : cases) {
    OpSpec s = TreeEnsemble(TwoTargets(), DType::kFloat32, 2, agg);
    s.inputs = {Tensor::FromVector<float>({0, 0, 1, 5}, {2, 2})};
    auto out = RunOp(s);
    ASSERT_TRUE(out.ok()) << agg << ": " << out.status().ToString();
    ExpectValues<float>((*out)[0], want);
  }
}

TEST(MlTreeEnsemble, PostTransforms) {
  // Sums [0, 0] and [3, 4].
  OpSpec s = TreeEnsemble(TwoTargets(), DType::kFloat32, 2, 1, /*SOFTMAX*/ 1);
  s.inputs = {Tensor::FromVector<float>({0, 0, 1, 5}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {0.5f, 0.5f, 0.26894142f, 0.73105858f});
  s = TreeEnsemble(TwoTargets(), DType::kFloat32, 2, 1, /*LOGISTIC*/ 2);
  s.inputs = {Tensor::FromVector<float>({0, 0, 1, 5}, {2, 2})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {0.5f, 0.5f, 0.95257413f, 0.98201379f});
}

TEST(MlTreeEnsemble, MissingValuesAndEqualityModes) {
  // n0: x0 > 1 (NaN goes true) ? 10 : 20;  n1: x1 != 2 ? 100 : 200;
  // n2: x1 == 2 ? 1000 : 2000.
  Trees t;
  t.roots = {0, 1, 2};
  t.modes = {3, 5, 4};
  t.feats = {0, 1, 1};
  t.splits = {1, 2, 2};
  t.miss = {1, 0, 0};
  t.tn = {0, 2, 4};
  t.tl = {1, 1, 1};
  t.fn = {1, 3, 5};
  t.fl = {1, 1, 1};
  t.targets = {0, 0, 0, 0, 0, 0};
  t.weights = {10, 20, 100, 200, 1000, 2000};
  OpSpec s = TreeEnsemble(t, DType::kFloat64, 1);
  s.inputs = {Tensor::FromVector<double>({kNaN, kNaN, 0.5, 2, 2, 3}, {3, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // NaN != 2 holds; NaN == 2 does not.
  ExpectValues<double>((*out)[0], {2110, 1220, 2110}, 0);
}

TEST(MlTreeEnsemble, Float16InAndOut) {
  Trees t = Stump(0.5);
  t.weights = {1.5, -2.25};
  OpSpec s = TreeEnsemble(t, DType::kFloat16, 1);
  s.inputs = {Tensor::FromVector<Float16>({Float16(0.25f), Float16(0.75f)}, {2, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].dtype(), DType::kFloat16);
  EXPECT_EQ(static_cast<float>((*out)[0].data<Float16>()[0]), 1.5f);
  EXPECT_EQ(static_cast<float>((*out)[0].data<Float16>()[1]), -2.25f);
}

TEST(MlTreeEnsemble, SharedSubtreeIsNotACycle) {
  // n0: x == 1 ? n2 : n1;  n1: x == 2 ? n2 : leaf 1;  n2: x <= 10 ? leaf 0 : leaf 1.
  Trees t;
  t.roots = {0};
  t.modes = {4, 4, 0};
  t.feats = {0, 0, 0};
  t.splits = {1, 2, 10};
  t.tn = {2, 2, 0};
  t.tl = {0, 0, 1};
  t.fn = {1, 1, 1};
  t.fl = {0, 1, 1};
  t.targets = {0, 0};
  t.weights = {7, 9};
  OpSpec s = TreeEnsemble(t, DType::kFloat32, 1);
  s.inputs = {Tensor::FromVector<float>({1, 2, 3}, {3, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {7, 7, 9});
}

TEST(MlTreeEnsemble, OneDimensionalInputIsOneRow) {
  OpSpec s = TreeEnsemble(SingleTree(), DType::kFloat64, 2);
  s.inputs = {Tensor::FromVector<double>({4.14, 1.77})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 2}));
  ExpectValues<double>((*out)[0], {0, 12.12}, 0);
}

TEST(MlTreeEnsemble, HostileAttributesAreRefused) {
  auto with = [](auto edit) {
    Trees t = SingleTree();
    edit(t);
    OpSpec s = TreeEnsemble(t, DType::kFloat64, 2);
    s.inputs = {Tensor::FromVector<double>({1, 2}, {1, 2})};
    return s;
  };
  // n0 -> n1 -> n0.
  ExpectError(with([](Trees& t) {
                t.tn = {1, 0, 1};
                t.tl = {0, 0, 1};
              }),
              "cycle");
  ExpectError(with([](Trees& t) {
                t.fn[0] = 0;
                t.fl[0] = 0;
              }),
              "cycle");  // n0 -> n0
  ExpectError(with([](Trees& t) { t.roots = {3}; }), "tree_roots");
  ExpectError(with([](Trees& t) { t.roots = {-1}; }), "tree_roots");
  ExpectError(with([](Trees& t) { t.tn[0] = 3; }), "nodes_truenodeids");
  ExpectError(with([](Trees& t) { t.fn[2] = 4; }), "leaves");
  ExpectError(with([](Trees& t) { t.tn[1] = -1; }), "out of range");
  ExpectError(with([](Trees& t) { t.targets[3] = 2; }), "leaf_targetids");
  ExpectError(with([](Trees& t) { t.feats[1] = -4; }), "feature id");
  ExpectError(with([](Trees& t) { t.modes[1] = 7; }), "mode");
  ExpectError(with([](Trees& t) { t.splits.pop_back(); }), "nodes_splits");
  ExpectError(with([](Trees& t) { t.fl.push_back(0); }), "nodes_falseleafs");
  ExpectError(with([](Trees& t) { t.weights.pop_back(); }), "leaf_weights");
  ExpectError(with([](Trees& t) { t.roots.clear(); }), "tree_roots");
  ExpectError(with([](Trees& t) { t.miss = {1}; }), "nodes_missing_value_tracks_true");
  // Two BRANCH_MEMBER nodes need two NaN-separated sets.
  ExpectError(with([](Trees& t) {
                t.modes = {0, 6, 6};
                t.members = {1, 2};
              }),
              "membership_values");
  ExpectError(with([](Trees& t) {
                t.modes = {0, 6, 0};
                t.members = {1, kNaN, 2, kNaN};
              }),
              "more sets");
  // Feature 5 of a 2-column input, caught at run time.
  OpSpec s = with([](Trees& t) { t.feats[2] = 5; });
  ExpectError(s, "feature id 5");
  // The input must have the splits' element type.
  s = TreeEnsemble(SingleTree(), DType::kFloat64, 2);
  s.inputs = {Tensor::FromVector<float>({1, 2}, {1, 2})};
  ExpectError(s, "must match");
  s = TreeEnsemble(SingleTree(), DType::kFloat64, 0);
  s.attributes.erase("n_targets");
  ExpectError(s, "n_targets");
  s = TreeEnsemble(SingleTree(), DType::kFloat64, 2, /*agg=*/4);
  ExpectError(s, "aggregate_function");
  s = TreeEnsemble(SingleTree(), DType::kFloat64, 2, 1, /*post=*/9);
  ExpectError(s, "post_transform");
  s = TreeEnsemble(SingleTree(), DType::kFloat64, 2);
  s.attributes["leaf_weights"] = TensorAttr(Values({1, 2, 3, 4}, DType::kFloat32));
  ExpectError(s, "one element type");
}

// ---- The compiled walk against a plain one ----
//
// The kernel compiles each forest into slot pairs and walks 8 rows of a tree
// at a time (a leftover row: 8 trees at a time); these tests compare it bit
// for bit with the plain walk below (one row, one tree, one node at a time,
// as the spec reads) on random forests: every mode mix that selects a
// different step (all LEQ, LT, GTE or GT, with and without NaN sent to the
// true child; EQ/NEQ/MEMBER mixes), NaN inputs and splits, one-leaf trees,
// shared subtrees, and batch sizes on both sides of the block (8 rows) and
// chunk (128 rows) sizes. Weights use the whole float mantissa, so a sum in
// another order would show.

// The plain walk: row r's aggregated votes, summed in Acc in tree order.
template <typename Acc>
std::vector<Acc> PlainWalk(const Trees& t, const std::vector<double>& x, int64_t n, int64_t c,
                           int64_t k, int64_t agg) {
  std::vector<std::vector<double>> sets(t.modes.size());
  size_t m = 0;
  for (size_t i = 0; i < t.modes.size(); ++i) {
    if (t.modes[i] != 6) continue;
    while (m < t.members.size() && !std::isnan(t.members[m])) sets[i].push_back(t.members[m++]);
    ++m;
  }
  std::vector<Acc> out(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r) {
    std::vector<Acc> acc(static_cast<size_t>(k), Acc(0));
    std::vector<bool> seen(static_cast<size_t>(k), false);
    for (int64_t root : t.roots) {
      size_t i = static_cast<size_t>(root);
      for (;;) {
        const double v = x[static_cast<size_t>(r * c + t.feats[i])];
        const double s = t.splits[i];
        bool go = false;
        if (std::isnan(v)) {
          go = (!t.miss.empty() && t.miss[i]) || t.modes[i] == 5;
        } else {
          switch (t.modes[i]) {
            case 0:
              go = v <= s;
              break;
            case 1:
              go = v < s;
              break;
            case 2:
              go = v >= s;
              break;
            case 3:
              go = v > s;
              break;
            case 4:
              go = v == s;
              break;
            case 5:
              go = v != s;
              break;
            default:
              for (double e : sets[i]) go = go || e == v;
          }
        }
        const int64_t next = go ? t.tn[i] : t.fn[i];
        if (go ? t.tl[i] : t.fl[i]) {
          const size_t tgt = static_cast<size_t>(t.targets[static_cast<size_t>(next)]);
          const Acc w = static_cast<Acc>(t.weights[static_cast<size_t>(next)]);
          if (agg == 2)
            acc[tgt] = seen[tgt] ? std::min(acc[tgt], w) : w;
          else if (agg == 3)
            acc[tgt] = seen[tgt] ? std::max(acc[tgt], w) : w;
          else
            acc[tgt] += w;
          seen[tgt] = true;
          break;
        }
        i = static_cast<size_t>(next);
      }
    }
    for (int64_t j = 0; j < k; ++j) {
      if (agg == 0) acc[static_cast<size_t>(j)] /= static_cast<Acc>(t.roots.size());
      out[static_cast<size_t>(r * k + j)] = acc[static_cast<size_t>(j)];
    }
  }
  return out;
}

// Random forests and inputs. Values are floats (so a float and a double
// model mean the same); splits, members and most inputs are on a coarse grid,
// so that EQ and MEMBER hit.
struct RandomTrees {
  std::mt19937 rng;
  std::vector<uint8_t> modes;  // to draw from
  bool missing = false;        // draw nodes_missing_value_tracks_true
  int64_t c = 5, k = 3;
  int max_depth = 6;

  explicit RandomTrees(uint32_t seed) : rng(seed) {}
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }
  int64_t Below(int64_t n) { return std::uniform_int_distribution<int64_t>(0, n - 1)(rng); }
  double Grid() { return 0.5 * static_cast<double>(Below(9) - 4); }

  int64_t Leaf(Trees& t) {
    t.targets.push_back(Below(k));
    // Full-mantissa weights: their sums round differently in another order.
    t.weights.push_back(static_cast<float>(std::uniform_real_distribution<double>(-2, 2)(rng)));
    return static_cast<int64_t>(t.targets.size()) - 1;
  }
  // Appends a branch (its children after it) and returns its index.
  int64_t Branch(Trees& t, int depth) {
    const size_t i = t.feats.size();
    const uint8_t mode = modes[static_cast<size_t>(Below(static_cast<int64_t>(modes.size())))];
    t.modes.push_back(mode);
    t.feats.push_back(Below(c));
    t.splits.push_back(Chance(0.05) ? std::nan("") : Grid());
    t.miss.push_back(missing && Chance(0.5) ? 1 : 0);
    if (mode == 6) {  // this node's set, in node order
      for (int64_t e = 1 + Below(3); e > 0; --e) t.members.push_back(Grid());
      t.members.push_back(std::nan(""));
    }
    t.tn.push_back(0);
    t.tl.push_back(0);
    t.fn.push_back(0);
    t.fl.push_back(0);
    // (Children are appended after this node, so t's vectors grow meanwhile.)
    auto child = [&](std::vector<int64_t>& ids, std::vector<int64_t>& leafs) {
      const bool leaf = depth >= max_depth || Chance(0.3);
      const int64_t id = leaf ? Leaf(t) : Branch(t, depth + 1);
      ids[i] = id;
      leafs[i] = leaf ? 1 : 0;
    };
    child(t.tn, t.tl);
    const size_t after_true = t.feats.size();
    if (!t.tl[i] && after_true > i + 2 && Chance(0.15)) {
      // Share a node of the true subtree (a DAG, not a cycle).
      t.fn[i] = static_cast<int64_t>(i) + 1 + Below(static_cast<int64_t>(after_true - i - 1));
      t.fl[i] = 0;
    } else {
      child(t.fn, t.fl);
    }
    return static_cast<int64_t>(i);
  }
  Trees Forest(int n_trees) {
    Trees t;
    for (int j = 0; j < n_trees; ++j) {
      if (Chance(0.15)) {  // a one-leaf tree: a root whose branches name one leaf
        const int64_t leaf = Leaf(t);
        t.roots.push_back(static_cast<int64_t>(t.feats.size()));
        t.modes.push_back(modes[0]);
        t.feats.push_back(Below(c));
        t.splits.push_back(Grid());
        t.miss.push_back(0);
        if (modes[0] == 6) t.members.push_back(std::nan(""));
        t.tn.push_back(leaf);
        t.tl.push_back(1);
        t.fn.push_back(leaf);
        t.fl.push_back(1);
      } else {
        t.roots.push_back(Branch(t, 1));
      }
    }
    return t;
  }
  std::vector<double> Rows(int64_t n) {
    std::vector<double> x(static_cast<size_t>(n * c));
    for (double& v : x) v = Chance(0.1) ? std::nan("") : Chance(0.7) ? Grid() : Grid() + 0.3;
    return x;
  }
};

template <typename T>
void ExpectSameAsPlainWalk(const Trees& t, const std::vector<double>& x, int64_t n, int64_t c,
                           int64_t k, int64_t agg, const std::string& what) {
  using Acc = T;  // float models sum in float, double ones in double
  const DType dt = DTypeOf<T>();
  OpSpec s = TreeEnsemble(t, dt, k, agg);
  std::vector<T> xt(x.begin(), x.end());
  s.inputs = {Tensor::FromVector<T>(xt, {n, c})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << what << ": " << out.status().ToString();
  const std::vector<Acc> want = PlainWalk<Acc>(t, x, n, c, k, agg);
  ASSERT_EQ((*out)[0].size(), static_cast<int64_t>(want.size())) << what;
  const T* got = (*out)[0].data<T>();
  int64_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(T)) == 0) continue;
    if (++bad <= 3)
      ADD_FAILURE() << what << ": row " << i / static_cast<size_t>(k) << " target "
                    << i % static_cast<size_t>(k) << ": got " << got[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

TEST(MlTreeEnsemble, CompiledWalkMatchesAPlainWalk) {
  struct Case {
    const char* name;
    std::vector<uint8_t> modes;
    bool missing;
  };
  const Case cases[] = {
      {"LEQ", {0}, false},
      {"LEQ+missing", {0}, true},
      {"LT+missing", {1}, true},
      {"GTE", {2}, false},
      {"GT+missing", {3}, true},
      {"EQ", {4}, false},
      {"mixed", {0, 1, 2, 3, 4, 5}, true},
      {"mixed+MEMBER", {0, 4, 5, 6}, true},
      {"MEMBER", {6}, true},
  };
  uint32_t seed = 1;
  for (const Case& cs : cases) {
    RandomTrees gen(seed++);
    gen.modes = cs.modes;
    gen.missing = cs.missing;
    const Trees t = gen.Forest(13);
    for (int64_t n : {1, 3, 8, 9, 17, 127, 128, 300}) {
      const std::vector<double> x = gen.Rows(n);
      const std::string what = std::string(cs.name) + ", " + std::to_string(n) + " rows";
      ExpectSameAsPlainWalk<double>(t, x, n, gen.c, gen.k, 1, what + ", double");
      ExpectSameAsPlainWalk<float>(t, x, n, gen.c, gen.k, 1, what + ", float");
    }
    // The other aggregates, on one size with a partial block and chunk.
    const std::vector<double> x = gen.Rows(141);
    for (int64_t agg : {0, 2, 3})
      ExpectSameAsPlainWalk<double>(t, x, 141, gen.c, gen.k, agg,
                                    std::string(cs.name) + ", aggregate " + std::to_string(agg));
  }
}

TEST(MlTreeEnsemble, NanRoutingInBlocks) {
  // One LEQ node on x0 at 0 per tree: tree 0 sends NaN true (weight 1, else
  // 2), tree 1 false (weight 10 if true, else 20). Rows: NaN in every third
  // lane of 2.5 blocks, other rows -1 (true) or 1 (false).
  Trees t;
  t.roots = {0, 1};
  t.modes = {0, 0};
  t.feats = {0, 0};
  t.splits = {0, 0};
  t.miss = {1, 0};
  t.tn = {0, 2};
  t.tl = {1, 1};
  t.fn = {1, 3};
  t.fl = {1, 1};
  t.targets = {0, 0, 0, 0};
  t.weights = {1, 2, 10, 20};
  const int64_t n = 20;
  std::vector<double> x(n), want(n);
  for (int64_t r = 0; r < n; ++r) {
    x[r] = r % 3 == 0 ? kNaN : r % 2 ? -1 : 1;
    want[r] = r % 3 == 0 ? 1 + 20 : x[r] < 0 ? 1 + 10 : 2 + 20;
  }
  OpSpec s = TreeEnsemble(t, DType::kFloat64, 1);
  s.inputs = {Tensor::FromVector<double>(x, {n, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<double>((*out)[0], want, 0);
  // Against NaN splits every comparison is false (NEQ true) for numbers;
  // a NaN input still follows nodes_missing_value_tracks_true.
  t.splits = {kNaN, kNaN};
  for (int64_t r = 0; r < n; ++r) want[r] = r % 3 == 0 ? 1 + 20 : 2 + 20;
  s = TreeEnsemble(t, DType::kFloat64, 1);
  s.inputs = {Tensor::FromVector<double>(x, {n, 1})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<double>((*out)[0], want, 0);
  t.modes = {5, 4};  // NEQ: NaN split -> true; EQ: false
  for (int64_t r = 0; r < n; ++r) want[r] = 1 + 20;
  s = TreeEnsemble(t, DType::kFloat64, 1);
  s.inputs = {Tensor::FromVector<double>(x, {n, 1})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<double>((*out)[0], want, 0);
}

TEST(MlTreeEnsemble, OneLeafTreesOnly) {
  // Three one-leaf trees (both branches name the leaf) voting 1, 2 and 4 to
  // targets 0, 1 and 0, over 11 rows (a block and a partial one).
  Trees t;
  for (int64_t j = 0; j < 3; ++j) {
    t.roots.push_back(j);
    t.modes.push_back(j == 2 ? 6 : 0);
    t.feats.push_back(0);
    t.splits.push_back(0);
    t.tn.push_back(j);
    t.tl.push_back(1);
    t.fn.push_back(j);
    t.fl.push_back(1);
    t.targets.push_back(j == 1 ? 1 : 0);
    t.weights.push_back(static_cast<double>(1 << j));
  }
  t.members = {7};
  OpSpec s = TreeEnsemble(t, DType::kFloat32, 2);
  std::vector<float> x(11, 0.5f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  s.inputs = {Tensor::FromVector<float>(x, {11, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::vector<float> want;
  for (int r = 0; r < 11; ++r) want.insert(want.end(), {5, 2});
  ExpectValues<float>((*out)[0], want, 0);
}

TEST(MlTreeEnsemble, ManyTargetsRunARowAtATime) {
  // 70,000 targets: accumulators for a chunk of rows would be large, so the
  // kernel runs one row per chunk; tree 0 votes for the last target.
  Trees t = Stump(0.5);
  t.targets = {69999, 0};
  OpSpec s = TreeEnsemble(t, DType::kFloat64, 70000);
  s.inputs = {Tensor::FromVector<double>({0, 1, 0}, {3, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const double* y = (*out)[0].data<double>();
  EXPECT_EQ(y[69999], 1);
  EXPECT_EQ(y[70000], 2);
  EXPECT_EQ(y[70000 + 69999], 0);
  EXPECT_EQ(y[140000 + 69999], 1);
  double sum = 0;
  for (int64_t i = 0; i < 210000; ++i) sum += y[i];
  EXPECT_EQ(sum, 4);
}

TEST(MlTreeEnsemble, OpsetRanges) {
  OpSpec s = TreeEnsemble(SingleTree(), DType::kFloat64, 2);
  s.inputs = {Tensor::FromVector<double>({1, 2}, {1, 2})};
  s.opset = 4;
  ExpectError(s, "opsets 5-5");
}

// TreeEnsembleRegressor with the opset-3 double attributes: one LEQ node on
// x0 at 0.3, leaf weights 1 and 2.
OpSpec RegressorAsTensor() {
  OpSpec s = Ml("TreeEnsembleRegressor", 3);
  s.attributes = {
      {"nodes_treeids", IntsAttr({0, 0, 0})},
      {"nodes_nodeids", IntsAttr({0, 1, 2})},
      {"nodes_featureids", IntsAttr({0, 0, 0})},
      {"nodes_modes", StringsAttr({"BRANCH_LEQ", "LEAF", "LEAF"})},
      {"nodes_values_as_tensor", TensorAttr(Tensor::FromVector<double>({0.3, 0, 0}))},
      {"nodes_truenodeids", IntsAttr({1, 0, 0})},
      {"nodes_falsenodeids", IntsAttr({2, 0, 0})},
      {"target_treeids", IntsAttr({0, 0})},
      {"target_nodeids", IntsAttr({1, 2})},
      {"target_ids", IntsAttr({0, 0})},
      {"target_weights_as_tensor", TensorAttr(Tensor::FromVector<double>({1, 2}))},
      {"base_values_as_tensor", TensorAttr(Tensor::FromVector<double>({0.5}))},
  };
  s.inputs = {Tensor::FromVector<double>({0.3, 0.30000000000000004}, {2, 1})};
  return s;
}

TEST(MlTreeEnsembleRegressor, DoubleAttributesCompareInDouble) {
  auto out = RunOp(RegressorAsTensor());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {1.5f, 2.5f}, 0);
  OpSpec s = RegressorAsTensor();
  s.attributes["nodes_values"] = FloatsAttr({0.3f, 0, 0});
  ExpectError(s, "both set");
}

TEST(MlTreeEnsembleRegressor, LeafRootAndIntegerRowsInChunks) {
  // Tree 0 is one LEAF (1.5); tree 1: x1 <= 2 ? 2.25 : -4. int64 input is
  // converted a chunk at a time; 300 rows span three chunks.
  OpSpec s = Ml("TreeEnsembleRegressor", 3);
  s.attributes = {
      {"nodes_treeids", IntsAttr({0, 1, 1, 1})},
      {"nodes_nodeids", IntsAttr({0, 0, 1, 2})},
      {"nodes_featureids", IntsAttr({0, 1, 0, 0})},
      {"nodes_modes", StringsAttr({"LEAF", "BRANCH_LEQ", "LEAF", "LEAF"})},
      {"nodes_values", FloatsAttr({0, 2, 0, 0})},
      {"nodes_truenodeids", IntsAttr({0, 1, 0, 0})},
      {"nodes_falsenodeids", IntsAttr({0, 2, 0, 0})},
      {"target_treeids", IntsAttr({0, 1, 1})},
      {"target_nodeids", IntsAttr({0, 1, 2})},
      {"target_ids", IntsAttr({0, 0, 0})},
      {"target_weights", FloatsAttr({1.5f, 2.25f, -4})},
  };
  const int64_t n = 300;
  std::vector<int64_t> x;
  std::vector<float> want;
  for (int64_t r = 0; r < n; ++r) {
    x.insert(x.end(), {r, r % 5});
    want.push_back(1.5f + (r % 5 <= 2 ? 2.25f : -4.0f));
  }
  s.inputs = {Tensor::FromVector<int64_t>(x, {n, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], want, 0);
  // Only the LEAF tree: no column is ever read, and none is needed.
  s.attributes["nodes_treeids"] = IntsAttr({0});
  s.attributes["nodes_nodeids"] = IntsAttr({0});
  s.attributes["nodes_featureids"] = IntsAttr({0});
  s.attributes["nodes_modes"] = StringsAttr({"LEAF"});
  s.attributes["nodes_values"] = FloatsAttr({0});
  s.attributes["nodes_truenodeids"] = IntsAttr({0});
  s.attributes["nodes_falsenodeids"] = IntsAttr({0});
  s.attributes["target_treeids"] = IntsAttr({0});
  s.attributes["target_nodeids"] = IntsAttr({0});
  s.attributes["target_ids"] = IntsAttr({0});
  s.attributes["target_weights"] = FloatsAttr({1.5f});
  s.inputs = {Tensor::FromVector<float>(std::vector<float>{}, {9, 0})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], std::vector<float>(9, 1.5f), 0);
}

TEST(MlTreeEnsembleRegressor, OpsetRangeEndsAtFour) {
  OpSpec s = RegressorAsTensor();
  s.opset = 4;
  EXPECT_TRUE(RunOp(s).ok());
  s.opset = 5;
  auto out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(out.status().message().find("opsets 1-4"), std::string::npos)
      << out.status().ToString();
}

TEST(MlTreeEnsembleRegressor, CycleThroughSharedIdsIsRefused) {
  // n0 -> n1 -> n2 -> n1: every node but n0 is a child, so n0 is the root,
  // and the walk from it loops.
  OpSpec s = RegressorAsTensor();
  s.attributes["nodes_modes"] = StringsAttr({"BRANCH_LEQ", "BRANCH_LEQ", "BRANCH_LEQ"});
  s.attributes["nodes_truenodeids"] = IntsAttr({1, 2, 1});
  s.attributes["nodes_falsenodeids"] = IntsAttr({1, 2, 1});
  ExpectError(s, "cycle");
}

TEST(MlTreeEnsembleClassifier, OpsetRangeEndsAtFour) {
  OpSpec s = Ml("TreeEnsembleClassifier", 5);
  s.num_outputs = 2;
  s.attributes = {{"classlabels_int64s", IntsAttr({0, 1})}, {"post_transform", StringAttr("NONE")}};
  s.inputs = {Tensor::FromVector<float>({1}, {1, 1})};
  ExpectError(s, "opsets 1-4");
}

}  // namespace
}  // namespace tiffin
