// Reduction kernels. Expected values were computed with numpy (float64).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;

void ExpectClose(const Tensor& t, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    const double got = t.dtype() == DType::kFloat64 ? t.data<double>()[i] : t.data<float>()[i];
    if (std::isinf(want[i])) {
      EXPECT_EQ(got, want[i]) << "at " << i;
    } else {
      EXPECT_NEAR(got, want[i], tol * (1 + std::fabs(want[i]))) << "at " << i;
    }
  }
}

// x = arange(24).reshape(2,3,4) * 0.5 - 3
Tensor X234() {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = 0.5f * i - 3;
  return Tensor::FromVector<float>(v, {2, 3, 4});
}

Tensor Axes(std::vector<int64_t> a) { return Tensor::FromVector<int64_t>(a); }

Result<Tensor> Run1(const OpSpec& spec) {
  TIFFIN_ASSIGN_OR_RETURN(auto out, RunOp(spec));
  return out[0];
}

TEST(Reduce, SumAxesInputFromOpset13) {
  OpSpec s{.op_type = "ReduceSum", .opset = 13, .inputs = {X234(), Axes({1})}};
  s.attributes["keepdims"] = IntAttr(0);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->shape(), (Shape{2, 4}));
  ExpectClose(*y, {-3.0, -1.5, 0.0, 1.5, 15.0, 16.5, 18.0, 19.5});
}

TEST(Reduce, SumAxesAttributeBeforeOpset13) {
  OpSpec s{.op_type = "ReduceSum", .opset = 11, .inputs = {X234()}};
  s.attributes["axes"] = IntsAttr({-2});
  auto y = Run1(s);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->shape(), (Shape{2, 1, 4}));
  ExpectClose(*y, {-3.0, -1.5, 0.0, 1.5, 15.0, 16.5, 18.0, 19.5});
}

TEST(Reduce, MeanOverNonAdjacentAxesAttributeAndInput) {
  OpSpec s{.op_type = "ReduceMean", .opset = 17, .inputs = {X234()}};
  s.attributes["axes"] = IntsAttr({0, 2});
  auto y = Run1(s);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->shape(), (Shape{1, 3, 1}));
  ExpectClose(*y, {0.75, 2.75, 4.75});
  OpSpec s18{.op_type = "ReduceMean", .opset = 18, .inputs = {X234(), Axes({2, 0})}};
  y = Run1(s18);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ExpectClose(*y, {0.75, 2.75, 4.75});
}

TEST(Reduce, AxesAttributeRefusedWhereItIsAnInput) {
  OpSpec s{.op_type = "ReduceMean", .opset = 18, .inputs = {X234()}};
  s.attributes["axes"] = IntsAttr({0});
  auto y = Run1(s);
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'n0' (ReduceMean)"), std::string::npos);
  EXPECT_NE(y.status().message().find("'axes'"), std::string::npos);
}

TEST(Reduce, OtherReductions) {
  OpSpec l2{.op_type = "ReduceL2", .opset = 18, .inputs = {X234(), Axes({2})}};
  auto y = Run1(l2);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ExpectClose(*y, {4.636809247747852, 1.224744871391589, 3.6742346141747673, 7.582875444051551,
                   11.554220008291344, 15.540270267920054});
  OpSpec lse{.op_type = "ReduceLogSumExp", .opset = 18, .inputs = {X234(), Axes({0})}};
  y = Run1(lse);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {3.00247568513773, 3.50247568513773, 4.00247568513773, 4.50247568513773,
                   5.00247568513773, 5.50247568513773, 6.00247568513773, 6.50247568513773,
                   7.00247568513773, 7.50247568513773, 8.00247568513773, 8.50247568513773});
  OpSpec prod{.op_type = "ReduceProd", .opset = 18, .inputs = {X234(), Axes({-1})}};
  y = Run1(prod);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {22.5, 0.0, 7.5, 189.0, 1072.5, 3570.0});
  auto mx = Run1({.op_type = "ReduceMax", .opset = 18, .inputs = {X234()}});
  ASSERT_TRUE(mx.ok());
  EXPECT_EQ(mx->shape(), (Shape{1, 1, 1}));
  ExpectClose(*mx, {8.5});
  OpSpec mn{.op_type = "ReduceMin", .opset = 13, .inputs = {X234()}};
  mn.attributes["axes"] = IntsAttr({1, 2});
  mn.attributes["keepdims"] = IntAttr(0);
  y = Run1(mn);
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {-3.0, 3.0});
  auto ls = Run1({.op_type = "ReduceLogSum",
                  .opset = 18,
                  .inputs = {Tensor::FromVector<float>({1, 2, 3, 4})}});
  ASSERT_TRUE(ls.ok());
  ExpectClose(*ls, {std::log(10.0)});
}

TEST(Reduce, MaxPropagatesNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto x = Tensor::FromVector<float>({1, nan, 3, 4, 5, 6}, {2, 3});
  auto y = Run1({.op_type = "ReduceMax", .opset = 18, .inputs = {x, Axes({1})}});
  ASSERT_TRUE(y.ok());
  EXPECT_TRUE(std::isnan(y->data<float>()[0]));
  EXPECT_EQ(y->data<float>()[1], 6);
  y = Run1({.op_type = "ReduceMin", .opset = 18, .inputs = {x, Axes({0})}});
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->data<float>()[0], 1);
  EXPECT_TRUE(std::isnan(y->data<float>()[1]));
}

TEST(Reduce, LogSumExpIsStable) {
  auto y = Run1({.op_type = "ReduceLogSumExp",
                 .opset = 18,
                 .inputs = {Tensor::FromVector<float>({1000, 1000, -1000})}});
  ASSERT_TRUE(y.ok());
  ExpectClose(*y, {1000 + std::log(2.0)});
}

TEST(Reduce, IntegerReductions) {
  auto xi = Tensor::FromVector<int32_t>({3, -4, 5, -1, 2, -2}, {2, 3});
  OpSpec l1{.op_type = "ReduceL1", .opset = 18, .inputs = {xi, Axes({1})}};
  auto y = Run1(l1);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->data<int32_t>()[0], 12);
  EXPECT_EQ(y->data<int32_t>()[1], 5);
  OpSpec l2{.op_type = "ReduceL2", .opset = 18, .inputs = {xi, Axes({1})}};
  y = Run1(l2);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->data<int32_t>()[0], 7);
  EXPECT_EQ(y->data<int32_t>()[1], 3);
  OpSpec sum{.op_type = "ReduceSum",
             .opset = 13,
             .inputs = {Tensor::FromVector<int64_t>({1, 2, 3, 4}, {2, 2}), Axes({0})}};
  y = Run1(sum);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->data<int64_t>()[0], 4);
  EXPECT_EQ(y->data<int64_t>()[1], 6);
}

TEST(Reduce, BoolMaxMin) {
  Tensor b(DType::kBool, {2, 2});
  b.data<bool>()[1] = true;
  OpSpec s{.op_type = "ReduceMax", .opset = 20, .inputs = {b, Axes({1})}};
  auto y = Run1(s);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_TRUE(y->data<bool>()[0]);
  EXPECT_FALSE(y->data<bool>()[1]);
  s.op_type = "ReduceMin";
  y = Run1(s);
  ASSERT_TRUE(y.ok());
  EXPECT_FALSE(y->data<bool>()[0]);
}

TEST(Reduce, EmptySetGivesIdentity) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor empty(DType::kFloat32, {2, 0, 3});
  struct Case {
    const char* op;
    double want;
  } cases[] = {{"ReduceSum", 0},       {"ReduceProd", 1},      {"ReduceMax", -inf},
               {"ReduceMin", inf},     {"ReduceL1", 0},        {"ReduceL2", 0},
               {"ReduceSumSquare", 0}, {"ReduceLogSum", -inf}, {"ReduceLogSumExp", -inf}};
  for (const auto& c : cases) {
    auto y = Run1({.op_type = c.op, .opset = 18, .inputs = {empty, Axes({1})}});
    ASSERT_TRUE(y.ok()) << c.op << ": " << y.status().ToString();
    EXPECT_EQ(y->shape(), (Shape{2, 1, 3})) << c.op;
    ExpectClose(*y, std::vector<double>(6, c.want));
  }
  auto mean = Run1({.op_type = "ReduceMean", .opset = 18, .inputs = {empty, Axes({1})}});
  ASSERT_TRUE(mean.ok());
  EXPECT_TRUE(std::isnan(mean->data<float>()[0]));
  // Reducing a non-empty axis of an empty tensor gives an empty tensor.
  auto e2 = Run1({.op_type = "ReduceSum", .opset = 18, .inputs = {empty, Axes({2})}});
  ASSERT_TRUE(e2.ok());
  EXPECT_EQ(e2->shape(), (Shape{2, 0, 1}));
}

TEST(Reduce, NoopWithEmptyAxes) {
  OpSpec s{.op_type = "ReduceSumSquare",
           .opset = 18,
           .inputs = {Tensor::FromVector<float>({-2, 3}), Axes({})}};
  s.attributes["noop_with_empty_axes"] = IntAttr(1);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->shape(), (Shape{2}));
  ExpectClose(*y, {4, 9});  // no reduction, but still squared (the ONNX reference)
  s.attributes["noop_with_empty_axes"] = IntAttr(0);
  y = Run1(s);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->shape(), (Shape{1}));
  ExpectClose(*y, {13});
}

TEST(Reduce, BadAxesNameTheNode) {
  auto y = Run1({.op_type = "ReduceSum", .opset = 13, .inputs = {X234(), Axes({1, -2})}});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'n0' (ReduceSum)"), std::string::npos);
  EXPECT_NE(y.status().message().find("twice"), std::string::npos);
  y = Run1({.op_type = "ReduceSum", .opset = 13, .inputs = {X234(), Axes({3})}});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("out of range"), std::string::npos);
}

TEST(Reduce, LongRowsSumAccurately) {
  // The last-axis path folds rows in several lanes; check it against a
  // double reference on rows longer than the lane count, with odd tails.
  const int rows = 3, n = 1037;
  std::vector<float> v(rows * n);
  for (int i = 0; i < rows * n; ++i) v[i] = std::sin(0.37f * i) + 0.25f;
  auto y = Run1({.op_type = "ReduceSum",
                 .opset = 13,
                 .inputs = {Tensor::FromVector<float>(v, {rows, n}), Axes({1})}});
  ASSERT_TRUE(y.ok());
  for (int r = 0; r < rows; ++r) {
    double want = 0;
    for (int i = 0; i < n; ++i) want += v[r * n + i];
    EXPECT_NEAR(y->data<float>()[r], want, 1e-3);
  }
  // And the leading-axis path.
  auto c = Run1({.op_type = "ReduceMax",
                 .opset = 18,
                 .inputs = {Tensor::FromVector<float>(v, {rows, n}), Axes({0})}});
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(c->data<float>()[i], std::max({v[i], v[n + i], v[2 * n + i]}));
}

TEST(Reduce, Float16Mean) {
  Tensor h(DType::kFloat16, {2, 2});
  const float v[] = {1, 2, 3, 5};
  for (int i = 0; i < 4; ++i) h.data<Float16>()[i] = Float16(v[i]);
  auto y = Run1({.op_type = "ReduceMean", .opset = 18, .inputs = {h, Axes({1})}});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(static_cast<float>(y->data<Float16>()[0]), 1.5f);
  EXPECT_EQ(static_cast<float>(y->data<Float16>()[1]), 4.0f);
}

TEST(Reduce, ArgMaxArgMin) {
  auto x = Tensor::FromVector<float>({5, 1, 5, 3, 2, 8, 8, 0}, {2, 4});
  OpSpec s{.op_type = "ArgMax", .opset = 13, .inputs = {x}};
  s.attributes["axis"] = IntAttr(1);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->dtype(), DType::kInt64);
  EXPECT_EQ(y->shape(), (Shape{2, 1}));
  EXPECT_EQ(y->data<int64_t>()[0], 0);
  EXPECT_EQ(y->data<int64_t>()[1], 1);
  s.attributes["select_last_index"] = IntAttr(1);
  y = Run1(s);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->data<int64_t>()[0], 2);
  EXPECT_EQ(y->data<int64_t>()[1], 2);
  OpSpec m{.op_type = "ArgMin", .opset = 13, .inputs = {x}};
  m.attributes["keepdims"] = IntAttr(0);  // axis 0: columns
  y = Run1(m);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->shape(), (Shape{4}));
  const int64_t want[] = {1, 0, 0, 1};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y->data<int64_t>()[i], want[i]);
}

TEST(Reduce, ArgMaxOfEmptyAxisIsAnError) {
  OpSpec s{.op_type = "ArgMax", .opset = 13, .inputs = {Tensor(DType::kFloat32, {2, 0})}};
  s.attributes["axis"] = IntAttr(1);
  auto y = Run1(s);
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'n0' (ArgMax)"), std::string::npos);
}

TEST(Reduce, TopKLargestSmallestAndTies) {
  auto x = Tensor::FromVector<float>({5, 1, 5, 3, 2, 8, 8, 0}, {2, 4});
  OpSpec s{.op_type = "TopK", .opset = 11, .inputs = {x, Axes({3})}, .num_outputs = 2};
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectClose((*out)[0], {5, 5, 3, 8, 8, 2});
  const int64_t want_i[] = {0, 2, 3, 1, 2, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*out)[1].data<int64_t>()[i], want_i[i]);
  s.attributes["largest"] = IntAttr(0);
  s.inputs[1] = Axes({2});
  out = RunOp(s);
  ASSERT_TRUE(out.ok());
  ExpectClose((*out)[0], {1, 3, 0, 2});
  const int64_t want_s[] = {1, 3, 3, 0};
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*out)[1].data<int64_t>()[i], want_s[i]);
}

TEST(Reduce, TopKAlongLeadingAxisAndOldAttribute) {
  auto x = Tensor::FromVector<int32_t>({5, 1, 2, 8, 9, 0}, {3, 2});
  OpSpec s{.op_type = "TopK", .opset = 11, .inputs = {x, Axes({2})}, .num_outputs = 2};
  s.attributes["axis"] = IntAttr(0);
  auto out = RunOp(s);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2}));
  const int32_t want_v[] = {9, 8, 5, 1};
  const int64_t want_i[] = {2, 1, 0, 0};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ((*out)[0].data<int32_t>()[i], want_v[i]);
    EXPECT_EQ((*out)[1].data<int64_t>()[i], want_i[i]);
  }
  OpSpec old{.op_type = "TopK",
             .opset = 9,
             .inputs = {Tensor::FromVector<float>({1, 4, 2})},
             .num_outputs = 2};
  old.attributes["k"] = IntAttr(1);
  out = RunOp(old);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<float>()[0], 4);
  EXPECT_EQ((*out)[1].data<int64_t>()[0], 1);
}

TEST(Reduce, TopKRejectsKOutOfRange) {
  OpSpec s{.op_type = "TopK",
           .opset = 11,
           .inputs = {Tensor::FromVector<float>({1, 2}), Axes({3})},
           .num_outputs = 2};
  auto out = RunOp(s);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'n0' (TopK)"), std::string::npos);
  EXPECT_NE(out.status().message().find("k 3"), std::string::npos);
  s.inputs[1] = Axes({-1});
  out = RunOp(s);
  ASSERT_FALSE(out.ok());
}

TEST(Reduce, CumSumExclusiveReverse) {
  OpSpec s{.op_type = "CumSum",
           .inputs = {Tensor::FromVector<float>({5, 1, 5, 3, 2, 8, 8, 0}, {2, 4}),
                      Tensor::Scalar<int32_t>(1)}};
  s.attributes["exclusive"] = IntAttr(1);
  s.attributes["reverse"] = IntAttr(1);
  auto y = Run1(s);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ExpectClose(*y, {9.0, 8.0, 3.0, 0.0, 16.0, 8.0, 0.0, 0.0});
  OpSpec col{.op_type = "CumSum",
             .inputs = {Tensor::FromVector<int64_t>({1, 2, 3, 4, 5, 6}, {3, 2}),
                        Tensor::Scalar<int64_t>(-2)}};
  y = Run1(col);
  ASSERT_TRUE(y.ok());
  const int64_t want[] = {1, 2, 4, 6, 9, 12};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y->data<int64_t>()[i], want[i]);
  col.inputs[1] = Tensor::Scalar<int64_t>(2);
  y = Run1(col);
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'n0' (CumSum)"), std::string::npos);
}

// ---- Fuzzer regressions (fuzz/README.md). The overflow cases are undefined
// behaviour before the fix: they abort under TIFFIN_SANITIZE_ADDRESS (UBSan).

// fuzz: ReduceL1 / ReduceSumSquare of int64 (signed overflow in the fold).
TEST(Reduce, IntegerSumsAndProductsWrapOnOverflow) {
  const int64_t big = std::numeric_limits<int64_t>::max();
  const int64_t lowest = std::numeric_limits<int64_t>::min();
  auto run = [&](const char* op, std::vector<int64_t> v) {
    OpSpec spec{.op_type = op, .opset = 18};
    spec.attributes["keepdims"] = IntAttr(0);
    spec.inputs = {Tensor::FromVector<int64_t>(v)};
    auto y = Run1(spec);
    EXPECT_TRUE(y.ok()) << y.status().ToString();
    return y.ok() ? y->data<int64_t>()[0] : int64_t{0};
  };
  EXPECT_EQ(run("ReduceSum", {100, big}), lowest + 99);
  EXPECT_EQ(run("ReduceL1", {100, big}), lowest + 99);
  EXPECT_EQ(run("ReduceL1", {lowest}), lowest);  // |INT64_MIN| wraps, as in numpy
  EXPECT_EQ(run("ReduceSumSquare", {big}), 1);   // big^2 mod 2^64
  EXPECT_EQ(run("ReduceProd", {big, 2}), -2);
  // uint16 * uint16 promotes to int: 65535^2 overflowed int before the fix.
  OpSpec spec{.op_type = "ReduceProd", .opset = 18};
  spec.attributes["keepdims"] = IntAttr(0);
  spec.inputs = {Tensor::FromVector<uint16_t>({65535, 65535})};
  auto y = Run1(spec);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->data<uint16_t>()[0], 1);
  // CumSum folds the same way.
  OpSpec cs{.op_type = "CumSum"};
  cs.inputs = {Tensor::FromVector<int32_t>({std::numeric_limits<int32_t>::max(), 1}),
               Tensor::Scalar<int64_t>(0)};
  y = Run1(cs);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->data<int32_t>()[1], std::numeric_limits<int32_t>::min());
}

// fuzz: an int8 ReduceL2 / ReduceLogSum result (computed in double) was
// converted back with a plain cast: -inf (log 0) or 205.6 do not fit int8.
TEST(Reduce, IntegerLogAndL2ResultsSaturate) {
  OpSpec spec{.op_type = "ReduceLogSum", .opset = 18};
  spec.attributes["keepdims"] = IntAttr(0);
  spec.inputs = {Tensor::FromVector<int8_t>({0, 0})};
  auto y = Run1(spec);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->data<int8_t>()[0], -128);  // log(0) = -inf saturates
  spec.op_type = "ReduceL2";
  spec.inputs = {Tensor::FromVector<int8_t>({-128, -128, -128})};
  y = Run1(spec);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->data<int8_t>()[0], 127);  // sqrt(3 * 128^2) = 221.7
}

// review: ReduceMean of int8 divided by the count cast to int8, which is 0
// for 256 elements (SIGFPE) and 1 for 257 (no division at all).
TEST(Reduce, IntegerMeanDividesByTheFullCount) {
  for (int64_t n : {256, 257}) {
    std::vector<int8_t> v(static_cast<size_t>(n), 0);
    v[0] = 100;
    OpSpec spec{.op_type = "ReduceMean", .opset = 18};
    spec.attributes["keepdims"] = IntAttr(0);
    spec.inputs = {Tensor::FromVector<int8_t>(v)};
    auto y = Run1(spec);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_EQ(y->data<int8_t>()[0], 0) << "n = " << n;  // 100 / n truncates to 0
  }
}

// review: reductions, ArgMax and TopK multiplied all dims of the input to lay
// it out; an empty input may have dims whose product overflows int64 (UB
// before the fix; it aborts under UBSan).
TEST(Reduce, EmptyInputWithHugeDims) {
  const int64_t big = int64_t{1} << 40;
  const Tensor x(DType::kFloat32, {0, big, big});
  OpSpec sum{.op_type = "ReduceSum", .opset = 13};
  sum.inputs = {x, Axes({1, 2})};
  auto y = Run1(sum);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->shape(), (Shape{0, 1, 1}));
  OpSpec arg{.op_type = "ArgMax", .opset = 13};
  arg.attributes["axis"] = IntAttr(0);
  arg.inputs = {x};
  y = Run1(arg);
  EXPECT_FALSE(y.ok());  // an empty axis with non-empty rest: an error
  arg.attributes["axis"] = IntAttr(1);
  y = Run1(arg);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->shape(), (Shape{0, 1, big}));
}

}  // namespace
}  // namespace tiffin
