// Quantization kernels: regressions for what the ONNX loader fuzzer and its
// follow-up review found (fuzz/README.md). Before the fixes the NaN and
// overflow cases were undefined behaviour (they abort under
// TIFFIN_SANITIZE_ADDRESS, whose UBSan is fatal).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::OpSpec;
using testing::RunOp;

TEST(Quant, QuantizeLinearRoundsAndSaturates) {
  OpSpec spec{.op_type = "QuantizeLinear", .opset = 13};
  spec.inputs = {Tensor::FromVector<float>({0.f, 2.5f, 3.5f, 1000.f, -1000.f}),
                 Tensor::Scalar<float>(1.f), Tensor::Scalar<uint8_t>(10)};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const uint8_t want[] = {10, 12, 14, 255, 0};  // half to even, then saturate
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*out)[0].data<uint8_t>()[i], want[i]) << i;
}

// fuzz: NaN (a NaN input, or 0/0 with a zero scale) reached static_cast<uint8_t>.
TEST(Quant, QuantizeLinearOfNaNGivesZero) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  OpSpec spec{.op_type = "QuantizeLinear", .opset = 13};
  spec.inputs = {Tensor::FromVector<float>({nan, 0.f, 1.f}), Tensor::Scalar<float>(0.f),
                 Tensor::Scalar<int8_t>(0)};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].data<int8_t>()[0], 0);    // NaN
  EXPECT_EQ((*out)[0].data<int8_t>()[1], 0);    // 0 / 0
  EXPECT_EQ((*out)[0].data<int8_t>()[2], 127);  // 1 / 0 = inf saturates
}

// fuzz: with an infinite input the range is infinite, the scale inf and the
// zero point -(-inf)/inf = NaN, which was cast to uint8.
TEST(Quant, DynamicQuantizeLinearWithInfinityDoesNotCastNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  OpSpec spec{.op_type = "DynamicQuantizeLinear", .opset = 11, .num_outputs = 3};
  spec.inputs = {Tensor::FromVector<float>({-inf, 1.f, inf})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[2].data<uint8_t>()[0], 0);
}

TEST(Quant, MatMulIntegerWithZeroPoints) {
  OpSpec spec{.op_type = "MatMulInteger", .opset = 10};
  spec.inputs = {Tensor::FromVector<uint8_t>({11, 12, 13, 14}, {2, 2}),
                 Tensor::FromVector<int8_t>({1, -1, 2, 3}, {2, 2}), Tensor::Scalar<uint8_t>(10),
                 Tensor::Scalar<int8_t>(0)};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // [[1,2],[3,4]] x [[1,-1],[2,3]]
  const int32_t want[] = {5, 5, 11, 9};
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*out)[0].data<int32_t>()[i], want[i]) << i;
}

// review: the int32 accumulator overflowed (signed) for long rows; it wraps
// now, as ONNX Runtime's does: 2^18 products of 127 * 127 sum past 2^31.
TEST(Quant, MatMulIntegerAccumulatorWraps) {
  const int64_t K = int64_t{1} << 18;
  Tensor a(DType::kInt8, {1, K}), b(DType::kInt8, {K, 1});
  for (int64_t k = 0; k < K; ++k) {
    a.data<int8_t>()[k] = 127;
    b.data<int8_t>()[k] = 127;
  }
  OpSpec spec{.op_type = "MatMulInteger", .opset = 10};
  spec.inputs = {a, b};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const int64_t exact = K * 127 * 127;  // 4228120576
  const int32_t wrapped = static_cast<int32_t>(static_cast<uint32_t>(exact));
  EXPECT_EQ((*out)[0].data<int32_t>()[0], wrapped);
}

// review: MatMulInteger and QLinearMatMul computed every output element into
// an unbounded std::vector and only then asked ctx.Output for the tensor, so
// the size limit came after the work (and the memory). Here the output is
// just over the default 4 GiB limit ((2^15 + 1) x 2^15 int32, or
// (2^17 + 1) x 2^15 uint8): before the fix this took seconds and several GB
// (QLinearMatMul buffered floats: 16 GB) before failing; now it is refused
// up front.
TEST(Quant, IntegerMatMulChecksTheOutputSizeFirst) {
  const int64_t N = int64_t{1} << 15;
  for (const char* op : {"MatMulInteger", "QLinearMatMul"}) {
    const int64_t M = (int64_t{1} << (std::string(op) == "MatMulInteger" ? 15 : 17)) + 1;
    OpSpec spec{.op_type = op, .opset = 10};
    Tensor a(DType::kUInt8, {M, 1}), b(DType::kUInt8, {1, N});
    if (std::string(op) == "MatMulInteger") {
      spec.inputs = {a, b};
    } else {
      spec.inputs = {a,
                     Tensor::Scalar<float>(1.f),
                     Tensor::Scalar<uint8_t>(0),
                     b,
                     Tensor::Scalar<float>(1.f),
                     Tensor::Scalar<uint8_t>(0),
                     Tensor::Scalar<float>(1.f),
                     Tensor::Scalar<uint8_t>(0)};
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto out = RunOp(spec);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_FALSE(out.ok()) << op;
    EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted) << out.status().ToString();
    EXPECT_LT(secs, 0.5) << op << " did the work before checking the output size";
  }
}

}  // namespace
}  // namespace tiffin
