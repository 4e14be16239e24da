#include "tiffin/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tiffin {
namespace {

TEST(Float16, ConvertsLikeNumpy) {
  // Expected bit patterns from numpy: np.float16(v).view(np.uint16).
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);        // rounds to inf
  EXPECT_EQ(FloatToHalf(5.9604645e-08f), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(0.1f), 0x2e66);
  EXPECT_EQ(FloatToHalf(1.0009765625f), 0x3c01);
  EXPECT_EQ(FloatToHalf(1.00048828125f), 0x3c00);  // tie rounds to even
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(std::nanf("")))));
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {
    ASSERT_EQ(FloatToHalf(HalfToFloat(static_cast<uint16_t>(bits))), bits) << bits;
  }
}

TEST(Tensor, AllocateRefusesOverTheLimitAndOverflow) {
  auto big = Tensor::Allocate(DType::kFloat32, {1000, 1000}, 1000);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  auto overflow = Tensor::Allocate(DType::kFloat32, {int64_t{1} << 40, int64_t{1} << 40}, SIZE_MAX);
  ASSERT_FALSE(overflow.ok());
  auto negative = Tensor::Allocate(DType::kFloat32, {-1}, SIZE_MAX);
  ASSERT_FALSE(negative.ok());
}

TEST(Tensor, ReshapeSharesAndCloneCopies) {
  Tensor t = Tensor::FromVector<float>({1, 2, 3, 4}, {2, 2});
  Tensor r = t.Reshaped({4});
  EXPECT_TRUE(r.SharesBufferWith(t));
  Tensor c = t.Clone();
  EXPECT_FALSE(c.SharesBufferWith(t));
  c.data<float>()[0] = 9;
  EXPECT_EQ(t.data<float>()[0], 1);
}

TEST(Tensor, StringsAreOwned) {
  Tensor t(DType::kString, {2});
  t.data<std::string>()[1] = "hello";
  Tensor c = t.Clone();
  EXPECT_EQ(c.data<std::string>()[1], "hello");
}

}  // namespace
}  // namespace tiffin
