// Normalization kernels. Expected values were computed with numpy (float64).
#include <gtest/gtest.h>

#include <cmath>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::FloatAttr;
using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;

void ExpectClose(const Tensor& t, const std::vector<double>& want, double tol = 1e-5) {
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    const double got = t.dtype() == DType::kFloat64 ? t.data<double>()[i] : t.data<float>()[i];
    EXPECT_NEAR(got, want[i], tol * (1 + std::fabs(want[i]))) << "at " << i;
  }
}

// x[i] = i^1.5 * 0.1 - 1, shape [2,3,4].
template <typename T>
Tensor X234() {
  std::vector<T> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<T>(std::pow(i, 1.5) * 0.1 - 1);
  return Tensor::FromVector<T>(v, {2, 3, 4});
}

Tensor F(std::vector<float> v, Shape s = {}) { return Tensor::FromVector<float>(v, s); }

TEST(Norm, LayerNormLastAxisWithStatistics) {
  OpSpec s{.op_type = "LayerNormalization",
           .inputs = {X234<float>(), F({1, 0.5f, 2, -1}), F({0, 1, -1, 0.5f})},
           .num_outputs = 3};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0],
              {-1.1408633105278652, 0.6824030179812874, -0.42122882952324747, -0.9866716893269154,
               -1.2991428037664234, 0.755547664473708,  -0.18599943561522203, -0.8810471926266186,
               -1.3175234519095493, 0.7644757102208344, -0.15227899808854772, -0.8647115305121551,
               -1.3247940713973874, 0.76804310703298,   -0.13850447121967624, -0.8579600929412641,
               -1.328694436211754,  0.7699656699563768, -0.13100852267630358, -0.8542673576371533,
               -1.3311277320111978, 0.7711682795158669, -0.12629356574128436, -0.8519379558501063},
              1e-4);
  EXPECT_EQ((*out)[1].shape(), (Shape{2, 3, 1}));
  EXPECT_EQ((*out)[1].dtype(), DType::kFloat32);
  ExpectClose((*out)[1], {-0.7743855113136795, 0.30993843804125376, 1.943326657339068,
                          3.9729834892657845, 6.331985198273004, 8.979252011159305});
  ExpectClose((*out)[2],
              {5.056693464904402, 2.5476463566006444, 1.9358691920957116, 1.6233996928428633,
               1.4256604489790876, 1.286138477946665},
              1e-4);
}

TEST(Norm, LayerNormAxis1BroadcastsScaleWithoutBias) {
  OpSpec s{.op_type = "LayerNormalization",
           .inputs = {X234<double>(), Tensor::FromVector<double>({1, 0.5, 2, -1})},
           .num_outputs = 2};
  s.attributes["axis"] = IntAttr(1);
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose(
      (*out)[0],
      {-1.2612945895929593, -0.5884058848885215,  -2.0446821809011535,  0.8223089807293984,
       -0.5854320310656297, -0.15837397469834255, -0.03931157222008504, -0.30334912943979747,
       0.6503334035460991,  0.5098707727183889,   2.820573496252127,    -1.8208813705735967,
       -1.5131037996452077, -0.633905344892979,   -2.025784372833156,   0.7486988956529002,
       -0.4755456781746732, -0.09685867070340626, 0.1930537244174793,   -0.39494962688725044,
       0.7013326607315359,  0.5077371370385778,   2.6743747511964417,   -1.6662977915792236},
      1e-9);
  EXPECT_EQ((*out)[1].shape(), (Shape{2, 1, 1}));
  ExpectClose((*out)[1], {0.4929598613555475, 6.428073566232698});
}

TEST(Norm, LayerNormRejectsMismatchedScale) {
  OpSpec s{.op_type = "LayerNormalization", .inputs = {X234<float>(), F({1, 2, 3})}};
  auto out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'n0' (LayerNormalization)"), std::string::npos);
}

TEST(Norm, BatchNormInference) {
  OpSpec s{.op_type = "BatchNormalization",
           .opset = 15,
           .inputs = {X234<float>(), F({1, 2, 0.5f}), F({0.1f, -0.2f, 0.3f}), F({0.5f, 1, -1}),
                      F({1, 4, 0.25f})}};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0],
              {-1.3999925000562494, -1.2999930000524995, -1.1171512017845862, -0.8803798558423123,
               -1.3999985000028123, -1.0819649087946583, -0.7303054914486431, -0.3479738972875306,
               2.562696446320556,   2.9999460016199455,  3.4622144165124795,  3.9482143058344508,
               2.756908653655249,   3.2872007221394157,  3.838301650021997,   4.409453472097633,
               4.1999945000103125,  4.809273301962309,   5.436746190886377,   6.081900140357012,
               9.244093029927342,   9.92321649700193,    10.618708299509255,  11.33019190198721});
}

TEST(Norm, BatchNormOldOpsetAndWrongParamSize) {
  OpSpec s{.op_type = "BatchNormalization",
           .opset = 7,
           .inputs = {X234<float>(), F({1, 2}), F({0, 0}), F({0, 0}), F({1, 1})}};
  auto out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'n0' (BatchNormalization)"), std::string::npos);
  EXPECT_NE(out.status().message().find("scale"), std::string::npos);
}

TEST(Norm, BatchNormSpatialZeroNormalizesPerFeature) {
  // Opset 7 spatial=0: parameters have shape [C, D1] and apply per feature.
  OpSpec s{.op_type = "BatchNormalization",
           .opset = 7,
           .inputs = {F({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}), F({1, 2, 3, 4}, {2, 2}),
                      F({0, 0, 1, 1}, {2, 2}), F({1, 2, 3, 4}, {2, 2}), F({1, 1, 4, 4}, {2, 2})}};
  s.attributes["spatial"] = IntAttr(0);
  s.attributes["epsilon"] = FloatAttr(0);
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // y = (x - mean[f]) / sqrt(var[f]) * scale[f] + B[f], f = index within [C, D1].
  ExpectClose((*out)[0], {0, 0, 1, 1, 4, 8, 7, 9});
}

TEST(Norm, BatchNormTrainingModeUsesBatchStatistics) {
  OpSpec s{.op_type = "BatchNormalization",
           .opset = 15,
           .inputs = {X234<double>(), Tensor::FromVector<double>({1, 2, 0.5}),
                      Tensor::FromVector<double>({0.1, -0.2, 0.3}),
                      Tensor::FromVector<double>({0.5, 1, -1}),
                      Tensor::FromVector<double>({1, 4, 0.25})},
           .num_outputs = 3};
  s.attributes["training_mode"] = IntAttr(1);
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose(
      (*out)[0],
      {-0.9752611695159797, -0.9338938172384507,  -0.858256628255285,   -0.7603101017581376,
       -2.49813071568026,   -2.2905500272424097,  -2.0610217448020745,  -1.8114737167902777,
       -0.2864957360225309, -0.22541505981317184, -0.16083942553372427, -0.09294867180354871,
       0.744347372546759,   0.9637162574525993,   1.1916932595709808,   1.4279648271975143,
       1.1569875935962006,  1.554664180774711,    1.9642160578709114,   2.385308372273199,
       0.6468482008744889,  0.7417169551037699,   0.8388722502443815,   0.9382614869503356},
      1e-9);
  // momentum is a float attribute (0.9f), so the blend differs from numpy's
  // 0.9 in the 8th digit.
  ExpectClose((*out)[1], {0.6099298988976053, 1.232096181815713, -0.3538710665750814}, 1e-6);
  ExpectClose((*out)[2], {1.4843644765908075, 4.538928896602824, 1.50617401391177}, 1e-6);
}

TEST(Norm, InstanceNorm) {
  auto out = RunOp({.op_type = "InstanceNormalization",
                    .inputs = {X234<float>(), F({1, 2, 0.5f}), F({0.1f, -0.2f, 0.3f})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0],
              {-1.040863310527865,  -0.535193964037425,  0.3893855852383763, 1.5866716893269155,
               -2.798285607532847,  -1.177809342105168,  0.6140005643847779, 2.562094385253237,
               -0.3587617259547747, 0.06447571022083437, 0.5119302504778631, 0.9823557652560777,
               -1.2247940713973875, -0.3639137859340401, 0.5307477643901619, 1.4579600929412644,
               -2.8573888724235084, -1.1201373201744929, 0.6689914773236965, 2.508534715274307,
               -0.3655638660055989, 0.07116827951586682, 0.5184266085646789, 0.9759689779250531},
              1e-4);
}

Tensor G143() {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = 0.1f * i * i;
  return F(v, {1, 4, 3});
}

TEST(Norm, GroupNormPerGroupAtOpset18) {
  OpSpec s{.op_type = "GroupNormalization", .opset = 18, .inputs = {G143(), F({2, 3}), F({1, -1})}};
  s.attributes["num_groups"] = IntAttr(2);
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0],
              {-1.0608373495546504, -0.8360187296032338, -0.1615628697489846, 0.9625302300080973,
               2.5362605696680123, 4.559628149230759, -5.032257378601672, -3.693891099746649,
               -2.1496223164523913, -0.39945102871890015, 1.5566227634538263, 3.718599060065788},
              1e-4);
}

TEST(Norm, GroupNormPerChannelAtOpset21) {
  OpSpec s{.op_type = "GroupNormalization",
           .opset = 21,
           .inputs = {G143(), F({1, 2, 3, 4}), F({0, 1, 0, 1})}};
  s.attributes["num_groups"] = IntAttr(2);
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0],
              {-1.0304186747773252, -0.9180093648016169, -0.5807814348744923, 0.9625302300080973,
               2.5362605696680123, 4.559628149230759, -4.032257378601672, -2.693891099746649,
               -1.149622316452391, 1.800731961708133, 4.408830351271769, 7.291465413421051},
              1e-4);
  // A per-group scale is refused at 21.
  s.inputs[1] = F({2, 3});
  s.inputs[2] = F({1, -1});
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'n0' (GroupNormalization)"), std::string::npos);
}

TEST(Norm, GroupNormChecksGroups) {
  OpSpec s{
      .op_type = "GroupNormalization", .opset = 18, .inputs = {G143(), F({1, 1, 1}), F({0, 0, 0})}};
  s.attributes["num_groups"] = IntAttr(3);
  auto out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("not divisible"), std::string::npos);
  s.attributes["num_groups"] = IntAttr(0);
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("num_groups must be > 0"), std::string::npos);
}

TEST(Norm, LpNormalization) {
  OpSpec s{.op_type = "LpNormalization", .inputs = {F({3, -4, 0, 0, 0, 0}, {2, 3})}};
  s.attributes["axis"] = IntAttr(1);
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0], {0.6, -0.8, 0, 0, 0, 0});  // a zero row stays zero
  OpSpec s1{.op_type = "LpNormalization", .inputs = {F({3, -4, 4, 3}, {2, 2})}};
  s1.attributes["axis"] = IntAttr(0);
  s1.attributes["p"] = IntAttr(1);
  out = RunOp(s1);
  ASSERT_TRUE(out.ok());
  ExpectClose((*out)[0],
              {0.42857142857142855, -0.5714285714285714, 0.5714285714285714, 0.42857142857142855});
  s1.attributes["p"] = IntAttr(3);
  out = RunOp(s1);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("p must be 1 or 2"), std::string::npos);
}

TEST(Norm, MeanVarianceNormalization) {
  OpSpec s{.op_type = "MeanVarianceNormalization", .opset = 13, .inputs = {X234<double>()}};
  s.attributes["axes"] = IntsAttr({0, 2});
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0],
              {-1.075262089096903,  -1.0338947014413382, -0.9582574477720125, -0.860310837509395,
               -1.149065969367192,  -1.0452755699115444, -0.9305113676144522, -0.8057372872044233,
               -1.1729919294971802, -1.0508305294370506, -0.9216792105107633, -0.7858976500973092,
               0.6443479236031613,  0.8637169961168567,  1.0916941932048958,  1.327965962894735,
               0.6784941578892387,  0.8773325572992783,  1.082108604828149,   1.2926548740809463,
               0.6936966722819665,  0.8834342547358021,  1.0777449207957446,  1.2765234717287908},
              1e-9);
}

TEST(Norm, DropoutInferenceIsIdentityWithTrueMask) {
  auto x = F({1, 2, 3});
  auto out = RunOp({.op_type = "Dropout", .opset = 13, .inputs = {x}, .num_outputs = 2});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0], {1, 2, 3});
  EXPECT_EQ((*out)[1].dtype(), DType::kBool);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE((*out)[1].data<bool>()[i]);
  // Before opset 10 the mask has X's type.
  out = RunOp({.op_type = "Dropout", .opset = 7, .inputs = {x}, .num_outputs = 2});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[1].dtype(), DType::kFloat32);
}

TEST(Norm, DropoutTrainingModeOnlyWithZeroRatio) {
  Tensor train(DType::kBool, {});
  train.data<bool>()[0] = true;
  auto out = RunOp({.op_type = "Dropout",
                    .opset = 13,
                    .inputs = {F({1, 2}), Tensor::Scalar<float>(0), train},
                    .num_outputs = 2});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0], {1, 2});
  out = RunOp({.op_type = "Dropout",
               .opset = 13,
               .inputs = {F({1, 2}), Tensor::Scalar<float>(0.5f), train}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(out.status().message().find("node 'n0' (Dropout)"), std::string::npos);
}

TEST(Norm, Float16LayerNorm) {
  Tensor h(DType::kFloat16, {1, 4});
  const float v[] = {1, 2, 3, 4};
  for (int i = 0; i < 4; ++i) h.data<Float16>()[i] = Float16(v[i]);
  Tensor one(DType::kFloat16, {4});
  for (int i = 0; i < 4; ++i) one.data<Float16>()[i] = Float16(1.0f);
  auto out = RunOp({.op_type = "LayerNormalization", .inputs = {h, one}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // (x - 2.5) / sqrt(1.25 + 1e-5)
  EXPECT_NEAR(static_cast<float>((*out)[0].data<Float16>()[0]), -1.3416, 2e-3);
  EXPECT_NEAR(static_cast<float>((*out)[0].data<Float16>()[3]), 1.3416, 2e-3);
}

// ---- Fuzzer regressions (fuzz/README.md).

// review: an empty X can have a normalized block of any size: X of shape
// [0, 2^20, 2^20] has d = 2^40, and LayerNormalization expanded Scale to a
// 2^40-element vector (4 TiB) before finding there were no rows. Suffix
// products of such shapes can also overflow int64 ([0, 2^40, 2^40]).
TEST(Norm, EmptyInputWithHugeDimsAllocatesNothing) {
  const int64_t m = int64_t{1} << 20, big = int64_t{1} << 40;
  OpSpec ln{.op_type = "LayerNormalization", .opset = 17, .num_outputs = 3};
  ln.attributes["axis"] = IntAttr(1);
  ln.inputs = {Tensor(DType::kFloat32, {0, m, m}), Tensor::FromVector<float>({2.f}),
               Tensor::FromVector<float>({1.f})};
  auto out = RunOp(ln);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{0, m, m}));
  EXPECT_EQ((*out)[1].shape(), (Shape{0, 1, 1}));
  ln.inputs[0] = Tensor(DType::kFloat32, {0, big, big});
  out = RunOp(ln);
  ASSERT_TRUE(out.ok()) << out.status().ToString();

  OpSpec lp{.op_type = "LpNormalization"};
  lp.attributes["axis"] = IntAttr(0);
  lp.inputs = {Tensor(DType::kFloat32, {0, big, big})};
  out = RunOp(lp);
  ASSERT_TRUE(out.ok()) << out.status().ToString();

  OpSpec mvn{.op_type = "MeanVarianceNormalization", .opset = 13};
  mvn.attributes["axes"] = IntsAttr({0});
  mvn.inputs = {Tensor(DType::kFloat32, {0, big, big})};
  out = RunOp(mvn);
  ASSERT_TRUE(out.ok()) << out.status().ToString();

  OpSpec in{.op_type = "InstanceNormalization"};
  in.inputs = {Tensor(DType::kFloat32, {0, 1, big, big}), Tensor::FromVector<float>({1.f}),
               Tensor::FromVector<float>({0.f})};
  out = RunOp(in);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
}

}  // namespace
}  // namespace tiffin
