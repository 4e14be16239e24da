// Activation kernels. Expected values were computed with numpy (float64).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::FloatAttr;
using testing::IntAttr;
using testing::OpSpec;
using testing::RunOp;
using testing::StringAttr;

void ExpectClose(const Tensor& t, const std::vector<double>& want, double tol = 1e-5) {
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    const double got = t.dtype() == DType::kFloat64 ? t.data<double>()[i] : t.data<float>()[i];
    EXPECT_NEAR(got, want[i], tol * (1 + std::fabs(want[i]))) << "at " << i;
  }
}

Tensor Five() { return Tensor::FromVector<float>({-3, -0.5f, 0, 0.5f, 3}); }

Result<Tensor> Run1(OpSpec spec) {
  TIFFIN_ASSIGN_OR_RETURN(auto out, RunOp(spec));
  return out[0];
}

TEST(Activation, ReluFloatAndInt) {
  auto f = Run1({.op_type = "Relu", .inputs = {Five()}});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ExpectClose(*f, {0, 0, 0, 0.5, 3});
  auto i =
      Run1({.op_type = "Relu", .opset = 14, .inputs = {Tensor::FromVector<int32_t>({-4, 0, 7})}});
  ASSERT_TRUE(i.ok()) << i.status().ToString();
  EXPECT_EQ(i->data<int32_t>()[0], 0);
  EXPECT_EQ(i->data<int32_t>()[2], 7);
}

TEST(Activation, ReluKeepsNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto y = Run1({.op_type = "Relu", .inputs = {Tensor::FromVector<float>({nan, -1})}});
  ASSERT_TRUE(y.ok());
  EXPECT_TRUE(std::isnan(y->data<float>()[0]));
}

TEST(Activation, LeakyReluAndThresholdedRelu) {
  OpSpec s{.op_type = "LeakyRelu", .inputs = {Five()}};
  s.attributes["alpha"] = FloatAttr(0.1f);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {-0.3, -0.05, 0, 0.5, 3});
  OpSpec t{.op_type = "ThresholdedRelu", .inputs = {Five()}};
  t.attributes["alpha"] = FloatAttr(0.5f);
  y = Run1(t);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {0, 0, 0, 0, 3});  // strictly greater than alpha
}

TEST(Activation, ExponentialFamily) {
  OpSpec elu{.op_type = "Elu", .inputs = {Five()}};
  elu.attributes["alpha"] = FloatAttr(2.0f);
  auto y = Run1(elu);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {-1.900425863264272, -0.7869386805747332, 0.0, 0.5, 3.0});
  y = Run1({.op_type = "Selu", .inputs = {Five()}});
  ASSERT_TRUE(y.ok());
  ExpectClose(
      *y, {-1.6705687287671118, -0.6917581878028713, 0.0, 0.5253504936777402, 3.1521029620664414});
  OpSpec celu{.op_type = "Celu", .inputs = {Five()}};
  celu.attributes["alpha"] = FloatAttr(2.0f);
  y = Run1(celu);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {-1.5537396797031404, -0.44239843385719024, 0.0, 0.5, 3.0});
  y = Run1({.op_type = "Softplus", .inputs = {Five()}});
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {0.048587351573742055, 0.4740769841801067, 0.6931471805599453, 0.9740769841801067,
                   3.048587351573742});
  y = Run1({.op_type = "HardSwish", .opset = 14, .inputs = {Five()}});
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {0, -0.20833333333333334, 0.0, 0.2916666666666667, 3.0});
  y = Run1({.op_type = "Mish", .opset = 18, .inputs = {Five()}});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ExpectClose(
      *y, {-0.14564746127562458, -0.22074377465173, 0.0, 0.3752452113048951, 2.986535004967957});
}

TEST(Activation, SoftplusAndSigmoidStayFiniteForLargeInputs) {
  auto big = Tensor::FromVector<float>({-1000, -100, 100, 1000});
  auto sp = Run1({.op_type = "Softplus", .inputs = {big}});
  ASSERT_TRUE(sp.ok());
  ExpectClose(*sp, {0, 0, 100, 1000});
  auto sg = Run1({.op_type = "Sigmoid", .inputs = {big}});
  ASSERT_TRUE(sg.ok());
  ExpectClose(*sg, {0, 0, 1, 1});
  auto s5 = Run1({.op_type = "Sigmoid", .inputs = {Five()}});
  ASSERT_TRUE(s5.ok());
  ExpectClose(
      *s5, {0.04742587317756678, 0.3775406687981454, 0.5, 0.6224593312018546, 0.9525741268224334});
}

TEST(Activation, SigmoidFloat16AndDouble) {
  Tensor h(DType::kFloat16, {2});
  h.data<Float16>()[0] = Float16(0.0f);
  h.data<Float16>()[1] = Float16(3.0f);
  auto y = Run1({.op_type = "Sigmoid", .inputs = {h}});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_NEAR(static_cast<float>(y->data<Float16>()[1]), 0.95257, 1e-3);
  auto d = Run1({.op_type = "Sigmoid", .inputs = {Tensor::FromVector<double>({-3, 3})}});
  ASSERT_TRUE(d.ok());
  ExpectClose(*d, {0.04742587317756678, 0.9525741268224334}, 1e-12);
}

TEST(Activation, GeluExactAndTanh) {
  auto y = Run1({.op_type = "Gelu", .opset = 20, .inputs = {Five()}});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ExpectClose(
      *y, {-0.00404969409489031, -0.15426876936299344, 0.0, 0.34573123063700656, 2.99595030590511});
  OpSpec t{.op_type = "Gelu", .opset = 20, .inputs = {Five()}};
  t.attributes["approximate"] = StringAttr("tanh");
  y = Run1(t);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {-0.0036373920817729943, -0.15428599017485606, 0.0, 0.34571400982514394,
                   2.996362607918227});
  t.attributes["approximate"] = StringAttr("fast");
  y = Run1(t);
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'n0' (Gelu)"), std::string::npos);
  EXPECT_NE(y.status().message().find("'fast'"), std::string::npos);
}

TEST(Activation, GeluIsRefusedBeforeOpset20) {
  auto y = Run1({.op_type = "Gelu", .opset = 19, .inputs = {Five()}});
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), StatusCode::kNotSupported);
}

TEST(Activation, PReluBroadcastsSlopePerChannel) {
  // X [1,2,2], slope [2,1]: channel 0 slope 0.5, channel 1 slope 2.
  auto y = Run1({.op_type = "PRelu",
                 .inputs = {Tensor::FromVector<float>({-2, 4, -2, 4}, {1, 2, 2}),
                            Tensor::FromVector<float>({0.5f, 2}, {2, 1})}});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ExpectClose(*y, {-1, 4, -4, 4});
}

TEST(Activation, PReluRejectsSlopeThatWouldGrowX) {
  auto y = Run1({.op_type = "PRelu",
                 .inputs = {Tensor::FromVector<float>({1, 2}, {2}),
                            Tensor::FromVector<float>({1, 2, 3, 4}, {2, 2})}});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'n0' (PRelu)"), std::string::npos);
  EXPECT_NE(y.status().message().find("does not broadcast"), std::string::npos);
}

TEST(Activation, ClipAttributesBeforeOpset11) {
  OpSpec s{.op_type = "Clip", .opset = 6, .inputs = {Five()}};
  s.attributes["min"] = FloatAttr(-1);
  s.attributes["max"] = FloatAttr(1);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ExpectClose(*y, {-1, -0.5, 0, 0.5, 1});
}

TEST(Activation, ClipInputsIntAndMissingBounds) {
  auto x = Tensor::FromVector<int8_t>({-100, -5, 0, 5, 100});
  auto y =
      Run1({.op_type = "Clip", .opset = 13, .inputs = {x, Tensor::Scalar<int8_t>(-10), Tensor()}});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  const int8_t want[] = {-10, -5, 0, 5, 100};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(y->data<int8_t>()[i], want[i]);
  // min > max: everything becomes max.
  auto z = Run1({.op_type = "Clip",
                 .opset = 13,
                 .inputs = {Five(), Tensor::Scalar<float>(2), Tensor::Scalar<float>(1)}});
  ASSERT_TRUE(z.ok());
  ExpectClose(*z, {1, 1, 1, 1, 1});
}

TEST(Activation, ClipRejectsNonScalarBound) {
  auto y =
      Run1({.op_type = "Clip", .opset = 13, .inputs = {Five(), Tensor::FromVector<float>({0, 1})}});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'n0' (Clip)"), std::string::npos);
  EXPECT_NE(y.status().message().find("min must be a scalar"), std::string::npos);
}

TEST(Activation, SoftmaxIsStableForLargeInputs) {
  auto y = Run1({.op_type = "Softmax",
                 .opset = 13,
                 .inputs = {Tensor::FromVector<float>({1000, 1001, 1002})}});
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {0.09003057317038043, 0.24472847105479767, 0.6652409557748218});
}

Tensor Cube() {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = 0.5f * i - 2;
  v[11] = 4;
  return Tensor::FromVector<float>(v, {2, 2, 3});
}

TEST(Activation, SoftmaxCoercesTo2DBeforeOpset13) {
  OpSpec s{.op_type = "Softmax", .opset = 11, .inputs = {Cube()}};
  s.attributes["axis"] = IntAttr(1);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y,
              {0.033990202807025804, 0.05604037036335464, 0.09239495063597586, 0.15233352041882178,
               0.2511555153551437, 0.4140854404196781, 0.026792925511944045, 0.04417406619582628,
               0.07283072255037426, 0.12007756142926154, 0.19797442966222484, 0.538150294650369});
}

TEST(Activation, SoftmaxSingleAxisFromOpset13) {
  OpSpec s{.op_type = "Softmax", .opset = 13, .inputs = {Cube()}};
  s.attributes["axis"] = IntAttr(1);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y,
              {0.18242552380635632, 0.18242552380635632, 0.18242552380635632, 0.8175744761936437,
               0.8175744761936437, 0.8175744761936437, 0.18242552380635632, 0.18242552380635632,
               0.11920292202211755, 0.8175744761936437, 0.8175744761936437, 0.8807970779778825});
}

TEST(Activation, LogSoftmaxOverLeadingAxis) {
  OpSpec s{.op_type = "LogSoftmax", .opset = 13, .inputs = {Cube()}};
  s.attributes["axis"] = IntAttr(0);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok());
  ExpectClose(
      *y, {-3.048587351573742, -3.048587351573742, -3.048587351573742, -3.048587351573742,
           -3.048587351573742, -3.5297504182726205, -0.04858735157374197, -0.04858735157374197,
           -0.04858735157374197, -0.04858735157374197, -0.04858735157374197, -0.02975041827262065});
}

TEST(Activation, HardmaxPicksFirstMaximum) {
  auto y = Run1({.op_type = "Hardmax",
                 .opset = 13,
                 .inputs = {Tensor::FromVector<float>({1, 3, 3, 0, 5, 5, 5, 1}, {2, 4})}});
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {0, 1, 0, 0, 1, 0, 0, 0});
  OpSpec col{.op_type = "Hardmax",
             .opset = 13,
             .inputs = {Tensor::FromVector<float>({1, 3, 3, 0, 5, 5, 5, 1}, {2, 4})}};
  col.attributes["axis"] = IntAttr(0);
  y = Run1(col);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {0, 0, 0, 0, 1, 1, 1, 1});
}

TEST(Activation, SoftmaxAxisOutOfRangeNamesNode) {
  OpSpec s{.op_type = "Softmax", .opset = 13, .inputs = {Cube()}};
  s.attributes["axis"] = IntAttr(3);
  auto y = Run1(s);
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'n0' (Softmax)"), std::string::npos);
  EXPECT_NE(y.status().message().find("axis 3"), std::string::npos);
}

TEST(Activation, IsNaNAndIsInf) {
  const float inf = std::numeric_limits<float>::infinity();
  auto x = Tensor::FromVector<float>({1, inf, -inf, std::nanf("")});
  auto n = Run1({.op_type = "IsNaN", .inputs = {x}});
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->data<bool>()[1]);
  EXPECT_TRUE(n->data<bool>()[3]);
  OpSpec s{.op_type = "IsInf", .inputs = {x}};
  s.attributes["detect_negative"] = IntAttr(0);
  auto i = Run1(s);
  ASSERT_TRUE(i.ok());
  EXPECT_FALSE(i->data<bool>()[0]);
  EXPECT_TRUE(i->data<bool>()[1]);
  EXPECT_FALSE(i->data<bool>()[2]);
  EXPECT_FALSE(i->data<bool>()[3]);
}

TEST(Activation, ShrinkOnIntegers) {
  OpSpec s{.op_type = "Shrink", .inputs = {Tensor::FromVector<int32_t>({-5, -1, 0, 1, 5})}};
  s.attributes["lambd"] = FloatAttr(1.5f);
  s.attributes["bias"] = FloatAttr(1.0f);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  const int32_t want[] = {-4, 0, 0, 0, 4};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(y->data<int32_t>()[i], want[i]);
}

TEST(Activation, TrigonometryAndErf) {
  auto x = Tensor::FromVector<double>({0.25, 0.5});
  struct Case {
    const char* op;
    double (*f)(double);
  } cases[] = {{"Sin", std::sin},     {"Cos", std::cos},   {"Tan", std::tan},
               {"Asin", std::asin},   {"Acos", std::acos}, {"Atan", std::atan},
               {"Sinh", std::sinh},   {"Cosh", std::cosh}, {"Asinh", std::asinh},
               {"Atanh", std::atanh}, {"Erf", std::erf},   {"Tanh", std::tanh}};
  for (const auto& c : cases) {
    auto y = Run1({.op_type = c.op, .inputs = {x}});
    ASSERT_TRUE(y.ok()) << c.op << ": " << y.status().ToString();
    ExpectClose(*y, {c.f(0.25), c.f(0.5)}, 1e-12);
  }
  auto y = Run1({.op_type = "Acosh", .inputs = {Tensor::FromVector<float>({1.5f, 3})}});
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {std::acosh(1.5), std::acosh(3.0)});
}

TEST(Activation, IntegerInputRefusedWhereUnsupported) {
  auto y = Run1({.op_type = "Sigmoid", .inputs = {Tensor::FromVector<int32_t>({1})}});
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(y.status().message().find("int32"), std::string::npos);
}

TEST(Activation, LargeTensorCrossesVectorBlocks) {
  // Odd length exercises vector tails; float16 exercises block conversion.
  const int n = 5003;
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>((i % 200) - 100) * 0.05f;
  auto y = Run1({.op_type = "Tanh", .inputs = {Tensor::FromVector<float>(v)}});
  ASSERT_TRUE(y.ok());
  for (int i = 0; i < n; ++i) ASSERT_NEAR(y->data<float>()[i], std::tanh(v[i]), 1e-6);
  Tensor h(DType::kFloat16, {n});
  for (int i = 0; i < n; ++i) h.data<Float16>()[i] = Float16(v[i]);
  auto yh = Run1({.op_type = "Sigmoid", .inputs = {h}});
  ASSERT_TRUE(yh.ok());
  for (int i = 0; i < n; ++i) {
    const float xi = static_cast<float>(h.data<Float16>()[i]);
    ASSERT_NEAR(static_cast<float>(yh->data<Float16>()[i]), 1 / (1 + std::exp(-xi)), 1e-3);
  }
}

// ---- Fuzzer regressions (fuzz/README.md).

// review: Clip-6's float min/max attributes were cast straight to an integer
// input's type; 1e30 does not fit int32 (x86 then gave INT_MIN for both).
TEST(Activation, ClipAttributesOutOfIntegerRangeSaturate) {
  OpSpec spec{.op_type = "Clip", .opset = 6};
  spec.attributes["min"] = FloatAttr(-1e30f);
  spec.attributes["max"] = FloatAttr(1e30f);
  spec.inputs = {Tensor::FromVector<int32_t>({5, -5})};
  auto y = Run1(spec);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->data<int32_t>()[0], 5);
  EXPECT_EQ(y->data<int32_t>()[1], -5);
}

// review: integer Shrink cast x - bias (a double) back without a range check.
TEST(Activation, IntegerShrinkSaturates) {
  OpSpec spec{.op_type = "Shrink"};
  spec.attributes["lambd"] = FloatAttr(0.f);
  spec.attributes["bias"] = FloatAttr(-1e30f);
  spec.inputs = {Tensor::FromVector<int8_t>({100, -100, 0})};
  auto y = Run1(spec);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->data<int8_t>()[0], 127);   // 100 + 1e30
  EXPECT_EQ(y->data<int8_t>()[1], -128);  // -100 - 1e30
  EXPECT_EQ(y->data<int8_t>()[2], 0);
}

// review: integer PRelu multiplied slope * x in the signed type (overflow is
// undefined; it wraps now, like Mul). Aborts under UBSan before the fix.
TEST(Activation, IntegerPReluWraps) {
  OpSpec spec{.op_type = "PRelu"};
  spec.inputs = {Tensor::FromVector<int32_t>({-(1 << 30), 7}), Tensor::Scalar<int32_t>(4)};
  auto y = Run1(spec);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->data<int32_t>()[0], 0);  // -2^32 mod 2^32
  EXPECT_EQ(y->data<int32_t>()[1], 7);
}

// review: Softmax multiplied all dims before looking at the size; an empty
// input may have dims whose product overflows int64 (UB before the fix).
TEST(Activation, SoftmaxOfEmptyInputWithHugeDims) {
  const int64_t big = int64_t{1} << 40;
  for (int64_t opset : {11, 13}) {
    OpSpec spec{.op_type = "Softmax", .opset = opset};
    spec.attributes["axis"] = IntAttr(0);
    spec.inputs = {Tensor(DType::kFloat32, {0, big, big})};
    auto y = Run1(spec);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_EQ(y->shape(), (Shape{0, big, big}));
  }
}

}  // namespace
}  // namespace tiffin
