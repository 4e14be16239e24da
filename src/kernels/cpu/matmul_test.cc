// Gemm and MatMul. Expected values computed with numpy.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::FloatAttr;
using testing::IntAttr;
using testing::OpSpec;
using testing::RunOp;

template <typename T>
void ExpectValues(const Tensor& t, const Shape& shape, const std::vector<T>& want) {
  ASSERT_EQ(t.shape(), shape);
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      EXPECT_NEAR(t.data<T>()[i], want[i], 1e-5 * (1 + std::abs(want[i]))) << "at " << i;
    } else {
      EXPECT_EQ(t.data<T>()[i], want[i]) << "at " << i;
    }
  }
}

Tensor Arange(int64_t n, float scale, float offset, Shape shape) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = static_cast<float>(i) * scale + offset;
  return Tensor::FromVector<float>(v, shape);
}

OpSpec GemmTransBSpec(bool constant_b) {
  OpSpec spec{.op_type = "Gemm", .opset = 13};
  spec.attributes = {{"transB", IntAttr(1)}, {"alpha", FloatAttr(0.5f)}, {"beta", FloatAttr(2)}};
  spec.inputs = {Arange(6, 1, -2, {2, 3}), Arange(12, 0.5f, -2, {4, 3}),
                 Tensor::FromVector<float>({1, 2, 3, 4})};
  spec.constant_inputs = {false, constant_b, constant_b};
  return spec;
}

TEST(MatMulKernels, GemmTransBWithVectorBias) {
  for (bool constant_b : {false, true}) {
    auto out = RunOp(GemmTransBSpec(constant_b));
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ExpectValues<float>((*out)[0], {2, 4}, {4.75, 4.5, 4.25, 4.0, -2.0, 4.5, 11.0, 17.5});
  }
}

TEST(MatMulKernels, GemmTransAWithColumnBias) {
  OpSpec spec{.op_type = "Gemm", .opset = 11};
  spec.attributes = {{"transA", IntAttr(1)}};
  // A^T of [[-2,-1,0],[1,2,3]], B = W^T.
  spec.inputs = {
      Tensor::FromVector<float>({-2, 1, -1, 2, 0, 3}, {3, 2}),
      Tensor::FromVector<float>({-2, -0.5, 1, 2.5, -1.5, 0, 1.5, 3, -1, 0.5, 2, 3.5}, {3, 4}),
      Tensor::FromVector<float>({10, 20}, {2, 1})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {2, 4}, {15.5, 11.0, 6.5, 2.0, 12.0, 21.0, 30.0, 39.0});
}

TEST(MatMulKernels, GemmWithoutBiasFloat64) {
  OpSpec spec{.op_type = "Gemm", .opset = 13};
  spec.inputs = {Tensor::FromVector<double>({1, 2, 3, 4}, {2, 2}),
                 Tensor::FromVector<double>({5, 6, 7, 8}, {2, 2})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<double>((*out)[0], {2, 2}, {19, 22, 43, 50});
}

// One row times a large matrix takes the gemv path (K*N >= 4096); every
// transpose combination, float32 and float64, a bias with beta, against a
// naive double-precision sum.
TEST(MatMulKernels, GemmOneRowLargeMatrixAllTransposes) {
  const int64_t K = 70, N = 90;
  for (bool trans_a : {false, true}) {
    for (bool trans_b : {false, true}) {
      std::vector<double> a(K), b(K * N), bias(N);
      for (int64_t i = 0; i < K; ++i) a[i] = std::sin(0.3 * i);
      for (int64_t i = 0; i < K * N; ++i) b[i] = std::cos(0.017 * i) - 0.2;
      for (int64_t i = 0; i < N; ++i) bias[i] = 0.01 * i;
      std::vector<double> want(N);
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += a[k] * (trans_b ? b[n * K + k] : b[k * N + n]);
        want[n] = 0.5 * acc + 2 * bias[n];
      }
      const Shape a_shape = trans_a ? Shape{K, 1} : Shape{1, K};
      const Shape b_shape = trans_b ? Shape{N, K} : Shape{K, N};
      for (bool f64 : {false, true}) {
        OpSpec spec{.op_type = "Gemm", .opset = 13};
        spec.attributes = {{"transA", IntAttr(trans_a)},
                           {"transB", IntAttr(trans_b)},
                           {"alpha", FloatAttr(0.5f)},
                           {"beta", FloatAttr(2)}};
        if (f64) {
          spec.inputs = {Tensor::FromVector<double>(a, a_shape),
                         Tensor::FromVector<double>(b, b_shape),
                         Tensor::FromVector<double>(bias, {N})};
        } else {
          auto f = [](const std::vector<double>& v) {
            return std::vector<float>(v.begin(), v.end());
          };
          spec.inputs = {Tensor::FromVector<float>(f(a), a_shape),
                         Tensor::FromVector<float>(f(b), b_shape),
                         Tensor::FromVector<float>(f(bias), {N})};
        }
        auto out = RunOp(spec);
        ASSERT_TRUE(out.ok()) << out.status().ToString();
        SCOPED_TRACE(::testing::Message() << "transA " << trans_a << " transB " << trans_b
                                          << (f64 ? " float64" : " float32"));
        if (f64) {
          ExpectValues<double>((*out)[0], {1, N}, want);
        } else {
          ExpectValues<float>((*out)[0], {1, N}, std::vector<float>(want.begin(), want.end()));
        }
      }
    }
  }
}

TEST(MatMulKernels, MatMulOneRowLargeMatrix) {
  const int64_t K = 64, N = 128;
  std::vector<float> a(K), b(K * N);
  for (int64_t i = 0; i < K; ++i) a[i] = static_cast<float>(i % 7) - 3;
  for (int64_t i = 0; i < K * N; ++i) b[i] = static_cast<float>(i % 11) * 0.25f - 1;
  std::vector<float> want(N);
  for (int64_t n = 0; n < N; ++n) {
    double acc = 0;
    for (int64_t k = 0; k < K; ++k) acc += double(a[k]) * b[k * N + n];
    want[n] = static_cast<float>(acc);
  }
  OpSpec spec{.op_type = "MatMul", .opset = 13};
  spec.inputs = {Tensor::FromVector<float>(a, {1, K}), Tensor::FromVector<float>(b, {K, N})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {1, N}, want);
}

TEST(MatMulKernels, GemmInnerMismatchNamesTheNode) {
  OpSpec spec{.op_type = "Gemm", .opset = 13};
  spec.inputs = {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {4, 2})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("node 'n0' (Gemm)"), std::string::npos);
  EXPECT_NE(out.status().message().find("inner dimensions differ"), std::string::npos);
}

TEST(MatMulKernels, GemmBadBiasShape) {
  OpSpec spec{.op_type = "Gemm", .opset = 13};
  spec.inputs = {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {3, 4}),
                 Tensor(DType::kFloat32, {3})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("does not broadcast"), std::string::npos);
}

TEST(MatMulKernels, GemmRejectsRank3) {
  OpSpec spec{.op_type = "Gemm", .opset = 13};
  spec.inputs = {Tensor(DType::kFloat32, {1, 2, 3}), Tensor(DType::kFloat32, {3, 4})};
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("must be 2-D"), std::string::npos);
}

TEST(MatMulKernels, MatMulBatchedBroadcast) {
  OpSpec spec{.op_type = "MatMul"};
  std::vector<float> b(18);
  for (int i = 0; i < 18; ++i) b[i] = static_cast<float>(i % 5);
  spec.inputs = {Arange(12, 1, -5, {2, 1, 2, 3}), Tensor::FromVector<float>(b, {3, 3, 2})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {2, 3, 2, 2},
                      {-20, -17, -2, -5, -17, -29, -5, -8, -29, -21, -8, -6,
                       16,  7,   34, 19, 7,   13,  19, 34, 13,  9,   34, 24});
}

TEST(MatMulKernels, MatMulOneDimensionalOperands) {
  const Tensor v = Tensor::FromVector<float>({1, 2, 3});
  const Tensor m = Tensor::FromVector<float>({0, 1, 2, 3, 4, 0}, {3, 2});
  const Tensor a = Tensor::FromVector<float>({-5, -4, -3, -2, -1, 0}, {2, 3});
  {
    OpSpec spec{.op_type = "MatMul", .inputs = {v, m}};
    auto out = RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ExpectValues<float>((*out)[0], {2}, {16, 7});
  }
  {
    OpSpec spec{.op_type = "MatMul", .inputs = {a, v}};
    auto out = RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ExpectValues<float>((*out)[0], {2}, {-22, -4});
  }
  {
    OpSpec spec{.op_type = "MatMul", .inputs = {v, v}};
    auto out = RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ExpectValues<float>((*out)[0], {}, {14});
  }
}

TEST(MatMulKernels, MatMulInt64) {
  OpSpec spec{.op_type = "MatMul"};
  spec.inputs = {Tensor::FromVector<int64_t>({-3, -2, -1, 0, 1, 2}, {2, 3}),
                 Tensor::FromVector<int64_t>({0, 7, 14, 21, 28, 35}, {3, 2})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<int64_t>((*out)[0], {2, 2}, {-56, -98, 70, 91});
}

TEST(MatMulKernels, MatMulEmptyInnerDimGivesZeros) {
  OpSpec spec{.op_type = "MatMul"};
  spec.inputs = {Tensor(DType::kFloat32, {2, 0}), Tensor(DType::kFloat32, {0, 3})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectValues<float>((*out)[0], {2, 3}, {0, 0, 0, 0, 0, 0});
}

TEST(MatMulKernels, MatMulMismatchAndBadBatchNameTheNode) {
  {
    OpSpec spec{.op_type = "MatMul"};
    spec.inputs = {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kFloat32, {2, 3})};
    auto out = RunOp(spec);
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.status().message().find("node 'n0' (MatMul)"), std::string::npos);
    EXPECT_NE(out.status().message().find("inner dimensions differ"), std::string::npos);
  }
  {
    OpSpec spec{.op_type = "MatMul"};
    spec.inputs = {Tensor(DType::kFloat32, {2, 2, 3}), Tensor(DType::kFloat32, {3, 3, 2})};
    auto out = RunOp(spec);
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.status().message().find("node 'n0' (MatMul)"), std::string::npos);
  }
  {
    OpSpec spec{.op_type = "MatMul"};
    spec.inputs = {Tensor(DType::kFloat32, {2, 3}), Tensor(DType::kInt64, {3, 2})};
    auto out = RunOp(spec);
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.status().message().find("dtype"), std::string::npos);
  }
}

// Prints single-run timings of the MLP-shaped products (no assertion).
TEST(MatMulKernels, TimingMlpShapes) {
  for (int64_t batch : {1, 256}) {
    OpSpec spec{.op_type = "Gemm", .opset = 13};
    spec.attributes = {{"transB", IntAttr(1)}};
    spec.inputs = {Arange(batch * 64, 0.001f, 0, {batch, 64}), Arange(64 * 64, 0.001f, 0, {64, 64}),
                   Arange(64, 0.1f, 0, {64})};
    spec.constant_inputs = {false, true, true};
    auto t0 = std::chrono::steady_clock::now();
    auto out = RunOp(spec);
    auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    std::printf("gemm [%ld,64]x[64,64]^T via RunOp (load + 2 runs): %.1f us\n",
                static_cast<long>(batch),
                std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
}

}  // namespace
}  // namespace tiffin

namespace tiffin {
namespace {

TEST(Gemm, Opset6NeedsExactCUnlessBroadcastIsSet) {
  testing::OpSpec spec{.op_type = "Gemm", .opset = 6};
  spec.inputs = {Tensor::FromVector<float>({1, 2}, {1, 2}),
                 Tensor::FromVector<float>({1, 0, 0, 1}, {2, 2}),
                 Tensor::FromVector<float>({10, 20}, {2})};
  auto refused = testing::RunOp(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("at opset 6 without broadcast=1"), std::string::npos);
  spec.attributes["broadcast"] = testing::IntAttr(1);
  auto out = testing::RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<float>()[0], 11);
  EXPECT_EQ((*out)[0].data<float>()[1], 22);
}

// ---- Fuzzer regressions (fuzz/README.md).

// review: integer Gemm cast the float alpha/beta attributes straight to the
// element type (1e10 does not fit int32; x86 gave INT_MIN) and scaled C with
// a signed multiply that can overflow. Both saturate / wrap now.
TEST(Gemm, IntegerAlphaBetaOutOfRangeSaturateAndScalingWraps) {
  OpSpec spec{.op_type = "Gemm"};
  spec.attributes["alpha"] = FloatAttr(1e10f);
  spec.attributes["beta"] = FloatAttr(2.f);
  spec.inputs = {Tensor::FromVector<int32_t>({1}, {1, 1}), Tensor::FromVector<int32_t>({1}, {1, 1}),
                 Tensor::FromVector<int32_t>({1 << 30}, {1, 1})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // alpha -> INT32_MAX; beta * C = 2^31 wraps to INT32_MIN; sum wraps to -1.
  EXPECT_EQ((*out)[0].data<int32_t>()[0], -1);
}

}  // namespace
}  // namespace tiffin
