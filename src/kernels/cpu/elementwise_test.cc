#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::OpSpec;
using testing::RunOp;

TEST(Elementwise, AddBroadcastsRowVector) {
  OpSpec spec{.op_type = "Add"};
  spec.inputs = {Tensor::FromVector<float>({1, 2, 3, 4, 5, 6}, {2, 3}),
                 Tensor::FromVector<float>({10, 20, 30}, {3})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].shape(), (Shape{2, 3}));
  const float want[] = {11, 22, 33, 14, 25, 36};
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*out)[0].data<float>()[i], want[i]);
}

TEST(Elementwise, MulBroadcastsBothSides) {
  OpSpec spec{.op_type = "Mul"};
  spec.inputs = {Tensor::FromVector<int64_t>({1, 2}, {2, 1}),
                 Tensor::FromVector<int64_t>({3, 4, 5}, {1, 3})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const int64_t want[] = {3, 4, 5, 6, 8, 10};
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*out)[0].data<int64_t>()[i], want[i]);
}

TEST(Elementwise, IncompatibleShapesNameTheNode) {
  OpSpec spec{.op_type = "Sub"};
  spec.inputs = {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {4})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("do not broadcast"), std::string::npos);
  EXPECT_NE(out.status().message().find("node 'n0' (Sub)"), std::string::npos);
}

TEST(Elementwise, IntegerDivisionByZeroIsAnErrorNotACrash) {
  OpSpec spec{.op_type = "Div"};
  spec.inputs = {Tensor::FromVector<int32_t>({1, 2}), Tensor::FromVector<int32_t>({1, 0})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("division by zero"), std::string::npos);
}

TEST(Elementwise, WhereSelects) {
  OpSpec spec{.op_type = "Where"};
  Tensor cond(DType::kBool, {2});
  cond.data<bool>()[0] = true;
  spec.inputs = {cond, Tensor::FromVector<float>({1, 2}), Tensor::FromVector<float>({9}, {1})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<float>()[0], 1);
  EXPECT_EQ((*out)[0].data<float>()[1], 9);
}

TEST(Registry, UnsupportedOpListsWhatIsSupported) {
  OpSpec spec{.op_type = "NoSuchOp"};
  spec.inputs = {Tensor(DType::kFloat32, {1})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kNotSupported);
  EXPECT_NE(out.status().message().find("NoSuchOp"), std::string::npos);
  EXPECT_NE(out.status().message().find("opset 17"), std::string::npos);
  EXPECT_NE(out.status().message().find("Add"), std::string::npos);
}

}  // namespace
}  // namespace tiffin

namespace tiffin {
namespace {

// Naive reference for numpy broadcasting: index both inputs from each output
// coordinate.
std::vector<float> NaiveSub(const Tensor& a, const Tensor& b, const Shape& out) {
  const size_t r = out.size();
  std::vector<float> res;
  int64_t n = 1;
  for (auto d : out) n *= d;
  for (int64_t o = 0; o < n; ++o) {
    std::vector<int64_t> idx(r);
    int64_t rem = o;
    for (size_t d = r; d-- > 0;) {
      idx[d] = rem % out[d];
      rem /= out[d];
    }
    auto offset = [&](const Shape& s) {
      int64_t off = 0;
      for (size_t k = 0; k < s.size(); ++k) {
        int64_t i = s[k] == 1 ? 0 : idx[r - s.size() + k];
        off = off * s[k] + i;
      }
      return off;
    };
    res.push_back(a.data<float>()[offset(a.shape())] - b.data<float>()[offset(b.shape())]);
  }
  return res;
}

TEST(Elementwise, BroadcastFastPathsMatchTheNaiveReference) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{4, 3}, {3}},          {{4, 3}, {1, 3}},       {{4, 3}, {4, 1}},
      {{3}, {4, 3}},          {{4, 1}, {4, 3}},       {{2, 3, 4}, {3, 4}},
      {{2, 3, 4}, {3, 1}},    {{2, 3, 4}, {2, 3, 1}}, {{2, 3, 4}, {1, 3, 1}},
      {{1, 3, 1}, {2, 3, 4}}, {{2, 1, 4}, {1, 3, 1}}, {{5}, {1}},
  };
  for (const auto& [sa, sb] : cases) {
    int64_t na = 1, nb = 1;
    for (auto d : sa) na *= d;
    for (auto d : sb) nb *= d;
    std::vector<float> va(static_cast<size_t>(na)), vb(static_cast<size_t>(nb));
    for (size_t i = 0; i < va.size(); ++i) va[i] = static_cast<float>(i * 7 % 11);
    for (size_t i = 0; i < vb.size(); ++i) vb[i] = static_cast<float>(i * 3 % 5) + 0.5f;
    Tensor a = Tensor::FromVector<float>(va, sa), b = Tensor::FromVector<float>(vb, sb);
    testing::OpSpec spec{.op_type = "Sub"};
    spec.inputs = {a, b};
    auto out = testing::RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    auto want = NaiveSub(a, b, (*out)[0].shape());
    ASSERT_EQ(static_cast<size_t>((*out)[0].size()), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ((*out)[0].data<float>()[i], want[i])
          << ShapeToString(sa) << " - " << ShapeToString(sb) << " element " << i;
  }
}

TEST(Elementwise, PowFastPathsAgreeWithPow) {
  for (float e : {2.f, 3.f, 0.5f, 1.f, 1.5f}) {
    testing::OpSpec spec{.op_type = "Pow"};
    spec.inputs = {Tensor::FromVector<float>({0.f, 1.5f, 2.f, 9.f}), Tensor::Scalar<float>(e)};
    auto out = testing::RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    for (int i = 0; i < 4; ++i) {
      float x = spec.inputs[0].data<float>()[i];
      EXPECT_NEAR((*out)[0].data<float>()[i], std::pow(x, e), 1e-6f * std::pow(x, e) + 1e-7f);
    }
  }
}

// ---- Fuzzer regressions (fuzz/README.md). The overflow cases are undefined
// behaviour before the fix: they abort under TIFFIN_SANITIZE_ADDRESS (UBSan).

// fuzz: integer Pow converted pow()'s double result with a plain cast; 10^200
// does not fit int16 (x86 then gave 0).
TEST(Elementwise, IntegerPowOutOfRangeSaturates) {
  testing::OpSpec spec{.op_type = "Pow", .opset = 15};
  spec.inputs = {Tensor::FromVector<int16_t>({10, 10, 0, 2}),
                 Tensor::FromVector<double>({200, -200, -1, 3})};
  auto out = testing::RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const int16_t* y = (*out)[0].data<int16_t>();
  EXPECT_EQ(y[0], 32767);  // 1e200 saturates
  EXPECT_EQ(y[1], 0);      // 1e-200 truncates
  EXPECT_EQ(y[2], 32767);  // 0^-1 = inf saturates
  EXPECT_EQ(y[3], 8);
  spec.inputs = {Tensor::FromVector<uint8_t>({10}), Tensor::FromVector<float>({200})};
  out = testing::RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<uint8_t>()[0], 255);
}

// review (same class as the fuzzer's overflow findings): integer Add, Sub,
// Mul, Neg and Abs wrap like numpy instead of overflowing a signed type.
TEST(Elementwise, IntegerArithmeticWraps) {
  auto bin = [](const char* op, Tensor a, Tensor b) {
    testing::OpSpec spec{.op_type = op};
    spec.inputs = {std::move(a), std::move(b)};
    auto out = testing::RunOp(spec);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? (*out)[0] : Tensor();
  };
  const int32_t imax = std::numeric_limits<int32_t>::max(),
                imin = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(
      bin("Add", Tensor::Scalar<int32_t>(imax), Tensor::Scalar<int32_t>(1)).data<int32_t>()[0],
      imin);
  EXPECT_EQ(
      bin("Sub", Tensor::Scalar<int32_t>(imin), Tensor::Scalar<int32_t>(1)).data<int32_t>()[0],
      imax);
  EXPECT_EQ(bin("Mul", Tensor::Scalar<int64_t>(std::numeric_limits<int64_t>::max()),
                Tensor::Scalar<int64_t>(2))
                .data<int64_t>()[0],
            -2);
  // uint16 * uint16 promotes to (signed) int.
  EXPECT_EQ(bin("Mul", Tensor::Scalar<uint16_t>(65535), Tensor::Scalar<uint16_t>(65535))
                .data<uint16_t>()[0],
            1);
  EXPECT_EQ(
      bin("Sum", Tensor::Scalar<int32_t>(imax), Tensor::Scalar<int32_t>(imax)).data<int32_t>()[0],
      -2);
  for (const char* op : {"Neg", "Abs"}) {
    testing::OpSpec spec{.op_type = op};
    spec.inputs = {Tensor::FromVector<int64_t>({std::numeric_limits<int64_t>::min(), -3})};
    auto out = testing::RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ((*out)[0].data<int64_t>()[0], std::numeric_limits<int64_t>::min()) << op;
    EXPECT_EQ((*out)[0].data<int64_t>()[1], 3) << op;
  }
}

}  // namespace
}  // namespace tiffin
