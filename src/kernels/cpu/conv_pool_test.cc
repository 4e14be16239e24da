// Conv, ConvTranspose and pools. Expected values computed with PyTorch
// (torch.nn.functional) on the same Pattern() inputs.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "exec/testing.h"

namespace tiffin {
namespace {

using testing::IntAttr;
using testing::IntsAttr;
using testing::OpSpec;
using testing::RunOp;
using testing::StringAttr;

// ((i * 7) % mod - off) * scale for element i: small exact values.
Tensor Pattern(const Shape& shape, int mod, int off, float scale = 1) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    v[static_cast<size_t>(i)] = static_cast<float>((i * 7) % mod - off) * scale;
  }
  return Tensor::FromVector<float>(v, shape);
}

void ExpectNear(const Tensor& t, const Shape& shape, const std::vector<float>& want) {
  ASSERT_EQ(t.shape(), shape);
  ASSERT_EQ(t.size(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(t.data<float>()[i], want[i], 1e-4f * (1 + std::abs(want[i]))) << "at " << i;
  }
}

void ExpectError(const OpSpec& spec, const std::string& what) {
  auto out = RunOp(spec);
  ASSERT_FALSE(out.ok()) << "expected an error mentioning '" << what << "'";
  EXPECT_NE(out.status().message().find("node 'n0' (" + spec.op_type + ")"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find(what), std::string::npos) << out.status().message();
}

TEST(ConvPool, Conv2dPaddedWithBias) {
  for (bool constant_w : {true, false}) {
    OpSpec spec{.op_type = "Conv"};
    spec.attributes = {{"pads", IntsAttr({1, 1, 1, 1})}, {"kernel_shape", IntsAttr({3, 3})}};
    spec.inputs = {Pattern({1, 2, 4, 4}, 11, 5), Pattern({3, 2, 3, 3}, 5, 2, 0.5f),
                   Tensor::FromVector<float>({1, -1, 0.5f})};
    spec.constant_inputs = {false, constant_w, constant_w};
    auto out = RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ExpectNear((*out)[0], {1, 3, 4, 4},
               {1.5, -11.5, 3,     11.5, 7,    0,    5.5,  -7,   -3.5, -5.5, 22,   -2,
                7,   -7,    0.5,   -2,   -1.5, 11.5, -23,  9.5,  -2.5, -16,  4.5,  12,
                0,   5.5,   -12.5, -10,  0.5,  -13,  12.5, 4.5,  1.5,  5.5,  -5.5, -1.5,
                -1,  11.5,  -18,   9.5,  2,    -7.5, 1.5,  15.5, 0,    12,   -17,  -0.5});
  }
}

TEST(ConvPool, Conv2dGroupedStridedDilatedAsymmetricPads) {
  OpSpec spec{.op_type = "Conv"};
  spec.attributes = {{"group", IntAttr(2)},
                     {"strides", IntsAttr({2, 1})},
                     {"dilations", IntsAttr({1, 2})},
                     {"pads", IntsAttr({1, 0, 0, 2})}};
  spec.inputs = {Pattern({2, 4, 5, 6}, 13, 6), Pattern({4, 2, 2, 2}, 5, 2, 0.25f)};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear((*out)[0], {2, 4, 3, 6},
             {-3.25, 2,     -2.5,  2.75,  -2,    1.5,  2.5,   -0.75, 2.5,   -4,    1.75, -6.25,
              -0.75, 2.5,   -0.75, 2.5,   -6.5,  1.75, 3.5,   -1.75, 2.75,  -2.5,  1.5,  -0.25,
              -1.25, 8.25,  -1.75, 1.25,  0.75,  -2.5, -1,    -1.25, 8.25,  -1.75, -2.5, 0.75,
              0,     -1.5,  0.25,  -4.5,  1,     -0.5, 4.25,  -0.5,  -2,    -0.25, -6.5, 1.5,
              -0.75, 4.25,  -0.5,  -2,    1.75,  -6.5, -0.5,  6,     -0.5,  -0.5,  -1,   2,
              -1,    0.5,   5.25,  0.25,  2,     -1.5, 0.75,  -1,    0.5,   5.25,  -1,   2,
              2.75,  -1.75, 3.5,   -1,    2,     -1,   -4,    2.5,   -4,    2.5,   0.5,  2.25,
              2.5,   -4,    2.5,   -4,    2,     0.5,  -2.5,  2,     -3.25, 1.25,  -0.5, 1,
              1.25,  -2.25, -2.5,  -2.75, 0.75,  0.75, -1.75, 1.25,  -2.25, -2.5,  0.75, 0.75,
              -4.5,  0.5,   -1,    0.75,  -0.25, 1.5,  -0.25, -5,    0,     -1.5,  1.25, 2.75,
              -2,    -0.25, -5,    0,     -3.5,  1.25, -0.5,  -0.5,  -0.5,  -0.5,  1.5,  -2,
              0.25,  -1.5,  0,     -5,    -2,    4.25, 5.25,  0.25,  -1.5,  0,     1.5,  -2});
}

TEST(ConvPool, PointwiseConvBatch) {
  OpSpec spec{.op_type = "Conv"};
  spec.inputs = {Pattern({3, 2, 2, 3}, 9, 4),
                 Tensor::FromVector<float>({1, 2, -1, 0.5f}, {2, 2, 1, 1}),
                 Tensor::FromVector<float>({0.5f, -0.5f})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear((*out)[0], {3, 2, 2, 3},
             {0.5,  3.5,  -2.5, -8.5, 3.5,  6.5,  4.5,  -3.5, -2.5, -1.5, 4,    -4,
              -8.5, 3.5,  6.5,  0.5,  -5.5, 6.5,  -1.5, 4,    -4,   -3,   -2,   3.5,
              0.5,  -5.5, 6.5,  0.5,  3.5,  -2.5, -3,   -2,   3.5,  4.5,  -3.5, -2.5});
}

TEST(ConvPool, Conv3d) {
  OpSpec spec{.op_type = "Conv"};
  spec.inputs = {Pattern({1, 1, 3, 3, 3}, 10, 3), Pattern({1, 1, 2, 2, 2}, 3, 1)};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear((*out)[0], {1, 1, 2, 2, 2}, {-8, 5, -9, 4, -1, -8, -2, -9});
}

TEST(ConvPool, ConvSameUpperKeepsSize) {
  OpSpec spec{.op_type = "Conv"};
  spec.attributes = {{"auto_pad", StringAttr("SAME_UPPER")}, {"strides", IntsAttr({2, 2})}};
  spec.inputs = {Tensor(DType::kFloat32, {1, 1, 5, 5}), Tensor(DType::kFloat32, {1, 1, 3, 3})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 1, 3, 3}));
}

TEST(ConvPool, ConvTransposeStridedPaddedOutputPadding) {
  OpSpec spec{.op_type = "ConvTranspose"};
  spec.attributes = {{"strides", IntsAttr({2, 2})},
                     {"pads", IntsAttr({1, 0, 0, 1})},
                     {"output_padding", IntsAttr({1, 0})}};
  spec.inputs = {Pattern({1, 2, 2, 3}, 5, 2), Pattern({2, 1, 3, 3}, 9, 4, 0.5f),
                 Tensor::FromVector<float>({0.25f})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear((*out)[0], {1, 1, 5, 6},
             {1.25,  3.25,  -4.75, -2.75, 3.75, -1.25, -1.75, 0.25, 6.25, -1.25,
              2.75,  -2.75, 0.25,  0.25,  0.75, 1.75,  -0.75, 3.25, 0.25, 0.25,
              -0.75, 0.25,  -0.75, 0.25,  0.25, 0.25,  0.25,  0.25, 0.25, 0.25});
}

TEST(ConvPool, MaxPoolCeilModeWithIndices) {
  OpSpec spec{.op_type = "MaxPool", .opset = 12, .num_outputs = 2};
  spec.attributes = {
      {"kernel_shape", IntsAttr({2, 2})}, {"strides", IntsAttr({2, 2})}, {"ceil_mode", IntAttr(1)}};
  spec.inputs = {Pattern({1, 1, 5, 5}, 17, 8)};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectNear((*out)[0], {1, 1, 3, 3}, {0, 7, 4, 2, 8, 6, 3, 0, 7});
  const int64_t want_idx[] = {6, 7, 9, 16, 12, 19, 21, 23, 24};
  ASSERT_EQ((*out)[1].dtype(), DType::kInt64);
  for (int i = 0; i < 9; ++i) EXPECT_EQ((*out)[1].data<int64_t>()[i], want_idx[i]) << i;
}

TEST(ConvPool, AveragePoolCountIncludePad) {
  for (int64_t include : {1, 0}) {
    OpSpec spec{.op_type = "AveragePool"};
    spec.attributes = {{"kernel_shape", IntsAttr({3, 3})},
                       {"strides", IntsAttr({2, 2})},
                       {"pads", IntsAttr({1, 1, 1, 1})},
                       {"count_include_pad", IntAttr(include)}};
    spec.inputs = {Pattern({1, 1, 3, 4}, 9, 4)};
    auto out = RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    if (include) {
      ExpectNear((*out)[0], {1, 1, 2, 2}, {0, 1, -0.555555582f, 0.666666687f});
    } else {
      ExpectNear((*out)[0], {1, 1, 2, 2}, {0, 1.5, -1.25, 1});
    }
  }
}

TEST(ConvPool, GlobalPools) {
  const Tensor x = Pattern({2, 3, 2, 2}, 11, 3);
  {
    OpSpec spec{.op_type = "GlobalAveragePool", .inputs = {x}};
    auto out = RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ExpectNear((*out)[0], {2, 3, 1, 1}, {2.0, 2.5, 0.25, 3.5, 1.25, 1.75});
  }
  {
    OpSpec spec{.op_type = "GlobalMaxPool", .inputs = {x}};
    auto out = RunOp(spec);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ExpectNear((*out)[0], {2, 3, 1, 1}, {7, 6, 5, 7, 6, 5});
  }
}

Tensor ToHalf(const Tensor& t) {
  Tensor h(DType::kFloat16, t.shape());
  for (int64_t i = 0; i < t.size(); ++i) h.data<Float16>()[i] = Float16(t.data<float>()[i]);
  return h;
}

// float16 runs through float32: same values as the float32 case (all exact
// in half precision here), rounded back to float16.
TEST(ConvPool, Float16ConvAndPool) {
  OpSpec spec{.op_type = "Conv"};
  spec.inputs = {ToHalf(Pattern({1, 1, 3, 3, 3}, 10, 3)), ToHalf(Pattern({1, 1, 2, 2, 2}, 3, 1))};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].dtype(), DType::kFloat16);
  const float want[] = {-8, 5, -9, 4, -1, -8, -2, -9};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(static_cast<float>((*out)[0].data<Float16>()[i]), want[i]);

  OpSpec pool{.op_type = "MaxPool", .opset = 12};
  pool.attributes = {
      {"kernel_shape", IntsAttr({2, 2})}, {"strides", IntsAttr({2, 2})}, {"ceil_mode", IntAttr(1)}};
  pool.inputs = {ToHalf(Pattern({1, 1, 5, 5}, 17, 8))};
  auto pout = RunOp(pool);
  ASSERT_TRUE(pout.ok()) << pout.status().ToString();
  const float pwant[] = {0, 7, 4, 2, 8, 6, 3, 0, 7};
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(static_cast<float>((*pout)[0].data<Float16>()[i]), pwant[i]);
  }
}

TEST(ConvPool, ConvErrorsNameTheNode) {
  {
    OpSpec spec{.op_type = "Conv"};  // 3 channels, W wants 2 with group 1
    spec.inputs = {Tensor(DType::kFloat32, {1, 3, 4, 4}), Tensor(DType::kFloat32, {2, 2, 3, 3})};
    ExpectError(spec, "channels");
  }
  {
    OpSpec spec{.op_type = "Conv"};  // group 2 but 3 output channels
    spec.attributes = {{"group", IntAttr(2)}};
    spec.inputs = {Tensor(DType::kFloat32, {1, 4, 4, 4}), Tensor(DType::kFloat32, {3, 2, 3, 3})};
    ExpectError(spec, "not divisible by group");
  }
  {
    OpSpec spec{.op_type = "Conv"};
    spec.attributes = {{"strides", IntsAttr({0, 1})}};
    spec.inputs = {Tensor(DType::kFloat32, {1, 1, 4, 4}), Tensor(DType::kFloat32, {1, 1, 3, 3})};
    ExpectError(spec, "strides");
  }
  {
    OpSpec spec{.op_type = "Conv"};
    spec.attributes = {{"pads", IntsAttr({-1, 0, 0, 0})}};
    spec.inputs = {Tensor(DType::kFloat32, {1, 1, 4, 4}), Tensor(DType::kFloat32, {1, 1, 3, 3})};
    ExpectError(spec, "pads");
  }
  {
    OpSpec spec{.op_type = "Conv"};  // kernel larger than the input
    spec.inputs = {Tensor(DType::kFloat32, {1, 1, 2, 2}), Tensor(DType::kFloat32, {1, 1, 3, 3})};
    ExpectError(spec, "output spatial dim");
  }
  {
    OpSpec spec{.op_type = "Conv"};
    spec.attributes = {{"kernel_shape", IntsAttr({2, 2})}};
    spec.inputs = {Tensor(DType::kFloat32, {1, 1, 4, 4}), Tensor(DType::kFloat32, {1, 1, 3, 3})};
    ExpectError(spec, "kernel_shape");
  }
  {
    OpSpec spec{.op_type = "Conv"};
    spec.attributes = {{"dilations", IntsAttr({1, 1, 1})}};
    spec.inputs = {Tensor(DType::kFloat32, {1, 1, 4, 4}), Tensor(DType::kFloat32, {1, 1, 3, 3})};
    ExpectError(spec, "dilations");
  }
  {
    OpSpec spec{.op_type = "Conv"};
    spec.inputs = {Tensor(DType::kFloat32, {1, 4}), Tensor(DType::kFloat32, {1, 4})};
    ExpectError(spec, "expected [N, C, d1 .. dk]");
  }
}

TEST(ConvPool, PoolErrorsNameTheNode) {
  {
    OpSpec spec{.op_type = "MaxPool"};
    spec.inputs = {Tensor(DType::kFloat32, {1, 1, 4, 4})};
    ExpectError(spec, "kernel_shape");
  }
  {
    OpSpec spec{.op_type = "AveragePool"};
    spec.attributes = {{"kernel_shape", IntsAttr({2, 2, 2})}};
    spec.inputs = {Tensor(DType::kFloat32, {1, 1, 4, 4})};
    ExpectError(spec, "kernel_shape");
  }
  {
    OpSpec spec{.op_type = "MaxPool"};
    spec.attributes = {{"kernel_shape", IntsAttr({2, 2})}, {"auto_pad", StringAttr("SAME")}};
    spec.inputs = {Tensor(DType::kFloat32, {1, 1, 4, 4})};
    ExpectError(spec, "auto_pad");
  }
  {
    OpSpec spec{.op_type = "MaxPool"};
    spec.attributes = {{"kernel_shape", IntsAttr({2, 2})}, {"pads", IntsAttr({2, 2, 2, 2})}};
    spec.inputs = {Tensor(DType::kFloat32, {1, 1, 4, 4})};
    ExpectError(spec, "smaller than the kernel");
  }
}

// Single-run timing of the CNN fixture's first conv at batch 256 (printed, not asserted).
TEST(ConvPool, TimingBatchConv) {
  OpSpec spec{.op_type = "Conv"};
  spec.attributes = {{"pads", IntsAttr({1, 1, 1, 1})}};
  spec.inputs = {Pattern({256, 3, 16, 16}, 11, 5, 0.1f), Pattern({8, 3, 3, 3}, 5, 2, 0.1f),
                 Tensor::FromVector<float>({0, 0, 0, 0, 0, 0, 0, 0})};
  spec.constant_inputs = {false, true, true};
  auto t0 = std::chrono::steady_clock::now();
  auto out = RunOp(spec);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  std::printf("conv [256,3,16,16] x [8,3,3,3] via RunOp (load + 2 runs): %.1f us\n",
              std::chrono::duration<double, std::micro>(t1 - t0).count());
}

// ---- Fuzzer regressions (fuzz/README.md).

// review: pools walked every tap of the window per output (and sized two
// vectors by kernel_shape's last dim). kernel_shape may be 2^31 with pads
// just below it, so a 1-element input took ~2^31 steps per output and
// 2 x 16 GiB of vectors. The tap ranges are closed forms now.
TEST(Pool, HugeWindowOnTinyInputIsCheap) {
  const int64_t k = int64_t{1} << 31;
  for (const char* op : {"MaxPool", "AveragePool"}) {
    OpSpec spec{.op_type = op, .opset = 19};
    spec.attributes["kernel_shape"] = IntsAttr({k, 1, 1});
    spec.attributes["pads"] = IntsAttr({k - 1, 0, 0, k - 1, 0, 0});
    spec.attributes["strides"] = IntsAttr({k, 1, 1});
    spec.attributes["count_include_pad"] = IntAttr(0);
    spec.inputs = {Tensor::FromVector<float>({6.f}, {1, 1, 1, 1, 1})};
    const auto t0 = std::chrono::steady_clock::now();
    auto out = RunOp(spec);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    // Windows start at -(2^31 - 1) and 1: the first holds the element.
    ASSERT_EQ((*out)[0].shape(), (Shape{1, 1, 1, 1, 1}));
    EXPECT_EQ((*out)[0].data<float>()[0], 6.f) << op;
    EXPECT_LT(secs, 0.5) << op << " walked the whole window";
  }
  // With count_include_pad the divisor is the padded window's tap count.
  OpSpec spec{.op_type = "AveragePool", .opset = 19};
  spec.attributes["kernel_shape"] = IntsAttr({1 << 20});
  spec.attributes["pads"] = IntsAttr({(1 << 20) - 1, (1 << 20) - 1});
  spec.attributes["strides"] = IntsAttr({1 << 20});
  spec.attributes["count_include_pad"] = IntAttr(1);
  spec.inputs = {Tensor::FromVector<float>({3.f, 5.f}, {1, 1, 2})};
  auto out = RunOp(spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // Two windows of 2^20 taps, all inside the padded extent [-(2^20-1), 2^20]:
  // [-(2^20-1), 0] holds the 3, [1, 2^20] holds the 5.
  ASSERT_EQ((*out)[0].size(), 2);
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[0], 3.f / (1 << 20));
  EXPECT_FLOAT_EQ((*out)[0].data<float>()[1], 5.f / (1 << 20));
}

}  // namespace
}  // namespace tiffin
