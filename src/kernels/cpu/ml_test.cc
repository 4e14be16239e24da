// ai.onnx.ml kernel tests. Expected values are computed by hand or with
// numpy, independently of the kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::FloatAttr;
using testing::FloatsAttr;
using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;
using testing::StringAttr;

ir::Attribute StringsAttr(std::vector<std::string> v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::kStrings;
  a.strings = std::move(v);
  return a;
}

OpSpec Ml(const char* op) {
  OpSpec s{.op_type = op, .domain = "ai.onnx.ml"};
  s.opset = 3;
  return s;
}

void ExpectFloats(const Tensor& t, const std::vector<float>& want, float tol = 1e-6f) {
  ASSERT_EQ(t.dtype(), DType::kFloat32);
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(t.data<float>()[i], want[i], tol) << "at " << i;
}

TEST(MlScaler, PerColumnOffsetAndScale) {
  OpSpec s = Ml("Scaler");
  s.attributes = {{"offset", FloatsAttr({1, 2})}, {"scale", FloatsAttr({2, 0.5f})}};
  s.inputs = {Tensor::FromVector<float>({1, 2, 3, 4}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  ExpectFloats((*out)[0], {0, 0, 4, 1});
}

TEST(MlScaler, DoubleInputGivesFloatAndWrongLengthIsAnError) {
  OpSpec s = Ml("Scaler");
  s.attributes = {{"offset", FloatsAttr({1})}, {"scale", FloatsAttr({3})}};
  s.inputs = {Tensor::FromVector<double>({1, 2, 3}, {1, 3})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectFloats((*out)[0], {0, 3, 6});
  s.attributes["scale"] = FloatsAttr({1, 2});
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("scale"), std::string::npos);
}

TEST(MlNormalizer, MaxL1L2AndZeroRow) {
  OpSpec s = Ml("Normalizer");
  s.inputs = {Tensor::FromVector<float>({3, 4, 0, 0, 1, -3}, {3, 2})};
  s.attributes = {{"norm", StringAttr("L2")}};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // rows: [3,4]/5, zero row unchanged, [1,-3]/sqrt(10)
  ExpectFloats((*out)[0], {0.6f, 0.8f, 0, 0, 0.31622777f, -0.94868330f});
  s.attributes = {{"norm", StringAttr("L1")}};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectFloats((*out)[0], {3.f / 7, 4.f / 7, 0, 0, 0.25f, -0.75f});
  s.attributes = {{"norm", StringAttr("MAX")}};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectFloats((*out)[0], {0.75f, 1, 0, 0, 1, -3});
  s.attributes = {{"norm", StringAttr("L3")}};
  EXPECT_FALSE(RunOp(s).ok());
}

TEST(MlBinarizer, StrictlyGreaterThanThreshold) {
  OpSpec s = Ml("Binarizer");
  s.attributes = {{"threshold", FloatAttr(0.5f)}};
  s.inputs = {Tensor::FromVector<float>({0.2f, 0.5f, 0.7f, -1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectFloats((*out)[0], {0, 0, 1, 0});
}

TEST(MlImputer, ReplacesNaNPerColumn) {
  OpSpec s = Ml("Imputer");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  s.attributes = {{"imputed_value_floats", FloatsAttr({10, 20})},
                  {"replaced_value_float", FloatAttr(nan)}};
  s.inputs = {Tensor::FromVector<float>({nan, 2, 3, nan}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectFloats((*out)[0], {10, 2, 3, 20});
}

TEST(MlImputer, ReplacesValueAndInt64) {
  OpSpec s = Ml("Imputer");
  s.attributes = {{"imputed_value_floats", FloatsAttr({7})},
                  {"replaced_value_float", FloatAttr(-1)}};
  s.inputs = {Tensor::FromVector<float>({-1, 2, -1}, {1, 3})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectFloats((*out)[0], {7, 2, 7});
  s.attributes = {{"imputed_value_int64s", IntsAttr({5})}, {"replaced_value_int64", IntAttr(0)}};
  s.inputs = {Tensor::FromVector<int64_t>({0, 3, 0}, {3})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const int64_t want[] = {5, 3, 5};
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*out)[0].data<int64_t>()[i], want[i]);
  s.attributes = {};  // neither imputed list
  EXPECT_FALSE(RunOp(s).ok());
}

TEST(MlLinearRegressor, TwoTargets) {
  OpSpec s = Ml("LinearRegressor");
  s.attributes = {{"coefficients", FloatsAttr({1, 2, 3, 4})},
                  {"intercepts", FloatsAttr({0.5f, -1})},
                  {"targets", IntAttr(2)}};
  s.inputs = {Tensor::FromVector<float>({1, 1, 2, 0}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  ExpectFloats((*out)[0], {3.5f, 6, 2.5f, 5});
  s.inputs = {Tensor::FromVector<float>({1, 1, 1}, {1, 3})};  // width mismatch
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("coefficients"), std::string::npos);
}

TEST(MlLinearClassifier, MulticlassSoftmaxIntLabels) {
  OpSpec s = Ml("LinearClassifier");
  s.num_outputs = 2;
  s.attributes = {{"coefficients", FloatsAttr({1, 0, 0, 1, -1, 1})},
                  {"intercepts", FloatsAttr({0.1f, 0.2f, 0.3f})},
                  {"classlabels_ints", IntsAttr({7, 8, 9})},
                  {"multi_class", IntAttr(1)},
                  {"post_transform", StringAttr("SOFTMAX")}};
  s.inputs = {Tensor::FromVector<float>({1, 2, 3, -1}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // numpy: scores [[1.1,2.2,1.3],[3.1,-0.8,-3.7]] -> argmax [1,0]
  EXPECT_EQ((*out)[0].data<int64_t>()[0], 8);
  EXPECT_EQ((*out)[0].data<int64_t>()[1], 7);
  EXPECT_EQ((*out)[1].shape(), (Shape{2, 3}));
  ExpectFloats((*out)[1],
               {0.19136672f, 0.57489747f, 0.23373584f, 0.9790908f, 0.01981867f, 0.00109049f});
  s.attributes["post_transform"] = StringAttr("NONE");
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectFloats((*out)[1], {1.1f, 2.2f, 1.3f, 3.1f, -0.8f, -3.7f}, 1e-5f);
}

TEST(MlLinearClassifier, BinaryOneRowExpandsToTwoScores) {
  OpSpec s = Ml("LinearClassifier");
  s.num_outputs = 2;
  s.attributes = {{"coefficients", FloatsAttr({1, -1})},
                  {"intercepts", FloatsAttr({0})},
                  {"classlabels_strings", StringsAttr({"neg", "pos"})},
                  {"post_transform", StringAttr("LOGISTIC")}};
  s.inputs = {Tensor::FromVector<float>({2, 1, 0, 3}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<std::string>()[0], "pos");  // score 1
  EXPECT_EQ((*out)[0].data<std::string>()[1], "neg");  // score -3
  EXPECT_EQ((*out)[1].shape(), (Shape{2, 2}));
  const float p0 = 0.7310585786f, p1 = 0.0474258732f;
  ExpectFloats((*out)[1], {1 - p0, p0, 1 - p1, p1});
}

TEST(MlLinearClassifier, BadAttributesAreRefused) {
  OpSpec s = Ml("LinearClassifier");
  s.num_outputs = 2;
  s.inputs = {Tensor::FromVector<float>({1, 2}, {1, 2})};
  s.attributes = {{"coefficients", FloatsAttr({1, 2, 3, 4})},
                  {"intercepts", FloatsAttr({0, 0})},
                  {"classlabels_ints", IntsAttr({1, 2, 3})}};
  EXPECT_FALSE(RunOp(s).ok());
  s.attributes = {{"coefficients", FloatsAttr({1, 2, 3})},
                  {"intercepts", FloatsAttr({0, 0})},
                  {"classlabels_ints", IntsAttr({1, 2})}};
  EXPECT_FALSE(RunOp(s).ok());
  s.attributes = {{"coefficients", FloatsAttr({1, 2})},
                  {"classlabels_ints", IntsAttr({1, 2})},
                  {"post_transform", StringAttr("PROBIT")}};
  EXPECT_FALSE(RunOp(s).ok());
}

TEST(MlArrayFeatureExtractor, GathersLastAxisAndChecksBounds) {
  OpSpec s = Ml("ArrayFeatureExtractor");
  s.inputs = {Tensor::FromVector<int64_t>({1, 2, 3, 4, 5, 6}, {2, 3}),
              Tensor::FromVector<int64_t>({2, 0}, {2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  const int64_t want[] = {3, 1, 6, 4};
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*out)[0].data<int64_t>()[i], want[i]);
  s.inputs[1] = Tensor::FromVector<int64_t>({3}, {1});
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("out of range"), std::string::npos);
}

// Two hand-built trees over X = [x0, x1]:
//   tree 0: n0: x0 <= 1.5 ? n1 : n2
//   tree 1: n0: x1 < 0 ? n1 : n2 (NaN goes true); n2: x0 > 3 ? n3 : n4
void TwoTrees(OpSpec& s) {
  s.attributes["nodes_treeids"] = IntsAttr({0, 0, 0, 1, 1, 1, 1, 1});
  s.attributes["nodes_nodeids"] = IntsAttr({0, 1, 2, 0, 1, 2, 3, 4});
  s.attributes["nodes_featureids"] = IntsAttr({0, 0, 0, 1, 0, 0, 0, 0});
  s.attributes["nodes_modes"] =
      StringsAttr({"BRANCH_LEQ", "LEAF", "LEAF", "BRANCH_LT", "LEAF", "BRANCH_GT", "LEAF", "LEAF"});
  s.attributes["nodes_values"] = FloatsAttr({1.5f, 0, 0, 0, 0, 3, 0, 0});
  s.attributes["nodes_truenodeids"] = IntsAttr({1, 0, 0, 1, 0, 3, 0, 0});
  s.attributes["nodes_falsenodeids"] = IntsAttr({2, 0, 0, 2, 0, 4, 0, 0});
  s.attributes["nodes_missing_value_tracks_true"] = IntsAttr({0, 0, 0, 1, 0, 0, 0, 0});
}

const float kNaN = std::numeric_limits<float>::quiet_NaN();

OpSpec TreeReg(const char* agg) {
  OpSpec s = Ml("TreeEnsembleRegressor");
  TwoTrees(s);
  s.attributes["target_treeids"] = IntsAttr({0, 0, 1, 1, 1});
  s.attributes["target_nodeids"] = IntsAttr({1, 2, 1, 3, 4});
  s.attributes["target_ids"] = IntsAttr({0, 0, 0, 0, 0});
  s.attributes["target_weights"] = FloatsAttr({1, 2, 10, 20, 30});
  s.attributes["base_values"] = FloatsAttr({0.5f});
  s.attributes["aggregate_function"] = StringAttr(agg);
  s.inputs = {Tensor::FromVector<float>({1, -1, 2, 0, 4, kNaN, kNaN, 5}, {4, 2})};
  return s;
}

TEST(MlTreeEnsembleRegressor, TwoTreesAllAggregates) {
  // leaves per row: A(1,-1): 1,10  B(2,0): 2,30  C(4,NaN): 2,10  D(NaN,5): 2,30
  const std::pair<const char*, std::vector<float>> cases[] = {
      {"SUM", {11.5f, 32.5f, 12.5f, 32.5f}},
      {"AVERAGE", {6.0f, 16.5f, 6.5f, 16.5f}},
      {"MIN", {1.5f, 2.5f, 2.5f, 2.5f}},
      {"MAX", {10.5f, 30.5f, 10.5f, 30.5f}},
  };
  for (const auto& [agg, want] : cases) {
    auto out = RunOp(TreeReg(agg));
    ASSERT_TRUE(out.ok()) << agg << ": " << out.status().ToString();
    EXPECT_EQ((*out)[0].shape(), (Shape{4, 1}));
    ExpectFloats((*out)[0], want);
  }
}

TEST(MlTreeEnsembleRegressor, BadModelsAreRefused) {
  OpSpec s = TreeReg("SUM");
  s.attributes["nodes_falsenodeids"] = IntsAttr({2, 0, 0, 2, 0, 9, 0, 0});  // no node 9
  auto out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("child id"), std::string::npos);
  s = TreeReg("SUM");
  s.attributes["nodes_values"] = FloatsAttr({1.5f, 0, 0});  // short
  EXPECT_FALSE(RunOp(s).ok());
  s = TreeReg("SUM");
  s.attributes["target_ids"] = IntsAttr({0, 0, 0, 0, 1});  // n_targets is 1
  EXPECT_FALSE(RunOp(s).ok());
  s = TreeReg("SUM");
  s.inputs = {Tensor::FromVector<float>({1}, {1, 1})};  // feature 1 missing
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("feature id"), std::string::npos);
  s = TreeReg("SUM");
  // tree 0 becomes a cycle n0 -> n1 -> n0: no root
  s.attributes["nodes_modes"] = StringsAttr(
      {"BRANCH_LEQ", "BRANCH_LEQ", "LEAF", "BRANCH_LT", "LEAF", "BRANCH_GT", "LEAF", "LEAF"});
  s.attributes["nodes_truenodeids"] = IntsAttr({1, 0, 0, 1, 0, 3, 0, 0});
  s.attributes["nodes_falsenodeids"] = IntsAttr({2, 0, 0, 2, 0, 4, 0, 0});
  EXPECT_FALSE(RunOp(s).ok());
  s = TreeReg("SUM");
  ir::Attribute t;
  t.kind = ir::Attribute::Kind::kTensor;
  t.t = Tensor::FromVector<double>({0.5});
  s.attributes["base_values_as_tensor"] = t;  // base_values is set too
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("both set"), std::string::npos);
}

TEST(MlTreeEnsembleClassifier, TwoTreesSoftmaxIntLabels) {
  OpSpec s = Ml("TreeEnsembleClassifier");
  s.num_outputs = 2;
  TwoTrees(s);
  s.attributes["class_treeids"] = IntsAttr({0, 0, 1, 1, 1, 1});
  s.attributes["class_nodeids"] = IntsAttr({1, 2, 1, 1, 3, 4});
  s.attributes["class_ids"] = IntsAttr({0, 1, 2, 0, 1, 2});
  s.attributes["class_weights"] = FloatsAttr({1, 1, 0.5f, 0.5f, 2, 3});
  s.attributes["classlabels_int64s"] = IntsAttr({10, 20, 30});
  s.attributes["post_transform"] = StringAttr("SOFTMAX");
  s.inputs = {Tensor::FromVector<float>({1, -1, 2, 0, 4, kNaN, 5, 1}, {4, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // raw scores [1.5,0,.5] [0,1,3] [.5,1,.5] [0,3,0]; softmax by numpy
  const int64_t labels[] = {10, 30, 20, 20};
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*out)[0].data<int64_t>()[i], labels[i]);
  EXPECT_EQ((*out)[1].shape(), (Shape{4, 3}));
  ExpectFloats((*out)[1],
               {0.62853175f, 0.14024438f, 0.2312239f, 0.04201007f, 0.1141952f, 0.8437947f,
                0.27406862f, 0.45186275f, 0.27406862f, 0.0452785f, 0.909443f, 0.0452785f});
}

TEST(MlTreeEnsembleClassifier, BinaryOneColumnExpands) {
  OpSpec s = Ml("TreeEnsembleClassifier");
  s.num_outputs = 2;
  TwoTrees(s);
  s.attributes["class_treeids"] = IntsAttr({0, 0, 1, 1, 1});
  s.attributes["class_nodeids"] = IntsAttr({1, 2, 1, 3, 4});
  s.attributes["class_ids"] = IntsAttr({0, 0, 0, 0, 0});
  s.attributes["class_weights"] = FloatsAttr({0.2f, 0.6f, 0.1f, 0.3f, 0.4f});
  s.attributes["classlabels_strings"] = StringsAttr({"a", "b"});
  s.inputs = {Tensor::FromVector<float>({1, -1, 2, 0, 4, kNaN}, {3, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // p = .2+.1, .6+.4, .6+.1
  EXPECT_EQ((*out)[0].data<std::string>()[0], "a");
  EXPECT_EQ((*out)[0].data<std::string>()[1], "b");
  EXPECT_EQ((*out)[0].data<std::string>()[2], "b");
  ExpectFloats((*out)[1], {0.7f, 0.3f, 0.0f, 1.0f, 0.3f, 0.7f}, 1e-6f);
}

// tiffin values are tensors: ZipMap returns its [N, K] input, whose columns
// are the labels' values (the loader declares the output that way).
TEST(MlZipMap, ReturnsTheScoresAndChecksTheirWidth) {
  OpSpec s = Ml("ZipMap");
  s.attributes = {{"classlabels_strings", StringsAttr({"no", "yes"})}};
  s.inputs = {Tensor::FromVector<float>({0.25f, 0.75f, 0.5f, 0.5f}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  ExpectFloats((*out)[0], {0.25f, 0.75f, 0.5f, 0.5f});

  s.inputs = {Tensor::FromVector<float>({0.2f, 0.3f, 0.5f}, {1, 3})};
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("for 2 class labels"), std::string::npos)
      << out.status().ToString();

  OpSpec both = Ml("ZipMap");
  both.attributes = {{"classlabels_strings", StringsAttr({"a"})},
                     {"classlabels_int64s", IntsAttr({1})}};
  both.inputs = {Tensor::FromVector<float>({1.0f}, {1, 1})};
  EXPECT_FALSE(RunOp(both).ok());
}

}  // namespace
}  // namespace tiffin
