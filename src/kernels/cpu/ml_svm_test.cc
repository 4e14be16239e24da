// SVMClassifier and SVMRegressor tests. Expected values are worked out by
// hand in the comments; the coupled probabilities come from a double
// precision numpy transcription of libsvm's multiclass_probability.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "exec/testing.h"
#include "kernels/cpu/ml_test_util.h"

namespace tiffin {
namespace {

using mltest::ExpectError;
using mltest::ExpectInts;
using mltest::ExpectValues;
using mltest::Ml;
using mltest::StringsAttr;
using testing::FloatsAttr;
using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;
using testing::StringAttr;

// Three classes (labels 10, 20, 30), one support vector each at x = -1, 0, 1,
// linear kernel, so K = (-x, 0, x). libsvm's coefficient rows:
//   row 0 = [1, -1, -2], row 1 = [0.5, 1, -1]; rho = [0.1, 0.5, 0.3].
// Pair scores: s01 = -x + 0.1, s02 = 0.5 (-x) - 2 x + 0.5, s12 = -x + 0.3.
OpSpec ThreeClassSvc() {
  OpSpec s = Ml("SVMClassifier", 1);
  s.num_outputs = 2;
  s.attributes = {{"classlabels_ints", IntsAttr({10, 20, 30})},
                  {"vectors_per_class", IntsAttr({1, 1, 1})},
                  {"support_vectors", FloatsAttr({-1, 0, 1})},
                  {"coefficients", FloatsAttr({1, -1, -2, 0.5f, 1, -1})},
                  {"rho", FloatsAttr({0.1f, 0.5f, 0.3f})},
                  {"kernel_type", StringAttr("LINEAR")}};
  s.inputs = {Tensor::FromVector<float>({0, 0.25f, 1}, {3, 1})};
  return s;
}

TEST(MlSvmClassifier, OneAgainstOneVotesAndPairScores) {
  auto out = RunOp(ThreeClassSvc());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // x = 0: votes 0, 0, 1; x = 0.25: 1, 2, 1; x = 1: 1, 2, 2.
  ExpectInts((*out)[0], {10, 20, 30});
  EXPECT_EQ((*out)[1].shape(), (Shape{3, 3}));
  ExpectValues<float>((*out)[1], {0.1f, 0.5f, 0.3f, -0.15f, -0.125f, 0.05f, -0.9f, -2, -0.7f},
                      1e-6);
}

TEST(MlSvmClassifier, PostTransformAppliesToPairScores) {
  OpSpec s = ThreeClassSvc();
  s.attributes["post_transform"] = StringAttr("SOFTMAX");
  s.inputs = {Tensor::FromVector<float>({0}, {1, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[1], {0.2693075f, 0.40175958f, 0.32893292f});
}

TEST(MlSvmClassifier, PlattScalingAndPairwiseCoupling) {
  OpSpec s = ThreeClassSvc();
  s.attributes["prob_a"] = FloatsAttr({-2, -1, -3});
  s.attributes["prob_b"] = FloatsAttr({0.1f, 0, -0.2f});
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectInts((*out)[0], {10, 20, 30});  // still by votes
  EXPECT_EQ((*out)[1].shape(), (Shape{3, 3}));
  ExpectValues<float>((*out)[1],
                      {0.4044891f, 0.411006f, 0.1845049f, 0.2776981f, 0.4192493f, 0.3030526f,
                       0.0668581f, 0.131019f, 0.8021229f},
                      2e-4);
}

// Two classes, support vectors at x = -1 and 1, coefficients [-1, 1],
// rho -0.5: d = 2 x - 0.5, and d > 0 votes for the first class.
OpSpec BinarySvc() {
  OpSpec s = Ml("SVMClassifier", 1);
  s.num_outputs = 2;
  s.attributes = {{"classlabels_strings", StringsAttr({"no", "yes"})},
                  {"vectors_per_class", IntsAttr({1, 1})},
                  {"support_vectors", FloatsAttr({-1, 1})},
                  {"coefficients", FloatsAttr({-1, 1})},
                  {"rho", FloatsAttr({-0.5f})}};
  s.inputs = {Tensor::FromVector<float>({1, -1}, {2, 1})};
  return s;
}

TEST(MlSvmClassifier, BinaryScoresFollowOnnxRuntime) {
  auto out = RunOp(BinarySvc());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<std::string>()[0], "no");           // d = 1.5
  EXPECT_EQ((*out)[0].data<std::string>()[1], "yes");          // d = -2.5
  ExpectValues<float>((*out)[1], {-1.5f, 1.5f, 2.5f, -2.5f});  // [-d, d]
  OpSpec s = BinarySvc();
  s.attributes["post_transform"] = StringAttr("SOFTMAX");
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[1], {-0.5f, 1.5f, 3.5f, -2.5f});  // [1 - d, d]
  s.attributes["post_transform"] = StringAttr("LOGISTIC");
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // [sigmoid(-d), sigmoid(d)]
  ExpectValues<float>((*out)[1], {0.18242552f, 0.81757448f, 0.92414182f, 0.07585818f});
  s.attributes["post_transform"] = StringAttr("PROBIT");
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kNotSupported);
}

TEST(MlSvmClassifier, KernelsOnBinary) {
  // Support vectors (0, 0) and (1, 1); d = -K(x, sv0) + K(x, sv1) - 0.5.
  OpSpec s = BinarySvc();
  s.attributes["support_vectors"] = FloatsAttr({0, 0, 1, 1});
  s.inputs = {Tensor::FromVector<float>({0, 1}, {1, 2})};
  const std::pair<const char*, float> cases[] = {
      {"RBF", -0.5f},                          // gamma 0.5: e^-0.5 both
      {"POLY", 4 - 1 - 0.5f},                  // (x.sv + 1)^2: 1 and 4
      {"SIGMOID", 0.76159416f - 0.0f - 0.5f},  // tanh(x.sv): 0 and tanh 1
  };
  for (const auto& [kernel, d] : cases) {
    s.attributes["kernel_type"] = StringAttr(kernel);
    if (std::string(kernel) == "RBF") s.attributes["kernel_params"] = FloatsAttr({0.5f, 0, 0});
    if (std::string(kernel) == "POLY") s.attributes["kernel_params"] = FloatsAttr({1, 1, 2});
    if (std::string(kernel) == "SIGMOID") s.attributes["kernel_params"] = FloatsAttr({1, 0, 0});
    auto out = RunOp(s);
    ASSERT_TRUE(out.ok()) << kernel << ": " << out.status().ToString();
    ExpectValues<float>((*out)[1], {-d, d}, 1e-5);
  }
}

TEST(MlSvmClassifier, LinearModeScoresEveryClass) {
  // No support vectors: three rows of weights, rho[0] added to each.
  OpSpec s = Ml("SVMClassifier", 1);
  s.num_outputs = 2;
  s.attributes = {{"classlabels_strings", StringsAttr({"a", "b", "c"})},
                  {"coefficients", FloatsAttr({1, 0, 0, 1, -1, -1})},
                  {"rho", FloatsAttr({0.5f})},
                  {"post_transform", StringAttr("SOFTMAX")}};
  s.inputs = {Tensor::FromVector<float>({1, 2, 3, 0}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // scores [1.5, 2.5, -2.5] and [3.5, 0.5, -2.5]
  EXPECT_EQ((*out)[0].data<std::string>()[0], "b");
  EXPECT_EQ((*out)[0].data<std::string>()[1], "a");
  ExpectValues<float>(
      (*out)[1], {0.26762315f, 0.72747516f, 0.00490169f, 0.95033021f, 0.04731416f, 0.00235563f});
}

TEST(MlSvmClassifier, LinearModeBinaryLabelRule) {
  // Mixed-sign weights: a positive winning score names class 1, even when
  // class 0 holds it (ONNX Runtime's rule).
  OpSpec s = Ml("SVMClassifier", 1);
  s.num_outputs = 2;
  s.attributes = {{"classlabels_ints", IntsAttr({0, 1})},
                  {"coefficients", FloatsAttr({1, -1})},
                  {"rho", FloatsAttr({0})}};
  s.inputs = {Tensor::FromVector<float>({2, -3, 0}, {3, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectInts((*out)[0], {1, 1, 0});
  ExpectValues<float>((*out)[1], {2, -2, -3, 3, 0, 0});
  // Non-negative weights: class 1 when the top score reaches 0.5.
  s.attributes["coefficients"] = FloatsAttr({0.2f, 0.6f});
  s.inputs = {Tensor::FromVector<float>({1, 0.5f, -1}, {3, 1})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectInts((*out)[0], {1, 1, 0});
}

TEST(MlSvmClassifier, DoubleAndIntInputsAreReadAsFloat) {
  OpSpec s = ThreeClassSvc();
  s.inputs = {Tensor::FromVector<double>({0, 0.25, 1}, {3, 1})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectInts((*out)[0], {10, 20, 30});
  s.inputs = {Tensor::FromVector<int64_t>({0, 1})};  // [C] is one row of C: wrong width
  ExpectError(s, "features");
  s.inputs = {Tensor::FromVector<int32_t>({1}, {1, 1})};
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectInts((*out)[0], {30});
}

TEST(MlSvmClassifier, HostileAttributesAreRefused) {
  auto with = [](const char* key, ir::Attribute v) {
    OpSpec s = ThreeClassSvc();
    s.attributes[key] = std::move(v);
    return s;
  };
  ExpectError(with("vectors_per_class", IntsAttr({1, 2})), "vectors_per_class");
  ExpectError(with("vectors_per_class", IntsAttr({1, -1, 1})), "vectors_per_class");
  ExpectError(with("vectors_per_class", IntsAttr({1, 1, 99})), "vectors_per_class");
  ExpectError(with("support_vectors", FloatsAttr({1, 2, 3, 4})), "support_vectors");
  ExpectError(with("coefficients", FloatsAttr({1, 2, 3})), "coefficients");
  ExpectError(with("rho", FloatsAttr({1, 2})), "rho");
  ExpectError(with("prob_a", FloatsAttr({1, 2, 3})), "prob_a");  // no prob_b
  OpSpec s = with("prob_a", FloatsAttr({1}));
  s.attributes["prob_b"] = FloatsAttr({1});
  ExpectError(s, "prob_a");
  ExpectError(with("kernel_params", FloatsAttr({1})), "kernel_params");
  ExpectError(with("kernel_type", StringAttr("CUBIC")), "kernel_type");
  ExpectError(with("classlabels_strings", StringsAttr({"a", "b", "c"})), "classlabels");
  s = ThreeClassSvc();
  s.inputs = {Tensor::FromVector<float>({1, 2}, {1, 2})};
  ExpectError(s, "features");
  // Linear mode: coefficients must split into one row per class.
  s = ThreeClassSvc();
  s.attributes.erase("vectors_per_class");
  s.attributes["coefficients"] = FloatsAttr({1, 2, 3, 4});
  ExpectError(s, "coefficients");
}

// SVR with support vectors (0, 0) and (1, 1), coefficients [2, -1], rho 0.1.
OpSpec Svr(const char* kernel, std::vector<float> params) {
  OpSpec s = Ml("SVMRegressor", 1);
  s.attributes = {{"n_supports", IntAttr(2)},
                  {"support_vectors", FloatsAttr({0, 0, 1, 1})},
                  {"coefficients", FloatsAttr({2, -1})},
                  {"rho", FloatsAttr({0.1f})},
                  {"kernel_type", StringAttr(kernel)},
                  {"kernel_params", FloatsAttr(std::move(params))}};
  s.inputs = {Tensor::FromVector<float>({0, 1, 1, 1}, {2, 2})};
  return s;
}

TEST(MlSvmRegressor, Kernels) {
  const std::pair<OpSpec, std::vector<float>> cases[] = {
      // exp(-0.5 |x - sv|^2): row 0: e^-0.5 twice; row 1: e^-1 and 1.
      {Svr("RBF", {0.5f, 0, 0}), {0.70653066f, -0.16424112f}},
      // (x.sv + 1)^2: row 0: 1 and 4; row 1: 1 and 9.
      {Svr("POLY", {1, 1, 2}), {-1.9f, -6.9f}},
      // tanh(0.5 x.sv): row 0: 0 and tanh 0.5; row 1: 0 and tanh 1.
      {Svr("SIGMOID", {0.5f, 0, 0}), {-0.36211716f, -0.66159416f}},
      // x.sv: row 0: 0 and 1; row 1: 0 and 2.
      {Svr("LINEAR", {}), {-0.9f, -1.9f}},
  };
  for (const auto& [spec, want] : cases) {
    auto out = RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ((*out)[0].shape(), (Shape{2, 1}));
    ExpectValues<float>((*out)[0], want, 1e-5);
  }
}

TEST(MlSvmRegressor, LinearModeAndOneClass) {
  OpSpec s = Ml("SVMRegressor", 1);
  s.attributes = {{"coefficients", FloatsAttr({1, -2})}, {"rho", FloatsAttr({0.5f})}};
  s.inputs = {Tensor::FromVector<double>({1, 1, 2, 0.5}, {2, 2})};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {-0.5f, 1.5f});
  s.attributes["one_class"] = IntAttr(1);
  out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {-1, 1});
}

TEST(MlSvmRegressor, HostileAttributesAreRefused) {
  OpSpec s = Svr("RBF", {0.5f, 0, 0});
  s.attributes["n_supports"] = IntAttr(3);  // 4 values do not split into 3 vectors
  ExpectError(s, "support_vectors");
  s.attributes["n_supports"] = IntAttr(9);
  ExpectError(s, "n_supports");
  s.attributes["n_supports"] = IntAttr(-1);
  ExpectError(s, "n_supports");
  s = Svr("RBF", {0.5f, 0, 0});
  s.attributes["coefficients"] = FloatsAttr({2});
  ExpectError(s, "coefficients");
  s = Svr("RBF", {0.5f, 0, 0});
  s.attributes["rho"] = FloatsAttr({});
  ExpectError(s, "rho");
  s = Svr("RBF", {0.5f, 0, 0});
  s.attributes["post_transform"] = StringAttr("LOGISTIC");
  ExpectError(s, "post_transform NONE");
  s = Svr("RBF", {0.5f, 0, 0});
  s.inputs = {Tensor::FromVector<float>({0, 1, 1}, {1, 3})};
  ExpectError(s, "features");
}

}  // namespace
}  // namespace tiffin
